/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "decode.h"

/* A minimal kind: metadata plus the nodes it is "on" (for indexes). */
typedef struct Thing {
        KubeObject object;
        char *nodes[3];
} Thing;

static void thing_destroy(KubeObject *o) {
        Thing *t = (Thing *) o;
        for (size_t i = 0; i < ELEMENTSOF(t->nodes); i++)
                free(t->nodes[i]);
}

static size_t thing_memory_size(const KubeObject *o) {
        const Thing *t = (const Thing *) o;
        size_t n = heap_size(sizeof(Thing)) + object_meta_memory_size(&o->meta);
        for (size_t i = 0; i < ELEMENTSOF(t->nodes); i++)
                n += heap_strsize(t->nodes[i]);
        return n;
}

static const KubeKind thing_kind = {
        .kind = "Thing", .api_version = "test/v1", .group = "test", .version = "v1", .resource = "things",
        .namespaced = true, .destroy = thing_destroy, .memory_size = thing_memory_size,
};
static const KubeKind cluster_thing_kind = {
        .kind = "ClusterThing", .api_version = "test/v1", .group = "test", .version = "v1",
        .resource = "clusterthings", .namespaced = false, .destroy = thing_destroy, .memory_size = thing_memory_size,
};

/* "node1,node2" -> nodes. */
static KubeObject *thing_new_kind(Cache *c, const KubeKind *kind, const char *ns, const char *name, const char *rv,
                                  const char *nodes) {
        Thing *t = kube_object_alloc(kind, sizeof(Thing), cache_pool(c));
        assert_non_null(t);
        t->object.meta.namespace = ns ? strpool_intern0(cache_pool(c), ns) : NULL;
        t->object.meta.name = strdup(name);
        t->object.meta.resource_version = rv ? strdup(rv) : NULL;
        if (nodes) {
                char *copy = strdup(nodes), *save = NULL;
                size_t k = 0;
                for (char *tok = strtok_r(copy, ",", &save); tok && k < ELEMENTSOF(t->nodes);
                     tok = strtok_r(NULL, ",", &save))
                        t->nodes[k++] = strdup(tok);
                free(copy);
        }
        return &t->object;
}

static KubeObject *thing_new(Cache *c, const char *ns, const char *name, const char *rv, const char *nodes) {
        return thing_new_kind(c, &thing_kind, ns, name, rv, nodes);
}

/* Upserts a fresh object and drops the test's own reference. */
static void put(Cache *c, const char *ns, const char *name, const char *rv, const char *nodes) {
        KubeObject *o = thing_new(c, ns, name, rv, nodes);
        assert_true(cache_upsert(c, o) >= 0);
        kube_object_unref(o);
}

static size_t thing_nodes(const KubeObject *o, const char **ret_keys, size_t max) {
        const Thing *t = (const Thing *) o;
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(t->nodes) && n < max; i++)
                if (t->nodes[i])
                        ret_keys[n++] = t->nodes[i];
        return n;
}

/* ---- recording handlers ---------------------------------------------- */

typedef struct Log {
        Cache *cache;
        char text[4096];
} Log;

static void log_append(Log *l, const char *fmt, ...) _printf_(2, 3);
static void log_append(Log *l, const char *fmt, ...) {
        size_t n = strlen(l->text);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->text + n, sizeof l->text - n, fmt, ap);
        va_end(ap);
}

static void on_add(KubeObject *o, void *userdata) {
        Log *l = userdata;
        /* Handlers see the cache in its new state. */
        assert_ptr_equal(cache_get(l->cache, o->meta.namespace, o->meta.name), o);
        log_append(l, "add %s/%s@%s;", strempty(o->meta.namespace), o->meta.name, strempty(o->meta.resource_version));
}

static void on_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        Log *l = userdata;
        assert_ptr_equal(cache_get(l->cache, new_obj->meta.namespace, new_obj->meta.name), new_obj);
        log_append(l, "update %s/%s@%s->%s;", strempty(new_obj->meta.namespace), new_obj->meta.name,
                   strempty(old_obj->meta.resource_version), strempty(new_obj->meta.resource_version));
}

