/* SPDX-License-Identifier: Apache-2.0 */
/* The shared pod → endpoint model (endpoints.md §4, §5), the pure Endpoints
 * reconcile (§6.1–§6.6), the pod-update filter (§8.2) and the trigger-time
 * tracker (§6.5): table-driven, with the spec's own examples. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "cache.h"
#include "endpoint_pod.h"
#include "endpoint_triggers.h"
#include "endpoints_reconcile.h"
#include "types-test-util.h"

static StrPool *pool;

static int setup(void **state _unused_) {
        pool = strpool_new();
        return pool ? 0 : -1;
}
static int teardown(void **state _unused_) {
        pool = strpool_free(pool);
        return 0;
}

static KubeObject *decode(const KubeKind *kind, const char *json) {
        KubeObject *o = NULL;
        _cleanup_free_ char *err = NULL;
        if (decode_text(kind, json, pool, &o, &err) < 0)
                fail_msg("decoding %s: %s", json, err ? err : "?");
        return o;
}

/* A Service: extra is spliced into spec (after the selector). */
static KubeObject *svc_new(const char *spec_extra) {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
                 "\"uid\":\"svc-uid\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"team\":\"a\"}},"
                 "\"spec\":{\"selector\":{\"app\":\"web\"}%s%s}}",
                 *spec_extra ? "," : "", spec_extra);
        return decode(&kube_kind_service, buf);
}

#define PORTS_HTTP "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]"

/* A pod "name" with uid "uid-<name>": meta_extra into metadata, spec_extra
 * into spec, status is the whole status object. */
static KubeObject *pod_new(const char *name, const char *meta_extra, const char *spec_extra, const char *status) {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\","
                 "\"uid\":\"uid-%s\",\"resourceVersion\":\"1\",\"labels\":{\"app\":\"web\"}%s%s},"
                 "\"spec\":{%s\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
                 "\"containerPort\":8080}]}]%s%s},\"status\":%s}",
                 name, name, *meta_extra ? "," : "", meta_extra,
                 strstr(spec_extra, "nodeName") ? "" : "\"nodeName\":\"node-a\",", *spec_extra ? "," : "",
                 spec_extra, status);
        return decode(&kube_kind_pod, buf);
}

#define READY_IP(ip)                                                                                         \
        "{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"" ip "\"}],\"conditions\":[{\"type\":\"Ready\","      \
        "\"status\":\"True\",\"lastTransitionTime\":\"2024-01-01T00:00:10Z\"}]}"
#define NOT_READY_IP(ip)                                                                                     \
        "{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"" ip "\"}],\"conditions\":[{\"type\":\"Ready\","      \
        "\"status\":\"False\"}]}"

/* ---- §4 ------------------------------------------------------------------------ */

static void test_which_pods_count(void **state _unused_) {
        static const struct {
                const char *what, *meta, *status;
                bool publish;
                EndpointsMembership endpoints;
                bool in_slices, ready, serving, terminating;
        } rows[] = {
                { "failed", "", "{\"phase\":\"Failed\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}",
                  false, ENDPOINTS_POD_OMITTED, false },
                { "succeeded + publish", "", "{\"phase\":\"Succeeded\",\"podIP\":\"10.0.0.1\"}", true,
                  ENDPOINTS_POD_OMITTED, false },
                { "no IP", "", "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}",
                  false, ENDPOINTS_POD_OMITTED, false },
                { "terminating", "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"", READY_IP("10.0.0.1"), false,
                  ENDPOINTS_POD_OMITTED, true, false, true, true },
                { "terminating + publish", "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"", NOT_READY_IP("10.0.0.1"),
                  true, ENDPOINTS_POD_READY, true, true, false, true },
                { "publish, not ready", "", NOT_READY_IP("10.0.0.1"), true, ENDPOINTS_POD_READY, true, true, false,
                  false },
                { "ready", "", READY_IP("10.0.0.1"), false, ENDPOINTS_POD_READY, true, true, true, false },
                { "not ready", "", NOT_READY_IP("10.0.0.1"), false, ENDPOINTS_POD_NOT_READY, true, false, false,
                  false },
                { "Ready Unknown", "",
                  "{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}",
                  false, ENDPOINTS_POD_NOT_READY, true, false, false, false },
                { "no Ready condition, pending", "", "{\"phase\":\"Pending\",\"podIP\":\"10.0.0.1\"}", false,
                  ENDPOINTS_POD_NOT_READY, true, false, false, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_(kube_object_unrefp) KubeObject *s =
                        svc_new(rows[i].publish ? "\"publishNotReadyAddresses\":true," PORTS_HTTP : PORTS_HTTP);
                _cleanup_(kube_object_unrefp) KubeObject *p = pod_new("p", rows[i].meta, "", rows[i].status);
                EndpointConditions c = {};
                bool in;

                assert_true(endpoint_pod_selected(SERVICE(s), POD(p)));
                if (endpoint_pod_endpoints_membership(SERVICE(s), POD(p)) != rows[i].endpoints)
                        fail_msg("%s: endpoints membership", rows[i].what);
                in = endpoint_pod_slice_conditions(SERVICE(s), POD(p), &c);
                if (in != rows[i].in_slices)
                        fail_msg("%s: slice inclusion", rows[i].what);
                if (in && (c.ready != rows[i].ready || c.serving != rows[i].serving ||
                           c.terminating != rows[i].terminating))
                        fail_msg("%s: conditions %d %d %d", rows[i].what, c.ready, c.serving, c.terminating);
        }
}

static void test_selection(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(PORTS_HTTP);
        _cleanup_(kube_object_unrefp) KubeObject *all = decode(
                &kube_kind_service, "{\"metadata\":{\"name\":\"all\",\"namespace\":\"shop\"},\"spec\":{\"selector\":{}}}");
        _cleanup_(kube_object_unrefp) KubeObject *none =
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"none\",\"namespace\":\"shop\"},\"spec\":{}}");
        _cleanup_(kube_object_unrefp) KubeObject *p = pod_new("p", "", "", READY_IP("10.0.0.1"));
        _cleanup_(kube_object_unrefp) KubeObject *other = decode(
                &kube_kind_pod, "{\"metadata\":{\"name\":\"o\",\"namespace\":\"other\",\"labels\":{\"app\":\"web\"}}}");
        _cleanup_(kube_object_unrefp) KubeObject *unlabelled =
                decode(&kube_kind_pod, "{\"metadata\":{\"name\":\"u\",\"namespace\":\"shop\"}}");

        assert_true(endpoint_pod_selected(SERVICE(s), POD(p)));
        assert_false(endpoint_pod_selected(SERVICE(s), POD(other)));      /* other namespace */
        assert_false(endpoint_pod_selected(SERVICE(s), POD(unlabelled)));
        assert_true(endpoint_pod_selected(SERVICE(all), POD(unlabelled))); /* empty map: every pod */
        assert_false(endpoint_pod_selected(SERVICE(none), POD(p)));        /* nil selector: none */
}

