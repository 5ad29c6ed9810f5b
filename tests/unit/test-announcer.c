/* SPDX-License-Identifier: Apache-2.0 */
/* The announcer (speaker.md §7-§9, §11, §12): ARP answered synchronously
 * from the receive path with §7's fields, frames from local MACs dropped, a
 * takeover burst of --garp-count rounds (request and reply form), nothing
 * answered or sent after withdraw, and the capture reference released;
 * NDP (§8): solicited NA fields, DAD answered to ff02::1, hop limit 255
 * only, unsolicited NA bursts, the solicited-node group joined once per
 * (IP, interface) and left with it; the conflict probe (§9): a claim inside
 * the window gives the exact IPConflict note and the counter once, outside
 * the window nothing, and the announcement proceeds. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announcer.h"
#include "ndp.h"

#define MAX_FRAMES 256

typedef struct Wire {
        size_t n;
        uint8_t frames[MAX_FRAMES][128];
        size_t lens[MAX_FRAMES];
        int opened;
        int joined;                     /* solicited-node groups held */
        struct in6_addr group;          /* the last one joined */
        /* Events written (the recorder's sink): reason and note of the last */
        size_t n_events;
        char last_event[2048];
} Wire;

static int io_send(void *userdata, int ifindex, const void *frame, size_t len) {
        Wire *w = userdata;
        assert_int_equal(ifindex, 7);
        assert_true(w->n < MAX_FRAMES && len <= 128);
        memcpy(w->frames[w->n], frame, len);
        w->lens[w->n++] = len;
        return 0;
}

static int io_open(void *userdata, int ifindex, const char *ifname) {
        (void) ifindex;
        assert_string_equal(ifname, "eth0");
        ((Wire *) userdata)->opened++;
        return 0;
}

static void io_close(void *userdata, int ifindex) {
        (void) ifindex;
        ((Wire *) userdata)->opened--;
}

static int io_join(void *userdata, const struct in6_addr *group, int ifindex) {
        Wire *w = userdata;
        assert_int_equal(ifindex, 7);
        w->group = *group;
        w->joined++;
        return 0;
}

static void io_leave(void *userdata, const struct in6_addr *group, int ifindex) {
        Wire *w = userdata;
        assert_int_equal(ifindex, 7);
        assert_memory_equal(group, &w->group, sizeof(*group));
        w->joined--;
}

static int sink(EventRecorder *r, const EventWrite *ew, void *userdata) {
        Wire *w = userdata;
        (void) r;
        w->n_events++;
        snprintf(w->last_event, sizeof w->last_event, "%s", ew->body);
        return 0;
}

static const MacAddr if_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const MacAddr peer_mac = { { 0x02, 0, 0, 0, 0, 0x99 } };

typedef struct Fixture {
        sd_event *event;
        Wire wire;
        Announcer *a;
        MetricsRegistry *metrics;
        EventRecorder *events;
} Fixture;

static int setup_with(void **state, bool probe, usec_t refresh) {
        Fixture *f = calloc(1, sizeof(*f));
        AnnouncerConfig cfg = { .node = "alpha", .garp_count = 3, .garp_interval = 20 * USEC_PER_MSEC,
                                .garp_refresh = refresh, .conflict_probe = probe, .probe_wait = 200 * USEC_PER_MSEC };
        AnnouncerIo io = { .send = io_send, .open = io_open, .close = io_close, .join = io_join, .leave = io_leave,
                           .userdata = &f->wire };
        EventRecorderOptions eo = { .reporting_controller = "berth.io/speaker", .reporting_instance = "alpha",
                                    .sink = sink, .sink_userdata = &f->wire };

        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        assert_int_equal(event_recorder_new(&eo, &f->events), 0);
        assert_int_equal(announcer_new(f->event, &cfg, &io, f->metrics, f->events, &f->a), 0);
        assert_int_equal(announcer_set_local_macs(f->a, &if_mac, 1), 0);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_with(state, false, 0);
}

static int setup_refresh(void **state) {
        return setup_with(state, false, 100 * USEC_PER_MSEC);
}

static int setup_probe(void **state) {
        return setup_with(state, true, 0);
}

