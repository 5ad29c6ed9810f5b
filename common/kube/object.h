/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The object model shared by every cache, decoder and controller.
 *
 * Each typed object (Pod, Service, ...) is a C struct whose first member is
 * a KubeObject, so generic code (caches, informers, sources) can hold any
 * kind through a KubeObject * and its KubeKind vtable.  Objects are
 * immutable once decoded and reference counted: a cache hands the old and
 * the new object to update handlers and drops its reference afterwards.
 *
 * Strings that repeat across objects (namespaces, label keys and values)
 * are interned in a StrPool owned by the cache that decoded the object. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "json.h"
#include "macros.h"
#include "strpool.h"
#include "timeutil.h"

/* A sorted (by key, bytewise) list of string pairs: labels, annotations,
 * selectors.  Keys and values are interned in the owning object's pool. */
typedef struct StrMap {
        size_t n;
        struct StrMapEntry {
                const char *key;
                const char *value;
        } *entries;
} StrMap;

const char *strmap_get(const StrMap *m, const char *key);
bool strmap_equal(const StrMap *a, const StrMap *b);

typedef struct ObjectMeta {
        const char *namespace;    /* interned; NULL for cluster-scoped kinds */
        char *name;
        char *uid;
        char *resource_version;
        int64_t generation;
        usec_t creation_timestamp;  /* 0 = unset */
        usec_t deletion_timestamp;  /* 0 = not being deleted */
        StrMap labels;
        StrMap annotations;         /* only the keys the kind's decoder keeps */
} ObjectMeta;

typedef struct KubeKind KubeKind;

typedef struct KubeObject {
        const KubeKind *kind;
        StrPool *pool;          /* where meta's interned strings live */
        unsigned refcount;
        ObjectMeta meta;
} KubeObject;

typedef struct KubeDecodeContext {
        StrPool *pool;
} KubeDecodeContext;

struct KubeKind {
        const char *kind;          /* "Pod" */
        const char *api_version;   /* "v1", "discovery.k8s.io/v1" */
        const char *group;         /* "" for core */
        const char *version;       /* "v1" */
        const char *resource;      /* plural: "pods" */
        bool namespaced;

        /* Decodes one object of this kind; on failure -EINVAL and a
         * malloc'd message naming the field ("spec.ports[1].port: not an
         * integer"). */
        int (*decode)(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **ret_error);
        /* Frees what decode allocated beyond the KubeObject base (which
         * kube_object_unref() releases itself). */
        void (*destroy)(KubeObject *o);
        /* Writes the object as the API server would accept it (NULL for
         * kinds berth never writes). */
        int (*encode)(const KubeObject *o, yajl_gen g);
        /* Bytes this object holds (struct + owned strings, interned strings
         * not counted): berth_cache_bytes{kind}. */
        size_t (*memory_size)(const KubeObject *o);
};

/* Looks a kind up by apiVersion + kind ("v1", "Pod"); NULL if berth does
 * not know it. */
const KubeKind *kube_kind_find(const char *api_version, const char *kind);
/* All kinds berth knows, NULL-terminated. */
extern const KubeKind *const kube_kinds[];

/* Decodes v as the kind its apiVersion/kind fields name (or as `kind`
 * when not NULL). */
int kube_object_decode(const KubeKind *kind, const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret,
                       char **ret_error);
KubeObject *kube_object_ref(KubeObject *o);
KubeObject *kube_object_unref(KubeObject *o);
DEFINE_POINTER_CLEANUP(KubeObject, kube_object_unref);
/* "ns/name" or "name" into buf (returns buf); truncates safely. */
const char *kube_object_key(const KubeObject *o, char *buf, size_t size);

/* Helpers for decoders of every kind. */
int object_meta_decode(const JsonValue *metadata, KubeDecodeContext *ctx, bool namespaced,
                       const char *const *keep_annotations /* NULL-terminated, or NULL = keep all */,
                       ObjectMeta *ret, char **ret_error);
void object_meta_done(ObjectMeta *m, StrPool *pool);
/* Writes "metadata": {...} (name, namespace, uid?, resourceVersion if set,
 * labels, annotations). */
int object_meta_encode(const ObjectMeta *m, yajl_gen g);
size_t object_meta_memory_size(const ObjectMeta *m);
