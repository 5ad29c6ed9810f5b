/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The online speaker (speaker.md §1-§12): caches through the API source,
 * the own Lease and the peers (speaker_lease.h), the election on every
 * change (l2_election.h), interface selection (links.h, link_select.h)
 * and the announcer on pcap handles (announcer.h, capture.h). */

#include "cli.h"
#include "speaker_flags.h"

/* Runs until SIGTERM/SIGINT; returns the exit status. */
int speaker_daemon_run(const CliSpec *spec, const CliOptions *o, const SpeakerFlags *f);
