/* SPDX-License-Identifier: Apache-2.0 */
/* libyaml's event parser feeding the JsonDoc builders (yaml_doc.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yaml_doc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct Anchor {
        char *name;
        const JsonValue *value; /* no value is attached twice: each alias use gets a copy */
} Anchor;

typedef struct Frame {
        JsonValue *value; /* array or object being filled */
        bool is_map;
        bool have_key;
        bool key_is_merge;
        char *key;
        size_t key_len;
        JsonValue **merges; /* "<<" values, applied when the mapping ends */
        size_t n_merges;
        char *anchor;
        unsigned line;
} Frame;

typedef struct Builder {
        JsonDoc *doc;
        Frame stack[JSON_DEFAULT_MAX_DEPTH];
        unsigned depth;
        Anchor *anchors;
        size_t n_anchors;
        size_t alias_nodes;
        JsonValue *root;

        const char *filename;
        unsigned doc_index;
        int error;
        char *message;
} Builder;

static int builder_fail(Builder *b, int error, unsigned line, const char *fmt, ...) _printf_(4, 5);
static int builder_fail(Builder *b, int error, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (b->error < 0) /* keep the first error */
                return b->error;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (asprintf(&b->message, "%s: document %u, line %u: %s", b->filename ?: "<input>",
                     b->doc_index ?: 1, line, what ?: "error") < 0)
                b->message = NULL;
        b->error = error;
        return error;
}

static void frame_done(Frame *f) {
        free(f->key);
        free(f->merges);
        free(f->anchor);
        *f = (Frame) {};
}

static void builder_reset_document(Builder *b) {
        while (b->depth > 0)
                frame_done(&b->stack[--b->depth]);
        for (size_t i = 0; i < b->n_anchors; i++)
                free(b->anchors[i].name);
        free(b->anchors);
        b->anchors = NULL;
        b->n_anchors = 0;
        b->alias_nodes = 0;
        b->root = NULL;
        b->doc = json_doc_free(b->doc);
}

/* Deep copy of v into b->doc, counted against the alias budget. */
static JsonValue *copy_value(Builder *b, const JsonValue *v, unsigned line, unsigned depth) {
        JsonValue *c = NULL;

        if (++b->alias_nodes > YAML_MAX_ALIAS_NODES) {
                builder_fail(b, -E2BIG, line, "alias expansion creates more than %u nodes", YAML_MAX_ALIAS_NODES);
                return NULL;
        }
        if (depth >= JSON_DEFAULT_MAX_DEPTH) {
                builder_fail(b, -ELOOP, line, "alias expansion nests deeper than %d levels",
                             JSON_DEFAULT_MAX_DEPTH);
                return NULL;
        }

        switch (json_type(v)) {
        case JSON_NULL:
                c = json_new_null(b->doc);
                break;
        case JSON_BOOL: {
                bool x = false;
                (void) json_bool(v, &x);
                c = json_new_bool(b->doc, x);
                break;
        }
        case JSON_NUMBER: {
                const char *t = json_number_text(v);
                c = json_new_number(b->doc, t, strlen(t));
                break;
        }
        case JSON_STRING:
                c = json_new_string(b->doc, json_string(v), json_string_len(v));
                break;
        case JSON_ARRAY: {
                const JsonValue *item;
                c = json_new_array(b->doc);
                if (!c)
                        break;
                JSON_ARRAY_FOREACH(item, v) {
                        JsonValue *ci = copy_value(b, item, line, depth + 1);
                        if (!ci)
                                return NULL;
                        if (json_array_append(b->doc, c, ci) < 0)
                                goto oom;
                }
                break;
        }
        case JSON_OBJECT: {
                const JsonValue *item;
                const char *key;
                c = json_new_object(b->doc);
                if (!c)
                        break;
                JSON_OBJECT_FOREACH(key, item, v) {
                        JsonValue *ci = copy_value(b, item, line, depth + 1);
                        if (!ci)
                                return NULL;
                        if (json_object_append(b->doc, c, key, strlen(key), ci) < 0)
                                goto oom;
                }
                break;
        }
        }
        if (c)
                return c;
oom:
        builder_fail(b, -ENOMEM, line, "out of memory");
        return NULL;
}

