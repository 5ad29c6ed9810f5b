/* SPDX-License-Identifier: Apache-2.0 */
/* The loop speaks sd_notify to a socket of our own, as systemd would see it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"

typedef struct Notify {
        int fd;
        char path[108];
} Notify;

static int notify_setup(void **state) {
        static Notify n;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        snprintf(n.path, sizeof(n.path), "/tmp/berth-test-notify-%d", (int) getpid());
        unlink(n.path);
        n.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(n.fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n.path);
        assert_int_equal(bind(n.fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        setenv("NOTIFY_SOCKET", n.path, 1);
        *state = &n;
        return 0;
}

static int notify_teardown(void **state) {
        Notify *n = *state;
        close(n->fd);
        unlink(n->path);
        unsetenv("NOTIFY_SOCKET");
        return 0;
}

/* Reads every datagram waiting; returns them joined with '|' and counts WATCHDOG=1. */
static void drain(Notify *n, char *out, size_t size, int *watchdogs) {
        char buf[512];
        ssize_t k;

        out[0] = 0;
        *watchdogs = 0;
        while ((k = recv(n->fd, buf, sizeof(buf) - 1, 0)) > 0) {
                buf[k] = 0;
                if (streq(buf, "WATCHDOG=1"))
                        (*watchdogs)++;
                strncat(out, buf, size - strlen(out) - 2);
                strcat(out, "|");
        }
}

static int on_exit_timer(sd_event_source *s, uint64_t usec _unused_, void *userdata _unused_) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static bool unhealthy(Loop *l _unused_, void *userdata) {
        (*(int *) userdata)++;
        return false;
}

static void run_for(Loop *l, usec_t duration) {
        sd_event_source *t = NULL;
        uint64_t now;
        assert_int_equal(sd_event_now(loop_event(l), CLOCK_MONOTONIC, &now) >= 0, true);
        assert_int_equal(sd_event_add_time(loop_event(l), &t, CLOCK_MONOTONIC, now + duration, 1000, on_exit_timer,
                                           NULL), 0);
        assert_int_equal(loop_run(l), 0);
        sd_event_source_unref(t);
}

static void test_ready_status_watchdog(void **state) {
        Notify *n = *state;
        sd_event *e = NULL;
        Loop *l = NULL;
        char got[2048];
        int watchdogs, checks = 0;
        char pid[32];

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        setenv("WATCHDOG_USEC", "100000", 1);
        setenv("WATCHDOG_PID", pid, 1);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        assert_int_equal(loop_watchdog_interval(l), 50000);
        assert_true(loop_notify_ready(l) > 0);
        assert_true(loop_notify_status(l, "Synced %d informers", 4) > 0);
        run_for(l, 230 * USEC_PER_MSEC);
        drain(n, got, sizeof(got), &watchdogs);
        assert_true(startswith(got, "READY=1|STATUS=Synced 4 informers|WATCHDOG=1|"));
        /* Every 50 ms: 4 in 230 ms; a slow machine (valgrind) may stretch
         * the setup before the loop runs, never the interval. */
        assert_in_range(watchdogs, 3, 6);
        loop_free(l);
        e = sd_event_unref(e);

        /* An unhealthy process withholds the keep-alive. */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        loop_set_health_check(l, unhealthy, &checks);
        run_for(l, 130 * USEC_PER_MSEC);
        drain(n, got, sizeof(got), &watchdogs);
        assert_int_equal(watchdogs, 0);
        assert_true(checks >= 2);
        loop_free(l);
        e = sd_event_unref(e);

        /* No watchdog configured: no timer, no keep-alive. */
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        assert_int_equal(loop_watchdog_interval(l), 0);
        run_for(l, 60 * USEC_PER_MSEC);
        drain(n, got, sizeof(got), &watchdogs);
        assert_int_equal(watchdogs, 0);
        loop_free(l);
        sd_event_unref(e);
}

typedef struct Shutdown {
        int calls;
        int signo;
} Shutdown;

static void on_shutdown(Loop *l _unused_, int signo, void *userdata) {
        Shutdown *s = userdata;
        s->calls++;
        s->signo = signo;
        /* Graceful work would go here; a second signal forces the exit. */
        assert_int_equal(raise(SIGINT), 0);
}

static int raise_term(sd_event_source *s _unused_, void *userdata _unused_) {
        assert_int_equal(raise(SIGTERM), 0);
        return 0;
}

static void test_signals(void **state) {
        Notify *n = *state;
        sd_event *e = NULL;
        sd_event_source *d = NULL;
        Loop *l = NULL;
        Shutdown s = {};
        char got[512];
        int watchdogs;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        loop_set_shutdown(l, on_shutdown, &s);
        assert_int_equal(sd_event_add_defer(e, &d, raise_term, NULL), 0);
        assert_int_equal(sd_event_source_set_enabled(d, SD_EVENT_ONESHOT), 0);
        assert_int_equal(loop_run(l), LOOP_EXIT_FORCED);
        assert_int_equal(s.calls, 1);
        assert_int_equal(s.signo, SIGTERM);
        assert_true(loop_shutting_down(l));
        drain(n, got, sizeof(got), &watchdogs);
        assert_string_equal(got, "STOPPING=1|");
        sd_event_source_unref(d);
        loop_free(l);
        e = sd_event_unref(e);

        /* Without a callback the first signal ends the loop with 0. */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        assert_int_equal(sd_event_add_defer(e, &d, raise_term, NULL), 0);
        assert_int_equal(sd_event_source_set_enabled(d, SD_EVENT_ONESHOT), 0);
        assert_int_equal(loop_run(l), 0);
        sd_event_source_unref(d);
        loop_free(l);
        sd_event_unref(e);
}

static void test_no_notify_socket(void **state _unused_) {
        Loop *l = NULL;
        sd_event *e = NULL;
        char *saved = strdup(getenv("NOTIFY_SOCKET"));

        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_new(e, &l), 0);
        assert_int_equal(loop_notify_ready(l), 0);
        assert_int_equal(loop_notify_status(l, "x"), 0);
        loop_free(l);
        sd_event_unref(e);
        setenv("NOTIFY_SOCKET", saved, 1);
        free(saved);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready_status_watchdog),
                cmocka_unit_test(test_signals),
                cmocka_unit_test(test_no_notify_socket),
        };
        return cmocka_run_group_tests(tests, notify_setup, notify_teardown);
}
