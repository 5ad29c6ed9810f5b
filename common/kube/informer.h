/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* An informer keeps one Cache filled with the objects of one kind that
 * match one filter (design.md "watch", "informer"):
 *
 *   LIST  limit=500 + continue paging; a page body is capped (64 MiB) and a
 *         page that hits the cap is retried with half the limit;
 *   WATCH from the list's resourceVersion with allowWatchBookmarks=true and
 *         timeoutSeconds random in [min, 2*min) so a fleet of clients does
 *         not reconnect in lockstep; each event is capped (16 MiB);
 *   a stream that ends is resumed from the last resourceVersion seen
 *   (bookmarks advance it); 410 Gone, as an HTTP status or as an ERROR
 *   event, relists (cache_replace, which fires handlers for the
 *   difference only);
 *   failures (transport errors, 5xx, HTML answers, malformed or oversized
 *   events, cut streams) retry after an exponential back-off with jitter
 *   (800 ms doubling to 30 s, reset after a healthy period);
 *   a watch that delivers nothing, not even a bookmark, for idle_timeout is
 *   restarted.
 *
 * The library logs at debug only; the binary reads informer_last_error()
 * and the counters to say what is wrong.  Everything runs on the event
 * loop; informer_stop()/informer_free() are safe at any moment, including
 * from a cache handler that the informer is running. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "cache.h"
#include "http.h"
#include "object.h"
#include "source.h"
#include "timeutil.h"

typedef struct Informer Informer;

typedef struct InformerOptions {
        unsigned page_limit;       /* 0 = 500 */
        size_t max_page_bytes;     /* 0 = 64 MiB */
        size_t max_event_bytes;    /* 0 = 16 MiB */
        usec_t watch_timeout_min;  /* 0 = 5 min; timeoutSeconds is random in [min, 2*min) */
        usec_t idle_timeout;       /* 0 = 5 min; USEC_INFINITY disables the idle timer */
        usec_t backoff_initial;    /* 0 = 800 ms */
        usec_t backoff_max;        /* 0 = 30 s */
        usec_t backoff_reset;      /* 0 = 2 min without failure resets the back-off */
        uint64_t seed;             /* jitter and timeoutSeconds; 0 = from getrandom() */

        /* Called once, when the first complete list is in the cache. */
        void (*on_synced)(Informer *i, void *userdata);
        /* Called after each failure was recorded (last error set); the
         * binary may log it.  Optional. */
        void (*on_error)(Informer *i, int error, const char *message, void *userdata);
        void *userdata;
} InformerOptions;

typedef struct InformerStats {
        uint64_t events;          /* ADDED/MODIFIED/DELETED events applied */
        uint64_t bookmarks;
        uint64_t lists;           /* complete lists, the first included */
        uint64_t relists;         /* lists after the first (410, ...) */
        uint64_t list_pages;
        uint64_t page_shrinks;    /* a page hit the body cap: limit halved */
        uint64_t watches;         /* watch requests sent */
        uint64_t restarts;        /* watches restarted after a failure or idle */
        uint64_t idle_restarts;
        uint64_t errors;          /* failures of any kind */
        uint64_t decode_errors;   /* objects skipped because they did not decode */
} InformerStats;

/* filter may be NULL (everything); its strings are copied.  The cache
 * must be of kind; it is borrowed and must outlive the informer. */
int informer_new(sd_event *event, KubeClient *client, const KubeKind *kind, const SourceFilter *filter, Cache *cache,
                 const InformerOptions *opts, Informer **ret);
/* Starts listing; -EALREADY when running. */
int informer_start(Informer *i);
/* Cancels requests and timers; the cache keeps its content.  Idempotent. */
void informer_stop(Informer *i);
Informer *informer_free(Informer *i);
DEFINE_POINTER_CLEANUP(Informer, informer_free);

bool informer_synced(const Informer *i);
bool informer_running(const Informer *i);
const KubeKind *informer_kind(const Informer *i);
Cache *informer_cache(const Informer *i);
/* The resourceVersion the next watch resumes from, NULL before the first list. */
const char *informer_resource_version(const Informer *i);
/* The last failure ("watch /api/v1/pods: HTTP 500: <message>"), NULL if none yet. */
const char *informer_last_error(const Informer *i);
void informer_get_stats(const Informer *i, InformerStats *ret);
