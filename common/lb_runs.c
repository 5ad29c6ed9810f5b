/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb_config.h"
#include "lb_runs.h"
#include "macros.h"

#define LB_RANK_MAX (~(LbRank) 0)

bool lb_ip_is_buggy(const IpAddr *ip) {
        return ip->family == IP_FAMILY_V4 && (ip->bytes[15] == 0 || ip->bytes[15] == 255);
}

int64_t lb_add_saturating(int64_t a, int64_t b) {
        int64_t sum;

        if (__builtin_add_overflow(a, b, &sum))
                return b > 0 ? INT64_MAX : INT64_MIN;
        return sum;
}

static unsigned family_bits(IpFamily f) {
        return f == IP_FAMILY_V4 ? 32 : 128;
}

static unsigned host_bits(const IpCidr *c) {
        return family_bits(c->addr.family) - c->prefix;
}

/* Buggy addresses only exist in IPv4, and only there is avoidance done. */
static bool avoids(const IpCidr *c, bool avoid_buggy) {
        return avoid_buggy && c->addr.family == IP_FAMILY_V4;
}

int64_t lb_cidr_capacity(const IpCidr *c, bool avoid_buggy) {
        LbRank max;

        /* §10's huge-IPv6 rule, whatever avoidBuggyIPs says. */
        if (host_bits(c) >= 62)
                return INT64_MAX;
        if (!lb_cidr_max_rank(c, avoid_buggy, &max))
                return 0;
        return (int64_t) (max + 1);
}

LbRank lb_addr_value(const IpAddr *a) {
        unsigned first = a->family == IP_FAMILY_V4 ? 12 : 0;
        LbRank v = 0;

        for (unsigned i = first; i < 16; i++)
                v = (v << 8) | a->bytes[i];
        return v;
}

IpAddr lb_addr_from_value(IpFamily f, LbRank v) {
        IpAddr a = { .family = f };
        unsigned first = f == IP_FAMILY_V4 ? 12 : 0;

        if (f == IP_FAMILY_V4) {
                a.bytes[10] = 0xff; /* IPv4-mapped, as net.h stores IPv4 */
                a.bytes[11] = 0xff;
        }
        for (unsigned i = 16; i-- > first;) {
                a.bytes[i] = (uint8_t) (v & 0xff);
                v >>= 8;
        }
        return a;
}

bool lb_cidr_max_rank(const IpCidr *c, bool avoid_buggy, LbRank *ret) {
        unsigned h = host_bits(c);
        LbRank count;

        if (!avoids(c, avoid_buggy)) {
                *ret = h >= 128 ? LB_RANK_MAX : ((LbRank) 1 << h) - 1;
                return true;
        }
        if (c->prefix <= 24)
                /* Each /24 block keeps its 254 addresses .1 to .254. */
                count = ((LbRank) 1 << (24 - c->prefix)) * 254;
        else {
                /* Inside one /24: only the first address can be a .0 and
                 * only the last a .255 (a /32 is never both). */
                unsigned first_octet = c->addr.bytes[15];
                unsigned size = 1u << h;
                count = size - (first_octet == 0) - (first_octet + size - 1 == 255);
        }
        if (count == 0)
                return false;
        *ret = count - 1;
        return true;
}

bool lb_cidr_rank(const IpCidr *c, bool avoid_buggy, const IpAddr *a, LbRank *ret) {
        LbRank offset;

        if (!ip_cidr_contains(c, a))
                return false;
        offset = lb_addr_value(a) - lb_addr_value(&c->addr);
        if (!avoids(c, avoid_buggy)) {
                *ret = offset;
                return true;
        }
        if (lb_ip_is_buggy(a))
                return false;
        if (c->prefix <= 24)
                *ret = (offset >> 8) * 254 + (offset & 0xff) - 1;
        else
                *ret = offset - (c->addr.bytes[15] == 0);
        return true;
}

IpAddr lb_cidr_unrank(const IpCidr *c, bool avoid_buggy, LbRank r) {
        LbRank offset;

        if (!avoids(c, avoid_buggy))
                offset = r;
        else if (c->prefix <= 24)
                offset = (r / 254) * 256 + r % 254 + 1;
        else
                offset = r + (c->addr.bytes[15] == 0);
        return lb_addr_from_value(c->addr.family, lb_addr_value(&c->addr) + offset);
}

void lb_run_set_done(LbRunSet *s) {
        free(s->runs);
        *s = (LbRunSet) {};
}

bool lb_run_set_first_free(const LbRunSet *s, LbRank max_rank, LbRank *ret) {
        const LbRun *lowest;

        if (s->n_runs == 0) {
                *ret = 0;
                return true;
        }
        lowest = &s->runs[s->n_runs - 1];
        if (lowest->first > 0) {
                *ret = 0;
                return true;
        }
        if (lowest->last >= max_rank)
                return false;
        *ret = lowest->last + 1;
        return true;
}

/* The index of the highest run starting at or below r (n_runs when none):
 * the only run that can hold r.  Runs are descending, so this is the first
 * index whose start is <= r. */
static size_t run_below(const LbRunSet *s, LbRank r) {
        size_t lo = 0, hi = s->n_runs;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->runs[mid].first <= r)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

bool lb_run_set_contains(const LbRunSet *s, LbRank r) {
        size_t i = run_below(s, r);
        return i < s->n_runs && s->runs[i].last >= r;
}

static int insert_run(LbRunSet *s, size_t i, LbRun run) {
        if (!GREEDY_REALLOC(s->runs, s->n_allocated, s->n_runs + 1, 4))
                return -ENOMEM;
        memmove(s->runs + i + 1, s->runs + i, (s->n_runs - i) * sizeof(LbRun));
        s->runs[i] = run;
        s->n_runs++;
        return 0;
}

static void delete_run(LbRunSet *s, size_t i) {
        memmove(s->runs + i, s->runs + i + 1, (s->n_runs - i - 1) * sizeof(LbRun));
        s->n_runs--;
}

int lb_run_set_add(LbRunSet *s, LbRank r) {
        size_t i = run_below(s, r);
        LbRun *below = i < s->n_runs ? &s->runs[i] : NULL;
        LbRun *above = i > 0 ? &s->runs[i - 1] : NULL;
        bool join_below, join_above;

        if (below && below->last >= r)
                return -EEXIST;
        join_below = below && below->last + 1 == r;
        join_above = above && above->first == r + 1;
        if (join_below && join_above) {
                below->last = above->last;
                delete_run(s, i - 1);
        } else if (join_below)
                below->last = r;
        else if (join_above)
                above->first = r;
        else
                return insert_run(s, i, (LbRun) { r, r });
        return 0;
}

int lb_run_set_remove(LbRunSet *s, LbRank r) {
        size_t i = run_below(s, r);
        LbRun *run;

        if (i >= s->n_runs || s->runs[i].last < r)
                return -ENOENT;
        run = &s->runs[i];
        if (run->first == run->last)
                delete_run(s, i);
        else if (run->first == r)
                run->first++;
        else if (run->last == r)
                run->last--;
        else {
                /* Split: the upper part stays at i, the lower one goes after it. */
                LbRun lower = { run->first, r - 1 }, upper = { r + 1, run->last };
                int k = insert_run(s, i + 1, lower);
                if (k < 0)
                        return k;
                s->runs[i] = upper;
        }
        return 0;
}
