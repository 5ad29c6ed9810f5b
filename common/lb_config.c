/* SPDX-License-Identifier: Apache-2.0 */
/* IPAddressPools and L2Advertisements into one validated, immutable
 * LbConfig (lbipam.md §3, §7.1, §10, §13.5, §13.6).  The checks and their
 * order follow MetalLB's config parser, so the first error reported is the
 * one MetalLB would report, in the §3 texts. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "lb_config.h"
#include "log.h"
#include "macros.h"

/* Defined in lb_config_parse.c: s as Go's %q prints it. */

/* One CIDR of the configuration. */
typedef struct LbCidrEntry {
        IpCidr cidr;
        IpAddr first, last;
        size_t pool; /* index in LbConfig.pools */
        size_t seq;  /* position in §3 processing order */
} LbCidrEntry;

/* What lb_config_build() hands out: the public LbConfig and an index of
 * every CIDR by family, then first address, for lb_config_pool_of().  So
 * lb_config_pool_of() needs an LbConfig made by lb_config_build(); the
 * other queries also work on one assembled by hand (tests). */
typedef struct LbConfigFull {
        LbConfig public; /* first: an LbConfig * is an LbConfigFull * */
        size_t n_index;
        LbCidrEntry *index;
} LbConfigFull;

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* ---- errors -------------------------------------------------------------- */

/* Fills *e about object o with message (taken): -EINVAL, or -ENOMEM. */
static int error_take(LbConfigError *e, const KubeObject *o, char *message) {
        LbConfigError x = {
                .kind = o->kind,
                .namespace = strdup(strempty(o->meta.namespace)),
                .name = strdup(strempty(o->meta.name)),
                .message = message,
        };

        if (!x.namespace || !x.name || !x.message) {
                lb_config_error_done(&x);
                return -ENOMEM;
        }
        *e = x;
        return -EINVAL;
}

_printf_(3, 4) static int error_set(LbConfigError *e, const KubeObject *o, const char *fmt, ...) {
        char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        va_end(ap);
        return error_take(e, o, message);
}

void lb_config_error_done(LbConfigError *e) {
        if (!e)
                return;
        free(e->namespace);
        free(e->name);
        free(e->message);
        *e = (LbConfigError) {};
}

/* ---- duplicates (MetalLB's validateDuplicate / validateLabelSelectorDuplicate) ---- */

typedef struct IndexedString {
        const char *s;
        size_t i;
} IndexedString;