static void on_delete(KubeObject *o, void *userdata) {
        Log *l = userdata;
        assert_null(cache_get(l->cache, o->meta.namespace, o->meta.name));
        log_append(l, "delete %s/%s@%s;", strempty(o->meta.namespace), o->meta.name,
                   strempty(o->meta.resource_version));
}

static Cache *new_logged_cache(const KubeKind *kind, Log *l) {
        Cache *c = NULL;
        assert_int_equal(cache_new(kind, &c), 0);
        memset(l, 0, sizeof *l);
        l->cache = c;
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_delete, .userdata = l };
        assert_int_equal(cache_add_handlers(c, &h), 0);
        return c;
}

static int collect(KubeObject *o, void *userdata) {
        Log *l = userdata;
        log_append(l, "%s/%s ", strempty(o->meta.namespace), o->meta.name);
        return 0;
}

static const char *list_ns(Cache *c, const char *ns, Log *out) {
        memset(out->text, 0, sizeof out->text);
        assert_int_equal(cache_foreach(c, ns, collect, out), 0);
        return out->text;
}

/* ---- tests ------------------------------------------------------------ */

static void test_handlers_add_update_delete(void **state) {
        Log l, out;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        (void) state;

        put(c, "ns", "a", "1", NULL);
        put(c, "ns", "a", "1", NULL); /* same resourceVersion: not an update */
        put(c, "ns", "a", "2", NULL);
        put(c, "other", "a", "5", NULL);
        assert_int_equal(cache_size(c), 2);
        assert_int_equal(cache_remove(c, "ns", "a"), 1);
        assert_int_equal(cache_remove(c, "ns", "a"), 0); /* already gone: no handler */
        assert_string_equal(l.text, "add ns/a@1;update ns/a@1->2;add other/a@5;delete ns/a@2;");
        assert_null(cache_get(c, "ns", "a"));
        assert_non_null(cache_get(c, "other", "a"));
        assert_string_equal(list_ns(c, NULL, &out), "other/a ");

        /* Objects without a resourceVersion (manifests) always update. */
        memset(l.text, 0, sizeof l.text);
        put(c, "m", "x", NULL, NULL);
        put(c, "m", "x", NULL, NULL);
        assert_string_equal(l.text, "add m/x@;update m/x@->;");
}

static void test_rejects_foreign_objects(void **state) {
        _cleanup_(cache_freep) Cache *c = NULL;
        (void) state;

        assert_int_equal(cache_new(&thing_kind, &c), 0);
        KubeObject *o = thing_new_kind(c, &cluster_thing_kind, NULL, "x", "1", NULL);
        assert_int_equal(cache_upsert(c, o), -EINVAL);
        assert_int_equal(cache_replace(c, &o, 1), -EINVAL);
        kube_object_unref(o);
        assert_int_equal(cache_size(c), 0);
}

static void test_iteration_order(void **state) {
        static const char *const names[] = { "web-2", "api-1", "web-10", "db-0", "api-0", "web-1" };
        static const char *const namespaces[] = { "zeta", "alpha", "kube-system" };
        Log l, out;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        (void) state;

        for (size_t n = 0; n < ELEMENTSOF(namespaces); n++)
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        put(c, namespaces[n], names[i], "1", NULL);
        assert_string_equal(list_ns(c, "zeta", &out),
                            "zeta/api-0 zeta/api-1 zeta/db-0 zeta/web-1 zeta/web-10 zeta/web-2 ");
        assert_string_equal(list_ns(c, "nope", &out), "");

        /* A straggler added later lands in its place. */
        put(c, "alpha", "cache-0", "1", NULL);
        assert_int_equal(cache_remove(c, "alpha", "web-1"), 1);
        assert_string_equal(list_ns(c, "alpha", &out),
                            "alpha/api-0 alpha/api-1 alpha/cache-0 alpha/db-0 alpha/web-10 alpha/web-2 ");

        /* NULL and "" both mean every namespace, in (namespace, name) order. */
        put(c, "beta", "only", "1", NULL);
        const char *all = list_ns(c, NULL, &out);
        assert_true(strstr(all, "alpha/web-2 beta/only kube-system/api-0 ") != NULL);
        assert_true(strncmp(all, "alpha/api-0 ", 12) == 0);
        assert_true(strstr(all, "zeta/web-2 ") == all + strlen(all) - strlen("zeta/web-2 "));
        assert_string_equal(list_ns(c, "", &out), all);
}

