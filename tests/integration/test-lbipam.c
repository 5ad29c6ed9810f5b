/* SPDX-License-Identifier: Apache-2.0 */
/* The lbipam controller (spec/lbipam.md) as a real berth-controller
 * process against the real kube-apiserver, with the metallb.io CRDs that
 * berth ships (§2) installed.
 *
 * The tests run in order on one control plane of their own; pools live in
 * berth-system (the default --config-namespace), each case has its own
 * Service namespace and a pool restricted to it (serviceAllocation
 * .namespaces), so the cases do not take each other's addresses:
 *   crd      the API server enforces the schema of §2 (422) and applies
 *            its defaults;
 *   a        allocation in the order of §13.2, annotation, condition,
 *            events, pool status, metrics; a freed address goes to the
 *            oldest pending Service;
 *   b        a hand-written status IP is replaced (X5), and so is one that
 *            collides with another Service's address;
 *   c        a full pool shrunk and a pool deleted: AllocationsDropped
 *            (§13.8), ClearAssignment, new IPs or pending;
 *   d        SIGKILL and restart with pending Services (X6);
 *   f        an invalid configuration (overlap): ConfigInvalid, stale
 *            metric, nothing moves;
 *   g        a Service of another loadBalancerClass is never touched;
 *   e        two replicas with leader election: one writes; the standby
 *            takes over after SIGKILL of the leader (§13.3).
 * After every step, no IP is held by two Services (checked on every poll
 * by listing all Services). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest-berth.h"
#include "itest.h"
#include "json.h"
#include "macros.h"
#include "registry.h"

#define CONFIG_NS "berth-system"
#define REPORTING_CONTROLLER "berth.io/lbipam-controller"
#define CONDITION_TYPE "berth.io/LoadBalancerIPAllocated"
#define POOL_ANNOTATION "metallb.io/ip-allocated-from-pool"
#define POOLS_PATH "/apis/metallb.io/v1beta1/namespaces/" CONFIG_NS "/ipaddresspools"
#define CONVERGE_TIMEOUT (30 * USEC_PER_SEC)
#define POLL_INTERVAL (100 * USEC_PER_MSEC)
/* Long enough for a wrong write or event to land. */
#define SETTLE (3 * USEC_PER_SEC)
/* Leader election of case e (short, valid per client-go's checks). */
#define LEASE_DURATION_S 3
#define RETRY_PERIOD_MS 500
#define LEASE_DURATION_FLAG "--leader-elect-lease-duration=3s"
#define RETRY_PERIOD_FLAG "--leader-elect-retry-period=500ms"
#define TAKEOVER_SLACK (500 * USEC_PER_MSEC) /* polls, process start-up */
#define SVC_SPEC "\"type\":\"LoadBalancer\",\"allocateLoadBalancerNodePorts\":false,\"ports\":[{\"port\":80}]"

#define fmt itest_fmt

typedef struct Fixture {
        ITestEnv *env;
        ITestApi *api;
        ITestBerth *berth;
        ITestBerth *standby;    /* case e's second replica */
        bool skip;              /* the controller is not built: only the CRD case runs */
        bool tolerate_double;   /* case b makes a collision on purpose */
        const char *instance;   /* expected reportingInstance, NULL = any non-empty */
} Fixture;

/* ---- API helpers ----------------------------------------------------------------- */

static JsonDoc *parse(const char *body) {
        JsonDoc *doc = itest_parse_json(body);
        if (!doc)
                fail();
        return doc;
}

static JsonDoc *api_get(Fixture *f, const char *path) {
        JsonDoc *doc = itest_api_get_json(f->api, path);

        assert_non_null(doc);
        return doc;
}

static void api_ok(Fixture *f, const char *method, const char *path, const char *content_type, const char *body) {
        assert_int_equal(itest_api_call_ok(f->api, method, path, content_type, body, NULL), 0);
}

static long api_code(Fixture *f, const char *method, const char *path, const char *body, char **ret_body) {
        long code = 0;

        assert_int_equal(itest_api_call(f->api, method, path, NULL, body, &code, ret_body), 0);
        return code;
}

static int64_t int_of(const JsonValue *v) {
        int64_t n = 0;
        (void) json_int64(v, &n);
        return n;
}

static void namespace_create(Fixture *f, const char *ns) {
        _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\"}}", ns);
        long code = api_code(f, "POST", "/api/v1/namespaces", body, NULL);

        assert_true(code == 201 || code == 409);
}

/* A pool in the configuration namespace; spec is the JSON object. */
static void pool_create(Fixture *f, const char *name, const char *spec) {
        _cleanup_free_ char *body = fmt("{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"IPAddressPool\","
                                        "\"metadata\":{\"name\":\"%s\"},\"spec\":%s}",
                                        name, spec);
        api_ok(f, "POST", POOLS_PATH, NULL, body);
}

static void pool_patch(Fixture *f, const char *name, const char *merge_patch) {
        _cleanup_free_ char *path = fmt("%s/%s", POOLS_PATH, name);
        api_ok(f, "PATCH", path, "application/merge-patch+json", merge_patch);
}

static void pool_delete(Fixture *f, const char *name) {
        _cleanup_free_ char *path = fmt("%s/%s", POOLS_PATH, name);
        api_ok(f, "DELETE", path, NULL, NULL);
}

/* A LoadBalancer Service (no node ports); extra: more spec members. */
static void service_create(Fixture *f, const char *ns, const char *name, const char *extra) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services", ns);
        _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\"},\"spec\":{" SVC_SPEC "%s}}", name,
                                        strempty(extra));
        api_ok(f, "POST", path, NULL, body);
}

static void service_delete(Fixture *f, const char *ns, const char *name) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services/%s", ns, name);
        api_ok(f, "DELETE", path, NULL, NULL);
}

/* Writes status.loadBalancer.ingress by hand, as a user (or an attacker,
 * CVE-2020-8554) with services/status rights can. */
static void service_patch_status_ip(Fixture *f, const char *ns, const char *name, const char *ip) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services/%s/status", ns, name);
        _cleanup_free_ char *body = fmt("{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"%s\"}]}}}", ip);
        api_ok(f, "PATCH", path, "application/merge-patch+json", body);
}

/* ---- observed state ------------------------------------------------------------- */

/* "ip1,ip2" of status.loadBalancer.ingress, "-" when none. */
static char *ingress_ips(const JsonValue *svc) {
        const JsonValue *ing;
        char buf[256] = "";

        JSON_ARRAY_FOREACH(ing, json_get_path(svc, "status", "loadBalancer", "ingress")) {
                if (buf[0])
                        strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
                strncat(buf, strempty(json_get_string(ing, "ip")), sizeof(buf) - strlen(buf) - 1);
        }
        return fmt("%s", buf[0] ? buf : "-");
}

/* Fails when one IP is in the status of two Services (anywhere). */
static void check_no_ip_twice(Fixture *f) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        const JsonValue *item, *ing;
        char *ips[512], *owners[512];
        size_t n = 0;

        if (f->tolerate_double)
                return;
        doc = api_get(f, "/api/v1/services");
        JSON_ARRAY_FOREACH(item, json_get(json_doc_root(doc), "items")) {
                const JsonValue *meta = json_get(item, "metadata");
                JSON_ARRAY_FOREACH(ing, json_get_path(item, "status", "loadBalancer", "ingress")) {
                        const char *ip = json_get_string(ing, "ip");
                        if (!ip)
                                continue;
                        assert_true(n < ELEMENTSOF(ips));
                        ips[n] = (char *) ip;
                        owners[n] = fmt("%s/%s", json_get_string(meta, "namespace"), json_get_string(meta, "name"));
                        for (size_t k = 0; k < n; k++)
                                if (streq(ips[k], ip))
                                        fail_msg("IP %s is held by %s and %s", ip, owners[k], owners[n]);
                        n++;
                }
        }
        for (size_t i = 0; i < n; i++)
                free(owners[i]);
}

