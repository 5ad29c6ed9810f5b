/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "pod.h"
#include "types-test-util.h"

static void test_pod_fixture(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(&kube_kind_pod, "pod.json", pool);
        const Pod *p = POD(o);
        char key[256];
        usec_t t;

        assert_ptr_equal(o->kind, &kube_kind_pod);
        assert_string_equal(o->meta.name, "web-7d4b9c8f6d-x2k9p");
        assert_string_equal(o->meta.namespace, "shop");
        assert_string_equal(kube_object_key(o, key, sizeof key), "shop/web-7d4b9c8f6d-x2k9p");
        assert_non_null(o->meta.uid);
        assert_non_null(o->meta.resource_version);
        assert_true(o->meta.creation_timestamp > 0);
        assert_int_equal(o->meta.deletion_timestamp, 0);
        assert_int_equal(o->meta.labels.n, 5);
        assert_string_equal(strmap_get(&o->meta.labels, "app"), "web");
        assert_string_equal(strmap_get(&o->meta.labels, "tier"), "frontend");
        assert_null(strmap_get(&o->meta.labels, "missing"));
        for (size_t i = 1; i < o->meta.labels.n; i++) /* sorted by key */
                assert_true(strcmp(o->meta.labels.entries[i - 1].key, o->meta.labels.entries[i].key) < 0);
        assert_int_equal(o->meta.annotations.n, 0); /* the pod decoder keeps none */

        assert_string_equal(p->node_name, "node-a");
        assert_string_equal(p->hostname, "web-0");
        assert_string_equal(p->subdomain, "web");
        assert_int_equal(p->phase, POD_PHASE_RUNNING);
        assert_false(pod_is_terminal(p));
        assert_int_equal(p->ready, CONDITION_TRUE);
        assert_int_equal(rfc3339_parse("2025-01-01T00:00:05Z", &t), 0);
        assert_int_equal(p->ready_transition_time, t);
        assert_int_equal(p->pod_ips.n, 2);
        assert_string_equal(p->pod_ips.items[0], "10.244.1.17");
        assert_string_equal(p->pod_ips.items[1], "fd00:10:244:1::11");

        /* named ports of containers in order, then of Always init containers */
        static const struct {
                const char *name, *protocol;
                int32_t port;
                bool sidecar;
        } ports[] = {
                { "http", "TCP", 8080, false },   { "metrics", "TCP", 9090, false },
                { "dns", "UDP", 53, false },      { "dns-tcp", "TCP", 53, false },
                { "admin", "TCP", 15000, true },
        };
        assert_int_equal(p->n_ports, ELEMENTSOF(ports));
        for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                assert_string_equal(p->ports[i].name, ports[i].name);
                assert_string_equal(p->ports[i].protocol, ports[i].protocol);
                assert_int_equal(p->ports[i].port, ports[i].port);
                assert_int_equal(p->ports[i].sidecar, ports[i].sidecar);
        }
        /* endpoints.md §9 budget: 5 labels, 2 IPs, named ports -> at most 1 KiB */
        size_t bytes = o->kind->memory_size(o);
        assert_true(bytes >= sizeof(Pod));
        assert_true(bytes <= 1024);
        assert_null(o->kind->encode); /* berth never writes pods */
}

static void test_pod_watch_event(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_free_ char *text = fixture_read("pod-watch-event.json");
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        KubeDecodeContext ctx = { .pool = pool };
        KubeObject *o = NULL;
        /* the stream holds one event per line */
        char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t) (nl - text) : strlen(text);
        assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
        assert_string_equal(json_get_string(json_doc_root(doc), "type"), "ADDED");
        assert_int_equal(kube_object_decode(&kube_kind_pod, json_get(json_doc_root(doc), "object"), &ctx, &o, NULL),
                         0);
        assert_string_equal(o->meta.name, "web-7d4b9c8f6d-x2k9p");
        kube_object_unref(o);
        assert_int_equal(strpool_count(pool), 0);
}

