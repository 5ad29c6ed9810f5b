/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nodeport_alloc.h"

struct NodePortAlloc {
        NodePortRange range;
        int32_t offset;
        int32_t used[_NODEPORT_BAND_MAX];
        size_t n_words;
        uint64_t words[];
};

/* ---- the range flag -------------------------------------------------------- */

static int fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int fail(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_error = s;
        return -EINVAL;
}

/* Go's strconv.Atoi on a 64-bit platform: optional sign, decimal digits,
 * int64.  Returns 0, or the Go error ("invalid syntax", "value out of range"). */
static const char *go_atoi(const char *s, size_t len, int64_t *ret) {
        bool neg = false;
        uint64_t v = 0, limit;
        size_t i = 0;

        if (len > 0 && (s[0] == '+' || s[0] == '-')) {
                neg = s[0] == '-';
                i = 1;
        }
        if (i == len)
                return "invalid syntax";
        limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        bool range_error = false;
        for (; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return "invalid syntax";
                unsigned d = (unsigned) (s[i] - '0');
                if (range_error)
                        continue; /* Go still reports a later bad digit as syntax */
                if (v > (limit - d) / 10)
                        range_error = true;
                else
                        v = v * 10 + d;
        }
        if (range_error)
                return "value out of range";
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return NULL;
}

int nodeport_range_parse(const char *value, NodePortRange *ret, char **ret_error) {
        _cleanup_free_ char *trimmed = NULL;
        const char *b, *e, *hyphen, *err;
        int64_t low, high;

        b = value ? value : "";
        while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r' || *b == '\v' || *b == '\f')
                b++;
        e = b + strlen(b);
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\v' ||
                         e[-1] == '\f'))
                e--;
        trimmed = strndup(b, (size_t) (e - b));
        if (!trimmed)
                return -ENOMEM;
        if (trimmed[0] == '\0') {
                *ret = (NodePortRange) { .first = 30000, .size = 2768 };
                return 0;
        }

        hyphen = strchr(trimmed, '-');
        if (!hyphen) {
                err = go_atoi(trimmed, strlen(trimmed), &low);
                if (err)
                        return fail(ret_error,
                                    "unable to parse port range: %s: strconv.Atoi: parsing \"%s\": %s, expected hyphen in port range or a single port number",
                                    trimmed, trimmed, err);
                if (low < 0 || low > 65535)
                        return fail(ret_error, "the port range should between 0 and 65535");
                high = low;
        } else {
                size_t n1 = (size_t) (hyphen - trimmed);
                err = go_atoi(trimmed, n1, &low);
                if (err)
                        return fail(ret_error, "unable to parse port range: %s: strconv.Atoi: parsing \"%.*s\": %s",
                                    trimmed, (int) n1, trimmed, err);
                err = go_atoi(hyphen + 1, strlen(hyphen + 1), &high);
                if (err)
                        return fail(ret_error, "unable to parse port range: %s: strconv.Atoi: parsing \"%s\": %s",
                                    trimmed, hyphen + 1, err);
                if (low > 65535 || high > 65535)
                        return fail(ret_error, "the port range cannot be greater than 65535: %s", trimmed);
                if (high < low)
                        return fail(ret_error, "end port cannot be less than start port: %s", trimmed);
        }
        /* berth: 0 means "unset" in a Service, so it cannot be a node port. */
        if (low <= 0)
                return fail(ret_error, "port 0 cannot be part of the node port range: %s", trimmed);

        *ret = (NodePortRange) { .first = (int32_t) low, .size = (int32_t) (high - low + 1) };
        return 0;
}

const char *nodeport_range_format(const NodePortRange *r, char *buf, size_t size) {
        (void) snprintf(buf, size, "%" PRIi32 "-%" PRIi32, r->first, nodeport_range_last(r));
        return buf;
}

int32_t nodeport_band_offset(int32_t size) {
        int32_t o;

        if (size <= 16)
                return 0;
        o = size / 32;
        return o < 16 ? 16 : o > 128 ? 128 : o;
}

const char *nodeport_band_to_string(NodePortBand b) {
        return b == NODEPORT_BAND_STATIC ? "static" : "dynamic";
}

