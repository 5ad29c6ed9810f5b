/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "endpoints.h"
#include "endpointslice.h"
#include "event.h"
#include "ipaddresspool.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "namespace.h"
#include "node.h"
#include "types-test-util.h"

/* Decodes text, then encode -> decode again and returns both encodings equal. */
static void assert_encode_round_trip(const KubeObject *o, StrPool *pool) {
        _cleanup_free_ char *once = encode_text(NULL, o), *twice = NULL;
        KubeObject *again = NULL;
        _cleanup_free_ char *err = NULL;
        if (decode_text(o->kind, once, pool, &again, &err) < 0)
                fail_msg("re-decoding %s: %s", once, err);
        twice = encode_text(NULL, again);
        assert_string_equal(once, twice);
        kube_object_unref(again);
}

static void test_kinds_table(void **state _unused_) {
        static const struct {
                const char *api_version, *kind;
                const KubeKind *expect;
        } table[] = {
                { "v1", "Namespace", &kube_kind_namespace },
                { "v1", "Node", &kube_kind_node },
                { "v1", "Pod", NULL },
                { "discovery.k8s.io/v1", "EndpointSlice", &kube_kind_endpointslice },
                { "coordination.k8s.io/v1", "Lease", &kube_kind_lease },
                { "events.k8s.io/v1", "Event", &kube_kind_event },
                { "v1", "Event", &kube_kind_core_event },
                { "metallb.io/v1beta1", "IPAddressPool", &kube_kind_ipaddresspool },
                { "metallb.io/v1beta1", "L2Advertisement", &kube_kind_l2advertisement },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const KubeKind *k = kube_kind_find(table[i].api_version, table[i].kind);
                assert_non_null(k);
                if (table[i].expect)
                        assert_ptr_equal(k, table[i].expect);
                assert_string_equal(k->kind, table[i].kind);
                assert_non_null(k->decode);
                assert_non_null(k->memory_size);
                assert_non_null(k->resource);
        }
        assert_null(kube_kind_find("v1", "ConfigMap"));
        assert_null(kube_kind_find("metallb.io/v1beta2", "IPAddressPool"));
        assert_null(kube_kind_find(NULL, "Pod"));
        /* every kind once, group/version consistent with apiVersion */
        size_t n = 0;
        for (const KubeKind *const *k = kube_kinds; *k; k++, n++) {
                char av[128];
                snprintf(av, sizeof av, "%s%s%s", (*k)->group, *(*k)->group ? "/" : "", (*k)->version);
                assert_string_equal(av, (*k)->api_version);
        }
        assert_int_equal(n, 11);
        /* decode by apiVersion/kind, unknown kinds named */
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *o = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(decode_text(NULL, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
                                     pool, &o, &err), -EINVAL);
        assert_string_equal(err, "kind: v1 ConfigMap is not a kind berth knows");
        free(err);
        err = NULL;
        assert_int_equal(decode_text(NULL, "{\"metadata\":{\"name\":\"x\"}}", pool, &o, &err), -EINVAL);
        assert_string_equal(err, "kind: required");
}

static void test_strmap(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        StrMap a = {}, b = {};
        assert_int_equal(strmap_set(&a, pool, "b", "2"), 0);
        assert_int_equal(strmap_set(&a, pool, "a", "1"), 0);
        assert_int_equal(strmap_set(&a, pool, "c", "3"), 0);
        assert_string_equal(a.entries[0].key, "a"); /* kept sorted */
        assert_string_equal(a.entries[2].key, "c");
        assert_string_equal(strmap_get(&a, "b"), "2");
        assert_int_equal(strmap_set(&b, pool, "c", "3"), 0);
        assert_int_equal(strmap_set(&b, pool, "a", "1"), 0);
        assert_false(strmap_equal(&a, &b));
        assert_int_equal(strmap_set(&b, pool, "b", "2"), 0);
        assert_true(strmap_equal(&a, &b));
        assert_int_equal(strmap_set(&b, pool, "b", "x"), 0);
        assert_false(strmap_equal(&a, &b));
        assert_int_equal(strmap_set(&b, pool, "b", NULL), 0); /* remove */
        assert_null(strmap_get(&b, "b"));
        assert_int_equal(b.n, 2);
        StrMap empty = {};
        assert_true(strmap_equal(&empty, NULL)); /* nil == empty */
        strmap_done(&a, pool);
        strmap_done(&b, pool);
        assert_int_equal(strpool_count(pool), 0);
}

