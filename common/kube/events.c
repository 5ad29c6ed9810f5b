/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>

#include "events.h"
#include "json.h"
#include "log.h"

#define NAME_MAX_LEN 253

typedef struct Entry {
        char *key;                 /* uid \x1f reason \x1f type \x1f note \x1f action */
        uint64_t hash;
        struct Entry *hnext;
        struct Entry *newer, *older; /* LRU list */
        char *namespace, *name;
        int64_t count;
        usec_t last_observed;
        usec_t last_patch;         /* 0 = never patched */
        int64_t patched_count;     /* count the server last got */
        bool pending;              /* count > patched_count, waiting for the interval */
} Entry;

struct EventRecorder {
        EventRecorderOptions o;
        char *controller, *instance;
        Entry **buckets;
        size_t n_buckets, n_entries;
        Entry *newest, *oldest;
        size_t n_pending;
        sd_event_source *timer;
};

static usec_t wall_now(EventRecorder *r) {
        struct timespec ts;
        if (r->o.now)
                return r->o.now(r->o.now_userdata);
        clock_gettime(CLOCK_REALTIME, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t hash_str(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

/* ---- table + LRU --------------------------------------------------------- */

static void lru_unlink(EventRecorder *r, Entry *e) {
        if (e->newer)
                e->newer->older = e->older;
        else
                r->newest = e->older;
        if (e->older)
                e->older->newer = e->newer;
        else
                r->oldest = e->newer;
        e->newer = e->older = NULL;
}

static void lru_push_newest(EventRecorder *r, Entry *e) {
        e->older = r->newest;
        e->newer = NULL;
        if (r->newest)
                r->newest->newer = e;
        r->newest = e;
        if (!r->oldest)
                r->oldest = e;
}

static Entry *entry_find_key(EventRecorder *r, const char *key) {
        uint64_t h = hash_str(key);
        for (Entry *e = r->buckets[h & (r->n_buckets - 1)]; e; e = e->hnext)
                if (e->hash == h && streq(e->key, key))
                        return e;
        return NULL;
}

static Entry *entry_find_name(EventRecorder *r, const char *namespace, const char *name) {
        for (Entry *e = r->newest; e; e = e->older)
                if (streq(e->name, name) && streq(e->namespace, namespace))
                        return e;
        return NULL;
}

static void entry_remove(EventRecorder *r, Entry *e) {
        for (Entry **p = &r->buckets[e->hash & (r->n_buckets - 1)]; *p; p = &(*p)->hnext)
                if (*p == e) {
                        *p = e->hnext;
                        break;
                }
        lru_unlink(r, e);
        if (e->pending)
                r->n_pending--;
        r->n_entries--;
        free(e->key);
        free(e->namespace);
        free(e->name);
        free(e);
}

static void entry_insert(EventRecorder *r, Entry *e) {
        size_t b = e->hash & (r->n_buckets - 1);
        e->hnext = r->buckets[b];
        r->buckets[b] = e;
        lru_push_newest(r, e);
        r->n_entries++;
        while (r->n_entries > r->o.max_entries && r->oldest != e)
                entry_remove(r, r->oldest);
}

/* ---- JSON ---------------------------------------------------------------- */

static int body_event(EventRecorder *r, const Entry *e, const EventObjectRef *reg, const char *type,
                      const char *reason, const char *action, const char *note, usec_t now, char **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char t[RFC3339_MAX];
        int k;

        if (!g)
                return -ENOMEM;
        if ((k = json_gen_map_open(g)) < 0 || (k = json_gen_kv_str(g, "apiVersion", "events.k8s.io/v1")) < 0 ||
            (k = json_gen_kv_str(g, "kind", "Event")) < 0 || (k = json_gen_str(g, "metadata")) < 0 ||
            (k = json_gen_map_open(g)) < 0 || (k = json_gen_kv_str(g, "name", e->name)) < 0 ||
            (k = json_gen_kv_str(g, "namespace", e->namespace)) < 0 || (k = json_gen_map_close(g)) < 0 ||
            (k = json_gen_kv_str(g, "eventTime", rfc3339_format_micro(now, t))) < 0 ||
            (k = json_gen_kv_str(g, "reportingController", r->controller)) < 0 ||
            (k = json_gen_kv_str(g, "reportingInstance", r->instance)) < 0 ||
            (k = json_gen_kv_str(g, "action", action)) < 0 || (k = json_gen_kv_str(g, "reason", reason)) < 0 ||
            (k = json_gen_str(g, "regarding")) < 0 || (k = json_gen_map_open(g)) < 0)
                return k;
        if (reg->api_version && (k = json_gen_kv_str(g, "apiVersion", reg->api_version)) < 0)
                return k;
        if (reg->kind && (k = json_gen_kv_str(g, "kind", reg->kind)) < 0)
                return k;
        if (!isempty(reg->namespace) && (k = json_gen_kv_str(g, "namespace", reg->namespace)) < 0)
                return k;
        if ((k = json_gen_kv_str(g, "name", reg->name)) < 0)
                return k;
        if (!isempty(reg->uid) && (k = json_gen_kv_str(g, "uid", reg->uid)) < 0)
                return k;
        if ((k = json_gen_map_close(g)) < 0 || (k = json_gen_kv_str(g, "note", note)) < 0 ||
            (k = json_gen_kv_str(g, "type", type)) < 0 || (k = json_gen_map_close(g)) < 0)
                return k;
        return json_gen_take(g, ret, NULL);
}

static int body_series(const Entry *e, char **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char t[RFC3339_MAX];
        int k;

        if (!g)
                return -ENOMEM;
        if ((k = json_gen_map_open(g)) < 0 || (k = json_gen_str(g, "series")) < 0 || (k = json_gen_map_open(g)) < 0 ||
            (k = json_gen_kv_int(g, "count", e->count)) < 0 ||
            (k = json_gen_kv_str(g, "lastObservedTime", rfc3339_format_micro(e->last_observed, t))) < 0 ||
            (k = json_gen_map_close(g)) < 0 || (k = json_gen_map_close(g)) < 0)
                return k;
        return json_gen_take(g, ret, NULL);
}

/* ---- names --------------------------------------------------------------- */

static char *name_with_suffix(const char *regarding_name, const char *hex16) {
        size_t n = strlen(regarding_name);
        char *s = NULL;
        /* Keep the whole name valid (≤ 253) by shortening the regarding part. */
        if (n > NAME_MAX_LEN - 17)
                n = NAME_MAX_LEN - 17;
        if (asprintf(&s, "%.*s.%s", (int) n, regarding_name, hex16) < 0)
                return NULL;
        return s;
}

int event_name_deterministic(const char *regarding_name, const char *reason, const char *uid, const char *note,
                             char **ret) {
        _cleanup_free_ char *input = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        char hex[17];
        char *s;

        if (asprintf(&input, "%s/%s/%s", reason, strempty(uid), note) < 0)
                return -ENOMEM;
        if (EVP_Digest(input, strlen(input), md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 8)
                return -EIO;
        for (size_t i = 0; i < 8; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        s = name_with_suffix(regarding_name, hex);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int name_random(const char *regarding_name, char **ret) {
        uint64_t v;
        char hex[17];
        char *s;

        if (getrandom(&v, sizeof(v), 0) != (ssize_t) sizeof(v))
                return -EIO;
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) v);
        s = name_with_suffix(regarding_name, hex);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- series patches ------------------------------------------------------ */

static void set_pending(EventRecorder *r, Entry *e, bool pending) {
        if (e->pending == pending)
                return;
        e->pending = pending;
        if (pending)
                r->n_pending++;
        else
                r->n_pending--;
}

static int send_patch(EventRecorder *r, Entry *e, usec_t now) {
        _cleanup_free_ char *body = NULL;
        EventWrite w;
        int k;

        k = body_series(e, &body);
        if (k < 0)
                return k;
        w = (EventWrite){ .method = "PATCH", .namespace = e->namespace, .name = e->name, .body = body };
        e->last_patch = now;
        e->patched_count = e->count;
        set_pending(r, e, false);
        k = r->o.sink(r, &w, r->o.sink_userdata);
        if (k < 0)
                log_debug_errno(k, "Event %s/%s: cannot send the series update: %m", e->namespace, e->name);
        return k;
}

static void arm_timer(EventRecorder *r) {
        usec_t due = USEC_INFINITY, wall;
        uint64_t mono;

        if (!r->timer)
                return;
        if (r->n_pending == 0) {
                (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
                return;
        }
        for (Entry *e = r->newest; e; e = e->older)
                if (e->pending && e->last_patch + r->o.patch_interval < due)
                        due = e->last_patch + r->o.patch_interval;
        /* Due times are wall-clock; the timer runs on the monotonic clock. */
        wall = wall_now(r);
        if (sd_event_now(r->o.event, CLOCK_MONOTONIC, &mono) < 0)
                return;
        (void) sd_event_source_set_time(r->timer, mono + (due > wall ? due - wall : 0));
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

static int flush_due(EventRecorder *r, bool all) {
        usec_t now = wall_now(r);
        int ret = 0;

        for (Entry *e = r->newest, *next; e && r->n_pending > 0; e = next) {
                next = e->older;
                if (e->pending && (all || now >= e->last_patch + r->o.patch_interval)) {
                        int k = send_patch(r, e, now);
                        if (k < 0 && ret == 0)
                                ret = k;
                }
        }
        arm_timer(r);
        return ret;
}

static int on_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        (void) flush_due(userdata, false);
        return 0;
}

int event_recorder_flush(EventRecorder *r) {
        return flush_due(r, true);
}

/* ---- life cycle ---------------------------------------------------------- */

int event_recorder_new(const EventRecorderOptions *opts, EventRecorder **ret) {
        _cleanup_(event_recorder_freep) EventRecorder *r = NULL;
        int k;

        if (!opts || !opts->sink || isempty(opts->reporting_controller) || isempty(opts->reporting_instance))
                return -EINVAL;
        r = new0(EventRecorder, 1);
        if (!r)
                return -ENOMEM;
        r->o = *opts;
        if (r->o.series_window == 0)
                r->o.series_window = 6 * 60 * USEC_PER_SEC;
        if (r->o.patch_interval == 0)
                r->o.patch_interval = 30 * USEC_PER_SEC;
        if (r->o.max_entries == 0)
                r->o.max_entries = 4096;
        r->controller = strdup(opts->reporting_controller);
        r->instance = strdup(opts->reporting_instance);
        if (!r->controller || !r->instance)
                return -ENOMEM;
        r->n_buckets = 64;
        while (r->n_buckets < r->o.max_entries && r->n_buckets < 65536)
                r->n_buckets *= 2;
        r->buckets = new0(Entry *, r->n_buckets);
        if (!r->buckets)
                return -ENOMEM;
        if (opts->event) {
                r->o.event = sd_event_ref(opts->event);
                k = sd_event_add_time(opts->event, &r->timer, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_SEC, on_timer,
                                      r);
                if (k < 0)
                        return k;
                (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
                (void) sd_event_source_set_description(r->timer, "event-series");
        }
        *ret = TAKE_PTR(r);
        return 0;
}

EventRecorder *event_recorder_free(EventRecorder *r) {
        if (!r)
                return NULL;
        if (r->o.sink_detach)
                r->o.sink_detach(r->o.sink_userdata);
        while (r->oldest)
                entry_remove(r, r->oldest);
        free(r->buckets);
        sd_event_source_disable_unref(r->timer);
        sd_event_unref(r->o.event);
        free(r->controller);
        free(r->instance);
        free(r);
        return NULL;
}

size_t event_recorder_size(const EventRecorder *r) {
        return r->n_entries;
}

/* ---- emitting ------------------------------------------------------------ */

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n <= max)
                return n;
        n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

int event_recorder_emit(EventRecorder *r, const EventObjectRef *regarding, const char *type, const char *reason,
                        const char *action, const char *note) {
        _cleanup_free_ char *key = NULL, *body = NULL, *note_cut = NULL;
        usec_t now = wall_now(r);
        const char *ns;
        Entry *e;
        int k;

        if (!regarding || isempty(regarding->name) || !type || (!streq(type, "Normal") && !streq(type, "Warning")) ||
            isempty(reason) || strlen(reason) > EVENT_REASON_MAX || isempty(action) ||
            strlen(action) > EVENT_ACTION_MAX)
                return -EINVAL;
        note_cut = strndup(strempty(note), utf8_cut(strempty(note), EVENT_NOTE_MAX));
        if (!note_cut)
                return -ENOMEM;
        if (asprintf(&key, "%s\x1f%s/%s/%s\x1f%s\x1f%s\x1f%s\x1f%s", strempty(regarding->uid),
                     strempty(regarding->namespace), strempty(regarding->kind), regarding->name, reason, type,
                     note_cut, action) < 0)
                return -ENOMEM;

        e = entry_find_key(r, key);
        if (e && now - e->last_observed < r->o.series_window && now >= e->last_observed) {
                /* A repeat: part of the series, never a new object. */
                e->count++;
                e->last_observed = now;
                lru_unlink(r, e);
                lru_push_newest(r, e);
                if (e->last_patch == 0 || now >= e->last_patch + r->o.patch_interval)
                        (void) send_patch(r, e, now);
                else {
                        set_pending(r, e, true);
                        arm_timer(r);
                }
                return 0;
        }
        if (e)
                entry_remove(r, e); /* the series ended: a new Event */

        e = new0(Entry, 1);
        if (!e)
                return -ENOMEM;
        ns = isempty(regarding->namespace) ? "default" : regarding->namespace;
        e->key = TAKE_PTR(key);
        e->hash = hash_str(e->key);
        e->namespace = strdup(ns);
        e->count = 1;
        e->patched_count = 1;
        e->last_observed = now;
        k = r->o.deterministic_names ? event_name_deterministic(regarding->name, reason, regarding->uid, note_cut,
                                                                &e->name)
                                     : name_random(regarding->name, &e->name);
        if (k < 0 || !e->namespace) {
                free(e->key);
                free(e->namespace);
                free(e->name);
                free(e);
                return k < 0 ? k : -ENOMEM;
        }
        k = body_event(r, e, regarding, type, reason, action, note_cut, now, &body);
        if (k < 0) {
                free(e->key);
                free(e->namespace);
                free(e->name);
                free(e);
                return k;
        }
        entry_insert(r, e);
        EventWrite w = { .method = "POST", .namespace = e->namespace, .name = e->name, .body = body };
        k = r->o.sink(r, &w, r->o.sink_userdata);
        if (k < 0) {
                log_debug_errno(k, "Event %s/%s: cannot send: %m", w.namespace, w.name);
                entry_remove(r, e);
                return k;
        }
        return 1;
}

int event_recorder_emitf(EventRecorder *r, const EventObjectRef *regarding, const char *type, const char *reason,
                         const char *action, const char *note_fmt, ...) {
        _cleanup_free_ char *note = NULL;
        va_list ap;
        int k;

        va_start(ap, note_fmt);
        k = vasprintf(&note, note_fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return event_recorder_emit(r, regarding, type, reason, action, note);
}

void event_recorder_write_result(EventRecorder *r, const char *namespace, const char *name, const char *method,
                                 int error, long http_code) {
        Entry *e;

        if (error >= 0 && (http_code == 0 || (http_code >= 200 && http_code < 300)))
                return;
        e = entry_find_name(r, namespace, name);
        if (!e)
                return;
        log_debug("Event %s/%s: %s failed (%ld): forgetting it", namespace, name, method, http_code);
        /* Created nothing, or the object vanished: the next occurrence starts afresh. */
        if (streq(method, "POST") || http_code == 404)
                entry_remove(r, e);
        else
                set_pending(r, e, true); /* the server missed this count: send it again later */
        arm_timer(r);
}
