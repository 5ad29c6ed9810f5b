/* SPDX-License-Identifier: Apache-2.0 */
#include "controller_flags.h"
#include "endpoint_triggers.h"
#include "endpointslice_reconcile.h"
#include "nodeport.h"

static int parse_concurrent_endpoint_syncs(const char *value, void *userdata, char **ret_why) {
        return endpoint_workers_parse(value, &((ControllerFlags *) userdata)->concurrent_endpoint_syncs, ret_why);
}

static int parse_endpoint_batch(const char *value, void *userdata, char **ret_why) {
        return endpoint_batch_period_parse(value, &((ControllerFlags *) userdata)->endpoint_updates_batch_period,
                                           ret_why);
}

static int parse_concurrent_service_endpoint_syncs(const char *value, void *userdata, char **ret_why) {
        return endpoint_workers_parse(value, &((ControllerFlags *) userdata)->concurrent_service_endpoint_syncs,
                                      ret_why);
}

static int parse_endpointslice_batch(const char *value, void *userdata, char **ret_why) {
        return endpoint_batch_period_parse(value,
                                           &((ControllerFlags *) userdata)->endpointslice_updates_batch_period,
                                           ret_why);
}

static int parse_max_endpoints(const char *value, void *userdata, char **ret_why) {
        return endpointslice_parse_max_endpoints(value, &((ControllerFlags *) userdata)->max_endpoints_per_slice,
                                                 ret_why);
}

const CliExtraOption controller_cli_options[CONTROLLER_CLI_OPTIONS_N] = {
        { "concurrent-endpoint-syncs", CLI_ARG_REQUIRED, "N",
          "Endpoints syncs that may run at once (default 5)", parse_concurrent_endpoint_syncs },
        { "endpoint-updates-batch-period", CLI_ARG_REQUIRED, "DURATION",
          "Delay of pod-triggered Endpoints syncs, to batch them (default 0)", parse_endpoint_batch },
        { "concurrent-service-endpoint-syncs", CLI_ARG_REQUIRED, "N",
          "EndpointSlice syncs that may run at once (default 5)", parse_concurrent_service_endpoint_syncs },
        { "endpointslice-updates-batch-period", CLI_ARG_REQUIRED, "DURATION",
          "Delay of pod-triggered EndpointSlice syncs, to batch them (default 0)", parse_endpointslice_batch },
        { "max-endpoints-per-slice", CLI_ARG_REQUIRED, "N",
          "Endpoints per EndpointSlice, 1..1000 (default 100)", parse_max_endpoints },
        { "nodeport-role", CLI_ARG_REQUIRED, "ROLE",
          "auto: fill missing node ports (offline, or when one is seen); audit: never write (default auto)",
          nodeport_parse_role_flag },
        { "service-node-port-range", CLI_ARG_REQUIRED, "RANGE",
          "Node ports, as kube-apiserver's flag of the same name (default 30000-32767)", nodeport_parse_range_flag },
        { "nodeport-audit-interval", CLI_ARG_REQUIRED, "DURATION",
          "Time between full node-port audit passes (default 3m)", nodeport_parse_audit_interval_flag },
};
