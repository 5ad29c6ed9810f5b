/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pod → endpoint model shared by the endpoints and endpointslice
 * controllers (endpoints.md §4–§5), so the two can never disagree about a
 * pod.  Everything here is pure: cached objects in, plain values out.
 *
 * Typical use, per (Service, pod) in a sync:
 *
 *   if (!endpoint_pod_selected(svc, pod)) skip;
 *   Endpoints: m = endpoint_pod_endpoints_membership(svc, pod);
 *   Slices:    endpoint_pod_slice_conditions(svc, pod, &cond);
 *   IP:        f = endpoint_endpoints_family(svc, pod)  (slices: endpoint_slice_address_types)
 *              then endpoint_pod_address(pod, f, buf, problems)  (slices: one per IP of the family)
 *   fields:    endpoint_pod_fields(svc, pod, &fields, problems)
 *   ports:     endpoint_pod_ports(svc, pod, for_slices, ports, &n, problems)
 *
 * Values the API server would reject are never returned: they are left out
 * and described in an EndpointProblems list (§5.4).  The controller turns
 * each problem into a log line, the berth_endpoints_dropped_total{kind,reason}
 * metric and, for address and port drops, the EndpointAddressDropped /
 * EndpointPortDropped Warning event — once per (pod uid, problem), with
 * EndpointProblemMemory. */

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"
#include "net.h"
#include "node.h"
#include "pod.h"
#include "service.h"

/* ---- §4 which pods count ---------------------------------------------------- */

/* The pod is in the Service's namespace and its labels match spec.selector
 * (an empty map matches every pod).  A Service without selector (nil)
 * selects nothing. */
bool endpoint_pod_selected(const Service *svc, const Pod *pod);

/* The pods of the cache that svc selects, in cache order: *ret_pods is a
 * malloc'd array (NULL when none) of pointers borrowed from the cache. */
int endpoint_selected_pods(const Cache *pods, const Service *svc, const Pod ***ret_pods, size_t *ret_n);

/* Readiness = the Ready condition is "True"; nothing else is consulted. */
static inline bool endpoint_pod_ready(const Pod *pod) {
        return pod->ready == CONDITION_TRUE;
}

typedef enum EndpointsMembership {
        ENDPOINTS_POD_OMITTED = 0,
        ENDPOINTS_POD_READY,     /* subsets[].addresses */
        ENDPOINTS_POD_NOT_READY, /* subsets[].notReadyAddresses */
} EndpointsMembership;

/* The v1 Endpoints column of §4 (terminal phase, no podIPs, terminating,
 * publishNotReadyAddresses, Ready).  Family and port rows are separate:
 * endpoint_endpoints_family() and endpoint_pod_ports(). */
EndpointsMembership endpoint_pod_endpoints_membership(const Service *svc, const Pod *pod);

typedef struct EndpointConditions {
        bool ready;
        bool serving;
        bool terminating;
} EndpointConditions;

/* The EndpointSlice column of §4: false when the pod is omitted (terminal
 * phase or no podIPs), else true and the three conditions (always written). */
bool endpoint_pod_slice_conditions(const Service *svc, const Pod *pod, EndpointConditions *ret);

/* ---- §5.1 IP families ------------------------------------------------------- */

/* The family of an IP as the endpoint controllers count it: parsed sloppily
 * (as the apiserver parses pod IPs), an IPv4-mapped IPv6 address is IPv4;
 * text that does not parse counts as IPv4 (it is "not IPv6", as upstream
 * counts it) so that it is picked and then dropped by §5.4 with
 * "must be a valid IP address" instead of vanishing silently. */
IpFamily endpoint_ip_family(const char *ip);

/* Endpoints (single family): spec.ipFamilies[0]; else the family of
 * clusterIP when it is an IP; else (headless) the family of the pod's first
 * IP.  IP_FAMILY_NONE when the pod has no IP at all. */
IpFamily endpoint_endpoints_family(const Service *svc, const Pod *pod);

/* Slices: one address type per spec.ipFamilies entry; else the family of
 * clusterIP when it is an IP; else both (IPv4 then IPv6).  Returns how many
 * were written to ret (1 or 2). */
size_t endpoint_slice_address_types(const Service *svc, IpFamily ret[static 2]);

/* ---- problems (§5.4) -------------------------------------------------------- */

typedef enum EndpointProblemKind {
        ENDPOINT_PROBLEM_ADDRESS,   /* address dropped      -> EndpointAddressDropped */
        ENDPOINT_PROBLEM_PORT,      /* port dropped         -> EndpointPortDropped */
        ENDPOINT_PROBLEM_HOSTNAME,  /* hostname omitted     (log + metric only) */
        ENDPOINT_PROBLEM_NODE_NAME, /* nodeName omitted     (log + metric only) */
        ENDPOINT_PROBLEM_APP_PROTOCOL, /* port written without appProtocol (log + metric only) */
        ENDPOINT_PROBLEM_SUBSET,    /* subset dropped       (log + metric only) */
        _ENDPOINT_PROBLEM_KIND_MAX,
} EndpointProblemKind;

