/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_pod.h"
#include "labels.h"
#include "validation.h"

/* ---- §4 ------------------------------------------------------------------- */

bool endpoint_pod_selected(const Service *svc, const Pod *pod) {
        if (!svc->has_selector)
                return false;
        if (!streq_ptr(svc->object.meta.namespace, pod->object.meta.namespace))
                return false;
        return label_map_matches(&svc->selector, &pod->object.meta.labels);
}

typedef struct SelectedPods {
        const Service *svc;
        size_t n, allocated;
        const Pod **items;
} SelectedPods;

static int add_selected_pod(KubeObject *o, void *userdata) {
        SelectedPods *l = userdata;

        if (!endpoint_pod_selected(l->svc, POD(o)))
                return 0;
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1, 64))
                return -ENOMEM;
        l->items[l->n++] = POD(o);
        return 0;
}

int endpoint_selected_pods(const Cache *pods, const Service *svc, const Pod ***ret_pods, size_t *ret_n) {
        SelectedPods l = { .svc = svc };
        int r;

        r = cache_foreach(pods, svc->object.meta.namespace, add_selected_pod, &l);
        if (r < 0) {
                free(l.items);
                return r;
        }
        *ret_pods = l.items;
        *ret_n = l.n;
        return 0;
}

EndpointsMembership endpoint_pod_endpoints_membership(const Service *svc, const Pod *pod) {
        if (pod_is_terminal(pod) || pod->pod_ips.n == 0)
                return ENDPOINTS_POD_OMITTED;
        /* A terminating pod only stays when not-ready pods are published. */
        if (pod->object.meta.deletion_timestamp != 0 && !svc->publish_not_ready_addresses)
                return ENDPOINTS_POD_OMITTED;
        if (svc->publish_not_ready_addresses || endpoint_pod_ready(pod))
                return ENDPOINTS_POD_READY;
        return ENDPOINTS_POD_NOT_READY;
}

bool endpoint_pod_slice_conditions(const Service *svc, const Pod *pod, EndpointConditions *ret) {
        bool terminating, ready;

        if (pod_is_terminal(pod) || pod->pod_ips.n == 0)
                return false;
        terminating = pod->object.meta.deletion_timestamp != 0;
        ready = endpoint_pod_ready(pod);
        *ret = (EndpointConditions) {
                .ready = svc->publish_not_ready_addresses || (ready && !terminating),
                .serving = ready,
                .terminating = terminating,
        };
        return true;
}

/* ---- §5.1 ------------------------------------------------------------------ */

IpFamily endpoint_ip_family(const char *ip) {
        IpAddr a;

        if (ip && ip_addr_parse_sloppy(ip, &a) >= 0)
                return a.family;
        return IP_FAMILY_V4;
}

/* The family of clusterIP when it is an IP (not "None", not empty). */
static IpFamily cluster_ip_family(const Service *svc) {
        IpAddr a;

        if (isempty(svc->cluster_ip) || ip_addr_parse_sloppy(svc->cluster_ip, &a) < 0)
                return IP_FAMILY_NONE;
        return a.family;
}

IpFamily endpoint_endpoints_family(const Service *svc, const Pod *pod) {
        IpFamily f;

        if (pod->pod_ips.n == 0)
                return IP_FAMILY_NONE;
        if (svc->n_ip_families > 0)
                return svc->ip_families[0];
        f = cluster_ip_family(svc);
        if (f != IP_FAMILY_NONE)
                return f;
        return endpoint_ip_family(pod->pod_ips.items[0]);
}

size_t endpoint_slice_address_types(const Service *svc, IpFamily ret[static 2]) {
        IpFamily f;

        if (svc->n_ip_families > 0) {
                size_t n = 0;
                for (size_t i = 0; i < svc->n_ip_families && i < 2; i++) {
                        if (n == 1 && ret[0] == svc->ip_families[i])
                                continue;
                        ret[n++] = svc->ip_families[i];
                }
                return n;
        }
        f = cluster_ip_family(svc);
        if (f != IP_FAMILY_NONE) {
                ret[0] = f;
                return 1;
        }
        ret[0] = IP_FAMILY_V4;
        ret[1] = IP_FAMILY_V6;
        return 2;
}

/* ---- problems --------------------------------------------------------------- */

