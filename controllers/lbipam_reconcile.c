/* SPDX-License-Identifier: Apache-2.0 */
/* The per-Service reconcile of lbipam.md §6, with the pool choice of §7,
 * sharing through the allocator (§8), the condition of §13.4, drain (§13.5)
 * and the Service-level NoL2Advertisement warning (§13.6).
 *
 * Unadvertised IPs, when both §13.6 rules would apply: a pool that no
 * L2Advertisement covers is reported once, in the Allocated condition
 * message (and by the pool's own NoL2Advertisement warning); the
 * Service-level warning is kept for a covered pool whose advertisements
 * all deselect the Service.  So a Service never gets two messages for one
 * unannounced IP. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbipam_reconcile.h"
#include "lbipam_request.h"
#include "log.h"
#include "macros.h"

static const char *const reason_names[_LB_REASON_MAX] = {
        [LB_REASON_ALLOCATED] = "Allocated",
        [LB_REASON_NO_POOL] = "NoPool",
        [LB_REASON_POOL_EXHAUSTED] = "PoolExhausted",
        [LB_REASON_NOT_ALLOWED] = "NotAllowed",
        [LB_REASON_SHARING_CONFLICT] = "SharingConflict",
        [LB_REASON_FAMILY_MISMATCH] = "FamilyMismatch",
        [LB_REASON_INVALID_REQUEST] = "InvalidRequest",
};

const char *lb_reason_to_string(LbReason r) {
        return r > LB_REASON_NONE && r < _LB_REASON_MAX ? reason_names[r] : NULL;
}

void lb_desired_done(LbDesired *d) {
        if (!d)
                return;
        free(d->message);
        for (size_t i = 0; i < d->n_events; i++)
                free(d->events[i].note);
        *d = (LbDesired) {};
}

/* ---- the §8 view of a Service ---- */

static int backend_key_of(const Service *s, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        /* §8: "" for Cluster; the selector, sorted by key (StrMap is), for Local. */
        if (s->external_traffic_policy != TRAFFIC_POLICY_LOCAL)
                return (*ret = strdup("")) ? 0 : -ENOMEM;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < s->selector.n; i++)
                fprintf(f, "%s%s=%s", i > 0 ? "," : "", s->selector.entries[i].key, s->selector.entries[i].value);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int lbipam_service_share(const Service *s, LbServiceShareOwned *ret) {
        _cleanup_free_ char *key = NULL, *backend = NULL;
        _cleanup_free_ LbPortPair *ports = NULL;
        int r;

        if (asprintf(&key, "%s/%s", strempty(s->object.meta.namespace), strempty(s->object.meta.name)) < 0) {
                key = NULL;
                return -ENOMEM;
        }
        if ((r = backend_key_of(s, &backend)) < 0)
                return r;
        if (s->n_ports > 0) {
                ports = new0(LbPortPair, s->n_ports);
                if (!ports)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_ports; i++)
                        ports[i] = (LbPortPair) { .protocol = s->ports[i].protocol, .port = s->ports[i].port };
        }
        *ret = (LbServiceShareOwned) {
                .share = {
                        .key = key,
                        .sharing_key = service_metallb_annotation(s, "allow-shared-ip", NULL),
                        .backend_key = backend,
                        .n_ports = s->n_ports,
                        .ports = ports,
                },
                .key = TAKE_PTR(key),
                .backend_key = TAKE_PTR(backend),
                .ports = TAKE_PTR(ports),
        };
        return 0;
}

void lbipam_service_share_done(LbServiceShareOwned *o) {
        if (!o)
                return;
        free(o->key);
        free(o->backend_key);
        free(o->ports);
        *o = (LbServiceShareOwned) {};
}

bool lbipam_status_ips(const Service *s, IpAddr ret[2], size_t *ret_n) {
        IpAddr ips[2] = {};
        size_t n = 0;

        for (size_t i = 0; i < s->n_ingress; i++) {
                const char *ip = s->ingress[i].ip;
                if (isempty(ip))
                        continue; /* hostname-only entries are ignored (§6) */
                if (n == 2 || ip_addr_parse(ip, &ips[n]) < 0)
                        return false;
                n++;
        }
        memcpy(ret, ips, n * sizeof(IpAddr));
        *ret_n = n;
        return true;
}

