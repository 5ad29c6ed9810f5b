/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* From the speaker's caches to the election's input (speaker.md §2, §4,
 * §5), shared by the daemon and the offline run:
 *   - speaker_config_update(): the configuration in force (§4): a fully
 *     valid one replaces it; an invalid one after a valid one changes
 *     nothing; invalid before any valid one: every pool and advertisement
 *     that parses on its own is used, the others skipped with one log line;
 *   - speaker_view_build(): the handled LoadBalancer Services with their
 *     ingress IPs and ready endpoints' nodes, and the Nodes, as the
 *     L2ElectionInput arrays.  Liveness and claims come from a callback. */

#include <stdbool.h>

#include "cache.h"
#include "service.h"
#include "l2_election.h"
#include "lb_config.h"

typedef struct SpeakerConfig {
        LbConfig *config;          /* in force; NULL = none yet */
        bool valid;                /* config came from a fully valid build */
} SpeakerConfig;

/* Rebuilds from the IPAddressPool and L2Advertisement caches (every object
 * in them).  Returns 1 when the configuration in force changed, 0 when not,
 * -ENOMEM. */
int speaker_config_update(SpeakerConfig *sc, Cache *pools, Cache *advertisements);
void speaker_config_done(SpeakerConfig *sc);

/* Liveness of one Node: *ret_live, and for --failback=never its claims
 * (borrowed until speaker_view_done). */
typedef void (*speaker_node_fn)(const char *node, bool *ret_live, const IpAddr **ret_claims, size_t *ret_n_claims,
                                void *userdata);
/* Replaces a Service's ingress IPs (offline: the IPs lbipam would give a
 * Service without status IPs).  Returns true and fills ips/n to override. */
typedef bool (*speaker_ips_fn)(const Service *s, IpAddr ips[2], size_t *ret_n, void *userdata);

typedef struct SpeakerViewSources {
        Cache *services, *endpointslices, *nodes;
        const char *lb_class;      /* NULL: Services without a class */
        speaker_node_fn node_state;
        speaker_ips_fn ips_override; /* may be NULL */
        void *userdata;
} SpeakerViewSources;

typedef struct SpeakerView {
        size_t n_services;
        L2Service *services;
        size_t n_nodes;
        L2Node *nodes;              /* sorted by name */
} SpeakerView;

int speaker_view_build(const SpeakerViewSources *src, SpeakerView *ret);
void speaker_view_done(SpeakerView *v);

/* A handled LoadBalancer Service (the class filter of lbipam §4). */
bool speaker_service_handled(const Service *s, const char *lb_class);
