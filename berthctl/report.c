/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "endpointslice.h"
#include "ipaddresspool.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "namespace.h"
#include "node.h"
#include "nodeport.h"
#include "report.h"

int report_watch(Source *s, const ReportOptions *o) {
        /* the same kinds and filters as l2_offline_elect(), so it shares them */
        SourceFilter all = {}, lease_ns = { .namespace = o->lease_namespace },
                     config_ns = { .namespace = o->config_namespace };
        Cache *c;
        int r;

        if ((r = source_cache(s, &kube_kind_service, &all, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_endpointslice, &all, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_node, &all, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_namespace, &all, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_lease, &lease_ns, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_ipaddresspool, &config_ns, &c)) < 0 ||
            (r = source_cache(s, &kube_kind_l2advertisement, &config_ns, &c)) < 0)
                return r;
        return 0;
}

int report_add_problem(Report *r, const char *kind, const char *object, const char *fmt, ...) {
        ReportProblem *v = reallocarray(r->problems, r->n_problems + 1, sizeof(ReportProblem));
        ReportProblem *p;
        va_list ap;
        int k;

        if (!v)
                return -ENOMEM;
        r->problems = v;
        p = &v[r->n_problems];
        *p = (ReportProblem) { .kind = kind, .object = strdup(object) };
        va_start(ap, fmt);
        k = vasprintf(&p->message, fmt, ap);
        va_end(ap);
        if (k < 0)
                p->message = NULL;
        if (!p->object || !p->message) {
                free(p->object);
                free(p->message);
                return -ENOMEM;
        }
        r->n_problems++;
        return 0;
}

/* Every row of the document's "problems" is a conflict (nodeport.md §12). */
static int nodeport_problems(Report *r) {
        const JsonValue *row, *svc;

        JSON_ARRAY_FOREACH(row, json_get(json_doc_root(r->nodeports), "problems")) {
                _cleanup_free_ char *list = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&list, &size);
                int64_t port = 0;
                char object[16];
                bool first = true;

                if (!f)
                        return -ENOMEM;
                JSON_ARRAY_FOREACH(svc, json_get(row, "services")) {
                        fprintf(f, "%s%s", first ? "" : ", ", strempty(json_string(svc)));
                        first = false;
                }
                if (fclose(f) != 0)
                        return -ENOMEM;
                (void) json_int64(json_get(row, "port"), &port);
                snprintf(object, sizeof object, "%" PRIi64, port);
                int k = report_add_problem(r, strempty(json_get_string(row, "reason")), object, "node port %s: %s",
                                           object, list);
                if (k < 0)
                        return k;
                r->problems[r->n_problems - 1].node_port = true;
        }
        return 0;
}

static int nodeport_document(Controller *nodeport, Report *r) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *error = NULL;
        size_t len;
        int k;

        k = nodeport_controller_render_json(nodeport, &text, &len);
        if (k < 0)
                return k;
        k = json_parse(text, len, NULL, &r->nodeports, &error);
        return k < 0 ? k : nodeport_problems(r);
}

int report_build(Source *s, const ReportOptions *o, Controller *nodeport, Report *ret) {
        Report r = { .from_cluster = o->from_cluster };
        _cleanup_(lb_config_freep) LbConfig *config = NULL;
        int k;

        k = report_config(s, o, &r, &config);
        if (k >= 0)
                k = report_services(s, o, config, &r);
        if (k >= 0)
                k = report_pools(s, o, config, &r);
        if (k >= 0 && nodeport)
                k = nodeport_document(nodeport, &r);
        if (k < 0) {
                report_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}

void report_done(Report *r) {
        free(r->config_error);
        for (size_t i = 0; i < r->n_pools; i++)
                free(r->pools[i].name);
        free(r->pools);
        for (size_t i = 0; i < r->n_services; i++) {
                ReportService *s = &r->services[i];
                for (size_t k = 0; k < s->n_ips; k++) {
                        free(s->ips[k].ip);
                        free(s->ips[k].node);
                }
                free(s->ips);
                free(s->namespace);
                free(s->name);
                free(s->pool);
        }
        free(r->services);
        json_doc_free(r->nodeports);
        for (size_t i = 0; i < r->n_problems; i++) {
                free(r->problems[i].object);
                free(r->problems[i].message);
        }
        free(r->problems);
        *r = (Report) {};
}