void endpoint_problems_done(EndpointProblems *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].subject);
                free(p->items[i].message);
        }
        free(p->items);
        *p = (EndpointProblems) {};
}

int endpoint_problems_add(EndpointProblems *p, EndpointProblemKind kind, const char *reason, const char *subject,
                          const char *message) {
        EndpointProblem *items;
        char *s, *m;

        if (!p)
                return 0;
        s = strdup(strempty(subject));
        m = strdup(strempty(message));
        items = realloc(p->items, (p->n + 1) * sizeof(EndpointProblem));
        if (!s || !m || !items) {
                free(s);
                free(m);
                if (items)
                        p->items = items;
                return -ENOMEM;
        }
        p->items = items;
        p->items[p->n++] = (EndpointProblem) { .kind = kind, .reason = reason, .subject = s, .message = m };
        return 0;
}

const char *endpoint_problem_kind_to_string(EndpointProblemKind k) {
        static const char *const names[_ENDPOINT_PROBLEM_KIND_MAX] = {
                [ENDPOINT_PROBLEM_ADDRESS] = "address",
                [ENDPOINT_PROBLEM_PORT] = "port",
                [ENDPOINT_PROBLEM_HOSTNAME] = "hostname",
                [ENDPOINT_PROBLEM_NODE_NAME] = "nodeName",
                [ENDPOINT_PROBLEM_APP_PROTOCOL] = "appProtocol",
                [ENDPOINT_PROBLEM_SUBSET] = "subset",
        };
        return (size_t) k < ELEMENTSOF(names) ? names[k] : NULL;
}

int endpoint_problem_event(const EndpointProblem *p, const Pod *pod, const char **ret_reason, char **ret_note) {
        const char *ns = strempty(pod->object.meta.namespace), *name = pod->object.meta.name;
        char *note = NULL;
        int r;

        switch (p->kind) {
        case ENDPOINT_PROBLEM_ADDRESS:
                *ret_reason = "EndpointAddressDropped";
                r = asprintf(&note, "Dropped address %s of pod %s/%s: %s", p->subject, ns, name, p->message);
                break;
        case ENDPOINT_PROBLEM_PORT:
                *ret_reason = "EndpointPortDropped";
                r = asprintf(&note, "Dropped port %s for pod %s/%s: %s", p->subject, ns, name, p->message);
                break;
        default:
                return -ENOENT;
        }
        if (r < 0)
                return -ENOMEM;
        *ret_note = note;
        return 0;
}

/* A sorted array of "uid\x1f<kind>\x1f<subject>\x1f<message>" keys: one
 * pod's problems are contiguous, so forgetting a pod is one range. */
struct EndpointProblemMemory {
        size_t n, allocated;
        char **keys;
};

