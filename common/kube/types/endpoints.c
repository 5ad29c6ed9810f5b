/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpoints.h"

void endpoint_address_done(EndpointAddress *a, StrPool *pool) {
        free(a->ip);
        free(a->hostname);
        strpool_release(pool, a->node_name);
        objref_done(&a->target_ref, pool);
        *a = (EndpointAddress) {};
}

void endpoint_subset_done(EndpointSubset *s, StrPool *pool) {
        for (size_t i = 0; i < s->n_addresses; i++)
                endpoint_address_done(&s->addresses[i], pool);
        for (size_t i = 0; i < s->n_not_ready_addresses; i++)
                endpoint_address_done(&s->not_ready_addresses[i], pool);
        for (size_t i = 0; i < s->n_ports; i++) {
                strpool_release(pool, s->ports[i].name);
                strpool_release(pool, s->ports[i].protocol);
                strpool_release(pool, s->ports[i].app_protocol);
        }
        free(s->addresses);
        free(s->not_ready_addresses);
        free(s->ports);
        *s = (EndpointSubset) {};
}

static void endpoints_destroy(KubeObject *o) {
        Endpoints *e = (Endpoints *) o;
        for (size_t i = 0; i < e->n_subsets; i++)
                endpoint_subset_done(&e->subsets[i], o->pool);
        free(e->subsets);
}

static int decode_addresses(StrPool *pool, const JsonValue *subset, const char *key, size_t si,
                            EndpointAddress **ret, size_t *ret_n, char **err) {
        const JsonValue *arr = NULL, *a;
        EndpointAddress *list;
        int r;

        if ((r = dec_array(subset, key, &arr, err, "subsets[%zu]", si)) <= 0 || json_array_len(arr) == 0)
                return r;
        list = new0(EndpointAddress, json_array_len(arr));
        if (!list)
                return -ENOMEM;
        *ret = list;
        for (size_t i = 0; (a = json_array_at(arr, i)); i++) {
                EndpointAddress *x = &list[(*ret_n)++];
                const JsonValue *ref;
                if (json_type(a) != JSON_OBJECT)
                        return decode_error(err, "subsets[%zu].%s[%zu]: expected an object", si, key, i);
                if ((r = dec_strdup(a, "ip", &x->ip, err, "subsets[%zu].%s[%zu]", si, key, i)) < 0 ||
                    (r = dec_strdup(a, "hostname", &x->hostname, err, "subsets[%zu].%s[%zu]", si, key, i)) < 0 ||
                    (r = dec_intern(pool, a, "nodeName", &x->node_name, err, "subsets[%zu].%s[%zu]", si, key, i)) <
                            0)
                        return r;
                ref = json_get(a, "targetRef");
                if (ref && !json_is_null(ref)) {
                        char path[96];
                        snprintf(path, sizeof path, "subsets[%zu].%s[%zu].targetRef", si, key, i);
                        if ((r = objref_decode(pool, ref, &x->target_ref, err, path)) < 0)
                                return r;
                        x->has_target_ref = true;
                }
        }
        return 0;
}

