/* SPDX-License-Identifier: Apache-2.0 */
/* The lbipam controller's wiring (lbipam.md §3, §9-§13).
 *
 * One work queue carries "ns/name" for one Service and four keys without
 * a slash: "config" (re-parse the configuration, then reprocess every
 * Service), "all" (reprocess every Service), "pending" (reprocess the
 * Services without IPs, after an address was freed) and "pools" (pool
 * status counters).  A
 * pass of §13.2 runs inside one queue item, so single-Service notifications
 * arriving meanwhile wait for it.  The allocator is decided synchronously
 * by the reconcile; Service status writes follow asynchronously, and a
 * Service whose write is in flight (or whose cache still shows the state
 * the write replaced) is not reconciled until its new state is seen. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbipam.h"
#include "lbipam_metrics.h"
#include "lbipam_reconcile.h"
#include "lbipam_writes.h"
#include "log.h"
#include "source_events.h"

#define KEY_CONFIG "config"
#define KEY_ALL "all"
#define KEY_PENDING "pending"
#define KEY_POOLS "pools"
#define KEY_MAX 512
#define MAX_WRITE_RETRIES 15u

typedef struct Emitted {
        char *reason;
        char *note;
} Emitted;

/* What lbipam remembers about one Service besides the allocator. */
typedef struct LbSvc {
        char *key;                  /* "ns/name" */
        size_t n_emitted;
        Emitted *emitted;           /* the events of the last outcome (§11: repeats are suppressed) */
        size_t n_deprecated;
        char **deprecated;          /* deprecatedAnnotation notes: once per Service and key (§5) */
        bool writing;               /* a status write is in flight */
        bool dirty;                 /* skipped while writing: reconcile when the write ends */
        char *written_from_rv;      /* the resourceVersion the last write replaced (stale-cache check) */
} LbSvc;

typedef struct PoolRec {
        char *name;
        bool writing;
        char *written_from_rv;
        IPAddressPoolStatus written;
} PoolRec;

typedef struct LbWrite LbWrite;

typedef struct Lbipam {
        Controller controller;
        Source *source;
        Cache *services, *pools, *advertisements, *namespaces;
        WorkQueue *queue;
        EventRecorder *recorder;
        LbipamMetrics m;
        bool offline;
        char *lb_class;
        char *config_namespace;
        bool started;

        LbConfig *config;           /* the last valid configuration; NULL until the first */
        LbAllocator *alloc;
        char *config_error;         /* the ConfigInvalid last reported, "kind/ns/name: text" */
        bool stale;
        bool freed;                 /* a reconcile released an address: the pending Services get a look */
        char **forget_dropped;      /* pools deleted by the last configuration: their dropped counter goes next */
        size_t n_forget_dropped;

        size_t n_svcs;
        LbSvc **svcs;               /* sorted by key */
        size_t n_pool_recs;
        PoolRec *pool_recs;
        bool pools_dirty;

        unsigned writes_in_flight;
        LbWrite *writes;            /* freed with the controller when never answered */
} Lbipam;

struct LbWrite {
        Lbipam *lb;
        LbWrite *prev, *next;
        bool pool;
        char *key;                  /* "ns/name", or the pool name */
        char *from_rv;
        IPAddressPoolStatus status;
};

#define LB(c) ((Lbipam *) (c))

static void *mfree(void *p) {
        free(p);
        return NULL;
}

/* ---- Service records -------------------------------------------------------- */

static void emitted_clear(LbSvc *s) {
        for (size_t i = 0; i < s->n_emitted; i++) {
                free(s->emitted[i].reason);
                free(s->emitted[i].note);
        }
        s->emitted = mfree(s->emitted);
        s->n_emitted = 0;
}

static LbSvc *svc_free(LbSvc *s) {
        if (!s)
                return NULL;
        emitted_clear(s);
        for (size_t i = 0; i < s->n_deprecated; i++)
                free(s->deprecated[i]);
        free(s->deprecated);
        free(s->written_from_rv);
        free(s->key);
        free(s);
        return NULL;
}

