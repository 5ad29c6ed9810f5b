/* SPDX-License-Identifier: Apache-2.0 */
/* Any bytes pcap could deliver, through both frame parsers (speaker.md §7,
 * §8).  Every input either is rejected with -EBADMSG / -EPROTONOSUPPORT or
 * parses; a parsed ARP frame builds back to the same 42 bytes, a parsed NDP
 * frame builds and parses back to the same fields, and the answers the
 * daemon would send parse as what §7 / §8 say they are. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "ndp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const MacAddr if_mac = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
static const IpAddr link_local = {
        .bytes = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56 },
        .family = IP_FAMILY_V6,
};

static void check_rejection(int r) {
        if (r != -EBADMSG && r != -EPROTONOSUPPORT)
                abort();
}

static void fuzz_arp(const uint8_t *data, size_t size) {
        uint8_t buf[ARP_FRAME_SIZE];
        ArpFrame f, reply;
        int r = arp_parse(data, size, &f);

        if (r < 0) {
                check_rejection(r);
                return;
        }
        if (size < ARP_FRAME_LEN || f.spa.family != IP_FAMILY_V4 || f.tpa.family != IP_FAMILY_V4)
                abort();
        if (arp_build(buf, &f) != ARP_FRAME_SIZE || memcmp(buf, data, ARP_FRAME_LEN) != 0)
                abort();
        for (size_t i = ARP_FRAME_LEN; i < ARP_FRAME_SIZE; i++)
                if (buf[i] != 0)
                        abort();
        (void) arp_claims(&f, &f.tpa);
        if (!arp_wants_answer(&f, &if_mac))
                return;
        if (arp_build_reply(buf, &if_mac, &f) != ARP_FRAME_SIZE || arp_parse(buf, sizeof buf, &reply) < 0)
                abort();
        if (reply.op != ARP_OP_REPLY || !mac_addr_equal(&reply.eth_dst, &f.eth_src) ||
            !ip_addr_equal(&reply.spa, &f.tpa) || !ip_addr_equal(&reply.tpa, &f.spa) ||
            !mac_addr_equal(&reply.tha, &f.sha))
                abort();
}

static bool ndp_equal(const NdpFrame *a, const NdpFrame *b) {
        return mac_addr_equal(&a->eth_dst, &b->eth_dst) && mac_addr_equal(&a->eth_src, &b->eth_src) &&
               ip_addr_equal(&a->ip6_src, &b->ip6_src) && ip_addr_equal(&a->ip6_dst, &b->ip6_dst) &&
               a->hop_limit == b->hop_limit && a->type == b->type && a->router == b->router &&
               a->solicited == b->solicited && a->override == b->override &&
               ip_addr_equal(&a->target, &b->target) && a->has_lladdr == b->has_lladdr &&
               (!a->has_lladdr || mac_addr_equal(&a->lladdr, &b->lladdr));
}

static void fuzz_ndp(const uint8_t *data, size_t size) {
        uint8_t buf[NDP_FRAME_MAX];
        NdpFrame f, back, na;
        int r = ndp_parse(data, size, &f), len;

        if (r < 0) {
                check_rejection(r);
                return;
        }
        if (f.type != NDP_TYPE_NS && f.type != NDP_TYPE_NA)
                abort();
        len = ndp_build(buf, sizeof buf, &f);
        if (len == -EINVAL) {
                /* Only an IPv4-mapped address (family V4) cannot be rebuilt. */
                if (f.ip6_src.family == IP_FAMILY_V6 && f.ip6_dst.family == IP_FAMILY_V6 &&
                    f.target.family == IP_FAMILY_V6)
                        abort();
        } else if (len < 0 || ndp_parse(buf, (size_t) len, &back) < 0 || !ndp_equal(&f, &back))
                abort();
        (void) ndp_na_claims(&f, &f.target);
        if (!ndp_ns_wants_answer(&f, &if_mac))
                return;
        len = ndp_build_na_reply(buf, &if_mac, &link_local, &f);
        if (len == -EINVAL && f.ip6_src.family != IP_FAMILY_V6)
                return;
        if (len != NDP_FRAME_MAX || ndp_parse(buf, (size_t) len, &na) < 0)
                abort();
        if (na.type != NDP_TYPE_NA || na.hop_limit != NDP_HOP_LIMIT || na.router || !na.override ||
            na.solicited == ip_addr_equal(&f.ip6_src, &(IpAddr) { .family = IP_FAMILY_V6 }) || !na.has_lladdr ||
            !mac_addr_equal(&na.lladdr, &if_mac) || !ip_addr_equal(&na.target, &f.target))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        fuzz_arp(data, size);
        fuzz_ndp(data, size);
        return 0;
}
