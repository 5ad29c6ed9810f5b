/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_pod.h"
#include "cli.h"
#include "endpoint_triggers.h"
#include "labels.h"
#include "log.h"

const char *endpoint_service_key(const KubeObject *o, char buf[static ENDPOINT_KEY_MAX]) {
        return kube_object_key(o, buf, ENDPOINT_KEY_MAX);
}

int endpoint_key_split(char *buf, const char **ret_namespace, const char **ret_name) {
        char *slash = strchr(buf, '/');

        if (!slash)
                return -EINVAL;
        *slash = '\0';
        *ret_namespace = buf;
        *ret_name = slash + 1;
        return 0;
}

/* ---- §8.1 ---------------------------------------------------------------------- */

typedef struct MatchState {
        const StrMap *labels;
        endpoint_service_fn fn;
        void *userdata;
} MatchState;

static int match_one(KubeObject *o, void *userdata) {
        MatchState *st = userdata;
        const Service *svc = SERVICE(o);

        if (!svc->has_selector || !label_map_matches(&svc->selector, st->labels))
                return 0;
        return st->fn(svc, st->userdata);
}

int endpoint_services_matching(const Cache *services, const char *namespace, const StrMap *labels,
                               endpoint_service_fn fn, void *userdata) {
        MatchState st = { .labels = labels, .fn = fn, .userdata = userdata };

        if (!namespace)
                return 0; /* a pod always has one; never scan every namespace */
        return cache_foreach(services, namespace, match_one, &st);
}

typedef struct EnqueueState {
        WorkQueue *queue;
        usec_t delay;
} EnqueueState;

static int enqueue_one(const Service *svc, void *userdata) {
        EnqueueState *st = userdata;
        char key[ENDPOINT_KEY_MAX];

        return workqueue_add_after(st->queue, endpoint_service_key(&svc->object, key), st->delay);
}

int endpoint_enqueue_pod_services(const Cache *services, WorkQueue *q, usec_t batch_period, const Pod *pod) {
        EnqueueState st = { .queue = q, .delay = batch_period };

        return endpoint_services_matching(services, pod->object.meta.namespace, &pod->object.meta.labels,
                                          enqueue_one, &st);
}

/* ---- §8.2 ---------------------------------------------------------------------- */

EndpointPodChange endpoint_pod_change(const Pod *o, const Pod *n) {
        EndpointPodChange c = {};

        if (streq_ptr(o->object.meta.resource_version, n->object.meta.resource_version))
                return c;
        c.labels_changed = !strmap_equal(&o->object.meta.labels, &n->object.meta.labels) ||
                           !streq(strempty(o->hostname), strempty(n->hostname)) ||
                           !streq(strempty(o->subdomain), strempty(n->subdomain));
        c.pod_changed = o->object.meta.deletion_timestamp != n->object.meta.deletion_timestamp ||
                        endpoint_pod_ready(o) != endpoint_pod_ready(n) || !strlist_equal(&o->pod_ips, &n->pod_ips) ||
                        (!pod_is_terminal(o) && pod_is_terminal(n));
        return c;
}

typedef struct UpdateState {
        const StrMap *other;  /* the other label set */
        bool exclusive;       /* only Services not matching other */
        endpoint_service_fn fn;
        void *userdata;
} UpdateState;

static int update_one(const Service *svc, void *userdata) {
        UpdateState *st = userdata;

        if (st->exclusive && label_map_matches(&svc->selector, st->other))
                return 0;
        return st->fn(svc, st->userdata);
}

int endpoint_services_for_pod_update(const Cache *services, const Pod *old_pod, const Pod *new_pod,
                                     endpoint_service_fn fn, void *userdata) {
        EndpointPodChange c = endpoint_pod_change(old_pod, new_pod);
        const char *ns = new_pod->object.meta.namespace;
        const StrMap *old_labels = &old_pod->object.meta.labels, *new_labels = &new_pod->object.meta.labels;
        UpdateState st = { .fn = fn, .userdata = userdata };
        int r;

        if (!c.labels_changed && !c.pod_changed)
                return 0;
        if (!c.labels_changed)
                return endpoint_services_matching(services, ns, new_labels, fn, userdata);
        /* Every Service matching new; then those matching old but not new
         * (old ∪ new, each once).  When only labels changed, a Service
         * matching both sees nothing new: exactly one of the two sets. */
        st.other = old_labels;
        st.exclusive = !c.pod_changed;
        r = endpoint_services_matching(services, ns, new_labels, update_one, &st);
        if (r < 0)
                return r;
        st.other = new_labels;
        st.exclusive = true;
        return endpoint_services_matching(services, ns, old_labels, update_one, &st);
}

int endpoint_enqueue_pod_update(const Cache *services, WorkQueue *q, usec_t batch_period, const Pod *old_pod,
                                const Pod *new_pod) {
        EnqueueState st = { .queue = q, .delay = batch_period };

        return endpoint_services_for_pod_update(services, old_pod, new_pod, enqueue_one, &st);
}

/* ---- flags ----------------------------------------------------------------------- */

int endpoint_batch_period_parse(const char *value, usec_t *ret, char **ret_why) {
        return cli_parse_duration(value, true, ret, ret_why);
}

int endpoint_workers_parse(const char *value, unsigned *ret, char **ret_why) {
        char *end = NULL;
        long v;

        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || !end || *end != '\0' || end == value || v < 1 || v > 1000) {
                if (ret_why && asprintf(ret_why, "must be an integer between 1 and 1000") < 0)
                        *ret_why = NULL;
                return -EINVAL;
        }
        *ret = (unsigned) v;
        return 0;
}

/* ---- §6.5 ------------------------------------------------------------------------ */

