/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Who holds which load-balancer address (lbipam.md §7.2, §8, §9, §10):
 * the allocations of every Service, per-pool free structures and the
 * sharing rules.  Pure state, no I/O; the lbipam reconcile drives it.
 *
 * Cost (issue #5): finding the first free address must not grow with how
 * full a pool is.  Each CIDR keeps its allocated addresses as sorted runs
 * of ranks (rank = position among the CIDR's usable addresses, buggy ones
 * skipped when the pool avoids them), so the first free rank is read off
 * the first run, an IPv6 /64 is never enumerated, and inserting or
 * removing costs O(log runs).  Addresses shared under a sharing key are
 * found through a per-key index, not by scanning the pool. */

#include <stdbool.h>
#include <stdint.h>

#include "lb_config.h"
#include "net.h"

typedef struct LbPortPair {
        const char *protocol;   /* "TCP", "UDP", "SCTP" */
        int32_t port;
} LbPortPair;

/* What the sharing rules of §8 need to know about a Service. */
typedef struct LbServiceShare {
        const char *key;          /* "ns/name" */
        const char *sharing_key;  /* allow-shared-ip value; NULL or "" = no key */
        const char *backend_key;  /* "" for ETP Cluster; sorted "k1=v1,k2=v2" for Local */
        size_t n_ports;
        const LbPortPair *ports;
} LbServiceShare;

typedef struct LbAllocator LbAllocator;

int lb_allocator_new(LbAllocator **ret);
LbAllocator *lb_allocator_free(LbAllocator *a);
DEFINE_POINTER_CLEANUP(LbAllocator, lb_allocator_free);

/* A released allocation (§9, §13.8). */
typedef struct LbDropped {
        char *service;            /* "ns/name" */
        char *pool;               /* the pool it came from */
        bool pool_deleted;        /* that pool no longer exists */
        size_t n_ips;
        IpAddr ips[2];
} LbDropped;
void lb_dropped_free_many(LbDropped *d, size_t n);

/* Installs a configuration (§9).  The allocator keeps the pointer: the
 * caller keeps cfg alive until the next call (or free).  Every allocation
 * is matched against cfg: the pool that now contains all of its IPs keeps
 * it (renamed when that pool has another name); otherwise it is released
 * and listed in *ret_dropped (sorted by pool, then service).  A pool that
 * became draining keeps its holders.  ret_dropped may be NULL. */
int lb_allocator_set_config(LbAllocator *a, const LbConfig *cfg, LbDropped **ret_dropped, size_t *ret_n_dropped);

/* §8: may svc use ip?  0, or -EBUSY with *ret_error (malloc'd) the exact
 * text: the key error before the port error.  svc's own holding of ip does
 * not count. */
int lb_allocator_check_share(const LbAllocator *a, const IpAddr *ip, const LbServiceShare *svc, char **ret_error);

/* §7.2: the first address of family f in pool p (list order; buggy ones
 * skipped when avoided) that svc may use under §8: the lowest of the first
 * unheld address and the first address held only by Services svc can share
 * with.  -ENOSPC when there is none.  Draining is the caller's business. */
int lb_allocator_first_free(const LbAllocator *a, const LbPool *p, IpFamily f, const LbServiceShare *svc,
                            IpAddr *ret);

/* Records svc's allocation of ips (1 or 2, each inside pool p), replacing
 * any previous allocation of svc.  The caller has checked §8. */
int lb_allocator_assign(LbAllocator *a, const LbServiceShare *svc, const LbPool *p, const IpAddr *ips, size_t n);
/* Releases svc's allocation; no-op when it has none. */
void lb_allocator_release(LbAllocator *a, const char *service_key);

/* svc's allocation: true with its pool name (owned by the allocator) and
 * IPs in the order assigned. */
bool lb_allocator_lookup(const LbAllocator *a, const char *service_key, const char **ret_pool, IpAddr ret_ips[2],
                         size_t *ret_n);

/* Distinct addresses held from pool `name` (§10: a shared IP counts once). */
void lb_allocator_pool_usage(const LbAllocator *a, const char *pool, int64_t *ret_v4, int64_t *ret_v6);
/* Number of Services holding an allocation. */
size_t lb_allocator_n_services(const LbAllocator *a);
/* Services holding ip, sorted ("ns/name", owned by the allocator); returns the count. */
size_t lb_allocator_holders(const LbAllocator *a, const IpAddr *ip, const char *const **ret);
