/* SPDX-License-Identifier: Apache-2.0 */
/* endpoints.md §7: the pure EndpointSlice reconcile, table by table.  A
 * small in-memory "apiserver" applies each plan (encode → decode, as the
 * server stores it) so that every test can also check the next sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "endpointslice_reconcile.h"
#include "json.h"
#include "service.h"
#include "types-test-util.h"

/* ---- fixtures ------------------------------------------------------------------ */

#define MAX_STORE 64
#define MAX_WANTS 1200

typedef struct World {
        StrPool *pool;
        KubeObject *svc;
        EndpointSlice *store[MAX_STORE];
        size_t n_store;
        unsigned next_name;
        unsigned next_rv;
        /* desired endpoints */
        char addr[MAX_WANTS][32];
        const char *addr_ptr[MAX_WANTS][1];
        char pod[MAX_WANTS][32];
        char uid[MAX_WANTS][32];
        SliceWantEndpoint wants[MAX_WANTS];
        size_t n_wants;
        EndpointSlicePort ports[4];
        SlicePortSet port_sets[2];
        size_t n_port_sets;
        SliceAddressTypeWant types[2];
        size_t n_types;
        SliceHints hints;
        unsigned max;
        usec_t trigger;
} World;

static const char SVC_JSON[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
        "\"uid\":\"svc-uid\",\"labels\":{\"app\":\"web\",\"kubernetes.io/service-name\":\"evil\"}},"
        "\"spec\":{\"clusterIP\":\"10.96.0.10\",\"ipFamilies\":[\"IPv4\"],\"selector\":{\"app\":\"web\"},"
        "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}";

static KubeObject *decode_json(World *w, const KubeKind *kind, const char *text) {
        KubeObject *o = NULL;
        char *err = NULL;
        int r = decode_text(kind, text, w->pool, &o, &err);
        if (r < 0)
                fail_msg("decode: %d %s\n%s", r, err, text);
        return o;
}

static char *encode(const KubeObject *o) {
        yajl_gen g = json_gen_new(false);
        char *s = NULL;
        size_t n;
        assert_non_null(g);
        assert_int_equal(o->kind->encode(o, g), 0);
        assert_int_equal(json_gen_take(g, &s, &n), 0);
        json_gen_freep(&g);
        return s;
}

static World *world_new(const char *svc_json) {
        World *w = calloc(1, sizeof(World));
        assert_non_null(w);
        w->pool = strpool_new();
        w->svc = decode_json(w, &kube_kind_service, svc_json ? svc_json : SVC_JSON);
        w->ports[0] = (EndpointSlicePort) { .name = "http", .protocol = "TCP", .has_port = true, .port = 8080 };
        w->port_sets[0] = (SlicePortSet) { .n_ports = 1, .ports = w->ports };
        w->n_port_sets = 1;
        w->types[0].address_type = "IPv4";
        w->n_types = 1;
        w->next_rv = 100;
        return w;
}

static void world_free(World *w) {
        for (size_t i = 0; i < w->n_store; i++)
                kube_object_unref(&w->store[i]->object);
        kube_object_unref(w->svc);
        strpool_free(w->pool);
        free(w);
}

/* Desired endpoint i: 10.0.<i/250>.<i%250+1>, pod-i, ready, node-a/zone-a. */
static SliceWantEndpoint *want_set(World *w, size_t k, unsigned i) {
        snprintf(w->addr[k], sizeof w->addr[k], "10.0.%u.%u", i / 250, i % 250 + 1);
        snprintf(w->pod[k], sizeof w->pod[k], "pod-%u", i);
        snprintf(w->uid[k], sizeof w->uid[k], "uid-%u", i);
        w->addr_ptr[k][0] = w->addr[k];
        w->wants[k] = (SliceWantEndpoint) {
                .n_addresses = 1,
                .addresses = w->addr_ptr[k],
                .ready = true,
                .serving = true,
                .node_name = "node-a",
                .zone = "zone-a",
                .pod_namespace = "shop",
                .pod_name = w->pod[k],
                .pod_uid = w->uid[k],
        };
        return &w->wants[k];
}

static SliceWantEndpoint *want_add(World *w, unsigned i) {
        return want_set(w, w->n_wants++, i);
}

/* Removes wants[k] (the others keep their storage). */
static void want_remove(World *w, size_t k) {
        memmove(&w->wants[k], &w->wants[k + 1], (w->n_wants - k - 1) * sizeof(SliceWantEndpoint));
        w->n_wants--;
}

static void wants_add(World *w, unsigned from, unsigned n) {
        for (unsigned i = from; i < from + n; i++)
                want_add(w, i);
}

static EndpointSlicePlan *reconcile(World *w) {
        EndpointSlicePlan *p = NULL;
        const EndpointSlice *existing[MAX_STORE];
        for (size_t i = 0; i < w->n_store; i++)
                existing[i] = w->store[i];
        w->types[0].endpoints = w->wants;
        w->types[0].n_endpoints = w->n_wants;
        EndpointSliceWant in = {
                .service = SERVICE(w->svc),
                .n_port_sets = w->n_port_sets,
                .port_sets = w->port_sets,
                .n_address_types = w->n_types,
                .address_types = w->types,
                .hints = w->hints,
                .max_endpoints_per_slice = w->max,
                .trigger_time = w->trigger,
                .n_existing = w->n_store,
                .existing = existing,
        };
        assert_int_equal(endpointslice_reconcile(&in, &p), 0);
        assert_non_null(p);
        return p;
}

static size_t store_find(World *w, const char *name) {
        for (size_t i = 0; i < w->n_store; i++)
                if (streq(w->store[i]->object.meta.name, name))
                        return i;
        return SIZE_MAX;
}

/* What the apiserver would store for a write of s (named name). */
static EndpointSlice *stored_copy(World *w, const EndpointSlice *s, const char *name) {
        _cleanup_free_ char *text = encode(&s->object), *named = NULL;
        if (name) {
                /* the server names a created object: generateName -> name */
                const char *g = strstr(text, "\"generateName\":\"web-\"");
                assert_non_null(g);
                assert_true(asprintf(&named, "%.*s\"name\":\"%s\"%s", (int) (g - text), text, name,
                                     g + strlen("\"generateName\":\"web-\"")) > 0);
        }
        KubeObject *o = decode_json(w, &kube_kind_endpointslice, named ? named : text);
        free(o->meta.resource_version);
        assert_true(asprintf(&o->meta.resource_version, "%u", w->next_rv++) > 0);
        return (EndpointSlice *) o;
}

static void store_put(World *w, EndpointSlice *s) {
        size_t i = store_find(w, s->object.meta.name);
        if (i != SIZE_MAX) {
                kube_object_unref(&w->store[i]->object);
                w->store[i] = s;
                return;
        }
        assert_true(w->n_store < MAX_STORE);
        w->store[w->n_store++] = s;
}

static void apply(World *w, const EndpointSlicePlan *p) {
        for (size_t i = 0; i < p->n_changes; i++) {
                const SliceChange *c = &p->changes[i];
                char name[64];
                size_t k;
                switch (c->op) {
                case SLICE_OP_CREATE:
                        assert_null(c->slice->object.meta.name);
                        assert_string_equal(c->slice->generate_name, "web-");
                        snprintf(name, sizeof name, "web-%05u", w->next_name++);
                        store_put(w, stored_copy(w, c->slice, name));
                        break;
                case SLICE_OP_UPDATE:
                        k = store_find(w, c->slice->object.meta.name);
                        assert_true(k != SIZE_MAX);
                        /* optimistic concurrency: the cached resourceVersion goes with the PUT */
                        assert_string_equal(c->slice->object.meta.resource_version,
                                            w->store[k]->object.meta.resource_version);
                        store_put(w, stored_copy(w, c->slice, NULL));
                        break;
                case SLICE_OP_DELETE:
                        k = store_find(w, c->slice->object.meta.name);
                        assert_true(k != SIZE_MAX);
                        kube_object_unref(&w->store[k]->object);
                        w->store[k] = w->store[--w->n_store];
                        break;
                }
        }
}

/* Reconciles, applies, and checks that the next sync writes nothing (§9). */
static EndpointSlicePlan *sync_and_settle(World *w) {
        EndpointSlicePlan *p = reconcile(w);
        apply(w, p);
        EndpointSlicePlan *again = reconcile(w);
        assert_int_equal(again->n_changes, 0);
        endpointslice_plan_free(again);
        return p;
}

static void store_json(World *w, const char *json) {
        store_put(w, (EndpointSlice *) decode_json(w, &kube_kind_endpointslice, json));
}

static size_t endpoints_in_store(const World *w) {
        size_t n = 0;
        for (size_t i = 0; i < w->n_store; i++)
                n += w->store[i]->n_endpoints;
        return n;
}

/* ---- §7 basics ------------------------------------------------------------------ */

static void test_create_first_slice(void **state) {
        (void) state;
        World *w = world_new(NULL);
        /* appended in order of first address: 10.0.0.10 < 10.0.0.2 < 10.0.0.3 (bytewise) */
        wants_add(w, 1, 2);
        want_add(w, 9);
        w->trigger = 1514764800500000; /* 2018-01-01T00:00:00.5Z */
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 1);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->endpoints_added, 3);
        assert_int_equal(p->endpoints_desired, 3);
        assert_int_equal(p->slices_after, 1);
        _cleanup_free_ char *text = encode(&p->changes[0].slice->object);
        assert_string_equal(
                text,
                "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
                "\"generateName\":\"web-\",\"namespace\":\"shop\",\"labels\":{\"app\":\"web\","
                "\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.berth.io\","
                "\"kubernetes.io/service-name\":\"web\"},\"annotations\":{"
                "\"endpoints.kubernetes.io/last-change-trigger-time\":\"2018-01-01T00:00:00.5Z\"},"
                "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\","
                "\"uid\":\"svc-uid\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
                "\"addressType\":\"IPv4\",\"endpoints\":["
                "{\"addresses\":[\"10.0.0.10\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},"
                "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"pod-9\",\"uid\":\"uid-9\"},"
                "\"nodeName\":\"node-a\",\"zone\":\"zone-a\"},"
                "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},"
                "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"pod-1\",\"uid\":\"uid-1\"},"
                "\"nodeName\":\"node-a\",\"zone\":\"zone-a\"},"
                "{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},"
                "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"pod-2\",\"uid\":\"uid-2\"},"
                "\"nodeName\":\"node-a\",\"zone\":\"zone-a\"}],"
                "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}");
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_250_endpoints_three_slices(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 250);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 3);
        assert_int_equal(p->changes[0].slice->n_endpoints, 100);
        assert_int_equal(p->changes[1].slice->n_endpoints, 100);
        assert_int_equal(p->changes[2].slice->n_endpoints, 50);
        assert_int_equal(p->slices_desired, 3);
        assert_int_equal(endpoints_in_store(w), 250);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_max_endpoints_flag(void **state) {
        (void) state;
        static const struct {
                const char *value;
                int r;
                unsigned v;
        } table[] = {
                { "1", 0, 1 }, { "100", 0, 100 }, { "1000", 0, 1000 }, { "0", -EINVAL, 0 }, { "1001", -EINVAL, 0 },
                { "-5", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "", -EINVAL, 0 }, { "10x", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                unsigned v = 7;
                _cleanup_free_ char *why = NULL;
                assert_int_equal(endpointslice_parse_max_endpoints(table[i].value, &v, &why), table[i].r);
                if (table[i].r == 0)
                        assert_int_equal(v, table[i].v);
                else {
                        assert_int_equal(v, 7); /* ret_* only on success */
                        assert_string_equal(why, "must be between 1 and 1000");
                }
        }
}

static void test_max_endpoints_small(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->max = 2;
        wants_add(w, 0, 5);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 3);
        assert_int_equal(w->n_store, 3);
        endpointslice_plan_free(p);
        world_free(w);
}

