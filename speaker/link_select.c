/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_arp.h>

#include "link_select.h"
#include "macros.h"

bool link_enslaved(const LinkInfo *l) {
        if (l->master_ifindex <= 0)
                return false;
        /* A VRF only scopes routing; the port still sends and receives its
         * own frames.  Every other master (bond, team, bridge, openvswitch)
         * takes them over, and an unknown kind is treated the same way. */
        return !streq(l->master_kind, LINK_MASTER_KIND_VRF);
}

bool link_usable(const LinkInfo *l) {
        return (l->flags & IFF_UP) && (l->flags & IFF_LOWER_UP) && l->arptype == ARPHRD_ETHER &&
               !(l->flags & IFF_LOOPBACK) && !(l->flags & IFF_NOARP) && !link_enslaved(l);
}

bool link_supports_family(const LinkInfo *l, IpFamily family) {
        switch (family) {
        case IP_FAMILY_V4:
                return l->flags & IFF_BROADCAST;
        case IP_FAMILY_V6:
                return l->has_link_local6;
        default:
                return false;
        }
}

bool link_has_subnet_for(const LinkInfo *l, const IpAddr *x) {
        for (size_t i = 0; i < l->n_addresses; i++)
                if (ip_cidr_contains(&l->addresses[i].subnet, x))
                        return true;
        return false;
}

const LinkInfo *link_find_by_name(const LinkInfo *links, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(links[i].name, name))
                        return &links[i];
        return NULL;
}

const LinkInfo *link_find_by_ifindex(const LinkInfo *links, size_t n, int ifindex) {
        for (size_t i = 0; i < n; i++)
                if (links[i].ifindex == ifindex)
                        return &links[i];
        return NULL;
}

bool link_mac_is_local(const LinkInfo *links, size_t n, const uint8_t mac[static 6]) {
        for (size_t i = 0; i < n; i++)
                if (links[i].has_mac && memcmp(links[i].mac, mac, 6) == 0)
                        return true;
        return false;
}

int link_exclude_compile(const char *pattern, regex_t *ret) {
        if (regcomp(ret, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return -EINVAL;
        return 0;
}

bool link_name_excluded(const regex_t *exclude, const char *name) {
        return exclude && regexec(exclude, name, 0, NULL, 0) == 0;
}

static bool name_listed(const char *const *names, size_t n_names, const char *name) {
        for (size_t i = 0; i < n_names; i++)
                if (streq(names[i], name))
                        return true;
        return false;
}

/* Usable and able to speak x's protocol. */
static bool link_candidate(const LinkInfo *l, const IpAddr *x) {
        return link_usable(l) && link_supports_family(l, x->family);
}

size_t link_select(const LinkInfo *links, size_t n, const regex_t *exclude, const char *const *names,
                   size_t n_names, const IpAddr *x, size_t *ret_idx) {
        size_t k = 0;

        if (names && n_names > 0) {
                for (size_t i = 0; i < n; i++)
                        if (name_listed(names, n_names, links[i].name) && link_candidate(&links[i], x))
                                ret_idx[k++] = i;
                return k;
        }

        for (size_t i = 0; i < n; i++)
                if (link_candidate(&links[i], x) && !link_name_excluded(exclude, links[i].name) &&
                    link_has_subnet_for(&links[i], x))
                        ret_idx[k++] = i;
        if (k > 0)
                return k;

        for (size_t i = 0; i < n; i++)
                if (link_candidate(&links[i], x) && !link_name_excluded(exclude, links[i].name))
                        ret_idx[k++] = i;
        return k;
}
