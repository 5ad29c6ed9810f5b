/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "endpoint_reporting.h"
#include "log.h"

int endpoint_shared_metrics_register(MetricsRegistry *m, EndpointSharedMetrics *ret) {
        EndpointSharedMetrics s = {};

        RET_NERRNO(metrics_counter(m, "berth_endpoints_dropped_total",
                                   "Values not written because the API server would reject them.",
                                   METRIC_LABELS("kind", "reason", NULL), &s.dropped));
        RET_NERRNO(metrics_counter(m, "berth_endpoints_foreign_writer_total",
                                   "Objects re-taken from another writer (upstream's controllers still running?).",
                                   METRIC_LABELS("kind", NULL), &s.foreign));
        RET_NERRNO(metrics_gauge(m, "berth_cache_objects", "Objects in the controllers' caches, by kind.",
                                 METRIC_LABELS("kind", NULL), &s.cache_objects));
        RET_NERRNO(metrics_gauge(m, "berth_cache_bytes", "Heap bytes of the controllers' cached objects, by kind.",
                                 METRIC_LABELS("kind", NULL), &s.cache_bytes));
        *ret = s;
        return 0;
}

void endpoint_cache_metrics_set(const EndpointSharedMetrics *m, Cache *const *caches, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *kind = cache_kind(caches[i])->kind;
                (void) metric_set(m->cache_objects, METRIC_LABELS(kind), (double) cache_size(caches[i]));
                (void) metric_set(m->cache_bytes, METRIC_LABELS(kind), (double) cache_memory_bytes(caches[i]));
        }
}

void endpoint_problems_report(const EndpointProblemReporter *r, const Service *svc, const Pod *pod,
                              const EndpointProblems *problems) {
        for (size_t i = 0; i < problems->n; i++) {
                const EndpointProblem *p = &problems->items[i];
                _cleanup_free_ char *note = NULL;
                const char *reason;

                if (endpoint_problem_memory_first(r->memory, pod->object.meta.uid, p) <= 0)
                        continue;
                log_warning("%sservice %s/%s: pod %s/%s: dropped %s %s: %s", r->log_prefix,
                            svc->object.meta.namespace, svc->object.meta.name, pod->object.meta.namespace,
                            pod->object.meta.name, endpoint_problem_kind_to_string(p->kind), p->subject,
                            p->message);
                if (r->dropped)
                        (void) metric_inc(r->dropped,
                                          METRIC_LABELS(endpoint_problem_kind_to_string(p->kind), p->reason));
                if (endpoint_problem_event(p, pod, &reason, &note) < 0)
                        continue;
                EventObjectRef regarding = {
                        .api_version = "v1",
                        .kind = "Service",
                        .namespace = svc->object.meta.namespace,
                        .name = svc->object.meta.name,
                        .uid = svc->object.meta.uid,
                };
                (void) event_recorder_emit(r->recorder, &regarding, "Warning", reason, r->action, note);
        }
}
