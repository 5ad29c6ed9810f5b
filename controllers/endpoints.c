/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_pod.h"
#include "endpoint_reporting.h"
#include "endpoint_triggers.h"
#include "endpoints_controller.h"
#include "endpoints_reconcile.h"
#include "events.h"
#include "log.h"
#include "queue.h"
#include "source_events.h"

/* §2: at most one foreign-writer warning per Service per 10 minutes. */
#define FOREIGN_WARNING_INTERVAL (10 * 60 * USEC_PER_SEC)

typedef enum StaleOp {
        STALE_NONE = 0,
        STALE_PUT,    /* the cache still shows the replaced resourceVersion */
        STALE_POST,   /* the cache does not show the created object yet */
        STALE_DELETE, /* the cache still shows the deleted object */
} StaleOp;

/* What berth remembers per Service key. */
typedef struct KeyState {
        char *key;
        StaleOp stale;
        char *stale_rv;          /* STALE_PUT: the replaced resourceVersion */
        usec_t foreign_warned;   /* source_now() of the last §2 warning */
        bool over_capacity;
        bool unlabelled_logged;  /* an unlabelled Endpoints without Service was left alone */
        EndpointStaleWait wait;  /* a stale sync waits for the event of berth's write */
} KeyState;

typedef struct EndpointsController EndpointsController;

/* One write in flight; outlives the controller when it is freed first. */
typedef struct PendingWrite {
        EndpointsController *controller; /* NULL once the controller is gone */
        struct PendingWrite *next, *prev;
        char *key;
        char *cached_rv;   /* PUT: the resourceVersion replaced */
        const char *method;
} PendingWrite;

struct EndpointsController {
        Controller base;
        Source *source;
        bool offline;
        bool started;
        usec_t batch_period;
        Cache *services, *pods, *endpoints;
        WorkQueue *queue;
        EventRecorder *recorder;
        TriggerTimeTracker *triggers;
        EndpointProblemMemory *problems;
        StrPool *pool; /* desired objects' strings */
        KeyState *states;
        size_t n_states, allocated_states;
        PendingWrite *writes;

        MetricsRegistry *metrics;
        MetricFamily *m_changes, *m_syncs, *m_over_capacity;
        EndpointSharedMetrics m_shared;
};

/* ---- per-key state ------------------------------------------------------------ */

static size_t state_lower_bound(const EndpointsController *c, const char *key) {
        return SORTED_LOWER_BOUND(c->states, c->n_states, key, key);
}

static KeyState *state_find(EndpointsController *c, const char *key) {
        size_t at = state_lower_bound(c, key);
        return at < c->n_states && streq(c->states[at].key, key) ? &c->states[at] : NULL;
}

static KeyState *state_get(EndpointsController *c, const char *key) {
        size_t at = state_lower_bound(c, key);
        char *k;

        if (at < c->n_states && streq(c->states[at].key, key))
                return &c->states[at];
        if (c->n_states == c->allocated_states) {
                size_t na = c->allocated_states ? c->allocated_states * 2 : 32;
                KeyState *n = realloc(c->states, na * sizeof(KeyState));
                if (!n)
                        return NULL;
                c->states = n;
                c->allocated_states = na;
        }
        k = strdup(key);
        if (!k)
                return NULL;
        memmove(c->states + at + 1, c->states + at, (c->n_states - at) * sizeof(KeyState));
        c->states[at] = (KeyState) { .key = k };
        c->n_states++;
        return &c->states[at];
}

static void stale_clear(KeyState *s) {
        s->stale = STALE_NONE;
        free(s->stale_rv);
        s->stale_rv = NULL;
}

static void state_remove(EndpointsController *c, const char *key) {
        size_t at = state_lower_bound(c, key);

        if (at >= c->n_states || !streq(c->states[at].key, key))
                return;
        free(c->states[at].key);
        free(c->states[at].stale_rv);
        memmove(c->states + at, c->states + at + 1, (c->n_states - at - 1) * sizeof(KeyState));
        c->n_states--;
}