typedef struct PodTime {
        char *name;
        usec_t time;
} PodTime;

typedef struct TriggerState {
        char *key;
        usec_t service_time;
        size_t n_pods;
        PodTime *pods; /* sorted by name */
} TriggerState;

struct TriggerTimeTracker {
        size_t n, allocated;
        TriggerState *states; /* sorted by key */
};

int trigger_time_tracker_new(TriggerTimeTracker **ret) {
        TriggerTimeTracker *t = new0(TriggerTimeTracker, 1);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static void pod_times_free(PodTime *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(p[i].name);
        free(p);
}

static void trigger_state_done(TriggerState *s) {
        free(s->key);
        pod_times_free(s->pods, s->n_pods);
        *s = (TriggerState) {};
}

TriggerTimeTracker *trigger_time_tracker_free(TriggerTimeTracker *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                trigger_state_done(&t->states[i]);
        free(t->states);
        free(t);
        return NULL;
}

static size_t state_lower_bound(const TriggerTimeTracker *t, const char *key) {
        return SORTED_LOWER_BOUND(t->states, t->n, key, key);
}

static int states_grow(TriggerTimeTracker *t) {
        size_t na = t->allocated ? t->allocated * 2 : 16;
        TriggerState *s = realloc(t->states, na * sizeof(TriggerState));
        if (!s)
                return -ENOMEM;
        t->states = s;
        t->allocated = na;
        return 0;
}

static int pod_time_cmp(const void *a, const void *b) {
        return strcmp(((const PodTime *) a)->name, ((const PodTime *) b)->name);
}

static const PodTime *pod_time_find(const TriggerState *s, const char *name) {
        PodTime k = { .name = (char *) name };
        return bsearch_safe(&k, s->pods, s->n_pods, sizeof(PodTime), pod_time_cmp);
}

static void earliest(usec_t *acc, usec_t t) {
        if (t != 0 && (*acc == 0 || t < *acc))
                *acc = t;
}

int trigger_time_tracker_compute(TriggerTimeTracker *t, const char *service_key, const Service *svc,
                                 const Pod *const *pods, size_t n_pods, usec_t *ret) {
        PodTime *times = NULL;
        size_t at, n_times = 0;
        TriggerState *s;
        bool first;
        usec_t result = 0, svc_time = svc->object.meta.creation_timestamp;

        if (n_pods > 0 && !(times = new0(PodTime, n_pods)))
                return -ENOMEM;
        for (size_t i = 0; i < n_pods; i++) {
                times[n_times].name = strdup(pods[i]->object.meta.name);
                if (!times[n_times].name) {
                        pod_times_free(times, n_times);
                        return -ENOMEM;
                }
                times[n_times++].time = pods[i]->ready_transition_time;
        }
        if (n_times > 1)
                qsort(times, n_times, sizeof(PodTime), pod_time_cmp);

        at = state_lower_bound(t, service_key);
        first = !(at < t->n && streq(t->states[at].key, service_key));
        if (first) {
                char *key = strdup(service_key);
                if (!key || (t->n == t->allocated && states_grow(t) < 0)) {
                        free(key);
                        pod_times_free(times, n_times);
                        return -ENOMEM;
                }
                memmove(t->states + at + 1, t->states + at, (t->n - at) * sizeof(TriggerState));
                t->states[at] = (TriggerState) { .key = key };
                t->n++;
                result = svc_time;
        }
        s = &t->states[at];
        if (!first) {
                for (size_t i = 0; i < n_times; i++) {
                        const PodTime *old = pod_time_find(s, times[i].name);
                        if (old ? times[i].time > old->time : times[i].time != 0)
                                earliest(&result, times[i].time);
                }
                if (svc_time > s->service_time)
                        earliest(&result, svc_time);
        }
        pod_times_free(s->pods, s->n_pods);
        s->pods = times;
        s->n_pods = n_times;
        s->service_time = svc_time;
        *ret = result;
        return 0;
}

void trigger_time_tracker_forget(TriggerTimeTracker *t, const char *service_key) {
        size_t at = state_lower_bound(t, service_key);

        if (at >= t->n || !streq(t->states[at].key, service_key))
                return;
        trigger_state_done(&t->states[at]);
        memmove(t->states + at, t->states + at + 1, (t->n - at - 1) * sizeof(TriggerState));
        t->n--;
}

size_t trigger_time_tracker_size(const TriggerTimeTracker *t) {
        return t ? t->n : 0;
}

const char *trigger_time_format(usec_t t, char buf[static RFC3339_MAX]) {
        return rfc3339_format(t, buf);
}

/* ---- §6.8 stale syncs -------------------------------------------------------------- */

int endpoint_stale_wait(EndpointStaleWait *w, WorkQueue *q, const char *key) {
        usec_t now = workqueue_now(q);
        int r;

        if (!w->stale) {
                w->stale = true;
                w->since = now;
        }
        if (now - w->since > ENDPOINT_STALE_GIVE_UP) {
                w->waiting = false;
                log_debug("%s %s: cache stale for more than %us; retrying with backoff", workqueue_name(q), key,
                          (unsigned) (ENDPOINT_STALE_GIVE_UP / USEC_PER_SEC));
                return -ESTALE;
        }
        r = workqueue_add_after(q, key, ENDPOINT_STALE_RECHECK);
        if (r < 0)
                return r; /* not re-checked: let the queue retry it */
        w->waiting = true;
        return 0;
}

void endpoint_stale_wake(EndpointStaleWait *w, WorkQueue *q, const char *key) {
        if (!w->waiting)
                return;
        w->waiting = false;
        (void) workqueue_add(q, key);
}

void endpoint_stale_clear(EndpointStaleWait *w) {
        *w = (EndpointStaleWait) {};
}
