/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Whole-object JSON operations the offline source needs to behave like the
 * API server: JSON merge patch (RFC 7386), semantic equality (to skip
 * no-op writes as the server does) and replacing top-level members (status
 * and spec subresource rules).  Results are written to a yajl generator;
 * json_reparse() turns generated text back into a document. */

#include <stdbool.h>

#include <yajl/yajl_gen.h>

#include "json.h"

/* Writes the RFC 7386 merge of patch onto target (target NULL = absent). */
int json_merge_patch_write(yajl_gen g, const JsonValue *target, const JsonValue *patch);

/* Writes object with its top-level member key replaced by value (value
 * NULL removes it; a missing key is appended).  Not an object: -EINVAL. */
int json_write_replacing(yajl_gen g, const JsonValue *object, const char *key, const JsonValue *value);

/* Deep equality; objects compare as sets of members (order ignored),
 * numbers by their value when both are integers, else by literal. */
bool json_equal(const JsonValue *a, const JsonValue *b);

/* Takes the generator's text and parses it into a new document. */
int json_reparse(yajl_gen g, JsonDoc **ret);