static void over_capacity_gauge(EndpointsController *c) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_states; i++)
                n += c->states[i].over_capacity;
        if (c->m_over_capacity)
                (void) metric_set(c->m_over_capacity, NULL, (double) n);
}

/* ---- metrics -------------------------------------------------------------------- */

static void count(MetricFamily *f, const char *value) {
        if (f)
                (void) metric_inc(f, METRIC_LABELS(value));
}

static void collect_caches(MetricsRegistry *r, void *userdata) {
        EndpointsController *c = userdata;
        Cache *caches[] = { c->services, c->pods, c->endpoints };

        (void) r;
        endpoint_cache_metrics_set(&c->m_shared, caches, ELEMENTSOF(caches));
}

static int metrics_setup(EndpointsController *c) {
        MetricsRegistry *m = c->metrics;

        if (!m)
                return 0;
        RET_NERRNO(metrics_counter(m, "berth_endpoints_changes_total", "Endpoints objects written, by operation.",
                                   METRIC_LABELS("operation", NULL), &c->m_changes));
        RET_NERRNO(metrics_counter(m, "berth_endpoints_syncs_total", "Endpoints syncs, by result.",
                                   METRIC_LABELS("result", NULL), &c->m_syncs));
        RET_NERRNO(metrics_gauge(m, "berth_endpoints_over_capacity_services",
                                 "Services whose Endpoints are truncated to 1000 addresses.", NULL,
                                 &c->m_over_capacity));
        RET_NERRNO(endpoint_shared_metrics_register(m, &c->m_shared));
        (void) metric_set(c->m_over_capacity, NULL, 0);
        return metrics_add_collector(m, collect_caches, c);
}

/* ---- problems (§5.4) ------------------------------------------------------------ */

typedef struct SyncContext {
        EndpointsController *controller;
        const Service *svc;
} SyncContext;

static void on_problems(const Pod *pod, const EndpointProblems *problems, void *userdata) {
        SyncContext *sc = userdata;
        EndpointsController *c = sc->controller;
        EndpointProblemReporter reporter = {
                .log_prefix = "",
                .action = ENDPOINTS_ACTION,
                .memory = c->problems,
                .recorder = c->recorder,
                .dropped = c->m_shared.dropped,
        };

        endpoint_problems_report(&reporter, sc->svc, pod, problems);
}

/* ---- writes --------------------------------------------------------------------- */

static void pending_unlink(EndpointsController *c, PendingWrite *w) {
        if (w->prev)
                w->prev->next = w->next;
        else if (c->writes == w)
                c->writes = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->next = w->prev = NULL;
}

static void pending_free(PendingWrite *w) {
        if (!w)
                return;
        free(w->key);
        free(w->cached_rv);
        free(w);
}

static void emit_write_failure(EndpointsController *c, const char *key, const char *method, const KubeStatus *st,
                               int error) {
        char buf[ENDPOINT_KEY_MAX];
        const char *ns, *name, *why;
        KubeObject *cached;

        snprintf(buf, sizeof buf, "%s", key);
        if (endpoint_key_split(buf, &ns, &name) < 0)
                return;
        why = st && !isempty(st->message) ? st->message : strerror(-error);
        cached = cache_get(c->endpoints, ns, name);
        EventObjectRef regarding = {
                .api_version = "v1",
                .kind = "Endpoints",
                .namespace = ns,
                .name = name,
                .uid = cached ? cached->meta.uid : NULL,
        };
        if (streq(method, "POST")) {
                log_warning("endpoints %s/%s: create failed: %s", ns, name, why);
                (void) event_recorder_emitf(c->recorder, &regarding, "Warning", "FailedToCreateEndpoint",
                                            ENDPOINTS_ACTION, "Failed to create endpoint for service %s/%s: %s", ns,
                                            name, why);
        } else {
                log_warning("endpoints %s/%s: %s failed: %s", ns, name, streq(method, "PUT") ? "update" : "delete",
                            why);
                (void) event_recorder_emitf(c->recorder, &regarding, "Warning", "FailedToUpdateEndpoint",
                                            ENDPOINTS_ACTION, "Failed to update endpoint %s/%s: %s", ns, name, why);
        }
}

