/* SPDX-License-Identifier: Apache-2.0 */
/* One IPAddressPool spec.addresses entry (lbipam.md §2 "Rule", §3 table):
 * the CRD's length and character check first, then a CIDR or an A-B range,
 * with the exact §3 error texts.  A range becomes its minimal list of
 * aligned CIDRs in ascending order. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_config.h"
#include "lb_runs.h"
#include "macros.h"

/* Shared with lb_config.c (not part of the public contract). */

#define ENTRY_MAX_CHARS 100 /* the CRD's maxLength, counted in characters */

/* ---- Go's %q ------------------------------------------------------------- */

/* One UTF-8 sequence at s (len > 0 bytes): its length, and the rune, or
 * U+FFFD with length 1 for an invalid byte, as Go's utf8.DecodeRune. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret) {
        static const struct {
                unsigned char lead_mask, lead_bits;
                uint32_t min;
        } forms[] = { { 0xe0, 0xc0, 0x80 }, { 0xf0, 0xe0, 0x800 }, { 0xf8, 0xf0, 0x10000 } };

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        for (size_t f = 0; f < ELEMENTSOF(forms); f++) {
                size_t n = f + 2;
                uint32_t r;
                if ((s[0] & forms[f].lead_mask) != forms[f].lead_bits)
                        continue;
                if (len < n)
                        break;
                r = s[0] & (0x3fu >> (f + 1));
                for (size_t i = 1; i < n; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                goto invalid;
                        r = (r << 6) | (s[i] & 0x3f);
                }
                if (r < forms[f].min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
                        break;
                *ret = r;
                return n;
        }
invalid:
        *ret = 0xfffd;
        return 1;
}

/* Go's strconv.IsPrint for the runes an address entry can plausibly hold:
 * controls, the non-ASCII spaces and separators, the common format
 * characters and private use are not printable.  (Unassigned code points,
 * which Go also escapes, count as printable here: no table is kept.) */
static bool rune_is_print(uint32_t r) {
        static const struct {
                uint32_t first, last;
        } unprintable[] = {
                { 0x00, 0x1f },       { 0x7f, 0xa0 },       { 0xad, 0xad },       { 0x600, 0x605 },
                { 0x61c, 0x61c },     { 0x6dd, 0x6dd },     { 0x70f, 0x70f },     { 0x1680, 0x1680 },
                { 0x180e, 0x180e },   { 0x2000, 0x200f },   { 0x2028, 0x202f },   { 0x205f, 0x2064 },
                { 0x2066, 0x206f },   { 0x3000, 0x3000 },   { 0xd800, 0xf8ff },   { 0xfeff, 0xfeff },
                { 0xfff9, 0xfffb },   { 0xfffe, 0xffff },   { 0xe0001, 0xe007f }, { 0xf0000, 0x10ffff },
        };
        for (size_t i = 0; i < ELEMENTSOF(unprintable); i++)
                if (r >= unprintable[i].first && r <= unprintable[i].last)
                        return false;
        return true;
}

/* Appends rune r (decoded from n bytes at raw) as Go quotes it inside quote. */
static void quote_rune(FILE *f, uint32_t r, const unsigned char *raw, size_t n, char quote) {
        static const char escapes[] = "\a\b\f\n\r\t\v", letters[] = "abfnrtv";
        const char *e = r > 0 && r < 0x80 ? strchr(escapes, (int) r) : NULL;

        if (r == (uint32_t) quote || r == '\\')
                fprintf(f, "\\%c", (char) r);
        else if (r == 0xfffd && n == 1 && raw[0] >= 0x80)
                fprintf(f, "\\x%02x", raw[0]); /* an invalid byte, not a real U+FFFD */
        else if (rune_is_print(r))
                fwrite(raw, 1, n, f);
        else if (e)
                fprintf(f, "\\%c", letters[e - escapes]);
        else if (r < 0x20 || r == 0x7f)
                fprintf(f, "\\x%02x", (unsigned) r);
        else if (r < 0x10000)
                fprintf(f, "\\u%04x", (unsigned) r);
        else
                fprintf(f, "\\U%08x", (unsigned) r);
}

/* s as Go's %q prints a string. */
char *lb_config_go_quote(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t len = strlen(s), size = 0;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputc('"', f);
        while (len > 0) {
                uint32_t r;
                size_t n = utf8_decode(p, len, &r);
                quote_rune(f, r, p, n, '"');
                p += n;
                len -= n;
        }
        fputc('"', f);
        return memstream_finish(f, &buf);
}

/* The rune at s as Go's %q prints a rune ('\t'); an invalid byte is U+FFFD,
 * as ranging over a Go string yields it. */
