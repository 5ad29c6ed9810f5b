/* SPDX-License-Identifier: Apache-2.0 */
/* berth-speaker: the layer-2 announcer (speaker.md), against the API
 * server, or offline over a manifest directory (§13). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "speaker_daemon.h"
#include "speaker_flags.h"
#include "speaker_offline.h"

#define PROGRAM "berth-speaker"

int main(int argc, char **argv) {
        SpeakerFlags flags = SPEAKER_FLAGS_INIT;
        CliSpec spec = {
                .program = PROGRAM,
                .summary = "Layer-2 announcer of load-balancer IPs: answers ARP and NDP for the IPs this node owns.",
                .flags = CLI_OFFLINE_RUN,
                .default_metrics_bind_address = SPEAKER_DEFAULT_METRICS_BIND_ADDRESS,
                .extra = speaker_cli_options,
                .n_extra = SPEAKER_CLI_OPTIONS_N,
                .extra_userdata = &flags,
                .validate = speaker_flags_validate,
        };
        CliOptions options = {};
        _cleanup_free_ char *message = NULL;
        int r;

        log_open(argv[0]);
        r = cli_parse(&spec, argc, argv, &options, &message);
        if (r == CLI_EXIT) {
                puts(message);
                speaker_flags_done(&flags);
                return 0;
        }
        if (r >= 0 && !options.manifests)
                r = speaker_flags_check_node(&flags, PROGRAM, &message);
        if (r < 0) {
                if (message)
                        fprintf(stderr, "%s\n", message);
                else
                        fprintf(stderr, "%s: %s\n", PROGRAM, strerror(-r));
                cli_options_done(&options);
                speaker_flags_done(&flags);
                return 2;
        }
        log_set_max_level(options.log_level);

        if (options.manifests)
                r = speaker_offline_run(&spec, &options, &flags, stdout);
        else
                r = speaker_daemon_run(&spec, &options, &flags);
        cli_options_done(&options);
        speaker_flags_done(&flags);
        return r;
}
