/* SPDX-License-Identifier: Apache-2.0 */
/* Load-balancer address allocations: rank arithmetic, free runs, first
 * free address, sharing (lbipam.md §7.2, §8, §9, §10). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_alloc.h"
#include "lb_runs.h"

/* ---- building configurations by hand (lb_config_build is not under test) ---- */

static void pool_init(LbPool *p, const char *name, bool avoid_buggy, const char *const *cidrs) {
        size_t n = 0;

        while (cidrs[n])
                n++;
        *p = (LbPool) { .name = name, .avoid_buggy_ips = avoid_buggy, .auto_assign = true, .n_cidrs = n };
        p->cidrs = calloc(n, sizeof(IpCidr));
        assert_non_null(p->cidrs);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(ip_cidr_parse(cidrs[i], true, &p->cidrs[i]), 0);
}

#define POOL(p, name, avoid, ...) pool_init((p), (name), (avoid), (const char *const[]) { __VA_ARGS__, NULL })

static void config_done(LbConfig *c) {
        for (size_t i = 0; i < c->n_pools; i++)
                free(c->pools[i].cidrs);
        free(c->pools);
        *c = (LbConfig) {};
}

static LbConfig config_one(const char *name, bool avoid, const char *const *cidrs) {
        LbConfig c = { .n_pools = 1, .pools = calloc(1, sizeof(LbPool)) };
        assert_non_null(c.pools);
        pool_init(&c.pools[0], name, avoid, cidrs);
        return c;
}

#define CONFIG(name, avoid, ...) config_one((name), (avoid), (const char *const[]) { __VA_ARGS__, NULL })

static IpAddr ip(const char *s) {
        IpAddr a;
        assert_int_equal(ip_addr_parse(s, &a), 0);
        return a;
}

static const char *fmt(const IpAddr *a) {
        static char buf[4][IP_ADDR_STRLEN];
        static unsigned i;
        return ip_addr_format(a, buf[i++ % 4]);
}

static const LbPortPair tcp80[] = { { "TCP", 80 } };
static const LbPortPair tcp443[] = { { "TCP", 443 } };
static const LbPortPair tcp53[] = { { "TCP", 53 } };
static const LbPortPair udp53[] = { { "UDP", 53 } };

static LbServiceShare svc(const char *key, const char *sharing, const char *backend, const LbPortPair *ports) {
        return (LbServiceShare) {
                .key = key, .sharing_key = sharing, .backend_key = backend ? backend : "",
                .n_ports = ports ? 1 : 0, .ports = ports,
        };
}

static LbAllocator *allocator_with(const LbConfig *c) {
        LbAllocator *a = NULL;
        assert_int_equal(lb_allocator_new(&a), 0);
        assert_int_equal(lb_allocator_set_config(a, c, NULL, NULL), 0);
        return a;
}

/* first_free + assign: what the reconcile does for an automatic allocation. */
static const char *allocate(LbAllocator *a, const LbPool *p, IpFamily f, const LbServiceShare *s) {
        IpAddr got;
        int r = lb_allocator_first_free(a, p, f, s, &got);
        if (r < 0)
                return r == -ENOSPC ? "ENOSPC" : "error";
        assert_int_equal(lb_allocator_check_share(a, &got, s, NULL), 0);
        assert_int_equal(lb_allocator_assign(a, s, p, &got, 1), 0);
        return fmt(&got);
}

/* ---- §10 capacity and the rank arithmetic ---- */

static int64_t capacity_of(const char *cidr, bool avoid) {
        IpCidr c;
        assert_int_equal(ip_cidr_parse(cidr, true, &c), 0);
        return lb_cidr_capacity(&c, avoid);
}

