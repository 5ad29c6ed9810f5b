/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "itest.h"
#include "macros.h"

extern char **environ;

#define ENV_MAX 64

struct ITestEnv {
        char *path;
        size_t n;
        char *keys[ENV_MAX], *values[ENV_MAX];
        unsigned counter;
};

static void env_clear(ITestEnv *e) {
        for (size_t i = 0; i < e->n; i++) {
                free(e->keys[i]);
                free(e->values[i]);
        }
        e->n = 0;
}

int itest_env_reload(ITestEnv *e) {
        FILE *f = fopen(e->path, "re");
        char line[4096];

        if (!f) {
                fprintf(stderr, "itest: cannot open %s: %m\n", e->path);
                return negative_errno();
        }
        env_clear(e);
        while (fgets(line, sizeof(line), f)) {
                char *eq = strchr(line, '=');
                size_t len = strlen(line);

                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = 0;
                if (!eq || e->n >= ENV_MAX)
                        continue;
                *eq = 0;
                e->keys[e->n] = strdup(line);
                e->values[e->n] = strdup(eq + 1);
                if (!e->keys[e->n] || !e->values[e->n]) {
                        fclose(f);
                        return -ENOMEM;
                }
                e->n++;
        }
        fclose(f);
        return 0;
}

int itest_env_load(ITestEnv **ret) {
        const char *p = getenv("BERTH_ENVTEST_ENV");
        ITestEnv *e;
        int r;

        if (isempty(p)) {
                fprintf(stderr, "itest: $BERTH_ENVTEST_ENV is not set (run through tests/integration/run.sh)\n");
                return -ENOENT;
        }
        e = new0(ITestEnv, 1);
        if (!e)
                return -ENOMEM;
        e->path = strdup(p);
        if (!e->path) {
                free(e);
                return -ENOMEM;
        }
        r = itest_env_reload(e);
        if (r < 0) {
                itest_env_free(e);
                return r;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        *ret = e;
        return 0;
}

ITestEnv *itest_env_free(ITestEnv *e) {
        if (!e)
                return NULL;
        env_clear(e);
        free(e->path);
        free(e);
        return NULL;
}

const char *itest_env_get(const ITestEnv *e, const char *key) {
        for (size_t i = 0; i < e->n; i++)
                if (streq(e->keys[i], key))
                        return e->values[i];
        return NULL;
}

char *itest_srcpath(const char *relative) {
        const char *src = getenv("BERTH_SRCDIR");
        char *p;

        if (asprintf(&p, "%s/%s", isempty(src) ? "." : src, relative) < 0)
                return NULL;
        return p;
}

char *itest_unique_name(ITestEnv *e, const char *prefix) {
        char *p;

        if (asprintf(&p, "%s-%ld-%u", prefix, (long) getpid(), ++e->counter) < 0)
                return NULL;
        return p;
}

int itest_spawn(char *const argv[], pid_t *ret_pid) {
        pid_t pid;
        int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);

        if (r != 0) {
                fprintf(stderr, "itest: cannot run %s: %s\n", argv[0], strerror(r));
                return -r;
        }
        *ret_pid = pid;
        return 0;
}

int itest_wait_pid(pid_t pid, usec_t timeout, int *ret_status) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        for (;;) {
                int status;
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid) {
                        if (ret_status)
                                *ret_status = status;
                        return 0;
                }
                if (r < 0)
                        return negative_errno();
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        return -ETIMEDOUT;
                usleep(10000);
        }
}

int itest_apiserver_internal(ITestEnv *e, const char *action, ...) {
        const char *ctl = itest_env_get(e, "BERTH_ENVTEST_CTL"), *dir = itest_env_get(e, "BERTH_ENVTEST_DIR");
        char *argv[16];
        size_t n = 0;
        va_list ap;
        pid_t pid;
        int status, r;

        if (!ctl || !dir)
                return -ENOENT;
        argv[n++] = (char *) ctl;
        argv[n++] = (char *) dir;
        argv[n++] = (char *) action;
        va_start(ap, action);
        for (const char *a; n < ELEMENTSOF(argv) - 1 && (a = va_arg(ap, const char *));)
                argv[n++] = (char *) a;
        va_end(ap);
        argv[n] = NULL;

        r = itest_spawn(argv, &pid);
        if (r < 0)
                return r;
        r = itest_wait_pid(pid, 120 * USEC_PER_SEC, &status);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "itest: apiserver %s failed\n", action);
                return -EIO;
        }
        return itest_env_reload(e);
}

