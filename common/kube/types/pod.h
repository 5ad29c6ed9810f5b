/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* v1 Pod: the projection of endpoints.md §9, filled while decoding.
 * Normalised as the API server would (endpoints.md §3): podIPs from podIP,
 * container port protocol TCP by default. */

#include "decode.h"

typedef enum PodPhase {
        POD_PHASE_UNSET = 0,
        POD_PHASE_PENDING,
        POD_PHASE_RUNNING,
        POD_PHASE_SUCCEEDED,
        POD_PHASE_FAILED,
        POD_PHASE_UNKNOWN, /* "Unknown" or any other value */
} PodPhase;

/* A named container port (unnamed ports cannot be a Service's named targetPort). */
typedef struct PodPort {
        const char *name;     /* interned */
        const char *protocol; /* interned, "TCP" by default */
        int32_t port;         /* containerPort */
        bool sidecar;         /* from an initContainer with restartPolicy: Always */
} PodPort;

typedef struct Pod {
        KubeObject object;
        const char *node_name; /* interned; NULL when unscheduled */
        const char *hostname;  /* interned */
        const char *subdomain; /* interned */
        PodPhase phase;
        ConditionStatus ready; /* the Ready condition; CONDITION_NONE when absent */
        usec_t ready_transition_time;
        size_t n_ports;        /* containers' ports in order, then sidecars' */
        PodPort *ports;
        StrList pod_ips;       /* status.podIPs[].ip as written */
} Pod;

extern const KubeKind kube_kind_pod;

static inline const Pod *POD(const KubeObject *o) {
        return (const Pod *) o;
}

static inline bool pod_is_terminal(const Pod *p) {
        return p->phase == POD_PHASE_SUCCEEDED || p->phase == POD_PHASE_FAILED;
}

const char *pod_phase_to_string(PodPhase p);
