/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the offline source (offline.md) offers beyond the Source interface:
 * the binaries' --once driver and the output printers read its store.
 *
 * The store holds every object as full JSON (what `kubectl get -o json`
 * would show), sorted by (apiVersion, kind, namespace, name).  Input
 * objects get the API server's defaults (namespace "default", uid v5 of
 * "kind/namespace/name" in the URL namespace, resourceVersion,
 * creationTimestamp = --now).  Writes are applied in memory with the API
 * server's semantics (resourceVersion preconditions and assignment,
 * generateName, the status subresource, no-op writes not stored) and
 * each applied write is remembered for the output. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "source.h"

#define OFFLINE_DELETED_ANNOTATION "berth.io/deleted"

typedef struct OfflineObject {
        const KubeKind *kind;
        const char *namespace;   /* NULL for cluster-scoped kinds */
        const char *name;
        const JsonValue *value;  /* current state; the last state for a deleted object (with the annotation) */
        bool changed;            /* created, changed or deleted by a write */
        bool deleted;
} OfflineObject;

/* A callback returning < 0 stops iteration and that value is returned. */
typedef int (*offline_foreach_fn)(const OfflineObject *o, void *userdata);

typedef enum OfflineForeachFlags {
        OFFLINE_EXISTING = 1u << 0,  /* objects that exist now */
        OFFLINE_CHANGED = 1u << 1,   /* only objects writes created, changed or deleted (deleted ones included) */
} OfflineForeachFlags;

/* Iterates in (apiVersion, kind, namespace, name) order; kind NULL = all. */
int source_offline_foreach(Source *s, const KubeKind *kind, unsigned flags, offline_foreach_fn fn, void *userdata);
/* The current object, or NULL (also for deleted ones). */
const JsonValue *source_offline_get(Source *s, const KubeKind *kind, const char *namespace, const char *name);
/* Writes queued but not yet applied. */
size_t source_offline_pending(Source *s);
/* Writes applied that changed something, since creation. */
uint64_t source_offline_changes(Source *s);
/* Applies every queued write now (for callers without a running loop). */
int source_offline_flush(Source *s);
/* Unknown-kind warnings of the load, one line each (for the binary to print). */
size_t source_offline_warnings(Source *s, const char *const **ret);

/* Helpers of the determinism rules (exported for tests). */
/* Name-based UUID, version 5, URL namespace; buf gets 36 chars + NUL. */
int uuid_v5_url(const char *name, char buf[static 37]);
/* Lowercase hex sha256 of s, first n (<= 64) characters, into buf (n+1 bytes). */
int sha256_hex_prefix(const char *s, size_t n, char *buf);