static void test_capacity(void **state) {
        (void) state;
        /* The §10 table. */
        assert_int_equal(capacity_of("10.1.0.0/23", true), 508);
        assert_int_equal(capacity_of("192.0.2.0/32", true), 0);
        assert_int_equal(capacity_of("192.0.2.255/32", true), 0);
        assert_int_equal(capacity_of("192.0.2.128/25", true), 127);
        assert_int_equal(capacity_of("2001:db8::/120", true), 256);
        assert_int_equal(capacity_of("fd00::/67", false), 2305843009213693952LL);
        assert_int_equal(capacity_of("fd00::/66", false), INT64_MAX);
        assert_int_equal(capacity_of("fd00::/64", false), INT64_MAX);
        assert_int_equal(capacity_of("::/0", false), INT64_MAX);
        /* 192.0.2.250-192.0.3.5 as its aligned CIDRs: 12 / 10. */
        static const char *const range[] = { "192.0.2.250/31", "192.0.2.252/30", "192.0.3.0/30", "192.0.3.4/31" };
        int64_t plain = 0, avoid = 0;
        for (size_t i = 0; i < 4; i++) {
                plain = lb_add_saturating(plain, capacity_of(range[i], false));
                avoid = lb_add_saturating(avoid, capacity_of(range[i], true));
        }
        assert_int_equal(plain, 12);
        assert_int_equal(avoid, 10);
        /* Network and broadcast are ordinary without avoidBuggyIPs. */
        assert_int_equal(capacity_of("10.0.0.0/24", false), 256);
        assert_int_equal(capacity_of("0.0.0.0/0", true), 16777216LL * 254);
        assert_int_equal(lb_add_saturating(INT64_MAX, 1), INT64_MAX);
        assert_int_equal(lb_add_saturating(INT64_MAX - 2, 1), INT64_MAX - 1);
        IpAddr x = ip("10.0.0.255"), y = ip("10.0.1.0"), z = ip("10.0.1.1"), v6 = ip("2001:db8::ff");
        assert_true(lb_ip_is_buggy(&x));
        assert_true(lb_ip_is_buggy(&y));
        assert_false(lb_ip_is_buggy(&z));
        assert_false(lb_ip_is_buggy(&v6));
}

/* rank and unrank are inverse, and count exactly the usable addresses. */
static void test_rank_roundtrip(void **state) {
        static const char *const cidrs[] = { "192.0.4.0/22", "192.0.2.0/25", "192.0.2.128/25", "192.0.2.254/31",
                                             "192.0.2.0/32", "10.0.0.7/32", "2001:db8::/118" };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cidrs); i++)
                for (int avoid = 0; avoid <= 1; avoid++) {
                        IpCidr c;
                        IpAddr first, last, cur;
                        LbRank max, r, expect = 0;
                        bool has;
                        assert_int_equal(ip_cidr_parse(cidrs[i], true, &c), 0);
                        has = lb_cidr_max_rank(&c, avoid, &max);
                        ip_cidr_bounds(&c, &first, &last);
                        for (cur = first;; ) {
                                bool usable = !(avoid && lb_ip_is_buggy(&cur));
                                assert_int_equal(lb_cidr_rank(&c, avoid, &cur, &r), usable);
                                if (usable) {
                                        IpAddr back = lb_cidr_unrank(&c, avoid, r);
                                        assert_true(r == expect);
                                        assert_true(ip_addr_equal(&back, &cur));
                                        expect++;
                                }
                                if (ip_addr_equal(&cur, &last))
                                        break;
                                assert_int_equal(ip_addr_add(&cur, 1, &cur), 0);
                        }
                        assert_int_equal(has, expect > 0);
                        if (has)
                                assert_true(max + 1 == expect);
                        assert_int_equal(lb_cidr_capacity(&c, avoid), (int64_t) expect);
                }
}

static void test_run_set(void **state) {
        LbRunSet s = {};
        LbRank r;
        (void) state;

        assert_true(lb_run_set_first_free(&s, 9, &r) && r == 0);
        for (LbRank i = 0; i < 10; i++)
                assert_int_equal(lb_run_set_add(&s, i), 0);
        assert_int_equal(s.n_runs, 1);
        assert_false(lb_run_set_first_free(&s, 9, &r));
        assert_int_equal(lb_run_set_add(&s, 5), -EEXIST);
        /* Split, then merge back. */
        assert_int_equal(lb_run_set_remove(&s, 5), 0);
        assert_int_equal(s.n_runs, 2);
        assert_false(lb_run_set_contains(&s, 5));
        assert_true(lb_run_set_contains(&s, 4) && lb_run_set_contains(&s, 6));
        assert_true(lb_run_set_first_free(&s, 9, &r) && r == 5);
        assert_int_equal(lb_run_set_remove(&s, 0), 0);
        assert_true(lb_run_set_first_free(&s, 9, &r) && r == 0);
        assert_int_equal(lb_run_set_remove(&s, 0), -ENOENT);
        assert_int_equal(lb_run_set_add(&s, 5), 0);
        assert_int_equal(lb_run_set_add(&s, 0), 0);
        assert_int_equal(s.n_runs, 1);
        assert_int_equal(lb_run_set_remove(&s, 9), 0);
        assert_true(lb_run_set_first_free(&s, 9, &r) && r == 9);
        /* The top of an IPv6 /0: the last rank fits, there is no end. */
        LbRank top = ~(LbRank) 0;
        assert_int_equal(lb_run_set_add(&s, top), 0);
        assert_true(lb_run_set_contains(&s, top));
        assert_int_equal(lb_run_set_remove(&s, top), 0);
        lb_run_set_done(&s);
}

