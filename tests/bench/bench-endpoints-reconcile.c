/* SPDX-License-Identifier: Apache-2.0 */
/* The endpoints controller's pure sync cost (endpoints.md §6): building the
 * desired Endpoints of one Service from its pods and comparing it with the
 * stored object — what every sync pays, and all a steady Service costs
 * (no write).  Prints `name: value unit` lines.
 *
 *   make -C build tests/bench/bench-endpoints-reconcile && build/tests/bench/bench-endpoints-reconcile */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints_reconcile.h"
#include "json.h"

static KubeObject *decode(const KubeKind *kind, StrPool *pool, const char *text) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        KubeDecodeContext ctx = { .pool = pool };
        KubeObject *o = NULL;
        if (json_parse(text, strlen(text), NULL, &doc, NULL) < 0 ||
            kube_object_decode(kind, json_doc_root(doc), &ctx, &o, NULL) < 0) {
                fprintf(stderr, "cannot decode %s\n", text);
                exit(1);
        }
        return o;
}

static double now_ms(void) {
        return (double) now_usec(CLOCK_MONOTONIC) / 1000.0;
}

static void run(size_t n_pods, int rounds) {
        StrPool *pool = strpool_new();
        KubeObject *svc = decode(&kube_kind_service, pool,
                                 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"s\"},\"spec\":{"
                                 "\"clusterIP\":\"10.96.0.1\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":"
                                 "\"http\",\"port\":80,\"targetPort\":\"http\"},{\"name\":\"metrics\",\"port\":9090}]}}");
        KubeObject **pods = calloc(n_pods, sizeof(KubeObject *));
        const Pod **list = calloc(n_pods, sizeof(Pod *));
        EndpointsBuildResult stored, r;
        double best_build = 1e9, best_equal = 1e9;

        for (size_t i = 0; i < n_pods; i++) {
                char buf[1024];
                snprintf(buf, sizeof buf,
                         "{\"metadata\":{\"name\":\"web-%zu\",\"namespace\":\"shop\",\"uid\":\"uid-%zu\",\"labels\":{"
                         "\"app\":\"web\",\"pod-template-hash\":\"abc\"}},\"spec\":{\"nodeName\":\"node-%zu\","
                         "\"containers\":[{\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]},\"status\":{"
                         "\"phase\":\"Running\",\"podIP\":\"10.%zu.%zu.%zu\",\"conditions\":[{\"type\":\"Ready\","
                         "\"status\":\"%s\"}]}}",
                         i, i, i % 50, (i >> 16) & 255, (i >> 8) & 255, i & 255, i % 10 ? "True" : "False");
                pods[i] = decode(&kube_kind_pod, pool, buf);
                list[i] = (const Pod *) pods[i];
        }
        if (endpoints_build(SERVICE(svc), list, n_pods, NULL, 0, pool, NULL, NULL, &stored) < 0)
                exit(1);
        for (int k = 0; k < rounds; k++) {
                double t0 = now_ms();
                if (endpoints_build(SERVICE(svc), list, n_pods, ENDPOINTS(stored.object), 0, pool, NULL, NULL, &r) < 0)
                        exit(1);
                double t1 = now_ms();
                bool equal = endpoints_semantic_equal(ENDPOINTS(r.object), ENDPOINTS(stored.object));
                double t2 = now_ms();
                if (!equal) {
                        fprintf(stderr, "steady state is not equal\n");
                        exit(1);
                }
                kube_object_unref(r.object);
                if (t1 - t0 < best_build)
                        best_build = t1 - t0;
                if (t2 - t1 < best_equal)
                        best_equal = t2 - t1;
        }
        printf("endpoints_build_%zu_pods: %.3f ms\n", n_pods, best_build);
        printf("endpoints_compare_%zu_pods: %.3f ms\n", n_pods, best_equal);
        printf("endpoints_steady_sync_%zu_pods: %.3f ms\n", n_pods, best_build + best_equal);
        kube_object_unref(stored.object);
        for (size_t i = 0; i < n_pods; i++)
                kube_object_unref(pods[i]);
        kube_object_unref(svc);
        free(pods);
        free(list);
        strpool_free(pool);
}

int main(void) {
        run(100, 50);
        run(1000, 20);
        run(5000, 5); /* over capacity: truncated to 1000 */
        return 0;
}
