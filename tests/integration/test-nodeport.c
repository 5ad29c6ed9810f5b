/* SPDX-License-Identifier: Apache-2.0 */
/* The nodeport controller (spec/nodeport.md §9, §12, §14) as a real
 * berth-controller process against the real kube-apiserver, which
 * allocates node ports itself: berth audits.  The faults kube-apiserver
 * never makes on its own are made the way §14 says: a second holder of a
 * port written straight into etcd (the server stores JSON), and a range
 * narrowed by restarting the server on the same etcd.  berth's events are
 * told from the apiserver's own repair loop by reportingController.
 *
 * The tests run in order and share the control plane and berth:
 *   phase 1 (range 30000-30031, JSON storage): berth's view agrees with
 *            the server, a Service stored without a node port is filled
 *            (role A online), a duplicate is reported once, full passes run
 *            every --nodeport-audit-interval;
 *   phase 2 (the server restarted with 30000-30016, 17 ports: static band
 *            16 + dynamic 1): every port outside is PortOutOfRange; then the
 *            range is filled up: PortRangeNearlyFull per band, PortRangeFull.
 * Two apiserver restarts in all (each costs ~3 s). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest-berth.h"
#include "itest.h"
#include "json.h"
#include "macros.h"
#include "registry.h"

#define RANGE_WIDE "30000-30031"
#define RANGE_NARROW "30000-30016"
#define NARROW_LAST 30016
#define REPORTING_CONTROLLER "berth.io/nodeport-allocator"
#define CONVERGE_TIMEOUT (30 * USEC_PER_SEC)
#define POLL_INTERVAL (100 * USEC_PER_MSEC)
/* Long enough for a wrong extra event to land (the recorder writes within
 * a second; several 1 s full passes run meanwhile). */
#define SETTLE (3 * USEC_PER_SEC)

extern char **environ;

typedef struct Fixture {
        ITestEnv *env;
        ITestApi *api;
        ITestBerth *berth;
        char *ns;            /* phase 1 */
        char *ns_full;       /* phase 2 */
        char *dup_holder;    /* the Service the duplicate copies */
        int64_t dup_port;
        bool skip;
} Fixture;

/* ---- helpers --------------------------------------------------------------------- */

#define fmt itest_fmt

static JsonDoc *parse(const char *body) {
        JsonDoc *doc = itest_parse_json(body);
        if (!doc)
                fail();
        return doc;
}

static JsonDoc *api_get(Fixture *f, const char *path) {
        _cleanup_free_ char *body = NULL;

        assert_int_equal(itest_api_call_ok(f->api, "GET", path, NULL, NULL, &body), 0);
        return parse(body);
}

static int64_t int_of(const JsonValue *v) {
        int64_t n = 0;
        (void) json_int64(v, &n);
        return n;
}

static char *namespace_new(Fixture *f, const char *prefix) {
        char *ns = itest_unique_name(f->env, prefix);
        _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\"}}", ns);

        assert_int_equal(itest_api_call_ok(f->api, "POST", "/api/v1/namespaces", NULL, body, NULL), 0);
        return ns;
}

/* Creates a Service; returns the HTTP code, the stored object in *ret_doc
 * on 201.  500 only for "range is full" (1.33 answers that as an internal
 * error); any other 500 (a busy server) is retried. */
static long service_create(Fixture *f, const char *ns, const char *name, const char *spec, JsonDoc **ret_doc) {
        _cleanup_free_ char *path = fmt("/api/v1/namespaces/%s/services", ns);
        _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\"},\"spec\":%s}", name, spec), *resp = NULL;
        long code = 0;

        for (int attempt = 0;; attempt++) {
                free(resp);
                resp = NULL;
                assert_int_equal(itest_api_call(f->api, "POST", path, NULL, body, &code, &resp), 0);
                if (code != 500 || strstr(strempty(resp), "range is full") || attempt >= 20)
                        break;
                fprintf(stderr, "POST %s %s: HTTP 500 (retrying): %s\n", path, name, resp);
                usleep(250 * USEC_PER_MSEC);
        }
        if (code != 201 && !(code == 500 && strstr(strempty(resp), "range is full"))) {
                fprintf(stderr, "POST %s %s: HTTP %ld: %s\n", path, name, code, resp);
                fail();
        }
        if (ret_doc)
                *ret_doc = code == 201 ? parse(resp) : NULL;
        return code;
}

