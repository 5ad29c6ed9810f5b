/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "speaker_lease.h"

#define LEAVE_TIMEOUT USEC_PER_SEC
/* Expiry and fencing decide failover times measured in milliseconds. */
#define TIMER_ACCURACY USEC_PER_MSEC

typedef enum WriteOp {
        WRITE_CREATE,
        WRITE_RENEW,
        WRITE_FETCH, /* the GET after a 409 */
        WRITE_DELETE,
} WriteOp;

/* One request on the wire.  An abandoned one (next tick, leave timeout,
 * free) is cancelled in the source and freed: its answer never comes. */
typedef struct LeaseWrite {
        SpeakerLease *owner;
        WriteOp op;
        usec_t sent_at;    /* monotonic */
        usec_t renew_time; /* wall clock written into the body */
        char *resource_version;
} LeaseWrite;

struct SpeakerLease {
        Source *src;
        sd_event *event;
        char *namespace, *node, *node_uid, *name;
        usec_t duration, renew_period;
        SpeakerLeaseCallbacks cb;

        Membership *membership;
        Cache *leases;
        StrPool *pool; /* for the Lease bodies we encode */
        sd_event_source *renew_timer, *deadline_timer, *leave_timer;

        /* our lease as the server stored it last */
        char *uid, *resource_version;
        usec_t acquire_time;

        char *announcing; /* the annotation value to write */
        LeaseWrite *inflight;
        bool extra_pending;  /* announcing changed while a write was in flight */
        bool fenced, stale_reported, leaving;
        bool relisting; /* a fresh Lease cache is filling (speaker_lease_relist) */

        speaker_lease_left_fn left;
        void *left_userdata;

        MetricFamily *m_renewals, *m_renew_seconds, *m_fenced, *m_fenced_total, *m_live_peers,
                *m_peer_expirations;
};

