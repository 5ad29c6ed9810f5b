/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* metallb.io/v1beta1 IPAddressPool (lbipam.md §1-§3, §10, §13.5).  The
 * addresses are kept as written: the configuration parser in common/
 * validates them and produces the exact error texts. */

#include "selector.h"

#define IPADDRESSPOOL_ANNOTATION_DRAIN "berth.io/drain"

typedef struct IPAddressPoolStatus {
        int64_t assigned_ipv4, assigned_ipv6;
        int64_t available_ipv4, available_ipv6;
} IPAddressPoolStatus;

typedef struct IPAddressPool {
        KubeObject object;
        StrList addresses;
        bool auto_assign;            /* default true */
        bool avoid_buggy_ips;        /* default false */
        bool has_service_allocation; /* spec.serviceAllocation present, even {} */
        int32_t priority;            /* 0 = unset */
        InternList namespaces;
        LabelSelectors namespace_selectors;
        LabelSelectors service_selectors;
        IPAddressPoolStatus status;
} IPAddressPool;

extern const KubeKind kube_kind_ipaddresspool;

static inline const IPAddressPool *IPADDRESSPOOL(const KubeObject *o) {
        return (const IPAddressPool *) o;
}

/* berth.io/drain: "true" exactly (lbipam.md §13.5). */
bool ipaddresspool_is_draining(const IPAddressPool *p);
/* Same spec, labels and annotations: what the configuration is built
 * from.  A status-only update (berth's own counters) compares equal. */
bool ipaddresspool_config_equal(const IPAddressPool *a, const IPAddressPool *b);
