/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "l2_view.h"
#include "report.h"

typedef struct ObjectList {
        KubeObject **v;
        size_t n;
} ObjectList;

static int collect(KubeObject *obj, void *userdata) {
        ObjectList *l = userdata;
        KubeObject **v = reallocarray(l->v, l->n + 1, sizeof(KubeObject *));

        if (!v)
                return -ENOMEM;
        l->v = v;
        v[l->n++] = obj;
        return 0;
}

static int list_cache(Source *s, const KubeKind *kind, const char *namespace, Cache **ret_cache, ObjectList *ret) {
        SourceFilter f = { .namespace = namespace };
        int k;

        k = source_cache(s, kind, &f, ret_cache);
        return k < 0 ? k : cache_foreach(*ret_cache, NULL, collect, ret);
}

int report_config(Source *s, const ReportOptions *o, Report *r, LbConfig **ret) {
        ObjectList pools = {}, ads = {}, namespaces = {};
        Cache *pool_cache = NULL, *ad_cache = NULL, *ns_cache = NULL;
        LbConfigError e = {};
        LbConfig *c = NULL;
        int k;

        if ((k = list_cache(s, &kube_kind_ipaddresspool, o->config_namespace, &pool_cache, &pools)) < 0 ||
            (k = list_cache(s, &kube_kind_l2advertisement, o->config_namespace, &ad_cache, &ads)) < 0 ||
            (k = list_cache(s, &kube_kind_namespace, NULL, &ns_cache, &namespaces)) < 0)
                goto out;
        LbConfigInput in = {
                .pools = pools.v, .n_pools = pools.n,
                .advertisements = ads.v, .n_advertisements = ads.n,
                .namespaces = namespaces.v, .n_namespaces = namespaces.n,
        };
        k = lb_config_build(&in, &c, &e);
        if (k == -EINVAL) {
                L2ConfigState sc = {};

                if (asprintf(&r->config_error, "%s %s/%s: %s", e.kind ? e.kind->kind : "object",
                             strempty(e.namespace), strempty(e.name), strempty(e.message)) < 0) {
                        r->config_error = NULL;
                        k = -ENOMEM;
                        goto out;
                }
                k = report_add_problem(r, "InvalidConfiguration", strempty(e.name), "%s", r->config_error);
                if (k >= 0)
                        k = l2_config_update(&sc, pool_cache, ad_cache);
                if (k >= 0)
                        c = TAKE_PTR(sc.config);
                l2_config_done(&sc);
        }
        if (k >= 0) {
                *ret = c;
                k = 0;
        }
out:
        lb_config_error_done(&e);
        free(pools.v);
        free(ads.v);
        free(namespaces.v);
        return k;
}

static int ip_cmp(const void *a, const void *b) {
        return ip_addr_compare(a, b);
}

/* Distinct ingress IPs of the handled Services, sorted. */
static int distinct_ips(const Report *r, IpAddr **ret, size_t *ret_n) {
        _cleanup_free_ IpAddr *v = NULL;
        size_t n = 0, total = 0, m = 0;

        for (size_t i = 0; i < r->n_services; i++)
                total += r->services[i].n_ips;
        v = new0(IpAddr, total + 1);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_services; i++)
                for (size_t k = 0; k < r->services[i].n_ips; k++)
                        if (ip_addr_parse(r->services[i].ips[k].ip, &v[n]) >= 0)
                                n++;
        qsort(v, n, sizeof(IpAddr), ip_cmp);
        for (size_t i = 0; i < n; i++)
                if (m == 0 || ip_addr_compare(&v[m - 1], &v[i]) != 0)
                        v[m++] = v[i];
        *ret = TAKE_PTR(v);
        *ret_n = m;
        return 0;
}

int report_pools(Source *s, const ReportOptions *o, const LbConfig *c, Report *r) {
        _cleanup_free_ IpAddr *ips = NULL;
        size_t n_ips = 0;
        int k;

        (void) s, (void) o;
        if (!c)
                return 0;
        r->pools = new0(ReportPool, c->n_pools + 1);
        if (!r->pools)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_pools; i++) {
                const LbPool *p = &c->pools[i];
                const IPAddressPoolStatus *st = &p->object->status;
                ReportPool *rp = &r->pools[r->n_pools];

                rp->name = strdup(p->name);
                if (!rp->name)
                        return -ENOMEM;
                r->n_pools++;
                rp->size = lb_add_saturating(p->capacity_v4, p->capacity_v6);
                rp->status_written = st->assigned_ipv4 || st->assigned_ipv6 || st->available_ipv4 ||
                                     st->available_ipv6;
                rp->status_used = st->assigned_ipv4 + st->assigned_ipv6;
        }
        k = distinct_ips(r, &ips, &n_ips);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n_ips; i++) {
                const LbPool *p = lb_config_pool_of(c, &ips[i]);
                if (p)
                        r->pools[p - c->pools].used++;
        }
        for (size_t i = 0; i < r->n_pools; i++) {
                const ReportPool *p = &r->pools[i];
                if (p->size <= 0 || p->used * 100 < p->size * REPORT_POOL_FULL_PERCENT)
                        continue;
                k = report_add_problem(r, "PoolNearlyFull", p->name, "pool %s: %" PRIi64 " of %" PRIi64
                                       " addresses used", p->name, p->used, p->size);
                if (k < 0)
                        return k;
        }
        return 0;
}
