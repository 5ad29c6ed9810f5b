/* SPDX-License-Identifier: Apache-2.0 */
/* --service-node-port-range on arbitrary bytes: every input either parses to
 * a range inside 1..65535 that prints back and parses to itself, or fails
 * with one non-empty error line; an allocator over the range works. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodeport_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *error = NULL, buf[NODEPORT_RANGE_STRLEN];
        NodePortRange r, again;
        NodePortAlloc *a = NULL;
        int32_t port;

        if (size > 4096)
                return 0;
        s = strndup((const char *) data, size); /* the flag is a C string: stops at NUL */
        if (!s)
                return 0;
        if (nodeport_range_parse(s, &r, &error) < 0) {
                if (!error || !error[0] || strchr(error, '\n'))
                        abort();
                free(error);
                free(s);
                return 0;
        }
        if (r.first < 1 || r.size < 1 || (int64_t) r.first + r.size - 1 > 65535)
                abort();
        nodeport_range_format(&r, buf, sizeof(buf));
        if (nodeport_range_parse(buf, &again, &error) < 0 || again.first != r.first || again.size != r.size)
                abort();
        if (nodeport_alloc_new(&r, &a) < 0)
                abort();
        if (nodeport_alloc_allocate_next(a, size, &port) < 0 || !nodeport_range_contains(&r, port) ||
            !nodeport_alloc_has(a, port) || nodeport_alloc_used(a) != 1)
                abort();
        nodeport_alloc_free(a);
        free(s);
        return 0;
}
