/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* JSON in berth: a read-only document tree parsed by yajl's event parser into
 * one arena (one allocation chain per document, freed at once), with hard
 * caps on depth and size, and typed, checked accessors.  Decoders walk the
 * tree and copy the few fields they keep; the tree is then freed, so raw
 * JSON is never retained.  Output goes through yajl_gen with the helpers at
 * the end of this file. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "macros.h"

#define JSON_DEFAULT_MAX_DEPTH 64
#define JSON_DEFAULT_MAX_BYTES (16u * 1024u * 1024u)

typedef enum JsonType {
        JSON_NULL,
        JSON_BOOL,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
typedef struct JsonDoc JsonDoc;

typedef struct JsonLimits {
        unsigned max_depth; /* 0 = JSON_DEFAULT_MAX_DEPTH */
        size_t max_bytes;   /* 0 = JSON_DEFAULT_MAX_BYTES */
        /* By default the value of "managedFields" inside any "metadata"
         * object is validated but not kept in the tree: berth never reads
         * it and it is often half of an object's bytes.  Set to keep it. */
        bool keep_managed_fields;
} JsonLimits;

/* Parses exactly one JSON value (surrounding white space allowed).
 * Errors: -EINVAL malformed (ret_error says where/what), -E2BIG over
 * max_bytes, -ELOOP deeper than max_depth, -ENOMEM.  ret_error, when not
 * NULL, receives a malloc'd one-line message on failure. */
int json_parse(const char *buf, size_t len, const JsonLimits *limits, JsonDoc **ret_doc, char **ret_error);
JsonDoc *json_doc_free(JsonDoc *doc);
DEFINE_POINTER_CLEANUP(JsonDoc, json_doc_free);
const JsonValue *json_doc_root(const JsonDoc *doc);

/* Builds documents programmatically (the offline source turns YAML into
 * these).  Values belong to the document's arena. */
int json_doc_new(JsonDoc **ret_doc);
JsonValue *json_new_null(JsonDoc *doc);
JsonValue *json_new_bool(JsonDoc *doc, bool b);
/* text is the number's literal; kept as written. */
JsonValue *json_new_number(JsonDoc *doc, const char *text, size_t len);
JsonValue *json_new_string(JsonDoc *doc, const char *s, size_t len);
JsonValue *json_new_array(JsonDoc *doc);
JsonValue *json_new_object(JsonDoc *doc);
int json_array_append(JsonDoc *doc, JsonValue *array, JsonValue *item);
/* Appends key/value; a later duplicate key shadows nothing (first wins on lookup, as kube-apiserver's decoder rejects dups anyway). */
int json_object_append(JsonDoc *doc, JsonValue *object, const char *key, size_t key_len, JsonValue *value);
void json_doc_set_root(JsonDoc *doc, JsonValue *root);

/* Accessors.  All accept NULL and return NULL/0/false for NULL or a value
 * of another type, so chains like json_get(json_get(v, "metadata"), "name")
 * are safe. */
JsonType json_type(const JsonValue *v);
const JsonValue *json_get(const JsonValue *object, const char *key);
/* json_get_path(v, "status", "podIPs"): the keys in turn; the macro adds
 * the typed terminator, so callers never pass a bare NULL through "...". */
const JsonValue *json_get_path_internal(const JsonValue *v, ...) __attribute__((sentinel));
#define json_get_path(v, ...) json_get_path_internal((v), __VA_ARGS__, (const char *) NULL)
/* NUL-terminated string, or NULL when v is not a string. Strings may hold NUL bytes: use json_string_len. */
const char *json_string(const JsonValue *v);
size_t json_string_len(const JsonValue *v);
/* Convenience: json_string(json_get(object, key)). */
const char *json_get_string(const JsonValue *object, const char *key);
/* The literal text of a number, or NULL. */
const char *json_number_text(const JsonValue *v);
/* -EINVAL not a number or not an integer, -ERANGE does not fit. */
int json_int64(const JsonValue *v, int64_t *ret);
int json_double(const JsonValue *v, double *ret);
/* -EINVAL when not a bool. */
int json_bool(const JsonValue *v, bool *ret);
bool json_is_null(const JsonValue *v);
size_t json_array_len(const JsonValue *v);
const JsonValue *json_array_at(const JsonValue *v, size_t i);
size_t json_object_len(const JsonValue *v);
/* i-th member in document order; *ret_key receives its key. */
const JsonValue *json_object_at(const JsonValue *v, size_t i, const char **ret_key);

/* Iteration helpers. */
#define JSON_ARRAY_FOREACH(item, array)                                                   \
        for (size_t _i_##item = 0;                                                        \
             ((item) = json_array_at((array), _i_##item)) != NULL; _i_##item++)
#define JSON_OBJECT_FOREACH(key, value, object)                                           \
        for (size_t _i_##value = 0;                                                       \
             ((value) = json_object_at((object), _i_##value, &(key))) != NULL; _i_##value++)

/* Writes v (and all below it) to g. */
int json_write(yajl_gen g, const JsonValue *v);

/* ---- generation ---------------------------------------------------------- */

/* A yajl generator with berth's settings (no beautify unless asked;
 * validate UTF-8). */
yajl_gen json_gen_new(bool beautify);
void json_gen_freep(yajl_gen *g);
#define _cleanup_json_gen_ _cleanup_(json_gen_freep)
/* Copies the generated text out as a NUL-terminated malloc'd string. */
int json_gen_take(yajl_gen g, char **ret, size_t *ret_len);

/* Each returns 0 or -EINVAL/-ENOMEM (a yajl_gen_status mapped to -errno). */
int json_gen_str(yajl_gen g, const char *s);          /* NULL writes null */
int json_gen_strn(yajl_gen g, const char *s, size_t len);
int json_gen_int(yajl_gen g, int64_t n);
int json_gen_bool(yajl_gen g, bool b);
int json_gen_null(yajl_gen g);
int json_gen_map_open(yajl_gen g);
int json_gen_map_close(yajl_gen g);
int json_gen_array_open(yajl_gen g);
int json_gen_array_close(yajl_gen g);
/* key + value in one call. */
int json_gen_kv_str(yajl_gen g, const char *key, const char *value);
int json_gen_kv_int(yajl_gen g, const char *key, int64_t value);
int json_gen_kv_bool(yajl_gen g, const char *key, bool value);
