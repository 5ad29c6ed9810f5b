/* SPDX-License-Identifier: Apache-2.0 */
/* Speaker membership (speaker.md §3, §12, §13): peer liveness judged by
 * local observation only, durations from the annotation or the seconds
 * field, ignored and deleted leases, the fencing boundary, the watch
 * freshness guard, offline liveness; and the own Lease as written through
 * the offline source (fields, annotations, ownerReferences, the extra
 * renewal on an announcing change only, the graceful leave). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"
#include "source_offline.h"
#include "speaker_lease.h"

#define S(x) ((usec_t) ((x) * (double) USEC_PER_SEC + 0.5))
/* 2026-01-01T00:00:00Z */
#define NOW (UINT64_C(1767225600) * USEC_PER_SEC)

/* ---- Lease objects ------------------------------------------------------------ */

static StrPool *pool;

/* A decoded Lease: name, holder, renewTime (RFC 3339), leaseDurationSeconds
 * (0 = absent), annotations (NULL = absent), resourceVersion. */
static Lease *lease(const char *name, const char *holder, const char *renew, int seconds, const char *duration_ms,
                    const char *announcing, const char *rv) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *text = NULL, *ann = NULL, *spec_secs = NULL;
        KubeDecodeContext ctx = { .pool = pool };
        KubeObject *o = NULL;
        char *err = NULL;

        assert_true(asprintf(&ann, "{%s%s%s%s%s%s%s}", duration_ms ? "\"" LEASE_ANNOTATION_DURATION_MS "\":\"" : "",
                             duration_ms ?: "", duration_ms ? "\"" : "", duration_ms && announcing ? "," : "",
                             announcing ? "\"" LEASE_ANNOTATION_ANNOUNCING "\":\"" : "", announcing ?: "",
                             announcing ? "\"" : "") >= 0);
        assert_true(asprintf(&spec_secs, seconds ? ",\"leaseDurationSeconds\":%d" : "%.0d", seconds) >= 0);
        assert_true(asprintf(&text,
                             "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                             "\"metadata\":{\"name\":\"%s\",\"namespace\":\"berth-system\",\"resourceVersion\":\"%s\","
                             "\"annotations\":%s},"
                             "\"spec\":{\"holderIdentity\":\"%s\",\"renewTime\":\"%s\"%s}}",
                             name, rv ?: "1", ann, holder, renew, spec_secs) >= 0);
        assert_int_equal(json_parse(text, strlen(text), NULL, &doc, &err), 0);
        assert_int_equal(kube_object_decode(&kube_kind_lease, json_doc_root(doc), &ctx, &o, &err), 0);
        return (Lease *) o;
}

static int observe(Membership *m, Lease *l, usec_t now) {
        int r = membership_observe(m, l, now);
        kube_object_unref(&l->object);
        return r;
}

static Membership *new_membership(const char *self, usec_t duration) {
        Membership *m = NULL;
        assert_int_equal(membership_new(self, duration, &m), 0);
        return m;
}

static int setup(void **state) {
        (void) state;
        pool = strpool_new();
        return pool ? 0 : -1;
}

static int teardown(void **state) {
        (void) state;
        pool = strpool_free(pool);
        return 0;
}

/* ---- pure membership -------------------------------------------------------- */

/* renewTime years in the past but changing keeps a peer live: only the
 * local time of the change counts; an unchanged renewTime expires after
 * exactly its duration. */
static void test_liveness_by_local_observation(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        assert_int_equal(observe(m, lease("berth-speaker-b", "b", "2001-01-01T00:00:00.000000Z", 3, NULL, NULL, "1"),
                                 S(100)), 1);
        assert_true(membership_is_live(m, "b"));
        assert_int_equal(membership_next_deadline(m, S(100)), S(103));

        assert_int_equal(observe(m, lease("berth-speaker-b", "b", "2001-01-01T00:00:01.000000Z", 3, NULL, NULL, "2"),
                                 S(102.5)), 0);
        assert_int_equal(membership_tick(m, S(105)), 0);
        assert_true(membership_is_live(m, "b"));
        /* the same renewTime again (a resync) does not restart the clock */
        assert_int_equal(observe(m, lease("berth-speaker-b", "b", "2001-01-01T00:00:01.000000Z", 3, NULL, NULL, "2"),
                                 S(105.4)), 0);
        assert_int_equal(membership_next_deadline(m, S(105.4)), S(105.5));
        assert_int_equal(membership_tick(m, S(105.499999)), 0);
        assert_int_equal(membership_tick(m, S(105.5)), 1);
        assert_false(membership_is_live(m, "b"));
        assert_int_equal(membership_live_count(m), 0);
        assert_int_equal(membership_next_deadline(m, S(105.5)), USEC_INFINITY);
        /* a renewal revives it */
        assert_int_equal(observe(m, lease("berth-speaker-b", "b", "2001-01-01T00:00:02.000000Z", 3, NULL, NULL, "3"),
                                 S(110)), 1);
        assert_true(membership_is_live(m, "b"));
}

