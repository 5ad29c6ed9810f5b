/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* v1 Service: what endpoints.md, nodeport.md, lbipam.md and speaker.md read.
 * Normalised as the API server would (endpoints.md §3): port protocol TCP
 * by default, targetPort missing or 0 -> port, ipFamilies from clusterIP,
 * clusterIPs from clusterIP. */

#include "decode.h"
#include "net.h" /* IpFamily */

typedef enum ServiceType {
        SERVICE_TYPE_CLUSTER_IP = 0, /* also when spec.type is absent */
        SERVICE_TYPE_NODE_PORT,
        SERVICE_TYPE_LOAD_BALANCER,
        SERVICE_TYPE_EXTERNAL_NAME,
        SERVICE_TYPE_OTHER, /* see type_name */
} ServiceType;

typedef enum IPFamilyPolicy {
        IP_FAMILY_POLICY_UNSET = 0,
        IP_FAMILY_POLICY_SINGLE_STACK,
        IP_FAMILY_POLICY_PREFER_DUAL_STACK,
        IP_FAMILY_POLICY_REQUIRE_DUAL_STACK,
} IPFamilyPolicy;

typedef enum TrafficPolicy {
        TRAFFIC_POLICY_UNSET = 0,
        TRAFFIC_POLICY_CLUSTER,
        TRAFFIC_POLICY_LOCAL,
} TrafficPolicy;

typedef struct IntOrString {
        bool is_string;
        int32_t num;
        const char *str; /* interned, when is_string */
} IntOrString;

typedef struct ServicePort {
        const char *name;         /* interned; NULL when unnamed */
        const char *protocol;     /* interned; "TCP" by default */
        const char *app_protocol; /* interned; NULL when unset */
        int32_t port;
        IntOrString target_port;  /* normalised: never 0 */
        int32_t node_port;        /* 0 = unset */
} ServicePort;

typedef struct ServiceIngress {
        char *ip;                 /* NULL for hostname-only entries */
        char *hostname;
        const char *ip_mode;      /* interned; NULL when unset */
} ServiceIngress;

/* Annotation keys the decoder keeps (lbipam.md §1, §5, §10; endpoints.md §7). */
#define SERVICE_ANNOTATION_METALLB_PREFIX "metallb.io/"
#define SERVICE_ANNOTATION_LEGACY_PREFIX "metallb.universe.tf/"
#define SERVICE_ANNOTATION_POOL_ALLOCATED "metallb.io/ip-allocated-from-pool"
#define SERVICE_ANNOTATION_POOL_ALLOCATED_LEGACY "metallb.universe.tf/ip-allocated-from-pool"
#define SERVICE_ANNOTATION_TOPOLOGY_MODE "service.kubernetes.io/topology-mode"

typedef struct Service {
        KubeObject object;
        ServiceType type;
        const char *type_name;           /* interned spec.type as written; NULL when absent */
        bool has_selector;               /* spec.selector present (an empty map selects all pods) */
        StrMap selector;
        char *cluster_ip;
        StrList cluster_ips;
        size_t n_ip_families;
        IpFamily ip_families[2];      /* IP_FAMILY_V4 / IP_FAMILY_V6 */
        IPFamilyPolicy ip_family_policy;
        size_t n_ports;
        ServicePort *ports;
        bool publish_not_ready_addresses;
        TrafficPolicy external_traffic_policy;
        int32_t health_check_node_port;  /* 0 = unset */
        KubeTristate allocate_load_balancer_node_ports; /* unset means true */
        char *load_balancer_ip;
        const char *load_balancer_class; /* interned */
        const char *traffic_distribution;/* interned */
        /* status */
        size_t n_ingress;
        ServiceIngress *ingress;
        KubeConditions conditions;
} Service;

extern const KubeKind kube_kind_service;

static inline const Service *SERVICE(const KubeObject *o) {
        return (const Service *) o;
}

/* The metallb.io/<key> annotation, else metallb.universe.tf/<key>; empty
 * counts as absent (lbipam.md §5).  *ret_legacy tells which one was used. */
const char *service_metallb_annotation(const Service *s, const char *key, bool *ret_legacy);
bool service_is_headless(const Service *s); /* clusterIP None or empty */
/* The family of an IP literal (IPv4-mapped IPv6 counts as IPv6); IP_FAMILY_NONE when not an IP. */
IpFamily service_ip_family_of(const char *ip);

/* The body of a merge PATCH to services/<name>/status (lbipam.md §10):
 * metadata.resourceVersion (optimistic concurrency), the pool annotation
 * (legacy key removed), status.loadBalancer.ingress and status.conditions.
 * Not a PUT body: a PUT to /status replaces labels and annotations. */
int service_status_patch_encode(const KubeObject *o, yajl_gen g);
/* The body of a merge PATCH that fills node ports (nodeport.md §8):
 * metadata.resourceVersion, the full spec.ports list, healthCheckNodePort. */
int service_node_ports_patch_encode(const Service *s, yajl_gen g);
