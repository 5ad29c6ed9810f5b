/* SPDX-License-Identifier: Apache-2.0 */
/* ARP and NDP frames (speaker.md §7, §8, §9 probes): byte-exact builders,
 * parsers, every rejection path and the frame-local answering predicates.
 *
 * Source of the expected bytes: written by hand from RFC 826 / RFC 5227 /
 * RFC 4861 field by field.  The ICMPv6 checksums were computed once with a
 * small independent Python 3 snippet (ipaddress + struct: sum of 16-bit
 * words over the RFC 8200 §8.1 pseudo-header and the message, folded,
 * complemented), not with the code under test; the probe's 0x4cdb was also
 * checked by hand: ff02+0001+ff00+000a (dst) + 0018 (length) + 003a (next
 * header) + 8700 (type) + 2001+0db8+000a (target) = 0x2b322, folded 0xb324,
 * complement 0x4cdb. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "macros.h"
#include "ndp.h"

static const MacAddr if_mac = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
static const MacAddr peer_mac = { { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef } };

static IpAddr ip(const char *s) {
        IpAddr a;

        assert_int_equal(ip_addr_parse(s, &a), 0);
        return a;
}

static void assert_ip(const IpAddr *a, const char *want) {
        char buf[IP_ADDR_STRLEN];

        assert_string_equal(ip_addr_format(a, buf), want);
}

static void assert_mac(const MacAddr *m, const char *want) {
        char buf[MAC_ADDR_STRLEN];

        assert_string_equal(mac_addr_format(m, buf), want);
}

static void assert_frame(int len, const uint8_t *got, const uint8_t *want, size_t want_len) {
        assert_int_equal(len, (int) want_len);
        assert_memory_equal(got, want, want_len);
}

/* ---- ARP ---- */

/* who-has 192.0.2.10 tell 192.0.2.1, as a Linux host sends it (60 bytes). */
static const uint8_t arp_request[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* eth dst: broadcast */
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* eth src: peer */
        0x08, 0x06,                         /* ethertype ARP */
        0x00, 0x01,                         /* htype Ethernet */
        0x08, 0x00,                         /* ptype IPv4 */
        0x06, 0x04,                         /* hlen, plen */
        0x00, 0x01,                         /* op request */
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* sha: peer */
        0xc0, 0x00, 0x02, 0x01,             /* spa 192.0.2.1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* tha: unknown */
        0xc0, 0x00, 0x02, 0x0a,             /* tpa 192.0.2.10 */
        /* 18 bytes of padding */
};

static const uint8_t arp_reply_expected[60] = {
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* eth dst: the requester's eth src */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src: interface MAC */
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
        0x00, 0x02,                         /* op reply */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* sha: interface MAC */
        0xc0, 0x00, 0x02, 0x0a,             /* spa: x = 192.0.2.10 */
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* tha: the requester's sha */
        0xc0, 0x00, 0x02, 0x01,             /* tpa: the requester's spa */
        /* zero padding to 60 */
};

static const uint8_t garp_request_expected[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* eth dst: broadcast */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src: interface MAC */
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
        0x00, 0x01,                         /* op request */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* sha */
        0xc0, 0x00, 0x02, 0x0a,             /* spa x */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* tha zero (RFC 5227) */
        0xc0, 0x00, 0x02, 0x0a,             /* tpa x */
};

static const uint8_t garp_reply_expected[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* eth dst: broadcast */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src */
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
        0x00, 0x02,                         /* op reply */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* sha */
        0xc0, 0x00, 0x02, 0x0a,             /* spa x */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* tha broadcast */
        0xc0, 0x00, 0x02, 0x0a,             /* tpa x */
};

static const uint8_t arp_probe_expected[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* eth dst: broadcast */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src */
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
        0x00, 0x01,                         /* op request */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* sha */
        0x00, 0x00, 0x00, 0x00,             /* spa 0.0.0.0 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* tha zero */
        0xc0, 0x00, 0x02, 0x0a,             /* tpa x */
};

static void test_mac_format(void **state) {
        (void) state;
        assert_mac(&if_mac, "52:54:00:12:34:56");
        assert_mac(&MAC_ADDR_BROADCAST, "ff:ff:ff:ff:ff:ff");
        assert_true(mac_addr_is_broadcast(&MAC_ADDR_BROADCAST));
        assert_true(mac_addr_is_zero(&MAC_ADDR_ZERO));
        assert_false(mac_addr_is_zero(&if_mac));
}

