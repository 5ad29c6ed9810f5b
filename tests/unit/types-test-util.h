/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by tests/unit/test-types-*.c: load a captured kube-apiserver
 * fixture (tests/unit/fixtures/) and decode JSON text into a kind. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "object.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

static inline char *fixture_read(const char *name) {
        char path[1024];
        FILE *f;
        char *buf;
        long len;

        snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
        f = fopen(path, "rb");
        if (!f)
                fail_msg("cannot open fixture %s", path);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t) len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) len, f), (size_t) len);
        buf[len] = 0;
        fclose(f);
        return buf;
}

/* Decodes text as kind (NULL: by its apiVersion/kind); returns the error
 * code, the object in *ret, the message in *ret_error. */
static inline int decode_text(const KubeKind *kind, const char *text, StrPool *pool, KubeObject **ret,
                              char **ret_error) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        KubeDecodeContext ctx = { .pool = pool };
        int r = json_parse(text, strlen(text), NULL, &doc, ret_error);
        if (r < 0)
                return r;
        return kube_object_decode(kind, json_doc_root(doc), &ctx, ret, ret_error);
}

static inline KubeObject *decode_fixture(const KubeKind *kind, const char *name, StrPool *pool) {
        _cleanup_free_ char *text = fixture_read(name);
        KubeObject *o = NULL;
        char *err = NULL;
        int r = decode_text(kind, text, pool, &o, &err);
        if (r < 0)
                fail_msg("decoding %s: %d %s", name, r, err);
        return o;
}

/* Encodes o with its kind's encoder (or fn) and returns the text. */
static inline char *encode_text(int (*fn)(const KubeObject *, yajl_gen), const KubeObject *o) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        char *out = NULL;
        assert_int_equal((fn ? fn : o->kind->encode)(o, g), 0);
        assert_int_equal(json_gen_take(g, &out, NULL), 0);
        return out;
}

/* Expects decoding to fail with -EINVAL and exactly this message. */
static inline void expect_decode_error(const KubeKind *kind, const char *text, const char *message) {
        _cleanup_(strpool_freep) StrPool *pool = strpool_new();
        KubeObject *o = NULL;
        _cleanup_free_ char *err = NULL;
        int r = decode_text(kind, text, pool, &o, &err);
        if (r != -EINVAL || !err || strcmp(err, message) != 0)
                fail_msg("input %s: expected -EINVAL \"%s\", got %d \"%s\"", text, message, r, err ? err : "(null)");
        assert_null(o);
        assert_int_equal(strpool_count(pool), 0); /* nothing leaked into the pool */
}
