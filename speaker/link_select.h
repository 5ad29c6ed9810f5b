/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which interfaces announce an IP (speaker.md §6), as pure functions over a
 * plain description of the links.  speaker/links.c fills LinkInfo from
 * libnl; the tests fill it by hand.
 *
 * Usable: IFF_UP, IFF_LOWER_UP, ARPHRD_ETHER, not IFF_LOOPBACK, not
 * IFF_NOARP, and no master other than a VRF.  A port of a bond, team or
 * bridge (or of any other non-VRF master, e.g. openvswitch) is not usable:
 * its traffic belongs to the master device, which is usable itself. */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

/* The default of --exclude-interfaces (MetalLB's list), POSIX extended. */
#define LINK_EXCLUDE_DEFAULT                                                                          \
        "^docker.*|^cbr.*|^dummy.*|^virbr.*|^lxcbr.*|^veth.*|^lo$|^cali.*|^tunl.*|^flannel.*|"        \
        "^kube-ipvs.*|^cni.*|^nodelocaldns.*|^lxc.*"

/* The master kind that does not disqualify a port (rtnl_link_get_type()). */
#define LINK_MASTER_KIND_VRF "vrf"
#define LINK_KIND_MAX 16
/* IFNAMSIZ, without <net/if.h> (which clashes with <linux/if.h>, needed for IFF_LOWER_UP). */
#define LINK_NAME_MAX 16

typedef struct LinkAddress {
        IpAddr local;    /* the address itself */
        IpCidr subnet;   /* local with host bits cleared, and its prefix length */
} LinkAddress;

typedef struct LinkInfo {
        int ifindex;
        char name[LINK_NAME_MAX];
        unsigned flags;              /* IFF_* of <linux/if.h> (IFF_UP, IFF_LOWER_UP, IFF_LOOPBACK, IFF_NOARP, IFF_BROADCAST) */
        unsigned arptype;            /* ARPHRD_* */
        char kind[LINK_KIND_MAX];    /* this link's own type ("bridge", "bond", "veth", ...), "" if none */
        int master_ifindex;          /* 0: no master */
        char master_kind[LINK_KIND_MAX]; /* the master's kind; "" when unknown (counts as enslaved) */
        uint8_t mac[6];
        bool has_mac;
        LinkAddress *addresses;      /* IPv4 and IPv6, link-local included */
        size_t n_addresses;
        bool has_link_local6;        /* an IPv6 link-local address (fe80::/10), the NA source */
        IpAddr link_local6;
} LinkInfo;

/* True when the master (master_ifindex > 0) takes the link's traffic: every
 * master kind except "vrf"; an unknown kind counts as enslaving. */
bool link_enslaved(const LinkInfo *l);
/* The usability rules of §6 (all of them, nothing else). */
bool link_usable(const LinkInfo *l);
/* The protocol filter: IPv4 (ARP) needs IFF_BROADCAST, IPv6 (NDP) needs a
 * link-local address.  False for any other family. */
bool link_supports_family(const LinkInfo *l, IpFamily family);
/* Whether some address of l has a prefix containing x (secondaries count). */
bool link_has_subnet_for(const LinkInfo *l, const IpAddr *x);
const LinkInfo *link_find_by_name(const LinkInfo *links, size_t n, const char *name);
const LinkInfo *link_find_by_ifindex(const LinkInfo *links, size_t n, int ifindex);
/* True when the MAC is one of the links' (frames from our own MACs are dropped). */
bool link_mac_is_local(const LinkInfo *links, size_t n, const uint8_t mac[static 6]);

/* Compiles an --exclude-interfaces pattern (REG_EXTENDED|REG_NOSUB);
 * -EINVAL when it does not compile.  Free with regfree(). */
int link_exclude_compile(const char *pattern, regex_t *ret);
bool link_name_excluded(const regex_t *exclude, const char *name);

/* The interfaces that announce x, as indexes into links (ret_idx has room
 * for n entries); returns how many.  0 means announceFailed.
 *
 * names/n_names: the union of L2Advertisement.interfaces when that override
 * applies (NULL or 0 names: the default selection).  Named interfaces bypass
 * the exclude regex but not the usability rules.
 *
 * Default selection: (1) the usable, non-excluded links with an address
 * whose prefix contains x; (2) if none, every usable, non-excluded link.
 * The protocol filter (link_supports_family for x's family) is part of
 * "usable" here: a link that cannot speak ARP/NDP is never selected, and
 * does not stop step 2 from applying.  exclude may be NULL (nothing
 * excluded).  The order is that of links. */
size_t link_select(const LinkInfo *links, size_t n, const regex_t *exclude, const char *const *names,
                   size_t n_names, const IpAddr *x, size_t *ret_idx);
