/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig loading (files, inline data, contexts, validation errors that
 * name file/user/cluster/field), the in-cluster service account, the load
 * order, and credentials (token file rotation, exec plugins). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubeconfig.h"

static char dir[256];
static char *ca_b64, *cert_b64, *key_b64, *other_key_b64;

static void write_file(const char *path, const char *content, mode_t mode) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static char *read_b64(const char *name) {
        char cmd[512], *buf = NULL;
        size_t cap = 0;
        FILE *p;
        ssize_t n;

        snprintf(cmd, sizeof cmd, "base64 -w0 %s/%s", dir, name);
        p = popen(cmd, "r");
        assert_non_null(p);
        n = getline(&buf, &cap, p);
        assert_true(n > 0);
        pclose(p);
        return buf;
}

static int setup(void **state) {
        char cmd[2048];
        (void) state;

        snprintf(dir, sizeof dir, "/tmp/berth-test-kubeconfig-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(cmd, sizeof cmd,
                 "set -e; cd %s; "
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt "
                 "  -subj /CN=test-ca -days 2 2>/dev/null; "
                 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr "
                 "  -subj /CN=test-user 2>/dev/null; "
                 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 "
                 "  2>/dev/null; "
                 "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null; "
                 "printf 'not a certificate\\n' > bad.pem; mkdir sub; printf 'tok-from-file\\n' > token",
                 dir);
        assert_int_equal(system(cmd), 0);
        ca_b64 = read_b64("ca.crt");
        cert_b64 = read_b64("client.crt");
        key_b64 = read_b64("client.key");
        other_key_b64 = read_b64("other.key");
        return 0;
}

static int teardown(void **state) {
        char cmd[512];
        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        free(ca_b64);
        free(cert_b64);
        free(key_b64);
        free(other_key_b64);
        return 0;
}

/* Replaces @CA@ @CERT@ @KEY@ @OTHERKEY@ (base64) and @DIR@ in a template. */
static char *expand(const char *t) {
        size_t cap = strlen(t) + 4 * 8192, o = 0;
        char *out = malloc(cap);
        assert_non_null(out);
        while (*t) {
                const char *rep = NULL;
                size_t skip = 0;
                if (startswith(t, "@CA@"))
                        rep = ca_b64, skip = 4;
                else if (startswith(t, "@CERT@"))
                        rep = cert_b64, skip = 6;
                else if (startswith(t, "@KEY@"))
                        rep = key_b64, skip = 5;
                else if (startswith(t, "@OTHERKEY@"))
                        rep = other_key_b64, skip = 10;
                else if (startswith(t, "@DIR@"))
                        rep = dir, skip = 5;
                if (rep) {
                        size_t n = strlen(rep);
                        assert_true(o + n < cap);
                        memcpy(out + o, rep, n);
                        o += n;
                        t += skip;
                } else {
                        assert_true(o + 1 < cap);
                        out[o++] = *t++;
                }
        }
        out[o] = '\0';
        return out;
}

static int load_text(const char *tmpl, const char *context, KubeConfig **ret, char **ret_error) {
        char path[512];
        _cleanup_free_ char *text = expand(tmpl);
        snprintf(path, sizeof path, "%s/kc.yaml", dir);
        write_file(path, text, 0600);
        return kube_config_load_file(path, context, ret, ret_error);
}

#define HEAD                                                                                    \
        "apiVersion: v1\nkind: Config\ncurrent-context: main\n"                                \
        "contexts:\n- name: main\n  context: {cluster: c1, user: u1, namespace: team-a}\n"

