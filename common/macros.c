/* SPDX-License-Identifier: Apache-2.0 */
#include <unistd.h>

#include "macros.h"

void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

int free_and_strdup(char **p, const char *s) {
        char *copy = NULL;

        if (s) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        free(*p);
        *p = copy;
        return 0;
}

size_t sorted_lower_bound(const void *items, size_t n, size_t item_size, size_t key_offset, const char *key) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *k;

                memcpy(&k, (const char *) items + mid * item_size + key_offset, sizeof k);
                if (strcmp(k, key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

bool greedy_realloc(void **items, size_t *allocated, size_t need, size_t item_size, size_t initial) {
        size_t n = *allocated ? *allocated : initial;
        void *p;

        if (need <= *allocated)
                return true;
        while (n < need)
                n *= 2;
        p = reallocarray(*items, n, item_size);
        if (!p)
                return false;
        *items = p;
        *allocated = n;
        return true;
}

char *memstream_finish(FILE *f, char **buf) {
        if (fclose(f) != 0) {
                free(*buf);
                *buf = NULL;
                return NULL;
        }
        return *buf;
}
