/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "cli.h"

static const char *const controllers[] = { "endpoints", "endpointslice", "nodeport", "lbipam", NULL };
static const CliFeatureGate gates[] = {
        { "PreferSameTrafficDistribution", false },
        { "OnByDefault", true },
};

static const CliSpec controller_spec = {
        .program = "berth-controller",
        .summary = "test",
        .flags = CLI_CONTROLLERS | CLI_LEADER_ELECTION | CLI_OFFLINE_RUN,
        .controllers = controllers,
        .feature_gates = gates,
        .n_feature_gates = ELEMENTSOF(gates),
        .default_metrics_bind_address = ":9402",
};

/* Parses a NULL-terminated argument list (argv[0] added). */
static int parse_args(const CliSpec *spec, CliOptions *o, char **msg, ...) {
        char *argv[64] = { (char *) "prog" };
        int argc = 1;
        va_list ap;

        va_start(ap, msg);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        *msg = NULL;
        return cli_parse(spec, argc, argv, o, msg);
}
/* parse(spec, o, msg, "--flag", ...): the macro adds the typed terminator. */
#define parse(...) parse_args(__VA_ARGS__, (char *) NULL)

static void test_defaults(void **state) {
        (void) state;
        CliOptions o;
        char *msg;

        unsetenv("POD_NAMESPACE");
        assert_int_equal(parse(&controller_spec, &o, &msg), CLI_RUN);
        assert_null(msg);
        assert_null(o.kubeconfig);
        assert_null(o.manifests);
        assert_string_equal(o.namespace, "berth-system");
        assert_string_equal(o.metrics_bind_address, ":9402");
        assert_string_equal(o.metrics_host, "");
        assert_int_equal(o.metrics_port, 9402);
        assert_int_equal(o.log_level, LOG_INFO);
        assert_true(o.leader_elect);
        assert_string_equal(o.leader_elect_resource_name, "berth-controller");
        assert_string_equal(o.leader_elect_resource_namespace, "berth-system");
        assert_int_equal(o.leader_elect_lease_duration, 15 * USEC_PER_SEC);
        assert_int_equal(o.leader_elect_renew_deadline, 10 * USEC_PER_SEC);
        assert_int_equal(o.leader_elect_retry_period, 2 * USEC_PER_SEC);
        for (size_t i = 0; controllers[i]; i++)
                assert_true(cli_controller_enabled(&controller_spec, &o, controllers[i]));
        assert_false(cli_feature_gate_enabled(&controller_spec, &o, "PreferSameTrafficDistribution"));
        assert_true(cli_feature_gate_enabled(&controller_spec, &o, "OnByDefault"));
        assert_int_equal(o.output, OUTPUT_JSON);
        assert_false(o.once);
        assert_int_equal(o.now, 0);
        cli_options_done(&o);
}

static void test_pod_namespace(void **state) {
        (void) state;
        CliOptions o;
        char *msg;

        setenv("POD_NAMESPACE", "from-env", 1);
        assert_int_equal(parse(&controller_spec, &o, &msg), CLI_RUN);
        assert_string_equal(o.namespace, "from-env");
        assert_string_equal(o.leader_elect_resource_namespace, "from-env");
        cli_options_done(&o);

        /* the flag beats the environment; the lease namespace follows it */
        assert_int_equal(parse(&controller_spec, &o, &msg, "--namespace", "flag-ns"), CLI_RUN);
        assert_string_equal(o.namespace, "flag-ns");
        assert_string_equal(o.leader_elect_resource_namespace, "flag-ns");
        cli_options_done(&o);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--namespace=a",
                               "--leader-elect-resource-namespace", "b"), CLI_RUN);
        assert_string_equal(o.namespace, "a");
        assert_string_equal(o.leader_elect_resource_namespace, "b");
        cli_options_done(&o);
        unsetenv("POD_NAMESPACE");
}

