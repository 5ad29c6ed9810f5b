/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endpointslice.h"
#include "l2_election.h"
#include "l2_view.h"
#include "log.h"
#include "loop.h"
#include "offline_watch.h"
#include "pod.h"
#include "registry.h"
#include "source_offline.h"
#include "speaker_offline.h"

#define PROGRAM "berth-speaker"

/* Status IPs as DIR gave them, per handled Service ("ns/name"). */
typedef struct OriginalIps {
        char *key;
        size_t n;
        IpAddr ips[2];
} OriginalIps;

typedef struct Offline {
        sd_event *event;
        Source *source;
        const CliOptions *options;
        const SpeakerFlags *flags;
        Controller *controllers[2];
        size_t n_controllers;
        sd_event_source *idle_check, *kick;
        bool done;

        OriginalIps *originals;
        size_t n_originals;
} Offline;

static int on_idle_check(sd_event_source *s, void *userdata) {
        Offline *o = userdata;

        (void) s;
        if (o->done || source_offline_pending(o->source) > 0)
                return 0;
        for (size_t i = 0; i < o->n_controllers; i++)
                if (o->controllers[i]->idle && !o->controllers[i]->idle(o->controllers[i]))
                        return 0;
        o->done = true;
        return sd_event_exit(o->event, 0);
}

static int on_kick(sd_event_source *s, void *userdata) {
        (void) s;
        (void) userdata;
        return 0;
}

static int count_object(const OfflineObject *obj, void *userdata) {
        (void) obj;
        (*(size_t *) userdata)++;
        return 0;
}

static size_t count_kind(Source *s, const KubeKind *kind) {
        size_t n = 0;
        (void) source_offline_foreach(s, kind, OFFLINE_EXISTING, count_object, &n);
        return n;
}

/* Runs the controllers that fill in what a cluster would have: Services'
 * IPs (lbipam) and, when DIR has Pods but no slices, EndpointSlices. */
