/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announcer.h"
#include "capture.h"
#include "endpointslice.h"
#include "http.h"
#include "http_server.h"
#include "ipaddresspool.h"
#include "kubeconfig.h"
#include "l2_election.h"
#include "l2_view.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "metrics.h"
#include "node.h"
#include "source_events.h"
#include "speaker_daemon.h"
#include "speaker_lease.h"
#include "strict_arp.h"

#define PROGRAM "berth-speaker"
/* §2: a label selector longer than this falls back to one unfiltered watch. */
#define SLICE_SELECTOR_MAX 4096

typedef struct Daemon {
        const CliOptions *options;
        const SpeakerFlags *flags;
        Loop *loop;
        sd_event *event;
        KubeConfig *config;
        KubeClient *client;
        Source *source;
        MetricsRegistry *metrics;
        HttpServer *http;
        EventRecorder *events;
        MetricFamily *m_strict_arp;    /* berth_speaker_strict_arp_disabled */
        Cache *services, *nodes, *pools, *ads;
        /* EndpointSlices (§2): the watch in use and, while the kept Service
         * names change, the next one until it has synced (announcements
         * keep the old endpoints meanwhile instead of losing all). */
        Cache *slices, *slices_next;
        char *slice_selector, *slice_selector_next; /* "" = unfiltered */
        /* advertisements whose preferredNodeSelectors were logged (§14) */
        char **preferred_logged;
        size_t n_preferred_logged;
        L2ConfigState lb;
        bool config_dirty;
        regex_t exclude;
        bool exclude_compiled;

        Links *links;
        Capture *capture;
        Announcer *announcer;
        SpeakerLease *lease;
        L2Election *election;          /* the last one, for failover reasons */
        bool synced, renewed, all_excluded_logged, leaving;
        /* The Lease cache listed once: before that the peer table may miss
         * live peers and their claims (§3, §9), so nothing is elected. */
        bool leases_synced;
        bool strict_arp_failed, strict_arp_event_sent;
        usec_t trigger;                /* monotonic time of the change that triggered the next recompute */
        usec_t peers_seen;             /* when peers_changed last ran */
        sd_event_source *recompute, *sync_check, *slices_check;
} Daemon;

static void schedule(Daemon *d);
static void schedule_at(Daemon *d, usec_t trigger);
static void note_claims(Daemon *d);

/* ---- EndpointSlice watch (§2) ---------------------------------------------------- */

typedef struct NameList {
        const char **names;
        size_t n, allocated;
        const char *lb_class;
} NameList;

