/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The controllers' work queue (endpoints.md §8.3; client-go's rate-limited
 * delaying queue, single-threaded):
 *
 * - a key waiting in the queue is held once, however often it is added;
 * - a key being processed is never handed out again until it is done; an
 *   add during processing queues it again for after;
 * - a delayed add keeps the earliest due time of all pending adds of a key;
 *   an immediate add of a delayed key makes it wait now;
 * - failure → re-add after max(per-key delay, global bucket delay), where
 *   per-key delay = base × 2^(failures so far), capped (1000 s), and the
 *   global token bucket holds 10 tokens/s with a burst of 100;
 * - after max_retries (15) requeues the next failure drops the key (logged);
 *   success forgets the key's failure count;
 * - "workers" = how many keys may be in processing at once; a process
 *   callback may finish synchronously or later (asynchronous syncs).
 *
 * Driving:
 * - with an sd_event: a defer source hands keys out, one CLOCK_MONOTONIC
 *   timer fires at the earliest due time (no timer while nothing is delayed);
 * - virtual time (offline --once): nothing sleeps; when no key is waiting
 *   and none is in processing, the queue's clock jumps to the next due time;
 * - no sd_event (unit tests): the caller steps it with workqueue_run() and
 *   supplies the clock through WorkQueueOptions.now.
 *
 * Metrics (upstream names, label name=<queue name>): workqueue_adds_total,
 * workqueue_depth, workqueue_retries_total, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_unfinished_work_seconds,
 * workqueue_longest_running_processor_seconds (the last two computed at
 * scrape time, so no periodic timer). */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "macros.h"
#include "metrics.h"
#include "timeutil.h"

typedef struct WorkQueue WorkQueue;

/* Returned by a process callback that finishes later through workqueue_done(). */
#define WORKQUEUE_PENDING 1

/* Called with the key handed out.  Return 0 for success, < 0 for failure
 * (rate-limited retry), or WORKQUEUE_PENDING and call workqueue_done() later
 * (exactly once; the key stays "in processing" until then).  The callback
 * may add keys (the same key too) and may call workqueue_done() itself. */
typedef int (*workqueue_process_fn)(WorkQueue *q, const char *key, void *userdata);
/* Called when a key is dropped after max_retries; error is the last failure. */
typedef void (*workqueue_drop_fn)(WorkQueue *q, const char *key, int error, void *userdata);
typedef usec_t (*workqueue_clock_fn)(void *userdata);

typedef struct WorkQueueOptions {
        const char *name;           /* metrics label and log context: "endpoint" */
        usec_t base_delay;          /* per-key backoff base; 0 = 5 ms */
        usec_t max_delay;           /* per-key cap; 0 = 1000 s */
        double bucket_qps;          /* 0 = 10 per second */
        unsigned bucket_burst;      /* 0 = 100 */
        unsigned max_retries;       /* 0 = 15 */
        unsigned workers;           /* keys in processing at once; 0 = 1 */
        bool virtual_time;          /* offline --once: delays advance a virtual clock */
        workqueue_process_fn process;
        workqueue_drop_fn on_drop;  /* NULL: the queue logs the drop at warning level */
        void *userdata;             /* for process and on_drop */
        MetricsRegistry *metrics;   /* NULL = no metrics */
        workqueue_clock_fn now;     /* tests without sd_event; NULL = CLOCK_MONOTONIC */
        void *now_userdata;
} WorkQueueOptions;

#define WORKQUEUE_DEFAULT_MAX_DELAY (1000 * USEC_PER_SEC)
#define WORKQUEUE_DEFAULT_MAX_RETRIES 15u
#define WORKQUEUE_MAX_KEY 1024      /* longer keys are refused with -E2BIG */

/* event may be NULL (stepped with workqueue_run()). */
int workqueue_new(sd_event *event, const WorkQueueOptions *opts, WorkQueue **ret);
/* Keys in processing are abandoned: a later workqueue_done() must not come. */
WorkQueue *workqueue_free(WorkQueue *q);
DEFINE_POINTER_CLEANUP(WorkQueue, workqueue_free);

int workqueue_add(WorkQueue *q, const char *key);
/* delay 0 = workqueue_add(). */
int workqueue_add_after(WorkQueue *q, const char *key, usec_t delay);
/* Re-adds after max(per-key backoff, bucket delay) and counts a retry;
 * what workqueue_done(q, key, <0) does while retries remain. */
int workqueue_add_rate_limited(WorkQueue *q, const char *key);
/* Resets the key's failure count. */
void workqueue_forget(WorkQueue *q, const char *key);
/* Ends processing of key: error >= 0 success (forget), < 0 failure (retry or
 * drop).  -ENOENT when key is not in processing. */
int workqueue_done(WorkQueue *q, const char *key, int error);

/* Hands out due keys to free workers; returns how many were handed out.
 * Only needed without an sd_event (the loop calls it otherwise). */
int workqueue_run(WorkQueue *q);

/* The queue's clock (virtual in virtual_time mode). */
usec_t workqueue_now(WorkQueue *q);
/* Earliest due time of a delayed key, USEC_INFINITY when none. */
usec_t workqueue_next_due(WorkQueue *q);
/* Keys waiting to be handed out now (due ones). */
size_t workqueue_len(WorkQueue *q);
size_t workqueue_in_processing(WorkQueue *q);
size_t workqueue_delayed(WorkQueue *q);
/* Failures recorded for key (client-go NumRequeues). */
unsigned workqueue_num_requeues(WorkQueue *q, const char *key);
/* Nothing waiting, delayed or in processing: offline --once may stop. */
bool workqueue_idle(WorkQueue *q);
const char *workqueue_name(WorkQueue *q);

/* Pure helpers (exported for tests). */
usec_t workqueue_backoff(usec_t base, usec_t cap, unsigned failures);
