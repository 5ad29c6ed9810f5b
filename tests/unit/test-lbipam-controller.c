/* SPDX-License-Identifier: Apache-2.0 */
/* The lbipam controller over an offline source (lbipam.md §3, §9-§14):
 * the ordered restart of X6, the drain of X7, the shrink of X8 with its
 * AllocationsDropped text, an invalid configuration keeping the last valid
 * one, no write when nothing changed, a Service of another class left
 * alone, a 409 answered by a rerun, and the metrics. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "ipaddresspool.h"
#include "lbipam.h"
#include "lbipam_reconcile.h"
#include "lbipam_writes.h"
#include "service.h"
#include "source_offline.h"

#define NOW (UINT64_C(1767225600) * USEC_PER_SEC)

/* A source in front of the offline one: it can make the next Service
 * status write meet a concurrent change (a real 409). */
typedef struct WrapSource {
        Source base;
        Source *inner;
        bool conflict_next_status_write;
        unsigned status_writes;
} WrapSource;

static int wrap_cache(Source *s, const KubeKind *kind, const SourceFilter *f, Cache **ret) {
        Source *in = ((WrapSource *) s)->inner;
        return in->ops->cache(in, kind, f, ret);
}
static bool wrap_synced(Source *s) {
        return source_synced(((WrapSource *) s)->inner);
}
static usec_t wrap_now(Source *s) {
        return source_now(((WrapSource *) s)->inner);
}
static int wrap_write(Source *s, const char *method, const KubeKind *kind, const char *ns, const char *name,
                      const char *sub, const char *ct, const char *body, source_write_fn done, void *userdata) {
        WrapSource *w = (WrapSource *) s;
        if (kind == &kube_kind_service && sub && streq(sub, "status")) {
                w->status_writes++;
                if (w->conflict_next_status_write) {
                        w->conflict_next_status_write = false;
                        /* someone labels the Service just before our write lands */
                        assert_int_equal(source_merge_patch(w->inner, &kube_kind_service, ns, name, NULL,
                                                            "{\"metadata\":{\"labels\":{\"touched\":\"yes\"}}}", NULL,
                                                            NULL),
                                         0);
                }
        }
        return w->inner->ops->write(w->inner, method, kind, ns, name, sub, ct, body, done, userdata);
}
static void wrap_free(Source *s) {
        WrapSource *w = (WrapSource *) s;
        source_free(w->inner);
        free(w);
}
static int wrap_get(Source *s, const KubeKind *kind, const char *ns, const char *name, source_write_fn done,
                    void *userdata) {
        return source_get(((WrapSource *) s)->inner, kind, ns, name, done, userdata);
}
static void wrap_cache_release(Source *s, Cache *c) {
        source_cache_release(((WrapSource *) s)->inner, c);
}
static void wrap_cancel(Source *s, void *userdata) {
        source_cancel(((WrapSource *) s)->inner, userdata);
}
static const SourceOps wrap_ops = {
        .name = "offline",
        .cache = wrap_cache,
        .synced = wrap_synced,
        .write = wrap_write,
        .now = wrap_now,
        .get = wrap_get,
        .cache_release = wrap_cache_release,
        .cancel = wrap_cancel,
        .free = wrap_free,
};

typedef struct Fixture {
        char dir[64];
        sd_event *event;
        WrapSource *src;
        Source *inner;
        Controller *c;
        Cache *services, *pools;
        ControllerFlags flags;
        MetricsRegistry *metrics;
} Fixture;

static void write_file(const char *dir, const char *name, const char *text) {
        char path[256];
        FILE *m;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        m = fopen(path, "w");
        assert_non_null(m);
        fputs(text, m);
        fclose(m);
}