static void test_duration_annotation_or_seconds(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 5, "1500", NULL, "1"), S(10));
        observe(m, lease("berth-speaker-b", "b", "2026-01-01T00:00:00Z", 5, NULL, NULL, "1"), S(10));
        observe(m, lease("berth-speaker-c", "c", "2026-01-01T00:00:00Z", 2, "1.5s", NULL, "1"), S(10));
        assert_int_equal(membership_find(m, "a")->duration, S(1.5));
        assert_int_equal(membership_find(m, "b")->duration, S(5));
        /* not an integer of milliseconds: the seconds field */
        assert_int_equal(membership_find(m, "c")->duration, S(2));
        assert_int_equal(membership_tick(m, S(11.499)), 0);
        assert_int_equal(membership_tick(m, S(11.5)), 1);
        assert_false(membership_is_live(m, "a"));
        assert_int_equal(membership_tick(m, S(12)), 1);
        assert_false(membership_is_live(m, "c"));
        assert_true(membership_is_live(m, "b"));
        assert_int_equal(membership_live_count(m), 1);
}

static void test_sub_second_duration(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(0.3));
        (void) state;

        observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 1, "250", NULL, "1"), S(1));
        assert_int_equal(membership_next_deadline(m, S(1)), S(1.25));
        assert_int_equal(membership_tick(m, S(1.249)), 0);
        assert_int_equal(membership_tick(m, S(1.25)), 1);
}

static void test_holder_mismatch_ignored(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        assert_int_equal(observe(m, lease("berth-speaker-a", "b", "2026-01-01T00:00:00Z", 3, NULL, NULL, "1"), S(1)),
                         0);
        assert_int_equal(membership_n_peers(m), 0);
        assert_false(membership_is_live(m, "a"));
        assert_false(membership_is_live(m, "b"));
        /* a known peer whose lease is taken by someone else stops counting */
        assert_int_equal(observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL, NULL, "2"), S(2)),
                         1);
        assert_int_equal(observe(m, lease("berth-speaker-a", "x", "2026-01-01T00:00:01Z", 3, NULL, NULL, "3"), S(2.5)),
                         1);
        assert_false(membership_is_live(m, "a"));
        assert_false(membership_is_live(m, "x"));
        /* other leases in the namespace are no speakers */
        assert_int_equal(observe(m, lease("berth-controller", "berth-controller", "2026-01-01T00:00:00Z", 15, NULL,
                                          NULL, "1"),
                                 S(3)),
                         0);
        assert_int_equal(membership_n_peers(m), 0);
}

static void test_delete_is_dead_at_once(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL, NULL, "1"), S(1));
        assert_true(membership_is_live(m, "a"));
        assert_int_equal(membership_forget(m, "berth-speaker-a"), 1);
        assert_false(membership_is_live(m, "a"));
        assert_null(membership_find(m, "a"));
        assert_int_equal(membership_forget(m, "berth-speaker-a"), 0);
}

static void test_claims(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        _cleanup_free_ char *text = NULL;
        const MembershipPeer *p;
        char buf[IP_ADDR_STRLEN];
        (void) state;

        assert_int_equal(observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL,
                                          "2001:db8::a,192.0.2.10, 192.0.2.10,bogus", "1"),
                                 S(1)),
                         1);
        p = membership_find(m, "a");
        assert_int_equal(p->n_claims, 2);
        assert_string_equal(ip_addr_format(&p->claims[0], buf), "192.0.2.10");
        assert_string_equal(ip_addr_format(&p->claims[1], buf), "2001:db8::a");
        assert_int_equal(membership_format_announcing(p->claims, p->n_claims, &text), 0);
        assert_string_equal(text, "192.0.2.10,2001:db8::a");
        /* a change of claims alone is a change for the election */
        assert_int_equal(observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL, "192.0.2.10", "2"),
                                 S(1.5)),
                         1);
        assert_int_equal(membership_find(m, "a")->n_claims, 1);
}

static void test_fencing_boundary(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        /* nothing renewed yet: not allowed to announce */
        assert_true(membership_fenced(m, S(0)));
        assert_false(membership_has_renewed(m));
        assert_int_equal(membership_fence_deadline(m), USEC_INFINITY);

        /* tOk is the send time, not the answer's time */
        membership_renewal_ok(m, S(10), "5", NOW, S(10.8));
        assert_false(membership_fenced(m, S(12.999999)));
        assert_true(membership_fenced(m, S(13)));
        assert_int_equal(membership_fence_deadline(m), S(13));
        assert_int_equal(membership_next_deadline(m, S(12)), S(13));
        /* the next success unfences */
        membership_renewal_ok(m, S(13.5), "6", NOW + S(3.5), S(13.6));
        assert_false(membership_fenced(m, S(14)));
        assert_int_equal(membership_fence_deadline(m), S(16.5));
        /* an older answer arriving late never moves tOk back */
        membership_renewal_ok(m, S(12.5), "7", NOW + S(2.5), S(14));
        assert_int_equal(membership_fence_deadline(m), S(16.5));
}

