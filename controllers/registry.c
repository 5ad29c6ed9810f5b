/* SPDX-License-Identifier: Apache-2.0 */
#include "endpoints_controller.h"
#include "lbipam.h"
#include "nodeport.h"
#include "registry.h"
#include "endpointslices.h"

/* Controller engineers: add your init function here (and keep the order
 * of controller_names[] the same).  The name is the --controllers name. */
const ControllerRegistration controller_registry[] = {
        { "endpoints", endpoints_controller_init },
        { "endpointslice", endpointslice_controller_new },
        { "nodeport", nodeport_controller_init },
        { "lbipam", lbipam_controller_init },
        { NULL, NULL },
};

const char *const controller_names[] = {
        "endpoints",
        "endpointslice",
        "nodeport",
        "lbipam",
        NULL,
};