/* Every node port a Service holds, as kube-apiserver assigned it: the
 * nodePorts of NodePort/LoadBalancer Services and the healthCheckNodePort. */
typedef struct ServerPorts {
        size_t n;
        struct {
                char *ns, *name;
                int64_t port;
        } v[256];
} ServerPorts;

static void server_ports_add(ServerPorts *sp, const char *ns, const char *name, int64_t port) {
        for (size_t i = 0; i < sp->n; i++)
                if (sp->v[i].port == port && streq(sp->v[i].ns, ns) && streq(sp->v[i].name, name))
                        return; /* TCP + UDP of one port: one claim */
        assert_true(sp->n < ELEMENTSOF(sp->v));
        sp->v[sp->n].ns = strdup(ns);
        sp->v[sp->n].name = strdup(name);
        sp->v[sp->n].port = port;
        sp->n++;
}

static void server_ports_done(ServerPorts *sp) {
        for (size_t i = 0; i < sp->n; i++) {
                free(sp->v[i].ns);
                free(sp->v[i].name);
        }
        sp->n = 0;
}

static void server_ports(Fixture *f, ServerPorts *ret) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, "/api/v1/services");
        const JsonValue *item, *port;

        ret->n = 0;
        JSON_ARRAY_FOREACH(item, json_get(json_doc_root(doc), "items")) {
                const char *ns = json_get_string(json_get(item, "metadata"), "namespace");
                const char *name = json_get_string(json_get(item, "metadata"), "name");
                const JsonValue *spec = json_get(item, "spec");
                const char *type = json_get_string(spec, "type");

                if (!streq_ptr(type, "NodePort") && !streq_ptr(type, "LoadBalancer"))
                        continue;
                JSON_ARRAY_FOREACH(port, json_get(spec, "ports"))
                        if (int_of(json_get(port, "nodePort")) != 0)
                                server_ports_add(ret, ns, name, int_of(json_get(port, "nodePort")));
                if (int_of(json_get(spec, "healthCheckNodePort")) != 0)
                        server_ports_add(ret, ns, name, int_of(json_get(spec, "healthCheckNodePort")));
        }
}

/* Distinct ports within [first, last]. */
static size_t distinct_ports(const ServerPorts *sp, int64_t first, int64_t last) {
        size_t n = 0;

        for (size_t i = 0; i < sp->n; i++) {
                bool seen = false;
                if (sp->v[i].port < first || sp->v[i].port > last)
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = sp->v[k].port == sp->v[i].port;
                n += !seen;
        }
        return n;
}

/* A cluster IP of the envtest Service CIDR 10.96.0.0/24 no Service holds
 * (a Service written into etcd must not take one the server gave out). */
static char *unused_cluster_ip(Fixture *f) {
        _cleanup_(json_doc_freep) JsonDoc *all = api_get(f, "/api/v1/services");
        const JsonValue *item;

        for (int host = 250; host > 150; host--) {
                char *cand = fmt("10.96.0.%d", host);
                bool used = false;
                JSON_ARRAY_FOREACH(item, json_get(json_doc_root(all), "items"))
                        used = used || streq_ptr(json_get_string(json_get(item, "spec"), "clusterIP"), cand);
                if (!used)
                        return cand;
                free(cand);
        }
        fail_msg("no free cluster IP");
        return NULL;
}

static JsonDoc *berth_state(Fixture *f) {
        _cleanup_free_ char *body = NULL;
        long code = 0;

        assert_int_equal(itest_berth_http_get(f->berth, "/debug/nodeports", &code, &body), 0);
        if (code != 200) {
                fprintf(stderr, "GET /debug/nodeports: HTTP %ld: %s\n", code, strempty(body));
                itest_berth_print_log(f->berth, 20);
                fail();
        }
        return parse(body);
}

static int64_t band_int(const JsonDoc *doc, const char *band, const char *key) {
        return int_of(json_get_path(json_doc_root(doc), "bands", band, key));
}

