/* SPDX-License-Identifier: Apache-2.0 */
/* The per-Service lbipam reconcile (lbipam.md §4-§8, §13.2, §13.4-§13.7,
 * examples of §14) and the request parsing of §5.  Pools and Services are
 * written as the manifests a user would apply, decoded, and built into a
 * configuration with lb_config_build(). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipaddresspool.h"
#include "l2advertisement.h"
#include "lbipam_reconcile.h"
#include "lbipam_request.h"
#include "namespace.h"
#include "types-test-util.h"

/* ---- the cluster of one test ---- */

#define MAX_OBJECTS 16

typedef struct Env {
        StrPool *strings;
        KubeObject *pools[MAX_OBJECTS];
        size_t n_pools;
        KubeObject *advertisements[MAX_OBJECTS];
        size_t n_advertisements;
        KubeObject *namespaces[MAX_OBJECTS];
        size_t n_namespaces;
        KubeObject *services[4 * MAX_OBJECTS];
        size_t n_services;
        LbConfig *config;
        LbAllocator *alloc;
        bool phase1;
        unsigned next_cluster_ip;
} Env;

/* JSON with ' for " so that manifests read as they are written. */
static KubeObject *decode_manifest(Env *e, const KubeKind *kind, const char *fmt, ...) _printf_(3, 4);
static KubeObject *decode_manifest(Env *e, const KubeKind *kind, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        KubeObject *o = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&text, fmt, ap) >= 0);
        va_end(ap);
        for (char *p = text; *p; p++)
                if (*p == '\'')
                        *p = '"';
        if (decode_text(kind, text, e->strings, &o, &error) < 0)
                fail_msg("decoding %s: %s", text, error);
        return o;
}

static void env_build(Env *e) {
        LbConfigInput in = {
                .pools = e->pools,
                .n_pools = e->n_pools,
                .advertisements = e->advertisements,
                .n_advertisements = e->n_advertisements,
                .namespaces = e->namespaces,
                .n_namespaces = e->n_namespaces,
        };
        LbConfigError error = {};
        LbConfig *c = NULL;
        int r = lb_config_build(&in, &c, &error);

        if (r < 0)
                fail_msg("configuration rejected: %d %s", r, error.message);
        assert_int_equal(lb_allocator_set_config(e->alloc, c, NULL, NULL), 0);
        lb_config_free(e->config);
        e->config = c;
}

static void pool_add(Env *e, const char *meta, const char *spec) {
        assert_true(e->n_pools < MAX_OBJECTS);
        e->pools[e->n_pools++] = decode_manifest(
                e, &kube_kind_ipaddresspool,
                "{'apiVersion':'metallb.io/v1beta1','kind':'IPAddressPool','metadata':{'namespace':'berth-system',%s},"
                "'spec':{%s}}",
                meta, spec);
}

/* A pool as a user writes it: pool(e, "p", "'addresses':['192.0.2.0/29']"). */
static void pool(Env *e, const char *name, const char *spec) {
        _cleanup_free_ char *meta = NULL;
        assert_true(asprintf(&meta, "'name':'%s'", name) >= 0);
        pool_add(e, meta, spec);
}

static void pool_draining(Env *e, const char *name, const char *spec) {
        _cleanup_free_ char *meta = NULL;
        assert_true(asprintf(&meta, "'name':'%s','annotations':{'berth.io/drain':'true'}", name) >= 0);
        pool_add(e, meta, spec);
}

static void pool_remove(Env *e, const char *name) {
        for (size_t i = 0; i < e->n_pools; i++)
                if (streq(e->pools[i]->meta.name, name)) {
                        kube_object_unref(e->pools[i]);
                        e->pools[i] = e->pools[--e->n_pools];
                        return;
                }
        fail_msg("no pool %s", name);
}

static void advertisement(Env *e, const char *name, const char *spec) {
        assert_true(e->n_advertisements < MAX_OBJECTS);
        e->advertisements[e->n_advertisements++] = decode_manifest(
                e, &kube_kind_l2advertisement,
                "{'apiVersion':'metallb.io/v1beta1','kind':'L2Advertisement','metadata':{'namespace':'berth-system','name':'%s'},"
                "'spec':{%s}}",
                name, spec);
}

static void advertisements_clear(Env *e) {
        for (size_t i = 0; i < e->n_advertisements; i++)
                kube_object_unref(e->advertisements[i]);
        e->n_advertisements = 0;
}

static void namespace_add(Env *e, const char *name, const char *labels) {
        assert_true(e->n_namespaces < MAX_OBJECTS);
        e->namespaces[e->n_namespaces++] = decode_manifest(
                e, &kube_kind_namespace, "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'%s','labels':{%s}}}",
                name, labels);
}

static int env_setup(void **state) {
        Env *e = new0(Env, 1);
        assert_non_null(e);
        e->strings = strpool_new();
        assert_non_null(e->strings);
        assert_int_equal(lb_allocator_new(&e->alloc), 0);
        /* The usual setup: one advertisement that announces every pool. */
        advertisement(e, "all", "");
        *state = e;
        return 0;
}

static int env_teardown(void **state) {
        Env *e = *state;
        for (size_t i = 0; i < e->n_services; i++)
                kube_object_unref(e->services[i]);
        for (size_t i = 0; i < e->n_pools; i++)
                kube_object_unref(e->pools[i]);
        advertisements_clear(e);
        for (size_t i = 0; i < e->n_namespaces; i++)
                kube_object_unref(e->namespaces[i]);
        lb_allocator_free(e->alloc);
        lb_config_free(e->config);
        strpool_free(e->strings);
        free(e);
        return 0;
}

/* A Service manifest: metadata fields and spec fields, e.g.
 * service(e, "'namespace':'web','name':'a'", "'type':'LoadBalancer',..."). */
static Service *service(Env *e, const char *meta, const char *spec) {
        KubeObject *o;
        assert_true(e->n_services < ELEMENTSOF(e->services));
        o = decode_manifest(e, &kube_kind_service, "{'apiVersion':'v1','kind':'Service','metadata':{%s},'spec':{%s}}",
                            meta, spec);
        e->services[e->n_services++] = o;
        return (Service *) o;
}

/* "svc" of §14: single-stack IPv4, TCP/80, no key, ETP Cluster; extra
 * metadata (annotations, labels) and spec fields may be added. */
static Service *svc_with(Env *e, const char *ns, const char *name, const char *meta_extra, const char *spec_extra) {
        _cleanup_free_ char *meta = NULL, *spec = NULL;
        unsigned n = ++e->next_cluster_ip;
        assert_true(asprintf(&meta, "'namespace':'%s','name':'%s'%s%s", ns, name, meta_extra ? "," : "",
                             strempty(meta_extra)) >= 0);
        assert_true(asprintf(&spec,
                             "'type':'LoadBalancer','clusterIP':'10.96.0.%u','clusterIPs':['10.96.0.%u'],"
                             "'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack'%s%s%s",
                             n, n, spec_extra && strstr(spec_extra, "'ports'") ? "" : ",'ports':[{'protocol':'TCP','port':80}]",
                             spec_extra ? "," : "", strempty(spec_extra)) >= 0);
        return service(e, meta, spec);
}

static Service *svc(Env *e, const char *ns, const char *name) {
        return svc_with(e, ns, name, NULL, NULL);
}

