/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "json_patch.h"
#include "log.h"
#include "manifests.h"
#include "source_offline.h"

/* One object of the store.  pub points into the owned fields. */
typedef struct Entry {
        OfflineObject pub;
        char *namespace;
        char *name;
        JsonDoc *doc;
} Entry;

/* A selector term: `key`, `!key`, `key=v`, `key!=v`, `key in (a,b)`,
 * `key notin (a,b)`; field selectors use only = and !=. */
typedef enum TermOp { TERM_EQ, TERM_NE, TERM_IN, TERM_NOTIN, TERM_EXISTS, TERM_NOT_EXISTS } TermOp;
typedef struct Term {
        TermOp op;
        char *key;
        char **values;
        size_t n_values;
} Term;
typedef struct Selector {
        Term *terms;
        size_t n;
} Selector;

typedef struct OfflineCache {
        SourceCacheKey key;
        Selector labels, fields;
        Cache *cache;
        unsigned n_uses;      /* asks not yet released */
} OfflineCache;

/* A write or a GET, answered from the loop in the order asked. */
typedef struct PendingWrite {
        struct PendingWrite *next;
        char *method;
        const KubeKind *kind;
        char *namespace, *name, *subresource, *content_type, *body;
        source_write_fn done;
        void *userdata;
} PendingWrite;

typedef struct NameCounter {
        char *key;
        unsigned next;
} NameCounter;

typedef struct OfflineSource {
        Source base;
        usec_t now;           /* --now, 0 = wall clock */
        usec_t load_time;     /* creationTimestamp default */
        Entry **entries;      /* sorted by identity */
        size_t n_entries, cap_entries;
        OfflineCache **caches;
        size_t n_caches;
        PendingWrite *head, *tail;
        size_t n_pending;
        sd_event_source *defer;
        uint64_t last_rv;
        uint64_t changes;
        StrPool *pool;        /* objects handed to write callbacks */
        NameCounter *counters;
        size_t n_counters;
        char **warnings;
        size_t n_warnings;
} OfflineSource;

/* ---- determinism helpers -------------------------------------------------- */

static int digest(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len, unsigned char *out) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned len;
        int ok;

        if (!ctx)
                return -ENOMEM;
        ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, a, a_len) &&
             (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len)) && EVP_DigestFinal_ex(ctx, out, &len);
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : -EIO;
}

