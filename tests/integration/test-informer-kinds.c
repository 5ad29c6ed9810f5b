/* SPDX-License-Identifier: Apache-2.0 */
/* List + watch of every kind berth uses, against the real apiserver: the
 * paged list fills the cache with objects that decode, and each change
 * (create, label patch, delete) reaches the handlers exactly once. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "endpoints.h"
#include "endpointslice.h"
#include "event.h"
#include "informer.h"
#include "ipaddresspool.h"
#include "itest-kube.h"
#include "itest.h"
#include "l2advertisement.h"
#include "lease_object.h"
#include "namespace.h"
#include "node.h"
#include "pod.h"
#include "service.h"

typedef struct Fixture {
        ITestEnv *env;
        sd_event *event;
        KubeConfig *config;
        KubeClient *client;
        char *ns;     /* a namespace of this run */
        char *run;    /* value of the label berth-test on every object of this run */
} Fixture;

typedef struct KindCase {
        const KubeKind *kind;
        const char *path;  /* collection; {ns} = namespace */
        const char *body;  /* {name}, {run} (the run's label value), {ns} */
        void (*check)(const KubeObject *o);
        bool finalize;     /* namespaces: DELETE leaves them Terminating until finalized */
} KindCase;

static void check_namespace(const KubeObject *o) {
        assert_false(NAMESPACE(o)->terminating);
}

static void check_node(const KubeObject *o) {
        assert_true(NODE(o)->unschedulable);
}

static void check_pod(const KubeObject *o) {
        const Pod *p = POD(o);
        assert_int_equal(p->n_ports, 1);
        assert_int_equal(p->ports[0].port, 8080);
        assert_string_equal(p->ports[0].name, "http");
        assert_string_equal(p->ports[0].protocol, "TCP");
        assert_null(p->node_name);
}

static void check_service(const KubeObject *o) {
        const Service *s = SERVICE(o);
        assert_int_equal(s->type, SERVICE_TYPE_CLUSTER_IP);
        assert_non_null(s->cluster_ip);
        assert_true(startswith(s->cluster_ip, "10.96.0."));
        assert_int_equal(s->n_ports, 1);
        assert_int_equal(s->ports[0].port, 80);
        assert_false(s->ports[0].target_port.is_string);
        assert_int_equal(s->ports[0].target_port.num, 8080);
        assert_string_equal(strmap_get(&s->selector, "app"), "x");
}

static void check_endpoints(const KubeObject *o) {
        const Endpoints *e = ENDPOINTS(o);
        assert_int_equal(e->n_subsets, 1);
        assert_int_equal(e->subsets[0].n_addresses, 1);
        assert_string_equal(e->subsets[0].addresses[0].ip, "10.1.0.1");
        assert_int_equal(e->subsets[0].n_ports, 1);
        assert_int_equal(e->subsets[0].ports[0].port, 8080);
}

static void check_endpointslice(const KubeObject *o) {
        const EndpointSlice *s = ENDPOINTSLICE(o);
        assert_string_equal(s->address_type, "IPv4");
        assert_int_equal(s->n_endpoints, 1);
        assert_int_equal(s->endpoints[0].addresses.n, 1);
        assert_string_equal(s->endpoints[0].addresses.items[0], "10.1.0.2");
        assert_int_equal(s->n_ports, 1);
        assert_int_equal(s->ports[0].port, 8080);
}

static void check_lease(const KubeObject *o) {
        const Lease *l = LEASE(o);
        assert_string_equal(l->holder_identity, "holder-a");
        assert_int_equal(l->lease_duration_seconds, 15);
}

static void check_event(const KubeObject *o) {
        const Event *e = EVENT(o);
        assert_string_equal(e->reason, "Tested");
        assert_string_equal(e->type, "Normal");
        assert_string_equal(e->reporting_controller, "berth.io/test");
        assert_string_equal(e->action, "Testing");
        assert_true(e->event_time > 0);
}

static void check_ipaddresspool(const KubeObject *o) {
        const IPAddressPool *p = IPADDRESSPOOL(o);
        assert_int_equal(p->addresses.n, 2);
        assert_string_equal(p->addresses.items[0], "192.0.2.0/28");
        assert_string_equal(p->addresses.items[1], "2001:db8::10-2001:db8::1f");
        /* Defaults come from the CRD schema, written by the apiserver. */
        assert_true(p->auto_assign);
        assert_false(p->avoid_buggy_ips);
        assert_true(p->has_service_allocation);
        assert_int_equal(p->priority, 5);
        assert_int_equal(p->namespaces.n, 1);
}

