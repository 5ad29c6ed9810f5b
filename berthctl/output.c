/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "log.h"
#include "render.h"
#include "report.h"
#include "run.h"

int berthctl_output(const Berthctl *b, Source *s, Controller *nodeport, bool from_cluster) {
        const ControllerFlags *cf = &b->flags.controller;
        ReportOptions ro = {
                .lease_namespace = b->options.namespace,
                .config_namespace = cf->config_namespace ? cf->config_namespace : b->options.namespace,
                .lb_class = cf->lb_class,
                .from_cluster = from_cluster,
        };
        Report r = {};
        size_t problems;
        int k;

        k = report_build(s, &ro, nodeport, &r);
        if (k < 0) {
                log_error_errno(k, "cannot gather the report: %m");
                return EXIT_PROBLEMS;
        }
        problems = r.n_problems;
        if (b->command == COMMAND_NODEPORTS) {
                /* only the node-port conflicts count here */
                problems = 0;
                for (size_t i = 0; i < r.n_problems; i++)
                        problems += r.problems[i].node_port;
                k = b->flags.output == OUTPUT_JSON ? render_nodeports_json(&r, stdout)
                                                   : render_nodeports_table(&r, stdout);
        } else
                k = b->flags.output == OUTPUT_JSON ? render_json(&r, stdout) : render_table(&r, stdout);
        report_done(&r);
        if (k >= 0 && fflush(stdout) != 0)
                k = -EIO;
        if (k < 0) {
                log_error_errno(k, "cannot write the report: %m");
                return EXIT_PROBLEMS;
        }
        return problems > 0 ? EXIT_PROBLEMS : EXIT_OK;
}
