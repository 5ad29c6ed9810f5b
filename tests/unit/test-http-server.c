/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics/health endpoint, exercised with a real HTTP client (libcurl)
 * on loopback.  The client runs in a thread of the test so that the main
 * thread can run the event loop the server depends on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http_server.h"

/* ---- address parsing ----------------------------------------------------- */

static void test_bind_address_parse(void **state _unused_) {
        static const struct {
                const char *in;
                int ret;
                bool disabled;
                int family;
                uint16_t port;
        } t[] = {
                { "0", 0, true, 0, 0 },
                { "127.0.0.1:8080", 0, false, AF_INET, 8080 },
                { "0.0.0.0:0", 0, false, AF_INET, 0 },
                { "[::1]:9090", 0, false, AF_INET6, 9090 },
                { ":7472", 0, false, AF_INET6, 7472 },
                { "127.0.0.1", -EINVAL, false, 0, 0 },
                { "127.0.0.1:", -EINVAL, false, 0, 0 },
                { "127.0.0.1:65536", -EINVAL, false, 0, 0 },
                { "127.0.0.1:-1", -EINVAL, false, 0, 0 },
                { "127.0.0.1:80x", -EINVAL, false, 0, 0 },
                { "300.0.0.1:80", -EINVAL, false, 0, 0 },
                { "localhost:80", -EINVAL, false, 0, 0 },
                { "::1:80", -EINVAL, false, 0, 0 },
                { "[::1]80", -EINVAL, false, 0, 0 },
                { "[::1:80", -EINVAL, false, 0, 0 },
                { "[1.2.3.4]:80", -EINVAL, false, 0, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                bool disabled = false;
                const char *why = NULL;
                int r = http_bind_address_parse(t[i].in, &ss, &len, &disabled, &why);
                if (r != t[i].ret)
                        fail_msg("%s: got %d, want %d", t[i].in, r, t[i].ret);
                if (r < 0) {
                        assert_non_null(why);
                        continue;
                }
                assert_int_equal(disabled, t[i].disabled);
                if (disabled)
                        continue;
                assert_int_equal(ss.ss_family, t[i].family);
                assert_int_equal(ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                                               : ((struct sockaddr_in6 *) &ss)->sin6_port),
                                 t[i].port);
        }
}

/* ---- a client thread ----------------------------------------------------- */

typedef struct Reply {
        long code;
        char body[4096];
        size_t len;
        char content_type[128];
} Reply;

typedef struct Client {
        char base[64];
        const char *paths[8];
        const char *methods[8];
        usec_t pause_before[8];
        size_t n;
        Reply replies[8];
        int done_fd;            /* written when the thread is done */
} Client;

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        Reply *r = userdata;
        size_t k = size * n;
        if (r->len + k >= sizeof(r->body))
                k = sizeof(r->body) - r->len - 1;
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = 0;
        return size * n;
}

static void *client_thread(void *userdata) {
        Client *c = userdata;
        for (size_t i = 0; i < c->n; i++) {
                CURL *h = curl_easy_init();
                char url[128];
                char *ct = NULL;
                if (c->pause_before[i])
                        usleep((useconds_t) c->pause_before[i]);
                snprintf(url, sizeof(url), "%s%s", c->base, c->paths[i]);
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->replies[i]);
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                if (c->methods[i])
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->methods[i]);
                if (curl_easy_perform(h) == CURLE_OK) {
                        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->replies[i].code);
                        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
                                snprintf(c->replies[i].content_type, sizeof(c->replies[i].content_type), "%s", ct);
                }
                curl_easy_cleanup(h);
        }
        if (write(c->done_fd, "x", 1) != 1)
                abort();
        return NULL;
}

static int on_client_done(sd_event_source *s, int fd _unused_, uint32_t revents _unused_, void *userdata _unused_) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Runs the client thread against the server; with run_loop false the loop
 * is not run meanwhile (a stuck loop). */