static int run_controllers(Offline *o) {
        static const CliSpec none = { .program = PROGRAM };
        ControllerFlags cf = CONTROLLER_FLAGS_INIT;
        const char *names[2];
        size_t n_names = 0;
        int r;

        cf.lb_class = o->flags->lb_class;
        cf.config_namespace = o->flags->config_namespace;
        ControllerContext ctx = {
                .event = o->event,
                .source = o->source,
                .cli = &none,
                .options = o->options,
                .offline = true,
                .reporting_instance = "offline",
                .flags = &cf,
        };

        if (count_kind(o->source, &kube_kind_endpointslice) == 0 && count_kind(o->source, &kube_kind_pod) > 0)
                names[n_names++] = "endpointslice";
        names[n_names++] = "lbipam";
        for (size_t k = 0; k < n_names; k++)
                for (const ControllerRegistration *reg = controller_registry; reg->name; reg++) {
                        if (!streq(reg->name, names[k]) || !reg->init)
                                continue;
                        Controller *c = NULL;
                        r = reg->init(&ctx, &c);
                        if (r < 0)
                                return log_error_errno(r, "controller %s: cannot start: %m", reg->name);
                        o->controllers[o->n_controllers++] = c;
                }
        for (size_t i = 0; i < o->n_controllers; i++)
                if (o->controllers[i]->start && (r = o->controllers[i]->start(o->controllers[i])) < 0)
                        return log_error_errno(r, "controller %s: cannot start: %m", o->controllers[i]->name);

        r = sd_event_add_post(o->event, &o->idle_check, on_idle_check, o);
        if (r >= 0)
                r = sd_event_source_set_priority(o->idle_check, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_add_defer(o->event, &o->kick, on_kick, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->kick, SD_EVENT_ONESHOT);
        if (r >= 0)
                r = sd_event_loop(o->event);
        if (r < 0)
                return log_error_errno(r, "offline run failed: %m");
        return 0;
}

static void controllers_free(Offline *o) {
        while (o->n_controllers > 0) {
                Controller *c = o->controllers[--o->n_controllers];
                if (c->free)
                        c->free(c);
        }
}

static int remember_original(KubeObject *obj, void *userdata) {
        Offline *o = userdata;
        const Service *s = SERVICE(obj);
        OriginalIps *p, *e;
        char key[512];

        if (!l2_service_handled(s, o->flags->lb_class) || s->n_ingress == 0)
                return 0;
        p = realloc(o->originals, (o->n_originals + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        o->originals = p;
        e = &p[o->n_originals];
        *e = (OriginalIps) {};
        for (size_t i = 0; i < s->n_ingress && e->n < 2; i++)
                if (s->ingress[i].ip && ip_addr_parse(s->ingress[i].ip, &e->ips[e->n]) >= 0)
                        e->n++;
        e->key = strdup(kube_object_key(obj, key, sizeof key));
        if (!e->key)
                return -ENOMEM;
        o->n_originals++;
        return 0;
}

/* Services that carried status IPs are taken as they are (offline.md). */
static bool original_ips(const Service *s, IpAddr ips[2], size_t *ret_n, void *userdata) {
        Offline *o = userdata;
        char key[512];

        kube_object_key(&s->object, key, sizeof key);
        for (size_t i = 0; i < o->n_originals; i++)
                if (streq(o->originals[i].key, key)) {
                        memcpy(ips, o->originals[i].ips, sizeof(o->originals[i].ips));
                        *ret_n = o->originals[i].n;
                        return true;
                }
        return false;
}

static int print_announcements(const L2Election *e, const char *only_node, FILE *out) {
        bool first = true;

        fputs("{\"announcements\": [", out);
        for (size_t i = 0; i < e->n_announcements; i++) {
                const L2Announcement *a = &e->announcements[i];
                char ip[IP_ADDR_STRLEN];

                if (!a->node || (only_node && !streq(a->node, only_node)))
                        continue;
                ip_addr_format(&a->ip, ip);
                /* services are sorted: announcements by IP, then by service */
                for (size_t k = 0; k < a->n_services; k++) {
                        fprintf(out, "%s{\"service\": \"%s\", \"ip\": \"%s\", \"node\": \"%s\"}", first ? "" : ", ",
                                a->services[k], ip, a->node);
                        first = false;
                }
        }
        fputs("]}\n", out);
        return fflush(out) == 0 ? 0 : -errno;
}

static int elect(Offline *o, FILE *out) {
        _cleanup_(l2_election_freep) L2Election *e = NULL;
        L2OfflineOptions lo = {
                .lease_namespace = o->options->namespace,
                .config_namespace = o->flags->config_namespace ? o->flags->config_namespace : o->options->namespace,
                .lb_class = o->flags->lb_class,
                .ignore_exclude_lb = o->flags->ignore_exclude_lb,
                .failback_never = o->flags->failback == SPEAKER_FAILBACK_NEVER,
                .ips_override = original_ips,
                .userdata = o,
        };
        int r;

        r = l2_offline_elect(o->source, &lo, &e);
        if (r < 0)
                return log_error_errno(r, "cannot compute the election: %m");
        if (e->all_excluded)
                log_warning(L2_ALL_EXCLUDED_MESSAGE);
        r = print_announcements(e, o->flags->node, out);
        if (r < 0)
                return log_error_errno(r, "cannot write the result: %m");
        return 0;
}

/* One pass over DIR on its own event loop; returns the exit status. */
static int run_pass(const CliOptions *opts, const SpeakerFlags *f, FILE *out) {
        _cleanup_free_ char *error = NULL;
        Offline o = { .options = opts, .flags = f };
        int r, status = 1;

        r = sd_event_new(&o.event);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop: %m"), 1;
        OfflineOptions oo = { .dir = opts->manifests, .now = opts->now };
        r = source_offline_new(o.event, &oo, &o.source, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "%s: %s\n", PROGRAM, error);
                else
                        log_error_errno(r, "cannot read %s: %m", opts->manifests);
                status = r == -ENOMEM ? 1 : 2;
                goto out;
        }
        const char *const *warnings;
        size_t n = source_offline_warnings(o.source, &warnings);
        for (size_t i = 0; i < n; i++)
                log_warning("%s", warnings[i]);

        Cache *services;
        r = source_cache(o.source, &kube_kind_service, &(SourceFilter) {}, &services);
        if (r >= 0)
                r = cache_foreach(services, NULL, remember_original, &o);
        if (r >= 0)
                r = run_controllers(&o);
        if (r >= 0)
                r = elect(&o, out);
        status = r < 0 ? 1 : 0;
out:
        controllers_free(&o);
        o.idle_check = sd_event_source_disable_unref(o.idle_check);
        o.kick = sd_event_source_disable_unref(o.kick);
        o.source = source_free(o.source);
        for (size_t i = 0; i < o.n_originals; i++)
                free(o.originals[i].key);
        free(o.originals);
        o.event = sd_event_unref(o.event);
        return status;
}

typedef struct Rerun {
        const CliOptions *options;
        const SpeakerFlags *flags;
        FILE *out;
        sd_event *event;
} Rerun;

static void on_dir_changed(OfflineWatch *w, void *userdata) {
        Rerun *rr = userdata;

        (void) w;
        log_info("re-reading %s", rr->options->manifests);
        /* A pass runs to its end on a loop of its own; an input error is
         * reported and the next change tried again: the user is editing. */
        if (run_pass(rr->options, rr->flags, rr->out) == 1)
                log_error("the run over %s failed; waiting for the next change", rr->options->manifests);
        else
                log_info("waiting for changes in %s", rr->options->manifests);
}

int speaker_offline_run(const CliSpec *spec, const CliOptions *opts, const SpeakerFlags *f, FILE *out) {
        _cleanup_(offline_watch_freep) OfflineWatch *watch = NULL;
        _cleanup_(loop_freep) Loop *loop = NULL;
        Rerun rr = { .options = opts, .flags = f, .out = out };
        int r, status;

        (void) spec;
        status = run_pass(opts, f, out);
        if (opts->once || status != 0)
                return status;
        /* Without --once: print a new result whenever DIR changes (offline.md "Run"). */
        r = sd_event_new(&rr.event);
        if (r >= 0)
                r = loop_new(rr.event, &loop);
        if (r < 0) {
                rr.event = sd_event_unref(rr.event);
                return log_error_errno(r, "cannot create the event loop: %m"), 1;
        }
        r = offline_watch_new(rr.event, opts->manifests, on_dir_changed, &rr, &watch);
        if (r < 0) {
                log_error_errno(r, "cannot watch %s: %m", opts->manifests);
                status = 2;
        } else {
                log_info("waiting for changes in %s", opts->manifests);
                /* The first result is out: a Type=notify unit is started. */
                (void) loop_notify_ready(loop);
                r = loop_run(loop);
                status = r < 0 ? 1 : r;
        }
        watch = offline_watch_free(watch);
        loop = loop_free(loop);
        rr.event = sd_event_unref(rr.event);
        return status;
}
