/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpointslice_desired.h"

struct SliceDesired {
        size_t n_sets;
        SlicePortSet *sets;              /* each set's ports array owned */
        SliceAddressTypeWant types[2];
        SliceWantEndpoint *endpoints[2];
        char **addresses;                /* every address string (owned), for freeing */
        size_t n_addresses;
        const char ***address_lists;     /* per endpoint (owned arrays) */
        size_t n_address_lists;
};

SliceDesired *endpointslice_desired_free(SliceDesired *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_sets; i++)
                free((void *) d->sets[i].ports);
        free(d->sets);
        for (size_t t = 0; t < 2; t++)
                free(d->endpoints[t]);
        for (size_t i = 0; i < d->n_addresses; i++)
                free(d->addresses[i]);
        free(d->addresses);
        for (size_t i = 0; i < d->n_address_lists; i++)
                free(d->address_lists[i]);
        free(d->address_lists);
        free(d);
        return NULL;
}

static bool same_ports(const SlicePortSet *s, const EndpointPortValue *v, size_t n) {
        if (s->n_ports != n)
                return false;
        for (size_t i = 0; i < n; i++) {
                const EndpointSlicePort *p = &s->ports[i];
                if (!streq(p->name, strempty(v[i].name)) || !streq_ptr(p->protocol, v[i].protocol) ||
                    !streq_ptr(p->app_protocol, v[i].app_protocol) || p->port != v[i].port)
                        return false;
        }
        return true;
}

/* The index of the pod's port set, added when new (strings borrowed from svc). */
static int port_set_index(SliceDesired *d, const EndpointPortValue *v, size_t n, size_t *ret) {
        for (size_t i = 0; i < d->n_sets; i++)
                if (same_ports(&d->sets[i], v, n)) {
                        *ret = i;
                        return 0;
                }
        SlicePortSet *sets = reallocarray(d->sets, d->n_sets + 1, sizeof(SlicePortSet));
        if (!sets)
                return -ENOMEM;
        d->sets = sets;
        EndpointSlicePort *ports = new0(EndpointSlicePort, n + 1);
        if (!ports)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ports[i] = (EndpointSlicePort) {
                        .name = strempty(v[i].name), /* slices always write a name (§5.3) */
                        .protocol = v[i].protocol,
                        .app_protocol = v[i].app_protocol,
                        .has_port = true,
                        .port = v[i].port,
                };
        d->sets[d->n_sets] = (SlicePortSet) { .n_ports = n, .ports = ports };
        *ret = d->n_sets++;
        return 0;
}

static const char *address_type_name(IpFamily f) {
        return f == IP_FAMILY_V6 ? "IPv6" : "IPv4";
}

