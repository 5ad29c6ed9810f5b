/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <time.h>

/* Microseconds since the Unix epoch (wall clock) or of CLOCK_MONOTONIC,
 * as in systemd.  0 means "unset" for timestamps. */
typedef uint64_t usec_t;
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

usec_t now_usec(clockid_t clock);

/* RFC 3339 with optional fraction (kube Time and MicroTime):
 * "2018-01-01T00:00:00Z", "2018-01-01T00:00:00.123456Z", offsets allowed.
 * -EINVAL on malformed input.  Sub-microsecond digits are truncated. */
int rfc3339_parse(const char *s, usec_t *ret);
/* UTC, "Z", fraction only when non-zero and without trailing zeros
 * (endpoints.md §6.5).  buf needs RFC3339_MAX bytes. */
#define RFC3339_MAX 40
const char *rfc3339_format(usec_t t, char buf[static RFC3339_MAX]);
/* metav1.Time: whole seconds, "2018-01-01T00:00:00Z". */
const char *rfc3339_format_seconds(usec_t t, char buf[static RFC3339_MAX]);
/* metav1.MicroTime: always six fraction digits, "2018-01-01T00:00:00.000000Z". */
const char *rfc3339_format_micro(usec_t t, char buf[static RFC3339_MAX]);

/* Go duration syntax ("250ms", "1m30s", "1.5h", "0"); -EINVAL malformed,
 * -ERANGE negative or overflowing. */
int duration_parse(const char *s, usec_t *ret);
