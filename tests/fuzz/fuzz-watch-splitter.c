/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the watch stream splitter.  Input: byte 0 picks the event cap,
 * byte 1 the chunking; the rest is the stream.  Checks the splitter's
 * promises: no event is empty, longer than the cap or holds a newline,
 * buffered bytes never exceed the cap, and the events do not depend on how
 * the stream was chunked.  Each event also goes through the managedFields
 * pruning, which must never turn a valid document into an invalid one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "watch_splitter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Result {
        uint64_t hash; /* of all events, with their boundaries */
        size_t events;
        int end;       /* first error, or watch_splitter_finish() */
} Result;

static void check_strip(const char *line, size_t len) {
        char *out = malloc(len);
        JsonDoc *doc = NULL;
        if (!out)
                abort();
        for (int first_only = 0; first_only <= 1; first_only++) {
                size_t n = kube_json_strip_managed_fields(line, len, first_only, out);
                if (n >= len && n > 0)
                        abort();
                if (n > 0 && json_parse(line, len, NULL, &doc, NULL) >= 0) {
                        doc = json_doc_free(doc);
                        if (json_parse(out, n, NULL, &doc, NULL) < 0)
                                abort();
                        doc = json_doc_free(doc);
                }
        }
        free(out);
}

static void run(const char *stream, size_t len, size_t max, uint8_t chunking, Result *res) {
        WatchSplitter *s = NULL;
        size_t pos = 0, k = 0;
        int r = 0;

        *res = (Result) { .hash = 1469598103934665603u };
        if (watch_splitter_new(max, &s) < 0)
                abort();
        while (pos < len && r >= 0) {
                /* chunking 0 = all at once; else sizes cycle through 1..chunking. */
                size_t n = chunking == 0 ? len : 1 + (k++ % chunking);
                const char *line;
                size_t line_len;

                if (n > len - pos)
                        n = len - pos;
                /* Own copy: events must not outlive their chunk. */
                char *chunk = malloc(n ? n : 1);
                if (!chunk)
                        abort();
                memcpy(chunk, stream + pos, n);
                pos += n;
                if (watch_splitter_feed(s, chunk, n) < 0)
                        abort();
                while ((r = watch_splitter_next(s, &line, &line_len)) > 0) {
                        if (line_len == 0 || line_len > max || memchr(line, '\n', line_len))
                                abort();
                        for (size_t i = 0; i < line_len; i++)
                                res->hash = (res->hash ^ (uint8_t) line[i]) * 1099511628211u;
                        res->hash = (res->hash ^ 0x100) * 1099511628211u;
                        res->events++;
                        check_strip(line, line_len);
                }
                if (watch_splitter_pending(s) > max)
                        abort();
                free(chunk);
        }
        res->end = r < 0 ? r : watch_splitter_finish(s);
        watch_splitter_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Result whole, chunked;
        size_t max;

        if (size < 2)
                return 0;
        max = data[0] == 0 ? WATCH_EVENT_MAX_DEFAULT : (size_t) data[0] * 4;
        run((const char *) data + 2, size - 2, max, 0, &whole);
        run((const char *) data + 2, size - 2, max, data[1], &chunked);
        /* Chunking may only move where an over-cap event is noticed. */
        if (whole.end != -E2BIG && chunked.end != -E2BIG &&
            (whole.hash != chunked.hash || whole.events != chunked.events || whole.end != chunked.end))
                abort();
        if ((whole.end == -E2BIG) != (chunked.end == -E2BIG))
                abort();
        return 0;
}