static void test_cluster_scoped(void **state) {
        Log l, out;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&cluster_thing_kind, &l);
        (void) state;

        for (const char *const *n = (const char *const[]) { "node-b", "node-a", "node-c", NULL }; *n; n++) {
                KubeObject *o = thing_new_kind(c, &cluster_thing_kind, NULL, *n, "1", NULL);
                assert_int_equal(cache_upsert(c, o) >= 0, 1);
                kube_object_unref(o);
        }
        assert_non_null(cache_get(c, NULL, "node-a"));
        assert_non_null(cache_get(c, "", "node-a"));
        assert_string_equal(list_ns(c, NULL, &out), "/node-a /node-b /node-c ");
        /* A namespace means nothing for cluster-scoped kinds. */
        assert_string_equal(list_ns(c, "default", &out), "/node-a /node-b /node-c ");
}

static void test_replace_fires_only_the_difference(void **state) {
        Log l, out;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        KubeObject *objs[4];
        (void) state;

        put(c, "ns", "a", "1", NULL);
        put(c, "ns", "b", "1", NULL);
        put(c, "ns", "c", "1", NULL);
        put(c, "other", "z", "1", NULL);
        memset(l.text, 0, sizeof l.text);

        objs[0] = thing_new(c, "ns", "d", "7", NULL);
        objs[1] = thing_new(c, "ns", "b", "7", NULL);
        objs[2] = thing_new(c, "ns", "a", "1", NULL);
        assert_int_equal(cache_replace(c, objs, 3), 0);
        assert_string_equal(l.text, "add ns/d@7;update ns/b@1->7;delete ns/c@1;delete other/z@1;");
        assert_string_equal(list_ns(c, NULL, &out), "ns/a ns/b ns/d ");
        /* The unchanged object stays the one the cache had. */
        assert_ptr_not_equal(cache_get(c, "ns", "a"), objs[2]);
        for (size_t i = 0; i < 3; i++)
                kube_object_unref(objs[i]);

        memset(l.text, 0, sizeof l.text);
        assert_int_equal(cache_replace(c, NULL, 0), 0);
        assert_string_equal(l.text, "delete ns/a@1;delete ns/b@7;delete ns/d@7;");
        assert_int_equal(cache_size(c), 0);
}

static int collect_indexed(Cache *c, const char *key, Log *out) {
        memset(out->text, 0, sizeof out->text);
        return cache_foreach_indexed(c, "node", key, collect, out);
}

static void test_secondary_index(void **state) {
        Log l, out;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        (void) state;

        put(c, "ns", "early", "1", "n1");
        /* Added after the first upsert: existing objects are indexed too. */
        assert_int_equal(cache_add_index(c, "node", thing_nodes), 0);
        assert_int_equal(cache_add_index(c, "node", thing_nodes), -EEXIST);
        put(c, "ns", "b", "1", "n1,n2");
        put(c, "a", "x", "1", "n2,n2"); /* a duplicate key counts once */
        put(c, "ns", "none", "1", NULL);

        assert_int_equal(collect_indexed(c, "n1", &out), 0);
        assert_string_equal(out.text, "ns/b ns/early ");
        assert_int_equal(collect_indexed(c, "n2", &out), 0);
        assert_string_equal(out.text, "a/x ns/b ");

        /* An update moves the object between keys. */
        put(c, "ns", "b", "2", "n3,n2");
        assert_int_equal(collect_indexed(c, "n1", &out), 0);
        assert_string_equal(out.text, "ns/early ");
        assert_int_equal(collect_indexed(c, "n2", &out), 0);
        assert_string_equal(out.text, "a/x ns/b ");
        assert_int_equal(collect_indexed(c, "n3", &out), 0);
        assert_string_equal(out.text, "ns/b ");

        assert_int_equal(cache_remove(c, "a", "x"), 1);
        assert_int_equal(collect_indexed(c, "n2", &out), 0);
        assert_string_equal(out.text, "ns/b ");
        assert_int_equal(collect_indexed(c, "n9", &out), 0);
        assert_string_equal(out.text, "");
        assert_int_equal(cache_foreach_indexed(c, "nope", "n1", collect, &out), -ENOENT);
}

