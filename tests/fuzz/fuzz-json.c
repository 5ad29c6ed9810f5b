/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON parser on arbitrary bytes: parse, walk every value, write it
 * back, and check that the written text parses to the same text again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const JsonValue *v, unsigned depth) {
        const JsonValue *c;
        const char *key;
        size_t n = 1;
        int64_t i;
        double d;
        bool b;

        if (depth > JSON_DEFAULT_MAX_DEPTH)
                abort(); /* the parser lets nothing deeper through */
        switch (json_type(v)) {
        case JSON_OBJECT:
                JSON_OBJECT_FOREACH(key, c, v) {
                        if (json_get(v, key) == NULL)
                                abort(); /* every key is found again */
                        n += walk(c, depth + 1);
                }
                break;
        case JSON_ARRAY:
                JSON_ARRAY_FOREACH(c, v)
                        n += walk(c, depth + 1);
                break;
        case JSON_NUMBER:
                (void) json_int64(v, &i);
                (void) json_double(v, &d);
                break;
        case JSON_STRING:
                if (json_string(v)[json_string_len(v)] != 0)
                        abort();
                break;
        case JSON_BOOL:
                (void) json_bool(v, &b);
                break;
        default:
                break;
        }
        return n;
}

static char *write_doc(const JsonDoc *doc) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char *out = NULL;
        if (!g || json_write(g, json_doc_root(doc)) < 0 || json_gen_take(g, &out, NULL) < 0)
                return NULL;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL, *again = NULL;
        _cleanup_free_ char *err = NULL, *once = NULL, *twice = NULL;
        JsonLimits limits = { .max_bytes = 1u << 20 };

        if (json_parse((const char *) data, size, &limits, &doc, &err) < 0) {
                if (!err || strchr(err, '\n'))
                        abort(); /* every failure has a one-line message */
                return 0;
        }
        walk(json_doc_root(doc), 1);
        once = write_doc(doc);
        if (!once)
                return 0; /* e.g. invalid UTF-8 never reaches here: yajl validated it */
        if (json_parse(once, strlen(once), NULL, &again, NULL) < 0)
                abort();
        twice = write_doc(again);
        if (!twice || strcmp(once, twice) != 0)
                abort();
        return 0;
}
