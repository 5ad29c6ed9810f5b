/* SPDX-License-Identifier: Apache-2.0 */
/* The informer's state machine against a real HTTP server on loopback
 * (libmicrohttpd, a thread per connection) that plays a scripted sequence
 * of LIST and WATCH answers: pages, events, bookmarks, dropped and cut
 * streams, 410 both ways, oversized events, idle streams, HTML errors.
 * The client side is the real transport (http.c) on an sd-event loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cache.h"
#include "http.h"
#include "informer.h"
#include "kubeconfig.h"
#include "pod.h"

/* ---- scripted server -------------------------------------------------- */

typedef enum StepEnd {
        END_CLEAN, /* terminating chunk: a normal end of stream */
        END_ABORT, /* connection closed mid-response */
        END_HANG,  /* send nothing more until the test ends */
} StepEnd;

typedef struct Step {
        const char *expect; /* "list" or "watch" */
        unsigned code;
        const char *content_type;
        char *body;
        size_t chunk; /* bytes per write, 0 = all at once */
        StepEnd end;
        unsigned delay_ms; /* pause after the body, before the end */
} Step;

#define MAX_STEPS 64

typedef struct Server {
        struct MHD_Daemon *daemon;
        uint16_t port;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stopping;
        Step steps[MAX_STEPS];
        size_t n_steps;
        size_t next;                 /* requests served */
        char *uris[MAX_STEPS * 2];   /* what each request asked for */
        usec_t times[MAX_STEPS * 2]; /* when it arrived (CLOCK_MONOTONIC) */
        char mismatch[512];
} Server;

typedef struct Stream {
        Server *server;
        const Step *step;
        size_t pos;
        bool delayed;
} Stream;

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *con) {
        (void) cls;
        (void) con;
        return strdup(uri);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        Stream *st = cls;
        const Step *s = st->step;
        size_t len = strlen(s->body);
        (void) pos;

        if (st->pos < len) {
                size_t n = s->chunk > 0 && s->chunk < len - st->pos ? s->chunk : len - st->pos;
                if (n > max)
                        n = max;
                memcpy(buf, s->body + st->pos, n);
                st->pos += n;
                return (ssize_t) n;
        }
        if (s->delay_ms > 0 && !st->delayed) {
                st->delayed = true;
                usleep(s->delay_ms * 1000);
        }
        if (s->end == END_CLEAN)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->end == END_HANG) {
                /* Blocking is fine with a thread per connection. */
                pthread_mutex_lock(&st->server->lock);
                while (!st->server->stopping)
                        pthread_cond_wait(&st->server->cond, &st->server->lock);
                pthread_mutex_unlock(&st->server->lock);
        }
        return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
        static const Step hang = { .expect = "watch", .code = 200, .body = (char *) "", .end = END_HANG };
        Server *srv = cls;
        const char *uri = *con_cls;
        const Step *s;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        (void) url;
        (void) method;
        (void) version;
        (void) upload_data;
        (void) upload_data_size;

        pthread_mutex_lock(&srv->lock);
        size_t k = srv->next++;
        s = k < srv->n_steps ? &srv->steps[k] : &hang;
        if (k < ELEMENTSOF(srv->uris)) {
                srv->uris[k] = strdup(uri ? uri : "");
                srv->times[k] = now_usec(CLOCK_MONOTONIC);
        }
        bool is_watch = uri && strstr(uri, "watch=1");
        if (!srv->mismatch[0] && is_watch != streq(s->expect, "watch"))
                snprintf(srv->mismatch, sizeof srv->mismatch, "request %zu: expected a %s, got %s", k, s->expect,
                         uri ? uri : "(null)");
        pthread_mutex_unlock(&srv->lock);

        if (s->end == END_CLEAN && (!is_watch || s->code != 200)) {
                resp = MHD_create_response_from_buffer(strlen(s->body), s->body, MHD_RESPMEM_MUST_COPY);
        } else {
                Stream *st = calloc(1, sizeof *st);
                assert_non_null(st);
                st->server = srv;
                st->step = s;
                resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, free);
        }
        MHD_add_response_header(resp, "Content-Type", s->content_type ? s->content_type : "application/json");
        ret = MHD_queue_response(con, s->code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void request_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
        (void) cls;
        (void) con;
        (void) toe;
        free(*con_cls);
        *con_cls = NULL;
}