static int teardown(void **state) {
        Fixture *f = *state;
        announcer_free(f->a);
        event_recorder_free(f->events);
        metrics_registry_free(f->metrics);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

static void own(Fixture *f, const char *ip) {
        AnnouncerInterface ifc = { .ifindex = 7, .name = "eth0", .mac = if_mac, .broadcast = true,
                                   .has_link_local = true };
        AnnouncerService svc = { .namespace = "default", .name = "svc", .uid = "u1" };
        IpAddr x;

        assert_int_equal(ip_addr_parse("fe80::1", &ifc.link_local), 0);
        assert_int_equal(ip_addr_parse(ip, &x), 0);
        assert_int_equal(announcer_set(f->a, &x, &svc, 1, &ifc, 1, ANNOUNCER_REASON_NONE, 0), 0);
}

static void run_for(Fixture *f, usec_t d) {
        usec_t start, now;
        assert_true(sd_event_now(f->event, CLOCK_MONOTONIC, &start) >= 0);
        do {
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
                assert_true(sd_event_now(f->event, CLOCK_MONOTONIC, &now) >= 0);
        } while (now - start < d);
}

/* Events are paced (10 at once, then 20/s): a takeover of many IPs writes
 * its nodeAssigned Events over time, never all at once, while the frames
 * go out at once; an IP withdrawn before its Event went out drops it. */
static void test_events_paced(void **state) {
        Fixture *f = *state;
        AnnouncerInterface ifc = { .ifindex = 7, .name = "eth0", .mac = if_mac, .broadcast = true };
        char name[16], text[IP_ADDR_STRLEN];
        IpAddr x;

        for (int i = 0; i < 30; i++) {
                snprintf(name, sizeof name, "svc%d", i);
                snprintf(text, sizeof text, "192.0.2.%d", 100 + i);
                AnnouncerService svc = { .namespace = "default", .name = name, .uid = name };
                assert_int_equal(ip_addr_parse(text, &x), 0);
                assert_int_equal(announcer_set(f->a, &x, &svc, 1, &ifc, 1, ANNOUNCER_REASON_NONE, 0), 0);
        }
        assert_int_equal(f->wire.n, 60); /* every first round at once */
        assert_int_equal(f->wire.n_events, 10);
        assert_non_null(strstr(f->wire.last_event, "\"reason\":\"nodeAssigned\""));
        assert_non_null(strstr(f->wire.last_event, "announcing from node \\\"alpha\\\" with protocol \\\"layer2\\\""));
        assert_int_equal(announcer_withdraw(f->a, &x), 1); /* 192.0.2.129, still queued */
        run_for(f, 200 * USEC_PER_MSEC);
        assert_true(f->wire.n_events > 10);
        assert_true(f->wire.n_events < 29);
        run_for(f, 1500 * USEC_PER_MSEC);
        assert_int_equal(f->wire.n_events, 29);
        assert_non_null(strstr(f->wire.last_event, "\"name\":\"svc28\""));
}

static void request(const MacAddr *from, const char *spa, const char *tpa, uint8_t buf[ARP_FRAME_SIZE]) {
        ArpFrame rq = { .eth_dst = MAC_ADDR_BROADCAST, .eth_src = *from, .op = ARP_OP_REQUEST, .sha = *from,
                        .tha = MAC_ADDR_ZERO };
        assert_int_equal(ip_addr_parse(spa, &rq.spa), 0);
        assert_int_equal(ip_addr_parse(tpa, &rq.tpa), 0);
        assert_int_equal(arp_build(buf, &rq), ARP_FRAME_SIZE);
}

static void test_burst(void **state) {
        Fixture *f = *state;
        ArpFrame g;
        IpAddr x;

        own(f, "192.0.2.10");
        assert_int_equal(f->wire.opened, 1);
        /* the first round goes out at once: request form, then reply form */
        assert_int_equal(f->wire.n, 2);
        assert_int_equal(ip_addr_parse("192.0.2.10", &x), 0);
        assert_int_equal(arp_parse(f->wire.frames[0], f->wire.lens[0], &g), 0);
        assert_int_equal(f->wire.lens[0], 60);
        assert_int_equal(g.op, ARP_OP_REQUEST);
        assert_true(mac_addr_is_broadcast(&g.eth_dst));
        assert_true(mac_addr_is_zero(&g.tha));
        assert_true(ip_addr_equal(&g.spa, &x) && ip_addr_equal(&g.tpa, &x));
        assert_int_equal(arp_parse(f->wire.frames[1], f->wire.lens[1], &g), 0);
        assert_int_equal(g.op, ARP_OP_REPLY);
        assert_true(mac_addr_is_broadcast(&g.tha));
        /* --garp-count 3 rounds in all, then nothing more */
        run_for(f, 100 * USEC_PER_MSEC);
        assert_int_equal(f->wire.n, 6);
        /* metallb_layer2_gratuitous_sent{ip}: +2 per interface per round (§12) */
        MetricFamily *g_sent = NULL;
        double v = 0;
        assert_int_equal(metrics_counter(f->metrics, "metallb_layer2_gratuitous_sent", "x",
                                         (const char *const[]) { "ip", NULL }, &g_sent), 0);
        assert_int_equal(metric_get(g_sent, (const char *const[]) { "192.0.2.10" }, &v, NULL), 0);
        assert_true(v == 6);
}

static void test_answer(void **state) {
        Fixture *f = *state;
        uint8_t buf[ARP_FRAME_SIZE];
        ArpFrame reply, rq;

        own(f, "192.0.2.10");
        f->wire.n = 0;
        request(&peer_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        /* answered synchronously, before the loop runs again */
        assert_int_equal(f->wire.n, 1);
        assert_int_equal(arp_parse(f->wire.frames[0], f->wire.lens[0], &reply), 0);
        assert_int_equal(arp_parse(buf, sizeof buf, &rq), 0);
        assert_int_equal(reply.op, ARP_OP_REPLY);
        assert_true(mac_addr_equal(&reply.eth_src, &if_mac) && mac_addr_equal(&reply.sha, &if_mac));
        assert_true(mac_addr_equal(&reply.eth_dst, &peer_mac) && mac_addr_equal(&reply.tha, &peer_mac));
        assert_true(ip_addr_equal(&reply.spa, &rq.tpa) && ip_addr_equal(&reply.tpa, &rq.spa));

        /* a probe from 0.0.0.0 is answered the same way */
        request(&peer_mac, "0.0.0.0", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        assert_int_equal(f->wire.n, 2);

        /* not owned, another interface, or from a local MAC: dropped */
        request(&peer_mac, "192.0.2.1", "192.0.2.11", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        request(&peer_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 8, buf, sizeof buf);
        request(&if_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        assert_int_equal(f->wire.n, 2);
}

static void test_withdraw(void **state) {
        Fixture *f = *state;
        uint8_t buf[ARP_FRAME_SIZE];
        IpAddr x, *owned = NULL;
        size_t n = 9;

        own(f, "192.0.2.10");
        assert_int_equal(announcer_owned(f->a, &owned, &n), 0);
        assert_int_equal(n, 1);
        free(owned);
        assert_int_equal(ip_addr_parse("192.0.2.10", &x), 0);
        assert_int_equal(announcer_withdraw(f->a, &x), 1);
        assert_int_equal(f->wire.opened, 0);
        f->wire.n = 0;
        /* no answer, and the remaining burst rounds are cancelled */
        request(&peer_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        run_for(f, 60 * USEC_PER_MSEC);
        assert_int_equal(f->wire.n, 0);
        assert_false(announcer_owns(f->a, &x));
}

static double counter(Fixture *f, const char *name, const char *ip) {
        MetricFamily *m = NULL;
        double v = 0;
        /* registering again returns the family the announcer registered */
        assert_int_equal(metrics_counter(f->metrics, name, "x", (const char *const[]) { "ip", NULL }, &m), 0);
        if (metric_get(m, (const char *const[]) { ip }, &v, NULL) < 0)
                return 0;
        return v;
}

static void assert_ip(const IpAddr *a, const char *text) {
        IpAddr x;
        assert_int_equal(ip_addr_parse(text, &x), 0);
        assert_true(ip_addr_equal(a, &x));
}

static const MacAddr slla_mac = { { 0x02, 0, 0, 0, 0, 0x77 } };
static const MacAddr all_nodes_mac = { { 0x33, 0x33, 0, 0, 0, 0x01 } };

/* An NS for target from src (":: " for DAD) to the solicited-node group of
 * target, or to target itself when unicast; slla: the option, or NULL. */
static size_t ns(uint8_t buf[NDP_FRAME_MAX], const char *src, const char *target, bool unicast, const MacAddr *slla,
                 uint8_t hop_limit) {
        NdpFrame f = { .eth_src = peer_mac, .hop_limit = hop_limit, .type = NDP_TYPE_NS };
        IpAddr group;
        int len;

        assert_int_equal(ip_addr_parse(src, &f.ip6_src), 0);
        assert_int_equal(ip_addr_parse(target, &f.target), 0);
        ndp_solicited_node(&f.target, &group);
        if (unicast) {
                f.ip6_dst = f.target;
                f.eth_dst = if_mac;
        } else {
                f.ip6_dst = group;
                ndp_multicast_mac(&group, &f.eth_dst);
        }
        if (slla) {
                f.has_lladdr = true;
                f.lladdr = *slla;
        }
        len = ndp_build(buf, NDP_FRAME_MAX, &f);
        assert_true(len > 0);
        return (size_t) len;
}

static void test_ndp_burst_and_group(void **state) {
        Fixture *f = *state;
        NdpFrame na;
        IpAddr x, group;
        struct in6_addr g;

        own(f, "2001:db8::a");
        /* the solicited-node group ff02::1:ff00:a, joined once */
        assert_int_equal(f->wire.joined, 1);
        assert_int_equal(ip_addr_parse("ff02::1:ff00:a", &group), 0);
        memcpy(&g, group.bytes, sizeof g);
        assert_memory_equal(&f->wire.group, &g, sizeof g);
        /* the first unsolicited NA goes out at once (§8): to ff02::1, S=0, O=1, TLLA */
        assert_int_equal(f->wire.n, 1);
        assert_int_equal(ndp_parse(f->wire.frames[0], f->wire.lens[0], &na), 0);
        assert_int_equal(na.type, NDP_TYPE_NA);
        assert_int_equal(na.hop_limit, 255);
        assert_true(mac_addr_equal(&na.eth_dst, &all_nodes_mac) && mac_addr_equal(&na.eth_src, &if_mac));
        assert_ip(&na.ip6_dst, "ff02::1");
        assert_ip(&na.ip6_src, "fe80::1");
        assert_ip(&na.target, "2001:db8::a");
        assert_false(na.solicited);
        assert_true(na.override);
        assert_false(na.router);
        assert_true(na.has_lladdr && mac_addr_equal(&na.lladdr, &if_mac));
        /* the same schedule as ARP: --garp-count rounds; +1 per interface per round */
        run_for(f, 100 * USEC_PER_MSEC);
        assert_int_equal(f->wire.n, 3);
        assert_true(counter(f, "metallb_layer2_gratuitous_sent", "2001:db8::a") == 3);
        /* the group is left with the IP */
        assert_int_equal(ip_addr_parse("2001:db8::a", &x), 0);
        assert_int_equal(announcer_withdraw(f->a, &x), 1);
        assert_int_equal(f->wire.joined, 0);
        assert_int_equal(f->wire.opened, 0);
}

static void test_ndp_answer(void **state) {
        Fixture *f = *state;
        uint8_t buf[NDP_FRAME_MAX];
        NdpFrame na;
        size_t len;

        own(f, "2001:db8::a");
        f->wire.n = 0;

        /* to the solicited-node group with an SLLA option: NA to the NS
         * source, Ethernet dst = the SLLA, R=0 S=1 O=1, TLLA = our MAC */
        len = ns(buf, "2001:db8::1", "2001:db8::a", false, &slla_mac, 255);
        announcer_handle_frame(f->a, 7, buf, len);
        assert_int_equal(f->wire.n, 1);
        assert_int_equal(ndp_parse(f->wire.frames[0], f->wire.lens[0], &na), 0); /* checksum verified */
        assert_int_equal(na.type, NDP_TYPE_NA);
        assert_true(mac_addr_equal(&na.eth_dst, &slla_mac) && mac_addr_equal(&na.eth_src, &if_mac));
        assert_ip(&na.ip6_src, "fe80::1");
        assert_ip(&na.ip6_dst, "2001:db8::1");
        assert_ip(&na.target, "2001:db8::a");
        assert_int_equal(na.hop_limit, 255);
        assert_false(na.router);
        assert_true(na.solicited && na.override);
        assert_true(na.has_lladdr && mac_addr_equal(&na.lladdr, &if_mac));

        /* a unicast NUD probe without SLLA: Ethernet dst = the frame's source */
        len = ns(buf, "2001:db8::1", "2001:db8::a", true, NULL, 255);
        announcer_handle_frame(f->a, 7, buf, len);
        assert_int_equal(f->wire.n, 2);
        assert_int_equal(ndp_parse(f->wire.frames[1], f->wire.lens[1], &na), 0);
        assert_true(mac_addr_equal(&na.eth_dst, &peer_mac));
        assert_true(na.solicited && na.override);

        /* DAD on our address (source ::): NA to ff02::1, S=0, O=1, TLLA */
        len = ns(buf, "::", "2001:db8::a", false, NULL, 255);
        announcer_handle_frame(f->a, 7, buf, len);
        assert_int_equal(f->wire.n, 3);
        assert_int_equal(ndp_parse(f->wire.frames[2], f->wire.lens[2], &na), 0);
        assert_true(mac_addr_equal(&na.eth_dst, &all_nodes_mac));
        assert_ip(&na.ip6_dst, "ff02::1");
        assert_ip(&na.ip6_src, "fe80::1");
        assert_false(na.solicited);
        assert_true(na.override);
        assert_true(na.has_lladdr && mac_addr_equal(&na.lladdr, &if_mac));

        /* hop limit other than 255, a target not owned, another interface: ignored */
        len = ns(buf, "2001:db8::1", "2001:db8::a", false, &slla_mac, 254);
        announcer_handle_frame(f->a, 7, buf, len);
        len = ns(buf, "2001:db8::1", "2001:db8::b", false, &slla_mac, 255);
        announcer_handle_frame(f->a, 7, buf, len);
        len = ns(buf, "2001:db8::1", "2001:db8::a", false, &slla_mac, 255);
        announcer_handle_frame(f->a, 8, buf, len);
        assert_int_equal(f->wire.n, 3);
        assert_true(counter(f, "metallb_layer2_requests_received", "2001:db8::a") == 3);
        assert_true(counter(f, "metallb_layer2_responses_sent", "2001:db8::a") == 3);
}

static void claim(Fixture *f, const char *ip) {
        uint8_t buf[ARP_FRAME_SIZE];
        ArpFrame rp = { .eth_dst = MAC_ADDR_BROADCAST, .eth_src = peer_mac, .op = ARP_OP_REPLY, .sha = peer_mac,
                        .tha = MAC_ADDR_BROADCAST };
        assert_int_equal(ip_addr_parse(ip, &rp.spa), 0);
        rp.tpa = rp.spa;
        assert_int_equal(arp_build(buf, &rp), ARP_FRAME_SIZE);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
}

static void test_probe_conflict(void **state) {
        Fixture *f = *state;
        uint8_t buf[ARP_FRAME_SIZE];
        ArpFrame p;
        IpAddr zero;

        f->wire.n_events = 0;
        own(f, "192.0.2.10");
        /* nodeAssigned first; then the probe (spa 0.0.0.0, tha zero), no GARP yet */
        size_t events_before = f->wire.n_events;
        assert_int_equal(f->wire.n, 1);
        assert_int_equal(arp_parse(f->wire.frames[0], f->wire.lens[0], &p), 0);
        assert_int_equal(p.op, ARP_OP_REQUEST);
        assert_int_equal(ip_addr_parse("0.0.0.0", &zero), 0);
        assert_true(ip_addr_equal(&p.spa, &zero));
        assert_true(mac_addr_is_zero(&p.tha));
        assert_ip(&p.tpa, "192.0.2.10");
        /* not answered while probing */
        request(&peer_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        assert_int_equal(f->wire.n, 1);

        /* another host claims it inside the window: the exact note, the counter, once */
        claim(f, "192.0.2.10");
        claim(f, "192.0.2.10");
        assert_int_equal(f->wire.n_events, events_before + 1);
        assert_non_null(strstr(f->wire.last_event, "\"reason\":\"IPConflict\""));
        assert_non_null(strstr(f->wire.last_event, "\"action\":\"ProbeIP\""));
        assert_non_null(strstr(f->wire.last_event,
                               "\"note\":\"IP \\\"192.0.2.10\\\" is already in use by 02:00:00:00:00:99 on interface "
                               "eth0 of node \\\"alpha\\\"; announcing anyway\""));
        assert_true(counter(f, "berth_speaker_ip_conflicts_total", "192.0.2.10") == 1);

        /* the second probe 100 ms later, then the announcement anyway */
        run_for(f, 250 * USEC_PER_MSEC);
        assert_true(f->wire.n >= 4);
        assert_int_equal(arp_parse(f->wire.frames[1], f->wire.lens[1], &p), 0);
        assert_true(ip_addr_equal(&p.spa, &zero));
        assert_int_equal(arp_parse(f->wire.frames[2], f->wire.lens[2], &p), 0);
        assert_ip(&p.spa, "192.0.2.10"); /* the burst's first round */

        /* outside the window a claim is no conflict, and requests are answered */
        size_t n = f->wire.n, ev = f->wire.n_events;
        claim(f, "192.0.2.10");
        assert_int_equal(f->wire.n_events, ev);
        assert_true(counter(f, "berth_speaker_ip_conflicts_total", "192.0.2.10") == 1);
        request(&peer_mac, "192.0.2.1", "192.0.2.10", buf);
        announcer_handle_frame(f->a, 7, buf, sizeof buf);
        assert_int_equal(f->wire.n, n + 1);
}

static void test_probe_quiet_and_skipped(void **state) {
        Fixture *f = *state;
        ArpFrame p;
        IpAddr x;

        /* no claim inside the window: no event beyond nodeAssigned, no counter */
        own(f, "192.0.2.10");
        size_t ev = f->wire.n_events;
        run_for(f, 250 * USEC_PER_MSEC);
        assert_int_equal(f->wire.n_events, ev);
        assert_true(counter(f, "berth_speaker_ip_conflicts_total", "192.0.2.10") == 0);

        /* an IP some lease listed is not probed: the burst starts at once */
        f->wire.n = 0;
        assert_int_equal(ip_addr_parse("192.0.2.11", &x), 0);
        assert_int_equal(announcer_note_claimed(f->a, &x), 0);
        own(f, "192.0.2.11");
        assert_int_equal(f->wire.n, 2);
        assert_int_equal(arp_parse(f->wire.frames[0], f->wire.lens[0], &p), 0);
        assert_ip(&p.spa, "192.0.2.11");
}

/* §7 refresh: every --garp-refresh, one round per owned IP, spread over the
 * interval (2 IPs: one every 50 ms), and it keeps going. */
static void test_refresh(void **state) {
        Fixture *f = *state;

        own(f, "192.0.2.10");
        own(f, "192.0.2.11");
        run_for(f, 80 * USEC_PER_MSEC); /* the bursts: 3 rounds × 2 frames × 2 IPs */
        assert_int_equal(f->wire.n, 12);
        run_for(f, 310 * USEC_PER_MSEC); /* refreshes at about 50, 100, ... 350 ms */
        assert_true(f->wire.n >= 12 + 2 * 5);
        assert_true(f->wire.n <= 12 + 2 * 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ndp_burst_and_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ndp_answer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_conflict, setup_probe, teardown),
                cmocka_unit_test_setup_teardown(test_probe_quiet_and_skipped, setup_probe, teardown),
                cmocka_unit_test_setup_teardown(test_refresh, setup_refresh, teardown),
                cmocka_unit_test_setup_teardown(test_events_paced, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