static int strcmp_sorted(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Lines joined, sorted, each ending in "\n". */
static char *lines_join(char **v, size_t n) {
        size_t len = 1;
        char *out;

        if (n > 1)
                qsort(v, n, sizeof(char *), strcmp_sorted);
        for (size_t i = 0; i < n; i++)
                len += strlen(v[i]) + 1;
        out = malloc(len);
        assert_non_null(out);
        *out = 0;
        for (size_t i = 0; i < n; i++) {
                strcat(out, v[i]);
                strcat(out, "\n");
                free(v[i]);
        }
        return out;
}

/* berth's events in ns as sorted lines "REASON NAME NOTE"; every one is
 * checked to be a Warning about a Service with action PortAllocation. */
static char *berth_events(Fixture *f, const char *ns, const char *reason) {
        _cleanup_free_ char *path = fmt("/apis/events.k8s.io/v1/namespaces/%s/events", ns);
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        const JsonValue *ev;
        char **lines = NULL, *out;
        size_t n = 0;

        JSON_ARRAY_FOREACH(ev, json_get(json_doc_root(doc), "items")) {
                const JsonValue *reg = json_get(ev, "regarding");
                if (!streq_ptr(json_get_string(ev, "reportingController"), REPORTING_CONTROLLER))
                        continue;
                assert_string_equal(json_get_string(ev, "type"), "Warning");
                assert_string_equal(json_get_string(ev, "action"), "PortAllocation");
                assert_string_equal(json_get_string(reg, "kind"), "Service");
                assert_string_equal(json_get_string(reg, "namespace"), ns);
                /* a problem is reported once while it persists: no series */
                assert_null(json_get(ev, "series"));
                if (reason && !streq_ptr(json_get_string(ev, "reason"), reason))
                        continue;
                char **grown = realloc(lines, (n + 1) * sizeof(char *));
                assert_non_null(grown);
                lines = grown;
                lines[n] = fmt("%s %s %s", json_get_string(ev, "reason"), json_get_string(reg, "name"),
                               json_get_string(ev, "note"));
                n++;
        }
        out = lines_join(lines, n);
        free(lines);
        return out;
}

/* Waits until berth_events(ns, reason) equals want; fails with both. */
static void wait_events(Fixture *f, const char *ns, const char *reason, const char *want) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        _cleanup_free_ char *got = NULL;

        for (;;) {
                free(got);
                got = berth_events(f, ns, reason);
                if (streq(got, want))
                        return;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(POLL_INTERVAL);
        }
        fprintf(stderr, "berth's %s events in %s:\n--- got:\n%s--- want:\n%s", strempty(reason), ns, got, want);
        itest_berth_print_log(f->berth, 20);
        fail();
}

/* Waits until the metric's sum is value (/metrics is a snapshot up to a
 * second old). */
static void wait_metric(Fixture *f, const char *name, const char *label_match, double value) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        double got = -1;

        for (;;) {
                assert_int_equal(itest_berth_metric_sum(f->berth, name, label_match, &got), 0);
                if (got == value)
                        return;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(POLL_INTERVAL);
        }
        fprintf(stderr, "%s{%s} is %g, want %g\n", name, strempty(label_match), got, value);
        fail();
}

static void berth_start(Fixture *f, const char *range, const char *interval) {
        _cleanup_free_ char *r = fmt("--service-node-port-range=%s", range),
                            *i = fmt("--nodeport-audit-interval=%s", interval);
        const char *args[] = { "--controllers=nodeport", r, i, NULL };

        f->berth = itest_berth_free(f->berth, 0);
        assert_int_equal(itest_berth_start(f->env, args, &f->berth), 0);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || itest_api_client_new(f->env, &f->api) < 0)
                return -1;
        f->skip = true;
        for (const ControllerRegistration *r = controller_registry; r->name; r++)
                if (streq(r->name, "nodeport") && r->init)
                        f->skip = false;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        itest_berth_free(f->berth, 0);
        itest_api_client_free(f->api);
        itest_env_free(f->env);
        free(f->ns);
        free(f->ns_full);
        free(f->dup_holder);
        free(f);
        return 0;
}

/* ---- (e) a bad range ------------------------------------------------------------ */

