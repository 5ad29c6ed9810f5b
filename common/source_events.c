/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "event.h"
#include "log.h"
#include "source_events.h"

/* The sink of one recorder.  Writes in flight outlive the recorder when a
 * controller stops first: event_recorder_free() detaches the sink, which
 * orphans them, and their completions then report to nobody. */
typedef struct PendingEventWrite PendingEventWrite;

typedef struct SourceEventSink {
        Source *source;
        EventRecorder *recorder;
        PendingEventWrite *pending; /* doubly linked */
} SourceEventSink;

struct PendingEventWrite {
        SourceEventSink *sink; /* NULL once orphaned */
        PendingEventWrite *prev, *next;
        char *namespace, *name;
        const char *method; /* static string */
};

static void pending_unlink_free(PendingEventWrite *p) {
        if (!p)
                return;
        if (p->sink) {
                if (p->prev)
                        p->prev->next = p->next;
                else
                        p->sink->pending = p->next;
                if (p->next)
                        p->next->prev = p->prev;
        }
        free(p->namespace);
        free(p->name);
        free(p);
}

static void on_event_written(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        PendingEventWrite *p = userdata;
        (void) stored;

        if (error < 0)
                log_debug_errno(error, "event %s/%s: %s failed: %s", p->namespace, p->name, p->method,
                                status && status->message ? status->message : "no answer");
        if (p->sink)
                event_recorder_write_result(p->sink->recorder, p->namespace, p->name, p->method, error,
                                            status ? status->http_code : 0);
        pending_unlink_free(p);
}

static int source_event_sink(EventRecorder *r, const EventWrite *w, void *userdata) {
        SourceEventSink *sink = userdata;
        PendingEventWrite *p = new0(PendingEventWrite, 1);
        int k;

        if (!p)
                return -ENOMEM;
        sink->recorder = r;
        p->method = streq(w->method, "POST") ? "POST" : "PATCH";
        p->namespace = strdup(w->namespace);
        p->name = strdup(w->name);
        if (!p->namespace || !p->name) {
                pending_unlink_free(p);
                return -ENOMEM;
        }
        p->sink = sink;
        p->next = sink->pending;
        if (sink->pending)
                sink->pending->prev = p;
        sink->pending = p;
        if (streq(p->method, "POST"))
                k = source_create(sink->source, &kube_kind_event, w->namespace, w->body, on_event_written, p);
        else
                k = source_merge_patch(sink->source, &kube_kind_event, w->namespace, w->name, NULL, w->body,
                                       on_event_written, p);
        if (k < 0)
                pending_unlink_free(p);
        return k;
}

static void source_event_sink_detach(void *userdata) {
        SourceEventSink *sink = userdata;
        for (PendingEventWrite *p = sink->pending; p; p = p->next)
                p->sink = NULL;
        free(sink);
}

static usec_t source_clock(void *userdata) {
        return source_now(userdata);
}

int source_event_recorder_new(Source *s, const SourceEventsOptions *opts, EventRecorder **ret) {
        SourceEventSink *sink = new0(SourceEventSink, 1);
        EventRecorder *r = NULL;
        int k;

        if (!sink)
                return -ENOMEM;
        sink->source = s;
        EventRecorderOptions o = {
                .reporting_controller = opts->reporting_controller,
                .reporting_instance = opts->reporting_instance,
                .deterministic_names = opts->offline,
                .sink = source_event_sink,
                .sink_userdata = sink,
                .sink_detach = source_event_sink_detach,
                .now = source_clock,
                .now_userdata = s,
                /* Offline runs once: pending series updates are flushed by the
                 * binary before it prints, not by a timer. */
                .event = opts->offline ? NULL : s->event,
        };
        k = event_recorder_new(&o, &r);
        if (k < 0) {
                free(sink);
                return k;
        }
        sink->recorder = r;
        *ret = r;
        return 0;
}