static void test_node_namespace(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *n = decode_fixture(NULL, "node.json", pool);
        _cleanup_(kube_object_unrefp) KubeObject *ns = decode_fixture(NULL, "namespace.json", pool);
        assert_ptr_equal(n->kind, &kube_kind_node);
        assert_null(n->meta.namespace); /* cluster-scoped */
        assert_string_equal(n->meta.name, "node-a");
        assert_string_equal(node_zone(NODE(n)), "zone-a");
        assert_non_null(strmap_get(&n->meta.labels, NODE_LABEL_EXCLUDE_LB));
        assert_int_equal(NODE(n)->network_unavailable, CONDITION_FALSE);
        assert_false(NODE(n)->unschedulable);
        assert_true(n->kind->memory_size(n) < 1024);
        assert_ptr_equal(ns->kind, &kube_kind_namespace);
        assert_string_equal(strmap_get(&ns->meta.labels, "team"), "web");
        assert_false(NAMESPACE(ns)->terminating);
        expect_decode_error(&kube_kind_node, "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"unschedulable\":1}}",
                            "spec.unschedulable: expected a boolean");
        expect_decode_error(&kube_kind_node, "{\"metadata\":{\"name\":\"n\"},\"status\":{\"conditions\":[{\"type\":3}]}}",
                            "status.conditions[0].type: expected a string");
}

static void test_endpoints(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(&kube_kind_endpoints, "endpoints.json", pool);
        const Endpoints *e = ENDPOINTS(o);
        assert_int_equal(e->n_subsets, 1);
        const EndpointSubset *s = &e->subsets[0];
        assert_int_equal(s->n_addresses, 1);
        assert_string_equal(s->addresses[0].ip, "10.244.1.17");
        assert_string_equal(s->addresses[0].hostname, "web-0");
        assert_string_equal(s->addresses[0].node_name, "node-a");
        assert_true(s->addresses[0].has_target_ref);
        assert_string_equal(s->addresses[0].target_ref.kind, "Pod");
        assert_string_equal(s->addresses[0].target_ref.uid, "0b8f3c5e-2d7a-4c1b-9e6f-1a2b3c4d5e6f");
        assert_int_equal(s->n_not_ready_addresses, 1);
        assert_null(s->not_ready_addresses[0].hostname);
        assert_int_equal(s->n_ports, 3);
        assert_string_equal(s->ports[1].protocol, "UDP");
        assert_string_equal(s->ports[2].app_protocol, "http");
        /* every annotation is kept for the PUT */
        assert_string_equal(strmap_get(&o->meta.annotations, "example.com/keep"), "me");
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_non_null(strstr(out, "\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\","
                                    "\"namespace\":\"shop\""));
        assert_non_null(strstr(out, "\"example.com/keep\":\"me\""));
        assert_non_null(strstr(out, "\"resourceVersion\""));
        assert_encode_round_trip(o, pool);
        expect_decode_error(&kube_kind_endpoints,
                            "{\"metadata\":{\"name\":\"e\"},\"subsets\":[{\"ports\":[{\"port\":80}]},{\"ports\":[{\"port\":\"x\"}]}]}",
                            "subsets[1].ports[0].port: expected an integer");
        expect_decode_error(&kube_kind_endpoints,
                            "{\"metadata\":{\"name\":\"e\"},\"subsets\":[{\"addresses\":[{\"ip\":\"1.2.3.4\",\"targetRef\":[]}]}]}",
                            "subsets[0].addresses[0].targetRef: expected an object");
}

static void test_endpoints_encode_omits_empty(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *o = NULL;
        /* headless no-port subset: no "ports" key; an unnamed port writes no name */
        const char *text = "{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"}]},"
                           "{\"addresses\":[{\"ip\":\"10.0.0.2\",\"nodeName\":\"\"}],\"ports\":[{\"name\":\"\",\"port\":80}]}]}";
        assert_int_equal(decode_text(&kube_kind_endpoints, text, pool, &o, NULL), 0);
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_string_equal(out, "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},"
                                 "\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"}]},{\"addresses\":[{\"ip\":\"10.0.0.2\"}],"
                                 "\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}]}");
        kube_object_unref(o);
}

