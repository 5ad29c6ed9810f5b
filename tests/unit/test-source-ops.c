/* SPDX-License-Identifier: Apache-2.0 */
/* The Source operations beyond caches and writes (source.h), over the
 * offline source: GET of one object, cache release (the last release
 * frees, a re-asked cache fills again), cancel (done never called) and
 * DELETE with a uid precondition. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "lease_object.h"
#include "source.h"
#include "source_offline.h"

#define NOW (UINT64_C(1767225600) * USEC_PER_SEC)
#define UID_A "0a0a0a0a-0000-4000-8000-00000000000a"

static const char *const input_leases =
        "apiVersion: coordination.k8s.io/v1\n"
        "kind: Lease\n"
        "metadata: {name: a, namespace: ns, uid: " UID_A ", resourceVersion: \"7\"}\n"
        "spec: {holderIdentity: node-a}\n"
        "---\n"
        "apiVersion: coordination.k8s.io/v1\n"
        "kind: Lease\n"
        "metadata: {name: b, namespace: ns}\n"
        "spec: {holderIdentity: node-b}\n";

typedef struct Answer {
        unsigned calls;
        int error;
        long http_code;
        char reason[32];
        char message[256];
        char name[64], uid[40], holder[32];
} Answer;

typedef struct Fixture {
        char dir[64];
        sd_event *event;
        Source *src;
} Fixture;

static void on_answer(int error, const KubeStatus *st, KubeObject *stored, void *userdata) {
        Answer *a = userdata;

        a->calls++;
        a->error = error;
        a->http_code = st ? st->http_code : 0;
        snprintf(a->reason, sizeof a->reason, "%s", st && st->reason ? st->reason : "");
        snprintf(a->message, sizeof a->message, "%s", st && st->message ? st->message : "");
        snprintf(a->name, sizeof a->name, "%s", stored ? stored->meta.name : "");
        snprintf(a->uid, sizeof a->uid, "%s", stored && stored->meta.uid ? stored->meta.uid : "");
        snprintf(a->holder, sizeof a->holder, "%s",
                 stored && LEASE(stored)->holder_identity ? LEASE(stored)->holder_identity : "");
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        char path[128], *err = NULL;
        FILE *fp;

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-source-ops-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(path, sizeof path, "%s/leases.yaml", f->dir);
        fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(input_leases, fp);
        fclose(fp);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(source_offline_new(f->event, &(OfflineOptions) { .dir = f->dir, .now = NOW }, &f->src, &err),
                         0);
        assert_null(err);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        source_free(f->src);
        sd_event_unref(f->event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* Runs the loop until nothing is queued. */
static void run(Fixture *f) {
        for (int i = 0; i < 100 && source_offline_pending(f->src) > 0; i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
        assert_int_equal(source_offline_pending(f->src), 0);
}

static void test_get_found(void **state) {
        Fixture *f = *state;
        Answer a = {};

        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "a", on_answer, &a), 0);
        /* answered from the loop, never inside the call */
        assert_int_equal(a.calls, 0);
        run(f);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.error, 0);
        assert_string_equal(a.name, "a");
        assert_string_equal(a.uid, UID_A);
        assert_string_equal(a.holder, "node-a");
}

static void test_get_sees_earlier_writes(void **state) {
        Fixture *f = *state;
        Answer w = {}, a = {};

        /* a consistent read: it sees every write asked before it */
        assert_int_equal(source_merge_patch(f->src, &kube_kind_lease, "ns", "a", NULL,
                                            "{\"spec\":{\"holderIdentity\":\"node-c\"}}", on_answer, &w),
                         0);
        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "a", on_answer, &a), 0);
        run(f);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.error, 0);
        assert_int_equal(a.calls, 1);
        assert_string_equal(a.holder, "node-c");
}

