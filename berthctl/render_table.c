/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "table.h"

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%" PRIi64, (int64_t) (v)), (buf))

int64_t render_percent(int64_t used, int64_t size) {
        /* in double: an IPv6 pool's size saturates at INT64_MAX */
        return size > 0 ? (int64_t) ((double) used * 100.0 / (double) size) : 0;
}

const char *render_bar(int64_t used, int64_t size, char buf[static RENDER_BAR_MAX]) {
        size_t fill = 0;

        if (size > 0 && used > 0) {
                /* any use shows: one mark at least */
                fill = (size_t) ((double) used * RENDER_BAR_WIDTH / (double) size + 0.999);
                if (fill > RENDER_BAR_WIDTH)
                        fill = RENDER_BAR_WIDTH;
        }
        buf[0] = '[';
        memset(buf + 1, '#', fill);
        memset(buf + 1 + fill, '-', RENDER_BAR_WIDTH - fill);
        snprintf(buf + 1 + RENDER_BAR_WIDTH, RENDER_BAR_MAX - 1 - RENDER_BAR_WIDTH, "] %3" PRIi64 "%%",
                 render_percent(used, size));
        return buf;
}

/* One free-text line, cut to the table width. */
static int print_line(FILE *f, const char *prefix, const char *text) {
        _cleanup_free_ char *line = NULL, *e = NULL;

        if (asprintf(&line, "%s%s", prefix, text) < 0)
                return -ENOMEM;
        e = elide_middle(line, TABLE_WIDTH);
        if (!e)
                return -ENOMEM;
        fprintf(f, "%s\n", e);
        return 0;
}

static int pools_table(const Report *r, FILE *f) {
        static const char *const h[] = { "POOL", "SIZE", "USED", "FREE", "USE", "STATUS-USED" };
        static const bool elide[ELEMENTSOF(h)] = { true };
        _cleanup_(table_freep) Table *t = NULL;
        int k;

        fputs("POOLS\n", f);
        if (r->n_pools == 0) {
                fputs(r->config_error ? "no usable pool\n" : "no pool\n", f);
                return 0;
        }
        k = table_new(ELEMENTSOF(h), h, elide, &t);
        for (size_t i = 0; k >= 0 && i < r->n_pools; i++) {
                const ReportPool *p = &r->pools[i];
                char size[24], used[24], free_[24], st[24], bar[RENDER_BAR_MAX];
                const char *row[] = { p->name, I64(size, p->size), I64(used, p->used), I64(free_, p->size - p->used),
                                      render_bar(p->used, p->size, bar),
                                      p->status_written ? I64(st, p->status_used) : NULL };
                k = table_add_row(t, row);
        }
        if (k >= 0)
                k = table_print(t, TABLE_WIDTH, f);
        for (size_t i = 0; k >= 0 && i < r->n_pools; i++) {
                const ReportPool *p = &r->pools[i];
                _cleanup_free_ char *note = NULL;

                if (!p->status_written || p->status_used == p->used)
                        continue;
                if (asprintf(&note, "pool %s: its status counts %" PRIi64 " used, the Services hold %" PRIi64,
                             p->name, p->status_used, p->used) < 0)
                        return -ENOMEM;
                k = print_line(f, "note: ", note);
        }
        return k;
}

/* "a,b" of the IPs, and of their distinct announcers */
static int service_cells(const Report *r, const ReportService *s, char **ret_ips, char **ret_nodes) {
        _cleanup_free_ char *ips = NULL, *nodes = NULL;
        size_t n1 = 0, n2 = 0;
        FILE *a = open_memstream(&ips, &n1), *b = a ? open_memstream(&nodes, &n2) : NULL;
        bool any_node = false;

        if (!b) {
                if (a)
                        fclose(a);
                return -ENOMEM;
        }
        if (s->n_ips == 0)
                fputs("<pending>", a);
        for (size_t i = 0; i < s->n_ips; i++) {
                const ReportIp *ip = &s->ips[i];
                bool dup = false;

                fprintf(a, "%s%s", i ? "," : "", ip->ip);
                for (size_t k = 0; k < i && ip->node; k++)
                        dup = dup || streq_ptr(s->ips[k].node, ip->node);
                if (!ip->node || dup)
                        continue;
                /* against a cluster, mark what no live speaker confirms */
                fprintf(b, "%s%s%s", any_node ? "," : "", ip->node,
                        r->from_cluster && ip->from == REPORT_ANNOUNCED_ELECTION ? "*" : "");
                any_node = true;
        }
        if (fclose(a) != 0 || fclose(b) != 0)
                return -ENOMEM;
        *ret_ips = TAKE_PTR(ips);
        *ret_nodes = any_node ? TAKE_PTR(nodes) : NULL;
        return 0;
}

