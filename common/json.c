/* SPDX-License-Identifier: Apache-2.0 */
/* A read-only JSON tree built from yajl's event parser into an arena.
 *
 * Parsing never recurses: yajl keeps its own state stack, and the tree is
 * built bottom-up from a scratch stack of pending children that is copied
 * into the arena when a container closes.  Depth and size caps are checked
 * in the callbacks, so a hostile document fails before it costs memory. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json.h"

/* Objects with more members than this get a hash index: label and
 * annotation maps can hold thousands of keys. */
#define JSON_INDEX_MIN 16u
#define ARENA_MIN_CHUNK 4096u
#define ARENA_MAX_CHUNK (1024u * 1024u)

typedef struct JsonMember {
        const char *key;
        uint32_t key_len;
        uint32_t hash;
        JsonValue *value;
} JsonMember;

struct JsonValue {
        uint8_t type; /* JsonType */
        bool b;
        uint32_t n;   /* string/number length, or item/member count */
        uint32_t cap; /* built documents: allocated items/members */
        uint32_t index_mask;
        union {
                const char *str;
                JsonValue **items;
                JsonMember *members;
        };
        uint32_t *index; /* objects > JSON_INDEX_MIN: slot -> member index + 1 */
};

typedef struct ArenaChunk {
        struct ArenaChunk *next;
        size_t size, used;
        max_align_t data[];
} ArenaChunk;

struct JsonDoc {
        ArenaChunk *chunks;
        size_t next_chunk_size;
        JsonValue *root;
};

/* ---- arena --------------------------------------------------------------- */

static void *arena_alloc(JsonDoc *doc, size_t size) {
        ArenaChunk *c = doc->chunks;

        size = (size + 7u) & ~(size_t) 7u;
        if (!c || c->size - c->used < size) {
                size_t want = doc->next_chunk_size;
                if (want < size)
                        want = size;
                c = malloc(sizeof(ArenaChunk) + want);
                if (!c)
                        return NULL;
                c->size = want;
                c->used = 0;
                c->next = doc->chunks;
                doc->chunks = c;
                if (doc->next_chunk_size < ARENA_MAX_CHUNK)
                        doc->next_chunk_size *= 2;
        }
        void *p = (char *) c->data + c->used;
        c->used += size;
        return p;
}

static char *arena_strndup(JsonDoc *doc, const char *s, size_t len) {
        char *p = arena_alloc(doc, len + 1);
        if (!p)
                return NULL;
        if (len > 0)
                memcpy(p, s, len);
        p[len] = 0;
        return p;
}

static JsonDoc *doc_new(size_t first_chunk) {
        JsonDoc *doc = new0(JsonDoc, 1);
        if (!doc)
                return NULL;
        doc->next_chunk_size = first_chunk < ARENA_MIN_CHUNK ? ARENA_MIN_CHUNK : first_chunk;
        return doc;
}

JsonDoc *json_doc_free(JsonDoc *doc) {
        if (!doc)
                return NULL;
        for (ArenaChunk *c = doc->chunks, *next; c; c = next) {
                next = c->next;
                free(c);
        }
        free(doc);
        return NULL;
}

const JsonValue *json_doc_root(const JsonDoc *doc) {
        return doc ? doc->root : NULL;
}

/* ---- object index -------------------------------------------------------- */

static uint32_t key_hash(const char *s, size_t len) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char) s[i];
                h *= 16777619u;
        }
        return h;
}

/* Builds (or rebuilds, larger) the index of an object; first occurrence of a
 * key wins, as for the linear lookup.  Keys are hashed here only: most
 * objects are small and searched linearly. */
