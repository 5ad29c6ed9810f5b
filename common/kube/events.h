/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* events.k8s.io/v1 Event recorder (design.md "Events"), never one event per
 * reconcile:
 *
 * - The first occurrence of (regarding uid, reason, type, note, action)
 *   creates an Event named "<regarding name>.<16 hex>" (offline: the first
 *   16 hex of sha256("<reason>/<regarding uid>/<note>"), offline.md; online:
 *   random).
 * - Repeats within series_window of the previous occurrence are not new
 *   objects: they update the Event's series {count, lastObservedTime} with a
 *   merge PATCH — the second occurrence at once (count 2), later ones at
 *   most once per patch_interval per Event (a timer sends the last pending
 *   count; no timer runs while nothing is pending).
 * - A repeat after the window starts a new Event.
 * - At most max_entries Events are remembered (LRU); a forgotten one that
 *   recurs becomes a new Event.
 *
 * Writes go through a sink so the same recorder serves the API and the
 * offline source and unit tests need no server.  The sink reports the
 * outcome with event_recorder_write_result() (matched by name, so a late
 * answer for a forgotten Event is harmless).  The recorder must outlive the
 * sink's writes in flight: free the client/source (which cancels them
 * without answers) before the recorder. */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "macros.h"
#include "timeutil.h"

typedef struct EventRecorder EventRecorder;

/* The object an Event is about.  namespace NULL/"" for cluster-scoped
 * objects (the Event then lives in "default"). */
typedef struct EventObjectRef {
        const char *api_version;  /* "v1", "metallb.io/v1beta1" */
        const char *kind;
        const char *namespace;
        const char *name;
        const char *uid;
} EventObjectRef;

typedef struct EventWrite {
        const char *method;       /* "POST" (body: the Event) or "PATCH" (merge patch of series) */
        const char *namespace;    /* the Event's namespace */
        const char *name;         /* the Event's name */
        const char *body;         /* JSON */
} EventWrite;

/* Returns < 0 when the write could not even be queued (treated as failed). */
typedef int (*event_sink_fn)(EventRecorder *r, const EventWrite *w, void *userdata);
typedef usec_t (*event_clock_fn)(void *userdata);

typedef struct EventRecorderOptions {
        const char *reporting_controller;  /* "berth.io/lbipam-controller" */
        const char *reporting_instance;    /* holder identity, node name, or "offline" */
        bool deterministic_names;          /* offline */
        usec_t series_window;              /* 0 = 6 min */
        usec_t patch_interval;             /* 0 = 30 s */
        size_t max_entries;                /* 0 = 4096 */
        event_sink_fn sink;
        void *sink_userdata;
        /* Called by event_recorder_free() with sink_userdata: the sink must
         * not report results to this recorder any more (writes in flight). */
        void (*sink_detach)(void *sink_userdata);
        event_clock_fn now;                /* wall clock; NULL = CLOCK_REALTIME (offline: --now) */
        void *now_userdata;
        sd_event *event;                   /* for the patch timer; NULL = event_recorder_flush() by hand */
} EventRecorderOptions;

#define EVENT_NOTE_MAX 1024                /* the apiserver's limit; longer notes are cut */
#define EVENT_REASON_MAX 128
#define EVENT_ACTION_MAX 128

int event_recorder_new(const EventRecorderOptions *opts, EventRecorder **ret);
EventRecorder *event_recorder_free(EventRecorder *r);
DEFINE_POINTER_CLEANUP(EventRecorder, event_recorder_free);

/* type is "Normal" or "Warning".  Returns 1 when a new Event was written,
 * 0 when it joined a series, -EINVAL for a bad type/reason/action or a
 * regarding object without name, -ENOMEM. */
int event_recorder_emit(EventRecorder *r, const EventObjectRef *regarding, const char *type, const char *reason,
                        const char *action, const char *note);
int event_recorder_emitf(EventRecorder *r, const EventObjectRef *regarding, const char *type, const char *reason,
                         const char *action, const char *note_fmt, ...) _printf_(6, 7);

/* Outcome of a sink write: error 0 success; a failed POST forgets the Event
 * (the next occurrence creates it again); a PATCH that found no Event (404)
 * does the same. */
void event_recorder_write_result(EventRecorder *r, const char *namespace, const char *name, const char *method,
                                 int error, long http_code);

/* Sends every pending series update now (tests, shutdown). */
int event_recorder_flush(EventRecorder *r);
size_t event_recorder_size(const EventRecorder *r);

/* The deterministic name: "<regarding name>.<first 16 hex of sha256(reason/uid/note)>". */
int event_name_deterministic(const char *regarding_name, const char *reason, const char *uid, const char *note,
                             char **ret);
