/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* v1 Namespace: name and labels (lbipam namespaceSelectors), and whether it
 * is terminating. */

#include "decode.h"

typedef struct Namespace {
        KubeObject object;
        bool terminating; /* status.phase == "Terminating" */
} Namespace;

extern const KubeKind kube_kind_namespace;

static inline const Namespace *NAMESPACE(const KubeObject *o) {
        return (const Namespace *) o;
}
