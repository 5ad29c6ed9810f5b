/* SPDX-License-Identifier: Apache-2.0 */
/* The object cache: a hash table by namespace/name, a per-namespace set of
 * entries kept sorted by name (controllers iterate one namespace's pods
 * constantly), optional secondary indexes built the same way, and
 * add/update/delete handlers.
 *
 * Sets are sorted lazily: appends land in an unsorted tail that is merged
 * in on the next ordered read.  A LIST arrives sorted by (namespace, name),
 * so the initial fill never sorts at all, and a steady trickle of adds
 * costs one binary insertion each.
 *
 * Handlers and iteration callbacks may read the cache and even write it:
 * handlers run after the cache reached its new state, iteration holds a
 * reference on the object it is visiting and re-finds its place by key
 * when the callback changed the cache, and buckets that become empty
 * during an iteration are only freed after it. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cache.h"
#include "log.h"

#define CACHE_INDEX_MAX_KEYS 16

typedef struct CacheEntry {
        struct CacheEntry *next; /* hash chain */
        uint64_t hash;
        KubeObject *obj;
        size_t mem;       /* kind->memory_size(obj) when stored */
        uint64_t mark;    /* relist generation that last saw it */
} CacheEntry;

/* Entries ordered by (namespace, name); items[0..n_sorted) are in order. */
typedef struct EntrySet {
        CacheEntry **items;
        size_t n, cap, n_sorted;
} EntrySet;

typedef struct Bucket {
        struct Bucket *next;
        uint64_t hash;
        char *key;
        EntrySet set;
} Bucket;

/* A string -> Bucket hash table with an on-demand key order. */
typedef struct BucketMap {
        Bucket **slots;
        size_t n_slots, n;
        Bucket **order;
        size_t n_order;
        bool order_dirty;
        uint64_t order_gen; /* bumped whenever order is rebuilt */
} BucketMap;

typedef struct CacheIndex {
        char *name;
        cache_index_fn keys_fn;
        BucketMap buckets;
} CacheIndex;

struct Cache {
        const KubeKind *kind;
        StrPool *pool;
        uint64_t seed;

        CacheEntry **slots;
        size_t n_slots, n;

        BucketMap namespaces;
        CacheIndex *indexes;
        size_t n_indexes;

        CacheHandlers *handlers;
        size_t n_handlers;

        size_t object_bytes;
        uint64_t mutations;  /* set memberships changed */
        uint64_t generation; /* relists */
        unsigned iterating;
        bool empty_pending;  /* empty buckets wait for the iteration to end */
        bool synced;
};

/* ---- hashing & ordering ----------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const char *s) {
        /* FNV-1a, seeded per cache. */
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(0x100000001b3);
        return h;
}

static uint64_t hash_finish(uint64_t h) {
        /* splitmix64's finaliser: FNV's low bits are weak for slot masks. */
        h ^= h >> 30;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 27;
        h *= UINT64_C(0x94d049bb133111eb);
        return h ^ (h >> 31);
}

static uint64_t hash_key(uint64_t seed, const char *namespace, const char *name) {
        uint64_t h = hash_bytes(seed ^ UINT64_C(0xcbf29ce484222325), strempty(namespace));
        h = (h ^ '/') * UINT64_C(0x100000001b3);
        return hash_finish(hash_bytes(h, name));
}

static uint64_t hash_string(uint64_t seed, const char *s) {
        return hash_finish(hash_bytes(seed ^ UINT64_C(0xcbf29ce484222325), s));
}

static int compare_keys(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b) {
        int r = strcmp(strempty(ns_a), strempty(ns_b));
        return r != 0 ? r : strcmp(name_a, name_b);
}

static int compare_entries(const CacheEntry *a, const CacheEntry *b) {
        return compare_keys(a->obj->meta.namespace, a->obj->meta.name, b->obj->meta.namespace, b->obj->meta.name);
}

static int compare_entry_ptrs(const void *a, const void *b) {
        return compare_entries(*(CacheEntry *const *) a, *(CacheEntry *const *) b);
}

