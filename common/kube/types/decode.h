/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the per-kind decoders and encoders: typed field
 * getters that name the field path in their error, string lists, object
 * references, conditions and honest heap accounting.
 *
 * Getter convention: the field absent or null -> 0 (output untouched);
 * present and of the right type -> 1; wrong type -> -EINVAL with
 * "<path>.<key>: expected ..." in *err.  The path is a printf format
 * (with its arguments) that is only formatted on error, so the happy path
 * costs nothing; "" means the top level. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "json.h"
#include "macros.h"
#include "object.h"
#include "strpool.h"
#include "timeutil.h"

/* Formats *err (when err is not NULL) and returns -EINVAL. */
int decode_error(char **err, const char *fmt, ...) _printf_(2, 3);

int dec_string_ref(const JsonValue *o, const char *key, const char **ret, char **err, const char *pfmt, ...)
        _printf_(5, 6);
int dec_strdup(const JsonValue *o, const char *key, char **ret, char **err, const char *pfmt, ...) _printf_(5, 6);
int dec_intern(StrPool *pool, const JsonValue *o, const char *key, const char **ret, char **err, const char *pfmt,
               ...) _printf_(6, 7);
int dec_int64(const JsonValue *o, const char *key, int64_t *ret, char **err, const char *pfmt, ...) _printf_(5, 6);
int dec_int32(const JsonValue *o, const char *key, int32_t *ret, char **err, const char *pfmt, ...) _printf_(5, 6);
int dec_bool(const JsonValue *o, const char *key, bool *ret, char **err, const char *pfmt, ...) _printf_(5, 6);
/* RFC 3339 string -> usec_t. */
int dec_time(const JsonValue *o, const char *key, usec_t *ret, char **err, const char *pfmt, ...) _printf_(5, 6);
int dec_object(const JsonValue *o, const char *key, const JsonValue **ret, char **err, const char *pfmt, ...)
        _printf_(5, 6);
int dec_array(const JsonValue *o, const char *key, const JsonValue **ret, char **err, const char *pfmt, ...)
        _printf_(5, 6);

/* Replaces *slot (an interned string or NULL) by an interned copy of s. */
int intern_replace(StrPool *pool, const char **slot, const char *s);

/* glibc's cost of one malloc(n): what memory_size() counts. */
static inline size_t heap_size(size_t n) {
        size_t c = (n + sizeof(size_t) + 15u) & ~(size_t) 15u;
        return n == 0 ? 0 : (c < 32 ? 32 : c);
}
static inline size_t heap_strsize(const char *s) {
        return s ? heap_size(strlen(s) + 1) : 0;
}

/* ---- string lists -------------------------------------------------------- */

/* Owned strings packed in one allocation (items[] then the bytes). */
typedef struct StrList {
        size_t n;
        char **items;
} StrList;

/* An array of strings; NULL/absent gives an empty list. */
int strlist_decode(const JsonValue *o, const char *key, StrList *ret, char **err, const char *pfmt, ...)
        _printf_(5, 6);
int strlist_from(const char *const *strs, size_t n, StrList *ret);
void strlist_done(StrList *l);
size_t strlist_memory_size(const StrList *l);
int strlist_encode(const StrList *l, yajl_gen g);
bool strlist_equal(const StrList *a, const StrList *b);

/* Interned strings (namespace lists, zone names). */
typedef struct InternList {
        size_t n;
        const char **items;
} InternList;

/* Same strings in the same order (interned strings may come from different pools). */
bool internlist_equal(const InternList *a, const InternList *b);
int internlist_decode(StrPool *pool, const JsonValue *o, const char *key, InternList *ret, char **err,
                      const char *pfmt, ...) _printf_(6, 7);
void internlist_done(InternList *l, StrPool *pool);
size_t internlist_memory_size(const InternList *l);
int internlist_encode(const InternList *l, yajl_gen g);

/* ---- StrMap -------------------------------------------------------------- */

/* A JSON object of strings; keep = NULL-terminated keys to keep, or NULL for all. */
int strmap_decode(StrPool *pool, const JsonValue *v, const char *const *keep, StrMap *ret, char **err,
                  const char *path);
void strmap_done(StrMap *m, StrPool *pool);
size_t strmap_memory_size(const StrMap *m);
int strmap_encode(const StrMap *m, yajl_gen g);
/* Sets key=value (both interned into pool), keeping the map sorted; value NULL removes key. */
int strmap_set(StrMap *m, StrPool *pool, const char *key, const char *value);

/* ---- shared small structs ------------------------------------------------ */