static void on_written(int error, const KubeStatus *st, KubeObject *stored, void *userdata) {
        PendingWrite *w = userdata;
        EndpointsController *c = w->controller;
        int result = 0;

        if (!c) { /* the controller is gone (lost the lease, shutdown) */
                pending_free(w);
                return;
        }
        pending_unlink(c, w);

        if (streq(w->method, "DELETE") && error == -ENOENT)
                error = 0; /* already gone */
        if (error >= 0) {
                KeyState *s = state_get(c, w->key);
                if (streq(w->method, "POST")) {
                        count(c->m_changes, "create");
                        if (s) {
                                stale_clear(s);
                                s->stale = STALE_POST;
                        }
                } else if (streq(w->method, "PUT")) {
                        count(c->m_changes, "update");
                        if (s && stored && !streq_ptr(stored->meta.resource_version, w->cached_rv)) {
                                stale_clear(s);
                                s->stale = STALE_PUT;
                                s->stale_rv = TAKE_PTR(w->cached_rv);
                        }
                } else {
                        count(c->m_changes, "delete");
                        if (s) {
                                stale_clear(s);
                                s->stale = STALE_DELETE;
                        }
                }
                count(c->m_syncs, "success");
        } else if (streq(w->method, "POST") && st && st->http_code == 403 &&
                   streq_ptr(st->cause_reason, "NamespaceTerminating")) {
                /* Nothing to create in a namespace that is going away. */
                log_debug("endpoints %s: namespace terminating; not created", w->key);
                count(c->m_syncs, "success");
        } else {
                emit_write_failure(c, w->key, w->method, st, error);
                count(c->m_syncs, "error");
                result = error;
        }
        (void) workqueue_done(c->queue, w->key, result);
        pending_free(w);
}

/* Sends one write; WORKQUEUE_PENDING when it is on its way (or already done). */
static int write_send(EndpointsController *c, const char *key, const char *method, const char *ns, const char *name,
                      const char *body, const char *cached_rv) {
        PendingWrite *w = new0(PendingWrite, 1);
        int r;

        if (!w)
                return -ENOMEM;
        w->controller = c;
        w->method = method;
        w->key = strdup(key);
        if (!w->key || (cached_rv && !(w->cached_rv = strdup(cached_rv)))) {
                pending_free(w);
                return -ENOMEM;
        }
        w->next = c->writes;
        if (c->writes)
                c->writes->prev = w;
        c->writes = w;
        if (streq(method, "POST"))
                r = source_create(c->source, &kube_kind_endpoints, ns, body, on_written, w);
        else if (streq(method, "PUT"))
                r = source_replace(c->source, &kube_kind_endpoints, ns, name, body, on_written, w);
        else
                r = source_delete(c->source, &kube_kind_endpoints, ns, name, on_written, w);
        if (r < 0) {
                /* Not sent (the done callback never runs): an ordinary failure. */
                pending_unlink(c, w);
                pending_free(w);
                log_debug_errno(r, "endpoints %s: cannot send %s: %m", key, method);
                count(c->m_syncs, "error");
                return r;
        }
        return WORKQUEUE_PENDING;
}

/* ---- sync ----------------------------------------------------------------------- */

/* §6.8: does cached (NULL = not in the cache) still show the state before
 * berth's last write? */
static bool stale_persists(const KeyState *s, const KubeObject *cached) {
        switch (s->stale) {
        case STALE_PUT:
                return cached && streq_ptr(cached->meta.resource_version, s->stale_rv);
        case STALE_POST:
                return !cached;
        case STALE_DELETE:
                return cached != NULL;
        default:
                return false;
        }
}

