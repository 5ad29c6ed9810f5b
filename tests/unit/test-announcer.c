/* SPDX-License-Identifier: Apache-2.0 */
/* The announcer (speaker.md §7, §9, §12): ARP answered synchronously from
 * the receive path with §7's fields, frames from local MACs dropped, a
 * takeover burst of --garp-count rounds (request and reply form), nothing
 * answered or sent after withdraw, and the capture reference released. */
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

#define MAX_FRAMES 64

typedef struct Wire {
        size_t n;
        uint8_t frames[MAX_FRAMES][128];
        size_t lens[MAX_FRAMES];
        int opened;
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

static const MacAddr if_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const MacAddr peer_mac = { { 0x02, 0, 0, 0, 0, 0x99 } };

typedef struct Fixture {
        sd_event *event;
        Wire wire;
        Announcer *a;
        MetricsRegistry *metrics;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        AnnouncerConfig cfg = { .node = "alpha", .garp_count = 3, .garp_interval = 20 * USEC_PER_MSEC,
                                .garp_refresh = 0, .conflict_probe = false, .probe_wait = 200 * USEC_PER_MSEC };
        AnnouncerIo io = { .send = io_send, .open = io_open, .close = io_close, .userdata = &f->wire };

        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(metrics_registry_new(&f->metrics), 0);
        assert_int_equal(announcer_new(f->event, &cfg, &io, f->metrics, NULL, &f->a), 0);
        assert_int_equal(announcer_set_local_macs(f->a, &if_mac, 1), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        announcer_free(f->a);
        metrics_registry_free(f->metrics);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

static void own(Fixture *f, const char *ip) {
        AnnouncerInterface ifc = { .ifindex = 7, .name = "eth0", .mac = if_mac, .broadcast = true };
        AnnouncerService svc = { .namespace = "default", .name = "svc", .uid = "u1" };
        IpAddr x;

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