/* §2: nothing starts; one line on stderr; exit status 2. */
static void test_bad_range_exits_2(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *value, *message;
        } cases[] = {
                { "32767-30000", "end port cannot be less than start port: 32767-30000" },
                { "30000-70000", "the port range cannot be greater than 65535: 30000-70000" },
                { "abc", "unable to parse port range: abc: strconv.Atoi: parsing \"abc\": invalid syntax, expected "
                         "hyphen in port range or a single port number" },
                { "0-100", "port 0 cannot be part of the node port range: 0-100" },
        };
        _cleanup_free_ char *bin = itest_berth_binary();

        if (f->skip)
                skip();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char log[] = "/tmp/berth-nodeport-stderr-XXXXXX", out[1024] = "";
                _cleanup_free_ char *arg = fmt("--service-node-port-range=%s", cases[i].value),
                                    *want = fmt("berth-controller: invalid argument \"%s\" for "
                                                "--service-node-port-range: %s\n",
                                                cases[i].value, cases[i].message);
                char *argv[] = { bin, (char *) "--kubeconfig", (char *) itest_env_get(f->env, "KUBECONFIG"),
                                 (char *) "--controllers=nodeport", (char *) "--metrics-bind-address=0", arg, NULL };
                posix_spawn_file_actions_t fa;
                int fd = mkstemp(log), status = 0;
                pid_t pid;
                ssize_t n;

                assert_true(fd >= 0);
                posix_spawn_file_actions_init(&fa);
                posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
                posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
                assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
                posix_spawn_file_actions_destroy(&fa);
                assert_int_equal(itest_wait_pid(pid, 10 * USEC_PER_SEC, &status), 0);
                n = pread(fd, out, sizeof(out) - 1, 0);
                close(fd);
                unlink(log);
                assert_true(n >= 0);
                out[n] = 0;
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 2);
                assert_string_equal(out, want);
        }
}

/* ---- phase 1: audit agrees, fill, duplicate, timer -------------------------------- */

/* (a) berth's view equals the ports the server assigned: per band, with no problem. */
static void test_view_agrees_with_server(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *arg = fmt("--node-port-range=%s", RANGE_WIDE);
        ServerPorts sp = {};
        usec_t end;
        size_t want_static, want_dynamic;

        if (f->skip)
                skip();
        /* JSON in etcd, so the duplicate test can write a Service there */
        assert_int_equal(itest_apiserver(f->env, "restart", "--storage-media-type=application/json", arg), 0);
        f->ns = namespace_new(f, "np");
        assert_int_equal(service_create(f, f->ns, "web", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}", NULL), 201);
        assert_int_equal(service_create(f, f->ns, "dns",
                                        "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"u\",\"port\":53,\"protocol\":\"UDP\"},"
                                        "{\"name\":\"t\",\"port\":53,\"protocol\":\"TCP\"}]}",
                                        NULL),
                         201);
        assert_int_equal(service_create(f, f->ns, "lb",
                                        "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\","
                                        "\"ports\":[{\"port\":443}]}",
                                        NULL),
                         201);
        assert_int_equal(service_create(f, f->ns, "pinned",
                                        "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30005}]}", NULL),
                         201);
        assert_int_equal(service_create(f, f->ns, "no-np",
                                        "{\"type\":\"LoadBalancer\",\"allocateLoadBalancerNodePorts\":false,"
                                        "\"ports\":[{\"port\":80}]}",
                                        NULL),
                         201);
        assert_int_equal(service_create(f, f->ns, "plain", "{\"ports\":[{\"port\":80}]}", NULL), 201);

        /* web 1, dns 1 (UDP + TCP share), lb 2 (node port + health check), pinned 1 */
        server_ports(f, &sp);
        assert_int_equal(sp.n, 5);
        want_static = distinct_ports(&sp, 30000, 30015);
        want_dynamic = distinct_ports(&sp, 30016, 30031);
        assert_int_equal(want_static + want_dynamic, 5);
        server_ports_done(&sp);

        berth_start(f, RANGE_WIDE, "1s");
        end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        for (;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                const JsonValue *root = json_doc_root(doc);

                if (band_int(doc, "static", "allocated") == (int64_t) want_static &&
                    band_int(doc, "dynamic", "allocated") == (int64_t) want_dynamic) {
                        assert_string_equal(json_get_string(root, "range"), RANGE_WIDE);
                        assert_int_equal(int_of(json_get(root, "offset")), 16);
                        assert_int_equal(band_int(doc, "static", "first"), 30000);
                        assert_int_equal(band_int(doc, "static", "last"), 30015);
                        assert_int_equal(band_int(doc, "dynamic", "first"), 30016);
                        assert_int_equal(band_int(doc, "dynamic", "last"), 30031);
                        assert_int_equal(band_int(doc, "static", "available"), 16 - (int64_t) want_static);
                        assert_int_equal(band_int(doc, "dynamic", "available"), 16 - (int64_t) want_dynamic);
                        assert_int_equal(int_of(json_get(root, "usagePercent")), 5 * 100 / 32);
                        assert_int_equal(json_array_len(json_get(root, "problems")), 0);
                        assert_int_equal(json_array_len(json_get(root, "missing")), 0);
                        assert_int_equal(json_array_len(json_get(root, "leakCandidates")), 0);
                        assert_non_null(json_get_string(root, "lastFullPass"));
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "berth sees %lld static + %lld dynamic, the server %zu + %zu\n",
                                (long long) band_int(doc, "static", "allocated"),
                                (long long) band_int(doc, "dynamic", "allocated"), want_static, want_dynamic);
                        fail();
                }
                usleep(POLL_INTERVAL);
        }
        /* the same in /metrics */
        wait_metric(f, "berth_nodeport_allocated_ports", "band=\"static\"", (double) want_static);
        wait_metric(f, "berth_nodeport_allocated_ports", "band=\"dynamic\"", (double) want_dynamic);
        wait_metric(f, "berth_nodeport_available_ports", NULL, 32.0 - 5.0);
        wait_metric(f, "berth_nodeport_problem_ports", "type=\"duplicate\"", 0);
        wait_metric(f, "berth_nodeport_problem_ports", "type=\"outOfRange\"", 0);
        /* a clean cluster: not one event */
        usleep(SETTLE);
        _cleanup_free_ char *events = berth_events(f, f->ns, NULL);
        assert_string_equal(events, "");
}

