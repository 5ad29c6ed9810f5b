/* SPDX-License-Identifier: Apache-2.0 */

/* The low-level SHA256_* calls are three times faster than EVP for the
 * short inputs of §5 (no provider dispatch per digest), and the election
 * spends most of its time hashing. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "l2_election.h"

#include <openssl/sha.h>
#include <stdio.h>

#include "labels.h"
#include "node.h"

typedef uint8_t Digest[L2_ELECTION_HASH_SIZE];

/* ---- hashing ---------------------------------------------------------------- */

static int hash_text(const char *node, const char *ip_text, Digest ret) {
        SHA256_CTX ctx;

        if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, node, strlen(node)) != 1 ||
            SHA256_Update(&ctx, "#", 1) != 1 || SHA256_Update(&ctx, ip_text, strlen(ip_text)) != 1 ||
            SHA256_Final(ret, &ctx) != 1)
                return -EIO;
        return 0;
}

int l2_election_hash(const char *node, const IpAddr *ip, uint8_t ret[static L2_ELECTION_HASH_SIZE]) {
        char text[IP_ADDR_STRLEN];

        return hash_text(node, ip_addr_format(ip, text), ret);
}

int l2_election_winner(const char *const *candidates, size_t n, const IpAddr *ip) {
        char text[IP_ADDR_STRLEN];
        Digest best, d;
        int winner = -ENOENT;

        ip_addr_format(ip, text);
        for (size_t i = 0; i < n; i++) {
                int r = hash_text(candidates[i], text, d);
                if (r < 0)
                        return r;
                if (winner < 0 || memcmp(d, best, sizeof d) < 0) {
                        winner = (int) i;
                        memcpy(best, d, sizeof d);
                }
        }
        return winner;
}

/* ---- the digest cache ---------------------------------------------------------- */

/* Digests of one IP, indexed by the position of the node in the cache's
 * sorted node list. */
typedef struct CacheEntry {
        IpAddr ip;
        Digest *digests;
        bool *known;
} CacheEntry;

struct L2HashCache {
        size_t n_nodes;
        char **nodes;           /* sorted bytewise */
        size_t n_entries;
        CacheEntry *entries;    /* sorted by ip */
};

static void cache_entry_done(CacheEntry *e) {
        e->digests = mfree(e->digests);
        e->known = mfree(e->known);
}

static void cache_clear(L2HashCache *c) {
        for (size_t i = 0; i < c->n_nodes; i++)
                free(c->nodes[i]);
        c->nodes = mfree(c->nodes);
        c->n_nodes = 0;
        for (size_t i = 0; i < c->n_entries; i++)
                cache_entry_done(&c->entries[i]);
        c->entries = mfree(c->entries);
        c->n_entries = 0;
}

L2HashCache *l2_hash_cache_new(void) {
        return new0(L2HashCache, 1);
}

L2HashCache *l2_hash_cache_free(L2HashCache *c) {
        if (!c)
                return NULL;
        cache_clear(c);
        free(c);
        return NULL;
}

/* ---- the computation's working state --------------------------------------------- */

typedef struct NodeState {
        const L2Node *node;
        bool eligible;          /* live, network available, not excluded */
        size_t n_claims;
        IpAddr *claims;         /* sorted copy, --failback=never only */
} NodeState;

typedef struct Pair {           /* one (ip, Service) of rule 1 */
        IpAddr ip;
        const char *key;        /* "ns/name" */
        size_t service;
} Pair;

typedef struct Selection {      /* a qualifying Service and an advertisement covering ip for it */
        size_t service;
        size_t ad;
} Selection;

typedef struct Work {
        const L2ElectionInput *in;
        size_t n_nodes;
        NodeState *nodes;       /* sorted by name */
        char **keys;            /* per Service, "ns/name" */
        size_t n_ads;
        bool *pool_ad;          /* [pool * n_ads + ad]: ad covers pool */
        int8_t *ad_node;        /* [ad * n_nodes + node]: 0 unknown, 1 selects, -1 does not */
        unsigned *ad_stamp;     /* ad covers the current ip when == stamp */
        unsigned *node_stamp;   /* node is a candidate of the current ip when == stamp */
        unsigned *ready_stamp;  /* node hosts a ready endpoint of the current Service when == stamp */
        unsigned stamp;
        size_t n_selections, n_selections_allocated;
        Selection *selections;
        size_t *candidates;     /* node positions */
        const char **names;     /* interface names, scratch */
        size_t n_names_allocated;
        /* the cache being rebuilt */
        L2HashCache *cache;
        size_t *remap;          /* old cache node position -> new position, or SIZE_MAX */
        bool same_nodes;
        size_t old_n_entries, old_next;
        CacheEntry *old_entries;
        size_t new_n_entries;
        CacheEntry *new_entries;
} Work;

