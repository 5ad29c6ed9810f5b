/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_triggers.h"
#include "endpoints_reconcile.h"

/* ---- §6.2 orders --------------------------------------------------------------- */

int endpoint_address_compare(const EndpointAddress *a, const EndpointAddress *b) {
        int c;

        if ((c = strcmp(strempty(a->ip), strempty(b->ip))) != 0)
                return c;
        if (a->has_target_ref != b->has_target_ref)
                return a->has_target_ref ? 1 : -1; /* missing targetRef first */
        if (a->has_target_ref && (c = strcmp_null_first(a->target_ref.uid, b->target_ref.uid)) != 0)
                return c;
        /* Ties only in foreign objects: any total order keeps comparisons stable. */
        if ((c = strcmp(strempty(a->hostname), strempty(b->hostname))) != 0)
                return c;
        return strcmp(strempty(a->node_name), strempty(b->node_name));
}

int endpoint_port_compare(const EndpointPort *a, const EndpointPort *b) {
        /* The same identity and order as the ports the pods resolve to. */
        EndpointPortValue x = { a->name, a->protocol, a->app_protocol, a->port },
                          y = { b->name, b->protocol, b->app_protocol, b->port };
        return endpoint_port_value_compare(&x, &y);
}

static const EndpointAddress *subset_first_address(const EndpointSubset *s) {
        if (s->n_addresses > 0)
                return &s->addresses[0];
        if (s->n_not_ready_addresses > 0)
                return &s->not_ready_addresses[0];
        return NULL;
}

int endpoint_subset_compare(const EndpointSubset *a, const EndpointSubset *b) {
        const EndpointAddress *x = subset_first_address(a), *y = subset_first_address(b);
        int c;

        if (!x || !y) {
                if (x || y)
                        return x ? 1 : -1;
        } else if ((c = endpoint_address_compare(x, y)) != 0)
                return c;
        if (a->n_ports == 0 || b->n_ports == 0)
                return (a->n_ports > 0) - (b->n_ports > 0);
        return endpoint_port_compare(&a->ports[0], &b->ports[0]);
}

static int address_cmp(const void *a, const void *b) {
        return endpoint_address_compare(a, b);
}
static int port_cmp(const void *a, const void *b) {
        return endpoint_port_compare(a, b);
}
static int subset_cmp(const void *a, const void *b) {
        return endpoint_subset_compare(a, b);
}

void endpoints_subsets_sort(EndpointSubset *subsets, size_t n) {
        for (size_t i = 0; i < n; i++) {
                EndpointSubset *s = &subsets[i];
                if (s->n_addresses > 1)
                        qsort(s->addresses, s->n_addresses, sizeof(EndpointAddress), address_cmp);
                if (s->n_not_ready_addresses > 1)
                        qsort(s->not_ready_addresses, s->n_not_ready_addresses, sizeof(EndpointAddress),
                              address_cmp);
                if (s->n_ports > 1)
                        qsort(s->ports, s->n_ports, sizeof(EndpointPort), port_cmp);
        }
        if (n > 1)
                qsort(subsets, n, sizeof(EndpointSubset), subset_cmp);
}

/* ---- §6.3 truncation ------------------------------------------------------------ */

size_t endpoints_truncate_keep(size_t n, size_t total, size_t budget) {
        /* Division first, then multiplication, in doubles: the spec's
         * 280/1000 × 25 = 7.000000000000001 → 8 depends on it. */
        double share = (double) n / (double) total;
        double keep = ceil(share * (double) budget);
        return keep <= 0 ? 0 : (size_t) keep;
}

static void addresses_cut(EndpointAddress *a, size_t *n, size_t keep, StrPool *pool) {
        for (size_t i = keep; i < *n; i++)
                endpoint_address_done(&a[i], pool);
        if (keep < *n)
                *n = keep;
}

