/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "selector.h"

LabelSelectorOperator label_selector_operator_from_string(const char *s) {
        if (!s)
                return LABEL_OP_INVALID;
        if (streq(s, "In"))
                return LABEL_OP_IN;
        if (streq(s, "NotIn"))
                return LABEL_OP_NOT_IN;
        if (streq(s, "Exists"))
                return LABEL_OP_EXISTS;
        if (streq(s, "DoesNotExist"))
                return LABEL_OP_DOES_NOT_EXIST;
        return LABEL_OP_INVALID;
}

int label_selector_decode(StrPool *pool, const JsonValue *v, LabelSelector *ret, char **err, const char *path) {
        LabelSelector s = {};
        const JsonValue *exprs = NULL, *e;
        char sub[256];
        int r;

        *ret = (LabelSelector) {};
        if (!v || json_is_null(v))
                return 0;
        if (json_type(v) != JSON_OBJECT)
                return decode_error(err, "%s: expected an object", path);
        snprintf(sub, sizeof sub, "%s.matchLabels", path);
        if ((r = strmap_decode(pool, json_get(v, "matchLabels"), NULL, &s.match_labels, err, sub)) < 0)
                return r;
        if ((r = dec_array(v, "matchExpressions", &exprs, err, "%s", path)) < 0)
                goto fail;
        if (json_array_len(exprs) > 0) {
                s.expressions = new0(LabelSelectorRequirement, json_array_len(exprs));
                if (!s.expressions) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        JSON_ARRAY_FOREACH(e, exprs) {
                size_t i = s.n_expressions;
                LabelSelectorRequirement *q = &s.expressions[s.n_expressions++];
                if (json_type(e) != JSON_OBJECT) {
                        r = decode_error(err, "%s.matchExpressions[%zu]: expected an object", path, i);
                        goto fail;
                }
                if ((r = dec_intern(pool, e, "key", &q->key, err, "%s.matchExpressions[%zu]", path, i)) < 0 ||
                    (r = dec_intern(pool, e, "operator", &q->operator_name, err, "%s.matchExpressions[%zu]", path,
                                    i)) < 0 ||
                    (r = internlist_decode(pool, e, "values", &q->values, err, "%s.matchExpressions[%zu]", path,
                                           i)) < 0)
                        goto fail;
                if (!q->key) {
                        r = decode_error(err, "%s.matchExpressions[%zu].key: required", path, i);
                        goto fail;
                }
                q->op = label_selector_operator_from_string(q->operator_name);
        }
        *ret = s;
        return 1;
fail:
        label_selector_done(&s, pool);
        return r;
}

void label_selector_done(LabelSelector *s, StrPool *pool) {
        strmap_done(&s->match_labels, pool);
        for (size_t i = 0; i < s->n_expressions; i++) {
                strpool_release(pool, s->expressions[i].key);
                strpool_release(pool, s->expressions[i].operator_name);
                internlist_done(&s->expressions[i].values, pool);
        }
        free(s->expressions);
        *s = (LabelSelector) {};
}

size_t label_selector_memory_size(const LabelSelector *s) {
        size_t bytes = strmap_memory_size(&s->match_labels);
        if (s->expressions)
                bytes += heap_size(s->n_expressions * sizeof(LabelSelectorRequirement));
        for (size_t i = 0; i < s->n_expressions; i++)
                bytes += internlist_memory_size(&s->expressions[i].values);
        return bytes;
}

bool label_selector_is_empty(const LabelSelector *s) {
        return s->match_labels.n == 0 && s->n_expressions == 0;
}

static bool label_selector_equal(const LabelSelector *a, const LabelSelector *b) {
        if (!strmap_equal(&a->match_labels, &b->match_labels) || a->n_expressions != b->n_expressions)
                return false;
        for (size_t i = 0; i < a->n_expressions; i++) {
                const LabelSelectorRequirement *x = &a->expressions[i], *y = &b->expressions[i];
                if (!streq_ptr(x->key, y->key) || !streq_ptr(x->operator_name, y->operator_name) ||
                    !internlist_equal(&x->values, &y->values))
                        return false;
        }
        return true;
}

bool label_selectors_equal(const LabelSelectors *a, const LabelSelectors *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!label_selector_equal(&a->items[i], &b->items[i]))
                        return false;
        return true;
}

int label_selector_encode(const LabelSelector *s, yajl_gen g) {
        RET_NERRNO(json_gen_map_open(g));
        if (s->match_labels.n > 0) {
                RET_NERRNO(json_gen_str(g, "matchLabels"));
                RET_NERRNO(strmap_encode(&s->match_labels, g));
        }
        if (s->n_expressions > 0) {
                RET_NERRNO(json_gen_str(g, "matchExpressions"));
                RET_NERRNO(json_gen_array_open(g));
                for (size_t i = 0; i < s->n_expressions; i++) {
                        const LabelSelectorRequirement *q = &s->expressions[i];
                        RET_NERRNO(json_gen_map_open(g));
                        RET_NERRNO(gen_kv_str_opt(g, "key", q->key));
                        RET_NERRNO(gen_kv_str_opt(g, "operator", q->operator_name));
                        if (q->values.n > 0) {
                                RET_NERRNO(json_gen_str(g, "values"));
                                RET_NERRNO(internlist_encode(&q->values, g));
                        }
                        RET_NERRNO(json_gen_map_close(g));
                }
                RET_NERRNO(json_gen_array_close(g));
        }
        return json_gen_map_close(g);
}

int label_selectors_decode(StrPool *pool, const JsonValue *o, const char *key, LabelSelectors *ret, char **err,
                           const char *path) {
        const JsonValue *arr = NULL, *item;
        LabelSelectors l = {};
        int r;

        *ret = (LabelSelectors) {};
        r = dec_array(o, key, &arr, err, "%s", path);
        if (r <= 0 || json_array_len(arr) == 0)
                return r;
        l.items = new0(LabelSelector, json_array_len(arr));
        if (!l.items)
                return -ENOMEM;
        JSON_ARRAY_FOREACH(item, arr) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s%s%s[%zu]", path, *path ? "." : "", key, l.n);
                if (!item || json_is_null(item) || json_type(item) != JSON_OBJECT) {
                        r = decode_error(err, "%s: expected an object", sub);
                        goto fail;
                }
                r = label_selector_decode(pool, item, &l.items[l.n], err, sub);
                if (r < 0)
                        goto fail;
                l.n++;
        }
        *ret = l;
        return 1;
fail:
        label_selectors_done(&l, pool);
        return r;
}

void label_selectors_done(LabelSelectors *l, StrPool *pool) {
        for (size_t i = 0; i < l->n; i++)
                label_selector_done(&l->items[i], pool);
        free(l->items);
        *l = (LabelSelectors) {};
}

size_t label_selectors_memory_size(const LabelSelectors *l) {
        size_t bytes = l->items ? heap_size(l->n * sizeof(LabelSelector)) : 0;
        for (size_t i = 0; i < l->n; i++)
                bytes += label_selector_memory_size(&l->items[i]);
        return bytes;
}

int label_selectors_encode(const LabelSelectors *l, yajl_gen g) {
        RET_NERRNO(json_gen_array_open(g));
        for (size_t i = 0; i < l->n; i++)
                RET_NERRNO(label_selector_encode(&l->items[i], g));
        return json_gen_array_close(g);
}
