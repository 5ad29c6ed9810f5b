/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

static JsonDoc *parse_ok(const char *text) {
        JsonDoc *doc = NULL;
        char *err = NULL;
        int r = json_parse(text, strlen(text), NULL, &doc, &err);
        if (r < 0)
                fail_msg("parse of %s failed: %d %s", text, r, err);
        assert_null(err);
        return doc;
}

/* Writes v and returns the text (malloc'd). */
static char *write_text(const JsonValue *v) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char *out = NULL;
        assert_non_null(g);
        assert_int_equal(json_write(g, v), 0);
        assert_int_equal(json_gen_take(g, &out, NULL), 0);
        return out;
}

static void test_valid_documents(void **state _unused_) {
        static const struct {
                const char *in, *out;
        } table[] = {
                { "null", "null" },
                { " true ", "true" },
                { "false", "false" },
                { "0", "0" },
                { "-12.5e3", "-12.5e3" }, /* number literal kept as written */
                { "\"a\\\"b\"", "\"a\\\"b\"" },
                { "[]", "[]" },
                { "{}", "{}" },
                { "[1,[2,[3]],{\"a\":[]}]", "[1,[2,[3]],{\"a\":[]}]" },
                { "{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}" }, /* document order */
                { "\n\t{ \"k\" : [ null , true ] }\r\n", "{\"k\":[null,true]}" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(json_doc_freep) JsonDoc *doc = parse_ok(table[i].in);
                _cleanup_free_ char *out = write_text(json_doc_root(doc));
                assert_string_equal(out, table[i].out);
        }
}

static void test_malformed(void **state _unused_) {
        static const char *const table[] = {
                "", "   ", "{", "[1,", "{\"a\"}", "{\"a\":}", "[1 2]", "tru", "nul", "01", "1.", "-", ".5",
                "\"unterminated", "\"bad \\x escape\"", "{a:1}", "[1,]", "{\"a\":1,}", "1 2", "{} {}",
                "[1] x", "'single'", "\"\\ud800\"x", "\"ctrl \x01 char\"", "\"\xff\xfe invalid utf8\"",
                "// comment\n1", "NaN", "Infinity",
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                JsonDoc *doc = NULL;
                _cleanup_free_ char *err = NULL;
                int r = json_parse(table[i], strlen(table[i]), NULL, &doc, &err);
                if (r != -EINVAL)
                        fail_msg("input %zu (%s): expected -EINVAL, got %d", i, table[i], r);
                assert_null(doc);
                assert_non_null(err);
                assert_null(strchr(err, '\n')); /* one line */
                assert_true(strlen(err) > 0);
        }
}

static void test_error_names_position(void **state _unused_) {
        const char *text = "{\"a\": [1, 2,, 3]}";
        JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(json_parse(text, strlen(text), NULL, &doc, &err), -EINVAL);
        assert_non_null(strstr(err, "parse error"));
        assert_non_null(strstr(err, "at byte"));
}

static char *nested(size_t depth, char open, char close) {
        char *s = malloc(depth * 2 + 1);
        assert_non_null(s);
        memset(s, open, depth);
        memset(s + depth, close, depth);
        s[depth * 2] = 0;
        return s;
}

static void test_depth(void **state _unused_) {
        /* 100,000 levels fail fast with -ELOOP, without recursion. */
        _cleanup_free_ char *deep = nested(100000, '[', ']');
        JsonDoc *doc = NULL;
        char *err = NULL;
        clock_t t0 = clock();
        assert_int_equal(json_parse(deep, strlen(deep), NULL, &doc, &err), -ELOOP);
        assert_true((double) (clock() - t0) / CLOCKS_PER_SEC < 0.5);
        assert_non_null(err);
        assert_non_null(strstr(err, "64"));
        free(err);

        /* Exactly the default cap passes; one more fails. */
        _cleanup_free_ char *at = nested(JSON_DEFAULT_MAX_DEPTH, '[', ']');
        assert_int_equal(json_parse(at, strlen(at), NULL, &doc, NULL), 0);
        doc = json_doc_free(doc);
        _cleanup_free_ char *over = nested(JSON_DEFAULT_MAX_DEPTH + 1, '[', ']');
        assert_int_equal(json_parse(over, strlen(over), NULL, &doc, NULL), -ELOOP);

        /* Objects count too, and a caller's own limit applies. */
        const char *objs = "{\"a\":{\"b\":{\"c\":1}}}";
        JsonLimits lim = { .max_depth = 2 };
        assert_int_equal(json_parse(objs, strlen(objs), &lim, &doc, NULL), -ELOOP);
        lim.max_depth = 3;
        assert_int_equal(json_parse(objs, strlen(objs), &lim, &doc, NULL), 0);
        json_doc_free(doc);
}

static void test_size_cap(void **state _unused_) {
        const char *text = "[1,2,3,4,5]"; /* 11 bytes */
        JsonLimits lim = { .max_bytes = 10 };
        JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(json_parse(text, strlen(text), &lim, &doc, &err), -E2BIG);
        assert_null(doc);
        assert_non_null(err);
        lim.max_bytes = 11;
        assert_int_equal(json_parse(text, strlen(text), &lim, &doc, NULL), 0);
        json_doc_free(doc);
}

static void test_unicode_escapes(void **state _unused_) {
        static const struct {
                const char *in;
                const char *utf8;
                size_t len;
        } table[] = {
                { "\"\\u00e9\"", "\xc3\xa9", 2 },
                { "\"\\u20AC\"", "\xe2\x82\xac", 3 },
                { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 }, /* surrogate pair */
                { "\"a\\u0000b\"", "a\0b", 3 },                    /* embedded NUL */
                { "\"\\n\\t\\/\\\\\"", "\n\t/\\", 4 },
                { "\"caf\xc3\xa9\"", "caf\xc3\xa9", 5 },           /* raw UTF-8 */
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(json_doc_freep) JsonDoc *doc = parse_ok(table[i].in);
                const JsonValue *v = json_doc_root(doc);
                assert_int_equal(json_type(v), JSON_STRING);
                assert_int_equal(json_string_len(v), table[i].len);
                assert_memory_equal(json_string(v), table[i].utf8, table[i].len);
        }
}

static void test_numbers(void **state _unused_) {
        static const struct {
                const char *text;
                int r;
                int64_t value;
        } table[] = {
                { "0", 0, 0 },
                { "-0", 0, 0 },
                { "65535", 0, 65535 },
                { "9223372036854775807", 0, INT64_MAX },
                { "-9223372036854775808", 0, INT64_MIN },
                { "9223372036854775808", -ERANGE, 0 },
                { "-9223372036854775809", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "1.0", -EINVAL, 0 },
                { "1e3", -EINVAL, 0 },
                { "80.5", -EINVAL, 0 },
                { "\"80\"", -EINVAL, 0 }, /* a string is not a number */
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(json_doc_freep) JsonDoc *doc = parse_ok(table[i].text);
                int64_t n = 42;
                int r = json_int64(json_doc_root(doc), &n);
                if (r != table[i].r)
                        fail_msg("%s: expected %d, got %d", table[i].text, table[i].r, r);
                assert_int_equal(n, r == 0 ? table[i].value : 42); /* untouched on failure */
        }
        _cleanup_(json_doc_freep) JsonDoc *doc = parse_ok("[1.5e2, -0.25, 1e999, true]");
        double d;
        assert_int_equal(json_double(json_array_at(json_doc_root(doc), 0), &d), 0);
        assert_true(d == 150.0);
        assert_int_equal(json_double(json_array_at(json_doc_root(doc), 1), &d), 0);
        assert_true(d == -0.25);
        assert_int_equal(json_double(json_array_at(json_doc_root(doc), 2), &d), -ERANGE);
        assert_int_equal(json_double(json_array_at(json_doc_root(doc), 3), &d), -EINVAL);
        assert_string_equal(json_number_text(json_array_at(json_doc_root(doc), 0)), "1.5e2");
}

static void test_accessors(void **state _unused_) {
        _cleanup_(json_doc_freep) JsonDoc *doc =
                parse_ok("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"x\"}},\"list\":[1,2,3],"
                         "\"flag\":true,\"nothing\":null,\"dup\":1,\"dup\":2}");
        const JsonValue *root = json_doc_root(doc), *v;
        const char *key;
        bool b = false;
        size_t n = 0;

        assert_string_equal(json_get_string(json_get(root, "metadata"), "name"), "web");
        assert_string_equal(json_string(json_get_path(root, "metadata", "labels", "app")), "x");
        assert_null(json_get_path(root, "metadata", "missing", "app"));
        assert_null(json_get(json_get(root, "list"), "x")); /* not an object */
        assert_null(json_get(NULL, "x"));
        assert_null(json_string(json_get(root, "flag")));
        assert_int_equal(json_bool(json_get(root, "flag"), &b), 0);
        assert_true(b);
        assert_int_equal(json_bool(json_get(root, "list"), &b), -EINVAL);
        assert_true(json_is_null(json_get(root, "nothing")));
        assert_false(json_is_null(json_get(root, "missing")));
        assert_int_equal(json_array_len(json_get(root, "list")), 3);
        assert_null(json_array_at(json_get(root, "list"), 3));
        assert_int_equal(json_array_len(root), 0);
        assert_int_equal(json_object_len(root), 6);
        /* first duplicate wins */
        int64_t dup = 0;
        assert_int_equal(json_int64(json_get(root, "dup"), &dup), 0);
        assert_int_equal(dup, 1);
        JSON_OBJECT_FOREACH(key, v, root) {
                static const char *const order[] = { "metadata", "list", "flag", "nothing", "dup", "dup" };
                assert_string_equal(key, order[n]);
                n++;
        }
        assert_int_equal(n, 6);
        n = 0;
        JSON_ARRAY_FOREACH(v, json_get(root, "list")) {
                int64_t x;
                assert_int_equal(json_int64(v, &x), 0);
                assert_int_equal(x, (int64_t) ++n);
        }
        assert_int_equal(n, 3);
}

static void test_big_object_lookup(void **state _unused_) {
        /* 20,000 keys (plus a duplicate): lookups must be correct and not quadratic. */
        size_t n = 20000, cap = n * 40 + 64, len = 0;
        _cleanup_free_ char *text = malloc(cap);
        assert_non_null(text);
        text[len++] = '{';
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(text + len, cap - len, "%s\"label-%zu\":%zu", i ? "," : "", i, i);
        len += (size_t) snprintf(text + len, cap - len, ",\"label-7\":\"dup\"}");
        JsonLimits lim = { .max_bytes = cap };
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        assert_int_equal(json_parse(text, len, &lim, &doc, NULL), 0);
        const JsonValue *root = json_doc_root(doc);
        clock_t t0 = clock();
        for (size_t i = 0; i < n; i++) {
                char key[32];
                int64_t v;
                snprintf(key, sizeof key, "label-%zu", i);
                assert_int_equal(json_int64(json_get(root, key), &v), 0);
                assert_int_equal(v, (int64_t) i);
        }
        assert_true((double) (clock() - t0) / CLOCKS_PER_SEC < 0.5);
        assert_null(json_get(root, "label-20000"));
        assert_int_equal(json_type(json_get(root, "label-7")), JSON_NUMBER); /* first wins */
        assert_int_equal(json_object_len(root), n + 1);
}

static void test_build_and_write(void **state _unused_) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        JsonValue *root, *arr, *inner;
        assert_int_equal(json_doc_new(&doc), 0);
        root = json_new_object(doc);
        arr = json_new_array(doc);
        inner = json_new_object(doc);
        assert_int_equal(json_object_append(doc, root, "items", 5, arr), 0);
        /* top-down building: children added after the parent holds them */
        assert_int_equal(json_array_append(doc, arr, json_new_number(doc, "1", 1)), 0);
        assert_int_equal(json_array_append(doc, arr, inner), 0);
        assert_int_equal(json_object_append(doc, inner, "s", 1, json_new_string(doc, "x\"y", 3)), 0);
        assert_int_equal(json_object_append(doc, root, "b", 1, json_new_bool(doc, false)), 0);
        assert_int_equal(json_object_append(doc, root, "n", 1, json_new_null(doc)), 0);
        json_doc_set_root(doc, root);
        _cleanup_free_ char *out = write_text(json_doc_root(doc));
        assert_string_equal(out, "{\"items\":[1,{\"s\":\"x\\\"y\"}],\"b\":false,\"n\":null}");
        assert_int_equal(json_array_append(doc, root, arr), -EINVAL); /* not an array */

        /* A built object past the index threshold still finds every key, first wins. */
        JsonValue *big = json_new_object(doc);
        for (int i = 0; i < 300; i++) {
                char key[16];
                snprintf(key, sizeof key, "k%d", i % 200);
                char num[16];
                snprintf(num, sizeof num, "%d", i);
                assert_int_equal(json_object_append(doc, big, key, strlen(key), json_new_number(doc, num, strlen(num))), 0);
        }
        for (int i = 0; i < 200; i++) {
                char key[16];
                int64_t v;
                snprintf(key, sizeof key, "k%d", i);
                assert_int_equal(json_int64(json_get(big, key), &v), 0);
                assert_int_equal(v, i);
        }
}

