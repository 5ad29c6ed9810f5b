/* SPDX-License-Identifier: Apache-2.0 */
/* The Event recorder: de-duplication into series, names, the LRU bound. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json.h"

#define S USEC_PER_SEC
#define T0 (UINT64_C(1714557600) * S) /* 2024-05-01T10:00:00Z */

typedef struct Sink {
        usec_t now;
        int posts, patches;
        char last_method[8];
        char last_name[300];
        char last_body[4096];
        char names[16][300];
        int fail;               /* sink returns this (< 0) */
} Sink;

static int sink(EventRecorder *r _unused_, const EventWrite *w, void *userdata) {
        Sink *s = userdata;
        if (s->fail < 0)
                return s->fail;
        if (streq(w->method, "POST")) {
                if (s->posts < 16)
                        snprintf(s->names[s->posts], sizeof(s->names[0]), "%s", w->name);
                s->posts++;
        } else
                s->patches++;
        snprintf(s->last_method, sizeof(s->last_method), "%s", w->method);
        snprintf(s->last_name, sizeof(s->last_name), "%s", w->name);
        snprintf(s->last_body, sizeof(s->last_body), "%s", w->body);
        return 0;
}

static usec_t fake_now(void *userdata) {
        return ((Sink *) userdata)->now;
}

static EventRecorder *make(Sink *s, bool deterministic, size_t max) {
        EventRecorderOptions o = {
                .reporting_controller = "berth.io/lbipam-controller",
                .reporting_instance = "node-a_1234",
                .deterministic_names = deterministic,
                .max_entries = max,
                .sink = sink,
                .sink_userdata = s,
                .now = fake_now,
                .now_userdata = s,
        };
        EventRecorder *r = NULL;
        s->now = T0;
        assert_int_equal(event_recorder_new(&o, &r), 0);
        return r;
}

static const EventObjectRef svc = {
        .api_version = "v1", .kind = "Service", .namespace = "default", .name = "web", .uid = "uid-1",
};

static int64_t series_count(const char *body) {
        JsonDoc *doc = NULL;
        int64_t n = -1;
        assert_int_equal(json_parse(body, strlen(body), NULL, &doc, NULL), 0);
        assert_int_equal(json_int64(json_get_path(json_doc_root(doc), "series", "count"), &n), 0);
        assert_non_null(json_get_path(json_doc_root(doc), "series", "lastObservedTime"));
        json_doc_free(doc);
        return n;
}

static void test_dedup_series(void **state _unused_) {
        Sink s = {};
        EventRecorder *r = make(&s, false, 0);

        /* 100 identical events, one per second (a hot reconcile loop). */
        for (int i = 0; i < 100; i++) {
                assert_int_equal(event_recorder_emit(r, &svc, "Warning", "AllocationFailed", "AllocateIP",
                                                     "Failed to allocate IP for \"default/web\": no available IPs"),
                                 i == 0 ? 1 : 0);
                s.now += S;
        }
        assert_int_equal(s.posts, 1);
        /* Count 2 at once, then at most one PATCH per 30 s: at 1, 31, 61, 91 s. */
        assert_int_equal(s.patches, 4);
        assert_string_equal(s.last_method, "PATCH");
        assert_string_equal(s.last_name, s.names[0]);
        assert_int_equal(series_count(s.last_body), 92);
        /* The pending count reaches the server on flush. */
        assert_int_equal(event_recorder_flush(r), 0);
        assert_int_equal(s.patches, 5);
        assert_int_equal(series_count(s.last_body), 100);
        assert_int_equal(event_recorder_flush(r), 0);
        assert_int_equal(s.patches, 5); /* nothing pending, nothing sent */
        assert_int_equal(event_recorder_size(r), 1);
        event_recorder_free(r);
}

