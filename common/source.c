/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "source.h"

/* The typed write helpers: one place that maps each controller-facing
 * operation to the (method, subresource, content type) a source executes,
 * so the API and offline sources cannot disagree about them. */

int source_create(Source *s, const KubeKind *kind, const char *namespace, const char *body,
                  source_write_fn done, void *userdata) {
        if (!s || !kind || !body)
                return -EINVAL;
        return s->ops->write(s, "POST", kind, namespace, NULL, NULL, "application/json", body, done, userdata);
}

int source_replace(Source *s, const KubeKind *kind, const char *namespace, const char *name, const char *body,
                   source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PUT", kind, namespace, name, NULL, "application/json", body, done, userdata);
}

int source_replace_status(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                          const char *body, source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PUT", kind, namespace, name, "status", "application/json", body, done, userdata);
}

int source_merge_patch(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                       const char *subresource, const char *body, source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PATCH", kind, namespace, name, subresource, "application/merge-patch+json", body,
                             done, userdata);
}

int source_delete(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                  source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name))
                return -EINVAL;
        return s->ops->write(s, "DELETE", kind, namespace, name, NULL, NULL, NULL, done, userdata);
}

/* The DeleteOptions body: kind and apiVersion as `kubectl` and the API
 * docs send them (the server decodes DeleteOptions under any group). */
static int delete_options_uid(const char *uid, char **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        int r;

        if (!g)
                return -ENOMEM;
        if ((r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "kind", "DeleteOptions")) < 0 ||
            (r = json_gen_kv_str(g, "apiVersion", "v1")) < 0 || (r = json_gen_str(g, "preconditions")) < 0 ||
            (r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "uid", uid)) < 0 ||
            (r = json_gen_map_close(g)) < 0 || (r = json_gen_map_close(g)) < 0)
                return r;
        return json_gen_take(g, ret, NULL);
}

int source_delete_uid(Source *s, const KubeKind *kind, const char *namespace, const char *name, const char *uid,
                      source_write_fn done, void *userdata) {
        _cleanup_free_ char *body = NULL;
        int r;

        if (!s || !kind || isempty(name) || isempty(uid))
                return -EINVAL;
        r = delete_options_uid(uid, &body);
        if (r < 0)
                return r;
        return s->ops->write(s, "DELETE", kind, namespace, name, NULL, "application/json", body, done, userdata);
}

Source *source_free(Source *s) {
        if (!s)
                return NULL;
        s->ops->free(s);
        return NULL;
}

int source_errno_from_status(const KubeStatus *st) {
        long code = st ? st->http_code : 0;

        switch (code) {
        case 400:
        case 422:
                return -EINVAL;
        case 401:
                return -EACCES;
        case 403:
                return -EPERM;
        case 404:
                return -ENOENT;
        case 409:
                return st->reason && streq(st->reason, "AlreadyExists") ? -EEXIST : -ESTALE;
        case 410:
                return -ENODATA;
        case 429:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

static SourceFilter filter_normalized(const SourceFilter *f) {
        return (SourceFilter) {
                .namespace = f ? f->namespace : NULL,
                .label_selector = f && !isempty(f->label_selector) ? f->label_selector : NULL,
                .field_selector = f && !isempty(f->field_selector) ? f->field_selector : NULL,
        };
}

int source_cache_key_init(SourceCacheKey *k, const KubeKind *kind, const SourceFilter *filter) {
        SourceFilter f = filter_normalized(filter);

        *k = (SourceCacheKey) { .kind = kind };
        if ((f.namespace && !(k->namespace = strdup(f.namespace))) ||
            (f.label_selector && !(k->label_selector = strdup(f.label_selector))) ||
            (f.field_selector && !(k->field_selector = strdup(f.field_selector)))) {
                source_cache_key_done(k);
                return -ENOMEM;
        }
        return 0;
}

bool source_cache_key_matches(const SourceCacheKey *k, const KubeKind *kind, const SourceFilter *filter) {
        SourceFilter f = filter_normalized(filter);

        return k->kind == kind && streq_ptr(k->namespace, f.namespace) &&
               streq_ptr(k->label_selector, f.label_selector) && streq_ptr(k->field_selector, f.field_selector);
}

SourceFilter source_cache_key_filter(const SourceCacheKey *k) {
        return (SourceFilter) {
                .namespace = k->namespace,
                .label_selector = k->label_selector,
                .field_selector = k->field_selector,
        };
}

void source_cache_key_done(SourceCacheKey *k) {
        if (!k)
                return;
        free(k->namespace);
        free(k->label_selector);
        free(k->field_selector);
        *k = (SourceCacheKey) {};
}