/* ---- §5.1 ------------------------------------------------------------------------ */

static void test_families(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *v6 =
                svc_new("\"clusterIP\":\"fd00::10\",\"ipFamilies\":[\"IPv6\",\"IPv4\"]," PORTS_HTTP);
        _cleanup_(kube_object_unrefp) KubeObject *by_cip = svc_new("\"clusterIP\":\"10.96.0.10\"," PORTS_HTTP);
        _cleanup_(kube_object_unrefp) KubeObject *headless = svc_new("\"clusterIP\":\"None\"," PORTS_HTTP);
        _cleanup_(kube_object_unrefp) KubeObject *dual =
                pod_new("p", "", "", "{\"podIPs\":[{\"ip\":\"::ffff:10.0.0.7\"},{\"ip\":\"fd00::7\"},{\"ip\":\"fd00::8\"}]}");
        _cleanup_(kube_object_unrefp) KubeObject *v6first =
                pod_new("q", "", "", "{\"podIPs\":[{\"ip\":\"FD00:0:0::9\"},{\"ip\":\"10.0.0.9\"}]}");
        char ip[IP_ADDR_STRLEN];
        IpFamily t[2];

        assert_int_equal(endpoint_ip_family("10.0.0.1"), IP_FAMILY_V4);
        assert_int_equal(endpoint_ip_family("::ffff:10.0.0.1"), IP_FAMILY_V4); /* mapped counts as IPv4 */
        assert_int_equal(endpoint_ip_family("fd00::1"), IP_FAMILY_V6);
        assert_int_equal(endpoint_ip_family("garbage"), IP_FAMILY_V4);

        assert_int_equal(endpoint_endpoints_family(SERVICE(v6), POD(dual)), IP_FAMILY_V6);     /* ipFamilies[0] */
        assert_int_equal(endpoint_endpoints_family(SERVICE(by_cip), POD(v6first)), IP_FAMILY_V4); /* clusterIP */
        assert_int_equal(endpoint_endpoints_family(SERVICE(headless), POD(v6first)), IP_FAMILY_V6); /* pod's first */
        assert_int_equal(endpoint_endpoints_family(SERVICE(headless), POD(dual)), IP_FAMILY_V4);

        /* the first IP of the family, canonical */
        assert_int_equal(endpoint_pod_address(POD(dual), IP_FAMILY_V4, ip, NULL), 0);
        assert_string_equal(ip, "10.0.0.7");
        assert_int_equal(endpoint_pod_address(POD(dual), IP_FAMILY_V6, ip, NULL), 0);
        assert_string_equal(ip, "fd00::7");
        assert_int_equal(endpoint_pod_address(POD(v6first), IP_FAMILY_V6, ip, NULL), 0);
        assert_string_equal(ip, "fd00::9");
        assert_int_equal(endpoint_pod_address(POD(v6first), IP_FAMILY_V4, ip, NULL), 0);
        assert_string_equal(ip, "10.0.0.9");

        assert_int_equal(endpoint_slice_address_types(SERVICE(v6), t), 2);
        assert_int_equal(t[0], IP_FAMILY_V6);
        assert_int_equal(t[1], IP_FAMILY_V4);
        assert_int_equal(endpoint_slice_address_types(SERVICE(by_cip), t), 1);
        assert_int_equal(t[0], IP_FAMILY_V4);
        assert_int_equal(endpoint_slice_address_types(SERVICE(headless), t), 2);
        assert_int_equal(t[0], IP_FAMILY_V4);
        assert_int_equal(t[1], IP_FAMILY_V6);
}

