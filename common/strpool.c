/* SPDX-License-Identifier: Apache-2.0 */
/* Reference-counted string interning: a chained hash table of entries that
 * carry their string inline, so the returned pointer leads back to its
 * entry in O(1) on release. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

typedef struct Entry {
        struct Entry *next;
        uint32_t hash;
        uint32_t refs;
        uint32_t len;
        char data[];
} Entry;

struct StrPool {
        Entry **buckets;
        size_t n_buckets; /* power of two */
        size_t count;
        size_t bytes;
};

static uint32_t str_hash(const char *s, size_t len) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char) s[i];
                h *= 16777619u;
        }
        return h;
}

/* What one entry costs on the heap (glibc chunks: 8 bytes header,
 * 16-byte granularity, 32 minimum). */
static size_t entry_bytes(size_t len) {
        size_t n = offsetof(Entry, data) + len + 1 + sizeof(size_t);
        n = (n + 15u) & ~(size_t) 15u;
        return n < 32 ? 32 : n;
}

StrPool *strpool_new(void) {
        StrPool *p = new0(StrPool, 1);
        if (!p)
                return NULL;
        p->n_buckets = 64;
        p->buckets = new0(Entry *, p->n_buckets);
        if (!p->buckets) {
                free(p);
                return NULL;
        }
        return p;
}

StrPool *strpool_free(StrPool *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_buckets; i++)
                for (Entry *e = p->buckets[i], *next; e; e = next) {
                        next = e->next;
                        free(e);
                }
        free(p->buckets);
        free(p);
        return NULL;
}

static void pool_grow(StrPool *p) {
        size_t n = p->n_buckets * 2;
        Entry **b = new0(Entry *, n);
        if (!b)
                return; /* keep working with longer chains */
        for (size_t i = 0; i < p->n_buckets; i++)
                for (Entry *e = p->buckets[i], *next; e; e = next) {
                        next = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        free(p->buckets);
        p->buckets = b;
        p->n_buckets = n;
}

const char *strpool_intern(StrPool *p, const char *s, size_t len) {
        uint32_t h;
        Entry *e;

        if (!p || !s || len >= UINT32_MAX)
                return NULL;
        h = str_hash(s, len);
        for (e = p->buckets[h & (p->n_buckets - 1)]; e; e = e->next)
                if (e->hash == h && e->len == len && memcmp(e->data, s, len) == 0) {
                        if (e->refs == UINT32_MAX)
                                return NULL;
                        e->refs++;
                        return e->data;
                }
        e = malloc(offsetof(Entry, data) + len + 1);
        if (!e)
                return NULL;
        e->hash = h;
        e->refs = 1;
        e->len = (uint32_t) len;
        memcpy(e->data, s, len);
        e->data[len] = 0;
        e->next = p->buckets[h & (p->n_buckets - 1)];
        p->buckets[h & (p->n_buckets - 1)] = e;
        p->count++;
        p->bytes += entry_bytes(len);
        if (p->count > p->n_buckets)
                pool_grow(p);
        return e->data;
}

void strpool_release(StrPool *p, const char *s) {
        Entry *e, **link;

        if (!p || !s)
                return;
        e = (Entry *) (s - offsetof(Entry, data));
        if (--e->refs > 0)
                return;
        for (link = &p->buckets[e->hash & (p->n_buckets - 1)]; *link; link = &(*link)->next)
                if (*link == e) {
                        *link = e->next;
                        break;
                }
        p->count--;
        p->bytes -= entry_bytes(e->len);
        free(e);
}

size_t strpool_count(const StrPool *p) {
        return p ? p->count : 0;
}

size_t strpool_bytes(const StrPool *p) {
        if (!p)
                return 0;
        return p->bytes + p->n_buckets * sizeof(Entry *) + sizeof(StrPool);
}
