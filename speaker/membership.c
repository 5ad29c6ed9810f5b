/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"

/* How many successful renewals may wait, at once, to show up on the watch.
 * The oldest one sets the staleness deadline, so when the ring is full the
 * newest slot is overwritten: detection only gets earlier, never later. */
#define UNSEEN_MAX 8

typedef struct Peer {
        MembershipPeer pub;
        char *node;
        IpAddr *claims;
        /* berth.io/announcing as last parsed: a renewal that leaves it alone
         * (steady state) costs a string compare, not a parse of every IP. */
        char *announcing;
} Peer;

typedef struct Unseen {
        char *resource_version;
        usec_t renew_time;
        usec_t ok_at;
} Unseen;

struct Membership {
        char *self;
        usec_t duration;

        Peer *peers; /* sorted by node */
        size_t n_peers;

        bool has_ok;
        usec_t t_ok;

        Unseen unseen[UNSEEN_MAX]; /* oldest first */
        size_t n_unseen;
        char *seen_resource_version; /* own lease as last seen on the watch */
        usec_t seen_renew_time;
};

static void unseen_clear(Membership *m) {
        for (size_t i = 0; i < m->n_unseen; i++)
                free(m->unseen[i].resource_version);
        m->n_unseen = 0;
}

int membership_new(const char *self_node, usec_t lease_duration, Membership **ret) {
        _cleanup_(membership_freep) Membership *m = NULL;

        if (isempty(self_node) || lease_duration == 0 || !ret)
                return -EINVAL;
        m = new0(Membership, 1);
        if (!m)
                return -ENOMEM;
        m->self = strdup(self_node);
        if (!m->self)
                return -ENOMEM;
        m->duration = lease_duration;
        *ret = TAKE_PTR(m);
        return 0;
}

Membership *membership_free(Membership *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_peers; i++) {
                free(m->peers[i].node);
                free(m->peers[i].claims);
                free(m->peers[i].announcing);
        }
        free(m->peers);
        unseen_clear(m);
        free(m->seen_resource_version);
        free(m->self);
        return mfree(m);
}

/* ---- the freshness guard --------------------------------------------------- */

bool membership_watch_stale(const Membership *m, usec_t now) {
        return m->n_unseen > 0 && now >= m->unseen[0].ok_at && now - m->unseen[0].ok_at >= m->duration;
}

static bool unseen_matches(const Unseen *u, const char *resource_version, usec_t renew_time) {
        return (u->resource_version && streq_ptr(u->resource_version, resource_version)) ||
               (u->renew_time != 0 && u->renew_time == renew_time);
}

/* Our own lease showed up on the watch: that renewal and every older one
 * are confirmed (a watch delivers in order). */
static int own_lease_seen(Membership *m, const Lease *l) {
        const char *rv = l->object.meta.resource_version;
        int r;

        r = free_and_strdup(&m->seen_resource_version, rv);
        if (r < 0)
                return r;
        m->seen_renew_time = l->renew_time;
        for (size_t i = m->n_unseen; i > 0; i--)
                if (unseen_matches(&m->unseen[i - 1], rv, l->renew_time)) {
                        for (size_t j = 0; j < i; j++)
                                free(m->unseen[j].resource_version);
                        memmove(m->unseen, m->unseen + i, (m->n_unseen - i) * sizeof(Unseen));
                        m->n_unseen -= i;
                        break;
                }
        return 0;
}

void membership_renewal_ok(Membership *m, usec_t sent_at, const char *resource_version, usec_t renew_time,
                           usec_t now) {
        Unseen u = { .renew_time = renew_time, .ok_at = now };

        if (!m->has_ok || sent_at > m->t_ok)
                m->t_ok = sent_at;
        m->has_ok = true;

        /* The watch event may arrive before the response does. */
        if ((resource_version && streq_ptr(resource_version, m->seen_resource_version)) ||
            (renew_time != 0 && renew_time == m->seen_renew_time))
                return;
        /* Without a copy the renewal still counts by its renewTime. */
        u.resource_version = resource_version ? strdup(resource_version) : NULL;
        if (m->n_unseen == UNSEEN_MAX) {
                free(m->unseen[UNSEEN_MAX - 1].resource_version);
                m->n_unseen--;
        }
        m->unseen[m->n_unseen++] = u;
}

void membership_relisted(Membership *m) {
        unseen_clear(m);
}

bool membership_has_renewed(const Membership *m) {
        return m->has_ok;
}

usec_t membership_fence_deadline(const Membership *m) {
        if (!m->has_ok)
                return USEC_INFINITY;
        return m->t_ok > USEC_INFINITY - m->duration ? USEC_INFINITY : m->t_ok + m->duration;
}

bool membership_fenced(const Membership *m, usec_t now) {
        return !m->has_ok || now >= membership_fence_deadline(m);
}

/* ---- the peer table -------------------------------------------------------- */

static ssize_t peer_index(const Membership *m, const char *node, bool *ret_found) {
        size_t i = SORTED_LOWER_BOUND(m->peers, m->n_peers, node, node);
        *ret_found = i < m->n_peers && streq(m->peers[i].node, node);
        return (ssize_t) i;
}

static bool peer_expired(const Peer *p, usec_t now) {
        return now >= p->pub.last_change && now - p->pub.last_change >= p->pub.duration;
}

static void peer_remove(Membership *m, size_t i) {
        free(m->peers[i].node);
        free(m->peers[i].claims);
        free(m->peers[i].announcing);
        memmove(m->peers + i, m->peers + i + 1, (m->n_peers - i - 1) * sizeof(Peer));
        m->n_peers--;
}

