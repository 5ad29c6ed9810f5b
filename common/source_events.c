/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "event.h"
#include "log.h"
#include "source_events.h"

/* What a write's completion needs to report back to the recorder. */
typedef struct PendingEventWrite {
        EventRecorder *recorder;
        char *namespace, *name;
        const char *method; /* static string */
} PendingEventWrite;

static void pending_free(PendingEventWrite *p) {
        if (!p)
                return;
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
        event_recorder_write_result(p->recorder, p->namespace, p->name, p->method, error,
                                    status ? status->http_code : 0);
        pending_free(p);
}

static int source_event_sink(EventRecorder *r, const EventWrite *w, void *userdata) {
        Source *s = userdata;
        PendingEventWrite *p = new0(PendingEventWrite, 1);
        int k;

        if (!p)
                return -ENOMEM;
        p->recorder = r;
        p->method = streq(w->method, "POST") ? "POST" : "PATCH";
        p->namespace = strdup(w->namespace);
        p->name = strdup(w->name);
        if (!p->namespace || !p->name) {
                pending_free(p);
                return -ENOMEM;
        }
        if (streq(p->method, "POST"))
                k = source_create(s, &kube_kind_event, w->namespace, w->body, on_event_written, p);
        else
                k = source_merge_patch(s, &kube_kind_event, w->namespace, w->name, NULL, w->body, on_event_written,
                                       p);
        if (k < 0)
                pending_free(p);
        return k;
}

static usec_t source_clock(void *userdata) {
        return source_now(userdata);
}

int source_event_recorder_new(Source *s, const SourceEventsOptions *opts, EventRecorder **ret) {
        EventRecorderOptions o = {
                .reporting_controller = opts->reporting_controller,
                .reporting_instance = opts->reporting_instance,
                .deterministic_names = opts->offline,
                .sink = source_event_sink,
                .sink_userdata = s,
                .now = source_clock,
                .now_userdata = s,
                /* Offline runs once: pending series updates are flushed by the
                 * binary before it prints, not by a timer. */
                .event = opts->offline ? NULL : s->event,
        };
        return event_recorder_new(&o, ret);
}