static void test_arp_parse_request(void **state) {
        ArpFrame f;

        (void) state;
        assert_int_equal(arp_parse(arp_request, sizeof arp_request, &f), 0);
        assert_true(mac_addr_is_broadcast(&f.eth_dst));
        assert_mac(&f.eth_src, "52:54:00:ab:cd:ef");
        assert_int_equal(f.op, ARP_OP_REQUEST);
        assert_mac(&f.sha, "52:54:00:ab:cd:ef");
        assert_ip(&f.spa, "192.0.2.1");
        assert_true(mac_addr_is_zero(&f.tha));
        assert_ip(&f.tpa, "192.0.2.10");
        /* Without the padding (a frame captured before the NIC padded it). */
        assert_int_equal(arp_parse(arp_request, ARP_FRAME_LEN, &f), 0);
}

static void test_arp_reply(void **state) {
        uint8_t buf[ARP_FRAME_SIZE];
        ArpFrame req;

        (void) state;
        assert_int_equal(arp_parse(arp_request, sizeof arp_request, &req), 0);
        memset(buf, 0xaa, sizeof buf); /* the padding must be written as zeros */
        assert_frame(arp_build_reply(buf, &if_mac, &req), buf, arp_reply_expected, sizeof arp_reply_expected);
}

static void test_arp_reply_to_probe(void **state) {
        uint8_t probe[ARP_FRAME_SIZE], buf[ARP_FRAME_SIZE];
        IpAddr x = ip("192.0.2.10");
        ArpFrame req, reply;

        /* A peer's RFC 5227 probe (spa 0.0.0.0) is answered the same way:
         * tpa of the reply is then 0.0.0.0. */
        (void) state;
        assert_int_equal(arp_build_probe(probe, &peer_mac, &x), ARP_FRAME_SIZE);
        assert_int_equal(arp_parse(probe, sizeof probe, &req), 0);
        assert_true(arp_wants_answer(&req, &if_mac));
        assert_int_equal(arp_build_reply(buf, &if_mac, &req), ARP_FRAME_SIZE);
        assert_int_equal(arp_parse(buf, sizeof buf, &reply), 0);
        assert_int_equal(reply.op, ARP_OP_REPLY);
        assert_ip(&reply.spa, "192.0.2.10");
        assert_ip(&reply.tpa, "0.0.0.0");
        assert_true(mac_addr_equal(&reply.tha, &peer_mac));
        assert_true(mac_addr_equal(&reply.eth_dst, &peer_mac));
}

static void test_garp_and_probe(void **state) {
        uint8_t buf[ARP_FRAME_SIZE];
        IpAddr x = ip("192.0.2.10");

        (void) state;
        memset(buf, 0xaa, sizeof buf);
        assert_frame(arp_build_gratuitous(buf, &if_mac, &x, ARP_OP_REQUEST), buf, garp_request_expected,
                     sizeof garp_request_expected);
        memset(buf, 0xaa, sizeof buf);
        assert_frame(arp_build_gratuitous(buf, &if_mac, &x, ARP_OP_REPLY), buf, garp_reply_expected,
                     sizeof garp_reply_expected);
        memset(buf, 0xaa, sizeof buf);
        assert_frame(arp_build_probe(buf, &if_mac, &x), buf, arp_probe_expected, sizeof arp_probe_expected);
}

static void test_arp_build_einval(void **state) {
        uint8_t buf[ARP_FRAME_SIZE];
        IpAddr x6 = ip("2001:db8::a"), x = ip("192.0.2.10");

        (void) state;
        assert_int_equal(arp_build_gratuitous(buf, &if_mac, &x6, ARP_OP_REQUEST), -EINVAL);
        assert_int_equal(arp_build_gratuitous(buf, &if_mac, &x, 3), -EINVAL);
        assert_int_equal(arp_build_probe(buf, &if_mac, &x6), -EINVAL);
}

static void test_arp_round_trip(void **state) {
        ArpFrame f = {
                .eth_dst = peer_mac, .eth_src = if_mac, .op = 0x1234, .sha = if_mac,
                .spa = ip("10.1.2.3"), .tha = peer_mac, .tpa = ip("255.255.255.255"),
        }, back;
        uint8_t buf[ARP_FRAME_SIZE];

        (void) state;
        assert_int_equal(arp_build(buf, &f), ARP_FRAME_SIZE);
        assert_int_equal(arp_parse(buf, sizeof buf, &back), 0);
        assert_true(mac_addr_equal(&back.eth_dst, &f.eth_dst));
        assert_true(mac_addr_equal(&back.eth_src, &f.eth_src));
        assert_int_equal(back.op, f.op);
        assert_true(mac_addr_equal(&back.sha, &f.sha));
        assert_true(ip_addr_equal(&back.spa, &f.spa));
        assert_true(mac_addr_equal(&back.tha, &f.tha));
        assert_true(ip_addr_equal(&back.tpa, &f.tpa));
}

