/* SPDX-License-Identifier: Apache-2.0 */
/* The nodeport controller (nodeport.md §1, §5-§12).
 *
 * State: one record per Service (its current claims and the problems
 * reported for it), a table port -> claimants in claim order
 * (creationTimestamp, namespace, name), and the live bitmap: ports with a
 * claimant, picks whose write is in flight, and kept leak candidates.
 * Service events update one record at a time through the work queue; the
 * full pass (startup, then every --nodeport-audit-interval) rebuilds it all
 * from the cache like kube-apiserver's repair loop. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "json.h"
#include "log.h"
#include "nodeport.h"
#include "nodeport_alloc.h"
#include "nodeport_rules.h"
#include "queue.h"
#include "source_events.h"

#define KEY_MAX 512

typedef struct Reported {
        char reason[32];
        int64_t port;
        char message[NODEPORT_MESSAGE_MAX];
} Reported;

typedef struct NpService {
        char *namespace;
        char *name;
        char *uid;
        usec_t created;
        NodePortClaims claims;
        size_t n_reported;          /* problems reported and still present (§7 de-duplication) */
        Reported *reported;
        bool writing;               /* a fill is in flight */
        bool full_blocked;          /* a fill found the range full; retried when a port frees */
        bool missing_logged;
        bool write_failed;          /* NodePortAllocationFailed reported; cleared by a good write */
        unsigned generation;
} NpService;

typedef struct PortSlot {
        size_t n;
        NpService **v;              /* claimants, claim order */
} PortSlot;

typedef struct Metrics {
        MetricFamily *allocated, *available, *allocations, *allocation_errors, *repair_errors, *reconcile_errors,
                *problem_ports, *missing, *last_pass;
} Metrics;

struct NodePortController {
        Controller controller;
        Source *source;
        sd_event *event;
        Cache *services;
        WorkQueue *queue;
        EventRecorder *recorder;
        HttpServer *http;
        MetricsRegistry *registry;
        Metrics m;
        bool offline;
        bool audit_only;
        bool started;
        bool first_pass_done;
        usec_t interval;
        sd_event_source *timer;
        usec_t last_pass;
        unsigned generation;
        uint64_t rng;

        NodePortRange range;
        char range_str[NODEPORT_RANGE_STRLEN];
        NodePortAlloc *live;
        NodePortAlloc *inflight;
        uint8_t *leak;              /* per port: leak-candidate counter, 0 = none */
        PortSlot *slots;            /* range.size entries */

        size_t n_services;
        NpService **services_v;     /* sorted by (namespace, name) */

        bool band_armed[_NODEPORT_BAND_MAX];
        bool full_reported;
        unsigned writes_in_flight;
        /* online, role A's self-checks (PortNotAllocated, leaks) start once
         * berth has written a port: against kube-apiserver, which allocates
         * itself, auto is a pure audit (§1) */
        bool allocated_online;
        /* writes in flight; the source cancels them unanswered when it is freed after us */
        struct FillWrite *fills;
};

#define NP(c) ((NodePortController *) (c))

/* ---- flags ------------------------------------------------------------------ */

static int why(char **ret_why, const char *s) {
        char *w = strdup(s);
        if (!w)
                return -ENOMEM;
        *ret_why = w;
        return -EINVAL;
}

int nodeport_parse_role_flag(const char *value, void *userdata, char **ret_why) {
        ControllerFlags *f = userdata;

        if (streq(value, "auto"))
                f->nodeport_audit_only = false;
        else if (streq(value, "audit"))
                f->nodeport_audit_only = true;
        else
                return why(ret_why, "must be auto or audit");
        return 0;
}

int nodeport_parse_range_flag(const char *value, void *userdata, char **ret_why) {
        ControllerFlags *f = userdata;
        NodePortRange r;
        int ret;

        ret = nodeport_range_parse(value, &r, ret_why);
        if (ret < 0)
                return ret;
        f->nodeport_range_first = r.first;
        f->nodeport_range_size = r.size;
        return 0;
}

int nodeport_parse_audit_interval_flag(const char *value, void *userdata, char **ret_why) {
        ControllerFlags *f = userdata;
        return cli_parse_duration(value, false, &f->nodeport_audit_interval, ret_why);
}

/* ---- the Service table ---------------------------------------------------- */

static int cmp_name(const char *ns1, const char *n1, const char *ns2, const char *n2) {
        int r = strcmp(strempty(ns1), strempty(ns2));
        return r != 0 ? r : strcmp(n1, n2);
}

/* Index of (ns, name), or where it would go as ~index. */
static ssize_t service_find(NodePortController *np, const char *ns, const char *name) {
        size_t lo = 0, hi = np->n_services;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int r = cmp_name(np->services_v[mid]->namespace, np->services_v[mid]->name, ns, name);
                if (r == 0)
                        return (ssize_t) mid;
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return ~(ssize_t) lo;
}

static NpService *np_service_free(NpService *s) {
        if (!s)
                return NULL;
        free(s->namespace);
        free(s->name);
        free(s->uid);
        nodeport_claims_done(&s->claims);
        free(s->reported);
        free(s);
        return NULL;
}

static int service_get_or_add(NodePortController *np, const Service *svc, NpService **ret) {
        const ObjectMeta *m = &svc->object.meta;
        ssize_t i = service_find(np, m->namespace, m->name);
        NpService *s, **v;

        if (i >= 0) {
                s = np->services_v[i];
                if (!streq_ptr(s->uid, m->uid)) {
                        char *uid = m->uid ? strdup(m->uid) : NULL;
                        if (m->uid && !uid)
                                return -ENOMEM;
                        free(s->uid);
                        s->uid = uid;
                }
                s->created = m->creation_timestamp;
                *ret = s;
                return 0;
        }
        s = new0(NpService, 1);
        if (!s)
                return -ENOMEM;
        s->namespace = strdup(strempty(m->namespace));
        s->name = strdup(m->name);
        s->uid = m->uid ? strdup(m->uid) : NULL;
        s->created = m->creation_timestamp;
        v = reallocarray(np->services_v, np->n_services + 1, sizeof(*v));
        if (!s->namespace || !s->name || (m->uid && !s->uid) || !v) {
                if (v)
                        np->services_v = v;
                np_service_free(s);
                return -ENOMEM;
        }
        np->services_v = v;
        i = ~i;
        memmove(&v[i + 1], &v[i], (np->n_services - (size_t) i) * sizeof(*v));
        v[i] = s;
        np->n_services++;
        *ret = s;
        return 0;
}

