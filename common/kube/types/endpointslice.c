/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpointslice.h"

void endpointslice_endpoint_done(EndpointSliceEndpoint *e, StrPool *pool) {
        strlist_done(&e->addresses);
        free(e->hostname);
        objref_done(&e->target_ref, pool);
        strpool_release(pool, e->node_name);
        strpool_release(pool, e->zone);
        internlist_done(&e->hints_for_zones, pool);
        internlist_done(&e->hints_for_nodes, pool);
        *e = (EndpointSliceEndpoint) {};
}

void endpointslice_port_done(EndpointSlicePort *p, StrPool *pool) {
        strpool_release(pool, p->name);
        strpool_release(pool, p->protocol);
        strpool_release(pool, p->app_protocol);
        *p = (EndpointSlicePort) {};
}

static void endpointslice_destroy(KubeObject *o) {
        EndpointSlice *s = (EndpointSlice *) o;
        free(s->generate_name);
        ownerrefs_done(&s->owner_references, o->pool);
        strpool_release(o->pool, s->address_type);
        for (size_t i = 0; i < s->n_endpoints; i++)
                endpointslice_endpoint_done(&s->endpoints[i], o->pool);
        free(s->endpoints);
        for (size_t i = 0; i < s->n_ports; i++)
                endpointslice_port_done(&s->ports[i], o->pool);
        free(s->ports);
}

/* hints.forZones / forNodes: [{name: ...}] */
static int decode_hint_names(StrPool *pool, const JsonValue *hints, const char *key, size_t ei, InternList *ret,
                             char **err) {
        const JsonValue *arr = NULL, *h;
        int r;
        if ((r = dec_array(hints, key, &arr, err, "endpoints[%zu].hints", ei)) <= 0 || json_array_len(arr) == 0)
                return r;
        ret->items = new0(const char *, json_array_len(arr));
        if (!ret->items)
                return -ENOMEM;
        for (size_t i = 0; (h = json_array_at(arr, i)); i++) {
                const char *name = NULL;
                if (json_type(h) != JSON_OBJECT)
                        return decode_error(err, "endpoints[%zu].hints.%s[%zu]: expected an object", ei, key, i);
                if ((r = dec_intern(pool, h, "name", &name, err, "endpoints[%zu].hints.%s[%zu]", ei, key, i)) < 0)
                        return r;
                if (!name)
                        return decode_error(err, "endpoints[%zu].hints.%s[%zu].name: required", ei, key, i);
                ret->items[ret->n++] = name;
        }
        return 0;
}

static int decode_endpoint(StrPool *pool, const JsonValue *v, size_t i, EndpointSliceEndpoint *e, char **err) {
        const JsonValue *conds = NULL, *ref, *hints = NULL;
        int r;

        if (json_type(v) != JSON_OBJECT)
                return decode_error(err, "endpoints[%zu]: expected an object", i);
        if ((r = strlist_decode(v, "addresses", &e->addresses, err, "endpoints[%zu]", i)) < 0 ||
            (r = dec_object(v, "conditions", &conds, err, "endpoints[%zu]", i)) < 0 ||
            (r = dec_tristate(conds, "ready", &e->ready, err, "endpoints[%zu].conditions", i)) < 0 ||
            (r = dec_tristate(conds, "serving", &e->serving, err, "endpoints[%zu].conditions", i)) < 0 ||
            (r = dec_tristate(conds, "terminating", &e->terminating, err, "endpoints[%zu].conditions", i)) < 0 ||
            (r = dec_strdup(v, "hostname", &e->hostname, err, "endpoints[%zu]", i)) < 0 ||
            (r = dec_intern(pool, v, "nodeName", &e->node_name, err, "endpoints[%zu]", i)) < 0 ||
            (r = dec_intern(pool, v, "zone", &e->zone, err, "endpoints[%zu]", i)) < 0 ||
            (r = dec_object(v, "hints", &hints, err, "endpoints[%zu]", i)) < 0 ||
            (r = decode_hint_names(pool, hints, "forZones", i, &e->hints_for_zones, err)) < 0 ||
            (r = decode_hint_names(pool, hints, "forNodes", i, &e->hints_for_nodes, err)) < 0)
                return r;
        ref = json_get(v, "targetRef");
        if (ref && !json_is_null(ref)) {
                char path[64];
                snprintf(path, sizeof path, "endpoints[%zu].targetRef", i);
                if ((r = objref_decode(pool, ref, &e->target_ref, err, path)) < 0)
                        return r;
                e->has_target_ref = true;
        }
        return 0;
}

