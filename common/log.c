/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

/* Process-wide logger state: set once by main() through log_open() and
 * log_set_max_level(); read-only afterwards. */
static struct {
        const char *program;
        int max_level;
        bool journal;
        log_capture_fn capture;
        void *capture_userdata;
} logger = { .program = "berth", .max_level = LOG_INFO };

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(const char *program_name) {
        if (program_name) {
                const char *slash = strrchr(program_name, '/');
                logger.program = slash ? slash + 1 : program_name;
        }
        logger.journal = stderr_is_journal();
}

const char *log_program_name(void) {
        return logger.program;
}

void log_set_max_level(int level) {
        logger.max_level = level;
}

int log_get_max_level(void) {
        return logger.max_level;
}

static const char *const level_names[] = {
        [LOG_ERR] = "error",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warning"))
                return LOG_WARNING;
        if (streq(s, "info"))
                return LOG_INFO;
        if (streq(s, "debug"))
                return LOG_DEBUG;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names) || !level_names[level])
                return level < LOG_ERR ? "error" : "debug";
        return level_names[level];
}

void log_set_capture(log_capture_fn fn, void *userdata) {
        logger.capture = fn;
        logger.capture_userdata = userdata;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        if (level > logger.max_level && !logger.capture)
                return -error;

        /* %m in messages refers to the error given, as in systemd. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);

        if (logger.capture)
                logger.capture(level, buf, logger.capture_userdata);

        if (level <= logger.max_level) {
                if (logger.journal)
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=%s", logger.program,
                                        "CODE_FILE=%s", file, "CODE_LINE=%i", line,
                                        "CODE_FUNC=%s", func,
                                        error ? "ERRNO=%i" : NULL, error, NULL);
                else
                        fprintf(stderr, "%s: %s: %s\n", logger.program, log_level_to_string(level), buf);
        }
        errno = saved_errno;
        return -error;
}
