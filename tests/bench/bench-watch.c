/* SPDX-License-Identifier: Apache-2.0 */
/* Watch event processing rate from a recorded stream replay: Pod MODIFIED
 * events (a real Pod captured from kube-apiserver, tests/unit/fixtures/
 * pod.json, renamed over 1000 pods) go through what the informer does per
 * event: the NDJSON splitter (16 KiB chunks, as libcurl delivers them),
 * JSON parsing under the event cap, the Pod decoder, cache_upsert and an
 * update handler.  Single core, no network.  Prints `name: value unit`. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "json.h"
#include "pod.h"
#include "timeutil.h"
#include "watch_splitter.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

#define PODS 1000
#define CHUNK 16384

int main(int argc, char **argv);

static char *read_file(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t cap = 0, len = 0, n;

        if (!f)
                return NULL;
        do {
                if (len + 4096 > cap) {
                        char *b = realloc(buf, cap = cap * 2 + 8192);
                        if (!b) {
                                free(buf);
                                fclose(f);
                                return NULL;
                        }
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
        } while (n > 0);
        fclose(f);
        buf[len] = '\0';
        *ret_len = len;
        return buf;
}

/* The pod as one compact line with "%NAME%" and "%RV%" holes. */
static char *pod_template(const char *pod_json, size_t len) {
        JsonDoc *doc = NULL;
        char *err = NULL, *out = NULL, *compact = NULL;
        size_t out_len;
        const char *name, *rv;

        /* Keep managedFields: the recorded stream carries them. */
        if (json_parse(pod_json, len, &(JsonLimits) { .keep_managed_fields = true }, &doc, &err) < 0) {
                fprintf(stderr, "bench-watch: fixture: %s\n", err ? err : "parse error");
                exit(1);
        }
        yajl_gen g = json_gen_new(false);
        if (!g || json_write(g, json_doc_root(doc)) < 0 || json_gen_take(g, &compact, &out_len) < 0)
                exit(1);
        json_gen_freep(&g);
        name = json_get_string(json_get(json_doc_root(doc), "metadata"), "name");
        rv = json_get_string(json_get(json_doc_root(doc), "metadata"), "resourceVersion");
        if (!name || !rv)
                exit(1);

        char *name_kv = NULL, *rv_kv = NULL;
        if (asprintf(&name_kv, "\"name\":\"%s\"", name) < 0 || asprintf(&rv_kv, "\"resourceVersion\":\"%s\"", rv) < 0)
                exit(1);
        char *p = strstr(compact, name_kv), *q = strstr(compact, rv_kv);
        if (!p || !q || q < p)
                exit(1);
        /* prefix | "name":"%NAME%" | middle | "resourceVersion":"%RV%" | suffix */
        if (asprintf(&out, "%.*s\"name\":\"%%NAME%%\"%.*s\"resourceVersion\":\"%%RV%%\"%s", (int) (p - compact), compact,
                     (int) (q - p - strlen(name_kv)), p + strlen(name_kv), q + strlen(rv_kv)) < 0)
                exit(1);
        free(name_kv);
        free(rv_kv);
        free(compact);
        free(err);
        json_doc_free(doc);
        return out;
}

/* PODS MODIFIED events, resourceVersions base, base + 2, ... */
static char *make_block(const char *tmpl, unsigned base, size_t *ret_len) {
        const char *n = strstr(tmpl, "%NAME%"), *r = strstr(tmpl, "%RV%");
        size_t cap = PODS * (strlen(tmpl) + 64), len = 0;
        char *buf = malloc(cap);

        if (!buf)
                exit(1);
        for (unsigned i = 0; i < PODS; i++)
                len += (size_t) snprintf(buf + len, cap - len,
                                         "{\"type\":\"MODIFIED\",\"object\":%.*sweb-%04u%.*s%u%s}\n", (int) (n - tmpl),
                                         tmpl, i, (int) (r - n - 6), n + 6, base + 2 * i, r + 4);
        *ret_len = len;
        return buf;
}

typedef struct Counters {
        unsigned long updates, adds;
        size_t ready_pods;
} Counters;

static void on_add(KubeObject *o, void *userdata) {
        Counters *c = userdata;
        c->adds++;
        c->ready_pods += POD(o)->ready == CONDITION_TRUE;
}

static void on_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        Counters *c = userdata;
        /* What an endpoints controller looks at first. */
        c->updates++;
        c->ready_pods += (POD(new_obj)->ready == CONDITION_TRUE) - (POD(old_obj)->ready == CONDITION_TRUE);
}

/* The informer's per-event path (informer.c handle_line, minus bookkeeping). */
static char scratch[1024 * 1024];

