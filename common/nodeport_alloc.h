/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node-port bitmap (nodeport.md §2-§4): a range of ports split into a
 * static band (the first `offset` ports, for users picking ports by hand)
 * and a dynamic band (the rest, where automatic picks go first).  A data
 * structure only: who claims what is the controller's business.
 *
 * Errors: -ERANGE ErrNotInRange, -EEXIST ErrAllocated, -ENOSPC ErrFull;
 * nodeport_alloc_error() gives their exact texts. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"

#define NODEPORT_DEFAULT_RANGE "30000-32767"
/* "<first>-<last>" and a NUL, room for any int32 pair */
#define NODEPORT_RANGE_STRLEN 24

typedef struct NodePortRange {
        int32_t first;  /* 1..65535 */
        int32_t size;   /* 1..65535 */
} NodePortRange;

typedef enum NodePortBand {
        NODEPORT_BAND_STATIC,
        NODEPORT_BAND_DYNAMIC,
        _NODEPORT_BAND_MAX,
} NodePortBand;

/* --service-node-port-range (§2).  Returns 0, or -EINVAL with the exact
 * error text (malloc'd) in *ret_error; -ENOMEM. */
int nodeport_range_parse(const char *value, NodePortRange *ret, char **ret_error);
/* "<first>-<last>" into buf (NODEPORT_RANGE_STRLEN); returns buf. */
const char *nodeport_range_format(const NodePortRange *r, char *buf, size_t size);
static inline int32_t nodeport_range_last(const NodePortRange *r) {
        return r->first + r->size - 1;
}
static inline bool nodeport_range_contains(const NodePortRange *r, int64_t port) {
        return port >= r->first && port <= nodeport_range_last(r);
}
/* Size of the static band: 0 up to 16 ports, else clamp(size/32, 16, 128). */
int32_t nodeport_band_offset(int32_t size);
const char *nodeport_band_to_string(NodePortBand b);

/* FNV-1a 64 of s: the deterministic start point of offline picks (§4). */
uint64_t nodeport_fnv1a64(const char *s);

typedef struct NodePortAlloc NodePortAlloc;

int nodeport_alloc_new(const NodePortRange *range, NodePortAlloc **ret);
NodePortAlloc *nodeport_alloc_free(NodePortAlloc *a);
DEFINE_POINTER_CLEANUP(NodePortAlloc, nodeport_alloc_free);

const NodePortRange *nodeport_alloc_range(const NodePortAlloc *a);
int32_t nodeport_alloc_offset(const NodePortAlloc *a);

/* Allocate(p): -ERANGE outside, -EEXIST when taken. */
int nodeport_alloc_allocate(NodePortAlloc *a, int64_t port);
/* AllocateNext(): the dynamic band from start % D wrapping round, then the
 * static band from start % offset; -ENOSPC when every port is taken.
 * `start` is random online and FNV-1a of the claim's name offline. */
int nodeport_alloc_allocate_next(NodePortAlloc *a, uint64_t start, int32_t *ret_port);
/* Release(p): false (no-op) when outside or not set. */
bool nodeport_alloc_release(NodePortAlloc *a, int64_t port);
bool nodeport_alloc_has(const NodePortAlloc *a, int64_t port);
int32_t nodeport_alloc_used(const NodePortAlloc *a);
int32_t nodeport_alloc_free_count(const NodePortAlloc *a);
/* Per band; a band of size 0 has 0 used. */
int32_t nodeport_alloc_band_used(const NodePortAlloc *a, NodePortBand b);
int32_t nodeport_alloc_band_size(const NodePortAlloc *a, NodePortBand b);
/* First port of a band (meaningless when the band is empty). */
int32_t nodeport_alloc_band_first(const NodePortAlloc *a, NodePortBand b);
NodePortBand nodeport_alloc_band_of(const NodePortAlloc *a, int32_t port);
/* Calls fn for every set port in ascending order. */
void nodeport_alloc_foreach(const NodePortAlloc *a, void (*fn)(int32_t port, void *userdata), void *userdata);
/* Bytes of the bitmap itself (the memory benchmark). */
size_t nodeport_alloc_bitmap_bytes(const NodePortAlloc *a);

/* Snapshot / restore (upstream's Snapshot/Restore): the range and the
 * bitmap; restore refuses a snapshot of another range with -EINVAL. */
typedef struct NodePortSnapshot {
        NodePortRange range;
        size_t n_bytes;
        uint8_t *bits;
} NodePortSnapshot;
int nodeport_alloc_snapshot(const NodePortAlloc *a, NodePortSnapshot *ret);
int nodeport_alloc_restore(NodePortAlloc *a, const NodePortSnapshot *s);
void nodeport_snapshot_done(NodePortSnapshot *s);
/* Copies the set bits of src into dst (same range). */
int nodeport_alloc_copy(NodePortAlloc *dst, const NodePortAlloc *src);

/* The exact error text (§4) for -ERANGE/-EEXIST/-ENOSPC into buf. */
const char *nodeport_alloc_error(const NodePortRange *range, int error, char *buf, size_t size);
