/* SPDX-License-Identifier: Apache-2.0 */
/* YAML -> JsonDoc: documents, core-schema typing, anchors and their cap,
 * merge keys, and error messages that point at the document and line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "yaml_doc.h"

static char *to_json(const JsonValue *v) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char *s = NULL;
        size_t n;
        assert_non_null(g);
        assert_int_equal(json_write(g, v), 0);
        assert_int_equal(json_gen_take(g, &s, &n), 0);
        return s;
}

/* Parses text that must hold exactly one document; returns its JSON. */
static char *one_doc_json(const char *text) {
        JsonDoc **docs = NULL;
        size_t n = 0;
        char *err = NULL, *s;
        int r = yaml_parse_documents(text, strlen(text), "t.yaml", &docs, &n, &err);
        if (r < 0)
                fail_msg("parse of <%s> failed: %d %s", text, r, err);
        assert_int_equal(n, 1);
        s = to_json(json_doc_root(docs[0]));
        yaml_docs_free(docs, n);
        return s;
}

static void test_scalar_types(void **state) {
        static const struct {
                const char *yaml, *json;
        } cases[] = {
                { "v: ~", "{\"v\":null}" },
                { "v: null", "{\"v\":null}" },
                { "v: NULL", "{\"v\":null}" },
                { "v:", "{\"v\":null}" },
                { "v: true", "{\"v\":true}" },
                { "v: False", "{\"v\":false}" },
                { "v: yes", "{\"v\":\"yes\"}" },   /* YAML 1.2: not a bool */
                { "v: on", "{\"v\":\"on\"}" },
                { "v: \"true\"", "{\"v\":\"true\"}" },
                { "v: 'null'", "{\"v\":\"null\"}" },
                { "v: 123", "{\"v\":123}" },
                { "v: -17", "{\"v\":-17}" },
                { "v: +12", "{\"v\":12}" },
                { "v: 007", "{\"v\":7}" },
                { "v: 0o17", "{\"v\":15}" },
                { "v: 0x1F", "{\"v\":31}" },
                { "v: 0x", "{\"v\":\"0x\"}" },
                { "v: 1.5", "{\"v\":1.5}" },
                { "v: .5", "{\"v\":0.5}" },
                { "v: -.5", "{\"v\":-0.5}" },
                { "v: 1.", "{\"v\":1.0}" },
                { "v: 1e3", "{\"v\":1e3}" },
                { "v: -0.5E-2", "{\"v\":-0.5E-2}" },
                { "v: 1_000", "{\"v\":\"1_000\"}" },
                { "v: 12:30", "{\"v\":\"12:30\"}" },
                { "v: '123'", "{\"v\":\"123\"}" },
                { "v: \"0x10\"", "{\"v\":\"0x10\"}" },
                { "v: !!str 123", "{\"v\":\"123\"}" },
                { "v: !!int \"42\"", "{\"v\":42}" },
                { "v: !!float 1", "{\"v\":1}" },
                { "v: |\n  a\n  b\n", "{\"v\":\"a\\nb\\n\"}" },
                { "v: >-\n  a\n  b\n", "{\"v\":\"a b\"}" },
                { "v: 10.0.0.1", "{\"v\":\"10.0.0.1\"}" },
                { "v: 1.2.3", "{\"v\":\"1.2.3\"}" },
                { "80: http", "{\"80\":\"http\"}" },
                { "true: x", "{\"true\":\"x\"}" },
                { "[1, [2, {a: b}], {}]", "[1,[2,{\"a\":\"b\"}],{}]" },
                { "\"just a string\"", "\"just a string\"" },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = one_doc_json(cases[i].yaml);
                if (!streq(got, cases[i].json))
                        fail_msg("case %zu <%s>: got %s, want %s", i, cases[i].yaml, got, cases[i].json);
        }
}

static void test_multi_documents(void **state) {
        const char *text = "a: 1\n"
                           "---\n"
                           "# only a comment\n"
                           "---\n"
                           "\n"
                           "b: [x, 'y']\n"
                           "---\n"
                           "---\n"
                           "c: ~\n"
                           "...\n";
        JsonDoc **docs = NULL;
        YamlDocPos *pos = NULL;
        size_t n = 0;
        (void) state;

        assert_int_equal(yaml_parse_documents_pos(text, strlen(text), "m.yaml", &docs, &pos, &n, NULL), 0);
        assert_int_equal(n, 3);
        assert_int_equal(pos[0].index, 1);
        assert_int_equal(pos[0].line, 1);
        assert_int_equal(pos[1].index, 3);
        assert_int_equal(pos[1].line, 6);
        assert_int_equal(pos[2].index, 5);
        assert_int_equal(pos[2].line, 9);
        assert_string_equal(json_string(json_array_at(json_get(json_doc_root(docs[1]), "b"), 1)), "y");
        assert_true(json_is_null(json_get(json_doc_root(docs[2]), "c")));
        yaml_docs_free(docs, n);
        free(pos);

        /* Nothing at all: zero documents, no error. */
        assert_int_equal(yaml_parse_documents("", 0, "e.yaml", &docs, &n, NULL), 0);
        assert_int_equal(n, 0);
        yaml_docs_free(docs, n);
        assert_int_equal(yaml_parse_documents("# c\n---\n", 8, "e.yaml", &docs, &n, NULL), 0);
        assert_int_equal(n, 0);
        yaml_docs_free(docs, n);
}

