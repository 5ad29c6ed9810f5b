/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "node.h"

static const char *const node_annotations[] = { NULL };

const char *node_zone(const Node *n) {
        const char *z = strmap_get(&n->object.meta.labels, NODE_LABEL_ZONE);
        return isempty(z) ? NULL : z;
}

static int node_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *spec = NULL, *status = NULL, *conds = NULL, *c;
        Node *n;
        int r;

        n = kube_object_alloc(&kube_kind_node, sizeof(Node), ctx->pool);
        if (!n)
                return -ENOMEM;
        o = &n->object;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, false, node_annotations, &o->meta, err)) < 0 ||
            (r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 || (r = dec_object(v, "status", &status, err, "%s", "")) < 0 ||
            (r = dec_bool(spec, "unschedulable", &n->unschedulable, err, "spec")) < 0 ||
            (r = dec_array(status, "conditions", &conds, err, "status")) < 0)
                return r;
        for (size_t i = 0; (c = json_array_at(conds, i)); i++) {
                const char *type = NULL, *st = NULL;
                if (json_type(c) != JSON_OBJECT)
                        return decode_error(err, "status.conditions[%zu]: expected an object", i);
                if ((r = dec_string_ref(c, "type", &type, err, "status.conditions[%zu]", i)) < 0 ||
                    (r = dec_string_ref(c, "status", &st, err, "status.conditions[%zu]", i)) < 0)
                        return r;
                if (type && streq(type, "NetworkUnavailable"))
                        n->network_unavailable = st ? condition_status_from_string(st) : CONDITION_UNKNOWN;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t node_memory_size(const KubeObject *o) {
        return heap_size(sizeof(Node)) + object_meta_memory_size(&o->meta);
}

const KubeKind kube_kind_node = {
        .kind = "Node",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "nodes",
        .namespaced = false,
        .decode = node_decode,
        .memory_size = node_memory_size,
};
