/* SPDX-License-Identifier: Apache-2.0 */
/* The endpoints controller's write path against a source whose caches lag
 * behind its writes, as an informer does (endpoints.md §6.6–§6.8, §2):
 * no duplicate POST, the stale-cache rule after PUT, POST and DELETE,
 * write errors as Warning events, 403 NamespaceTerminating as success,
 * deletion only of managed objects, re-take of a foreign object; and, for
 * both endpoints controllers, berth's stale-sync rule: a stale sync is no
 * failure, the key waits for its own write's event (1 s safety net, back
 * to the rate-limited retry after 30 s). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "endpoints_controller.h"
#include "endpoints_reconcile.h"
#include "endpointslice_reconcile.h"
#include "endpointslices.h"
#include "event.h"
#include "pod.h"
#include "service.h"
#include "types-test-util.h"

typedef struct Write {
        char method[8];
        const KubeKind *kind;
        char name[128];
        char *body;
        source_write_fn done;
        void *userdata;
        bool completed;
} Write;

typedef struct FakeSource {
        Source base;
        Cache *caches[4];
        size_t n_caches;
        Write writes[64];
        size_t n_writes;
} FakeSource;

static int fake_cache(Source *s, const KubeKind *kind, const SourceFilter *f, Cache **ret) {
        FakeSource *fs = (FakeSource *) s;
        (void) f;
        for (size_t i = 0; i < fs->n_caches; i++)
                if (cache_kind(fs->caches[i]) == kind) {
                        *ret = fs->caches[i];
                        return 0;
                }
        assert_true(fs->n_caches < 4);
        assert_int_equal(cache_new(kind, &fs->caches[fs->n_caches]), 0);
        *ret = fs->caches[fs->n_caches++];
        return 0;
}

static bool fake_synced(Source *s) {
        (void) s;
        return true;
}

static int fake_write(Source *s, const char *method, const KubeKind *kind, const char *ns, const char *name,
                      const char *sub, const char *ct, const char *body, source_write_fn done, void *userdata) {
        FakeSource *fs = (FakeSource *) s;
        Write *w;
        (void) ns, (void) sub, (void) ct;
        assert_true(fs->n_writes < 64);
        w = &fs->writes[fs->n_writes++];
        snprintf(w->method, sizeof w->method, "%s", method);
        snprintf(w->name, sizeof w->name, "%s", name ? name : "");
        w->kind = kind;
        w->body = body ? strdup(body) : NULL;
        w->done = done;
        w->userdata = userdata;
        return 0;
}

static usec_t fake_now(Source *s) {
        (void) s;
        return 1714557600 * USEC_PER_SEC;
}

static void fake_free(Source *s) {
        FakeSource *fs = (FakeSource *) s;
        for (size_t i = 0; i < fs->n_writes; i++)
                free(fs->writes[i].body);
        for (size_t i = 0; i < fs->n_caches; i++)
                cache_free(fs->caches[i]);
}

static int fake_get(Source *s, const KubeKind *kind, const char *ns, const char *name, source_write_fn done,
                    void *userdata) {
        (void) s, (void) kind, (void) ns, (void) name, (void) done, (void) userdata;
        return -EOPNOTSUPP; /* the controller never reads past its caches */
}

static void fake_cache_release(Source *s, Cache *c) {
        (void) s, (void) c; /* the caches live until fake_free */
}

/* A cancelled write stays recorded but is never answered. */
static void fake_cancel(Source *s, void *userdata) {
        FakeSource *fs = (FakeSource *) s;
        for (size_t i = 0; i < fs->n_writes; i++)
                if (fs->writes[i].userdata == userdata)
                        fs->writes[i].completed = true;
}

static const SourceOps fake_ops = {
        .name = "fake",
        .cache = fake_cache,
        .synced = fake_synced,
        .write = fake_write,
        .now = fake_now,
        .get = fake_get,
        .cache_release = fake_cache_release,
        .cancel = fake_cancel,
        .free = fake_free,
};

typedef struct Fixture {
        FakeSource src;
        StrPool *pool;
        MetricsRegistry *metrics;
        Controller *ctl;
        WorkQueue *q;
        Cache *services, *pods, *endpoints;
        usec_t clock; /* online fixtures: the work queue's clock */
} Fixture;

