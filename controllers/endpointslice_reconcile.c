/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpointslice_reconcile.h"

/* ---- small helpers ------------------------------------------------------------ */

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool str_eq_empty(const char *a, const char *b) {
        return streq(strempty(a), strempty(b));
}

int endpointslice_parse_max_endpoints(const char *value, unsigned *ret, char **ret_why) {
        char *end = NULL;
        long v;

        errno = 0;
        v = value ? strtol(value, &end, 10) : 0;
        if (!value || isempty(value) || *end != '\0' || errno != 0 || v < 1 ||
            v > (long) ENDPOINTSLICE_MAX_ENDPOINTS_LIMIT) {
                if (ret_why)
                        *ret_why = strdup("must be between 1 and 1000");
                return -EINVAL;
        }
        *ret = (unsigned) v;
        return 0;
}

bool endpointslice_owned_by(const EndpointSlice *s, const Service *svc) {
        const OwnerReference *o = ownerrefs_controller(&s->owner_references);
        return o && !isempty(o->uid) && streq_ptr(o->uid, svc->object.meta.uid);
}

/* "name\x1fport\x1fprotocol\x1fappProtocol" of one port. */
static char *port_key(const EndpointSlicePort *p) {
        char *k = NULL;
        char num[16] = "-";
        if (p->has_port)
                snprintf(num, sizeof num, "%" PRId32, p->port);
        if (asprintf(&k, "%s\x1f%s\x1f%s\x1f%s", strempty(p->name), num, p->protocol ? p->protocol : "TCP",
                     p->app_protocol ? p->app_protocol : "\x1d") < 0)
                return NULL;
        return k;
}

/* The order-insensitive key of a port set: the sorted port keys joined. */
static char *port_set_key(const EndpointSlicePort *ports, size_t n) {
        char **keys = new0(char *, n + 1);
        char *out = NULL;
        size_t len = 1;

        if (!keys)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                keys[i] = port_key(&ports[i]);
                if (!keys[i])
                        goto finish;
                len += strlen(keys[i]) + 1;
        }
        qsort(keys, n, sizeof(char *), strcmp_ptr);
        out = malloc(len);
        if (!out)
                goto finish;
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                strcat(out, keys[i]);
                strcat(out, "\x1e");
        }
finish:
        for (size_t i = 0; i < n; i++)
                free(keys[i]);
        free(keys);
        return out;
}

bool endpointslice_ports_equal(const EndpointSlicePort *a, size_t na, const EndpointSlicePort *b, size_t nb) {
        _cleanup_free_ char *ka = NULL, *kb = NULL;
        if (na != nb)
                return false;
        ka = port_set_key(a, na);
        kb = port_set_key(b, nb);
        return ka && kb && streq(ka, kb);
}

/* Endpoint identity (§7): sorted addresses, hostname, targetRef namespace and name. */
static char *identity_key(const char *const *addresses, size_t n, const char *hostname, const char *ref_ns,
                          const char *ref_name) {
        _cleanup_free_ const char **sorted = new0(const char *, n + 1);
        size_t len = 4 + strlen(strempty(hostname)) + strlen(strempty(ref_ns)) + strlen(strempty(ref_name));
        char *k, *p;

        if (!sorted)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                sorted[i] = addresses[i];
                len += strlen(addresses[i]) + 1;
        }
        qsort(sorted, n, sizeof(char *), strcmp_ptr);
        k = malloc(len);
        if (!k)
                return NULL;
        p = k;
        for (size_t i = 0; i < n; i++) {
                p = stpcpy(p, sorted[i]);
                *p++ = ',';
        }
        *p++ = '\x1f';
        p = stpcpy(p, strempty(hostname));
        *p++ = '\x1f';
        p = stpcpy(p, strempty(ref_ns));
        *p++ = '\x1f';
        stpcpy(p, strempty(ref_name));
        return k;
}

static bool is_reserved_label(const char *key) {
        return streq(key, ENDPOINTSLICE_LABEL_SERVICE_NAME) || streq(key, ENDPOINTSLICE_LABEL_MANAGED_BY) ||
               streq(key, ENDPOINTSLICE_LABEL_HEADLESS);
}

int endpointslice_desired_labels(const Service *svc, StrPool *pool, StrMap *ret) {
        StrMap m = {};
        int r = 0;

        for (size_t i = 0; i < svc->object.meta.labels.n && r >= 0; i++) {
                const struct StrMapEntry *e = &svc->object.meta.labels.entries[i];
                if (!is_reserved_label(e->key))
                        r = strmap_set(&m, pool, e->key, e->value);
        }
        if (r >= 0)
                r = strmap_set(&m, pool, ENDPOINTSLICE_LABEL_SERVICE_NAME, svc->object.meta.name);
        if (r >= 0)
                r = strmap_set(&m, pool, ENDPOINTSLICE_LABEL_MANAGED_BY, ENDPOINTSLICE_MANAGED_BY_BERTH);
        if (r >= 0 && service_is_headless(svc))
                r = strmap_set(&m, pool, ENDPOINTSLICE_LABEL_HEADLESS, "");
        if (r < 0) {
                strmap_done(&m, pool);
                return r;
        }
        *ret = m;
        return 0;
}

