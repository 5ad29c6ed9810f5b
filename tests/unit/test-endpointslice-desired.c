/* SPDX-License-Identifier: Apache-2.0 */
/* endpoints.md §4, §5 as the slice controller sees them: the reconcile's
 * input built from cached Pods, Nodes and the Service with the shared pod
 * model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"
#include "endpointslice_desired.h"
#include "node.h"
#include "pod.h"
#include "service.h"
#include "types-test-util.h"

static KubeObject *decode_json(StrPool *pool, const KubeKind *kind, const char *text) {
        KubeObject *o = NULL;
        char *err = NULL;
        if (decode_text(kind, text, pool, &o, &err) < 0)
                fail_msg("decode: %s\n%s", err, text);
        return o;
}

#define POD(name, extra_meta, spec, status)                                                              \
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"shop\"," \
        "\"uid\":\"uid-" name "\",\"labels\":{\"app\":\"web\"}" extra_meta "},\"spec\":{" spec "},"          \
        "\"status\":{" status "}}"
#define READY "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]"
#define NOT_READY "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]"
#define PORTS "\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]"

static const char SVC_DUAL[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
        "\"uid\":\"svc-uid\"},\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"},"
        "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}]}}";

static void test_rows_of_section_4(void **state) {
        (void) state;
        StrPool *pool = strpool_new();
        static const char *const pods_json[] = {
                POD("ready", "", "\"nodeName\":\"node-a\"," PORTS,
                    "\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"fd00::1\"}]," READY),
                POD("notready", "", "\"nodeName\":\"node-a\"," PORTS,
                    "\"phase\":\"Running\",\"podIP\":\"10.0.0.2\"," NOT_READY),
                POD("terminating", ",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"", "\"nodeName\":\"node-a\"," PORTS,
                    "\"phase\":\"Running\",\"podIP\":\"10.0.0.3\"," READY),
                POD("done", "", "\"nodeName\":\"node-a\"," PORTS, "\"phase\":\"Succeeded\",\"podIP\":\"10.0.0.4\""),
                POD("noip", "", "\"nodeName\":\"node-a\"," PORTS, "\"phase\":\"Pending\""),
                POD("noport", "", "\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"c\"}]",
                    "\"phase\":\"Running\",\"podIP\":\"10.0.0.6\"," READY),
                POD("loopback", "", "\"nodeName\":\"node-a\"," PORTS,
                    "\"phase\":\"Running\",\"podIP\":\"127.0.0.1\"," READY),
                POD("lostnode", "", "\"nodeName\":\"node-x\"," PORTS,
                    "\"phase\":\"Running\",\"podIP\":\"10.0.0.8\"," READY),
        };
        KubeObject *objs[ELEMENTSOF(pods_json)];
        const Pod *pods[ELEMENTSOF(pods_json)];
        for (size_t i = 0; i < ELEMENTSOF(pods_json); i++) {
                objs[i] = decode_json(pool, &kube_kind_pod, pods_json[i]);
                pods[i] = (const Pod *) objs[i];
        }
        KubeObject *svc = decode_json(pool, &kube_kind_service, SVC_DUAL);
        Cache *nodes = NULL;
        assert_int_equal(cache_new(&kube_kind_node, &nodes), 0);
        KubeObject *node = decode_json(cache_pool(nodes), &kube_kind_node,
                                       "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-a\","
                                       "\"labels\":{\"topology.kubernetes.io/zone\":\"zone-a\"}}}");
        assert_true(cache_upsert(nodes, node) >= 0);
        kube_object_unref(node);

        SliceDesired *d = NULL;
        EndpointSliceWant want = {};
        char *missing = NULL;
        assert_int_equal(endpointslice_desired_build((const Service *) svc, pods, ELEMENTSOF(pods), nodes, NULL, NULL,
                                                     &d, &want, &missing),
                         0);
        /* headless without ipFamilies: both address types */
        assert_int_equal(want.n_address_types, 2);
        assert_string_equal(want.address_types[0].address_type, "IPv4");
        assert_string_equal(want.address_types[1].address_type, "IPv6");
        /* IPv4: ready, notready, terminating, noport (loopback dropped; done, noip, lostnode out) */
        const SliceAddressTypeWant *v4 = &want.address_types[0];
        assert_int_equal(v4->n_endpoints, 4);
        assert_string_equal(v4->endpoints[0].pod_name, "ready");
        assert_true(v4->endpoints[0].ready && v4->endpoints[0].serving && !v4->endpoints[0].terminating);
        assert_string_equal(v4->endpoints[0].zone, "zone-a");
        assert_true(!v4->endpoints[1].ready && !v4->endpoints[1].serving);
        assert_true(!v4->endpoints[2].ready && v4->endpoints[2].serving && v4->endpoints[2].terminating);
        /* no resolvable port: in the group whose port set is empty */
        assert_string_equal(v4->endpoints[3].pod_name, "noport");
        assert_int_equal(want.port_sets[v4->endpoints[3].port_set].n_ports, 0);
        assert_int_equal(want.port_sets[v4->endpoints[0].port_set].n_ports, 1);
        assert_int_equal(want.port_sets[v4->endpoints[0].port_set].ports[0].port, 8080);
        /* IPv6: only the dual-stack pod */
        assert_int_equal(want.address_types[1].n_endpoints, 1);
        assert_string_equal(want.address_types[1].endpoints[0].addresses[0], "fd00::1");
        /* the pod on an unknown Node is skipped and the sync retried */
        assert_non_null(missing);
        assert_non_null(strstr(missing, "Node node-x Not Found"));
        free(missing);
        endpointslice_desired_free(d);

        /* offline without any Node (nodes NULL): nobody is skipped */
        assert_int_equal(endpointslice_desired_build((const Service *) svc, pods, ELEMENTSOF(pods), NULL, NULL, NULL,
                                                     &d, &want, &missing),
                         0);
        assert_int_equal(want.address_types[0].n_endpoints, 5);
        assert_null(missing);
        endpointslice_desired_free(d);

        cache_free(nodes);
        kube_object_unref(svc);
        for (size_t i = 0; i < ELEMENTSOF(objs); i++)
                kube_object_unref(objs[i]);
        strpool_free(pool);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rows_of_section_4),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
