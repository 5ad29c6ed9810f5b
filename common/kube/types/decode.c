/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int decode_error(char **err, const char *fmt, ...) {
        va_list ap;
        if (err) {
                free(*err);
                va_start(ap, fmt);
                if (vasprintf(err, fmt, ap) < 0)
                        *err = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* "<path>.<key>: <why>" with path formatted from pfmt/ap. */
static int field_error(char **err, const char *key, const char *why, const char *pfmt, va_list ap)
        _printf_(4, 0);
static int field_error(char **err, const char *key, const char *why, const char *pfmt, va_list ap) {
        char *path = NULL;
        if (!err)
                return -EINVAL;
        if (vasprintf(&path, pfmt, ap) < 0)
                return -ENOMEM;
        decode_error(err, "%s%s%s: %s", path, *path && key ? "." : "", strempty(key), why);
        free(path);
        return -EINVAL;
}

#define FIELD_FAIL(why)                                             \
        ({                                                          \
                va_list _ap;                                        \
                va_start(_ap, pfmt);                                \
                int _r = field_error(err, key, (why), pfmt, _ap);   \
                va_end(_ap);                                        \
                _r;                                                 \
        })

/* Absent or null: 0.  Otherwise the value in *ret_v and 1. */
static int present(const JsonValue *o, const char *key, const JsonValue **ret_v) {
        const JsonValue *v = key ? json_get(o, key) : o;
        if (!v || json_is_null(v))
                return 0;
        *ret_v = v;
        return 1;
}

int dec_string_ref(const JsonValue *o, const char *key, const char **ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_STRING)
                return FIELD_FAIL("expected a string");
        *ret = json_string(v);
        return 1;
}

int dec_strdup(const JsonValue *o, const char *key, char **ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        char *s;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_STRING)
                return FIELD_FAIL("expected a string");
        s = strndup(json_string(v), json_string_len(v));
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 1;
}

int dec_intern(StrPool *pool, const JsonValue *o, const char *key, const char **ret, char **err, const char *pfmt,
               ...) {
        const JsonValue *v;
        const char *s;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_STRING)
                return FIELD_FAIL("expected a string");
        s = strpool_intern(pool, json_string(v), json_string_len(v));
        if (!s)
                return -ENOMEM;
        strpool_release(pool, *ret);
        *ret = s;
        return 1;
}

int dec_int64(const JsonValue *o, const char *key, int64_t *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        int64_t n;
        int r;
        if (!present(o, key, &v))
                return 0;
        r = json_int64(v, &n);
        if (r == -ERANGE)
                return FIELD_FAIL("integer out of range");
        if (r < 0)
                return FIELD_FAIL("expected an integer");
        *ret = n;
        return 1;
}

int dec_int32(const JsonValue *o, const char *key, int32_t *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        int64_t n;
        int r;
        if (!present(o, key, &v))
                return 0;
        r = json_int64(v, &n);
        if (r == -ERANGE || (r == 0 && (n < INT32_MIN || n > INT32_MAX)))
                return FIELD_FAIL("integer out of range");
        if (r < 0)
                return FIELD_FAIL("expected an integer");
        *ret = (int32_t) n;
        return 1;
}

int dec_bool(const JsonValue *o, const char *key, bool *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        if (!present(o, key, &v))
                return 0;
        if (json_bool(v, ret) < 0)
                return FIELD_FAIL("expected a boolean");
        return 1;
}

int dec_tristate(const JsonValue *o, const char *key, KubeTristate *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        bool b;
        if (!present(o, key, &v))
                return 0;
        if (json_bool(v, &b) < 0)
                return FIELD_FAIL("expected a boolean");
        *ret = b ? KUBE_TRUE : KUBE_FALSE;
        return 1;
}

int dec_time(const JsonValue *o, const char *key, usec_t *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_STRING)
                return FIELD_FAIL("expected an RFC 3339 time string");
        if (rfc3339_parse(json_string(v), ret) < 0)
                return FIELD_FAIL("not an RFC 3339 time");
        return 1;
}

