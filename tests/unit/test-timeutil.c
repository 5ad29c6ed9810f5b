/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "macros.h"
#include "timeutil.h"

#define T_2018 UINT64_C(1514764800000000) /* 2018-01-01T00:00:00Z */

static void test_rfc3339_parse(void **state _unused_) {
        static const struct {
                const char *in;
                int r;
                usec_t t;
        } table[] = {
                { "2018-01-01T00:00:00Z", 0, T_2018 },
                { "2018-01-01T00:00:00.5Z", 0, T_2018 + 500000 },
                { "2018-01-01T00:00:00.123456Z", 0, T_2018 + 123456 },
                { "2018-01-01T00:00:00.1234567891Z", 0, T_2018 + 123456 }, /* truncated */
                { "2018-01-01T00:00:00.000000Z", 0, T_2018 },
                { "2018-01-01T01:00:00+01:00", 0, T_2018 },
                { "2017-12-31T19:30:00-04:30", 0, T_2018 },
                { "2018-01-01t00:00:00z", 0, T_2018 },
                { "1970-01-01T00:00:00Z", 0, 0 },
                { "2024-02-29T12:00:00Z", 0, UINT64_C(1709208000000000) },
                { "2100-12-31T23:59:59Z", 0, UINT64_C(4133980799000000) },
                { "2023-02-29T00:00:00Z", -EINVAL, 0 }, /* not a leap year */
                { "2018-13-01T00:00:00Z", -EINVAL, 0 },
                { "2018-01-01T24:00:00Z", -EINVAL, 0 },
                { "2018-01-01T00:60:00Z", -EINVAL, 0 },
                { "2018-01-01T00:00:60Z", -EINVAL, 0 },
                { "2018-01-01T00:00:00", -EINVAL, 0 },   /* no zone */
                { "2018-01-01 00:00:00Z", -EINVAL, 0 },
                { "2018-01-01T00:00:00.Z", -EINVAL, 0 },
                { "2018-01-01T00:00:00Zjunk", -EINVAL, 0 },
                { "2018-1-01T00:00:00Z", -EINVAL, 0 },
                { "2018-01-01T00:00:00+0100", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "1969-12-31T23:59:59Z", -ERANGE, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                usec_t t = 7;
                int r = rfc3339_parse(table[i].in, &t);
                if (r != table[i].r)
                        fail_msg("%s: expected %d, got %d", table[i].in, table[i].r, r);
                assert_int_equal(t, r == 0 ? table[i].t : 7);
        }
        assert_int_equal(rfc3339_parse(NULL, NULL), -EINVAL);
}

static void test_rfc3339_format(void **state _unused_) {
        static const struct {
                usec_t t;
                const char *trimmed, *seconds, *micro;
        } table[] = {
                /* endpoints.md §6.5 */
                { T_2018, "2018-01-01T00:00:00Z", "2018-01-01T00:00:00Z", "2018-01-01T00:00:00.000000Z" },
                { T_2018 + 500000, "2018-01-01T00:00:00.5Z", "2018-01-01T00:00:00Z", "2018-01-01T00:00:00.500000Z" },
                { T_2018 + 120, "2018-01-01T00:00:00.00012Z", "2018-01-01T00:00:00Z", "2018-01-01T00:00:00.000120Z" },
                { T_2018 + 123456, "2018-01-01T00:00:00.123456Z", "2018-01-01T00:00:00Z",
                  "2018-01-01T00:00:00.123456Z" },
                { 0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z" },
                { UINT64_C(1709164800000000) + 86399999999, "2024-02-29T23:59:59.999999Z", "2024-02-29T23:59:59Z",
                  "2024-02-29T23:59:59.999999Z" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char buf[RFC3339_MAX];
                usec_t back;
                assert_string_equal(rfc3339_format(table[i].t, buf), table[i].trimmed);
                assert_int_equal(rfc3339_parse(buf, &back), 0);
                assert_int_equal(back, table[i].t);
                assert_string_equal(rfc3339_format_seconds(table[i].t, buf), table[i].seconds);
                assert_string_equal(rfc3339_format_micro(table[i].t, buf), table[i].micro);
        }
        char buf[RFC3339_MAX];
        /* the largest value still fits the buffer */
        assert_true(strlen(rfc3339_format(UINT64_MAX - 1, buf)) < RFC3339_MAX);
}

static void test_duration_parse(void **state _unused_) {
        static const struct {
                const char *in;
                int r;
                usec_t t;
        } table[] = {
                { "0", 0, 0 },
                { "-0", 0, 0 },
                { "+0", 0, 0 },
                { "0s", 0, 0 },
                { "250ms", 0, 250000 },
                { "3s", 0, 3000000 },
                { "1m30s", 0, 90000000 },
                { "1.5h", 0, UINT64_C(5400000000) },
                { "1h2m3.5s", 0, UINT64_C(3723500000) },
                { ".5s", 0, 500000 },
                { "5.s", 0, 5000000 },
                { "1100ms", 0, 1100000 },
                { "1us", 0, 1 },
                { "1\xc2\xb5s", 0, 1 },     /* micro sign */
                { "1\xce\xbcs", 0, 1 },     /* greek mu */
                { "1500ns", 0, 1 },         /* sub-microsecond truncated */
                { "999ns", 0, 0 },
                { "2562047h", 0, UINT64_C(2562047) * 3600 * 1000000 },
                { "2562048h", -ERANGE, 0 }, /* beyond Go's int64 nanoseconds */
                { "9223372036854775807ns", 0, UINT64_C(9223372036854775) },
                { "9223372036854775808ns", -ERANGE, 0 },
                { "-1s", -ERANGE, 0 },
                { "-1.5h", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "1", -EINVAL, 0 },        /* missing unit */
                { "10", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { ".s", -EINVAL, 0 },
                { "1d", -EINVAL, 0 },       /* no day unit in Go */
                { "1 s", -EINVAL, 0 },
                { "1s ", -EINVAL, 0 },
                { "-", -EINVAL, 0 },
                { "1h-2m", -EINVAL, 0 },
                { "1S", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                usec_t t = 7;
                int r = duration_parse(table[i].in, &t);
                if (r != table[i].r)
                        fail_msg("\"%s\": expected %d, got %d", table[i].in, table[i].r, r);
                if (t != (r == 0 ? table[i].t : 7))
                        fail_msg("\"%s\": expected %llu, got %llu", table[i].in, (unsigned long long) table[i].t,
                                 (unsigned long long) t);
        }
        assert_int_equal(duration_parse(NULL, NULL), -EINVAL);
}

static void test_now(void **state _unused_) {
        usec_t a = now_usec(CLOCK_MONOTONIC), b = now_usec(CLOCK_MONOTONIC);
        assert_true(a > 0);
        assert_true(b >= a);
        assert_true(now_usec(CLOCK_REALTIME) > T_2018);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc3339_parse),
                cmocka_unit_test(test_rfc3339_format),
                cmocka_unit_test(test_duration_parse),
                cmocka_unit_test(test_now),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
