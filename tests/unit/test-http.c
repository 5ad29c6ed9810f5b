/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP transport against a real HTTP server (libmicrohttpd) on
 * loopback, started by the test: bodies, Status errors, caps, streams,
 * transport errors, cancellation from callbacks, token rotation, the rate
 * limiter, and TLS (CA, tls-server-name, insecure) when MHD has TLS. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"

/* ---- the server ------------------------------------------------------------ */

typedef struct Seen {
        pthread_mutex_t lock;
        char auth[256], user_agent[128], accept[64], method[16], content_type[64], body[256];
        usec_t arrivals[64];
        unsigned n_arrivals;
} Seen;

static Seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
static char tmpdir[256];

typedef struct Upload {
        char body[256];
        size_t len;
} Upload;

static void copy_header(struct MHD_Connection *conn, const char *name, char *dst, size_t size) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
        snprintf(dst, size, "%s", v ?: "");
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
        intptr_t limit = (intptr_t) cls; /* chunks to send; < 0 = endless */
        uint64_t i = pos / 8;
        (void) max;
        if (limit >= 0 && i >= (uint64_t) limit)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (i > 0)
                usleep(20000);
        snprintf(buf, 9, "chunk-%01u\n", (unsigned) (i % 10));
        return 8;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned code, const char *ct, const char *body) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;
        if (ct)
                MHD_add_response_header(r, "Content-Type", ct);
        ret = MHD_queue_response(conn, code, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
        Upload *up = *con_cls;
        (void) cls, (void) version;

        if (!up) {
                *con_cls = calloc(1, sizeof(Upload));
                return *con_cls ? MHD_YES : MHD_NO;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                if (n > sizeof up->body - 1 - up->len)
                        n = sizeof up->body - 1 - up->len;
                memcpy(up->body + up->len, upload_data, n);
                up->len += n;
                *upload_data_size = 0;
                return MHD_YES;
        }

        pthread_mutex_lock(&seen.lock);
        copy_header(conn, "Authorization", seen.auth, sizeof seen.auth);
        copy_header(conn, "User-Agent", seen.user_agent, sizeof seen.user_agent);
        copy_header(conn, "Accept", seen.accept, sizeof seen.accept);
        copy_header(conn, "Content-Type", seen.content_type, sizeof seen.content_type);
        snprintf(seen.method, sizeof seen.method, "%s", method);
        snprintf(seen.body, sizeof seen.body, "%.*s", (int) up->len, up->body);
        if (seen.n_arrivals < ELEMENTSOF(seen.arrivals))
                seen.arrivals[seen.n_arrivals++] = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_unlock(&seen.lock);

        if (streq(url, "/ok"))
                return respond(conn, 200, "application/json", "{\"kind\":\"Thing\",\"n\":1}");
        if (streq(url, "/echo-auth")) {
                char auth[256];
                copy_header(conn, "Authorization", auth, sizeof auth);
                return respond(conn, 200, "text/plain", auth);
        }
        if (streq(url, "/html500"))
                return respond(conn, 500, "text/html; charset=utf-8", "<html><body>Internal oops</body></html>");
        if (streq(url, "/conflict"))
                return respond(conn, 409, "application/json",
                               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                               "\"message\":\"Operation cannot be fulfilled on services \\\"x\\\": the object has been "
                               "modified\",\"reason\":\"Conflict\",\"details\":{\"name\":\"x\",\"kind\":\"services\","
                               "\"causes\":[{\"reason\":\"FieldValueInvalid\"}]},\"code\":409}");
        if (streq(url, "/gone"))
                return respond(conn, 410, "application/json",
                               "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old "
                               "resource version: 1 (2)\",\"reason\":\"Expired\",\"code\":410}");
        if (streq(url, "/big")) {
                const char *n = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "n");
                size_t len = n ? strtoul(n, NULL, 10) : 0;
                char *body = malloc(len + 1);
                struct MHD_Response *r;
                enum MHD_Result ret;
                memset(body, 'x', len);
                body[len] = '\0';
                r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
                ret = MHD_queue_response(conn, 200, r);
                MHD_destroy_response(r);
                return ret;
        }
        if (streq(url, "/stream") || streq(url, "/endless")) {
                struct MHD_Response *r = MHD_create_response_from_callback(
                        MHD_SIZE_UNKNOWN, 64, stream_reader, (void *) (intptr_t) (streq(url, "/stream") ? 5 : -1), NULL);
                enum MHD_Result ret;
                MHD_add_response_header(r, "Content-Type", "application/json");
                ret = MHD_queue_response(conn, 200, r);
                MHD_destroy_response(r);
                return ret;
        }
        if (streq(url, "/slow")) {
                usleep(1500 * 1000);
                return respond(conn, 200, "application/json", "{}");
        }
        return respond(conn, 404, "text/plain", "404 page not found\n");
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t) {
        (void) cls, (void) conn, (void) t;
        free(*con_cls);
        *con_cls = NULL;
}