static void test_valid_configs(void **state) {
        char expect[512];
        (void) state;

        {
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                assert_int_equal(load_text(HEAD "clusters:\n- name: c1\n  cluster:\n"
                                                "    server: https://127.0.0.1:6443/\n"
                                                "    certificate-authority-data: @CA@\n"
                                                "users:\n- name: u1\n  user:\n"
                                                "    client-certificate-data: @CERT@\n"
                                                "    client-key-data: @KEY@\n",
                                           NULL, &c, &err),
                                 0);
                assert_string_equal(c->server, "https://127.0.0.1:6443");
                assert_string_equal(c->context, "main");
                assert_string_equal(c->namespace, "team-a");
                assert_true(c->ca_data_len > 100);
                assert_memory_equal(c->ca_data, "-----BEGIN CERTIFICATE-----", 27);
                assert_memory_equal(c->cert_data, "-----BEGIN CERTIFICATE-----", 27);
                assert_non_null(c->key_data);
                assert_null(c->ca_file);
                assert_null(c->token);
                assert_false(c->insecure_skip_tls_verify);
        }
        {
                /* Relative paths are relative to the kubeconfig's directory; absolute ones stay. */
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                int r = load_text(HEAD "clusters:\n- name: c1\n  cluster:\n"
                                       "    server: 127.0.0.1:6443\n"
                                       "    certificate-authority: ca.crt\n"
                                       "    tls-server-name: kubernetes.default\n"
                                       "users:\n- name: u1\n  user:\n"
                                       "    client-certificate: sub/../client.crt\n"
                                       "    client-key: @DIR@/client.key\n"
                                       "    tokenFile: token\n",
                                  NULL, &c, &err);
                if (r < 0)
                        fail_msg("%s", err);
                assert_string_equal(c->server, "https://127.0.0.1:6443");
                snprintf(expect, sizeof expect, "%s/ca.crt", dir);
                assert_string_equal(c->ca_file, expect);
                snprintf(expect, sizeof expect, "%s/sub/../client.crt", dir);
                assert_string_equal(c->cert_file, expect);
                snprintf(expect, sizeof expect, "%s/client.key", dir);
                assert_string_equal(c->key_file, expect);
                snprintf(expect, sizeof expect, "%s/token", dir);
                assert_string_equal(c->token_file, expect);
                assert_string_equal(c->tls_server_name, "kubernetes.default");
        }
        {
                /* current-context picks the context; an explicit one overrides it. Token beats tokenFile. */
                static const char *tmpl = "current-context: b\n"
                                          "contexts:\n- name: a\n  context: {cluster: ca}\n"
                                          "- name: b\n  context: {cluster: cb, user: ub}\n"
                                          "clusters:\n- name: ca\n  cluster: {server: 'https://a:1', "
                                          "insecure-skip-tls-verify: true}\n"
                                          "- name: cb\n  cluster: {server: 'https://b:2'}\n"
                                          "users:\n- name: ub\n  user: {token: sekrit, tokenFile: /nonexistent}\n";
                _cleanup_(kube_config_freep) KubeConfig *a = NULL, *b = NULL;
                assert_int_equal(load_text(tmpl, NULL, &b, NULL), 0);
                assert_string_equal(b->server, "https://b:2");
                assert_string_equal(b->token, "sekrit");
                assert_null(b->token_file);
                assert_null(b->namespace);
                assert_int_equal(load_text(tmpl, "a", &a, NULL), 0);
                assert_string_equal(a->server, "https://a:1");
                assert_true(a->insecure_skip_tls_verify);
                assert_null(a->token);
        }
        {
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                int r = load_text(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                                       "users:\n- name: u1\n  user:\n    exec:\n"
                                       "      apiVersion: client.authentication.k8s.io/v1\n"
                                       "      command: ./bin/plugin\n"
                                       "      args: [get-token, --cluster, x]\n"
                                       "      env:\n      - {name: FOO, value: bar}\n"
                                       "      provideClusterInfo: true\n"
                                       "      interactiveMode: Never\n",
                                  NULL, &c, &err);
                if (r < 0)
                        fail_msg("%s", err);
                snprintf(expect, sizeof expect, "%s/./bin/plugin", dir);
                assert_string_equal(c->exec.command, expect);
                assert_string_equal(c->exec.args[0], "get-token");
                assert_string_equal(c->exec.args[2], "x");
                assert_null(c->exec.args[3]);
                assert_string_equal(c->exec.env[0], "FOO=bar");
                assert_null(c->exec.env[1]);
                assert_string_equal(c->exec.api_version, "client.authentication.k8s.io/v1");
                assert_true(c->exec.provide_cluster_info);
        }
}

