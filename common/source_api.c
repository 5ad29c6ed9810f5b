/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "informer.h"
#include "log.h"
#include "source.h"

/* The API source: one informer per (kind, filter), shared by everyone who
 * asks for the same pair; writes go straight to the server through
 * kube_request and come back decoded. */

typedef struct ApiCache {
        SourceCacheKey key;
        Cache *cache;
        Informer *informer;
        unsigned n_uses;             /* asks not yet released */
        char *warned;                /* the last error logged as a warning */
} ApiCache;

typedef struct ApiSource {
        Source base;
        KubeClient *client;
        ApiCache **caches;
        size_t n_caches;
        StrPool *pool;               /* objects handed to write callbacks */
        struct ApiWrite *writes;     /* writes and gets in flight, cancelled by free */
} ApiSource;

typedef struct ApiWrite {
        struct ApiWrite *prev, *next;
        ApiSource *source;
        const KubeKind *kind;
        KubeRequest *request;
        bool get;                    /* a GET: an answer without the object is an error */
        source_write_fn done;
        void *userdata;
} ApiWrite;

static void api_cache_free(ApiCache *c) {
        if (!c)
                return;
        /* The informer goes first: it fills the cache. */
        informer_free(c->informer);
        cache_free(c->cache);
        source_cache_key_done(&c->key);
        free(c->warned);
        free(c);
}

/* Until a cache has synced nothing is reconciled, so a list that keeps
 * failing (a missing CRD or namespace, a 403 from RBAC) would leave the
 * binary silently unready: say why, once per distinct error.  Later
 * failures are dropped watches that the informer resumes on its own. */
static void on_informer_error(Informer *i, int error, const char *message, void *userdata) {
        ApiCache *c = userdata;

        (void) error;
        if (informer_synced(i) || streq_ptr(c->warned, message))
                return;
        free(c->warned);
        c->warned = message ? strdup(message) : NULL;
        log_warning("cannot list %s%s%s%s%s: %s; retrying (nothing is reconciled until it succeeds%s)",
                    c->key.kind->resource, isempty(c->key.kind->group) ? "" : ".", strempty(c->key.kind->group),
                    c->key.namespace ? " in " : "", strempty(c->key.namespace), strempty(message),
                    streq(c->key.kind->group, "metallb.io") ? "; are the metallb.io CRDs installed?" : "");
}

static int api_cache(Source *src, const KubeKind *kind, const SourceFilter *filter, Cache **ret) {
        ApiSource *s = (ApiSource *) src;
        ApiCache *c;
        int r;

        for (size_t i = 0; i < s->n_caches; i++)
                if (source_cache_key_matches(&s->caches[i]->key, kind, filter)) {
                        s->caches[i]->n_uses++;
                        *ret = s->caches[i]->cache;
                        return 0;
                }

        ApiCache **cs = reallocarray(s->caches, s->n_caches + 1, sizeof(ApiCache *));
        if (!cs)
                return -ENOMEM;
        s->caches = cs;
        c = new0(ApiCache, 1);
        if (!c)
                return -ENOMEM;
        r = source_cache_key_init(&c->key, kind, filter);
        if (r >= 0)
                r = cache_new(kind, &c->cache);
        if (r >= 0) {
                SourceFilter f = source_cache_key_filter(&c->key);
                InformerOptions io = { .on_error = on_informer_error, .userdata = c };
                r = informer_new(s->base.event, s->client, kind, &f, c->cache, &io, &c->informer);
        }
        if (r >= 0)
                r = informer_start(c->informer);
        if (r < 0) {
                api_cache_free(c);
                return r;
        }
        c->n_uses = 1;
        s->caches[s->n_caches++] = c;
        *ret = c->cache;
        return 0;
}

static void api_cache_release(Source *src, Cache *cache) {
        ApiSource *s = (ApiSource *) src;

        for (size_t i = 0; i < s->n_caches; i++) {
                ApiCache *c = s->caches[i];
                if (c->cache != cache)
                        continue;
                if (--c->n_uses > 0)
                        return;
                memmove(s->caches + i, s->caches + i + 1, (s->n_caches - i - 1) * sizeof(ApiCache *));
                s->n_caches--;
                api_cache_free(c);
                return;
        }
        log_debug("source api: release of a cache it did not hand out");
}

static bool api_synced(Source *src) {
        ApiSource *s = (ApiSource *) src;
        for (size_t i = 0; i < s->n_caches; i++)
                if (!informer_synced(s->caches[i]->informer))
                        return false;
        return true;
}

static usec_t api_now(Source *src) {
        (void) src;
        return now_usec(CLOCK_REALTIME);
}

static void write_unlink(ApiWrite *w) {
        if (w->prev)
                w->prev->next = w->next;
        else if (w->source->writes == w)
                w->source->writes = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
}

