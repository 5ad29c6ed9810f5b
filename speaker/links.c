/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "links.h"
#include "log.h"

/* Room for bursts of notifications (many addresses added at once) before
 * the kernel reports ENOBUFS; the refill recovers either way. */
#define LINKS_RCVBUF (1024 * 1024)
/* ENOBUFS again while draining: give up draining and refill anyway. */
#define LINKS_DRAIN_MAX 8

struct Links {
        sd_event_source *io;
        struct nl_sock *notify_sock;   /* the cache manager's notification socket (ours to free) */
        struct nl_sock *sync_sock;     /* for refills */
        struct nl_cache_mngr *mngr;
        struct nl_cache *link_cache;   /* owned by mngr */
        struct nl_cache *addr_cache;   /* owned by mngr */

        LinkInfo *snapshot;
        size_t n_snapshot;
        uint64_t generation;

        /* Changes seen in the current batch of messages. */
        bool changed;
        int changed_ifindex;           /* 0 once two different links changed */

        links_changed_fn callback;
        void *userdata;
};

/* libnl's -NLE_* codes to -errno at the edge (design.md), the message kept for the log. */
static int nl_to_errno(int nlerr, const char *what) {
        int e;

        switch (-nlerr) {
        case NLE_NOMEM: e = ENOMEM; break;
        case NLE_AGAIN: e = EAGAIN; break;
        case NLE_PERM: e = EPERM; break;
        case NLE_NOACCESS: e = EACCES; break;
        case NLE_BAD_SOCK: e = EBADF; break;
        case NLE_OBJ_NOTFOUND: e = ENOENT; break;
        case NLE_INVAL: e = EINVAL; break;
        case NLE_RANGE: e = ERANGE; break;
        case NLE_PROTO_MISMATCH: e = EPROTONOSUPPORT; break;
        case NLE_OPNOTSUPP: e = EOPNOTSUPP; break;
        case NLE_INTR: e = EINTR; break;
        default: e = EIO; break;
        }
        log_debug("links: %s: %s", what, nl_geterror(nlerr));
        return -e;
}

LinkInfo *link_info_array_free(LinkInfo *array, size_t n) {
        for (size_t i = 0; array && i < n; i++)
                free(array[i].addresses);
        free(array);
        return NULL;
}