/* ---- churn ------------------------------------------------------------------------ */

static void test_one_pod_changes_one_slice_updated(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 250);
        endpointslice_plan_free(sync_and_settle(w));

        w->wants[137].ready = false;
        w->wants[137].serving = false;
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        assert_int_equal(p->endpoints_added, 0);
        assert_int_equal(p->endpoints_removed, 0);
        /* the endpoint keeps its position in its slice */
        endpointslice_plan_free(p);

        /* one pod gone, one new: the new one takes the freed place (step 2) */
        want_set(w, 5, 999);
        p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->endpoints_added, 1);
        assert_int_equal(p->endpoints_removed, 1);
        endpointslice_plan_free(p);
        assert_int_equal(endpoints_in_store(w), 250);
        world_free(w);
}

static void test_new_endpoints_go_to_updated_slice_fullest_first(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->max = 4;
        wants_add(w, 0, 8); /* two full slices */
        endpointslice_plan_free(sync_and_settle(w));
        /* remove one from each slice; add one: goes to an updated slice, no create */
        want_remove(w, 4);
        want_set(w, 0, 100);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 0);
        assert_int_equal(p->n_deletes, 0);
        assert_int_equal(p->n_updates, 2);
        assert_int_equal(p->endpoints_added, 1);
        assert_int_equal(p->endpoints_removed, 2);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_leftovers_fill_unchanged_closest_to_full(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->max = 10;
        /* three unchanged slices holding 9, 5 and 7 endpoints */
        wants_add(w, 0, 9);
        w->max = 9;
        endpointslice_plan_free(sync_and_settle(w));
        w->max = 5;
        wants_add(w, 100, 5);
        endpointslice_plan_free(sync_and_settle(w));
        w->max = 7;
        wants_add(w, 200, 7);
        endpointslice_plan_free(sync_and_settle(w));
        assert_int_equal(w->n_store, 3);

        /* 3 new endpoints with max 10: the 7-slice ends exactly full */
        w->max = 10;
        wants_add(w, 300, 3);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        assert_int_equal(p->changes[0].slice->n_endpoints, 10);
        assert_string_equal(p->changes[0].slice->object.meta.name, "web-00002");
        endpointslice_plan_free(p);

        /* 6 more: no unchanged slice fits them (9+6, 5+6 > 10 ... 5+6=11): a new slice */
        wants_add(w, 400, 6);
        p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_creates, 1);
        endpointslice_plan_free(p);
        world_free(w);
}

