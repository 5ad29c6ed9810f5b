/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A plain text table that fits a width (berthctl's 100 columns): columns
 * separated by two spaces, no trailing blanks.  When the rows are too wide
 * the elidable columns give up width, the widest first, and their cells
 * lose their middle ("shop/a-very-lo..ice-name") so both ends stay
 * readable; other columns are never cut. */

#include <stdbool.h>
#include <stdio.h>

#include "macros.h"

#define TABLE_WIDTH 100
#define TABLE_MAX_COLUMNS 8

typedef struct Table Table;

/* headers: n_columns texts; elidable: which columns may be cut (may be NULL). */
int table_new(size_t n_columns, const char *const *headers, const bool *elidable, Table **ret);
Table *table_free(Table *t);
DEFINE_POINTER_CLEANUP(Table, table_free);

/* Appends a row of n_columns cells (copied; NULL prints as "-"). */
int table_add_row(Table *t, const char *const *cells);
/* Prints header and rows within width columns. */
int table_print(const Table *t, size_t width, FILE *f);

/* s cut to at most width bytes, its middle replaced by ".."; malloc'd. */
char *elide_middle(const char *s, size_t width);
