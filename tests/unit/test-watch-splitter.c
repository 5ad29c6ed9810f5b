/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch_splitter.h"

/* Feeds stream in chunks of the given sizes (the last size repeats) and
 * joins the events it yields with '|'.  Returns the first error or the
 * result of watch_splitter_finish(). */
static int split(size_t max, const char *stream, const size_t *chunks, size_t n_chunks, char *out, size_t out_size,
                 size_t *ret_max_pending) {
        WatchSplitter *s = NULL;
        size_t len = strlen(stream), pos = 0, k = 0, max_pending = 0;
        int r = 0;

        assert_int_equal(watch_splitter_new(max, &s), 0);
        out[0] = '\0';
        while (pos < len && r >= 0) {
                size_t n = chunks[k < n_chunks ? k : n_chunks - 1];
                const char *line;
                size_t line_len;

                k++;
                if (n > len - pos)
                        n = len - pos;
                /* A private copy per chunk: lines must not point into freed chunks. */
                char *chunk = malloc(n + 1);
                assert_non_null(chunk);
                memcpy(chunk, stream + pos, n);
                pos += n;
                r = watch_splitter_feed(s, chunk, n);
                assert_int_equal(r, 0);
                while ((r = watch_splitter_next(s, &line, &line_len)) > 0) {
                        assert_true(line_len > 0);
                        assert_true(line_len <= (max ? max : WATCH_EVENT_MAX_DEFAULT));
                        if (out[0])
                                strncat(out, "|", out_size - strlen(out) - 1);
                        strncat(out, line, line_len < out_size - strlen(out) - 1 ? line_len : out_size - strlen(out) - 1);
                }
                if (watch_splitter_pending(s) > max_pending)
                        max_pending = watch_splitter_pending(s);
                free(chunk);
        }
        if (r >= 0)
                r = watch_splitter_finish(s);
        if (ret_max_pending)
                *ret_max_pending = max_pending;
        watch_splitter_free(s);
        return r;
}

static void test_events_survive_any_chunking(void **state) {
        static const char stream[] = "{\"type\":\"ADDED\",\"object\":{}}\n"
                                     "{\"type\":\"MODIFIED\",\"object\":{\"a\":\"x\\ny\"}}\n"
                                     "{\"type\":\"BOOKMARK\"}\n";
        static const char want[] = "{\"type\":\"ADDED\",\"object\":{}}|"
                                   "{\"type\":\"MODIFIED\",\"object\":{\"a\":\"x\\ny\"}}|"
                                   "{\"type\":\"BOOKMARK\"}";
        char out[512];
        (void) state;

        /* Every split point of a two-chunk delivery, and every chunk size. */
        for (size_t cut = 1; cut < sizeof stream - 1; cut++) {
                size_t chunks[] = { cut, sizeof stream };
                assert_int_equal(split(0, stream, chunks, 2, out, sizeof out, NULL), 0);
                assert_string_equal(out, want);
        }
        for (size_t size = 1; size <= sizeof stream; size++) {
                size_t chunks[] = { size };
                assert_int_equal(split(0, stream, chunks, 1, out, sizeof out, NULL), 0);
                assert_string_equal(out, want);
        }
}

static void test_line_endings_and_blank_lines(void **state) {
        static const struct {
                const char *stream;
                const char *want;
        } cases[] = {
                { "{\"a\":1}\r\n{\"b\":2}\r\n", "{\"a\":1}|{\"b\":2}" },
                { "\n\n{\"a\":1}\n \t\r\n\n{\"b\":2}\n\n", "{\"a\":1}|{\"b\":2}" },
                { "{\"a\":1}\n   \n", "{\"a\":1}" },
                { "", "" },
        };
        size_t one[] = { 1 }, all[] = { 4096 };
        char out[256];
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(split(0, cases[i].stream, all, 1, out, sizeof out, NULL), 0);
                assert_string_equal(out, cases[i].want);
                assert_int_equal(split(0, cases[i].stream, one, 1, out, sizeof out, NULL), 0);
                assert_string_equal(out, cases[i].want);
        }
}

static void test_truncated_final_event(void **state) {
        size_t chunks[] = { 5 };
        char out[256];
        (void) state;

        assert_int_equal(split(0, "{\"a\":1}\n{\"b\":", chunks, 1, out, sizeof out, NULL), -EPIPE);
        assert_string_equal(out, "{\"a\":1}");
        /* Without the final newline even a complete-looking object is cut:
         * the server always ends an event with one. */
        assert_int_equal(split(0, "{\"a\":1}", chunks, 1, out, sizeof out, NULL), -EPIPE);
        assert_string_equal(out, "");
}

static void test_event_cap(void **state) {
        char stream[256], out[512];
        size_t max_pending = 0;
        size_t one[] = { 1 }, big[] = { 4096 }, seven[] = { 7 };
        (void) state;

        /* Exactly at the cap: fine, however it arrives. */
        memset(stream, 'x', 32);
        strcpy(stream + 32, "\n");
        assert_int_equal(split(32, stream, one, 1, out, sizeof out, &max_pending), 0);
        assert_int_equal(strlen(out), 32);
        assert_int_equal(split(32, stream, big, 1, out, sizeof out, NULL), 0);

        /* One byte over: -E2BIG whether buffered or complete in one chunk,
         * and the buffer never grew past the cap on the way. */
        memset(stream, 'x', 33);
        strcpy(stream + 33, "\n{\"next\":1}\n");
        assert_int_equal(split(32, stream, one, 1, out, sizeof out, &max_pending), -E2BIG);
        assert_true(max_pending <= 32);
        assert_int_equal(split(32, stream, big, 1, out, sizeof out, NULL), -E2BIG);
        assert_int_equal(split(32, stream, seven, 1, out, sizeof out, &max_pending), -E2BIG);
        assert_true(max_pending <= 32);

        /* A stream that never sends a newline is stopped at the cap too. */
        memset(stream, 'y', 200);
        stream[200] = '\0';
        assert_int_equal(split(64, stream, seven, 1, out, sizeof out, &max_pending), -E2BIG);
        assert_true(max_pending <= 64);
}

