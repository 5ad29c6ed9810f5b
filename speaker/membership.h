/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Speaker membership (speaker.md §3), pure logic with an injected clock:
 *  - the peer table: one entry per speaker Lease berth-speaker-<node>,
 *    live while now − lastChange < its duration, where lastChange is the
 *    local monotonic time at which spec.renewTime was last seen to change
 *    (the first sighting counts).  renewTime is never compared with the
 *    local clock (clocks between nodes are not trusted);
 *  - our own fencing: tOk = send time of the last successful renewal,
 *    fenced while now − tOk ≥ --lease-duration;
 *  - the watch freshness guard: a successful renewal that has not shown up
 *    on the watch within --lease-duration makes the watch stale; peer
 *    expiry is then suspended until the caller has re-listed.
 * Every time is a CLOCK_MONOTONIC usec_t given by the caller, except the
 * offline check (§13), which compares renewTime with the fixed --now. */

#include <stdbool.h>
#include <stddef.h>

#include "l2_lease.h"
#include "lease_object.h"
#include "macros.h"
#include "net.h"
#include "timeutil.h"

typedef struct Membership Membership;

/* One peer (this node's own lease included), as membership_peer() shows it. */
typedef struct MembershipPeer {
        const char *node;       /* from the lease name, == holderIdentity */
        usec_t duration;        /* berth.io/lease-duration-ms, else leaseDurationSeconds × 1000 ms */
        usec_t renew_time;      /* wall clock the peer wrote; informational only */
        usec_t last_change;     /* local monotonic time renewTime was last seen to change */
        bool live;              /* as of the last membership_observe/forget/tick */
        const IpAddr *claims;   /* berth.io/announcing, sorted, unique */
        size_t n_claims;
} MembershipPeer;

/* self_node: this node's name; lease_duration: --lease-duration (> 0). */
int membership_new(const char *self_node, usec_t lease_duration, Membership **ret);
Membership *membership_free(Membership *m);
DEFINE_POINTER_CLEANUP(Membership, membership_free);

/* ---- the peer table ------------------------------------------------------- */

/* A lease was added or updated on the watch (or re-listed) at monotonic
 * now.  renewTime unchanged → lastChange kept (so after a re-list a peer
 * is judged by its old lastChange).  An ignored lease (bad name, holder
 * mismatch) removes a peer previously known under that lease name.  If
 * the lease is this node's own, it also feeds the freshness guard.
 * Returns 1 when a peer's liveness or claims changed, 0 otherwise. */
int membership_observe(Membership *m, const Lease *l, usec_t now);
/* The lease named lease_name was deleted: that peer is dead at once.
 * Returns 1 when a live peer went away, 0 otherwise. */
int membership_forget(Membership *m, const char *lease_name);
/* Re-evaluates liveness at now (the expiry timer).  Expiry is suspended
 * while the watch is stale.  Returns the number of peers that expired
 * (live → dead) in this call; berth_speaker_peer_expirations_total adds it. */
unsigned membership_tick(Membership *m, usec_t now);
/* When the caller must call membership_tick() (and check fencing and
 * staleness) next: the earliest of the live peers' expiries (lastChange +
 * duration; none while the watch is stale), the fencing deadline and the
 * staleness deadline when they lie after now; USEC_INFINITY when none. */
usec_t membership_next_deadline(const Membership *m, usec_t now);

bool membership_is_live(const Membership *m, const char *node);
size_t membership_live_count(const Membership *m);
/* Peers sorted by node name; i < membership_n_peers(). */
size_t membership_n_peers(const Membership *m);
const MembershipPeer *membership_peer(const Membership *m, size_t i);
/* The peer of that node, or NULL. */
const MembershipPeer *membership_find(const Membership *m, const char *node);

/* ---- our own lease: fencing and the freshness guard ----------------------- */

/* A renewal (or the creation) sent at monotonic sent_at succeeded at now;
 * the server stored resource_version and the renewTime we wrote.  tOk
 * becomes sent_at (never moves back). */
void membership_renewal_ok(Membership *m, usec_t sent_at, const char *resource_version, usec_t renew_time,
                           usec_t now);
/* True until the first successful renewal, and while now − tOk ≥ duration. */
bool membership_fenced(const Membership *m, usec_t now);
/* tOk + duration (when fencing starts); USEC_INFINITY before the first success. */
usec_t membership_fence_deadline(const Membership *m);
bool membership_has_renewed(const Membership *m);

/* True when a successful renewal has waited ≥ duration to show up on the
 * watch: the caller re-lists the Lease watch, then calls
 * membership_relisted(). */
bool membership_watch_stale(const Membership *m, usec_t now);
/* The re-list is complete (its leases went through membership_observe /
 * membership_forget): expiry resumes, unseen renewals are forgotten. */
void membership_relisted(Membership *m);