static void service_remove_at(NodePortController *np, size_t i) {
        np_service_free(np->services_v[i]);
        memmove(&np->services_v[i], &np->services_v[i + 1], (np->n_services - i - 1) * sizeof(NpService *));
        np->n_services--;
}

static void service_key(const NpService *s, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/%s", s->namespace, s->name);
}

/* Claim order (§5.4). */
static int claim_cmp(const NpService *a, const NpService *b) {
        if (a->created != b->created)
                return a->created < b->created ? -1 : 1;
        return cmp_name(a->namespace, a->name, b->namespace, b->name);
}

/* ---- events ------------------------------------------------------------------ */

static void emit(NodePortController *np, const NpService *s, const char *reason, const char *note) {
        EventObjectRef ref = {
                .api_version = "v1", .kind = "Service", .namespace = s->namespace, .name = s->name, .uid = s->uid,
        };
        int r;

        log_warning("service %s/%s: %s: %s", s->namespace, s->name, reason, note);
        if (!np->recorder)
                return;
        r = event_recorder_emit(np->recorder, &ref, "Warning", reason, NODEPORT_ACTION, note);
        if (r < 0)
                log_debug_errno(r, "cannot record the %s event for %s/%s: %m", reason, s->namespace, s->name);
}

static void count(MetricFamily *f, const char *label) {
        const char *values[] = { label, NULL };
        if (f)
                (void) metric_inc(f, label ? values : NULL);
}

/* ---- the port table ----------------------------------------------------------- */

static PortSlot *slot_of(NodePortController *np, int64_t port) {
        if (!nodeport_range_contains(&np->range, port))
                return NULL;
        return &np->slots[port - np->range.first];
}

static void slot_remove(PortSlot *slot, NpService *s) {
        for (size_t i = 0; i < slot->n; i++)
                if (slot->v[i] == s) {
                        memmove(&slot->v[i], &slot->v[i + 1], (slot->n - i - 1) * sizeof(NpService *));
                        slot->n--;
                        return;
                }
}

static int slot_insert(PortSlot *slot, NpService *s) {
        NpService **v = reallocarray(slot->v, slot->n + 1, sizeof(*v));
        size_t i;

        if (!v)
                return -ENOMEM;
        slot->v = v;
        for (i = slot->n; i > 0 && claim_cmp(v[i - 1], s) > 0; i--)
                v[i] = v[i - 1];
        v[i] = s;
        slot->n++;
        return 0;
}

static void requeue(NodePortController *np, const NpService *s) {
        char key[KEY_MAX];
        service_key(s, key, sizeof(key));
        (void) workqueue_add(np->queue, key);
}

static void requeue_slot(NodePortController *np, const PortSlot *slot, const NpService *except) {
        for (size_t i = 0; i < slot->n; i++)
                if (slot->v[i] != except)
                        requeue(np, slot->v[i]);
}

static void requeue_blocked(NodePortController *np) {
        for (size_t i = 0; i < np->n_services; i++)
                if (np->services_v[i]->full_blocked)
                        requeue(np, np->services_v[i]);
}

/* §9: PortRangeFull when the last free port goes, PortRangeNearlyFull per band. */
static void check_usage(NodePortController *np, const NpService *who, const NpService *band_who[]) {
        int32_t used = nodeport_alloc_used(np->live);

        if (used >= np->range.size) {
                if (!np->full_reported && who) {
                        char note[256];
                        (void) snprintf(note, sizeof(note),
                                        "Port range %s is full; you must widen the port range in order to create new services",
                                        np->range_str);
                        emit(np, who, "PortRangeFull", note);
                        count(np->m.repair_errors, "full");
                }
                np->full_reported = true;
        } else
                np->full_reported = false;

        for (NodePortBand b = 0; b < _NODEPORT_BAND_MAX; b++) {
                int64_t size = nodeport_alloc_band_size(np->live, b), u = nodeport_alloc_band_used(np->live, b);
                const NpService *w = band_who ? band_who[b] : who;

                if (size == 0)
                        continue;
                if (np->band_armed[b] && u * 100 >= size * 90 && w) {
                        char note[NODEPORT_MESSAGE_MAX];
                        int32_t first = nodeport_alloc_band_first(np->live, b);
                        (void) snprintf(note, sizeof(note),
                                        "%s band %" PRIi32 "-%" PRIi64 " of port range %s is %" PRIi64
                                        "%% allocated (%" PRIi64 " of %" PRIi64 " ports)",
                                        nodeport_band_to_string(b), first, first + size - 1, np->range_str,
                                        u * 100 / size, u, size);
                        emit(np, w, "PortRangeNearlyFull", note);
                        np->band_armed[b] = false;
                } else if (!np->band_armed[b] && u * 100 < size * 85)
                        np->band_armed[b] = true;
        }
}

/* Frees a port's bit once nobody claims it and no write of ours holds it. */
static void maybe_release(NodePortController *np, int64_t port) {
        PortSlot *slot = slot_of(np, port);

        if (!slot || slot->n > 0 || nodeport_alloc_has(np->inflight, port) || np->leak[port - np->range.first])
                return;
        if (nodeport_alloc_release(np->live, port))
                requeue_blocked(np);
}

static bool claims_contain(const NodePortClaims *c, int64_t port) {
        for (size_t i = 0; i < c->n_claims; i++)
                if (c->claims[i] == port)
                        return true;
        return false;
}

/* The other claimants of a port only need a second look when the keeper
 * (the first claimant) changed: that is what turns their PortAlreadyAllocated
 * on or off.  Requeueing them on every change would make two holders of one
 * port requeue each other for ever. */
static void requeue_if_keeper_changed(NodePortController *np, const PortSlot *slot, const NpService *keeper_before,
                                      const NpService *s) {
        const NpService *keeper = slot->n > 0 ? slot->v[0] : NULL;
        if (keeper != keeper_before)
                requeue_slot(np, slot, s);
}