/* One line per Service of ns, by name:
 *   "NAME IPS POOL STATUS REASON MESSAGE"
 * with "-" for an absent annotation or condition (then "- - -"). */
static char *services_summary(Fixture *f, const char *ns) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services", ns);
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        const JsonValue *item, *cond;
        ItestBuffer out = {};

        JSON_ARRAY_FOREACH(item, json_get(json_doc_root(doc), "items")) {
                const JsonValue *meta = json_get(item, "metadata"), *found = NULL;
                const char *pool = json_get_string(json_get(meta, "annotations"), POOL_ANNOTATION);
                _cleanup_free_ char *ips = ingress_ips(item), *line = NULL;

                /* never the deprecated key: berth writes (and cleans) the new one */
                assert_null(json_get(json_get(meta, "annotations"), "metallb.universe.tf/ip-allocated-from-pool"));
                JSON_ARRAY_FOREACH(cond, json_get_path(item, "status", "conditions"))
                        if (streq_ptr(json_get_string(cond, "type"), CONDITION_TYPE)) {
                                assert_null(found); /* one entry of berth's type */
                                found = cond;
                        }
                if (found)
                        assert_non_null(json_get_string(found, "lastTransitionTime"));
                line = fmt("%s %s %s %s %s %s\n", json_get_string(meta, "name"), ips, pool ?: "-",
                           found ? strempty(json_get_string(found, "status")) : "-",
                           found ? strempty(json_get_string(found, "reason")) : "-",
                           found ? strempty(json_get_string(found, "message")) : "-");
                assert_int_equal(itest_buffer_write(line, 1, strlen(line), &out), strlen(line));
        }
        return out.data ? out.data : fmt("%s", "");
}

static int strcmp_sorted(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorted, duplicates dropped (a repeat is one Event object with a series,
 * or suppressed: either way one line), each line ending in "\n". */
static char *lines_join(char **v, size_t n) {
        ItestBuffer out = {};

        if (n > 1)
                qsort(v, n, sizeof(char *), strcmp_sorted);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || !streq(v[i], v[i - 1])) {
                        assert_int_equal(itest_buffer_write(v[i], 1, strlen(v[i]), &out), strlen(v[i]));
                        assert_int_equal(itest_buffer_write("\n", 1, 1, &out), 1);
                }
        }
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        return out.data ? out.data : fmt("%s", "");
}

/* berth's lbipam events in ns about objects of kind (about `name` only
 * when set), as sorted lines "TYPE REASON NAME NOTE".  Each is checked to
 * carry the §11 action and a reportingInstance. */
static char *berth_events(Fixture *f, const char *ns, const char *kind, const char *name) {
        _cleanup_free_ char *path = fmt("/apis/events.k8s.io/v1/namespaces/%s/events", ns);
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        const JsonValue *ev;
        char *lines[512];
        size_t n = 0;

        JSON_ARRAY_FOREACH(ev, json_get(json_doc_root(doc), "items")) {
                const JsonValue *reg = json_get(ev, "regarding");
                const char *reason = json_get_string(ev, "reason"), *action = json_get_string(ev, "action");

                if (!streq_ptr(json_get_string(ev, "reportingController"), REPORTING_CONTROLLER))
                        continue;
                if (!streq_ptr(json_get_string(reg, "kind"), kind) ||
                    (name && !streq_ptr(json_get_string(reg, "name"), name)))
                        continue;
                assert_string_equal(json_get_string(reg, "namespace"), ns);
                if (streq(kind, "Service"))
                        assert_string_equal(action, "AllocateIP");
                else if (streq_ptr(reason, "ConfigInvalid"))
                        assert_string_equal(action, "ValidateConfig");
                else
                        assert_string_equal(action, "UpdatePool");
                if (f->instance)
                        assert_string_equal(json_get_string(ev, "reportingInstance"), f->instance);
                else
                        assert_false(isempty(json_get_string(ev, "reportingInstance")));
                assert_true(n < ELEMENTSOF(lines));
                lines[n++] = fmt("%s %s %s %s", json_get_string(ev, "type"), reason, json_get_string(reg, "name"),
                                 json_get_string(ev, "note"));
        }
        return lines_join(lines, n);
}

/* "assignedIPv4 availableIPv4 assignedIPv6 availableIPv6" of a pool. */
static char *pool_counters(Fixture *f, const char *name) {
        _cleanup_free_ char *path = fmt("%s/%s", POOLS_PATH, name);
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        const JsonValue *st = json_get(json_doc_root(doc), "status");

        return fmt("%lld %lld %lld %lld", (long long) int_of(json_get(st, "assignedIPv4")),
                   (long long) int_of(json_get(st, "availableIPv4")), (long long) int_of(json_get(st, "assignedIPv6")),
                   (long long) int_of(json_get(st, "availableIPv6")));
}

/* ---- waiting --------------------------------------------------------------------- */

typedef char *(*Observe)(Fixture *f, const char *a, const char *b, const char *c);

static char *observe_services(Fixture *f, const char *ns, const char *unused1, const char *unused2) {
        (void) unused1;
        (void) unused2;
        return services_summary(f, ns);
}

static char *observe_events(Fixture *f, const char *ns, const char *kind, const char *name) {
        return berth_events(f, ns, kind, name);
}

static char *observe_pool(Fixture *f, const char *name, const char *unused1, const char *unused2) {
        (void) unused1;
        (void) unused2;
        return pool_counters(f, name);
}

/* Polls until observe() equals want, checking for double holders on
 * every round; fails with both texts and the log. */
static void wait_equal(Fixture *f, Observe observe, const char *a, const char *b, const char *c, const char *want,
                       const char *what) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        _cleanup_free_ char *got = NULL;

        for (;;) {
                check_no_ip_twice(f);
                free(got);
                got = observe(f, a, b, c);
                if (streq(got, want))
                        return;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(POLL_INTERVAL);
        }
        fprintf(stderr, "%s (%s):\n--- got:\n%s\n--- want:\n%s\n", what, a, got, want);
        itest_berth_print_log(f->berth, 30);
        fail();
}

/* For SETTLE: observe() keeps equal to want (nothing moves, nothing more
 * is said). */
static void stays_equal(Fixture *f, Observe observe, const char *a, const char *b, const char *c, const char *want,
                        const char *what) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + SETTLE;

        while (now_usec(CLOCK_MONOTONIC) < end) {
                _cleanup_free_ char *got = NULL;
                check_no_ip_twice(f);
                got = observe(f, a, b, c);
                if (!streq(got, want)) {
                        fprintf(stderr, "%s (%s) changed:\n--- got:\n%s\n--- want:\n%s\n", what, a, got, want);
                        itest_berth_print_log(f->berth, 30);
                        fail();
                }
                usleep(4 * POLL_INTERVAL);
        }
}

