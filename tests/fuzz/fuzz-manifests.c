/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest files as offline mode reads them: YAML streams (several
 * documents, Lists) or one JSON document, then every object found is
 * written back as YAML (the -o yaml printer) and must read back equal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_patch.h"
#include "manifests.h"
#include "offline_output.h"
#include "yaml_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_yaml_round_trip(const JsonValue *v) {
        char *text = NULL;
        size_t len = 0;
        JsonDoc **docs = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return;
        int r = yaml_write_document(f, v);
        fclose(f);
        if (r >= 0) {
                if (yaml_parse_documents(text, len, "round-trip", &docs, &n, NULL) < 0 || n != 1 ||
                    !json_equal(json_doc_root(docs[0]), v)) {
                        fprintf(stderr, "YAML output does not read back equal:\n%s\n", text);
                        abort();
                }
                yaml_docs_free(docs, n);
        }
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Manifests *m = NULL;
        char *err = NULL, *buf;

        if (size > 1024 * 1024)
                return 0;
        /* A leading 0x01 byte makes it a .json file (that byte dropped), as
         * a file name ending would; anything else is YAML. */
        const char *name = "input.yaml";
        if (size > 0 && data[0] == 0x01) {
                name = "input.json";
                data++;
                size--;
        }
        buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        if (manifests_new(&m) < 0) {
                free(buf);
                return 0;
        }
        int r = manifests_add_buffer(m, name, buf, size, &err);
        /* every input error comes with its message */
        if (r == -EINVAL && !err)
                abort();
        if (r >= 0) {
                for (size_t i = 0; i < m->n_objects; i++) {
                        const ManifestObject *o = &m->objects[i];
                        if (!o->kind || !o->name || !o->file || o->document == 0)
                                abort();
                        check_yaml_round_trip(o->value);
                }
        }
        free(err);
        manifests_free(m);
        free(buf);
        return 0;
}
