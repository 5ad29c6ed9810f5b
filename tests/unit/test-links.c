/* SPDX-License-Identifier: Apache-2.0 */
/* Interfaces of the speaker (speaker.md §6): usability, default selection,
 * the exclude regex and L2Advertisement.interfaces, the ARP/NDP filters,
 * the strict-ARP check, and the live libnl cache manager in a private
 * network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "link_select.h"
#include "links.h"
#include "strict_arp.h"

#define USABLE_FLAGS (IFF_UP | IFF_LOWER_UP | IFF_BROADCAST | IFF_MULTICAST)

static IpAddr ip(const char *s) {
        IpAddr a;
        assert_int_equal(ip_addr_parse(s, &a), 0);
        return a;
}

static LinkAddress addr(const char *cidr) {
        char host[64];
        const char *slash = strchr(cidr, '/');
        LinkAddress la;

        assert_non_null(slash);
        snprintf(host, sizeof host, "%.*s", (int) (slash - cidr), cidr);
        la.local = ip(host);
        assert_int_equal(ip_cidr_parse(cidr, false, &la.subnet), 0);
        return la;
}

static LinkInfo eth(int ifindex, const char *name) {
        LinkInfo l = { .ifindex = ifindex, .flags = USABLE_FLAGS, .arptype = ARPHRD_ETHER, .has_mac = true };
        snprintf(l.name, sizeof l.name, "%s", name);
        l.mac[0] = 0x02;
        l.mac[5] = (uint8_t) ifindex;
        return l;
}

static void set_addresses(LinkInfo *l, LinkAddress *addresses, size_t n) {
        l->addresses = addresses;
        l->n_addresses = n;
}

static void with_link_local(LinkInfo *l) {
        l->has_link_local6 = true;
        l->link_local6 = ip("fe80::1");
}

/* Names of the selected links, space separated, for one readable assertion. */
static const char *selected(const LinkInfo *links, size_t n, const char *pattern, const char *const *names,
                            size_t n_names, const char *x) {
        static char out[256];
        size_t idx[16];
        regex_t re;
        IpAddr a = ip(x);

        assert_true(n <= ELEMENTSOF(idx));
        if (pattern)
                assert_int_equal(link_exclude_compile(pattern, &re), 0);
        size_t k = link_select(links, n, pattern ? &re : NULL, names, n_names, &a, idx);
        if (pattern)
                regfree(&re);

        out[0] = '\0';
        for (size_t i = 0; i < k; i++) {
                assert_true(idx[i] < n);
                if (i > 0)
                        strcat(out, " ");
                strcat(out, links[idx[i]].name);
        }
        return out;
}

static void test_usable_rules(void **state) {
        LinkInfo l;
        (void) state;

        l = eth(2, "eth0");
        assert_true(link_usable(&l));

        l = eth(2, "eth0");
        l.flags &= ~IFF_UP;
        assert_false(link_usable(&l));

        l = eth(2, "eth0"); /* administratively up without carrier */
        l.flags &= ~IFF_LOWER_UP;
        assert_false(link_usable(&l));

        l = eth(2, "wg0");
        l.arptype = ARPHRD_NONE;
        assert_false(link_usable(&l));

        l = eth(2, "ib0");
        l.arptype = ARPHRD_INFINIBAND;
        assert_false(link_usable(&l));

        l = eth(1, "lo");
        l.flags |= IFF_LOOPBACK;
        assert_false(link_usable(&l));

        l = eth(2, "kube-ipvs0");
        l.flags |= IFF_NOARP;
        assert_false(link_usable(&l));

        static const char *const enslaving[] = { "bond", "team", "bridge", "openvswitch", "" };
        for (size_t i = 0; i < ELEMENTSOF(enslaving); i++) {
                l = eth(2, "eth0");
                l.master_ifindex = 7;
                snprintf(l.master_kind, sizeof l.master_kind, "%s", enslaving[i]);
                assert_true(link_enslaved(&l));
                assert_false(link_usable(&l));
        }

        /* VRF membership does not disqualify. */
        l = eth(2, "eth0");
        l.master_ifindex = 7;
        snprintf(l.master_kind, sizeof l.master_kind, "vrf");
        assert_false(link_enslaved(&l));
        assert_true(link_usable(&l));
}

