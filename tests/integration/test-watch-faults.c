/* SPDX-License-Identifier: Apache-2.0 */
/* The informer under transport faults, against the real apiserver behind
 * the fault proxy (design.md "The Kubernetes client must"):
 *   - a dropped stream resumes from the last resourceVersion: no event is
 *     missed and none is delivered twice;
 *   - a silent stream (the proxy stops forwarding) is detected by the idle
 *     timer and replaced;
 *   - the apiserver stopped and restarted: the informer comes back by itself;
 *   - 410 Gone (etcd compacted while the client was away): relist, and the
 *     handlers see exactly the difference.
 * Runs on a control plane of its own (it restarts the apiserver). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "informer.h"
#include "itest-kube.h"
#include "itest.h"
#include "lease_object.h"

typedef struct Fixture {
        ITestEnv *env;
        sd_event *event;
        ITestProxy *proxy;
        KubeConfig *config;
        KubeClient *client; /* through the proxy */
        char *kubeconfig;
} Fixture;

typedef struct Test {
        Fixture *f;
        char *ns;
        Cache *cache;
        Informer *informer;
        Recorder rec;
} Test;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || sd_event_new(&f->event) < 0 ||
            itest_proxy_start(f->env, &f->proxy) < 0 ||
            asprintf(&f->kubeconfig, "%s/kubeconfig-faults", itest_env_get(f->env, "BERTH_ENVTEST_DIR")) < 0 ||
            itest_write_kubeconfig(f->kubeconfig, f->proxy->url, itest_env_get(f->env, "BERTH_CA_FILE"),
                                   itest_env_get(f->env, "BERTH_TOKEN_ADMIN"), NULL) < 0 ||
            itest_kube_client(f->env, f->event, f->kubeconfig, &f->config, &f->client) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        kube_client_free(f->client);
        kube_config_free(f->config);
        itest_proxy_stop(f->proxy);
        sd_event_unref(f->event);
        itest_env_free(f->env);
        free(f->kubeconfig);
        free(f);
        return 0;
}

/* Before each test: the proxy forwards normally, whatever the last test
 * left behind when it failed. */
static int proxy_normal(void **state) {
        Fixture *f = *state;
        return itest_proxy_send(f->proxy, "normal", NULL) < 0 ? -1 : 0;
}

