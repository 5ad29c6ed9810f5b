/* SPDX-License-Identifier: Apache-2.0 */
/* berth-controller: the endpoints, EndpointSlice, NodePort and LB-IPAM
 * controllers in one process, against the API server (with leader
 * election) or offline over a manifest directory (offline.md). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "http_server.h"
#include "kubeconfig.h"
#include "l2_view.h"
#include "lease.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "offline_output.h"
#include "controller_set.h"
#include "offline_watch.h"
#include "registry.h"
#include "source.h"
#include "source_offline.h"

#define PROGRAM "berth-controller"
/* How long a leader waits for its lease release on SIGTERM. */
#define RELEASE_TIMEOUT (2 * USEC_PER_SEC)

static const CliFeatureGate feature_gates[] = {
        { "PreferSameTrafficDistribution", false },
};

/* The controllers' own flags, filled by cli_parse() (controller_flags.h). */
static ControllerFlags controller_flags = CONTROLLER_FLAGS_INIT;

static const CliSpec cli_spec = {
        .program = PROGRAM,
        .summary = "Service plumbing for bare-metal clusters: endpoints, EndpointSlices, node ports, LB IPs.",
        .flags = CLI_CONTROLLERS | CLI_LEADER_ELECTION | CLI_OFFLINE_RUN,
        .controllers = controller_names,
        .feature_gates = feature_gates,
        .n_feature_gates = ELEMENTSOF(feature_gates),
        .default_metrics_bind_address = ":9402",
        .extra = controller_cli_options,
        .n_extra = CONTROLLER_CLI_OPTIONS_N,
        .extra_userdata = &controller_flags,
};

typedef struct Manager {
        Loop *loop;
        sd_event *event;
        CliOptions options;
        Source *source;
        ControllerSet controllers;
        MetricFamily *leader_metric; /* berth_controller_leader (lbipam.md §12) */

        /* API mode */
        KubeConfig *config;
        KubeClient *client;
        MetricsRegistry *metrics;
        HttpServer *http;
        LeaderElector *elector;
        char *identity;
        sd_event_source *sync_check;
        bool ready_sent;

        sd_event_source *kick;

        /* offline mode */
        OfflineWatch *watch;
        bool pass_running;
        int exit_code;
} Manager;

/* ---- controllers ----------------------------------------------------------- */

static int controllers_init(Manager *m) {
        ControllerContext ctx = {
                .event = m->event,
                .source = m->source,
                .cli = &cli_spec,
                .options = &m->options,
                .metrics = m->metrics,
                .offline = m->options.manifests != NULL,
                .reporting_instance = m->options.manifests ? "offline" : m->identity,
                .flags = &controller_flags,
                .http = m->http,
        };
        return controller_set_init(&m->controllers, &ctx);
}

/* ---- offline --------------------------------------------------------------- */

static void offline_pass_stop(Manager *m) {
        controller_set_done(&m->controllers);
        m->source = source_free(m->source);
        m->pass_running = false;
}

static const char *table_announcer(const char *namespace, const char *name, const char *ip, void *userdata) {
        return l2_election_announcer(userdata, namespace, name, ip);
}

/* The table's ANNOUNCED-BY column: the speaker's election over the final
 * state (speaker.md §13), with berth-speaker's defaults for its own flags. */
static int offline_print(Manager *m) {
        _cleanup_(l2_election_freep) L2Election *e = NULL;
        OfflineTableHooks hooks = { .announcer = table_announcer };
        int r;

        if (m->options.output == OUTPUT_TABLE) {
                L2OfflineOptions lo = {
                        .lease_namespace = m->options.namespace,
                        .config_namespace = controller_flags.config_namespace ? controller_flags.config_namespace
                                                                              : m->options.namespace,
                        .lb_class = controller_flags.lb_class,
                };
                r = l2_offline_elect(m->source, &lo, &e);
                if (r < 0)
                        return r;
                hooks.userdata = e;
        }
        return offline_output_print(m->source, m->options.output, e ? &hooks : NULL, stdout);
}

static int offline_pass_finish(Manager *m) {
        int r;

        r = offline_print(m);
        if (r < 0)
                log_error_errno(r, "cannot write the result: %m");
        offline_pass_stop(m);
        if (m->options.once) {
                m->exit_code = r < 0 ? 1 : 0;
                return sd_event_exit(m->event, m->exit_code);
        }
        log_info("waiting for changes in %s", m->options.manifests);
        /* Without --once this is a long-running service too: the first
         * result is out, so a Type=notify unit is started (again a no-op
         * after later passes). */
        (void) loop_notify_ready(m->loop);
        return 0;
}

/* The run has come to rest (controller_set.h). */
static void on_rested(ControllerSet *set, void *userdata) {
        Manager *m = userdata;

        (void) set;
        if (m->pass_running)
                (void) offline_pass_finish(m);
}

static int on_kick(sd_event_source *s, void *userdata) {
        (void) s;
        (void) userdata;
        /* Nothing to do: dispatching this makes the post source run once
         * even when no controller has anything to do. */
        return 0;
}