static char *go_quote_rune_at(const char *s) {
        static const unsigned char replacement[] = { 0xef, 0xbf, 0xbd };
        const unsigned char *p = (const unsigned char *) s;
        size_t size = 0, n;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &size);
        uint32_t r;

        if (!f)
                return NULL;
        n = utf8_decode(p, strlen(s), &r);
        if (r == 0xfffd && n == 1) {
                p = replacement;
                n = sizeof replacement;
        }
        fputc('\'', f);
        quote_rune(f, r, p, n, '\'');
        fputc('\'', f);
        return memstream_finish(f, &buf);
}

/* ---- errors -------------------------------------------------------------- */

/* Formats the §3 text into *ret_error: -EINVAL, or -ENOMEM. */
_printf_(2, 3) static int entry_error(char **ret_error, const char *fmt, ...) {
        char *message;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_error = message;
        return -EINVAL;
}

/* The CRD check (lbipam.md §2 "Rule"): at most 100 characters of
 * `0-9 A-F a-f : . / -` and the space.  Characters are counted as the API
 * server counts maxLength: one per rune, one per invalid byte. */
static int entry_check_crd(const char *pool, const char *entry, const char *quoted, char **ret_error) {
        const unsigned char *p = (const unsigned char *) entry;
        size_t len = strlen(entry), chars = 0;
        const char *bad = NULL;

        while (len > 0) {
                uint32_t r;
                size_t n = utf8_decode(p, len, &r);
                if (!bad && !(r < 0x80 && strchr("0123456789ABCDEFabcdef:./- ", (int) r) && r != 0))
                        bad = (const char *) p;
                chars++;
                p += n;
                len -= n;
        }
        if (chars > ENTRY_MAX_CHARS)
                return entry_error(ret_error, "parsing address pool %s: invalid address entry %s: longer than %d characters",
                                   pool, quoted, ENTRY_MAX_CHARS);
        if (bad) {
                _cleanup_free_ char *q = go_quote_rune_at(bad);
                if (!q)
                        return -ENOMEM;
                return entry_error(ret_error, "parsing address pool %s: invalid address entry %s: character %s not allowed",
                                   pool, quoted, q);
        }
        return 0;
}

/* ---- CIDR and range ------------------------------------------------------ */

static unsigned family_bits(IpFamily f) {
        return f == IP_FAMILY_V4 ? 32 : 128;
}

/* The h low bits set (h <= 128). */
static LbRank low_mask(unsigned h) {
        return h >= 128 ? ~(LbRank) 0 : ((LbRank) 1 << h) - 1;
}

static IpCidr cidr_of(IpFamily f, LbRank value, unsigned prefix) {
        return (IpCidr) {
                .addr = lb_addr_from_value(f, value & ~low_mask(family_bits(f) - prefix)),
                .prefix = prefix,
        };
}

/* A CIDR as Go's net.ParseCIDR reads it: the address in netip.ParseAddr's
 * strict syntax (no leading zeros in IPv4, no zone, no space anywhere), a
 * mandatory "/", then decimal digits (leading zeros allowed, as Go's dtoi
 * allows them).  Host bits are cleared.
 *
 * IPv4-mapped IPv6 text ("::ffff:192.0.2.0/120"): Go reads the prefix over
 * 128 bits and MetalLB then treats the block as IPv4, so /96.../128 is the
 * IPv4 block a.b.c.d/(n-96) and that is what berth reads.  A mapped address
 * with a prefix below 96 has no coherent meaning in MetalLB (its IPv4
 * containment test then matches every IPv4 address) and is an invalid CIDR
 * here. */
static int cidr_parse(const char *s, IpCidr *ret) {
        const char *slash = strchr(s, '/'), *d;
        char text[IP_ADDR_STRLEN];
        unsigned prefix = 0, bits;
        bool mapped;
        IpAddr a;

        if (!slash || (size_t) (slash - s) >= sizeof text)
                return -EINVAL;
        memcpy(text, s, (size_t) (slash - s));
        text[slash - s] = 0;
        if (ip_addr_parse(text, &a) < 0)
                return -EINVAL;
        mapped = a.family == IP_FAMILY_V4 && strchr(text, ':');
        bits = mapped ? 128 : family_bits(a.family);
        if (!slash[1])
                return -EINVAL;
        for (d = slash + 1; *d; d++) {
                if (*d < '0' || *d > '9')
                        return -EINVAL;
                prefix = prefix * 10 + (unsigned) (*d - '0');
                if (prefix > bits)
                        return -EINVAL;
        }
        if (mapped) {
                if (prefix < 96)
                        return -EINVAL;
                prefix -= 96;
        }
        *ret = cidr_of(a.family, lb_addr_value(&a), prefix);
        return 0;
}

static unsigned rank_trailing_zeros(LbRank v, unsigned bits) {
        uint64_t lo = (uint64_t) v, hi = (uint64_t) (v >> 64);
        unsigned tz = lo ? (unsigned) __builtin_ctzll(lo) : hi ? 64 + (unsigned) __builtin_ctzll(hi) : 128;
        return tz < bits ? tz : bits;
}