bool endpoints_truncate(EndpointSubset **subsets, size_t *n_subsets, StrPool *pool, size_t max,
                        size_t *ret_dropped) {
        EndpointSubset *s = *subsets;
        size_t ready = 0, not_ready = 0, budget, total, left, kept = 0;
        bool cut_ready;

        for (size_t i = 0; i < *n_subsets; i++) {
                ready += s[i].n_addresses;
                not_ready += s[i].n_not_ready_addresses;
        }
        if (ready + not_ready <= max) {
                if (ret_dropped)
                        *ret_dropped = 0;
                return false;
        }
        cut_ready = ready > max;
        budget = cut_ready ? max : max - ready;
        total = cut_ready ? ready : not_ready;
        left = budget;
        for (size_t i = 0; i < *n_subsets; i++) {
                EndpointAddress *list = cut_ready ? s[i].addresses : s[i].not_ready_addresses;
                size_t *n = cut_ready ? &s[i].n_addresses : &s[i].n_not_ready_addresses;
                size_t keep = *n == 0 ? 0 : endpoints_truncate_keep(*n, total, budget);

                if (keep > left)
                        keep = left;
                addresses_cut(list, n, keep, pool);
                left -= keep;
                if (cut_ready)
                        addresses_cut(s[i].not_ready_addresses, &s[i].n_not_ready_addresses, 0, pool);
        }
        /* berth: a subset left without addresses would be rejected. */
        for (size_t i = 0; i < *n_subsets; i++) {
                if (s[i].n_addresses == 0 && s[i].n_not_ready_addresses == 0) {
                        endpoint_subset_done(&s[i], pool);
                        continue;
                }
                s[kept++] = s[i];
        }
        if (ret_dropped)
                *ret_dropped = *n_subsets - kept;
        *n_subsets = kept;
        if (kept == 0) {
                free(*subsets);
                *subsets = NULL;
        }
        return true;
}

/* ---- §6.1 grouping ---------------------------------------------------------------- */

#define NO_PORT SIZE_MAX

typedef struct PodEntry {
        const Pod *pod;
        char ip[IP_ADDR_STRLEN];
        EndpointPodFields fields;
        bool ready;
} PodEntry;

typedef struct Record {
        const PodEntry *entry;
        size_t seq;  /* order of contribution: the first occurrence's fields win */
        size_t port; /* index into the distinct port table, NO_PORT for a portless headless Service */
        size_t addr; /* identity id, in §6.2 address order */
        bool ready;
} Record;

static int record_identity_cmp(const void *x, const void *y) {
        const Record *a = x, *b = y;
        int c = strcmp(a->entry->ip, b->entry->ip);
        if (c == 0)
                c = strcmp(strempty(a->entry->fields.uid), strempty(b->entry->fields.uid));
        if (c == 0)
                c = (a->seq > b->seq) - (a->seq < b->seq);
        return c;
}

static int record_port_addr_cmp(const void *x, const void *y) {
        const Record *a = x, *b = y;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        if (a->addr != b->addr)
                return a->addr < b->addr ? -1 : 1;
        return (a->seq > b->seq) - (a->seq < b->seq);
}

typedef struct Builder {
        StrPool *pool;
        PodEntry *entries;
        size_t n_entries;
        Record *records;
        size_t n_records, allocated;
        EndpointPortValue *ports;
        size_t n_ports, ports_allocated;
        const PodEntry **identity_first; /* per addr id: the entry whose fields are kept */
        size_t n_identities;
} Builder;

static void builder_done(Builder *b) {
        free(b->entries);
        free(b->records);
        free(b->ports);
        free(b->identity_first);
}

static int port_index(Builder *b, const EndpointPortValue *p, size_t *ret) {
        for (size_t i = 0; i < b->n_ports; i++)
                if (endpoint_port_value_compare(&b->ports[i], p) == 0) {
                        *ret = i;
                        return 0;
                }
        if (!GREEDY_REALLOC(b->ports, b->ports_allocated, b->n_ports + 1, 8))
                return -ENOMEM;
        b->ports[b->n_ports] = *p;
        *ret = b->n_ports++;
        return 0;
}

static int record_add(Builder *b, const PodEntry *e, size_t port) {
        if (!GREEDY_REALLOC(b->records, b->allocated, b->n_records + 1, 64))
                return -ENOMEM;
        b->records[b->n_records] = (Record) { .entry = e, .seq = b->n_records, .port = port, .ready = e->ready };
        b->n_records++;
        return 0;
}

