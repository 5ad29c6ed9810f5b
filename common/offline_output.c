/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <strings.h>

#include <yaml.h>

#include "object.h"
#include "offline_output.h"
#include "source_offline.h"

/* ---- json ------------------------------------------------------------------ */

static int write_item(const OfflineObject *o, void *userdata) {
        return json_write(userdata, o->value);
}

static int count_item(const OfflineObject *o, void *userdata) {
        (void) o;
        (*(size_t *) userdata)++;
        return 0;
}

int offline_output_json(Source *s, FILE *f) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(true);
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        size_t n = 0;

        if (!g)
                return -ENOMEM;
        r = source_offline_foreach(s, NULL, OFFLINE_CHANGED, count_item, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                /* yajl's beautifier would spread an empty array over three lines */
                fputs("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": []\n}\n", f);
                return ferror(f) ? -EIO : 0;
        }
        if ((r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "apiVersion", "v1")) < 0 ||
            (r = json_gen_kv_str(g, "kind", "List")) < 0 || (r = json_gen_str(g, "items")) < 0 ||
            (r = json_gen_array_open(g)) < 0)
                return r;
        r = source_offline_foreach(s, NULL, OFFLINE_CHANGED, write_item, g);
        if (r < 0)
                return r;
        if ((r = json_gen_array_close(g)) < 0 || (r = json_gen_map_close(g)) < 0)
                return r;
        r = json_gen_take(g, &text, &len);
        if (r < 0)
                return r;
        /* yajl's beautifier ends without a newline */
        if (fwrite(text, 1, len, f) != len || (len > 0 && text[len - 1] != '\n' && fputc('\n', f) == EOF))
                return -EIO;
        return 0;
}

/* ---- yaml ------------------------------------------------------------------ */

/* Would a plain scalar with this text read back as something other than
 * the string (YAML 1.1 and 1.2 core: null, booleans, numbers, dates)?
 * Then it is quoted. */
static bool needs_quotes(const char *s, size_t len) {
        static const char *const words[] = { "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n" };
        char *end;

        if (len == 0 || strlen(s) != len)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strcasecmp(s, words[i]) == 0)
                        return true;
        if (strchr("0123456789+-.", s[0])) {
                bool numberish = true;
                for (const char *p = s; *p; p++)
                        if (!strchr("0123456789+-.:_eExXoObBaAcCdDfFtTzZ ", *p))
                                numberish = false;
                if (numberish)
                        return true;
                (void) strtod(s, &end);
                if (*end == '\0')
                        return true;
        }
        if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, "-.inf") == 0 || strcasecmp(s, ".nan") == 0)
                return true;
        return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, int init_ok) {
        if (!init_ok)
                return -ENOMEM;
        if (!yaml_emitter_emit(e, ev))
                return -EIO;
        return 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t len, bool plain_only, bool quote) {
        yaml_event_t ev;
        yaml_scalar_style_t style = quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
        return emit(e, &ev,
                    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) len, 1, !plain_only,
                                                 style));
}

static int emit_value(yaml_emitter_t *e, const JsonValue *v) {
        yaml_event_t ev;
        const JsonValue *item;
        const char *key;
        bool b;
        int r;

        switch (json_type(v)) {
        case JSON_NULL:
                return emit_scalar(e, "null", 4, true, false);
        case JSON_BOOL:
                (void) json_bool(v, &b);
                return emit_scalar(e, b ? "true" : "false", b ? 4 : 5, true, false);
        case JSON_NUMBER:
                return emit_scalar(e, json_number_text(v), strlen(json_number_text(v)), true, false);
        case JSON_STRING:
                return emit_scalar(e, json_string(v), json_string_len(v), false,
                                   needs_quotes(json_string(v), json_string_len(v)));
        case JSON_ARRAY:
                r = emit(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE));
                if (r < 0)
                        return r;
                JSON_ARRAY_FOREACH(item, v) {
                        r = emit_value(e, item);
                        if (r < 0)
                                return r;
                }
                return emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
        case JSON_OBJECT:
                r = emit(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE));
                if (r < 0)
                        return r;
                JSON_OBJECT_FOREACH(key, item, v) {
                        r = emit_scalar(e, key, strlen(key), false, needs_quotes(key, strlen(key)));
                        if (r >= 0)
                                r = emit_value(e, item);
                        if (r < 0)
                                return r;
                }
                return emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
        }
        return -EINVAL;
}