/* ---- desired endpoints ------------------------------------------------------- */

typedef struct Want {
        const SliceWantEndpoint *src;
        char *key;
        bool done;
} Want;

static int want_cmp_key(const void *a, const void *b) {
        return strcmp(((const Want *) a)->key, ((const Want *) b)->key);
}

/* §7 berth: new endpoints are appended in order of first address, then uid. */
static int want_cmp_append(const void *a, const void *b) {
        const SliceWantEndpoint *x = (*(const Want *const *) a)->src, *y = (*(const Want *const *) b)->src;
        int c = strcmp(x->n_addresses ? x->addresses[0] : "", y->n_addresses ? y->addresses[0] : "");
        if (c != 0)
                return c;
        c = strcmp(strempty(x->pod_uid), strempty(y->pod_uid));
        if (c != 0)
                return c;
        return strcmp(strempty(x->pod_name), strempty(y->pod_name));
}

static bool want_has_zone_hint(const SliceWantEndpoint *w, SliceHints h) {
        return h != SLICE_HINTS_NONE && w->ready && !isempty(w->zone);
}
static bool want_has_node_hint(const SliceWantEndpoint *w, SliceHints h) {
        return h == SLICE_HINTS_ZONE_NODE && w->ready && !isempty(w->node_name);
}

static bool hint_list_is(const InternList *l, bool want, const char *name) {
        if (!want)
                return l->n == 0;
        return l->n == 1 && streq(l->items[0], name);
}

static bool tristate_is(KubeTristate t, bool v) {
        return t == (v ? KUBE_TRUE : KUBE_FALSE);
}

/* Fields beyond identity (§7 step 1): conditions, nodeName, zone, targetRef, hints. */
static bool endpoint_matches(const EndpointSliceEndpoint *e, const SliceWantEndpoint *w, SliceHints h) {
        if (!tristate_is(e->ready, w->ready) || !tristate_is(e->serving, w->serving) ||
            !tristate_is(e->terminating, w->terminating))
                return false;
        if (!str_eq_empty(e->node_name, w->node_name) || !str_eq_empty(e->zone, w->zone))
                return false;
        if (e->has_target_ref != (w->pod_name != NULL))
                return false;
        if (e->has_target_ref &&
            (!streq(strempty(e->target_ref.kind), "Pod") || !str_eq_empty(e->target_ref.namespace, w->pod_namespace) ||
             !str_eq_empty(e->target_ref.name, w->pod_name) || !str_eq_empty(e->target_ref.uid, w->pod_uid) ||
             !isempty(e->target_ref.api_version) || !isempty(e->target_ref.field_path)))
                return false;
        return hint_list_is(&e->hints_for_zones, want_has_zone_hint(w, h), w->zone) &&
               hint_list_is(&e->hints_for_nodes, want_has_node_hint(w, h), w->node_name);
}

/* ---- building objects in the plan's pool ---------------------------------------- */

static int intern_opt(StrPool *pool, const char *s, const char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strpool_intern0(pool, s);
        return *ret ? 0 : -ENOMEM;
}

static int strdup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int internlist_one(StrPool *pool, const char *name, InternList *ret) {
        ret->items = new0(const char *, 1);
        if (!ret->items)
                return -ENOMEM;
        ret->items[0] = strpool_intern0(pool, name);
        if (!ret->items[0])
                return -ENOMEM;
        ret->n = 1;
        return 0;
}

static int internlist_copy(StrPool *pool, const InternList *src, InternList *ret) {
        if (src->n == 0)
                return 0;
        ret->items = new0(const char *, src->n);
        if (!ret->items)
                return -ENOMEM;
        for (size_t i = 0; i < src->n; i++) {
                ret->items[i] = strpool_intern0(pool, src->items[i]);
                if (!ret->items[i])
                        return -ENOMEM;
                ret->n++;
        }
        return 0;
}

