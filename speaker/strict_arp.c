/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <linux/if.h>
#include <stdio.h>

#include "strict_arp.h"
#include "macros.h"

#define CONF_DIR "/proc/sys/net/ipv4/conf"

/* Reads one integer sysctl value; -ENOENT when the file is absent. */
static int read_conf(const char *root, const char *dev, const char *key, int *ret) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s" CONF_DIR "/%s/%s", strempty(root), dev, key) < 0)
                return -ENOMEM;

        FILE *f = fopen(path, "re");
        if (!f)
                return negative_errno();
        char line[32];
        bool ok = fgets(line, sizeof line, f);
        fclose(f);
        if (!ok)
                return -EIO;

        char *end;
        errno = 0;
        long v = strtol(line, &end, 10);
        if (errno != 0 || end == line || (*end != '\n' && *end != '\0') || v < INT_MIN || v > INT_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int read_pair(const char *root, const char *dev, int *ret_ignore, int *ret_announce) {
        int ignore, announce, r;

        r = read_conf(root, dev, "arp_ignore", &ignore);
        if (r < 0)
                return r;
        r = read_conf(root, dev, "arp_announce", &announce);
        if (r < 0)
                return r;
        *ret_ignore = ignore;
        *ret_announce = announce;
        return 0;
}

static bool ipvs_holds_lb_ip(const LinkInfo *links, size_t n, strict_arp_is_lb_ip_fn is_lb_ip, void *userdata) {
        const LinkInfo *ipvs = link_find_by_name(links, n, STRICT_ARP_IPVS_DEVICE);
        if (!ipvs || !is_lb_ip)
                return false;
        for (size_t i = 0; i < ipvs->n_addresses; i++)
                if (is_lb_ip(&ipvs->addresses[i].local, userdata))
                        return true;
        return false;
}

static int max_int(int a, int b) {
        return a > b ? a : b;
}

int strict_arp_check(const char *root, const LinkInfo *links, size_t n, strict_arp_is_lb_ip_fn is_lb_ip,
                     void *userdata, StrictArpResult *ret) {
        int all_ignore, all_announce, r;

        if (!ipvs_holds_lb_ip(links, n, is_lb_ip, userdata)) {
                *ret = (StrictArpResult) { .verdict = STRICT_ARP_NOT_NEEDED };
                return 0;
        }

        r = read_pair(root, "all", &all_ignore, &all_announce);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const LinkInfo *l = &links[i];
                int dev_ignore, dev_announce;

                if (!link_usable(l) || !(l->flags & IFF_BROADCAST))
                        continue;
                r = read_pair(root, l->name, &dev_ignore, &dev_announce);
                if (r == -ENOENT)
                        continue; /* gone since the snapshot; its removal re-runs the check */
                if (r < 0)
                        return r;

                int ignore = max_int(all_ignore, dev_ignore);
                int announce = max_int(all_announce, dev_announce);
                if (ignore >= 1 && announce == 2)
                        continue;

                StrictArpResult res = {
                        .verdict = STRICT_ARP_DISABLED,
                        .arp_ignore = ignore,
                        .arp_announce = announce,
                };
                snprintf(res.dev, sizeof res.dev, "%s", l->name);
                *ret = res;
                return 0;
        }

        *ret = (StrictArpResult) { .verdict = STRICT_ARP_OK };
        return 0;
}

int strict_arp_message(const StrictArpResult *r, char **ret) {
        char *s;
        if (asprintf(&s,
                     "kube-ipvs0 holds load-balancer IPs but ARP is not strict on %s "
                     "(arp_ignore %d, arp_announce %d): every node may answer for them; "
                     "enable strictARP in kube-proxy's IPVS configuration",
                     r->dev, r->arp_ignore, r->arp_announce) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}
