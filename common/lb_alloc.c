/* SPDX-License-Identifier: Apache-2.0 */
/* Allocations of load-balancer addresses (lbipam.md §7.2, §8, §9, §10).
 *
 * Three structures, all sized by what is held, never by pool size:
 * - services: open-addressing table of Holding pointers by "ns/name";
 * - ips: open-addressing table by address.  A slot is a tagged pointer: a
 *   Holding (plus which of its IPs) while one Service holds the address,
 *   a Shared record once several do;
 * - per pool: one LbRunSet per CIDR (lb_runs.h), the distinct-address
 *   counters, and an index sharing key -> addresses held under that key,
 *   in pool order, so packing a key does not scan the pool.
 * A Holding is one malloc: header, IPs, ports and the key inline, 80 bytes
 * for a single-IP, single-port Service with an 18-character key; with the
 * two tables, about 107 bytes per allocation (bench-lbipam-alloc).
 *
 * Costs: first free O(CIDRs of the pool) plus O(1) per CIDR; with a sharing
 * key, plus the addresses held under that key that come before the first
 * unheld one, each checked in O(holders of that address).  Assign and
 * release: O(1) expected for the tables, O(log runs) for the runs, and
 * O(holders) for a shared address. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_alloc.h"
#include "lb_runs.h"
#include "log.h"
#include "macros.h"
#include "strpool.h"

typedef struct Holding {
        const char *key;          /* -> the inline copy after ports */
        const char *sharing_key;  /* interned; NULL = no key */
        const char *backend_key;  /* interned; NULL = "" */
        uint32_t pool;            /* index into LbAllocator.pools */
        uint16_t n_ports;
        uint8_t n_ips;
        uint8_t padding;          /* keeps ips, and so the ports after them, 4-byte aligned */
        uint8_t ips[][16];        /* then uint32_t ports[n_ports], then key */
} Holding;
_Static_assert(offsetof(Holding, ips) % _Alignof(uint32_t) == 0, "ports after ips[] must be aligned");

/* Several holders of one address, sorted by key (bytewise); keys[i] is
 * holders[i]->key, kept apart for lb_allocator_holders(). */
typedef struct Shared {
        uint8_t ip[16];
        size_t n;
        const char **keys;
        Holding **holders;
} Shared;

/* Slot tags; malloc'd pointers are 16-byte aligned. */
#define TAG_SHARED ((uintptr_t) 1)
#define TAG_SECOND ((uintptr_t) 2)
#define TAG_MASK ((uintptr_t) 3)

typedef struct Table {
        uintptr_t *slots;        /* 0 = empty */
        size_t n, mask;          /* capacity mask + 1 is a power of two */
} Table;

typedef struct PoolPos {
        LbRank rank;
        uint32_t cidx;
} PoolPos;

typedef struct KeyIndex {
        const char *key;         /* interned */
        size_t n, n_allocated;
        PoolPos *pos;            /* pool order: CIDR index, then rank */
} KeyIndex;

typedef struct PoolState {
        const LbPool *pool;
        char *name;              /* own copy: outlives the configuration */
        LbRunSet *runs;          /* one per CIDR */
        int64_t used_v4, used_v6;
        size_t n_keys;
        KeyIndex *keys;          /* sorted by key */
} PoolState;

struct LbAllocator {
        const LbConfig *cfg;
        size_t n_pools;
        PoolState *pools;        /* parallel to cfg->pools */
        Table services, ips;
        StrPool *strings;
};

/* ---- hashing ---- */

static uint64_t mix64(uint64_t h) {
        /* splitmix64's finaliser: FNV's low bits are weak for slot masks. */
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        return h ^ (h >> 31);
}

static uint64_t hash_bytes(const void *p, size_t n) {
        const uint8_t *b = p;
        uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 1099511628211ULL;
        }
        return mix64(h);
}

/* ---- slots ---- */

static Holding *slot_holding(uintptr_t v) {
        return (Holding *) (v & ~TAG_MASK);
}

static Shared *slot_shared(uintptr_t v) {
        return (Shared *) (v & ~TAG_MASK);
}

static const uint8_t *slot_ip(uintptr_t v) {
        if (v & TAG_SHARED)
                return slot_shared(v)->ip;
        return slot_holding(v)->ips[(v & TAG_SECOND) ? 1 : 0];
}

static uint64_t ip_slot_hash(uintptr_t v) {
        return hash_bytes(slot_ip(v), 16);
}

