/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Frame capture and injection (speaker.md §6, §8): one libpcap handle per
 * selected interface, opened when first referenced and closed with its
 * last reference; immediate mode, non-blocking, direction PCAP_D_IN, BPF
 * filter CAPTURE_FILTER, its selectable fd on the sd-event loop.  Every
 * frame read is handed to the callback synchronously, so ARP/NS are
 * answered from the receive path without waiting on anything else.
 *
 * Solicited-node multicast groups are joined with IPV6_JOIN_GROUP on one
 * AF_INET6 socket (needs no capability), reference-counted per
 * (group, ifindex).
 *
 * Errors are -errno; pcap's own message is logged once per failure. */

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <systemd/sd-event.h>

#include "macros.h"

#define CAPTURE_FILTER "arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))"
#define CAPTURE_SNAPLEN 256
#define CAPTURE_BUFFER_SIZE (256 * 1024)

typedef struct Capture Capture;

/* frame: the whole Ethernet frame as captured (at most CAPTURE_SNAPLEN). */
typedef void (*capture_frame_fn)(Capture *c, int ifindex, const uint8_t *frame, size_t len, void *userdata);

int capture_new(sd_event *event, capture_frame_fn on_frame, void *userdata, Capture **ret);
Capture *capture_free(Capture *c);
DEFINE_POINTER_CLEANUP(Capture, capture_free);

/* Takes a reference on the handle of ifindex (name: the interface's
 * current name, used by pcap), opening it on the first one. */
int capture_ref(Capture *c, int ifindex, const char *ifname);
/* Drops one reference; the handle is closed with the last. */
void capture_unref(Capture *c, int ifindex);
/* Number of open handles (tests, metrics). */
size_t capture_n_open(const Capture *c);

/* Sends one frame on ifindex, which must be referenced (-ENODEV otherwise). */
int capture_send(Capture *c, int ifindex, const void *frame, size_t len);

/* Reference-counted IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP. */
int capture_join_group(Capture *c, const struct in6_addr *group, int ifindex);
void capture_leave_group(Capture *c, const struct in6_addr *group, int ifindex);
