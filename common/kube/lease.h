/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* coordination.k8s.io/v1 Leases: leader election with client-go semantics
 * (lbipam.md §13.3), and the building blocks a second user (the speaker's
 * own membership lease, speaker.md §3: renew one's own lease without any
 * election) reuses.
 *
 * Three layers:
 *  1. LeaseRecord: the few fields berth reads and writes, JSON decode/encode
 *     (labels, annotations and owner references are kept, so a PUT never
 *     wipes them).
 *  2. The pure election logic: what a replica does given the lease it
 *     observed and its monotonic clock.  Expiry is counted from the moment
 *     this replica *observed* the last change of the record, never from
 *     renewTime (clocks between machines are not trusted).
 *  3. LeaderElector: that logic on the event loop with the Kubernetes HTTP
 *     client: GET/POST/PUT on /apis/coordination.k8s.io/v1/namespaces/NS/
 *     leases/NAME with resourceVersion preconditions (409 → re-read at once).
 *
 * Timing (berth's rules, lbipam.md §13.3):
 *  - every replica tries exactly every retry period (no jitter);
 *  - a standby takes over when lease duration has passed since it saw the
 *    record change: after a leader's crash at most lease duration + 2 ×
 *    retry period;
 *  - a leader whose last successful renewal was *sent* renew deadline ago
 *    stops at once (stopped_leading); the binary stops writing and exits
 *    non-zero.  renew deadline < lease duration, so it stops before any
 *    standby can take over;
 *  - on SIGTERM the leader stops writing and releases (holderIdentity "",
 *    leaseDurationSeconds 1), so a standby takes over at its next try.
 *
 * Typical use (berth-controller):
 *
 *     LeaderElectionConfig c = { .namespace = ns, .name = "berth-controller",
 *                                .identity = id, .lease_duration = 15 s, ... };
 *     leader_elector_new(event, client, &c, &callbacks, &le);
 *     leader_elector_start(le);          // started_leading() when acquired
 *     ...
 *     on SIGTERM: stop writing, then leader_elector_release(le, 1 s, done, ud)
 *                 and exit in done().
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "http.h"
#include "macros.h"
#include "timeutil.h"

/* ---- 1. the record ------------------------------------------------------- */

typedef struct LeaseOwnerRef {
        char *api_version, *kind, *name, *uid;
        bool controller;
} LeaseOwnerRef;

#define LEASE_MAX_OWNER_REFS 4
#define LEASE_MAX_BODY (1024 * 1024)

typedef struct LeaseRecord {
        char *namespace;
        char *name;
        char *uid;                      /* set by the server */
        char *resource_version;         /* NULL: create */
        char *holder_identity;          /* NULL = none; "" after a release */
        int64_t lease_duration_seconds; /* 0 = unset */
        usec_t acquire_time;            /* wall clock (MicroTime); 0 = unset */
        usec_t renew_time;
        int64_t lease_transitions;
        char **labels;                  /* key, value, key, value, ..., NULL */
        char **annotations;             /* likewise */
        LeaseOwnerRef owners[LEASE_MAX_OWNER_REFS];
        size_t n_owners;
} LeaseRecord;

void lease_record_done(LeaseRecord *r);
int lease_record_copy(const LeaseRecord *src, LeaseRecord *ret);
/* Decodes a Lease object.  -EINVAL with *ret_error naming the field. */
int lease_record_decode(const char *json, size_t len, LeaseRecord *ret, char **ret_error);
/* Encodes the whole object (for POST and PUT). */
int lease_record_encode(const LeaseRecord *r, char **ret_json);
/* The spec fields client-go compares to notice a change (holder, duration,
 * acquire/renew time, transitions). */
bool lease_record_spec_equal(const LeaseRecord *a, const LeaseRecord *b);
/* Sets (or with value NULL removes) a label/annotation: strv pairs. */
int lease_record_set_annotation(LeaseRecord *r, const char *key, const char *value);
int lease_record_set_label(LeaseRecord *r, const char *key, const char *value);
const char *lease_record_annotation(const LeaseRecord *r, const char *key);

/* "/apis/coordination.k8s.io/v1/namespaces/NS/leases[/NAME]" (malloc'd). */
char *lease_path(const char *namespace, const char *name);

/* ---- 2. election logic (pure) -------------------------------------------- */

typedef struct LeaderElectionConfig {
        const char *namespace;
        const char *name;
        const char *identity;           /* holderIdentity and reportingInstance */
        usec_t lease_duration;          /* 15 s */
        usec_t renew_deadline;          /* 10 s */
        usec_t retry_period;            /* 2 s */
} LeaderElectionConfig;

#define LEADER_ELECT_DEFAULT_LEASE_DURATION (15 * USEC_PER_SEC)
#define LEADER_ELECT_DEFAULT_RENEW_DEADLINE (10 * USEC_PER_SEC)
#define LEADER_ELECT_DEFAULT_RETRY_PERIOD (2 * USEC_PER_SEC)

/* Parses and checks --leader-elect-lease-duration, -renew-deadline and
 * -retry-period (any may be NULL for its default).  Checks (client-go's):
 * each > 0, lease duration > renew deadline, renew deadline > 1.2 × retry
 * period.  On -EINVAL *ret_error is the line after "<binary>: ", e.g.
 * `invalid argument "10s" for --leader-elect-lease-duration: must be greater
 * than --leader-elect-renew-deadline (10s)`. */
int leader_election_flags_parse(const char *lease_duration, const char *renew_deadline, const char *retry_period,
                                usec_t *ret_lease_duration, usec_t *ret_renew_deadline, usec_t *ret_retry_period,
                                char **ret_error);

/* $POD_NAME when set, else "<hostname>_<random UUID>". */
int leader_election_default_identity(char **ret);

typedef struct LeaderElectionState {
        bool have_observed;             /* a record was observed (else: none seen or not found) */
        LeaseRecord observed;
        usec_t observed_time;           /* monotonic: when the observed spec last changed */
        bool leading;
        usec_t last_renew_sent;         /* monotonic: send time of the last successful write */
} LeaderElectionState;

typedef enum LeaseAction {
        LEASE_WAIT,                     /* someone else holds a live lease */
        LEASE_CREATE,                   /* no lease object: POST one */
        LEASE_ACQUIRE,                  /* expired or released: take it over (PUT) */
        LEASE_RENEW,                    /* ours: renew (PUT) */
} LeaseAction;

const char *lease_action_to_string(LeaseAction a);
void leader_election_state_done(LeaderElectionState *st);
/* Records what a GET (or a write's answer) returned; seen NULL = 404.  A
 * record whose spec differs from the last observed one restarts the expiry
 * clock at now (monotonic). */
int leader_election_observe(LeaderElectionState *st, const LeaseRecord *seen, usec_t now);
/* What to do now, given the last observation. */
LeaseAction leader_election_decide(const LeaderElectionState *st, const LeaderElectionConfig *c, usec_t now);
/* When a standby may next act (observed_time + lease duration); 0 when it may act now. */
usec_t leader_election_expiry(const LeaderElectionState *st, const LeaderElectionConfig *c);
/* The record to write for action (CREATE/ACQUIRE/RENEW) at wall-clock time wall. */
int leader_election_desired(const LeaderElectionState *st, const LeaderElectionConfig *c, LeaseAction action,
                            usec_t wall, LeaseRecord *ret);
/* The release record: holder "", duration 1 s, transitions kept. */
int leader_election_released(const LeaderElectionState *st, usec_t wall, LeaseRecord *ret);
/* True when a leader must stop: its last successful renewal was sent
 * renew deadline ago or more. */
bool leader_election_renew_expired(const LeaderElectionState *st, const LeaderElectionConfig *c, usec_t now);

/* ---- 3. on the loop ------------------------------------------------------ */

typedef struct LeaderElector LeaderElector;

typedef struct LeaderElectorCallbacks {
        void (*started_leading)(LeaderElector *le, void *userdata);
        /* The lease was lost (renew deadline passed, or someone else holds
         * it): stop writing now and exit non-zero.  Not called after
         * leader_elector_release(). */
        void (*stopped_leading)(LeaderElector *le, void *userdata);
        /* The observed holder changed (NULL/"" = nobody). */
        void (*new_leader)(LeaderElector *le, const char *identity, void *userdata);
        void *userdata;
} LeaderElectorCallbacks;

/* Strings in config are copied. */
int leader_elector_new(sd_event *event, KubeClient *client, const LeaderElectionConfig *config,
                       const LeaderElectorCallbacks *callbacks, LeaderElector **ret);
/* Cancels everything without releasing and without callbacks. */
LeaderElector *leader_elector_free(LeaderElector *le);
DEFINE_POINTER_CLEANUP(LeaderElector, leader_elector_free);

/* First try now, then every retry period. */
int leader_elector_start(LeaderElector *le);
bool leader_elector_is_leader(const LeaderElector *le);
const char *leader_elector_identity(const LeaderElector *le);
/* Stops trying; when leading, writes the release record (bounded by
 * timeout) and then calls done(error); when not leading, calls done(0) from
 * the loop.  No callback of LeaderElectorCallbacks runs afterwards. */
typedef void (*leader_elector_released_fn)(LeaderElector *le, int error, void *userdata);
int leader_elector_release(LeaderElector *le, usec_t timeout, leader_elector_released_fn done, void *userdata);
