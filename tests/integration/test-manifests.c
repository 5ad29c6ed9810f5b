/* SPDX-License-Identifier: Apache-2.0 */
/* examples/manifests against the real kube-apiserver (RBAC on), on a
 * control plane of its own that also runs the OwnerReferencesPermission-
 * Enforcement admission plugin (hardened clusters do; it checks the
 * blockOwnerDeletion of berth's EndpointSlices against services/finalizers).
 *
 *   apply            every manifest, in file order, applied server-side with
 *                    dryRun=All (stored nothing) and then for real; applying
 *                    again changes nothing; the stored Deployment and
 *                    DaemonSet keep the privileges the specs ask for;
 *   controller_rules the rules berth-controller's ServiceAccount holds are
 *                    exactly the ones derived from the code (RBAC table in
 *                    10-berth-controller-rbac.yaml), and more is refused;
 *   controller_runs  the real berth-controller, all controllers, leader
 *                    election on, authenticated by a TokenRequest token of
 *                    its ServiceAccount: a LoadBalancer Service gets its IP,
 *                    pods become Endpoints and EndpointSlices, events and
 *                    pool status are written, and nothing is forbidden;
 *   speaker_rules    the same exact-rules check for berth-speaker;
 *   speaker_runs     the real berth-speaker with its token (no interface
 *                    selected: it sends no frame): it creates its Lease,
 *                    writes its event, deletes the Lease on SIGTERM, and
 *                    nothing is forbidden. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest-berth.h"
#include "itest-kube.h"
#include "itest.h"
#include "json.h"
#include "macros.h"
#include "yaml_doc.h"

#define NS "berth-system"
#define APP_NS "mf-app"
#define NODE "mf-node-1"
#define FIELD_MANAGER "berth-manifests-test"
#define CONTROLLER_POD "berth-controller-7d4b9-x2k8q"
#define CONVERGE_TIMEOUT (30 * USEC_PER_SEC)
#define POLL_INTERVAL (100 * USEC_PER_MSEC)
#define ORPE_FLAGS "--extra-args=--enable-admission-plugins=OwnerReferencesPermissionEnforcement"

#define fmt itest_fmt

extern char **environ;

typedef struct Fixture {
        ITestEnv *env;
        ITestApi *api;
        ITestBerth *berth;
        pid_t speaker;
        char *speaker_log;
        char *kubeconfig;       /* a ServiceAccount's, removed at teardown */
        bool applied;
} Fixture;

/* ---- helpers ------------------------------------------------------------------------ */

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

static long admin_code(Fixture *f, const char *path) {
        long code = 0;
        assert_int_equal(itest_api_call(f->api, "GET", path, NULL, NULL, &code, NULL), 0);
        return code;
}

/* The code of a request made with token (a ServiceAccount's). */
static long as_code(Fixture *f, const char *token, const char *method, const char *path, const char *content_type,
                    const char *body, char **ret_body) {
        long code = 0;
        assert_int_equal(itest_api(f->env, token, method, path, content_type, body, &code, ret_body), 0);
        return code;
}

static char *read_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *fp = fopen(path, "re");

        if (!fp)
                return strdup("");
        if (getdelim(&text, &len, '\0', fp) < 0) {
                fclose(fp);
                return strdup("");
        }
        fclose(fp);
        return TAKE_PTR(text);
}

/* The log must show no refused request: a 403 anywhere means a verb the
 * manifests do not grant. */
static void assert_log_not_forbidden(const char *path, const char *who) {
        _cleanup_free_ char *log = read_file(path);

        if (strstr(log, "403") || strcasestr(log, "forbidden")) {
                fprintf(stderr, "%s's log mentions a refusal:\n%s\n", who, log);
                fail();
        }
}

static void manifest_files(glob_t *g) {
        _cleanup_free_ char *pattern = itest_srcpath("examples/manifests/[0-9]*.yaml");

        assert_non_null(pattern);
        assert_int_equal(glob(pattern, 0, NULL, g), 0); /* sorted: the apply order */
}

/* Writes a kubeconfig for the envtest server with an inline token. */
static char *kubeconfig_for(Fixture *f, const char *token) {
        char *path = fmt("%s/berth-manifests-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(itest_write_kubeconfig(path, itest_env_get(f->env, "BERTH_APISERVER_URL"),
                                                itest_env_get(f->env, "BERTH_CA_FILE"), token, NULL),
                         0);
        return path;
}

static char *token_for(Fixture *f, const char *sa) {
        char *token = NULL;
        assert_int_equal(itest_serviceaccount_token(f->env, NS, sa, &token), 0);
        return token;
}

typedef char *(*Observe)(Fixture *f, const char *arg);