size_t itest_buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        ItestBuffer *b = userdata;
        size_t n = size * nmemb;
        char *d = realloc(b->data, b->len + n + 1);

        if (!d)
                return 0;
        memcpy(d + b->len, ptr, n);
        b->len += n;
        d[b->len] = 0;
        b->data = d;
        return n;
}

static int http_request(const char *url, const char *ca_file, const char *token, const char *method,
                        const char *content_type, const char *body, long *ret_code, char **ret_body) {
        CURL *c = curl_easy_init();
        struct curl_slist *headers = NULL;
        ItestBuffer b = {};
        char auth[1024], ct[256];
        CURLcode cc;
        long code = 0;

        if (!c)
                return -ENOMEM;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                headers = curl_slist_append(headers, auth);
        }
        if (body) {
                snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
                headers = curl_slist_append(headers, ct);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        }
        headers = curl_slist_append(headers, "Accept: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, itest_buffer_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);

        cc = curl_easy_perform(c);
        if (cc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);
        if (cc != CURLE_OK) {
                free(b.data);
                fprintf(stderr, "itest: %s %s: %s\n", method, url, curl_easy_strerror(cc));
                return -EIO;
        }
        if (ret_code)
                *ret_code = code;
        if (ret_body)
                *ret_body = b.data ? b.data : strdup("");
        else
                free(b.data);
        return 0;
}

int itest_api(ITestEnv *e, const char *token, const char *method, const char *path, const char *content_type,
              const char *body, long *ret_code, char **ret_body) {
        const char *server = itest_env_get(e, "BERTH_APISERVER_URL");
        _cleanup_free_ char *url = NULL;

        if (!server)
                return -ENOENT;
        if (asprintf(&url, "%s%s", server, path) < 0)
                return -ENOMEM;
        return http_request(url, itest_env_get(e, "BERTH_CA_FILE"),
                            token ? token : itest_env_get(e, "BERTH_TOKEN_ADMIN"), method, content_type, body,
                            ret_code, ret_body);
}

int itest_api_ok(ITestEnv *e, const char *method, const char *path, const char *body, char **ret_body) {
        _cleanup_free_ char *resp = NULL;
        long code = 0;
        int r = itest_api(e, NULL, method, path, NULL, body, &code, &resp);

        if (r < 0)
                return r;
        if (code < 200 || code > 299) {
                fprintf(stderr, "itest: %s %s: HTTP %ld: %s\n", method, path, code, resp);
                return -EIO;
        }
        if (ret_body)
                *ret_body = TAKE_PTR(resp);
        return 0;
}

static int read_file(const char *file, char **ret) {
        FILE *f = fopen(file, "re");
        ItestBuffer b = {};
        char chunk[4096];
        size_t n;

        if (!f) {
                fprintf(stderr, "itest: cannot open %s: %m\n", file);
                return negative_errno();
        }
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                if (itest_buffer_write(chunk, 1, n, &b) != n) {
                        fclose(f);
                        free(b.data);
                        return -ENOMEM;
                }
        fclose(f);
        *ret = b.data ? b.data : strdup("");
        return *ret ? 0 : -ENOMEM;
}

int itest_create_file(ITestEnv *e, const char *path, const char *file) {
        _cleanup_free_ char *body = NULL, *resp = NULL;
        long code = 0;
        int r;

        r = read_file(file, &body);
        if (r < 0)
                return r;
        r = itest_api(e, NULL, "POST", path, body[0] == '{' ? "application/json" : "application/yaml", body, &code,
                      &resp);
        if (r < 0)
                return r;
        if (code == 409 || (code >= 200 && code <= 299))
                return 0;
        fprintf(stderr, "itest: creating %s at %s: HTTP %ld: %s\n", file, path, code, resp);
        return -EIO;
}

int itest_wait_path(ITestEnv *e, const char *path, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        for (;;) {
                long code = 0;
                int r = itest_api(e, NULL, "GET", path, NULL, NULL, &code, NULL);

                if (r == 0 && code == 200)
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= end) {
                        fprintf(stderr, "itest: GET %s did not answer 200 in time (last %ld)\n", path, code);
                        return -ETIMEDOUT;
                }
                usleep(50000);
        }
}

static int json_revision(const char *body, long long *ret) {
        /* etcd's gateway writes int64 as strings: "revision":"123". */
        const char *p = body ? strstr(body, "\"revision\":\"") : NULL;

        if (!p)
                return -EBADMSG;
        *ret = strtoll(p + strlen("\"revision\":\""), NULL, 10);
        return *ret > 0 ? 0 : -EBADMSG;
}