static struct MHD_Daemon *server_start(bool tls, const char *key, const char *cert, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
        struct MHD_Daemon *d;
        const union MHD_DaemonInfo *info;

        if (tls)
                d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                     MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_HTTPS_MEM_KEY, key,
                                     MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
        else
                d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                     MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
        assert_non_null(d);
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        assert_non_null(info);
        *ret_port = info->port;
        return d;
}

/* ---- client side helpers --------------------------------------------------- */

typedef struct Result {
        int calls;
        int error;
        long code;
        char *body;
        size_t body_len;
        char *reason, *message, *cause;
        long status_code;
        char chunks[256];
        size_t chunks_len;
        int data_calls;
        int stop_after; /* sd_event_exit once this many requests finished */
        int *finished;  /* shared counter of a group of requests, or NULL */
        int own_finished; /* the counter of a request run alone (run_one) */
        sd_event *event;
} Result;

static void result_done(Result *r) {
        free(r->body);
        free(r->reason);
        free(r->message);
        free(r->cause);
}

static void on_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        Result *r = userdata;
        (void) req;
        r->calls++;
        r->error = error;
        r->code = resp->http_code;
        if (resp->body) {
                r->body = strndup(resp->body, resp->body_len);
                r->body_len = resp->body_len;
        }
        if (resp->status) {
                r->reason = resp->status->reason ? strdup(resp->status->reason) : NULL;
                r->message = resp->status->message ? strdup(resp->status->message) : NULL;
                r->cause = resp->status->cause_reason ? strdup(resp->status->cause_reason) : NULL;
                r->status_code = resp->status->http_code;
        }
        if (r->finished)
                ++*r->finished;
}

static int on_data(KubeRequest *req, const char *data, size_t len, void *userdata) {
        Result *r = userdata;
        (void) req;
        r->data_calls++;
        assert_true(r->chunks_len + len < sizeof r->chunks);
        memcpy(r->chunks + r->chunks_len, data, len);
        r->chunks_len += len;
        return 0;
}

/* Runs the loop until *finished reaches n (10 s at most). */
static void run_until(sd_event *e, const int *finished, int n) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        while (*finished < n) {
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("event loop did not finish in time");
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        }
}

typedef struct Fixture {
        struct MHD_Daemon *daemon;
        uint16_t port;
        char server[64];
        sd_event *event;
} Fixture;

static int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->daemon = server_start(false, NULL, NULL, &f->port);
        snprintf(f->server, sizeof f->server, "http://127.0.0.1:%u", f->port);
        assert_int_equal(sd_event_new(&f->event), 0);
        pthread_mutex_lock(&seen.lock);
        seen.n_arrivals = 0;
        pthread_mutex_unlock(&seen.lock);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;
        MHD_stop_daemon(f->daemon);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

/* Runs one request to completion. */
static void run_one(Fixture *f, KubeConfig *cfg, KubeRequestOptions *o, Result *r) {
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        r->event = f->event;
        r->own_finished = 0;
        r->finished = &r->own_finished;
        r->stop_after = 1;
        o->on_done = on_done;
        o->userdata = r;
        assert_int_equal(kube_client_new(f->event, cfg, &(KubeClientOptions) { .user_agent = "berth-test/1" }, &c), 0);
        assert_int_equal(kube_request(c, o, NULL), 0);
        run_until(f->event, &r->own_finished, 1);
        assert_int_equal(r->calls, 1);
        assert_int_equal(kube_client_in_flight(c), 0);
        assert_int_equal(kube_client_requests_total(c), 1);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_get_json(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server, .token = (char *) "tok-123" };
        KubeRequestOptions o = { .path = "/ok" };
        Result r = {};

        run_one(f, &cfg, &o, &r);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.code, 200);
        assert_string_equal(r.body, "{\"kind\":\"Thing\",\"n\":1}");
        assert_null(r.message);
        assert_string_equal(seen.auth, "Bearer tok-123");
        assert_string_equal(seen.user_agent, "berth-test/1");
        assert_string_equal(seen.accept, "application/json");
        assert_string_equal(seen.method, "GET");
        result_done(&r);
}