typedef struct Mutator {
        Cache *cache;
        Log seen;
} Mutator;

static int mutate_while_iterating(KubeObject *o, void *userdata) {
        Mutator *m = userdata;
        log_append(&m->seen, "%s ", o->meta.name);
        if (streq(o->meta.name, "p03")) {
                /* Drop the object being visited and the next one, add
                 * one right after, one before and one in another namespace. */
                assert_int_equal(cache_remove(m->cache, "ns", "p03"), 1);
                assert_int_equal(cache_remove(m->cache, "ns", "p04"), 1);
                put(m->cache, "ns", "p035", "1", NULL);
                put(m->cache, "ns", "p00a", "1", NULL);
                put(m->cache, "zz", "q", "1", NULL);
                /* o stays valid for the callback even though it left the cache. */
                assert_string_equal(o->meta.name, "p03");
        }
        if (streq(o->meta.name, "p08"))
                for (int i = 0; i < 200; i++) { /* forces reallocation of the set */
                        char name[16];
                        snprintf(name, sizeof name, "p08-%03d", i);
                        put(m->cache, "ns", name, "1", NULL);
                }
        return 0;
}

static void test_cache_changes_during_iteration(void **state) {
        Log l;
        Mutator m = {};
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        (void) state;

        for (int i = 0; i < 10; i++) {
                char name[8];
                snprintf(name, sizeof name, "p%02d", i);
                put(c, "ns", name, "1", NULL);
        }
        m.cache = c;
        assert_int_equal(cache_foreach(c, "ns", mutate_while_iterating, &m), 0);
        /* Each object once, in order; what was added behind the cursor is
         * not visited, what was added ahead is. */
        assert_true(strncmp(m.seen.text, "p00 p01 p02 p03 p035 p05 p06 p07 p08 p08-000 p08-001 ", 53) == 0);
        assert_true(strstr(m.seen.text, "p08-199 p09 ") != NULL);
        assert_null(strstr(m.seen.text, "p00a"));
        assert_null(strstr(m.seen.text, "p04"));
        assert_int_equal(cache_size(c), 10 - 2 + 3 + 200);
}

static int remove_other_namespace(KubeObject *o, void *userdata) {
        Mutator *m = userdata;
        log_append(&m->seen, "%s/%s ", o->meta.namespace, o->meta.name);
        if (streq(o->meta.namespace, "a")) {
                /* Empties namespace b and creates c while iterating all. */
                (void) cache_remove(m->cache, "b", "1");
                (void) cache_remove(m->cache, "b", "2");
                put(m->cache, "c", "1", "1", NULL);
        }
        return 0;
}

static void test_namespaces_change_during_iteration(void **state) {
        Log l;
        Mutator m = {};
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        (void) state;

        put(c, "a", "1", "1", NULL);
        put(c, "b", "1", "1", NULL);
        put(c, "b", "2", "1", NULL);
        put(c, "d", "1", "1", NULL);
        m.cache = c;
        assert_int_equal(cache_foreach(c, NULL, remove_other_namespace, &m), 0);
        assert_string_equal(m.seen.text, "a/1 c/1 d/1 ");
        /* The emptied namespace is gone afterwards; b can come back. */
        put(c, "b", "3", "1", NULL);
        Log out;
        assert_string_equal(list_ns(c, NULL, &out), "a/1 b/3 c/1 d/1 ");
}

static int stop_at_second(KubeObject *o, void *userdata) {
        int *n = userdata;
        (void) o;
        return ++*n == 2 ? -ECANCELED : 0;
}