static int compare_object_ptrs_by_key(const void *a, const void *b) {
        const KubeObject *x = *(KubeObject *const *) a, *y = *(KubeObject *const *) b;
        return compare_keys(x->meta.namespace, x->meta.name, y->meta.namespace, y->meta.name);
}

static bool rv_equal(const KubeObject *a, const KubeObject *b) {
        /* Objects without a version (manifests) always count as changed. */
        return a->meta.resource_version && b->meta.resource_version &&
               streq(a->meta.resource_version, b->meta.resource_version);
}

/* ---- EntrySet --------------------------------------------------------- */

/* First position whose key is > (ns, name) (or >= when inclusive). */
static size_t set_bound(const EntrySet *s, const char *ns, const char *name, bool inclusive) {
        size_t lo = 0, hi = s->n_sorted;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const KubeObject *o = s->items[mid]->obj;
                int r = compare_keys(o->meta.namespace, o->meta.name, ns, name);
                if (r < 0 || (r == 0 && !inclusive))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static void set_sort(EntrySet *s) {
        size_t tail = s->n - s->n_sorted;

        if (tail == 0)
                return;
        if (tail > 16 && tail * 8 > s->n_sorted) {
                qsort(s->items, s->n, sizeof(CacheEntry *), compare_entry_ptrs);
                s->n_sorted = s->n;
                return;
        }
        /* A few stragglers: binary insertion keeps this O(n) per add. */
        while (s->n_sorted < s->n) {
                CacheEntry *e = s->items[s->n_sorted];
                size_t pos = set_bound(s, e->obj->meta.namespace, e->obj->meta.name, true);
                memmove(s->items + pos + 1, s->items + pos, (s->n_sorted - pos) * sizeof(CacheEntry *));
                s->items[pos] = e;
                s->n_sorted++;
        }
}

static int set_add(EntrySet *s, CacheEntry *e) {
        if (!GREEDY_REALLOC(s->items, s->cap, s->n + 1, 8))
                return -ENOMEM;
        s->items[s->n++] = e;
        /* In-order appends (a LIST page) stay sorted for free. */
        if (s->n_sorted == s->n - 1 && (s->n_sorted == 0 || compare_entries(s->items[s->n_sorted - 1], e) < 0))
                s->n_sorted++;
        return 0;
}

static void set_remove(EntrySet *s, CacheEntry *e) {
        set_sort(s);
        size_t pos = set_bound(s, e->obj->meta.namespace, e->obj->meta.name, true);
        if (pos >= s->n || s->items[pos] != e)
                return;
        memmove(s->items + pos, s->items + pos + 1, (s->n - pos - 1) * sizeof(CacheEntry *));
        s->n--;
        s->n_sorted--;
}

static void set_done(EntrySet *s) {
        free(s->items);
        *s = (EntrySet) {};
}

/* ---- BucketMap -------------------------------------------------------- */

static Bucket *bucket_map_find(const BucketMap *m, uint64_t seed, const char *key) {
        if (m->n_slots == 0)
                return NULL;
        uint64_t h = hash_string(seed, key);
        for (Bucket *b = m->slots[h & (m->n_slots - 1)]; b; b = b->next)
                if (b->hash == h && streq(b->key, key))
                        return b;
        return NULL;
}

static int bucket_map_grow(BucketMap *m) {
        size_t n_slots = m->n_slots > 0 ? m->n_slots * 2 : 16;
        Bucket **slots = new0(Bucket *, n_slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_slots; i++)
                for (Bucket *b = m->slots[i], *next; b; b = next) {
                        next = b->next;
                        b->next = slots[b->hash & (n_slots - 1)];
                        slots[b->hash & (n_slots - 1)] = b;
                }
        free(m->slots);
        m->slots = slots;
        m->n_slots = n_slots;
        return 0;
}

static int bucket_map_get(BucketMap *m, uint64_t seed, const char *key, Bucket **ret) {
        Bucket *b = bucket_map_find(m, seed, key);
        int r;

        if (b) {
                *ret = b;
                return 0;
        }
        if (m->n >= m->n_slots) {
                r = bucket_map_grow(m);
                if (r < 0)
                        return r;
        }
        b = new0(Bucket, 1);
        if (!b)
                return -ENOMEM;
        b->key = strdup(key);
        if (!b->key) {
                free(b);
                return -ENOMEM;
        }
        b->hash = hash_string(seed, key);
        b->next = m->slots[b->hash & (m->n_slots - 1)];
        m->slots[b->hash & (m->n_slots - 1)] = b;
        m->n++;
        m->order_dirty = true;
        *ret = b;
        return 0;
}

static void bucket_free(Bucket *b) {
        set_done(&b->set);
        free(b->key);
        free(b);
}

static void bucket_map_unlink(BucketMap *m, Bucket *b) {
        for (Bucket **p = &m->slots[b->hash & (m->n_slots - 1)]; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        m->n--;
                        m->order_dirty = true;
                        return;
                }
}

static void bucket_map_sweep_empty(BucketMap *m) {
        for (size_t i = 0; i < m->n_slots; i++)
                for (Bucket **p = &m->slots[i]; *p;) {
                        Bucket *b = *p;
                        if (b->set.n > 0) {
                                p = &b->next;
                                continue;
                        }
                        *p = b->next;
                        m->n--;
                        m->order_dirty = true;
                        bucket_free(b);
                }
}

static void bucket_map_done(BucketMap *m) {
        for (size_t i = 0; i < m->n_slots; i++)
                for (Bucket *b = m->slots[i], *next; b; b = next) {
                        next = b->next;
                        bucket_free(b);
                }
        free(m->slots);
        free(m->order);
        *m = (BucketMap) {};
}

static int compare_bucket_ptrs(const void *a, const void *b) {
        return strcmp((*(Bucket *const *) a)->key, (*(Bucket *const *) b)->key);
}

static int bucket_map_ensure_order(BucketMap *m) {
        if (!m->order_dirty && m->order)
                return 0;
        Bucket **order = realloc(m->order, (m->n > 0 ? m->n : 1) * sizeof(Bucket *));
        if (!order)
                return -ENOMEM;
        m->order = order;
        m->n_order = 0;
        for (size_t i = 0; i < m->n_slots; i++)
                for (Bucket *b = m->slots[i]; b; b = b->next)
                        m->order[m->n_order++] = b;
        qsort(m->order, m->n_order, sizeof(Bucket *), compare_bucket_ptrs);
        m->order_dirty = false;
        m->order_gen++;
        return 0;
}

/* First position in order whose key is > key. */
static size_t bucket_map_order_after(const BucketMap *m, const char *key) {
        size_t lo = 0, hi = m->n_order;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m->order[mid]->key, key) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Adds e under key; the bucket is created on first use. */
static int bucket_map_add_entry(BucketMap *m, uint64_t seed, const char *key, CacheEntry *e) {
        Bucket *b;
        int r = bucket_map_get(m, seed, key, &b);
        if (r < 0)
                return r;
        r = set_add(&b->set, e);
        if (r < 0 && b->set.n == 0) {
                bucket_map_unlink(m, b);
                bucket_free(b);
        }
        return r;
}

static void cache_remove_from_bucket(Cache *c, BucketMap *m, const char *key, CacheEntry *e) {
        Bucket *b = bucket_map_find(m, c->seed, key);
        if (!b)
                return;
        set_remove(&b->set, e);
        if (b->set.n > 0)
                return;
        if (c->iterating > 0) {
                c->empty_pending = true;
                return;
        }
        bucket_map_unlink(m, b);
        bucket_free(b);
}

/* ---- Cache ------------------------------------------------------------ */

int cache_new(const KubeKind *kind, Cache **ret) {
        _cleanup_(cache_freep) Cache *c = NULL;

        if (!kind || !ret)
                return -EINVAL;
        c = new0(Cache, 1);
        if (!c)
                return -ENOMEM;
        c->kind = kind;
        c->pool = strpool_new();
        if (!c->pool)
                return -ENOMEM;
        if (getrandom(&c->seed, sizeof c->seed, GRND_NONBLOCK) != sizeof c->seed)
                c->seed = (uint64_t) (uintptr_t) c;
        *ret = TAKE_PTR(c);
        return 0;
}

Cache *cache_free(Cache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_slots; i++)
                for (CacheEntry *e = c->slots[i], *next; e; e = next) {
                        next = e->next;
                        kube_object_unref(e->obj);
                        free(e);
                }
        free(c->slots);
        bucket_map_done(&c->namespaces);
        for (size_t i = 0; i < c->n_indexes; i++) {
                free(c->indexes[i].name);
                bucket_map_done(&c->indexes[i].buckets);
        }
        free(c->indexes);
        free(c->handlers);
        /* Objects are gone, so the pool holds no more references. */
        strpool_free(c->pool);
        free(c);
        return NULL;
}

