/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* v1 Endpoints, whole (endpoints.md §6): berth compares the cached object
 * with the desired one and PUTs the full object, keeping every annotation
 * written by others. */

#include "decode.h"

typedef struct EndpointAddress {
        char *ip;
        char *hostname;
        const char *node_name; /* interned */
        bool has_target_ref;
        KubeObjectRef target_ref;
} EndpointAddress;

typedef struct EndpointPort {
        const char *name;         /* interned; NULL when unnamed */
        const char *protocol;     /* interned; "TCP" by default */
        const char *app_protocol; /* interned */
        int32_t port;
} EndpointPort;

typedef struct EndpointSubset {
        size_t n_addresses;
        EndpointAddress *addresses;
        size_t n_not_ready_addresses;
        EndpointAddress *not_ready_addresses;
        size_t n_ports;
        EndpointPort *ports;
} EndpointSubset;

typedef struct Endpoints {
        KubeObject object;
        size_t n_subsets;
        EndpointSubset *subsets;
} Endpoints;

extern const KubeKind kube_kind_endpoints;

static inline const Endpoints *ENDPOINTS(const KubeObject *o) {
        return (const Endpoints *) o;
}

/* Frees the contents (not the array) of one address / subset; for
 * controllers that build Endpoints by hand.  Strings documented as interned
 * must come from the object's pool. */
void endpoint_address_done(EndpointAddress *a, StrPool *pool);
void endpoint_subset_done(EndpointSubset *s, StrPool *pool);
