/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig files and the in-cluster service account (kubeconfig.h).
 *
 * Everything a later connection needs is checked here, at start-up: files
 * exist, PEM data parses, the key matches the certificate.  A daemon that
 * starts with a broken kubeconfig should fail at once with one line naming
 * the file, the user or cluster and the field, not minutes later in a TLS
 * handshake. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kubeconfig.h"
#include "log.h"
#include "yaml_doc.h"

#define KUBECONFIG_MAX_BYTES (16u * 1024u * 1024u)
#define PEM_MAX_BYTES (4u * 1024u * 1024u)
#define TOKEN_FILE_MAX_BYTES (1u * 1024u * 1024u)
#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

int kube_read_file(const char *path, size_t max_size, char **ret, size_t *ret_len, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0, cap;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (size_t) st.st_size > max_size)
                return -EFBIG;
        cap = S_ISREG(st.st_mode) ? (size_t) st.st_size + 1 : 4096;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len + 1 >= cap) {
                        char *b;
                        if (len >= max_size)
                                return -EFBIG;
                        cap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
                        b = realloc(buf, cap);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = read(fd, buf + len, cap - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max_size)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        if (ret_st)
                *ret_st = st;
        return 0;
}

KubeConfig *kube_config_free(KubeConfig *c) {
        if (!c)
                return NULL;
        free(c->server);
        free(c->source);
        free(c->context);
        free(c->namespace);
        free(c->tls_server_name);
        free(c->ca_file);
        free(c->ca_data);
        free(c->cert_file);
        free(c->cert_data);
        free(c->key_file);
        if (c->key_data) {
                explicit_bzero(c->key_data, c->key_data_len);
                free(c->key_data);
        }
        if (c->token) {
                explicit_bzero(c->token, strlen(c->token));
                free(c->token);
        }
        free(c->token_file);
        free(c->username);
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        free(c->exec.command);
        for (char **a = c->exec.args; a && *a; a++)
                free(*a);
        free(c->exec.args);
        for (char **e = c->exec.env; e && *e; e++)
                free(*e);
        free(c->exec.env);
        free(c->exec.api_version);
        free(c);
        return NULL;
}

/* Where a field lives, for messages: "FILE: user \"NAME\": FIELD: ...". */
typedef struct Where {
        const char *file;
        const char *dir;      /* absolute directory relative paths are resolved against */
        const char *kind;     /* "cluster", "user", "context"; NULL at top level */
        const char *name;
        char **ret_error;
} Where;

static int fail(const Where *w, int error, const char *field, const char *fmt, ...) _printf_(4, 5);
static int fail(const Where *w, int error, const char *field, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL, *scope = NULL;
        va_list ap;

        if (!w->ret_error)
                return error;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (w->kind && asprintf(&scope, "%s \"%s\": ", w->kind, strempty(w->name)) < 0)
                scope = NULL;
        free(*w->ret_error);
        if (asprintf(w->ret_error, "%s: %s%s%s%s", w->file, strempty(scope), strempty(field), field ? ": " : "",
                     what ?: "error") < 0)
                *w->ret_error = NULL;
        return error;
}