int uuid_v5_url(const char *name, char buf[static 37]) {
        /* RFC 4122 appendix C: the URL namespace 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */
        static const unsigned char url_ns[16] = { 0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                                  0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
        unsigned char h[EVP_MAX_MD_SIZE];
        int r;

        r = digest(EVP_sha1(), url_ns, sizeof url_ns, name, strlen(name), h);
        if (r < 0)
                return r;
        h[6] = (h[6] & 0x0f) | 0x50;
        h[8] = (h[8] & 0x3f) | 0x80;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
                 h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
        return 0;
}

int sha256_hex_prefix(const char *s, size_t n, char *buf) {
        unsigned char h[EVP_MAX_MD_SIZE];
        int r;

        if (n > 64)
                return -EINVAL;
        r = digest(EVP_sha256(), s, strlen(s), NULL, 0, h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                buf[i] = "0123456789abcdef"[(h[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
        buf[n] = '\0';
        return 0;
}

/* ---- the store ------------------------------------------------------------ */

static int compare_identity(const KubeKind *ka, const char *nsa, const char *na, const KubeKind *kb, const char *nsb,
                            const char *nb) {
        int c = strcmp(ka->api_version, kb->api_version);
        if (c == 0)
                c = strcmp(ka->kind, kb->kind);
        if (c == 0)
                c = strcmp(strempty(nsa), strempty(nsb));
        if (c == 0)
                c = strcmp(na, nb);
        return c;
}

/* Index of the entry, or -(insertion point) - 1. */
static ssize_t store_find(OfflineSource *s, const KubeKind *kind, const char *namespace, const char *name) {
        size_t lo = 0, hi = s->n_entries;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                Entry *e = s->entries[mid];
                int c = compare_identity(kind, namespace, name, e->pub.kind, e->namespace, e->name);
                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -(ssize_t) lo - 1;
}

static Entry *entry_free(Entry *e) {
        if (!e)
                return NULL;
        free(e->namespace);
        free(e->name);
        json_doc_free(e->doc);
        free(e);
        return NULL;
}

static Entry *store_get(OfflineSource *s, const KubeKind *kind, const char *namespace, const char *name) {
        ssize_t i = store_find(s, kind, namespace, name);
        return i >= 0 ? s->entries[i] : NULL;
}

/* Inserts a new entry owning doc. */
static int store_insert(OfflineSource *s, const KubeKind *kind, const char *namespace, const char *name, JsonDoc *doc,
                        Entry **ret) {
        ssize_t i = store_find(s, kind, namespace, name);
        Entry *e;

        if (i >= 0)
                return -EEXIST;
        if (!GREEDY_REALLOC(s->entries, s->cap_entries, s->n_entries + 1, 64))
                return -ENOMEM;
        e = new0(Entry, 1);
        if (!e)
                return -ENOMEM;
        e->name = strdup(name);
        e->namespace = namespace ? strdup(namespace) : NULL;
        if (!e->name || (namespace && !e->namespace)) {
                entry_free(e);
                return -ENOMEM;
        }
        e->doc = doc;
        e->pub = (OfflineObject) {
                .kind = kind,
                .namespace = e->namespace,
                .name = e->name,
                .value = json_doc_root(doc),
        };
        i = -i - 1;
        memmove(s->entries + i + 1, s->entries + i, (s->n_entries - (size_t) i) * sizeof(Entry *));
        s->entries[i] = e;
        s->n_entries++;
        *ret = e;
        return 0;
}

static void entry_set_doc(Entry *e, JsonDoc *doc) {
        json_doc_free(e->doc);
        e->doc = doc;
        e->pub.value = json_doc_root(doc);
}

/* ---- selectors ------------------------------------------------------------ */

static void selector_done(Selector *sel) {
        for (size_t i = 0; i < sel->n; i++) {
                free(sel->terms[i].key);
                for (size_t k = 0; k < sel->terms[i].n_values; k++)
                        free(sel->terms[i].values[k]);
                free(sel->terms[i].values);
        }
        free(sel->terms);
        *sel = (Selector) {};
}

static char *strndup_trim(const char *s, size_t n) {
        while (n > 0 && (*s == ' ' || *s == '\t'))
                s++, n--;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        return strndup(s, n);
}

static int term_add_value(Term *t, const char *v, size_t n) {
        char **vs = reallocarray(t->values, t->n_values + 1, sizeof(char *));
        if (!vs)
                return -ENOMEM;
        t->values = vs;
        vs[t->n_values] = strndup_trim(v, n);
        if (!vs[t->n_values])
                return -ENOMEM;
        t->n_values++;
        return 0;
}

static int parse_term(const char *s, size_t len, bool field, Term *t) {
        _cleanup_free_ char *text = strndup_trim(s, len);
        char *p;
        int r;

        if (!text)
                return -ENOMEM;
        if (isempty(text))
                return -EINVAL;
        if (!field && ((p = strstr(text, " in ")) || (p = strstr(text, " notin ")))) {
                bool in = p[1] == 'i';
                char *open = strchr(p, '('), *close = strrchr(p, ')');
                if (!open || !close || close < open)
                        return -EINVAL;
                t->op = in ? TERM_IN : TERM_NOTIN;
                t->key = strndup_trim(text, p - text);
                if (!t->key)
                        return -ENOMEM;
                for (char *v = open + 1; v <= close;) {
                        size_t n = strcspn(v, ",)");
                        r = term_add_value(t, v, n);
                        if (r < 0)
                                return r;
                        v += n + 1;
                }
                return 0;
        }
        if ((p = strstr(text, "!="))) {
                t->op = TERM_NE;
                t->key = strndup_trim(text, p - text);
                r = t->key ? term_add_value(t, p + 2, strlen(p + 2)) : -ENOMEM;
                return r;
        }
        if ((p = strchr(text, '='))) {
                const char *v = p[1] == '=' ? p + 2 : p + 1;
                t->op = TERM_EQ;
                t->key = strndup_trim(text, p - text);
                return t->key ? term_add_value(t, v, strlen(v)) : -ENOMEM;
        }
        if (field)
                return -EINVAL;
        if (text[0] == '!') {
                t->op = TERM_NOT_EXISTS;
                t->key = strndup_trim(text + 1, strlen(text + 1));
        } else {
                t->op = TERM_EXISTS;
                t->key = strdup(text);
        }
        return t->key ? 0 : -ENOMEM;
}

static int selector_parse(const char *s, bool field, Selector *ret) {
        Selector sel = {};
        int r = 0;

        for (const char *p = s; p && *p;) {
                /* split on commas outside parentheses */
                size_t n = 0;
                int depth = 0;
                while (p[n] && (p[n] != ',' || depth > 0)) {
                        depth += p[n] == '(' ? 1 : p[n] == ')' ? -1 : 0;
                        n++;
                }
                Term *ts = reallocarray(sel.terms, sel.n + 1, sizeof(Term));
                if (!ts) {
                        r = -ENOMEM;
                        break;
                }
                sel.terms = ts;
                ts[sel.n] = (Term) {};
                r = parse_term(p, n, field, &ts[sel.n]);
                sel.n++;
                if (r < 0)
                        break;
                p += n;
                if (*p == ',')
                        p++;
        }
        if (r < 0) {
                selector_done(&sel);
                return r;
        }
        *ret = sel;
        return 0;
}

static bool term_value_in(const Term *t, const char *v) {
        for (size_t i = 0; i < t->n_values; i++)
                if (streq(t->values[i], v))
                        return true;
        return false;
}

static bool term_matches(const Term *t, const char *value) {
        switch (t->op) {
        case TERM_EQ:
                return value && streq(value, t->values[0]);
        case TERM_NE:
                return !value || !streq(value, t->values[0]);
        case TERM_IN:
                return value && term_value_in(t, value);
        case TERM_NOTIN:
                return !value || !term_value_in(t, value);
        case TERM_EXISTS:
                return value != NULL;
        case TERM_NOT_EXISTS:
                return value == NULL;
        }
        return false;
}

/* A field's value as text ("" when absent, as the API server compares). */
static const char *field_value(const Entry *e, const char *path, char *buf, size_t size) {
        const JsonValue *v = e->pub.value;
        bool b;

        for (const char *p = path; v && *p;) {
                size_t n = strcspn(p, ".");
                char key[256];
                if (n >= sizeof key)
                        return "";
                memcpy(key, p, n);
                key[n] = '\0';
                v = json_get(v, key);
                p += n;
                if (*p == '.')
                        p++;
        }
        switch (json_type(v)) {
        case JSON_STRING:
                return json_string(v);
        case JSON_NUMBER:
                return json_number_text(v);
        case JSON_BOOL:
                (void) json_bool(v, &b);
                snprintf(buf, size, "%s", b ? "true" : "false");
                return buf;
        default:
                return "";
        }
}

static bool cache_wants(const OfflineCache *c, const Entry *e) {
        const JsonValue *labels = json_get_path(e->pub.value, "metadata", "labels");
        char buf[8];

        if (e->pub.kind != c->key.kind || e->pub.deleted)
                return false;
        if (c->key.namespace && !streq_ptr(c->key.namespace, e->namespace))
                return false;
        for (size_t i = 0; i < c->labels.n; i++)
                if (!term_matches(&c->labels.terms[i], json_get_string(labels, c->labels.terms[i].key)))
                        return false;
        for (size_t i = 0; i < c->fields.n; i++)
                if (!term_matches(&c->fields.terms[i], field_value(e, c->fields.terms[i].key, buf, sizeof buf)))
                        return false;
        return true;
}

/* ---- caches --------------------------------------------------------------- */

static int decode_entry(const Entry *e, StrPool *pool, KubeObject **ret, char **ret_error) {
        KubeDecodeContext ctx = { .pool = pool };
        return kube_object_decode(e->pub.kind, e->pub.value, &ctx, ret, ret_error);
}

static int cache_sync_entry(OfflineCache *c, const Entry *e) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        int r;

        if (e->pub.kind != c->key.kind)
                return 0;
        if (!cache_wants(c, e)) {
                if (cache_get(c->cache, e->namespace, e->name))
                        return cache_remove(c->cache, e->namespace, e->name);
                return 0;
        }
        r = decode_entry(e, cache_pool(c->cache), &o, NULL);
        if (r < 0)
                return r;
        return cache_upsert(c->cache, o);
}

static void offline_cache_free(OfflineCache *c) {
        if (!c)
                return;
        cache_free(c->cache);
        source_cache_key_done(&c->key);
        selector_done(&c->labels);
        selector_done(&c->fields);
        free(c);
}

static int offline_cache(Source *src, const KubeKind *kind, const SourceFilter *filter, Cache **ret) {
        OfflineSource *s = (OfflineSource *) src;
        OfflineCache *c;
        int r;

        for (size_t i = 0; i < s->n_caches; i++)
                if (source_cache_key_matches(&s->caches[i]->key, kind, filter)) {
                        s->caches[i]->n_uses++;
                        *ret = s->caches[i]->cache;
                        return 0;
                }

        OfflineCache **cs = reallocarray(s->caches, s->n_caches + 1, sizeof(OfflineCache *));
        if (!cs)
                return -ENOMEM;
        s->caches = cs;
        c = new0(OfflineCache, 1);
        if (!c)
                return -ENOMEM;
        r = source_cache_key_init(&c->key, kind, filter);
        if (r >= 0)
                r = selector_parse(c->key.label_selector, false, &c->labels);
        if (r >= 0)
                r = selector_parse(c->key.field_selector, true, &c->fields);
        if (r >= 0)
                r = cache_new(kind, &c->cache);
        if (r < 0) {
                offline_cache_free(c);
                return r;
        }
        for (size_t i = 0; i < s->n_entries; i++) {
                r = cache_sync_entry(c, s->entries[i]);
                if (r < 0) {
                        offline_cache_free(c);
                        return r;
                }
        }
        /* Everything is known from the start: synced at once. */
        cache_set_synced(c->cache, true);
        c->n_uses = 1;
        s->caches[s->n_caches++] = c;
        *ret = c->cache;
        return 0;
}

static void offline_cache_release(Source *src, Cache *cache) {
        OfflineSource *s = (OfflineSource *) src;

        for (size_t i = 0; i < s->n_caches; i++) {
                OfflineCache *c = s->caches[i];
                if (c->cache != cache)
                        continue;
                if (--c->n_uses > 0)
                        return;
                memmove(s->caches + i, s->caches + i + 1, (s->n_caches - i - 1) * sizeof(OfflineCache *));
                s->n_caches--;
                offline_cache_free(c);
                return;
        }
        log_debug("offline: release of a cache it did not hand out");
}

static bool offline_synced(Source *src) {
        (void) src;
        return true;
}

static usec_t offline_now(Source *src) {
        OfflineSource *s = (OfflineSource *) src;
        return s->now ? s->now : now_usec(CLOCK_REALTIME);
}

static int caches_update(OfflineSource *s, const Entry *e) {
        int r = 0;
        for (size_t i = 0; i < s->n_caches; i++) {
                int k = cache_sync_entry(s->caches[i], e);
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        return r;
}

/* ---- building documents --------------------------------------------------- */

static int set_str(JsonDoc *doc, JsonValue *obj, const char *key, const char *value) {
        JsonValue *v = value ? json_new_string(doc, value, strlen(value)) : json_new_null(doc);
        if (!v)
                return -ENOMEM;
        return json_object_append(doc, obj, key, strlen(key), v);
}

typedef struct MetaOverride {
        const char *api_version, *kind;
        const char *name, *namespace, *uid, *resource_version, *creation_timestamp;
        const char *annotation_key, *annotation_value;
        bool drop_status;
} MetaOverride;

/* obj merged with the given server-side fields. */
static int with_meta(const JsonValue *obj, const MetaOverride *m, JsonDoc **ret) {
        _cleanup_(json_doc_freep) JsonDoc *patch = NULL;
        _cleanup_json_gen_ yajl_gen g = NULL;
        JsonValue *root, *meta;
        int r;

        r = json_doc_new(&patch);
        if (r < 0)
                return r;
        root = json_new_object(patch);
        meta = json_new_object(patch);
        if (!root || !meta)
                return -ENOMEM;
        if ((m->api_version && (r = set_str(patch, root, "apiVersion", m->api_version)) < 0) ||
            (m->kind && (r = set_str(patch, root, "kind", m->kind)) < 0) ||
            (m->name && (r = set_str(patch, meta, "name", m->name)) < 0) ||
            (m->namespace && (r = set_str(patch, meta, "namespace", m->namespace)) < 0) ||
            (m->uid && (r = set_str(patch, meta, "uid", m->uid)) < 0) ||
            (m->resource_version && (r = set_str(patch, meta, "resourceVersion", m->resource_version)) < 0) ||
            (m->creation_timestamp && (r = set_str(patch, meta, "creationTimestamp", m->creation_timestamp)) < 0))
                return r;
        if (m->annotation_key) {
                JsonValue *ann = json_new_object(patch);
                if (!ann)
                        return -ENOMEM;
                if ((r = set_str(patch, ann, m->annotation_key, m->annotation_value)) < 0 ||
                    (r = json_object_append(patch, meta, "annotations", strlen("annotations"), ann)) < 0)
                        return r;
        }
        if ((r = json_object_append(patch, root, "metadata", strlen("metadata"), meta)) < 0)
                return r;
        if (m->drop_status && (r = set_str(patch, root, "status", NULL)) < 0)
                return r;
        json_doc_set_root(patch, root);

        g = json_gen_new(false);
        if (!g)
                return -ENOMEM;
        r = json_merge_patch_write(g, obj, root);
        if (r < 0)
                return r;
        return json_reparse(g, ret);
}

static int replacing(const JsonValue *obj, const char *key, const JsonValue *value, JsonDoc **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        int r;

        if (!g)
                return -ENOMEM;
        r = json_write_replacing(g, obj, key, value);
        if (r < 0)
                return r;
        return json_reparse(g, ret);
}

static int merged(const JsonValue *target, const JsonValue *patch, JsonDoc **ret) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        int r;

        if (!g)
                return -ENOMEM;
        r = json_merge_patch_write(g, target, patch);
        if (r < 0)
                return r;
        return json_reparse(g, ret);
}

static const char *next_rv(OfflineSource *s, char buf[static 24]) {
        snprintf(buf, 24, "%" PRIu64, ++s->last_rv);
        return buf;
}

static int object_uid(const KubeKind *kind, const char *namespace, const char *name, char buf[static 37]) {
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "%s/%s/%s", kind->kind, strempty(namespace), name) < 0)
                return -ENOMEM;
        return uuid_v5_url(text, buf);
}

/* ---- loading ---------------------------------------------------------------- */

static bool has_status_subresource(const KubeKind *kind) {
        static const char *const kinds[] = { "Namespace", "Node", "Pod", "Service", "IPAddressPool" };
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kind->kind, kinds[i]))
                        return true;
        return false;
}

