/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl plan DIR: the controllers over the manifest directory exactly as
 * `berth-controller --manifests DIR --once` runs them (controller_set.h),
 * then the report of the final state.  The offline source keeps every
 * write in memory: DIR is never touched. */
#include <stdio.h>

#include "controller_set.h"
#include "log.h"
#include "loop.h"
#include "run.h"
#include "source_offline.h"

typedef struct Plan {
        const Berthctl *b;
        sd_event *event;
        Source *source;
        ControllerSet set;
        int exit_code;
} Plan;

static void on_rested(ControllerSet *set, void *userdata) {
        Plan *p = userdata;

        p->exit_code = berthctl_output(p->b, p->source, controller_set_find(set, "nodeport"), false);
        (void) sd_event_exit(p->event, p->exit_code);
}

int run_plan(Berthctl *b) {
        _cleanup_free_ char *error = NULL;
        const char *const *warnings;
        Plan p = { .b = b, .exit_code = EXIT_PROBLEMS };
        int r;

        r = sd_event_new(&p.event);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                return EXIT_PROBLEMS;
        }
        OfflineOptions oo = { .dir = b->options.manifests, .now = b->flags.now };
        r = source_offline_new(p.event, &oo, &p.source, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "berthctl: %s\n", error);
                else
                        fprintf(stderr, "berthctl: cannot read %s: %s\n", b->options.manifests, strerror(-r));
                p.event = sd_event_unref(p.event);
                return r == -ENOMEM ? EXIT_PROBLEMS : EXIT_USAGE;
        }
        size_t n = source_offline_warnings(p.source, &warnings);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "berthctl: %s\n", warnings[i]);

        ControllerContext ctx = {
                .event = p.event,
                .source = p.source,
                .cli = &b->spec,
                .options = &b->options,
                .offline = true,
                .reporting_instance = "offline",
                .flags = &b->flags.controller,
        };
        r = controller_set_init(&p.set, &ctx);
        if (r >= 0)
                r = controller_set_start(&p.set);
        if (r >= 0)
                r = controller_set_watch_rest(&p.set, p.event, p.source, on_rested, &p);
        if (r >= 0)
                r = sd_event_loop(p.event);
        if (r < 0) {
                log_error_errno(r, "the offline run failed: %m");
                p.exit_code = EXIT_PROBLEMS;
        }
        controller_set_done(&p.set);
        p.source = source_free(p.source);
        p.event = sd_event_unref(p.event);
        return p.exit_code;
}
