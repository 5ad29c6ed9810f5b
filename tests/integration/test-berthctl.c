/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl status against the real kube-apiserver with the metallb.io CRDs:
 * berth-controller runs briefly to give a LoadBalancer Service an address
 * (kube-apiserver allocates its node port), then berthctl reads the
 * cluster (table and -o json) and must show the pool's size and use, the
 * Service with its IP, the node-port bands, and exit 0; a duplicate node
 * port outside the range berthctl is told is a conflict (exit 1); a kubeconfig naming a server
 * nobody listens on exits 3.  berthctl never writes: the Services'
 * resourceVersions are unchanged after it ran. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest-berth.h"
#include "itest.h"
#include "json.h"
#include "macros.h"

#define CONFIG_NS "berth-system"
#define NS "berthctl-itest"
#define POOLS_PATH "/apis/metallb.io/v1beta1/namespaces/" CONFIG_NS "/ipaddresspools"
#define SERVICES_PATH "/api/v1/namespaces/" NS "/services"
#define CONVERGE_TIMEOUT (30 * USEC_PER_SEC)
#define POLL_INTERVAL (100 * USEC_PER_MSEC)

#define fmt itest_fmt

typedef struct Fixture {
        ITestEnv *env;
        ITestApi *api;
        char *berthctl;
        char *kubeconfig;
} Fixture;

/* BUILDDIR/tests/integration/test-berthctl -> BUILDDIR/berthctl/berthctl */
static char *berthctl_binary(void) {
        _cleanup_free_ char *controller = itest_berth_binary();
        char *slash = controller ? strrchr(controller, '/') : NULL;

        if (!slash)
                return NULL;
        *slash = '\0';
        return fmt("%s/berthctl/berthctl", controller);
}

/* Runs berthctl with args (a shell word list), its stdout in *ret_out;
 * returns its exit status. */
static int run_berthctl(Fixture *f, const char *args, char **ret_out) {
        _cleanup_free_ char *cmd = fmt("'%s' %s 2>&1", f->berthctl, args);
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size), *p = popen(cmd, "r");
        char buf[4096];
        size_t n;
        int status;

        assert_non_null(m);
        assert_non_null(p);
        while ((n = fread(buf, 1, sizeof buf, p)) > 0)
                fwrite(buf, 1, n, m);
        status = pclose(p);
        fclose(m);
        *ret_out = TAKE_PTR(out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int64_t int_of(const JsonValue *v) {
        int64_t n = -1;
        (void) json_int64(v, &n);
        return n;
}

static const JsonValue *find_named(const JsonValue *array, const char *name) {
        const JsonValue *v;
        JSON_ARRAY_FOREACH(v, array)
                if (streq_ptr(json_get_string(v, "name"), name))
                        return v;
        return NULL;
}

static char *service_ip(Fixture *f, const char *name) {
        _cleanup_free_ char *path = fmt(SERVICES_PATH "/%s", name);
        _cleanup_(json_doc_freep) JsonDoc *doc = itest_api_get_json(f->api, path);
        const JsonValue *ing = json_get_path(json_doc_root(doc), "status", "loadBalancer", "ingress");
        const char *ip = json_get_string(json_array_at(ing, 0), "ip");

        return ip ? strdup(ip) : NULL;
}

static char *resource_versions(Fixture *f) {
        _cleanup_(json_doc_freep) JsonDoc *doc = itest_api_get_json(f->api, SERVICES_PATH);
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);
        const JsonValue *item;

        assert_non_null(m);
        JSON_ARRAY_FOREACH(item, json_get(json_doc_root(doc), "items"))
                fprintf(m, "%s=%s ", json_get_string(json_get(item, "metadata"), "name"),
                        json_get_string(json_get(item, "metadata"), "resourceVersion"));
        fclose(m);
        return TAKE_PTR(out);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || itest_env_load(&f->env) < 0 || itest_api_client_new(f->env, &f->api) < 0)
                return -1;
        f->berthctl = berthctl_binary();
        f->kubeconfig = strdup(strempty(itest_env_get(f->env, "KUBECONFIG")));
        if (!f->berthctl || access(f->berthctl, X_OK) < 0 || isempty(f->kubeconfig))
                return -1;
        if (itest_metallb_crds_install(f->env, CONFIG_NS) < 0)
                return -1;
        (void) itest_api_call(f->api, "POST", "/api/v1/namespaces", NULL,
                              "{\"metadata\":{\"name\":\"" CONFIG_NS "\"}}", NULL, NULL);
        if (itest_api_call_ok(f->api, "POST", "/api/v1/namespaces", NULL, "{\"metadata\":{\"name\":\"" NS "\"}}",
                              NULL) < 0 ||
            itest_api_call_ok(f->api, "POST", "/apis/metallb.io/v1beta1/namespaces/" CONFIG_NS "/l2advertisements",
                              NULL,
                              "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"L2Advertisement\","
                              "\"metadata\":{\"name\":\"berthctl\"},\"spec\":{}}",
                              NULL) < 0 ||
            itest_api_call_ok(f->api, "POST", POOLS_PATH, NULL,
                              "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"IPAddressPool\","
                              "\"metadata\":{\"name\":\"bctl\"},\"spec\":{\"addresses\":[\"203.0.113.0/29\"]}}",
                              NULL) < 0 ||
            itest_api_call_ok(f->api, "POST", SERVICES_PATH, NULL,
                              "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"type\":\"LoadBalancer\","
                              "\"ports\":[{\"port\":80}]}}",
                              NULL) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        itest_api_client_free(f->api);
        itest_env_free(f->env);
        free(f->berthctl);
        free(f->kubeconfig);
        free(f);
        return 0;
}

