/* SPDX-License-Identifier: Apache-2.0 */
/* The lbipam configuration and the pools (lbipam.md §3, §9, §10, §13.5,
 * §13.6, §13.8): the configuration is re-parsed from the caches on every
 * change; an invalid one is reported (ConfigInvalid) and the last valid one
 * kept, a valid one is installed into the allocator with the events of its
 * transitions, and then every Service is reprocessed.  Each pool's status
 * counters are written after the Services settle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbipam_private.h"
#include "log.h"

/* ---- pool records ------------------------------------------------------------------------ */

static void pool_rec_done(PoolRec *p) {
        free(p->name);
        free(p->written_from_rv);
}

void lbipam_pool_records_free(Lbipam *lb) {
        lbipam_strv_free(lb->forget_dropped, lb->n_forget_dropped);
        lb->forget_dropped = NULL;
        lb->n_forget_dropped = 0;
        for (size_t i = 0; i < lb->n_pool_recs; i++)
                pool_rec_done(&lb->pool_recs[i]);
        lb->pool_recs = mfree(lb->pool_recs);
        lb->n_pool_recs = 0;
}

/* The record of pool name, added when missing; NULL when out of memory. */
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

static EventObjectRef pool_ref(const IPAddressPool *p) {
        return (EventObjectRef) {
                .api_version = p->object.kind->api_version,
                .kind = p->object.kind->kind,
                .namespace = p->object.meta.namespace,
                .name = p->object.meta.name,
                .uid = p->object.meta.uid,
        };
}

/* ---- configuration (§3, §9, §13.5, §13.6, §13.8) ------------------------------------ */

typedef struct ObjVec {
        size_t n, cap;
        KubeObject **v;
} ObjVec;

static int collect_object(KubeObject *o, void *userdata) {
        ObjVec *v = userdata;
        if (v->n == v->cap)
                return -ENOBUFS; /* the cache grew while iterated: never, its handlers only queue keys */
        v->v[v->n++] = o;
        return 0;
}

/* The objects of one cache, not referenced: the configuration is built from
 * them before the cache can change.  The caller frees *ret only. */
static int cache_objects(const Cache *c, KubeObject ***ret, size_t *ret_n) {
        size_t n = cache_size(c);
        _cleanup_free_ KubeObject **v = new0(KubeObject *, n + 1);
        ObjVec vec = { .cap = n, .v = v };
        int r = v ? cache_foreach(c, NULL, collect_object, &vec) : -ENOMEM;

        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        *ret_n = vec.n;
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
                lbipam_emit(lb, &ref, "Warning", "ConfigInvalid", LBIPAM_ACTION_VALIDATE, e->message);
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
                        lbipam_emit(lb, &ref, "Normal", p->draining ? "PoolDraining" : "PoolDrainCleared",
                             LBIPAM_ACTION_POOL, note);
                }
                if (!p->covered && (!was || was->covered)) {
                        (void) snprintf(note, sizeof(note),
                                        "no L2Advertisement covers pool %s; IPs assigned from it will not be announced",
                                        p->name);
                        lbipam_emit(lb, &ref, "Warning", "NoL2Advertisement", LBIPAM_ACTION_POOL, note);
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
                r = lbipam_strv_push(&lb->forget_dropped, &lb->n_forget_dropped, d[0].pool);
                if (r < 0)
                        return r;
        }
        if (obj) {
                /* a deleted pool's event goes to its last known object */
                EventObjectRef ref = pool_ref(obj);
                lbipam_emit(lb, &ref, "Warning", "AllocationsDropped", LBIPAM_ACTION_POOL, note);
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
                        pool_rec_done(p);
                        memmove(p, p + 1, (lb->n_pool_recs - i) * sizeof(PoolRec));
                        lb->n_pool_recs--;
                }
        if (r < 0)
                return r;
        return lbipam_reprocess(lb, false);
}

int lbipam_config_reload(Lbipam *lb) {
        _cleanup_free_ KubeObject **pools = NULL, **ads = NULL, **nss = NULL;
        LbConfigInput in = {};
        LbConfigError err = {};
        LbConfig *cfg = NULL;
        int r;

        if ((r = cache_objects(lb->pools, &pools, &in.n_pools)) < 0 ||
            (r = cache_objects(lb->advertisements, &ads, &in.n_advertisements)) < 0 ||
            (r = cache_objects(lb->namespaces, &nss, &in.n_namespaces)) < 0)
                return r;
        in.pools = pools;
        in.advertisements = ads;
        in.namespaces = nss;
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
        lbipam_write_unlink(lb, w);
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
                lbipam_write_retry(lb, KEY_POOLS);
        else if (lb->pools_dirty) {
                lb->pools_dirty = false;
                (void) workqueue_add(lb->queue, KEY_POOLS);
        }
        lbipam_write_free(w);
}

int lbipam_pools_sync(Lbipam *lb) {
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
                w = lbipam_write_new(lb, true, p->name, obj->object.meta.resource_version);
                if (!w)
                        return -ENOMEM;
                w->status = want;
                r = source_merge_patch(lb->source, &kube_kind_ipaddresspool, obj->object.meta.namespace, p->name,
                                       "status", body, on_pool_written, w);
                if (r < 0) {
                        lbipam_write_free(w);
                        break;
                }
                lbipam_write_link(lb, w);
                rec->writing = true;
        }
        return r;
}
