/* SPDX-License-Identifier: Apache-2.0 */
/* The endpointslice controller (endpoints.md §7, §8): caches, the
 * endpoint_slice work queue, and the writes of the plans that
 * endpointslice_reconcile() computes.  Same code on the API and offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpoint_pod.h"
#include "endpoint_reporting.h"
#include "endpoint_triggers.h"
#include "endpointslice_desired.h"
#include "endpointslice_reconcile.h"
#include "endpointslices.h"
#include "events.h"
#include "log.h"
#include "node.h"
#include "pod.h"
#include "queue.h"
#include "service.h"
#include "source_events.h"

#define REPORTING_CONTROLLER "berth.io/endpointslice-controller"
#define ACTION "SyncEndpointSlices"
#define STALE_MESSAGE "EndpointSlice informer cache is out of date"
#define FOREIGN_WARNING_INTERVAL (10 * 60 * USEC_PER_SEC)
#define BASE_DELAY USEC_PER_SEC
#define GATE_PREFER_SAME "PreferSameTrafficDistribution"
/* sync_service(): the cache was stale and the key now waits (not a failure). */
#define SYNC_STALE_WAITING 1

/* What berth wrote for one slice (§6.8): the generation and resourceVersion
 * the server returned, or that it deleted the slice. */
typedef struct SliceMark {
        char *name;
        char *rv;
        int64_t generation;
        bool deleted;
} SliceMark;

/* Per Service key. */
typedef struct ServiceState {
        char *key;
        size_t n_marks;
        SliceMark *marks;
        usec_t foreign_warned;          /* last foreign-writer warning */
        bool topology_mode_logged;
        /* gauges' share of this Service */
        size_t endpoints_desired, slices, slices_desired;
        const char *traffic_distribution; /* static string, "" = none */
        EndpointStaleWait wait;         /* a stale sync waits for the events of berth's writes */
} ServiceState;

typedef struct Sync Sync;

typedef struct EndpointSliceController {
        Controller base;
        sd_event *event;
        Source *source;
        MetricsRegistry *metrics;
        bool offline;
        unsigned max_endpoints;
        unsigned workers;
        usec_t batch_period;
        bool gate_prefer_same;
        bool node_hints_off;            /* §7: the apiserver dropped forNodes once */
        workqueue_clock_fn queue_clock; /* unit tests */
        void *queue_clock_userdata;

        Cache *services, *pods, *nodes, *slices;
        WorkQueue *queue;
        TriggerTimeTracker *trigger;
        EndpointProblemMemory *problems;
        EventRecorder *recorder;

        size_t n_states, allocated_states;
        ServiceState *states;           /* sorted by key */
        Sync *syncs;                    /* in flight */

        MetricFamily *m_added, *m_removed, *m_desired, *m_num_slices, *m_desired_slices, *m_changes,
                *m_changed_per_sync, *m_syncs, *m_by_td;
        EndpointSharedMetrics m_shared;
} EndpointSliceController;

/* One sync whose writes are in flight: they go one by one, in plan order. */
struct Sync {
        EndpointSliceController *c;     /* NULL once the controller is gone */
        Sync *next, *prev;
        char *key;
        EndpointSlicePlan *plan;
        size_t next_change;
        const char *traffic_distribution;
        int retry;                      /* < 0: fail once the writes are done (a Node was missing) */
        EventObjectRef regarding;
        char *svc_namespace, *svc_name, *svc_uid;
};

/* ---- per-Service state ------------------------------------------------------------ */

static size_t state_lower_bound(const EndpointSliceController *c, const char *key) {
        return SORTED_LOWER_BOUND(c->states, c->n_states, key, key);
}

static ServiceState *state_get(EndpointSliceController *c, const char *key, bool create) {
        size_t at = state_lower_bound(c, key);
        if (at < c->n_states && streq(c->states[at].key, key))
                return &c->states[at];
        if (!create)
                return NULL;
        if (c->n_states == c->allocated_states) {
                size_t n = c->allocated_states ? c->allocated_states * 2 : 16;
                ServiceState *s = reallocarray(c->states, n, sizeof(ServiceState));
                if (!s)
                        return NULL;
                c->states = s;
                c->allocated_states = n;
        }
        char *k = strdup(key);
        if (!k)
                return NULL;
        memmove(c->states + at + 1, c->states + at, (c->n_states - at) * sizeof(ServiceState));
        c->states[at] = (ServiceState) { .key = k, .traffic_distribution = "" };
        c->n_states++;
        return &c->states[at];
}

static void marks_clear(ServiceState *s) {
        for (size_t i = 0; i < s->n_marks; i++) {
                free(s->marks[i].name);
                free(s->marks[i].rv);
        }
        free(s->marks);
        s->marks = NULL;
        s->n_marks = 0;
}

static void gauges_update(EndpointSliceController *c);

