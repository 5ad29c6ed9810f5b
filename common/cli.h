/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The command line every berth binary shares (design.md "Common command
 * line"), parsed Go-pflag style: `--flag value`, `--flag=value`, boolean
 * flags as `--flag` or `--flag=false`, `-o json` / `-ojson` / `-o=json`.
 * A bad value yields exactly one line in the design.md format:
 *     <binary>: invalid argument "<value>" for --<flag>: <why>
 * and the binary exits 2.  Each binary adds its own flags through
 * CliExtraOption, so every binary reports errors the same way. */

#include <stdbool.h>
#include <stdint.h>

#include "macros.h"
#include "timeutil.h"

#define CLI_MAX_CONTROLLERS 32
#define CLI_MAX_FEATURE_GATES 32

typedef enum OutputFormat {
        OUTPUT_JSON,
        OUTPUT_YAML,
        OUTPUT_TABLE,
} OutputFormat;

/* Which optional groups of flags a binary accepts. */
typedef enum CliFlags {
        CLI_CONTROLLERS = 1u << 0,    /* --controllers (berth-controller only) */
        CLI_LEADER_ELECTION = 1u << 1, /* --leader-elect* (lbipam.md §13.3) */
        CLI_OFFLINE_RUN = 1u << 2,     /* --now, --once, -o/--output */
} CliFlags;

typedef struct CliFeatureGate {
        const char *name;
        bool default_enabled;
} CliFeatureGate;

typedef enum CliArg {
        CLI_ARG_NONE,      /* boolean flag: --x or --x=false */
        CLI_ARG_REQUIRED,
} CliArg;

/* A flag of one binary.  parse() returns < 0 and a malloc'd reason in
 * *ret_why (the "<why>" of the error line) for a bad value; for a
 * CLI_ARG_NONE flag value is "true" or "false". */
typedef struct CliExtraOption {
        const char *name;          /* long name without "--" */
        CliArg arg;
        const char *arg_name;      /* for --help: "DURATION" */
        const char *help;
        int (*parse)(const char *value, void *userdata, char **ret_why);
} CliExtraOption;

typedef struct CliSpec {
        const char *program;               /* "berth-controller" */
        const char *summary;               /* one line for --help */
        unsigned flags;                    /* CliFlags */
        const char *const *controllers;    /* known --controllers names, NULL-terminated */
        const char *const *controllers_off_by_default; /* not enabled by `*`; NULL-terminated or NULL */
        const CliFeatureGate *feature_gates;
        size_t n_feature_gates;
        const char *default_metrics_bind_address; /* e.g. ":9402"; NULL = disabled */
        const CliExtraOption *extra;
        size_t n_extra;
        void *extra_userdata;
        /* Called once all flags are parsed, for checks across flags; same
         * error contract as CliExtraOption.parse, plus *ret_flag and
         * *ret_value naming what to blame (static or owned by userdata). */
        int (*validate)(void *userdata, const char **ret_flag, const char **ret_value, char **ret_why);
} CliSpec;

typedef struct CliOptions {
        char *kubeconfig;              /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
        char *manifests;               /* NULL: API mode */
        char *namespace;               /* --namespace, $POD_NAMESPACE, berth-system */
        char *metrics_bind_address;    /* NULL when disabled ("0") */
        char *metrics_host;            /* "" = every address; IPv6 without brackets */
        uint16_t metrics_port;
        int log_level;                 /* LOG_ERR ... LOG_DEBUG */
        bool feature_gates[CLI_MAX_FEATURE_GATES]; /* parallel to spec->feature_gates */

        /* CLI_CONTROLLERS: bit i = spec->controllers[i] enabled. */
        uint32_t controllers_enabled;

        /* CLI_LEADER_ELECTION */
        bool leader_elect;
        char *leader_elect_resource_name;
        char *leader_elect_resource_namespace;
        usec_t leader_elect_lease_duration;
        usec_t leader_elect_renew_deadline;
        usec_t leader_elect_retry_period;

        /* CLI_OFFLINE_RUN */
        usec_t now;                    /* 0 = not given (use the current time) */
        bool once;
        OutputFormat output;
} CliOptions;

typedef enum CliResult {
        CLI_RUN = 0,        /* go on */
        CLI_EXIT = 1,       /* --help or --version: print *ret_message on stdout, exit 0 */
} CliResult;

/* Parses argv (argv[0] ignored).  Returns CLI_RUN, CLI_EXIT (with the help
 * or version text in *ret_message), or -EINVAL with the complete error
 * line (no trailing newline) in *ret_message: the caller prints it to
 * stderr and exits 2.  -ENOMEM otherwise.  ret is filled only on
 * CLI_RUN; release it with cli_options_done(). */
int cli_parse(const CliSpec *spec, int argc, char *const *argv, CliOptions *ret, char **ret_message);
void cli_options_done(CliOptions *o);

bool cli_controller_enabled(const CliSpec *spec, const CliOptions *o, const char *name);
bool cli_feature_gate_enabled(const CliSpec *spec, const CliOptions *o, const char *name);

/* Building blocks, exported for the binaries' own flags and for tests.
 * Each returns 0 or -EINVAL with a malloc'd reason in *ret_why. */
int cli_parse_bool(const char *value, bool *ret, char **ret_why);
/* Go duration; allow_zero false rejects "0". Negative values are rejected. */
int cli_parse_duration(const char *value, bool allow_zero, usec_t *ret, char **ret_why);
/* kube-controller-manager's --controllers: names, `*`, `-name`. */
int cli_parse_controllers(const char *value, const char *const *known, const char *const *off_by_default,
                          uint32_t *ret_enabled, char **ret_why);
int cli_parse_feature_gates(const char *value, const CliFeatureGate *gates, size_t n_gates, bool *ret_enabled,
                            char **ret_why);
/* "0" -> disabled (*ret_host NULL); "HOST:PORT", ":PORT", "[IPv6]:PORT". */
int cli_parse_bind_address(const char *value, char **ret_host, uint16_t *ret_port, char **ret_why);
int cli_parse_output(const char *value, OutputFormat *ret, char **ret_why);
const char *output_format_to_string(OutputFormat f);

/* "<program>: invalid argument \"<value>\" for --<flag>: <why>" (malloc'd). */
char *cli_invalid_argument(const char *program, const char *flag, const char *value, const char *why);