/* Replaces s's claims with c (taken over), keeping the table and the live bitmap in step. */
static int service_set_claims(NodePortController *np, NpService *s, NodePortClaims *c) {
        _cleanup_free_ const NpService **keeper_before = new0(const NpService *, c->n_claims + 1);
        NodePortClaims old;
        int r = 0;

        if (!keeper_before)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_claims; i++) {
                const PortSlot *slot = slot_of(np, c->claims[i]);
                keeper_before[i] = slot && slot->n > 0 ? slot->v[0] : NULL;
        }
        old = s->claims;
        s->claims = *c;
        *c = (NodePortClaims) {};
        for (size_t i = 0; i < old.n_claims; i++) {
                PortSlot *slot = slot_of(np, old.claims[i]);
                const NpService *keeper;
                if (!slot)
                        continue;
                keeper = slot->n > 0 ? slot->v[0] : NULL;
                slot_remove(slot, s);
                /* a port still claimed is re-inserted below (its place follows
                 * a changed creationTimestamp) and judged there */
                if (!claims_contain(&s->claims, old.claims[i]))
                        requeue_if_keeper_changed(np, slot, keeper, s);
        }
        for (size_t i = 0; i < s->claims.n_claims; i++) {
                PortSlot *slot = slot_of(np, s->claims.claims[i]);
                if (!slot)
                        continue;
                r = slot_insert(slot, s);
                if (r < 0)
                        break;
                requeue_if_keeper_changed(np, slot, keeper_before[i], s);
                if (nodeport_alloc_allocate(np->live, s->claims.claims[i]) >= 0)
                        check_usage(np, s, NULL);
        }
        for (size_t i = 0; i < old.n_claims; i++)
                maybe_release(np, old.claims[i]);
        nodeport_claims_done(&old);
        return r;
}

static void service_drop_claims(NodePortController *np, NpService *s) {
        NodePortClaims none = {};
        (void) service_set_claims(np, s, &none);
}

/* ---- problems (§7, §10, §13) ------------------------------------------------- */

static int add_reported(Reported **v, size_t *n, const char *reason, int64_t port, const char *message) {
        Reported *a = reallocarray(*v, *n + 1, sizeof(Reported));
        if (!a)
                return -ENOMEM;
        *v = a;
        a = &a[(*n)++];
        *a = (Reported) { .port = port };
        (void) snprintf(a->reason, sizeof(a->reason), "%s", reason);
        (void) snprintf(a->message, sizeof(a->message), "%s", message);
        return 0;
}

static bool has_reported(const Reported *v, size_t n, const Reported *x) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].reason, x->reason) && streq(v[i].message, x->message))
                        return true;
        return false;
}