/* ---- §7.2 first free address ---- */

static void test_first_free_list_order(void **state) {
        LbConfig c = CONFIG("p", false, "10.0.0.9/32", "10.0.0.1/32");
        LbAllocator *a = allocator_with(&c);
        LbServiceShare s1 = svc("ns/a", NULL, NULL, tcp80), s2 = svc("ns/b", NULL, NULL, tcp80),
                       s3 = svc("ns/c", NULL, NULL, tcp80);
        (void) state;

        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &s1), "10.0.0.9");
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &s2), "10.0.0.1");
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &s3), "ENOSPC");
        /* A pool without IPv6 has no IPv6 address to give (X4's family case). */
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V6, &s3), "ENOSPC");
        lb_allocator_free(a);
        config_done(&c);
}

static void test_avoid_buggy_across_24(void **state) {
        /* X3: p: 192.0.2.253 - 192.0.3.2, avoidBuggyIPs, as its ascending CIDRs. */
        LbConfig c = CONFIG("p", true, "192.0.2.253/32", "192.0.2.254/31", "192.0.3.0/31", "192.0.3.2/32");
        LbAllocator *a = allocator_with(&c);
        static const char *const want[] = { "192.0.2.253", "192.0.2.254", "192.0.3.1", "192.0.3.2", "ENOSPC" };
        int64_t v4, v6;
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char key[16];
                snprintf(key, sizeof key, "ns/s%zu", i);
                LbServiceShare s = svc(key, NULL, NULL, tcp80);
                assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &s), want[i]);
        }
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 4);
        assert_int_equal(v6, 0);
        /* .255 and .0 are not in the pool when it avoids them. */
        IpAddr bad = ip("192.0.2.255");
        LbServiceShare x = svc("ns/x", NULL, NULL, tcp80);
        assert_int_equal(lb_allocator_assign(a, &x, &c.pools[0], &bad, 1), -EINVAL);
        lb_allocator_free(a);
        config_done(&c);
}

static void test_release_reuses_lowest_hole(void **state) {
        LbConfig c = CONFIG("p", false, "192.0.2.0/29");
        LbAllocator *a = allocator_with(&c);
        char key[16];
        (void) state;

        for (int i = 0; i < 8; i++) {
                snprintf(key, sizeof key, "ns/s%d", i);
                LbServiceShare s = svc(key, NULL, NULL, tcp80);
                allocate(a, &c.pools[0], IP_FAMILY_V4, &s);
        }
        assert_int_equal(lb_allocator_n_services(a), 8);
        lb_allocator_release(a, "ns/s5");
        lb_allocator_release(a, "ns/s2");
        lb_allocator_release(a, "ns/nobody"); /* no-op */
        assert_int_equal(lb_allocator_n_services(a), 6);
        LbServiceShare n1 = svc("ns/n1", NULL, NULL, tcp80), n2 = svc("ns/n2", NULL, NULL, tcp80),
                       n3 = svc("ns/n3", NULL, NULL, tcp80);
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &n1), "192.0.2.2");
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &n2), "192.0.2.5");
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V4, &n3), "ENOSPC");

        const char *pool;
        IpAddr ips[2];
        size_t n;
        assert_true(lb_allocator_lookup(a, "ns/n2", &pool, ips, &n));
        assert_string_equal(pool, "p");
        assert_int_equal(n, 1);
        assert_string_equal(fmt(&ips[0]), "192.0.2.5");
        assert_false(lb_allocator_lookup(a, "ns/s2", &pool, ips, &n));
        lb_allocator_free(a);
        config_done(&c);
}

/* ---- §8 sharing ---- */

