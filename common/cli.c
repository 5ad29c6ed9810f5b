/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "http_server.h"
#include "log.h"

#define DEFAULT_NAMESPACE "berth-system"

/* Flags every binary accepts plus the optional groups of CliFlags. */
typedef enum OptionId {
        OPT_HELP,
        OPT_VERSION,
        OPT_KUBECONFIG,
        OPT_MANIFESTS,
        OPT_NAMESPACE,
        OPT_METRICS_BIND_ADDRESS,
        OPT_LOG_LEVEL,
        OPT_FEATURE_GATES,
        OPT_CONTROLLERS,
        OPT_LEADER_ELECT,
        OPT_LE_RESOURCE_NAME,
        OPT_LE_RESOURCE_NAMESPACE,
        OPT_LE_LEASE_DURATION,
        OPT_LE_RENEW_DEADLINE,
        OPT_LE_RETRY_PERIOD,
        OPT_NOW,
        OPT_ONCE,
        OPT_OUTPUT,
        _OPT_MAX,
} OptionId;

typedef struct Option {
        const char *name;
        char shorthand;
        CliArg arg;
        unsigned group;      /* 0 = always; else a CliFlags bit */
        const char *arg_name;
        const char *help;
} Option;

static const Option options[_OPT_MAX] = {
        [OPT_HELP] = { "help", 'h', CLI_ARG_NONE, 0, NULL, "show this help and exit" },
        [OPT_VERSION] = { "version", 0, CLI_ARG_NONE, 0, NULL, "show the version and exit" },
        [OPT_KUBECONFIG] = { "kubeconfig", 0, CLI_ARG_REQUIRED, 0, "PATH",
                             "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)" },
        [OPT_MANIFESTS] = { "manifests", 0, CLI_ARG_REQUIRED, 0, "DIR",
                            "run offline over the manifests in DIR instead of the API server" },
        [OPT_NAMESPACE] = { "namespace", 0, CLI_ARG_REQUIRED, 0, "NS",
                            "berth's own namespace (default: $POD_NAMESPACE, else berth-system)" },
        [OPT_METRICS_BIND_ADDRESS] = { "metrics-bind-address", 0, CLI_ARG_REQUIRED, 0, "ADDR:PORT",
                                       "serve /metrics, /healthz, /readyz there; 0 disables" },
        [OPT_LOG_LEVEL] = { "log-level", 0, CLI_ARG_REQUIRED, 0, "LEVEL",
                            "error, warning, info (default) or debug" },
        [OPT_FEATURE_GATES] = { "feature-gates", 0, CLI_ARG_REQUIRED, 0, "K=V,...",
                                "opt-in behaviour that upstream keeps behind a gate" },
        [OPT_CONTROLLERS] = { "controllers", 0, CLI_ARG_REQUIRED, CLI_CONTROLLERS, "LIST",
                              "controllers to run: '*' all (default), 'name' enables, '-name' disables" },
        [OPT_LEADER_ELECT] = { "leader-elect", 0, CLI_ARG_NONE, CLI_LEADER_ELECTION, NULL,
                               "elect a leader through a Lease before acting (default true; off offline)" },
        [OPT_LE_RESOURCE_NAME] = { "leader-elect-resource-name", 0, CLI_ARG_REQUIRED, CLI_LEADER_ELECTION,
                                   "NAME", "name of the leader election Lease (default berth-controller)" },
        [OPT_LE_RESOURCE_NAMESPACE] = { "leader-elect-resource-namespace", 0, CLI_ARG_REQUIRED,
                                        CLI_LEADER_ELECTION, "NS",
                                        "namespace of the leader election Lease (default: --namespace)" },
        [OPT_LE_LEASE_DURATION] = { "leader-elect-lease-duration", 0, CLI_ARG_REQUIRED, CLI_LEADER_ELECTION,
                                    "DURATION", "how long a standby waits before taking over (default 15s)" },
        [OPT_LE_RENEW_DEADLINE] = { "leader-elect-renew-deadline", 0, CLI_ARG_REQUIRED, CLI_LEADER_ELECTION,
                                    "DURATION", "how long the leader tries to renew before giving up (default 10s)" },
        [OPT_LE_RETRY_PERIOD] = { "leader-elect-retry-period", 0, CLI_ARG_REQUIRED, CLI_LEADER_ELECTION,
                                  "DURATION", "time between tries to acquire or renew (default 2s)" },
        [OPT_NOW] = { "now", 0, CLI_ARG_REQUIRED, CLI_OFFLINE_RUN, "RFC3339",
                      "offline: fix the clock (default: the current time)" },
        [OPT_ONCE] = { "once", 0, CLI_ARG_NONE, CLI_OFFLINE_RUN, NULL,
                       "offline: run until nothing changes, print the result and exit" },
        [OPT_OUTPUT] = { "output", 'o', CLI_ARG_REQUIRED, CLI_OFFLINE_RUN, "FORMAT",
                         "offline: json (default), yaml or table" },
};