typedef struct YamlOut {
        yaml_emitter_t emitter;
        bool open;
} YamlOut;

static int yaml_out_begin(YamlOut *y, FILE *f) {
        yaml_event_t ev;

        if (!yaml_emitter_initialize(&y->emitter))
                return -ENOMEM;
        y->open = true;
        yaml_emitter_set_output_file(&y->emitter, f);
        yaml_emitter_set_unicode(&y->emitter, 1);
        yaml_emitter_set_indent(&y->emitter, 2);
        yaml_emitter_set_width(&y->emitter, -1);
        return emit(&y->emitter, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
}

static int yaml_out_document(YamlOut *y, const JsonValue *v) {
        yaml_event_t ev;
        int r;

        /* implicit start = 0: every document begins with "---" */
        r = emit(&y->emitter, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0));
        if (r >= 0)
                r = emit_value(&y->emitter, v);
        if (r >= 0)
                r = emit(&y->emitter, &ev, yaml_document_end_event_initialize(&ev, 1));
        return r;
}

static int yaml_out_end(YamlOut *y) {
        yaml_event_t ev;
        int r;

        r = emit(&y->emitter, &ev, yaml_stream_end_event_initialize(&ev));
        if (r >= 0 && !yaml_emitter_flush(&y->emitter))
                r = -EIO;
        yaml_emitter_delete(&y->emitter);
        y->open = false;
        return r;
}

static void yaml_out_abort(YamlOut *y) {
        if (y->open)
                yaml_emitter_delete(&y->emitter);
        y->open = false;
}

int yaml_write_document(FILE *f, const JsonValue *v) {
        YamlOut y = {};
        int r;

        r = yaml_out_begin(&y, f);
        if (r >= 0)
                r = yaml_out_document(&y, v);
        if (r >= 0)
                return yaml_out_end(&y);
        yaml_out_abort(&y);
        return r;
}

static int yaml_item(const OfflineObject *o, void *userdata) {
        return yaml_out_document(userdata, o->value);
}

int offline_output_yaml(Source *s, FILE *f) {
        YamlOut y = {};
        int r;

        r = yaml_out_begin(&y, f);
        if (r >= 0)
                r = source_offline_foreach(s, NULL, OFFLINE_CHANGED, yaml_item, &y);
        if (r >= 0)
                return yaml_out_end(&y);
        yaml_out_abort(&y);
        return r;
}

/* ---- table ----------------------------------------------------------------- */

enum { COL_NAMESPACE, COL_NAME, COL_TYPE, COL_CLUSTER_IP, COL_PORTS, COL_LB_IPS, COL_ANNOUNCED_BY, COL_READY,
       COL_NOT_READY, _COL_MAX };

static const char *const col_titles[_COL_MAX] = {
        "NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "EXTERNAL-IP", "ANNOUNCED-BY", "READY", "NOT-READY",
};

typedef struct Table {
        char *(*rows)[_COL_MAX];
        size_t n;
        Source *source;
        const OfflineTableHooks *hooks;
} Table;

typedef struct Buf {
        char *s;
        size_t len;
        FILE *f;
} Buf;

static int buf_open(Buf *b) {
        *b = (Buf) {};
        b->f = open_memstream(&b->s, &b->len);
        return b->f ? 0 : -ENOMEM;
}

static char *buf_take(Buf *b, const char *if_empty) {
        if (!b->f || fclose(b->f) != 0) {
                b->f = NULL;
                free(b->s);
                return NULL;
        }
        b->f = NULL;
        if (b->len == 0) {
                free(b->s);
                return strdup(if_empty);
        }
        return b->s;
}

static const char *int_text(const JsonValue *v, char *buf, size_t size) {
        int64_t n;
        if (json_int64(v, &n) < 0)
                return NULL;
        snprintf(buf, size, "%" PRId64, n);
        return buf;
}

/* Endpoint counts of a Service: from its EndpointSlices (counting each
 * target once across address families), else from its Endpoints. */
typedef struct Counts {
        size_t ready, not_ready;
        bool known;
        char **seen;
        size_t n_seen;
} Counts;

