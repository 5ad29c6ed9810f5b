/* SPDX-License-Identifier: Apache-2.0 */
/* The test harness itself: the control plane tests/envtest/start gives
 * (RBAC on, tokens, node-port range, restart on the same port and etcd,
 * 410 after compaction + restart) and the fault proxy's commands.  Every
 * other integration test relies on these behaving as documented. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"
#include "macros.h"

static int setup(void **state) {
        ITestEnv *e;

        if (itest_env_load(&e) < 0)
                return -1;
        *state = e;
        return 0;
}

static int teardown(void **state) {
        itest_env_free(*state);
        return 0;
}

/* Value of "field":"value" or "field":number in a JSON body (first match);
 * good enough for the flat fields these tests look at. */
static char *json_field(const char *body, const char *field) {
        char key[128];
        const char *p, *end;

        snprintf(key, sizeof(key), "\"%s\":", field);
        p = body ? strstr(body, key) : NULL;
        if (!p)
                return NULL;
        p += strlen(key);
        while (*p == ' ')
                p++;
        if (*p == '"') {
                p++;
                end = strchr(p, '"');
        } else
                end = p + strcspn(p, ",}");
        return end ? strndup(p, end - p) : NULL;
}

static void test_tokens_and_rbac(void **state) {
        ITestEnv *e = *state;
        long code = 0;

        /* admin is system:masters. */
        assert_int_equal(itest_api(e, NULL, "GET", "/api/v1/namespaces/default", NULL, NULL, &code, NULL), 0);
        assert_int_equal(code, 200);
        /* The other identities authenticate but have no rights: RBAC is on. */
        assert_int_equal(itest_api(e, itest_env_get(e, "BERTH_TOKEN_NOBODY"), "GET", "/api/v1/pods", NULL, NULL,
                                   &code, NULL),
                         0);
        assert_int_equal(code, 403);
        assert_int_equal(itest_api(e, itest_env_get(e, "BERTH_TOKEN_BERTH_CONTROLLER"), "GET", "/api/v1/pods", NULL,
                                   NULL, &code, NULL),
                         0);
        assert_int_equal(code, 403);
        /* An unknown token is not authenticated at all. */
        assert_int_equal(itest_api(e, "not-a-token", "GET", "/api/v1/pods", NULL, NULL, &code, NULL), 0);
        assert_int_equal(code, 401);
        /* The Node authorizer is on: a node may read its own Node object. */
        assert_int_equal(itest_api(e, itest_env_get(e, "BERTH_TOKEN_SYSTEM_NODE_NODE_1"), "GET",
                                   "/api/v1/nodes/node-1", NULL, NULL, &code, NULL),
                         0);
        assert_int_equal(code, 404); /* allowed, and absent */
}

static void test_pods_admitted_without_service_account(void **state) {
        ITestEnv *e = *state;
        _cleanup_free_ char *ns = itest_unique_name(e, "pods"), *body = NULL, *path = NULL;

        assert_non_null(ns);
        assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", "/api/v1/namespaces", body, NULL), 0);
        assert_int_equal(asprintf(&path, "/api/v1/namespaces/%s/pods", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", path,
                                      "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                                      "\"image\":\"x\"}]}}",
                                      NULL),
                         0);
}

static long node_port_of_new_service(ITestEnv *e, const char *ns, const char *name, long *ret_code) {
        _cleanup_free_ char *path = NULL, *body = NULL, *resp = NULL, *port = NULL;
        long code = 0;

        assert_int_equal(asprintf(&path, "/api/v1/namespaces/%s/services", ns) > 0, 1);
        assert_int_equal(asprintf(&body,
                                  "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"type\":\"NodePort\","
                                  "\"ports\":[{\"port\":80}]}}",
                                  name) > 0,
                         1);
        assert_int_equal(itest_api(e, NULL, "POST", path, NULL, body, &code, &resp), 0);
        *ret_code = code;
        port = json_field(resp, "nodePort");
        return port ? strtol(port, NULL, 10) : -1;
}