static int object_index_build(JsonDoc *doc, JsonValue *o) {
        uint32_t size = 32;
        while (size < o->n * 2u + 2u)
                size *= 2;
        uint32_t *index = arena_alloc(doc, size * sizeof(uint32_t));
        if (!index)
                return -ENOMEM;
        memset(index, 0, size * sizeof(uint32_t));
        o->index = index;
        o->index_mask = size - 1;
        for (uint32_t i = 0; i < o->n; i++) {
                JsonMember *m = &o->members[i];
                m->hash = key_hash(m->key, m->key_len);
                uint32_t slot = m->hash & o->index_mask;
                bool dup = false;
                while (index[slot] != 0) {
                        JsonMember *other = &o->members[index[slot] - 1];
                        if (other->hash == m->hash && other->key_len == m->key_len &&
                            memcmp(other->key, m->key, m->key_len) == 0) {
                                dup = true;
                                break;
                        }
                        slot = (slot + 1) & o->index_mask;
                }
                if (!dup)
                        index[slot] = i + 1;
        }
        return 0;
}

/* ---- parser -------------------------------------------------------------- */

/* One pending child: the key when the parent is an object. */
typedef struct Pending {
        const char *key;
        uint32_t key_len;
        JsonValue *value;
} Pending;

typedef struct Frame {
        JsonValue *container;
        size_t first;    /* index into the pending stack */
        const char *key; /* the key this container is the value of, or NULL */
        uint32_t key_len;
} Frame;

typedef struct Parser {
        JsonDoc *doc;
        unsigned max_depth;
        int error; /* set by a callback that aborts */
        bool keep_managed_fields;
        /* Skipping one value (metadata.managedFields): skip_depth counts
         * the containers opened inside it. */
        bool skipping;
        unsigned skip_depth;

        Pending *pending;
        size_t n_pending, cap_pending;
        Frame *frames;
        size_t n_frames, cap_frames;

        /* key waiting for its value */
        const char *key;
        uint32_t key_len;
} Parser;

static int parser_add(Parser *p, JsonValue *v) {
        if (p->n_frames == 0) {
                p->doc->root = v;
                return 1;
        }
        if (p->n_pending == p->cap_pending) {
                size_t cap = p->cap_pending ? p->cap_pending * 2 : 256;
                Pending *n = realloc(p->pending, cap * sizeof(Pending));
                if (!n) {
                        p->error = -ENOMEM;
                        return 0;
                }
                p->pending = n;
                p->cap_pending = cap;
        }
        p->pending[p->n_pending++] = (Pending) {
                .key = p->key,
                .key_len = p->key_len,
                .value = v,
        };
        p->key = NULL;
        return 1;
}

static JsonValue *parser_value(Parser *p, JsonType type) {
        JsonValue *v = arena_alloc(p->doc, sizeof(JsonValue));
        if (!v) {
                p->error = -ENOMEM;
                return NULL;
        }
        *v = (JsonValue) { .type = type };
        return v;
}

/* A scalar while skipping: inside the skipped value, or the value itself. */
static bool skip_scalar(Parser *p) {
        if (!p->skipping)
                return false;
        if (p->skip_depth == 0)
                p->skipping = false;
        return true;
}

static int cb_null(void *ctx) {
        Parser *p = ctx;
        if (skip_scalar(p))
                return 1;
        JsonValue *v = parser_value(p, JSON_NULL);
        return v ? parser_add(p, v) : 0;
}

static int cb_boolean(void *ctx, int b) {
        Parser *p = ctx;
        if (skip_scalar(p))
                return 1;
        JsonValue *v = parser_value(p, JSON_BOOL);
        if (!v)
                return 0;
        v->b = b;
        return parser_add(p, v);
}

static int add_text(Parser *p, JsonType type, const char *s, size_t len) {
        JsonValue *v;
        char *copy;

        if (skip_scalar(p))
                return 1;
        /* One allocation for the value and its text. */
        v = arena_alloc(p->doc, sizeof(JsonValue) + len + 1);
        if (!v) {
                p->error = -ENOMEM;
                return 0;
        }
        *v = (JsonValue) { .type = type };
        copy = (char *) (v + 1);
        memcpy(copy, s, len);
        copy[len] = 0;
        v->str = copy;
        v->n = (uint32_t) len;
        return parser_add(p, v);
}