static void test_get_not_found(void **state) {
        Fixture *f = *state;
        Answer a = {};

        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "nope", on_answer, &a), 0);
        run(f);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.error, -ENOENT);
        assert_int_equal(a.http_code, 404);
        assert_string_equal(a.reason, "NotFound");
        assert_string_equal(a.message, "leases.coordination.k8s.io \"nope\" not found");
        assert_string_equal(a.name, "");

        /* a deleted object is not found either */
        assert_int_equal(source_delete(f->src, &kube_kind_lease, "ns", "b", NULL, NULL), 0);
        a = (Answer) {};
        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "b", on_answer, &a), 0);
        run(f);
        assert_int_equal(a.error, -ENOENT);
        assert_int_equal(a.http_code, 404);
}

typedef struct Seen {
        unsigned adds, updates, deletes;
} Seen;

static void seen_add(KubeObject *o, void *userdata) {
        (void) o;
        ((Seen *) userdata)->adds++;
}
static void seen_update(KubeObject *old, KubeObject *o, void *userdata) {
        (void) old, (void) o;
        ((Seen *) userdata)->updates++;
}
static void seen_delete(KubeObject *o, void *userdata) {
        (void) o;
        ((Seen *) userdata)->deletes++;
}

static const char *const lease_c =
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
        "\"metadata\":{\"name\":\"c\",\"namespace\":\"ns\"},\"spec\":{\"holderIdentity\":\"node-c\"}}";

static void test_cache_release_shared(void **state) {
        Fixture *f = *state;
        SourceFilter filter = { .namespace = "ns" };
        Cache *c1 = NULL, *c2 = NULL;
        Seen seen = {};

        assert_int_equal(source_cache(f->src, &kube_kind_lease, &filter, &c1), 0);
        assert_int_equal(source_cache(f->src, &kube_kind_lease, &filter, &c2), 0);
        assert_ptr_equal(c1, c2);
        assert_int_equal(cache_size(c1), 2);
        assert_int_equal(cache_add_handlers(c1, &(CacheHandlers) { .on_add = seen_add, .userdata = &seen }), 0);

        /* one release of two uses: the cache lives on and is still kept up to date */
        source_cache_release(f->src, c2);
        assert_int_equal(source_create(f->src, &kube_kind_lease, "ns", lease_c, NULL, NULL), 0);
        run(f);
        assert_int_equal(seen.adds, 1);
        assert_int_equal(cache_size(c1), 3);
        assert_non_null(cache_get(c1, "ns", "c"));

        /* the last release frees it (valgrind: no leak, no later use) */
        source_cache_release(f->src, c1);
        assert_int_equal(source_delete(f->src, &kube_kind_lease, "ns", "c", NULL, NULL), 0);
        run(f);
        assert_int_equal(seen.adds, 1);
}

static void test_cache_release_then_ask_again(void **state) {
        Fixture *f = *state;
        SourceFilter filter = { .namespace = "ns" };
        Cache *c = NULL;
        Seen seen = {};

        assert_int_equal(source_cache(f->src, &kube_kind_lease, &filter, &c), 0);
        assert_int_equal(cache_size(c), 2);
        source_cache_release(f->src, c);

        /* what changed while nobody held the cache is in the fresh one */
        assert_int_equal(source_create(f->src, &kube_kind_lease, "ns", lease_c, NULL, NULL), 0);
        assert_int_equal(source_delete(f->src, &kube_kind_lease, "ns", "b", NULL, NULL), 0);
        run(f);
        c = NULL;
        assert_int_equal(source_cache(f->src, &kube_kind_lease, &filter, &c), 0);
        assert_non_null(c);
        assert_true(cache_synced(c));
        assert_int_equal(cache_size(c), 2);
        assert_non_null(cache_get(c, "ns", "a"));
        assert_non_null(cache_get(c, "ns", "c"));
        assert_null(cache_get(c, "ns", "b"));

        /* and it follows writes again */
        assert_int_equal(cache_add_handlers(c,
                                            &(CacheHandlers) { .on_add = seen_add,
                                                               .on_update = seen_update,
                                                               .on_delete = seen_delete,
                                                               .userdata = &seen }),
                         0);
        assert_int_equal(source_merge_patch(f->src, &kube_kind_lease, "ns", "a", NULL,
                                            "{\"spec\":{\"holderIdentity\":\"node-d\"}}", NULL, NULL),
                         0);
        assert_int_equal(source_delete(f->src, &kube_kind_lease, "ns", "c", NULL, NULL), 0);
        run(f);
        assert_int_equal(seen.updates, 1);
        assert_int_equal(seen.deletes, 1);
        assert_string_equal(LEASE(cache_get(c, "ns", "a"))->holder_identity, "node-d");
        source_cache_release(f->src, c);
}

