/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the endpoints and endpointslice controllers report the same way: the
 * metric families both export and the §5.4 problem report (log line,
 * berth_endpoints_dropped_total, Warning event), so the two cannot drift
 * apart in names, help texts or wording. */

#include <stddef.h>

#include "cache.h"
#include "endpoint_pod.h"
#include "events.h"
#include "metrics.h"

typedef struct EndpointSharedMetrics {
        MetricFamily *dropped;       /* berth_endpoints_dropped_total{kind,reason} */
        MetricFamily *foreign;       /* berth_endpoints_foreign_writer_total{kind} */
        MetricFamily *cache_objects; /* berth_cache_objects{kind} */
        MetricFamily *cache_bytes;   /* berth_cache_bytes{kind} */
} EndpointSharedMetrics;

/* Registers (or finds, for the second controller) the shared families. */
int endpoint_shared_metrics_register(MetricsRegistry *m, EndpointSharedMetrics *ret);
/* Sets berth_cache_objects / berth_cache_bytes for each cache, labelled by its kind. */
void endpoint_cache_metrics_set(const EndpointSharedMetrics *m, Cache *const *caches, size_t n);

typedef struct EndpointProblemReporter {
        const char *log_prefix; /* before "service ns/name: ..." ("" or "endpointslice: ") */
        const char *action;     /* the Warning event's action */
        EndpointProblemMemory *memory;
        EventRecorder *recorder;
        MetricFamily *dropped;  /* may be NULL (no metrics) */
} EndpointProblemReporter;

/* Reports each problem of pod (selected by svc) the first time it is seen:
 * a warning, the dropped metric, and for address and port drops the
 * EndpointAddressDropped / EndpointPortDropped event on the Service. */
void endpoint_problems_report(const EndpointProblemReporter *r, const Service *svc, const Pod *pod,
                              const EndpointProblems *problems);