static void test_error_is_sticky_until_reset(void **state) {
        _cleanup_(watch_splitter_freep) WatchSplitter *s = NULL;
        const char *line;
        size_t n;
        (void) state;

        assert_int_equal(watch_splitter_new(8, &s), 0);
        assert_int_equal(watch_splitter_feed(s, "0123456789\n", 11), 0);
        assert_int_equal(watch_splitter_next(s, &line, &n), -E2BIG);
        assert_int_equal(watch_splitter_next(s, &line, &n), -E2BIG);
        assert_int_equal(watch_splitter_finish(s), -E2BIG);

        watch_splitter_reset(s);
        assert_int_equal(watch_splitter_feed(s, "{}\n{\"a\"", 7), 0);
        assert_int_equal(watch_splitter_next(s, &line, &n), 1);
        assert_int_equal(n, 2);
        assert_memory_equal(line, "{}", 2);
        assert_int_equal(watch_splitter_next(s, &line, &n), 0);
        assert_int_equal(watch_splitter_pending(s), 4);
        assert_int_equal(watch_splitter_finish(s), -EPIPE);

        /* A new stream must not see the old one's tail. */
        watch_splitter_reset(s);
        assert_int_equal(watch_splitter_pending(s), 0);
        assert_int_equal(watch_splitter_finish(s), 0);
}

static void test_feed_requires_consumed_chunk(void **state) {
        _cleanup_(watch_splitter_freep) WatchSplitter *s = NULL;
        const char *line;
        size_t n;
        (void) state;

        assert_int_equal(watch_splitter_new(0, &s), 0);
        assert_int_equal(watch_splitter_feed(s, "{}\n{}\n", 6), 0);
        assert_int_equal(watch_splitter_next(s, &line, &n), 1);
        assert_int_equal(watch_splitter_feed(s, "{}\n", 3), -EBUSY);
        assert_int_equal(watch_splitter_next(s, &line, &n), 1);
        assert_int_equal(watch_splitter_next(s, &line, &n), 0);
        assert_int_equal(watch_splitter_feed(s, "{}\n", 3), 0);
}

static void test_strip_managed_fields(void **state) {
        static const struct {
                const char *in;
                bool first_only;
                const char *out; /* NULL: nothing removed */
        } cases[] = {
                /* A watch event: the member goes, with its comma. */
                { "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"managedFields\":"
                  "[{\"f:x\":{\"s\":\"]}\\\"{\"}}],\"labels\":{}},\"spec\":{}}}",
                  true, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"labels\":{}},\"spec\":{}}}" },
                { "{\"metadata\":{\"name\":\"a\",\"managedFields\":[]}}", true, "{\"metadata\":{\"name\":\"a\"}}" },
                { "{\"metadata\":{\"managedFields\":[{}]}}", true, "{\"metadata\":{}}" },
                { "{ \"metadata\" : { \"name\" : \"a\" , \"managedFields\" : [ 1 , \"x\" ] } }", true,
                  "{ \"metadata\" : { \"name\" : \"a\"  } }" },
                /* Only under metadata; never inside strings. */
                { "{\"spec\":{\"managedFields\":[1]}}", false, NULL },
                { "{\"metadata\":{\"a\":\"\\\"managedFields\\\":[]\"}}", false, NULL },
                { "{\"metadata\":{\"labels\":{\"managedFields\":\"x\"}}}", false, NULL },
                /* A LIST: every item's, but first_only stops at the list's own metadata. */
                { "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"managedFields\":[1],"
                  "\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\",\"managedFields\":[2]}}]}",
                  false, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                  "{\"metadata\":{\"name\":\"b\"}}]}" },
                { "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"managedFields\":[1]}}]}",
                  true, NULL },
                /* Malformed: left alone for the parser to reject. */
                { "{\"metadata\":{\"managedFields\":[", false, NULL },
                { "{\"metadata\":{\"managedFields\":\"abc", false, NULL },
                { "{\"metadata\":{\"managedFields\":}}", false, NULL },
                { "", false, NULL },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = strlen(cases[i].in);
                char *out = malloc(len + 1);
                assert_non_null(out);
                size_t n = kube_json_strip_managed_fields(cases[i].in, len, cases[i].first_only, out);
                if (!cases[i].out) {
                        if (n != 0)
                                fail_msg("case %zu: removed something: %.*s", i, (int) n, out);
                } else {
                        out[n] = '\0';
                        if (n == 0 || strcmp(out, cases[i].out) != 0)
                                fail_msg("case %zu: got \"%s\"", i, n ? out : "(nothing removed)");
                }
                free(out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_events_survive_any_chunking),
                cmocka_unit_test(test_line_endings_and_blank_lines),
                cmocka_unit_test(test_truncated_final_event),
                cmocka_unit_test(test_event_cap),
                cmocka_unit_test(test_error_is_sticky_until_reset),
                cmocka_unit_test(test_feed_requires_consumed_chunk),
                cmocka_unit_test(test_strip_managed_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