static void test_anchors_and_merge(void **state) {
        _cleanup_free_ char *a = one_doc_json("base: &b {x: 1, l: [1, 2]}\nuse: *b\nname: &n hello\nagain: *n\n");
        _cleanup_free_ char *m = one_doc_json("defaults: &d {x: 1, y: 2}\n"
                                              "other: &o {z: 3, y: 4}\n"
                                              "v:\n"
                                              "  y: 9\n"
                                              "  <<: [*d, *o]\n"
                                              "w: {<<: *o}\n");
        (void) state;
        assert_string_equal(a, "{\"base\":{\"x\":1,\"l\":[1,2]},\"use\":{\"x\":1,\"l\":[1,2]},"
                               "\"name\":\"hello\",\"again\":\"hello\"}");
        /* Explicit keys win, then the first merged mapping. */
        assert_string_equal(m, "{\"defaults\":{\"x\":1,\"y\":2},\"other\":{\"z\":3,\"y\":4},"
                               "\"v\":{\"y\":9,\"x\":1,\"z\":3},\"w\":{\"z\":3,\"y\":4}}");
}

static void test_billion_laughs_capped(void **state) {
        char text[2048];
        size_t o = 0;
        JsonDoc **docs = NULL;
        size_t n = 0;
        _cleanup_free_ char *err = NULL;
        (void) state;

        o += sprintf(text + o, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 9; i++)
                o += sprintf(text + o, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
                             i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        assert_int_equal(yaml_parse_documents(text, o, "lol.yaml", &docs, &n, &err), -E2BIG);
        assert_non_null(strstr(err, "lol.yaml: document 1, line "));
        assert_non_null(strstr(err, "alias expansion"));
        assert_null(docs);
}

static void test_errors(void **state) {
        static const struct {
                const char *yaml;
                int error;
                const char *message; /* substring */
        } cases[] = {
                { "a: 1\n---\nb: 1\n  c: 2\n", -EINVAL, "f.yaml: document 2, line 4: " },
                { "a: 1\nb: [1, 2\n", -EINVAL, "f.yaml: document 1, line " },
                { "a: 1\na: 2\n", -EINVAL, "f.yaml: document 1, line 2: duplicate key \"a\"" },
                { "a: 1\n---\nx: *nope\n", -EINVAL, "document 2, line 3: unknown alias \"*nope\"" },
                { "? [a, b]\n: 1\n", -EINVAL, "line 1: mapping keys must be scalars" },
                { "v: .inf\n", -EINVAL, "line 1: \".inf\" (infinity or NaN)" },
                { "v: !!int abc\n", -EINVAL, "not a valid !!int" },
                { "x: 1\n<<: 5\n", -EINVAL, "line 2: \"<<\" needs a mapping" },
                { "a: &a [1]\nb: *a\n---\nc: *a\n", -EINVAL, "document 2, line 4: unknown alias" },
                { "\t- x\n", -EINVAL, "document 1, line 1: " },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                JsonDoc **docs = NULL;
                size_t n = 0;
                _cleanup_free_ char *err = NULL;
                int r = yaml_parse_documents(cases[i].yaml, strlen(cases[i].yaml), "f.yaml", &docs, &n, &err);
                if (r != cases[i].error || !err || !strstr(err, cases[i].message))
                        fail_msg("case %zu: got %d <%s>, want %d <%s>", i, r, err, cases[i].error, cases[i].message);
        }
}

static void test_depth_capped(void **state) {
        char text[512];
        JsonDoc **docs = NULL;
        size_t n = 0;
        _cleanup_free_ char *err = NULL;
        (void) state;

        memset(text, '[', 200);
        memset(text + 200, ']', 200);
        assert_int_equal(yaml_parse_documents(text, 400, NULL, &docs, &n, &err), -ELOOP);
        assert_non_null(strstr(err, "<input>: document 1, line 1: nesting deeper than 64"));

        /* 64 levels is allowed. */
        memset(text, '[', 64);
        memset(text + 64, ']', 64);
        assert_int_equal(yaml_parse_documents(text, 128, NULL, &docs, &n, NULL), 0);
        assert_int_equal(n, 1);
        yaml_docs_free(docs, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scalar_types),
                cmocka_unit_test(test_multi_documents),
                cmocka_unit_test(test_anchors_and_merge),
                cmocka_unit_test(test_billion_laughs_capped),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_depth_capped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
