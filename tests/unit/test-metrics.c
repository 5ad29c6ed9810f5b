/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus registry: exposition format 0.0.4, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

static char *render(MetricsRegistry *m) {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(metrics_render(m, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        return text;
}

static void test_counter_gauge_sorted(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *c, *g, *plain;
        char *text;

        assert_int_equal(metrics_registry_new(&m), 0);
        /* Registered out of order: output is by family name, then label values. */
        assert_int_equal(metrics_gauge(m, "berth_cache_objects", "Objects in a cache.",
                                       METRIC_LABELS("kind", NULL), &g), 0);
        assert_int_equal(metrics_counter(m, "berth_endpoints_changes_total", "Writes.",
                                         METRIC_LABELS("operation", NULL), &c), 0);
        assert_int_equal(metrics_gauge(m, "berth_controller_leader", "1 when leading.", NULL, &plain), 0);
        assert_int_equal(metric_inc(c, METRIC_LABELS("update")), 0);
        assert_int_equal(metric_add(c, METRIC_LABELS("create"), 2), 0);
        assert_int_equal(metric_inc(c, METRIC_LABELS("update")), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("Service"), 12), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("Pod"), 0.25), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("Pod"), 1e21), 0);

        text = render(m);
        assert_string_equal(text,
                            "# HELP berth_cache_objects Objects in a cache.\n"
                            "# TYPE berth_cache_objects gauge\n"
                            "berth_cache_objects{kind=\"Pod\"} 1e+21\n"
                            "berth_cache_objects{kind=\"Service\"} 12\n"
                            "# HELP berth_controller_leader 1 when leading.\n"
                            "# TYPE berth_controller_leader gauge\n"
                            "berth_controller_leader 0\n"
                            "# HELP berth_endpoints_changes_total Writes.\n"
                            "# TYPE berth_endpoints_changes_total counter\n"
                            "berth_endpoints_changes_total{operation=\"create\"} 2\n"
                            "berth_endpoints_changes_total{operation=\"update\"} 2\n");
        free(text);

        /* Counters never go down; gauges are not observed. */
        assert_int_equal(metric_add(c, METRIC_LABELS("update"), -1), -EINVAL);
        assert_int_equal(metric_observe(g, METRIC_LABELS("Pod"), 1), -EINVAL);
        assert_int_equal(metric_set(c, METRIC_LABELS("update"), 1), -EINVAL);
        assert_int_equal(metric_inc(c, NULL), -EINVAL);
        metrics_registry_free(m);
}

static void test_escaping_and_values(void **state _unused_) {
        static const struct {
                double v;
                const char *text;
        } values[] = {
                { 0, "0" },       { 1, "1" },           { -2.5, "-2.5" },        { 0.1, "0.1" },
                { 1e-8, "1e-08" }, { 123456789, "1.23456789e+08" }, { 123456, "123456" }, { 0.001, "0.001" }, { 1e-5, "1e-05" }, { INFINITY, "+Inf" }, { -INFINITY, "-Inf" },
                { 9223372036854775807.0, "9.223372036854776e+18" },
        };
        MetricsRegistry *m = NULL;
        MetricFamily *g;
        char *text, want[256];

        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_gauge(m, "g", "a \\ help\nline \"q\"", METRIC_LABELS("l", NULL), &g), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("a\"b\\c\nd"), 1), 0);
        text = render(m);
        assert_string_equal(text, "# HELP g a \\\\ help\\nline \"q\"\n"
                                  "# TYPE g gauge\n"
                                  "g{l=\"a\\\"b\\\\c\\nd\"} 1\n");
        free(text);

        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                metric_clear(g);
                assert_int_equal(metric_set(g, METRIC_LABELS("x"), values[i].v), 0);
                text = render(m);
                snprintf(want, sizeof(want), "g{l=\"x\"} %s\n", values[i].text);
                assert_non_null(strstr(text, want));
                free(text);
        }
        metrics_registry_free(m);
}