static KubeObject *decode(Fixture *f, const KubeKind *kind, const char *json) {
        KubeObject *o = NULL;
        _cleanup_free_ char *err = NULL;
        if (decode_text(kind, json, f->pool, &o, &err) < 0)
                fail_msg("decoding %s: %s", json, err ? err : "?");
        return o;
}

static void upsert(Fixture *f, Cache *c, const KubeKind *kind, const char *json) {
        _cleanup_(kube_object_unrefp) KubeObject *o = decode(f, kind, json);
        assert_true(cache_upsert(c, o) >= 0);
}

#define SERVICE_JSON                                                                                         \
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"svc\",\"resourceVersion\":\"1\"},"  \
        "\"spec\":{\"clusterIP\":\"10.96.0.9\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\","  \
        "\"port\":80,\"targetPort\":8080}]}}"
#define POD_JSON(rv, ready)                                                                                   \
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\",\"uid\":\"pod\",\"resourceVersion\":\"" rv "\"," \
        "\"labels\":{\"app\":\"web\"}},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\","            \
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"" ready "\"}]}}"
/* What berth wrote, as the apiserver stores it. */
#define STORED_JSON(rv, nr)                                                                                   \
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"ep\",\"resourceVersion\":\"" rv "\"," \
        "\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller.berth.io\"}},\"subsets\":[{\"" nr \
        "\":[{\"ip\":\"10.0.0.1\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"p\",\"uid\":\"pod\"," \
        "\"resourceVersion\":\"" rv "\"}}],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}]}"

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->src.base.ops = &fake_ops;
        f->pool = strpool_new();
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        ControllerContext ctx = {
                .source = &f->src.base, .metrics = f->metrics, .offline = true, .reporting_instance = "test",
        };
        assert_int_equal(endpoints_controller_init(&ctx, &f->ctl), 0);
        f->q = endpoints_controller_queue(f->ctl);
        assert_int_equal(fake_cache(&f->src.base, &kube_kind_service, NULL, &f->services), 0);
        assert_int_equal(fake_cache(&f->src.base, &kube_kind_pod, NULL, &f->pods), 0);
        assert_int_equal(fake_cache(&f->src.base, &kube_kind_endpoints, NULL, &f->endpoints), 0);
        *state = f;
        return 0;
}

/* Answers what is still in flight: events before the recorder goes,
 * Endpoints writes after the controller went (they must find no controller). */
static void complete_rest(Fixture *f, bool events) {
        KubeStatus st = { .http_code = 0, .message = (char *) "cancelled" };
        for (size_t i = 0; i < f->src.n_writes; i++) {
                Write *w = &f->src.writes[i];
                if (!w->completed && (w->kind == &kube_kind_event) == events) {
                        w->completed = true;
                        w->done(-ECANCELED, &st, NULL, w->userdata);
                }
        }
}

static int teardown(void **state) {
        Fixture *f = *state;
        complete_rest(f, true);
        f->ctl->free(f->ctl);
        complete_rest(f, false);
        fake_free(&f->src.base);
        metrics_registry_free(f->metrics);
        strpool_free(f->pool);
        free(f);
        return 0;
}

/* Runs the queue until nothing is due (virtual time jumps over backoffs). */
static void run(Fixture *f) {
        for (int i = 0; i < 50 && workqueue_run(f->q) > 0; i++)
                ;
}

/* Hands out what is due now, once: a stale retry stays delayed. */
static void step(Fixture *f) {
        (void) workqueue_run(f->q);
}

static size_t writes_of(Fixture *f, const KubeKind *kind, const char *method) {
        size_t n = 0;
        for (size_t i = 0; i < f->src.n_writes; i++)
                n += f->src.writes[i].kind == kind && streq(f->src.writes[i].method, method);
        return n;
}

static Write *last_write(Fixture *f, const KubeKind *kind) {
        for (size_t i = f->src.n_writes; i > 0; i--)
                if (f->src.writes[i - 1].kind == kind)
                        return &f->src.writes[i - 1];
        return NULL;
}

static void complete(Fixture *f, Write *w, int error, const KubeStatus *st, const char *stored_json) {
        _cleanup_(kube_object_unrefp) KubeObject *stored = stored_json ? decode(f, w->kind, stored_json) : NULL;
        (void) f;
        assert_false(w->completed);
        w->completed = true;
        w->done(error, st, stored, w->userdata);
}