static int indexed_string_compare(const void *a, const void *b) {
        const IndexedString *x = a, *y = b;
        int c = strcmp(x->s, y->s);
        return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* The smallest index i with items[j] == items[i] for some j > i (what a
 * pairwise scan finds first), in O(n log n); *ret = n when none. */
static int first_duplicate(const char *const *items, size_t n, size_t *ret) {
        _cleanup_free_ IndexedString *v = new0(IndexedString, n ? n : 1);
        size_t best = n;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (IndexedString) { strempty(items[i]), i };
        qsort(v, n, sizeof *v, indexed_string_compare);
        /* Equal strings are adjacent, the lowest index first in each run. */
        for (size_t i = 1, run = 0; i < n; i++) {
                if (!streq(v[run].s, v[i].s))
                        run = i;
                else if (v[run].i < best)
                        best = v[run].i;
        }
        *ret = best;
        return 0;
}

/* MetalLB sorts each expression's values before comparing, so expressions
 * and selectors are equal when they differ only in value order. */
typedef struct SortedExpression {
        const LabelSelectorRequirement *r;
        const char **values; /* sorted copy of r->values */
} SortedExpression;

static bool expression_equal(const SortedExpression *a, const SortedExpression *b) {
        if (!streq(strempty(a->r->key), strempty(b->r->key)) ||
            !streq(strempty(a->r->operator_name), strempty(b->r->operator_name)) || a->r->values.n != b->r->values.n)
                return false;
        for (size_t i = 0; i < a->r->values.n; i++)
                if (!streq(a->values[i], b->values[i]))
                        return false;
        return true;
}

/* One expression in label-selector syntax ("tier in (a,b)", "!canary"). */
static void expression_render(FILE *f, const SortedExpression *x) {
        const char *key = strempty(x->r->key);

        switch (x->r->op) {
        case LABEL_OP_EXISTS:
                fputs(key, f);
                return;
        case LABEL_OP_DOES_NOT_EXIST:
                fprintf(f, "!%s", key);
                return;
        case LABEL_OP_IN:
                fprintf(f, "%s in (", key);
                break;
        case LABEL_OP_NOT_IN:
                fprintf(f, "%s notin (", key);
                break;
        default:
                fprintf(f, "%s %s (", key, strempty(x->r->operator_name));
                break;
        }
        for (size_t i = 0; i < x->r->values.n; i++)
                fprintf(f, "%s%s", i > 0 ? "," : "", x->values[i]);
        fputc(')', f);
}

/* The selector (or, with s NULL, the expression x) rendered, then %q-quoted. */
static char *render_quoted(const LabelSelector *s, const SortedExpression *x) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (s) {
                for (size_t i = 0; i < s->match_labels.n; i++)
                        fprintf(f, "%s%s=%s", i > 0 ? "," : "", s->match_labels.entries[i].key,
                                s->match_labels.entries[i].value);
                for (size_t i = 0; i < s->n_expressions; i++) {
                        if (i > 0 || s->match_labels.n > 0)
                                fputc(',', f);
                        expression_render(f, &x[i]);
                }
        } else
                expression_render(f, x);
        if (fclose(f) != 0)
                return NULL;
        return lb_config_go_quote(buf);
}

typedef struct SortedSelectors {
        const LabelSelectors *l;
        SortedExpression **exprs; /* [selector][expression] */
} SortedSelectors;

static void sorted_selectors_done(SortedSelectors *s) {
        for (size_t i = 0; s->exprs && i < s->l->n; i++) {
                for (size_t j = 0; s->exprs[i] && j < s->l->items[i].n_expressions; j++)
                        free(s->exprs[i][j].values);
                free(s->exprs[i]);
        }
        free(s->exprs);
        *s = (SortedSelectors) {};
}

static int sorted_selectors_make(const LabelSelectors *l, SortedSelectors *ret) {
        _cleanup_(sorted_selectors_done) SortedSelectors s = { .l = l, .exprs = new0(SortedExpression *, l->n + 1) };

        if (!s.exprs)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const LabelSelector *sel = &l->items[i];
                s.exprs[i] = new0(SortedExpression, sel->n_expressions + 1);
                if (!s.exprs[i])
                        return -ENOMEM;
                for (size_t j = 0; j < sel->n_expressions; j++) {
                        const InternList *v = &sel->expressions[j].values;
                        SortedExpression *x = &s.exprs[i][j];
                        x->r = &sel->expressions[j];
                        x->values = new0(const char *, v->n + 1);
                        if (!x->values)
                                return -ENOMEM;
                        for (size_t k = 0; k < v->n; k++)
                                x->values[k] = strempty(v->items[k]);
                        qsort(x->values, v->n, sizeof(char *), strcmp_ptr);
                }
        }
        *ret = s;
        s = (SortedSelectors) {};
        return 0;
}

static bool selector_equal(const LabelSelector *a, const SortedExpression *ax, const LabelSelector *b,
                           const SortedExpression *bx) {
        if (!strmap_equal(&a->match_labels, &b->match_labels) || a->n_expressions != b->n_expressions)
                return false;
        for (size_t i = 0; i < a->n_expressions; i++)
                if (!expression_equal(&ax[i], &bx[i]))
                        return false;
        return true;
}

