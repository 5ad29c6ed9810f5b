/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache.h"
#include "offline_output.h"
#include "source.h"
#include "source_offline.h"

#define NOW_TEXT "2024-05-01T10:00:00Z"
#define NOW (UINT64_C(1714557600) * USEC_PER_SEC)

static const char *const input_services =
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        "  name: web\n"
        "  labels: {app: web, tier: front}\n"
        "spec:\n"
        "  selector: {app: web}\n"
        "  clusterIP: 10.96.0.10\n"
        "  ports:\n"
        "  - {name: http, port: 80, targetPort: 8080}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        "  name: lb\n"
        "  namespace: shop\n"
        "  uid: 11111111-2222-3333-4444-555555555555\n"
        "  resourceVersion: \"500\"\n"
        "  creationTimestamp: \"2023-01-01T00:00:00Z\"\n"
        "  labels: {app: lb}\n"
        "spec:\n"
        "  type: LoadBalancer\n"
        "  clusterIP: 10.96.0.20\n"
        "  ports:\n"
        "  - {port: 443, nodePort: 30443, protocol: TCP}\n";

static const char *const input_nodes =
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels: {topology.kubernetes.io/zone: z1}\n"
        "---\n"
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";

typedef struct Fixture {
        char dir[64];
        Source *source;
} Fixture;

