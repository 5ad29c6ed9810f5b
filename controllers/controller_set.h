/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The enabled controllers of the registry (registry.h) as one set, driven
 * the same way by every binary that runs them: berth-controller (API and
 * offline) and berthctl plan.  A binary whose CliSpec has no
 * CLI_CONTROLLERS runs every registered controller.
 *
 * Offline, controller_set_watch_rest() tells when a run has come to rest
 * (offline.md "--once"): the source has no queued write and every
 * controller is idle, checked after each dispatch of the loop. */

#include "registry.h"

typedef struct ControllerSet {
        Controller **v;
        size_t n;
        bool started;
        /* offline rest detection */
        sd_event_source *rest_check, *kick;
        Source *rest_source;
        void (*rested)(struct ControllerSet *set, void *userdata);
        void *rested_userdata;
} ControllerSet;

/* init() of every enabled controller, in registry order; on failure the
 * ones already made are freed again.  Logs the failing one. */
int controller_set_init(ControllerSet *set, const ControllerContext *ctx);
/* start() of each, once. */
int controller_set_start(ControllerSet *set);
bool controller_set_idle(const ControllerSet *set);
/* The controller registered under name, or NULL when it does not run. */
Controller *controller_set_find(const ControllerSet *set, const char *name);
/* Frees the controllers in reverse order and stops watching for rest. */
void controller_set_done(ControllerSet *set);

/* Calls rested() once, from the loop, when offline_source has no pending
 * write and every controller is idle (also when nothing had anything to
 * do).  offline_source must be the offline source (source_offline.h). */
typedef void (*controller_set_rested_fn)(ControllerSet *set, void *userdata);
int controller_set_watch_rest(ControllerSet *set, sd_event *event, Source *offline_source,
                              controller_set_rested_fn rested, void *userdata);