/* One pod's contribution (§4, §5): 0 also when it contributes nothing. */
static int builder_add_pod(Builder *b, const Service *svc, const Pod *pod, EndpointPortValue *ports_buf,
                           endpoints_problems_fn problems_fn, void *userdata) {
        _cleanup_(endpoint_problems_done) EndpointProblems problems = {};
        EndpointsMembership m;
        PodEntry *e;
        IpFamily family;
        size_t n_ports = 0;
        int r = 0;

        if (!endpoint_pod_selected(svc, pod))
                return 0;
        m = endpoint_pod_endpoints_membership(svc, pod);
        if (m == ENDPOINTS_POD_OMITTED)
                return 0;
        /* A Service with no ports publishes addresses only when headless. */
        if (svc->n_ports == 0 && !service_is_headless(svc))
                return 0;
        family = endpoint_endpoints_family(svc, pod);
        e = &b->entries[b->n_entries];
        *e = (PodEntry) { .pod = pod, .ready = m == ENDPOINTS_POD_READY };
        if (endpoint_pod_address(pod, family, e->ip, &problems) < 0)
                goto report; /* no IP of the family, or a rejected one */
        endpoint_pod_fields(svc, pod, &e->fields, &problems);
        endpoint_pod_ports(svc, pod, false, ports_buf, &n_ports, &problems);
        if (svc->n_ports > 0 && n_ports == 0)
                goto report; /* none resolves: not even notReady */
        b->n_entries++;
        if (svc->n_ports == 0)
                r = record_add(b, e, NO_PORT);
        for (size_t i = 0; r >= 0 && i < n_ports; i++) {
                size_t idx;
                r = port_index(b, &ports_buf[i], &idx);
                if (r >= 0)
                        r = record_add(b, e, idx);
        }
report:
        if (problems.n > 0 && problems_fn)
                problems_fn(pod, &problems, userdata);
        return r;
}

/* Identity ids in §6.2 order (IP bytewise, then uid), first occurrence kept. */
static int builder_assign_identities(Builder *b) {
        if (b->n_records == 0)
                return 0;
        qsort(b->records, b->n_records, sizeof(Record), record_identity_cmp);
        b->identity_first = new0(const PodEntry *, b->n_records);
        if (!b->identity_first)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_records; i++) {
                Record *r = &b->records[i];
                if (i == 0 || !streq(r->entry->ip, b->records[i - 1].entry->ip) ||
                    !streq(strempty(r->entry->fields.uid), strempty(b->records[i - 1].entry->fields.uid)))
                        b->identity_first[b->n_identities++] = r->entry; /* lowest seq first: sorted by seq last */
                r->addr = b->n_identities - 1;
        }
        /* Per (port, identity): one record, not-ready wins. */
        qsort(b->records, b->n_records, sizeof(Record), record_port_addr_cmp);
        size_t kept = 0;
        for (size_t i = 0; i < b->n_records; i++) {
                if (kept > 0 && b->records[kept - 1].port == b->records[i].port &&
                    b->records[kept - 1].addr == b->records[i].addr) {
                        b->records[kept - 1].ready = b->records[kept - 1].ready && b->records[i].ready;
                        continue;
                }
                b->records[kept++] = b->records[i];
        }
        b->n_records = kept;
        return 0;
}

static int address_fill(StrPool *pool, const PodEntry *e, EndpointAddress *a) {
        *a = (EndpointAddress) { .has_target_ref = true };
        a->ip = strdup(e->ip);
        if (!a->ip)
                return -ENOMEM;
        if (e->fields.hostname && !(a->hostname = strdup(e->fields.hostname)))
                return -ENOMEM;
        if (e->fields.node_name && !(a->node_name = strpool_intern0(pool, e->fields.node_name)))
                return -ENOMEM;
        a->target_ref.kind = strpool_intern0(pool, "Pod");
        a->target_ref.namespace = e->fields.namespace ? strpool_intern0(pool, e->fields.namespace) : NULL;
        a->target_ref.name = strdup(strempty(e->fields.name));
        a->target_ref.uid = e->fields.uid ? strdup(e->fields.uid) : NULL;
        if (!a->target_ref.kind || (e->fields.namespace && !a->target_ref.namespace) || !a->target_ref.name ||
            (e->fields.uid && !a->target_ref.uid))
                return -ENOMEM;
        return 0;
}

static int port_fill(StrPool *pool, const EndpointPortValue *v, EndpointPort *p) {
        *p = (EndpointPort) { .port = v->port };
        if ((v->name && !(p->name = strpool_intern0(pool, v->name))) ||
            !(p->protocol = strpool_intern0(pool, strempty(v->protocol))) ||
            (v->app_protocol && !(p->app_protocol = strpool_intern0(pool, v->app_protocol))))
                return -ENOMEM;
        return 0;
}

