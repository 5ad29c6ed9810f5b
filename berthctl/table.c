/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define GAP 2
/* An elided cell keeps at least this much, whatever the width. */
#define MIN_ELIDED 8

struct Table {
        size_t n_columns;
        char *headers[TABLE_MAX_COLUMNS];
        bool elidable[TABLE_MAX_COLUMNS];
        size_t n_rows;
        char **cells; /* n_rows * n_columns */
};

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_columns; i++)
                free(t->headers[i]);
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int table_new(size_t n_columns, const char *const *headers, const bool *elidable, Table **ret) {
        _cleanup_(table_freep) Table *t = NULL;

        if (n_columns == 0 || n_columns > TABLE_MAX_COLUMNS)
                return -EINVAL;
        t = new0(Table, 1);
        if (!t)
                return -ENOMEM;
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        return -ENOMEM;
                t->elidable[i] = elidable && elidable[i];
        }
        *ret = TAKE_PTR(t);
        return 0;
}

int table_add_row(Table *t, const char *const *cells) {
        char **v = reallocarray(t->cells, (t->n_rows + 1) * t->n_columns, sizeof(char *));

        if (!v)
                return -ENOMEM;
        t->cells = v;
        v += t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++)
                v[i] = NULL;
        t->n_rows++;
        for (size_t i = 0; i < t->n_columns; i++) {
                v[i] = strdup(cells[i] ? cells[i] : "-");
                if (!v[i])
                        return -ENOMEM;
        }
        return 0;
}

char *elide_middle(const char *s, size_t width) {
        size_t len = strlen(s), head, tail;
        char *e;

        if (len <= width)
                return strdup(s);
        if (width < 3)
                return strndup(s, width);
        /* the end often tells names apart (-canary, -v2): keep a bit more of it */
        head = (width - 2) / 2;
        tail = width - 2 - head;
        e = malloc(width + 1);
        if (!e)
                return NULL;
        memcpy(e, s, head);
        memcpy(e + head, "..", 2);
        memcpy(e + head + 2, s + len - tail, tail);
        e[width] = '\0';
        return e;
}

static size_t total_width(const size_t *w, size_t n) {
        size_t sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += w[i] + (i > 0 ? GAP : 0);
        return sum;
}

static int print_row(const Table *t, char *const *cells, const size_t *w, FILE *f) {
        for (size_t i = 0; i < t->n_columns; i++) {
                _cleanup_free_ char *e = elide_middle(cells[i], w[i]);
                if (!e)
                        return -ENOMEM;
                if (i + 1 < t->n_columns)
                        fprintf(f, "%-*s%*s", (int) w[i], e, GAP, "");
                else
                        fputs(e, f);
        }
        fputc('\n', f);
        return 0;
}

int table_print(const Table *t, size_t width, FILE *f) {
        size_t w[TABLE_MAX_COLUMNS] = {};
        int r;

        for (size_t i = 0; i < t->n_columns; i++) {
                w[i] = strlen(t->headers[i]);
                for (size_t k = 0; k < t->n_rows; k++) {
                        size_t l = strlen(t->cells[k * t->n_columns + i]);
                        if (l > w[i])
                                w[i] = l;
                }
        }
        /* shrink the widest elidable column one step at a time */
        while (total_width(w, t->n_columns) > width) {
                size_t widest = SIZE_MAX;
                for (size_t i = 0; i < t->n_columns; i++)
                        if (t->elidable[i] && w[i] > MIN_ELIDED && w[i] > strlen(t->headers[i]) &&
                            (widest == SIZE_MAX || w[i] > w[widest]))
                                widest = i;
                if (widest == SIZE_MAX)
                        break; /* nothing left to cut: print wider */
                w[widest]--;
        }
        r = print_row(t, t->headers, w, f);
        for (size_t k = 0; r >= 0 && k < t->n_rows; k++)
                r = print_row(t, t->cells + k * t->n_columns, w, f);
        if (r >= 0 && ferror(f))
                r = -EIO;
        return r;
}
