/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"

typedef struct CaptureHandle {
        Capture *capture;
        int ifindex;
        unsigned refs;
        pcap_t *pcap;
        sd_event_source *io;
} CaptureHandle;

typedef struct CaptureGroup {
        struct in6_addr group;
        int ifindex;
        unsigned refs;
} CaptureGroup;

struct Capture {
        sd_event *event;
        capture_frame_fn on_frame;
        void *userdata;
        CaptureHandle **handles;
        size_t n_handles;
        CaptureGroup *groups;
        size_t n_groups;
        int mcast_fd;   /* AF_INET6 datagram socket for IPV6_JOIN_GROUP; -1 until needed */
};

static void handle_close(CaptureHandle *h) {
        h->io = sd_event_source_disable_unref(h->io);
        if (h->pcap)
                pcap_close(h->pcap);
        free(h);
}

Capture *capture_free(Capture *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_handles; i++)
                handle_close(c->handles[i]);
        free(c->handles);
        free(c->groups);
        if (c->mcast_fd >= 0)
                close(c->mcast_fd);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int capture_new(sd_event *event, capture_frame_fn on_frame, void *userdata, Capture **ret) {
        Capture *c = new0(Capture, 1);

        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->on_frame = on_frame;
        c->userdata = userdata;
        c->mcast_fd = -1;
        *ret = c;
        return 0;
}

static CaptureHandle *find_handle(const Capture *c, int ifindex, size_t *ret_index) {
        for (size_t i = 0; i < c->n_handles; i++)
                if (c->handles[i]->ifindex == ifindex) {
                        if (ret_index)
                                *ret_index = i;
                        return c->handles[i];
                }
        return NULL;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes) {
        CaptureHandle *h = (CaptureHandle *) user;
        h->capture->on_frame(h->capture, h->ifindex, bytes, hdr->caplen, h->capture->userdata);
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CaptureHandle *h = userdata;

        (void) s;
        (void) fd;
        (void) revents;
        /* Everything queued now, answered synchronously from on_packet.
         * The callback may close this very handle (deselection): read at
         * most one batch and do not touch h afterwards. */
        if (pcap_dispatch(h->pcap, -1, on_packet, (u_char *) h) == PCAP_ERROR)
                log_debug("pcap_dispatch on ifindex %d: %s", h->ifindex, pcap_geterr(h->pcap));
        return 0;
}

/* pcap's errors: PCAP_ERROR_PERM_DENIED and friends to -errno. */
static int pcap_errno(int r) {
        switch (r) {
        case PCAP_ERROR_PERM_DENIED:
                return -EPERM;
        case PCAP_ERROR_NO_SUCH_DEVICE:
                return -ENODEV;
        case PCAP_ERROR_IFACE_NOT_UP:
                return -ENETDOWN;
        default:
                return -EIO;
        }
}

static int handle_open(Capture *c, int ifindex, const char *ifname, CaptureHandle **ret) {
        char errbuf[PCAP_ERRBUF_SIZE] = "";
        struct bpf_program prog;
        CaptureHandle *h;
        int r, fd;

        h = new0(CaptureHandle, 1);
        if (!h)
                return -ENOMEM;
        h->capture = c;
        h->ifindex = ifindex;
        h->pcap = pcap_create(ifname, errbuf);
        if (!h->pcap) {
                log_error("cannot capture on %s: %s", ifname, errbuf);
                free(h);
                return -ENODEV;
        }
        if (pcap_set_snaplen(h->pcap, CAPTURE_SNAPLEN) < 0 || pcap_set_immediate_mode(h->pcap, 1) < 0 ||
            pcap_set_buffer_size(h->pcap, CAPTURE_BUFFER_SIZE) < 0 || pcap_set_promisc(h->pcap, 0) < 0) {
                r = -EINVAL;
                goto fail_msg;
        }
        r = pcap_activate(h->pcap);
        if (r < 0) {
                r = pcap_errno(r);
                goto fail_msg;
        }
        if (pcap_datalink(h->pcap) != DLT_EN10MB) {
                log_error("cannot capture on %s: not an Ethernet interface", ifname);
                r = -EPROTONOSUPPORT;
                goto fail;
        }
        if (pcap_setdirection(h->pcap, PCAP_D_IN) < 0 ||
            pcap_compile(h->pcap, &prog, CAPTURE_FILTER, 1, PCAP_NETMASK_UNKNOWN) < 0) {
                r = -EINVAL;
                goto fail_msg;
        }
        r = pcap_setfilter(h->pcap, &prog);
        pcap_freecode(&prog);
        if (r < 0 || pcap_setnonblock(h->pcap, 1, errbuf) < 0) {
                r = -EINVAL;
                goto fail_msg;
        }
        fd = pcap_get_selectable_fd(h->pcap);
        if (fd < 0) {
                log_error("cannot capture on %s: no selectable fd", ifname);
                r = -EOPNOTSUPP;
                goto fail;
        }
        r = sd_event_add_io(c->event, &h->io, fd, EPOLLIN, on_readable, h);
        if (r < 0) {
                log_error_errno(r, "cannot watch the capture of %s: %m", ifname);
                goto fail;
        }
        /* Frames are answered before anything else on the loop. */
        (void) sd_event_source_set_priority(h->io, SD_EVENT_PRIORITY_IMPORTANT);
        *ret = h;
        return 0;

fail_msg:
        log_error("cannot capture on %s: %s", ifname, pcap_geterr(h->pcap));
fail:
        handle_close(h);
        return r;
}

