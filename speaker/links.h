/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The node's links and addresses, live (speaker.md §6): libnl-route-3's
 * cache manager with the route/link and route/addr caches, its socket on
 * the sd-event loop.  Every link or address change calls the owner's
 * callback once per batch of netlink messages, after the snapshot has been
 * rebuilt.  A netlink overflow (ENOBUFS) refills both caches from the
 * kernel and reports a full change.  There is no polling.
 *
 * The loop is never blocked: notifications are read non-blocking when the
 * socket is readable.  The initial fill (links_new) and the refill after an
 * overflow are netlink dumps, answered by the kernel at once. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "link_select.h"
#include "macros.h"

typedef struct Links Links;

/* ifindex: the link a change was about (for an address change, its link),
 * or 0 for a full change (overflow refill, or several links in one batch).
 * The snapshot (links_snapshot) already reflects the change. */
typedef void (*links_changed_fn)(Links *links, int ifindex, void *userdata);

/* Loads both caches (so the snapshot is complete on return) and attaches
 * the notification socket to event.  callback may be NULL.  -errno. */
int links_new(sd_event *event, links_changed_fn callback, void *userdata, Links **ret);
Links *links_free(Links *links);
DEFINE_POINTER_CLEANUP(Links, links_free);

/* The current links (one entry per ifindex, ordered by ifindex) with
 * their addresses.  Valid until the next change is processed, i.e. until
 * control returns to the loop; callers copy what they keep. */
const LinkInfo *links_snapshot(Links *links, size_t *ret_n);
/* Incremented on every rebuild of the snapshot. */
uint64_t links_generation(Links *links);

/* Refills both caches from the kernel, rebuilds the snapshot and calls the
 * callback with ifindex 0 (what ENOBUFS does; exposed for tests). */
int links_resync(Links *links);

/* Frees an array of LinkInfo together with each entry's addresses. */
LinkInfo *link_info_array_free(LinkInfo *array, size_t n);