static void test_freshness_guard(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        (void) state;

        observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL, NULL, "1"), S(0));
        membership_renewal_ok(m, S(1), "10", NOW + S(1), S(1.1));
        assert_false(membership_watch_stale(m, S(4.099999)));
        assert_true(membership_watch_stale(m, S(4.1)));
        /* peer expiry suspended while stale: a (lastChange 0) would be dead at 3 */
        assert_int_equal(membership_tick(m, S(5)), 0);
        assert_true(membership_is_live(m, "a"));
        assert_int_equal(membership_next_deadline(m, S(5)), USEC_INFINITY);

        /* the re-list: a's renewTime unchanged keeps its old lastChange, so it expires at once */
        observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL, NULL, "1"), S(5.2));
        membership_relisted(m);
        assert_false(membership_watch_stale(m, S(5.2)));
        assert_int_equal(membership_tick(m, S(5.2)), 1);
        assert_false(membership_is_live(m, "a"));

        /* seen on the watch in time: never stale */
        membership_renewal_ok(m, S(6), "11", NOW + S(6), S(6.1));
        observe(m, lease("berth-speaker-self", "self", "2026-01-01T00:00:06Z", 3, NULL, NULL, "11"), S(6.2));
        assert_false(membership_watch_stale(m, S(20)));

        /* the watch event may come before the answer */
        observe(m, lease("berth-speaker-self", "self", "2026-01-01T00:00:07Z", 3, NULL, NULL, "12"), S(7.05));
        membership_renewal_ok(m, S(7), "12", NOW + S(7), S(7.1));
        assert_false(membership_watch_stale(m, S(20)));

        /* a later renewal seen confirms the older ones too */
        membership_renewal_ok(m, S(21), "13", NOW + S(21), S(21.1));
        membership_renewal_ok(m, S(22), "14", NOW + S(22), S(22.1));
        observe(m, lease("berth-speaker-self", "self", "2026-01-01T00:00:22Z", 3, NULL, NULL, "14"), S(22.2));
        assert_false(membership_watch_stale(m, S(30)));
}

static void test_offline_liveness(void **state) {
        (void) state;
        Lease *l = lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, "2500", NULL, "1");
        assert_true(membership_offline_live(l, NOW + S(2.499999)));
        assert_false(membership_offline_live(l, NOW + S(2.5)));
        /* a lease renewed "in the future" relative to --now is live */
        assert_true(membership_offline_live(l, NOW - S(10)));
        kube_object_unref(&l->object);

        l = lease("berth-speaker-a", "b", "2026-01-01T00:00:00Z", 3, NULL, NULL, "1");
        assert_false(membership_offline_live(l, NOW));
        kube_object_unref(&l->object);
}

/* ---- the own Lease over the offline source ---------------------------------- */

/* A source in front of the offline one, playing the API server's misdeeds:
 * a watch that lags (a cache nobody updates) and a server that does not
 * answer (writes held until released, or cancelled). */
typedef struct HeldWrite {
        char *method, *name, *content_type, *body;
        source_write_fn done;
        void *userdata;
} HeldWrite;

typedef struct WrapSource {
        Source base;
        Source *inner;
        bool lagging_watch, hold;
        bool unsynced_watch; /* the lagging cache has not listed yet */
        Cache *lagging;
        HeldWrite held[8];
        size_t n_held;
        unsigned gets, cancels;
} WrapSource;

