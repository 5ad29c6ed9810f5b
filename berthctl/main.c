/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl: berth's state for a person (tables within 100 columns) or a
 * script (-o json, exit codes): `status` reads the cluster, `plan DIR` a
 * manifest directory, `nodeports` shows the node-port table alone. */
#include "log.h"
#include "run.h"

int main(int argc, char **argv) {
        Berthctl b;
        int r;

        log_open(argv[0]);
        r = berthctl_parse(argc, argv, &b);
        if (r != 0) {
                berthctl_done(&b);
                return r > 0 ? EXIT_OK : EXIT_USAGE;
        }
        /* The controllers' logs repeat what the report shows: errors only,
         * unless asked for debugging. */
        log_set_max_level(b.options.log_level >= LOG_DEBUG ? LOG_DEBUG : LOG_ERR);
        r = b.options.manifests ? run_plan(&b) : run_status(&b);
        berthctl_done(&b);
        return r;
}
