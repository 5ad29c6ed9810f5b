/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The lbipam reconcile of one Service (lbipam.md §4-§8, §13.4, §13.6):
 * from the Service, the valid configuration and the allocator to the
 * state to write (IPs, pool annotation, condition) and the events to emit.
 * It updates the allocator (assign/release) as it decides, and does no
 * I/O, so the same function serves the API, offline mode, the speaker's
 * offline run and unit tests. */

#include <stdbool.h>

#include "lb_alloc.h"
#include "lb_config.h"
#include "service.h"

#define LBIPAM_CONDITION_TYPE "berth.io/LoadBalancerIPAllocated"

/* §13.4 reasons; LB_REASON_NONE = no berth condition (steps 1 and 3). */
typedef enum LbReason {
        LB_REASON_NONE = 0,
        LB_REASON_ALLOCATED,
        LB_REASON_NO_POOL,
        LB_REASON_POOL_EXHAUSTED,
        LB_REASON_NOT_ALLOWED,
        LB_REASON_SHARING_CONFLICT,
        LB_REASON_FAMILY_MISMATCH,
        LB_REASON_INVALID_REQUEST,
        _LB_REASON_MAX,
} LbReason;
const char *lb_reason_to_string(LbReason r); /* "Allocated", "NoPool", ...; NULL for NONE */

typedef struct LbEvent {
        const char *type;     /* "Normal" / "Warning" */
        const char *reason;   /* §11: "IPAllocated", "ClearAssignment", ... */
        char *note;           /* malloc'd, exact §11 text */
} LbEvent;

#define LB_MAX_EVENTS 8

typedef struct LbDesired {
        size_t n_ips;
        IpAddr ips[2];        /* ingress order: primary family first */
        const char *pool;     /* ip-allocated-from-pool value (points into the config); NULL = none */
        LbReason reason;      /* condition status is True only for LB_REASON_ALLOCATED */
        char *message;        /* condition message (malloc'd); NULL with LB_REASON_NONE */
        size_t n_events;
        LbEvent events[LB_MAX_EVENTS];
        bool status_ips_rejected; /* step 5.3 removed status IPs: berth_lbipam_status_ips_rejected_total */
        bool deferred;            /* phase 1 of §13.2: the holder lost its IPs and did not allocate, or kept
                                   * them and leaves the second family (step 6) to its phase-2 reconcile */
} LbDesired;

typedef struct LbReconcileContext {
        const LbConfig *config;   /* the last valid configuration (never NULL when called) */
        LbAllocator *alloc;       /* installed with config */
        bool phase1;              /* §13.2 phase 1: re-validate holders, never allocate */
} LbReconcileContext;

/* Steps 1-7 of §6 for a handled Service.  0 and *ret filled (the caller
 * calls lb_desired_done), or -ENOMEM. */
int lbipam_reconcile(const LbReconcileContext *ctx, const Service *s, LbDesired *ret);
void lb_desired_done(LbDesired *d);

/* The §8 view of a Service, owning its strings. */
typedef struct LbServiceShareOwned {
        LbServiceShare share;     /* points into the fields below */
        char *key, *backend_key;
        LbPortPair *ports;
} LbServiceShareOwned;
int lbipam_service_share(const Service *s, LbServiceShareOwned *ret);
void lbipam_service_share_done(LbServiceShareOwned *o);

/* The §6 view of status.loadBalancer.ingress: the parsed IPs.  Returns
 * false when they cannot be parsed or there are more than two (step 5.1). */
bool lbipam_status_ips(const Service *s, IpAddr ret[2], size_t *ret_n);
