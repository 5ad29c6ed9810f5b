/* SPDX-License-Identifier: Apache-2.0 */
/* e2e-arp: the ARP side of the network e2e tests and the failover benchmark
 * (tests/e2e).  It runs inside a test namespace (ip netns exec) on one
 * interface and talks raw ARP through an AF_PACKET socket, with kernel
 * receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME), so what it reports is
 * what crossed the wire, not what a shell loop happened to notice.
 *
 *   e2e-arp request IFACE IP [--rate N] [--count N | --duration-ms MS] [--window-ms MS]
 *       Sends ARP requests for IP from IFACE's MAC and address, N per second
 *       (default 20), on a fixed schedule whatever the answers.  Each reply
 *       is matched to its request (see seq_mac) and printed:
 *           reply <rx-epoch-ms> <mac> <latency-us>
 *       then a summary line:
 *           summary sent=S answered=A lost=L p50_us=.. p99_us=.. max_us=..
 *       A request is answered by its first reply within --window-ms
 *       (default 1000) of being sent; a second reply to it (a second
 *       answerer) or a later one is printed with latency -1.  Percentiles
 *       count unanswered requests as slower than any answer ("lost").
 *
 *   e2e-arp watch IFACE IP --duration-ms MS
 *       Prints every ARP frame about IP (sender or target address):
 *           <kind> <rx-epoch-ms> <mac>     kind: request, reply, garp, probe
 *       (garp: sender address = target address = IP; probe: sender 0.0.0.0).
 *
 *   e2e-arp failover IFACE IP --pid PID --signal KILL|TERM --old-mac MAC [--timeout-ms MS]
 *       Sends SIGNAL to PID, then waits for the first gratuitous ARP for IP
 *       from a MAC other than MAC.  Prints:
 *           failover <ms> <new-mac>
 *       where ms runs from just before kill(2) to the frame's kernel receive
 *       time.  Exit 1 on timeout (default 10 s).
 *
 *   e2e-arp garp IFACE IP [--count N] [--delay-ms MS]
 *       Sends N (default 1) gratuitous ARP pairs (request and reply form) for
 *       IP from IFACE's MAC, each after a pause of MS: the harness
 *       self-test's stand-in for a speaker.
 *
 * Exit status 0 on success, 1 on a test-level failure (timeout), 2 on bad
 * usage or a system error. */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ARP_FRAME_LEN 42
#define MIN_FRAME_LEN 60

typedef struct Iface {
        int fd;
        int ifindex;
        uint8_t mac[6];
        struct in_addr addr; /* 0.0.0.0 when the interface has none */
} Iface;

typedef struct ArpFrame {
        uint8_t eth_src[6];
        uint16_t op;
        uint8_t sha[6];
        struct in_addr spa;
        uint8_t tha[6];
        struct in_addr tpa;
        int64_t rx_ns; /* CLOCK_REALTIME, from the kernel */
} ArpFrame;

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "e2e-arp: %s: %s\n", what, strerror(errno));
        exit(2);
}

static void usage(void) {
        fprintf(stderr, "usage: e2e-arp request|watch|failover|garp IFACE IP [options] (see the source)\n");
        exit(2);
}

static void format_mac(const uint8_t mac[6], char buf[18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int parse_mac(const char *s, uint8_t mac[6]) {
        unsigned v[6];
        if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                if (v[i] > 0xff)
                        return -EINVAL;
                mac[i] = (uint8_t) v[i];
        }
        return 0;
}

static long parse_long(const char *s, long min, long max) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < min || v > max) {
                fprintf(stderr, "e2e-arp: bad number '%s'\n", s);
                exit(2);
        }
        return v;
}

