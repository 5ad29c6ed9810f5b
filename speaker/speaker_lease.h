/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The speaker's own Lease and its view of the peers' leases, on the loop
 * (speaker.md §3, §12):
 *  - creates berth-speaker-<node> in --namespace, or takes over an existing
 *    one (rewriting holderIdentity, with a warning);
 *  - renews every --lease-renew with the current resourceVersion; at most
 *    one renewal in flight, abandoned (cancelled) at the next tick; a 409
 *    fetches the lease (a GET: the watch may lag) and retries at once; one
 *    extra renewal at once when the announcing set changes, never otherwise;
 *  - watches the Leases of --namespace (through the Source's Lease cache)
 *    and keeps the Membership: peer liveness with one expiry timer,
 *    fencing, the freshness guard;
 *  - graceful leave: DELETE with a uid precondition and a 1 s timeout.
 * Writes go through the Source (source.h), so the same code runs against
 * the API server and the offline source of the unit test.  Wall-clock time
 * (source_now) is used only for acquireTime/renewTime; every decision uses
 * CLOCK_MONOTONIC from the loop. */

#include <stdbool.h>

#include "membership.h"
#include "metrics.h"
#include "net.h"
#include "source.h"

typedef struct SpeakerLease SpeakerLease;

typedef struct SpeakerLeaseCallbacks {
        /* The first renewal (create or take-over) succeeded: the speaker
         * may announce once its informers and caches are ready too. */
        void (*first_renewal)(SpeakerLease *sl, void *userdata);
        /* fenced: now − tOk ≥ --lease-duration (stop answering, cancel
         * bursts, leave groups); !fenced: the next successful renewal
         * (re-elect, burst every owned IP). */
        void (*fenced_changed)(SpeakerLease *sl, bool fenced, void *userdata);
        /* A peer became live or dead, or its claims changed: re-elect. */
        void (*peers_changed)(SpeakerLease *sl, void *userdata);
        /* The Lease watch is stale (an own renewal did not show up within
         * --lease-duration); peer expiry is suspended.  The daemon re-lists
         * the watch and then calls speaker_lease_relisted().  May be NULL. */
        void (*watch_stale)(SpeakerLease *sl, void *userdata);
        void *userdata;
} SpeakerLeaseCallbacks;

typedef struct SpeakerLeaseConfig {
        const char *namespace;   /* --namespace */
        const char *node;        /* --node */
        const char *node_uid;    /* the Node's metadata.uid (ownerReferences) */
        usec_t lease_duration;   /* --lease-duration (> 0) */
        usec_t renew_period;     /* --lease-renew (< lease_duration) */
} SpeakerLeaseConfig;

/* Takes a reference on nothing: src, its event loop and metrics (may be
 * NULL) must outlive the SpeakerLease.  Strings of c are copied. */
int speaker_lease_new(Source *src, const SpeakerLeaseConfig *c, const SpeakerLeaseCallbacks *cb,
                      MetricsRegistry *metrics, SpeakerLease **ret);
/* Cancels timers and the request in flight (in the source: nothing is
 * left pointing at the SpeakerLease), releases the Lease cache. */
SpeakerLease *speaker_lease_free(SpeakerLease *sl);
DEFINE_POINTER_CLEANUP(SpeakerLease, speaker_lease_free);

/* Opens the Lease cache (namespace = --namespace, shared with anyone asking
 * the same), starts the renew timer and sends the first write at once. */
int speaker_lease_start(SpeakerLease *sl);

/* The IPs this node announces now (any order, duplicates allowed).  When
 * the set differs from the last one, one extra renewal is sent at once
 * (or right after the one in flight). */
int speaker_lease_set_announcing(SpeakerLease *sl, const IpAddr *ips, size_t n);

/* Re-lists the Lease watch after watch_stale: releases the Lease cache
 * (the source stops its watch) and asks for it again; once the fresh
 * cache is synced (checked as its leases arrive and at each renew tick)
 * it does what speaker_lease_relisted() does.  -EINVAL before start. */
int speaker_lease_relist(SpeakerLease *sl);
/* The Lease watch was re-listed by other means after watch_stale. */
void speaker_lease_relisted(SpeakerLease *sl);

/* Graceful leave: stops renewing, DELETEs the own lease with a uid
 * precondition and a 1 s timeout, then calls done (error 0, or -errno of
 * the failed/timed-out delete; done is called in every case, once). */
typedef void (*speaker_lease_left_fn)(SpeakerLease *sl, int error, void *userdata);
int speaker_lease_leave(SpeakerLease *sl, speaker_lease_left_fn done, void *userdata);

bool speaker_lease_fenced(const SpeakerLease *sl);
/* The Lease cache has listed every lease once (after speaker_lease_start):
 * until then the peer table may lack live peers, so nobody may elect on it
 * (§3 "informers have synced"), and claims would be missed by the §9 probe
 * decision. */
bool speaker_lease_synced(const SpeakerLease *sl);
/* The peer table (for the election: membership_is_live, claims). */
const Membership *speaker_lease_membership(const SpeakerLease *sl);