static double metric(Fixture *f, const char *family, const char *label) {
        MetricFamily *m = NULL;
        double v = 0;
        const char *const names[] = { "result", NULL };
        const char *const op[] = { "operation", NULL };
        if (metrics_counter(f->metrics, family, "", streq(family, "berth_endpoints_syncs_total") ? names : op, &m) < 0)
                return -1;
        (void) metric_get(m, METRIC_LABELS(label), &v, NULL);
        return v;
}

static void test_stale_cache(void **state) {
        Fixture *f = *state;
        Write *w;

        upsert(f, f->services, &kube_kind_service, SERVICE_JSON);
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("1", "True"));
        assert_int_equal(f->ctl->start(f->ctl), 0);
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "POST"), 1);
        w = last_write(f, &kube_kind_endpoints);
        assert_non_null(strstr(w->body, "\"addresses\":[{\"ip\":\"10.0.0.1\""));
        assert_false(f->ctl->idle(f->ctl)); /* a write in flight */
        complete(f, w, 0, NULL, STORED_JSON("5", "addresses"));
        assert_true(f->ctl->idle(f->ctl));

        /* The cache has not seen the created object yet: no second POST. */
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0);
        step(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "POST"), 1);
        assert_true(metric(f, "berth_endpoints_syncs_total", "stale") >= 1);

        /* Now it has: equal, nothing written. */
        upsert(f, f->endpoints, &kube_kind_endpoints, STORED_JSON("5", "addresses"));
        run(f);
        assert_true(workqueue_idle(f->q));
        assert_int_equal(f->src.n_writes, 1);

        /* The pod turns not ready: one PUT carrying the cached resourceVersion. */
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("2", "False"));
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 1);
        w = last_write(f, &kube_kind_endpoints);
        assert_non_null(strstr(w->body, "\"resourceVersion\":\"5\""));
        assert_non_null(strstr(w->body, "\"notReadyAddresses\""));
        complete(f, w, 0, NULL, STORED_JSON("6", "notReadyAddresses"));

        /* While the cache still shows 5: stale, no PUT. */
        double stale = metric(f, "berth_endpoints_syncs_total", "stale");
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0);
        step(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 1);
        assert_true(metric(f, "berth_endpoints_syncs_total", "stale") > stale);
        upsert(f, f->endpoints, &kube_kind_endpoints, STORED_JSON("6", "notReadyAddresses"));
        run(f);
        assert_true(workqueue_idle(f->q));
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 1);
        assert_int_equal(writes_of(f, &kube_kind_event, "POST"), 0); /* stale is not an error event */
        assert_int_equal(metric(f, "berth_endpoints_changes_total", "create"), 1);
        assert_int_equal(metric(f, "berth_endpoints_changes_total", "update"), 1);

        /* A resync with nothing new writes nothing (§9). */
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0);
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 1);

        /* The Service goes: DELETE (berth's label), then stale until the cache drops it. */
        assert_true(cache_remove(f->services, "shop", "web") >= 0);
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "DELETE"), 1);
        complete(f, last_write(f, &kube_kind_endpoints), 0, NULL, NULL);
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0);
        step(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "DELETE"), 1);
        assert_true(cache_remove(f->endpoints, "shop", "web") >= 0); /* the delete handler enqueues */
        run(f);
        assert_true(workqueue_idle(f->q));
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "DELETE"), 1);
}

