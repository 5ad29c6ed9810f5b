/* SPDX-License-Identifier: Apache-2.0 */
/* The Event recorder on the offline source: Events land in the source's
 * store as events.k8s.io/v1 objects, repeats become series updates. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "event.h"
#include "source_events.h"
#include "source_offline.h"

#define NOW (UINT64_C(1767225600) * USEC_PER_SEC) /* 2026-01-01T00:00:00Z */

typedef struct Fixture {
        char dir[64];
        sd_event *event;
        Source *source;
        EventRecorder *recorder;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        char *err = NULL;
        FILE *m;

        snprintf(f->dir, sizeof f->dir, "/tmp/berth-test-events.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        char path[128];
        snprintf(path, sizeof path, "%s/svc.yaml", f->dir);
        m = fopen(path, "w");
        assert_non_null(m);
        fputs("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
              "spec: {selector: {app: web}, ports: [{port: 80}]}\n",
              m);
        fclose(m);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(source_offline_new(f->event, &(OfflineOptions) { .dir = f->dir, .now = NOW }, &f->source, &err),
                         0);
        assert_int_equal(source_event_recorder_new(f->source,
                                                   &(SourceEventsOptions) {
                                                           .reporting_controller = "berth.io/test-controller",
                                                           .reporting_instance = "offline",
                                                           .offline = true,
                                                   },
                                                   &f->recorder),
                         0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        event_recorder_free(f->recorder);
        source_free(f->source);
        sd_event_unref(f->event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void drain(Fixture *f) {
        while (source_offline_pending(f->source) > 0)
                assert_true(sd_event_run(f->event, 0) >= 0);
}

typedef struct Found {
        unsigned n;
        const JsonValue *last;
} Found;

static int count_event(const OfflineObject *o, void *userdata) {
        Found *found = userdata;
        found->n++;
        found->last = o->value;
        return 0;
}

static void test_event_then_series(void **state) {
        Fixture *f = *state;
        EventObjectRef svc = { "v1", "Service", "shop", "web", "uid-1" };
        Found found = {};
        int64_t count = 0;

        assert_int_equal(event_recorder_emit(f->recorder, &svc, "Warning", "EndpointAddressDropped", "SyncEndpoints",
                                             "Dropped address 127.0.0.1 of pod shop/a"),
                         1);
        drain(f);
        assert_int_equal(source_offline_foreach(f->source, &kube_kind_event, OFFLINE_EXISTING, count_event, &found), 0);
        assert_int_equal(found.n, 1);
        assert_string_equal(json_get_string(found.last, "reason"), "EndpointAddressDropped");
        assert_string_equal(json_get_string(found.last, "reportingController"), "berth.io/test-controller");
        assert_string_equal(json_get_string(json_get(found.last, "regarding"), "name"), "web");
        assert_string_equal(json_get_string(json_get(found.last, "metadata"), "namespace"), "shop");

        /* The same problem again joins the series of the same Event object. */
        assert_int_equal(event_recorder_emit(f->recorder, &svc, "Warning", "EndpointAddressDropped", "SyncEndpoints",
                                             "Dropped address 127.0.0.1 of pod shop/a"),
                         0);
        assert_int_equal(event_recorder_flush(f->recorder), 0);
        drain(f);
        found = (Found) {};
        assert_int_equal(source_offline_foreach(f->source, &kube_kind_event, OFFLINE_EXISTING, count_event, &found), 0);
        assert_int_equal(found.n, 1);
        assert_int_equal(json_int64(json_get_path(found.last, "series", "count"), &count), 0);
        assert_int_equal(count, 2);

        /* Another note is another Event. */
        assert_int_equal(event_recorder_emit(f->recorder, &svc, "Warning", "EndpointAddressDropped", "SyncEndpoints",
                                             "Dropped address 169.254.0.1 of pod shop/b"),
                         1);
        drain(f);
        found = (Found) {};
        assert_int_equal(source_offline_foreach(f->source, &kube_kind_event, OFFLINE_EXISTING, count_event, &found), 0);
        assert_int_equal(found.n, 2);
}

/* A controller that stops with an Event write in flight frees its recorder
 * first; the write's completion must not touch it (ASan/valgrind check). */
static void test_recorder_freed_with_write_in_flight(void **state) {
        Fixture *f = *state;
        EventObjectRef svc = { "v1", "Service", "shop", "web", "uid-1" };

        assert_int_equal(event_recorder_emit(f->recorder, &svc, "Warning", "FailedToUpdateEndpoint", "SyncEndpoints",
                                             "Failed to update endpoint shop/web: boom"),
                         1);
        assert_int_equal(source_offline_pending(f->source), 1);
        f->recorder = event_recorder_free(f->recorder);
        drain(f); /* the completion runs now, with no recorder left */
        Found found = {};
        assert_int_equal(source_offline_foreach(f->source, &kube_kind_event, OFFLINE_EXISTING, count_event, &found), 0);
        assert_int_equal(found.n, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_event_then_series, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recorder_freed_with_write_in_flight, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
