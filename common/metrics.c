/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct Series {
        char **values;            /* one per label name */
        double value;             /* counter/gauge value; histogram sum */
        unsigned long count;      /* histogram */
        unsigned long *buckets;   /* histogram, per bucket (not cumulative) */
} Series;

struct MetricFamily {
        char *name;
        char *help;
        MetricType type;
        size_t n_labels;
        char **label_names;
        size_t n_buckets;
        double *bounds;
        Series **series;          /* sorted by label values */
        size_t n_series, cap_series;
};

typedef struct Collector {
        metrics_collect_fn fn;
        void *userdata;
} Collector;

struct MetricsRegistry {
        MetricFamily **families;  /* sorted by name */
        size_t n_families, cap_families;
        Collector *collectors;
        size_t n_collectors;
};

static void strv_free_n(char **v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static Series *series_free(MetricFamily *f, Series *s) {
        if (!s)
                return NULL;
        strv_free_n(s->values, f->n_labels);
        free(s->buckets);
        free(s);
        return NULL;
}

static MetricFamily *family_free(MetricFamily *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_series; i++)
                series_free(f, f->series[i]);
        free(f->series);
        strv_free_n(f->label_names, f->n_labels);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
}

int metrics_registry_new(MetricsRegistry **ret) {
        MetricsRegistry *r = new0(MetricsRegistry, 1);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

MetricsRegistry *metrics_registry_free(MetricsRegistry *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_families; i++)
                family_free(r->families[i]);
        free(r->families);
        free(r->collectors);
        free(r);
        return NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels additionally exclude ':'
 * and the reserved "__" prefix. */
static bool name_valid(const char *s, bool label) {
        if (isempty(s))
                return false;
        if (label && startswith(s, "__"))
                return false;
        for (const char *p = s; *p; p++) {
                bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                          (!label && *p == ':') || (p != s && *p >= '0' && *p <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

static size_t strv_len(const char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static bool family_matches(const MetricFamily *f, MetricType type, const char *const *label_names,
                           const double *bounds, size_t n_bounds) {
        if (f->type != type || f->n_labels != strv_len(label_names))
                return false;
        for (size_t i = 0; i < f->n_labels; i++)
                if (!streq(f->label_names[i], label_names[i]))
                        return false;
        if (type == METRIC_HISTOGRAM) {
                if (f->n_buckets != n_bounds)
                        return false;
                for (size_t i = 0; i < n_bounds; i++)
                        if (f->bounds[i] != bounds[i])
                                return false;
        }
        return true;
}

/* Index of the item matching key (cmp == 0) in a sorted array of pointers, or
 * where it would go. */
typedef int (*item_cmp_fn)(const void *item, const void *key, const void *userdata);
static size_t sorted_find(void *const *items, size_t n, item_cmp_fn cmp, const void *key, const void *userdata,
                          bool *found) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = cmp(items[mid], key, userdata);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

static int family_name_cmp(const void *item, const void *key, const void *userdata) {
        (void) userdata;
        return strcmp(((const MetricFamily *) item)->name, key);
}

/* Index of name in the sorted family array, or where it would go. */
static size_t family_find(const MetricsRegistry *r, const char *name, bool *found) {
        return sorted_find((void *const *) r->families, r->n_families, family_name_cmp, name, NULL, found);
}

static int series_get(MetricFamily *f, const char *const *values, bool create, Series **ret);

static int family_register(MetricsRegistry *r, const char *name, const char *help, MetricType type,
                           const char *const *label_names, const double *bounds, size_t n_bounds,
                           MetricFamily **ret) {
        bool found;
        size_t n_labels = strv_len(label_names), idx;

        if (!name_valid(name, false) || n_labels > METRICS_MAX_LABELS)
                return -EINVAL;
        for (size_t i = 0; i < n_labels; i++) {
                if (!name_valid(label_names[i], true))
                        return -EINVAL;
                if (type == METRIC_HISTOGRAM && streq(label_names[i], "le"))
                        return -EINVAL;
        }
        if (type == METRIC_HISTOGRAM) {
                if (n_bounds == 0 || n_bounds > METRICS_MAX_BUCKETS)
                        return -EINVAL;
                for (size_t i = 0; i < n_bounds; i++)
                        if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                                return -EINVAL;
        }

        idx = family_find(r, name, &found);
        if (found) {
                if (!family_matches(r->families[idx], type, label_names, bounds, n_bounds))
                        return -EEXIST;
                *ret = r->families[idx];
                return 0;
        }

        MetricFamily *f = new0(MetricFamily, 1);
        if (!f)
                return -ENOMEM;
        f->type = type;
        f->n_labels = n_labels;
        f->name = strdup(name);
        f->help = strdup(strempty(help));
        f->label_names = new0(char *, n_labels + 1);
        if (!f->name || !f->help || !f->label_names)
                goto oom;
        for (size_t i = 0; i < n_labels; i++)
                if (!(f->label_names[i] = strdup(label_names[i])))
                        goto oom;
        if (type == METRIC_HISTOGRAM) {
                f->n_buckets = n_bounds;
                f->bounds = new0(double, n_bounds);
                if (!f->bounds)
                        goto oom;
                memcpy(f->bounds, bounds, n_bounds * sizeof(double));
        }

        if (r->n_families == r->cap_families) {
                size_t cap = r->cap_families ? r->cap_families * 2 : 16;
                MetricFamily **n = realloc(r->families, cap * sizeof(*n));
                if (!n)
                        goto oom;
                r->families = n;
                r->cap_families = cap;
        }
        memmove(r->families + idx + 1, r->families + idx, (r->n_families - idx) * sizeof(*r->families));
        r->families[idx] = f;
        r->n_families++;
        /* A family without labels has exactly one series, present from the
         * start (a counter reads 0 before its first increment). */
        if (n_labels == 0) {
                Series *s;
                (void) series_get(f, NULL, true, &s);
        }
        *ret = f;
        return 0;
oom:
        family_free(f);
        return -ENOMEM;
}

int metrics_counter(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                    MetricFamily **ret) {
        return family_register(r, name, help, METRIC_COUNTER, label_names, NULL, 0, ret);
}

int metrics_gauge(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                  MetricFamily **ret) {
        return family_register(r, name, help, METRIC_GAUGE, label_names, NULL, 0, ret);
}

int metrics_histogram(MetricsRegistry *r, const char *name, const char *help, const char *const *label_names,
                      const double *buckets, size_t n_buckets, MetricFamily **ret) {
        return family_register(r, name, help, METRIC_HISTOGRAM, label_names, buckets, n_buckets, ret);
}

void metrics_exponential_buckets(double start, double factor, size_t count, double *out) {
        double v = start;
        for (size_t i = 0; i < count; i++, v *= factor)
                out[i] = v;
}

static int series_cmp(const MetricFamily *f, char *const *a, const char *const *b) {
        for (size_t i = 0; i < f->n_labels; i++) {
                int c = strcmp(a[i], b[i]);
                if (c != 0)
                        return c;
        }
        return 0;
}

static int series_values_cmp(const void *item, const void *key, const void *userdata) {
        return series_cmp(userdata, ((const Series *) item)->values, key);
}

static size_t series_find(const MetricFamily *f, const char *const *values, bool *found) {
        return sorted_find((void *const *) f->series, f->n_series, series_values_cmp, values, f, found);
}

static int labels_check(const MetricFamily *f, const char *const *values) {
        if (f->n_labels > 0 && !values)
                return -EINVAL;
        for (size_t i = 0; i < f->n_labels; i++)
                if (!values[i])
                        return -EINVAL;
        return 0;
}

static int series_get(MetricFamily *f, const char *const *values, bool create, Series **ret) {
        bool found;
        size_t idx;
        int r;

        r = labels_check(f, values);
        if (r < 0)
                return r;
        idx = series_find(f, values, &found);
        if (found) {
                *ret = f->series[idx];
                return 0;
        }
        if (!create)
                return -ENOENT;
        if (f->n_series >= METRICS_MAX_SERIES_PER_FAMILY)
                return -E2BIG;

        Series *s = new0(Series, 1);
        if (!s)
                return -ENOMEM;
        s->values = new0(char *, f->n_labels + 1);
        if (!s->values)
                goto oom;
        for (size_t i = 0; i < f->n_labels; i++)
                if (!(s->values[i] = strdup(values[i])))
                        goto oom;
        if (f->type == METRIC_HISTOGRAM && !(s->buckets = new0(unsigned long, f->n_buckets)))
                goto oom;
        if (f->n_series == f->cap_series) {
                size_t cap = f->cap_series ? f->cap_series * 2 : 4;
                Series **n = realloc(f->series, cap * sizeof(*n));
                if (!n)
                        goto oom;
                f->series = n;
                f->cap_series = cap;
        }
        memmove(f->series + idx + 1, f->series + idx, (f->n_series - idx) * sizeof(*f->series));
        f->series[idx] = s;
        f->n_series++;
        *ret = s;
        return 0;
oom:
        series_free(f, s);
        return -ENOMEM;
}

int metric_add(MetricFamily *f, const char *const *label_values, double v) {
        Series *s;
        int r;

        if (!f || f->type == METRIC_HISTOGRAM || isnan(v))
                return -EINVAL;
        if (f->type == METRIC_COUNTER && v < 0)
                return -EINVAL;
        r = series_get(f, label_values, true, &s);
        if (r < 0)
                return r;
        s->value += v;
        return 0;
}

int metric_inc(MetricFamily *f, const char *const *label_values) {
        return metric_add(f, label_values, 1);
}

int metric_set(MetricFamily *f, const char *const *label_values, double v) {
        Series *s;
        int r;

        if (!f || f->type != METRIC_GAUGE)
                return -EINVAL;
        r = series_get(f, label_values, true, &s);
        if (r < 0)
                return r;
        s->value = v;
        return 0;
}

int metric_observe(MetricFamily *f, const char *const *label_values, double v) {
        Series *s;
        int r;

        if (!f || f->type != METRIC_HISTOGRAM || isnan(v))
                return -EINVAL;
        r = series_get(f, label_values, true, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < f->n_buckets; i++)
                if (v <= f->bounds[i]) {
                        s->buckets[i]++;
                        break;
                }
        s->count++;
        s->value += v;
        return 0;
}

int metric_remove(MetricFamily *f, const char *const *label_values) {
        bool found;
        size_t idx;
        int r;

        if (!f)
                return -EINVAL;
        r = labels_check(f, label_values);
        if (r < 0)
                return r;
        idx = series_find(f, label_values, &found);
        if (!found)
                return 0;
        series_free(f, f->series[idx]);
        memmove(f->series + idx, f->series + idx + 1, (f->n_series - idx - 1) * sizeof(*f->series));
        f->n_series--;
        return 0;
}

void metric_remove_matching(MetricFamily *f, const char *label_name, const char *value) {
        size_t li, w = 0;

        if (!f)
                return;
        for (li = 0; li < f->n_labels; li++)
                if (streq(f->label_names[li], label_name))
                        break;
        if (li == f->n_labels)
                return;
        for (size_t i = 0; i < f->n_series; i++) {
                if (streq(f->series[i]->values[li], value))
                        series_free(f, f->series[i]);
                else
                        f->series[w++] = f->series[i];
        }
        f->n_series = w;
}

void metric_clear(MetricFamily *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_series; i++)
                series_free(f, f->series[i]);
        f->n_series = 0;
}

int metric_get(MetricFamily *f, const char *const *label_values, double *ret_value, unsigned long *ret_count) {
        Series *s;
        int r;

        if (!f)
                return -EINVAL;
        r = series_get(f, label_values, false, &s);
        if (r < 0)
                return r;
        if (ret_value)
                *ret_value = s->value;
        if (ret_count)
                *ret_count = s->count;
        return 0;
}

size_t metric_series_count(const MetricFamily *f) {
        return f ? f->n_series : 0;
}

int metrics_add_collector(MetricsRegistry *r, metrics_collect_fn fn, void *userdata) {
        Collector *n = realloc(r->collectors, (r->n_collectors + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        r->collectors = n;
        r->collectors[r->n_collectors++] = (Collector){ fn, userdata };
        return 0;
}

void metrics_remove_collector(MetricsRegistry *r, metrics_collect_fn fn, void *userdata) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_collectors; i++)
                if (r->collectors[i].fn == fn && r->collectors[i].userdata == userdata) {
                        memmove(r->collectors + i, r->collectors + i + 1,
                                (r->n_collectors - i - 1) * sizeof(*r->collectors));
                        r->n_collectors--;
                        return;
                }
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct Buf {
        char *data;
        size_t len, cap;
        bool oom;
} Buf;

static void buf_append(Buf *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *d = realloc(b->data, cap);
                if (!d) {
                        b->oom = true;
                        return;
                }
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) {
        buf_append(b, s, strlen(s));
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void buf_escaped(Buf *b, const char *s, bool quote) {
        for (const char *p = s; *p; p++) {
                if (*p == '\\')
                        buf_puts(b, "\\\\");
                else if (*p == '\n')
                        buf_puts(b, "\\n");
                else if (quote && *p == '"')
                        buf_puts(b, "\\\"");
                else
                        buf_append(b, p, 1);
        }
}

/* Shortest text that reads back as the same double, laid out as Go's
 * strconv.FormatFloat(v, 'g', -1, 64) does (what Prometheus clients print):
 * exponent form when the decimal exponent is < -4 or >= 6. */
static void format_value(double v, char out[static 32]) {
        int prec, exp;
        char *e;

        if (isnan(v)) {
                strcpy(out, "NaN");
                return;
        }
        if (isinf(v)) {
                strcpy(out, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (v == 0) {
                strcpy(out, "0");
                return;
        }
        for (prec = 0; prec < 17; prec++) {
                snprintf(out, 32, "%.*e", prec, v);
                if (strtod(out, NULL) == v)
                        break;
        }
        e = strchr(out, 'e');
        exp = e ? atoi(e + 1) : 0;
        if (exp < -4 || exp >= 6)
                return;
        snprintf(out, 32, "%.*f", prec - exp > 0 ? prec - exp : 0, v);
}

static void buf_value(Buf *b, double v) {
        char t[32];
        format_value(v, t);
        buf_puts(b, t);
}

static void buf_labels(Buf *b, const MetricFamily *f, const Series *s, const char *le) {
        if (f->n_labels == 0 && !le)
                return;
        buf_puts(b, "{");
        for (size_t i = 0; i < f->n_labels; i++) {
                if (i > 0)
                        buf_puts(b, ",");
                buf_puts(b, f->label_names[i]);
                buf_puts(b, "=\"");
                buf_escaped(b, s->values[i], true);
                buf_puts(b, "\"");
        }
        if (le) {
                if (f->n_labels > 0)
                        buf_puts(b, ",");
                buf_puts(b, "le=\"");
                buf_puts(b, le);
                buf_puts(b, "\"");
        }
        buf_puts(b, "}");
}

static void render_family(Buf *b, const MetricFamily *f) {
        static const char *const type_names[] = {
                [METRIC_COUNTER] = "counter",
                [METRIC_GAUGE] = "gauge",
                [METRIC_HISTOGRAM] = "histogram",
        };

        buf_puts(b, "# HELP ");
        buf_puts(b, f->name);
        buf_puts(b, " ");
        buf_escaped(b, f->help, false);
        buf_puts(b, "\n# TYPE ");
        buf_puts(b, f->name);
        buf_puts(b, " ");
        buf_puts(b, type_names[f->type]);
        buf_puts(b, "\n");

        for (size_t i = 0; i < f->n_series; i++) {
                const Series *s = f->series[i];
                if (f->type != METRIC_HISTOGRAM) {
                        buf_puts(b, f->name);
                        buf_labels(b, f, s, NULL);
                        buf_puts(b, " ");
                        buf_value(b, s->value);
                        buf_puts(b, "\n");
                        continue;
                }
                unsigned long cumulative = 0;
                char le[32];
                for (size_t k = 0; k <= f->n_buckets; k++) {
                        if (k < f->n_buckets) {
                                cumulative += s->buckets[k];
                                format_value(f->bounds[k], le);
                        } else {
                                cumulative = s->count;
                                strcpy(le, "+Inf");
                        }
                        buf_puts(b, f->name);
                        buf_puts(b, "_bucket");
                        buf_labels(b, f, s, le);
                        buf_puts(b, " ");
                        buf_value(b, (double) cumulative);
                        buf_puts(b, "\n");
                }
                buf_puts(b, f->name);
                buf_puts(b, "_sum");
                buf_labels(b, f, s, NULL);
                buf_puts(b, " ");
                buf_value(b, s->value);
                buf_puts(b, "\n");
                buf_puts(b, f->name);
                buf_puts(b, "_count");
                buf_labels(b, f, s, NULL);
                buf_puts(b, " ");
                buf_value(b, (double) s->count);
                buf_puts(b, "\n");
        }
}

int metrics_render(MetricsRegistry *r, char **ret, size_t *ret_len) {
        Buf b = {};

        /* Collectors may add or remove series but never families. */
        for (size_t i = 0; i < r->n_collectors; i++)
                r->collectors[i].fn(r, r->collectors[i].userdata);

        buf_append(&b, "", 0);
        for (size_t i = 0; i < r->n_families; i++)
                if (r->families[i]->n_series > 0)
                        render_family(&b, r->families[i]);
        if (b.oom) {
                free(b.data);
                return -ENOMEM;
        }
        *ret = b.data;
        if (ret_len)
                *ret_len = b.len;
        return 0;
}