static void test_bridge_port_vs_bridge(void **state) {
        LinkInfo links[3];
        LinkAddress br_addr = addr("192.0.2.1/24");
        (void) state;

        links[0] = eth(2, "eth0"); /* port of br0 */
        links[0].master_ifindex = 4;
        snprintf(links[0].master_kind, sizeof links[0].master_kind, "bridge");
        links[1] = eth(3, "eth1"); /* port of bond0 */
        links[1].master_ifindex = 5;
        snprintf(links[1].master_kind, sizeof links[1].master_kind, "bond");
        links[2] = eth(4, "br0");
        snprintf(links[2].kind, sizeof links[2].kind, "bridge");
        set_addresses(&links[2], &br_addr, 1);

        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "192.0.2.10"), "br0");
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "203.0.113.9"), "br0");
        /* Naming a port does not make it usable. */
        static const char *const port[] = { "eth0" };
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, port, 1, "192.0.2.10"), "");
}

static void test_select_by_subnet_then_fallback(void **state) {
        LinkInfo links[3];
        LinkAddress eth0_addrs[] = { addr("10.0.0.5/24"), addr("192.0.2.5/24"), addr("2001:db8:1::5/64") };
        LinkAddress eth1_addrs[] = { addr("198.51.100.1/24") };
        (void) state;

        links[0] = eth(2, "eth0");
        set_addresses(&links[0], eth0_addrs, ELEMENTSOF(eth0_addrs));
        with_link_local(&links[0]);
        links[1] = eth(3, "eth1");
        set_addresses(&links[1], eth1_addrs, ELEMENTSOF(eth1_addrs));
        with_link_local(&links[1]);
        links[2] = eth(4, "eth2");
        links[2].flags &= ~IFF_LOWER_UP; /* carrier lost: never selected */
        set_addresses(&links[2], eth0_addrs, ELEMENTSOF(eth0_addrs));

        /* The secondary address counts. */
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "192.0.2.10"), "eth0");
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "198.51.100.200"), "eth1");
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "2001:db8:1::a"), "eth0");
        /* No prefix contains x: every usable interface (MetalLB). */
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "203.0.113.7"), "eth0 eth1");
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, NULL, 0, "2001:db8:2::a"), "eth0 eth1");
        /* The override replaces the subnet match. */
        static const char *const names[] = { "eth1" };
        assert_string_equal(selected(links, 3, LINK_EXCLUDE_DEFAULT, names, 1, "192.0.2.10"), "eth1");
}

