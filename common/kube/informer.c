/* SPDX-License-Identifier: Apache-2.0 */
/* List + watch for one kind and filter (informer.h).
 *
 * Re-entrancy: cache handlers and the on_synced/on_error callbacks are the
 * user's code and may stop or free the informer.  Every callback into this
 * file therefore holds a reference on the informer while it runs, and each
 * request carries a small context that informer_stop() detaches: a request
 * whose callback is running cannot be cancelled (libcurl forbids removing a
 * transfer from inside its own callbacks), so it is aborted by returning an
 * error from on_data instead, and its context is freed by its on_done. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "informer.h"
#include "json.h"
#include "log.h"
#include "watch_splitter.h"

#define DEFAULT_PAGE_LIMIT 500u
#define DEFAULT_MAX_PAGE_BYTES ((size_t) 64 * 1024 * 1024)
#define DEFAULT_WATCH_TIMEOUT_MIN (5 * 60 * USEC_PER_SEC)
#define DEFAULT_IDLE_TIMEOUT (5 * 60 * USEC_PER_SEC)
#define DEFAULT_BACKOFF_INITIAL (800 * USEC_PER_MSEC)
#define DEFAULT_BACKOFF_MAX (30 * USEC_PER_SEC)
#define DEFAULT_BACKOFF_RESET (2 * 60 * USEC_PER_SEC)
/* A watch that ends cleanly this fast without a single event is a server
 * or proxy problem, not the end of timeoutSeconds: back off. */
#define WATCH_MIN_HEALTHY_DURATION USEC_PER_SEC
#define LAST_ERROR_MAX 1024
#define SCRATCH_KEEP_MAX ((size_t) 1024 * 1024)

typedef enum InformerState {
        STATE_STOPPED,
        STATE_LISTING,
        STATE_WATCHING,
        STATE_WAITING, /* back-off timer armed */
} InformerState;

typedef struct RequestCtx {
        Informer *informer; /* NULL once detached */
        KubeRequest *req;
        bool in_callback;
} RequestCtx;

struct Informer {
        unsigned n_ref;
        bool freed;

        sd_event *event;
        KubeClient *client;
        const KubeKind *kind;
        Cache *cache;
        char *namespace, *label_selector, *field_selector;
        char *path; /* /api/v1/namespaces/x/pods */
        InformerOptions o;

        InformerState state;
        uint64_t run_id; /* bumped by every stop: stale callbacks notice */
        RequestCtx *ctx;
        sd_event_source *retry_timer;
        sd_event_source *idle_timer;
        bool retry_relist; /* what the retry timer starts */

        /* LIST in progress. */
        KubeObject **items;
        size_t n_items, cap_items;
        char *continue_token;
        unsigned limit;
        bool listed_once;

        /* WATCH. */
        WatchSplitter *splitter;
        char *scratch; /* an event without its managedFields */
        size_t scratch_size;
        char *resource_version;
        usec_t watch_started;
        usec_t last_activity;
        uint64_t watch_events;   /* events of the current watch, bookmarks included */
        int abort_error;         /* why on_data aborted the stream */
        bool abort_relist;
        char *abort_message;

        /* Back-off. */
        usec_t backoff_cur;
        usec_t last_failure;
        usec_t last_gone;
        uint64_t rng;

        bool synced;
        char *last_error;
        InformerStats stats;
};

static Informer *informer_ref(Informer *i) {
        i->n_ref++;
        return i;
}

static void informer_destroy(Informer *i);