static void test_endpointslice(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "endpointslice.json", pool);
        const EndpointSlice *s = ENDPOINTSLICE(o);
        assert_ptr_equal(o->kind, &kube_kind_endpointslice);
        assert_string_equal(s->address_type, "IPv4");
        assert_string_equal(s->generate_name, "web-");
        assert_int_equal(o->meta.generation, 1);
        assert_string_equal(strmap_get(&o->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME), "web");
        const OwnerReference *owner = ownerrefs_controller(&s->owner_references);
        assert_non_null(owner);
        assert_string_equal(owner->kind, "Service");
        assert_string_equal(owner->uid, "d6e417fe-33c3-4679-8246-7d8e621d15f2");
        assert_int_equal(owner->block_owner_deletion, KUBE_TRUE);
        assert_int_equal(s->n_endpoints, 2);
        assert_int_equal(s->endpoints[0].addresses.n, 1);
        assert_string_equal(s->endpoints[0].addresses.items[0], "10.244.1.17");
        assert_int_equal(s->endpoints[0].ready, KUBE_TRUE);
        assert_string_equal(s->endpoints[0].zone, "zone-a");
        assert_int_equal(s->endpoints[0].hints_for_zones.n, 1);
        assert_string_equal(s->endpoints[0].hints_for_zones.items[0], "zone-a");
        assert_int_equal(s->endpoints[1].ready, KUBE_FALSE);
        assert_int_equal(s->endpoints[1].serving, KUBE_TRUE);
        assert_int_equal(s->endpoints[1].terminating, KUBE_TRUE);
        assert_null(s->endpoints[1].zone);
        assert_int_equal(s->n_ports, 3);
        assert_non_null(s->ports[1].name);
        assert_string_equal(s->ports[1].name, ""); /* "" is kept, not nil */
        assert_true(s->ports[1].has_port);
        assert_int_equal(s->ports[1].port, 53);
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_non_null(strstr(out, "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\","
                                    "\"uid\":\"d6e417fe-33c3-4679-8246-7d8e621d15f2\",\"controller\":true,"
                                    "\"blockOwnerDeletion\":true}]"));
        assert_non_null(strstr(out, "{\"name\":\"\",\"port\":53,\"protocol\":\"UDP\"}"));
        assert_non_null(strstr(out, "\"hints\":{\"forZones\":[{\"name\":\"zone-a\"}]}"));
        assert_encode_round_trip(o, pool);

        /* a placeholder slice: endpoints [] and ports [] are written */
        KubeObject *p = NULL;
        assert_int_equal(decode_text(&kube_kind_endpointslice, "{\"metadata\":{\"name\":\"w-1\",\"namespace\":\"n\"},"
                                                               "\"addressType\":\"IPv6\"}", pool, &p, NULL), 0);
        _cleanup_free_ char *ph = encode_text(NULL, p);
        assert_non_null(strstr(ph, "\"addressType\":\"IPv6\",\"endpoints\":[],\"ports\":[]"));
        kube_object_unref(p);
        expect_decode_error(&kube_kind_endpointslice,
                            "{\"metadata\":{\"name\":\"s\"},\"endpoints\":[{\"addresses\":[\"a\"],\"conditions\":{\"ready\":\"true\"}}]}",
                            "endpoints[0].conditions.ready: expected a boolean");
        expect_decode_error(&kube_kind_endpointslice,
                            "{\"metadata\":{\"name\":\"s\",\"ownerReferences\":[{\"uid\":5}]}}",
                            "metadata.ownerReferences[0].uid: expected a string");
        expect_decode_error(&kube_kind_endpointslice,
                            "{\"metadata\":{\"name\":\"s\"},\"endpoints\":[{\"addresses\":[\"a\",1]}]}",
                            "endpoints[0].addresses[1]: expected a string");
}

static void test_lease(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "lease.json", pool);
        const Lease *l = LEASE(o);
        usec_t t;
        assert_ptr_equal(o->kind, &kube_kind_lease);
        assert_string_equal(l->holder_identity, "node-a");
        assert_int_equal(l->lease_duration_seconds, 3);
        assert_int_equal(rfc3339_parse("2025-01-01T00:00:10.123456Z", &t), 0);
        assert_int_equal(l->renew_time, t);
        assert_true(l->acquire_time > 0);
        assert_true(l->has_lease_transitions);
        assert_int_equal(l->lease_transitions, 2);
        assert_string_equal(strmap_get(&o->meta.annotations, LEASE_ANNOTATION_DURATION_MS), "3000");
        assert_string_equal(strmap_get(&o->meta.annotations, LEASE_ANNOTATION_ANNOUNCING), "192.0.2.10,2001:db8::a");
        assert_int_equal(l->owner_references.n, 1);
        assert_null(ownerrefs_controller(&l->owner_references));
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_non_null(strstr(out, "\"spec\":{\"holderIdentity\":\"node-a\",\"leaseDurationSeconds\":3,"
                                    "\"acquireTime\":\"2025-01-01T00:00:00.000000Z\","
                                    "\"renewTime\":\"2025-01-01T00:00:10.123456Z\",\"leaseTransitions\":2}"));
        assert_non_null(strstr(out, "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"node-a\""));
        assert_encode_round_trip(o, pool);
        expect_decode_error(&kube_kind_lease, "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"renewTime\":\"now\"}}",
                            "spec.renewTime: not an RFC 3339 time");
        expect_decode_error(&kube_kind_lease, "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"leaseDurationSeconds\":\"3\"}}",
                            "spec.leaseDurationSeconds: expected an integer");
}

