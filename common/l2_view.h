/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* From the caches to the election's input (speaker.md §2, §4, §5, §13),
 * pure and shared by berth-speaker (daemon and offline run) and
 * berth-controller's -o table, so both show the same owner:
 *   - l2_config_update(): the configuration in force (§4): a fully valid
 *     one replaces it; an invalid one after a valid one changes nothing;
 *     invalid before any valid one: every pool and advertisement that
 *     parses on its own is used, the others skipped with one log line;
 *   - l2_view_build(): the handled LoadBalancer Services with their
 *     ingress IPs and ready endpoints' nodes, and the Nodes, as the
 *     L2ElectionInput arrays.  Liveness and claims come from a callback;
 *   - l2_offline_elect(): the whole election over an offline source
 *     (offline.md "The speaker offline"): a node is live when DIR holds its
 *     speaker Lease fresh at --now, every Node when DIR holds none. */

#include <stdbool.h>

#include "cache.h"
#include "l2_election.h"
#include "lb_config.h"
#include "service.h"
#include "source.h"

/* The one line logged when every Node carries the exclude label
 * (L2Election.all_excluded, speaker.md §5). */
#define L2_ALL_EXCLUDED_MESSAGE                                                                  \
        "every node carries the label node.kubernetes.io/exclude-from-external-load-balancers: " \
        "nothing will be announced (set --ignore-exclude-lb to announce anyway)"

typedef struct L2ConfigState {
        LbConfig *config;          /* in force; NULL = none yet */
        bool valid;                /* config came from a fully valid build */
} L2ConfigState;

/* Rebuilds from the IPAddressPool and L2Advertisement caches (every object
 * in them).  Returns 1 when the configuration in force changed, 0 when not,
 * -ENOMEM. */
int l2_config_update(L2ConfigState *sc, Cache *pools, Cache *advertisements);
void l2_config_done(L2ConfigState *sc);

/* Liveness of one Node: *ret_live, and for --failback=never its claims
 * (borrowed until l2_view_done). */
typedef void (*l2_node_state_fn)(const char *node, bool *ret_live, const IpAddr **ret_claims, size_t *ret_n_claims,
                                 void *userdata);
/* Replaces a Service's ingress IPs (offline: the IPs DIR gave a Service
 * before lbipam ran).  Returns true and fills ips/n to override. */
typedef bool (*l2_ips_fn)(const Service *s, IpAddr ips[2], size_t *ret_n, void *userdata);

typedef struct L2ViewSources {
        Cache *services, *endpointslices, *nodes;
        const char *lb_class;      /* NULL: Services without a class */
        l2_node_state_fn node_state;
        void *userdata;            /* node_state's */
        l2_ips_fn ips_override;    /* may be NULL */
        void *ips_userdata;
} L2ViewSources;

typedef struct L2View {
        size_t n_services;
        L2Service *services;       /* sorted by namespace, then name */
        size_t n_nodes;
        L2Node *nodes;             /* sorted by name */
} L2View;

int l2_view_build(const L2ViewSources *src, L2View *ret);
void l2_view_done(L2View *v);

/* A handled LoadBalancer Service: type LoadBalancer and the class filter of
 * lbipam §4 (lb_service_handled). */
bool l2_service_handled(const Service *s, const char *lb_class);

/* ---- offline (speaker.md §13) ------------------------------------------------ */

typedef struct L2OfflineOptions {
        const char *lease_namespace;  /* --namespace: where the speaker Leases are */
        const char *config_namespace; /* IPAddressPool / L2Advertisement namespace */
        const char *lb_class;         /* NULL: Services without a class */
        bool ignore_exclude_lb;
        bool failback_never;          /* claims from the leases' berth.io/announcing */
        l2_ips_fn ips_override;       /* may be NULL */
        void *userdata;
} L2OfflineOptions;

/* The election over the offline source's current objects, at its --now
 * (source_now).  0 and a new L2Election, or -ENOMEM. */
int l2_offline_elect(Source *s, const L2OfflineOptions *o, L2Election **ret);
