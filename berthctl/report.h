/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What berthctl shows, gathered once from a Source's caches (the cluster's
 * or a manifest directory's, after the controllers ran over it) and the
 * nodeport controller's /debug/nodeports document; render_table.c and
 * render_json.c print it.  Nothing here writes anything. */

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "lb_config.h"
#include "registry.h"
#include "source.h"

/* A pool at or above this use counts as a problem (exit 1). */
#define REPORT_POOL_FULL_PERCENT 90

typedef struct ReportPool {
        char *name;
        int64_t size;          /* capacity (lbipam.md §10), IPv4 + IPv6 */
        int64_t used;          /* distinct ingress IPs of handled Services inside the pool */
        bool status_written;   /* the pool has a status */
        int64_t status_used;   /* status.assignedIPv4 + assignedIPv6 */
} ReportPool;

typedef enum ReportAnnouncedFrom {
        REPORT_ANNOUNCED_NONE,     /* nobody announces the IP */
        REPORT_ANNOUNCED_LEASE,    /* a live speaker lease's berth.io/announcing claims it */
        REPORT_ANNOUNCED_ELECTION, /* computed by the L2 election (speaker.md §5) */
} ReportAnnouncedFrom;

typedef struct ReportIp {
        char *ip;
        char *node;            /* NULL when nobody announces it */
        ReportAnnouncedFrom from;
} ReportIp;

typedef struct ReportService {
        char *namespace, *name;
        size_t n_ips;
        ReportIp *ips;         /* status order */
        char *pool;            /* the pool of the first IP; NULL when none */
        size_t ready, not_ready; /* endpoints of its EndpointSlices, each target once */
} ReportService;

typedef struct ReportProblem {
        const char *kind;      /* "InvalidConfiguration", "PendingService", "PoolNearlyFull", or a node-port reason */
        char *object;          /* "ns/name", a pool name, or a node port */
        char *message;
        bool node_port;        /* a row of /debug/nodeports' "problems" */
} ReportProblem;

typedef struct Report {
        bool from_cluster;     /* status (true) or plan (false) */
        char *config_error;    /* NULL when the configuration is valid */
        size_t n_pools;
        ReportPool *pools;     /* by name */
        size_t n_services;
        ReportService *services; /* by namespace, then name */
        JsonDoc *nodeports;    /* the /debug/nodeports document; NULL without the controller */
        size_t n_problems;
        ReportProblem *problems;
} Report;

typedef struct ReportOptions {
        const char *lease_namespace;  /* --namespace: the speaker Leases */
        const char *config_namespace; /* pools and advertisements */
        const char *lb_class;         /* NULL: Services without a class */
        bool from_cluster;
} ReportOptions;

/* The caches a report reads, asked for now so that an API source starts
 * them before the caller waits for source_synced(). */
int report_watch(Source *s, const ReportOptions *o);
/* Gathers everything; nodeport may be NULL (no node-port section). */
int report_build(Source *s, const ReportOptions *o, Controller *nodeport, Report *ret);
void report_done(Report *r);

/* Internal steps (report_*.c), in this order. */
/* The configuration in force: valid, or else each piece that parses alone
 * (as the speaker does before any valid one, l2_view.h), with the error in
 * r->config_error; *ret NULL when nothing parses. */
int report_config(Source *s, const ReportOptions *o, Report *r, LbConfig **ret);
int report_services(Source *s, const ReportOptions *o, const LbConfig *c, Report *r);
int report_pools(Source *s, const ReportOptions *o, const LbConfig *c, Report *r);
int report_add_problem(Report *r, const char *kind, const char *object, const char *fmt, ...) _printf_(4, 5);
