/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Ethernet + IPv6 + ICMPv6 Neighbour Discovery frames for the speaker
 * (speaker.md §8, §9): Neighbour Solicitations (135) and Advertisements
 * (136) only.  Pure code: no sockets, no pcap, no allocation, no logging.
 *
 * Extension headers: the IPv6 next header must be 58 (ICMPv6) directly.
 * Anything else is rejected (-EPROTONOSUPPORT).  NDP carries no extension
 * headers in practice, RFC 6980 forbids fragmented NDP, and the capture
 * filter (`icmp6 and ip6[40] == ...`, §6) only matches next header 58 at
 * offset 40 anyway.  VLAN-tagged frames are rejected as in arp.h.
 *
 * Addresses: IPv6 addresses from the wire are IpAddrs with family
 * IP_FAMILY_V6, except IPv4-mapped ones (::ffff:a.b.c.d), which get
 * IP_FAMILY_V4 as everywhere in net.h; ndp_ns_wants_answer() refuses such
 * targets so an NS can never match an owned IPv4 address.
 *
 * Division of the "should answer" checks (§8):
 *   here (ndp_ns_wants_answer, pure): type NS, hop limit 255, the RFC 4861
 *     §7.1.1 validity rules (target not multicast; source :: only towards a
 *     solicited-node group and without SLLA), IPv6 destination is the
 *     target's solicited-node group or the target itself, Ethernet
 *     destination is if_mac or the multicast MAC of the IPv6 destination;
 *   the daemon (state): Ethernet source not one of this node's MACs, target
 *     owned, interface selected for it, interface has a link-local address. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arp.h"
#include "net.h"

#define IPV6_HEADER_LEN 40
#define NDP_HOP_LIMIT 255
#define NDP_TYPE_NS 135
#define NDP_TYPE_NA 136
#define NDP_OPT_SLLA 1 /* Source Link-Layer Address */
#define NDP_OPT_TLLA 2 /* Target Link-Layer Address */

#define NDP_ICMP_LEN 24 /* type, code, checksum, flags/reserved, target */
#define NDP_LLA_OPT_LEN 8
/* NS or NA with one link-layer address option: 14 + 40 + 24 + 8. */
#define NDP_FRAME_MAX 86
/* The §9 probe (NS without SLLA): 14 + 40 + 24. */
#define NDP_PROBE_FRAME_LEN 78

typedef struct NdpFrame {
        MacAddr eth_dst;
        MacAddr eth_src;
        IpAddr ip6_src;
        IpAddr ip6_dst;
        uint8_t hop_limit;
        uint8_t type;          /* NDP_TYPE_NS or NDP_TYPE_NA */
        bool router;           /* NA flags R, S, O; all false for NS */
        bool solicited;
        bool override;
        IpAddr target;
        /* The SLLA option of an NS or the TLLA option of an NA, if present
         * (the first one).  The other kind and unknown options are skipped,
         * as RFC 4861 asks receivers to. */
        bool has_lladdr;
        MacAddr lladdr;
} NdpFrame;

/* Parses frame[0..len).  Bytes after the IPv6 payload (Ethernet padding)
 * are ignored.
 *   -EBADMSG         truncated at any header, IPv6 version not 6, payload
 *                    length running past the frame, ICMPv6 shorter than
 *                    24 bytes, code != 0, bad checksum, an option of
 *                    length 0 or running past the end, a link-layer
 *                    address option whose length is not 1 (8 bytes);
 *   -EPROTONOSUPPORT ethertype not 0x86dd (VLAN tagged included), next
 *                    header not 58, ICMPv6 type not 135/136.
 * ret is written only on success. */
int ndp_parse(const void *frame, size_t len, NdpFrame *ret);

/* Writes f (computing payload length and checksum; the option is the SLLA
 * for an NS and the TLLA for an NA, present when has_lladdr) into buf of
 * size `size`.  Returns the length (86 with an option, 78 without),
 * -EINVAL (type not NS/NA, an address not IPv6), -ENOBUFS (size too
 * small). */
int ndp_build(uint8_t *buf, size_t size, const NdpFrame *f);

/* §8 answer to a parsed NS (for which ndp_ns_wants_answer() holds and whose
 * target the daemon owns).  IPv6 source = link_local, hop limit 255,
 * TLLA option = if_mac, Ethernet src = if_mac, R=0, O=1.
 *   NS source not "::": to the NS source, Ethernet dst = its SLLA option if
 *     present, else its Ethernet source; S=1.
 *   NS source "::" (DAD): to ff02::1, Ethernet dst 33:33:00:00:00:01; S=0.
 * Returns NDP_FRAME_MAX or -EINVAL (not an NS, an address not IPv6). */
int ndp_build_na_reply(uint8_t buf[static NDP_FRAME_MAX], const MacAddr *if_mac, const IpAddr *link_local,
                       const NdpFrame *ns);

/* §8 unsolicited NA for x: to ff02::1 (33:33:00:00:00:01), IPv6 source =
 * link_local, hop limit 255, R=0 S=0 O=1, target x, TLLA = if_mac.
 * Returns NDP_FRAME_MAX or -EINVAL. */
int ndp_build_unsolicited_na(uint8_t buf[static NDP_FRAME_MAX], const MacAddr *if_mac, const IpAddr *link_local,
                             const IpAddr *x);

/* §9 probe: a DAD-style NS from :: to the solicited-node group of x (Ethernet
 * dst its multicast MAC), Ethernet src if_mac, hop limit 255, target x, no
 * SLLA option.  Returns NDP_PROBE_FRAME_LEN or -EINVAL. */
int ndp_build_probe(uint8_t buf[static NDP_PROBE_FRAME_LEN], const MacAddr *if_mac, const IpAddr *x);

/* ff02::1:ffXX:XXXX: the low 24 bits of x (RFC 4291 §2.7.1). */
void ndp_solicited_node(const IpAddr *x, IpAddr *ret);
/* 33:33 followed by the low 32 bits of an IPv6 multicast group (RFC 2464
 * §7); for a solicited-node group that is 33:33:ff:XX:XX:XX. */
void ndp_multicast_mac(const IpAddr *group, MacAddr *ret);
/* The ICMPv6 checksum of icmp[0..len) over the RFC 8200 §8.1 pseudo-header
 * (src, dst, upper-layer length, next header 58).  The checksum field in
 * icmp must be zero when building; over a received message including its
 * checksum, the result is 0 when the checksum is right. */
uint16_t icmp6_checksum(const IpAddr *src, const IpAddr *dst, const void *icmp, size_t len);

/* Predicates (pure, one frame): */
/* The frame-local part of §8's answering rule (see the top of this file). */
bool ndp_ns_wants_answer(const NdpFrame *f, const MacAddr *if_mac);
/* §9 conflict: an NA for target x with hop limit 255 (RFC 4861 §7.1.2:
 * any other NA is invalid and was not sent on this link).  The daemon adds "Ethernet source not
 * one of this node's MACs" and looks at NAs only inside a probe window. */
bool ndp_na_claims(const NdpFrame *f, const IpAddr *x);