static char *strdup_printf(const char *fmt, ...) _printf_(1, 2);
static char *strdup_printf(const char *fmt, ...) {
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* Sets *ret_why (when wanted) and returns -EINVAL, or -ENOMEM when even
 * the message cannot be built. */
static int why(char **ret_why, const char *fmt, ...) _printf_(2, 3);
static int why(char **ret_why, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        if (!ret_why)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_why = s;
        return -EINVAL;
}

char *cli_invalid_argument(const char *program, const char *flag, const char *value, const char *reason) {
        return strdup_printf("%s: invalid argument \"%s\" for --%s: %s", program, value, flag, reason);
}

const char *output_format_to_string(OutputFormat f) {
        switch (f) {
        case OUTPUT_JSON:
                return "json";
        case OUTPUT_YAML:
                return "yaml";
        case OUTPUT_TABLE:
                return "table";
        }
        return "json";
}

int cli_parse_bool(const char *value, bool *ret, char **ret_why) {
        /* Go's strconv.ParseBool, which pflag uses. */
        static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
        static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(value, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(value, no[i])) {
                        *ret = false;
                        return 0;
                }
        return why(ret_why, "not a boolean (true or false)");
}

int cli_parse_duration(const char *value, bool allow_zero, usec_t *ret, char **ret_why) {
        usec_t d;
        int r;

        r = duration_parse(value, &d);
        if (r == -ERANGE && value[0] == '-')
                return why(ret_why, "must not be negative");
        if (r == -ERANGE)
                return why(ret_why, "duration out of range");
        if (r < 0)
                return why(ret_why, "time: invalid duration \"%s\"", value);
        if (d == 0 && !allow_zero)
                return why(ret_why, "must be greater than zero");
        *ret = d;
        return 0;
}

static ssize_t name_index(const char *const *names, const char *name, size_t len) {
        for (size_t i = 0; names && names[i]; i++)
                if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
                        return (ssize_t) i;
        return -1;
}

int cli_parse_controllers(const char *value, const char *const *known, const char *const *off_by_default,
                          uint32_t *ret_enabled, char **ret_why) {
        uint32_t named = 0, removed = 0, enabled = 0;
        bool star = false;
        size_t n_known = 0;

        while (known[n_known])
                n_known++;
        if (n_known > CLI_MAX_CONTROLLERS)
                return -E2BIG;

        /* An empty value is an empty list: nothing runs (as in kube-controller-manager). */
        for (const char *p = value; *p;) {
                size_t len = strcspn(p, ",");
                const char *item = p;
                bool minus = false;

                p += len;
                if (*p == ',')
                        p++;
                if (len == 1 && item[0] == '*') {
                        star = true;
                        continue;
                }
                if (len > 0 && item[0] == '-') {
                        minus = true;
                        item++;
                        len--;
                }
                ssize_t i = name_index(known, item, len);
                if (i < 0)
                        return why(ret_why, "\"%.*s\" is not in the list of known controllers", (int) len, item);
                if (minus)
                        removed |= UINT32_C(1) << i;
                else
                        named |= UINT32_C(1) << i;
        }

        /* kube-controller-manager's IsControllerEnabled: naming a
         * controller wins, then `-name`, then `*` for those on by default. */
        for (size_t i = 0; i < n_known; i++) {
                uint32_t bit = UINT32_C(1) << i;
                if (named & bit)
                        enabled |= bit;
                else if (removed & bit)
                        continue;
                else if (star && name_index(off_by_default, known[i], strlen(known[i])) < 0)
                        enabled |= bit;
        }
        *ret_enabled = enabled;
        return 0;
}

int cli_parse_feature_gates(const char *value, const CliFeatureGate *gates, size_t n_gates, bool *ret_enabled,
                            char **ret_why) {
        bool enabled[CLI_MAX_FEATURE_GATES];

        if (n_gates > CLI_MAX_FEATURE_GATES)
                return -E2BIG;
        for (size_t i = 0; i < n_gates; i++)
                enabled[i] = gates[i].default_enabled;

        for (const char *p = value; *p;) {
                size_t len = strcspn(p, ",");
                _cleanup_free_ char *item = strndup(p, len);
                char *eq;
                size_t i;
                bool b;

                if (!item)
                        return -ENOMEM;
                p += len;
                if (*p == ',')
                        p++;
                if (len == 0)
                        continue;
                /* component-base trims spaces around keys and values */
                eq = strchr(item, '=');
                if (!eq)
                        return why(ret_why, "missing bool value for %s", item);
                *eq = '\0';
                for (i = 0; i < n_gates; i++)
                        if (streq(gates[i].name, item))
                                break;
                if (i == n_gates)
                        return why(ret_why, "unrecognized feature gate: %s", item);
                if (cli_parse_bool(eq + 1, &b, NULL) < 0)
                        return why(ret_why, "invalid value of %s=%s, err: not a boolean", item, eq + 1);
                enabled[i] = b;
        }
        memcpy(ret_enabled, enabled, n_gates * sizeof(bool));
        return 0;
}

int cli_parse_bind_address(const char *value, char **ret_host, uint16_t *ret_port, char **ret_why) {
        struct sockaddr_storage ss;
        socklen_t len;
        bool disabled;
        const char *reason = NULL;
        char host[INET6_ADDRSTRLEN] = "";
        uint16_t port;

        /* The metrics server's own parser decides what is valid, so the
         * flag never accepts an address the server then refuses. */
        if (http_bind_address_parse(value, &ss, &len, &disabled, &reason) < 0)
                return why(ret_why, "%s", reason ? reason : "invalid address");
        if (disabled) {
                *ret_host = NULL;
                *ret_port = 0;
                return 0;
        }
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) &ss;
                inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
                port = ntohs(sin->sin_port);
        } else {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &ss;
                /* ":PORT" means every address: keep the host empty */
                if (value[0] != ':')
                        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
                port = ntohs(sin6->sin6_port);
        }
        *ret_host = strdup(host);
        if (!*ret_host)
                return -ENOMEM;
        *ret_port = port;
        return 0;
}

