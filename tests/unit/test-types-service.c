/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "service.h"
#include "types-test-util.h"

static void test_service_fixture(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(&kube_kind_service, "service.json", pool);
        const Service *s = SERVICE(o);
        bool legacy = true;

        assert_string_equal(o->meta.name, "web");
        assert_string_equal(o->meta.namespace, "shop");
        assert_int_equal(s->type, SERVICE_TYPE_LOAD_BALANCER);
        assert_string_equal(s->type_name, "LoadBalancer");
        assert_true(s->has_selector);
        assert_int_equal(s->selector.n, 2);
        assert_string_equal(strmap_get(&s->selector, "tier"), "frontend");
        assert_string_equal(s->cluster_ip, "10.96.64.123");
        assert_int_equal(s->cluster_ips.n, 1);
        assert_false(service_is_headless(s));
        assert_int_equal(s->n_ip_families, 1);
        assert_int_equal(s->ip_families[0], IP_FAMILY_V4);
        assert_int_equal(s->ip_family_policy, IP_FAMILY_POLICY_SINGLE_STACK);
        assert_int_equal(s->external_traffic_policy, TRAFFIC_POLICY_LOCAL);
        assert_int_equal(s->health_check_node_port, 31519);
        assert_int_equal(s->allocate_load_balancer_node_ports, KUBE_TRUE);
        assert_null(s->load_balancer_class);

        assert_int_equal(s->n_ports, 3);
        assert_string_equal(s->ports[0].name, "http");
        assert_string_equal(s->ports[0].protocol, "TCP");
        assert_int_equal(s->ports[0].port, 80);
        assert_true(s->ports[0].target_port.is_string);
        assert_string_equal(s->ports[0].target_port.str, "http");
        assert_int_equal(s->ports[0].node_port, 30360);
        assert_string_equal(s->ports[1].protocol, "UDP");
        assert_false(s->ports[1].target_port.is_string);
        assert_int_equal(s->ports[1].target_port.num, 53);
        assert_string_equal(s->ports[2].app_protocol, "http");
        assert_null(s->ports[0].app_protocol);

        /* only the annotations berth reads are kept */
        assert_int_equal(o->meta.annotations.n, 2);
        assert_null(strmap_get(&o->meta.annotations, "kubectl.kubernetes.io/last-applied-configuration"));
        assert_string_equal(service_metallb_annotation(s, "address-pool", &legacy), "prod");
        assert_false(legacy);
        assert_string_equal(service_metallb_annotation(s, "allow-shared-ip", &legacy), "web");
        assert_true(legacy);
        assert_null(service_metallb_annotation(s, "loadBalancerIPs", NULL));

        assert_int_equal(s->n_ingress, 1);
        assert_string_equal(s->ingress[0].ip, "192.0.2.10");
        assert_string_equal(s->ingress[0].ip_mode, "VIP");
        assert_int_equal(s->conditions.n, 1);
        const KubeCondition *c = conditions_find(&s->conditions, "berth.io/LoadBalancerIPAllocated");
        assert_non_null(c);
        assert_int_equal(c->status, CONDITION_TRUE);
        assert_string_equal(c->reason, "Allocated");
        assert_string_equal(c->message, "IP [\"192.0.2.10\"] from pool \"prod\"");
        assert_true(o->kind->memory_size(o) > sizeof(Service));
}

static void test_service_headless_fixture(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "service-headless.json", pool);
        const Service *s = SERVICE(o);
        assert_true(service_is_headless(s));
        assert_int_equal(s->type, SERVICE_TYPE_CLUSTER_IP);
        assert_int_equal(s->n_ports, 1);
        assert_null(s->ports[0].name);
        assert_int_equal(s->n_ingress, 0);
        assert_int_equal(s->external_traffic_policy, TRAFFIC_POLICY_UNSET);
}