static void test_share_rules(void **state) {
        LbConfig c = CONFIG("p", false, "192.0.2.0/30");
        LbAllocator *a = allocator_with(&c);
        IpAddr x = ip("192.0.2.1");
        char *error = NULL;
        (void) state;

        LbServiceShare a1 = svc("ns/a", "k", NULL, tcp80);
        assert_int_equal(lb_allocator_assign(a, &a1, &c.pools[0], &x, 1), 0);

        /* Same key, other port: may share. */
        LbServiceShare b = svc("ns/b", "k", NULL, tcp443);
        assert_int_equal(lb_allocator_check_share(a, &x, &b, &error), 0);
        assert_null(error);

        /* Same key, same port: the port error. */
        LbServiceShare clash = svc("ns/c", "k", NULL, tcp80);
        assert_int_equal(lb_allocator_check_share(a, &x, &clash, &error), -EBUSY);
        assert_string_equal(error, "port TCP/80 is already in use on \"192.0.2.1\"");
        free(error);
        error = NULL;

        /* Other key: the key error, before any port check. */
        LbServiceShare other = svc("ns/d", "other", NULL, tcp80);
        assert_int_equal(lb_allocator_check_share(a, &x, &other, &error), -EBUSY);
        assert_string_equal(error, "can't change sharing key for \"ns/d\", address also in use by ns/a");
        free(error);
        error = NULL;

        /* Backend key mismatch (ETP Local vs Cluster) is a key mismatch. */
        LbServiceShare local = svc("ns/e", "k", "app=x", tcp443);
        assert_int_equal(lb_allocator_check_share(a, &x, &local, &error), -EBUSY);
        assert_string_equal(error, "can't change sharing key for \"ns/e\", address also in use by ns/a");
        free(error);
        error = NULL;

        /* No key at all. */
        LbServiceShare keyless = svc("ns/f", NULL, NULL, tcp443);
        assert_int_equal(lb_allocator_check_share(a, &x, &keyless, NULL), -EBUSY);

        /* Two holders: the list is sorted and joined by "," (MetalLB's strings.Join(..., ",")). */
        assert_int_equal(lb_allocator_assign(a, &b, &c.pools[0], &x, 1), 0);
        const char *const *holders;
        assert_int_equal(lb_allocator_holders(a, &x, &holders), 2);
        assert_string_equal(holders[0], "ns/a");
        assert_string_equal(holders[1], "ns/b");
        LbServiceShare z = svc("ns/0", "zz", NULL, NULL);
        assert_int_equal(lb_allocator_check_share(a, &x, &z, &error), -EBUSY);
        assert_string_equal(error, "can't change sharing key for \"ns/0\", address also in use by ns/a,ns/b");
        free(error);
        error = NULL;
        /* A holder's own holding never counts: a changing its key names only b. */
        LbServiceShare a2 = svc("ns/a", "new", NULL, tcp80);
        assert_int_equal(lb_allocator_check_share(a, &x, &a2, &error), -EBUSY);
        assert_string_equal(error, "can't change sharing key for \"ns/a\", address also in use by ns/b");
        free(error);
        error = NULL;
        /* ... and b's port TCP/443 clashes for a newcomer that has it second. */
        LbPortPair two[] = { { "UDP", 80 }, { "TCP", 443 } };
        LbServiceShare g = { .key = "ns/g", .sharing_key = "k", .backend_key = "", .n_ports = 2, .ports = two };
        assert_int_equal(lb_allocator_check_share(a, &x, &g, &error), -EBUSY);
        assert_string_equal(error, "port TCP/443 is already in use on \"192.0.2.1\"");
        free(error);

        lb_allocator_free(a);
        config_done(&c);
}

static void test_share_tcp_udp_and_keyless(void **state) {
        LbConfig c = CONFIG("p", false, "2001:db8::/126");
        LbAllocator *a = allocator_with(&c);
        IpAddr x = ip("2001:db8::2");
        char *error = NULL;
        (void) state;

        LbServiceShare dns_tcp = svc("kube-system/dns-tcp", "dns", NULL, tcp53);
        LbServiceShare dns_udp = svc("kube-system/dns-udp", "dns", NULL, udp53);
        assert_int_equal(lb_allocator_assign(a, &dns_tcp, &c.pools[0], &x, 1), 0);
        /* TCP/53 and UDP/53 are different pairs. */
        assert_int_equal(lb_allocator_check_share(a, &x, &dns_udp, &error), 0);
        assert_int_equal(lb_allocator_assign(a, &dns_udp, &c.pools[0], &x, 1), 0);
        LbServiceShare again = svc("kube-system/dns-2", "dns", NULL, udp53);
        assert_int_equal(lb_allocator_check_share(a, &x, &again, &error), -EBUSY);
        assert_string_equal(error, "port UDP/53 is already in use on \"2001:db8::2\"");
        free(error);
        error = NULL;

        /* Two keyless Services requesting the same IP get the key error. */
        IpAddr y = ip("2001:db8::3");
        LbServiceShare k1 = svc("ns/one", NULL, NULL, tcp80), k2 = svc("ns/two", "", NULL, tcp443);
        assert_int_equal(lb_allocator_assign(a, &k1, &c.pools[0], &y, 1), 0);
        assert_int_equal(lb_allocator_check_share(a, &y, &k2, &error), -EBUSY);
        assert_string_equal(error, "can't change sharing key for \"ns/two\", address also in use by ns/one");
        free(error);

        lb_allocator_free(a);
        config_done(&c);
}