/* ---- deletes, placeholder, step 4 ------------------------------------------------------ */

static void test_placeholder(void **state) {
        (void) state;
        World *w = world_new(NULL);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 1);
        const EndpointSlice *s = p->changes[0].slice;
        assert_int_equal(s->n_endpoints, 0);
        assert_int_equal(s->n_ports, 0);
        _cleanup_free_ char *text = encode(&s->object);
        assert_non_null(strstr(text, "\"endpoints\":[],\"ports\":[]"));
        assert_int_equal(p->slices_after, 1);
        endpointslice_plan_free(p);

        /* endpoints appear: the placeholder is reused (update), not deleted + created */
        wants_add(w, 0, 3);
        p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        assert_int_equal(p->changes[0].slice->n_ports, 1);
        endpointslice_plan_free(p);

        /* and go again: the slice becomes the placeholder (update of the same name) */
        w->n_wants = 0;
        p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        assert_int_equal(p->changes[0].slice->n_ports, 0);
        assert_int_equal(w->n_store, 1);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_emptied_slice_deleted(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->max = 3;
        wants_add(w, 0, 6);
        endpointslice_plan_free(sync_and_settle(w));
        assert_int_equal(w->n_store, 2);
        w->n_wants = 3; /* the first slice's three stay */
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_deletes, 1);
        assert_int_equal(p->endpoints_removed, 3);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_port_change_reuses_slice_name(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 3);
        endpointslice_plan_free(sync_and_settle(w));
        /* the target port changes: new port set, the old slice's name is reused (step 4) */
        w->ports[0].port = 9090;
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        assert_string_equal(p->changes[0].slice->object.meta.name, "web-00000");
        assert_int_equal(p->changes[0].slice->ports[0].port, 9090);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_two_port_sets_two_groups(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->ports[1] = (EndpointSlicePort) { .name = "http", .protocol = "TCP", .has_port = true, .port = 8081 };
        w->port_sets[1] = (SlicePortSet) { .n_ports = 1, .ports = &w->ports[1] };
        w->n_port_sets = 2;
        wants_add(w, 0, 3);
        want_add(w, 50)->port_set = 1;
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 2);
        assert_int_equal(p->changes[0].slice->n_endpoints, 3);
        assert_int_equal(p->changes[1].slice->n_endpoints, 1);
        assert_int_equal(p->changes[1].slice->ports[0].port, 8081);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_port_set_order_insensitive(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->ports[0] = (EndpointSlicePort) { .name = "a", .protocol = "TCP", .has_port = true, .port = 1 };
        w->ports[1] = (EndpointSlicePort) { .name = "b", .protocol = "UDP", .has_port = true, .port = 2 };
        w->port_sets[0].n_ports = 2;
        wants_add(w, 0, 2);
        endpointslice_plan_free(sync_and_settle(w));
        /* the Service lists its ports the other way round: same set, no write */
        EndpointSlicePort tmp = w->ports[0];
        w->ports[0] = w->ports[1];
        w->ports[1] = tmp;
        EndpointSlicePlan *p = reconcile(w);
        assert_int_equal(p->n_changes, 0);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_service_deleting_no_creates(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 3);
        w->svc->meta.deletion_timestamp = 1;
        EndpointSlicePlan *p = reconcile(w);
        assert_int_equal(p->n_changes, 0);
        endpointslice_plan_free(p);
        world_free(w);
}