static char *lease_collection(const char *ns) {
        char *p;
        assert_true(asprintf(&p, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", ns) > 0);
        return p;
}

static void lease_create(Test *t, const char *name) {
        _cleanup_free_ char *coll = lease_collection(t->ns), *body = NULL;

        assert_true(asprintf(&body,
                             "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"step\":\"0\"}},"
                             "\"spec\":{\"holderIdentity\":\"h\"}}",
                             name) > 0);
        assert_int_equal(itest_api_ok(t->f->env, "POST", coll, body, NULL), 0);
}

static void lease_set_step(Test *t, const char *name, unsigned step) {
        _cleanup_free_ char *coll = lease_collection(t->ns), *path = NULL, *body = NULL;
        long code = 0;

        assert_true(asprintf(&path, "%s/%s", coll, name) > 0);
        assert_true(asprintf(&body, "{\"metadata\":{\"labels\":{\"step\":\"%u\"}}}", step) > 0);
        assert_int_equal(itest_api(t->f->env, NULL, "PATCH", path, "application/merge-patch+json", body, &code, NULL),
                         0);
        assert_int_equal(code, 200);
}

static void lease_delete(Test *t, const char *name) {
        _cleanup_free_ char *coll = lease_collection(t->ns), *path = NULL;

        assert_true(asprintf(&path, "%s/%s", coll, name) > 0);
        assert_int_equal(itest_api_ok(t->f->env, "DELETE", path, NULL, NULL), 0);
}

static bool synced(void *userdata) {
        return informer_synced(((Test *) userdata)->informer);
}

/* A namespace, n leases lease-0..n-1, and a synced informer on them. */
static void test_begin(Test *t, Fixture *f, unsigned n, const InformerOptions *opts) {
        _cleanup_free_ char *body = NULL;
        SourceFilter filter = {};

        *t = (Test) { .f = f, .rec = { .label_key = "step" } };
        t->ns = itest_unique_name(f->env, "faults");
        assert_true(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", t->ns) > 0);
        assert_int_equal(itest_api_ok(f->env, "POST", "/api/v1/namespaces", body, NULL), 0);
        for (unsigned k = 0; k < n; k++) {
                char name[32];
                snprintf(name, sizeof(name), "lease-%u", k);
                lease_create(t, name);
        }
        filter.namespace = t->ns;
        assert_int_equal(cache_new(&kube_kind_lease, &t->cache), 0);
        recorder_attach(&t->rec, t->cache);
        assert_int_equal(informer_new(f->event, f->client, &kube_kind_lease, &filter, t->cache, opts, &t->informer), 0);
        assert_int_equal(informer_start(t->informer), 0);
        if (itest_run_until(f->event, synced, t, 20 * USEC_PER_SEC) < 0)
                fail_msg("informer not synced: %s", strempty(informer_last_error(t->informer)));
        assert_int_equal(cache_size(t->cache), n);
        recorder_clear(&t->rec);
}

static void test_end(Test *t) {
        informer_free(t->informer);
        cache_free(t->cache);
        recorder_clear(&t->rec);
        free(t->ns);
}

typedef struct Expect {
        Test *t;
        const char *name;
        const char *step; /* NULL: expect the object absent */
} Expect;

static bool cache_has(void *userdata) {
        Expect *x = userdata;
        KubeObject *o = cache_get(x->t->cache, x->t->ns, x->name);

        if (!x->step)
                return !o;
        return o && streq_ptr(strmap_get(&o->meta.labels, "step"), x->step);
}

static void wait_cache(Test *t, const char *name, const char *step, usec_t timeout) {
        Expect x = { t, name, step };
        if (itest_run_until(t->f->event, cache_has, &x, timeout) < 0) {
                recorder_dump(&t->rec, "handler calls");
                fail_msg("cache never showed %s/%s %s%s (last error: %s)", t->ns, name, step ? "step=" : "absent",
                         strempty(step), strempty(informer_last_error(t->informer)));
        }
}

static void test_drop_resumes_without_loss(void **state) {
        Fixture *f = *state;
        InformerOptions opts = { .backoff_initial = 100 * USEC_PER_MSEC, .backoff_max = USEC_PER_SEC };
        Test t;
        InformerStats st;
        unsigned steps[4] = {}, cuts = 0;
        char want[128];

        test_begin(&t, f, 4, &opts);

        /* 40 changes; the stream is cut after every 8th.  Changes go straight
         * to the apiserver, so some happen while the informer is away. */
        for (unsigned k = 1; k <= 40; k++) {
                char name[32];
                snprintf(name, sizeof(name), "lease-%u", k % 4);
                lease_set_step(&t, name, k);
                steps[k % 4] = k;
                if (k % 8 == 0) {
                        _cleanup_free_ char *answer = NULL;
                        assert_int_equal(itest_proxy_send(f->proxy, "drop", &answer), 0);
                        /* A drop between two watches cuts nothing. */
                        cuts += !streq(answer, "ok dropped=0");
                }
                assert_int_equal(itest_run_for(f->event, 20 * USEC_PER_MSEC), 0);
        }
        for (unsigned j = 0; j < 4; j++) {
                char name[32], step[16];
                snprintf(name, sizeof(name), "lease-%u", j);
                snprintf(step, sizeof(step), "%u", steps[j]);
                wait_cache(&t, name, step, 20 * USEC_PER_SEC);
        }

        /* Every change exactly once, in order: a resume from the wrong
         * resourceVersion would repeat or skip some. */
        if (t.rec.n != 40) {
                recorder_dump(&t.rec, "handler calls");
                fail_msg("%zu handler calls for 40 changes", t.rec.n);
        }
        for (unsigned k = 1; k <= 40; k++) {
                snprintf(want, sizeof(want), "update %s/lease-%u step=%u", t.ns, k % 4, k);
                if (!streq(t.rec.lines[k - 1], want)) {
                        recorder_dump(&t.rec, "handler calls");
                        fail_msg("call %u is \"%s\", expected \"%s\"", k, t.rec.lines[k - 1], want);
                }
        }
        informer_get_stats(t.informer, &st);
        fprintf(stderr,
                "drop: %u streams cut; watches %" PRIu64 ", restarts %" PRIu64 ", relists %" PRIu64 ", events %" PRIu64
                "\n",
                cuts, st.watches, st.restarts, st.relists, st.events);
        assert_true(cuts >= 1);
        assert_true(st.watches >= 1 + cuts); /* the first + one per cut stream */
        assert_int_equal(st.relists, 0); /* resumed, never relisted */
        assert_int_equal(st.events, 40);
        test_end(&t);
}

static void test_silent_stream_detected_by_idle_timer(void **state) {
        Fixture *f = *state;
        InformerOptions opts = { .idle_timeout = 2 * USEC_PER_SEC, .backoff_initial = 100 * USEC_PER_MSEC,
                                 .backoff_max = USEC_PER_SEC };
        _cleanup_free_ char *answer = NULL;
        InformerStats before, after;
        Test t;
        usec_t t0, dt;

        test_begin(&t, f, 1, &opts);
        assert_int_equal(itest_run_for(f->event, 300 * USEC_PER_MSEC), 0); /* the watch is open */
        informer_get_stats(t.informer, &before);

        /* Silence: the open connection stays up but carries nothing more. */
        assert_int_equal(itest_proxy_send(f->proxy, "pause", &answer), 0);
        assert_string_not_equal(answer, "ok paused=0");
        t0 = now_usec(CLOCK_MONOTONIC);
        lease_set_step(&t, "lease-0", 7);
        wait_cache(&t, "lease-0", "7", 15 * USEC_PER_SEC);
        dt = now_usec(CLOCK_MONOTONIC) - t0;

        informer_get_stats(t.informer, &after);
        fprintf(stderr, "silent stream: change seen after %" PRIu64 " ms, idle restarts %" PRIu64 "\n",
                dt / USEC_PER_MSEC, after.idle_restarts - before.idle_restarts);
        assert_true(after.idle_restarts > before.idle_restarts);
        /* Not through the paused stream: only after the idle timer fired.  Idle
         * time counts from the last byte received, up to ~300 ms before the
         * pause, hence the margin below the 2 s timeout. */
        assert_true(dt >= USEC_PER_SEC);
        assert_int_equal(after.relists, 0);
        assert_int_equal(itest_proxy_send(f->proxy, "resume", NULL), 0);
        test_end(&t);
}

static void test_apiserver_restart(void **state) {
        Fixture *f = *state;
        InformerOptions opts = { .backoff_initial = 100 * USEC_PER_MSEC, .backoff_max = USEC_PER_SEC };
        InformerStats st;
        Test t;

        test_begin(&t, f, 3, &opts);
        assert_int_equal(itest_run_for(f->event, 300 * USEC_PER_MSEC), 0);

        assert_int_equal(itest_apiserver(f->env, "stop"), 0);
        assert_int_equal(itest_run_for(f->event, 2 * USEC_PER_SEC), 0); /* fails, backs off */
        assert_non_null(informer_last_error(t.informer));
        assert_int_equal(itest_apiserver(f->env, "start"), 0);

        /* Changes after the restart arrive without anyone restarting the informer. */
        lease_set_step(&t, "lease-1", 5);
        lease_delete(&t, "lease-2");
        lease_create(&t, "lease-new");
        wait_cache(&t, "lease-1", "5", 20 * USEC_PER_SEC);
        wait_cache(&t, "lease-2", NULL, 20 * USEC_PER_SEC);
        wait_cache(&t, "lease-new", "0", 20 * USEC_PER_SEC);
        assert_non_null(cache_get(t.cache, t.ns, "lease-0"));
        assert_int_equal(cache_size(t.cache), 3);

        informer_get_stats(t.informer, &st);
        fprintf(stderr, "restart: errors %" PRIu64 ", restarts %" PRIu64 ", relists %" PRIu64 "\n", st.errors,
                st.restarts, st.relists);
        assert_true(st.errors >= 1);
        test_end(&t);
}

static void test_gone_relists(void **state) {
        Fixture *f = *state;
        InformerOptions opts = { .backoff_initial = 100 * USEC_PER_MSEC, .backoff_max = 500 * USEC_PER_MSEC };
        _cleanup_free_ char *line = NULL;
        long long rev = 0;
        InformerStats before, after;
        Test t;

        test_begin(&t, f, 3, &opts);
        assert_int_equal(itest_run_for(f->event, 300 * USEC_PER_MSEC), 0);
        informer_get_stats(t.informer, &before);

        /* Away: new connections are refused and the open stream is cut. */
        assert_int_equal(itest_proxy_send(f->proxy, "refuse", NULL), 0);
        assert_int_equal(itest_proxy_send(f->proxy, "drop", NULL), 0);

        lease_delete(&t, "lease-0");
        lease_set_step(&t, "lease-1", 9);
        lease_create(&t, "lease-3");
        /* History is gone: etcd compacted, and a new apiserver's watch cache
         * starts at the current revision. */
        assert_int_equal(itest_etcd_compact(f->env, &rev), 0);
        assert_int_equal(itest_apiserver(f->env, "restart"), 0);
        assert_int_equal(itest_proxy_send(f->proxy, "normal", NULL), 0);

        wait_cache(&t, "lease-0", NULL, 20 * USEC_PER_SEC);
        wait_cache(&t, "lease-1", "9", 20 * USEC_PER_SEC);
        wait_cache(&t, "lease-3", "0", 20 * USEC_PER_SEC);
        assert_int_equal(cache_size(t.cache), 3);

        informer_get_stats(t.informer, &after);
        fprintf(stderr, "410: relists %" PRIu64 ", lists %" PRIu64 "\n", after.relists, after.lists);
        assert_true(after.relists > before.relists);

        /* The relist fired handlers for the difference only, once each. */
        if (t.rec.n != 3) {
                recorder_dump(&t.rec, "handler calls");
                fail_msg("%zu handler calls for 3 changes", t.rec.n);
        }
        assert_true(asprintf(&line, "delete %s/lease-0 step=0", t.ns) > 0);
        assert_int_equal(recorder_count(&t.rec, line), 1);
        free(line);
        assert_true(asprintf(&line, "update %s/lease-1 step=9", t.ns) > 0);
        assert_int_equal(recorder_count(&t.rec, line), 1);
        free(line);
        line = NULL;
        assert_true(asprintf(&line, "add %s/lease-3 step=0", t.ns) > 0);
        assert_int_equal(recorder_count(&t.rec, line), 1);
        test_end(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_drop_resumes_without_loss, proxy_normal),
                cmocka_unit_test_setup(test_silent_stream_detected_by_idle_timer, proxy_normal),
                cmocka_unit_test_setup(test_apiserver_restart, proxy_normal),
                cmocka_unit_test_setup(test_gone_relists, proxy_normal),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