/* A dual-stack Service (clusterIPs of both families, IPv4 primary). */
static Service *svc_dual(Env *e, const char *ns, const char *name, const char *policy, const char *meta_extra) {
        _cleanup_free_ char *meta = NULL, *spec = NULL;
        unsigned n = ++e->next_cluster_ip;
        assert_true(asprintf(&meta, "'namespace':'%s','name':'%s'%s%s", ns, name, meta_extra ? "," : "",
                             strempty(meta_extra)) >= 0);
        assert_true(asprintf(&spec,
                             "'type':'LoadBalancer','clusterIP':'10.96.0.%u','clusterIPs':['10.96.0.%u','fd00:96::%u'],"
                             "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'%s','ports':[{'protocol':'TCP','port':80}]",
                             n, n, n, policy) >= 0);
        return service(e, meta, spec);
}

/* What the wiring does after a reconcile: the status write lands and the
 * next reconcile sees the IPs. */
static void status_set(Service *s, const char *const *ips, size_t n) {
        for (size_t i = 0; i < s->n_ingress; i++) {
                free(s->ingress[i].ip);
                free(s->ingress[i].hostname);
                assert_null(s->ingress[i].ip_mode);
        }
        free(s->ingress);
        s->ingress = NULL;
        s->n_ingress = 0;
        if (n == 0)
                return;
        s->ingress = new0(ServiceIngress, n);
        assert_non_null(s->ingress);
        for (size_t i = 0; i < n; i++) {
                s->ingress[i].ip = strdup(ips[i]);
                assert_non_null(s->ingress[i].ip);
        }
        s->n_ingress = n;
}

static void status_write(Service *s, const LbDesired *d) {
        char buf[2][IP_ADDR_STRLEN];
        const char *ips[2];
        for (size_t i = 0; i < d->n_ips; i++)
                ips[i] = ip_addr_format(&d->ips[i], buf[i]);
        status_set(s, ips, d->n_ips);
}

static void status_hand_patch(Service *s, const char *ip) {
        status_set(s, &ip, 1);
}

static void reconcile(Env *e, const Service *s, LbDesired *d) {
        LbReconcileContext ctx = { .config = e->config, .alloc = e->alloc, .phase1 = e->phase1 };
        assert_int_equal(lbipam_reconcile(&ctx, s, d), 0);
}

/* Reconcile and let the write land; the IPs, "" when none. */
static void reconcile_write(Env *e, Service *s, LbDesired *d) {
        reconcile(e, s, d);
        if (!d->deferred)
                status_write(s, d);
}

/* ---- expectations, with the spec's exact texts ---- */

static char *ips_text(const LbDesired *d) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        assert_non_null(f);
        for (size_t i = 0; i < d->n_ips; i++) {
                char buf[IP_ADDR_STRLEN];
                fprintf(f, "%s%s", i ? " " : "", ip_addr_format(&d->ips[i], buf));
        }
        fclose(f);
        return out;
}

/* "192.0.2.0 2001:db8::" in ingress order, and the pool annotation. */
static void expect_ips(const LbDesired *d, const char *ips, const char *pool_name) {
        _cleanup_free_ char *got = ips_text(d);
        assert_string_equal(got, ips);
        if (pool_name) {
                assert_non_null(d->pool);
                assert_string_equal(d->pool, pool_name);
        } else
                assert_null(d->pool);
}

static void expect_condition(const LbDesired *d, const char *reason, const char *message) {
        if (!reason) {
                assert_int_equal(d->reason, LB_REASON_NONE);
                assert_null(d->message);
                return;
        }
        assert_non_null(lb_reason_to_string(d->reason));
        assert_string_equal(lb_reason_to_string(d->reason), reason);
        assert_non_null(d->message);
        assert_string_equal(d->message, message);
}

/* Each event as "Type Reason: note", in order; NULL-terminated. */
static void expect_events(const LbDesired *d, ...) {
        va_list ap;
        size_t i = 0;
        const char *want;

        va_start(ap, d);
        while ((want = va_arg(ap, const char *))) {
                _cleanup_free_ char *got = NULL;
                if (i >= d->n_events)
                        fail_msg("missing event %zu: %s", i, want);
                assert_true(asprintf(&got, "%s %s: %s", d->events[i].type, d->events[i].reason, d->events[i].note) >= 0);
                assert_string_equal(got, want);
                i++;
        }
        va_end(ap);
        if (i != d->n_events)
                fail_msg("unexpected event: %s %s: %s", d->events[i].type, d->events[i].reason, d->events[i].note);
}

static void expect_allocated(const LbDesired *d, const char *ips, const char *pool_name, const char *message) {
        expect_ips(d, ips, pool_name);
        expect_condition(d, "Allocated", message);
}

static void expect_pending(const LbDesired *d, const char *reason, const char *message) {
        expect_ips(d, "", NULL);
        expect_condition(d, reason, message);
}

static bool holds(Env *e, const char *key) {
        const char *p;
        IpAddr ips[2];
        size_t n;
        return lb_allocator_lookup(e->alloc, key, &p, ips, &n);
}

#define ENV Env *e = *state

/* ================= §5: requests and annotations ================= */

static void expect_request(Env *e, const char *meta_extra, const char *spec_extra, const char *ips, const char *invalid) {
        Service *s = svc_with(e, "ns", "r", meta_extra, spec_extra);
        _cleanup_(lbipam_request_done) LbRequest r = {};
        LbDesired d = { .n_ips = 0 };

        assert_int_equal(lbipam_request_parse(s, &r), 0);
        assert_true(r.present);
        if (invalid) {
                assert_non_null(r.invalid);
                assert_string_equal(r.invalid, invalid);
                assert_int_equal(r.n_ips, 0);
                return;
        }
        assert_null(r.invalid);
        memcpy(d.ips, r.ips, sizeof(r.ips));
        d.n_ips = r.n_ips;
        expect_ips(&d, ips, NULL);
}

static void test_request_parse(void **state) {
        ENV;
        /* The annotation: comma-separated, each item trimmed, request order kept. */
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':' 2001:db8::1 , 192.0.2.1'}", NULL,
                       "2001:db8::1 192.0.2.1", NULL);
        /* Compared as addresses: any spelling parses to the canonical one. */
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'2001:DB8:0::0:1'}", NULL, "2001:db8::1", NULL);
        expect_request(e, NULL, "'loadBalancerIP':'192.0.2.7'", "192.0.2.7", NULL);
        expect_request(e, "'annotations':{'metallb.universe.tf/loadBalancerIPs':'192.0.2.8'}", NULL, "192.0.2.8", NULL);
        /* An empty annotation counts as absent: spec.loadBalancerIP is used. */
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':''}", "'loadBalancerIP':'192.0.2.9'", "192.0.2.9",
                       NULL);
}

static void test_request_invalid_details(void **state) {
        ENV;
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1,foo'}", NULL, NULL,
                       "\"foo\" is not an IP address");
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1,'}", NULL, NULL,
                       "\"\" is not an IP address");
        expect_request(e, NULL, "'loadBalancerIP':'192.0.2.300'", NULL, "\"192.0.2.300\" is not an IP address");
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1'}", "'loadBalancerIP':'192.0.2.1'",
                       NULL, "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP");
        expect_request(e, "'annotations':{'metallb.universe.tf/loadBalancerIPs':'192.0.2.1'}",
                       "'loadBalancerIP':'192.0.2.1'", NULL,
                       "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP");
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1,2001:db8::1,192.0.2.2'}", NULL, NULL,
                       "more than two addresses [\"192.0.2.1\" \"2001:db8::1\" \"192.0.2.2\"]");
        expect_request(e, "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1, 192.0.2.2'}", NULL, NULL,
                       "\"192.0.2.1\" \"192.0.2.2\" has the same family");
}

