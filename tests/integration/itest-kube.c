/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest-kube.h"
#include "kubeconfig.h"
#include "yaml_doc.h"

int itest_kube_client(ITestEnv *e, sd_event *event, const char *path, KubeConfig **ret_config, KubeClient **ret) {
        _cleanup_(kube_config_freep) KubeConfig *config = NULL;
        _cleanup_free_ char *error = NULL;
        KubeClientOptions opts = { .user_agent = "berth-integration-test" };
        int r;

        if (!path)
                path = itest_env_get(e, "KUBECONFIG");
        if (!path)
                return -ENOENT;
        r = kube_config_load_file(path, NULL, &config, &error);
        if (r < 0) {
                fprintf(stderr, "itest: %s: %s\n", path, strempty(error));
                return r;
        }
        r = kube_client_new(event, config, &opts, ret);
        if (r < 0)
                return r;
        *ret_config = TAKE_PTR(config);
        return 0;
}

static void recorder_add(Recorder *r, const char *what, const KubeObject *o) {
        char key[512], *line;
        const char *v = r->label_key ? strmap_get(&o->meta.labels, r->label_key) : NULL;

        if (r->n >= RECORDER_MAX) {
                r->overflow = true;
                return;
        }
        kube_object_key(o, key, sizeof(key));
        if (v ? asprintf(&line, "%s %s %s=%s", what, key, r->label_key, v) < 0
              : asprintf(&line, "%s %s", what, key) < 0) {
                r->overflow = true;
                return;
        }
        r->lines[r->n++] = line;
}

static void on_add(KubeObject *o, void *userdata) {
        recorder_add(userdata, "add", o);
}

static void on_update(KubeObject *old_obj, KubeObject *new_obj, void *userdata) {
        (void) old_obj;
        recorder_add(userdata, "update", new_obj);
}

static void on_delete(KubeObject *o, void *userdata) {
        recorder_add(userdata, "delete", o);
}

void recorder_attach(Recorder *r, Cache *cache) {
        CacheHandlers h = { .on_add = on_add, .on_update = on_update, .on_delete = on_delete, .userdata = r };
        (void) cache_add_handlers(cache, &h);
}

void recorder_clear(Recorder *r) {
        for (size_t i = 0; i < r->n; i++)
                free(r->lines[i]);
        r->n = 0;
        r->overflow = false;
}

size_t recorder_count(const Recorder *r, const char *line) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += streq(r->lines[i], line);
        return n;
}

size_t recorder_count_prefix(const Recorder *r, const char *prefix) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += startswith(r->lines[i], prefix);
        return n;
}

void recorder_dump(const Recorder *r, const char *title) {
        fprintf(stderr, "%s (%zu handler calls%s):\n", title, r->n, r->overflow ? ", overflowed" : "");
        for (size_t i = 0; i < r->n; i++)
                fprintf(stderr, "  %s\n", r->lines[i]);
}

/* Kinds whose resource is not lowercase(kind) + "s", or that are cluster-scoped. */
static const struct {
        const char *kind, *plural;
        bool cluster;
} object_kinds[] = {
        { "Namespace", "namespaces", true },
        { "Node", "nodes", true },
        { "ClusterRole", "clusterroles", true },
        { "ClusterRoleBinding", "clusterrolebindings", true },
        { "CustomResourceDefinition", "customresourcedefinitions", true },
        { "PriorityClass", "priorityclasses", true },
        { "Endpoints", "endpoints", false },
        { "NetworkPolicy", "networkpolicies", false },
};

char *itest_object_path(const JsonValue *obj) {
        const JsonValue *meta = json_get(obj, "metadata");
        const char *api_version = json_get_string(obj, "apiVersion"), *kind = json_get_string(obj, "kind");
        const char *name = json_get_string(meta, "name"), *ns = json_get_string(meta, "namespace");
        _cleanup_free_ char *plural = NULL;
        bool cluster = false;
        char *path;

        if (!api_version || !kind || !name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(object_kinds); i++)
                if (streq(object_kinds[i].kind, kind)) {
                        plural = strdup(object_kinds[i].plural);
                        cluster = object_kinds[i].cluster;
                }
        if (!plural) {
                if (asprintf(&plural, "%ss", kind) < 0)
                        return NULL;
                for (char *p = plural; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
        }
        if (asprintf(&path, "/%s/%s%s%s/%s/%s", strchr(api_version, '/') ? "apis" : "api", api_version,
                     cluster ? "" : "/namespaces/", cluster ? "" : (ns ?: "default"), plural, name) < 0)
                return NULL;
        return path;
}

int itest_apply_file(ITestEnv *e, const char *file, const char *field_manager, bool dry_run, size_t *ret_n) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        JsonDoc **docs = NULL;
        size_t len = 0, n = 0;
        FILE *f;
        int r;

        f = fopen(file, "re");
        if (!f)
                return -errno;
        r = getdelim(&text, &len, '\0', f) < 0 ? -EIO : 0;
        fclose(f);
        if (r < 0)
                return r;
        r = yaml_parse_documents(text, strlen(text), file, &docs, &n, &error);
        if (r < 0) {
                fprintf(stderr, "itest: %s\n", strempty(error));
                return r;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                const JsonValue *obj = json_doc_root(docs[i]);
                _cleanup_free_ char *path = itest_object_path(obj), *url = NULL, *body = NULL, *answer = NULL;
                _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
                size_t body_len;
                long code = 0;

                if (!path) {
                        fprintf(stderr, "itest: %s: document %zu: no apiVersion, kind or metadata.name\n", file, i + 1);
                        r = -EINVAL;
                        break;
                }
                if (!g || json_write(g, obj) < 0 || json_gen_take(g, &body, &body_len) < 0 ||
                    asprintf(&url, "%s?fieldManager=%s&fieldValidation=Strict%s", path, field_manager,
                             dry_run ? "&dryRun=All" : "") < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = itest_api(e, NULL, "PATCH", url, "application/apply-patch+yaml", body, &code, &answer);
                if (r >= 0 && (code < 200 || code > 299)) {
                        fprintf(stderr, "itest: %s: PATCH %s: %ld %s\n", file, url, code, strempty(answer));
                        r = -EIO;
                }
        }
        yaml_docs_free(docs, n);
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = n;
        return 0;
}

int itest_serviceaccount_token(ITestEnv *e, const char *ns, const char *sa, char **ret_token) {
        _cleanup_free_ char *path = NULL, *answer = NULL;
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        const char *token;
        int r;

        if (asprintf(&path, "/api/v1/namespaces/%s/serviceaccounts/%s/token", ns, sa) < 0)
                return -ENOMEM;
        r = itest_api_ok(e, "POST", path,
                         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
                         "\"spec\":{\"expirationSeconds\":3600}}",
                         &answer);
        if (r < 0)
                return r;
        doc = itest_parse_json(answer);
        if (!doc)
                return -EBADMSG;
        token = json_get_string(json_get(json_doc_root(doc), "status"), "token");
        if (isempty(token))
                return -EBADMSG;
        *ret_token = strdup(token);
        return *ret_token ? 0 : -ENOMEM;
}
