/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* coordination.k8s.io/v1 Lease: leader election (lbipam.md §13.3) and the
 * speaker's membership leases (speaker.md §3). */

#include "decode.h"

#define LEASE_ANNOTATION_DURATION_MS "berth.io/lease-duration-ms"
#define LEASE_ANNOTATION_ANNOUNCING "berth.io/announcing"

typedef struct Lease {
        KubeObject object;
        OwnerReferences owner_references;
        char *holder_identity;
        int32_t lease_duration_seconds; /* 0 = unset */
        usec_t acquire_time;            /* 0 = unset */
        usec_t renew_time;              /* 0 = unset */
        bool has_lease_transitions;
        int32_t lease_transitions;
} Lease;

extern const KubeKind kube_kind_lease;

static inline const Lease *LEASE(const KubeObject *o) {
        return (const Lease *) o;
}