static void test_arp_rejections(void **state) {
        static const size_t truncated[] = { 0, 1, 13, 14, 21, 41 };
        static const struct {
                size_t offset;
                uint8_t value;
        } not_ours[] = {
                { 13, 0x00 }, { 12, 0x86 }, /* ethertype 0x0800 (IPv4), 0x8606 */
                { 15, 0x06 },               /* htype 6 (IEEE 802) */
                { 16, 0x86 },               /* ptype 0x8600 */
                { 18, 0x08 },               /* hlen 8 */
                { 19, 0x10 },               /* plen 16 */
        };
        uint8_t frame[64];
        ArpFrame f = { .op = 77 };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(truncated); i++)
                assert_int_equal(arp_parse(arp_request, truncated[i], &f), -EBADMSG);
        for (size_t i = 0; i < ELEMENTSOF(not_ours); i++) {
                memcpy(frame, arp_request, sizeof arp_request);
                frame[not_ours[i].offset] = not_ours[i].value;
                assert_int_equal(arp_parse(frame, sizeof arp_request, &f), -EPROTONOSUPPORT);
        }
        /* 802.1Q tag (VLAN 100) in front of the ARP ethertype: not ours. */
        memcpy(frame, arp_request, 12);
        memcpy(frame + 12, (const uint8_t[]) { 0x81, 0x00, 0x00, 0x64 }, 4);
        memcpy(frame + 16, arp_request + 12, 48);
        assert_int_equal(arp_parse(frame, sizeof frame, &f), -EPROTONOSUPPORT);
        assert_int_equal(f.op, 77); /* ret untouched on failure */
}

static void test_arp_predicates(void **state) {
        IpAddr x = ip("192.0.2.10"), other = ip("192.0.2.11");
        ArpFrame req, f;

        (void) state;
        assert_int_equal(arp_parse(arp_request, sizeof arp_request, &req), 0);
        assert_true(arp_is_request(&req));
        assert_true(arp_wants_answer(&req, &if_mac)); /* broadcast */

        f = req;
        f.eth_dst = if_mac; /* unicast refresh of a neighbour cache entry */
        assert_true(arp_wants_answer(&f, &if_mac));
        f.eth_dst = peer_mac; /* seen in promiscuous mode, for someone else */
        assert_false(arp_eth_dst_accepts(&f, &if_mac));
        assert_false(arp_wants_answer(&f, &if_mac));
        f = req;
        f.op = ARP_OP_REPLY;
        assert_false(arp_wants_answer(&f, &if_mac));

        /* §9: only spa = x claims x; a request for x (tpa) does not. */
        f = req;
        assert_false(arp_claims(&f, &x));
        f.spa = x;
        assert_true(arp_claims(&f, &x));
        assert_false(arp_claims(&f, &other));
}

/* ---- NDP ---- */

/* NS from 2001:db8::1 for 2001:db8::a to its solicited-node group, with an
 * SLLA option that differs from the Ethernet source on purpose. */
static const uint8_t ns_frame[86] = {
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, /* eth dst: 33:33:ff:00:00:0a */
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* eth src: peer */
        0x86, 0xdd,                         /* ethertype IPv6 */
        0x60, 0x00, 0x00, 0x00,             /* version 6, tc 0, flow 0 */
        0x00, 0x20,                         /* payload length 32 */
        0x3a, 0xff,                         /* next header 58, hop limit 255 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* src 2001:db8::1 */
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x0a, /* dst ff02::1:ff00:a */
        0x87, 0x00,                         /* type 135, code 0 */
        0xfe, 0x16,                         /* checksum (python) */
        0x00, 0x00, 0x00, 0x00,             /* reserved */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, /* target 2001:db8::a */
        0x01, 0x01, 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01, /* SLLA, length 1: 52:54:00:ab:cd:01 */
};

