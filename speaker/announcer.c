/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announcer.h"
#include "log.h"
#include "ndp.h"

#define PROBE_SPACING (100 * USEC_PER_MSEC) /* §9: two probes 100 ms apart */
/* Bursts and probes are timed in milliseconds (§7, §9); sd-event's default
 * accuracy (250 ms) would stretch them.  Refreshes keep the default: they
 * only need to be spread, and the slack lets the kernel coalesce wake-ups. */
#define TIMER_ACCURACY USEC_PER_MSEC
/* Events are paced (a token bucket): a takeover of 1,000 IPs must not put
 * 1,000 Event writes on the wire at once.  Each write holds a libcurl
 * handle, and beyond the HTTP/2 stream limit a TLS connection of its own,
 * tens of KB each, and queues ahead of the lease renewal, which then
 * fences the node.  EVENT_BURST go out at once, then EVENT_RATE per second. */
#define EVENT_BURST 10u
#define EVENT_RATE 20u

typedef struct Owned Owned;

typedef enum PendingKind {
        PENDING_NODE_ASSIGNED,
        PENDING_ANNOUNCE_FAILED,
        PENDING_IP_CONFLICT,
} PendingKind;

/* An event not written yet.  Its note is built when it goes out, from the
 * IP's state then; an IP withdrawn meanwhile drops its events (the Service
 * is not announced from this node any more). */
typedef struct PendingEvent {
        IpAddr ip;
        PendingKind kind;
        MacAddr mac;                 /* IPConflict */
        char ifname[IF_NAMESIZE];    /* IPConflict */
} PendingEvent;

/* One interface selected for an owned IP. */
typedef struct OwnedIf {
        Owned *owned;
        AnnouncerInterface info;
        bool opened;                 /* holds a capture reference */
        bool joined;                 /* holds the solicited-node group (IPv6) */
        unsigned burst_left;         /* rounds still to send */
        sd_event_source *burst;
} OwnedIf;

typedef struct OwnedService {
        char *namespace, *name, *uid;
} OwnedService;

struct Owned {
        Announcer *announcer;
        IpAddr ip;
        char text[IP_ADDR_STRLEN];
        size_t n_services;
        OwnedService *services;
        size_t n_ifs;
        OwnedIf **ifs;
        bool failed;                 /* announceFailed emitted, not yet recovered */
        /* §9 probe */
        bool probing;
        bool conflict_found;         /* this probe already reported one (§11: once per probe) */
        unsigned probes_sent;
        sd_event_source *probe;
        /* takeover_seconds: trigger time until the first frame */
        usec_t trigger;
        bool timing;
};

struct Announcer {
        sd_event *event;
        AnnouncerConfig cfg;
        char *node;
        AnnouncerIo io;
        EventRecorder *events;
        size_t n_owned;
        Owned **owned;               /* sorted by ip */
        size_t n_local;
        MacAddr *local;
        size_t n_claimed;
        IpAddr *claimed;             /* sorted: seen in some lease's announcing */
        sd_event_source *refresh;
        size_t refresh_cursor;
        usec_t refresh_next;         /* when the IP at refresh_cursor is due */
        /* events waiting for a token, oldest first: [event_head, n_pending) */
        PendingEvent *pending;
        size_t n_pending, event_head, allocated_pending;
        double event_tokens;
        usec_t event_tokens_at;
        sd_event_source *event_timer;

        MetricFamily *m_announced, *m_requests, *m_responses, *m_gratuitous, *m_failovers, *m_takeover,
                *m_owned, *m_conflicts;
};

/* ---- small helpers ---------------------------------------------------------- */

static int ip_cmp(const void *a, const void *b) {
        return ip_addr_compare(a, b);
}

static int owned_cmp(const void *key, const void *item) {
        return ip_addr_compare(key, &(*(Owned *const *) item)->ip);
}

static Owned *find_owned(const Announcer *a, const IpAddr *ip) {
        Owned **o = bsearch_safe(ip, a->owned, a->n_owned, sizeof(*a->owned), owned_cmp);
        return o ? *o : NULL;
}

static OwnedIf *find_if(const Owned *o, int ifindex) {
        for (size_t i = 0; i < o->n_ifs; i++)
                if (o->ifs[i]->info.ifindex == ifindex)
                        return o->ifs[i];
        return NULL;
}