/* A Service of a type that needs a node port, stored without one (what
 * kube-apiserver never produces): berth (role auto) fills it, the value is
 * in range and the rest of the Service is untouched. */
static void test_fill_missing_node_port(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *key = NULL, *value = NULL, *path = NULL, *ip = NULL;
        usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        int64_t np = 0;

        if (f->skip)
                skip();
        ip = unused_cluster_ip(f);
        key = fmt("/registry/services/specs/%s/unfilled", f->ns);
        value = fmt("{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"unfilled\",\"namespace\":\"%s\","
                    "\"uid\":\"6d1c1a43-0000-4000-8000-00000000f111\",\"creationTimestamp\":\"2030-01-01T00:00:00Z\"},"
                    "\"spec\":{\"ports\":[{\"name\":\"h\",\"protocol\":\"TCP\",\"port\":8080,\"targetPort\":9090}],"
                    "\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"type\":\"NodePort\",\"sessionAffinity\":\"None\","
                    "\"externalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\","
                    "\"internalTrafficPolicy\":\"Cluster\"},\"status\":{\"loadBalancer\":{}}}",
                    f->ns, ip, ip);
        assert_int_equal(itest_etcd_put(f->env, key, value), 0);
        path = fmt("/api/v1/namespaces/%s/services/unfilled", f->ns);
        for (;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
                const JsonValue *port = json_array_at(json_get_path(json_doc_root(doc), "spec", "ports"), 0);

                np = int_of(json_get(port, "nodePort"));
                if (np != 0) {
                        assert_int_equal(int_of(json_get(port, "port")), 8080);
                        assert_int_equal(int_of(json_get(port, "targetPort")), 9090);
                        assert_string_equal(json_get_string(port, "name"), "h");
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "berth did not fill %s/unfilled\n", f->ns);
                        itest_berth_print_log(f->berth, 20);
                        fail();
                }
                usleep(POLL_INTERVAL);
        }
        assert_true(np >= 30000 && np <= 30031);
        /* berth's pick was free: no problem anywhere, nothing missing */
        end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        for (;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                const JsonValue *root = json_doc_root(doc);
                if (band_int(doc, "static", "allocated") + band_int(doc, "dynamic", "allocated") == 6 &&
                    json_array_len(json_get(root, "missing")) == 0) {
                        assert_int_equal(json_array_len(json_get(root, "problems")), 0);
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        fail_msg("berth's state did not settle after the fill");
                usleep(POLL_INTERVAL);
        }
        _cleanup_free_ char *events = berth_events(f, f->ns, NULL);
        assert_string_equal(events, "");
}