static void state_remove(EndpointSliceController *c, const char *key) {
        size_t at = state_lower_bound(c, key);
        if (at >= c->n_states || !streq(c->states[at].key, key))
                return;
        marks_clear(&c->states[at]);
        free(c->states[at].key);
        memmove(c->states + at, c->states + at + 1, (c->n_states - at - 1) * sizeof(ServiceState));
        c->n_states--;
        gauges_update(c);
}

static SliceMark *mark_find(ServiceState *s, const char *name) {
        for (size_t i = 0; i < s->n_marks; i++)
                if (streq(s->marks[i].name, name))
                        return &s->marks[i];
        return NULL;
}

static int mark_set(ServiceState *s, const char *name, const char *rv, int64_t generation, bool deleted) {
        SliceMark *m = mark_find(s, name);
        if (!m) {
                SliceMark *n = reallocarray(s->marks, s->n_marks + 1, sizeof(SliceMark));
                if (!n)
                        return -ENOMEM;
                s->marks = n;
                m = &s->marks[s->n_marks];
                *m = (SliceMark) { .name = strdup(name) };
                if (!m->name)
                        return -ENOMEM;
                s->n_marks++;
        }
        if (free_and_strdup(&m->rv, rv) < 0)
                return -ENOMEM;
        m->generation = generation;
        m->deleted = deleted;
        return 0;
}

static void mark_drop(ServiceState *s, const char *name) {
        SliceMark *m = mark_find(s, name);
        if (!m)
                return;
        free(m->name);
        free(m->rv);
        *m = s->marks[--s->n_marks];
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void gauges_update(EndpointSliceController *c) {
        size_t desired = 0, slices = 0, slices_desired = 0;

        if (!c->metrics)
                return;
        for (size_t i = 0; i < c->n_states; i++) {
                desired += c->states[i].endpoints_desired;
                slices += c->states[i].slices;
                slices_desired += c->states[i].slices_desired;
        }
        (void) metric_set(c->m_desired, NULL, (double) desired);
        (void) metric_set(c->m_num_slices, NULL, (double) slices);
        (void) metric_set(c->m_desired_slices, NULL, (double) slices_desired);
}

static void collect(MetricsRegistry *r, void *userdata) {
        EndpointSliceController *c = userdata;
        static const char *const values[] = { "PreferClose", "PreferSameZone", "PreferSameNode" };
        size_t counts[ELEMENTSOF(values)] = {};
        Cache *caches[] = { c->slices, c->nodes };

        (void) r;
        for (size_t i = 0; i < c->n_states; i++)
                for (size_t k = 0; k < ELEMENTSOF(values); k++)
                        if (streq(c->states[i].traffic_distribution, values[k]))
                                counts[k]++;
        for (size_t k = 0; k < ELEMENTSOF(values); k++)
                (void) metric_set(c->m_by_td, METRIC_LABELS(values[k]), (double) counts[k]);
        endpoint_cache_metrics_set(&c->m_shared, caches, ELEMENTSOF(caches));
}

static int metrics_setup(EndpointSliceController *c) {
        MetricsRegistry *m = c->metrics;
        double per_sync[] = { 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768 };
        double changed[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

        if (!m)
                return 0;
        RET_NERRNO(metrics_histogram(m, "endpoint_slice_controller_endpoints_added_per_sync",
                                     "Number of endpoints added on each Service sync", NULL, per_sync,
                                     ELEMENTSOF(per_sync), &c->m_added));
        RET_NERRNO(metrics_histogram(m, "endpoint_slice_controller_endpoints_removed_per_sync",
                                     "Number of endpoints removed on each Service sync", NULL, per_sync,
                                     ELEMENTSOF(per_sync), &c->m_removed));
        RET_NERRNO(metrics_gauge(m, "endpoint_slice_controller_endpoints_desired",
                                 "Number of endpoints desired", NULL, &c->m_desired));
        RET_NERRNO(metrics_gauge(m, "endpoint_slice_controller_num_endpoint_slices",
                                 "Number of EndpointSlices", NULL, &c->m_num_slices));
        RET_NERRNO(metrics_gauge(m, "endpoint_slice_controller_desired_endpoint_slices",
                                 "Number of EndpointSlices that would exist with perfect endpoint allocation", NULL,
                                 &c->m_desired_slices));
        RET_NERRNO(metrics_counter(m, "endpoint_slice_controller_changes",
                                   "Number of EndpointSlice changes", METRIC_LABELS("operation", NULL),
                                   &c->m_changes));
        RET_NERRNO(metrics_histogram(m, "endpoint_slice_controller_endpointslices_changed_per_sync",
                                     "Number of EndpointSlices changed on each Service sync",
                                     METRIC_LABELS("topology", "traffic_distribution", NULL), changed,
                                     ELEMENTSOF(changed), &c->m_changed_per_sync));
        RET_NERRNO(metrics_counter(m, "endpoint_slice_controller_syncs",
                                   "Number of EndpointSlice syncs", METRIC_LABELS("result", NULL), &c->m_syncs));
        RET_NERRNO(metrics_gauge(m, "endpoint_slice_controller_services_count_by_traffic_distribution",
                                 "Number of Services using some specific trafficDistribution",
                                 METRIC_LABELS("traffic_distribution", NULL), &c->m_by_td));
        RET_NERRNO(endpoint_shared_metrics_register(m, &c->m_shared));
        gauges_update(c);
        return metrics_add_collector(m, collect, c);
}

static void count(MetricFamily *f, const char *value) {
        if (f)
                (void) metric_inc(f, METRIC_LABELS(value));
}

/* ---- which slices are ours ---------------------------------------------------------------- */

static bool slice_managed(const KubeObject *o) {
        const char *mb = strmap_get(&o->meta.labels, ENDPOINTSLICE_LABEL_MANAGED_BY);
        return !isempty(strmap_get(&o->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME)) &&
               (streq_ptr(mb, ENDPOINTSLICE_MANAGED_BY_BERTH) || streq_ptr(mb, ENDPOINTSLICE_MANAGED_BY_UPSTREAM));
}

/* "ns/<service-name label>" */
static const char *slice_service_key(const KubeObject *o, char buf[static ENDPOINT_KEY_MAX]) {
        snprintf(buf, ENDPOINT_KEY_MAX, "%s/%s", strempty(o->meta.namespace),
                 strempty(strmap_get(&o->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME)));
        return buf;
}

typedef struct SliceList {
        const char *service;
        size_t n, allocated;
        const EndpointSlice **items;
} SliceList;

static int collect_slice(KubeObject *o, void *userdata) {
        SliceList *l = userdata;
        if (!slice_managed(o) || !streq_ptr(strmap_get(&o->meta.labels, ENDPOINTSLICE_LABEL_SERVICE_NAME), l->service))
                return 0;
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1, 8))
                return -ENOMEM;
        l->items[l->n++] = ENDPOINTSLICE(o);
        return 0;
}