static void run_client(sd_event *e, Client *c, bool run_loop) {
        int p[2];
        pthread_t t;
        sd_event_source *src = NULL;

        assert_int_equal(pipe(p), 0);
        c->done_fd = p[1];
        assert_int_equal(pthread_create(&t, NULL, client_thread, c), 0);
        if (run_loop) {
                assert_int_equal(sd_event_add_io(e, &src, p[0], EPOLLIN, on_client_done, NULL), 0);
                assert_int_equal(sd_event_loop(e), 0);
                sd_event_source_unref(src);
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        close(p[0]);
        close(p[1]);
}

typedef struct Readiness {
        bool ready;
        int calls;
} Readiness;

static bool ready_fn(void *userdata, char **ret_reason) {
        Readiness *r = userdata;
        r->calls++;
        if (!r->ready)
                *ret_reason = strdup("informers not synced: Pod, Service");
        return r->ready;
}

static void test_endpoints(void **state _unused_) {
        MetricsRegistry *m = NULL;
        MetricFamily *g;
        HttpServer *s = NULL;
        Readiness rd = {};
        Client c = {};
        sd_event *e = NULL;

        assert_int_equal(metrics_registry_new(&m), 0);
        assert_int_equal(metrics_gauge(m, "berth_controller_leader", "1 when leading.", NULL, &g), 0);
        assert_int_equal(metric_set(g, NULL, 1), 0);
        assert_int_equal(sd_event_new(&e), 0);
        HttpServerOptions o = { .bind_address = "127.0.0.1:0", .metrics = m, .ready = ready_fn,
                                .ready_userdata = &rd };
        assert_int_equal(http_server_new(e, &o, &s), 0);
        assert_non_null(s);
        assert_true(http_server_port(s) > 0);

        snprintf(c.base, sizeof(c.base), "http://127.0.0.1:%u", http_server_port(s));
        const char *paths[] = { "/healthz", "/readyz", "/metrics", "/nope", "/healthz", "/readyz" };
        memcpy(c.paths, paths, sizeof(paths));
        c.methods[4] = "POST";
        c.pause_before[5] = 1100 * USEC_PER_MSEC; /* past the snapshot's one second */
        c.n = ELEMENTSOF(paths);
        run_client(e, &c, true);

        assert_int_equal(c.replies[0].code, 200);
        assert_string_equal(c.replies[0].body, "ok\n");
        assert_int_equal(c.replies[1].code, 503);
        assert_string_equal(c.replies[1].body, "informers not synced: Pod, Service\n");
        assert_int_equal(c.replies[2].code, 200);
        assert_string_equal(c.replies[2].content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert_non_null(strstr(c.replies[2].body, "# TYPE berth_controller_leader gauge\nberth_controller_leader 1\n"));
        assert_int_equal(c.replies[3].code, 404);
        assert_int_equal(c.replies[4].code, 405);
        assert_int_equal(c.replies[5].code, 503);
        /* Five quick requests and one after a second: the loop was asked
         * three times (heartbeat, metrics, and after the pause; four on a slow machine). */
        assert_in_range(http_server_refreshes(s), 3, 4);
        assert_int_equal(rd.calls, (int) http_server_refreshes(s));

        /* Ready once the callback says so (after the snapshot ages). */
        memset(&c.replies, 0, sizeof(c.replies));
        rd.ready = true;
        const char *paths2[] = { "/readyz" };
        memcpy(c.paths, paths2, sizeof(paths2));
        memset(c.methods, 0, sizeof(c.methods));
        c.pause_before[0] = 1100 * USEC_PER_MSEC;
        c.n = 1;
        e = sd_event_unref(e);
        /* A fresh loop object cannot take the old server's sources: make a new server. */
        http_server_free(s);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_server_new(e, &o, &s), 0);
        snprintf(c.base, sizeof(c.base), "http://127.0.0.1:%u", http_server_port(s));
        run_client(e, &c, true);
        assert_int_equal(c.replies[0].code, 200);
        assert_string_equal(c.replies[0].body, "ok\n");

        http_server_free(s);
        sd_event_unref(e);
        metrics_registry_free(m);
}

static void test_stuck_loop(void **state _unused_) {
        HttpServer *s = NULL;
        Client c = {};
        sd_event *e = NULL;
        HttpServerOptions o = { .bind_address = "127.0.0.1:0", .loop_timeout = 200 * USEC_PER_MSEC };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_server_new(e, &o, &s), 0);
        snprintf(c.base, sizeof(c.base), "http://127.0.0.1:%u", http_server_port(s));
        c.paths[0] = "/healthz";
        c.paths[1] = "/metrics";
        c.n = 2;
        run_client(e, &c, false); /* nobody runs the loop */
        assert_int_equal(c.replies[0].code, 503);
        assert_string_equal(c.replies[0].body, "event loop not responding\n");
        assert_int_equal(c.replies[1].code, 503);
        http_server_free(s);
        sd_event_unref(e);
}

static void test_ipv6_and_disabled(void **state _unused_) {
        HttpServer *s = NULL;
        Client c = {};
        sd_event *e = NULL;
        HttpServerOptions o = { .bind_address = "[::1]:0" };
        int r;

        assert_int_equal(sd_event_new(&e), 0);
        r = http_server_new(e, &o, &s);
        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
                sd_event_unref(e);
                skip(); /* no IPv6 loopback in this sandbox */
        }
        assert_int_equal(r, 0);
        snprintf(c.base, sizeof(c.base), "http://[::1]:%u", http_server_port(s));
        c.paths[0] = "/healthz";
        c.n = 1;
        run_client(e, &c, true);
        assert_int_equal(c.replies[0].code, 200);
        http_server_free(s);

        o.bind_address = "0";
        s = (HttpServer *) 1;
        assert_int_equal(http_server_new(e, &o, &s), 0);
        assert_null(s);
        o.bind_address = "nonsense";
        assert_int_equal(http_server_new(e, &o, &s), -EINVAL);
        sd_event_unref(e);
}

static void test_address_in_use(void **state _unused_) {
        HttpServer *a = NULL, *b = NULL;
        sd_event *e = NULL;
        char addr[64];
        HttpServerOptions o = { .bind_address = "127.0.0.1:0" };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_server_new(e, &o, &a), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", http_server_port(a));
        o.bind_address = addr;
        assert_int_equal(http_server_new(e, &o, &b), -EADDRINUSE);
        http_server_free(a);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bind_address_parse),
                cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_stuck_loop),
                cmocka_unit_test(test_ipv6_and_disabled),
                cmocka_unit_test(test_address_in_use),
        };
        int r;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return r;
}
