/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* events.k8s.io/v1 Event (design.md "Events"), written by the recorder
 * with de-duplication through `series`.  Core v1 Events are decoded into
 * the same struct for offline input (offline.md lists Event under v1). */

#include "decode.h"

typedef struct EventSeries {
        int32_t count;
        usec_t last_observed_time; /* MicroTime */
} EventSeries;

typedef struct Event {
        KubeObject object;
        usec_t event_time;                /* MicroTime; required by the API */
        bool has_series;
        EventSeries series;
        const char *reporting_controller; /* interned */
        const char *reporting_instance;   /* interned */
        const char *action;               /* interned */
        const char *reason;               /* interned */
        const char *type;                 /* interned: "Normal", "Warning" */
        char *note;
        KubeObjectRef regarding;
} Event;

extern const KubeKind kube_kind_event;      /* events.k8s.io/v1 */
extern const KubeKind kube_kind_core_event; /* v1, decode only */

static inline const Event *EVENT(const KubeObject *o) {
        return (const Event *) o;
}