static bool cache_is_stale(EndpointsController *c, const char *key, const KubeObject *cached) {
        KeyState *s = state_find(c, key);

        if (!s || s->stale == STALE_NONE)
                return false;
        if (stale_persists(s, cached)) {
                if (s->stale == STALE_PUT)
                        log_debug("endpoints informer cache is out of date, resource version %s already processed "
                                  "for endpoints %s",
                                  s->stale_rv, key);
                else
                        log_debug("endpoints informer cache is out of date for endpoints %s", key);
                return true;
        }
        stale_clear(s);
        return false;
}

static int sync_deleted_service(EndpointsController *c, const char *key, const char *ns, const char *name) {
        KubeObject *cached = cache_get(c->endpoints, ns, name);
        KeyState *s;

        trigger_time_tracker_forget(c->triggers, key);
        s = state_find(c, key);
        if (s) {
                stale_clear(s);
                if (s->over_capacity) {
                        s->over_capacity = false;
                        over_capacity_gauge(c);
                }
        }
        if (!cached) {
                if (s && !s->unlabelled_logged)
                        state_remove(c, key);
                count(c->m_syncs, "success");
                return 0;
        }
        switch (endpoints_manager(cached)) {
        case ENDPOINTS_MANAGER_BERTH:
        case ENDPOINTS_MANAGER_UPSTREAM:
                return write_send(c, key, "DELETE", ns, name, NULL, NULL);
        case ENDPOINTS_MANAGER_NONE:
                /* Possibly made by hand: never removed. */
                s = state_get(c, key);
                if (s && !s->unlabelled_logged) {
                        s->unlabelled_logged = true;
                        log_info("endpoints %s has no Service and no managed-by label; left alone", key);
                }
                break;
        default:
                break;
        }
        count(c->m_syncs, "success");
        return 0;
}

static void foreign_writer_check(EndpointsController *c, const char *key, const KubeObject *cached) {
        EndpointsManager m = endpoints_manager(cached);
        KeyState *s;
        usec_t now;

        if (m != ENDPOINTS_MANAGER_NONE && m != ENDPOINTS_MANAGER_UPSTREAM)
                return;
        count(c->m_shared.foreign, "Endpoints");
        s = state_get(c, key);
        now = source_now(c->source);
        if (s && s->foreign_warned != 0 && now < s->foreign_warned + FOREIGN_WARNING_INTERVAL)
                return;
        if (s)
                s->foreign_warned = now;
        log_warning("endpoints %s: taking over an object written by %s; if kube-controller-manager still runs its "
                    "endpoints controller, disable it (--controllers=*,-endpoints-controller,-endpointslice-controller)",
                    key, m == ENDPOINTS_MANAGER_NONE ? "an unknown writer (no managed-by label)"
                                                     : "kube-controller-manager (endpoint-controller)");
}