/* [first, last] of one family as its minimal aligned CIDRs, ascending. */
static int range_to_cidrs(const IpAddr *first, const IpAddr *last, IpCidr **ret, size_t *ret_n) {
        unsigned bits = family_bits(first->family);
        LbRank v = lb_addr_value(first), end = lb_addr_value(last);
        _cleanup_free_ IpCidr *cidrs = new0(IpCidr, 2 * bits); /* the most a range can need */
        size_t n = 0;

        if (!cidrs)
                return -ENOMEM;
        for (;;) {
                /* The largest block aligned at v that does not pass end. */
                unsigned h = rank_trailing_zeros(v, bits);
                while (h > 0 && low_mask(h) > end - v)
                        h--;
                cidrs[n++] = cidr_of(first->family, v, bits - h);
                if (end - v == low_mask(h))
                        break;
                v += low_mask(h) + 1;
        }
        *ret = TAKE_PTR(cidrs);
        *ret_n = n;
        return 0;
}

/* The end of a range with the spaces around it removed (Go's TrimSpace; the
 * CRD check already refused every other blank). */
static char *range_end_trimmed(const char *s, size_t len) {
        while (len > 0 && *s == ' ') {
                s++;
                len--;
        }
        while (len > 0 && s[len - 1] == ' ')
                len--;
        return strndup(s, len);
}

static int range_parse(const char *pool, const char *entry, const char *quoted, IpCidr **ret, size_t *ret_n,
                       char **ret_error) {
        const char *dash = strchr(entry, '-');
        _cleanup_free_ char *start_raw = strndup(entry, (size_t) (dash - entry)), *start = NULL, *end = NULL,
                            *q_start = NULL, *q_end = NULL;
        char a_buf[IP_ADDR_STRLEN], b_buf[IP_ADDR_STRLEN];
        IpAddr a, b;

        if (!start_raw || !(start = range_end_trimmed(entry, (size_t) (dash - entry))) ||
            !(end = range_end_trimmed(dash + 1, strlen(dash + 1))))
                return -ENOMEM;
        /* The ends as written, untrimmed, in the parse errors (as MetalLB). */
        if (ip_addr_parse(start, &a) < 0) {
                if (!(q_start = lb_config_go_quote(start_raw)))
                        return -ENOMEM;
                return entry_error(ret_error, "parsing address pool %s: invalid IP range %s: invalid start IP %s", pool,
                                   quoted, q_start);
        }
        if (ip_addr_parse(end, &b) < 0) {
                if (!(q_end = lb_config_go_quote(dash + 1)))
                        return -ENOMEM;
                return entry_error(ret_error, "parsing address pool %s: invalid IP range %s: invalid end IP %s", pool,
                                   quoted, q_end);
        }
        /* Canonical addresses from here on (MetalLB prints the parsed net.IP). */
        ip_addr_format(&a, a_buf);
        ip_addr_format(&b, b_buf);
        if (a.family != b.family)
                return entry_error(ret_error,
                                   "parsing address pool %s: invalid IP range %s: start IP \"%s\" and end IP \"%s\" are not of the same family",
                                   pool, quoted, a_buf, b_buf);
        if (ip_addr_compare(&a, &b) > 0)
                return entry_error(ret_error,
                                   "parsing address pool %s: invalid IP range %s: start IP \"%s\" is after the end IP \"%s\"",
                                   pool, quoted, a_buf, b_buf);
        return range_to_cidrs(&a, &b, ret, ret_n);
}

int lb_parse_address_entry(const char *pool, const char *entry, IpCidr **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ char *quoted = lb_config_go_quote(entry), *quoted_pool = lb_config_go_quote(pool);
        IpCidr c;
        int r;

        if (!quoted || !quoted_pool)
                return -ENOMEM;
        r = entry_check_crd(pool, entry, quoted, ret_error);
        if (r < 0)
                return r;
        if (strchr(entry, '-'))
                return range_parse(pool, entry, quoted, ret, ret_n, ret_error);
        if (cidr_parse(entry, &c) < 0)
                return entry_error(ret_error, "parsing address pool %s: invalid CIDR %s in pool %s: invalid CIDR %s", pool,
                                   quoted, quoted_pool, quoted);
        IpCidr *one = new0(IpCidr, 1);
        if (!one)
                return -ENOMEM;
        *one = c;
        *ret = one;
        *ret_n = 1;
        return 0;
}

/* ---- messages ------------------------------------------------------------ */

char *lb_format_ip_list(const IpAddr *ips, size_t n) {
        char *buf = NULL, addr[IP_ADDR_STRLEN];
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\"%s\"", i > 0 ? " " : "", ip_addr_format(&ips[i], addr));
        fputc(']', f);
        return memstream_finish(f, &buf);
}
