/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "manifests.h"
#include "yaml_doc.h"

/* Where an object sits, for messages. */
typedef struct Where {
        const char *file;
        unsigned document, item, line;
} Where;

static int errorf(char **ret_error, int error, const Where *w, const char *fmt, ...) _printf_(4, 5);
static int errorf(char **ret_error, int error, const Where *w, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL, *item = NULL, *line = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return error;
        va_start(ap, fmt);
        r = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (w->item > 0 && asprintf(&item, ", item %u", w->item) < 0)
                return -ENOMEM;
        if (w->line > 0 && asprintf(&line, ", line %u", w->line) < 0)
                return -ENOMEM;
        if (asprintf(ret_error, "%s: document %u%s%s: %s", w->file, w->document, strempty(item), strempty(line),
                     what) < 0)
                return -ENOMEM;
        return error;
}

int manifests_new(Manifests **ret) {
        Manifests *m = new0(Manifests, 1);
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

Manifests *manifests_free(Manifests *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_docs; i++)
                json_doc_free(m->docs[i]);
        free(m->docs);
        free(m->objects);
        for (size_t i = 0; i < m->n_files; i++)
                free(m->files[i]);
        free(m->files);
        for (size_t i = 0; i < m->n_warnings; i++)
                free(m->warnings[i]);
        free(m->warnings);
        free(m);
        return NULL;
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n > k && streq(s + n - k, suffix);
}

bool manifests_file_wanted(const char *name) {
        /* as the shell's *.yaml: dot files are not matched */
        if (isempty(name) || name[0] == '.')
                return false;
        return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}

