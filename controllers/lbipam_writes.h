/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What lbipam writes (lbipam.md §10, §13.4) and how a write's answer is
 * read: the Service status patch (ingress, pool annotation, condition),
 * the IPAddressPool status patch, and the comparisons that decide whether
 * anything needs writing at all.  Pure: no I/O. */

#include <stdbool.h>

#include "ipaddresspool.h"
#include "lb_alloc.h"
#include "lb_config.h"
#include "lbipam_reconcile.h"
#include "service.h"

/* §10: does the stored Service differ from d in its IP set, its pool
 * annotation (a legacy metallb.universe.tf/ key counts as a difference) or
 * the berth condition (presence, status, reason, message)? */
bool lbipam_service_needs_write(const Service *s, const LbDesired *d);

/* The merge-patch body for services/<name>/status: s's resourceVersion,
 * one {ip} per IP of d (an ipMode the server set on an IP that stays is
 * kept), the annotation of d, and every condition of s with ours replaced,
 * added or removed.  lastTransitionTime is now when our condition's status
 * flips or appears, else kept; observedGeneration is s's generation. */
int lbipam_service_status_body(const Service *s, const LbDesired *d, usec_t now, char **ret);

/* §10: the counters a pool's status should show. */
void lbipam_pool_status_compute(const LbPool *p, const LbAllocator *a, IPAddressPoolStatus *ret);
bool lbipam_pool_status_equal(const IPAddressPoolStatus *a, const IPAddressPoolStatus *b);
/* The merge-patch body for ipaddresspools/<name>/status (with p's resourceVersion). */
int lbipam_pool_status_body(const IPAddressPool *p, const IPAddressPoolStatus *want, char **ret);

/* §13.8: the AllocationsDropped note for the n allocations one pool
 * released (all d[i].pool equal, sorted by service): "pool <p> change
 * releases IPs in use by: <ns>/<name> (<ip>), ..." or "pool <p> deleted
 * while IPs were in use by: ...", at most LBIPAM_DROPPED_LISTED entries and
 * then " and <N> more"; a dual-stack holder reads "(<ip1>, <ip2>)".  NULL
 * on -ENOMEM. */
#define LBIPAM_DROPPED_LISTED 20
char *lbipam_dropped_note(const LbDropped *d, size_t n);

/* How the controller reacts to a write's answer. */
typedef enum LbWriteOutcome {
        LB_WRITE_DONE,     /* success */
        LB_WRITE_GONE,     /* 404: the object went; its delete event follows */
        LB_WRITE_CONFLICT, /* 409: the cache will hold a newer object; reconcile again */
        LB_WRITE_RETRY,    /* anything else: rate-limited retry, logged */
} LbWriteOutcome;
LbWriteOutcome lbipam_write_outcome(int error);