static void run(Fixture *f) {
        for (int i = 0; i < 100000 && (source_offline_pending(f->inner) > 0 || !f->c->idle(f->c)); i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
        assert_true(f->c->idle(f->c));
        assert_int_equal(source_offline_pending(f->inner), 0);
}

static void fixture_start(Fixture *f, const char *manifests, const char *lb_class) {
        ControllerFlags defaults = CONTROLLER_FLAGS_INIT;
        char *err = NULL;

        snprintf(f->dir, sizeof f->dir, "/tmp/berth-test-lbipam.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        write_file(f->dir, "objects.yaml", manifests);
        f->flags = defaults;
        f->flags.lb_class = lb_class ? strdup(lb_class) : NULL;
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(source_offline_new(f->event, &(OfflineOptions) { .dir = f->dir, .now = NOW }, &f->inner, &err),
                         0);
        f->src = calloc(1, sizeof(WrapSource));
        assert_non_null(f->src);
        f->src->base = (Source) { .ops = &wrap_ops, .event = f->event };
        f->src->inner = f->inner;
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        ControllerContext ctx = {
                .event = f->event, .source = &f->src->base, .offline = true, .reporting_instance = "offline",
                .flags = &f->flags, .metrics = f->metrics,
        };
        assert_int_equal(lbipam_controller_init(&ctx, &f->c), 0);
        assert_int_equal(source_cache(f->inner, &kube_kind_service, NULL, &f->services), 0);
        assert_int_equal(source_cache(f->inner, &kube_kind_ipaddresspool,
                                      &(SourceFilter) { .namespace = "berth-system" }, &f->pools),
                         0);
        assert_int_equal(f->c->start(f->c), 0);
        run(f);
}

static void fixture_stop(Fixture *f) {
        char cmd[128];
        f->c->free(f->c);
        source_free(&f->src->base);
        sd_event_unref(f->event);
        metrics_registry_free(f->metrics);
        controller_flags_done(&f->flags);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
}

static const Service *get(Fixture *f, const char *name) {
        const Service *s = SERVICE(cache_get(f->services, "default", name));
        assert_non_null(s);
        return s;
}

/* The status IPs joined by a space, "" when none. */
static const char *ips_of(Fixture *f, const char *name) {
        static char buf[256];
        const Service *s = get(f, name);
        buf[0] = 0;
        for (size_t i = 0; i < s->n_ingress; i++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", s->ingress[i].ip);
        return buf;
}

static const KubeCondition *cond_of(Fixture *f, const char *name) {
        return conditions_find(&get(f, name)->conditions, LBIPAM_CONDITION_TYPE);
}

typedef struct EventQuery {
        const char *regarding, *reason, *note; /* NULL: any */
        unsigned n;
        const char *last_note;
} EventQuery;

static int match_event(const OfflineObject *o, void *userdata) {
        EventQuery *q = userdata;
        const char *reason = json_get_string(o->value, "reason"), *note = json_get_string(o->value, "note");
        const char *regarding = json_get_string(json_get(o->value, "regarding"), "name");
        if ((q->regarding && !streq_ptr(q->regarding, regarding)) || (q->reason && !streq_ptr(q->reason, reason)) ||
            (q->note && !streq_ptr(q->note, note)))
                return 0;
        q->n++;
        q->last_note = note;
        assert_string_equal(json_get_string(o->value, "reportingController"), LBIPAM_REPORTING_CONTROLLER);
        return 0;
}

static unsigned events(Fixture *f, const char *regarding, const char *reason, const char *note) {
        EventQuery q = { regarding, reason, note, 0, NULL };
        assert_int_equal(source_offline_foreach(f->inner, &kube_kind_event, OFFLINE_EXISTING, match_event, &q), 0);
        return q.n;
}

static const char *event_note(Fixture *f, const char *regarding, const char *reason) {
        EventQuery q = { regarding, reason, NULL, 0, NULL };
        assert_int_equal(source_offline_foreach(f->inner, &kube_kind_event, OFFLINE_EXISTING, match_event, &q), 0);
        assert_int_equal(q.n, 1);
        return q.last_note;
}

static double metric(Fixture *f, const char *name, const char *label_name, const char *label) {
        MetricFamily *m = NULL;
        const char *const names[] = { label_name, NULL };
        double v = -1;
        char *text = NULL;
        size_t len;
        /* a render runs the collectors */
        assert_int_equal(metrics_render(f->metrics, &text, &len), 0);
        free(text);
        assert_int_equal(metrics_gauge(f->metrics, name, "", label_name ? names : NULL, &m) >= 0 ||
                                 metrics_counter(f->metrics, name, "", label_name ? names : NULL, &m) >= 0,
                         1);
        if (metric_get(m, label_name ? METRIC_LABELS(label) : NULL, &v, NULL) < 0)
                return -1;
        return v;
}

static void user_write(Fixture *f, const KubeKind *kind, const char *ns, const char *name, const char *patch) {
        assert_int_equal(source_merge_patch(f->inner, kind, ns, name, NULL, patch, NULL, NULL), 0);
        run(f);
}

#define POOL(addresses, extra)                                                                                 \
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: berth-system" extra \
        "}\nspec: {addresses: " addresses "}\n---\n"                                                            \
        "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: berth-system}\n" \
        "spec: {}\n---\n"
#define SVC(name, ts, ip, status, extra)                                                                         \
        "apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: default, creationTimestamp: '" ts \
        "'}\nspec: {type: LoadBalancer, clusterIP: " ip ", ports: [{port: 80}]" extra "}\nstatus: " status      \
        "\n---\n"
#define HOLDS(ip) "{loadBalancer: {ingress: [{ip: " ip "}]}}"
#define NONE "{}"

/* X6: a and b hold the two addresses; c, older and pending, gets PoolExhausted. */
static void test_restart_keeps_holders(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f,
                      POOL("[192.0.2.0/31]", "")
                      SVC("c", "2025-01-01T00:00:00Z", "10.96.0.3", NONE, "")
                      SVC("a", "2025-01-02T00:00:00Z", "10.96.0.1", HOLDS("192.0.2.1"), "")
                      SVC("b", "2025-01-03T00:00:00Z", "10.96.0.2", HOLDS("192.0.2.0"), ""),
                      NULL);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.1");
        assert_string_equal(ips_of(&f, "b"), "192.0.2.0");
        assert_string_equal(ips_of(&f, "c"), "");
        assert_string_equal(strmap_get(&get(&f, "a")->object.meta.annotations, SERVICE_ANNOTATION_POOL_ALLOCATED), "p");
        const KubeCondition *ca = cond_of(&f, "a"), *cc = cond_of(&f, "c");
        assert_non_null(ca);
        assert_int_equal(ca->status, CONDITION_TRUE);
        assert_string_equal(ca->reason, "Allocated");
        assert_string_equal(ca->message, "IP [\"192.0.2.1\"] from pool \"p\"");
        assert_int_equal(ca->last_transition_time, NOW);
        assert_non_null(cc);
        assert_int_equal(cc->status, CONDITION_FALSE);
        assert_string_equal(cc->reason, "PoolExhausted");
        assert_string_equal(cc->message, "no available IPs");
        assert_int_equal(events(&f, "c", "AllocationFailed", "Failed to allocate IP for \"default/c\": no available IPs"),
                         1);
        assert_int_equal(events(&f, "a", NULL, NULL), 0); /* a kept its IP: nothing to tell */

        /* pool status and metrics */
        const IPAddressPool *p = IPADDRESSPOOL(cache_get(f.pools, "berth-system", "p"));
        assert_int_equal(p->status.assigned_ipv4, 2);
        assert_int_equal(p->status.available_ipv4, 0);
        assert_int_equal(p->status.assigned_ipv6, 0);
        assert_true(metric(&f, "metallb_k8s_client_config_loaded_bool", NULL, NULL) == 1);
        assert_true(metric(&f, "metallb_k8s_client_config_stale_bool", NULL, NULL) == 0);
        assert_true(metric(&f, "metallb_allocator_addresses_total", "pool", "p") == 2);
        assert_true(metric(&f, "metallb_allocator_addresses_in_use_total", "pool", "p") == 2);
        assert_true(metric(&f, "berth_lbipam_services_pending", "reason", "PoolExhausted") == 1);
        assert_true(metric(&f, "berth_lbipam_pool_unadvertised", "pool", "p") == 0);

        /* nothing changed: a label on a (the user's write) is the only write */
        uint64_t changes = source_offline_changes(f.inner);
        unsigned writes = f.src->status_writes;
        user_write(&f, &kube_kind_service, "default", "a", "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
        assert_int_equal(source_offline_changes(f.inner), changes + 1);
        assert_int_equal(f.src->status_writes, writes);
        /* the pending one is reprocessed on a pool change, silently */
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p", "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
        assert_int_equal(f.src->status_writes, writes);
        assert_int_equal(events(&f, "c", "AllocationFailed", NULL), 1);

        /* X7: p drains, then b goes: c stays pending with NoPool, a keeps .1 */
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p",
                   "{\"metadata\":{\"annotations\":{\"berth.io/drain\":\"true\"}}}");
        assert_string_equal(event_note(&f, "p", "PoolDraining"),
                            "pool p is draining: existing IPs are kept, no new IPs are handed out");
        assert_true(metric(&f, "berth_lbipam_pool_draining", "pool", "p") == 1);
        assert_int_equal(source_delete(f.inner, &kube_kind_service, "default", "b", NULL, NULL), 0);
        run(&f);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.1");
        assert_string_equal(ips_of(&f, "c"), "");
        assert_string_equal(cond_of(&f, "c")->reason, "NoPool");
        assert_string_equal(cond_of(&f, "c")->message,
                            "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        p = IPADDRESSPOOL(cache_get(f.pools, "berth-system", "p"));
        assert_int_equal(p->status.assigned_ipv4, 1);
        assert_int_equal(p->status.available_ipv4, 1);

        /* the drain ends: c gets the freed address */
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p",
                   "{\"metadata\":{\"annotations\":{\"berth.io/drain\":null}}}");
        assert_string_equal(event_note(&f, "p", "PoolDrainCleared"), "pool p hands out IPs again");
        assert_string_equal(ips_of(&f, "c"), "192.0.2.0");
        assert_int_equal(events(&f, "c", "IPAllocated", "Assigned IP [\"192.0.2.0\"]"), 1);
        fixture_stop(&f);
}

