/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where objects come from and where writes go (design.md "source"): the
 * API server (informers + HTTP writers) or a manifest directory (offline.md).
 * Controllers see only this interface and the caches it hands out, so one
 * reconcile function serves both. */

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "cache.h"
#include "http.h"
#include "object.h"

typedef struct Source Source;

typedef struct SourceFilter {
        const char *namespace;       /* NULL = all namespaces */
        const char *label_selector;  /* API syntax, NULL = none */
        const char *field_selector;  /* API syntax, NULL = none */
} SourceFilter;

/* Result of a write: error 0 on success, with the object as the server
 * stored it (decoded, may be NULL for DELETE); on failure -errno and the
 * server's status (http_code 409 for conflicts, 404, 422 with message...). */
typedef void (*source_write_fn)(int error, const KubeStatus *status, KubeObject *stored, void *userdata);

typedef struct SourceOps {
        const char *name; /* "api" or "offline" */
        int (*cache)(Source *s, const KubeKind *kind, const SourceFilter *filter, Cache **ret);
        bool (*synced)(Source *s);
        /* method: "POST" (name NULL), "PUT", "PATCH", "DELETE"; subresource NULL or "status".
         * content_type for PATCH: application/merge-patch+json or application/apply-patch+yaml
         * (server-side apply, fieldManager=berth added by the source). */
        int (*write)(Source *s, const char *method, const KubeKind *kind, const char *namespace,
                     const char *name, const char *subresource, const char *content_type,
                     const char *body, source_write_fn done, void *userdata);
        usec_t (*now)(Source *s); /* wall clock, or offline --now */
        /* GET one object with a consistent read (API: no resourceVersion
         * parameter); done() gets it decoded as `stored`, or -ENOENT. */
        int (*get)(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                   source_write_fn done, void *userdata);
        /* Drops one use of a cache handed out by cache(): when its last user
         * releases it, its informer stops and the cache is freed (its
         * handlers are not called again).  Lets a caller change a filter
         * (a new cache) or force a re-list (release, then ask again).  Never from
         * inside one of that cache's own handlers (it frees the cache). */
        void (*cache_release)(Source *s, Cache *c);
        /* Cancels every request in flight (write or get) whose userdata is
         * `userdata`: done() is never called for them. */
        void (*cancel)(Source *s, void *userdata);
        void (*free)(Source *s);
} SourceOps;

struct Source {
        const SourceOps *ops;
        sd_event *event;
};

/* A cache of kind (shared when two callers ask for the same kind and filter,
 * each ask counting as one use), started now; the source owns it. */
static inline int source_cache(Source *s, const KubeKind *kind, const SourceFilter *filter, Cache **ret) {
        return s->ops->cache(s, kind, filter, ret);
}
static inline bool source_synced(Source *s) {
        return s->ops->synced(s);
}
static inline usec_t source_now(Source *s) {
        return s->ops->now(s);
}
int source_create(Source *s, const KubeKind *kind, const char *namespace, const char *body,
                  source_write_fn done, void *userdata);
int source_replace(Source *s, const KubeKind *kind, const char *namespace, const char *name, const char *body,
                   source_write_fn done, void *userdata);
int source_replace_status(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                          const char *body, source_write_fn done, void *userdata);
int source_merge_patch(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                       const char *subresource, const char *body, source_write_fn done, void *userdata);
int source_delete(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                  source_write_fn done, void *userdata);
/* DELETE with preconditions.uid (a DeleteOptions body): 409 Conflict
 * (-ESTALE) when the stored object has another uid.  Offline likewise. */
int source_delete_uid(Source *s, const KubeKind *kind, const char *namespace, const char *name, const char *uid,
                      source_write_fn done, void *userdata);
static inline int source_get(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                             source_write_fn done, void *userdata) {
        return s->ops->get(s, kind, namespace, name, done, userdata);
}
static inline void source_cache_release(Source *s, Cache *c) {
        s->ops->cache_release(s, c);
}
static inline void source_cancel(Source *s, void *userdata) {
        s->ops->cancel(s, userdata);
}
Source *source_free(Source *s);
DEFINE_POINTER_CLEANUP(Source, source_free);

/* The -errno a failed write reports, from the server's status (both
 * sources use it): 400/422 -EINVAL, 401 -EACCES, 403 -EPERM, 404 -ENOENT,
 * 409 AlreadyExists -EEXIST, 409 Conflict (stale resourceVersion) -ESTALE,
 * 410 -ENODATA, 429 -EAGAIN, 5xx -EIO, no HTTP response -EIO. */
int source_errno_from_status(const KubeStatus *status);

/* What the two implementations key their caches by: the kind and the filter,
 * empty selectors counting as none, so two callers asking for the same objects
 * share one cache. */
typedef struct SourceCacheKey {
        const KubeKind *kind;
        char *namespace, *label_selector, *field_selector;
} SourceCacheKey;

int source_cache_key_init(SourceCacheKey *k, const KubeKind *kind, const SourceFilter *filter);
bool source_cache_key_matches(const SourceCacheKey *k, const KubeKind *kind, const SourceFilter *filter);
/* The key as a filter (pointing into k). */
SourceFilter source_cache_key_filter(const SourceCacheKey *k);
void source_cache_key_done(SourceCacheKey *k);

/* The two implementations. */
int source_api_new(sd_event *event, KubeClient *client, Source **ret);
typedef struct OfflineOptions {
        const char *dir;
        usec_t now;          /* --now; 0 = current time */
} OfflineOptions;
int source_offline_new(sd_event *event, const OfflineOptions *opts, Source **ret, char **ret_error);