static bool all_in(const char *s, size_t n, const char *set) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr(set, s[i]) || s[i] == '\0')
                        return false;
        return true;
}

/* Scans [-+]?digits; returns the number of digit characters. */
static size_t scan_digits(const char *s, size_t n, size_t *i) {
        size_t start = *i;
        while (*i < n && s[*i] >= '0' && s[*i] <= '9')
                (*i)++;
        return *i - start;
}

/* YAML 1.2 core-schema number: writes a JSON number literal to out (size
 * n + 4 suffices).  Returns 1 int, 2 float, 0 not a number, -ERANGE for
 * .inf/.nan. */
static int core_number(const char *s, size_t n, char *out) {
        size_t i = 0, o = 0;

        if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
                bool hex = s[1] == 'x';
                unsigned long long v;
                char *end;

                if (!all_in(s + 2, n - 2, hex ? "0123456789abcdefABCDEF" : "01234567"))
                        return 0;
                errno = 0;
                v = strtoull(s + 2, &end, hex ? 16 : 8);
                if (errno != 0 || end != s + n)
                        return 0; /* too large for us: kept as a string */
                sprintf(out, "%llu", v);
                return 1;
        }

        {
                const char *t = s;
                size_t m = n;
                if (m > 0 && (t[0] == '+' || t[0] == '-'))
                        t++, m--;
                if ((m == 4 && (!strncmp(t, ".inf", 4) || !strncmp(t, ".Inf", 4) || !strncmp(t, ".INF", 4))) ||
                    (m == 4 && t == s && (!strncmp(t, ".nan", 4) || !strncmp(t, ".NaN", 4) || !strncmp(t, ".NAN", 4))))
                        return -ERANGE;
        }

        if (i < n && (s[i] == '+' || s[i] == '-')) {
                if (s[i] == '-')
                        out[o++] = '-';
                i++;
        }
        size_t int_start = i;
        size_t int_digits = scan_digits(s, n, &i);
        bool is_float = false;
        size_t frac_start = 0, frac_digits = 0;

        if (i < n && s[i] == '.') {
                is_float = true;
                i++;
                frac_start = i;
                frac_digits = scan_digits(s, n, &i);
                if (int_digits == 0 && frac_digits == 0)
                        return 0;
        } else if (int_digits == 0)
                return 0;

        /* Integer part without leading zeros (JSON forbids them). */
        size_t k = int_start;
        while (k + 1 < int_start + int_digits && s[k] == '0')
                k++;
        if (int_digits == 0)
                out[o++] = '0';
        else {
                memcpy(out + o, s + k, int_start + int_digits - k);
                o += int_start + int_digits - k;
        }
        if (is_float) {
                out[o++] = '.';
                if (frac_digits == 0)
                        out[o++] = '0';
                else {
                        memcpy(out + o, s + frac_start, frac_digits);
                        o += frac_digits;
                }
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                size_t e = i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (scan_digits(s, n, &i) == 0)
                        return 0;
                memcpy(out + o, s + e, i - e);
                o += i - e;
                is_float = true;
        }
        if (i != n)
                return 0;
        out[o] = '\0';
        return is_float ? 2 : 1;
}

