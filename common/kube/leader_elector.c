/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election on the event loop (lease.h layer 3): the pure logic of
 * lease.c driven by a fixed-period timer and the Kubernetes HTTP client. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lease.h"
#include "log.h"

typedef enum Op {
        OP_NONE,
        OP_GET,
        OP_WRITE,
        OP_RELEASE,
} Op;

struct LeaderElector {
        sd_event *event;
        KubeClient *client;
        LeaderElectionConfig c;
        char *namespace, *name, *identity;
        LeaderElectorCallbacks cb;
        LeaderElectionState st;

        sd_event_source *tick, *deadline, *release_defer;
        usec_t next_tick;
        KubeRequest *req;
        Op op;
        LeaseAction write_action;
        usec_t op_sent;
        bool reread_done;         /* one immediate re-read after a 409 per try */
        bool stopped;
        char *reported_leader;

        leader_elector_released_fn release_done;
        void *release_userdata;
};

static usec_t mono_now(LeaderElector *le) {
        uint64_t t;
        if (sd_event_now(le->event, CLOCK_MONOTONIC, &t) < 0) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                t = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
        }
        return t;
}

static usec_t wall_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void cancel_request(LeaderElector *le) {
        kube_request_cancel(le->req);
        le->req = NULL;
        le->op = OP_NONE;
}

static void report_leader(LeaderElector *le) {
        const char *holder = le->st.have_observed ? strempty(le->st.observed.holder_identity) : "";

        if (streq_ptr(le->reported_leader, holder))
                return;
        if (free_and_strdup(&le->reported_leader, holder) < 0)
                return;
        if (le->cb.new_leader)
                le->cb.new_leader(le, holder, le->cb.userdata);
}