static void test_post_body(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        const char *body = "{\"spec\":{\"x\":1}}";
        KubeRequestOptions o = { .method = "PATCH", .path = "/ok", .body = body, .body_len = strlen(body),
                                 .content_type = "application/merge-patch+json" };
        Result r = {};

        run_one(f, &cfg, &o, &r);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.code, 200);
        assert_string_equal(seen.method, "PATCH");
        assert_string_equal(seen.body, body);
        assert_string_equal(seen.content_type, "application/merge-patch+json");
        assert_string_equal(seen.auth, ""); /* no credentials configured: no header */
        result_done(&r);
}

static void test_error_bodies(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        {
                KubeRequestOptions o = { .path = "/html500" };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.code, 500);
                assert_int_equal(r.status_code, 500);
                assert_string_equal(r.message, "HTTP 500 with a non-JSON body (text/html)");
                assert_string_equal(r.reason, "InternalError");
                result_done(&r);
        }
        {
                KubeRequestOptions o = { .method = "PUT", .path = "/conflict", .body = "{}", .body_len = 2 };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.code, 409);
                assert_string_equal(r.reason, "Conflict");
                assert_string_equal(r.cause, "FieldValueInvalid");
                assert_string_equal(r.message,
                                    "Operation cannot be fulfilled on services \"x\": the object has been modified");
                result_done(&r);
        }
        {
                KubeRequestOptions o = { .path = "/nope" };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.code, 404);
                assert_string_equal(r.reason, "NotFound");
                assert_string_equal(r.message, "HTTP 404 with a non-JSON body (text/plain)");
                result_done(&r);
        }
}

static void test_body_cap(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        {
                KubeRequestOptions o = { .path = "/big?n=200000", .max_body = 100000 };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, -E2BIG);
                assert_string_equal(r.message, "response body larger than 100000 bytes");
                result_done(&r);
        }
        {
                KubeRequestOptions o = { .path = "/big?n=200000", .max_body = 200000 };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.body_len, 200000);
                result_done(&r);
        }
}

static void test_stream(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        {
                KubeRequestOptions o = { .path = "/stream", .stream = true, .on_data = on_data };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.code, 200);
                assert_null(r.body);
                assert_true(r.data_calls >= 2); /* delivered as they came, not at the end */
                r.chunks[r.chunks_len] = '\0';
                assert_string_equal(r.chunks, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
                result_done(&r);
        }
        {
                /* An error on a stream is a Status, not data. */
                KubeRequestOptions o = { .path = "/gone", .stream = true, .on_data = on_data };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.code, 410);
                assert_int_equal(r.data_calls, 0);
                assert_string_equal(r.reason, "Expired");
                assert_string_equal(r.message, "too old resource version: 1 (2)");
                result_done(&r);
        }
}

static void test_transport_errors(void **state) {
        Fixture *f = *state;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        char server[64];

        /* A port nobody listens on: bound, then closed. */
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        close(fd);
        snprintf(server, sizeof server, "http://127.0.0.1:%u", ntohs(sa.sin_port));
        {
                KubeConfig cfg = { .server = server };
                KubeRequestOptions o = { .path = "/ok" };
                Result r = {};
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, -ECONNREFUSED);
                assert_int_equal(r.code, 0);
                assert_non_null(r.message);
                assert_non_null(strstr(r.message, "onnect"));
                result_done(&r);
        }
        {
                KubeConfig cfg = { .server = f->server };
                KubeRequestOptions o = { .path = "/slow", .timeout = 200 * USEC_PER_MSEC };
                Result r = {};
                usec_t t0 = now_usec(CLOCK_MONOTONIC);
                run_one(f, &cfg, &o, &r);
                assert_int_equal(r.error, -ETIMEDOUT);
                assert_true(now_usec(CLOCK_MONOTONIC) - t0 < 1200 * USEC_PER_MSEC);
                assert_non_null(strstr(r.message, "imeout") ?: strstr(r.message, "timed out"));
                result_done(&r);
        }
}