static uint64_t service_slot_hash(uintptr_t v) {
        const char *key = slot_holding(v)->key;
        return hash_bytes(key, strlen(key));
}

/* ---- open-addressing table (linear probing, backward-shift delete) ---- */

static size_t table_capacity(const Table *t) {
        return t->slots ? t->mask + 1 : 0;
}

static int table_reserve(Table *t, size_t extra, uint64_t (*hash)(uintptr_t)) {
        size_t cap = table_capacity(t), want = t->n + extra, new_cap;
        uintptr_t *slots;

        /* Load at most 3/4 keeps probe chains short. */
        if (want * 4 <= cap * 3)
                return 0;
        for (new_cap = cap ? cap * 2 : 16; want * 4 > new_cap * 3; new_cap *= 2)
                ;
        slots = new0(uintptr_t, new_cap);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < cap; i++) {
                size_t j;
                if (!t->slots[i])
                        continue;
                for (j = hash(t->slots[i]) & (new_cap - 1); slots[j]; j = (j + 1) & (new_cap - 1))
                        ;
                slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->mask = new_cap - 1;
        return 0;
}

/* The caller has reserved room. */
static void table_insert(Table *t, uintptr_t v, uint64_t h) {
        size_t i;
        for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask)
                ;
        t->slots[i] = v;
        t->n++;
}

static void table_delete_at(Table *t, size_t i, uint64_t (*hash)(uintptr_t)) {
        size_t j = i;

        /* Pull later members of the chain back so no lookup stops early. */
        for (;;) {
                size_t home;
                j = (j + 1) & t->mask;
                if (!t->slots[j])
                        break;
                home = hash(t->slots[j]) & t->mask;
                /* Movable when its home is not cyclically within (i, j]. */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        t->slots[i] = t->slots[j];
                        i = j;
                }
        }
        t->slots[i] = 0;
        t->n--;
}

static size_t find_ip_slot(const Table *t, const uint8_t ip[static 16]) {
        if (!t->slots)
                return SIZE_MAX;
        for (size_t i = hash_bytes(ip, 16) & t->mask; t->slots[i]; i = (i + 1) & t->mask)
                if (memcmp(slot_ip(t->slots[i]), ip, 16) == 0)
                        return i;
        return SIZE_MAX;
}

static size_t find_service_slot(const Table *t, const char *key) {
        if (!t->slots)
                return SIZE_MAX;
        for (size_t i = hash_bytes(key, strlen(key)) & t->mask; t->slots[i]; i = (i + 1) & t->mask)
                if (streq(slot_holding(t->slots[i])->key, key))
                        return i;
        return SIZE_MAX;
}

static Holding *find_holding(const LbAllocator *a, const char *key) {
        size_t i = find_service_slot(&a->services, key);
        return i == SIZE_MAX ? NULL : slot_holding(a->services.slots[i]);
}

/* ---- holdings ---- */

static uint32_t *holding_ports(const Holding *h) {
        return (uint32_t *) (void *) ((uint8_t *) h->ips + 16 * (size_t) h->n_ips);
}

static IpAddr addr_from_raw(const uint8_t raw[static 16]) {
        static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
        IpAddr a = { .family = memcmp(raw, mapped, 12) == 0 ? IP_FAMILY_V4 : IP_FAMILY_V6 };
        memcpy(a.bytes, raw, 16);
        return a;
}

static const char *const protocol_names[] = { "", "TCP", "UDP", "SCTP" };

static uint32_t port_code(const LbPortPair *p) {
        uint32_t proto = 0;
        for (uint32_t i = 1; i < ELEMENTSOF(protocol_names); i++)
                if (streq_ptr(p->protocol, protocol_names[i]))
                        proto = i;
        return proto << 16 | ((uint32_t) p->port & 0xffff);
}

static bool holding_has_port(const Holding *h, uint32_t code) {
        const uint32_t *ports = holding_ports(h);
        for (size_t i = 0; i < h->n_ports; i++)
                if (ports[i] == code)
                        return true;
        return false;
}

static Holding *holding_free(LbAllocator *a, Holding *h) {
        if (!h)
                return NULL;
        strpool_release(a->strings, h->sharing_key);
        strpool_release(a->strings, h->backend_key);
        free(h);
        return NULL;
}