static void test_histogram(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *h;
        double b[3];
        char *text;
        unsigned long count;
        double sum;

        metrics_exponential_buckets(0.01, 10, 3, b);
        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_histogram(m, "lat_seconds", "Latency.", METRIC_LABELS("op", NULL), b, 3, &h), 0);
        assert_int_equal(metric_observe(h, METRIC_LABELS("get"), 0.005), 0);
        assert_int_equal(metric_observe(h, METRIC_LABELS("get"), 0.01), 0); /* le is inclusive */
        assert_int_equal(metric_observe(h, METRIC_LABELS("get"), 0.5), 0);
        assert_int_equal(metric_observe(h, METRIC_LABELS("get"), 7), 0);
        text = render(m);
        assert_string_equal(text, "# HELP lat_seconds Latency.\n"
                                  "# TYPE lat_seconds histogram\n"
                                  "lat_seconds_bucket{op=\"get\",le=\"0.01\"} 2\n"
                                  "lat_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                                  "lat_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
                                  "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
                                  "lat_seconds_sum{op=\"get\"} 7.515\n"
                                  "lat_seconds_count{op=\"get\"} 4\n");
        free(text);
        assert_int_equal(metric_get(h, METRIC_LABELS("get"), &sum, &count), 0);
        assert_int_equal(count, 4);
        assert_int_equal(metric_get(h, METRIC_LABELS("put"), &sum, &count), -ENOENT);
        /* Unsorted buckets and the reserved "le" label are refused. */
        double bad[] = { 1, 0.5 };
        assert_int_equal(metrics_histogram(m, "bad", "", NULL, bad, 2, &h), -EINVAL);
        assert_int_equal(metrics_histogram(m, "bad", "", METRIC_LABELS("le", NULL), b, 3, &h), -EINVAL);
        metrics_registry_free(m);
}

static void test_register_shared_and_conflicts(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *a, *b;

        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_gauge(m, "workqueue_depth", "d", METRIC_LABELS("name", NULL), &a), 0);
        assert_int_equal(metrics_gauge(m, "workqueue_depth", "d", METRIC_LABELS("name", NULL), &b), 0);
        assert_ptr_equal(a, b);
        assert_int_equal(metrics_counter(m, "workqueue_depth", "d", METRIC_LABELS("name", NULL), &b), -EEXIST);
        assert_int_equal(metrics_gauge(m, "workqueue_depth", "d", METRIC_LABELS("other", NULL), &b), -EEXIST);
        assert_int_equal(metrics_gauge(m, "bad-name", "d", NULL, &b), -EINVAL);
        assert_int_equal(metrics_gauge(m, "9lives", "d", NULL, &b), -EINVAL);
        assert_int_equal(metrics_gauge(m, "ok", "d", METRIC_LABELS("__x", NULL), &b), -EINVAL);
        metrics_registry_free(m);
}

static void test_remove_series(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *g;
        char *text;

        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_gauge(m, "metallb_speaker_announced", "1 while announced.",
                                       METRIC_LABELS("service", "ip", NULL), &g), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("ns/a", "192.0.2.1"), 1), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("ns/b", "192.0.2.2"), 1), 0);
        assert_int_equal(metric_set(g, METRIC_LABELS("ns/b", "192.0.2.3"), 1), 0);
        assert_int_equal(metric_remove(g, METRIC_LABELS("ns/a", "192.0.2.1")), 0);
        assert_int_equal(metric_remove(g, METRIC_LABELS("ns/a", "192.0.2.1")), 0);
        assert_int_equal(metric_series_count(g), 2);
        metric_remove_matching(g, "service", "ns/b");
        assert_int_equal(metric_series_count(g), 0);
        /* A family without series renders nothing at all. */
        text = render(m);
        assert_string_equal(text, "");
        free(text);
        metrics_registry_free(m);
}

static void collect(MetricsRegistry *r _unused_, void *userdata) {
        MetricFamily *g = userdata;
        double v = 0;
        (void) metric_get(g, NULL, &v, NULL);
        (void) metric_set(g, NULL, v + 1);
}

static void test_collector(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *g;
        char *text;

        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_gauge(m, "scrapes", "Value computed at scrape time.", NULL, &g), 0);
        assert_int_equal(metrics_add_collector(m, collect, g), 0);
        free(render(m));
        text = render(m);
        assert_non_null(strstr(text, "\nscrapes 2\n"));
        free(text);
        metrics_remove_collector(m, collect, g);
        text = render(m);
        assert_non_null(strstr(text, "\nscrapes 2\n"));
        free(text);
        metrics_registry_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counter_gauge_sorted),
                cmocka_unit_test(test_escaping_and_values),
                cmocka_unit_test(test_histogram),
                cmocka_unit_test(test_register_shared_and_conflicts),
                cmocka_unit_test(test_remove_series),
                cmocka_unit_test(test_collector),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
