/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* /metrics, /healthz and /readyz over HTTP (libmicrohttpd).
 *
 * libmicrohttpd keeps its internal thread; everything it serves comes from
 * a snapshot guarded by a mutex, which only the event loop fills (design.md:
 * one loop, no threads of berth's own).  A request finding the snapshot older
 * than one second wakes the loop (an eventfd on the loop) and waits up to
 * loop_timeout for the refresh; so an idle daemon runs no timer for this,
 * the loop is asked at most once a second however often it is scraped, and a
 * stuck loop is visible:
 *
 *   GET /healthz  200 "ok" while the loop answers; 503 "event loop not responding"
 *   GET /readyz   200 "ok" once ready() says so; else 503 with its reason
 *                 (e.g. "informers not synced: Pod, Service")
 *   GET /metrics  200, text format 0.0.4, rendered on the loop
 *   anything else 404 (other methods than GET/HEAD: 405)
 *
 * Create the server after loop_new() (the thread must inherit the blocked
 * SIGTERM/SIGINT mask). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "macros.h"
#include "metrics.h"
#include "timeutil.h"

typedef struct HttpServer HttpServer;

/* Runs on the loop.  Returns true when ready; else may set *ret_reason to a
 * malloc'd one-line reason (shown in the 503 body). */
typedef bool (*http_ready_fn)(void *userdata, char **ret_reason);

typedef struct HttpServerOptions {
        const char *bind_address;      /* "ADDR:PORT" as parsed below */
        MetricsRegistry *metrics;      /* NULL: /metrics serves an empty page */
        http_ready_fn ready;           /* NULL: always ready */
        void *ready_userdata;
        usec_t loop_timeout;           /* wait for the loop; 0 = 500 ms (under kubelet's 1 s probe timeout) */
} HttpServerOptions;

/* --metrics-bind-address: "0" disables (returns 0, *ret_disabled = true);
 * "IPv4:PORT", "[IPv6]:PORT", ":PORT" (every address, dual-stack).  PORT 0
 * picks a free port (tests).  On -EINVAL *ret_why says why, for
 * `invalid argument "<v>" for --metrics-bind-address: <why>`. */
int http_bind_address_parse(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                            bool *ret_disabled, const char **ret_why);

/* *ret is NULL (and 0 returned) when the address is "0".  -EADDRINUSE etc.
 * when binding fails, -EINVAL for a malformed address. */
int http_server_new(sd_event *event, const HttpServerOptions *opts, HttpServer **ret);
/* Stops the thread (waits for it). */
HttpServer *http_server_free(HttpServer *s);
DEFINE_POINTER_CLEANUP(HttpServer, http_server_free);

/* The bound port (useful with PORT 0). */
uint16_t http_server_port(const HttpServer *s);
/* Extra GET paths (e.g. /debug/nodeports), rendered on the loop like
 * /metrics (at most once a second, from a snapshot): render returns 0 and a
 * malloc'd body, or < 0 (503).  Up to HTTP_SERVER_MAX_PATHS; -EEXIST when
 * the path is taken, -E2BIG when full.  Remove a path before its userdata
 * goes away. */
#define HTTP_SERVER_MAX_PATHS 8
typedef int (*http_render_fn)(void *userdata, char **ret_body, size_t *ret_len);
int http_server_add_path(HttpServer *s, const char *path, const char *content_type, http_render_fn render,
                         void *userdata);
void http_server_remove_path(HttpServer *s, const char *path);

/* How often the loop refreshed the snapshot (tests: the once-a-second bound). */
unsigned long http_server_refreshes(HttpServer *s);