static int collect_kept(KubeObject *obj, void *userdata) {
        NameList *l = userdata;

        if (!l2_service_handled(SERVICE(obj), l->lb_class))
                return 0;
        if (!GREEDY_REALLOC(l->names, l->allocated, l->n + 1, 16))
                return -ENOMEM;
        l->names[l->n++] = obj->meta.name;
        return 0;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* "kubernetes.io/service-name in (a,b)" over the kept Services' names;
 * "" for one unfiltered watch (selector over 4 KiB); NULL *ret when the
 * set is empty (no watch at all). */
static int slice_selector(Daemon *d, char **ret) {
        NameList l = { .lb_class = d->flags->lb_class };
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        *ret = NULL;
        r = cache_foreach(d->services, NULL, collect_kept, &l);
        if (r < 0 || l.n == 0) {
                free(l.names);
                return r;
        }
        qsort(l.names, l.n, sizeof(*l.names), name_cmp);
        f = open_memstream(&buf, &size);
        if (!f) {
                free(l.names);
                return -ENOMEM;
        }
        fputs(ENDPOINTSLICE_LABEL_SERVICE_NAME " in (", f);
        for (size_t i = 0; i < l.n; i++)
                if (i == 0 || !streq(l.names[i], l.names[i - 1]))
                        fprintf(f, "%s%s", i > 0 ? "," : "", l.names[i]);
        fputc(')', f);
        r = fclose(f) == 0 ? 0 : -ENOMEM;
        free(l.names);
        if (r < 0) {
                free(buf);
                return r;
        }
        if (size > SLICE_SELECTOR_MAX)
                buf[0] = '\0';
        *ret = buf;
        return 0;
}

static void on_add(KubeObject *o, void *userdata);
static void on_update(KubeObject *a, KubeObject *b, void *userdata);

static void slices_release(Daemon *d, Cache **c) {
        if (!*c)
                return;
        cache_remove_handlers(*c, d);
        source_cache_release(d->source, *c);
        *c = NULL;
}

/* Re-establishes the EndpointSlice watch when the set of kept Service names
 * changed: a new LIST+WATCH with the new selector, swapped in once synced. */
static int update_slice_watch(Daemon *d) {
        _cleanup_free_ char *sel = NULL;
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_add, .userdata = d };
        int r;

        r = slice_selector(d, &sel);
        if (r < 0)
                return r;
        if (d->slices_next ? streq_ptr(sel, d->slice_selector_next) : streq_ptr(sel, d->slice_selector))
                return 0;
        slices_release(d, &d->slices_next);
        d->slice_selector_next = mfree(d->slice_selector_next);
        if (!sel) {
                /* no kept Service: no watch while the set is empty */
                slices_release(d, &d->slices);
                d->slice_selector = mfree(d->slice_selector);
                return 0;
        }
        if (streq_ptr(sel, d->slice_selector))
                return 0; /* back to the watch in use */
        SourceFilter f = { .label_selector = isempty(sel) ? NULL : sel };
        r = source_cache(d->source, &kube_kind_endpointslice, &f, &d->slices_next);
        if (r >= 0)
                r = cache_add_handlers(d->slices_next, &h);
        if (r < 0) {
                slices_release(d, &d->slices_next);
                return r;
        }
        log_debug("EndpointSlice watch: %s", isempty(sel) ? "unfiltered (selector over 4 KiB)" : sel);
        d->slice_selector_next = TAKE_PTR(sel);
        return 0;
}

/* After every dispatch: the next EndpointSlice watch has synced → use it;
 * the Lease cache has listed once → the first election may run. */
static int on_slices_check(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;

        (void) s;
        if (!d->leases_synced && d->lease && speaker_lease_synced(d->lease)) {
                d->leases_synced = true;
                log_debug("speaker leases synced");
                note_claims(d);
                schedule(d);
        }
        if (!d->slices_next || !cache_synced(d->slices_next))
                return 0;
        slices_release(d, &d->slices);
        free(d->slice_selector);
        d->slices = TAKE_PTR(d->slices_next);
        d->slice_selector = TAKE_PTR(d->slice_selector_next);
        schedule(d);
        return 0;
}

/* ---- strict ARP (§6) ----------------------------------------------------------- */

static int find_ingress(KubeObject *obj, void *userdata) {
        const IpAddr *ip = userdata;
        const Service *s = SERVICE(obj);

        for (size_t i = 0; i < s->n_ingress; i++) {
                IpAddr x;
                if (s->ingress[i].ip && ip_addr_parse(s->ingress[i].ip, &x) >= 0 && ip_addr_equal(&x, ip))
                        return 1;
        }
        return 0;
}

typedef struct LbIpQuery {
        Daemon *d;
        const IpAddr *ip;
} LbIpQuery;

static int find_handled_ingress(KubeObject *obj, void *userdata) {
        LbIpQuery *q = userdata;

        if (!l2_service_handled(SERVICE(obj), q->d->flags->lb_class))
                return 0;
        return find_ingress(obj, (void *) q->ip);
}

static bool is_lb_ip(const IpAddr *a, void *userdata) {
        LbIpQuery q = { .d = userdata, .ip = a };
        return cache_foreach(q.d->services, NULL, find_handled_ingress, &q) > 0;
}

/* At start and on every link or address change (sysctl writes raise no
 * netlink event): Warning StrictARPDisabled once per process start, the
 * gauge, one log line per failure. */