/* Ports whose (identity → readiness) maps are identical share a subset. */
static bool runs_equal(const Record *a, size_t na, const Record *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i].addr != b[i].addr || a[i].ready != b[i].ready)
                        return false;
        return true;
}

typedef struct PortRun {
        size_t port, start, n, group;
} PortRun;

static int builder_subsets(Builder *b, Endpoints *e) {
        _cleanup_free_ PortRun *runs = NULL;
        size_t n_runs = 0, n_groups = 0;

        if (b->n_records == 0)
                return 0;
        runs = new0(PortRun, b->n_records);
        if (!runs)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_records; i++) {
                if (i == 0 || b->records[i].port != b->records[i - 1].port)
                        runs[n_runs++] = (PortRun) { .port = b->records[i].port, .start = i };
                runs[n_runs - 1].n++;
        }
        for (size_t i = 0; i < n_runs; i++) {
                runs[i].group = SIZE_MAX;
                for (size_t j = 0; j < i; j++)
                        if (runs_equal(&b->records[runs[j].start], runs[j].n, &b->records[runs[i].start], runs[i].n)) {
                                runs[i].group = runs[j].group;
                                break;
                        }
                if (runs[i].group == SIZE_MAX)
                        runs[i].group = n_groups++;
        }
        e->subsets = new0(EndpointSubset, n_groups);
        if (!e->subsets)
                return -ENOMEM;
        e->n_subsets = n_groups;
        for (size_t i = 0; i < n_runs; i++) {
                EndpointSubset *s = &e->subsets[runs[i].group];
                const Record *rec = &b->records[runs[i].start];

                if (runs[i].port != NO_PORT) {
                        EndpointPort *np = realloc(s->ports, (s->n_ports + 1) * sizeof(EndpointPort));
                        if (!np)
                                return -ENOMEM;
                        s->ports = np;
                        RET_NERRNO(port_fill(b->pool, &b->ports[runs[i].port], &s->ports[s->n_ports]));
                        s->n_ports++;
                }
                if (s->addresses || s->not_ready_addresses)
                        continue; /* the group's addresses are already there */
                size_t n_ready = 0;
                for (size_t k = 0; k < runs[i].n; k++)
                        n_ready += rec[k].ready;
                if (n_ready > 0 && !(s->addresses = new0(EndpointAddress, n_ready)))
                        return -ENOMEM;
                if (runs[i].n - n_ready > 0 && !(s->not_ready_addresses = new0(EndpointAddress, runs[i].n - n_ready)))
                        return -ENOMEM;
                for (size_t k = 0; k < runs[i].n; k++) {
                        const PodEntry *first = b->identity_first[rec[k].addr];
                        EndpointAddress *a = rec[k].ready ? &s->addresses[s->n_addresses++]
                                                          : &s->not_ready_addresses[s->n_not_ready_addresses++];
                        RET_NERRNO(address_fill(b->pool, first, a));
                }
        }
        return 0;
}

/* ---- §6.4 metadata ---------------------------------------------------------------- */

static int build_meta(const Service *svc, const Endpoints *cached, usec_t trigger_time, bool over_capacity,
                      StrPool *pool, ObjectMeta *m) {
        const StrMap *labels = &svc->object.meta.labels;
        char buf[RFC3339_MAX];

        m->namespace = strpool_intern0(pool, strempty(svc->object.meta.namespace));
        m->name = strdup(svc->object.meta.name);
        if (!m->namespace || !m->name)
                return -ENOMEM;
        for (size_t i = 0; i < labels->n; i++)
                RET_NERRNO(strmap_set(&m->labels, pool, labels->entries[i].key, labels->entries[i].value));
        RET_NERRNO(strmap_set(&m->labels, pool, ENDPOINTS_HEADLESS_LABEL, service_is_headless(svc) ? "" : NULL));
        RET_NERRNO(strmap_set(&m->labels, pool, ENDPOINTS_MANAGED_BY_LABEL, ENDPOINTS_MANAGED_BY_BERTH));
        if (cached) {
                const StrMap *ann = &cached->object.meta.annotations;
                for (size_t i = 0; i < ann->n; i++)
                        RET_NERRNO(strmap_set(&m->annotations, pool, ann->entries[i].key, ann->entries[i].value));
                if (cached->object.meta.resource_version &&
                    !(m->resource_version = strdup(cached->object.meta.resource_version)))
                        return -ENOMEM;
        }
        RET_NERRNO(strmap_set(&m->annotations, pool, ENDPOINTS_OVER_CAPACITY_ANNOTATION,
                              over_capacity ? ENDPOINTS_OVER_CAPACITY_VALUE : NULL));
        RET_NERRNO(strmap_set(&m->annotations, pool, ENDPOINTS_ANNOTATION_TRIGGER_TIME,
                              trigger_time ? trigger_time_format(trigger_time, buf) : NULL));
        return 0;
}

