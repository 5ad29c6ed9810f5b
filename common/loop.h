/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The process's one sd-event loop and its contract with the service
 * manager:
 * - SIGTERM and SIGINT are blocked and handled on the loop: the first one
 *   sends STOPPING=1 and calls the shutdown callback (graceful: release the
 *   lease, withdraw announcements, then sd_event_exit()); without a callback
 *   the loop exits with 0.  A second signal exits at once with
 *   LOOP_EXIT_FORCED.
 * - sd_notify READY=1 / STATUS=... / STOPPING=1 (no-ops when $NOTIFY_SOCKET
 *   is unset, e.g. in a container).
 * - WATCHDOG=1 every half of sd_watchdog_enabled()'s interval, unless the
 *   health hook says the process is unhealthy, so systemd restarts a stuck
 *   daemon.  No timer at all when the watchdog is off.
 *
 * Create the Loop before any thread (libmicrohttpd's): threads inherit the
 * blocked signal mask, so the signals always reach the loop. */

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "macros.h"
#include "timeutil.h"

typedef struct Loop Loop;

#define LOOP_EXIT_FORCED 130

/* Called on the first SIGTERM/SIGINT; the callee ends the loop when its
 * clean-up is done (sd_event_exit(loop_event(l), code)). */
typedef void (*loop_shutdown_fn)(Loop *l, int signo, void *userdata);
/* Watchdog hook: return false to withhold the keep-alive. */
typedef bool (*loop_healthy_fn)(Loop *l, void *userdata);

/* Uses event when given (a reference is taken), else the thread's default loop. */
int loop_new(sd_event *event, Loop **ret);
/* Restores nothing: the signal mask stays blocked (the process is exiting). */
Loop *loop_free(Loop *l);
DEFINE_POINTER_CLEANUP(Loop, loop_free);

sd_event *loop_event(Loop *l);
void loop_set_shutdown(Loop *l, loop_shutdown_fn fn, void *userdata);
void loop_set_health_check(Loop *l, loop_healthy_fn fn, void *userdata);
/* True once a shutdown signal arrived (or loop_request_shutdown was called). */
bool loop_shutting_down(Loop *l);
/* As if SIGTERM arrived (e.g. when the lease is lost the binary still
 * wants its normal clean-up path). */
void loop_request_shutdown(Loop *l);

/* sd_notify wrappers; return sd_notify's result (0 = no socket, > 0 sent). */
int loop_notify_ready(Loop *l);
int loop_notify_status(Loop *l, const char *fmt, ...) _printf_(2, 3);
int loop_notify_stopping(Loop *l);

/* Watchdog keep-alive interval in use, 0 when the watchdog is off. */
usec_t loop_watchdog_interval(Loop *l);

/* Runs until sd_event_exit(); returns the exit code (or -errno). */
int loop_run(Loop *l);