static int sync_service(EndpointsController *c, const char *key, const Service *svc, KubeObject *cached) {
        _cleanup_(kube_object_unrefp) KubeObject *desired = NULL;
        _cleanup_free_ char *body = NULL;
        _cleanup_free_ const Pod **pods = NULL;
        size_t n_pods = 0;
        EndpointsBuildResult res = {};
        SyncContext sc = { .controller = c, .svc = svc };
        usec_t trigger = 0;
        KeyState *s;
        int r;

        r = endpoint_selected_pods(c->pods, svc, &pods, &n_pods);
        if (r >= 0)
                r = trigger_time_tracker_compute(c->triggers, key, svc, pods, n_pods, &trigger);
        if (r >= 0)
                r = endpoints_build(svc, pods, n_pods, cached ? ENDPOINTS(cached) : NULL, trigger, c->pool,
                                    on_problems, &sc, &res);
        if (r < 0)
                return r;
        desired = res.object;
        if (res.n_dropped_subsets > 0 && c->m_shared.dropped)
                /* §5.4: a subset truncation left empty ("must specify addresses or notReadyAddresses") */
                (void) metric_add(c->m_shared.dropped, METRIC_LABELS("subset", "empty_subset"), (double) res.n_dropped_subsets);

        s = state_find(c, key);
        if (res.over_capacity != (s && s->over_capacity)) {
                if (!s)
                        s = state_get(c, key);
                if (s) {
                        s->over_capacity = res.over_capacity;
                        over_capacity_gauge(c);
                }
                if (res.over_capacity)
                        log_info("service %s: more than %d endpoints; truncated", key, ENDPOINTS_MAX_ADDRESSES);
        }

        /* §6.6: equal (trigger time aside) → no request at all. */
        if (cached && endpoints_semantic_equal(ENDPOINTS(desired), ENDPOINTS(cached))) {
                count(c->m_syncs, "success");
                return 0;
        }
        if (cached)
                foreign_writer_check(c, key, cached);

        {
                _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
                if (!g)
                        return -ENOMEM;
                r = kube_kind_endpoints.encode(desired, g);
                if (r >= 0)
                        r = json_gen_take(g, &body, NULL);
                if (r < 0)
                        return r;
        }
        if (cached)
                return write_send(c, key, "PUT", svc->object.meta.namespace, svc->object.meta.name, body,
                                  cached->meta.resource_version);
        return write_send(c, key, "POST", svc->object.meta.namespace, svc->object.meta.name, body, NULL);
}

static int process(WorkQueue *q, const char *key, void *userdata) {
        EndpointsController *c = userdata;
        char buf[ENDPOINT_KEY_MAX];
        const char *ns, *name;
        KubeObject *svc_obj, *cached;
        const Service *svc;
        int r;

        (void) q;
        snprintf(buf, sizeof buf, "%s", key);
        if (endpoint_key_split(buf, &ns, &name) < 0)
                return 0; /* not a key of ours: nothing to retry */
        svc_obj = cache_get(c->services, ns, name);
        cached = cache_get(c->endpoints, ns, name);

        if (!svc_obj) {
                /* §6.8: a Service deletion clears what berth remembered of
                 * its writes, except its own DELETE (no second one). */
                KeyState *s = state_find(c, key);
                if (s && s->stale != STALE_DELETE)
                        stale_clear(s);
        }
        if (cache_is_stale(c, key, cached)) {
                /* berth: not a failure; the key waits for its own write's event. */
                KeyState *s = state_find(c, key);
                count(c->m_syncs, "stale");
                return s ? endpoint_stale_wait(&s->wait, c->queue, key) : -ESTALE;
        } else {
                KeyState *s = state_find(c, key);
                if (s)
                        endpoint_stale_clear(&s->wait);
        }
        if (!svc_obj)
                return sync_deleted_service(c, key, ns, name);
        svc = SERVICE(svc_obj);
        if (svc->type == SERVICE_TYPE_EXTERNAL_NAME || !svc->has_selector) {
                /* Not ours: an existing (user-managed) Endpoints stays as it is. */
                count(c->m_syncs, "success");
                return 0;
        }
        r = sync_service(c, key, svc, cached);
        if (r < 0 && r != WORKQUEUE_PENDING) {
                log_warning_errno(r, "service %s: sync failed: %m", key);
                count(c->m_syncs, "error");
        }
        return r;
}

/* ---- triggers (§8.1) --------------------------------------------------------------- */

static void enqueue_object(EndpointsController *c, const KubeObject *o) {
        char key[ENDPOINT_KEY_MAX];

        if (!c->started)
                return; /* start() enqueues everything */
        (void) workqueue_add(c->queue, endpoint_service_key(o, key));
}

static void on_service_add(KubeObject *o, void *userdata) {
        enqueue_object(userdata, o);
}
static void on_service_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        (void) old_obj;
        enqueue_object(userdata, new_obj);
}
static void on_service_delete(KubeObject *o, void *userdata) {
        enqueue_object(userdata, o);
}