static usec_t now_mono(SpeakerLease *sl) {
        usec_t t = 0;
        if (sd_event_now(sl->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

static LeaseWrite *lease_write_free(LeaseWrite *w) {
        if (!w)
                return NULL;
        free(w->resource_version);
        return mfree(w);
}
DEFINE_POINTER_CLEANUP(LeaseWrite, lease_write_free);

/* ---- metrics ------------------------------------------------------------------ */

static int metrics_init(SpeakerLease *sl, MetricsRegistry *r) {
        double buckets[12];

        if (!r)
                return 0;
        metrics_exponential_buckets(0.001, 2, ELEMENTSOF(buckets), buckets);
        RET_NERRNO(metrics_counter(r, "berth_speaker_lease_renewals_total", "Lease renewal attempts by result.",
                                   (const char *const[]) { "result", NULL }, &sl->m_renewals));
        RET_NERRNO(metrics_histogram(r, "berth_speaker_lease_renew_seconds", "Lease renewal request latency.", NULL,
                                     buckets, ELEMENTSOF(buckets), &sl->m_renew_seconds));
        RET_NERRNO(metrics_gauge(r, "berth_speaker_fenced", "1 while this speaker is fenced.", NULL,
                                 &sl->m_fenced));
        RET_NERRNO(metrics_counter(r, "berth_speaker_fenced_total", "Transitions into the fenced state.", NULL,
                                   &sl->m_fenced_total));
        RET_NERRNO(metrics_gauge(r, "berth_speaker_live_peers", "Live speaker leases, this node's included.",
                                 NULL, &sl->m_live_peers));
        RET_NERRNO(metrics_counter(r, "berth_speaker_peer_expirations_total", "Peer leases seen to expire.", NULL,
                                   &sl->m_peer_expirations));
        (void) metric_set(sl->m_fenced, NULL, 0);
        (void) metric_add(sl->m_fenced_total, NULL, 0);
        (void) metric_set(sl->m_live_peers, NULL, 0);
        (void) metric_add(sl->m_peer_expirations, NULL, 0);
        return 0;
}

static void count_renewal(SpeakerLease *sl, const char *result) {
        (void) metric_inc(sl->m_renewals, METRIC_LABELS(result));
}

/* ---- the Lease body ---------------------------------------------------------- */

static usec_t ceil_seconds(usec_t d) {
        usec_t s = (d + USEC_PER_SEC - 1) / USEC_PER_SEC;
        return s < 1 ? 1 : s;
}

/* Encodes our Lease with kube_kind_lease's encoder. */
static int lease_body(SpeakerLease *sl, const char *resource_version, usec_t renew_time, char **ret) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        _cleanup_json_gen_ yajl_gen g = NULL;
        char ms[32];
        Lease *l;

        l = kube_object_alloc(&kube_kind_lease, sizeof(Lease), sl->pool);
        if (!l)
                return -ENOMEM;
        o = &l->object;
        snprintf(ms, sizeof(ms), "%llu", (unsigned long long) (sl->duration / USEC_PER_MSEC));
        o->meta.name = strdup(sl->name);
        o->meta.uid = resource_version && sl->uid ? strdup(sl->uid) : NULL;
        o->meta.resource_version = resource_version ? strdup(resource_version) : NULL;
        l->holder_identity = strdup(sl->node);
        l->owner_references.items = new0(OwnerReference, 1);
        if (!o->meta.name || (resource_version && sl->uid && !o->meta.uid) ||
            (resource_version && !o->meta.resource_version) || !l->holder_identity || !l->owner_references.items)
                return -ENOMEM;
        l->owner_references.n = 1;
        OwnerReference *ref = &l->owner_references.items[0];
        if (!(ref->name = strdup(sl->node)) || !(ref->uid = strdup(sl->node_uid)))
                return -ENOMEM;
        RET_NERRNO(intern_replace(sl->pool, &o->meta.namespace, sl->namespace));
        RET_NERRNO(intern_replace(sl->pool, &ref->api_version, "v1"));
        RET_NERRNO(intern_replace(sl->pool, &ref->kind, "Node"));
        RET_NERRNO(strmap_set(&o->meta.labels, sl->pool, "app.kubernetes.io/name", "berth-speaker"));
        RET_NERRNO(strmap_set(&o->meta.annotations, sl->pool, LEASE_ANNOTATION_DURATION_MS, ms));
        RET_NERRNO(strmap_set(&o->meta.annotations, sl->pool, LEASE_ANNOTATION_ANNOUNCING, sl->announcing));
        l->lease_duration_seconds = (int32_t) ceil_seconds(sl->duration);
        l->acquire_time = sl->acquire_time;
        l->renew_time = renew_time;

        g = json_gen_new(false);
        if (!g)
                return -ENOMEM;
        RET_NERRNO(kube_kind_lease.encode(o, g));
        return json_gen_take(g, ret, NULL);
}

/* ---- timers --------------------------------------------------------------------- */

static void live_peers_gauge(SpeakerLease *sl) {
        (void) metric_set(sl->m_live_peers, NULL, (double) membership_live_count(sl->membership));
}

static void reschedule_deadline(SpeakerLease *sl) {
        usec_t next = membership_next_deadline(sl->membership, now_mono(sl));

        if (!sl->deadline_timer)
                return;
        if (next == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(sl->deadline_timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(sl->deadline_timer, next);
        (void) sd_event_source_set_enabled(sl->deadline_timer, SD_EVENT_ONESHOT);
}

static void set_fenced(SpeakerLease *sl, bool fenced) {
        if (sl->fenced == fenced)
                return;
        sl->fenced = fenced;
        (void) metric_set(sl->m_fenced, NULL, fenced);
        if (fenced) {
                (void) metric_inc(sl->m_fenced_total, NULL);
                log_debug("Lease %s/%s: no successful renewal for %llu ms: fenced", sl->namespace, sl->name,
                          (unsigned long long) (sl->duration / USEC_PER_MSEC));
        }
        if (sl->cb.fenced_changed)
                sl->cb.fenced_changed(sl, fenced, sl->cb.userdata);
}

/* Expiry, fencing and staleness, all judged at one instant. */
static void evaluate(SpeakerLease *sl) {
        usec_t now = now_mono(sl);
        unsigned expired;

        expired = membership_tick(sl->membership, now);
        if (expired > 0)
                (void) metric_add(sl->m_peer_expirations, NULL, expired);
        live_peers_gauge(sl);
        if (membership_has_renewed(sl->membership) && !sl->leaving)
                set_fenced(sl, membership_fenced(sl->membership, now));
        if (!sl->stale_reported && membership_watch_stale(sl->membership, now)) {
                sl->stale_reported = true;
                log_debug("Lease %s/%s: an own renewal did not show up on the watch within %llu ms: "
                          "watch stale, peer expiry suspended",
                          sl->namespace, sl->name, (unsigned long long) (sl->duration / USEC_PER_MSEC));
                if (sl->cb.watch_stale)
                        sl->cb.watch_stale(sl, sl->cb.userdata);
        }
        if (expired > 0 && sl->cb.peers_changed)
                sl->cb.peers_changed(sl, sl->cb.userdata);
        reschedule_deadline(sl);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        evaluate(userdata);
        return 0;
}

/* ---- renewals ----------------------------------------------------------------- */

static void send_write(SpeakerLease *sl);
static void fetch(SpeakerLease *sl);
static void check_relisted(SpeakerLease *sl);
static void close_leases(SpeakerLease *sl);

static void abandon_inflight(SpeakerLease *sl, bool count) {
        LeaseWrite *w = TAKE_PTR(sl->inflight);

        if (!w)
                return;
        if (count && (w->op == WRITE_CREATE || w->op == WRITE_RENEW))
                count_renewal(sl, "error");
        /* The source keeps a pointer to w until it answers: take it back. */
        source_cancel(sl->src, w);
        lease_write_free(w);
}

/* The own lease as the watch shows it, or NULL. */
static const Lease *own_lease_cached(SpeakerLease *sl) {
        KubeObject *o = sl->leases ? cache_get(sl->leases, sl->namespace, sl->name) : NULL;
        return o ? LEASE(o) : NULL;
}

/* Adopts a copy of our lease (the watch's at a take-over, the GET's after
 * a 409).  Returns false when it would not change the version we hold. */
static bool adopt(SpeakerLease *sl, const Lease *l) {
        if (!l || !l->object.meta.resource_version ||
            streq_ptr(l->object.meta.resource_version, sl->resource_version))
                return false;
        if (!streq_ptr(l->holder_identity, sl->node))
                log_warning("Lease %s/%s is held by \"%s\"; taking it over for node \"%s\"", sl->namespace,
                            sl->name, strempty(l->holder_identity), sl->node);
        if (free_and_strdup(&sl->resource_version, l->object.meta.resource_version) < 0 ||
            free_and_strdup(&sl->uid, l->object.meta.uid) < 0)
                return false;
        if (sl->acquire_time == 0 || !streq_ptr(l->holder_identity, sl->node))
                sl->acquire_time = streq_ptr(l->holder_identity, sl->node) && l->acquire_time ? l->acquire_time
                                                                                               : source_now(sl->src);
        return true;
}

static void renewal_succeeded(SpeakerLease *sl, const LeaseWrite *w, KubeObject *stored, usec_t now) {
        bool first = !membership_has_renewed(sl->membership);

        count_renewal(sl, "ok");
        if (stored) {
                (void) free_and_strdup(&sl->resource_version, stored->meta.resource_version);
                (void) free_and_strdup(&sl->uid, stored->meta.uid);
        }
        membership_renewal_ok(sl->membership, w->sent_at, stored ? stored->meta.resource_version : NULL,
                              w->renew_time, now);
        if (first) {
                if (sl->cb.first_renewal)
                        sl->cb.first_renewal(sl, sl->cb.userdata);
        } else
                set_fenced(sl, false);
        reschedule_deadline(sl);
}

static void fetched(SpeakerLease *sl, int error, const KubeStatus *status, KubeObject *stored) {
        if (error == -ENOENT) {
                /* deleted since: create it anew */
                sl->resource_version = mfree(sl->resource_version);
                send_write(sl);
                return;
        }
        if (error < 0 || !stored) {
                log_debug("Lease %s/%s: fetch after a conflict failed: %s", sl->namespace, sl->name,
                          strempty(status ? status->message : NULL));
                return; /* the next tick retries */
        }
        /* The same version again would only conflict again: the tick retries. */
        if (adopt(sl, LEASE(stored)))
                send_write(sl);
}

static void on_write_done(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        _cleanup_(lease_write_freep) LeaseWrite *w = userdata;
        SpeakerLease *sl = w->owner;
        usec_t now;

        sl->inflight = NULL; /* w: an abandoned request is never answered */
        now = now_mono(sl);
        if (w->op == WRITE_DELETE) {
                speaker_lease_left_fn done = TAKE_PTR(sl->left);
                sl->leave_timer = sd_event_source_disable_unref(sl->leave_timer);
                log_debug("Lease %s/%s: delete: %s", sl->namespace, sl->name,
                          error < 0 ? strempty(status ? status->message : NULL) : "ok");
                if (done)
                        done(sl, error, sl->left_userdata);
                return;
        }
        if (w->op == WRITE_FETCH) {
                fetched(sl, error, status, stored);
                return;
        }
        (void) metric_observe(sl->m_renew_seconds, NULL, (double) (now - w->sent_at) / USEC_PER_SEC);

        if (error >= 0)
                renewal_succeeded(sl, w, stored, now);
        else if (error == -ESTALE || error == -EEXIST) {
                /* 409: fetch the lease (a consistent read: the watch may lag
                 * behind) and retry at once with its resourceVersion. */
                count_renewal(sl, "conflict");
                fetch(sl);
                return;
        } else {
                count_renewal(sl, "error");
                log_debug("Lease %s/%s: renewal failed: %s", sl->namespace, sl->name,
                          strempty(status ? status->message : NULL));
                if (error == -ENOENT)
                        /* deleted behind our back: create it anew */
                        sl->resource_version = mfree(sl->resource_version);
        }
        if (sl->extra_pending)
                send_write(sl);
}

static void send_write(SpeakerLease *sl) {
        _cleanup_(lease_write_freep) LeaseWrite *w = NULL;
        _cleanup_free_ char *body = NULL;
        int r;

        if (sl->leaving)
                return;
        abandon_inflight(sl, true);
        sl->extra_pending = false;
        if (!sl->resource_version)
                (void) adopt(sl, own_lease_cached(sl));

        w = new0(LeaseWrite, 1);
        if (!w)
                goto fail;
        *w = (LeaseWrite) {
                .owner = sl,
                .op = sl->resource_version ? WRITE_RENEW : WRITE_CREATE,
                .sent_at = now_mono(sl),
                .renew_time = source_now(sl->src),
        };
        if (w->op == WRITE_CREATE)
                sl->acquire_time = w->renew_time;
        if (sl->resource_version && !(w->resource_version = strdup(sl->resource_version)))
                goto fail;
        r = lease_body(sl, w->resource_version, w->renew_time, &body);
        if (r < 0)
                goto fail;

        /* Set before the call: a source without a loop answers inside it. */
        sl->inflight = w;
        if (w->op == WRITE_CREATE)
                r = source_create(sl->src, &kube_kind_lease, sl->namespace, body, on_write_done, w);
        else
                r = source_replace(sl->src, &kube_kind_lease, sl->namespace, sl->name, body, on_write_done, w);
        if (r < 0) {
                if (sl->inflight == w)
                        sl->inflight = NULL;
                else
                        TAKE_PTR(w); /* answered and freed already */
                log_debug_errno(r, "Lease %s/%s: cannot send the renewal: %m", sl->namespace, sl->name);
                count_renewal(sl, "error");
                return;
        }
        TAKE_PTR(w);
        return;
fail:
        log_debug("Lease %s/%s: out of memory building the renewal", sl->namespace, sl->name);
        count_renewal(sl, "error");
}

static void fetch(SpeakerLease *sl) {
        LeaseWrite *w;
        int r;

        w = new0(LeaseWrite, 1);
        if (!w) {
                log_debug("Lease %s/%s: out of memory fetching it", sl->namespace, sl->name);
                return;
        }
        *w = (LeaseWrite) { .owner = sl, .op = WRITE_FETCH, .sent_at = now_mono(sl) };
        /* Set before the call: a source without a loop answers inside it. */
        sl->inflight = w;
        r = source_get(sl->src, &kube_kind_lease, sl->namespace, sl->name, on_write_done, w);
        if (r < 0) {
                if (sl->inflight == w) {
                        sl->inflight = NULL;
                        free(w);
                }
                log_debug_errno(r, "Lease %s/%s: cannot fetch it: %m", sl->namespace, sl->name);
        }
}

static int on_renew_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        SpeakerLease *sl = userdata;

        (void) sd_event_source_set_time(s, usec + sl->renew_period);
        /* the source has no "synced" event: a re-list is checked each tick */
        check_relisted(sl);
        send_write(sl);
        return 0;
}

/* ---- the Lease watch ---------------------------------------------------------- */

static void observed(SpeakerLease *sl, KubeObject *o) {
        const Lease *l = LEASE(o);
        int r;

        if (!skip_prefix(o->meta.name, SPEAKER_LEASE_PREFIX))
                return;
        r = membership_observe(sl->membership, l, now_mono(sl));
        if (r < 0)
                log_debug_errno(r, "Lease %s/%s: cannot record it: %m", sl->namespace, o->meta.name);
        live_peers_gauge(sl);
        if (r > 0 && sl->cb.peers_changed)
                sl->cb.peers_changed(sl, sl->cb.userdata);
        reschedule_deadline(sl);
        check_relisted(sl);
}

static void on_lease_add(KubeObject *o, void *userdata) {
        observed(userdata, o);
}

static void on_lease_update(KubeObject *old, KubeObject *o, void *userdata) {
        (void) old;
        observed(userdata, o);
}

static int observe_existing(KubeObject *o, void *userdata) {
        observed(userdata, o);
        return 0;
}

static void on_lease_delete(KubeObject *o, void *userdata) {
        SpeakerLease *sl = userdata;
        int r;

        if (!skip_prefix(o->meta.name, SPEAKER_LEASE_PREFIX))
                return;
        r = membership_forget(sl->membership, o->meta.name);
        if (streq(o->meta.name, sl->name) && !sl->leaving)
                /* the next renewal creates it again */
                sl->resource_version = mfree(sl->resource_version);
        live_peers_gauge(sl);
        if (r > 0 && sl->cb.peers_changed)
                sl->cb.peers_changed(sl, sl->cb.userdata);
        reschedule_deadline(sl);
}

/* ---- life cycle ------------------------------------------------------------------ */

int speaker_lease_new(Source *src, const SpeakerLeaseConfig *c, const SpeakerLeaseCallbacks *cb,
                      MetricsRegistry *metrics, SpeakerLease **ret) {
        _cleanup_(speaker_lease_freep) SpeakerLease *sl = NULL;
        int r;

        if (!src || !src->event || !c || isempty(c->namespace) || isempty(c->node) || isempty(c->node_uid) ||
            c->lease_duration == 0 || c->renew_period == 0 || c->renew_period >= c->lease_duration || !ret)
                return -EINVAL;
        sl = new0(SpeakerLease, 1);
        if (!sl)
                return -ENOMEM;
        sl->src = src;
        sl->event = src->event;
        sl->duration = c->lease_duration;
        sl->renew_period = c->renew_period;
        if (cb)
                sl->cb = *cb;
        if (!(sl->namespace = strdup(c->namespace)) || !(sl->node = strdup(c->node)) ||
            !(sl->node_uid = strdup(c->node_uid)) || asprintf(&sl->name, SPEAKER_LEASE_PREFIX "%s", c->node) < 0 ||
            !(sl->announcing = strdup("")) || !(sl->pool = strpool_new())) {
                sl->name = NULL;
                return -ENOMEM;
        }
        r = membership_new(c->node, c->lease_duration, &sl->membership);
        if (r < 0)
                return r;
        r = metrics_init(sl, metrics);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(sl);
        return 0;
}

SpeakerLease *speaker_lease_free(SpeakerLease *sl) {
        if (!sl)
                return NULL;
        abandon_inflight(sl, false);
        close_leases(sl);
        sd_event_source_disable_unref(sl->renew_timer);
        sd_event_source_disable_unref(sl->deadline_timer);
        sd_event_source_disable_unref(sl->leave_timer);
        membership_free(sl->membership);
        strpool_free(sl->pool);
        free(sl->namespace);
        free(sl->node);
        free(sl->node_uid);
        free(sl->name);
        free(sl->uid);
        free(sl->resource_version);
        free(sl->announcing);
        return mfree(sl);
}

/* Asks the source for the Lease cache and follows it. */
static int open_leases(SpeakerLease *sl) {
        SourceFilter f = { .namespace = sl->namespace };
        CacheHandlers h = {
                .on_add = on_lease_add,
                .on_update = on_lease_update,
                .on_delete = on_lease_delete,
                .userdata = sl,
        };
        int r;

        r = source_cache(sl->src, &kube_kind_lease, &f, &sl->leases);
        if (r < 0)
                return r;
        r = cache_add_handlers(sl->leases, &h);
        if (r < 0)
                return r;
        /* leases the cache already holds (a shared or offline cache) count as sighted now */
        return cache_foreach(sl->leases, sl->namespace, observe_existing, sl);
}

static void close_leases(SpeakerLease *sl) {
        if (!sl->leases)
                return;
        cache_remove_handlers(sl->leases, sl);
        source_cache_release(sl->src, TAKE_PTR(sl->leases));
}

/* The fresh cache of a re-list holds the complete list: peer expiry resumes. */
static void check_relisted(SpeakerLease *sl) {
        if (sl->relisting && sl->leases && cache_synced(sl->leases)) {
                sl->relisting = false;
                speaker_lease_relisted(sl);
        }
}

int speaker_lease_relist(SpeakerLease *sl) {
        int r;

        if (!sl->leases)
                return -EINVAL;
        /* We hold the only use of the cache: releasing it stops the watch,
         * asking again lists anew. */
        close_leases(sl);
        sl->relisting = true;
        r = open_leases(sl);
        if (r < 0)
                return r;
        check_relisted(sl);
        return 0;
}

int speaker_lease_start(SpeakerLease *sl) {
        int r;

        if (sl->renew_timer)
                return -EBUSY;
        r = sd_event_add_time(sl->event, &sl->deadline_timer, CLOCK_MONOTONIC, USEC_INFINITY, TIMER_ACCURACY,
                              on_deadline, sl);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(sl->deadline_timer, "speaker-lease-deadline");
        r = open_leases(sl);
        if (r < 0)
                return r;
        r = sd_event_add_time(sl->event, &sl->renew_timer, CLOCK_MONOTONIC, now_mono(sl) + sl->renew_period,
                              TIMER_ACCURACY, on_renew_tick, sl);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(sl->renew_timer, "speaker-lease-renew");
        (void) sd_event_source_set_enabled(sl->renew_timer, SD_EVENT_ON);
        send_write(sl);
        return 0;
}

int speaker_lease_set_announcing(SpeakerLease *sl, const IpAddr *ips, size_t n) {
        _cleanup_free_ char *value = NULL;
        int r;

        r = membership_format_announcing(ips, n, &value);
        if (r < 0)
                return r;
        if (streq(value, sl->announcing))
                return 0;
        free(sl->announcing);
        sl->announcing = TAKE_PTR(value);
        /* Only on change: peers see the new claims within one round trip. */
        if (!sl->renew_timer || sl->leaving || !membership_has_renewed(sl->membership))
                return 0; /* the first write carries it */
        if (sl->inflight)
                sl->extra_pending = true;
        else
                send_write(sl);
        return 0;
}

void speaker_lease_relisted(SpeakerLease *sl) {
        membership_relisted(sl->membership);
        sl->stale_reported = false;
        evaluate(sl);
}

static int on_leave_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        SpeakerLease *sl = userdata;
        speaker_lease_left_fn done = TAKE_PTR(sl->left);

        (void) s;
        (void) usec;
        log_debug("Lease %s/%s: delete not answered within 1 s", sl->namespace, sl->name);
        abandon_inflight(sl, false);
        sl->leave_timer = sd_event_source_disable_unref(sl->leave_timer);
        if (done)
                done(sl, -ETIMEDOUT, sl->left_userdata);
        return 0;
}

int speaker_lease_leave(SpeakerLease *sl, speaker_lease_left_fn done, void *userdata) {
        LeaseWrite *w;
        int r;

        if (sl->leaving)
                return -EALREADY;
        sl->leaving = true;
        sl->left = done;
        sl->left_userdata = userdata;
        abandon_inflight(sl, true);
        sl->renew_timer = sd_event_source_disable_unref(sl->renew_timer);
        sl->deadline_timer = sd_event_source_disable_unref(sl->deadline_timer);

        if (!sl->uid) {
                /* nothing of ours exists (never created) */
                sl->left = NULL;
                if (done)
                        done(sl, 0, userdata);
                return 0;
        }
        w = new0(LeaseWrite, 1);
        if (!w)
                return -ENOMEM;
        *w = (LeaseWrite) { .owner = sl, .op = WRITE_DELETE, .sent_at = now_mono(sl) };
        r = sd_event_add_time_relative(sl->event, &sl->leave_timer, CLOCK_MONOTONIC, LEAVE_TIMEOUT,
                                       TIMER_ACCURACY, on_leave_timeout, sl);
        if (r < 0) {
                free(w);
                return r;
        }
        sl->inflight = w;
        /* The uid precondition: only the lease we wrote goes, never one a
         * successor created under the same name. */
        r = source_delete_uid(sl->src, &kube_kind_lease, sl->namespace, sl->name, sl->uid, on_write_done, w);
        if (r < 0) {
                if (sl->inflight == w) {
                        sl->inflight = NULL;
                        free(w);
                }
                sl->leave_timer = sd_event_source_disable_unref(sl->leave_timer);
                sl->left = NULL;
                return r;
        }
        return 0;
}

bool speaker_lease_fenced(const SpeakerLease *sl) {
        return sl->fenced;
}

bool speaker_lease_synced(const SpeakerLease *sl) {
        return sl->leases && cache_synced(sl->leases);
}

const Membership *speaker_lease_membership(const SpeakerLease *sl) {
        return sl->membership;
}
