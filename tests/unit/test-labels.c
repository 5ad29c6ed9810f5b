/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "decode.h"
#include "json.h"
#include "labels.h"
#include "selector.h"
#include "validation.h"

/* Builds a StrMap and a LabelSelector from JSON, as the decoders do. */
typedef struct Fixture {
        StrPool *pool;
        StrMap labels;
        LabelSelector selector;
        bool has_selector;
} Fixture;

static void fixture_labels(Fixture *f, const char *json) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(json_parse(json, strlen(json), NULL, &doc, &err), 0);
        strmap_done(&f->labels, f->pool);
        assert_true(strmap_decode(f->pool, json_doc_root(doc), NULL, &f->labels, &err, "labels") >= 0);
}

static void fixture_selector(Fixture *f, const char *json) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(json_parse(json, strlen(json), NULL, &doc, &err), 0);
        if (f->has_selector)
                label_selector_done(&f->selector, f->pool);
        assert_true(label_selector_decode(f->pool, json_doc_root(doc), &f->selector, &err, "selector") >= 0);
        f->has_selector = true;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        f->pool = strpool_new();
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        strmap_done(&f->labels, f->pool);
        if (f->has_selector)
                label_selector_done(&f->selector, f->pool);
        strpool_free(f->pool);
        free(f);
        return 0;
}

static void test_map_matches(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *selector, *labels;
                bool match;
        } cases[] = {
                { "{}", "{}", true },
                { "{}", "{\"app\":\"web\"}", true },
                { "{\"app\":\"web\"}", "{\"app\":\"web\",\"tier\":\"fe\"}", true },
                { "{\"app\":\"web\",\"tier\":\"fe\"}", "{\"app\":\"web\"}", false },
                { "{\"app\":\"web\"}", "{\"app\":\"db\"}", false },
                { "{\"app\":\"web\"}", "{}", false },
                { "{\"a\":\"1\",\"z\":\"2\"}", "{\"a\":\"1\",\"m\":\"x\",\"z\":\"2\"}", true },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                StrMap sel = {};
                _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
                assert_int_equal(json_parse(cases[i].selector, strlen(cases[i].selector), NULL, &doc, NULL), 0);
                assert_true(strmap_decode(f->pool, json_doc_root(doc), NULL, &sel, NULL, "s") >= 0);
                fixture_labels(f, cases[i].labels);
                assert_int_equal(label_map_matches(&sel, &f->labels), cases[i].match);
                strmap_done(&sel, f->pool);
        }
}

static void test_selector_matches(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *selector, *labels;
                bool match;
        } cases[] = {
                { "{}", "{\"x\":\"y\"}", true },
                { "{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"web\"}", true },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\",\"stage\"]}]}",
                  "{\"env\":\"stage\"}", true },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\"]}]}", "{}", false },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]}", "{}", true },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]}",
                  "{\"env\":\"prod\"}", false },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Exists\"}]}", "{\"env\":\"\"}", true },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"DoesNotExist\"}]}", "{\"env\":\"\"}", false },
                /* matchLabels and expressions are ANDed */
                { "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Exists\"}]}",
                  "{\"app\":\"web\"}", false },
                /* invalid selectors match nothing */
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[]}]}", "{\"env\":\"a\"}", false },
                { "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}", "{\"env\":\"2\"}", false },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                fixture_selector(f, cases[i].selector);
                fixture_labels(f, cases[i].labels);
                assert_int_equal(label_selector_matches(&f->selector, &f->labels), cases[i].match);
        }
}

static void test_selector_validate(void **state) {
        Fixture *f = *state;
        char *e;

        fixture_selector(f, "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}");
        e = label_selector_validate(&f->selector);
        assert_non_null(e);
        assert_non_null(strstr(e, "matchExpressions[0]"));
        free(e);

        fixture_selector(f, "{\"matchLabels\":{\"bad key!\":\"v\"}}");
        e = label_selector_validate(&f->selector);
        assert_non_null(e);
        assert_non_null(strstr(e, "matchLabels: key \"bad key!\": name part must consist of"));
        free(e);

        fixture_selector(f, "{\"matchLabels\":{\"example.com/app\":\"web_1\"}}");
        assert_null(label_selector_validate(&f->selector));
}

static void test_validation_messages(void **state) {
        char *e;
        (void) state;

        assert_null(validate_dns1123_label("my-name"));
        e = validate_dns1123_label("My_Name");
        assert_string_equal(e, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                               "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                               "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
        free(e);
        e = validate_dns1123_label("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 64 */
        assert_string_equal(e, "must be no more than 63 characters");
        free(e);
        assert_null(validate_dns1123_subdomain("node-1.example.com"));
        assert_false(is_dns1123_subdomain("node-1..example"));
        assert_false(is_dns1123_subdomain("-a"));
        assert_true(is_qualified_name("example.com/MyName"));
        assert_false(is_qualified_name("/MyName"));
        assert_false(is_qualified_name("a/b/c"));
        assert_false(is_qualified_name("Example.com/x"));
        assert_true(is_label_value(""));
        assert_true(is_label_value("v1.2_3-x"));
        assert_false(is_label_value("a/b"));
        assert_false(is_label_value("-a"));
        e = validate_label_value("endpointslice-controller/berth");
        assert_non_null(strstr(e, "a valid label must be an empty string"));
        free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_map_matches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_selector_matches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_selector_validate, setup, teardown),
                cmocka_unit_test(test_validation_messages),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