/* Every IP of family the pod has, canonical and valid (§5.1, §5.4). */
static int pod_addresses(SliceDesired *d, const Pod *pod, IpFamily family, EndpointProblems *problems,
                         const char *const **ret, size_t *ret_n) {
        size_t n = 0;
        const char **list = new0(const char *, pod->pod_ips.n + 1);
        void *p;

        if (!list)
                return -ENOMEM;
        p = reallocarray(d->address_lists, d->n_address_lists + 1, sizeof(char **));
        if (!p) {
                free(list);
                return -ENOMEM;
        }
        d->address_lists = p;
        d->address_lists[d->n_address_lists++] = list;
        for (size_t i = 0; i < pod->pod_ips.n; i++) {
                char buf[IP_ADDR_STRLEN];
                bool dup = false;
                if (endpoint_ip_family(pod->pod_ips.items[i]) != family ||
                    endpoint_address_check(pod->pod_ips.items[i], buf, problems) < 0)
                        continue;
                for (size_t k = 0; k < n; k++)
                        dup = dup || streq(list[k], buf);
                if (dup)
                        continue;
                p = reallocarray(d->addresses, d->n_addresses + 1, sizeof(char *));
                if (!p)
                        return -ENOMEM;
                d->addresses = p;
                d->addresses[d->n_addresses] = strdup(buf);
                if (!d->addresses[d->n_addresses])
                        return -ENOMEM;
                list[n++] = d->addresses[d->n_addresses++];
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int endpointslice_desired_build(const Service *svc, const Pod *const *pods, size_t n_pods, const Cache *nodes,
                                slice_problems_fn problems_fn, void *userdata, SliceDesired **ret,
                                EndpointSliceWant *ret_want, char **ret_node_missing) {
        _cleanup_(endpointslice_desired_freep) SliceDesired *d = new0(SliceDesired, 1);
        _cleanup_free_ EndpointPortValue *ports = NULL;
        _cleanup_free_ char *node_missing = NULL;
        IpFamily families[2];
        size_t n_types;
        int r;

        if (!d)
                return -ENOMEM;
        ports = new0(EndpointPortValue, svc->n_ports + 1);
        if (!ports)
                return -ENOMEM;
        n_types = endpoint_slice_address_types(svc, families);
        for (size_t t = 0; t < n_types; t++) {
                d->types[t].address_type = address_type_name(families[t]);
                d->endpoints[t] = new0(SliceWantEndpoint, n_pods + 1);
                if (!d->endpoints[t])
                        return -ENOMEM;
                d->types[t].endpoints = d->endpoints[t];
        }

        for (size_t i = 0; i < n_pods; i++) {
                const Pod *pod = pods[i];
                EndpointProblems problems = {};
                EndpointConditions cond;
                EndpointPodFields fields;
                const char *zone = NULL;
                size_t n_ports = 0, set = 0;

                if (!endpoint_pod_selected(svc, pod) || !endpoint_pod_slice_conditions(svc, pod, &cond))
                        continue;
                if (nodes && endpoint_node_zone(nodes, pod, &zone) == -ENOENT) {
                        zone = NULL;
                        if (!svc->publish_not_ready_addresses) {
                                if (!node_missing &&
                                    asprintf(&node_missing, "skipping Pod %s for Service %s/%s: Node %s Not Found",
                                             pod->object.meta.name, svc->object.meta.namespace,
                                             svc->object.meta.name, strempty(pod->node_name)) < 0)
                                        return -ENOMEM;
                                continue;
                        }
                }
                endpoint_pod_fields(svc, pod, &fields, &problems);
                endpoint_pod_ports(svc, pod, true, ports, &n_ports, &problems);
                r = port_set_index(d, ports, n_ports, &set);
                for (size_t t = 0; r >= 0 && t < n_types; t++) {
                        const char *const *addrs = NULL;
                        size_t n_addrs = 0;
                        r = pod_addresses(d, pod, families[t], &problems, &addrs, &n_addrs);
                        if (r < 0 || n_addrs == 0)
                                continue;
                        d->endpoints[t][d->types[t].n_endpoints++] = (SliceWantEndpoint) {
                                .n_addresses = n_addrs,
                                .addresses = addrs,
                                .ready = cond.ready,
                                .serving = cond.serving,
                                .terminating = cond.terminating,
                                .hostname = fields.hostname,
                                .node_name = fields.node_name,
                                .zone = zone,
                                .pod_namespace = fields.namespace,
                                .pod_name = fields.name,
                                .pod_uid = fields.uid,
                                .port_set = set,
                        };
                }
                if (r >= 0 && problems.n > 0 && problems_fn)
                        problems_fn(pod, &problems, userdata);
                endpoint_problems_done(&problems);
                if (r < 0)
                        return r;
        }

        *ret_want = (EndpointSliceWant) {
                .service = svc,
                .n_port_sets = d->n_sets,
                .port_sets = d->sets,
                .n_address_types = n_types,
                .address_types = d->types,
        };
        if (ret_node_missing)
                *ret_node_missing = TAKE_PTR(node_missing);
        *ret = TAKE_PTR(d);
        return 0;
}
