/* SPDX-License-Identifier: Apache-2.0 */
/* The API client against the real apiserver: credentials (a rotated token
 * file is picked up, a client certificate works), and writes with
 * optimistic concurrency (409 Conflict surfaces as such; re-reading and
 * retrying succeeds and keeps the other writer's change). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "http.h"
#include "itest-kube.h"
#include "itest.h"
#include "service.h"
#include "source.h"

typedef struct Fixture {
        ITestEnv *env;
        sd_event *event;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || sd_event_new(&f->event) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        sd_event_unref(f->event);
        itest_env_free(f->env);
        free(f);
        return 0;
}

typedef struct Call {
        bool done;
        int error;
        long code;
        char *reason;
} Call;

static void call_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        Call *c = userdata;

        (void) req;
        c->done = true;
        c->error = error;
        c->code = resp ? resp->http_code : 0;
        if (resp && resp->status && resp->status->reason)
                c->reason = strdup(resp->status->reason);
}

static bool call_finished(void *userdata) {
        return ((Call *) userdata)->done;
}

/* GET path with the client; returns the HTTP code (0 on transport failure). */
static long get_code(Fixture *f, KubeClient *client, const char *path) {
        Call c = {};
        KubeRequestOptions o = { .method = "GET", .path = path, .on_done = call_done, .userdata = &c };

        assert_int_equal(kube_request(client, &o, NULL), 0);
        assert_int_equal(itest_run_until(f->event, call_finished, &c, 30 * USEC_PER_SEC), 0);
        free(c.reason);
        return c.code;
}

static void write_file(const char *path, const char *content) {
        _cleanup_free_ char *tmp = NULL;
        FILE *fp;

        /* As the kubelet does for projected tokens: a new file renamed over. */
        assert_true(asprintf(&tmp, "%s.new", path) > 0);
        fp = fopen(tmp, "we");
        assert_non_null(fp);
        fputs(content, fp);
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(rename(tmp, path), 0);
}

static void test_token_file_rotation(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *token_file = NULL, *kc = NULL;
        KubeConfig *config = NULL;
        KubeClient *client = NULL;
        const char *dir = itest_env_get(f->env, "BERTH_ENVTEST_DIR");
        const char *path = "/api/v1/namespaces/default/services";

        assert_true(asprintf(&token_file, "%s/rotating-token", dir) > 0);
        assert_true(asprintf(&kc, "%s/kubeconfig-token-file", dir) > 0);
        write_file(token_file, itest_env_get(f->env, "BERTH_TOKEN_ADMIN"));
        assert_int_equal(itest_write_kubeconfig(kc, itest_env_get(f->env, "BERTH_APISERVER_URL"),
                                                itest_env_get(f->env, "BERTH_CA_FILE"), NULL, token_file),
                         0);
        assert_int_equal(itest_kube_client(f->env, f->event, kc, &config, &client), 0);

        assert_int_equal(get_code(f, client, path), 200);
        /* The same client, the file now holds a user without RBAC rights:
         * 403 proves the new token was sent. */
        write_file(token_file, itest_env_get(f->env, "BERTH_TOKEN_NOBODY"));
        assert_int_equal(get_code(f, client, path), 403);
        /* A token file with a trailing newline (as most tools write them). */
        {
                _cleanup_free_ char *nl = NULL;
                assert_true(asprintf(&nl, "%s\n", itest_env_get(f->env, "BERTH_TOKEN_ADMIN")) > 0);
                write_file(token_file, nl);
        }
        assert_int_equal(get_code(f, client, path), 200);
        /* An unknown token: 401. */
        write_file(token_file, "0123456789abcdef0123456789abcdef");
        assert_int_equal(get_code(f, client, path), 401);

        kube_client_free(client);
        kube_config_free(config);
}

static void test_client_certificate(void **state) {
        Fixture *f = *state;
        _cleanup_(kube_config_freep) KubeConfig *config = NULL;
        _cleanup_free_ char *error = NULL;
        KubeClient *client = NULL;

        /* The envtest kubeconfig's second context: admin by client certificate. */
        assert_int_equal(kube_config_load_file(itest_env_get(f->env, "KUBECONFIG"), "envtest-cert", &config, &error),
                         0);
        assert_null(config->token);
        assert_int_equal(kube_client_new(f->event, config, NULL, &client), 0);
        assert_int_equal(get_code(f, client, "/api/v1/namespaces/default"), 200);
        kube_client_free(client);
}

typedef struct Write {
        bool done;
        int error;
        long http_code;
        char *reason;
        char *stored_rv;
} Write;

static void write_done(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        Write *w = userdata;

        w->done = true;
        w->error = error;
        w->http_code = status ? status->http_code : 0;
        if (status && status->reason)
                w->reason = strdup(status->reason);
        if (stored && stored->meta.resource_version)
                w->stored_rv = strdup(stored->meta.resource_version);
}

static bool write_finished(void *userdata) {
        return ((Write *) userdata)->done;
}

static void write_reset(Write *w) {
        free(w->reason);
        free(w->stored_rv);
        *w = (Write) {};
}

typedef struct CacheRV {
        Cache *cache;
        const char *ns, *name, *rv;
} CacheRV;