static void lose(LeaderElector *le, const char *why) {
        if (!le->st.leading)
                return;
        log_debug("Lease %s/%s: lost leadership: %s", le->namespace, le->name, why);
        le->st.leading = false;
        le->stopped = true;
        cancel_request(le);
        (void) sd_event_source_set_enabled(le->tick, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(le->deadline, SD_EVENT_OFF);
        if (le->cb.stopped_leading)
                le->cb.stopped_leading(le, le->cb.userdata);
}

static void do_get(LeaderElector *le);
static void do_write(LeaderElector *le, LeaseAction action);

static int decode_body(LeaderElector *le, const KubeResponse *resp, LeaseRecord *ret) {
        _cleanup_free_ char *err = NULL;
        int r;

        if (!resp->body)
                return -EBADMSG;
        r = lease_record_decode(resp->body, resp->body_len, ret, &err);
        if (r < 0)
                log_debug("Lease %s/%s: undecodable answer: %s", le->namespace, le->name, strempty(err));
        return r;
}

static void on_get_done(KubeRequest *req _unused_, int error, const KubeResponse *resp, void *userdata) {
        LeaderElector *le = userdata;
        LeaseRecord rec = {};
        usec_t now = mono_now(le);
        LeaseAction a;

        le->req = NULL;
        le->op = OP_NONE;
        if (error < 0) {
                log_debug_errno(error, "Lease %s/%s: GET failed: %m", le->namespace, le->name);
                return;
        }
        if (resp->http_code == 404)
                (void) leader_election_observe(&le->st, NULL, now);
        else if (resp->http_code == 200) {
                if (decode_body(le, resp, &rec) < 0)
                        return;
                (void) leader_election_observe(&le->st, &rec, now);
                lease_record_done(&rec);
        } else {
                log_debug("Lease %s/%s: GET answered %ld: %s", le->namespace, le->name, resp->http_code,
                          resp->status ? strempty(resp->status->message) : "");
                return;
        }
        report_leader(le);

        a = leader_election_decide(&le->st, &le->c, now);
        if (a == LEASE_WAIT) {
                /* Someone else holds a live lease: a leader that sees this has lost it. */
                lose(le, "another holder renewed the lease");
                return;
        }
        do_write(le, a);
}

static void on_write_done(KubeRequest *req _unused_, int error, const KubeResponse *resp, void *userdata) {
        LeaderElector *le = userdata;
        LeaseRecord rec = {};
        usec_t now = mono_now(le);
        bool was_leading = le->st.leading;

        le->req = NULL;
        le->op = OP_NONE;
        if (error < 0) {
                log_debug_errno(error, "Lease %s/%s: %s failed: %m", le->namespace, le->name,
                                lease_action_to_string(le->write_action));
                return;
        }
        if (resp->http_code == 409) {
                /* Someone wrote in between: re-read at once, once per try. */
                if (!le->reread_done) {
                        le->reread_done = true;
                        do_get(le);
                }
                return;
        }
        if (resp->http_code != 200 && resp->http_code != 201) {
                log_debug("Lease %s/%s: %s answered %ld: %s", le->namespace, le->name,
                          lease_action_to_string(le->write_action), resp->http_code,
                          resp->status ? strempty(resp->status->message) : "");
                return;
        }
        if (decode_body(le, resp, &rec) < 0)
                return;
        (void) leader_election_observe(&le->st, &rec, now);
        lease_record_done(&rec);
        le->st.leading = true;
        le->st.last_renew_sent = le->op_sent;
        (void) sd_event_source_set_time(le->deadline, le->st.last_renew_sent + le->c.renew_deadline);
        (void) sd_event_source_set_enabled(le->deadline, SD_EVENT_ONESHOT);
        report_leader(le);
        if (!was_leading && le->cb.started_leading)
                le->cb.started_leading(le, le->cb.userdata);
}

static void do_get(LeaderElector *le) {
        _cleanup_free_ char *path = lease_path(le->namespace, le->name);
        KubeRequestOptions o = {
                .method = "GET",
                .path = path,
                .max_body = LEASE_MAX_BODY,
                .timeout = le->c.retry_period,
                .on_done = on_get_done,
                .userdata = le,
        };
        int r;

        if (!path)
                return;
        r = kube_request(le->client, &o, &le->req);
        if (r < 0)
                log_debug_errno(r, "Lease %s/%s: cannot send GET: %m", le->namespace, le->name);
        else
                le->op = OP_GET;
}

static int send_record(LeaderElector *le, const LeaseRecord *rec, bool create, usec_t timeout, kube_done_fn done) {
        _cleanup_free_ char *path = lease_path(le->namespace, create ? NULL : le->name), *body = NULL;
        KubeRequestOptions o = {
                .method = create ? "POST" : "PUT",
                .path = path,
                .max_body = LEASE_MAX_BODY,
                .timeout = timeout,
                .on_done = done,
                .userdata = le,
        };
        int r;

        if (!path)
                return -ENOMEM;
        r = lease_record_encode(rec, &body);
        if (r < 0)
                return r;
        o.body = body;
        o.body_len = strlen(body);
        le->op_sent = mono_now(le);
        return kube_request(le->client, &o, &le->req);
}

static void do_write(LeaderElector *le, LeaseAction action) {
        LeaseRecord want = {};
        int r;

        r = leader_election_desired(&le->st, &le->c, action, wall_now(), &want);
        if (r < 0)
                return;
        le->write_action = action;
        r = send_record(le, &want, action == LEASE_CREATE, le->c.retry_period, on_write_done);
        lease_record_done(&want);
        if (r < 0)
                log_debug_errno(r, "Lease %s/%s: cannot send %s: %m", le->namespace, le->name,
                                lease_action_to_string(action));
        else
                le->op = OP_WRITE;
}

static void attempt(LeaderElector *le) {
        le->reread_done = false;
        /* A leader renews from what it wrote last; a 409 sends it to GET. */
        if (le->st.leading && le->st.have_observed && le->st.observed.resource_version)
                do_write(le, LEASE_RENEW);
        else
                do_get(le);
}

static int on_tick(sd_event_source *s, uint64_t usec _unused_, void *userdata) {
        LeaderElector *le = userdata;
        usec_t now = mono_now(le);

        /* Exactly every retry period, counted from the start (no drift, no jitter). */
        do
                le->next_tick += le->c.retry_period;
        while (le->next_tick <= now);
        (void) sd_event_source_set_time(s, le->next_tick);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);

        if (le->stopped)
                return 0;
        if (leader_election_renew_expired(&le->st, &le->c, now)) {
                lose(le, "renew deadline passed");
                return 0;
        }
        /* An attempt still in flight is abandoned: at most one at a time. */
        cancel_request(le);
        attempt(le);
        return 0;
}

static int on_deadline(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        LeaderElector *le = userdata;
        if (leader_election_renew_expired(&le->st, &le->c, mono_now(le)))
                lose(le, "renew deadline passed");
        return 0;
}