static void test_address_rules(void **state _unused_) {
        static const struct {
                const char *ip, *canonical, *message;
        } rows[] = {
                { "10.0.0.1", "10.0.0.1", NULL },
                { "010.000.000.001", "10.0.0.1", NULL }, /* sloppy, as the apiserver parses */
                { "::ffff:192.168.0.1", "192.168.0.1", NULL },
                { "2001:DB8:0:0:0:0:0:1", "2001:db8::1", NULL },
                { "239.1.2.3", "239.1.2.3", NULL },       /* other multicast: allowed */
                { "ff05::1", "ff05::1", NULL },
                { "255.255.255.255", "255.255.255.255", NULL },
                { "100.64.0.1", "100.64.0.1", NULL },
                { "192.168.1.1", "192.168.1.1", NULL },
                { "nonsense", NULL, "must be a valid IP address" },
                { "0.0.0.0", NULL, "may not be unspecified (0.0.0.0)" },
                { "::", NULL, "may not be unspecified (::)" },
                { "127.0.0.1", NULL, "may not be in the loopback range (127.0.0.0/8, ::1/128)" },
                { "127.255.0.9", NULL, "may not be in the loopback range (127.0.0.0/8, ::1/128)" },
                { "::1", NULL, "may not be in the loopback range (127.0.0.0/8, ::1/128)" },
                { "169.254.1.1", NULL, "may not be in the link-local range (169.254.0.0/16, fe80::/10)" },
                { "fe80::1", NULL, "may not be in the link-local range (169.254.0.0/16, fe80::/10)" },
                { "224.0.0.251", NULL, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" },
                { "ff02::1", NULL, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" },
                { "ff12::1", NULL, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_(endpoint_problems_done) EndpointProblems pr = {};
                char out[IP_ADDR_STRLEN];
                int r = endpoint_address_check(rows[i].ip, out, &pr);
                if (rows[i].canonical) {
                        if (r != 0 || strcmp(out, rows[i].canonical) != 0 || pr.n != 0)
                                fail_msg("%s: want %s", rows[i].ip, rows[i].canonical);
                        continue;
                }
                if (r != -EINVAL || pr.n != 1 || pr.items[0].kind != ENDPOINT_PROBLEM_ADDRESS ||
                    strcmp(pr.items[0].message, rows[i].message) != 0 || strcmp(pr.items[0].subject, rows[i].ip) != 0)
                        fail_msg("%s: got %d %s", rows[i].ip, r, pr.n ? pr.items[0].message : "(no problem)");
        }
}

/* ---- §5.2 ---------------------------------------------------------------------- */

static void test_fields(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(PORTS_HTTP);
        _cleanup_(kube_object_unrefp) KubeObject *sub =
                pod_new("a", "", "\"hostname\":\"web-0\",\"subdomain\":\"web\"", READY_IP("10.0.0.1"));
        _cleanup_(kube_object_unrefp) KubeObject *other_sub =
                pod_new("b", "", "\"hostname\":\"web-1\",\"subdomain\":\"api\"", READY_IP("10.0.0.2"));
        _cleanup_(kube_object_unrefp) KubeObject *bad =
                pod_new("c", "", "\"hostname\":\"Web_0\",\"subdomain\":\"web\",\"nodeName\":\"Node_A\"",
                        READY_IP("10.0.0.3"));
        _cleanup_(kube_object_unrefp) KubeObject *unscheduled =
                decode(&kube_kind_pod, "{\"metadata\":{\"name\":\"d\",\"namespace\":\"shop\",\"uid\":\"u\"},"
                                       "\"spec\":{\"nodeName\":\"\"}}");
        _cleanup_(endpoint_problems_done) EndpointProblems pr = {};
        EndpointPodFields f;

        endpoint_pod_fields(SERVICE(s), POD(sub), &f, &pr);
        assert_string_equal(f.hostname, "web-0");
        assert_string_equal(f.node_name, "node-a");
        assert_string_equal(f.namespace, "shop");
        assert_string_equal(f.name, "a");
        assert_string_equal(f.uid, "uid-a");
        endpoint_pod_fields(SERVICE(s), POD(other_sub), &f, &pr);
        assert_null(f.hostname); /* subdomain names another Service */
        endpoint_pod_fields(SERVICE(s), POD(unscheduled), &f, &pr);
        assert_null(f.node_name); /* empty: omitted */
        assert_int_equal(pr.n, 0);

        endpoint_pod_fields(SERVICE(s), POD(bad), &f, &pr);
        assert_null(f.hostname);
        assert_null(f.node_name);
        assert_int_equal(pr.n, 2);
        assert_int_equal(pr.items[0].kind, ENDPOINT_PROBLEM_NODE_NAME);
        assert_non_null(strstr(pr.items[0].message, "a lowercase RFC 1123 subdomain must consist of"));
        assert_int_equal(pr.items[1].kind, ENDPOINT_PROBLEM_HOSTNAME);
        assert_non_null(strstr(pr.items[1].message, "a lowercase RFC 1123 label must consist of"));
}

static void test_node_zone(void **state _unused_) {
        _cleanup_(cache_freep) Cache *nodes = NULL;
        _cleanup_(kube_object_unrefp) KubeObject *n1 = NULL, *n2 = NULL;
        _cleanup_(kube_object_unrefp) KubeObject *pa = pod_new("a", "", "", READY_IP("10.0.0.1"));
        _cleanup_(kube_object_unrefp) KubeObject *pb = pod_new("b", "", "\"nodeName\":\"node-b\"", READY_IP("10.0.0.2"));
        _cleanup_(kube_object_unrefp) KubeObject *pc = pod_new("c", "", "\"nodeName\":\"node-c\"", READY_IP("10.0.0.3"));
        const char *zone = "x";

        assert_int_equal(cache_new(&kube_kind_node, &nodes), 0);
        n1 = decode(&kube_kind_node, "{\"metadata\":{\"name\":\"node-a\",\"labels\":{\"topology.kubernetes.io/zone\":\"z1\"}}}");
        n2 = decode(&kube_kind_node, "{\"metadata\":{\"name\":\"node-b\",\"labels\":{\"topology.kubernetes.io/zone\":\"\"}}}");
        assert_true(cache_upsert(nodes, n1) >= 0);
        assert_true(cache_upsert(nodes, n2) >= 0);
        assert_int_equal(endpoint_node_zone(nodes, POD(pa), &zone), 0);
        assert_string_equal(zone, "z1");
        assert_int_equal(endpoint_node_zone(nodes, POD(pb), &zone), 0);
        assert_null(zone); /* empty label: no zone */
        assert_int_equal(endpoint_node_zone(nodes, POD(pc), &zone), -ENOENT);
}

/* ---- §5.3 / §5.4 ports ------------------------------------------------------------- */

static void test_port_resolution(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(
                "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
                "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":\"dns\"},"
                "{\"name\":\"admin\",\"port\":81,\"targetPort\":\"admin\",\"appProtocol\":\"kubernetes.io/h2c\"},"
                "{\"name\":\"num\",\"port\":82,\"targetPort\":9999},"
                "{\"name\":\"gone\",\"port\":83,\"targetPort\":\"nope\"}]");
        _cleanup_(kube_object_unrefp) KubeObject *p = decode(
                &kube_kind_pod,
                "{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\",\"labels\":{\"app\":\"web\"}},\"spec\":{"
                "\"containers\":[{\"name\":\"a\",\"ports\":[{\"name\":\"dns\",\"containerPort\":5353,\"protocol\":\"TCP\"},"
                "{\"name\":\"http\",\"containerPort\":8080}]},"
                "{\"name\":\"b\",\"ports\":[{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"},"
                "{\"name\":\"http\",\"containerPort\":9090}]}],"
                "\"initContainers\":[{\"name\":\"once\",\"ports\":[{\"name\":\"admin\",\"containerPort\":1}]},"
                "{\"name\":\"side\",\"restartPolicy\":\"Always\",\"ports\":[{\"name\":\"admin\",\"containerPort\":15000}]}]}}");
        _cleanup_(endpoint_problems_done) EndpointProblems pr = {};
        EndpointPortValue out[5];
        size_t n = 99;

        endpoint_pod_ports(SERVICE(s), POD(p), false, out, &n, &pr);
        assert_int_equal(n, 4);
        assert_int_equal(pr.n, 0); /* an unresolved name is not a problem */
        assert_string_equal(out[0].name, "http");
        assert_int_equal(out[0].port, 8080); /* first container wins */
        assert_string_equal(out[1].name, "dns");
        assert_int_equal(out[1].port, 53);   /* the protocol must match too */
        assert_string_equal(out[1].protocol, "UDP");
        assert_string_equal(out[2].name, "admin");
        assert_int_equal(out[2].port, 15000); /* sidecar only: restartPolicy Always */
        assert_string_equal(out[2].app_protocol, "kubernetes.io/h2c");
        assert_string_equal(out[3].name, "num");
        assert_int_equal(out[3].port, 9999); /* integers are not checked */
}

static void test_port_rules(void **state _unused_) {
        static const struct {
                const char *ports;
                bool slices;
                size_t n_kept;
                const char *subject, *message; /* the first problem, NULL = none */
                EndpointProblemKind kind;
        } rows[] = {
                { "[{\"name\":\"a\",\"port\":80,\"targetPort\":70000}]", false, 0, "a",
                  "must be between 1 and 65535, inclusive", ENDPOINT_PROBLEM_PORT },
                { "[{\"port\":80,\"targetPort\":70000}]", false, 0, "70000", "must be between 1 and 65535, inclusive",
                  ENDPOINT_PROBLEM_PORT },
                { "[{\"name\":\"Bad_Name\",\"port\":80}]", false, 0, "Bad_Name",
                  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                  "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                  ENDPOINT_PROBLEM_PORT },
                { "[{\"name\":\"a\",\"port\":80},{\"port\":81}]", false, 1, "81", "Required value",
                  ENDPOINT_PROBLEM_PORT },
                { "[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]", true, 1, "a", "Duplicate value: \"a\"",
                  ENDPOINT_PROBLEM_PORT },
                { "[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]", false, 2, NULL, NULL, 0 },
                { "[{\"name\":\"a\",\"port\":80,\"protocol\":\"ICMP\"}]", false, 0, "a",
                  "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"", ENDPOINT_PROBLEM_PORT },
                { "[{\"name\":\"a\",\"port\":80,\"appProtocol\":\"-bad-\"}]", false, 1, "-bad-", NULL,
                  ENDPOINT_PROBLEM_APP_PROTOCOL },
                { "[{\"name\":\"a\",\"port\":80,\"protocol\":\"SCTP\"}]", false, 1, NULL, NULL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char spec[512];
                snprintf(spec, sizeof spec, "\"ports\":%s", rows[i].ports);
                _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(spec);
                _cleanup_(kube_object_unrefp) KubeObject *p = pod_new("p", "", "", READY_IP("10.0.0.1"));
                _cleanup_(endpoint_problems_done) EndpointProblems pr = {};
                EndpointPortValue out[4];
                size_t n;

                endpoint_pod_ports(SERVICE(s), POD(p), rows[i].slices, out, &n, &pr);
                if (n != rows[i].n_kept)
                        fail_msg("row %zu: kept %zu, want %zu", i, n, rows[i].n_kept);
                if (!rows[i].subject) {
                        if (pr.n != 0)
                                fail_msg("row %zu: unexpected problem %s", i, pr.items[0].message);
                        continue;
                }
                if (pr.n != 1 || pr.items[0].kind != rows[i].kind || strcmp(pr.items[0].subject, rows[i].subject) != 0 ||
                    (rows[i].message && strcmp(pr.items[0].message, rows[i].message) != 0))
                        fail_msg("row %zu: got %zu problems: %s %s", i, pr.n, pr.n ? pr.items[0].subject : "",
                                 pr.n ? pr.items[0].message : "");
                if (rows[i].kind == ENDPOINT_PROBLEM_APP_PROTOCOL)
                        assert_null(out[0].app_protocol); /* written without it */
        }
}

static void test_problem_events(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *p = pod_new("p", "", "", READY_IP("10.0.0.1"));
        _cleanup_(endpoint_problem_memory_freep) EndpointProblemMemory *m = NULL;
        _cleanup_(endpoint_problems_done) EndpointProblems pr = {};
        _cleanup_free_ char *note = NULL, *note2 = NULL;
        const char *reason;

        assert_int_equal(endpoint_problems_add(&pr, ENDPOINT_PROBLEM_ADDRESS, "loopback", "127.0.0.1",
                                               "may not be in the loopback range (127.0.0.0/8, ::1/128)"), 0);
        assert_int_equal(endpoint_problems_add(&pr, ENDPOINT_PROBLEM_PORT, "port_range", "http",
                                               "must be between 1 and 65535, inclusive"), 0);
        assert_int_equal(endpoint_problems_add(&pr, ENDPOINT_PROBLEM_HOSTNAME, "hostname", "X", "m"), 0);
        assert_int_equal(endpoint_problem_event(&pr.items[0], POD(p), &reason, &note), 0);
        assert_string_equal(reason, "EndpointAddressDropped");
        assert_string_equal(note, "Dropped address 127.0.0.1 of pod shop/p: may not be in the loopback range "
                                  "(127.0.0.0/8, ::1/128)");
        assert_int_equal(endpoint_problem_event(&pr.items[1], POD(p), &reason, &note2), 0);
        assert_string_equal(reason, "EndpointPortDropped");
        assert_string_equal(note2, "Dropped port http for pod shop/p: must be between 1 and 65535, inclusive");
        assert_int_equal(endpoint_problem_event(&pr.items[2], POD(p), &reason, &note), -ENOENT);

        /* once per (pod uid, problem) */
        assert_int_equal(endpoint_problem_memory_new(&m), 0);
        assert_int_equal(endpoint_problem_memory_first(m, "u1", &pr.items[0]), 1);
        assert_int_equal(endpoint_problem_memory_first(m, "u1", &pr.items[0]), 0);
        assert_int_equal(endpoint_problem_memory_first(m, "u1", &pr.items[1]), 1);
        assert_int_equal(endpoint_problem_memory_first(m, "u2", &pr.items[0]), 1);
        assert_int_equal(endpoint_problem_memory_size(m), 3);
        endpoint_problem_memory_forget_pod(m, "u1");
        assert_int_equal(endpoint_problem_memory_size(m), 1);
        assert_int_equal(endpoint_problem_memory_first(m, "u1", &pr.items[0]), 1);
        assert_int_equal(endpoint_problem_memory_first(m, "u2", &pr.items[0]), 0);
}

/* ---- §6 Endpoints ------------------------------------------------------------------ */

typedef struct Built {
        EndpointsBuildResult r;
        size_t n_problem_pods;
} Built;

static void collect_problems(const Pod *pod, const EndpointProblems *p, void *userdata) {
        (void) pod;
        (void) p;
        ((Built *) userdata)->n_problem_pods++;
}

static Built build(KubeObject *svc, KubeObject **pods, size_t n, const Endpoints *cached, usec_t trigger) {
        Built b = {};
        const Pod *list[64];
        assert_true(n <= 64);
        for (size_t i = 0; i < n; i++)
                list[i] = POD(pods[i]);
        assert_int_equal(endpoints_build(SERVICE(svc), list, n, cached, trigger, pool, collect_problems, &b, &b.r), 0);
        return b;
}

static char *build_json(KubeObject *svc, KubeObject **pods, size_t n) {
        Built b = build(svc, pods, n, NULL, 0);
        char *text = encode_text(NULL, b.r.object);
        kube_object_unref(b.r.object);
        return text;
}

static void unref_all(KubeObject **o, size_t n) {
        for (size_t i = 0; i < n; i++)
                kube_object_unref(o[i]);
}

static void test_grouping(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s =
                svc_new("\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
                        "{\"name\":\"m\",\"port\":9,\"targetPort\":9100}]");
        KubeObject *pods[] = {
                pod_new("a", "", "", READY_IP("10.0.0.9")),
                pod_new("b", "", "", NOT_READY_IP("10.0.0.10")),
                /* maps http to another number: its own subset for http */
                decode(&kube_kind_pod,
                       "{\"metadata\":{\"name\":\"c\",\"namespace\":\"shop\",\"uid\":\"uid-c\",\"labels\":{\"app\":\"web\"}},"
                       "\"spec\":{\"containers\":[{\"ports\":[{\"name\":\"http\",\"containerPort\":8443}]}]},"
                       "\"status\":" READY_IP("10.0.0.11") "}"),
                /* no IP: omitted; terminal: omitted */
                pod_new("d", "", "", "{\"phase\":\"Running\"}"),
                pod_new("e", "", "", "{\"phase\":\"Failed\",\"podIP\":\"10.0.0.12\"}"),
        };
        _cleanup_free_ char *json = build_json(s, pods, ELEMENTSOF(pods));

        /* subsets by first address ("10.0.0.10" < "10.0.0.9" bytewise), ports by name */
        assert_string_equal(
                json,
                "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
                "\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller.berth.io\",\"team\":\"a\"}},"
                "\"subsets\":["
                /* first address 10.0.0.11 (c), first port http */
                "{\"addresses\":[{\"ip\":\"10.0.0.11\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"c\","
                "\"uid\":\"uid-c\"}}],\"ports\":[{\"name\":\"http\",\"port\":8443,\"protocol\":\"TCP\"}]},"
                /* first address 10.0.0.11 (c), first port m: one subset with both lists */
                "{\"addresses\":[{\"ip\":\"10.0.0.11\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"c\","
                "\"uid\":\"uid-c\"}},{\"ip\":\"10.0.0.9\",\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\","
                "\"namespace\":\"shop\",\"name\":\"a\",\"uid\":\"uid-a\"}}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.10\","
                "\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"b\",\"uid\":"
                "\"uid-b\"}}],\"ports\":[{\"name\":\"m\",\"port\":9100,\"protocol\":\"TCP\"}]},"
                /* first address 10.0.0.9 ("10.0.0.11" < "10.0.0.9" bytewise) */
                "{\"addresses\":[{\"ip\":\"10.0.0.9\",\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":"
                "\"shop\",\"name\":\"a\",\"uid\":\"uid-a\"}}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.10\",\"nodeName\":"
                "\"node-a\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"b\",\"uid\":\"uid-b\"}}],"
                "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}]}");
        unref_all(pods, ELEMENTSOF(pods));
}

static void test_grouping_identity(void **state _unused_) {
        /* The same (IP, uid) twice: first fields kept, not-ready wins. Headless, no ports: one subset without ports. */
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new("\"clusterIP\":\"None\"");
        _cleanup_(kube_object_unrefp) KubeObject *plain = svc_new("\"clusterIP\":\"10.96.0.1\"");
        KubeObject *pods[] = {
                pod_new("a", "", "\"hostname\":\"h\",\"subdomain\":\"web\"", READY_IP("10.0.0.1")),
                pod_new("a", "", "", NOT_READY_IP("10.0.0.1")),
        };
        _cleanup_free_ char *json = build_json(s, pods, ELEMENTSOF(pods));
        _cleanup_free_ char *none = build_json(plain, pods, ELEMENTSOF(pods));

        assert_string_equal(json,
                            "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\",\"namespace\":"
                            "\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":\"endpoint-controller.berth.io\","
                            "\"service.kubernetes.io/headless\":\"\",\"team\":\"a\"}},\"subsets\":[{\"notReadyAddresses\":"
                            "[{\"ip\":\"10.0.0.1\",\"hostname\":\"h\",\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":"
                            "\"Pod\",\"namespace\":\"shop\",\"name\":\"a\",\"uid\":\"uid-a\"}}]}]}");
        /* not headless, no ports: no addresses at all */
        assert_non_null(strstr(none, "\"subsets\":[]"));
        unref_all(pods, ELEMENTSOF(pods));
}

static void test_pods_without_ports_or_family(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s =
                svc_new("\"ipFamilies\":[\"IPv6\"],\"ports\":[{\"name\":\"x\",\"port\":80,\"targetPort\":\"x\"}]");
        _cleanup_(kube_object_unrefp) KubeObject *bad_ip = svc_new("\"clusterIP\":\"10.96.0.1\"," PORTS_HTTP);
        KubeObject *pods[] = {
                pod_new("v4only", "", "", READY_IP("10.0.0.1")), /* no IPv6: omitted */
                pod_new("noport", "", "", "{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"fd00::1\"}]}"),
        };
        KubeObject *loop[] = { pod_new("lo", "", "", READY_IP("127.0.0.1")) };
        Built b = build(s, pods, ELEMENTSOF(pods), NULL, 0);
        Built c = build(bad_ip, loop, 1, NULL, 0);

        assert_int_equal(ENDPOINTS(b.r.object)->n_subsets, 0); /* x resolves for nobody: not even notReady */
        assert_int_equal(b.n_problem_pods, 0);
        assert_int_equal(ENDPOINTS(c.r.object)->n_subsets, 0);
        assert_int_equal(c.n_problem_pods, 1); /* the loopback address was reported */
        kube_object_unref(b.r.object);
        kube_object_unref(c.r.object);
        unref_all(pods, ELEMENTSOF(pods));
        unref_all(loop, 1);
}

static void test_truncate_keep(void **state _unused_) {
        /* The spec's doubles example: 280/1000 × 25 = 7.000000000000001 → 8. */
        assert_int_equal(endpoints_truncate_keep(280, 1000, 25), 8);
        assert_int_equal(endpoints_truncate_keep(720, 1000, 25), 18);
        assert_int_equal(endpoints_truncate_keep(600, 1050, 1000), 572);
        assert_int_equal(endpoints_truncate_keep(300, 1050, 1000), 286);
        assert_int_equal(endpoints_truncate_keep(150, 1050, 1000), 143);
}

/* Subsets of fake addresses: ready[i] / not_ready[i] addresses in subset i. */
static void make_subsets(EndpointSubset **ret, size_t n, const size_t *ready, const size_t *not_ready) {
        EndpointSubset *s = new0(EndpointSubset, n);
        unsigned ip = 0;
        assert_non_null(s);
        for (size_t i = 0; i < n; i++) {
                s[i].n_addresses = ready[i];
                s[i].n_not_ready_addresses = not_ready[i];
                s[i].addresses = new0(EndpointAddress, ready[i] + 1);
                s[i].not_ready_addresses = new0(EndpointAddress, not_ready[i] + 1);
                for (size_t k = 0; k < ready[i]; k++)
                        assert_true(asprintf(&s[i].addresses[k].ip, "10.%u.%u.%u", ip >> 16, (ip >> 8) & 255, ip & 255) > 0), ip++;
                for (size_t k = 0; k < not_ready[i]; k++)
                        assert_true(asprintf(&s[i].not_ready_addresses[k].ip, "10.%u.%u.%u", ip >> 16, (ip >> 8) & 255, ip & 255) > 0), ip++;
        }
        *ret = s;
}

static void free_subsets(EndpointSubset *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                endpoint_subset_done(&s[i], pool);
        free(s);
}

static void test_truncate(void **state _unused_) {
        static const struct {
                size_t n;
                size_t ready[3], not_ready[3];
                size_t want_ready[3], want_not_ready[3];
                size_t want_subsets;
                bool cut;
        } rows[] = {
                /* 975 ready; not-ready 280 then 720 → 8 + 17 (doubles, not 7 + 18) */
                { 2, { 975, 0 }, { 280, 720 }, { 975, 0 }, { 8, 17 }, 2, true },
                /* ready 600/300/150, no not-ready → 572/286/142 */
                { 3, { 600, 300, 150 }, { 0, 0, 0 }, { 572, 286, 142 }, { 0, 0, 0 }, 3, true },
                /* ready 400+300, not-ready 200+150 → ready untouched, not-ready 172/128 */
                { 2, { 400, 300 }, { 200, 150 }, { 400, 300 }, { 172, 128 }, 2, true },
                /* R > 1000: every notReadyAddresses emptied, a subset left empty is dropped */
                { 3, { 700, 400, 0 }, { 5, 0, 9 }, { 637, 363 }, { 0, 0 }, 2, true },
                /* at the cap: nothing */
                { 2, { 500, 0 }, { 0, 500 }, { 500, 0 }, { 0, 500 }, 2, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                EndpointSubset *s;
                size_t n = rows[i].n, dropped = 99;
                make_subsets(&s, n, rows[i].ready, rows[i].not_ready);
                bool cut = endpoints_truncate(&s, &n, pool, 1000, &dropped);
                if (cut != rows[i].cut || n != rows[i].want_subsets || dropped != rows[i].n - rows[i].want_subsets)
                        fail_msg("row %zu: cut %d, %zu subsets", i, cut, n);
                for (size_t k = 0; k < n; k++)
                        if (s[k].n_addresses != rows[i].want_ready[k] ||
                            s[k].n_not_ready_addresses != rows[i].want_not_ready[k])
                                fail_msg("row %zu subset %zu: %zu/%zu", i, k, s[k].n_addresses,
                                         s[k].n_not_ready_addresses);
                free_subsets(s, n);
        }
}

static void test_over_capacity_build(void **state _unused_) {
        /* A whole Service over the cap: annotation set, and a re-sync against
         * the stored (truncated) object is equal: no write. */
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(PORTS_HTTP);
        size_t n = 1005;
        KubeObject **pods = new0(KubeObject *, n);
        const Pod **list = new0(const Pod *, n);
        EndpointsBuildResult r1, r2;

        for (size_t i = 0; i < n; i++) {
                char name[32], status[256];
                snprintf(name, sizeof name, "p%zu", i);
                snprintf(status, sizeof status, "{\"phase\":\"Running\",\"podIP\":\"10.1.%zu.%zu\",\"conditions\":"
                         "[{\"type\":\"Ready\",\"status\":\"True\"}]}", i / 256, i % 256);
                pods[i] = pod_new(name, "", "", status);
                list[i] = POD(pods[i]);
        }
        assert_int_equal(endpoints_build(SERVICE(s), list, n, NULL, 0, pool, NULL, NULL, &r1), 0);
        assert_true(r1.over_capacity);
        assert_int_equal(r1.n_ready, 1000);
        assert_string_equal(strmap_get(&r1.object->meta.annotations, ENDPOINTS_OVER_CAPACITY_ANNOTATION), "truncated");
        assert_int_equal(endpoints_build(SERVICE(s), list, n, ENDPOINTS(r1.object), 5 * USEC_PER_SEC, pool, NULL, NULL,
                                         &r2), 0);
        assert_true(endpoints_semantic_equal(ENDPOINTS(r2.object), ENDPOINTS(r1.object)));
        kube_object_unref(r1.object);
        kube_object_unref(r2.object);
        unref_all(pods, n);
        free(pods);
        free(list);
}

static void test_labels_annotations(void **state _unused_) {
        _cleanup_(kube_object_unrefp) KubeObject *s = decode(
                &kube_kind_service,
                "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"labels\":{\"service.kubernetes.io/headless\":"
                "\"\",\"endpoints.kubernetes.io/managed-by\":\"me\",\"x\":\"y\"}},\"spec\":{\"clusterIP\":\"10.96.0.1\","
                "\"selector\":{}}}");
        _cleanup_(kube_object_unrefp) KubeObject *cached = decode(
                &kube_kind_endpoints,
                "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"resourceVersion\":\"7\",\"labels\":{\"user\":\"z\"},"
                "\"annotations\":{\"keep\":\"me\",\"endpoints.kubernetes.io/over-capacity\":\"truncated\"}}}");
        Built b = build(s, NULL, 0, ENDPOINTS(cached), 1514764800 * USEC_PER_SEC + 500000);
        const ObjectMeta *m = &b.r.object->meta;

        /* the Service's labels, headless removed (clusterIP is an IP), managed-by berth's; user label gone */
        assert_int_equal(m->labels.n, 2);
        assert_string_equal(strmap_get(&m->labels, "x"), "y");
        assert_string_equal(strmap_get(&m->labels, ENDPOINTS_MANAGED_BY_LABEL), ENDPOINTS_MANAGED_BY_BERTH);
        /* others' annotations kept, over-capacity removed, trigger time set */
        assert_string_equal(strmap_get(&m->annotations, "keep"), "me");
        assert_null(strmap_get(&m->annotations, ENDPOINTS_OVER_CAPACITY_ANNOTATION));
        assert_string_equal(strmap_get(&m->annotations, ENDPOINTS_ANNOTATION_TRIGGER_TIME), "2018-01-01T00:00:00.5Z");
        assert_string_equal(m->resource_version, "7");
        assert_false(endpoints_semantic_equal(ENDPOINTS(b.r.object), ENDPOINTS(cached)));
        assert_int_equal(endpoints_manager(b.r.object), ENDPOINTS_MANAGER_BERTH);
        assert_int_equal(endpoints_manager(cached), ENDPOINTS_MANAGER_NONE);
        kube_object_unref(b.r.object);
}

static void test_semantic_equal(void **state _unused_) {
        static const char *const base =
                "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"labels\":{\"endpoints.kubernetes.io/managed-by\":"
                "\"endpoint-controller.berth.io\"}%s},\"subsets\":[%s]}";
        static const char *const a1 = "{\"addresses\":[{\"ip\":\"10.0.0.1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"a\","
                                      "\"uid\":\"1\"}},{\"ip\":\"10.0.0.2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"b\","
                                      "\"uid\":\"2\"}}],\"ports\":[{\"name\":\"a\",\"port\":1},{\"name\":\"b\",\"port\":2}]}";
        static const char *const a2 = "{\"ports\":[{\"name\":\"c\",\"port\":3}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.3\"}]}";
        static const struct {
                const char *annotations, *subsets;
                bool equal;
        } rows[] = {
                /* reordered lists and subsets, targetRef.resourceVersion, a trigger time: equal */
                { ",\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":\"2020-01-01T00:00:00Z\"}",
                  "{\"ports\":[{\"name\":\"c\",\"port\":3,\"protocol\":\"TCP\"}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.3\"}]},"
                  "{\"addresses\":[{\"ip\":\"10.0.0.2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"b\",\"uid\":\"2\","
                  "\"resourceVersion\":\"99\"}},{\"ip\":\"10.0.0.1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"a\",\"uid\":"
                  "\"1\"}}],\"ports\":[{\"name\":\"b\",\"port\":2},{\"name\":\"a\",\"port\":1}]}",
                  true },
                /* an address moved to not-ready */
                { "", "{\"addresses\":[{\"ip\":\"10.0.0.1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"a\",\"uid\":\"1\"}}],"
                      "\"notReadyAddresses\":[{\"ip\":\"10.0.0.2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"b\",\"uid\":\"2\"}}],"
                      "\"ports\":[{\"name\":\"a\",\"port\":1},{\"name\":\"b\",\"port\":2}]},"
                      "{\"ports\":[{\"name\":\"c\",\"port\":3}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.3\"}]}",
                  false },
                /* the over-capacity annotation counts */
                { ",\"annotations\":{\"endpoints.kubernetes.io/over-capacity\":\"truncated\"}", NULL, false },
                /* a port's appProtocol counts */
                { "", "{\"ports\":[{\"name\":\"c\",\"port\":3,\"appProtocol\":\"h2c\"}],\"notReadyAddresses\":[{\"ip\":\"10.0.0.3\"}]},"
                      "{\"addresses\":[{\"ip\":\"10.0.0.1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"a\",\"uid\":\"1\"}},"
                      "{\"ip\":\"10.0.0.2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"b\",\"uid\":\"2\"}}],"
                      "\"ports\":[{\"name\":\"a\",\"port\":1},{\"name\":\"b\",\"port\":2}]}",
                  false },
        };
        char buf[4096], subsets[2048];
        snprintf(subsets, sizeof subsets, "%s,%s", a1, a2);
        snprintf(buf, sizeof buf, base, "", subsets);
        _cleanup_(kube_object_unrefp) KubeObject *want = decode(&kube_kind_endpoints, buf);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                snprintf(buf, sizeof buf, base, rows[i].annotations, rows[i].subsets ? rows[i].subsets : subsets);
                _cleanup_(kube_object_unrefp) KubeObject *got = decode(&kube_kind_endpoints, buf);
                if (endpoints_semantic_equal(ENDPOINTS(want), ENDPOINTS(got)) != rows[i].equal)
                        fail_msg("row %zu: want equal=%d", i, rows[i].equal);
        }
        /* nil ≡ empty; a different label set is not equal */
        _cleanup_(kube_object_unrefp) KubeObject *e1 = decode(&kube_kind_endpoints, "{\"metadata\":{\"name\":\"a\"}}");
        _cleanup_(kube_object_unrefp) KubeObject *e2 =
                decode(&kube_kind_endpoints, "{\"metadata\":{\"name\":\"a\",\"labels\":{}},\"subsets\":[]}");
        _cleanup_(kube_object_unrefp) KubeObject *e3 =
                decode(&kube_kind_endpoints, "{\"metadata\":{\"name\":\"a\",\"labels\":{\"service.kubernetes.io/headless\":\"\"}}}");
        assert_true(endpoints_semantic_equal(ENDPOINTS(e1), ENDPOINTS(e2)));
        assert_false(endpoints_semantic_equal(ENDPOINTS(e1), ENDPOINTS(e3)));
}

static void test_order(void **state _unused_) {
        EndpointAddress a = { .ip = (char *) "10.0.0.10" }, b = { .ip = (char *) "10.0.0.9" };
        EndpointAddress c = { .ip = (char *) "10.0.0.9", .has_target_ref = true, .target_ref.uid = (char *) "a" };
        EndpointPort p1 = { .name = "a", .port = 2, .protocol = "TCP" }, p2 = { .name = "a", .port = 10, .protocol = "TCP" };
        EndpointPort p3 = { .name = "a", .port = 10, .protocol = "TCP", .app_protocol = "x" };
        EndpointPort p4 = { .name = "a", .port = 10, .protocol = "UDP" };

        assert_true(endpoint_address_compare(&a, &b) < 0); /* bytewise */
        assert_true(endpoint_address_compare(&b, &c) < 0); /* missing targetRef first */
        assert_true(endpoint_port_compare(&p1, &p2) < 0);  /* numeric */
        assert_true(endpoint_port_compare(&p2, &p3) < 0);  /* unset appProtocol first */
        assert_true(endpoint_port_compare(&p3, &p4) < 0);  /* protocol before appProtocol */
}

/* ---- §8.2 --------------------------------------------------------------------------- */

static int record_service(const Service *svc, void *userdata) {
        char *out = userdata;
        strcat(out, svc->object.meta.name);
        strcat(out, " ");
        return 0;
}

static void test_pod_update_filter(void **state _unused_) {
        _cleanup_(cache_freep) Cache *services = NULL;
        KubeObject *svcs[] = {
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"shop\"},\"spec\":{\"selector\":{\"app\":\"web\"}}}"),
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"shop\"},\"spec\":{\"selector\":{\"tier\":\"x\"}}}"),
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"shop\"},\"spec\":{\"selector\":{}}}"),
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"d\",\"namespace\":\"shop\"},\"spec\":{}}"),
                decode(&kube_kind_service, "{\"metadata\":{\"name\":\"e\",\"namespace\":\"other\"},\"spec\":{\"selector\":{}}}"),
        };
#define POD_JSON(rv, labels, extra, status)                                                                     \
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\",\"resourceVersion\":\"" rv "\",\"labels\":" labels \
        extra "},\"spec\":{\"hostname\":\"h\"},\"status\":" status "}"
        static const struct {
                const char *old, *new, *want;
                bool labels_changed, pod_changed;
        } rows[] = {
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("1", "{\"tier\":\"x\"}", "", NOT_READY_IP("10.0.0.2")), "", false, false }, /* same RV */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")), "", false, false }, /* nothing relevant */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\"}", "", NOT_READY_IP("10.0.0.1")), "a c ", false, true }, /* Ready flip */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\"}", "", READY_IP("10.0.0.2")), "a c ", false, true }, /* IP */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\"}", ",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"", READY_IP("10.0.0.1")),
                  "a c ", false, true },
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\"}", "",
                           "{\"phase\":\"Failed\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2024-01-01T00:00:10Z\"}]}"),
                  "a c ", false, true }, /* berth: entering Failed */
                /* labels only: Services matching exactly one of the two sets */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"app\":\"web\",\"tier\":\"x\"}", "", READY_IP("10.0.0.1")), "b ", true, false },
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"tier\":\"x\"}", "", READY_IP("10.0.0.1")), "b a ", true, false },
                /* labels and pod: old ∪ new */
                { POD_JSON("1", "{\"app\":\"web\"}", "", READY_IP("10.0.0.1")),
                  POD_JSON("2", "{\"tier\":\"x\"}", "", NOT_READY_IP("10.0.0.1")), "b c a ", true, true },
        };
        assert_int_equal(cache_new(&kube_kind_service, &services), 0);
        for (size_t i = 0; i < ELEMENTSOF(svcs); i++)
                assert_true(cache_upsert(services, svcs[i]) >= 0);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_(kube_object_unrefp) KubeObject *o = decode(&kube_kind_pod, rows[i].old);
                _cleanup_(kube_object_unrefp) KubeObject *n = decode(&kube_kind_pod, rows[i].new);
                char got[128] = "";
                EndpointPodChange c = endpoint_pod_change(POD(o), POD(n));
                if (c.labels_changed != rows[i].labels_changed || c.pod_changed != rows[i].pod_changed)
                        fail_msg("row %zu: change %d %d", i, c.labels_changed, c.pod_changed);
                assert_int_equal(endpoint_services_for_pod_update(services, POD(o), POD(n), record_service, got), 0);
                if (strcmp(got, rows[i].want) != 0)
                        fail_msg("row %zu: got \"%s\", want \"%s\"", i, got, rows[i].want);
        }
        /* hostname/subdomain count as labels */
        _cleanup_(kube_object_unrefp) KubeObject *h1 = decode(&kube_kind_pod, POD_JSON("1", "{}", "", READY_IP("10.0.0.1")));
        _cleanup_(kube_object_unrefp) KubeObject *h2 = decode(
                &kube_kind_pod, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\",\"resourceVersion\":\"2\"},"
                                "\"spec\":{\"hostname\":\"other\"},\"status\":" READY_IP("10.0.0.1") "}");
        assert_true(endpoint_pod_change(POD(h1), POD(h2)).labels_changed);
        unref_all(svcs, ELEMENTSOF(svcs));
}