int endpoints_build(const Service *svc, const Pod *const *pods, size_t n_pods, const Endpoints *cached,
                    usec_t trigger_time, StrPool *pool, endpoints_problems_fn problems_fn, void *userdata,
                    EndpointsBuildResult *ret) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        _cleanup_free_ EndpointPortValue *ports_buf = NULL;
        Builder b = { .pool = pool };
        EndpointsBuildResult res = {};
        Endpoints *e;
        int r = 0;

        e = kube_object_alloc(&kube_kind_endpoints, sizeof(Endpoints), pool);
        if (!e)
                return -ENOMEM;
        o = &e->object;
        if ((n_pods > 0 && !(b.entries = new0(PodEntry, n_pods))) ||
            (svc->n_ports > 0 && !(ports_buf = new0(EndpointPortValue, svc->n_ports)))) {
                builder_done(&b);
                return -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < n_pods; i++)
                r = builder_add_pod(&b, svc, pods[i], ports_buf, problems_fn, userdata);
        if (r >= 0)
                r = builder_assign_identities(&b);
        if (r >= 0)
                r = builder_subsets(&b, e);
        builder_done(&b);
        if (r < 0)
                return r;
        endpoints_subsets_sort(e->subsets, e->n_subsets);
        res.over_capacity = endpoints_truncate(&e->subsets, &e->n_subsets, pool, ENDPOINTS_MAX_ADDRESSES,
                                               &res.n_dropped_subsets);
        for (size_t i = 0; i < e->n_subsets; i++) {
                res.n_ready += e->subsets[i].n_addresses;
                res.n_not_ready += e->subsets[i].n_not_ready_addresses;
        }
        r = build_meta(svc, cached, trigger_time, res.over_capacity, pool, &o->meta);
        if (r < 0)
                return r;
        res.object = TAKE_PTR(o);
        *ret = res;
        return 0;
}

/* ---- §6.6 semantic comparison ------------------------------------------------------- */

static bool ref_equal(const EndpointAddress *a, const EndpointAddress *b) {
        const KubeObjectRef *x = &a->target_ref, *y = &b->target_ref;

        if (a->has_target_ref != b->has_target_ref)
                return false;
        if (!a->has_target_ref)
                return true;
        /* resourceVersion ignored: it changes with every pod status write. */
        return streq(strempty(x->kind), strempty(y->kind)) && streq(strempty(x->namespace), strempty(y->namespace)) &&
               streq(strempty(x->name), strempty(y->name)) && streq(strempty(x->uid), strempty(y->uid)) &&
               streq(strempty(x->api_version), strempty(y->api_version)) &&
               streq(strempty(x->field_path), strempty(y->field_path));
}

static bool address_equal(const EndpointAddress *a, const EndpointAddress *b) {
        return streq(strempty(a->ip), strempty(b->ip)) && streq(strempty(a->hostname), strempty(b->hostname)) &&
               streq(strempty(a->node_name), strempty(b->node_name)) && ref_equal(a, b);
}

static bool addresses_equal(const EndpointAddress *a, size_t na, const EndpointAddress *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!address_equal(&a[i], &b[i]))
                        return false;
        return true;
}

static bool port_equal(const EndpointPort *a, const EndpointPort *b) {
        return endpoint_port_compare(a, b) == 0 && streq(strempty(a->app_protocol), strempty(b->app_protocol));
}