static void test_service_normalisation(void **state _unused_) {
        static const struct {
                const char *spec;
                size_t n_families;
                IpFamily family;
                int32_t target;
                const char *protocol;
        } table[] = {
                /* endpoints.md §3 */
                { "{\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80}]}", 1, IP_FAMILY_V4, 80, "TCP" },
                { "{\"clusterIP\":\"fd00::1\",\"ports\":[{\"port\":80,\"targetPort\":0}]}", 1, IP_FAMILY_V6, 80, "TCP" },
                { "{\"clusterIP\":\"None\",\"ports\":[{\"port\":53,\"protocol\":\"UDP\",\"targetPort\":5353}]}", 0,
                  IP_FAMILY_NONE, 5353, "UDP" },
                { "{\"clusterIP\":\"\",\"ports\":[{\"port\":1,\"protocol\":\"SCTP\"}]}", 0, IP_FAMILY_NONE, 1, "SCTP" },
                { "{\"clusterIP\":\"10.0.0.1\",\"ipFamilies\":[\"IPv6\",\"IPv4\"],\"ports\":[{\"port\":70000}]}", 2,
                  IP_FAMILY_V6, 70000, "TCP" }, /* 70000 decodes; validation is the controllers' job */
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(strpool_freep) StrPool *pool = strpool_new();
                _cleanup_free_ char *text = NULL, *err = NULL;
                KubeObject *o = NULL;
                assert_true(asprintf(&text, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"spec\":%s}",
                                     table[i].spec) > 0);
                assert_int_equal(decode_text(&kube_kind_service, text, pool, &o, &err), 0);
                const Service *s = SERVICE(o);
                assert_int_equal(s->n_ip_families, table[i].n_families);
                if (table[i].n_families > 0)
                        assert_int_equal(s->ip_families[0], table[i].family);
                assert_int_equal(s->ports[0].target_port.num, table[i].target);
                assert_string_equal(s->ports[0].protocol, table[i].protocol);
                assert_false(s->has_selector); /* absent selector is nil, not empty */
                kube_object_unref(o);
                assert_int_equal(strpool_count(pool), 0);
        }
        /* an empty selector is present and selects everything */
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *o = NULL;
        assert_int_equal(decode_text(&kube_kind_service, "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"selector\":{},"
                                                         "\"clusterIP\":\"10.0.0.1\",\"type\":\"Weird\"}}",
                                     pool, &o, NULL), 0);
        assert_true(SERVICE(o)->has_selector);
        assert_int_equal(SERVICE(o)->selector.n, 0);
        assert_int_equal(SERVICE(o)->type, SERVICE_TYPE_OTHER);
        assert_string_equal(SERVICE(o)->type_name, "Weird");
        assert_int_equal(SERVICE(o)->cluster_ips.n, 1); /* from clusterIP */
        kube_object_unref(o);
}

static void test_service_errors(void **state _unused_) {
        static const struct {
                const char *spec, *message;
        } table[] = {
                { "{\"ports\":[{\"port\":80},{\"port\":\"80\"}]}", "spec.ports[1].port: expected an integer" },
                { "{\"ports\":[{\"port\":80,\"nodePort\":1.5}]}", "spec.ports[0].nodePort: expected an integer" },
                { "{\"ports\":[{\"port\":80,\"targetPort\":true}]}",
                  "spec.ports[0].targetPort: expected an integer or a string" },
                { "{\"ports\":[{\"port\":80,\"targetPort\":4294967296}]}", "spec.ports[0].targetPort: integer out of range" },
                { "{\"ports\":[{\"port\":80,\"protocol\":6}]}", "spec.ports[0].protocol: expected a string" },
                { "{\"ports\":{}}", "spec.ports: expected an array" },
                { "{\"ports\":[5]}", "spec.ports[0]: expected an object" },
                { "{\"selector\":{\"app\":true}}", "spec.selector.app: expected a string" },
                { "{\"ipFamilies\":[\"IPv5\"]}", "spec.ipFamilies[0]: unsupported value \"IPv5\"" },
                { "{\"ipFamilies\":[\"IPv4\",\"IPv6\",\"IPv4\"]}", "spec.ipFamilies: at most two entries are allowed" },
                { "{\"ipFamilyPolicy\":\"Sometimes\"}", "spec.ipFamilyPolicy: unsupported value \"Sometimes\"" },
                { "{\"externalTrafficPolicy\":\"Nearby\"}", "spec.externalTrafficPolicy: unsupported value \"Nearby\"" },
                { "{\"healthCheckNodePort\":\"x\"}", "spec.healthCheckNodePort: expected an integer" },
                { "{\"allocateLoadBalancerNodePorts\":\"yes\"}", "spec.allocateLoadBalancerNodePorts: expected a boolean" },
                { "{\"clusterIPs\":[\"10.0.0.1\",7]}", "spec.clusterIPs[1]: expected a string" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *text = NULL;
                assert_true(asprintf(&text, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"spec\":%s}",
                                     table[i].spec) > 0);
                expect_decode_error(&kube_kind_service, text, table[i].message);
        }
        expect_decode_error(&kube_kind_service,
                            "{\"metadata\":{\"name\":\"s\"},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":1}]}}}",
                            "status.loadBalancer.ingress[0].ip: expected a string");
        expect_decode_error(&kube_kind_service,
                            "{\"metadata\":{\"name\":\"s\"},\"status\":{\"conditions\":[{\"type\":\"A\",\"observedGeneration\":\"1\"}]}}",
                            "status.conditions[0].observedGeneration: expected an integer");
}

