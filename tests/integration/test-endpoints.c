/* SPDX-License-Identifier: Apache-2.0 */
/* The endpoints and endpointslice controllers (spec/endpoints.md) as a
 * real berth-controller process against the real kube-apiserver.  The test
 * plays kubelet: it creates Pods and writes their status (IPs, Ready,
 * deletionTimestamp through a graceful delete held by a finalizer), and it
 * reads back the Endpoints and EndpointSlices the server stores — what
 * kube-proxy, DNS and every other reader actually get.
 *
 * Each test works in a namespace of its own; one berth-controller serves
 * them all (restarted by test_restart_mid_way).  The controller is skipped
 * (not failed) while controllers/registry.c has no init function for it. */

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

#define CONVERGE_TIMEOUT (60 * USEC_PER_SEC)
#define POLL_INTERVAL (100 * USEC_PER_MSEC)
/* Long enough for a wrong late write (a stale cache, a requeue with
 * backoff) to land; short enough for CI. */
#define SETTLE (3 * USEC_PER_SEC)
#define IDLE_WINDOW (10 * USEC_PER_SEC)

#define EP_MANAGED_BY "endpoints.kubernetes.io/managed-by"
#define EP_MANAGED_BY_BERTH "endpoint-controller.berth.io"
#define SLICE_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define SLICE_MANAGED_BY_BERTH "endpointslice-controller.berth.io"
#define OVER_CAPACITY "endpoints.kubernetes.io/over-capacity"
#define ZONE_LABEL "topology.kubernetes.io/zone"
#define TEST_FINALIZER "test.berth.io/hold"

typedef struct Fixture {
        ITestEnv *env;
        ITestApi *api;
        ITestBerth *berth;
        char *nodes[3];
        bool failed;
} Fixture;

/* ---- small helpers -------------------------------------------------------- */

#define fmt itest_fmt

static JsonDoc *parse(const char *body) {
        JsonDoc *doc = itest_parse_json(body);
        if (!doc)
                fail();
        return doc;
}

/* GET path; NULL on 404. */
static JsonDoc *get_json(Fixture *f, const char *path) {
        _cleanup_free_ char *body = NULL;
        long code = 0;

        assert_int_equal(itest_api_call(f->api, "GET", path, NULL, NULL, &code, &body), 0);
        if (code == 404)
                return NULL;
        if (code != 200) {
                fprintf(stderr, "GET %s: HTTP %ld: %s\n", path, code, body);
                fail();
        }
        return parse(body);
}

static void api_ok(Fixture *f, const char *method, const char *path, const char *content_type, const char *body) {
        assert_int_equal(itest_api_call_ok(f->api, method, path, content_type, body, NULL), 0);
}

static void merge_patch(Fixture *f, const char *path, const char *body) {
        api_ok(f, "PATCH", path, "application/merge-patch+json", body);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A growable list of tokens, joined sorted: order-insensitive summaries. */
typedef struct Tokens {
        char **v;
        size_t n, cap;
} Tokens;

static void tokens_add(Tokens *t, char *owned) {
        assert_non_null(owned);
        if (t->n == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 16;
                t->v = realloc(t->v, t->cap * sizeof(char *));
                assert_non_null(t->v);
        }
        t->v[t->n++] = owned;
}

static char *tokens_join(Tokens *t) {
        size_t len = 1;
        char *s, *p;

        qsort(t->v, t->n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < t->n; i++)
                len += strlen(t->v[i]) + 2;
        s = p = malloc(len);
        assert_non_null(s);
        *p = 0;
        for (size_t i = 0; i < t->n; i++) {
                p = stpcpy(p, t->v[i]);
                if (i + 1 < t->n)
                        p = stpcpy(p, "; ");
                free(t->v[i]);
        }
        free(t->v);
        *t = (Tokens) {};
        return s;
}

/* expected("a", "b"): the tokens sorted and joined like a summary; the
 * macro adds the typed terminator. */
static char *expected_internal(const char *first, ...) __attribute__((sentinel));
#define expected(...) expected_internal(__VA_ARGS__, (const char *) NULL)
static char *expected_internal(const char *first, ...) {
        Tokens t = {};
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                tokens_add(&t, strdup(s));
        va_end(ap);
        return tokens_join(&t);
}

static const char *label_of(const JsonValue *obj, const char *key) {
        return json_get_string(json_get_path(obj, "metadata", "labels"), key);
}

/* ---- what the server holds, as comparable text ---------------------------- */

/* "name:port/PROTO" */
static char *port_text(const JsonValue *p) {
        int64_t port = 0;
        (void) json_int64(json_get(p, "port"), &port);
        return fmt("%s:%lld/%s", strempty(json_get_string(p, "name")), (long long) port,
                   strempty(json_get_string(p, "protocol")));
}

/* Endpoints ns/name as sorted tokens "R|N ip port" (one per address and
 * port; "R|N ip" for a subset without ports); "none" when absent. */
static char *endpoints_summary(Fixture *f, const char *ns, const char *name, JsonDoc **ret_doc) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/endpoints/%s", ns, name);
        JsonDoc *doc = get_json(f, path);
        const JsonValue *subset, *addr, *port;
        Tokens t = {};

        if (ret_doc)
                *ret_doc = doc;
        if (!doc)
                return strdup("none");
        JSON_ARRAY_FOREACH(subset, json_get_path(json_doc_root(doc), "subsets")) {
                const JsonValue *ports = json_get(subset, "ports");
                for (int ready = 1; ready >= 0; ready--) {
                        JSON_ARRAY_FOREACH(addr, json_get(subset, ready ? "addresses" : "notReadyAddresses")) {
                                const char *ip = json_get_string(addr, "ip");
                                if (json_array_len(ports) == 0)
                                        tokens_add(&t, fmt("%s %s", ready ? "R" : "N", ip));
                                JSON_ARRAY_FOREACH(port, ports) {
                                        _cleanup_free_ char *pt = port_text(port);
                                        tokens_add(&t, fmt("%s %s %s", ready ? "R" : "N", ip, pt));
                                }
                        }
                }
        }
        if (!ret_doc)
                json_doc_free(doc);
        return tokens_join(&t);
}

static char *slices_path(const char *ns, const char *svc) {
        return fmt("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=kubernetes.io%%2Fservice-name%%3D%s",
                   ns, svc);
}

static const char *cond(const JsonValue *ep, const char *key) {
        bool b;
        if (json_bool(json_get_path(ep, "conditions", key), &b) < 0)
                return "?";
        return b ? "1" : "0";
}