int cli_parse_output(const char *value, OutputFormat *ret, char **ret_why) {
        for (OutputFormat f = OUTPUT_JSON; f <= OUTPUT_TABLE; f++)
                if (streq(value, output_format_to_string(f))) {
                        *ret = f;
                        return 0;
                }
        return why(ret_why, "must be one of json, yaml, table");
}

void cli_options_done(CliOptions *o) {
        free(o->kubeconfig);
        free(o->manifests);
        free(o->namespace);
        free(o->metrics_bind_address);
        free(o->metrics_host);
        free(o->leader_elect_resource_name);
        free(o->leader_elect_resource_namespace);
        *o = (CliOptions) {};
}

bool cli_controller_enabled(const CliSpec *spec, const CliOptions *o, const char *name) {
        ssize_t i = name_index(spec->controllers, name, strlen(name));
        return i >= 0 && (o->controllers_enabled & (UINT32_C(1) << i));
}

bool cli_feature_gate_enabled(const CliSpec *spec, const CliOptions *o, const char *name) {
        for (size_t i = 0; i < spec->n_feature_gates; i++)
                if (streq(spec->feature_gates[i].name, name))
                        return o->feature_gates[i];
        return false;
}

static int help_text(const CliSpec *spec, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fprintf(f, "Usage: %s [FLAGS]\n", spec->program);
        if (spec->summary)
                fprintf(f, "%s\n", spec->summary);
        fputs("\nFlags:\n", f);

        for (size_t pass = 0; pass < 2; pass++) {
                size_t n = pass == 0 ? _OPT_MAX : spec->n_extra;
                for (size_t i = 0; i < n; i++) {
                        const char *name, *arg_name, *help;
                        char shorthand = 0;
                        char left[96];

                        if (pass == 0) {
                                if (options[i].group && !(spec->flags & options[i].group))
                                        continue;
                                name = options[i].name;
                                arg_name = options[i].arg_name;
                                help = options[i].help;
                                shorthand = options[i].shorthand;
                        } else {
                                name = spec->extra[i].name;
                                arg_name = spec->extra[i].arg_name;
                                help = spec->extra[i].help;
                        }
                        snprintf(left, sizeof left, "%s%c%s--%s%s%s", shorthand ? "-" : "   ",
                                 shorthand ? shorthand : ' ', shorthand ? ", " : " ", name,
                                 arg_name ? " " : "", strempty(arg_name));
                        fprintf(f, "  %-44s %s\n", left, strempty(help));
                }
        }
        if (spec->flags & CLI_CONTROLLERS) {
                fputs("\nControllers:", f);
                for (size_t i = 0; spec->controllers && spec->controllers[i]; i++)
                        fprintf(f, " %s", spec->controllers[i]);
                fputc('\n', f);
        }
        if (spec->n_feature_gates > 0) {
                fputs("\nFeature gates:\n", f);
                for (size_t i = 0; i < spec->n_feature_gates; i++)
                        fprintf(f, "  %s=true|false (default %s)\n", spec->feature_gates[i].name,
                                spec->feature_gates[i].default_enabled ? "true" : "false");
        }
        fputs("\nDurations use Go's syntax (250ms, 3s, 1m30s).\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Parsing state: the raw texts are kept for cross-flag messages. */
typedef struct ParseState {
        const CliSpec *spec;
        CliOptions o;
        const char *lease_duration_text, *renew_deadline_text, *retry_period_text;
        const char *once_text, *now_text, *output_text;
        bool namespace_set, le_namespace_set;
} ParseState;

static int set_string(char **p, const char *v) {
        return free_and_strdup(p, v);
}

static int apply_option(ParseState *st, OptionId id, const char *value, char **ret_why) {
        CliOptions *o = &st->o;
        int r;

        switch (id) {
        case OPT_KUBECONFIG:
                if (isempty(value))
                        return why(ret_why, "must not be empty");
                return set_string(&o->kubeconfig, value);
        case OPT_MANIFESTS:
                if (isempty(value))
                        return why(ret_why, "must not be empty");
                return set_string(&o->manifests, value);
        case OPT_NAMESPACE:
                if (isempty(value))
                        return why(ret_why, "must not be empty");
                st->namespace_set = true;
                return set_string(&o->namespace, value);
        case OPT_METRICS_BIND_ADDRESS: {
                char *host = NULL;
                uint16_t port;
                r = cli_parse_bind_address(value, &host, &port, ret_why);
                if (r < 0)
                        return r;
                free(o->metrics_host);
                o->metrics_host = host;
                o->metrics_port = port;
                return set_string(&o->metrics_bind_address, host ? value : NULL);
        }
        case OPT_LOG_LEVEL:
                r = log_level_from_string(value);
                if (r < 0)
                        return why(ret_why, "must be one of error, warning, info, debug");
                o->log_level = r;
                return 0;
        case OPT_FEATURE_GATES:
                return cli_parse_feature_gates(value, st->spec->feature_gates, st->spec->n_feature_gates,
                                               o->feature_gates, ret_why);
        case OPT_CONTROLLERS:
                return cli_parse_controllers(value, st->spec->controllers, st->spec->controllers_off_by_default,
                                             &o->controllers_enabled, ret_why);
        case OPT_LEADER_ELECT:
                return cli_parse_bool(value, &o->leader_elect, ret_why);
        case OPT_LE_RESOURCE_NAME:
                if (isempty(value))
                        return why(ret_why, "must not be empty");
                return set_string(&o->leader_elect_resource_name, value);
        case OPT_LE_RESOURCE_NAMESPACE:
                if (isempty(value))
                        return why(ret_why, "must not be empty");
                st->le_namespace_set = true;
                return set_string(&o->leader_elect_resource_namespace, value);
        case OPT_LE_LEASE_DURATION:
                st->lease_duration_text = value;
                return cli_parse_duration(value, false, &o->leader_elect_lease_duration, ret_why);
        case OPT_LE_RENEW_DEADLINE:
                st->renew_deadline_text = value;
                return cli_parse_duration(value, false, &o->leader_elect_renew_deadline, ret_why);
        case OPT_LE_RETRY_PERIOD:
                st->retry_period_text = value;
                return cli_parse_duration(value, false, &o->leader_elect_retry_period, ret_why);
        case OPT_NOW:
                st->now_text = value;
                if (rfc3339_parse(value, &o->now) < 0 || o->now == 0)
                        return why(ret_why, "not an RFC 3339 time (2024-01-01T00:00:00Z)");
                return 0;
        case OPT_ONCE:
                st->once_text = value;
                return cli_parse_bool(value, &o->once, ret_why);
        case OPT_OUTPUT:
                st->output_text = value;
                return cli_parse_output(value, &o->output, ret_why);
        case OPT_HELP:
        case OPT_VERSION:
        case _OPT_MAX:
                break;
        }
        return 0;
}

static int set_defaults(ParseState *st) {
        const CliSpec *spec = st->spec;
        CliOptions *o = &st->o;
        int r;

        o->log_level = LOG_INFO;
        o->output = OUTPUT_JSON;
        o->leader_elect = true;
        o->leader_elect_lease_duration = 15 * USEC_PER_SEC;
        o->leader_elect_renew_deadline = 10 * USEC_PER_SEC;
        o->leader_elect_retry_period = 2 * USEC_PER_SEC;
        for (size_t i = 0; i < spec->n_feature_gates && i < CLI_MAX_FEATURE_GATES; i++)
                o->feature_gates[i] = spec->feature_gates[i].default_enabled;
        if (spec->flags & CLI_CONTROLLERS) {
                r = cli_parse_controllers("*", spec->controllers, spec->controllers_off_by_default,
                                          &o->controllers_enabled, NULL);
                if (r < 0)
                        return r;
        }
        if (spec->flags & CLI_LEADER_ELECTION) {
                r = set_string(&o->leader_elect_resource_name, spec->program);
                if (r < 0)
                        return r;
        }
        if (spec->default_metrics_bind_address) {
                r = cli_parse_bind_address(spec->default_metrics_bind_address, &o->metrics_host,
                                           &o->metrics_port, NULL);
                if (r < 0)
                        return r;
                if (o->metrics_host) {
                        r = set_string(&o->metrics_bind_address, spec->default_metrics_bind_address);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int finish(ParseState *st, char **ret_message) {
        const CliSpec *spec = st->spec;
        CliOptions *o = &st->o;
        const char *env;
        char buf[64];
        int r;

        if (!st->namespace_set) {
                env = getenv("POD_NAMESPACE");
                r = set_string(&o->namespace, isempty(env) ? DEFAULT_NAMESPACE : env);
                if (r < 0)
                        return r;
        }
        if ((spec->flags & CLI_LEADER_ELECTION) && !st->le_namespace_set) {
                r = set_string(&o->leader_elect_resource_namespace, o->namespace);
                if (r < 0)
                        return r;
        }

        /* client-go's leaderelection.NewLeaderElector checks. */
        if (spec->flags & CLI_LEADER_ELECTION) {
                if (o->leader_elect_lease_duration <= o->leader_elect_renew_deadline) {
                        snprintf(buf, sizeof buf, "%s", st->renew_deadline_text ? st->renew_deadline_text : "10s");
                        _cleanup_free_ char *w = strdup_printf(
                                "must be greater than --leader-elect-renew-deadline (%s)", buf);
                        if (!w)
                                return -ENOMEM;
                        *ret_message = cli_invalid_argument(
                                spec->program, "leader-elect-lease-duration",
                                st->lease_duration_text ? st->lease_duration_text : "15s", w);
                        return *ret_message ? -EINVAL : -ENOMEM;
                }
                /* renew deadline > 1.2 × retry period, in integer arithmetic */
                if (o->leader_elect_renew_deadline * 5 <= o->leader_elect_retry_period * 6) {
                        snprintf(buf, sizeof buf, "%s", st->retry_period_text ? st->retry_period_text : "2s");
                        _cleanup_free_ char *w = strdup_printf(
                                "must be greater than 1.2 × --leader-elect-retry-period (%s)", buf);
                        if (!w)
                                return -ENOMEM;
                        *ret_message = cli_invalid_argument(
                                spec->program, "leader-elect-renew-deadline",
                                st->renew_deadline_text ? st->renew_deadline_text : "10s", w);
                        return *ret_message ? -EINVAL : -ENOMEM;
                }
        }

        /* Offline-only flags make no sense against the API: say so rather than ignore them. */
        if (!o->manifests) {
                const char *flag = NULL, *value = NULL;
                if (st->once_text && o->once)
                        flag = "once", value = st->once_text;
                else if (st->now_text)
                        flag = "now", value = st->now_text;
                else if (st->output_text)
                        flag = "output", value = st->output_text;
                if (flag) {
                        *ret_message = cli_invalid_argument(spec->program, flag, value,
                                                            "only valid with --manifests");
                        return *ret_message ? -EINVAL : -ENOMEM;
                }
        } else
                /* lbipam.md §13.3: always off in offline mode */
                o->leader_elect = false;

        if (spec->validate) {
                const char *flag = NULL, *value = NULL;
                _cleanup_free_ char *w = NULL;
                r = spec->validate(spec->extra_userdata, &flag, &value, &w);
                if (r == -EINVAL) {
                        *ret_message = cli_invalid_argument(spec->program, strempty(flag), strempty(value),
                                                            strempty(w));
                        return *ret_message ? -EINVAL : -ENOMEM;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fail(char **ret_message, char *msg) {
        if (!msg)
                return -ENOMEM;
        *ret_message = msg;
        return -EINVAL;
}

int cli_parse(const CliSpec *spec, int argc, char *const *argv, CliOptions *ret, char **ret_message) {
        ParseState st = { .spec = spec };
        int r;

        r = set_defaults(&st);
        if (r < 0)
                goto out;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *value = NULL;
                _cleanup_free_ char *name = NULL, *w = NULL;
                bool shorthand = false;
                ssize_t opt = -1, extra = -1;
                CliArg arg;

                if (streq(a, "--")) {
                        if (i + 1 < argc) {
                                r = fail(ret_message, strdup_printf("%s: unexpected argument \"%s\"",
                                                                    spec->program, argv[i + 1]));
                                goto out;
                        }
                        break;
                }
                if (a[0] != '-' || a[1] == '\0') {
                        r = fail(ret_message, strdup_printf("%s: unexpected argument \"%s\"", spec->program, a));
                        goto out;
                }
                if (a[1] == '-') {
                        const char *eq = strchr(a + 2, '=');
                        name = eq ? strndup(a + 2, eq - a - 2) : strdup(a + 2);
                        if (eq)
                                value = eq + 1;
                } else {
                        /* -o json, -ojson, -o=json, -h */
                        shorthand = true;
                        name = strndup(a + 1, 1);
                        if (a[2] == '=')
                                value = a + 3;
                        else if (a[2])
                                value = a + 2;
                }
                if (!name) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t k = 0; k < _OPT_MAX; k++) {
                        if (options[k].group && !(spec->flags & options[k].group))
                                continue;
                        if (shorthand ? options[k].shorthand == name[0] : streq(options[k].name, name)) {
                                opt = (ssize_t) k;
                                break;
                        }
                }
                for (size_t k = 0; opt < 0 && !shorthand && k < spec->n_extra; k++)
                        if (streq(spec->extra[k].name, name)) {
                                extra = (ssize_t) k;
                                break;
                        }
                if (opt < 0 && extra < 0) {
                        r = fail(ret_message, strdup_printf("%s: unknown flag: %s%s", spec->program,
                                                            shorthand ? "-" : "--", name));
                        goto out;
                }
                const char *long_name = opt >= 0 ? options[opt].name : spec->extra[extra].name;
                arg = opt >= 0 ? options[opt].arg : spec->extra[extra].arg;
                if (arg == CLI_ARG_REQUIRED && !value) {
                        if (i + 1 >= argc) {
                                r = fail(ret_message, strdup_printf("%s: flag needs an argument: --%s",
                                                                    spec->program, long_name));
                                goto out;
                        }
                        value = argv[++i];
                }
                if (arg == CLI_ARG_NONE && !value)
                        value = "true";

                if (opt == OPT_HELP || opt == OPT_VERSION) {
                        bool b;
                        r = cli_parse_bool(value, &b, &w);
                        if (r < 0)
                                goto invalid;
                        if (!b)
                                continue;
                        if (opt == OPT_HELP)
                                r = help_text(spec, ret_message);
                        else {
                                *ret_message = strdup_printf("%s %s", spec->program, PACKAGE_VERSION);
                                r = *ret_message ? 0 : -ENOMEM;
                        }
                        if (r >= 0)
                                r = CLI_EXIT;
                        goto out;
                }
                if (opt >= 0)
                        r = apply_option(&st, (OptionId) opt, value, &w);
                else if (spec->extra[extra].arg == CLI_ARG_NONE) {
                        bool b;
                        r = cli_parse_bool(value, &b, &w);
                        if (r >= 0)
                                r = spec->extra[extra].parse(b ? "true" : "false", spec->extra_userdata, &w);
                } else
                        r = spec->extra[extra].parse(value, spec->extra_userdata, &w);
        invalid:
                if (r == -EINVAL) {
                        r = fail(ret_message, cli_invalid_argument(spec->program, long_name, value,
                                                                   w ? w : "invalid value"));
                        goto out;
                }
                if (r < 0)
                        goto out;
        }

        r = finish(&st, ret_message);
        if (r < 0)
                goto out;
        *ret = st.o;
        return CLI_RUN;
out:
        cli_options_done(&st.o);
        return r;
}