static int wrap_cache(Source *s, const KubeKind *kind, const SourceFilter *f, Cache **ret) {
        WrapSource *w = (WrapSource *) s;
        if (!w->lagging_watch)
                return source_cache(w->inner, kind, f, ret);
        assert_null(w->lagging);
        assert_int_equal(cache_new(kind, &w->lagging), 0);
        cache_set_synced(w->lagging, !w->unsynced_watch);
        *ret = w->lagging;
        return 0;
}
static void wrap_cache_release(Source *s, Cache *c) {
        WrapSource *w = (WrapSource *) s;
        if (c == w->lagging)
                w->lagging = cache_free(w->lagging);
        else
                source_cache_release(w->inner, c);
}
static bool wrap_synced(Source *s) {
        return source_synced(((WrapSource *) s)->inner);
}
static usec_t wrap_now(Source *s) {
        return source_now(((WrapSource *) s)->inner);
}
static int wrap_write(Source *s, const char *method, const KubeKind *kind, const char *ns, const char *name,
                      const char *sub, const char *ct, const char *body, source_write_fn done, void *userdata) {
        WrapSource *w = (WrapSource *) s;
        if (!w->hold)
                return w->inner->ops->write(w->inner, method, kind, ns, name, sub, ct, body, done, userdata);
        assert_true(w->n_held < ELEMENTSOF(w->held));
        assert_ptr_equal(kind, &kube_kind_lease);
        assert_null(sub);
        HeldWrite *h = &w->held[w->n_held++];
        *h = (HeldWrite) { .method = strdup(method), .name = name ? strdup(name) : NULL,
                           .content_type = ct ? strdup(ct) : NULL, .body = body ? strdup(body) : NULL,
                           .done = done, .userdata = userdata };
        return 0;
}
static int wrap_get(Source *s, const KubeKind *kind, const char *ns, const char *name, source_write_fn done,
                    void *userdata) {
        WrapSource *w = (WrapSource *) s;
        w->gets++;
        return source_get(w->inner, kind, ns, name, done, userdata);
}
static void held_done(HeldWrite *h) {
        free(h->method);
        free(h->name);
        free(h->content_type);
        free(h->body);
}
static void wrap_cancel(Source *s, void *userdata) {
        WrapSource *w = (WrapSource *) s;
        for (size_t i = 0; i < w->n_held;)
                if (w->held[i].userdata == userdata) {
                        held_done(&w->held[i]);
                        w->held[i] = w->held[--w->n_held];
                        w->cancels++;
                } else
                        i++;
        source_cancel(w->inner, userdata);
}
static void wrap_free(Source *s) {
        WrapSource *w = (WrapSource *) s;
        for (size_t i = 0; i < w->n_held; i++)
                held_done(&w->held[i]);
        cache_free(w->lagging);
        source_free(w->inner);
}
static const SourceOps wrap_ops = {
        .name = "offline",
        .cache = wrap_cache,
        .synced = wrap_synced,
        .write = wrap_write,
        .now = wrap_now,
        .get = wrap_get,
        .cache_release = wrap_cache_release,
        .cancel = wrap_cancel,
        .free = wrap_free,
};

/* The server answers the held writes now, in order. */
static void wrap_release(WrapSource *w) {
        size_t n = w->n_held;
        w->hold = false;
        for (size_t i = 0; i < n; i++) {
                HeldWrite *h = &w->held[i];
                assert_int_equal(w->inner->ops->write(w->inner, h->method, &kube_kind_lease, "berth-system", h->name,
                                                      NULL, h->content_type, h->body, h->done, h->userdata),
                                 0);
                held_done(h);
        }
        w->n_held = 0;
}

typedef struct LeaseFixture {
        char dir[64];
        sd_event *event;
        Source *src;   /* the offline source */
        WrapSource wrap;
        MetricsRegistry *metrics;
        SpeakerLease *sl;
        unsigned first, peers_changed, left;
        int left_error;
        /* n2's claims as peers_changed saw them, comma-joined */
        char n2_claims[256];
} LeaseFixture;

static void on_first(SpeakerLease *sl, void *userdata) {
        (void) sl;
        ((LeaseFixture *) userdata)->first++;
}
static void on_peers(SpeakerLease *sl, void *userdata) {
        LeaseFixture *f = userdata;
        const MembershipPeer *p = membership_find(speaker_lease_membership(sl), "n2");
        f->peers_changed++;
        if (p) {
                _cleanup_free_ char *v = NULL;
                assert_int_equal(membership_format_announcing(p->claims, p->n_claims, &v), 0);
                snprintf(f->n2_claims, sizeof f->n2_claims, "%s", v);
        }
}
static void on_left(SpeakerLease *sl, int error, void *userdata) {
        LeaseFixture *f = userdata;
        (void) sl;
        f->left++;
        f->left_error = error;
}