static int compare_ifindex(const void *a, const void *b) {
        const LinkInfo *x = a, *y = b;
        return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

static LinkInfo *find_sorted(LinkInfo *links, size_t n, int ifindex) {
        LinkInfo key = { .ifindex = ifindex };
        return bsearch_safe(&key, links, n, sizeof *links, compare_ifindex);
}

static void copy_kind(char dst[static LINK_KIND_MAX], const char *kind) {
        snprintf(dst, LINK_KIND_MAX, "%s", strempty(kind));
}

static void link_info_from_rtnl(struct rtnl_link *rl, LinkInfo *ret) {
        LinkInfo l = {
                .ifindex = rtnl_link_get_ifindex(rl),
                .flags = rtnl_link_get_flags(rl),
                .arptype = rtnl_link_get_arptype(rl),
                .master_ifindex = rtnl_link_get_master(rl),
        };
        struct nl_addr *mac = rtnl_link_get_addr(rl);

        snprintf(l.name, sizeof l.name, "%s", strempty(rtnl_link_get_name(rl)));
        copy_kind(l.kind, rtnl_link_get_type(rl));
        if (mac && nl_addr_get_len(mac) == sizeof l.mac) {
                memcpy(l.mac, nl_addr_get_binary_addr(mac), sizeof l.mac);
                l.has_mac = true;
        }
        *ret = l;
}

/* nl_addr -> LinkAddress; -EAFNOSUPPORT for what is neither IPv4 nor IPv6. */
static int link_address_from_rtnl(struct rtnl_addr *ra, LinkAddress *ret) {
        struct nl_addr *local = rtnl_addr_get_local(ra);
        IpAddr a = {};
        char text[IP_ADDR_STRLEN + 8], buf[IP_ADDR_STRLEN];
        IpCidr subnet;
        int r;

        if (!local)
                return -EAFNOSUPPORT;
        if (nl_addr_get_family(local) == AF_INET && nl_addr_get_len(local) == 4) {
                a.family = IP_FAMILY_V4;
                a.bytes[10] = a.bytes[11] = 0xff;
                memcpy(a.bytes + 12, nl_addr_get_binary_addr(local), 4);
        } else if (nl_addr_get_family(local) == AF_INET6 && nl_addr_get_len(local) == 16) {
                a.family = IP_FAMILY_V6;
                memcpy(a.bytes, nl_addr_get_binary_addr(local), 16);
        } else
                return -EAFNOSUPPORT;

        /* The prefix through net.h's parser, which clears the host bits. */
        snprintf(text, sizeof text, "%s/%d", ip_addr_format(&a, buf), rtnl_addr_get_prefixlen(ra));
        r = ip_cidr_parse(text, false, &subnet);
        if (r < 0)
                return r;
        *ret = (LinkAddress) { .local = a, .subnet = subnet };
        return 0;
}

static int add_address(LinkInfo *l, struct rtnl_addr *ra) {
        LinkAddress la;
        int r = link_address_from_rtnl(ra, &la);
        if (r == -EAFNOSUPPORT)
                return 0;
        if (r < 0)
                return r;

        LinkAddress *grown = realloc(l->addresses, (l->n_addresses + 1) * sizeof *grown);
        if (!grown)
                return -ENOMEM;
        l->addresses = grown;
        l->addresses[l->n_addresses++] = la;

        /* A link-local address that failed DAD is not ours to send from. */
        if (!l->has_link_local6 && la.local.family == IP_FAMILY_V6 &&
            ip_addr_class(&la.local) == IP_CLASS_LINK_LOCAL && !(rtnl_addr_get_flags(ra) & IFA_F_DADFAILED)) {
                l->link_local6 = la.local;
                l->has_link_local6 = true;
        }
        return 0;
}

static int build_snapshot(Links *links, LinkInfo **ret, size_t *ret_n) {
        LinkInfo *array = NULL;
        size_t n = 0, cap = (size_t) nl_cache_nitems(links->link_cache);
        int r;

        array = new0(LinkInfo, cap > 0 ? cap : 1);
        if (!array)
                return -ENOMEM;

        /* One entry per ifindex.  libnl keys link objects by family too: a
         * bridge port also appears as an AF_BRIDGE object next to its
         * AF_UNSPEC one, while a bridge device itself is stored as AF_BRIDGE
         * only.  Take the AF_UNSPEC object where there is one. */
        for (struct nl_object *o = nl_cache_get_first(links->link_cache); o && n < cap; o = nl_cache_get_next(o))
                if (rtnl_link_get_family((struct rtnl_link *) o) == AF_UNSPEC)
                        link_info_from_rtnl((struct rtnl_link *) o, &array[n++]);
        qsort(array, n, sizeof *array, compare_ifindex);
        size_t n_unspec = n;
        for (struct nl_object *o = nl_cache_get_first(links->link_cache); o && n < cap; o = nl_cache_get_next(o)) {
                struct rtnl_link *rl = (struct rtnl_link *) o;
                int ifindex = rtnl_link_get_ifindex(rl);
                if (rtnl_link_get_family(rl) == AF_UNSPEC || find_sorted(array, n_unspec, ifindex) ||
                    link_find_by_ifindex(array + n_unspec, n - n_unspec, ifindex))
                        continue;
                link_info_from_rtnl(rl, &array[n++]);
        }
        qsort(array, n, sizeof *array, compare_ifindex);

        for (size_t i = 0; i < n; i++) {
                const LinkInfo *master;
                if (array[i].master_ifindex <= 0)
                        continue;
                master = find_sorted(array, n, array[i].master_ifindex);
                copy_kind(array[i].master_kind, master ? master->kind : NULL);
        }

        for (struct nl_object *o = nl_cache_get_first(links->addr_cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *ra = (struct rtnl_addr *) o;
                LinkInfo *l = find_sorted(array, n, rtnl_addr_get_ifindex(ra));
                if (!l)
                        continue; /* its link is being removed */
                r = add_address(l, ra);
                if (r < 0) {
                        link_info_array_free(array, n);
                        return r;
                }
        }

        *ret = array;
        *ret_n = n;
        return 0;
}

static int rebuild(Links *links) {
        LinkInfo *array;
        size_t n;
        int r = build_snapshot(links, &array, &n);
        if (r < 0)
                return r;
        link_info_array_free(links->snapshot, links->n_snapshot);
        links->snapshot = array;
        links->n_snapshot = n;
        links->generation++;
        return 0;
}

static void notify(Links *links, int ifindex) {
        if (links->callback)
                links->callback(links, ifindex, links->userdata);
}

static void on_change(struct nl_cache *cache, struct nl_object *obj, int action, void *userdata) {
        Links *links = userdata;
        int ifindex;

        (void) action;
        if (cache == links->link_cache)
                ifindex = rtnl_link_get_ifindex((struct rtnl_link *) obj);
        else
                ifindex = rtnl_addr_get_ifindex((struct rtnl_addr *) obj);

        if (!links->changed)
                links->changed_ifindex = ifindex;
        else if (links->changed_ifindex != ifindex)
                links->changed_ifindex = 0;
        links->changed = true;
}

int links_resync(Links *links) {
        int r;

        r = nl_cache_refill(links->sync_sock, links->link_cache);
        if (r < 0)
                return nl_to_errno(r, "refilling the link cache");
        r = nl_cache_refill(links->sync_sock, links->addr_cache);
        if (r < 0)
                return nl_to_errno(r, "refilling the address cache");
        links->changed = false;
        r = rebuild(links);
        if (r < 0)
                return r;
        notify(links, 0);
        return 0;
}

/* The socket overflowed and events were lost.  Read what is still queued
 * first (older than the refill), then dump both tables: whatever arrives
 * after the dump is newer, so the caches end at the kernel's state. */
static int recover_overflow(Links *links) {
        for (unsigned i = 0; i < LINKS_DRAIN_MAX; i++)
                if (nl_cache_mngr_data_ready(links->mngr) != -NLE_NOMEM)
                        break;
        log_debug("links: netlink overflow (ENOBUFS), refilling both caches");
        return links_resync(links);
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Links *links = userdata;
        int r;

        (void) s;
        (void) fd;
        (void) revents;

        links->changed = false;
        r = nl_cache_mngr_data_ready(links->mngr);
        if (r == -NLE_NOMEM) /* ENOBUFS is reported as NLE_NOMEM */
                r = recover_overflow(links);
        else if (r < 0)
                r = nl_to_errno(r, "reading notifications");
        else if (links->changed) {
                links->changed = false;
                r = rebuild(links);
                if (r >= 0)
                        notify(links, links->changed_ifindex);
        }
        /* A failed rebuild keeps the old snapshot; the next event retries.
         * Returning 0 keeps the source: an error would disable it for good. */
        if (r < 0)
                log_debug_errno(r, "links: processing netlink notifications: %m");
        return 0;
}

Links *links_free(Links *links) {
        if (!links)
                return NULL;
        sd_event_source_disable_unref(links->io);
        if (links->mngr)
                nl_cache_mngr_free(links->mngr); /* frees both caches */
        nl_socket_free(links->notify_sock);
        nl_socket_free(links->sync_sock);
        link_info_array_free(links->snapshot, links->n_snapshot);
        free(links);
        return NULL;
}

static int links_connect(Links *links) {
        int r;

        links->sync_sock = nl_socket_alloc();
        links->notify_sock = nl_socket_alloc();
        if (!links->sync_sock || !links->notify_sock)
                return -ENOMEM;
        r = nl_connect(links->sync_sock, NETLINK_ROUTE);
        if (r < 0)
                return nl_to_errno(r, "connecting the netlink socket");

        /* The manager connects notify_sock, joins the groups and makes it non-blocking. */
        r = nl_cache_mngr_alloc(links->notify_sock, NETLINK_ROUTE, 0, &links->mngr);
        if (r < 0)
                return nl_to_errno(r, "allocating the cache manager");
        r = nl_socket_set_buffer_size(links->notify_sock, LINKS_RCVBUF, 0);
        if (r < 0)
                log_debug("links: keeping the default receive buffer: %s", nl_geterror(r));

        /* Each add dumps its table, so the caches are complete on return. */
        r = nl_cache_mngr_add(links->mngr, "route/link", on_change, links, &links->link_cache);
        if (r < 0)
                return nl_to_errno(r, "adding the link cache");
        r = nl_cache_mngr_add(links->mngr, "route/addr", on_change, links, &links->addr_cache);
        if (r < 0)
                return nl_to_errno(r, "adding the address cache");
        return 0;
}

int links_new(sd_event *event, links_changed_fn callback, void *userdata, Links **ret) {
        _cleanup_(links_freep) Links *links = NULL;
        int r;

        links = new0(Links, 1);
        if (!links)
                return -ENOMEM;
        links->callback = callback;
        links->userdata = userdata;

        r = links_connect(links);
        if (r < 0)
                return r;
        r = rebuild(links);
        if (r < 0)
                return r;

        r = sd_event_add_io(event, &links->io, nl_cache_mngr_get_fd(links->mngr), EPOLLIN, on_readable, links);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(links->io, "links-netlink");

        *ret = TAKE_PTR(links);
        return 0;
}

const LinkInfo *links_snapshot(Links *links, size_t *ret_n) {
        *ret_n = links->n_snapshot;
        return links->snapshot;
}

uint64_t links_generation(Links *links) {
        return links->generation;
}