static int endpoint_from_want(StrPool *pool, const SliceWantEndpoint *w, SliceHints h, EndpointSliceEndpoint *e) {
        int r;

        *e = (EndpointSliceEndpoint) {
                .ready = w->ready ? KUBE_TRUE : KUBE_FALSE,
                .serving = w->serving ? KUBE_TRUE : KUBE_FALSE,
                .terminating = w->terminating ? KUBE_TRUE : KUBE_FALSE,
        };
        RET_NERRNO(strlist_from(w->addresses, w->n_addresses, &e->addresses));
        RET_NERRNO(strdup_opt(isempty(w->hostname) ? NULL : w->hostname, &e->hostname));
        RET_NERRNO(intern_opt(pool, isempty(w->node_name) ? NULL : w->node_name, &e->node_name));
        RET_NERRNO(intern_opt(pool, isempty(w->zone) ? NULL : w->zone, &e->zone));
        if (w->pod_name) {
                e->has_target_ref = true;
                RET_NERRNO(intern_opt(pool, "Pod", &e->target_ref.kind));
                RET_NERRNO(intern_opt(pool, w->pod_namespace, &e->target_ref.namespace));
                RET_NERRNO(strdup_opt(w->pod_name, &e->target_ref.name));
                RET_NERRNO(strdup_opt(isempty(w->pod_uid) ? NULL : w->pod_uid, &e->target_ref.uid));
        }
        if (want_has_zone_hint(w, h) && (r = internlist_one(pool, w->zone, &e->hints_for_zones)) < 0)
                return r;
        if (want_has_node_hint(w, h) && (r = internlist_one(pool, w->node_name, &e->hints_for_nodes)) < 0)
                return r;
        return 0;
}

static int endpoint_copy(StrPool *pool, const EndpointSliceEndpoint *src, EndpointSliceEndpoint *e) {
        *e = (EndpointSliceEndpoint) {
                .ready = src->ready,
                .serving = src->serving,
                .terminating = src->terminating,
                .has_target_ref = src->has_target_ref,
        };
        RET_NERRNO(strlist_from((const char *const *) src->addresses.items, src->addresses.n, &e->addresses));
        RET_NERRNO(strdup_opt(src->hostname, &e->hostname));
        RET_NERRNO(intern_opt(pool, src->node_name, &e->node_name));
        RET_NERRNO(intern_opt(pool, src->zone, &e->zone));
        if (src->has_target_ref) {
                const KubeObjectRef *s = &src->target_ref;
                RET_NERRNO(intern_opt(pool, s->api_version, &e->target_ref.api_version));
                RET_NERRNO(intern_opt(pool, s->kind, &e->target_ref.kind));
                RET_NERRNO(intern_opt(pool, s->namespace, &e->target_ref.namespace));
                RET_NERRNO(strdup_opt(s->name, &e->target_ref.name));
                RET_NERRNO(strdup_opt(s->uid, &e->target_ref.uid));
                /* targetRef.resourceVersion is never written (§5.2) */
                RET_NERRNO(strdup_opt(s->field_path, &e->target_ref.field_path));
        }
        RET_NERRNO(internlist_copy(pool, &src->hints_for_zones, &e->hints_for_zones));
        return internlist_copy(pool, &src->hints_for_nodes, &e->hints_for_nodes);
}

static int port_copy(StrPool *pool, const EndpointSlicePort *src, EndpointSlicePort *p) {
        *p = (EndpointSlicePort) { .has_port = src->has_port, .port = src->port };
        RET_NERRNO(intern_opt(pool, src->name ? src->name : "", &p->name));
        RET_NERRNO(intern_opt(pool, src->protocol ? src->protocol : "TCP", &p->protocol));
        return intern_opt(pool, src->app_protocol, &p->app_protocol);
}

static int strmap_copy(StrPool *pool, const StrMap *src, StrMap *ret) {
        for (size_t i = 0; i < src->n; i++)
                RET_NERRNO(strmap_set(ret, pool, src->entries[i].key, src->entries[i].value));
        return 0;
}

#define TYPE_UNKNOWN (SIZE_MAX - 1) /* a slice of an address type the Service does not have */
#define TYPE_ABSORBED SIZE_MAX       /* a delete turned into another slice's name */

static size_t type_index(const EndpointSliceWant *in, const char *address_type) {
        for (size_t t = 0; t < in->n_address_types; t++)
                if (streq_ptr(address_type, in->address_types[t].address_type))
                        return t;
        return TYPE_UNKNOWN;
}

/* ---- the work model ----------------------------------------------------------- */

typedef enum WorkState {
        WORK_UNCHANGED,
        WORK_UPDATE,
        WORK_DELETE,
        WORK_CREATE,
} WorkState;

/* One endpoint of a slice being built: kept as stored, or written from the desired one. */
typedef struct Item {
        const EndpointSliceEndpoint *old;
        const SliceWantEndpoint *want;
} Item;

typedef struct Work {
        WorkState state;
        size_t type;                  /* index into want->address_types */
        const EndpointSlice *existing;/* NULL for a new slice */
        const SlicePortSet *ports;    /* NULL: no ports (placeholder, or kept as stored) */
        bool placeholder;
        size_t n_items, cap_items;
        Item *items;
        size_t order;                 /* creation order of new slices */
} Work;

