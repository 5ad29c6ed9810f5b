/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "service.h"

static const char *const service_annotations[] = {
        "metallb.io/loadBalancerIPs",
        "metallb.io/address-pool",
        "metallb.io/allow-shared-ip",
        "metallb.io/ip-allocated-from-pool",
        "metallb.universe.tf/loadBalancerIPs",
        "metallb.universe.tf/address-pool",
        "metallb.universe.tf/allow-shared-ip",
        "metallb.universe.tf/ip-allocated-from-pool",
        SERVICE_ANNOTATION_TOPOLOGY_MODE,
        NULL,
};

IpFamily service_ip_family_of(const char *ip) {
        unsigned char buf[16];
        if (!ip)
                return IP_FAMILY_NONE;
        if (inet_pton(AF_INET, ip, buf) == 1)
                return IP_FAMILY_V4;
        if (inet_pton(AF_INET6, ip, buf) == 1)
                return IP_FAMILY_V6;
        return IP_FAMILY_NONE;
}

bool service_is_headless(const Service *s) {
        return isempty(s->cluster_ip) || streq(s->cluster_ip, "None");
}

const char *service_metallb_annotation(const Service *s, const char *key, bool *ret_legacy) {
        char buf[128];
        const char *v;
        snprintf(buf, sizeof buf, SERVICE_ANNOTATION_METALLB_PREFIX "%s", key);
        v = strmap_get(&s->object.meta.annotations, buf);
        if (!isempty(v)) {
                if (ret_legacy)
                        *ret_legacy = false;
                return v;
        }
        snprintf(buf, sizeof buf, SERVICE_ANNOTATION_LEGACY_PREFIX "%s", key);
        v = strmap_get(&s->object.meta.annotations, buf);
        if (!isempty(v)) {
                if (ret_legacy)
                        *ret_legacy = true;
                return v;
        }
        return NULL;
}

static void service_destroy(KubeObject *o) {
        Service *s = (Service *) o;
        StrPool *pool = o->pool;
        strpool_release(pool, s->type_name);
        strmap_done(&s->selector, pool);
        free(s->cluster_ip);
        strlist_done(&s->cluster_ips);
        for (size_t i = 0; i < s->n_ports; i++) {
                strpool_release(pool, s->ports[i].name);
                strpool_release(pool, s->ports[i].protocol);
                strpool_release(pool, s->ports[i].app_protocol);
                strpool_release(pool, s->ports[i].target_port.str);
        }
        free(s->ports);
        free(s->load_balancer_ip);
        strpool_release(pool, s->load_balancer_class);
        strpool_release(pool, s->traffic_distribution);
        for (size_t i = 0; i < s->n_ingress; i++) {
                free(s->ingress[i].ip);
                free(s->ingress[i].hostname);
                strpool_release(pool, s->ingress[i].ip_mode);
        }
        free(s->ingress);
        conditions_done(&s->conditions, pool);
}

static int decode_ports(Service *s, StrPool *pool, const JsonValue *spec, char **err) {
        const JsonValue *ports = NULL, *p;
        int r;

        if ((r = dec_array(spec, "ports", &ports, err, "spec")) <= 0 || json_array_len(ports) == 0)
                return r;
        s->ports = new0(ServicePort, json_array_len(ports));
        if (!s->ports)
                return -ENOMEM;
        for (size_t i = 0; (p = json_array_at(ports, i)); i++) {
                ServicePort *sp = &s->ports[s->n_ports++];
                const JsonValue *tp;
                if (json_type(p) != JSON_OBJECT)
                        return decode_error(err, "spec.ports[%zu]: expected an object", i);
                if ((r = dec_intern(pool, p, "name", &sp->name, err, "spec.ports[%zu]", i)) < 0 ||
                    (r = dec_intern(pool, p, "protocol", &sp->protocol, err, "spec.ports[%zu]", i)) < 0 ||
                    (r = dec_intern(pool, p, "appProtocol", &sp->app_protocol, err, "spec.ports[%zu]", i)) < 0 ||
                    (r = dec_int32(p, "port", &sp->port, err, "spec.ports[%zu]", i)) < 0 ||
                    (r = dec_int32(p, "nodePort", &sp->node_port, err, "spec.ports[%zu]", i)) < 0 ||
                    (r = protocol_default(pool, &sp->protocol)) < 0)
                        return r;
                tp = json_get(p, "targetPort");
                if (json_type(tp) == JSON_STRING) {
                        sp->target_port.is_string = true;
                        sp->target_port.str = strpool_intern(pool, json_string(tp), json_string_len(tp));
                        if (!sp->target_port.str)
                                return -ENOMEM;
                } else if (tp && !json_is_null(tp) && json_type(tp) != JSON_NUMBER)
                        return decode_error(err, "spec.ports[%zu].targetPort: expected an integer or a string", i);
                else if ((r = dec_int32(p, "targetPort", &sp->target_port.num, err, "spec.ports[%zu]", i)) < 0)
                        return r;
                /* endpoints.md §3: missing or 0 -> the Service port. */
                if (!sp->target_port.is_string && sp->target_port.num == 0)
                        sp->target_port.num = sp->port;
        }
        return 0;
}