static void test_service_status_patch(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const char *text =
                "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\",\"resourceVersion\":\"42\",\"annotations\":"
                "{\"metallb.io/ip-allocated-from-pool\":\"prod\"}},\"spec\":{\"type\":\"LoadBalancer\"},"
                "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.1\",\"ipMode\":\"VIP\"},{\"ip\":\"2001:db8::1\"}]},"
                "\"conditions\":[{\"type\":\"berth.io/LoadBalancerIPAllocated\",\"status\":\"True\","
                "\"lastTransitionTime\":\"2025-01-01T00:00:00Z\",\"reason\":\"Allocated\",\"message\":\"m\"}]}}";
        assert_int_equal(decode_text(&kube_kind_service, text, pool, &o, NULL), 0);
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_string_equal(out,
                            "{\"metadata\":{\"resourceVersion\":\"42\",\"annotations\":{"
                            "\"metallb.io/ip-allocated-from-pool\":\"prod\","
                            "\"metallb.universe.tf/ip-allocated-from-pool\":null}},"
                            "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.1\",\"ipMode\":\"VIP\"},"
                            "{\"ip\":\"2001:db8::1\"}]},\"conditions\":[{\"type\":\"berth.io/LoadBalancerIPAllocated\","
                            "\"status\":\"True\",\"observedGeneration\":0,\"lastTransitionTime\":\"2025-01-01T00:00:00Z\","
                            "\"reason\":\"Allocated\",\"message\":\"m\"}]}}");

        /* cleared: null removes ingress, conditions and the pool annotation in a merge patch */
        KubeObject *c = NULL;
        assert_int_equal(decode_text(&kube_kind_service, "{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"7\"}}",
                                     pool, &c, NULL), 0);
        _cleanup_free_ char *cleared = encode_text(NULL, c);
        assert_string_equal(cleared, "{\"metadata\":{\"resourceVersion\":\"7\",\"annotations\":{"
                                     "\"metallb.io/ip-allocated-from-pool\":null,"
                                     "\"metallb.universe.tf/ip-allocated-from-pool\":null}},"
                                     "\"status\":{\"loadBalancer\":{\"ingress\":null},\"conditions\":null}}");
        kube_object_unref(c);
}

static int node_ports_patch(const KubeObject *o, yajl_gen g) {
        return service_node_ports_patch_encode(SERVICE(o), g);
}

static void test_service_node_ports_patch(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(&kube_kind_service, "service.json", pool);
        _cleanup_free_ char *out = encode_text(node_ports_patch, o);
        assert_string_equal(out,
                            "{\"metadata\":{\"resourceVersion\":\"214\"},\"spec\":{\"ports\":["
                            "{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":30360},"
                            "{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"targetPort\":53,\"nodePort\":30409},"
                            "{\"name\":\"metrics\",\"protocol\":\"TCP\",\"appProtocol\":\"http\",\"port\":9090,"
                            "\"targetPort\":9090,\"nodePort\":31065}],\"healthCheckNodePort\":31519}}");
}

static void test_service_ip_family_of(void **state _unused_) {
        assert_int_equal(service_ip_family_of("10.0.0.1"), IP_FAMILY_V4);
        assert_int_equal(service_ip_family_of("::ffff:10.0.0.1"), IP_FAMILY_V6);
        assert_int_equal(service_ip_family_of("fd00::"), IP_FAMILY_V6);
        assert_int_equal(service_ip_family_of("None"), IP_FAMILY_NONE);
        assert_int_equal(service_ip_family_of(""), IP_FAMILY_NONE);
        assert_int_equal(service_ip_family_of(NULL), IP_FAMILY_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_service_fixture),
                cmocka_unit_test(test_service_headless_fixture),
                cmocka_unit_test(test_service_normalisation),
                cmocka_unit_test(test_service_errors),
                cmocka_unit_test(test_service_status_patch),
                cmocka_unit_test(test_service_node_ports_patch),
                cmocka_unit_test(test_service_ip_family_of),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