/* The slices of Service ns/svc as sorted tokens
 * "TYPE ip rX sX tX [ports]" (one per address), "TYPE placeholder [ports]"
 * for a slice without endpoints. */
static char *slices_summary(Fixture *f, const char *ns, const char *svc, size_t *ret_n_slices, JsonDoc **ret_doc) {
        _cleanup_free_ char *path = slices_path(ns, svc);
        JsonDoc *doc = get_json(f, path);
        const JsonValue *slice, *ep, *addr, *port;
        Tokens t = {};

        assert_non_null(doc);
        JSON_ARRAY_FOREACH(slice, json_get(json_doc_root(doc), "items")) {
                const char *type = json_get_string(slice, "addressType");
                Tokens pt = {};
                _cleanup_free_ char *ports = NULL;

                JSON_ARRAY_FOREACH(port, json_get(slice, "ports"))
                        tokens_add(&pt, port_text(port));
                ports = tokens_join(&pt);
                if (json_array_len(json_get(slice, "endpoints")) == 0)
                        tokens_add(&t, fmt("%s placeholder [%s]", type, ports));
                JSON_ARRAY_FOREACH(ep, json_get(slice, "endpoints"))
                        JSON_ARRAY_FOREACH(addr, json_get(ep, "addresses"))
                                tokens_add(&t, fmt("%s %s r%ss%st%s [%s]", type, json_string(addr),
                                                   cond(ep, "ready"), cond(ep, "serving"), cond(ep, "terminating"),
                                                   ports));
        }
        if (ret_n_slices)
                *ret_n_slices = json_array_len(json_get(json_doc_root(doc), "items"));
        if (ret_doc)
                *ret_doc = doc;
        else
                json_doc_free(doc);
        return tokens_join(&t);
}

typedef enum Kind { KIND_ENDPOINTS, KIND_SLICES } Kind;

static char *summary(Fixture *f, Kind kind, const char *ns, const char *name) {
        return kind == KIND_ENDPOINTS ? endpoints_summary(f, ns, name, NULL) : slices_summary(f, ns, name, NULL, NULL);
}

/* Polls until the summary equals one of the NULL-terminated wanted texts;
 * fails the test with both texts otherwise.  Returns the index matched. */
static size_t wait_summary_any(Fixture *f, Kind kind, const char *ns, const char *name, const char *const *wanted) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        _cleanup_free_ char *last = NULL;

        for (;;) {
                free(last);
                last = summary(f, kind, ns, name);
                for (size_t i = 0; wanted[i]; i++)
                        if (streq(last, wanted[i]))
                                return i;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(POLL_INTERVAL);
        }
        fprintf(stderr, "%s of %s/%s did not converge.\n  got:  %s\n",
                kind == KIND_ENDPOINTS ? "Endpoints" : "EndpointSlices", ns, name, last);
        for (size_t i = 0; wanted[i]; i++)
                fprintf(stderr, "  want: %s\n", wanted[i]);
        itest_berth_print_log(f->berth, 25);
        f->failed = true;
        fail();
        return 0;
}

static void wait_summary(Fixture *f, Kind kind, const char *ns, const char *name, const char *wanted) {
        const char *const w[] = { wanted, NULL };
        (void) wait_summary_any(f, kind, ns, name, w);
}

/* Waits for the state, then checks it is still there after SETTLE: no late
 * write (stale cache, retry) undoes it. */
static void wait_stable(Fixture *f, Kind kind, const char *ns, const char *name, const char *wanted) {
        _cleanup_free_ char *again = NULL;

        wait_summary(f, kind, ns, name, wanted);
        usleep(SETTLE);
        again = summary(f, kind, ns, name);
        if (!streq(again, wanted)) {
                fprintf(stderr, "%s/%s changed after converging:\n  got:  %s\n  want: %s\n", ns, name, again, wanted);
                f->failed = true;
                fail();
        }
}

/* ---- objects the test writes --------------------------------------------- */

static char *namespace_new(Fixture *f, const char *prefix) {
        char *ns = itest_unique_name(f->env, prefix);
        _cleanup_free_ char *body = NULL;

        assert_non_null(ns);
        body = fmt("{\"metadata\":{\"name\":\"%s\"}}", ns);
        api_ok(f, "POST", "/api/v1/namespaces", NULL, body);
        return ns;
}

/* spec: the JSON of .spec */
static char *service_create(Fixture *f, const char *ns, const char *name, const char *spec) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services", ns), *body = NULL, *resp = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;

        body = fmt("{\"metadata\":{\"name\":\"%s\",\"labels\":{\"team\":\"t1\"}},\"spec\":%s}", name, spec);
        assert_int_equal(itest_api_call_ok(f->api, "POST", path, NULL, body, &resp), 0);
        doc = parse(resp);
        return strdup(json_get_string(json_get(json_doc_root(doc), "metadata"), "uid"));
}

#define PORTS_8080 "[{\"name\":\"c\",\"image\":\"registry.invalid/app\",\"ports\":[{\"name\":\"web\",\"containerPort\":8080}]}]"

/* A pod on one of the fixture's nodes; containers: JSON array (NULL = one
 * container with port web=8080); finalizer: hold deletion. */
static void pod_create_full(Fixture *f, const char *ns, const char *name, const char *labels, const char *containers,
                            bool finalizer) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods", ns), *body = NULL;
        static unsigned node;

        body = fmt("{\"metadata\":{\"name\":\"%s\",\"labels\":%s%s},"
                   "\"spec\":{\"nodeName\":\"%s\",\"containers\":%s}}",
                   name, labels, finalizer ? ",\"finalizers\":[\"" TEST_FINALIZER "\"]" : "",
                   f->nodes[node++ % ELEMENTSOF(f->nodes)], containers ? containers : PORTS_8080);
        api_ok(f, "POST", path, NULL, body);
}

/* What a kubelet writes: phase, IPs and the Ready condition. */
static void pod_status(Fixture *f, const char *ns, const char *name, const char *ip, bool ready) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods/%s/status", ns, name), *body = NULL;
        _cleanup_free_ char *ips = ip ? fmt("\"podIP\":\"%s\",\"podIPs\":[{\"ip\":\"%s\"}],", ip, ip) : strdup("");

        body = fmt("{\"status\":{\"phase\":\"Running\",%s\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}", ips,
                   ready ? "True" : "False");
        merge_patch(f, path, body);
}