/* A sorted shallow copy: the lists are copied (structs by value), never the strings. */
static int subsets_sorted_copy(const EndpointSubset *in, size_t n, EndpointSubset **ret) {
        EndpointSubset *out;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        out = new0(EndpointSubset, n);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                EndpointSubset *s = &out[i];
                *s = (EndpointSubset) { .n_addresses = in[i].n_addresses,
                                        .n_not_ready_addresses = in[i].n_not_ready_addresses,
                                        .n_ports = in[i].n_ports };
                s->addresses = s->n_addresses ? malloc(s->n_addresses * sizeof(EndpointAddress)) : NULL;
                s->not_ready_addresses =
                        s->n_not_ready_addresses ? malloc(s->n_not_ready_addresses * sizeof(EndpointAddress)) : NULL;
                s->ports = s->n_ports ? malloc(s->n_ports * sizeof(EndpointPort)) : NULL;
                if ((s->n_addresses && !s->addresses) || (s->n_not_ready_addresses && !s->not_ready_addresses) ||
                    (s->n_ports && !s->ports)) {
                        for (size_t j = 0; j <= i; j++) {
                                free(out[j].addresses);
                                free(out[j].not_ready_addresses);
                                free(out[j].ports);
                        }
                        free(out);
                        return -ENOMEM;
                }
                if (s->n_addresses)
                        memcpy(s->addresses, in[i].addresses, s->n_addresses * sizeof(EndpointAddress));
                if (s->n_not_ready_addresses)
                        memcpy(s->not_ready_addresses, in[i].not_ready_addresses,
                               s->n_not_ready_addresses * sizeof(EndpointAddress));
                if (s->n_ports)
                        memcpy(s->ports, in[i].ports, s->n_ports * sizeof(EndpointPort));
        }
        endpoints_subsets_sort(out, n);
        *ret = out;
        return 0;
}

static void subsets_copy_free(EndpointSubset *s, size_t n) {
        for (size_t i = 0; s && i < n; i++) {
                free(s[i].addresses);
                free(s[i].not_ready_addresses);
                free(s[i].ports);
        }
        free(s);
}

static bool subsets_equal(const Endpoints *a, const Endpoints *b) {
        EndpointSubset *x = NULL, *y = NULL;
        bool equal = false;

        if (a->n_subsets != b->n_subsets)
                return false;
        if (subsets_sorted_copy(a->subsets, a->n_subsets, &x) < 0 ||
            subsets_sorted_copy(b->subsets, b->n_subsets, &y) < 0)
                goto out; /* out of memory: "different" costs one write at worst */
        for (size_t i = 0; i < a->n_subsets; i++) {
                if (!addresses_equal(x[i].addresses, x[i].n_addresses, y[i].addresses, y[i].n_addresses) ||
                    !addresses_equal(x[i].not_ready_addresses, x[i].n_not_ready_addresses, y[i].not_ready_addresses,
                                     y[i].n_not_ready_addresses) ||
                    x[i].n_ports != y[i].n_ports)
                        goto out;
                for (size_t j = 0; j < x[i].n_ports; j++)
                        if (!port_equal(&x[i].ports[j], &y[i].ports[j]))
                                goto out;
        }
        equal = true;
out:
        subsets_copy_free(x, a->n_subsets);
        subsets_copy_free(y, b->n_subsets);
        return equal;
}

bool endpoints_semantic_equal(const Endpoints *desired, const Endpoints *cached) {
        const char *oa, *ob;

        if (!desired || !cached)
                return false;
        if (!strmap_equal(&desired->object.meta.labels, &cached->object.meta.labels))
                return false;
        oa = strmap_get(&desired->object.meta.annotations, ENDPOINTS_OVER_CAPACITY_ANNOTATION);
        ob = strmap_get(&cached->object.meta.annotations, ENDPOINTS_OVER_CAPACITY_ANNOTATION);
        if (!streq_ptr(oa, ob))
                return false;
        return subsets_equal(desired, cached);
}

EndpointsManager endpoints_manager(const KubeObject *o) {
        const char *v = strmap_get(&o->meta.labels, ENDPOINTS_MANAGED_BY_LABEL);

        if (!v)
                return ENDPOINTS_MANAGER_NONE;
        if (streq(v, ENDPOINTS_MANAGED_BY_BERTH))
                return ENDPOINTS_MANAGER_BERTH;
        if (streq(v, ENDPOINTS_MANAGED_BY_UPSTREAM))
                return ENDPOINTS_MANAGER_UPSTREAM;
        return ENDPOINTS_MANAGER_OTHER;
}
