/* SPDX-License-Identifier: Apache-2.0 */
/* The layer-2 election (speaker.md §4 which IPs, §5 which node, §6 the
 * advertisement interfaces), fed with the configuration a user writes. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "l2_election.h"
#include "node.h"
#include "yaml_doc.h"

/* ---- manifests ------------------------------------------------------------ */

#define POOL_LABELED(name, labels, spec)                                                              \
        "---\n{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: " name           \
        ", namespace: metallb-system, labels: " labels "}, spec: " spec "}\n"
#define POOL(name, spec) POOL_LABELED(name, "{}", spec)
#define L2ADV(name, spec)                                                                              \
        "---\n{apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: " name         \
        ", namespace: metallb-system}, spec: " spec "}\n"

/* The pools of the §5 table, covered by an advertisement for every node. */
#define TABLE_POOLS                                                                                    \
        POOL("v4", "{addresses: [192.0.2.0/24, 198.51.100.0/24]}")                                   \
        POOL("v6", "{addresses: ['2001:db8::/64', 'fd00:10::/64']}")
#define ALL L2ADV("all", "{}")

static IpAddr ip(const char *s) {
        IpAddr a;
        assert_int_equal(ip_addr_parse(s, &a), 0);
        return a;
}

static LbConfig *config_build(StrPool *strings, const char *yaml) {
        JsonDoc **docs = NULL;
        KubeObject *objects[16], *pools[16], *advs[16];
        size_t n = 0, n_pools = 0, n_advs = 0;
        LbConfigError error = {};
        LbConfig *c = NULL;
        char *err = NULL;

        if (yaml_parse_documents(yaml, strlen(yaml), "test.yaml", &docs, &n, &err) < 0)
                fail_msg("yaml: %s", err);
        assert_true(n <= 16);
        for (size_t i = 0; i < n; i++) {
                KubeDecodeContext ctx = { .pool = strings };
                if (kube_object_decode(NULL, json_doc_root(docs[i]), &ctx, &objects[i], &err) < 0)
                        fail_msg("decode document %zu: %s", i + 1, err);
                if (objects[i]->kind == &kube_kind_ipaddresspool)
                        pools[n_pools++] = objects[i];
                else
                        advs[n_advs++] = objects[i];
        }
        LbConfigInput in = { .pools = pools, .n_pools = n_pools, .advertisements = advs, .n_advertisements = n_advs };
        if (lb_config_build(&in, &c, &error) < 0)
                fail_msg("configuration: %s", error.message ? error.message : "?");
        for (size_t i = 0; i < n; i++)
                kube_object_unref(objects[i]);
        yaml_docs_free(docs, n);
        return c;
}

/* ---- the world the election sees ------------------------------------------ */

typedef struct Env {
        StrPool *strings;
        LbConfig *config;
        size_t n_services;
        L2Service services[8];
        IpAddr service_ips[8][4];
        size_t n_nodes;
        L2Node nodes[8];
        IpAddr claims[8][4];
        bool ignore_exclude_lb, failback_never;
        bool all_excluded;      /* of the last run */
} Env;

static Env *env_new(const char *yaml) {
        Env *e = calloc(1, sizeof(Env));
        assert_non_null(e);
        e->strings = strpool_new();
        assert_non_null(e->strings);
        e->config = config_build(e->strings, yaml);
        return e;
}

static void env_free(Env *e) {
        lb_config_free(e->config);
        strpool_free(e->strings);
        free(e);
}

/* A Service with ready endpoints (ETP Cluster) using the IPs in the
 * space-separated list. */
static L2Service *env_service(Env *e, const char *name, const char *ips) {
        L2Service *s = &e->services[e->n_services];
        IpAddr *a = e->service_ips[e->n_services];
        char buf[256], *save = NULL;
        size_t n = 0;

        assert_true(e->n_services < 8);
        snprintf(buf, sizeof buf, "%s", ips);
        for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                assert_true(n < 4);
                a[n++] = ip(t);
        }
        *s = (L2Service) { .namespace = "default", .name = name, .ips = a, .n_ips = n, .has_ready_endpoint = true };
        e->n_services++;
        return s;
}

/* A Node with a live speaker. */
static L2Node *env_node(Env *e, const char *name) {
        assert_true(e->n_nodes < 8);
        e->nodes[e->n_nodes] = (L2Node) { .name = name, .live = true };
        return &e->nodes[e->n_nodes++];
}