static bool seen_before(Counts *c, const char *id) {
        for (size_t i = 0; i < c->n_seen; i++)
                if (streq(c->seen[i], id))
                        return true;
        char **n = reallocarray(c->seen, c->n_seen + 1, sizeof(char *));
        if (!n)
                return false;
        c->seen = n;
        c->seen[c->n_seen] = strdup(id);
        if (c->seen[c->n_seen])
                c->n_seen++;
        return false;
}

static void count_endpoint(Counts *c, const char *id, bool ready) {
        if (id && seen_before(c, id))
                return;
        if (ready)
                c->ready++;
        else
                c->not_ready++;
}

typedef struct CountCtx {
        Counts *counts;
        const char *namespace, *service;
} CountCtx;

static int count_slice(const OfflineObject *o, void *userdata) {
        CountCtx *ctx = userdata;
        const JsonValue *labels = json_get_path(o->value, "metadata", "labels"), *ep;

        if (!streq_ptr(o->namespace, ctx->namespace) ||
            !streq_ptr(json_get_string(labels, "kubernetes.io/service-name"), ctx->service))
                return 0;
        ctx->counts->known = true;
        JSON_ARRAY_FOREACH(ep, json_get(o->value, "endpoints")) {
                const JsonValue *ready = json_get_path(ep, "conditions", "ready");
                bool b = true; /* unset ready means ready (discovery/v1) */
                const char *id = json_get_string(json_get(ep, "targetRef"), "name");
                if (!id)
                        id = json_string(json_array_at(json_get(ep, "addresses"), 0));
                if (ready)
                        (void) json_bool(ready, &b);
                count_endpoint(ctx->counts, id, b);
        }
        return 0;
}

static void count_endpoints(Source *s, const char *namespace, const char *name, Counts *c) {
        const KubeKind *slice = kube_kind_find("discovery.k8s.io/v1", "EndpointSlice");
        const KubeKind *endpoints = kube_kind_find("v1", "Endpoints");
        CountCtx ctx = { .counts = c, .namespace = namespace, .service = name };

        if (slice)
                (void) source_offline_foreach(s, slice, OFFLINE_EXISTING, count_slice, &ctx);
        if (c->known || !endpoints)
                return;
        const JsonValue *ep = source_offline_get(s, endpoints, namespace, name), *subset, *a;
        if (!ep)
                return;
        c->known = true;
        JSON_ARRAY_FOREACH(subset, json_get(ep, "subsets")) {
                JSON_ARRAY_FOREACH(a, json_get(subset, "addresses"))
                        count_endpoint(c, json_get_string(a, "ip"), true);
                JSON_ARRAY_FOREACH(a, json_get(subset, "notReadyAddresses"))
                        count_endpoint(c, json_get_string(a, "ip"), false);
        }
}

static void counts_done(Counts *c) {
        for (size_t i = 0; i < c->n_seen; i++)
                free(c->seen[i]);
        free(c->seen);
}

