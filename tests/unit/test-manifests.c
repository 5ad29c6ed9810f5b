/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifests.h"

static char *make_dir(void) {
        char tmpl[] = "/tmp/test-manifests-XXXXXX";
        char *d = mkdtemp(tmpl);
        assert_non_null(d);
        return strdup(d);
}

static void write_file(const char *dir, const char *name, const char *content) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void remove_dir(char *dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        free(dir);
}

static void test_file_wanted(void **state) {
        (void) state;
        static const struct {
                const char *name;
                bool wanted;
        } cases[] = {
                { "a.yaml", true },  { "a.yml", true },      { "a.json", true },     { "a.YAML", false },
                { ".a.yaml", false }, { "a.yaml.swp", false }, { "yaml", false },      { ".yaml", false },
                { "a.txt", false },  { "a.yaml~", false },   { "b.json5", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (manifests_file_wanted(cases[i].name) != cases[i].wanted)
                        fail_msg("%s", cases[i].name);
}

static void test_load_order_and_lists(void **state) {
        (void) state;
        char *dir = make_dir();
        _cleanup_(manifests_freep) Manifests *m = NULL;
        char *err = NULL;

        /* names sort bytewise: 10 before 9, upper case before lower */
        write_file(dir, "9-nodes.yaml",
                   "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\n  namespace: ignored\n"
                   "---\n# only a comment\n---\n"
                   "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n");
        write_file(dir, "10-services.json",
                   "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}}");
        write_file(dir, "A-list.yml",
                   "apiVersion: v1\nkind: List\nitems:\n"
                   "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p1}\n"
                   "- apiVersion: example.com/v1\n  kind: Widget\n  metadata: {name: w}\n"
                   "- apiVersion: example.com/v1\n  kind: Widget\n  metadata: {name: w2}\n"
                   "---\n"
                   "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p2, namespace: ns2}\n");
        write_file(dir, "notes.txt", "this is not a manifest: [");
        write_file(dir, ".hidden.yaml", "{{{ not parsed");
        char sub[512];
        snprintf(sub, sizeof sub, "%s/dir.yaml", dir);
        assert_int_equal(mkdir(sub, 0755), 0);

        assert_int_equal(manifests_load_dir(dir, &m, &err), 0);
        assert_null(err);
        assert_int_equal(m->n_files, 3);
        assert_int_equal(m->n_objects, 5);

        static const struct {
                const char *kind, *namespace, *name, *file_end;
                unsigned document, item;
        } want[] = {
                { "Service", "shop", "web", "/10-services.json", 1, 0 },
                { "Node", NULL, "node-b", "/9-nodes.yaml", 1, 0 },
                { "Node", NULL, "node-a", "/9-nodes.yaml", 3, 0 },
                { "Pod", "default", "p1", "/A-list.yml", 1, 1 },
                { "Pod", "ns2", "p2", "/A-list.yml", 2, 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const ManifestObject *o = &m->objects[i];
                assert_string_equal(o->kind->kind, want[i].kind);
                if (want[i].namespace)
                        assert_string_equal(o->namespace, want[i].namespace);
                else
                        assert_null(o->namespace);
                assert_string_equal(o->name, want[i].name);
                assert_non_null(strstr(o->file, want[i].file_end));
                assert_int_equal(o->document, want[i].document);
                assert_int_equal(o->item, want[i].item);
        }
        /* the item of a typed list got its kind from the list */
        assert_string_equal(m->objects[4].kind->api_version, "v1");

        /* one warning per unknown kind, however many objects */
        assert_int_equal(m->n_warnings, 1);
        assert_string_equal(m->warnings[0], "ignoring unknown kind Widget (apiVersion example.com/v1)");
        remove_dir(dir);
}

typedef struct ErrorCase {
        const char *file;
        const char *content;
        const char *error; /* expected message after "<dir>/" */
} ErrorCase;

static void test_input_errors(void **state) {
        (void) state;
        static const ErrorCase cases[] = {
                { "a.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n---\nmetadata:\n  name: x\n",
                  "a.yaml: document 2, line 6: object has no kind" },
                { "a.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: x\n",
                  "a.yaml: document 1, line 1: Pod has no metadata.name" },
                { "a.yaml", "kind: Pod\nmetadata: {name: p}\n", "a.yaml: document 1, line 1: Pod has no apiVersion" },
                { "a.yaml", "- 1\n- 2\n", "a.yaml: document 1, line 1: not an object" },
                { "a.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {}\n",
                  "a.yaml: document 1, item 1, line 1: Pod has no metadata.name" },
                { "a.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [1]\n",
                  "a.yaml: document 1, line 1: Pod: metadata: not an object" },
                { "b.json", "{\"kind\": \"Pod\",", NULL /* the JSON parser's text follows */ },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *dir = make_dir();
                Manifests *m = NULL;
                char *err = NULL, want[512];

                write_file(dir, cases[i].file, cases[i].content);
                assert_int_equal(manifests_load_dir(dir, &m, &err), -EINVAL);
                assert_null(m);
                assert_non_null(err);
                if (cases[i].error) {
                        snprintf(want, sizeof want, "%s/%s", dir, cases[i].error);
                        if (!streq(err, want))
                                fail_msg("case %zu: got '%s'", i, err);
                } else {
                        snprintf(want, sizeof want, "%s/%s: document 1", dir, cases[i].file);
                        assert_true(startswith(err, want));
                }
                free(err);
                remove_dir(dir);
        }
}

static void test_yaml_syntax_error_names_file(void **state) {
        (void) state;
        char *dir = make_dir();
        Manifests *m = NULL;
        char *err = NULL, want[512];

        write_file(dir, "x.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\nkind: [unclosed\n");
        assert_int_equal(manifests_load_dir(dir, &m, &err), -EINVAL);
        snprintf(want, sizeof want, "%s/x.yaml: document 2, line ", dir);
        if (!startswith(err, want))
                fail_msg("got '%s'", err);
        free(err);
        remove_dir(dir);
}

static void test_duplicates(void **state) {
        (void) state;
        char *dir = make_dir();
        Manifests *m = NULL;
        char *err = NULL, want[512];

        write_file(dir, "a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n");
        /* "default" is spelled out here: still the same object */
        write_file(dir, "b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n");
        assert_int_equal(manifests_load_dir(dir, &m, &err), -EINVAL);
        snprintf(want, sizeof want, "%s/b.yaml: document 1, line 1: Service default/web is also defined in %s/a.yaml document 1",
                 dir, dir);
        assert_string_equal(err, want);
        free(err);

        /* same name, other namespace or kind: fine */
        write_file(dir, "b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n---\n"
                                  "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n");
        assert_int_equal(manifests_load_dir(dir, &m, &err), 0);
        assert_int_equal(m->n_objects, 3);
        manifests_free(m);
        remove_dir(dir);
}

static void test_missing_dir(void **state) {
        (void) state;
        Manifests *m = NULL;
        char *err = NULL;

        assert_int_equal(manifests_load_dir("/nonexistent/berth", &m, &err), -ENOENT);
        assert_string_equal(err, "/nonexistent/berth: No such file or directory");
        free(err);
}

static void test_buffer_failure_leaves_manifests_unchanged(void **state) {
        (void) state;
        _cleanup_(manifests_freep) Manifests *m = NULL;
        char *err = NULL;
        const char *good = "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n";
        const char *bad = "apiVersion: v1\nkind: Node\nmetadata: {name: b}\n---\nkind: Node\n";

        assert_int_equal(manifests_new(&m), 0);
        assert_int_equal(manifests_add_buffer(m, "good.yaml", good, strlen(good), &err), 0);
        assert_int_equal(manifests_add_buffer(m, "bad.yaml", bad, strlen(bad), &err), -EINVAL);
        free(err);
        assert_int_equal(m->n_objects, 1);
        assert_int_equal(m->n_files, 1);
        assert_string_equal(m->objects[0].name, "a");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_file_wanted),
                cmocka_unit_test(test_load_order_and_lists),
                cmocka_unit_test(test_input_errors),
                cmocka_unit_test(test_yaml_syntax_error_names_file),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_missing_dir),
                cmocka_unit_test(test_buffer_failure_leaves_manifests_unchanged),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
