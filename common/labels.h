/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Label selector evaluation (design.md "net ... label selectors"):
 * a Service's spec.selector (a plain map) and metav1.LabelSelector
 * (matchLabels + matchExpressions) against an object's labels, with the
 * API server's validation of a selector. */

#include <stdbool.h>

#include "object.h"
#include "selector.h"

/* Every key of selector is in labels with the same value.  An empty map
 * matches everything (a nil Service selector is the caller's business). */
bool label_map_matches(const StrMap *selector, const StrMap *labels);

/* matchLabels AND every expression; an empty selector matches everything,
 * as metav1.LabelSelectorAsSelector does.  A selector that fails
 * label_selector_validate() matches nothing. */
bool label_selector_matches(const LabelSelector *s, const StrMap *labels);

/* NULL when valid, else a malloc'd message naming the part
 * ("matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"). */
char *label_selector_validate(const LabelSelector *s);
/* Keys and values of a plain selector map (Service spec.selector). */
char *label_map_validate(const StrMap *m);