/* ---- handlers (§8.1) ------------------------------------------------------------------------- */

static void enqueue(EndpointSliceController *c, const char *key, usec_t delay) {
        if (!c->queue)
                return; /* not started: start() enqueues everything */
        int r = workqueue_add_after(c->queue, key, delay);
        if (r < 0)
                log_warning_errno(r, "endpointslice: cannot queue %s: %m", key);
}

static void on_service_change(KubeObject *o, void *userdata) {
        char key[ENDPOINT_KEY_MAX];
        enqueue(userdata, endpoint_service_key(o, key), 0);
}

static void on_service_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        (void) old_obj;
        on_service_change(new_obj, userdata);
}

static void on_pod_add(KubeObject *o, void *userdata) {
        EndpointSliceController *c = userdata;
        if (c->queue)
                (void) endpoint_enqueue_pod_services(c->services, c->queue, c->batch_period, POD(o));
}

static void on_pod_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        EndpointSliceController *c = userdata;
        if (c->queue)
                (void) endpoint_enqueue_pod_update(c->services, c->queue, c->batch_period, POD(old_obj),
                                                   POD(new_obj));
}

static void on_pod_delete(KubeObject *o, void *userdata) {
        EndpointSliceController *c = userdata;
        endpoint_problem_memory_forget_pod(c->problems, o->meta.uid);
        on_pod_add(o, userdata);
}

/* A slice event berth's own write caused changes nothing (§8.1). */
static bool slice_event_is_own(EndpointSliceController *c, const KubeObject *o, bool deleted) {
        char key[ENDPOINT_KEY_MAX];
        ServiceState *s = state_get(c, slice_service_key(o, key), false);
        SliceMark *m = s ? mark_find(s, o->meta.name) : NULL;
        if (!m)
                return false;
        if (deleted)
                return m->deleted;
        return !m->deleted && streq_ptr(m->rv, o->meta.resource_version);
}

static bool marks_pending(EndpointSliceController *c, const ServiceState *st, const char *namespace);

/* berth's deviation from §6.8: a key waiting for its own writes runs again
 * as soon as the cache shows all of them; this is usually the event of its
 * own write, which the §8.1 filter below otherwise ignores. */
static void wake_waiting(EndpointSliceController *c, const KubeObject *o) {
        char key[ENDPOINT_KEY_MAX];
        ServiceState *s;

        if (!c->queue)
                return;
        s = state_get(c, slice_service_key(o, key), false);
        if (!s || !s->wait.waiting || marks_pending(c, s, o->meta.namespace))
                return;
        endpoint_stale_wake(&s->wait, c->queue, key);
}