static int handle_event(Cache *cache, const char *line, size_t len, bool prune) {
        JsonLimits limits = { .max_bytes = WATCH_EVENT_MAX_DEFAULT };
        size_t stripped = prune && len <= sizeof scratch ? kube_json_strip_managed_fields(line, len, true, scratch) : 0;
        KubeDecodeContext ctx = { .pool = cache_pool(cache) };
        JsonDoc *doc = NULL;
        KubeObject *o = NULL;
        char *err = NULL;
        int r;

        r = stripped > 0 ? json_parse(scratch, stripped, &limits, &doc, &err) : json_parse(line, len, &limits, &doc, &err);
        if (r >= 0 && !streq_ptr(json_get_string(json_doc_root(doc), "type"), "MODIFIED"))
                r = -EBADMSG;
        if (r >= 0)
                r = kube_object_decode(&kube_kind_pod, json_get(json_doc_root(doc), "object"), &ctx, &o, &err);
        if (r >= 0)
                r = cache_upsert(cache, o);
        if (r < 0)
                fprintf(stderr, "bench-watch: %s\n", err ? err : "event failed");
        kube_object_unref(o);
        json_doc_free(doc);
        free(err);
        return r;
}

static int replay(WatchSplitter *s, Cache *cache, const char *stream, size_t len, bool prune, unsigned long *events) {
        for (size_t pos = 0; pos < len; pos += CHUNK) {
                size_t n = len - pos < CHUNK ? len - pos : CHUNK;
                const char *line;
                size_t line_len;
                int r = watch_splitter_feed(s, stream + pos, n);
                while (r >= 0 && (r = watch_splitter_next(s, &line, &line_len)) > 0) {
                        r = handle_event(cache, line, line_len, prune);
                        (*events)++;
                }
                if (r < 0)
                        return r;
        }
        return watch_splitter_finish(s);
}

static double seconds_since(const struct timespec *t0) {
        struct timespec t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        return (double) (t1.tv_sec - t0->tv_sec) + (double) (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
        const char *fixture = argc > 1 ? argv[1] : FIXTURE_DIR "/pod.json";
        /* Even: the replays alternate the two blocks. */
        unsigned rounds = (argc > 2 ? (unsigned) atoi(argv[2]) : 40) & ~1u;
        size_t pod_len, len_a, len_b;
        char *pod = read_file(fixture, &pod_len), *tmpl, *a, *b;
        Cache *cache = NULL;
        WatchSplitter *s = NULL;
        Counters counters = {};
        unsigned long events = 0;
        struct timespec t0;
        double secs;

        if (!pod) {
                fprintf(stderr, "bench-watch: %s: %m\n", fixture);
                return 1;
        }
        tmpl = pod_template(pod, pod_len);
        /* Two recorded blocks with alternating resourceVersions: every event
         * of a replay is a real update of the cached pod. */
        a = make_block(tmpl, 1000000, &len_a);
        b = make_block(tmpl, 1000001, &len_b);

        if (cache_new(&kube_kind_pod, &cache) < 0 || watch_splitter_new(0, &s) < 0)
                return 1;
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .userdata = &counters };
        cache_add_handlers(cache, &h);

        /* Warm-up: fills the cache with the 1000 pods (adds). */
        if (replay(s, cache, a, len_a, true, &events) < 0)
                return 1;

        /* For comparison: the same without the managedFields pruning. */
        events = 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (unsigned i = 0; i < rounds / 4 * 2; i++)
                if (replay(s, cache, i % 2 ? a : b, i % 2 ? len_a : len_b, false, &events) < 0)
                        return 1;
        double full_parse_rate = (double) events / seconds_since(&t0);

        events = 0;
        counters.updates = 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (unsigned i = 0; i < rounds; i++)
                if (replay(s, cache, i % 2 ? a : b, i % 2 ? len_a : len_b, true, &events) < 0)
                        return 1;
        secs = seconds_since(&t0);

        if (counters.updates != events) {
                fprintf(stderr, "bench-watch: %lu events but %lu updates\n", events, counters.updates);
                return 1;
        }
        printf("watch_event_bytes: %zu bytes\n", len_a / PODS);
        printf("watch_events: %lu events\n", events);
        printf("watch_events_per_sec: %.0f events/s\n", (double) events / secs);
        printf("watch_throughput: %.1f MB/s\n", (double) events * (double) len_a / PODS / secs / 1e6);
        printf("watch_cpu_per_event: %.1f us\n", secs * 1e6 / (double) events);
        printf("watch_target_events_per_sec: 20000 events/s\n");
        printf("watch_events_per_sec_without_pruning: %.0f events/s\n", full_parse_rate);
        printf("cache_pods: %zu pods\n", cache_size(cache));
        printf("cache_bytes_per_pod: %zu bytes\n", cache_memory_bytes(cache) / cache_size(cache));

        watch_splitter_free(s);
        cache_free(cache);
        free(a);
        free(b);
        free(tmpl);
        free(pod);
        return (double) events / secs >= 20000 ? 0 : 2;
}
