/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "labels.h"
#include "validation.h"

bool label_map_matches(const StrMap *selector, const StrMap *labels) {
        /* Both are sorted by key: one merge pass. */
        size_t j = 0;
        for (size_t i = 0; i < selector->n; i++) {
                const struct StrMapEntry *want = &selector->entries[i];
                int c = 1;
                while (j < labels->n && (c = strcmp(labels->entries[j].key, want->key)) < 0)
                        j++;
                if (j >= labels->n || c != 0 || !streq(labels->entries[j].value, want->value))
                        return false;
        }
        return true;
}

static bool value_listed(const InternList *values, const char *v) {
        for (size_t i = 0; i < values->n; i++)
                if (streq(values->items[i], v))
                        return true;
        return false;
}

static bool requirement_matches(const LabelSelectorRequirement *r, const StrMap *labels) {
        const char *v = strmap_get(labels, r->key);
        switch (r->op) {
        case LABEL_OP_IN:
                return v && value_listed(&r->values, v);
        case LABEL_OP_NOT_IN:
                return !v || !value_listed(&r->values, v);
        case LABEL_OP_EXISTS:
                return v != NULL;
        case LABEL_OP_DOES_NOT_EXIST:
                return v == NULL;
        default:
                return false;
        }
}

bool label_selector_matches(const LabelSelector *s, const StrMap *labels) {
        _cleanup_free_ char *invalid = label_selector_validate(s);
        if (invalid)
                return false;
        if (!label_map_matches(&s->match_labels, labels))
                return false;
        for (size_t i = 0; i < s->n_expressions; i++)
                if (!requirement_matches(&s->expressions[i], labels))
                        return false;
        return true;
}

static char *prefixed(const char *where, char *msg) {
        char *out = NULL;
        if (!msg)
                return NULL;
        if (asprintf(&out, "%s: %s", where, msg) < 0)
                out = NULL;
        free(msg);
        return out ? out : strdup("out of memory");
}

char *label_map_validate(const StrMap *m) {
        char where[128];
        for (size_t i = 0; i < m->n; i++) {
                snprintf(where, sizeof where, "key \"%.64s\"", m->entries[i].key);
                char *e = validate_qualified_name(m->entries[i].key);
                if (e)
                        return prefixed(where, e);
                snprintf(where, sizeof where, "value of \"%.64s\"", m->entries[i].key);
                e = validate_label_value(m->entries[i].value);
                if (e)
                        return prefixed(where, e);
        }
        return NULL;
}

char *label_selector_validate(const LabelSelector *s) {
        char where[96];
        char *e = label_map_validate(&s->match_labels);

        if (e)
                return prefixed("matchLabels", e);
        for (size_t i = 0; i < s->n_expressions; i++) {
                const LabelSelectorRequirement *r = &s->expressions[i];
                snprintf(where, sizeof where, "matchExpressions[%zu].key", i);
                e = validate_qualified_name(strempty(r->key));
                if (e)
                        return prefixed(where, e);
                snprintf(where, sizeof where, "matchExpressions[%zu]", i);
                switch (r->op) {
                case LABEL_OP_IN:
                case LABEL_OP_NOT_IN:
                        if (r->values.n == 0)
                                return prefixed(where, strdup("values: Required value: must be specified when `operator` is 'In' or 'NotIn'"));
                        break;
                case LABEL_OP_EXISTS:
                case LABEL_OP_DOES_NOT_EXIST:
                        if (r->values.n > 0)
                                return prefixed(where, strdup("values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
                        break;
                default: {
                        char *msg = NULL;
                        if (asprintf(&msg, "operator: Invalid value: \"%s\": not a valid selector operator",
                                     strempty(r->operator_name)) < 0)
                                msg = NULL;
                        return prefixed(where, msg ? msg : strdup("out of memory"));
                }
                }
                for (size_t j = 0; j < r->values.n; j++) {
                        e = validate_label_value(r->values.items[j]);
                        if (e) {
                                snprintf(where, sizeof where, "matchExpressions[%zu].values[%zu]", i, j);
                                return prefixed(where, e);
                        }
                }
        }
        return NULL;
}