static void iface_open(Iface *i, const char *name) {
        struct ifreq ifr = {};
        if (strlen(name) >= IFNAMSIZ) {
                fprintf(stderr, "e2e-arp: interface name too long\n");
                exit(2);
        }
        strcpy(ifr.ifr_name, name);

        i->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
        if (i->fd < 0)
                die("socket(AF_PACKET)");
        if (ioctl(i->fd, SIOCGIFINDEX, &ifr) < 0)
                die(name);
        i->ifindex = ifr.ifr_ifindex;
        if (ioctl(i->fd, SIOCGIFHWADDR, &ifr) < 0)
                die("SIOCGIFHWADDR");
        memcpy(i->mac, ifr.ifr_hwaddr.sa_data, 6);

        int dgram = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (dgram < 0)
                die("socket(AF_INET)");
        i->addr.s_addr = 0;
        if (ioctl(dgram, SIOCGIFADDR, &ifr) == 0)
                i->addr = ((struct sockaddr_in *) &ifr.ifr_addr)->sin_addr;
        close(dgram);

        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_ARP),
                .sll_ifindex = i->ifindex,
        };
        if (bind(i->fd, (struct sockaddr *) &sll, sizeof(sll)) < 0)
                die("bind");
        int on = 1;
        if (setsockopt(i->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0)
                die("SO_TIMESTAMPNS");
        /* Promiscuous: a kernel answers a request to its sha, which is the
         * sequence MAC of cmd_request, not ours. */
        struct packet_mreq mr = { .mr_ifindex = i->ifindex, .mr_type = PACKET_MR_PROMISC };
        if (setsockopt(i->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
                die("PACKET_MR_PROMISC");
}

/* Frames already queued belong to the time before we started measuring. */
static void iface_drain(Iface *i) {
        uint8_t buf[2048];
        while (recv(i->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

static void arp_send(Iface *i, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6], struct in_addr spa,
                     const uint8_t tha[6], struct in_addr tpa) {
        uint8_t f[MIN_FRAME_LEN] = {};
        memcpy(f, eth_dst, 6);
        memcpy(f + 6, i->mac, 6);
        f[12] = ETH_P_ARP >> 8;
        f[13] = ETH_P_ARP & 0xff;
        f[14] = 0, f[15] = 1;         /* htype Ethernet */
        f[16] = 0x08, f[17] = 0x00;   /* ptype IPv4 */
        f[18] = 6, f[19] = 4;
        f[20] = op >> 8, f[21] = op & 0xff;
        memcpy(f + 22, sha, 6);
        memcpy(f + 28, &spa, 4);
        memcpy(f + 32, tha, 6);
        memcpy(f + 38, &tpa, 4);

        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_ARP),
                .sll_ifindex = i->ifindex,
                .sll_halen = 6,
        };
        memcpy(sll.sll_addr, eth_dst, 6);
        if (sendto(i->fd, f, sizeof(f), 0, (struct sockaddr *) &sll, sizeof(sll)) < 0)
                die("sendto");
}

/* Waits until deadline_ns (CLOCK_REALTIME) for one Ethernet/IPv4 ARP frame.
 * Returns 1 with *ret filled, 0 on timeout. */
static int arp_recv(Iface *i, int64_t deadline_ns, ArpFrame *ret) {
        for (;;) {
                int64_t left = deadline_ns - now_ns();
                if (left <= 0)
                        return 0;
                struct pollfd p = { .fd = i->fd, .events = POLLIN };
                int n = poll(&p, 1, (int) ((left + 999999) / 1000000));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll");
                }
                if (n == 0)
                        continue;

                uint8_t buf[2048];
                char cbuf[CMSG_SPACE(sizeof(struct timespec))];
                struct sockaddr_ll from;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr mh = {
                        .msg_name = &from, .msg_namelen = sizeof(from),
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cbuf, .msg_controllen = sizeof(cbuf),
                };
                ssize_t len = recvmsg(i->fd, &mh, MSG_DONTWAIT);
                if (len < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        die("recvmsg");
                }
                /* Our own transmissions come back on a packet socket. */
                if (from.sll_pkttype == PACKET_OUTGOING)
                        continue;
                if (len < ARP_FRAME_LEN || buf[12] != (ETH_P_ARP >> 8) || buf[13] != (ETH_P_ARP & 0xff) ||
                    buf[14] != 0 || buf[15] != 1 || buf[16] != 0x08 || buf[17] != 0 || buf[18] != 6 || buf[19] != 4)
                        continue;

                ArpFrame f = { .rx_ns = now_ns() };
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                                struct timespec ts;
                                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                                f.rx_ns = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
                        }
                memcpy(f.eth_src, buf + 6, 6);
                f.op = (uint16_t) (buf[20] << 8 | buf[21]);
                memcpy(f.sha, buf + 22, 6);
                memcpy(&f.spa, buf + 28, 4);
                memcpy(f.tha, buf + 32, 6);
                memcpy(&f.tpa, buf + 38, 4);
                *ret = f;
                return 1;
        }
}