static void test_request_absent(void **state) {
        ENV;
        Service *s = svc(e, "ns", "plain");
        _cleanup_(lbipam_request_done) LbRequest r = {};
        assert_int_equal(lbipam_request_parse(s, &r), 0);
        assert_false(r.present);
        assert_null(r.invalid);
}

static void test_annotations_prefixes(void **state) {
        ENV;
        LbServiceAnnotations a;
        Service *s = svc_with(e, "ns", "a",
                              "'annotations':{'metallb.io/address-pool':'new','metallb.universe.tf/address-pool':'old',"
                              "'metallb.io/allow-shared-ip':'','metallb.universe.tf/allow-shared-ip':'k',"
                              "'metallb.universe.tf/loadBalancerIPs':'192.0.2.1'}",
                              NULL);

        lbipam_service_annotations(s, &a);
        assert_string_equal(a.address_pool, "new");      /* metallb.io/ first */
        assert_string_equal(a.allow_shared_ip, "k");     /* empty counts as absent */
        assert_string_equal(a.load_balancer_ips, "192.0.2.1");
        assert_int_equal(a.n_deprecated, 2);
        assert_string_equal(a.deprecated[0], "metallb.universe.tf/allow-shared-ip");
        assert_string_equal(a.deprecated[1], "metallb.universe.tf/loadBalancerIPs");

        s = svc(e, "ns", "b");
        lbipam_service_annotations(s, &a);
        assert_null(a.address_pool);
        assert_null(a.allow_shared_ip);
        assert_null(a.load_balancer_ips);
        assert_int_equal(a.n_deprecated, 0);
}

static void test_families(void **state) {
        ENV;
        LbFamilies f;

        lbipam_service_families(svc(e, "ns", "v4"), &f);
        assert_int_equal(f.n, 1);
        assert_int_equal(f.family[0], IP_FAMILY_V4);

        lbipam_service_families(service(e, "'namespace':'ns','name':'v6'",
                                        "'type':'LoadBalancer','clusterIP':'fd00::1','clusterIPs':['fd00::1']"),
                                &f);
        assert_int_equal(f.n, 1);
        assert_int_equal(f.family[0], IP_FAMILY_V6);

        /* One address of each family is dual-stack; ipFamilies[0] is primary. */
        lbipam_service_families(service(e, "'namespace':'ns','name':'d6'",
                                        "'type':'LoadBalancer','clusterIP':'fd00::2','clusterIPs':['fd00::2','10.96.0.2'],"
                                        "'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':'RequireDualStack'"),
                                &f);
        assert_int_equal(f.n, 2);
        assert_int_equal(f.family[0], IP_FAMILY_V6);
        assert_int_equal(f.family[1], IP_FAMILY_V4);

        /* Without ipFamilies, IPv4 is primary. */
        lbipam_service_families(service(e, "'namespace':'ns','name':'d4'",
                                        "'type':'LoadBalancer','clusterIPs':['fd00::3','10.96.0.3']"),
                                &f);
        assert_int_equal(f.n, 2);
        assert_int_equal(f.family[0], IP_FAMILY_V4);

        lbipam_service_families(service(e, "'namespace':'ns','name':'none'", "'type':'LoadBalancer'"), &f);
        assert_int_equal(f.n, 0);
        lbipam_service_families(service(e, "'namespace':'ns','name':'same'",
                                        "'type':'LoadBalancer','clusterIPs':['10.96.0.4','10.96.0.5']"),
                                &f);
        assert_int_equal(f.n, 0);
}

static void test_go_quote_and_lists(void **state) {
        static const char *const raw[] = { "192.0.2.1", "a\"b", "tab\there" };
        _cleanup_free_ char *q = lb_config_go_quote("x\\y\n\x01");
        _cleanup_free_ char *list = lb_format_string_list(raw, 3);
        _cleanup_free_ char *empty = lb_format_string_list(raw, 0);
        (void) state;
        assert_string_equal(q, "\"x\\\\y\\n\\x01\"");
        assert_string_equal(list, "[\"192.0.2.1\" \"a\\\"b\" \"tab\\there\"]");
        assert_string_equal(empty, "[]");
}

/* ================= §8: the sharing view of a Service ================= */

static void test_service_share(void **state) {
        ENV;
        _cleanup_(lbipam_service_share_done) LbServiceShareOwned a = {}, b = {}, c = {};
        Service *local = svc_with(e, "web", "a", "'annotations':{'metallb.universe.tf/allow-shared-ip':'k1'}",
                                  "'externalTrafficPolicy':'Local','selector':{'tier':'y','app':'x'},"
                                  "'ports':[{'protocol':'TCP','port':53},{'protocol':'UDP','port':53}]");
        Service *cluster = svc_with(e, "web", "b", "'annotations':{'metallb.io/allow-shared-ip':'k2'}",
                                    "'externalTrafficPolicy':'Cluster','selector':{'app':'x'}");
        Service *nokey = svc_with(e, "web", "c", NULL, "'externalTrafficPolicy':'Local'");

        assert_int_equal(lbipam_service_share(local, &a), 0);
        assert_string_equal(a.share.key, "web/a");
        assert_string_equal(a.share.sharing_key, "k1");
        assert_string_equal(a.share.backend_key, "app=x,tier=y"); /* sorted by key */
        assert_int_equal(a.share.n_ports, 2);
        assert_string_equal(a.share.ports[0].protocol, "TCP");
        assert_int_equal(a.share.ports[0].port, 53);
        assert_string_equal(a.share.ports[1].protocol, "UDP");
        assert_int_equal(a.share.ports[1].port, 53);

        assert_int_equal(lbipam_service_share(cluster, &b), 0);
        assert_string_equal(b.share.sharing_key, "k2");
        assert_string_equal(b.share.backend_key, ""); /* Cluster: the selector does not matter */

        assert_int_equal(lbipam_service_share(nokey, &c), 0);
        assert_true(isempty(c.share.sharing_key));
        assert_string_equal(c.share.backend_key, ""); /* Local with no selector */
}

/* ================= §4 and §6 steps 1-4 ================= */

static void test_handled_filter(void **state) {
        ENV;
        Service *plain = svc(e, "ns", "a");
        Service *classed = svc_with(e, "ns", "b", NULL, "'loadBalancerClass':'example.com/lb'");

        assert_true(lb_service_handled(plain, NULL));
        assert_true(lb_service_handled(plain, ""));
        assert_false(lb_service_handled(classed, NULL));
        assert_false(lb_service_handled(plain, "example.com/lb"));
        assert_true(lb_service_handled(classed, "example.com/lb"));
        assert_false(lb_service_handled(classed, "other"));
}

static void test_step1_not_load_balancer(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        Service *turned = service(e, "'namespace':'ns','name':'a'",
                                  "'type':'ClusterIP','clusterIP':'10.96.0.1','clusterIPs':['10.96.0.1']");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        status_write(turned, &d);
        lb_desired_done(&d);

        /* The Service becomes ClusterIP: released, status {}, no condition, no event. */
        reconcile(e, turned, &d);
        expect_ips(&d, "", NULL);
        expect_condition(&d, NULL, NULL);
        expect_events(&d, (const char *) NULL);
        assert_false(holds(e, "ns/a"));
        lb_desired_done(&d);
}

