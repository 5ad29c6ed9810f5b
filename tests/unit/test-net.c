/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net.h"

static void test_parse_canonical(void **state) {
        static const struct {
                const char *in, *out;
                IpFamily family;
        } cases[] = {
                { "10.0.0.1", "10.0.0.1", IP_FAMILY_V4 },
                { "::ffff:10.1.2.3", "10.1.2.3", IP_FAMILY_V4 },
                { "2001:DB8:0:0:0:0:0:1", "2001:db8::1", IP_FAMILY_V6 },
                { "2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1", IP_FAMILY_V6 },
                { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", IP_FAMILY_V6 },
                { "::", "::", IP_FAMILY_V6 },
                { "fe80::1", "fe80::1", IP_FAMILY_V6 },
        };
        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                IpAddr a;
                char buf[IP_ADDR_STRLEN];
                assert_int_equal(ip_addr_parse(cases[i].in, &a), 0);
                assert_string_equal(ip_addr_format(&a, buf), cases[i].out);
                assert_int_equal(a.family, cases[i].family);
        }
}

static void test_parse_rejects(void **state) {
        static const char *const bad[] = {
                "", "10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4/32", "fe80::1%eth0", "::g", "1.2.3.4 ",
                "10.0.0.1.", "12345::1::",
        };
        (void) state;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                IpAddr a;
                assert_int_equal(ip_addr_parse(bad[i], &a), -EINVAL);
        }
        assert_int_equal(ip_addr_parse(NULL, &(IpAddr) {}), -EINVAL);
}

static void test_parse_sloppy(void **state) {
        IpAddr a;
        char buf[IP_ADDR_STRLEN];
        (void) state;
        assert_int_equal(ip_addr_parse_sloppy("010.000.0.01", &a), 0);
        assert_string_equal(ip_addr_format(&a, buf), "10.0.0.1");
        assert_int_equal(ip_addr_parse_sloppy("2001:db8::0001", &a), 0);
        assert_string_equal(ip_addr_format(&a, buf), "2001:db8::1");
        assert_int_equal(ip_addr_parse_sloppy("300.1.1.1", &a), -EINVAL);
}

static void test_class(void **state) {
        static const struct {
                const char *ip;
                IpClass class;
        } cases[] = {
                { "0.0.0.0", IP_CLASS_UNSPECIFIED },    { "::", IP_CLASS_UNSPECIFIED },
                { "127.0.0.1", IP_CLASS_LOOPBACK },     { "127.255.1.1", IP_CLASS_LOOPBACK },
                { "::1", IP_CLASS_LOOPBACK },           { "169.254.3.4", IP_CLASS_LINK_LOCAL },
                { "fe80::1", IP_CLASS_LINK_LOCAL },     { "febf::1", IP_CLASS_LINK_LOCAL },
                { "fec0::1", IP_CLASS_ORDINARY },       { "224.0.0.251", IP_CLASS_LINK_LOCAL_MULTICAST },
                { "224.0.1.1", IP_CLASS_ORDINARY },     { "239.1.1.1", IP_CLASS_ORDINARY },
                { "ff02::1", IP_CLASS_LINK_LOCAL_MULTICAST }, { "ff12::1", IP_CLASS_LINK_LOCAL_MULTICAST },
                { "ff05::1", IP_CLASS_ORDINARY },       { "10.0.0.1", IP_CLASS_ORDINARY },
                { "255.255.255.255", IP_CLASS_ORDINARY }, { "100.64.0.1", IP_CLASS_ORDINARY },
        };
        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                IpAddr a;
                assert_int_equal(ip_addr_parse(cases[i].ip, &a), 0);
                assert_int_equal(ip_addr_class(&a), cases[i].class);
        }
}

