/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi interface on the process's sd-event loop (http.h).
 *
 * Re-entrancy is the tricky part: libcurl refuses multi calls made from
 * inside its own callbacks, and user callbacks may cancel or start any
 * request.  So:
 *   - requests never start from kube_request(): they queue, and a timer
 *     (which is also the rate limiter) starts them from the event loop;
 *   - a request cancelled while libcurl is running (from on_data) becomes a
 *     zombie: its callbacks are off and it is removed after libcurl returns;
 *   - finished transfers are first moved to a "finished" list, then their
 *     on_done callbacks run outside libcurl, one at a time, so a callback
 *     cancelling another finished request just unlinks it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sys/socket.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"

#define DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define DEFAULT_TIMEOUT (60 * USEC_PER_SEC)
#define CONNECT_TIMEOUT_MS 10000L
/* The error body of a stream (a Status) is small. */
#define STREAM_ERROR_BODY_MAX (1024u * 1024u)

#ifdef PACKAGE_VERSION
#define DEFAULT_USER_AGENT PACKAGE_NAME "/" PACKAGE_VERSION
#else
#define DEFAULT_USER_AGENT "berth"
#endif

typedef enum RequestState {
        REQ_PENDING,    /* queued, waiting for the start timer / rate limiter */
        REQ_RUNNING,    /* owned by the multi handle */
        REQ_FINISHED,   /* transfer over, on_done not yet called */
        REQ_CALLBACK,   /* on_done running; freed when it returns */
        REQ_ZOMBIE,     /* cancelled inside libcurl; removed when it returns */
} RequestState;

typedef struct RequestList {
        KubeRequest *head, *tail;
} RequestList;

typedef struct SocketWatch SocketWatch;

struct KubeRequest {
        KubeClient *client;
        RequestList *list;
        KubeRequest *prev, *next;
        RequestState state;

        char *url;
        char *method;
        char *content_type;
        char *body;
        size_t body_len;
        size_t max_body;
        bool stream;
        usec_t timeout;
        kube_data_fn on_data;
        kube_done_fn on_done;
        void *userdata;

        CURL *easy;
        struct curl_slist *headers;
        long code;              /* HTTP code once known during the transfer */
        char *buf;              /* response body (or a stream's error body) */
        size_t len, cap;
        int abort_error;        /* why a callback stopped the transfer */
        CURLcode result;
        char errbuf[CURL_ERROR_SIZE];
};

struct SocketWatch {
        KubeClient *client;
        sd_event_source *source;
        SocketWatch *prev, *next;
};

struct KubeClient {
        sd_event *event;
        const KubeConfig *config;
        KubeCredentials *creds;
        CURLM *multi;
        sd_event_source *curl_timer;
        sd_event_source *start_timer;
        SocketWatch *sockets;

        RequestList pending, running, finished, zombies;
        unsigned in_curl;       /* > 0 while inside curl_multi_socket_action() */

        double qps;
        double burst;
        double tokens;
        usec_t tokens_at;

        char *user_agent;
        char *base_url;         /* scheme://host:port, host being tls-server-name when set */
        struct curl_slist *connect_to;
        bool http2;

        unsigned long requests_total;
};

static void list_append(RequestList *l, KubeRequest *r) {
        r->list = l;
        r->prev = l->tail;
        r->next = NULL;
        if (l->tail)
                l->tail->next = r;
        else
                l->head = r;
        l->tail = r;
}

static void list_remove(KubeRequest *r) {
        RequestList *l = r->list;
        if (!l)
                return;
        if (r->prev)
                r->prev->next = r->next;
        else
                l->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                l->tail = r->prev;
        r->prev = r->next = NULL;
        r->list = NULL;
}

static void request_free(KubeRequest *r) {
        if (!r)
                return;
        list_remove(r);
        if (r->easy) {
                if (r->state == REQ_RUNNING || r->state == REQ_FINISHED || r->state == REQ_ZOMBIE ||
                    r->state == REQ_CALLBACK)
                        curl_multi_remove_handle(r->client->multi, r->easy);
                curl_easy_cleanup(r->easy);
        }
        curl_slist_free_all(r->headers);
        free(r->url);
        free(r->method);
        free(r->content_type);
        free(r->body);
        free(r->buf);
        free(r);
}

/* ---- libcurl <-> sd-event ------------------------------------------------ */

