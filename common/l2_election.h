/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The layer-2 election (speaker.md §4, §5, §6 "L2Advertisement.interfaces"):
 * which IPs are announceable, which nodes are candidates for each, and which
 * candidate announces it.  Pure code with no I/O, shared by berth-speaker,
 * berth-controller's -o table and berthctl, so all three agree.
 *
 * The caller gathers the inputs: the configuration in force, the handled
 * LoadBalancer Services (class filter already applied), per Service where
 * its ready endpoints are, the Nodes and which of them have a live speaker.
 * l2_election_compute() always recomputes everything; it is cheap enough
 * (1,000 IPs x 100 nodes in a few ms) that incremental work is optional. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_config.h"
#include "macros.h"
#include "net.h"
#include "object.h"

#define L2_ELECTION_HASH_SIZE 32 /* SHA-256 */

/* One handled LoadBalancer Service.  Every pointer is borrowed for the
 * duration of l2_election_compute() only. */
typedef struct L2Service {
        const char *namespace;
        const char *name;
        const StrMap *labels;           /* NULL = no labels */
        bool etp_local;                 /* externalTrafficPolicy: Local */
        bool allow_shared_ip;           /* allow-shared-ip annotation set (non-empty; rule 4) */
        size_t n_ips;
        const IpAddr *ips;              /* status.loadBalancer.ingress[].ip, any order; duplicates ignored */
        /* Rule 5: some EndpointSlice endpoint is ready (true or unset) or
         * serving, on any node or on none. */
        bool has_ready_endpoint;
        /* The nodeName of every such endpoint (ETP Local candidates); any
         * order, duplicates allowed. */
        size_t n_ready_nodes;
        const char *const *ready_nodes;
} L2Service;

/* One Node object.  Nodes without a Node object are never candidates, so
 * the caller lists only existing Nodes. */
typedef struct L2Node {
        const char *name;
        const StrMap *labels;           /* NULL = no labels */
        bool network_unavailable;       /* condition NetworkUnavailable is "True" */
        /* Has a live speaker lease (§3).  For the local node: its own lease
         * and not fenced. */
        bool live;
        /* --failback=never only: the IPs the node claims, i.e. its lease's
         * berth.io/announcing; for the local node its own live state
         * (the IPs it announces right now), not its lease.  Any order. */
        size_t n_claims;
        const IpAddr *claims;
} L2Node;

/* Digests of earlier computations, kept by the caller between calls so a
 * recomputation hashes only new (node, IP) pairs: one SHA-256 costs about
 * as much as everything else of a candidate.  Entries of IPs that are not
 * announceable any more are dropped at each computation. */
typedef struct L2HashCache L2HashCache;
L2HashCache *l2_hash_cache_new(void);
L2HashCache *l2_hash_cache_free(L2HashCache *c);
DEFINE_POINTER_CLEANUP(L2HashCache, l2_hash_cache_free);

typedef struct L2ElectionInput {
        const LbConfig *config;         /* configuration in force; NULL = none: nothing is announced */
        size_t n_services;
        const L2Service *services;
        size_t n_nodes;
        const L2Node *nodes;            /* names unique */
        bool ignore_exclude_lb;         /* --ignore-exclude-lb */
        bool failback_never;            /* --failback=never */
        L2HashCache *cache;             /* optional; the result never depends on it */
} L2ElectionInput;

/* One announceable IP (rules 1-5 hold for at least one Service using it). */
typedef struct L2Announcement {
        IpAddr ip;
        /* Every handled Service listing ip, as "ns/name", sorted bytewise:
         * the IP is on the wire for all of them once one qualifies. */
        size_t n_services;
        char **services;
        size_t n_candidates;            /* §5 candidates */
        char *node;                     /* the winner; NULL when there is no candidate */
        /* §6 for the winner: the union of the interfaces of every covering
         * advertisement (of a qualifying Service using ip) that selects the
         * winner, sorted bytewise without duplicates; when one of them has
         * no interfaces, default_selection is true and the list is empty. */
        bool default_selection;
        size_t n_interfaces;
        char **interfaces;
} L2Announcement;

typedef struct L2Election {
        /* Sorted by ip (ip_addr_compare: IPv4 before IPv6, numerically);
         * an IP appears once. */
        size_t n_announcements;
        L2Announcement *announcements;
        /* There are Nodes, every one carries the exclude label and
         * --ignore-exclude-lb is off: the daemon logs its one line saying
         * nothing will be announced and naming --ignore-exclude-lb (§5). */
        bool all_excluded;
} L2Election;

/* 0 and a new L2Election, or -ENOMEM (or -EIO if SHA-256 fails). */
int l2_election_compute(const L2ElectionInput *in, L2Election **ret);
L2Election *l2_election_free(L2Election *e);
DEFINE_POINTER_CLEANUP(L2Election, l2_election_free);

/* The announcement of ip, or NULL when ip is not announceable.  O(log n). */
const L2Announcement *l2_election_find(const L2Election *e, const IpAddr *ip);

/* The node announcing ip for Service namespace/name (ip as text), or NULL
 * (not announceable, no winner, or the Service does not use ip).  This is
 * the shape of OfflineTableHooks.announcer. */
const char *l2_election_announcer(const L2Election *e, const char *namespace, const char *name, const char *ip);

/* The IPs node owns, sorted as the announcements (so the canonical text of
 * each, joined with ",", is berth.io/announcing).  0 and a malloc'd array
 * (NULL when n = 0), or -ENOMEM. */
int l2_election_node_ips(const L2Election *e, const char *node, IpAddr **ret, size_t *ret_n);

/* sha256(node + "#" + canonical text of ip) (§5). */
int l2_election_hash(const char *node, const IpAddr *ip, uint8_t ret[static L2_ELECTION_HASH_SIZE]);

/* The index of the candidate with the lowest hash for ip (digests compared
 * as unsigned bytes; a tie, only possible for equal names, keeps the first),
 * or -ENOENT when n = 0, or -EIO. */
int l2_election_winner(const char *const *candidates, size_t n, const IpAddr *ip);
