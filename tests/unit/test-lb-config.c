/* SPDX-License-Identifier: Apache-2.0 */
/* The IPAddressPool / L2Advertisement configuration (lbipam.md §2, §3,
 * §7.1, §10, §13.5, §13.6), fed with the manifests a user writes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_config.h"
#include "yaml_doc.h"

/* ---- manifests ------------------------------------------------------------ */

#define POOL_META(meta, spec) \
        "---\n{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: " meta ", spec: " spec "}\n"
#define POOL(name, spec) POOL_META("{name: " name ", namespace: metallb-system}", spec)
#define L2ADV(name, spec) \
        "---\n{apiVersion: metallb.io/v1beta1, kind: L2Advertisement, metadata: {name: " name \
        ", namespace: metallb-system}, spec: " spec "}\n"
#define NAMESPACE(name, labels) "---\n{apiVersion: v1, kind: Namespace, metadata: {name: " name ", labels: " labels "}}\n"

typedef struct Built {
        StrPool *strings;
        LbConfig *config;
        LbConfigError error;
} Built;

static void built_done(Built *b) {
        lb_config_free(b->config);
        lb_config_error_done(&b->error);
        strpool_free(b->strings);
        *b = (Built) {};
}

typedef void (*ObjectsHook)(KubeObject **objects, size_t n);

/* Decodes every document of yaml and builds the configuration from them;
 * hook may change the decoded objects first. */
static int build_hooked(Built *b, const char *yaml, ObjectsHook hook) {
        JsonDoc **docs = NULL;
        char *err = NULL;
        size_t n = 0, n_pools = 0, n_advs = 0, n_ns = 0;
        KubeObject **objects, **pools, **advs, **namespaces;
        int r;

        *b = (Built) { .strings = strpool_new() };
        assert_non_null(b->strings);
        r = yaml_parse_documents(yaml, strlen(yaml), "test.yaml", &docs, &n, &err);
        if (r < 0)
                fail_msg("yaml: %s", err);
        objects = calloc(n + 1, sizeof *objects);
        pools = calloc(n + 1, sizeof *pools);
        advs = calloc(n + 1, sizeof *advs);
        namespaces = calloc(n + 1, sizeof *namespaces);
        assert_true(objects && pools && advs && namespaces);
        for (size_t i = 0; i < n; i++) {
                KubeDecodeContext ctx = { .pool = b->strings };
                if (kube_object_decode(NULL, json_doc_root(docs[i]), &ctx, &objects[i], &err) < 0)
                        fail_msg("decode document %zu: %s", i + 1, err);
        }
        if (hook)
                hook(objects, n);
        for (size_t i = 0; i < n; i++) {
                if (objects[i]->kind == &kube_kind_ipaddresspool)
                        pools[n_pools++] = objects[i];
                else if (objects[i]->kind == &kube_kind_l2advertisement)
                        advs[n_advs++] = objects[i];
                else
                        namespaces[n_ns++] = objects[i];
        }
        LbConfigInput in = {
                .pools = pools, .n_pools = n_pools,
                .advertisements = advs, .n_advertisements = n_advs,
                .namespaces = namespaces, .n_namespaces = n_ns,
        };
        r = lb_config_build(&in, &b->config, &b->error);
        /* The configuration holds its own references. */
        for (size_t i = 0; i < n; i++)
                kube_object_unref(objects[i]);
        free(objects);
        free(pools);
        free(advs);
        free(namespaces);
        yaml_docs_free(docs, n);
        return r;
}

static int build(Built *b, const char *yaml) {
        return build_hooked(b, yaml, NULL);
}

static void build_ok(Built *b, const char *yaml) {
        int r = build(b, yaml);
        if (r != 0)
                fail_msg("expected a valid configuration, got %d: %s", r, b->error.message ? b->error.message : "");
        assert_non_null(b->config);
}

static void expect_error_hooked(const char *yaml, ObjectsHook hook, const KubeKind *kind, const char *namespace,
                                const char *name, const char *message) {
        Built b;
        int r = build_hooked(&b, yaml, hook);
        if (r != -EINVAL || !b.error.message || !streq(b.error.message, message))
                fail_msg("expected -EINVAL\n  \"%s\"\ngot %d\n  \"%s\"", message, r,
                         b.error.message ? b.error.message : "(none)");
        assert_null(b.config); /* any error rejects the whole configuration */
        assert_ptr_equal(b.error.kind, kind);
        assert_string_equal(b.error.namespace, namespace);
        assert_string_equal(b.error.name, name);
        built_done(&b);
}

static void expect_error(const char *yaml, const KubeKind *kind, const char *name, const char *message) {
        expect_error_hooked(yaml, NULL, kind, "metallb-system", name, message);
}

static const char *cidr_text(const IpCidr *c, char buf[64]) {
        char a[IP_ADDR_STRLEN];
        snprintf(buf, 64, "%s/%u", ip_addr_format(&c->addr, a), c->prefix);
        return buf;
}

/* The pool's CIDRs joined by spaces. */
static char *pool_cidrs(const LbPool *p) {
        char *out = calloc(1, p->n_cidrs * 64 + 1), buf[64];
        assert_non_null(out);
        for (size_t i = 0; i < p->n_cidrs; i++) {
                if (i > 0)
                        strcat(out, " ");
                strcat(out, cidr_text(&p->cidrs[i], buf));
        }
        return out;
}

static IpAddr ip(const char *s) {
        IpAddr a;
        assert_int_equal(ip_addr_parse(s, &a), 0);
        return a;
}

/* ---- one address entry (§3 table) ------------------------------------------ */