static void run(LeaseFixture *f) {
        for (int i = 0; i < 1000 && source_offline_pending(f->src) > 0; i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
        assert_int_equal(source_offline_pending(f->src), 0);
}

static void fixture_start_unsynced(LeaseFixture *f, const char *manifests, usec_t duration, bool lagging_watch,
                                   bool unsynced_watch) {
        char *err = NULL;
        *f = (LeaseFixture) { .dir = "/tmp/test-membership-XXXXXX" };
        assert_non_null(mkdtemp(f->dir));
        if (manifests) {
                char path[128];
                snprintf(path, sizeof path, "%s/leases.yaml", f->dir);
                FILE *fp = fopen(path, "we");
                assert_non_null(fp);
                fputs(manifests, fp);
                fclose(fp);
        }
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(source_offline_new(f->event, &(OfflineOptions) { .dir = f->dir, .now = NOW }, &f->src, &err),
                         0);
        f->wrap = (WrapSource) { .base = { .ops = &wrap_ops, .event = f->event }, .inner = f->src,
                                 .lagging_watch = lagging_watch || unsynced_watch,
                                 .unsynced_watch = unsynced_watch };
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        SpeakerLeaseConfig c = {
                .namespace = "berth-system",
                .node = "n1",
                .node_uid = "8f0c1a2e-0000-4000-8000-000000000001",
                .lease_duration = duration,
                .renew_period = S(1),
        };
        SpeakerLeaseCallbacks cb = { .first_renewal = on_first, .peers_changed = on_peers, .userdata = f };
        assert_int_equal(speaker_lease_new(&f->wrap.base, &c, &cb, f->metrics, &f->sl), 0);
        assert_int_equal(speaker_lease_start(f->sl), 0);
        run(f);
}

static void fixture_start_wrapped(LeaseFixture *f, const char *manifests, usec_t duration, bool lagging_watch) {
        fixture_start_unsynced(f, manifests, duration, lagging_watch, false);
}

static void fixture_start(LeaseFixture *f, const char *manifests, usec_t duration) {
        fixture_start_wrapped(f, manifests, duration, false);
}

static void fixture_stop(LeaseFixture *f) {
        char cmd[128];
        speaker_lease_free(f->sl);
        wrap_free(&f->wrap.base);
        metrics_registry_free(f->metrics);
        sd_event_unref(f->event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
}

static const JsonValue *own(LeaseFixture *f) {
        const JsonValue *v = source_offline_get(f->src, &kube_kind_lease, "berth-system", "berth-speaker-n1");
        assert_non_null(v);
        return v;
}

static const char *annotation(LeaseFixture *f, const char *key) {
        return json_get_string(json_get_path(own(f), "metadata", "annotations"), key);
}

static double metric(LeaseFixture *f, const char *name, const char *const *labels) {
        MetricFamily *fam = NULL;
        double v = -1;
        if (streq(name, "berth_speaker_lease_renewals_total"))
                assert_int_equal(metrics_counter(f->metrics, name, "Lease renewal attempts by result.",
                                                 (const char *const[]) { "result", NULL }, &fam),
                                 0);
        else
                assert_int_equal(metrics_gauge(f->metrics, name, "Live speaker leases, this node's included.", NULL,
                                               &fam),
                                 0);
        assert_int_equal(metric_get(fam, labels, &v, NULL), 0);
        return v;
}

static void test_lease_written(void **state) {
        LeaseFixture f;
        const JsonValue *v, *ref;
        int64_t secs = 0;
        (void) state;

        fixture_start(&f, NULL, S(2.5));
        assert_int_equal(f.first, 1);
        v = own(&f);
        assert_string_equal(json_get_string(v, "apiVersion"), "coordination.k8s.io/v1");
        assert_string_equal(json_get_string(json_get(v, "metadata"), "namespace"), "berth-system");
        assert_string_equal(json_get_string(json_get_path(v, "metadata", "labels"), "app.kubernetes.io/name"),
                            "berth-speaker");
        assert_string_equal(annotation(&f, "berth.io/lease-duration-ms"), "2500");
        assert_string_equal(annotation(&f, "berth.io/announcing"), "");
        assert_int_equal(json_array_len(json_get_path(v, "metadata", "ownerReferences")), 1);
        ref = json_array_at(json_get_path(v, "metadata", "ownerReferences"), 0);
        assert_string_equal(json_get_string(ref, "apiVersion"), "v1");
        assert_string_equal(json_get_string(ref, "kind"), "Node");
        assert_string_equal(json_get_string(ref, "name"), "n1");
        assert_string_equal(json_get_string(ref, "uid"), "8f0c1a2e-0000-4000-8000-000000000001");
        assert_string_equal(json_get_string(json_get(v, "spec"), "holderIdentity"), "n1");
        assert_int_equal(json_int64(json_get_path(v, "spec", "leaseDurationSeconds"), &secs), 0);
        assert_int_equal(secs, 3); /* ceil(2.5 s) */
        assert_string_equal(json_get_string(json_get(v, "spec"), "acquireTime"), "2026-01-01T00:00:00.000000Z");
        assert_string_equal(json_get_string(json_get(v, "spec"), "renewTime"), "2026-01-01T00:00:00.000000Z");

        /* our own lease is seen on the watch: one live peer, not fenced */
        assert_true(membership_is_live(speaker_lease_membership(f.sl), "n1"));
        assert_false(speaker_lease_fenced(f.sl));
        assert_true(metric(&f, "berth_speaker_live_peers", NULL) == 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 1);

        /* an announcing change: one extra renewal at once, sorted canonical IPs */
        uint64_t writes = source_offline_changes(f.src);
        IpAddr ips[3];
        assert_int_equal(ip_addr_parse("2001:db8:0::a", &ips[0]), 0);
        assert_int_equal(ip_addr_parse("192.0.2.10", &ips[1]), 0);
        assert_int_equal(ip_addr_parse("192.0.2.9", &ips[2]), 0);
        assert_int_equal(speaker_lease_set_announcing(f.sl, ips, 3), 0);
        run(&f);
        assert_int_equal(source_offline_changes(f.src), writes + 1);
        assert_string_equal(annotation(&f, "berth.io/announcing"), "192.0.2.9,192.0.2.10,2001:db8::a");
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 2);
        /* the same set in another order: no write */
        IpAddr again[3] = { ips[2], ips[0], ips[1] };
        assert_int_equal(speaker_lease_set_announcing(f.sl, again, 3), 0);
        run(&f);
        assert_int_equal(source_offline_changes(f.src), writes + 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 2);

        /* someone else writes the lease: the next renewal meets a 409, fetches
         * the lease and retries at once with the current resourceVersion */
        assert_int_equal(source_merge_patch(f.src, &kube_kind_lease, "berth-system", "berth-speaker-n1", NULL,
                                            "{\"metadata\":{\"labels\":{\"touched\":\"yes\"}}}", NULL, NULL),
                         0);
        run(&f);
        assert_int_equal(speaker_lease_set_announcing(f.sl, ips, 1), 0);
        run(&f);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("conflict")) == 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 3);
        assert_string_equal(annotation(&f, "berth.io/announcing"), "2001:db8::a");
        /* the PUT replaces the whole object: no foreign label survives */
        assert_null(json_get_string(json_get_path(own(&f), "metadata", "labels"), "touched"));

        /* graceful leave: the lease is deleted, then the callback */
        assert_int_equal(speaker_lease_leave(f.sl, on_left, &f), 0);
        run(&f);
        assert_int_equal(f.left, 1);
        assert_int_equal(f.left_error, 0);
        assert_null(source_offline_get(f.src, &kube_kind_lease, "berth-system", "berth-speaker-n1"));
        fixture_stop(&f);
}