static const StrMap empty_labels = {};

static const StrMap *labels_or_empty(const StrMap *m) {
        return m ? m : &empty_labels;
}

static bool selectors_match_any(const LabelSelectors *l, const StrMap *labels) {
        if (l->n == 0)
                return true;
        for (size_t i = 0; i < l->n; i++)
                if (label_selector_matches(&l->items[i], labels_or_empty(labels)))
                        return true;
        return false;
}

static bool ad_selects_node(Work *w, size_t ad, size_t pos) {
        int8_t *m = &w->ad_node[ad * w->n_nodes + pos];

        if (*m == 0)
                *m = selectors_match_any(&w->in->config->advertisements[ad]->node_selectors,
                                         w->nodes[pos].node->labels) ? 1 : -1;
        return *m > 0;
}

static int node_state_compare(const void *a, const void *b) {
        return strcmp(((const NodeState *) a)->node->name, ((const NodeState *) b)->node->name);
}

static int ip_compare_void(const void *a, const void *b) {
        return ip_addr_compare(a, b);
}

static int pair_compare(const void *a, const void *b) {
        const Pair *x = a, *y = b;
        int r = ip_addr_compare(&x->ip, &y->ip);

        return r != 0 ? r : strcmp(x->key, y->key);
}

static int str_ptr_compare(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static size_t node_position(const Work *w, const char *name) {
        size_t lo = 0, hi = w->n_nodes;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(w->nodes[mid].node->name, name);
                if (r == 0)
                        return mid;
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return SIZE_MAX;
}

static void work_done(Work *w) {
        for (size_t i = 0; i < w->n_nodes; i++)
                free(w->nodes[i].claims);
        free(w->nodes);
        if (w->keys)
                for (size_t i = 0; i < w->in->n_services; i++)
                        free(w->keys[i]);
        free(w->keys);
        free(w->pool_ad);
        free(w->ad_node);
        free(w->ad_stamp);
        free(w->node_stamp);
        free(w->ready_stamp);
        free(w->selections);
        free(w->candidates);
        free(w->names);
        free(w->remap);
        for (size_t i = 0; i < w->new_n_entries; i++)
                cache_entry_done(&w->new_entries[i]);
        free(w->new_entries);
}

static bool node_excluded(const L2ElectionInput *in, const L2Node *n) {
        return !in->ignore_exclude_lb && n->labels && strmap_get(n->labels, NODE_LABEL_EXCLUDE_LB);
}

static int work_init_nodes(Work *w, bool *ret_all_excluded) {
        const L2ElectionInput *in = w->in;
        bool all_excluded = in->n_nodes > 0 && !in->ignore_exclude_lb;

        w->n_nodes = in->n_nodes;
        w->nodes = new0(NodeState, w->n_nodes + 1);
        if (!w->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_nodes; i++) {
                const L2Node *n = &in->nodes[i];
                NodeState *s = &w->nodes[i];

                s->node = n;
                s->eligible = n->live && !n->network_unavailable && !node_excluded(in, n);
                all_excluded = all_excluded && node_excluded(in, n);
                if (in->failback_never && n->n_claims > 0) {
                        s->claims = new0(IpAddr, n->n_claims);
                        if (!s->claims)
                                return -ENOMEM;
                        memcpy(s->claims, n->claims, n->n_claims * sizeof(IpAddr));
                        s->n_claims = n->n_claims;
                        qsort(s->claims, s->n_claims, sizeof(IpAddr), ip_compare_void);
                }
        }
        qsort(w->nodes, w->n_nodes, sizeof(NodeState), node_state_compare);
        *ret_all_excluded = all_excluded;
        return 0;
}

static int work_init(Work *w, const L2ElectionInput *in, L2HashCache *cache, bool *ret_all_excluded) {
        const LbConfig *c = in->config;
        size_t n_stamps;
        int r;

        w->in = in;
        w->cache = cache;
        r = work_init_nodes(w, ret_all_excluded);
        if (r < 0)
                return r;
        w->keys = new0(char *, in->n_services + 1);
        if (!w->keys)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_services; i++)
                if (asprintf(&w->keys[i], "%s/%s", strempty(in->services[i].namespace),
                             strempty(in->services[i].name)) < 0) {
                        w->keys[i] = NULL;
                        return -ENOMEM;
                }
        w->n_ads = c->n_advertisements;
        w->pool_ad = new0(bool, c->n_pools * w->n_ads + 1);
        w->ad_node = new0(int8_t, w->n_ads * w->n_nodes + 1);
        w->ad_stamp = new0(unsigned, w->n_ads + 1);
        n_stamps = w->n_nodes + 1;
        w->node_stamp = new0(unsigned, n_stamps);
        w->ready_stamp = new0(unsigned, n_stamps);
        w->candidates = new0(size_t, n_stamps);
        if (!w->pool_ad || !w->ad_node || !w->ad_stamp || !w->node_stamp || !w->ready_stamp || !w->candidates)
                return -ENOMEM;
        for (size_t p = 0; p < c->n_pools; p++)
                for (size_t a = 0; a < w->n_ads; a++)
                        w->pool_ad[p * w->n_ads + a] = lb_advertisement_covers(c->advertisements[a], &c->pools[p]);
        return 0;
}

