/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "lease_object.h"

static void lease_destroy(KubeObject *o) {
        Lease *l = (Lease *) o;
        ownerrefs_done(&l->owner_references, o->pool);
        free(l->holder_identity);
}

static int lease_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *metadata = json_get(v, "metadata"), *spec = NULL;
        Lease *l;
        int r;

        l = kube_object_alloc(&kube_kind_lease, sizeof(Lease), ctx->pool);
        if (!l)
                return -ENOMEM;
        o = &l->object;
        if ((r = object_meta_decode(metadata, ctx, true, NULL, &o->meta, err)) < 0 ||
            (r = ownerrefs_decode(ctx->pool, metadata, &l->owner_references, err)) < 0 ||
            (r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 ||
            (r = dec_strdup(spec, "holderIdentity", &l->holder_identity, err, "spec")) < 0 ||
            (r = dec_int32(spec, "leaseDurationSeconds", &l->lease_duration_seconds, err, "spec")) < 0 ||
            (r = dec_time(spec, "acquireTime", &l->acquire_time, err, "spec")) < 0 ||
            (r = dec_time(spec, "renewTime", &l->renew_time, err, "spec")) < 0 ||
            (r = dec_int32(spec, "leaseTransitions", &l->lease_transitions, err, "spec")) < 0)
                return r;
        l->has_lease_transitions = r > 0;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t lease_memory_size(const KubeObject *o) {
        const Lease *l = LEASE(o);
        return heap_size(sizeof(Lease)) + object_meta_memory_size(&o->meta) +
               ownerrefs_memory_size(&l->owner_references) + heap_strsize(l->holder_identity);
}

static int lease_encode(const KubeObject *o, yajl_gen g) {
        const Lease *l = LEASE(o);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_type_meta(g, o->kind));
        RET_NERRNO(object_meta_encode_owned(&o->meta, NULL, &l->owner_references, g));
        RET_NERRNO(json_gen_str(g, "spec"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_kv_str_opt(g, "holderIdentity", l->holder_identity));
        if (l->lease_duration_seconds > 0)
                RET_NERRNO(json_gen_kv_int(g, "leaseDurationSeconds", l->lease_duration_seconds));
        RET_NERRNO(gen_kv_microtime(g, "acquireTime", l->acquire_time));
        RET_NERRNO(gen_kv_microtime(g, "renewTime", l->renew_time));
        if (l->has_lease_transitions)
                RET_NERRNO(json_gen_kv_int(g, "leaseTransitions", l->lease_transitions));
        RET_NERRNO(json_gen_map_close(g));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_lease = {
        .kind = "Lease",
        .api_version = "coordination.k8s.io/v1",
        .group = "coordination.k8s.io",
        .version = "v1",
        .resource = "leases",
        .namespaced = true,
        .decode = lease_decode,
        .destroy = lease_destroy,
        .encode = lease_encode,
        .memory_size = lease_memory_size,
};
