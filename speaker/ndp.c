/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "macros.h"
#include "ndp.h"

/* Offsets in the frame: Ethernet, then IPv6 at 14, ICMPv6 at 54. */
#define IP6_OFF ETHER_HEADER_LEN
#define ICMP_OFF (ETHER_HEADER_LEN + IPV6_HEADER_LEN)

#define NA_FLAG_ROUTER 0x80
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const uint8_t solicited_node_prefix[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
static const IpAddr all_nodes = {
        .bytes = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
        .family = IP_FAMILY_V6,
};
static const IpAddr unspecified = { .family = IP_FAMILY_V6 };

/* net.h's convention: an IPv4-mapped address is IPv4. */
static IpAddr get_ipv6(const uint8_t *p) {
        IpAddr a;

        memcpy(a.bytes, p, 16);
        a.family = memcmp(p, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0 ? IP_FAMILY_V4 : IP_FAMILY_V6;
        return a;
}

static bool ipv6_is_multicast(const IpAddr *a) {
        return a->family == IP_FAMILY_V6 && a->bytes[0] == 0xff;
}

static bool ipv6_is_solicited_node(const IpAddr *a) {
        return a->family == IP_FAMILY_V6 && memcmp(a->bytes, solicited_node_prefix, sizeof solicited_node_prefix) == 0;
}

void ndp_solicited_node(const IpAddr *x, IpAddr *ret) {
        IpAddr g = { .family = IP_FAMILY_V6 };

        memcpy(g.bytes, solicited_node_prefix, sizeof solicited_node_prefix);
        memcpy(g.bytes + 13, x->bytes + 13, 3);
        *ret = g;
}

void ndp_multicast_mac(const IpAddr *group, MacAddr *ret) {
        MacAddr m = { { 0x33, 0x33 } };

        memcpy(m.bytes + 2, group->bytes + 12, 4);
        *ret = m;
}

static uint64_t sum_be16(uint64_t sum, const uint8_t *p, size_t len) {
        for (; len >= 2; p += 2, len -= 2)
                sum += be16_get(p);
        if (len)
                sum += (uint64_t) p[0] << 8; /* an odd last byte is padded with zero */
        return sum;
}

uint16_t icmp6_checksum(const IpAddr *src, const IpAddr *dst, const void *icmp, size_t len) {
        uint8_t pseudo[40] = {};
        uint64_t sum;

        memcpy(pseudo, src->bytes, 16);
        memcpy(pseudo + 16, dst->bytes, 16);
        pseudo[32] = (uint8_t) (len >> 24);
        pseudo[33] = (uint8_t) (len >> 16);
        pseudo[34] = (uint8_t) (len >> 8);
        pseudo[35] = (uint8_t) len;
        pseudo[39] = IPPROTO_ICMPV6;
        /* 64 bits: no carry is lost before folding, whatever len is. */
        sum = sum_be16(sum_be16(0, pseudo, sizeof pseudo), icmp, len);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

/* Walks the options in icmp[NDP_ICMP_LEN..len): every option needs a
 * non-zero length that stays inside the message; the first link-layer
 * address option of the kind `want` is kept. */
static int parse_options(const uint8_t *icmp, size_t len, uint8_t want, NdpFrame *f) {
        for (size_t off = NDP_ICMP_LEN; off < len;) {
                size_t opt_len;

                if (len - off < 2)
                        return -EBADMSG;
                opt_len = (size_t) icmp[off + 1] * 8;
                if (opt_len == 0 || opt_len > len - off)
                        return -EBADMSG;
                if (icmp[off] == want) {
                        /* RFC 2464 §6: on Ethernet the option is exactly 8 bytes. */
                        if (opt_len != NDP_LLA_OPT_LEN)
                                return -EBADMSG;
                        if (!f->has_lladdr) {
                                f->has_lladdr = true;
                                memcpy(f->lladdr.bytes, icmp + off + 2, MAC_ADDR_LEN);
                        }
                }
                off += opt_len;
        }
        return 0;
}

int ndp_parse(const void *frame, size_t len, NdpFrame *ret) {
        const uint8_t *p = frame, *ip6 = p + IP6_OFF, *icmp = p + ICMP_OFF;
        size_t payload_len;
        NdpFrame f = {};
        int r;

        if (len < ETHER_HEADER_LEN)
                return -EBADMSG;
        if (be16_get(p + 12) != ETHER_TYPE_IPV6) /* VLAN tagged included: not ours */
                return -EPROTONOSUPPORT;
        if (len < ICMP_OFF)
                return -EBADMSG;
        if (ip6[0] >> 4 != 6)
                return -EBADMSG;
        if (ip6[6] != IPPROTO_ICMPV6) /* no extension headers (ndp.h) */
                return -EPROTONOSUPPORT;
        payload_len = be16_get(ip6 + 4);
        if (payload_len > len - ICMP_OFF)
                return -EBADMSG;
        if (payload_len < 4)
                return -EBADMSG;
        if (icmp[0] != NDP_TYPE_NS && icmp[0] != NDP_TYPE_NA)
                return -EPROTONOSUPPORT;
        if (payload_len < NDP_ICMP_LEN || icmp[1] != 0)
                return -EBADMSG;

        memcpy(f.eth_dst.bytes, p, MAC_ADDR_LEN);
        memcpy(f.eth_src.bytes, p + 6, MAC_ADDR_LEN);
        f.hop_limit = ip6[7];
        f.ip6_src = get_ipv6(ip6 + 8);
        f.ip6_dst = get_ipv6(ip6 + 24);
        if (icmp6_checksum(&f.ip6_src, &f.ip6_dst, icmp, payload_len) != 0)
                return -EBADMSG;

        f.type = icmp[0];
        if (f.type == NDP_TYPE_NA) {
                f.router = icmp[4] & NA_FLAG_ROUTER;
                f.solicited = icmp[4] & NA_FLAG_SOLICITED;
                f.override = icmp[4] & NA_FLAG_OVERRIDE;
        }
        f.target = get_ipv6(icmp + 8);
        r = parse_options(icmp, payload_len, f.type == NDP_TYPE_NS ? NDP_OPT_SLLA : NDP_OPT_TLLA, &f);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

int ndp_build(uint8_t *buf, size_t size, const NdpFrame *f) {
        uint8_t *ip6 = buf + IP6_OFF, *icmp = buf + ICMP_OFF;
        size_t icmp_len = NDP_ICMP_LEN + (f->has_lladdr ? NDP_LLA_OPT_LEN : 0);

        if (f->type != NDP_TYPE_NS && f->type != NDP_TYPE_NA)
                return -EINVAL;
        if (f->ip6_src.family != IP_FAMILY_V6 || f->ip6_dst.family != IP_FAMILY_V6 ||
            f->target.family != IP_FAMILY_V6)
                return -EINVAL;
        if (size < ICMP_OFF + icmp_len)
                return -ENOBUFS;

        memset(buf, 0, ICMP_OFF + icmp_len);
        memcpy(buf, f->eth_dst.bytes, MAC_ADDR_LEN);
        memcpy(buf + 6, f->eth_src.bytes, MAC_ADDR_LEN);
        be16_put(buf + 12, ETHER_TYPE_IPV6);

        ip6[0] = 0x60; /* version 6, traffic class 0, flow label 0 */
        be16_put(ip6 + 4, (uint16_t) icmp_len);
        ip6[6] = IPPROTO_ICMPV6;
        ip6[7] = f->hop_limit;
        memcpy(ip6 + 8, f->ip6_src.bytes, 16);
        memcpy(ip6 + 24, f->ip6_dst.bytes, 16);

        icmp[0] = f->type;
        if (f->type == NDP_TYPE_NA)
                icmp[4] = (f->router ? NA_FLAG_ROUTER : 0) | (f->solicited ? NA_FLAG_SOLICITED : 0) |
                          (f->override ? NA_FLAG_OVERRIDE : 0);
        memcpy(icmp + 8, f->target.bytes, 16);
        if (f->has_lladdr) {
                icmp[NDP_ICMP_LEN] = f->type == NDP_TYPE_NS ? NDP_OPT_SLLA : NDP_OPT_TLLA;
                icmp[NDP_ICMP_LEN + 1] = 1; /* in units of 8 bytes */
                memcpy(icmp + NDP_ICMP_LEN + 2, f->lladdr.bytes, MAC_ADDR_LEN);
        }
        be16_put(icmp + 2, icmp6_checksum(&f->ip6_src, &f->ip6_dst, icmp, icmp_len));
        return (int) (ICMP_OFF + icmp_len);
}

/* The NA every answer starts from: unsolicited (S=0), O=1, to all-nodes,
 * from the interface's link-local address, with the TLLA option. */
static NdpFrame na_template(const MacAddr *if_mac, const IpAddr *link_local, const IpAddr *target) {
        NdpFrame na = {
                .eth_src = *if_mac,
                .ip6_src = *link_local,
                .ip6_dst = all_nodes,
                .hop_limit = NDP_HOP_LIMIT,
                .type = NDP_TYPE_NA,
                .override = true,
                .target = *target,
                .has_lladdr = true,
                .lladdr = *if_mac,
        };

        ndp_multicast_mac(&all_nodes, &na.eth_dst);
        return na;
}

int ndp_build_na_reply(uint8_t buf[static NDP_FRAME_MAX], const MacAddr *if_mac, const IpAddr *link_local,
                       const NdpFrame *ns) {
        NdpFrame na = na_template(if_mac, link_local, &ns->target);

        if (ns->type != NDP_TYPE_NS)
                return -EINVAL;
        /* NS from "::": someone runs DAD on our address, and RFC 4861 §7.2.4
         * asks for S=0 to all-nodes, which is the template. */
        if (!ip_addr_equal(&ns->ip6_src, &unspecified)) {
                na.ip6_dst = ns->ip6_src;
                na.eth_dst = ns->has_lladdr ? ns->lladdr : ns->eth_src;
                na.solicited = true;
        }
        return ndp_build(buf, NDP_FRAME_MAX, &na);
}

int ndp_build_unsolicited_na(uint8_t buf[static NDP_FRAME_MAX], const MacAddr *if_mac, const IpAddr *link_local,
                             const IpAddr *x) {
        NdpFrame na = na_template(if_mac, link_local, x);

        return ndp_build(buf, NDP_FRAME_MAX, &na);
}

int ndp_build_probe(uint8_t buf[static NDP_PROBE_FRAME_LEN], const MacAddr *if_mac, const IpAddr *x) {
        NdpFrame ns = {
                .eth_src = *if_mac,
                .ip6_src = unspecified,
                .hop_limit = NDP_HOP_LIMIT,
                .type = NDP_TYPE_NS,
                .target = *x,
        };

        ndp_solicited_node(x, &ns.ip6_dst);
        ndp_multicast_mac(&ns.ip6_dst, &ns.eth_dst);
        return ndp_build(buf, NDP_PROBE_FRAME_LEN, &ns);
}

bool ndp_ns_wants_answer(const NdpFrame *f, const MacAddr *if_mac) {
        IpAddr group;
        MacAddr group_mac;

        if (f->type != NDP_TYPE_NS || f->hop_limit != NDP_HOP_LIMIT)
                return false;
        /* An IPv4-mapped target must never match an owned IPv4 address. */
        if (f->target.family != IP_FAMILY_V6 || ipv6_is_multicast(&f->target))
                return false;
        if (ipv6_is_multicast(&f->ip6_src))
                return false;
        if (ip_addr_equal(&f->ip6_src, &unspecified) && (!ipv6_is_solicited_node(&f->ip6_dst) || f->has_lladdr))
                return false;

        ndp_solicited_node(&f->target, &group);
        if (ip_addr_equal(&f->ip6_dst, &group)) {
                ndp_multicast_mac(&group, &group_mac);
                return mac_addr_equal(&f->eth_dst, &group_mac) || mac_addr_equal(&f->eth_dst, if_mac);
        }
        return ip_addr_equal(&f->ip6_dst, &f->target) && mac_addr_equal(&f->eth_dst, if_mac);
}

bool ndp_na_claims(const NdpFrame *f, const IpAddr *x) {
        return f->type == NDP_TYPE_NA && f->hop_limit == NDP_HOP_LIMIT && ip_addr_equal(&f->target, x);
}