static void test_only_holder_changes_keys(void **state) {
        LbConfig c = CONFIG("p", false, "192.0.2.0/30");
        LbAllocator *a = allocator_with(&c);
        IpAddr x = ip("192.0.2.2");
        (void) state;

        LbServiceShare s = svc("ns/a", "k1", NULL, tcp80);
        assert_int_equal(lb_allocator_assign(a, &s, &c.pools[0], &x, 1), 0);
        LbServiceShare changed = svc("ns/a", "k2", "app=web", tcp443);
        assert_int_equal(lb_allocator_check_share(a, &x, &changed, NULL), 0);
        assert_int_equal(lb_allocator_assign(a, &changed, &c.pools[0], &x, 1), 0);
        /* The new keys are in force: k1 no longer fits, k2 with the same backend does. */
        LbServiceShare old_key = svc("ns/b", "k1", NULL, tcp80), new_key = svc("ns/c", "k2", "app=web", tcp80);
        assert_int_equal(lb_allocator_check_share(a, &x, &old_key, NULL), -EBUSY);
        assert_int_equal(lb_allocator_check_share(a, &x, &new_key, NULL), 0);
        /* First free for a keyless holder that holds the lowest address alone: its own. */
        assert_int_equal(lb_allocator_n_services(a), 1);
        lb_allocator_free(a);
        config_done(&c);
}

static void test_sharing_key_packs_lowest(void **state) {
        LbConfig c = CONFIG("p", false, "192.0.2.0/29");
        LbAllocator *a = allocator_with(&c);
        const LbPool *p = &c.pools[0];
        int64_t v4, v6;
        (void) state;

        LbServiceShare plain = svc("ns/plain", NULL, NULL, tcp80);
        LbServiceShare w1 = svc("ns/w1", "web", NULL, tcp80), w2 = svc("ns/w2", "web", NULL, tcp443);
        LbServiceShare w3 = svc("ns/w3", "web", NULL, tcp80), w4 = svc("ns/w4", "web", NULL, tcp443);
        LbServiceShare w5 = svc("ns/w5", "web", "app=x", tcp53);
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &plain), "192.0.2.0");
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w1), "192.0.2.1");
        /* Packed onto the lowest compatible address. */
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w2), "192.0.2.1");
        /* TCP/80 is taken there: the next unheld address. */
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w3), "192.0.2.2");
        /* TCP/443 is taken on .1 but free on .2. */
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w4), "192.0.2.2");
        /* Another backend key shares nothing. */
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w5), "192.0.2.3");

        /* §10: a shared IP counts once. */
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 4);
        assert_int_equal(v6, 0);
        assert_int_equal(lb_allocator_n_services(a), 6);

        /* A lower unheld address wins over a shared one. */
        lb_allocator_release(a, "ns/plain");
        LbServiceShare w6 = svc("ns/w6", "web", NULL, tcp53);
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &w6), "192.0.2.0");

        /* The last holder leaving frees the address. */
        lb_allocator_release(a, "ns/w1");
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 4);
        lb_allocator_release(a, "ns/w2");
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 3);
        LbServiceShare again = svc("ns/again", NULL, NULL, tcp80);
        assert_string_equal(allocate(a, p, IP_FAMILY_V4, &again), "192.0.2.1");
        const char *const *holders;
        IpAddr two = ip("192.0.2.2");
        assert_int_equal(lb_allocator_holders(a, &two, &holders), 2);
        assert_string_equal(holders[0], "ns/w3");
        assert_string_equal(holders[1], "ns/w4");
        lb_allocator_free(a);
        config_done(&c);
}