/* (b) a real duplicate: Service "dup" holding web's port, written into
 * etcd with its own uid, a later creationTimestamp and an unused cluster
 * IP.  PortAlreadyAllocated on dup, nothing on web; the problem is listed
 * with both holders, the keeper first. */
static void test_duplicate_in_etcd(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *path = NULL, *key = NULL, *value = NULL, *want = NULL, *ip = NULL;
        _cleanup_(json_doc_freep) JsonDoc *web = NULL;
        usec_t end;
        char created[64];
        time_t later = time(NULL) + 2;

        if (f->skip)
                skip();
        path = fmt("/api/v1/namespaces/%s/services/web", f->ns);
        web = api_get(f, path);
        f->dup_port = int_of(json_get(json_array_at(json_get_path(json_doc_root(web), "spec", "ports"), 0), "nodePort"));
        f->dup_holder = strdup("web");
        assert_true(f->dup_port >= 30000);

        ip = unused_cluster_ip(f);
        assert_true(strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&later)) > 0);
        key = fmt("/registry/services/specs/%s/dup", f->ns);
        value = fmt("{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"dup\",\"namespace\":\"%s\","
                    "\"uid\":\"6d1c1a43-0000-4000-8000-00000000d0b1\",\"creationTimestamp\":\"%s\"},"
                    "\"spec\":{\"ports\":[{\"protocol\":\"TCP\",\"port\":80,\"targetPort\":80,\"nodePort\":%lld}],"
                    "\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"type\":\"NodePort\",\"sessionAffinity\":\"None\","
                    "\"externalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\","
                    "\"internalTrafficPolicy\":\"Cluster\"},\"status\":{\"loadBalancer\":{}}}",
                    f->ns, created, (long long) f->dup_port, ip, ip);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(itest_etcd_put(f->env, key, value), 0);

        want = fmt("PortAlreadyAllocated dup Port %lld was assigned to multiple services; please recreate service\n",
                   (long long) f->dup_port);
        wait_events(f, f->ns, NULL, want);
        /* docs/benchmarks.md: from the write into etcd to berth's Event in the API (100 ms polls) */
        printf("nodeport_duplicate_event_latency: %llu ms\n",
               (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC));

        end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
        for (;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                const JsonValue *problems = json_get(json_doc_root(doc), "problems"), *p0 = json_array_at(problems, 0);
                if (json_array_len(problems) == 1) {
                        _cleanup_free_ char *keeper = fmt("%s/web", f->ns), *second = fmt("%s/dup", f->ns);
                        const JsonValue *svcs = json_get(p0, "services");
                        assert_int_equal(int_of(json_get(p0, "port")), f->dup_port);
                        assert_string_equal(json_get_string(p0, "reason"), "PortAlreadyAllocated");
                        assert_int_equal(json_array_len(svcs), 2);
                        assert_string_equal(json_string(json_array_at(svcs, 0)), keeper);
                        assert_string_equal(json_string(json_array_at(svcs, 1)), second);
                        /* one port, counted once */
                        assert_int_equal(band_int(doc, "static", "allocated") + band_int(doc, "dynamic", "allocated"), 6);
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        fail_msg("the duplicate is not listed in /debug/nodeports");
                usleep(POLL_INTERVAL);
        }
        wait_metric(f, "berth_nodeport_problem_ports", "type=\"duplicate\"", 1);
}

/* --nodeport-audit-interval=1s: full passes keep running (the timestamp
 * moves), and a persisting problem is not reported again. */