static Informer *informer_unref(Informer *i) {
        if (i && --i->n_ref == 0)
                informer_destroy(i);
        return NULL;
}
DEFINE_POINTER_CLEANUP(Informer, informer_unref);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t rng_next(Informer *i) {
        /* xorshift64*: jitter only, no need for more. */
        i->rng ^= i->rng >> 12;
        i->rng ^= i->rng << 25;
        i->rng ^= i->rng >> 27;
        return i->rng * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [0, n). */
static uint64_t rng_below(Informer *i, uint64_t n) {
        return n > 0 ? rng_next(i) % n : 0;
}

static usec_t loop_now(Informer *i) {
        usec_t t;
        if (sd_event_now(i->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

static void items_clear(Informer *i) {
        for (size_t k = 0; k < i->n_items; k++)
                kube_object_unref(i->items[k]);
        free(i->items);
        i->items = NULL;
        i->n_items = i->cap_items = 0;
}

static int items_append(Informer *i, KubeObject *o) {
        if (!GREEDY_REALLOC(i->items, i->cap_items, i->n_items + 1, 64))
                return -ENOMEM;
        i->items[i->n_items++] = o;
        return 0;
}

/* Returns true when the message differs from the previous one: a failure
 * that repeats (a server down for an hour) is logged once, counted always. */
static bool set_last_error(Informer *i, const char *fmt, va_list ap) {
        char *m = NULL;
        bool changed;

        if (vasprintf(&m, fmt, ap) < 0)
                return false;
        if (strlen(m) > LAST_ERROR_MAX)
                m[LAST_ERROR_MAX] = '\0';
        changed = !streq_ptr(m, i->last_error);
        free(i->last_error);
        i->last_error = m;
        return changed;
}

static void note_error(Informer *i, const char *fmt, ...) _printf_(2, 3);
static void note_error(Informer *i, const char *fmt, ...) {
        va_list ap;
        bool changed;

        va_start(ap, fmt);
        changed = set_last_error(i, fmt, ap);
        va_end(ap);
        if (changed)
                log_debug("informer %s: %s", i->path, strempty(i->last_error));
}

/* What an HTTP failure says, for messages: the Status message, or the code. */
static const char *response_reason(const KubeResponse *resp, char *buf, size_t size) {
        if (resp && resp->status && !isempty(resp->status->message))
                snprintf(buf, size, "HTTP %ld: %s", resp->http_code, resp->status->message);
        else if (resp && resp->http_code > 0)
                snprintf(buf, size, "HTTP %ld", resp->http_code);
        else
                snprintf(buf, size, "no response");
        return buf;
}

/* ---- requests --------------------------------------------------------- */

static void detach_request(Informer *i) {
        RequestCtx *ctx = TAKE_PTR(i->ctx);
        if (!ctx)
                return;
        ctx->informer = NULL;
        /* A request inside its own callback aborts itself on return. */
        if (ctx->in_callback)
                return;
        kube_request_cancel(ctx->req);
        free(ctx);
}

/* The request's done callback: forgets the request and returns its informer,
 * NULL when it was detached meanwhile. */
static Informer *request_finished(RequestCtx *ctx) {
        Informer *i = ctx->informer;

        if (i && i->ctx == ctx)
                i->ctx = NULL;
        free(ctx);
        return i;
}

static int send_request(Informer *i, const char *path, kube_data_fn on_data, kube_done_fn on_done) {
        RequestCtx *ctx = new0(RequestCtx, 1);
        int r;

        if (!ctx)
                return -ENOMEM;
        ctx->informer = i;
        KubeRequestOptions ro = {
                .method = "GET",
                .path = path,
                .max_body = i->o.max_page_bytes,
                .stream = on_data != NULL,
                .on_data = on_data,
                .on_done = on_done,
                .userdata = ctx,
        };
        r = kube_request(i->client, &ro, &ctx->req);
        if (r < 0) {
                free(ctx);
                return r;
        }
        i->ctx = ctx;
        return 0;
}

/* Appends "&name=escaped(value)" (or "?..." first). */
static int query_add(FILE *f, bool *first, const char *name, const char *value) {
        _cleanup_free_ char *esc = kube_escape(value);
        if (!esc)
                return -ENOMEM;
        fprintf(f, "%c%s=%s", *first ? '?' : '&', name, esc);
        *first = false;
        return 0;
}

static int build_path(Informer *i, bool watch, unsigned timeout_seconds, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        bool first = true;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs(i->path, f);
        if (watch) {
                fputs("?watch=1", f);
                first = false;
                if (i->resource_version)
                        r = query_add(f, &first, "resourceVersion", i->resource_version);
                fprintf(f, "&allowWatchBookmarks=true&timeoutSeconds=%u", timeout_seconds);
        } else {
                fprintf(f, "?limit=%u", i->limit);
                first = false;
                if (i->continue_token)
                        r = query_add(f, &first, "continue", i->continue_token);
        }
        if (r >= 0 && i->label_selector)
                r = query_add(f, &first, "labelSelector", i->label_selector);
        if (r >= 0 && i->field_selector)
                r = query_add(f, &first, "fieldSelector", i->field_selector);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- state machine ---------------------------------------------------- */

static void begin_list(Informer *i);
static void begin_watch(Informer *i);
static void on_list_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata);
static int on_watch_data(KubeRequest *req, const char *data, size_t len, void *userdata);
static void on_watch_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata);
static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata);

static usec_t backoff_next(Informer *i) {
        usec_t now = loop_now(i), wait;

        if (i->last_failure > 0 && now - i->last_failure >= i->o.backoff_reset)
                i->backoff_cur = 0;
        i->last_failure = now;
        i->backoff_cur = i->backoff_cur == 0 ? i->o.backoff_initial
                                             : (i->backoff_cur > i->o.backoff_max / 2 ? i->o.backoff_max
                                                                                       : i->backoff_cur * 2);
        /* Jitter upwards by up to half, then keep under the cap with a
         * spread of its own so that clients at the cap do not align. */
        wait = i->backoff_cur + rng_below(i, i->backoff_cur / 2 + 1);
        if (wait > i->o.backoff_max)
                wait = i->o.backoff_max - rng_below(i, i->o.backoff_max / 4 + 1);
        return wait;
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Informer *i = userdata;
        (void) s;
        (void) usec;

        if (i->state != STATE_WAITING)
                return 0;
        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i); /* on_error may free it */
        if (i->retry_relist || !i->resource_version)
                begin_list(i);
        else
                begin_watch(i);
        return 0;
}

static int arm_timer(Informer *i, sd_event_source **s, usec_t delay, sd_event_time_handler_t handler) {
        int r;

        if (!*s) {
                r = sd_event_add_time_relative(i->event, s, CLOCK_MONOTONIC, delay, USEC_PER_MSEC, handler, i);
                if (r < 0)
                        return r;
                return 0;
        }
        r = sd_event_source_set_time_relative(*s, delay);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}

static void disarm_timer(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* Records a failure and schedules the retry (a relist, or a watch from
 * the last resourceVersion).  Runs the on_error callback last: it may free
 * the informer, which callers hold a reference on. */
static void informer_fail(Informer *i, bool relist, int error, const char *fmt, ...) _printf_(4, 5);
static void informer_fail(Informer *i, bool relist, int error, const char *fmt, ...) {
        usec_t delay = backoff_next(i);
        uint64_t run = i->run_id;
        va_list ap;
        bool changed;
        int r;

        va_start(ap, fmt);
        changed = set_last_error(i, fmt, ap);
        va_end(ap);
        if (changed)
                log_debug("informer %s: %s; retrying in %" PRIu64 " ms", i->path, strempty(i->last_error),
                          delay / USEC_PER_MSEC);

        i->stats.errors++;
        if (i->state == STATE_WATCHING)
                i->stats.restarts++;
        detach_request(i);
        disarm_timer(i->idle_timer);
        items_clear(i);
        i->state = STATE_WAITING;
        i->retry_relist = relist;
        r = arm_timer(i, &i->retry_timer, delay, on_retry_timer);
        if (r < 0)
                /* Without a timer nothing would ever retry: say so. */
                log_debug_errno(r, "informer %s: cannot arm the retry timer: %m", i->path);

        if (i->o.on_error && run == i->run_id)
                i->o.on_error(i, error, i->last_error, i->o.userdata);
}

/* 410: the resourceVersion we hold is compacted away.  Relist at once,
 * unless this keeps happening: then the back-off applies. */
static void informer_gone(Informer *i, const char *message) {
        usec_t now = loop_now(i);
        bool repeated = i->last_gone > 0 && now - i->last_gone < i->o.backoff_reset;

        i->last_gone = now;
        if (repeated) {
                informer_fail(i, true, -ESTALE, "%s", message);
                return;
        }
        note_error(i, "%s", message);
        detach_request(i);
        disarm_timer(i->idle_timer);
        begin_list(i);
}

static void send_list_page(Informer *i) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = build_path(i, false, 0, &path);
        if (r >= 0)
                r = send_request(i, path, NULL, on_list_done);
        if (r < 0)
                informer_fail(i, true, r, "list %s: %s", i->path, strerror(-r));
}

static void begin_list(Informer *i) {
        items_clear(i);
        i->continue_token = mfree(i->continue_token);
        i->limit = i->o.page_limit;
        i->state = STATE_LISTING;
        disarm_timer(i->retry_timer);
        send_list_page(i);
}

static void begin_watch(Informer *i) {
        _cleanup_free_ char *path = NULL;
        /* client-go: a random timeout in [min, 2*min) spreads reconnects. */
        usec_t min = i->o.watch_timeout_min;
        unsigned timeout = (unsigned) ((min + rng_below(i, min)) / USEC_PER_SEC);
        int r;

        if (timeout == 0)
                timeout = 1;
        watch_splitter_reset(i->splitter);
        i->abort_error = 0;
        i->abort_relist = false;
        i->abort_message = mfree(i->abort_message);
        i->state = STATE_WATCHING;
        disarm_timer(i->retry_timer);

        r = build_path(i, true, timeout, &path);
        if (r >= 0)
                r = send_request(i, path, on_watch_data, on_watch_done);
        if (r < 0) {
                informer_fail(i, false, r, "watch %s: %s", i->path, strerror(-r));
                return;
        }
        i->stats.watches++;
        i->watch_started = i->last_activity = loop_now(i);
        i->watch_events = 0;
        if (i->o.idle_timeout != USEC_INFINITY) {
                r = arm_timer(i, &i->idle_timer, i->o.idle_timeout, on_idle_timer);
                if (r < 0)
                        log_debug_errno(r, "informer %s: cannot arm the idle timer: %m", i->path);
        }
}

/* ---- LIST ------------------------------------------------------------- */

static void finish_list(Informer *i) {
        KubeObject **items = TAKE_PTR(i->items);
        size_t n = i->n_items;
        uint64_t run = i->run_id;
        int r;

        i->n_items = i->cap_items = 0;
        i->continue_token = mfree(i->continue_token);
        i->stats.lists++;
        if (i->listed_once)
                i->stats.relists++;
        i->listed_once = true;

        /* Handlers run in here and may stop or free us (we hold a ref). */
        r = cache_replace(i->cache, items, n);
        for (size_t k = 0; k < n; k++)
                kube_object_unref(items[k]);
        free(items);
        if (run != i->run_id)
                return;
        if (r < 0) {
                informer_fail(i, true, r, "list %s: cannot fill the cache: %s", i->path, strerror(-r));
                return;
        }
        if (!i->synced) {
                i->synced = true;
                cache_set_synced(i->cache, true);
                if (i->o.on_synced) {
                        i->o.on_synced(i, i->o.userdata);
                        if (run != i->run_id)
                                return;
                }
        }
        begin_watch(i);
}

static void handle_list_response(Informer *i, int error, const KubeResponse *resp) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        const JsonValue *root, *metadata, *items, *item;
        const char *rv, *cont;
        char why[512];
        size_t index = 0;
        int r;

        if (error == -E2BIG) {
                /* design.md: a page over the cap is retried with half the limit. */
                if (i->limit > 1) {
                        i->limit /= 2;
                        i->stats.page_shrinks++;
                        note_error(i, "list %s: page larger than %zu bytes, retrying with limit=%u", i->path,
                                   i->o.max_page_bytes, i->limit);
                        send_list_page(i);
                        return;
                }
                informer_fail(i, true, error, "list %s: a single object is larger than the %zu byte page cap",
                              i->path, i->o.max_page_bytes);
                return;
        }
        if (error < 0) {
                informer_fail(i, true, error, "list %s: %s", i->path,
                              resp && resp->status && resp->status->message ? resp->status->message
                                                                             : strerror(-error));
                return;
        }
        if (!resp || resp->http_code != 200) {
                informer_fail(i, true, -EIO, "list %s: %s", i->path, response_reason(resp, why, sizeof why));
                return;
        }

        JsonLimits limits = { .max_bytes = i->o.max_page_bytes };
        _cleanup_free_ char *stripped = resp->body_len > 0 ? malloc(resp->body_len) : NULL;
        size_t stripped_len = stripped ? kube_json_strip_managed_fields(resp->body, resp->body_len, false, stripped) : 0;
        if (stripped_len > 0)
                r = json_parse(stripped, stripped_len, &limits, &doc, &err);
        else
                r = json_parse(resp->body ? resp->body : "", resp->body_len, &limits, &doc, &err);
        stripped = mfree(stripped); /* the tree holds copies */
        if (r < 0) {
                informer_fail(i, true, -EBADMSG, "list %s: malformed response: %s", i->path,
                              err ? err : strerror(-r));
                return;
        }
        root = json_doc_root(doc);
        metadata = json_get(root, "metadata");
        items = json_get(root, "items");
        rv = json_get_string(metadata, "resourceVersion");
        cont = json_get_string(metadata, "continue");
        if (json_type(root) != JSON_OBJECT || (items && !json_is_null(items) && json_type(items) != JSON_ARRAY) ||
            isempty(rv)) {
                informer_fail(i, true, -EBADMSG, "list %s: not a list (items or metadata.resourceVersion missing)",
                              i->path);
                return;
        }

        KubeDecodeContext dctx = { .pool = cache_pool(i->cache) };
        JSON_ARRAY_FOREACH(item, items) {
                _cleanup_free_ char *derr = NULL;
                KubeObject *o = NULL;

                r = kube_object_decode(i->kind, item, &dctx, &o, &derr);
                if (r < 0) {
                        /* One bad object must not keep the rest from the
                         * cache; a retry would not fix it either. */
                        i->stats.decode_errors++;
                        note_error(i, "list %s: items[%zu] %s/%s: %s", i->path, index,
                                   strempty(json_get_string(json_get(item, "metadata"), "namespace")),
                                   strempty(json_get_string(json_get(item, "metadata"), "name")),
                                   derr ? derr : strerror(-r));
                        index++;
                        continue;
                }
                index++;
                r = items_append(i, o);
                if (r < 0) {
                        kube_object_unref(o);
                        informer_fail(i, true, r, "list %s: %s", i->path, strerror(-r));
                        return;
                }
        }
        i->stats.list_pages++;

        if (!isempty(cont)) {
                r = free_and_strdup(&i->continue_token, cont);
                if (r < 0) {
                        informer_fail(i, true, r, "list %s: %s", i->path, strerror(-r));
                        return;
                }
                send_list_page(i);
                return;
        }
        r = free_and_strdup(&i->resource_version, rv);
        if (r < 0) {
                informer_fail(i, true, r, "list %s: %s", i->path, strerror(-r));
                return;
        }
        doc = json_doc_free(doc); /* before the cache grows: lower peak */
        finish_list(i);
}