static void on_pod_add(KubeObject *o, void *userdata) {
        EndpointsController *c = userdata;
        if (c->started)
                (void) endpoint_enqueue_pod_services(c->services, c->queue, c->batch_period, POD(o));
}
static void on_pod_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        EndpointsController *c = userdata;
        if (c->started)
                (void) endpoint_enqueue_pod_update(c->services, c->queue, c->batch_period, POD(old_obj),
                                                   POD(new_obj));
}
static void on_pod_delete(KubeObject *o, void *userdata) {
        EndpointsController *c = userdata;
        endpoint_problem_memory_forget_pod(c->problems, o->meta.uid);
        if (c->started)
                (void) endpoint_enqueue_pod_services(c->services, c->queue, c->batch_period, POD(o));
}

/* An Endpoints event re-adds a key waiting for it (berth's deviation from
 * §6.8) once it shows the state after berth's write; otherwise add and
 * update enqueue nothing (§8.1). */
static void wake_waiting(EndpointsController *c, const KubeObject *o, bool deleted) {
        char key[ENDPOINT_KEY_MAX];
        KeyState *s;

        if (!c->started)
                return;
        s = state_find(c, endpoint_service_key(o, key));
        if (!s || !s->wait.waiting || stale_persists(s, deleted ? NULL : o))
                return;
        endpoint_stale_wake(&s->wait, c->queue, key);
}

static void on_endpoints_add(KubeObject *o, void *userdata) {
        wake_waiting(userdata, o, false);
}
static void on_endpoints_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        (void) old_obj;
        wake_waiting(userdata, new_obj, false);
}
static void on_endpoints_delete(KubeObject *o, void *userdata) {
        wake_waiting(userdata, o, true);
        /* So that a needed object is recreated. */
        enqueue_object(userdata, o);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static int enqueue_service(KubeObject *o, void *userdata) {
        EndpointsController *c = userdata;
        char key[ENDPOINT_KEY_MAX];
        return workqueue_add(c->queue, endpoint_service_key(o, key));
}

typedef struct ObjectList {
        KubeObject **items;
        size_t n, allocated;
} ObjectList;

static int collect_object(KubeObject *o, void *userdata) {
        ObjectList *l = userdata;
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1, 64))
                return -ENOMEM;
        l->items[l->n++] = o;
        return 0;
}

/* offline.md: Services are processed in (creationTimestamp, namespace, name) order. */
static int creation_order(const void *a, const void *b) {
        const KubeObject *x = *(KubeObject *const *) a, *y = *(KubeObject *const *) b;
        int c;
        if (x->meta.creation_timestamp != y->meta.creation_timestamp)
                return x->meta.creation_timestamp < y->meta.creation_timestamp ? -1 : 1;
        if ((c = strcmp(strempty(x->meta.namespace), strempty(y->meta.namespace))) != 0)
                return c;
        return strcmp(x->meta.name, y->meta.name);
}

static int enqueue_services_in_order(EndpointsController *c) {
        ObjectList l = {};
        int r = cache_foreach(c->services, NULL, collect_object, &l);

        if (r >= 0 && l.n > 1)
                qsort(l.items, l.n, sizeof(KubeObject *), creation_order);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                r = enqueue_service(l.items[i], c);
        free(l.items);
        return r;
}

static int enqueue_endpoints(KubeObject *o, void *userdata) {
        EndpointsController *c = userdata;
        EndpointsManager m;

        /* §6.7: leader-election records and other controllers' objects are not ours. */
        if (strmap_get(&o->meta.annotations, ENDPOINTS_LEADER_ANNOTATION))
                return 0;
        m = endpoints_manager(o);
        if (m == ENDPOINTS_MANAGER_OTHER)
                return 0;
        return enqueue_service(o, c);
}

static int endpoints_start(Controller *base) {
        EndpointsController *c = (EndpointsController *) base;
        int r;

        c->started = true;
        r = enqueue_services_in_order(c);
        if (r >= 0)
                r = cache_foreach(c->endpoints, NULL, enqueue_endpoints, c);
        return r < 0 ? r : 0;
}

