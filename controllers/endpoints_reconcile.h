/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The desired v1 Endpoints of one Service (endpoints.md §6.1–§6.4, §6.6):
 * pure, cached objects in, a complete Endpoints object out.  No network,
 * no clock; the controller (endpoints.c) decides whether and how to write. */

#include <stdbool.h>
#include <stddef.h>

#include "endpoint_pod.h"
#include "endpoints.h"
#include "pod.h"
#include "service.h"

#define ENDPOINTS_MANAGED_BY_LABEL "endpoints.kubernetes.io/managed-by"
#define ENDPOINTS_MANAGED_BY_BERTH "endpoint-controller.berth.io"
#define ENDPOINTS_MANAGED_BY_UPSTREAM "endpoint-controller"
#define ENDPOINTS_HEADLESS_LABEL "service.kubernetes.io/headless"
#define ENDPOINTS_OVER_CAPACITY_ANNOTATION "endpoints.kubernetes.io/over-capacity"
#define ENDPOINTS_OVER_CAPACITY_VALUE "truncated"
#define ENDPOINTS_LEADER_ANNOTATION "control-plane.alpha.kubernetes.io/leader"
#define ENDPOINTS_MAX_ADDRESSES 1000

/* Called for each pod that had values dropped (§5.4), in pod order. */
typedef void (*endpoints_problems_fn)(const Pod *pod, const EndpointProblems *problems, void *userdata);

typedef struct EndpointsBuildResult {
        KubeObject *object;  /* the desired Endpoints (kind Endpoints), strings interned in the pool given */
        size_t n_ready;      /* addresses after truncation, summed over subsets */
        size_t n_not_ready;
        bool over_capacity;  /* §6.3 truncated */
        size_t n_dropped_subsets; /* §6.3 step 4 */
} EndpointsBuildResult;

/* Builds the desired Endpoints for svc from pods (any pods; only those
 * §4 selects count) with:
 *   - subsets grouped (§6.1), ordered (§6.2), truncated to 1000 (§6.3);
 *   - labels of §6.4;
 *   - annotations: those of cached (when not NULL) kept, the over-capacity
 *     one set or removed, the trigger-time one set to trigger_time
 *     (removed when 0);
 *   - resourceVersion of cached (a PUT body), none otherwise.
 * problems_fn (may be NULL) hears about every dropped value. */
int endpoints_build(const Service *svc, const Pod *const *pods, size_t n_pods, const Endpoints *cached,
                    usec_t trigger_time, StrPool *pool, endpoints_problems_fn problems_fn, void *userdata,
                    EndpointsBuildResult *ret);

/* §6.3 on a subset list in place (already in §6.2 order): cuts address
 * lists, drops subsets left empty (*ret_dropped), returns true when it cut. */
bool endpoints_truncate(EndpointSubset **subsets, size_t *n_subsets, StrPool *pool, size_t max,
                        size_t *ret_dropped);
/* The §6.3 keep count for one list: ceil((n / total) × budget) in IEEE doubles. */
size_t endpoints_truncate_keep(size_t n, size_t total, size_t budget);

/* §6.2 orders (exported for tests and for the slice controller's tie rules). */
int endpoint_address_compare(const EndpointAddress *a, const EndpointAddress *b);
int endpoint_port_compare(const EndpointPort *a, const EndpointPort *b);
int endpoint_subset_compare(const EndpointSubset *a, const EndpointSubset *b);
/* Sorts every list and the subsets themselves (§6.2). */
void endpoints_subsets_sort(EndpointSubset *subsets, size_t n);

/* §6.6: desired and cached are equal for the purpose of writing:
 * subsets order-insensitive, nil ≡ empty, targetRef.resourceVersion
 * ignored; labels compared whole; the over-capacity annotation compared;
 * the trigger-time annotation (and every other annotation) ignored. */
bool endpoints_semantic_equal(const Endpoints *desired, const Endpoints *cached);

/* Who wrote an Endpoints object, by its managed-by label. */
typedef enum EndpointsManager {
        ENDPOINTS_MANAGER_NONE = 0, /* no managed-by label */
        ENDPOINTS_MANAGER_BERTH,
        ENDPOINTS_MANAGER_UPSTREAM,
        ENDPOINTS_MANAGER_OTHER,
} EndpointsManager;
EndpointsManager endpoints_manager(const KubeObject *endpoints);