static void test_distinct_events(void **state _unused_) {
        static const struct {
                const char *type, *reason, *action, *note;
                int want; /* 1 new Event, 0 joined a series */
        } t[] = {
                { "Normal", "IPAllocated", "AllocateIP", "Assigned IP [\"192.0.2.1\"]", 1 },
                { "Normal", "IPAllocated", "AllocateIP", "Assigned IP [\"192.0.2.2\"]", 1 },  /* other note */
                { "Warning", "IPAllocated", "AllocateIP", "Assigned IP [\"192.0.2.2\"]", 1 }, /* other type */
                { "Normal", "ClearAssignment", "AllocateIP", "Assigned IP [\"192.0.2.2\"]", 1 },
                { "Normal", "IPAllocated", "UpdatePool", "Assigned IP [\"192.0.2.2\"]", 1 },  /* other action */
                { "Normal", "IPAllocated", "AllocateIP", "Assigned IP [\"192.0.2.1\"]", 0 },  /* repeat of #0 */
        };
        Sink s = {};
        EventRecorder *r = make(&s, false, 0);

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(event_recorder_emit(r, &svc, t[i].type, t[i].reason, t[i].action, t[i].note),
                                 t[i].want);
        assert_int_equal(s.posts, 5);
        for (int i = 0; i < 5; i++) {
                assert_true(startswith(s.names[i], "web."));
                assert_int_equal(strlen(s.names[i]), strlen("web.") + 16);
                for (int k = 0; k < i; k++)
                        assert_string_not_equal(s.names[i], s.names[k]);
        }
        /* Another object with the same texts is another Event. */
        EventObjectRef other = svc;
        other.name = "api";
        other.uid = "uid-2";
        assert_int_equal(event_recorder_emit(r, &other, "Normal", "IPAllocated", "AllocateIP",
                                             "Assigned IP [\"192.0.2.1\"]"),
                         1);
        event_recorder_free(r);
}

static void test_window_and_lru(void **state _unused_) {
        Sink s = {};
        EventRecorder *r = make(&s, false, 3);
        char note[32];

        for (int i = 0; i < 5; i++) {
                snprintf(note, sizeof(note), "note %d", i);
                assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", note), 1);
        }
        assert_int_equal(event_recorder_size(r), 3);
        /* "note 0" was forgotten (least recently used): it is a new Event again. */
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "note 0"), 1);
        /* "note 4" is remembered: a series. */
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "note 4"), 0);
        assert_int_equal(event_recorder_size(r), 3);

        /* Silence longer than the window ends a series. */
        s.now += 6 * 60 * S;
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "note 4"), 1);
        assert_int_equal(event_recorder_size(r), 3);
        event_recorder_free(r);
}

static void test_body_and_deterministic_name(void **state _unused_) {
        Sink s = {};
        EventRecorder *r = make(&s, true, 0);
        JsonDoc *doc = NULL;
        const JsonValue *root;
        EventObjectRef node = { .api_version = "v1", .kind = "Node", .name = "node-a", .uid = "n-uid" };
        char *name = NULL;

        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "IPAllocated", "AllocateIP",
                                             "Assigned IP [\"192.0.2.1\"]"),
                         1);
        /* offline.md: <regarding name>.<first 16 hex of sha256 of reason/regarding uid/note>. */
        assert_string_equal(s.names[0], "web.e0bb5d42c925fec4");
        assert_int_equal(event_name_deterministic("web", "IPAllocated", "uid-1", "Assigned IP [\"192.0.2.1\"]", &name),
                         0);
        assert_string_equal(name, "web.e0bb5d42c925fec4");
        free(name);

        assert_int_equal(json_parse(s.last_body, strlen(s.last_body), NULL, &doc, NULL), 0);
        root = json_doc_root(doc);
        assert_string_equal(json_get_string(root, "apiVersion"), "events.k8s.io/v1");
        assert_string_equal(json_get_string(root, "kind"), "Event");
        assert_string_equal(json_get_string(json_get(root, "metadata"), "namespace"), "default");
        assert_string_equal(json_get_string(root, "eventTime"), "2024-05-01T10:00:00.000000Z");
        assert_string_equal(json_get_string(root, "reportingController"), "berth.io/lbipam-controller");
        assert_string_equal(json_get_string(root, "reportingInstance"), "node-a_1234");
        assert_string_equal(json_get_string(root, "action"), "AllocateIP");
        assert_string_equal(json_get_string(root, "reason"), "IPAllocated");
        assert_string_equal(json_get_string(root, "type"), "Normal");
        assert_string_equal(json_get_string(root, "note"), "Assigned IP [\"192.0.2.1\"]");
        assert_string_equal(json_get_string(json_get(root, "regarding"), "kind"), "Service");
        assert_string_equal(json_get_string(json_get(root, "regarding"), "uid"), "uid-1");
        json_doc_free(doc);

        /* A cluster-scoped object's Events live in "default". */
        assert_int_equal(event_recorder_emit(r, &node, "Warning", "StrictARPDisabled", "CheckStrictARP", "x"), 1);
        assert_int_equal(json_parse(s.last_body, strlen(s.last_body), NULL, &doc, NULL), 0);
        assert_string_equal(json_get_string(json_get(json_doc_root(doc), "metadata"), "namespace"), "default");
        assert_null(json_get(json_get(json_doc_root(doc), "regarding"), "namespace"));
        json_doc_free(doc);
        event_recorder_free(r);
}

