/* SPDX-License-Identifier: Apache-2.0 */
/* The work queue rules of endpoints.md §8.3, each with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "queue.h"

typedef struct Fixture {
        usec_t now;
        int result;              /* what process returns */
        char seen[64][32];       /* keys handed out, in order */
        size_t n_seen;
        char dropped[8][32];
        size_t n_dropped;
        int self_add;            /* process adds its own key this many times */
        WorkQueue *q;
} Fixture;

static usec_t fake_now(void *userdata) {
        return ((Fixture *) userdata)->now;
}

static int record(WorkQueue *q, const char *key, void *userdata) {
        Fixture *f = userdata;
        if (f->n_seen < ELEMENTSOF(f->seen))
                snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s", key);
        if (f->self_add > 0) {
                f->self_add--;
                assert_int_equal(workqueue_add(q, key), 0);
        }
        return f->result;
}

static void on_drop(WorkQueue *q _unused_, const char *key, int error, void *userdata) {
        Fixture *f = userdata;
        assert_int_equal(error, -EIO);
        snprintf(f->dropped[f->n_dropped++], sizeof(f->dropped[0]), "%s", key);
}

static WorkQueue *make_queue(Fixture *f, usec_t base, unsigned workers, bool virtual_time, MetricsRegistry *m) {
        WorkQueueOptions o = {
                .name = "test",
                .base_delay = base,
                .workers = workers,
                .virtual_time = virtual_time,
                .process = record,
                .on_drop = on_drop,
                .userdata = f,
                .metrics = m,
                .now = fake_now,
                .now_userdata = f,
        };
        WorkQueue *q = NULL;
        f->now = 1000 * USEC_PER_SEC;
        assert_int_equal(workqueue_new(NULL, &o, &q), 0);
        f->q = q;
        return q;
}

static void test_backoff_table(void **state _unused_) {
        static const struct {
                usec_t base;
                unsigned failures;
                usec_t want;
        } t[] = {
                { 5 * USEC_PER_MSEC, 0, 5 * USEC_PER_MSEC },
                { 5 * USEC_PER_MSEC, 1, 10 * USEC_PER_MSEC },
                { 5 * USEC_PER_MSEC, 2, 20 * USEC_PER_MSEC },
                { 5 * USEC_PER_MSEC, 14, 81920 * USEC_PER_MSEC },
                { USEC_PER_SEC, 0, USEC_PER_SEC },
                { USEC_PER_SEC, 9, 512 * USEC_PER_SEC },
                { USEC_PER_SEC, 10, 1000 * USEC_PER_SEC },
                { USEC_PER_SEC, 63, 1000 * USEC_PER_SEC },
                { USEC_PER_SEC, 200, 1000 * USEC_PER_SEC },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(workqueue_backoff(t[i].base, WORKQUEUE_DEFAULT_MAX_DELAY, t[i].failures), t[i].want);
}

static void test_dedup_waiting(void **state _unused_) {
        Fixture f = {};
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 5, false, NULL);

        assert_int_equal(workqueue_add(q, "ns/a"), 0);
        assert_int_equal(workqueue_add(q, "ns/b"), 0);
        assert_int_equal(workqueue_add(q, "ns/a"), 0);
        assert_int_equal(workqueue_add(q, "ns/a"), 0);
        assert_int_equal(workqueue_len(q), 2);
        assert_int_equal(workqueue_run(q), 2);
        assert_int_equal(f.n_seen, 2);
        assert_string_equal(f.seen[0], "ns/a"); /* FIFO order */
        assert_string_equal(f.seen[1], "ns/b");
        assert_true(workqueue_idle(q));
        assert_int_equal(workqueue_add(q, ""), -EINVAL);
        workqueue_free(q);
}

static void test_processing_never_twice(void **state _unused_) {
        Fixture f = { .result = WORKQUEUE_PENDING };
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 5, false, NULL);

        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(workqueue_in_processing(q), 1);
        /* Added while processed: held back, not handed to a second worker. */
        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_len(q), 0);
        assert_int_equal(workqueue_run(q), 0);
        assert_int_equal(f.n_seen, 1);
        /* Done: it comes back exactly once. */
        assert_int_equal(workqueue_done(q, "a", 0), 0);
        assert_int_equal(workqueue_len(q), 1);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(f.n_seen, 2);
        assert_int_equal(workqueue_done(q, "a", 0), 0);
        assert_int_equal(workqueue_done(q, "a", 0), -ENOENT);
        assert_true(workqueue_idle(q));
        workqueue_free(q);
}

