/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queue.h"

typedef struct Item {
        char *key;
        uint64_t hash;
        struct Item *hnext;          /* hash chain */
        struct Item *prev, *next;    /* FIFO of keys handed out next */
        bool queued;                 /* in the FIFO */
        bool dirty;                  /* added and not yet handed out */
        bool processing;
        bool pinned;                 /* inside its process callback: not freed */
        usec_t due;                  /* delayed add; USEC_INFINITY = none */
        size_t heap_idx;
        unsigned failures;
        usec_t add_time;             /* when it became dirty (queue duration) */
        usec_t start_time;           /* when handed out (work duration) */
} Item;

struct WorkQueue {
        WorkQueueOptions opts;
        char *name;
        sd_event *event;
        sd_event_source *defer;
        sd_event_source *timer;

        Item **buckets;
        size_t n_buckets, n_items;

        Item *head, *tail;           /* FIFO */
        size_t n_queued, n_processing, n_dirty;

        Item **heap;                 /* delayed keys, min-heap by due */
        size_t n_heap, cap_heap;

        double tokens;
        usec_t tokens_time;
        bool tokens_init;

        usec_t virtual_now;
        bool running;                /* inside workqueue_run(): no reentry */

        MetricFamily *m_adds, *m_depth, *m_retries, *m_queue_duration, *m_work_duration, *m_unfinished,
                *m_longest;
};

/* ---- clock --------------------------------------------------------------- */