static void test_write_errors(void **state) {
        Fixture *f = *state;
        KubeStatus conflict = { .http_code = 409, .reason = (char *) "Conflict",
                                .message = (char *) "the object has been modified" };
        KubeStatus terminating = { .http_code = 403, .reason = (char *) "Forbidden",
                                   .message = (char *) "namespace shop is being terminated",
                                   .cause_reason = (char *) "NamespaceTerminating" };

        upsert(f, f->services, &kube_kind_service, SERVICE_JSON);
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("1", "True"));
        assert_int_equal(f->ctl->start(f->ctl), 0);
        run(f);
        complete(f, last_write(f, &kube_kind_endpoints), -EPERM, &terminating, NULL);
        assert_int_equal(writes_of(f, &kube_kind_event, "POST"), 0); /* success, no event, no retry */
        assert_true(workqueue_idle(f->q));

        /* A foreign object (upstream's label, user labels): re-taken with one PUT. */
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"resourceVersion\":\"9\",\"labels\":{"
               "\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller\"}}}");
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0);
        run(f);
        Write *w = last_write(f, &kube_kind_endpoints);
        assert_string_equal(w->method, "PUT");
        assert_non_null(strstr(w->body, "\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller.berth.io\""));
        complete(f, w, -ESTALE, &conflict, NULL);
        w = last_write(f, &kube_kind_event);
        assert_non_null(w);
        assert_non_null(strstr(w->body, "\"reason\":\"FailedToUpdateEndpoint\""));
        assert_non_null(strstr(w->body, "\"note\":\"Failed to update endpoint shop/web: the object has been modified\""));
        assert_non_null(strstr(w->body, "\"reportingController\":\"berth.io/endpoint-controller\""));
        assert_non_null(strstr(w->body, "\"action\":\"SyncEndpoints\""));
        assert_int_equal(metric(f, "berth_endpoints_syncs_total", "error"), 1);
        /* retried (rate-limited): the PUT goes again */
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 2);
}

static void test_deletion_rules(void **state) {
        Fixture *f = *state;

        /* No Service: berth's and upstream's objects go, unlabelled and foreign ones stay. */
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"a\",\"namespace\":\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller.berth.io\"}}}");
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"b\",\"namespace\":\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller\"}}}");
        upsert(f, f->endpoints, &kube_kind_endpoints, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"shop\"}}");
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"d\",\"namespace\":\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"someone-else\"}}}");
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\",\"annotations\":{\"control-plane.alpha.kubernetes.io/leader\":\"x\"},"
               "\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller\"}}}");
        /* selector-less and ExternalName Services: their Endpoints are left alone */
        upsert(f, f->services, &kube_kind_service, "{\"metadata\":{\"name\":\"f\",\"namespace\":\"shop\"},\"spec\":{}}");
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"f\",\"namespace\":\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller\"}}}");
        upsert(f, f->services, &kube_kind_service,
               "{\"metadata\":{\"name\":\"g\",\"namespace\":\"shop\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.example\",\"selector\":{\"a\":\"b\"}}}");
        assert_int_equal(f->ctl->start(f->ctl), 0);
        run(f);
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "DELETE"), 2);
        assert_int_equal(f->src.n_writes, 2);
        assert_string_equal(f->src.writes[0].name, "a");
        assert_string_equal(f->src.writes[1].name, "b");
        /* 404 counts as done */
        KubeStatus gone = { .http_code = 404 };
        complete(f, &f->src.writes[0], -ENOENT, &gone, NULL);
        assert_int_equal(writes_of(f, &kube_kind_event, "POST"), 0);
}


/* ---- stale syncs wait for berth's own write (both controllers) ------------------------- */

static usec_t fixture_clock(void *userdata) {
        return ((Fixture *) userdata)->clock;
}

/* Online (no virtual time): the test moves the queue's clock itself. */
static int setup_online(void **state, bool slices) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->src.base.ops = &fake_ops;
        f->pool = strpool_new();
        f->clock = 1000 * USEC_PER_SEC;
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        ControllerContext ctx = {
                .source = &f->src.base, .metrics = f->metrics, .reporting_instance = "test",
                .queue_clock = fixture_clock, .queue_clock_userdata = f,
        };
        if (slices)
                assert_int_equal(endpointslice_controller_new(&ctx, &f->ctl), 0);
        else {
                assert_int_equal(endpoints_controller_init(&ctx, &f->ctl), 0);
                f->q = endpoints_controller_queue(f->ctl);
        }
        assert_int_equal(fake_cache(&f->src.base, &kube_kind_service, NULL, &f->services), 0);
        assert_int_equal(fake_cache(&f->src.base, &kube_kind_pod, NULL, &f->pods), 0);
        assert_int_equal(fake_cache(&f->src.base, slices ? &kube_kind_endpointslice : &kube_kind_endpoints, NULL,
                                    &f->endpoints), 0);
        *state = f;
        return 0;
}
static int setup_endpoints_online(void **state) {
        return setup_online(state, false);
}
static int setup_slices_online(void **state) {
        return setup_online(state, true);
}