uint64_t nodeport_fnv1a64(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

/* ---- the bitmap ------------------------------------------------------------ */

int nodeport_alloc_new(const NodePortRange *range, NodePortAlloc **ret) {
        NodePortAlloc *a;
        size_t n_words;

        if (range->first < 1 || range->size < 1 || (int64_t) range->first + range->size - 1 > 65535)
                return -EINVAL;
        n_words = ((size_t) range->size + 63) / 64;
        a = calloc(1, sizeof(NodePortAlloc) + n_words * sizeof(uint64_t));
        if (!a)
                return -ENOMEM;
        a->range = *range;
        a->offset = nodeport_band_offset(range->size);
        a->n_words = n_words;
        *ret = a;
        return 0;
}

NodePortAlloc *nodeport_alloc_free(NodePortAlloc *a) {
        free(a);
        return NULL;
}

const NodePortRange *nodeport_alloc_range(const NodePortAlloc *a) {
        return &a->range;
}

int32_t nodeport_alloc_offset(const NodePortAlloc *a) {
        return a->offset;
}

static bool bit_get(const NodePortAlloc *a, int32_t i) {
        return (a->words[i / 64] >> (i % 64)) & 1;
}

static NodePortBand band_of_index(const NodePortAlloc *a, int32_t i) {
        return i < a->offset ? NODEPORT_BAND_STATIC : NODEPORT_BAND_DYNAMIC;
}

static void bit_set(NodePortAlloc *a, int32_t i) {
        a->words[i / 64] |= UINT64_C(1) << (i % 64);
        a->used[band_of_index(a, i)]++;
}

static void bit_clear(NodePortAlloc *a, int32_t i) {
        a->words[i / 64] &= ~(UINT64_C(1) << (i % 64));
        a->used[band_of_index(a, i)]--;
}

/* First clear bit in [from, to), or -1; a word at a time. */
static int32_t find_clear(const NodePortAlloc *a, int32_t from, int32_t to) {
        int32_t i = from;

        while (i < to) {
                uint64_t w = ~a->words[i / 64] >> (i % 64);
                if (w == 0) {
                        i = (i / 64 + 1) * 64;
                        continue;
                }
                i += __builtin_ctzll(w);
                return i < to ? i : -1;
        }
        return -1;
}

/* Scan [lo, hi) from lo + start % (hi - lo), wrapping round. */
static int32_t scan_band(const NodePortAlloc *a, int32_t lo, int32_t hi, uint64_t start) {
        int32_t s, i;

        if (hi <= lo)
                return -1;
        s = lo + (int32_t) (start % (uint64_t) (hi - lo));
        i = find_clear(a, s, hi);
        if (i < 0)
                i = find_clear(a, lo, s);
        return i;
}

int nodeport_alloc_allocate(NodePortAlloc *a, int64_t port) {
        int32_t i;

        if (!nodeport_range_contains(&a->range, port))
                return -ERANGE;
        i = (int32_t) (port - a->range.first);
        if (bit_get(a, i))
                return -EEXIST;
        bit_set(a, i);
        return 0;
}

int nodeport_alloc_allocate_next(NodePortAlloc *a, uint64_t start, int32_t *ret_port) {
        int32_t i;

        if (nodeport_alloc_used(a) >= a->range.size)
                return -ENOSPC;
        i = scan_band(a, a->offset, a->range.size, start);
        if (i < 0)
                i = scan_band(a, 0, a->offset, start);
        if (i < 0)
                return -ENOSPC; /* unreachable: the counts said a bit is clear */
        bit_set(a, i);
        *ret_port = a->range.first + i;
        return 0;
}

bool nodeport_alloc_release(NodePortAlloc *a, int64_t port) {
        int32_t i;

        if (!nodeport_alloc_has(a, port)) {
                log_debug("node port %" PRIi64 " is not allocated; nothing to release", port);
                return false;
        }
        i = (int32_t) (port - a->range.first);
        bit_clear(a, i);
        return true;
}

bool nodeport_alloc_has(const NodePortAlloc *a, int64_t port) {
        if (!nodeport_range_contains(&a->range, port))
                return false;
        return bit_get(a, (int32_t) (port - a->range.first));
}

int32_t nodeport_alloc_used(const NodePortAlloc *a) {
        return a->used[NODEPORT_BAND_STATIC] + a->used[NODEPORT_BAND_DYNAMIC];
}

int32_t nodeport_alloc_free_count(const NodePortAlloc *a) {
        return a->range.size - nodeport_alloc_used(a);
}

int32_t nodeport_alloc_band_used(const NodePortAlloc *a, NodePortBand b) {
        return a->used[b];
}

int32_t nodeport_alloc_band_size(const NodePortAlloc *a, NodePortBand b) {
        return b == NODEPORT_BAND_STATIC ? a->offset : a->range.size - a->offset;
}

int32_t nodeport_alloc_band_first(const NodePortAlloc *a, NodePortBand b) {
        return b == NODEPORT_BAND_STATIC ? a->range.first : a->range.first + a->offset;
}

NodePortBand nodeport_alloc_band_of(const NodePortAlloc *a, int32_t port) {
        return band_of_index(a, port - a->range.first);
}

void nodeport_alloc_foreach(const NodePortAlloc *a, void (*fn)(int32_t port, void *userdata), void *userdata) {
        for (size_t w = 0; w < a->n_words; w++) {
                uint64_t bits = a->words[w];
                while (bits) {
                        int b = __builtin_ctzll(bits);
                        bits &= bits - 1;
                        fn(a->range.first + (int32_t) (w * 64) + b, userdata);
                }
        }
}

size_t nodeport_alloc_bitmap_bytes(const NodePortAlloc *a) {
        return a->n_words * sizeof(uint64_t);
}

static void recount(NodePortAlloc *a) {
        a->used[NODEPORT_BAND_STATIC] = a->used[NODEPORT_BAND_DYNAMIC] = 0;
        for (int32_t i = 0; i < a->range.size; i++)
                if (bit_get(a, i))
                        a->used[band_of_index(a, i)]++;
}

int nodeport_alloc_snapshot(const NodePortAlloc *a, NodePortSnapshot *ret) {
        size_t n = ((size_t) a->range.size + 7) / 8;
        uint8_t *bits = malloc(n);

        if (!bits)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                bits[i] = (uint8_t) (a->words[i / 8] >> (8 * (i % 8)));
        *ret = (NodePortSnapshot) { .range = a->range, .n_bytes = n, .bits = bits };
        return 0;
}

int nodeport_alloc_restore(NodePortAlloc *a, const NodePortSnapshot *s) {
        if (s->range.first != a->range.first || s->range.size != a->range.size ||
            s->n_bytes != ((size_t) a->range.size + 7) / 8)
                return -EINVAL;
        memset(a->words, 0, a->n_words * sizeof(uint64_t));
        for (size_t i = 0; i < s->n_bytes; i++)
                a->words[i / 8] |= (uint64_t) s->bits[i] << (8 * (i % 8));
        /* bits past the end of the range are not ports */
        if (a->range.size % 64)
                a->words[a->n_words - 1] &= (UINT64_C(1) << (a->range.size % 64)) - 1;
        recount(a);
        return 0;
}

void nodeport_snapshot_done(NodePortSnapshot *s) {
        free(s->bits);
        *s = (NodePortSnapshot) {};
}

int nodeport_alloc_copy(NodePortAlloc *dst, const NodePortAlloc *src) {
        if (dst->range.first != src->range.first || dst->range.size != src->range.size)
                return -EINVAL;
        memcpy(dst->words, src->words, dst->n_words * sizeof(uint64_t));
        memcpy(dst->used, src->used, sizeof(dst->used));
        return 0;
}

const char *nodeport_alloc_error(const NodePortRange *range, int error, char *buf, size_t size) {
        char r[NODEPORT_RANGE_STRLEN];

        switch (error) {
        case -ERANGE:
                (void) snprintf(buf, size, "provided port is not in the valid range. The range of valid ports is %s",
                                nodeport_range_format(range, r, sizeof(r)));
                break;
        case -EEXIST:
                (void) snprintf(buf, size, "provided port is already allocated");
                break;
        case -ENOSPC:
                (void) snprintf(buf, size, "range is full");
                break;
        default:
                (void) snprintf(buf, size, "%s", strerror(-error));
        }
        return buf;
}
