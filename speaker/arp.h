/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Ethernet + ARP frames for the speaker (speaker.md §7, §9): parsing what
 * pcap delivers and building replies, gratuitous ARP and probes into caller
 * buffers.  Pure code: no sockets, no pcap, no allocation, no logging.
 *
 * Also the Ethernet basics (MacAddr) that ndp.h shares.
 *
 * VLAN tags: an 802.1Q / 802.1ad tagged frame (ethertype 0x8100 / 0x88a8)
 * is not ours and is rejected (-EPROTONOSUPPORT).  A VLAN is announced on by
 * selecting its sub-interface (eth0.100), where the kernel hands pcap
 * untagged frames; answering a tagged request untagged on the parent would
 * put the reply on the native VLAN, which is wrong.
 *
 * Division of the "should answer" checks (§7):
 *   here (pure predicates on one frame): it is a request (op 1), its
 *     Ethernet destination is broadcast or the interface's MAC;
 *   the daemon (state): the sender / Ethernet source is not one of this
 *     node's MACs, the target IP is owned, the interface is selected for it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define MAC_ADDR_LEN 6
#define MAC_ADDR_STRLEN 18 /* "aa:bb:cc:dd:ee:ff" + NUL */

typedef struct MacAddr {
        uint8_t bytes[MAC_ADDR_LEN];
} MacAddr;

#define MAC_ADDR_BROADCAST ((MacAddr) { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } })
#define MAC_ADDR_ZERO ((MacAddr) { { 0 } })

bool mac_addr_equal(const MacAddr *a, const MacAddr *b);
bool mac_addr_is_broadcast(const MacAddr *a);
bool mac_addr_is_zero(const MacAddr *a);
/* Lower-case, colon separated, as `ip link` prints it. */
const char *mac_addr_format(const MacAddr *a, char buf[static MAC_ADDR_STRLEN]);

/* Big-endian 16-bit fields at any alignment (the frames are byte arrays). */
static inline uint16_t be16_get(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static inline void be16_put(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

#define ETHER_HEADER_LEN 14
#define ETHER_TYPE_ARP 0x0806
#define ETHER_TYPE_IPV6 0x86dd
#define ETHER_MIN_FRAME_LEN 60 /* minimum Ethernet frame without the FCS, which the NIC adds */

#define ARP_PAYLOAD_LEN 28     /* Ethernet/IPv4 ARP body */
#define ARP_FRAME_LEN 42       /* header + body, as parsed */
#define ARP_FRAME_SIZE 60      /* what every builder writes: padded with zeros to ETHER_MIN_FRAME_LEN */

typedef enum ArpOp {
        ARP_OP_REQUEST = 1,
        ARP_OP_REPLY = 2,
} ArpOp;

/* One Ethernet/IPv4 ARP frame.  spa and tpa are IPv4 IpAddrs (net.h). */
typedef struct ArpFrame {
        MacAddr eth_dst;
        MacAddr eth_src;
        uint16_t op;           /* raw: any value parses; predicates look at it */
        MacAddr sha;
        IpAddr spa;
        MacAddr tha;
        IpAddr tpa;
} ArpFrame;

/* Parses frame[0..len).  Bytes after the 42 ARP bytes (Ethernet padding)
 * are ignored.
 *   -EBADMSG         truncated (shorter than 42 bytes, or than the header);
 *   -EPROTONOSUPPORT not Ethernet/IPv4 ARP: ethertype not 0x0806 (VLAN
 *                    tagged included), htype != 1, ptype != 0x0800,
 *                    hlen != 6, plen != 4.
 * ret is written only on success.  Callers drop the frame on any error. */
int arp_parse(const void *frame, size_t len, ArpFrame *ret);

/* Writes f as a 60-byte frame (zero padding).  -EINVAL when spa or tpa is
 * not IPv4.  Returns ARP_FRAME_SIZE. */
int arp_build(uint8_t buf[static ARP_FRAME_SIZE], const ArpFrame *f);

/* §7 reply to `request` for its tpa (the owned x): Ethernet src = sha =
 * if_mac, Ethernet dst = the request's Ethernet source, op 2, spa =
 * request->tpa, tha = request->sha, tpa = request->spa (0.0.0.0 for a
 * probe: answered the same way).  Returns ARP_FRAME_SIZE or -EINVAL. */
int arp_build_reply(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const ArpFrame *request);

/* §7 gratuitous ARP for x, to ff:ff:ff:ff:ff:ff.  op ARP_OP_REQUEST: request
 * form, tha = 00:00:00:00:00:00 (RFC 5227); op ARP_OP_REPLY: reply form,
 * tha = ff:ff:ff:ff:ff:ff.  sha = if_mac, spa = tpa = x.  A burst round
 * sends both.  Returns ARP_FRAME_SIZE, -EINVAL (x not IPv4, other op). */
int arp_build_gratuitous(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const IpAddr *x, ArpOp op);

/* §9 probe: op 1, sha = if_mac, spa = 0.0.0.0, tha = zero, tpa = x,
 * broadcast.  Returns ARP_FRAME_SIZE or -EINVAL (x not IPv4). */
int arp_build_probe(uint8_t buf[static ARP_FRAME_SIZE], const MacAddr *if_mac, const IpAddr *x);

/* Predicates (pure, one frame): */
bool arp_is_request(const ArpFrame *f);
/* Ethernet destination is broadcast or if_mac. */
bool arp_eth_dst_accepts(const ArpFrame *f, const MacAddr *if_mac);
/* Both of the above: the frame-local part of §7's answering rule.  The
 * daemon adds "sender not local" and "tpa owned, interface selected". */
bool arp_wants_answer(const ArpFrame *f, const MacAddr *if_mac);
/* §9 conflict: the frame claims x (spa == x; any op).  The daemon adds
 * "Ethernet source / sha not one of this node's MACs". */
bool arp_claims(const ArpFrame *f, const IpAddr *x);
