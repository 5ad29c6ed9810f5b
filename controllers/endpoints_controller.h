/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The `endpoints` controller: one v1 Endpoints object per selector Service
 * (endpoints.md).  The desired object comes from endpoints_reconcile.c;
 * this file is the wiring: caches, the `endpoint` work queue, writes with
 * stale-cache protection, events and metrics. */

#include "queue.h"
#include "registry.h"

#define ENDPOINTS_REPORTING_CONTROLLER "berth.io/endpoint-controller"
#define ENDPOINTS_ACTION "SyncEndpoints"
#define ENDPOINTS_QUEUE_NAME "endpoint"

int endpoints_controller_init(const ControllerContext *ctx, Controller **ret);

/* The controller's work queue (tests step it with workqueue_run()). */
WorkQueue *endpoints_controller_queue(Controller *c);