static void test_order(void **state) {
        IpAddr a, b, c;
        (void) state;
        assert_int_equal(ip_addr_parse("10.0.0.9", &a), 0);
        assert_int_equal(ip_addr_parse("10.0.0.10", &b), 0);
        assert_int_equal(ip_addr_parse("::1", &c), 0);
        assert_true(ip_addr_compare(&a, &b) < 0); /* numeric, not bytewise text */
        assert_true(ip_addr_compare(&b, &c) < 0); /* IPv4 before IPv6 */
        assert_true(ip_addr_equal(&a, &a));
}

static void test_add(void **state) {
        IpAddr a, r;
        char buf[IP_ADDR_STRLEN];
        (void) state;
        assert_int_equal(ip_addr_parse("10.0.0.255", &a), 0);
        assert_int_equal(ip_addr_add(&a, 1, &r), 0);
        assert_string_equal(ip_addr_format(&r, buf), "10.0.1.0");
        assert_int_equal(ip_addr_add(&r, -257, &r), 0);
        assert_string_equal(ip_addr_format(&r, buf), "9.255.255.255");
        assert_int_equal(ip_addr_parse("255.255.255.255", &a), 0);
        assert_int_equal(ip_addr_add(&a, 1, &r), -ERANGE);
        assert_int_equal(ip_addr_parse("0.0.0.0", &a), 0);
        assert_int_equal(ip_addr_add(&a, -1, &r), -ERANGE);
        assert_int_equal(ip_addr_parse("2001:db8::ffff", &a), 0);
        assert_int_equal(ip_addr_add(&a, 1, &r), 0);
        assert_string_equal(ip_addr_format(&r, buf), "2001:db8::1:0");
}

static void test_cidr(void **state) {
        IpCidr c;
        IpAddr a, first, last;
        char buf[IP_ADDR_STRLEN];
        (void) state;
        assert_int_equal(ip_cidr_parse("192.0.2.0/24", true, &c), 0);
        assert_int_equal(c.prefix, 24);
        assert_int_equal(ip_cidr_parse("192.0.2.1/24", true, &c), -EINVAL);
        assert_int_equal(ip_cidr_parse("192.0.2.1/24", false, &c), 0);
        assert_string_equal(ip_addr_format(&c.addr, buf), "192.0.2.0");
        ip_cidr_bounds(&c, &first, &last);
        assert_string_equal(ip_addr_format(&last, buf), "192.0.2.255");
        assert_int_equal(ip_range_size(&first, &last), 256);
        assert_int_equal(ip_addr_parse("192.0.2.77", &a), 0);
        assert_true(ip_cidr_contains(&c, &a));
        assert_int_equal(ip_addr_parse("192.0.3.1", &a), 0);
        assert_false(ip_cidr_contains(&c, &a));
        assert_int_equal(ip_cidr_parse("10.0.0.0/33", false, &c), -EINVAL);
        assert_int_equal(ip_cidr_parse("10.0.0.0/", false, &c), -EINVAL);
        assert_int_equal(ip_cidr_parse("10.0.0.0/08", false, &c), -EINVAL);
        assert_int_equal(ip_cidr_parse("10.0.0.0", false, &c), -EINVAL);
        assert_int_equal(ip_cidr_parse("2001:db8::/64", true, &c), 0);
        ip_cidr_bounds(&c, &first, &last);
        assert_int_equal(ip_range_size(&first, &last), UINT64_MAX);
        assert_int_equal(ip_cidr_parse("2001:db8::/120", true, &c), 0);
        ip_cidr_bounds(&c, &first, &last);
        assert_int_equal(ip_range_size(&first, &last), 256);
        assert_int_equal(ip_cidr_parse("10.1.2.3/32", true, &c), 0);
        ip_cidr_bounds(&c, &first, &last);
        assert_int_equal(ip_range_size(&first, &last), 1);
        assert_int_equal(ip_range_size(&last, &first), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_canonical), cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_parse_sloppy),    cmocka_unit_test(test_class),
                cmocka_unit_test(test_order),           cmocka_unit_test(test_add),
                cmocka_unit_test(test_cidr),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