/* ---- re-take and foreign slices (§2, §7) ------------------------------------------- */

static const char UPSTREAM_SLICE[] =
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-up123\","
        "\"namespace\":\"shop\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\","
        "\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\","
        "\"kubernetes.io/service-name\":\"web\"},\"annotations\":{\"note\":\"kept\","
        "\"endpoints.kubernetes.io/last-change-trigger-time\":\"2017-01-01T00:00:00Z\"},"
        "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\",\"uid\":\"svc-uid\","
        "\"controller\":true,\"blockOwnerDeletion\":true}]},\"addressType\":\"IPv4\","
        "\"endpoints\":[{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true,\"serving\":true,"
        "\"terminating\":false},\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"pod-1\","
        "\"uid\":\"uid-1\",\"resourceVersion\":\"55\"},\"nodeName\":\"node-a\",\"zone\":\"zone-a\"},"
        "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true,\"serving\":true,"
        "\"terminating\":false},\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"pod-0\","
        "\"uid\":\"uid-0\"},\"nodeName\":\"node-a\",\"zone\":\"zone-a\"}],"
        "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}";

static void test_retake_upstream_slice(void **state) {
        (void) state;
        World *w = world_new(NULL);
        store_json(w, UPSTREAM_SLICE);
        wants_add(w, 0, 2);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->foreign_retaken, 1);
        assert_int_equal(p->n_changes, 1);
        assert_int_equal(p->n_updates, 1);
        const EndpointSlice *s = p->changes[0].slice;
        assert_string_equal(s->object.meta.name, "web-up123");
        assert_string_equal(strmap_get(&s->object.meta.labels, ENDPOINTSLICE_LABEL_MANAGED_BY),
                            ENDPOINTSLICE_MANAGED_BY_BERTH);
        /* others' annotations kept; the trigger time removed (this sync has none) */
        assert_string_equal(strmap_get(&s->object.meta.annotations, "note"), "kept");
        assert_null(strmap_get(&s->object.meta.annotations, ENDPOINTSLICE_TRIGGER_TIME_ANNOTATION));
        /* endpoints keep their places; targetRef.resourceVersion is not compared nor written */
        assert_int_equal(s->n_endpoints, 2);
        assert_string_equal(s->endpoints[0].addresses.items[0], "10.0.0.2");
        assert_null(s->endpoints[0].target_ref.resource_version);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_foreign_owner_deleted(void **state) {
        (void) state;
        World *w = world_new(NULL);
        /* a slice left by an earlier Service of the same name (another uid) */
        char *json = strdup(UPSTREAM_SLICE);
        char *u = strstr(json, "\"uid\":\"svc-uid\"");
        assert_non_null(u);
        memcpy(u + 7, "old", 3);
        store_json(w, json);
        free(json);
        wants_add(w, 0, 2);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 1);
        assert_int_equal(p->n_deletes, 1);
        /* not reused for the create: the garbage collector is deleting it */
        assert_string_equal(p->changes[1].slice->object.meta.name, "web-up123");
        assert_int_equal(p->changes[1].op, SLICE_OP_DELETE);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_address_type_removed(void **state) {
        (void) state;
        World *w = world_new(NULL);
        char *json = strdup(UPSTREAM_SLICE);
        char *t = strstr(json, "\"addressType\":\"IPv4\"");
        memcpy(t + 18, "6", 1);
        char *a = strstr(json, "10.0.0.2");
        memcpy(a, "fd00::02", 8);
        a = strstr(json, "10.0.0.1");
        memcpy(a, "fd00::01", 8);
        store_json(w, json);
        free(json);
        wants_add(w, 0, 2);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 1);
        assert_int_equal(p->n_deletes, 1);
        assert_string_equal(p->changes[1].address_type, "IPv6");
        /* an IPv4 create never takes the IPv6 slice's name (addressType is immutable) */
        assert_string_equal(p->changes[0].address_type, "IPv4");
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_dual_stack_placeholder_per_type(void **state) {
        (void) state;
        World *w = world_new(NULL);
        w->types[1].address_type = "IPv6";
        w->n_types = 2;
        wants_add(w, 0, 2);
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_creates, 2);
        assert_string_equal(p->changes[0].slice->address_type, "IPv4");
        assert_string_equal(p->changes[1].slice->address_type, "IPv6");
        assert_int_equal(p->changes[1].slice->n_endpoints, 0);
        endpointslice_plan_free(p);
        world_free(w);
}

