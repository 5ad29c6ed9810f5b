/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include "macros.h"
#include "net.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* inet_pton accepts "01.2.3.4" on some libcs and interprets nothing as
 * octal on glibc; the API server rejects leading zeros outright, so do too. */
static bool ipv4_has_leading_zero(const char *s) {
        for (const char *p = s; *p; p++) {
                bool at_start = p == s || p[-1] == '.' || p[-1] == ':';
                if (at_start && p[0] == '0' && isdigit((unsigned char) p[1]))
                        return true;
        }
        return false;
}

int ip_addr_parse(const char *s, IpAddr *ret) {
        IpAddr a = {};

        if (!s || !*s || strlen(s) >= IP_ADDR_STRLEN)
                return -EINVAL;
        if (strchr(s, ':')) {
                struct in6_addr in6;
                const char *dot = strchr(s, '.');
                if (strchr(s, '%') || inet_pton(AF_INET6, s, &in6) != 1)
                        return -EINVAL;
                if (dot && ipv4_has_leading_zero(strrchr(s, ':') + 1))
                        return -EINVAL;
                memcpy(a.bytes, &in6, 16);
                a.family = memcmp(a.bytes, v4_mapped_prefix, 12) == 0 ? IP_FAMILY_V4 : IP_FAMILY_V6;
        } else {
                struct in_addr in4;
                if (ipv4_has_leading_zero(s) || inet_pton(AF_INET, s, &in4) != 1)
                        return -EINVAL;
                memcpy(a.bytes, v4_mapped_prefix, 12);
                memcpy(a.bytes + 12, &in4, 4);
                a.family = IP_FAMILY_V4;
        }
        *ret = a;
        return 0;
}

int ip_addr_parse_sloppy(const char *s, IpAddr *ret) {
        char buf[IP_ADDR_STRLEN], *out = buf;

        if (!s || strlen(s) >= sizeof buf)
                return -EINVAL;
        /* Drop leading zeros of each dotted-decimal octet, keep everything else. */
        for (const char *p = s; *p; p++) {
                bool at_start = p == s || p[-1] == '.' || p[-1] == ':';
                if (at_start && strchr(s, '.'))
                        while (p[0] == '0' && isdigit((unsigned char) p[1]) && (strchr(p, ':') == NULL))
                                p++;
                *out++ = *p;
        }
        *out = 0;
        return ip_addr_parse(buf, ret);
}

const char *ip_addr_format(const IpAddr *a, char buf[static IP_ADDR_STRLEN]) {
        /* glibc's inet_ntop follows RFC 5952 (lowercase, longest zero run
         * compressed, a single zero group not compressed). */
        if (a->family == IP_FAMILY_V4)
                inet_ntop(AF_INET, a->bytes + 12, buf, IP_ADDR_STRLEN);
        else
                inet_ntop(AF_INET6, a->bytes, buf, IP_ADDR_STRLEN);
        return buf;
}

int ip_addr_compare(const IpAddr *a, const IpAddr *b) {
        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        return memcmp(a->bytes, b->bytes, 16);
}

bool ip_addr_equal(const IpAddr *a, const IpAddr *b) {
        return ip_addr_compare(a, b) == 0;
}

const char *ip_family_to_string(IpFamily f) {
        return f == IP_FAMILY_V4 ? "IPv4" : f == IP_FAMILY_V6 ? "IPv6" : "";
}

IpFamily ip_family_from_string(const char *s) {
        if (streq_ptr(s, "IPv4"))
                return IP_FAMILY_V4;
        if (streq_ptr(s, "IPv6"))
                return IP_FAMILY_V6;
        return IP_FAMILY_NONE;
}

int ip_addr_add(const IpAddr *a, int64_t n, IpAddr *ret) {
        IpAddr r = *a;
        unsigned first = a->family == IP_FAMILY_V4 ? 12 : 0;
        bool negative = n < 0;
        uint64_t mag = negative ? (uint64_t) 0 - (uint64_t) n : (uint64_t) n;
        unsigned carry = 0;

        for (int i = 15; i >= (int) first; i--) {
                unsigned digit = (unsigned) (mag & 0xff);
                int v;
                mag >>= 8;
                if (negative) {
                        v = (int) r.bytes[i] - (int) digit - (int) carry;
                        carry = v < 0;
                        if (v < 0)
                                v += 256;
                } else {
                        v = (int) r.bytes[i] + (int) digit + (int) carry;
                        carry = v > 255;
                        v &= 0xff;
                }
                r.bytes[i] = (uint8_t) v;
        }
        if (carry || mag)
                return -ERANGE;
        *ret = r;
        return 0;
}

