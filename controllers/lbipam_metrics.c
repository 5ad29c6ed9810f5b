/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "lbipam_metrics.h"

int lbipam_metrics_init(LbipamMetrics *m, MetricsRegistry *reg) {
        static const char *const pool[] = { "pool", NULL }, *const reason[] = { "reason", NULL };
        int r = 0;

        *m = (LbipamMetrics) {};
        if (!reg)
                return 0;
        m->registry = reg;
#define G(field, name, help, labels) \
        if (r >= 0)                  \
                r = metrics_gauge(reg, name, help, labels, &m->field)
#define C(field, name, help, labels) \
        if (r >= 0)                  \
                r = metrics_counter(reg, name, help, labels, &m->field)
        G(addresses, "metallb_allocator_addresses_total", "Usable IP addresses of the pool, IPv4 + IPv6.", pool);
        G(addresses_v4, "metallb_allocator_ipv4_addresses_total", "Usable IPv4 addresses of the pool.", pool);
        G(addresses_v6, "metallb_allocator_ipv6_addresses_total", "Usable IPv6 addresses of the pool.", pool);
        G(in_use, "metallb_allocator_addresses_in_use_total", "Distinct addresses of the pool held by Services.",
          pool);
        G(in_use_v4, "metallb_allocator_ipv4_addresses_in_use_total",
          "Distinct IPv4 addresses of the pool held by Services.", pool);
        G(in_use_v6, "metallb_allocator_ipv6_addresses_in_use_total",
          "Distinct IPv6 addresses of the pool held by Services.", pool);
        G(config_loaded, "metallb_k8s_client_config_loaded_bool", "1 once a valid configuration has loaded.", NULL);
        G(config_stale, "metallb_k8s_client_config_stale_bool", "1 while the newest configuration is invalid.", NULL);
        G(pending, "berth_lbipam_services_pending", "Handled LoadBalancer Services without an IP, by reason.",
          reason);
        G(unadvertised, "berth_lbipam_pool_unadvertised", "1 when no L2Advertisement covers the pool.", pool);
        G(draining, "berth_lbipam_pool_draining", "1 while the pool is draining.", pool);
        C(rejected, "berth_lbipam_status_ips_rejected_total", "Status IPs removed by re-validation.", NULL);
        C(dropped, "berth_lbipam_allocations_dropped_total", "Allocations released by a pool change.", pool);
#undef G
#undef C
        if (r < 0)
                return r;
        lbipam_metrics_config_state(m, false, false);
        (void) metric_add(m->rejected, NULL, 0);
        return 0;
}

void lbipam_metrics_config_state(LbipamMetrics *m, bool loaded, bool stale) {
        (void) metric_set(m->config_loaded, NULL, loaded);
        (void) metric_set(m->config_stale, NULL, stale);
}

static void pool_remove(LbipamMetrics *m, const char *name) {
        MetricFamily *const per_pool[] = { m->addresses, m->addresses_v4, m->addresses_v6, m->in_use,
                                           m->in_use_v4, m->in_use_v6,   m->unadvertised, m->draining };
        for (size_t i = 0; i < ELEMENTSOF(per_pool); i++)
                (void) metric_remove(per_pool[i], METRIC_LABELS(name));
}

void lbipam_metrics_config(LbipamMetrics *m, const LbConfig *old, const LbConfig *cfg) {
        if (!m->registry)
                return;
        for (size_t i = 0; old && i < old->n_pools; i++)
                if (!lb_config_find_pool(cfg, old->pools[i].name))
                        pool_remove(m, old->pools[i].name);
        for (size_t i = 0; i < cfg->n_pools; i++) {
                const LbPool *p = &cfg->pools[i];
                const char *const l[] = { p->name, NULL };
                (void) metric_set(m->addresses, l, (double) lb_add_saturating(p->capacity_v4, p->capacity_v6));
                (void) metric_set(m->addresses_v4, l, (double) p->capacity_v4);
                (void) metric_set(m->addresses_v6, l, (double) p->capacity_v6);
                (void) metric_set(m->unadvertised, l, !p->covered);
                (void) metric_set(m->draining, l, p->draining);
                (void) metric_add(m->dropped, l, 0);
        }
}

void lbipam_metrics_usage(LbipamMetrics *m, const LbConfig *cfg, const LbAllocator *a) {
        if (!m->registry || !cfg)
                return;
        for (size_t i = 0; i < cfg->n_pools; i++) {
                const char *const l[] = { cfg->pools[i].name, NULL };
                int64_t v4 = 0, v6 = 0;
                lb_allocator_pool_usage(a, cfg->pools[i].name, &v4, &v6);
                (void) metric_set(m->in_use, l, (double) lb_add_saturating(v4, v6));
                (void) metric_set(m->in_use_v4, l, (double) v4);
                (void) metric_set(m->in_use_v6, l, (double) v6);
        }
}

void lbipam_metrics_pending(LbipamMetrics *m, const size_t counts[_LB_REASON_MAX]) {
        if (!m->registry)
                return;
        for (LbReason r = LB_REASON_ALLOCATED + 1; r < _LB_REASON_MAX; r++)
                (void) metric_set(m->pending, METRIC_LABELS(lb_reason_to_string(r)), (double) counts[r]);
}

void lbipam_metrics_rejected(LbipamMetrics *m) {
        (void) metric_inc(m->rejected, NULL);
}

void lbipam_metrics_dropped(LbipamMetrics *m, const char *pool, size_t n) {
        (void) metric_add(m->dropped, METRIC_LABELS(pool), (double) n);
}

void lbipam_metrics_forget_pool(LbipamMetrics *m, const char *pool) {
        (void) metric_remove(m->dropped, METRIC_LABELS(pool));
}