static void test_restart_keeps_data_and_port(void **state) {
        ITestEnv *e = *state;
        _cleanup_free_ char *ns = itest_unique_name(e, "restart"), *body = NULL, *path = NULL, *before = NULL,
                            *after = NULL, *uid1 = NULL, *uid2 = NULL, *url = NULL, *pid = NULL;
        long code = 0;

        assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", "/api/v1/namespaces", body, &before), 0);
        url = strdup(itest_env_get(e, "BERTH_APISERVER_URL"));
        pid = strdup(itest_env_get(e, "BERTH_APISERVER_PID"));

        assert_int_equal(itest_apiserver(e, "stop"), 0);
        assert_int_equal(itest_api(e, NULL, "GET", "/readyz", NULL, NULL, &code, NULL), -EIO);
        assert_int_equal(itest_apiserver(e, "start"), 0);

        assert_string_equal(itest_env_get(e, "BERTH_APISERVER_URL"), url);
        assert_string_not_equal(itest_env_get(e, "BERTH_APISERVER_PID"), pid);
        assert_int_equal(asprintf(&path, "/api/v1/namespaces/%s", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "GET", path, NULL, &after), 0);
        uid1 = json_field(before, "uid");
        uid2 = json_field(after, "uid");
        assert_non_null(uid1);
        assert_string_equal(uid1, uid2);
}

static void test_restart_with_other_node_port_range(void **state) {
        ITestEnv *e = *state;
        _cleanup_free_ char *ns = itest_unique_name(e, "nodeport"), *body = NULL,
                            *range = strdup(itest_env_get(e, "BERTH_NODE_PORT_RANGE")), *arg = NULL;
        long code = 0, p1, p2;

        assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", "/api/v1/namespaces", body, NULL), 0);

        assert_int_equal(itest_apiserver(e, "restart", "--node-port-range=31100-31101"), 0);
        assert_string_equal(itest_env_get(e, "BERTH_NODE_PORT_RANGE"), "31100-31101");
        p1 = node_port_of_new_service(e, ns, "a", &code);
        assert_int_equal(code, 201);
        p2 = node_port_of_new_service(e, ns, "b", &code);
        assert_int_equal(code, 201);
        assert_true(p1 >= 31100 && p1 <= 31101);
        assert_true(p2 >= 31100 && p2 <= 31101);
        assert_int_not_equal(p1, p2);
        /* Two ports, both taken: the third Service is refused (1.33 answers
         * 500 InternalError "failed to allocate a nodePort: range is full"). */
        (void) node_port_of_new_service(e, ns, "c", &code);
        assert_int_equal(code, 500);
        /* A port outside the new range is invalid. */
        {
                _cleanup_free_ char *path = NULL, *resp = NULL;
                assert_int_equal(asprintf(&path, "/api/v1/namespaces/%s/services", ns) > 0, 1);
                assert_int_equal(itest_api(e, NULL, "POST", path, NULL,
                                           "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"type\":\"NodePort\","
                                           "\"ports\":[{\"port\":80,\"nodePort\":30000}]}}",
                                           &code, &resp),
                                 0);
                assert_int_equal(code, 422);
                assert_non_null(strstr(resp, "not in the valid range"));
        }

        assert_int_equal(asprintf(&arg, "--node-port-range=%s", range) > 0, 1);
        assert_int_equal(itest_apiserver(e, "restart", arg), 0);
        assert_string_equal(itest_env_get(e, "BERTH_NODE_PORT_RANGE"), range);
}

