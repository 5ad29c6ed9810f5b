/* SPDX-License-Identifier: Apache-2.0 */
/* Every kind berth knows (offline.md's table), for lookup by apiVersion + kind. */
#include "endpoints.h"
#include "endpointslice.h"
#include "event.h"
#include "ipaddresspool.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "namespace.h"
#include "node.h"
#include "object.h"
#include "pod.h"
#include "service.h"

const KubeKind *const kube_kinds[] = {
        &kube_kind_namespace,
        &kube_kind_node,
        &kube_kind_pod,
        &kube_kind_service,
        &kube_kind_endpoints,
        &kube_kind_endpointslice,
        &kube_kind_lease,
        &kube_kind_event,
        &kube_kind_core_event,
        &kube_kind_ipaddresspool,
        &kube_kind_l2advertisement,
        NULL,
};
