/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The free structure behind lb_alloc (lbipam.md §7.2, §10, issue #5):
 *
 * - Rank arithmetic.  An address's rank inside one CIDR is its position
 *   among the CIDR's usable addresses: buggy IPv4 addresses (last octet 0
 *   or 255) are skipped when the pool avoids them.  lb_cidr_rank() and
 *   lb_cidr_unrank() are O(1) arithmetic, in 128 bits so that an IPv6 /0
 *   works; no CIDR is ever enumerated.
 *
 * - LbRunSet: the allocated ranks of one CIDR as disjoint, non-adjacent
 *   inclusive runs [first, last], stored in DESCENDING order.  Inclusive
 *   ends because a /0 holds 2^128 addresses: its last rank fits in 128
 *   bits, its end does not.  Descending because allocation always takes
 *   the lowest free rank, which lives at the array's tail: that insert
 *   touches the last one or two runs and moves nothing.
 *
 *   Cost, with R = number of runs (not addresses):
 *     lb_run_set_first_free   O(1)
 *     lb_run_set_contains     O(log R)
 *     lb_run_set_add          O(log R) search; a new run or a merge that
 *                             removes one shifts the runs below it
 *                             (a memmove; none when filling the lowest hole)
 *     lb_run_set_remove       O(log R) search; a split shifts likewise
 *   Memory: 32 bytes per run; 10,000 consecutive allocations are 1 run. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

typedef unsigned __int128 LbRank;

/* The value of a within its family: the low 32 bits for IPv4. */
LbRank lb_addr_value(const IpAddr *a);
/* The address of family f with value v (truncated to 32 bits for IPv4). */
IpAddr lb_addr_from_value(IpFamily f, LbRank v);

/* The rank of the CIDR's last usable address: false when the CIDR has no
 * usable address (a buggy /32 that the pool avoids). */
bool lb_cidr_max_rank(const IpCidr *c, bool avoid_buggy, LbRank *ret);
/* The rank of a inside c; false when a is outside c or avoided. */
bool lb_cidr_rank(const IpCidr *c, bool avoid_buggy, const IpAddr *a, LbRank *ret);
/* The address of rank r inside c (r <= the max rank). */
IpAddr lb_cidr_unrank(const IpCidr *c, bool avoid_buggy, LbRank r);

typedef struct LbRun {
        LbRank first, last;
} LbRun;

typedef struct LbRunSet {
        LbRun *runs;          /* descending, disjoint, never adjacent */
        size_t n_runs, n_allocated;
} LbRunSet;

void lb_run_set_done(LbRunSet *s);
/* The lowest rank <= max_rank not in s; false when all are. */
bool lb_run_set_first_free(const LbRunSet *s, LbRank max_rank, LbRank *ret);
bool lb_run_set_contains(const LbRunSet *s, LbRank r);
/* -EEXIST when r is already in s, -ENOMEM. */
int lb_run_set_add(LbRunSet *s, LbRank r);
/* -ENOENT when r is not in s. */
int lb_run_set_remove(LbRunSet *s, LbRank r);