/* Cancelling from inside callbacks: the endless stream's first chunk
 * cancels a slow request and the stream itself and starts a new request. */
typedef struct CancelCtx {
        KubeClient *client;
        KubeRequest *stream, *slow;
        Result fresh;
        int stream_done_calls, slow_done_calls, finished;
} CancelCtx;

static void cancel_ctx_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        CancelCtx *x = userdata;
        (void) error, (void) resp;
        if (req == x->stream)
                x->stream_done_calls++;
        else
                x->slow_done_calls++;
}

static int cancel_ctx_data(KubeRequest *req, const char *data, size_t len, void *userdata) {
        CancelCtx *x = userdata;
        (void) data, (void) len;
        assert_ptr_equal(req, x->stream);
        kube_request_cancel(x->slow);
        kube_request_cancel(req);
        assert_int_equal(kube_request(x->client,
                                      &(KubeRequestOptions) { .path = "/ok", .on_done = on_done, .userdata = &x->fresh },
                                      NULL),
                         0);
        return 0;
}

static void test_cancel_inside_callbacks(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        CancelCtx x = {};

        assert_int_equal(kube_client_new(f->event, &cfg, NULL, &c), 0);
        x.client = c;
        x.fresh.event = f->event;
        x.fresh.finished = &x.finished;
        x.fresh.stop_after = 1;
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/slow", .on_done = cancel_ctx_done, .userdata = &x },
                                      &x.slow),
                         0);
        assert_int_equal(kube_request(c,
                                      &(KubeRequestOptions) { .path = "/endless", .stream = true, .on_data = cancel_ctx_data,
                                                              .on_done = cancel_ctx_done, .userdata = &x },
                                      &x.stream),
                         0);
        run_until(f->event, &x.finished, 1);
        assert_int_equal(x.fresh.calls, 1);
        assert_int_equal(x.fresh.code, 200);
        assert_int_equal(x.stream_done_calls, 0);
        assert_int_equal(x.slow_done_calls, 0);
        assert_int_equal(kube_client_in_flight(c), 0);
        result_done(&x.fresh);

        /* Freeing the client with requests in flight calls nothing. */
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/endless", .stream = true, .on_data = on_data,
                                                                 .on_done = cancel_ctx_done, .userdata = &x },
                                      NULL),
                         0);
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/ok", .on_done = cancel_ctx_done, .userdata = &x },
                                      NULL),
                         0);
        assert_int_equal(kube_client_in_flight(c), 2);
        c = kube_client_free(c);
        assert_int_equal(x.stream_done_calls + x.slow_done_calls, 0);
}

/* One on_done cancels the other request, whatever state it is in. */
typedef struct PairCtx {
        KubeRequest *a, *b;
        int calls, finished;
        sd_event *event;
} PairCtx;

static void pair_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        PairCtx *p = userdata;
        (void) error, (void) resp;
        p->calls++;
        kube_request_cancel(req == p->a ? p->b : p->a);
        kube_request_cancel(req); /* a no-op on itself inside on_done */
        p->finished++;
}

static void test_cancel_in_done(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        PairCtx p = { .event = f->event };

        assert_int_equal(kube_client_new(f->event, &cfg, NULL, &c), 0);
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/ok", .on_done = pair_done, .userdata = &p }, &p.a), 0);
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/ok", .on_done = pair_done, .userdata = &p }, &p.b), 0);
        run_until(f->event, &p.finished, 1);
        /* Let anything left over run: nothing may call back again. */
        for (int i = 0; i < 20; i++)
                (void) sd_event_run(f->event, 10 * USEC_PER_MSEC);
        assert_int_equal(p.calls, 1);
        assert_int_equal(kube_client_in_flight(c), 0);
}

