/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "pod.h"

static const char *const pod_annotations[] = { NULL }; /* none are used */

const char *pod_phase_to_string(PodPhase p) {
        static const char *const names[] = {
                [POD_PHASE_UNSET] = NULL,          [POD_PHASE_PENDING] = "Pending",
                [POD_PHASE_RUNNING] = "Running",   [POD_PHASE_SUCCEEDED] = "Succeeded",
                [POD_PHASE_FAILED] = "Failed",     [POD_PHASE_UNKNOWN] = "Unknown",
        };
        return (size_t) p < ELEMENTSOF(names) ? names[p] : NULL;
}

static PodPhase phase_from_string(const char *s) {
        if (!s)
                return POD_PHASE_UNSET;
        for (PodPhase p = POD_PHASE_PENDING; p <= POD_PHASE_UNKNOWN; p++)
                if (streq(s, pod_phase_to_string(p)))
                        return p;
        return POD_PHASE_UNKNOWN;
}

static void pod_destroy(KubeObject *o) {
        Pod *p = (Pod *) o;
        StrPool *pool = o->pool;
        strpool_release(pool, p->node_name);
        strpool_release(pool, p->hostname);
        strpool_release(pool, p->subdomain);
        for (size_t i = 0; i < p->n_ports; i++) {
                strpool_release(pool, p->ports[i].name);
                strpool_release(pool, p->ports[i].protocol);
        }
        free(p->ports);
        strlist_done(&p->pod_ips);
}

/* Counts (count_only) or appends the named ports of one container list. */
static int decode_container_ports(Pod *p, StrPool *pool, const JsonValue *spec, const char *list, bool sidecars,
                                  size_t *count, char **err) {
        const JsonValue *containers = NULL, *c;
        int r;

        if ((r = dec_array(spec, list, &containers, err, "spec")) <= 0)
                return r;
        for (size_t ci = 0; (c = json_array_at(containers, ci)); ci++) {
                const JsonValue *ports = NULL, *port;
                if (json_type(c) != JSON_OBJECT)
                        return decode_error(err, "spec.%s[%zu]: expected an object", list, ci);
                if (sidecars) {
                        const char *policy = NULL;
                        if ((r = dec_string_ref(c, "restartPolicy", &policy, err, "spec.%s[%zu]", list, ci)) < 0)
                                return r;
                        if (!policy || !streq(policy, "Always"))
                                continue;
                }
                if ((r = dec_array(c, "ports", &ports, err, "spec.%s[%zu]", list, ci)) < 0)
                        return r;
                for (size_t pi = 0; (port = json_array_at(ports, pi)); pi++) {
                        const char *name = NULL;
                        int32_t number = 0;
                        if (json_type(port) != JSON_OBJECT)
                                return decode_error(err, "spec.%s[%zu].ports[%zu]: expected an object", list, ci,
                                                    pi);
                        if ((r = dec_string_ref(port, "name", &name, err, "spec.%s[%zu].ports[%zu]", list, ci, pi)) <
                                    0 ||
                            (r = dec_int32(port, "containerPort", &number, err, "spec.%s[%zu].ports[%zu]", list, ci,
                                           pi)) < 0)
                                return r;
                        if (isempty(name))
                                continue;
                        if (!p) {
                                (*count)++;
                                continue;
                        }
                        PodPort *pp = &p->ports[p->n_ports++];
                        pp->port = number;
                        pp->sidecar = sidecars;
                        pp->name = strpool_intern0(pool, name);
                        if (!pp->name)
                                return -ENOMEM;
                        if ((r = dec_intern(pool, port, "protocol", &pp->protocol, err, "spec.%s[%zu].ports[%zu]",
                                            list, ci, pi)) < 0 ||
                            (r = protocol_default(pool, &pp->protocol)) < 0)
                                return r;
                }
        }
        return 0;
}