static int cb_number(void *ctx, const char *s, size_t len) {
        return add_text(ctx, JSON_NUMBER, s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len) {
        return add_text(ctx, JSON_STRING, (const char *) s, len);
}

static bool is_key(const char *k, size_t len, const char *lit, size_t lit_len) {
        return len == lit_len && memcmp(k, lit, len) == 0;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len) {
        Parser *p = ctx;
        char *copy;

        if (p->skipping)
                return 1;
        if (!p->keep_managed_fields && is_key((const char *) s, len, "managedFields", 13) && p->n_frames > 0) {
                const Frame *f = &p->frames[p->n_frames - 1];
                if (f->key && is_key(f->key, f->key_len, "metadata", 8)) {
                        p->skipping = true;
                        p->skip_depth = 0;
                        return 1;
                }
        }
        copy = arena_strndup(p->doc, (const char *) s, len);
        if (!copy) {
                p->error = -ENOMEM;
                return 0;
        }
        p->key = copy;
        p->key_len = (uint32_t) len;
        return 1;
}

static int open_container(Parser *p, JsonType type) {
        const char *key = p->key;
        uint32_t key_len = p->key_len;

        if (p->n_frames + (p->skipping ? p->skip_depth : 0) >= p->max_depth) {
                p->error = -ELOOP;
                return 0;
        }
        if (p->skipping) {
                p->skip_depth++;
                return 1;
        }
        JsonValue *v = parser_value(p, type);
        if (!v)
                return 0;
        /* Register with the parent now (keeps the key in order); the
         * value is filled in at close. */
        if (!parser_add(p, v))
                return 0;
        if (p->n_frames == p->cap_frames) {
                size_t cap = p->cap_frames ? p->cap_frames * 2 : 16;
                Frame *n = realloc(p->frames, cap * sizeof(Frame));
                if (!n) {
                        p->error = -ENOMEM;
                        return 0;
                }
                p->frames = n;
                p->cap_frames = cap;
        }
        p->frames[p->n_frames++] = (Frame) { .container = v, .first = p->n_pending, .key = key, .key_len = key_len };
        return 1;
}

static int close_container(Parser *p) {
        if (p->skipping) {
                if (--p->skip_depth == 0)
                        p->skipping = false;
                return 1;
        }
        Frame *f = &p->frames[--p->n_frames];
        JsonValue *v = f->container;
        size_t n = p->n_pending - f->first;

        v->n = v->cap = (uint32_t) n;
        if (n > 0) {
                const Pending *src = p->pending + f->first; /* pending is NULL until a first child */
                if (v->type == JSON_ARRAY) {
                        JsonValue **items = arena_alloc(p->doc, n * sizeof(JsonValue *));
                        if (!items)
                                goto oom;
                        for (size_t i = 0; i < n; i++)
                                items[i] = src[i].value;
                        v->items = items;
                } else {
                        JsonMember *members = arena_alloc(p->doc, n * sizeof(JsonMember));
                        if (!members)
                                goto oom;
                        for (size_t i = 0; i < n; i++)
                                members[i] = (JsonMember) {
                                        .key = src[i].key,
                                        .key_len = src[i].key_len,
                                        .value = src[i].value,
                                };
                        v->members = members;
                        if (n > JSON_INDEX_MIN && object_index_build(p->doc, v) < 0)
                                goto oom;
                }
        }
        p->n_pending = f->first;
        return 1;
oom:
        p->error = -ENOMEM;
        return 0;
}

static int cb_start_map(void *ctx) {
        return open_container(ctx, JSON_OBJECT);
}

static int cb_start_array(void *ctx) {
        return open_container(ctx, JSON_ARRAY);
}

static int cb_end(void *ctx) {
        return close_container(ctx);
}

static const yajl_callbacks parser_callbacks = {
        .yajl_null = cb_null,
        .yajl_boolean = cb_boolean,
        .yajl_number = cb_number,
        .yajl_string = cb_string,
        .yajl_start_map = cb_start_map,
        .yajl_map_key = cb_map_key,
        .yajl_end_map = cb_end,
        .yajl_start_array = cb_start_array,
        .yajl_end_array = cb_end,
};

/* yajl's message, made one line, with the byte offset. */
static char *parse_error_message(yajl_handle h, size_t offset) {
        unsigned char *e = yajl_get_error(h, 0, NULL, 0);
        char *msg = NULL;
        size_t len;

        if (!e)
                return NULL;
        len = strlen((char *) e);
        while (len > 0 && (e[len - 1] == '\n' || e[len - 1] == ' '))
                len--;
        for (size_t i = 0; i < len; i++)
                if (e[i] == '\n')
                        e[i] = ' ';
        if (asprintf(&msg, "%.*s at byte %zu", (int) len, (char *) e, offset) < 0)
                msg = NULL;
        yajl_free_error(h, e);
        return msg;
}

static void set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static void set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        if (!ret_error)
                return;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
}

