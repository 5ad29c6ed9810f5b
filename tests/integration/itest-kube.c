/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest-kube.h"
#include "kubeconfig.h"

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
