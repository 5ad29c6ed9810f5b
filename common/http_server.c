/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_server.h"
#include "log.h"

#define SNAPSHOT_MAX_AGE USEC_PER_SEC
#define WANT_HEARTBEAT 1u
#define WANT_METRICS 2u
#define WANT_PATH(i) (4u << (i))

/* An extra path: registered and rendered on the loop, served from the
 * snapshot by the MHD thread; all fields under lock. */
typedef struct ExtraPath {
        char *path;               /* NULL = free slot */
        const char *content_type;
        http_render_fn render;
        void *userdata;
        usec_t time;
        int error;
        char *body;
        size_t len;
} ExtraPath;

/* What the MHD thread may read; written by the loop, all under lock. */
typedef struct Snapshot {
        usec_t heartbeat_time;   /* 0 = never */
        bool ready;
        char *reason;
        usec_t metrics_time;
        char *metrics;
        size_t metrics_len;
} Snapshot;

struct HttpServer {
        HttpServerOptions opts;
        sd_event_source *wake_source;
        int wake_fd;
        struct MHD_Daemon *daemon;
        uint16_t port;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        Snapshot snap;           /* under lock */
        unsigned want;           /* under lock: what waiting requests need */
        bool stopping;           /* under lock */
        unsigned long refreshes; /* under lock */
        ExtraPath paths[HTTP_SERVER_MAX_PATHS]; /* under lock */
};

static usec_t mono_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* ---- address parsing ----------------------------------------------------- */

int http_bind_address_parse(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                            bool *ret_disabled, const char **ret_why) {
        struct sockaddr_storage ss = {};
        char host[INET6_ADDRSTRLEN + 1];
        const char *colon, *port_s;
        unsigned long port;
        char *end;
        size_t hl;

        if (!s || streq(s, "0")) {
                *ret_disabled = true;
                return 0;
        }
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close) {
                        *ret_why = "missing ']' after the IPv6 address";
                        return -EINVAL;
                }
                if (close[1] != ':') {
                        *ret_why = "missing port (want [IPv6]:PORT)";
                        return -EINVAL;
                }
                hl = (size_t) (close - s - 1);
                if (hl >= sizeof(host)) {
                        *ret_why = "invalid IPv6 address";
                        return -EINVAL;
                }
                memcpy(host, s + 1, hl);
                host[hl] = 0;
                port_s = close + 2;
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
                sin6->sin6_family = AF_INET6;
                if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
                        *ret_why = "invalid IPv6 address";
                        return -EINVAL;
                }
        } else {
                colon = strrchr(s, ':');
                if (!colon) {
                        *ret_why = "missing port (want ADDR:PORT, or 0 to disable)";
                        return -EINVAL;
                }
                if (memchr(s, ':', (size_t) (colon - s))) {
                        *ret_why = "an IPv6 address must be in brackets ([ADDR]:PORT)";
                        return -EINVAL;
                }
                hl = (size_t) (colon - s);
                if (hl >= sizeof(host)) {
                        *ret_why = "invalid IPv4 address";
                        return -EINVAL;
                }
                memcpy(host, s, hl);
                host[hl] = 0;
                port_s = colon + 1;
                if (hl == 0) {
                        /* Every address: the dual-stack IPv6 wildcard (IPV6_V6ONLY off). */
                        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
                        sin6->sin6_family = AF_INET6;
                        sin6->sin6_addr = in6addr_any;
                } else {
                        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
                        sin->sin_family = AF_INET;
                        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
                                *ret_why = "invalid IPv4 address";
                                return -EINVAL;
                        }
                }
        }
        if (*port_s < '0' || *port_s > '9') {
                *ret_why = "invalid port";
                return -EINVAL;
        }
        errno = 0;
        port = strtoul(port_s, &end, 10);
        if (errno != 0 || *end != 0 || port > 65535) {
                *ret_why = "invalid port";
                return -EINVAL;
        }
        if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *) &ss)->sin_port = htons((uint16_t) port);
        else
                ((struct sockaddr_in6 *) &ss)->sin6_port = htons((uint16_t) port);
        *ret_addr = ss;
        *ret_len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        *ret_disabled = false;
        return 0;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, int *ret_fd, uint16_t *ret_port) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        int one = 1, zero = 0;

        fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss->ss_family == AF_INET6 &&
            IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *) ss)->sin6_addr))
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, (const struct sockaddr *) ss, len) < 0)
                return negative_errno();
        if (listen(fd, 64) < 0)
                return negative_errno();
        if (getsockname(fd, (struct sockaddr *) &bound, &bl) < 0)
                return negative_errno();
        *ret_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *) &bound)->sin_port
                                                     : ((struct sockaddr_in6 *) &bound)->sin6_port);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the loop side ------------------------------------------------------- */