static int holding_new(LbAllocator *a, const LbServiceShare *svc, uint32_t pool, const IpAddr *ips, size_t n,
                       Holding **ret) {
        size_t key_len = strlen(svc->key);
        Holding *h;
        char *key;

        if (svc->n_ports > UINT16_MAX)
                return -EINVAL;
        h = malloc(sizeof(Holding) + 16 * n + sizeof(uint32_t) * svc->n_ports + key_len + 1);
        if (!h)
                return -ENOMEM;
        *h = (Holding) { .pool = pool, .n_ports = (uint16_t) svc->n_ports, .n_ips = (uint8_t) n };
        for (size_t i = 0; i < n; i++)
                memcpy(h->ips[i], ips[i].bytes, 16);
        for (size_t i = 0; i < svc->n_ports; i++)
                holding_ports(h)[i] = port_code(&svc->ports[i]);
        key = (char *) (holding_ports(h) + svc->n_ports);
        memcpy(key, svc->key, key_len + 1);
        h->key = key;
        if (!isempty(svc->sharing_key)) {
                h->sharing_key = strpool_intern0(a->strings, svc->sharing_key);
                if (!h->sharing_key)
                        return free(h), -ENOMEM;
        }
        if (!isempty(svc->backend_key)) {
                h->backend_key = strpool_intern0(a->strings, svc->backend_key);
                if (!h->backend_key) {
                        holding_free(a, h);
                        return -ENOMEM;
                }
        }
        *ret = h;
        return 0;
}

/* ---- pools ---- */

static void pool_state_done(PoolState *ps) {
        if (ps->runs)
                for (size_t i = 0; i < ps->pool->n_cidrs; i++)
                        lb_run_set_done(&ps->runs[i]);
        free(ps->runs);
        for (size_t i = 0; i < ps->n_keys; i++)
                free(ps->keys[i].pos);
        free(ps->keys);
        free(ps->name);
        *ps = (PoolState) {};
}

static void pools_free(PoolState *pools, size_t n) {
        for (size_t i = 0; i < n; i++)
                pool_state_done(&pools[i]);
        free(pools);
}

static const PoolState *pool_state_of(const LbAllocator *a, const LbPool *p) {
        if (a->cfg && p >= a->cfg->pools && p < a->cfg->pools + a->cfg->n_pools)
                return &a->pools[p - a->cfg->pools];
        for (size_t i = 0; i < a->n_pools; i++)
                if (streq(a->pools[i].pool->name, p->name))
                        return &a->pools[i];
        return NULL;
}

