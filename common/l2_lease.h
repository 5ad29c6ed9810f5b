/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One speaker Lease (speaker.md §3) as every reader sees it: which node it
 * names, its duration, its berth.io/announcing claims, and its liveness at
 * a fixed clock (offline, §13).  Pure code in common/ so that berth-speaker
 * (speaker/membership.h builds the peer table on it) and berth-controller's
 * -o table read leases identically, without linking libnl or libpcap.  The
 * names keep the membership_ prefix of the peer table they belong to. */

#include <stdbool.h>
#include <stddef.h>

#include "lease_object.h"
#include "net.h"
#include "timeutil.h"

#define SPEAKER_LEASE_PREFIX "berth-speaker-"

/* The node a speaker lease names ("berth-speaker-<node>" → "<node>"), or
 * NULL when the name lacks the prefix or holderIdentity is not that node:
 * such a lease is ignored (§3). */
const char *membership_lease_node(const Lease *l);
/* The lease's duration: the annotation when it is a positive integer,
 * otherwise leaseDurationSeconds × 1 s; 0 when neither is usable. */
usec_t membership_lease_duration(const Lease *l);
/* Parses a berth.io/announcing value ("192.0.2.10,2001:db8::a"; NULL or ""
 * = none) into a sorted, de-duplicated malloc'd array.  Unparsable items
 * are skipped (a peer's typo must not hide its other claims). */
int membership_parse_announcing(const char *value, IpAddr **ret, size_t *ret_n);
/* Formats ips as the annotation value: sorted (ip_addr_compare), unique,
 * canonical text, comma-separated; "" for none.  ips is not modified. */
int membership_format_announcing(const IpAddr *ips, size_t n, char **ret);
/* Offline liveness (§13): renewTime + duration > now (wall clock, --now).
 * False for ignored leases and leases without renewTime or duration. */
bool membership_offline_live(const Lease *l, usec_t now);
