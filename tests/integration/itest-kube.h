/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Integration-test helpers that use the library under test: a KubeClient
 * from a kubeconfig, and a recorder of cache handler calls. */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "cache.h"
#include "http.h"
#include "itest.h"
#include "kubeconfig.h"

/* A client for the kubeconfig at path (NULL = the envtest admin kubeconfig).
 * The client borrows the config: free the client first. */
int itest_kube_client(ITestEnv *e, sd_event *event, const char *path, KubeConfig **ret_config, KubeClient **ret);

/* Records every handler call of a cache as lines "add NAME", "update NAME",
 * "delete NAME" (NAME is ns/name or name), with the new object's value of
 * one label appended when label_key is set: "update NAME step=2". */
#define RECORDER_MAX 4096
typedef struct Recorder {
        const char *label_key;
        size_t n;
        char *lines[RECORDER_MAX];
        bool overflow;
} Recorder;

void recorder_attach(Recorder *r, Cache *cache);
void recorder_clear(Recorder *r);
/* Number of recorded lines equal to line. */
size_t recorder_count(const Recorder *r, const char *line);
/* Number of recorded lines starting with prefix. */
size_t recorder_count_prefix(const Recorder *r, const char *prefix);
/* Prints the lines to stderr (on failure). */
void recorder_dump(const Recorder *r, const char *title);

/* The API path of a manifest object (apiVersion, kind, metadata.name and
 * .namespace; a namespaced kind without a namespace goes to "default").
 * Kinds are resolved by a small table (cluster-scoped kinds and irregular
 * plurals of the kinds berth's manifests hold); NULL when something is
 * missing or on -ENOMEM. */
char *itest_object_path(const JsonValue *obj);
/* Applies every document of a YAML manifest file with server-side apply
 * (PATCH application/apply-patch+yaml, fieldManager=field_manager,
 * fieldValidation=Strict), as `kubectl apply --server-side` would; with
 * dry_run, dryRun=All (the server validates and admits, stores nothing).
 * On a refusal prints the object's path and the server's answer and
 * returns -EIO.  *ret_n (optional): the number of objects. */
int itest_apply_file(ITestEnv *e, const char *file, const char *field_manager, bool dry_run, size_t *ret_n);
/* A bearer token for ServiceAccount ns/sa from the TokenRequest API
 * (POST .../serviceaccounts/SA/token), valid for an hour. */
int itest_serviceaccount_token(ITestEnv *e, const char *ns, const char *sa, char **ret_token);