static void write_file(const char *dir, const char *name, const char *content) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static int setup(void **state) {
        Fixture *fx = calloc(1, sizeof *fx);
        char *err = NULL;
        OfflineOptions opts = { .now = NOW };

        strcpy(fx->dir, "/tmp/test-source-offline-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        write_file(fx->dir, "services.yaml", input_services);
        write_file(fx->dir, "nodes.yaml", input_nodes);
        opts.dir = fx->dir;
        assert_int_equal(source_offline_new(NULL, &opts, &fx->source, &err), 0);
        assert_null(err);
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        char cmd[128];

        source_free(fx->source);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(fx);
        return 0;
}

static const KubeKind *kind(const char *api_version, const char *k) {
        const KubeKind *kk = kube_kind_find(api_version, k);
        assert_non_null(kk);
        return kk;
}

static void test_uuid_and_hash(void **state) {
        (void) state;
        char buf[37], hex[65];

        /* reference values: Python's uuid.uuid5(uuid.NAMESPACE_URL, ...) and hashlib.sha256 */
        assert_int_equal(uuid_v5_url("Service/default/web", buf), 0);
        assert_string_equal(buf, "07b9e16b-160b-596c-8e19-f72aebf32ec9");
        assert_int_equal(uuid_v5_url("http://python.org/", buf), 0);
        assert_string_equal(buf, "4c565f0d-3f5a-5890-b41b-20cf47701c5e");
        assert_int_equal(sha256_hex_prefix("default/web/IPv4/0", 5, hex), 0);
        assert_string_equal(hex, "3e27e");
        assert_int_equal(sha256_hex_prefix("abc", 64, hex), 0);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_input_defaults(void **state) {
        Fixture *fx = *state;
        const KubeKind *svc = kind("v1", "Service");
        const JsonValue *web = source_offline_get(fx->source, svc, "default", "web");
        const JsonValue *lb = source_offline_get(fx->source, svc, "shop", "lb");
        const JsonValue *node = source_offline_get(fx->source, kind("v1", "Node"), NULL, "node-a");
        const JsonValue *meta;
        const char *const *warnings;

        assert_non_null(web);
        meta = json_get(web, "metadata");
        assert_string_equal(json_get_string(meta, "namespace"), "default");
        assert_string_equal(json_get_string(meta, "uid"), "07b9e16b-160b-596c-8e19-f72aebf32ec9");
        assert_string_equal(json_get_string(meta, "creationTimestamp"), NOW_TEXT);
        /* assigned resourceVersions come after the largest one in the input */
        assert_string_equal(json_get_string(meta, "resourceVersion"), "502");
        assert_string_equal(json_get_string(json_get(meta, "labels"), "tier"), "front");

        /* given values are kept */
        meta = json_get(lb, "metadata");
        assert_string_equal(json_get_string(meta, "uid"), "11111111-2222-3333-4444-555555555555");
        assert_string_equal(json_get_string(meta, "resourceVersion"), "500");
        assert_string_equal(json_get_string(meta, "creationTimestamp"), "2023-01-01T00:00:00Z");

        /* cluster-scoped: no namespace; uid from "Node//node-a" */
        meta = json_get(node, "metadata");
        assert_null(json_get(meta, "namespace"));
        assert_string_equal(json_get_string(meta, "resourceVersion"), "501");

        assert_int_equal(source_offline_warnings(fx->source, &warnings), 1);
        assert_string_equal(warnings[0], "ignoring unknown kind Widget (apiVersion example.com/v1)");
        assert_int_equal(source_now(fx->source), NOW);
        assert_true(source_synced(fx->source));
}

static int count_one(KubeObject *o, void *userdata) {
        (void) o;
        (*(size_t *) userdata)++;
        return 0;
}

static size_t cache_count(Cache *c) {
        size_t n = 0;
        assert_int_equal(cache_foreach(c, NULL, count_one, &n), 0);
        return n;
}

static void test_caches_and_filters(void **state) {
        Fixture *fx = *state;
        const KubeKind *svc = kind("v1", "Service");
        Cache *all, *again, *shop, *front, *notlb, *byname, *in;

        assert_int_equal(source_cache(fx->source, svc, NULL, &all), 0);
        assert_true(cache_synced(all));
        assert_int_equal(cache_size(all), 2);
        assert_non_null(cache_get(all, "default", "web"));
        /* the same kind and filter share one cache */
        assert_int_equal(source_cache(fx->source, svc, &(SourceFilter) {}, &again), 0);
        assert_ptr_equal(all, again);

        assert_int_equal(source_cache(fx->source, svc, &(SourceFilter) { .namespace = "shop" }, &shop), 0);
        assert_int_equal(cache_count(shop), 1);
        assert_non_null(cache_get(shop, "shop", "lb"));

        assert_int_equal(source_cache(fx->source, svc, &(SourceFilter) { .label_selector = "tier=front" }, &front), 0);
        assert_int_equal(cache_size(front), 1);
        assert_non_null(cache_get(front, "default", "web"));
        assert_int_equal(source_cache(fx->source, svc, &(SourceFilter) { .label_selector = "app!=lb,!missing" },
                                      &notlb), 0);
        assert_int_equal(cache_size(notlb), 1);
        assert_int_equal(source_cache(fx->source, svc, &(SourceFilter) { .label_selector = "app in (lb, x)" }, &in), 0);
        assert_int_equal(cache_size(in), 1);
        assert_non_null(cache_get(in, "shop", "lb"));

        assert_int_equal(source_cache(fx->source, svc,
                                      &(SourceFilter) { .field_selector = "spec.type=LoadBalancer" }, &byname), 0);
        assert_int_equal(cache_size(byname), 1);
        assert_non_null(cache_get(byname, "shop", "lb"));
}

typedef struct Result {
        int calls;
        int error;
        long http_code;
        char reason[64];
        char name[128];
        char rv[32];
} Result;

static void on_done(int error, const KubeStatus *status, KubeObject *stored, void *userdata) {
        Result *r = userdata;
        r->calls++;
        r->error = error;
        r->http_code = status ? status->http_code : 0;
        snprintf(r->reason, sizeof r->reason, "%s", status && status->reason ? status->reason : "");
        snprintf(r->name, sizeof r->name, "%s", stored ? stored->meta.name : "");
        snprintf(r->rv, sizeof r->rv, "%s", stored && stored->meta.resource_version ? stored->meta.resource_version : "");
}

static const char *const slice_body =
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
        "\"metadata\":{\"generateName\":\"web-\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
        "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}}],"
        "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}";

static void test_create_generate_name(void **state) {
        Fixture *fx = *state;
        const KubeKind *slice = kind("discovery.k8s.io/v1", "EndpointSlice");
        Result r1 = {}, r2 = {}, r3 = {};
        char hex[6], want[32];
        Cache *c;

        assert_int_equal(source_cache(fx->source, slice, NULL, &c), 0);
        assert_int_equal(source_create(fx->source, slice, "default", slice_body, on_done, &r1), 0);
        assert_int_equal(r1.calls, 1);
        assert_int_equal(r1.error, 0);
        assert_int_equal(sha256_hex_prefix("default/web/IPv4/0", 5, hex), 0);
        snprintf(want, sizeof want, "web-%s", hex);
        assert_string_equal(r1.name, want);
        assert_string_equal(r1.rv, "503");

        assert_int_equal(source_create(fx->source, slice, "default", slice_body, on_done, &r2), 0);
        assert_int_equal(sha256_hex_prefix("default/web/IPv4/1", 5, hex), 0);
        snprintf(want, sizeof want, "web-%s", hex);
        assert_string_equal(r2.name, want);

        /* the cache saw both, with the server-side fields */
        assert_int_equal(cache_size(c), 2);
        KubeObject *o = cache_get(c, "default", r1.name);
        assert_non_null(o);
        char uid[37], uid_name[160];
        snprintf(uid_name, sizeof uid_name, "EndpointSlice/default/%s", r1.name);
        assert_int_equal(uuid_v5_url(uid_name, uid), 0);
        assert_string_equal(o->meta.uid, uid);
        assert_int_equal(o->meta.creation_timestamp, NOW);

        /* a name that exists */
        char body[1024];
        snprintf(body, sizeof body,
                 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
                 "\"addressType\":\"IPv4\",\"endpoints\":[]}", r1.name);
        assert_int_equal(source_create(fx->source, slice, "default", body, on_done, &r3), 0);
        assert_int_equal(r3.error, -EEXIST);
        assert_int_equal(r3.http_code, 409);
        assert_string_equal(r3.reason, "AlreadyExists");
        assert_int_equal(source_offline_changes(fx->source), 2);
}

static void test_update_semantics(void **state) {
        Fixture *fx = *state;
        const KubeKind *svc = kind("v1", "Service");
        Result r = {};
        const JsonValue *lb;

        /* merge patch of status: only status changes; resourceVersion bumps */
        assert_int_equal(source_merge_patch(fx->source, svc, "shop", "lb", "status",
                                            "{\"spec\":{\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":"
                                            "{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}",
                                            on_done, &r), 0);
        assert_int_equal(r.error, 0);
        lb = source_offline_get(fx->source, svc, "shop", "lb");
        assert_string_equal(json_get_string(json_get(lb, "spec"), "type"), "LoadBalancer");
        assert_string_equal(json_get_string(json_array_at(json_get_path(lb, "status", "loadBalancer", "ingress"), 0),
                                            "ip"), "192.0.2.10");
        assert_string_equal(r.rv, "503");
        /* uid and creationTimestamp survive */
        assert_string_equal(json_get_string(json_get(lb, "metadata"), "uid"), "11111111-2222-3333-4444-555555555555");

        /* the same patch again changes nothing: no new resourceVersion, no change counted */
        uint64_t changes = source_offline_changes(fx->source);
        assert_int_equal(source_merge_patch(fx->source, svc, "shop", "lb", "status",
                                            "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}",
                                            on_done, &r), 0);
        assert_int_equal(r.error, 0);
        assert_string_equal(r.rv, "503");
        assert_int_equal(source_offline_changes(fx->source), changes);

        /* a merge patch of the main resource cannot touch status */
        assert_int_equal(source_merge_patch(fx->source, svc, "shop", "lb", NULL,
                                            "{\"metadata\":{\"annotations\":{\"a\":\"b\"}},\"status\":null}",
                                            on_done, &r), 0);
        assert_int_equal(r.error, 0);
        lb = source_offline_get(fx->source, svc, "shop", "lb");
        assert_string_equal(json_get_string(json_get_path(lb, "metadata", "annotations"), "a"), "b");
        assert_non_null(json_get_path(lb, "status", "loadBalancer"));

        /* a stale resourceVersion conflicts */
        assert_int_equal(source_replace(fx->source, svc, "shop", "lb",
                                        "{\"metadata\":{\"name\":\"lb\",\"resourceVersion\":\"500\"},\"spec\":{}}",
                                        on_done, &r), 0);
        assert_int_equal(r.error, -ESTALE);
        assert_int_equal(r.http_code, 409);
        assert_string_equal(r.reason, "Conflict");

        /* missing objects */
        assert_int_equal(source_replace_status(fx->source, svc, "shop", "nope", "{\"status\":{}}", on_done, &r), 0);
        assert_int_equal(r.error, -ENOENT);
        assert_int_equal(r.http_code, 404);
        assert_int_equal(source_delete(fx->source, svc, "shop", "nope", on_done, &r), 0);
        assert_int_equal(r.error, -ENOENT);

        /* what the decoder rejects is refused like the API server's validation */
        assert_int_equal(source_merge_patch(fx->source, svc, "shop", "lb", NULL,
                                            "{\"spec\":{\"externalTrafficPolicy\":\"Sometimes\"}}", on_done, &r), 0);
        assert_int_equal(r.error, -EINVAL);
        assert_int_equal(r.http_code, 422);
}

static void test_delete_and_output(void **state) {
        Fixture *fx = *state;
        const KubeKind *svc = kind("v1", "Service");
        Result r = {};
        Cache *c;
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        assert_int_equal(source_cache(fx->source, svc, NULL, &c), 0);
        assert_int_equal(source_delete(fx->source, svc, "default", "web", on_done, &r), 0);
        assert_int_equal(r.error, 0);
        assert_null(cache_get(c, "default", "web"));
        assert_null(source_offline_get(fx->source, svc, "default", "web"));

        f = open_memstream(&out, &len);
        assert_int_equal(offline_output_json(fx->source, f), 0);
        fclose(f);
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        assert_int_equal(json_parse(out, len, NULL, &doc, NULL), 0);
        const JsonValue *items = json_get(json_doc_root(doc), "items");
        assert_string_equal(json_get_string(json_doc_root(doc), "kind"), "List");
        /* only what writes touched: the untouched Service lb and the Node are not listed */
        assert_int_equal(json_array_len(items), 1);
        const JsonValue *meta = json_get(json_array_at(items, 0), "metadata");
        assert_string_equal(json_get_string(meta, "name"), "web");
        assert_string_equal(json_get_string(json_get(meta, "annotations"), "berth.io/deleted"), "true");
        free(out);

        /* and the table still lists the remaining Service */
        out = NULL;
        f = open_memstream(&out, &len);
        assert_int_equal(offline_output_table(fx->source, NULL, f), 0);
        fclose(f);
        assert_non_null(strstr(out, "NAMESPACE"));
        assert_non_null(strstr(out, "443:30443/TCP"));
        assert_non_null(strstr(out, "<pending>"));
        assert_null(strstr(out, "\ndefault "));
        free(out);
}

static void test_async_with_loop(void **state) {
        Fixture *fx = *state;
        const KubeKind *svc = kind("v1", "Service");
        _cleanup_(source_freep) Source *s = NULL;
        sd_event *e = NULL;
        Result r = {};
        char *err = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(source_offline_new(e, &(OfflineOptions) { .dir = fx->dir, .now = NOW }, &s, &err), 0);
        assert_int_equal(source_merge_patch(s, svc, "default", "web", NULL, "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}",
                                            on_done, &r), 0);
        /* completion comes from the loop, never inside the call */
        assert_int_equal(r.calls, 0);
        assert_int_equal(source_offline_pending(s), 1);
        while (source_offline_pending(s) > 0)
                assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.error, 0);
        s = source_free(s);
        sd_event_unref(e);
}

static char *run_output(const char *dir, OutputFormat fmt) {
        Source *s = NULL;
        char *err = NULL, *out = NULL;
        size_t len = 0;
        Result r = {};
        FILE *f;

        assert_int_equal(source_offline_new(NULL, &(OfflineOptions) { .dir = dir, .now = NOW }, &s, &err), 0);
        assert_int_equal(source_create(s, kind("discovery.k8s.io/v1", "EndpointSlice"), "default", slice_body,
                                       on_done, &r), 0);
        assert_int_equal(source_merge_patch(s, kind("v1", "Service"), "shop", "lb", "status",
                                            "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}",
                                            on_done, &r), 0);
        f = open_memstream(&out, &len);
        assert_int_equal(offline_output_print(s, fmt, NULL, f), 0);
        fclose(f);
        source_free(s);
        return out;
}

static void test_determinism(void **state) {
        Fixture *fx = *state;

        for (OutputFormat fmt = OUTPUT_JSON; fmt <= OUTPUT_TABLE; fmt++) {
                char *a = run_output(fx->dir, fmt), *b = run_output(fx->dir, fmt);
                assert_string_equal(a, b);
                if (fmt == OUTPUT_JSON) {
                        /* sorted by (apiVersion, kind, namespace, name): discovery.k8s.io before v1 */
                        char *slice = strstr(a, "EndpointSlice"), *service = strstr(a, "\"Service\"");
                        assert_non_null(slice);
                        assert_non_null(service);
                        assert_true(slice < service);
                        assert_non_null(strstr(a, "\"creationTimestamp\": \"" NOW_TEXT "\""));
                }
                if (fmt == OUTPUT_YAML) {
                        assert_true(startswith(a, "---\napiVersion: discovery.k8s.io/v1\n"));
                        /* a string that looks like a number stays a string */
                        assert_non_null(strstr(a, "resourceVersion: \"503\""));
                }
                if (fmt == OUTPUT_TABLE)
                        assert_non_null(strstr(a, "192.0.2.10"));
                free(a);
                free(b);
        }
}

static void test_load_error_names_object(void **state) {
        (void) state;
        char dir[] = "/tmp/test-source-offline-err-XXXXXX";
        Source *s = NULL;
        char *err = NULL, want[256], cmd[128];

        assert_non_null(mkdtemp(dir));
        write_file(dir, "a.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n---\n"
                                  "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
                                  "spec: {externalTrafficPolicy: Sometimes}\n");
        assert_int_equal(source_offline_new(NULL, &(OfflineOptions) { .dir = dir, .now = NOW }, &s, &err), -EINVAL);
        assert_null(s);
        snprintf(want, sizeof want, "%s/a.yaml: document 2, line 5: Service default/s: spec.externalTrafficPolicy", dir);
        if (!startswith(err, want))
                fail_msg("got '%s'", err);
        free(err);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uuid_and_hash),
                cmocka_unit_test_setup_teardown(test_input_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_caches_and_filters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_generate_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_update_semantics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete_and_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_async_with_loop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
                cmocka_unit_test(test_load_error_names_object),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