static void process_after_curl(KubeClient *c);

static void socket_action(KubeClient *c, curl_socket_t fd, int flags) {
        int running;

        c->in_curl++;
        (void) curl_multi_socket_action(c->multi, fd, flags, &running);
        c->in_curl--;
        process_after_curl(c);
}

static int on_socket_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SocketWatch *w = userdata;
        int flags = 0;
        (void) s;

        if (revents & (EPOLLIN | EPOLLHUP))
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                flags |= CURL_CSELECT_ERR;
        socket_action(w->client, fd, flags);
        return 0;
}

static void socket_watch_free(SocketWatch *w) {
        KubeClient *c = w->client;
        if (w->prev)
                w->prev->next = w->next;
        else
                c->sockets = w->next;
        if (w->next)
                w->next->prev = w->prev;
        sd_event_source_disable_unref(w->source);
        free(w);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        KubeClient *c = userp;
        SocketWatch *w = socketp;
        uint32_t events = 0;
        (void) easy;

        if (what == CURL_POLL_REMOVE) {
                if (w) {
                        curl_multi_assign(c->multi, fd, NULL);
                        socket_watch_free(w);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (w) {
                if (sd_event_source_set_io_events(w->source, events) < 0)
                        return -1;
                return 0;
        }
        w = new0(SocketWatch, 1);
        if (!w)
                return -1;
        w->client = c;
        if (sd_event_add_io(c->event, &w->source, fd, events, on_socket_io, w) < 0) {
                free(w);
                return -1;
        }
        (void) sd_event_source_set_description(w->source, "kube-http-socket");
        w->next = c->sockets;
        if (c->sockets)
                c->sockets->prev = w;
        c->sockets = w;
        curl_multi_assign(c->multi, fd, w);
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s, (void) usec;
        socket_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        KubeClient *c = userp;
        (void) multi;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_source_set_time(c->curl_timer, now_usec(CLOCK_MONOTONIC) + (usec_t) timeout_ms * USEC_PER_MSEC) < 0 ||
            sd_event_source_set_enabled(c->curl_timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

/* ---- responses ----------------------------------------------------------- */

static int errno_from_curl(CURLcode code) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_USE_SSL_FAILED:
                return -EPROTO;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -ECONNRESET;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        case CURLE_TOO_MANY_REDIRECTS:
                return -ELOOP;
        case CURLE_FILESIZE_EXCEEDED:
                return -E2BIG;
        default:
                return -EIO;
        }
}

static bool code_is_2xx(long code) {
        return code >= 200 && code < 300;
}

static void call_done(KubeRequest *req, int error, long code, KubeStatus *status) {
        KubeClient *c = req->client;
        KubeResponse resp = {
                .http_code = code,
                .body = req->stream ? NULL : (req->buf ?: ""),
                .body_len = req->stream ? 0 : req->len,
                .status = error < 0 || !code_is_2xx(code) ? status : NULL,
        };

        c->requests_total++;
        list_remove(req);
        req->state = REQ_CALLBACK;
        if (req->on_done)
                req->on_done(req, error, &resp, req->userdata);
        kube_status_done(status);
        request_free(req);
}

static void fail_request(KubeRequest *req, int error, const char *fmt, ...) _printf_(3, 4);
static void fail_request(KubeRequest *req, int error, const char *fmt, ...) {
        KubeStatus st = {};
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&st.message, fmt, ap) < 0)
                st.message = NULL;
        va_end(ap);
        call_done(req, error, 0, &st);
}

static void finish_request(KubeRequest *req) {
        KubeClient *c = req->client;
        KubeStatus st = {};
        const char *ct = NULL;
        long code = 0;
        int error;

        (void) curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
        (void) curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &ct);
        error = req->abort_error < 0 ? req->abort_error : errno_from_curl(req->result);

        if (error == -E2BIG && req->abort_error == -E2BIG) {
                if (asprintf(&st.message, "response body larger than %zu bytes",
                             req->stream ? (size_t) STREAM_ERROR_BODY_MAX : req->max_body) < 0)
                        st.message = NULL;
        } else if (error < 0) {
                const char *m = req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->result);
                if (req->abort_error < 0)
                        m = "aborted by the data callback";
                st.message = strdup(m);
                log_debug("%s %s: %s", req->method, req->url, m);
        } else if (!code_is_2xx(code)) {
                if (kube_status_from_response(code, ct, req->buf, req->len, &st) < 0)
                        st = (KubeStatus) {};
        }
        st.http_code = error < 0 ? code : st.http_code ?: code;

        /* As client-go: a 401 means the credential may have rotated under us. */
        if (code == 401)
                kube_credentials_invalidate(c->creds);
        call_done(req, error, code, &st);
}

