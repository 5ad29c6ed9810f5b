/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers for the integration tests (tests/integration/run.sh runs them
 * against the real control plane of tests/envtest).  They talk to the API
 * server with their own plain libcurl calls, never through the library
 * under test, so a bug there cannot hide itself. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "json.h"
#include "macros.h"
#include "timeutil.h"

typedef struct ITestEnv ITestEnv;

/* Loads $BERTH_ENVTEST_ENV (KEY=value lines written by tests/envtest/start). */
int itest_env_load(ITestEnv **ret);
ITestEnv *itest_env_free(ITestEnv *e);
/* Re-reads the file (after the apiserver restarted). */
int itest_env_reload(ITestEnv *e);
/* NULL when the key is absent. */
const char *itest_env_get(const ITestEnv *e, const char *key);
/* $BERTH_SRCDIR/relative (the source tree: manifests). */
char *itest_srcpath(const char *relative);
/* "prefix-<pid>-<n>": unique across processes and calls. */
char *itest_unique_name(ITestEnv *e, const char *prefix);

/* tests/envtest/apiserver DIR action [options...] (NULL-terminated), then
 * reloads the env.  action: "stop", "start", "restart". */
int itest_apiserver_internal(ITestEnv *e, const char *action, ...) __attribute__((sentinel));
/* itest_apiserver(e, "restart", "--flag=value", ...): the macro adds the typed terminator. */
#define itest_apiserver(e, ...) itest_apiserver_internal((e), __VA_ARGS__, (const char *) NULL)

/* A synchronous request with a bearer token (NULL = the admin token).
 * content_type NULL = application/json.  ret_body may be NULL. */
int itest_api(ITestEnv *e, const char *token, const char *method, const char *path, const char *content_type,
              const char *body, long *ret_code, char **ret_body);
/* Same, asserting (with a message on stderr) that the code is 2xx. */
int itest_api_ok(ITestEnv *e, const char *method, const char *path, const char *body, char **ret_body);
/* Creates the objects of a YAML or JSON manifest file (one object per
 * file); 409 AlreadyExists counts as success. */
int itest_create_file(ITestEnv *e, const char *path, const char *file);
/* Waits until GET path answers 200 (CRDs being established, ...). */
int itest_wait_path(ITestEnv *e, const char *path, usec_t timeout);
/* Compacts etcd up to its current revision through etcd's v3 HTTP gateway;
 * returns the revision compacted to. */
int itest_etcd_compact(ITestEnv *e, long long *ret_revision);

/* Reads one key from etcd (etcd's v3 HTTP gateway): the raw stored bytes,
 * as the apiserver wrote them.  -ENOENT when absent. */
int itest_etcd_get(ITestEnv *e, const char *key, char **ret_value, size_t *ret_len);
/* Writes one key straight into etcd (the v3 HTTP gateway's kv/put),
 * behind the apiserver's back: objects the apiserver would refuse. */
int itest_etcd_put(ITestEnv *e, const char *key, const char *value);

/* Writes a kubeconfig for server/CA with either an inline token or a
 * tokenFile (exactly one non-NULL). */
int itest_write_kubeconfig(const char *path, const char *server, const char *ca_file, const char *token,
                           const char *token_file);

/* The fault proxy (tests/integration/faultproxy) in front of the apiserver. */
typedef struct ITestProxy {
        pid_t pid;
        unsigned port;
        char *control;
        char *url;      /* https://127.0.0.1:PORT */
} ITestProxy;
int itest_proxy_start(ITestEnv *e, ITestProxy **ret);
/* Sends one command; the answer ("ok ...") into *ret_answer when not NULL.
 * -EBADMSG when the proxy answered "error ...". */
int itest_proxy_send(ITestProxy *p, const char *command, char **ret_answer);
ITestProxy *itest_proxy_stop(ITestProxy *p);

/* Runs the loop until done(userdata) is true or timeout passes; returns 0
 * or -ETIMEDOUT. */
int itest_run_until(sd_event *event, bool (*done)(void *userdata), void *userdata, usec_t timeout);
/* Runs the loop for the given time (lets events that must NOT come arrive). */
int itest_run_for(sd_event *event, usec_t duration);

/* Spawns argv with stdout/stderr inherited; returns the pid. */
int itest_spawn(char *const argv[], pid_t *ret_pid);
/* Waits for pid up to timeout; ret_status as waitpid's; -ETIMEDOUT. */
int itest_wait_pid(pid_t pid, usec_t timeout, int *ret_status);

/* vasprintf into a new string; NULL on -ENOMEM. */
char *itest_strdupf(const char *format, ...) _printf_(1, 2);
/* itest_strdupf() that fails the calling cmocka test on -ENOMEM; expands
 * where cmocka's assert_non_null() is in scope. */
#define itest_fmt(...)                                          \
        ({                                                      \
                char *_s_ = itest_strdupf(__VA_ARGS__);         \
                assert_non_null(_s_);                           \
                _s_;                                            \
        })
/* Parses an API response body (capped at 256 MiB); on failure prints the
 * parser's message with the body's start and returns NULL. */
JsonDoc *itest_parse_json(const char *body);

/* A growing, NUL-terminated buffer and the libcurl CURLOPT_WRITEFUNCTION
 * that appends to it (CURLOPT_WRITEDATA = the buffer). */
typedef struct ItestBuffer {
        char *data;
        size_t len;
} ItestBuffer;
size_t itest_buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata);
