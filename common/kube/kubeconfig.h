/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where and how to reach the API server: a kubeconfig file (YAML via
 * libyaml: clusters, users, contexts; certificates, keys and CA inline
 * (*-data) or by path; token, tokenFile; exec credential plugins;
 * insecure-skip-tls-verify) or the in-cluster service account. */

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"
#include "timeutil.h"

typedef struct KubeConfig {
        char *server;                 /* https://127.0.0.1:6443 */
        char *source;                 /* file it came from, or "in-cluster" (for messages) */
        char *context;                /* context name used */
        char *namespace;              /* context's namespace, or NULL */

        /* TLS */
        bool insecure_skip_tls_verify;
        char *tls_server_name;
        char *ca_file;     unsigned char *ca_data;     size_t ca_data_len;
        char *cert_file;   unsigned char *cert_data;   size_t cert_data_len;
        char *key_file;    unsigned char *key_data;    size_t key_data_len;

        /* auth: at most one of token / token_file / exec is used, in that order of precedence
         * as kubectl (token wins over tokenFile). */
        char *token;
        char *token_file;             /* re-read before each use when it changed */
        char *username, *password;    /* basic auth, rarely used */
        struct {
                char *command;
                char **args;          /* NULL-terminated */
                char **env;           /* "NAME=value", NULL-terminated */
                char *api_version;    /* client.authentication.k8s.io/v1 or v1beta1 */
                bool provide_cluster_info; /* pass server/CA in KUBERNETES_EXEC_INFO */
        } exec;
} KubeConfig;

/* Loads from an explicit path, else $KUBECONFIG (first entry), else the
 * in-cluster service account, else ~/.kube/config (design.md order).
 * Errors (-ENOENT, -EINVAL, ...) come with a malloc'd message naming the
 * file and the field in *ret_error. */
int kube_config_load(const char *path, KubeConfig **ret, char **ret_error);
int kube_config_load_file(const char *path, const char *context, KubeConfig **ret, char **ret_error);
/* Parses kubeconfig text as if read from path (absolute; for messages and
 * for resolving relative paths); fuzzing and tests. */
int kube_config_load_buffer(const char *buf, size_t len, const char *path, const char *context, KubeConfig **ret,
                            char **ret_error);
int kube_config_load_in_cluster(KubeConfig **ret, char **ret_error);
KubeConfig *kube_config_free(KubeConfig *c);
DEFINE_POINTER_CLEANUP(KubeConfig, kube_config_free);

/* Environment variable overriding the in-cluster service-account directory
 * (/var/run/secrets/kubernetes.io/serviceaccount); for tests. */
#define KUBE_SERVICEACCOUNT_DIR_ENV "BERTH_SERVICEACCOUNT_DIR"

/* Reads a whole (small) file: -EFBIG when larger than max_size.  *ret is
 * NUL-terminated.  ret_st, when not NULL, receives the opened file's stat. */
struct stat;
int kube_read_file(const char *path, size_t max_size, char **ret, size_t *ret_len, struct stat *ret_st);

/* The bearer token to send now: the inline token, the token file's current
 * content (re-read when its mtime/size changed), or the exec plugin's
 * cached credential (re-run when expired).  NULL when none applies. */
typedef struct KubeCredentials KubeCredentials;
int kube_credentials_new(const KubeConfig *c, KubeCredentials **ret);
KubeCredentials *kube_credentials_free(KubeCredentials *k);
DEFINE_POINTER_CLEANUP(KubeCredentials, kube_credentials_free);
int kube_credentials_token(KubeCredentials *k, const char **ret_token, char **ret_error);
/* Exec plugin bounds: defaults 10 s and 1 MiB of output (0 keeps a value). */
void kube_credentials_set_exec_limits(KubeCredentials *k, usec_t timeout, size_t max_output);
/* Call after a 401: forget cached exec credentials / token file content. */
void kube_credentials_invalidate(KubeCredentials *k);
