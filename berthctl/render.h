/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* berthctl's two outputs of one Report.
 *
 * Table (the default): sections "POOLS", "SERVICES", "NODE PORTS" and
 * "PROBLEMS", each a table that fits TABLE_WIDTH columns.
 *
 * JSON (-o json), the shape scripts may rely on (keys are never renamed;
 * new keys may be added):
 *   {
 *     "source": "cluster" | "manifests",
 *     "configuration": { "valid": bool, "error": string | null },
 *     "pools": [ { "name", "size", "used", "free", "usagePercent",
 *                  "statusUsed": int | null } ],            (by name)
 *     "services": [ { "namespace", "name",
 *                     "ips": [ { "ip", "announcedBy": string | null,
 *                                "announcedFrom": "lease" | "election" | null } ],
 *                     "pool": string | null, "pending": bool,
 *                     "readyEndpoints", "notReadyEndpoints" } ],  (by namespace, name)
 *     "nodePorts": { "range", "offset", "usagePercent",
 *                    "bands": { "static" | "dynamic": { "first", "last", "allocated",
 *                               "available", "usagePercent" } },
 *                    "problems": [ { "port", "reason", "services": [ "ns/name" ] } ],
 *                    "missing": [ { "service", "field" } ] },
 *     "problems": [ { "kind", "object", "message" } ]
 *   }
 * "problems" decides the exit code: any entry means exit 1. */

#include <stdio.h>

#include "report.h"

int render_table(const Report *r, FILE *f);
int render_json(const Report *r, FILE *f);
/* `berthctl nodeports`: the node-port section alone; JSON is the
 * /debug/nodeports document as the controller serves it. */
int render_nodeports_table(const Report *r, FILE *f);
int render_nodeports_json(const Report *r, FILE *f);

/* "[#####---------------]  25%" for used of size; buf of RENDER_BAR_MAX. */
#define RENDER_BAR_WIDTH 20
#define RENDER_BAR_MAX (RENDER_BAR_WIDTH + 8)
const char *render_bar(int64_t used, int64_t size, char buf[static RENDER_BAR_MAX]);
int64_t render_percent(int64_t used, int64_t size);