static void test_sync_self_add(void **state _unused_) {
        Fixture f = { .self_add = 1 };
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 1, false, NULL);

        assert_int_equal(workqueue_add(q, "a"), 0);
        /* The add from inside the callback re-queues it behind its own processing. */
        assert_int_equal(workqueue_run(q), 2);
        assert_int_equal(f.n_seen, 2);
        assert_true(workqueue_idle(q));
        workqueue_free(q);
}

static void test_workers_limit(void **state _unused_) {
        Fixture f = { .result = WORKQUEUE_PENDING };
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 3, false, NULL);
        const char *keys[] = { "a", "b", "c", "d", "e" };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                assert_int_equal(workqueue_add(q, keys[i]), 0);
        assert_int_equal(workqueue_run(q), 3);
        assert_int_equal(workqueue_in_processing(q), 3);
        assert_int_equal(workqueue_len(q), 2);
        assert_int_equal(workqueue_done(q, "b", 0), 0);
        assert_int_equal(workqueue_run(q), 1);
        assert_string_equal(f.seen[3], "d");
        assert_int_equal(workqueue_in_processing(q), 3);
        workqueue_free(q);
}

static void test_delayed_earliest_wins(void **state _unused_) {
        static const struct {
                const char *op; /* "after" or "now" */
                usec_t delay;
                usec_t want_due;  /* relative to start; USEC_INFINITY = not delayed */
                size_t want_len;
        } steps[] = {
                { "after", 10 * USEC_PER_SEC, 10 * USEC_PER_SEC, 0 },
                { "after", 5 * USEC_PER_SEC, 5 * USEC_PER_SEC, 0 },   /* earlier wins */
                { "after", 20 * USEC_PER_SEC, 5 * USEC_PER_SEC, 0 },  /* later ignored */
                { "now", 0, USEC_INFINITY, 1 },                       /* now beats any delay */
                { "after", 1 * USEC_PER_SEC, USEC_INFINITY, 1 },      /* waiting key: no-op */
        };
        Fixture f = {};
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 1, false, NULL);
        usec_t start = f.now;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                if (streq(steps[i].op, "after"))
                        assert_int_equal(workqueue_add_after(q, "k", steps[i].delay), 0);
                else
                        assert_int_equal(workqueue_add(q, "k"), 0);
                usec_t due = workqueue_next_due(q);
                assert_int_equal(due == USEC_INFINITY ? USEC_INFINITY : due - start, steps[i].want_due);
                assert_int_equal(workqueue_len(q), steps[i].want_len);
        }
        assert_int_equal(workqueue_run(q), 1);
        assert_true(workqueue_idle(q));

        /* A delayed key becomes due exactly at its time. */
        assert_int_equal(workqueue_add_after(q, "k", 2 * USEC_PER_SEC), 0);
        f.now += 2 * USEC_PER_SEC - 1;
        assert_int_equal(workqueue_run(q), 0);
        f.now += 1;
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(f.n_seen, 2);
        workqueue_free(q);
}

/* Runs the failing key each time it becomes due; returns the delays seen. */
static size_t run_until_idle(Fixture *f, WorkQueue *q, usec_t *delays, size_t max) {
        size_t n = 0;
        (void) workqueue_run(q);
        while (!workqueue_idle(q) && n < max) {
                usec_t due = workqueue_next_due(q);
                assert_true(due != USEC_INFINITY);
                delays[n++] = due - f->now;
                f->now = due;
                (void) workqueue_run(q);
        }
        return n;
}

static void test_retries_then_drop(void **state _unused_) {
        Fixture f = { .result = -EIO };
        WorkQueue *q = make_queue(&f, 5 * USEC_PER_MSEC, 1, false, NULL);
        usec_t delays[32];
        size_t n;

        assert_int_equal(workqueue_add(q, "ns/svc"), 0);
        n = run_until_idle(&f, q, delays, ELEMENTSOF(delays));
        /* 15 requeues: 5 ms, 10 ms, ... 81.92 s; the 16th failure drops the key. */
        assert_int_equal(n, 15);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(delays[i], (5 * USEC_PER_MSEC) << i);
        assert_int_equal(f.n_seen, 16);
        assert_int_equal(f.n_dropped, 1);
        assert_string_equal(f.dropped[0], "ns/svc");
        assert_int_equal(workqueue_num_requeues(q, "ns/svc"), 0);

        /* A later event starts from zero. */
        assert_int_equal(workqueue_add(q, "ns/svc"), 0);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(workqueue_num_requeues(q, "ns/svc"), 1);
        assert_int_equal(workqueue_next_due(q) - f.now, 5 * USEC_PER_MSEC);
        workqueue_free(q);
}

