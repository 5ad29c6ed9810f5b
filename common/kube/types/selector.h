/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* metav1.LabelSelector as decoded data; evaluation lives in common/net.
 * Requirements keep their order and duplicates as written, because the
 * configuration parser reports duplicates (lbipam.md §3). */

#include "decode.h"

typedef enum LabelSelectorOperator {
        LABEL_OP_IN,
        LABEL_OP_NOT_IN,
        LABEL_OP_EXISTS,
        LABEL_OP_DOES_NOT_EXIST,
        LABEL_OP_INVALID, /* see operator_name */
} LabelSelectorOperator;

typedef struct LabelSelectorRequirement {
        const char *key;           /* interned */
        LabelSelectorOperator op;
        const char *operator_name; /* interned, as written */
        InternList values;
} LabelSelectorRequirement;

typedef struct LabelSelector {
        StrMap match_labels;
        size_t n_expressions;
        LabelSelectorRequirement *expressions;
} LabelSelector;

/* A list of selectors (nodeSelectors, serviceSelectors, ...). */
typedef struct LabelSelectors {
        size_t n;
        LabelSelector *items;
} LabelSelectors;

/* v must be an object (null gives an empty selector); path names it in errors. */
int label_selector_decode(StrPool *pool, const JsonValue *v, LabelSelector *ret, char **err, const char *path);
void label_selector_done(LabelSelector *s, StrPool *pool);
size_t label_selector_memory_size(const LabelSelector *s);
int label_selector_encode(const LabelSelector *s, yajl_gen g);
bool label_selector_is_empty(const LabelSelector *s);
/* Same requirements as written, in the same order. */
bool label_selectors_equal(const LabelSelectors *a, const LabelSelectors *b);

/* o[key] as an array of selectors; absent gives an empty list. */
int label_selectors_decode(StrPool *pool, const JsonValue *o, const char *key, LabelSelectors *ret, char **err,
                           const char *path);
void label_selectors_done(LabelSelectors *l, StrPool *pool);
size_t label_selectors_memory_size(const LabelSelectors *l);
int label_selectors_encode(const LabelSelectors *l, yajl_gen g);

LabelSelectorOperator label_selector_operator_from_string(const char *s);