static int offline_pass_start(Manager *m) {
        _cleanup_free_ char *error = NULL;
        const char *const *warnings;
        size_t n;
        int r;

        OfflineOptions opts = { .dir = m->options.manifests, .now = m->options.now };
        r = source_offline_new(m->event, &opts, &m->source, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "%s: %s\n", PROGRAM, error);
                else
                        log_error_errno(r, "cannot read %s: %m", m->options.manifests);
                return r == -ENOMEM ? r : -EINVAL;
        }
        n = source_offline_warnings(m->source, &warnings);
        for (size_t i = 0; i < n; i++)
                log_warning("%s", warnings[i]);

        r = controllers_init(m);
        if (r >= 0)
                r = controller_set_start(&m->controllers);
        if (r < 0) {
                offline_pass_stop(m);
                return r;
        }
        r = controller_set_watch_rest(&m->controllers, m->event, m->source, on_rested, m);
        if (r < 0) {
                offline_pass_stop(m);
                return log_error_errno(r, "cannot set up the offline run: %m");
        }
        m->pass_running = true;
        return 0;
}

static void on_dir_changed(OfflineWatch *w, void *userdata) {
        Manager *m = userdata;

        (void) w;
        if (m->pass_running)
                offline_pass_stop(m);
        log_info("re-reading %s", m->options.manifests);
        /* An input error is reported and the next change tried again:
         * the user is editing the files. */
        if (offline_pass_start(m) == -ENOMEM)
                (void) sd_event_exit(m->event, 1);
}

static int run_offline(Manager *m) {
        int r;

        if (!m->options.once) {
                r = offline_watch_new(m->event, m->options.manifests, on_dir_changed, m, &m->watch);
                if (r < 0) {
                        log_error_errno(r, "cannot watch %s: %m", m->options.manifests);
                        return 2;
                }
        }
        r = offline_pass_start(m);
        if (r < 0)
                return r == -ENOMEM ? 1 : 2;
        r = loop_run(m->loop);
        return r < 0 ? 1 : r;
}

/* ---- API ---------------------------------------------------------------------- */

static int on_sync_check(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        (void) s;
        if (m->ready_sent || !source_synced(m->source))
                return 0;
        m->ready_sent = true;
        m->sync_check = sd_event_source_disable_unref(m->sync_check);
        log_info("caches synced");
        (void) loop_notify_ready(m->loop);
        (void) loop_notify_status(m->loop, "%s", m->elector ? "caches synced, waiting for the lease" : "running");
        if (!m->elector || leader_elector_is_leader(m->elector))
                return controller_set_start(&m->controllers) < 0 ? sd_event_exit(m->event, 1) : 0;
        return 0;
}

static bool ready(void *userdata, char **ret_reason) {
        Manager *m = userdata;
        /* lbipam.md §13.3: ready once synced, leader or not */
        if (source_synced(m->source))
                return true;
        if (ret_reason)
                *ret_reason = strdup("caches not synced yet");
        return false;
}

static void started_leading(LeaderElector *le, void *userdata) {
        Manager *m = userdata;

        (void) le;
        log_info("acquired the lease %s/%s as %s", m->options.leader_elect_resource_namespace,
                 m->options.leader_elect_resource_name, m->identity);
        (void) loop_notify_status(m->loop, "leading");
        (void) metric_set(m->leader_metric, NULL, 1);
        /* Nothing is reconciled before the caches have synced. */
        if (m->ready_sent && controller_set_start(&m->controllers) < 0)
                (void) sd_event_exit(m->event, 1);
}

static void stopped_leading(LeaderElector *le, void *userdata) {
        Manager *m = userdata;

        (void) le;
        /* lbipam.md §13.3: stop writing at once and exit non-zero. */
        log_error("lost the lease %s/%s; exiting", m->options.leader_elect_resource_namespace,
                  m->options.leader_elect_resource_name);
        (void) metric_set(m->leader_metric, NULL, 0);
        controller_set_done(&m->controllers);
        (void) sd_event_exit(m->event, 1);
}

static void new_leader(LeaderElector *le, const char *identity, void *userdata) {
        (void) le;
        (void) userdata;
        if (!isempty(identity))
                log_info("the leader is %s", identity);
}

static void on_released(LeaderElector *le, int error, void *userdata) {
        Manager *m = userdata;

        (void) le;
        if (error < 0)
                log_warning_errno(error, "could not release the lease: %m");
        (void) sd_event_exit(m->event, 0);
}