static void test_slice_backoff_caps(void **state _unused_) {
        Fixture f = { .result = -EIO };
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 1, false, NULL);
        usec_t delays[32];
        size_t n;

        assert_int_equal(workqueue_add(q, "k"), 0);
        n = run_until_idle(&f, q, delays, ELEMENTSOF(delays));
        assert_int_equal(n, 15);
        assert_int_equal(delays[9], 512 * USEC_PER_SEC);
        for (size_t i = 10; i < n; i++)
                assert_int_equal(delays[i], 1000 * USEC_PER_SEC);
        workqueue_free(q);
}

static void test_forget_on_success(void **state _unused_) {
        Fixture f = { .result = -EIO };
        WorkQueue *q = make_queue(&f, USEC_PER_SEC, 1, false, NULL);

        assert_int_equal(workqueue_add(q, "k"), 0);
        assert_int_equal(workqueue_run(q), 1);
        f.now = workqueue_next_due(q);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(workqueue_num_requeues(q, "k"), 2);
        f.result = 0;
        f.now = workqueue_next_due(q);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(workqueue_num_requeues(q, "k"), 0);
        assert_true(workqueue_idle(q));
        /* Next failure starts at the base again. */
        f.result = -EIO;
        assert_int_equal(workqueue_add(q, "k"), 0);
        assert_int_equal(workqueue_run(q), 1);
        assert_int_equal(workqueue_next_due(q) - f.now, USEC_PER_SEC);
        workqueue_free(q);
}

static void test_global_bucket(void **state _unused_) {
        Fixture f = { .result = -EIO };
        WorkQueue *q = make_queue(&f, 1 * USEC_PER_MSEC, 200, false, NULL);
        char key[16];

        /* 105 keys fail at the same instant: the first 100 ride the burst
         * (per-key 1 ms wins), then 10 per second: 100 ms, 200 ms, ... */
        for (int i = 0; i < 105; i++) {
                snprintf(key, sizeof(key), "k%03d", i);
                assert_int_equal(workqueue_add(q, key), 0);
        }
        assert_int_equal(workqueue_run(q), 105);
        assert_int_equal(workqueue_delayed(q), 105);
        /* Drain the heap in due order to read each key's delay. */
        usec_t start = f.now, last = 0;
        size_t n = 0, at_1ms = 0;
        f.result = 0;
        while (workqueue_delayed(q) > 0) {
                usec_t due = workqueue_next_due(q) - start;
                assert_true(due >= last);
                last = due;
                f.now = start + due;
                int k = workqueue_run(q);
                if (due == USEC_PER_MSEC)
                        at_1ms += (size_t) k;
                n += (size_t) k;
        }
        assert_int_equal(n, 105);
        assert_int_equal(at_1ms, 100);
        assert_int_equal(last, 500 * USEC_PER_MSEC);
        workqueue_free(q);
}

static void test_virtual_time(void **state _unused_) {
        Fixture f = { .result = -EIO };
        WorkQueue *q = make_queue(&f, 5 * USEC_PER_MSEC, 5, true, NULL);
        usec_t start = workqueue_now(q);

        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_add_after(q, "b", 30 * USEC_PER_SEC), 0);
        f.result = -EIO;
        /* One call runs to idle without sleeping: a's 15 retries and b. */
        assert_int_equal(workqueue_run(q), 16 + 16);
        assert_true(workqueue_idle(q));
        assert_int_equal(f.n_dropped, 2);
        /* a's delays sum to 5 ms × (2^15 − 1); b's chain started at 30 s. */
        assert_true(workqueue_now(q) - start >= 30 * USEC_PER_SEC + 5 * USEC_PER_MSEC * 32767);
        workqueue_free(q);
}

/* ---- on a real sd-event loop --------------------------------------------- */

typedef struct LoopFixture {
        sd_event *event;
        int calls;
        usec_t first;
} LoopFixture;