static int services_table(const Report *r, FILE *f) {
        static const char *const h[] = { "SERVICE", "EXTERNAL-IP", "POOL", "ANNOUNCED-BY", "READY" };
        static const bool elide[ELEMENTSOF(h)] = { true, true, true, true, false };
        _cleanup_(table_freep) Table *t = NULL;
        bool marked = false;
        int k;

        fputs("SERVICES\n", f);
        if (r->n_services == 0) {
                fputs("no LoadBalancer Service\n", f);
                return 0;
        }
        k = table_new(ELEMENTSOF(h), h, elide, &t);
        for (size_t i = 0; k >= 0 && i < r->n_services; i++) {
                const ReportService *s = &r->services[i];
                _cleanup_free_ char *key = NULL, *ips = NULL, *nodes = NULL;
                char ready[48];

                if (asprintf(&key, "%s/%s", s->namespace, s->name) < 0) {
                        key = NULL;
                        return -ENOMEM;
                }
                k = service_cells(r, s, &ips, &nodes);
                if (k < 0)
                        return k;
                marked = marked || (nodes && strchr(nodes, '*'));
                snprintf(ready, sizeof ready, "%zu/%zu", s->ready, s->ready + s->not_ready);
                const char *row[] = { key, ips, s->pool, nodes, ready };
                k = table_add_row(t, row);
        }
        if (k >= 0)
                k = table_print(t, TABLE_WIDTH, f);
        if (k >= 0 && marked)
                fputs("* computed by the election: no live speaker lease claims it\n", f);
        return k;
}

static int nodeports_tables(const Report *r, FILE *f) {
        static const char *const h[] = { "BAND", "PORTS", "USED", "FREE", "USE" };
        static const char *const hp[] = { "PORT", "REASON", "SERVICES" };
        static const bool elide_p[ELEMENTSOF(hp)] = { false, false, true };
        static const char *const bands[] = { "static", "dynamic" };
        const JsonValue *doc = json_doc_root(r->nodeports), *row, *v;
        _cleanup_(table_freep) Table *t = NULL, *tp = NULL;
        int k;

        fprintf(f, "NODE PORTS (range %s)\n", strempty(json_get_string(doc, "range")));
        k = table_new(ELEMENTSOF(h), h, NULL, &t);
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(bands); i++) {
                const JsonValue *b = json_get_path(doc, "bands", bands[i]);
                int64_t first = 0, last = 0, used = 0, avail = 0;
                char ports[32], u[24], a[24], bar[RENDER_BAR_MAX];

                (void) json_int64(json_get(b, "first"), &first);
                (void) json_int64(json_get(b, "last"), &last);
                (void) json_int64(json_get(b, "allocated"), &used);
                (void) json_int64(json_get(b, "available"), &avail);
                if (last < first)
                        snprintf(ports, sizeof ports, "none");
                else
                        snprintf(ports, sizeof ports, "%" PRIi64 "-%" PRIi64, first, last);
                const char *cells[] = { bands[i], ports, I64(u, used), I64(a, avail), render_bar(used, used + avail, bar) };
                k = table_add_row(t, cells);
        }
        if (k >= 0)
                k = table_print(t, TABLE_WIDTH, f);
        if (k < 0 || json_array_len(json_get(doc, "problems")) == 0)
                return k;
        fputs("conflicts:\n", f);
        k = table_new(ELEMENTSOF(hp), hp, elide_p, &tp);
        JSON_ARRAY_FOREACH(row, json_get(doc, "problems")) {
                _cleanup_free_ char *list = NULL;
                size_t n = 0;
                FILE *m = open_memstream(&list, &n);
                int64_t port = 0;
                char p[24];
                bool first = true;

                if (!m)
                        return -ENOMEM;
                JSON_ARRAY_FOREACH(v, json_get(row, "services")) {
                        fprintf(m, "%s%s", first ? "" : ",", strempty(json_string(v)));
                        first = false;
                }
                if (fclose(m) != 0)
                        return -ENOMEM;
                (void) json_int64(json_get(row, "port"), &port);
                const char *cells[] = { I64(p, port), json_get_string(row, "reason"), list };
                if (k >= 0)
                        k = table_add_row(tp, cells);
        }
        return k < 0 ? k : table_print(tp, TABLE_WIDTH, f);
}

static int problems_table(const Report *r, FILE *f) {
        static const char *const h[] = { "KIND", "PROBLEM" };
        static const bool elide[ELEMENTSOF(h)] = { false, true };
        _cleanup_(table_freep) Table *t = NULL;
        int k;

        fputs("PROBLEMS\n", f);
        if (r->n_problems == 0) {
                fputs("none\n", f);
                return 0;
        }
        k = table_new(ELEMENTSOF(h), h, elide, &t);
        for (size_t i = 0; k >= 0 && i < r->n_problems; i++) {
                const char *row[] = { r->problems[i].kind, r->problems[i].message };
                k = table_add_row(t, row);
        }
        return k < 0 ? k : table_print(t, TABLE_WIDTH, f);
}

int render_table(const Report *r, FILE *f) {
        int k;

        k = pools_table(r, f);
        if (k >= 0 && r->config_error)
                k = print_line(f, "configuration invalid: ", r->config_error);
        if (k >= 0) {
                fputc('\n', f);
                k = services_table(r, f);
        }
        if (k >= 0 && r->nodeports) {
                fputc('\n', f);
                k = nodeports_tables(r, f);
        }
        if (k >= 0) {
                fputc('\n', f);
                k = problems_table(r, f);
        }
        if (k >= 0 && ferror(f))
                k = -EIO;
        return k;
}

int render_nodeports_table(const Report *r, FILE *f) {
        int k;

        if (!r->nodeports)
                return -ENODATA;
        k = nodeports_tables(r, f);
        if (k >= 0 && ferror(f))
                k = -EIO;
        return k;
}
