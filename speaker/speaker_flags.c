/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "speaker_flags.h"

#define FLAGS(userdata) ((SpeakerFlags *) (userdata))

static int why(char **ret_why, const char *text) {
        *ret_why = strdup(text);
        return *ret_why ? -EINVAL : -ENOMEM;
}

static int set_string(char **target, const char *value) {
        return free_and_strdup(target, value);
}

static int parse_node(const char *value, void *userdata, char **ret_why) {
        if (isempty(value))
                return why(ret_why, "must not be empty");
        return set_string(&FLAGS(userdata)->node, value);
}

static int parse_config_namespace(const char *value, void *userdata, char **ret_why) {
        if (isempty(value))
                return why(ret_why, "must not be empty");
        return set_string(&FLAGS(userdata)->config_namespace, value);
}

/* Any value: an unknown class simply matches no Service (lbipam §4). */
static int parse_lb_class(const char *value, void *userdata, char **ret_why) {
        (void) ret_why;
        return set_string(&FLAGS(userdata)->lb_class, value);
}

static int parse_lease_duration(const char *value, void *userdata, char **ret_why) {
        int r = cli_parse_duration(value, false, &FLAGS(userdata)->lease_duration, ret_why);
        return r < 0 ? r : set_string(&FLAGS(userdata)->lease_duration_text, value);
}

static int parse_lease_renew(const char *value, void *userdata, char **ret_why) {
        int r = cli_parse_duration(value, false, &FLAGS(userdata)->lease_renew, ret_why);
        return r < 0 ? r : set_string(&FLAGS(userdata)->lease_renew_text, value);
}

static int parse_failback(const char *value, void *userdata, char **ret_why) {
        if (streq(value, "always"))
                FLAGS(userdata)->failback = SPEAKER_FAILBACK_ALWAYS;
        else if (streq(value, "never"))
                FLAGS(userdata)->failback = SPEAKER_FAILBACK_NEVER;
        else
                return why(ret_why, "must be always or never");
        return 0;
}

static int parse_ignore_exclude_lb(const char *value, void *userdata, char **ret_why) {
        return cli_parse_bool(value, &FLAGS(userdata)->ignore_exclude_lb, ret_why);
}

static int parse_garp_count(const char *value, void *userdata, char **ret_why) {
        char *end = NULL;
        unsigned long n;

        errno = 0;
        n = strtoul(value, &end, 10);
        if (!*value || *end || value[0] == '-' || value[0] == '+' || errno != 0 || n < 1 || n > 1000)
                return why(ret_why, "must be an integer from 1 to 1000");
        FLAGS(userdata)->garp_count = (unsigned) n;
        return 0;
}

static int parse_garp_interval(const char *value, void *userdata, char **ret_why) {
        return cli_parse_duration(value, false, &FLAGS(userdata)->garp_interval, ret_why);
}

static int parse_garp_refresh(const char *value, void *userdata, char **ret_why) {
        return cli_parse_duration(value, true, &FLAGS(userdata)->garp_refresh, ret_why);
}

static int parse_conflict_probe(const char *value, void *userdata, char **ret_why) {
        return cli_parse_bool(value, &FLAGS(userdata)->conflict_probe, ret_why);
}

static int parse_probe_wait(const char *value, void *userdata, char **ret_why) {
        return cli_parse_duration(value, false, &FLAGS(userdata)->probe_wait, ret_why);
}

static int parse_exclude_interfaces(const char *value, void *userdata, char **ret_why) {
        regex_t re;
        int r;

        /* An empty regex would exclude every interface: surely a mistake. */
        if (isempty(value))
                return why(ret_why, "must not be empty");
        r = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char buf[256];
                regerror(r, &re, buf, sizeof buf);
                return why(ret_why, buf);
        }
        regfree(&re);
        return set_string(&FLAGS(userdata)->exclude_interfaces, value);
}