typedef struct Ctx {
        const EndpointSliceWant *want;
        unsigned max;
        StrMap labels;                /* desired labels, in the plan's pool */
        StrPool *pool;
        size_t n_work, cap_work;
        Work *work;
        size_t creates_made;
        EndpointSlicePlan *plan;
} Ctx;

static Work *work_add(Ctx *c, WorkState state, size_t type, const EndpointSlice *existing) {
        if (c->n_work == c->cap_work) {
                size_t cap = c->cap_work ? c->cap_work * 2 : 8;
                Work *w = reallocarray(c->work, cap, sizeof(Work));
                if (!w)
                        return NULL;
                c->work = w;
                c->cap_work = cap;
        }
        Work *w = &c->work[c->n_work++];
        *w = (Work) { .state = state, .type = type, .existing = existing };
        if (state == WORK_CREATE)
                w->order = c->creates_made++;
        return w;
}

static int work_push(Work *w, Item it) {
        if (!GREEDY_REALLOC(w->items, w->cap_items, w->n_items + 1, 8))
                return -ENOMEM;
        w->items[w->n_items++] = it;
        return 0;
}

static const char *slice_name(const Work *w) {
        return w->existing ? strempty(w->existing->object.meta.name) : "";
}

static bool labels_current(const Ctx *c, const EndpointSlice *s) {
        return strmap_equal(&s->object.meta.labels, &c->labels);
}

static bool is_identical_placeholder(const Ctx *c, const EndpointSlice *s) {
        return s->n_endpoints == 0 && s->n_ports == 0 && endpointslice_owned_by(s, c->want->service) &&
               labels_current(c, s);
}

/* ---- §7 steps 1-3 for one group (address type × port set) ----------------------- */

static int existing_cmp_name(const void *a, const void *b) {
        const EndpointSlice *x = *(const EndpointSlice *const *) a, *y = *(const EndpointSlice *const *) b;
        return strcmp(strempty(x->object.meta.name), strempty(y->object.meta.name));
}

static Want *want_find(Want *wants, size_t n, const char *key) {
        Want probe = { .key = (char *) key };
        Want *x = bsearch_safe(&probe, wants, n, sizeof(Want), want_cmp_key);
        /* duplicates are marked done but the first: find the first */
        while (x && x > wants && streq(x[-1].key, key))
                x--;
        return x;
}

static int reconcile_group(Ctx *c, size_t type, const SlicePortSet *ports, const EndpointSlice *const *slices,
                           size_t n_slices, Want *wants, size_t n_wants) {
        _cleanup_free_ size_t *upd = NULL, *unchanged = NULL;
        _cleanup_free_ Want **rest = NULL;
        size_t n_upd = 0, n_unchanged = 0, n_rest = 0, next = 0;
        SliceHints h = c->want->hints;
        int r;

        upd = new0(size_t, n_slices + 1);
        unchanged = new0(size_t, n_slices + 1);
        rest = new0(Want *, n_wants + 1);
        if (!upd || !unchanged || !rest)
                return -ENOMEM;

        /* 1. walk the existing slices (in name order) */
        for (size_t i = 0; i < n_slices; i++) {
                const EndpointSlice *s = slices[i];
                bool changed = false;
                Work *w = work_add(c, WORK_UNCHANGED, type, s);
                if (!w)
                        return -ENOMEM;
                w->ports = ports;
                for (size_t j = 0; j < s->n_endpoints; j++) {
                        const EndpointSliceEndpoint *e = &s->endpoints[j];
                        _cleanup_free_ char *key = identity_key((const char *const *) e->addresses.items,
                                                                e->addresses.n, e->hostname,
                                                                e->has_target_ref ? e->target_ref.namespace : NULL,
                                                                e->has_target_ref ? e->target_ref.name : NULL);
                        if (!key)
                                return -ENOMEM;
                        Want *x = want_find(wants, n_wants, key);
                        if (!x || x->done) {
                                changed = true;
                                c->plan->endpoints_removed++;
                                continue;
                        }
                        x->done = true;
                        if (endpoint_matches(e, x->src, h))
                                r = work_push(w, (Item) { .old = e });
                        else {
                                changed = true;
                                r = work_push(w, (Item) { .want = x->src });
                        }
                        if (r < 0)
                                return r;
                }
                if (changed)
                        w->state = w->n_items == 0 ? WORK_DELETE : WORK_UPDATE;
                else if (!labels_current(c, s))
                        w->state = WORK_UPDATE;
                if (w->state == WORK_UPDATE)
                        upd[n_upd++] = c->n_work - 1;
                else if (w->state == WORK_UNCHANGED)
                        unchanged[n_unchanged++] = c->n_work - 1;
        }

        for (size_t i = 0; i < n_wants; i++)
                if (!wants[i].done)
                        rest[n_rest++] = &wants[i];
        qsort(rest, n_rest, sizeof(Want *), want_cmp_append);
        c->plan->endpoints_added += n_rest;

        /* 2. fill the slices marked update, fullest first (ties: by name) */
        for (size_t a = 1; a < n_upd; a++)
                for (size_t b = a; b > 0; b--) {
                        const Work *x = &c->work[upd[b - 1]], *y = &c->work[upd[b]];
                        if (x->n_items > y->n_items ||
                            (x->n_items == y->n_items && strcmp(slice_name(x), slice_name(y)) <= 0))
                                break;
                        size_t t = upd[b - 1];
                        upd[b - 1] = upd[b];
                        upd[b] = t;
                }
        for (size_t i = 0; i < n_upd && next < n_rest; i++) {
                Work *w = &c->work[upd[i]];
                while (next < n_rest && w->n_items < c->max)
                        RET_NERRNO(work_push(w, (Item) { .want = rest[next++]->src }));
        }

        /* 3. the rest: into the unchanged slice that ends closest to full, or new slices */
        while (next < n_rest) {
                size_t left = n_rest - next, best = SIZE_MAX, best_diff = SIZE_MAX;
                Work *w;

                if (left < c->max)
                        for (size_t i = 0; i < n_unchanged; i++) {
                                const Work *u = &c->work[unchanged[i]];
                                if (u->state != WORK_UNCHANGED || u->n_items + left > c->max)
                                        continue;
                                size_t diff = c->max - (u->n_items + left);
                                if (diff < best_diff ||
                                    (diff == best_diff && strcmp(slice_name(u), slice_name(&c->work[best])) < 0)) {
                                        best_diff = diff;
                                        best = unchanged[i];
                                }
                        }
                if (best != SIZE_MAX) {
                        w = &c->work[best];
                        w->state = WORK_UPDATE;
                } else {
                        w = work_add(c, WORK_CREATE, type, NULL);
                        if (!w)
                                return -ENOMEM;
                        w->ports = ports;
                }
                while (next < n_rest && w->n_items < c->max)
                        RET_NERRNO(work_push(w, (Item) { .want = rest[next++]->src }));
        }

        c->plan->slices_desired += (n_wants + c->max - 1) / c->max;
        return 0;
}