static int decode_families(Service *s, const JsonValue *spec, char **err) {
        const JsonValue *fams = NULL, *f;
        const char *policy = NULL, *etp = NULL;
        int r;

        if ((r = dec_array(spec, "ipFamilies", &fams, err, "spec")) < 0)
                return r;
        if (json_array_len(fams) > 2)
                return decode_error(err, "spec.ipFamilies: at most two entries are allowed");
        for (size_t i = 0; (f = json_array_at(fams, i)); i++) {
                const char *name = json_string(f);
                if (!name)
                        return decode_error(err, "spec.ipFamilies[%zu]: expected a string", i);
                if (streq(name, "IPv4"))
                        s->ip_families[s->n_ip_families++] = IP_FAMILY_V4;
                else if (streq(name, "IPv6"))
                        s->ip_families[s->n_ip_families++] = IP_FAMILY_V6;
                else
                        return decode_error(err, "spec.ipFamilies[%zu]: unsupported value \"%s\"", i, name);
        }
        /* endpoints.md §3: missing -> the family of clusterIP when it is an IP. */
        if (s->n_ip_families == 0) {
                IpFamily fam = service_ip_family_of(s->cluster_ip);
                if (fam != IP_FAMILY_NONE)
                        s->ip_families[s->n_ip_families++] = fam;
        }

        if ((r = dec_string_ref(spec, "ipFamilyPolicy", &policy, err, "spec")) < 0)
                return r;
        if (!policy)
                s->ip_family_policy = IP_FAMILY_POLICY_UNSET;
        else if (streq(policy, "SingleStack"))
                s->ip_family_policy = IP_FAMILY_POLICY_SINGLE_STACK;
        else if (streq(policy, "PreferDualStack"))
                s->ip_family_policy = IP_FAMILY_POLICY_PREFER_DUAL_STACK;
        else if (streq(policy, "RequireDualStack"))
                s->ip_family_policy = IP_FAMILY_POLICY_REQUIRE_DUAL_STACK;
        else
                return decode_error(err, "spec.ipFamilyPolicy: unsupported value \"%s\"", policy);

        if ((r = dec_string_ref(spec, "externalTrafficPolicy", &etp, err, "spec")) < 0)
                return r;
        if (!etp || !*etp)
                s->external_traffic_policy = TRAFFIC_POLICY_UNSET;
        else if (streq(etp, "Cluster") || streq(etp, "Global")) /* "Global": pre-1.22 spelling */
                s->external_traffic_policy = TRAFFIC_POLICY_CLUSTER;
        else if (streq(etp, "Local"))
                s->external_traffic_policy = TRAFFIC_POLICY_LOCAL;
        else
                return decode_error(err, "spec.externalTrafficPolicy: unsupported value \"%s\"", etp);
        return 0;
}

