/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "json_patch.h"

/* The depth of everything here is bounded by the parsed documents'
 * depth cap (JSON_DEFAULT_MAX_DEPTH), so recursion is safe. */

static const JsonValue *member(const JsonValue *object, const char *key) {
        return json_get(object, key);
}

int json_merge_patch_write(yajl_gen g, const JsonValue *target, const JsonValue *patch) {
        const JsonValue *v;
        const char *key;
        int r;

        if (json_type(patch) != JSON_OBJECT)
                return json_write(g, patch);
        if (json_type(target) != JSON_OBJECT)
                target = NULL;

        r = json_gen_map_open(g);
        if (r < 0)
                return r;
        /* target's members first, in their order, then the new ones: the
         * output keeps the shape of what was stored */
        JSON_OBJECT_FOREACH(key, v, target) {
                const JsonValue *p = member(patch, key);
                if (!p) {
                        r = json_gen_str(g, key);
                        if (r >= 0)
                                r = json_write(g, v);
                } else if (json_is_null(p))
                        continue;
                else {
                        r = json_gen_str(g, key);
                        if (r >= 0)
                                r = json_merge_patch_write(g, v, p);
                }
                if (r < 0)
                        return r;
        }
        JSON_OBJECT_FOREACH(key, v, patch) {
                if (member(target, key) || json_is_null(v))
                        continue;
                /* first occurrence only: json_get() is first-wins */
                if (member(patch, key) != v)
                        continue;
                r = json_gen_str(g, key);
                if (r >= 0)
                        r = json_merge_patch_write(g, NULL, v);
                if (r < 0)
                        return r;
        }
        return json_gen_map_close(g);
}

int json_write_replacing(yajl_gen g, const JsonValue *object, const char *key, const JsonValue *value) {
        const JsonValue *v;
        const char *k;
        bool found = false;
        int r;

        if (json_type(object) != JSON_OBJECT)
                return -EINVAL;
        r = json_gen_map_open(g);
        if (r < 0)
                return r;
        JSON_OBJECT_FOREACH(k, v, object) {
                if (streq(k, key)) {
                        if (found || !value)
                                continue;
                        found = true;
                        v = value;
                }
                r = json_gen_str(g, k);
                if (r >= 0)
                        r = json_write(g, v);
                if (r < 0)
                        return r;
        }
        if (!found && value) {
                r = json_gen_str(g, key);
                if (r >= 0)
                        r = json_write(g, value);
                if (r < 0)
                        return r;
        }
        return json_gen_map_close(g);
}

static size_t distinct_members(const JsonValue *o) {
        const JsonValue *v;
        const char *k;
        size_t n = 0;

        JSON_OBJECT_FOREACH(k, v, o)
                if (json_get(o, k) == v)
                        n++;
        return n;
}

bool json_equal(const JsonValue *a, const JsonValue *b) {
        JsonType t = json_type(a);
        const JsonValue *v;
        const char *k;

        if (!a || !b)
                return a == b;
        if (t != json_type(b))
                return false;
        switch (t) {
        case JSON_NULL:
                return true;
        case JSON_BOOL: {
                bool x = false, y = false;
                (void) json_bool(a, &x);
                (void) json_bool(b, &y);
                return x == y;
        }
        case JSON_NUMBER: {
                int64_t x, y;
                if (json_int64(a, &x) >= 0 && json_int64(b, &y) >= 0)
                        return x == y;
                return streq(json_number_text(a), json_number_text(b));
        }
        case JSON_STRING:
                return json_string_len(a) == json_string_len(b) &&
                       memcmp(json_string(a), json_string(b), json_string_len(a)) == 0;
        case JSON_ARRAY:
                if (json_array_len(a) != json_array_len(b))
                        return false;
                for (size_t i = 0; i < json_array_len(a); i++)
                        if (!json_equal(json_array_at(a, i), json_array_at(b, i)))
                                return false;
                return true;
        case JSON_OBJECT:
                if (distinct_members(a) != distinct_members(b))
                        return false;
                JSON_OBJECT_FOREACH(k, v, a) {
                        if (json_get(a, k) != v)
                                continue;
                        if (!json_equal(v, json_get(b, k)))
                                return false;
                }
                return true;
        }
        return false;
}

int json_reparse(yajl_gen g, JsonDoc **ret) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = json_gen_take(g, &text, &len);
        if (r < 0)
                return r;
        return json_parse(text, len, NULL, ret, NULL);
}