static bool claims_equal(const Peer *p, const IpAddr *ips, size_t n) {
        if (p->pub.n_claims != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!ip_addr_equal(&p->claims[i], &ips[i]))
                        return false;
        return true;
}

static int peer_insert(Membership *m, size_t at, const char *node, Peer **ret) {
        Peer *ps;
        char *copy;

        copy = strdup(node);
        if (!copy)
                return -ENOMEM;
        ps = reallocarray(m->peers, m->n_peers + 1, sizeof(Peer));
        if (!ps) {
                free(copy);
                return -ENOMEM;
        }
        m->peers = ps;
        memmove(ps + at + 1, ps + at, (m->n_peers - at) * sizeof(Peer));
        ps[at] = (Peer) { .node = copy };
        ps[at].pub.node = copy;
        m->n_peers++;
        *ret = &ps[at];
        return 0;
}

int membership_forget(Membership *m, const char *lease_name) {
        const char *node = lease_name ? skip_prefix(lease_name, SPEAKER_LEASE_PREFIX) : NULL;
        bool found, was_live;
        ssize_t i;

        if (isempty(node))
                return 0;
        i = peer_index(m, node, &found);
        if (!found)
                return 0;
        was_live = m->peers[i].pub.live;
        peer_remove(m, (size_t) i);
        return was_live;
}

int membership_observe(Membership *m, const Lease *l, usec_t now) {
        _cleanup_free_ IpAddr *claims = NULL;
        _cleanup_free_ char *announcing_copy = NULL;
        const char *node, *announcing;
        size_t n_claims = 0;
        bool found, parse, changed = false, live;
        usec_t duration;
        ssize_t i;
        Peer *p;
        int r;

        if (!m || !l)
                return -EINVAL;
        node = membership_lease_node(l);
        if (!node)
                /* a lease taken over by someone else no longer speaks for its node */
                return membership_forget(m, l->object.meta.name);

        if (streq(node, m->self)) {
                r = own_lease_seen(m, l);
                if (r < 0)
                        return r;
        }

        duration = membership_lease_duration(l);
        if (duration == 0)
                /* a lease that states no duration is judged by ours */
                duration = m->duration;
        announcing = strmap_get(&l->object.meta.annotations, LEASE_ANNOTATION_ANNOUNCING);
        i = peer_index(m, node, &found);
        parse = !found || !streq_ptr(m->peers[i].announcing, announcing);
        if (parse) {
                r = membership_parse_announcing(announcing, &claims, &n_claims);
                if (r < 0)
                        return r;
                if (announcing && !(announcing_copy = strdup(announcing)))
                        return -ENOMEM;
        }

        if (!found) {
                r = peer_insert(m, (size_t) i, node, &p);
                if (r < 0)
                        return r;
                p->pub.last_change = now;
                changed = true;
        } else {
                p = &m->peers[i];
                if (p->pub.renew_time != l->renew_time)
                        p->pub.last_change = now;
        }
        p->pub.renew_time = l->renew_time;
        p->pub.duration = duration;
        if (parse) {
                free(p->announcing);
                p->announcing = TAKE_PTR(announcing_copy);
        }
        if (parse && !claims_equal(p, claims, n_claims)) {
                free(p->claims);
                p->claims = TAKE_PTR(claims);
                p->pub.claims = p->claims;
                p->pub.n_claims = n_claims;
                changed = true;
        }

        /* While the watch is stale nobody expires; a fresh change still revives. */
        live = !peer_expired(p, now) || (p->pub.live && membership_watch_stale(m, now));
        if (live != p->pub.live) {
                p->pub.live = live;
                changed = true;
        }
        return changed;
}

unsigned membership_tick(Membership *m, usec_t now) {
        unsigned expired = 0;

        if (membership_watch_stale(m, now))
                return 0;
        for (size_t i = 0; i < m->n_peers; i++) {
                Peer *p = &m->peers[i];
                if (p->pub.live && peer_expired(p, now)) {
                        p->pub.live = false;
                        expired++;
                }
        }
        return expired;
}

static usec_t min_usec(usec_t a, usec_t b) {
        return a < b ? a : b;
}

usec_t membership_next_deadline(const Membership *m, usec_t now) {
        usec_t next = USEC_INFINITY;
        bool stale = membership_watch_stale(m, now);

        if (!stale)
                for (size_t i = 0; i < m->n_peers; i++) {
                        const Peer *p = &m->peers[i];
                        if (p->pub.live)
                                next = min_usec(next, p->pub.last_change + p->pub.duration);
                }
        if (m->n_unseen > 0 && !stale)
                next = min_usec(next, m->unseen[0].ok_at + m->duration);
        if (m->has_ok && now < membership_fence_deadline(m))
                next = min_usec(next, membership_fence_deadline(m));
        return next;
}

bool membership_is_live(const Membership *m, const char *node) {
        const MembershipPeer *p = membership_find(m, node);
        return p && p->live;
}

size_t membership_live_count(const Membership *m) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_peers; i++)
                n += m->peers[i].pub.live;
        return n;
}

size_t membership_n_peers(const Membership *m) {
        return m->n_peers;
}

const MembershipPeer *membership_peer(const Membership *m, size_t i) {
        return i < m->n_peers ? &m->peers[i].pub : NULL;
}

const MembershipPeer *membership_find(const Membership *m, const char *node) {
        bool found;
        ssize_t i;

        if (!m || !node)
                return NULL;
        i = peer_index(m, node, &found);
        return found ? &m->peers[i].pub : NULL;
}