static ssize_t svc_find(const Lbipam *lb, const char *key) {
        size_t lo = 0, hi = lb->n_svcs;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int r = strcmp(lb->svcs[mid]->key, key);
                if (r == 0)
                        return (ssize_t) mid;
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return ~(ssize_t) lo;
}

static int svc_get_or_add(Lbipam *lb, const char *key, LbSvc **ret) {
        ssize_t i = svc_find(lb, key);
        LbSvc *s, **v;

        if (i >= 0) {
                *ret = lb->svcs[i];
                return 0;
        }
        v = reallocarray(lb->svcs, lb->n_svcs + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        lb->svcs = v;
        s = new0(LbSvc, 1);
        if (!s || !(s->key = strdup(key))) {
                free(s);
                return -ENOMEM;
        }
        i = ~i;
        memmove(&v[i + 1], &v[i], (lb->n_svcs - (size_t) i) * sizeof(*v));
        v[i] = s;
        lb->n_svcs++;
        *ret = s;
        return 0;
}

static void svc_remove(Lbipam *lb, const char *key) {
        ssize_t i = svc_find(lb, key);

        if (i < 0)
                return;
        svc_free(lb->svcs[i]);
        memmove(&lb->svcs[i], &lb->svcs[i + 1], (lb->n_svcs - (size_t) i - 1) * sizeof(LbSvc *));
        lb->n_svcs--;
}

static int strv_push(char ***v, size_t *n, const char *s) {
        char **a = reallocarray(*v, *n + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        *v = a;
        if (!(a[*n] = strdup(s)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

static bool strv_contains(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

static PoolRec *pool_rec(Lbipam *lb, const char *name) {
        PoolRec *a;

        for (size_t i = 0; i < lb->n_pool_recs; i++)
                if (streq(lb->pool_recs[i].name, name))
                        return &lb->pool_recs[i];
        a = reallocarray(lb->pool_recs, lb->n_pool_recs + 1, sizeof(PoolRec));
        if (!a)
                return NULL;
        lb->pool_recs = a;
        a = &a[lb->n_pool_recs];
        *a = (PoolRec) { .name = strdup(name) };
        if (!a->name)
                return NULL;
        lb->n_pool_recs++;
        return a;
}

/* ---- events -------------------------------------------------------------------- */

static void emit(Lbipam *lb, const EventObjectRef *ref, const char *type, const char *reason, const char *action,
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

static EventObjectRef pool_ref(const IPAddressPool *p) {
        return (EventObjectRef) {
                .api_version = p->object.kind->api_version,
                .kind = p->object.kind->kind,
                .namespace = p->object.meta.namespace,
                .name = p->object.meta.name,
                .uid = p->object.meta.uid,
        };
}

static bool emitted_contains(const LbSvc *s, const LbEvent *e) {
        for (size_t i = 0; i < s->n_emitted; i++)
                if (streq(s->emitted[i].reason, e->reason) && streq(s->emitted[i].note, e->note))
                        return true;
        return false;
}

/* §11: an event goes out when the outcome changes; the same (reason, note)
 * stays silent while it persists.  deprecatedAnnotation: once per key. */
static int service_events(Lbipam *lb, LbSvc *rec, const Service *svc, const LbDesired *d) {
        const ObjectMeta *m = &svc->object.meta;
        EventObjectRef ref = {
                .api_version = "v1", .kind = "Service", .namespace = m->namespace, .name = m->name, .uid = m->uid,
        };
        Emitted *now = new0(Emitted, d->n_events + 1);
        size_t n = 0;
        int r = 0;

        if (!now)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_events; i++) {
                const LbEvent *e = &d->events[i];
                if (streq(e->reason, "deprecatedAnnotation")) {
                        if (strv_contains(rec->deprecated, rec->n_deprecated, e->note))
                                continue;
                        r = strv_push(&rec->deprecated, &rec->n_deprecated, e->note);
                        if (r < 0)
                                break;
                } else {
                        now[n] = (Emitted) { .reason = strdup(e->reason), .note = strdup(e->note) };
                        if (!now[n].reason || !now[n].note) {
                                free(now[n].reason);
                                free(now[n].note);
                                r = -ENOMEM;
                                break;
                        }
                        n++;
                        if (emitted_contains(rec, e))
                                continue;
                }
                emit(lb, &ref, e->type, e->reason, LBIPAM_ACTION_ALLOCATE, e->note);
        }
        emitted_clear(rec);
        rec->emitted = now;
        rec->n_emitted = n;
        return r;
}

/* ---- writes -------------------------------------------------------------------- */

static void write_link(Lbipam *lb, LbWrite *w) {
        w->next = lb->writes;
        if (lb->writes)
                lb->writes->prev = w;
        lb->writes = w;
        lb->writes_in_flight++;
}

static void write_unlink(Lbipam *lb, LbWrite *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                lb->writes = w->next;
        if (w->next)
                w->next->prev = w->prev;
        lb->writes_in_flight--;
}

static LbWrite *write_free(LbWrite *w) {
        if (!w)
                return NULL;
        free(w->key);
        free(w->from_rv);
        free(w);
        return NULL;
}

static LbWrite *write_new(Lbipam *lb, bool pool, const char *key, const char *rv) {
        LbWrite *w = new0(LbWrite, 1);

        if (!w)
                return NULL;
        *w = (LbWrite) { .lb = lb, .pool = pool, .key = strdup(key), .from_rv = rv ? strdup(rv) : NULL };
        if (!w->key || (rv && !w->from_rv))
                return write_free(w);
        return w;
}

/* A failed write is retried with backoff, but not for ever: offline --once
 * must end, and online the next change of the object requeues it anyway. */
static void retry(Lbipam *lb, const char *key) {
        if (workqueue_num_requeues(lb->queue, key) >= MAX_WRITE_RETRIES) {
                log_warning("lbipam: giving up on %s after %u failed writes", key, MAX_WRITE_RETRIES);
                workqueue_forget(lb->queue, key);
                return;
        }
        (void) workqueue_add_rate_limited(lb->queue, key);
}

static void on_service_written(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        LbWrite *w = userdata;
        Lbipam *lb = w->lb;
        ssize_t i = svc_find(lb, w->key);
        LbSvc *rec = i >= 0 ? lb->svcs[i] : NULL;
        bool dirty = rec && rec->dirty;

        (void) stored;
        write_unlink(lb, w);
        if (rec) {
                rec->writing = rec->dirty = false;
        }
        switch (lbipam_write_outcome(error)) {
        case LB_WRITE_DONE:
                if (rec) {
                        free(rec->written_from_rv);
                        rec->written_from_rv = TAKE_PTR(w->from_rv);
                }
                workqueue_forget(lb->queue, w->key);
                if (dirty)
                        (void) workqueue_add(lb->queue, w->key);
                break;
        case LB_WRITE_GONE:
                (void) workqueue_add(lb->queue, w->key); /* drops the record and the allocation */
                break;
        case LB_WRITE_CONFLICT:
                log_debug("service %s changed while its load-balancer status was written; reconciling again",
                          w->key);
                retry(lb, w->key);
                break;
        case LB_WRITE_RETRY:
                log_warning("service %s: cannot write the load-balancer status: %s", w->key,
                            status && status->message ? status->message : strerror(-error));
                retry(lb, w->key);
                break;
        }
        write_free(w);
}

static int service_write(Lbipam *lb, LbSvc *rec, const Service *svc, const LbDesired *d) {
        const ObjectMeta *m = &svc->object.meta;
        _cleanup_free_ char *body = NULL;
        LbWrite *w;
        int r;

        r = lbipam_service_status_body(svc, d, source_now(lb->source), &body);
        if (r < 0)
                return r;
        w = write_new(lb, false, rec->key, m->resource_version);
        if (!w)
                return -ENOMEM;
        r = source_merge_patch(lb->source, &kube_kind_service, m->namespace, m->name, "status", body,
                               on_service_written, w);
        if (r < 0) {
                write_free(w);
                return r;
        }
        write_link(lb, w);
        rec->writing = true;
        return 0;
}

/* ---- one Service ------------------------------------------------------------------ */

static bool handled(const Lbipam *lb, const Service *svc) {
        return lbipam_service_handled(svc, lb->lb_class);
}

static size_t status_ip_count(const Service *svc) {
        size_t n = 0;
        for (size_t i = 0; i < svc->n_ingress; i++)
                n += svc->ingress[i].ip != NULL;
        return n;
}

/* The cache still shows the object our last write replaced: its watch
 * event is on the way, and reconciling the old state would undo ours. */
static bool cache_is_stale(LbSvc *rec, const Service *svc) {
        if (!rec->written_from_rv)
                return false;
        if (streq_ptr(rec->written_from_rv, svc->object.meta.resource_version))
                return true;
        rec->written_from_rv = mfree(rec->written_from_rv);
        return false;
}

static bool released_addresses(const LbAllocator *a, const char *key, size_t n_before, const IpAddr *before) {
        IpAddr after[2];
        size_t n_after = 0;
        const char *pool;

        if (!lb_allocator_lookup(a, key, &pool, after, &n_after))
                n_after = 0;
        for (size_t i = 0; i < n_before; i++) {
                bool kept = false;
                for (size_t k = 0; k < n_after; k++)
                        kept = kept || ip_addr_equal(&before[i], &after[k]);
                if (!kept)
                        return true;
        }
        return false;
}

/* Reconciles one handled Service and writes the difference.  In phase 1 of
 * a pass, a holder that lost its IPs is only reported (*ret_deferred): its
 * phase-2 reconcile decides, emits and writes. */
static int service_reconcile(Lbipam *lb, const Service *svc, bool phase1, bool *ret_deferred) {
        char key[KEY_MAX];
        LbReconcileContext ctx = { .config = lb->config, .alloc = lb->alloc, .phase1 = phase1 };
        LbDesired d = {};
        IpAddr before[2];
        size_t n_before = 0;
        const char *pool;
        LbSvc *rec;
        int r;

        kube_object_key(&svc->object, key, sizeof(key));
        r = svc_get_or_add(lb, key, &rec);
        if (r < 0)
                return r;
        if (rec->writing || cache_is_stale(rec, svc)) {
                rec->dirty = rec->writing;
                return 0;
        }
        if (!lb_allocator_lookup(lb->alloc, key, &pool, before, &n_before))
                n_before = 0;
        r = lbipam_reconcile(&ctx, svc, &d);
        if (r < 0)
                return r;
        if (phase1 && d.deferred) {
                *ret_deferred = true;
                lb_desired_done(&d);
                return 0;
        }
        if (d.status_ips_rejected)
                lbipam_metrics_rejected(&lb->m);
        if (released_addresses(lb->alloc, key, n_before, before))
                lb->freed = true;
        r = service_events(lb, rec, svc, &d);
        if (r >= 0 && lbipam_service_needs_write(svc, &d))
                r = service_write(lb, rec, svc, &d);
        lb_desired_done(&d);
        return r;
}

static void forget_service(Lbipam *lb, const char *key) {
        IpAddr ips[2];
        size_t n = 0;
        const char *pool;

        if (lb_allocator_lookup(lb->alloc, key, &pool, ips, &n)) {
                lb_allocator_release(lb->alloc, key);
                lb->freed = true;
        }
        svc_remove(lb, key);
}

static void after_changes(Lbipam *lb) {
        if (lb->freed)
                (void) workqueue_add(lb->queue, KEY_PENDING);
        lb->freed = false;
        (void) workqueue_add(lb->queue, KEY_POOLS);
}

static int service_sync(Lbipam *lb, const char *key) {
        char ns[KEY_MAX], name[KEY_MAX];
        const char *slash = strchr(key, '/');
        const Service *svc;
        ssize_t i;
        int r = 0;

        if (!slash || (size_t) (slash - key) >= KEY_MAX || strlen(slash + 1) >= KEY_MAX)
                return 0;
        memcpy(ns, key, (size_t) (slash - key));
        ns[slash - key] = '\0';
        strcpy(name, slash + 1);

        svc = SERVICE(cache_get(lb->services, ns, name));
        if (!svc || !handled(lb, svc)) {
                /* gone, or no longer ours: released here, never touched (§4) */
                i = svc_find(lb, key);
                if (i >= 0 && lb->svcs[i]->writing) {
                        lb->svcs[i]->dirty = true;
                        return 0;
                }
                if (lb->alloc)
                        forget_service(lb, key);
                else
                        svc_remove(lb, key);
        } else if (lb->config)
                r = service_reconcile(lb, svc, false, NULL);
        after_changes(lb);
        return r;
}

/* ---- the passes of §13.2 ---------------------------------------------------------- */

typedef struct PassEntry {
        const Service *svc;         /* referenced */
        size_t n_ips;
        bool moved;                 /* a deferred holder: phase 2 holds the reference now */
} PassEntry;

typedef struct Collect {
        const Lbipam *lb;
        bool pending_only;
        PassEntry *holders, *pending;
        size_t n_holders, n_pending;
} Collect;

static int collect_service(KubeObject *o, void *userdata) {
        Collect *c = userdata;
        const Service *svc = SERVICE(o);
        size_t n = status_ip_count(svc);

        if (!handled(c->lb, svc) || (n > 0 && c->pending_only))
                return 0;
        /* a reference: a source that applies writes at once replaces cached objects during the pass */
        (void) kube_object_ref(o);
        if (n == 0)
                c->pending[c->n_pending++] = (PassEntry) { .svc = svc };
        else
                c->holders[c->n_holders++] = (PassEntry) { .svc = svc, .n_ips = n };
        return 0;
}

static int cmp_age(const PassEntry *a, const PassEntry *b) {
        const ObjectMeta *x = &a->svc->object.meta, *y = &b->svc->object.meta;
        int r;

        if (x->creation_timestamp != y->creation_timestamp)
                return x->creation_timestamp < y->creation_timestamp ? -1 : 1;
        r = strcmp(strempty(x->namespace), strempty(y->namespace));
        return r != 0 ? r : strcmp(x->name, y->name);
}

/* Phase 1: most IPs first, then oldest, then ns/name. */
static int cmp_holder(const void *a, const void *b) {
        const PassEntry *x = a, *y = b;
        if (x->n_ips != y->n_ips)
                return x->n_ips > y->n_ips ? -1 : 1;
        return cmp_age(x, y);
}

static int cmp_pending(const void *a, const void *b) {
        return cmp_age(a, b);
}

/* Every handled Service (or only those without IPs) in the order of §13.2. */
static int reprocess(Lbipam *lb, bool pending_only) {
        size_t total = cache_size(lb->services);
        _cleanup_free_ PassEntry *holders = new0(PassEntry, total + 1), *pending = new0(PassEntry, total + 1);
        Collect c = { .lb = lb, .pending_only = pending_only, .holders = holders, .pending = pending };
        int r = 0, k;

        if (!holders || !pending)
                return -ENOMEM;
        (void) cache_foreach(lb->services, NULL, collect_service, &c);
        qsort(holders, c.n_holders, sizeof(PassEntry), cmp_holder);
        for (size_t i = 0; i < c.n_holders; i++) {
                bool deferred = false;
                k = service_reconcile(lb, holders[i].svc, true, &deferred);
                if (k < 0 && r >= 0)
                        r = k;
                if (deferred) {
                        pending[c.n_pending++] = holders[i];
                        holders[i].moved = true;
                }
        }
        /* what phase 1 released is not "freed" for the Services of phase 2: they come next anyway */
        lb->freed = false;
        qsort(pending, c.n_pending, sizeof(PassEntry), cmp_pending);
        for (size_t i = 0; i < c.n_pending; i++) {
                k = service_reconcile(lb, pending[i].svc, false, NULL);
                if (k < 0 && r >= 0)
                        r = k;
        }
        for (size_t i = 0; i < c.n_pending; i++)
                kube_object_unref((KubeObject *) &pending[i].svc->object);
        for (size_t i = 0; i < c.n_holders; i++)
                if (!holders[i].moved)
                        kube_object_unref((KubeObject *) &holders[i].svc->object);
        after_changes(lb);
        if (r < 0)
                log_error_errno(r, "lbipam: reprocessing the Services failed: %m");
        return r;
}

/* ---- configuration (§3, §9, §13.5, §13.6, §13.8) ------------------------------------ */

typedef struct ObjVec {
        size_t n, cap;
        KubeObject **v;
} ObjVec;

static int collect_object(KubeObject *o, void *userdata) {
        ObjVec *v = userdata;
        if (v->n == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 16;
                KubeObject **a = reallocarray(v->v, cap, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                v->v = a;
                v->cap = cap;
        }
        v->v[v->n++] = o;
        return 0;
}

static void config_invalid(Lbipam *lb, const LbConfigError *e) {
        const Cache *cache = e->kind == &kube_kind_l2advertisement ? lb->advertisements : lb->pools;
        const KubeObject *o = isempty(e->name) ? NULL : cache_get(cache, e->namespace, e->name);
        _cleanup_free_ char *what = NULL;
        EventObjectRef ref = {
                .api_version = e->kind->api_version,
                .kind = e->kind->kind,
                .namespace = e->namespace,
                .name = e->name,
                .uid = o ? o->meta.uid : NULL,
        };

        lb->stale = true;
        lbipam_metrics_config_state(&lb->m, lb->config != NULL, true);
        if (asprintf(&what, "%s/%s/%s: %s", e->kind->kind, strempty(e->namespace), strempty(e->name), e->message) < 0)
                return;
        if (streq_ptr(lb->config_error, what))
                return; /* the same rejection again: reported already */
        log_warning("lbipam: configuration rejected (%s %s/%s): %s%s", e->kind->kind, strempty(e->namespace),
                    strempty(e->name), e->message, lb->config ? "; keeping the last valid one" : "");
        if (o)
                emit(lb, &ref, "Warning", "ConfigInvalid", LBIPAM_ACTION_VALIDATE, e->message);
        free(lb->config_error);
        lb->config_error = TAKE_PTR(what);
}

static const IPAddressPool *pool_object(const LbConfig *c, const char *name) {
        const LbPool *p = c ? lb_config_find_pool(c, name) : NULL;
        return p ? p->object : NULL;
}

/* §13.5, §13.6: events on the transitions between two configurations.  A
 * pool seen for the first time counts as covered and not draining. */
static void pool_transition_events(Lbipam *lb, const LbConfig *old, const LbConfig *cfg) {
        char note[512];

        for (size_t i = 0; i < cfg->n_pools; i++) {
                const LbPool *p = &cfg->pools[i];
                const LbPool *was = old ? lb_config_find_pool(old, p->name) : NULL;
                EventObjectRef ref = pool_ref(p->object);

                if (p->draining != (was && was->draining)) {
                        if (p->draining)
                                (void) snprintf(note, sizeof(note),
                                                "pool %s is draining: existing IPs are kept, no new IPs are handed out",
                                                p->name);
                        else
                                (void) snprintf(note, sizeof(note), "pool %s hands out IPs again", p->name);
                        emit(lb, &ref, "Normal", p->draining ? "PoolDraining" : "PoolDrainCleared",
                             LBIPAM_ACTION_POOL, note);
                }
                if (!p->covered && (!was || was->covered)) {
                        (void) snprintf(note, sizeof(note),
                                        "no L2Advertisement covers pool %s; IPs assigned from it will not be announced",
                                        p->name);
                        emit(lb, &ref, "Warning", "NoL2Advertisement", LBIPAM_ACTION_POOL, note);
                }
        }
}

/* §13.8: one Warning per pool; the allocator lists the holders sorted by ns/name. */
static int dropped_event(Lbipam *lb, const LbConfig *old, const LbDropped *d, size_t n) {
        const IPAddressPool *obj = d[0].pool_deleted ? pool_object(old, d[0].pool) : pool_object(lb->config, d[0].pool);
        _cleanup_free_ char *note = lbipam_dropped_note(d, n);
        int r;

        if (!note)
                return -ENOMEM;
        lbipam_metrics_dropped(&lb->m, d[0].pool, n);
        if (d[0].pool_deleted) {
                r = strv_push(&lb->forget_dropped, &lb->n_forget_dropped, d[0].pool);
                if (r < 0)
                        return r;
        }
        if (obj) {
                /* a deleted pool's event goes to its last known object */
                EventObjectRef ref = pool_ref(obj);
                emit(lb, &ref, "Warning", "AllocationsDropped", LBIPAM_ACTION_POOL, note);
        } else
                log_warning("lbipam: %s", note);
        return 0;
}

static int config_install(Lbipam *lb, LbConfig *cfg) {
        _cleanup_(lb_config_freep) LbConfig *old = lb->config;
        LbDropped *dropped = NULL;
        size_t n_dropped = 0;
        int r;

        r = lb_allocator_set_config(lb->alloc, cfg, &dropped, &n_dropped);
        if (r < 0) {
                lb->config = TAKE_PTR(old);
                lb_config_free(cfg);
                return r;
        }
        lb->config = cfg;
        free(lb->config_error);
        lb->config_error = NULL;
        lb->stale = false;

        /* the dropped counters of pools deleted by the previous change go now */
        for (size_t i = 0; i < lb->n_forget_dropped; i++) {
                if (!lb_config_find_pool(cfg, lb->forget_dropped[i]))
                        lbipam_metrics_forget_pool(&lb->m, lb->forget_dropped[i]);
                free(lb->forget_dropped[i]);
        }
        lb->forget_dropped = mfree(lb->forget_dropped);
        lb->n_forget_dropped = 0;

        pool_transition_events(lb, old, cfg);
        for (size_t i = 0, j; r >= 0 && i < n_dropped; i = j) {
                for (j = i + 1; j < n_dropped && streq(dropped[j].pool, dropped[i].pool); j++)
                        ;
                r = dropped_event(lb, old, &dropped[i], j - i);
        }
        lb_dropped_free_many(dropped, n_dropped);
        lbipam_metrics_config(&lb->m, old, cfg);
        lbipam_metrics_config_state(&lb->m, true, false);
        for (size_t i = lb->n_pool_recs; old && i > 0; i--)
                if (!lb_config_find_pool(cfg, lb->pool_recs[i - 1].name) && !lb->pool_recs[i - 1].writing) {
                        PoolRec *p = &lb->pool_recs[i - 1];
                        free(p->name);
                        free(p->written_from_rv);
                        memmove(p, p + 1, (lb->n_pool_recs - i) * sizeof(PoolRec));
                        lb->n_pool_recs--;
                }
        if (r < 0)
                return r;
        return reprocess(lb, false);
}

static int config_reload(Lbipam *lb) {
        _cleanup_free_ KubeObject **pools_v = NULL, **ads_v = NULL, **ns_v = NULL;
        ObjVec pools = {}, ads = {}, nss = {};
        LbConfigError err = {};
        LbConfig *cfg = NULL;
        int r;

        r = cache_foreach(lb->pools, NULL, collect_object, &pools);
        pools_v = pools.v;
        if (r >= 0)
                r = cache_foreach(lb->advertisements, NULL, collect_object, &ads);
        ads_v = ads.v;
        if (r >= 0)
                r = cache_foreach(lb->namespaces, NULL, collect_object, &nss);
        ns_v = nss.v;
        if (r < 0)
                return r;
        LbConfigInput in = {
                .pools = pools.v, .n_pools = pools.n,
                .advertisements = ads.v, .n_advertisements = ads.n,
                .namespaces = nss.v, .n_namespaces = nss.n,
        };
        r = lb_config_build(&in, &cfg, &err);
        if (r == -EINVAL) {
                config_invalid(lb, &err);
                lb_config_error_done(&err);
                return 0;
        }
        if (r < 0)
                return r;
        return config_install(lb, cfg);
}

/* ---- pool status (§10) ---------------------------------------------------------------- */

static void on_pool_written(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        LbWrite *w = userdata;
        Lbipam *lb = w->lb;
        PoolRec *p = pool_rec(lb, w->key);
        bool again = false;

        (void) stored;
        write_unlink(lb, w);
        if (p)
                p->writing = false;
        switch (lbipam_write_outcome(error)) {
        case LB_WRITE_DONE:
                if (p) {
                        free(p->written_from_rv);
                        p->written_from_rv = TAKE_PTR(w->from_rv);
                        p->written = w->status;
                }
                break;
        case LB_WRITE_GONE:
                break;
        case LB_WRITE_CONFLICT:
                again = true;
                break;
        case LB_WRITE_RETRY:
                log_warning("IPAddressPool %s: cannot write its status: %s", w->key,
                            status && status->message ? status->message : strerror(-error));
                again = true;
                break;
        }
        if (again)
                retry(lb, KEY_POOLS);
        else if (lb->pools_dirty) {
                lb->pools_dirty = false;
                (void) workqueue_add(lb->queue, KEY_POOLS);
        }
        write_free(w);
}

static int pools_sync(Lbipam *lb) {
        int r = 0;

        /* at most once per pool per drain of the queue: the counters wait for the rest */
        if (workqueue_len(lb->queue) > 0)
                return workqueue_add(lb->queue, KEY_POOLS);
        for (size_t i = 0; r >= 0 && i < lb->config->n_pools; i++) {
                const LbPool *p = &lb->config->pools[i];
                const IPAddressPool *obj = IPADDRESSPOOL(
                        cache_get(lb->pools, p->object->object.meta.namespace, p->name));
                _cleanup_free_ char *body = NULL;
                IPAddressPoolStatus want, have;
                PoolRec *rec;
                LbWrite *w;

                if (!obj)
                        continue;
                rec = pool_rec(lb, p->name);
                if (!rec)
                        return -ENOMEM;
                if (rec->writing) {
                        lb->pools_dirty = true;
                        continue;
                }
                lbipam_pool_status_compute(p, lb->alloc, &want);
                have = obj->status;
                if (rec->written_from_rv && streq_ptr(rec->written_from_rv, obj->object.meta.resource_version))
                        have = rec->written; /* our write's watch event is still on the way */
                else
                        rec->written_from_rv = mfree(rec->written_from_rv);
                if (lbipam_pool_status_equal(&have, &want))
                        continue;
                r = lbipam_pool_status_body(obj, &want, &body);
                if (r < 0)
                        break;
                w = write_new(lb, true, p->name, obj->object.meta.resource_version);
                if (!w)
                        return -ENOMEM;
                w->status = want;
                r = source_merge_patch(lb->source, &kube_kind_ipaddresspool, obj->object.meta.namespace, p->name,
                                       "status", body, on_pool_written, w);
                if (r < 0) {
                        write_free(w);
                        break;
                }
                write_link(lb, w);
                rec->writing = true;
        }
        return r;
}

/* ---- the queue ------------------------------------------------------------------------- */

static int process(WorkQueue *q, const char *key, void *userdata) {
        Lbipam *lb = userdata;

        (void) q;
        if (!lb->started)
                return 0;
        if (streq(key, KEY_CONFIG))
                return config_reload(lb);
        if (strchr(key, '/'))
                return service_sync(lb, key);
        if (!lb->config)
                return 0; /* nothing is reconciled before the first valid configuration (§3) */
        if (streq(key, KEY_ALL))
                return reprocess(lb, false);
        if (streq(key, KEY_PENDING))
                return reprocess(lb, true);
        if (streq(key, KEY_POOLS))
                return pools_sync(lb);
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
        (void) old;
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

        if (svc->type != SERVICE_TYPE_LOAD_BALANCER || status_ip_count(svc) > 0)
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
        if (handled(p->lb, SERVICE(o)))
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
                write_unlink(lb, w);
                write_free(w);
        }
        lb->queue = workqueue_free(lb->queue);
        lb->recorder = event_recorder_free(lb->recorder);
        for (size_t i = 0; i < lb->n_svcs; i++)
                svc_free(lb->svcs[i]);
        free(lb->svcs);
        for (size_t i = 0; i < lb->n_pool_recs; i++) {
                free(lb->pool_recs[i].name);
                free(lb->pool_recs[i].written_from_rv);
        }
        free(lb->pool_recs);
        for (size_t i = 0; i < lb->n_forget_dropped; i++)
                free(lb->forget_dropped[i]);
        free(lb->forget_dropped);
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
