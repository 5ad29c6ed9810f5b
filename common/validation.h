/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The API server's name and label validation, with its own messages
 * (compatibility strings: controllers quote them in events, so they stay
 * identical to kube-apiserver 1.33's).  Each returns NULL when the value is
 * valid, else a malloc'd message ("; "-joined when several rules fail);
 * -ENOMEM is reported as the message "out of memory". */

#include <stdbool.h>

#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253
#define QUALIFIED_NAME_MAX 63
#define LABEL_VALUE_MAX 63

char *validate_dns1123_label(const char *value);
char *validate_dns1123_subdomain(const char *value);
/* Label keys, annotation keys, appProtocol: optional DNS-subdomain prefix + "/" + name. */
char *validate_qualified_name(const char *value);
char *validate_label_value(const char *value);

bool is_dns1123_label(const char *value);
bool is_dns1123_subdomain(const char *value);
bool is_qualified_name(const char *value);
bool is_label_value(const char *value);