/* The first duplicate value, expression or selector of list, in MetalLB's
 * order: selector by selector, its expressions' values and expressions
 * first, then the selector against the later ones.  0 with *ret_message
 * NULL when there is none. */
static int selectors_find_duplicate(const LabelSelectors *l, const char *list_name, char **ret_message) {
        _cleanup_(sorted_selectors_done) SortedSelectors s = {};
        _cleanup_free_ char *q = NULL;
        char *message;
        const char *what;
        int r;

        r = sorted_selectors_make(l, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                const LabelSelector *sel = &l->items[i];
                for (size_t j = 0; j < sel->n_expressions; j++) {
                        const SortedExpression *x = &s.exprs[i][j];
                        for (size_t k = 1; k < x->r->values.n; k++)
                                if (streq(x->values[k - 1], x->values[k])) {
                                        what = "match expression value in label selector";
                                        q = lb_config_go_quote(x->values[k]);
                                        goto found;
                                }
                        for (size_t k = j + 1; k < sel->n_expressions; k++)
                                if (expression_equal(x, &s.exprs[i][k])) {
                                        what = "match expressions";
                                        q = render_quoted(NULL, x);
                                        goto found;
                                }
                }
                for (size_t j = i + 1; j < l->n; j++)
                        if (selector_equal(sel, s.exprs[i], &l->items[j], s.exprs[j])) {
                                what = list_name;
                                q = render_quoted(sel, s.exprs[i]);
                                goto found;
                        }
        }
        *ret_message = NULL;
        return 0;
found:
        if (!q || asprintf(&message, "duplicate definition of %s %s", what, q) < 0)
                return -ENOMEM;
        *ret_message = message;
        return 0;
}

/* The first selector of list that does not validate:
 * `invalid label selector in <Kind> "<name>": <path>[i].<detail>`. */
static int selectors_validate(const LabelSelectors *l, const KubeObject *o, const char *path, LbConfigError *e) {
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *detail = label_selector_validate(&l->items[i]), *q = NULL;
                if (!detail)
                        continue;
                q = lb_config_go_quote(strempty(o->meta.name));
                if (!q)
                        return -ENOMEM;
                return error_set(e, o, "invalid label selector in %s %s: %s[%zu].%s", o->kind->kind, q, path, i,
                                 detail);
        }
        return 0;
}

/* ---- pools ---------------------------------------------------------------- */

static int pool_append_cidrs(LbPool *p, IpCidr *cidrs, size_t n) {
        IpCidr *grown = reallocarray(p->cidrs, p->n_cidrs + n, sizeof(IpCidr));

        if (!grown)
                return -ENOMEM;
        memcpy(grown + p->n_cidrs, cidrs, n * sizeof(IpCidr));
        p->cidrs = grown;
        p->n_cidrs += n;
        return 0;
}

/* serviceAllocation.namespaces plus every Namespace one of
 * namespaceSelectors matches: sorted, unique, owned copies. */
static int pool_resolve_namespaces(LbPool *p, const LbConfigInput *in) {
        const IPAddressPool *o = p->object;
        size_t max = o->namespaces.n + in->n_namespaces, n = 0;
        _cleanup_free_ const char **names = new0(const char *, max ? max : 1);

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < o->namespaces.n; i++)
                names[n++] = strempty(o->namespaces.items[i]);
        for (size_t i = 0; i < in->n_namespaces && o->namespace_selectors.n > 0; i++) {
                const KubeObject *ns = in->namespaces[i];
                for (size_t j = 0; j < o->namespace_selectors.n; j++)
                        if (label_selector_matches(&o->namespace_selectors.items[j], &ns->meta.labels)) {
                                names[n++] = strempty(ns->meta.name);
                                break;
                        }
        }
        qsort(names, n, sizeof(char *), strcmp_ptr);
        p->namespaces = new0(char *, n ? n : 1);
        if (!p->namespaces)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (p->n_namespaces > 0 && streq(p->namespaces[p->n_namespaces - 1], names[i]))
                        continue;
                p->namespaces[p->n_namespaces] = strdup(names[i]);
                if (!p->namespaces[p->n_namespaces])
                        return -ENOMEM;
                p->n_namespaces++;
        }
        return 0;
}

