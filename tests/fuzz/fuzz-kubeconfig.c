/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness: kubeconfig text (kubeconfig.h).  Relative paths point
 * into a directory that does not exist, so nothing real is read. */
#include <stdint.h>
#include <stdlib.h>

#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        KubeConfig *c = NULL;
        char *err = NULL;
        int r;

        if (size > 1024 * 1024)
                return 0;
        r = kube_config_load_buffer((const char *) data, size, "/nonexistent/berth-fuzz/kubeconfig", NULL, &c, &err);
        if (r >= 0) {
                if (!c || !c->server)
                        abort(); /* success means a usable server */
                kube_config_free(c);
        }
        free(err);
        return 0;
}