static void server_start(Server *srv) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        pthread_mutex_init(&srv->lock, NULL);
        pthread_cond_init(&srv->cond, NULL);
        srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                                       handle, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                       MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
                                       MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
        assert_non_null(srv->daemon);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        assert_non_null(info);
        srv->port = info->port;
}

static void server_stop(Server *srv) {
        pthread_mutex_lock(&srv->lock);
        srv->stopping = true;
        pthread_cond_broadcast(&srv->cond);
        pthread_mutex_unlock(&srv->lock);
        MHD_stop_daemon(srv->daemon);
        for (size_t i = 0; i < srv->n_steps; i++)
                free(srv->steps[i].body);
        for (size_t i = 0; i < ELEMENTSOF(srv->uris); i++)
                free(srv->uris[i]);
        pthread_cond_destroy(&srv->cond);
        pthread_mutex_destroy(&srv->lock);
}

static size_t server_served(Server *srv) {
        pthread_mutex_lock(&srv->lock);
        size_t n = srv->next;
        pthread_mutex_unlock(&srv->lock);
        return n;
}

static char *strf(const char *fmt, ...) _printf_(1, 2);
static char *strf(const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) >= 0);
        va_end(ap);
        return s;
}

static void add_step(Server *srv, const char *expect, unsigned code, const char *content_type, char *body,
                     size_t chunk, StepEnd end) {
        assert_true(srv->n_steps < MAX_STEPS);
        srv->steps[srv->n_steps++] = (Step) {
                .expect = expect, .code = code, .content_type = content_type, .body = body, .chunk = chunk, .end = end,
        };
}

/* ---- Kubernetes JSON -------------------------------------------------- */

static char *pod_json(const char *name, const char *rv, size_t pad) {
        char *padding = calloc(1, pad + 1);
        assert_non_null(padding);
        memset(padding, 'x', pad);
        char *s = strf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\","
                       "\"uid\":\"uid-%s\",\"resourceVersion\":\"%s\",\"labels\":{\"app\":\"web\"},"
                       "\"annotations\":{\"pad\":\"%s\"}},"
                       "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"img\","
                       "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]},"
                       "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}}",
                       name, name, rv, padding);
        free(padding);
        return s;
}

/* "p1@1 p2@2" -> the items. */
static char *list_json(const char *pods, const char *rv, const char *cont) {
        char *items = strdup(""), *copy = strdup(pods), *save = NULL;
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                char *at = strchr(tok, '@');
                *at = '\0';
                char *p = pod_json(tok, at + 1, 0);
                char *n = strf("%s%s%s", items, items[0] ? "," : "", p);
                free(p);
                free(items);
                items = n;
        }
        free(copy);
        char *s = strf("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"%s\"%s%s%s},"
                       "\"items\":[%s]}",
                       rv, cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "", items);
        free(items);
        return s;
}

static char *event_json(const char *type, const char *name, const char *rv, size_t pad) {
        char *p = pod_json(name, rv, pad);
        char *s = strf("{\"type\":\"%s\",\"object\":%s}\n", type, p);
        free(p);
        return s;
}

static char *bookmark_json(const char *rv) {
        return strf("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                    "\"metadata\":{\"resourceVersion\":\"%s\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n",
                    rv);
}

static char *cat(char *a, char *b) {
        char *s = strf("%s%s", a, b);
        free(a);
        free(b);
        return s;
}

static const char status_410[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                                 "\"message\":\"too old resource version: 25 (27)\",\"reason\":\"Expired\",\"code\":410}";

/* ---- client side ------------------------------------------------------ */

typedef struct Fixture {
        Server srv;
        sd_event *event;
        KubeConfig *config;
        KubeClient *client;
        Cache *cache;
        Informer *informer;
        char log[8192];
        unsigned synced_calls;
        unsigned error_calls;
        /* Self-destruction tests: free the informer from this handler call. */
        unsigned free_on_add, free_on_update, adds, updates;
} Fixture;

static void flog(Fixture *f, const char *fmt, ...) _printf_(2, 3);
static void flog(Fixture *f, const char *fmt, ...) {
        size_t n = strlen(f->log);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->log + n, sizeof f->log - n, fmt, ap);
        va_end(ap);
}

