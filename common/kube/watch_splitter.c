/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "watch_splitter.h"

struct WatchSplitter {
        size_t max_event;

        /* The cut tail of earlier chunks: the start of the next event. */
        char *buf;
        size_t buf_len, buf_cap;
        /* buf holds the line returned last; drop it on the next call. */
        bool buf_returned;

        /* The current chunk's unread part. */
        const char *in;
        size_t in_len;

        int error;
};

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!strchr(" \t\r", s[i]))
                        return false;
        return true;
}

int watch_splitter_new(size_t max_event, WatchSplitter **ret) {
        WatchSplitter *s = new0(WatchSplitter, 1);
        if (!s)
                return -ENOMEM;
        s->max_event = max_event > 0 ? max_event : WATCH_EVENT_MAX_DEFAULT;
        *ret = s;
        return 0;
}

WatchSplitter *watch_splitter_free(WatchSplitter *s) {
        if (!s)
                return NULL;
        free(s->buf);
        free(s);
        return NULL;
}

int watch_splitter_feed(WatchSplitter *s, const char *data, size_t len) {
        if (s->in_len > 0)
                return -EBUSY;
        s->in = data;
        s->in_len = len;
        return 0;
}

static int buf_append(WatchSplitter *s, const char *data, size_t len) {
        /* Callers checked buf_len + len <= max_event, so the buffer never
         * outgrows the cap however the stream is chunked. */
        if (s->buf_len + len > s->buf_cap) {
                size_t cap = s->buf_cap > 0 ? s->buf_cap : 4096;
                while (cap < s->buf_len + len)
                        cap = cap > s->max_event / 2 ? s->max_event : cap * 2;
                char *b = realloc(s->buf, cap);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->buf_cap = cap;
        }
        memcpy(s->buf + s->buf_len, data, len);
        s->buf_len += len;
        return 0;
}

static int fail(WatchSplitter *s, int error) {
        s->error = error;
        s->in = NULL;
        s->in_len = 0;
        return error;
}

int watch_splitter_next(WatchSplitter *s, const char **ret_line, size_t *ret_len) {
        int r;

        if (s->error < 0)
                return s->error;
        if (s->buf_returned) {
                s->buf_len = 0;
                s->buf_returned = false;
        }

        while (s->in_len > 0) {
                const char *nl = memchr(s->in, '\n', s->in_len);
                size_t n = nl ? (size_t) (nl - s->in) : s->in_len;
                const char *line;
                size_t line_len;

                if (s->buf_len + n > s->max_event)
                        return fail(s, -E2BIG);

                if (!nl) {
                        /* A cut event: keep it for the next chunk. */
                        r = buf_append(s, s->in, n);
                        if (r < 0)
                                return fail(s, r);
                        s->in_len = 0;
                        return 0;
                }

                if (s->buf_len > 0) {
                        r = buf_append(s, s->in, n);
                        if (r < 0)
                                return fail(s, r);
                        line = s->buf;
                        line_len = s->buf_len;
                        s->buf_returned = true;
                } else {
                        line = s->in;
                        line_len = n;
                }
                s->in += n + 1;
                s->in_len -= n + 1;

                if (is_blank(line, line_len)) {
                        s->buf_len = 0;
                        s->buf_returned = false;
                        continue;
                }
                if (line[line_len - 1] == '\r')
                        line_len--;
                *ret_line = line;
                *ret_len = line_len;
                return 1;
        }
        return 0;
}

int watch_splitter_finish(const WatchSplitter *s) {
        if (s->error < 0)
                return s->error;
        if (!s->buf_returned && !is_blank(s->buf, s->buf_len))
                return -EPIPE;
        if (!is_blank(s->in, s->in_len))
                return -EPIPE;
        return 0;
}

void watch_splitter_reset(WatchSplitter *s) {
        s->buf_len = 0;
        s->buf_returned = false;
        s->in = NULL;
        s->in_len = 0;
        s->error = 0;
        /* A huge event should not pin its buffer for the next stream. */
        if (s->buf_cap > 64 * 1024) {
                free(s->buf);
                s->buf = NULL;
                s->buf_cap = 0;
        }
}

size_t watch_splitter_pending(const WatchSplitter *s) {
        return s->buf_returned ? 0 : s->buf_len;
}