int dec_object(const JsonValue *o, const char *key, const JsonValue **ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_OBJECT)
                return FIELD_FAIL("expected an object");
        *ret = v;
        return 1;
}

int dec_array(const JsonValue *o, const char *key, const JsonValue **ret, char **err, const char *pfmt, ...) {
        const JsonValue *v;
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_ARRAY)
                return FIELD_FAIL("expected an array");
        *ret = v;
        return 1;
}

int intern_replace(StrPool *pool, const char **slot, const char *s) {
        const char *n = NULL;
        if (s) {
                n = strpool_intern0(pool, s);
                if (!n)
                        return -ENOMEM;
        }
        strpool_release(pool, *slot);
        *slot = n;
        return 0;
}

/* ---- StrList ------------------------------------------------------------- */

static int strlist_pack(const char *const *strs, const size_t *lens, size_t n, StrList *ret) {
        size_t bytes = (n + 1) * sizeof(char *);
        char **items, *p;
        for (size_t i = 0; i < n; i++)
                bytes += lens[i] + 1;
        items = malloc(bytes);
        if (!items)
                return -ENOMEM;
        p = (char *) (items + n + 1);
        for (size_t i = 0; i < n; i++) {
                items[i] = p;
                memcpy(p, strs[i], lens[i]);
                p[lens[i]] = 0;
                p += lens[i] + 1;
        }
        items[n] = NULL;
        *ret = (StrList) { .n = n, .items = items };
        return 0;
}

int strlist_decode(const JsonValue *o, const char *key, StrList *ret, char **err, const char *pfmt, ...) {
        const JsonValue *v, *item;
        const char *small_s[8];
        size_t small_l[8];
        const char **strs = small_s;
        size_t *lens = small_l, n;
        int r;

        *ret = (StrList) {};
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_ARRAY)
                return FIELD_FAIL("expected an array");
        n = json_array_len(v);
        if (n == 0)
                return 1;
        if (n > ELEMENTSOF(small_s)) {
                strs = new0(const char *, n);
                lens = new0(size_t, n);
                if (!strs || !lens) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        for (size_t i = 0; i < n; i++) {
                item = json_array_at(v, i);
                if (json_type(item) != JSON_STRING) {
                        char buf[32];
                        snprintf(buf, sizeof buf, "[%zu]", i);
                        va_list ap;
                        va_start(ap, pfmt);
                        char *path = NULL;
                        if (vasprintf(&path, pfmt, ap) < 0)
                                path = NULL;
                        va_end(ap);
                        r = decode_error(err, "%s%s%s%s: expected a string", strempty(path),
                                         path && *path && key ? "." : "", strempty(key), buf);
                        free(path);
                        goto finish;
                }
                strs[i] = json_string(item);
                lens[i] = json_string_len(item);
        }
        r = strlist_pack(strs, lens, n, ret);
        if (r >= 0)
                r = 1;
finish:
        if (strs != small_s) {
                free(strs);
                free(lens);
        }
        return r;
}

int strlist_from(const char *const *strs, size_t n, StrList *ret) {
        _cleanup_free_ size_t *lens = new0(size_t, n + 1);
        if (!lens)
                return -ENOMEM;
        if (n == 0) {
                *ret = (StrList) {};
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                lens[i] = strlen(strs[i]);
        return strlist_pack(strs, lens, n, ret);
}

void strlist_done(StrList *l) {
        free(l->items);
        *l = (StrList) {};
}

size_t strlist_memory_size(const StrList *l) {
        size_t bytes;
        if (!l->items)
                return 0;
        bytes = (l->n + 1) * sizeof(char *);
        for (size_t i = 0; i < l->n; i++)
                bytes += strlen(l->items[i]) + 1;
        return heap_size(bytes);
}

int strlist_encode(const StrList *l, yajl_gen g) {
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < l->n; i++)
                RET_NERRNO(json_gen_str(g, l->items[i]));
        return json_gen_array_close(g);
}

