/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One logger per process (design.md "log"): to the journal when stderr is
 * the journal stream ($JOURNAL_STREAM names stderr's device:inode), else to
 * stderr as "<binary>: <level>: message".  Library code logs at debug only;
 * binaries decide what an error means and log it once, with context. */

#include <stdbool.h>
#include <syslog.h>

#include "macros.h"

/* Levels are syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
void log_open(const char *program_name);
const char *log_program_name(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* "error", "warning", "info", "debug" -> level; -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Logs and returns -abs(error) (error may be 0: then returns -EIO-free 0). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* Test hook: when set, every formatted line is also passed to fn (for
 * asserting "one clear log line").  NULL restores normal output only. */
typedef void (*log_capture_fn)(int level, const char *message, void *userdata);
void log_set_capture(log_capture_fn fn, void *userdata);
