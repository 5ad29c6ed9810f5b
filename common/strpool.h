/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reference-counted string interning: many objects share one copy of a
 * namespace, a label key or a label value.  A pool is owned by whoever
 * builds it (a cache, a test) and passed down; no global pool exists. */

#include <stddef.h>

#include "macros.h"

typedef struct StrPool StrPool;

StrPool *strpool_new(void);
/* Frees the pool; every string still interned is freed with it. */
StrPool *strpool_free(StrPool *p);
DEFINE_POINTER_CLEANUP(StrPool, strpool_free);

/* Returns the pool's copy of s[0..len) (NUL-terminated), taking a
 * reference; NULL on -ENOMEM. */
const char *strpool_intern(StrPool *p, const char *s, size_t len);
static inline const char *strpool_intern0(StrPool *p, const char *s) {
        return strpool_intern(p, s, strlen(s));
}
/* Drops one reference taken by strpool_intern (NULL s is a no-op). */
void strpool_release(StrPool *p, const char *s);
size_t strpool_count(const StrPool *p);
size_t strpool_bytes(const StrPool *p);
