/* SPDX-License-Identifier: Apache-2.0 */
/* Every decoder on arbitrary JSON: the first byte picks the kind (or "by
 * apiVersion/kind"), the rest is the document.  A decoded object must
 * encode, report its size, and give every interned string back. */
#include <stdint.h>
#include <stdlib.h>

#include "json.h"
#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_(strpool_freep) StrPool *pool = NULL;
        _cleanup_free_ char *err = NULL;
        const KubeKind *kind = NULL;
        KubeObject *o = NULL;
        size_t n_kinds = 0;
        int r;

        if (size < 1)
                return 0;
        while (kube_kinds[n_kinds])
                n_kinds++;
        if (data[0] < n_kinds)
                kind = kube_kinds[data[0]];
        if (json_parse((const char *) data + 1, size - 1, NULL, &doc, NULL) < 0)
                return 0;
        pool = strpool_new();
        if (!pool)
                return 0;
        KubeDecodeContext ctx = { .pool = pool };
        r = kube_object_decode(kind, json_doc_root(doc), &ctx, &o, &err);
        if (r < 0) {
                if (r == -EINVAL && !err)
                        abort(); /* a decode error always names the field */
                if (o || strpool_count(pool) != 0)
                        abort();
                return 0;
        }
        if (!o || !o->meta.name || o->kind->memory_size(o) == 0)
                abort();
        if (o->kind->encode) {
                _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
                /* Strings were validated UTF-8 by the parser, so encoding succeeds. */
                if (o->kind->encode(o, g) < 0)
                        abort();
        }
        kube_object_unref(o);
        if (strpool_count(pool) != 0)
                abort();
        return 0;
}