static int table_row(const OfflineObject *o, void *userdata) {
        Table *t = userdata;
        const JsonValue *spec = json_get(o->value, "spec"), *port, *ingress;
        const char *type = json_get_string(spec, "type"), *cluster_ip = json_get_string(spec, "clusterIP");
        char *row[_COL_MAX] = {};
        Buf ports, ips, nodes;
        Counts c = {};
        char num[32];
        int r;

        if (isempty(type))
                type = "ClusterIP";
        if ((r = buf_open(&ports)) < 0)
                return r;
        if ((r = buf_open(&ips)) < 0 || (r = buf_open(&nodes)) < 0) {
                buf_take(&ports, "");
                free(ports.s);
                if (ips.f) {
                        buf_take(&ips, "");
                        free(ips.s);
                }
                return r;
        }

        /* kubectl's PORT(S): port[:nodePort]/protocol, comma separated */
        JSON_ARRAY_FOREACH(port, json_get(spec, "ports")) {
                const char *p = int_text(json_get(port, "port"), num, sizeof num);
                const char *proto = json_get_string(port, "protocol");
                fprintf(ports.f, "%s%s", _i_port > 0 ? "," : "", strempty(p));
                if (int_text(json_get(port, "nodePort"), num, sizeof num))
                        fprintf(ports.f, ":%s", num);
                fprintf(ports.f, "/%s", isempty(proto) ? "TCP" : proto);
        }

        JSON_ARRAY_FOREACH(ingress, json_get_path(o->value, "status", "loadBalancer", "ingress")) {
                const char *ip = json_get_string(ingress, "ip");
                const char *node = NULL;
                if (isempty(ip))
                        continue;
                fprintf(ips.f, "%s%s", ips.len > 0 || ftell(ips.f) > 0 ? "," : "", ip);
                if (t->hooks && t->hooks->announcer)
                        node = t->hooks->announcer(o->namespace, o->name, ip, t->hooks->userdata);
                if (!isempty(node))
                        fprintf(nodes.f, "%s%s", ftell(nodes.f) > 0 ? "," : "", node);
        }
        fflush(ips.f);
        bool lb = streq(type, "LoadBalancer");

        count_endpoints(t->source, o->namespace, o->name, &c);

        row[COL_NAMESPACE] = strdup(strempty(o->namespace));
        row[COL_NAME] = strdup(o->name);
        row[COL_TYPE] = strdup(type);
        row[COL_CLUSTER_IP] = strdup(isempty(cluster_ip) ? "<none>" : cluster_ip);
        row[COL_PORTS] = buf_take(&ports, "<none>");
        row[COL_LB_IPS] = buf_take(&ips, lb ? "<pending>" : "<none>");
        row[COL_ANNOUNCED_BY] = buf_take(&nodes, "-");
        if (c.known) {
                snprintf(num, sizeof num, "%zu", c.ready);
                row[COL_READY] = strdup(num);
                snprintf(num, sizeof num, "%zu", c.not_ready);
                row[COL_NOT_READY] = strdup(num);
        } else {
                row[COL_READY] = strdup("-");
                row[COL_NOT_READY] = strdup("-");
        }
        counts_done(&c);

        char *(*rows)[_COL_MAX] = reallocarray(t->rows, t->n + 1, sizeof(*t->rows));
        bool ok = rows != NULL;
        for (size_t i = 0; i < _COL_MAX; i++)
                ok = ok && row[i];
        if (rows)
                t->rows = rows;
        if (!ok) {
                for (size_t i = 0; i < _COL_MAX; i++)
                        free(row[i]);
                return -ENOMEM;
        }
        memcpy(t->rows[t->n++], row, sizeof row);
        return 0;
}

int offline_output_table(Source *s, const OfflineTableHooks *hooks, FILE *f) {
        const KubeKind *service = kube_kind_find("v1", "Service");
        Table t = { .source = s, .hooks = hooks };
        size_t width[_COL_MAX];
        int r = 0;

        if (!service)
                return -EINVAL;
        r = source_offline_foreach(s, service, OFFLINE_EXISTING, table_row, &t);
        if (r >= 0) {
                for (size_t c = 0; c < _COL_MAX; c++) {
                        width[c] = strlen(col_titles[c]);
                        for (size_t i = 0; i < t.n; i++)
                                if (strlen(t.rows[i][c]) > width[c])
                                        width[c] = strlen(t.rows[i][c]);
                }
                /* kubectl's layout: columns three spaces apart, no trailing blanks */
                for (size_t i = 0; i <= t.n; i++)
                        for (size_t c = 0; c < _COL_MAX; c++) {
                                const char *cell = i == 0 ? col_titles[c] : t.rows[i - 1][c];
                                if (c + 1 < _COL_MAX)
                                        fprintf(f, "%-*s   ", (int) width[c], cell);
                                else
                                        fprintf(f, "%s\n", cell);
                        }
                if (ferror(f))
                        r = -EIO;
        }
        for (size_t i = 0; i < t.n; i++)
                for (size_t c = 0; c < _COL_MAX; c++)
                        free(t.rows[i][c]);
        free(t.rows);
        return r;
}

int offline_output_print(Source *s, OutputFormat format, const OfflineTableHooks *hooks, FILE *f) {
        int r;

        switch (format) {
        case OUTPUT_YAML:
                r = offline_output_yaml(s, f);
                break;
        case OUTPUT_TABLE:
                r = offline_output_table(s, hooks, f);
                break;
        case OUTPUT_JSON:
        default:
                r = offline_output_json(s, f);
                break;
        }
        if (r >= 0 && fflush(f) != 0)
                r = -EIO;
        return r;
}
