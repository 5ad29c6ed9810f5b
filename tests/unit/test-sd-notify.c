/* SPDX-License-Identifier: Apache-2.0 */
/* The daemons' contract with systemd's Type=notify and WatchdogSec=
 * (the units in examples/systemd): each one is started as the service manager
 * would start it, with NOTIFY_SOCKET naming a datagram socket this test
 * listens on, WATCHDOG_USEC=200000 and WATCHDOG_PID set to the daemon's own
 * pid.  Checked, per daemon:
 *   - READY=1 arrives (Type=notify: else the start times out);
 *   - WATCHDOG=1 arrives at least twice within a second of READY=1
 *     (else systemd kills a healthy daemon);
 *   - SIGTERM: STOPPING=1 arrives and the process exits 0 (a clean stop is
 *     not a failure for Restart=on-failure).
 *
 *   test-sd-notify                   the daemons, offline over examples/demo
 *   test-sd-notify -- PROGRAM ARGS   one program, e.g. a daemon against a
 *                                    real API server
 *
 * Every message is printed with its time since the start, so a failure
 * shows what did arrive. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_USEC "200000"
#define READY_TIMEOUT_MS 10000
#define WATCHDOG_WINDOW_MS 1000
#define STOP_TIMEOUT_MS 5000

typedef struct Run {
        const char *name;
        int fd;
        pid_t pid;
        int64_t t0;
        int64_t ready_at; /* -1 until READY=1 */
        int64_t stopping_at;
        unsigned watchdogs_in_window;
        unsigned watchdogs;
        int status; /* waitpid() status once reaped */
        bool reaped;
} Run;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_line(Run *r, const char *line) {
        int64_t t = now_ms() - r->t0;

        /* the keep-alives are counted, not listed: ten a second */
        if (strcmp(line, "WATCHDOG=1") != 0)
                printf("  %s +%lldms %s\n", r->name, (long long) t, line);
        if (strcmp(line, "READY=1") == 0 && r->ready_at < 0)
                r->ready_at = t;
        else if (strcmp(line, "STOPPING=1") == 0 && r->stopping_at < 0)
                r->stopping_at = t;
        else if (strcmp(line, "WATCHDOG=1") == 0) {
                r->watchdogs++;
                if (r->ready_at >= 0 && t <= r->ready_at + WATCHDOG_WINDOW_MS)
                        r->watchdogs_in_window++;
        }
}

/* Reads datagrams until the deadline or until done(r) holds; reaps the
 * child when it exits.  A datagram may carry several lines. */
static void pump(Run *r, int64_t deadline, bool (*done)(const Run *r)) {
        while (!done(r)) {
                int64_t left = deadline - now_ms();
                struct pollfd p = { .fd = r->fd, .events = POLLIN };
                char buf[4096];

                if (left <= 0)
                        return;
                if (!r->reaped && waitpid(r->pid, &r->status, WNOHANG) == r->pid)
                        r->reaped = true;
                if (poll(&p, 1, (int) (left < 50 ? left : 50)) <= 0) {
                        /* nothing more will come once the process is gone */
                        if (r->reaped)
                                return;
                        continue;
                }
                ssize_t n = recv(r->fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save))
                        on_line(r, line);
        }
}

static bool got_ready(const Run *r) {
        return r->ready_at >= 0;
}
static bool never(const Run *r) {
        (void) r;
        return false;
}
static bool stopped(const Run *r) {
        return r->stopping_at >= 0 && r->reaped;
}

static int start(Run *r, const char *sock_path, char *const argv[]) {
        r->t0 = now_ms();
        r->pid = fork();
        if (r->pid < 0)
                return -errno;
        if (r->pid == 0) {
                char pid[32];
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                setenv("NOTIFY_SOCKET", sock_path, 1);
                setenv("WATCHDOG_USEC", WATCHDOG_USEC, 1);
                /* exec keeps the pid: this is the daemon's own pid, as
                 * systemd sets it for the main process */
                setenv("WATCHDOG_PID", pid, 1);
                unsetenv("JOURNAL_STREAM");
                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO); /* the offline result table */
                execv(argv[0], argv);
                fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return 0;
}

/* Runs one daemon through start, READY, watchdog window, SIGTERM; returns
 * the number of failed checks. */