static bool strings_equal(const char *const *a, size_t na, const char *const *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

bool strlist_equal(const StrList *a, const StrList *b) {
        return strings_equal((const char *const *) a->items, a->n, (const char *const *) b->items, b->n);
}

bool internlist_equal(const InternList *a, const InternList *b) {
        return strings_equal(a->items, a->n, b->items, b->n);
}

/* ---- InternList ---------------------------------------------------------- */

int internlist_decode(StrPool *pool, const JsonValue *o, const char *key, InternList *ret, char **err,
                      const char *pfmt, ...) {
        const JsonValue *v;
        InternList l = {};
        size_t n;

        *ret = (InternList) {};
        if (!present(o, key, &v))
                return 0;
        if (json_type(v) != JSON_ARRAY)
                return FIELD_FAIL("expected an array");
        n = json_array_len(v);
        if (n == 0)
                return 1;
        l.items = new0(const char *, n);
        if (!l.items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const JsonValue *item = json_array_at(v, i);
                if (json_type(item) != JSON_STRING) {
                        char *path = NULL;
                        va_list ap;
                        va_start(ap, pfmt);
                        if (vasprintf(&path, pfmt, ap) < 0)
                                path = NULL;
                        va_end(ap);
                        decode_error(err, "%s%s%s[%zu]: expected a string", strempty(path),
                                     path && *path && key ? "." : "", strempty(key), i);
                        free(path);
                        internlist_done(&l, pool);
                        return -EINVAL;
                }
                l.items[l.n] = strpool_intern(pool, json_string(item), json_string_len(item));
                if (!l.items[l.n]) {
                        internlist_done(&l, pool);
                        return -ENOMEM;
                }
                l.n++;
        }
        *ret = l;
        return 1;
}

void internlist_done(InternList *l, StrPool *pool) {
        for (size_t i = 0; i < l->n; i++)
                strpool_release(pool, l->items[i]);
        free(l->items);
        *l = (InternList) {};
}

size_t internlist_memory_size(const InternList *l) {
        return l->items ? heap_size(l->n * sizeof(char *)) : 0;
}

int internlist_encode(const InternList *l, yajl_gen g) {
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < l->n; i++)
                RET_NERRNO(json_gen_str(g, l->items[i]));
        return json_gen_array_close(g);
}

/* ---- StrMap -------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const struct StrMapEntry *) a)->key, ((const struct StrMapEntry *) b)->key);
}

static bool keep_key(const char *const *keep, const char *key) {
        if (!keep)
                return true;
        for (; *keep; keep++)
                if (streq(*keep, key))
                        return true;
        return false;
}

int strmap_decode(StrPool *pool, const JsonValue *v, const char *const *keep, StrMap *ret, char **err,
                  const char *path) {
        StrMap m = {};
        const JsonValue *value;
        const char *key;
        size_t n;
        bool sorted = true;

        *ret = (StrMap) {};
        if (!v || json_is_null(v))
                return 0;
        if (json_type(v) != JSON_OBJECT)
                return decode_error(err, "%s: expected an object", path);
        n = json_object_len(v);
        if (n == 0)
                return 1;
        JSON_OBJECT_FOREACH(key, value, v) {
                if (json_type(value) != JSON_STRING) {
                        strmap_done(&m, pool);
                        return decode_error(err, "%s.%s: expected a string", path, key);
                }
                if (!keep_key(keep, key))
                        continue;
                if (!m.entries) {
                        m.entries = new0(struct StrMapEntry, keep ? n : n);
                        if (!m.entries)
                                return -ENOMEM;
                }
                struct StrMapEntry *e = &m.entries[m.n];
                e->key = strpool_intern0(pool, key);
                e->value = e->key ? strpool_intern(pool, json_string(value), json_string_len(value)) : NULL;
                if (!e->value) {
                        strpool_release(pool, e->key);
                        strmap_done(&m, pool);
                        return -ENOMEM;
                }
                if (m.n > 0 && strcmp(m.entries[m.n - 1].key, e->key) > 0)
                        sorted = false;
                m.n++;
        }
        if (!sorted)
                qsort(m.entries, m.n, sizeof(struct StrMapEntry), entry_cmp);
        if (keep && m.n < n && m.n > 0) {
                /* Shrink: only a few annotations are usually kept. */
                struct StrMapEntry *e = realloc(m.entries, m.n * sizeof(struct StrMapEntry));
                if (e)
                        m.entries = e;
        }
        *ret = m;
        return 1;
}