static void pod_create(Fixture *f, const char *ns, const char *name, const char *labels, const char *ip, bool ready) {
        pod_create_full(f, ns, name, labels, NULL, false);
        pod_status(f, ns, name, ip, ready);
}

static void pod_delete_now(Fixture *f, const char *ns, const char *name) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods/%s", ns, name);
        api_ok(f, "DELETE", path, NULL, "{\"gracePeriodSeconds\":0}");
}

/* ---- fixture ---------------------------------------------------------------- */

/* BERTH_ITEST_FORCE=1 runs the tests anyway (a binary given in
 * $BERTH_CONTROLLER, or to see the harness work). */
static bool controllers_built(void) {
        bool eps = false, slices = false;

        if (getenv("BERTH_ITEST_FORCE"))
                return true;

        for (const ControllerRegistration *r = controller_registry; r->name; r++) {
                if (streq(r->name, "endpoints"))
                        eps = r->init != NULL;
                else if (streq(r->name, "endpointslice"))
                        slices = r->init != NULL;
        }
        return eps && slices;
}

static const char *const berth_args[] = {
        "--controllers=endpoints,endpointslice", "--namespace=default", NULL,
};

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || itest_api_client_new(f->env, &f->api) < 0)
                return -1;
        *state = f;
        if (!controllers_built())
                return 0;
        /* Slices skip pods whose Node is unknown (spec §5.2): give the pods
         * real Nodes, each in a zone. */
        for (size_t i = 0; i < ELEMENTSOF(f->nodes); i++) {
                _cleanup_free_ char *body = NULL;
                f->nodes[i] = fmt("ep-node-%ld-%zu", (long) getpid(), i);
                body = fmt("{\"metadata\":{\"name\":\"%s\",\"labels\":{\"" ZONE_LABEL "\":\"zone-%c\"}}}", f->nodes[i],
                           (char) ('a' + i));
                if (itest_api_call_ok(f->api, "POST", "/api/v1/nodes", NULL, body, NULL) < 0)
                        return -1;
        }
        if (itest_berth_start(f->env, berth_args, &f->berth) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (f->berth) {
                int r = itest_berth_stop(f->berth);
                if (r != 0) {
                        fprintf(stderr, "berth-controller did not exit cleanly on SIGTERM (%d)\n", r);
                        f->failed = true;
                }
        }
        itest_berth_free(f->berth, f->failed ? 40 : 0);
        for (size_t i = 0; i < ELEMENTSOF(f->nodes); i++) {
                if (f->nodes[i]) {
                        _cleanup_free_ char *path = fmt("/api/v1/nodes/%s", f->nodes[i]);
                        (void) itest_api_call(f->api, "DELETE", path, NULL, NULL, NULL, NULL);
                }
                free(f->nodes[i]);
        }
        itest_api_client_free(f->api);
        itest_env_free(f->env);
        free(f);
        return 0;
}

static int test_setup(void **state) {
        Fixture *f = *state;

        if (!controllers_built()) {
                fprintf(stderr, "endpoints/endpointslice controllers are not registered yet (controllers/registry.c)\n");
                skip();
        }
        if (!f->berth || f->berth->pid <= 0) {
                fprintf(stderr, "berth-controller is not running\n");
                return -1;
        }
        return 0;
}

/* ---- tests ------------------------------------------------------------------ */

/* Ready and not-ready pods behind a selector Service: Endpoints splits
 * them, slices carry the conditions, labels and owner of spec §6.4/§7;
 * pods of other labels and namespaces are not included. */