static void wants_free(Want *wants, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(wants[i].key);
        free(wants);
}

/* ---- one address type -------------------------------------------------------------- */

static int reconcile_type(Ctx *c, size_t t, const EndpointSlice *const *slices, size_t n_slices,
                          const size_t *group_of) {
        const EndpointSliceWant *in = c->want;
        const SliceAddressTypeWant *at = &in->address_types[t];
        _cleanup_free_ bool *slice_taken = new0(bool, n_slices + 1);
        size_t first_work = c->n_work;
        int r;

        if (!slice_taken)
                return -ENOMEM;
        c->plan->endpoints_desired += at->n_endpoints;

        for (size_t g = 0; g < in->n_port_sets; g++) {
                _cleanup_free_ const EndpointSlice **mine = NULL;
                Want *wants = NULL;
                size_t n_wants = 0, n_mine = 0;

                if (group_of[g] != g)
                        continue; /* same set as an earlier one */
                for (size_t i = 0; i < at->n_endpoints; i++)
                        if (at->endpoints[i].port_set < in->n_port_sets && group_of[at->endpoints[i].port_set] == g)
                                n_wants++;
                if (n_wants == 0)
                        continue;
                wants = new0(Want, n_wants);
                mine = new0(const EndpointSlice *, n_slices + 1);
                if (!wants || !mine) {
                        free(wants);
                        return -ENOMEM;
                }
                n_wants = 0;
                for (size_t i = 0; i < at->n_endpoints; i++) {
                        const SliceWantEndpoint *e = &at->endpoints[i];
                        if (e->port_set >= in->n_port_sets || group_of[e->port_set] != g)
                                continue;
                        Want *x = &wants[n_wants++];
                        x->src = e;
                        x->key = identity_key(e->addresses, e->n_addresses, e->hostname,
                                              e->pod_name ? e->pod_namespace : NULL, e->pod_name);
                        if (!x->key) {
                                wants_free(wants, n_wants);
                                return -ENOMEM;
                        }
                }
                qsort(wants, n_wants, sizeof(Want), want_cmp_key);
                /* A duplicate identity is written once (the first after sorting). */
                for (size_t i = 1; i < n_wants; i++)
                        if (streq(wants[i].key, wants[i - 1].key))
                                wants[i].done = true;

                for (size_t i = 0; i < n_slices; i++)
                        if (!slice_taken[i] && endpointslice_ports_equal(slices[i]->ports, slices[i]->n_ports,
                                                                         in->port_sets[g].ports,
                                                                         in->port_sets[g].n_ports)) {
                                slice_taken[i] = true;
                                mine[n_mine++] = slices[i];
                        }
                r = reconcile_group(c, t, &in->port_sets[g], mine, n_mine, wants, n_wants);
                wants_free(wants, n_wants);
                if (r < 0)
                        return r;
        }

        /* Slices of a port set nobody wants any more. */
        for (size_t i = 0; i < n_slices; i++)
                if (!slice_taken[i] && !work_add(c, WORK_DELETE, t, slices[i]))
                        return -ENOMEM;

        /* 5. placeholder: the type would end with no slice at all */
        bool any = false;
        for (size_t i = first_work; i < c->n_work; i++)
                if (c->work[i].state != WORK_DELETE)
                        any = true;
        if (!any) {
                Work *keep = NULL;
                for (size_t i = first_work; i < c->n_work; i++) {
                        Work *w = &c->work[i];
                        if (w->existing && is_identical_placeholder(c, w->existing) &&
                            (!keep || strcmp(slice_name(w), slice_name(keep)) < 0))
                                keep = w;
                }
                if (keep) {
                        keep->state = WORK_UNCHANGED;
                        keep->n_items = 0;
                        keep->placeholder = true;
                } else {
                        Work *w = work_add(c, WORK_CREATE, t, NULL);
                        if (!w)
                                return -ENOMEM;
                        w->placeholder = true;
                }
                c->plan->slices_desired++;
        }
        return 0;
}