/* Maps the positions of the cache's previous node list to the current one,
 * so digests of nodes that are still there survive a node change. */
static int work_init_cache(Work *w) {
        L2HashCache *c = w->cache;
        size_t j = 0;

        w->same_nodes = c->n_nodes == w->n_nodes;
        for (size_t i = 0; w->same_nodes && i < c->n_nodes; i++)
                w->same_nodes = streq(c->nodes[i], w->nodes[i].node->name);
        w->old_entries = c->entries;
        w->old_n_entries = c->n_entries;
        if (w->same_nodes)
                return 0;
        w->remap = new0(size_t, c->n_nodes + 1);
        if (!w->remap)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_nodes; i++) {
                while (j < w->n_nodes && strcmp(w->nodes[j].node->name, c->nodes[i]) < 0)
                        j++;
                w->remap[i] = j < w->n_nodes && streq(w->nodes[j].node->name, c->nodes[i]) ? j : SIZE_MAX;
        }
        return 0;
}

/* The digests of ip, taken over from the previous computation when it had
 * them.  IPs come in ascending order, so the old entries are walked once. */
static int cache_entry_for(Work *w, const IpAddr *ip, CacheEntry **ret) {
        CacheEntry *e = &w->new_entries[w->new_n_entries], *old = NULL;

        while (w->old_next < w->old_n_entries && ip_addr_compare(&w->old_entries[w->old_next].ip, ip) < 0)
                w->old_next++;
        if (w->old_next < w->old_n_entries && ip_addr_equal(&w->old_entries[w->old_next].ip, ip))
                old = &w->old_entries[w->old_next];

        *e = (CacheEntry) { .ip = *ip };
        if (old && w->same_nodes) {
                e->digests = TAKE_PTR(old->digests);
                e->known = TAKE_PTR(old->known);
        } else {
                e->digests = new0(Digest, w->n_nodes + 1);
                e->known = new0(bool, w->n_nodes + 1);
                if (!e->digests || !e->known) {
                        cache_entry_done(e);
                        return -ENOMEM;
                }
                for (size_t i = 0; old && i < w->cache->n_nodes; i++)
                        if (w->remap[i] != SIZE_MAX && old->known[i]) {
                                memcpy(e->digests[w->remap[i]], old->digests[i], sizeof(Digest));
                                e->known[w->remap[i]] = true;
                        }
        }
        w->new_n_entries++;
        *ret = e;
        return 0;
}