static void test_lease_taken_over(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start(&f,
                      "apiVersion: coordination.k8s.io/v1\n"
                      "kind: Lease\n"
                      "metadata: {name: berth-speaker-n1, namespace: berth-system}\n"
                      "spec: {holderIdentity: someone-else, leaseDurationSeconds: 10,\n"
                      "       renewTime: \"2025-12-31T23:59:00.000000Z\"}\n"
                      "---\n"
                      "apiVersion: coordination.k8s.io/v1\n"
                      "kind: Lease\n"
                      "metadata: {name: berth-speaker-n2, namespace: berth-system,\n"
                      "           annotations: {berth.io/lease-duration-ms: \"3000\", berth.io/announcing: \"192.0.2.1\"}}\n"
                      "spec: {holderIdentity: n2, leaseDurationSeconds: 3,\n"
                      "       renewTime: \"2025-12-31T23:59:59.000000Z\"}\n",
                      S(3));
        assert_int_equal(f.first, 1);
        assert_string_equal(json_get_string(json_get(own(&f), "spec"), "holderIdentity"), "n1");
        assert_string_equal(annotation(&f, "berth.io/lease-duration-ms"), "3000");
        /* n2 counts by local observation (its renewTime is in the past), n1 by its own lease */
        const Membership *m = speaker_lease_membership(f.sl);
        assert_true(membership_is_live(m, "n2"));
        assert_true(membership_is_live(m, "n1"));
        assert_int_equal(membership_find(m, "n2")->n_claims, 1);
        assert_true(metric(&f, "berth_speaker_live_peers", NULL) == 2);
        fixture_stop(&f);
}

/* Runs the loop (waiting for timers) until *counter reaches want. */
static void run_until(LeaseFixture *f, const unsigned *counter, unsigned want) {
        for (int i = 0; i < 100 && *counter < want; i++)
                assert_true(sd_event_run(f->event, S(0.1)) >= 0);
        assert_int_equal(*counter, want);
}

static const IpAddr *one_ip(const char *text) {
        static IpAddr ip;
        assert_int_equal(ip_addr_parse(text, &ip), 0);
        return &ip;
}

/* A 409 is settled by a GET, not by waiting for the watch: here the
 * watch never shows the other writer's change, and the retry still
 * follows at once. */
static void test_conflict_fetches_when_watch_lags(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start_wrapped(&f, NULL, S(2.5), true);
        assert_int_equal(f.first, 1);
        assert_int_equal(f.wrap.gets, 0);
        assert_int_equal(source_merge_patch(f.src, &kube_kind_lease, "berth-system", "berth-speaker-n1", NULL,
                                            "{\"metadata\":{\"labels\":{\"touched\":\"yes\"}}}", NULL, NULL),
                         0);
        run(&f);
        assert_int_equal(speaker_lease_set_announcing(f.sl, one_ip("192.0.2.7"), 1), 0);
        run(&f);
        assert_int_equal(f.wrap.gets, 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("conflict")) == 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 2);
        assert_string_equal(annotation(&f, "berth.io/announcing"), "192.0.2.7");
        assert_null(json_get_string(json_get_path(own(&f), "metadata", "labels"), "touched"));
        fixture_stop(&f);
}

