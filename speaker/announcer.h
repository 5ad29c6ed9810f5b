/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The announcer (speaker.md §7-§9, §11, §12): for each IP this node owns
 * and each interface selected for it, answers ARP requests and Neighbour
 * Solicitations, sends takeover bursts and periodic refreshes, runs the
 * conflict probe, and keeps the metrics and transition events.
 *
 * The announcer is told the desired state (announcer_set / _withdraw) by
 * main after each election and interface selection; it never looks at
 * the API.  Frames go out through AnnouncerIo, so tests run it without
 * pcap (main wires the io to capture.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>
#include <netinet/in.h>
#include <systemd/sd-event.h>

#include "arp.h"
#include "events.h"
#include "macros.h"
#include "metrics.h"
#include "net.h"
#include "timeutil.h"

typedef struct Announcer Announcer;

/* One interface selected for an IP. */
typedef struct AnnouncerInterface {
        int ifindex;
        char name[IF_NAMESIZE];
        MacAddr mac;
        bool broadcast;                 /* IFF_BROADCAST: ARP allowed */
        bool has_link_local;            /* NDP allowed; link_local is the NA source */
        IpAddr link_local;              /* IPv6 */
} AnnouncerInterface;

/* Why this node now owns an IP another node announced (berth_speaker_failovers_total{reason}). */
typedef enum AnnouncerReason {
        ANNOUNCER_REASON_NONE,          /* first announcement: nobody announced it */
        ANNOUNCER_REASON_EXPIRED,
        ANNOUNCER_REASON_LEFT,
        ANNOUNCER_REASON_PREEMPTED,
        ANNOUNCER_REASON_INELIGIBLE,
} AnnouncerReason;

typedef struct AnnouncerIo {
        int (*send)(void *userdata, int ifindex, const void *frame, size_t len);
        /* capture handle references: one per (ip, interface) in use */
        int (*open)(void *userdata, int ifindex, const char *ifname);
        void (*close)(void *userdata, int ifindex);
        int (*join)(void *userdata, const struct in6_addr *group, int ifindex);
        void (*leave)(void *userdata, const struct in6_addr *group, int ifindex);
        void *userdata;
} AnnouncerIo;

typedef struct AnnouncerConfig {
        const char *node;               /* events' reportingInstance, metrics' node label */
        unsigned garp_count;
        usec_t garp_interval;
        usec_t garp_refresh;            /* 0: no refresh */
        bool conflict_probe;
        usec_t probe_wait;
} AnnouncerConfig;

/* A Service using an IP (events and the announced gauge). */
typedef struct AnnouncerService {
        const char *namespace;
        const char *name;
        const char *uid;
} AnnouncerService;

/* metrics and events may be NULL (tests). */
int announcer_new(sd_event *event, const AnnouncerConfig *cfg, const AnnouncerIo *io, MetricsRegistry *metrics,
                  EventRecorder *events, Announcer **ret);
Announcer *announcer_free(Announcer *a);
DEFINE_POINTER_CLEANUP(Announcer, announcer_free);

/* The MACs of every local interface: frames from them are dropped and
 * never count as a conflict.  Replaces the previous set. */
int announcer_set_local_macs(Announcer *a, const MacAddr *macs, size_t n);

/* Desired state of one owned IP: the Services using it and the interfaces
 * selected for it (n_ifs 0: owner without a usable interface, which emits
 * announceFailed).  A new IP starts a takeover (probe if due, joins,
 * answering, burst; nodeAssigned on its Services, failovers_total{reason}
 * when reason is not NONE, takeover_seconds from trigger_usec, a
 * CLOCK_MONOTONIC time, 0 = now).  For an IP already owned only the
 * differences act: a newly selected interface gets a burst on that
 * interface alone, a deselected one stops answering; a running burst is
 * neither restarted nor extended. */
int announcer_set(Announcer *a, const IpAddr *ip, const AnnouncerService *services, size_t n_services,
                  const AnnouncerInterface *ifs, size_t n_ifs, AnnouncerReason reason, usec_t trigger_usec);
/* Loss of ownership: stop answering at once, cancel bursts, leave groups,
 * delete the announced series.  No goodbye.  0 if the IP was not owned. */
int announcer_withdraw(Announcer *a, const IpAddr *ip);
/* Fencing and SIGTERM: withdraw everything. */
void announcer_withdraw_all(Announcer *a);
/* Unfencing: every owned IP gets a takeover burst again. */
void announcer_burst_all(Announcer *a);

/* x was seen in some speaker lease's berth.io/announcing: from now on no
 * conflict probe for x (speaker.md §9). */
int announcer_note_claimed(Announcer *a, const IpAddr *ip);

/* A captured frame from ifindex (capture_frame_fn body). */
void announcer_handle_frame(Announcer *a, int ifindex, const uint8_t *frame, size_t len);

bool announcer_owns(const Announcer *a, const IpAddr *ip);
/* The owned IPs, sorted (ip_addr_compare): the lease's berth.io/announcing.
 * *ret is malloc'd (NULL when n is 0). */
int announcer_owned(const Announcer *a, IpAddr **ret, size_t *ret_n);
