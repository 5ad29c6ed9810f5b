/* SPDX-License-Identifier: Apache-2.0 */
/* The node-port bitmap and --service-node-port-range (nodeport.md §2-§4). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "nodeport_alloc.h"

static NodePortAlloc *alloc_of(const char *range) {
        NodePortRange r;
        NodePortAlloc *a = NULL;
        char *error = NULL;

        assert_int_equal(nodeport_range_parse(range, &r, &error), 0);
        assert_int_equal(nodeport_alloc_new(&r, &a), 0);
        return a;
}

static void test_range_flag(void **state) {
        static const struct {
                const char *in;
                int32_t first, size;
                const char *error;
        } cases[] = {
                { "30000-32767", 30000, 2768, NULL },
                { " 30000-32767 ", 30000, 2768, NULL },
                { "", 30000, 2768, NULL },
                { "8080", 8080, 1, NULL },
                { "1-65535", 1, 65535, NULL },
                { "abc", 0, 0,
                  "unable to parse port range: abc: strconv.Atoi: parsing \"abc\": invalid syntax, expected hyphen in port range or a single port number" },
                { "30000 - 32767", 0, 0,
                  "unable to parse port range: 30000 - 32767: strconv.Atoi: parsing \"30000 \": invalid syntax" },
                { "30000-99999999999999999999", 0, 0,
                  "unable to parse port range: 30000-99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range" },
                { "70000", 0, 0, "the port range should between 0 and 65535" },
                { "30000-70000", 0, 0, "the port range cannot be greater than 65535: 30000-70000" },
                { "32767-30000", 0, 0, "end port cannot be less than start port: 32767-30000" },
                { "0-100", 0, 0, "port 0 cannot be part of the node port range: 0-100" },
                { "0", 0, 0, "port 0 cannot be part of the node port range: 0" },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodePortRange r = {};
                char *error = NULL;
                int ret = nodeport_range_parse(cases[i].in, &r, &error);
                if (!cases[i].error) {
                        assert_int_equal(ret, 0);
                        assert_int_equal(r.first, cases[i].first);
                        assert_int_equal(r.size, cases[i].size);
                        continue;
                }
                assert_int_equal(ret, -EINVAL);
                assert_non_null(error);
                assert_string_equal(error, cases[i].error);
                free(error);
        }
}

static void test_band_formula(void **state) {
        static const struct {
                int32_t size, offset;
        } cases[] = {
                { 1, 0 },      { 10, 0 },     { 16, 0 },     { 17, 16 },    { 100, 16 },   { 128, 16 },
                { 544, 17 },   { 1000, 31 },  { 2048, 64 },  { 2768, 86 },  { 4096, 128 }, { 8192, 128 },
                { 10000, 128 },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodePortRange r = { .first = 20000, .size = cases[i].size };
                NodePortAlloc *a = NULL;
                assert_int_equal(nodeport_band_offset(cases[i].size), cases[i].offset);
                assert_int_equal(nodeport_alloc_new(&r, &a), 0);
                assert_int_equal(nodeport_alloc_band_size(a, NODEPORT_BAND_STATIC), cases[i].offset);
                assert_int_equal(nodeport_alloc_band_size(a, NODEPORT_BAND_DYNAMIC), cases[i].size - cases[i].offset);
                assert_int_equal(nodeport_alloc_band_first(a, NODEPORT_BAND_DYNAMIC), 20000 + cases[i].offset);
                nodeport_alloc_free(a);
        }
}

/* Automatic picks stay out of the static band until the dynamic band is full. */
static void test_next_prefers_dynamic(void **state) {
        NodePortAlloc *a = alloc_of("30000-32767");
        int32_t port;
        (void) state;

        for (int32_t i = 0; i < 2768 - 86; i++) {
                assert_int_equal(nodeport_alloc_allocate_next(a, (uint64_t) random() * 7919u + (uint64_t) i, &port), 0);
                assert_true(port >= 30086 && port <= 32767);
        }
        assert_int_equal(nodeport_alloc_band_used(a, NODEPORT_BAND_DYNAMIC), 2768 - 86);
        assert_int_equal(nodeport_alloc_band_used(a, NODEPORT_BAND_STATIC), 0);
        /* now the static band */
        assert_int_equal(nodeport_alloc_allocate_next(a, 12345, &port), 0);
        assert_true(port >= 30000 && port <= 30085);
        assert_int_equal(port, 30000 + 12345 % 86);
        nodeport_alloc_free(a);
}

