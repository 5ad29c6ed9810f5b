/* SPDX-License-Identifier: Apache-2.0 */
/* One Service in the lbipam controller (lbipam.md §4-§6, §11, §13.2): the
 * record kept besides the allocator, the events of an outcome, the status
 * write and its answer, the reconcile of one Service, and the ordered
 * passes over all of them that a configuration change or a freed address
 * starts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lbipam_private.h"
#include "log.h"

/* ---- Service records -------------------------------------------------------- */

static void emitted_clear(LbSvc *s) {
        for (size_t i = 0; i < s->n_emitted; i++) {
                free(s->emitted[i].reason);
                free(s->emitted[i].note);
        }
        s->emitted = mfree(s->emitted);
        s->n_emitted = 0;
}

static void svc_done(LbSvc *s) {
        emitted_clear(s);
        lbipam_strv_free(s->deprecated, s->n_deprecated);
        free(s->written_from_rv);
        free(s->key);
}

void lbipam_service_records_free(Lbipam *lb) {
        for (size_t i = 0; i < lb->n_svcs; i++)
                svc_done(&lb->svcs[i]);
        lb->svcs = mfree(lb->svcs);
        lb->n_svcs = 0;
}

/* The record of key, or NULL.  Records live in one array: a pointer to one
 * is good until the next svc_get_or_add() or svc_remove(). */
static LbSvc *svc_find(Lbipam *lb, const char *key) {
        size_t i = SORTED_LOWER_BOUND(lb->svcs, lb->n_svcs, key, key);
        return i < lb->n_svcs && streq(lb->svcs[i].key, key) ? &lb->svcs[i] : NULL;
}

static int svc_get_or_add(Lbipam *lb, const char *key, LbSvc **ret) {
        size_t i = SORTED_LOWER_BOUND(lb->svcs, lb->n_svcs, key, key);
        _cleanup_free_ char *copy = NULL;
        LbSvc *v;

        if (i < lb->n_svcs && streq(lb->svcs[i].key, key)) {
                *ret = &lb->svcs[i];
                return 0;
        }
        copy = strdup(key);
        if (!copy)
                return -ENOMEM;
        v = reallocarray(lb->svcs, lb->n_svcs + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        lb->svcs = v;
        memmove(&v[i + 1], &v[i], (lb->n_svcs - i) * sizeof(*v));
        v[i] = (LbSvc) { .key = TAKE_PTR(copy) };
        lb->n_svcs++;
        *ret = &v[i];
        return 0;
}

static void svc_remove(Lbipam *lb, const char *key) {
        LbSvc *s = svc_find(lb, key);
        size_t i;

        if (!s)
                return;
        i = (size_t) (s - lb->svcs);
        svc_done(s);
        memmove(s, s + 1, (lb->n_svcs - i - 1) * sizeof(*s));
        lb->n_svcs--;
}

static bool strv_contains(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

/* ---- events ------------------------------------------------------------------------ */

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
                        r = lbipam_strv_push(&rec->deprecated, &rec->n_deprecated, e->note);
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
                lbipam_emit(lb, &ref, e->type, e->reason, LBIPAM_ACTION_ALLOCATE, e->note);
        }
        emitted_clear(rec);
        rec->emitted = now;
        rec->n_emitted = n;
        return r;
}

/* ---- the status write ------------------------------------------------------------------ */

static void on_service_written(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        LbWrite *w = userdata;
        Lbipam *lb = w->lb;
        LbSvc *rec = svc_find(lb, w->key);
        bool dirty = rec && rec->dirty;

        (void) stored;
        lbipam_write_unlink(lb, w);
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
                lbipam_write_retry(lb, w->key);
                break;
        case LB_WRITE_RETRY:
                log_warning("service %s: cannot write the load-balancer status: %s", w->key,
                            status && status->message ? status->message : strerror(-error));
                lbipam_write_retry(lb, w->key);
                break;
        }
        lbipam_write_free(w);
}

static int service_write(Lbipam *lb, LbSvc *rec, const Service *svc, const LbDesired *d) {
        const ObjectMeta *m = &svc->object.meta;
        _cleanup_free_ char *body = NULL;
        LbWrite *w;
        int r;

        r = lbipam_service_status_body(svc, d, source_now(lb->source), &body);
        if (r < 0)
                return r;
        w = lbipam_write_new(lb, false, rec->key, m->resource_version);
        if (!w)
                return -ENOMEM;
        r = source_merge_patch(lb->source, &kube_kind_service, m->namespace, m->name, "status", body,
                               on_service_written, w);
        if (r < 0) {
                lbipam_write_free(w);
                return r;
        }
        lbipam_write_link(lb, w);
        rec->writing = true;
        return 0;
}

/* ---- one Service ------------------------------------------------------------------ */

size_t lbipam_status_ip_count(const Service *svc) {
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

int lbipam_service_sync(Lbipam *lb, const char *key) {
        char ns[KEY_MAX], name[KEY_MAX];
        const char *slash = strchr(key, '/');
        const Service *svc;
        int r = 0;

        if (!slash || (size_t) (slash - key) >= KEY_MAX || strlen(slash + 1) >= KEY_MAX)
                return 0;
        memcpy(ns, key, (size_t) (slash - key));
        ns[slash - key] = '\0';
        strcpy(name, slash + 1);

        svc = SERVICE(cache_get(lb->services, ns, name));
        if (!svc || !lbipam_handles(lb, svc)) {
                /* gone, or no longer ours: released here, never touched (§4) */
                LbSvc *rec = svc_find(lb, key);
                if (rec && rec->writing) {
                        rec->dirty = true;
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
        size_t n = lbipam_status_ip_count(svc);

        if (!lbipam_handles(c->lb, svc) || (n > 0 && c->pending_only))
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
int lbipam_reprocess(Lbipam *lb, bool pending_only) {
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