static int pool_check_service_allocation(LbPool *p, const LbConfigInput *in, LbConfigError *e) {
        const IPAddressPool *o = p->object;
        const KubeObject *obj = &o->object;
        static const struct {
                size_t offset;
                const char *name, *path;
        } lists[] = {
                { offsetof(IPAddressPool, namespace_selectors), "namespaceSelectors",
                  "spec.serviceAllocation.namespaceSelectors" },
                { offsetof(IPAddressPool, service_selectors), "serviceSelectors",
                  "spec.serviceAllocation.serviceSelectors" },
        };
        size_t dup;
        int r;

        if (!o->has_service_allocation)
                return 0;
        r = first_duplicate(o->namespaces.items, o->namespaces.n, &dup);
        if (r < 0)
                return r;
        if (dup < o->namespaces.n)
                return error_set(e, obj, "parsing address pool %s: duplicate definition in namespaces field", p->name);
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                const LabelSelectors *l = (const LabelSelectors *) ((const char *) o + lists[i].offset);
                _cleanup_free_ char *message = NULL;
                r = selectors_find_duplicate(l, lists[i].name, &message);
                if (r < 0)
                        return r;
                if (message)
                        return error_set(e, obj, "parsing address pool %s: %s", p->name, message);
        }
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                const LabelSelectors *l = (const LabelSelectors *) ((const char *) o + lists[i].offset);
                r = selectors_validate(l, obj, lists[i].path, e);
                if (r < 0)
                        return r;
        }
        p->namespace_restricted = o->namespaces.n > 0 || o->namespace_selectors.n > 0;
        return pool_resolve_namespaces(p, in);
}

/* Everything MetalLB's addressPoolFromCR checks, in its order; p->object is
 * already set (and referenced). */
static int pool_parse(LbPool *p, const LbConfigInput *in, LbConfigError *e) {
        const IPAddressPool *o = p->object;
        int r;

        p->name = strempty(o->object.meta.name);
        if (isempty(p->name))
                return error_set(e, &o->object, "missing pool name");
        if (o->addresses.n == 0)
                return error_set(e, &o->object, "parsing address pool %s: pool has no prefixes defined", p->name);
        for (size_t i = 0; i < o->addresses.n; i++) {
                _cleanup_free_ IpCidr *cidrs = NULL;
                char *message = NULL;
                size_t n = 0;
                r = lb_parse_address_entry(p->name, o->addresses.items[i], &cidrs, &n, &message);
                if (r == -EINVAL)
                        return error_take(e, &o->object, message);
                if (r < 0)
                        return r;
                r = pool_append_cidrs(p, cidrs, n);
                if (r < 0)
                        return r;
        }
        r = pool_check_service_allocation(p, in, e);
        if (r < 0)
                return r;
        p->auto_assign = o->auto_assign;
        p->avoid_buggy_ips = o->avoid_buggy_ips;
        p->draining = ipaddresspool_is_draining(o);
        p->has_service_allocation = o->has_service_allocation;
        p->priority = o->priority;
        for (size_t i = 0; i < p->n_cidrs; i++) {
                int64_t *cap = p->cidrs[i].addr.family == IP_FAMILY_V4 ? &p->capacity_v4 : &p->capacity_v6;
                *cap = lb_add_saturating(*cap, lb_cidr_capacity(&p->cidrs[i], p->avoid_buggy_ips));
        }
        return 0;
}

static int object_name_namespace_compare(const void *a, const void *b) {
        const KubeObject *x = *(const KubeObject *const *) a, *y = *(const KubeObject *const *) b;
        int c = strcmp(strempty(x->meta.name), strempty(y->meta.name));
        return c != 0 ? c : strcmp(strempty(x->meta.namespace), strempty(y->meta.namespace));
}

