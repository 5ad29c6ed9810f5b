/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The endpointslice controller (endpoints.md §7, §8): registered in
 * registry.c as "endpointslice". */

#include "registry.h"

int endpointslice_controller_new(const ControllerContext *ctx, Controller **ret);
/* The endpoint_slice queue (NULL before start()); for tests. */
WorkQueue *endpointslice_controller_queue(Controller *base);