static void test_event(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "event.json", pool);
        const Event *e = EVENT(o);
        assert_ptr_equal(o->kind, &kube_kind_event);
        assert_true(e->has_series);
        assert_int_equal(e->series.count, 3);
        assert_string_equal(e->reporting_controller, "berth.io/lbipam-controller");
        assert_string_equal(e->reason, "IPAllocated");
        assert_string_equal(e->type, "Normal");
        assert_string_equal(e->regarding.kind, "Service");
        assert_string_equal(e->regarding.api_version, "v1");
        assert_string_equal(e->note, "Assigned IP [\"192.0.2.10\"]");
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_non_null(strstr(out, "\"apiVersion\":\"events.k8s.io/v1\",\"kind\":\"Event\""));
        assert_non_null(strstr(out, "\"eventTime\":\"2025-01-01T00:00:00.000000Z\",\"series\":{\"count\":3,"
                                    "\"lastObservedTime\":\"2025-01-01T00:05:00.250000Z\"}"));
        assert_encode_round_trip(o, pool);

        /* core v1 Event (offline input) maps onto the same struct */
        KubeObject *c = NULL;
        const char *core = "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},"
                           "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},\"reason\":\"R\",\"message\":\"m\","
                           "\"count\":3,\"firstTimestamp\":\"2025-01-01T00:00:00Z\",\"lastTimestamp\":\"2025-01-01T00:01:00Z\","
                           "\"source\":{\"component\":\"kubelet\"},\"type\":\"Warning\"}";
        assert_int_equal(decode_text(NULL, core, pool, &c, NULL), 0);
        assert_ptr_equal(c->kind, &kube_kind_core_event);
        assert_string_equal(EVENT(c)->reporting_controller, "kubelet");
        assert_string_equal(EVENT(c)->note, "m");
        assert_string_equal(EVENT(c)->regarding.name, "p");
        assert_int_equal(EVENT(c)->series.count, 3);
        assert_true(EVENT(c)->event_time > 0);
        kube_object_unref(c);
        expect_decode_error(&kube_kind_event, "{\"metadata\":{\"name\":\"e\"},\"series\":{\"count\":\"3\"}}",
                            "series.count: expected an integer");
}