static void test_iteration_stops_on_error(void **state) {
        Log l;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        int n = 0;
        (void) state;

        put(c, "ns", "a", "1", NULL);
        put(c, "ns", "b", "1", NULL);
        put(c, "ns", "c", "1", NULL);
        assert_int_equal(cache_foreach(c, NULL, stop_at_second, &n), -ECANCELED);
        assert_int_equal(n, 2);
}

static void test_memory_accounting(void **state) {
        Log l;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        size_t empty, full;
        (void) state;

        empty = cache_memory_bytes(c);
        for (int i = 0; i < 100; i++) {
                char name[16];
                snprintf(name, sizeof name, "pod-%d", i);
                put(c, "default", name, "1", "node-with-a-long-name");
        }
        full = cache_memory_bytes(c);
        /* At least the objects' own accounting and the interned namespace. */
        assert_true(full >= empty + 100 * (heap_size(sizeof(Thing)) + heap_strsize("node-with-a-long-name")));
        assert_true(full >= strpool_bytes(cache_pool(c)));
        for (int i = 0; i < 100; i++) {
                char name[16];
                snprintf(name, sizeof name, "pod-%d", i);
                assert_int_equal(cache_remove(c, "default", name), 1);
        }
        /* Only the grown hash table remains. */
        assert_true(cache_memory_bytes(c) < empty + 8 * 1024);
        assert_int_equal(strpool_count(cache_pool(c)), 0);
}

static int count_and_check_order(KubeObject *o, void *userdata) {
        Log *prev = userdata; /* text holds "ns/name" of the previous object */
        char key[128];
        snprintf(key, sizeof key, "%s/%s", o->meta.namespace, o->meta.name);
        assert_true(strcmp(prev->text, key) < 0);
        strcpy(prev->text, key);
        return 0;
}

static void test_many_objects_random_order(void **state) {
        Log l, prev;
        _cleanup_(cache_freep) Cache *c = new_logged_cache(&thing_kind, &l);
        unsigned seed = 12345;
        char ns[16], name[32];
        (void) state;

        c = cache_free(c);
        assert_int_equal(cache_new(&thing_kind, &c), 0); /* no handlers: this is about the structure */
        for (int i = 0; i < 20000; i++) {
                int k = (int) (rand_r(&seed) % 5000);
                snprintf(ns, sizeof ns, "ns-%d", k % 7);
                snprintf(name, sizeof name, "pod-%05d", k);
                put(c, ns, name, i % 2 ? "1" : "2", NULL);
                if (i % 5 == 0) {
                        k = (int) (rand_r(&seed) % 5000);
                        snprintf(ns, sizeof ns, "ns-%d", k % 7);
                        snprintf(name, sizeof name, "pod-%05d", k);
                        (void) cache_remove(c, ns, name);
                }
                if (i % 997 == 0) {
                        memset(prev.text, 0, sizeof prev.text);
                        assert_int_equal(cache_foreach(c, NULL, count_and_check_order, &prev), 0);
                }
        }
        /* Every object is found by key and by its namespace. */
        size_t total = 0;
        for (int n = 0; n < 7; n++) {
                snprintf(ns, sizeof ns, "ns-%d", n);
                memset(prev.text, 0, sizeof prev.text);
                assert_int_equal(cache_foreach(c, ns, count_and_check_order, &prev), 0);
        }
        for (int k = 0; k < 5000; k++) {
                snprintf(ns, sizeof ns, "ns-%d", k % 7);
                snprintf(name, sizeof name, "pod-%05d", k);
                total += cache_get(c, ns, name) != NULL;
        }
        assert_int_equal(total, cache_size(c));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handlers_add_update_delete),
                cmocka_unit_test(test_rejects_foreign_objects),
                cmocka_unit_test(test_iteration_order),
                cmocka_unit_test(test_cluster_scoped),
                cmocka_unit_test(test_replace_fires_only_the_difference),
                cmocka_unit_test(test_secondary_index),
                cmocka_unit_test(test_cache_changes_during_iteration),
                cmocka_unit_test(test_namespaces_change_during_iteration),
                cmocka_unit_test(test_iteration_stops_on_error),
                cmocka_unit_test(test_memory_accounting),
                cmocka_unit_test(test_many_objects_random_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
