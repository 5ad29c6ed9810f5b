/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "strpool.h"

static void test_intern_shares_one_copy(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *p = strpool_new();
        char buf[] = "kube-system";
        const char *a, *b, *c;

        assert_non_null(p);
        a = strpool_intern0(p, buf);
        buf[0] = 'X'; /* the pool keeps its own copy */
        b = strpool_intern(p, "kube-system", 11);
        assert_ptr_equal(a, b);
        assert_string_equal(a, "kube-system");
        assert_int_equal(strpool_count(p), 1);
        c = strpool_intern(p, "kube-systemXYZ", 4); /* length, not NUL, decides */
        assert_string_equal(c, "kube");
        assert_ptr_not_equal(a, c);
        assert_int_equal(strpool_count(p), 2);
        /* empty and embedded-NUL strings are distinct entries */
        const char *e = strpool_intern(p, "", 0), *n = strpool_intern(p, "a\0b", 3);
        assert_string_equal(e, "");
        assert_memory_equal(n, "a\0b", 4);
        assert_ptr_not_equal(n, strpool_intern0(p, "a"));
        assert_int_equal(strpool_count(p), 5);
}

static void test_refcounts(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *p = strpool_new();
        size_t empty = strpool_bytes(p);
        const char *a = strpool_intern0(p, "app");
        assert_ptr_equal(strpool_intern0(p, "app"), a);
        assert_ptr_equal(strpool_intern0(p, "app"), a);
        assert_true(strpool_bytes(p) > empty);
        strpool_release(p, a);
        strpool_release(p, a);
        assert_int_equal(strpool_count(p), 1); /* one reference left */
        assert_string_equal(a, "app");
        strpool_release(p, a);
        assert_int_equal(strpool_count(p), 0);
        assert_int_equal(strpool_bytes(p), empty);
        strpool_release(p, NULL); /* no-op */
        /* interning again after the last release gives a fresh entry */
        const char *b = strpool_intern0(p, "app");
        assert_string_equal(b, "app");
        assert_int_equal(strpool_count(p), 1);
}

static void test_many_strings(void **state _unused_) {
        _cleanup_(strpool_freep) StrPool *p = strpool_new();
        static const char *ptrs[50000];
        char buf[32];
        for (size_t i = 0; i < ELEMENTSOF(ptrs); i++) {
                snprintf(buf, sizeof buf, "value-%zu", i);
                ptrs[i] = strpool_intern0(p, buf);
                assert_non_null(ptrs[i]);
        }
        assert_int_equal(strpool_count(p), ELEMENTSOF(ptrs));
        /* the table grew; every string is still found */
        for (size_t i = 0; i < ELEMENTSOF(ptrs); i++) {
                snprintf(buf, sizeof buf, "value-%zu", i);
                assert_ptr_equal(strpool_intern0(p, buf), ptrs[i]);
                strpool_release(p, ptrs[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(ptrs); i += 2)
                strpool_release(p, ptrs[i]);
        assert_int_equal(strpool_count(p), ELEMENTSOF(ptrs) / 2);
        /* strings still referenced are freed with the pool (ASan/valgrind check) */
}

static void test_null_pool(void **state _unused_) {
        assert_null(strpool_free(NULL));
        assert_null(strpool_intern(NULL, "x", 1));
        assert_int_equal(strpool_count(NULL), 0);
        assert_int_equal(strpool_bytes(NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_intern_shares_one_copy),
                cmocka_unit_test(test_refcounts),
                cmocka_unit_test(test_many_strings),
                cmocka_unit_test(test_null_pool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