static void test_exclude_regex(void **state) {
        LinkInfo links[6];
        LinkAddress docker_addr = addr("192.0.2.1/24");
        regex_t re;
        (void) state;

        assert_string_equal(LINK_EXCLUDE_DEFAULT,
                            "^docker.*|^cbr.*|^dummy.*|^virbr.*|^lxcbr.*|^veth.*|^lo$|^cali.*|^tunl.*|^flannel.*|"
                            "^kube-ipvs.*|^cni.*|^nodelocaldns.*|^lxc.*");

        assert_int_equal(link_exclude_compile(LINK_EXCLUDE_DEFAULT, &re), 0);
        static const char *const excluded[] = { "docker0", "veth1234", "lo", "cali0ab", "flannel.1",
                                                "kube-ipvs0", "cni0", "nodelocaldns", "lxc12", "virbr0" };
        for (size_t i = 0; i < ELEMENTSOF(excluded); i++)
                assert_true(link_name_excluded(&re, excluded[i]));
        static const char *const kept[] = { "eth0", "ens3", "bond0", "br0", "lo0", "vlan.10", "myveth" };
        for (size_t i = 0; i < ELEMENTSOF(kept); i++)
                assert_false(link_name_excluded(&re, kept[i]));
        regfree(&re);
        assert_int_equal(link_exclude_compile("^(eth", &re), -EINVAL);

        links[0] = eth(1, "lo");
        links[0].flags |= IFF_LOOPBACK;
        links[1] = eth(2, "eth0");
        links[2] = eth(3, "docker0"); /* carries the subnet, but excluded */
        set_addresses(&links[2], &docker_addr, 1);
        links[3] = eth(4, "veth0a");
        links[4] = eth(5, "veth0b");
        links[5] = eth(6, "eth1");

        assert_string_equal(selected(links, 6, LINK_EXCLUDE_DEFAULT, NULL, 0, "192.0.2.10"), "eth0 eth1");
        assert_string_equal(selected(links, 6, "^eth1$", NULL, 0, "192.0.2.10"), "docker0");
        assert_string_equal(selected(links, 6, NULL, NULL, 0, "203.0.113.1"), "eth0 docker0 veth0a veth0b eth1");

        /* Named interfaces bypass the regex, not usability; unknown names select nothing. */
        static const char *const names[] = { "veth0a", "docker0", "lo", "nosuch0" };
        assert_string_equal(selected(links, 6, LINK_EXCLUDE_DEFAULT, names, ELEMENTSOF(names), "203.0.113.1"),
                            "docker0 veth0a");
        static const char *const only_lo[] = { "lo" };
        assert_string_equal(selected(links, 6, LINK_EXCLUDE_DEFAULT, only_lo, 1, "203.0.113.1"), "");
}

static void test_protocol_filters(void **state) {
        LinkInfo links[2];
        LinkAddress global6 = addr("2001:db8::5/64");
        (void) state;

        links[0] = eth(2, "eth0"); /* no link-local, no broadcast */
        links[0].flags &= ~IFF_BROADCAST;
        set_addresses(&links[0], &global6, 1);
        links[1] = eth(3, "eth1");
        with_link_local(&links[1]);

        assert_false(link_supports_family(&links[0], IP_FAMILY_V4));
        assert_false(link_supports_family(&links[0], IP_FAMILY_V6));
        assert_true(link_supports_family(&links[1], IP_FAMILY_V4));
        assert_true(link_supports_family(&links[1], IP_FAMILY_V6));

        /* eth0 holds the prefix but cannot send an NA: the fallback applies. */
        assert_string_equal(selected(links, 2, LINK_EXCLUDE_DEFAULT, NULL, 0, "2001:db8::a"), "eth1");
        assert_string_equal(selected(links, 2, LINK_EXCLUDE_DEFAULT, NULL, 0, "192.0.2.10"), "eth1");
        static const char *const names[] = { "eth0" };
        assert_string_equal(selected(links, 2, LINK_EXCLUDE_DEFAULT, names, 1, "2001:db8::a"), "");
        assert_string_equal(selected(links, 2, LINK_EXCLUDE_DEFAULT, names, 1, "192.0.2.10"), "");

        links[0].flags |= IFF_BROADCAST;
        assert_string_equal(selected(links, 2, LINK_EXCLUDE_DEFAULT, names, 1, "192.0.2.10"), "eth0");
}

static void test_find_and_local_mac(void **state) {
        LinkInfo links[2] = { eth(2, "eth0"), eth(3, "eth1") };
        const uint8_t ours[6] = { 0x02, 0, 0, 0, 0, 3 }, theirs[6] = { 0x02, 0, 0, 0, 0, 9 };
        (void) state;

        assert_ptr_equal(link_find_by_name(links, 2, "eth1"), &links[1]);
        assert_null(link_find_by_name(links, 2, "eth9"));
        assert_ptr_equal(link_find_by_ifindex(links, 2, 2), &links[0]);
        assert_true(link_mac_is_local(links, 2, ours));
        assert_false(link_mac_is_local(links, 2, theirs));
}

/* --- strict ARP ---------------------------------------------------------- */