static const char *arp_kind(const ArpFrame *f) {
        if (f->spa.s_addr == f->tpa.s_addr)
                return "garp";
        if (f->op == 2)
                return "reply";
        if (f->spa.s_addr == 0)
                return "probe";
        return "request";
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

static int64_t percentile(const int64_t *sorted, size_t n, double p) {
        if (n == 0)
                return -1;
        size_t k = (size_t) (p * (double) n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return sorted[k - 1];
}

/* A request answered after its window, or never, counts as lost; the
 * percentiles count lost requests as slower than any answer ("lost"). */
static void print_latency(const char *name, const int64_t *sorted, size_t n, double p) {
        int64_t v = percentile(sorted, n, p);
        if (v == INT64_MAX)
                printf(" %s=lost", name);
        else
                printf(" %s=%lld", name, (long long) (v / 1000));
}

/* The sequence number of request k travels in the ARP sender hardware
 * address (sha = 06:e2:e1 + k's low 24 bits; the Ethernet source stays the
 * interface's MAC), and comes back as the reply's target hardware address,
 * so every reply is matched to its request however late it is. */
static void seq_mac(uint32_t k, uint8_t mac[6]) {
        mac[0] = 0x06, mac[1] = 0xe2, mac[2] = 0xe1;
        mac[3] = (uint8_t) (k >> 16), mac[4] = (uint8_t) (k >> 8), mac[5] = (uint8_t) k;
}

static int cmd_request(Iface *i, struct in_addr ip, long rate, long count, long duration_ms, long window_ms) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6] = {};
        int64_t period = 1000000000 / rate;
        int64_t window = (window_ms > 0 ? window_ms : 1000) * 1000000;
        if (count <= 0)
                count = duration_ms * rate / 1000;
        if (count <= 0)
                count = 1;
        if (count > 0xffffff) {
                fprintf(stderr, "e2e-arp: at most %d requests\n", 0xffffff);
                return 2;
        }
        int64_t *sent = calloc((size_t) count, sizeof(int64_t)), *lat = calloc((size_t) count, sizeof(int64_t));
        if (!sent || !lat)
                die("calloc");
        for (long k = 0; k < count; k++)
                lat[k] = INT64_MAX;
        size_t answered = 0;

        iface_drain(i);
        int64_t next = now_ns(), end = INT64_MAX;
        for (long k = 0;;) {
                if (k < count && now_ns() >= next) {
                        uint8_t sha[6];
                        seq_mac((uint32_t) k, sha);
                        sent[k] = now_ns();
                        arp_send(i, bcast, 1, sha, i->addr, zero, ip);
                        next = sent[k] + period;
                        if (++k == count)
                                end = sent[k - 1] + window;
                        continue;
                }
                int64_t until = k < count ? next : end;
                if (now_ns() >= until && k == count)
                        break;
                ArpFrame f;
                if (!arp_recv(i, until, &f))
                        continue;
                if (f.op != 2 || f.spa.s_addr != ip.s_addr || f.tha[0] != 0x06 || f.tha[1] != 0xe2 ||
                    f.tha[2] != 0xe1)
                        continue;
                uint32_t seq = (uint32_t) f.tha[3] << 16 | (uint32_t) f.tha[4] << 8 | f.tha[5];
                char mac[18];
                format_mac(f.sha, mac);
                long long us = -1;
                if (seq < (uint32_t) k && lat[seq] == INT64_MAX && f.rx_ns - sent[seq] <= window) {
                        lat[seq] = f.rx_ns - sent[seq];
                        answered++;
                        us = (long long) (lat[seq] / 1000);
                }
                printf("reply %lld %s %lld\n", (long long) (f.rx_ns / 1000000), mac, us);
        }
        fflush(stdout);
        qsort(lat, (size_t) count, sizeof(int64_t), cmp_i64);
        printf("summary sent=%ld answered=%zu lost=%zu", count, answered, (size_t) count - answered);
        print_latency("p50_us", lat, (size_t) count, 0.50);
        print_latency("p99_us", lat, (size_t) count, 0.99);
        print_latency("max_us", lat, (size_t) count, 1.0);
        printf("\n");
        free(sent);
        free(lat);
        return 0;
}