#define wait_services(f, ns, want) wait_equal(f, observe_services, ns, NULL, NULL, want, "Services")
#define wait_events(f, ns, kind, name, want) wait_equal(f, observe_events, ns, kind, name, want, "berth's events")
#define wait_pool_counters(f, pool, want) wait_equal(f, observe_pool, pool, NULL, NULL, want, "pool status")

/* A pool handing out addresses only to the Services of ns.  With
 * capacity >= 0, waits until the controller has written its status: the
 * pool and Services come through different watches, and a Service created
 * before berth sees its pool is (rightly) pending for a moment. */
static void pool_create_for(Fixture *f, const char *name, const char *ns, const char *addresses, int capacity) {
        _cleanup_free_ char *spec = fmt("{\"addresses\":%s,\"serviceAllocation\":{\"namespaces\":[\"%s\"]}}",
                                        addresses, ns);
        pool_create(f, name, spec);
        if (capacity >= 0) {
                _cleanup_free_ char *want = fmt("0 %d 0 0", capacity);
                wait_pool_counters(f, name, want);
        }
}

static void wait_metric_on(ITestBerth *b, const char *name, const char *label_match, double value) {
        if (itest_berth_wait_metric(b, name, label_match, value, CONVERGE_TIMEOUT) < 0) {
                itest_berth_print_log(b, 30);
                fail();
        }
}

#define wait_metric(f, name, label_match, value) wait_metric_on((f)->berth, name, label_match, value)

/* ---- the controller ------------------------------------------------------------- */

static void berth_start(Fixture *f) {
        static const char *const args[] = { "--controllers=lbipam", NULL };

        f->berth = itest_berth_free(f->berth, 0);
        assert_int_equal(itest_berth_start(f->env, args, &f->berth), 0);
}

static void berth_ensure(Fixture *f) {
        if (!f->berth)
                berth_start(f);
        else if (f->berth->pid <= 0)
                assert_int_equal(itest_berth_restart(f->env, f->berth), 0);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || itest_api_client_new(f->env, &f->api) < 0)
                return -1;
        f->skip = true;
        for (const ControllerRegistration *r = controller_registry; r->name; r++)
                if (streq(r->name, "lbipam") && r->init)
                        f->skip = false;

        if (itest_metallb_crds_install(f->env, CONFIG_NS) < 0)
                return -1;
        if (itest_api_call_ok(f->api, "POST", "/api/v1/namespaces", NULL,
                              "{\"metadata\":{\"name\":\"" CONFIG_NS "\"}}", NULL) < 0)
                return -1;
        /* Every pool is advertised: the Allocated message has no §13.6 suffix. */
        if (itest_api_call_ok(f->api, "POST", "/apis/metallb.io/v1beta1/namespaces/" CONFIG_NS "/l2advertisements",
                              NULL,
                              "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"L2Advertisement\","
                              "\"metadata\":{\"name\":\"all\"},\"spec\":{}}",
                              NULL) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        itest_berth_free(f->berth, 0);
        itest_berth_free(f->standby, 0);
        itest_api_client_free(f->api);
        itest_env_free(f->env);
        free(f);
        return 0;
}

/* ---- §2: the CRDs ------------------------------------------------------------------ */

#define CRD_NS "crd-check"
#define CRD_POOLS "/apis/metallb.io/v1beta1/namespaces/" CRD_NS "/ipaddresspools"
#define CRD_L2S "/apis/metallb.io/v1beta1/namespaces/" CRD_NS "/l2advertisements"

static void expect_refused(Fixture *f, const char *collection, const char *kind, const char *spec, const char *field,
                           const char *detail) {
        _cleanup_free_ char *body = fmt("{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"%s\","
                                        "\"metadata\":{\"generateName\":\"refused-\"},\"spec\":%s}",
                                        kind, spec);
        _cleanup_free_ char *resp = NULL;
        long code = api_code(f, "POST", collection, body, &resp);

        if (code != 422 || !strstr(strempty(resp), field) || !strstr(strempty(resp), detail)) {
                fprintf(stderr, "%s %s: HTTP %ld, want 422 naming %s (%s): %s\n", kind, spec, code, field, detail,
                        strempty(resp));
                fail();
        }
}

static JsonDoc *create_ok(Fixture *f, const char *collection, const char *kind, const char *name, const char *spec) {
        _cleanup_free_ char *body = fmt("{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"%s\","
                                        "\"metadata\":{\"name\":\"%s\"},\"spec\":%s}",
                                        kind, name, spec);
        _cleanup_free_ char *resp = NULL;

        assert_int_equal(itest_api_call_ok(f->api, "POST", collection, NULL, body, &resp), 0);
        return parse(resp);
}