const KubeKind *cache_kind(const Cache *c) {
        return c->kind;
}

StrPool *cache_pool(Cache *c) {
        return c->pool;
}

void cache_remove_handlers(Cache *c, void *userdata) {
        size_t kept = 0;

        if (!c)
                return;
        for (size_t i = 0; i < c->n_handlers; i++)
                if (c->handlers[i].userdata != userdata)
                        c->handlers[kept++] = c->handlers[i];
        c->n_handlers = kept;
}

int cache_add_handlers(Cache *c, const CacheHandlers *h) {
        CacheHandlers *handlers = realloc(c->handlers, (c->n_handlers + 1) * sizeof(CacheHandlers));
        if (!handlers)
                return -ENOMEM;
        c->handlers = handlers;
        c->handlers[c->n_handlers++] = *h;
        return 0;
}

void cache_set_synced(Cache *c, bool synced) {
        c->synced = synced;
}

bool cache_synced(const Cache *c) {
        return c->synced;
}

size_t cache_size(const Cache *c) {
        return c->n;
}

static CacheEntry *cache_find(const Cache *c, const char *namespace, const char *name, uint64_t *ret_hash) {
        uint64_t h = hash_key(c->seed, namespace, name);
        if (ret_hash)
                *ret_hash = h;
        if (c->n_slots == 0)
                return NULL;
        for (CacheEntry *e = c->slots[h & (c->n_slots - 1)]; e; e = e->next)
                if (e->hash == h && streq(e->obj->meta.name, name) &&
                    streq(strempty(e->obj->meta.namespace), strempty(namespace)))
                        return e;
        return NULL;
}

