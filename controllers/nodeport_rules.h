/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The per-Service node-port rules (nodeport.md §5), pure: a Service in,
 * what it claims, what is wrong with it and what it lacks out; and the fill
 * plan of §5.2 against an allocator.  No events, no writes: the controller
 * (nodeport.c) decides what to do with the result, online and offline. */

#include <stdbool.h>
#include <stdint.h>

#include "nodeport_alloc.h"
#include "service.h"

#define NODEPORT_FIELD_MAX 48   /* "spec.ports[<i>].nodePort" */
#define NODEPORT_MESSAGE_MAX 256

typedef enum NodePortProblemKind {
        NODEPORT_PROBLEM_INVALID,        /* InvalidNodePort: a port the type does not use */
        NODEPORT_PROBLEM_DUPLICATE,      /* PortAlreadyAllocated: twice inside the Service */
} NodePortProblemKind;

typedef struct NodePortServiceProblem {
        NodePortProblemKind kind;
        int64_t port;
        char message[NODEPORT_MESSAGE_MAX]; /* InvalidNodePort's text; empty otherwise */
} NodePortServiceProblem;

typedef struct NodePortMissing {
        char field[NODEPORT_FIELD_MAX];  /* "spec.ports[1].nodePort", "spec.healthCheckNodePort" */
} NodePortMissing;

/* What one Service claims (§5.4), each distinct port once, in spec order
 * (node ports first, then the health-check port). */
typedef struct NodePortClaims {
        size_t n_claims;
        int64_t *claims;
        size_t n_problems;
        NodePortServiceProblem *problems;
        size_t n_missing;
        NodePortMissing *missing;
} NodePortClaims;

bool nodeport_service_uses_node_ports(const Service *s);
bool nodeport_service_needs_health_check(const Service *s);

int nodeport_claims_compute(const Service *s, NodePortClaims *ret);
void nodeport_claims_done(NodePortClaims *c);

/* §5.2 on a Service without bad explicit values: the node ports to write.
 * Takes the picks from `alloc` (offline: start points from FNV-1a of
 * "<ns>/<name>/port/<port>" and "<ns>/<name>/healthCheckNodePort"; online:
 * next_random() when not NULL).  All or nothing: on -ENOSPC every pick is
 * released again.  *ret_ports (n_ports entries) and *ret_hc are the filled
 * values; *ret_picked lists the picks (for the in-flight set). */
typedef uint64_t (*nodeport_random_fn)(void *userdata);
typedef struct NodePortFill {
        int32_t *node_ports;     /* s->n_ports entries */
        int32_t health_check_node_port;
        size_t n_picked;
        int32_t *picked;
        bool changed;
} NodePortFill;
int nodeport_fill_plan(const Service *s, NodePortAlloc *alloc, nodeport_random_fn next_random, void *userdata,
                       NodePortFill *ret);
void nodeport_fill_done(NodePortFill *f);