static void test_periodic_full_pass(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *want = NULL, *first = NULL, *events = NULL;
        double t0 = 0, t1 = 0;

        if (f->skip)
                skip();
        assert_int_equal(itest_berth_metric_sum(f->berth, "berth_nodeport_last_full_pass_timestamp_seconds", NULL, &t0), 0);
        {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                first = strdup(json_get_string(json_doc_root(doc), "lastFullPass"));
        }
        usleep(SETTLE);
        assert_int_equal(itest_berth_metric_sum(f->berth, "berth_nodeport_last_full_pass_timestamp_seconds", NULL, &t1), 0);
        assert_true(t1 > t0 + 0.5); /* snapshots up to 1 s old, passes every 1 s */
        {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                assert_string_not_equal(json_get_string(json_doc_root(doc), "lastFullPass"), first);
        }
        want = fmt("PortAlreadyAllocated dup Port %lld was assigned to multiple services; please recreate service\n",
                   (long long) f->dup_port);
        events = berth_events(f, f->ns, NULL);
        assert_string_equal(events, want);
}

/* ---- phase 2: a narrower range, then a full one ------------------------------------ */

/* (c) the server restarted on the same etcd with a narrower range, berth
 * started with the same: PortOutOfRange for every port outside it, on
 * every Service holding one. */