int itest_etcd_compact(ITestEnv *e, long long *ret_revision) {
        const char *ep = itest_env_get(e, "BERTH_ETCD_ENDPOINT");
        _cleanup_free_ char *url = NULL, *resp = NULL, *body = NULL;
        long long rev;
        long code = 0;
        int r;

        if (!ep)
                return -ENOENT;
        /* Any range answers with the store's current revision in its header. */
        if (asprintf(&url, "%s/v3/kv/range", ep) < 0)
                return -ENOMEM;
        r = http_request(url, NULL, NULL, "POST", NULL, "{\"key\":\"AA==\"}", &code, &resp);
        if (r < 0)
                return r;
        r = json_revision(resp, &rev);
        if (code != 200 || r < 0) {
                fprintf(stderr, "itest: etcd range: HTTP %ld: %s\n", code, resp);
                return -EIO;
        }
        free(url);
        free(resp);
        resp = NULL;
        if (asprintf(&url, "%s/v3/kv/compaction", ep) < 0 ||
            asprintf(&body, "{\"revision\":\"%lld\",\"physical\":true}", rev) < 0)
                return -ENOMEM;
        r = http_request(url, NULL, NULL, "POST", NULL, body, &code, &resp);
        if (r < 0)
                return r;
        if (code != 200) {
                fprintf(stderr, "itest: etcd compaction to %lld: HTTP %ld: %s\n", rev, code, resp);
                return -EIO;
        }
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

static char *base64_encode(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(4 * ((n + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) s, (int) n);
        return out;
}

int itest_etcd_get(ITestEnv *e, const char *key, char **ret_value, size_t *ret_len) {
        const char *ep = itest_env_get(e, "BERTH_ETCD_ENDPOINT");
        _cleanup_free_ char *url = NULL, *k64 = NULL, *body = NULL, *resp = NULL;
        const char *v, *end;
        unsigned char *out;
        long code = 0;
        int r, n;

        if (!ep)
                return -ENOENT;
        k64 = base64_encode(key);
        if (!k64 || asprintf(&url, "%s/v3/kv/range", ep) < 0 || asprintf(&body, "{\"key\":\"%s\"}", k64) < 0)
                return -ENOMEM;
        r = http_request(url, NULL, NULL, "POST", NULL, body, &code, &resp);
        if (r < 0)
                return r;
        if (code != 200)
                return -EIO;
        v = strstr(resp, "\"value\":\"");
        if (!v)
                return -ENOENT;
        v += strlen("\"value\":\"");
        end = strchr(v, '"');
        if (!end)
                return -EBADMSG;
        out = malloc((size_t) (end - v) / 4 * 3 + 4);
        if (!out)
                return -ENOMEM;
        n = EVP_DecodeBlock(out, (const unsigned char *) v, (int) (end - v));
        if (n < 0) {
                free(out);
                return -EBADMSG;
        }
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (const char *p = end; p > v && p[-1] == '='; p--)
                n--;
        out[n] = 0;
        *ret_value = (char *) out;
        *ret_len = (size_t) n;
        return 0;
}

int itest_etcd_put(ITestEnv *e, const char *key, const char *value) {
        const char *ep = itest_env_get(e, "BERTH_ETCD_ENDPOINT");
        _cleanup_free_ char *url = NULL, *k64 = NULL, *v64 = NULL, *body = NULL, *resp = NULL;
        long code = 0;
        int r;

        if (!ep)
                return -ENOENT;
        k64 = base64_encode(key);
        v64 = base64_encode(value);
        if (!k64 || !v64 || asprintf(&url, "%s/v3/kv/put", ep) < 0 ||
            asprintf(&body, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64) < 0)
                return -ENOMEM;
        r = http_request(url, NULL, NULL, "POST", NULL, body, &code, &resp);
        if (r < 0)
                return r;
        if (code != 200) {
                fprintf(stderr, "itest: etcd put %s: HTTP %ld: %s\n", key, code, resp);
                return -EIO;
        }
        return 0;
}

int itest_write_kubeconfig(const char *path, const char *server, const char *ca_file, const char *token,
                           const char *token_file) {
        _cleanup_free_ char *tmp = NULL;
        FILE *f;

        if (!token == !token_file)
                return -EINVAL;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        fprintf(f,
                "apiVersion: v1\n"
                "kind: Config\n"
                "clusters:\n"
                "- name: c\n"
                "  cluster:\n"
                "    server: %s\n"
                "    certificate-authority: %s\n"
                "users:\n"
                "- name: u\n"
                "  user:\n"
                "    %s: %s\n"
                "contexts:\n"
                "- name: x\n"
                "  context:\n"
                "    cluster: c\n"
                "    user: u\n"
                "current-context: x\n",
                server, ca_file, token ? "token" : "tokenFile", token ? token : token_file);
        if (fclose(f) != 0 || rename(tmp, path) < 0)
                return negative_errno();
        return 0;
}

int itest_proxy_start(ITestEnv *e, ITestProxy **ret) {
        const char *bin = getenv("BERTH_FAULTPROXY"), *port = itest_env_get(e, "BERTH_APISERVER_PORT"),
                   *dir = itest_env_get(e, "BERTH_ENVTEST_DIR");
        _cleanup_free_ char *target = NULL;
        ITestProxy *p;
        posix_spawn_file_actions_t fa;
        int pipefd[2], r;
        char buf[32];
        ssize_t n;
        size_t len = 0;

        if (isempty(bin))
                bin = "tests/integration/faultproxy";
        if (!port || !dir)
                return -ENOENT;
        p = new0(ITestProxy, 1);
        if (!p)
                return -ENOMEM;
        p->pid = -1;
        if (asprintf(&target, "127.0.0.1:%s", port) < 0 ||
            asprintf(&p->control, "%s/proxy-%ld-%u.sock", dir, (long) getpid(), ++e->counter) < 0) {
                itest_proxy_stop(p);
                return -ENOMEM;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                itest_proxy_stop(p);
                return negative_errno();
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        char *argv[] = { (char *) bin, (char *) "--target", target, (char *) "--control", p->control, NULL };
        r = posix_spawn(&p->pid, bin, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                fprintf(stderr, "itest: cannot run %s: %s\n", bin, strerror(r));
                p->pid = -1;
                close(pipefd[0]);
                itest_proxy_stop(p);
                return -r;
        }
        /* The first line is the port, written once both sockets listen. */
        while (len < sizeof(buf) - 1 && (n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
                len += (size_t) n;
                if (memchr(buf, '\n', len))
                        break;
        }
        close(pipefd[0]);
        buf[len] = 0;
        p->port = (unsigned) strtoul(buf, NULL, 10);
        if (p->port == 0 || asprintf(&p->url, "https://127.0.0.1:%u", p->port) < 0) {
                fprintf(stderr, "itest: faultproxy did not start\n");
                itest_proxy_stop(p);
                return -EIO;
        }
        *ret = p;
        return 0;
}

int itest_proxy_send(ITestProxy *p, const char *command, char **ret_answer) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char line[256];
        size_t len = 0;
        ssize_t n;
        int fd;

        if (strlen(p->control) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, p->control);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || dprintf(fd, "%s\n", command) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        while (len < sizeof(line) - 1 && (n = read(fd, line + len, sizeof(line) - 1 - len)) > 0) {
                len += (size_t) n;
                if (memchr(line, '\n', len))
                        break;
        }
        close(fd);
        line[len] = 0;
        line[strcspn(line, "\n")] = 0;
        if (!startswith(line, "ok")) {
                fprintf(stderr, "itest: faultproxy '%s': %s\n", command, line);
                return -EBADMSG;
        }
        if (ret_answer) {
                *ret_answer = strdup(line);
                if (!*ret_answer)
                        return -ENOMEM;
        }
        return 0;
}

ITestProxy *itest_proxy_stop(ITestProxy *p) {
        if (!p)
                return NULL;
        if (p->pid > 0) {
                kill(p->pid, SIGTERM);
                if (itest_wait_pid(p->pid, 5 * USEC_PER_SEC, NULL) < 0) {
                        kill(p->pid, SIGKILL);
                        (void) itest_wait_pid(p->pid, 5 * USEC_PER_SEC, NULL);
                }
        }
        free(p->control);
        free(p->url);
        free(p);
        return NULL;
}

int itest_run_until(sd_event *event, bool (*done)(void *userdata), void *userdata, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        while (!done(userdata)) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int r;

                if (now >= end)
                        return -ETIMEDOUT;
                r = sd_event_run(event, end - now < 100000 ? end - now : 100000);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool never(void *userdata) {
        (void) userdata;
        return false;
}

int itest_run_for(sd_event *event, usec_t duration) {
        int r = itest_run_until(event, never, NULL, duration);
        return r == -ETIMEDOUT ? 0 : r;
}

char *itest_strdupf(const char *format, ...) {
        va_list ap;
        char *s;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

JsonDoc *itest_parse_json(const char *body) {
        JsonDoc *doc = NULL;
        _cleanup_free_ char *error = NULL;
        JsonLimits limits = { .max_bytes = 256u * 1024u * 1024u };

        if (json_parse(body, strlen(body), &limits, &doc, &error) < 0) {
                fprintf(stderr, "cannot parse the response: %s: %.200s\n", error, body);
                return NULL;
        }
        return doc;
}
