/* SPDX-License-Identifier: Apache-2.0 */
/* metav1.Status: what a failed API request says about itself (http.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* An error body worth parsing is small; a large one is not a Status. */
#define STATUS_MAX_BYTES (1024u * 1024u)

void kube_status_done(KubeStatus *s) {
        if (!s)
                return;
        free(s->reason);
        free(s->message);
        free(s->cause_reason);
        *s = (KubeStatus) {};
}

const char *kube_reason_from_http_code(long code) {
        /* The reasons kube-apiserver (and client-go for bodies that are not
         * a Status) attach to each code. */
        switch (code) {
        case 400: return "BadRequest";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 405: return "MethodNotAllowed";
        case 406: return "NotAcceptable";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 413: return "RequestEntityTooLarge";
        case 415: return "UnsupportedMediaType";
        case 422: return "Invalid";
        case 429: return "TooManyRequests";
        case 500: return "InternalError";
        case 503: return "ServiceUnavailable";
        case 504: return "Timeout";
        default:
                return code >= 500 && code < 600 ? "InternalError" : NULL;
        }
}

static int dup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int kube_status_from_json(const JsonValue *v, long http_code, KubeStatus *ret) {
        KubeStatus s = {};
        const char *reason;
        int64_t code;

        if (json_type(v) != JSON_OBJECT || !streq_ptr(json_get_string(v, "kind"), "Status"))
                return -EINVAL;
        s.http_code = json_int64(json_get(v, "code"), &code) >= 0 && code > 0 ? (long) code : http_code;
        reason = json_get_string(v, "reason");
        if (isempty(reason))
                reason = kube_reason_from_http_code(s.http_code);
        if (dup_or_null(reason, &s.reason) < 0 || dup_or_null(json_get_string(v, "message"), &s.message) < 0 ||
            dup_or_null(json_get_string(json_array_at(json_get_path(v, "details", "causes"), 0), "reason"),
                        &s.cause_reason) < 0) {
                kube_status_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static bool looks_like_json(const char *content_type, const char *body, size_t len) {
        if (content_type && (strncasecmp(content_type, "application/json", 16) == 0 || strstr(content_type, "+json")))
                return true;
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r\n", body[i]))
                        return body[i] == '{';
        return false;
}

int kube_status_from_response(long http_code, const char *content_type, const char *body, size_t len,
                              KubeStatus *ret) {
        _cleanup_(json_doc_freep) JsonDoc *doc = NULL;
        KubeStatus s = { .http_code = http_code };
        const char *what;
        char *msg;
        int r;

        if (len > 0 && len <= STATUS_MAX_BYTES && looks_like_json(content_type, body, len) &&
            json_parse(body, len, NULL, &doc, NULL) >= 0) {
                r = kube_status_from_json(json_doc_root(doc), http_code, ret);
                if (r != -EINVAL)
                        return r;
                what = "a JSON body that is not a Status";
        } else if (len == 0)
                what = "an empty body";
        else
                what = "a non-JSON body";

        if (len > 0 && !streq(what, "a JSON body that is not a Status")) {
                char ct[64];
                /* Only the media type; never echo the body (it may be a whole HTML page). */
                snprintf(ct, sizeof ct, "%.*s", (int) strcspn(strempty(content_type), ";"),
                         strempty(content_type));
                r = asprintf(&msg, "HTTP %ld with %s (%s)", http_code, what, isempty(ct) ? "no content type" : ct);
        } else
                r = asprintf(&msg, "HTTP %ld with %s", http_code, what);
        if (r < 0)
                return -ENOMEM;
        s.message = msg;
        if (dup_or_null(kube_reason_from_http_code(http_code), &s.reason) < 0) {
                kube_status_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}