static void test_flag_forms(void **state) {
        (void) state;
        CliOptions o;
        char *msg;

        assert_int_equal(parse(&controller_spec, &o, &msg, "--kubeconfig=/k", "--manifests", "/m", "--once",
                               "-o", "table", "--now", "2024-05-01T10:00:00Z", "--log-level=debug",
                               "--metrics-bind-address", "[::1]:8443"),
                         CLI_RUN);
        assert_string_equal(o.kubeconfig, "/k");
        assert_string_equal(o.manifests, "/m");
        assert_true(o.once);
        assert_int_equal(o.output, OUTPUT_TABLE);
        assert_int_equal(o.now, UINT64_C(1714557600) * USEC_PER_SEC);
        assert_int_equal(o.log_level, LOG_DEBUG);
        assert_string_equal(o.metrics_host, "::1");
        assert_int_equal(o.metrics_port, 8443);
        /* offline mode never runs an election */
        assert_false(o.leader_elect);
        cli_options_done(&o);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--manifests=/m", "-oyaml", "--once=false"),
                         CLI_RUN);
        assert_int_equal(o.output, OUTPUT_YAML);
        assert_false(o.once);
        cli_options_done(&o);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--manifests=/m", "-o=json"), CLI_RUN);
        assert_int_equal(o.output, OUTPUT_JSON);
        cli_options_done(&o);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--metrics-bind-address=0", "--leader-elect=false"), CLI_RUN);
        assert_null(o.metrics_bind_address);
        assert_null(o.metrics_host);
        assert_false(o.leader_elect);
        cli_options_done(&o);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--metrics-bind-address", "127.0.0.1:0"),
                         CLI_RUN);
        assert_string_equal(o.metrics_host, "127.0.0.1");
        assert_int_equal(o.metrics_port, 0);
        cli_options_done(&o);
}

typedef struct ControllersCase {
        const char *value;
        uint32_t enabled;  /* bits in the order of controllers[] */
        const char *error; /* NULL = valid */
} ControllersCase;