static void wait_equal(Fixture *f, Observe observe, const char *arg, const char *want, const char *what) {
        _cleanup_free_ char *last = NULL;

        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT; now_usec(CLOCK_MONOTONIC) < end;) {
                free(last);
                last = observe(f, arg);
                if (streq(last, want))
                        return;
                usleep(POLL_INTERVAL);
        }
        fprintf(stderr, "%s: want\n%s\ngot\n%s\n", what, want, last);
        if (f->berth)
                itest_berth_print_log(f->berth, 30);
        fail();
}

/* ---- the rules a ServiceAccount holds --------------------------------------------- */

static int strcmp_p(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* SelfSubjectRulesReview in ns, made with token: one line per group,
 * resource and verb ("core services list", resourceNames in brackets),
 * sorted; the review's own rules (system:basic-user) left out. */
static char *rules_of(Fixture *f, const char *token, const char *ns) {
        _cleanup_free_ char *body = fmt("{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectRulesReview\","
                                        "\"spec\":{\"namespace\":\"%s\"}}",
                                        ns);
        _cleanup_free_ char *answer = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        char *lines[256] = {}, *out = NULL;
        size_t n = 0, size = 0;
        FILE *m;

        assert_int_equal(as_code(f, token, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", NULL,
                                 body, &answer),
                         201);
        doc = parse(answer);
        const JsonValue *status = json_get(json_doc_root(doc), "status");
        const JsonValue *rules = json_get(status, "resourceRules");
        bool incomplete = false;
        (void) json_bool(json_get(status, "incomplete"), &incomplete);
        assert_false(incomplete);
        for (size_t i = 0; i < json_array_len(rules); i++) {
                const JsonValue *r = json_array_at(rules, i);
                const JsonValue *groups = json_get(r, "apiGroups"), *resources = json_get(r, "resources"),
                                *verbs = json_get(r, "verbs"), *names = json_get(r, "resourceNames");
                _cleanup_free_ char *names_s = NULL;

                for (size_t k = 0; k < json_array_len(names); k++) {
                        char *s = fmt("%s%s%s", names_s ? names_s : "", names_s ? "," : "",
                                      json_string(json_array_at(names, k)));
                        free(names_s);
                        names_s = s;
                }
                for (size_t g = 0; g < json_array_len(groups); g++)
                        for (size_t k = 0; k < json_array_len(resources); k++)
                                for (size_t v = 0; v < json_array_len(verbs); v++) {
                                        const char *group = json_string(json_array_at(groups, g));
                                        const char *res = json_string(json_array_at(resources, k));
                                        if (startswith(res, "selfsubject"))
                                                continue;
                                        assert_true(n < ELEMENTSOF(lines));
                                        lines[n++] = fmt("%s %s %s%s%s%s", isempty(group) ? "core" : group, res,
                                                         json_string(json_array_at(verbs, v)),
                                                         names_s ? " [" : "", strempty(names_s),
                                                         names_s ? "]" : "");
                                }
        }
        qsort(lines, n, sizeof(char *), strcmp_p);
        m = open_memstream(&out, &size);
        assert_non_null(m);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || !streq(lines[i], lines[i - 1]))
                        fprintf(m, "%s\n", lines[i]);
                free(lines[i]);
        }
        fclose(m);
        return out;
}

/* ---- setup -------------------------------------------------------------------------- */

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0)
                return -1;
        if (itest_apiserver(f->env, "restart", ORPE_FLAGS) < 0) {
                fprintf(stderr, "could not restart the apiserver with OwnerReferencesPermissionEnforcement\n");
                return -1;
        }
        if (itest_api_client_new(f->env, &f->api) < 0 || itest_metallb_crds_install(f->env, NS) < 0)
                return -1;
        *state = f;
        return 0;
}

static void speaker_stop(Fixture *f) {
        if (f->speaker <= 0)
                return;
        kill(f->speaker, SIGKILL);
        (void) itest_wait_pid(f->speaker, 10 * USEC_PER_SEC, NULL);
        f->speaker = 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        itest_berth_free(f->berth, 0);
        speaker_stop(f);
        if (f->speaker_log)
                (void) unlink(f->speaker_log);
        free(f->speaker_log);
        if (f->kubeconfig)
                (void) unlink(f->kubeconfig);
        free(f->kubeconfig);
        itest_api_client_free(f->api);
        itest_env_free(f->env);
        free(f);
        return 0;
}

/* ---- apply -------------------------------------------------------------------------- */

static char *resource_version(Fixture *f, const char *path) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        return fmt("%s", json_get_string(json_get(json_doc_root(doc), "metadata"), "resourceVersion"));
}