/* X8: shrinking p drops a's .3; the event names it and a is re-numbered. */
static void test_shrink_drops_and_renumbers(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f,
                      POOL("[192.0.2.0/30]", "")
                      SVC("a", "2025-01-02T00:00:00Z", "10.96.0.1", HOLDS("192.0.2.3"), ""),
                      NULL);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.3");
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p",
                   "{\"spec\":{\"addresses\":[\"192.0.2.0/31\"]}}");
        assert_string_equal(event_note(&f, "p", "AllocationsDropped"),
                            "pool p change releases IPs in use by: default/a (192.0.2.3)");
        assert_string_equal(ips_of(&f, "a"), "192.0.2.0");
        assert_true(metric(&f, "berth_lbipam_allocations_dropped_total", "pool", "p") == 1);
        assert_true(metric(&f, "metallb_allocator_addresses_total", "pool", "p") == 2);

        /* the pool goes: the dropped text of a deleted pool, on its last object */
        assert_int_equal(source_delete(f.inner, &kube_kind_ipaddresspool, "berth-system", "p", NULL, NULL), 0);
        run(&f);
        assert_int_equal(events(&f, "p", "AllocationsDropped",
                                "pool p deleted while IPs were in use by: default/a (192.0.2.0)"),
                         1);
        assert_string_equal(ips_of(&f, "a"), "");
        assert_string_equal(cond_of(&f, "a")->reason, "NoPool");
        assert_string_equal(cond_of(&f, "a")->message, "no IPAddressPool is configured");
        assert_true(metric(&f, "metallb_allocator_addresses_total", "pool", "p") == -1);
        fixture_stop(&f);
}