int json_parse(const char *buf, size_t len, const JsonLimits *limits, JsonDoc **ret_doc, char **ret_error) {
        unsigned max_depth = limits && limits->max_depth ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH;
        size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : JSON_DEFAULT_MAX_BYTES;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        Parser p = { .max_depth = max_depth, .keep_managed_fields = limits && limits->keep_managed_fields };
        yajl_handle h;
        yajl_status st;
        int r = 0;

        if (len > max_bytes || len > UINT32_MAX) {
                set_error(ret_error, "document of %zu bytes exceeds the limit of %zu bytes", len, max_bytes);
                return -E2BIG;
        }
        /* Trees take about as much room as their text; start with one
         * chunk that usually fits the whole document. */
        doc = doc_new(len + len / 2 + 256);
        if (!doc)
                return -ENOMEM;
        p.doc = doc;

        h = yajl_alloc(&parser_callbacks, NULL, &p);
        if (!h)
                return -ENOMEM;
        st = yajl_parse(h, (const unsigned char *) buf, len);
        if (st == yajl_status_ok)
                st = yajl_complete_parse(h);
        if (st != yajl_status_ok) {
                if (p.error == -ELOOP) {
                        r = -ELOOP;
                        set_error(ret_error, "nesting deeper than %u levels at byte %zu", max_depth,
                                  yajl_get_bytes_consumed(h));
                } else if (p.error < 0) {
                        r = p.error;
                        set_error(ret_error, "out of memory");
                } else {
                        r = -EINVAL;
                        if (ret_error)
                                *ret_error = parse_error_message(h, yajl_get_bytes_consumed(h));
                }
        } else if (!doc->root) {
                r = -EINVAL;
                set_error(ret_error, "parse error: empty document");
        }
        yajl_free(h);
        free(p.pending);
        free(p.frames);
        if (r < 0)
                return r;
        *ret_doc = TAKE_PTR(doc);
        return 0;
}

/* ---- building ------------------------------------------------------------ */

int json_doc_new(JsonDoc **ret_doc) {
        JsonDoc *doc = doc_new(ARENA_MIN_CHUNK);
        if (!doc)
                return -ENOMEM;
        *ret_doc = doc;
        return 0;
}

static JsonValue *new_value(JsonDoc *doc, JsonType type) {
        JsonValue *v;
        if (!doc)
                return NULL;
        v = arena_alloc(doc, sizeof(JsonValue));
        if (v)
                *v = (JsonValue) { .type = type };
        return v;
}

JsonValue *json_new_null(JsonDoc *doc) {
        return new_value(doc, JSON_NULL);
}

JsonValue *json_new_bool(JsonDoc *doc, bool b) {
        JsonValue *v = new_value(doc, JSON_BOOL);
        if (v)
                v->b = b;
        return v;
}

static JsonValue *new_text(JsonDoc *doc, JsonType type, const char *s, size_t len) {
        JsonValue *v;
        if (!s || len > UINT32_MAX)
                return NULL;
        v = new_value(doc, type);
        if (!v)
                return NULL;
        v->str = arena_strndup(doc, s, len);
        if (!v->str)
                return NULL;
        v->n = (uint32_t) len;
        return v;
}

JsonValue *json_new_number(JsonDoc *doc, const char *text, size_t len) {
        return new_text(doc, JSON_NUMBER, text, len);
}

JsonValue *json_new_string(JsonDoc *doc, const char *s, size_t len) {
        return new_text(doc, JSON_STRING, s, len);
}