static int pos_compare(const PoolPos *x, const PoolPos *y) {
        if (x->cidx != y->cidx)
                return x->cidx < y->cidx ? -1 : 1;
        return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static size_t key_index_find(const PoolState *ps, const char *key, bool *ret_found) {
        size_t i = SORTED_LOWER_BOUND(ps->keys, ps->n_keys, key, key);
        *ret_found = i < ps->n_keys && streq(ps->keys[i].key, key);
        return i;
}

static size_t pos_lower_bound(const KeyIndex *k, const PoolPos *pos) {
        size_t lo = 0, hi = k->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pos_compare(&k->pos[mid], pos) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int key_index_add(PoolState *ps, const char *key, const PoolPos *pos) {
        bool found;
        size_t i = key_index_find(ps, key, &found), j;
        KeyIndex *k;

        if (!found) {
                KeyIndex *keys = reallocarray(ps->keys, ps->n_keys + 1, sizeof(KeyIndex));
                if (!keys)
                        return -ENOMEM;
                ps->keys = keys;
                memmove(keys + i + 1, keys + i, (ps->n_keys - i) * sizeof(KeyIndex));
                keys[i] = (KeyIndex) { .key = key };
                ps->n_keys++;
        }
        k = &ps->keys[i];
        if (!GREEDY_REALLOC(k->pos, k->n_allocated, k->n + 1, 2))
                return -ENOMEM;
        j = pos_lower_bound(k, pos);
        memmove(k->pos + j + 1, k->pos + j, (k->n - j) * sizeof(PoolPos));
        k->pos[j] = *pos;
        k->n++;
        return 0;
}

static void key_index_remove(PoolState *ps, const char *key, const PoolPos *pos) {
        bool found;
        size_t i = key_index_find(ps, key, &found), j;
        KeyIndex *k;

        if (!found)
                return;
        k = &ps->keys[i];
        j = pos_lower_bound(k, pos);
        if (j < k->n && pos_compare(&k->pos[j], pos) == 0) {
                memmove(k->pos + j, k->pos + j + 1, (k->n - j - 1) * sizeof(PoolPos));
                k->n--;
        }
        if (k->n == 0) {
                free(k->pos);
                memmove(ps->keys + i, ps->keys + i + 1, (ps->n_keys - i - 1) * sizeof(KeyIndex));
                ps->n_keys--;
        }
}

static bool pool_pos(const PoolState *ps, const IpAddr *ip, PoolPos *ret) {
        const LbPool *pool = ps->pool;
        for (size_t c = 0; c < pool->n_cidrs; c++)
                if (lb_cidr_rank(&pool->cidrs[c], pool->avoid_buggy_ips, ip, &ret->rank)) {
                        ret->cidx = (uint32_t) c;
                        return true;
                }
        return false;
}

static IpAddr pos_addr(const PoolState *ps, const PoolPos *pos) {
        return lb_cidr_unrank(&ps->pool->cidrs[pos->cidx], ps->pool->avoid_buggy_ips, pos->rank);
}

static void count_address(PoolState *ps, IpFamily f, int64_t delta) {
        if (f == IP_FAMILY_V4)
                ps->used_v4 += delta;
        else
                ps->used_v6 += delta;
}

static int pool_states_new(const LbConfig *cfg, PoolState **ret) {
        PoolState *pools = new0(PoolState, cfg->n_pools ? cfg->n_pools : 1);

        if (!pools)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_pools; i++) {
                const LbPool *p = &cfg->pools[i];
                pools[i].pool = p;
                pools[i].name = strdup(p->name);
                pools[i].runs = new0(LbRunSet, p->n_cidrs ? p->n_cidrs : 1);
                if (!pools[i].name || !pools[i].runs) {
                        pools_free(pools, i + 1);
                        return -ENOMEM;
                }
        }
        *ret = pools;
        return 0;
}

/* ---- holders of one address ---- */

static size_t slot_keys(uintptr_t v, const char *const **ret) {
        if (v & TAG_SHARED) {
                *ret = slot_shared(v)->keys;
                return slot_shared(v)->n;
        }
        *ret = &slot_holding(v)->key;
        return 1;
}

/* one: room for the single-holder case, which has no array of its own. */
static size_t slot_holders(uintptr_t v, Holding *one[static 1], Holding *const **ret) {
        if (v & TAG_SHARED) {
                *ret = slot_shared(v)->holders;
                return slot_shared(v)->n;
        }
        one[0] = slot_holding(v);
        *ret = one;
        return 1;
}

static Shared *shared_free(Shared *s) {
        if (s) {
                free(s->keys);
                free(s->holders);
                free(s);
        }
        return NULL;
}

static size_t ip_holder_keys(const LbAllocator *a, const uint8_t ip[static 16], const char *const **ret) {
        size_t i = find_ip_slot(&a->ips, ip);
        if (i == SIZE_MAX) {
                *ret = NULL;
                return 0;
        }
        return slot_keys(a->ips.slots[i], ret);
}

static bool keys_match(const Holding *h, const LbServiceShare *svc) {
        return !isempty(svc->sharing_key) && h->sharing_key && streq(h->sharing_key, svc->sharing_key) &&
                streq(strempty(h->backend_key), strempty(svc->backend_key));
}

static int format_key_error(const LbServiceShare *svc, const char *const *keys, size_t n, char **ret) {
        size_t len = 0;
        char *list, *p;
        int k;

        for (size_t i = 0; i < n; i++)
                if (!streq(keys[i], svc->key))
                        len += strlen(keys[i]) + 1;
        list = p = malloc(len + 1);
        if (!list)
                return -ENOMEM;
        *p = 0;
        /* keys are sorted; MetalLB joins them with "," and no space. */
        for (size_t i = 0; i < n; i++) {
                if (streq(keys[i], svc->key))
                        continue;
                if (p != list)
                        *p++ = ',';
                p = stpcpy(p, keys[i]);
        }
        k = asprintf(ret, "can't change sharing key for \"%s\", address also in use by %s", svc->key, list);
        free(list);
        return k < 0 ? -ENOMEM : 0;
}

/* §8.  ret_error may be NULL when only the verdict matters. */
static int share_check(const LbAllocator *a, const uint8_t ip[static 16], const LbServiceShare *svc,
                       char **ret_error) {
        size_t slot = find_ip_slot(&a->ips, ip), n, n_others = 0;
        const Holding *own = find_holding(a, svc->key); /* keys are unique: compare pointers */
        Holding *one[1], *const *holders;
        const char *const *keys;
        bool mismatch = false;

        if (slot == SIZE_MAX)
                return 0;
        n = slot_holders(a->ips.slots[slot], one, &holders);
        for (size_t i = 0; i < n; i++) {
                if (holders[i] == own)
                        continue; /* its own holding: it may change its keys in place */
                n_others++;
                if (!keys_match(holders[i], svc))
                        mismatch = true;
        }
        if (n_others == 0)
                return 0;
        if (mismatch) {
                if (ret_error) {
                        int r;
                        (void) slot_keys(a->ips.slots[slot], &keys);
                        r = format_key_error(svc, keys, n, ret_error);
                        if (r < 0)
                                return r;
                }
                return -EBUSY;
        }
        for (size_t p = 0; p < svc->n_ports; p++) {
                uint32_t code = port_code(&svc->ports[p]);
                for (size_t i = 0; i < n; i++) {
                        if (holders[i] == own || !holding_has_port(holders[i], code))
                                continue;
                        if (ret_error) {
                                char buf[IP_ADDR_STRLEN];
                                IpAddr addr = addr_from_raw(ip);
                                if (asprintf(ret_error, "port %s/%" PRIi32 " is already in use on \"%s\"",
                                             strempty(svc->ports[p].protocol), svc->ports[p].port,
                                             ip_addr_format(&addr, buf)) < 0)
                                        return -ENOMEM;
                        }
                        return -EBUSY;
                }
        }
        return 0;
}

int lb_allocator_check_share(const LbAllocator *a, const IpAddr *ip, const LbServiceShare *svc, char **ret_error) {
        return share_check(a, ip->bytes, svc, ret_error);
}

/* ---- registering one address of a holding ---- */

static bool other_holder_has_key(uintptr_t v, const Holding *h) {
        Holding *one[1], *const *holders;
        size_t n = slot_holders(v, one, &holders);
        for (size_t i = 0; i < n; i++)
                /* Interned: equal keys are the same pointer. */
                if (holders[i] != h && holders[i]->sharing_key == h->sharing_key)
                        return true;
        return false;
}

/* The caller has reserved a slot in a->ips. */
static int register_ip(LbAllocator *a, Holding *h, unsigned idx, const PoolPos *pos) {
        PoolState *ps = &a->pools[h->pool];
        size_t slot = find_ip_slot(&a->ips, h->ips[idx]), i, n;
        uintptr_t v;
        Shared *s;
        bool index_key;
        int r;

        if (slot == SIZE_MAX) {
                r = lb_run_set_add(&ps->runs[pos->cidx], pos->rank);
                if (r < 0)
                        return r;
                if (h->sharing_key) {
                        r = key_index_add(ps, h->sharing_key, pos);
                        if (r < 0) {
                                (void) lb_run_set_remove(&ps->runs[pos->cidx], pos->rank);
                                return r;
                        }
                }
                table_insert(&a->ips, (uintptr_t) h | (idx ? TAG_SECOND : 0), hash_bytes(h->ips[idx], 16));
                count_address(ps, addr_from_raw(h->ips[idx]).family, +1);
                return 0;
        }

        v = a->ips.slots[slot];
        index_key = h->sharing_key && !other_holder_has_key(v, h);
        if (index_key) {
                r = key_index_add(ps, h->sharing_key, pos);
                if (r < 0)
                        return r;
        }
        if (v & TAG_SHARED) {
                s = slot_shared(v);
                n = s->n;
        } else {
                n = 1;
                s = new0(Shared, 1);
                if (s) {
                        memcpy(s->ip, h->ips[idx], 16);
                        s->n = 1;
                }
        }
        r = -ENOMEM;
        if (s) {
                const char **keys = reallocarray(s->keys, n + 1, sizeof(char *));
                if (keys)
                        s->keys = keys;
                Holding **holders = reallocarray(s->holders, n + 1, sizeof(Holding *));
                if (holders)
                        s->holders = holders;
                if (keys && holders)
                        r = 0;
        }
        if (r < 0) {
                if (s && !(v & TAG_SHARED))
                        shared_free(s);
                if (index_key)
                        key_index_remove(ps, h->sharing_key, pos);
                return r;
        }
        if (!(v & TAG_SHARED)) {
                s->keys[0] = slot_holding(v)->key;
                s->holders[0] = slot_holding(v);
        }
        /* Insert sorted, so lb_allocator_holders() and the error list need no sort. */
        for (i = n; i > 0 && strcmp(s->keys[i - 1], h->key) > 0; i--) {
                s->keys[i] = s->keys[i - 1];
                s->holders[i] = s->holders[i - 1];
        }
        s->keys[i] = h->key;
        s->holders[i] = h;
        s->n = n + 1;
        a->ips.slots[slot] = (uintptr_t) s | TAG_SHARED;
        return 0;
}

static void unregister_ip(LbAllocator *a, Holding *h, unsigned idx, const PoolPos *pos) {
        PoolState *ps = &a->pools[h->pool];
        size_t slot = find_ip_slot(&a->ips, h->ips[idx]), i;
        uintptr_t v;
        Shared *s;

        if (slot == SIZE_MAX)
                return;
        v = a->ips.slots[slot];
        if (!(v & TAG_SHARED)) {
                if (slot_holding(v) != h)
                        return;
                table_delete_at(&a->ips, slot, ip_slot_hash);
                (void) lb_run_set_remove(&ps->runs[pos->cidx], pos->rank);
                count_address(ps, addr_from_raw(h->ips[idx]).family, -1);
                if (h->sharing_key)
                        key_index_remove(ps, h->sharing_key, pos);
                return;
        }

        s = slot_shared(v);
        for (i = 0; i < s->n && s->holders[i] != h; i++)
                ;
        if (i == s->n)
                return;
        memmove(s->keys + i, s->keys + i + 1, (s->n - i - 1) * sizeof(char *));
        memmove(s->holders + i, s->holders + i + 1, (s->n - i - 1) * sizeof(Holding *));
        s->n--;
        if (h->sharing_key && !other_holder_has_key(v, h))
                key_index_remove(ps, h->sharing_key, pos);
        if (s->n == 1) {
                /* Back to a plain slot: one holder needs no Shared record. */
                Holding *o = s->holders[0];
                unsigned j = o->n_ips > 1 && memcmp(o->ips[1], s->ip, 16) == 0;
                a->ips.slots[slot] = (uintptr_t) o | (j ? TAG_SECOND : 0);
                shared_free(s);
        }
}

/* Undoes register_ip for the first n addresses of h. */
static void unregister_ips(LbAllocator *a, Holding *h, size_t n) {
        for (size_t i = 0; i < n; i++) {
                PoolPos pos;
                IpAddr ip = addr_from_raw(h->ips[i]);
                if (pool_pos(&a->pools[h->pool], &ip, &pos))
                        unregister_ip(a, h, (unsigned) i, &pos);
        }
}

/* Adds h (its pool already set) to every structure; on failure nothing of h remains. */
static int link_holding(LbAllocator *a, Holding *h) {
        int r;

        r = table_reserve(&a->services, 1, service_slot_hash);
        if (r < 0)
                return r;
        r = table_reserve(&a->ips, h->n_ips, ip_slot_hash);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < h->n_ips; i++) {
                PoolPos pos;
                IpAddr ip = addr_from_raw(h->ips[i]);
                if (!pool_pos(&a->pools[h->pool], &ip, &pos))
                        r = -EINVAL;
                else
                        r = register_ip(a, h, i, &pos);
                if (r < 0) {
                        unregister_ips(a, h, i);
                        return r;
                }
        }
        table_insert(&a->services, (uintptr_t) h, hash_bytes(h->key, strlen(h->key)));
        return 0;
}