static void test_step2_no_pools(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        LbDesired d = {};

        env_build(e); /* a valid configuration with zero pools */
        status_hand_patch(s, "192.0.2.1");
        reconcile(e, s, &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is configured");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step3_no_cluster_ip(void **state) {
        ENV;
        Service *s = service(e, "'namespace':'ns','name':'a','annotations':{'metallb.universe.tf/address-pool':'p'}",
                             "'type':'LoadBalancer','ports':[{'port':80}]");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile(e, s, &d);
        expect_ips(&d, "", NULL);
        expect_condition(&d, NULL, NULL);
        expect_events(&d, (const char *) NULL); /* not even deprecatedAnnotation */
        lb_desired_done(&d);
}

static void test_step4_require_dual_stack(void **state) {
        ENV;
        Service *s = service(e, "'namespace':'ns','name':'a'",
                             "'type':'LoadBalancer','clusterIP':'10.96.0.1','clusterIPs':['10.96.0.1'],"
                             "'ipFamilies':['IPv4'],'ipFamilyPolicy':'RequireDualStack','ports':[{'port':80}]");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        reconcile(e, s, &d);
        expect_pending(&d, "FamilyMismatch", "Service requires dual stack but not enough clusterips [10.96.0.1]");
        expect_events(&d,
                      "Warning not enough clusterips: Service requires dual stack but not enough clusterips [10.96.0.1]", (const char *) NULL);
        lb_desired_done(&d);
}

/* ================= §6 step 5: re-validation ================= */

static void test_step5_keeps_valid_ips(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);

        /* Nothing changes: the same state, no event, no rejection. */
        reconcile_write(e, s, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, (const char *) NULL);
        assert_false(d.status_ips_rejected);
        lb_desired_done(&d);
}