static void test_basic_selector(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-basic"), *other = namespace_new(f, "ep-other");
        _cleanup_free_ char *uid = NULL, *want_ep = NULL, *want_sl = NULL, *s = NULL;
        _cleanup_(json_doc_freep) JsonDoc *ep_doc = NULL, *sl_doc = NULL;
        const JsonValue *ep, *slice, *item, *owner;
        size_t n_slices = 0;

        uid = service_create(f, ns, "web", "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        pod_create(f, ns, "web-1", "{\"app\":\"web\"}", "10.1.0.1", true);
        pod_create(f, ns, "web-2", "{\"app\":\"web\"}", "10.1.0.2", true);
        pod_create(f, ns, "web-3", "{\"app\":\"web\"}", "10.1.0.3", false);
        pod_create(f, ns, "api-1", "{\"app\":\"api\"}", "10.1.0.4", true);
        pod_create(f, other, "web-1", "{\"app\":\"web\"}", "10.1.0.5", true);

        want_ep = expected("R 10.1.0.1 :8080/TCP", "R 10.1.0.2 :8080/TCP", "N 10.1.0.3 :8080/TCP");
        want_sl = expected("IPv4 10.1.0.1 r1s1t0 [:8080/TCP]", "IPv4 10.1.0.2 r1s1t0 [:8080/TCP]",
                           "IPv4 10.1.0.3 r0s0t0 [:8080/TCP]");
        wait_summary(f, KIND_ENDPOINTS, ns, "web", want_ep);
        wait_stable(f, KIND_SLICES, ns, "web", want_sl);

        /* Endpoints: the Service's labels plus managed-by; no owner. */
        free(endpoints_summary(f, ns, "web", &ep_doc));
        ep = json_doc_root(ep_doc);
        assert_string_equal(label_of(ep, EP_MANAGED_BY), EP_MANAGED_BY_BERTH);
        assert_string_equal(label_of(ep, "team"), "t1");
        assert_null(label_of(ep, "service.kubernetes.io/headless"));
        assert_null(json_get_path(ep, "metadata", "ownerReferences"));

        /* One slice, owned by the Service (so the garbage collector removes
         * it with the Service), with berth's labels; endpoints carry the
         * pod's node, zone and a targetRef. */
        s = slices_summary(f, ns, "web", &n_slices, &sl_doc);
        assert_int_equal(n_slices, 1);
        slice = json_array_at(json_get(json_doc_root(sl_doc), "items"), 0);
        assert_string_equal(label_of(slice, SLICE_MANAGED_BY), SLICE_MANAGED_BY_BERTH);
        assert_string_equal(label_of(slice, "kubernetes.io/service-name"), "web");
        assert_string_equal(label_of(slice, "team"), "t1");
        owner = json_array_at(json_get_path(slice, "metadata", "ownerReferences"), 0);
        assert_int_equal(json_array_len(json_get_path(slice, "metadata", "ownerReferences")), 1);
        assert_string_equal(json_get_string(owner, "kind"), "Service");
        assert_string_equal(json_get_string(owner, "name"), "web");
        assert_string_equal(json_get_string(owner, "uid"), uid);
        bool controller = false;
        assert_int_equal(json_bool(json_get(owner, "controller"), &controller), 0);
        assert_true(controller);
        JSON_ARRAY_FOREACH(item, json_get(slice, "endpoints")) {
                const char *pod = json_get_string(json_get(item, "targetRef"), "name");
                assert_non_null(pod);
                assert_true(startswith(pod, "web-"));
                assert_string_equal(json_get_string(json_get(item, "targetRef"), "kind"), "Pod");
                assert_string_equal(json_get_string(json_get(item, "targetRef"), "namespace"), ns);
                assert_non_null(json_get_string(item, "nodeName"));
                assert_true(startswith(json_get_string(item, "zone"), "zone-"));
        }
        /* Not in the other namespace's (Service-less) objects either. */
        _cleanup_free_ char *none = endpoints_summary(f, other, "web", NULL);
        assert_string_equal(none, "none");
}

/* Named target ports resolve per pod (spec §5.3): different numbers per
 * pod split subsets and slices; a port of another protocol does not
 * match; a pod with no resolvable port is left out of Endpoints but kept
 * in a slice with an empty port set. */
static void test_named_ports(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-named"), *uid = NULL, *want_ep = NULL, *want_sl = NULL;

        uid = service_create(f, ns, "app",
                             "{\"selector\":{\"app\":\"a\"},\"ports\":["
                             "{\"name\":\"http\",\"port\":80,\"targetPort\":\"web\"},"
                             "{\"name\":\"metrics\",\"port\":9090,\"targetPort\":\"prom\"}]}");
        pod_create_full(f, ns, "a", "{\"app\":\"a\"}",
                        "[{\"name\":\"c\",\"image\":\"registry.invalid/app\",\"ports\":["
                        "{\"name\":\"web\",\"containerPort\":8080},{\"name\":\"prom\",\"containerPort\":9100}]}]",
                        false);
        pod_status(f, ns, "a", "10.2.0.1", true);
        /* web on the second container; no prom */
        pod_create_full(f, ns, "b", "{\"app\":\"a\"}",
                        "[{\"name\":\"c\",\"image\":\"registry.invalid/app\"},"
                        "{\"name\":\"d\",\"image\":\"registry.invalid/app\",\"ports\":[{\"name\":\"web\",\"containerPort\":8081}]}]",
                        false);
        pod_status(f, ns, "b", "10.2.0.2", true);
        /* "web" only as UDP: the TCP Service port does not resolve */
        pod_create_full(f, ns, "c", "{\"app\":\"a\"}",
                        "[{\"name\":\"c\",\"image\":\"registry.invalid/app\",\"ports\":["
                        "{\"name\":\"web\",\"containerPort\":5353,\"protocol\":\"UDP\"}]}]",
                        false);
        pod_status(f, ns, "c", "10.2.0.3", true);

        want_ep = expected("R 10.2.0.1 http:8080/TCP", "R 10.2.0.1 metrics:9100/TCP", "R 10.2.0.2 http:8081/TCP");
        want_sl = expected("IPv4 10.2.0.1 r1s1t0 [http:8080/TCP; metrics:9100/TCP]",
                           "IPv4 10.2.0.2 r1s1t0 [http:8081/TCP]", "IPv4 10.2.0.3 r1s1t0 []");
        wait_summary(f, KIND_ENDPOINTS, ns, "app", want_ep);
        wait_stable(f, KIND_SLICES, ns, "app", want_sl);
}

/* publishNotReadyAddresses: not-ready pods are published as addresses;
 * in slices ready=true but serving tells the truth. */
static void test_publish_not_ready(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-pnr"), *uid = NULL, *want_ep = NULL, *want_sl = NULL;

        uid = service_create(f, ns, "db",
                             "{\"clusterIP\":\"None\",\"publishNotReadyAddresses\":true,"
                             "\"selector\":{\"app\":\"db\"},\"ports\":[{\"name\":\"pg\",\"port\":5432}]}");
        pod_create(f, ns, "db-0", "{\"app\":\"db\"}", "10.3.0.1", true);
        pod_create(f, ns, "db-1", "{\"app\":\"db\"}", "10.3.0.2", false);

        want_ep = expected("R 10.3.0.1 pg:5432/TCP", "R 10.3.0.2 pg:5432/TCP");
        want_sl = expected("IPv4 10.3.0.1 r1s1t0 [pg:5432/TCP]", "IPv4 10.3.0.2 r1s0t0 [pg:5432/TCP]");
        wait_summary(f, KIND_ENDPOINTS, ns, "db", want_ep);
        wait_stable(f, KIND_SLICES, ns, "db", want_sl);

        /* headless: both kinds carry the headless label */
        _cleanup_(json_doc_freep) JsonDoc *ep_doc = NULL;
        free(endpoints_summary(f, ns, "db", &ep_doc));
        assert_non_null(label_of(json_doc_root(ep_doc), "service.kubernetes.io/headless"));
}

/* A terminating pod (graceful delete held by a finalizer, as while a
 * kubelet drains it): gone from Endpoints, in slices as terminating with
 * serving = its readiness; with publishNotReadyAddresses it stays. */
static void test_terminating(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-term"), *u1 = NULL, *u2 = NULL;
        _cleanup_free_ char *want_ep = NULL, *want_sl = NULL, *want_ep_pnr = NULL, *want_sl_pnr = NULL;
        const char *names[] = { "t-0", "t-1", "t-2" };

        u1 = service_create(f, ns, "svc", "{\"selector\":{\"app\":\"t\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        u2 = service_create(f, ns, "pnr",
                            "{\"publishNotReadyAddresses\":true,\"selector\":{\"app\":\"t\"},"
                            "\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *ip = fmt("10.4.0.%zu", i + 1);
                pod_create_full(f, ns, names[i], "{\"app\":\"t\"}", NULL, true);
                pod_status(f, ns, names[i], ip, i != 2);
        }
        want_ep = expected("R 10.4.0.1 :8080/TCP", "R 10.4.0.2 :8080/TCP", "N 10.4.0.3 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "svc", want_ep);

        /* graceful delete of t-1 (ready) and t-2 (not ready) */
        for (size_t i = 1; i < 3; i++) {
                _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods/%s", ns, names[i]);
                api_ok(f, "DELETE", path, NULL, "{\"gracePeriodSeconds\":30}");
        }
        free(want_ep);
        want_ep = expected("R 10.4.0.1 :8080/TCP");
        want_sl = expected("IPv4 10.4.0.1 r1s1t0 [:8080/TCP]", "IPv4 10.4.0.2 r0s1t1 [:8080/TCP]",
                           "IPv4 10.4.0.3 r0s0t1 [:8080/TCP]");
        want_ep_pnr = expected("R 10.4.0.1 :8080/TCP", "R 10.4.0.2 :8080/TCP", "R 10.4.0.3 :8080/TCP");
        want_sl_pnr = expected("IPv4 10.4.0.1 r1s1t0 [:8080/TCP]", "IPv4 10.4.0.2 r1s1t1 [:8080/TCP]",
                               "IPv4 10.4.0.3 r1s0t1 [:8080/TCP]");
        wait_summary(f, KIND_ENDPOINTS, ns, "svc", want_ep);
        wait_summary(f, KIND_SLICES, ns, "svc", want_sl);
        wait_summary(f, KIND_ENDPOINTS, ns, "pnr", want_ep_pnr);
        wait_stable(f, KIND_SLICES, ns, "pnr", want_sl_pnr);

        /* release: the pods go away, and with them their endpoints */
        for (size_t i = 1; i < 3; i++) {
                _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods/%s", ns, names[i]);
                merge_patch(f, path, "{\"metadata\":{\"finalizers\":null}}");
                pod_delete_now(f, ns, names[i]);
        }
        free(want_sl);
        want_sl = expected("IPv4 10.4.0.1 r1s1t0 [:8080/TCP]");
        wait_summary(f, KIND_SLICES, ns, "svc", want_sl);
        wait_summary(f, KIND_ENDPOINTS, ns, "pnr", want_ep);
        {
                _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods/t-0", ns);
                merge_patch(f, path, "{\"metadata\":{\"finalizers\":null}}");
        }
}

/* A Service relabelled (selector changed), a pod relabelled, a Service
 * switched to ExternalName (its Endpoints left alone, spec §6.7), a
 * Service deleted (its Endpoints deleted by berth; its slices carry the
 * ownerReference the garbage collector needs — envtest runs none). */
static void test_service_lifecycle(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-life"), *u1 = NULL, *u2 = NULL, *want = NULL;
        _cleanup_free_ char *path = NULL, *ep_before = NULL, *sl_before = NULL, *ep_after = NULL, *sl_after = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        const JsonValue *slice;

        u1 = service_create(f, ns, "web", "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        u2 = service_create(f, ns, "gone", "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        pod_create(f, ns, "w-1", "{\"app\":\"web\"}", "10.5.0.1", true);
        pod_create(f, ns, "w-2", "{\"app\":\"web\"}", "10.5.0.2", true);
        pod_create(f, ns, "a-1", "{\"app\":\"api\"}", "10.5.0.3", true);
        want = expected("R 10.5.0.1 :8080/TCP", "R 10.5.0.2 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "web", want);
        wait_summary(f, KIND_ENDPOINTS, ns, "gone", want);
        free(want);
        want = expected("IPv4 10.5.0.1 r1s1t0 [:8080/TCP]", "IPv4 10.5.0.2 r1s1t0 [:8080/TCP]");
        wait_summary(f, KIND_SLICES, ns, "gone", want);

        /* deleted: berth deletes the Endpoints; every slice points at the
         * Service's uid for the garbage collector */
        free(slices_summary(f, ns, "gone", NULL, &doc));
        JSON_ARRAY_FOREACH(slice, json_get(json_doc_root(doc), "items")) {
                const JsonValue *owner = json_array_at(json_get_path(slice, "metadata", "ownerReferences"), 0);
                assert_string_equal(json_get_string(owner, "uid"), u2);
                assert_string_equal(json_get_string(owner, "kind"), "Service");
        }
        path = fmt("/api/v1/namespaces/%s/services/gone", ns);
        api_ok(f, "DELETE", path, NULL, NULL);
        wait_summary(f, KIND_ENDPOINTS, ns, "gone", "none");

        /* selector changed */
        free(path);
        path = fmt("/api/v1/namespaces/%s/services/web", ns);
        merge_patch(f, path, "{\"spec\":{\"selector\":{\"app\":\"api\"}}}");
        free(want);
        want = expected("R 10.5.0.3 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "web", want);
        free(want);
        want = expected("IPv4 10.5.0.3 r1s1t0 [:8080/TCP]");
        wait_summary(f, KIND_SLICES, ns, "web", want);

        /* pod relabelled into the selector */
        free(path);
        path = fmt("/api/v1/namespaces/%s/pods/w-1", ns);
        merge_patch(f, path, "{\"metadata\":{\"labels\":{\"app\":\"api\"}}}");
        free(want);
        want = expected("R 10.5.0.1 :8080/TCP", "R 10.5.0.3 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "web", want);
        free(want);
        want = expected("IPv4 10.5.0.1 r1s1t0 [:8080/TCP]", "IPv4 10.5.0.3 r1s1t0 [:8080/TCP]");
        wait_stable(f, KIND_SLICES, ns, "web", want);

        /* ExternalName: nothing more is written for it */
        free(path);
        path = fmt("/api/v1/namespaces/%s/services/web", ns);
        merge_patch(f, path,
                    "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\",\"clusterIP\":null,"
                    "\"clusterIPs\":null,\"ipFamilies\":null,\"ipFamilyPolicy\":null}}");
        ep_before = endpoints_summary(f, ns, "web", NULL);
        sl_before = slices_summary(f, ns, "web", NULL, NULL);
        pod_status(f, ns, "a-1", "10.5.0.3", false);
        usleep(SETTLE);
        ep_after = endpoints_summary(f, ns, "web", NULL);
        sl_after = slices_summary(f, ns, "web", NULL, NULL);
        assert_string_equal(ep_after, ep_before);
        assert_string_equal(sl_after, sl_before);
}

/* Readiness flapping faster than the controller writes (upstream's
 * stale-informer bug): whatever the interleaving, the last state wins and
 * stays. */
static void test_flapping(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-flap"), *uid = NULL;
        Tokens ep = {}, sl = {};
        _cleanup_free_ char *want_ep = NULL, *want_sl = NULL;
        enum { N = 6, ROUNDS = 4 };

        uid = service_create(f, ns, "f", "{\"selector\":{\"app\":\"f\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        for (int i = 0; i < N; i++) {
                _cleanup_free_ char *name = fmt("f-%d", i), *ip = fmt("10.6.0.%d", i + 1);
                pod_create(f, ns, name, "{\"app\":\"f\"}", ip, true);
        }
        for (int i = 0; i < N; i++)
                tokens_add(&ep, fmt("R 10.6.0.%d :8080/TCP", i + 1));
        want_ep = tokens_join(&ep);
        wait_summary(f, KIND_ENDPOINTS, ns, "f", want_ep);

        /* back to back: ready -> not ready -> ready ...; pods 0-3 end ready,
         * 4-5 end not ready */
        for (int round = 0; round < ROUNDS; round++)
                for (int i = 0; i < N; i++) {
                        _cleanup_free_ char *name = fmt("f-%d", i), *ip = fmt("10.6.0.%d", i + 1);
                        pod_status(f, ns, name, ip, false);
                        pod_status(f, ns, name, ip, true);
                }
        for (int i = 4; i < N; i++) {
                _cleanup_free_ char *name = fmt("f-%d", i), *ip = fmt("10.6.0.%d", i + 1);
                pod_status(f, ns, name, ip, false);
        }
        free(want_ep);
        for (int i = 0; i < N; i++) {
                tokens_add(&ep, fmt("%s 10.6.0.%d :8080/TCP", i < 4 ? "R" : "N", i + 1));
                tokens_add(&sl, fmt("IPv4 10.6.0.%d %s [:8080/TCP]", i + 1, i < 4 ? "r1s1t0" : "r0s0t0"));
        }
        want_ep = tokens_join(&ep);
        want_sl = tokens_join(&sl);
        wait_summary(f, KIND_ENDPOINTS, ns, "f", want_ep);
        wait_stable(f, KIND_SLICES, ns, "f", want_sl);
        wait_stable(f, KIND_ENDPOINTS, ns, "f", want_ep);
}

static bool has_event(Fixture *f, const char *ns, const char *reason, const char *note) {
        _cleanup_free_ char *path = fmt("/apis/events.k8s.io/v1/namespaces/%s/events", ns);
        _cleanup_(json_doc_freep) JsonDoc *doc = get_json(f, path);
        const JsonValue *ev;

        JSON_ARRAY_FOREACH(ev, json_get(json_doc_root(doc), "items"))
                if (streq_ptr(json_get_string(ev, "reason"), reason) && streq_ptr(json_get_string(ev, "note"), note) &&
                    streq_ptr(json_get_string(ev, "type"), "Warning"))
                        return true;
        return false;
}

static void wait_event(Fixture *f, const char *ns, const char *reason, const char *note) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;

        while (!has_event(f, ns, reason, note)) {
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "no Warning event %s \"%s\" in %s\n", reason, note, ns);
                        f->failed = true;
                        fail();
                }
                usleep(POLL_INTERVAL);
        }
}

/* Input the apiserver accepts but Endpoints validation would reject (pod
 * IPs in the loopback, link-local, unspecified and link-local multicast
 * ranges), legacy IP spellings (leading zeros, IPv4-mapped IPv6), a pod of
 * the wrong family, targetPort 0, duplicate container port names: the
 * bad address is dropped with a Warning event naming the pod, everything
 * else of the Service and the namespace's other Services is published. */
static void test_bad_input(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-bad"), *u1 = NULL, *u2 = NULL, *u3 = NULL, *u4 = NULL;
        _cleanup_free_ char *want = NULL, *want_lz = NULL, *note = NULL, *want_sl = NULL, *want_sl_lz = NULL;
        static const struct {
                const char *name, *ip;
        } bad[] = {
                { "loopback", "127.0.0.1" },     { "linklocal", "169.254.3.3" }, { "unspecified", "0.0.0.0" },
                { "mcast", "224.0.0.5" },        { "leading-zero", "010.7.0.7" }, { "mapped", "::ffff:10.7.0.8" },
                { "v6", "fd00::7" },             { "ok", "10.7.0.9" },
        };

        u1 = service_create(f, ns, "bad", "{\"selector\":{\"app\":\"bad\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        u2 = service_create(f, ns, "good", "{\"selector\":{\"app\":\"good\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        /* targetPort 0: the apiserver stores the port itself (spec §3) */
        u3 = service_create(f, ns, "tp0", "{\"selector\":{\"app\":\"good\"},\"ports\":[{\"port\":8443,\"targetPort\":0}]}");
        u4 = service_create(f, ns, "dup", "{\"selector\":{\"app\":\"dup\"},\"ports\":[{\"port\":80,\"targetPort\":\"web\"}]}");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                pod_create(f, ns, bad[i].name, "{\"app\":\"bad\"}", bad[i].ip, true);
        pod_create(f, ns, "good-0", "{\"app\":\"good\"}", "10.7.1.1", true);
        /* the same port name in two containers: the first container's wins */
        pod_create_full(f, ns, "dup-0", "{\"app\":\"dup\"}",
                        "[{\"name\":\"c1\",\"image\":\"registry.invalid/app\",\"ports\":[{\"name\":\"web\",\"containerPort\":8080}]},"
                        "{\"name\":\"c2\",\"image\":\"registry.invalid/app\",\"ports\":[{\"name\":\"web\",\"containerPort\":9090}]}]",
                        false);
        pod_status(f, ns, "dup-0", "10.7.2.1", true);

        want = expected("R 10.7.1.1 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "good", want);
        free(want);
        want = expected("R 10.7.1.1 :8443/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "tp0", want);
        free(want);
        want = expected("R 10.7.2.1 :8080/TCP");
        wait_summary(f, KIND_ENDPOINTS, ns, "dup", want);

        /* The leading-zero spelling is either read as the apiserver reads
         * it (decimal, written canonical) or dropped; never written as is. */
        free(want);
        want = expected("R 10.7.0.8 :8080/TCP", "R 10.7.0.9 :8080/TCP");
        want_lz = expected("R 10.7.0.7 :8080/TCP", "R 10.7.0.8 :8080/TCP", "R 10.7.0.9 :8080/TCP");
        const char *const w[] = { want, want_lz, NULL };
        size_t which = wait_summary_any(f, KIND_ENDPOINTS, ns, "bad", w);
        fprintf(stderr, "leading-zero pod IP 010.7.0.7: %s\n", which == 0 ? "dropped" : "written as 10.7.0.7");

        want_sl = expected("IPv4 10.7.0.8 r1s1t0 [:8080/TCP]", "IPv4 10.7.0.9 r1s1t0 [:8080/TCP]");
        want_sl_lz = expected("IPv4 10.7.0.7 r1s1t0 [:8080/TCP]", "IPv4 10.7.0.8 r1s1t0 [:8080/TCP]",
                              "IPv4 10.7.0.9 r1s1t0 [:8080/TCP]");
        const char *const ws[] = { want_sl, want_sl_lz, NULL };
        (void) wait_summary_any(f, KIND_SLICES, ns, "bad", ws);

        note = fmt("Dropped address 127.0.0.1 of pod %s/loopback: may not be in the loopback range (127.0.0.0/8, ::1/128)", ns);
        wait_event(f, ns, "EndpointAddressDropped", note);
        free(note);
        note = fmt("Dropped address 169.254.3.3 of pod %s/linklocal: may not be in the link-local range (169.254.0.0/16, fe80::/10)",
                   ns);
        wait_event(f, ns, "EndpointAddressDropped", note);
        free(note);
        note = fmt("Dropped address 0.0.0.0 of pod %s/unspecified: may not be unspecified (0.0.0.0)", ns);
        wait_event(f, ns, "EndpointAddressDropped", note);

        /* the bad Service does not keep failing and retrying: no write
         * errors counted */
        double errors = 0;
        assert_int_equal(itest_berth_metric_sum(f->berth, "berth_endpoints_syncs_total", "result=\"error\"", &errors), 0);
        assert_true(errors == 0);
}

/* The shape of every slice of a Service: no endpoint twice, none over
 * the maximum.  Returns the number of endpoints; *ret_sizes the sorted
 * per-slice counts as text. */
static size_t check_slices_unique(Fixture *f, const char *ns, const char *svc, size_t max, size_t *ret_n_slices,
                                  char **ret_sizes) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        const JsonValue *slice, *ep;
        Tokens ips = {}, sizes = {};
        size_t total = 0;
        _cleanup_free_ char *joined = NULL;

        free(slices_summary(f, ns, svc, ret_n_slices, &doc));
        JSON_ARRAY_FOREACH(slice, json_get(json_doc_root(doc), "items")) {
                size_t n = json_array_len(json_get(slice, "endpoints"));
                assert_true(n <= max);
                tokens_add(&sizes, fmt("%04zu", n));
                JSON_ARRAY_FOREACH(ep, json_get(slice, "endpoints")) {
                        tokens_add(&ips, strdup(json_string(json_array_at(json_get(ep, "addresses"), 0))));
                        total++;
                }
        }
        /* sorted: a duplicate is a neighbour */
        qsort(ips.v, ips.n, sizeof(char *), cmp_str);
        for (size_t i = 1; i < ips.n; i++)
                if (streq(ips.v[i - 1], ips.v[i])) {
                        fprintf(stderr, "endpoint %s is in two slices of %s/%s\n", ips.v[i], ns, svc);
                        f->failed = true;
                        fail();
                }
        joined = tokens_join(&ips);
        *ret_sizes = tokens_join(&sizes);
        return total;
}

/* The controller stopped (SIGTERM) right after a change and changes made
 * while it is down: after the restart everything is published, the
 * existing slice is reused (no duplicate, no create), and the clean stop
 * exits 0. */
static void test_restart_mid_way(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-restart"), *uid = NULL, *want = NULL, *want_sl = NULL;
        _cleanup_free_ char *sizes = NULL, *slice_before = NULL, *slice_after = NULL;
        _cleanup_(json_doc_freep) JsonDoc *d1 = NULL, *d2 = NULL;
        Tokens ep = {}, sl = {};
        enum { N = 30 };
        size_t n_slices = 0;
        double creates = 0, slice_creates = 0;

        uid = service_create(f, ns, "r", "{\"selector\":{\"app\":\"r\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
        for (int i = 0; i < N; i++) {
                _cleanup_free_ char *name = fmt("r-%02d", i), *ip = fmt("10.8.0.%d", i + 1);
                pod_create(f, ns, name, "{\"app\":\"r\"}", ip, true);
                tokens_add(&ep, fmt("R 10.8.0.%d :8080/TCP", i + 1));
        }
        want = tokens_join(&ep);
        wait_summary(f, KIND_ENDPOINTS, ns, "r", want);
        free(slices_summary(f, ns, "r", &n_slices, &d1));
        assert_int_equal(n_slices, 1);
        slice_before = strdup(json_get_string(json_get(json_array_at(json_get(json_doc_root(d1), "items"), 0), "metadata"), "name"));

        /* a change, then at once SIGTERM: it may or may not be written before */
        pod_status(f, ns, "r-00", "10.8.0.1", false);
        assert_int_equal(itest_berth_stop(f->berth), 0);

        /* while down: a flip, a delete, a new pod */
        pod_status(f, ns, "r-01", "10.8.0.2", false);
        pod_delete_now(f, ns, "r-02");
        pod_create(f, ns, "r-30", "{\"app\":\"r\"}", "10.8.0.31", true);

        assert_int_equal(itest_berth_restart(f->env, f->berth), 0);
        for (int i = 0; i <= N; i++) {
                if (i == 2)
                        continue;
                const char *r = i <= 1 ? "N" : "R";
                tokens_add(&ep, fmt("%s 10.8.0.%d :8080/TCP", r, i + 1));
                tokens_add(&sl, fmt("IPv4 10.8.0.%d %s [:8080/TCP]", i + 1, i <= 1 ? "r0s0t0" : "r1s1t0"));
        }
        free(want);
        want = tokens_join(&ep);
        want_sl = tokens_join(&sl);
        wait_summary(f, KIND_ENDPOINTS, ns, "r", want);
        wait_stable(f, KIND_SLICES, ns, "r", want_sl);

        assert_int_equal(check_slices_unique(f, ns, "r", 100, &n_slices, &sizes), N);
        assert_int_equal(n_slices, 1);
        free(slices_summary(f, ns, "r", NULL, &d2));
        slice_after = strdup(json_get_string(json_get(json_array_at(json_get(json_doc_root(d2), "items"), 0), "metadata"), "name"));
        assert_string_equal(slice_after, slice_before);
        /* nothing anywhere was created anew by the restarted controller */
        assert_int_equal(itest_berth_metric_sum(f->berth, "berth_endpoints_changes_total", "operation=\"create\"", &creates), 0);
        assert_int_equal(itest_berth_metric_sum(f->berth, "endpoint_slice_controller_changes", "operation=\"create\"",
                                                &slice_creates),
                         0);
        assert_true(creates == 0);
        assert_true(slice_creates == 0);
}

/* resourceVersions of every Endpoints and EndpointSlice in the cluster:
 * any write changes this text. */
static char *all_versions(Fixture *f) {
        const char *paths[] = { "/api/v1/endpoints", "/apis/discovery.k8s.io/v1/endpointslices" };
        Tokens t = {};

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_(json_doc_freep) JsonDoc *doc = get_json(f, paths[i]);
                const JsonValue *item;
                JSON_ARRAY_FOREACH(item, json_get(json_doc_root(doc), "items")) {
                        const JsonValue *m = json_get(item, "metadata");
                        tokens_add(&t, fmt("%zu %s/%s %s", i, json_get_string(m, "namespace"), json_get_string(m, "name"),
                                           json_get_string(m, "resourceVersion")));
                }
        }
        return tokens_join(&t);
}

static double berth_writes(Fixture *f) {
        double a = 0, b = 0;
        assert_int_equal(itest_berth_metric_sum(f->berth, "berth_endpoints_changes_total", NULL, &a), 0);
        assert_int_equal(itest_berth_metric_sum(f->berth, "endpoint_slice_controller_changes", NULL, &b), 0);
        return a + b;
}

/* 2,500 ready pods behind a new Service: the Endpoints holds 1,000 of them
 * with the over-capacity annotation; the slices hold all of them, 25 × 100.
 * Then ten more pods one by one: all in slices of at most 100, none twice.
 * Then the whole cluster is left alone: not a single write (upstream
 * rewrites an over-capacity Endpoints on every sync; berth must not). */
static void test_large_service_and_idle(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *ns = namespace_new(f, "ep-large"), *uid = NULL, *sizes = NULL, *want_sizes = NULL;
        _cleanup_free_ char *v0 = NULL, *v1 = NULL;
        _cleanup_(json_doc_freep) JsonDoc *ep_doc = NULL;
        enum { N = 2500 };
        size_t n_slices = 0, addresses = 0, not_ready = 0;
        const JsonValue *subset;
        Tokens t = {};
        double w0, w1;

        /* The pods first, then the Service: its first sync sees all of them,
         * so the packing is exact (pods arriving one by one may leave slices
         * of 99, as upstream's churn-minimising rule allows). */
        for (int i = 0; i < N; i++) {
                _cleanup_free_ char *name = fmt("big-%04d", i), *ip = fmt("10.9.%d.%d", i / 250, i % 250 + 1);
                pod_create(f, ns, name, "{\"app\":\"big\"}", ip, true);
        }
        uid = service_create(f, ns, "big", "{\"selector\":{\"app\":\"big\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}");

        /* slices: 2,500 endpoints in 25 full slices */
        usec_t end = now_usec(CLOCK_MONOTONIC) + 2 * CONVERGE_TIMEOUT;
        for (;;) {
                free(sizes);
                size_t total = check_slices_unique(f, ns, "big", 100, &n_slices, &sizes);
                if (total == N)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "slices of %s/big hold %zu endpoints in %zu slices (want %d)\n", ns, total,
                                n_slices, N);
                        itest_berth_print_log(f->berth, 25);
                        f->failed = true;
                        fail();
                }
                usleep(500 * USEC_PER_MSEC);
        }
        for (int i = 0; i < 25; i++)
                tokens_add(&t, strdup("0100"));
        want_sizes = tokens_join(&t);
        assert_string_equal(sizes, want_sizes);

        /* Endpoints: 1,000 ready addresses, annotated */
        end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        for (;;) {
                json_doc_free(ep_doc);
                ep_doc = NULL;
                free(endpoints_summary(f, ns, "big", &ep_doc));
                addresses = not_ready = 0;
                JSON_ARRAY_FOREACH(subset, json_get(json_doc_root(ep_doc), "subsets")) {
                        addresses += json_array_len(json_get(subset, "addresses"));
                        not_ready += json_array_len(json_get(subset, "notReadyAddresses"));
                }
                if (addresses == 1000 || now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(500 * USEC_PER_MSEC);
        }
        assert_int_equal(addresses, 1000);
        assert_int_equal(not_ready, 0);
        assert_string_equal(json_get_string(json_get_path(json_doc_root(ep_doc), "metadata", "annotations"), OVER_CAPACITY),
                            "truncated");

        /* idle: an unchanged cluster costs no write at all */
        usleep(SETTLE);
        w0 = berth_writes(f);
        v0 = all_versions(f);
        usleep(IDLE_WINDOW);
        w1 = berth_writes(f);
        v1 = all_versions(f);
        if (w1 != w0 || !streq(v0, v1)) {
                fprintf(stderr, "writes while nothing changed: %.0f by berth's counters; versions %s\n", w1 - w0,
                        streq(v0, v1) ? "unchanged" : "changed");
                f->failed = true;
                fail();
        }

        for (int i = N; i < N + 10; i++) {
                _cleanup_free_ char *name = fmt("big-%04d", i), *ip = fmt("10.9.%d.%d", i / 250, i % 250 + 1);
                pod_create(f, ns, name, "{\"app\":\"big\"}", ip, true);
        }
        end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        for (;;) {
                free(sizes);
                if (check_slices_unique(f, ns, "big", 100, &n_slices, &sizes) == N + 10)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "slices of %s/big: %s (want %d endpoints)\n", ns, sizes, N + 10);
                        f->failed = true;
                        fail();
                }
                usleep(500 * USEC_PER_MSEC);
        }

        /* leave a small cluster behind */
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/pods?gracePeriodSeconds=0", ns);
        api_ok(f, "DELETE", path, NULL, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_basic_selector, test_setup),
                cmocka_unit_test_setup(test_named_ports, test_setup),
                cmocka_unit_test_setup(test_publish_not_ready, test_setup),
                cmocka_unit_test_setup(test_terminating, test_setup),
                cmocka_unit_test_setup(test_service_lifecycle, test_setup),
                cmocka_unit_test_setup(test_flapping, test_setup),
                cmocka_unit_test_setup(test_bad_input, test_setup),
                cmocka_unit_test_setup(test_restart_mid_way, test_setup),
                cmocka_unit_test_setup(test_large_service_and_idle, test_setup),
        };

        /* BERTH_ITEST_FILTER=test_flapping runs one test (cmocka's pattern) */
        if (getenv("BERTH_ITEST_FILTER"))
                cmocka_set_test_filter(getenv("BERTH_ITEST_FILTER"));
        return cmocka_run_group_tests(tests, setup, teardown);
}