static void test_narrowed_range(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *arg = fmt("--node-port-range=%s", RANGE_NARROW);
        ServerPorts sp = {};
        char *lines[256];
        size_t n = 0, n_ports;
        _cleanup_free_ char *want = NULL;

        if (f->skip)
                skip();
        f->berth = itest_berth_free(f->berth, 0);
        assert_int_equal(itest_apiserver(f->env, "restart", arg), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        berth_start(f, RANGE_NARROW, "1s");

        server_ports(f, &sp);
        for (size_t i = 0; i < sp.n; i++)
                if (streq(sp.v[i].ns, f->ns) && sp.v[i].port > NARROW_LAST)
                        lines[n++] = fmt("PortOutOfRange %s Port %lld is not within the port range %s; please "
                                         "recreate service",
                                         sp.v[i].name, (long long) sp.v[i].port, RANGE_NARROW);
        n_ports = distinct_ports(&sp, NARROW_LAST + 1, 65535);
        server_ports_done(&sp);
        /* 30016-30031 held 4 or 5 of the 6 ports: most are outside now */
        assert_true(n >= 3);
        want = lines_join(lines, n);
        wait_events(f, f->ns, "PortOutOfRange", want);
        /* docs/benchmarks.md: process start to every PortOutOfRange Event in the API */
        printf("nodeport_out_of_range_events_after_start: %llu ms (%zu events)\n",
               (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC), n);

        /* one problem row per port (two holders of one port: one row) */
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                const JsonValue *p;
                size_t rows = 0;
                JSON_ARRAY_FOREACH(p, json_get(json_doc_root(doc), "problems"))
                        rows += streq_ptr(json_get_string(p, "reason"), "PortOutOfRange");
                if (rows == n_ports) {
                        assert_string_equal(json_get_string(json_doc_root(doc), "range"), RANGE_NARROW);
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        fail_msg("/debug/nodeports lists %zu out-of-range ports, want %zu", rows, n_ports);
                usleep(POLL_INTERVAL);
        }
        wait_metric(f, "berth_nodeport_problem_ports", "type=\"outOfRange\"", (double) n_ports);
}

/* (d) 17 ports: the static band 30000-30015 and the dynamic band 30016.
 * New Services until the server answers "range is full": one
 * PortRangeNearlyFull per band, on the Service whose claim crossed 90 %
 * (or, when the band was over the line already at berth's start, its
 * holder), and PortRangeFull on the Service that took the last port. */
static void test_range_full(void **state) {
        Fixture *f = *state;
        ServerPorts sp = {};
        char *lines[8];
        size_t n = 0, static_used, static_before, trace_len = 0;
        char trace[1024] = "";
        char *created[32] = {}, *static_crosser = NULL, *dynamic_holder = NULL;
        size_t n_created = 0;
        _cleanup_free_ char *want_full = NULL, *want_nearly = NULL;

        if (f->skip)
                skip();
        f->ns_full = namespace_new(f, "np-full");
        server_ports(f, &sp);
        static_used = static_before = distinct_ports(&sp, 30000, 30015);
        for (size_t i = 0; i < sp.n; i++)
                if (sp.v[i].port == NARROW_LAST && !dynamic_holder && !streq(sp.v[i].name, "dup"))
                        dynamic_holder = strdup(sp.v[i].name);
        server_ports_done(&sp);
        /* the dynamic band full at start: its event is in the phase 1 namespace */
        assert_true(static_used < 15);

        for (;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
                char *name = fmt("s%02zu", n_created);
                long code = service_create(f, f->ns_full, name, "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}", &doc);

                if (code == 500) {
                        free(name);
                        break;
                }
                int64_t p = int_of(json_get(json_array_at(json_get_path(json_doc_root(doc), "spec", "ports"), 0), "nodePort"));
                assert_true(n_created < ELEMENTSOF(created));
                created[n_created++] = name;
                trace_len += (size_t) snprintf(trace + trace_len, sizeof(trace) - trace_len, " %s:%lld", name,
                                               (long long) p);
                if (p == NARROW_LAST)
                        dynamic_holder = strdup(name);
                else if (++static_used == 15)
                        static_crosser = strdup(name);
        }
        if (n_created < 2 || !static_crosser || !dynamic_holder)
                fprintf(stderr, "created (name:nodePort):%s; static band held before: %zu\n", trace, static_before);
        assert_true(n_created >= 2);
        assert_non_null(static_crosser);
        assert_non_null(dynamic_holder);

        want_full = fmt("PortRangeFull %s Port range %s is full; you must widen the port range in order to create "
                        "new services\n",
                        created[n_created - 1], RANGE_NARROW);
        wait_events(f, f->ns_full, "PortRangeFull", want_full);
        lines[n++] = fmt("PortRangeNearlyFull %s static band 30000-30015 of port range %s is 93%% allocated (15 of 16 "
                         "ports)",
                         static_crosser, RANGE_NARROW);
        {
                /* the dynamic band's event is where its holder lives */
                bool here = false;
                for (size_t i = 0; i < n_created; i++)
                        here = here || streq(created[i], dynamic_holder);
                _cleanup_free_ char *dyn = fmt("PortRangeNearlyFull %s dynamic band 30016-30016 of port range %s is "
                                               "100%% allocated (1 of 1 ports)\n",
                                               dynamic_holder, RANGE_NARROW);
                if (here)
                        lines[n++] = fmt("%.*s", (int) strlen(dyn) - 1, dyn);
                else
                        wait_events(f, f->ns, "PortRangeNearlyFull", dyn);
        }
        want_nearly = lines_join(lines, n);
        wait_events(f, f->ns_full, "PortRangeNearlyFull", want_nearly);

        /* /debug/nodeports is a snapshot up to a second old: poll */
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;;) {
                _cleanup_(json_doc_freep) JsonDoc *doc = berth_state(f);
                if (band_int(doc, "static", "available") == 0 && band_int(doc, "dynamic", "available") == 0) {
                        assert_int_equal(band_int(doc, "static", "allocated"), 16);
                        assert_int_equal(band_int(doc, "dynamic", "allocated"), 1);
                        assert_int_equal(int_of(json_get(json_doc_root(doc), "usagePercent")), 100);
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        fail_msg("berth does not see the range full");
                usleep(POLL_INTERVAL);
        }
        /* nothing more: no repeat while the range stays full */
        usleep(SETTLE);
        _cleanup_free_ char *again = berth_events(f, f->ns_full, "PortRangeFull");
        assert_string_equal(again, want_full);

        for (size_t i = 0; i < n_created; i++)
                free(created[i]);
        free(static_crosser);
        free(dynamic_holder);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_range_exits_2),
                cmocka_unit_test(test_view_agrees_with_server),
                cmocka_unit_test(test_fill_missing_node_port),
                cmocka_unit_test(test_duplicate_in_etcd),
                cmocka_unit_test(test_periodic_full_pass),
                cmocka_unit_test(test_narrowed_range),
                cmocka_unit_test(test_range_full),
        };

        if (getenv("BERTH_ITEST_FILTER"))
                cmocka_set_test_filter(getenv("BERTH_ITEST_FILTER"));
        return cmocka_run_group_tests(tests, setup, teardown);
}