static bool is_null_text(const char *s, size_t n) {
        return n == 0 || (n == 1 && s[0] == '~') ||
               (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int bool_text(const char *s, size_t n) {
        if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
                return 1;
        if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
                return 0;
        return -1;
}

static JsonValue *scalar_value(Builder *b, const yaml_event_t *e) {
        const char *s = (const char *) e->data.scalar.value;
        size_t n = e->data.scalar.length;
        const char *tag = (const char *) e->data.scalar.tag;
        unsigned line = e->start_mark.line + 1;
        const char *core = NULL;
        JsonValue *v;

        if (tag && startswith(tag, TAG_PREFIX))
                core = tag + strlen(TAG_PREFIX);

        if (tag && !(core && (streq(core, "null") || streq(core, "bool") || streq(core, "int") ||
                              streq(core, "float"))))
                /* !!str, !!binary, "!" and application tags: the text as written. */
                v = json_new_string(b->doc, s, n);
        else if (!tag && e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                v = json_new_string(b->doc, s, n);
        else {
                _cleanup_free_ char *num = NULL;
                int bt = bool_text(s, n);

                if ((!core || streq(core, "null")) && is_null_text(s, n))
                        v = json_new_null(b->doc);
                else if ((!core || streq(core, "bool")) && bt >= 0)
                        v = json_new_bool(b->doc, bt);
                else {
                        int r;
                        num = malloc(n + 24);
                        if (!num)
                                goto oom;
                        r = core_number(s, n, num);
                        if (r == -ERANGE) {
                                builder_fail(b, -EINVAL, line, "\"%.*s\" (infinity or NaN) cannot be represented in JSON",
                                             (int) (n > 16 ? 16 : n), s);
                                return NULL;
                        }
                        if (core && !(streq(core, "int") && r == 1) &&
                            !(streq(core, "float") && r > 0)) {
                                builder_fail(b, -EINVAL, line, "value is not a valid !!%s", core);
                                return NULL;
                        }
                        if (r > 0)
                                v = json_new_number(b->doc, num, strlen(num));
                        else
                                v = json_new_string(b->doc, s, n);
                }
        }
        if (v)
                return v;
oom:
        builder_fail(b, -ENOMEM, line, "out of memory");
        return NULL;
}

static int anchor_add(Builder *b, const char *name, const JsonValue *value, unsigned line) {
        Anchor *a;

        if (b->n_anchors >= YAML_MAX_ANCHORS)
                return builder_fail(b, -E2BIG, line, "more than %u anchors", YAML_MAX_ANCHORS);
        a = realloc(b->anchors, (b->n_anchors + 1) * sizeof *a);
        if (!a)
                return builder_fail(b, -ENOMEM, line, "out of memory");
        b->anchors = a;
        a[b->n_anchors].name = strdup(name);
        if (!a[b->n_anchors].name)
                return builder_fail(b, -ENOMEM, line, "out of memory");
        a[b->n_anchors++].value = value;
        return 0;
}

static const JsonValue *anchor_find(Builder *b, const char *name) {
        /* From the end: a redefined anchor means its latest definition. */
        for (size_t i = b->n_anchors; i > 0; i--)
                if (streq(b->anchors[i - 1].name, name))
                        return b->anchors[i - 1].value;
        return NULL;
}

/* Hands a finished node to its parent (or makes it the root). */
static int node_add(Builder *b, JsonValue *v, const char *anchor, bool is_scalar, unsigned line) {
        /* The anchor refers to the node in the tree; every alias use copies it. */
        if (anchor) {
                int r = anchor_add(b, anchor, v, line);
                if (r < 0)
                        return r;
        }

        if (b->depth == 0) {
                b->root = v;
                return 0;
        }

        Frame *f = &b->stack[b->depth - 1];
        if (!f->is_map) {
                if (json_array_append(b->doc, f->value, v) < 0)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
                return 0;
        }

        if (!f->have_key) {
                const char *s;
                if (!is_scalar)
                        return builder_fail(b, -EINVAL, line, "mapping keys must be scalars");
                switch (json_type(v)) {
                case JSON_STRING:
                        s = json_string(v);
                        f->key_len = json_string_len(v);
                        break;
                case JSON_NUMBER:
                        s = json_number_text(v);
                        f->key_len = strlen(s);
                        break;
                case JSON_BOOL: {
                        bool x = false;
                        (void) json_bool(v, &x);
                        s = x ? "true" : "false";
                        f->key_len = strlen(s);
                        break;
                }
                default:
                        s = "null";
                        f->key_len = 4;
                }
                if (memchr(s, '\0', f->key_len))
                        return builder_fail(b, -EINVAL, line, "mapping key contains a NUL byte");
                f->key = strndup(s, f->key_len);
                if (!f->key)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
                f->have_key = true;
                return 0;
        }

        if (f->key_is_merge) {
                JsonValue **m;
                if (json_type(v) != JSON_OBJECT && json_type(v) != JSON_ARRAY)
                        return builder_fail(b, -EINVAL, line, "\"<<\" needs a mapping or a list of mappings");
                m = realloc(f->merges, (f->n_merges + 1) * sizeof *m);
                if (!m)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
                f->merges = m;
                f->merges[f->n_merges++] = v;
        } else {
                if (json_get(f->value, f->key))
                        return builder_fail(b, -EINVAL, line, "duplicate key \"%.64s\"", f->key);
                if (json_object_append(b->doc, f->value, f->key, f->key_len, v) < 0)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
        }
        free(f->key);
        f->key = NULL;
        f->have_key = f->key_is_merge = false;
        return 0;
}

static int merge_object(Builder *b, JsonValue *into, const JsonValue *src, unsigned line) {
        const JsonValue *v;
        const char *key;

        JSON_OBJECT_FOREACH(key, v, src) {
                JsonValue *c;
                if (json_get(into, key))
                        continue; /* explicit keys, and earlier merges, win */
                c = copy_value(b, v, line, b->depth);
                if (!c)
                        return b->error;
                if (json_object_append(b->doc, into, key, strlen(key), c) < 0)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
        }
        return 0;
}

static int mapping_apply_merges(Builder *b, Frame *f) {
        for (size_t i = 0; i < f->n_merges; i++) {
                const JsonValue *m = f->merges[i], *item;
                int r;

                if (json_type(m) == JSON_OBJECT) {
                        r = merge_object(b, f->value, m, f->line);
                        if (r < 0)
                                return r;
                        continue;
                }
                JSON_ARRAY_FOREACH(item, m) {
                        if (json_type(item) != JSON_OBJECT)
                                return builder_fail(b, -EINVAL, f->line, "\"<<\" list items must be mappings");
                        r = merge_object(b, f->value, item, f->line);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int collection_start(Builder *b, const yaml_event_t *e, bool is_map) {
        unsigned line = e->start_mark.line + 1;
        const yaml_char_t *anchor = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
        Frame *f;

        if (b->depth >= JSON_DEFAULT_MAX_DEPTH)
                return builder_fail(b, -ELOOP, line, "nesting deeper than %d levels", JSON_DEFAULT_MAX_DEPTH);
        if (b->depth > 0) {
                Frame *parent = &b->stack[b->depth - 1];
                if (parent->is_map && !parent->have_key)
                        return builder_fail(b, -EINVAL, line, "mapping keys must be scalars");
        }
        f = &b->stack[b->depth];
        *f = (Frame) { .is_map = is_map, .line = line };
        f->value = is_map ? json_new_object(b->doc) : json_new_array(b->doc);
        if (!f->value)
                return builder_fail(b, -ENOMEM, line, "out of memory");
        if (anchor) {
                f->anchor = strdup((const char *) anchor);
                if (!f->anchor)
                        return builder_fail(b, -ENOMEM, line, "out of memory");
        }
        b->depth++;
        return 0;
}

static int collection_end(Builder *b, const yaml_event_t *e) {
        Frame *f = &b->stack[b->depth - 1];
        _cleanup_free_ char *anchor = NULL;
        JsonValue *v;
        int r;

        if (f->is_map) {
                r = mapping_apply_merges(b, f);
                if (r < 0)
                        return r;
        }
        v = f->value;
        anchor = TAKE_PTR(f->anchor);
        frame_done(f);
        b->depth--;
        return node_add(b, v, anchor, false, e->start_mark.line + 1);
}

static int alias_event(Builder *b, const yaml_event_t *e) {
        unsigned line = e->start_mark.line + 1;
        const char *name = (const char *) e->data.alias.anchor;
        const JsonValue *target = anchor_find(b, name);
        JsonValue *c;
        JsonType t;

        if (!target)
                return builder_fail(b, -EINVAL, line, "unknown alias \"*%.64s\"", name);
        c = copy_value(b, target, line, b->depth);
        if (!c)
                return b->error;
        t = json_type(c);
        return node_add(b, c, NULL, t != JSON_ARRAY && t != JSON_OBJECT, line);
}

static int scalar_event(Builder *b, const yaml_event_t *e) {
        unsigned line = e->start_mark.line + 1;
        JsonValue *v;

        if (b->depth > 0) {
                Frame *f = &b->stack[b->depth - 1];
                if (f->is_map && !f->have_key && !e->data.scalar.tag &&
                    e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && e->data.scalar.length == 2 &&
                    !memcmp(e->data.scalar.value, "<<", 2)) {
                        f->have_key = f->key_is_merge = true;
                        return 0;
                }
        }
        v = scalar_value(b, e);
        if (!v)
                return b->error;
        return node_add(b, v, (const char *) e->data.scalar.anchor, true, line);
}

static int parser_error(Builder *b, const yaml_parser_t *p) {
        if (p->error == YAML_MEMORY_ERROR)
                return builder_fail(b, -ENOMEM, p->problem_mark.line + 1, "out of memory");
        if (p->context)
                return builder_fail(b, -EINVAL, p->problem_mark.line + 1, "%s (%s)", p->problem ?: "syntax error",
                                    p->context);
        return builder_fail(b, -EINVAL, p->problem_mark.line + 1, "%s", p->problem ?: "syntax error");
}

JsonDoc **yaml_docs_free(JsonDoc **docs, size_t n) {
        if (!docs)
                return NULL;
        for (size_t i = 0; i < n; i++)
                json_doc_free(docs[i]);
        free(docs);
        return NULL;
}

int yaml_parse_documents_pos(const char *buf, size_t len, const char *filename, JsonDoc ***ret_docs,
                             YamlDocPos **ret_pos, size_t *ret_n, char **ret_error) {
        yaml_parser_t parser;
        Builder b = { .filename = filename };
        JsonDoc **docs = NULL;
        YamlDocPos *pos = NULL;
        size_t n = 0;
        bool done = false, root_empty = false;
        unsigned root_line = 0;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);

        while (!done && r >= 0) {
                yaml_event_t e;

                if (!yaml_parser_parse(&parser, &e)) {
                        if (b.doc_index == 0 || !b.doc)
                                b.doc_index++; /* the error is in the document that did not start */
                        r = parser_error(&b, &parser);
                        break;
                }

                switch (e.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        b.doc_index++;
                        root_line = 0;
                        root_empty = false;
                        r = json_doc_new(&b.doc);
                        if (r < 0)
                                r = builder_fail(&b, r, e.start_mark.line + 1, "out of memory");
                        break;
                case YAML_DOCUMENT_END_EVENT:
                        if (b.root && !root_empty) {
                                JsonDoc **d = realloc(docs, (n + 1) * sizeof *d);
                                YamlDocPos *p = d ? realloc(pos, (n + 1) * sizeof *p) : NULL;
                                if (d)
                                        docs = d;
                                if (p)
                                        pos = p;
                                if (!d || !p) {
                                        r = builder_fail(&b, -ENOMEM, e.start_mark.line + 1, "out of memory");
                                        break;
                                }
                                json_doc_set_root(b.doc, b.root);
                                docs[n] = TAKE_PTR(b.doc);
                                pos[n++] = (YamlDocPos) { .index = b.doc_index, .line = root_line };
                        }
                        builder_reset_document(&b);
                        break;
                case YAML_ALIAS_EVENT:
                        if (b.depth == 0)
                                root_line = e.start_mark.line + 1;
                        r = alias_event(&b, &e);
                        break;
                case YAML_SCALAR_EVENT:
                        if (b.depth == 0) {
                                root_line = e.start_mark.line + 1;
                                root_empty = e.data.scalar.length == 0 && !e.data.scalar.tag &&
                                             !e.data.scalar.anchor &&
                                             e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        }
                        r = scalar_event(&b, &e);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        if (b.depth == 0)
                                root_line = e.start_mark.line + 1;
                        r = collection_start(&b, &e, e.type == YAML_MAPPING_START_EVENT);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        r = collection_end(&b, &e);
                        break;
                default:
                        break;
                }
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&parser);
        builder_reset_document(&b);

        if (r < 0) {
                yaml_docs_free(docs, n);
                free(pos);
                if (ret_error)
                        *ret_error = TAKE_PTR(b.message);
                free(b.message);
                return r;
        }
        *ret_docs = docs;
        if (ret_pos)
                *ret_pos = pos;
        else
                free(pos);
        *ret_n = n;
        return 0;
}

int yaml_parse_documents(const char *buf, size_t len, const char *filename, JsonDoc ***ret_docs, size_t *ret_n,
                         char **ret_error) {
        return yaml_parse_documents_pos(buf, len, filename, ret_docs, NULL, ret_n, ret_error);
}
