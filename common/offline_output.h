/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What an offline run prints (offline.md "Output"):
 *   json  - exactly one document {"apiVersion":"v1","kind":"List","items":[...]}
 *           holding every object the run created, changed or deleted (deleted
 *           ones with berth.io/deleted: "true"), in the store's
 *           (apiVersion, kind, namespace, name) order;
 *   yaml  - the same items as a multi-document YAML stream;
 *   table - one row per Service of the final state: type, cluster IP, ports
 *           with node ports, load-balancer IPs, announcing node, ready and
 *           not-ready endpoint counts.
 * The output depends only on the store, so it is byte-identical for the
 * same input and --now. */

#include <stdio.h>

#include "cli.h"
#include "json.h"
#include "source.h"

typedef struct OfflineTableHooks {
        /* The node that announces ip of Service ns/name, or NULL when none
         * does (the L2 election lives in controllers/; without this hook
         * the column shows "-"). */
        const char *(*announcer)(const char *namespace, const char *name, const char *ip, void *userdata);
        void *userdata;
} OfflineTableHooks;

int offline_output_json(Source *s, FILE *f);
int offline_output_yaml(Source *s, FILE *f);
int offline_output_table(Source *s, const OfflineTableHooks *hooks, FILE *f);
int offline_output_print(Source *s, OutputFormat format, const OfflineTableHooks *hooks, FILE *f);

/* Writes one JSON value as a YAML document ("---" first) to f. */
int yaml_write_document(FILE *f, const JsonValue *v);
