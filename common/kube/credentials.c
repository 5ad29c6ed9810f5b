/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens (kubeconfig.h): inline, from a file that rotates, or from
 * an exec credential plugin (client.authentication.k8s.io).
 *
 * The plugin runs synchronously with a short timeout: it runs once per
 * credential lifetime, and a daemon cannot do anything useful against the
 * API server without its result anyway. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "json.h"
#include "kubeconfig.h"
#include "log.h"

extern char **environ;

#define TOKEN_FILE_MAX_BYTES (1u * 1024u * 1024u)
#define EXEC_INFO_ENV "KUBERNETES_EXEC_INFO"

struct KubeCredentials {
        char *token;          /* inline: never changes */

        char *token_file;
        char *file_token;     /* content as last read */
        bool file_valid;
        struct stat file_st;  /* identity of what file_token was read from */

        char *exec_command;
        char **exec_argv;     /* command + args, NULL-terminated */
        char **exec_env;      /* extra "NAME=value" entries */
        char *exec_api_version;
        char *exec_info;      /* KUBERNETES_EXEC_INFO=... */
        char *exec_token;
        usec_t exec_expiry;   /* CLOCK_REALTIME; 0 = does not expire */
        bool exec_valid;
        usec_t exec_timeout;
        size_t exec_max_output;
};

