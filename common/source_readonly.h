/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A Source that reads through another and refuses every write: cache(),
 * synced(), now(), get(), cache_release() and cancel() go to the inner
 * source; write() returns -EROFS at once, so nothing (no object, no Event)
 * ever reaches the API server.  For tools that run a controller's audit
 * code only to look at its state (berthctl status). */

#include "source.h"

/* The wrapper does not own inner: free the wrapper first, then inner. */
int source_readonly_new(Source *inner, Source **ret);