/* Every object's path and resourceVersion, one per line. */
static char *objects_state(Fixture *f, const glob_t *g, bool want_absent) {
        char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);

        assert_non_null(m);
        for (size_t i = 0; i < g->gl_pathc; i++) {
                _cleanup_free_ char *text = read_file(g->gl_pathv[i]), *error = NULL;
                JsonDoc **docs = NULL;
                size_t n = 0;

                assert_int_equal(yaml_parse_documents(text, strlen(text), g->gl_pathv[i], &docs, &n, &error), 0);
                for (size_t k = 0; k < n; k++) {
                        _cleanup_free_ char *path = itest_object_path(json_doc_root(docs[k]));
                        assert_non_null(path);
                        if (want_absent) {
                                long code = admin_code(f, path);
                                fprintf(m, "%s %ld\n", path, code);
                        } else {
                                _cleanup_free_ char *rv = resource_version(f, path);
                                fprintf(m, "%s %s\n", path, rv);
                        }
                }
                yaml_docs_free(docs, n);
        }
        fclose(m);
        return out;
}

static const char *str_at(const JsonValue *v, size_t i) {
        return json_string(json_array_at(v, i)) ?: "-";
}

static char *env_summary(const JsonValue *container) {
        const JsonValue *env = json_get(container, "env");
        char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);

        assert_non_null(m);
        for (size_t i = 0; i < json_array_len(env); i++) {
                const JsonValue *e = json_array_at(env, i);
                fprintf(m, "%s%s=%s", i ? "," : "", json_get_string(e, "name"),
                        strempty(json_get_string(json_get_path(e, "valueFrom", "fieldRef"), "fieldPath")));
        }
        fclose(m);
        return out;
}

static const char *bool_text(const JsonValue *v) {
        bool b;
        return json_bool(v, &b) < 0 ? "-" : b ? "true" : "false";
}

static const char *int_text(const JsonValue *v) {
        return json_number_text(v) ?: "-";
}

/* What a reviewer checks in a workload: identity, privileges, probes. */
static char *workload_summary(Fixture *f, const char *path) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, path);
        const JsonValue *spec = json_get(json_doc_root(doc), "spec");
        const JsonValue *pod = json_get_path(spec, "template", "spec");
        const JsonValue *c = json_array_at(json_get(pod, "containers"), 0);
        const JsonValue *psc = json_get(pod, "securityContext"), *sc = json_get(c, "securityContext");
        const JsonValue *caps = json_get(sc, "capabilities"), *tol = json_get(pod, "tolerations");
        const JsonValue *uid = json_get(sc, "runAsUser") ?: json_get(psc, "runAsUser");
        const JsonValue *nonroot = json_get(sc, "runAsNonRoot") ?: json_get(psc, "runAsNonRoot");
        const JsonValue *seccomp = json_get(sc, "seccompProfile") ?: json_get(psc, "seccompProfile");
        _cleanup_free_ char *env = env_summary(c);

        return fmt("replicas=%s sa=%s hostNetwork=%s grace=%s uid=%s nonroot=%s seccomp=%s\n"
                   "ro=%s escalation=%s drop=%s add=%s tolerations=%s,%s\n"
                   "liveness=%s readiness=%s port=%s env=%s\n"
                   "requests=%s/%s limits=%s/%s\n",
                   int_text(json_get(spec, "replicas")), json_get_string(pod, "serviceAccountName"),
                   bool_text(json_get(pod, "hostNetwork")), int_text(json_get(pod, "terminationGracePeriodSeconds")),
                   int_text(uid), bool_text(nonroot), json_get_string(seccomp, "type") ?: "-",
                   bool_text(json_get(sc, "readOnlyRootFilesystem")), bool_text(json_get(sc, "allowPrivilegeEscalation")),
                   str_at(json_get(caps, "drop"), 0), str_at(json_get(caps, "add"), 0),
                   json_get_string(json_array_at(tol, 0), "key") ?: "-",
                   json_get_string(json_array_at(tol, 1), "key") ?: "-",
                   json_get_string(json_get_path(c, "livenessProbe", "httpGet"), "path") ?: "-",
                   json_get_string(json_get_path(c, "readinessProbe", "httpGet"), "path") ?: "-",
                   int_text(json_get(json_array_at(json_get(c, "ports"), 0), "containerPort")), env,
                   json_get_string(json_get_path(c, "resources", "requests"), "cpu") ?: "-",
                   json_get_string(json_get_path(c, "resources", "requests"), "memory") ?: "-",
                   json_get_string(json_get_path(c, "resources", "limits"), "cpu") ?: "-",
                   json_get_string(json_get_path(c, "resources", "limits"), "memory") ?: "-");
}

static void apply_all(Fixture *f) {
        glob_t g;

        manifest_files(&g);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                size_t n = 0;
                assert_int_equal(itest_apply_file(f->env, g.gl_pathv[i], FIELD_MANAGER, false, &n), 0);
                assert_true(n > 0);
        }
        globfree(&g);
        f->applied = true;
}