static void test_write_depth_bounded(void **state _unused_) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        JsonValue *top, *cur;
        assert_int_equal(json_doc_new(&doc), 0);
        top = cur = json_new_array(doc);
        for (int i = 0; i < 10000; i++) {
                JsonValue *next = json_new_array(doc);
                assert_int_equal(json_array_append(doc, cur, next), 0);
                cur = next;
        }
        assert_int_equal(json_write(g, top), -ELOOP);
        /* A cycle built by mistake also stops at the cap. */
        _cleanup_json_gen_ yajl_gen g2 = json_gen_new(false);
        JsonValue *loop = json_new_array(doc);
        assert_int_equal(json_array_append(doc, loop, loop), 0);
        assert_int_equal(json_write(g2, loop), -ELOOP);
}

static void test_round_trip(void **state _unused_) {
        const char *text = "{\"kind\":\"Pod\",\"a\":[1,-2.5e-3,true,false,null,\"\\u00e9\\u0000\"],\"o\":{}}";
        _cleanup_(json_doc_freep) JsonDoc *doc = parse_ok(text);
        _cleanup_free_ char *once = write_text(json_doc_root(doc));
        _cleanup_(json_doc_freep) JsonDoc *doc2 = parse_ok(once);
        _cleanup_free_ char *twice = write_text(json_doc_root(doc2));
        assert_string_equal(once, twice);
        assert_int_equal(json_string_len(json_array_at(json_get(json_doc_root(doc2), "a"), 5)), 3);
}

