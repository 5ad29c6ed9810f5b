/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The input of endpointslice_reconcile() built from cached objects with the
 * shared pod model (endpoint_pod.h, endpoints.md §4–§5): which pods count,
 * their conditions, addresses per address type, fields, zone and port set.
 * Pure: no writes, no clock. */

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"
#include "endpoint_pod.h"
#include "endpointslice_reconcile.h"

typedef void (*slice_problems_fn)(const Pod *pod, const EndpointProblems *problems, void *userdata);

typedef struct SliceDesired SliceDesired;

/* Fills the Service, port sets and address types of *ret_want (the caller
 * adds hints, the maximum, trigger time and existing slices).  pods: any
 * pods (only those §4 selects count).  nodes: the Node cache, or NULL when
 * no Node is known at all (offline without Nodes: nobody is skipped).  A
 * pod whose Node is not cached is skipped unless publishNotReadyAddresses
 * (§5.2); *ret_node_missing then names the first such pod/node. */
int endpointslice_desired_build(const Service *svc, const Pod *const *pods, size_t n_pods, const Cache *nodes,
                                slice_problems_fn problems_fn, void *userdata, SliceDesired **ret,
                                EndpointSliceWant *ret_want, char **ret_node_missing);
SliceDesired *endpointslice_desired_free(SliceDesired *d);
DEFINE_POINTER_CLEANUP(SliceDesired, endpointslice_desired_free);