static void test_apply(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *before = NULL, *after = NULL, *again = NULL, *absent = NULL;
        glob_t g;

        manifest_files(&g);
        /* Namespaced objects need their namespace: dry run and real
         * application go file by file, in order, as kubectl applies them. */
        for (size_t i = 0; i < g.gl_pathc; i++) {
                glob_t one = { .gl_pathc = 1, .gl_pathv = &g.gl_pathv[i] };
                size_t n = 0;

                assert_int_equal(itest_apply_file(f->env, g.gl_pathv[i], FIELD_MANAGER, true, &n), 0);
                free(absent);
                absent = objects_state(f, &one, true);
                /* a dry run stores nothing: every object is still 404 */
                for (char *p = absent; (p = strchr(p, ' ')); p++)
                        if (!startswith(p, " 404\n")) {
                                fprintf(stderr, "after the dry run of %s:\n%s", g.gl_pathv[i], absent);
                                fail();
                        }
                assert_int_equal(itest_apply_file(f->env, g.gl_pathv[i], FIELD_MANAGER, false, &n), 0);
                printf("applied %s: %zu objects\n", g.gl_pathv[i], n);
        }
        f->applied = true;
        before = objects_state(f, &g, false);
        /* applying again is a no-op: no object gets a new resourceVersion */
        apply_all(f);
        after = objects_state(f, &g, false);
        assert_string_equal(after, before);
        globfree(&g);

        /* What the server kept of the two workloads (speaker.md §1, issue #7). */
        again = workload_summary(f, "/apis/apps/v1/namespaces/" NS "/deployments/berth-controller");
        assert_string_equal(again,
                            "replicas=2 sa=berth-controller hostNetwork=- grace=10 uid=65532 nonroot=true "
                            "seccomp=RuntimeDefault\n"
                            "ro=true escalation=false drop=ALL add=- tolerations=-,-\n"
                            "liveness=/healthz readiness=/readyz port=9402 "
                            "env=POD_NAME=metadata.name,POD_NAMESPACE=metadata.namespace\n"
                            "requests=50m/64Mi limits=1/256Mi\n");
        free(again);
        again = workload_summary(f, "/apis/apps/v1/namespaces/" NS "/daemonsets/berth-speaker");
        assert_string_equal(again,
                            "replicas=- sa=berth-speaker hostNetwork=true grace=2 uid=0 nonroot=false "
                            "seccomp=RuntimeDefault\n"
                            "ro=true escalation=false drop=ALL add=NET_RAW "
                            "tolerations=node-role.kubernetes.io/control-plane,node-role.kubernetes.io/master\n"
                            "liveness=/healthz readiness=/readyz port=7472 "
                            "env=NODE_NAME=spec.nodeName,POD_NAMESPACE=metadata.namespace\n"
                            "requests=20m/32Mi limits=-/128Mi\n");
        {
                /* the controller's args: leader election on, the default metrics port */
                _cleanup_(json_doc_freep) JsonDoc *doc =
                        api_get(f, "/apis/apps/v1/namespaces/" NS "/deployments/berth-controller");
                const JsonValue *args = json_get(
                        json_array_at(json_get_path(json_doc_root(doc), "spec", "template", "spec", "containers"), 0),
                        "args");
                assert_int_equal(json_array_len(args), 3);
                assert_string_equal(str_at(args, 0), "--leader-elect=true");
                assert_string_equal(str_at(args, 2), "--metrics-bind-address=:9402");
        }
}

static void ensure_applied(Fixture *f) {
        if (!f->applied)
                apply_all(f);
}

/* ---- berth-controller ----------------------------------------------------------------- */

/* Derived from the code; the file and line that needs each rule:
 *   controllers/endpoints.c        caches services, pods, endpoints; endpoints
 *                                  POST/PUT/DELETE (write_send)
 *   controllers/endpointslices.c   caches services, pods, nodes, endpointslices;
 *                                  endpointslices create/replace/delete;
 *                                  endpointslice_reconcile.c: blockOwnerDeletion
 *                                  on the Service owner → services/finalizers update
 *   controllers/nodeport.c         caches services; merge PATCH of a Service (fill)
 *   controllers/lbipam*.c          caches services, namespaces, pools and
 *                                  advertisements (config namespace); merge PATCH
 *                                  of services/status and ipaddresspools/status
 *   common/kube/events.c           events.k8s.io POST, PATCH (series)
 *   common/kube/leader_elector.c   leases GET, POST, PUT of the one Lease
 * Caches list and watch, never get (common/kube/informer.c). */