/* ---- managedFields pruning ------------------------------------------- */

#define STRIP_MAX_DEPTH 64

static size_t skip_ws(const char *s, size_t i, size_t len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
        return i;
}

/* *i at an opening quote; moves past the closing one. */
static bool skip_string(const char *s, size_t len, size_t *i) {
        size_t k = *i + 1;

        for (;;) {
                const char *q = k < len ? memchr(s + k, '"', len - k) : NULL;
                size_t backslashes = 0;

                if (!q)
                        return false;
                k = (size_t) (q - s);
                while (k - backslashes > *i + 1 && s[k - backslashes - 1] == '\\')
                        backslashes++;
                k++;
                if (backslashes % 2 == 0) {
                        *i = k;
                        return true;
                }
        }
}

/* *i at the start of a value; moves past it. */
static bool skip_value(const char *s, size_t len, size_t *i) {
        size_t k = *i, depth = 0;

        if (k >= len)
                return false;
        if (s[k] != '{' && s[k] != '[' && s[k] != '"') {
                while (k < len && !strchr(",}] \t\r\n", s[k]))
                        k++;
                if (k == *i)
                        return false;
                *i = k;
                return true;
        }
        do {
                if (k >= len)
                        return false;
                switch (s[k]) {
                case '"':
                        if (!skip_string(s, len, &k))
                                return false;
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                return false;
                        depth--;
                        break;
                }
                k++;
        } while (depth > 0);
        *i = k;
        return true;
}

size_t kube_json_strip_managed_fields(const char *src, size_t len, bool first_only, char *dst) {
        enum { ARRAY, OBJECT, METADATA } kind[STRIP_MAX_DEPTH];
        size_t last_sep[STRIP_MAX_DEPTH];
        size_t depth = 0, i = 0, out = 0, copied = 0;
        bool next_is_metadata = false, cut = false;

        while (i < len) {
                switch (src[i]) {
                case '"': {
                        size_t start = i, j;
                        if (!skip_string(src, len, &i))
                                return 0;
                        j = skip_ws(src, i, len);
                        if (depth == 0 || kind[depth - 1] == ARRAY || j >= len || src[j] != ':') {
                                next_is_metadata = false; /* a string value */
                                continue;
                        }
                        size_t key_len = i - start - 2;
                        const char *key = src + start + 1;
                        if (kind[depth - 1] == METADATA && key_len == 13 && memcmp(key, "managedFields", 13) == 0) {
                                size_t v = skip_ws(src, j + 1, len), after, from, to;
                                if (!skip_value(src, len, &v))
                                        return 0;
                                after = skip_ws(src, v, len);
                                if (after < len && src[after] == ',') {
                                        from = start; /* "managedFields":[...], */
                                        to = after + 1;
                                } else if (src[last_sep[depth - 1]] == ',') {
                                        from = last_sep[depth - 1]; /* ,"managedFields":[...] */
                                        to = v;
                                } else {
                                        from = start; /* the only member */
                                        to = v;
                                }
                                if (from < copied)
                                        return 0; /* duplicate keys: leave it to the parser */
                                memcpy(dst + out, src + copied, from - copied);
                                out += from - copied;
                                copied = i = to;
                                cut = true;
                                continue;
                        }
                        next_is_metadata = key_len == 8 && memcmp(key, "metadata", 8) == 0;
                        i = j + 1;
                        continue;
                }
                case '{':
                case '[':
                        if (depth == STRIP_MAX_DEPTH)
                                return 0;
                        kind[depth] = src[i] == '[' ? ARRAY : next_is_metadata ? METADATA : OBJECT;
                        last_sep[depth] = i;
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                return 0;
                        depth--;
                        if (first_only && kind[depth] == METADATA)
                                i = len - 1; /* the rest is copied as it is */
                        break;
                case ',':
                        if (depth > 0)
                                last_sep[depth - 1] = i;
                        break;
                case ' ':
                case '\t':
                case '\n':
                case '\r':
                        i++;
                        continue; /* between "metadata": and its { */
                }
                next_is_metadata = false;
                i++;
        }
        if (!cut)
                return 0;
        memcpy(dst + out, src + copied, len - copied);
        return out + len - copied;
}