static void test_step5_1_family_undetermined(void **state) {
        ENV;
        static const char *const three[] = { "192.0.2.5", "2001:db8::5", "192.0.2.6" };
        static const char *const garbage[] = { "not-an-ip" };
        Service *s = svc(e, "ns", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        status_set(s, three, 3);
        reconcile(e, s, &d);
        expect_events(&d,
                      "Warning nolbIPsIPFamily: cannot determine the IP family of status IPs "
                      "[\"192.0.2.5\" \"2001:db8::5\" \"192.0.2.6\"]",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        lb_desired_done(&d);

        status_set(s, garbage, 1);
        reconcile(e, s, &d);
        expect_events(&d, "Warning nolbIPsIPFamily: cannot determine the IP family of status IPs [\"not-an-ip\"]",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step5_2_family_changed(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        status_hand_patch(s, "2001:db8::"); /* in the pool, but not the Service's family */
        reconcile(e, s, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL); /* cleared silently */
        assert_false(d.status_ips_rejected);
        lb_desired_done(&d);
}

static void test_x5_status_outside_pools(void **state) {
        ENV;
        Service *a = svc(e, "ns", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, a, &d);
        lb_desired_done(&d);

        /* X5 / CVE-2020-8554: someone patches the status by hand. */
        status_hand_patch(a, "203.0.113.9");
        reconcile(e, a, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d,
                      "Normal ClearAssignment: current IP for \"ns/a\" not allowed by config, will attempt for new IP "
                      "assignment: [\"203.0.113.9\"] is not allowed in config",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        assert_true(d.status_ips_rejected);
        lb_desired_done(&d);
}

static void test_step5_3_collision_with_other_service(void **state) {
        ENV;
        Service *a = svc(e, "ns", "a"), *b = svc(e, "ns", "b");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, a, &d);
        lb_desired_done(&d);

        /* b's status is patched to a's address: neither has a sharing key. */
        status_hand_patch(b, "192.0.2.0");
        reconcile(e, b, &d);
        expect_allocated(&d, "192.0.2.1", "p", "IP [\"192.0.2.1\"] from pool \"p\"");
        expect_events(&d,
                      "Normal ClearAssignment: current IP for \"ns/b\" not allowed by config, will attempt for new IP "
                      "assignment: can't change sharing key for \"ns/b\", address also in use by ns/a",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.1\"]", (const char *) NULL);
        assert_true(d.status_ips_rejected);
        lb_desired_done(&d);
}

static void test_step5_3_pool_no_longer_compatible(void **state) {
        ENV;
        Service *s = svc(e, "web", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29'],'serviceAllocation':{'namespaces':['web']}");
        pool(e, "q", "'addresses':['198.51.100.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);

        pool_remove(e, "p");
        pool(e, "p", "'addresses':['192.0.2.0/29'],'serviceAllocation':{'namespaces':['other']}");
        env_build(e);
        reconcile(e, s, &d);
        expect_allocated(&d, "198.51.100.0", "q", "IP [\"198.51.100.0\"] from pool \"q\"");
        expect_events(&d,
                      "Normal ClearAssignment: current IP for \"web/a\" not allowed by config, will attempt for new IP "
                      "assignment: pool p not compatible for ip assignment",
                      "Normal IPAllocated: Assigned IP [\"198.51.100.0\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step5_4_pool_annotation_changed(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        Service *moved = svc_with(e, "ns", "a", "'annotations':{'metallb.io/address-pool':'q'}", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        pool(e, "q", "'addresses':['198.51.100.0/29'],'autoAssign':false");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_ips(&d, "192.0.2.0", "p");
        status_write(moved, &d);
        lb_desired_done(&d);

        reconcile(e, moved, &d);
        expect_allocated(&d, "198.51.100.0", "q", "IP [\"198.51.100.0\"] from pool \"q\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"198.51.100.0\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step5_5_request_changed(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        Service *asks = svc_with(e, "ns", "a", NULL, "'loadBalancerIP':'192.0.2.5'");
        Service *same = svc_with(e, "ns", "a", "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.0'}", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        status_write(asks, &d);
        status_write(same, &d);
        lb_desired_done(&d);

        /* A request equal to the status (as addresses) keeps it. */
        reconcile(e, same, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);

        reconcile(e, asks, &d);
        expect_allocated(&d, "192.0.2.5", "p", "IP [\"192.0.2.5\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.5\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step5_5_infeasible_request_leaves_pending(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        Service *asks = svc_with(e, "ns", "a", NULL, "'loadBalancerIP':'203.0.113.1'");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        status_write(asks, &d);
        lb_desired_done(&d);

        /* As MetalLB: the old IP goes, the Service stays pending, the condition says why. */
        reconcile(e, asks, &d);
        expect_pending(&d, "NotAllowed", "[\"203.0.113.1\"] is not allowed in config");
        expect_events(&d, "Warning AllocationFailed: Failed to allocate IP for \"ns/a\": [\"203.0.113.1\"] is not allowed in config", (const char *) NULL);
        assert_false(holds(e, "ns/a"));
        lb_desired_done(&d);
}

static void test_step5_6_invalid_request_keeps_ips(void **state) {
        ENV;
        Service *s = svc(e, "ns", "a");
        Service *bad = svc_with(e, "ns", "a", "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1,nope'}", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        status_write(bad, &d);
        lb_desired_done(&d);

        reconcile(e, bad, &d);
        /* InvalidRequest only while the Service has no IP: this one stays Allocated. */
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, "Warning LoadBalancerFailed: invalid requested loadbalancer IPs: \"nope\" is not an IP address", (const char *) NULL);
        lb_desired_done(&d);
}

/* ================= §6 step 6: the second family ================= */

static void test_step6_second_family_when_pool_gains_it(void **state) {
        ENV;
        Service *s = svc_dual(e, "ns", "a", "PreferDualStack", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);

        /* Every reconcile tries again (the wiring suppresses the repeat). */
        reconcile_write(e, s, &d);
        expect_events(&d,
                      "Normal AdditionalAssignFailed: Failed to allocate additional IP for \"ns/a\": no available IPv6 "
                      "addresses in pool p", (const char *) NULL);
        lb_desired_done(&d);

        /* The pool gains IPv6: the Service is upgraded in place. */
        pool_remove(e, "p");
        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_allocated(&d, "192.0.2.0 2001:db8::", "p", "IP [\"192.0.2.0\" \"2001:db8::\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned additional IP \"2001:db8::\"", (const char *) NULL);
        lb_desired_done(&d);

        reconcile_write(e, s, &d);
        expect_ips(&d, "192.0.2.0 2001:db8::", "p");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);
}

static void test_step6_not_for_requested_or_draining(void **state) {
        ENV;
        Service *asks = svc_dual(e, "ns", "a", "PreferDualStack", "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.3'}");
        Service *s = svc_dual(e, "ns", "b", "PreferDualStack", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, asks, &d);
        expect_allocated(&d, "192.0.2.3", "p", "IP [\"192.0.2.3\"] from pool \"p\"");
        lb_desired_done(&d);
        reconcile_write(e, s, &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);

        pool_remove(e, "p");
        pool_draining(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        /* A requested single IP is what the user asked for: no second family. */
        reconcile(e, asks, &d);
        expect_ips(&d, "192.0.2.3", "p");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);
        /* Never from a draining pool. */
        reconcile(e, s, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, "Normal AdditionalAssignFailed: Failed to allocate additional IP for \"ns/b\": pool p is draining", (const char *) NULL);
        lb_desired_done(&d);
}

/* ================= §6 step 7 and §7: allocation ================= */

static void test_x1_plain_pools_by_name(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "beta", "'addresses':['192.0.2.0/30']");
        pool(e, "alpha", "'addresses':['198.51.100.0/30']");
        env_build(e);
        reconcile(e, svc(e, "ns", "a"), &d);
        expect_allocated(&d, "198.51.100.0", "alpha", "IP [\"198.51.100.0\"] from pool \"alpha\"");
        lb_desired_done(&d);
}

static void test_x2_priorities(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "z", "'addresses':['192.0.2.0/32'],'serviceAllocation':{'priority':5,'namespaces':['web']}");
        pool(e, "a", "'addresses':['192.0.2.8/32'],'serviceAllocation':{'priority':5,'namespaces':['web']}");
        env_build(e);
        reconcile_write(e, svc(e, "web", "one"), &d);
        expect_ips(&d, "192.0.2.8", "a");
        lb_desired_done(&d);
        reconcile_write(e, svc(e, "web", "two"), &d);
        expect_ips(&d, "192.0.2.0", "z");
        lb_desired_done(&d);
}

static void test_tiers_and_priority_order(void **state) {
        ENV;
        LbDesired d = {};

        /* plain "a" sorts first but tier 1 wins; priority 0 comes after 1 and 7. */
        pool(e, "a", "'addresses':['10.0.0.0/32']");
        pool(e, "unset", "'addresses':['10.0.1.0/32'],'serviceAllocation':{}");
        pool(e, "seven", "'addresses':['10.0.2.0/32'],'serviceAllocation':{'priority':7}");
        pool(e, "one", "'addresses':['10.0.3.0/32'],'serviceAllocation':{'priority':1,'namespaces':['web']}");
        pool(e, "other", "'addresses':['10.0.4.0/32'],'serviceAllocation':{'priority':1,'namespaces':['other']}");
        pool(e, "sel", "'addresses':['10.0.5.0/32'],'serviceAllocation':{'priority':1,"
                       "'serviceSelectors':[{'matchLabels':{'team':'blue'}}]}");
        env_build(e);

        static const char *const order[][2] = {
                { "10.0.3.0", "one" }, { "10.0.2.0", "seven" }, { "10.0.1.0", "unset" }, { "10.0.0.0", "a" },
        };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                char name[16];
                snprintf(name, sizeof name, "s%zu", i);
                reconcile_write(e, svc(e, "web", name), &d);
                expect_ips(&d, order[i][0], order[i][1]);
                lb_desired_done(&d);
        }
        /* Everything the namespace may use is taken; "other" and "sel" stay out of reach. */
        reconcile(e, svc(e, "web", "last"), &d);
        expect_pending(&d, "PoolExhausted", "no available IPs");
        expect_events(&d, "Warning AllocationFailed: Failed to allocate IP for \"web/last\": no available IPs", (const char *) NULL);
        lb_desired_done(&d);

        /* A serviceSelector matches the Service's own labels. */
        reconcile(e, svc_with(e, "web", "blue", "'labels':{'team':'blue'}", NULL), &d);
        expect_ips(&d, "10.0.5.0", "sel");
        lb_desired_done(&d);
}

static void test_namespace_selectors(void **state) {
        ENV;
        LbDesired d = {};

        namespace_add(e, "prod", "'env':'prod'");
        namespace_add(e, "dev", "'env':'dev'");
        pool(e, "p", "'addresses':['192.0.2.0/29'],'serviceAllocation':{'namespaceSelectors':[{'matchLabels':{'env':'prod'}}]}");
        env_build(e);
        reconcile(e, svc(e, "prod", "a"), &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);
        reconcile(e, svc(e, "dev", "a"), &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        lb_desired_done(&d);
}

static void test_x3_avoid_buggy_ips(void **state) {
        ENV;
        static const char *const want[] = { "192.0.2.253", "192.0.2.254", "192.0.3.1", "192.0.3.2" };
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.253 - 192.0.3.2'],'avoidBuggyIPs':true");
        env_build(e);
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char name[16];
                snprintf(name, sizeof name, "s%zu", i);
                reconcile_write(e, svc(e, "ns", name), &d);
                expect_ips(&d, want[i], "p");
                lb_desired_done(&d);
        }
        reconcile(e, svc(e, "ns", "s4"), &d);
        expect_pending(&d, "PoolExhausted", "no available IPs");
        expect_events(&d, "Warning AllocationFailed: Failed to allocate IP for \"ns/s4\": no available IPs", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_x4_named_pool_lacks_family(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/32','2001:db8::/127']");
        env_build(e);
        reconcile_write(e, svc(e, "ns", "holder"), &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);

        reconcile(e, svc_with(e, "ns", "a", "'annotations':{'metallb.io/address-pool':'p'}", NULL), &d);
        expect_pending(&d, "PoolExhausted", "no available IPv4 addresses in pool p");
        expect_events(&d,
                      "Warning AllocationFailed: Failed to allocate IP for \"ns/a\": no available IPv4 addresses in pool p", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_named_pool_errors(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "full", "'addresses':['192.0.2.0/32']");
        pool(e, "v4only", "'addresses':['198.51.100.0/30']");
        pool(e, "web", "'addresses':['203.0.113.0/30'],'serviceAllocation':{'namespaces':['web']}");
        env_build(e);
        reconcile_write(e, svc_with(e, "ns", "h", "'annotations':{'metallb.io/address-pool':'full'}", NULL), &d);
        expect_ips(&d, "192.0.2.0", "full");
        lb_desired_done(&d);

        reconcile(e, svc_with(e, "ns", "a", "'annotations':{'metallb.io/address-pool':'full'}", NULL), &d);
        expect_pending(&d, "PoolExhausted", "no available IPs in pool full");
        lb_desired_done(&d);

        reconcile(e, svc_with(e, "ns", "b", "'annotations':{'metallb.io/address-pool':'nope'}", NULL), &d);
        expect_pending(&d, "NoPool", "unknown pool \"nope\"");
        expect_events(&d, "Warning AllocationFailed: Failed to allocate IP for \"ns/b\": unknown pool \"nope\"", (const char *) NULL);
        lb_desired_done(&d);

        reconcile(e, svc_with(e, "ns", "c", "'annotations':{'metallb.io/address-pool':'web'}", NULL), &d);
        expect_pending(&d, "NotAllowed", "pool web not compatible for ip assignment");
        lb_desired_done(&d);

        /* An IPv6 Service names a pool without IPv6 at all (§13.7). */
        reconcile(e, service(e, "'namespace':'ns','name':'v6','annotations':{'metallb.io/address-pool':'v4only'}",
                             "'type':'LoadBalancer','clusterIP':'fd00::9','clusterIPs':['fd00::9'],'ports':[{'port':80}]"),
                  &d);
        expect_pending(&d, "PoolExhausted", "no available IPv6 addresses in pool v4only");
        lb_desired_done(&d);
}

static void test_requested_ips(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        pool(e, "q", "'addresses':['198.51.100.0/29']");
        env_build(e);

        reconcile_write(e, svc_with(e, "ns", "in", NULL, "'loadBalancerIP':'192.0.2.6'"), &d);
        expect_allocated(&d, "192.0.2.6", "p", "IP [\"192.0.2.6\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.6\"]", (const char *) NULL);
        lb_desired_done(&d);

        reconcile(e, svc_with(e, "ns", "out", NULL, "'loadBalancerIP':'203.0.113.1'"), &d);
        expect_pending(&d, "NotAllowed", "[\"203.0.113.1\"] is not allowed in config");
        lb_desired_done(&d);

        /* Family mismatch: an IPv4 Service asks for IPv6, or for two addresses. */
        reconcile(e, svc_with(e, "ns", "fam", "'annotations':{'metallb.io/loadBalancerIPs':'2001:db8::5'}", NULL), &d);
        expect_pending(&d, "FamilyMismatch",
                       "requested loadBalancer IP(s) [\"2001:db8::5\"] does not match the ipFamily of the service");
        expect_events(&d,
                      "Warning AllocationFailed: Failed to allocate IP for \"ns/fam\": requested loadBalancer IP(s) "
                      "[\"2001:db8::5\"] does not match the ipFamily of the service", (const char *) NULL);
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "two", "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.5,2001:db8::5'}", NULL),
                  &d);
        expect_pending(&d, "FamilyMismatch",
                       "requested loadBalancer IP(s) [\"192.0.2.5\" \"2001:db8::5\"] does not match the ipFamily of the service");
        lb_desired_done(&d);

        /* The address-pool annotation names another pool. */
        reconcile(e, svc_with(e, "ns", "mix", "'annotations':{'metallb.io/address-pool':'q'}", "'loadBalancerIP':'192.0.2.5'"),
                  &d);
        expect_pending(&d, "NotAllowed",
                       "requested loadBalancer IP(s) [\"192.0.2.5\"] is not compatible with requested address pool q");
        assert_false(holds(e, "ns/mix"));
        lb_desired_done(&d);
        /* ... or the same one. */
        reconcile(e, svc_with(e, "ns", "ok", "'annotations':{'metallb.io/address-pool':'p'}", "'loadBalancerIP':'192.0.2.5'"),
                  &d);
        expect_ips(&d, "192.0.2.5", "p");
        lb_desired_done(&d);
}

static void test_invalid_request_pending(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile(e, svc_with(e, "ns", "a", "'annotations':{'metallb.io/loadBalancerIPs':'192.0.2.1,192.0.2.2'}", NULL), &d);
        expect_pending(&d, "InvalidRequest",
                       "invalid requested loadbalancer IPs: \"192.0.2.1\" \"192.0.2.2\" has the same family");
        expect_events(&d,
                      "Warning LoadBalancerFailed: invalid requested loadbalancer IPs: \"192.0.2.1\" \"192.0.2.2\" has the "
                      "same family", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_auto_assign_false(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "manual", "'addresses':['192.0.2.0/29'],'autoAssign':false");
        env_build(e);
        /* Not used automatically ... */
        reconcile(e, svc(e, "ns", "auto"), &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        lb_desired_done(&d);
        /* ... but by annotation and by requested IP: autoAssign is not an access control. */
        reconcile_write(e, svc_with(e, "ns", "named", "'annotations':{'metallb.io/address-pool':'manual'}", NULL), &d);
        expect_ips(&d, "192.0.2.0", "manual");
        lb_desired_done(&d);
        reconcile_write(e, svc_with(e, "ns", "asked", NULL, "'loadBalancerIP':'192.0.2.4'"), &d);
        expect_ips(&d, "192.0.2.4", "manual");
        lb_desired_done(&d);
}

static void test_retry_picks_same_address(void **state) {
        ENV;
        Service *a = svc(e, "ns", "a");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile(e, a, &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);
        /* The write failed (or is in flight): the retry does not move to .1. */
        reconcile(e, a, &d);
        expect_ips(&d, "192.0.2.0", "p");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_list_order_wins(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "p", "'addresses':['10.0.0.9/32','10.0.0.1/32']");
        env_build(e);
        reconcile(e, svc(e, "ns", "a"), &d);
        expect_ips(&d, "10.0.0.9", "p");
        lb_desired_done(&d);
}

/* ================= dual-stack ================= */

static void test_require_dual_stack(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "a4", "'addresses':['192.0.2.0/29']");
        pool(e, "b6", "'addresses':['2001:db8::/120']");
        pool(e, "c", "'addresses':['198.51.100.0/29','2001:db8:1::/120']");
        env_build(e);
        /* Both families from one pool, IPv6 primary when ipFamilies says so. */
        reconcile_write(e, service(e, "'namespace':'ns','name':'d'",
                                   "'type':'LoadBalancer','clusterIP':'fd00::1','clusterIPs':['fd00::1','10.96.0.1'],"
                                   "'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':'RequireDualStack','ports':[{'port':80}]"),
                        &d);
        expect_allocated(&d, "2001:db8:1:: 198.51.100.0", "c", "IP [\"2001:db8:1::\" \"198.51.100.0\"] from pool \"c\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"2001:db8:1::\" \"198.51.100.0\"]", (const char *) NULL);
        lb_desired_done(&d);

        /* No single pool has both any more: eligible pools never could → NoPool. */
        pool_remove(e, "c");
        env_build(e);
        reconcile(e, svc_dual(e, "ns", "e", "RequireDualStack", NULL), &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        lb_desired_done(&d);
}

static void test_require_dual_stack_named_pool(void **state) {
        ENV;
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile(e, svc_dual(e, "ns", "a", "RequireDualStack", "'annotations':{'metallb.io/address-pool':'p'}"), &d);
        expect_pending(&d, "PoolExhausted", "no available IPv6 addresses in pool p");
        lb_desired_done(&d);
}

static void test_prefer_dual_stack_passes(void **state) {
        ENV;
        LbDesired d = {};

        /* First pass: a pool with both families, even if it sorts last. */
        pool(e, "a6", "'addresses':['2001:db8::/127']");
        pool(e, "b4", "'addresses':['192.0.2.0/31']");
        pool(e, "c", "'addresses':['198.51.100.0/32','2001:db8:1::/128']");
        env_build(e);
        reconcile_write(e, svc_dual(e, "ns", "one", "PreferDualStack", NULL), &d);
        expect_ips(&d, "198.51.100.0 2001:db8:1::", "c");
        lb_desired_done(&d);
        /* Second pass: the primary family (IPv4 from b4), though a6 sorts first. */
        reconcile_write(e, svc_dual(e, "ns", "two", "PreferDualStack", NULL), &d);
        expect_ips(&d, "192.0.2.0", "b4");
        lb_desired_done(&d);
        reconcile_write(e, svc_dual(e, "ns", "three", "PreferDualStack", NULL), &d);
        expect_ips(&d, "192.0.2.1", "b4");
        lb_desired_done(&d);
        /* Then the secondary family. */
        reconcile_write(e, svc_dual(e, "ns", "four", "PreferDualStack", NULL), &d);
        expect_ips(&d, "2001:db8::", "a6");
        lb_desired_done(&d);
        /* Requested IPs: one or two are both fine. */
        pool(e, "d", "'addresses':['203.0.113.0/29','2001:db8:2::/120']");
        env_build(e);
        reconcile(e, svc_dual(e, "ns", "five", "PreferDualStack", "'annotations':{'metallb.io/loadBalancerIPs':'2001:db8:2::7'}"),
                  &d);
        expect_ips(&d, "2001:db8:2::7", "d");
        lb_desired_done(&d);
        reconcile(e, svc_dual(e, "ns", "six", "PreferDualStack",
                              "'annotations':{'metallb.io/loadBalancerIPs':'2001:db8:2::8,203.0.113.3'}"),
                  &d);
        expect_ips(&d, "203.0.113.3 2001:db8:2::8", "d"); /* ingress order: primary first */
        lb_desired_done(&d);
}

/* ================= §8: sharing ================= */

static void test_sharing(void **state) {
        ENV;
        LbDesired d = {};
        const char *shared = "'annotations':{'metallb.io/allow-shared-ip':'k'}";

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, svc_with(e, "ns", "a", shared, NULL), &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);
        /* Same key, other port: packed onto the same address. */
        reconcile_write(e, svc_with(e, "ns", "b", shared, "'ports':[{'protocol':'UDP','port':80}]"), &d);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);
        /* Same key, same port: the next address. */
        reconcile_write(e, svc_with(e, "ns", "c", shared, NULL), &d);
        expect_ips(&d, "192.0.2.1", "p");
        lb_desired_done(&d);

        /* Requested IPs meet the §8 errors, key before ports. */
        reconcile(e, svc_with(e, "ns", "d", shared, "'loadBalancerIP':'192.0.2.0','ports':[{'protocol':'TCP','port':80}]"), &d);
        expect_pending(&d, "SharingConflict", "port TCP/80 is already in use on \"192.0.2.0\"");
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "e", "'annotations':{'metallb.io/allow-shared-ip':'other'}", "'loadBalancerIP':'192.0.2.0'"),
                  &d);
        expect_pending(&d, "SharingConflict", "can't change sharing key for \"ns/e\", address also in use by ns/a,ns/b");
        expect_events(&d,
                      "Warning AllocationFailed: Failed to allocate IP for \"ns/e\": can't change sharing key for \"ns/e\", "
                      "address also in use by ns/a,ns/b", (const char *) NULL);
        lb_desired_done(&d);
        /* Two Services without any key. */
        reconcile_write(e, svc(e, "ns", "f"), &d);
        expect_ips(&d, "192.0.2.2", "p");
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "g", NULL, "'loadBalancerIP':'192.0.2.2'"), &d);
        expect_pending(&d, "SharingConflict", "can't change sharing key for \"ns/g\", address also in use by ns/f");
        lb_desired_done(&d);
}

/* ================= §13.5: drain ================= */

static void test_drain(void **state) {
        ENV;
        Service *holder = svc(e, "ns", "holder");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, holder, &d);
        lb_desired_done(&d);

        pool_remove(e, "p");
        pool_draining(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        /* The holder keeps its IP and passes re-validation. */
        reconcile(e, holder, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);
        /* Nothing new: not automatic, not by annotation, not by requested IP. */
        reconcile(e, svc(e, "ns", "auto"), &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "named", "'annotations':{'metallb.io/address-pool':'p'}", NULL), &d);
        expect_pending(&d, "NotAllowed", "pool p is draining");
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "asked", NULL, "'loadBalancerIP':'192.0.2.3'"), &d);
        expect_pending(&d, "NotAllowed", "pool p is draining");
        lb_desired_done(&d);
        /* Not by joining a shared IP either. */
        reconcile(e, svc_with(e, "ns", "join", NULL, "'loadBalancerIP':'192.0.2.0','ports':[{'port':443}]"), &d);
        expect_pending(&d, "NotAllowed", "pool p is draining");
        lb_desired_done(&d);
}

/* ================= §13.6: unadvertised ================= */

static void test_unadvertised_pool(void **state) {
        ENV;
        LbDesired d = {};

        advertisements_clear(e);
        advertisement(e, "only-q", "'ipAddressPools':['q']");
        pool(e, "p", "'addresses':['192.0.2.0/29']");
        pool(e, "q", "'addresses':['198.51.100.0/29'],'autoAssign':false");
        env_build(e);
        /* One message only: in the condition, no Service-level event. */
        reconcile(e, svc(e, "ns", "a"), &d);
        expect_allocated(&d, "192.0.2.0", "p",
                         "IP [\"192.0.2.0\"] from pool \"p\"; pool \"p\" has no L2Advertisement, nothing announces this IP");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);
        reconcile(e, svc_with(e, "ns", "b", "'annotations':{'metallb.io/address-pool':'q'}", NULL), &d);
        expect_allocated(&d, "198.51.100.0", "q", "IP [\"198.51.100.0\"] from pool \"q\"");
        lb_desired_done(&d);
}