/* The entry's CIDRs joined by spaces, or its error text. */
static char *parse_entry(const char *entry) {
        IpCidr *cidrs = NULL;
        size_t n = 0;
        char *error = NULL, buf[64];
        int r = lb_parse_address_entry("p", entry, &cidrs, &n, &error);
        char *out;

        if (r < 0) {
                assert_int_equal(r, -EINVAL);
                assert_non_null(error);
                return error;
        }
        assert_null(error);
        out = calloc(1, n * 64 + 1);
        assert_non_null(out);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(out, " ");
                strcat(out, cidr_text(&cidrs[i], buf));
        }
        free(cidrs);
        return out;
}

static void check_entries(const char *const (*cases)[2], size_t n) {
        for (size_t i = 0; i < n; i++) {
                char *got = parse_entry(cases[i][0]);
                if (!streq(got, cases[i][1]))
                        fail_msg("entry \"%s\":\n  expected \"%s\"\n  got      \"%s\"", cases[i][0], cases[i][1], got);
                free(got);
        }
}

static void test_cidr_entries(void **state) {
        static const char *const cases[][2] = {
                { "192.0.2.0/24", "192.0.2.0/24" },
                /* Host bits are allowed and cleared. */
                { "10.0.0.7/24", "10.0.0.0/24" },
                { "fd00::1/127", "fd00::/127" },
                { "2001:DB8::/32", "2001:db8::/32" },
                { "0.0.0.0/0", "0.0.0.0/0" },
                { "192.0.2.9/32", "192.0.2.9/32" },
                { "2001:db8::5/128", "2001:db8::5/128" },
                /* Go's ParseCIDR reads the prefix length with leading zeros. */
                { "10.0.0.0/008", "10.0.0.0/8" },
                /* IPv4-mapped text: the IPv4 block MetalLB ends up using. */
                { "::ffff:192.0.2.0/120", "192.0.2.0/24" },
                /* The /n is mandatory; no trimming; prefix within the family. */
                { "192.0.2.1", "parsing address pool p: invalid CIDR \"192.0.2.1\" in pool \"p\": invalid CIDR \"192.0.2.1\"" },
                { "2001:db8::1", "parsing address pool p: invalid CIDR \"2001:db8::1\" in pool \"p\": invalid CIDR \"2001:db8::1\"" },
                { " 192.0.2.0/24", "parsing address pool p: invalid CIDR \" 192.0.2.0/24\" in pool \"p\": invalid CIDR \" 192.0.2.0/24\"" },
                { "192.0.2.0/24 ", "parsing address pool p: invalid CIDR \"192.0.2.0/24 \" in pool \"p\": invalid CIDR \"192.0.2.0/24 \"" },
                { "192.0.2.0 /24", "parsing address pool p: invalid CIDR \"192.0.2.0 /24\" in pool \"p\": invalid CIDR \"192.0.2.0 /24\"" },
                { "192.0.2.0/33", "parsing address pool p: invalid CIDR \"192.0.2.0/33\" in pool \"p\": invalid CIDR \"192.0.2.0/33\"" },
                { "fd00::/129", "parsing address pool p: invalid CIDR \"fd00::/129\" in pool \"p\": invalid CIDR \"fd00::/129\"" },
                { "192.0.2.0/", "parsing address pool p: invalid CIDR \"192.0.2.0/\" in pool \"p\": invalid CIDR \"192.0.2.0/\"" },
                { "/24", "parsing address pool p: invalid CIDR \"/24\" in pool \"p\": invalid CIDR \"/24\"" },
                { "192.0.2.0/24/8", "parsing address pool p: invalid CIDR \"192.0.2.0/24/8\" in pool \"p\": invalid CIDR \"192.0.2.0/24/8\"" },
                { "010.0.0.0/8", "parsing address pool p: invalid CIDR \"010.0.0.0/8\" in pool \"p\": invalid CIDR \"010.0.0.0/8\"" },
                { "192.0.2/24", "parsing address pool p: invalid CIDR \"192.0.2/24\" in pool \"p\": invalid CIDR \"192.0.2/24\"" },
                { "::ffff:192.0.2.0/64", "parsing address pool p: invalid CIDR \"::ffff:192.0.2.0/64\" in pool \"p\": invalid CIDR \"::ffff:192.0.2.0/64\"" },
                /* An empty entry, which the CRD pattern also refuses. */
                { "", "parsing address pool p: invalid CIDR \"\" in pool \"p\": invalid CIDR \"\"" },
        };
        (void) state;
        check_entries(cases, ELEMENTSOF(cases));
}