JsonValue *json_new_array(JsonDoc *doc) {
        return new_value(doc, JSON_ARRAY);
}

JsonValue *json_new_object(JsonDoc *doc) {
        return new_value(doc, JSON_OBJECT);
}

/* Grows an item/member array in the arena (the old copy stays in the arena
 * until the document is freed: amortised doubling keeps that bounded). */
static void *grow(JsonDoc *doc, void *old, uint32_t n, uint32_t *cap, size_t elem) {
        uint32_t ncap;
        void *p;
        if (n < *cap)
                return old;
        if (*cap >= UINT32_MAX / 2)
                return NULL;
        ncap = *cap ? *cap * 2 : 4;
        p = arena_alloc(doc, (size_t) ncap * elem);
        if (!p)
                return NULL;
        if (n > 0)
                memcpy(p, old, (size_t) n * elem);
        *cap = ncap;
        return p;
}

int json_array_append(JsonDoc *doc, JsonValue *array, JsonValue *item) {
        JsonValue **items;
        if (!doc || !array || !item || array->type != JSON_ARRAY)
                return -EINVAL;
        items = grow(doc, array->items, array->n, &array->cap, sizeof(JsonValue *));
        if (!items)
                return -ENOMEM;
        array->items = items;
        array->items[array->n++] = item;
        return 0;
}

int json_object_append(JsonDoc *doc, JsonValue *object, const char *key, size_t key_len, JsonValue *value) {
        JsonMember *members;
        const char *k;
        if (!doc || !object || !key || !value || object->type != JSON_OBJECT || key_len > UINT32_MAX)
                return -EINVAL;
        k = arena_strndup(doc, key, key_len);
        if (!k)
                return -ENOMEM;
        members = grow(doc, object->members, object->n, &object->cap, sizeof(JsonMember));
        if (!members)
                return -ENOMEM;
        object->members = members;
        object->members[object->n++] = (JsonMember) {
                .key = k,
                .key_len = (uint32_t) key_len,
                .hash = key_hash(k, key_len),
                .value = value,
        };
        if (object->n > JSON_INDEX_MIN) {
                /* Rebuild when the table gets half full; otherwise insert. */
                if (!object->index || object->n * 2u > object->index_mask + 1u)
                        return object_index_build(doc, object);
                JsonMember *m = &object->members[object->n - 1];
                uint32_t slot = m->hash & object->index_mask;
                while (object->index[slot] != 0) {
                        JsonMember *other = &object->members[object->index[slot] - 1];
                        if (other->hash == m->hash && other->key_len == m->key_len &&
                            memcmp(other->key, m->key, m->key_len) == 0)
                                return 0; /* first wins */
                        slot = (slot + 1) & object->index_mask;
                }
                object->index[slot] = object->n;
        }
        return 0;
}

void json_doc_set_root(JsonDoc *doc, JsonValue *root) {
        if (doc)
                doc->root = root;
}

/* ---- accessors ----------------------------------------------------------- */

JsonType json_type(const JsonValue *v) {
        return v ? (JsonType) v->type : JSON_NULL;
}

static const JsonValue *object_lookup(const JsonValue *o, const char *key, size_t len) {
        if (o->index) {
                uint32_t h = key_hash(key, len);
                uint32_t slot = h & o->index_mask;
                while (o->index[slot] != 0) {
                        const JsonMember *m = &o->members[o->index[slot] - 1];
                        if (m->hash == h && m->key_len == len && memcmp(m->key, key, len) == 0)
                                return m->value;
                        slot = (slot + 1) & o->index_mask;
                }
                return NULL;
        }
        for (uint32_t i = 0; i < o->n; i++) {
                const JsonMember *m = &o->members[i];
                if (m->key_len == len && memcmp(m->key, key, len) == 0)
                        return m->value;
        }
        return NULL;
}

const JsonValue *json_get(const JsonValue *object, const char *key) {
        if (!object || !key || object->type != JSON_OBJECT)
                return NULL;
        return object_lookup(object, key, strlen(key));
}