#define CONTROLLER_CLUSTER_RULES                              \
        "core endpoints create\n"                             \
        "core endpoints delete\n"                             \
        "core endpoints list\n"                               \
        "core endpoints update\n"                             \
        "core endpoints watch\n"                              \
        "core namespaces list\n"                              \
        "core namespaces watch\n"                             \
        "core nodes list\n"                                   \
        "core nodes watch\n"                                  \
        "core pods list\n"                                    \
        "core pods watch\n"                                   \
        "core services list\n"                                \
        "core services patch\n"                               \
        "core services watch\n"                               \
        "core services/finalizers update\n"                   \
        "core services/status patch\n"                        \
        "discovery.k8s.io endpointslices create\n"            \
        "discovery.k8s.io endpointslices delete\n"            \
        "discovery.k8s.io endpointslices list\n"              \
        "discovery.k8s.io endpointslices update\n"            \
        "discovery.k8s.io endpointslices watch\n"             \
        "events.k8s.io events create\n"                       \
        "events.k8s.io events patch\n"

/* The rules ServiceAccount sa holds in berth-system and in another namespace. */
static void assert_rules(Fixture *f, const char *sa, const char *in_ns, const char *elsewhere) {
        _cleanup_free_ char *token = NULL, *got = NULL;

        ensure_applied(f);
        token = token_for(f, sa);
        got = rules_of(f, token, NS);
        assert_string_equal(got, in_ns);
        free(got);
        got = rules_of(f, token, "default");
        assert_string_equal(got, elsewhere);
}

static void test_controller_rules(void **state) {
        assert_rules(*state, "berth-controller",
                     "coordination.k8s.io leases create\n"
                     "coordination.k8s.io leases get [berth-controller]\n"
                     "coordination.k8s.io leases update [berth-controller]\n"
                                   CONTROLLER_CLUSTER_RULES
                     "metallb.io ipaddresspools list\n"
                     "metallb.io ipaddresspools watch\n"
                     "metallb.io ipaddresspools/status patch\n"
                     "metallb.io l2advertisements list\n"
                     "metallb.io l2advertisements watch\n",
                     CONTROLLER_CLUSTER_RULES);
}

static void namespace_create(Fixture *f, const char *ns) {
        _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\"}}", ns);
        long code = 0;

        assert_int_equal(itest_api_call(f->api, "POST", "/api/v1/namespaces", NULL, body, &code, NULL), 0);
        assert_true(code == 201 || code == 409);
}

/* The workload: a Node, a LoadBalancer Service and two ready pods on the node. */
static void workload_create(Fixture *f) {
        static const char pods[][16] = { "web-1", "web-2" };
        long code = 0;

        assert_int_equal(itest_api_call(f->api, "GET", "/api/v1/namespaces/" APP_NS "/services/web", NULL, NULL,
                                        &code, NULL),
                         0);
        if (code == 200)
                return;
        namespace_create(f, APP_NS);
        api_ok(f, "POST", "/api/v1/nodes", NULL, "{\"metadata\":{\"name\":\"" NODE "\"}}");
        api_ok(f, "POST", "/api/v1/namespaces/" APP_NS "/services", NULL,
               "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"type\":\"LoadBalancer\",\"selector\":{\"app\":\"web\"},"
               "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}");
        for (size_t i = 0; i < ELEMENTSOF(pods); i++) {
                _cleanup_free_ char *body = fmt("{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"web\"}},"
                                                "\"spec\":{\"nodeName\":\"" NODE "\",\"containers\":[{\"name\":\"c\","
                                                "\"image\":\"registry.invalid/web\"}]}}",
                                                pods[i]);
                _cleanup_free_ char *status_path = fmt("/api/v1/namespaces/" APP_NS "/pods/%s/status", pods[i]);
                _cleanup_free_ char *status = fmt("{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.%zu\","
                                                  "\"podIPs\":[{\"ip\":\"10.244.1.%zu\"}],"
                                                  "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                                                  i + 1, i + 1);
                api_ok(f, "POST", "/api/v1/namespaces/" APP_NS "/pods", NULL, body);
                api_ok(f, "PATCH", status_path, "application/merge-patch+json", status);
        }
}

static void test_controller_refused(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *token = NULL, *answer = NULL;
        static const struct {
                const char *method, *path, *content_type, *body;
        } refused[] = {
                /* never deletes or replaces a Service, never reads one alone */
                { "DELETE", "/api/v1/namespaces/" APP_NS "/services/web", NULL, NULL },
                { "PUT", "/api/v1/namespaces/" APP_NS "/services/web", NULL,
                  "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"ports\":[{\"port\":80}]}}" },
                { "GET", "/api/v1/namespaces/" APP_NS "/services/web", NULL, NULL },
                /* no secrets, no config maps, no pods written */
                { "GET", "/api/v1/secrets", NULL, NULL },
                { "GET", "/api/v1/namespaces/" NS "/secrets", NULL, NULL },
                { "GET", "/api/v1/configmaps", NULL, NULL },
                { "DELETE", "/api/v1/namespaces/" APP_NS "/pods/web-1", NULL, NULL },
                /* the pool's spec is the user's */
                { "PATCH", "/apis/metallb.io/v1beta1/namespaces/" NS "/ipaddresspools/default",
                  "application/merge-patch+json", "{\"spec\":{\"autoAssign\":false}}" },
                /* another Lease, or a Lease in another namespace */
                { "PUT", "/apis/coordination.k8s.io/v1/namespaces/" NS "/leases/berth-speaker-" NODE, NULL,
                  "{\"metadata\":{\"name\":\"berth-speaker-" NODE "\"},\"spec\":{}}" },
                { "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", NULL,
                  "{\"metadata\":{\"name\":\"berth-controller\"},\"spec\":{}}" },
                /* no core/v1 events: berth writes events.k8s.io only */
                { "POST", "/api/v1/namespaces/" APP_NS "/events", NULL,
                  "{\"metadata\":{\"name\":\"x\"},\"involvedObject\":{\"name\":\"web\"}}" },
        };

        ensure_applied(f);
        workload_create(f);
        token = token_for(f, "berth-controller");
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                long code = as_code(f, token, refused[i].method, refused[i].path, refused[i].content_type,
                                    refused[i].body, NULL);
                if (code != 403) {
                        fprintf(stderr, "%s %s as berth-controller: %ld, want 403\n", refused[i].method,
                                refused[i].path, code);
                        fail();
                }
        }
        /* ... while the writes it does make pass (dry runs: nothing changes) */
        assert_int_equal(as_code(f, token, "PATCH", "/api/v1/namespaces/" APP_NS "/services/web?dryRun=All",
                                 "application/merge-patch+json",
                                 "{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}",
                                 &answer),
                         200);
        assert_int_equal(as_code(f, token, "PATCH", "/api/v1/namespaces/" APP_NS "/services/web/status?dryRun=All",
                                 "application/merge-patch+json", "{\"status\":{\"loadBalancer\":{}}}", NULL),
                         200);
        assert_int_equal(as_code(f, token, "PATCH",
                                 "/apis/metallb.io/v1beta1/namespaces/" NS "/ipaddresspools/default/status?dryRun=All",
                                 "application/merge-patch+json", "{\"status\":{}}", NULL),
                         200);
}

