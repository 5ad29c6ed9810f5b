/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* v1 Node: name, uid, labels (zone, exclude-from-external-load-balancers,
 * nodeSelectors), the NetworkUnavailable condition (speaker.md §5). */

#include "decode.h"

#define NODE_LABEL_ZONE "topology.kubernetes.io/zone"
#define NODE_LABEL_EXCLUDE_LB "node.kubernetes.io/exclude-from-external-load-balancers"

typedef struct Node {
        KubeObject object;
        ConditionStatus network_unavailable; /* CONDITION_NONE when absent */
        bool unschedulable;
} Node;

extern const KubeKind kube_kind_node;

static inline const Node *NODE(const KubeObject *o) {
        return (const Node *) o;
}

/* The zone label, or NULL when absent or empty. */
const char *node_zone(const Node *n);
