/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness: YAML streams into JsonDoc trees (yaml.h). */
#include <stdint.h>
#include <stdlib.h>

#include "yaml_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        JsonDoc **docs = NULL;
        YamlDocPos *pos = NULL;
        char *err = NULL;
        size_t n = 0;

        if (size > 1024 * 1024)
                return 0;
        if (yaml_parse_documents_pos((const char *) data, size, "fuzz.yaml", &docs, &pos, &n, &err) >= 0) {
                /* Walk every document so a broken tree is noticed. */
                for (size_t i = 0; i < n; i++) {
                        yajl_gen g = json_gen_new(false);
                        if (g) {
                                (void) json_write(g, json_doc_root(docs[i]));
                                json_gen_freep(&g);
                        }
                }
                yaml_docs_free(docs, n);
                free(pos);
        } else if (!err)
                abort(); /* every failure explains itself */
        free(err);
        return 0;
}