KubeObject *cache_get(const Cache *c, const char *namespace, const char *name) {
        if (!name)
                return NULL;
        CacheEntry *e = cache_find(c, namespace, name, NULL);
        return e ? e->obj : NULL;
}

static int cache_grow(Cache *c) {
        size_t n_slots = c->n_slots > 0 ? c->n_slots * 2 : 64;
        CacheEntry **slots = new0(CacheEntry *, n_slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_slots; i++)
                for (CacheEntry *e = c->slots[i], *next; e; e = next) {
                        next = e->next;
                        e->next = slots[e->hash & (n_slots - 1)];
                        slots[e->hash & (n_slots - 1)] = e;
                }
        free(c->slots);
        c->slots = slots;
        c->n_slots = n_slots;
        return 0;
}

static size_t object_mem(const Cache *c, const KubeObject *o) {
        return c->kind->memory_size ? c->kind->memory_size(o) : 0;
}

static size_t index_keys(const CacheIndex *x, const KubeObject *o, const char **keys) {
        size_t n = x->keys_fn(o, keys, CACHE_INDEX_MAX_KEYS);
        return n < CACHE_INDEX_MAX_KEYS ? n : CACHE_INDEX_MAX_KEYS;
}

static bool keys_contain(const char *const *keys, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (keys[i] && streq(keys[i], key))
                        return true;
        return false;
}