static void check_strict_arp(Daemon *d) {
        StrictArpResult res = {};
        size_t n;
        const LinkInfo *links = links_snapshot(d->links, &n);
        int r;

        if (!d->synced)
                return;
        r = strict_arp_check(NULL, links, n, is_lb_ip, d, &res);
        if (r < 0) {
                log_debug_errno(r, "cannot check strict ARP: %m");
                return;
        }
        bool failed = res.verdict == STRICT_ARP_DISABLED;
        if (d->m_strict_arp)
                (void) metric_set(d->m_strict_arp, NULL, failed ? 1 : 0);
        if (failed == d->strict_arp_failed)
                return;
        d->strict_arp_failed = failed;
        if (!failed)
                return;
        _cleanup_free_ char *note = NULL;
        if (strict_arp_message(&res, &note) < 0)
                return;
        log_warning("%s", note);
        if (d->strict_arp_event_sent)
                return;
        KubeObject *node = cache_get(d->nodes, NULL, d->flags->node);
        EventObjectRef ref = { .api_version = "v1", .kind = "Node", .name = d->flags->node,
                               .uid = node ? node->meta.uid : NULL };
        if (event_recorder_emit(d->events, &ref, "Warning", "StrictARPDisabled", "CheckStrictARP", note) >= 0)
                d->strict_arp_event_sent = true;
}

/* ---- preferredNodeSelectors (§14): one log line per advertisement ---------------- */

