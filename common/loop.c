/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"

struct Loop {
        sd_event *event;
        sd_event_source *sigterm, *sigint, *watchdog;
        usec_t watchdog_interval;
        loop_shutdown_fn shutdown;
        void *shutdown_userdata;
        loop_healthy_fn healthy;
        void *healthy_userdata;
        bool shutting_down;
};

static void shutdown_begin(Loop *l, int signo) {
        if (l->shutting_down) {
                log_debug("Second signal %d during shutdown, exiting at once.", signo);
                (void) sd_event_exit(l->event, LOOP_EXIT_FORCED);
                return;
        }
        l->shutting_down = true;
        (void) loop_notify_stopping(l);
        if (l->shutdown)
                l->shutdown(l, signo, l->shutdown_userdata);
        else
                (void) sd_event_exit(l->event, 0);
}

static int on_signal(sd_event_source *s _unused_, const struct signalfd_siginfo *si, void *userdata) {
        shutdown_begin(userdata, (int) si->ssi_signo);
        return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Loop *l = userdata;

        if (!l->healthy || l->healthy(l, l->healthy_userdata))
                (void) sd_notify(0, "WATCHDOG=1");
        else
                log_debug("Unhealthy: withholding the watchdog keep-alive.");
        (void) sd_event_source_set_time(s, usec + l->watchdog_interval);
        return 0;
}

int loop_new(sd_event *event, Loop **ret) {
        _cleanup_(loop_freep) Loop *l = NULL;
        sigset_t mask;
        uint64_t wd = 0;
        int r;

        l = new0(Loop, 1);
        if (!l)
                return -ENOMEM;
        if (event)
                l->event = sd_event_ref(event);
        else {
                r = sd_event_default(&l->event);
                if (r < 0)
                        return r;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        r = pthread_sigmask(SIG_BLOCK, &mask, NULL);
        if (r != 0)
                return -r;
        r = sd_event_add_signal(l->event, &l->sigterm, SIGTERM, on_signal, l);
        if (r < 0)
                return r;
        r = sd_event_add_signal(l->event, &l->sigint, SIGINT, on_signal, l);
        if (r < 0)
                return r;

        /* systemd expects a keep-alive within WatchdogSec; half of it leaves room. */
        r = sd_watchdog_enabled(0, &wd);
        if (r > 0 && wd > 0) {
                uint64_t now;
                l->watchdog_interval = wd / 2;
                r = sd_event_now(l->event, CLOCK_MONOTONIC, &now);
                if (r < 0)
                        return r;
                r = sd_event_add_time(l->event, &l->watchdog, CLOCK_MONOTONIC, now + l->watchdog_interval,
                                      l->watchdog_interval / 10, on_watchdog, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(l->watchdog, SD_EVENT_ON);
                (void) sd_event_source_set_description(l->watchdog, "watchdog");
        }

        *ret = TAKE_PTR(l);
        return 0;
}

Loop *loop_free(Loop *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->sigterm);
        sd_event_source_disable_unref(l->sigint);
        sd_event_source_disable_unref(l->watchdog);
        sd_event_unref(l->event);
        free(l);
        return NULL;
}

sd_event *loop_event(Loop *l) {
        return l->event;
}

void loop_set_shutdown(Loop *l, loop_shutdown_fn fn, void *userdata) {
        l->shutdown = fn;
        l->shutdown_userdata = userdata;
}

void loop_set_health_check(Loop *l, loop_healthy_fn fn, void *userdata) {
        l->healthy = fn;
        l->healthy_userdata = userdata;
}

bool loop_shutting_down(Loop *l) {
        return l->shutting_down;
}

void loop_request_shutdown(Loop *l) {
        if (!l->shutting_down)
                shutdown_begin(l, SIGTERM);
}

int loop_notify_ready(Loop *l _unused_) {
        return sd_notify(0, "READY=1");
}

int loop_notify_status(Loop *l _unused_, const char *fmt, ...) {
        _cleanup_free_ char *status = NULL, *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&status, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (asprintf(&msg, "STATUS=%s", status) < 0)
                return -ENOMEM;
        return sd_notify(0, msg);
}

int loop_notify_stopping(Loop *l _unused_) {
        return sd_notify(0, "STOPPING=1");
}

usec_t loop_watchdog_interval(Loop *l) {
        return l->watchdog_interval;
}

int loop_run(Loop *l) {
        return sd_event_loop(l->event);
}