/* An invalid change keeps the last valid configuration (§3). */
static void test_invalid_config_keeps_last_valid(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f, POOL("[192.0.2.0/30]", "") SVC("a", "2025-01-02T00:00:00Z", "10.96.0.1", NONE, ""), NULL);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.0");
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p", "{\"spec\":{\"addresses\":[\"192.0.2.0/33\"]}}");
        assert_string_equal(event_note(&f, "p", "ConfigInvalid"),
                            "parsing address pool p: invalid CIDR \"192.0.2.0/33\" in pool \"p\": invalid CIDR "
                            "\"192.0.2.0/33\"");
        assert_true(metric(&f, "metallb_k8s_client_config_stale_bool", NULL, NULL) == 1);
        assert_true(metric(&f, "metallb_k8s_client_config_loaded_bool", NULL, NULL) == 1);
        /* a new Service still gets an address of the last valid pool */
        assert_int_equal(source_create(f.inner, &kube_kind_service, "default",
                                       "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"b\"},"
                                       "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.2\","
                                       "\"ports\":[{\"port\":80}]}}",
                                       NULL, NULL),
                         0);
        run(&f);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.0");
        assert_string_equal(ips_of(&f, "b"), "192.0.2.1");
        /* fixed: valid again, not stale */
        user_write(&f, &kube_kind_ipaddresspool, "berth-system", "p", "{\"spec\":{\"addresses\":[\"192.0.2.0/30\"]}}");
        assert_true(metric(&f, "metallb_k8s_client_config_stale_bool", NULL, NULL) == 0);
        assert_int_equal(events(&f, "p", "ConfigInvalid", NULL), 1);
        fixture_stop(&f);
}