static int endpointslice_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *metadata = json_get(v, "metadata"), *eps = NULL, *ports = NULL, *x;
        StrPool *pool = ctx->pool;
        EndpointSlice *s;
        int r;

        s = kube_object_alloc(&kube_kind_endpointslice, sizeof(EndpointSlice), pool);
        if (!s)
                return -ENOMEM;
        o = &s->object;
        if ((r = object_meta_decode(metadata, ctx, true, NULL, &o->meta, err)) < 0 ||
            (r = dec_strdup(metadata, "generateName", &s->generate_name, err, "metadata")) < 0 ||
            (r = ownerrefs_decode(pool, metadata, &s->owner_references, err)) < 0 ||
            (r = dec_intern(pool, v, "addressType", &s->address_type, err, "%s", "")) < 0 ||
            (r = dec_array(v, "endpoints", &eps, err, "%s", "")) < 0 || (r = dec_array(v, "ports", &ports, err, "%s", "")) < 0)
                return r;
        if (json_array_len(eps) > 0) {
                s->endpoints = new0(EndpointSliceEndpoint, json_array_len(eps));
                if (!s->endpoints)
                        return -ENOMEM;
        }
        for (size_t i = 0; (x = json_array_at(eps, i)); i++)
                if ((r = decode_endpoint(pool, x, i, &s->endpoints[s->n_endpoints++], err)) < 0)
                        return r;
        if (json_array_len(ports) > 0) {
                s->ports = new0(EndpointSlicePort, json_array_len(ports));
                if (!s->ports)
                        return -ENOMEM;
        }
        for (size_t i = 0; (x = json_array_at(ports, i)); i++) {
                EndpointSlicePort *p = &s->ports[s->n_ports++];
                if (json_type(x) != JSON_OBJECT)
                        return decode_error(err, "ports[%zu]: expected an object", i);
                if ((r = dec_intern(pool, x, "name", &p->name, err, "ports[%zu]", i)) < 0 ||
                    (r = dec_intern(pool, x, "protocol", &p->protocol, err, "ports[%zu]", i)) < 0 ||
                    (r = dec_intern(pool, x, "appProtocol", &p->app_protocol, err, "ports[%zu]", i)) < 0 ||
                    (r = dec_int32(x, "port", &p->port, err, "ports[%zu]", i)) < 0)
                        return r;
                p->has_port = r > 0;
                if ((r = protocol_default(pool, &p->protocol)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t endpointslice_memory_size(const KubeObject *o) {
        const EndpointSlice *s = ENDPOINTSLICE(o);
        size_t bytes = heap_size(sizeof(EndpointSlice)) + object_meta_memory_size(&o->meta) +
                       heap_strsize(s->generate_name) + ownerrefs_memory_size(&s->owner_references);
        if (s->endpoints)
                bytes += heap_size(s->n_endpoints * sizeof(EndpointSliceEndpoint));
        for (size_t i = 0; i < s->n_endpoints; i++) {
                const EndpointSliceEndpoint *e = &s->endpoints[i];
                bytes += strlist_memory_size(&e->addresses) + heap_strsize(e->hostname) +
                         objref_memory_size(&e->target_ref) + internlist_memory_size(&e->hints_for_zones) +
                         internlist_memory_size(&e->hints_for_nodes);
        }
        if (s->ports)
                bytes += heap_size(s->n_ports * sizeof(EndpointSlicePort));
        return bytes;
}

static int encode_hint_names(yajl_gen g, const char *key, const InternList *l) {
        if (l->n == 0)
                return 0;
        RET_NERRNO(json_gen_str(g, key));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < l->n; i++) {
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(json_gen_kv_str(g, "name", l->items[i]));
                RET_NERRNO(json_gen_map_close(g));
        }
        return json_gen_array_close(g);
}

static int endpointslice_encode(const KubeObject *o, yajl_gen g) {
        const EndpointSlice *s = ENDPOINTSLICE(o);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_type_meta(g, o->kind));
        RET_NERRNO(object_meta_encode_owned(&o->meta, s->generate_name, &s->owner_references, g));

        RET_NERRNO(gen_kv_str_opt(g, "addressType", s->address_type));
        RET_NERRNO(json_gen_str(g, "endpoints"));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < s->n_endpoints; i++) {
                const EndpointSliceEndpoint *e = &s->endpoints[i];
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(json_gen_str(g, "addresses"));
                RET_NERRNO(strlist_encode(&e->addresses, g));
                RET_NERRNO(json_gen_str(g, "conditions"));
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(gen_kv_tristate(g, "ready", e->ready));
                RET_NERRNO(gen_kv_tristate(g, "serving", e->serving));
                RET_NERRNO(gen_kv_tristate(g, "terminating", e->terminating));
                RET_NERRNO(json_gen_map_close(g));
                if (!isempty(e->hostname))
                        RET_NERRNO(json_gen_kv_str(g, "hostname", e->hostname));
                if (e->has_target_ref) {
                        RET_NERRNO(json_gen_str(g, "targetRef"));
                        RET_NERRNO(objref_encode(&e->target_ref, g));
                }
                if (!isempty(e->node_name))
                        RET_NERRNO(json_gen_kv_str(g, "nodeName", e->node_name));
                if (!isempty(e->zone))
                        RET_NERRNO(json_gen_kv_str(g, "zone", e->zone));
                if (e->hints_for_zones.n > 0 || e->hints_for_nodes.n > 0) {
                        RET_NERRNO(json_gen_str(g, "hints"));
                        RET_NERRNO(json_gen_map_open(g));
                        RET_NERRNO(encode_hint_names(g, "forZones", &e->hints_for_zones));
                        RET_NERRNO(encode_hint_names(g, "forNodes", &e->hints_for_nodes));
                        RET_NERRNO(json_gen_map_close(g));
                }
                RET_NERRNO(json_gen_map_close(g));
        }
        RET_NERRNO(json_gen_array_close(g));
        RET_NERRNO(json_gen_str(g, "ports"));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < s->n_ports; i++) {
                const EndpointSlicePort *p = &s->ports[i];
                RET_NERRNO(json_gen_map_open(g));
                /* endpoints.md §5.3: slices always write name (possibly "") and protocol. */
                RET_NERRNO(json_gen_kv_str(g, "name", strempty(p->name)));
                if (p->has_port)
                        RET_NERRNO(json_gen_kv_int(g, "port", p->port));
                RET_NERRNO(json_gen_kv_str(g, "protocol", p->protocol ? p->protocol : "TCP"));
                RET_NERRNO(gen_kv_str_opt(g, "appProtocol", p->app_protocol));
                RET_NERRNO(json_gen_map_close(g));
        }
        RET_NERRNO(json_gen_array_close(g));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_endpointslice = {
        .kind = "EndpointSlice",
        .api_version = "discovery.k8s.io/v1",
        .group = "discovery.k8s.io",
        .version = "v1",
        .resource = "endpointslices",
        .namespaced = true,
        .decode = endpointslice_decode,
        .destroy = endpointslice_destroy,
        .encode = endpointslice_encode,
        .memory_size = endpointslice_memory_size,
};