static int cmd_watch(Iface *i, struct in_addr ip, long duration_ms) {
        int64_t deadline = now_ns() + duration_ms * 1000000;
        ArpFrame f;
        char mac[18];
        while (arp_recv(i, deadline, &f)) {
                if (f.spa.s_addr != ip.s_addr && f.tpa.s_addr != ip.s_addr)
                        continue;
                format_mac(f.sha, mac);
                printf("%s %lld %s\n", arp_kind(&f), (long long) (f.rx_ns / 1000000), mac);
                fflush(stdout);
        }
        return 0;
}

static int cmd_failover(Iface *i, struct in_addr ip, pid_t pid, int sig, const uint8_t old_mac[6], long timeout_ms) {
        iface_drain(i);
        int64_t t0 = now_ns();
        if (kill(pid, sig) < 0)
                die("kill");
        int64_t deadline = t0 + timeout_ms * 1000000;
        ArpFrame f;
        while (arp_recv(i, deadline, &f)) {
                if (f.spa.s_addr != ip.s_addr || f.tpa.s_addr != ip.s_addr || memcmp(f.sha, old_mac, 6) == 0)
                        continue;
                char mac[18];
                format_mac(f.sha, mac);
                printf("failover %.1f %s\n", (double) (f.rx_ns - t0) / 1e6, mac);
                return 0;
        }
        printf("failover timeout %ld\n", timeout_ms);
        return 1;
}

static int cmd_garp(Iface *i, struct in_addr ip, long count, long delay_ms) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6] = {};
        for (long k = 0; k < count; k++) {
                if (k > 0 || delay_ms > 0) {
                        struct timespec ts = { .tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000 };
                        nanosleep(&ts, NULL);
                }
                arp_send(i, bcast, 1, i->mac, ip, zero, ip);
                arp_send(i, bcast, 2, i->mac, ip, bcast, ip);
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 4)
                usage();
        const char *cmd = argv[1], *ifname = argv[2];
        struct in_addr ip;
        if (inet_pton(AF_INET, argv[3], &ip) != 1) {
                fprintf(stderr, "e2e-arp: bad IPv4 address '%s'\n", argv[3]);
                return 2;
        }
        long rate = 20, count = 0, duration_ms = 0, window_ms = 0, timeout_ms = 10000, delay_ms = 0;
        pid_t pid = 0;
        int sig = 0;
        uint8_t old_mac[6] = {};
        bool have_old = false;

        for (int k = 4; k < argc; k++) {
                const char *o = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
                if (!v)
                        usage();
                k++;
                if (!strcmp(o, "--rate"))
                        rate = parse_long(v, 1, 1000000);
                else if (!strcmp(o, "--count"))
                        count = parse_long(v, 1, 100000000);
                else if (!strcmp(o, "--duration-ms"))
                        duration_ms = parse_long(v, 1, 3600000);
                else if (!strcmp(o, "--window-ms"))
                        window_ms = parse_long(v, 1, 60000);
                else if (!strcmp(o, "--timeout-ms"))
                        timeout_ms = parse_long(v, 1, 3600000);
                else if (!strcmp(o, "--delay-ms"))
                        delay_ms = parse_long(v, 0, 3600000);
                else if (!strcmp(o, "--pid"))
                        pid = (pid_t) parse_long(v, 1, INT_MAX);
                else if (!strcmp(o, "--signal")) {
                        if (!strcmp(v, "KILL"))
                                sig = SIGKILL;
                        else if (!strcmp(v, "TERM"))
                                sig = SIGTERM;
                        else
                                usage();
                } else if (!strcmp(o, "--old-mac")) {
                        if (parse_mac(v, old_mac) < 0)
                                usage();
                        have_old = true;
                } else
                        usage();
        }

        Iface i;
        iface_open(&i, ifname);
        if (!strcmp(cmd, "request"))
                return cmd_request(&i, ip, rate, count, duration_ms, window_ms);
        if (!strcmp(cmd, "watch"))
                return duration_ms > 0 ? cmd_watch(&i, ip, duration_ms) : (usage(), 2);
        if (!strcmp(cmd, "failover")) {
                if (!pid || !sig || !have_old)
                        usage();
                return cmd_failover(&i, ip, pid, sig, old_mac, timeout_ms);
        }
        if (!strcmp(cmd, "garp"))
                return cmd_garp(&i, ip, count > 0 ? count : 1, delay_ms);
        usage();
}