static void test_range_entries(void **state) {
        static const char *const cases[][2] = {
                /* Minimal aligned CIDRs, ascending. */
                { "192.0.2.250-192.0.3.5", "192.0.2.250/31 192.0.2.252/30 192.0.3.0/30 192.0.3.4/31" },
                { "10.0.0.0-10.0.0.255", "10.0.0.0/24" },
                { "192.0.2.7-192.0.2.7", "192.0.2.7/32" },
                { "0.0.0.0-255.255.255.255", "0.0.0.0/0" },
                { "192.0.2.1-192.0.2.6", "192.0.2.1/32 192.0.2.2/31 192.0.2.4/31 192.0.2.6/32" },
                /* Spaces around each end are trimmed. */
                { "  192.0.2.1 - 192.0.2.2  ", "192.0.2.1/32 192.0.2.2/32" },
                { "fd00::-fd00::ffff", "fd00::/112" },
                { "2001:db8::1-2001:db8::4", "2001:db8::1/128 2001:db8::2/127 2001:db8::4/128" },
                { "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0" },
                { "fd00::ffff:ffff:ffff:fffe-fd00:0:0:1::1", "fd00::ffff:ffff:ffff:fffe/127 fd00:0:0:1::/127" },
                { "::ffff:192.0.2.1-192.0.2.2", "192.0.2.1/32 192.0.2.2/32" },
                /* The ends as written in parse errors, canonical in the others. */
                { "192.0.2.300-192.0.2.1", "parsing address pool p: invalid IP range \"192.0.2.300-192.0.2.1\": invalid start IP \"192.0.2.300\"" },
                { " 192.0.2 - 192.0.2.1", "parsing address pool p: invalid IP range \" 192.0.2 - 192.0.2.1\": invalid start IP \" 192.0.2 \"" },
                { "-192.0.2.1", "parsing address pool p: invalid IP range \"-192.0.2.1\": invalid start IP \"\"" },
                { "192.0.2.1-", "parsing address pool p: invalid IP range \"192.0.2.1-\": invalid end IP \"\"" },
                { "192.0.2.1-192.0.2.2-192.0.2.3", "parsing address pool p: invalid IP range \"192.0.2.1-192.0.2.2-192.0.2.3\": invalid end IP \"192.0.2.2-192.0.2.3\"" },
                { "192.0.2.0/24-192.0.2.9", "parsing address pool p: invalid IP range \"192.0.2.0/24-192.0.2.9\": invalid start IP \"192.0.2.0/24\"" },
                { "192.0.2.9-192.0.2.1", "parsing address pool p: invalid IP range \"192.0.2.9-192.0.2.1\": start IP \"192.0.2.9\" is after the end IP \"192.0.2.1\"" },
                { "2001:DB8::9 - 2001:db8::1", "parsing address pool p: invalid IP range \"2001:DB8::9 - 2001:db8::1\": start IP \"2001:db8::9\" is after the end IP \"2001:db8::1\"" },
                { "192.0.2.1-2001:db8::1", "parsing address pool p: invalid IP range \"192.0.2.1-2001:db8::1\": start IP \"192.0.2.1\" and end IP \"2001:db8::1\" are not of the same family" },
                { "2001:db8::1-192.0.2.1", "parsing address pool p: invalid IP range \"2001:db8::1-192.0.2.1\": start IP \"2001:db8::1\" and end IP \"192.0.2.1\" are not of the same family" },
        };
        (void) state;
        check_entries(cases, ELEMENTSOF(cases));
}

/* The CRD's maxLength and pattern (§2 "Rule"), checked before anything else. */
static void test_entry_crd_check(void **state) {
        char long_entry[120], at_limit[101];
        (void) state;

        /* 100 characters are fine: a range padded with spaces. */
        memset(at_limit, ' ', 100);
        memcpy(at_limit, "192.0.2.1-192.0.2.2", 19);
        at_limit[100] = 0;
        char *got = parse_entry(at_limit);
        assert_string_equal(got, "192.0.2.1/32 192.0.2.2/32");
        free(got);

        memset(long_entry, '1', 101);
        long_entry[101] = 0;
        char expected[400];
        snprintf(expected, sizeof expected,
                 "parsing address pool p: invalid address entry \"%s\": longer than 100 characters", long_entry);
        got = parse_entry(long_entry);
        assert_string_equal(got, expected);
        free(got);
        /* Length first, even with a bad character. */
        long_entry[0] = '\t';
        got = parse_entry(long_entry);
        assert_non_null(strstr(got, "longer than 100 characters"));
        free(got);

        static const char *const cases[][2] = {
                { "192.0.2.0/24\t", "parsing address pool p: invalid address entry \"192.0.2.0/24\\t\": character '\\t' not allowed" },
                { "192.0.2.0/24\n", "parsing address pool p: invalid address entry \"192.0.2.0/24\\n\": character '\\n' not allowed" },
                { "10.0.0.0/8,11.0.0.0/8", "parsing address pool p: invalid address entry \"10.0.0.0/8,11.0.0.0/8\": character ',' not allowed" },
                { "fe80::1%eth0/64", "parsing address pool p: invalid address entry \"fe80::1%eth0/64\": character '%' not allowed" },
                { "a\"b", "parsing address pool p: invalid address entry \"a\\\"b\": character '\"' not allowed" },
                { "a'b", "parsing address pool p: invalid address entry \"a'b\": character '\\'' not allowed" },
                { "a\\b", "parsing address pool p: invalid address entry \"a\\\\b\": character '\\\\' not allowed" },
                { "10.0.0.\xc3\xa9/8", "parsing address pool p: invalid address entry \"10.0.0.\xc3\xa9/8\": character '\xc3\xa9' not allowed" },
                { "1\xff", "parsing address pool p: invalid address entry \"1\\xff\": character '\xef\xbf\xbd' not allowed" },
                { "1\xc2\xa0", "parsing address pool p: invalid address entry \"1\\u00a0\": character '\\u00a0' not allowed" },
                { "1\x7f", "parsing address pool p: invalid address entry \"1\\x7f\": character '\\x7f' not allowed" },
                { "G", "parsing address pool p: invalid address entry \"G\": character 'G' not allowed" },
        };
        check_entries(cases, ELEMENTSOF(cases));
        /* The space is in the pattern: it fails later, as a CIDR. */
        got = parse_entry("192.0.2.0/24 ");
        assert_non_null(strstr(got, "invalid CIDR"));
        free(got);
}