/* Installs the rebuilt entries and the current node list in the cache. */
static int cache_commit(Work *w) {
        L2HashCache *c = w->cache;
        char **nodes = new0(char *, w->n_nodes + 1);

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_nodes; i++) {
                nodes[i] = strdup(w->nodes[i].node->name);
                if (!nodes[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(nodes[j]);
                        free(nodes);
                        return -ENOMEM;
                }
        }
        cache_clear(c);
        c->nodes = nodes;
        c->n_nodes = w->n_nodes;
        c->entries = TAKE_PTR(w->new_entries);
        c->n_entries = w->new_n_entries;
        w->new_n_entries = 0;
        return 0;
}

/* ---- one IP ------------------------------------------------------------------ */

static int selections_add(Work *w, size_t service, size_t ad) {
        if (w->n_selections == w->n_selections_allocated) {
                size_t n = w->n_selections_allocated ? 2 * w->n_selections_allocated : 16;
                Selection *s = realloc(w->selections, n * sizeof(Selection));
                if (!s)
                        return -ENOMEM;
                w->selections = s;
                w->n_selections_allocated = n;
        }
        w->selections[w->n_selections++] = (Selection) { service, ad };
        return 0;
}

/* Rules 2-5 for the Services of pairs[0..n) (all using one ip): fills
 * w->selections with (qualifying Service, advertisement covering ip for it). */