static char *observe_ingress(Fixture *f, const char *unused) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, "/api/v1/namespaces/" APP_NS "/services/web");
        const JsonValue *ingress = json_get_path(json_doc_root(doc), "status", "loadBalancer", "ingress");
        const JsonValue *meta = json_get(json_doc_root(doc), "metadata");

        (void) unused;
        return fmt("%s %s", json_get_string(json_array_at(ingress, 0), "ip") ?: "-",
                   json_get_string(json_get(meta, "annotations"), "metallb.io/ip-allocated-from-pool") ?: "-");
}

static char *observe_endpoints(Fixture *f, const char *unused) {
        _cleanup_free_ char *body = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        long code = 0;

        (void) unused;
        assert_int_equal(itest_api_call(f->api, "GET", "/api/v1/namespaces/" APP_NS "/endpoints/web", NULL, NULL,
                                        &code, &body),
                         0);
        if (code != 200)
                return fmt("%ld", code);
        doc = parse(body);
        const JsonValue *subset = json_array_at(json_get(json_doc_root(doc), "subsets"), 0);
        const JsonValue *addrs = json_get(subset, "addresses");
        return fmt("%s %s port %s", json_get_string(json_array_at(addrs, 0), "ip") ?: "-",
                   json_get_string(json_array_at(addrs, 1), "ip") ?: "-",
                   int_text(json_get(json_array_at(json_get(subset, "ports"), 0), "port")));
}

/* The Service's slices: endpoint addresses, and whether the owner
 * reference blocks the Service's deletion (the services/finalizers case). */
static char *observe_slices(Fixture *f, const char *unused) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(
                f, "/apis/discovery.k8s.io/v1/namespaces/" APP_NS
                   "/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb");
        const JsonValue *items = json_get(json_doc_root(doc), "items");
        const JsonValue *s = json_array_at(items, 0);
        const JsonValue *eps = json_get(s, "endpoints");
        const JsonValue *owner = json_array_at(json_get_path(s, "metadata", "ownerReferences"), 0);

        (void) unused;
        return fmt("%zu slice(s): %s %s owner %s block=%s", json_array_len(items),
                   str_at(json_get(json_array_at(eps, 0), "addresses"), 0),
                   str_at(json_get(json_array_at(eps, 1), "addresses"), 0),
                   json_get_string(owner, "name") ?: "-", bool_text(json_get(owner, "blockOwnerDeletion")));
}