static void test_allocate_all_then_full(void **state) {
        NodePortAlloc *a = alloc_of("30000-32767");
        char buf[128];
        int32_t port;
        (void) state;

        for (int32_t p = 30000; p <= 32767; p += 3)
                assert_int_equal(nodeport_alloc_allocate(a, p), 0);
        while (nodeport_alloc_free_count(a) > 0) {
                assert_int_equal(nodeport_alloc_allocate_next(a, 999, &port), 0);
                assert_true(nodeport_alloc_has(a, port));
        }
        assert_int_equal(nodeport_alloc_used(a), 2768);
        assert_int_equal(nodeport_alloc_allocate_next(a, 1, &port), -ENOSPC);
        assert_string_equal(nodeport_alloc_error(nodeport_alloc_range(a), -ENOSPC, buf, sizeof(buf)), "range is full");
        assert_int_equal(nodeport_alloc_allocate(a, 30001), -EEXIST);
        assert_string_equal(nodeport_alloc_error(nodeport_alloc_range(a), -EEXIST, buf, sizeof(buf)),
                            "provided port is already allocated");
        assert_int_equal(nodeport_alloc_allocate(a, 32768), -ERANGE);
        assert_int_equal(nodeport_alloc_allocate(a, -1), -ERANGE);
        assert_string_equal(nodeport_alloc_error(nodeport_alloc_range(a), -ERANGE, buf, sizeof(buf)),
                            "provided port is not in the valid range. The range of valid ports is 30000-32767");
        /* release: no-op outside or when not set */
        assert_true(nodeport_alloc_release(a, 30500));
        assert_false(nodeport_alloc_release(a, 30500));
        assert_false(nodeport_alloc_release(a, 40000));
        assert_int_equal(nodeport_alloc_free_count(a), 1);
        assert_int_equal(nodeport_alloc_allocate_next(a, 77, &port), 0);
        assert_int_equal(port, 30500);
        assert_false(nodeport_alloc_has(a, 29999));
        nodeport_alloc_free(a);
}

static void test_small_range_single_band(void **state) {
        NodePortAlloc *a = alloc_of("30000-30009");
        int32_t port;
        (void) state;

        assert_int_equal(nodeport_alloc_offset(a), 0);
        for (int i = 0; i < 10; i++)
                assert_int_equal(nodeport_alloc_allocate_next(a, 3, &port), 0);
        assert_int_equal(nodeport_alloc_band_used(a, NODEPORT_BAND_DYNAMIC), 10);
        assert_int_equal(nodeport_alloc_allocate_next(a, 3, &port), -ENOSPC);
        nodeport_alloc_free(a);
}

static void test_snapshot_restore(void **state) {
        NodePortAlloc *a = alloc_of("30000-30099"), *b = alloc_of("30000-30099"), *c = alloc_of("30000-30100");
        NodePortSnapshot snap;
        int32_t port;
        (void) state;

        assert_int_equal(nodeport_alloc_allocate(a, 30000), 0);
        assert_int_equal(nodeport_alloc_allocate(a, 30050), 0);
        assert_int_equal(nodeport_alloc_allocate(a, 30099), 0);
        assert_int_equal(nodeport_alloc_snapshot(a, &snap), 0);
        assert_int_equal(nodeport_alloc_restore(b, &snap), 0);
        assert_int_equal(nodeport_alloc_restore(c, &snap), -EINVAL);
        assert_true(nodeport_alloc_has(b, 30000));
        assert_true(nodeport_alloc_has(b, 30050));
        assert_true(nodeport_alloc_has(b, 30099));
        assert_int_equal(nodeport_alloc_used(b), 3);
        assert_int_equal(nodeport_alloc_band_used(b, NODEPORT_BAND_STATIC), 1);
        assert_int_equal(nodeport_alloc_band_used(b, NODEPORT_BAND_DYNAMIC), 2);
        assert_int_equal(nodeport_alloc_allocate(b, 30050), -EEXIST);
        /* the restored map picks around what it holds */
        assert_int_equal(nodeport_alloc_allocate_next(b, 50 - 16, &port), 0);
        assert_int_equal(port, 30051);
        nodeport_snapshot_done(&snap);
        nodeport_alloc_free(a);
        nodeport_alloc_free(b);
        nodeport_alloc_free(c);
}

static void test_deterministic_start(void **state) {
        NodePortAlloc *a = alloc_of("30000-32767"), *b = alloc_of("30000-32767");
        uint64_t h = nodeport_fnv1a64("default/web/port/80");
        int32_t p1, p2;
        (void) state;

        /* FNV-1a 64 reference values */
        assert_true(nodeport_fnv1a64("") == UINT64_C(0xcbf29ce484222325));
        assert_true(nodeport_fnv1a64("a") == UINT64_C(0xaf63dc4c8601ec8c));
        assert_true(nodeport_fnv1a64("foobar") == UINT64_C(0x85944171f73967e8));

        assert_int_equal(nodeport_alloc_allocate_next(a, h, &p1), 0);
        assert_int_equal(nodeport_alloc_allocate_next(b, h, &p2), 0);
        assert_int_equal(p1, p2);
        assert_int_equal(p1, 30086 + (int32_t) (h % 2682));
        /* taken: the scan moves on to the next free port */
        assert_int_equal(nodeport_alloc_allocate_next(a, h, &p2), 0);
        assert_int_equal(p2, p1 == 32767 ? 30086 : p1 + 1);
        nodeport_alloc_free(a);
        nodeport_alloc_free(b);
}

static void test_bitmap_small(void **state) {
        NodePortAlloc *a = alloc_of("");
        (void) state;
        assert_true(nodeport_alloc_bitmap_bytes(a) <= 400);
        nodeport_alloc_free(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_range_flag),
                cmocka_unit_test(test_band_formula),
                cmocka_unit_test(test_next_prefers_dynamic),
                cmocka_unit_test(test_allocate_all_then_full),
                cmocka_unit_test(test_small_range_single_band),
                cmocka_unit_test(test_snapshot_restore),
                cmocka_unit_test(test_deterministic_start),
                cmocka_unit_test(test_bitmap_small),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