/* Files e under its keys in index x (duplicate keys once). */
static int index_add_entry(Cache *c, CacheIndex *x, CacheEntry *e, const KubeObject *skip_keys_of) {
        const char *keys[CACHE_INDEX_MAX_KEYS], *skip[CACHE_INDEX_MAX_KEYS];
        size_t n = index_keys(x, e->obj, keys), n_skip = skip_keys_of ? index_keys(x, skip_keys_of, skip) : 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                if (!keys[i] || keys_contain(keys, i, keys[i]) || keys_contain(skip, n_skip, keys[i]))
                        continue;
                r = bucket_map_add_entry(&x->buckets, c->seed, keys[i], e);
                if (r < 0)
                        return r;
                c->mutations++;
        }
        return 0;
}

/* Removes e (whose keys are those of o) from index x, except keys that keep_keys_of also has. */
static void index_remove_entry(Cache *c, CacheIndex *x, CacheEntry *e, const KubeObject *o,
                               const KubeObject *keep_keys_of) {
        const char *keys[CACHE_INDEX_MAX_KEYS], *keep[CACHE_INDEX_MAX_KEYS];
        size_t n = index_keys(x, o, keys), n_keep = keep_keys_of ? index_keys(x, keep_keys_of, keep) : 0;

        for (size_t i = 0; i < n; i++) {
                if (!keys[i] || keys_contain(keys, i, keys[i]) || keys_contain(keep, n_keep, keys[i]))
                        continue;
                cache_remove_from_bucket(c, &x->buckets, keys[i], e);
                c->mutations++;
        }
}

static void run_add(Cache *c, KubeObject *o) {
        for (size_t i = 0; i < c->n_handlers; i++) {
                CacheHandlers h = c->handlers[i];
                if (h.on_add)
                        h.on_add(o, h.userdata);
        }
}

static void run_update(Cache *c, KubeObject *old_obj, KubeObject *new_obj) {
        for (size_t i = 0; i < c->n_handlers; i++) {
                CacheHandlers h = c->handlers[i];
                if (h.on_update)
                        h.on_update(old_obj, new_obj, h.userdata);
        }
}

static void run_delete(Cache *c, KubeObject *o) {
        for (size_t i = 0; i < c->n_handlers; i++) {
                CacheHandlers h = c->handlers[i];
                if (h.on_delete)
                        h.on_delete(o, h.userdata);
        }
}

static int check_object(const Cache *c, const KubeObject *o) {
        if (!o || o->kind != c->kind || isempty(o->meta.name))
                return -EINVAL;
        return 0;
}