static char *observe_events(Fixture *f, const char *controller) {
        _cleanup_(json_doc_freep) JsonDoc *doc = api_get(f, "/apis/events.k8s.io/v1/namespaces/" APP_NS "/events");
        const JsonValue *items = json_get(json_doc_root(doc), "items");

        for (size_t i = 0; i < json_array_len(items); i++) {
                const JsonValue *e = json_array_at(items, i);
                if (streq_ptr(json_get_string(e, "reportingController"), controller))
                        return fmt("%s %s %s", json_get_string(e, "reason"),
                                   json_get_string(json_get(e, "regarding"), "name"),
                                   json_get_string(e, "reportingInstance"));
        }
        return fmt("%s", "none");
}

static char *observe_pool(Fixture *f, const char *unused) {
        _cleanup_(json_doc_freep) JsonDoc *doc =
                api_get(f, "/apis/metallb.io/v1beta1/namespaces/" NS "/ipaddresspools/default");
        const JsonValue *st = json_get(json_doc_root(doc), "status");

        (void) unused;
        return fmt("assigned %s available %s", int_text(json_get(st, "assignedIPv4")),
                   int_text(json_get(st, "availableIPv4")));
}

static char *observe_lease(Fixture *f, const char *name) {
        _cleanup_free_ char *path = fmt("/apis/coordination.k8s.io/v1/namespaces/" NS "/leases/%s", name);
        _cleanup_free_ char *body = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        long code = 0;

        assert_int_equal(itest_api_call(f->api, "GET", path, NULL, NULL, &code, &body), 0);
        if (code != 200)
                return fmt("%ld", code);
        doc = parse(body);
        return fmt("holder %s", json_get_string(json_get(json_doc_root(doc), "spec"), "holderIdentity") ?: "-");
}

static void test_controller_runs(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *token = NULL;
        const char *args[] = { NULL, "--leader-elect=true", NULL };
        _cleanup_free_ char *kubeconfig_arg = NULL;

        ensure_applied(f);
        workload_create(f);
        token = token_for(f, "berth-controller");
        f->kubeconfig = kubeconfig_for(f, token);
        kubeconfig_arg = fmt("--kubeconfig=%s", f->kubeconfig);
        args[0] = kubeconfig_arg;
        /* the Deployment's downward API: POD_NAME is the election identity */
        assert_int_equal(setenv("POD_NAME", CONTROLLER_POD, 1), 0);
        assert_int_equal(setenv("POD_NAMESPACE", NS, 1), 0);
        assert_int_equal(itest_berth_start(f->env, args, &f->berth), 0);
        assert_int_equal(unsetenv("POD_NAME"), 0);
        assert_int_equal(unsetenv("POD_NAMESPACE"), 0);

        wait_equal(f, observe_lease, "berth-controller", "holder " CONTROLLER_POD, "leader Lease");
        wait_equal(f, observe_ingress, NULL, "198.51.100.240 default", "Service web's IP");
        wait_equal(f, observe_endpoints, NULL, "10.244.1.1 10.244.1.2 port 8080", "Endpoints web");
        wait_equal(f, observe_slices, NULL, "1 slice(s): 10.244.1.1 10.244.1.2 owner web block=true",
                   "EndpointSlices of web");
        wait_equal(f, observe_events, "berth.io/lbipam-controller", "IPAllocated web " CONTROLLER_POD,
                   "lbipam's event");
        wait_equal(f, observe_pool, NULL, "assigned 1 available 10", "pool status");

        /* SIGTERM: the leader releases its Lease (an update) and exits 0 */
        assert_int_equal(itest_berth_stop(f->berth), 0);
        assert_log_not_forbidden(f->berth->log_path, "berth-controller");
        f->berth = itest_berth_free(f->berth, 0);
        (void) unlink(f->kubeconfig);
        f->kubeconfig = mfree(f->kubeconfig);
}

/* ---- berth-speaker -------------------------------------------------------------------- */

/* speaker.md §2, checked against the code:
 *   speaker/speaker_daemon.c  caches services (LoadBalancer), nodes, pools and
 *                             advertisements (config namespace), endpointslices
 *   speaker/speaker_lease.c   leases: cache (list/watch), create, replace
 *                             (update), a consistent GET, delete with a uid
 *   common/kube/events.c      events.k8s.io POST, PATCH */
#define SPEAKER_CLUSTER_RULES                                 \
        "core nodes list\n"                                   \
        "core nodes watch\n"                                  \
        "core services list\n"                                \
        "core services watch\n"                               \
        "discovery.k8s.io endpointslices list\n"              \
        "discovery.k8s.io endpointslices watch\n"             \
        "events.k8s.io events create\n"                       \
        "events.k8s.io events patch\n"