static void on_add(KubeObject *o, void *userdata) {
        Fixture *f = userdata;
        flog(f, "add %s@%s; ", o->meta.name, o->meta.resource_version);
        if (++f->adds == f->free_on_add)
                f->informer = informer_free(f->informer);
}

static void on_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        Fixture *f = userdata;
        flog(f, "update %s@%s->%s; ", new_obj->meta.name, old_obj->meta.resource_version,
             new_obj->meta.resource_version);
        if (++f->updates == f->free_on_update)
                f->informer = informer_free(f->informer);
}

static void on_delete(KubeObject *o, void *userdata) {
        Fixture *f = userdata;
        flog(f, "delete %s@%s; ", o->meta.name, o->meta.resource_version);
}

static void on_synced(Informer *i, void *userdata) {
        Fixture *f = userdata;
        assert_true(informer_synced(i));
        assert_true(cache_synced(informer_cache(i)));
        f->synced_calls++;
        flog(f, "[synced %zu] ", cache_size(informer_cache(i)));
}

static void on_error(Informer *i, int error, const char *message, void *userdata) {
        Fixture *f = userdata;
        assert_true(error < 0);
        assert_string_equal(message, informer_last_error(i));
        f->error_calls++;
}

static const InformerOptions fast_options = {
        .page_limit = 2,
        .max_event_bytes = 4096,
        .watch_timeout_min = 60 * USEC_PER_SEC,
        .idle_timeout = 300 * USEC_PER_MSEC,
        .backoff_initial = 50 * USEC_PER_MSEC,
        .backoff_max = 200 * USEC_PER_MSEC,
        .backoff_reset = 60 * USEC_PER_SEC,
        .seed = 42,
};

static void fixture_setup(Fixture *f) {
        memset(f, 0, sizeof *f);
        server_start(&f->srv);
        assert_int_equal(sd_event_new(&f->event), 0);
        f->config = calloc(1, sizeof(KubeConfig));
        assert_non_null(f->config);
        f->config->server = strf("http://127.0.0.1:%u", f->srv.port);
        f->config->source = strdup("test");
        assert_int_equal(kube_client_new(f->event, f->config, &(KubeClientOptions) { .user_agent = "test" }, &f->client),
                         0);
        assert_int_equal(cache_new(&kube_kind_pod, &f->cache), 0);
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_delete, .userdata = f };
        assert_int_equal(cache_add_handlers(f->cache, &h), 0);
}

static void fixture_informer(Fixture *f, const SourceFilter *filter, const InformerOptions *base) {
        InformerOptions o = *base;
        o.on_synced = on_synced;
        o.on_error = on_error;
        o.userdata = f;
        assert_int_equal(informer_new(f->event, f->client, &kube_kind_pod, filter, f->cache, &o, &f->informer), 0);
}

static void fixture_teardown(Fixture *f) {
        f->informer = informer_free(f->informer);
        /* Let aborted requests deliver their last callback. */
        for (int k = 0; k < 5; k++)
                (void) sd_event_run(f->event, 10 * USEC_PER_MSEC);
        f->client = kube_client_free(f->client);
        f->cache = cache_free(f->cache);
        kube_config_free(f->config);
        sd_event_unref(f->event);
        server_stop(&f->srv);
}

