/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election logic (lbipam.md §13.3) with a fake monotonic clock, and
 * the Lease record codec and flag checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

#define S USEC_PER_SEC

static const LeaderElectionConfig config = {
        .namespace = "berth-system",
        .name = "berth-controller",
        .identity = "me",
        .lease_duration = 15 * S,
        .renew_deadline = 10 * S,
        .retry_period = 2 * S,
};

static LeaseRecord rec(const char *holder, usec_t renew_wall) {
        LeaseRecord r = {
                .namespace = strdup("berth-system"),
                .name = strdup("berth-controller"),
                .resource_version = strdup("7"),
                .holder_identity = holder ? strdup(holder) : NULL,
                .lease_duration_seconds = 15,
                .acquire_time = 1000 * S,
                .renew_time = renew_wall,
                .lease_transitions = 3,
        };
        return r;
}

/* Each step: at monotonic time `at`, the GET returns a lease held by `holder`
 * with renewTime `renew` (holder "-" = 404); `want` is the decision. */
static void test_decide_table(void **state _unused_) {
        static const struct {
                const char *name;
                struct {
                        usec_t at;
                        const char *holder;
                        usec_t renew;
                        LeaseAction want;
                } steps[8];
        } cases[] = {
                { "no lease object: create", { { 0, "-", 0, LEASE_CREATE } } },
                { "our own lease: renew", { { 0, "me", 5, LEASE_RENEW } } },
                { "released lease: acquire at once", { { 0, "", 5, LEASE_ACQUIRE } } },
                { "unset holder: acquire at once", { { 0, NULL, 5, LEASE_ACQUIRE } } },
                { "live leader: wait until lease duration after the last change we saw",
                  { { 0, "other", 100, LEASE_WAIT },
                    { 2 * S, "other", 102, LEASE_WAIT },      /* renewed: clock restarts at 2 s */
                    { 16 * S, "other", 102, LEASE_WAIT },     /* 14 s since the change */
                    { 17 * S - 1, "other", 102, LEASE_WAIT },
                    { 17 * S, "other", 102, LEASE_ACQUIRE } } },
                { "renewTime far in the past is not trusted: first sighting starts the clock",
                  { { 500 * S, "other", 1, LEASE_WAIT }, { 514 * S, "other", 1, LEASE_WAIT },
                    { 515 * S, "other", 1, LEASE_ACQUIRE } } },
                { "crash after a renewal: takeover within lease duration + 2 retry periods",
                  /* Leader renews at 0.5 s (seen at the 2 s try), then dies. */
                  { { 0, "other", 10, LEASE_WAIT }, { 2 * S, "other", 11, LEASE_WAIT },
                    { 16 * S, "other", 11, LEASE_WAIT }, { 18 * S, "other", 11, LEASE_ACQUIRE } } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                LeaderElectionState st = {};
                for (size_t k = 0; k < ELEMENTSOF(cases[i].steps); k++) {
                        const typeof(cases[i].steps[0]) *s = &cases[i].steps[k];
                        if (k > 0 && s->at == 0 && !s->holder && s->want == LEASE_WAIT)
                                break; /* end of steps */
                        if (s->holder && streq(s->holder, "-"))
                                assert_int_equal(leader_election_observe(&st, NULL, s->at), 0);
                        else {
                                LeaseRecord r = rec(s->holder, s->renew);
                                assert_int_equal(leader_election_observe(&st, &r, s->at), 0);
                                lease_record_done(&r);
                        }
                        LeaseAction got = leader_election_decide(&st, &config, s->at);
                        if (got != s->want)
                                fail_msg("%s, step %zu: got %s, want %s", cases[i].name, k,
                                         lease_action_to_string(got), lease_action_to_string(s->want));
                }
                leader_election_state_done(&st);
        }
}

static void test_holder_duration_counts(void **state _unused_) {
        LeaderElectionState st = {};
        LeaseRecord r = rec("other", 1);

        /* A holder that announces 60 s keeps its lease for 60 s, whatever our flag says. */
        r.lease_duration_seconds = 60;
        assert_int_equal(leader_election_observe(&st, &r, 0), 0);
        assert_int_equal(leader_election_decide(&st, &config, 59 * S), LEASE_WAIT);
        assert_int_equal(leader_election_decide(&st, &config, 60 * S), LEASE_ACQUIRE);
        assert_int_equal(leader_election_expiry(&st, &config), 60 * S);
        lease_record_done(&r);
        leader_election_state_done(&st);
}

static void test_desired_records(void **state _unused_) {
        LeaderElectionState st = {};
        LeaseRecord r = rec("other", 100 * S), want = {};

        assert_int_equal(leader_election_observe(&st, &r, 0), 0);

        /* Takeover: new acquire time, transitions + 1, our identity, rv kept for the PUT. */
        assert_int_equal(leader_election_desired(&st, &config, LEASE_ACQUIRE, 2000 * S, &want), 0);
        assert_string_equal(want.holder_identity, "me");
        assert_string_equal(want.resource_version, "7");
        assert_int_equal(want.acquire_time, 2000 * S);
        assert_int_equal(want.renew_time, 2000 * S);
        assert_int_equal(want.lease_transitions, 4);
        assert_int_equal(want.lease_duration_seconds, 15);
        lease_record_done(&want);

        /* Renewal keeps acquire time and transitions. */
        free(r.holder_identity);
        r.holder_identity = strdup("me");
        assert_int_equal(leader_election_observe(&st, &r, 1), 0);
        assert_int_equal(leader_election_desired(&st, &config, LEASE_RENEW, 2002 * S, &want), 0);
        assert_int_equal(want.acquire_time, 1000 * S);
        assert_int_equal(want.renew_time, 2002 * S);
        assert_int_equal(want.lease_transitions, 3);
        lease_record_done(&want);

        /* Release: empty holder, 1 s, so a standby takes it at its next try. */
        assert_int_equal(leader_election_released(&st, 2003 * S, &want), 0);
        assert_string_equal(want.holder_identity, "");
        assert_int_equal(want.lease_duration_seconds, 1);
        assert_int_equal(want.lease_transitions, 3);
        lease_record_done(&want);

        /* Create: no resourceVersion. */
        assert_int_equal(leader_election_observe(&st, NULL, 2), 0);
        assert_int_equal(leader_election_desired(&st, &config, LEASE_CREATE, 2004 * S, &want), 0);
        assert_null(want.resource_version);
        assert_string_equal(want.namespace, "berth-system");
        assert_string_equal(want.name, "berth-controller");
        assert_int_equal(want.lease_transitions, 0);
        lease_record_done(&want);
        assert_int_equal(leader_election_desired(&st, &config, LEASE_WAIT, 1, &want), -EINVAL);

        lease_record_done(&r);
        leader_election_state_done(&st);
}

static void test_renew_deadline(void **state _unused_) {
        LeaderElectionState st = { .leading = true, .last_renew_sent = 100 * S };

        assert_false(leader_election_renew_expired(&st, &config, 109 * S));
        assert_true(leader_election_renew_expired(&st, &config, 110 * S));
        /* The leader stops before any standby may take over (lease duration after it saw that renewal). */
        assert_true(config.renew_deadline < config.lease_duration);
        st.leading = false;
        assert_false(leader_election_renew_expired(&st, &config, 500 * S));
}

static void test_flags(void **state _unused_) {
        static const struct {
                const char *ld, *rd, *rp;
                int ret;
                const char *error;
        } t[] = {
                { NULL, NULL, NULL, 0, NULL },
                { "30s", "20s", "5s", 0, NULL },
                { "1.5s", "1s", "500ms", 0, NULL },
                { "10s", NULL, NULL, -EINVAL,
                  "invalid argument \"10s\" for --leader-elect-lease-duration: must be greater than "
                  "--leader-elect-renew-deadline (10s)" },
                { NULL, "2400ms", NULL, -EINVAL,
                  "invalid argument \"2400ms\" for --leader-elect-renew-deadline: must be greater than 1.2 times "
                  "--leader-elect-retry-period (2s)" },
                { "15", NULL, NULL, -EINVAL,
                  "invalid argument \"15\" for --leader-elect-lease-duration: not a duration (e.g. 15s, 1m30s)" },
                { NULL, NULL, "0", -EINVAL,
                  "invalid argument \"0\" for --leader-elect-retry-period: must be greater than zero" },
                { NULL, "-1s", NULL, -EINVAL,
                  "invalid argument \"-1s\" for --leader-elect-renew-deadline: must not be negative" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                usec_t ld = 0, rd = 0, rp = 0;
                char *err = NULL;
                int r = leader_election_flags_parse(t[i].ld, t[i].rd, t[i].rp, &ld, &rd, &rp, &err);
                if (r != t[i].ret)
                        fail_msg("case %zu: got %d (%s)", i, r, strempty(err));
                if (r == 0) {
                        assert_true(ld > rd && rd * 10 > rp * 12);
                        if (!t[i].ld)
                                assert_int_equal(ld, 15 * S);
                } else
                        assert_string_equal(err, t[i].error);
                free(err);
        }
}

static void test_identity(void **state _unused_) {
        char *a = NULL, *b = NULL;

        unsetenv("POD_NAME");
        assert_int_equal(leader_election_default_identity(&a), 0);
        assert_int_equal(leader_election_default_identity(&b), 0);
        assert_string_not_equal(a, b); /* unique per process start */
        assert_non_null(strchr(a, '_'));
        assert_int_equal(strlen(strchr(a, '_') + 1), 36);
        free(a);
        free(b);
        setenv("POD_NAME", "berth-controller-7d9f-abcde", 1);
        assert_int_equal(leader_election_default_identity(&a), 0);
        assert_string_equal(a, "berth-controller-7d9f-abcde");
        free(a);
        unsetenv("POD_NAME");
}

static void test_codec_roundtrip(void **state _unused_) {
        static const char in[] =
                "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"berth-speaker-n1\","
                "\"namespace\":\"berth-system\",\"uid\":\"u-1\",\"resourceVersion\":\"42\","
                "\"labels\":{\"app.kubernetes.io/name\":\"berth-speaker\"},"
                "\"annotations\":{\"berth.io/lease-duration-ms\":\"3000\",\"berth.io/announcing\":\"192.0.2.10\"},"
                "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"n1\",\"uid\":\"node-uid\"}]},"
                "\"spec\":{\"holderIdentity\":\"n1\",\"leaseDurationSeconds\":3,"
                "\"acquireTime\":\"2024-05-01T10:00:00.000000Z\",\"renewTime\":\"2024-05-01T10:00:07.250000Z\","
                "\"leaseTransitions\":2}}";
        LeaseRecord r = {}, r2 = {};
        char *out = NULL, *err = NULL;

        assert_int_equal(lease_record_decode(in, strlen(in), &r, &err), 0);
        assert_string_equal(r.holder_identity, "n1");
        assert_int_equal(r.lease_duration_seconds, 3);
        assert_int_equal(r.renew_time - r.acquire_time, 7250000);
        assert_string_equal(lease_record_annotation(&r, "berth.io/lease-duration-ms"), "3000");
        assert_int_equal(r.n_owners, 1);
        assert_string_equal(r.owners[0].kind, "Node");

        /* The speaker's extra renewal: change an annotation, keep the rest. */
        assert_int_equal(lease_record_set_annotation(&r, "berth.io/announcing", "192.0.2.10,2001:db8::a"), 0);
        assert_int_equal(lease_record_set_annotation(&r, "berth.io/lease-duration-ms", NULL), 0);
        assert_null(lease_record_annotation(&r, "berth.io/lease-duration-ms"));
        assert_int_equal(lease_record_encode(&r, &out), 0);
        assert_non_null(strstr(out, "\"resourceVersion\":\"42\""));
        assert_non_null(strstr(out, "\"renewTime\":\"2024-05-01T10:00:07.250000Z\""));
        assert_non_null(strstr(out, "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\""));
        assert_int_equal(lease_record_decode(out, strlen(out), &r2, &err), 0);
        assert_true(lease_record_spec_equal(&r, &r2));
        assert_string_equal(lease_record_annotation(&r2, "berth.io/announcing"), "192.0.2.10,2001:db8::a");
        assert_string_equal(r2.labels[0], "app.kubernetes.io/name");
        free(out);
        lease_record_done(&r);
        lease_record_done(&r2);

        /* Bad inputs name the field. */
        static const struct {
                const char *json, *error;
        } bad[] = {
                { "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}", "Lease kind: not \"Lease\"" },
                { "{\"kind\":\"Lease\",\"metadata\":{}}", "Lease metadata.name: missing" },
                { "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseDurationSeconds\":\"3\"}}",
                  "Lease spec.leaseDurationSeconds: not an integer" },
                { "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"renewTime\":\"yesterday\"}}",
                  "Lease spec.renewTime: not an RFC 3339 time" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = NULL;
                assert_int_equal(lease_record_decode(bad[i].json, strlen(bad[i].json), &r, &err), -EINVAL);
                assert_string_equal(err, bad[i].error);
                free(err);
        }
        err = NULL;
        assert_true(lease_record_decode("{", 1, &r, &err) < 0);
        free(err);
}

static void test_path(void **state _unused_) {
        char *p = lease_path("berth-system", "berth-controller");
        assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/berth-system/leases/berth-controller");
        free(p);
        p = lease_path("ns", NULL);
        assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/ns/leases");
        free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decide_table),
                cmocka_unit_test(test_holder_duration_counts),
                cmocka_unit_test(test_desired_records),
                cmocka_unit_test(test_renew_deadline),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_identity),
                cmocka_unit_test(test_codec_roundtrip),
                cmocka_unit_test(test_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
