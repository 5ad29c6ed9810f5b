/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What enqueues a Service key in the endpoints and endpointslice
 * controllers (endpoints.md §8.1, §8.2) and the last-change trigger-time
 * tracker (§6.5).  Shared by both controllers; nothing here writes. */

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"
#include "pod.h"
#include "queue.h"
#include "service.h"
#include "timeutil.h"

/* "ns/name" of an object into buf; keys are what both work queues hold. */
#define ENDPOINT_KEY_MAX 512
const char *endpoint_service_key(const KubeObject *o, char buf[static ENDPOINT_KEY_MAX]);
/* Splits "ns/name" into its parts (pointers into buf, which is modified);
 * -EINVAL when key has no "/". */
int endpoint_key_split(char *buf, const char **ret_namespace, const char **ret_name);

/* ---- §8.1 pod add / delete ---------------------------------------------------- */

typedef int (*endpoint_service_fn)(const Service *svc, void *userdata);

/* Calls fn for every Service of services in the pod's namespace that has a
 * selector (nil = none) matching labels.  A callback < 0 stops and is returned. */
int endpoint_services_matching(const Cache *services, const char *namespace, const StrMap *labels,
                               endpoint_service_fn fn, void *userdata);

/* Pod add or delete (tombstones too): every matching Service key is added
 * to q after batch_period (0 = now). */
int endpoint_enqueue_pod_services(const Cache *services, WorkQueue *q, usec_t batch_period, const Pod *pod);

/* ---- §8.2 pod update filter --------------------------------------------------- */

typedef struct EndpointPodChange {
        bool labels_changed; /* labels, spec.hostname or spec.subdomain differ */
        bool pod_changed;    /* deletionTimestamp, Ready flip, podIPs, phase entering Failed/Succeeded */
} EndpointPodChange;

/* Pure classification of an update; both false for an unchanged resourceVersion. */
EndpointPodChange endpoint_pod_change(const Pod *old_pod, const Pod *new_pod);

/* Calls fn for the Services §8.2 says to enqueue for this update, each once:
 * neither changed → none; only pod changed → matching the new labels;
 * labels changed → old ∪ new when the pod also changed, else the Services
 * matching exactly one of the two label sets. */
int endpoint_services_for_pod_update(const Cache *services, const Pod *old_pod, const Pod *new_pod,
                                     endpoint_service_fn fn, void *userdata);
/* The same, adding each key to q after batch_period. */
int endpoint_enqueue_pod_update(const Cache *services, WorkQueue *q, usec_t batch_period, const Pod *old_pod,
                                const Pod *new_pod);

/* ---- batch period flags ------------------------------------------------------- */

/* --endpoint-updates-batch-period / --endpointslice-updates-batch-period:
 * a Go duration, 0 = no batching; negative or malformed → -EINVAL and a
 * malloc'd reason for cli_invalid_argument(). */
int endpoint_batch_period_parse(const char *value, usec_t *ret, char **ret_why);
/* --concurrent-endpoint-syncs / --concurrent-service-endpoint-syncs: a
 * positive integer (at most 1000). */
int endpoint_workers_parse(const char *value, unsigned *ret, char **ret_why);

/* ---- §6.5 trigger time -------------------------------------------------------- */

#define ENDPOINTS_ANNOTATION_TRIGGER_TIME "endpoints.kubernetes.io/last-change-trigger-time"

typedef struct TriggerTimeTracker TriggerTimeTracker;

int trigger_time_tracker_new(TriggerTimeTracker **ret);
TriggerTimeTracker *trigger_time_tracker_free(TriggerTimeTracker *t);
DEFINE_POINTER_CLEANUP(TriggerTimeTracker, trigger_time_tracker_free);

/* The trigger time of one sync of service_key, from the Service and the
 * pods it selects (by name), replacing the stored state whether or not the
 * caller writes:
 *   - first sync of the key: the Service's creationTimestamp;
 *   - later: the earliest of each pod's Ready lastTransitionTime that is
 *     newer than stored for that pod name (unknown pods: when non-zero) and
 *     the Service's creationTimestamp when newer than stored; 0 when none. */
int trigger_time_tracker_compute(TriggerTimeTracker *t, const char *service_key, const Service *svc,
                                 const Pod *const *pods, size_t n_pods, usec_t *ret);
/* The Service is gone: its next sync counts as a first sync again. */
void trigger_time_tracker_forget(TriggerTimeTracker *t, const char *service_key);
size_t trigger_time_tracker_size(const TriggerTimeTracker *t);

/* The annotation value: UTC RFC 3339, fraction only when non-zero and
 * without trailing zeros ("2018-01-01T00:00:00.5Z"). */
const char *trigger_time_format(usec_t t, char buf[static RFC3339_MAX]);

/* ---- §6.8 stale syncs (berth's deviation) --------------------------------------- */

/* A sync that finds the cache still before berth's own last write of the
 * key is not a failure: the key waits for the watch event of that write
 * (the controller calls endpoint_stale_wake() from its handlers once an
 * event clears the staleness), with a fixed re-check as a safety net for
 * an event that never comes (watch restart, relist).  Only when the same
 * key stays stale for longer than ENDPOINT_STALE_GIVE_UP does it fall back
 * to the rate-limited retry (a cache that never catches up backs off). */
#define ENDPOINT_STALE_RECHECK (1 * USEC_PER_SEC)
#define ENDPOINT_STALE_GIVE_UP (30 * USEC_PER_SEC)

/* Per key, in the controller's per-key state; zero-initialised = not waiting. */
typedef struct EndpointStaleWait {
        usec_t since;  /* queue time of the first of consecutive stale syncs */
        bool stale;    /* since is set */
        bool waiting;  /* an event clearing the staleness re-adds the key */
} EndpointStaleWait;

/* The sync of key found the cache stale.  Returns 0 when the key now waits
 * (finish it as a success: no backoff, no bucket token; it is re-added after
 * ENDPOINT_STALE_RECHECK at the latest), or -ESTALE when it has been stale
 * for more than ENDPOINT_STALE_GIVE_UP (finish it as a failure). */
int endpoint_stale_wait(EndpointStaleWait *w, WorkQueue *q, const char *key);
/* An event showed the state the key waited for: re-adds it now when it was waiting. */
void endpoint_stale_wake(EndpointStaleWait *w, WorkQueue *q, const char *key);
/* A sync found the cache current. */
void endpoint_stale_clear(EndpointStaleWait *w);