static int decode_status(Pod *p, const JsonValue *status, char **err) {
        const JsonValue *ips = NULL, *conds = NULL, *c;
        const char *phase = NULL, *pod_ip = NULL;
        int r;

        if ((r = dec_string_ref(status, "phase", &phase, err, "status")) < 0)
                return r;
        p->phase = phase_from_string(phase);

        if ((r = dec_array(status, "podIPs", &ips, err, "status")) < 0)
                return r;
        if (json_array_len(ips) > 0) {
                const char *small[4];
                const char **strs = small;
                size_t n = json_array_len(ips);
                if (n > ELEMENTSOF(small) && !(strs = new0(const char *, n)))
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const JsonValue *e = json_array_at(ips, i);
                        const char *ip = NULL;
                        if (json_type(e) != JSON_OBJECT)
                                r = decode_error(err, "status.podIPs[%zu]: expected an object", i);
                        else
                                r = dec_string_ref(e, "ip", &ip, err, "status.podIPs[%zu]", i);
                        if (r >= 0 && !ip)
                                r = decode_error(err, "status.podIPs[%zu].ip: required", i);
                        if (r < 0) {
                                if (strs != small)
                                        free(strs);
                                return r;
                        }
                        strs[i] = ip;
                }
                r = strlist_from(strs, n, &p->pod_ips);
                if (strs != small)
                        free(strs);
                if (r < 0)
                        return r;
        } else {
                /* endpoints.md §3: podIPs empty but podIP set -> [podIP]. */
                if ((r = dec_string_ref(status, "podIP", &pod_ip, err, "status")) < 0)
                        return r;
                if (!isempty(pod_ip) && (r = strlist_from(&pod_ip, 1, &p->pod_ips)) < 0)
                        return r;
        }

        if ((r = dec_array(status, "conditions", &conds, err, "status")) < 0)
                return r;
        for (size_t i = 0; (c = json_array_at(conds, i)); i++) {
                const char *type = NULL, *st = NULL;
                if (json_type(c) != JSON_OBJECT)
                        return decode_error(err, "status.conditions[%zu]: expected an object", i);
                if ((r = dec_string_ref(c, "type", &type, err, "status.conditions[%zu]", i)) < 0)
                        return r;
                if (!type || !streq(type, "Ready"))
                        continue;
                if ((r = dec_string_ref(c, "status", &st, err, "status.conditions[%zu]", i)) < 0 ||
                    (r = dec_time(c, "lastTransitionTime", &p->ready_transition_time, err, "status.conditions[%zu]",
                                  i)) < 0)
                        return r;
                p->ready = st ? condition_status_from_string(st) : CONDITION_UNKNOWN;
                break;
        }
        return 0;
}

static int pod_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *spec = NULL, *status = NULL;
        StrPool *pool = ctx->pool;
        size_t n_ports = 0;
        Pod *p;
        int r;

        p = kube_object_alloc(&kube_kind_pod, sizeof(Pod), pool);
        if (!p)
                return -ENOMEM;
        o = &p->object;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, pod_annotations, &o->meta, err)) < 0)
                return r;
        if ((r = dec_object(v, "spec", &spec, err, "%s", "")) < 0 || (r = dec_object(v, "status", &status, err, "%s", "")) < 0)
                return r;
        if (spec) {
                if ((r = dec_intern(pool, spec, "nodeName", &p->node_name, err, "spec")) < 0 ||
                    (r = dec_intern(pool, spec, "hostname", &p->hostname, err, "spec")) < 0 ||
                    (r = dec_intern(pool, spec, "subdomain", &p->subdomain, err, "spec")) < 0)
                        return r;
                /* Two passes: count, then fill one exactly sized array. */
                if ((r = decode_container_ports(NULL, pool, spec, "containers", false, &n_ports, err)) < 0 ||
                    (r = decode_container_ports(NULL, pool, spec, "initContainers", true, &n_ports, err)) < 0)
                        return r;
                if (n_ports > 0) {
                        p->ports = new0(PodPort, n_ports);
                        if (!p->ports)
                                return -ENOMEM;
                        if ((r = decode_container_ports(p, pool, spec, "containers", false, NULL, err)) < 0 ||
                            (r = decode_container_ports(p, pool, spec, "initContainers", true, NULL, err)) < 0)
                                return r;
                }
        }
        if (status && (r = decode_status(p, status, err)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t pod_memory_size(const KubeObject *o) {
        const Pod *p = POD(o);
        return heap_size(sizeof(Pod)) + object_meta_memory_size(&o->meta) +
               (p->ports ? heap_size(p->n_ports * sizeof(PodPort)) : 0) + strlist_memory_size(&p->pod_ips);
}

const KubeKind kube_kind_pod = {
        .kind = "Pod",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "pods",
        .namespaced = true,
        .decode = pod_decode,
        .destroy = pod_destroy,
        .memory_size = pod_memory_size,
};