static const uint8_t na_reply_expected[86] = {
        0x52, 0x54, 0x00, 0xab, 0xcd, 0x01, /* eth dst: the NS's SLLA */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src: interface MAC */
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00,
        0x00, 0x20,                         /* payload length 32 */
        0x3a, 0xff,                         /* next header 58, hop limit 255 */
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56, /* src: link-local */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* dst: the NS source */
        0x88, 0x00,                         /* type 136, code 0 */
        0xb1, 0x2c,                         /* checksum (python) */
        0x60, 0x00, 0x00, 0x00,             /* R=0 S=1 O=1 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, /* target x */
        0x02, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* TLLA: interface MAC */
};

/* Someone runs DAD for 2001:db8::a: NS from ::, no SLLA. */
static const uint8_t dad_ns_frame[78] = {
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, /* eth dst: 33:33:ff:00:00:0a */
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, /* eth src: peer */
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00,
        0x00, 0x18,                         /* payload length 24 */
        0x3a, 0xff,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* src :: */
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x0a, /* dst ff02::1:ff00:a */
        0x87, 0x00,
        0x4c, 0xdb,                         /* checksum (python, and by hand) */
        0x00, 0x00, 0x00, 0x00,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, /* target */
};

/* The answer to a DAD NS and the unsolicited NA are the same frame. */
static const uint8_t na_all_nodes_expected[86] = {
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, /* eth dst: 33:33:00:00:00:01 */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src */
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00,
        0x00, 0x20,
        0x3a, 0xff,
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56, /* src: link-local */
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* dst ff02::1 */
        0x88, 0x00,
        0x1f, 0xe3,                         /* checksum (python) */
        0x20, 0x00, 0x00, 0x00,             /* R=0 S=0 O=1 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
        0x02, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* TLLA */
};

/* The §9 probe: as dad_ns_frame, sent by us. */
static const uint8_t ns_probe_expected[78] = {
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, /* eth dst: solicited-node MAC of x */
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, /* eth src: interface MAC */
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00,
        0x00, 0x18,
        0x3a, 0xff,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* src :: */
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x0a,
        0x87, 0x00,
        0x4c, 0xdb,                         /* checksum: the MACs are not in the pseudo-header */
        0x00, 0x00, 0x00, 0x00,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
        /* no SLLA option */
};

