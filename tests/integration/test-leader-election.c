/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election between real processes over a real Lease (lbipam.md
 * §13.3): exactly one of two candidates leads; after SIGKILL of the leader
 * the other takes over within lease duration + 2 × retry period; after
 * SIGTERM the leader releases and a standby takes over within one retry
 * period.
 *
 * The candidates are this program run as
 *   test-leader-election --candidate IDENTITY NAMESPACE LEASE
 * each printing one line per event on stdout:
 *   "leading <monotonic usec>", "stopped <usec>", "new-leader <identity|->",
 *   "released <error>". */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest-kube.h"
#include "itest.h"
#include "lease.h"

#define LEASE_DURATION (3 * USEC_PER_SEC)
#define RENEW_DEADLINE (2 * USEC_PER_SEC)
#define RETRY_PERIOD (500 * USEC_PER_MSEC)
/* One write's round trip on loopback, and scheduling of two processes. */
#define SLACK (300 * USEC_PER_MSEC)

extern char **environ;

/* ---- candidate (child) mode ------------------------------------------- */

typedef struct Candidate {
        sd_event *event;
        LeaderElector *le;
} Candidate;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void started_leading(LeaderElector *le, void *userdata) {
        (void) le;
        (void) userdata;
        say("leading %" PRIu64, now_usec(CLOCK_MONOTONIC));
}

static void stopped_leading(LeaderElector *le, void *userdata) {
        Candidate *c = userdata;
        (void) le;
        say("stopped %" PRIu64, now_usec(CLOCK_MONOTONIC));
        sd_event_exit(c->event, 3);
}

static void new_leader(LeaderElector *le, const char *identity, void *userdata) {
        (void) le;
        (void) userdata;
        say("new-leader %s", isempty(identity) ? "-" : identity);
}

static void released(LeaderElector *le, int error, void *userdata) {
        Candidate *c = userdata;
        (void) le;
        say("released %d", error);
        sd_event_exit(c->event, error < 0 ? 1 : 0);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Candidate *c = userdata;
        (void) s;
        (void) si;
        if (leader_elector_release(c->le, USEC_PER_SEC, released, c) < 0)
                sd_event_exit(c->event, 1);
        return 0;
}

static int candidate_main(const char *identity, const char *ns, const char *name) {
        ITestEnv *env = NULL;
        KubeConfig *config = NULL;
        KubeClient *client = NULL;
        Candidate c = {};
        LeaderElectionConfig lc = {
                .namespace = ns, .name = name, .identity = identity,
                .lease_duration = LEASE_DURATION, .renew_deadline = RENEW_DEADLINE, .retry_period = RETRY_PERIOD,
        };
        LeaderElectorCallbacks cb = {
                .started_leading = started_leading, .stopped_leading = stopped_leading,
                .new_leader = new_leader, .userdata = &c,
        };
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || itest_env_load(&env) < 0 || sd_event_new(&c.event) < 0 ||
            sd_event_add_signal(c.event, NULL, SIGTERM, on_sigterm, &c) < 0 ||
            itest_kube_client(env, c.event, NULL, &config, &client) < 0 ||
            leader_elector_new(c.event, client, &lc, &cb, &c.le) < 0 || leader_elector_start(c.le) < 0) {
                fprintf(stderr, "candidate %s: setup failed\n", identity);
                return 2;
        }
        r = sd_event_loop(c.event);
        leader_elector_free(c.le);
        kube_client_free(client);
        kube_config_free(config);
        sd_event_unref(c.event);
        itest_env_free(env);
        return r < 0 ? 2 : r;
}

/* ---- the test (parent) ------------------------------------------------- */

typedef struct Child {
        char id[32];
        pid_t pid;
        int fd;             /* its stdout */
        char buf[4096];
        size_t len;
        usec_t leading_at;  /* 0 = not (yet) */
        char *leader_seen;  /* last new-leader line */
        bool released;
        bool exited;
} Child;

