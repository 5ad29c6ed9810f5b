/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Any value is accepted: an unknown class simply matches no Service. */
static int parse_string(const char *value, char **target, char **ret_why) {
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*target);
        *target = copy;
        (void) ret_why;
        return 0;
}

static int parse_lb_class(const char *value, void *userdata, char **ret_why) {
        return parse_string(value, &((ControllerFlags *) userdata)->lb_class, ret_why);
}

static int parse_config_namespace(const char *value, void *userdata, char **ret_why) {
        if (!*value) {
                *ret_why = strdup("must not be empty");
                return *ret_why ? -EINVAL : -ENOMEM;
        }
        return parse_string(value, &((ControllerFlags *) userdata)->config_namespace, ret_why);
}

void controller_flags_done(ControllerFlags *f) {
        free(f->lb_class);
        f->lb_class = NULL;
        free(f->config_namespace);
        f->config_namespace = NULL;
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
        { "lb-class", CLI_ARG_REQUIRED, "CLASS",
          "Handle only LoadBalancer Services of this loadBalancerClass (default: those without a class)",
          parse_lb_class },
        { "config-namespace", CLI_ARG_REQUIRED, "NS",
          "Namespace of the IPAddressPools and L2Advertisements (default: --namespace)", parse_config_namespace },
};
