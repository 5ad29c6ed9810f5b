/* SPDX-License-Identifier: Apache-2.0 */
/* Corpus replay for `make check`: links a libFuzzer harness without
 * libFuzzer and feeds it every file named on the command line (or every
 * file in a directory named there).  Under clang, the same harness links
 * with -fsanitize=fuzzer for real fuzzing (tests/fuzz/README.md). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t cap = 0, len = 0, n;

        if (!f) {
                fprintf(stderr, "replay: %s: %m\n", path);
                return -1;
        }
        do {
                if (len == cap) {
                        uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 65536);
                        if (!b) {
                                free(buf);
                                fclose(f);
                                return -1;
                        }
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
        } while (n > 0);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int main(int argc, char **argv) {
        unsigned files = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %m\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (replay_file(argv[i]) < 0)
                                return 1;
                        files++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                char **names = NULL;
                size_t n = 0;
                if (!d)
                        return 1;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char **grown = realloc(names, (n + 1) * sizeof *names);
                        if (!grown || asprintf(&grown[n], "%s/%s", argv[i], de->d_name) < 0)
                                return 1; /* exiting: the OS reclaims names */
                        names = grown;
                        n++;
                }
                closedir(d);
                qsort(names, n, sizeof *names, compare_names);
                for (size_t j = 0; j < n; j++) {
                        if (replay_file(names[j]) < 0)
                                return 1;
                        free(names[j]);
                        files++;
                }
                free(names);
        }
        printf("replayed %u inputs\n", files);
        return files > 0 ? 0 : 1;
}