static void test_ipaddresspool(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "ipaddresspool.json", pool);
        const IPAddressPool *p = IPADDRESSPOOL(o);
        assert_ptr_equal(o->kind, &kube_kind_ipaddresspool);
        assert_int_equal(p->addresses.n, 3);
        assert_string_equal(p->addresses.items[1], "192.0.2.100-192.0.2.110");
        assert_false(p->auto_assign);
        assert_true(p->avoid_buggy_ips);
        assert_true(p->has_service_allocation);
        assert_int_equal(p->priority, 10);
        assert_int_equal(p->namespaces.n, 2);
        assert_string_equal(p->namespaces.items[1], "web");
        assert_int_equal(p->namespace_selectors.n, 1);
        assert_string_equal(strmap_get(&p->namespace_selectors.items[0].match_labels, "team"), "web");
        assert_int_equal(p->service_selectors.n, 1);
        const LabelSelector *sel = &p->service_selectors.items[0];
        assert_int_equal(sel->n_expressions, 2);
        assert_string_equal(sel->expressions[0].key, "app");
        assert_int_equal(sel->expressions[0].op, LABEL_OP_IN);
        assert_int_equal(sel->expressions[0].values.n, 2);
        assert_int_equal(sel->expressions[1].op, LABEL_OP_DOES_NOT_EXIST);
        assert_int_equal(sel->expressions[1].values.n, 0);
        assert_true(ipaddresspool_is_draining(p));
        assert_int_equal(p->status.available_ipv4, 24);
        _cleanup_free_ char *out = encode_text(NULL, o);
        assert_string_equal(out, "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"IPAddressPool\",\"metadata\":"
                                 "{\"name\":\"prod\",\"namespace\":\"shop\",\"resourceVersion\":\"229\"},\"status\":"
                                 "{\"assignedIPv4\":1,\"assignedIPv6\":0,\"availableIPv4\":24,\"availableIPv6\":16}}");

        /* defaults: autoAssign true; no serviceAllocation; drain only for exactly "true" */
        KubeObject *d = NULL;
        assert_int_equal(decode_text(&kube_kind_ipaddresspool, "{\"metadata\":{\"name\":\"d\",\"annotations\":"
                                                               "{\"berth.io/drain\":\"True\"}},\"spec\":{\"addresses\":[\"10.0.0.0/8\"],"
                                                               "\"serviceAllocation\":{}}}", pool, &d, NULL), 0);
        assert_true(IPADDRESSPOOL(d)->auto_assign);
        assert_false(IPADDRESSPOOL(d)->avoid_buggy_ips);
        assert_true(IPADDRESSPOOL(d)->has_service_allocation); /* {} counts (lbipam.md §7.1 tier 1) */
        assert_false(ipaddresspool_is_draining(IPADDRESSPOOL(d)));
        kube_object_unref(d);
        expect_decode_error(&kube_kind_ipaddresspool, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"autoAssign\":\"no\"}}",
                            "spec.autoAssign: expected a boolean");
        expect_decode_error(&kube_kind_ipaddresspool, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"addresses\":\"10.0.0.0/8\"}}",
                            "spec.addresses: expected an array");
        expect_decode_error(&kube_kind_ipaddresspool,
                            "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"serviceAllocation\":{\"serviceSelectors\":"
                            "[{},{\"matchExpressions\":[{\"operator\":\"In\"}]}]}}}",
                            "spec.serviceAllocation.serviceSelectors[1].matchExpressions[0].key: required");
        expect_decode_error(&kube_kind_ipaddresspool,
                            "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"serviceAllocation\":{\"namespaceSelectors\":"
                            "[{\"matchLabels\":{\"a\":1}}]}}}",
                            "spec.serviceAllocation.namespaceSelectors[0].matchLabels.a: expected a string");
}

/* What lbipam re-reads its configuration for: spec, labels, annotations;
 * never its own status writes (bench-lbipam found that loop). */
static void test_ipaddresspool_config_equal(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        static const char *const texts[] = {
                /* 0: the base, 1: only status differs */
                "{'metadata':{'name':'p','labels':{'a':'b'}},'spec':{'addresses':['10.0.0.0/24'],"
                "'serviceAllocation':{'namespaces':['x'],'serviceSelectors':[{'matchExpressions':[{'key':'k',"
                "'operator':'In','values':['v']}]}]}},'status':{'assignedIPv4':0}}",
                "{'metadata':{'name':'p','labels':{'a':'b'},'resourceVersion':'9'},'spec':{'addresses':['10.0.0.0/24'],"
                "'serviceAllocation':{'namespaces':['x'],'serviceSelectors':[{'matchExpressions':[{'key':'k',"
                "'operator':'In','values':['v']}]}]}},'status':{'assignedIPv4':5}}",
                /* 2..5: one configuration input differs each */
                "{'metadata':{'name':'p','labels':{'a':'b'}},'spec':{'addresses':['10.0.1.0/24'],"
                "'serviceAllocation':{'namespaces':['x'],'serviceSelectors':[{'matchExpressions':[{'key':'k',"
                "'operator':'In','values':['v']}]}]}}}",
                "{'metadata':{'name':'p','labels':{'a':'b'},'annotations':{'berth.io/drain':'true'}},'spec':"
                "{'addresses':['10.0.0.0/24'],'serviceAllocation':{'namespaces':['x'],'serviceSelectors':"
                "[{'matchExpressions':[{'key':'k','operator':'In','values':['v']}]}]}}}",
                "{'metadata':{'name':'p','labels':{'a':'c'}},'spec':{'addresses':['10.0.0.0/24'],"
                "'serviceAllocation':{'namespaces':['x'],'serviceSelectors':[{'matchExpressions':[{'key':'k',"
                "'operator':'In','values':['v']}]}]}}}",
                "{'metadata':{'name':'p','labels':{'a':'b'}},'spec':{'addresses':['10.0.0.0/24'],"
                "'serviceAllocation':{'namespaces':['x'],'serviceSelectors':[{'matchExpressions':[{'key':'k',"
                "'operator':'In','values':['w']}]}]}}}",
        };
        KubeObject *o[ELEMENTSOF(texts)] = {};

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *json = strdup(texts[i]);
                assert_non_null(json);
                for (char *c = json; *c; c++)
                        if (*c == '\'')
                                *c = '"';
                assert_int_equal(decode_text(&kube_kind_ipaddresspool, json, pool, &o[i], NULL), 0);
        }
        assert_true(ipaddresspool_config_equal(IPADDRESSPOOL(o[0]), IPADDRESSPOOL(o[1])));
        for (size_t i = 2; i < ELEMENTSOF(texts); i++)
                assert_false(ipaddresspool_config_equal(IPADDRESSPOOL(o[0]), IPADDRESSPOOL(o[i])));
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                kube_object_unref(o[i]);
}

