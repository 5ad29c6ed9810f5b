/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "ipaddresspool.h"

static const char *const pool_annotations[] = { IPADDRESSPOOL_ANNOTATION_DRAIN, NULL };

bool ipaddresspool_is_draining(const IPAddressPool *p) {
        return streq_ptr(strmap_get(&p->object.meta.annotations, IPADDRESSPOOL_ANNOTATION_DRAIN), "true");
}

bool ipaddresspool_config_equal(const IPAddressPool *a, const IPAddressPool *b) {
        return strlist_equal(&a->addresses, &b->addresses) && a->auto_assign == b->auto_assign &&
               a->avoid_buggy_ips == b->avoid_buggy_ips && a->has_service_allocation == b->has_service_allocation &&
               a->priority == b->priority && internlist_equal(&a->namespaces, &b->namespaces) &&
               label_selectors_equal(&a->namespace_selectors, &b->namespace_selectors) &&
               label_selectors_equal(&a->service_selectors, &b->service_selectors) &&
               strmap_equal(&a->object.meta.labels, &b->object.meta.labels) &&
               strmap_equal(&a->object.meta.annotations, &b->object.meta.annotations);
}

static void pool_destroy(KubeObject *o) {
        IPAddressPool *p = (IPAddressPool *) o;
        strlist_done(&p->addresses);
        internlist_done(&p->namespaces, o->pool);
        label_selectors_done(&p->namespace_selectors, o->pool);
        label_selectors_done(&p->service_selectors, o->pool);
}

static int pool_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *spec = NULL, *alloc = NULL, *status = NULL;
        StrPool *pool = ctx->pool;
        IPAddressPool *p;
        int r;

        p = kube_object_alloc(&kube_kind_ipaddresspool, sizeof(IPAddressPool), pool);
        if (!p)
                return -ENOMEM;
        o = &p->object;
        p->auto_assign = true;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, pool_annotations, &o->meta, err)) < 0 ||
            (r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 ||
            (r = strlist_decode(spec, "addresses", &p->addresses, err, "spec")) < 0 ||
            (r = dec_bool(spec, "autoAssign", &p->auto_assign, err, "spec")) < 0 ||
            (r = dec_bool(spec, "avoidBuggyIPs", &p->avoid_buggy_ips, err, "spec")) < 0 ||
            (r = dec_object(spec, "serviceAllocation", &alloc, err, "spec")) < 0)
                return r;
        if (alloc) {
                p->has_service_allocation = true;
                if ((r = dec_int32(alloc, "priority", &p->priority, err, "spec.serviceAllocation")) < 0 ||
                    (r = internlist_decode(pool, alloc, "namespaces", &p->namespaces, err,
                                           "spec.serviceAllocation")) < 0 ||
                    (r = label_selectors_decode(pool, alloc, "namespaceSelectors", &p->namespace_selectors, err,
                                                "spec.serviceAllocation")) < 0 ||
                    (r = label_selectors_decode(pool, alloc, "serviceSelectors", &p->service_selectors, err,
                                                "spec.serviceAllocation")) < 0)
                        return r;
        }
        if ((r = dec_object(v, "status", &status, err, "%s", "")) < 0 ||
            (r = dec_int64(status, "assignedIPv4", &p->status.assigned_ipv4, err, "status")) < 0 ||
            (r = dec_int64(status, "assignedIPv6", &p->status.assigned_ipv6, err, "status")) < 0 ||
            (r = dec_int64(status, "availableIPv4", &p->status.available_ipv4, err, "status")) < 0 ||
            (r = dec_int64(status, "availableIPv6", &p->status.available_ipv6, err, "status")) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t pool_memory_size(const KubeObject *o) {
        const IPAddressPool *p = IPADDRESSPOOL(o);
        return heap_size(sizeof(IPAddressPool)) + object_meta_memory_size(&o->meta) +
               strlist_memory_size(&p->addresses) + internlist_memory_size(&p->namespaces) +
               label_selectors_memory_size(&p->namespace_selectors) +
               label_selectors_memory_size(&p->service_selectors);
}

/* The body of a merge PATCH (or PUT) to ipaddresspools/<name>/status:
 * type meta, name/namespace/resourceVersion, status. */
static int pool_encode(const KubeObject *o, yajl_gen g) {
        const IPAddressPool *p = IPADDRESSPOOL(o);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_type_meta(g, o->kind));
        RET_NERRNO(json_gen_str(g, "metadata"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_kv_str_opt(g, "name", o->meta.name));
        RET_NERRNO(gen_kv_str_opt(g, "namespace", o->meta.namespace));
        if (!isempty(o->meta.resource_version))
                RET_NERRNO(json_gen_kv_str(g, "resourceVersion", o->meta.resource_version));
        RET_NERRNO(json_gen_map_close(g));
        RET_NERRNO(json_gen_str(g, "status"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(json_gen_kv_int(g, "assignedIPv4", p->status.assigned_ipv4));
        RET_NERRNO(json_gen_kv_int(g, "assignedIPv6", p->status.assigned_ipv6));
        RET_NERRNO(json_gen_kv_int(g, "availableIPv4", p->status.available_ipv4));
        RET_NERRNO(json_gen_kv_int(g, "availableIPv6", p->status.available_ipv6));
        RET_NERRNO(json_gen_map_close(g));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_ipaddresspool = {
        .kind = "IPAddressPool",
        .api_version = "metallb.io/v1beta1",
        .group = "metallb.io",
        .version = "v1beta1",
        .resource = "ipaddresspools",
        .namespaced = true,
        .decode = pool_decode,
        .destroy = pool_destroy,
        .encode = pool_encode,
        .memory_size = pool_memory_size,
};
