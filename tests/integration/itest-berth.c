/* SPDX-License-Identifier: Apache-2.0 */
#include "itest-berth.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macros.h"
#include "timeutil.h"

extern char **environ;

/* How long berth-controller may take to sync its caches. */
#define BERTH_READY_TIMEOUT (60 * USEC_PER_SEC)
#define BERTH_STOP_TIMEOUT (10 * USEC_PER_SEC)
#define START_MARKER "=== itest-berth: start"

char *itest_berth_binary(void) {
        const char *env = getenv("BERTH_CONTROLLER");
        char self[4096], *p;
        ssize_t n;

        if (env && *env)
                return strdup(env);
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return NULL;
        self[n] = 0;
        /* BUILDDIR/tests/integration/test-foo -> BUILDDIR/berth-controller */
        for (int i = 0; i < 3; i++) {
                p = strrchr(self, '/');
                if (!p)
                        return NULL;
                *p = 0;
        }
        if (asprintf(&p, "%s/berth-controller", self) < 0)
                return NULL;
        return p;
}

static int log_find_port(const char *path, unsigned *ret) {
        static const char needle[] = "/readyz on port ";
        FILE *f = fopen(path, "re");
        char line[4096];
        unsigned port = 0;

        if (!f)
                return -errno;
        /* Only this start's line counts: the log is appended across
         * restarts, and each start writes a marker first. */
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, needle);
                if (startswith(line, START_MARKER))
                        port = 0;
                else if (p)
                        port = (unsigned) strtoul(p + strlen(needle), NULL, 10);
        }
        fclose(f);
        if (port == 0)
                return -EAGAIN;
        *ret = port;
        return 0;
}

static int spawn_berth(ITestEnv *e, ITestBerth *b) {
        _cleanup_free_ char *bin = itest_berth_binary();
        const char *kubeconfig = itest_env_get(e, "KUBECONFIG");
        posix_spawn_file_actions_t fa;
        char *argv[64];
        size_t n = 0;
        int r;

        if (!bin || !kubeconfig)
                return -ENOENT;
        if (access(bin, X_OK) < 0) {
                fprintf(stderr, "itest-berth: %s is not built\n", bin);
                return -ENOENT;
        }
        {
                /* A marker, so log_find_port reads only this run's port. */
                FILE *f = fopen(b->log_path, "ae");
                if (!f)
                        return -errno;
                fprintf(f, "%s\n", START_MARKER);
                fclose(f);
        }
        argv[n++] = bin;
        argv[n++] = (char *) "--kubeconfig";
        argv[n++] = (char *) kubeconfig;
        argv[n++] = (char *) "--leader-elect=false";
        argv[n++] = (char *) "--metrics-bind-address=127.0.0.1:0";
        for (char **a = b->extra_args; a && *a && n < ELEMENTSOF(argv) - 1; a++)
                argv[n++] = *a;
        argv[n] = NULL;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, b->log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        r = posix_spawn(&b->pid, bin, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                b->pid = 0;
                return -r;
        }
        b->metrics_port = 0;

        usec_t end = now_usec(CLOCK_MONOTONIC) + BERTH_READY_TIMEOUT;
        while (now_usec(CLOCK_MONOTONIC) < end) {
                int status;
                long code = 0;

                if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
                        fprintf(stderr, "itest-berth: berth-controller exited during start-up (status %d)\n", status);
                        b->pid = 0;
                        itest_berth_print_log(b, 30);
                        return -ECHILD;
                }
                if (b->metrics_port == 0)
                        (void) log_find_port(b->log_path, &b->metrics_port);
                else if (itest_berth_http_get(b, "/readyz", &code, NULL) >= 0 && code == 200)
                        return 0;
                usleep(50 * 1000);
        }
        fprintf(stderr, "itest-berth: berth-controller did not become ready\n");
        itest_berth_print_log(b, 30);
        return -ETIMEDOUT;
}