static int object_namespace_name_compare(const void *a, const void *b) {
        const KubeObject *x = *(const KubeObject *const *) a, *y = *(const KubeObject *const *) b;
        int c = strcmp(strempty(x->meta.namespace), strempty(y->meta.namespace));
        return c != 0 ? c : strcmp(strempty(x->meta.name), strempty(y->meta.name));
}

/* ---- overlaps ------------------------------------------------------------- */

/* Family, first address, larger block first, then processing order: every
 * block comes right after the blocks that contain it (aligned CIDRs either
 * nest or are disjoint), an identical later copy counting as contained. */
static int cidr_entry_compare(const void *a, const void *b) {
        const LbCidrEntry *x = a, *y = b;
        int c = ip_addr_compare(&x->first, &y->first);
        if (c != 0)
                return c;
        if (x->cidr.prefix != y->cidr.prefix)
                return x->cidr.prefix < y->cidr.prefix ? -1 : 1;
        return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool cidr_entry_contains(const LbCidrEntry *outer, const LbCidrEntry *inner) {
        return outer->first.family == inner->first.family && ip_addr_compare(&inner->first, &outer->last) <= 0;
}

/* The first conflict in processing order (lbipam.md §3): the smallest seq c
 * that shares an address with an earlier CIDR, and the earliest such CIDR
 * m.  Overlapping aligned CIDRs nest, so m is c's earliest ancestor or
 * descendant in the containment forest: one walk of the sorted entries with
 * a stack gives both in O(n) after the O(n log n) sort, instead of MetalLB's
 * pairwise scan.  sorted[] is in cidr_entry_compare() order. */
static int find_first_overlap(const LbCidrEntry *sorted, size_t n, size_t *ret_later, size_t *ret_earlier) {
        _cleanup_free_ size_t *stack = new0(size_t, n + 1), *above = new0(size_t, n + 1),
                              *below = new0(size_t, n + 1), *above_incl = new0(size_t, n + 1);
        size_t depth = 0;

        if (!stack || !above || !below || !above_incl)
                return -ENOMEM;
        /* above[seq]: earliest strict ancestor; below[seq]: earliest strict descendant. */
        for (size_t i = 0; i < n; i++)
                below[i] = SIZE_MAX;
        for (size_t k = 0; k <= n; k++) {
                while (depth > 0 && (k == n || !cidr_entry_contains(&sorted[stack[depth - 1]], &sorted[k]))) {
                        size_t child = sorted[stack[--depth]].seq;
                        if (depth > 0) {
                                size_t parent = sorted[stack[depth - 1]].seq;
                                size_t sub = child < below[child] ? child : below[child];
                                if (sub < below[parent])
                                        below[parent] = sub;
                        }
                }
                if (k == n)
                        break;
                size_t seq = sorted[k].seq;
                above[seq] = depth > 0 ? above_incl[sorted[stack[depth - 1]].seq] : SIZE_MAX;
                above_incl[seq] = seq < above[seq] ? seq : above[seq];
                stack[depth++] = k;
        }
        for (size_t seq = 0; seq < n; seq++) {
                size_t earliest = above[seq] < below[seq] ? above[seq] : below[seq];
                if (earliest < seq) {
                        *ret_later = seq;
                        *ret_earlier = earliest;
                        return 1;
                }
        }
        return 0;
}

static const char *cidr_format(const IpCidr *c, char buf[static IP_ADDR_STRLEN + 4]) {
        char addr[IP_ADDR_STRLEN];
        snprintf(buf, IP_ADDR_STRLEN + 4, "%s/%u", ip_addr_format(&c->addr, addr), c->prefix);
        return buf;
}

/* Every CIDR of the first n_pools pools, sorted; the overlap error, if any. */
static int index_build(LbConfigFull *f, size_t n_pools, LbConfigError *e) {
        const LbConfig *c = &f->public;
        size_t n = 0, later, earlier;
        _cleanup_free_ size_t *pos_of_seq = NULL;
        int r;

        for (size_t i = 0; i < n_pools; i++)
                n += c->pools[i].n_cidrs;
        f->index = new0(LbCidrEntry, n ? n : 1);
        pos_of_seq = new0(size_t, n ? n : 1);
        if (!f->index || !pos_of_seq)
                return -ENOMEM;
        for (size_t i = 0; i < n_pools; i++)
                for (size_t j = 0; j < c->pools[i].n_cidrs; j++) {
                        LbCidrEntry *x = &f->index[f->n_index];
                        *x = (LbCidrEntry) { .cidr = c->pools[i].cidrs[j], .pool = i, .seq = f->n_index };
                        ip_cidr_bounds(&x->cidr, &x->first, &x->last);
                        f->n_index++;
                }
        qsort(f->index, n, sizeof(LbCidrEntry), cidr_entry_compare);
        r = find_first_overlap(f->index, n, &later, &earlier);
        if (r <= 0)
                return r;
        for (size_t k = 0; k < n; k++)
                pos_of_seq[f->index[k].seq] = k;
        const LbCidrEntry *x = &f->index[pos_of_seq[later]], *m = &f->index[pos_of_seq[earlier]];
        const LbPool *p = &c->pools[x->pool];
        char xb[IP_ADDR_STRLEN + 4], mb[IP_ADDR_STRLEN + 4];
        _cleanup_free_ char *q = lb_config_go_quote(p->name);
        if (!q)
                return -ENOMEM;
        return error_set(e, &p->object->object, "CIDR \"%s\" in pool %s overlaps with already defined CIDR \"%s\"",
                         cidr_format(&x->cidr, xb), q, cidr_format(&m->cidr, mb));
}

/* Pools in §3 order: each one parsed, then the duplicate-name check, then
 * its overlaps with everything before it.  A pool that fails is reported
 * only when no earlier pool overlapped. */
static int pools_build(LbConfigFull *f, const LbConfigInput *in, LbConfigError *e) {
        LbConfig *c = &f->public;
        _cleanup_free_ KubeObject **sorted = new0(KubeObject *, in->n_pools + 1);
        _cleanup_(lb_config_error_done) LbConfigError pending = {};
        size_t good = 0;
        int r = 0;

        c->pools = new0(LbPool, in->n_pools + 1);
        if (!sorted || !c->pools)
                return -ENOMEM;
        if (in->n_pools > 0)
                memcpy(sorted, in->pools, in->n_pools * sizeof(KubeObject *));
        qsort(sorted, in->n_pools, sizeof(KubeObject *), object_name_namespace_compare);
        for (; good < in->n_pools; good++) {
                LbPool *p = &c->pools[good];
                p->object = (IPAddressPool *) kube_object_ref(sorted[good]);
                c->n_pools++;
                r = pool_parse(p, in, &pending);
                if (r == 0 && good > 0 && streq(p->name, c->pools[good - 1].name)) {
                        _cleanup_free_ char *q = lb_config_go_quote(p->name);
                        r = q ? error_set(&pending, &p->object->object, "duplicate definition of pool %s", q) : -ENOMEM;
                }
                if (r < 0)
                        break;
        }
        if (r < 0 && r != -EINVAL)
                return r;
        r = index_build(f, good, e);
        if (r != 0 || !pending.message)
                return r;
        *e = pending;
        pending = (LbConfigError) {};
        return -EINVAL;
}

/* ---- advertisements ------------------------------------------------------- */

static int advertisement_check(const L2Advertisement *a, LbConfigError *e) {
        const KubeObject *o = &a->object;
        const struct {
                const LabelSelectors *l;
                const char *name, *path;
        } lists[] = {
                { &a->ip_address_pool_selectors, "ipAddressPoolSelectors", "spec.ipAddressPoolSelectors" },
                { &a->node_selectors, "nodeSelectors", "spec.nodeSelectors" },
                { &a->service_selectors, "serviceSelectors", "spec.serviceSelectors" },
        };
        size_t dup;
        int r;

        r = first_duplicate((const char *const *) a->ip_address_pools.items, a->ip_address_pools.n, &dup);
        if (r < 0)
                return r;
        if (dup < a->ip_address_pools.n) {
                _cleanup_free_ char *q = lb_config_go_quote(a->ip_address_pools.items[dup]);
                return q ? error_set(e, o, "duplicate definition of ipAddressPools %s", q) : -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                _cleanup_free_ char *message = NULL;
                r = selectors_find_duplicate(lists[i].l, lists[i].name, &message);
                if (r < 0)
                        return r;
                if (message)
                        return error_take(e, o, TAKE_PTR(message));
        }
        /* MetalLB parses the node selectors, then the service selectors,
         * then the pool selectors. */
        for (size_t i = 1; i <= ELEMENTSOF(lists); i++) {
                size_t k = i % ELEMENTSOF(lists);
                r = selectors_validate(lists[k].l, o, lists[k].path, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool lb_advertisement_covers(const L2Advertisement *a, const LbPool *p) {
        if (a->ip_address_pools.n == 0 && a->ip_address_pool_selectors.n == 0)
                return true;
        for (size_t i = 0; i < a->ip_address_pools.n; i++)
                if (streq(a->ip_address_pools.items[i], p->name))
                        return true;
        for (size_t i = 0; i < a->ip_address_pool_selectors.n; i++)
                if (label_selector_matches(&a->ip_address_pool_selectors.items[i], &p->object->object.meta.labels))
                        return true;
        return false;
}

static int advertisements_build(LbConfig *c, const LbConfigInput *in, LbConfigError *e) {
        c->advertisements = new0(L2Advertisement *, in->n_advertisements + 1);
        if (!c->advertisements)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_advertisements; i++)
                c->advertisements[c->n_advertisements++] = (L2Advertisement *) kube_object_ref(in->advertisements[i]);
        qsort(c->advertisements, c->n_advertisements, sizeof(L2Advertisement *), object_namespace_name_compare);
        for (size_t i = 0; i < c->n_advertisements; i++) {
                const L2Advertisement *a = c->advertisements[i];
                int r = advertisement_check(a, e);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < a->ip_address_pools.n; j++)
                        if (!lb_config_find_pool(c, a->ip_address_pools.items[j]))
                                log_debug("L2Advertisement %s/%s names pool \"%s\", which does not exist",
                                          strempty(a->object.meta.namespace), strempty(a->object.meta.name),
                                          a->ip_address_pools.items[j]);
        }
        for (size_t i = 0; i < c->n_pools; i++)
                for (size_t j = 0; j < c->n_advertisements && !c->pools[i].covered; j++)
                        c->pools[i].covered = lb_advertisement_covers(c->advertisements[j], &c->pools[i]);
        return 0;
}

/* ---- the configuration ------------------------------------------------------ */

int lb_config_build(const LbConfigInput *in, LbConfig **ret, LbConfigError *ret_error) {
        _cleanup_(lb_config_freep) LbConfig *c = NULL;
        LbConfigFull *f = new0(LbConfigFull, 1);
        LbConfigError e = {};
        int r;

        if (!f)
                return -ENOMEM;
        c = &f->public;
        r = pools_build(f, in, &e);
        if (r == 0)
                r = advertisements_build(c, in, &e);
        if (r == -EINVAL) {
                *ret_error = e;
                return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

LbConfig *lb_config_free(LbConfig *c) {
        LbConfigFull *f = (LbConfigFull *) c;

        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_pools; i++) {
                LbPool *p = &c->pools[i];
                kube_object_unref(&p->object->object);
                free(p->cidrs);
                for (size_t j = 0; j < p->n_namespaces; j++)
                        free(p->namespaces[j]);
                free(p->namespaces);
        }
        free(c->pools);
        for (size_t i = 0; i < c->n_advertisements; i++)
                kube_object_unref(&c->advertisements[i]->object);
        free(c->advertisements);
        free(f->index);
        free(f);
        return NULL;
}

/* ---- queries -------------------------------------------------------------- */

const LbPool *lb_config_find_pool(const LbConfig *c, const char *name) {
        size_t i;

        if (!c || !name)
                return NULL;
        i = SORTED_LOWER_BOUND(c->pools, c->n_pools, name, name);
        return i < c->n_pools && streq(c->pools[i].name, name) ? &c->pools[i] : NULL;
}

const LbPool *lb_config_pool_of(const LbConfig *c, const IpAddr *ip) {
        const LbConfigFull *f = (const LbConfigFull *) c;
        size_t lo = 0, hi;
        const LbPool *p;

        if (!c || !ip)
                return NULL;
        /* The last CIDR that starts at or below ip: pools never overlap in a
         * valid configuration, so it is the only one that can hold ip. */
        hi = f->n_index;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ip_addr_compare(&f->index[mid].first, ip) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 || !ip_cidr_contains(&f->index[lo - 1].cidr, ip))
                return NULL;
        p = &c->pools[f->index[lo - 1].pool];
        return p->avoid_buggy_ips && lb_ip_is_buggy(ip) ? NULL : p;
}

bool lb_pool_contains(const LbPool *p, const IpAddr *ip) {
        if (p->avoid_buggy_ips && lb_ip_is_buggy(ip))
                return false;
        for (size_t i = 0; i < p->n_cidrs; i++)
                if (ip_cidr_contains(&p->cidrs[i], ip))
                        return true;
        return false;
}

bool lb_pool_has_family(const LbPool *p, IpFamily f) {
        return (f == IP_FAMILY_V4 ? p->capacity_v4 : f == IP_FAMILY_V6 ? p->capacity_v6 : 0) > 0;
}

/* §7.1, as MetalLB's isPoolCompatibleWithService: the namespace set
 * restricts only when it is non-empty. */
bool lb_pool_compatible(const LbPool *p, const char *service_namespace, const StrMap *service_labels) {
        const LabelSelectors *sel = &p->object->service_selectors;
        const char *ns = strempty(service_namespace);

        if (p->n_namespaces > 0 && !bsearch_safe(&ns, p->namespaces, p->n_namespaces, sizeof(char *), strcmp_ptr))
                return false;
        if (sel->n == 0)
                return true;
        for (size_t i = 0; i < sel->n; i++)
                if (label_selector_matches(&sel->items[i], service_labels))
                        return true;
        return false;
}

bool lb_config_service_covered(const LbConfig *c, const LbPool *p, const StrMap *service_labels) {
        for (size_t i = 0; i < c->n_advertisements; i++) {
                const L2Advertisement *a = c->advertisements[i];
                if (!lb_advertisement_covers(a, p))
                        continue;
                if (a->service_selectors.n == 0)
                        return true;
                for (size_t j = 0; j < a->service_selectors.n; j++)
                        if (label_selector_matches(&a->service_selectors.items[j], service_labels))
                                return true;
        }
        return false;
}

bool lb_service_handled(const Service *s, const char *lb_class) {
        if (isempty(lb_class))
                return isempty(s->load_balancer_class);
        return streq_ptr(s->load_balancer_class, lb_class);
}

bool lb_config_update_matters(const KubeObject *old, const KubeObject *new) {
        if (new->kind == &kube_kind_ipaddresspool && old->kind == new->kind)
                return !ipaddresspool_config_equal(IPADDRESSPOOL(old), IPADDRESSPOOL(new));
        return true;
}