static void on_list_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        Informer *i = request_finished(userdata);
        (void) req;

        if (!i)
                return;
        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i);
        handle_list_response(i, error, resp);
}

/* ---- WATCH ------------------------------------------------------------ */

static int watch_abort(Informer *i, int error, bool relist, const char *fmt, ...) _printf_(4, 5);
static int watch_abort(Informer *i, int error, bool relist, const char *fmt, ...) {
        va_list ap;

        if (i->abort_error < 0)
                return i->abort_error;
        i->abort_error = error;
        i->abort_relist = relist;
        i->abort_message = mfree(i->abort_message);
        va_start(ap, fmt);
        if (vasprintf(&i->abort_message, fmt, ap) < 0)
                i->abort_message = NULL;
        va_end(ap);
        return error;
}

/* An ERROR event's object, or a bare Status the server sent instead of a stream. */
static int handle_status(Informer *i, const JsonValue *status) {
        int64_t code = 0;
        const char *reason = json_get_string(status, "reason");
        const char *message = json_get_string(status, "message");

        (void) json_int64(json_get(status, "code"), &code);
        if (code == 410 || streq_ptr(reason, "Expired") || streq_ptr(reason, "Gone"))
                return watch_abort(i, -ESTALE, true, "watch %s: resourceVersion %s expired (410): %s", i->path,
                                   strempty(i->resource_version), strempty(message));
        return watch_abort(i, -EIO, false, "watch %s: ERROR event: %" PRId64 " %s: %s", i->path, code,
                           strempty(reason), strempty(message));
}

