/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The flags berth-controller's controllers add to the common command line
 * (kube-controller-manager's names, endpoints.md §1, §8.3).  main() parses
 * them into one ControllerFlags and hands it to every controller through
 * ControllerContext.flags.  A controller that needs a flag adds a field, its
 * default in CONTROLLER_FLAGS_INIT and an entry in controller_cli_options[]
 * (and bumps CONTROLLER_CLI_OPTIONS_N). */

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "timeutil.h"

typedef struct ControllerFlags {
        /* endpoints (endpoints.md §8.3) */
        unsigned concurrent_endpoint_syncs;           /* --concurrent-endpoint-syncs, 5 */
        usec_t endpoint_updates_batch_period;         /* --endpoint-updates-batch-period, 0 */
        /* endpointslice (endpoints.md §1, §8.3) */
        unsigned concurrent_service_endpoint_syncs;   /* --concurrent-service-endpoint-syncs, 5 */
        usec_t endpointslice_updates_batch_period;    /* --endpointslice-updates-batch-period, 0 */
        unsigned max_endpoints_per_slice;             /* --max-endpoints-per-slice, 100 (1..1000) */
        /* nodeport (nodeport.md §1, §2, §6) */
        bool nodeport_audit_only;                     /* --nodeport-role=audit; default auto */
        int32_t nodeport_range_first;                 /* --service-node-port-range, 30000-32767 */
        int32_t nodeport_range_size;
        usec_t nodeport_audit_interval;               /* --nodeport-audit-interval, 3m */
        /* lbipam (lbipam.md §1, §4); owned strings, freed by controller_flags_done() */
        char *lb_class;                               /* --lb-class; NULL = Services without a class */
        char *config_namespace;                       /* --config-namespace; NULL = --namespace */
} ControllerFlags;

/* An initializer: ControllerFlags f = CONTROLLER_FLAGS_INIT; */
#define CONTROLLER_FLAGS_INIT                                   \
        {                                                       \
                .concurrent_endpoint_syncs = 5,                 \
                .concurrent_service_endpoint_syncs = 5,         \
                .max_endpoints_per_slice = 100,                 \
                .nodeport_range_first = 30000,                  \
                .nodeport_range_size = 2768,                    \
                .nodeport_audit_interval = 180 * USEC_PER_SEC,   \
        }

/* For CliSpec.extra (extra_userdata = the ControllerFlags to fill). */
#define CONTROLLER_CLI_OPTIONS_N 10
extern const CliExtraOption controller_cli_options[CONTROLLER_CLI_OPTIONS_N];

void controller_flags_done(ControllerFlags *f);
