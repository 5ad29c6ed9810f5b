/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* berth-controller as a real process under test: started with the envtest
 * kubeconfig, its log in a file, its /metrics scraped over plain HTTP, and
 * stopped with SIGTERM as a supervisor would.  Plus a keep-alive API
 * client for tests that write thousands of objects (itest_api opens a new
 * TLS connection per call). */

#include <stdbool.h>
#include <sys/types.h>

#include "itest.h"

typedef struct ITestBerth {
        pid_t pid;
        unsigned metrics_port;
        char *log_path;       /* stdout + stderr of every run, appended */
        char **extra_args;    /* NULL-terminated, owned */
} ITestBerth;

/* The binary: $BERTH_CONTROLLER, else berth-controller in the build
 * directory this test program was built in (…/tests/integration/../..). */
char *itest_berth_binary(void);

/* Starts berth-controller with --kubeconfig, --leader-elect=false,
 * --metrics-bind-address=127.0.0.1:0 and the given extra arguments
 * (NULL-terminated, copied), then waits until /readyz answers 200 (caches
 * synced).  The log goes to a file that is kept across restarts. */
int itest_berth_start(ITestEnv *e, const char *const *extra_args, ITestBerth **ret);
/* Starts the same process again (after itest_berth_stop). */
int itest_berth_restart(ITestEnv *e, ITestBerth *b);
/* SIGTERM, then waits (10 s, then SIGKILL).  Returns the exit status
 * (0 = clean exit), or -ETIMEDOUT when it had to be killed. */
int itest_berth_stop(ITestBerth *b);
/* Stops it if running, prints the last lines of its log when
 * print_log_lines > 0, removes the log and frees. */
ITestBerth *itest_berth_free(ITestBerth *b, unsigned print_log_lines);
/* Prints the last n lines of the log to stderr. */
void itest_berth_print_log(const ITestBerth *b, unsigned n);

/* GET http://127.0.0.1:PORT/path; ret_code optional. */
int itest_berth_http_get(const ITestBerth *b, const char *path, long *ret_code, char **ret_body);
/* Sum of every sample of metric `name` in /metrics whose labels contain
 * label_match (e.g. "operation=\"create\""; NULL = all).  A metric
 * absent from the output sums to 0. */
int itest_berth_metric_sum(const ITestBerth *b, const char *name, const char *label_match, double *ret);

/* A keep-alive client for the envtest apiserver (admin token).
 * content_type NULL = application/json. */
typedef struct ITestApi ITestApi;
int itest_api_client_new(ITestEnv *e, ITestApi **ret);
ITestApi *itest_api_client_free(ITestApi *a);
int itest_api_call(ITestApi *a, const char *method, const char *path, const char *content_type, const char *body,
                   long *ret_code, char **ret_body);
/* Same, printing method, path, code and body and returning -EIO when the
 * code is not 2xx. */
int itest_api_call_ok(ITestApi *a, const char *method, const char *path, const char *content_type,
                      const char *body, char **ret_body);

/* SIGKILL (a crash: no lease release, no last writes), then reaps it.
 * itest_berth_restart starts it again. */
int itest_berth_kill(ITestBerth *b);

/* GET path, parsed; NULL (the reason on stderr) on a transport error, a
 * code other than 2xx or a body that does not parse. */
JsonDoc *itest_api_get_json(ITestApi *a, const char *path);

/* Polls itest_berth_metric_sum until it equals value; -ETIMEDOUT (the
 * last value on stderr) when it does not within timeout. */
int itest_berth_wait_metric(const ITestBerth *b, const char *name, const char *label_match, double value,
                            usec_t timeout);

/* Installs the metallb.io CRDs berth ships (examples/manifests/crds) and
 * waits until the API server serves both kinds in namespace ns. */
int itest_metallb_crds_install(ITestEnv *e, const char *ns);