static int on_wake(sd_event_source *src _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        HttpServer *s = userdata;
        _cleanup_free_ char *reason = NULL, *text = NULL;
        uint64_t v;
        unsigned want;
        size_t len = 0;
        bool ready = true;

        if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_debug_errno(errno, "Reading the wake-up eventfd failed: %m");

        pthread_mutex_lock(&s->lock);
        want = s->want;
        s->want = 0;
        pthread_mutex_unlock(&s->lock);

        /* The expensive part runs on the loop without holding the lock. */
        if (s->opts.ready)
                ready = s->opts.ready(s->opts.ready_userdata, &reason);
        if (want & WANT_METRICS) {
                if (s->opts.metrics) {
                        if (metrics_render(s->opts.metrics, &text, &len) < 0)
                                text = NULL;
                } else
                        text = strdup("");
        }

        for (size_t i = 0; i < HTTP_SERVER_MAX_PATHS; i++) {
                http_render_fn render;
                void *ud;
                char *body = NULL;
                size_t blen = 0;
                int rr;

                if (!(want & WANT_PATH(i)))
                        continue;
                pthread_mutex_lock(&s->lock);
                render = s->paths[i].path ? s->paths[i].render : NULL;
                ud = s->paths[i].userdata;
                pthread_mutex_unlock(&s->lock);
                if (!render)
                        continue;
                /* the loop is the only writer of the table, so the slot is still ours */
                rr = render(ud, &body, &blen);
                pthread_mutex_lock(&s->lock);
                free(s->paths[i].body);
                s->paths[i].body = rr < 0 ? NULL : body;
                s->paths[i].len = rr < 0 ? 0 : blen;
                s->paths[i].error = rr < 0 ? rr : 0;
                s->paths[i].time = mono_now();
                pthread_mutex_unlock(&s->lock);
                if (rr < 0)
                        free(body);
        }

        pthread_mutex_lock(&s->lock);
        s->snap.heartbeat_time = mono_now();
        s->snap.ready = ready;
        free(s->snap.reason);
        s->snap.reason = TAKE_PTR(reason);
        if (text) {
                free(s->snap.metrics);
                s->snap.metrics = TAKE_PTR(text);
                s->snap.metrics_len = len;
                s->snap.metrics_time = s->snap.heartbeat_time;
        }
        s->refreshes++;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

/* ---- the MHD thread ------------------------------------------------------ */

static bool fresh(usec_t t, usec_t now) {
        return t != 0 && now - t < SNAPSHOT_MAX_AGE;
}

/* Called with the lock held; returns with it held.  True when the snapshot
 * holds what is wanted, fresh. */
static bool wait_for_loop(HttpServer *s, unsigned want) {
        usec_t now = mono_now(), deadline = now + s->opts.loop_timeout;
        struct timespec ts;
        uint64_t one = 1;

        for (;;) {
                bool ok = fresh(s->snap.heartbeat_time, now) &&
                          (!(want & WANT_METRICS) || fresh(s->snap.metrics_time, now));
                for (size_t i = 0; ok && i < HTTP_SERVER_MAX_PATHS; i++)
                        if (want & WANT_PATH(i))
                                ok = !s->paths[i].path || fresh(s->paths[i].time, now);
                if (ok)
                        return true;
                if (s->stopping || now >= deadline)
                        return false;
                if ((s->want & want) != want) {
                        s->want |= want;
                        if (write(s->wake_fd, &one, sizeof(one)) < 0)
                                return false; /* cannot reach the loop: report it as not responding */
                }
                ts.tv_sec = (time_t) (deadline / USEC_PER_SEC);
                ts.tv_nsec = (long) (deadline % USEC_PER_SEC) * 1000;
                (void) pthread_cond_timedwait(&s->cond, &s->lock, &ts);
                now = mono_now();
        }
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                               const char *content_type) {
        struct MHD_Response *r;
        enum MHD_Result ret;

        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text) {
        char *body = NULL;
        if (asprintf(&body, "%s\n", text) < 0)
                return MHD_NO;
        return respond(c, status, body, strlen(body), "text/plain; charset=utf-8");
}

static enum MHD_Result on_extra_path(HttpServer *s, struct MHD_Connection *c, const char *url,
                                     const char *method) {
        const char *content_type = NULL;
        char *body = NULL;
        size_t len = 0;
        ssize_t idx = -1;
        bool ok = false;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < HTTP_SERVER_MAX_PATHS && idx < 0; i++)
                if (s->paths[i].path && streq(s->paths[i].path, url))
                        idx = (ssize_t) i;
        if (idx >= 0 && (streq(method, "GET") || streq(method, "HEAD"))) {
                ok = wait_for_loop(s, WANT_HEARTBEAT | WANT_PATH(idx));
                if (ok && s->paths[idx].path && s->paths[idx].body) {
                        len = s->paths[idx].len;
                        body = malloc(len + 1);
                        if (body) {
                                memcpy(body, s->paths[idx].body, len);
                                body[len] = '\0';
                        }
                        content_type = s->paths[idx].content_type;
                } else
                        ok = false;
        }
        pthread_mutex_unlock(&s->lock);

        if (idx < 0)
                return respond_text(c, MHD_HTTP_NOT_FOUND, "not found");
        if (!streq(method, "GET") && !streq(method, "HEAD"))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        if (!ok)
                return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not available");
        if (!body)
                return MHD_NO;
        return respond(c, MHD_HTTP_OK, body, len, content_type);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version _unused_, const char *upload_data _unused_,
                                  size_t *upload_data_size, void **con_cls) {
        static int first_call_marker;
        HttpServer *s = cls;
        enum { HEALTHZ, READYZ, METRICS } what;
        char *body = NULL, *reason = NULL;
        size_t len = 0;
        bool ok, ready = false;

        /* MHD calls once with the headers, then again to get the response. */
        if (*con_cls != &first_call_marker) {
                *con_cls = &first_call_marker;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0; /* bodies are ignored */
                return MHD_YES;
        }

        if (streq(url, "/healthz") || startswith(url, "/healthz/"))
                what = HEALTHZ;
        else if (streq(url, "/readyz") || startswith(url, "/readyz/"))
                what = READYZ;
        else if (streq(url, "/metrics"))
                what = METRICS;
        else
                return on_extra_path(s, c, url, method);
        if (!streq(method, "GET") && !streq(method, "HEAD"))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");

        pthread_mutex_lock(&s->lock);
        ok = wait_for_loop(s, what == METRICS ? WANT_HEARTBEAT | WANT_METRICS : WANT_HEARTBEAT);
        if (ok) {
                ready = s->snap.ready;
                if (what == READYZ && !ready && s->snap.reason)
                        reason = strdup(s->snap.reason);
                if (what == METRICS) {
                        len = s->snap.metrics_len;
                        body = malloc(len + 1);
                        if (body)
                                memcpy(body, s->snap.metrics, len + 1);
                }
        }
        pthread_mutex_unlock(&s->lock);

        if (!ok)
                return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "event loop not responding");
        switch (what) {
        case HEALTHZ:
                return respond_text(c, MHD_HTTP_OK, "ok");
        case READYZ: {
                enum MHD_Result r;
                if (ready)
                        return respond_text(c, MHD_HTTP_OK, "ok");
                r = respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, reason ? reason : "not ready");
                free(reason);
                return r;
        }
        case METRICS:
                if (!body)
                        return MHD_NO;
                return respond(c, MHD_HTTP_OK, body, len, METRICS_CONTENT_TYPE);
        }
        return MHD_NO;
}