static void slice_event(EndpointSliceController *c, const KubeObject *o, bool deleted) {
        char key[ENDPOINT_KEY_MAX];
        bool own;

        if (!slice_managed(o))
                return;
        own = slice_event_is_own(c, o, deleted);
        wake_waiting(c, o);
        if (own)
                return;
        if (deleted) {
                /* deleted by someone else: not stale, just gone */
                ServiceState *s = state_get(c, slice_service_key(o, key), false);
                if (s)
                        mark_drop(s, o->meta.name);
        }
        enqueue(c, slice_service_key(o, key), (c->batch_period > USEC_PER_SEC ? c->batch_period : USEC_PER_SEC));
}

static void on_slice_add(KubeObject *o, void *userdata) {
        slice_event(userdata, o, false);
}
static void on_slice_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        EndpointSliceController *c = userdata;
        (void) old_obj;
        slice_event(c, new_obj, false);
        /* a relabel away from us still concerns the Service it left */
        if (slice_managed(old_obj) && !slice_managed(new_obj)) {
                char key[ENDPOINT_KEY_MAX];
                enqueue(c, slice_service_key(old_obj, key), (c->batch_period > USEC_PER_SEC ? c->batch_period : USEC_PER_SEC));
        }
}
static void on_slice_delete(KubeObject *o, void *userdata) {
        slice_event(userdata, o, true);
}

/* ---- problems (§5.4) ------------------------------------------------------------------------ */

typedef struct ProblemContext {
        EndpointSliceController *c;
        const Service *svc;
} ProblemContext;

static void on_problems(const Pod *pod, const EndpointProblems *problems, void *userdata) {
        ProblemContext *pc = userdata;
        EndpointSliceController *c = pc->c;
        EndpointProblemReporter reporter = {
                .log_prefix = "endpointslice: ",
                .action = ACTION,
                .memory = c->problems,
                .recorder = c->recorder,
                .dropped = c->m_shared.dropped,
        };

        endpoint_problems_report(&reporter, pc->svc, pod, problems);
}

/* ---- writes ----------------------------------------------------------------------------------- */

static Sync *sync_free(Sync *s) {
        if (!s)
                return NULL;
        if (s->c) {
                if (s->prev)
                        s->prev->next = s->next;
                else
                        s->c->syncs = s->next;
                if (s->next)
                        s->next->prev = s->prev;
        }
        endpointslice_plan_free(s->plan);
        free(s->key);
        free(s->svc_namespace);
        free(s->svc_name);
        free(s->svc_uid);
        free(s);
        return NULL;
}

static void sync_finish(Sync *s, int error) {
        EndpointSliceController *c = s->c;
        _cleanup_free_ char *key = s->key;

        s->key = NULL;
        if (error >= 0 && s->retry < 0)
                error = s->retry;
        if (c) {
                if (error >= 0 && s->plan) {
                        char *labels[] = { "Disabled", (char *) s->traffic_distribution };
                        if (c->m_changed_per_sync)
                                (void) metric_observe(c->m_changed_per_sync, (const char *const *) labels,
                                                      (double) s->plan->n_changes);
                }
                count(c->m_syncs, error >= 0 ? "success" : "error");
                (void) workqueue_done(c->queue, key, error);
        }
        sync_free(s);
}

static bool slice_has_node_hints(const EndpointSlice *s) {
        for (size_t i = 0; i < s->n_endpoints; i++)
                if (s->endpoints[i].hints_for_nodes.n > 0)
                        return true;
        return false;
}

static int sync_send_next(Sync *s);

