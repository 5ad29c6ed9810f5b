/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpointslice.h"
#include "ipaddresspool.h"
#include "l2_lease.h"
#include "l2_view.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "log.h"
#include "node.h"

/* ---- configuration in force (§4) ------------------------------------------- */

typedef struct ObjectList {
        KubeObject **items;
        size_t n, allocated;
} ObjectList;

static int collect(KubeObject *obj, void *userdata) {
        ObjectList *l = userdata;

        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1, 16))
                return -ENOMEM;
        l->items[l->n++] = obj;
        return 0;
}

static int cache_list(Cache *c, ObjectList *ret) {
        *ret = (ObjectList) {};
        if (!c)
                return 0;
        return cache_foreach(c, NULL, collect, ret);
}

/* The objects of list that parse on their own into good (room for
 * list->n); the others are logged once each and skipped. */
static int keep_parsing(const ObjectList *list, bool advertisements, KubeObject **good, size_t *ret_n) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < list->n; i++) {
                LbConfigInput in = {};
                _cleanup_(lb_config_freep) LbConfig *c = NULL;
                LbConfigError e = {};

                if (advertisements)
                        in = (LbConfigInput) { .advertisements = &list->items[i], .n_advertisements = 1 };
                else
                        in = (LbConfigInput) { .pools = &list->items[i], .n_pools = 1 };
                r = lb_config_build(&in, &c, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning("skipping %s %s/%s: %s", list->items[i]->kind->kind,
                                    strempty(list->items[i]->meta.namespace), list->items[i]->meta.name,
                                    strempty(e.message));
                        lb_config_error_done(&e);
                        continue;
                }
                good[n++] = list->items[i];
        }
        *ret_n = n;
        return 0;
}

/* Before any valid configuration: each object that parses on its own. */
static int build_piecewise(ObjectList *pools, ObjectList *ads, LbConfig **ret) {
        _cleanup_free_ KubeObject **good_pools = new0(KubeObject *, pools->n + 1);
        _cleanup_free_ KubeObject **good_ads = new0(KubeObject *, ads->n + 1);
        size_t n_pools = 0, n_ads = 0;
        int r;

        if (!good_pools || !good_ads)
                return -ENOMEM;
        r = keep_parsing(pools, false, good_pools, &n_pools);
        if (r >= 0)
                r = keep_parsing(ads, true, good_ads, &n_ads);
        if (r < 0)
                return r;
        /* Cross-object errors (overlaps) are ignored: add the pools one by
         * one and drop any that the combination refuses. */
        for (;;) {
                LbConfigInput in = { .pools = good_pools, .n_pools = n_pools,
                                     .advertisements = good_ads, .n_advertisements = n_ads };
                LbConfigError e = {};
                LbConfig *c = NULL;

                r = lb_config_build(&in, &c, &e);
                if (r >= 0) {
                        *ret = c;
                        return 0;
                }
                if (r == -ENOMEM)
                        return r;
                /* Drop the object blamed and try again; overlapping pools
                 * lose one of the two (the controller never hands out one
                 * address twice, so either serves). */
                bool dropped = false;
                KubeObject **list = e.kind == &kube_kind_l2advertisement ? good_ads : good_pools;
                size_t *n = e.kind == &kube_kind_l2advertisement ? &n_ads : &n_pools;
                for (size_t i = 0; i < *n && !dropped; i++)
                        if (streq_ptr(list[i]->meta.name, e.name) &&
                            streq_ptr(list[i]->meta.namespace, e.namespace)) {
                                log_warning("skipping %s %s/%s: %s", list[i]->kind->kind,
                                            strempty(list[i]->meta.namespace), list[i]->meta.name,
                                            strempty(e.message));
                                memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(*list));
                                (*n)--;
                                dropped = true;
                        }
                lb_config_error_done(&e);
                if (!dropped)
                        return -EINVAL;
        }
}

int l2_config_update(L2ConfigState *sc, Cache *pools, Cache *advertisements) {
        _cleanup_free_ KubeObject **unused = NULL;
        ObjectList p = {}, a = {};
        LbConfig *c = NULL;
        LbConfigError e = {};
        int r;

        r = cache_list(pools, &p);
        if (r >= 0)
                r = cache_list(advertisements, &a);
        if (r < 0)
                goto out;

        LbConfigInput in = { .pools = p.items, .n_pools = p.n, .advertisements = a.items,
                             .n_advertisements = a.n };
        r = lb_config_build(&in, &c, &e);
        if (r >= 0) {
                lb_config_free(sc->config);
                sc->config = c;
                sc->valid = true;
                r = 1;
                goto out;
        }
        if (r == -ENOMEM)
                goto out;
        if (sc->valid) {
                log_warning("configuration invalid (%s %s/%s: %s); the last valid one stays in force",
                            e.kind ? e.kind->kind : "object", strempty(e.namespace), strempty(e.name),
                            strempty(e.message));
                r = 0;
                goto out;
        }
        r = build_piecewise(&p, &a, &c);
        if (r == -EINVAL) {
                /* nothing usable at all */
                c = NULL;
                r = 0;
        }
        if (r >= 0) {
                lb_config_free(sc->config);
                sc->config = c;
                r = 1;
        }
out:
        lb_config_error_done(&e);
        free(p.items);
        free(a.items);
        return r;
}

