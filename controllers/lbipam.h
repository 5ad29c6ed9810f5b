/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The lbipam controller (lbipam.md): gives every handled LoadBalancer
 * Service an address from the IPAddressPools of the configuration
 * namespace and writes it into the Service status, with the pool
 * annotation, the berth.io/LoadBalancerIPAllocated condition, events,
 * pool status counters and the metallb_allocator_* / berth_lbipam_*
 * metrics.  The reconcile itself is lbipam_reconcile.h; this file is the
 * wiring: caches, configuration reloads, the ordered passes of §13.2,
 * writes and their conflicts. */

#include "registry.h"

#define LBIPAM_REPORTING_CONTROLLER "berth.io/lbipam-controller"
#define LBIPAM_ACTION_ALLOCATE "AllocateIP"
#define LBIPAM_ACTION_VALIDATE "ValidateConfig"
#define LBIPAM_ACTION_POOL "UpdatePool"

int lbipam_controller_init(const ControllerContext *ctx, Controller **ret);