static int grow(void **p, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? *cap * 2 : 16;
        void *q = reallocarray(*p, c, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = c;
        return 0;
}

/* Objects found in one buffer before they are committed to Manifests. */
typedef struct Pending {
        ManifestObject *objects;
        size_t n, cap;
        char **warnings;
        size_t n_warnings, cap_warnings;
} Pending;

static void pending_done(Pending *p) {
        free(p->objects);
        for (size_t i = 0; i < p->n_warnings; i++)
                free(p->warnings[i]);
        free(p->warnings);
}

static bool warned(char *const *list, size_t n, const char *line) {
        for (size_t i = 0; i < n; i++)
                if (streq(list[i], line))
                        return true;
        return false;
}

static int warn_unknown(Manifests *m, Pending *p, const char *api_version, const char *kind) {
        _cleanup_free_ char *line = NULL;
        int r;

        if (asprintf(&line, "ignoring unknown kind %s (apiVersion %s)", kind, api_version) < 0)
                return -ENOMEM;
        if (warned(m->warnings, m->n_warnings, line) || warned(p->warnings, p->n_warnings, line))
                return 0;
        r = grow((void **) &p->warnings, &p->cap_warnings, p->n_warnings, sizeof(char *));
        if (r < 0)
                return r;
        p->warnings[p->n_warnings++] = TAKE_PTR(line);
        return 0;
}

static bool is_list_kind(const char *kind, const JsonValue *v) {
        return (streq(kind, "List") || has_suffix(kind, "List")) && json_type(json_get(v, "items")) == JSON_ARRAY;
}

static int add_object(Manifests *m, Pending *p, const JsonValue *v, const char *default_api_version,
                      const char *default_kind, const Where *w, unsigned depth, char **ret_error) {
        const JsonValue *metadata, *ns_value;
        const char *api_version, *kind, *name, *namespace = NULL;
        const KubeKind *k;
        int r;

        if (json_type(v) != JSON_OBJECT)
                return errorf(ret_error, -EINVAL, w, "not an object");

        kind = json_get_string(v, "kind");
        api_version = json_get_string(v, "apiVersion");
        /* Items of a typed list (PodList) carry no kind of their own. */
        if (!json_get(v, "kind") && default_kind)
                kind = default_kind;
        if (!json_get(v, "apiVersion") && default_api_version)
                api_version = default_api_version;
        if (isempty(kind))
                return errorf(ret_error, -EINVAL, w, "object has no kind");
        if (isempty(api_version))
                return errorf(ret_error, -EINVAL, w, "%s has no apiVersion", kind);

        if (is_list_kind(kind, v)) {
                const JsonValue *item;
                _cleanup_free_ char *item_kind = NULL;

                /* Lists inside lists are legal but never deep; cap anyway. */
                if (depth >= 4)
                        return errorf(ret_error, -EINVAL, w, "lists nested too deep");
                if (!streq(kind, "List")) {
                        item_kind = strndup(kind, strlen(kind) - 4);
                        if (!item_kind)
                                return -ENOMEM;
                }
                JSON_ARRAY_FOREACH(item, json_get(v, "items")) {
                        Where iw = *w;
                        iw.item = (unsigned) _i_item + 1;
                        r = add_object(m, p, item, item_kind ? api_version : NULL, item_kind, &iw, depth + 1,
                                       ret_error);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        metadata = json_get(v, "metadata");
        if (metadata && json_type(metadata) != JSON_OBJECT)
                return errorf(ret_error, -EINVAL, w, "%s: metadata: not an object", kind);
        name = json_get_string(metadata, "name");
        if (isempty(name))
                return errorf(ret_error, -EINVAL, w, "%s has no metadata.name", kind);
        ns_value = json_get(metadata, "namespace");
        if (ns_value && !json_is_null(ns_value)) {
                namespace = json_string(ns_value);
                if (!namespace)
                        return errorf(ret_error, -EINVAL, w, "%s %s: metadata.namespace: not a string", kind, name);
        }

        k = kube_kind_find(api_version, kind);
        if (!k)
                return warn_unknown(m, p, api_version, kind);

        if (!k->namespaced)
                namespace = NULL;
        else if (isempty(namespace))
                namespace = "default";

        if (m->n_objects + p->n >= MANIFESTS_MAX_OBJECTS)
                return errorf(ret_error, -E2BIG, w, "more than %u objects", MANIFESTS_MAX_OBJECTS);
        r = grow((void **) &p->objects, &p->cap, p->n, sizeof(ManifestObject));
        if (r < 0)
                return r;
        p->objects[p->n++] = (ManifestObject) {
                .kind = k,
                .value = v,
                .namespace = namespace,
                .name = name,
                .file = w->file,
                .document = w->document,
                .item = w->item,
                .line = w->line,
        };
        return 0;
}

int manifests_add_buffer(Manifests *m, const char *filename, const char *buf, size_t len, char **ret_error) {
        _cleanup_free_ char *file = NULL;
        _cleanup_free_ YamlDocPos *pos = NULL;
        JsonDoc **docs = NULL;
        size_t n_docs = 0;
        Pending p = {};
        int r;

        file = strdup(filename);
        if (!file)
                return -ENOMEM;

        if (has_suffix(filename, ".json")) {
                JsonDoc *doc = NULL;
                _cleanup_free_ char *e = NULL;

                r = json_parse(buf, len, NULL, &doc, &e);
                if (r < 0) {
                        Where w = { .file = filename, .document = 1 };
                        if (r == -ENOMEM)
                                return r;
                        return errorf(ret_error, -EINVAL, &w, "%s", e ? e : "malformed JSON");
                }
                docs = new0(JsonDoc *, 1);
                pos = new0(YamlDocPos, 1);
                if (!docs || !pos) {
                        free(docs);
                        json_doc_free(doc);
                        return -ENOMEM;
                }
                docs[0] = doc;
                pos[0] = (YamlDocPos) { .index = 1, .line = 1 };
                n_docs = 1;
        } else {
                r = yaml_parse_documents_pos(buf, len, filename, &docs, &pos, &n_docs, ret_error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        /* the YAML parser's message already names file, document and line */
                        return -EINVAL;
        }

        for (size_t i = 0; i < n_docs; i++) {
                /* the file name string is owned by m->files once committed */
                Where w = { .file = file, .document = pos[i].index, .line = pos[i].line };
                const JsonValue *root = json_doc_root(docs[i]);
                if (json_is_null(root))
                        continue; /* "--- null" is an empty document */
                r = add_object(m, &p, root, NULL, NULL, &w, 0, ret_error);
                if (r < 0)
                        goto fail;
        }

        /* Commit everything at once so that a failure leaves m untouched. */
        {
                JsonDoc **nd = reallocarray(m->docs, m->n_docs + n_docs, sizeof(JsonDoc *));
                if (!nd) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->docs = nd;
                ManifestObject *no = reallocarray(m->objects, m->n_objects + p.n + 1, sizeof(ManifestObject));
                if (!no) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->objects = no;
                char **nf = reallocarray(m->files, m->n_files + 1, sizeof(char *));
                if (!nf) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->files = nf;
                char **nw = reallocarray(m->warnings, m->n_warnings + p.n_warnings + 1, sizeof(char *));
                if (!nw) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->warnings = nw;
        }
        memcpy(m->docs + m->n_docs, docs, n_docs * sizeof(JsonDoc *));
        m->n_docs += n_docs;
        free(docs);
        if (p.n > 0)
                memcpy(m->objects + m->n_objects, p.objects, p.n * sizeof(ManifestObject));
        m->n_objects += p.n;
        if (p.n_warnings > 0)
                memcpy(m->warnings + m->n_warnings, p.warnings, p.n_warnings * sizeof(char *));
        m->n_warnings += p.n_warnings;
        m->files[m->n_files++] = TAKE_PTR(file);
        free(p.objects);
        free(p.warnings);
        return 0;

fail:
        pending_done(&p);
        yaml_docs_free(docs, n_docs);
        return r;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int read_file(int dir_fd, const char *name, const char *path, char **ret, size_t *ret_len,
                     char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = negative_errno();
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        if ((uint64_t) st.st_size > MANIFESTS_MAX_FILE_BYTES) {
                if (ret_error && asprintf(ret_error, "%s: larger than %u bytes", path, MANIFESTS_MAX_FILE_BYTES) < 0)
                        return -ENOMEM;
                return -E2BIG;
        }
        buf = malloc(st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        /* The size may change under us; read what is there, up to the cap. */
        for (;;) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0) {
                        int r = negative_errno();
                        if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                                return -ENOMEM;
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == (size_t) st.st_size)
                        break;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Two objects with one identity would make the result depend on file
 * order in a way nobody sees; refuse them. */
static int compare_identity(const void *a, const void *b) {
        const ManifestObject *x = *(const ManifestObject *const *) a, *y = *(const ManifestObject *const *) b;
        int c;

        c = strcmp(x->kind->api_version, y->kind->api_version);
        if (c == 0)
                c = strcmp(x->kind->kind, y->kind->kind);
        if (c == 0)
                c = strcmp(strempty(x->namespace), strempty(y->namespace));
        if (c == 0)
                c = strcmp(x->name, y->name);
        if (c == 0)
                c = x < y ? -1 : x > y;
        return c;
}

static int check_duplicates(Manifests *m, char **ret_error) {
        _cleanup_free_ const ManifestObject **sorted = NULL;

        if (m->n_objects < 2)
                return 0;
        sorted = new0(const ManifestObject *, m->n_objects);
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_objects; i++)
                sorted[i] = &m->objects[i];
        qsort(sorted, m->n_objects, sizeof(*sorted), compare_identity);
        for (size_t i = 1; i < m->n_objects; i++) {
                const ManifestObject *a = sorted[i - 1], *b = sorted[i];
                if (a->kind != b->kind || !streq_ptr(a->namespace, b->namespace) || !streq(a->name, b->name))
                        continue;
                Where w = { .file = b->file, .document = b->document, .item = b->item, .line = b->line };
                return errorf(ret_error, -EINVAL, &w, "%s %s%s%s is also defined in %s document %u", b->kind->kind,
                              strempty(b->namespace), b->namespace ? "/" : "", b->name, a->file, a->document);
        }
        return 0;
}

int manifests_load_dir(const char *dir, Manifests **ret, char **ret_error) {
        _cleanup_(manifests_freep) Manifests *m = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        char **names = NULL;
        size_t n = 0, cap = 0;
        DIR *d;
        struct dirent *de;
        int r;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                r = negative_errno();
                if (ret_error && asprintf(ret_error, "%s: %s", dir, strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        r = manifests_new(&m);
        if (r < 0)
                return r;

        d = fdopendir(dup(dir_fd));
        if (!d)
                return negative_errno();
        while ((errno = 0, de = readdir(d))) {
                if (!manifests_file_wanted(de->d_name))
                        continue;
                if (n >= MANIFESTS_MAX_FILES) {
                        r = -E2BIG;
                        if (ret_error && asprintf(ret_error, "%s: more than %u manifest files", dir,
                                                  MANIFESTS_MAX_FILES) < 0)
                                r = -ENOMEM;
                        goto out;
                }
                r = grow((void **) &names, &cap, n, sizeof(char *));
                if (r < 0)
                        goto out;
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto out;
                }
                n++;
        }
        if (errno != 0) {
                r = negative_errno();
                goto out;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_strings);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *buf = NULL;
                struct stat st;
                size_t len;

                /* Only regular files (or links to them): a directory named x.yaml is skipped. */
                if (fstatat(dir_fd, names[i], &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (asprintf(&path, "%s%s%s", dir, has_suffix(dir, "/") ? "" : "/", names[i]) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                r = read_file(dir_fd, names[i], path, &buf, &len, ret_error);
                if (r < 0)
                        goto out;
                r = manifests_add_buffer(m, path, buf, len, ret_error);
                if (r < 0)
                        goto out;
        }
        r = check_duplicates(m, ret_error);
        if (r < 0)
                goto out;
        *ret = TAKE_PTR(m);
        r = 0;
out:
        closedir(d);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}
