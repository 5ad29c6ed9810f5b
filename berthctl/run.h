/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The two ways to get the objects (status.c: the cluster, read-only;
 * plan.c: a manifest directory after the controllers ran over it) and the
 * one way to show them (output.c).  Each returns the exit code. */

#include "options.h"
#include "registry.h"
#include "source.h"

int run_status(Berthctl *b);
int run_plan(Berthctl *b);

/* Builds the report over s (synced) and prints it as b asks. */
int berthctl_output(const Berthctl *b, Source *s, Controller *nodeport, bool from_cluster);
