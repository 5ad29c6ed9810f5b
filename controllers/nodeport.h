/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The nodeport controller (nodeport.md): keeps a bitmap of the node-port
 * range built from the Services it watches, audits it (duplicates, ports
 * out of range, exhaustion, high use per band) and, as the allocating
 * authority (offline; online when it sees a Service lacking a port), fills
 * missing nodePort / healthCheckNodePort values.  Its state is served as
 * JSON at GET /debug/nodeports on the metrics listener. */

#include "registry.h"

#define NODEPORT_REPORTING_CONTROLLER "berth.io/nodeport-allocator"
#define NODEPORT_ACTION "PortAllocation"
#define NODEPORT_DEBUG_PATH "/debug/nodeports"

int nodeport_controller_init(const ControllerContext *ctx, Controller **ret);

/* Flag parsers for controller_flags.c (userdata: the ControllerFlags). */
int nodeport_parse_role_flag(const char *value, void *userdata, char **ret_why);
int nodeport_parse_range_flag(const char *value, void *userdata, char **ret_why);
int nodeport_parse_audit_interval_flag(const char *value, void *userdata, char **ret_why);

/* For tests and benchmarks: a controller without sd-event timers (a pass
 * runs when nodeport_controller_full_pass() is called).  Events go through
 * the source's recorder as usual. */
typedef struct NodePortController NodePortController;
int nodeport_controller_full_pass(Controller *c);
/* The /debug/nodeports document. */
int nodeport_controller_render_json(Controller *c, char **ret, size_t *ret_len);