static void on_write_done(KubeRequest *req, int error, const KubeResponse *resp, void *userdata) {
        ApiWrite *w = userdata;
        _cleanup_(kube_object_unrefp) KubeObject *stored = NULL;
        KubeStatus transport = {};
        const KubeStatus *status = NULL;

        (void) req;
        write_unlink(w);
        if (error >= 0 && resp && resp->http_code >= 200 && resp->http_code < 300) {
                _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
                _cleanup_free_ char *why = NULL;
                KubeDecodeContext ctx = { .pool = w->source->pool };

                /* A DELETE answers with the object or a Status; only an
                 * object of the kind is decoded. */
                if (resp->body && resp->body_len > 0 &&
                    json_parse(resp->body, resp->body_len, NULL, &doc, &why) >= 0 &&
                    streq_ptr(json_get_string(json_doc_root(doc), "kind"), w->kind->kind)) {
                        if (kube_object_decode(w->kind, json_doc_root(doc), &ctx, &stored, &why) < 0)
                                log_debug("write of %s: stored object does not decode: %s", w->kind->kind,
                                          strempty(why));
                }
                error = w->get && !stored ? -EBADMSG : 0;
                if (error < 0) {
                        transport.http_code = resp->http_code;
                        status = &transport;
                }
        } else if (error >= 0) {
                status = resp ? resp->status : NULL;
                if (!status) {
                        transport.http_code = resp ? resp->http_code : 0;
                        status = &transport;
                }
                error = source_errno_from_status(status);
        } else {
                status = resp && resp->status ? resp->status : &transport;
        }
        if (w->done)
                w->done(error, error < 0 ? status : NULL, stored, w->userdata);
        free(w);
}

/* Sends one request whose answer is an object of kind (or a Status). */
static int api_request(ApiSource *s, const char *method, const KubeKind *kind, const char *path,
                       const char *content_type, const char *body, source_write_fn done, void *userdata) {
        ApiWrite *w;
        int r;

        w = new0(ApiWrite, 1);
        if (!w)
                return -ENOMEM;
        *w = (ApiWrite) {
                .source = s,
                .kind = kind,
                .get = streq(method, "GET"),
                .done = done,
                .userdata = userdata,
        };
        KubeRequestOptions opts = {
                .method = method,
                .path = path,
                .content_type = content_type,
                .body = body,
                .body_len = body ? strlen(body) : 0,
                .on_done = on_write_done,
                .userdata = w,
        };
        r = kube_request(s->client, &opts, &w->request);
        if (r < 0) {
                free(w);
                return r;
        }
        w->next = s->writes;
        if (s->writes)
                s->writes->prev = w;
        s->writes = w;
        return 0;
}

static int api_write(Source *src, const char *method, const KubeKind *kind, const char *namespace, const char *name,
                     const char *subresource, const char *content_type, const char *body, source_write_fn done,
                     void *userdata) {
        _cleanup_free_ char *base = NULL, *path = NULL;

        base = kube_path(kind->group, kind->version, kind->resource, kind->namespaced ? namespace : NULL, name,
                         subresource);
        if (!base)
                return -ENOMEM;
        /* Every mutating request names berth as its field manager, so
         * managedFields say who owns what; server-side apply needs it. */
        if (asprintf(&path, "%s%s", base, streq(method, "DELETE") ? "" : "?fieldManager=berth") < 0)
                return -ENOMEM;
        return api_request((ApiSource *) src, method, kind, path, content_type, body, done, userdata);
}

static int api_get(Source *src, const KubeKind *kind, const char *namespace, const char *name, source_write_fn done,
                   void *userdata) {
        _cleanup_free_ char *path = NULL;

        if (!kind || isempty(name))
                return -EINVAL;
        /* No resourceVersion parameter: a consistent read, newer than
         * whatever the watch has delivered. */
        path = kube_path(kind->group, kind->version, kind->resource, kind->namespaced ? namespace : NULL, name,
                         NULL);
        if (!path)
                return -ENOMEM;
        return api_request((ApiSource *) src, "GET", kind, path, NULL, NULL, done, userdata);
}

static void write_cancel(ApiWrite *w) {
        write_unlink(w);
        kube_request_cancel(w->request);
        free(w);
}

static void api_cancel(Source *src, void *userdata) {
        ApiSource *s = (ApiSource *) src;

        for (ApiWrite *w = s->writes, *next; w; w = next) {
                next = w->next;
                if (w->userdata == userdata)
                        write_cancel(w);
        }
}

static void api_free(Source *src) {
        ApiSource *s = (ApiSource *) src;

        while (s->writes)
                write_cancel(s->writes);
        for (size_t i = 0; i < s->n_caches; i++)
                api_cache_free(s->caches[i]);
        free(s->caches);
        strpool_free(s->pool);
        sd_event_unref(s->base.event);
        free(s);
}

static const SourceOps api_ops = {
        .name = "api",
        .cache = api_cache,
        .synced = api_synced,
        .write = api_write,
        .now = api_now,
        .get = api_get,
        .cache_release = api_cache_release,
        .cancel = api_cancel,
        .free = api_free,
};

int source_api_new(sd_event *event, KubeClient *client, Source **ret) {
        ApiSource *s;

        if (!event || !client)
                return -EINVAL;
        s = new0(ApiSource, 1);
        if (!s)
                return -ENOMEM;
        s->base.ops = &api_ops;
        s->base.event = sd_event_ref(event);
        s->client = client;
        s->pool = strpool_new();
        if (!s->pool) {
                api_free(&s->base);
                return -ENOMEM;
        }
        *ret = &s->base;
        return 0;
}