int endpoint_problem_memory_new(EndpointProblemMemory **ret) {
        EndpointProblemMemory *m = new0(EndpointProblemMemory, 1);
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

EndpointProblemMemory *endpoint_problem_memory_free(EndpointProblemMemory *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                free(m->keys[i]);
        free(m->keys);
        free(m);
        return NULL;
}

/* First index whose key is >= key. */
static size_t memory_lower_bound(const EndpointProblemMemory *m, const char *key) {
        return sorted_lower_bound(m->keys, m->n, sizeof(char *), 0, key);
}

int endpoint_problem_memory_first(EndpointProblemMemory *m, const char *pod_uid, const EndpointProblem *p) {
        _cleanup_free_ char *key = NULL;
        size_t at;

        if (asprintf(&key, "%s\x1f%d\x1f%s\x1f%s", strempty(pod_uid), (int) p->kind, p->subject, p->message) < 0)
                return -ENOMEM;
        at = memory_lower_bound(m, key);
        if (at < m->n && streq(m->keys[at], key))
                return 0;
        if (!GREEDY_REALLOC(m->keys, m->allocated, m->n + 1, 16))
                return -ENOMEM;
        memmove(m->keys + at + 1, m->keys + at, (m->n - at) * sizeof(char *));
        m->keys[at] = TAKE_PTR(key);
        m->n++;
        return 1;
}

void endpoint_problem_memory_forget_pod(EndpointProblemMemory *m, const char *pod_uid) {
        _cleanup_free_ char *prefix = NULL;
        size_t from, to, len;

        if (!m || m->n == 0 || asprintf(&prefix, "%s\x1f", strempty(pod_uid)) < 0)
                return;
        len = strlen(prefix);
        from = memory_lower_bound(m, prefix);
        for (to = from; to < m->n && strncmp(m->keys[to], prefix, len) == 0; to++)
                free(m->keys[to]);
        memmove(m->keys + from, m->keys + to, (m->n - to) * sizeof(char *));
        m->n -= to - from;
}

size_t endpoint_problem_memory_size(const EndpointProblemMemory *m) {
        return m ? m->n : 0;
}

/* ---- addresses ---------------------------------------------------------------- */

int endpoint_address_check(const char *ip, char ret[static IP_ADDR_STRLEN], EndpointProblems *problems) {
        char buf[IP_ADDR_STRLEN], msg[128];
        const char *reason;
        IpAddr a;

        if (!ip || ip_addr_parse_sloppy(ip, &a) < 0) {
                (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_ADDRESS, "invalid_ip", ip,
                                             "must be a valid IP address");
                return -EINVAL;
        }
        ip_addr_format(&a, buf);
        switch (ip_addr_class(&a)) {
        case IP_CLASS_ORDINARY:
                memcpy(ret, buf, sizeof buf);
                return 0;
        case IP_CLASS_UNSPECIFIED:
                reason = "unspecified";
                snprintf(msg, sizeof msg, "may not be unspecified (%s)", ip);
                break;
        case IP_CLASS_LOOPBACK:
                reason = "loopback";
                snprintf(msg, sizeof msg, "%s", "may not be in the loopback range (127.0.0.0/8, ::1/128)");
                break;
        case IP_CLASS_LINK_LOCAL:
                reason = "link_local";
                snprintf(msg, sizeof msg, "%s", "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
                break;
        case IP_CLASS_LINK_LOCAL_MULTICAST:
        default:
                reason = "link_local_multicast";
                snprintf(msg, sizeof msg, "%s",
                         "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
                break;
        }
        (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_ADDRESS, reason, ip, msg);
        return -EINVAL;
}

int endpoint_pod_address(const Pod *pod, IpFamily family, char ret[static IP_ADDR_STRLEN],
                         EndpointProblems *problems) {
        for (size_t i = 0; i < pod->pod_ips.n; i++)
                if (endpoint_ip_family(pod->pod_ips.items[i]) == family)
                        return endpoint_address_check(pod->pod_ips.items[i], ret, problems);
        return -ENOENT;
}

/* ---- §5.2 -------------------------------------------------------------------- */

static void add_validation_problem(EndpointProblems *problems, EndpointProblemKind kind, const char *reason,
                                   const char *subject, char *message /* takes */) {
        (void) endpoint_problems_add(problems, kind, reason, subject, message);
        free(message);
}

void endpoint_pod_fields(const Service *svc, const Pod *pod, EndpointPodFields *ret, EndpointProblems *problems) {
        const char *node_name = NULL, *hostname = NULL;
        char *msg;

        if (!isempty(pod->node_name)) {
                if ((msg = validate_dns1123_subdomain(pod->node_name)))
                        add_validation_problem(problems, ENDPOINT_PROBLEM_NODE_NAME, "node_name", pod->node_name, msg);
                else
                        node_name = pod->node_name;
        }
        /* Any Service, headless or not: the pod asked to be <hostname>.<subdomain>. */
        if (!isempty(pod->hostname) && streq_ptr(pod->subdomain, svc->object.meta.name)) {
                if ((msg = validate_dns1123_label(pod->hostname)))
                        add_validation_problem(problems, ENDPOINT_PROBLEM_HOSTNAME, "hostname", pod->hostname, msg);
                else
                        hostname = pod->hostname;
        }
        *ret = (EndpointPodFields) {
                .node_name = node_name,
                .hostname = hostname,
                .namespace = pod->object.meta.namespace,
                .name = pod->object.meta.name,
                .uid = pod->object.meta.uid,
        };
}

int endpoint_node_zone(const Cache *nodes, const Pod *pod, const char **ret_zone) {
        KubeObject *o;

        if (isempty(pod->node_name)) {
                *ret_zone = NULL;
                return 0;
        }
        o = nodes ? cache_get(nodes, NULL, pod->node_name) : NULL;
        if (!o)
                return -ENOENT;
        *ret_zone = node_zone(NODE(o));
        return 0;
}

/* ---- §5.3 + §5.4 ports ------------------------------------------------------ */

static bool protocol_supported(const char *p) {
        return streq_ptr(p, "TCP") || streq_ptr(p, "UDP") || streq_ptr(p, "SCTP");
}

/* The "<port-name-or-number>" of the EndpointPortDropped event. */
static const char *port_subject(const ServicePort *sp, int32_t number, char buf[static 16]) {
        if (!isempty(sp->name))
                return sp->name;
        snprintf(buf, 16, "%" PRIi32, number);
        return buf;
}

static bool resolve_target_port(const ServicePort *sp, const Pod *pod, int32_t *ret) {
        if (!sp->target_port.is_string) {
                *ret = sp->target_port.num;
                return true;
        }
        /* Containers' ports come first in pod->ports, then sidecars': the
         * first match in that order is upstream's answer. */
        for (size_t i = 0; i < pod->n_ports; i++) {
                const PodPort *pp = &pod->ports[i];
                if (streq_ptr(pp->name, sp->target_port.str) && streq_ptr(pp->protocol, sp->protocol)) {
                        *ret = pp->port;
                        return true;
                }
        }
        return false;
}

/* Service-level checks that apply to every pod: false = drop the port. */
static bool service_port_usable(const Service *svc, size_t idx, bool for_slices, EndpointProblems *problems) {
        const ServicePort *sp = &svc->ports[idx];
        char buf[16], *msg;

        if (svc->n_ports > 1 && isempty(sp->name)) {
                (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_PORT, "port_name_required",
                                             port_subject(sp, sp->port, buf), "Required value");
                return false;
        }
        if (!isempty(sp->name) && (msg = validate_dns1123_label(sp->name))) {
                add_validation_problem(problems, ENDPOINT_PROBLEM_PORT, "port_name", sp->name, msg);
                return false;
        }
        if (!protocol_supported(sp->protocol)) {
                char m[160];
                snprintf(m, sizeof m, "Unsupported value: \"%s\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                         strempty(sp->protocol));
                (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_PORT, "protocol",
                                             port_subject(sp, sp->port, buf), m);
                return false;
        }
        if (for_slices)
                for (size_t j = 0; j < idx; j++)
                        if (streq(strempty(svc->ports[j].name), strempty(sp->name)) &&
                            service_port_usable(svc, j, for_slices, NULL)) {
                                char m[128];
                                snprintf(m, sizeof m, "Duplicate value: \"%s\"", strempty(sp->name));
                                (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_PORT, "port_name_duplicate",
                                                             port_subject(sp, sp->port, buf), m);
                                return false;
                        }
        return true;
}

void endpoint_pod_ports(const Service *svc, const Pod *pod, bool for_slices, EndpointPortValue *ret, size_t *ret_n,
                        EndpointProblems *problems) {
        size_t n = 0;

        for (size_t i = 0; i < svc->n_ports; i++) {
                const ServicePort *sp = &svc->ports[i];
                const char *app_protocol = sp->app_protocol;
                char buf[16], *msg;
                int32_t number;

                if (!service_port_usable(svc, i, for_slices, problems))
                        continue;
                if (!resolve_target_port(sp, pod, &number))
                        continue; /* not declared by this pod: upstream skips it quietly too */
                if (number < 1 || number > 65535) {
                        (void) endpoint_problems_add(problems, ENDPOINT_PROBLEM_PORT, "port_range",
                                                     port_subject(sp, number, buf),
                                                     "must be between 1 and 65535, inclusive");
                        continue;
                }
                if (app_protocol && (msg = validate_qualified_name(app_protocol))) {
                        add_validation_problem(problems, ENDPOINT_PROBLEM_APP_PROTOCOL, "app_protocol", app_protocol,
                                               msg);
                        app_protocol = NULL;
                }
                ret[n++] = (EndpointPortValue) {
                        .name = isempty(sp->name) ? NULL : sp->name,
                        .protocol = sp->protocol,
                        .app_protocol = app_protocol,
                        .port = number,
                };
        }
        *ret_n = n;
}

int endpoint_port_value_compare(const EndpointPortValue *a, const EndpointPortValue *b) {
        int c;

        if ((c = strcmp(strempty(a->name), strempty(b->name))) != 0)
                return c;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        if ((c = strcmp(strempty(a->protocol), strempty(b->protocol))) != 0)
                return c;
        return strcmp_null_first(a->app_protocol, b->app_protocol);
}