const JsonValue *json_get_path_internal(const JsonValue *v, ...) {
        va_list ap;
        const char *key;
        va_start(ap, v);
        while (v && (key = va_arg(ap, const char *)))
                v = json_get(v, key);
        va_end(ap);
        return v;
}

const char *json_string(const JsonValue *v) {
        return v && v->type == JSON_STRING ? v->str : NULL;
}

size_t json_string_len(const JsonValue *v) {
        return v && v->type == JSON_STRING ? v->n : 0;
}

const char *json_get_string(const JsonValue *object, const char *key) {
        return json_string(json_get(object, key));
}

const char *json_number_text(const JsonValue *v) {
        return v && v->type == JSON_NUMBER ? v->str : NULL;
}

int json_int64(const JsonValue *v, int64_t *ret) {
        const char *s;
        bool neg = false;
        uint64_t acc = 0, limit;

        if (!v || v->type != JSON_NUMBER)
                return -EINVAL;
        s = v->str;
        if (*s == '-') {
                neg = true;
                s++;
        }
        if (*s < '0' || *s > '9')
                return -EINVAL;
        limit = neg ? (uint64_t) INT64_MAX + 1u : (uint64_t) INT64_MAX;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned) (*s - '0');
                if (acc > (limit - d) / 10u) {
                        /* Keep scanning: "1e400" is not an integer at all. */
                        while (*s >= '0' && *s <= '9')
                                s++;
                        return *s ? -EINVAL : -ERANGE;
                }
                acc = acc * 10u + d;
        }
        if (*s) /* fraction or exponent: not an integer */
                return -EINVAL;
        if (neg)
                *ret = acc == (uint64_t) INT64_MAX + 1u ? INT64_MIN : -(int64_t) acc;
        else
                *ret = (int64_t) acc;
        return 0;
}

int json_double(const JsonValue *v, double *ret) {
        char *end;
        double d;
        if (!v || v->type != JSON_NUMBER)
                return -EINVAL;
        errno = 0;
        d = strtod(v->str, &end);
        if (*end)
                return -EINVAL;
        if (errno == ERANGE)
                return -ERANGE;
        *ret = d;
        return 0;
}

int json_bool(const JsonValue *v, bool *ret) {
        if (!v || v->type != JSON_BOOL)
                return -EINVAL;
        *ret = v->b;
        return 0;
}

bool json_is_null(const JsonValue *v) {
        return v && v->type == JSON_NULL;
}

size_t json_array_len(const JsonValue *v) {
        return v && v->type == JSON_ARRAY ? v->n : 0;
}

const JsonValue *json_array_at(const JsonValue *v, size_t i) {
        if (!v || v->type != JSON_ARRAY || i >= v->n)
                return NULL;
        return v->items[i];
}

size_t json_object_len(const JsonValue *v) {
        return v && v->type == JSON_OBJECT ? v->n : 0;
}

const JsonValue *json_object_at(const JsonValue *v, size_t i, const char **ret_key) {
        if (!v || v->type != JSON_OBJECT || i >= v->n)
                return NULL;
        if (ret_key)
                *ret_key = v->members[i].key;
        return v->members[i].value;
}

/* ---- writing ------------------------------------------------------------- */

static int gen_status(yajl_gen_status s) {
        switch (s) {
        case yajl_gen_status_ok:
                return 0;
        case yajl_max_depth_exceeded:
                return -ELOOP;
        default:
                return -EINVAL;
        }
}

/* Iterative: a built document could be deep (or, by a caller's mistake,
 * cyclic); the walk stops at the depth cap with -ELOOP instead of
 * overflowing the C stack. */