typedef struct SysctlTree {
        char root[64];
        LinkInfo links[5];
        LinkAddress ipvs_addrs[2];
        const char *lb_ip; /* the one load-balancer IP, or NULL */
} SysctlTree;

static void write_conf(const SysctlTree *t, const char *dev, int ignore, int announce) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/proc/sys/net/ipv4/conf/%s", t->root, dev);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        assert_int_equal(system(cmd), 0);

        snprintf(path, sizeof path, "%s/proc/sys/net/ipv4/conf/%s/arp_ignore", t->root, dev);
        assert_non_null(f = fopen(path, "we"));
        fprintf(f, "%d\n", ignore);
        fclose(f);
        snprintf(path, sizeof path, "%s/proc/sys/net/ipv4/conf/%s/arp_announce", t->root, dev);
        assert_non_null(f = fopen(path, "we"));
        fprintf(f, "%d\n", announce);
        fclose(f);
}

static bool is_lb_ip(const IpAddr *a, void *userdata) {
        const SysctlTree *t = userdata;
        IpAddr lb;
        return t->lb_ip && ip_addr_parse(t->lb_ip, &lb) == 0 && ip_addr_equal(a, &lb);
}

static int tree_setup(void **state) {
        SysctlTree *t = calloc(1, sizeof *t);
        assert_non_null(t);
        snprintf(t->root, sizeof t->root, "/tmp/test-links-XXXXXX");
        assert_non_null(mkdtemp(t->root));

        t->links[0] = eth(1, "lo");
        t->links[0].flags |= IFF_LOOPBACK;
        t->links[1] = eth(2, "eth0");
        t->links[2] = eth(3, "eth1");
        t->links[3] = eth(4, "eth2"); /* down: not checked */
        t->links[3].flags &= ~(IFF_UP | IFF_LOWER_UP);
        /* kube-proxy's dummy device: NOARP, down, the service IPs as /32 and /128. */
        t->links[4] = eth(5, "kube-ipvs0");
        t->links[4].flags = IFF_BROADCAST | IFF_NOARP;
        t->ipvs_addrs[0] = addr("10.96.0.1/32");
        t->ipvs_addrs[1] = addr("192.0.2.10/32");
        set_addresses(&t->links[4], t->ipvs_addrs, 2);
        t->lb_ip = "192.0.2.10";

        write_conf(t, "all", 0, 0);
        write_conf(t, "lo", 0, 0);
        write_conf(t, "eth0", 0, 0);
        write_conf(t, "eth1", 0, 0);
        write_conf(t, "eth2", 0, 0);
        write_conf(t, "kube-ipvs0", 0, 0);
        *state = t;
        return 0;
}

static int tree_teardown(void **state) {
        SysctlTree *t = *state;
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
        assert_int_equal(system(cmd), 0);
        free(t);
        return 0;
}

static StrictArpResult check(SysctlTree *t, size_t n_links) {
        StrictArpResult r;
        assert_int_equal(strict_arp_check(t->root, t->links, n_links, is_lb_ip, t, &r), 0);
        return r;
}

static void test_strict_arp_pass_on_all(void **state) {
        SysctlTree *t = *state;
        write_conf(t, "all", 1, 2);
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_OK);
        /* arp_ignore 2 is stricter still; max() over all and dev. */
        write_conf(t, "eth1", 2, 0);
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_OK);
}

static void test_strict_arp_pass_per_device(void **state) {
        SysctlTree *t = *state;
        write_conf(t, "eth0", 1, 2);
        write_conf(t, "eth1", 1, 2);
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_OK);
}

static void test_strict_arp_fails_on_all(void **state) {
        SysctlTree *t = *state;
        _cleanup_free_ char *msg = NULL;

        StrictArpResult r = check(t, 5);
        assert_int_equal(r.verdict, STRICT_ARP_DISABLED);
        assert_string_equal(r.dev, "eth0");
        assert_int_equal(r.arp_ignore, 0);
        assert_int_equal(r.arp_announce, 0);
        assert_int_equal(strict_arp_message(&r, &msg), 0);
        assert_string_equal(msg, "kube-ipvs0 holds load-balancer IPs but ARP is not strict on eth0 (arp_ignore 0, "
                                 "arp_announce 0): every node may answer for them; enable strictARP in "
                                 "kube-proxy's IPVS configuration");
}