static void test_gen_helpers(void **state _unused_) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        assert_int_equal(json_gen_map_open(g), 0);
        assert_int_equal(json_gen_kv_str(g, "s", "v"), 0);
        assert_int_equal(json_gen_kv_str(g, "null", NULL), 0);
        assert_int_equal(json_gen_kv_int(g, "i", -5), 0);
        assert_int_equal(json_gen_kv_bool(g, "b", true), 0);
        assert_int_equal(json_gen_str(g, "a"), 0);
        assert_int_equal(json_gen_array_open(g), 0);
        assert_int_equal(json_gen_strn(g, "x\0y", 3), 0);
        assert_int_equal(json_gen_null(g), 0);
        assert_int_equal(json_gen_array_close(g), 0);
        assert_int_equal(json_gen_map_close(g), 0);
        assert_int_equal(json_gen_take(g, &out, &len), 0);
        assert_string_equal(out, "{\"s\":\"v\",\"null\":null,\"i\":-5,\"b\":true,\"a\":[\"x\\u0000y\",null]}");
        assert_int_equal(len, strlen(out));
        /* invalid UTF-8 is refused by the generator */
        _cleanup_json_gen_ yajl_gen g2 = json_gen_new(false);
        assert_int_equal(json_gen_str(g2, "\xff"), -EINVAL);
        /* closing what was never opened is an error, not a crash */
        _cleanup_json_gen_ yajl_gen g3 = json_gen_new(false);
        assert_true(json_gen_map_close(g3) < 0);
}

