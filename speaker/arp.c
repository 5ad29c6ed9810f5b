/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arp.h"
#include "macros.h"

#define ARP_HTYPE_ETHERNET 1
#define ARP_PTYPE_IPV4 0x0800

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool mac_addr_equal(const MacAddr *a, const MacAddr *b) {
        return memcmp(a->bytes, b->bytes, MAC_ADDR_LEN) == 0;
}

bool mac_addr_is_broadcast(const MacAddr *a) {
        return mac_addr_equal(a, &MAC_ADDR_BROADCAST);
}

bool mac_addr_is_zero(const MacAddr *a) {
        return mac_addr_equal(a, &MAC_ADDR_ZERO);
}

const char *mac_addr_format(const MacAddr *a, char buf[static MAC_ADDR_STRLEN]) {
        const uint8_t *b = a->bytes;

        snprintf(buf, MAC_ADDR_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
        return buf;
}

static MacAddr get_mac(const uint8_t *p) {
        MacAddr m;

        memcpy(m.bytes, p, MAC_ADDR_LEN);
        return m;
}

static IpAddr get_ipv4(const uint8_t *p) {
        IpAddr a = { .family = IP_FAMILY_V4 };

        memcpy(a.bytes, v4_mapped_prefix, sizeof v4_mapped_prefix);
        memcpy(a.bytes + 12, p, 4);
        return a;
}

int arp_parse(const void *frame, size_t len, ArpFrame *ret) {
        const uint8_t *p = frame, *arp = p + ETHER_HEADER_LEN;

        if (len < ETHER_HEADER_LEN)
                return -EBADMSG;
        /* A tagged frame (0x8100, 0x88a8) lands here too: not ours (arp.h). */
        if (be16_get(p + 12) != ETHER_TYPE_ARP)
                return -EPROTONOSUPPORT;
        if (len < ARP_FRAME_LEN)
                return -EBADMSG;
        if (be16_get(arp) != ARP_HTYPE_ETHERNET || be16_get(arp + 2) != ARP_PTYPE_IPV4 || arp[4] != MAC_ADDR_LEN ||
            arp[5] != 4)
                return -EPROTONOSUPPORT;

        *ret = (ArpFrame) {
                .eth_dst = get_mac(p),
                .eth_src = get_mac(p + 6),
                .op = be16_get(arp + 6),
                .sha = get_mac(arp + 8),
                .spa = get_ipv4(arp + 14),
                .tha = get_mac(arp + 18),
                .tpa = get_ipv4(arp + 24),
        };
        return 0;
}

int arp_build(uint8_t buf[static ARP_FRAME_SIZE], const ArpFrame *f) {
        uint8_t *arp = buf + ETHER_HEADER_LEN;

        if (f->spa.family != IP_FAMILY_V4 || f->tpa.family != IP_FAMILY_V4)
                return -EINVAL;

        memset(buf, 0, ARP_FRAME_SIZE); /* the padding up to 60 bytes is zeros */
        memcpy(buf, f->eth_dst.bytes, MAC_ADDR_LEN);
        memcpy(buf + 6, f->eth_src.bytes, MAC_ADDR_LEN);
        be16_put(buf + 12, ETHER_TYPE_ARP);
        be16_put(arp, ARP_HTYPE_ETHERNET);
        be16_put(arp + 2, ARP_PTYPE_IPV4);
        arp[4] = MAC_ADDR_LEN;
        arp[5] = 4;
        be16_put(arp + 6, f->op);
        memcpy(arp + 8, f->sha.bytes, MAC_ADDR_LEN);
        memcpy(arp + 14, f->spa.bytes + 12, 4);
        memcpy(arp + 18, f->tha.bytes, MAC_ADDR_LEN);
        memcpy(arp + 24, f->tpa.bytes + 12, 4);
        return ARP_FRAME_SIZE;
}

int arp_build_reply(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const ArpFrame *request) {
        return arp_build(buf, &(ArpFrame) {
                .eth_dst = request->eth_src,
                .eth_src = *if_mac,
                .op = ARP_OP_REPLY,
                .sha = *if_mac,
                .spa = request->tpa,
                .tha = request->sha,
                .tpa = request->spa,
        });
}

/* Gratuitous ARP and probes: broadcast, from the interface. */
static int build_broadcast(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, ArpOp op, const IpAddr *spa,
                           const MacAddr *tha, const IpAddr *tpa) {
        return arp_build(buf, &(ArpFrame) {
                .eth_dst = MAC_ADDR_BROADCAST,
                .eth_src = *if_mac,
                .op = op,
                .sha = *if_mac,
                .spa = *spa,
                .tha = *tha,
                .tpa = *tpa,
        });
}

int arp_build_gratuitous(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const IpAddr *x, ArpOp op) {
        if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
                return -EINVAL;
        /* RFC 5227 §3: tha zero in the request form; the reply form (what
         * MetalLB and older stacks send) has broadcast there. */
        return build_broadcast(buf, if_mac, op, x, op == ARP_OP_REQUEST ? &MAC_ADDR_ZERO : &MAC_ADDR_BROADCAST, x);
}

int arp_build_probe(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const IpAddr *x) {
        IpAddr unspecified = get_ipv4((const uint8_t[4]) { 0, 0, 0, 0 });

        if (x->family != IP_FAMILY_V4)
                return -EINVAL;
        return build_broadcast(buf, if_mac, ARP_OP_REQUEST, &unspecified, &MAC_ADDR_ZERO, x);
}

bool arp_is_request(const ArpFrame *f) {
        return f->op == ARP_OP_REQUEST;
}

bool arp_eth_dst_accepts(const ArpFrame *f, const MacAddr *if_mac) {
        return mac_addr_is_broadcast(&f->eth_dst) || mac_addr_equal(&f->eth_dst, if_mac);
}

bool arp_wants_answer(const ArpFrame *f, const MacAddr *if_mac) {
        return arp_is_request(f) && arp_eth_dst_accepts(f, if_mac);
}

bool arp_claims(const ArpFrame *f, const IpAddr *x) {
        return ip_addr_equal(&f->spa, x);
}