static void test_pod_normalisation(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *o = NULL;
        /* no kind/apiVersion (a LIST item), podIP only, protocol missing, terminal phase */
        const char *text = "{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2025-01-01T00:00:00Z\"},"
                           "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"x\",\"containerPort\":1}]}],"
                           "\"initContainers\":[{\"name\":\"i\",\"restartPolicy\":\"OnFailure\",\"ports\":[{\"name\":\"y\",\"containerPort\":2}]}]},"
                           "\"status\":{\"phase\":\"Failed\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}";
        assert_int_equal(decode_text(&kube_kind_pod, text, pool, &o, NULL), 0);
        const Pod *p = POD(o);
        assert_string_equal(o->meta.namespace, "default"); /* offline.md */
        assert_true(o->meta.deletion_timestamp > 0);
        assert_int_equal(p->pod_ips.n, 1);
        assert_string_equal(p->pod_ips.items[0], "10.0.0.1");
        assert_int_equal(p->n_ports, 1);
        assert_string_equal(p->ports[0].protocol, "TCP");
        assert_true(pod_is_terminal(p));
        assert_int_equal(p->ready, CONDITION_FALSE);
        assert_null(p->node_name);
        kube_object_unref(o);

        /* no Ready condition at all, no IP */
        assert_int_equal(decode_text(&kube_kind_pod, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\"},"
                                                     "\"status\":{\"podIP\":\"\"}}", pool, &o, NULL), 0);
        assert_int_equal(POD(o)->ready, CONDITION_NONE);
        assert_int_equal(POD(o)->pod_ips.n, 0);
        assert_int_equal(POD(o)->phase, POD_PHASE_UNSET);
        kube_object_unref(o);
        assert_int_equal(strpool_count(pool), 0);
}

static void test_pod_errors(void **state _unused_) {
        static const struct {
                const char *text, *message;
        } table[] = {
                { "[]", "expected an object" },
                { "{\"kind\":\"Pod\"}", "metadata: required" },
                { "{\"metadata\":{}}", "metadata.name: required" },
                { "{\"metadata\":{\"name\":7}}", "metadata.name: expected a string" },
                { "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":1}}}", "metadata.labels.app: expected a string" },
                { "{\"metadata\":{\"name\":\"p\",\"labels\":[]}}", "metadata.labels: expected an object" },
                { "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":\"yesterday\"}}",
                  "metadata.creationTimestamp: not an RFC 3339 time" },
                { "{\"metadata\":{\"name\":\"p\",\"generation\":\"1\"}}", "metadata.generation: expected an integer" },
                { "{\"metadata\":{\"name\":\"p\"},\"spec\":[]}", "spec: expected an object" },
                { "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"ports\":[{\"name\":\"a\",\"containerPort\":1},"
                  "{\"name\":\"b\",\"containerPort\":\"8080\"}]}]}}",
                  "spec.containers[0].ports[1].containerPort: expected an integer" },
                { "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{},{\"ports\":[{\"containerPort\":99999999999}]}]}}",
                  "spec.containers[1].ports[0].containerPort: integer out of range" },
                { "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"initContainers\":[1]}}",
                  "spec.initContainers[0]: expected an object" },
                { "{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[{\"ip\":1}]}}",
                  "status.podIPs[0].ip: expected a string" },
                { "{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[\"10.0.0.1\"]}}",
                  "status.podIPs[0]: expected an object" },
                { "{\"metadata\":{\"name\":\"p\"},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                  "\"lastTransitionTime\":5}]}}",
                  "status.conditions[0].lastTransitionTime: expected an RFC 3339 time string" },
                { "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"p\"}}",
                  "kind: expected v1 Pod, got v1 Service" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                expect_decode_error(&kube_kind_pod, table[i].text, table[i].message);
}

static void test_refcount_and_pool(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *a = decode_fixture(&kube_kind_pod, "pod.json", pool);
        size_t count = strpool_count(pool);
        KubeObject *b = decode_fixture(NULL, "pod.json", pool); /* kind from apiVersion/kind */
        assert_ptr_equal(b->kind, &kube_kind_pod);
        /* the second copy shares every interned string */
        assert_int_equal(strpool_count(pool), count);
        assert_ptr_equal(a->meta.namespace, b->meta.namespace);
        assert_ptr_equal(a->meta.labels.entries[0].value, b->meta.labels.entries[0].value);
        assert_true(strmap_equal(&a->meta.labels, &b->meta.labels));
        assert_ptr_equal(kube_object_ref(a), a);
        assert_int_equal(a->refcount, 2);
        assert_null(kube_object_unref(a));
        assert_int_equal(a->refcount, 1);
        kube_object_unref(a);
        assert_int_equal(strpool_count(pool), count); /* b still holds them */
        kube_object_unref(b);
        assert_int_equal(strpool_count(pool), 0);
        assert_null(kube_object_unref(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_fixture),
                cmocka_unit_test(test_pod_watch_event),
                cmocka_unit_test(test_pod_normalisation),
                cmocka_unit_test(test_pod_errors),
                cmocka_unit_test(test_refcount_and_pool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
