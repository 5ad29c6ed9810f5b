/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The strict-ARP check of speaker.md §6: when kube-ipvs0 exists and carries
 * a load-balancer IP, every usable interface with IFF_BROADCAST must have
 * the kernel's effective values
 *     max(conf.all.arp_ignore,   conf.<dev>.arp_ignore)   >= 1
 *     max(conf.all.arp_announce, conf.<dev>.arp_announce) == 2
 * or every node's kernel answers ARP for those IPs.  sysctl writes raise no
 * netlink event, so the caller runs the check at start and on every link or
 * address change. */

#include <stdbool.h>
#include <stddef.h>

#include "link_select.h"
#include "net.h"

#define STRICT_ARP_IPVS_DEVICE "kube-ipvs0"

/* Whether a is a load-balancer IP (an ingress IP of a handled Service). */
typedef bool (*strict_arp_is_lb_ip_fn)(const IpAddr *a, void *userdata);

typedef enum StrictArpVerdict {
        STRICT_ARP_NOT_NEEDED, /* no kube-ipvs0, or it carries no load-balancer IP */
        STRICT_ARP_OK,
        STRICT_ARP_DISABLED,   /* dev/arp_ignore/arp_announce name the first failing device */
} StrictArpVerdict;

typedef struct StrictArpResult {
        StrictArpVerdict verdict;
        char dev[LINK_NAME_MAX];
        int arp_ignore;        /* effective (max of all and dev) */
        int arp_announce;
} StrictArpResult;

/* root: prefix of "/proc/sys/net/ipv4/conf/{all,<dev>}/arp_{ignore,announce}";
 * NULL or "" is the real /proc.  A device whose directory has vanished
 * (removed since the snapshot) is skipped; the next change re-runs the
 * check.  -errno when "all" cannot be read or a value does not parse. */
int strict_arp_check(const char *root, const LinkInfo *links, size_t n, strict_arp_is_lb_ip_fn is_lb_ip,
                     void *userdata, StrictArpResult *ret);

/* The note of the StrictARPDisabled Event (§11) for a DISABLED result. */
int strict_arp_message(const StrictArpResult *r, char **ret);