static void collect_finished(KubeClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                KubeRequest *req = NULL;
                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
                if (!req || req->state != REQ_RUNNING)
                        continue;
                req->result = msg->data.result;
                list_remove(req);
                list_append(&c->finished, req);
                req->state = REQ_FINISHED;
        }
}

static void process_after_curl(KubeClient *c) {
        KubeRequest *req;

        if (c->in_curl > 0)
                return;
        collect_finished(c);
        while ((req = c->zombies.head))
                request_free(req);
        /* Each on_done may cancel or finish others: always take the head anew. */
        while ((req = c->finished.head))
                finish_request(req);
}

/* ---- writing bodies -------------------------------------------------------- */

static int buf_append(KubeRequest *req, const char *data, size_t n, size_t max) {
        if (req->len + n > max)
                return -E2BIG;
        if (req->len + n + 1 > req->cap) {
                size_t cap = req->cap ? req->cap : 16384;
                char *b;
                while (cap < req->len + n + 1)
                        cap *= 2;
                if (cap > max + 1)
                        cap = max + 1;
                b = realloc(req->buf, cap);
                if (!b)
                        return -ENOMEM;
                req->buf = b;
                req->cap = cap;
        }
        memcpy(req->buf + req->len, data, n);
        req->len += n;
        req->buf[req->len] = '\0';
        return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata) {
        KubeRequest *req = userdata;
        size_t n = size * nmemb;
        int r;

        if (req->state != REQ_RUNNING)
                return 0; /* cancelled: stop the transfer */
        if (req->code == 0)
                (void) curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->code);

        if (req->stream && code_is_2xx(req->code)) {
                r = req->on_data ? req->on_data(req, data, n, req->userdata) : 0;
                if (req->state != REQ_RUNNING)
                        return 0; /* cancelled itself (it is a zombie now) */
                if (r < 0) {
                        req->abort_error = r;
                        return 0;
                }
                return n;
        }
        r = buf_append(req, data, n, req->stream ? STREAM_ERROR_BODY_MAX : req->max_body);
        if (r < 0) {
                req->abort_error = r;
                return 0;
        }
        return n;
}

/* ---- starting requests ----------------------------------------------------- */

