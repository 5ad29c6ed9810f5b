/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "controller_set.h"
#include "log.h"
#include "source_offline.h"

static bool enabled(const ControllerContext *ctx, const char *name) {
        if (!ctx->cli || !(ctx->cli->flags & CLI_CONTROLLERS))
                return true;
        return cli_controller_enabled(ctx->cli, ctx->options, name);
}

int controller_set_init(ControllerSet *set, const ControllerContext *ctx) {
        size_t n = 0;

        while (controller_registry[n].name)
                n++;
        *set = (ControllerSet) {};
        set->v = new0(Controller *, n ? n : 1);
        if (!set->v)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                const ControllerRegistration *reg = &controller_registry[i];
                Controller *c = NULL;
                int r;

                if (!enabled(ctx, reg->name))
                        continue;
                if (!reg->init) {
                        log_debug("controller %s is not built yet; skipped", reg->name);
                        continue;
                }
                r = reg->init(ctx, &c);
                if (r < 0) {
                        controller_set_done(set);
                        return log_error_errno(r, "controller %s: cannot start: %m", reg->name);
                }
                set->v[set->n++] = c;
                log_debug("controller %s initialised", reg->name);
        }
        return 0;
}

int controller_set_start(ControllerSet *set) {
        if (set->started)
                return 0;
        set->started = true;
        for (size_t i = 0; i < set->n; i++) {
                Controller *c = set->v[i];
                int r;

                if (!c->start)
                        continue;
                r = c->start(c);
                if (r < 0)
                        return log_error_errno(r, "controller %s: cannot start: %m", c->name);
        }
        return 0;
}

bool controller_set_idle(const ControllerSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                Controller *c = set->v[i];
                if (c->idle && !c->idle(c))
                        return false;
        }
        return true;
}

Controller *controller_set_find(const ControllerSet *set, const char *name) {
        for (size_t i = 0; i < set->n; i++)
                if (streq(set->v[i]->name, name))
                        return set->v[i];
        return NULL;
}

void controller_set_done(ControllerSet *set) {
        set->rest_check = sd_event_source_disable_unref(set->rest_check);
        set->kick = sd_event_source_disable_unref(set->kick);
        /* reverse order: later controllers may depend on earlier ones' caches */
        while (set->n > 0) {
                Controller *c = set->v[--set->n];
                if (c && c->free)
                        c->free(c);
        }
        free(set->v);
        *set = (ControllerSet) {};
}

static int on_rest_check(sd_event_source *s, void *userdata) {
        ControllerSet *set = userdata;

        (void) s;
        if (source_offline_pending(set->rest_source) > 0 || !controller_set_idle(set))
                return 0;
        /* once: the callback may free the set */
        set->rest_check = sd_event_source_disable_unref(set->rest_check);
        set->rested(set, set->rested_userdata);
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata) {
        (void) s, (void) userdata;
        /* Nothing to do: dispatching this makes the post source run once
         * even when no controller has anything to do. */
        return 0;
}

int controller_set_watch_rest(ControllerSet *set, sd_event *event, Source *offline_source,
                              controller_set_rested_fn rested, void *userdata) {
        int r;

        set->rest_source = offline_source;
        set->rested = rested;
        set->rested_userdata = userdata;
        r = sd_event_add_post(event, &set->rest_check, on_rest_check, set);
        if (r >= 0)
                r = sd_event_source_set_priority(set->rest_check, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_add_defer(event, &set->kick, on_kick, set);
        if (r >= 0)
                r = sd_event_source_set_enabled(set->kick, SD_EVENT_ONESHOT);
        if (r < 0) {
                set->rest_check = sd_event_source_disable_unref(set->rest_check);
                set->kick = sd_event_source_disable_unref(set->kick);
        }
        return r;
}
