/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "object.h"

const char *strmap_get(const StrMap *m, const char *key) {
        size_t lo = 0, hi;
        if (!m || !key)
                return NULL;
        hi = m->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(m->entries[mid].key, key);
                if (c == 0)
                        return m->entries[mid].value;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

bool strmap_equal(const StrMap *a, const StrMap *b) {
        size_t na = a ? a->n : 0, nb = b ? b->n : 0;
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++) {
                const struct StrMapEntry *x = &a->entries[i], *y = &b->entries[i];
                /* Interned in one pool: pointers usually decide. */
                if ((x->key != y->key && !streq(x->key, y->key)) ||
                    (x->value != y->value && !streq(x->value, y->value)))
                        return false;
        }
        return true;
}

int object_meta_decode(const JsonValue *metadata, KubeDecodeContext *ctx, bool namespaced,
                       const char *const *keep_annotations, ObjectMeta *ret, char **ret_error) {
        StrPool *pool = ctx->pool;
        ObjectMeta m = {};
        int r;

        if (!metadata || json_is_null(metadata))
                return decode_error(ret_error, "metadata: required");
        if (json_type(metadata) != JSON_OBJECT)
                return decode_error(ret_error, "metadata: expected an object");

        if ((r = dec_strdup(metadata, "name", &m.name, ret_error, "metadata")) < 0)
                goto fail;
        if (isempty(m.name)) {
                r = decode_error(ret_error, "metadata.name: required");
                goto fail;
        }
        if (namespaced) {
                if ((r = dec_intern(pool, metadata, "namespace", &m.namespace, ret_error, "metadata")) < 0)
                        goto fail;
                /* offline.md: a namespaced object without a namespace is in "default". */
                if (isempty(m.namespace) && (r = intern_replace(pool, &m.namespace, "default")) < 0)
                        goto fail;
        }
        if ((r = dec_strdup(metadata, "uid", &m.uid, ret_error, "metadata")) < 0 ||
            (r = dec_strdup(metadata, "resourceVersion", &m.resource_version, ret_error, "metadata")) < 0 ||
            (r = dec_int64(metadata, "generation", &m.generation, ret_error, "metadata")) < 0 ||
            (r = dec_time(metadata, "creationTimestamp", &m.creation_timestamp, ret_error, "metadata")) < 0 ||
            (r = dec_time(metadata, "deletionTimestamp", &m.deletion_timestamp, ret_error, "metadata")) < 0)
                goto fail;
        if ((r = strmap_decode(pool, json_get(metadata, "labels"), NULL, &m.labels, ret_error, "metadata.labels")) <
            0)
                goto fail;
        if ((!keep_annotations || keep_annotations[0]) &&
            (r = strmap_decode(pool, json_get(metadata, "annotations"), keep_annotations, &m.annotations, ret_error,
                               "metadata.annotations")) < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        object_meta_done(&m, pool);
        return r;
}

void object_meta_done(ObjectMeta *m, StrPool *pool) {
        if (!m)
                return;
        strpool_release(pool, m->namespace);
        free(m->name);
        free(m->uid);
        free(m->resource_version);
        strmap_done(&m->labels, pool);
        strmap_done(&m->annotations, pool);
        *m = (ObjectMeta) {};
}

int object_meta_encode(const ObjectMeta *m, yajl_gen g) {
        return object_meta_encode_owned(m, NULL, NULL, g);
}

size_t object_meta_memory_size(const ObjectMeta *m) {
        return heap_strsize(m->name) + heap_strsize(m->uid) + heap_strsize(m->resource_version) +
               strmap_memory_size(&m->labels) + strmap_memory_size(&m->annotations);
}

const KubeKind *kube_kind_find(const char *api_version, const char *kind) {
        if (!api_version || !kind)
                return NULL;
        for (const KubeKind *const *k = kube_kinds; *k; k++)
                if (streq((*k)->kind, kind) && streq((*k)->api_version, api_version))
                        return *k;
        return NULL;
}

int kube_object_decode(const KubeKind *kind, const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret,
                       char **ret_error) {
        const char *api_version = NULL, *k = NULL;
        int r;

        if (json_type(v) != JSON_OBJECT)
                return decode_error(ret_error, "expected an object");
        if ((r = dec_string_ref(v, "apiVersion", &api_version, ret_error, "%s", "")) < 0 ||
            (r = dec_string_ref(v, "kind", &k, ret_error, "%s", "")) < 0)
                return r;
        if (!kind) {
                if (!api_version || !k)
                        return decode_error(ret_error, "%s: required", !k ? "kind" : "apiVersion");
                kind = kube_kind_find(api_version, k);
                if (!kind)
                        return decode_error(ret_error, "kind: %s %s is not a kind berth knows", api_version, k);
        } else if ((k && !streq(k, kind->kind)) || (api_version && !streq(api_version, kind->api_version)))
                /* LIST items carry no type meta; present ones must match. */
                return decode_error(ret_error, "kind: expected %s %s, got %s %s", kind->api_version, kind->kind,
                                    strempty(api_version), strempty(k));
        return kind->decode(v, ctx, ret, ret_error);
}

KubeObject *kube_object_ref(KubeObject *o) {
        if (o)
                o->refcount++;
        return o;
}

KubeObject *kube_object_unref(KubeObject *o) {
        if (!o)
                return NULL;
        if (--o->refcount > 0)
                return NULL;
        if (o->kind && o->kind->destroy)
                o->kind->destroy(o);
        object_meta_done(&o->meta, o->pool);
        free(o);
        return NULL;
}

const char *kube_object_key(const KubeObject *o, char *buf, size_t size) {
        if (!buf || size == 0)
                return buf;
        if (!o)
                snprintf(buf, size, "(null)");
        else if (o->meta.namespace)
                snprintf(buf, size, "%s/%s", o->meta.namespace, strempty(o->meta.name));
        else
                snprintf(buf, size, "%s", strempty(o->meta.name));
        return buf;
}