/* ---- one reconcile ---- */

typedef struct Reconcile {
        const LbReconcileContext *ctx;
        const LbConfig *config;
        LbAllocator *alloc;
        const Service *s;
        LbDesired *d;
        LbServiceShareOwned share;
        LbServiceAnnotations ann;
        LbRequest request;
        LbFamilies families;       /* primary first */
        bool prefer_dual;          /* PreferDualStack with two clusterIPs: 1 or 2 IPs */
        const LbPool *pool;        /* the pool the IPs in d come from */
} Reconcile;

static void reconcile_done(Reconcile *rc) {
        lbipam_service_share_done(&rc->share);
        lbipam_request_done(&rc->request);
}

static const StrMap *service_labels(const Service *s) {
        return &s->object.meta.labels;
}

_printf_(4, 5) static int emit(Reconcile *rc, const char *type, const char *reason, const char *fmt, ...) {
        LbDesired *d = rc->d;
        char *note = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = lb_vformat(&note, fmt, ap);
        va_end(ap);
        if (k < 0)
                return k;
        if (d->n_events >= LB_MAX_EVENTS) {
                /* Cannot happen with the steps of §6 (at most 7); never lose memory over it. */
                log_debug("lbipam: dropping event %s for %s: %s", reason, rc->share.key, note);
                free(note);
                return 0;
        }
        d->events[d->n_events++] = (LbEvent) { .type = type, .reason = reason, .note = note };
        return 0;
}

_printf_(3, 4) static int set_condition(Reconcile *rc, LbReason reason, const char *fmt, ...) {
        char *message = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = lb_vformat(&message, fmt, ap);
        va_end(ap);
        if (k < 0)
                return k;
        free(rc->d->message);
        rc->d->message = message;
        rc->d->reason = reason;
        return 0;
}

/* "Clear" of §6: release, drop the IPs and the pool annotation. */
static void clear(Reconcile *rc) {
        lb_allocator_release(rc->alloc, rc->share.key);
        rc->d->n_ips = 0;
        rc->d->pool = NULL;
        rc->pool = NULL;
}

/* A failed step: the error text and the §13.4 reason it maps to. */
typedef struct Failure {
        LbReason reason;
        char *error;
        const char *condition; /* the condition message when it is not the error (§13.4 NoPool) */
} Failure;

static void failure_done(Failure *f) {
        free(f->error);
        *f = (Failure) {};
}

_printf_(3, 4) static int fail(Failure *f, LbReason reason, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = lb_vformat(&f->error, fmt, ap);
        va_end(ap);
        if (k < 0)
                return k;
        f->reason = reason;
        return -EINVAL;
}

static int fail_ip_list(Failure *f, LbReason reason, const char *prefix, const IpAddr *ips, size_t n,
                        const char *suffix) {
        _cleanup_free_ char *list = lb_format_ip_list(ips, n);
        if (!list)
                return -ENOMEM;
        return fail(f, reason, "%s%s%s", prefix, list, suffix);
}

/* §7.3: may the Service take exactly these IPs?  0 with the pool, -EINVAL
 * with *f, -ENOMEM.  revalidation: the IPs are already in the Service's
 * status, which is the only way through a draining pool. */
static int given_check(Reconcile *rc, const IpAddr *ips, size_t n, bool revalidation, const LbPool **ret_pool,
                       Failure *f) {
        const LbPool *p;

        if (n > 2)
                return fail_ip_list(f, LB_REASON_NOT_ALLOWED, "more than two addresses ", ips, n, "");
        if (n == 2 && ips[0].family == ips[1].family) {
                char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN];
                return fail(f, LB_REASON_NOT_ALLOWED, "\"%s\" \"%s\" has the same family", ip_addr_format(&ips[0], a),
                            ip_addr_format(&ips[1], b));
        }
        p = n > 0 ? lb_config_pool_of(rc->config, &ips[0]) : NULL;
        for (size_t i = 1; p && i < n; i++)
                if (lb_config_pool_of(rc->config, &ips[i]) != p)
                        p = NULL;
        if (!p)
                return fail_ip_list(f, LB_REASON_NOT_ALLOWED, "", ips, n, " is not allowed in config");
        if (!lb_pool_compatible(p, rc->s->object.meta.namespace, service_labels(rc->s)))
                return fail(f, LB_REASON_NOT_ALLOWED, "pool %s not compatible for ip assignment", p->name);
        if (p->draining && !revalidation)
                return fail(f, LB_REASON_NOT_ALLOWED, "pool %s is draining", p->name);
        for (size_t i = 0; i < n; i++) {
                char *error = NULL;
                int k = lb_allocator_check_share(rc->alloc, &ips[i], &rc->share.share, &error);
                if (k == -EBUSY) {
                        f->reason = LB_REASON_SHARING_CONFLICT;
                        f->error = error;
                        return -EINVAL;
                }
                if (k < 0)
                        return k;
        }
        *ret_pool = p;
        return 0;
}