int speaker_flags_validate(void *userdata, const char **ret_flag, const char **ret_value, char **ret_why) {
        SpeakerFlags *f = userdata;
        const char *env;

        if (f->lease_renew >= f->lease_duration) {
                char buf[128];
                snprintf(buf, sizeof buf, "must be shorter than --lease-duration (%s)",
                         f->lease_duration_text ? f->lease_duration_text : "3s");
                *ret_flag = "lease-renew";
                *ret_value = f->lease_renew_text ? f->lease_renew_text : "1s";
                return why(ret_why, buf);
        }
        env = getenv("NODE_NAME");
        if (!f->node && !isempty(env))
                return set_string(&f->node, env);
        return 0;
}

int speaker_flags_check_node(const SpeakerFlags *f, const char *program, char **ret_message) {
        if (f->node)
                return 0;
        *ret_message = cli_invalid_argument(program, "node", "", "required (set --node or $NODE_NAME)");
        return *ret_message ? -EINVAL : -ENOMEM;
}

const char *speaker_flags_exclude_interfaces(const SpeakerFlags *f) {
        return f->exclude_interfaces ? f->exclude_interfaces : SPEAKER_DEFAULT_EXCLUDE_INTERFACES;
}

void speaker_flags_done(SpeakerFlags *f) {
        f->node = mfree(f->node);
        f->config_namespace = mfree(f->config_namespace);
        f->lb_class = mfree(f->lb_class);
        f->exclude_interfaces = mfree(f->exclude_interfaces);
        f->lease_duration_text = mfree(f->lease_duration_text);
        f->lease_renew_text = mfree(f->lease_renew_text);
}

const CliExtraOption speaker_cli_options[SPEAKER_CLI_OPTIONS_N] = {
        { "node", CLI_ARG_REQUIRED, "NAME", "This node's name (default $NODE_NAME; required)", parse_node },
        { "config-namespace", CLI_ARG_REQUIRED, "NS",
          "Namespace of the IPAddressPools and L2Advertisements (default: --namespace)", parse_config_namespace },
        { "lb-class", CLI_ARG_REQUIRED, "CLASS",
          "Handle only LoadBalancer Services of this loadBalancerClass (default: those without a class)",
          parse_lb_class },
        { "lease-duration", CLI_ARG_REQUIRED, "DURATION",
          "A speaker lease unchanged this long is dead; also the self-fencing limit (default 3s)",
          parse_lease_duration },
        { "lease-renew", CLI_ARG_REQUIRED, "DURATION",
          "Lease renewal period, shorter than --lease-duration (default 1s)", parse_lease_renew },
        { "failback", CLI_ARG_REQUIRED, "MODE",
          "always: an IP moves back to its preferred node (MetalLB); never: it stays (default always)",
          parse_failback },
        { "ignore-exclude-lb", CLI_ARG_NONE, NULL,
          "Ignore the node.kubernetes.io/exclude-from-external-load-balancers label", parse_ignore_exclude_lb },
        { "garp-count", CLI_ARG_REQUIRED, "N", "Rounds in a takeover burst, the immediate one included (default 5)",
          parse_garp_count },
        { "garp-interval", CLI_ARG_REQUIRED, "DURATION", "Time between takeover burst rounds (default 1100ms)",
          parse_garp_interval },
        { "garp-refresh", CLI_ARG_REQUIRED, "DURATION", "Periodic re-announcement; 0 disables (default 60s)",
          parse_garp_refresh },
        { "conflict-probe", CLI_ARG_NONE, NULL,
          "Probe for another holder before the first announcement of an IP (default true)", parse_conflict_probe },
        { "probe-wait", CLI_ARG_REQUIRED, "DURATION", "Listening window of the conflict probe (default 200ms)",
          parse_probe_wait },
        { "exclude-interfaces", CLI_ARG_REQUIRED, "REGEX",
          "Interfaces skipped by the default selection (default: MetalLB's list)", parse_exclude_interfaces },
};
