/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The Kubernetes API client transport: libcurl's multi interface driven by
 * the process's one sd-event loop (socket and timer callbacks; no threads),
 * with the kubeconfig's auth and TLS, HTTP/2 when libcurl offers it, and a
 * hard cap on every response body.
 *
 * A request is asynchronous: kube_request() queues it and returns; the loop
 * calls on_done exactly once (unless the request is cancelled first).
 * Streaming requests (watches) also get on_data for each chunk as it
 * arrives; their body is not accumulated. */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "kubeconfig.h"
#include "json.h"
#include "timeutil.h"
#include "macros.h"

typedef struct KubeClient KubeClient;
typedef struct KubeRequest KubeRequest;

/* metav1.Status of a failed request, parsed when the body is one.  All
 * strings may be NULL. */
typedef struct KubeStatus {
        long http_code;         /* 0 when no HTTP response (transport error) */
        char *reason;           /* "Conflict", "NotFound", "Expired", ... */
        char *message;          /* server's message, or a transport description */
        char *cause_reason;     /* details.causes[0].reason, e.g. "NamespaceTerminating" */
} KubeStatus;
void kube_status_done(KubeStatus *s);
/* Fills *ret from a metav1.Status object (an error body, or the object of a
 * watch ERROR event); http_code is used when the Status has no code.
 * -EINVAL when v is not a Status. */
int kube_status_from_json(const JsonValue *v, long http_code, KubeStatus *ret);
/* Fills *ret from a non-2xx response: its Status when the body is one, else
 * a short description ("HTTP 500 with a non-JSON body (text/html)") and the
 * reason kube-apiserver would use for the code. */
int kube_status_from_response(long http_code, const char *content_type, const char *body, size_t len,
                              KubeStatus *ret);
/* "Conflict", "NotFound", ... for an HTTP code; NULL when none applies. */
const char *kube_reason_from_http_code(long http_code);

typedef struct KubeResponse {
        long http_code;         /* 0 on transport failure */
        const char *body;       /* NUL-terminated; NULL for streaming requests */
        size_t body_len;
        const KubeStatus *status; /* set when http_code is not 2xx or transport failed */
} KubeResponse;

/* error: 0 when an HTTP response arrived (any code), else -errno:
 * -ECONNREFUSED, -ETIMEDOUT, -EPROTO (TLS), -E2BIG (body cap), -ECANCELED ... */
typedef void (*kube_done_fn)(KubeRequest *req, int error, const KubeResponse *resp, void *userdata);
/* Return < 0 to abort the request (on_done then gets that error). */
typedef int (*kube_data_fn)(KubeRequest *req, const char *data, size_t len, void *userdata);

typedef struct KubeRequestOptions {
        const char *method;        /* "GET", "POST", "PUT", "PATCH", "DELETE" */
        const char *path;          /* "/api/v1/namespaces/x/pods?limit=500" (already escaped) */
        const char *content_type;  /* for a body; default application/json */
        const char *body;
        size_t body_len;
        size_t max_body;           /* 0 = 64 MiB; cap for non-streaming bodies */
        bool stream;               /* watch: deliver via on_data, no total timeout */
        usec_t timeout;            /* 0 = 60 s for non-streaming; streams have none */
        kube_data_fn on_data;
        kube_done_fn on_done;
        void *userdata;
} KubeRequestOptions;

typedef struct KubeClientOptions {
        double qps;                /* client-side rate limit; 0 = unlimited */
        unsigned burst;
        const char *user_agent;    /* "berth-controller/0.1.0" */
} KubeClientOptions;

/* config must outlive the client.  opts may be NULL. */
int kube_client_new(sd_event *event, const KubeConfig *config, const KubeClientOptions *opts, KubeClient **ret);
/* Cancels all requests without calling on_done.  Not from inside one of
 * the client's own callbacks. */
KubeClient *kube_client_free(KubeClient *c);
DEFINE_POINTER_CLEANUP(KubeClient, kube_client_free);

/* Queues a request.  ret may be NULL when the caller never cancels. */
int kube_request(KubeClient *c, const KubeRequestOptions *opts, KubeRequest **ret);
/* Cancels without calling on_done.  NULL is a no-op. */
void kube_request_cancel(KubeRequest *req);
/* The server stopped answering (a watch went silent): shut down every
 * connection the client holds, so every request multiplexed on a dead
 * connection fails at once and later requests connect anew instead of
 * queueing on it.  With HTTP/2 there is one connection to the API server,
 * and client-go retires it the same way when its health-check ping fails;
 * requests on a healthy connection are retried by their owners (watches
 * resume from their last resourceVersion).  NULL is a no-op. */
void kube_client_break_connections(KubeClient *c);
/* Number of requests in flight (tests, metrics). */
size_t kube_client_in_flight(const KubeClient *c);
/* Prometheus counters: requests by code, kept by the client. */
unsigned long kube_client_requests_total(const KubeClient *c);

/* Path helpers: "/api/v1", "/apis/<group>/<version>", namespaced or not,
 * with name and subresource, query parameters appended as given. */
char *kube_path(const char *group, const char *version, const char *resource, const char *namespace,
                const char *name, const char *subresource);
/* Percent-escapes a query value (label selectors, continue tokens). */
char *kube_escape(const char *s);