static int advance_resource_version(Informer *i, const JsonValue *object) {
        const char *rv = json_get_string(json_get(object, "metadata"), "resourceVersion");
        if (isempty(rv))
                return 0;
        return free_and_strdup(&i->resource_version, rv);
}

static int handle_line(Informer *i, const char *line, size_t len) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        const JsonValue *root, *object, *metadata;
        const char *type;
        int r;

        JsonLimits limits = { .max_bytes = i->o.max_event_bytes };
        if (len > i->scratch_size) {
                char *b = realloc(i->scratch, len);
                if (!b)
                        return watch_abort(i, -ENOMEM, false, "watch %s: out of memory", i->path);
                i->scratch = b;
                i->scratch_size = len;
        }
        size_t stripped = kube_json_strip_managed_fields(line, len, true, i->scratch);
        r = stripped > 0 ? json_parse(i->scratch, stripped, &limits, &doc, &err) : json_parse(line, len, &limits, &doc, &err);
        if (i->scratch_size > SCRATCH_KEEP_MAX) {
                /* One huge event must not pin its size. */
                i->scratch = mfree(i->scratch);
                i->scratch_size = 0;
        }
        if (r < 0)
                return watch_abort(i, -EBADMSG, false, "watch %s: malformed event: %s", i->path,
                                   err ? err : strerror(-r));
        root = json_doc_root(doc);
        type = json_get_string(root, "type");
        object = json_get(root, "object");
        if (!type) {
                if (streq_ptr(json_get_string(root, "kind"), "Status"))
                        return handle_status(i, root);
                return watch_abort(i, -EBADMSG, false, "watch %s: malformed event: no type", i->path);
        }
        if (json_type(object) != JSON_OBJECT)
                return watch_abort(i, -EBADMSG, false, "watch %s: malformed %s event: no object", i->path, type);

        i->last_activity = loop_now(i);
        i->watch_events++;

        if (streq(type, "BOOKMARK")) {
                if (isempty(json_get_string(json_get(object, "metadata"), "resourceVersion")))
                        return watch_abort(i, -EBADMSG, false, "watch %s: BOOKMARK without resourceVersion",
                                           i->path);
                i->stats.bookmarks++;
                return advance_resource_version(i, object);
        }
        if (streq(type, "ERROR"))
                return handle_status(i, object);

        if (streq(type, "ADDED") || streq(type, "MODIFIED")) {
                _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
                KubeDecodeContext dctx = { .pool = cache_pool(i->cache) };
                _cleanup_free_ char *derr = NULL;

                r = kube_object_decode(i->kind, object, &dctx, &o, &derr);
                if (r < 0) {
                        metadata = json_get(object, "metadata");
                        i->stats.decode_errors++;
                        note_error(i, "watch %s: %s %s/%s: %s", i->path, type,
                                   strempty(json_get_string(metadata, "namespace")),
                                   strempty(json_get_string(metadata, "name")), derr ? derr : strerror(-r));
                        return advance_resource_version(i, object);
                }
                if (o->meta.resource_version) {
                        r = free_and_strdup(&i->resource_version, o->meta.resource_version);
                        if (r < 0)
                                return watch_abort(i, r, true, "watch %s: out of memory", i->path);
                }
                i->stats.events++;
                /* Handlers run in here; nothing of i is used afterwards but
                 * the abort fields, which survive a stop. */
                r = cache_upsert(i->cache, o);
                if (r < 0)
                        return watch_abort(i, r, true, "watch %s: cannot update the cache: %s", i->path,
                                           strerror(-r));
                return 0;
        }

        if (streq(type, "DELETED")) {
                const char *name, *namespace = NULL;

                metadata = json_get(object, "metadata");
                name = json_get_string(metadata, "name");
                if (isempty(name))
                        return watch_abort(i, -EBADMSG, false, "watch %s: DELETED without metadata.name", i->path);
                if (i->kind->namespaced) {
                        namespace = json_get_string(metadata, "namespace");
                        /* As object_meta_decode: no namespace is "default". */
                        if (isempty(namespace))
                                namespace = "default";
                }
                r = advance_resource_version(i, object);
                if (r < 0)
                        return watch_abort(i, r, true, "watch %s: out of memory", i->path);
                i->stats.events++;
                (void) cache_remove(i->cache, namespace, name);
                return 0;
        }

        return watch_abort(i, -EBADMSG, false, "watch %s: unknown event type \"%s\"", i->path, type);
}