static void test_crds_enforced(void **state) {
        Fixture *f = *state;
        char long_entry[102], max_entry[101];
        static const char *const selector_fields[] = {
                "serviceAllocation\":{\"namespaceSelectors",
                "serviceAllocation\":{\"serviceSelectors",
        };
        /* Each of §2's rules, refused by the API server with the field named. */
        static const struct {
                const char *collection, *kind, *spec, *field, *detail;
        } refused[] = {
                { CRD_POOLS, "IPAddressPool", "{\"addresses\":[\"192.0.2.0/24\\t\"]}",
                  "spec.addresses[0]", "should match" },
                { CRD_POOLS, "IPAddressPool", "{\"addresses\":[\"192.0.2.0/24,192.0.3.0/24\"]}",
                  "spec.addresses[0]", "should match" },
                { CRD_POOLS, "IPAddressPool", "{\"addresses\":[\"pool.example.com\"]}",
                  "spec.addresses[0]", "should match" },
                { CRD_POOLS, "IPAddressPool", "{\"addresses\":[]}",
                  "spec.addresses", "at least 1 items" },
                { CRD_POOLS, "IPAddressPool", "{\"autoAssign\":true}",
                  "spec.addresses", "Required value" },
                { CRD_POOLS, "IPAddressPool", "{\"addresses\":[\"192.0.2.0/24\"],\"autoAssign\":\"yes\"}",
                  "spec.autoAssign", "must be of type boolean" },
                { CRD_POOLS, "IPAddressPool",
                  "{\"addresses\":[\"192.0.2.0/24\"],\"serviceAllocation\":{\"priority\":\"high\"}}",
                  "spec.serviceAllocation.priority", "must be of type integer" },
                { CRD_POOLS, "IPAddressPool",
                  "{\"addresses\":[\"192.0.2.0/24\"],\"serviceAllocation\":{\"namespaces\":[\"web\",\"db\","
                  "\"web\"]}}",
                  "spec.serviceAllocation.namespaces[2]", "Duplicate value" },
                { CRD_POOLS, "IPAddressPool",
                  "{\"addresses\":[\"192.0.2.0/24\"],\"serviceAllocation\":{\"serviceSelectors\":"
                  "[{\"matchExpressions\":[{\"operator\":\"Exists\"}]}]}}",
                  ".matchExpressions[0].key", "Required value" },
                { CRD_L2S, "L2Advertisement", "{\"ipAddressPools\":[\"a\",\"a\"]}",
                  "spec.ipAddressPools[1]", "Duplicate value" },
                { CRD_L2S, "L2Advertisement", "{\"interfaces\":[\"eth0\",\"eth0\"]}",
                  "spec.interfaces[1]", "Duplicate value" },
                { CRD_L2S, "L2Advertisement",
                  "{\"nodeSelectors\":[{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\","
                  "\"values\":[\"1\"]}]}]}",
                  "spec.nodeSelectors[0].matchExpressions[0].operator", "Unsupported value" },
                { CRD_L2S, "L2Advertisement",
                  "{\"ipAddressPoolSelectors\":[{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"in\"}]}]}",
                  "spec.ipAddressPoolSelectors[0].matchExpressions[0].operator", "Unsupported value" },
                { CRD_L2S, "L2Advertisement",
                  "{\"serviceSelectors\":[{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Lt\"}]}]}",
                  "spec.serviceSelectors[0].matchExpressions[0].operator", "Unsupported value" },
                { CRD_L2S, "L2Advertisement", "{\"preferredNodeSelectors\":[{\"weight\":0,\"preference\":{}}]}",
                  "spec.preferredNodeSelectors[0].weight", "greater than or equal to 1" },
                { CRD_L2S, "L2Advertisement", "{\"preferredNodeSelectors\":[{\"weight\":101,\"preference\":{}}]}",
                  "spec.preferredNodeSelectors[0].weight", "less than or equal to 100" },
                { CRD_L2S, "L2Advertisement", "{\"preferredNodeSelectors\":[{\"preference\":{}}]}",
                  "spec.preferredNodeSelectors[0].weight", "Required value" },
                { CRD_L2S, "L2Advertisement",
                  "{\"preferredNodeSelectors\":[{\"weight\":5,\"preference\":{\"matchExpressions\":"
                  "[{\"key\":\"a\",\"operator\":\"Equals\"}]}}]}",
                  "spec.preferredNodeSelectors[0].preference.matchExpressions[0].operator", "Unsupported value" },
        };

        namespace_create(f, CRD_NS);
        memset(long_entry, '1', 101);
        long_entry[101] = 0;
        {
                _cleanup_free_ char *spec = fmt("{\"addresses\":[\"192.0.2.0/24\",\"%s\"]}", long_entry);
                expect_refused(f, CRD_POOLS, "IPAddressPool", spec, "spec.addresses[1]", "Too long");
        }
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                expect_refused(f, refused[i].collection, refused[i].kind, refused[i].spec, refused[i].field,
                               refused[i].detail);
        for (size_t i = 0; i < ELEMENTSOF(selector_fields); i++) {
                _cleanup_free_ char *spec = fmt("{\"addresses\":[\"192.0.2.0/24\"],\"%s\":[{\"matchExpressions\":"
                                                "[{\"key\":\"team\",\"operator\":\"Equals\",\"values\":[\"a\"]}]}]}}",
                                                selector_fields[i]);
                expect_refused(f, CRD_POOLS, "IPAddressPool", spec, ".matchExpressions[0].operator",
                               "Unsupported value");
        }
        /* The schema never rejects what the parser accepts (§2 rule): a
         * range of exactly 100 characters, padded with spaces (trimmed,
         * §3), passes; and the defaults of §1 are written by the server. */
        {
                static const char a[] = "192.0.2.1", b[] = "- 192.0.2.9";
                size_t pad = 100 - strlen(a) - strlen(b);
                memcpy(max_entry, a, strlen(a));
                memset(max_entry + strlen(a), ' ', pad);
                memcpy(max_entry + strlen(a) + pad, b, strlen(b) + 1);
                assert_int_equal(strlen(max_entry), 100);
                _cleanup_free_ char *spec = fmt("{\"addresses\":[\"%s\",\"2001:DB8::/120\",\"fd00::1-fd00::ff\"]}",
                                                max_entry);
                _cleanup_(json_doc_freep) JsonDoc *doc = create_ok(f, CRD_POOLS, "IPAddressPool", "defaults", spec);
                const JsonValue *s = json_get(json_doc_root(doc), "spec");
                bool auto_assign = false, avoid = true;
                assert_int_equal(json_bool(json_get(s, "autoAssign"), &auto_assign), 0);
                assert_int_equal(json_bool(json_get(s, "avoidBuggyIPs"), &avoid), 0);
                assert_true(auto_assign);
                assert_false(avoid);
                assert_string_equal(json_string(json_array_at(json_get(s, "addresses"), 0)), max_entry);
                assert_null(json_get(json_doc_root(doc), "status"));
        }
        /* Every field of §1 survives (nothing pruned), and so do L2's
         * serviceSelectors and preferredNodeSelectors. */
        {
                _cleanup_(json_doc_freep) JsonDoc *doc = create_ok(
                        f, CRD_POOLS, "IPAddressPool", "full",
                        "{\"addresses\":[\"198.51.100.0/24\"],\"autoAssign\":false,\"avoidBuggyIPs\":true,"
                        "\"serviceAllocation\":{\"priority\":-3,\"namespaces\":[\"web\"],"
                        "\"namespaceSelectors\":[{\"matchLabels\":{\"team\":\"a\"}}],"
                        "\"serviceSelectors\":[{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\","
                        "\"values\":[\"dev\"]},{\"key\":\"x\",\"operator\":\"DoesNotExist\"}]}]}}");
                const JsonValue *sa = json_get_path(json_doc_root(doc), "spec", "serviceAllocation");
                assert_int_equal(int_of(json_get(sa, "priority")), -3);
                assert_string_equal(json_string(json_array_at(json_get(sa, "namespaces"), 0)), "web");
                assert_string_equal(json_get_string(json_get(json_array_at(json_get(sa, "namespaceSelectors"), 0),
                                                             "matchLabels"),
                                                    "team"),
                                    "a");
                const JsonValue *exprs = json_get(json_array_at(json_get(sa, "serviceSelectors"), 0), "matchExpressions");
                assert_int_equal(json_array_len(exprs), 2);
                assert_string_equal(json_get_string(json_array_at(exprs, 0), "operator"), "NotIn");
                assert_string_equal(json_string(json_array_at(json_get(json_array_at(exprs, 0), "values"), 0)), "dev");
        }
        {
                _cleanup_(json_doc_freep) JsonDoc *doc = create_ok(
                        f, CRD_L2S, "L2Advertisement", "full",
                        "{\"ipAddressPools\":[\"full\"],\"ipAddressPoolSelectors\":[{\"matchLabels\":{\"a\":\"b\"}}],"
                        "\"nodeSelectors\":[{\"matchLabels\":{\"kubernetes.io/hostname\":\"n1\"}}],"
                        "\"interfaces\":[\"eth0\",\"eth1\"],"
                        "\"serviceSelectors\":[{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}],"
                        "\"preferredNodeSelectors\":[{\"weight\":100,\"preference\":{\"matchExpressions\":"
                        "[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]}]}}]}");
                const JsonValue *s = json_get(json_doc_root(doc), "spec");
                assert_int_equal(json_array_len(json_get(s, "interfaces")), 2);
                assert_string_equal(json_get_string(json_array_at(json_get(json_array_at(json_get(s, "serviceSelectors"), 0),
                                                                           "matchExpressions"),
                                                                  0),
                                                    "operator"),
                                    "Exists");
                const JsonValue *pref = json_array_at(json_get(s, "preferredNodeSelectors"), 0);
                assert_int_equal(int_of(json_get(pref, "weight")), 100);
                assert_string_equal(json_get_string(json_array_at(json_get_path(pref, "preference", "matchExpressions"), 0),
                                                    "key"),
                                    "zone");
                assert_string_equal(json_get_string(json_get(json_array_at(json_get(s, "nodeSelectors"), 0),
                                                             "matchLabels"),
                                                    "kubernetes.io/hostname"),
                                    "n1");
        }
        /* The status subresource takes the int64 counters (a huge IPv6
         * pool saturates at MaxInt64, §10); the main resource ignores status. */
        {
                _cleanup_free_ char *resp = NULL;
                api_ok(f, "PATCH", CRD_POOLS "/defaults", "application/merge-patch+json",
                       "{\"status\":{\"assignedIPv4\":1}}");
                _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, CRD_POOLS "/defaults");
                assert_null(json_get(json_doc_root(doc), "status"));
                assert_int_equal(itest_api_call_ok(f->api, "PATCH", CRD_POOLS "/defaults/status",
                                                   "application/merge-patch+json",
                                                   "{\"status\":{\"assignedIPv4\":3,\"availableIPv4\":6,"
                                                   "\"assignedIPv6\":0,\"availableIPv6\":9223372036854775807}}",
                                                   &resp),
                                 0);
                _cleanup_(json_doc_freep) JsonDoc *st = parse(resp);
                assert_int_equal(int_of(json_get_path(json_doc_root(st), "status", "availableIPv6")), INT64_MAX);
                assert_int_equal(int_of(json_get_path(json_doc_root(st), "status", "assignedIPv4")), 3);
        }
        {
                /* printer columns and scope, as the API server serves them */
                _cleanup_(json_doc_freep) JsonDoc *crd =
                        api_get(f, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.metallb.io");
                const JsonValue *spec = json_get(json_doc_root(crd), "spec"), *col, *cond;
                const JsonValue *v = json_array_at(json_get(spec, "versions"), 0);
                static const char *const want[] = { "Auto Assign",   "Avoid Buggy IPs", "Addresses",      "Assigned IPv4",
                                                    "Assigned IPv6", "Available IPv4",  "Available IPv6" };
                size_t i = 0;
                bool established = false;

                assert_string_equal(json_get_string(spec, "scope"), "Namespaced");
                assert_string_equal(json_get_string(json_get(spec, "conversion"), "strategy"), "None");
                assert_int_equal(json_array_len(json_get(spec, "versions")), 1);
                assert_string_equal(json_get_string(v, "name"), "v1beta1");
                assert_non_null(json_get_path(v, "subresources", "status"));
                JSON_ARRAY_FOREACH(col, json_get(v, "additionalPrinterColumns")) {
                        assert_true(i < ELEMENTSOF(want));
                        assert_string_equal(json_get_string(col, "name"), want[i++]);
                }
                assert_int_equal(i, ELEMENTSOF(want));
                JSON_ARRAY_FOREACH(cond, json_get_path(json_doc_root(crd), "status", "conditions"))
                        if (streq_ptr(json_get_string(cond, "type"), "NonStructuralSchema"))
                                fail_msg("the schema is not structural: %s", json_get_string(cond, "message"));
                        else if (streq_ptr(json_get_string(cond, "type"), "Established"))
                                established = streq_ptr(json_get_string(cond, "status"), "True");
                assert_true(established);
        }
}