static void test_dual_stack_counts(void **state) {
        LbConfig c = CONFIG("p", false, "192.0.2.0/30", "2001:db8::/126");
        LbAllocator *a = allocator_with(&c);
        IpAddr ips[2] = { ip("2001:db8::1"), ip("192.0.2.3") }, got[2];
        int64_t v4, v6;
        size_t n;
        (void) state;

        LbServiceShare s = svc("ns/ds", "k", NULL, tcp80);
        assert_int_equal(lb_allocator_assign(a, &s, &c.pools[0], ips, 2), 0);
        LbServiceShare t = svc("ns/t", "k", NULL, tcp443);
        assert_int_equal(lb_allocator_assign(a, &t, &c.pools[0], ips, 2), 0);
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 1);
        assert_int_equal(v6, 1);
        assert_true(lb_allocator_lookup(a, "ns/t", NULL, got, &n));
        assert_int_equal(n, 2);
        assert_string_equal(fmt(&got[0]), "2001:db8::1");
        assert_string_equal(fmt(&got[1]), "192.0.2.3");
        lb_allocator_release(a, "ns/ds");
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 1);
        assert_int_equal(v6, 1);
        lb_allocator_release(a, "ns/t");
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 0);
        assert_int_equal(v6, 0);
        lb_allocator_free(a);
        config_done(&c);
}

/* ---- huge IPv6: nothing is enumerated ---- */

static void huge_pool(const char *cidr, const char *first, const char *thousandth) {
        LbConfig c = CONFIG("huge", false, cidr);
        LbAllocator *a = allocator_with(&c);
        struct timespec t0, t1;
        int64_t v4, v6;
        char key[32];

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof key, "ns/s%d", i);
                LbServiceShare s = svc(key, NULL, NULL, tcp80);
                const char *got = allocate(a, &c.pools[0], IP_FAMILY_V6, &s);
                if (i == 0)
                        assert_string_equal(got, first);
                if (i == 999)
                        assert_string_equal(got, thousandth);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* 1000 allocations out of 2^64 or 2^128 addresses: far under a second
         * (enumerating the pool would never finish). */
        assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 1000000000L);
        lb_allocator_pool_usage(a, "huge", &v4, &v6);
        assert_int_equal(v4, 0);
        assert_int_equal(v6, 1000);

        /* A hole is found again, in O(1). */
        lb_allocator_release(a, "ns/s500");
        LbServiceShare hole = svc("ns/hole", NULL, NULL, tcp80);
        IpAddr expect;
        assert_int_equal(ip_addr_add(&c.pools[0].cidrs[0].addr, 500, &expect), 0);
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V6, &hole), fmt(&expect));
        lb_allocator_free(a);
        config_done(&c);
}

static void test_huge_ipv6(void **state) {
        (void) state;
        huge_pool("fd00::/64", "fd00::", "fd00::3e7");
        huge_pool("::/0", "::", "::3e7");

        /* The very last address of ::/0 is an ordinary one. */
        LbConfig c = CONFIG("all", false, "::/0");
        LbAllocator *a = allocator_with(&c);
        IpAddr last = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        LbServiceShare top = svc("ns/top", NULL, NULL, tcp80);
        int64_t v4, v6;
        assert_int_equal(lb_allocator_assign(a, &top, &c.pools[0], &last, 1), 0);
        lb_allocator_pool_usage(a, "all", &v4, &v6);
        assert_int_equal(v6, 1);
        LbServiceShare next = svc("ns/next", NULL, NULL, tcp80);
        assert_string_equal(allocate(a, &c.pools[0], IP_FAMILY_V6, &next), "::");
        lb_allocator_free(a);
        config_done(&c);
}

/* ---- §9 configuration changes ---- */

