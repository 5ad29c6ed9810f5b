/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The flags berth-speaker adds to the common command line (speaker.md §1).
 * cli_parse() fills one SpeakerFlags through speaker_cli_options[]; the
 * cross-flag rules (--lease-renew < --lease-duration, --node required
 * online) run in speaker_flags_validate() (CliSpec.validate) and report
 * the single design.md error line:
 *     berth-speaker: invalid argument "<v>" for --<flag>: <why> */

#include <stdbool.h>

#include "cli.h"
#include "timeutil.h"

#define SPEAKER_DEFAULT_EXCLUDE_INTERFACES                                                                   \
        "^docker.*|^cbr.*|^dummy.*|^virbr.*|^lxcbr.*|^veth.*|^lo$|^cali.*|^tunl.*|^flannel.*|^kube-ipvs.*|" \
        "^cni.*|^nodelocaldns.*|^lxc.*"

/* berth-speaker's metrics port: MetalLB's speaker serves on 7472. */
#define SPEAKER_DEFAULT_METRICS_BIND_ADDRESS ":7472"

typedef enum SpeakerFailback {
        SPEAKER_FAILBACK_ALWAYS, /* preemptive, MetalLB */
        SPEAKER_FAILBACK_NEVER,  /* sticky (§5) */
} SpeakerFailback;

typedef struct SpeakerFlags {
        char *node;               /* --node, else $NODE_NAME; NULL = not given (offline: all nodes) */
        char *config_namespace;   /* --config-namespace; NULL = --namespace */
        char *lb_class;           /* --lb-class; NULL = Services without a class */
        usec_t lease_duration;    /* 3s */
        usec_t lease_renew;       /* 1s */
        SpeakerFailback failback; /* always */
        bool ignore_exclude_lb;   /* false */
        unsigned garp_count;      /* 5 (>= 1) */
        usec_t garp_interval;     /* 1100ms (> 0) */
        usec_t garp_refresh;      /* 60s; 0 disables */
        bool conflict_probe;      /* true */
        usec_t probe_wait;        /* 200ms (> 0) */
        char *exclude_interfaces; /* NULL = SPEAKER_DEFAULT_EXCLUDE_INTERFACES; a compiled-checked ERE */

        /* the values as given, for the cross-flag error line */
        char *lease_duration_text;
        char *lease_renew_text;
} SpeakerFlags;

#define SPEAKER_FLAGS_INIT                                   \
        {                                                    \
                .lease_duration = 3 * USEC_PER_SEC,          \
                .lease_renew = 1 * USEC_PER_SEC,             \
                .failback = SPEAKER_FAILBACK_ALWAYS,         \
                .garp_count = 5,                             \
                .garp_interval = 1100 * USEC_PER_MSEC,       \
                .garp_refresh = 60 * USEC_PER_SEC,           \
                .conflict_probe = true,                      \
                .probe_wait = 200 * USEC_PER_MSEC,           \
        }

#define SPEAKER_CLI_OPTIONS_N 13
/* For CliSpec.extra (extra_userdata = the SpeakerFlags to fill). */
extern const CliExtraOption speaker_cli_options[SPEAKER_CLI_OPTIONS_N];

/* CliSpec.validate: --lease-renew < --lease-duration.  Also fills node
 * from $NODE_NAME when --node is absent.  (--node being required online is
 * checked by main, which knows whether --manifests was given:
 * speaker_flags_check_node().) */
int speaker_flags_validate(void *userdata, const char **ret_flag, const char **ret_value, char **ret_why);

/* Online without a node name: -EINVAL and the error line in *ret_message. */
int speaker_flags_check_node(const SpeakerFlags *f, const char *program, char **ret_message);

/* The regex in force (the flag's value or the default). */
const char *speaker_flags_exclude_interfaces(const SpeakerFlags *f);

void speaker_flags_done(SpeakerFlags *f);