usec_t workqueue_now(WorkQueue *q) {
        struct timespec ts;
        uint64_t t;

        if (q->opts.virtual_time)
                return q->virtual_now;
        if (q->opts.now)
                return q->opts.now(q->opts.now_userdata);
        if (q->event && sd_event_now(q->event, CLOCK_MONOTONIC, &t) >= 0)
                return t;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static double usec_to_seconds(usec_t u) {
        return (double) u / (double) USEC_PER_SEC;
}

/* ---- hash table ---------------------------------------------------------- */

static uint64_t key_hash(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static Item *item_find(WorkQueue *q, const char *key) {
        uint64_t h;

        if (q->n_buckets == 0)
                return NULL;
        h = key_hash(key);
        for (Item *i = q->buckets[h & (q->n_buckets - 1)]; i; i = i->hnext)
                if (i->hash == h && streq(i->key, key))
                        return i;
        return NULL;
}

static int table_grow(WorkQueue *q) {
        size_t n = q->n_buckets ? q->n_buckets * 2 : 64;
        Item **b = new0(Item *, n);
        if (!b)
                return -ENOMEM;
        for (size_t k = 0; k < q->n_buckets; k++)
                for (Item *i = q->buckets[k], *next; i; i = next) {
                        next = i->hnext;
                        i->hnext = b[i->hash & (n - 1)];
                        b[i->hash & (n - 1)] = i;
                }
        free(q->buckets);
        q->buckets = b;
        q->n_buckets = n;
        return 0;
}

static int item_get(WorkQueue *q, const char *key, Item **ret) {
        Item *i;
        size_t len;

        if (!key)
                return -EINVAL;
        len = strlen(key);
        if (len == 0)
                return -EINVAL;
        if (len > WORKQUEUE_MAX_KEY)
                return -E2BIG;
        i = item_find(q, key);
        if (i) {
                *ret = i;
                return 0;
        }
        if (q->n_items >= q->n_buckets && table_grow(q) < 0)
                return -ENOMEM;
        i = new0(Item, 1);
        if (!i)
                return -ENOMEM;
        i->key = strdup(key);
        if (!i->key) {
                free(i);
                return -ENOMEM;
        }
        i->hash = key_hash(key);
        i->due = USEC_INFINITY;
        i->hnext = q->buckets[i->hash & (q->n_buckets - 1)];
        q->buckets[i->hash & (q->n_buckets - 1)] = i;
        q->n_items++;
        *ret = i;
        return 0;
}

/* An item lives while it is waiting, delayed, in processing, or remembers failures. */
static void item_maybe_free(WorkQueue *q, Item *i) {
        if (i->dirty || i->processing || i->pinned || i->due != USEC_INFINITY || i->failures > 0)
                return;
        for (Item **p = &q->buckets[i->hash & (q->n_buckets - 1)]; *p; p = &(*p)->hnext)
                if (*p == i) {
                        *p = i->hnext;
                        break;
                }
        q->n_items--;
        free(i->key);
        free(i);
}

/* ---- FIFO and heap ------------------------------------------------------- */

static void fifo_push(WorkQueue *q, Item *i) {
        i->next = NULL;
        i->prev = q->tail;
        if (q->tail)
                q->tail->next = i;
        else
                q->head = i;
        q->tail = i;
        i->queued = true;
        q->n_queued++;
}

static Item *fifo_pop(WorkQueue *q) {
        Item *i = q->head;
        if (!i)
                return NULL;
        q->head = i->next;
        if (q->head)
                q->head->prev = NULL;
        else
                q->tail = NULL;
        i->next = i->prev = NULL;
        i->queued = false;
        q->n_queued--;
        return i;
}

static void heap_swap(WorkQueue *q, size_t a, size_t b) {
        Item *t = q->heap[a];
        q->heap[a] = q->heap[b];
        q->heap[b] = t;
        q->heap[a]->heap_idx = a;
        q->heap[b]->heap_idx = b;
}

static void heap_up(WorkQueue *q, size_t k) {
        while (k > 0 && q->heap[(k - 1) / 2]->due > q->heap[k]->due) {
                heap_swap(q, k, (k - 1) / 2);
                k = (k - 1) / 2;
        }
}

static void heap_down(WorkQueue *q, size_t k) {
        for (;;) {
                size_t l = 2 * k + 1, r = l + 1, m = k;
                if (l < q->n_heap && q->heap[l]->due < q->heap[m]->due)
                        m = l;
                if (r < q->n_heap && q->heap[r]->due < q->heap[m]->due)
                        m = r;
                if (m == k)
                        return;
                heap_swap(q, k, m);
                k = m;
        }
}

static int heap_insert(WorkQueue *q, Item *i) {
        if (!GREEDY_REALLOC(q->heap, q->cap_heap, q->n_heap + 1, 16))
                return -ENOMEM;
        i->heap_idx = q->n_heap;
        q->heap[q->n_heap++] = i;
        heap_up(q, i->heap_idx);
        return 0;
}

static void heap_remove(WorkQueue *q, Item *i) {
        size_t k = i->heap_idx;

        if (i->due == USEC_INFINITY)
                return;
        i->due = USEC_INFINITY;
        q->n_heap--;
        if (k != q->n_heap) {
                q->heap[k] = q->heap[q->n_heap];
                q->heap[k]->heap_idx = k;
                heap_down(q, k);
                heap_up(q, k);
        }
}

/* ---- scheduling on the loop ---------------------------------------------- */

static bool can_hand_out(WorkQueue *q) {
        if (q->n_queued > 0 && q->n_processing < q->opts.workers)
                return true;
        /* Virtual time jumps only when nothing else can happen first. */
        return q->opts.virtual_time && q->n_queued == 0 && q->n_processing == 0 && q->n_heap > 0;
}

static void schedule(WorkQueue *q) {
        if (!q->event)
                return;
        if (can_hand_out(q))
                (void) sd_event_source_set_enabled(q->defer, SD_EVENT_ONESHOT);
        if (q->opts.virtual_time)
                return;
        if (q->n_heap == 0) {
                (void) sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(q->timer, q->heap[0]->due);
        (void) sd_event_source_set_enabled(q->timer, SD_EVENT_ONESHOT);
}

static int on_defer(sd_event_source *s _unused_, void *userdata) {
        (void) workqueue_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        (void) workqueue_run(userdata);
        return 0;
}

/* ---- metrics ------------------------------------------------------------- */

static void queue_collect(MetricsRegistry *r _unused_, void *userdata) {
        WorkQueue *q = userdata;
        usec_t now = workqueue_now(q), total = 0, longest = 0;

        for (size_t k = 0; k < q->n_buckets; k++)
                for (Item *i = q->buckets[k]; i; i = i->hnext)
                        if (i->processing && now > i->start_time) {
                                total += now - i->start_time;
                                if (now - i->start_time > longest)
                                        longest = now - i->start_time;
                        }
        (void) metric_set(q->m_unfinished, METRIC_LABELS(q->name), usec_to_seconds(total));
        (void) metric_set(q->m_longest, METRIC_LABELS(q->name), usec_to_seconds(longest));
}

static int metrics_setup(WorkQueue *q) {
        static const char *const labels[] = { "name", NULL };
        MetricsRegistry *m = q->opts.metrics;
        double buckets[10];
        int r;

        /* 10 ns .. 10 s, as upstream's workqueue histograms. */
        metrics_exponential_buckets(1e-8, 10, ELEMENTSOF(buckets), buckets);
        if ((r = metrics_counter(m, "workqueue_adds_total", "Keys added to the work queue.", labels, &q->m_adds)) < 0 ||
            (r = metrics_gauge(m, "workqueue_depth", "Keys waiting in the work queue.", labels, &q->m_depth)) < 0 ||
            (r = metrics_counter(m, "workqueue_retries_total", "Rate-limited re-adds after a failed sync.", labels,
                                 &q->m_retries)) < 0 ||
            (r = metrics_histogram(m, "workqueue_queue_duration_seconds",
                                   "Seconds a key waits in the work queue before it is handed out.", labels,
                                   buckets, ELEMENTSOF(buckets), &q->m_queue_duration)) < 0 ||
            (r = metrics_histogram(m, "workqueue_work_duration_seconds", "Seconds one sync of a key takes.",
                                   labels, buckets, ELEMENTSOF(buckets), &q->m_work_duration)) < 0 ||
            (r = metrics_gauge(m, "workqueue_unfinished_work_seconds",
                               "Seconds spent so far by syncs still in progress; growth means stuck syncs.",
                               labels, &q->m_unfinished)) < 0 ||
            (r = metrics_gauge(m, "workqueue_longest_running_processor_seconds",
                               "Seconds the longest sync in progress has been running.", labels, &q->m_longest)) < 0)
                return r;
        (void) metric_add(q->m_adds, METRIC_LABELS(q->name), 0);
        (void) metric_add(q->m_retries, METRIC_LABELS(q->name), 0);
        (void) metric_set(q->m_depth, METRIC_LABELS(q->name), 0);
        return metrics_add_collector(m, queue_collect, q);
}

static void depth_update(WorkQueue *q) {
        if (q->m_depth)
                (void) metric_set(q->m_depth, METRIC_LABELS(q->name), (double) q->n_dirty);
}

/* ---- life cycle ---------------------------------------------------------- */

int workqueue_new(sd_event *event, const WorkQueueOptions *opts, WorkQueue **ret) {
        _cleanup_(workqueue_freep) WorkQueue *q = NULL;
        int r;

        if (!opts || !opts->process || isempty(opts->name))
                return -EINVAL;
        q = new0(WorkQueue, 1);
        if (!q)
                return -ENOMEM;
        q->opts = *opts;
        q->name = strdup(opts->name);
        if (!q->name)
                return -ENOMEM;
        q->opts.name = q->name;
        if (q->opts.base_delay == 0)
                q->opts.base_delay = 5 * USEC_PER_MSEC;
        if (q->opts.max_delay == 0)
                q->opts.max_delay = WORKQUEUE_DEFAULT_MAX_DELAY;
        if (!(q->opts.bucket_qps > 0))
                q->opts.bucket_qps = 10;
        if (q->opts.bucket_burst == 0)
                q->opts.bucket_burst = 100;
        if (q->opts.max_retries == 0)
                q->opts.max_retries = WORKQUEUE_DEFAULT_MAX_RETRIES;
        if (q->opts.workers == 0)
                q->opts.workers = 1;

        if (event) {
                q->event = sd_event_ref(event);
                r = sd_event_add_defer(event, &q->defer, on_defer, q);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(q->defer, SD_EVENT_OFF);
                (void) sd_event_source_set_description(q->defer, "workqueue-defer");
                r = sd_event_add_time(event, &q->timer, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, on_timer, q);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
                (void) sd_event_source_set_description(q->timer, "workqueue-timer");
        }
        if (q->opts.metrics) {
                r = metrics_setup(q);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(q);
        return 0;
}

WorkQueue *workqueue_free(WorkQueue *q) {
        if (!q)
                return NULL;
        if (q->opts.metrics) {
                MetricFamily *fams[] = { q->m_adds, q->m_depth, q->m_retries, q->m_queue_duration,
                                         q->m_work_duration, q->m_unfinished, q->m_longest };
                metrics_remove_collector(q->opts.metrics, queue_collect, q);
                for (size_t k = 0; k < ELEMENTSOF(fams); k++)
                        (void) metric_remove(fams[k], METRIC_LABELS(q->name));
        }
        for (size_t k = 0; k < q->n_buckets; k++)
                for (Item *i = q->buckets[k], *next; i; i = next) {
                        next = i->hnext;
                        free(i->key);
                        free(i);
                }
        free(q->buckets);
        free(q->heap);
        sd_event_source_disable_unref(q->defer);
        sd_event_source_disable_unref(q->timer);
        sd_event_unref(q->event);
        free(q->name);
        free(q);
        return NULL;
}

/* ---- adds ---------------------------------------------------------------- */

static void item_add_now(WorkQueue *q, Item *i, usec_t now) {
        /* An immediate add is earlier than any delayed one. */
        heap_remove(q, i);
        if (i->dirty)
                return;
        i->dirty = true;
        i->add_time = now;
        q->n_dirty++;
        if (q->m_adds)
                (void) metric_inc(q->m_adds, METRIC_LABELS(q->name));
        depth_update(q);
        if (!i->processing)
                fifo_push(q, i);
}

int workqueue_add(WorkQueue *q, const char *key) {
        Item *i;
        int r;

        r = item_get(q, key, &i);
        if (r < 0)
                return r;
        item_add_now(q, i, workqueue_now(q));
        schedule(q);
        return 0;
}

int workqueue_add_after(WorkQueue *q, const char *key, usec_t delay) {
        usec_t now, due;
        Item *i;
        int r;

        if (delay == 0)
                return workqueue_add(q, key);
        r = item_get(q, key, &i);
        if (r < 0)
                return r;
        /* Waiting already (or re-queued behind its own processing): that is
         * earlier than any delay. */
        if (i->dirty)
                return 0;
        now = workqueue_now(q);
        due = delay >= USEC_INFINITY - now ? USEC_INFINITY - 1 : now + delay;
        if (i->due != USEC_INFINITY) {
                if (due < i->due) {
                        i->due = due;
                        heap_up(q, i->heap_idx);
                }
        } else {
                i->due = due;
                r = heap_insert(q, i);
                if (r < 0) {
                        i->due = USEC_INFINITY;
                        item_maybe_free(q, i);
                        return r;
                }
        }
        schedule(q);
        return 0;
}

usec_t workqueue_backoff(usec_t base, usec_t cap, unsigned failures) {
        usec_t d = base;
        for (unsigned k = 0; k < failures; k++) {
                if (d >= cap)
                        break;
                d *= 2;
        }
        return d < cap ? d : cap;
}

/* Reserves one token from the global bucket; returns how long until it is
 * available (golang.org/x/time/rate semantics: tokens may go negative). */
static usec_t bucket_reserve(WorkQueue *q, usec_t now) {
        double burst = q->opts.bucket_burst;

        if (!q->tokens_init) {
                q->tokens = burst;
                q->tokens_time = now;
                q->tokens_init = true;
        }
        if (now > q->tokens_time) {
                q->tokens += usec_to_seconds(now - q->tokens_time) * q->opts.bucket_qps;
                if (q->tokens > burst)
                        q->tokens = burst;
                q->tokens_time = now;
        }
        q->tokens -= 1;
        if (q->tokens >= 0)
                return 0;
        return (usec_t) ceil(-q->tokens / q->opts.bucket_qps * (double) USEC_PER_SEC);
}

int workqueue_add_rate_limited(WorkQueue *q, const char *key) {
        usec_t per_key, bucket;
        Item *i;
        int r;

        r = item_get(q, key, &i);
        if (r < 0)
                return r;
        per_key = workqueue_backoff(q->opts.base_delay, q->opts.max_delay, i->failures);
        i->failures++;
        bucket = bucket_reserve(q, workqueue_now(q));
        if (q->m_retries)
                (void) metric_inc(q->m_retries, METRIC_LABELS(q->name));
        return workqueue_add_after(q, key, per_key > bucket ? per_key : bucket);
}

void workqueue_forget(WorkQueue *q, const char *key) {
        Item *i = item_find(q, key);
        if (!i)
                return;
        i->failures = 0;
        item_maybe_free(q, i);
}

unsigned workqueue_num_requeues(WorkQueue *q, const char *key) {
        Item *i = item_find(q, key);
        return i ? i->failures : 0;
}

int workqueue_done(WorkQueue *q, const char *key, int error) {
        Item *i = item_find(q, key);
        usec_t now;

        if (!i || !i->processing)
                return -ENOENT;
        now = workqueue_now(q);
        i->processing = false;
        q->n_processing--;
        if (q->m_work_duration)
                (void) metric_observe(q->m_work_duration, METRIC_LABELS(q->name),
                                      usec_to_seconds(now > i->start_time ? now - i->start_time : 0));

        if (error >= 0)
                i->failures = 0;
        else if (i->failures < q->opts.max_retries)
                (void) workqueue_add_rate_limited(q, key);
        else {
                if (q->opts.on_drop)
                        q->opts.on_drop(q, key, error, q->opts.userdata);
                else
                        log_warning_errno(error, "Dropping %s from the %s queue after %u retries: %s", key,
                                          q->name, q->opts.max_retries, strerror(-error));
                i->failures = 0;
        }

        /* Added again while it was processed: its turn comes now. */
        if (i->dirty && !i->queued)
                fifo_push(q, i);
        item_maybe_free(q, i);
        schedule(q);
        return 0;
}

/* ---- handing out --------------------------------------------------------- */

static void promote_due(WorkQueue *q, usec_t now) {
        while (q->n_heap > 0 && q->heap[0]->due <= now) {
                Item *i = q->heap[0];
                heap_remove(q, i);
                item_add_now(q, i, now);
        }
}

int workqueue_run(WorkQueue *q) {
        int n = 0;

        if (q->running)
                return 0;
        q->running = true;
        for (;;) {
                usec_t now = workqueue_now(q);
                Item *i;
                int r;

                promote_due(q, now);
                if (q->opts.virtual_time && q->n_queued == 0 && q->n_processing == 0 && q->n_heap > 0) {
                        q->virtual_now = q->heap[0]->due;
                        continue;
                }
                if (q->n_processing >= q->opts.workers || !(i = fifo_pop(q)))
                        break;

                i->dirty = false;
                q->n_dirty--;
                depth_update(q);
                i->processing = true;
                q->n_processing++;
                i->start_time = now;
                if (q->m_queue_duration)
                        (void) metric_observe(q->m_queue_duration, METRIC_LABELS(q->name),
                                              usec_to_seconds(now > i->add_time ? now - i->add_time : 0));
                n++;

                i->pinned = true;
                r = q->opts.process(q, i->key, q->opts.userdata);
                i->pinned = false;
                if (r != WORKQUEUE_PENDING)
                        (void) workqueue_done(q, i->key, r > 0 ? 0 : r);
                else
                        item_maybe_free(q, i);
        }
        q->running = false;
        schedule(q);
        return n;
}

/* ---- inspection ---------------------------------------------------------- */

usec_t workqueue_next_due(WorkQueue *q) {
        return q->n_heap > 0 ? q->heap[0]->due : USEC_INFINITY;
}

size_t workqueue_len(WorkQueue *q) {
        return q->n_queued;
}

size_t workqueue_in_processing(WorkQueue *q) {
        return q->n_processing;
}

size_t workqueue_delayed(WorkQueue *q) {
        return q->n_heap;
}

bool workqueue_idle(WorkQueue *q) {
        return q->n_queued == 0 && q->n_processing == 0 && q->n_heap == 0 && q->n_dirty == 0;
}

const char *workqueue_name(WorkQueue *q) {
        return q->name;
}