static void test_strict_arp_fails_on_device(void **state) {
        SysctlTree *t = *state;
        _cleanup_free_ char *msg = NULL;

        write_conf(t, "all", 1, 0);
        write_conf(t, "eth0", 0, 2);
        write_conf(t, "eth1", 0, 1); /* announce 1 is not 2 */
        StrictArpResult r = check(t, 5);
        assert_int_equal(r.verdict, STRICT_ARP_DISABLED);
        assert_string_equal(r.dev, "eth1");
        assert_int_equal(r.arp_ignore, 1);
        assert_int_equal(r.arp_announce, 1);
        assert_int_equal(strict_arp_message(&r, &msg), 0);
        assert_string_equal(msg, "kube-ipvs0 holds load-balancer IPs but ARP is not strict on eth1 (arp_ignore 1, "
                                 "arp_announce 1): every node may answer for them; enable strictARP in "
                                 "kube-proxy's IPVS configuration");

        /* A usable link without IFF_BROADCAST is not checked. */
        t->links[2].flags &= ~IFF_BROADCAST;
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_OK);
}

static void test_strict_arp_not_needed(void **state) {
        SysctlTree *t = *state;
        StrictArpResult r;

        /* kube-ipvs0 holds only ClusterIPs. */
        t->lb_ip = NULL;
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_NOT_NEEDED);
        t->lb_ip = "198.51.100.1";
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_NOT_NEEDED);
        /* No kube-ipvs0 at all (kube-proxy in iptables/nftables mode). */
        t->lb_ip = "192.0.2.10";
        assert_int_equal(check(t, 4).verdict, STRICT_ARP_NOT_NEEDED);
        assert_int_equal(strict_arp_check(t->root, t->links, 5, NULL, NULL, &r), 0);
        assert_int_equal(r.verdict, STRICT_ARP_NOT_NEEDED);
}

static void test_strict_arp_missing_files(void **state) {
        SysctlTree *t = *state;
        StrictArpResult r;
        char cmd[256];

        write_conf(t, "all", 1, 2);
        /* eth1 vanished after the snapshot: skipped. */
        snprintf(cmd, sizeof cmd, "rm -rf '%s/proc/sys/net/ipv4/conf/eth1'", t->root);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(check(t, 5).verdict, STRICT_ARP_OK);

        snprintf(cmd, sizeof cmd, "rm -rf '%s/proc/sys/net/ipv4/conf/all'", t->root);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(strict_arp_check(t->root, t->links, 5, is_lb_ip, t, &r), -ENOENT);
}

/* --- live: libnl cache manager in a private network namespace ------------ */

typedef struct LiveState {
        sd_event *event;
        Links *links;
        unsigned calls;
        int last_ifindex;
        bool saw_full_change;
} LiveState;

static void on_links_changed(Links *links, int ifindex, void *userdata) {
        LiveState *s = userdata;
        assert_ptr_equal(links, s->links);
        s->calls++;
        s->last_ifindex = ifindex;
        s->saw_full_change = s->saw_full_change || ifindex == 0;
}

static void sh(const char *cmd) {
        int r = system(cmd);
        if (r != 0)
                fail_msg("command failed (%d): %s", r, cmd);
}

static const LinkInfo *live_find(LiveState *s, const char *name) {
        size_t n;
        const LinkInfo *links = links_snapshot(s->links, &n);
        return link_find_by_name(links, n, name);
}

/* Runs the loop until pred holds (the snapshot changed accordingly) or 5 s pass. */
typedef bool (*live_pred)(LiveState *s);
static void run_until(LiveState *s, live_pred pred, const char *what) {
        for (int i = 0; i < 100 && !pred(s); i++)
                assert_true(sd_event_run(s->event, 50 * 1000) >= 0);
        if (!pred(s))
                fail_msg("not reported within 5 s: %s", what);
}