/* Taking over a lease the watch has not delivered yet: the create meets
 * 409 AlreadyExists, the GET finds the lease, the PUT rewrites the holder. */
static void test_take_over_before_the_watch(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start_wrapped(&f,
                              "apiVersion: coordination.k8s.io/v1\n"
                              "kind: Lease\n"
                              "metadata: {name: berth-speaker-n1, namespace: berth-system}\n"
                              "spec: {holderIdentity: someone-else, leaseDurationSeconds: 10}\n",
                              S(3), true);
        assert_int_equal(f.first, 1);
        assert_int_equal(f.wrap.gets, 1);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("conflict")) == 1);
        assert_string_equal(json_get_string(json_get(own(&f), "spec"), "holderIdentity"), "n1");
        assert_string_equal(annotation(&f, "berth.io/lease-duration-ms"), "3000");
        fixture_stop(&f);
}

/* Restart while a peer holds an IP (§3, §9): the first renewal may succeed
 * before the Lease list has arrived.  speaker_lease_synced() tells the
 * daemon not to elect yet (it would see itself alone and take every IP,
 * probing them); the peer's claims are visible when peers_changed runs, so
 * the daemon records them for the probe decision even if the lease is
 * deleted before the next election. */
static void test_synced_after_the_lease_list(void **state) {
        LeaseFixture f;
        Lease *n2;
        (void) state;

        fixture_start_unsynced(&f, NULL, S(3), false, true);
        assert_int_equal(f.first, 1);
        assert_false(speaker_lease_synced(f.sl));
        assert_null(membership_find(speaker_lease_membership(f.sl), "n2"));

        n2 = lease("berth-speaker-n2", "n2", "2025-12-31T23:59:59Z", 3, NULL, "192.0.2.10,2001:db8::a", "7");
        assert_int_equal(cache_upsert(f.wrap.lagging, &n2->object), 1);
        kube_object_unref(&n2->object);
        cache_set_synced(f.wrap.lagging, true);
        assert_true(speaker_lease_synced(f.sl));
        assert_true(membership_is_live(speaker_lease_membership(f.sl), "n2"));
        assert_string_equal(f.n2_claims, "192.0.2.10,2001:db8::a");

        /* the peer leaves: dead at once, and its claims were already seen */
        unsigned before = f.peers_changed;
        assert_int_equal(cache_remove(f.wrap.lagging, "berth-system", "berth-speaker-n2"), 1);
        assert_int_equal(f.peers_changed, before + 1);
        assert_null(membership_find(speaker_lease_membership(f.sl), "n2"));
        fixture_stop(&f);
}

/* A peer's renewal that changes neither its liveness nor its claims is not
 * a change: no election runs (the per-renewal path stays O(1) in IPs). */
static void test_plain_renewal_is_no_change(void **state) {
        _cleanup_(membership_freep) Membership *m = new_membership("self", S(3));
        char renew[32];
        (void) state;

        assert_int_equal(observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:00Z", 3, NULL,
                                          "192.0.2.10,192.0.2.11", "1"),
                                 S(1)),
                         1);
        for (int i = 2; i < 10; i++) {
                snprintf(renew, sizeof renew, "2026-01-01T00:00:0%dZ", i);
                assert_int_equal(observe(m, lease("berth-speaker-a", "a", renew, 3, NULL, "192.0.2.10,192.0.2.11", "1"),
                                         S(i)),
                                 0);
        }
        assert_int_equal(membership_find(m, "a")->n_claims, 2);
        assert_true(membership_find(m, "a")->last_change == S(9));
        assert_true(membership_is_live(m, "a"));
        /* new claims are a change */
        assert_int_equal(observe(m, lease("berth-speaker-a", "a", "2026-01-01T00:00:10Z", 3, NULL, "192.0.2.10", "1"),
                                 S(10)),
                         1);
        assert_int_equal(membership_find(m, "a")->n_claims, 1);
}

/* A renewal the server does not answer is abandoned at the next tick:
 * cancelled in the source, counted as an error, and a new one sent. */
static void test_renewal_abandoned_at_tick(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start(&f, NULL, S(2.5));
        f.wrap.hold = true;
        assert_int_equal(speaker_lease_set_announcing(f.sl, one_ip("192.0.2.8"), 1), 0);
        assert_int_equal(f.wrap.n_held, 1);
        run_until(&f, &f.wrap.cancels, 1);
        /* the abandoned one is gone from the source, the tick's one is sent */
        assert_int_equal(f.wrap.n_held, 1);
        assert_string_equal(f.wrap.held[0].method, "PUT");
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("error")) == 1);

        /* the server answers the new one */
        wrap_release(&f.wrap);
        run(&f);
        assert_true(metric(&f, "berth_speaker_lease_renewals_total", METRIC_LABELS("ok")) == 2);
        assert_string_equal(annotation(&f, "berth.io/announcing"), "192.0.2.8");
        fixture_stop(&f);
}

