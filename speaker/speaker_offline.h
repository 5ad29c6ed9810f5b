/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* berth-speaker --manifests DIR --once (speaker.md §13, offline.md "The
 * speaker offline"): prints {"announcements": [...]} for the election over
 * DIR.  Services without status IPs first get the IPs lbipam would give
 * them (the lbipam controller runs over the offline source); when DIR
 * holds Pods but no EndpointSlice, the EndpointSlice controller derives
 * them first, so the demo shows announcements.  Liveness: a node with a
 * speaker Lease fresh at --now; every Node when DIR holds no speaker Lease. */

#include <stdio.h>

#include "cli.h"
#include "speaker_flags.h"

/* Returns the exit status: 0, 1 (runtime error), 2 (input error). */
int speaker_offline_run(const CliSpec *spec, const CliOptions *o, const SpeakerFlags *f, FILE *out);