static bool endpoints_idle(Controller *base) {
        EndpointsController *c = (EndpointsController *) base;
        return workqueue_idle(c->queue) && !c->writes;
}

static void endpoints_free(Controller *base) {
        EndpointsController *c = (EndpointsController *) base;

        if (!c)
                return;
        /* Answers still on their way find no controller. */
        while (c->writes) {
                PendingWrite *w = c->writes;
                pending_unlink(c, w);
                w->controller = NULL;
        }
        cache_remove_handlers(c->services, c);
        cache_remove_handlers(c->pods, c);
        cache_remove_handlers(c->endpoints, c);
        if (c->metrics)
                metrics_remove_collector(c->metrics, collect_caches, c);
        c->queue = workqueue_free(c->queue);
        c->recorder = event_recorder_free(c->recorder);
        c->triggers = trigger_time_tracker_free(c->triggers);
        c->problems = endpoint_problem_memory_free(c->problems);
        for (size_t i = 0; i < c->n_states; i++) {
                free(c->states[i].key);
                free(c->states[i].stale_rv);
        }
        free(c->states);
        c->pool = strpool_free(c->pool);
        free(c);
}

int endpoints_controller_init(const ControllerContext *ctx, Controller **ret) {
        EndpointsController *c;
        int r;

        c = new0(EndpointsController, 1);
        if (!c)
                return -ENOMEM;
        c->base = (Controller) {
                .name = "endpoints",
                .start = endpoints_start,
                .idle = endpoints_idle,
                .free = endpoints_free,
        };
        c->source = ctx->source;
        c->offline = ctx->offline;
        c->metrics = ctx->metrics;
        c->batch_period = ctx->flags ? ctx->flags->endpoint_updates_batch_period : 0;

        WorkQueueOptions qo = {
                .name = ENDPOINTS_QUEUE_NAME,
                .base_delay = 5 * USEC_PER_MSEC,
                .workers = ctx->flags && ctx->flags->concurrent_endpoint_syncs ? ctx->flags->concurrent_endpoint_syncs
                                                                               : 5,
                .virtual_time = ctx->offline,
                .process = process,
                .userdata = c,
                .metrics = ctx->metrics,
                .now = ctx->queue_clock,
                .now_userdata = ctx->queue_clock_userdata,
        };
        SourceEventsOptions eo = {
                .reporting_controller = ENDPOINTS_REPORTING_CONTROLLER,
                .reporting_instance = ctx->reporting_instance,
                .offline = ctx->offline,
        };
        CacheHandlers service_h = { on_service_add, on_service_update, on_service_delete, c };
        CacheHandlers pod_h = { on_pod_add, on_pod_update, on_pod_delete, c };
        CacheHandlers endpoints_h = { on_endpoints_add, on_endpoints_update, on_endpoints_delete, c };

        c->pool = strpool_new();
        if (!c->pool) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = source_cache(c->source, &kube_kind_service, NULL, &c->services)) < 0 ||
            (r = source_cache(c->source, &kube_kind_pod, NULL, &c->pods)) < 0 ||
            (r = source_cache(c->source, &kube_kind_endpoints, NULL, &c->endpoints)) < 0 ||
            (r = cache_add_handlers(c->services, &service_h)) < 0 || (r = cache_add_handlers(c->pods, &pod_h)) < 0 ||
            (r = cache_add_handlers(c->endpoints, &endpoints_h)) < 0 ||
            (r = workqueue_new(ctx->event, &qo, &c->queue)) < 0 ||
            (r = source_event_recorder_new(c->source, &eo, &c->recorder)) < 0 ||
            (r = trigger_time_tracker_new(&c->triggers)) < 0 || (r = endpoint_problem_memory_new(&c->problems)) < 0 ||
            (r = metrics_setup(c)) < 0)
                goto fail;
        *ret = &c->base;
        return 0;
fail:
        endpoints_free(&c->base);
        return r;
}

WorkQueue *endpoints_controller_queue(Controller *base) {
        return base ? ((EndpointsController *) base)->queue : NULL;
}