static void on_write_done(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        Sync *s = userdata;
        EndpointSliceController *c = s->c;
        const SliceChange *ch;
        const char *op;

        if (!c) {
                sync_free(s); /* the controller is gone */
                return;
        }
        ch = &s->plan->changes[s->next_change];
        op = ch->op == SLICE_OP_CREATE ? "create" : ch->op == SLICE_OP_UPDATE ? "update" : "delete";

        if (error == -ENOENT && ch->op == SLICE_OP_DELETE)
                error = 0; /* already gone */
        if (error < 0 && ch->op == SLICE_OP_CREATE && status && status->http_code == 403 &&
            streq_ptr(status->cause_reason, "NamespaceTerminating")) {
                /* §6.8: the namespace is going away; nothing to retry */
                log_debug("endpointslice: %s: namespace terminating, create skipped", s->key);
                sync_finish(s, 0);
                return;
        }
        if (error < 0) {
                _cleanup_free_ char *why = NULL;
                const char *msg = status && !isempty(status->message) ? status->message : strerror(-error);
                int k;
                if (ch->op == SLICE_OP_CREATE)
                        k = asprintf(&why, "failed to create EndpointSlice for Service %s/%s: %s", s->svc_namespace,
                                     s->svc_name, msg);
                else
                        k = asprintf(&why, "failed to %s %s EndpointSlice for Service %s/%s: %s", op,
                                     ch->slice->object.meta.name, s->svc_namespace, s->svc_name, msg);
                if (k < 0)
                        why = NULL;
                log_warning("endpointslice: service %s/%s: %s", s->svc_namespace, s->svc_name, strempty(why));
                (void) event_recorder_emitf(c->recorder, &s->regarding, "Warning", "FailedToUpdateEndpointSlices",
                                            ACTION, "Error updating Endpoint Slices for Service %s/%s: %s",
                                            s->svc_namespace, s->svc_name, strempty(why));
                sync_finish(s, error);
                return;
        }

        ServiceState *st = state_get(c, s->key, true);
        if (st) {
                if (ch->op == SLICE_OP_DELETE)
                        (void) mark_set(st, ch->slice->object.meta.name, NULL, 0, true);
                else if (stored && stored->meta.name)
                        (void) mark_set(st, stored->meta.name, stored->meta.resource_version, stored->meta.generation,
                                        false);
        }
        count(c->m_changes, op);

        /* §7: an apiserver whose gate is off drops forNodes; stop sending them. */
        if (ch->op != SLICE_OP_DELETE && stored && !c->node_hints_off && slice_has_node_hints(ch->slice) &&
            !slice_has_node_hints(ENDPOINTSLICE(stored))) {
                c->node_hints_off = true;
                log_warning("endpointslice: the API server dropped hints.forNodes of %s/%s (its "
                            "PreferSameTrafficDistribution gate is off?); no node hints are written until restart",
                            s->svc_namespace, strempty(stored->meta.name));
        }

        s->next_change++;
        (void) sync_send_next(s);
}

/* Sends the next change; finishes the sync when none is left. */
static int sync_send_next(Sync *s) {
        EndpointSliceController *c = s->c;
        const SliceChange *ch;
        _cleanup_free_ char *body = NULL;
        int r;

        if (s->next_change >= s->plan->n_changes) {
                sync_finish(s, 0);
                return 0;
        }
        ch = &s->plan->changes[s->next_change];
        if (ch->op == SLICE_OP_DELETE)
                r = source_delete(c->source, &kube_kind_endpointslice, s->svc_namespace, ch->slice->object.meta.name,
                                  on_write_done, s);
        else {
                yajl_gen g = json_gen_new(false);
                size_t len;
                if (!g)
                        r = -ENOMEM;
                else {
                        r = kube_kind_endpointslice.encode(&ch->slice->object, g);
                        if (r >= 0)
                                r = json_gen_take(g, &body, &len);
                        json_gen_freep(&g);
                }
                if (r >= 0 && ch->op == SLICE_OP_CREATE)
                        r = source_create(c->source, &kube_kind_endpointslice, s->svc_namespace, body, on_write_done,
                                          s);
                else if (r >= 0)
                        r = source_replace(c->source, &kube_kind_endpointslice, s->svc_namespace,
                                           ch->slice->object.meta.name, body, on_write_done, s);
        }
        if (r < 0) {
                log_warning_errno(r, "endpointslice: service %s: cannot send a write: %m", s->key);
                sync_finish(s, r);
                return r;
        }
        return 0;
}

/* ---- the sync ---------------------------------------------------------------------------------- */

/* §6.8: the cache still lacks a write of berth's, or shows a slice berth deleted. */
static bool marks_pending(EndpointSliceController *c, const ServiceState *st, const char *namespace) {
        for (size_t i = 0; i < st->n_marks; i++) {
                const SliceMark *m = &st->marks[i];
                KubeObject *o = cache_get(c->slices, namespace, m->name);
                if (m->deleted ? o != NULL : (!o || o->meta.generation < m->generation))
                        return true;
        }
        return false;
}

static bool cache_is_stale(EndpointSliceController *c, const char *key, const char *namespace) {
        ServiceState *st = state_get(c, key, false);

        if (!st)
                return false;
        if (marks_pending(c, st, namespace))
                return true;
        /* Everything is visible: deletions need no memory any more. */
        for (size_t i = 0; i < st->n_marks;)
                if (st->marks[i].deleted)
                        mark_drop(st, st->marks[i].name);
                else
                        i++;
        return false;
}

static SliceHints hints_for(EndpointSliceController *c, const Service *svc, const char **ret_td) {
        const char *td = svc->traffic_distribution;
        *ret_td = "";
        if (streq_ptr(td, "PreferClose")) {
                *ret_td = "PreferClose";
                return SLICE_HINTS_ZONE;
        }
        if (!c->gate_prefer_same)
                return SLICE_HINTS_NONE;
        if (streq_ptr(td, "PreferSameZone")) {
                *ret_td = "PreferSameZone";
                return SLICE_HINTS_ZONE;
        }
        if (streq_ptr(td, "PreferSameNode")) {
                *ret_td = "PreferSameNode";
                return c->node_hints_off ? SLICE_HINTS_ZONE : SLICE_HINTS_ZONE_NODE;
        }
        return SLICE_HINTS_NONE;
}

