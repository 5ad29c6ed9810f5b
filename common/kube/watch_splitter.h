/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Splits a watch response body into events.  The API server writes one
 * JSON object per line (JSON strings cannot hold a raw newline, so the
 * newline is an unambiguous frame boundary); HTTP delivers the body in
 * chunks that cut events anywhere.
 *
 * The splitter is pull-style so that the caller decides after every event
 * whether to go on (a handler may stop the watch):
 *
 *     watch_splitter_feed(s, chunk, len);
 *     while ((r = watch_splitter_next(s, &line, &n)) > 0)
 *             handle(line, n);
 *
 * Complete lines inside a chunk are returned in place (no copy); only the
 * cut tail of a chunk is buffered, and never beyond max_event bytes: an
 * event that grows past the cap is -E2BIG, a stream that ends inside an
 * event is -EPIPE.  After an error the splitter keeps failing until
 * watch_splitter_reset(); the caller restarts its watch. */

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

#define WATCH_EVENT_MAX_DEFAULT ((size_t) 16 * 1024 * 1024)

typedef struct WatchSplitter WatchSplitter;

/* max_event 0 = WATCH_EVENT_MAX_DEFAULT. */
int watch_splitter_new(size_t max_event, WatchSplitter **ret);
WatchSplitter *watch_splitter_free(WatchSplitter *s);
DEFINE_POINTER_CLEANUP(WatchSplitter, watch_splitter_free);

/* Hands the splitter the next chunk.  data must stay valid until
 * watch_splitter_next() returned 0 (or an error); -EBUSY when the previous
 * chunk was not fully consumed. */
int watch_splitter_feed(WatchSplitter *s, const char *data, size_t len);

/* 1 and the next event (without its line end; never empty; not
 * NUL-terminated; valid until the next call), 0 when the chunk is used up,
 * -E2BIG when an event exceeds max_event, -ENOMEM. */
int watch_splitter_next(WatchSplitter *s, const char **ret_line, size_t *ret_len);

/* The stream ended: 0 when it ended on an event boundary, -EPIPE when a
 * partial event is left (the stream was cut), or the sticky error. */
int watch_splitter_finish(const WatchSplitter *s);

/* Forgets buffered bytes and errors, for the next stream. */
void watch_splitter_reset(WatchSplitter *s);

/* Bytes of an incomplete event held back (tests, debugging). */
size_t watch_splitter_pending(const WatchSplitter *s);

/* metadata.managedFields is often half of an object's JSON and berth never
 * reads it; parsing it dominates the cost of a watch event.  Copies the
 * JSON text src[0..len) into dst (room for len bytes) without the
 * "managedFields" members of objects that are the value of a "metadata"
 * key; with first_only, stops after the first "metadata" object (a watch
 * event holds one).  Returns the new length, or 0 when nothing was removed
 * (also for malformed input: the parser then reports it on the original). */
size_t kube_json_strip_managed_fields(const char *src, size_t len, bool first_only, char *dst);
