/* SPDX-License-Identifier: Apache-2.0 */
/* Node-port allocator and audit figures (nodeport.md; issue 4):
 *   - allocate every port of the default range (AllocateNext) and release them all;
 *   - one full audit pass over 30,000 Services from the cache (10,000 of them
 *     NodePort/LoadBalancer with their own explicit ports, the rest ClusterIP),
 *     role audit, no problems to report;
 *   - the bitmap's bytes for the default range.
 * Printed as `name: value unit`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "nodeport.h"
#include "nodeport_alloc.h"
#include "service.h"
#include "source_offline.h"

#define N_SERVICES 30000

static double mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int bench_alloc(void) {
        NodePortRange r;
        NodePortAlloc *a = NULL;
        char *err = NULL;
        double best = 1e9;

        if (nodeport_range_parse("", &r, &err) < 0 || nodeport_alloc_new(&r, &a) < 0)
                return -1;
        for (int round = 0; round < 20; round++) {
                double t0 = mono();
                int32_t port;
                uint64_t x = 88172645463325252ull;
                for (int32_t i = 0; i < r.size; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        if (nodeport_alloc_allocate_next(a, x, &port) < 0)
                                return -1;
                }
                if (nodeport_alloc_allocate_next(a, 1, &port) != -ENOSPC)
                        return -1;
                for (int32_t p = r.first; p < r.first + r.size; p++)
                        (void) nodeport_alloc_release(a, p);
                double t = mono() - t0;
                if (t < best)
                        best = t;
        }
        printf("nodeport_allocate_release_default_range: %.3f ms\n", best * 1e3);
        printf("nodeport_bitmap_bytes_default_range: %zu bytes\n", nodeport_alloc_bitmap_bytes(a));
        printf("nodeport_allocator_total_bytes_default_range: %zu bytes\n",
               nodeport_alloc_bitmap_bytes(a) + 32 /* range, offset, counts, length */);
        nodeport_alloc_free(a);
        return 0;
}

static int bench_audit(void) {
        char dir[] = "/tmp/berth-bench-nodeport.XXXXXX", *err = NULL, json[1024], cmd[128];
        ControllerFlags flags = CONTROLLER_FLAGS_INIT;
        sd_event *event = NULL;
        Source *source = NULL;
        Controller *c = NULL;
        Cache *cache = NULL;
        double best = 1e9;

        if (!mkdtemp(dir) || sd_event_new(&event) < 0)
                return -1;
        if (source_offline_new(event, &(OfflineOptions) { .dir = dir }, &source, &err) < 0)
                return -1;
        flags.nodeport_audit_only = true;
        if (nodeport_parse_range_flag("20000-52767", &flags, &err) < 0)
                return -1;
        ControllerContext ctx = { .event = event, .source = source, .offline = true, .reporting_instance = "bench",
                                  .flags = &flags };
        if (nodeport_controller_init(&ctx, &c) < 0 || source_cache(source, &kube_kind_service, NULL, &cache) < 0)
                return -1;
        for (int i = 0; i < N_SERVICES; i++) {
                _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
                KubeDecodeContext dctx = { .pool = cache_pool(cache) };
                KubeObject *o = NULL;
                if (i % 3 == 0)
                        snprintf(json, sizeof json,
                                 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"ns%d\",\"name\":\"svc%d\","
                                 "\"uid\":\"u%d\",\"resourceVersion\":\"1\",\"creationTimestamp\":\"2025-01-01T00:00:00Z\"},"
                                 "\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":%d},{\"port\":443,\"nodePort\":%d}]}}",
                                 i % 50, i, i, 20000 + (i / 3) * 2, 20001 + (i / 3) * 2);
                else
                        snprintf(json, sizeof json,
                                 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"ns%d\",\"name\":\"svc%d\","
                                 "\"uid\":\"u%d\",\"resourceVersion\":\"1\",\"creationTimestamp\":\"2025-01-01T00:00:00Z\"},"
                                 "\"spec\":{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80}]}}",
                                 i % 50, i, i);
                if (json_parse(json, strlen(json), NULL, &doc, &err) < 0 ||
                    kube_object_decode(&kube_kind_service, json_doc_root(doc), &dctx, &o, &err) < 0)
                        return -1;
                if (cache_upsert(cache, o) < 0)
                        return -1;
                kube_object_unref(o);
        }
        for (int round = 0; round < 5; round++) {
                double t0 = mono();
                if (nodeport_controller_full_pass(c) < 0)
                        return -1;
                double t = mono() - t0;
                if (t < best)
                        best = t;
        }
        printf("nodeport_audit_pass_30000_services: %.2f ms\n", best * 1e3);
        /* let the source answer the events the passes wrote (PortRangeNearlyFull), so nothing is left behind */
        for (int i = 0; i < 1000 && source_offline_pending(source) > 0; i++)
                if (sd_event_run(event, 0) < 0)
                        return -1;
        c->free(c);
        source_free(source);
        sd_event_unref(event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        log_set_max_level(LOG_ERR);
        if (bench_alloc() < 0 || bench_audit() < 0) {
                fprintf(stderr, "bench-nodeport failed\n");
                return 1;
        }
        return 0;
}