int json_write(yajl_gen g, const JsonValue *v) {
        struct {
                const JsonValue *c;
                uint32_t next;
        } stack[128]; /* yajl_gen's own nesting limit */
        unsigned depth = 0;
        int r;

        if (!g || !v)
                return -EINVAL;
        for (;;) {
                /* Emit v (scalars fully; containers opened and pushed). */
                switch (v->type) {
                case JSON_NULL:
                        r = gen_status(yajl_gen_null(g));
                        break;
                case JSON_BOOL:
                        r = gen_status(yajl_gen_bool(g, v->b));
                        break;
                case JSON_NUMBER:
                        r = gen_status(yajl_gen_number(g, v->str, v->n));
                        break;
                case JSON_STRING:
                        r = gen_status(yajl_gen_string(g, (const unsigned char *) v->str, v->n));
                        break;
                case JSON_ARRAY:
                case JSON_OBJECT:
                        if (depth >= ELEMENTSOF(stack))
                                return -ELOOP;
                        r = gen_status(v->type == JSON_ARRAY ? yajl_gen_array_open(g) : yajl_gen_map_open(g));
                        stack[depth].c = v;
                        stack[depth].next = 0;
                        depth++;
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;

                /* Find the next value to emit, closing finished containers. */
                for (;;) {
                        if (depth == 0)
                                return 0;
                        const JsonValue *c = stack[depth - 1].c;
                        uint32_t i = stack[depth - 1].next;
                        if (i < c->n) {
                                stack[depth - 1].next++;
                                if (c->type == JSON_ARRAY)
                                        v = c->items[i];
                                else {
                                        r = gen_status(yajl_gen_string(g, (const unsigned char *) c->members[i].key,
                                                                       c->members[i].key_len));
                                        if (r < 0)
                                                return r;
                                        v = c->members[i].value;
                                }
                                break;
                        }
                        r = gen_status(c->type == JSON_ARRAY ? yajl_gen_array_close(g) : yajl_gen_map_close(g));
                        if (r < 0)
                                return r;
                        depth--;
                }
        }
}

/* ---- generation helpers -------------------------------------------------- */

yajl_gen json_gen_new(bool beautify) {
        yajl_gen g = yajl_gen_alloc(NULL);
        if (!g)
                return NULL;
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
        if (beautify) {
                yajl_gen_config(g, yajl_gen_beautify, 1);
                yajl_gen_config(g, yajl_gen_indent_string, "  ");
        }
        return g;
}

void json_gen_freep(yajl_gen *g) {
        if (*g) {
                yajl_gen_free(*g);
                *g = NULL;
        }
}

int json_gen_take(yajl_gen g, char **ret, size_t *ret_len) {
        const unsigned char *buf;
        size_t len;
        char *copy;
        if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
                return -EINVAL;
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, buf, len);
        copy[len] = 0;
        *ret = copy;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int json_gen_str(yajl_gen g, const char *s) {
        if (!s)
                return gen_status(yajl_gen_null(g));
        return gen_status(yajl_gen_string(g, (const unsigned char *) s, strlen(s)));
}

int json_gen_strn(yajl_gen g, const char *s, size_t len) {
        return gen_status(yajl_gen_string(g, (const unsigned char *) s, len));
}

int json_gen_int(yajl_gen g, int64_t n) {
        return gen_status(yajl_gen_integer(g, n));
}

int json_gen_bool(yajl_gen g, bool b) {
        return gen_status(yajl_gen_bool(g, b));
}

int json_gen_null(yajl_gen g) {
        return gen_status(yajl_gen_null(g));
}

int json_gen_map_open(yajl_gen g) {
        return gen_status(yajl_gen_map_open(g));
}

int json_gen_map_close(yajl_gen g) {
        return gen_status(yajl_gen_map_close(g));
}

int json_gen_array_open(yajl_gen g) {
        return gen_status(yajl_gen_array_open(g));
}

int json_gen_array_close(yajl_gen g) {
        return gen_status(yajl_gen_array_close(g));
}

int json_gen_kv_str(yajl_gen g, const char *key, const char *value) {
        int r = json_gen_str(g, key);
        return r < 0 ? r : json_gen_str(g, value);
}

int json_gen_kv_int(yajl_gen g, const char *key, int64_t value) {
        int r = json_gen_str(g, key);
        return r < 0 ? r : json_gen_int(g, value);
}

int json_gen_kv_bool(yajl_gen g, const char *key, bool value) {
        int r = json_gen_str(g, key);
        return r < 0 ? r : json_gen_bool(g, value);
}
