/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "event.h"

static void event_destroy(KubeObject *o) {
        Event *e = (Event *) o;
        StrPool *pool = o->pool;
        strpool_release(pool, e->reporting_controller);
        strpool_release(pool, e->reporting_instance);
        strpool_release(pool, e->action);
        strpool_release(pool, e->reason);
        strpool_release(pool, e->type);
        free(e->note);
        objref_done(&e->regarding, pool);
}

static int decode_common(const KubeKind *kind, const JsonValue *v, KubeDecodeContext *ctx, Event **ret,
                         KubeObject **ret_o, char **err) {
        Event *e = kube_object_alloc(kind, sizeof(Event), ctx->pool);
        int r;
        if (!e)
                return -ENOMEM;
        *ret_o = &e->object;
        *ret = e;
        if ((r = object_meta_decode(json_get(v, "metadata"), ctx, true, NULL, &e->object.meta, err)) < 0 ||
            (r = dec_intern(ctx->pool, v, "action", &e->action, err, "%s", "")) < 0 ||
            (r = dec_intern(ctx->pool, v, "reason", &e->reason, err, "%s", "")) < 0 ||
            (r = dec_intern(ctx->pool, v, "type", &e->type, err, "%s", "")) < 0 ||
            (r = dec_intern(ctx->pool, v, "reportingInstance", &e->reporting_instance, err, "%s", "")) < 0 ||
            (r = dec_time(v, "eventTime", &e->event_time, err, "%s", "")) < 0)
                return r;
        return 0;
}

static int decode_series(Event *e, const JsonValue *series, char **err) {
        int r;
        if (!series || json_is_null(series))
                return 0;
        if (json_type(series) != JSON_OBJECT)
                return decode_error(err, "series: expected an object");
        e->has_series = true;
        if ((r = dec_int32(series, "count", &e->series.count, err, "series")) < 0 ||
            (r = dec_time(series, "lastObservedTime", &e->series.last_observed_time, err, "series")) < 0)
                return r;
        return 0;
}

static int event_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *regarding;
        Event *e;
        int r;

        if ((r = decode_common(&kube_kind_event, v, ctx, &e, &o, err)) < 0 ||
            (r = dec_intern(ctx->pool, v, "reportingController", &e->reporting_controller, err, "%s", "")) < 0 ||
            (r = dec_strdup(v, "note", &e->note, err, "%s", "")) < 0 ||
            (r = decode_series(e, json_get(v, "series"), err)) < 0)
                return r;
        regarding = json_get(v, "regarding");
        if (regarding && !json_is_null(regarding) &&
            (r = objref_decode(ctx->pool, regarding, &e->regarding, err, "regarding")) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Core v1 Event: involvedObject, message, source.component, count. */
static int core_event_decode(const JsonValue *v, KubeDecodeContext *ctx, KubeObject **ret, char **err) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        const JsonValue *involved;
        int32_t count = 0;
        usec_t last = 0;
        Event *e;
        int r;

        if ((r = decode_common(&kube_kind_core_event, v, ctx, &e, &o, err)) < 0 ||
            (r = dec_intern(ctx->pool, v, "reportingComponent", &e->reporting_controller, err, "%s", "")) < 0 ||
            (r = dec_strdup(v, "message", &e->note, err, "%s", "")) < 0 ||
            (r = dec_int32(v, "count", &count, err, "%s", "")) < 0 ||
            (r = dec_time(v, "lastTimestamp", &last, err, "%s", "")) < 0)
                return r;
        if (!e->reporting_controller &&
            (r = dec_intern(ctx->pool, json_get(v, "source"), "component", &e->reporting_controller, err,
                            "source")) < 0)
                return r;
        if (e->event_time == 0 && (r = dec_time(v, "firstTimestamp", &e->event_time, err, "%s", "")) < 0)
                return r;
        if (count > 1) {
                e->has_series = true;
                e->series.count = count;
                e->series.last_observed_time = last;
        }
        involved = json_get(v, "involvedObject");
        if (involved && !json_is_null(involved) &&
            (r = objref_decode(ctx->pool, involved, &e->regarding, err, "involvedObject")) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static size_t event_memory_size(const KubeObject *o) {
        const Event *e = EVENT(o);
        return heap_size(sizeof(Event)) + object_meta_memory_size(&o->meta) + heap_strsize(e->note) +
               objref_memory_size(&e->regarding);
}

static int event_encode(const KubeObject *o, yajl_gen g) {
        const Event *e = EVENT(o);

        RET_NERRNO(json_gen_map_open(g));
        RET_NERRNO(json_gen_kv_str(g, "apiVersion", kube_kind_event.api_version));
        RET_NERRNO(json_gen_kv_str(g, "kind", kube_kind_event.kind));
        RET_NERRNO(object_meta_encode(&o->meta, g));
        RET_NERRNO(gen_kv_microtime(g, "eventTime", e->event_time));
        if (e->has_series) {
                RET_NERRNO(json_gen_str(g, "series"));
                RET_NERRNO(json_gen_map_open(g));
                RET_NERRNO(json_gen_kv_int(g, "count", e->series.count));
                RET_NERRNO(gen_kv_microtime(g, "lastObservedTime", e->series.last_observed_time));
                RET_NERRNO(json_gen_map_close(g));
        }
        RET_NERRNO(gen_kv_str_opt(g, "reportingController", e->reporting_controller));
        RET_NERRNO(gen_kv_str_opt(g, "reportingInstance", e->reporting_instance));
        RET_NERRNO(gen_kv_str_opt(g, "action", e->action));
        RET_NERRNO(gen_kv_str_opt(g, "reason", e->reason));
        if (e->regarding.kind || e->regarding.name) {
                RET_NERRNO(json_gen_str(g, "regarding"));
                RET_NERRNO(objref_encode(&e->regarding, g));
        }
        RET_NERRNO(gen_kv_str_opt(g, "note", e->note));
        RET_NERRNO(gen_kv_str_opt(g, "type", e->type));
        return json_gen_map_close(g);
}

const KubeKind kube_kind_event = {
        .kind = "Event",
        .api_version = "events.k8s.io/v1",
        .group = "events.k8s.io",
        .version = "v1",
        .resource = "events",
        .namespaced = true,
        .decode = event_decode,
        .destroy = event_destroy,
        .encode = event_encode,
        .memory_size = event_memory_size,
};

const KubeKind kube_kind_core_event = {
        .kind = "Event",
        .api_version = "v1",
        .group = "",
        .version = "v1",
        .resource = "events",
        .namespaced = true,
        .decode = core_event_decode,
        .destroy = event_destroy,
        .encode = NULL, /* berth writes events.k8s.io/v1 only */
        .memory_size = event_memory_size,
};