int leader_elector_new(sd_event *event, KubeClient *client, const LeaderElectionConfig *config,
                       const LeaderElectorCallbacks *callbacks, LeaderElector **ret) {
        _cleanup_(leader_elector_freep) LeaderElector *le = NULL;
        int r;

        if (!event || !client || !config || isempty(config->namespace) || isempty(config->name) ||
            isempty(config->identity) || config->retry_period == 0 || config->renew_deadline == 0 ||
            config->lease_duration <= config->renew_deadline)
                return -EINVAL;
        le = new0(LeaderElector, 1);
        if (!le)
                return -ENOMEM;
        le->event = sd_event_ref(event);
        le->client = client;
        le->c = *config;
        le->namespace = strdup(config->namespace);
        le->name = strdup(config->name);
        le->identity = strdup(config->identity);
        if (!le->namespace || !le->name || !le->identity)
                return -ENOMEM;
        le->c.namespace = le->namespace;
        le->c.name = le->name;
        le->c.identity = le->identity;
        if (callbacks)
                le->cb = *callbacks;

        r = sd_event_add_time(event, &le->tick, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, on_tick, le);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(le->tick, SD_EVENT_OFF);
        (void) sd_event_source_set_description(le->tick, "leader-election-retry");
        r = sd_event_add_time(event, &le->deadline, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, on_deadline, le);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(le->deadline, SD_EVENT_OFF);
        (void) sd_event_source_set_description(le->deadline, "leader-election-renew-deadline");
        *ret = TAKE_PTR(le);
        return 0;
}

LeaderElector *leader_elector_free(LeaderElector *le) {
        if (!le)
                return NULL;
        kube_request_cancel(le->req);
        sd_event_source_disable_unref(le->tick);
        sd_event_source_disable_unref(le->deadline);
        sd_event_source_disable_unref(le->release_defer);
        leader_election_state_done(&le->st);
        sd_event_unref(le->event);
        free(le->namespace);
        free(le->name);
        free(le->identity);
        free(le->reported_leader);
        free(le);
        return NULL;
}

int leader_elector_start(LeaderElector *le) {
        le->next_tick = mono_now(le);
        (void) sd_event_source_set_time(le->tick, le->next_tick);
        return sd_event_source_set_enabled(le->tick, SD_EVENT_ON);
}

bool leader_elector_is_leader(const LeaderElector *le) {
        return le->st.leading;
}

const char *leader_elector_identity(const LeaderElector *le) {
        return le->identity;
}

static void release_finish(LeaderElector *le, int error) {
        leader_elector_released_fn done = le->release_done;
        le->release_done = NULL;
        if (done)
                done(le, error, le->release_userdata);
}

static void on_release_done(KubeRequest *req _unused_, int error, const KubeResponse *resp, void *userdata) {
        LeaderElector *le = userdata;

        le->req = NULL;
        le->op = OP_NONE;
        if (error >= 0 && resp->http_code != 200)
                error = resp->http_code == 409 ? -ESTALE : -EIO;
        release_finish(le, error);
}

static int on_release_defer(sd_event_source *s _unused_, void *userdata) {
        release_finish(userdata, 0);
        return 0;
}

int leader_elector_release(LeaderElector *le, usec_t timeout, leader_elector_released_fn done, void *userdata) {
        LeaseRecord rel = {};
        bool was_leading = le->st.leading;
        int r;

        le->stopped = true;
        le->st.leading = false; /* stop counting as leader before anything else */
        cancel_request(le);
        (void) sd_event_source_set_enabled(le->tick, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(le->deadline, SD_EVENT_OFF);
        le->release_done = done;
        le->release_userdata = userdata;

        if (was_leading && leader_election_released(&le->st, wall_now(), &rel) >= 0) {
                r = send_record(le, &rel, false, timeout ? timeout : USEC_PER_SEC, on_release_done);
                lease_record_done(&rel);
                if (r >= 0) {
                        le->op = OP_RELEASE;
                        return 0;
                }
                log_debug_errno(r, "Lease %s/%s: cannot send the release: %m", le->namespace, le->name);
        }
        /* Nothing to release: answer from the loop, never re-entrantly. */
        sd_event_source_disable_unref(le->release_defer);
        r = sd_event_add_defer(le->event, &le->release_defer, on_release_defer, le);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(le->release_defer, SD_EVENT_ONESHOT);
}