/* ---- the allocator ---- */

int lb_allocator_new(LbAllocator **ret) {
        LbAllocator *a = new0(LbAllocator, 1);

        if (!a)
                return -ENOMEM;
        a->strings = strpool_new();
        if (!a->strings) {
                free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

static void free_shared_records(Table *ips) {
        for (size_t i = 0; i < table_capacity(ips); i++)
                if (ips->slots[i] & TAG_SHARED)
                        shared_free(slot_shared(ips->slots[i]));
        free(ips->slots);
        *ips = (Table) {};
}

LbAllocator *lb_allocator_free(LbAllocator *a) {
        if (!a)
                return NULL;
        free_shared_records(&a->ips);
        for (size_t i = 0; i < table_capacity(&a->services); i++)
                if (a->services.slots[i])
                        holding_free(a, slot_holding(a->services.slots[i]));
        free(a->services.slots);
        pools_free(a->pools, a->n_pools);
        strpool_free(a->strings);
        free(a);
        return NULL;
}

void lb_dropped_free_many(LbDropped *d, size_t n) {
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].service);
                free(d[i].pool);
        }
        free(d);
}

int lb_allocator_assign(LbAllocator *a, const LbServiceShare *svc, const LbPool *p, const IpAddr *ips, size_t n) {
        const PoolState *ps;
        Holding *h;
        int r;

        if (n < 1 || n > 2 || !svc || isempty(svc->key))
                return -EINVAL;
        ps = pool_state_of(a, p);
        if (!ps)
                return -ENOENT;
        for (size_t i = 0; i < n; i++) {
                PoolPos pos;
                if (!pool_pos(ps, &ips[i], &pos))
                        return -EINVAL;
        }
        if (n == 2 && ip_addr_equal(&ips[0], &ips[1]))
                return -EINVAL;
        r = holding_new(a, svc, (uint32_t) (ps - a->pools), ips, n, &h);
        if (r < 0)
                return r;
        lb_allocator_release(a, svc->key);
        r = link_holding(a, h);
        if (r < 0)
                holding_free(a, h);
        return r;
}