static int check_daemon(const char *name, char *const argv[]) {
        char dir[] = "/tmp/berth-notify-XXXXXX";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Run r = { .name = name, .fd = -1, .ready_at = -1, .stopping_at = -1 };
        int failed = 0;

        printf("%s:", name);
        for (char *const *a = argv; *a; a++)
                printf(" %s", *a);
        printf("\n");
        if (!mkdtemp(dir)) {
                printf("FAIL: %s: mkdtemp: %s\n", name, strerror(errno));
                return 1;
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
        r.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (r.fd < 0 || bind(r.fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                printf("FAIL: %s: notify socket: %s\n", name, strerror(errno));
                failed = 1;
                goto out;
        }
        if (start(&r, sa.sun_path, argv) < 0) {
                printf("FAIL: %s: fork: %s\n", name, strerror(errno));
                failed = 1;
                goto out;
        }

        pump(&r, r.t0 + READY_TIMEOUT_MS, got_ready);
        if (r.ready_at < 0) {
                printf("FAIL: %s: no READY=1 within %d ms (Type=notify would time out)\n", name,
                       READY_TIMEOUT_MS);
                failed++;
                /* still check the keep-alive and the stop, from now on */
                r.ready_at = now_ms() - r.t0;
        }
        pump(&r, r.t0 + r.ready_at + WATCHDOG_WINDOW_MS, never);
        if (r.watchdogs_in_window < 2) {
                printf("FAIL: %s: %u WATCHDOG=1 within %d ms of READY=1, want >= 2 (WATCHDOG_USEC=%s)\n", name,
                       r.watchdogs_in_window, WATCHDOG_WINDOW_MS, WATCHDOG_USEC);
                failed++;
        }
        if (r.reaped) {
                printf("FAIL: %s: exited before SIGTERM (status 0x%x)\n", name, (unsigned) r.status);
                failed++;
                goto out;
        }

        if (kill(r.pid, SIGTERM) < 0) {
                printf("FAIL: %s: kill: %s\n", name, strerror(errno));
                failed++;
        }
        pump(&r, now_ms() + STOP_TIMEOUT_MS, stopped);
        if (r.stopping_at < 0) {
                printf("FAIL: %s: no STOPPING=1 after SIGTERM\n", name);
                failed++;
        }
        if (!r.reaped) {
                printf("FAIL: %s: still running %d ms after SIGTERM\n", name, STOP_TIMEOUT_MS);
                failed++;
        } else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
                printf("FAIL: %s: after SIGTERM: %s %d, want exit 0\n", name,
                       WIFEXITED(r.status) ? "exit" : "signal",
                       WIFEXITED(r.status) ? WEXITSTATUS(r.status) : WTERMSIG(r.status));
                failed++;
        }
out:
        printf("  %s: %u WATCHDOG=1 in all, %u within %d ms of READY=1\n", name, r.watchdogs,
               r.watchdogs_in_window, WATCHDOG_WINDOW_MS);
        if (r.pid > 0 && !r.reaped) {
                (void) kill(r.pid, SIGKILL);
                (void) waitpid(r.pid, NULL, 0);
        }
        if (r.fd >= 0)
                close(r.fd);
        (void) unlink(sa.sun_path);
        (void) rmdir(dir);
        if (failed == 0)
                printf("PASS: %s\n", name);
        return failed;
}

int main(int argc, char **argv) {
        const char *srcdir = getenv("srcdir");
        char demo[4096];
        int failed = 0;

        if (argc > 2 && strcmp(argv[1], "--") == 0)
                return check_daemon(argv[2], argv + 2) > 0;
        if (argc > 1) {
                fprintf(stderr, "usage: %s [-- PROGRAM ARGS...]\n", argv[0]);
                return 2;
        }

        /* Offline mode without --once keeps running and watches DIR
         * (offline.md "Run"): a daemon as long-lived as the API one. */
        snprintf(demo, sizeof(demo), "%s/examples/demo", srcdir ? srcdir : ".");
        char *controller[] = { (char *) "./berth-controller", (char *) "--manifests", demo,
                               (char *) "--log-level", (char *) "warning", NULL };
        char *speaker[] = { (char *) "./berth-speaker", (char *) "--manifests", demo, (char *) "--node",
                            (char *) "node-a", (char *) "--log-level", (char *) "warning", NULL };
        failed += check_daemon("berth-controller", controller);
        failed += check_daemon("berth-speaker", speaker);
        return failed > 0;
}