/* ---- a: allocation, annotation, condition, events, status, metrics ---------------- */

#define NS_A "lb-a"

static void test_allocate(void **state) {
        Fixture *f = *state;
        static const char want_events[] =
                "Normal IPAllocated s1 Assigned IP [\"192.0.2.0\"]\n"
                "Normal IPAllocated s2 Assigned IP [\"192.0.2.1\"]\n"
                "Normal IPAllocated s3 Assigned IP [\"192.0.2.2\"]\n"
                "Normal IPAllocated s4 Assigned IP [\"192.0.2.3\"]\n"
                "Warning AllocationFailed s5 Failed to allocate IP for \"" NS_A "/s5\": no available IPs\n";

        if (f->skip)
                skip();
        namespace_create(f, NS_A);
        /* Created before the controller starts: the first pass (§13.2
         * phase 2) goes by creationTimestamp, then ns/name. */
        pool_create_for(f, "a-pool", NS_A, "[\"192.0.2.0/30\"]", -1);
        service_create(f, NS_A, "s1", NULL);
        service_create(f, NS_A, "s2", NULL);
        service_create(f, NS_A, "s3", NULL);
        service_create(f, NS_A, "s4", NULL);
        service_create(f, NS_A, "s5", NULL);
        berth_start(f);

        wait_services(f, NS_A,
                      "s1 192.0.2.0 a-pool True Allocated IP [\"192.0.2.0\"] from pool \"a-pool\"\n"
                      "s2 192.0.2.1 a-pool True Allocated IP [\"192.0.2.1\"] from pool \"a-pool\"\n"
                      "s3 192.0.2.2 a-pool True Allocated IP [\"192.0.2.2\"] from pool \"a-pool\"\n"
                      "s4 192.0.2.3 a-pool True Allocated IP [\"192.0.2.3\"] from pool \"a-pool\"\n"
                      "s5 - - False PoolExhausted no available IPs\n");
        wait_events(f, NS_A, "Service", NULL, want_events);
        wait_pool_counters(f, "a-pool", "4 0 0 0");
        wait_metric(f, "metallb_k8s_client_config_loaded_bool", NULL, 1);
        wait_metric(f, "metallb_k8s_client_config_stale_bool", NULL, 0);
        wait_metric(f, "metallb_allocator_addresses_total", "pool=\"a-pool\"", 4);
        wait_metric(f, "metallb_allocator_addresses_in_use_total", "pool=\"a-pool\"", 4);
        wait_metric(f, "berth_lbipam_services_pending", "reason=\"PoolExhausted\"", 1);
        /* pools covered by "all": no NoL2Advertisement */
        wait_metric(f, "berth_lbipam_pool_unadvertised", "pool=\"a-pool\"", 0);
        _cleanup_free_ char *pool_events = berth_events(f, CONFIG_NS, "IPAddressPool", "a-pool");
        assert_string_equal(pool_events, "");

        /* A freed address goes to the pending Service. */
        service_delete(f, NS_A, "s2");
        wait_services(f, NS_A,
                      "s1 192.0.2.0 a-pool True Allocated IP [\"192.0.2.0\"] from pool \"a-pool\"\n"
                      "s3 192.0.2.2 a-pool True Allocated IP [\"192.0.2.2\"] from pool \"a-pool\"\n"
                      "s4 192.0.2.3 a-pool True Allocated IP [\"192.0.2.3\"] from pool \"a-pool\"\n"
                      "s5 192.0.2.1 a-pool True Allocated IP [\"192.0.2.1\"] from pool \"a-pool\"\n");
        wait_events(f, NS_A, "Service", NULL,
                    "Normal IPAllocated s1 Assigned IP [\"192.0.2.0\"]\n"
                    "Normal IPAllocated s2 Assigned IP [\"192.0.2.1\"]\n"
                    "Normal IPAllocated s3 Assigned IP [\"192.0.2.2\"]\n"
                    "Normal IPAllocated s4 Assigned IP [\"192.0.2.3\"]\n"
                    "Normal IPAllocated s5 Assigned IP [\"192.0.2.1\"]\n"
                    "Warning AllocationFailed s5 Failed to allocate IP for \"" NS_A "/s5\": no available IPs\n");
        wait_pool_counters(f, "a-pool", "4 0 0 0");
        wait_metric(f, "berth_lbipam_services_pending", NULL, 0);
}

/* ---- b: status IPs written by hand (X5, CVE-2020-8554) ------------------------------ */

#define NS_B "lb-b"

