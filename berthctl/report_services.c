/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpointslice.h"
#include "l2_lease.h"
#include "l2_view.h"
#include "report.h"

/* ---- who announces what: live speaker leases first ---------------------------- */

typedef struct Claim {
        IpAddr ip;
        const char *node; /* borrowed from the lease cache */
} Claim;

typedef struct Claims {
        Source *source;
        const ReportOptions *options;
        usec_t now;
        size_t n;
        Claim *v;
        L2Election *election; /* computed on first need */
        bool elected;
} Claims;

static int note_lease(KubeObject *obj, void *userdata) {
        Claims *c = userdata;
        const Lease *l = LEASE(obj);
        const char *node = membership_lease_node(l);
        _cleanup_free_ IpAddr *ips = NULL;
        size_t n = 0;
        int k;

        /* a lease that expired says nothing about now (speaker.md §3) */
        if (!node || !membership_offline_live(l, c->now))
                return 0;
        k = membership_parse_announcing(strmap_get(&l->object.meta.annotations, LEASE_ANNOTATION_ANNOUNCING), &ips,
                                        &n);
        if (k < 0)
                return k;
        Claim *v = reallocarray(c->v, c->n + n + 1, sizeof(Claim));
        if (!v)
                return -ENOMEM;
        c->v = v;
        for (size_t i = 0; i < n; i++)
                v[c->n++] = (Claim) { .ip = ips[i], .node = node };
        return 0;
}

static int claims_init(Claims *c, Source *s, const ReportOptions *o) {
        SourceFilter f = { .namespace = o->lease_namespace };
        Cache *leases;
        int k;

        *c = (Claims) { .source = s, .options = o, .now = source_now(s) };
        k = source_cache(s, &kube_kind_lease, &f, &leases);
        return k < 0 ? k : cache_foreach(leases, NULL, note_lease, c);
}

static void claims_done(Claims *c) {
        free(c->v);
        l2_election_free(c->election);
}

