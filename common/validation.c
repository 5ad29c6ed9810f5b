/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>

#include "macros.h"
#include "validation.h"

/* Upstream's texts (apimachinery/pkg/util/validation, 1.33). */
#define QUALIFIED_NAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QUALIFIED_NAME_MSG \
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
#define LABEL_VALUE_FMT "(" QUALIFIED_NAME_FMT ")?"
#define LABEL_VALUE_MSG \
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_LABEL_MSG \
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1123_SUBDOMAIN_MSG \
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"

/* Collects messages joined by "; ". */
typedef struct Messages {
        char *text;
        bool oom;
} Messages;

_printf_(2, 3) static void messages_add(Messages *m, const char *fmt, ...) {
        char *part = NULL, *joined = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&part, fmt, ap) < 0)
                part = NULL;
        va_end(ap);
        if (!part) {
                m->oom = true;
                return;
        }
        if (!m->text) {
                m->text = part;
                return;
        }
        if (asprintf(&joined, "%s; %s", m->text, part) < 0)
                m->oom = true;
        else {
                free(m->text);
                m->text = joined;
        }
        free(part);
}

static char *messages_take(Messages *m) {
        if (m->oom) {
                free(m->text);
                return strdup("out of memory");
        }
        return m->text;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..len). */
static bool matches_dns1123_label(const char *s, size_t len) {
        if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

static bool matches_dns1123_subdomain(const char *s, size_t len) {
        size_t start = 0;
        for (size_t i = 0; i <= len; i++)
                if (i == len || s[i] == '.') {
                        if (!matches_dns1123_label(s + start, i - start))
                                return false;
                        start = i + 1;
                }
        return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool matches_qualified_name_part(const char *s, size_t len) {
        if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                        return false;
        return true;
}

char *validate_dns1123_label(const char *value) {
        Messages m = {};
        size_t len = strlen(value);
        if (len > DNS1123_LABEL_MAX)
                messages_add(&m, "must be no more than %d characters", DNS1123_LABEL_MAX);
        if (!matches_dns1123_label(value, len))
                messages_add(&m, "%s (e.g. 'my-name',  or '123-abc', regex used for validation is '%s')",
                             DNS1123_LABEL_MSG, DNS1123_LABEL_FMT);
        return messages_take(&m);
}

static void check_subdomain(Messages *m, const char *prefix, const char *value, size_t len) {
        if (len > DNS1123_SUBDOMAIN_MAX)
                messages_add(m, "%smust be no more than %d characters", prefix, DNS1123_SUBDOMAIN_MAX);
        if (!matches_dns1123_subdomain(value, len))
                messages_add(m, "%s%s (e.g. 'example.com', regex used for validation is '%s')", prefix,
                             DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT);
}

char *validate_dns1123_subdomain(const char *value) {
        Messages m = {};
        check_subdomain(&m, "", value, strlen(value));
        return messages_take(&m);
}

char *validate_qualified_name(const char *value) {
        Messages m = {};
        const char *slash = strchr(value, '/'), *name = value;

        if (slash && strchr(slash + 1, '/')) {
                messages_add(&m,
                             "a qualified name %s (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '%s') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                             QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT);
                return messages_take(&m);
        }
        if (slash) {
                if (slash == value)
                        messages_add(&m, "prefix part must be non-empty");
                else
                        check_subdomain(&m, "prefix part ", value, (size_t) (slash - value));
                name = slash + 1;
        }
        size_t len = strlen(name);
        if (len == 0)
                messages_add(&m, "name part must be non-empty");
        else if (len > QUALIFIED_NAME_MAX)
                messages_add(&m, "name part must be no more than %d characters", QUALIFIED_NAME_MAX);
        if (!matches_qualified_name_part(name, len))
                messages_add(&m,
                             "name part %s (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '%s')",
                             QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT);
        return messages_take(&m);
}

char *validate_label_value(const char *value) {
        Messages m = {};
        size_t len = strlen(value);
        if (len > LABEL_VALUE_MAX)
                messages_add(&m, "must be no more than %d characters", LABEL_VALUE_MAX);
        if (len > 0 && !matches_qualified_name_part(value, len))
                messages_add(&m,
                             "%s (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '%s')",
                             LABEL_VALUE_MSG, LABEL_VALUE_FMT);
        return messages_take(&m);
}

bool is_dns1123_label(const char *value) {
        size_t len = strlen(value);
        return len <= DNS1123_LABEL_MAX && matches_dns1123_label(value, len);
}

bool is_dns1123_subdomain(const char *value) {
        size_t len = strlen(value);
        return len <= DNS1123_SUBDOMAIN_MAX && matches_dns1123_subdomain(value, len);
}

bool is_qualified_name(const char *value) {
        _cleanup_free_ char *msg = validate_qualified_name(value);
        return !msg;
}

bool is_label_value(const char *value) {
        size_t len = strlen(value);
        return len <= LABEL_VALUE_MAX && (len == 0 || matches_qualified_name_part(value, len));
}