static void test_foreign_status_ip(void **state) {
        Fixture *f = *state;
        static const char want_before[] =
                "a 192.0.2.8 b-pool True Allocated IP [\"192.0.2.8\"] from pool \"b-pool\"\n"
                "c 192.0.2.9 b-pool True Allocated IP [\"192.0.2.9\"] from pool \"b-pool\"\n";

        if (f->skip)
                skip();
        berth_ensure(f);
        namespace_create(f, NS_B);
        pool_create_for(f, "b-pool", NS_B, "[\"192.0.2.8/29\"]", 8);
        service_create(f, NS_B, "a", NULL);
        wait_services(f, NS_B, "a 192.0.2.8 b-pool True Allocated IP [\"192.0.2.8\"] from pool \"b-pool\"\n");
        service_create(f, NS_B, "c", NULL);
        wait_services(f, NS_B, want_before);

        /* X5: an address outside every pool is replaced. */
        service_patch_status_ip(f, NS_B, "a", "203.0.113.9");
        wait_services(f, NS_B, want_before);
        wait_events(f, NS_B, "Service", "a",
                    "Normal ClearAssignment a current IP for \"" NS_B "/a\" not allowed by config, will attempt for new "
                    "IP assignment: [\"203.0.113.9\"] is not allowed in config\n"
                    "Normal IPAllocated a Assigned IP [\"192.0.2.8\"]\n");
        wait_metric(f, "berth_lbipam_status_ips_rejected_total", NULL, 1);

        /* Another Service's address, copied into c's status: c loses it
         * (the holder keeps it) and gets an address of its own again. */
        f->tolerate_double = true;
        service_patch_status_ip(f, NS_B, "c", "192.0.2.8");
        wait_services(f, NS_B, want_before);
        f->tolerate_double = false;
        check_no_ip_twice(f);
        wait_events(f, NS_B, "Service", "c",
                    "Normal ClearAssignment c current IP for \"" NS_B "/c\" not allowed by config, will attempt for new "
                    "IP assignment: can't change sharing key for \"" NS_B "/c\", address also in use by " NS_B "/a\n"
                    "Normal IPAllocated c Assigned IP [\"192.0.2.9\"]\n");
        wait_metric(f, "berth_lbipam_status_ips_rejected_total", NULL, 2);
        stays_equal(f, observe_services, NS_B, NULL, NULL, want_before, "Services");
}

/* ---- c: a pool shrunk while full, a pool deleted (§9, §13.8) ---------------------- */

#define NS_C "lb-c"

static void test_pool_shrink_and_delete(void **state) {
        Fixture *f = *state;
        ItestBuffer want = {};
        _cleanup_free_ char *want_final = NULL;

        if (f->skip)
                skip();
        berth_ensure(f);
        namespace_create(f, NS_C);
        /* both pinned to lb-c with priority 0: c-pool first by name (§7.1) */
        pool_create_for(f, "c-pool", NS_C, "[\"192.0.2.32/29\"]", 8);
        pool_create_for(f, "c-spare", NS_C, "[\"192.0.2.48/30\"]", 4);
        for (int i = 0; i < 8; i++) {
                _cleanup_free_ char *name = fmt("c%d", i), *line = NULL;
                service_create(f, NS_C, name, NULL);
                line = fmt("%s 192.0.2.%d c-pool True Allocated IP [\"192.0.2.%d\"] from pool \"c-pool\"\n", name, 32 + i,
                           32 + i);
                assert_int_equal(itest_buffer_write(line, 1, strlen(line), &want), strlen(line));
                /* one at a time: each takes the next address */
                wait_services(f, NS_C, want.data);
        }
        free(want.data);
        wait_pool_counters(f, "c-pool", "8 0 0 0");
        wait_pool_counters(f, "c-spare", "0 4 0 0");

        /* Shrink the full pool to its first half: c4..c7 lose their IPs,
         * are told why, and move to c-spare in creation order. */
        pool_patch(f, "c-pool", "{\"spec\":{\"addresses\":[\"192.0.2.32/30\"]}}");
        wait_services(f, NS_C,
                      "c0 192.0.2.32 c-pool True Allocated IP [\"192.0.2.32\"] from pool \"c-pool\"\n"
                      "c1 192.0.2.33 c-pool True Allocated IP [\"192.0.2.33\"] from pool \"c-pool\"\n"
                      "c2 192.0.2.34 c-pool True Allocated IP [\"192.0.2.34\"] from pool \"c-pool\"\n"
                      "c3 192.0.2.35 c-pool True Allocated IP [\"192.0.2.35\"] from pool \"c-pool\"\n"
                      "c4 192.0.2.48 c-spare True Allocated IP [\"192.0.2.48\"] from pool \"c-spare\"\n"
                      "c5 192.0.2.49 c-spare True Allocated IP [\"192.0.2.49\"] from pool \"c-spare\"\n"
                      "c6 192.0.2.50 c-spare True Allocated IP [\"192.0.2.50\"] from pool \"c-spare\"\n"
                      "c7 192.0.2.51 c-spare True Allocated IP [\"192.0.2.51\"] from pool \"c-spare\"\n");
        wait_events(f, CONFIG_NS, "IPAddressPool", "c-pool",
                    "Warning AllocationsDropped c-pool pool c-pool change releases IPs in use by: " NS_C
                    "/c4 (192.0.2.36), " NS_C "/c5 (192.0.2.37), " NS_C "/c6 (192.0.2.38), " NS_C "/c7 (192.0.2.39)\n");
        wait_events(f, NS_C, "Service", "c4",
                    "Normal ClearAssignment c4 current IP for \"" NS_C "/c4\" not allowed by config, will attempt for "
                    "new IP assignment: [\"192.0.2.36\"] is not allowed in config\n"
                    "Normal IPAllocated c4 Assigned IP [\"192.0.2.36\"]\n"
                    "Normal IPAllocated c4 Assigned IP [\"192.0.2.48\"]\n");
        wait_metric(f, "berth_lbipam_allocations_dropped_total", "pool=\"c-pool\"", 4);
        wait_pool_counters(f, "c-pool", "4 0 0 0");
        wait_pool_counters(f, "c-spare", "4 0 0 0");

        /* Delete c-spare while in use: its holders go pending (c-pool is
         * full, so PoolExhausted), its metric series go away. */
        pool_delete(f, "c-spare");
        wait_services(f, NS_C,
                      "c0 192.0.2.32 c-pool True Allocated IP [\"192.0.2.32\"] from pool \"c-pool\"\n"
                      "c1 192.0.2.33 c-pool True Allocated IP [\"192.0.2.33\"] from pool \"c-pool\"\n"
                      "c2 192.0.2.34 c-pool True Allocated IP [\"192.0.2.34\"] from pool \"c-pool\"\n"
                      "c3 192.0.2.35 c-pool True Allocated IP [\"192.0.2.35\"] from pool \"c-pool\"\n"
                      "c4 - - False PoolExhausted no available IPs\n"
                      "c5 - - False PoolExhausted no available IPs\n"
                      "c6 - - False PoolExhausted no available IPs\n"
                      "c7 - - False PoolExhausted no available IPs\n");
        wait_events(f, CONFIG_NS, "IPAddressPool", "c-spare",
                    "Warning AllocationsDropped c-spare pool c-spare deleted while IPs were in use by: " NS_C
                    "/c4 (192.0.2.48), " NS_C "/c5 (192.0.2.49), " NS_C "/c6 (192.0.2.50), " NS_C "/c7 (192.0.2.51)\n");
        wait_events(f, NS_C, "Service", "c7",
                    "Normal ClearAssignment c7 current IP for \"" NS_C "/c7\" not allowed by config, will attempt for "
                    "new IP assignment: [\"192.0.2.39\"] is not allowed in config\n"
                    "Normal ClearAssignment c7 current IP for \"" NS_C "/c7\" not allowed by config, will attempt for "
                    "new IP assignment: [\"192.0.2.51\"] is not allowed in config\n"
                    "Normal IPAllocated c7 Assigned IP [\"192.0.2.39\"]\n"
                    "Normal IPAllocated c7 Assigned IP [\"192.0.2.51\"]\n"
                    "Warning AllocationFailed c7 Failed to allocate IP for \"" NS_C "/c7\": no available IPs\n");
        wait_metric(f, "berth_lbipam_services_pending", "reason=\"PoolExhausted\"", 4);
        wait_metric(f, "metallb_allocator_addresses_total", "pool=\"c-spare\"", 0);
        wait_pool_counters(f, "c-pool", "4 0 0 0");

        /* A freed address goes to the oldest pending Service. */
        service_delete(f, NS_C, "c1");
        wait_services(f, NS_C,
                      "c0 192.0.2.32 c-pool True Allocated IP [\"192.0.2.32\"] from pool \"c-pool\"\n"
                      "c2 192.0.2.34 c-pool True Allocated IP [\"192.0.2.34\"] from pool \"c-pool\"\n"
                      "c3 192.0.2.35 c-pool True Allocated IP [\"192.0.2.35\"] from pool \"c-pool\"\n"
                      "c4 192.0.2.33 c-pool True Allocated IP [\"192.0.2.33\"] from pool \"c-pool\"\n"
                      "c5 - - False PoolExhausted no available IPs\n"
                      "c6 - - False PoolExhausted no available IPs\n"
                      "c7 - - False PoolExhausted no available IPs\n");

        /* Clean up: Services first, so the pool's deletion drops nothing. */
        for (int i = 0; i < 8; i++)
                if (i != 1) {
                        _cleanup_free_ char *name = fmt("c%d", i);
                        service_delete(f, NS_C, name);
                }
        wait_services(f, NS_C, "");
        wait_pool_counters(f, "c-pool", "0 4 0 0");
        pool_delete(f, "c-pool");
        want_final = berth_events(f, CONFIG_NS, "IPAddressPool", "c-pool");
        stays_equal(f, observe_events, CONFIG_NS, "IPAddressPool", "c-pool", want_final, "berth's events");
        wait_metric(f, "berth_lbipam_services_pending", NULL, 0);
}