static double metric_value(Fixture *f, const char *family, const char *label_name, const char *label) {
        MetricFamily *m = NULL;
        double v = 0;
        const char *const names[] = { label_name, NULL };
        if (metrics_counter(f->metrics, family, "", names, &m) < 0)
                return -1;
        (void) metric_get(m, METRIC_LABELS(label), &v, NULL);
        return v;
}

/* The slices' stored object as the apiserver returns it. */
#define SLICE_JSON(gen, rv, ready)                                                                              \
        "{\"metadata\":{\"name\":\"web-x1\",\"namespace\":\"shop\",\"uid\":\"s1\",\"generation\":" gen ","    \
        "\"resourceVersion\":\"" rv "\",\"labels\":{\"kubernetes.io/service-name\":\"web\","                    \
        "\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.berth.io\"},"                  \
        "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\",\"uid\":\"svc\","    \
        "\"controller\":true,\"blockOwnerDeletion\":true}]},\"addressType\":\"IPv4\",\"endpoints\":[{"         \
        "\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":" ready ",\"serving\":" ready ","               \
        "\"terminating\":false},\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"p\","      \
        "\"uid\":\"pod\"}}],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}"

typedef struct StaleCase {
        const char *syncs_family;
        const KubeKind *kind;
        const char *stored_first, *stored_second; /* what the two writes store */
} StaleCase;

static const StaleCase endpoints_case = {
        "berth_endpoints_syncs_total", &kube_kind_endpoints, STORED_JSON("5", "addresses"),
        STORED_JSON("6", "notReadyAddresses"),
};
static const StaleCase slices_case = {
        "endpoint_slice_controller_syncs", &kube_kind_endpointslice, SLICE_JSON("1", "5", "true"),
        SLICE_JSON("2", "6", "false"),
};

static double stale_syncs(Fixture *f, const StaleCase *tc) {
        return metric_value(f, tc->syncs_family, "result", "stale");
}

/* Writes the first object, with a pod event re-adding the key while the
 * write is in flight; the key then runs right after the write returns and
 * finds the cache stale. */
static Write *write_then_stale(Fixture *f, const StaleCase *tc, const char *key) {
        Write *w;
        double stale = stale_syncs(f, tc);

        upsert(f, f->services, &kube_kind_service, SERVICE_JSON);
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("1", "True"));
        assert_int_equal(f->ctl->start(f->ctl), 0);
        if (!f->q)
                f->q = endpointslice_controller_queue(f->ctl);
        step(f);
        w = last_write(f, tc->kind);
        assert_non_null(w);
        assert_string_equal(w->method, "POST");
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("2", "True")); /* an irrelevant pod change */
        assert_int_equal(workqueue_add(f->q, key), 0);
        complete(f, w, 0, NULL, tc->stored_first);
        step(f);
        assert_true(stale_syncs(f, tc) > stale);
        /* Not a failure: no backoff, nothing rate-limited; only the 1 s safety net waits. */
        assert_int_equal(workqueue_num_requeues(f->q, key), 0);
        assert_int_equal(workqueue_len(f->q), 0);
        assert_int_equal(workqueue_delayed(f->q), 1);
        assert_int_equal(workqueue_next_due(f->q), f->clock + USEC_PER_SEC);
        return w;
}

static void stale_wakes_on_event(Fixture *f, const StaleCase *tc) {
        size_t n = f->src.n_writes;

        write_then_stale(f, tc, "shop/web");
        /* The awaited event: the key runs at once, finds everything equal. */
        upsert(f, f->endpoints, tc->kind, tc->stored_first);
        assert_int_equal(workqueue_len(f->q), 1);
        assert_int_equal(workqueue_delayed(f->q), 0);
        double stale = stale_syncs(f, tc);
        step(f);
        assert_true(stale_syncs(f, tc) == stale);
        assert_int_equal(f->src.n_writes, n + 1);
        assert_true(workqueue_idle(f->q));
        assert_true(f->ctl->idle(f->ctl));

        /* A later event of the same object re-adds nothing: the key no longer waits. */
        upsert(f, f->endpoints, tc->kind, tc->stored_second);
        if (tc->kind == &kube_kind_endpoints)
                assert_true(workqueue_idle(f->q));
}

static void test_endpoints_stale_wakes_on_event(void **state) {
        stale_wakes_on_event(*state, &endpoints_case);
}
static void test_slices_stale_wakes_on_event(void **state) {
        stale_wakes_on_event(*state, &slices_case);
}