static bool veth_present(LiveState *s) {
        return live_find(s, "eth0") && live_find(s, "eth1");
}
static bool eth0_usable(LiveState *s) {
        const LinkInfo *l = live_find(s, "eth0");
        return l && link_usable(l);
}
static bool eth0_unusable(LiveState *s) {
        const LinkInfo *l = live_find(s, "eth0");
        return l && !link_usable(l);
}
static bool eth0_has_both_addresses(LiveState *s) {
        const LinkInfo *l = live_find(s, "eth0");
        IpAddr secondary = ip("198.51.100.20");
        return l && link_has_subnet_for(l, &secondary) && l->has_link_local6;
}
static bool eth1_bridged(LiveState *s) {
        const LinkInfo *l = live_find(s, "eth1");
        return l && l->master_ifindex > 0 && streq(l->master_kind, "bridge");
}
static bool veth_gone(LiveState *s) {
        return !live_find(s, "eth0") && !live_find(s, "eth1");
}

static bool eth0_has_many_addresses(LiveState *s) {
        const LinkInfo *l = live_find(s, "eth0");
        IpAddr first = ip("203.0.113.1"), last = ip("203.0.113.200");
        return l && link_has_subnet_for(l, &first) && link_has_subnet_for(l, &last);
}

/* The cache manager's socket is the netlink socket subscribed to groups. */
static void shrink_notification_buffer(void) {
        int found = 0;
        for (int fd = 3; fd < 1024; fd++) {
                struct sockaddr_nl sa = {};
                socklen_t len = sizeof sa;
                int proto, small = 1;
                socklen_t plen = sizeof proto;
                if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) < 0 || proto != NETLINK_ROUTE)
                        continue;
                if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0 || sa.nl_family != AF_NETLINK ||
                    sa.nl_groups == 0)
                        continue;
                assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
                found++;
        }
        assert_int_equal(found, 1);
}

static void enter_private_netns(void) {
        /* Never run the ip commands below against the host's interfaces:
         * fail loudly instead of skipping when no namespace can be made. */
        if (geteuid() != 0)
                fail_msg("the live links test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for unshare)");
        if (unshare(CLONE_NEWNET) < 0)
                fail_msg("unshare(CLONE_NEWNET) failed: %s", strerror(errno));
}