/* ---- life cycle ---------------------------------------------------------- */

int http_server_new(sd_event *event, const HttpServerOptions *opts, HttpServer **ret) {
        struct sockaddr_storage ss;
        socklen_t sl;
        bool disabled;
        const char *why = NULL;
        pthread_condattr_t ca;
        int fd = -EBADF, r;
        HttpServer *s;

        r = http_bind_address_parse(opts->bind_address, &ss, &sl, &disabled, &why);
        if (r < 0) {
                log_debug("Bad bind address \"%s\": %s", strempty(opts->bind_address), why);
                return r;
        }
        if (disabled) {
                *ret = NULL;
                return 0;
        }

        s = new0(HttpServer, 1);
        if (!s)
                return -ENOMEM;
        s->opts = *opts;
        s->opts.bind_address = NULL;
        if (s->opts.loop_timeout == 0)
                s->opts.loop_timeout = 500 * USEC_PER_MSEC;
        s->wake_fd = -EBADF;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);

        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_add_io(event, &s->wake_source, s->wake_fd, EPOLLIN, on_wake, s);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(s->wake_source, "http-server-wake");

        r = listen_socket(&ss, sl, &fd, &s->port);
        if (r < 0) {
                log_debug_errno(r, "Cannot listen on %s: %m", opts->bind_address);
                goto fail;
        }
        s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request,
                                     s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 32u,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                     (size_t) 64 * 1024, MHD_OPTION_END);
        if (!s->daemon) {
                close(fd);
                r = -EIO;
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        http_server_free(s);
        return r;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (s->daemon)
                MHD_stop_daemon(s->daemon); /* joins the thread, closes the listening socket */
        sd_event_source_disable_unref(s->wake_source);
        if (s->wake_fd >= 0)
                close(s->wake_fd);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s->snap.reason);
        free(s->snap.metrics);
        for (size_t i = 0; i < HTTP_SERVER_MAX_PATHS; i++) {
                free(s->paths[i].path);
                free(s->paths[i].body);
        }
        free(s);
        return NULL;
}