/* A string field: absent or null leaves *ret NULL. */
static int get_string(const Where *w, const JsonValue *obj, const char *field, char **ret) {
        const JsonValue *v = json_get(obj, field);
        char *s;

        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (json_type(v) != JSON_STRING)
                return fail(w, -EINVAL, field, "must be a string");
        if (memchr(json_string(v), '\0', json_string_len(v)))
                return fail(w, -EINVAL, field, "contains a NUL byte");
        s = strdup(json_string(v));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int get_bool(const Where *w, const JsonValue *obj, const char *field, bool *ret) {
        const JsonValue *v = json_get(obj, field);

        if (!v || json_is_null(v)) {
                *ret = false;
                return 0;
        }
        if (json_bool(v, ret) < 0)
                return fail(w, -EINVAL, field, "must be true or false");
        return 0;
}

static int base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Standard, padded base64 as Go's encoding/base64 StdEncoding reads it
 * (which is what kubeconfig *-data fields are): line breaks are ignored,
 * anything else out of the alphabet is an error. */
static int base64_decode(const char *s, unsigned char **ret, size_t *ret_len) {
        _cleanup_free_ unsigned char *out = NULL;
        size_t n = 0, pad = 0, o = 0;
        unsigned acc = 0, bits = 0;

        out = malloc(strlen(s) / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        for (const char *p = s; *p; p++) {
                int v;
                if (*p == '\n' || *p == '\r')
                        continue;
                if (*p == '=') {
                        pad++;
                        n++;
                        continue;
                }
                if (pad > 0)
                        return -EINVAL; /* data after padding */
                v = base64_value(*p);
                if (v < 0)
                        return -EINVAL;
                n++;
                acc = (acc << 6) | (unsigned) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (unsigned char) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        if (n % 4 != 0 || pad > 2 || (pad > 0 && n == pad))
                return -EINVAL;
        if (acc != 0) /* non-canonical trailing bits */
                return -EINVAL;
        *ret = TAKE_PTR(out);
        *ret_len = o;
        return 0;
}

static int get_base64(const Where *w, const JsonValue *obj, const char *field, unsigned char **ret, size_t *ret_len) {
        _cleanup_free_ char *s = NULL;
        unsigned char *data = NULL;
        size_t len = 0;
        int r;

        r = get_string(w, obj, field, &s);
        if (r < 0)
                return r;
        if (isempty(s)) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        r = base64_decode(s, &data, &len);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(w, -EINVAL, field, "not valid base64");
        *ret = data;
        *ret_len = len;
        return 0;
}

/* Absolute paths stay; relative ones are relative to the kubeconfig's directory. */
static int resolve_path(const Where *w, const char *path, char **ret) {
        char *p;

        if (path[0] == '/' || !w->dir)
                p = strdup(path);
        else if (asprintf(&p, "%s/%s", w->dir, path) < 0)
                p = NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int get_path(const Where *w, const JsonValue *obj, const char *field, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = get_string(w, obj, field, &s);
        if (r < 0)
                return r;
        if (isempty(s)) {
                *ret = NULL;
                return 0;
        }
        return resolve_path(w, s, ret);
}

static void openssl_reason(char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        snprintf(buf, size, "%s", reason ?: "no PEM data");
        ERR_clear_error();
}

static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata) {
        (void) buf, (void) size, (void) rwflag, (void) userdata;
        return -1; /* never prompt: a daemon has no terminal */
}

/* The PEM bytes of data or, when data is NULL, of file. */
static int pem_bytes(const Where *w, const char *field, const char *file, const unsigned char *data, size_t data_len,
                     BIO **ret) {
        BIO *bio;

        if (data)
                bio = BIO_new_mem_buf(data, (int) data_len);
        else {
                _cleanup_free_ char *buf = NULL;
                size_t len;
                int r = kube_read_file(file, PEM_MAX_BYTES, &buf, &len, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(w, r, field, "cannot read %s: %s", file, strerror(-r));
                bio = BIO_new(BIO_s_mem());
                if (bio && BIO_write(bio, buf, (int) len) != (int) len) {
                        BIO_free(bio);
                        bio = NULL;
                }
        }
        if (!bio)
                return -ENOMEM;
        *ret = bio;
        return 0;
}

/* Checks that file/data hold at least one certificate; returns the first
 * one in *ret_first when asked. */
static int check_certificates(const Where *w, const char *field, const char *file, const unsigned char *data,
                              size_t data_len, X509 **ret_first) {
        BIO *bio = NULL;
        X509 *first = NULL, *x;
        unsigned n = 0;
        char reason[128];
        int r;

        r = pem_bytes(w, field, file, data, data_len, &bio);
        if (r < 0)
                return r;
        ERR_clear_error();
        while ((x = PEM_read_bio_X509(bio, NULL, refuse_passphrase, NULL))) {
                if (!first)
                        first = x;
                else
                        X509_free(x);
                n++;
        }
        /* The loop ends with "no start line" after the last certificate; any other error is real. */
        unsigned long e = ERR_peek_last_error();
        if (n > 0 && e && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                ERR_clear_error();
        BIO_free(bio);
        if (n == 0 || ERR_peek_last_error()) {
                openssl_reason(reason, sizeof reason);
                X509_free(first);
                if (n == 0)
                        return fail(w, -EINVAL, field, "no PEM certificate%s%s (%s)", file && !data ? " in " : "",
                                    file && !data ? file : "", reason);
                return fail(w, -EINVAL, field, "bad PEM certificate%s%s (%s)", file && !data ? " in " : "",
                            file && !data ? file : "", reason);
        }
        if (ret_first)
                *ret_first = first;
        else
                X509_free(first);
        return 0;
}

static int check_key(const Where *w, const char *field, const char *file, const unsigned char *data, size_t data_len,
                     X509 *cert) {
        BIO *bio = NULL;
        EVP_PKEY *key;
        char reason[128];
        int r;

        r = pem_bytes(w, field, file, data, data_len, &bio);
        if (r < 0)
                return r;
        ERR_clear_error();
        key = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, NULL);
        BIO_free(bio);
        if (!key) {
                openssl_reason(reason, sizeof reason);
                return fail(w, -EINVAL, field, "no usable PEM private key%s%s (%s)", file && !data ? " in " : "",
                            file && !data ? file : "", reason);
        }
        r = cert ? X509_check_private_key(cert, key) : 1;
        EVP_PKEY_free(key);
        ERR_clear_error();
        if (r != 1)
                return fail(w, -EINVAL, field, "the key does not match the client certificate");
        return 0;
}

/* Finds the element of a named list (clusters, users, contexts) and returns its inner object. */
static int find_named(const Where *w, const JsonValue *root, const char *list, const char *inner, const char *name,
                      const JsonValue **ret) {
        const JsonValue *l = json_get(root, list), *item;

        if (l && !json_is_null(l) && json_type(l) != JSON_ARRAY)
                return fail(w, -EINVAL, list, "must be a list");
        JSON_ARRAY_FOREACH(item, l) {
                const char *n = json_get_string(item, "name");
                if (n && streq(n, name)) {
                        const JsonValue *v = json_get(item, inner);
                        if (v && json_type(v) != JSON_OBJECT && !json_is_null(v))
                                return fail(w, -EINVAL, inner, "must be a mapping");
                        *ret = v; /* may be NULL: an empty entry */
                        return 1;
                }
        }
        return 0;
}

static int load_cluster(Where *w, const JsonValue *cluster, KubeConfig *c) {
        int r;

        r = get_string(w, cluster, "server", &c->server);
        if (r < 0)
                return r;
        if (isempty(c->server))
                return fail(w, -EINVAL, "server", "missing");
        if (!startswith(c->server, "https://") && !startswith(c->server, "http://")) {
                /* kubectl treats "host:port" as https. */
                char *s;
                if (strstr(c->server, "://"))
                        return fail(w, -EINVAL, "server", "unsupported scheme in \"%s\"", c->server);
                if (asprintf(&s, "https://%s", c->server) < 0)
                        return -ENOMEM;
                free(c->server);
                c->server = s;
        }
        while (strlen(c->server) > strlen("https://") && c->server[strlen(c->server) - 1] == '/')
                c->server[strlen(c->server) - 1] = '\0';

        if ((r = get_bool(w, cluster, "insecure-skip-tls-verify", &c->insecure_skip_tls_verify)) < 0 ||
            (r = get_string(w, cluster, "tls-server-name", &c->tls_server_name)) < 0 ||
            (r = get_path(w, cluster, "certificate-authority", &c->ca_file)) < 0 ||
            (r = get_base64(w, cluster, "certificate-authority-data", &c->ca_data, &c->ca_data_len)) < 0)
                return r;
        if (c->ca_data) {
                /* kubectl: inline data wins over the file. */
                c->ca_file = mfree(c->ca_file);
                r = check_certificates(w, "certificate-authority-data", NULL, c->ca_data, c->ca_data_len, NULL);
        } else if (c->ca_file)
                r = check_certificates(w, "certificate-authority", c->ca_file, NULL, 0, NULL);
        return r < 0 ? r : 0;
}

static int load_exec(Where *w, const JsonValue *exec, KubeConfig *c) {
        const JsonValue *args = json_get(exec, "args"), *env = json_get(exec, "env"), *item;
        _cleanup_free_ char *command = NULL, *mode = NULL;
        size_t n;
        int r;

        if (json_type(exec) != JSON_OBJECT)
                return fail(w, -EINVAL, "exec", "must be a mapping");
        r = get_string(w, exec, "command", &command);
        if (r < 0)
                return r;
        if (isempty(command))
                return fail(w, -EINVAL, "exec.command", "missing");
        /* As client-go: a bare name is looked up in $PATH, a relative path with
         * a slash is relative to the kubeconfig's directory. */
        if (strchr(command, '/'))
                r = resolve_path(w, command, &c->exec.command);
        else
                r = free_and_strdup(&c->exec.command, command);
        if (r < 0)
                return r;

        r = get_string(w, exec, "apiVersion", &c->exec.api_version);
        if (r < 0)
                return r;
        if (!c->exec.api_version || !(streq(c->exec.api_version, "client.authentication.k8s.io/v1") ||
                                      streq(c->exec.api_version, "client.authentication.k8s.io/v1beta1")))
                return fail(w, -EINVAL, "exec.apiVersion",
                            "must be client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1");

        r = get_string(w, exec, "interactiveMode", &mode);
        if (r < 0)
                return r;
        if (mode && streq(mode, "Always"))
                return fail(w, -EINVAL, "exec.interactiveMode", "Always needs a terminal, which a daemon does not have");
        if (mode && !streq(mode, "Never") && !streq(mode, "IfAvailable"))
                return fail(w, -EINVAL, "exec.interactiveMode", "must be Never, IfAvailable or Always");
        r = get_bool(w, exec, "provideClusterInfo", &c->exec.provide_cluster_info);
        if (r < 0)
                return r;

        if (args && !json_is_null(args) && json_type(args) != JSON_ARRAY)
                return fail(w, -EINVAL, "exec.args", "must be a list of strings");
        n = json_array_len(args);
        c->exec.args = new0(char *, n + 1);
        if (!c->exec.args)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                item = json_array_at(args, i);
                if (json_type(item) != JSON_STRING || memchr(json_string(item), '\0', json_string_len(item)))
                        return fail(w, -EINVAL, "exec.args", "item %zu must be a string", i);
                c->exec.args[i] = strdup(json_string(item));
                if (!c->exec.args[i])
                        return -ENOMEM;
        }

        if (env && !json_is_null(env) && json_type(env) != JSON_ARRAY)
                return fail(w, -EINVAL, "exec.env", "must be a list of {name, value}");
        n = json_array_len(env);
        c->exec.env = new0(char *, n + 1);
        if (!c->exec.env)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *name, *value;
                item = json_array_at(env, i);
                name = json_get_string(item, "name");
                value = json_get_string(item, "value");
                if (isempty(name) || strchr(name, '=') || !value)
                        return fail(w, -EINVAL, "exec.env", "item %zu needs a name (without '=') and a string value", i);
                if (asprintf(&c->exec.env[i], "%s=%s", name, value) < 0) {
                        c->exec.env[i] = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

static int load_user(Where *w, const JsonValue *user, KubeConfig *c) {
        const JsonValue *exec;
        X509 *cert = NULL;
        int r;

        if (json_get(user, "auth-provider"))
                return fail(w, -EOPNOTSUPP, "auth-provider", "not supported; use an exec credential plugin");

        if ((r = get_path(w, user, "client-certificate", &c->cert_file)) < 0 ||
            (r = get_base64(w, user, "client-certificate-data", &c->cert_data, &c->cert_data_len)) < 0 ||
            (r = get_path(w, user, "client-key", &c->key_file)) < 0 ||
            (r = get_base64(w, user, "client-key-data", &c->key_data, &c->key_data_len)) < 0 ||
            (r = get_string(w, user, "token", &c->token)) < 0 ||
            (r = get_path(w, user, "tokenFile", &c->token_file)) < 0 ||
            (r = get_string(w, user, "username", &c->username)) < 0 ||
            (r = get_string(w, user, "password", &c->password)) < 0)
                return r;

        if (c->cert_data)
                c->cert_file = mfree(c->cert_file);
        if (c->key_data)
                c->key_file = mfree(c->key_file);
        if ((c->cert_data || c->cert_file) && !(c->key_data || c->key_file))
                return fail(w, -EINVAL, "client-key", "missing (client-certificate is set)");
        if ((c->key_data || c->key_file) && !(c->cert_data || c->cert_file))
                return fail(w, -EINVAL, "client-certificate", "missing (client-key is set)");
        if (c->cert_data || c->cert_file) {
                r = check_certificates(w, c->cert_data ? "client-certificate-data" : "client-certificate", c->cert_file,
                                       c->cert_data, c->cert_data_len, &cert);
                if (r < 0)
                        return r;
                r = check_key(w, c->key_data ? "client-key-data" : "client-key", c->key_file, c->key_data,
                              c->key_data_len, cert);
                X509_free(cert);
                if (r < 0)
                        return r;
        }

        if (c->token && isempty(c->token))
                c->token = mfree(c->token);
        if (c->token)
                c->token_file = mfree(c->token_file); /* kubectl: token wins over tokenFile */
        if (c->token_file) {
                _cleanup_free_ char *t = NULL;
                r = kube_read_file(c->token_file, TOKEN_FILE_MAX_BYTES, &t, NULL, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail(w, r, "tokenFile", "cannot read %s: %s", c->token_file, strerror(-r));
                explicit_bzero(t, strlen(t));
        }
        if ((c->username == NULL) != (c->password == NULL))
                return fail(w, -EINVAL, c->username ? "password" : "username", "missing (basic auth needs both)");

        exec = json_get(user, "exec");
        if (exec && !json_is_null(exec)) {
                r = load_exec(w, exec, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int absolute_dir_of(const char *path, char **ret) {
        _cleanup_free_ char *copy = strdup(path);
        char *dir, *abs;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        abs = realpath(dir, NULL);
        if (!abs)
                return negative_errno();
        *ret = abs;
        return 0;
}

typedef int (*load_entry_fn)(Where *w, const JsonValue *entry, KubeConfig *c);

/* Finds the entry of list (clusters, users) that the context names and loads it. */
static int load_named(Where *w, const JsonValue *root, const char *list, const char *inner, const char *name,
                      const char *context, load_entry_fn load, KubeConfig *c) {
        const JsonValue *entry = NULL;
        int r;

        w->kind = inner;
        w->name = name;
        r = find_named(w, root, list, inner, name, &entry);
        if (r == 0)
                return fail(w, -ENOENT, NULL, "not found in %s (named by context \"%s\")", list, context);
        if (r < 0)
                return r;
        return load(w, entry, c);
}

static int parse_config(const char *buf, size_t len, const char *path, const char *dir, const char *context,
                        KubeConfig **ret, char **ret_error) {
        _cleanup_(kube_config_freep) KubeConfig *c = NULL;
        _cleanup_free_ char *yerr = NULL, *current = NULL, *cluster_name = NULL, *user_name = NULL;
        JsonDoc **docs = NULL;
        size_t n = 0;
        const JsonValue *root, *ctx = NULL;
        Where w = { .file = path, .dir = dir, .ret_error = ret_error };
        int r;

        r = yaml_parse_documents(buf, len, path, &docs, &n, &yerr);
        if (r < 0) {
                if (ret_error && yerr) {
                        free(*ret_error);
                        *ret_error = TAKE_PTR(yerr);
                }
                return r;
        }
        root = n > 0 ? json_doc_root(docs[0]) : NULL;
        if (json_type(root) != JSON_OBJECT) {
                yaml_docs_free(docs, n);
                return fail(&w, -EINVAL, NULL, "not a kubeconfig (expected a mapping with clusters, users, contexts)");
        }

        c = new0(KubeConfig, 1);
        if (!c) {
                r = -ENOMEM;
                goto finish;
        }
        r = get_string(&w, root, "current-context", &current);
        if (r < 0)
                goto finish;
        if (!context)
                context = current;
        if (isempty(context)) {
                r = fail(&w, -EINVAL, "current-context", "not set, and no context was given");
                goto finish;
        }
        r = free_and_strdup(&c->context, context);
        if (r < 0)
                goto finish;

        w.kind = "context";
        w.name = context;
        r = find_named(&w, root, "contexts", "context", context, &ctx);
        if (r == 0)
                r = fail(&w, -ENOENT, NULL, "not found in contexts");
        if (r < 0)
                goto finish;
        if ((r = get_string(&w, ctx, "cluster", &cluster_name)) < 0 ||
            (r = get_string(&w, ctx, "user", &user_name)) < 0 ||
            (r = get_string(&w, ctx, "namespace", &c->namespace)) < 0)
                goto finish;
        if (isempty(cluster_name)) {
                r = fail(&w, -EINVAL, "cluster", "missing");
                goto finish;
        }

        r = load_named(&w, root, "clusters", "cluster", cluster_name, context, load_cluster, c);
        if (r < 0)
                goto finish;
        if (!isempty(user_name)) {
                r = load_named(&w, root, "users", "user", user_name, context, load_user, c);
                if (r < 0)
                        goto finish;
        }

        r = free_and_strdup(&c->source, path);
        if (r < 0)
                goto finish;
        log_debug("kubeconfig %s: context %s, server %s", path, context, c->server);
        *ret = TAKE_PTR(c);
        r = 0;
finish:
        yaml_docs_free(docs, n);
        return r;
}

int kube_config_load_file(const char *path, const char *context, KubeConfig **ret, char **ret_error) {
        _cleanup_free_ char *buf = NULL, *dir = NULL;
        Where w = { .file = path, .ret_error = ret_error };
        size_t len;
        int r;

        r = kube_read_file(path, KUBECONFIG_MAX_BYTES, &buf, &len, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(&w, r, NULL, "cannot read: %s", strerror(-r));
        r = absolute_dir_of(path, &dir);
        if (r < 0)
                return fail(&w, r, NULL, "cannot resolve its directory: %s", strerror(-r));
        return parse_config(buf, len, path, dir, context, ret, ret_error);
}

int kube_config_load_buffer(const char *buf, size_t len, const char *path, const char *context, KubeConfig **ret,
                            char **ret_error) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        if (path[0] != '/')
                return -EINVAL;
        return parse_config(buf, len, path, dirname(copy), context, ret, ret_error);
}

static int read_trimmed(const char *path, size_t max, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len;
        int r;

        r = kube_read_file(path, max, &s, &len, NULL);
        if (r < 0)
                return r;
        while (len > 0 && strchr(" \t\r\n", s[len - 1]))
                s[--len] = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

int kube_config_load_in_cluster(KubeConfig **ret, char **ret_error) {
        _cleanup_(kube_config_freep) KubeConfig *c = NULL;
        const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
        const char *dir = getenv(KUBE_SERVICEACCOUNT_DIR_ENV);
        _cleanup_free_ char *token = NULL;
        Where w = { .file = "in-cluster config", .ret_error = ret_error };
        int r;

        if (isempty(dir))
                dir = SERVICEACCOUNT_DIR;
        if (isempty(host) || isempty(port))
                return fail(&w, -ENOENT, NULL, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");

        c = new0(KubeConfig, 1);
        if (!c)
                return -ENOMEM;
        if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0 ||
            asprintf(&c->token_file, "%s/token", dir) < 0 || asprintf(&c->ca_file, "%s/ca.crt", dir) < 0) {
                c->server = c->token_file = c->ca_file = NULL;
                return -ENOMEM;
        }
        if (free_and_strdup(&c->source, "in-cluster") < 0)
                return -ENOMEM;

        r = read_trimmed(c->token_file, TOKEN_FILE_MAX_BYTES, &token);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(&w, r, "token", "cannot read %s: %s", c->token_file, strerror(-r));
        explicit_bzero(token, strlen(token));
        r = check_certificates(&w, "ca.crt", c->ca_file, NULL, 0, NULL);
        if (r < 0)
                return r;

        {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/namespace", dir) < 0)
                        return -ENOMEM;
                r = read_trimmed(p, 4096, &c->namespace);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        c->namespace = NULL; /* optional */
                else if (isempty(c->namespace))
                        c->namespace = mfree(c->namespace);
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int kube_config_load(const char *path, KubeConfig **ret, char **ret_error) {
        const char *env = getenv("KUBECONFIG"), *home;
        _cleanup_free_ char *first = NULL, *fallback = NULL;

        if (!isempty(path))
                return kube_config_load_file(path, NULL, ret, ret_error);

        if (!isempty(env)) {
                /* Only the first entry of the list: berth does not merge kubeconfigs. */
                const char *p = env;
                while (*p == ':')
                        p++;
                if (*p) {
                        first = strndup(p, strcspn(p, ":"));
                        if (!first)
                                return -ENOMEM;
                        return kube_config_load_file(first, NULL, ret, ret_error);
                }
        }

        if (!isempty(getenv("KUBERNETES_SERVICE_HOST")) && !isempty(getenv("KUBERNETES_SERVICE_PORT")))
                return kube_config_load_in_cluster(ret, ret_error);

        home = getenv("HOME");
        if (!isempty(home)) {
                if (asprintf(&fallback, "%s/.kube/config", home) < 0)
                        return -ENOMEM;
                if (access(fallback, F_OK) == 0)
                        return kube_config_load_file(fallback, NULL, ret, ret_error);
        }
        if (ret_error) {
                free(*ret_error);
                if (asprintf(ret_error,
                             "no kubeconfig: pass --kubeconfig, set KUBECONFIG, run in a cluster, or create %s",
                             fallback ?: "~/.kube/config") < 0)
                        *ret_error = NULL;
        }
        return -ENOENT;
}