typedef struct Fixture {
        ITestEnv *env;
        char *ns;
        char self[4096];
        Child children[3];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        _cleanup_free_ char *body = NULL;
        ssize_t n;

        if (!f || itest_env_load(&f->env) < 0)
                return -1;
        f->ns = itest_unique_name(f->env, "election");
        if (!f->ns || asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", f->ns) < 0 ||
            itest_api_ok(f->env, "POST", "/api/v1/namespaces", body, NULL) < 0)
                return -1;
        n = readlink("/proc/self/exe", f->self, sizeof(f->self) - 1);
        if (n <= 0)
                return -1;
        f->self[n] = 0;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(f->children); i++) {
                Child *c = &f->children[i];
                if (c->pid > 0 && !c->exited) {
                        kill(c->pid, SIGKILL);
                        (void) itest_wait_pid(c->pid, 5 * USEC_PER_SEC, NULL);
                }
                if (c->fd > 0)
                        close(c->fd);
                free(c->leader_seen);
        }
        itest_env_free(f->env);
        free(f->ns);
        free(f);
        return 0;
}

static void child_start(Fixture *f, Child *c, const char *id, const char *lease) {
        posix_spawn_file_actions_t fa;
        int p[2];

        snprintf(c->id, sizeof(c->id), "%s", id);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        char *argv[] = { f->self, (char *) "--candidate", c->id, f->ns, (char *) lease, NULL };
        assert_int_equal(posix_spawn(&c->pid, f->self, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        c->fd = p[0];
        assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
}

static void child_line(Child *c, const char *line) {
        fprintf(stderr, "  [%s] %s\n", c->id, line);
        if (startswith(line, "leading "))
                c->leading_at = strtoull(line + 8, NULL, 10);
        else if (startswith(line, "new-leader ")) {
                free(c->leader_seen);
                c->leader_seen = strdup(line + 11);
        } else if (startswith(line, "released "))
                c->released = true;
}

/* Reads whatever the children printed, for up to timeout or until done(). */
static int pump(Fixture *f, usec_t timeout, bool (*done)(Fixture *f, void *ud), void *ud) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        for (;;) {
                struct pollfd pfd[ELEMENTSOF(f->children)];
                size_t n = 0;
                usec_t now = now_usec(CLOCK_MONOTONIC);

                if (done && done(f, ud))
                        return 0;
                if (now >= end)
                        return -ETIMEDOUT;
                for (size_t i = 0; i < ELEMENTSOF(f->children); i++)
                        pfd[n++] = (struct pollfd) { .fd = f->children[i].fd > 0 ? f->children[i].fd : -1,
                                                     .events = POLLIN };
                (void) poll(pfd, n, (int) ((end - now) / USEC_PER_MSEC) + 1);
                for (size_t i = 0; i < n; i++) {
                        Child *c = &f->children[i];
                        ssize_t k;
                        char *nl;

                        if (!(pfd[i].revents & (POLLIN | POLLHUP)))
                                continue;
                        k = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
                        if (k <= 0) {
                                if (k == 0 || errno != EAGAIN) {
                                        close(c->fd);
                                        c->fd = -1;
                                }
                                continue;
                        }
                        c->len += (size_t) k;
                        c->buf[c->len] = 0;
                        while ((nl = strchr(c->buf, '\n'))) {
                                *nl = 0;
                                child_line(c, c->buf);
                                memmove(c->buf, nl + 1, c->len - (size_t) (nl + 1 - c->buf) + 1);
                                c->len -= (size_t) (nl + 1 - c->buf);
                        }
                }
        }
}

static size_t leaders(Fixture *f) {
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(f->children); i++)
                n += f->children[i].pid > 0 && !f->children[i].exited && f->children[i].leading_at > 0;
        return n;
}

static bool some_leader(Fixture *f, void *ud) {
        (void) ud;
        return leaders(f) > 0;
}

static bool child_leads(Fixture *f, void *ud) {
        (void) f;
        return ((Child *) ud)->leading_at > 0;
}

static bool child_sees_leader(Fixture *f, void *ud) {
        Child *c = ud;
        (void) f;
        return c->leader_seen && !streq(c->leader_seen, "-");
}