void lb_allocator_release(LbAllocator *a, const char *service_key) {
        size_t i = find_service_slot(&a->services, service_key);
        Holding *h;

        if (i == SIZE_MAX)
                return;
        h = slot_holding(a->services.slots[i]);
        unregister_ips(a, h, h->n_ips);
        table_delete_at(&a->services, i, service_slot_hash);
        holding_free(a, h);
}

static bool pos_before(const PoolPos *x, const PoolPos *best, bool have_best) {
        return !have_best || pos_compare(x, best) < 0;
}

int lb_allocator_first_free(const LbAllocator *a, const LbPool *p, IpFamily f, const LbServiceShare *svc,
                            IpAddr *ret) {
        const PoolState *ps = pool_state_of(a, p);
        const Holding *own;
        PoolPos best = {};
        bool have = false;

        if (!ps)
                return -ENOSPC;
        /* The first unheld address: the first CIDR of family f with a free rank. */
        for (size_t c = 0; c < ps->pool->n_cidrs && !have; c++) {
                const IpCidr *cidr = &ps->pool->cidrs[c];
                LbRank max;
                if (cidr->addr.family != f || !lb_cidr_max_rank(cidr, ps->pool->avoid_buggy_ips, &max))
                        continue;
                if (lb_run_set_first_free(&ps->runs[c], max, &best.rank)) {
                        best.cidx = (uint32_t) c;
                        have = true;
                }
        }
        /* svc's own addresses stay usable to it (§8: its own holding does not count). */
        own = svc ? find_holding(a, svc->key) : NULL;
        if (own && &a->pools[own->pool] == ps)
                for (unsigned i = 0; i < own->n_ips; i++) {
                        IpAddr ip = addr_from_raw(own->ips[i]);
                        PoolPos pos;
                        if (ip.family == f && pool_pos(ps, &ip, &pos) && pos_before(&pos, &best, have) &&
                            share_check(a, own->ips[i], svc, NULL) == 0) {
                                best = pos;
                                have = true;
                        }
                }
        /* Addresses held under svc's key, in pool order: the first one it can join. */
        if (svc && !isempty(svc->sharing_key)) {
                bool found;
                size_t k = key_index_find(ps, svc->sharing_key, &found);
                for (size_t j = 0; found && j < ps->keys[k].n; j++) {
                        const PoolPos *pos = &ps->keys[k].pos[j];
                        IpAddr ip;
                        if (!pos_before(pos, &best, have))
                                break;
                        if (ps->pool->cidrs[pos->cidx].addr.family != f)
                                continue;
                        ip = pos_addr(ps, pos);
                        if (share_check(a, ip.bytes, svc, NULL) == 0) {
                                best = *pos;
                                have = true;
                                break;
                        }
                }
        }
        if (!have)
                return -ENOSPC;
        *ret = pos_addr(ps, &best);
        return 0;
}

