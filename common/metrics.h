/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A small Prometheus registry: counters, gauges and histograms with label
 * sets, plus collectors (callbacks run at scrape time, for values that are
 * cheaper to compute than to track, e.g. cache sizes), rendered in the text
 * exposition format 0.0.4.
 *
 * Output is deterministic: families sorted by name, series by their label
 * values (bytewise, label by label).  The registry is not thread-safe: it is
 * updated and rendered on the event loop only (http_server renders on the
 * loop and hands the text to its thread). */

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

typedef struct MetricsRegistry MetricsRegistry;
typedef struct MetricFamily MetricFamily;

typedef enum MetricType {
        METRIC_COUNTER,
        METRIC_GAUGE,
        METRIC_HISTOGRAM,
} MetricType;

/* Label values of one series, in the order of the family's label names:
 * metric_inc(f, METRIC_LABELS("endpoint")).  NULL for a family without labels. */
#define METRIC_LABELS(...) ((const char *const[]){ __VA_ARGS__ })

/* Hard caps (metric names and label values come from object names). */
#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_SERIES_PER_FAMILY 100000

int metrics_registry_new(MetricsRegistry **ret);
MetricsRegistry *metrics_registry_free(MetricsRegistry *r);
DEFINE_POINTER_CLEANUP(MetricsRegistry, metrics_registry_free);

/* Registers a family, or returns the one already registered under that
 * name when type, label names (and buckets) match, so that two work queues
 * can share workqueue_depth{name}.  -EEXIST when they differ, -EINVAL on a
 * malformed name.  label_names is NULL-terminated (NULL = no labels).
 * The family lives as long as the registry. */
int metrics_counter(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                    MetricFamily **ret);
int metrics_gauge(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                  MetricFamily **ret);
/* buckets: strictly increasing upper bounds, +Inf implied. */
int metrics_histogram(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                      const double *buckets, size_t n_buckets, MetricFamily **ret);

/* Exponential buckets: start, start*factor, ... (count of them) into out. */
void metrics_exponential_buckets(double start, double factor, size_t count, double *out);

/* Updates.  label_values has exactly as many entries as the family has
 * label names.  A series is created on first use.  Errors: -EINVAL (wrong
 * type, negative counter increment, NULL label value), -ENOMEM, -E2BIG
 * (series cap).  Callers on hot paths may ignore the result. */
int metric_add(MetricFamily *f, const char *const *label_values, double v);     /* counter or gauge */
int metric_inc(MetricFamily *f, const char *const *label_values);
int metric_set(MetricFamily *f, const char *const *label_values, double v);     /* gauge */
int metric_observe(MetricFamily *f, const char *const *label_values, double v); /* histogram */
/* Removes one series (a deleted pool's, a withdrawn IP's); 0 also when absent. */
int metric_remove(MetricFamily *f, const char *const *label_values);
/* Removes every series whose label label_name equals value. */
void metric_remove_matching(MetricFamily *f, const char *label_name, const char *value);
/* Removes every series of the family. */
void metric_clear(MetricFamily *f);

/* Reads a series back (tests, and code that reports its own metrics).
 * -ENOENT when the series does not exist.  For a histogram, value is the
 * sum and ret_count (may be NULL) the count. */
int metric_get(MetricFamily *f, const char *const *label_values, double *ret_value, unsigned long *ret_count);
size_t metric_series_count(const MetricFamily *f);

/* A collector runs at every render, before any output, and sets whatever
 * series it owns (typically gauges).  Several collectors may be attached,
 * each identified by (fn, userdata) for removal. */
typedef void (*metrics_collect_fn)(MetricsRegistry *r, void *userdata);
int metrics_add_collector(MetricsRegistry *r, metrics_collect_fn fn, void *userdata);
void metrics_remove_collector(MetricsRegistry *r, metrics_collect_fn fn, void *userdata);

/* Renders every family (text format 0.0.4) into a malloc'd string. */
int metrics_render(MetricsRegistry *r, char **ret, size_t *ret_len);
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
