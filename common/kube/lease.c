/* SPDX-License-Identifier: Apache-2.0 */
/* Lease records and the pure leader-election logic (lease.h layers 1 and 2);
 * the loop side lives in leader_elector.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "json.h"
#include "lease.h"

/* ---- strv pairs ---------------------------------------------------------- */

static void pairs_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static size_t pairs_len(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static int pairs_copy(char *const *src, char ***ret) {
        size_t n = pairs_len(src);
        char **v;

        if (!src) {
                *ret = NULL;
                return 0;
        }
        v = new0(char *, n + 1);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(v[i] = strdup(src[i]))) {
                        pairs_free(v);
                        return -ENOMEM;
                }
        *ret = v;
        return 0;
}

static const char *pairs_get(char *const *v, const char *key) {
        for (size_t i = 0; v && v[i] && v[i + 1]; i += 2)
                if (streq(v[i], key))
                        return v[i + 1];
        return NULL;
}

static int pairs_set(char ***v, const char *key, const char *value) {
        size_t n = pairs_len(*v);
        char **nv;

        for (size_t i = 0; i + 1 < n; i += 2)
                if (streq((*v)[i], key)) {
                        if (value)
                                return free_and_strdup(&(*v)[i + 1], value);
                        free((*v)[i]);
                        free((*v)[i + 1]);
                        memmove(*v + i, *v + i + 2, (n - i - 1) * sizeof(char *));
                        return 0;
                }
        if (!value)
                return 0;
        nv = realloc(*v, (n + 3) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[n] = strdup(key);
        nv[n + 1] = strdup(value);
        nv[n + 2] = NULL;
        if (!nv[n] || !nv[n + 1]) {
                free(nv[n]);
                free(nv[n + 1]);
                nv[n] = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- record -------------------------------------------------------------- */

static void owner_done(LeaseOwnerRef *o) {
        free(o->api_version);
        free(o->kind);
        free(o->name);
        free(o->uid);
        *o = (LeaseOwnerRef){};
}

void lease_record_done(LeaseRecord *r) {
        if (!r)
                return;
        free(r->namespace);
        free(r->name);
        free(r->uid);
        free(r->resource_version);
        free(r->holder_identity);
        pairs_free(r->labels);
        pairs_free(r->annotations);
        for (size_t i = 0; i < r->n_owners; i++)
                owner_done(&r->owners[i]);
        *r = (LeaseRecord){};
}

static int strdup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int lease_record_copy(const LeaseRecord *src, LeaseRecord *ret) {
        LeaseRecord r = {
                .lease_duration_seconds = src->lease_duration_seconds,
                .acquire_time = src->acquire_time,
                .renew_time = src->renew_time,
                .lease_transitions = src->lease_transitions,
        };
        if (strdup_opt(src->namespace, &r.namespace) < 0 || strdup_opt(src->name, &r.name) < 0 ||
            strdup_opt(src->uid, &r.uid) < 0 || strdup_opt(src->resource_version, &r.resource_version) < 0 ||
            strdup_opt(src->holder_identity, &r.holder_identity) < 0 || pairs_copy(src->labels, &r.labels) < 0 ||
            pairs_copy(src->annotations, &r.annotations) < 0)
                goto oom;
        for (size_t i = 0; i < src->n_owners; i++) {
                const LeaseOwnerRef *o = &src->owners[i];
                LeaseOwnerRef *n = &r.owners[r.n_owners++];
                n->controller = o->controller;
                if (strdup_opt(o->api_version, &n->api_version) < 0 || strdup_opt(o->kind, &n->kind) < 0 ||
                    strdup_opt(o->name, &n->name) < 0 || strdup_opt(o->uid, &n->uid) < 0)
                        goto oom;
        }
        *ret = r;
        return 0;
oom:
        lease_record_done(&r);
        return -ENOMEM;
}

static int fail_field(char **ret_error, const char *field, const char *why) {
        if (ret_error && asprintf(ret_error, "Lease %s: %s", field, why) < 0)
                *ret_error = NULL;
        return -EINVAL;
}

static int decode_pairs(const JsonValue *obj, const char *field, char ***ret, char **ret_error) {
        const JsonValue *v;
        const char *k;
        char **p = NULL;

        if (!obj || json_is_null(obj))
                return 0;
        if (json_type(obj) != JSON_OBJECT)
                return fail_field(ret_error, field, "not an object");
        JSON_OBJECT_FOREACH(k, v, obj) {
                if (!json_string(v)) {
                        pairs_free(p);
                        return fail_field(ret_error, field, "value is not a string");
                }
                if (pairs_set(&p, k, json_string(v)) < 0) {
                        pairs_free(p);
                        return -ENOMEM;
                }
        }
        if (!p)
                p = new0(char *, 1); /* present but empty */
        *ret = p;
        return p ? 0 : -ENOMEM;
}

static int decode_time(const JsonValue *v, const char *field, usec_t *ret, char **ret_error) {
        if (!v || json_is_null(v))
                return 0;
        if (!json_string(v) || rfc3339_parse(json_string(v), ret) < 0)
                return fail_field(ret_error, field, "not an RFC 3339 time");
        return 0;
}

static int decode_int(const JsonValue *v, const char *field, int64_t *ret, char **ret_error) {
        if (!v || json_is_null(v))
                return 0;
        if (json_int64(v, ret) < 0)
                return fail_field(ret_error, field, "not an integer");
        return 0;
}

int lease_record_decode(const char *json, size_t len, LeaseRecord *ret, char **ret_error) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        JsonLimits limits = { .max_bytes = LEASE_MAX_BODY };
        const JsonValue *root, *meta, *spec, *owners, *o;
        LeaseRecord r = {};
        int k;

        if (ret_error)
                *ret_error = NULL;
        k = json_parse(json, len, &limits, &doc, ret_error);
        if (k < 0)
                return k;
        root = json_doc_root(doc);
        if (json_type(root) != JSON_OBJECT)
                return fail_field(ret_error, "object", "not a JSON object");
        if (!streq_ptr(json_get_string(root, "kind"), "Lease"))
                return fail_field(ret_error, "kind", "not \"Lease\"");
        meta = json_get(root, "metadata");
        spec = json_get(root, "spec");
        if (!json_get_string(meta, "name"))
                return fail_field(ret_error, "metadata.name", "missing");

        if (strdup_opt(json_get_string(meta, "namespace"), &r.namespace) < 0 ||
            strdup_opt(json_get_string(meta, "name"), &r.name) < 0 ||
            strdup_opt(json_get_string(meta, "uid"), &r.uid) < 0 ||
            strdup_opt(json_get_string(meta, "resourceVersion"), &r.resource_version) < 0 ||
            strdup_opt(json_get_string(spec, "holderIdentity"), &r.holder_identity) < 0) {
                k = -ENOMEM;
                goto fail;
        }
        if ((k = decode_int(json_get(spec, "leaseDurationSeconds"), "spec.leaseDurationSeconds",
                            &r.lease_duration_seconds, ret_error)) < 0 ||
            (k = decode_int(json_get(spec, "leaseTransitions"), "spec.leaseTransitions", &r.lease_transitions,
                            ret_error)) < 0 ||
            (k = decode_time(json_get(spec, "acquireTime"), "spec.acquireTime", &r.acquire_time, ret_error)) < 0 ||
            (k = decode_time(json_get(spec, "renewTime"), "spec.renewTime", &r.renew_time, ret_error)) < 0 ||
            (k = decode_pairs(json_get(meta, "labels"), "metadata.labels", &r.labels, ret_error)) < 0 ||
            (k = decode_pairs(json_get(meta, "annotations"), "metadata.annotations", &r.annotations, ret_error)) <
                    0)
                goto fail;

        owners = json_get(meta, "ownerReferences");
        JSON_ARRAY_FOREACH(o, owners) {
                LeaseOwnerRef *n;
                bool controller = false;
                if (r.n_owners >= LEASE_MAX_OWNER_REFS)
                        break;
                n = &r.owners[r.n_owners++];
                (void) json_bool(json_get(o, "controller"), &controller);
                n->controller = controller;
                if (strdup_opt(json_get_string(o, "apiVersion"), &n->api_version) < 0 ||
                    strdup_opt(json_get_string(o, "kind"), &n->kind) < 0 ||
                    strdup_opt(json_get_string(o, "name"), &n->name) < 0 ||
                    strdup_opt(json_get_string(o, "uid"), &n->uid) < 0) {
                        k = -ENOMEM;
                        goto fail;
                }
        }
        *ret = r;
        return 0;
fail:
        lease_record_done(&r);
        return k;
}

static int gen_pairs(yajl_gen g, const char *key, char *const *v) {
        int r;
        if (!v)
                return 0;
        if ((r = json_gen_str(g, key)) < 0 || (r = json_gen_map_open(g)) < 0)
                return r;
        for (size_t i = 0; v[i] && v[i + 1]; i += 2)
                if ((r = json_gen_kv_str(g, v[i], v[i + 1])) < 0)
                        return r;
        return json_gen_map_close(g);
}

static int gen_time(yajl_gen g, const char *key, usec_t t) {
        char buf[RFC3339_MAX];
        if (t == 0)
                return 0;
        return json_gen_kv_str(g, key, rfc3339_format_micro(t, buf));
}

int lease_record_encode(const LeaseRecord *l, char **ret_json) {
        _cleanup_json_gen_ yajl_gen g = json_gen_new(false);
        int r;

        if (!g)
                return -ENOMEM;
        if ((r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "apiVersion", "coordination.k8s.io/v1")) < 0 ||
            (r = json_gen_kv_str(g, "kind", "Lease")) < 0 || (r = json_gen_str(g, "metadata")) < 0 ||
            (r = json_gen_map_open(g)) < 0 || (r = json_gen_kv_str(g, "name", l->name)) < 0)
                return r;
        if (l->namespace && (r = json_gen_kv_str(g, "namespace", l->namespace)) < 0)
                return r;
        if (l->resource_version && (r = json_gen_kv_str(g, "resourceVersion", l->resource_version)) < 0)
                return r;
        if ((r = gen_pairs(g, "labels", l->labels)) < 0 || (r = gen_pairs(g, "annotations", l->annotations)) < 0)
                return r;
        if (l->n_owners > 0) {
                if ((r = json_gen_str(g, "ownerReferences")) < 0 || (r = json_gen_array_open(g)) < 0)
                        return r;
                for (size_t i = 0; i < l->n_owners; i++) {
                        const LeaseOwnerRef *o = &l->owners[i];
                        if ((r = json_gen_map_open(g)) < 0 ||
                            (r = json_gen_kv_str(g, "apiVersion", o->api_version)) < 0 ||
                            (r = json_gen_kv_str(g, "kind", o->kind)) < 0 ||
                            (r = json_gen_kv_str(g, "name", o->name)) < 0 ||
                            (r = json_gen_kv_str(g, "uid", o->uid)) < 0)
                                return r;
                        if (o->controller && (r = json_gen_kv_bool(g, "controller", true)) < 0)
                                return r;
                        if ((r = json_gen_map_close(g)) < 0)
                                return r;
                }
                if ((r = json_gen_array_close(g)) < 0)
                        return r;
        }
        if ((r = json_gen_map_close(g)) < 0 || (r = json_gen_str(g, "spec")) < 0 || (r = json_gen_map_open(g)) < 0)
                return r;
        if (l->holder_identity && (r = json_gen_kv_str(g, "holderIdentity", l->holder_identity)) < 0)
                return r;
        if (l->lease_duration_seconds > 0 &&
            (r = json_gen_kv_int(g, "leaseDurationSeconds", l->lease_duration_seconds)) < 0)
                return r;
        if ((r = gen_time(g, "acquireTime", l->acquire_time)) < 0 || (r = gen_time(g, "renewTime", l->renew_time)) < 0)
                return r;
        if ((r = json_gen_kv_int(g, "leaseTransitions", l->lease_transitions)) < 0)
                return r;
        if ((r = json_gen_map_close(g)) < 0 || (r = json_gen_map_close(g)) < 0)
                return r;
        return json_gen_take(g, ret_json, NULL);
}

bool lease_record_spec_equal(const LeaseRecord *a, const LeaseRecord *b) {
        return streq(strempty(a->holder_identity), strempty(b->holder_identity)) &&
               a->lease_duration_seconds == b->lease_duration_seconds && a->acquire_time == b->acquire_time &&
               a->renew_time == b->renew_time && a->lease_transitions == b->lease_transitions;
}

int lease_record_set_annotation(LeaseRecord *r, const char *key, const char *value) {
        return pairs_set(&r->annotations, key, value);
}

int lease_record_set_label(LeaseRecord *r, const char *key, const char *value) {
        return pairs_set(&r->labels, key, value);
}

const char *lease_record_annotation(const LeaseRecord *r, const char *key) {
        return pairs_get(r->annotations, key);
}

char *lease_path(const char *namespace, const char *name) {
        char *p = NULL;
        int k = name ? asprintf(&p, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", namespace, name)
                     : asprintf(&p, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", namespace);
        return k < 0 ? NULL : p;
}

/* ---- flags --------------------------------------------------------------- */

static const char *format_duration(usec_t u, char buf[static 32]) {
        /* Seconds with up to millisecond precision, Go-like ("10s", "2.5s", "500ms"). */
        if (u % USEC_PER_SEC == 0)
                snprintf(buf, 32, "%llus", (unsigned long long) (u / USEC_PER_SEC));
        else if (u < USEC_PER_SEC && u % USEC_PER_MSEC == 0)
                snprintf(buf, 32, "%llums", (unsigned long long) (u / USEC_PER_MSEC));
        else
                snprintf(buf, 32, "%gs", (double) u / (double) USEC_PER_SEC);
        return buf;
}

static int parse_one(const char *flag, const char *s, usec_t def, usec_t *ret, char **ret_error) {
        int r;

        if (!s) {
                *ret = def;
                return 0;
        }
        r = duration_parse(s, ret);
        if (r < 0 || *ret == 0) {
                const char *why = r == -ERANGE ? "must not be negative" :
                                  r < 0        ? "not a duration (e.g. 15s, 1m30s)" :
                                                 "must be greater than zero";
                if (asprintf(ret_error, "invalid argument \"%s\" for --%s: %s", s, flag, why) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 0;
}

int leader_election_flags_parse(const char *lease_duration, const char *renew_deadline, const char *retry_period,
                                usec_t *ret_lease_duration, usec_t *ret_renew_deadline, usec_t *ret_retry_period,
                                char **ret_error) {
        usec_t ld, rd, rp;
        char a[32], b[32];
        int r;

        *ret_error = NULL;
        if ((r = parse_one("leader-elect-lease-duration", lease_duration, LEADER_ELECT_DEFAULT_LEASE_DURATION, &ld,
                           ret_error)) < 0 ||
            (r = parse_one("leader-elect-renew-deadline", renew_deadline, LEADER_ELECT_DEFAULT_RENEW_DEADLINE, &rd,
                           ret_error)) < 0 ||
            (r = parse_one("leader-elect-retry-period", retry_period, LEADER_ELECT_DEFAULT_RETRY_PERIOD, &rp,
                           ret_error)) < 0)
                return r;
        if (ld <= rd) {
                if (asprintf(ret_error,
                             "invalid argument \"%s\" for --leader-elect-lease-duration: must be greater than "
                             "--leader-elect-renew-deadline (%s)",
                             lease_duration ? lease_duration : format_duration(ld, a), format_duration(rd, b)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        /* client-go: renewDeadline > JitterFactor (1.2) × retryPeriod. */
        if ((double) rd <= 1.2 * (double) rp) {
                if (asprintf(ret_error,
                             "invalid argument \"%s\" for --leader-elect-renew-deadline: must be greater than 1.2 "
                             "times --leader-elect-retry-period (%s)",
                             renew_deadline ? renew_deadline : format_duration(rd, a), format_duration(rp, b)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        *ret_lease_duration = ld;
        *ret_renew_deadline = rd;
        *ret_retry_period = rp;
        return 0;
}

int leader_election_default_identity(char **ret) {
        const char *pod = getenv("POD_NAME");
        char host[256] = {};
        uint8_t u[16];
        char *id = NULL;

        if (!isempty(pod)) {
                id = strdup(pod);
                if (!id)
                        return -ENOMEM;
                *ret = id;
                return 0;
        }
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "localhost");
        if (getrandom(u, sizeof(u), 0) != (ssize_t) sizeof(u))
                return -EIO;
        u[6] = (uint8_t) ((u[6] & 0x0f) | 0x40); /* version 4 */
        u[8] = (uint8_t) ((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        if (asprintf(&id,
                     "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", host, u[0], u[1],
                     u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]) < 0)
                return -ENOMEM;
        *ret = id;
        return 0;
}

/* ---- election logic ------------------------------------------------------ */

const char *lease_action_to_string(LeaseAction a) {
        switch (a) {
        case LEASE_WAIT:
                return "wait";
        case LEASE_CREATE:
                return "create";
        case LEASE_ACQUIRE:
                return "acquire";
        case LEASE_RENEW:
                return "renew";
        }
        return "?";
}

void leader_election_state_done(LeaderElectionState *st) {
        lease_record_done(&st->observed);
        st->have_observed = false;
}

int leader_election_observe(LeaderElectionState *st, const LeaseRecord *seen, usec_t now) {
        LeaseRecord copy;
        int r;

        if (!seen) {
                if (st->have_observed) {
                        lease_record_done(&st->observed);
                        st->have_observed = false;
                }
                st->observed_time = now;
                return 0;
        }
        r = lease_record_copy(seen, &copy);
        if (r < 0)
                return r;
        if (!st->have_observed || !lease_record_spec_equal(&st->observed, seen))
                st->observed_time = now;
        lease_record_done(&st->observed);
        st->observed = copy;
        st->have_observed = true;
        return 0;
}

static usec_t observed_duration(const LeaderElectionState *st, const LeaderElectionConfig *c) {
        /* The holder's own duration counts, as in client-go. */
        if (st->have_observed && st->observed.lease_duration_seconds > 0)
                return (usec_t) st->observed.lease_duration_seconds * USEC_PER_SEC;
        return c->lease_duration;
}

usec_t leader_election_expiry(const LeaderElectionState *st, const LeaderElectionConfig *c) {
        if (!st->have_observed || isempty(st->observed.holder_identity) ||
            streq(st->observed.holder_identity, c->identity))
                return 0;
        return st->observed_time + observed_duration(st, c);
}

LeaseAction leader_election_decide(const LeaderElectionState *st, const LeaderElectionConfig *c, usec_t now) {
        if (!st->have_observed)
                return LEASE_CREATE;
        if (streq_ptr(st->observed.holder_identity, c->identity))
                return LEASE_RENEW;
        if (!isempty(st->observed.holder_identity) && now < leader_election_expiry(st, c))
                return LEASE_WAIT;
        return LEASE_ACQUIRE;
}

static int64_t duration_seconds(usec_t d) {
        /* leaseDurationSeconds is whole seconds; round up so the lease never claims less. */
        int64_t s = (int64_t) ((d + USEC_PER_SEC - 1) / USEC_PER_SEC);
        return s > 0 ? s : 1;
}

int leader_election_desired(const LeaderElectionState *st, const LeaderElectionConfig *c, LeaseAction action,
                            usec_t wall, LeaseRecord *ret) {
        LeaseRecord r = {};
        int k;

        if (action == LEASE_WAIT)
                return -EINVAL;
        if (action != LEASE_CREATE && st->have_observed) {
                k = lease_record_copy(&st->observed, &r);
                if (k < 0)
                        return k;
        } else if (strdup_opt(c->namespace, &r.namespace) < 0 || strdup_opt(c->name, &r.name) < 0) {
                lease_record_done(&r);
                return -ENOMEM;
        }
        if (action == LEASE_CREATE) {
                free(r.resource_version);
                r.resource_version = NULL;
        }
        if (free_and_strdup(&r.holder_identity, c->identity) < 0) {
                lease_record_done(&r);
                return -ENOMEM;
        }
        r.lease_duration_seconds = duration_seconds(c->lease_duration);
        r.renew_time = wall;
        if (action != LEASE_RENEW || r.acquire_time == 0) {
                r.acquire_time = wall;
                if (action == LEASE_ACQUIRE)
                        r.lease_transitions++;
        }
        *ret = r;
        return 0;
}

int leader_election_released(const LeaderElectionState *st, usec_t wall, LeaseRecord *ret) {
        LeaseRecord r;
        int k;

        if (!st->have_observed)
                return -ENOENT;
        k = lease_record_copy(&st->observed, &r);
        if (k < 0)
                return k;
        if (free_and_strdup(&r.holder_identity, "") < 0) {
                lease_record_done(&r);
                return -ENOMEM;
        }
        r.lease_duration_seconds = 1;
        r.acquire_time = wall;
        r.renew_time = wall;
        *ret = r;
        return 0;
}

bool leader_election_renew_expired(const LeaderElectionState *st, const LeaderElectionConfig *c, usec_t now) {
        return st->leading && now >= st->last_renew_sent + c->renew_deadline;
}
