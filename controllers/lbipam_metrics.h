/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The lbipam metrics (lbipam.md §12): MetalLB's metallb_allocator_* and
 * metallb_k8s_client_* names, so existing alerts keep working, plus
 * berth_lbipam_*.  Every function accepts a LbipamMetrics without a
 * registry (offline runs have none) and then does nothing. */

#include <stdbool.h>
#include <stddef.h>

#include "lb_alloc.h"
#include "lb_config.h"
#include "lbipam_reconcile.h"
#include "metrics.h"

typedef struct LbipamMetrics {
        MetricsRegistry *registry;
        MetricFamily *addresses, *addresses_v4, *addresses_v6;    /* capacity */
        MetricFamily *in_use, *in_use_v4, *in_use_v6;             /* distinct addresses held */
        MetricFamily *config_loaded, *config_stale;
        MetricFamily *pending;                                    /* {reason} */
        MetricFamily *unadvertised, *draining;                    /* {pool} */
        MetricFamily *rejected;                                   /* status IPs removed by re-validation */
        MetricFamily *dropped;                                    /* {pool} allocations released by a pool change */
} LbipamMetrics;

/* reg NULL: every family stays NULL. */
int lbipam_metrics_init(LbipamMetrics *m, MetricsRegistry *reg);

void lbipam_metrics_config_state(LbipamMetrics *m, bool loaded, bool stale);
/* A valid configuration was installed: the per-pool series of cfg are set
 * and those of the pools of old that cfg no longer has are removed. */
void lbipam_metrics_config(LbipamMetrics *m, const LbConfig *old, const LbConfig *cfg);
/* The in-use gauges of every pool of cfg (scrape time). */
void lbipam_metrics_usage(LbipamMetrics *m, const LbConfig *cfg, const LbAllocator *a);
/* berth_lbipam_services_pending: one series per pending reason (zeros included). */
void lbipam_metrics_pending(LbipamMetrics *m, const size_t counts[_LB_REASON_MAX]);
void lbipam_metrics_rejected(LbipamMetrics *m);
void lbipam_metrics_dropped(LbipamMetrics *m, const char *pool, size_t n);
/* Removes the dropped counter of a pool that no longer exists. */
void lbipam_metrics_forget_pool(LbipamMetrics *m, const char *pool);