/* The node announcing ip of Service ns/name, and how we know. */
static int announcer(Claims *c, const char *ns, const char *name, const char *ip_text, char **ret_node,
                     ReportAnnouncedFrom *ret_from) {
        const char *node = NULL;
        IpAddr ip;
        int k;

        *ret_node = NULL;
        *ret_from = REPORT_ANNOUNCED_NONE;
        if (ip_addr_parse(ip_text, &ip) < 0)
                return 0;
        /* two live claims for one IP (a failover in progress): the first by node name */
        for (size_t i = 0; i < c->n; i++)
                if (ip_addr_compare(&c->v[i].ip, &ip) == 0 && (!node || strcmp(c->v[i].node, node) < 0))
                        node = c->v[i].node;
        if (node)
                *ret_from = REPORT_ANNOUNCED_LEASE;
        else {
                if (!c->elected) {
                        L2OfflineOptions lo = {
                                .lease_namespace = c->options->lease_namespace,
                                .config_namespace = c->options->config_namespace,
                                .lb_class = c->options->lb_class,
                        };
                        k = l2_offline_elect(c->source, &lo, &c->election);
                        if (k < 0)
                                return k;
                        c->elected = true;
                }
                node = l2_election_announcer(c->election, ns, name, ip_text);
                if (node)
                        *ret_from = REPORT_ANNOUNCED_ELECTION;
        }
        if (node) {
                *ret_node = strdup(node);
                if (!*ret_node)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- ready endpoints ---------------------------------------------------------- */

typedef struct Count {
        const char *service;
        size_t ready, not_ready;
        /* each target once across the address families' slices */
        size_t n_seen;
        const char **seen;
        int error;
} Count;

static bool seen(Count *c, const char *id) {
        for (size_t i = 0; i < c->n_seen; i++)
                if (streq(c->seen[i], id))
                        return true;
        const char **v = reallocarray(c->seen, c->n_seen + 1, sizeof(char *));
        if (!v) {
                c->error = -ENOMEM;
                return true;
        }
        c->seen = v;
        v[c->n_seen++] = id;
        return false;
}

static int count_slice(KubeObject *obj, void *userdata) {
        const EndpointSlice *es = (const EndpointSlice *) obj;
        Count *c = userdata;

        if (!streq_ptr(strmap_get(&obj->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME), c->service))
                return 0;
        for (size_t i = 0; i < es->n_endpoints; i++) {
                const EndpointSliceEndpoint *e = &es->endpoints[i];
                const char *id = e->has_target_ref && e->target_ref.name ? e->target_ref.name
                                 : e->addresses.n > 0                  ? e->addresses.items[0]
                                                                       : NULL;
                if (id && seen(c, id))
                        continue;
                /* discovery/v1: an unset ready means ready */
                if (e->ready != KUBE_FALSE)
                        c->ready++;
                else
                        c->not_ready++;
        }
        return c->error;
}

static int count_endpoints(Source *s, ReportService *rs) {
        Count c = { .service = rs->name };
        Cache *slices;
        int k;

        k = source_cache(s, &kube_kind_endpointslice, &(SourceFilter) {}, &slices);
        if (k >= 0)
                k = cache_foreach(slices, rs->namespace, count_slice, &c);
        free(c.seen);
        rs->ready = c.ready;
        rs->not_ready = c.not_ready;
        return k;
}

/* ---- the Services --------------------------------------------------------------- */

typedef struct Collect {
        const ReportOptions *options;
        const Service **v;
        size_t n;
} Collect;

static int collect(KubeObject *obj, void *userdata) {
        Collect *c = userdata;
        const Service *s = SERVICE(obj);

        if (!l2_service_handled(s, c->options->lb_class))
                return 0;
        const Service **v = reallocarray(c->v, c->n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->v = v;
        v[c->n++] = s;
        return 0;
}

static int service_cmp(const void *a, const void *b) {
        const Service *x = *(const Service *const *) a, *y = *(const Service *const *) b;
        int k = strcmp(strempty(x->object.meta.namespace), strempty(y->object.meta.namespace));
        return k != 0 ? k : strcmp(x->object.meta.name, y->object.meta.name);
}

static int pending(Report *r, const Service *s, const char *key) {
        for (size_t i = 0; i < s->conditions.n; i++) {
                const KubeCondition *c = &s->conditions.items[i];
                if (!isempty(c->message))
                        return report_add_problem(r, "PendingService", key, "%s: no IP: %s: %s", key,
                                                  strempty(c->reason), c->message);
        }
        return report_add_problem(r, "PendingService", key, "%s: no IP", key);
}

static int add_service(Report *r, Source *src, const LbConfig *config, Claims *claims, const Service *s) {
        ReportService *rs = &r->services[r->n_services];
        char key[512];
        int k;

        rs->namespace = strdup(strempty(s->object.meta.namespace));
        rs->name = strdup(s->object.meta.name);
        rs->ips = new0(ReportIp, s->n_ingress + 1);
        if (!rs->namespace || !rs->name || !rs->ips) {
                free(rs->namespace);
                free(rs->name);
                free(rs->ips);
                return -ENOMEM;
        }
        r->n_services++;
        for (size_t i = 0; i < s->n_ingress; i++) {
                ReportIp *ip = &rs->ips[rs->n_ips];
                if (!s->ingress[i].ip)
                        continue;
                ip->ip = strdup(s->ingress[i].ip);
                if (!ip->ip)
                        return -ENOMEM;
                rs->n_ips++;
                k = announcer(claims, rs->namespace, rs->name, ip->ip, &ip->node, &ip->from);
                if (k < 0)
                        return k;
        }
        if (rs->n_ips > 0 && config) {
                IpAddr a;
                const LbPool *p = ip_addr_parse(rs->ips[0].ip, &a) >= 0 ? lb_config_pool_of(config, &a) : NULL;
                if (p && !(rs->pool = strdup(p->name)))
                        return -ENOMEM;
        }
        k = count_endpoints(src, rs);
        if (k < 0)
                return k;
        snprintf(key, sizeof key, "%s/%s", rs->namespace, rs->name);
        return rs->n_ips == 0 ? pending(r, s, key) : 0;
}

int report_services(Source *s, const ReportOptions *o, const LbConfig *c, Report *r) {
        Collect col = { .options = o };
        Claims claims;
        Cache *services = NULL;
        int k;

        k = claims_init(&claims, s, o);
        if (k >= 0)
                k = source_cache(s, &kube_kind_service, &(SourceFilter) {}, &services);
        if (k >= 0)
                k = cache_foreach(services, NULL, collect, &col);
        if (k >= 0 && col.n > 1)
                qsort(col.v, col.n, sizeof(*col.v), service_cmp);
        if (k >= 0 && !(r->services = new0(ReportService, col.n + 1)))
                k = -ENOMEM;
        for (size_t i = 0; k >= 0 && i < col.n; i++)
                k = add_service(r, s, c, &claims, col.v[i]);
        free(col.v);
        claims_done(&claims);
        return k < 0 ? k : 0;
}