/* ---- d: SIGKILL and restart with pending Services (X6, §13.2) -------------------- */

#define NS_D "lb-d"

static void test_restart_keeps_ips(void **state) {
        Fixture *f = *state;
        static const char want_held[] =
                "d1 192.0.2.64 d-pool True Allocated IP [\"192.0.2.64\"] from pool \"d-pool\"\n"
                "d2 192.0.2.65 d-pool True Allocated IP [\"192.0.2.65\"] from pool \"d-pool\"\n"
                "d3 - - False PoolExhausted no available IPs\n"
                "d4 - - False PoolExhausted no available IPs\n";
        static const char want_after[] =
                "d2 192.0.2.65 d-pool True Allocated IP [\"192.0.2.65\"] from pool \"d-pool\"\n"
                "d3 192.0.2.64 d-pool True Allocated IP [\"192.0.2.64\"] from pool \"d-pool\"\n"
                "d4 - - False PoolExhausted no available IPs\n"
                "d5 - - False PoolExhausted no available IPs\n";

        if (f->skip)
                skip();
        berth_ensure(f);
        namespace_create(f, NS_D);
        pool_create_for(f, "d-pool", NS_D, "[\"192.0.2.64/31\"]", 2);
        service_create(f, NS_D, "d1", NULL);
        wait_services(f, NS_D, "d1 192.0.2.64 d-pool True Allocated IP [\"192.0.2.64\"] from pool \"d-pool\"\n");
        service_create(f, NS_D, "d2", NULL);
        service_create(f, NS_D, "d3", NULL);
        service_create(f, NS_D, "d4", NULL);
        wait_services(f, NS_D, want_held);

        /* A crash with nothing changed: holders keep, pending stay pending. */
        assert_int_equal(itest_berth_kill(f->berth), 0);
        assert_int_equal(itest_berth_restart(f->env, f->berth), 0);
        wait_metric(f, "metallb_k8s_client_config_loaded_bool", NULL, 1);
        wait_metric(f, "berth_lbipam_services_pending", "reason=\"PoolExhausted\"", 2);
        stays_equal(f, observe_services, NS_D, NULL, NULL, want_held, "Services");

        /* A crash, then changes while nobody runs: d1 goes away, d5 comes.
         * The holder d2 keeps .65; the oldest pending, d3, takes .64. */
        assert_int_equal(itest_berth_kill(f->berth), 0);
        service_delete(f, NS_D, "d1");
        sleep(1); /* d5 is younger than d3 and d4 by creationTimestamp */
        service_create(f, NS_D, "d5", NULL);
        assert_int_equal(itest_berth_restart(f->env, f->berth), 0);
        wait_services(f, NS_D, want_after);
        stays_equal(f, observe_services, NS_D, NULL, NULL, want_after, "Services");
        wait_pool_counters(f, "d-pool", "2 0 0 0");
}

/* ---- f: an invalid configuration (§3) -------------------------------------------- */

static void test_invalid_config(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *before = NULL;

        if (f->skip)
                skip();
        berth_ensure(f);
        before = services_summary(f, NS_A);
        wait_metric(f, "metallb_k8s_client_config_stale_bool", NULL, 0);

        /* "f-bad" sorts after "a-pool": its CIDR is the later one. */
        pool_create(f, "f-bad", "{\"addresses\":[\"192.0.2.2/32\"]}");
        wait_events(f, CONFIG_NS, "IPAddressPool", "f-bad",
                    "Warning ConfigInvalid f-bad CIDR \"192.0.2.2/32\" in pool \"f-bad\" overlaps with already defined "
                    "CIDR \"192.0.2.0/30\"\n");
        wait_metric(f, "metallb_k8s_client_config_stale_bool", NULL, 1);
        wait_metric(f, "metallb_k8s_client_config_loaded_bool", NULL, 1);
        stays_equal(f, observe_services, NS_A, NULL, NULL, before, "Services");
        _cleanup_free_ char *a_events = berth_events(f, CONFIG_NS, "IPAddressPool", "a-pool");
        assert_string_equal(a_events, "");

        /* Fixed: the configuration is valid again; nothing moved. */
        pool_delete(f, "f-bad");
        wait_metric(f, "metallb_k8s_client_config_stale_bool", NULL, 0);
        stays_equal(f, observe_services, NS_A, NULL, NULL, before, "Services");
}

/* ---- g: another loadBalancerClass (§4) -------------------------------------------- */

#define NS_G "lb-g"