int itest_berth_start(ITestEnv *e, const char *const *extra_args, ITestBerth **ret) {
        ITestBerth *b = calloc(1, sizeof(ITestBerth));
        size_t n = 0;
        int fd, r;

        if (!b)
                return -ENOMEM;
        while (extra_args && extra_args[n])
                n++;
        b->extra_args = calloc(n + 1, sizeof(char *));
        if (!b->extra_args || asprintf(&b->log_path, "%s/berth-controller-XXXXXX", getenv("TMPDIR") ?: "/tmp") < 0) {
                itest_berth_free(b, 0);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                if (!(b->extra_args[i] = strdup(extra_args[i]))) {
                        itest_berth_free(b, 0);
                        return -ENOMEM;
                }
        fd = mkstemp(b->log_path);
        if (fd < 0) {
                r = -errno;
                free(b->log_path);
                b->log_path = NULL;
                itest_berth_free(b, 0);
                return r;
        }
        close(fd);
        r = spawn_berth(e, b);
        if (r < 0) {
                itest_berth_free(b, 0);
                return r;
        }
        *ret = b;
        return 0;
}

int itest_berth_restart(ITestEnv *e, ITestBerth *b) {
        if (b->pid > 0)
                return -EBUSY;
        return spawn_berth(e, b);
}

int itest_berth_stop(ITestBerth *b) {
        int status = 0, r;

        if (!b || b->pid <= 0)
                return 0;
        kill(b->pid, SIGTERM);
        r = itest_wait_pid(b->pid, BERTH_STOP_TIMEOUT, &status);
        if (r == -ETIMEDOUT) {
                kill(b->pid, SIGKILL);
                (void) itest_wait_pid(b->pid, BERTH_STOP_TIMEOUT, NULL);
                b->pid = 0;
                return -ETIMEDOUT;
        }
        b->pid = 0;
        if (r < 0)
                return r;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void itest_berth_print_log(const ITestBerth *b, unsigned n) {
        _cleanup_free_ char *cmd = NULL;

        if (!b || !b->log_path || n == 0)
                return;
        fprintf(stderr, "--- last %u lines of berth-controller's log (%s):\n", n, b->log_path);
        if (asprintf(&cmd, "tail -n %u '%s' | sed 's/^/  /' >&2", n, b->log_path) >= 0)
                (void) !system(cmd);
}

ITestBerth *itest_berth_free(ITestBerth *b, unsigned print_log_lines) {
        if (!b)
                return NULL;
        (void) itest_berth_stop(b);
        itest_berth_print_log(b, print_log_lines);
        if (b->log_path && !getenv("BERTH_ITEST_KEEP"))
                unlink(b->log_path);
        free(b->log_path);
        for (char **a = b->extra_args; a && *a; a++)
                free(*a);
        free(b->extra_args);
        free(b);
        return NULL;
}

int itest_berth_http_get(const ITestBerth *b, const char *path, long *ret_code, char **ret_body) {
        _cleanup_free_ char *url = NULL;
        ItestBuffer body = {};
        CURL *c;
        CURLcode cc;
        long code = 0;

        if (b->metrics_port == 0)
                return -ENOTCONN;
        if (asprintf(&url, "http://127.0.0.1:%u%s", b->metrics_port, path) < 0)
                return -ENOMEM;
        c = curl_easy_init();
        if (!c)
                return -ENOMEM;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, itest_buffer_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        cc = curl_easy_perform(c);
        if (cc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        if (cc != CURLE_OK) {
                free(body.data);
                return -EIO;
        }
        if (ret_code)
                *ret_code = code;
        if (ret_body)
                *ret_body = body.data ? body.data : strdup("");
        else
                free(body.data);
        return 0;
}

int itest_berth_metric_sum(const ITestBerth *b, const char *name, const char *label_match, double *ret) {
        _cleanup_free_ char *text = NULL;
        size_t name_len = strlen(name);
        double sum = 0;
        long code = 0;
        int r;

        r = itest_berth_http_get(b, "/metrics", &code, &text);
        if (r < 0)
                return r;
        if (code != 200)
                return -EIO;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (line[0] == '#' || strncmp(line, name, name_len) != 0)
                        continue;
                char *rest = line + name_len, *value;
                if (*rest == '{') {
                        char *close = strchr(rest, '}');
                        if (!close)
                                continue;
                        *close = 0;
                        if (label_match && !strstr(rest, label_match))
                                continue;
                        value = close + 1;
                } else if (*rest == ' ') {
                        if (label_match)
                                continue;
                        value = rest;
                } else
                        continue; /* another metric whose name starts with this one */
                sum += strtod(value, NULL);
        }
        *ret = sum;
        return 0;
}

/* ---- keep-alive API client ---------------------------------------------- */

struct ITestApi {
        CURL *curl;
        char *server;
        char *ca_file;
        char *auth;
};

int itest_api_client_new(ITestEnv *e, ITestApi **ret) {
        const char *server = itest_env_get(e, "BERTH_APISERVER_URL"), *ca = itest_env_get(e, "BERTH_CA_FILE"),
                   *token = itest_env_get(e, "BERTH_TOKEN_ADMIN");
        ITestApi *a;

        if (!server || !ca || !token)
                return -ENOENT;
        a = calloc(1, sizeof(ITestApi));
        if (!a)
                return -ENOMEM;
        a->curl = curl_easy_init();
        a->server = strdup(server);
        a->ca_file = strdup(ca);
        if (!a->curl || !a->server || !a->ca_file || asprintf(&a->auth, "Authorization: Bearer %s", token) < 0) {
                itest_api_client_free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

ITestApi *itest_api_client_free(ITestApi *a) {
        if (!a)
                return NULL;
        if (a->curl)
                curl_easy_cleanup(a->curl);
        free(a->server);
        free(a->ca_file);
        free(a->auth);
        free(a);
        return NULL;
}

int itest_api_call(ITestApi *a, const char *method, const char *path, const char *content_type, const char *body,
                   long *ret_code, char **ret_body) {
        _cleanup_free_ char *url = NULL, *ct = NULL;
        struct curl_slist *headers = NULL;
        ItestBuffer out = {};
        CURLcode cc;
        long code = 0;

        if (asprintf(&url, "%s%s", a->server, path) < 0 ||
            asprintf(&ct, "Content-Type: %s", content_type ? content_type : "application/json") < 0)
                return -ENOMEM;
        curl_easy_reset(a->curl);
        curl_easy_setopt(a->curl, CURLOPT_URL, url);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(a->curl, CURLOPT_CAINFO, a->ca_file);
        headers = curl_slist_append(headers, a->auth);
        headers = curl_slist_append(headers, "Accept: application/json");
        if (body) {
                headers = curl_slist_append(headers, ct);
                curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        }
        curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, itest_buffer_write);
        curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, &out);
        cc = curl_easy_perform(a->curl);
        if (cc == CURLE_OK)
                curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(headers);
        if (cc != CURLE_OK) {
                fprintf(stderr, "itest-berth: %s %s: %s\n", method, path, curl_easy_strerror(cc));
                free(out.data);
                return -EIO;
        }
        if (ret_code)
                *ret_code = code;
        if (ret_body)
                *ret_body = out.data ? out.data : strdup("");
        else
                free(out.data);
        return 0;
}

int itest_api_call_ok(ITestApi *a, const char *method, const char *path, const char *content_type,
                      const char *body, char **ret_body) {
        _cleanup_free_ char *resp = NULL;
        long code = 0;
        int r = itest_api_call(a, method, path, content_type, body, &code, &resp);

        if (r < 0)
                return r;
        if (code < 200 || code > 299) {
                fprintf(stderr, "itest-berth: %s %s: HTTP %ld: %s\n", method, path, code, resp);
                return -EIO;
        }
        if (ret_body)
                *ret_body = TAKE_PTR(resp);
        return 0;
}

int itest_berth_kill(ITestBerth *b) {
        int r;

        if (!b || b->pid <= 0)
                return 0;
        if (kill(b->pid, SIGKILL) < 0)
                return -errno;
        r = itest_wait_pid(b->pid, BERTH_STOP_TIMEOUT, NULL);
        b->pid = 0;
        return r < 0 ? r : 0;
}

JsonDoc *itest_api_get_json(ITestApi *a, const char *path) {
        _cleanup_free_ char *body = NULL;

        if (itest_api_call_ok(a, "GET", path, NULL, NULL, &body) < 0)
                return NULL;
        return itest_parse_json(body);
}

int itest_berth_wait_metric(const ITestBerth *b, const char *name, const char *label_match, double value,
                            usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;
        double got = -1;
        int r;

        for (;;) {
                r = itest_berth_metric_sum(b, name, label_match, &got);
                if (r >= 0 && got == value)
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                usleep(100 * 1000);
        }
        if (r < 0)
                fprintf(stderr, "itest-berth: cannot read %s from /metrics: %s\n", name, strerror(-r));
        else
                fprintf(stderr, "itest-berth: %s{%s} is %g, want %g\n", name, strempty(label_match), got, value);
        return -ETIMEDOUT;
}

int itest_metallb_crds_install(ITestEnv *e, const char *ns) {
        static const char *const kinds[] = { "ipaddresspools", "l2advertisements" };
        static const char crds[] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
        int r;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *rel = NULL, *file = NULL;
                if (asprintf(&rel, "examples/manifests/crds/%s.metallb.io.yaml", kinds[i]) < 0 ||
                    !(file = itest_srcpath(rel)))
                        return -ENOMEM;
                r = itest_create_file(e, crds, file);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "/apis/metallb.io/v1beta1/namespaces/%s/%s", ns, kinds[i]) < 0)
                        return -ENOMEM;
                r = itest_wait_path(e, path, 30 * USEC_PER_SEC);
                if (r < 0)
                        return r;
        }
        return 0;
}
