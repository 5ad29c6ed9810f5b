/* SPDX-License-Identifier: Apache-2.0 */
#include "source.h"

/* The typed write helpers: one place that maps each controller-facing
 * operation to the (method, subresource, content type) a source executes,
 * so the API and offline sources cannot disagree about them. */

int source_create(Source *s, const KubeKind *kind, const char *namespace, const char *body,
                  source_write_fn done, void *userdata) {
        if (!s || !kind || !body)
                return -EINVAL;
        return s->ops->write(s, "POST", kind, namespace, NULL, NULL, "application/json", body, done, userdata);
}

int source_replace(Source *s, const KubeKind *kind, const char *namespace, const char *name, const char *body,
                   source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PUT", kind, namespace, name, NULL, "application/json", body, done, userdata);
}

int source_replace_status(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                          const char *body, source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PUT", kind, namespace, name, "status", "application/json", body, done, userdata);
}

int source_merge_patch(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                       const char *subresource, const char *body, source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name) || !body)
                return -EINVAL;
        return s->ops->write(s, "PATCH", kind, namespace, name, subresource, "application/merge-patch+json", body,
                             done, userdata);
}

int source_delete(Source *s, const KubeKind *kind, const char *namespace, const char *name,
                  source_write_fn done, void *userdata) {
        if (!s || !kind || isempty(name))
                return -EINVAL;
        return s->ops->write(s, "DELETE", kind, namespace, name, NULL, NULL, NULL, done, userdata);
}

Source *source_free(Source *s) {
        if (!s)
                return NULL;
        s->ops->free(s);
        return NULL;
}

int source_errno_from_status(const KubeStatus *st) {
        long code = st ? st->http_code : 0;

        switch (code) {
        case 400:
        case 422:
                return -EINVAL;
        case 401:
                return -EACCES;
        case 403:
                return -EPERM;
        case 404:
                return -ENOENT;
        case 409:
                return st->reason && streq(st->reason, "AlreadyExists") ? -EEXIST : -ESTALE;
        case 410:
                return -ENODATA;
        case 429:
                return -EAGAIN;
        default:
                return -EIO;
        }
}