void l2_config_done(L2ConfigState *sc) {
        sc->config = lb_config_free(sc->config);
        sc->valid = false;
}

/* ---- the election's input ------------------------------------------------- */

bool l2_service_handled(const Service *s, const char *lb_class) {
        return s->type == SERVICE_TYPE_LOAD_BALANCER && lb_service_handled(s, lb_class);
}

typedef struct Builder {
        const L2ViewSources *src;
        L2View *v;
        size_t allocated;
        int error;
} Builder;

static int add_service(KubeObject *obj, void *userdata) {
        Builder *b = userdata;
        const Service *s = SERVICE(obj);
        L2Service *l;
        IpAddr *ips;
        size_t n = 0;

        if (!l2_service_handled(s, b->src->lb_class))
                return 0;
        if (!GREEDY_REALLOC(b->v->services, b->allocated, b->v->n_services + 1, 16))
                return -ENOMEM;
        ips = new0(IpAddr, s->n_ingress > 2 ? s->n_ingress : 2);
        if (!ips)
                return -ENOMEM;
        if (b->src->ips_override && b->src->ips_override(s, ips, &n, b->src->ips_userdata))
                ;
        else
                for (size_t i = 0; i < s->n_ingress; i++)
                        if (s->ingress[i].ip && ip_addr_parse(s->ingress[i].ip, &ips[n]) >= 0)
                                n++;
        l = &b->v->services[b->v->n_services];
        *l = (L2Service) {
                .namespace = s->object.meta.namespace,
                .name = s->object.meta.name,
                .labels = &s->object.meta.labels,
                .etp_local = s->external_traffic_policy == TRAFFIC_POLICY_LOCAL,
                .allow_shared_ip = service_metallb_annotation(s, "allow-shared-ip", NULL) != NULL,
                .n_ips = n,
                .ips = ips,
        };
        b->v->n_services++;
        return 0;
}

static int service_cmp(const void *a, const void *b) {
        const L2Service *x = a, *y = b;
        int r = strcmp(strempty(x->namespace), strempty(y->namespace));
        return r ? r : strcmp(x->name, y->name);
}

static L2Service *find_service(L2View *v, const char *ns, const char *name) {
        L2Service key = { .namespace = ns, .name = name };
        return bsearch_safe(&key, v->services, v->n_services, sizeof(L2Service), service_cmp);
}

static bool endpoint_ready(const EndpointSliceEndpoint *e) {
        return e->ready != KUBE_FALSE || e->serving == KUBE_TRUE;
}