static int set_tls(KubeClient *c, CURL *e) {
        const KubeConfig *k = c->config;
        CURLcode r = CURLE_OK;

        if (k->insecure_skip_tls_verify) {
                r |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                r |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (k->ca_data) {
                struct curl_blob b = { .data = k->ca_data, .len = k->ca_data_len, .flags = CURL_BLOB_COPY };
                r |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
        } else if (k->ca_file)
                r |= curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
        if (k->cert_data) {
                struct curl_blob b = { .data = k->cert_data, .len = k->cert_data_len, .flags = CURL_BLOB_COPY };
                r |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
                r |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        } else if (k->cert_file)
                r |= curl_easy_setopt(e, CURLOPT_SSLCERT, k->cert_file);
        if (k->key_data) {
                struct curl_blob b = { .data = k->key_data, .len = k->key_data_len, .flags = CURL_BLOB_COPY };
                r |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
                r |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        } else if (k->key_file)
                r |= curl_easy_setopt(e, CURLOPT_SSLKEY, k->key_file);
        if (c->connect_to)
                r |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
        return r == CURLE_OK ? 0 : -EINVAL;
}

static int build_easy(KubeRequest *req, const char *token) {
        KubeClient *c = req->client;
        CURL *e;
        CURLcode r = CURLE_OK;
        char *auth = NULL;

        e = req->easy = curl_easy_init();
        if (!e)
                return -ENOMEM;

        req->headers = curl_slist_append(req->headers, "Accept: application/json");
        if (req->body) {
                char *ct;
                if (asprintf(&ct, "Content-Type: %s", req->content_type ?: "application/json") < 0)
                        return -ENOMEM;
                req->headers = curl_slist_append(req->headers, ct);
                free(ct);
                req->headers = curl_slist_append(req->headers, "Expect:");
        }
        if (token) {
                if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                        return -ENOMEM;
                req->headers = curl_slist_append(req->headers, auth);
                explicit_bzero(auth, strlen(auth));
                free(auth);
        }
        if (!req->headers)
                return -ENOMEM;

        r |= curl_easy_setopt(e, CURLOPT_URL, req->url);
        r |= curl_easy_setopt(e, CURLOPT_PRIVATE, req);
        r |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
        r |= curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
        r |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        r |= curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
        r |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
        r |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        r |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        r |= curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
        r |= curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
        r |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        if (c->http2) {
                r |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
                /* Prefer a new stream on the HTTP/2 connection being set up
                 * to a connection of its own.  Only over TLS, where ALPN says
                 * at the handshake whether HTTP/2 is on: over plain HTTP, libcurl
                 * would wait for the first response, stalling behind a slow one. */
                if (startswith(c->base_url, "https://"))
                        r |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        }
        if (!req->stream) {
                r |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) ((req->timeout ?: DEFAULT_TIMEOUT) / USEC_PER_MSEC));
                r |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
        }
        if (c->config->username) {
                r |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                r |= curl_easy_setopt(e, CURLOPT_USERNAME, c->config->username);
                r |= curl_easy_setopt(e, CURLOPT_PASSWORD, c->config->password);
        }

        if (streq(req->method, "GET"))
                r |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        else if (streq(req->method, "HEAD"))
                r |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else {
                r |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
                if (req->body || streq(req->method, "POST")) {
                        r |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
                        r |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ?: "");
                }
        }
        if (r != CURLE_OK)
                return -EINVAL;
        return set_tls(c, e);
}

static void start_request(KubeRequest *req) {
        KubeClient *c = req->client;
        _cleanup_free_ char *err = NULL;
        const char *token = NULL;
        CURLMcode mr;
        int r;

        r = kube_credentials_token(c->creds, &token, &err);
        if (r < 0) {
                fail_request(req, r, "credentials: %s", err ?: strerror(-r));
                return;
        }
        r = build_easy(req, token);
        if (r < 0) {
                fail_request(req, r, "cannot set up the request: %s", strerror(-r));
                return;
        }
        mr = curl_multi_add_handle(c->multi, req->easy);
        if (mr != CURLM_OK) {
                fail_request(req, -EIO, "%s", curl_multi_strerror(mr));
                return;
        }
        list_remove(req);
        list_append(&c->running, req);
        req->state = REQ_RUNNING;
}

static void tokens_refill(KubeClient *c, usec_t now) {
        if (c->qps <= 0)
                return;
        if (now > c->tokens_at) {
                c->tokens += (double) (now - c->tokens_at) * c->qps / (double) USEC_PER_SEC;
                if (c->tokens > c->burst)
                        c->tokens = c->burst;
        }
        c->tokens_at = now;
}

static void arm_start_timer(KubeClient *c) {
        usec_t now, when;

        if (!c->pending.head) {
                (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
                return;
        }
        now = now_usec(CLOCK_MONOTONIC);
        when = now;
        if (c->qps > 0) {
                tokens_refill(c, now);
                if (c->tokens < 1.0)
                        when = now + (usec_t) ((1.0 - c->tokens) * (double) USEC_PER_SEC / c->qps) + 1;
        }
        (void) sd_event_source_set_time(c->start_timer, when);
        (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_ONESHOT);
}

static int on_start_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        KubeClient *c = userdata;
        KubeRequest *req;
        (void) s, (void) usec;

        tokens_refill(c, now_usec(CLOCK_MONOTONIC));
        while ((req = c->pending.head)) {
                if (c->qps > 0) {
                        if (c->tokens < 1.0)
                                break;
                        c->tokens -= 1.0;
                }
                start_request(req);
        }
        arm_start_timer(c);
        /* A start may have failed at once (credentials): its on_done already ran. */
        return 0;
}

/* ---- public API ------------------------------------------------------------ */