static int on_watch_data(KubeRequest *req, const char *data, size_t len, void *userdata) {
        RequestCtx *ctx = userdata;
        Informer *i = ctx->informer;
        const char *line;
        size_t n;
        int r;
        (void) req;

        if (!i)
                return -ECANCELED;

        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i);
        ctx->in_callback = true;
        r = watch_splitter_feed(i->splitter, data, len);
        while (r >= 0) {
                r = watch_splitter_next(i->splitter, &line, &n);
                if (r <= 0)
                        break;
                r = handle_line(i, line, n);
                if (!ctx->informer)
                        break; /* a handler stopped or freed us */
        }
        ctx->in_callback = false;

        if (!ctx->informer)
                return -ECANCELED; /* detached: on_done frees ctx */
        if (r == -E2BIG)
                return watch_abort(i, r, false, "watch %s: event larger than %zu bytes", i->path,
                                   i->o.max_event_bytes);
        if (r < 0)
                return watch_abort(i, r, false, "watch %s: %s", i->path, strerror(-r));
        return 0;
}

static void handle_watch_end(Informer *i, int error, const KubeResponse *resp) {
        long code = resp ? resp->http_code : 0;
        char why[512];
        int r;

        disarm_timer(i->idle_timer);

        /* The HTTP status says more than what its body did to the parser. */
        if (code == 410) {
                snprintf(why, sizeof why, "watch %s: resourceVersion %s expired (HTTP 410)", i->path,
                         strempty(i->resource_version));
                informer_gone(i, why);
                return;
        }
        if (code != 0 && code != 200) {
                informer_fail(i, false, -EIO, "watch %s: %s", i->path, response_reason(resp, why, sizeof why));
                return;
        }
        if (i->abort_error < 0) {
                if (i->abort_relist)
                        informer_gone(i, strempty(i->abort_message));
                else
                        informer_fail(i, false, i->abort_error, "%s", strempty(i->abort_message));
                return;
        }
        if (error < 0) {
                informer_fail(i, false, error, "watch %s: %s", i->path,
                              resp && resp->status && resp->status->message ? resp->status->message
                                                                             : strerror(-error));
                return;
        }
        r = watch_splitter_finish(i->splitter);
        if (r < 0) {
                informer_fail(i, false, r, "watch %s: stream ended inside an event (%zu bytes pending)", i->path,
                              watch_splitter_pending(i->splitter));
                return;
        }
        if (i->watch_events == 0 && loop_now(i) - i->watch_started < WATCH_MIN_HEALTHY_DURATION) {
                informer_fail(i, false, -EPIPE, "watch %s: closed right away without an event", i->path);
                return;
        }
        /* timeoutSeconds ran out: resume from where we are. */
        begin_watch(i);
}