static int add_slice(KubeObject *obj, void *userdata) {
        Builder *b = userdata;
        const EndpointSlice *es = ENDPOINTSLICE(obj);
        const char *svc = strmap_get(&obj->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME);
        L2Service *l;

        if (!svc)
                return 0;
        l = find_service(b->v, obj->meta.namespace, svc);
        if (!l)
                return 0;
        for (size_t i = 0; i < es->n_endpoints; i++) {
                const EndpointSliceEndpoint *e = &es->endpoints[i];
                if (!endpoint_ready(e))
                        continue;
                l->has_ready_endpoint = true;
                if (!e->node_name)
                        continue;
                const char **p = realloc((void *) l->ready_nodes, (l->n_ready_nodes + 1) * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                p[l->n_ready_nodes++] = e->node_name;
                l->ready_nodes = p;
        }
        return 0;
}

static int add_node(KubeObject *obj, void *userdata) {
        Builder *b = userdata;
        const Node *node = NODE(obj);
        L2Node *l;
        L2Node *p = realloc(b->v->nodes, (b->v->n_nodes + 1) * sizeof(*p));

        if (!p)
                return -ENOMEM;
        b->v->nodes = p;
        l = &p[b->v->n_nodes++];
        *l = (L2Node) {
                .name = obj->meta.name,
                .labels = &obj->meta.labels,
                .network_unavailable = node->network_unavailable == CONDITION_TRUE,
        };
        b->src->node_state(l->name, &l->live, &l->claims, &l->n_claims, b->src->userdata);
        return 0;
}

static int node_cmp(const void *a, const void *b) {
        return strcmp(((const L2Node *) a)->name, ((const L2Node *) b)->name);
}

int l2_view_build(const L2ViewSources *src, L2View *ret) {
        L2View v = {};
        Builder b = { .src = src, .v = &v };
        int r = 0;

        if (src->services)
                r = cache_foreach(src->services, NULL, add_service, &b);
        if (r >= 0) {
                if (v.n_services > 0)
                        qsort(v.services, v.n_services, sizeof(L2Service), service_cmp);
                if (src->endpointslices)
                        r = cache_foreach(src->endpointslices, NULL, add_slice, &b);
        }
        if (r >= 0 && src->nodes)
                r = cache_foreach(src->nodes, NULL, add_node, &b);
        if (r < 0) {
                l2_view_done(&v);
                return r;
        }
        if (v.n_nodes > 0)
                qsort(v.nodes, v.n_nodes, sizeof(L2Node), node_cmp);
        *ret = v;
        return 0;
}

void l2_view_done(L2View *v) {
        for (size_t i = 0; i < v->n_services; i++) {
                free((void *) v->services[i].ips);
                free((void *) v->services[i].ready_nodes);
        }
        free(v->services);
        free(v->nodes);
        *v = (L2View) {};
}

/* ---- offline (speaker.md §13) ------------------------------------------------ */

typedef struct OfflineLiveness {
        const L2OfflineOptions *options;
        Cache *leases;
        usec_t now;
        bool any_speaker_lease;
        /* claims parsed for --failback=never, freed after the election */
        IpAddr **claims;
        size_t n_claims;
        int error;
} OfflineLiveness;

static int note_speaker_lease(KubeObject *obj, void *userdata) {
        OfflineLiveness *o = userdata;

        if (membership_lease_node(LEASE(obj)))
                o->any_speaker_lease = true;
        return 0;
}

static void offline_node_state(const char *node, bool *ret_live, const IpAddr **ret_claims, size_t *ret_n,
                               void *userdata) {
        OfflineLiveness *o = userdata;
        char name[sizeof(SPEAKER_LEASE_PREFIX) + 256]; /* a Node name has at most 253 */
        _cleanup_free_ IpAddr *claims = NULL;
        const Lease *l = NULL;
        size_t n = 0;

        *ret_claims = NULL;
        *ret_n = 0;
        if (!o->any_speaker_lease) {
                *ret_live = true;
                return;
        }
        snprintf(name, sizeof name, SPEAKER_LEASE_PREFIX "%s", node);
        KubeObject *obj = cache_get(o->leases, o->options->lease_namespace, name);
        l = obj ? LEASE(obj) : NULL;
        *ret_live = l && streq_ptr(membership_lease_node(l), node) && membership_offline_live(l, o->now);
        if (!*ret_live || !o->options->failback_never)
                return;
        if (membership_parse_announcing(strmap_get(&l->object.meta.annotations, LEASE_ANNOTATION_ANNOUNCING),
                                        &claims, &n) < 0) {
                o->error = -ENOMEM;
                return;
        }
        if (n == 0)
                return;
        IpAddr **p = realloc(o->claims, (o->n_claims + 1) * sizeof(*p));
        if (!p) {
                o->error = -ENOMEM;
                return;
        }
        o->claims = p;
        *ret_claims = p[o->n_claims++] = TAKE_PTR(claims);
        *ret_n = n;
}

int l2_offline_elect(Source *s, const L2OfflineOptions *o, L2Election **ret) {
        OfflineLiveness live = { .options = o, .now = source_now(s) };
        SourceFilter all = {}, lease_ns = { .namespace = o->lease_namespace },
                     config_ns = { .namespace = o->config_namespace };
        Cache *services, *slices, *nodes, *pools, *ads;
        L2ConfigState sc = {};
        L2View v = {};
        int r;

        if ((r = source_cache(s, &kube_kind_service, &all, &services)) < 0 ||
            (r = source_cache(s, &kube_kind_endpointslice, &all, &slices)) < 0 ||
            (r = source_cache(s, &kube_kind_node, &all, &nodes)) < 0 ||
            (r = source_cache(s, &kube_kind_lease, &lease_ns, &live.leases)) < 0 ||
            (r = source_cache(s, &kube_kind_ipaddresspool, &config_ns, &pools)) < 0 ||
            (r = source_cache(s, &kube_kind_l2advertisement, &config_ns, &ads)) < 0)
                return r;
        r = cache_foreach(live.leases, NULL, note_speaker_lease, &live);
        if (r >= 0)
                r = l2_config_update(&sc, pools, ads);
        L2ViewSources src = {
                .services = services,
                .endpointslices = slices,
                .nodes = nodes,
                .lb_class = o->lb_class,
                .node_state = offline_node_state,
                .userdata = &live,
                .ips_override = o->ips_override,
                .ips_userdata = o->userdata,
        };
        if (r >= 0)
                r = l2_view_build(&src, &v);
        if (r >= 0 && live.error < 0)
                r = live.error;
        if (r >= 0) {
                L2ElectionInput in = {
                        .config = sc.config,
                        .n_services = v.n_services,
                        .services = v.services,
                        .n_nodes = v.n_nodes,
                        .nodes = v.nodes,
                        .ignore_exclude_lb = o->ignore_exclude_lb,
                        .failback_never = o->failback_never,
                };
                r = l2_election_compute(&in, ret);
        }
        l2_view_done(&v);
        l2_config_done(&sc);
        for (size_t i = 0; i < live.n_claims; i++)
                free(live.claims[i]);
        free(live.claims);
        return r;
}
