/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Small helpers every berth file uses: scoped cleanup, ownership hand-off,
 * string comparisons.  Modelled on systemd's conventions (design.md). */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Take ownership out of a _cleanup_ variable: returns the pointer and leaves NULL behind. */
#define TAKE_PTR(p)                                 \
        ({                                          \
                __typeof__(p) _ptr_ = (p);          \
                (p) = NULL;                         \
                _ptr_;                              \
        })

#define TAKE_FD(fd)                                 \
        ({                                          \
                int _fd_ = (fd);                    \
                (fd) = -EBADF;                      \
                _fd_;                               \
        })

/* Defines name##p(type *p) that calls func(*p) when *p is non-NULL; for _cleanup_. */
#define DEFINE_POINTER_CLEANUP(type, func)          \
        static inline void func##p(type **p) {      \
                if (*p)                             \
                        func(*p);                   \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Frees p and returns NULL, for "x = mfree(x)". */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

void closep(int *fd);
#define _cleanup_close_ _cleanup_(closep)

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* strcmp() where NULL (unset) sorts before every string. */
static inline int strcmp_null_first(const char *a, const char *b) {
        if (!a || !b)
                return (a != NULL) - (b != NULL);
        return strcmp(a, b);
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

static inline bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Returns a pointer past prefix in s, or NULL. */
static inline const char *skip_prefix(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Frees *p and sets it to a copy of s (NULL stays NULL); -ENOMEM on failure. */
int free_and_strdup(char **p, const char *s);

/* Binary search in n items sorted by the string (char *) at key_offset in each
 * item: the first index whose string is >= key (n when none is). */
size_t sorted_lower_bound(const void *items, size_t n, size_t item_size, size_t key_offset, const char *key);
#define SORTED_LOWER_BOUND(items, n, key_field, key)                                     \
        sorted_lower_bound((items), (n), sizeof(*(items)), offsetof(typeof(*(items)), key_field), (key))

/* malloc/calloc that abort on allocation failure are NOT used: every
 * allocation is checked and reported as -ENOMEM. */
#define new0(type, n) ((type *) calloc((n), sizeof(type)))

/* Errno returned by functions below berth's own wrappers, always negative. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* Closes an open_memstream() stream and returns what it wrote into *buf
 * (which fclose() sets), or NULL (and *buf freed) when that failed. */
char *memstream_finish(FILE *f, char **buf);

/* Makes room for `need` items in *items, whose capacity is *allocated,
 * doubling from `initial`.  Returns false on -ENOMEM, leaving both alone. */
bool greedy_realloc(void **items, size_t *allocated, size_t need, size_t item_size, size_t initial);
#define GREEDY_REALLOC(items, allocated, need, initial) \
        greedy_realloc((void **) &(items), &(allocated), (need), sizeof(*(items)), (initial))

/* bsearch() with an empty array allowed: its base may then be NULL, which
 * bsearch() itself must not be given (UBSan reports it). */
static inline void *bsearch_safe(const void *key, const void *base, size_t n, size_t size,
                                 int (*compare)(const void *, const void *)) {
        return n == 0 ? NULL : bsearch(key, base, n, size, compare);
}
