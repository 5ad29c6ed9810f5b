/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "render.h"

#define T(x)                     \
        do {                     \
                if (k >= 0)      \
                        k = (x); \
        } while (0)

static const char *announced_from(ReportAnnouncedFrom f) {
        switch (f) {
        case REPORT_ANNOUNCED_LEASE:
                return "lease";
        case REPORT_ANNOUNCED_ELECTION:
                return "election";
        case REPORT_ANNOUNCED_NONE:
                break;
        }
        return NULL;
}

static int gen_pools(const Report *r, yajl_gen g) {
        int k = json_gen_array_open(g);

        for (size_t i = 0; i < r->n_pools; i++) {
                const ReportPool *p = &r->pools[i];
                T(json_gen_map_open(g));
                T(json_gen_kv_str(g, "name", p->name));
                T(json_gen_kv_int(g, "size", p->size));
                T(json_gen_kv_int(g, "used", p->used));
                T(json_gen_kv_int(g, "free", p->size - p->used));
                T(json_gen_kv_int(g, "usagePercent", render_percent(p->used, p->size)));
                T(json_gen_str(g, "statusUsed"));
                T(p->status_written ? json_gen_int(g, p->status_used) : json_gen_null(g));
                T(json_gen_map_close(g));
        }
        T(json_gen_array_close(g));
        return k;
}

static int gen_services(const Report *r, yajl_gen g) {
        int k = json_gen_array_open(g);

        for (size_t i = 0; i < r->n_services; i++) {
                const ReportService *s = &r->services[i];
                T(json_gen_map_open(g));
                T(json_gen_kv_str(g, "namespace", s->namespace));
                T(json_gen_kv_str(g, "name", s->name));
                T(json_gen_str(g, "ips"));
                T(json_gen_array_open(g));
                for (size_t n = 0; n < s->n_ips; n++) {
                        T(json_gen_map_open(g));
                        T(json_gen_kv_str(g, "ip", s->ips[n].ip));
                        T(json_gen_kv_str(g, "announcedBy", s->ips[n].node));
                        T(json_gen_kv_str(g, "announcedFrom", announced_from(s->ips[n].from)));
                        T(json_gen_map_close(g));
                }
                T(json_gen_array_close(g));
                T(json_gen_kv_str(g, "pool", s->pool));
                T(json_gen_kv_bool(g, "pending", s->n_ips == 0));
                T(json_gen_kv_int(g, "readyEndpoints", (int64_t) s->ready));
                T(json_gen_kv_int(g, "notReadyEndpoints", (int64_t) s->not_ready));
                T(json_gen_map_close(g));
        }
        T(json_gen_array_close(g));
        return k;
}

/* The /debug/nodeports document without what changes from run to run
 * (lastFullPass, leak candidates, the role): a plan's output is stable. */
static int gen_nodeports(const Report *r, yajl_gen g) {
        static const char *const keys[] = { "range", "offset", "usagePercent", "bands", "problems", "missing" };
        const JsonValue *doc = json_doc_root(r->nodeports);
        int k;

        if (!doc)
                return json_gen_null(g);
        k = json_gen_map_open(g);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                T(json_gen_str(g, keys[i]));
                T(json_get(doc, keys[i]) ? json_write(g, json_get(doc, keys[i])) : json_gen_null(g));
        }
        T(json_gen_map_close(g));
        return k;
}

static int gen_problems(const Report *r, yajl_gen g) {
        int k = json_gen_array_open(g);

        for (size_t i = 0; i < r->n_problems; i++) {
                T(json_gen_map_open(g));
                T(json_gen_kv_str(g, "kind", r->problems[i].kind));
                T(json_gen_kv_str(g, "object", r->problems[i].object));
                T(json_gen_kv_str(g, "message", r->problems[i].message));
                T(json_gen_map_close(g));
        }
        T(json_gen_array_close(g));
        return k;
}

static int print(yajl_gen g, FILE *f) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int k;

        k = json_gen_take(g, &text, &len);
        if (k < 0)
                return k;
        if (fwrite(text, 1, len, f) != len || (len > 0 && text[len - 1] != '\n' && fputc('\n', f) == EOF))
                return -EIO;
        return 0;
}

int render_json(const Report *r, FILE *f) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(true);
        int k;

        if (!g)
                return -ENOMEM;
        k = json_gen_map_open(g);
        T(json_gen_kv_str(g, "source", r->from_cluster ? "cluster" : "manifests"));
        T(json_gen_str(g, "configuration"));
        T(json_gen_map_open(g));
        T(json_gen_kv_bool(g, "valid", !r->config_error));
        T(json_gen_kv_str(g, "error", r->config_error));
        T(json_gen_map_close(g));
        T(json_gen_str(g, "pools"));
        T(gen_pools(r, g));
        T(json_gen_str(g, "services"));
        T(gen_services(r, g));
        T(json_gen_str(g, "nodePorts"));
        T(gen_nodeports(r, g));
        T(json_gen_str(g, "problems"));
        T(gen_problems(r, g));
        T(json_gen_map_close(g));
        return k < 0 ? k : print(g, f);
}

int render_nodeports_json(const Report *r, FILE *f) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(true);
        int k;

        if (!g)
                return -ENOMEM;
        if (!r->nodeports)
                return -ENODATA;
        k = json_write(g, json_doc_root(r->nodeports));
        return k < 0 ? k : print(g, f);
}
