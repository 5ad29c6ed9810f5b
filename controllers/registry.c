/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"

/* Controller engineers: add your init function here (and keep the order
 * of controller_names[] the same).  The name is the --controllers name. */
const ControllerRegistration controller_registry[] = {
        { "endpoints", NULL },
        { "endpointslice", NULL },
        { "nodeport", NULL },
        { "lbipam", NULL },
        { NULL, NULL },
};

const char *const controller_names[] = {
        "endpoints",
        "endpointslice",
        "nodeport",
        "lbipam",
        NULL,
};