static int loop_process(WorkQueue *q _unused_, const char *key _unused_, void *userdata) {
        LoopFixture *l = userdata;
        uint64_t now;
        assert_int_equal(sd_event_now(l->event, CLOCK_MONOTONIC, &now), 0);
        if (l->calls++ == 0) {
                l->first = now;
                return -EAGAIN; /* retried after 20 ms */
        }
        assert_true(now - l->first >= 20 * USEC_PER_MSEC);
        sd_event_exit(l->event, 0);
        return 0;
}

static void test_sd_event_driven(void **state _unused_) {
        LoopFixture l = {};
        WorkQueueOptions o = { .name = "loop", .base_delay = 20 * USEC_PER_MSEC, .process = loop_process,
                               .userdata = &l };
        WorkQueue *q = NULL;

        assert_int_equal(sd_event_new(&l.event), 0);
        assert_int_equal(workqueue_new(l.event, &o, &q), 0);
        assert_int_equal(workqueue_add(q, "x"), 0);
        assert_int_equal(sd_event_loop(l.event), 0);
        assert_int_equal(l.calls, 2);
        assert_true(workqueue_idle(q));
        workqueue_free(q);
        sd_event_unref(l.event);
}

/* ---- metrics ------------------------------------------------------------- */

static void test_metrics(void **state _unused_) {
        Fixture f = { .result = WORKQUEUE_PENDING };
        MetricsRegistry *m = NULL;
        WorkQueue *q, *q2 = NULL;
        WorkQueueOptions o2 = { .name = "other", .process = record, .userdata = &f };
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_registry_new(&m), 0);
        q = make_queue(&f, USEC_PER_SEC, 1, false, m);
        o2.metrics = m;
        assert_int_equal(workqueue_new(NULL, &o2, &q2), 0);

        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_add(q, "a"), 0);
        assert_int_equal(workqueue_add(q, "b"), 0);
        f.now += 2 * USEC_PER_SEC;
        assert_int_equal(workqueue_run(q), 1);    /* a in processing for ... */
        f.now += 3 * USEC_PER_SEC;                /* ... 3 s so far */
        assert_int_equal(metrics_render(m, &text, NULL), 0);
        assert_non_null(strstr(text, "workqueue_adds_total{name=\"test\"} 2\n"));
        assert_non_null(strstr(text, "workqueue_adds_total{name=\"other\"} 0\n"));
        assert_non_null(strstr(text, "workqueue_depth{name=\"test\"} 1\n"));
        assert_non_null(strstr(text, "workqueue_unfinished_work_seconds{name=\"test\"} 3\n"));
        assert_non_null(strstr(text, "workqueue_longest_running_processor_seconds{name=\"test\"} 3\n"));
        assert_non_null(strstr(text, "workqueue_queue_duration_seconds_bucket{name=\"test\",le=\"10\"} 1\n"));
        assert_non_null(strstr(text, "workqueue_queue_duration_seconds_sum{name=\"test\"} 2\n"));
        assert_int_equal(workqueue_done(q, "a", -EIO), 0);
        free(text);
        text = NULL;
        assert_int_equal(metrics_render(m, &text, NULL), 0);
        assert_non_null(strstr(text, "workqueue_retries_total{name=\"test\"} 1\n"));
        assert_non_null(strstr(text, "workqueue_work_duration_seconds_count{name=\"test\"} 1\n"));

        /* A freed queue leaves no series behind; the other keeps its own. */
        workqueue_free(q);
        free(text);
        text = NULL;
        assert_int_equal(metrics_render(m, &text, NULL), 0);
        assert_null(strstr(text, "name=\"test\""));
        assert_non_null(strstr(text, "workqueue_depth{name=\"other\"} 0\n"));
        workqueue_free(q2);
        metrics_registry_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_table),
                cmocka_unit_test(test_dedup_waiting),
                cmocka_unit_test(test_processing_never_twice),
                cmocka_unit_test(test_sync_self_add),
                cmocka_unit_test(test_workers_limit),
                cmocka_unit_test(test_delayed_earliest_wins),
                cmocka_unit_test(test_retries_then_drop),
                cmocka_unit_test(test_slice_backoff_caps),
                cmocka_unit_test(test_forget_on_success),
                cmocka_unit_test(test_global_bucket),
                cmocka_unit_test(test_virtual_time),
                cmocka_unit_test(test_sd_event_driven),
                cmocka_unit_test(test_metrics),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