typedef struct EndpointProblem {
        EndpointProblemKind kind;
        const char *reason; /* static, the metric's reason label: "invalid_ip", "loopback", "port_range", ... */
        char *subject;      /* what was dropped: the IP as written, the port name or number, the hostname... */
        char *message;      /* the apiserver's message ("may not be unspecified (0.0.0.0)") */
} EndpointProblem;

typedef struct EndpointProblems {
        size_t n;
        EndpointProblem *items;
} EndpointProblems;

void endpoint_problems_done(EndpointProblems *p);
/* Appends a problem (subject and message are copied). */
int endpoint_problems_add(EndpointProblems *p, EndpointProblemKind kind, const char *reason, const char *subject,
                          const char *message);
/* "address", "port", "hostname", "nodeName", "appProtocol", "subset": the metric's kind label. */
const char *endpoint_problem_kind_to_string(EndpointProblemKind k);

/* The Warning event for a problem about pod, or -ENOENT when the problem
 * gets no event (only address and port drops do).  ret_reason is static;
 * ret_note malloc'd:
 *   EndpointAddressDropped  "Dropped address <ip> of pod <ns>/<pod>: <message>"
 *   EndpointPortDropped     "Dropped port <port-name-or-number> for pod <ns>/<pod>: <message>" */
int endpoint_problem_event(const EndpointProblem *p, const Pod *pod, const char **ret_reason, char **ret_note);

/* Remembers which (pod uid, problem) pairs were already reported, so each
 * is reported once, not on every sync. */
typedef struct EndpointProblemMemory EndpointProblemMemory;
int endpoint_problem_memory_new(EndpointProblemMemory **ret);
EndpointProblemMemory *endpoint_problem_memory_free(EndpointProblemMemory *m);
DEFINE_POINTER_CLEANUP(EndpointProblemMemory, endpoint_problem_memory_free);
/* 1 the first time (pod_uid, problem) is seen, 0 afterwards, -ENOMEM. */
int endpoint_problem_memory_first(EndpointProblemMemory *m, const char *pod_uid, const EndpointProblem *p);
/* Forgets every problem of a pod (call on pod delete). */
void endpoint_problem_memory_forget_pod(EndpointProblemMemory *m, const char *pod_uid);
size_t endpoint_problem_memory_size(const EndpointProblemMemory *m);

/* ---- §5.1 + §5.4 addresses ------------------------------------------------- */

/* Checks one IP against the apiserver's rules.  Valid: 0 and the canonical
 * text in ret (IPv4 dotted decimal, IPv6 RFC 5952, IPv4-mapped as IPv4).
 * Invalid: -EINVAL and, when problems is not NULL, an ADDRESS problem
 * (subject = ip as written). */
int endpoint_address_check(const char *ip, char ret[static IP_ADDR_STRLEN], EndpointProblems *problems);

/* The first podIPs entry of family, validated: 0 and the canonical IP;
 * -ENOENT when the pod has no IP of that family; -EINVAL when it has one
 * but it is rejected (problem added).  Endpoints use this. */
int endpoint_pod_address(const Pod *pod, IpFamily family, char ret[static IP_ADDR_STRLEN],
                         EndpointProblems *problems);

/* ---- §5.2 fields ------------------------------------------------------------ */

typedef struct EndpointPodFields {
        const char *node_name; /* spec.nodeName; NULL when empty or not a DNS-1123 subdomain */
        const char *hostname;  /* spec.hostname iff subdomain == Service name and a valid label; else NULL */
        /* targetRef {kind: Pod, namespace, name, uid}: */
        const char *namespace;
        const char *name;
        const char *uid;
} EndpointPodFields;

/* Fills ret (strings borrowed from pod and svc; valid while they are). */
void endpoint_pod_fields(const Service *svc, const Pod *pod, EndpointPodFields *ret, EndpointProblems *problems);

/* The zone of the pod's Node (slices, §5.2): 0 and *ret_zone (NULL when the
 * Node has no zone label, or when the pod has no node name); -ENOENT when
 * the Node is not in nodes.  Borrowed from the cached Node. */
int endpoint_node_zone(const Cache *nodes, const Pod *pod, const char **ret_zone);

/* ---- §5.3 + §5.4 ports ------------------------------------------------------ */

typedef struct EndpointPortValue {
        const char *name;         /* the Service port's name; NULL when unnamed */
        const char *protocol;     /* "TCP", "UDP", "SCTP" */
        const char *app_protocol; /* NULL when unset or dropped */
        int32_t port;             /* resolved target port, 1..65535 */
} EndpointPortValue;

/* Resolves every Service port for pod (§5.3) and drops what the apiserver
 * would reject (§5.4).  ret must hold svc->n_ports entries; they are
 * written in Service spec order, *ret_n = how many survive.  Strings are
 * borrowed from svc.  for_slices adds the slice-only rule (duplicate port
 * names: the later is dropped).  A named targetPort that no container
 * (nor sidecar init container) declares with the same protocol is skipped
 * without a problem (not a validation error). */
void endpoint_pod_ports(const Service *svc, const Pod *pod, bool for_slices, EndpointPortValue *ret, size_t *ret_n,
                        EndpointProblems *problems);

/* Port identity and §6.2 order: name, port, protocol, appProtocol (unset first). */
int endpoint_port_value_compare(const EndpointPortValue *a, const EndpointPortValue *b);