static void on_shutdown(Loop *l, int signo, void *userdata) {
        Manager *m = userdata;

        (void) l;
        log_info("received %s, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
        /* stop writing first, then hand the lease on (no expiry to wait for) */
        controller_set_done(&m->controllers);
        if (m->leader_metric)
                (void) metric_set(m->leader_metric, NULL, 0);
        if (m->elector && leader_elector_is_leader(m->elector) &&
            leader_elector_release(m->elector, RELEASE_TIMEOUT, on_released, m) >= 0)
                return;
        (void) sd_event_exit(m->event, 0);
}

static int run_api(Manager *m) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = kube_config_load(m->options.kubeconfig, &m->config, &error);
        if (r < 0) {
                log_error("cannot load the kubeconfig: %s", error ? error : strerror(-r));
                return 2; /* bad configuration, as a bad flag */
        }
        KubeClientOptions copts = { .user_agent = PROGRAM "/" PACKAGE_VERSION };
        r = kube_client_new(m->event, m->config, &copts, &m->client);
        if (r < 0)
                return log_error_errno(r, "cannot create the API client for %s: %m", m->config->server), 1;
        r = source_api_new(m->event, m->client, &m->source);
        if (r < 0)
                return log_error_errno(r, "cannot create the API source: %m"), 1;

        r = metrics_registry_new(&m->metrics);
        if (r >= 0)
                r = metrics_gauge(m->metrics, "berth_controller_leader",
                                  "1 in the replica that holds the binary's lease (always 1 without leader election)",
                                  NULL, &m->leader_metric);
        if (r >= 0)
                r = metric_set(m->leader_metric, NULL, m->options.leader_elect ? 0 : 1);
        if (r < 0)
                return log_oom(), 1;
        if (m->options.metrics_bind_address) {
                HttpServerOptions hopts = {
                        .bind_address = m->options.metrics_bind_address,
                        .metrics = m->metrics,
                        .ready = ready,
                        .ready_userdata = m,
                };
                r = http_server_new(m->event, &hopts, &m->http);
                if (r < 0)
                        return log_error_errno(r, "cannot serve metrics on %s: %m", m->options.metrics_bind_address), 1;
                log_info("serving /metrics, /healthz, /readyz on port %u", http_server_port(m->http));
        }

        r = leader_election_default_identity(&m->identity);
        if (r < 0)
                return log_error_errno(r, "cannot build the holder identity: %m"), 1;

        /* Caches start now, on every replica; reconciling waits for sync (and the lease). */
        r = controllers_init(m);
        if (r < 0)
                return 1;

        if (m->options.leader_elect) {
                LeaderElectionConfig lc = {
                        .namespace = m->options.leader_elect_resource_namespace,
                        .name = m->options.leader_elect_resource_name,
                        .identity = m->identity,
                        .lease_duration = m->options.leader_elect_lease_duration,
                        .renew_deadline = m->options.leader_elect_renew_deadline,
                        .retry_period = m->options.leader_elect_retry_period,
                };
                LeaderElectorCallbacks cb = {
                        .started_leading = started_leading,
                        .stopped_leading = stopped_leading,
                        .new_leader = new_leader,
                        .userdata = m,
                };
                r = leader_elector_new(m->event, m->client, &lc, &cb, &m->elector);
                if (r >= 0)
                        r = leader_elector_start(m->elector);
                if (r < 0)
                        return log_error_errno(r, "cannot start leader election: %m"), 1;
        }

        /* Checked after each dispatch until the caches have synced, then removed: no timer. */
        r = sd_event_add_post(m->event, &m->sync_check, on_sync_check, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch cache sync: %m"), 1;
        r = sd_event_add_defer(m->event, &m->kick, on_kick, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->kick, SD_EVENT_ONESHOT);
        if (r < 0)
                return log_error_errno(r, "cannot start: %m"), 1;

        loop_set_shutdown(m->loop, on_shutdown, m);
        log_info("watching %s (context %s)", m->config->server, strempty(m->config->context));
        r = loop_run(m->loop);
        return r < 0 ? 1 : r;
}

static void manager_done(Manager *m) {
        controller_set_done(&m->controllers);
        m->sync_check = sd_event_source_disable_unref(m->sync_check);
        m->kick = sd_event_source_disable_unref(m->kick);
        m->watch = offline_watch_free(m->watch);
        m->elector = leader_elector_free(m->elector);
        m->source = source_free(m->source);
        m->http = http_server_free(m->http);
        m->client = kube_client_free(m->client);
        m->config = kube_config_free(m->config);
        m->metrics = metrics_registry_free(m->metrics);
        free(m->identity);
        m->loop = loop_free(m->loop);
        m->event = sd_event_unref(m->event);
        cli_options_done(&m->options);
        controller_flags_done(&controller_flags);
}

int main(int argc, char **argv) {
        Manager m = {};
        _cleanup_free_ char *message = NULL;
        int r;

        log_open(argv[0]);
        r = cli_parse(&cli_spec, argc, argv, &m.options, &message);
        if (r == CLI_EXIT) {
                puts(message);
                return 0;
        }
        if (r < 0) {
                if (message)
                        fprintf(stderr, "%s\n", message);
                else
                        fprintf(stderr, "%s: %s\n", PROGRAM, strerror(-r));
                return 2;
        }
        log_set_max_level(m.options.log_level);

        r = sd_event_new(&m.event);
        if (r >= 0)
                r = loop_new(m.event, &m.loop);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                manager_done(&m);
                return 1;
        }
        r = m.options.manifests ? run_offline(&m) : run_api(&m);
        manager_done(&m);
        return r;
}