/* ---- building the plan ----------------------------------------------------------- */

static int slice_new(Ctx *c, const Work *w, EndpointSlice **ret) {
        const Service *svc = c->want->service;
        const EndpointSlice *old = w->existing;
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        EndpointSlice *s;
        char ts[RFC3339_MAX];

        s = kube_object_alloc(&kube_kind_endpointslice, sizeof(EndpointSlice), c->pool);
        if (!s)
                return -ENOMEM;
        o = &s->object;
        RET_NERRNO(intern_opt(c->pool, svc->object.meta.namespace, &o->meta.namespace));
        RET_NERRNO(strmap_copy(c->pool, &c->labels, &o->meta.labels));
        if (old) {
                RET_NERRNO(strdup_opt(old->object.meta.name, &o->meta.name));
                RET_NERRNO(strdup_opt(old->object.meta.uid, &o->meta.uid));
                RET_NERRNO(strdup_opt(old->object.meta.resource_version, &o->meta.resource_version));
                o->meta.generation = old->object.meta.generation;
                RET_NERRNO(strmap_copy(c->pool, &old->object.meta.annotations, &o->meta.annotations));
        } else if (asprintf(&s->generate_name, "%s-", svc->object.meta.name) < 0)
                return -ENOMEM;

        /* §6.5: every slice written carries the sync's trigger time, or none. */
        RET_NERRNO(strmap_set(&o->meta.annotations, c->pool, ENDPOINTSLICE_TRIGGER_TIME_ANNOTATION,
                              c->want->trigger_time > 0 ? rfc3339_format(c->want->trigger_time, ts) : NULL));

        if (old && old->owner_references.n > 0) {
                s->owner_references.items = new0(OwnerReference, old->owner_references.n);
                if (!s->owner_references.items)
                        return -ENOMEM;
                for (size_t i = 0; i < old->owner_references.n; i++) {
                        const OwnerReference *src = &old->owner_references.items[i];
                        OwnerReference *d = &s->owner_references.items[s->owner_references.n++];
                        d->controller = src->controller;
                        d->block_owner_deletion = src->block_owner_deletion;
                        RET_NERRNO(intern_opt(c->pool, src->api_version, &d->api_version));
                        RET_NERRNO(intern_opt(c->pool, src->kind, &d->kind));
                        RET_NERRNO(strdup_opt(src->name, &d->name));
                        RET_NERRNO(strdup_opt(src->uid, &d->uid));
                }
        } else {
                s->owner_references.items = new0(OwnerReference, 1);
                if (!s->owner_references.items)
                        return -ENOMEM;
                OwnerReference *d = &s->owner_references.items[s->owner_references.n++];
                d->controller = KUBE_TRUE;
                d->block_owner_deletion = KUBE_TRUE;
                RET_NERRNO(intern_opt(c->pool, "v1", &d->api_version));
                RET_NERRNO(intern_opt(c->pool, "Service", &d->kind));
                RET_NERRNO(strdup_opt(svc->object.meta.name, &d->name));
                RET_NERRNO(strdup_opt(svc->object.meta.uid, &d->uid));
        }

        RET_NERRNO(intern_opt(c->pool, c->want->address_types[w->type].address_type, &s->address_type));
        if (w->n_items > 0) {
                s->endpoints = new0(EndpointSliceEndpoint, w->n_items);
                if (!s->endpoints)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < w->n_items; i++) {
                EndpointSliceEndpoint *e = &s->endpoints[s->n_endpoints++];
                if (w->items[i].want)
                        RET_NERRNO(endpoint_from_want(c->pool, w->items[i].want, c->want->hints, e));
                else
                        RET_NERRNO(endpoint_copy(c->pool, w->items[i].old, e));
        }
        if (!w->placeholder && w->ports && w->ports->n_ports > 0) {
                s->ports = new0(EndpointSlicePort, w->ports->n_ports);
                if (!s->ports)
                        return -ENOMEM;
                for (size_t i = 0; i < w->ports->n_ports; i++)
                        RET_NERRNO(port_copy(c->pool, &w->ports->ports[i], &s->ports[s->n_ports++]));
        }
        *ret = (EndpointSlice *) TAKE_PTR(o);
        return 0;
}