static void on_watch_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        Informer *i = request_finished(userdata);
        (void) req;

        if (!i)
                return;
        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i);
        handle_watch_end(i, error, resp);
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Informer *i = userdata;
        usec_t now = loop_now(i), idle = now - i->last_activity;
        (void) s;
        (void) usec;

        if (i->state != STATE_WATCHING)
                return 0;
        if (idle < i->o.idle_timeout) {
                (void) arm_timer(i, &i->idle_timer, i->o.idle_timeout - idle, on_idle_timer);
                return 0;
        }
        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i);
        i->stats.idle_restarts++;
        /* A silent stream means a dead connection (a middlebox froze it, the
         * peer vanished): retire it, or the next watch would queue on it. */
        kube_client_break_connections(i->client);
        informer_fail(i, false, -ETIMEDOUT, "watch %s: nothing received for %" PRIu64 " ms, restarting", i->path,
                      idle / USEC_PER_MSEC);
        return 0;
}

/* ---- public ----------------------------------------------------------- */

static int strdup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int informer_new(sd_event *event, KubeClient *client, const KubeKind *kind, const SourceFilter *filter, Cache *cache,
                 const InformerOptions *opts, Informer **ret) {
        _cleanup_(informer_unrefp) Informer *i = NULL;
        const SourceFilter empty = {};
        int r;

        if (!event || !client || !kind || !cache || !ret || cache_kind(cache) != kind)
                return -EINVAL;
        if (!filter)
                filter = &empty;

        i = new0(Informer, 1);
        if (!i)
                return -ENOMEM;
        i->n_ref = 1;
        i->event = sd_event_ref(event);
        i->client = client;
        i->kind = kind;
        i->cache = cache;
        if (opts)
                i->o = *opts;
        if (i->o.page_limit == 0)
                i->o.page_limit = DEFAULT_PAGE_LIMIT;
        if (i->o.max_page_bytes == 0)
                i->o.max_page_bytes = DEFAULT_MAX_PAGE_BYTES;
        if (i->o.max_event_bytes == 0)
                i->o.max_event_bytes = WATCH_EVENT_MAX_DEFAULT;
        if (i->o.watch_timeout_min == 0)
                i->o.watch_timeout_min = DEFAULT_WATCH_TIMEOUT_MIN;
        if (i->o.idle_timeout == 0)
                i->o.idle_timeout = DEFAULT_IDLE_TIMEOUT;
        if (i->o.backoff_initial == 0)
                i->o.backoff_initial = DEFAULT_BACKOFF_INITIAL;
        if (i->o.backoff_max == 0)
                i->o.backoff_max = DEFAULT_BACKOFF_MAX;
        if (i->o.backoff_max < i->o.backoff_initial)
                i->o.backoff_max = i->o.backoff_initial;
        if (i->o.backoff_reset == 0)
                i->o.backoff_reset = DEFAULT_BACKOFF_RESET;
        i->rng = i->o.seed;
        if (i->rng == 0 && getrandom(&i->rng, sizeof i->rng, GRND_NONBLOCK) != sizeof i->rng)
                i->rng = now_usec(CLOCK_MONOTONIC);
        if (i->rng == 0)
                i->rng = UINT64_C(0x9e3779b97f4a7c15);

        if ((r = strdup_opt(kind->namespaced ? filter->namespace : NULL, &i->namespace)) < 0 ||
            (r = strdup_opt(filter->label_selector, &i->label_selector)) < 0 ||
            (r = strdup_opt(filter->field_selector, &i->field_selector)) < 0)
                return r;
        i->path = kube_path(kind->group, kind->version, kind->resource, i->namespace, NULL, NULL);
        if (!i->path)
                return -ENOMEM;
        r = watch_splitter_new(i->o.max_event_bytes, &i->splitter);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(i);
        return 0;
}