static void test_token_file_rotation(void **state) {
        Fixture *f = *state;
        char path[512], tmp[600];
        KubeConfig cfg = { .server = f->server, .token_file = path };
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        Result r1 = {}, r2 = {};
        int finished = 0;
        FILE *fp;

        snprintf(path, sizeof path, "%s/token", tmpdir);
        snprintf(tmp, sizeof tmp, "%s.new", path);
        fp = fopen(path, "we");
        fputs("token-one\n", fp);
        fclose(fp);

        assert_int_equal(kube_client_new(f->event, &cfg, NULL, &c), 0);
        r1 = (Result) { .event = f->event, .finished = &finished, .stop_after = 1 };
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/echo-auth", .on_done = on_done, .userdata = &r1 }, NULL), 0);
        run_until(f->event, &finished, 1);
        assert_string_equal(r1.body, "Bearer token-one");

        fp = fopen(tmp, "we");
        fputs("token-two\n", fp);
        fclose(fp);
        assert_int_equal(rename(tmp, path), 0);

        finished = 0;
        r2 = (Result) { .event = f->event, .finished = &finished, .stop_after = 1 };
        assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/echo-auth", .on_done = on_done, .userdata = &r2 }, NULL), 0);
        run_until(f->event, &finished, 1);
        assert_string_equal(r2.body, "Bearer token-two");
        assert_string_equal(seen.auth, "Bearer token-two");
        result_done(&r1);
        result_done(&r2);
}

static void test_credentials_error_fails_request(void **state) {
        Fixture *f = *state;
        char path[512];
        KubeConfig cfg = { .server = f->server, .token_file = path };
        KubeRequestOptions o = { .path = "/ok" };
        Result r = {};

        snprintf(path, sizeof path, "%s/no-such-token", tmpdir);
        run_one(f, &cfg, &o, &r);
        assert_int_equal(r.error, -ENOENT);
        assert_non_null(strstr(r.message, "no-such-token"));
        result_done(&r);
}

static void test_rate_limiter(void **state) {
        Fixture *f = *state;
        KubeConfig cfg = { .server = f->server };
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        Result r[6] = {};
        int finished = 0;
        usec_t t0;

        /* 20 qps, burst 2: two at once, then one per 50 ms. */
        assert_int_equal(kube_client_new(f->event, &cfg, &(KubeClientOptions) { .qps = 20, .burst = 2 }, &c), 0);
        pthread_mutex_lock(&seen.lock);
        seen.n_arrivals = 0;
        pthread_mutex_unlock(&seen.lock);
        t0 = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                r[i] = (Result) { .event = f->event, .finished = &finished, .stop_after = ELEMENTSOF(r) };
                assert_int_equal(kube_request(c, &(KubeRequestOptions) { .path = "/ok", .on_done = on_done, .userdata = &r[i] },
                                              NULL),
                                 0);
        }
        run_until(f->event, &finished, ELEMENTSOF(r));
        assert_int_equal(seen.n_arrivals, ELEMENTSOF(r));
        /* 4 requests beyond the burst need 4 tokens: >= 200 ms in all. */
        assert_true(seen.arrivals[ELEMENTSOF(r) - 1] - t0 >= 190 * USEC_PER_MSEC);
        assert_true(seen.arrivals[1] - t0 < 45 * USEC_PER_MSEC);
        for (size_t i = 3; i < ELEMENTSOF(r); i++)
                assert_true(seen.arrivals[i] - seen.arrivals[i - 1] >= 35 * USEC_PER_MSEC);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                assert_int_equal(r[i].code, 200);
                result_done(&r[i]);
        }
}

static void test_paths(void **state) {
        static const struct {
                const char *group, *version, *resource, *ns, *name, *sub, *want;
        } cases[] = {
                { NULL, "v1", "pods", "default", "web-1", "status", "/api/v1/namespaces/default/pods/web-1/status" },
                { "", NULL, "nodes", NULL, NULL, NULL, "/api/v1/nodes" },
                { NULL, "v1", "namespaces", NULL, "kube-system", NULL, "/api/v1/namespaces/kube-system" },
                { "discovery.k8s.io", "v1", "endpointslices", "x", NULL, NULL,
                  "/apis/discovery.k8s.io/v1/namespaces/x/endpointslices" },
                { "coordination.k8s.io", "v1", "leases", "berth-system", "a b", NULL,
                  "/apis/coordination.k8s.io/v1/namespaces/berth-system/leases/a%20b" },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *p = kube_path(cases[i].group, cases[i].version, cases[i].resource, cases[i].ns,
                                                   cases[i].name, cases[i].sub);
                assert_string_equal(p, cases[i].want);
        }
        {
                _cleanup_free_ char *e = kube_escape("app in (a,b),tier!=x/y=z&q");
                assert_string_equal(e, "app%20in%20%28a%2Cb%29%2Ctier%21%3Dx%2Fy%3Dz%26q");
        }
}