static void test_limits_and_errors(void **state _unused_) {
        Sink s = {};
        EventRecorder *r = make(&s, false, 0);
        char long_note[3000];
        JsonDoc *doc = NULL;

        assert_int_equal(event_recorder_emit(r, &svc, "Info", "R", "A", "n"), -EINVAL);
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "", "A", "n"), -EINVAL);
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", NULL, "n"), -EINVAL);

        /* Notes are cut to the apiserver's 1 kB, never inside a UTF-8 character. */
        memset(long_note, 'x', sizeof(long_note));
        memcpy(long_note + 1022, "\xc3\xa9", 2); /* é across the limit */
        long_note[sizeof(long_note) - 1] = 0;
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", long_note), 1);
        assert_int_equal(json_parse(s.last_body, strlen(s.last_body), NULL, &doc, NULL), 0);
        assert_int_equal(strlen(json_get_string(json_doc_root(doc), "note")), 1024);
        json_doc_free(doc);
        long_note[1022] = 'x';
        memcpy(long_note + 1023, "\xc3\xa9", 2);
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", long_note), 1);
        assert_int_equal(json_parse(s.last_body, strlen(s.last_body), NULL, &doc, NULL), 0);
        assert_int_equal(strlen(json_get_string(json_doc_root(doc), "note")), 1023);
        json_doc_free(doc);

        /* A failed create is forgotten: the next occurrence creates again. */
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "fails"), 1);
        event_recorder_write_result(r, "default", s.last_name, "POST", 0, 500);
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "fails"), 1);
        /* A sink that cannot queue: an error, and nothing remembered. */
        s.fail = -ENOBUFS;
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "queue full"), -ENOBUFS);
        s.fail = 0;
        assert_int_equal(event_recorder_emit(r, &svc, "Normal", "R", "A", "queue full"), 1);
        event_recorder_free(r);
}

static void test_emitf(void **state _unused_) {
        Sink s = {};
        EventRecorder *r = make(&s, false, 0);
        assert_int_equal(event_recorder_emitf(r, &svc, "Warning", "AllocationFailed", "AllocateIP",
                                              "Failed to allocate IP for \"%s/%s\": %s", "default", "web", "x"),
                         1);
        assert_non_null(strstr(s.last_body, "\"note\":\"Failed to allocate IP for \\\"default/web\\\": x\""));
        event_recorder_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dedup_series),
                cmocka_unit_test(test_distinct_events),
                cmocka_unit_test(test_window_and_lru),
                cmocka_unit_test(test_body_and_deterministic_name),
                cmocka_unit_test(test_limits_and_errors),
                cmocka_unit_test(test_emitf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