/* A peer's NA claiming 2001:db8::a (what a §9 probe may hear). */
static const uint8_t peer_na_frame[86] = {
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
        0x86, 0xdd,
        0x60, 0x00, 0x00, 0x00,
        0x00, 0x20,
        0x3a, 0xff,
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0xab, 0xcd, 0xef, /* fe80::5054:ff:feab:cdef */
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x88, 0x00,
        0xeb, 0x7d,                         /* checksum (python) */
        0x20, 0x00, 0x00, 0x00,             /* O=1 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
        0x02, 0x01, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
};

static IpAddr link_local(void) {
        return ip("fe80::5054:ff:fe12:3456");
}

/* Recomputes the checksum of a mutated frame, so that a rejection test
 * reaches the check it is about. */
static void fix_checksum(uint8_t *frame) {
        IpAddr src = { .family = IP_FAMILY_V6 }, dst = { .family = IP_FAMILY_V6 };
        size_t plen = (size_t) frame[18] << 8 | frame[19];
        uint16_t c;

        memcpy(src.bytes, frame + 22, 16);
        memcpy(dst.bytes, frame + 38, 16);
        frame[56] = frame[57] = 0;
        c = icmp6_checksum(&src, &dst, frame + 54, plen);
        frame[56] = (uint8_t) (c >> 8);
        frame[57] = (uint8_t) c;
}

static void test_ndp_parse_ns(void **state) {
        NdpFrame f;

        (void) state;
        assert_int_equal(ndp_parse(ns_frame, sizeof ns_frame, &f), 0);
        assert_mac(&f.eth_dst, "33:33:ff:00:00:0a");
        assert_mac(&f.eth_src, "52:54:00:ab:cd:ef");
        assert_ip(&f.ip6_src, "2001:db8::1");
        assert_ip(&f.ip6_dst, "ff02::1:ff00:a");
        assert_int_equal(f.hop_limit, 255);
        assert_int_equal(f.type, NDP_TYPE_NS);
        assert_false(f.router || f.solicited || f.override);
        assert_ip(&f.target, "2001:db8::a");
        assert_true(f.has_lladdr);
        assert_mac(&f.lladdr, "52:54:00:ab:cd:01");

        assert_int_equal(ndp_parse(dad_ns_frame, sizeof dad_ns_frame, &f), 0);
        assert_ip(&f.ip6_src, "::");
        assert_false(f.has_lladdr);

        assert_int_equal(ndp_parse(peer_na_frame, sizeof peer_na_frame, &f), 0);
        assert_int_equal(f.type, NDP_TYPE_NA);
        assert_false(f.router);
        assert_false(f.solicited);
        assert_true(f.override);
        assert_true(f.has_lladdr);
        assert_mac(&f.lladdr, "52:54:00:ab:cd:ef");
}

static void test_ndp_parse_extras(void **state) {
        uint8_t frame[128];
        NdpFrame f;

        (void) state;
        /* Ethernet padding after the IPv6 payload is ignored. */
        memcpy(frame, dad_ns_frame, sizeof dad_ns_frame);
        memset(frame + sizeof dad_ns_frame, 0, 8);
        assert_int_equal(ndp_parse(frame, sizeof dad_ns_frame + 8, &f), 0);

        /* An unknown option (nonce, type 14) and a TLLA in an NS are skipped;
         * the SLLA behind them is found. */
        memcpy(frame, ns_frame, 78);
        memcpy(frame + 78, (const uint8_t[]) { 14, 1, 1, 2, 3, 4, 5, 6 }, 8);
        memcpy(frame + 86, (const uint8_t[]) { 2, 1, 9, 9, 9, 9, 9, 9 }, 8);
        memcpy(frame + 94, ns_frame + 78, 8);
        frame[19] = 24 + 24;
        fix_checksum(frame);
        assert_int_equal(ndp_parse(frame, 102, &f), 0);
        assert_true(f.has_lladdr);
        assert_mac(&f.lladdr, "52:54:00:ab:cd:01");

        /* NA flags R, S and O are read independently. */
        memcpy(frame, peer_na_frame, sizeof peer_na_frame);
        frame[58] = 0xc0; /* R=1 S=1 O=0, reserved bits after them ignored */
        fix_checksum(frame);
        assert_int_equal(ndp_parse(frame, sizeof peer_na_frame, &f), 0);
        assert_true(f.router);
        assert_true(f.solicited);
        assert_false(f.override);
}

static void test_na_reply(void **state) {
        uint8_t buf[NDP_FRAME_MAX];
        IpAddr ll = link_local();
        NdpFrame ns;

        (void) state;
        assert_int_equal(ndp_parse(ns_frame, sizeof ns_frame, &ns), 0);
        assert_true(ndp_ns_wants_answer(&ns, &if_mac));
        memset(buf, 0xaa, sizeof buf);
        assert_frame(ndp_build_na_reply(buf, &if_mac, &ll, &ns), buf, na_reply_expected, sizeof na_reply_expected);

        assert_int_equal(ndp_parse(dad_ns_frame, sizeof dad_ns_frame, &ns), 0);
        assert_true(ndp_ns_wants_answer(&ns, &if_mac));
        memset(buf, 0xaa, sizeof buf);
        assert_frame(ndp_build_na_reply(buf, &if_mac, &ll, &ns), buf, na_all_nodes_expected,
                     sizeof na_all_nodes_expected);
}

static void test_na_reply_without_slla(void **state) {
        /* A unicast NUD probe to x itself, without SLLA: the NA goes to the
         * frame's Ethernet source. */
        NdpFrame ns = {
                .eth_dst = if_mac, .eth_src = peer_mac, .ip6_src = ip("2001:db8::1"),
                .ip6_dst = ip("2001:db8::a"), .hop_limit = 255, .type = NDP_TYPE_NS,
                .target = ip("2001:db8::a"),
        }, parsed, na;
        uint8_t buf[NDP_FRAME_MAX];
        IpAddr ll = link_local();
        int len;

        (void) state;
        len = ndp_build(buf, sizeof buf, &ns);
        assert_int_equal(len, NDP_PROBE_FRAME_LEN);
        assert_int_equal(ndp_parse(buf, (size_t) len, &parsed), 0);
        assert_true(ndp_ns_wants_answer(&parsed, &if_mac));
        assert_int_equal(ndp_build_na_reply(buf, &if_mac, &ll, &parsed), NDP_FRAME_MAX);
        assert_int_equal(ndp_parse(buf, NDP_FRAME_MAX, &na), 0);
        assert_true(mac_addr_equal(&na.eth_dst, &peer_mac));
        assert_true(mac_addr_equal(&na.eth_src, &if_mac));
        assert_ip(&na.ip6_src, "fe80::5054:ff:fe12:3456");
        assert_ip(&na.ip6_dst, "2001:db8::1");
        assert_int_equal(na.hop_limit, 255);
        assert_false(na.router);
        assert_true(na.solicited);
        assert_true(na.override);
        assert_true(na.has_lladdr);
        assert_true(mac_addr_equal(&na.lladdr, &if_mac));
}

static void test_unsolicited_na_and_probe(void **state) {
        uint8_t buf[NDP_FRAME_MAX];
        IpAddr ll = link_local(), x = ip("2001:db8::a");

        (void) state;
        memset(buf, 0xaa, sizeof buf);
        assert_frame(ndp_build_unsolicited_na(buf, &if_mac, &ll, &x), buf, na_all_nodes_expected,
                     sizeof na_all_nodes_expected);
        memset(buf, 0xaa, sizeof buf);
        assert_frame(ndp_build_probe(buf, &if_mac, &x), buf, ns_probe_expected, sizeof ns_probe_expected);
}

static void test_solicited_node(void **state) {
        IpAddr x = ip("2001:db8::1:2345:6789"), g;
        MacAddr m;

        (void) state;
        ndp_solicited_node(&x, &g);
        assert_ip(&g, "ff02::1:ff45:6789");
        ndp_multicast_mac(&g, &m);
        assert_mac(&m, "33:33:ff:45:67:89");
        g = ip("ff02::1");
        ndp_multicast_mac(&g, &m);
        assert_mac(&m, "33:33:00:00:00:01");
}

static void test_icmp6_checksum(void **state) {
        IpAddr src = ip("2001:db8::1"), dst = ip("ff02::1:ff00:a");
        uint8_t icmp[32];

        (void) state;
        memcpy(icmp, ns_frame + 54, sizeof icmp);
        assert_int_equal(icmp6_checksum(&src, &dst, icmp, sizeof icmp), 0); /* verifies */
        icmp[2] = icmp[3] = 0;
        assert_int_equal(icmp6_checksum(&src, &dst, icmp, sizeof icmp), 0xfe16);
        /* Odd length: the last byte is padded with a zero byte. */
        assert_int_equal(icmp6_checksum(&src, &dst, (const uint8_t[]) { 0x01 }, 1),
                         icmp6_checksum(&src, &dst, (const uint8_t[]) { 0x01, 0x00 }, 1));
}

static void assert_ndp_equal(const NdpFrame *a, const NdpFrame *b) {
        assert_true(mac_addr_equal(&a->eth_dst, &b->eth_dst));
        assert_true(mac_addr_equal(&a->eth_src, &b->eth_src));
        assert_true(ip_addr_equal(&a->ip6_src, &b->ip6_src));
        assert_true(ip_addr_equal(&a->ip6_dst, &b->ip6_dst));
        assert_int_equal(a->hop_limit, b->hop_limit);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->router, b->router);
        assert_int_equal(a->solicited, b->solicited);
        assert_int_equal(a->override, b->override);
        assert_true(ip_addr_equal(&a->target, &b->target));
        assert_int_equal(a->has_lladdr, b->has_lladdr);
        if (a->has_lladdr)
                assert_true(mac_addr_equal(&a->lladdr, &b->lladdr));
}