static void cache_unlink_entry(Cache *c, CacheEntry *e) {
        for (CacheEntry **p = &c->slots[e->hash & (c->n_slots - 1)]; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        c->n--;
}

static void cache_drop_entry(Cache *c, CacheEntry *e) {
        for (size_t i = 0; i < c->n_indexes; i++)
                index_remove_entry(c, &c->indexes[i], e, e->obj, NULL);
        cache_remove_from_bucket(c, &c->namespaces, strempty(e->obj->meta.namespace), e);
        cache_unlink_entry(c, e);
        c->object_bytes -= e->mem;
        c->mutations++;
}

static int cache_insert(Cache *c, KubeObject *obj, uint64_t hash, uint64_t mark) {
        CacheEntry *e;
        int r;

        if (c->n >= c->n_slots) {
                r = cache_grow(c);
                if (r < 0)
                        return r;
        }
        e = new0(CacheEntry, 1);
        if (!e)
                return -ENOMEM;
        e->hash = hash;
        e->obj = obj;
        e->mark = mark;
        e->next = c->slots[hash & (c->n_slots - 1)];
        c->slots[hash & (c->n_slots - 1)] = e;
        c->n++;

        r = bucket_map_add_entry(&c->namespaces, c->seed, strempty(obj->meta.namespace), e);
        if (r < 0) {
                cache_unlink_entry(c, e);
                free(e);
                return r;
        }
        for (size_t i = 0; i < c->n_indexes; i++) {
                r = index_add_entry(c, &c->indexes[i], e, NULL);
                if (r < 0) {
                        cache_drop_entry(c, e);
                        free(e);
                        return r;
                }
        }
        e->mem = object_mem(c, obj);
        c->object_bytes += e->mem;
        c->mutations++;
        kube_object_ref(obj);
        return 0;
}

/* Returns 1 when something changed (a handler ran), 0 when not. */
static int cache_upsert_marked(Cache *c, KubeObject *obj, uint64_t mark) {
        uint64_t hash;
        CacheEntry *e = cache_find(c, obj->meta.namespace, obj->meta.name, &hash);
        KubeObject *old_obj;
        int r;

        if (!e) {
                r = cache_insert(c, obj, hash, mark);
                if (r < 0)
                        return r;
                run_add(c, obj);
                return 1;
        }

        e->mark = mark;
        if (e->obj == obj || rv_equal(e->obj, obj))
                return 0;

        old_obj = e->obj;
        /* Sets are ordered by (namespace, name), which old and new share,
         * so only the index keys that differ move. */
        e->obj = obj;
        for (size_t i = 0; i < c->n_indexes; i++) {
                r = index_add_entry(c, &c->indexes[i], e, old_obj);
                if (r < 0) {
                        e->obj = old_obj;
                        return r;
                }
                index_remove_entry(c, &c->indexes[i], e, old_obj, obj);
        }
        kube_object_ref(obj);
        c->object_bytes -= e->mem;
        e->mem = object_mem(c, obj);
        c->object_bytes += e->mem;

        run_update(c, old_obj, obj);
        kube_object_unref(old_obj);
        return 1;
}

int cache_upsert(Cache *c, KubeObject *obj) {
        int r = check_object(c, obj);
        if (r < 0)
                return r;
        return cache_upsert_marked(c, obj, c->generation);
}

int cache_remove(Cache *c, const char *namespace, const char *name) {
        if (!name)
                return -EINVAL;
        CacheEntry *e = cache_find(c, namespace, name, NULL);
        if (!e)
                return 0;

        KubeObject *obj = e->obj;
        cache_drop_entry(c, e);
        free(e);
        run_delete(c, obj);
        kube_object_unref(obj);
        return 1;
}

int cache_replace(Cache *c, KubeObject *const *objs, size_t n) {
        _cleanup_free_ KubeObject **gone = NULL;
        size_t n_gone = 0;
        uint64_t mark;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = check_object(c, objs[i]);
                if (r < 0)
                        return r;
        }

        mark = ++c->generation;
        for (size_t i = 0; i < n; i++) {
                r = cache_upsert_marked(c, objs[i], mark);
                if (r < 0)
                        return r;
        }

        /* Collect first, delete after: delete handlers may touch the cache. */
        if (c->n > 0) {
                gone = new0(KubeObject *, c->n);
                if (!gone)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_slots; i++)
                for (CacheEntry *e = c->slots[i]; e; e = e->next)
                        if (e->mark != mark)
                                gone[n_gone++] = kube_object_ref(e->obj);
        qsort(gone, n_gone, sizeof(KubeObject *), compare_object_ptrs_by_key);

        for (size_t i = 0; i < n_gone; i++) {
                CacheEntry *e = cache_find(c, gone[i]->meta.namespace, gone[i]->meta.name, NULL);
                if (e && e->mark != mark)
                        (void) cache_remove(c, gone[i]->meta.namespace, gone[i]->meta.name);
                kube_object_unref(gone[i]);
        }
        return 0;
}

/* ---- iteration -------------------------------------------------------- */

static void iteration_end(Cache *c) {
        if (--c->iterating > 0 || !c->empty_pending)
                return;
        c->empty_pending = false;
        bucket_map_sweep_empty(&c->namespaces);
        for (size_t i = 0; i < c->n_indexes; i++)
                bucket_map_sweep_empty(&c->indexes[i].buckets);
}

static int set_foreach(Cache *c, EntrySet *s, cache_iter_fn fn, void *userdata) {
        set_sort(s);
        for (size_t i = 0; i < s->n;) {
                KubeObject *o = kube_object_ref(s->items[i]->obj);
                uint64_t mutations = c->mutations;
                int r = fn(o, userdata);
                if (r < 0) {
                        kube_object_unref(o);
                        return r;
                }
                if (c->mutations == mutations)
                        i++;
                else {
                        /* The callback changed the cache: continue after
                         * the key we just visited, wherever it is now. */
                        set_sort(s);
                        i = set_bound(s, o->meta.namespace, o->meta.name, false);
                }
                kube_object_unref(o);
        }
        return 0;
}

