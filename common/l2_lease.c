/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l2_lease.h"

const char *membership_lease_node(const Lease *l) {
        const char *node;

        if (!l || !l->object.meta.name)
                return NULL;
        node = skip_prefix(l->object.meta.name, SPEAKER_LEASE_PREFIX);
        if (isempty(node) || !streq_ptr(l->holder_identity, node))
                return NULL;
        return node;
}

/* A positive decimal integer of milliseconds, nothing else. */
static usec_t parse_duration_ms(const char *s) {
        usec_t ms = 0;

        if (isempty(s))
                return 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                if (ms > (USEC_INFINITY / USEC_PER_MSEC - 9) / 10)
                        return 0;
                ms = ms * 10 + (usec_t) (*p - '0');
        }
        return ms * USEC_PER_MSEC;
}

usec_t membership_lease_duration(const Lease *l) {
        usec_t d;

        if (!l)
                return 0;
        d = parse_duration_ms(strmap_get(&l->object.meta.annotations, LEASE_ANNOTATION_DURATION_MS));
        if (d > 0)
                return d;
        return l->lease_duration_seconds > 0 ? (usec_t) l->lease_duration_seconds * USEC_PER_SEC : 0;
}

static int ip_addr_qsort_cmp(const void *a, const void *b) {
        return ip_addr_compare(a, b);
}

/* Sorts ips in place and drops duplicates; returns the new count. */
static size_t ips_sort_unique(IpAddr *ips, size_t n) {
        size_t k = 0;

        if (n == 0)
                return 0;
        qsort(ips, n, sizeof(IpAddr), ip_addr_qsort_cmp);
        for (size_t i = 1; i < n; i++)
                if (!ip_addr_equal(&ips[k], &ips[i]))
                        ips[++k] = ips[i];
        return k + 1;
}

int membership_parse_announcing(const char *value, IpAddr **ret, size_t *ret_n) {
        _cleanup_free_ IpAddr *ips = NULL;
        size_t n = 0, cap = 1;

        if (!ret || !ret_n)
                return -EINVAL;
        for (const char *p = strempty(value); *p; p++)
                cap += *p == ',';
        ips = new0(IpAddr, cap);
        if (!ips)
                return -ENOMEM;
        for (const char *p = strempty(value); *p;) {
                size_t len = strcspn(p, ",");
                char item[IP_ADDR_STRLEN + 8];

                /* trim blanks: hand-edited annotations ("a, b") still count */
                const char *s = p, *e = p + len;
                while (s < e && *s == ' ')
                        s++;
                while (e > s && e[-1] == ' ')
                        e--;
                if (e > s && (size_t) (e - s) < sizeof(item)) {
                        memcpy(item, s, (size_t) (e - s));
                        item[e - s] = '\0';
                        if (ip_addr_parse(item, &ips[n]) >= 0)
                                n++;
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        n = ips_sort_unique(ips, n);
        *ret = n > 0 ? TAKE_PTR(ips) : NULL;
        *ret_n = n;
        return 0;
}

int membership_format_announcing(const IpAddr *ips, size_t n, char **ret) {
        _cleanup_free_ IpAddr *sorted = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (!ret || (n > 0 && !ips))
                return -EINVAL;
        if (n > 0) {
                sorted = new0(IpAddr, n);
                if (!sorted)
                        return -ENOMEM;
                memcpy(sorted, ips, n * sizeof(IpAddr));
                n = ips_sort_unique(sorted, n);
        }
        text = malloc(n * (IP_ADDR_STRLEN + 1) + 1);
        if (!text)
                return -ENOMEM;
        text[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char buf[IP_ADDR_STRLEN];
                size_t k = strlen(ip_addr_format(&sorted[i], buf));

                if (i > 0)
                        text[len++] = ',';
                memcpy(text + len, buf, k + 1);
                len += k;
        }
        *ret = TAKE_PTR(text);
        return 0;
}

bool membership_offline_live(const Lease *l, usec_t now) {
        usec_t d = membership_lease_duration(l);

        if (!membership_lease_node(l) || d == 0 || l->renew_time == 0)
                return false;
        return l->renew_time > now || now - l->renew_time < d;
}