static void test_ndp_round_trip(void **state) {
        NdpFrame cases[] = {
                { .eth_dst = peer_mac, .eth_src = if_mac, .ip6_src = ip("fe80::1"), .ip6_dst = ip("2001:db8::1"),
                  .hop_limit = 255, .type = NDP_TYPE_NA, .router = true, .solicited = true, .override = false,
                  .target = ip("2001:db8::a"), .has_lladdr = true, .lladdr = if_mac },
                { .eth_dst = peer_mac, .eth_src = if_mac, .ip6_src = ip("fe80::1"), .ip6_dst = ip("ff02::1"),
                  .hop_limit = 1, .type = NDP_TYPE_NA, .target = ip("2001:db8::a") },
                { .eth_dst = if_mac, .eth_src = peer_mac, .ip6_src = ip("2001:db8::1"),
                  .ip6_dst = ip("ff02::1:ff00:a"), .hop_limit = 255, .type = NDP_TYPE_NS,
                  .target = ip("2001:db8::a"), .has_lladdr = true, .lladdr = peer_mac },
        };
        uint8_t buf[NDP_FRAME_MAX];

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NdpFrame back;
                int len = ndp_build(buf, sizeof buf, &cases[i]);

                assert_int_equal(len, cases[i].has_lladdr ? NDP_FRAME_MAX : NDP_PROBE_FRAME_LEN);
                assert_int_equal(ndp_parse(buf, (size_t) len, &back), 0);
                assert_ndp_equal(&back, &cases[i]);
        }
}