static void safe_close_fd(int fd) {
        if (fd >= 0)
                close(fd);
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static void secret_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

KubeCredentials *kube_credentials_free(KubeCredentials *k) {
        if (!k)
                return NULL;
        secret_free(k->token);
        free(k->token_file);
        secret_free(k->file_token);
        free(k->exec_command);
        strv_free(k->exec_argv);
        strv_free(k->exec_env);
        free(k->exec_api_version);
        free(k->exec_info);
        secret_free(k->exec_token);
        free(k);
        return NULL;
}

static int set_error(char **ret_error, int error, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return error;
        free(*ret_error);
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return error;
}

static char **strv_copy(char *const *v, size_t extra_front) {
        size_t n = 0;
        char **c;

        while (v && v[n])
                n++;
        c = new0(char *, n + extra_front + 1);
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[extra_front + i] = strdup(v[i]);
                if (!c[extra_front + i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

static char *base64_encode(const unsigned char *data, size_t len) {
        char *out = malloc(4 * ((len + 2) / 3) + 1);
        if (!out)
                return NULL;
        EVP_EncodeBlock((unsigned char *) out, data, (int) len);
        return out;
}

/* The ExecCredential handed to the plugin, as client-go builds it: never
 * interactive (stdin is /dev/null); the cluster only when the kubeconfig
 * asks for provideClusterInfo. */
static int build_exec_info(const KubeConfig *c, char **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        _cleanup_free_ char *json = NULL, *ca = NULL;
        size_t len;
        int r;

        if (!g)
                return -ENOMEM;
        if ((r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "kind", "ExecCredential")) < 0 ||
            (r = json_gen_kv_str(g, "apiVersion", c->exec.api_version)) < 0 || (r = json_gen_str(g, "spec")) < 0 ||
            (r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_bool(g, "interactive", false)) < 0)
                return r;
        if (c->exec.provide_cluster_info) {
                if (c->ca_data)
                        ca = base64_encode(c->ca_data, c->ca_data_len);
                else if (c->ca_file) {
                        _cleanup_free_ char *pem = NULL;
                        size_t pem_len;
                        r = kube_read_file(c->ca_file, 4u * 1024u * 1024u, &pem, &pem_len, NULL);
                        if (r < 0)
                                return r;
                        ca = base64_encode((const unsigned char *) pem, pem_len);
                }
                if ((c->ca_data || c->ca_file) && !ca)
                        return -ENOMEM;
                if ((r = json_gen_str(g, "cluster")) < 0 || (r = json_gen_map_open(g)) < 0 ||
                    (r = json_gen_kv_str(g, "server", c->server)) < 0)
                        return r;
                if (c->tls_server_name && (r = json_gen_kv_str(g, "tls-server-name", c->tls_server_name)) < 0)
                        return r;
                if (c->insecure_skip_tls_verify && (r = json_gen_kv_bool(g, "insecure-skip-tls-verify", true)) < 0)
                        return r;
                if (ca && (r = json_gen_kv_str(g, "certificate-authority-data", ca)) < 0)
                        return r;
                if ((r = json_gen_map_close(g)) < 0)
                        return r;
        }
        if ((r = json_gen_map_close(g)) < 0 || (r = json_gen_map_close(g)) < 0)
                return r;
        r = json_gen_take(g, &json, &len);
        if (r < 0)
                return r;
        if (asprintf(ret, EXEC_INFO_ENV "=%s", json) < 0)
                return -ENOMEM;
        return 0;
}

int kube_credentials_new(const KubeConfig *c, KubeCredentials **ret) {
        _cleanup_(kube_credentials_freep) KubeCredentials *k = NULL;
        int r;

        k = new0(KubeCredentials, 1);
        if (!k)
                return -ENOMEM;
        k->exec_timeout = 10 * USEC_PER_SEC;
        k->exec_max_output = 1024 * 1024;

        /* Precedence as kubectl: token, then tokenFile, then exec. */
        if (c->token) {
                k->token = strdup(c->token);
                if (!k->token)
                        return -ENOMEM;
        } else if (c->token_file) {
                k->token_file = strdup(c->token_file);
                if (!k->token_file)
                        return -ENOMEM;
        } else if (c->exec.command) {
                k->exec_command = strdup(c->exec.command);
                k->exec_argv = strv_copy(c->exec.args, 1);
                k->exec_env = strv_copy(c->exec.env, 0);
                k->exec_api_version = strdup(strempty(c->exec.api_version));
                if (!k->exec_command || !k->exec_argv || !k->exec_env || !k->exec_api_version)
                        return -ENOMEM;
                k->exec_argv[0] = strdup(c->exec.command);
                if (!k->exec_argv[0])
                        return -ENOMEM;
                r = build_exec_info(c, &k->exec_info);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(k);
        return 0;
}

void kube_credentials_set_exec_limits(KubeCredentials *k, usec_t timeout, size_t max_output) {
        if (timeout > 0)
                k->exec_timeout = timeout;
        if (max_output > 0)
                k->exec_max_output = max_output;
}

void kube_credentials_invalidate(KubeCredentials *k) {
        if (!k)
                return;
        k->file_valid = false;
        k->exec_valid = false;
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int token_from_file(KubeCredentials *k, const char **ret_token, char **ret_error) {
        _cleanup_free_ char *t = NULL;
        struct stat st;
        size_t len;
        int r;

        /* stat() follows the ..data symlink kubelet swaps when it rotates a
         * projected token, so a rotation changes the inode we see. */
        if (k->file_valid && stat(k->token_file, &st) == 0 && same_file(&st, &k->file_st)) {
                *ret_token = k->file_token;
                return 0;
        }
        r = kube_read_file(k->token_file, TOKEN_FILE_MAX_BYTES, &t, &len, &st);
        if (r == 0) {
                while (len > 0 && strchr(" \t\r\n", t[len - 1]))
                        t[--len] = '\0';
                if (len == 0)
                        r = -ENODATA;
        }
        if (r < 0) {
                if (k->file_token) {
                        /* Mid-rotation or briefly unreadable: the last token is still the best guess. */
                        log_debug("token file %s: %s; using the previous token", k->token_file, strerror(-r));
                        *ret_token = k->file_token;
                        return 0;
                }
                return set_error(ret_error, r, "token file %s: %s", k->token_file,
                                 r == -ENODATA ? "empty" : strerror(-r));
        }
        secret_free(k->file_token);
        k->file_token = TAKE_PTR(t);
        k->file_st = st;
        k->file_valid = true;
        *ret_token = k->file_token;
        return 0;
}

static char **exec_environment(const KubeCredentials *k) {
        size_t n_env = 0, n_extra = 0, n = 0;
        char **envp;

        while (environ && environ[n_env])
                n_env++;
        while (k->exec_env[n_extra])
                n_extra++;
        envp = new0(char *, n_env + n_extra + 2);
        if (!envp)
                return NULL;
        /* Pointers only: the strings belong to environ and to k. */
        for (size_t i = 0; i < n_env; i++)
                if (!startswith(environ[i], EXEC_INFO_ENV "="))
                        envp[n++] = environ[i];
        for (size_t i = 0; i < n_extra; i++)
                envp[n++] = k->exec_env[i];
        envp[n++] = k->exec_info;
        return envp;
}

/* Runs the plugin; on success *ret_out holds its standard output. */
static int exec_spawn_and_read(KubeCredentials *k, char **ret_out, size_t *ret_len, char **ret_error) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF;
        _cleanup_free_ char **envp = NULL;
        _cleanup_free_ char *buf = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t all, none;
        size_t len = 0, cap = 0;
        usec_t deadline;
        pid_t pid;
        int fds[2], r, status;
        const char *why = NULL;

        envp = exec_environment(k);
        if (!envp)
                return -ENOMEM;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        out_r = fds[0];
        out_w = fds[1];

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
        /* The daemon blocks the signals sd-event handles; the plugin must not inherit that. */
        posix_spawnattr_init(&attr);
        sigfillset(&all);
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        r = posix_spawnp(&pid, k->exec_command, &fa, &attr, k->exec_argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return set_error(ret_error, -r, "exec plugin %s: cannot start: %s", k->exec_command, strerror(r));
        safe_close_fd(TAKE_FD(out_w)); /* the child has its copy; EOF needs ours closed */

        deadline = now_usec(CLOCK_MONOTONIC) + k->exec_timeout;
        for (;;) {
                struct pollfd p = { .fd = out_r, .events = POLLIN };
                usec_t now = now_usec(CLOCK_MONOTONIC);
                ssize_t n;

                if (now >= deadline) {
                        why = "timed out";
                        break;
                }
                r = poll(&p, 1, (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0 && errno != EINTR) {
                        why = "poll failed";
                        break;
                }
                if (r <= 0)
                        continue;
                if (len + 4096 + 1 > cap) {
                        size_t ncap = cap ? cap * 2 : 16384;
                        char *b;
                        if (ncap > k->exec_max_output + 4096 + 1)
                                ncap = k->exec_max_output + 4096 + 1;
                        b = realloc(buf, ncap);
                        if (!b) {
                                why = "out of memory";
                                break;
                        }
                        buf = b;
                        buf[len] = '\0'; /* secret_free() wipes up to the NUL */
                        cap = ncap;
                }
                n = read(out_r, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        why = "read failed";
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                buf[len] = '\0';
                if (len > k->exec_max_output) {
                        why = "wrote too much output";
                        break;
                }
        }
        if (why)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = -1;
                        break;
                }
        if (why) {
                secret_free(TAKE_PTR(buf));
                if (streq(why, "timed out"))
                        return set_error(ret_error, -ETIMEDOUT, "exec plugin %s: timed out after %llu ms",
                                         k->exec_command, (unsigned long long) (k->exec_timeout / USEC_PER_MSEC));
                if (streq(why, "wrote too much output"))
                        return set_error(ret_error, -E2BIG, "exec plugin %s: wrote more than %zu bytes",
                                         k->exec_command, k->exec_max_output);
                return set_error(ret_error, -EIO, "exec plugin %s: %s", k->exec_command, why);
        }
        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                secret_free(TAKE_PTR(buf));
                if (status != -1 && WIFSIGNALED(status))
                        return set_error(ret_error, -EIO, "exec plugin %s: killed by signal %d", k->exec_command,
                                         WTERMSIG(status));
                if (status != -1 && WEXITSTATUS(status) == 127)
                        /* How a spawn that could not exec ends when it cannot report the error itself. */
                        return set_error(ret_error, -ENOENT, "exec plugin %s: cannot start: exited with status 127",
                                         k->exec_command);
                return set_error(ret_error, -EIO, "exec plugin %s: exited with status %d", k->exec_command,
                                 status == -1 ? -1 : WEXITSTATUS(status));
        }
        if (!buf) {
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = '\0';
        *ret_out = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int exec_refresh(KubeCredentials *k, char **ret_error) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *perr = NULL;
        char *out = NULL, *token;
        const JsonValue *root, *status;
        const char *api_version, *t, *exp;
        usec_t expiry = 0;
        size_t len;
        int r;

        r = exec_spawn_and_read(k, &out, &len, ret_error);
        if (r < 0)
                return r;
        r = json_parse(out, len, NULL, &doc, &perr);
        secret_free(out);
        if (r < 0)
                return set_error(ret_error, r == -ENOMEM ? r : -EINVAL,
                                 "exec plugin %s: output is not an ExecCredential: %s", k->exec_command,
                                 strempty(perr));
        root = json_doc_root(doc);
        if (!streq_ptr(json_get_string(root, "kind"), "ExecCredential"))
                return set_error(ret_error, -EINVAL, "exec plugin %s: output is not an ExecCredential (kind %s)",
                                 k->exec_command, json_get_string(root, "kind") ?: "missing");
        api_version = json_get_string(root, "apiVersion");
        if (!streq_ptr(api_version, k->exec_api_version))
                return set_error(ret_error, -EINVAL,
                                 "exec plugin %s: is configured to use API version %s, plugin returned version %s",
                                 k->exec_command, k->exec_api_version, api_version ?: "none");
        status = json_get(root, "status");
        if (json_type(status) != JSON_OBJECT)
                return set_error(ret_error, -EINVAL, "exec plugin %s: didn't return a status field", k->exec_command);
        t = json_get_string(status, "token");
        if (isempty(t))
                return set_error(ret_error, -EINVAL,
                                 "exec plugin %s: returned no status.token (client certificates from exec plugins "
                                 "are not supported)",
                                 k->exec_command);
        exp = json_get_string(status, "expirationTimestamp");
        if (exp && rfc3339_parse(exp, &expiry) < 0)
                return set_error(ret_error, -EINVAL, "exec plugin %s: status.expirationTimestamp: invalid time \"%s\"",
                                 k->exec_command, exp);
        token = strdup(t);
        if (!token)
                return -ENOMEM;
        secret_free(k->exec_token);
        k->exec_token = token;
        k->exec_expiry = expiry;
        k->exec_valid = true;
        return 0;
}

int kube_credentials_token(KubeCredentials *k, const char **ret_token, char **ret_error) {
        int r;

        if (k->token) {
                *ret_token = k->token;
                return 0;
        }
        if (k->token_file)
                return token_from_file(k, ret_token, ret_error);
        if (k->exec_command) {
                if (!k->exec_valid || (k->exec_expiry > 0 && now_usec(CLOCK_REALTIME) >= k->exec_expiry)) {
                        r = exec_refresh(k, ret_error);
                        if (r < 0)
                                return r;
                }
                *ret_token = k->exec_token;
                return 0;
        }
        *ret_token = NULL;
        return 0;
}