static void test_compaction_and_restart_give_410(void **state) {
        ITestEnv *e = *state;
        _cleanup_free_ char *ns = itest_unique_name(e, "compact"), *body = NULL, *resp = NULL, *rv = NULL,
                            *path = NULL, *watch = NULL, *cm = NULL;
        long long rev = 0;
        long code = 0;

        assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", "/api/v1/namespaces", body, &resp), 0);
        rv = json_field(resp, "resourceVersion");
        assert_non_null(rv);
        assert_int_equal(asprintf(&cm, "/api/v1/namespaces/%s/configmaps", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", cm, "{\"metadata\":{\"name\":\"m\"}}", NULL), 0);

        assert_int_equal(itest_etcd_compact(e, &rev), 0);
        assert_true(rev > strtoll(rv, NULL, 10));
        /* A new watch cache starts at the current revision: older is gone. */
        assert_int_equal(itest_apiserver(e, "restart"), 0);
        assert_int_equal(asprintf(&watch, "/api/v1/namespaces?watch=1&timeoutSeconds=1&resourceVersion=%s", rv) > 0,
                         1);
        free(resp);
        resp = NULL;
        assert_int_equal(itest_api(e, NULL, "GET", watch, NULL, NULL, &code, &resp), 0);
        assert_non_null(strstr(resp, "\"code\":410"));
}

static void create_namespace_and_read_etcd(ITestEnv *e, const char *prefix, char **ret, size_t *ret_len) {
        _cleanup_free_ char *ns = itest_unique_name(e, prefix), *body = NULL, *key = NULL;

        assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", ns) > 0, 1);
        assert_int_equal(itest_api_ok(e, "POST", "/api/v1/namespaces", body, NULL), 0);
        assert_int_equal(asprintf(&key, "/registry/namespaces/%s", ns) > 0, 1);
        assert_int_equal(itest_etcd_get(e, key, ret, ret_len), 0);
}

static void test_storage_media_type(void **state) {
        ITestEnv *e = *state;
        _cleanup_free_ char *json = NULL, *proto = NULL;
        size_t len = 0;

        /* Default: protobuf, which etcd holds with the "k8s\0" magic prefix. */
        assert_string_equal(itest_env_get(e, "BERTH_STORAGE_MEDIA_TYPE"), "application/vnd.kubernetes.protobuf");
        create_namespace_and_read_etcd(e, "proto", &proto, &len);
        assert_true(len > 4);
        assert_memory_equal(proto, "k8s\0", 4);

        assert_int_equal(itest_apiserver(e, "restart", "--storage-media-type=application/json"), 0);
        assert_string_equal(itest_env_get(e, "BERTH_STORAGE_MEDIA_TYPE"), "application/json");
        create_namespace_and_read_etcd(e, "json", &json, &len);
        assert_true(len > 0);
        assert_int_equal(json[0], '{');
        assert_non_null(strstr(json, "\"kind\":\"Namespace\""));

        assert_int_equal(itest_apiserver(e, "restart", "--storage-media-type=application/vnd.kubernetes.protobuf"),
                         0);
}

/* A TCP connection to the proxy; sends a plaintext HTTP request, which Go's
 * TLS server answers in plaintext ("HTTP/1.0 400 ...") without a handshake. */
static int proxy_connect(const ITestProxy *p) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) p->port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* Bytes read within timeout_ms: > 0 data, 0 EOF, -ETIMEDOUT silence, -errno. */
static int read_within(int fd, int timeout_ms, char *buf, size_t size) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;
        int r = poll(&pfd, 1, timeout_ms);

        if (r == 0)
                return -ETIMEDOUT;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int) n;
}

static const char plain_request[] = "GET / HTTP/1.0\r\n\r\n";

