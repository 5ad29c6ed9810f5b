/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>

#include "log.h"
#include "offline_watch.h"

struct OfflineWatch {
        sd_event *event;
        sd_event_source *inotify;
        sd_event_source *reread;
        offline_watch_fn changed;
        void *userdata;
};

static int on_reread(sd_event_source *s, uint64_t usec, void *userdata) {
        OfflineWatch *w = userdata;

        (void) s;
        (void) usec;
        w->changed(w, w->userdata);
        return 0;
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        OfflineWatch *w = userdata;
        int r;

        (void) s;
        if (ev->len > 0 && ev->name[0] == '.')
                return 0; /* editor swap files */
        if (!w->reread) {
                r = sd_event_add_time_relative(w->event, &w->reread, CLOCK_MONOTONIC, OFFLINE_WATCH_DELAY, 0,
                                               on_reread, w);
                if (r < 0)
                        return log_debug_errno(r, "cannot schedule a re-read: %m");
                return sd_event_source_set_enabled(w->reread, SD_EVENT_ONESHOT);
        }
        r = sd_event_source_set_time_relative(w->reread, OFFLINE_WATCH_DELAY);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->reread, SD_EVENT_ONESHOT);
        return r;
}

int offline_watch_new(sd_event *event, const char *dir, offline_watch_fn changed, void *userdata,
                      OfflineWatch **ret) {
        _cleanup_(offline_watch_freep) OfflineWatch *w = NULL;
        int r;

        if (!event || !dir || !changed || !ret)
                return -EINVAL;
        w = new0(OfflineWatch, 1);
        if (!w)
                return -ENOMEM;
        w->event = sd_event_ref(event);
        w->changed = changed;
        w->userdata = userdata;
        r = sd_event_add_inotify(event, &w->inotify, dir,
                                 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ONLYDIR,
                                 on_inotify, w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

OfflineWatch *offline_watch_free(OfflineWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->inotify);
        sd_event_source_disable_unref(w->reread);
        sd_event_unref(w->event);
        return mfree(w);
}
