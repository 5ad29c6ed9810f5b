#!/bin/bash
# The network e2e tier (`make check-e2e`): berth-speaker in network
# namespaces this script creates, the client's kernel as the ARP/NDP peer
# (tests/e2e/lib.sh has the topology); then the full path, berth-controller
# and the real kube-proxy with it (cases-fullpath.sh).  Needs root (network
# namespaces, raw sockets) and the control plane of tests/envtest/build.sh
# (with kube-proxy: built here, once per machine, when absent and Go is
# installed).
#
#   tests/e2e/run.sh BUILDDIR [CASE...]
#
# CASEs (default: all) are the function names below.  For each case: its
# output, a result line, BUILDDIR/tests/e2e/NAME.log + NAME.trs (automake's
# format, as the other tiers); the summary line also goes to run.log.
# A case that cannot run (no berth-speaker, no control plane) fails; none
# is skipped.  Every namespace and process made here is gone on exit.
#
# Environment: BERTH_E2E_LEASE_DURATION / BERTH_E2E_LEASE_RENEW (speaker
# flags, default 2s / 500ms), BERTH_E2E_KEEP=1 keeps the logs and the
# control plane directory, BERTH_E2E_PREFIX names the namespaces,
# BERTH_E2E_PROXY_MODE is kube-proxy's mode (iptables, the default, or
# nftables), BERTH_E2E_KUBE_PROXY / BERTH_E2E_CONTROLLER name the binaries.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: run.sh BUILDDIR [CASE...]" >&2; exit 2; }
builddir=$(cd "$1" && pwd) || exit 2
shift
E2E_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$E2E_SRCDIR/tests/e2e/lib.sh"
. "$E2E_SRCDIR/tests/e2e/cases-harness.sh"
. "$E2E_SRCDIR/tests/e2e/cases-speaker.sh"
. "$E2E_SRCDIR/tests/e2e/cases-fullpath.sh"

E2E_ARP=$builddir/tests/e2e/e2e-arp
E2E_SPEAKER=${BERTH_E2E_SPEAKER:-$builddir/berth-speaker}
E2E_CONTROLLER=${BERTH_E2E_CONTROLLER:-$builddir/berth-controller}
E2E_HTTP=$builddir/tests/e2e/e2e-http
E2E_OUT=$builddir/tests/e2e
E2E_LOGDIR=$E2E_OUT
mkdir -p "$E2E_OUT"
rm -f "$E2E_OUT"/*.trs "$E2E_OUT"/*.log

all_cases=(
	harness_topology harness_l2 harness_api harness_objects harness_tools
	speaker_start speaker_ipv4 speaker_ipv6 speaker_not_announced
	speaker_sigkill speaker_sigterm speaker_fencing
	speaker_node_selectors speaker_etp_local speaker_conflict
	fullpath_reach fullpath_failover fullpath_not_ready fullpath_etp_local
	harness_cleanup
)
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("${all_cases[@]}")

# Whatever happens, the namespaces and what runs in them go.
trap e2e_teardown EXIT
trap 'exit 130' INT TERM

t_all=$SECONDS
setup_ok=true
[ "$(id -u)" -eq 0 ] || { echo "e2e: needs root (network namespaces)"; setup_ok=false; }
[ -x "$E2E_ARP" ] || { echo "e2e: $E2E_ARP is not built (make check-e2e builds it)"; setup_ok=false; }
[ -x "$E2E_HTTP" ] || { echo "e2e: $E2E_HTTP is not built (make check-e2e builds it)"; setup_ok=false; }
# The full-path cases need kube-proxy; without it they fail (never skip).
if [[ " ${cases[*]} " == *" fullpath_"* ]] && [ ! -x "$FP_KUBE_PROXY" ] && [ -z "${BERTH_E2E_KUBE_PROXY:-}" ] && command -v go >/dev/null; then
	echo "=== setup: building kube-proxy (tests/envtest/build.sh kube-proxy)"
	"$E2E_SRCDIR/tests/envtest/build.sh" kube-proxy >/dev/null || echo "e2e: tests/envtest/build.sh kube-proxy failed"
fi
if $setup_ok; then
	E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-e2e.XXXXXX")
	echo "=== setup: namespaces $E2E_PREFIX-*, control plane in $E2E_NS_API"
	t0=$(e2e_now_ms)
	if e2e_net_up && e2e_api_up && e2e_objects_up; then
		echo "=== setup: ready in $(($(e2e_now_ms) - t0)) ms (apiserver at $E2E_API_IP4:$E2E_API_PORT)"
	else
		echo "e2e: setup failed"
		setup_ok=false
	fi
fi

# After the others: tears everything down and checks nothing is left.
harness_cleanup() {
	local made=("${E2E_NETNS_MADE[@]}") ns left pid
	e2e_teardown
	for ns in "${made[@]}"; do
		ip netns list | awk '{print $1}' | grep -qx "$ns" && { fail "namespace $ns still exists"; return 1; }
	done
	left=
	for pid in "${E2E_STARTED_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && left+=" $pid"
	done
	[ -z "$left" ] || { fail "speaker processes left:$left"; return 1; }
	[ "$(e2e_root_snapshot)" = "$E2E_ROOT_BEFORE" ] || { fail "the root namespace's links or addresses changed"; return 1; }
	note "${#made[@]} namespaces deleted, no process left, root namespace as before"
}

for c in "${cases[@]}"; do
	if ! declare -F "$c" >/dev/null; then
		echo "e2e: unknown case '$c'"
		E2E_CASES=$((E2E_CASES + 1)) E2E_FAIL=$((E2E_FAIL + 1))
		continue
	fi
	if ! $setup_ok && [ "$c" != harness_cleanup ]; then
		echo "=== RUN   $c"
		echo "e2e: setup failed; $c cannot run" > "$E2E_OUT/$c.log"
		printf ':test-result: ERROR\n' > "$E2E_OUT/$c.trs"
		echo "--- FAIL  $c (no harness)"
		E2E_CASES=$((E2E_CASES + 1)) E2E_FAIL=$((E2E_FAIL + 1))
		continue
	fi
	e2e_case "$c" "$c"
done
e2e_teardown

echo "e2e: $E2E_CASES cases, $E2E_PASS passed, $E2E_FAIL failed ($((SECONDS - t_all))s)" | tee "$E2E_OUT/run.log"
[ "$E2E_FAIL" -eq 0 ]