static void test_proxy(void **state) {
        ITestEnv *e = *state;
        ITestProxy *p = NULL;
        _cleanup_free_ char *answer = NULL;
        char buf[512];
        long code = 0;
        int a, b, r;

        assert_int_equal(itest_proxy_start(e, &p), 0);

        /* Pass-through: bytes go both ways unchanged. */
        a = proxy_connect(p);
        assert_int_equal(write(a, plain_request, strlen(plain_request)), (ssize_t) strlen(plain_request));
        r = read_within(a, 5000, buf, sizeof(buf));
        assert_true(r > 0);
        assert_true(startswith(buf, "HTTP/1.0 400"));
        close(a);

        /* pause: the open connection goes silent, a new one still passes;
         * resume delivers what was held. */
        a = proxy_connect(p);
        usleep(100000); /* let the proxy accept it before it is paused */
        assert_int_equal(itest_proxy_send(p, "pause", &answer), 0);
        assert_string_equal(answer, "ok paused=1");
        assert_int_equal(write(a, plain_request, strlen(plain_request)), (ssize_t) strlen(plain_request));
        assert_int_equal(read_within(a, 500, buf, sizeof(buf)), -ETIMEDOUT);
        b = proxy_connect(p);
        assert_int_equal(write(b, plain_request, strlen(plain_request)), (ssize_t) strlen(plain_request));
        assert_true(read_within(b, 5000, buf, sizeof(buf)) > 0);
        close(b);
        assert_int_equal(itest_proxy_send(p, "resume", NULL), 0);
        assert_true(read_within(a, 5000, buf, sizeof(buf)) > 0);
        assert_true(startswith(buf, "HTTP/1.0 400"));
        close(a);

        /* drop: every open connection is closed at once. */
        a = proxy_connect(p);
        b = proxy_connect(p);
        usleep(100000);
        free(answer);
        answer = NULL;
        assert_int_equal(itest_proxy_send(p, "drop", &answer), 0);
        assert_string_equal(answer, "ok dropped=2");
        assert_int_equal(read_within(a, 2000, buf, sizeof(buf)), 0);
        assert_int_equal(read_within(b, 2000, buf, sizeof(buf)), 0);
        close(a);
        close(b);

        /* refuse: new connections are closed at once; normal ends that. */
        assert_int_equal(itest_proxy_send(p, "refuse", NULL), 0);
        a = proxy_connect(p);
        r = read_within(a, 2000, buf, sizeof(buf));
        assert_true(r == 0 || r == -ECONNRESET);
        close(a);
        assert_int_equal(itest_proxy_send(p, "normal", NULL), 0);

        /* hang: new connections are accepted but silent. */
        assert_int_equal(itest_proxy_send(p, "hang", NULL), 0);
        a = proxy_connect(p);
        assert_int_equal(write(a, plain_request, strlen(plain_request)), (ssize_t) strlen(plain_request));
        assert_int_equal(read_within(a, 500, buf, sizeof(buf)), -ETIMEDOUT);
        assert_int_equal(itest_proxy_send(p, "normal", NULL), 0);
        assert_true(read_within(a, 5000, buf, sizeof(buf)) > 0);
        close(a);

        /* Unknown commands are refused, not ignored. */
        assert_int_equal(itest_proxy_send(p, "explode", NULL), -EBADMSG);

        /* The apiserver down behind the proxy: the client's connection is closed. */
        assert_int_equal(itest_apiserver(e, "stop"), 0);
        a = proxy_connect(p);
        r = read_within(a, 2000, buf, sizeof(buf));
        assert_true(r == 0 || r == -ECONNRESET);
        close(a);
        assert_int_equal(itest_apiserver(e, "start"), 0);
        assert_int_equal(itest_api(e, NULL, "GET", "/readyz", NULL, NULL, &code, NULL), 0);
        assert_int_equal(code, 200);

        itest_proxy_stop(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tokens_and_rbac),
                cmocka_unit_test(test_pods_admitted_without_service_account),
                cmocka_unit_test(test_proxy),
                cmocka_unit_test(test_restart_keeps_data_and_port),
                cmocka_unit_test(test_restart_with_other_node_port_range),
                cmocka_unit_test(test_compaction_and_restart_give_410),
                cmocka_unit_test(test_storage_media_type),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