/* The Service is gone.  Online the garbage collector removes its slices
 * (ownerReference); offline nothing would, so berth deletes the slices of
 * that name whose controller owner is not a live Service (§6.7). */
static int sync_gone(EndpointSliceController *c, const char *key, const char *namespace, const char *name,
                     Sync **ret) {
        _cleanup_free_ const EndpointSlice **items = NULL;
        SliceList l = { .service = name };
        int r;

        trigger_time_tracker_forget(c->trigger, key);
        state_remove(c, key);
        *ret = NULL;
        if (!c->offline)
                return 0;
        r = cache_foreach(c->slices, namespace, collect_slice, &l);
        items = l.items;
        if (r < 0)
                return r;
        if (l.n == 0)
                return 0;

        _cleanup_free_ Sync *s = new0(Sync, 1);
        if (!s)
                return -ENOMEM;
        s->plan = new0(EndpointSlicePlan, 1);
        if (!s->plan || !(s->plan->pool = strpool_new()) || !(s->plan->changes = new0(SliceChange, l.n))) {
                endpointslice_plan_free(s->plan);
                return -ENOMEM;
        }
        for (size_t i = 0; i < l.n; i++) {
                SliceChange *ch = &s->plan->changes[s->plan->n_changes++];
                ch->op = SLICE_OP_DELETE;
                ch->slice = (EndpointSlice *) kube_object_ref((KubeObject *) &l.items[i]->object);
                ch->address_type = strpool_intern0(s->plan->pool, strempty(l.items[i]->address_type));
        }
        s->plan->n_deletes = l.n;
        if (!(s->svc_namespace = strdup(namespace)) || !(s->svc_name = strdup(name))) {
                endpointslice_plan_free(s->plan);
                free(s->svc_namespace);
                free(s->svc_name);
                return -ENOMEM;
        }
        s->traffic_distribution = "";
        *ret = TAKE_PTR(s);
        return 0;
}

static int sync_service(EndpointSliceController *c, const char *key, const Service *svc, Sync **ret) {
        const char *ns = svc->object.meta.namespace, *name = svc->object.meta.name;
        _cleanup_(endpointslice_desired_freep) SliceDesired *desired = NULL;
        _cleanup_(endpointslice_plan_freep) EndpointSlicePlan *plan = NULL;
        _cleanup_free_ char *node_missing = NULL;
        _cleanup_free_ const Pod **pods = NULL;
        size_t n_pods = 0;
        _cleanup_free_ const EndpointSlice **slices = NULL;
        EndpointSliceWant want = {};
        SliceList sl = { .service = name };
        ProblemContext pc = { .c = c, .svc = svc };
        const char *td;
        ServiceState *st;
        usec_t trigger = 0;
        int r;

        *ret = NULL;
        /* §6.7: ExternalName and selector-less Services are not ours */
        if (svc->type == SERVICE_TYPE_EXTERNAL_NAME || !svc->has_selector)
                return 0;
        st = state_get(c, key, false);
        if (cache_is_stale(c, key, ns)) {
                log_debug("endpointslice: %s: %s", key, STALE_MESSAGE);
                count(c->m_syncs, "stale");
                /* berth: not a failure; the key waits for its own writes' events. */
                r = st ? endpoint_stale_wait(&st->wait, c->queue, key) : -ESTALE;
                return r < 0 ? -EAGAIN : SYNC_STALE_WAITING;
        }
        if (st)
                endpoint_stale_clear(&st->wait);

        r = endpoint_selected_pods(c->pods, svc, &pods, &n_pods);
        if (r < 0)
                return r;
        r = cache_foreach(c->slices, ns, collect_slice, &sl);
        slices = sl.items;
        if (r < 0)
                return r;

        /* Offline without any Node nobody is skipped for a missing Node (§5.2). */
        r = endpointslice_desired_build(svc, pods, n_pods, c->offline && cache_size(c->nodes) == 0 ? NULL : c->nodes,
                                        on_problems, &pc, &desired, &want, &node_missing);
        if (r < 0)
                return r;
        r = trigger_time_tracker_compute(c->trigger, key, svc, pods, n_pods, &trigger);
        if (r < 0)
                return r;

        st = state_get(c, key, true);
        if (!st)
                return -ENOMEM;
        want.hints = hints_for(c, svc, &td);
        st->traffic_distribution = td;
        if (!st->topology_mode_logged &&
            streq_ptr(strmap_get(&svc->object.meta.annotations, SERVICE_ANNOTATION_TOPOLOGY_MODE), "Auto")) {
                st->topology_mode_logged = true;
                log_info("endpointslice: service %s: %s: Auto is not implemented; trafficDistribution rules apply",
                         key, SERVICE_ANNOTATION_TOPOLOGY_MODE);
        }
        want.max_endpoints_per_slice = c->max_endpoints;
        want.trigger_time = trigger;
        want.n_existing = sl.n;
        want.existing = slices;

        r = endpointslice_reconcile(&want, &plan);
        if (r < 0)
                return r;

        st->endpoints_desired = plan->endpoints_desired;
        st->slices = plan->slices_after;
        st->slices_desired = plan->slices_desired;
        gauges_update(c);
        if (c->m_added) {
                (void) metric_observe(c->m_added, NULL, (double) plan->endpoints_added);
                (void) metric_observe(c->m_removed, NULL, (double) plan->endpoints_removed);
        }

        if (plan->foreign_retaken > 0 && plan->n_changes > 0) {
                usec_t now = source_now(c->source);
                if (c->m_shared.foreign)
                        (void) metric_add(c->m_shared.foreign, METRIC_LABELS("EndpointSlice"),
                                          (double) plan->foreign_retaken);
                if (st->foreign_warned == 0 || now >= st->foreign_warned + FOREIGN_WARNING_INTERVAL) {
                        st->foreign_warned = now;
                        log_warning("endpointslice: service %s: taking over %zu EndpointSlice(s) labelled %s; if "
                                    "kube-controller-manager still runs its endpointslice-controller, disable it "
                                    "(--controllers=*,-endpointslice-controller)",
                                    key, plan->foreign_retaken, ENDPOINTSLICE_MANAGED_BY_UPSTREAM);
                }
        }

        if (node_missing)
                log_info("endpointslice: %s", node_missing);

        _cleanup_free_ Sync *s = new0(Sync, 1);
        if (!s || !(s->svc_namespace = strdup(ns)) || !(s->svc_name = strdup(name)) ||
            !(s->svc_uid = strdup(strempty(svc->object.meta.uid)))) {
                if (s) {
                        free(s->svc_namespace);
                        free(s->svc_name);
                }
                return -ENOMEM;
        }
        s->traffic_distribution = td;
        s->plan = TAKE_PTR(plan);
        *ret = TAKE_PTR(s);
        /* A missing Node: write what is known, then retry (§5.2). */
        return node_missing ? -EAGAIN : 0;
}

