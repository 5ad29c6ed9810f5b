/* SPDX-License-Identifier: Apache-2.0 */
/* Lease decoding (what every replica reads from the apiserver), and the
 * encode → decode round trip of whatever decoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        LeaseRecord r = {}, r2 = {};
        char *err = NULL, *out = NULL;

        if (lease_record_decode((const char *) data, size, &r, &err) >= 0) {
                if (lease_record_encode(&r, &out) >= 0) {
                        if (lease_record_decode(out, strlen(out), &r2, NULL) < 0 || !lease_record_spec_equal(&r, &r2))
                                abort();
                        lease_record_done(&r2);
                        free(out);
                }
                lease_record_done(&r);
        }
        free(err);
        return 0;
}