static bool cache_at_rv(void *userdata) {
        CacheRV *c = userdata;
        KubeObject *o = cache_get(c->cache, c->ns, c->name);
        return o && streq_ptr(o->meta.resource_version, c->rv);
}

static bool cache_has(void *userdata) {
        CacheRV *c = userdata;
        return cache_get(c->cache, c->ns, c->name) != NULL;
}

static char *json_string_field(const char *body, const char *field) {
        char key[64];
        const char *p;

        snprintf(key, sizeof(key), "\"%s\":\"", field);
        p = body ? strstr(body, key) : NULL;
        if (!p)
                return NULL;
        p += strlen(key);
        return strndup(p, strcspn(p, "\""));
}

static void test_conflict_retry_by_rereading(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = itest_unique_name(f->env, "conflict"), *body = NULL, *path = NULL, *resp = NULL,
                            *rv_other = NULL, *patch = NULL;
        KubeConfig *config = NULL;
        KubeClient *client = NULL;
        Source *source = NULL;
        Cache *services = NULL;
        SourceFilter filter = { .namespace = ns };
        Write w = {};
        const char *rv_cached;

        assert_true(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0);
        assert_int_equal(itest_api_ok(f->env, "POST", "/api/v1/namespaces", body, NULL), 0);
        assert_true(asprintf(&path, "/api/v1/namespaces/%s/services", ns) > 0);
        assert_int_equal(itest_api_ok(f->env, "POST", path,
                                      "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":80}]}}", NULL),
                         0);

        assert_int_equal(itest_kube_client(f->env, f->event, NULL, &config, &client), 0);
        assert_int_equal(source_api_new(f->event, client, &source), 0);
        assert_int_equal(source_cache(source, &kube_kind_service, &filter, &services), 0);
        {
                CacheRV c = { services, ns, "s", NULL };
                assert_int_equal(itest_run_until(f->event, cache_has, &c, 20 * USEC_PER_SEC), 0);
        }
        rv_cached = cache_get(services, ns, "s")->meta.resource_version;

        /* Someone else writes first. */
        free(path);
        assert_true(asprintf(&path, "/api/v1/namespaces/%s/services/s", ns) > 0);
        {
                long code = 0;
                assert_int_equal(itest_api(f->env, NULL, "PATCH", path, "application/merge-patch+json",
                                           "{\"metadata\":{\"labels\":{\"other\":\"1\"}}}", &code, &resp),
                                 0);
                assert_int_equal(code, 200);
        }
        rv_other = json_string_field(resp, "resourceVersion");
        assert_non_null(rv_other);

        /* Our write, conditioned on the version we read: 409 Conflict. */
        assert_true(asprintf(&patch, "{\"metadata\":{\"resourceVersion\":\"%s\",\"labels\":{\"mine\":\"1\"}}}",
                             rv_cached) > 0);
        assert_int_equal(source_merge_patch(source, &kube_kind_service, ns, "s", NULL, patch, write_done, &w), 0);
        assert_int_equal(itest_run_until(f->event, write_finished, &w, 30 * USEC_PER_SEC), 0);
        assert_int_equal(w.error, -ESTALE);
        assert_int_equal(w.http_code, 409);
        assert_string_equal(w.reason, "Conflict");
        assert_null(w.stored_rv);
        write_reset(&w);

        /* Re-read (the cache catches up with the other write), retry. */
        {
                CacheRV c = { services, ns, "s", rv_other };
                assert_int_equal(itest_run_until(f->event, cache_at_rv, &c, 20 * USEC_PER_SEC), 0);
        }
        free(patch);
        assert_true(asprintf(&patch, "{\"metadata\":{\"resourceVersion\":\"%s\",\"labels\":{\"mine\":\"1\"}}}",
                             cache_get(services, ns, "s")->meta.resource_version) > 0);
        assert_int_equal(source_merge_patch(source, &kube_kind_service, ns, "s", NULL, patch, write_done, &w), 0);
        assert_int_equal(itest_run_until(f->event, write_finished, &w, 30 * USEC_PER_SEC), 0);
        assert_int_equal(w.error, 0);
        assert_non_null(w.stored_rv);
        assert_string_not_equal(w.stored_rv, rv_other);

        /* Both changes are there: nothing was overwritten blindly. */
        free(resp);
        resp = NULL;
        assert_int_equal(itest_api_ok(f->env, "GET", path, NULL, &resp), 0);
        assert_non_null(strstr(resp, "\"other\":\"1\""));
        assert_non_null(strstr(resp, "\"mine\":\"1\""));
        {
                CacheRV c = { services, ns, "s", w.stored_rv };
                assert_int_equal(itest_run_until(f->event, cache_at_rv, &c, 20 * USEC_PER_SEC), 0);
                assert_string_equal(strmap_get(&cache_get(services, ns, "s")->meta.labels, "mine"), "1");
                assert_string_equal(strmap_get(&cache_get(services, ns, "s")->meta.labels, "other"), "1");
        }
        write_reset(&w);

        source_free(source);
        kube_client_free(client);
        kube_config_free(config);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_token_file_rotation),
                cmocka_unit_test(test_client_certificate),
                cmocka_unit_test(test_conflict_retry_by_rereading),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