static int process(WorkQueue *q, const char *key, void *userdata) {
        EndpointSliceController *c = userdata;
        char buf[ENDPOINT_KEY_MAX];
        const char *ns, *name;
        KubeObject *o;
        Sync *s = NULL;
        int r, retry = 0;

        (void) q;
        if (strlen(key) >= sizeof buf)
                return 0;
        strcpy(buf, key);
        if (endpoint_key_split(buf, &ns, &name) < 0)
                return 0;
        o = cache_get(c->services, ns, name);
        r = o ? sync_service(c, key, SERVICE(o), &s) : sync_gone(c, key, ns, name, &s);
        if (r == SYNC_STALE_WAITING)
                return 0;
        if (r == -EAGAIN && s)
                retry = r; /* write what we have, then fail for a retry */
        else if (r < 0) {
                if (r != -EAGAIN) {
                        log_warning_errno(r, "endpointslice: service %s: sync failed: %m", key);
                        count(c->m_syncs, "error");
                }
                return r;
        }
        if (!s || s->plan->n_changes == 0) {
                if (s) {
                        char *labels[] = { "Disabled", (char *) s->traffic_distribution };
                        if (c->m_changed_per_sync)
                                (void) metric_observe(c->m_changed_per_sync, (const char *const *) labels, 0);
                        sync_free(s);
                }
                count(c->m_syncs, retry < 0 ? "error" : "success");
                return retry;
        }

        s->c = c;
        s->key = strdup(key);
        if (!s->key) {
                sync_free(s);
                return -ENOMEM;
        }
        s->regarding = (EventObjectRef) {
                .api_version = "v1",
                .kind = "Service",
                .namespace = s->svc_namespace,
                .name = s->svc_name,
                .uid = s->svc_uid,
        };
        s->next = c->syncs;
        if (c->syncs)
                c->syncs->prev = s;
        c->syncs = s;
        s->retry = retry; /* the retry comes through the queue after the writes */
        (void) sync_send_next(s);
        return WORKQUEUE_PENDING;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

static int enqueue_service(KubeObject *o, void *userdata) {
        on_service_change(o, userdata);
        return 0;
}

static int enqueue_slice_service(KubeObject *o, void *userdata) {
        char key[ENDPOINT_KEY_MAX];
        if (slice_managed(o))
                enqueue(userdata, slice_service_key(o, key), 0);
        return 0;
}

static int controller_start(Controller *base) {
        EndpointSliceController *c = (EndpointSliceController *) base;
        WorkQueueOptions qo = {
                .name = "endpoint_slice",
                .base_delay = BASE_DELAY,
                .workers = c->workers,
                .virtual_time = c->offline,
                .process = process,
                .userdata = c,
                .metrics = c->metrics,
                .now = c->queue_clock,
                .now_userdata = c->queue_clock_userdata,
        };
        int r;

        if (c->queue)
                return 0;
        r = workqueue_new(c->event, &qo, &c->queue);
        if (r < 0)
                return r;
        /* Every Service, and (§6.7) the Service of every slice berth or upstream manages. */
        RET_NERRNO(cache_foreach(c->services, NULL, enqueue_service, c));
        return cache_foreach(c->slices, NULL, enqueue_slice_service, c);
}

static bool controller_idle(Controller *base) {
        EndpointSliceController *c = (EndpointSliceController *) base;
        return !c->syncs && (!c->queue || workqueue_idle(c->queue));
}

static void controller_free(Controller *base) {
        EndpointSliceController *c = (EndpointSliceController *) base;

        if (!c)
                return;
        if (c->metrics)
                metrics_remove_collector(c->metrics, collect, c);
        /* Writes in flight answer later (or never): their syncs free themselves. */
        for (Sync *s = c->syncs; s; s = s->next)
                s->c = NULL;
        c->queue = workqueue_free(c->queue);
        c->recorder = event_recorder_free(c->recorder);
        c->trigger = trigger_time_tracker_free(c->trigger);
        c->problems = endpoint_problem_memory_free(c->problems);
        for (size_t i = 0; i < c->n_states; i++) {
                marks_clear(&c->states[i]);
                free(c->states[i].key);
        }
        free(c->states);
        free(c);
}

WorkQueue *endpointslice_controller_queue(Controller *base) {
        return base ? ((EndpointSliceController *) base)->queue : NULL;
}

int endpointslice_controller_new(const ControllerContext *ctx, Controller **ret) {
        EndpointSliceController *c;
        int r;

        c = new0(EndpointSliceController, 1);
        if (!c)
                return -ENOMEM;
        c->base = (Controller) {
                .name = "endpointslice",
                .start = controller_start,
                .idle = controller_idle,
                .free = controller_free,
        };
        c->event = ctx->event;
        c->source = ctx->source;
        c->metrics = ctx->metrics;
        c->offline = ctx->offline;
        c->queue_clock = ctx->queue_clock;
        c->queue_clock_userdata = ctx->queue_clock_userdata;
        c->max_endpoints = ctx->flags ? ctx->flags->max_endpoints_per_slice : ENDPOINTSLICE_MAX_ENDPOINTS_DEFAULT;
        c->workers = ctx->flags ? ctx->flags->concurrent_service_endpoint_syncs : 5;
        c->batch_period = ctx->flags ? ctx->flags->endpointslice_updates_batch_period : 0;
        c->gate_prefer_same = ctx->cli && ctx->options &&
                              cli_feature_gate_enabled(ctx->cli, ctx->options, GATE_PREFER_SAME);

        SourceEventsOptions eo = {
                .reporting_controller = REPORTING_CONTROLLER,
                .reporting_instance = ctx->reporting_instance ? ctx->reporting_instance : "offline",
                .offline = ctx->offline,
        };
        if ((r = trigger_time_tracker_new(&c->trigger)) < 0 || (r = endpoint_problem_memory_new(&c->problems)) < 0 ||
            (r = source_event_recorder_new(c->source, &eo, &c->recorder)) < 0 ||
            (r = source_cache(c->source, &kube_kind_service, NULL, &c->services)) < 0 ||
            (r = source_cache(c->source, &kube_kind_pod, NULL, &c->pods)) < 0 ||
            (r = source_cache(c->source, &kube_kind_node, NULL, &c->nodes)) < 0 ||
            (r = source_cache(c->source, &kube_kind_endpointslice, NULL, &c->slices)) < 0 ||
            (r = metrics_setup(c)) < 0)
                goto fail;

        CacheHandlers sh = { .on_add = on_service_change, .on_update = on_service_update,
                             .on_delete = on_service_change, .userdata = c };
        CacheHandlers ph = { .on_add = on_pod_add, .on_update = on_pod_update, .on_delete = on_pod_delete,
                             .userdata = c };
        CacheHandlers eh = { .on_add = on_slice_add, .on_update = on_slice_update, .on_delete = on_slice_delete,
                             .userdata = c };
        if ((r = cache_add_handlers(c->services, &sh)) < 0 || (r = cache_add_handlers(c->pods, &ph)) < 0 ||
            (r = cache_add_handlers(c->slices, &eh)) < 0)
                goto fail;
        *ret = &c->base;
        return 0;
fail:
        controller_free(&c->base);
        return r;
}
