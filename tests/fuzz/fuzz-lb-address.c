/* SPDX-License-Identifier: Apache-2.0 */
/* One IPAddressPool spec.addresses entry (lbipam.md §2, §3) on arbitrary
 * bytes: every input either fails with one non-empty §3 error line, or
 * gives 1..256 CIDRs of one family, host bits cleared, ascending and
 * contiguous for a range, each of which parses back to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cidr(const IpCidr *c) {
        char addr[IP_ADDR_STRLEN], text[IP_ADDR_STRLEN + 8], *error = NULL;
        IpCidr *again = NULL;
        size_t n = 0;

        if (c->addr.family != IP_FAMILY_V4 && c->addr.family != IP_FAMILY_V6)
                abort();
        if (c->prefix > (c->addr.family == IP_FAMILY_V4 ? 32u : 128u))
                abort();
        snprintf(text, sizeof text, "%s/%u", ip_addr_format(&c->addr, addr), c->prefix);
        if (lb_parse_address_entry("p", text, &again, &n, &error) < 0 || n != 1 ||
            !ip_addr_equal(&again[0].addr, &c->addr) || again[0].prefix != c->prefix)
                abort();
        free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *entry, *error = NULL;
        IpCidr *cidrs = NULL;
        size_t n = 0;

        if (size > 4096)
                return 0;
        entry = strndup((const char *) data, size); /* the entry is a C string: stops at NUL */
        if (!entry)
                return 0;
        if (lb_parse_address_entry("p", entry, &cidrs, &n, &error) < 0) {
                if (!error || strncmp(error, "parsing address pool p: ", 24) != 0 || strchr(error, '\n'))
                        abort();
                free(error);
                free(entry);
                return 0;
        }
        if (error || n < 1 || n > 256 || (n > 1 && !strchr(entry, '-')))
                abort();
        for (size_t i = 0; i < n; i++) {
                IpAddr first, last, next;
                check_cidr(&cidrs[i]);
                if (i == 0)
                        continue;
                /* A range's CIDRs are ascending and leave no gap. */
                ip_cidr_bounds(&cidrs[i - 1], &first, &last);
                if (cidrs[i].addr.family != cidrs[0].addr.family || ip_addr_add(&last, 1, &next) < 0 ||
                    !ip_addr_equal(&next, &cidrs[i].addr))
                        abort();
        }
        free(cidrs);
        free(entry);
        return 0;
}