/* Puts ips into ingress order (primary family first), records them in the
 * allocator and in the desired state. */
static int take(Reconcile *rc, const LbPool *p, const IpAddr *ips, size_t n) {
        IpAddr ordered[2];
        int k;

        memcpy(ordered, ips, n * sizeof(IpAddr));
        if (n == 2 && ordered[0].family != rc->families.family[0]) {
                ordered[0] = ips[1];
                ordered[1] = ips[0];
        }
        k = lb_allocator_assign(rc->alloc, &rc->share.share, p, ordered, n);
        if (k < 0)
                return k;
        memcpy(rc->d->ips, ordered, n * sizeof(IpAddr));
        rc->d->n_ips = n;
        rc->d->pool = p->name;
        rc->pool = p;
        return 0;
}

/* What a pool must give: `n` families, primary first; partial_ok accepts
 * any one of them (PreferDualStack with two clusterIPs). */
typedef struct Want {
        size_t n;
        IpFamily family[2];
        bool partial_ok;
} Want;

static Want want_of_service(const Reconcile *rc) {
        return (Want) {
                .n = rc->families.n,
                .family = { rc->families.family[0], rc->families.family[1] },
                .partial_ok = rc->prefer_dual,
        };
}

/* The first free address of each wanted family in p; returns how many
 * families were found, the addresses in *ret (want order, missing ones
 * skipped). */
static size_t pool_free(const Reconcile *rc, const LbPool *p, const Want *w, IpAddr ret[2], bool found[2]) {
        size_t n = 0;
        for (size_t i = 0; i < w->n; i++) {
                found[i] = lb_allocator_first_free(rc->alloc, p, w->family[i], &rc->share.share, &ret[n]) >= 0;
                n += found[i];
        }
        return n;
}

static bool pool_fits(const Want *w, size_t n_found) {
        return n_found == w->n || (w->partial_ok && n_found > 0);
}

/* §7.2 for a named pool (annotation, or the second family of step 6). */
static int pool_take(Reconcile *rc, const LbPool *p, const Want *w, Failure *f) {
        IpAddr ips[2], any;
        bool found[2] = {};
        size_t n = pool_free(rc, p, w, ips, found);

        if (pool_fits(w, n))
                return take(rc, p, ips, n);
        /* "no free address at all" looks at both families, wanted or not. */
        if (lb_allocator_first_free(rc->alloc, p, IP_FAMILY_V4, &rc->share.share, &any) < 0 &&
            lb_allocator_first_free(rc->alloc, p, IP_FAMILY_V6, &rc->share.share, &any) < 0)
                return fail(f, LB_REASON_POOL_EXHAUSTED, "no available IPs in pool %s", p->name);
        for (size_t i = 0; i < w->n; i++)
                if (!found[i])
                        return fail(f, LB_REASON_POOL_EXHAUSTED, "no available %s addresses in pool %s",
                                    ip_family_to_string(w->family[i]), p->name);
        return fail(f, LB_REASON_POOL_EXHAUSTED, "no available IPs in pool %s", p->name);
}

static bool pool_eligible(const Reconcile *rc, const LbPool *p) {
        return p->auto_assign && !p->draining &&
               lb_pool_compatible(p, rc->s->object.meta.namespace, service_labels(rc->s));
}

/* Tier 1 order of §7.1: non-zero priorities ascending, then 0; equal
 * priority by name (the config's order, which qsort is not asked to keep). */
