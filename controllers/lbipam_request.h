/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What a Service asks lbipam for (lbipam.md §5): the metallb annotations
 * (with the deprecated prefix noted), the requested IPs with the exact
 * invalid-request detail texts, and the Service's IP families.  Pure
 * reading of a decoded Service; the reconcile decides what to do. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macros.h"
#include "net.h"
#include "service.h"

/* The three annotations of §5 (pool allocation, written by berth, is not a
 * request).  Values point into the Service; NULL when absent or empty. */
typedef struct LbServiceAnnotations {
        const char *address_pool;
        const char *allow_shared_ip;
        const char *load_balancer_ips;
        /* The full deprecated keys the Service relies on (metallb.universe.tf/...),
         * sorted; each gets a deprecatedAnnotation warning. */
        size_t n_deprecated;
        const char *deprecated[3];
} LbServiceAnnotations;

void lbipam_service_annotations(const Service *s, LbServiceAnnotations *ret);

/* The requested IPs of §5: the loadBalancerIPs annotation (comma-separated,
 * items trimmed), else spec.loadBalancerIP. */
typedef struct LbRequest {
        bool present;          /* the Service asks for specific IPs (valid or not) */
        char *invalid;         /* the §5 <detail> when the request is invalid (malloc'd); NULL when valid */
        size_t n_ips;          /* valid requests: 1 or 2, of distinct families */
        IpAddr ips[2];         /* in request order */
} LbRequest;

/* 0 (the request may still be invalid: see ->invalid), or -ENOMEM. */
int lbipam_request_parse(const Service *s, LbRequest *ret);
void lbipam_request_done(LbRequest *r);

/* The Service's families (§5): from clusterIPs (clusterIP).  n == 0 when
 * they cannot be determined (no clusterIP, "None", an unparseable value,
 * more than two, or two of one family); n == 2 is dual-stack with the
 * primary family (ipFamilies[0], else IPv4) first. */
typedef struct LbFamilies {
        size_t n;
        IpFamily family[2];
} LbFamilies;

void lbipam_service_families(const Service *s, LbFamilies *ret);
/* The families of a list of addresses: n == 0 when there are more than two
 * or two of one family; two are returned in the order given. */
void lb_families_of(const IpAddr *ips, size_t n, LbFamilies *ret);
bool lb_families_equal(const LbFamilies *a, const LbFamilies *b); /* as sets */

/* vasprintf() that leaves *ret alone on failure: 0 or -ENOMEM. */
int lb_vformat(char **ret, const char *fmt, va_list ap) _printf_(2, 0);

/* ["a" "b"]: strings as written, each %q-quoted (for status values that
 * may not parse as IPs). */
char *lb_format_string_list(const char *const *strings, size_t n);