static void stale_safety_net_and_fallback(Fixture *f, const StaleCase *tc) {
        usec_t start;
        double stale;
        int i;

        write_then_stale(f, tc, "shop/web");
        start = f->clock;
        /* No event: the key runs again after 1 s, not earlier. */
        f->clock += USEC_PER_SEC - 1;
        assert_int_equal(workqueue_run(f->q), 0);
        f->clock += 1;
        stale = stale_syncs(f, tc);
        assert_int_equal(workqueue_run(f->q), 1);
        assert_true(stale_syncs(f, tc) > stale);
        assert_int_equal(workqueue_num_requeues(f->q, "shop/web"), 0);

        /* Stale again and again: after 30 s the rate-limited retry takes over. */
        for (i = 0; i < 40 && workqueue_num_requeues(f->q, "shop/web") == 0; i++) {
                f->clock += USEC_PER_SEC;
                assert_int_equal(workqueue_run(f->q), 1);
        }
        assert_int_equal(workqueue_num_requeues(f->q, "shop/web"), 1);
        assert_true(f->clock - start > 29 * USEC_PER_SEC);
        assert_true(f->clock - start <= 31 * USEC_PER_SEC);
        assert_int_equal(f->src.n_writes, 1);

        /* Once the cache catches up, the retry writes nothing more and forgets the failures. */
        upsert(f, f->endpoints, tc->kind, tc->stored_first);
        for (i = 0; i < 5 && !workqueue_idle(f->q); i++) {
                f->clock += 60 * USEC_PER_SEC;
                (void) workqueue_run(f->q);
        }
        assert_true(workqueue_idle(f->q));
        assert_int_equal(workqueue_num_requeues(f->q, "shop/web"), 0);
        assert_int_equal(f->src.n_writes, 1);
}

static void test_endpoints_stale_safety_net_and_fallback(void **state) {
        stale_safety_net_and_fallback(*state, &endpoints_case);
}
static void test_slices_stale_safety_net_and_fallback(void **state) {
        stale_safety_net_and_fallback(*state, &slices_case);
}

/* A PUT whose event has not come: the event showing the replaced version
 * does not wake the key, the one with the new version does. */
static void test_endpoints_stale_put_wakes_on_new_version(void **state) {
        Fixture *f = *state;
        Write *w;

        write_then_stale(f, &endpoints_case, "shop/web");
        upsert(f, f->endpoints, &kube_kind_endpoints, STORED_JSON("5", "addresses"));
        step(f);
        assert_true(workqueue_idle(f->q));
        upsert(f, f->pods, &kube_kind_pod, POD_JSON("3", "False"));
        step(f);
        w = last_write(f, &kube_kind_endpoints);
        assert_string_equal(w->method, "PUT");
        assert_int_equal(workqueue_add(f->q, "shop/web"), 0); /* a pod event during the write */
        complete(f, w, 0, NULL, STORED_JSON("6", "notReadyAddresses"));
        step(f);
        assert_int_equal(workqueue_num_requeues(f->q, "shop/web"), 0);
        assert_int_equal(workqueue_len(f->q), 0);
        /* an unrelated update still showing version 5 (a relist): still waiting */
        upsert(f, f->endpoints, &kube_kind_endpoints,
               "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"ep\",\"resourceVersion\":\"5\","
               "\"annotations\":{\"x\":\"y\"}}}");
        assert_int_equal(workqueue_len(f->q), 0);
        upsert(f, f->endpoints, &kube_kind_endpoints, STORED_JSON("6", "notReadyAddresses"));
        assert_int_equal(workqueue_len(f->q), 1);
        step(f);
        assert_true(workqueue_idle(f->q));
        assert_int_equal(writes_of(f, &kube_kind_endpoints, "PUT"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stale_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deletion_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_endpoints_stale_wakes_on_event, setup_endpoints_online, teardown),
                cmocka_unit_test_setup_teardown(test_endpoints_stale_safety_net_and_fallback, setup_endpoints_online,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_endpoints_stale_put_wakes_on_new_version, setup_endpoints_online,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_slices_stale_wakes_on_event, setup_slices_online, teardown),
                cmocka_unit_test_setup_teardown(test_slices_stale_safety_net_and_fallback, setup_slices_online,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