static int endpoints_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *subsets = NULL, *s;
        StrPool *pool = ctx->pool;
        Endpoints *e;
        int r;

        e = kube_object_alloc(&kube_kind_endpoints, sizeof(Endpoints), pool);
        if (!e)
                return -ENOMEM;
        o = &e->object;
        /* All annotations: a PUT must carry the ones others wrote. */
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, NULL, &o->meta, err)) < 0 ||
            (r = dec_array(v, "subsets", &subsets, err, "%s", "")) < 0)
                return r;
        if (json_array_len(subsets) > 0) {
                e->subsets = new0(EndpointSubset, json_array_len(subsets));
                if (!e->subsets)
                        return -ENOMEM;
        }
        for (size_t si = 0; (s = json_array_at(subsets, si)); si++) {
                EndpointSubset *sub = &e->subsets[e->n_subsets++];
                const JsonValue *ports = NULL, *p;
                if (json_type(s) != JSON_OBJECT)
                        return decode_error(err, "subsets[%zu]: expected an object", si);
                if ((r = decode_addresses(pool, s, "addresses", si, &sub->addresses, &sub->n_addresses, err)) < 0 ||
                    (r = decode_addresses(pool, s, "notReadyAddresses", si, &sub->not_ready_addresses,
                                          &sub->n_not_ready_addresses, err)) < 0 ||
                    (r = dec_array(s, "ports", &ports, err, "subsets[%zu]", si)) < 0)
                        return r;
                if (json_array_len(ports) > 0) {
                        sub->ports = new0(EndpointPort, json_array_len(ports));
                        if (!sub->ports)
                                return -ENOMEM;
                }
                for (size_t i = 0; (p = json_array_at(ports, i)); i++) {
                        EndpointPort *ep = &sub->ports[sub->n_ports++];
                        if (json_type(p) != JSON_OBJECT)
                                return decode_error(err, "subsets[%zu].ports[%zu]: expected an object", si, i);
                        if ((r = dec_intern(pool, p, "name", &ep->name, err, "subsets[%zu].ports[%zu]", si, i)) < 0 ||
                            (r = dec_intern(pool, p, "protocol", &ep->protocol, err, "subsets[%zu].ports[%zu]", si,
                                            i)) < 0 ||
                            (r = dec_intern(pool, p, "appProtocol", &ep->app_protocol, err,
                                            "subsets[%zu].ports[%zu]", si, i)) < 0 ||
                            (r = dec_int32(p, "port", &ep->port, err, "subsets[%zu].ports[%zu]", si, i)) < 0 ||
                            (r = protocol_default(pool, &ep->protocol)) < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t addresses_size(const EndpointAddress *a, size_t n) {
        size_t bytes = a ? heap_size(n * sizeof(EndpointAddress)) : 0;
        for (size_t i = 0; i < n; i++)
                bytes += heap_strsize(a[i].ip) + heap_strsize(a[i].hostname) + objref_memory_size(&a[i].target_ref);
        return bytes;
}

static size_t endpoints_memory_size(const KubeObject *o) {
        const Endpoints *e = ENDPOINTS(o);
        size_t bytes = heap_size(sizeof(Endpoints)) + object_meta_memory_size(&o->meta);
        if (e->subsets)
                bytes += heap_size(e->n_subsets * sizeof(EndpointSubset));
        for (size_t i = 0; i < e->n_subsets; i++) {
                const EndpointSubset *s = &e->subsets[i];
                bytes += addresses_size(s->addresses, s->n_addresses) +
                         addresses_size(s->not_ready_addresses, s->n_not_ready_addresses) +
                         (s->ports ? heap_size(s->n_ports * sizeof(EndpointPort)) : 0);
        }
        return bytes;
}

static int encode_addresses(yajl_gen g, const char *key, const EndpointAddress *a, size_t n) {
        if (n == 0)
                return 0;
        RET_NERRNO(json_gen_str(g, key));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < n; i++) {
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(gen_kv_str_opt(g, "ip", a[i].ip));
                if (!isempty(a[i].hostname))
                        RET_NERRNO(json_gen_kv_str(g, "hostname", a[i].hostname));
                if (!isempty(a[i].node_name))
                        RET_NERRNO(json_gen_kv_str(g, "nodeName", a[i].node_name));
                if (a[i].has_target_ref) {
                        RET_NERRNO(json_gen_str(g, "targetRef"));
                        RET_NERRNO(objref_encode(&a[i].target_ref, g));
                }
                RET_NERRNO(json_gen_map_close(g));
        }
        return json_gen_array_close(g);
}

static int endpoints_encode(const KubeObject *o, yajl_gen g) {
        const Endpoints *e = ENDPOINTS(o);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_type_meta(g, o->kind));
        RET_NERRNO(object_meta_encode(&o->meta, g));
        RET_NERRNO(json_gen_str(g, "subsets"));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < e->n_subsets; i++) {
                const EndpointSubset *s = &e->subsets[i];
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(encode_addresses(g, "addresses", s->addresses, s->n_addresses));
                RET_NERRNO(encode_addresses(g, "notReadyAddresses", s->not_ready_addresses,
                                            s->n_not_ready_addresses));
                if (s->n_ports > 0) {
                        RET_NERRNO(json_gen_str(g, "ports"));
                        RET_NERRNO(json_gen_array_open(g));
                        for (size_t j = 0; j < s->n_ports; j++) {
                                const EndpointPort *p = &s->ports[j];
                                RET_NERRNO(json_gen_map_open(g));
                                if (!isempty(p->name)) /* endpoints.md §5.3: Endpoints omit an empty name */
                                        RET_NERRNO(json_gen_kv_str(g, "name", p->name));
                                RET_NERRNO(json_gen_kv_int(g, "port", p->port));
                                RET_NERRNO(gen_kv_str_opt(g, "protocol", p->protocol));
                                RET_NERRNO(gen_kv_str_opt(g, "appProtocol", p->app_protocol));
                                RET_NERRNO(json_gen_map_close(g));
                        }
                        RET_NERRNO(json_gen_array_close(g));
                }
                RET_NERRNO(json_gen_map_close(g));
        }
        RET_NERRNO(json_gen_array_close(g));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_endpoints = {
        .kind = "Endpoints",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "endpoints",
        .namespaced = true,
        .decode = endpoints_decode,
        .destroy = endpoints_destroy,
        .encode = endpoints_encode,
        .memory_size = endpoints_memory_size,
};