static void test_set_config_keep_rename_drop(void **state) {
        LbConfig c1 = { .n_pools = 2, .pools = calloc(2, sizeof(LbPool)) };
        LbConfig c2 = { .n_pools = 2, .pools = calloc(2, sizeof(LbPool)) };
        LbDropped *dropped = NULL;
        size_t n_dropped = 99, n;
        const char *pool;
        IpAddr ips[2];
        int64_t v4, v6;
        (void) state;

        POOL(&c1.pools[0], "gone", false, "198.51.100.0/30");
        POOL(&c1.pools[1], "p", false, "192.0.2.0/30", "203.0.113.0/31");
        LbAllocator *a = allocator_with(&c1);
        LbServiceShare sa = svc("ns/a", NULL, NULL, tcp80), sb = svc("ns/b", NULL, NULL, tcp80),
                       sc = svc("ns/c", NULL, NULL, tcp80), sd = svc("ns/d", NULL, NULL, tcp80),
                       se = svc("ns/e", NULL, NULL, tcp80);
        IpAddr a_ip = ip("192.0.2.3"), b_ip = ip("192.0.2.0"), c_ip = ip("198.51.100.1"), d_ip = ip("203.0.113.1"),
               e_ip = ip("192.0.2.1");
        assert_int_equal(lb_allocator_assign(a, &sa, &c1.pools[1], &a_ip, 1), 0);
        assert_int_equal(lb_allocator_assign(a, &sb, &c1.pools[1], &b_ip, 1), 0);
        assert_int_equal(lb_allocator_assign(a, &sc, &c1.pools[0], &c_ip, 1), 0);
        assert_int_equal(lb_allocator_assign(a, &sd, &c1.pools[1], &d_ip, 1), 0);
        assert_int_equal(lb_allocator_assign(a, &se, &c1.pools[1], &e_ip, 1), 0);

        /* "gone" is deleted; p shrinks to /31 and turns avoidBuggyIPs on (.0 goes);
         * 203.0.113.0/31 moves to the new pool "q" (a rename, for d). */
        POOL(&c2.pools[0], "p", true, "192.0.2.0/31");
        POOL(&c2.pools[1], "q", false, "203.0.113.0/31");
        assert_int_equal(lb_allocator_set_config(a, &c2, &dropped, &n_dropped), 0);
        config_done(&c1);

        assert_int_equal(n_dropped, 3);
        /* Sorted by pool, then service. */
        assert_string_equal(dropped[0].pool, "gone");
        assert_string_equal(dropped[0].service, "ns/c");
        assert_true(dropped[0].pool_deleted);
        assert_int_equal(dropped[0].n_ips, 1);
        assert_string_equal(fmt(&dropped[0].ips[0]), "198.51.100.1");
        assert_string_equal(dropped[1].pool, "p");
        assert_string_equal(dropped[1].service, "ns/a");
        assert_false(dropped[1].pool_deleted);
        assert_string_equal(fmt(&dropped[1].ips[0]), "192.0.2.3");
        assert_string_equal(dropped[2].service, "ns/b");
        lb_dropped_free_many(dropped, n_dropped);

        assert_int_equal(lb_allocator_n_services(a), 2);
        assert_true(lb_allocator_lookup(a, "ns/d", &pool, ips, &n));
        assert_string_equal(pool, "q");
        assert_true(lb_allocator_lookup(a, "ns/e", &pool, ips, &n));
        assert_string_equal(pool, "p");
        assert_false(lb_allocator_lookup(a, "ns/a", &pool, ips, &n));
        lb_allocator_pool_usage(a, "p", &v4, &v6);
        assert_int_equal(v4, 1);
        lb_allocator_pool_usage(a, "q", &v4, &v6);
        assert_int_equal(v4, 1);
        lb_allocator_pool_usage(a, "gone", &v4, &v6);
        assert_int_equal(v4, 0);
        /* The rebuilt structures: p is full (.0 avoided, .1 held), q has .0. */
        LbServiceShare x = svc("ns/x", NULL, NULL, tcp80);
        assert_string_equal(allocate(a, &c2.pools[0], IP_FAMILY_V4, &x), "ENOSPC");
        assert_string_equal(allocate(a, &c2.pools[1], IP_FAMILY_V4, &x), "203.0.113.0");
        lb_allocator_free(a);
        config_done(&c2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_capacity),
                cmocka_unit_test(test_rank_roundtrip),
                cmocka_unit_test(test_run_set),
                cmocka_unit_test(test_first_free_list_order),
                cmocka_unit_test(test_avoid_buggy_across_24),
                cmocka_unit_test(test_release_reuses_lowest_hole),
                cmocka_unit_test(test_share_rules),
                cmocka_unit_test(test_share_tcp_udp_and_keyless),
                cmocka_unit_test(test_only_holder_changes_keys),
                cmocka_unit_test(test_sharing_key_packs_lowest),
                cmocka_unit_test(test_dual_stack_counts),
                cmocka_unit_test(test_huge_ipv6),
                cmocka_unit_test(test_set_config_keep_rename_drop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
