/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "namespace.h"

static const char *const namespace_annotations[] = { NULL };

static int namespace_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const char *phase = NULL;
        Namespace *n;
        int r;

        n = kube_object_alloc(&kube_kind_namespace, sizeof(Namespace), ctx->pool);
        if (!n)
                return -ENOMEM;
        o = &n->object;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, false, namespace_annotations, &o->meta, err)) < 0 ||
            (r = dec_string_ref(json_get(v, "status"), "phase", &phase, err, "status")) < 0)
                return r;
        n->terminating = phase && streq(phase, "Terminating");
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t namespace_memory_size(const KubeObject *o) {
        return heap_size(sizeof(Namespace)) + object_meta_memory_size(&o->meta);
}

const KubeKind kube_kind_namespace = {
        .kind = "Namespace",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "namespaces",
        .namespaced = false,
        .decode = namespace_decode,
        .memory_size = namespace_memory_size,
};