static void env_claim(Env *e, L2Node *n, const char *address) {
        size_t i = (size_t) (n - e->nodes);
        assert_true(n->n_claims < 4);
        e->claims[i][n->n_claims++] = ip(address);
        n->claims = e->claims[i];
}

static void env_table_nodes(Env *e) {
        env_node(e, "alpha");
        env_node(e, "bravo");
        env_node(e, "charlie");
}

/* One line per announcement: "<ip> <services> -> <node>[ on <ifs>]". */
static char *summary(const L2Election *el) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        assert_non_null(f);
        for (size_t i = 0; i < el->n_announcements; i++) {
                const L2Announcement *a = &el->announcements[i];
                char text[IP_ADDR_STRLEN];

                fprintf(f, "%s%s ", i > 0 ? "\n" : "", ip_addr_format(&a->ip, text));
                for (size_t j = 0; j < a->n_services; j++)
                        fprintf(f, "%s%s", j > 0 ? "," : "", a->services[j]);
                fprintf(f, " -> %s", a->node ? a->node : "none");
                if (a->node && !a->default_selection) {
                        assert_true(a->n_interfaces > 0);
                        fprintf(f, " on ");
                        for (size_t j = 0; j < a->n_interfaces; j++)
                                fprintf(f, "%s%s", j > 0 ? "," : "", a->interfaces[j]);
                }
                if (!a->node)
                        assert_int_equal(a->n_candidates, 0);
        }
        fclose(f);
        return out;
}

static L2ElectionInput env_input(const Env *e, L2HashCache *cache) {
        return (L2ElectionInput) {
                .config = e->config,
                .services = e->services, .n_services = e->n_services,
                .nodes = e->nodes, .n_nodes = e->n_nodes,
                .ignore_exclude_lb = e->ignore_exclude_lb,
                .failback_never = e->failback_never,
                .cache = cache,
        };
}

/* The summary of the election; a run through a warm digest cache must give
 * the same as a cold one (§5: incremental work equals a full recomputation). */
static char *env_run(Env *e) {
        L2HashCache *cache = l2_hash_cache_new();
        L2Election *el = NULL;
        char *cold, *warm;

        assert_non_null(cache);
        L2ElectionInput in = env_input(e, NULL);
        assert_int_equal(l2_election_compute(&in, &el), 0);
        cold = summary(el);
        e->all_excluded = el->all_excluded;
        el = l2_election_free(el);

        in.cache = cache;
        for (int round = 0; round < 2; round++) {
                assert_int_equal(l2_election_compute(&in, &el), 0);
                warm = summary(el);
                assert_string_equal(warm, cold);
                free(warm);
                el = l2_election_free(el);
        }
        l2_hash_cache_free(cache);
        return cold;
}

static void expect(Env *e, const char *expected) {
        char *got = env_run(e);
        assert_string_equal(got, expected);
        free(got);
}

/* ---- §5 the hash ---------------------------------------------------------- */

