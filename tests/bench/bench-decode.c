/* SPDX-License-Identifier: Apache-2.0 */
/* Pod decode throughput and retained memory (endpoints.md §9, design.md).
 *
 * 10,000 realistic pods are generated from the Pod captured from a real
 * kube-apiserver (tests/unit/fixtures/pod.json, managedFields included),
 * each with its own name, uid, IPs and a few varying labels.  Reported, one
 * per line as `name: value unit`:
 *   - decode of all pods into a cache-like array (parse + decode), pods/s;
 *   - watch events/s: {"type":"MODIFIED","object":{...}} parsed, decoded and
 *     freed, as an informer does for every event;
 *   - retained bytes per pod: memory_size() plus the pool's share, and the
 *     heap growth actually measured with mallinfo2() as a cross-check;
 *   - peak RSS. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "json.h"
#include "object.h"
#include "pod.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

#define N_PODS 10000

static char *read_file(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "rb");
        char *buf;
        long len;
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t) len + 1);
        if (buf && fread(buf, 1, (size_t) len, f) != (size_t) len) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        if (buf) {
                buf[len] = 0;
                while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                        buf[--len] = 0;
                *ret_len = (size_t) len;
        }
        return buf;
}

/* Replaces every occurrence of from by to (malloc'd result). */
static char *replace_all(const char *s, const char *from, const char *to) {
        size_t fl = strlen(from), tl = strlen(to), n = 0;
        for (const char *p = s; (p = strstr(p, from)); p += fl)
                n++;
        char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = s, *q; ; p = q + fl) {
                q = strstr(p, from);
                if (!q) {
                        strcpy(o, p);
                        break;
                }
                memcpy(o, p, (size_t) (q - p));
                o += q - p;
                memcpy(o, to, tl);
                o += tl;
        }
        return out;
}

static char *make_pod(const char *tmpl, unsigned i) {
        static const struct {
                const char *from;
        } keys[] = { { "web-7d4b9c8f6d-x2k9p" }, { "47b29b9a-533e-4be0-b133-1b29227d70c2" }, { "10.244.1.17" },
                     { "fd00:10:244:1::11" }, { "\"version\":\"v2\"" }, { "\"node-a\"" }, { "7d4b9c8f6d" } };
        char to[7][96];
        char *cur = strdup(tmpl);

        snprintf(to[0], sizeof to[0], "web-%010x-p%05u", (i / 100) * 2654435761u, i);
        snprintf(to[1], sizeof to[1], "%08x-533e-4be0-b133-%012x", i * 2654435761u, i);
        snprintf(to[2], sizeof to[2], "10.%u.%u.%u", 100 + i / 65536, (i / 256) % 256, i % 256);
        snprintf(to[3], sizeof to[3], "fd00:10:244:%x::%x", i / 256, i % 256 + 1);
        snprintf(to[4], sizeof to[4], "\"version\":\"v%u\"", i % 7);
        snprintf(to[5], sizeof to[5], "\"node-%03u\"", i % 50);
        snprintf(to[6], sizeof to[6], "%010x", (i / 100) * 2654435761u); /* 100 ReplicaSets */
        for (size_t k = 0; k < ELEMENTSOF(keys) && cur; k++) {
                char *next = replace_all(cur, keys[k].from, to[k]);
                free(cur);
                cur = next;
        }
        return cur;
}

/* Rates use this process's CPU time: the target is "on one core", and a
 * shared build machine would otherwise distort wall-clock figures. */
static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double wall_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int decode_one(const char *text, size_t len, bool watch_event, StrPool *pool, KubeObject **ret) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        KubeDecodeContext ctx = { .pool = pool };
        const JsonValue *v;
        int r = json_parse(text, len, NULL, &doc, NULL);
        if (r < 0)
                return r;
        v = json_doc_root(doc);
        if (watch_event)
                v = json_get(v, "object");
        return kube_object_decode(&kube_kind_pod, v, &ctx, ret, NULL);
}