static bool mac_is_local(const Announcer *a, const MacAddr *m) {
        for (size_t i = 0; i < a->n_local; i++)
                if (mac_addr_equal(&a->local[i], m))
                        return true;
        return false;
}

static bool claimed(const Announcer *a, const IpAddr *ip) {
        return bsearch_safe(ip, a->claimed, a->n_claimed, sizeof(IpAddr), ip_cmp) != NULL;
}

static void count(MetricFamily *f, const Owned *o, double v) {
        if (f)
                (void) metric_add(f, (const char *const[]) { o->text }, v);
}

static int send_frame(Owned *o, OwnedIf *oif, const void *frame, size_t len) {
        Announcer *a = o->announcer;
        int r = a->io.send(a->io.userdata, oif->info.ifindex, frame, len);

        if (r < 0)
                log_debug("cannot send for %s on %s: %s", o->text, oif->info.name, strerror(-r));
        return r;
}

static void in6_from_ip(const IpAddr *ip, struct in6_addr *ret) {
        memcpy(ret, ip->bytes, sizeof(*ret));
}

/* ---- events and metrics ------------------------------------------------------ */

static void emit(Owned *o, const char *type, const char *reason, const char *action, const char *note) {
        Announcer *a = o->announcer;

        if (!a->events)
                return;
        for (size_t i = 0; i < o->n_services; i++) {
                EventObjectRef ref = { .api_version = "v1", .kind = "Service",
                                       .namespace = o->services[i].namespace, .name = o->services[i].name,
                                       .uid = o->services[i].uid };
                int r = event_recorder_emit(a->events, &ref, type, reason, action, note);
                if (r < 0)
                        log_debug("cannot record %s for %s/%s: %s", reason, o->services[i].namespace,
                                  o->services[i].name, strerror(-r));
        }
}