static void test_invalid_configs(void **state) {
        static const struct {
                const char *tmpl;
                int error;
                const char *message;
        } cases[] = {
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority: nope.crt}\n",
                  -ENOENT, "kc.yaml: cluster \"c1\": certificate-authority: cannot read @DIR@/nope.crt" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority: bad.pem}\n",
                  -EINVAL, "kc.yaml: cluster \"c1\": certificate-authority: no PEM certificate in @DIR@/bad.pem" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority-data: '!!x'}\n",
                  -EINVAL, "kc.yaml: cluster \"c1\": certificate-authority-data: not valid base64" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority-data: 'aGVsbG8'}\n",
                  -EINVAL, "cluster \"c1\": certificate-authority-data: not valid base64" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority-data: 'aGVsbG8K'}\n",
                  -EINVAL, "cluster \"c1\": certificate-authority-data: no PEM certificate" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {client-certificate: bad.pem, client-key: client.key}\n",
                  -EINVAL, "kc.yaml: user \"u1\": client-certificate: no PEM certificate in @DIR@/bad.pem" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {client-certificate-data: @CERT@, client-key-data: @OTHERKEY@}\n",
                  -EINVAL, "kc.yaml: user \"u1\": client-key-data: the key does not match the client certificate" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {client-certificate-data: @CERT@, client-key-data: @CA@}\n",
                  -EINVAL, "kc.yaml: user \"u1\": client-key-data: no usable PEM private key" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {client-certificate-data: @CERT@}\n",
                  -EINVAL, "user \"u1\": client-key: missing" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {tokenFile: missing-token}\n",
                  -ENOENT, "kc.yaml: user \"u1\": tokenFile: cannot read @DIR@/missing-token" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {exec: {command: foo}}\n",
                  -EINVAL, "user \"u1\": exec.apiVersion: must be" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                       "users:\n- name: u1\n  user: {auth-provider: {name: gcp}}\n",
                  -EOPNOTSUPP, "user \"u1\": auth-provider: not supported" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\nusers: []\n", -ENOENT,
                  "kc.yaml: user \"u1\": not found in users (named by context \"main\")" },
                { HEAD "clusters:\n- name: other\n  cluster: {server: 'https://x'}\n", -ENOENT,
                  "kc.yaml: cluster \"c1\": not found in clusters" },
                { HEAD "clusters:\n- name: c1\n  cluster: {insecure-skip-tls-verify: true}\n", -EINVAL,
                  "kc.yaml: cluster \"c1\": server: missing" },
                { HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', insecure-skip-tls-verify: 'yes'}\n",
                  -EINVAL, "cluster \"c1\": insecure-skip-tls-verify: must be true or false" },
                { "current-context: zzz\ncontexts: []\n", -ENOENT, "kc.yaml: context \"zzz\": not found in contexts" },
                { "clusters: []\n", -EINVAL, "kc.yaml: current-context: not set" },
                { "- just\n- a list\n", -EINVAL, "kc.yaml: not a kubeconfig" },
                { "a: [1, 2\n", -EINVAL, "kc.yaml: document 1, line 2" },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL, *want = expand(cases[i].message);
                int r = load_text(cases[i].tmpl, NULL, &c, &err);
                if (r != cases[i].error || !err || !strstr(err, want))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, err, cases[i].error, want);
                assert_null(c);
        }
        {
                _cleanup_free_ char *err = NULL;
                KubeConfig *c = NULL;
                char path[512];
                snprintf(path, sizeof path, "%s/does-not-exist.yaml", dir);
                assert_int_equal(kube_config_load_file(path, NULL, &c, &err), -ENOENT);
                assert_non_null(strstr(err, "does-not-exist.yaml: cannot read"));
        }
}