int informer_start(Informer *i) {
        if (!i || i->freed)
                return -EINVAL;
        if (i->state != STATE_STOPPED)
                return -EALREADY;
        _cleanup_(informer_unrefp) Informer *ref = informer_ref(i);
        begin_list(i);
        return 0;
}

void informer_stop(Informer *i) {
        if (!i)
                return;
        i->run_id++;
        detach_request(i);
        disarm_timer(i->retry_timer);
        disarm_timer(i->idle_timer);
        items_clear(i);
        i->continue_token = mfree(i->continue_token);
        i->state = STATE_STOPPED;
}

static void informer_destroy(Informer *i) {
        informer_stop(i);
        sd_event_source_disable_unref(i->retry_timer);
        sd_event_source_disable_unref(i->idle_timer);
        watch_splitter_free(i->splitter);
        free(i->scratch);
        free(i->namespace);
        free(i->label_selector);
        free(i->field_selector);
        free(i->path);
        free(i->resource_version);
        free(i->abort_message);
        free(i->last_error);
        sd_event_unref(i->event);
        free(i);
}

Informer *informer_free(Informer *i) {
        if (!i)
                return NULL;
        informer_stop(i);
        i->freed = true;
        return informer_unref(i);
}

bool informer_synced(const Informer *i) {
        return i && i->synced;
}

bool informer_running(const Informer *i) {
        return i && i->state != STATE_STOPPED;
}

const KubeKind *informer_kind(const Informer *i) {
        return i->kind;
}

Cache *informer_cache(const Informer *i) {
        return i->cache;
}

const char *informer_resource_version(const Informer *i) {
        return i->resource_version;
}

const char *informer_last_error(const Informer *i) {
        return i->last_error;
}

void informer_get_stats(const Informer *i, InformerStats *ret) {
        *ret = i->stats;
}
