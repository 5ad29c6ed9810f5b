/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "source_readonly.h"

typedef struct ReadonlySource {
        Source base;
        Source *inner;
} ReadonlySource;

#define INNER(s) (((ReadonlySource *) (s))->inner)

static int ro_cache(Source *s, const KubeKind *kind, const SourceFilter *filter, Cache **ret) {
        return source_cache(INNER(s), kind, filter, ret);
}

static bool ro_synced(Source *s) {
        return source_synced(INNER(s));
}

static int ro_write(Source *s, const char *method, const KubeKind *kind, const char *namespace, const char *name,
                    const char *subresource, const char *content_type, const char *body, source_write_fn done,
                    void *userdata) {
        (void) s, (void) content_type, (void) body, (void) done, (void) userdata;
        log_debug("read-only: dropped %s %s %s/%s%s%s", method, kind ? kind->kind : "?", strempty(namespace),
                  strempty(name), subresource ? "/" : "", strempty(subresource));
        return -EROFS;
}

static usec_t ro_now(Source *s) {
        return source_now(INNER(s));
}

static int ro_get(Source *s, const KubeKind *kind, const char *namespace, const char *name, source_write_fn done,
                  void *userdata) {
        return source_get(INNER(s), kind, namespace, name, done, userdata);
}

static void ro_cache_release(Source *s, Cache *c) {
        source_cache_release(INNER(s), c);
}

static void ro_cancel(Source *s, void *userdata) {
        source_cancel(INNER(s), userdata);
}

static void ro_free(Source *s) {
        sd_event_unref(s->event);
        free(s);
}

static const SourceOps readonly_ops = {
        .name = "readonly",
        .cache = ro_cache,
        .synced = ro_synced,
        .write = ro_write,
        .now = ro_now,
        .get = ro_get,
        .cache_release = ro_cache_release,
        .cancel = ro_cancel,
        .free = ro_free,
};

int source_readonly_new(Source *inner, Source **ret) {
        ReadonlySource *s;

        if (!inner)
                return -EINVAL;
        s = new0(ReadonlySource, 1);
        if (!s)
                return -ENOMEM;
        s->base.ops = &readonly_ops;
        s->base.event = sd_event_ref(inner->event);
        s->inner = inner;
        *ret = &s->base;
        return 0;
}