static void test_speaker_rules(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *token = NULL;

        assert_rules(f, "berth-speaker",
                     "coordination.k8s.io leases create\n"
                     "coordination.k8s.io leases delete\n"
                     "coordination.k8s.io leases get\n"
                     "coordination.k8s.io leases list\n"
                     "coordination.k8s.io leases update\n"
                     "coordination.k8s.io leases watch\n"
                                   SPEAKER_CLUSTER_RULES
                     "metallb.io ipaddresspools list\n"
                     "metallb.io ipaddresspools watch\n"
                     "metallb.io l2advertisements list\n"
                     "metallb.io l2advertisements watch\n",
                     SPEAKER_CLUSTER_RULES);
        token = token_for(f, "berth-speaker");
        /* it never writes a Service or its status */
        assert_int_equal(as_code(f, token, "PATCH", "/api/v1/namespaces/default/services/kubernetes/status",
                                 "application/merge-patch+json", "{\"status\":{}}", NULL),
                         403);
}

static char *speaker_binary(void) {
        _cleanup_free_ char *controller = itest_berth_binary();
        const char *env = getenv("BERTH_SPEAKER");
        char *slash;

        if (env && *env)
                return strdup(env);
        if (!controller || !(slash = strrchr(controller, '/')))
                return NULL;
        *slash = 0;
        return itest_strdupf("%s/berth-speaker", controller);
}

static void speaker_start(Fixture *f, const char *kubeconfig) {
        _cleanup_free_ char *bin = speaker_binary(), *kc = fmt("--kubeconfig=%s", kubeconfig);
        /* No interface is selected: the test sends no frame onto the host's
         * networks, and the speaker reports that it cannot announce. */
        char *argv[] = { bin, kc, (char *) "--node=" NODE, (char *) "--namespace=" NS,
                         (char *) "--exclude-interfaces=.*", (char *) "--metrics-bind-address=0", NULL };
        posix_spawn_file_actions_t fa;
        int fd;

        assert_non_null(bin);
        if (access(bin, X_OK) < 0) {
                fprintf(stderr, "%s is not built\n", bin);
                fail();
        }
        f->speaker_log = fmt("%s/berth-speaker-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        fd = mkstemp(f->speaker_log);
        assert_true(fd >= 0);
        close(fd);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, f->speaker_log, O_WRONLY | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        assert_int_equal(posix_spawn(&f->speaker, bin, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
}

static void speaker_print_log(const Fixture *f) {
        _cleanup_free_ char *log = read_file(f->speaker_log);
        fprintf(stderr, "berth-speaker's log:\n%s\n", log);
}

static void test_speaker_runs(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *token = NULL, *lease = NULL, *event = NULL;
        int status = 0;

        ensure_applied(f);
        workload_create(f);
        {
                /* the speaker announces what the controller wrote: its IP and
                 * its ready endpoints (run alone, this test runs that one first) */
                _cleanup_free_ char *ingress = observe_ingress(f, NULL);
                if (startswith(ingress, "-"))
                        test_controller_runs(state);
        }
        token = token_for(f, "berth-speaker");
        f->kubeconfig = kubeconfig_for(f, token);
        speaker_start(f, f->kubeconfig);

        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT; now_usec(CLOCK_MONOTONIC) < end;) {
                free(lease);
                lease = observe_lease(f, "berth-speaker-" NODE);
                if (streq(lease, "holder " NODE))
                        break;
                usleep(POLL_INTERVAL);
        }
        if (!streq(lease, "holder " NODE))
                speaker_print_log(f);
        assert_string_equal(lease, "holder " NODE);
        /* the only node owns the Service's IP: it reports that (an Event) */
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT; now_usec(CLOCK_MONOTONIC) < end;) {
                free(event);
                event = observe_events(f, "berth.io/speaker");
                if (!streq(event, "none"))
                        break;
                usleep(POLL_INTERVAL);
        }
        printf("speaker's first event: %s\n", event);
        assert_non_null(strstr(event, " web " NODE));

        /* SIGTERM: it leaves (deletes its Lease) and exits 0 */
        assert_int_equal(kill(f->speaker, SIGTERM), 0);
        assert_int_equal(itest_wait_pid(f->speaker, 10 * USEC_PER_SEC, &status), 0);
        f->speaker = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                speaker_print_log(f);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        free(lease);
        lease = observe_lease(f, "berth-speaker-" NODE);
        assert_string_equal(lease, "404");
        assert_log_not_forbidden(f->speaker_log, "berth-speaker");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_apply),
                cmocka_unit_test(test_controller_rules),
                cmocka_unit_test(test_controller_refused),
                cmocka_unit_test(test_controller_runs),
                cmocka_unit_test(test_speaker_rules),
                cmocka_unit_test(test_speaker_runs),
        };

        if (getenv("BERTH_ITEST_FILTER"))
                cmocka_set_test_filter(getenv("BERTH_ITEST_FILTER"));
        return cmocka_run_group_tests(tests, setup, teardown);
}