bool lb_allocator_lookup(const LbAllocator *a, const char *service_key, const char **ret_pool, IpAddr ret_ips[2],
                         size_t *ret_n) {
        const Holding *h = find_holding(a, service_key);

        if (!h)
                return false;
        if (ret_pool)
                *ret_pool = a->pools[h->pool].name;
        if (ret_ips)
                for (unsigned i = 0; i < h->n_ips; i++)
                        ret_ips[i] = addr_from_raw(h->ips[i]);
        if (ret_n)
                *ret_n = h->n_ips;
        return true;
}

void lb_allocator_pool_usage(const LbAllocator *a, const char *pool, int64_t *ret_v4, int64_t *ret_v6) {
        int64_t v4 = 0, v6 = 0;

        for (size_t i = 0; i < a->n_pools; i++)
                if (streq(a->pools[i].name, pool)) {
                        v4 = a->pools[i].used_v4;
                        v6 = a->pools[i].used_v6;
                        break;
                }
        if (ret_v4)
                *ret_v4 = v4;
        if (ret_v6)
                *ret_v6 = v6;
}

size_t lb_allocator_n_services(const LbAllocator *a) {
        return a->services.n;
}

size_t lb_allocator_holders(const LbAllocator *a, const IpAddr *ip, const char *const **ret) {
        const char *const *keys;
        size_t n = ip_holder_keys(a, ip->bytes, &keys);
        if (ret)
                *ret = keys;
        return n;
}