void strmap_done(StrMap *m, StrPool *pool) {
        for (size_t i = 0; i < m->n; i++) {
                strpool_release(pool, m->entries[i].key);
                strpool_release(pool, m->entries[i].value);
        }
        free(m->entries);
        *m = (StrMap) {};
}

size_t strmap_memory_size(const StrMap *m) {
        return m->entries ? heap_size(m->n * sizeof(struct StrMapEntry)) : 0;
}

int strmap_encode(const StrMap *m, yajl_gen g) {
        RET_NERRNO(json_gen_map_open(g));
        for (size_t i = 0; i < m->n; i++)
                RET_NERRNO(json_gen_kv_str(g, m->entries[i].key, m->entries[i].value));
        return json_gen_map_close(g);
}

int strmap_set(StrMap *m, StrPool *pool, const char *key, const char *value) {
        size_t lo = 0, hi = m->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(m->entries[mid].key, key);
                if (c == 0) {
                        if (!value) {
                                strpool_release(pool, m->entries[mid].key);
                                strpool_release(pool, m->entries[mid].value);
                                memmove(&m->entries[mid], &m->entries[mid + 1],
                                        (m->n - mid - 1) * sizeof(struct StrMapEntry));
                                m->n--;
                                return 0;
                        }
                        return intern_replace(pool, &m->entries[mid].value, value);
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (!value)
                return 0;
        struct StrMapEntry *e = realloc(m->entries, (m->n + 1) * sizeof(struct StrMapEntry));
        if (!e)
                return -ENOMEM;
        m->entries = e;
        const char *k = strpool_intern0(pool, key), *v = k ? strpool_intern0(pool, value) : NULL;
        if (!v) {
                strpool_release(pool, k);
                return -ENOMEM;
        }
        memmove(&m->entries[lo + 1], &m->entries[lo], (m->n - lo) * sizeof(struct StrMapEntry));
        m->entries[lo] = (struct StrMapEntry) { .key = k, .value = v };
        m->n++;
        return 0;
}

/* ---- conditions ---------------------------------------------------------- */

ConditionStatus condition_status_from_string(const char *s) {
        if (!s)
                return CONDITION_NONE;
        if (streq(s, "True"))
                return CONDITION_TRUE;
        if (streq(s, "False"))
                return CONDITION_FALSE;
        return CONDITION_UNKNOWN;
}

const char *condition_status_to_string(ConditionStatus s) {
        switch (s) {
        case CONDITION_TRUE:
                return "True";
        case CONDITION_FALSE:
                return "False";
        case CONDITION_UNKNOWN:
                return "Unknown";
        default:
                return NULL;
        }
}

int conditions_decode(StrPool *pool, const JsonValue *o, const char *key, KubeConditions *ret, char **err,
                      const char *path) {
        const JsonValue *arr = NULL, *item;
        KubeConditions c = {};
        int r;

        *ret = (KubeConditions) {};
        r = dec_array(o, key, &arr, err, "%s", path);
        if (r <= 0)
                return r;
        if (json_array_len(arr) == 0)
                return 1;
        c.items = new0(KubeCondition, json_array_len(arr));
        if (!c.items)
                return -ENOMEM;
        JSON_ARRAY_FOREACH(item, arr) {
                size_t i = c.n;
                KubeCondition *k = &c.items[c.n++];
                const char *status = NULL;
                if (json_type(item) != JSON_OBJECT) {
                        r = decode_error(err, "%s.%s[%zu]: expected an object", path, key, i);
                        goto fail;
                }
                if ((r = dec_intern(pool, item, "type", &k->type, err, "%s.%s[%zu]", path, key, i)) < 0 ||
                    (r = dec_string_ref(item, "status", &status, err, "%s.%s[%zu]", path, key, i)) < 0 ||
                    (r = dec_int64(item, "observedGeneration", &k->observed_generation, err, "%s.%s[%zu]", path,
                                   key, i)) < 0 ||
                    (r = dec_time(item, "lastTransitionTime", &k->last_transition_time, err, "%s.%s[%zu]", path,
                                  key, i)) < 0 ||
                    (r = dec_intern(pool, item, "reason", &k->reason, err, "%s.%s[%zu]", path, key, i)) < 0 ||
                    (r = dec_strdup(item, "message", &k->message, err, "%s.%s[%zu]", path, key, i)) < 0)
                        goto fail;
                k->status = status ? condition_status_from_string(status) : CONDITION_UNKNOWN;
        }
        *ret = c;
        return 1;
fail:
        conditions_done(&c, pool);
        return r;
}

void conditions_done(KubeConditions *c, StrPool *pool) {
        for (size_t i = 0; i < c->n; i++) {
                strpool_release(pool, c->items[i].type);
                strpool_release(pool, c->items[i].reason);
                free(c->items[i].message);
        }
        free(c->items);
        *c = (KubeConditions) {};
}

size_t conditions_memory_size(const KubeConditions *c) {
        size_t bytes = c->items ? heap_size(c->n * sizeof(KubeCondition)) : 0;
        for (size_t i = 0; i < c->n; i++)
                bytes += heap_strsize(c->items[i].message);
        return bytes;
}

int conditions_encode(const KubeConditions *c, yajl_gen g) {
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < c->n; i++) {
                const KubeCondition *k = &c->items[i];
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(gen_kv_str_opt(g, "type", k->type));
                RET_NERRNO(gen_kv_str_opt(g, "status", condition_status_to_string(k->status)));
                RET_NERRNO(json_gen_kv_int(g, "observedGeneration", k->observed_generation));
                RET_NERRNO(gen_kv_time(g, "lastTransitionTime", k->last_transition_time));
                RET_NERRNO(json_gen_kv_str(g, "reason", strempty(k->reason)));
                RET_NERRNO(json_gen_kv_str(g, "message", strempty(k->message)));
                RET_NERRNO(json_gen_map_close(g));
        }
        return json_gen_array_close(g);
}