static void test_managed_fields_skipped(void **state _unused_) {
        const char *text = "{\"metadata\":{\"name\":\"a\",\"managedFields\":[{\"manager\":\"kubectl\","
                           "\"fieldsV1\":{\"f:spec\":{\"f:x\":{}}}}],\"uid\":\"u\"},"
                           "\"spec\":{\"managedFields\":1},\"managedFields\":2}";
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL, *kept = NULL, *deep = NULL;
        JsonLimits keep = { .keep_managed_fields = true };
        assert_int_equal(json_parse(text, strlen(text), NULL, &doc, NULL), 0);
        _cleanup_free_ char *out = write_text(json_doc_root(doc));
        /* only metadata.managedFields is dropped; everything around it stays in order */
        assert_string_equal(out, "{\"metadata\":{\"name\":\"a\",\"uid\":\"u\"},\"spec\":{\"managedFields\":1},"
                                 "\"managedFields\":2}");
        assert_int_equal(json_parse(text, strlen(text), &keep, &kept, NULL), 0);
        assert_int_equal(json_array_len(json_get_path(json_doc_root(kept), "metadata", "managedFields")), 1);
        /* a skipped value is still validated: syntax and depth */
        const char *bad = "{\"metadata\":{\"managedFields\":[1,]}}";
        assert_int_equal(json_parse(bad, strlen(bad), NULL, &deep, NULL), -EINVAL);
        _cleanup_free_ char *nest = nested(100, '[', ']');
        _cleanup_free_ char *wrapped = NULL;
        assert_true(asprintf(&wrapped, "{\"metadata\":{\"managedFields\":%s}}", nest) > 0);
        assert_int_equal(json_parse(wrapped, strlen(wrapped), NULL, &deep, NULL), -ELOOP);
        /* a scalar managedFields value is skipped too */
        const char *scalar = "{\"metadata\":{\"managedFields\":null,\"name\":\"b\"}}";
        assert_int_equal(json_parse(scalar, strlen(scalar), NULL, &deep, NULL), 0);
        assert_int_equal(json_object_len(json_get(json_doc_root(deep), "metadata")), 1);
        deep = json_doc_free(deep);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_documents),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_error_names_position),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_size_cap),
                cmocka_unit_test(test_unicode_escapes),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_accessors),
                cmocka_unit_test(test_big_object_lookup),
                cmocka_unit_test(test_build_and_write),
                cmocka_unit_test(test_write_depth_bounded),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_gen_helpers),
                cmocka_unit_test(test_managed_fields_skipped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