static void test_format_ip_list(void **state) {
        IpAddr ips[] = { ip("192.0.2.1"), ip("2001:DB8:0::1") };
        char *s;
        (void) state;

        s = lb_format_ip_list(ips, 2);
        assert_string_equal(s, "[\"192.0.2.1\" \"2001:db8::1\"]");
        free(s);
        s = lb_format_ip_list(ips, 1);
        assert_string_equal(s, "[\"192.0.2.1\"]");
        free(s);
        s = lb_format_ip_list(NULL, 0);
        assert_string_equal(s, "[]");
        free(s);
}

/* ---- §10 capacity ----------------------------------------------------------- */

static void test_capacity_table(void **state) {
        static const struct {
                const char *spec;
                int64_t v4, v6;
        } rows[] = {
                { "{addresses: [10.1.0.0/23], avoidBuggyIPs: true}", 508, 0 },
                { "{addresses: [192.0.2.0/32], avoidBuggyIPs: true}", 0, 0 },
                { "{addresses: [192.0.2.250-192.0.3.5]}", 12, 0 },
                { "{addresses: [192.0.2.250-192.0.3.5], avoidBuggyIPs: true}", 10, 0 },
                { "{addresses: [192.0.2.128/25, '2001:db8::/120'], avoidBuggyIPs: true}", 127, 256 },
                { "{addresses: ['fd00::/67']}", 0, INT64_C(2305843009213693952) },
                { "{addresses: ['fd00::/66']}", 0, INT64_MAX },
                { "{addresses: ['fd00::/64']}", 0, INT64_MAX },
                { "{addresses: ['fd00::/67', 'fd00:0:0:0:2000::/67', 'fd00:0:0:0:4000::/67', 'fd00:0:0:0:6000::/67']}", 0,
                  INT64_MAX },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char yaml[512];
                Built b;
                snprintf(yaml, sizeof yaml, POOL("p", "%s"), rows[i].spec);
                build_ok(&b, yaml);
                assert_int_equal(b.config->n_pools, 1);
                if (b.config->pools[0].capacity_v4 != rows[i].v4 || b.config->pools[0].capacity_v6 != rows[i].v6)
                        fail_msg("%s: capacity %" PRId64 "/%" PRId64 ", expected %" PRId64 "/%" PRId64, rows[i].spec,
                                 b.config->pools[0].capacity_v4, b.config->pools[0].capacity_v6, rows[i].v4, rows[i].v6);
                built_done(&b);
        }
}

/* ---- §3 errors, each naming its object ----------------------------------------- */