static void test_cancel(void **state) {
        Fixture *f = *state;
        Answer a = {}, b = {};

        assert_int_equal(source_merge_patch(f->src, &kube_kind_lease, "ns", "a", NULL,
                                            "{\"spec\":{\"holderIdentity\":\"node-x\"}}", on_answer, &a),
                         0);
        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "b", on_answer, &b), 0);
        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "a", on_answer, &a), 0);
        assert_int_equal(source_offline_pending(f->src), 3);

        source_cancel(f->src, &a);
        assert_int_equal(source_offline_pending(f->src), 1);
        run(f);
        assert_int_equal(a.calls, 0);
        assert_int_equal(b.calls, 1);
        assert_string_equal(b.name, "b");
        /* the cancelled write was never applied */
        assert_string_equal(json_get_string(json_get(source_offline_get(f->src, &kube_kind_lease, "ns", "a"), "spec"),
                                            "holderIdentity"),
                            "node-a");
        /* nothing pending: a no-op */
        source_cancel(f->src, &b);
}

/* Freed with requests pending: done is never called, nothing leaks. */
static void test_free_with_pending(void **state) {
        Fixture *f = *state;
        Answer a = {};

        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "a", on_answer, &a), 0);
        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a", UID_A, on_answer, &a), 0);
        f->src = source_free(f->src);
        assert_int_equal(a.calls, 0);
}

static void test_delete_uid_match(void **state) {
        Fixture *f = *state;
        Answer a = {}, g = {};

        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a", UID_A, on_answer, &a), 0);
        assert_int_equal(source_get(f->src, &kube_kind_lease, "ns", "a", on_answer, &g), 0);
        run(f);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.error, 0);
        assert_null(source_offline_get(f->src, &kube_kind_lease, "ns", "a"));
        assert_int_equal(g.error, -ENOENT);

        /* gone: a second delete is a 404 */
        a = (Answer) {};
        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a", UID_A, on_answer, &a), 0);
        run(f);
        assert_int_equal(a.error, -ENOENT);
        assert_int_equal(a.http_code, 404);
}

static void test_delete_uid_mismatch(void **state) {
        Fixture *f = *state;
        Answer a = {};

        /* a successor re-created the lease under the same name: not ours to delete */
        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a",
                                           "0b0b0b0b-0000-4000-8000-00000000000b", on_answer, &a),
                         0);
        run(f);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.error, -ESTALE);
        assert_int_equal(a.http_code, 409);
        assert_string_equal(a.reason, "Conflict");
        assert_string_equal(a.message,
                            "Operation cannot be fulfilled on leases.coordination.k8s.io \"a\": Precondition failed: "
                            "UID in precondition: 0b0b0b0b-0000-4000-8000-00000000000b, UID in object meta: " UID_A);
        assert_non_null(source_offline_get(f->src, &kube_kind_lease, "ns", "a"));
        assert_int_equal(source_offline_changes(f->src), 0);

        /* a uid is required */
        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a", "", on_answer, &a), -EINVAL);
        assert_int_equal(source_delete_uid(f->src, &kube_kind_lease, "ns", "a", NULL, on_answer, &a), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_get_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_get_sees_earlier_writes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_get_not_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_release_shared, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_release_then_ask_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete_uid_match, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete_uid_mismatch, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
