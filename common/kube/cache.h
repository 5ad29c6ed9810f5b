/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A typed object store for one kind: what informers (API source) and the
 * manifest loader (offline source) fill, and what controllers read.
 * Keyed by namespace/name; optional secondary indexes (by namespace
 * always; by node, by any key function on demand); add/update/delete
 * handlers fired synchronously on each change, on the event loop.
 * Objects in the cache are shared references: never modify one. */

#include <stdbool.h>
#include <stddef.h>

#include "object.h"
#include "strpool.h"

typedef struct Cache Cache;

typedef struct CacheHandlers {
        void (*on_add)(KubeObject *obj, void *userdata);
        void (*on_update)(KubeObject *old_obj, KubeObject *new_obj, void *userdata);
        /* obj is the last state the cache knew. */
        void (*on_delete)(KubeObject *obj, void *userdata);
        void *userdata;
} CacheHandlers;

int cache_new(const KubeKind *kind, Cache **ret);
Cache *cache_free(Cache *c);
DEFINE_POINTER_CLEANUP(Cache, cache_free);

const KubeKind *cache_kind(const Cache *c);
/* The pool decoders for this cache must intern into. */
StrPool *cache_pool(Cache *c);
int cache_add_handlers(Cache *c, const CacheHandlers *h);
/* Removes every handler set registered with userdata (a controller that
 * goes away before the source that owns the cache). */
void cache_remove_handlers(Cache *c, void *userdata);

/* Writers: the informer or the offline source.  cache_upsert takes a new
 * reference on obj; an object with the same resourceVersion as the cached
 * one is not an update (no handler runs). */
int cache_upsert(Cache *c, KubeObject *obj);
int cache_remove(Cache *c, const char *namespace, const char *name);
/* A relist: objs is the complete new content.  Fires add/update for what is
 * new or changed, delete for what vanished. */
int cache_replace(Cache *c, KubeObject *const *objs, size_t n);
void cache_set_synced(Cache *c, bool synced);
bool cache_synced(const Cache *c);

/* Readers. */
KubeObject *cache_get(const Cache *c, const char *namespace, const char *name);
size_t cache_size(const Cache *c);
/* Iterates in (namespace, name) order; namespace NULL = every object.
 * A callback returning < 0 stops iteration and that value is returned. */
typedef int (*cache_iter_fn)(KubeObject *obj, void *userdata);
int cache_foreach(const Cache *c, const char *namespace, cache_iter_fn fn, void *userdata);

/* Secondary index: keys_fn returns up to max keys for obj (e.g. its node
 * name); objects are then found by key. Add indexes before the first upsert. */
typedef size_t (*cache_index_fn)(const KubeObject *obj, const char **ret_keys, size_t max);
int cache_add_index(Cache *c, const char *index_name, cache_index_fn keys_fn);
int cache_foreach_indexed(const Cache *c, const char *index_name, const char *key, cache_iter_fn fn,
                          void *userdata);

/* berth_cache_objects / berth_cache_bytes{kind}. */
size_t cache_memory_bytes(const Cache *c);