/* ---- labels ------------------------------------------------------------------------- */

static void test_labels_follow_service(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 2);
        endpointslice_plan_free(sync_and_settle(w));
        /* the Service becomes headless and gains a label: every slice is updated */
        kube_object_unref(w->svc);
        w->svc = decode_json(
                w, &kube_kind_service,
                "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
                "\"uid\":\"svc-uid\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"
                "\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"},"
                "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}");
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_updates, 1);
        const StrMap *l = &p->changes[0].slice->object.meta.labels;
        assert_string_equal(strmap_get(l, "tier"), "front");
        assert_string_equal(strmap_get(l, ENDPOINTSLICE_LABEL_HEADLESS), "");
        assert_string_equal(strmap_get(l, ENDPOINTSLICE_LABEL_SERVICE_NAME), "web");
        endpointslice_plan_free(p);
        world_free(w);
}

/* ---- hints (§7) ----------------------------------------------------------------------- */

static void test_hints(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 3);
        w->wants[1].ready = false; /* not-ready: never a hint */
        w->wants[2].zone = NULL;   /* no zone: no zone hint */
        w->hints = SLICE_HINTS_ZONE;
        EndpointSlicePlan *p = sync_and_settle(w);
        const EndpointSlice *s = p->changes[0].slice;
        assert_int_equal(s->endpoints[0].hints_for_zones.n, 1);
        assert_string_equal(s->endpoints[0].hints_for_zones.items[0], "zone-a");
        assert_int_equal(s->endpoints[0].hints_for_nodes.n, 0);
        assert_int_equal(s->endpoints[1].hints_for_zones.n, 0);
        assert_int_equal(s->endpoints[2].hints_for_zones.n, 0);
        endpointslice_plan_free(p);

        /* PreferSameNode (gate on): node hints too */
        w->hints = SLICE_HINTS_ZONE_NODE;
        p = sync_and_settle(w);
        assert_int_equal(p->n_updates, 1);
        s = p->changes[0].slice;
        assert_string_equal(s->endpoints[0].hints_for_nodes.items[0], "node-a");
        assert_string_equal(s->endpoints[2].hints_for_nodes.items[0], "node-a");
        assert_int_equal(s->endpoints[1].hints_for_nodes.n, 0);
        endpointslice_plan_free(p);

        /* unset: every hint removed, the otherwise unchanged slice is updated */
        w->hints = SLICE_HINTS_NONE;
        p = sync_and_settle(w);
        assert_int_equal(p->n_updates, 1);
        s = p->changes[0].slice;
        for (size_t i = 0; i < s->n_endpoints; i++) {
                assert_int_equal(s->endpoints[i].hints_for_zones.n, 0);
                assert_int_equal(s->endpoints[i].hints_for_nodes.n, 0);
        }
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_endpoint_identity(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 2);
        endpointslice_plan_free(sync_and_settle(w));
        /* pod recreated under the same name and IP: new uid replaces in place */
        w->wants[0].pod_uid = "uid-new";
        EndpointSlicePlan *p = sync_and_settle(w);
        assert_int_equal(p->n_updates, 1);
        assert_int_equal(p->endpoints_added, 0);
        assert_int_equal(p->endpoints_removed, 0);
        endpointslice_plan_free(p);
        /* a new IP is a new identity: one removed, one added */
        snprintf(w->addr[0], sizeof w->addr[0], "10.9.9.9");
        p = sync_and_settle(w);
        assert_int_equal(p->endpoints_added, 1);
        assert_int_equal(p->endpoints_removed, 1);
        assert_int_equal(p->n_changes, 1);
        endpointslice_plan_free(p);
        world_free(w);
}

