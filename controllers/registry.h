/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The controllers berth-controller can run (--controllers), and how main()
 * drives them.  A controller registers one init function in
 * controller_registry[] (registry.c); main() calls it for every enabled
 * controller, on both sources alike:
 *
 *   init   - ask the source for the caches it needs (source_cache) and set
 *            up work queues and handlers; no writes yet.  Handlers may
 *            queue keys, but nothing is reconciled before start.
 *   start  - this replica leads (or runs offline): begin reconciling.
 *            Called once, after every cache of the source has synced.
 *   idle   - nothing queued, delayed or in flight: offline --once stops
 *            when the source has no pending write and every controller is
 *            idle.  NULL means always idle.
 *   free   - stop and release everything (the source outlives it). */

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "cli.h"
#include "controller_flags.h"
#include "http_server.h"
#include "metrics.h"
#include "queue.h"
#include "source.h"

typedef struct ControllerContext {
        sd_event *event;
        Source *source;
        const CliSpec *cli;             /* for cli_feature_gate_enabled() */
        const CliOptions *options;      /* namespace, feature gates, ... */
        MetricsRegistry *metrics;       /* NULL when metrics are off (offline) */
        bool offline;                   /* virtual time for work queues */
        const char *reporting_instance; /* the holder identity; "offline" offline (lbipam.md §13.3) */
        const ControllerFlags *flags;   /* the controllers' own flags (controller_flags.h) */
        HttpServer *http;               /* the metrics listener, for extra paths; NULL offline or when off */
        workqueue_clock_fn queue_clock; /* unit tests: the work queues' clock; NULL = CLOCK_MONOTONIC */
        void *queue_clock_userdata;
} ControllerContext;

typedef struct Controller Controller;
struct Controller {
        const char *name;
        int (*start)(Controller *c);
        bool (*idle)(Controller *c);
        void (*free)(Controller *c);
};

typedef int (*controller_init_fn)(const ControllerContext *ctx, Controller **ret);

typedef struct ControllerRegistration {
        const char *name;        /* the --controllers name */
        controller_init_fn init; /* NULL: accepted by --controllers, not built yet */
} ControllerRegistration;

/* Every known controller, in start order; terminated by { NULL, NULL }. */
extern const ControllerRegistration controller_registry[];
/* The names alone (NULL-terminated), for CliSpec.controllers. */
extern const char *const controller_names[];
