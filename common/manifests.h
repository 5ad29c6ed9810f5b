/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reading a manifest directory (offline.md "Input"): every *.yaml, *.yml
 * and *.json file directly in DIR, in file-name order; several YAML
 * documents per file; `kind: List` (and every `*List` kind with `items`)
 * expanded.  The loader only finds and checks objects (kind, apiVersion,
 * metadata.name); decoding them is the offline source's job.
 *
 * Errors read "FILE: document N[, item I][, line L]: what" and make the
 * binary exit 2.  Unknown kinds are not errors: each distinct
 * apiVersion/kind gives one warning line in Manifests.warnings, which the
 * binary prints on stderr (library code does not print). */

#include <stddef.h>

#include "json.h"
#include "object.h"

/* A directory or a file larger than these is refused (-E2BIG). */
#define MANIFESTS_MAX_FILES 10000u
#define MANIFESTS_MAX_FILE_BYTES JSON_DEFAULT_MAX_BYTES
#define MANIFESTS_MAX_OBJECTS 1000000u

typedef struct ManifestObject {
        const KubeKind *kind;
        const JsonValue *value;   /* the object; lives in Manifests.docs */
        const char *namespace;    /* effective: metadata.namespace, "default" for a namespaced kind without one, NULL for cluster-scoped kinds */
        const char *name;         /* metadata.name */
        const char *file;         /* the path as opened: "DIR/10-pods.yaml" */
        unsigned document;        /* 1-based, as the YAML parser counts */
        unsigned item;            /* 1-based index inside a List, 0 when not from a List */
        unsigned line;            /* 1-based line where the document starts, 0 unknown */
} ManifestObject;

typedef struct Manifests {
        JsonDoc **docs;
        size_t n_docs;
        ManifestObject *objects;  /* in load order: file name, document, item */
        size_t n_objects;
        char **files;             /* paths read, in order */
        size_t n_files;
        char **warnings;          /* one line per unknown apiVersion/kind, first-seen order */
        size_t n_warnings;
} Manifests;

int manifests_new(Manifests **ret);
Manifests *manifests_free(Manifests *m);
DEFINE_POINTER_CLEANUP(Manifests, manifests_free);

/* Adds the objects of one file's content; filename names it in messages
 * and its ending picks the parser (".json" = one JSON value, else YAML).
 * On -EINVAL (input error) *ret_error holds the message and m is left as
 * it was before the call. */
int manifests_add_buffer(Manifests *m, const char *filename, const char *buf, size_t len, char **ret_error);
/* Loads every matching file of dir.  -ENOENT/-ENOTDIR/-EACCES for the
 * directory itself also come with a message. */
int manifests_load_dir(const char *dir, Manifests **ret, char **ret_error);

/* Does name end in .yaml, .yml or .json (and not start with a dot)? */
bool manifests_file_wanted(const char *name);