/* The problems of s now: its own (invalid, duplicate inside), out of range, taken by an earlier claimant. */
static int service_problems(NodePortController *np, const NpService *s, Reported **ret, size_t *ret_n) {
        Reported *v = NULL;
        size_t n = 0;
        char msg[NODEPORT_MESSAGE_MAX];
        int r = 0;

        for (size_t i = 0; r >= 0 && i < s->claims.n_problems; i++) {
                const NodePortServiceProblem *p = &s->claims.problems[i];
                if (p->kind == NODEPORT_PROBLEM_INVALID)
                        r = add_reported(&v, &n, "InvalidNodePort", p->port, p->message);
                else {
                        (void) snprintf(msg, sizeof(msg),
                                        "Port %" PRIi64 " was assigned to multiple services; please recreate service",
                                        p->port);
                        r = add_reported(&v, &n, "PortAlreadyAllocated", p->port, msg);
                }
        }
        for (size_t i = 0; r >= 0 && i < s->claims.n_claims; i++) {
                int64_t port = s->claims.claims[i];
                PortSlot *slot = slot_of(np, port);
                if (!slot) {
                        (void) snprintf(msg, sizeof(msg),
                                        "Port %" PRIi64 " is not within the port range %s; please recreate service",
                                        port, np->range_str);
                        r = add_reported(&v, &n, "PortOutOfRange", port, msg);
                } else if (slot->n > 0 && slot->v[0] != s) {
                        (void) snprintf(msg, sizeof(msg),
                                        "Port %" PRIi64 " was assigned to multiple services; please recreate service",
                                        port);
                        r = add_reported(&v, &n, "PortAlreadyAllocated", port, msg);
                }
        }
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Emits what is new since the last evaluation; returns the number of problems. */
static int service_report(NodePortController *np, NpService *s) {
        Reported *now = NULL;
        size_t n = 0;
        bool clean = s->claims.n_problems == 0;
        int r;

        /* the common case, without allocating: nothing wrong before or now */
        for (size_t i = 0; clean && i < s->claims.n_claims; i++) {
                PortSlot *slot = slot_of(np, s->claims.claims[i]);
                clean = slot && slot->n > 0 && slot->v[0] == s;
        }
        if (clean && s->n_reported == 0)
                return 0;
        r = service_problems(np, s, &now, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (has_reported(s->reported, s->n_reported, &now[i]))
                        continue;
                emit(np, s, now[i].reason, now[i].message);
                count(np->m.repair_errors, streq(now[i].reason, "PortOutOfRange")         ? "outOfRange"
                                           : streq(now[i].reason, "PortAlreadyAllocated") ? "duplicate"
                                                                                           : NULL);
        }
        free(s->reported);
        s->reported = now;
        s->n_reported = n;
        return (int) n;
}

/* ---- filling (§5.2, §8) ----------------------------------------------------------- */

static uint64_t next_random(void *userdata) {
        NodePortController *np = userdata;
        /* xorshift64*: start points only need to spread, not to be secret */
        np->rng ^= np->rng >> 12;
        np->rng ^= np->rng << 25;
        np->rng ^= np->rng >> 27;
        return np->rng * UINT64_C(2685821657736338717);
}

typedef struct FillWrite FillWrite;
struct FillWrite {
        NodePortController *np;
        FillWrite *prev, *next;     /* np->fills: freed with the controller when never answered */
        char key[KEY_MAX];
        char namespace[KEY_MAX];
        char name[KEY_MAX];
        size_t n_picked;
        int32_t picked[];
};

static void fill_unlink(NodePortController *np, FillWrite *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                np->fills = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
}

static void fill_release(NodePortController *np, FillWrite *w, bool keep) {
        for (size_t i = 0; i < w->n_picked; i++) {
                (void) nodeport_alloc_release(np->inflight, w->picked[i]);
                if (!keep)
                        maybe_release(np, w->picked[i]);
        }
}

static void on_fill_written(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        FillWrite *w = userdata;
        NodePortController *np = w->np;
        ssize_t i;

        (void) stored;
        fill_unlink(np, w);
        np->writes_in_flight--;
        i = service_find(np, w->namespace, w->name);
        if (i >= 0)
                np->services_v[i]->writing = false;
        /* success: the bits stay set until the Service shows them (else §7 leak check) */
        fill_release(np, w, error >= 0);
        if (error >= 0) {
                if (i >= 0)
                        np->services_v[i]->write_failed = false;
                np->allocated_online = true;
                log_full(np->offline ? LOG_DEBUG : LOG_INFO, "service %s: node ports filled", w->key);
                (void) workqueue_done(np->queue, w->key, 0);
        } else if (error == -ESTALE) {
                /* re-read from the cache, which may lag the server a little: rate-limited */
                log_debug("service %s changed while filling its node ports; retrying", w->key);
                (void) workqueue_done(np->queue, w->key, error);
        } else if (error == -ENOENT) {
                (void) workqueue_done(np->queue, w->key, 0); /* gone; its delete event follows */
        } else {
                char note[2 * KEY_MAX + EVENT_NOTE_MAX];
                (void) snprintf(note, sizeof(note), "Failed to write allocated node ports for service %s: %s", w->key,
                                status && status->message ? status->message : strerror(-error));
                if (i >= 0 && !np->services_v[i]->write_failed)
                        emit(np, np->services_v[i], "NodePortAllocationFailed", note);
                if (i >= 0)
                        np->services_v[i]->write_failed = true;
                (void) workqueue_done(np->queue, w->key, error);
        }
        free(w);
}

/* Returns WORKQUEUE_PENDING when a write went out, 0 when nothing to do. */
static int service_fill(NodePortController *np, NpService *s, const Service *svc) {
        _cleanup_(nodeport_fill_done) NodePortFill fill = {};
        _cleanup_(json_gen_freep) yajl_gen g = NULL;
        _cleanup_free_ char *body = NULL;
        char key[KEY_MAX];
        FillWrite *w;
        Service copy;
        size_t len;
        int r;

        if (s->claims.n_missing == 0 || s->writing)
                return 0;
        if (np->audit_only) {
                if (!s->missing_logged)
                        log_warning("service %s/%s: %s is not set (audit role: not filled)", s->namespace, s->name,
                                    s->claims.missing[0].field);
                s->missing_logged = true;
                return 0;
        }
        r = nodeport_fill_plan(svc, np->live, np->offline ? NULL : next_random, np, &fill);
        if (r == -ENOSPC) {
                char note[256];
                count(np->m.allocation_errors, "dynamic");
                if (!s->full_blocked) {
                        (void) snprintf(note, sizeof(note),
                                        "Port range %s is full; you must widen the port range in order to create new services",
                                        np->range_str);
                        emit(np, s, "PortRangeFull", note);
                }
                s->full_blocked = true;
                return 0;
        }
        if (r < 0)
                return r;
        s->full_blocked = false;
        if (!fill.changed)
                return 0;
        for (size_t i = 0; i < fill.n_picked; i++) {
                (void) nodeport_alloc_allocate(np->inflight, fill.picked[i]);
                count(np->m.allocations, "dynamic");
        }

        /* a merge patch of spec.ports and healthCheckNodePort only, with the resourceVersion as precondition */
        _cleanup_free_ ServicePort *ports = new0(ServicePort, svc->n_ports ? svc->n_ports : 1);
        if (!ports) {
                for (size_t i = 0; i < fill.n_picked; i++) {
                        (void) nodeport_alloc_release(np->inflight, fill.picked[i]);
                        maybe_release(np, fill.picked[i]);
                }
                return -ENOMEM;
        }
        check_usage(np, s, NULL);
        copy = *svc;
        for (size_t i = 0; i < svc->n_ports; i++) {
                ports[i] = svc->ports[i];
                ports[i].node_port = fill.node_ports[i];
        }
        copy.ports = ports;
        copy.health_check_node_port = fill.health_check_node_port;
        g = json_gen_new(false);
        if (!g)
                r = -ENOMEM;
        else {
                r = service_node_ports_patch_encode(&copy, g);
                if (r >= 0)
                        r = json_gen_take(g, &body, &len);
        }
        w = r >= 0 ? malloc(sizeof(FillWrite) + fill.n_picked * sizeof(int32_t)) : NULL;
        if (!w) {
                for (size_t i = 0; i < fill.n_picked; i++) {
                        (void) nodeport_alloc_release(np->inflight, fill.picked[i]);
                        maybe_release(np, fill.picked[i]);
                }
                return r < 0 ? r : -ENOMEM;
        }
        service_key(s, key, sizeof(key));
        *w = (FillWrite) { .np = np, .n_picked = fill.n_picked };
        (void) snprintf(w->key, sizeof(w->key), "%s", key);
        (void) snprintf(w->namespace, sizeof(w->namespace), "%s", s->namespace);
        (void) snprintf(w->name, sizeof(w->name), "%s", s->name);
        if (fill.n_picked > 0) /* none when the fill only copies a port the Service has */
                memcpy(w->picked, fill.picked, fill.n_picked * sizeof(int32_t));
        r = source_merge_patch(np->source, &kube_kind_service, s->namespace, s->name, NULL, body, on_fill_written, w);
        if (r < 0) {
                fill_release(np, w, false);
                free(w);
                return r;
        }
        s->writing = true;
        np->writes_in_flight++;
        w->next = np->fills;
        if (np->fills)
                np->fills->prev = w;
        np->fills = w;
        return WORKQUEUE_PENDING;
}

/* ---- one Service (the work queue) ------------------------------------------------ */

static int split_key(const char *key, char *ns, char *name) {
        const char *slash = strchr(key, '/');
        if (!slash || (size_t) (slash - key) >= KEY_MAX || strlen(slash + 1) >= KEY_MAX)
                return -EINVAL;
        memcpy(ns, key, (size_t) (slash - key));
        ns[slash - key] = '\0';
        strcpy(name, slash + 1);
        return 0;
}

static int process(WorkQueue *q, const char *key, void *userdata) {
        NodePortController *np = userdata;
        char ns[KEY_MAX], name[KEY_MAX];
        NodePortClaims claims = {};
        const Service *svc;
        NpService *s;
        ssize_t i;
        int r;

        (void) q;
        if (split_key(key, ns, name) < 0)
                return 0;
        svc = (const Service *) cache_get(np->services, ns, name);
        i = service_find(np, ns, name);
        if (!svc) {
                if (i >= 0 && !np->services_v[i]->writing) {
                        service_drop_claims(np, np->services_v[i]);
                        service_remove_at(np, (size_t) i);
                }
                return 0;
        }
        if (!np->first_pass_done)
                return 0; /* the first pass covers it */
        r = service_get_or_add(np, svc, &s);
        if (r < 0)
                return r;
        r = nodeport_claims_compute(svc, &claims);
        if (r < 0)
                return r;
        r = service_set_claims(np, s, &claims);
        nodeport_claims_done(&claims);
        if (r < 0)
                return r;
        r = service_report(np, s);
        if (r != 0)
                return r < 0 ? r : 0; /* a bad explicit port: nothing is filled (§5.2) */
        if (s->claims.n_missing == 0)
                s->missing_logged = false;
        return service_fill(np, s, svc);
}

/* ---- the full pass (§7) ---------------------------------------------------------- */

typedef struct Pair {
        const Service *svc;
        NpService *rec;
} Pair;

typedef struct Collect {
        NodePortController *np;
        Pair *v;
        size_t n;
        size_t cursor;              /* the records are in the cache's (namespace, name) order too */
        int error;
} Collect;

static int collect(KubeObject *o, void *userdata) {
        Collect *c = userdata;
        NodePortController *np = c->np;
        const ObjectMeta *m = &o->meta;
        NpService *rec;
        int r;

        if (c->cursor < np->n_services &&
            cmp_name(np->services_v[c->cursor]->namespace, np->services_v[c->cursor]->name, m->namespace, m->name) < 0) {
                ssize_t i = service_find(np, m->namespace, m->name);
                c->cursor = (size_t) (i >= 0 ? i : ~i);
        }
        if (c->cursor < np->n_services && streq(np->services_v[c->cursor]->name, m->name) &&
            streq(np->services_v[c->cursor]->namespace, strempty(m->namespace))) {
                rec = np->services_v[c->cursor++];
                if (!streq_ptr(rec->uid, m->uid) || rec->created != m->creation_timestamp) {
                        r = service_get_or_add(np, SERVICE(o), &rec);
                        if (r < 0)
                                return c->error = r;
                }
        } else {
                r = service_get_or_add(np, SERVICE(o), &rec);
                if (r < 0)
                        return c->error = r;
                c->cursor = (size_t) service_find(np, m->namespace, m->name) + 1;
        }
        c->v[c->n++] = (Pair) { .svc = SERVICE(o), .rec = rec };
        return 0;
}

static int cmp_pair(const void *a, const void *b) {
        return claim_cmp(((const Pair *) a)->rec, ((const Pair *) b)->rec);
}

static void emit_not_allocated(NodePortController *np, const NpService *s, int64_t port) {
        char note[128];
        (void) snprintf(note, sizeof(note), "Port %" PRIi64 " is not allocated; repairing", port);
        emit(np, s, "PortNotAllocated", note);
        count(np->m.repair_errors, "repair");
}

static int full_pass(NodePortController *np) {
        _cleanup_(nodeport_alloc_freep) NodePortAlloc *fresh = NULL;
        _cleanup_free_ Pair *sorted = NULL;
        const NpService *band_who[_NODEPORT_BAND_MAX] = {}, *full_who = NULL;
        bool role_a = !np->audit_only && (np->offline || np->allocated_online);
        Collect c = {};
        int r;

        r = nodeport_alloc_new(&np->range, &fresh);
        if (r < 0)
                return r;
        c.np = np;
        c.v = sorted = new0(Pair, cache_size(np->services) + 1);
        if (!sorted)
                return -ENOMEM;
        (void) cache_foreach(np->services, NULL, collect, &c);
        if (c.error < 0)
                return c.error;
        qsort(sorted, c.n, sizeof(*sorted), cmp_pair);

        np->generation++;
        for (int32_t p = 0; p < np->range.size; p++)
                np->slots[p].n = 0;

        /* 1-2: claims in Service order onto a fresh bitmap */
        for (size_t k = 0; k < c.n; k++) {
                const Service *svc = sorted[k].svc;
                NodePortClaims claims = {};
                NpService *s = sorted[k].rec;

                s->generation = np->generation;
                r = nodeport_claims_compute(svc, &claims);
                if (r < 0)
                        goto fail;
                _cleanup_(nodeport_claims_done) NodePortClaims old = s->claims;
                s->claims = claims;
                for (size_t i = 0; i < s->claims.n_claims; i++) {
                        int64_t port = s->claims.claims[i];
                        PortSlot *slot = slot_of(np, port);

                        r = nodeport_alloc_allocate(fresh, port);
                        if (r == -ERANGE)
                                continue; /* PortOutOfRange, reported below */
                        if (r < 0 && r != -EEXIST) {
                                char note[128];
                                (void) snprintf(note, sizeof(note), "Unable to allocate port %" PRIi64 " due to an unknown error",
                                                port);
                                emit(np, s, "UnknownError", note);
                                count(np->m.repair_errors, "unknown");
                                goto fail;
                        }
                        r = slot_insert(slot, s);
                        if (r < 0)
                                goto fail;
                        np->leak[port - np->range.first] = 0; /* claimed again: no leak candidate */
                        if (slot->n > 1)
                                continue; /* a duplicate, reported below */
                        /* a claim the record did not have yet is a Service event
                         * still in the queue, not a hole in the bitmap */
                        if (role_a && np->first_pass_done && !nodeport_alloc_has(np->live, port) &&
                            claims_contain(&old, port)) {
                                emit_not_allocated(np, s, port);
                                (void) nodeport_alloc_allocate(np->live, port);
                        }
                        NodePortBand b = nodeport_alloc_band_of(fresh, (int32_t) port);
                        if (!band_who[b] && (int64_t) nodeport_alloc_band_used(fresh, b) * 100 >=
                                                    (int64_t) nodeport_alloc_band_size(fresh, b) * 90)
                                band_who[b] = s;
                        if (!full_who && nodeport_alloc_free_count(fresh) == 0)
                                full_who = s;
                }
        }
        /* records of Services that are gone */
        for (size_t i = np->n_services; i > 0; i--)
                if (np->services_v[i - 1]->generation != np->generation && !np->services_v[i - 1]->writing)
                        service_remove_at(np, i - 1);

        /* 3: leak candidates (role A): set live, unclaimed, not in flight */
        for (int32_t p = 0; p < np->range.size; p++) {
                int32_t port = np->range.first + p;
                bool live = nodeport_alloc_has(np->live, port);

                if (nodeport_alloc_has(fresh, port) || nodeport_alloc_has(np->inflight, port) || !live ||
                    !role_a || !np->first_pass_done) {
                        np->leak[p] = 0;
                        continue;
                }
                if (np->leak[p] == 0)
                        np->leak[p] = 2;
                else if (--np->leak[p] == 0) {
                        log_info("node port %" PRIi32 " is claimed by no Service; released", port);
                        count(np->m.repair_errors, "leak");
                        continue;
                }
                (void) nodeport_alloc_allocate(fresh, port); /* kept for now */
        }
        /* 4: the fresh bitmap becomes the live one, with our writes in flight */
        for (int32_t p = 0; p < np->range.size; p++)
                if (nodeport_alloc_has(np->inflight, np->range.first + p))
                        (void) nodeport_alloc_allocate(fresh, np->range.first + p);
        (void) nodeport_alloc_copy(np->live, fresh);
        np->last_pass = source_now(np->source);
        if (np->m.last_pass)
                (void) metric_set(np->m.last_pass, NULL, (double) np->last_pass / USEC_PER_SEC);

        check_usage(np, full_who, band_who);
        for (size_t i = 0; i < np->n_services; i++)
                (void) service_report(np, np->services_v[i]);
        np->first_pass_done = true;

        /* role A: fill in Service order (§8), through the queue online */
        for (size_t k = 0; k < c.n; k++) {
                NpService *s = sorted[k].rec;
                if (s->claims.n_missing == 0 || s->n_reported > 0)
                        continue;
                if (np->offline) {
                        char key[KEY_MAX];
                        service_key(s, key, sizeof(key));
                        /* offline: fill now, in order, so the picks are reproducible */
                        r = service_fill(np, s, sorted[k].svc);
                        if (r < 0)
                                log_error_errno(r, "service %s: cannot fill its node ports: %m", key);
                } else
                        requeue(np, s);
        }
        return 0;
fail:
        count(np->m.reconcile_errors, NULL);
        return r;
}

int nodeport_controller_full_pass(Controller *c) {
        return full_pass(NP(c));
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NodePortController *np = userdata;
        int r;

        r = full_pass(np);
        if (r < 0)
                log_error_errno(r, "node port audit pass failed: %m");
        r = sd_event_source_set_time(s, usec + np->interval);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

/* ---- handlers, metrics, life cycle -------------------------------------------- */

static void on_add(KubeObject *o, void *userdata) {
        NodePortController *np = userdata;
        char key[KEY_MAX];
        (void) workqueue_add(np->queue, kube_object_key(o, key, sizeof(key)));
}

static void on_update(KubeObject *old, KubeObject *o, void *userdata) {
        (void) old;
        on_add(o, userdata);
}

static int cmp_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Distinct ports with a current problem of this reason (a port held by two
 * Services outside the range is one problem port, as in /debug/nodeports). */
static double problem_ports(const NodePortController *np, const char *reason) {
        _cleanup_free_ int64_t *v = NULL;
        size_t n = 0, cap = 0, distinct = 0;

        for (size_t i = 0; i < np->n_services; i++) {
                const NpService *s = np->services_v[i];
                for (size_t k = 0; k < s->n_reported; k++) {
                        if (!streq(s->reported[k].reason, reason))
                                continue;
                        if (n == cap) {
                                int64_t *a = reallocarray(v, cap ? cap * 2 : 16, sizeof(int64_t));
                                if (!a)
                                        return NAN;
                                v = a;
                                cap = cap ? cap * 2 : 16;
                        }
                        v[n++] = s->reported[k].port;
                }
        }
        if (n > 1)
                qsort(v, n, sizeof(int64_t), cmp_int64);
        for (size_t i = 0; i < n; i++)
                distinct += i == 0 || v[i] != v[i - 1];
        return (double) distinct;
}

static void collect_metrics(MetricsRegistry *r, void *userdata) {
        NodePortController *np = userdata;
        double missing = 0;

        (void) r;
        for (NodePortBand b = 0; b < _NODEPORT_BAND_MAX; b++) {
                const char *v[] = { nodeport_band_to_string(b), NULL };
                int32_t size = nodeport_alloc_band_size(np->live, b), used = nodeport_alloc_band_used(np->live, b);
                (void) metric_set(np->m.allocated, v, used);
                (void) metric_set(np->m.available, v, size - used);
        }
        for (size_t i = 0; i < np->n_services; i++)
                if (np->audit_only || !np->started)
                        missing += (double) np->services_v[i]->claims.n_missing;
        (void) metric_set(np->m.problem_ports, (const char *[]) { "duplicate", NULL },
                          problem_ports(np, "PortAlreadyAllocated"));
        (void) metric_set(np->m.problem_ports, (const char *[]) { "outOfRange", NULL },
                          problem_ports(np, "PortOutOfRange"));
        (void) metric_set(np->m.missing, NULL, missing);
}

static int metrics_init(NodePortController *np, MetricsRegistry *reg) {
        static const char *const band[] = { "band", NULL }, *const scope[] = { "scope", NULL },
                                 *const type[] = { "type", NULL };
        int r = 0;

        if (!reg)
                return 0;
        np->registry = reg;
#define G(field, name, help, labels) \
        if (r >= 0)                  \
                r = metrics_gauge(reg, name, help, labels, &np->m.field)
#define C(field, name, help, labels) \
        if (r >= 0)                  \
                r = metrics_counter(reg, name, help, labels, &np->m.field)
        G(allocated, "berth_nodeport_allocated_ports", "Node ports in use, per band.", band);
        G(available, "berth_nodeport_available_ports", "Node ports free, per band.", band);
        C(allocations, "berth_nodeport_allocation_total", "Node ports berth allocated.", scope);
        C(allocation_errors, "berth_nodeport_allocation_errors_total", "Failed node-port allocations.", scope);
        C(repair_errors, "berth_nodeport_repair_port_errors_total", "Node-port problems found, by type.", type);
        C(reconcile_errors, "berth_nodeport_repair_reconcile_errors_total", "Failed full node-port passes.", NULL);
        G(problem_ports, "berth_nodeport_problem_ports", "Node ports with a current problem, by type.", type);
        G(missing, "berth_nodeport_missing_ports", "Node ports that should be set but are 0.", NULL);
        G(last_pass, "berth_nodeport_last_full_pass_timestamp_seconds", "Time of the last full node-port pass.",
          NULL);
#undef G
#undef C
        if (r >= 0)
                r = metrics_add_collector(reg, collect_metrics, np);
        return r;
}

static int render(void *userdata, char **ret, size_t *ret_len) {
        return nodeport_controller_render_json(userdata, ret, ret_len);
}

static int start(Controller *c) {
        NodePortController *np = NP(c);
        int r;

        np->started = true;
        r = full_pass(np);
        if (r < 0)
                log_error_errno(r, "node port audit pass failed: %m");
        if (np->offline || !np->event)
                return 0;
        r = sd_event_add_time_relative(np->event, &np->timer, CLOCK_MONOTONIC, np->interval, 0, on_timer, np);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(np->timer, SD_EVENT_ONESHOT);
}

static bool idle(Controller *c) {
        NodePortController *np = NP(c);
        return workqueue_idle(np->queue) && np->writes_in_flight == 0;
}

static void controller_free(Controller *c) {
        NodePortController *np = NP(c);

        if (!np)
                return;
        if (np->http)
                http_server_remove_path(np->http, NODEPORT_DEBUG_PATH);
        if (np->registry)
                metrics_remove_collector(np->registry, collect_metrics, np);
        np->timer = sd_event_source_disable_unref(np->timer);
        while (np->fills) {
                FillWrite *w = np->fills;
                fill_unlink(np, w);
                free(w);
        }
        np->queue = workqueue_free(np->queue);
        for (size_t i = 0; i < np->n_services; i++)
                np_service_free(np->services_v[i]);
        free(np->services_v);
        for (int32_t p = 0; np->slots && p < np->range.size; p++)
                free(np->slots[p].v);
        free(np->slots);
        free(np->leak);
        nodeport_alloc_free(np->live);
        nodeport_alloc_free(np->inflight);
        np->recorder = event_recorder_free(np->recorder);
        free(np);
}

int nodeport_controller_init(const ControllerContext *ctx, Controller **ret) {
        NodePortController *np;
        const ControllerFlags *f = ctx->flags;
        static const ControllerFlags defaults = CONTROLLER_FLAGS_INIT;
        int r;

        if (!f)
                f = &defaults;
        np = new0(NodePortController, 1);
        if (!np)
                return -ENOMEM;
        np->controller = (Controller) { .name = "nodeport", .start = start, .idle = idle, .free = controller_free };
        np->source = ctx->source;
        np->event = ctx->event;
        np->offline = ctx->offline;
        np->audit_only = f->nodeport_audit_only;
        np->interval = f->nodeport_audit_interval;
        np->range = (NodePortRange) { .first = f->nodeport_range_first, .size = f->nodeport_range_size };
        nodeport_range_format(&np->range, np->range_str, sizeof(np->range_str));
        np->band_armed[NODEPORT_BAND_STATIC] = np->band_armed[NODEPORT_BAND_DYNAMIC] = true;
        if (getrandom(&np->rng, sizeof(np->rng), 0) != sizeof(np->rng) || np->rng == 0)
                np->rng = now_usec(CLOCK_REALTIME) | 1;

        r = nodeport_alloc_new(&np->range, &np->live);
        if (r >= 0)
                r = nodeport_alloc_new(&np->range, &np->inflight);
        if (r < 0)
                goto fail;
        np->slots = new0(PortSlot, (size_t) np->range.size);
        np->leak = new0(uint8_t, (size_t) np->range.size);
        if (!np->slots || !np->leak) {
                r = -ENOMEM;
                goto fail;
        }

        WorkQueueOptions qo = {
                .name = "nodeport",
                .virtual_time = ctx->offline,
                .process = process,
                .userdata = np,
                .metrics = ctx->metrics,
        };
        r = workqueue_new(ctx->event, &qo, &np->queue);
        if (r < 0)
                goto fail;
        SourceEventsOptions eo = {
                .reporting_controller = NODEPORT_REPORTING_CONTROLLER,
                .reporting_instance = ctx->reporting_instance ? ctx->reporting_instance : "berth-controller",
                .offline = ctx->offline,
        };
        r = source_event_recorder_new(ctx->source, &eo, &np->recorder);
        if (r < 0)
                goto fail;
        r = source_cache(ctx->source, &kube_kind_service, NULL, &np->services);
        if (r < 0)
                goto fail;
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_add, .userdata = np };
        r = cache_add_handlers(np->services, &h);
        if (r < 0)
                goto fail;
        r = metrics_init(np, ctx->metrics);
        if (r < 0)
                goto fail;
        if (ctx->http) {
                r = http_server_add_path(ctx->http, NODEPORT_DEBUG_PATH, "application/json", render, np);
                if (r < 0)
                        goto fail;
                np->http = ctx->http;
        }
        /* offline the pass runs at once, and stderr stays for problems */
        log_full(np->offline ? LOG_DEBUG : LOG_INFO, "node port allocation waits for the first audit pass");
        *ret = &np->controller;
        return 0;
fail:
        controller_free(&np->controller);
        return r;
}

/* ---- /debug/nodeports (§12) --------------------------------------------------- */

typedef struct ProblemRow {
        int64_t port;
        const char *reason;
        size_t n;
        const NpService **services;
} ProblemRow;

static int row_cmp(const void *a, const void *b) {
        const ProblemRow *x = a, *y = b;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return strcmp(x->reason, y->reason);
}

static int add_row_service(ProblemRow **rows, size_t *n, int64_t port, const char *reason, const NpService *s) {
        ProblemRow *row = NULL;
        const NpService **v;

        for (size_t i = 0; i < *n && !row; i++)
                if ((*rows)[i].port == port && streq((*rows)[i].reason, reason))
                        row = &(*rows)[i];
        if (!row) {
                ProblemRow *a = reallocarray(*rows, *n + 1, sizeof(ProblemRow));
                if (!a)
                        return -ENOMEM;
                *rows = a;
                row = &a[(*n)++];
                *row = (ProblemRow) { .port = port, .reason = reason };
        }
        for (size_t i = 0; i < row->n; i++)
                if (row->services[i] == s)
                        return 0;
        v = reallocarray(row->services, row->n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        row->services = v;
        v[row->n++] = s;
        return 0;
}

static int service_ptr_claim_cmp(const void *a, const void *b) {
        return claim_cmp(*(const NpService *const *) a, *(const NpService *const *) b);
}

static int gen_usage(yajl_gen g, int64_t used, int64_t size) {
        return json_gen_kv_int(g, "usagePercent", size > 0 ? used * 100 / size : 0);
}

int nodeport_controller_render_json(Controller *c, char **ret, size_t *ret_len) {
        NodePortController *np = NP(c);
        _cleanup_(json_gen_freep) yajl_gen g = json_gen_new(false);
        ProblemRow *rows = NULL;
        size_t n_rows = 0;
        char ts[RFC3339_MAX], key[KEY_MAX];
        int r = 0;

        if (!g)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < np->n_services; i++) {
                const NpService *s = np->services_v[i];
                for (size_t k = 0; r >= 0 && k < s->n_reported; k++) {
                        const Reported *p = &s->reported[k];
                        PortSlot *slot = slot_of(np, p->port);
                        /* a duplicate across Services lists every claimant, the keeper first */
                        if (streq(p->reason, "PortAlreadyAllocated") && slot && slot->n > 1 && slot->v[0] != s)
                                r = add_row_service(&rows, &n_rows, p->port, "PortAlreadyAllocated", slot->v[0]);
                        if (r >= 0)
                                r = add_row_service(&rows, &n_rows, p->port,
                                                    streq(p->reason, "PortAlreadyAllocated") ? "PortAlreadyAllocated"
                                                    : streq(p->reason, "PortOutOfRange")     ? "PortOutOfRange"
                                                                                             : "InvalidNodePort",
                                                    s);
                }
        }
        if (r >= 0 && n_rows > 1)
                qsort(rows, n_rows, sizeof(ProblemRow), row_cmp);
        /* §12: each row's Services in claim order (the table above went by name) */
        for (size_t i = 0; r >= 0 && i < n_rows; i++)
                if (rows[i].n > 1)
                        qsort(rows[i].services, rows[i].n, sizeof(NpService *), service_ptr_claim_cmp);

#define T(x)                     \
        do {                     \
                if (r >= 0)      \
                        r = (x); \
        } while (0)
        int64_t used = nodeport_alloc_used(np->live);
        T(json_gen_map_open(g));
        T(json_gen_kv_str(g, "range", np->range_str));
        T(json_gen_kv_str(g, "role", np->audit_only ? "audit" : np->offline ? "allocate" : "auto"));
        T(json_gen_kv_int(g, "offset", nodeport_alloc_offset(np->live)));
        T(gen_usage(g, used, np->range.size));
        T(json_gen_str(g, "bands"));
        T(json_gen_map_open(g));
        for (NodePortBand b = 0; b < _NODEPORT_BAND_MAX; b++) {
                int64_t size = nodeport_alloc_band_size(np->live, b), u = nodeport_alloc_band_used(np->live, b);
                int64_t first = nodeport_alloc_band_first(np->live, b);
                T(json_gen_str(g, nodeport_band_to_string(b)));
                T(json_gen_map_open(g));
                T(json_gen_kv_int(g, "first", first));
                T(json_gen_kv_int(g, "last", first + size - 1));
                T(json_gen_kv_int(g, "allocated", u));
                T(json_gen_kv_int(g, "available", size - u));
                T(gen_usage(g, u, size));
                T(json_gen_map_close(g));
        }
        T(json_gen_map_close(g));
        T(json_gen_str(g, "lastFullPass"));
        T(np->last_pass ? json_gen_str(g, rfc3339_format_seconds(np->last_pass, ts)) : json_gen_null(g));
        T(json_gen_str(g, "problems"));
        T(json_gen_array_open(g));
        for (size_t i = 0; i < n_rows; i++) {
                T(json_gen_map_open(g));
                T(json_gen_kv_int(g, "port", rows[i].port));
                T(json_gen_kv_str(g, "reason", rows[i].reason));
                T(json_gen_str(g, "services"));
                T(json_gen_array_open(g));
                for (size_t k = 0; k < rows[i].n; k++) {
                        service_key(rows[i].services[k], key, sizeof(key));
                        T(json_gen_str(g, key));
                }
                T(json_gen_array_close(g));
                T(json_gen_map_close(g));
        }
        T(json_gen_array_close(g));
        T(json_gen_str(g, "leakCandidates"));
        T(json_gen_array_open(g));
        for (int32_t p = 0; p < np->range.size; p++)
                if (np->leak[p]) {
                        T(json_gen_map_open(g));
                        T(json_gen_kv_int(g, "port", np->range.first + p));
                        T(json_gen_kv_int(g, "sightings", 3 - np->leak[p]));
                        T(json_gen_map_close(g));
                }
        T(json_gen_array_close(g));
        T(json_gen_str(g, "missing"));
        T(json_gen_array_open(g));
        for (size_t i = 0; i < np->n_services; i++) {
                const NpService *s = np->services_v[i];
                for (size_t k = 0; k < s->claims.n_missing; k++) {
                        service_key(s, key, sizeof(key));
                        T(json_gen_map_open(g));
                        T(json_gen_kv_str(g, "service", key));
                        T(json_gen_kv_str(g, "field", s->claims.missing[k].field));
                        T(json_gen_map_close(g));
                }
        }
        T(json_gen_array_close(g));
        T(json_gen_map_close(g));
#undef T
        for (size_t i = 0; i < n_rows; i++)
                free(rows[i].services);
        free(rows);
        if (r < 0)
                return r;
        return json_gen_take(g, ret, ret_len);
}
