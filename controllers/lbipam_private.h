/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the pieces of the lbipam controller share; included by lbipam*.c
 * only.  lbipam.c owns the life cycle, the caches' handlers, the work
 * queue and the metrics collector; lbipam_service.c one Service (its
 * record, events, status write, reconcile) and the passes of §13.2;
 * lbipam_pools.c the configuration (reload, install, its events) and the
 * pool status writes of §10.
 *
 * One work queue carries "ns/name" for one Service and four keys without
 * a slash: "config" (re-parse the configuration, then reprocess every
 * Service), "all" (reprocess every Service), "pending" (reprocess the
 * Services without IPs, after an address was freed) and "pools" (pool
 * status counters).  A pass of §13.2 runs inside one queue item, so
 * single-Service notifications arriving meanwhile wait for it.  The
 * allocator is decided synchronously by the reconcile; Service status
 * writes follow asynchronously, and a Service whose write is in flight (or
 * whose cache still shows the state the write replaced) is not reconciled
 * until its new state is seen. */

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "lbipam.h"
#include "lbipam_metrics.h"
#include "lbipam_reconcile.h"
#include "lbipam_writes.h"
#include "source_events.h"

#define KEY_CONFIG "config"
#define KEY_ALL "all"
#define KEY_PENDING "pending"
#define KEY_POOLS "pools"
#define KEY_MAX 512

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

/* What lbipam remembers about one pool's status write (§10). */
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
        LbSvc *svcs;                /* sorted by key */
        size_t n_pool_recs;
        PoolRec *pool_recs;
        bool pools_dirty;

        unsigned writes_in_flight;
        LbWrite *writes;            /* freed with the controller when never answered */
} Lbipam;

/* One status write in flight, Service or pool.  The controller lists them:
 * it is idle only when none is left, and frees those never answered. */
struct LbWrite {
        Lbipam *lb;
        LbWrite *prev, *next;
        bool pool;
        char *key;                  /* "ns/name", or the pool name */
        char *from_rv;
        IPAddressPoolStatus status;
};

static inline bool lbipam_handles(const Lbipam *lb, const Service *svc) {
        return lb_service_handled(svc, lb->lb_class);
}

/* lbipam.c: what Services and pools share */
int lbipam_strv_push(char ***v, size_t *n, const char *s);
void lbipam_strv_free(char **v, size_t n);
/* Logs the event and records it on ref. */
void lbipam_emit(Lbipam *lb, const EventObjectRef *ref, const char *type, const char *reason, const char *action,
                 const char *note);
/* A write of key's status replacing resourceVersion rv; link it once sent. */
LbWrite *lbipam_write_new(Lbipam *lb, bool pool, const char *key, const char *rv);
LbWrite *lbipam_write_free(LbWrite *w);
void lbipam_write_link(Lbipam *lb, LbWrite *w);
void lbipam_write_unlink(Lbipam *lb, LbWrite *w);
/* Requeues key with backoff after a failed write, up to a limit. */
void lbipam_write_retry(Lbipam *lb, const char *key);

/* lbipam_service.c */
size_t lbipam_status_ip_count(const Service *svc);
/* The queue key "ns/name": reconcile the Service, or release what it held. */
int lbipam_service_sync(Lbipam *lb, const char *key);
/* A pass of §13.2 over every handled Service, or those without IPs only. */
int lbipam_reprocess(Lbipam *lb, bool pending_only);
void lbipam_service_records_free(Lbipam *lb);

/* lbipam_pools.c */
/* The queue key "config": rebuild the configuration from the caches; a
 * valid one is installed and every Service reprocessed. */
int lbipam_config_reload(Lbipam *lb);
/* The queue key "pools": write the pool status counters that changed (§10). */
int lbipam_pools_sync(Lbipam *lb);
void lbipam_pool_records_free(Lbipam *lb);