/* No valid configuration yet: nothing is reconciled or written. */
static void test_nothing_before_valid_config(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f, POOL("[192.0.2.0/33]", "") SVC("a", "2025-01-02T00:00:00Z", "10.96.0.1", HOLDS("203.0.113.9"), ""),
                      NULL);
        assert_string_equal(ips_of(&f, "a"), "203.0.113.9");
        assert_null(cond_of(&f, "a"));
        assert_int_equal(f.src->status_writes, 0);
        assert_true(metric(&f, "metallb_k8s_client_config_loaded_bool", NULL, NULL) == 0);
        assert_true(metric(&f, "metallb_k8s_client_config_stale_bool", NULL, NULL) == 1);
        assert_int_equal(events(&f, "p", "ConfigInvalid", NULL), 1);
        fixture_stop(&f);
}

/* §4: a Service of another class is never touched; --lb-class selects. */
static void test_other_class_untouched(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f,
                      POOL("[192.0.2.0/30]", "")
                      SVC("mine", "2025-01-02T00:00:00Z", "10.96.0.1", NONE, ", loadBalancerClass: berth")
                      SVC("theirs", "2025-01-01T00:00:00Z", "10.96.0.2", HOLDS("203.0.113.9"), "")
                      SVC("other", "2025-01-01T00:00:00Z", "10.96.0.3", NONE, ", loadBalancerClass: other"),
                      "berth");
        assert_string_equal(ips_of(&f, "mine"), "192.0.2.0");
        assert_string_equal(ips_of(&f, "theirs"), "203.0.113.9");
        assert_null(cond_of(&f, "theirs"));
        assert_string_equal(ips_of(&f, "other"), "");
        assert_null(cond_of(&f, "other"));
        assert_int_equal(events(&f, "theirs", NULL, NULL) + events(&f, "other", NULL, NULL), 0);
        assert_int_equal(f.src->status_writes, 1);
        fixture_stop(&f);
}

/* §10: a 409 re-reads the Service and reruns; one event, labels kept. */
static void test_conflict_reruns(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f, POOL("[192.0.2.0/30]", ""), NULL);
        f.src->conflict_next_status_write = true;
        assert_int_equal(source_create(f.inner, &kube_kind_service, "default",
                                       "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"},"
                                       "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.1\","
                                       "\"ports\":[{\"port\":80}]}}",
                                       NULL, NULL),
                         0);
        run(&f);
        assert_int_equal(f.src->status_writes, 2);
        assert_string_equal(ips_of(&f, "a"), "192.0.2.0");
        assert_string_equal(strmap_get(&get(&f, "a")->object.meta.labels, "touched"), "yes");
        assert_int_equal(events(&f, "a", "IPAllocated", NULL), 1);
        fixture_stop(&f);
}

/* §13.8: sorted holders, at most 20, then "and <N> more". */
static void test_dropped_note(void **state) {
        LbDropped d[23] = {};
        char names[23][16], *note;
        (void) state;
        for (size_t i = 0; i < 23; i++) {
                snprintf(names[i], sizeof names[i], "ns/s%02zu", i);
                d[i] = (LbDropped) { .service = names[i], .pool = (char *) "p", .n_ips = 1 };
                assert_int_equal(ip_addr_parse("192.0.2.9", &d[i].ips[0]), 0);
        }
        note = lbipam_dropped_note(d, 1);
        assert_string_equal(note, "pool p change releases IPs in use by: ns/s00 (192.0.2.9)");
        free(note);
        d[0].n_ips = 2;
        assert_int_equal(ip_addr_parse("2001:db8::9", &d[0].ips[1]), 0);
        d[0].pool_deleted = d[1].pool_deleted = true;
        note = lbipam_dropped_note(d, 2);
        assert_string_equal(note,
                            "pool p deleted while IPs were in use by: ns/s00 (192.0.2.9, 2001:db8::9), ns/s01 (192.0.2.9)");
        free(note);
        d[0].pool_deleted = false;
        note = lbipam_dropped_note(d, 23);
        assert_non_null(strstr(note, ", ns/s19 (192.0.2.9) and 3 more"));
        assert_null(strstr(note, "ns/s20"));
        free(note);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restart_keeps_holders),
                cmocka_unit_test(test_shrink_drops_and_renumbers),
                cmocka_unit_test(test_invalid_config_keeps_last_valid),
                cmocka_unit_test(test_nothing_before_valid_config),
                cmocka_unit_test(test_other_class_untouched),
                cmocka_unit_test(test_conflict_reruns),
                cmocka_unit_test(test_dropped_note),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
