/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "l2advertisement.h"

static const char *const l2adv_annotations[] = { NULL };

static void l2adv_destroy(KubeObject *o) {
        L2Advertisement *a = (L2Advertisement *) o;
        strlist_done(&a->ip_address_pools);
        label_selectors_done(&a->ip_address_pool_selectors, o->pool);
        label_selectors_done(&a->node_selectors, o->pool);
        label_selectors_done(&a->service_selectors, o->pool);
        strlist_done(&a->interfaces);
}

static int l2adv_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *spec = NULL, *pref = NULL;
        StrPool *pool = ctx->pool;
        L2Advertisement *a;
        int r;

        a = kube_object_alloc(&kube_kind_l2advertisement, sizeof(L2Advertisement), pool);
        if (!a)
                return -ENOMEM;
        o = &a->object;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, l2adv_annotations, &o->meta, err)) < 0 ||
            (r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 ||
            (r = strlist_decode(spec, "ipAddressPools", &a->ip_address_pools, err, "spec")) < 0 ||
            (r = label_selectors_decode(pool, spec, "ipAddressPoolSelectors", &a->ip_address_pool_selectors, err,
                                        "spec")) < 0 ||
            (r = label_selectors_decode(pool, spec, "nodeSelectors", &a->node_selectors, err, "spec")) < 0 ||
            (r = label_selectors_decode(pool, spec, "serviceSelectors", &a->service_selectors, err, "spec")) < 0 ||
            (r = strlist_decode(spec, "interfaces", &a->interfaces, err, "spec")) < 0 ||
            (r = dec_array(spec, "preferredNodeSelectors", &pref, err, "spec")) < 0)
                return r;
        a->has_preferred_node_selectors = json_array_len(pref) > 0;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t l2adv_memory_size(const KubeObject *o) {
        const L2Advertisement *a = L2ADVERTISEMENT(o);
        return heap_size(sizeof(L2Advertisement)) + object_meta_memory_size(&o->meta) +
               strlist_memory_size(&a->ip_address_pools) + label_selectors_memory_size(&a->ip_address_pool_selectors) +
               label_selectors_memory_size(&a->node_selectors) + label_selectors_memory_size(&a->service_selectors) +
               strlist_memory_size(&a->interfaces);
}

const KubeKind kube_kind_l2advertisement = {
        .kind = "L2Advertisement",
        .api_version = "metallb.io/v1beta1",
        .group = "metallb.io",
        .version = "v1beta1",
        .resource = "l2advertisements",
        .namespaced = true,
        .decode = l2adv_decode,
        .destroy = l2adv_destroy,
        .memory_size = l2adv_memory_size,
};