/* berth-controller until web has its IP, then stopped: berthctl reads a
 * cluster nobody changes meanwhile. */
static void test_allocate(void **state) {
        Fixture *f = *state;
        static const char *const args[] = { "--controllers=lbipam", NULL };
        ITestBerth *b = NULL;
        char *ip = NULL;

        assert_int_equal(itest_berth_start(f->env, args, &b), 0);
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + CONVERGE_TIMEOUT;
             !(ip = service_ip(f, "web")) && now_usec(CLOCK_MONOTONIC) < end;)
                usleep(POLL_INTERVAL);
        if (!ip)
                itest_berth_print_log(b, 40);
        assert_non_null(ip);
        assert_true(startswith(ip, "203.0.113."));
        assert_int_equal(itest_berth_stop(b), 0);
        itest_berth_free(b, 0);
        free(ip);
}

static void test_status_json(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *args = fmt("status --kubeconfig '%s' -o json", f->kubeconfig);
        _cleanup_free_ char *out = NULL, *ip = service_ip(f, "web"), *before = resource_versions(f), *after = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        int rc = run_berthctl(f, args, &out);

        if (rc != 0)
                fprintf(stderr, "berthctl exited %d:\n%s\n", rc, out);
        assert_int_equal(rc, 0);
        doc = itest_parse_json(out);
        assert_non_null(doc);
        const JsonValue *root = json_doc_root(doc);
        assert_string_equal(json_get_string(root, "source"), "cluster");

        const JsonValue *pool = find_named(json_get(root, "pools"), "bctl");
        assert_non_null(pool);
        assert_int_equal(int_of(json_get(pool, "size")), 8);
        assert_int_equal(int_of(json_get(pool, "used")), 1);
        assert_int_equal(int_of(json_get(pool, "free")), 7);

        const JsonValue *svc = find_named(json_get(root, "services"), "web");
        assert_non_null(svc);
        assert_string_equal(json_get_string(svc, "namespace"), NS);
        assert_string_equal(json_get_string(svc, "pool"), "bctl");
        assert_string_equal(json_get_string(json_array_at(json_get(svc, "ips"), 0), "ip"), ip);

        /* kube-apiserver gave web its node port: one port in the dynamic band */
        const JsonValue *np = json_get(root, "nodePorts");
        assert_string_equal(json_get_string(np, "range"), "30000-32767");
        assert_true(int_of(json_get_path(np, "bands", "dynamic", "allocated")) +
                            int_of(json_get_path(np, "bands", "static", "allocated")) >=
                    1);
        assert_int_equal(json_array_len(json_get(np, "problems")), 0);
        assert_int_equal(json_array_len(json_get(root, "problems")), 0);

        after = resource_versions(f);
        assert_string_equal(before, after);
}

static void test_status_table(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *args = fmt("status --kubeconfig '%s'", f->kubeconfig);
        _cleanup_free_ char *out = NULL, *ip = service_ip(f, "web"), *row = NULL;
        int rc = run_berthctl(f, args, &out);

        if (rc != 0)
                fprintf(stderr, "berthctl exited %d:\n%s\n", rc, out);
        assert_int_equal(rc, 0);
        row = fmt("\n" NS "/web  %s", ip);
        assert_non_null(strstr(out, row));
        assert_non_null(strstr(out, "\nbctl  "));
        assert_non_null(strstr(out, "\nNODE PORTS (range 30000-32767)\n"));
        for (const char *line = out; *line;) {
                size_t len = strcspn(line, "\n");
                assert_true(len <= 100);
                line += len + (line[len] == '\n');
        }
}

static int64_t service_node_port(Fixture *f, const char *name) {
        _cleanup_free_ char *path = fmt(SERVICES_PATH "/%s", name);
        _cleanup_(json_doc_freep) JsonDoc *doc = itest_api_get_json(f->api, path);

        return int_of(json_get(json_array_at(json_get_path(json_doc_root(doc), "spec", "ports"), 0), "nodePort"));
}

/* kube-apiserver gave web a node port; told a range that leaves it out,
 * berthctl nodeports must report the port out of range and exit 1. */
static void test_nodeport_conflict(void **state) {
        Fixture *f = *state;
        int64_t port = service_node_port(f, "web");
        _cleanup_free_ char *args = NULL, *out = NULL, *row = NULL;

        assert_true(port > 0 && port < 65000);
        args = fmt("nodeports --kubeconfig '%s' --service-node-port-range %" PRIi64 "-%" PRIi64, f->kubeconfig,
                   port + 1, port + 100);
        int rc = run_berthctl(f, args, &out);
        if (rc != 1)
                fprintf(stderr, "berthctl exited %d:\n%s\n", rc, out);
        assert_int_equal(rc, 1);
        row = fmt("\n%" PRIi64 "  PortOutOfRange  " NS "/web\n", port);
        assert_non_null(strstr(out, row));
        assert_null(strstr(out, "POOLS"));
}

static void test_unreachable(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *dir = itest_unique_name(f->env, "/tmp/berthctl-kc-");
        _cleanup_free_ char *args = NULL, *out = NULL;
        FILE *kc = fopen(dir, "we");

        assert_non_null(kc);
        fputs("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n"
              "users:\n- name: u\n  user: {token: x}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
              "current-context: x\n",
              kc);
        fclose(kc);
        args = fmt("status --kubeconfig '%s' --timeout 5s", dir);
        assert_int_equal(run_berthctl(f, args, &out), 3);
        assert_non_null(strstr(out, "berthctl: cannot reach the cluster at https://127.0.0.1:1"));
        unlink(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_allocate),
                cmocka_unit_test(test_status_json),
                cmocka_unit_test(test_status_table),
                cmocka_unit_test(test_nodeport_conflict),
                cmocka_unit_test(test_unreachable),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
