/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The EndpointSlice reconcile of endpoints.md §7, pure: a Service, the
 * endpoints it should have (per address type, each with its port set) and
 * the slices the cache holds go in; the slices to create, update and delete
 * come out, as full objects ready for the EndpointSlice encoder.  No I/O, no
 * clock, no randomness: the same input always gives the same plan, so one
 * function serves the API and offline mode and is table-tested.
 *
 * Which pods become which endpoints (§4, §5) is not decided here: the
 * controller turns pods into SliceWantEndpoint with the shared pod model. */

#include <stdbool.h>
#include <stddef.h>

#include "endpointslice.h"
#include "service.h"

#define ENDPOINTSLICE_MANAGED_BY_BERTH "endpointslice-controller.berth.io"
#define ENDPOINTSLICE_MANAGED_BY_UPSTREAM "endpointslice-controller.k8s.io"
#define ENDPOINTSLICE_LABEL_HEADLESS "service.kubernetes.io/headless"
#define ENDPOINTSLICE_TRIGGER_TIME_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"

#define ENDPOINTSLICE_MAX_ENDPOINTS_DEFAULT 100u
#define ENDPOINTSLICE_MAX_ENDPOINTS_LIMIT 1000u

/* What hints the Service's trafficDistribution asks for (§7), after the
 * PreferSameTrafficDistribution gate and the forNodes safeguard. */
typedef enum SliceHints {
        SLICE_HINTS_NONE = 0,   /* unset or unknown: every hint removed */
        SLICE_HINTS_ZONE,       /* PreferClose (PreferSameZone with the gate) */
        SLICE_HINTS_ZONE_NODE,  /* PreferSameNode with the gate */
} SliceHints;

/* One port set (order-insensitive as a group key; written in this order,
 * the Service spec's).  Strings are borrowed. */
typedef struct SlicePortSet {
        size_t n_ports;
        const EndpointSlicePort *ports;
} SlicePortSet;

/* One desired endpoint of one address type.  Strings are borrowed. */
typedef struct SliceWantEndpoint {
        size_t n_addresses;             /* canonical IPs of the address type, 1.. */
        const char *const *addresses;
        bool ready, serving, terminating;
        const char *hostname;           /* NULL: none */
        const char *node_name;          /* NULL: none */
        const char *zone;               /* NULL: none */
        const char *pod_namespace;      /* targetRef {kind: Pod, ...}; pod_name NULL = no targetRef */
        const char *pod_name;
        const char *pod_uid;
        size_t port_set;                /* index into EndpointSliceWant.port_sets */
} SliceWantEndpoint;

typedef struct SliceAddressTypeWant {
        const char *address_type;       /* "IPv4", "IPv6" */
        size_t n_endpoints;
        const SliceWantEndpoint *endpoints;
} SliceAddressTypeWant;

typedef struct EndpointSliceWant {
        const Service *service;         /* namespace, name, uid, labels, clusterIP, deletionTimestamp */
        size_t n_port_sets;
        const SlicePortSet *port_sets;
        size_t n_address_types;         /* the Service's address types, in order */
        const SliceAddressTypeWant *address_types;
        SliceHints hints;
        unsigned max_endpoints_per_slice; /* 1..1000; 0 = 100 */
        usec_t trigger_time;            /* §6.5: set on every slice written; 0 removes it */
        /* The existing slices: labelled with the Service's name in its
         * namespace and managed by berth or upstream (the caller filters). */
        size_t n_existing;
        const EndpointSlice *const *existing;
} EndpointSliceWant;

typedef enum SliceOp {
        SLICE_OP_CREATE,
        SLICE_OP_UPDATE,
        SLICE_OP_DELETE,
} SliceOp;

typedef struct SliceChange {
        SliceOp op;
        /* CREATE: the object to POST (generateName, no name); UPDATE: the
         * object to PUT (name, resourceVersion of the cached one); DELETE: a
         * reference to the cached slice. */
        EndpointSlice *slice;
        const char *address_type;       /* interned in the plan's pool */
} SliceChange;

typedef struct EndpointSlicePlan {
        StrPool *pool;                  /* the changes' strings; freed last */
        size_t n_changes;               /* creates, then updates, then deletes */
        SliceChange *changes;
        size_t n_creates, n_updates, n_deletes;
        /* metrics (§9) */
        size_t endpoints_added, endpoints_removed;
        size_t endpoints_desired;       /* endpoints of every address type */
        size_t slices_after;            /* slices the Service has once the plan is applied */
        size_t slices_desired;          /* the fewest that could hold them */
        /* §2: the plan re-takes slices labelled by upstream (or unlabelled
         * managed-by, never the case for slices the caller passes). */
        size_t foreign_retaken;
} EndpointSlicePlan;

int endpointslice_reconcile(const EndpointSliceWant *want, EndpointSlicePlan **ret);
EndpointSlicePlan *endpointslice_plan_free(EndpointSlicePlan *p);
DEFINE_POINTER_CLEANUP(EndpointSlicePlan, endpointslice_plan_free);

/* The labels every slice of the Service carries (§7): the Service's labels
 * minus the three reserved keys, plus service-name, berth's managed-by and
 * the headless label when clusterIP is None or empty.  Interned into pool. */
int endpointslice_desired_labels(const Service *svc, StrPool *pool, StrMap *ret);

/* --max-endpoints-per-slice: 1..1000; else -EINVAL with the §1 reason
 * ("must be between 1 and 1000") in *ret_why. */
int endpointslice_parse_max_endpoints(const char *value, unsigned *ret, char **ret_why);

/* Order-insensitive equality of port sets (name, port, protocol, appProtocol). */
bool endpointslice_ports_equal(const EndpointSlicePort *a, size_t na, const EndpointSlicePort *b, size_t nb);

/* The Service is the slice's controller owner (ownerReference uid). */
bool endpointslice_owned_by(const EndpointSlice *s, const Service *svc);
