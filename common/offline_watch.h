/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Offline mode without --once (offline.md "Run"): re-read DIR when a file
 * in it changes.  inotify on the directory through the event loop; a burst
 * of editor writes (write a temporary file, rename it) becomes one call,
 * OFFLINE_WATCH_DELAY after the last change.  Names starting with "." (editor
 * swap files) are ignored.  Shared by every binary's offline run. */

#include <systemd/sd-event.h>

#include "macros.h"
#include "timeutil.h"

#define OFFLINE_WATCH_DELAY (200 * USEC_PER_MSEC)

typedef struct OfflineWatch OfflineWatch;

/* Called on the loop once the directory has been quiet for the delay. */
typedef void (*offline_watch_fn)(OfflineWatch *w, void *userdata);

/* -errno when the directory cannot be watched (the caller exits 2). */
int offline_watch_new(sd_event *event, const char *dir, offline_watch_fn changed, void *userdata,
                      OfflineWatch **ret);
OfflineWatch *offline_watch_free(OfflineWatch *w);
DEFINE_POINTER_CLEANUP(OfflineWatch, offline_watch_free);
