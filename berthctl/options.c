/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define PROGRAM "berthctl"

static int parse_output(const char *value, void *userdata, char **ret_why) {
        BerthctlFlags *f = userdata;
        OutputFormat o;

        if (!streq(value, "table") && !streq(value, "json")) {
                *ret_why = strdup("must be one of table, json");
                return *ret_why ? -EINVAL : -ENOMEM;
        }
        (void) cli_parse_output(value, &o, NULL);
        f->output = o;
        return 0;
}

static int parse_now(const char *value, void *userdata, char **ret_why) {
        BerthctlFlags *f = userdata;

        if (rfc3339_parse(value, &f->now) < 0 || f->now == 0) {
                *ret_why = strdup("not an RFC 3339 time (2024-01-01T00:00:00Z)");
                return *ret_why ? -EINVAL : -ENOMEM;
        }
        return 0;
}

static int parse_timeout(const char *value, void *userdata, char **ret_why) {
        BerthctlFlags *f = userdata;
        return cli_parse_duration(value, false, &f->timeout, ret_why);
}

/* The controller flags a plan needs to match berth-controller's run; the
 * parsers are the controllers' own (controller_flags.c). */
static const char *const controller_flag_names[] = { "lb-class", "config-namespace", "service-node-port-range" };

static const CliExtraOption own_options[] = {
        { "output", CLI_ARG_REQUIRED, "FORMAT", "table (default) or json; -o FORMAT for short", parse_output },
        { "now", CLI_ARG_REQUIRED, "RFC3339", "plan: the clock for lease liveness (default: the current time)",
          parse_now },
        { "timeout", CLI_ARG_REQUIRED, "DURATION", "status: give up reaching the cluster after this (default 10s)",
          parse_timeout },
};

static void spec_init(Berthctl *b) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(own_options); i++)
                b->extra[n++] = own_options[i];
        for (size_t i = 0; i < ELEMENTSOF(controller_flag_names); i++)
                for (size_t k = 0; k < CONTROLLER_CLI_OPTIONS_N; k++)
                        if (streq(controller_cli_options[k].name, controller_flag_names[i]) &&
                            n < BERTHCTL_N_EXTRA)
                                b->extra[n++] = controller_cli_options[k];
        b->spec = (CliSpec) {
                .program = PROGRAM,
                .summary = "What berth does with load-balancer IPs and node ports, for a person or a script.",
                .extra = b->extra,
                .n_extra = n,
                .extra_userdata = &b->flags,
        };
}

static const char usage_head[] =
        "Usage: berthctl status [FLAGS]       the cluster (--kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config)\n"
        "       berthctl plan DIR [FLAGS]     a manifest directory, as berth-controller --manifests DIR --once\n"
        "       berthctl nodeports [FLAGS]    the node-port table alone (/debug/nodeports)\n";

static const char usage_tail[] =
        "\nstatus shows each IPAddressPool (size, used, free), each LoadBalancer Service (IPs, the node\n"
        "announcing them, ready endpoints), node-port use per band and every conflict.  It only reads.\n"
        "ANNOUNCED-BY comes from the live speaker leases' berth.io/announcing; a * marks a node the\n"
        "election computes when no live lease claims the IP.\n"
        "\nExit codes:\n"
        "  0  all well\n"
        "  1  problems found: pending Services, node-port conflicts, pools 90 % used or more,\n"
        "     invalid configuration (the PROBLEMS section, \"problems\" in JSON)\n"
        "  2  bad usage or configuration (flags, kubeconfig, unreadable manifests)\n"
        "  3  the cluster cannot be reached or read in time (--timeout)\n";

static void print_help(const char *cli_help) {
        const char *rest = strchr(cli_help, '\n'); /* cli.c's own "Usage:" line */

        fputs(usage_head, stdout);
        fputs(rest ? rest + 1 : cli_help, stdout);
        fputs(usage_tail, stdout);
}

static int usage_error(const char *what) {
        fprintf(stderr, PROGRAM ": %s\nRun 'berthctl --help' for usage.\n", what);
        return -EINVAL;
}

/* -o json, -ojson, -o=json: cli.c knows long names only for extra flags */
static char *rewrite_shorthand(const char *a) {
        if (a[0] != '-' || a[1] != 'o')
                return strdup(a);
        if (a[2] == '\0')
                return strdup("--output");
        if (asprintf((char **) &a, "--output=%s", a[2] == '=' ? a + 3 : a + 2) < 0)
                return NULL;
        return (char *) a;
}

int berthctl_parse(int argc, char **argv, Berthctl *b) {
        _cleanup_free_ char *message = NULL;
        _cleanup_free_ char **args = NULL;
        const char *dir = NULL;
        int first = 2, n = 0, r;

        *b = (Berthctl) { .flags = { .controller = CONTROLLER_FLAGS_INIT, .output = OUTPUT_TABLE,
                                     .timeout = 10 * USEC_PER_SEC } };
        spec_init(b);
        if (argc < 2)
                return usage_error("missing command (status, plan DIR, nodeports)");
        if (streq(argv[1], "status"))
                b->command = COMMAND_STATUS;
        else if (streq(argv[1], "plan")) {
                b->command = COMMAND_PLAN;
                if (argc < 3 || argv[2][0] == '-')
                        return usage_error("plan needs a manifest directory: berthctl plan DIR");
                dir = argv[2];
                first = 3;
        } else if (streq(argv[1], "nodeports"))
                b->command = COMMAND_NODEPORTS;
        else if (argv[1][0] == '-')
                first = 1; /* --help, --version (anything else fails below) */
        else {
                fprintf(stderr, PROGRAM ": unknown command \"%s\"\n", argv[1]);
                return usage_error("the commands are status, plan DIR and nodeports");
        }

        args = new0(char *, argc + 3);
        if (!args)
                return -ENOMEM;
        args[n++] = argv[0];
        for (int i = first; i < argc; i++)
                if (!(args[n++] = rewrite_shorthand(argv[i]))) {
                        r = -ENOMEM;
                        goto out;
                }
        r = cli_parse(&b->spec, n, args, &b->options, &message);
        if (r == CLI_EXIT) {
                if (strncmp(message, "Usage:", 6) == 0)
                        print_help(message);
                else
                        puts(message);
                r = 1;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "%s\n", message ? message : strerror(-r));
                goto out;
        }
        if (first == 1) {
                r = usage_error("missing command (status, plan DIR, nodeports)");
                goto out;
        }
        if (dir && (r = free_and_strdup(&b->options.manifests, dir)) < 0)
                goto out;
        r = 0;
out:
        for (int i = 1; i < n; i++)
                free(args[i]);
        return r;
}

void berthctl_done(Berthctl *b) {
        cli_options_done(&b->options);
        controller_flags_done(&b->flags.controller);
}