int http_server_add_path(HttpServer *s, const char *path, const char *content_type, http_render_fn render,
                         void *userdata) {
        ssize_t free_slot = -1;
        char *copy;

        if (!s)
                return -EINVAL;
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < HTTP_SERVER_MAX_PATHS; i++) {
                if (s->paths[i].path && streq(s->paths[i].path, path)) {
                        pthread_mutex_unlock(&s->lock);
                        free(copy);
                        return -EEXIST;
                }
                if (!s->paths[i].path && free_slot < 0)
                        free_slot = (ssize_t) i;
        }
        if (free_slot < 0) {
                pthread_mutex_unlock(&s->lock);
                free(copy);
                return -E2BIG;
        }
        s->paths[free_slot] = (ExtraPath) {
                .path = copy, .content_type = content_type, .render = render, .userdata = userdata,
        };
        pthread_mutex_unlock(&s->lock);
        return 0;
}

void http_server_remove_path(HttpServer *s, const char *path) {
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < HTTP_SERVER_MAX_PATHS; i++)
                if (s->paths[i].path && streq(s->paths[i].path, path)) {
                        free(s->paths[i].path);
                        free(s->paths[i].body);
                        s->paths[i] = (ExtraPath) {};
                }
        pthread_mutex_unlock(&s->lock);
}

uint16_t http_server_port(const HttpServer *s) {
        return s ? s->port : 0;
}

unsigned long http_server_refreshes(HttpServer *s) {
        unsigned long n;
        pthread_mutex_lock(&s->lock);
        n = s->refreshes;
        pthread_mutex_unlock(&s->lock);
        return n;
}