/* Runs the loop until the server answered n requests (and settle more). */
static void run_until_served(Fixture *f, size_t n, usec_t settle, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;
        while (server_served(&f->srv) < n) {
                if (now_usec(CLOCK_MONOTONIC) > end)
                        fail_msg("timeout: server answered %zu of %zu requests; log: %s; last error: %s",
                                 server_served(&f->srv), n, f->log,
                                 f->informer ? strempty(informer_last_error(f->informer)) : "-");
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
        end = now_usec(CLOCK_MONOTONIC) + settle;
        while (now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
}

static const char *uri(Fixture *f, size_t k) {
        assert_non_null(f->srv.uris[k]);
        return f->srv.uris[k];
}

static void assert_contains(const char *haystack, const char *needle) {
        if (!strstr(haystack, needle))
                fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- tests ------------------------------------------------------------ */

static void test_full_state_machine(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        Server *s = &f->srv;
        InformerStats st;
        (void) state;

        fixture_setup(f);

        /* 0, 1: paged LIST. */
        add_step(s, "list", 200, NULL, list_json("p1@1 p2@2", "999", "tok-1"), 0, END_CLEAN);
        add_step(s, "list", 200, NULL, list_json("p3@3", "10", NULL), 0, END_CLEAN);
        /* 2: watch from 10; events, a bookmark; the connection drops. */
        add_step(s, "watch", 200, NULL,
                 cat(cat(event_json("ADDED", "p4", "11", 0), event_json("MODIFIED", "p1", "12", 0)), bookmark_json("15")),
                 100, END_ABORT);
        /* 3: resumed from the bookmark's 15; a delete, then ERROR 410. */
        add_step(s, "watch", 200, NULL,
                 cat(event_json("DELETED", "p2", "16", 0),
                     strf("{\"type\":\"ERROR\",\"object\":%s}\n", status_410)),
                 0, END_CLEAN);
        /* 4: relist: p3 changed meanwhile, p5 is new. */
        add_step(s, "list", 200, NULL, list_json("p1@12 p3@20", "999", "tok-2"), 0, END_CLEAN);
        add_step(s, "list", 200, NULL, list_json("p4@11 p5@21", "25", NULL), 0, END_CLEAN);
        /* 6: watch from 25 answered by HTTP 410. */
        add_step(s, "watch", 410, NULL, strdup(status_410), 0, END_CLEAN);
        /* 7: relist: p4 is gone. */
        add_step(s, "list", 200, NULL, list_json("p1@12 p3@20", "999", "tok-3"), 0, END_CLEAN);
        add_step(s, "list", 200, NULL, list_json("p5@21", "30", NULL), 0, END_CLEAN);
        /* 9: watch from 30: an event, then one over the 4 KiB cap. */
        add_step(s, "watch", 200, NULL,
                 cat(event_json("MODIFIED", "p5", "31", 0), event_json("MODIFIED", "p5", "32", 5000)), 512,
                 END_CLEAN);
        /* 10: an HTML error page from a proxy. */
        add_step(s, "watch", 502, "text/html", strdup("<html><body><h1>502 Bad Gateway</h1></body></html>"), 0,
                 END_CLEAN);
        /* 11: a watch that says nothing at all. */
        add_step(s, "watch", 200, NULL, strdup(""), 0, END_HANG);
        /* 12: an event, then the stream ends (cleanly, for HTTP) inside the next one. */
        add_step(s, "watch", 200, NULL,
                 cat(event_json("ADDED", "p6", "33", 0), strdup("{\"type\":\"MODIFIED\",\"object\":{\"kind\"")), 0,
                 END_CLEAN);
        /* 13: one event, then a clean end (timeoutSeconds): rewatch at once. */
        add_step(s, "watch", 200, NULL, event_json("MODIFIED", "p6", "34", 0), 0, END_CLEAN);
        /* 14: the next watch just stays open. */

        /* Back-off long enough to tell "waited" from "at once" even under valgrind. */
        InformerOptions o = fast_options;
        o.backoff_initial = 250 * USEC_PER_MSEC;
        o.backoff_max = 500 * USEC_PER_MSEC;
        fixture_informer(f, NULL, &o);
        assert_false(informer_synced(f->informer));
        assert_int_equal(informer_start(f->informer), 0);
        assert_int_equal(informer_start(f->informer), -EALREADY);
        run_until_served(f, 15, 100 * USEC_PER_MSEC, 20 * USEC_PER_SEC);
        assert_string_equal(s->mismatch, "");

        /* Every change exactly once, nothing for what did not change. */
        assert_string_equal(f->log, "add p1@1; add p2@2; add p3@3; [synced 3] "
                                    "add p4@11; update p1@1->12; delete p2@2; "
                                    "update p3@3->20; add p5@21; "
                                    "delete p4@11; "
                                    "update p5@21->31; "
                                    "add p6@33; update p6@33->34; ");
        assert_int_equal(f->synced_calls, 1);
        assert_int_equal(cache_size(f->cache), 4);

        /* The requests. */
        assert_string_equal(uri(f, 0), "/api/v1/pods?limit=2");
        assert_string_equal(uri(f, 1), "/api/v1/pods?limit=2&continue=tok-1");
        assert_contains(uri(f, 2), "/api/v1/pods?watch=1&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds=");
        unsigned timeout = (unsigned) atoi(strstr(uri(f, 2), "timeoutSeconds=") + strlen("timeoutSeconds="));
        assert_true(timeout >= 60 && timeout < 120);
        assert_contains(uri(f, 3), "resourceVersion=15&"); /* the bookmark's */
        assert_string_equal(uri(f, 4), "/api/v1/pods?limit=2");
        assert_contains(uri(f, 6), "resourceVersion=25&");
        assert_string_equal(uri(f, 7), "/api/v1/pods?limit=2");
        assert_contains(uri(f, 9), "resourceVersion=30&");
        assert_contains(uri(f, 10), "resourceVersion=31&"); /* after the oversized event */
        assert_contains(uri(f, 11), "resourceVersion=31&"); /* after the 502 */
        assert_contains(uri(f, 12), "resourceVersion=31&"); /* after the idle restart */
        assert_contains(uri(f, 13), "resourceVersion=33&"); /* after the cut stream */
        assert_contains(uri(f, 14), "resourceVersion=34&"); /* after the clean end */
        assert_string_equal(informer_resource_version(f->informer), "34");

        /* Failures wait; a 410 relists at once the first time; a clean end does not wait. */
        assert_true(s->times[3] - s->times[2] >= 250 * USEC_PER_MSEC);  /* dropped stream */
        assert_true(s->times[4] - s->times[3] < 200 * USEC_PER_MSEC);   /* first 410: relist now */
        assert_true(s->times[7] - s->times[6] >= 250 * USEC_PER_MSEC);  /* second 410 soon after */
        assert_true(s->times[11] - s->times[10] >= 250 * USEC_PER_MSEC); /* 502 */
        assert_true(s->times[12] - s->times[11] >= 300 * USEC_PER_MSEC); /* idle timeout */
        assert_true(s->times[14] - s->times[13] < 200 * USEC_PER_MSEC);  /* clean end */

        informer_get_stats(f->informer, &st);
        assert_int_equal(st.lists, 3);
        assert_int_equal(st.relists, 2);
        assert_int_equal(st.list_pages, 6);
        assert_int_equal(st.bookmarks, 1);
        assert_int_equal(st.events, 6);
        assert_int_equal(st.watches, 9);
        assert_int_equal(st.idle_restarts, 1);
        /* dropped, repeated 410, oversized, 502, idle, cut */
        assert_int_equal(st.errors, 6);
        assert_int_equal(f->error_calls, 6);
        assert_int_equal(st.decode_errors, 0);
        assert_non_null(informer_last_error(f->informer));
        assert_contains(informer_last_error(f->informer), "stream ended inside an event");

        fixture_teardown(f);
        free(f);
}

static void test_filters_in_requests(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        (void) state;

        fixture_setup(f);
        add_step(&f->srv, "list", 200, NULL, list_json("p1@1", "5", NULL), 0, END_CLEAN);
        SourceFilter filter = { .namespace = "team-a", .label_selector = "app=web,tier in (a,b)",
                                .field_selector = "spec.nodeName=n1" };
        InformerOptions o = fast_options;
        o.page_limit = 0; /* the default, 500 */
        fixture_informer(f, &filter, &o);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 2, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        assert_string_equal(uri(f, 0), "/api/v1/namespaces/team-a/pods?limit=500"
                                       "&labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
                                       "&fieldSelector=spec.nodeName%3Dn1");
        assert_contains(uri(f, 1), "/api/v1/namespaces/team-a/pods?watch=1&resourceVersion=5&");
        assert_contains(uri(f, 1), "&labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1");
        assert_true(informer_synced(f->informer));
        fixture_teardown(f);
        free(f);
}

static void test_page_over_cap_halves_limit(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        InformerStats st;
        (void) state;

        fixture_setup(f);
        /* Four padded pods are over the cap; two fit. */
        char *big = list_json("a@1 b@2 c@3 d@4", "9", NULL);
        char *pad = pod_json("x", "1", 3000);
        char *body = strf("%.*s%s,%s]}", (int) (strlen(big) - 2), big, "", pad);
        free(big);
        free(pad);
        add_step(&f->srv, "list", 200, NULL, body, 0, END_CLEAN);
        add_step(&f->srv, "list", 200, NULL, list_json("a@1 b@2", "9", "more"), 0, END_CLEAN);
        add_step(&f->srv, "list", 200, NULL, list_json("c@3 d@4", "9", NULL), 0, END_CLEAN);
        InformerOptions o = fast_options;
        o.page_limit = 4;
        o.max_page_bytes = 3000;
        fixture_informer(f, NULL, &o);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 4, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        assert_string_equal(uri(f, 0), "/api/v1/pods?limit=4");
        assert_string_equal(uri(f, 1), "/api/v1/pods?limit=2");
        assert_string_equal(uri(f, 2), "/api/v1/pods?limit=2&continue=more");
        assert_string_equal(f->log, "add a@1; add b@2; add c@3; add d@4; [synced 4] ");
        informer_get_stats(f->informer, &st);
        assert_int_equal(st.page_shrinks, 1);
        assert_int_equal(st.errors, 0);
        fixture_teardown(f);
        free(f);
}

static void test_connection_refused_backs_off(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        InformerStats st;
        (void) state;

        fixture_setup(f);
        /* Point the client at a port nobody listens on. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        kube_client_free(f->client);
        free(f->config->server);
        f->config->server = strf("http://127.0.0.1:%u", ntohs(sa.sin_port));
        KubeClientOptions client_opts = {};
        assert_int_equal(kube_client_new(f->event, f->config, &client_opts, &f->client), 0);

        fixture_informer(f, NULL, &fast_options);
        assert_int_equal(informer_start(f->informer), 0);
        usec_t end = now_usec(CLOCK_MONOTONIC) + 1200 * USEC_PER_MSEC;
        while (now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        informer_get_stats(f->informer, &st);
        /* 50, 100, 200, 200, ... ms (+ jitter up to half): about 6 in 1.2 s;
         * without a back-off it would be hundreds. */
        assert_true(st.errors >= 3);
        assert_true(st.errors <= 10);
        assert_false(informer_synced(f->informer));
        assert_contains(informer_last_error(f->informer), "list /api/v1/pods: ");
        assert_string_equal(f->log, "");
        fixture_teardown(f);
        free(f);
}

static void test_malformed_and_undecodable(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        InformerStats st;
        (void) state;

        fixture_setup(f);
        /* A list whose second item does not decode: the rest is kept. */
        char *good = pod_json("good", "1", 0);
        add_step(&f->srv, "list", 200, NULL,
                 strf("{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[%s,"
                      "{\"metadata\":{\"name\":\"bad\",\"namespace\":\"default\",\"resourceVersion\":\"2\"},"
                      "\"spec\":{\"containers\":\"not-an-array\"}}]}",
                      good),
                 0, END_CLEAN);
        free(good);
        /* A watch with garbage: restart from the last good version. */
        add_step(&f->srv, "watch", 200, NULL, cat(event_json("ADDED", "n1", "6", 0), strdup("this is not json\n")), 0,
                 END_CLEAN);
        /* An ERROR event that is not a 410: restart, no relist. */
        add_step(&f->srv, "watch", 200, NULL, strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                                                    "\"reason\":\"InternalError\",\"message\":\"etcd down\"}}\n"),
                 0, END_CLEAN);
        fixture_informer(f, NULL, &fast_options);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 4, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        assert_string_equal(f->log, "add good@1; [synced 1] add n1@6; ");
        assert_contains(uri(f, 2), "resourceVersion=6&");
        assert_contains(uri(f, 3), "resourceVersion=6&");
        informer_get_stats(f->informer, &st);
        assert_int_equal(st.decode_errors, 1);
        assert_int_equal(st.errors, 2);
        assert_contains(informer_last_error(f->informer), "ERROR event: 500 InternalError: etcd down");
        fixture_teardown(f);
        free(f);
}

static void test_free_from_handler_during_list(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        (void) state;

        fixture_setup(f);
        add_step(&f->srv, "list", 200, NULL, list_json("a@1 b@2 c@3", "9", NULL), 0, END_CLEAN);
        fixture_informer(f, NULL, &fast_options);
        f->free_on_add = 2;
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 1, 200 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        /* The cache finishes its replace; no watch follows; nothing crashes. */
        assert_null(f->informer);
        assert_int_equal(server_served(&f->srv), 1);
        assert_int_equal(f->synced_calls, 0);
        fixture_teardown(f);
        free(f);
}

static void test_free_from_handler_during_watch(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        (void) state;

        fixture_setup(f);
        add_step(&f->srv, "list", 200, NULL, list_json("a@1", "9", NULL), 0, END_CLEAN);
        add_step(&f->srv, "watch", 200, NULL,
                 cat(cat(event_json("MODIFIED", "a", "10", 0), event_json("MODIFIED", "a", "11", 0)),
                     event_json("MODIFIED", "a", "12", 0)),
                 0, END_HANG);
        fixture_informer(f, NULL, &fast_options);
        f->free_on_update = 2;
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 2, 300 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        assert_null(f->informer);
        /* The event after the one whose handler freed the informer is not applied. */
        assert_string_equal(f->log, "add a@1; [synced 1] update a@1->10; update a@10->11; ");
        assert_int_equal(server_served(&f->srv), 2);
        assert_int_equal(kube_client_in_flight(f->client), 0);
        fixture_teardown(f);
        free(f);
}

static void test_stop_and_restart(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        (void) state;

        fixture_setup(f);
        add_step(&f->srv, "list", 200, NULL, list_json("a@1 b@1", "9", NULL), 0, END_CLEAN);
        add_step(&f->srv, "watch", 200, NULL, strdup(""), 0, END_HANG);
        add_step(&f->srv, "list", 200, NULL, list_json("a@1", "20", NULL), 0, END_CLEAN);
        fixture_informer(f, NULL, &fast_options);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 2, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        informer_stop(f->informer);
        informer_stop(f->informer);
        assert_false(informer_running(f->informer));
        assert_true(informer_synced(f->informer)); /* the cache keeps its content */
        assert_int_equal(kube_client_in_flight(f->client), 0);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 4, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        assert_string_equal(f->log, "add a@1; add b@1; [synced 2] delete b@1; ");
        assert_contains(uri(f, 3), "resourceVersion=20&");
        fixture_teardown(f);
        free(f);
}

static void test_backoff_grows_and_resets(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        Server *s = &f->srv;
        InformerStats st;
        (void) state;

        fixture_setup(f);
        for (int k = 0; k < 3; k++)
                add_step(s, "list", 500, "text/html", strdup("<html>oops</html>"), 0, END_CLEAN);
        add_step(s, "list", 200, NULL, list_json("a@1", "9", NULL), 0, END_CLEAN);
        /* Healthy for longer than backoff_reset, then dropped. */
        add_step(s, "watch", 200, NULL, bookmark_json("10"), 0, END_ABORT);
        s->steps[s->n_steps - 1].delay_ms = 500;
        InformerOptions o = fast_options;
        o.backoff_initial = 50 * USEC_PER_MSEC;
        o.backoff_max = 1000 * USEC_PER_MSEC;
        o.backoff_reset = 300 * USEC_PER_MSEC;
        o.idle_timeout = 2 * USEC_PER_SEC;
        fixture_informer(f, NULL, &o);
        assert_int_equal(informer_start(f->informer), 0);
        run_until_served(f, 6, 50 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        /* 50, 100, 200 ms (each up to half more) ... */
        assert_true(s->times[1] - s->times[0] >= 50 * USEC_PER_MSEC);
        assert_true(s->times[2] - s->times[1] >= 100 * USEC_PER_MSEC);
        assert_true(s->times[3] - s->times[2] >= 200 * USEC_PER_MSEC);
        /* ... and back to 50 ms after the healthy watch, not 400. */
        assert_true(s->times[5] - s->times[4] >= 500 * USEC_PER_MSEC + 50 * USEC_PER_MSEC);
        assert_true(s->times[5] - s->times[4] < 500 * USEC_PER_MSEC + 350 * USEC_PER_MSEC);
        assert_contains(uri(f, 5), "resourceVersion=10&");
        informer_get_stats(f->informer, &st);
        assert_int_equal(st.errors, 4);
        fixture_teardown(f);
        free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_state_machine),
                cmocka_unit_test(test_filters_in_requests),
                cmocka_unit_test(test_page_over_cap_halves_limit),
                cmocka_unit_test(test_connection_refused_backs_off),
                cmocka_unit_test(test_backoff_grows_and_resets),
                cmocka_unit_test(test_malformed_and_undecodable),
                cmocka_unit_test(test_free_from_handler_during_list),
                cmocka_unit_test(test_free_from_handler_during_watch),
                cmocka_unit_test(test_stop_and_restart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