const KubeCondition *conditions_find(const KubeConditions *c, const char *type) {
        for (size_t i = 0; i < c->n; i++)
                if (streq_ptr(c->items[i].type, type))
                        return &c->items[i];
        return NULL;
}

/* ---- object references --------------------------------------------------- */

int objref_decode(StrPool *pool, const JsonValue *v, KubeObjectRef *ret, char **err, const char *path) {
        KubeObjectRef r = {};
        int k;
        if (json_type(v) != JSON_OBJECT)
                return decode_error(err, "%s: expected an object", path);
        if ((k = dec_intern(pool, v, "apiVersion", &r.api_version, err, "%s", path)) < 0 ||
            (k = dec_intern(pool, v, "kind", &r.kind, err, "%s", path)) < 0 ||
            (k = dec_intern(pool, v, "namespace", &r.namespace, err, "%s", path)) < 0 ||
            (k = dec_strdup(v, "name", &r.name, err, "%s", path)) < 0 ||
            (k = dec_strdup(v, "uid", &r.uid, err, "%s", path)) < 0 ||
            (k = dec_strdup(v, "resourceVersion", &r.resource_version, err, "%s", path)) < 0 ||
            (k = dec_strdup(v, "fieldPath", &r.field_path, err, "%s", path)) < 0) {
                objref_done(&r, pool);
                return k;
        }
        *ret = r;
        return 0;
}