static int plan_push(Ctx *c, SliceOp op, const Work *w) {
        EndpointSlicePlan *p = c->plan;
        SliceChange *ch = &p->changes[p->n_changes];
        int r;

        *ch = (SliceChange) { .op = op };
        ch->address_type = strpool_intern0(c->pool, w->type < c->want->n_address_types
                                                                    ? c->want->address_types[w->type].address_type
                                                                    : strempty(w->existing->address_type));
        if (!ch->address_type)
                return -ENOMEM;
        if (op == SLICE_OP_DELETE)
                ch->slice = (EndpointSlice *) kube_object_ref((KubeObject *) &w->existing->object);
        else if ((r = slice_new(c, w, &ch->slice)) < 0) {
                strpool_release(c->pool, ch->address_type);
                return r;
        }
        p->n_changes++;
        return 0;
}

static int work_cmp_name(const void *a, const void *b) {
        const Work *x = *(const Work *const *) a, *y = *(const Work *const *) b;
        return strcmp(slice_name(x), slice_name(y));
}

static int work_cmp_create(const void *a, const void *b) {
        const Work *x = *(const Work *const *) a, *y = *(const Work *const *) b;
        return x->order < y->order ? -1 : x->order > y->order;
}

static int build_plan(Ctx *c) {
        const Service *svc = c->want->service;
        _cleanup_free_ Work **list = new0(Work *, c->n_work + 1);
        size_t n = 0;

        if (!list)
                return -ENOMEM;
        c->plan->changes = new0(SliceChange, c->n_work + 1);
        if (!c->plan->changes)
                return -ENOMEM;

        /* 4. each create becomes an update of a slice marked delete of the same
         * address type (never of one another Service owns: the garbage collector
         * is removing those).  First create takes the first name. */
        for (size_t t = 0; t < c->want->n_address_types; t++) {
                size_t nc = 0, nd = 0;
                _cleanup_free_ Work **creates = new0(Work *, c->n_work + 1), **deletes = new0(Work *, c->n_work + 1);
                if (!creates || !deletes)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_work; i++) {
                        Work *w = &c->work[i];
                        if (w->type != t)
                                continue;
                        if (w->state == WORK_CREATE)
                                creates[nc++] = w;
                        else if (w->state == WORK_DELETE && endpointslice_owned_by(w->existing, svc))
                                deletes[nd++] = w;
                }
                qsort(creates, nc, sizeof(Work *), work_cmp_create);
                qsort(deletes, nd, sizeof(Work *), work_cmp_name);
                for (size_t i = 0; i < nc && i < nd; i++) {
                        creates[i]->existing = deletes[i]->existing;
                        creates[i]->state = WORK_UPDATE;
                        deletes[i]->state = WORK_UNCHANGED;
                        deletes[i]->n_items = 0;
                        deletes[i]->existing = NULL;
                        deletes[i]->placeholder = false;
                        deletes[i]->ports = NULL;
                        deletes[i]->type = TYPE_ABSORBED;
                }
        }

        /* creates (not while the Service is being deleted), updates, deletes */
        for (size_t i = 0; i < c->n_work; i++)
                if (c->work[i].state == WORK_CREATE && svc->object.meta.deletion_timestamp == 0)
                        list[n++] = &c->work[i];
        qsort(list, n, sizeof(Work *), work_cmp_create);
        for (size_t i = 0; i < n; i++)
                RET_NERRNO(plan_push(c, SLICE_OP_CREATE, list[i]));
        c->plan->n_creates = n;

        n = 0;
        for (size_t i = 0; i < c->n_work; i++)
                if (c->work[i].state == WORK_UPDATE)
                        list[n++] = &c->work[i];
        qsort(list, n, sizeof(Work *), work_cmp_name);
        for (size_t i = 0; i < n; i++)
                RET_NERRNO(plan_push(c, SLICE_OP_UPDATE, list[i]));
        c->plan->n_updates = n;

        n = 0;
        for (size_t i = 0; i < c->n_work; i++)
                if (c->work[i].state == WORK_DELETE)
                        list[n++] = &c->work[i];
        qsort(list, n, sizeof(Work *), work_cmp_name);
        for (size_t i = 0; i < n; i++)
                RET_NERRNO(plan_push(c, SLICE_OP_DELETE, list[i]));
        c->plan->n_deletes = n;

        for (size_t i = 0; i < c->n_work; i++) {
                const Work *w = &c->work[i];
                if (w->type == TYPE_ABSORBED || w->state == WORK_DELETE)
                        continue;
                if (w->state == WORK_CREATE && svc->object.meta.deletion_timestamp != 0)
                        continue;
                c->plan->slices_after++;
        }
        return 0;
}

