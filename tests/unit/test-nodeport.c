/* SPDX-License-Identifier: Apache-2.0 */
/* The nodeport rules (nodeport.md §5) and the controller over an offline
 * source: fill, sharing, health-check ports, type changes, duplicates. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "event.h"
#include "nodeport.h"
#include "nodeport_rules.h"
#include "source_offline.h"
#include "types-test-util.h"

#define NOW (UINT64_C(1767225600) * USEC_PER_SEC)

static Service *svc_of(StrPool *pool, const char *json) {
        KubeObject *o = NULL;
        char *err = NULL;
        if (decode_text(&kube_kind_service, json, pool, &o, &err) < 0)
                fail_msg("decode: %s", err);
        return (Service *) o;
}

#define SVC(ns, name, ts, spec)                                                                             \
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name \
        "\",\"uid\":\"uid-" name "\",\"creationTimestamp\":\"" ts "\"},\"spec\":" spec "}"

/* ---- rules --------------------------------------------------------------------- */

static void test_health_check_only_lb_local(void **state) {
        StrPool *pool = NULL;
        NodePortClaims c = {};
        (void) state;
        pool = strpool_new(); assert_non_null(pool);

        static const struct {
                const char *spec;
                size_t n_missing, n_problems;
        } cases[] = {
                /* NodePort + Local: never a health-check port */
                { "{\"type\":\"NodePort\",\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80}]}", 1, 0 },
                /* LoadBalancer + Cluster: none */
                { "{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80}]}", 1, 0 },
                /* LoadBalancer + Local: node port and health-check port */
                { "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80}]}", 2, 0 },
                /* LB + Local without node ports: still the health-check port */
                { "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"allocateLoadBalancerNodePorts\":false,\"ports\":[{\"port\":80}]}",
                  1, 0 },
                /* a health-check port where none is needed: InvalidNodePort */
                { "{\"type\":\"NodePort\",\"healthCheckNodePort\":30100,\"ports\":[{\"port\":80,\"nodePort\":30001}]}", 0,
                  1 },
                /* ClusterIP: nothing missing; a nodePort is invalid */
                { "{\"ports\":[{\"port\":80,\"nodePort\":30001}]}", 0, 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char json[1024];
                snprintf(json, sizeof json, SVC("ns", "s", "2025-01-01T00:00:00Z", "%s"), cases[i].spec);
                Service *s = svc_of(pool, json);
                assert_int_equal(nodeport_claims_compute(s, &c), 0);
                assert_int_equal(c.n_missing, cases[i].n_missing);
                assert_int_equal(c.n_problems, cases[i].n_problems);
                nodeport_claims_done(&c);
                kube_object_unref(&s->object);
        }
        Service *s = svc_of(pool, SVC("ns", "s", "2025-01-01T00:00:00Z",
                                      "{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80,\"nodePort\":30001}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_string_equal(c.problems[0].message,
                            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);
        s = svc_of(pool, SVC("ns", "s", "2025-01-01T00:00:00Z",
                             "{\"type\":\"NodePort\",\"healthCheckNodePort\":30100,\"ports\":[{\"port\":80}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_string_equal(c.problems[0].message,
                            "spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is "
                            "'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);
        strpool_free(pool);
}

static void test_claims_within_service(void **state) {
        StrPool *pool = NULL;
        NodePortClaims c = {};
        (void) state;
        pool = strpool_new(); assert_non_null(pool);

        /* 53/TCP and 53/UDP on one node port: one claim */
        Service *s = svc_of(pool, SVC("ns", "dns", "2025-01-01T00:00:00Z",
                                      "{\"type\":\"NodePort\",\"ports\":[{\"port\":53,\"protocol\":\"TCP\",\"nodePort\":30053},"
                                      "{\"port\":53,\"protocol\":\"UDP\",\"nodePort\":30053}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_int_equal(c.n_claims, 1);
        assert_int_equal(c.n_problems, 0);
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);

        /* same node port, same protocol: duplicate */
        s = svc_of(pool, SVC("ns", "d", "2025-01-01T00:00:00Z",
                             "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080},{\"port\":81,\"nodePort\":30080}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_int_equal(c.n_claims, 1);
        assert_int_equal(c.n_problems, 1);
        assert_int_equal(c.problems[0].kind, NODEPORT_PROBLEM_DUPLICATE);
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);

        /* health-check port = a TCP node port: duplicate; = a UDP one: shared */
        s = svc_of(pool, SVC("ns", "h", "2025-01-01T00:00:00Z",
                             "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":30080,"
                             "\"ports\":[{\"port\":80,\"nodePort\":30080}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_int_equal(c.n_problems, 1);
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);
        s = svc_of(pool, SVC("ns", "h", "2025-01-01T00:00:00Z",
                             "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":30080,"
                             "\"ports\":[{\"port\":80,\"protocol\":\"UDP\",\"nodePort\":30080}]}"));
        assert_int_equal(nodeport_claims_compute(s, &c), 0);
        assert_int_equal(c.n_problems, 0);
        assert_int_equal(c.n_claims, 1);
        nodeport_claims_done(&c);
        kube_object_unref(&s->object);
        strpool_free(pool);
}

/* TCP+UDP of one port number get one node port; an explicit value on the
 * UDP entry is shared by the TCP one; deterministic offline picks. */
static void test_fill_sharing_and_determinism(void **state) {
        StrPool *pool = NULL;
        NodePortAlloc *a = NULL, *b = NULL;
        NodePortRange r = { 30000, 2768 };
        NodePortFill f = {};
        (void) state;
        pool = strpool_new(); assert_non_null(pool);
        assert_int_equal(nodeport_alloc_new(&r, &a), 0);
        assert_int_equal(nodeport_alloc_new(&r, &b), 0);

        Service *s = svc_of(pool, SVC("kube-system", "dns", "2025-01-01T00:00:00Z",
                                      "{\"type\":\"NodePort\",\"ports\":[{\"port\":53,\"protocol\":\"UDP\"},"
                                      "{\"port\":53,\"protocol\":\"TCP\"},{\"port\":9153}]}"));
        assert_int_equal(nodeport_fill_plan(s, a, NULL, NULL, &f), 0);
        assert_true(f.changed);
        assert_int_equal(f.n_picked, 2);
        assert_int_equal(f.node_ports[0], f.node_ports[1]);
        assert_int_not_equal(f.node_ports[0], f.node_ports[2]);
        assert_int_equal(f.node_ports[0],
                         30086 + (int32_t) (nodeport_fnv1a64("kube-system/dns/port/53") % (2768 - 86)));
        assert_int_equal(nodeport_alloc_used(a), 2);
        int32_t first = f.node_ports[0];
        nodeport_fill_done(&f);
        /* same input, same picks */
        assert_int_equal(nodeport_fill_plan(s, b, NULL, NULL, &f), 0);
        assert_int_equal(f.node_ports[0], first);
        nodeport_fill_done(&f);
        kube_object_unref(&s->object);

        /* on update: a UDP entry added next to an explicit TCP one copies it */
        s = svc_of(pool, SVC("ns", "u", "2025-01-01T00:00:00Z",
                             "{\"type\":\"NodePort\",\"ports\":[{\"port\":53,\"protocol\":\"TCP\",\"nodePort\":30555},"
                             "{\"port\":53,\"protocol\":\"UDP\"}]}"));
        assert_int_equal(nodeport_fill_plan(s, a, NULL, NULL, &f), 0);
        assert_int_equal(f.n_picked, 0);
        assert_int_equal(f.node_ports[1], 30555);
        nodeport_fill_done(&f);
        kube_object_unref(&s->object);

        /* LoadBalancer without node ports: zeros stay, the health-check port is filled */
        s = svc_of(pool, SVC("ns", "lb", "2025-01-01T00:00:00Z",
                             "{\"type\":\"LoadBalancer\",\"allocateLoadBalancerNodePorts\":false,"
                             "\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80}]}"));
        assert_int_equal(nodeport_fill_plan(s, a, NULL, NULL, &f), 0);
        assert_int_equal(f.node_ports[0], 0);
        assert_int_not_equal(f.health_check_node_port, 0);
        nodeport_fill_done(&f);
        kube_object_unref(&s->object);
        nodeport_alloc_free(a);
        nodeport_alloc_free(b);
        strpool_free(pool);
}

static void test_fill_all_or_nothing(void **state) {
        StrPool *pool = NULL;
        NodePortAlloc *a = NULL;
        NodePortRange r = { 30000, 2 };
        NodePortFill f = {};
        (void) state;
        pool = strpool_new(); assert_non_null(pool);
        assert_int_equal(nodeport_alloc_new(&r, &a), 0);
        assert_int_equal(nodeport_alloc_allocate(a, 30000), 0);
        Service *s = svc_of(pool, SVC("ns", "two", "2025-01-01T00:00:00Z",
                                      "{\"type\":\"NodePort\",\"ports\":[{\"port\":80},{\"port\":81}]}"));
        assert_int_equal(nodeport_fill_plan(s, a, NULL, NULL, &f), -ENOSPC);
        assert_int_equal(nodeport_alloc_used(a), 1); /* the one pick was given back */
        kube_object_unref(&s->object);
        nodeport_alloc_free(a);
        strpool_free(pool);
}

/* ---- the controller over an offline source ------------------------------------ */

typedef struct Fixture {
        char dir[64];
        sd_event *event;
        Source *source;
        Controller *c;
        Cache *services;
        ControllerFlags flags;
} Fixture;

static void write_file(const char *dir, const char *name, const char *text) {
        char path[256];
        FILE *m;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        m = fopen(path, "w");
        assert_non_null(m);
        fputs(text, m);
        fclose(m);
}

static void fixture_start(Fixture *f, const char *manifests, const char *range) {
        char *err = NULL;
        ControllerFlags defaults = CONTROLLER_FLAGS_INIT;

        snprintf(f->dir, sizeof f->dir, "/tmp/berth-test-nodeport.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        write_file(f->dir, "svc.yaml", manifests);
        f->flags = defaults;
        if (range)
                assert_int_equal(nodeport_parse_range_flag(range, &f->flags, &err), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(source_offline_new(f->event, &(OfflineOptions) { .dir = f->dir, .now = NOW }, &f->source, &err),
                         0);
        ControllerContext ctx = {
                .event = f->event, .source = f->source, .offline = true, .reporting_instance = "offline",
                .flags = &f->flags,
        };
        assert_int_equal(nodeport_controller_init(&ctx, &f->c), 0);
        assert_int_equal(source_cache(f->source, &kube_kind_service, NULL, &f->services), 0);
        assert_int_equal(f->c->start(f->c), 0);
}

static void run(Fixture *f) {
        for (int i = 0; i < 10000 && (source_offline_pending(f->source) > 0 || !f->c->idle(f->c)); i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
        assert_true(f->c->idle(f->c));
}

static void fixture_stop(Fixture *f) {
        char cmd[128];
        f->c->free(f->c);
        source_free(f->source);
        sd_event_unref(f->event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
}

static const Service *get(Fixture *f, const char *ns, const char *name) {
        const Service *s = SERVICE(cache_get(f->services, ns, name));
        assert_non_null(s);
        return s;
}

static JsonDoc *state_of(Fixture *f) {
        char *text = NULL, *err = NULL;
        size_t len;
        JsonDoc *doc = NULL;
        assert_int_equal(nodeport_controller_render_json(f->c, &text, &len), 0);
        assert_int_equal(json_parse(text, len, NULL, &doc, &err), 0);
        free(text);
        return doc;
}

static int64_t allocated(Fixture *f) {
        JsonDoc *doc = state_of(f);
        int64_t s = 0, d = 0;
        assert_int_equal(json_int64(json_get_path(json_doc_root(doc), "bands", "static", "allocated"), &s), 0);
        assert_int_equal(json_int64(json_get_path(json_doc_root(doc), "bands", "dynamic", "allocated"), &d), 0);
        json_doc_free(doc);
        return s + d;
}

/* A user's create or update, through the source like any write. */
static void upsert(Fixture *f, const char *ns, const char *name, const char *json) {
        if (cache_get(f->services, ns, name))
                assert_int_equal(source_replace(f->source, &kube_kind_service, ns, name, json, NULL, NULL), 0);
        else
                assert_int_equal(source_create(f->source, &kube_kind_service, ns, json, NULL, NULL), 0);
        run(f);
}

static void delete(Fixture *f, const char *ns, const char *name) {
        assert_int_equal(source_delete(f->source, &kube_kind_service, ns, name, NULL, NULL), 0);
        run(f);
}

static void test_offline_fill(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f,
                      "apiVersion: v1\nkind: Service\nmetadata: {name: dns, namespace: kube-system, creationTimestamp: '2025-01-01T00:00:00Z'}\n"
                      "spec: {type: NodePort, ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}\n"
                      "---\n"
                      "apiVersion: v1\nkind: Service\nmetadata: {name: lb, namespace: shop, creationTimestamp: '2025-01-02T00:00:00Z'}\n"
                      "spec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 443}]}\n"
                      "---\n"
                      "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop, creationTimestamp: '2025-01-03T00:00:00Z'}\n"
                      "spec: {ports: [{port: 80}]}\n",
                      NULL);
        run(&f);
        const Service *dns = get(&f, "kube-system", "dns"), *lb = get(&f, "shop", "lb"), *web = get(&f, "shop", "web");
        assert_int_not_equal(dns->ports[0].node_port, 0);
        assert_int_equal(dns->ports[0].node_port, dns->ports[1].node_port);
        assert_int_equal(dns->ports[0].node_port,
                         30086 + (int32_t) (nodeport_fnv1a64("kube-system/dns/port/53") % 2682));
        assert_int_not_equal(lb->ports[0].node_port, 0);
        assert_int_not_equal(lb->health_check_node_port, 0);
        assert_int_equal(web->ports[0].node_port, 0);
        assert_int_equal(allocated(&f), 3);

        /* type change: LoadBalancer -> ClusterIP releases both of its ports */
        upsert(&f, "shop", "lb", SVC("shop", "lb", "2025-01-02T00:00:00Z", "{\"type\":\"ClusterIP\",\"ports\":[{\"port\":443}]}"));
        run(&f);
        assert_int_equal(allocated(&f), 1);
        /* Local -> Cluster releases the health-check port only */
        upsert(&f, "shop", "lb2", SVC("shop", "lb2", "2025-01-04T00:00:00Z",
                       "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":30010,"
                       "\"ports\":[{\"port\":443,\"nodePort\":30011}]}"));
        run(&f);
        assert_int_equal(allocated(&f), 3);
        upsert(&f, "shop", "lb2", SVC("shop", "lb2", "2025-01-04T00:00:00Z",
                       "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Cluster\",\"healthCheckNodePort\":30010,"
                       "\"ports\":[{\"port\":443,\"nodePort\":30011}]}"));
        run(&f);
        assert_int_equal(allocated(&f), 2);

        /* on update: a UDP entry added to a TCP port shares its node port */
        upsert(&f, "shop", "lb2", SVC("shop", "lb2", "2025-01-04T00:00:00Z",
                       "{\"type\":\"NodePort\",\"ports\":[{\"port\":443,\"nodePort\":30011},{\"port\":443,\"protocol\":\"UDP\"}]}"));
        run(&f);
        const Service *lb2 = get(&f, "shop", "lb2");
        assert_int_equal(lb2->ports[1].node_port, 30011);
        assert_int_equal(allocated(&f), 2);
        fixture_stop(&f);
}

static void test_duplicates_reference_counted(void **state) {
        Fixture f = {};
        (void) state;
        fixture_start(&f,
                      "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default, creationTimestamp: '2025-01-01T00:00:00Z'}\n"
                      "spec: {type: NodePort, ports: [{port: 80, nodePort: 30030}]}\n"
                      "---\n"
                      "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: default, creationTimestamp: '2025-01-02T00:00:00Z'}\n"
                      "spec: {type: NodePort, ports: [{port: 80, nodePort: 30030}, {port: 81}]}\n"
                      "---\n"
                      "apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: default, creationTimestamp: '2025-01-03T00:00:00Z'}\n"
                      "spec: {type: NodePort, ports: [{port: 80, nodePort: 40000}]}\n",
                      "30000-32767");
        run(&f);
        JsonDoc *doc = state_of(&f);
        const JsonValue *problems = json_get(json_doc_root(doc), "problems");
        assert_int_equal(json_array_len(problems), 2);
        const JsonValue *p0 = json_array_at(problems, 0);
        assert_string_equal(json_get_string(p0, "reason"), "PortAlreadyAllocated");
        assert_string_equal(json_string(json_array_at(json_get(p0, "services"), 0)), "default/a");
        assert_string_equal(json_string(json_array_at(json_get(p0, "services"), 1)), "default/b");
        assert_string_equal(json_get_string(json_array_at(problems, 1), "reason"), "PortOutOfRange");
        json_doc_free(doc);
        /* b has a bad explicit port: its zero is not filled (all or nothing) */
        assert_int_equal(get(&f, "default", "b")->ports[1].node_port, 0);
        /* a duplicate arriving later (a watch event, not the first pass) is
         * reported too, and the holders of one port do not requeue each
         * other for ever: run() must reach idle.  The holders are listed in
         * claim order (creationTimestamp first), not by name. */
        upsert(&f, "default", "aa", SVC("default", "aa", "2025-01-04T00:00:00Z",
                                       "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30030}]}"));
        doc = state_of(&f);
        p0 = json_array_at(json_get(json_doc_root(doc), "problems"), 0);
        assert_int_equal(json_array_len(json_get(p0, "services")), 3);
        assert_string_equal(json_string(json_array_at(json_get(p0, "services"), 0)), "default/a");
        assert_string_equal(json_string(json_array_at(json_get(p0, "services"), 1)), "default/b");
        assert_string_equal(json_string(json_array_at(json_get(p0, "services"), 2)), "default/aa");
        json_doc_free(doc);
        delete(&f, "default", "aa");

        /* a goes: the port stays claimed by b (reference counted), b's duplicate is gone and it is filled */
        delete(&f, "default", "a");
        assert_true(allocated(&f) >= 1);
        assert_int_not_equal(get(&f, "default", "b")->ports[1].node_port, 0);
        assert_int_equal(allocated(&f), 2);
        fixture_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_health_check_only_lb_local),
                cmocka_unit_test(test_claims_within_service),
                cmocka_unit_test(test_fill_sharing_and_determinism),
                cmocka_unit_test(test_fill_all_or_nothing),
                cmocka_unit_test(test_offline_fill),
                cmocka_unit_test(test_duplicates_reference_counted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