static void test_other_class_untouched(void **state) {
        Fixture *f = *state;
        static const char want[] =
                "g1 - - - - -\n"
                "g2 192.0.2.96 g-pool True Allocated IP [\"192.0.2.96\"] from pool \"g-pool\"\n";
        static const char want_patched[] =
                "g1 203.0.113.7 - - - -\n"
                "g2 192.0.2.96 g-pool True Allocated IP [\"192.0.2.96\"] from pool \"g-pool\"\n";

        if (f->skip)
                skip();
        berth_ensure(f);
        namespace_create(f, NS_G);
        pool_create_for(f, "g-pool", NS_G, "[\"192.0.2.96/30\"]", 4);
        service_create(f, NS_G, "g1", ",\"loadBalancerClass\":\"example.com/other-lb\"");
        /* g2 after g1: processed later, so g1 had its chance */
        service_create(f, NS_G, "g2", NULL);
        wait_services(f, NS_G, want);
        stays_equal(f, observe_services, NS_G, NULL, NULL, want, "Services");
        /* not cleared either: another implementation's IP is its own business */
        service_patch_status_ip(f, NS_G, "g1", "203.0.113.7");
        stays_equal(f, observe_services, NS_G, NULL, NULL, want_patched, "Services");
        _cleanup_free_ char *events = berth_events(f, NS_G, "Service", "g1");
        assert_string_equal(events, "");
        wait_pool_counters(f, "g-pool", "1 3 0 0");
}

/* ---- e: two replicas, one leader (§13.3) ----------------------------------------- */

#define NS_E "lb-e"
#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/" CONFIG_NS "/leases/berth-controller"

static ITestBerth *replica_start(Fixture *f, const char *pod_name) {
        static const char *const args[] = {
                "--controllers=lbipam",
                "--leader-elect=true",
                LEASE_DURATION_FLAG,
                "--leader-elect-renew-deadline=2s",
                RETRY_PERIOD_FLAG,
                NULL,
        };
        ITestBerth *b = NULL;

        /* holderIdentity and reportingInstance = $POD_NAME (§13.3) */
        assert_int_equal(setenv("POD_NAME", pod_name, 1), 0);
        assert_int_equal(itest_berth_start(f->env, args, &b), 0);
        assert_int_equal(unsetenv("POD_NAME"), 0);
        return b;
}

static char *lease_holder(Fixture *f) {
        _cleanup_free_ char *body = NULL;
        long code = api_code(f, "GET", LEASE_PATH, NULL, &body);

        if (code != 200)
                return fmt("%s", "-");
        _cleanup_(json_doc_freep) JsonDoc *doc = parse(body);
        return fmt("%s", json_get_string(json_get(json_doc_root(doc), "spec"), "holderIdentity") ?: "-");
}

static void test_leader_election(void **state) {
        Fixture *f = *state;
        ITestBerth *r1, *r2;
        usec_t killed, took_over = 0;

        if (f->skip)
                skip();
        /* the single replica of the earlier cases runs without election */
        f->berth = itest_berth_free(f->berth, 0);

        namespace_create(f, NS_E);
        pool_create_for(f, "e-pool", NS_E, "[\"192.0.2.80/30\"]", -1);
        /* both owned by the fixture, so a failure stops them too */
        r1 = f->berth = replica_start(f, "replica-1");
        wait_metric_on(r1, "berth_controller_leader", NULL, 1);
        r2 = f->standby = replica_start(f, "replica-2");
        {
                _cleanup_free_ char *holder = lease_holder(f);
                assert_string_equal(holder, "replica-1");
        }

        service_create(f, NS_E, "e1", NULL);
        f->instance = "replica-1";
        wait_services(f, NS_E, "e1 192.0.2.80 e-pool True Allocated IP [\"192.0.2.80\"] from pool \"e-pool\"\n");
        wait_events(f, NS_E, "Service", NULL, "Normal IPAllocated e1 Assigned IP [\"192.0.2.80\"]\n");
        /* the standby is ready, synced, and quiet */
        wait_metric_on(r2, "berth_controller_leader", NULL, 0);
        {
                long code = 0;
                assert_int_equal(itest_berth_http_get(r2, "/readyz", &code, NULL), 0);
                assert_int_equal(code, 200);
        }

        /* SIGKILL of the leader: the standby takes over within lease
         * duration + 2 × retry period, and allocates a new Service. */
        assert_int_equal(itest_berth_kill(r1), 0);
        killed = now_usec(CLOCK_MONOTONIC);
        service_create(f, NS_E, "e2", NULL);
        for (usec_t end = killed + 30 * USEC_PER_SEC; now_usec(CLOCK_MONOTONIC) < end;) {
                _cleanup_free_ char *holder = lease_holder(f);
                if (streq(holder, "replica-2")) {
                        took_over = now_usec(CLOCK_MONOTONIC);
                        break;
                }
                usleep(50 * USEC_PER_MSEC);
        }
        assert_true(took_over > 0);
        printf("lbipam_takeover_after_sigkill: %llu ms\n",
               (unsigned long long) ((took_over - killed) / USEC_PER_MSEC));
        assert_true(took_over - killed <= LEASE_DURATION_S * USEC_PER_SEC + 2 * RETRY_PERIOD_MS * USEC_PER_MSEC +
                                                   TAKEOVER_SLACK);
        /* from here on, logs on failure are the new leader's */
        f->berth = r2;
        f->standby = r1;
        f->instance = NULL;
        wait_services(f, NS_E,
                      "e1 192.0.2.80 e-pool True Allocated IP [\"192.0.2.80\"] from pool \"e-pool\"\n"
                      "e2 192.0.2.81 e-pool True Allocated IP [\"192.0.2.81\"] from pool \"e-pool\"\n");
        wait_metric_on(r2, "berth_controller_leader", NULL, 1);
        {
                /* e1's event came from the first leader, e2's from the second */
                f->instance = "replica-1";
                _cleanup_free_ char *e1 = berth_events(f, NS_E, "Service", "e1");
                f->instance = "replica-2";
                _cleanup_free_ char *e2 = berth_events(f, NS_E, "Service", "e2");
                f->instance = NULL;
                assert_string_equal(e1, "Normal IPAllocated e1 Assigned IP [\"192.0.2.80\"]\n");
                assert_string_equal(e2, "Normal IPAllocated e2 Assigned IP [\"192.0.2.81\"]\n");
        }
        stays_equal(f, observe_services, NS_E, NULL, NULL,
                    "e1 192.0.2.80 e-pool True Allocated IP [\"192.0.2.80\"] from pool \"e-pool\"\n"
                    "e2 192.0.2.81 e-pool True Allocated IP [\"192.0.2.81\"] from pool \"e-pool\"\n",
                    "Services");
        /* the other namespaces are as they were: the new leader's first pass moved nothing */
        wait_services(f, NS_B,
                      "a 192.0.2.8 b-pool True Allocated IP [\"192.0.2.8\"] from pool \"b-pool\"\n"
                      "c 192.0.2.9 b-pool True Allocated IP [\"192.0.2.9\"] from pool \"b-pool\"\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crds_enforced),
                cmocka_unit_test(test_allocate),
                cmocka_unit_test(test_foreign_status_ip),
                cmocka_unit_test(test_pool_shrink_and_delete),
                cmocka_unit_test(test_restart_keeps_ips),
                cmocka_unit_test(test_invalid_config),
                cmocka_unit_test(test_other_class_untouched),
                cmocka_unit_test(test_leader_election),
        };

        if (getenv("BERTH_ITEST_FILTER"))
                cmocka_set_test_filter(getenv("BERTH_ITEST_FILTER"));
        return cmocka_run_group_tests(tests, setup, teardown);
}