void objref_done(KubeObjectRef *r, StrPool *pool) {
        strpool_release(pool, r->api_version);
        strpool_release(pool, r->kind);
        strpool_release(pool, r->namespace);
        free(r->name);
        free(r->uid);
        free(r->resource_version);
        free(r->field_path);
        *r = (KubeObjectRef) {};
}

size_t objref_memory_size(const KubeObjectRef *r) {
        return heap_strsize(r->name) + heap_strsize(r->uid) + heap_strsize(r->resource_version) +
               heap_strsize(r->field_path);
}

int objref_encode(const KubeObjectRef *r, yajl_gen g) {
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_kv_str_opt(g, "apiVersion", r->api_version));
        RET_NERRNO(gen_kv_str_opt(g, "kind", r->kind));
        RET_NERRNO(gen_kv_str_opt(g, "namespace", r->namespace));
        RET_NERRNO(gen_kv_str_opt(g, "name", r->name));
        RET_NERRNO(gen_kv_str_opt(g, "uid", r->uid));
        RET_NERRNO(gen_kv_str_opt(g, "resourceVersion", r->resource_version));
        RET_NERRNO(gen_kv_str_opt(g, "fieldPath", r->field_path));
        return json_gen_map_close(g);
}

int ownerrefs_decode(StrPool *pool, const JsonValue *metadata, OwnerReferences *ret, char **err) {
        const JsonValue *arr = NULL, *item;
        OwnerReferences o = {};
        int r;

        *ret = (OwnerReferences) {};
        r = dec_array(metadata, "ownerReferences", &arr, err, "metadata");
        if (r <= 0 || json_array_len(arr) == 0)
                return r;
        o.items = new0(OwnerReference, json_array_len(arr));
        if (!o.items)
                return -ENOMEM;
        JSON_ARRAY_FOREACH(item, arr) {
                size_t i = o.n;
                OwnerReference *x = &o.items[o.n++];
                if (json_type(item) != JSON_OBJECT) {
                        r = decode_error(err, "metadata.ownerReferences[%zu]: expected an object", i);
                        goto fail;
                }
                if ((r = dec_intern(pool, item, "apiVersion", &x->api_version, err, "metadata.ownerReferences[%zu]",
                                    i)) < 0 ||
                    (r = dec_intern(pool, item, "kind", &x->kind, err, "metadata.ownerReferences[%zu]", i)) < 0 ||
                    (r = dec_strdup(item, "name", &x->name, err, "metadata.ownerReferences[%zu]", i)) < 0 ||
                    (r = dec_strdup(item, "uid", &x->uid, err, "metadata.ownerReferences[%zu]", i)) < 0 ||
                    (r = dec_tristate(item, "controller", &x->controller, err, "metadata.ownerReferences[%zu]", i)) <
                            0 ||
                    (r = dec_tristate(item, "blockOwnerDeletion", &x->block_owner_deletion, err,
                                      "metadata.ownerReferences[%zu]", i)) < 0)
                        goto fail;
        }
        *ret = o;
        return 1;
fail:
        ownerrefs_done(&o, pool);
        return r;
}

void ownerrefs_done(OwnerReferences *o, StrPool *pool) {
        for (size_t i = 0; i < o->n; i++) {
                strpool_release(pool, o->items[i].api_version);
                strpool_release(pool, o->items[i].kind);
                free(o->items[i].name);
                free(o->items[i].uid);
        }
        free(o->items);
        *o = (OwnerReferences) {};
}

size_t ownerrefs_memory_size(const OwnerReferences *o) {
        size_t bytes = o->items ? heap_size(o->n * sizeof(OwnerReference)) : 0;
        for (size_t i = 0; i < o->n; i++)
                bytes += heap_strsize(o->items[i].name) + heap_strsize(o->items[i].uid);
        return bytes;
}