typedef enum KubeTristate {
        KUBE_UNSET = 0,
        KUBE_FALSE,
        KUBE_TRUE,
} KubeTristate;

int dec_tristate(const JsonValue *o, const char *key, KubeTristate *ret, char **err, const char *pfmt, ...)
        _printf_(5, 6);

typedef enum ConditionStatus {
        CONDITION_NONE = 0, /* no such condition */
        CONDITION_TRUE,
        CONDITION_FALSE,
        CONDITION_UNKNOWN,
} ConditionStatus;
ConditionStatus condition_status_from_string(const char *s);
const char *condition_status_to_string(ConditionStatus s);

/* metav1.Condition (and the core condition shapes, which are a subset). */
typedef struct KubeCondition {
        const char *type;   /* interned */
        ConditionStatus status;
        int64_t observed_generation;
        usec_t last_transition_time;
        const char *reason; /* interned */
        char *message;
} KubeCondition;

typedef struct KubeConditions {
        size_t n;
        KubeCondition *items;
} KubeConditions;

int conditions_decode(StrPool *pool, const JsonValue *o, const char *key, KubeConditions *ret, char **err,
                      const char *path);
void conditions_done(KubeConditions *c, StrPool *pool);
size_t conditions_memory_size(const KubeConditions *c);
/* Writes metav1.Condition objects (lastTransitionTime in whole seconds). */
int conditions_encode(const KubeConditions *c, yajl_gen g);
const KubeCondition *conditions_find(const KubeConditions *c, const char *type);

/* core/v1 ObjectReference (targetRef, Event regarding). */
typedef struct KubeObjectRef {
        const char *api_version; /* interned, may be NULL */
        const char *kind;        /* interned */
        const char *namespace;   /* interned */
        char *name;
        char *uid;
        char *resource_version;
        char *field_path;
} KubeObjectRef;

int objref_decode(StrPool *pool, const JsonValue *v, KubeObjectRef *ret, char **err, const char *path);
void objref_done(KubeObjectRef *r, StrPool *pool);
size_t objref_memory_size(const KubeObjectRef *r);
/* Writes the set fields as an object. */
int objref_encode(const KubeObjectRef *r, yajl_gen g);

/* metav1.OwnerReference. */
typedef struct OwnerReference {
        const char *api_version; /* interned */
        const char *kind;        /* interned */
        char *name;
        char *uid;
        KubeTristate controller;
        KubeTristate block_owner_deletion;
} OwnerReference;

typedef struct OwnerReferences {
        size_t n;
        OwnerReference *items;
} OwnerReferences;

int ownerrefs_decode(StrPool *pool, const JsonValue *metadata, OwnerReferences *ret, char **err);
void ownerrefs_done(OwnerReferences *o, StrPool *pool);
size_t ownerrefs_memory_size(const OwnerReferences *o);
int ownerrefs_encode(const OwnerReferences *o, yajl_gen g);
/* object_meta_encode() plus the metadata fields only some kinds carry: generateName (written
 * only while the name is unset) and ownerReferences; either may be NULL. */
int object_meta_encode_owned(const ObjectMeta *m, const char *generate_name, const OwnerReferences *owners,
                             yajl_gen g);
/* The reference with controller: true, or NULL. */
const OwnerReference *ownerrefs_controller(const OwnerReferences *o);

/* ---- encoding helpers ---------------------------------------------------- */

/* Each writes "key": value; the _opt variants write nothing for NULL/unset. */
int gen_kv_str_opt(yajl_gen g, const char *key, const char *value);
int gen_kv_time(yajl_gen g, const char *key, usec_t t);       /* whole seconds; nothing when 0 */
int gen_kv_microtime(yajl_gen g, const char *key, usec_t t);  /* six digits; nothing when 0 */
int gen_kv_tristate(yajl_gen g, const char *key, KubeTristate t);
int gen_key(yajl_gen g, const char *key);

/* Writes "apiVersion", "kind" of kind. */
int gen_type_meta(yajl_gen g, const KubeKind *kind);

/* Kind object allocation with the base filled in (refcount 1). */
void *kube_object_alloc(const KubeKind *kind, size_t size, StrPool *pool);

/* Interns "TCP" when *protocol is NULL (endpoints.md §3). */
int protocol_default(StrPool *pool, const char **protocol);

/* Propagates r < 0 (used as: if ((r = ...) < 0) return r;). */
#define RET_NERRNO(expr)                 \
        do {                             \
                int _r_ = (expr);        \
                if (_r_ < 0)             \
                        return _r_;      \
        } while (0)