static int parse_server(KubeClient *c) {
        const KubeConfig *k = c->config;
        CURLU *u;
        char *scheme = NULL, *host = NULL, *port = NULL;
        int r = 0;

        if (!k->tls_server_name) {
                c->base_url = strdup(k->server);
                return c->base_url ? 0 : -ENOMEM;
        }
        /* tls-server-name: the URL names that host (so SNI and certificate
         * checks use it) and CONNECT_TO sends the connection to the real one. */
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, k->server, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                r = -EINVAL;
        else {
                char *ct = NULL;
                bool v6 = strchr(k->tls_server_name, ':');
                if (asprintf(&c->base_url, v6 ? "%s://[%s]:%s" : "%s://%s:%s", scheme, k->tls_server_name, port) < 0)
                        c->base_url = NULL;
                if (asprintf(&ct, v6 ? "[%s]:%s:%s:%s" : "%s:%s:%s:%s", k->tls_server_name, port, host, port) < 0)
                        ct = NULL;
                if (ct)
                        c->connect_to = curl_slist_append(NULL, ct);
                free(ct);
                if (!c->base_url || !c->connect_to)
                        r = -ENOMEM;
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

int kube_client_new(sd_event *event, const KubeConfig *config, const KubeClientOptions *opts, KubeClient **ret) {
        static const KubeClientOptions no_opts = {};
        _cleanup_(kube_client_freep) KubeClient *c = NULL;
        const curl_version_info_data *vi;
        int r;

        if (!event || !config || !config->server || !ret)
                return -EINVAL;
        if (!opts)
                opts = &no_opts;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        c = new0(KubeClient, 1);
        if (!c) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        c->event = sd_event_ref(event);
        c->config = config;
        c->qps = opts->qps > 0 ? opts->qps : 0;
        c->burst = opts->burst > 0 ? opts->burst : 1;
        c->tokens = c->burst;
        c->tokens_at = now_usec(CLOCK_MONOTONIC);
        c->user_agent = strdup(opts->user_agent ?: DEFAULT_USER_AGENT);
        if (!c->user_agent)
                return -ENOMEM;
        vi = curl_version_info(CURLVERSION_NOW);
        c->http2 = vi && (vi->features & CURL_VERSION_HTTP2);

        r = parse_server(c);
        if (r < 0)
                return r;
        r = kube_credentials_new(config, &c->creds);
        if (r < 0)
                return r;

        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX) != CURLM_OK)
                return -EIO;

        /* Accuracy 1 µs: sd-event's default (250 ms) would delay every request. */
        r = sd_event_add_time(event, &c->curl_timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_curl_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->curl_timer, "kube-http-curl-timer");
        r = sd_event_add_time(event, &c->start_timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_start_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->start_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->start_timer, "kube-http-start");

        *ret = TAKE_PTR(c);
        return 0;
}

static void list_free_all(RequestList *l) {
        KubeRequest *r;
        while ((r = l->head))
                request_free(r);
}

KubeClient *kube_client_free(KubeClient *c) {
        if (!c)
                return NULL;
        list_free_all(&c->pending);
        list_free_all(&c->running);
        list_free_all(&c->finished);
        list_free_all(&c->zombies);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        while (c->sockets)
                socket_watch_free(c->sockets);
        sd_event_source_disable_unref(c->curl_timer);
        sd_event_source_disable_unref(c->start_timer);
        sd_event_unref(c->event);
        kube_credentials_free(c->creds);
        curl_slist_free_all(c->connect_to);
        free(c->base_url);
        free(c->user_agent);
        free(c);
        curl_global_cleanup();
        return NULL;
}

int kube_request(KubeClient *c, const KubeRequestOptions *opts, KubeRequest **ret) {
        KubeRequest *req;

        if (!c || !opts || !opts->path || opts->path[0] != '/' || (opts->stream && !opts->on_data))
                return -EINVAL;
        req = new0(KubeRequest, 1);
        if (!req)
                return -ENOMEM;
        req->client = c;
        req->state = REQ_PENDING;
        req->method = strdup(opts->method ?: "GET");
        if (asprintf(&req->url, "%s%s", c->base_url, opts->path) < 0)
                req->url = NULL;
        if (opts->content_type)
                req->content_type = strdup(opts->content_type);
        if (opts->body) {
                req->body = malloc(opts->body_len + 1);
                if (req->body) {
                        memcpy(req->body, opts->body, opts->body_len);
                        req->body[opts->body_len] = '\0';
                }
                req->body_len = opts->body_len;
        }
        if (!req->method || !req->url || (opts->content_type && !req->content_type) || (opts->body && !req->body)) {
                request_free(req);
                return -ENOMEM;
        }
        req->max_body = opts->max_body ?: DEFAULT_MAX_BODY;
        req->stream = opts->stream;
        req->timeout = opts->timeout;
        req->on_data = opts->on_data;
        req->on_done = opts->on_done;
        req->userdata = opts->userdata;

        list_append(&c->pending, req);
        arm_start_timer(c);
        if (ret)
                *ret = req;
        return 0;
}