static void test_live_links(void **state) {
        LiveState s = {};
        size_t n, idx[8];
        (void) state;

        enter_private_netns();
        assert_int_equal(sd_event_new(&s.event), 0);
        assert_int_equal(links_new(s.event, on_links_changed, &s, &s.links), 0);

        /* A fresh namespace holds only lo, loaded before links_new returned. */
        const LinkInfo *snap = links_snapshot(s.links, &n);
        assert_int_equal(n, 1);
        assert_string_equal(snap[0].name, "lo");
        assert_false(link_usable(&snap[0]));

        sh("ip link add eth0 type veth peer name eth1");
        run_until(&s, veth_present, "veth pair created");
        assert_true(s.calls > 0);
        assert_string_equal(live_find(&s, "eth0")->kind, "veth");
        assert_true(live_find(&s, "eth0")->has_mac);
        assert_false(link_usable(live_find(&s, "eth0")));

        sh("ip link set eth0 up && ip link set eth1 up");
        run_until(&s, eth0_usable, "eth0 up with carrier");

        unsigned before = s.calls;
        int eth0_ifindex = live_find(&s, "eth0")->ifindex;
        sh("ip addr add 192.0.2.1/24 dev eth0 && ip addr add 198.51.100.20/24 dev eth0");
        run_until(&s, eth0_has_both_addresses, "eth0 addresses (primary, secondary, link-local)");
        assert_true(s.calls > before);
        assert_true(s.last_ifindex == eth0_ifindex || s.last_ifindex == 0);

        regex_t re;
        IpAddr x = ip("198.51.100.7"), x6 = ip("2001:db8::7");
        assert_int_equal(link_exclude_compile(LINK_EXCLUDE_DEFAULT, &re), 0);
        snap = links_snapshot(s.links, &n);
        assert_int_equal(link_select(snap, n, &re, NULL, 0, &x, idx), 1);
        assert_string_equal(snap[idx[0]].name, "eth0");
        /* No IPv6 prefix contains x6: the fallback, eth0 among them (NDP from its link-local). */
        size_t k6 = link_select(snap, n, &re, NULL, 0, &x6, idx);
        bool eth0_selected = false;
        for (size_t i = 0; i < k6; i++)
                eth0_selected = eth0_selected || streq(snap[idx[i]].name, "eth0");
        assert_true(eth0_selected);
        regfree(&re);

        /* Carrier lost when the peer goes down. */
        sh("ip link set eth1 down");
        run_until(&s, eth0_unusable, "eth0 carrier down");
        assert_false(live_find(&s, "eth0")->flags & IFF_LOWER_UP);
        assert_true(live_find(&s, "eth0")->flags & IFF_UP);

        sh("ip link set eth1 up");
        run_until(&s, eth0_usable, "eth0 carrier back");

        sh("ip link add br0 type bridge && ip link set eth1 master br0");
        run_until(&s, eth1_bridged, "eth1 enslaved to br0");
        assert_false(link_usable(live_find(&s, "eth1")));
        assert_true(link_enslaved(live_find(&s, "eth1")));
        assert_int_equal(live_find(&s, "eth1")->master_ifindex, live_find(&s, "br0")->ifindex);
        assert_string_equal(live_find(&s, "br0")->kind, "bridge");
        /* The bridge port also shows up as an AF_BRIDGE object: listed once only. */
        snap = links_snapshot(s.links, &n);
        unsigned eth1_entries = 0;
        for (size_t i = 0; i < n; i++) {
                eth1_entries += streq(snap[i].name, "eth1");
                if (i > 0)
                        assert_true(snap[i - 1].ifindex < snap[i].ifindex);
        }
        assert_int_equal(eth1_entries, 1);

        /* What ENOBUFS does: refill, same content, one full-change call. */
        uint64_t gen = links_generation(s.links);
        size_t n_before = n;
        before = s.calls;
        assert_int_equal(links_resync(s.links), 0);
        assert_int_equal(s.calls, before + 1);
        assert_int_equal(s.last_ifindex, 0);
        s.saw_full_change = false;
        assert_true(links_generation(s.links) > gen);
        links_snapshot(s.links, &n);
        assert_int_equal(n, n_before);
        assert_true(eth0_has_both_addresses(&s));
        assert_true(eth1_bridged(&s));

        /* A real overflow: shrink the notification socket's buffer and make
         * the kernel queue more than fits while the loop is not running. */
        shrink_notification_buffer();
        before = s.calls;
        sh("for i in $(seq 1 200); do echo \"addr add 203.0.113.$i/32 dev eth0\"; done | ip -batch -");
        run_until(&s, eth0_has_many_addresses, "all 200 addresses after the overflow");
        assert_true(s.calls > before);
        assert_true(s.saw_full_change);

        sh("ip link del eth0");
        run_until(&s, veth_gone, "veth pair deleted");

        s.links = links_free(s.links);
        s.event = sd_event_unref(s.event);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usable_rules),
                cmocka_unit_test(test_bridge_port_vs_bridge),
                cmocka_unit_test(test_select_by_subnet_then_fallback),
                cmocka_unit_test(test_exclude_regex),
                cmocka_unit_test(test_protocol_filters),
                cmocka_unit_test(test_find_and_local_mac),
                cmocka_unit_test_setup_teardown(test_strict_arp_pass_on_all, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_strict_arp_pass_per_device, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_strict_arp_fails_on_all, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_strict_arp_fails_on_device, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_strict_arp_not_needed, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_strict_arp_missing_files, tree_setup, tree_teardown),
                /* Last: it moves this process into its own network namespace. */
                cmocka_unit_test(test_live_links),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