static void test_flags(void **state _unused_) {
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        usec_t d = 7;
        unsigned w = 0;

        assert_int_equal(endpoint_batch_period_parse("0", &d, NULL), 0);
        assert_int_equal(d, 0);
        assert_int_equal(endpoint_batch_period_parse("1m30s", &d, NULL), 0);
        assert_int_equal(d, 90 * USEC_PER_SEC);
        assert_int_equal(endpoint_batch_period_parse("-1s", &d, &why), -EINVAL);
        assert_non_null(why);
        assert_int_equal(endpoint_batch_period_parse("soon", &d, &why2), -EINVAL);
        assert_int_equal(endpoint_workers_parse("5", &w, NULL), 0);
        assert_int_equal(w, 5);
        assert_int_equal(endpoint_workers_parse("0", &w, NULL), -EINVAL);
}

/* ---- §6.5 ------------------------------------------------------------------------- */

static void test_trigger_time(void **state _unused_) {
        _cleanup_(trigger_time_tracker_freep) TriggerTimeTracker *t = NULL;
        _cleanup_(kube_object_unrefp) KubeObject *s = svc_new(PORTS_HTTP);
        usec_t created = 1704067200 * USEC_PER_SEC, v = 1;
#define READY_AT(ts) "{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"" ts "\"}]}"
        KubeObject *p1 = pod_new("a", "", "", READY_AT("2024-01-01T00:01:00Z"));
        KubeObject *p2 = pod_new("b", "", "", READY_AT("2024-01-01T00:02:00Z"));
        KubeObject *p1b = pod_new("a", "", "", READY_AT("2024-01-01T00:05:00Z"));
        KubeObject *p3 = pod_new("c", "", "", "{\"phase\":\"Running\",\"podIP\":\"10.0.0.3\"}");
        char buf[RFC3339_MAX];

        assert_int_equal(trigger_time_tracker_new(&t), 0);
        const Pod *first[] = { POD(p1) };
        assert_int_equal(trigger_time_tracker_compute(t, "shop/web", SERVICE(s), first, 1, &v), 0);
        assert_int_equal(v, created); /* first sync: the Service's creation */
        assert_int_equal(trigger_time_tracker_compute(t, "shop/web", SERVICE(s), first, 1, &v), 0);
        assert_int_equal(v, 0); /* nothing newer */
        const Pod *second[] = { POD(p1b), POD(p2), POD(p3) };
        assert_int_equal(trigger_time_tracker_compute(t, "shop/web", SERVICE(s), second, 3, &v), 0);
        assert_string_equal(trigger_time_format(v, buf), "2024-01-01T00:02:00Z"); /* earliest newer; p3 zero: ignored */
        trigger_time_tracker_forget(t, "shop/web");
        assert_int_equal(trigger_time_tracker_size(t), 0);
        assert_int_equal(trigger_time_tracker_compute(t, "shop/web", SERVICE(s), second, 3, &v), 0);
        assert_int_equal(v, created);
        assert_string_equal(trigger_time_format(1514764800 * USEC_PER_SEC, buf), "2018-01-01T00:00:00Z");
        kube_object_unref(p1);
        kube_object_unref(p2);
        kube_object_unref(p1b);
        kube_object_unref(p3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_which_pods_count),
                cmocka_unit_test(test_selection),
                cmocka_unit_test(test_families),
                cmocka_unit_test(test_address_rules),
                cmocka_unit_test(test_fields),
                cmocka_unit_test(test_node_zone),
                cmocka_unit_test(test_port_resolution),
                cmocka_unit_test(test_port_rules),
                cmocka_unit_test(test_problem_events),
                cmocka_unit_test(test_grouping),
                cmocka_unit_test(test_grouping_identity),
                cmocka_unit_test(test_pods_without_ports_or_family),
                cmocka_unit_test(test_truncate_keep),
                cmocka_unit_test(test_truncate),
                cmocka_unit_test(test_over_capacity_build),
                cmocka_unit_test(test_labels_annotations),
                cmocka_unit_test(test_semantic_equal),
                cmocka_unit_test(test_order),
                cmocka_unit_test(test_pod_update_filter),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_trigger_time),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
