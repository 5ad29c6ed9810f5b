/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* metallb.io/v1beta1 L2Advertisement (lbipam.md §1, §13.6; speaker.md §4-§6). */

#include "selector.h"

typedef struct L2Advertisement {
        KubeObject object;
        StrList ip_address_pools;
        LabelSelectors ip_address_pool_selectors;
        LabelSelectors node_selectors;
        LabelSelectors service_selectors;
        StrList interfaces;
        bool has_preferred_node_selectors; /* accepted, ignored (speaker.md §14) */
} L2Advertisement;

extern const KubeKind kube_kind_l2advertisement;

static inline const L2Advertisement *L2ADVERTISEMENT(const KubeObject *o) {
        return (const L2Advertisement *) o;
}