static void test_advertisement_deselects_service(void **state) {
        ENV;
        LbDesired d = {};
        Service *s = svc_dual(e, "ns", "a", "RequireDualStack", "'labels':{'expose':'no'}");

        advertisements_clear(e);
        advertisement(e, "public", "'ipAddressPools':['p'],'serviceSelectors':[{'matchLabels':{'expose':'yes'}}]");
        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_allocated(&d, "192.0.2.0 2001:db8::", "p", "IP [\"192.0.2.0\" \"2001:db8::\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.0\" \"2001:db8::\"]",
                      "Warning NoL2Advertisement: IP \"192.0.2.0\" from pool p is not covered by any L2Advertisement; "
                      "nothing will announce it",
                      "Warning NoL2Advertisement: IP \"2001:db8::\" from pool p is not covered by any L2Advertisement; "
                      "nothing will announce it", (const char *) NULL);
        lb_desired_done(&d);

        /* A selected Service gets neither. */
        reconcile(e, svc_with(e, "ns", "b", "'labels':{'expose':'yes'}", NULL), &d);
        expect_allocated(&d, "192.0.2.1", "p", "IP [\"192.0.2.1\"] from pool \"p\"");
        expect_events(&d, "Normal IPAllocated: Assigned IP [\"192.0.2.1\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_deprecated_annotation_event(void **state) {
        ENV;
        LbDesired d = {};
        Service *s = svc_with(e, "ns", "a", "'annotations':{'metallb.universe.tf/address-pool':'p'}", NULL);

        pool(e, "p", "'addresses':['192.0.2.0/29']");
        env_build(e);
        reconcile_write(e, s, &d);
        expect_ips(&d, "192.0.2.0", "p");
        expect_events(&d, "Warning deprecatedAnnotation: Service uses deprecated annotation metallb.universe.tf/address-pool",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);
        /* Every reconcile that relies on it says so; the wiring de-duplicates. */
        reconcile(e, s, &d);
        expect_events(&d, "Warning deprecatedAnnotation: Service uses deprecated annotation metallb.universe.tf/address-pool", (const char *) NULL);
        lb_desired_done(&d);
}

/* ================= §13.2 and the restart examples ================= */

static void test_x6_x7_restart(void **state) {
        ENV;
        Service *a = svc(e, "ns", "a"), *b = svc(e, "ns", "b"), *c = svc(e, "ns", "c");
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/31']");
        env_build(e);
        status_hand_patch(a, "192.0.2.1");
        status_hand_patch(b, "192.0.2.0");

        /* A fresh controller: c is pending and the oldest, but phase 1
         * re-validates the holders first. */
        e->phase1 = true;
        reconcile(e, a, &d);
        expect_allocated(&d, "192.0.2.1", "p", "IP [\"192.0.2.1\"] from pool \"p\"");
        assert_false(d.deferred);
        lb_desired_done(&d);
        reconcile(e, b, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        lb_desired_done(&d);

        e->phase1 = false;
        reconcile(e, c, &d);
        expect_pending(&d, "PoolExhausted", "no available IPs");
        lb_desired_done(&d);

        /* X7: p drains, then b is deleted (the wiring releases it). */
        pool_remove(e, "p");
        pool_draining(e, "p", "'addresses':['192.0.2.0/31']");
        env_build(e);
        lb_allocator_release(e->alloc, "ns/b");
        reconcile(e, c, &d);
        expect_pending(&d, "NoPool", "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)");
        lb_desired_done(&d);
        reconcile(e, a, &d);
        expect_allocated(&d, "192.0.2.1", "p", "IP [\"192.0.2.1\"] from pool \"p\"");
        lb_desired_done(&d);
}

static void test_phase1_never_allocates(void **state) {
        ENV;
        Service *moved = svc(e, "ns", "moved"), *pending = svc(e, "ns", "pending");
        Service *dual = svc_dual(e, "ns", "dual", "PreferDualStack", NULL);
        LbDesired d = {};

        pool(e, "p", "'addresses':['192.0.2.0/29','2001:db8::/120']");
        env_build(e);
        status_hand_patch(moved, "203.0.113.1");
        status_hand_patch(dual, "192.0.2.5");

        e->phase1 = true;
        /* A holder whose IP fails re-validation is deferred to phase 2. */
        reconcile(e, moved, &d);
        assert_true(d.deferred);
        assert_true(d.status_ips_rejected);
        expect_ips(&d, "", NULL);
        expect_events(&d,
                      "Normal ClearAssignment: current IP for \"ns/moved\" not allowed by config, will attempt for new IP "
                      "assignment: [\"203.0.113.1\"] is not allowed in config", (const char *) NULL);
        assert_false(holds(e, "ns/moved"));
        lb_desired_done(&d);
        reconcile(e, pending, &d);
        assert_true(d.deferred);
        assert_false(holds(e, "ns/pending"));
        lb_desired_done(&d);
        /* The second family is an allocation too: kept for phase 2, the IP stays. */
        reconcile(e, dual, &d);
        assert_true(d.deferred);
        expect_allocated(&d, "192.0.2.5", "p", "IP [\"192.0.2.5\"] from pool \"p\"");
        expect_events(&d, (const char *) NULL);
        lb_desired_done(&d);

        e->phase1 = false;
        reconcile(e, dual, &d);
        expect_ips(&d, "192.0.2.5 2001:db8::", "p");
        lb_desired_done(&d);
        reconcile(e, moved, &d);
        assert_false(d.deferred);
        expect_ips(&d, "192.0.2.0", "p");
        lb_desired_done(&d);
}

static void test_x8_shrink(void **state) {
        ENV;
        Service *a = svc_with(e, "ns", "a", NULL, NULL);
        LbDesired d = {};
        LbDropped *dropped = NULL;
        size_t n_dropped = 0;
        LbConfig *old;

        pool(e, "p", "'addresses':['192.0.2.0/30']");
        env_build(e);
        status_hand_patch(a, "192.0.2.3");
        reconcile(e, a, &d);
        expect_ips(&d, "192.0.2.3", "p");
        lb_desired_done(&d);

        /* Shrink to /31: the allocator drops a (the wiring's AllocationsDropped) ... */
        pool_remove(e, "p");
        pool(e, "p", "'addresses':['192.0.2.0/31']");
        old = e->config;
        e->config = NULL;
        {
                LbConfigInput in = { .pools = e->pools, .n_pools = e->n_pools, .advertisements = e->advertisements,
                                     .n_advertisements = e->n_advertisements };
                LbConfigError error = {};
                assert_int_equal(lb_config_build(&in, &e->config, &error), 0);
        }
        assert_int_equal(lb_allocator_set_config(e->alloc, e->config, &dropped, &n_dropped), 0);
        lb_config_free(old);
        assert_int_equal(n_dropped, 1);
        assert_string_equal(dropped[0].service, "ns/a");
        lb_dropped_free_many(dropped, n_dropped);

        /* ... and a's next reconcile gives it 192.0.2.0. */
        reconcile(e, a, &d);
        expect_allocated(&d, "192.0.2.0", "p", "IP [\"192.0.2.0\"] from pool \"p\"");
        expect_events(&d,
                      "Normal ClearAssignment: current IP for \"ns/a\" not allowed by config, will attempt for new IP "
                      "assignment: [\"192.0.2.3\"] is not allowed in config",
                      "Normal IPAllocated: Assigned IP [\"192.0.2.0\"]", (const char *) NULL);
        lb_desired_done(&d);
}

static void test_status_ips_view(void **state) {
        ENV;
        static const char *const three[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3" };
        Service *s = svc(e, "ns", "a");
        IpAddr ips[2];
        size_t n = 9;

        assert_true(lbipam_status_ips(s, ips, &n));
        assert_int_equal(n, 0);
        status_set(s, three, 2);
        free(s->ingress[0].ip);
        s->ingress[0].ip = NULL;
        s->ingress[0].hostname = strdup("lb.example.com"); /* hostname-only entries are ignored */
        assert_true(lbipam_status_ips(s, ips, &n));
        assert_int_equal(n, 1);
        status_set(s, three, 3);
        assert_false(lbipam_status_ips(s, ips, &n));
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_request_parse),
                T(test_request_invalid_details),
                T(test_request_absent),
                T(test_annotations_prefixes),
                T(test_families),
                T(test_go_quote_and_lists),
                T(test_service_share),
                T(test_handled_filter),
                T(test_step1_not_load_balancer),
                T(test_step2_no_pools),
                T(test_step3_no_cluster_ip),
                T(test_step4_require_dual_stack),
                T(test_step5_keeps_valid_ips),
                T(test_step5_1_family_undetermined),
                T(test_step5_2_family_changed),
                T(test_x5_status_outside_pools),
                T(test_step5_3_collision_with_other_service),
                T(test_step5_3_pool_no_longer_compatible),
                T(test_step5_4_pool_annotation_changed),
                T(test_step5_5_request_changed),
                T(test_step5_5_infeasible_request_leaves_pending),
                T(test_step5_6_invalid_request_keeps_ips),
                T(test_step6_second_family_when_pool_gains_it),
                T(test_step6_not_for_requested_or_draining),
                T(test_x1_plain_pools_by_name),
                T(test_x2_priorities),
                T(test_tiers_and_priority_order),
                T(test_namespace_selectors),
                T(test_x3_avoid_buggy_ips),
                T(test_x4_named_pool_lacks_family),
                T(test_named_pool_errors),
                T(test_requested_ips),
                T(test_invalid_request_pending),
                T(test_auto_assign_false),
                T(test_retry_picks_same_address),
                T(test_list_order_wins),
                T(test_require_dual_stack),
                T(test_require_dual_stack_named_pool),
                T(test_prefer_dual_stack_passes),
                T(test_sharing),
                T(test_drain),
                T(test_unadvertised_pool),
                T(test_advertisement_deselects_service),
                T(test_deprecated_annotation_event),
                T(test_x6_x7_restart),
                T(test_phase1_never_allocates),
                T(test_x8_shrink),
                T(test_status_ips_view),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