static int pinned_compare(const void *a, const void *b) {
        const LbPool *x = *(const LbPool *const *) a, *y = *(const LbPool *const *) b;
        if ((x->priority == 0) != (y->priority == 0))
                return x->priority == 0 ? 1 : -1;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* One walk of a tier: the first pool where `w` fits. */
static int tier_walk(Reconcile *rc, const LbPool *const *tier, size_t n, const Want *w, bool *ret_done) {
        for (size_t i = 0; i < n; i++) {
                IpAddr ips[2];
                bool found[2] = {};
                size_t k = pool_free(rc, tier[i], w, ips, found);
                if (pool_fits(w, k)) {
                        *ret_done = true;
                        return take(rc, tier[i], ips, k);
                }
        }
        *ret_done = false;
        return 0;
}

/* PreferDualStack with two clusterIPs: both families, else (second pass)
 * the primary, else the secondary (§7.1).  Others: one pass. */
static int tier_allocate(Reconcile *rc, const LbPool *const *tier, size_t n, bool *ret_done) {
        Want w = want_of_service(rc);
        int k;

        w.partial_ok = false;
        k = tier_walk(rc, tier, n, &w, ret_done);
        if (k < 0 || *ret_done || !rc->prefer_dual)
                return k;
        for (size_t i = 0; i < 2; i++) {
                Want one = { .n = 1, .family = { rc->families.family[i] } };
                k = tier_walk(rc, tier, n, &one, ret_done);
                if (k < 0 || *ret_done)
                        return k;
        }
        return 0;
}

/* §7.1 and the §13.4 reason of its failure. */
static int allocate_automatic(Reconcile *rc, Failure *f) {
        _cleanup_free_ const LbPool **pinned = NULL, **plain = NULL;
        size_t n_pinned = 0, n_plain = 0;
        bool done = false, any_family = false;
        Want w = want_of_service(rc);
        int k;

        pinned = new0(const LbPool *, rc->config->n_pools + 1);
        plain = new0(const LbPool *, rc->config->n_pools + 1);
        if (!pinned || !plain)
                return -ENOMEM;
        for (size_t i = 0; i < rc->config->n_pools; i++) {
                const LbPool *p = &rc->config->pools[i];
                size_t has = 0;
                if (!pool_eligible(rc, p))
                        continue;
                if (p->has_service_allocation)
                        pinned[n_pinned++] = p;
                else
                        plain[n_plain++] = p; /* the config is sorted by name already */
                for (size_t j = 0; j < w.n; j++)
                        has += lb_pool_has_family(p, w.family[j]);
                any_family = any_family || pool_fits(&w, has);
        }
        qsort(pinned, n_pinned, sizeof(*pinned), pinned_compare);

        k = tier_allocate(rc, pinned, n_pinned, &done);
        if (k >= 0 && !done)
                k = tier_allocate(rc, plain, n_plain, &done);
        if (k < 0 || done)
                return k;
        /* §13.4: exhausted when some eligible pool could ever serve this family. */
        if (any_family)
                return fail(f, LB_REASON_POOL_EXHAUSTED, "no available IPs");
        f->condition = "no IPAddressPool is eligible for this service (autoAssign, not draining, compatible)";
        return fail(f, LB_REASON_NO_POOL, "no available IPs");
}

static bool request_matches_family(const Reconcile *rc) {
        LbFamilies req;
        lb_families_of(rc->request.ips, rc->request.n_ips, &req);
        if (req.n == 0)
                return false;
        if (rc->prefer_dual)
                return true; /* 1 or 2 addresses, and the Service has both families */
        return lb_families_equal(&req, &rc->families);
}

/* Step 7 item 1: the requested IPs. */
static int allocate_requested(Reconcile *rc, Failure *f) {
        const LbPool *p = NULL;
        int k;

        if (!request_matches_family(rc))
                return fail_ip_list(f, LB_REASON_FAMILY_MISMATCH, "requested loadBalancer IP(s) ", rc->request.ips,
                                    rc->request.n_ips, " does not match the ipFamily of the service");
        k = given_check(rc, rc->request.ips, rc->request.n_ips, false, &p, f);
        if (k < 0)
                return k;
        if (rc->ann.address_pool && !streq(rc->ann.address_pool, p->name)) {
                _cleanup_free_ char *suffix = NULL;
                if (asprintf(&suffix, " is not compatible with requested address pool %s", rc->ann.address_pool) < 0)
                        return -ENOMEM;
                return fail_ip_list(f, LB_REASON_NOT_ALLOWED, "requested loadBalancer IP(s) ", rc->request.ips,
                                    rc->request.n_ips, suffix);
        }
        return take(rc, p, rc->request.ips, rc->request.n_ips);
}

/* Step 7 item 2: the address-pool annotation. */
static int allocate_from_named_pool(Reconcile *rc, Failure *f) {
        const LbPool *p = lb_config_find_pool(rc->config, rc->ann.address_pool);
        Want w = want_of_service(rc);

        if (!p) {
                _cleanup_free_ char *q = lb_config_go_quote(rc->ann.address_pool);
                return q ? fail(f, LB_REASON_NO_POOL, "unknown pool %s", q) : -ENOMEM;
        }
        /* autoAssign is not checked: it is not an access control (§7.3). */
        if (!lb_pool_compatible(p, rc->s->object.meta.namespace, service_labels(rc->s)))
                return fail(f, LB_REASON_NOT_ALLOWED, "pool %s not compatible for ip assignment", p->name);
        if (p->draining)
                return fail(f, LB_REASON_NOT_ALLOWED, "pool %s is draining", p->name);
        return pool_take(rc, p, &w, f);
}

/* Step 7. */
static int allocate(Reconcile *rc) {
        _cleanup_(failure_done) Failure f = {};
        _cleanup_free_ char *list = NULL, *key = NULL;
        int k;

        /* No status IPs here: whatever the allocator still holds for the
         * Service is an earlier decision that was never written.  Drop it,
         * so that a retry picks the same first free address again. */
        clear(rc);
        if (rc->ctx->phase1) {
                rc->d->deferred = true; /* §13.2: never allocate in phase 1 */
                return 0;
        }

        if (rc->request.present && rc->request.invalid) {
                if ((k = emit(rc, "Warning", "LoadBalancerFailed", "invalid requested loadbalancer IPs: %s",
                              rc->request.invalid)) < 0)
                        return k;
                return set_condition(rc, LB_REASON_INVALID_REQUEST, "invalid requested loadbalancer IPs: %s",
                                     rc->request.invalid);
        }
        if (rc->request.present)
                k = allocate_requested(rc, &f);
        else if (rc->ann.address_pool)
                k = allocate_from_named_pool(rc, &f);
        else
                k = allocate_automatic(rc, &f);
        if (k == -EINVAL) {
                key = lb_config_go_quote(rc->share.key);
                if (!key)
                        return -ENOMEM;
                if ((k = emit(rc, "Warning", "AllocationFailed", "Failed to allocate IP for %s: %s", key, f.error)) < 0)
                        return k;
                return set_condition(rc, f.reason, "%s", f.condition ?: f.error);
        }
        if (k < 0)
                return k;
        list = lb_format_ip_list(rc->d->ips, rc->d->n_ips);
        if (!list)
                return -ENOMEM;
        return emit(rc, "Normal", "IPAllocated", "Assigned IP %s", list);
}

/* Step 6: the second family of a PreferDualStack Service, from its pool. */
static int second_family(Reconcile *rc) {
        _cleanup_(failure_done) Failure f = {};
        const LbPool *p = rc->pool;
        IpAddr held = rc->d->ips[0];
        Want w = { .n = 1, .family = { held.family == IP_FAMILY_V4 ? IP_FAMILY_V6 : IP_FAMILY_V4 } };
        IpAddr extra, both[2];
        bool found = false;
        int k;

        if (p->draining)
                k = fail(&f, LB_REASON_NOT_ALLOWED, "pool %s is draining", p->name);
        else if ((found = lb_allocator_first_free(rc->alloc, p, w.family[0], &rc->share.share, &extra) >= 0)) {
                both[0] = held;
                both[1] = extra;
                k = take(rc, p, both, 2);
        } else {
                /* For the texts of §7.2 only: nothing is taken when this fails. */
                k = pool_take(rc, p, &w, &f);
        }
        if (k == -EINVAL) {
                _cleanup_free_ char *key = lb_config_go_quote(rc->share.key);
                if (!key)
                        return -ENOMEM;
                return emit(rc, "Normal", "AdditionalAssignFailed", "Failed to allocate additional IP for %s: %s", key,
                            f.error);
        }
        if (k < 0)
                return k;
        if (found) {
                char buf[IP_ADDR_STRLEN];
                return emit(rc, "Normal", "IPAllocated", "Assigned additional IP \"%s\"", ip_addr_format(&extra, buf));
        }
        return 0;
}

/* Step 5.  Returns 1 when the IPs survive, 0 when they were cleared. */
static int revalidate(Reconcile *rc, const IpAddr *ips, size_t n, bool parsed) {
        _cleanup_(failure_done) Failure f = {};
        LbFamilies status;
        const LbPool *p = NULL;
        int k;

        lb_families_of(ips, n, &status);
        if (!parsed || status.n == 0) { /* 5.1 */
                _cleanup_free_ const char **raw = new0(const char *, rc->s->n_ingress + 1);
                _cleanup_free_ char *list = NULL;
                size_t n_raw = 0;
                if (!raw)
                        return -ENOMEM;
                for (size_t i = 0; i < rc->s->n_ingress; i++)
                        if (!isempty(rc->s->ingress[i].ip))
                                raw[n_raw++] = rc->s->ingress[i].ip;
                list = lb_format_string_list(raw, n_raw);
                if (!list)
                        return -ENOMEM;
                clear(rc);
                k = emit(rc, "Warning", "nolbIPsIPFamily", "cannot determine the IP family of status IPs %s", list);
                return k < 0 ? k : 0;
        }
        if (!lb_families_equal(&status, &rc->families) && !rc->prefer_dual) { /* 5.2 */
                clear(rc);
                return 0;
        }
        k = given_check(rc, ips, n, true, &p, &f); /* 5.3 */
        if (k == -EINVAL) {
                _cleanup_free_ char *key = lb_config_go_quote(rc->share.key);
                if (!key)
                        return -ENOMEM;
                clear(rc);
                rc->d->status_ips_rejected = true;
                k = emit(rc, "Normal", "ClearAssignment",
                         "current IP for %s not allowed by config, will attempt for new IP assignment: %s", key, f.error);
                return k < 0 ? k : 0;
        }
        if (k < 0 || (k = take(rc, p, ips, n)) < 0)
                return k;
        if (rc->ann.address_pool && !streq(rc->ann.address_pool, p->name)) { /* 5.4 */
                clear(rc);
                return 0;
        }
        if (rc->request.present && !rc->request.invalid) { /* 5.5: compared as sets */
                bool same = rc->request.n_ips == n;
                for (size_t i = 0; same && i < rc->request.n_ips; i++) {
                        bool found = false;
                        for (size_t j = 0; j < n; j++)
                                found = found || ip_addr_equal(&rc->request.ips[i], &ips[j]);
                        same = found;
                }
                if (!same) {
                        clear(rc);
                        return 0;
                }
        }
        return 1;
}

static int finish_allocated(Reconcile *rc) {
        LbDesired *d = rc->d;
        _cleanup_free_ char *list = lb_format_ip_list(d->ips, d->n_ips);
        int k;

        if (!list)
                return -ENOMEM;
        if (!rc->pool->covered)
                return set_condition(rc, LB_REASON_ALLOCATED,
                                     "IP %s from pool \"%s\"; pool \"%s\" has no L2Advertisement, nothing announces this IP",
                                     list, rc->pool->name, rc->pool->name);
        if ((k = set_condition(rc, LB_REASON_ALLOCATED, "IP %s from pool \"%s\"", list, rc->pool->name)) < 0)
                return k;
        if (lb_config_service_covered(rc->config, rc->pool, service_labels(rc->s)))
                return 0;
        for (size_t i = 0; i < d->n_ips; i++) {
                char buf[IP_ADDR_STRLEN];
                if ((k = emit(rc, "Warning", "NoL2Advertisement",
                              "IP \"%s\" from pool %s is not covered by any L2Advertisement; nothing will announce it",
                              ip_addr_format(&d->ips[i], buf), rc->pool->name)) < 0)
                        return k;
        }
        return 0;
}

static int cluster_ips_text(const Service *s, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        /* Go's %v of a []string: [a b]. */
        if (!f)
                return -ENOMEM;
        fputc('[', f);
        for (size_t i = 0; i < s->cluster_ips.n; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", s->cluster_ips.items[i]);
        fputc(']', f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static int reconcile_steps(Reconcile *rc) {
        const Service *s = rc->s;
        IpAddr ips[2];
        size_t n = 0;
        bool parsed, has_ips = false;
        int k;

        if (s->type != SERVICE_TYPE_LOAD_BALANCER) { /* step 1 */
                clear(rc);
                return 0;
        }
        if (rc->config->n_pools == 0) { /* step 2 */
                clear(rc);
                return set_condition(rc, LB_REASON_NO_POOL, "no IPAddressPool is configured");
        }
        lbipam_service_families(s, &rc->families);
        if (rc->families.n == 0) { /* step 3: no usable clusterIP */
                clear(rc);
                return 0;
        }
        rc->prefer_dual = s->ip_family_policy == IP_FAMILY_POLICY_PREFER_DUAL_STACK && rc->families.n == 2;

        lbipam_service_annotations(s, &rc->ann);
        for (size_t i = 0; i < rc->ann.n_deprecated; i++)
                if ((k = emit(rc, "Warning", "deprecatedAnnotation", "Service uses deprecated annotation %s",
                              rc->ann.deprecated[i])) < 0)
                        return k;

        if (s->ip_family_policy == IP_FAMILY_POLICY_REQUIRE_DUAL_STACK && s->cluster_ips.n < 2) { /* step 4 */
                _cleanup_free_ char *text = NULL;
                if ((k = cluster_ips_text(s, &text)) < 0)
                        return k;
                clear(rc);
                if ((k = emit(rc, "Warning", "not enough clusterips",
                              "Service requires dual stack but not enough clusterips %s", text)) < 0)
                        return k;
                return set_condition(rc, LB_REASON_FAMILY_MISMATCH,
                                     "Service requires dual stack but not enough clusterips %s", text);
        }

        if ((k = lbipam_request_parse(s, &rc->request)) < 0)
                return k;
        for (size_t i = 0; i < s->n_ingress; i++)
                has_ips = has_ips || !isempty(s->ingress[i].ip);
        parsed = lbipam_status_ips(s, ips, &n);

        if (has_ips) { /* step 5 */
                k = revalidate(rc, ips, n, parsed);
                if (k < 0)
                        return k;
                if (k > 0 && rc->request.present && rc->request.invalid) { /* 5.6: keep, go to step 8 */
                        if ((k = emit(rc, "Warning", "LoadBalancerFailed", "invalid requested loadbalancer IPs: %s",
                                      rc->request.invalid)) < 0)
                                return k;
                        return finish_allocated(rc);
                }
        }

        if (rc->d->n_ips == 1 && rc->prefer_dual && !rc->request.present) { /* step 6 */
                if (rc->ctx->phase1)
                        /* A new address now could take one that a holder
                         * re-validated later in phase 1 still owns: upgrade
                         * in phase 2 instead (the IPs are kept). */
                        rc->d->deferred = true;
                else if ((k = second_family(rc)) < 0)
                        return k;
        }

        if (rc->d->n_ips == 0 && (k = allocate(rc)) < 0) /* step 7 */
                return k;
        if (rc->d->n_ips > 0)
                return finish_allocated(rc);
        return 0;
}

int lbipam_reconcile(const LbReconcileContext *ctx, const Service *s, LbDesired *ret) {
        LbDesired d = {};
        Reconcile rc = {
                .ctx = ctx,
                .config = ctx->config,
                .alloc = ctx->alloc,
                .s = s,
                .d = &d,
        };
        int k;

        k = lbipam_service_share(s, &rc.share);
        if (k >= 0)
                k = reconcile_steps(&rc);
        reconcile_done(&rc);
        if (k < 0) {
                lb_desired_done(&d);
                return k;
        }
        *ret = d;
        return 0;
}