static void test_trigger_time_not_a_change(void **state) {
        (void) state;
        World *w = world_new(NULL);
        wants_add(w, 0, 2);
        endpointslice_plan_free(sync_and_settle(w));
        w->trigger = 1514764800000000;
        EndpointSlicePlan *p = reconcile(w);
        assert_int_equal(p->n_changes, 0);
        endpointslice_plan_free(p);
        world_free(w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_first_slice),
                cmocka_unit_test(test_250_endpoints_three_slices),
                cmocka_unit_test(test_max_endpoints_flag),
                cmocka_unit_test(test_max_endpoints_small),
                cmocka_unit_test(test_one_pod_changes_one_slice_updated),
                cmocka_unit_test(test_new_endpoints_go_to_updated_slice_fullest_first),
                cmocka_unit_test(test_leftovers_fill_unchanged_closest_to_full),
                cmocka_unit_test(test_placeholder),
                cmocka_unit_test(test_emptied_slice_deleted),
                cmocka_unit_test(test_port_change_reuses_slice_name),
                cmocka_unit_test(test_two_port_sets_two_groups),
                cmocka_unit_test(test_port_set_order_insensitive),
                cmocka_unit_test(test_service_deleting_no_creates),
                cmocka_unit_test(test_retake_upstream_slice),
                cmocka_unit_test(test_foreign_owner_deleted),
                cmocka_unit_test(test_address_type_removed),
                cmocka_unit_test(test_dual_stack_placeholder_per_type),
                cmocka_unit_test(test_labels_follow_service),
                cmocka_unit_test(test_hints),
                cmocka_unit_test(test_endpoint_identity),
                cmocka_unit_test(test_trigger_time_not_a_change),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