static void check_l2advertisement(const KubeObject *o) {
        const L2Advertisement *a = L2ADVERTISEMENT(o);
        assert_int_equal(a->ip_address_pools.n, 1);
        assert_string_equal(a->ip_address_pools.items[0], "pool-a");
        assert_int_equal(a->interfaces.n, 1);
        assert_string_equal(a->interfaces.items[0], "eth0");
}

#define LABELS "\"labels\":{\"berth-test\":\"{run}\"}"

static const KindCase cases[] = {
        { &kube_kind_namespace, "/api/v1/namespaces", "{\"metadata\":{\"name\":\"{name}\"," LABELS "}}",
          check_namespace, true },
        { &kube_kind_node, "/api/v1/nodes",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"spec\":{\"unschedulable\":true}}", check_node, false },
        { &kube_kind_pod, "/api/v1/namespaces/{ns}/pods",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\","
          "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]}}",
          check_pod, false },
        { &kube_kind_service, "/api/v1/namespaces/{ns}/services",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"spec\":{\"selector\":{\"app\":\"x\"},"
          "\"ports\":[{\"port\":80,\"targetPort\":8080}]}}",
          check_service, false },
        { &kube_kind_endpoints, "/api/v1/namespaces/{ns}/endpoints",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.0.1\"}],"
          "\"ports\":[{\"port\":8080}]}]}",
          check_endpoints, false },
        { &kube_kind_endpointslice, "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"addressType\":\"IPv4\","
          "\"endpoints\":[{\"addresses\":[\"10.1.0.2\"]}],\"ports\":[{\"port\":8080}]}",
          check_endpointslice, false },
        { &kube_kind_lease, "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"spec\":{\"holderIdentity\":\"holder-a\","
          "\"leaseDurationSeconds\":15}}",
          check_lease, false },
        { &kube_kind_event, "/apis/events.k8s.io/v1/namespaces/{ns}/events",
          "{\"metadata\":{\"name\":\"{name}\"," LABELS "},\"eventTime\":\"2024-01-02T03:04:05.000000Z\","
          "\"reportingController\":\"berth.io/test\",\"reportingInstance\":\"test-1\",\"action\":\"Testing\","
          "\"reason\":\"Tested\",\"type\":\"Normal\",\"note\":\"n\",\"regarding\":{\"kind\":\"Pod\","
          "\"namespace\":\"{ns}\",\"name\":\"p\",\"apiVersion\":\"v1\"}}",
          check_event, false },
        { &kube_kind_ipaddresspool, "/apis/metallb.io/v1beta1/namespaces/{ns}/ipaddresspools",
          "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"IPAddressPool\",\"metadata\":{\"name\":\"{name}\"," LABELS
          "},\"spec\":{\"addresses\":[\"192.0.2.0/28\",\"2001:db8::10-2001:db8::1f\"],"
          "\"serviceAllocation\":{\"priority\":5,\"namespaces\":[\"{ns}\"]}}}",
          check_ipaddresspool, false },
        { &kube_kind_l2advertisement, "/apis/metallb.io/v1beta1/namespaces/{ns}/l2advertisements",
          "{\"apiVersion\":\"metallb.io/v1beta1\",\"kind\":\"L2Advertisement\",\"metadata\":{\"name\":\"{name}\","
          LABELS "},\"spec\":{\"ipAddressPools\":[\"pool-a\"],\"interfaces\":[\"eth0\"]}}",
          check_l2advertisement, false },
};

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        _cleanup_free_ char *body = NULL, *crds = NULL, *pools = NULL, *l2 = NULL, *path = NULL;

        if (!f || itest_env_load(&f->env) < 0 || sd_event_new(&f->event) < 0 ||
            itest_kube_client(f->env, f->event, NULL, &f->config, &f->client) < 0)
                return -1;
        f->ns = itest_unique_name(f->env, "kinds");
        f->run = itest_unique_name(f->env, "run");
        if (!f->ns || !f->run || asprintf(&body, "{\"metadata\":{\"name\":\"%s\"}}", f->ns) < 0 ||
            itest_api_ok(f->env, "POST", "/api/v1/namespaces", body, NULL) < 0)
                return -1;

        /* The MetalLB CRDs berth ships. */
        pools = itest_srcpath("examples/manifests/crds/ipaddresspools.metallb.io.yaml");
        l2 = itest_srcpath("examples/manifests/crds/l2advertisements.metallb.io.yaml");
        crds = strdup("/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
        if (!pools || !l2 || !crds || itest_create_file(f->env, crds, pools) < 0 ||
            itest_create_file(f->env, crds, l2) < 0)
                return -1;
        if (asprintf(&path, "/apis/metallb.io/v1beta1/namespaces/%s/l2advertisements", f->ns) < 0 ||
            itest_wait_path(f->env, path, 30 * USEC_PER_SEC) < 0)
                return -1;
        free(path);
        path = NULL;
        if (asprintf(&path, "/apis/metallb.io/v1beta1/namespaces/%s/ipaddresspools", f->ns) < 0 ||
            itest_wait_path(f->env, path, 30 * USEC_PER_SEC) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        kube_client_free(f->client);
        kube_config_free(f->config);
        sd_event_unref(f->event);
        itest_env_free(f->env);
        free(f->ns);
        free(f->run);
        free(f);
        return 0;
}

/* Expands {name}, {run} and {ns} in a template of the table above.
 * (Not printf: positional arguments with gaps abort under _FORTIFY_SOURCE.) */
static char *format_case(const char *template, const char *name, const Fixture *f) {
        const struct {
                const char *token, *value;
        } vars[] = { { "{name}", name }, { "{run}", f->run }, { "{ns}", f->ns } };
        size_t cap = strlen(template) + 1, len = 0;
        char *out;

        for (size_t v = 0; v < ELEMENTSOF(vars); v++)
                for (const char *p = template; (p = strstr(p, vars[v].token)); p++)
                        cap += strlen(vars[v].value);
        out = malloc(cap);
        if (!out)
                return NULL;
        for (const char *p = template; *p;) {
                size_t v;
                for (v = 0; v < ELEMENTSOF(vars); v++)
                        if (startswith(p, vars[v].token))
                                break;
                if (v < ELEMENTSOF(vars)) {
                        len += (size_t) sprintf(out + len, "%s", vars[v].value);
                        p += strlen(vars[v].token);
                } else
                        out[len++] = *p++;
        }
        out[len] = 0;
        return out;
}

static char *object_path(const KindCase *c, const Fixture *f, const char *name) {
        _cleanup_free_ char *coll = format_case(c->path, "", f);
        char *p;

        assert_non_null(coll);
        assert_int_equal(asprintf(&p, "%s/%s", coll, name) > 0, 1);
        return p;
}

static void create_object(const KindCase *c, const Fixture *f, const char *name) {
        _cleanup_free_ char *coll = format_case(c->path, name, f), *body = format_case(c->body, name, f);

        assert_non_null(coll);
        assert_non_null(body);
        assert_int_equal(itest_api_ok(f->env, "POST", coll, body, NULL), 0);
}

typedef struct Wait {
        Recorder *rec;
        const char *line;
        Informer *informer;
} Wait;

static bool line_seen(void *userdata) {
        Wait *w = userdata;
        return recorder_count(w->rec, w->line) > 0;
}

static bool informer_is_synced(void *userdata) {
        return informer_synced(((Wait *) userdata)->informer);
}

static void wait_line(Fixture *f, Recorder *rec, const char *line) {
        Wait w = { .rec = rec, .line = line };
        if (itest_run_until(f->event, line_seen, &w, 20 * USEC_PER_SEC) < 0) {
                recorder_dump(rec, line);
                fail_msg("no handler call \"%s\" within 20 s", line);
        }
}

static void run_case(Fixture *f, const KindCase *c) {
        _cleanup_(cache_freep) Cache *cache = NULL;
        _cleanup_(informer_freep) Informer *informer = NULL;
        _cleanup_free_ char *selector = NULL, *pre[3] = {}, *x = NULL, *x_key = NULL, *line = NULL, *path = NULL;
        InformerOptions opts = { .page_limit = 2 };
        SourceFilter filter = {};
        Recorder rec = { .label_key = "step" };
        InformerStats st;

        fprintf(stderr, "-- %s\n", c->kind->kind);
        assert_true(asprintf(&selector, "berth-test=%s", f->run) > 0);
        filter.namespace = c->kind->namespaced ? f->ns : NULL;
        filter.label_selector = selector;

        /* Three objects before the informer starts: a list of two pages. */
        for (size_t k = 0; k < ELEMENTSOF(pre); k++) {
                pre[k] = itest_unique_name(f->env, "pre");
                create_object(c, f, pre[k]);
        }

        assert_int_equal(cache_new(c->kind, &cache), 0);
        recorder_attach(&rec, cache);
        assert_int_equal(informer_new(f->event, f->client, c->kind, &filter, cache, &opts, &informer), 0);
        assert_int_equal(informer_start(informer), 0);
        {
                Wait w = { .informer = informer };
                if (itest_run_until(f->event, informer_is_synced, &w, 20 * USEC_PER_SEC) < 0)
                        fail_msg("%s informer not synced within 20 s: %s", c->kind->kind,
                                 strempty(informer_last_error(informer)));
        }
        assert_true(cache_synced(cache));
        assert_int_equal(cache_size(cache), 3);
        informer_get_stats(informer, &st);
        assert_int_equal(st.lists, 1);
        assert_true(st.list_pages >= 2);
        assert_int_equal(st.decode_errors, 0);
        for (size_t k = 0; k < ELEMENTSOF(pre); k++) {
                KubeObject *o = cache_get(cache, c->kind->namespaced ? f->ns : NULL, pre[k]);
                assert_non_null(o);
                assert_string_equal(o->meta.name, pre[k]);
                assert_string_equal(strmap_get(&o->meta.labels, "berth-test"), f->run);
                assert_non_null(o->meta.uid);
                assert_non_null(o->meta.resource_version);
                c->check(o);
        }
        recorder_clear(&rec);

        /* Create, patch a label, delete: each reaches the handlers once. */
        x = itest_unique_name(f->env, "x");
        if (c->kind->namespaced)
                assert_int_equal(asprintf(&x_key, "%s/%s", f->ns, x) > 0, 1);
        else
                x_key = strdup(x);
        create_object(c, f, x);
        assert_int_equal(asprintf(&line, "add %s", x_key) > 0, 1);
        wait_line(f, &rec, line);
        c->check(cache_get(cache, c->kind->namespaced ? f->ns : NULL, x));

        path = object_path(c, f, x);
        {
                long code = 0;
                assert_int_equal(itest_api(f->env, NULL, "PATCH", path, "application/merge-patch+json",
                                           "{\"metadata\":{\"labels\":{\"step\":\"2\"}}}", &code, NULL),
                                 0);
                assert_int_equal(code, 200);
        }
        free(line);
        assert_int_equal(asprintf(&line, "update %s step=2", x_key) > 0, 1);
        wait_line(f, &rec, line);

        assert_int_equal(itest_api_ok(f->env, "DELETE", path, NULL, NULL), 0);
        if (c->finalize) {
                /* No namespace controller here: clear the finalizer ourselves. */
                _cleanup_free_ char *fin = NULL, *body = NULL;
                assert_int_equal(asprintf(&fin, "%s/finalize", path) > 0, 1);
                assert_int_equal(asprintf(&body, "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"finalizers\":[]}}", x) > 0,
                                 1);
                assert_int_equal(itest_api_ok(f->env, "PUT", fin, body, NULL), 0);
        }
        free(line);
        assert_int_equal(asprintf(&line, "delete %s step=2", x_key) > 0, 1);
        wait_line(f, &rec, line);
        assert_null(cache_get(cache, c->kind->namespaced ? f->ns : NULL, x));

        /* Exactly one add and one delete, nothing about the other objects. */
        {
                _cleanup_free_ char *add = NULL;
                assert_int_equal(asprintf(&add, "add %s", x_key) > 0, 1);
                if (recorder_count(&rec, add) != 1 || recorder_count(&rec, line) != 1 ||
                    recorder_count_prefix(&rec, "delete ") != 1 || rec.n > 4 || rec.overflow) {
                        recorder_dump(&rec, c->kind->kind);
                        fail_msg("unexpected handler calls for %s", c->kind->kind);
                }
                for (size_t k = 0; k < rec.n; k++)
                        assert_non_null(strstr(rec.lines[k], x));
        }
        assert_int_equal(cache_size(cache), 3);
        informer_get_stats(informer, &st);
        assert_int_equal(st.relists, 0);
        assert_int_equal(st.decode_errors, 0);

        informer_stop(informer);
        recorder_clear(&rec);
}

#define KIND_TEST(fn, idx)                           \
        static void fn(void **state) {               \
                run_case(*state, &cases[idx]);       \
        }
KIND_TEST(test_namespace, 0)
KIND_TEST(test_node, 1)
KIND_TEST(test_pod, 2)
KIND_TEST(test_service, 3)
KIND_TEST(test_endpoints, 4)
KIND_TEST(test_endpointslice, 5)
KIND_TEST(test_lease, 6)
KIND_TEST(test_event, 7)
KIND_TEST(test_ipaddresspool, 8)
KIND_TEST(test_l2advertisement, 9)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_namespace),      cmocka_unit_test(test_node),
                cmocka_unit_test(test_pod),            cmocka_unit_test(test_service),
                cmocka_unit_test(test_endpoints),      cmocka_unit_test(test_endpointslice),
                cmocka_unit_test(test_lease),          cmocka_unit_test(test_event),
                cmocka_unit_test(test_ipaddresspool),  cmocka_unit_test(test_l2advertisement),
        };
        _Static_assert(ELEMENTSOF(cases) == 10, "one test per case");
        return cmocka_run_group_tests(tests, setup, teardown);
}