static void test_pool_errors(void **state) {
        (void) state;
        expect_error(POOL("p", "{addresses: []}"), &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: pool has no prefixes defined");
        expect_error(POOL("p", "{}"), &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: pool has no prefixes defined");
        expect_error(POOL("ok", "{addresses: [10.0.0.0/8]}") POOL("p", "{addresses: [192.0.2.0/24, 192.0.3.1]}"),
                     &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: invalid CIDR \"192.0.3.1\" in pool \"p\": invalid CIDR \"192.0.3.1\"");
        expect_error(POOL("p", "{addresses: [\"192.0.2.0/24\\t\"]}"), &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: invalid address entry \"192.0.2.0/24\\t\": character '\\t' not allowed");
        expect_error(POOL("p", "{addresses: [192.0.2.9-192.0.2.1]}"), &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: invalid IP range \"192.0.2.9-192.0.2.1\": start IP \"192.0.2.9\" is after the end IP \"192.0.2.1\"");
        expect_error(POOL("p", "{addresses: [192.0.2.0/24], serviceAllocation: {namespaces: [web, shop, web]}}"),
                     &kube_kind_ipaddresspool, "p", "parsing address pool p: duplicate definition in namespaces field");
        expect_error(POOL("p", "{addresses: [192.0.2.0/24], serviceAllocation: {namespaceSelectors: "
                               "[{matchLabels: {team: web}}, {matchLabels: {team: web}}]}}"),
                     &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: duplicate definition of namespaceSelectors \"team=web\"");
        expect_error(POOL("p", "{addresses: [192.0.2.0/24], serviceAllocation: {serviceSelectors: "
                               "[{matchExpressions: [{key: app, operator: In, values: [web, api, web]}]}]}}"),
                     &kube_kind_ipaddresspool, "p",
                     "parsing address pool p: duplicate definition of match expression value in label selector \"web\"");
        expect_error(POOL("p", "{addresses: [192.0.2.0/24], serviceAllocation: {serviceSelectors: "
                               "[{matchLabels: {'bad key': x}}]}}"),
                     &kube_kind_ipaddresspool, "p",
                     "invalid label selector in IPAddressPool \"p\": spec.serviceAllocation.serviceSelectors[0].matchLabels: key \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
}

static void clear_first_name(KubeObject **objects, size_t n) {
        assert_true(n > 0);
        free(objects[0]->meta.name);
        objects[0]->meta.name = strdup("");
        assert_non_null(objects[0]->meta.name);
}

/* Offline input only: the API server gives every object a name, and one
 * namespace cannot hold two pools of one name. */
static void test_pool_identity_errors(void **state) {
        (void) state;
        expect_error_hooked(POOL("p", "{addresses: [192.0.2.0/24]}"), clear_first_name, &kube_kind_ipaddresspool,
                            "metallb-system", "", "missing pool name");
        expect_error_hooked(POOL_META("{name: p, namespace: zz}", "{addresses: [192.0.2.0/24]}")
                            POOL_META("{name: p, namespace: aa}", "{addresses: [198.51.100.0/24]}"),
                            NULL, &kube_kind_ipaddresspool, "zz", "p", "duplicate definition of pool \"p\"");
}

static void test_overlap_errors(void **state) {
        (void) state;
        expect_error(POOL("a", "{addresses: [10.0.0.0/24]}") POOL("b", "{addresses: [10.0.0.128/25]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"10.0.0.128/25\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        /* Pools are processed by name, not in input order. */
        expect_error(POOL("b", "{addresses: [10.0.0.128/25]}") POOL("a", "{addresses: [10.0.0.0/24]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"10.0.0.128/25\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        /* Inside one pool, canonical forms (host bits cleared). */
        expect_error(POOL("a", "{addresses: [10.0.0.9/24, 10.0.0.7/32]}"), &kube_kind_ipaddresspool, "a",
                     "CIDR \"10.0.0.7/32\" in pool \"a\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        expect_error(POOL("a", "{addresses: [10.0.0.0/24, 10.0.0.0/24]}"), &kube_kind_ipaddresspool, "a",
                     "CIDR \"10.0.0.0/24\" in pool \"a\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        /* A range, after expansion. */
        expect_error(POOL("a", "{addresses: [192.0.3.0/24]}") POOL("b", "{addresses: [192.0.2.250-192.0.3.5]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"192.0.3.0/30\" in pool \"b\" overlaps with already defined CIDR \"192.0.3.0/24\"");
        expect_error(POOL("a", "{addresses: [192.0.2.1-192.0.2.10]}") POOL("b", "{addresses: [192.0.2.10-192.0.2.20]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"192.0.2.10/31\" in pool \"b\" overlaps with already defined CIDR \"192.0.2.10/32\"");
        /* The earlier CIDR may be the smaller one. */
        expect_error(POOL("a", "{addresses: [10.0.0.5/32]}") POOL("b", "{addresses: ['fd00::/8', 10.0.0.0/8]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"10.0.0.0/8\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.5/32\"");
        expect_error(POOL("a", "{addresses: ['2001:db8::/64']}") POOL("b", "{addresses: ['2001:db8::ffff/128']}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"2001:db8::ffff/128\" in pool \"b\" overlaps with already defined CIDR \"2001:db8::/64\"");
}

/* Only the first conflict in processing order is reported. */
static void test_overlap_first_conflict(void **state) {
        (void) state;
        /* b's 10.0.0.0/8 is the first CIDR to conflict; it overlaps a's /24
         * and b's own 10.1.0.0/24, and a's came first.  c conflicts too,
         * later. */
        expect_error(POOL("c", "{addresses: [10.1.0.0/16]}") POOL("a", "{addresses: [10.0.0.0/24]}")
                     POOL("b", "{addresses: [10.1.0.0/24, 10.0.0.0/8]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"10.0.0.0/8\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        /* An overlap in an earlier pool wins over a later pool's parse error ... */
        expect_error(POOL("a", "{addresses: [10.0.0.0/24]}") POOL("b", "{addresses: [10.0.0.0/25]}")
                     POOL("c", "{addresses: [10.0.0.0/33]}"),
                     &kube_kind_ipaddresspool, "b",
                     "CIDR \"10.0.0.0/25\" in pool \"b\" overlaps with already defined CIDR \"10.0.0.0/24\"");
        /* ... and a pool's parse error wins over its own overlaps. */
        expect_error(POOL("a", "{addresses: [10.0.0.0/24]}") POOL("b", "{addresses: [10.0.0.0/25, 10.0.0.0/33]}"),
                     &kube_kind_ipaddresspool, "b",
                     "parsing address pool b: invalid CIDR \"10.0.0.0/33\" in pool \"b\": invalid CIDR \"10.0.0.0/33\"");
        expect_error(POOL("a", "{addresses: [10.0.0.0/33]}") POOL("b", "{addresses: [10.0.0.0/24]}")
                     POOL("c", "{addresses: [10.0.0.0/24]}"),
                     &kube_kind_ipaddresspool, "a",
                     "parsing address pool a: invalid CIDR \"10.0.0.0/33\" in pool \"a\": invalid CIDR \"10.0.0.0/33\"");
        /* IPv4 and IPv6 never overlap, not even ::/0 and IPv4. */
        Built b;
        build_ok(&b, POOL("a", "{addresses: ['::/0']}") POOL("b", "{addresses: [0.0.0.0/0]}"));
        built_done(&b);
}

/* A big configuration: thousands of CIDRs, one late conflict. */
static void test_overlap_many(void **state) {
        size_t size = 4096 * 24 + 256, n = 0;
        char *yaml = malloc(size);
        (void) state;

        assert_non_null(yaml);
        n += (size_t) snprintf(yaml + n, size - n, "---\n{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, "
                                                   "metadata: {name: big, namespace: metallb-system}, spec: {addresses: [");
        for (unsigned i = 4096; i-- > 0;)
                n += (size_t) snprintf(yaml + n, size - n, "%s10.%u.%u.0/24", i < 4095 ? ", " : "", i / 256, i % 256);
        n += (size_t) snprintf(yaml + n, size - n, ", 10.15.200.64/26, 10.15.0.0/16]}}\n");
        expect_error(yaml, &kube_kind_ipaddresspool, "big",
                     "CIDR \"10.15.200.64/26\" in pool \"big\" overlaps with already defined CIDR \"10.15.200.0/24\"");
        free(yaml);
}

static void test_advertisement_errors(void **state) {
        (void) state;
        expect_error(POOL("a", "{addresses: [10.0.0.0/24]}") L2ADV("l2", "{ipAddressPools: [a, b, a]}"),
                     &kube_kind_l2advertisement, "l2", "duplicate definition of ipAddressPools \"a\"");
        expect_error(L2ADV("l2", "{nodeSelectors: [{matchLabels: {kubernetes.io/hostname: n1}}, "
                                 "{matchLabels: {kubernetes.io/hostname: n2}}, {matchLabels: {kubernetes.io/hostname: n1}}]}"),
                     &kube_kind_l2advertisement, "l2", "duplicate definition of nodeSelectors \"kubernetes.io/hostname=n1\"");
        /* Values are compared sorted, as MetalLB does. */
        expect_error(L2ADV("l2", "{nodeSelectors: [{matchExpressions: [{key: zone, operator: In, values: [b, a]}, "
                                 "{key: zone, operator: In, values: [a, b]}]}]}"),
                     &kube_kind_l2advertisement, "l2", "duplicate definition of match expressions \"zone in (a,b)\"");
        expect_error(L2ADV("l2", "{ipAddressPoolSelectors: [{matchLabels: {tier: gold}, matchExpressions: "
                                 "[{key: canary, operator: DoesNotExist}]}, {matchLabels: {tier: gold}, "
                                 "matchExpressions: [{key: canary, operator: DoesNotExist}]}]}"),
                     &kube_kind_l2advertisement, "l2",
                     "duplicate definition of ipAddressPoolSelectors \"tier=gold,!canary\"");
        expect_error(L2ADV("l2", "{serviceSelectors: [{matchExpressions: [{key: app, operator: NotIn, values: [x, x]}]}]}"),
                     &kube_kind_l2advertisement, "l2",
                     "duplicate definition of match expression value in label selector \"x\"");
        expect_error(L2ADV("l2", "{serviceSelectors: [{}, {}]}"), &kube_kind_l2advertisement, "l2",
                     "duplicate definition of serviceSelectors \"\"");
        expect_error(L2ADV("l2", "{nodeSelectors: [{matchExpressions: [{key: zone, operator: In}]}]}"),
                     &kube_kind_l2advertisement, "l2",
                     "invalid label selector in L2Advertisement \"l2\": spec.nodeSelectors[0].matchExpressions[0]: values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
        expect_error(L2ADV("l2", "{ipAddressPoolSelectors: [{matchLabels: {tier: gold}}, "
                                 "{matchExpressions: [{key: tier, operator: Near, values: [x]}]}]}"),
                     &kube_kind_l2advertisement, "l2",
                     "invalid label selector in L2Advertisement \"l2\": spec.ipAddressPoolSelectors[1].matchExpressions[0]: operator: Invalid value: \"Near\": not a valid selector operator");
}

/* Any error rejects the whole configuration; zero pools is valid; an
 * advertisement naming a missing pool is not an error. */
static void test_configuration_validity(void **state) {
        Built b;
        (void) state;

        expect_error(POOL("a", "{addresses: [10.0.0.0/24]}") POOL("b", "{addresses: [10.1.0.0/24]}")
                     L2ADV("good", "{}") L2ADV("bad", "{ipAddressPools: [a, a]}"),
                     &kube_kind_l2advertisement, "bad", "duplicate definition of ipAddressPools \"a\"");

        build_ok(&b, "");
        assert_int_equal(b.config->n_pools, 0);
        assert_int_equal(b.config->n_advertisements, 0);
        assert_null(lb_config_find_pool(b.config, "a"));
        IpAddr a = ip("10.0.0.1");
        assert_null(lb_config_pool_of(b.config, &a));
        built_done(&b);

        build_ok(&b, L2ADV("l2", "{ipAddressPools: [gone]}") NAMESPACE("web", "{}"));
        assert_int_equal(b.config->n_pools, 0);
        assert_int_equal(b.config->n_advertisements, 1);
        built_done(&b);

        build_ok(&b, POOL("a", "{addresses: [10.0.0.0/24]}") L2ADV("l2", "{ipAddressPools: [gone, a]}"));
        assert_true(b.config->pools[0].covered);
        built_done(&b);
}

/* ---- decoded pool fields, lookups ------------------------------------------------ */

static void test_pool_fields_and_lookup(void **state) {
        Built b;
        const LbPool *p;
        char *s;
        (void) state;

        build_ok(&b, POOL("zeta", "{addresses: [10.0.0.0/8]}")
                     POOL("beta", "{addresses: ['2001:db8::/64', 198.51.100.10-198.51.100.20], autoAssign: false}")
                     POOL_META("{name: alpha, namespace: metallb-system, annotations: {berth.io/drain: 'true'}}",
                               "{addresses: [192.0.2.0/24], avoidBuggyIPs: true, serviceAllocation: {priority: 5}}")
                     POOL_META("{name: gamma, namespace: metallb-system, annotations: {berth.io/drain: 'yes'}}",
                               "{addresses: [203.0.113.0/32], avoidBuggyIPs: true}"));
        assert_int_equal(b.config->n_pools, 4);
        /* Sorted by name. */
        assert_string_equal(b.config->pools[0].name, "alpha");
        assert_string_equal(b.config->pools[1].name, "beta");
        assert_string_equal(b.config->pools[2].name, "gamma");
        assert_string_equal(b.config->pools[3].name, "zeta");

        p = lb_config_find_pool(b.config, "alpha");
        assert_ptr_equal(p, &b.config->pools[0]);
        assert_ptr_equal(p->object->object.kind, &kube_kind_ipaddresspool);
        assert_true(p->auto_assign);
        assert_true(p->avoid_buggy_ips);
        assert_true(p->draining);
        assert_true(p->has_service_allocation);
        assert_int_equal(p->priority, 5);
        assert_false(p->namespace_restricted);
        assert_int_equal(p->capacity_v4, 254);

        p = lb_config_find_pool(b.config, "beta");
        assert_false(p->auto_assign);
        assert_false(p->draining);
        assert_false(p->has_service_allocation);
        /* List order, a range as its ascending CIDRs. */
        s = pool_cidrs(p);
        assert_string_equal(s, "2001:db8::/64 198.51.100.10/31 198.51.100.12/30 198.51.100.16/30 198.51.100.20/32");
        free(s);
        assert_int_equal(p->capacity_v4, 11);
        assert_int_equal(p->capacity_v6, INT64_MAX);
        assert_true(lb_pool_has_family(p, IP_FAMILY_V4));
        assert_true(lb_pool_has_family(p, IP_FAMILY_V6));

        /* "yes" is not "true"; a buggy /32 that is avoided has no address. */
        p = lb_config_find_pool(b.config, "gamma");
        assert_false(p->draining);
        assert_false(lb_pool_has_family(p, IP_FAMILY_V4));
        assert_false(lb_pool_has_family(p, IP_FAMILY_V6));
        assert_null(lb_config_find_pool(b.config, "delta"));
        assert_null(lb_config_find_pool(b.config, "zz"));

        static const struct {
                const char *ip, *pool;
        } lookups[] = {
                { "192.0.2.1", "alpha" },        { "192.0.2.254", "alpha" },
                { "192.0.2.0", NULL },           { "192.0.2.255", NULL }, /* avoided */
                { "198.51.100.10", "beta" },     { "198.51.100.15", "beta" },
                { "198.51.100.20", "beta" },     { "198.51.100.9", NULL },
                { "198.51.100.21", NULL },       { "2001:db8::5", "beta" },
                { "2001:db8::ffff:ffff:ffff:ffff", "beta" },
                { "2001:db8:0:1::", NULL },      { "10.0.0.0", "zeta" },
                { "10.255.255.255", "zeta" },    { "9.255.255.255", NULL },
                { "11.0.0.0", NULL },            { "::a00:1", NULL },
                { "203.0.113.0", NULL },         { "::ffff:10.0.0.1", "zeta" },
        };
        for (size_t i = 0; i < ELEMENTSOF(lookups); i++) {
                IpAddr a = ip(lookups[i].ip);
                const LbPool *got = lb_config_pool_of(b.config, &a);
                if (!streq_ptr(got ? got->name : NULL, lookups[i].pool))
                        fail_msg("%s: pool %s, expected %s", lookups[i].ip, got ? got->name : "(none)",
                                 lookups[i].pool ? lookups[i].pool : "(none)");
                if (got)
                        assert_true(lb_pool_contains(got, &a));
        }
        IpAddr buggy = ip("192.0.2.0"), inside = ip("192.0.2.7"), outside = ip("192.0.3.7");
        p = lb_config_find_pool(b.config, "alpha");
        assert_false(lb_pool_contains(p, &buggy));
        assert_true(lb_pool_contains(p, &inside));
        assert_false(lb_pool_contains(p, &outside));
        built_done(&b);
}

/* ---- §7.1 compatible ---------------------------------------------------------------- */

static const StrMap no_labels = {};

static void test_compatible(void **state) {
        Built b;
        const LbPool *p;
        StrMap app_web = { 1, (struct StrMapEntry[]) { { "app", "web" } } },
               app_api = { 1, (struct StrMapEntry[]) { { "app", "api" } } },
               tier_gold = { 1, (struct StrMapEntry[]) { { "tier", "gold" } } };
        (void) state;

        build_ok(&b, NAMESPACE("web", "{team: web}") NAMESPACE("api", "{team: api}") NAMESPACE("web2", "{team: web}")
                     POOL("plain", "{addresses: [10.0.0.0/24]}")
                     POOL("empty", "{addresses: [10.0.1.0/24], serviceAllocation: {}}")
                     POOL("byname", "{addresses: [10.0.2.0/24], serviceAllocation: {namespaces: [web, shop]}}")
                     POOL("bylabel", "{addresses: [10.0.3.0/24], serviceAllocation: "
                                     "{namespaceSelectors: [{matchLabels: {team: web}}]}}")
                     POOL("both", "{addresses: [10.0.4.0/24], serviceAllocation: {namespaces: [shop, web], "
                                  "namespaceSelectors: [{matchLabels: {team: web}}]}}")
                     POOL("bysvc", "{addresses: [10.0.5.0/24], serviceAllocation: {serviceSelectors: "
                                   "[{matchLabels: {app: web}}, {matchExpressions: [{key: tier, operator: In, values: [gold]}]}]}}")
                     POOL("nsandsvc", "{addresses: [10.0.6.0/24], serviceAllocation: {namespaces: [web], "
                                      "serviceSelectors: [{matchLabels: {app: web}}]}}")
                     POOL("nomatch", "{addresses: [10.0.7.0/24], serviceAllocation: "
                                     "{namespaceSelectors: [{matchLabels: {team: nobody}}]}}"));

        p = lb_config_find_pool(b.config, "plain");
        assert_false(p->has_service_allocation);
        assert_true(lb_pool_compatible(p, "anywhere", &no_labels));

        p = lb_config_find_pool(b.config, "empty");
        assert_true(p->has_service_allocation);
        assert_false(p->namespace_restricted);
        assert_true(lb_pool_compatible(p, "anywhere", &no_labels));

        p = lb_config_find_pool(b.config, "byname");
        assert_true(p->namespace_restricted);
        assert_int_equal(p->n_namespaces, 2);
        assert_string_equal(p->namespaces[0], "shop");
        assert_string_equal(p->namespaces[1], "web");
        assert_true(lb_pool_compatible(p, "web", &no_labels));
        assert_true(lb_pool_compatible(p, "shop", &app_api));
        assert_false(lb_pool_compatible(p, "api", &no_labels));

        p = lb_config_find_pool(b.config, "bylabel");
        assert_int_equal(p->n_namespaces, 2);
        assert_string_equal(p->namespaces[0], "web");
        assert_string_equal(p->namespaces[1], "web2");
        assert_true(lb_pool_compatible(p, "web2", &no_labels));
        assert_false(lb_pool_compatible(p, "api", &no_labels));

        /* The union, sorted, without duplicates. */
        p = lb_config_find_pool(b.config, "both");
        assert_int_equal(p->n_namespaces, 3);
        assert_string_equal(p->namespaces[0], "shop");
        assert_string_equal(p->namespaces[1], "web");
        assert_string_equal(p->namespaces[2], "web2");

        /* One of the selectors must match the Service's labels. */
        p = lb_config_find_pool(b.config, "bysvc");
        assert_false(p->namespace_restricted);
        assert_true(lb_pool_compatible(p, "api", &app_web));
        assert_true(lb_pool_compatible(p, "api", &tier_gold));
        assert_false(lb_pool_compatible(p, "api", &app_api));
        assert_false(lb_pool_compatible(p, "api", &no_labels));

        p = lb_config_find_pool(b.config, "nsandsvc");
        assert_true(lb_pool_compatible(p, "web", &app_web));
        assert_false(lb_pool_compatible(p, "web", &app_api));
        assert_false(lb_pool_compatible(p, "api", &app_web));

        /* §7.1: only a non-empty namespace set restricts, as in MetalLB, so
         * selectors that match no namespace leave the pool open. */
        p = lb_config_find_pool(b.config, "nomatch");
        assert_true(p->namespace_restricted);
        assert_int_equal(p->n_namespaces, 0);
        assert_true(lb_pool_compatible(p, "api", &no_labels));
        built_done(&b);
}

/* ---- §13.6 coverage ------------------------------------------------------------------ */

static void test_coverage(void **state) {
        Built b;
        StrMap app_web = { 1, (struct StrMapEntry[]) { { "app", "web" } } },
               app_api = { 1, (struct StrMapEntry[]) { { "app", "api" } } };
        (void) state;

        build_ok(&b, POOL("named", "{addresses: [10.0.0.0/24]}")
                     POOL_META("{name: labelled, namespace: metallb-system, labels: {tier: gold}}",
                               "{addresses: [10.0.1.0/24]}")
                     POOL_META("{name: other, namespace: metallb-system, labels: {tier: bronze}}",
                               "{addresses: [10.0.2.0/24]}")
                     POOL("selective", "{addresses: [10.0.3.0/24]}")
                     L2ADV("by-name", "{ipAddressPools: [named]}")
                     L2ADV("by-label", "{ipAddressPoolSelectors: [{matchLabels: {tier: gold}}]}")
                     L2ADV("web-only", "{ipAddressPools: [selective], serviceSelectors: [{matchLabels: {app: web}}]}"));
        assert_true(lb_config_find_pool(b.config, "named")->covered);
        assert_true(lb_config_find_pool(b.config, "labelled")->covered);
        assert_false(lb_config_find_pool(b.config, "other")->covered);
        assert_true(lb_config_find_pool(b.config, "selective")->covered);
        /* Sorted by namespace, then name. */
        assert_int_equal(b.config->n_advertisements, 3);
        assert_string_equal(b.config->advertisements[0]->object.meta.name, "by-label");
        assert_string_equal(b.config->advertisements[2]->object.meta.name, "web-only");

        assert_true(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "named"), &app_api));
        assert_true(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "labelled"), &no_labels));
        assert_false(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "other"), &app_web));
        assert_true(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "selective"), &app_web));
        assert_false(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "selective"), &app_api));
        assert_false(lb_config_service_covered(b.config, lb_config_find_pool(b.config, "selective"), &no_labels));
        built_done(&b);

        /* Both lists empty: every pool. */
        build_ok(&b, POOL("a", "{addresses: [10.0.0.0/24]}") POOL("b", "{addresses: [10.0.1.0/24]}")
                     L2ADV("all", "{interfaces: [eth0]}"));
        assert_true(b.config->pools[0].covered);
        assert_true(b.config->pools[1].covered);
        assert_true(lb_config_service_covered(b.config, &b.config->pools[1], &app_api));
        built_done(&b);

        /* No advertisement: nothing is covered. */
        build_ok(&b, POOL("a", "{addresses: [10.0.0.0/24]}"));
        assert_false(b.config->pools[0].covered);
        assert_false(lb_config_service_covered(b.config, &b.config->pools[0], &no_labels));
        built_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cidr_entries),
                cmocka_unit_test(test_range_entries),
                cmocka_unit_test(test_entry_crd_check),
                cmocka_unit_test(test_format_ip_list),
                cmocka_unit_test(test_capacity_table),
                cmocka_unit_test(test_pool_errors),
                cmocka_unit_test(test_pool_identity_errors),
                cmocka_unit_test(test_overlap_errors),
                cmocka_unit_test(test_overlap_first_conflict),
                cmocka_unit_test(test_overlap_many),
                cmocka_unit_test(test_advertisement_errors),
                cmocka_unit_test(test_configuration_validity),
                cmocka_unit_test(test_pool_fields_and_lookup),
                cmocka_unit_test(test_compatible),
                cmocka_unit_test(test_coverage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