int capture_ref(Capture *c, int ifindex, const char *ifname) {
        CaptureHandle *h = find_handle(c, ifindex, NULL), **p;
        int r;

        if (h) {
                h->refs++;
                return 0;
        }
        p = realloc(c->handles, (c->n_handles + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        c->handles = p;
        r = handle_open(c, ifindex, ifname, &h);
        if (r < 0)
                return r;
        h->refs = 1;
        c->handles[c->n_handles++] = h;
        log_debug("capturing on %s (ifindex %d)", ifname, ifindex);
        return 0;
}

void capture_unref(Capture *c, int ifindex) {
        size_t i;
        CaptureHandle *h = find_handle(c, ifindex, &i);

        if (!h || --h->refs > 0)
                return;
        memmove(c->handles + i, c->handles + i + 1, (c->n_handles - i - 1) * sizeof(*c->handles));
        c->n_handles--;
        handle_close(h);
}

size_t capture_n_open(const Capture *c) {
        return c->n_handles;
}

int capture_send(Capture *c, int ifindex, const void *frame, size_t len) {
        CaptureHandle *h = find_handle(c, ifindex, NULL);

        if (!h)
                return -ENODEV;
        if (pcap_inject(h->pcap, frame, len) < 0) {
                log_debug("pcap_inject on ifindex %d: %s", ifindex, pcap_geterr(h->pcap));
                return -EIO;
        }
        return 0;
}

static CaptureGroup *find_group(const Capture *c, const struct in6_addr *group, int ifindex, size_t *ret_index) {
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i].ifindex == ifindex && memcmp(&c->groups[i].group, group, sizeof(*group)) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return &c->groups[i];
                }
        return NULL;
}

static int group_op(Capture *c, const struct in6_addr *group, int ifindex, int op) {
        struct ipv6_mreq mreq = { .ipv6mr_multiaddr = *group, .ipv6mr_interface = (unsigned) ifindex };

        if (c->mcast_fd < 0) {
                c->mcast_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (c->mcast_fd < 0)
                        return negative_errno();
        }
        if (setsockopt(c->mcast_fd, IPPROTO_IPV6, op, &mreq, sizeof mreq) < 0)
                return negative_errno();
        return 0;
}

int capture_join_group(Capture *c, const struct in6_addr *group, int ifindex) {
        CaptureGroup *g = find_group(c, group, ifindex, NULL), *p;
        int r;

        if (g) {
                g->refs++;
                return 0;
        }
        p = realloc(c->groups, (c->n_groups + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        c->groups = p;
        r = group_op(c, group, ifindex, IPV6_JOIN_GROUP);
        if (r < 0)
                return log_warning_errno(r, "cannot join a solicited-node group on ifindex %d: %m", ifindex);
        c->groups[c->n_groups++] = (CaptureGroup) { .group = *group, .ifindex = ifindex, .refs = 1 };
        return 0;
}

void capture_leave_group(Capture *c, const struct in6_addr *group, int ifindex) {
        size_t i;
        CaptureGroup *g = find_group(c, group, ifindex, &i);

        if (!g || --g->refs > 0)
                return;
        /* The interface may be gone: then the kernel left already. */
        (void) group_op(c, group, ifindex, IPV6_LEAVE_GROUP);
        memmove(c->groups + i, c->groups + i + 1, (c->n_groups - i - 1) * sizeof(*c->groups));
        c->n_groups--;
}
