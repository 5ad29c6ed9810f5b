/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* YAML (kubeconfigs, manifest directories) turned into the same JsonDoc
 * trees the API's JSON becomes, so one set of decoders serves both.
 *
 * Semantics, chosen to match what users of kubectl expect:
 *   - a stream may hold several documents ("---"); documents that are
 *     empty (only comments, or nothing between two "---") are skipped;
 *   - plain scalars are typed by the YAML 1.2 core schema: null (~, null,
 *     empty), true/false, integers (decimal, 0o octal, 0x hex), floats;
 *     anything else, and every quoted scalar, is a string;
 *   - anchors and aliases are expanded (a copy per use) with a cap on the
 *     number of nodes expansion may create ("billion laughs");
 *   - "<<" merge keys are honoured, explicit keys win over merged ones;
 *   - duplicate keys and non-scalar keys are errors;
 *   - nesting is capped at JSON_DEFAULT_MAX_DEPTH.
 *
 * Errors read "FILE: document N, line L: what" (N and L 1-based). */

#include <stddef.h>

#include "json.h"

/* Nodes alias expansion may add, per document. */
#define YAML_MAX_ALIAS_NODES 100000u
/* Anchors per document (lookups are linear). */
#define YAML_MAX_ANCHORS 4096u

typedef struct YamlDocPos {
        unsigned index;  /* 1-based position of the document in the stream, empty ones counted */
        unsigned line;   /* 1-based line where the document's content starts */
} YamlDocPos;

/* Parses every non-empty document of buf.  On success *ret_docs is a
 * malloc'd array of *ret_n documents (free with yaml_docs_free).  Errors:
 * -EINVAL malformed or unsupported (ret_error explains), -E2BIG alias
 * expansion over the cap, -ELOOP nesting too deep, -ENOMEM.  filename is
 * only used in messages (NULL reads "<input>"). */
int yaml_parse_documents(const char *buf, size_t len, const char *filename, JsonDoc ***ret_docs, size_t *ret_n,
                         char **ret_error);
/* Same, also returning each document's position (for messages about its
 * content); *ret_pos is malloc'd, *ret_n entries. */
int yaml_parse_documents_pos(const char *buf, size_t len, const char *filename, JsonDoc ***ret_docs,
                             YamlDocPos **ret_pos, size_t *ret_n, char **ret_error);
/* Frees the array and its documents; returns NULL. */
JsonDoc **yaml_docs_free(JsonDoc **docs, size_t n);
