/* SPDX-License-Identifier: Apache-2.0 */
/* The lbipam controller's wiring (lbipam.md §3, §9-§13): its life cycle,
 * the caches' handlers, the work queue that serialises everything it does,
 * the metrics collector, and the event and write plumbing that Services
 * and pools share.  How the pieces fit: lbipam_private.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbipam_private.h"
#include "log.h"

#define MAX_WRITE_RETRIES 15u

#define LB(c) ((Lbipam *) (c))

/* ---- shared by Services and pools ---------------------------------------------------- */

/* Appends a copy of s to the string array *v of *n entries. */
int lbipam_strv_push(char ***v, size_t *n, const char *s) {
        char **a = reallocarray(*v, *n + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        *v = a;
        if (!(a[*n] = strdup(s)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

void lbipam_strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Every event is logged as well; offline only at debug level, because the
 * offline output carries the events already. */
void lbipam_emit(Lbipam *lb, const EventObjectRef *ref, const char *type, const char *reason, const char *action,
                 const char *note) {
        int r;

        log_full(lb->offline ? LOG_DEBUG : streq(type, "Warning") ? LOG_WARNING : LOG_INFO, "%s %s%s%s: %s: %s",
                 ref->kind, strempty(ref->namespace), ref->namespace ? "/" : "", ref->name, reason, note);
        if (!lb->recorder || isempty(ref->name))
                return;
        r = event_recorder_emit(lb->recorder, ref, type, reason, action, note);
        if (r < 0)
                log_debug_errno(r, "cannot record the %s event for %s: %m", reason, ref->name);
}

/* ---- writes in flight -------------------------------------------------------------------- */

void lbipam_write_link(Lbipam *lb, LbWrite *w) {
        w->next = lb->writes;
        if (lb->writes)
                lb->writes->prev = w;
        lb->writes = w;
        lb->writes_in_flight++;
}

void lbipam_write_unlink(Lbipam *lb, LbWrite *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                lb->writes = w->next;
        if (w->next)
                w->next->prev = w->prev;
        lb->writes_in_flight--;
}

LbWrite *lbipam_write_free(LbWrite *w) {
        if (!w)
                return NULL;
        free(w->key);
        free(w->from_rv);
        free(w);
        return NULL;
}

LbWrite *lbipam_write_new(Lbipam *lb, bool pool, const char *key, const char *rv) {
        LbWrite *w = new0(LbWrite, 1);

        if (!w)
                return NULL;
        *w = (LbWrite) { .lb = lb, .pool = pool, .key = strdup(key), .from_rv = rv ? strdup(rv) : NULL };
        if (!w->key || (rv && !w->from_rv))
                return lbipam_write_free(w);
        return w;
}

/* A failed write is retried with backoff, but not for ever: offline --once
 * must end, and online the next change of the object requeues it anyway. */
void lbipam_write_retry(Lbipam *lb, const char *key) {
        if (workqueue_num_requeues(lb->queue, key) >= MAX_WRITE_RETRIES) {
                log_warning("lbipam: giving up on %s after %u failed writes", key, MAX_WRITE_RETRIES);
                workqueue_forget(lb->queue, key);
                return;
        }
        (void) workqueue_add_rate_limited(lb->queue, key);
}

/* ---- the queue ------------------------------------------------------------------------- */

static int process(WorkQueue *q, const char *key, void *userdata) {
        Lbipam *lb = userdata;

        (void) q;
        if (!lb->started)
                return 0;
        if (streq(key, KEY_CONFIG))
                return lbipam_config_reload(lb);
        if (strchr(key, '/'))
                return lbipam_service_sync(lb, key);
        if (!lb->config)
                return 0; /* nothing is reconciled before the first valid configuration (§3) */
        if (streq(key, KEY_ALL))
                return lbipam_reprocess(lb, false);
        if (streq(key, KEY_PENDING))
                return lbipam_reprocess(lb, true);
        if (streq(key, KEY_POOLS))
                return lbipam_pools_sync(lb);
        return 0;
}

/* ---- handlers ---------------------------------------------------------------------------- */

static void queue_service(Lbipam *lb, const KubeObject *o) {
        char key[KEY_MAX];
        if (lb->started)
                (void) workqueue_add(lb->queue, kube_object_key(o, key, sizeof(key)));
}

static void on_service_add(KubeObject *o, void *userdata) {
        queue_service(userdata, o);
}

static bool ports_equal(const LbServiceShare *a, const LbServiceShare *b) {
        if (a->n_ports != b->n_ports)
                return false;
        for (size_t i = 0; i < a->n_ports; i++) {
                bool found = false;
                for (size_t k = 0; k < b->n_ports && !found; k++)
                        found = a->ports[i].port == b->ports[k].port &&
                                streq_ptr(a->ports[i].protocol, b->ports[k].protocol);
                if (!found)
                        return false;
        }
        return true;
}

/* §6 end: a holder whose sharing key, backend key or ports change may
 * unblock others. */
static bool sharing_changed(const Service *old, const Service *svc) {
        LbServiceShareOwned a = {}, b = {};
        bool changed = true;

        if (lbipam_service_share(old, &a) >= 0 && lbipam_service_share(svc, &b) >= 0)
                changed = !streq(strempty(a.share.sharing_key), strempty(b.share.sharing_key)) ||
                          !streq(strempty(a.share.backend_key), strempty(b.share.backend_key)) ||
                          !ports_equal(&a.share, &b.share);
        lbipam_service_share_done(&a);
        lbipam_service_share_done(&b);
        return changed;
}

static void on_service_update(KubeObject *old, KubeObject *o, void *userdata) {
        Lbipam *lb = userdata;
        char key[KEY_MAX];
        IpAddr ips[2];
        size_t n;
        const char *pool;

        queue_service(lb, o);
        if (!lb->started || !lb->alloc)
                return;
        kube_object_key(o, key, sizeof(key));
        if (lb_allocator_lookup(lb->alloc, key, &pool, ips, &n) && sharing_changed(SERVICE(old), SERVICE(o)))
                (void) workqueue_add(lb->queue, KEY_ALL);
}

static void on_config_change(KubeObject *o, void *userdata) {
        Lbipam *lb = userdata;
        (void) o;
        if (lb->started)
                (void) workqueue_add(lb->queue, KEY_CONFIG);
}

static void on_config_update(KubeObject *old, KubeObject *o, void *userdata) {
        if (lb_config_update_matters(old, o))
                on_config_change(o, userdata);
}

static void on_namespace_update(KubeObject *old, KubeObject *o, void *userdata) {
        /* only labels feed the configuration (namespaceSelectors) */
        if (!strmap_equal(&old->meta.labels, &o->meta.labels))
                on_config_change(o, userdata);
}

/* ---- metrics, life cycle -------------------------------------------------------------------- */

static LbReason reason_from_string(const char *s) {
        for (LbReason r = LB_REASON_ALLOCATED; r < _LB_REASON_MAX; r++)
                if (streq_ptr(lb_reason_to_string(r), s))
                        return r;
        return LB_REASON_NONE;
}

static int count_pending(KubeObject *o, void *userdata) {
        size_t *counts = userdata;
        const Service *svc = SERVICE(o);
        const KubeCondition *c;

        if (svc->type != SERVICE_TYPE_LOAD_BALANCER || lbipam_status_ip_count(svc) > 0)
                return 0;
        c = conditions_find(&svc->conditions, LBIPAM_CONDITION_TYPE);
        if (c)
                counts[reason_from_string(c->reason)]++;
        return 0;
}

typedef struct PendingCount {
        const Lbipam *lb;
        size_t counts[_LB_REASON_MAX];
} PendingCount;

static int count_handled_pending(KubeObject *o, void *userdata) {
        PendingCount *p = userdata;
        if (lbipam_handles(p->lb, SERVICE(o)))
                (void) count_pending(o, p->counts);
        return 0;
}

static void collect_metrics(MetricsRegistry *r, void *userdata) {
        Lbipam *lb = userdata;
        PendingCount p = { .lb = lb };

        (void) r;
        if (!lb->config)
                return;
        lbipam_metrics_usage(&lb->m, lb->config, lb->alloc);
        (void) cache_foreach(lb->services, NULL, count_handled_pending, &p);
        lbipam_metrics_pending(&lb->m, p.counts);
}

static int start(Controller *c) {
        Lbipam *lb = LB(c);

        lb->started = true;
        return workqueue_add(lb->queue, KEY_CONFIG);
}

static bool idle(Controller *c) {
        Lbipam *lb = LB(c);
        return workqueue_idle(lb->queue) && lb->writes_in_flight == 0;
}

static void controller_free(Controller *c) {
        Lbipam *lb = LB(c);

        if (!lb)
                return;
        if (lb->m.registry)
                metrics_remove_collector(lb->m.registry, collect_metrics, lb);
        Cache *caches[] = { lb->services, lb->pools, lb->advertisements, lb->namespaces };
        for (size_t i = 0; i < ELEMENTSOF(caches); i++)
                if (caches[i])
                        cache_remove_handlers(caches[i], lb);
        while (lb->writes) {
                LbWrite *w = lb->writes;
                lbipam_write_unlink(lb, w);
                lbipam_write_free(w);
        }
        lb->queue = workqueue_free(lb->queue);
        lb->recorder = event_recorder_free(lb->recorder);
        lbipam_service_records_free(lb);
        lbipam_pool_records_free(lb);
        lb_allocator_free(lb->alloc);
        lb_config_free(lb->config);
        free(lb->config_error);
        free(lb->lb_class);
        free(lb->config_namespace);
        free(lb);
}

int lbipam_controller_init(const ControllerContext *ctx, Controller **ret) {
        const char *ns = ctx->flags && ctx->flags->config_namespace ? ctx->flags->config_namespace
                         : ctx->options && ctx->options->namespace ? ctx->options->namespace
                                                                   : "berth-system";
        Lbipam *lb;
        int r;

        lb = new0(Lbipam, 1);
        if (!lb)
                return -ENOMEM;
        lb->controller = (Controller) { .name = "lbipam", .start = start, .idle = idle, .free = controller_free };
        lb->source = ctx->source;
        lb->offline = ctx->offline;
        lb->config_namespace = strdup(ns);
        if (!lb->config_namespace ||
            (ctx->flags && ctx->flags->lb_class && !(lb->lb_class = strdup(ctx->flags->lb_class)))) {
                r = -ENOMEM;
                goto fail;
        }
        r = lb_allocator_new(&lb->alloc);
        if (r < 0)
                goto fail;

        WorkQueueOptions qo = {
                .name = "lbipam",
                .virtual_time = ctx->offline,
                .process = process,
                .userdata = lb,
                .metrics = ctx->metrics,
                .now = ctx->queue_clock,
                .now_userdata = ctx->queue_clock_userdata,
        };
        r = workqueue_new(ctx->event, &qo, &lb->queue);
        if (r < 0)
                goto fail;
        SourceEventsOptions eo = {
                .reporting_controller = LBIPAM_REPORTING_CONTROLLER,
                .reporting_instance = ctx->reporting_instance ? ctx->reporting_instance : "berth-controller",
                .offline = ctx->offline,
        };
        r = source_event_recorder_new(ctx->source, &eo, &lb->recorder);
        if (r < 0)
                goto fail;

        SourceFilter in_config_ns = { .namespace = lb->config_namespace };
        CacheHandlers svc_h = { .on_add = on_service_add, .on_update = on_service_update,
                                .on_delete = on_service_add, .userdata = lb };
        CacheHandlers cfg_h = { .on_add = on_config_change, .on_update = on_config_update,
                                .on_delete = on_config_change, .userdata = lb };
        CacheHandlers ns_h = { .on_add = on_config_change, .on_update = on_namespace_update,
                               .on_delete = on_config_change, .userdata = lb };
        if ((r = source_cache(ctx->source, &kube_kind_service, NULL, &lb->services)) < 0 ||
            (r = cache_add_handlers(lb->services, &svc_h)) < 0 ||
            (r = source_cache(ctx->source, &kube_kind_ipaddresspool, &in_config_ns, &lb->pools)) < 0 ||
            (r = cache_add_handlers(lb->pools, &cfg_h)) < 0 ||
            (r = source_cache(ctx->source, &kube_kind_l2advertisement, &in_config_ns, &lb->advertisements)) < 0 ||
            (r = cache_add_handlers(lb->advertisements, &cfg_h)) < 0 ||
            (r = source_cache(ctx->source, &kube_kind_namespace, NULL, &lb->namespaces)) < 0 ||
            (r = cache_add_handlers(lb->namespaces, &ns_h)) < 0)
                goto fail;
        r = lbipam_metrics_init(&lb->m, ctx->metrics);
        if (r >= 0 && ctx->metrics)
                r = metrics_add_collector(ctx->metrics, collect_metrics, lb);
        if (r < 0)
                goto fail;
        *ret = &lb->controller;
        return 0;
fail:
        controller_free(&lb->controller);
        return r;
}