static void test_l2advertisement(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        _cleanup_(kube_object_unrefp) KubeObject *o = decode_fixture(NULL, "l2advertisement.json", pool);
        const L2Advertisement *a = L2ADVERTISEMENT(o);
        assert_int_equal(a->ip_address_pools.n, 1);
        assert_string_equal(a->ip_address_pools.items[0], "prod");
        assert_int_equal(a->ip_address_pool_selectors.n, 1);
        assert_int_equal(a->node_selectors.n, 2);
        assert_int_equal(a->node_selectors.items[1].expressions[0].op, LABEL_OP_NOT_IN);
        assert_string_equal(a->node_selectors.items[1].expressions[0].values.items[0], "zone-c");
        assert_int_equal(a->service_selectors.n, 0);
        assert_int_equal(a->interfaces.n, 2);
        assert_string_equal(a->interfaces.items[1], "bond0");
        assert_false(a->has_preferred_node_selectors);
        /* selectors encode back in the API shape */
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        _cleanup_free_ char *out = NULL;
        assert_int_equal(label_selectors_encode(&a->node_selectors, g), 0);
        assert_int_equal(json_gen_take(g, &out, NULL), 0);
        assert_string_equal(out, "[{\"matchLabels\":{\"kubernetes.io/hostname\":\"node-a\"}},{\"matchExpressions\":"
                                 "[{\"key\":\"topology.kubernetes.io/zone\",\"operator\":\"NotIn\",\"values\":[\"zone-c\"]}]}]");
        /* an operator outside the four is kept for the config parser to report */
        KubeObject *b = NULL;
        assert_int_equal(decode_text(&kube_kind_l2advertisement, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"nodeSelectors\":"
                                                                 "[{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}],"
                                                                 "\"preferredNodeSelectors\":[{\"weight\":1}]}}", pool, &b, NULL), 0);
        assert_int_equal(L2ADVERTISEMENT(b)->node_selectors.items[0].expressions[0].op, LABEL_OP_INVALID);
        assert_string_equal(L2ADVERTISEMENT(b)->node_selectors.items[0].expressions[0].operator_name, "Gt");
        assert_true(L2ADVERTISEMENT(b)->has_preferred_node_selectors);
        kube_object_unref(b);
        expect_decode_error(&kube_kind_l2advertisement, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"interfaces\":[1]}}",
                            "spec.interfaces[0]: expected a string");
        expect_decode_error(&kube_kind_l2advertisement, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"nodeSelectors\":[null]}}",
                            "spec.nodeSelectors[0]: expected an object");
}

static void test_every_fixture_releases_pool(void **state _unused_) {
        static const char *const files[] = {
                "namespace.json", "node.json", "pod.json", "service.json", "service-headless.json", "endpoints.json",
                "endpointslice.json", "lease.json", "event.json", "ipaddresspool.json", "l2advertisement.json",
        };
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                KubeObject *o = decode_fixture(NULL, files[i], pool);
                assert_int_equal(o->refcount, 1);
                assert_ptr_equal(o->pool, pool);
                assert_true(o->kind->memory_size(o) > 0);
                kube_object_unref(o);
                assert_int_equal(strpool_count(pool), 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kinds_table),
                cmocka_unit_test(test_strmap),
                cmocka_unit_test(test_node_namespace),
                cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_endpoints_encode_omits_empty),
                cmocka_unit_test(test_endpointslice),
                cmocka_unit_test(test_lease),
                cmocka_unit_test(test_event),
                cmocka_unit_test(test_ipaddresspool),
                cmocka_unit_test(test_ipaddresspool_config_equal),
                cmocka_unit_test(test_l2advertisement),
                cmocka_unit_test(test_every_fixture_releases_pool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