/* ---- TLS ----------------------------------------------------------------------- */

static char *slurp(const char *name) {
        char path[600];
        FILE *fp;
        char *buf = calloc(1, 65536);
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        fp = fopen(path, "re");
        assert_non_null(fp);
        assert_true(fread(buf, 1, 65535, fp) > 0);
        fclose(fp);
        return buf;
}

static void test_tls(void **state) {
        _cleanup_free_ char *key = NULL, *cert = NULL, *ca = NULL;
        char cmd[2048], ca_path[600], other_ca[600];
        struct MHD_Daemon *d;
        uint16_t port;
        Fixture f = {};
        (void) state;

        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                skip();
        /* A CA and a server certificate valid only for berth-test.invalid (no IP SAN). */
        snprintf(cmd, sizeof cmd,
                 "set -e; cd %s; "
                 "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=berth-test-ca "
                 "  -days 2 2>/dev/null; "
                 "openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -subj /CN=other "
                 "  -days 2 2>/dev/null; "
                 "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=berth-test "
                 "  2>/dev/null; "
                 "printf 'subjectAltName=DNS:berth-test.invalid\\n' > san.ext; "
                 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
                 "  -days 2 -extfile san.ext 2>/dev/null",
                 tmpdir);
        assert_int_equal(system(cmd), 0);
        key = slurp("server.key");
        cert = slurp("server.crt");
        ca = slurp("ca.crt");
        snprintf(ca_path, sizeof ca_path, "%s/ca.crt", tmpdir);
        snprintf(other_ca, sizeof other_ca, "%s/other-ca.crt", tmpdir);

        d = server_start(true, key, cert, &port);
        assert_int_equal(sd_event_new(&f.event), 0);
        snprintf(f.server, sizeof f.server, "https://127.0.0.1:%u", port);
        {
                /* Inline CA + tls-server-name: verified against the name, connected to 127.0.0.1. */
                KubeConfig cfg = { .server = f.server, .ca_data = (unsigned char *) ca, .ca_data_len = strlen(ca),
                                   .tls_server_name = (char *) "berth-test.invalid", .token = (char *) "tls-tok" };
                KubeRequestOptions o = { .path = "/echo-auth" };
                Result r = {};
                run_one(&f, &cfg, &o, &r);
                if (r.error != 0)
                        fail_msg("TLS request failed: %d %s", r.error, r.message);
                assert_int_equal(r.code, 200);
                assert_string_equal(r.body, "Bearer tls-tok");
                result_done(&r);
        }
        {
                /* CA by file, without tls-server-name: the name does not match. */
                KubeConfig cfg = { .server = f.server, .ca_file = ca_path };
                KubeRequestOptions o = { .path = "/ok" };
                Result r = {};
                run_one(&f, &cfg, &o, &r);
                assert_int_equal(r.error, -EPROTO);
                assert_non_null(r.message);
                result_done(&r);
        }
        {
                /* The wrong CA. */
                KubeConfig cfg = { .server = f.server, .ca_file = other_ca,
                                   .tls_server_name = (char *) "berth-test.invalid" };
                KubeRequestOptions o = { .path = "/ok" };
                Result r = {};
                run_one(&f, &cfg, &o, &r);
                assert_int_equal(r.error, -EPROTO);
                result_done(&r);
        }
        {
                /* insecure-skip-tls-verify accepts anything. */
                KubeConfig cfg = { .server = f.server, .insecure_skip_tls_verify = true };
                KubeRequestOptions o = { .path = "/ok" };
                Result r = {};
                run_one(&f, &cfg, &o, &r);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.code, 200);
                result_done(&r);
        }
        MHD_stop_daemon(d);
        sd_event_unref(f.event);
}

static int group_setup(void **state) {
        (void) state;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/berth-test-http-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int group_teardown(void **state) {
        char cmd[512];
        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        return system(cmd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_get_json, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_post_body, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_error_bodies, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_body_cap, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_stream, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_transport_errors, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_cancel_inside_callbacks, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_cancel_in_done, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_token_file_rotation, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_credentials_error_fails_request, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_rate_limiter, fixture_setup, fixture_teardown),
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_tls),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