static int note_preferred(KubeObject *obj, void *userdata) {
        Daemon *d = userdata;
        char key[512];
        char **p;

        if (!L2ADVERTISEMENT(obj)->has_preferred_node_selectors)
                return 0;
        kube_object_key(obj, key, sizeof key);
        for (size_t i = 0; i < d->n_preferred_logged; i++)
                if (streq(d->preferred_logged[i], key))
                        return 0;
        p = realloc(d->preferred_logged, (d->n_preferred_logged + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        d->preferred_logged = p;
        if (!(p[d->n_preferred_logged] = strdup(key)))
                return -ENOMEM;
        d->n_preferred_logged++;
        log_info("L2Advertisement %s: preferredNodeSelectors is ignored; the election uses the nodeSelectors only",
                 key);
        return 0;
}

/* ---- recompute: election → announcer ------------------------------------------ */

static void node_state(const char *node, bool *ret_live, const IpAddr **ret_claims, size_t *ret_n, void *userdata) {
        Daemon *d = userdata;
        const Membership *m = speaker_lease_membership(d->lease);
        const MembershipPeer *p;

        *ret_claims = NULL;
        *ret_n = 0;
        if (streq(node, d->flags->node)) {
                /* ourselves: our own live state, not our lease (§5) */
                *ret_live = !speaker_lease_fenced(d->lease);
                return;
        }
        *ret_live = m && membership_is_live(m, node);
        p = m ? membership_find(m, node) : NULL;
        if (p && *ret_live) {
                *ret_claims = p->claims;
                *ret_n = p->n_claims;
        }
}

/* Why the IP moves to us (berth_speaker_failovers_total{reason}). */
static AnnouncerReason failover_reason(Daemon *d, const IpAddr *ip) {
        const L2Announcement *prev = d->election ? l2_election_find(d->election, ip) : NULL;
        const Membership *m = speaker_lease_membership(d->lease);

        if (!prev || !prev->node || streq(prev->node, d->flags->node))
                return ANNOUNCER_REASON_NONE;
        if (!m || !membership_find(m, prev->node))
                return ANNOUNCER_REASON_LEFT;
        if (!membership_is_live(m, prev->node))
                return ANNOUNCER_REASON_EXPIRED;
        return ANNOUNCER_REASON_PREEMPTED;
}

static int announce(Daemon *d, const L2Announcement *a, const LinkInfo *links, size_t n_links) {
        _cleanup_free_ size_t *idx = new0(size_t, n_links ? n_links : 1);
        _cleanup_free_ AnnouncerInterface *ifs = new0(AnnouncerInterface, n_links ? n_links : 1);
        _cleanup_free_ AnnouncerService *svcs = new0(AnnouncerService, a->n_services ? a->n_services : 1);
        size_t n_ifs = 0, n_sel;

        if (!idx || !ifs || !svcs)
                return -ENOMEM;
        n_sel = link_select(links, n_links, d->exclude_compiled ? &d->exclude : NULL,
                            a->default_selection ? NULL : (const char *const *) a->interfaces,
                            a->default_selection ? 0 : a->n_interfaces, &a->ip, idx);
        for (size_t i = 0; i < n_sel; i++) {
                const LinkInfo *l = &links[idx[i]];
                AnnouncerInterface *x = &ifs[n_ifs++];
                x->ifindex = l->ifindex;
                snprintf(x->name, sizeof x->name, "%s", l->name);
                memcpy(x->mac.bytes, l->mac, sizeof x->mac.bytes);
                x->broadcast = (l->flags & IFF_BROADCAST) != 0;
                x->has_link_local = l->has_link_local6;
                x->link_local = l->link_local6;
        }
        for (size_t i = 0; i < a->n_services; i++) {
                /* "ns/name" → the cached Service, for the Event's uid */
                const char *slash = strchr(a->services[i], '/');
                char ns[256];
                snprintf(ns, sizeof ns, "%.*s", slash ? (int) (slash - a->services[i]) : 0, a->services[i]);
                KubeObject *o = cache_get(d->services, ns, slash ? slash + 1 : a->services[i]);
                svcs[i] = (AnnouncerService) { .namespace = o ? o->meta.namespace : NULL,
                                               .name = o ? o->meta.name : a->services[i],
                                               .uid = o ? o->meta.uid : NULL };
        }
        AnnouncerReason reason = announcer_owns(d->announcer, &a->ip) ? ANNOUNCER_REASON_NONE
                                                                      : failover_reason(d, &a->ip);
        return announcer_set(d->announcer, &a->ip, svcs, a->n_services, ifs, n_ifs, reason, d->trigger);
}

static int recompute(Daemon *d) {
        _cleanup_(l2_election_freep) L2Election *e = NULL;
        _cleanup_free_ IpAddr *owned = NULL;
        L2View v = {};
        size_t n_owned = 0, n_links = 0;
        const LinkInfo *links;
        int r;

        if (d->synced && !d->leaving) {
                r = update_slice_watch(d);
                if (r < 0)
                        log_warning_errno(r, "cannot re-establish the EndpointSlice watch: %m");
        }
        if (!d->synced || !d->renewed || !d->leases_synced || d->leaving)
                return 0;
        if (speaker_lease_fenced(d->lease)) {
                announcer_withdraw_all(d->announcer);
                return speaker_lease_set_announcing(d->lease, NULL, 0);
        }
        if (d->config_dirty) {
                r = l2_config_update(&d->lb, d->pools, d->ads);
                if (r >= 0)
                        r = cache_foreach(d->ads, NULL, note_preferred, d);
                if (r < 0)
                        return r;
                d->config_dirty = false;
        }
        L2ViewSources src = { .services = d->services, .endpointslices = d->slices, .nodes = d->nodes,
                                   .lb_class = d->flags->lb_class, .node_state = node_state, .userdata = d };
        r = l2_view_build(&src, &v);
        if (r < 0)
                return r;
        L2ElectionInput in = { .config = d->lb.config, .n_services = v.n_services, .services = v.services,
                               .n_nodes = v.n_nodes, .nodes = v.nodes,
                               .ignore_exclude_lb = d->flags->ignore_exclude_lb,
                               .failback_never = d->flags->failback == SPEAKER_FAILBACK_NEVER };
        /* own claims for --failback=never: what we announce right now */
        r = announcer_owned(d->announcer, &owned, &n_owned);
        for (size_t i = 0; r >= 0 && i < v.n_nodes; i++)
                if (streq(v.nodes[i].name, d->flags->node)) {
                        v.nodes[i].claims = owned;
                        v.nodes[i].n_claims = n_owned;
                }
        if (r >= 0)
                r = l2_election_compute(&in, &e);
        l2_view_done(&v);
        if (r < 0)
                return r;
        if (e->all_excluded && !d->all_excluded_logged)
                log_warning(L2_ALL_EXCLUDED_MESSAGE);
        d->all_excluded_logged = e->all_excluded;

        /* withdraw first: what we no longer own stops at once */
        for (size_t i = 0; i < n_owned; i++) {
                const L2Announcement *a = l2_election_find(e, &owned[i]);
                if (!a || !streq_ptr(a->node, d->flags->node))
                        (void) announcer_withdraw(d->announcer, &owned[i]);
        }
        links = links_snapshot(d->links, &n_links);
        for (size_t i = 0; i < e->n_announcements; i++) {
                const L2Announcement *a = &e->announcements[i];
                if (streq_ptr(a->node, d->flags->node) && (r = announce(d, a, links, n_links)) < 0)
                        log_warning_errno(r, "cannot announce: %m");
        }
        l2_election_free(d->election);
        d->election = TAKE_PTR(e);
        d->trigger = 0;

        owned = mfree(owned);
        r = announcer_owned(d->announcer, &owned, &n_owned);
        if (r >= 0)
                r = speaker_lease_set_announcing(d->lease, owned, n_owned);
        return r;
}

static int on_recompute(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        int r;

        (void) s;
        r = recompute(d);
        if (r < 0)
                log_error_errno(r, "cannot recompute the announcements: %m");
        return 0;
}

/* Coalesces every change of one loop iteration into one recompute; the
 * earliest trigger of the batch starts berth_speaker_takeover_seconds. */
static void schedule_at(Daemon *d, usec_t trigger) {
        if (d->trigger == 0 || trigger < d->trigger)
                d->trigger = trigger;
        if (d->recompute)
                (void) sd_event_source_set_enabled(d->recompute, SD_EVENT_ONESHOT);
}

static void schedule(Daemon *d) {
        usec_t now;

        if (sd_event_now(d->event, CLOCK_MONOTONIC, &now) < 0)
                now = 0;
        schedule_at(d, now);
}

static void on_add(KubeObject *o, void *userdata) {
        (void) o;
        schedule(userdata);
}
static void on_update(KubeObject *a, KubeObject *b, void *userdata) {
        (void) a;
        (void) b;
        schedule(userdata);
}
/* A Node matters to the election only through its labels and its
 * NetworkUnavailable condition (§5): status heartbeats recompute nothing. */
static void on_node_update(KubeObject *a, KubeObject *b, void *userdata) {
        if (strmap_equal(&a->meta.labels, &b->meta.labels) &&
            NODE(a)->network_unavailable == NODE(b)->network_unavailable && streq_ptr(a->meta.uid, b->meta.uid))
                return;
        schedule(userdata);
}
static void on_config_add(KubeObject *o, void *userdata) {
        Daemon *d = userdata;
        (void) o;
        d->config_dirty = true;
        schedule(d);
}
static void on_config_update(KubeObject *a, KubeObject *b, void *userdata) {
        if (lb_config_update_matters(a, b))
                on_config_add(b, userdata);
}

/* ---- membership callbacks ------------------------------------------------------- */

static void first_renewal(SpeakerLease *sl, void *userdata) {
        Daemon *d = userdata;

        (void) sl;
        d->renewed = true;
        log_info("lease renewed; announcing");
        (void) loop_notify_ready(d->loop);
        (void) loop_notify_status(d->loop, "announcing as %s", d->flags->node);
        schedule(d);
}

static void fenced_changed(SpeakerLease *sl, bool fenced, void *userdata) {
        Daemon *d = userdata;

        (void) sl;
        if (fenced) {
                /* stop answering before any peer may take over (§3) */
                log_warning("fenced: no successful lease renewal for --lease-duration; withdrawing everything");
                announcer_withdraw_all(d->announcer);
                return;
        }
        log_info("unfenced: lease renewed again");
        schedule(d); /* every owned IP is new again: a takeover burst each */
}

/* §9: an IP listed in any speaker lease seen since start is never probed.
 * Called whenever a peer's claims change (membership_observe reports it),
 * synchronously from the watch event, so a lease deleted right after is
 * still counted, whether or not an election ran in between. */
static void note_claims(Daemon *d) {
        const Membership *m = speaker_lease_membership(d->lease);

        for (size_t i = 0; m && i < membership_n_peers(m); i++) {
                const MembershipPeer *p = membership_peer(m, i);
                for (size_t k = 0; k < p->n_claims; k++)
                        (void) announcer_note_claimed(d->announcer, &p->claims[k]);
        }
}

/* The exact trigger (§10): a DELETE arrives in this loop iteration (its
 * time is the iteration's); an expiry fired at lastChange + duration, the
 * latest such deadline that passed since the previous call. */
static void peers_changed(SpeakerLease *sl, void *userdata) {
        Daemon *d = userdata;
        const Membership *m = speaker_lease_membership(sl);
        usec_t now, trigger;

        note_claims(d);
        if (sd_event_now(d->event, CLOCK_MONOTONIC, &now) < 0)
                return schedule(d);
        trigger = now;
        for (size_t i = 0; m && i < membership_n_peers(m); i++) {
                const MembershipPeer *p = membership_peer(m, i);
                usec_t deadline = p->last_change + p->duration;
                if (!p->live && deadline <= now && deadline > d->peers_seen && deadline < trigger)
                        trigger = deadline;
        }
        d->peers_seen = now;
        schedule_at(d, trigger);
}

/* The Lease watch went stale (§3): re-list it; the peers are judged by
 * their old lastChange afterwards. */
static void watch_stale(SpeakerLease *sl, void *userdata) {
        int r;

        (void) userdata;
        log_warning("the Lease watch delivered none of our own renewals within --lease-duration: re-listing it");
        /* release the Lease cache, ask again; relisted() once it synced */
        r = speaker_lease_relist(sl);
        if (r < 0)
                log_warning_errno(r, "cannot re-list the Lease watch: %m");
}

static void on_links(Links *l, int ifindex, void *userdata) {
        Daemon *d = userdata;
        size_t n;
        const LinkInfo *links = links_snapshot(l, &n);
        _cleanup_free_ MacAddr *macs = new0(MacAddr, n ? n : 1);
        size_t n_macs = 0;

        (void) ifindex;
        if (macs) {
                for (size_t i = 0; i < n; i++)
                        if (links[i].has_mac)
                                memcpy(macs[n_macs++].bytes, links[i].mac, 6);
                (void) announcer_set_local_macs(d->announcer, macs, n_macs);
        }
        check_strict_arp(d);
        schedule(d);
}

/* ---- capture io ------------------------------------------------------------------- */

static void on_frame(Capture *c, int ifindex, const uint8_t *frame, size_t len, void *userdata) {
        (void) c;
        announcer_handle_frame(((Daemon *) userdata)->announcer, ifindex, frame, len);
}
static int io_send(void *u, int ifindex, const void *frame, size_t len) {
        return capture_send(((Daemon *) u)->capture, ifindex, frame, len);
}
static int io_open(void *u, int ifindex, const char *ifname) {
        return capture_ref(((Daemon *) u)->capture, ifindex, ifname);
}
static void io_close(void *u, int ifindex) {
        capture_unref(((Daemon *) u)->capture, ifindex);
}
static int io_join(void *u, const struct in6_addr *g, int ifindex) {
        return capture_join_group(((Daemon *) u)->capture, g, ifindex);
}
static void io_leave(void *u, const struct in6_addr *g, int ifindex) {
        capture_leave_group(((Daemon *) u)->capture, g, ifindex);
}

/* ---- start, stop -------------------------------------------------------------------- */

static int start_lease(Daemon *d) {
        KubeObject *node = cache_get(d->nodes, NULL, d->flags->node);
        SpeakerLeaseConfig lc = {
                .namespace = d->options->namespace,
                .node = d->flags->node,
                .node_uid = node ? node->meta.uid : NULL,
                .lease_duration = d->flags->lease_duration,
                .renew_period = d->flags->lease_renew,
        };
        SpeakerLeaseCallbacks cb = { .first_renewal = first_renewal, .fenced_changed = fenced_changed,
                                     .peers_changed = peers_changed, .watch_stale = watch_stale,
                                     .userdata = d };
        int r;

        if (!node)
                log_warning("Node %s does not exist: the lease gets no owner and the node is never a candidate",
                            d->flags->node);
        r = speaker_lease_new(d->source, &lc, &cb, d->metrics, &d->lease);
        if (r >= 0)
                r = speaker_lease_start(d->lease);
        return r;
}

static int on_sync_check(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        int r;

        (void) s;
        if (d->synced || !source_synced(d->source))
                return 0;
        d->synced = true;
        d->sync_check = sd_event_source_disable_unref(d->sync_check);
        log_info("caches synced");
        d->config_dirty = true;
        check_strict_arp(d);
        r = start_lease(d);
        if (r < 0) {
                log_error_errno(r, "cannot start the lease: %m");
                return sd_event_exit(d->event, 1);
        }
        schedule(d);
        return 0;
}

static bool ready(void *userdata, char **ret_reason) {
        Daemon *d = userdata;
        if (d->synced && d->renewed)
                return true;
        if (ret_reason)
                *ret_reason = strdup(d->synced ? "waiting for the first lease renewal" : "caches not synced yet");
        return false;
}

static void on_left(SpeakerLease *sl, int error, void *userdata) {
        Daemon *d = userdata;

        (void) sl;
        if (error < 0)
                log_warning_errno(error, "could not delete the lease: %m");
        (void) sd_event_exit(d->event, 0);
}

static void on_shutdown(Loop *l, int signo, void *userdata) {
        Daemon *d = userdata;

        (void) l;
        log_info("received %s: withdrawing and leaving", signo == SIGINT ? "SIGINT" : "SIGTERM");
        d->leaving = true;
        /* 1. no more replies, no GARP/NA; 2. delete the lease; 3. exit 0 */
        announcer_withdraw_all(d->announcer);
        if (d->lease && speaker_lease_leave(d->lease, on_left, d) >= 0)
                return;
        (void) sd_event_exit(d->event, 0);
}

static int open_caches(Daemon *d) {
        const char *cns = d->flags->config_namespace ? d->flags->config_namespace : d->options->namespace;
        SourceFilter lb = { .field_selector = "spec.type=LoadBalancer" };
        /* EndpointSlices: update_slice_watch(), once the kept Services are known. */
        SourceFilter all = {}, config = { .namespace = cns };
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_add, .userdata = d };
        CacheHandlers hc = { .on_add = on_config_add, .on_update = on_config_update, .on_delete = on_config_add,
                             .userdata = d };
        int r;

        if ((r = source_cache(d->source, &kube_kind_service, &lb, &d->services)) < 0 ||
            (r = source_cache(d->source, &kube_kind_node, &all, &d->nodes)) < 0 ||
            (r = source_cache(d->source, &kube_kind_ipaddresspool, &config, &d->pools)) < 0 ||
            (r = source_cache(d->source, &kube_kind_l2advertisement, &config, &d->ads)) < 0)
                return r;
        CacheHandlers hn = { .on_add = on_add, .on_update = on_node_update, .on_delete = on_add, .userdata = d };
        if ((r = cache_add_handlers(d->services, &h)) < 0 ||
            (r = cache_add_handlers(d->nodes, &hn)) < 0 || (r = cache_add_handlers(d->pools, &hc)) < 0 ||
            (r = cache_add_handlers(d->ads, &hc)) < 0)
                return r;
        return 0;
}

static int setup(Daemon *d) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = kube_config_load(d->options->kubeconfig, &d->config, &error);
        if (r < 0) {
                log_error("cannot load the kubeconfig: %s", error ? error : strerror(-r));
                return 2;
        }
        KubeClientOptions copts = { .user_agent = PROGRAM "/" PACKAGE_VERSION };
        if ((r = kube_client_new(d->event, d->config, &copts, &d->client)) < 0 ||
            (r = source_api_new(d->event, d->client, &d->source)) < 0)
                return log_error_errno(r, "cannot create the API client: %m"), 1;
        if ((r = metrics_registry_new(&d->metrics)) < 0 ||
            (r = metrics_gauge(d->metrics, "berth_speaker_strict_arp_disabled",
                               "1 while the strict-ARP check of kube-ipvs0 fails", NULL, &d->m_strict_arp)) < 0 ||
            (r = metric_set(d->m_strict_arp, NULL, 0)) < 0)
                return log_oom(), 1;
        if (d->options->metrics_bind_address) {
                HttpServerOptions hopts = { .bind_address = d->options->metrics_bind_address, .metrics = d->metrics,
                                            .ready = ready, .ready_userdata = d };
                r = http_server_new(d->event, &hopts, &d->http);
                if (r < 0)
                        return log_error_errno(r, "cannot serve metrics on %s: %m",
                                               d->options->metrics_bind_address), 1;
        }
        SourceEventsOptions eo = { .reporting_controller = "berth.io/speaker", .reporting_instance = d->flags->node };
        if ((r = source_event_recorder_new(d->source, &eo, &d->events)) < 0)
                return log_error_errno(r, "cannot create the event recorder: %m"), 1;

        if (regcomp(&d->exclude, speaker_flags_exclude_interfaces(d->flags), REG_EXTENDED | REG_NOSUB) == 0)
                d->exclude_compiled = true;
        if ((r = capture_new(d->event, on_frame, d, &d->capture)) < 0)
                return log_oom(), 1;
        AnnouncerConfig ac = { .node = d->flags->node, .garp_count = d->flags->garp_count,
                               .garp_interval = d->flags->garp_interval, .garp_refresh = d->flags->garp_refresh,
                               .conflict_probe = d->flags->conflict_probe, .probe_wait = d->flags->probe_wait };
        AnnouncerIo io = { .send = io_send, .open = io_open, .close = io_close, .join = io_join, .leave = io_leave,
                           .userdata = d };
        if ((r = announcer_new(d->event, &ac, &io, d->metrics, d->events, &d->announcer)) < 0)
                return log_error_errno(r, "cannot create the announcer: %m"), 1;
        if ((r = links_new(d->event, on_links, d, &d->links)) < 0)
                return log_error_errno(r, "cannot read the links: %m"), 1;
        on_links(d->links, 0, d);

        if ((r = open_caches(d)) < 0)
                return log_error_errno(r, "cannot watch the API: %m"), 1;
        if ((r = sd_event_add_defer(d->event, &d->recompute, on_recompute, d)) < 0 ||
            (r = sd_event_source_set_enabled(d->recompute, SD_EVENT_OFF)) < 0 ||
            (r = sd_event_add_post(d->event, &d->sync_check, on_sync_check, d)) < 0 ||
            (r = sd_event_add_post(d->event, &d->slices_check, on_slices_check, d)) < 0)
                return log_error_errno(r, "cannot start: %m"), 1;
        loop_set_shutdown(d->loop, on_shutdown, d);
        return 0;
}

