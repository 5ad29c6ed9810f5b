/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The load-balancer address configuration (lbipam.md §3, §7.1, §10,
 * §13.5, §13.6): IPAddressPools and L2Advertisements parsed and validated
 * into one immutable LbConfig.  Pure code shared by berth-controller's
 * lbipam, berth-speaker (speaker.md) and berthctl; it reads decoded objects
 * and never talks to the network.
 *
 * Any error rejects the whole configuration (§3): lb_config_build() fails
 * with the exact §3 text and names the object it is about, so the caller
 * can keep its last valid LbConfig and put a ConfigInvalid event on that
 * object. */

#include <stdbool.h>
#include <stdint.h>

#include "ipaddresspool.h"
#include "l2advertisement.h"
#include "namespace.h"
#include "net.h"
#include "service.h"

typedef struct LbPool {
        IPAddressPool *object;        /* referenced (kube_object_ref) */
        const char *name;             /* object->object.meta.name */
        size_t n_cidrs;
        IpCidr *cidrs;                /* spec.addresses in list order; a range as its ascending aligned CIDRs;
                                       * host bits cleared */
        bool auto_assign;
        bool avoid_buggy_ips;
        bool draining;                /* berth.io/drain: "true" (§13.5) */
        bool has_service_allocation;  /* spec.serviceAllocation present (tier 1, §7.1) */
        int32_t priority;             /* 0 = unset */
        /* serviceAllocation.namespaces ∪ the namespaces namespaceSelectors match,
         * sorted bytewise, no duplicates.  As in MetalLB (§7.1), an empty set
         * restricts nothing, even when selectors exist but match no namespace. */
        bool namespace_restricted;    /* namespaces or namespaceSelectors non-empty */
        size_t n_namespaces;
        char **namespaces;
        int64_t capacity_v4, capacity_v6; /* §10, saturating at INT64_MAX */
        bool covered;                 /* some L2Advertisement covers the pool (§13.6) */
} LbPool;

typedef struct LbConfig {
        size_t n_pools;
        LbPool *pools;                /* sorted by name, then namespace (§3 processing order) */
        size_t n_advertisements;
        L2Advertisement **advertisements; /* referenced; sorted by namespace, then name */
} LbConfig;

/* The error of a rejected configuration. */
typedef struct LbConfigError {
        const KubeKind *kind;         /* &kube_kind_ipaddresspool or &kube_kind_l2advertisement */
        char *namespace;
        char *name;                   /* "" for "missing pool name" */
        char *message;                /* the exact §3 text */
} LbConfigError;

typedef struct LbConfigInput {
        KubeObject *const *pools;           /* IPAddressPool objects, any order */
        size_t n_pools;
        KubeObject *const *advertisements;  /* L2Advertisement objects, any order */
        size_t n_advertisements;
        KubeObject *const *namespaces;      /* Namespace objects (for namespaceSelectors) */
        size_t n_namespaces;
} LbConfigInput;

/* 0 and a new LbConfig, or -EINVAL and *ret_error filled (caller calls
 * lb_config_error_done), or -ENOMEM.  Advertisements naming a pool that
 * does not exist are not an error (logged at debug). */
int lb_config_build(const LbConfigInput *in, LbConfig **ret, LbConfigError *ret_error);
LbConfig *lb_config_free(LbConfig *c);
DEFINE_POINTER_CLEANUP(LbConfig, lb_config_free);
void lb_config_error_done(LbConfigError *e);

const LbPool *lb_config_find_pool(const LbConfig *c, const char *name);
/* The pool one of whose CIDRs holds ip, buggy addresses excluded where the
 * pool avoids them (§7.3 step 2, §9); NULL when none.  O(log CIDRs) through
 * an index lb_config_build() makes: only for built configurations. */
const LbPool *lb_config_pool_of(const LbConfig *c, const IpAddr *ip);
bool lb_pool_contains(const LbPool *p, const IpAddr *ip);
/* The pool has at least one usable (non-avoided) address of family f. */
bool lb_pool_has_family(const LbPool *p, IpFamily f);
/* compatible(pool, svc) of §7.1. */
bool lb_pool_compatible(const LbPool *p, const char *service_namespace, const StrMap *service_labels);
/* §13.6: the advertisement covers p (names it in ipAddressPools, matches it
 * through ipAddressPoolSelectors, or has both lists empty). */
bool lb_advertisement_covers(const L2Advertisement *a, const LbPool *p);
/* §13.6: some advertisement covering p also selects the Service
 * (serviceSelectors empty, or one of them matches its labels). */
bool lb_config_service_covered(const LbConfig *c, const LbPool *p, const StrMap *service_labels);

/* IPv4 with last octet 0 or 255 (§7.2); never an IPv6 address. */
bool lb_ip_is_buggy(const IpAddr *ip);
/* Addresses of one CIDR (§10), buggy ones excluded when avoid_buggy;
 * 62 or more host bits give INT64_MAX. */
int64_t lb_cidr_capacity(const IpCidr *c, bool avoid_buggy);
/* a + b saturating at INT64_MAX. */
int64_t lb_add_saturating(int64_t a, int64_t b);

/* One spec.addresses entry of pool `pool` (§3 table): a CIDR or a range,
 * into a malloc'd array of CIDRs (ascending for a range).  -EINVAL with the
 * exact §3 text in *ret_error. */
int lb_parse_address_entry(const char *pool, const char *entry, IpCidr **ret, size_t *ret_n, char **ret_error);

/* Whether an update of an IPAddressPool or L2Advertisement changes an input
 * of the configuration.  A pool's status (lbipam's own counters) does not:
 * every consumer (lbipam, the speaker) skips such updates, or each
 * allocation would make all of them re-read the configuration. */
bool lb_config_update_matters(const KubeObject *old, const KubeObject *new);

/* s quoted as Go's %q prints it. */
char *lb_config_go_quote(const char *s);

/* ["a" "b"]: the quoted list form every message uses (§5). */
char *lb_format_ip_list(const IpAddr *ips, size_t n);

/* §4 (lbipam.md): does this class filter handle the Service at all?  With
 * lb_class NULL or "" only Services without spec.loadBalancerClass; else
 * those whose class equals lb_class.  Shared by lbipam and the speaker. */
bool lb_service_handled(const Service *s, const char *lb_class);
