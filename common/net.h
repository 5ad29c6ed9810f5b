/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* IP addresses, families, CIDRs and ranges as berth's controllers need
 * them: canonical text (IPv4 dotted decimal without leading zeros, IPv6 in
 * RFC 5952 form; an IPv4-mapped IPv6 address counts as IPv4), ordering, and
 * the address classes the API server's validation rejects. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

typedef enum IpFamily {
        IP_FAMILY_NONE = 0,
        IP_FAMILY_V4 = 4,
        IP_FAMILY_V6 = 6,
} IpFamily;

/* An address in 16 bytes: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so
 * comparisons and arithmetic need no case split. */
typedef struct IpAddr {
        uint8_t bytes[16];
        IpFamily family;
} IpAddr;

#define IP_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Strict parse: "10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1" (-> IPv4).
 * Rejects leading zeros in IPv4 octets ("010.0.0.1"), as Go's
 * netip.ParseAddr and the API server do, and zone suffixes.  -EINVAL. */
int ip_addr_parse(const char *s, IpAddr *ret);
/* As the API server's own validation parses pod and endpoint IPs
 * (ParseIPSloppy): IPv4 octets with leading zeros are read as decimal
 * ("010.0.0.1" is 10.0.0.1).  Output is canonical either way. */
int ip_addr_parse_sloppy(const char *s, IpAddr *ret);
const char *ip_addr_format(const IpAddr *a, char buf[static IP_ADDR_STRLEN]);
int ip_addr_compare(const IpAddr *a, const IpAddr *b); /* IPv4 before IPv6, then numeric */
bool ip_addr_equal(const IpAddr *a, const IpAddr *b);
const char *ip_family_to_string(IpFamily f); /* "IPv4", "IPv6" */
IpFamily ip_family_from_string(const char *s);

/* Adds n (may be negative) to a; -ERANGE when it leaves the family. */
int ip_addr_add(const IpAddr *a, int64_t n, IpAddr *ret);

typedef enum IpClass {
        IP_CLASS_ORDINARY = 0,
        IP_CLASS_UNSPECIFIED,            /* 0.0.0.0, :: */
        IP_CLASS_LOOPBACK,               /* 127.0.0.0/8, ::1 */
        IP_CLASS_LINK_LOCAL,             /* 169.254.0.0/16, fe80::/10 */
        IP_CLASS_LINK_LOCAL_MULTICAST,   /* 224.0.0.0/24, ffX2::/16 */
} IpClass;
IpClass ip_addr_class(const IpAddr *a);

typedef struct IpCidr {
        IpAddr addr;       /* network address (host bits cleared) */
        unsigned prefix;   /* 0..32 for IPv4, 0..128 for IPv6 */
} IpCidr;

/* "10.0.0.0/24".  strict: host bits must be zero (-EINVAL otherwise). */
int ip_cidr_parse(const char *s, bool strict, IpCidr *ret);
bool ip_cidr_contains(const IpCidr *c, const IpAddr *a);
/* First and last address of the block. */
void ip_cidr_bounds(const IpCidr *c, IpAddr *ret_first, IpAddr *ret_last);

/* Number of addresses in [first, last], saturating at UINT64_MAX. */
uint64_t ip_range_size(const IpAddr *first, const IpAddr *last);