static usec_t now_mono(const Announcer *a) {
        usec_t t;
        if (sd_event_now(a->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

/* Writes one queued event, its note built from the IP's state now. */
static void pending_write(Announcer *a, const PendingEvent *ev) {
        Owned *o = find_owned(a, &ev->ip);
        char note[512], m[MAC_ADDR_STRLEN];

        if (!o)
                return; /* withdrawn meanwhile */
        switch (ev->kind) {
        case PENDING_NODE_ASSIGNED:
                snprintf(note, sizeof note, "announcing from node \"%s\" with protocol \"layer2\"", a->node);
                emit(o, "Normal", "nodeAssigned", "Announce", note);
                break;
        case PENDING_ANNOUNCE_FAILED:
                if (!o->failed)
                        return; /* recovered meanwhile */
                snprintf(note, sizeof note,
                         "the interfaces specified by LB IP \"%s\" doesn't exist in assigned node \"%s\" with "
                         "protocol \"layer2\"",
                         o->text, a->node);
                emit(o, "Warning", "announceFailed", "Announce", note);
                break;
        case PENDING_IP_CONFLICT:
                mac_addr_format(&ev->mac, m);
                snprintf(note, sizeof note,
                         "IP \"%s\" is already in use by %s on interface %s of node \"%s\"; announcing anyway",
                         o->text, m, ev->ifname, a->node);
                emit(o, "Warning", "IPConflict", "ProbeIP", note);
                break;
        }
}

static int on_event_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Writes queued events while tokens last; arms the timer for the rest. */
static void events_flush(Announcer *a) {
        usec_t now = now_mono(a);

        if (now > a->event_tokens_at) {
                a->event_tokens += (double) (now - a->event_tokens_at) * EVENT_RATE / USEC_PER_SEC;
                if (a->event_tokens > EVENT_BURST)
                        a->event_tokens = EVENT_BURST;
        }
        a->event_tokens_at = now;
        while (a->event_head < a->n_pending && a->event_tokens >= 1.0) {
                PendingEvent ev = a->pending[a->event_head++];
                a->event_tokens -= 1.0;
                pending_write(a, &ev);
        }
        if (a->event_head == a->n_pending) {
                /* drained: the queue holds nothing between takeovers */
                a->pending = mfree(a->pending);
                a->n_pending = a->event_head = a->allocated_pending = 0;
                if (a->event_timer)
                        (void) sd_event_source_set_enabled(a->event_timer, SD_EVENT_OFF);
                return;
        }
        usec_t when = now + (usec_t) ((1.0 - a->event_tokens) * USEC_PER_SEC / EVENT_RATE) + 1;
        if (!a->event_timer) {
                int r = sd_event_add_time(a->event, &a->event_timer, CLOCK_MONOTONIC, when, 0, on_event_timer, a);
                if (r < 0)
                        log_debug("cannot schedule events: %s", strerror(-r));
                return;
        }
        (void) sd_event_source_set_time(a->event_timer, when);
        (void) sd_event_source_set_enabled(a->event_timer, SD_EVENT_ONESHOT);
}

static int on_event_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        events_flush(userdata);
        return 0;
}

static void queue_event(Owned *o, PendingKind kind, const MacAddr *mac, const char *ifname) {
        Announcer *a = o->announcer;
        PendingEvent *ev;

        if (!a->events)
                return;
        if (a->event_head > 0 && a->event_head >= a->n_pending / 2) {
                memmove(a->pending, a->pending + a->event_head, (a->n_pending - a->event_head) * sizeof(*ev));
                a->n_pending -= a->event_head;
                a->event_head = 0;
        }
        if (a->n_pending == a->allocated_pending) {
                size_t m = a->allocated_pending ? a->allocated_pending * 2 : 16;
                ev = reallocarray(a->pending, m, sizeof(*ev));
                if (!ev) {
                        log_debug("out of memory queueing an event for %s", o->text);
                        return;
                }
                a->pending = ev;
                a->allocated_pending = m;
        }
        ev = &a->pending[a->n_pending++];
        *ev = (PendingEvent) { .ip = o->ip, .kind = kind };
        if (mac)
                ev->mac = *mac;
        if (ifname)
                snprintf(ev->ifname, sizeof ev->ifname, "%s", ifname);
        events_flush(a);
}

static void announced_series(Owned *o, bool on) {
        Announcer *a = o->announcer;

        if (!a->m_announced)
                return;
        for (size_t i = 0; i < o->n_services; i++) {
                char key[512];
                snprintf(key, sizeof key, "%s/%s", o->services[i].namespace, o->services[i].name);
                const char *labels[] = { key, "layer2", a->node, o->text };
                if (on)
                        (void) metric_set(a->m_announced, labels, 1);
                else
                        (void) metric_remove(a->m_announced, labels);
        }
}

static void owned_gauge(Announcer *a) {
        if (a->m_owned)
                (void) metric_set(a->m_owned, NULL, (double) a->n_owned);
}

/* ---- rounds ------------------------------------------------------------------ */

/* First frame after a takeover: berth_speaker_takeover_seconds. */
static void first_frame(Owned *o) {
        Announcer *a = o->announcer;
        usec_t now;

        if (!o->timing)
                return;
        o->timing = false;
        if (a->m_takeover && sd_event_now(a->event, CLOCK_MONOTONIC, &now) >= 0 && now >= o->trigger)
                (void) metric_observe(a->m_takeover, NULL, (double) (now - o->trigger) / USEC_PER_SEC);
}

/* One gratuitous round for o on oif (§7 request+reply form; §8 unsolicited NA). */
static void send_round(Owned *o, OwnedIf *oif) {
        if (o->ip.family == IP_FAMILY_V4) {
                uint8_t buf[ARP_FRAME_SIZE];
                if (!oif->info.broadcast)
                        return;
                if (arp_build_gratuitous(buf, &oif->info.mac, &o->ip, ARP_OP_REQUEST) > 0 &&
                    send_frame(o, oif, buf, sizeof buf) >= 0)
                        count(o->announcer->m_gratuitous, o, 1);
                first_frame(o);
                if (arp_build_gratuitous(buf, &oif->info.mac, &o->ip, ARP_OP_REPLY) > 0 &&
                    send_frame(o, oif, buf, sizeof buf) >= 0)
                        count(o->announcer->m_gratuitous, o, 1);
        } else {
                uint8_t buf[NDP_FRAME_MAX];
                int len;
                if (!oif->info.has_link_local)
                        return;
                len = ndp_build_unsolicited_na(buf, &oif->info.mac, &oif->info.link_local, &o->ip);
                if (len > 0 && send_frame(o, oif, buf, (size_t) len) >= 0)
                        count(o->announcer->m_gratuitous, o, 1);
                first_frame(o);
        }
}

static int on_burst(sd_event_source *s, uint64_t usec, void *userdata) {
        OwnedIf *oif = userdata;

        (void) usec;
        if (oif->burst_left > 0) {
                send_round(oif->owned, oif);
                oif->burst_left--;
        }
        if (oif->burst_left > 0)
                return sd_event_source_set_time_relative(s, oif->owned->announcer->cfg.garp_interval);
        /* The burst is over: an idle IP holds no event source (about 300
         * bytes each; refreshes share the announcer's one timer). */
        oif->burst = sd_event_source_disable_unref(oif->burst);
        return 0;
}

/* A takeover burst on oif: the first round now, then every --garp-interval. */
static void burst_start(OwnedIf *oif) {
        Announcer *a = oif->owned->announcer;
        int r;

        send_round(oif->owned, oif);
        oif->burst_left = a->cfg.garp_count > 0 ? a->cfg.garp_count - 1 : 0;
        if (oif->burst_left == 0)
                return;
        if (!oif->burst) {
                r = sd_event_add_time_relative(a->event, &oif->burst, CLOCK_MONOTONIC, a->cfg.garp_interval,
                                               TIMER_ACCURACY,
                                               on_burst, oif);
                if (r < 0) {
                        log_warning_errno(r, "cannot schedule the burst of %s: %m", oif->owned->text);
                        return;
                }
        } else
                (void) sd_event_source_set_time_relative(oif->burst, a->cfg.garp_interval);
        (void) sd_event_source_set_enabled(oif->burst, SD_EVENT_ON);
}

/* ---- interfaces ---------------------------------------------------------------- */

static int if_attach(Owned *o, OwnedIf *oif) {
        Announcer *a = o->announcer;
        int r;

        r = a->io.open(a->io.userdata, oif->info.ifindex, oif->info.name);
        if (r < 0)
                return r;
        oif->opened = true;
        if (o->ip.family == IP_FAMILY_V6 && oif->info.has_link_local && a->io.join) {
                IpAddr group;
                struct in6_addr g;
                ndp_solicited_node(&o->ip, &group);
                in6_from_ip(&group, &g);
                if (a->io.join(a->io.userdata, &g, oif->info.ifindex) >= 0)
                        oif->joined = true;
        }
        return 0;
}

static OwnedIf *if_free(OwnedIf *oif) {
        Announcer *a;

        if (!oif)
                return NULL;
        a = oif->owned->announcer;
        oif->burst = sd_event_source_disable_unref(oif->burst);
        if (oif->joined && a->io.leave) {
                IpAddr group;
                struct in6_addr g;
                ndp_solicited_node(&oif->owned->ip, &group);
                in6_from_ip(&group, &g);
                a->io.leave(a->io.userdata, &g, oif->info.ifindex);
        }
        if (oif->opened)
                a->io.close(a->io.userdata, oif->info.ifindex);
        free(oif);
        return NULL;
}

static void set_failed(Owned *o, bool failed) {
        if (failed == o->failed)
                return;
        o->failed = failed;
        if (failed)
                queue_event(o, PENDING_ANNOUNCE_FAILED, NULL, NULL);
}

/* ---- probe (§9) ------------------------------------------------------------------ */

static void send_probe(Owned *o) {
        for (size_t i = 0; i < o->n_ifs; i++) {
                OwnedIf *oif = o->ifs[i];
                if (o->ip.family == IP_FAMILY_V4) {
                        uint8_t buf[ARP_FRAME_SIZE];
                        if (oif->info.broadcast && arp_build_probe(buf, &oif->info.mac, &o->ip) > 0)
                                (void) send_frame(o, oif, buf, sizeof buf);
                } else {
                        uint8_t buf[NDP_PROBE_FRAME_LEN];
                        if (oif->info.has_link_local && ndp_build_probe(buf, &oif->info.mac, &o->ip) > 0)
                                (void) send_frame(o, oif, buf, sizeof buf);
                }
        }
        o->probes_sent++;
}

static void announce_start(Owned *o) {
        o->probing = false;
        o->probe = sd_event_source_disable_unref(o->probe);
        for (size_t i = 0; i < o->n_ifs; i++)
                burst_start(o->ifs[i]);
}

static int on_probe(sd_event_source *s, uint64_t usec, void *userdata) {
        Owned *o = userdata;
        Announcer *a = o->announcer;

        (void) usec;
        if (o->probes_sent < 2) {
                send_probe(o);
                /* the window runs --probe-wait from the first probe */
                usec_t rest = a->cfg.probe_wait > PROBE_SPACING ? a->cfg.probe_wait - PROBE_SPACING : 0;
                int r = sd_event_source_set_time_relative(s, rest);
                /* timers are one-shot: arm it again */
                return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        announce_start(o);
        return 0;
}

static void conflict(Owned *o, const MacAddr *mac, const OwnedIf *oif) {
        char m[MAC_ADDR_STRLEN];

        if (o->conflict_found)
                return;
        o->conflict_found = true;

        mac_addr_format(mac, m);
        log_warning("IP \"%s\" is already in use by %s on interface %s of node \"%s\"; announcing anyway", o->text,
                    m, oif->info.name, o->announcer->node);
        queue_event(o, PENDING_IP_CONFLICT, mac, oif->info.name);
        count(o->announcer->m_conflicts, o, 1);
}

/* ---- owned IPs ------------------------------------------------------------------- */

static void owned_free(Owned *o) {
        for (size_t i = 0; i < o->n_ifs; i++)
                if_free(o->ifs[i]);
        free(o->ifs);
        o->probe = sd_event_source_disable_unref(o->probe);
        for (size_t i = 0; i < o->n_services; i++) {
                free(o->services[i].namespace);
                free(o->services[i].name);
                free(o->services[i].uid);
        }
        free(o->services);
        free(o);
}

static int set_services(Owned *o, const AnnouncerService *services, size_t n) {
        OwnedService *s = new0(OwnedService, n ? n : 1);

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                s[i].namespace = strdup(strempty(services[i].namespace));
                s[i].name = strdup(strempty(services[i].name));
                s[i].uid = services[i].uid ? strdup(services[i].uid) : NULL;
                if (!s[i].namespace || !s[i].name || (services[i].uid && !s[i].uid)) {
                        for (size_t k = 0; k <= i; k++) {
                                free(s[k].namespace);
                                free(s[k].name);
                                free(s[k].uid);
                        }
                        free(s);
                        return -ENOMEM;
                }
        }
        announced_series(o, false);
        for (size_t i = 0; i < o->n_services; i++) {
                free(o->services[i].namespace);
                free(o->services[i].name);
                free(o->services[i].uid);
        }
        free(o->services);
        o->services = s;
        o->n_services = n;
        announced_series(o, true);
        return 0;
}

/* Brings o's interfaces to ifs: deselected ones stop at once, new ones
 * are attached and (unless the IP is still probing or new) burst alone. */
static int set_interfaces(Owned *o, const AnnouncerInterface *ifs, size_t n, bool burst_new) {
        OwnedIf **kept = new0(OwnedIf *, n ? n : 1);
        size_t n_kept = 0;

        if (!kept)
                return -ENOMEM;
        for (size_t i = 0; i < o->n_ifs; i++) {
                bool still = false;
                for (size_t k = 0; k < n && !still; k++)
                        still = ifs[k].ifindex == o->ifs[i]->info.ifindex;
                if (!still)
                        if_free(o->ifs[i]);
        }
        for (size_t k = 0; k < n; k++) {
                OwnedIf *oif = find_if(o, ifs[k].ifindex);
                if (oif) {
                        oif->info = ifs[k]; /* name, MAC, link-local may change */
                        kept[n_kept++] = oif;
                        continue;
                }
                oif = new0(OwnedIf, 1);
                if (!oif)
                        continue;
                oif->owned = o;
                oif->info = ifs[k];
                if (if_attach(o, oif) < 0) {
                        if_free(oif);
                        continue;
                }
                kept[n_kept++] = oif;
                if (burst_new && !o->probing)
                        burst_start(oif);
        }
        free(o->ifs);
        o->ifs = kept;
        o->n_ifs = n_kept;
        set_failed(o, n_kept == 0);
        return 0;
}

static const char *reason_label(AnnouncerReason r) {
        switch (r) {
        case ANNOUNCER_REASON_EXPIRED:
                return "expired";
        case ANNOUNCER_REASON_LEFT:
                return "left";
        case ANNOUNCER_REASON_PREEMPTED:
                return "preempted";
        case ANNOUNCER_REASON_INELIGIBLE:
                return "ineligible";
        default:
                return NULL;
        }
}

static void refresh_schedule(Announcer *a);

int announcer_set(Announcer *a, const IpAddr *ip, const AnnouncerService *services, size_t n_services,
                  const AnnouncerInterface *ifs, size_t n_ifs, AnnouncerReason reason, usec_t trigger_usec) {
        Owned *o = find_owned(a, ip), **p;
        size_t pos;
        int r;

        if (o) {
                r = set_services(o, services, n_services);
                if (r >= 0)
                        r = set_interfaces(o, ifs, n_ifs, true);
                return r;
        }

        o = new0(Owned, 1);
        if (!o)
                return -ENOMEM;
        o->announcer = a;
        o->ip = *ip;
        ip_addr_format(ip, o->text);
        if (trigger_usec == 0)
                (void) sd_event_now(a->event, CLOCK_MONOTONIC, &trigger_usec);
        o->trigger = trigger_usec;
        o->timing = true;
        p = realloc(a->owned, (a->n_owned + 1) * sizeof(*p));
        if (!p) {
                free(o);
                return -ENOMEM;
        }
        a->owned = p;
        for (pos = 0; pos < a->n_owned && ip_addr_compare(&a->owned[pos]->ip, ip) < 0; pos++)
                ;
        memmove(a->owned + pos + 1, a->owned + pos, (a->n_owned - pos) * sizeof(*p));
        a->owned[pos] = o;
        a->n_owned++;

        r = set_services(o, services, n_services);
        if (r < 0) {
                (void) announcer_withdraw(a, ip);
                return r;
        }
        o->probing = a->cfg.conflict_probe && !claimed(a, ip);
        (void) set_interfaces(o, ifs, n_ifs, false);

        queue_event(o, PENDING_NODE_ASSIGNED, NULL, NULL);
        if (reason_label(reason) && a->m_failovers)
                (void) metric_inc(a->m_failovers, (const char *const[]) { reason_label(reason) });
        owned_gauge(a);
        /* From now on other speakers see it in our lease: no second probe. */
        (void) announcer_note_claimed(a, ip);

        if (o->probing && o->n_ifs > 0) {
                send_probe(o);
                r = sd_event_add_time_relative(a->event, &o->probe, CLOCK_MONOTONIC, PROBE_SPACING,
                                               TIMER_ACCURACY, on_probe, o);
                if (r < 0)
                        announce_start(o);
        } else
                announce_start(o);
        refresh_schedule(a);
        return 0;
}

int announcer_withdraw(Announcer *a, const IpAddr *ip) {
        Owned **p = bsearch_safe(ip, a->owned, a->n_owned, sizeof(*a->owned), owned_cmp);
        size_t i;

        if (!p)
                return 0;
        i = (size_t) (p - a->owned);
        Owned *o = *p;
        memmove(a->owned + i, a->owned + i + 1, (a->n_owned - i - 1) * sizeof(*a->owned));
        a->n_owned--;
        announced_series(o, false);
        owned_free(o);
        owned_gauge(a);
        refresh_schedule(a);
        return 1;
}

void announcer_withdraw_all(Announcer *a) {
        while (a->n_owned > 0)
                (void) announcer_withdraw(a, &a->owned[a->n_owned - 1]->ip);
}

void announcer_burst_all(Announcer *a) {
        for (size_t i = 0; i < a->n_owned; i++) {
                Owned *o = a->owned[i];
                if (o->probing)
                        continue;
                for (size_t k = 0; k < o->n_ifs; k++)
                        burst_start(o->ifs[k]);
        }
}

int announcer_note_claimed(Announcer *a, const IpAddr *ip) {
        IpAddr *p;
        size_t pos;

        if (claimed(a, ip))
                return 0;
        p = realloc(a->claimed, (a->n_claimed + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        a->claimed = p;
        for (pos = 0; pos < a->n_claimed && ip_addr_compare(&p[pos], ip) < 0; pos++)
                ;
        memmove(p + pos + 1, p + pos, (a->n_claimed - pos) * sizeof(*p));
        p[pos] = *ip;
        a->n_claimed++;
        return 0;
}

bool announcer_owns(const Announcer *a, const IpAddr *ip) {
        return find_owned(a, ip) != NULL;
}

int announcer_owned(const Announcer *a, IpAddr **ret, size_t *ret_n) {
        IpAddr *ips = NULL;

        if (a->n_owned > 0) {
                ips = new0(IpAddr, a->n_owned);
                if (!ips)
                        return -ENOMEM;
                for (size_t i = 0; i < a->n_owned; i++)
                        ips[i] = a->owned[i]->ip;
        }
        *ret = ips;
        *ret_n = a->n_owned;
        return 0;
}

int announcer_set_local_macs(Announcer *a, const MacAddr *macs, size_t n) {
        MacAddr *copy = NULL;

        if (n > 0) {
                copy = new0(MacAddr, n);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, macs, n * sizeof(*copy));
        }
        free(a->local);
        a->local = copy;
        a->n_local = n;
        return 0;
}

/* ---- refresh (§7): IP i of n at i·interval/n -------------------------------------- */

/* Each wake-up sends every IP whose slot has come, so the timer may keep
 * sd-event's default accuracy (wake-ups coalesce, a few per second) while
 * every IP is still refreshed once per --garp-refresh. */
static int on_refresh(sd_event_source *s, uint64_t usec, void *userdata) {
        Announcer *a = userdata;
        usec_t now = usec, step;

        if (a->n_owned == 0)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_now(a->event, CLOCK_MONOTONIC, &now);
        step = a->cfg.garp_refresh / a->n_owned;
        if (step == 0)
                step = 1;
        /* After a long stall (suspend) do not catch up with a storm. */
        if (a->refresh_next + a->cfg.garp_refresh < now)
                a->refresh_next = now;
        for (size_t sent = 0; sent < a->n_owned && a->refresh_next <= now; sent++) {
                if (a->refresh_cursor >= a->n_owned)
                        a->refresh_cursor = 0;
                Owned *o = a->owned[a->refresh_cursor++];
                if (!o->probing)
                        for (size_t i = 0; i < o->n_ifs; i++)
                                send_round(o, o->ifs[i]);
                a->refresh_next += step;
        }
        int r = sd_event_source_set_time(s, a->refresh_next);
        /* timers are one-shot: arm it again */
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void refresh_schedule(Announcer *a) {
        int enabled = SD_EVENT_OFF;
        usec_t now;
        int r;

        if (a->cfg.garp_refresh == 0)
                return;
        if (a->n_owned == 0) {
                if (a->refresh)
                        (void) sd_event_source_set_enabled(a->refresh, SD_EVENT_OFF);
                return;
        }
        if (a->refresh)
                (void) sd_event_source_get_enabled(a->refresh, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        now = now_mono(a);
        a->refresh_next = now + a->cfg.garp_refresh / a->n_owned;
        if (!a->refresh) {
                r = sd_event_add_time(a->event, &a->refresh, CLOCK_MONOTONIC, a->refresh_next, 0, on_refresh, a);
                if (r < 0)
                        log_warning_errno(r, "cannot schedule refreshes: %m");
                return;
        }
        (void) sd_event_source_set_time(a->refresh, a->refresh_next);
        (void) sd_event_source_set_enabled(a->refresh, SD_EVENT_ONESHOT);
}

/* ---- receive path: answers synchronously -------------------------------------------- */

static void handle_arp(Announcer *a, int ifindex, const ArpFrame *f) {
        if (mac_is_local(a, &f->eth_src) || mac_is_local(a, &f->sha))
                return;
        /* §9: during a probe window, any frame with spa = x is a conflict */
        Owned *claimant = find_owned(a, &f->spa);
        if (claimant && claimant->probing) {
                OwnedIf *oif = find_if(claimant, ifindex);
                if (oif && arp_claims(f, &claimant->ip))
                        conflict(claimant, &f->sha, oif);
        }
        Owned *o = find_owned(a, &f->tpa);
        if (!o || o->probing)
                return;
        OwnedIf *oif = find_if(o, ifindex);
        if (!oif || !oif->info.broadcast || !arp_wants_answer(f, &oif->info.mac))
                return;
        count(a->m_requests, o, 1);
        uint8_t buf[ARP_FRAME_SIZE];
        if (arp_build_reply(buf, &oif->info.mac, f) > 0 && send_frame(o, oif, buf, sizeof buf) >= 0)
                count(a->m_responses, o, 1);
}

static void handle_ndp(Announcer *a, int ifindex, const NdpFrame *f) {
        if (mac_is_local(a, &f->eth_src))
                return;
        Owned *o = find_owned(a, &f->target);
        if (!o)
                return;
        OwnedIf *oif = find_if(o, ifindex);
        if (!oif)
                return;
        if (f->type == NDP_TYPE_NA) {
                /* NAs matter only inside a probe window (§6) */
                if (o->probing && ndp_na_claims(f, &o->ip))
                        conflict(o, f->has_lladdr ? &f->lladdr : &f->eth_src, oif);
                return;
        }
        if (o->probing || !oif->info.has_link_local || !ndp_ns_wants_answer(f, &oif->info.mac))
                return;
        count(a->m_requests, o, 1);
        uint8_t buf[NDP_FRAME_MAX];
        int len = ndp_build_na_reply(buf, &oif->info.mac, &oif->info.link_local, f);
        if (len > 0 && send_frame(o, oif, buf, (size_t) len) >= 0)
                count(a->m_responses, o, 1);
}

void announcer_handle_frame(Announcer *a, int ifindex, const uint8_t *frame, size_t len) {
        ArpFrame arp;
        NdpFrame ndp;

        if (arp_parse(frame, len, &arp) >= 0)
                handle_arp(a, ifindex, &arp);
        else if (ndp_parse(frame, len, &ndp) >= 0)
                handle_ndp(a, ifindex, &ndp);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int register_metrics(Announcer *a, MetricsRegistry *m) {
        static const char *const ip[] = { "ip", NULL };
        static const char *const announced[] = { "service", "protocol", "node", "ip", NULL };
        static const char *const reason[] = { "reason", NULL };
        double buckets[12];
        int r;

        metrics_exponential_buckets(0.005, 2, ELEMENTSOF(buckets), buckets);
        if ((r = metrics_gauge(m, "metallb_speaker_announced", "1 while this node announces the IP for the Service",
                               announced, &a->m_announced)) < 0 ||
            (r = metrics_counter(m, "metallb_layer2_requests_received",
                                 "ARP requests and Neighbour Solicitations received for an owned IP", ip,
                                 &a->m_requests)) < 0 ||
            (r = metrics_counter(m, "metallb_layer2_responses_sent", "ARP replies and solicited NAs sent", ip,
                                 &a->m_responses)) < 0 ||
            (r = metrics_counter(m, "metallb_layer2_gratuitous_sent",
                                 "Gratuitous ARP and unsolicited NA frames sent (bursts and refresh)", ip,
                                 &a->m_gratuitous)) < 0 ||
            (r = metrics_counter(m, "berth_speaker_failovers_total",
                                 "Takeovers by this node of an IP another node announced", reason,
                                 &a->m_failovers)) < 0 ||
            (r = metrics_histogram(m, "berth_speaker_takeover_seconds",
                                   "Time from the takeover trigger to the first frame", NULL, buckets,
                                   ELEMENTSOF(buckets), &a->m_takeover)) < 0 ||
            (r = metrics_gauge(m, "berth_speaker_owned_ips", "IPs this node announces", NULL, &a->m_owned)) < 0 ||
            (r = metrics_counter(m, "berth_speaker_ip_conflicts_total",
                                 "Conflict probes that found another holder of the IP", ip, &a->m_conflicts)) < 0)
                return r;
        return metric_set(a->m_owned, NULL, 0);
}

int announcer_new(sd_event *event, const AnnouncerConfig *cfg, const AnnouncerIo *io, MetricsRegistry *metrics,
                  EventRecorder *events, Announcer **ret) {
        Announcer *a;
        int r;

        if (!io->send || !io->open || !io->close)
                return -EINVAL;
        a = new0(Announcer, 1);
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);
        a->cfg = *cfg;
        a->node = strdup(strempty(cfg->node));
        a->cfg.node = a->node;
        a->io = *io;
        a->events = events;
        a->event_tokens = EVENT_BURST;
        if (!a->node) {
                announcer_free(a);
                return -ENOMEM;
        }
        if (metrics && (r = register_metrics(a, metrics)) < 0) {
                announcer_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

Announcer *announcer_free(Announcer *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_owned; i++)
                owned_free(a->owned[i]);
        free(a->owned);
        a->refresh = sd_event_source_disable_unref(a->refresh);
        a->event_timer = sd_event_source_disable_unref(a->event_timer);
        free(a->pending);
        free(a->local);
        free(a->claimed);
        free(a->node);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}