int ownerrefs_encode(const OwnerReferences *o, yajl_gen g) {
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < o->n; i++) {
                const OwnerReference *x = &o->items[i];
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(gen_kv_str_opt(g, "apiVersion", x->api_version));
                RET_NERRNO(gen_kv_str_opt(g, "kind", x->kind));
                RET_NERRNO(gen_kv_str_opt(g, "name", x->name));
                RET_NERRNO(gen_kv_str_opt(g, "uid", x->uid));
                RET_NERRNO(gen_kv_tristate(g, "controller", x->controller));
                RET_NERRNO(gen_kv_tristate(g, "blockOwnerDeletion", x->block_owner_deletion));
                RET_NERRNO(json_gen_map_close(g));
        }
        return json_gen_array_close(g);
}

int object_meta_encode_owned(const ObjectMeta *m, const char *generate_name, const OwnerReferences *owners,
                             yajl_gen g) {
        RET_NERRNO(json_gen_str(g, "metadata"));
        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(gen_kv_str_opt(g, "name", m->name));
        /* The apiserver ignores generateName once a name is set; sending both only confuses readers. */
        if (!m->name)
                RET_NERRNO(gen_kv_str_opt(g, "generateName", generate_name));
        RET_NERRNO(gen_kv_str_opt(g, "namespace", m->namespace));
        RET_NERRNO(gen_kv_str_opt(g, "uid", m->uid));
        if (!isempty(m->resource_version))
                RET_NERRNO(json_gen_kv_str(g, "resourceVersion", m->resource_version));
        if (m->labels.n > 0) {
                RET_NERRNO(json_gen_str(g, "labels"));
                RET_NERRNO(strmap_encode(&m->labels, g));
        }
        if (m->annotations.n > 0) {
                RET_NERRNO(json_gen_str(g, "annotations"));
                RET_NERRNO(strmap_encode(&m->annotations, g));
        }
        if (owners && owners->n > 0) {
                RET_NERRNO(json_gen_str(g, "ownerReferences"));
                RET_NERRNO(ownerrefs_encode(owners, g));
        }
        return json_gen_map_close(g);
}

const OwnerReference *ownerrefs_controller(const OwnerReferences *o) {
        for (size_t i = 0; i < o->n; i++)
                if (o->items[i].controller == KUBE_TRUE)
                        return &o->items[i];
        return NULL;
}

/* ---- encoding helpers ---------------------------------------------------- */

int gen_key(yajl_gen g, const char *key) {
        return json_gen_str(g, key);
}

int gen_kv_str_opt(yajl_gen g, const char *key, const char *value) {
        return value ? json_gen_kv_str(g, key, value) : 0;
}

int gen_kv_time(yajl_gen g, const char *key, usec_t t) {
        char buf[RFC3339_MAX];
        return t ? json_gen_kv_str(g, key, rfc3339_format_seconds(t, buf)) : 0;
}

int gen_kv_microtime(yajl_gen g, const char *key, usec_t t) {
        char buf[RFC3339_MAX];
        return t ? json_gen_kv_str(g, key, rfc3339_format_micro(t, buf)) : 0;
}

int gen_kv_tristate(yajl_gen g, const char *key, KubeTristate t) {
        return t == KUBE_UNSET ? 0 : json_gen_kv_bool(g, key, t == KUBE_TRUE);
}

int gen_type_meta(yajl_gen g, const KubeKind *kind) {
        RET_NERRNO(json_gen_kv_str(g, "apiVersion", kind->api_version));
        return json_gen_kv_str(g, "kind", kind->kind);
}

void *kube_object_alloc(const KubeKind *kind, size_t size, StrPool *pool) {
        KubeObject *o = calloc(1, size);
        if (!o)
                return NULL;
        o->kind = kind;
        o->pool = pool;
        o->refcount = 1;
        return o;
}

int protocol_default(StrPool *pool, const char **protocol) {
        if (*protocol)
                return 0;
        *protocol = strpool_intern0(pool, "TCP");
        return *protocol ? 0 : -ENOMEM;
}