static void test_ndp_rejections(void **state) {
        /* Cut at every header boundary and inside each part. */
        static const size_t truncated[] = { 0, 6, 13, 14, 20, 53, 54, 57, 61, 77, 78, 85 };
        _cleanup_free_ uint8_t *exact = NULL;
        uint8_t frame[96];
        NdpFrame f = { .hop_limit = 7 };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(truncated); i++)
                assert_int_equal(ndp_parse(ns_frame, truncated[i], &f), -EBADMSG);

#define MUTATE(off, val, fix, want)                                                     \
        do {                                                                            \
                memcpy(frame, ns_frame, sizeof ns_frame);                               \
                frame[off] = (val);                                                     \
                if (fix)                                                                \
                        fix_checksum(frame);                                            \
                assert_int_equal(ndp_parse(frame, sizeof ns_frame, &f), (want));        \
        } while (0)

        MUTATE(12, 0x08, false, -EPROTONOSUPPORT);      /* ethertype 0x08dd */
        MUTATE(14, 0x40, false, -EBADMSG);              /* IP version 4 */
        MUTATE(20, 0, false, -EPROTONOSUPPORT);         /* next header 0: hop-by-hop options */
        MUTATE(20, 44, false, -EPROTONOSUPPORT);        /* next header 44: fragment */
        MUTATE(20, 17, false, -EPROTONOSUPPORT);        /* next header UDP */
        MUTATE(19, 0x21, false, -EBADMSG);              /* payload length 33 > 32 in the frame */
        MUTATE(19, 0x03, false, -EBADMSG);              /* payload length 3: no ICMPv6 header */
        MUTATE(19, 0x17, true, -EBADMSG);               /* payload length 23: no target */
        MUTATE(54, 128, true, -EPROTONOSUPPORT);        /* ICMPv6 echo request */
        MUTATE(54, 134, true, -EPROTONOSUPPORT);        /* router advertisement */
        MUTATE(55, 1, true, -EBADMSG);                  /* code 1 */
        MUTATE(57, 0x17, false, -EBADMSG);              /* bad checksum */
        MUTATE(85, 0x02, false, -EBADMSG);              /* one bit in the SLLA: checksum */
        MUTATE(79, 0, true, -EBADMSG);                  /* SLLA option length 0 */
        MUTATE(78, 14, true, 0);                        /* a nonce option of length 1 is skipped, */
        frame[79] = 0;                                  /* of length 0 it would never advance */
        fix_checksum(frame);
        assert_int_equal(ndp_parse(frame, sizeof ns_frame, &f), -EBADMSG);
        MUTATE(79, 2, true, -EBADMSG);                  /* option runs past the end */

        /* An SLLA of 16 bytes (length 2) is not an Ethernet address. */
        memcpy(frame, ns_frame, sizeof ns_frame);
        memset(frame + 86, 0, 8);
        frame[79] = 2;
        frame[19] = 40;
        fix_checksum(frame);
        assert_int_equal(ndp_parse(frame, 94, &f), -EBADMSG);

        /* One byte after the last option: an option header cut short.  In a
         * heap buffer of exactly that size, so valgrind sees any read of the
         * missing length byte. */
        memcpy(frame, ns_frame, sizeof ns_frame);
        frame[86] = 1;
        frame[19] = 33;
        fix_checksum(frame);
        exact = malloc(87);
        assert_non_null(exact);
        memcpy(exact, frame, 87);
        assert_int_equal(ndp_parse(exact, 87, &f), -EBADMSG);

        /* 802.1Q tag in front of the IPv6 ethertype: not ours. */
        memcpy(frame, ns_frame, 12);
        memcpy(frame + 12, (const uint8_t[]) { 0x81, 0x00, 0x00, 0x64 }, 4);
        memcpy(frame + 16, ns_frame + 12, sizeof ns_frame - 12);
        assert_int_equal(ndp_parse(frame, sizeof ns_frame + 4, &f), -EPROTONOSUPPORT);

        f.hop_limit = 7;
        assert_int_equal(ndp_parse(ns_frame, sizeof ns_frame - 1, &f), -EBADMSG);
        assert_int_equal(f.hop_limit, 7); /* ret untouched on failure */
#undef MUTATE
}

