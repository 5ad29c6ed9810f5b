/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* berthctl's command line: a command first (status, plan DIR, nodeports),
 * then the flags every berth binary shares (cli.h) and berthctl's own.
 * Exit codes, documented in --help: */

#include "cli.h"
#include "controller_flags.h"

#define EXIT_OK 0
#define EXIT_PROBLEMS 1    /* pending Services, conflicts, pools >= 90 %, invalid configuration */
#define EXIT_USAGE 2       /* bad usage, bad flags, bad kubeconfig, unreadable manifests */
#define EXIT_UNREACHABLE 3 /* the cluster cannot be reached or read */

typedef enum Command {
        COMMAND_STATUS,
        COMMAND_PLAN,
        COMMAND_NODEPORTS,
} Command;

typedef struct BerthctlFlags {
        /* first member: controller_cli_options' parsers get this pointer */
        ControllerFlags controller;
        OutputFormat output;       /* table by default */
        usec_t now;                /* plan: --now; 0 = the current time */
        usec_t timeout;            /* status: --timeout */
} BerthctlFlags;

#define BERTHCTL_N_EXTRA 6

typedef struct Berthctl {
        Command command;
        CliOptions options;        /* options.manifests: the plan's DIR */
        BerthctlFlags flags;
        CliSpec spec;              /* for ControllerContext.cli */
        CliExtraOption extra[BERTHCTL_N_EXTRA];
} Berthctl;

/* Parses argv into *b (in place: the spec points into it).  Returns 0 to
 * run; 1 after printing --help or --version (exit 0); -EINVAL after
 * printing one error line to stderr (exit 2).  Call berthctl_done() in
 * every case. */
int berthctl_parse(int argc, char **argv, Berthctl *b);
void berthctl_done(Berthctl *b);