static void expect_order(const char *address, const char *first, const char *second, const char *third,
                         const char *digest_prefix) {
        const char *nodes[] = { "alpha", "bravo", "charlie" };
        const char *order[] = { first, second, third };
        IpAddr a = ip(address);
        uint8_t d[L2_ELECTION_HASH_SIZE];
        char hex[9];

        assert_int_equal(l2_election_hash(first, &a, d), 0);
        snprintf(hex, sizeof hex, "%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
        assert_string_equal(hex, digest_prefix);

        /* Take the winner away, and the next one in the order wins. */
        for (size_t k = 0; k < 3; k++) {
                const char *rest[3];
                size_t n = 0;
                int w;

                for (size_t i = 0; i < 3; i++) {
                        bool gone = false;
                        for (size_t j = 0; j < k; j++)
                                gone = gone || streq(nodes[i], order[j]);
                        if (!gone)
                                rest[n++] = nodes[i];
                }
                w = l2_election_winner(rest, n, &a);
                assert_true(w >= 0);
                assert_string_equal(rest[w], order[k]);
        }
}

static void test_hash_table(void **state) {
        (void) state;
        expect_order("192.0.2.10", "charlie", "bravo", "alpha", "9002c6f8");
        expect_order("198.51.100.7", "alpha", "bravo", "charlie", "3a3e48a8");
        expect_order("2001:db8::a", "charlie", "alpha", "bravo", "69cfe257");
        expect_order("fd00:10::1", "bravo", "alpha", "charlie", "582e4386");
        assert_int_equal(l2_election_winner(NULL, 0, &(IpAddr) {}), -ENOENT);
}

static void test_table_election(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_table_nodes(e);
        /* Listed out of order: the output is sorted by IP, IPv4 first. */
        env_service(e, "six", "fd00:10::1 2001:db8::a");
        env_service(e, "four", "198.51.100.7 192.0.2.10");
        expect(e, "192.0.2.10 default/four -> charlie\n"
                  "198.51.100.7 default/four -> alpha\n"
                  "2001:db8::a default/six -> charlie\n"
                  "fd00:10::1 default/six -> bravo");
        env_free(e);
}

/* ---- §4 which IPs ---------------------------------------------------------- */

static void test_rule_status_ip(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_table_nodes(e);
        /* Rule 1: a pool address no Service lists is not announced. */
        expect(e, "");
        /* Rule 2: a status IP written by hand outside the pools never is. */
        env_service(e, "by-hand", "203.0.113.5 192.0.2.10");
        expect(e, "192.0.2.10 default/by-hand -> charlie");
        env_free(e);
}

static void test_rule_avoid_buggy(void **state) {
        Env *e = env_new(POOL("buggy", "{addresses: [192.0.2.0/24], avoidBuggyIPs: true}") ALL);
        (void) state;

        env_table_nodes(e);
        env_service(e, "a", "192.0.2.0 192.0.2.255 192.0.2.10");
        expect(e, "192.0.2.10 default/a -> charlie");
        env_free(e);
}

static void test_rule_coverage(void **state) {
        Env *e;
        (void) state;

        /* Rule 3: an advertisement naming another pool leaves this one uncovered. */
        e = env_new(TABLE_POOLS L2ADV("only-v6", "{ipAddressPools: [v6]}"));
        env_table_nodes(e);
        env_service(e, "dual", "192.0.2.10 2001:db8::a");
        expect(e, "2001:db8::a default/dual -> charlie");
        env_free(e);

        /* ... and one selecting the pool by label covers it. */
        e = env_new(POOL_LABELED("v4", "{tier: public}", "{addresses: [192.0.2.0/24]}")
                    L2ADV("by-label", "{ipAddressPoolSelectors: [{matchLabels: {tier: public}}]}"));
        env_table_nodes(e);
        env_service(e, "a", "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> charlie");
        env_free(e);

        /* No advertisement at all: nothing is announced. */
        e = env_new(TABLE_POOLS);
        env_table_nodes(e);
        env_service(e, "a", "192.0.2.10");
        expect(e, "");
        env_free(e);
}

static struct StrMapEntry app_web_entries[] = { { "app", "web" } };
static const StrMap app_web = { 1, app_web_entries };

static void test_rule_service_selectors(void **state) {
        Env *e = env_new(TABLE_POOLS L2ADV("web-only", "{serviceSelectors: [{matchLabels: {app: web}}]}"));
        L2Service *web, *db;
        (void) state;

        env_table_nodes(e);
        web = env_service(e, "web", "192.0.2.10");
        web->labels = &app_web;
        db = env_service(e, "db", "198.51.100.7");
        (void) db;
        expect(e, "192.0.2.10 default/web -> charlie");
        env_free(e);
}

static void test_rule_allow_shared_ip(void **state) {
        Env *e;
        L2Service *s;
        (void) state;

        /* Rule 4: allow-shared-ip and a covering advertisement with
         * serviceSelectors: not announced, even when the selector matches. */
        e = env_new(TABLE_POOLS L2ADV("web-only", "{serviceSelectors: [{matchLabels: {app: web}}]}"));
        env_table_nodes(e);
        s = env_service(e, "web", "192.0.2.10");
        s->labels = &app_web;
        s->allow_shared_ip = true;
        expect(e, "");
        env_free(e);

        /* Without serviceSelectors, sharing is announced. */
        e = env_new(TABLE_POOLS ALL);
        env_table_nodes(e);
        env_service(e, "web", "192.0.2.10")->allow_shared_ip = true;
        expect(e, "192.0.2.10 default/web -> charlie");
        env_free(e);
}

static void test_rule_ready_endpoints(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        L2Service *s;
        (void) state;

        env_table_nodes(e);
        /* Rule 5: no ready endpoint, whatever the traffic policy. */
        env_service(e, "cluster", "192.0.2.10")->has_ready_endpoint = false;
        s = env_service(e, "local", "198.51.100.7");
        s->has_ready_endpoint = false;
        s->etp_local = true;
        expect(e, "");

        /* Services sharing x: one that qualifies is enough, and the IP is
         * announced for all of them. */
        env_service(e, "cluster-too", "192.0.2.10");
        expect(e, "192.0.2.10 default/cluster,default/cluster-too -> charlie");
        env_free(e);
}

/* ---- §5 candidates --------------------------------------------------------- */

static struct StrMapEntry exclude_entries[] = { { NODE_LABEL_EXCLUDE_LB, "" } };
static const StrMap exclude_label = { 1, exclude_entries };

static void test_candidates_lease(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_node(e, "alpha");
        env_node(e, "bravo");
        env_node(e, "charlie")->live = false; /* dead lease, or fenced itself */
        env_service(e, "a", "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> bravo");
        env_free(e);
}

static void test_candidates_exclude_label(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_node(e, "alpha");
        env_node(e, "bravo");
        env_node(e, "charlie")->labels = &exclude_label; /* any value, "" included */
        env_service(e, "a", "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> bravo");
        assert_false(e->all_excluded);

        e->ignore_exclude_lb = true;
        expect(e, "192.0.2.10 default/a -> charlie");
        env_free(e);
}

static void test_candidates_all_excluded(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_node(e, "alpha")->labels = &exclude_label;
        env_node(e, "bravo")->labels = &exclude_label;
        env_service(e, "a", "192.0.2.10");
        /* Announceable, but no node may announce it. */
        expect(e, "192.0.2.10 default/a -> none");
        assert_true(e->all_excluded);

        e->ignore_exclude_lb = true;
        expect(e, "192.0.2.10 default/a -> bravo");
        assert_false(e->all_excluded);
        env_free(e);
}

static void test_candidates_network_unavailable(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        (void) state;

        env_table_nodes(e);
        e->nodes[2].network_unavailable = true;
        env_service(e, "a", "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> bravo");
        env_free(e);
}

static struct StrMapEntry zone_a_entries[] = { { "zone", "a" } };
static const StrMap zone_a = { 1, zone_a_entries };

static void test_candidates_node_selectors(void **state) {
        Env *e = env_new(TABLE_POOLS L2ADV("zone-a", "{nodeSelectors: [{matchLabels: {zone: a}}]}"));
        (void) state;

        env_node(e, "alpha")->labels = &zone_a;
        env_node(e, "bravo")->labels = &zone_a;
        env_node(e, "charlie");
        env_service(e, "a", "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> bravo");
        env_free(e);
}

static void test_candidates_etp_local(void **state) {
        static const char *const on_alpha_and_gone[] = { "alpha", "alpha", "no-such-node" };
        static const char *const on_charlie[] = { "charlie" };
        Env *e = env_new(TABLE_POOLS ALL);
        L2Service *s;
        (void) state;

        env_table_nodes(e);
        s = env_service(e, "local", "192.0.2.10");
        s->etp_local = true;
        s->ready_nodes = on_alpha_and_gone;
        s->n_ready_nodes = 3;
        expect(e, "192.0.2.10 default/local -> alpha");

        /* The only endpoint node is not a candidate: nobody announces. */
        s->ready_nodes = on_charlie;
        s->n_ready_nodes = 1;
        e->nodes[2].live = false;
        expect(e, "192.0.2.10 default/local -> none");

        /* Ready endpoints that have no node make the Service announceable
         * but give ETP Local no candidate. */
        s->n_ready_nodes = 0;
        expect(e, "192.0.2.10 default/local -> none");
        env_free(e);
}

static void test_shared_ip_one_node(void **state) {
        static const char *const on_bravo[] = { "bravo" };
        Env *e = env_new(TABLE_POOLS ALL);
        L2Election *el = NULL;
        L2Service *s;
        (void) state;

        env_table_nodes(e);
        s = env_service(e, "tcp", "192.0.2.10");
        s->etp_local = true;
        s->allow_shared_ip = true;
        s->ready_nodes = on_bravo;
        s->n_ready_nodes = 1;
        s = env_service(e, "udp", "192.0.2.10");
        s->etp_local = true;
        s->allow_shared_ip = true;
        expect(e, "192.0.2.10 default/tcp,default/udp -> bravo");

        L2ElectionInput in = env_input(e, NULL);
        assert_int_equal(l2_election_compute(&in, &el), 0);
        assert_string_equal(l2_election_announcer(el, "default", "tcp", "192.0.2.10"), "bravo");
        assert_string_equal(l2_election_announcer(el, "default", "udp", "192.0.2.10"), "bravo");
        assert_null(l2_election_announcer(el, "default", "other", "192.0.2.10"));
        assert_null(l2_election_announcer(el, "default", "tcp", "192.0.2.11"));
        assert_null(l2_election_announcer(el, "default", "tcp", "not-an-ip"));
        l2_election_free(el);
        env_free(e);
}

static void test_dual_stack_per_ip(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        L2Election *el = NULL;
        IpAddr *ips = NULL;
        size_t n = 0;
        char text[IP_ADDR_STRLEN];
        (void) state;

        env_table_nodes(e);
        env_service(e, "dual", "2001:db8::a 198.51.100.7");
        expect(e, "198.51.100.7 default/dual -> alpha\n"
                  "2001:db8::a default/dual -> charlie");

        L2ElectionInput in = env_input(e, NULL);
        assert_int_equal(l2_election_compute(&in, &el), 0);
        assert_int_equal(l2_election_node_ips(el, "charlie", &ips, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ip_addr_format(&ips[0], text), "2001:db8::a");
        free(ips);
        assert_int_equal(l2_election_node_ips(el, "bravo", &ips, &n), 0);
        assert_int_equal(n, 0);
        assert_null(ips);
        IpAddr found = ip("198.51.100.7"), missing = ip("198.51.100.8");
        assert_non_null(l2_election_find(el, &found));
        assert_null(l2_election_find(el, &missing));
        l2_election_free(el);
        env_free(e);
}

/* ---- §5 failback ------------------------------------------------------------ */

static void test_failback_never(void **state) {
        Env *e = env_new(TABLE_POOLS ALL);
        L2Node *alpha, *bravo, *charlie;
        (void) state;

        alpha = env_node(e, "alpha");
        bravo = env_node(e, "bravo");
        charlie = env_node(e, "charlie");
        env_service(e, "a", "192.0.2.10");
        env_claim(e, bravo, "192.0.2.10");

        /* always: claims are ignored, charlie takes it back. */
        expect(e, "192.0.2.10 default/a -> charlie");

        /* never: the claimant keeps it while it stays a candidate. */
        e->failback_never = true;
        expect(e, "192.0.2.10 default/a -> bravo");

        /* Two claimants: the lower hash of them (bravo before alpha). */
        env_claim(e, alpha, "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> bravo");

        /* A claimant that is no candidate does not count. */
        bravo->live = false;
        expect(e, "192.0.2.10 default/a -> alpha");
        alpha->network_unavailable = true;
        expect(e, "192.0.2.10 default/a -> charlie");

        /* The local node passes its own live state: charlie announcing now
         * keeps the IP although bravo is back and its lease still claims it
         * (as the last renewal said). */
        alpha->network_unavailable = false;
        alpha->n_claims = 0;
        bravo->live = true;
        bravo->n_claims = 0;
        env_claim(e, charlie, "192.0.2.10");
        expect(e, "192.0.2.10 default/a -> charlie");
        env_free(e);
}

/* ---- §6 advertisement interfaces ------------------------------------------------ */

static void test_interfaces(void **state) {
        Env *e;
        (void) state;

        /* Union of every covering advertisement selecting the winner; one
         * that does not select it (zone a) does not contribute. */
        e = env_new(TABLE_POOLS
                    L2ADV("a", "{interfaces: [eth1]}")
                    L2ADV("b", "{ipAddressPools: [v4], interfaces: [eth1, eth0]}")
                    L2ADV("c", "{ipAddressPools: [v4], nodeSelectors: [{matchLabels: {zone: a}}]}")
                    L2ADV("d", "{ipAddressPools: [v6], interfaces: [bond0]}"));
        env_node(e, "alpha")->labels = &zone_a;
        env_node(e, "bravo");
        env_node(e, "charlie");
        env_service(e, "a", "192.0.2.10 198.51.100.7 2001:db8::a");
        expect(e, "192.0.2.10 default/a -> charlie on eth0,eth1\n"
                  "198.51.100.7 default/a -> alpha\n"               /* c selects alpha: default */
                  "2001:db8::a default/a -> charlie on bond0,eth1");
        env_free(e);
}

/* ---- the cost of a full recomputation -------------------------------------------- */

static double ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) (t.tv_sec - t0->tv_sec) * 1e3 + (double) (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_scale(void **state) {
        enum { N_NODES = 100, N_SERVICES = 1000 };
        LbConfig *c;
        StrPool *strings = strpool_new();
        L2Node *nodes = calloc(N_NODES, sizeof(L2Node));
        L2Service *services = calloc(N_SERVICES, sizeof(L2Service));
        IpAddr *ips = calloc(N_SERVICES, sizeof(IpAddr));
        char (*names)[16] = calloc(N_NODES, sizeof *names);
        L2HashCache *cache = l2_hash_cache_new();
        L2Election *el = NULL;
        size_t per_node[N_NODES] = {};
        struct timespec t0;
        (void) state;

        IpAddr base = ip("10.0.1.0");

        assert_true(strings && nodes && services && ips && names && cache);
        c = config_build(strings, POOL("big", "{addresses: [10.0.0.0/16]}") ALL);
        for (size_t i = 0; i < N_NODES; i++) {
                snprintf(names[i], sizeof names[i], "node-%03zu", i);
                nodes[i] = (L2Node) { .name = names[i], .live = true };
        }
        for (size_t i = 0; i < N_SERVICES; i++) {
                assert_int_equal(ip_addr_add(&base, (int64_t) i, &ips[i]), 0);
                services[i] = (L2Service) { .namespace = "default", .name = names[i % N_NODES],
                                            .ips = &ips[i], .n_ips = 1, .has_ready_endpoint = true };
        }
        L2ElectionInput in = { .config = c, .services = services, .n_services = N_SERVICES,
                               .nodes = nodes, .n_nodes = N_NODES, .cache = cache };
        for (int round = 0; round < 3; round++) {
                clock_gettime(CLOCK_MONOTONIC, &t0);
                assert_int_equal(l2_election_compute(&in, &el), 0);
                print_message("%d IPs x %d nodes, %s: %.2f ms\n", N_SERVICES, N_NODES,
                              round == 0 ? "cold" : "warm cache", ms_since(&t0));
                assert_int_equal(el->n_announcements, N_SERVICES);
                if (round < 2)
                        el = l2_election_free(el);
        }
        /* Every IP has a winner; the hash spreads them over the nodes. */
        for (size_t i = 0; i < el->n_announcements; i++) {
                assert_non_null(el->announcements[i].node);
                per_node[atoi(el->announcements[i].node + 5)]++;
        }
        for (size_t i = 0; i < N_NODES; i++)
                assert_true(per_node[i] < 40);
        /* A node leaving moves only its own IPs, the cache remapped. */
        {
                L2Election *after = NULL;
                in.n_nodes = N_NODES - 1;
                assert_int_equal(l2_election_compute(&in, &after), 0);
                for (size_t i = 0; i < el->n_announcements; i++)
                        if (!streq(el->announcements[i].node, names[N_NODES - 1]))
                                assert_string_equal(after->announcements[i].node, el->announcements[i].node);
                l2_election_free(after);
        }
        l2_election_free(el);
        l2_hash_cache_free(cache);
        lb_config_free(c);
        strpool_free(strings);
        free(names);
        free(ips);
        free(services);
        free(nodes);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hash_table),
                cmocka_unit_test(test_table_election),
                cmocka_unit_test(test_rule_status_ip),
                cmocka_unit_test(test_rule_avoid_buggy),
                cmocka_unit_test(test_rule_coverage),
                cmocka_unit_test(test_rule_service_selectors),
                cmocka_unit_test(test_rule_allow_shared_ip),
                cmocka_unit_test(test_rule_ready_endpoints),
                cmocka_unit_test(test_candidates_lease),
                cmocka_unit_test(test_candidates_exclude_label),
                cmocka_unit_test(test_candidates_all_excluded),
                cmocka_unit_test(test_candidates_network_unavailable),
                cmocka_unit_test(test_candidates_node_selectors),
                cmocka_unit_test(test_candidates_etp_local),
                cmocka_unit_test(test_shared_ip_one_node),
                cmocka_unit_test(test_dual_stack_per_ip),
                cmocka_unit_test(test_failback_never),
                cmocka_unit_test(test_interfaces),
                cmocka_unit_test(test_scale),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
