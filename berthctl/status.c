/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl status: the cluster, read through a read-only Source (nothing
 * is ever written, not even an Event).  The caches the report needs start
 * at once, with the nodeport controller in audit mode over the same
 * source; once every cache has synced the controller makes its one pass,
 * the report is printed and berthctl exits. */
#include <stdio.h>

#include "http.h"
#include "kubeconfig.h"
#include "log.h"
#include "namespace.h"
#include "nodeport.h"
#include "report.h"
#include "run.h"
#include "source_readonly.h"

typedef struct Status {
        Berthctl *b;
        sd_event *event;
        KubeConfig *config;
        KubeClient *client;
        Source *api, *source;
        Controller *nodeport;
        sd_event_source *sync_check, *timeout;
        bool reachable;
        int exit_code;
} Status;

static void finish(Status *st, int exit_code) {
        st->exit_code = exit_code;
        (void) sd_event_exit(st->event, exit_code);
}

static int on_sync_check(sd_event_source *s, void *userdata) {
        Status *st = userdata;
        int r;

        (void) s;
        if (!st->reachable || !source_synced(st->source))
                return 0;
        st->sync_check = sd_event_source_disable_unref(st->sync_check);
        r = st->nodeport->start(st->nodeport);
        if (r < 0) {
                log_error_errno(r, "the node-port audit failed: %m");
                finish(st, EXIT_PROBLEMS);
                return 0;
        }
        finish(st, berthctl_output(st->b, st->source, st->nodeport, true));
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Status *st = userdata;

        (void) s, (void) usec;
        fprintf(stderr, "berthctl: cannot read the cluster at %s: not every object list arrived within %gs\n",
                st->config->server, (double) st->b->flags.timeout / USEC_PER_SEC);
        finish(st, EXIT_UNREACHABLE);
        return 0;
}

/* One plain GET first: a refused connection, bad credentials or missing
 * permissions show at once instead of after the timeout. */
static void on_probe(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        Status *st = userdata;

        (void) stored;
        if (error >= 0 || error == -ENOENT) {
                st->reachable = true;
                return;
        }
        fprintf(stderr, "berthctl: cannot reach the cluster at %s: %s\n", st->config->server,
                status && !isempty(status->message) ? status->message : strerror(-error));
        finish(st, EXIT_UNREACHABLE);
}

static int start(Status *st) {
        Berthctl *b = st->b;
        BerthctlFlags *f = &b->flags;
        _cleanup_free_ char *error = NULL;
        int r;

        r = kube_config_load(b->options.kubeconfig, &st->config, &error);
        if (r < 0) {
                fprintf(stderr, "berthctl: cannot load the kubeconfig: %s\n", error ? error : strerror(-r));
                return EXIT_USAGE;
        }
        KubeClientOptions copts = { .user_agent = "berthctl/" PACKAGE_VERSION };
        r = kube_client_new(st->event, st->config, &copts, &st->client);
        if (r >= 0)
                r = source_api_new(st->event, st->client, &st->api);
        if (r >= 0)
                r = source_readonly_new(st->api, &st->source);
        if (r < 0)
                return log_error_errno(r, "cannot set up the API client for %s: %m", st->config->server),
                       EXIT_UNREACHABLE;

        ReportOptions ro = {
                .lease_namespace = b->options.namespace,
                .config_namespace = f->controller.config_namespace ? f->controller.config_namespace
                                                                   : b->options.namespace,
        };
        r = report_watch(st->source, &ro);
        if (r < 0)
                return log_error_errno(r, "cannot watch the cluster: %m"), EXIT_PROBLEMS;

        /* audit only: the controller's fill writes would be refused anyway */
        f->controller.nodeport_audit_only = true;
        ControllerContext ctx = {
                .event = st->event,
                .source = st->source,
                .cli = &b->spec,
                .options = &b->options,
                .reporting_instance = "berthctl",
                .flags = &f->controller,
        };
        r = nodeport_controller_init(&ctx, &st->nodeport);
        if (r < 0)
                return log_error_errno(r, "cannot start the node-port audit: %m"), EXIT_PROBLEMS;

        r = source_get(st->source, &kube_kind_namespace, NULL, ro.config_namespace, on_probe, st);
        if (r >= 0)
                r = sd_event_add_post(st->event, &st->sync_check, on_sync_check, st);
        if (r >= 0)
                r = sd_event_add_time_relative(st->event, &st->timeout, CLOCK_MONOTONIC, f->timeout, 0, on_timeout,
                                               st);
        if (r < 0)
                return log_error_errno(r, "cannot start: %m"), EXIT_PROBLEMS;
        return -1; /* running */
}

int run_status(Berthctl *b) {
        Status st = { .b = b, .exit_code = EXIT_PROBLEMS };
        int r;

        r = sd_event_new(&st.event);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop: %m"), EXIT_PROBLEMS;
        r = start(&st);
        if (r < 0) {
                r = sd_event_loop(st.event);
                if (r < 0)
                        st.exit_code = EXIT_PROBLEMS;
        } else
                st.exit_code = r;

        if (st.nodeport)
                st.nodeport->free(st.nodeport);
        st.sync_check = sd_event_source_disable_unref(st.sync_check);
        st.timeout = sd_event_source_disable_unref(st.timeout);
        if (st.source)
                source_cancel(st.source, &st);
        st.source = source_free(st.source);
        st.api = source_free(st.api);
        st.client = kube_client_free(st.client);
        st.config = kube_config_free(st.config);
        st.event = sd_event_unref(st.event);
        return st.exit_code;
}