EndpointSlicePlan *endpointslice_plan_free(EndpointSlicePlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_changes; i++) {
                kube_object_unref((KubeObject *) p->changes[i].slice);
                strpool_release(p->pool, p->changes[i].address_type);
        }
        free(p->changes);
        strpool_free(p->pool);
        free(p);
        return NULL;
}

int endpointslice_reconcile(const EndpointSliceWant *in, EndpointSlicePlan **ret) {
        _cleanup_(endpointslice_plan_freep) EndpointSlicePlan *plan = NULL;
        _cleanup_free_ size_t *group_of = NULL;
        _cleanup_free_ char **set_keys = NULL;
        _cleanup_free_ const EndpointSlice **of_type = NULL;
        Ctx c = { .want = in };
        int r = 0;

        if (!in || !in->service || (in->n_port_sets > 0 && !in->port_sets))
                return -EINVAL;
        c.max = in->max_endpoints_per_slice ? in->max_endpoints_per_slice : ENDPOINTSLICE_MAX_ENDPOINTS_DEFAULT;
        if (c.max > ENDPOINTSLICE_MAX_ENDPOINTS_LIMIT)
                return -EINVAL;

        plan = new0(EndpointSlicePlan, 1);
        if (!plan)
                return -ENOMEM;
        plan->pool = strpool_new();
        if (!plan->pool)
                return -ENOMEM;
        c.plan = plan;
        c.pool = plan->pool;
        r = endpointslice_desired_labels(in->service, c.pool, &c.labels);
        if (r < 0)
                return r;

        /* Port sets equal as sets are one group (the first one's order is written). */
        group_of = new0(size_t, in->n_port_sets + 1);
        set_keys = new0(char *, in->n_port_sets + 1);
        of_type = new0(const EndpointSlice *, in->n_existing + 1);
        if (!group_of || !set_keys || !of_type) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t g = 0; g < in->n_port_sets; g++) {
                set_keys[g] = port_set_key(in->port_sets[g].ports, in->port_sets[g].n_ports);
                if (!set_keys[g]) {
                        r = -ENOMEM;
                        goto finish;
                }
                group_of[g] = g;
                for (size_t k = 0; k < g; k++)
                        if (streq(set_keys[k], set_keys[g])) {
                                group_of[g] = k;
                                break;
                        }
        }

        for (size_t i = 0; i < in->n_existing; i++) {
                const char *mb = strmap_get(&in->existing[i]->object.meta.labels, ENDPOINTSLICE_LABEL_MANAGED_BY);
                if (!streq_ptr(mb, ENDPOINTSLICE_MANAGED_BY_BERTH))
                        plan->foreign_retaken++;
        }

        /* Slices another owner controls, or of an address type the Service no
         * longer has, are deleted. */
        for (size_t i = 0; i < in->n_existing; i++) {
                const EndpointSlice *s = in->existing[i];
                size_t t = type_index(in, s->address_type);
                if ((t == TYPE_UNKNOWN || !endpointslice_owned_by(s, in->service)) &&
                    !work_add(&c, WORK_DELETE, t, s)) {
                        r = -ENOMEM;
                        goto finish;
                }
        }

        for (size_t t = 0; t < in->n_address_types; t++) {
                size_t n = 0;
                for (size_t i = 0; i < in->n_existing; i++) {
                        const EndpointSlice *s = in->existing[i];
                        if (streq_ptr(s->address_type, in->address_types[t].address_type) &&
                            endpointslice_owned_by(s, in->service))
                                of_type[n++] = s;
                }
                qsort(of_type, n, sizeof(EndpointSlice *), existing_cmp_name);
                r = reconcile_type(&c, t, of_type, n, group_of);
                if (r < 0)
                        goto finish;
        }

        r = build_plan(&c);
        if (r >= 0)
                *ret = TAKE_PTR(plan);
finish:
        for (size_t g = 0; set_keys && g < in->n_port_sets; g++)
                free(set_keys[g]);
        for (size_t i = 0; i < c.n_work; i++)
                free(c.work[i].items);
        free(c.work);
        strmap_done(&c.labels, c.pool);
        return r;
}