int cache_foreach(const Cache *cc, const char *namespace, cache_iter_fn fn, void *userdata) {
        Cache *c = (Cache *) cc; /* lazy sorting is not a visible change */
        int r = 0;

        c->iterating++;
        if (!c->kind->namespaced || !isempty(namespace)) {
                /* Cluster-scoped objects all live in the "" namespace. */
                Bucket *b = bucket_map_find(&c->namespaces, c->seed, c->kind->namespaced ? namespace : "");
                if (b)
                        r = set_foreach(c, &b->set, fn, userdata);
                iteration_end(c);
                return r;
        }

        r = bucket_map_ensure_order(&c->namespaces);
        for (size_t i = 0; r >= 0 && i < c->namespaces.n_order;) {
                Bucket *b = c->namespaces.order[i];
                uint64_t gen = c->namespaces.order_gen;

                r = set_foreach(c, &b->set, fn, userdata);
                if (r < 0)
                        break;
                /* b is not freed while iterating; new namespaces may have
                 * arrived: find the one after b in the fresh order. */
                r = bucket_map_ensure_order(&c->namespaces);
                if (r < 0)
                        break;
                i = gen == c->namespaces.order_gen ? i + 1 : bucket_map_order_after(&c->namespaces, b->key);
        }
        iteration_end(c);
        return r;
}

static CacheIndex *cache_find_index(const Cache *c, const char *index_name) {
        for (size_t i = 0; i < c->n_indexes; i++)
                if (streq(c->indexes[i].name, index_name))
                        return &c->indexes[i];
        return NULL;
}

int cache_add_index(Cache *c, const char *index_name, cache_index_fn keys_fn) {
        CacheIndex *x;
        int r;

        if (!index_name || !keys_fn)
                return -EINVAL;
        if (cache_find_index(c, index_name))
                return -EEXIST;
        x = realloc(c->indexes, (c->n_indexes + 1) * sizeof(CacheIndex));
        if (!x)
                return -ENOMEM;
        c->indexes = x;
        x = &c->indexes[c->n_indexes];
        *x = (CacheIndex) { .name = strdup(index_name), .keys_fn = keys_fn };
        if (!x->name)
                return -ENOMEM;
        c->n_indexes++;

        /* Added late: file what is already there. */
        for (size_t i = 0; i < c->n_slots; i++)
                for (CacheEntry *e = c->slots[i]; e; e = e->next) {
                        r = index_add_entry(c, x, e, NULL);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int cache_foreach_indexed(const Cache *cc, const char *index_name, const char *key, cache_iter_fn fn,
                          void *userdata) {
        Cache *c = (Cache *) cc;
        CacheIndex *x = cache_find_index(c, index_name);
        Bucket *b;
        int r;

        if (!x)
                return -ENOENT;
        if (!key)
                return -EINVAL;
        b = bucket_map_find(&x->buckets, c->seed, key);
        if (!b)
                return 0;
        c->iterating++;
        r = set_foreach(c, &b->set, fn, userdata);
        iteration_end(c);
        return r;
}

/* glibc's cost of one malloc(n): 8 bytes of header, 16-byte granules. */
static size_t heap_bytes(size_t n) {
        size_t c = (n + sizeof(size_t) + 15u) & ~(size_t) 15u;
        return n == 0 ? 0 : (c < 32 ? 32 : c);
}

size_t cache_memory_bytes(const Cache *c) {
        size_t bytes = c->object_bytes + strpool_bytes(c->pool);

        /* The structure: each entry, its namespace and index set slots, the
         * hash slots.  Bucket overhead is per namespace/key, negligible. */
        bytes += c->n * (heap_bytes(sizeof(CacheEntry)) + (1 + c->n_indexes) * sizeof(void *));
        bytes += heap_bytes(c->n_slots * sizeof(void *));
        return bytes;
}