static int collect_selections(Work *w, const Pair *pairs, size_t n) {
        const LbConfig *c = w->in->config;
        bool any = false, service_selectors = false;

        w->n_selections = 0;
        for (size_t p = 0; p < c->n_pools; p++) {
                if (!lb_pool_contains(&c->pools[p], &pairs[0].ip))
                        continue;
                for (size_t a = 0; a < w->n_ads; a++)
                        if (w->pool_ad[p * w->n_ads + a]) {
                                w->ad_stamp[a] = w->stamp;
                                any = true;
                                service_selectors = service_selectors ||
                                                    c->advertisements[a]->service_selectors.n > 0;
                        }
        }
        if (!any)
                return 0;
        for (size_t i = 0; i < n; i++) {
                const L2Service *s = &w->in->services[pairs[i].service];

                if (!s->has_ready_endpoint || (s->allow_shared_ip && service_selectors))
                        continue;
                for (size_t a = 0; a < w->n_ads; a++) {
                        if (w->ad_stamp[a] != w->stamp ||
                            !selectors_match_any(&c->advertisements[a]->service_selectors, s->labels))
                                continue;
                        int r = selections_add(w, pairs[i].service, a);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void mark_candidate(Work *w, size_t pos, size_t *n) {
        if (w->node_stamp[pos] == w->stamp)
                return;
        w->node_stamp[pos] = w->stamp;
        w->candidates[(*n)++] = pos;
}

/* §5 candidates of the current ip into w->candidates. */
static size_t collect_candidates(Work *w) {
        size_t n = 0;

        for (size_t i = 0; i < w->n_selections; i++) {
                const Selection *sel = &w->selections[i];
                const L2Service *s = &w->in->services[sel->service];

                if (!s->etp_local) {
                        for (size_t pos = 0; pos < w->n_nodes; pos++)
                                if (w->nodes[pos].eligible && ad_selects_node(w, sel->ad, pos))
                                        mark_candidate(w, pos, &n);
                        continue;
                }
                for (size_t j = 0; j < s->n_ready_nodes; j++) {
                        size_t pos = node_position(w, s->ready_nodes[j]);
                        if (pos != SIZE_MAX && w->nodes[pos].eligible && ad_selects_node(w, sel->ad, pos))
                                mark_candidate(w, pos, &n);
                }
        }
        return n;
}

static bool node_claims(const NodeState *n, const IpAddr *ip) {
        return n->n_claims > 0 && bsearch_safe(ip, n->claims, n->n_claims, sizeof(IpAddr), ip_compare_void);
}

/* The position of the winner among the n candidates: the lowest digest, among
 * the claimants first under --failback=never. */
static int elect(Work *w, const IpAddr *ip, size_t n, size_t *ret) {
        char text[IP_ADDR_STRLEN];
        bool claimants = false;
        CacheEntry *e;
        size_t best = SIZE_MAX;
        int r;

        if (w->in->failback_never)
                for (size_t i = 0; i < n && !claimants; i++)
                        claimants = node_claims(&w->nodes[w->candidates[i]], ip);
        r = cache_entry_for(w, ip, &e);
        if (r < 0)
                return r;
        ip_addr_format(ip, text);
        for (size_t i = 0; i < n; i++) {
                size_t pos = w->candidates[i];

                if (claimants && !node_claims(&w->nodes[pos], ip))
                        continue;
                if (!e->known[pos]) {
                        r = hash_text(w->nodes[pos].node->name, text, e->digests[pos]);
                        if (r < 0)
                                return r;
                        e->known[pos] = true;
                }
                /* Positions follow node names, so equal digests (equal names)
                 * cannot happen; the comparison is on the digest alone. */
                if (best == SIZE_MAX || memcmp(e->digests[pos], e->digests[best], sizeof(Digest)) < 0)
                        best = pos;
        }
        *ret = best;
        return 0;
}

static int strv_copy(const char *const *v, size_t n, char ***ret) {
        char **copy = new0(char *, n + 1);

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(v[i]);
                if (!copy[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(copy[j]);
                        free(copy);
                        return -ENOMEM;
                }
        }
        *ret = copy;
        return 0;
}

/* §6: the interfaces of the selections whose advertisement selects the winner. */
static int winner_interfaces(Work *w, size_t winner, L2Announcement *a) {
        size_t n = 0, unique = 0;

        for (size_t i = 0; i < w->n_selections; i++) {
                const L2Advertisement *ad = w->in->config->advertisements[w->selections[i].ad];

                if (!ad_selects_node(w, w->selections[i].ad, winner))
                        continue;
                if (ad->interfaces.n == 0) {
                        a->default_selection = true;
                        return 0;
                }
                if (n + ad->interfaces.n > w->n_names_allocated) {
                        size_t m = 2 * (n + ad->interfaces.n);
                        const char **names = realloc(w->names, m * sizeof(char *));
                        if (!names)
                                return -ENOMEM;
                        w->names = names;
                        w->n_names_allocated = m;
                }
                for (size_t j = 0; j < ad->interfaces.n; j++)
                        w->names[n++] = ad->interfaces.items[j];
        }
        if (n == 0)
                return 0;
        qsort(w->names, n, sizeof(char *), str_ptr_compare);
        for (size_t i = 0; i < n; i++)
                if (unique == 0 || !streq(w->names[unique - 1], w->names[i]))
                        w->names[unique++] = w->names[i];
        a->n_interfaces = unique;
        return strv_copy(w->names, unique, &a->interfaces);
}

static void announcement_done(L2Announcement *a) {
        for (size_t i = 0; i < a->n_services; i++)
                free(a->services[i]);
        free(a->services);
        free(a->node);
        for (size_t i = 0; i < a->n_interfaces; i++)
                free(a->interfaces[i]);
        free(a->interfaces);
        *a = (L2Announcement) {};
}

/* The announcement of pairs[0..n) (one ip), when the ip is announceable. */
static int announce_ip(Work *w, const Pair *pairs, size_t n, L2Election *e) {
        L2Announcement *a = &e->announcements[e->n_announcements];
        const char **keys;
        size_t n_candidates, winner;
        int r;

        w->stamp++;
        r = collect_selections(w, pairs, n);
        if (r < 0 || w->n_selections == 0)
                return r;

        *a = (L2Announcement) { .ip = pairs[0].ip };
        keys = new0(const char *, n + 1);
        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                keys[i] = pairs[i].key;
        r = strv_copy(keys, n, &a->services);
        free(keys);
        if (r < 0)
                return r;
        a->n_services = n;
        e->n_announcements++; /* from here on, freed with the result */

        n_candidates = collect_candidates(w);
        a->n_candidates = n_candidates;
        if (n_candidates == 0)
                return 0;
        r = elect(w, &a->ip, n_candidates, &winner);
        if (r < 0)
                return r;
        a->node = strdup(w->nodes[winner].node->name);
        if (!a->node)
                return -ENOMEM;
        return winner_interfaces(w, winner, a);
}

/* ---- the election -------------------------------------------------------------- */

static int pairs_build(Work *w, Pair **ret, size_t *ret_n) {
        const L2ElectionInput *in = w->in;
        size_t n = 0, total = 0, unique = 0;
        Pair *pairs;

        for (size_t i = 0; i < in->n_services; i++)
                total += in->services[i].n_ips;
        pairs = new0(Pair, total + 1);
        if (!pairs)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_services; i++)
                for (size_t j = 0; j < in->services[i].n_ips; j++)
                        pairs[n++] = (Pair) { .ip = in->services[i].ips[j], .key = w->keys[i], .service = i };
        qsort(pairs, n, sizeof(Pair), pair_compare);
        /* A Service listing an IP twice uses it once; two Services with one
         * ns/name cannot both be handled, the first one stands. */
        for (size_t i = 0; i < n; i++)
                if (unique == 0 || pair_compare(&pairs[unique - 1], &pairs[i]) != 0)
                        pairs[unique++] = pairs[i];
        *ret = pairs;
        *ret_n = unique;
        return 0;
}

int l2_election_compute(const L2ElectionInput *in, L2Election **ret) {
        _cleanup_(l2_election_freep) L2Election *e = new0(L2Election, 1);
        _cleanup_(l2_hash_cache_freep) L2HashCache *own_cache = NULL;
        _cleanup_free_ Pair *pairs = NULL;
        Work w = {};
        size_t n_pairs = 0;
        int r;

        if (!e)
                return -ENOMEM;
        if (!in->config) {
                *ret = TAKE_PTR(e);
                return 0;
        }
        if (!in->cache) {
                own_cache = l2_hash_cache_new();
                if (!own_cache)
                        return -ENOMEM;
        }
        r = work_init(&w, in, in->cache ?: own_cache, &e->all_excluded);
        if (r >= 0)
                r = work_init_cache(&w);
        if (r >= 0)
                r = pairs_build(&w, &pairs, &n_pairs);
        if (r >= 0) {
                e->announcements = new0(L2Announcement, n_pairs + 1);
                w.new_entries = new0(CacheEntry, n_pairs + 1);
                if (!e->announcements || !w.new_entries)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < n_pairs;) {
                size_t j = i + 1;
                while (j < n_pairs && ip_addr_equal(&pairs[j].ip, &pairs[i].ip))
                        j++;
                r = announce_ip(&w, pairs + i, j - i, e);
                i = j;
        }
        if (r >= 0)
                r = cache_commit(&w);
        work_done(&w);
        if (r < 0) {
                /* Entries may have lost their digests to the failed run. */
                cache_clear(w.cache);
                return r;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

L2Election *l2_election_free(L2Election *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_announcements; i++)
                announcement_done(&e->announcements[i]);
        free(e->announcements);
        free(e);
        return NULL;
}

/* ---- queries -------------------------------------------------------------------- */

const L2Announcement *l2_election_find(const L2Election *e, const IpAddr *ip) {
        size_t lo = 0, hi;

        if (!e || !ip)
                return NULL;
        hi = e->n_announcements;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = ip_addr_compare(&e->announcements[mid].ip, ip);
                if (r == 0)
                        return &e->announcements[mid];
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const char *l2_election_announcer(const L2Election *e, const char *namespace, const char *name, const char *ip) {
        _cleanup_free_ char *key = NULL;
        const L2Announcement *a;
        IpAddr addr;

        if (!ip || ip_addr_parse(ip, &addr) < 0)
                return NULL;
        a = l2_election_find(e, &addr);
        if (!a || !a->node)
                return NULL;
        if (asprintf(&key, "%s/%s", strempty(namespace), strempty(name)) < 0)
                return NULL;
        if (!bsearch_safe(&key, a->services, a->n_services, sizeof(char *), str_ptr_compare))
                return NULL;
        return a->node;
}

int l2_election_node_ips(const L2Election *e, const char *node, IpAddr **ret, size_t *ret_n) {
        _cleanup_free_ IpAddr *ips = NULL;
        size_t n = 0;

        for (size_t i = 0; e && i < e->n_announcements; i++)
                if (e->announcements[i].node && streq(e->announcements[i].node, node))
                        n++;
        if (n > 0) {
                ips = new0(IpAddr, n);
                if (!ips)
                        return -ENOMEM;
                n = 0;
                for (size_t i = 0; i < e->n_announcements; i++)
                        if (e->announcements[i].node && streq(e->announcements[i].node, node))
                                ips[n++] = e->announcements[i].ip;
        }
        *ret = TAKE_PTR(ips);
        *ret_n = n;
        return 0;
}