static void test_in_cluster_and_load_order(void **state) {
        char sa[300], path[1024], cmd[4096], home[300];
        (void) state;

        snprintf(sa, sizeof sa, "%s/sa", dir);
        snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/ca.crt %s/ && printf 'sa-token\\n' > %s/token && "
                                  "printf 'berth-system\\n' > %s/namespace", sa, dir, sa, sa, sa);
        assert_int_equal(system(cmd), 0);
        setenv(KUBE_SERVICEACCOUNT_DIR_ENV, sa, 1);
        setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "443", 1);
        unsetenv("KUBECONFIG");
        {
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                assert_int_equal(kube_config_load(NULL, &c, &err), 0);
                assert_string_equal(c->server, "https://[fd00::1]:443");
                assert_string_equal(c->source, "in-cluster");
                assert_string_equal(c->namespace, "berth-system");
                snprintf(path, sizeof path, "%s/token", sa);
                assert_string_equal(c->token_file, path);
                snprintf(path, sizeof path, "%s/ca.crt", sa);
                assert_string_equal(c->ca_file, path);
        }
        {
                /* $KUBECONFIG (its first entry) wins over in-cluster; an explicit path over both. */
                _cleanup_(kube_config_freep) KubeConfig *c = NULL, *d = NULL;
                char kc2[512], env[2048];
                snprintf(path, sizeof path, "%s/first.yaml", dir);
                write_file(path, "current-context: x\ncontexts: [{name: x, context: {cluster: x}}]\n"
                                 "clusters: [{name: x, cluster: {server: 'https://first:1'}}]\n", 0600);
                snprintf(kc2, sizeof kc2, "%s/second.yaml", dir);
                write_file(kc2, "current-context: x\ncontexts: [{name: x, context: {cluster: x}}]\n"
                                "clusters: [{name: x, cluster: {server: 'https://second:1'}}]\n", 0600);
                snprintf(env, sizeof env, ":%s:%s", path, kc2);
                setenv("KUBECONFIG", env, 1);
                assert_int_equal(kube_config_load(NULL, &c, NULL), 0);
                assert_string_equal(c->server, "https://first:1");
                assert_int_equal(kube_config_load(kc2, &d, NULL), 0);
                assert_string_equal(d->server, "https://second:1");
        }
        {
                /* In-cluster with the token missing: an error naming the file. */
                _cleanup_free_ char *err = NULL;
                KubeConfig *c = NULL;
                snprintf(cmd, sizeof cmd, "rm %s/token", sa);
                assert_int_equal(system(cmd), 0);
                unsetenv("KUBECONFIG");
                assert_int_equal(kube_config_load(NULL, &c, &err), -ENOENT);
                assert_non_null(strstr(err, "in-cluster config: token: cannot read"));
        }
        {
                /* Nothing configured, HOME without .kube/config: -ENOENT and a hint. */
                _cleanup_(kube_config_freep) KubeConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                unsetenv("KUBERNETES_SERVICE_HOST");
                snprintf(home, sizeof home, "%s/home", dir);
                assert_int_equal(mkdir(home, 0700), 0);
                setenv("HOME", home, 1);
                assert_int_equal(kube_config_load(NULL, &c, &err), -ENOENT);
                assert_non_null(strstr(err, "no kubeconfig"));
                free(err);
                err = NULL;
                snprintf(cmd, sizeof cmd, "mkdir %s/.kube && cp %s/first.yaml %s/.kube/config", home, dir, home);
                assert_int_equal(system(cmd), 0);
                assert_int_equal(kube_config_load(NULL, &c, &err), 0);
                assert_string_equal(c->server, "https://first:1");
        }
        unsetenv(KUBE_SERVICEACCOUNT_DIR_ENV);
        unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_token_file_rotation(void **state) {
        _cleanup_(kube_credentials_freep) KubeCredentials *k = NULL;
        KubeConfig c = {};
        char path[512], tmp[512];
        const char *t = NULL;
        (void) state;

        snprintf(path, sizeof path, "%s/rotating-token", dir);
        snprintf(tmp, sizeof tmp, "%s/rotating-token.new", dir);
        write_file(path, "first-token\n", 0600);
        c.token_file = path;
        assert_int_equal(kube_credentials_new(&c, &k), 0);
        assert_int_equal(kube_credentials_token(k, &t, NULL), 0);
        assert_string_equal(t, "first-token");

        /* Rotated as kubelet does: a new file renamed over the old one. */
        write_file(tmp, "second-token\n", 0600);
        assert_int_equal(rename(tmp, path), 0);
        assert_int_equal(kube_credentials_token(k, &t, NULL), 0);
        assert_string_equal(t, "second-token");

        /* Briefly gone: the last token is kept. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(kube_credentials_token(k, &t, NULL), 0);
        assert_string_equal(t, "second-token");
}

static void test_exec_plugin(void **state) {
        char plugin[512], count[512], info[512], script[2048];
        _cleanup_(kube_credentials_freep) KubeCredentials *k = NULL;
        char *args[] = { (char *) "--past", NULL };
        char *env[] = { (char *) "BERTH_TEST_SUFFIX=xyz", NULL };
        KubeConfig c = {
                .server = (char *) "https://127.0.0.1:6443",
                .exec = { .command = plugin, .args = args, .env = env,
                          .api_version = (char *) "client.authentication.k8s.io/v1" },
        };
        const char *t = NULL;
        _cleanup_free_ char *err = NULL;
        FILE *f;
        char line[1024];
        (void) state;

        snprintf(plugin, sizeof plugin, "%s/plugin.sh", dir);
        snprintf(count, sizeof count, "%s/plugin.count", dir);
        snprintf(info, sizeof info, "%s/plugin.info", dir);
        /* Counts its runs; an expiry in the past when called with --past. */
        snprintf(script, sizeof script,
                 "#!/bin/sh\n"
                 "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s\n"
                 "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > %s\n"
                 "read x && exit 9\n" /* stdin must be /dev/null */
                 "if [ \"$1\" = --past ]; then exp=2000-01-01T00:00:00Z; else exp=2999-01-01T00:00:00Z; fi\n"
                 "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                 "\"status\":{\"token\":\"tok-%%s-%%s\",\"expirationTimestamp\":\"%%s\"}}' $n $BERTH_TEST_SUFFIX $exp\n",
                 count, count, info);
        write_file(plugin, script, 0700);

        assert_int_equal(kube_credentials_new(&c, &k), 0);
        assert_int_equal(kube_credentials_token(k, &t, &err), 0);
        assert_string_equal(t, "tok-1-xyz");
        /* Expired: every use runs the plugin again. */
        assert_int_equal(kube_credentials_token(k, &t, &err), 0);
        assert_string_equal(t, "tok-2-xyz");

        f = fopen(info, "re");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_string_equal(line, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                                  "\"spec\":{\"interactive\":false}}");
        k = kube_credentials_free(k);

        /* Not expired: cached until invalidated (after a 401). */
        args[0] = (char *) "--future";
        c.exec.provide_cluster_info = true;
        assert_int_equal(kube_credentials_new(&c, &k), 0);
        assert_int_equal(kube_credentials_token(k, &t, &err), 0);
        assert_string_equal(t, "tok-3-xyz");
        assert_int_equal(kube_credentials_token(k, &t, &err), 0);
        assert_string_equal(t, "tok-3-xyz");
        kube_credentials_invalidate(k);
        assert_int_equal(kube_credentials_token(k, &t, &err), 0);
        assert_string_equal(t, "tok-4-xyz");
        f = fopen(info, "re");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_non_null(strstr(line, "\"cluster\":{\"server\":\"https://127.0.0.1:6443\"}"));
        k = kube_credentials_free(k);

        /* The plugin must answer with the configured apiVersion. */
        c.exec.api_version = (char *) "client.authentication.k8s.io/v1beta1";
        assert_int_equal(kube_credentials_new(&c, &k), 0);
        assert_int_equal(kube_credentials_token(k, &t, &err), -EINVAL);
        assert_non_null(strstr(err, "plugin returned version client.authentication.k8s.io/v1"));
        k = kube_credentials_free(k);
}

