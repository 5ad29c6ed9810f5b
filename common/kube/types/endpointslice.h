/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* discovery.k8s.io/v1 EndpointSlice, whole (endpoints.md §7): compared
 * with what the apiserver stores and written as a full object with its
 * ownerReferences. */

#include "decode.h"

#define ENDPOINTSLICE_LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define ENDPOINTSLICE_LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"

typedef struct EndpointSliceEndpoint {
        StrList addresses;
        KubeTristate ready, serving, terminating;
        char *hostname;
        bool has_target_ref;
        KubeObjectRef target_ref;
        const char *node_name;    /* interned */
        const char *zone;         /* interned */
        InternList hints_for_zones;
        InternList hints_for_nodes;
} EndpointSliceEndpoint;

typedef struct EndpointSlicePort {
        const char *name;         /* interned; NULL when absent ("" is kept as "") */
        const char *protocol;     /* interned; "TCP" by default */
        const char *app_protocol; /* interned */
        bool has_port;
        int32_t port;
} EndpointSlicePort;

typedef struct EndpointSlice {
        KubeObject object;
        char *generate_name;      /* for create (POST) */
        OwnerReferences owner_references;
        const char *address_type; /* interned: "IPv4", "IPv6", "FQDN" */
        size_t n_endpoints;
        EndpointSliceEndpoint *endpoints;
        size_t n_ports;
        EndpointSlicePort *ports;
} EndpointSlice;

extern const KubeKind kube_kind_endpointslice;

static inline const EndpointSlice *ENDPOINTSLICE(const KubeObject *o) {
        return (const EndpointSlice *) o;
}

void endpointslice_endpoint_done(EndpointSliceEndpoint *e, StrPool *pool);
void endpointslice_port_done(EndpointSlicePort *p, StrPool *pool);
