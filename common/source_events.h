/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* An Event recorder (common/kube/events.h) whose Events go to a Source:
 * created with source_create, series updates sent with source_merge_patch,
 * and outcomes fed back to the recorder.  Works on both sources, so the
 * offline output carries the Events the controllers emitted. */

#include <stdbool.h>

#include "events.h"
#include "source.h"

typedef struct SourceEventsOptions {
        const char *reporting_controller; /* "berth.io/endpoint-controller" */
        const char *reporting_instance;   /* holder identity, or "offline" */
        bool offline;                     /* deterministic names, --now clock, no patch timer */
} SourceEventsOptions;

/* The recorder must be freed before the source. */
int source_event_recorder_new(Source *s, const SourceEventsOptions *opts, EventRecorder **ret);