static void test_exec_plugin_failures(void **state) {
        static const struct {
                const char *script;
                int error;
                const char *message;
        } cases[] = {
                { "#!/bin/sh\necho oops >&2\nexit 3\n", -EIO, "exited with status 3" },
                { "#!/bin/sh\nexec sleep 5\n", -ETIMEDOUT, "timed out after 300 ms" },
                { "#!/bin/sh\nhead -c 100000 /dev/zero\n", -E2BIG, "wrote more than 65536 bytes" },
                { "#!/bin/sh\necho '<html>'\n", -EINVAL, "output is not an ExecCredential" },
                { "#!/bin/sh\necho '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
                  "\"status\":{}}'\n",
                  -EINVAL, "returned no status.token" },
        };
        char plugin[512];
        KubeConfig c = { .exec = { .command = plugin, .api_version = (char *) "client.authentication.k8s.io/v1" } };
        (void) state;

        snprintf(plugin, sizeof plugin, "%s/bad-plugin.sh", dir);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(kube_credentials_freep) KubeCredentials *k = NULL;
                _cleanup_free_ char *err = NULL;
                const char *t = NULL;
                int r;
                write_file(plugin, cases[i].script, 0700);
                assert_int_equal(kube_credentials_new(&c, &k), 0);
                kube_credentials_set_exec_limits(k, 300 * USEC_PER_MSEC, 65536);
                r = kube_credentials_token(k, &t, &err);
                if (r != cases[i].error || !err || !strstr(err, cases[i].message))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, err, cases[i].error,
                                 cases[i].message);
        }
        {
                _cleanup_(kube_credentials_freep) KubeCredentials *k = NULL;
                _cleanup_free_ char *err = NULL;
                const char *t = NULL;
                c.exec.command = (char *) "berth-no-such-plugin";
                assert_int_equal(kube_credentials_new(&c, &k), 0);
                assert_int_equal(kube_credentials_token(k, &t, &err), -ENOENT);
                assert_non_null(strstr(err, "exec plugin berth-no-such-plugin: cannot start"));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_configs),
                cmocka_unit_test(test_invalid_configs),
                cmocka_unit_test(test_in_cluster_and_load_order),
                cmocka_unit_test(test_token_file_rotation),
                cmocka_unit_test(test_exec_plugin),
                cmocka_unit_test(test_exec_plugin_failures),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