static int decode_status(Service *s, StrPool *pool, const JsonValue *status, char **err) {
        const JsonValue *lb = NULL, *ingress = NULL, *e;
        int r;

        if ((r = dec_object(status, "loadBalancer", &lb, err, "status")) < 0 ||
            (r = dec_array(lb, "ingress", &ingress, err, "status.loadBalancer")) < 0)
                return r;
        if (json_array_len(ingress) > 0) {
                s->ingress = new0(ServiceIngress, json_array_len(ingress));
                if (!s->ingress)
                        return -ENOMEM;
        }
        for (size_t i = 0; (e = json_array_at(ingress, i)); i++) {
                ServiceIngress *in = &s->ingress[s->n_ingress++];
                if (json_type(e) != JSON_OBJECT)
                        return decode_error(err, "status.loadBalancer.ingress[%zu]: expected an object", i);
                if ((r = dec_strdup(e, "ip", &in->ip, err, "status.loadBalancer.ingress[%zu]", i)) < 0 ||
                    (r = dec_strdup(e, "hostname", &in->hostname, err, "status.loadBalancer.ingress[%zu]", i)) < 0 ||
                    (r = dec_intern(pool, e, "ipMode", &in->ip_mode, err, "status.loadBalancer.ingress[%zu]", i)) <
                            0)
                        return r;
        }
        return conditions_decode(pool, status, "conditions", &s->conditions, err, "status");
}

