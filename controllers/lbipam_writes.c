/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "lbipam_writes.h"

static bool ips_contain(const IpAddr *ips, size_t n, const IpAddr *ip) {
        for (size_t i = 0; i < n; i++)
                if (ip_addr_equal(&ips[i], ip))
                        return true;
        return false;
}

/* The ingress IPs as a set; hostname-only entries do not count (§6). */
static bool ingress_equals(const Service *s, const LbDesired *d) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_ingress; i++) {
                IpAddr ip;
                if (!s->ingress[i].ip)
                        continue;
                if (ip_addr_parse(s->ingress[i].ip, &ip) < 0 || !ips_contain(d->ips, d->n_ips, &ip))
                        return false;
                n++;
        }
        return n == d->n_ips;
}

static ConditionStatus desired_status(const LbDesired *d) {
        return d->reason == LB_REASON_ALLOCATED ? CONDITION_TRUE : CONDITION_FALSE;
}

bool lbipam_service_needs_write(const Service *s, const LbDesired *d) {
        const StrMap *ann = &s->object.meta.annotations;
        const KubeCondition *c = conditions_find(&s->conditions, LBIPAM_CONDITION_TYPE);

        if (!ingress_equals(s, d))
                return true;
        if (!streq_ptr(strmap_get(ann, SERVICE_ANNOTATION_POOL_ALLOCATED), d->pool) ||
            strmap_get(ann, SERVICE_ANNOTATION_POOL_ALLOCATED_LEGACY))
                return true;
        if (d->reason == LB_REASON_NONE)
                return c != NULL;
        return !c || c->status != desired_status(d) || !streq_ptr(c->reason, lb_reason_to_string(d->reason)) ||
               !streq_ptr(c->message, d->message);
}

static const char *ip_mode_of(const Service *s, const char *ip) {
        for (size_t i = 0; i < s->n_ingress; i++)
                if (streq_ptr(s->ingress[i].ip, ip))
                        return s->ingress[i].ip_mode;
        return NULL;
}

int lbipam_service_status_body(const Service *s, const LbDesired *d, usec_t now, char **ret) {
        char ip_text[2][IP_ADDR_STRLEN];
        ServiceIngress ingress[2] = {};
        _cleanup_free_ KubeCondition *conds = new0(KubeCondition, s->conditions.n + 1);
        const KubeCondition *old = conditions_find(&s->conditions, LBIPAM_CONDITION_TYPE);
        _cleanup_(json_gen_freep) yajl_gen g = NULL;
        struct StrMapEntry pool_entry = { SERVICE_ANNOTATION_POOL_ALLOCATED, d->pool };
        Service copy = *s;
        size_t n = 0, len;
        int r;

        if (!conds)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_ips && i < 2; i++) {
                ingress[i].ip = (char *) ip_addr_format(&d->ips[i], ip_text[i]);
                ingress[i].ip_mode = ip_mode_of(s, ingress[i].ip);
        }
        /* the other controllers' conditions stay as they are, in place */
        for (size_t i = 0; i < s->conditions.n; i++) {
                if (&s->conditions.items[i] == old && d->reason == LB_REASON_NONE)
                        continue;
                conds[n++] = s->conditions.items[i];
        }
        if (d->reason != LB_REASON_NONE) {
                KubeCondition *c = old ? &conds[old - s->conditions.items] : &conds[n++];
                ConditionStatus st = desired_status(d);
                *c = (KubeCondition) {
                        .type = LBIPAM_CONDITION_TYPE,
                        .status = st,
                        .observed_generation = s->object.meta.generation,
                        .last_transition_time = old && old->status == st && old->last_transition_time
                                                        ? old->last_transition_time
                                                        : now,
                        .reason = lb_reason_to_string(d->reason),
                        .message = d->message,
                };
        }
        /* the encoder only reads: a shallow copy carries the new state */
        copy.n_ingress = d->n_ips;
        copy.ingress = ingress;
        copy.conditions = (KubeConditions) { .n = n, .items = conds };
        copy.object.meta.annotations = (StrMap) { .n = d->pool ? 1 : 0, .entries = &pool_entry };

        g = json_gen_new(false);
        if (!g)
                return -ENOMEM;
        r = service_status_patch_encode(&copy.object, g);
        if (r < 0)
                return r;
        return json_gen_take(g, ret, &len);
}

void lbipam_pool_status_compute(const LbPool *p, const LbAllocator *a, IPAddressPoolStatus *ret) {
        int64_t v4 = 0, v6 = 0;

        lb_allocator_pool_usage(a, p->name, &v4, &v6);
        *ret = (IPAddressPoolStatus) {
                .assigned_ipv4 = v4,
                .assigned_ipv6 = v6,
                .available_ipv4 = p->capacity_v4 - v4,
                .available_ipv6 = p->capacity_v6 - v6,
        };
}

bool lbipam_pool_status_equal(const IPAddressPoolStatus *a, const IPAddressPoolStatus *b) {
        return a->assigned_ipv4 == b->assigned_ipv4 && a->assigned_ipv6 == b->assigned_ipv6 &&
               a->available_ipv4 == b->available_ipv4 && a->available_ipv6 == b->available_ipv6;
}

int lbipam_pool_status_body(const IPAddressPool *p, const IPAddressPoolStatus *want, char **ret) {
        _cleanup_(json_gen_freep) yajl_gen g = json_gen_new(false);
        IPAddressPool copy = *p;
        size_t len;
        int r;

        if (!g)
                return -ENOMEM;
        copy.status = *want;
        r = p->object.kind->encode(&copy.object, g);
        if (r < 0)
                return r;
        return json_gen_take(g, ret, &len);
}

char *lbipam_dropped_note(const LbDropped *d, size_t n) {
        char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN];
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fprintf(f, "pool %s %s: ", d[0].pool,
                d[0].pool_deleted ? "deleted while IPs were in use by" : "change releases IPs in use by");
        for (size_t i = 0; i < n && i < LBIPAM_DROPPED_LISTED; i++) {
                fprintf(f, "%s%s (%s", i > 0 ? ", " : "", d[i].service,
                        d[i].n_ips > 0 ? ip_addr_format(&d[i].ips[0], a) : "");
                if (d[i].n_ips > 1)
                        fprintf(f, ", %s", ip_addr_format(&d[i].ips[1], b));
                fputc(')', f);
        }
        if (n > LBIPAM_DROPPED_LISTED)
                fprintf(f, " and %zu more", n - LBIPAM_DROPPED_LISTED);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

LbWriteOutcome lbipam_write_outcome(int error) {
        if (error >= 0)
                return LB_WRITE_DONE;
        if (error == -ENOENT)
                return LB_WRITE_GONE;
        if (error == -ESTALE)
                return LB_WRITE_CONFLICT;
        return LB_WRITE_RETRY;
}