void kube_request_cancel(KubeRequest *req) {
        KubeClient *c;

        if (!req)
                return;
        c = req->client;
        switch (req->state) {
        case REQ_PENDING:
                request_free(req);
                arm_start_timer(c);
                break;
        case REQ_RUNNING:
        case REQ_FINISHED:
                if (c->in_curl > 0) {
                        /* libcurl is on the stack: it cannot remove the handle now. */
                        list_remove(req);
                        list_append(&c->zombies, req);
                        req->state = REQ_ZOMBIE;
                } else
                        request_free(req);
                break;
        case REQ_CALLBACK: /* freed when its on_done returns */
        case REQ_ZOMBIE:
                break;
        }
}

void kube_client_break_connections(KubeClient *c) {
        if (!c)
                return;
        /* The sockets libcurl asked us to watch are its live connections. */
        for (SocketWatch *w = c->sockets; w; w = w->next) {
                int fd = sd_event_source_get_io_fd(w->source);
                /* shutdown, not close: the descriptor stays libcurl's to close. */
                if (fd >= 0 && shutdown(fd, SHUT_RDWR) < 0)
                        log_debug_errno(errno, "cannot shut down connection fd %d: %m", fd);
                else
                        log_debug("shut down connection fd %d to %s", fd, c->base_url);
        }
}

size_t kube_client_in_flight(const KubeClient *c) {
        size_t n = 0;
        const RequestList *lists[] = { &c->pending, &c->running, &c->finished };

        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                for (const KubeRequest *r = lists[i]->head; r; r = r->next)
                        n++;
        return n;
}

unsigned long kube_client_requests_total(const KubeClient *c) {
        return c->requests_total;
}

/* ---- paths ----------------------------------------------------------------- */

char *kube_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s), o = 0;
        char *out = malloc(n * 3 + 1);

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        out[o++] = (char) *p;
                else {
                        out[o++] = '%';
                        out[o++] = hex[*p >> 4];
                        out[o++] = hex[*p & 15];
                }
        }
        out[o] = '\0';
        return out;
}

static int path_add(char **p, size_t *len, const char *segment, bool escape) {
        _cleanup_free_ char *e = escape ? kube_escape(segment) : NULL;
        const char *s = escape ? e : segment;
        size_t n;
        char *np;

        if (!s)
                return -ENOMEM;
        n = strlen(s);
        np = realloc(*p, *len + n + 2);
        if (!np)
                return -ENOMEM;
        *p = np;
        np[(*len)++] = '/';
        memcpy(np + *len, s, n + 1);
        *len += n;
        return 0;
}

char *kube_path(const char *group, const char *version, const char *resource, const char *namespace,
                const char *name, const char *subresource) {
        char *p = NULL;
        size_t len = 0;
        int r = 0;

        if (isempty(group)) {
                r = path_add(&p, &len, "api", false);
                if (r >= 0)
                        r = path_add(&p, &len, version ?: "v1", true);
        } else {
                r = path_add(&p, &len, "apis", false);
                if (r >= 0)
                        r = path_add(&p, &len, group, true);
                if (r >= 0)
                        r = path_add(&p, &len, version ?: "v1", true);
        }
        if (r >= 0 && !isempty(namespace)) {
                r = path_add(&p, &len, "namespaces", false);
                if (r >= 0)
                        r = path_add(&p, &len, namespace, true);
        }
        if (r >= 0 && !isempty(resource))
                r = path_add(&p, &len, resource, true);
        if (r >= 0 && !isempty(name))
                r = path_add(&p, &len, name, true);
        if (r >= 0 && !isempty(subresource))
                r = path_add(&p, &len, subresource, true);
        if (r < 0) {
                free(p);
                return NULL;
        }
        return p;
}