static int service_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *spec = NULL, *status = NULL, *sel;
        StrPool *pool = ctx->pool;
        Service *s;
        int r;

        s = kube_object_alloc(&kube_kind_service, sizeof(Service), pool);
        if (!s)
                return -ENOMEM;
        o = &s->object;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, service_annotations, &o->meta, err)) < 0 ||
            (r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 || (r = dec_object(v, "status", &status, err, "%s", "")) < 0)
                return r;

        if ((r = dec_intern(pool, spec, "type", &s->type_name, err, "spec")) < 0)
                return r;
        if (!s->type_name || streq(s->type_name, "ClusterIP"))
                s->type = SERVICE_TYPE_CLUSTER_IP;
        else if (streq(s->type_name, "NodePort"))
                s->type = SERVICE_TYPE_NODE_PORT;
        else if (streq(s->type_name, "LoadBalancer"))
                s->type = SERVICE_TYPE_LOAD_BALANCER;
        else if (streq(s->type_name, "ExternalName"))
                s->type = SERVICE_TYPE_EXTERNAL_NAME;
        else
                s->type = SERVICE_TYPE_OTHER;

        sel = json_get(spec, "selector");
        if (sel && !json_is_null(sel)) {
                s->has_selector = true;
                if ((r = strmap_decode(pool, sel, NULL, &s->selector, err, "spec.selector")) < 0)
                        return r;
        }
        if ((r = dec_strdup(spec, "clusterIP", &s->cluster_ip, err, "spec")) < 0 ||
            (r = strlist_decode(spec, "clusterIPs", &s->cluster_ips, err, "spec")) < 0)
                return r;
        if (s->cluster_ips.n == 0 && !isempty(s->cluster_ip) &&
            (r = strlist_from((const char *const *) &s->cluster_ip, 1, &s->cluster_ips)) < 0)
                return r;
        if ((r = decode_ports(s, pool, spec, err)) < 0 || (r = decode_families(s, spec, err)) < 0)
                return r;
        if ((r = dec_bool(spec, "publishNotReadyAddresses", &s->publish_not_ready_addresses, err, "spec")) < 0 ||
            (r = dec_int32(spec, "healthCheckNodePort", &s->health_check_node_port, err, "spec")) < 0 ||
            (r = dec_tristate(spec, "allocateLoadBalancerNodePorts", &s->allocate_load_balancer_node_ports, err,
                              "spec")) < 0 ||
            (r = dec_strdup(spec, "loadBalancerIP", &s->load_balancer_ip, err, "spec")) < 0 ||
            (r = dec_intern(pool, spec, "loadBalancerClass", &s->load_balancer_class, err, "spec")) < 0 ||
            (r = dec_intern(pool, spec, "trafficDistribution", &s->traffic_distribution, err, "spec")) < 0)
                return r;
        if (status && (r = decode_status(s, pool, status, err)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t service_memory_size(const KubeObject *o) {
        const Service *s = SERVICE(o);
        size_t bytes = heap_size(sizeof(Service)) + object_meta_memory_size(&o->meta) +
                       strmap_memory_size(&s->selector) + heap_strsize(s->cluster_ip) +
                       strlist_memory_size(&s->cluster_ips) + heap_strsize(s->load_balancer_ip) +
                       conditions_memory_size(&s->conditions);
        if (s->ports)
                bytes += heap_size(s->n_ports * sizeof(ServicePort));
        if (s->ingress)
                bytes += heap_size(s->n_ingress * sizeof(ServiceIngress));
        for (size_t i = 0; i < s->n_ingress; i++)
                bytes += heap_strsize(s->ingress[i].ip) + heap_strsize(s->ingress[i].hostname);
        return bytes;
}

static int encode_resource_version(const ObjectMeta *m, yajl_gen g, bool close) {
        RET_NERRNO(json_gen_str(g, "metadata"));
        RET_NERRNO(json_gen_map_open(g));
        if (!isempty(m->resource_version))
                RET_NERRNO(json_gen_kv_str(g, "resourceVersion", m->resource_version));
        return close ? json_gen_map_close(g) : 0;
}

int service_status_patch_encode(const KubeObject *o, yajl_gen g) {
        const Service *s = SERVICE(o);
        const char *pool = strmap_get(&o->meta.annotations, SERVICE_ANNOTATION_POOL_ALLOCATED);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(encode_resource_version(&o->meta, g, false));
        RET_NERRNO(json_gen_str(g, "annotations"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(json_gen_kv_str(g, SERVICE_ANNOTATION_POOL_ALLOCATED, pool)); /* NULL writes null: removes */
        RET_NERRNO(json_gen_kv_str(g, SERVICE_ANNOTATION_POOL_ALLOCATED_LEGACY, NULL));
        RET_NERRNO(json_gen_map_close(g));
        RET_NERRNO(json_gen_map_close(g));

        RET_NERRNO(json_gen_str(g, "status"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(json_gen_str(g, "loadBalancer"));
        RET_NERRNO(json_gen_map_open(g));
        if (s->n_ingress > 0) {
                RET_NERRNO(json_gen_str(g, "ingress"));
                RET_NERRNO(json_gen_array_open(g));
                for (size_t i = 0; i < s->n_ingress; i++) {
                        RET_NERRNO(json_gen_map_open(g));
                        RET_NERRNO(gen_kv_str_opt(g, "ip", s->ingress[i].ip));
                        RET_NERRNO(gen_kv_str_opt(g, "hostname", s->ingress[i].hostname));
                        RET_NERRNO(gen_kv_str_opt(g, "ipMode", s->ingress[i].ip_mode));
                        RET_NERRNO(json_gen_map_close(g));
                }
                RET_NERRNO(json_gen_array_close(g));
        } else {
                /* Merge patch: null removes the list; {} alone would keep it. */
                RET_NERRNO(json_gen_kv_str(g, "ingress", NULL));
        }
        RET_NERRNO(json_gen_map_close(g));
        RET_NERRNO(json_gen_str(g, "conditions"));
        if (s->conditions.n > 0)
                RET_NERRNO(conditions_encode(&s->conditions, g));
        else
                RET_NERRNO(json_gen_null(g));
        RET_NERRNO(json_gen_map_close(g));
        return json_gen_map_close(g);
}

int service_node_ports_patch_encode(const Service *s, yajl_gen g) {
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(encode_resource_version(&s->object.meta, g, true));
        RET_NERRNO(json_gen_str(g, "spec"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(json_gen_str(g, "ports"));
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < s->n_ports; i++) {
                const ServicePort *p = &s->ports[i];
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(gen_kv_str_opt(g, "name", p->name));
                RET_NERRNO(gen_kv_str_opt(g, "protocol", p->protocol));
                RET_NERRNO(gen_kv_str_opt(g, "appProtocol", p->app_protocol));
                RET_NERRNO(json_gen_kv_int(g, "port", p->port));
                if (p->target_port.is_string)
                        RET_NERRNO(json_gen_kv_str(g, "targetPort", p->target_port.str));
                else
                        RET_NERRNO(json_gen_kv_int(g, "targetPort", p->target_port.num));
                if (p->node_port != 0)
                        RET_NERRNO(json_gen_kv_int(g, "nodePort", p->node_port));
                RET_NERRNO(json_gen_map_close(g));
        }
        RET_NERRNO(json_gen_array_close(g));
        if (s->health_check_node_port != 0)
                RET_NERRNO(json_gen_kv_int(g, "healthCheckNodePort", s->health_check_node_port));
        RET_NERRNO(json_gen_map_close(g));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_service = {
        .kind = "Service",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "services",
        .namespaced = true,
        .decode = service_decode,
        .destroy = service_destroy,
        .encode = service_status_patch_encode,
        .memory_size = service_memory_size,
};