/* ---- configuration changes (§9) ---- */

/* The pool of pools[0..n) holding every address of h; pools never overlap (§3). */
static bool match_pool(const PoolState *pools, size_t n, const Holding *h, uint32_t *ret) {
        for (size_t p = 0; p < n; p++) {
                bool all = true;
                for (unsigned i = 0; i < h->n_ips && all; i++) {
                        IpAddr ip = addr_from_raw(h->ips[i]);
                        PoolPos pos;
                        all = pool_pos(&pools[p], &ip, &pos);
                }
                if (all) {
                        *ret = (uint32_t) p;
                        return true;
                }
        }
        return false;
}

static bool config_has_pool(const LbConfig *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_pools; i++)
                if (streq(cfg->pools[i].name, name))
                        return true;
        return false;
}

static int dropped_compare(const void *x, const void *y) {
        const LbDropped *a = x, *b = y;
        int c = strcmp(a->pool, b->pool);
        return c != 0 ? c : strcmp(a->service, b->service);
}

int lb_allocator_set_config(LbAllocator *a, const LbConfig *cfg, LbDropped **ret_dropped, size_t *ret_n_dropped) {
        size_t n_all = 0, n_dropped = 0, n_services = a->services.n;
        _cleanup_free_ Holding **all = new0(Holding *, n_services ? n_services : 1);
        _cleanup_free_ uint32_t *new_pool = new0(uint32_t, n_services ? n_services : 1);
        _cleanup_free_ bool *kept = new0(bool, n_services ? n_services : 1);
        LbDropped *dropped = new0(LbDropped, n_services ? n_services : 1);
        PoolState *pools = NULL;
        int r;

        if (!all || !new_pool || !kept || !dropped) {
                free(dropped);
                return -ENOMEM;
        }
        r = pool_states_new(cfg, &pools);
        if (r < 0) {
                free(dropped);
                return r;
        }

        /* Decide everything before touching the current state, so that
         * -ENOMEM leaves the allocator as it was. */
        for (size_t i = 0; i < table_capacity(&a->services); i++)
                if (a->services.slots[i])
                        all[n_all++] = slot_holding(a->services.slots[i]);
        for (size_t i = 0; i < n_all; i++) {
                const Holding *h = all[i];
                const char *old_pool = a->pools[h->pool].name;
                LbDropped *d;

                kept[i] = match_pool(pools, cfg->n_pools, h, &new_pool[i]);
                if (kept[i])
                        continue;
                d = &dropped[n_dropped++];
                d->service = strdup(h->key);
                d->pool = strdup(old_pool);
                d->pool_deleted = !config_has_pool(cfg, old_pool);
                d->n_ips = h->n_ips;
                for (unsigned j = 0; j < h->n_ips; j++)
                        d->ips[j] = addr_from_raw(h->ips[j]);
                if (!d->service || !d->pool) {
                        lb_dropped_free_many(dropped, n_dropped);
                        pools_free(pools, cfg->n_pools);
                        return -ENOMEM;
                }
        }

        /* Rebuild the free structures from the surviving allocations. */
        free_shared_records(&a->ips);
        free(a->services.slots);
        a->services = (Table) {};
        pools_free(a->pools, a->n_pools);
        a->pools = pools;
        a->n_pools = cfg->n_pools;
        a->cfg = cfg;
        for (size_t i = 0; i < n_all; i++) {
                Holding *h = all[i];
                if (kept[i]) {
                        h->pool = new_pool[i];
                        r = link_holding(a, h);
                        if (r >= 0)
                                continue;
                        log_debug_errno(r, "lbipam: cannot keep the allocation of %s: %m", h->key);
                }
                holding_free(a, h);
        }

        qsort(dropped, n_dropped, sizeof(LbDropped), dropped_compare);
        if (ret_dropped) {
                *ret_dropped = dropped;
                if (ret_n_dropped)
                        *ret_n_dropped = n_dropped;
        } else
                lb_dropped_free_many(dropped, n_dropped);
        return 0;
}