int main(void) {
        size_t tmpl_len, total_bytes = 0, memsize = 0;
        _cleanup_free_ char *tmpl = read_file(FIXTURE_DIR "/pod.json", &tmpl_len);
        static char *pods[N_PODS], *events[N_PODS];
        static size_t pod_len[N_PODS], event_len[N_PODS];
        static KubeObject *objs[N_PODS];
        StrPool *pool;
        struct rusage ru;
        double t0, t1;

        if (!tmpl) {
                fprintf(stderr, "bench-decode: cannot read %s/pod.json\n", FIXTURE_DIR);
                return 1;
        }
        for (unsigned i = 0; i < N_PODS; i++) {
                pods[i] = make_pod(tmpl, i);
                if (!pods[i] || asprintf(&events[i], "{\"type\":\"MODIFIED\",\"object\":%s}", pods[i]) < 0)
                        return 1;
                pod_len[i] = strlen(pods[i]);
                event_len[i] = strlen(events[i]);
                total_bytes += pod_len[i];
        }

        /* 1. decode into a cache-like array; measure what stays allocated */
        pool = strpool_new();
        struct mallinfo2 before = mallinfo2();
        double w0 = wall_s();
        t0 = now_s();
        for (unsigned i = 0; i < N_PODS; i++)
                if (decode_one(pods[i], pod_len[i], false, pool, &objs[i]) < 0) {
                        fprintf(stderr, "bench-decode: pod %u failed to decode\n", i);
                        return 1;
                }
        t1 = now_s();
        double w1 = wall_s();
        struct mallinfo2 after = mallinfo2();
        for (unsigned i = 0; i < N_PODS; i++)
                memsize += objs[i]->kind->memory_size(objs[i]);

        printf("pods: %d count\n", N_PODS);
        printf("pod_json_bytes: %zu bytes\n", total_bytes / N_PODS);
        printf("decode_total_time: %.3f s\n", w1 - w0);
        printf("decode_total_cpu_time: %.3f s\n", t1 - t0);
        printf("decode_rate: %.0f pods/s\n", N_PODS / (t1 - t0));
        printf("decode_throughput: %.1f MB/s\n", (double) total_bytes / (t1 - t0) / 1e6);
        printf("retained_memory_size_per_pod: %zu bytes\n", memsize / N_PODS);
        printf("retained_pool_share_per_pod: %zu bytes\n", strpool_bytes(pool) / N_PODS);
        printf("retained_total_per_pod: %zu bytes\n", (memsize + strpool_bytes(pool)) / N_PODS);
        printf("retained_heap_measured_per_pod: %zu bytes\n",
               (size_t) (after.uordblks - before.uordblks) / N_PODS);
        printf("pool_strings: %zu count\n", strpool_count(pool));

        /* 2. watch events: parse + decode + free, several rounds for a stable figure */
        unsigned rounds = 0;
        t0 = now_s();
        do {
                for (unsigned i = 0; i < N_PODS; i++) {
                        KubeObject *o = NULL;
                        if (decode_one(events[i], event_len[i], true, pool, &o) < 0)
                                return 1;
                        kube_object_unref(o);
                }
                rounds++;
        } while (now_s() - t0 < 1.0 || rounds < 2);
        t1 = now_s();
        printf("watch_event_rate: %.0f events/s\n", rounds * (double) N_PODS / (t1 - t0));

        /* 3. parse alone, for reference */
        rounds = 0;
        t0 = now_s();
        do {
                for (unsigned i = 0; i < N_PODS; i++) {
                        JsonDoc *doc = NULL;
                        if (json_parse(events[i], event_len[i], NULL, &doc, NULL) < 0)
                                return 1;
                        json_doc_free(doc);
                }
                rounds++;
        } while (now_s() - t0 < 1.0 || rounds < 2);
        t1 = now_s();
        printf("parse_only_rate: %.0f events/s\n", rounds * (double) N_PODS / (t1 - t0));

        for (unsigned i = 0; i < N_PODS; i++) {
                kube_object_unref(objs[i]);
                free(pods[i]);
                free(events[i]);
        }
        if (strpool_count(pool) != 0) {
                fprintf(stderr, "bench-decode: %zu interned strings leaked\n", strpool_count(pool));
                return 1;
        }
        strpool_free(pool);
        getrusage(RUSAGE_SELF, &ru);
        printf("peak_rss: %ld KiB\n", ru.ru_maxrss);
        return 0;
}