IpClass ip_addr_class(const IpAddr *a) {
        const uint8_t *b = a->bytes;
        static const uint8_t zero[16];

        if (a->family == IP_FAMILY_V4) {
                b += 12;
                if (memcmp(b, zero, 4) == 0)
                        return IP_CLASS_UNSPECIFIED;
                if (b[0] == 127)
                        return IP_CLASS_LOOPBACK;
                if (b[0] == 169 && b[1] == 254)
                        return IP_CLASS_LINK_LOCAL;
                if (b[0] == 224 && b[1] == 0 && b[2] == 0)
                        return IP_CLASS_LINK_LOCAL_MULTICAST;
                return IP_CLASS_ORDINARY;
        }
        if (memcmp(b, zero, 16) == 0)
                return IP_CLASS_UNSPECIFIED;
        if (memcmp(b, zero, 15) == 0 && b[15] == 1)
                return IP_CLASS_LOOPBACK;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return IP_CLASS_LINK_LOCAL;
        if (b[0] == 0xff && (b[1] & 0x0f) == 0x02)
                return IP_CLASS_LINK_LOCAL_MULTICAST;
        return IP_CLASS_ORDINARY;
}

static unsigned family_bits(IpFamily f) {
        return f == IP_FAMILY_V4 ? 32 : 128;
}

/* Applies fn to the host bits of addr for a prefix: clear (network) or set (broadcast). */
static void set_host_bits(IpAddr *a, unsigned prefix, bool value) {
        unsigned offset = a->family == IP_FAMILY_V4 ? 96 : 0;
        for (unsigned bit = offset + prefix; bit < 128; bit++) {
                uint8_t mask = (uint8_t) (0x80u >> (bit % 8));
                if (value)
                        a->bytes[bit / 8] |= mask;
                else
                        a->bytes[bit / 8] &= (uint8_t) ~mask;
        }
}

int ip_cidr_parse(const char *s, bool strict, IpCidr *ret) {
        char addr[IP_ADDR_STRLEN];
        const char *slash;
        char *end;
        IpCidr c = {};
        unsigned long prefix;
        int r;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash || (size_t) (slash - s) >= sizeof addr || !isdigit((unsigned char) slash[1]))
                return -EINVAL;
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = 0;
        r = ip_addr_parse(addr, &c.addr);
        if (r < 0)
                return r;
        errno = 0;
        prefix = strtoul(slash + 1, &end, 10);
        if (errno || *end || prefix > family_bits(c.addr.family) || (slash[1] == '0' && slash[2]))
                return -EINVAL;
        c.prefix = (unsigned) prefix;
        IpAddr network = c.addr;
        set_host_bits(&network, c.prefix, false);
        if (strict && !ip_addr_equal(&network, &c.addr))
                return -EINVAL;
        c.addr = network;
        *ret = c;
        return 0;
}

bool ip_cidr_contains(const IpCidr *c, const IpAddr *a) {
        IpAddr network = *a;
        if (a->family != c->addr.family)
                return false;
        set_host_bits(&network, c->prefix, false);
        return ip_addr_equal(&network, &c->addr);
}

void ip_cidr_bounds(const IpCidr *c, IpAddr *ret_first, IpAddr *ret_last) {
        IpAddr last = c->addr;
        set_host_bits(&last, c->prefix, true);
        *ret_first = c->addr;
        *ret_last = last;
}

uint64_t ip_range_size(const IpAddr *first, const IpAddr *last) {
        uint64_t hi = 0, lo = 0;
        int borrow = 0;

        if (ip_addr_compare(first, last) > 0)
                return 0;
        /* 128-bit subtraction last - first, then + 1, saturating. */
        for (int i = 15; i >= 0; i--) {
                int v = (int) last->bytes[i] - (int) first->bytes[i] - borrow;
                borrow = v < 0;
                if (v < 0)
                        v += 256;
                if (i >= 8)
                        lo |= (uint64_t) v << (8 * (15 - i));
                else
                        hi |= (uint64_t) v << (8 * (7 - i));
        }
        if (hi || lo == UINT64_MAX)
                return UINT64_MAX;
        return lo + 1;
}