static void test_controllers(void **state) {
        (void) state;
        static const char *const off[] = { "lbipam", NULL };
        static const ControllersCase cases[] = {
                { "*", 0xf, NULL },
                { "", 0x0, NULL },
                { "endpoints", 0x1, NULL },
                { "*,-nodeport", 0xb, NULL },
                { "-nodeport,*", 0xb, NULL },
                { "*,-endpoints,-endpointslice", 0xc, NULL },
                { "nodeport,lbipam", 0xc, NULL },
                /* naming a controller wins over removing it (kube-controller-manager order) */
                { "endpoints,-endpoints", 0x1, NULL },
                { "-endpoints", 0x0, NULL },
                { "*,bogus", 0, "\"bogus\" is not in the list of known controllers" },
                { "-bogus", 0, "\"bogus\" is not in the list of known controllers" },
                { "-*", 0, "\"*\" is not in the list of known controllers" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t enabled = 0xdead;
                char *w = NULL;
                int r = cli_parse_controllers(cases[i].value, controllers, NULL, &enabled, &w);
                if (cases[i].error) {
                        assert_int_equal(r, -EINVAL);
                        assert_string_equal(w, cases[i].error);
                        assert_int_equal(enabled, 0xdead);
                        free(w);
                } else {
                        assert_int_equal(r, 0);
                        assert_int_equal(enabled, cases[i].enabled);
                }
        }

        /* a controller off by default needs to be named */
        uint32_t enabled;
        assert_int_equal(cli_parse_controllers("*", controllers, off, &enabled, NULL), 0);
        assert_int_equal(enabled, 0x7);
        assert_int_equal(cli_parse_controllers("*,lbipam", controllers, off, &enabled, NULL), 0);
        assert_int_equal(enabled, 0xf);

        CliOptions o;
        char *msg;
        assert_int_equal(parse(&controller_spec, &o, &msg, "--controllers", "*,-lbipam"), CLI_RUN);
        assert_true(cli_controller_enabled(&controller_spec, &o, "endpoints"));
        assert_false(cli_controller_enabled(&controller_spec, &o, "lbipam"));
        assert_false(cli_controller_enabled(&controller_spec, &o, "unknown"));
        cli_options_done(&o);
}

typedef struct ErrorCase {
        const char *args[4];
        const char *message;
} ErrorCase;

static void test_errors(void **state) {
        (void) state;
        static const ErrorCase cases[] = {
                { { "--controllers", "*,-foo" },
                  "berth-controller: invalid argument \"*,-foo\" for --controllers: \"foo\" is not in the list of known controllers" },
                { { "--log-level", "verbose" },
                  "berth-controller: invalid argument \"verbose\" for --log-level: must be one of error, warning, info, debug" },
                { { "--leader-elect-lease-duration", "abc" },
                  "berth-controller: invalid argument \"abc\" for --leader-elect-lease-duration: time: invalid duration \"abc\"" },
                { { "--leader-elect-retry-period=-1s" },
                  "berth-controller: invalid argument \"-1s\" for --leader-elect-retry-period: must not be negative" },
                { { "--leader-elect-retry-period=0" },
                  "berth-controller: invalid argument \"0\" for --leader-elect-retry-period: must be greater than zero" },
                { { "--leader-elect-lease-duration=10s" },
                  "berth-controller: invalid argument \"10s\" for --leader-elect-lease-duration: must be greater than --leader-elect-renew-deadline (10s)" },
                { { "--leader-elect-renew-deadline=2400ms" },
                  "berth-controller: invalid argument \"2400ms\" for --leader-elect-renew-deadline: must be greater than 1.2 × --leader-elect-retry-period (2s)" },
                { { "--feature-gates", "Bogus=true" },
                  "berth-controller: invalid argument \"Bogus=true\" for --feature-gates: unrecognized feature gate: Bogus" },
                { { "--feature-gates", "PreferSameTrafficDistribution=maybe" },
                  "berth-controller: invalid argument \"PreferSameTrafficDistribution=maybe\" for --feature-gates: invalid value of PreferSameTrafficDistribution=maybe, err: not a boolean" },
                { { "--metrics-bind-address", "localhost" },
                  "berth-controller: invalid argument \"localhost\" for --metrics-bind-address: missing port (want ADDR:PORT, or 0 to disable)" },
                { { "--metrics-bind-address", ":70000" },
                  "berth-controller: invalid argument \":70000\" for --metrics-bind-address: invalid port" },
                { { "--metrics-bind-address", "::1:80" },
                  "berth-controller: invalid argument \"::1:80\" for --metrics-bind-address: an IPv6 address must be in brackets ([ADDR]:PORT)" },
                { { "--metrics-bind-address", "example.com:80" },
                  "berth-controller: invalid argument \"example.com:80\" for --metrics-bind-address: invalid IPv4 address" },
                { { "--manifests=/m", "-o", "xml" },
                  "berth-controller: invalid argument \"xml\" for --output: must be one of json, yaml, table" },
                { { "--manifests=/m", "--now", "yesterday" },
                  "berth-controller: invalid argument \"yesterday\" for --now: not an RFC 3339 time (2024-01-01T00:00:00Z)" },
                { { "--once" }, "berth-controller: invalid argument \"true\" for --once: only valid with --manifests" },
                { { "--leader-elect=maybe" },
                  "berth-controller: invalid argument \"maybe\" for --leader-elect: not a boolean (true or false)" },
                { { "--bogus" }, "berth-controller: unknown flag: --bogus" },
                { { "-x" }, "berth-controller: unknown flag: -x" },
                { { "--kubeconfig" }, "berth-controller: flag needs an argument: --kubeconfig" },
                { { "stray" }, "berth-controller: unexpected argument \"stray\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[6] = { (char *) "prog" };
                int argc = 1;
                CliOptions o;
                char *msg = NULL;

                for (size_t k = 0; k < 4 && cases[i].args[k]; k++)
                        argv[argc++] = (char *) cases[i].args[k];
                assert_int_equal(cli_parse(&controller_spec, argc, argv, &o, &msg), -EINVAL);
                assert_non_null(msg);
                if (!streq(msg, cases[i].message))
                        fail_msg("case %zu: got '%s'", i, msg);
                free(msg);
        }
}

static void test_help_version(void **state) {
        (void) state;
        CliOptions o;
        char *msg;

        assert_int_equal(parse(&controller_spec, &o, &msg, "--version"), CLI_EXIT);
        assert_string_equal(msg, "berth-controller " PACKAGE_VERSION);
        free(msg);

        assert_int_equal(parse(&controller_spec, &o, &msg, "--help"), CLI_EXIT);
        assert_non_null(strstr(msg, "Usage: berth-controller"));
        assert_non_null(strstr(msg, "--leader-elect-retry-period DURATION"));
        assert_non_null(strstr(msg, "-o, --output FORMAT"));
        assert_non_null(strstr(msg, "endpoints endpointslice nodeport lbipam"));
        free(msg);

        /* a binary without the optional groups neither lists nor accepts them */
        static const CliSpec plain = { .program = "berthctl" };
        assert_int_equal(parse(&plain, &o, &msg, "-h"), CLI_EXIT);
        assert_null(strstr(msg, "--controllers"));
        assert_null(strstr(msg, "--leader-elect"));
        free(msg);
        assert_int_equal(parse(&plain, &o, &msg, "--controllers=*"), -EINVAL);
        assert_string_equal(msg, "berthctl: unknown flag: --controllers");
        free(msg);
}

typedef struct Extra {
        usec_t lease_duration, lease_renew;
        const char *renew_text;
        bool probe;
} Extra;

static int parse_lease_duration(const char *value, void *userdata, char **ret_why) {
        return cli_parse_duration(value, false, &((Extra *) userdata)->lease_duration, ret_why);
}
static int parse_lease_renew(const char *value, void *userdata, char **ret_why) {
        ((Extra *) userdata)->renew_text = value;
        return cli_parse_duration(value, false, &((Extra *) userdata)->lease_renew, ret_why);
}
static int parse_probe(const char *value, void *userdata, char **ret_why) {
        return cli_parse_bool(value, &((Extra *) userdata)->probe, ret_why);
}
static int validate_extra(void *userdata, const char **ret_flag, const char **ret_value, char **ret_why) {
        Extra *e = userdata;
        if (e->lease_renew >= e->lease_duration) {
                *ret_flag = "lease-renew";
                *ret_value = e->renew_text;
                *ret_why = strdup("must be shorter than --lease-duration");
                return -EINVAL;
        }
        return 0;
}

static void test_extra_options(void **state) {
        (void) state;
        static const CliExtraOption extra[] = {
                { "lease-duration", CLI_ARG_REQUIRED, "DURATION", "lease", parse_lease_duration },
                { "lease-renew", CLI_ARG_REQUIRED, "DURATION", "renew", parse_lease_renew },
                { "conflict-probe", CLI_ARG_NONE, NULL, "probe", parse_probe },
        };
        Extra e = { 3 * USEC_PER_SEC, USEC_PER_SEC, "1s", true };
        const CliSpec spec = {
                .program = "berth-speaker",
                .flags = CLI_OFFLINE_RUN,
                .extra = extra,
                .n_extra = ELEMENTSOF(extra),
                .extra_userdata = &e,
                .validate = validate_extra,
        };
        CliOptions o;
        char *msg;

        assert_int_equal(parse(&spec, &o, &msg, "--lease-duration", "1.5s", "--lease-renew=500ms",
                               "--conflict-probe=false"), CLI_RUN);
        assert_int_equal(e.lease_duration, 1500 * USEC_PER_MSEC);
        assert_int_equal(e.lease_renew, 500 * USEC_PER_MSEC);
        assert_false(e.probe);
        cli_options_done(&o);

        assert_int_equal(parse(&spec, &o, &msg, "--lease-duration", "1x"), -EINVAL);
        assert_string_equal(msg, "berth-speaker: invalid argument \"1x\" for --lease-duration: time: invalid duration \"1x\"");
        free(msg);

        assert_int_equal(parse(&spec, &o, &msg, "--lease-duration=1s", "--lease-renew", "2s"), -EINVAL);
        assert_string_equal(msg, "berth-speaker: invalid argument \"2s\" for --lease-renew: must be shorter than --lease-duration");
        free(msg);
}

static void test_feature_gates(void **state) {
        (void) state;
        bool enabled[2];
        char *w = NULL;

        assert_int_equal(cli_parse_feature_gates("PreferSameTrafficDistribution=true,OnByDefault=false", gates, 2,
                                                 enabled, &w), 0);
        assert_true(enabled[0]);
        assert_false(enabled[1]);
        assert_int_equal(cli_parse_feature_gates("", gates, 2, enabled, &w), 0);
        assert_false(enabled[0]);
        assert_true(enabled[1]);
        assert_int_equal(cli_parse_feature_gates("OnByDefault", gates, 2, enabled, &w), -EINVAL);
        assert_string_equal(w, "missing bool value for OnByDefault");
        free(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_pod_namespace),
                cmocka_unit_test(test_flag_forms),
                cmocka_unit_test(test_controllers),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_help_version),
                cmocka_unit_test(test_extra_options),
                cmocka_unit_test(test_feature_gates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