static void test_ndp_build_errors(void **state) {
        uint8_t buf[NDP_FRAME_MAX];
        IpAddr ll = link_local(), v4 = ip("192.0.2.10"), x = ip("2001:db8::a");
        NdpFrame na;

        (void) state;
        assert_int_equal(ndp_build_unsolicited_na(buf, &if_mac, &v4, &x), -EINVAL);
        assert_int_equal(ndp_build_unsolicited_na(buf, &if_mac, &ll, &v4), -EINVAL);
        assert_int_equal(ndp_build_probe(buf, &if_mac, &v4), -EINVAL);
        assert_int_equal(ndp_parse(peer_na_frame, sizeof peer_na_frame, &na), 0);
        assert_int_equal(ndp_build_na_reply(buf, &if_mac, &ll, &na), -EINVAL); /* not an NS */
        assert_int_equal(ndp_build(buf, NDP_FRAME_MAX - 1, &na), -ENOBUFS);
        na.type = 137;
        assert_int_equal(ndp_build(buf, sizeof buf, &na), -EINVAL);
}

static void test_ns_wants_answer(void **state) {
        NdpFrame ns, f;

        (void) state;
        assert_int_equal(ndp_parse(ns_frame, sizeof ns_frame, &ns), 0);
        assert_true(ndp_ns_wants_answer(&ns, &if_mac));

        f = ns;
        f.hop_limit = 254; /* routed: RFC 4861 §7.1.1 */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.eth_dst = peer_mac; /* promiscuous capture of someone else's frame */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.eth_dst = if_mac; /* multicast IP in a unicast frame to us */
        assert_true(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.ip6_dst = ip("ff02::1"); /* not the target's group */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.ip6_dst = ip("ff02::1:ff00:b"); /* another address's group */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.target = ip("ff02::1"); /* multicast target */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.target = ip("::ffff:192.0.2.10"); /* never matches an owned IPv4 address */
        assert_int_equal(f.target.family, IP_FAMILY_V4);
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.ip6_src = ip("ff02::2"); /* multicast source */
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.type = NDP_TYPE_NA;
        assert_false(ndp_ns_wants_answer(&f, &if_mac));

        /* Unicast NUD: IPv6 dst = target, Ethernet dst = us. */
        f = ns;
        f.ip6_dst = f.target;
        f.eth_dst = if_mac;
        assert_true(ndp_ns_wants_answer(&f, &if_mac));
        f.eth_dst = peer_mac;
        assert_false(ndp_ns_wants_answer(&f, &if_mac));

        /* DAD (source ::): only to the solicited-node group, without SLLA. */
        assert_int_equal(ndp_parse(dad_ns_frame, sizeof dad_ns_frame, &ns), 0);
        assert_true(ndp_ns_wants_answer(&ns, &if_mac));
        f = ns;
        f.has_lladdr = true;
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
        f = ns;
        f.ip6_dst = f.target;
        f.eth_dst = if_mac;
        assert_false(ndp_ns_wants_answer(&f, &if_mac));
}

static void test_na_claims(void **state) {
        IpAddr x = ip("2001:db8::a"), other = ip("2001:db8::b");
        NdpFrame na, ns;

        (void) state;
        assert_int_equal(ndp_parse(peer_na_frame, sizeof peer_na_frame, &na), 0);
        assert_true(ndp_na_claims(&na, &x));
        assert_false(ndp_na_claims(&na, &other));
        na.hop_limit = 64;
        assert_false(ndp_na_claims(&na, &x));
        /* Our own probe's shape (an NS for x) claims nothing. */
        assert_int_equal(ndp_parse(dad_ns_frame, sizeof dad_ns_frame, &ns), 0);
        assert_false(ndp_na_claims(&ns, &x));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mac_format),
                cmocka_unit_test(test_arp_parse_request),
                cmocka_unit_test(test_arp_reply),
                cmocka_unit_test(test_arp_reply_to_probe),
                cmocka_unit_test(test_garp_and_probe),
                cmocka_unit_test(test_arp_build_einval),
                cmocka_unit_test(test_arp_round_trip),
                cmocka_unit_test(test_arp_rejections),
                cmocka_unit_test(test_arp_predicates),
                cmocka_unit_test(test_ndp_parse_ns),
                cmocka_unit_test(test_ndp_parse_extras),
                cmocka_unit_test(test_na_reply),
                cmocka_unit_test(test_na_reply_without_slla),
                cmocka_unit_test(test_unsolicited_na_and_probe),
                cmocka_unit_test(test_solicited_node),
                cmocka_unit_test(test_icmp6_checksum),
                cmocka_unit_test(test_ndp_round_trip),
                cmocka_unit_test(test_ndp_rejections),
                cmocka_unit_test(test_ndp_build_errors),
                cmocka_unit_test(test_ns_wants_answer),
                cmocka_unit_test(test_na_claims),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
