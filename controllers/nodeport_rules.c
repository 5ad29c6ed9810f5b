/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "nodeport_rules.h"

bool nodeport_service_uses_node_ports(const Service *s) {
        return s->type == SERVICE_TYPE_NODE_PORT || s->type == SERVICE_TYPE_LOAD_BALANCER;
}

bool nodeport_service_needs_health_check(const Service *s) {
        return s->type == SERVICE_TYPE_LOAD_BALANCER && s->external_traffic_policy == TRAFFIC_POLICY_LOCAL;
}

static bool lb_without_node_ports(const Service *s) {
        return s->type == SERVICE_TYPE_LOAD_BALANCER && s->allocate_load_balancer_node_ports == KUBE_FALSE;
}

static const char *type_name(const Service *s) {
        if (s->type_name)
                return s->type_name;
        return "ClusterIP";
}

static bool is_tcp(const char *protocol) {
        return !protocol || streq(protocol, "TCP");
}

static int add_problem(NodePortClaims *c, NodePortProblemKind kind, int64_t port, const char *message) {
        NodePortServiceProblem *p = reallocarray(c->problems, c->n_problems + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        c->problems = p;
        p = &p[c->n_problems++];
        *p = (NodePortServiceProblem) { .kind = kind, .port = port };
        if (message)
                (void) snprintf(p->message, sizeof(p->message), "%s", message);
        return 0;
}

static int add_claim(NodePortClaims *c, int64_t port) {
        int64_t *a = reallocarray(c->claims, c->n_claims + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->claims = a;
        c->claims[c->n_claims++] = port;
        return 0;
}

static int add_missing(NodePortClaims *c, const char *field) {
        NodePortMissing *m = reallocarray(c->missing, c->n_missing + 1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        c->missing = m;
        (void) snprintf(m[c->n_missing++].field, sizeof(m->field), "%s", field);
        return 0;
}

/* Index of the first earlier port with this node port, or -1. */
static ssize_t earlier_with(const Service *s, size_t i, int32_t node_port, bool same_protocol) {
        for (size_t j = 0; j < i; j++) {
                if (s->ports[j].node_port != node_port)
                        continue;
                if (same_protocol && !streq_ptr(s->ports[j].protocol, s->ports[i].protocol))
                        continue;
                return (ssize_t) j;
        }
        return -1;
}

int nodeport_claims_compute(const Service *s, NodePortClaims *ret) {
        _cleanup_(nodeport_claims_done) NodePortClaims c = {};
        bool uses = nodeport_service_uses_node_ports(s), needs_hc = nodeport_service_needs_health_check(s);
        char buf[NODEPORT_MESSAGE_MAX];
        int r;

        for (size_t i = 0; i < s->n_ports; i++) {
                int32_t np = s->ports[i].node_port;

                if (np == 0) {
                        if (uses && !lb_without_node_ports(s)) {
                                (void) snprintf(buf, sizeof(buf), "spec.ports[%zu].nodePort", i);
                                if ((r = add_missing(&c, buf)) < 0)
                                        return r;
                        }
                        continue;
                }
                if (!uses) {
                        (void) snprintf(buf, sizeof(buf),
                                        "spec.ports[%zu].nodePort: Forbidden: may not be used when `type` is '%s'", i,
                                        type_name(s));
                        if ((r = add_problem(&c, NODEPORT_PROBLEM_INVALID, np, buf)) < 0)
                                return r;
                        continue;
                }
                if (earlier_with(s, i, np, true) >= 0) {
                        /* same node port, same protocol: a duplicate, reported once per port */
                        bool seen = false;
                        for (size_t k = 0; k < c.n_problems; k++)
                                seen = seen || (c.problems[k].kind == NODEPORT_PROBLEM_DUPLICATE &&
                                                c.problems[k].port == np);
                        if (!seen && (r = add_problem(&c, NODEPORT_PROBLEM_DUPLICATE, np, NULL)) < 0)
                                return r;
                        continue;
                }
                if (earlier_with(s, i, np, false) >= 0)
                        continue; /* another protocol on the same node port: one claim */
                if ((r = add_claim(&c, np)) < 0)
                        return r;
        }

        if (s->health_check_node_port != 0 && !needs_hc) {
                (void) snprintf(buf, sizeof(buf),
                                "spec.healthCheckNodePort: Invalid value: %" PRIi32
                                ": may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                                s->health_check_node_port);
                if ((r = add_problem(&c, NODEPORT_PROBLEM_INVALID, s->health_check_node_port, buf)) < 0)
                        return r;
        } else if (s->health_check_node_port != 0) {
                bool shared = false, tcp = false;
                for (size_t i = 0; i < s->n_ports; i++)
                        if (s->ports[i].node_port == s->health_check_node_port) {
                                shared = true;
                                tcp = tcp || is_tcp(s->ports[i].protocol);
                        }
                if (tcp)
                        r = add_problem(&c, NODEPORT_PROBLEM_DUPLICATE, s->health_check_node_port, NULL);
                else if (!shared)
                        r = add_claim(&c, s->health_check_node_port);
                else
                        r = 0; /* a UDP/SCTP node port: one claim */
                if (r < 0)
                        return r;
        } else if (needs_hc) {
                if ((r = add_missing(&c, "spec.healthCheckNodePort")) < 0)
                        return r;
        }

        *ret = c;
        c = (NodePortClaims) {};
        return 0;
}

void nodeport_claims_done(NodePortClaims *c) {
        free(c->claims);
        free(c->problems);
        free(c->missing);
        *c = (NodePortClaims) {};
}

static int pick(const Service *s, NodePortAlloc *alloc, const char *what, nodeport_random_fn next_random,
                void *userdata, NodePortFill *f, int32_t *ret) {
        char key[1024];
        uint64_t start;
        int32_t *p;
        int r;

        if (next_random)
                start = next_random(userdata);
        else {
                (void) snprintf(key, sizeof(key), "%s/%s/%s", strempty(s->object.meta.namespace),
                                s->object.meta.name, what);
                start = nodeport_fnv1a64(key);
        }
        p = reallocarray(f->picked, f->n_picked + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        f->picked = p;
        r = nodeport_alloc_allocate_next(alloc, start, ret);
        if (r < 0)
                return r;
        f->picked[f->n_picked++] = *ret;
        f->changed = true;
        return 0;
}

int nodeport_fill_plan(const Service *s, NodePortAlloc *alloc, nodeport_random_fn next_random, void *userdata,
                       NodePortFill *ret) {
        _cleanup_(nodeport_fill_done) NodePortFill f = {};
        bool uses = nodeport_service_uses_node_ports(s);
        char what[64];
        int r = 0;

        f.node_ports = new0(int32_t, s->n_ports ? s->n_ports : 1);
        if (!f.node_ports)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_ports; i++)
                f.node_ports[i] = s->ports[i].node_port;
        f.health_check_node_port = s->health_check_node_port;

        for (size_t i = 0; uses && i < s->n_ports; i++) {
                int32_t number = s->ports[i].port;
                ssize_t first = -1;

                if (s->ports[i].node_port == 0 && lb_without_node_ports(s))
                        continue;
                /* the first port with this number that took part decides for the number */
                for (size_t j = 0; j < i && first < 0; j++)
                        if (s->ports[j].port == number && f.node_ports[j] != 0)
                                first = (ssize_t) j;
                if (first >= 0) {
                        if (f.node_ports[i] == 0) {
                                f.node_ports[i] = f.node_ports[first];
                                f.changed = true;
                        }
                        continue; /* same value shared, or its own explicit claim */
                }
                if (f.node_ports[i] != 0)
                        continue;
                for (size_t j = i + 1; j < s->n_ports && f.node_ports[i] == 0; j++)
                        if (s->ports[j].port == number && s->ports[j].node_port != 0) {
                                f.node_ports[i] = s->ports[j].node_port;
                                f.changed = true;
                        }
                if (f.node_ports[i] != 0)
                        continue;
                (void) snprintf(what, sizeof(what), "port/%" PRIi32, number);
                r = pick(s, alloc, what, next_random, userdata, &f, &f.node_ports[i]);
                if (r < 0)
                        break;
        }
        if (r >= 0 && nodeport_service_needs_health_check(s) && f.health_check_node_port == 0)
                r = pick(s, alloc, "healthCheckNodePort", next_random, userdata, &f, &f.health_check_node_port);
        if (r < 0) {
                for (size_t k = 0; k < f.n_picked; k++)
                        (void) nodeport_alloc_release(alloc, f.picked[k]);
                return r;
        }
        *ret = f;
        f = (NodePortFill) {};
        return 0;
}

void nodeport_fill_done(NodePortFill *f) {
        free(f->node_ports);
        free(f->picked);
        *f = (NodePortFill) {};
}
