/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_config.h"
#include "lbipam_request.h"
#include "macros.h"

/* Sorted by key so that the deprecatedAnnotation warnings come in a fixed order. */
static const char *const request_keys[] = { "address-pool", "allow-shared-ip", "loadBalancerIPs" };

void lbipam_service_annotations(const Service *s, LbServiceAnnotations *ret) {
        LbServiceAnnotations a = {};
        static const char *const legacy_keys[] = {
                SERVICE_ANNOTATION_LEGACY_PREFIX "address-pool",
                SERVICE_ANNOTATION_LEGACY_PREFIX "allow-shared-ip",
                SERVICE_ANNOTATION_LEGACY_PREFIX "loadBalancerIPs",
        };
        const char **values[] = { &a.address_pool, &a.allow_shared_ip, &a.load_balancer_ips };

        for (size_t i = 0; i < ELEMENTSOF(request_keys); i++) {
                bool legacy = false;
                *values[i] = service_metallb_annotation(s, request_keys[i], &legacy);
                if (*values[i] && legacy)
                        a.deprecated[a.n_deprecated++] = legacy_keys[i];
        }
        *ret = a;
}

int lb_vformat(char **ret, const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

char *lb_format_string_list(const char *const *strings, size_t n) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *q = lb_config_go_quote(strempty(strings[i]));
                if (!q) {
                        free(memstream_finish(f, &buf));
                        return NULL;
                }
                fprintf(f, "%s%s", i > 0 ? " " : "", q);
        }
        fputc(']', f);
        return memstream_finish(f, &buf);
}

void lb_families_of(const IpAddr *ips, size_t n, LbFamilies *ret) {
        LbFamilies f = {};

        if (n == 1)
                f = (LbFamilies) { .n = 1, .family = { ips[0].family } };
        else if (n == 2 && ips[0].family != ips[1].family)
                f = (LbFamilies) { .n = 2, .family = { ips[0].family, ips[1].family } };
        *ret = f;
}

bool lb_families_equal(const LbFamilies *a, const LbFamilies *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                bool found = false;
                for (size_t j = 0; j < b->n; j++)
                        found = found || a->family[i] == b->family[j];
                if (!found)
                        return false;
        }
        return true;
}

void lbipam_service_families(const Service *s, LbFamilies *ret) {
        IpAddr ips[2];
        LbFamilies f = {};

        if (s->cluster_ips.n >= 1 && s->cluster_ips.n <= 2) {
                bool ok = true;
                for (size_t i = 0; i < s->cluster_ips.n; i++)
                        ok = ok && ip_addr_parse_sloppy(s->cluster_ips.items[i], &ips[i]) >= 0;
                if (ok)
                        lb_families_of(ips, s->cluster_ips.n, &f);
        }
        /* §5: ipFamilies[0] is primary; without it IPv4 is. */
        if (f.n == 2) {
                IpFamily primary = s->n_ip_families > 0 ? s->ip_families[0] : IP_FAMILY_V4;
                f.family[0] = primary;
                f.family[1] = primary == IP_FAMILY_V4 ? IP_FAMILY_V6 : IP_FAMILY_V4;
        }
        *ret = f;
}

/* Fills r->invalid with the §5 detail; -ENOMEM only. */
_printf_(2, 3) static int request_invalid(LbRequest *r, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = lb_vformat(&r->invalid, fmt, ap);
        va_end(ap);
        r->n_ips = 0;
        return k;
}

static int request_parse_list(const char *value, LbRequest *r) {
        _cleanup_free_ IpAddr *ips = NULL;
        _cleanup_free_ char *copy = strdup(value);
        size_t n = 0, cap = 1;

        if (!copy)
                return -ENOMEM;
        for (const char *p = value; *p; p++)
                cap += *p == ',';
        ips = new0(IpAddr, cap);
        if (!ips)
                return -ENOMEM;

        for (char *item = copy, *next; item; item = next) {
                char *end;
                next = strchr(item, ',');
                if (next)
                        *next++ = 0;
                item += strspn(item, " \t\n\r\v\f");
                end = item + strlen(item);
                while (end > item && strchr(" \t\n\r\v\f", end[-1]))
                        *--end = 0;
                if (ip_addr_parse(item, &ips[n]) < 0) {
                        _cleanup_free_ char *q = lb_config_go_quote(item);
                        if (!q)
                                return -ENOMEM;
                        return request_invalid(r, "%s is not an IP address", q);
                }
                n++;
        }

        if (n > 2) {
                _cleanup_free_ char *list = lb_format_ip_list(ips, n);
                if (!list)
                        return -ENOMEM;
                return request_invalid(r, "more than two addresses %s", list);
        }
        if (n == 2 && ips[0].family == ips[1].family) {
                char a[IP_ADDR_STRLEN], b[IP_ADDR_STRLEN];
                return request_invalid(r, "\"%s\" \"%s\" has the same family", ip_addr_format(&ips[0], a),
                                       ip_addr_format(&ips[1], b));
        }
        memcpy(r->ips, ips, n * sizeof(IpAddr));
        r->n_ips = n;
        return 0;
}

int lbipam_request_parse(const Service *s, LbRequest *ret) {
        LbRequest r = {};
        const char *annotation = service_metallb_annotation(s, "loadBalancerIPs", NULL);
        int k;

        if (!annotation && isempty(s->load_balancer_ip)) {
                *ret = r;
                return 0;
        }
        r.present = true;
        if (annotation && !isempty(s->load_balancer_ip))
                k = request_invalid(&r, "service can not have both %s and svc.Spec.LoadBalancerIP",
                                    SERVICE_ANNOTATION_METALLB_PREFIX "loadBalancerIPs");
        else if (annotation)
                k = request_parse_list(annotation, &r);
        else if (ip_addr_parse(s->load_balancer_ip, &r.ips[0]) < 0) {
                _cleanup_free_ char *q = lb_config_go_quote(s->load_balancer_ip);
                k = q ? request_invalid(&r, "%s is not an IP address", q) : -ENOMEM;
        } else {
                r.n_ips = 1;
                k = 0;
        }
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}

void lbipam_request_done(LbRequest *r) {
        if (!r)
                return;
        free(r->invalid);
        r->invalid = NULL;
        r->n_ips = 0;
        r->present = false;
}