static bool parse_rv(const char *s, uint64_t *ret) {
        char *end;
        if (isempty(s) || *s < '0' || *s > '9')
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return false;
        *ret = v;
        return true;
}

static int load_object(OfflineSource *s, const ManifestObject *mo, char **ret_error) {
        const JsonValue *meta = json_get(mo->value, "metadata");
        char uid[37], rv[24], ts[RFC3339_MAX];
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_(kube_object_unrefp) KubeObject *probe = NULL;
        _cleanup_free_ char *why = NULL;
        MetaOverride m = {
                .api_version = mo->kind->api_version,
                .kind = mo->kind->kind,
        };
        Entry *e;
        int r;

        if (mo->kind->namespaced && isempty(json_get_string(meta, "namespace")))
                m.namespace = mo->namespace;
        if (isempty(json_get_string(meta, "uid"))) {
                r = object_uid(mo->kind, mo->namespace, mo->name, uid);
                if (r < 0)
                        return r;
                m.uid = uid;
        }
        if (isempty(json_get_string(meta, "resourceVersion")))
                m.resource_version = next_rv(s, rv);
        if (!json_get_string(meta, "creationTimestamp"))
                m.creation_timestamp = rfc3339_format_seconds(s->load_time, ts);

        r = with_meta(mo->value, &m, &doc);
        if (r < 0)
                return r;
        r = store_insert(s, mo->kind, mo->namespace, mo->name, doc, &e);
        if (r < 0)
                return r;
        TAKE_PTR(doc);

        /* What the decoders reject is an input error too, named like the
         * parser's errors, so the user can find the object. */
        r = decode_entry(e, s->pool, &probe, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* "%.0u" prints nothing for 0: item and line appear only when known */
                if (asprintf(ret_error, "%s: document %u%s%.0u%s%.0u: %s %s%s%s: %s", mo->file, mo->document,
                             mo->item ? ", item " : "", mo->item, mo->line ? ", line " : "", mo->line,
                             mo->kind->kind, strempty(mo->namespace), mo->namespace ? "/" : "", mo->name,
                             why ? why : "invalid") < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        return 0;
}

static int load_dir(OfflineSource *s, const char *dir, char **ret_error) {
        _cleanup_(manifests_freep) Manifests *m = NULL;
        int r;

        r = manifests_load_dir(dir, &m, ret_error);
        if (r < 0)
                return r;

        /* resourceVersions we assign come after every one the input holds */
        for (size_t i = 0; i < m->n_objects; i++) {
                uint64_t v;
                if (parse_rv(json_get_string(json_get(m->objects[i].value, "metadata"), "resourceVersion"), &v) &&
                    v > s->last_rv)
                        s->last_rv = v;
        }
        for (size_t i = 0; i < m->n_objects; i++) {
                r = load_object(s, &m->objects[i], ret_error);
                if (r < 0)
                        return r;
        }
        s->warnings = TAKE_PTR(m->warnings);
        s->n_warnings = m->n_warnings;
        m->n_warnings = 0;
        return 0;
}

/* ---- writes ------------------------------------------------------------------- */

/* kube_status_done() lives with the HTTP client, which offline-only
 * programs (berthctl plan) need not link. */
static void status_clear(KubeStatus *st) {
        free(st->reason);
        free(st->message);
        free(st->cause_reason);
        *st = (KubeStatus) {};
}

static int status_set(KubeStatus *st, long code, const char *reason, const char *fmt, ...) _printf_(4, 5);
static int status_set(KubeStatus *st, long code, const char *reason, const char *fmt, ...) {
        va_list ap;
        int r;

        status_clear(st);
        st->http_code = code;
        st->reason = strdup(reason);
        va_start(ap, fmt);
        r = vasprintf(&st->message, fmt, ap);
        va_end(ap);
        if (r < 0)
                st->message = NULL;
        return source_errno_from_status(st);
}

/* "services", "endpointslices.discovery.k8s.io": the API server's qualified resource. */
static const char *qualified_resource(const KubeKind *k, char *buf, size_t size) {
        if (isempty(k->group))
                snprintf(buf, size, "%s", k->resource);
        else
                snprintf(buf, size, "%s.%s", k->resource, k->group);
        return buf;
}

static int not_found(KubeStatus *st, const KubeKind *k, const char *name) {
        char qr[128];
        return status_set(st, 404, "NotFound", "%s \"%s\" not found", qualified_resource(k, qr, sizeof qr), name);
}

static int conflict(KubeStatus *st, const KubeKind *k, const char *name) {
        char qr[128];
        return status_set(st, 409, "Conflict",
                          "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply "
                          "your changes to the latest version and try again",
                          qualified_resource(k, qr, sizeof qr), name);
}

static int invalid(KubeStatus *st, const KubeKind *k, const char *name, const char *why) {
        return status_set(st, 422, "Invalid", "%s%s%s \"%s\" is invalid: %s", k->kind, isempty(k->group) ? "" : ".",
                          strempty(k->group), strempty(name), why);
}

static int find_counter(OfflineSource *s, const char *key, NameCounter **ret) {
        for (size_t i = 0; i < s->n_counters; i++)
                if (streq(s->counters[i].key, key)) {
                        *ret = &s->counters[i];
                        return 0;
                }
        NameCounter *c = reallocarray(s->counters, s->n_counters + 1, sizeof(NameCounter));
        if (!c)
                return -ENOMEM;
        s->counters = c;
        c[s->n_counters] = (NameCounter) { .key = strdup(key) };
        if (!c[s->n_counters].key)
                return -ENOMEM;
        *ret = &c[s->n_counters++];
        return 0;
}

/* offline.md's deterministic names for objects created without one. */
static int generate_name(OfflineSource *s, const KubeKind *kind, const char *namespace, const JsonValue *obj,
                         char **ret) {
        const JsonValue *meta = json_get(obj, "metadata");
        const char *prefix = json_get_string(meta, "generateName");
        _cleanup_free_ char *key = NULL;
        NameCounter *counter;
        int r;

        if (streq(kind->kind, "Event")) {
                bool core = streq(kind->api_version, "v1");
                const JsonValue *ref = json_get(obj, core ? "involvedObject" : "regarding");
                const char *rname = json_get_string(ref, "name");
                _cleanup_free_ char *text = NULL;
                char hex[17];

                if (isempty(rname))
                        return -EINVAL;
                if (asprintf(&text, "%s/%s/%s", strempty(json_get_string(obj, "reason")),
                             strempty(json_get_string(ref, "uid")),
                             strempty(json_get_string(obj, core ? "message" : "note"))) < 0)
                        return -ENOMEM;
                r = sha256_hex_prefix(text, 16, hex);
                if (r < 0)
                        return r;
                return asprintf(ret, "%s.%s", rname, hex) < 0 ? -ENOMEM : 0;
        }

        if (isempty(prefix))
                return -EINVAL;
        if (streq(kind->kind, "EndpointSlice")) {
                const char *service = json_get_string(json_get(meta, "labels"), "kubernetes.io/service-name");
                const char *family = json_get_string(obj, "addressType");
                if (!isempty(service) && !isempty(family) &&
                    asprintf(&key, "%s/%s/%s", strempty(namespace), service, family) < 0)
                        return -ENOMEM;
        }
        if (!key && asprintf(&key, "%s/%s/%s", kind->kind, strempty(namespace), prefix) < 0)
                return -ENOMEM;

        r = find_counter(s, key, &counter);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *text = NULL, *name = NULL;
                char hex[6];

                if (asprintf(&text, "%s/%u", key, counter->next++) < 0)
                        return -ENOMEM;
                r = sha256_hex_prefix(text, 5, hex);
                if (r < 0)
                        return r;
                if (asprintf(&name, "%s%s", prefix, hex) < 0)
                        return -ENOMEM;
                Entry *e = store_get(s, kind, namespace, name);
                if (!e || e->pub.deleted) {
                        *ret = TAKE_PTR(name);
                        return 0;
                }
        }
}

static int parse_body(const char *body, const KubeKind *kind, const char *name, KubeStatus *st, JsonDoc **ret) {
        _cleanup_free_ char *why = NULL;
        const char *k, *av;
        int r;

        r = json_parse(body, strlen(body), NULL, ret, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return status_set(st, 400, "BadRequest", "the body of the request was in an unknown format: %s",
                                  why ? why : "malformed JSON");
        if (json_type(json_doc_root(*ret)) != JSON_OBJECT) {
                *ret = json_doc_free(*ret);
                return status_set(st, 400, "BadRequest", "the body of the request is not a JSON object");
        }
        k = json_get_string(json_doc_root(*ret), "kind");
        av = json_get_string(json_doc_root(*ret), "apiVersion");
        if ((k && !streq(k, kind->kind)) || (av && !streq(av, kind->api_version))) {
                *ret = json_doc_free(*ret);
                return invalid(st, kind, name, "apiVersion/kind does not match the request");
        }
        return 0;
}

/* Final step of every create/update: decode what would be stored (the
 * API server's validation stands in the kind's decoder), then store it. */
static int check_decodes(OfflineSource *s, const KubeKind *kind, const char *name, const JsonValue *v,
                         KubeStatus *st) {
        _cleanup_(kube_object_unrefp) KubeObject *o = NULL;
        _cleanup_free_ char *why = NULL;
        KubeDecodeContext ctx = { .pool = s->pool };
        int r;

        r = kube_object_decode(kind, v, &ctx, &o, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return invalid(st, kind, name, why ? why : "does not decode");
        return 0;
}

static int do_create(OfflineSource *s, const KubeKind *kind, const char *namespace, const JsonValue *obj,
                     const char *url_name, KubeStatus *st, Entry **ret) {
        const JsonValue *meta = json_get(obj, "metadata");
        const char *body_ns = json_get_string(meta, "namespace");
        _cleanup_free_ char *name = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        char uid[37], rv[24], ts[RFC3339_MAX], qr[128];
        Entry *e;
        int r;

        if (kind->namespaced) {
                if (!isempty(body_ns) && !isempty(namespace) && !streq(body_ns, namespace))
                        return status_set(st, 400, "BadRequest",
                                          "the namespace of the provided object does not match the namespace sent "
                                          "on the request");
                if (isempty(namespace))
                        namespace = !isempty(body_ns) ? body_ns : "default";
        } else
                namespace = NULL;

        if (!isempty(json_get_string(meta, "name")))
                name = strdup(json_get_string(meta, "name"));
        else if (url_name)
                name = strdup(url_name);
        else {
                r = generate_name(s, kind, namespace, obj, &name);
                if (r == -EINVAL)
                        return invalid(st, kind, "", "metadata.name: Required value: name or generateName is required");
                if (r < 0)
                        return r;
        }
        if (!name)
                return -ENOMEM;

        e = store_get(s, kind, namespace, name);
        if (e && !e->pub.deleted)
                return status_set(st, 409, "AlreadyExists", "%s \"%s\" already exists",
                                  qualified_resource(kind, qr, sizeof qr), name);

        r = object_uid(kind, namespace, name, uid);
        if (r < 0)
                return r;
        MetaOverride m = {
                .api_version = kind->api_version,
                .kind = kind->kind,
                .name = name,
                .namespace = namespace,
                .uid = uid,
                .resource_version = next_rv(s, rv),
                .creation_timestamp = rfc3339_format_seconds(offline_now(&s->base), ts),
                .drop_status = has_status_subresource(kind),
        };
        r = with_meta(obj, &m, &doc);
        if (r < 0)
                return r;
        r = check_decodes(s, kind, name, json_doc_root(doc), st);
        if (r < 0) {
                s->last_rv--;
                return r;
        }
        if (e) {
                /* re-created after a delete in this run */
                entry_set_doc(e, TAKE_PTR(doc));
                e->pub.deleted = false;
        } else {
                r = store_insert(s, kind, namespace, name, doc, &e);
                if (r < 0)
                        return r;
                TAKE_PTR(doc);
        }
        e->pub.changed = true;
        s->changes++;
        *ret = e;
        return 0;
}

/* Stores candidate as the new state of e unless it changes nothing. */
static int do_update(OfflineSource *s, Entry *e, const JsonValue *candidate, KubeStatus *st) {
        const JsonValue *meta = json_get(e->pub.value, "metadata");
        _cleanup_(json_doc_freep) JsonDoc *same = NULL, *doc = NULL;
        char rv[24];
        MetaOverride m = {
                .api_version = e->pub.kind->api_version,
                .kind = e->pub.kind->kind,
                .name = e->name,
                .namespace = e->namespace,
                .uid = json_get_string(meta, "uid"),
                .resource_version = json_get_string(meta, "resourceVersion"),
                .creation_timestamp = json_get_string(meta, "creationTimestamp"),
        };
        int r;

        r = with_meta(candidate, &m, &same);
        if (r < 0)
                return r;
        /* The API server does not store (or bump resourceVersion for) a write that changes nothing. */
        if (json_equal(json_doc_root(same), e->pub.value))
                return 0;
        m.resource_version = next_rv(s, rv);
        r = with_meta(json_doc_root(same), &m, &doc);
        if (r >= 0)
                r = check_decodes(s, e->pub.kind, e->name, json_doc_root(doc), st);
        if (r < 0) {
                s->last_rv--;
                return r;
        }
        entry_set_doc(e, TAKE_PTR(doc));
        e->pub.changed = true;
        s->changes++;
        return 1;
}

/* The part of candidate a write to the main resource or to status may change. */
static int apply_subresource_rules(const Entry *e, const char *subresource, const JsonValue *candidate,
                                   JsonDoc **ret) {
        const KubeKind *k = e->pub.kind;

        if (!subresource)
                /* status is only written through its subresource */
                return has_status_subresource(k)
                               ? replacing(candidate, "status", json_get(e->pub.value, "status"), ret)
                               : replacing(candidate, "status", json_get(candidate, "status"), ret);
        if (isempty(k->group))
                /* core kinds: everything but spec (labels, annotations too) */
                return replacing(candidate, "spec", json_get(e->pub.value, "spec"), ret);
        /* custom resources: only status */
        return replacing(e->pub.value, "status", json_get(candidate, "status"), ret);
}

static int rv_precondition(const Entry *e, const JsonValue *body, KubeStatus *st) {
        const char *want = json_get_string(json_get(body, "metadata"), "resourceVersion");
        const char *have = json_get_string(json_get(e->pub.value, "metadata"), "resourceVersion");
        if (!isempty(want) && !streq_ptr(want, have))
                return conflict(st, e->pub.kind, e->name);
        return 0;
}

/* A DELETE's body is a DeleteOptions; its preconditions (uid,
 * resourceVersion) fail with 409 Conflict as the API server's do. */
static int delete_preconditions(const Entry *e, const char *body, KubeStatus *st) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        _cleanup_free_ char *why = NULL;
        static const struct {
                const char *key, *label;
        } fields[] = { { "uid", "UID" }, { "resourceVersion", "ResourceVersion" } };
        const JsonValue *pre, *meta = json_get(e->pub.value, "metadata");
        const char *k;
        char qr[128];
        int r;

        if (!body)
                return 0;
        r = json_parse(body, strlen(body), NULL, &doc, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || json_type(json_doc_root(doc)) != JSON_OBJECT)
                return status_set(st, 400, "BadRequest", "the body of the request was in an unknown format: %s",
                                  why ? why : "not a JSON object");
        k = json_get_string(json_doc_root(doc), "kind");
        if (k && !streq(k, "DeleteOptions"))
                return status_set(st, 400, "BadRequest", "decoded object cannot be converted to DeleteOptions");
        pre = json_get(json_doc_root(doc), "preconditions");
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *want = json_get_string(pre, fields[i].key);
                const char *have = json_get_string(meta, fields[i].key);
                if (want && !streq_ptr(want, have))
                        return status_set(st, 409, "Conflict",
                                          "Operation cannot be fulfilled on %s \"%s\": Precondition failed: %s in "
                                          "precondition: %s, %s in object meta: %s",
                                          qualified_resource(e->pub.kind, qr, sizeof qr), e->name, fields[i].label,
                                          want, fields[i].label, strempty(have));
        }
        return 0;
}

/* Keeps the last state, marked, for the output. */
static int do_delete(OfflineSource *s, Entry *e, Entry **ret) {
        _cleanup_(json_doc_freep) JsonDoc *last = NULL;
        MetaOverride m = { .annotation_key = OFFLINE_DELETED_ANNOTATION, .annotation_value = "true" };
        int r;

        r = with_meta(e->pub.value, &m, &last);
        if (r < 0)
                return r;
        entry_set_doc(e, TAKE_PTR(last));
        e->pub.deleted = true;
        e->pub.changed = true;
        s->changes++;
        *ret = e;
        return 0;
}

static int apply_write(OfflineSource *s, PendingWrite *w, KubeStatus *st, Entry **ret) {
        const KubeKind *kind = w->kind;
        const char *namespace = kind->namespaced ? (isempty(w->namespace) ? "default" : w->namespace) : NULL;
        _cleanup_(json_doc_freep) JsonDoc *body = NULL, *candidate = NULL, *merged_doc = NULL;
        bool apply_patch = w->content_type && streq(w->content_type, "application/apply-patch+yaml");
        Entry *e = NULL;
        int r;

        *ret = NULL;
        if (w->subresource && (!streq(w->subresource, "status") || !has_status_subresource(kind)))
                return status_set(st, 404, "NotFound", "the server could not find the requested resource");

        if (w->name)
                e = store_get(s, kind, namespace, w->name);
        if (e && e->pub.deleted)
                e = NULL;
        if (streq(w->method, "GET")) {
                if (!e)
                        return not_found(st, kind, w->name);
                *ret = e;
                return 0;
        }
        if (streq(w->method, "DELETE")) {
                if (!e)
                        return not_found(st, kind, w->name);
                r = delete_preconditions(e, w->body, st);
                if (r < 0)
                        return r;
                return do_delete(s, e, ret);
        }
        if (w->body) {
                r = parse_body(w->body, kind, w->name, st, &body);
                if (r < 0)
                        return r;
        }

        if (streq(w->method, "POST")) {
                if (!body)
                        return status_set(st, 400, "BadRequest", "a create needs a body");
                return do_create(s, kind, namespace, json_doc_root(body), NULL, st, ret);
        }
        if (!body)
                return status_set(st, 400, "BadRequest", "an update needs a body");
        const JsonValue *b = json_doc_root(body);
        const char *body_name = json_get_string(json_get(b, "metadata"), "name");
        if (!isempty(body_name) && !streq(body_name, w->name))
                return status_set(st, 400, "BadRequest",
                                  "the name of the object (%s) does not match the name on the URL (%s)", body_name,
                                  w->name);
        if (!e) {
                /* server-side apply creates what does not exist yet */
                if (apply_patch && !w->subresource)
                        return do_create(s, kind, namespace, b, w->name, st, ret);
                return not_found(st, kind, w->name);
        }
        r = rv_precondition(e, b, st);
        if (r < 0)
                return r;

        if (streq(w->method, "PATCH")) {
                r = merged(e->pub.value, b, &merged_doc);
                if (r < 0)
                        return r;
                b = json_doc_root(merged_doc);
        } else if (!streq(w->method, "PUT"))
                return status_set(st, 405, "MethodNotAllowed", "method %s is not supported", w->method);

        r = apply_subresource_rules(e, w->subresource, b, &candidate);
        if (r < 0)
                return r;
        r = do_update(s, e, json_doc_root(candidate), st);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

static void pending_write_free(PendingWrite *w) {
        if (!w)
                return;
        free(w->method);
        free(w->namespace);
        free(w->name);
        free(w->subresource);
        free(w->content_type);
        free(w->body);
        free(w);
}

static int run_one(OfflineSource *s, PendingWrite *w) {
        _cleanup_(kube_object_unrefp) KubeObject *stored = NULL;
        KubeStatus st = {};
        Entry *e = NULL;
        int r;

        r = apply_write(s, w, &st, &e);
        if (r == -ENOMEM) {
                status_clear(&st);
                return r;
        }
        if (r >= 0 && e && streq(w->method, "GET"))
                (void) decode_entry(e, s->pool, &stored, NULL);
        else if (r >= 0 && e) {
                r = caches_update(s, e);
                if (r < 0)
                        log_debug_errno(r, "offline: updating caches for %s %s failed: %m", e->pub.kind->kind,
                                        e->name);
                r = 0;
                if (!e->pub.deleted)
                        (void) decode_entry(e, s->pool, &stored, NULL);
        }
        log_debug("offline: %s %s %s%s%s%s%s: %s", w->method, w->kind->kind, strempty(w->namespace),
                  w->namespace ? "/" : "", strempty(e ? e->name : w->name), w->subresource ? " " : "",
                  strempty(w->subresource), r < 0 ? strempty(st.message) : "ok");
        if (w->done)
                w->done(r < 0 ? r : 0, r < 0 ? &st : NULL, stored, w->userdata);
        status_clear(&st);
        return 0;
}

int source_offline_flush(Source *src) {
        OfflineSource *s = (OfflineSource *) src;
        int r = 0;

        /* Writes queued by the callbacks run in this flush too: the
         * caller asked for nothing to be pending afterwards. */
        while (s->head) {
                PendingWrite *w = s->head;
                s->head = w->next;
                if (!s->head)
                        s->tail = NULL;
                s->n_pending--;
                int k = run_one(s, w);
                pending_write_free(w);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

static int on_defer(sd_event_source *es, void *userdata) {
        OfflineSource *s = userdata;
        /* One write per dispatch: other event sources (the controllers'
         * queues) run in between, as responses would interleave. */
        PendingWrite *w = s->head;

        (void) es;
        if (!w)
                return 0;
        s->head = w->next;
        if (!s->head)
                s->tail = NULL;
        s->n_pending--;
        int r = run_one(s, w);
        pending_write_free(w);
        if (s->head)
                (void) sd_event_source_set_enabled(s->defer, SD_EVENT_ONESHOT);
        return r;
}

static int offline_write(Source *src, const char *method, const KubeKind *kind, const char *namespace,
                         const char *name, const char *subresource, const char *content_type, const char *body,
                         source_write_fn done, void *userdata) {
        OfflineSource *s = (OfflineSource *) src;
        PendingWrite *w;
        int r;

        w = new0(PendingWrite, 1);
        if (!w)
                return -ENOMEM;
        w->kind = kind;
        w->done = done;
        w->userdata = userdata;
        if (!(w->method = strdup(method)) || (namespace && !(w->namespace = strdup(namespace))) ||
            (name && !(w->name = strdup(name))) || (subresource && !(w->subresource = strdup(subresource))) ||
            (content_type && !(w->content_type = strdup(content_type))) || (body && !(w->body = strdup(body)))) {
                pending_write_free(w);
                return -ENOMEM;
        }
        if (s->tail)
                s->tail->next = w;
        else
                s->head = w;
        s->tail = w;
        s->n_pending++;

        if (!s->base.event)
                /* no loop: complete now (unit tests step it like this) */
                return source_offline_flush(src);
        if (!s->defer) {
                r = sd_event_add_defer(s->base.event, &s->defer, on_defer, s);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(s->defer, "offline-writes");
        }
        return sd_event_source_set_enabled(s->defer, SD_EVENT_ONESHOT);
}

static int offline_get(Source *src, const KubeKind *kind, const char *namespace, const char *name,
                       source_write_fn done, void *userdata) {
        if (!kind || isempty(name))
                return -EINVAL;
        /* Queued with the writes: answered from the loop, after every
         * write asked before it, as a consistent read would see them. */
        return offline_write(src, "GET", kind, namespace, name, NULL, NULL, NULL, done, userdata);
}

static void offline_cancel(Source *src, void *userdata) {
        OfflineSource *s = (OfflineSource *) src;
        PendingWrite **p = &s->head, *prev = NULL;

        while (*p) {
                PendingWrite *w = *p;
                if (w->userdata != userdata) {
                        prev = w;
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                if (s->tail == w)
                        s->tail = prev;
                s->n_pending--;
                pending_write_free(w);
        }
}

static void offline_free(Source *src) {
        OfflineSource *s = (OfflineSource *) src;

        while (s->head) {
                PendingWrite *w = s->head;
                s->head = w->next;
                pending_write_free(w);
        }
        sd_event_source_disable_unref(s->defer);
        for (size_t i = 0; i < s->n_caches; i++)
                offline_cache_free(s->caches[i]);
        free(s->caches);
        for (size_t i = 0; i < s->n_entries; i++)
                entry_free(s->entries[i]);
        free(s->entries);
        for (size_t i = 0; i < s->n_counters; i++)
                free(s->counters[i].key);
        free(s->counters);
        for (size_t i = 0; i < s->n_warnings; i++)
                free(s->warnings[i]);
        free(s->warnings);
        strpool_free(s->pool);
        sd_event_unref(s->base.event);
        free(s);
}

static const SourceOps offline_ops = {
        .name = "offline",
        .cache = offline_cache,
        .synced = offline_synced,
        .write = offline_write,
        .now = offline_now,
        .get = offline_get,
        .cache_release = offline_cache_release,
        .cancel = offline_cancel,
        .free = offline_free,
};

int source_offline_new(sd_event *event, const OfflineOptions *opts, Source **ret, char **ret_error) {
        _cleanup_(source_freep) Source *src = NULL;
        OfflineSource *s;
        int r;

        if (!opts || isempty(opts->dir))
                return -EINVAL;
        s = new0(OfflineSource, 1);
        if (!s)
                return -ENOMEM;
        s->base.ops = &offline_ops;
        s->base.event = event ? sd_event_ref(event) : NULL;
        src = &s->base;
        s->now = opts->now;
        /* creationTimestamp has whole seconds; keep load_time on one second for every object */
        s->load_time = (opts->now ? opts->now : now_usec(CLOCK_REALTIME)) / USEC_PER_SEC * USEC_PER_SEC;
        s->pool = strpool_new();
        if (!s->pool)
                return -ENOMEM;
        r = load_dir(s, opts->dir, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(src);
        return 0;
}

/* ---- readers ------------------------------------------------------------------- */

static OfflineSource *as_offline(Source *src) {
        return src && src->ops == &offline_ops ? (OfflineSource *) src : NULL;
}

int source_offline_foreach(Source *src, const KubeKind *kind, unsigned flags, offline_foreach_fn fn, void *userdata) {
        OfflineSource *s = as_offline(src);

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < s->n_entries; i++) {
                const Entry *e = s->entries[i];
                if (kind && e->pub.kind != kind)
                        continue;
                if ((flags & OFFLINE_CHANGED) && !e->pub.changed)
                        continue;
                if (!(flags & OFFLINE_CHANGED) && e->pub.deleted)
                        continue;
                int r = fn(&e->pub, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

const JsonValue *source_offline_get(Source *src, const KubeKind *kind, const char *namespace, const char *name) {
        OfflineSource *s = as_offline(src);
        Entry *e;

        if (!s)
                return NULL;
        e = store_get(s, kind, kind->namespaced ? namespace : NULL, name);
        return e && !e->pub.deleted ? e->pub.value : NULL;
}

size_t source_offline_pending(Source *src) {
        OfflineSource *s = as_offline(src);
        return s ? s->n_pending : 0;
}

uint64_t source_offline_changes(Source *src) {
        OfflineSource *s = as_offline(src);
        return s ? s->changes : 0;
}

size_t source_offline_warnings(Source *src, const char *const **ret) {
        OfflineSource *s = as_offline(src);
        if (!s)
                return 0;
        *ret = (const char *const *) s->warnings;
        return s->n_warnings;
}