static char *lease_holder(Fixture *f, const char *lease) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        const char *p;

        assert_true(asprintf(&path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", f->ns, lease) > 0);
        assert_int_equal(itest_api_ok(f->env, "GET", path, NULL, &body), 0);
        p = strstr(body, "\"holderIdentity\":\"");
        if (!p)
                return strdup("");
        p += strlen("\"holderIdentity\":\"");
        return strndup(p, strcspn(p, "\""));
}

static void test_one_leader_and_takeovers(void **state) {
        Fixture *f = *state;
        Child *a = &f->children[0], *b = &f->children[1], *c = &f->children[2], *leader, *standby;
        _cleanup_free_ char *holder = NULL;
        usec_t t_kill, t_term, took;
        int status;

        child_start(f, a, "cand-a", "berth-test");
        child_start(f, b, "cand-b", "berth-test");

        /* Exactly one leads, and stays the only one. */
        assert_int_equal(pump(f, 10 * USEC_PER_SEC, some_leader, NULL), 0);
        assert_int_equal(pump(f, LEASE_DURATION + 2 * RETRY_PERIOD, NULL, NULL), -ETIMEDOUT);
        assert_int_equal(leaders(f), 1);
        leader = a->leading_at ? a : b;
        standby = leader == a ? b : a;
        holder = lease_holder(f, "berth-test");
        assert_string_equal(holder, leader->id);
        assert_non_null(standby->leader_seen);
        assert_string_equal(standby->leader_seen, leader->id);

        /* SIGKILL: no release; the standby waits out the lease. */
        t_kill = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(kill(leader->pid, SIGKILL), 0);
        assert_int_equal(itest_wait_pid(leader->pid, 5 * USEC_PER_SEC, NULL), 0);
        leader->exited = true;
        assert_int_equal(pump(f, LEASE_DURATION + 2 * RETRY_PERIOD + 5 * USEC_PER_SEC, child_leads, standby), 0);
        took = standby->leading_at - t_kill;
        fprintf(stderr, "takeover after SIGKILL: %" PRIu64 " ms (bound %" PRIu64 " ms)\n", took / USEC_PER_MSEC,
                (LEASE_DURATION + 2 * RETRY_PERIOD) / USEC_PER_MSEC);
        assert_true(took <= LEASE_DURATION + 2 * RETRY_PERIOD + SLACK);
        /* Not before the lease ran out (less what observation delay allows). */
        assert_true(took >= LEASE_DURATION - RETRY_PERIOD);
        free(holder);
        holder = lease_holder(f, "berth-test");
        assert_string_equal(holder, standby->id);

        /* SIGTERM: the leader releases; a standby takes over at its next try. */
        leader = standby;
        child_start(f, c, "cand-c", "berth-test");
        assert_int_equal(pump(f, 10 * USEC_PER_SEC, child_sees_leader, c), 0);
        assert_string_equal(c->leader_seen, leader->id);
        assert_int_equal(c->leading_at, 0);
        t_term = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(kill(leader->pid, SIGTERM), 0);
        assert_int_equal(pump(f, 5 * USEC_PER_SEC, child_leads, c), 0);
        took = c->leading_at - t_term;
        fprintf(stderr, "takeover after SIGTERM: %" PRIu64 " ms (bound %" PRIu64 " ms)\n", took / USEC_PER_MSEC,
                RETRY_PERIOD / USEC_PER_MSEC);
        assert_true(took <= RETRY_PERIOD + SLACK);
        assert_int_equal(itest_wait_pid(leader->pid, 5 * USEC_PER_SEC, &status), 0);
        leader->exited = true;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        (void) pump(f, 200 * USEC_PER_MSEC, NULL, NULL);
        assert_true(leader->released);
        free(holder);
        holder = lease_holder(f, "berth-test");
        assert_string_equal(holder, c->id);

        /* The last one leaves cleanly too. */
        assert_int_equal(kill(c->pid, SIGTERM), 0);
        assert_int_equal(itest_wait_pid(c->pid, 5 * USEC_PER_SEC, &status), 0);
        c->exited = true;
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(holder);
        holder = lease_holder(f, "berth-test");
        assert_string_equal(holder, "");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_leader_and_takeovers),
        };

        if (argc == 5 && streq(argv[1], "--candidate"))
                return candidate_main(argv[2], argv[3], argv[4]);
        return cmocka_run_group_tests(tests, setup, teardown);
}