static void daemon_done(Daemon *d) {
        d->recompute = sd_event_source_disable_unref(d->recompute);
        d->sync_check = sd_event_source_disable_unref(d->sync_check);
        d->slices_check = sd_event_source_disable_unref(d->slices_check);
        d->lease = speaker_lease_free(d->lease);
        free(d->slice_selector);
        free(d->slice_selector_next);
        for (size_t i = 0; i < d->n_preferred_logged; i++)
                free(d->preferred_logged[i]);
        free(d->preferred_logged);
        d->announcer = announcer_free(d->announcer);
        d->capture = capture_free(d->capture);
        d->links = links_free(d->links);
        d->election = l2_election_free(d->election);
        l2_config_done(&d->lb);
        if (d->exclude_compiled)
                regfree(&d->exclude);
        d->http = http_server_free(d->http);
        /* the recorder before the source (source_events.h) */
        d->events = event_recorder_free(d->events);
        d->source = source_free(d->source);
        d->client = kube_client_free(d->client);
        d->config = kube_config_free(d->config);
        d->metrics = metrics_registry_free(d->metrics);
        d->loop = loop_free(d->loop);
        d->event = sd_event_unref(d->event);
}

int speaker_daemon_run(const CliSpec *spec, const CliOptions *o, const SpeakerFlags *f) {
        Daemon d = { .options = o, .flags = f };
        int r;

        (void) spec;
        r = sd_event_new(&d.event);
        if (r >= 0)
                r = loop_new(d.event, &d.loop);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                daemon_done(&d);
                return 1;
        }
        r = setup(&d);
        if (r == 0) {
                log_info("speaker %s watching %s", f->node, d.config->server);
                r = loop_run(d.loop);
                r = r < 0 ? 1 : r;
        }
        daemon_done(&d);
        return r;
}