/* Freed with a write in flight: the request is cancelled in the source,
 * so nothing is left pointing at the freed SpeakerLease. */
static void test_free_cancels_inflight(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start(&f, NULL, S(2.5));
        f.wrap.hold = true;
        assert_int_equal(speaker_lease_set_announcing(f.sl, one_ip("192.0.2.9"), 1), 0);
        assert_int_equal(f.wrap.n_held, 1);
        f.sl = speaker_lease_free(f.sl);
        assert_int_equal(f.wrap.cancels, 1);
        assert_int_equal(f.wrap.n_held, 0);
        fixture_stop(&f);
}

/* The leave sends a DeleteOptions with the uid precondition; unanswered,
 * it times out after 1 s and is cancelled. */
static void test_leave_timeout(void **state) {
        _cleanup_free_ char *want = NULL;
        LeaseFixture f;
        (void) state;

        fixture_start(&f, NULL, S(2.5));
        const char *uid = json_get_string(json_get(own(&f), "metadata"), "uid");
        assert_non_null(uid);
        assert_true(asprintf(&want,
                             "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"%s\"}}",
                             uid) >= 0);
        f.wrap.hold = true;
        assert_int_equal(speaker_lease_leave(f.sl, on_left, &f), 0);
        assert_int_equal(f.wrap.n_held, 1);
        assert_string_equal(f.wrap.held[0].method, "DELETE");
        assert_string_equal(f.wrap.held[0].name, "berth-speaker-n1");
        assert_string_equal(f.wrap.held[0].content_type, "application/json");
        assert_string_equal(f.wrap.held[0].body, want);
        assert_int_equal(f.left, 0);

        run_until(&f, &f.left, 1);
        assert_int_equal(f.left_error, -ETIMEDOUT);
        assert_int_equal(f.wrap.cancels, 1);
        assert_int_equal(f.wrap.n_held, 0);
        /* not deleted, and no renewal after the leave */
        own(&f);
        assert_int_equal(speaker_lease_leave(f.sl, on_left, &f), -EALREADY);
        fixture_stop(&f);
}

/* The re-list after a stale watch: a fresh Lease cache, still followed. */
static void test_relist(void **state) {
        LeaseFixture f;
        (void) state;

        fixture_start(&f, NULL, S(2.5));
        unsigned peers = f.peers_changed;
        assert_int_equal(speaker_lease_relist(f.sl), 0);
        /* our lease, unchanged, keeps its old sighting: no change reported */
        assert_true(membership_is_live(speaker_lease_membership(f.sl), "n1"));
        assert_int_equal(f.peers_changed, peers);
        /* the fresh cache is followed: a new peer shows up */
        assert_int_equal(source_create(f.src, &kube_kind_lease, "berth-system",
                                       "{\"metadata\":{\"name\":\"berth-speaker-n2\"},"
                                       "\"spec\":{\"holderIdentity\":\"n2\",\"leaseDurationSeconds\":3,"
                                       "\"renewTime\":\"2026-01-01T00:00:00.000000Z\"}}",
                                       NULL, NULL),
                         0);
        run(&f);
        assert_true(membership_is_live(speaker_lease_membership(f.sl), "n2"));
        assert_int_equal(f.peers_changed, peers + 1);
        assert_true(metric(&f, "berth_speaker_live_peers", NULL) == 2);
        fixture_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_liveness_by_local_observation),
                cmocka_unit_test(test_duration_annotation_or_seconds),
                cmocka_unit_test(test_sub_second_duration),
                cmocka_unit_test(test_holder_mismatch_ignored),
                cmocka_unit_test(test_delete_is_dead_at_once),
                cmocka_unit_test(test_claims),
                cmocka_unit_test(test_plain_renewal_is_no_change),
                cmocka_unit_test(test_fencing_boundary),
                cmocka_unit_test(test_freshness_guard),
                cmocka_unit_test(test_offline_liveness),
                cmocka_unit_test(test_lease_written),
                cmocka_unit_test(test_lease_taken_over),
                cmocka_unit_test(test_conflict_fetches_when_watch_lags),
                cmocka_unit_test(test_take_over_before_the_watch),
                cmocka_unit_test(test_renewal_abandoned_at_tick),
                cmocka_unit_test(test_free_cancels_inflight),
                cmocka_unit_test(test_leave_timeout),
                cmocka_unit_test(test_relist),
                cmocka_unit_test(test_synced_after_the_lease_list),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
