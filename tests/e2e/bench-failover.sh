#!/bin/bash
# berth-speaker's figures of issue #6 "Benchmarks", in the e2e harness's
# namespaces (tests/e2e/lib.sh); a benchmark, not a test: it prints figures.
#
#   tests/e2e/bench-failover.sh BUILDDIR      (make bench-failover)
#
# 1. Failover, measured in the client namespace (e2e-arp failover: kernel
#    receive time of the first gratuitous ARP from a MAC other than the old
#    owner's, minus the time just before kill(2)), RUNS runs each:
#    SIGKILL at --lease-duration 3s/--lease-renew 1s, SIGKILL at 1s/250ms,
#    SIGTERM (3s/1s).  After each run the victim is restarted and the test
#    waits until it owns the IP again (failback), so every run starts alike.
# 2. ARP reply latency: 1,000 requests/s for 10 s from the client (e2e-arp
#    request: each reply matched to its request), p50/p99/max.
# 3. One speaker announcing 1,000 IPs: private memory (Rss - Shared, from
#    /proc/PID/smaps_rollup) beside VmRSS, and CPU over 30 s of idle.
#
# Environment: BERTH_BENCH_RUNS (default 20), BERTH_BENCH_IPS (1000).
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: bench-failover.sh BUILDDIR" >&2; exit 2; }
builddir=$(cd "$1" && pwd) || exit 2
E2E_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
. "$E2E_SRCDIR/tests/e2e/lib.sh"
E2E_ARP=$builddir/tests/e2e/e2e-arp
E2E_SPEAKER=${BERTH_E2E_SPEAKER:-$builddir/berth-speaker}
RUNS=${BERTH_BENCH_RUNS:-20}
NIPS=${BERTH_BENCH_IPS:-1000}
[ -x "$E2E_ARP" ] && [ -x "$E2E_SPEAKER" ] || { echo "bench: build tests/e2e/e2e-arp and berth-speaker first" >&2; exit 1; }

trap e2e_teardown EXIT
trap 'exit 130' INT TERM
E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-e2e.XXXXXX")
E2E_LOGDIR=$E2E_WORK
e2e_net_up && e2e_api_up && e2e_objects_up || { echo "bench: setup failed" >&2; exit 1; }

IP=$E2E_NET4.70
e2e_service bench-v4 "$IP" && e2e_endpoints bench-v4 IPv4 node-a || exit 1
OWNER=$(e2e_owner "$IP" "${E2E_NODES[@]}")

speakers_restart() {
	local n
	for n in "${E2E_NODES[@]}"; do e2e_speaker_stop "$n" TERM; done
	for n in "${E2E_NODES[@]}"; do e2e_speaker_start "$n" || return 1; done
	for n in "${E2E_NODES[@]}"; do e2e_speaker_wait "$n" || return 1; done
}

# Waits until the client's kernel, resolving anew, sees NODE's MAC.
wait_owner() {
	local want mac i
	want=$(e2e_node_mac "$1")
	for ((i = 0; i < 40; i++)); do
		mac=$(e2e_resolve "$E2E_NS_CLIENT" "$IP" 1000)
		[ "$mac" = "$want" ] && return 0
		sleep 0.25
	done
	echo "bench: $1 never became the owner of $IP (client sees ${mac:-nothing})" >&2
	return 1
}

# series NAME SIGNAL DURATION RENEW: RUNS failovers; prints the figures.
series() {
	local name=$1 sig=$2 E2E_LEASE_DURATION=$3 E2E_LEASE_RENEW=$4 k out ms=() v
	speakers_restart && wait_owner "$OWNER" || return 1
	for ((k = 0; k < RUNS; k++)); do
		# Let the previous takeover burst (5 rounds, 4.4 s) end first.
		sleep 1
		out=$(e2e_arp "$E2E_NS_CLIENT" failover eth0 "$IP" --pid "${E2E_SPEAKER_PID[$OWNER]}" --signal "$sig" \
			--old-mac "$(e2e_node_mac "$OWNER")" --timeout-ms 15000)
		e2e_speaker_reap "$OWNER"
		read -r _ v _ <<< "$out"
		[ "$v" = timeout ] && v=15000
		ms+=("$v")
		e2e_speaker_start "$OWNER" && e2e_speaker_wait "$OWNER" && wait_owner "$OWNER" || return 1
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk -v name="$name" -v n="$RUNS" '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%-34s runs %d  median %7.1f ms  worst %7.1f ms\n", name, NR, m, v[NR] }'
}

echo "== failover (client namespace: fault -> first GARP from the new owner), $RUNS runs each"
series "SIGKILL, lease 3s / renew 1s" KILL 3s 1s
series "SIGKILL, lease 1s / renew 250ms" KILL 1s 250ms
series "SIGTERM, lease 3s / renew 1s" TERM 3s 1s

echo "== ARP reply latency, 1000 requests/s for 10 s"
E2E_LEASE_DURATION=3s E2E_LEASE_RENEW=1s
speakers_restart && wait_owner "$OWNER" && sleep 5
e2e_arp "$E2E_NS_CLIENT" request eth0 "$IP" --rate 1000 --duration-ms 10000 | tail -n 1 | sed 's/^summary /  /'

# memory PID: private memory (Rss - Shared) and VmRSS, in MB.
memory() {
	# Rss - Shared counts library text no other process maps as private
	# (design.md); Anonymous (heap, stacks) does not move with what else runs.
	awk '/^Rss:/ {r = $2} /^Shared_Clean:/ {s += $2} /^Shared_Dirty:/ {s += $2} /^Anonymous:/ {a = $2}
	     END { printf "private memory (Rss - Shared) %.2f MB, anonymous %.2f MB", (r - s) / 1024, a / 1024 }' \
		"/proc/$1/smaps_rollup"
	awk '/^VmRSS:/ { printf ", VmRSS %.2f MB\n", $2 / 1024 }' "/proc/$1/status"
}
echo "  node-a's speaker with 1 IP: $(memory "${E2E_SPEAKER_PID[node-a]}")"

echo "== one speaker (node-a) announcing $NIPS IPs"
for n in "${E2E_NODES[@]}"; do e2e_speaker_stop "$n" TERM; done
e2e_pool bench-pool 10.200.0.0/20 && e2e_l2adv bench-l2 bench-pool || exit 1
# Three batches through curl --parallel inside the api namespace: the
# Services, their status IPs, their EndpointSlices.
batch() { # reads "METHOD PATH CONTENT-TYPE JSON" lines; fails unless all were 2xx
	local cfg=$E2E_WORK/batch.cfg k=0 method path ctype body bad
	: > "$cfg"
	while read -r method path ctype body; do
		k=$((k + 1))
		[ "$k" -gt 1 ] && echo next >> "$cfg"
		printf '%s' "$body" > "$E2E_WORK/body.$k"
		cat >> "$cfg" <<EOF
url = "https://127.0.0.1:$E2E_API_PORT$path"
request = "$method"
header = "Authorization: Bearer $E2E_ADMIN_TOKEN"
header = "Content-Type: $ctype"
cacert = "$E2E_CA"
data-binary = "@$E2E_WORK/body.$k"
output = "/dev/null"
write-out = "%{http_code}\\n"
silent
EOF
	done
	bad=$(ip netns exec "$E2E_NS_API" curl -s --no-progress-meter --parallel --parallel-max 16 -K "$cfg" \
		2>>"$E2E_WORK/batch.err" | grep -vc '^2')
	rm -f "$E2E_WORK"/body.*
	[ "$bad" -eq 0 ] || { echo "bench: $bad of $k API writes failed" >&2; return 1; }
}
t0=$(e2e_now_ms)
for ((k = 1; k <= NIPS; k++)); do
	echo "POST /api/v1/namespaces/e2e/services application/json {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"b$k\",\"namespace\":\"e2e\"},\"spec\":{\"type\":\"LoadBalancer\",\"allocateLoadBalancerNodePorts\":false,\"ipFamilies\":[\"IPv4\"],\"ports\":[{\"port\":80}]}}"
done | batch || exit 1
for ((k = 1; k <= NIPS; k++)); do
	echo "PATCH /api/v1/namespaces/e2e/services/b$k/status application/merge-patch+json {\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"10.200.$((k / 250)).$((k % 250 + 1))\",\"ipMode\":\"VIP\"}]}}}"
done | batch || exit 1
for ((k = 1; k <= NIPS; k++)); do
	echo "POST /apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices application/json {\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"b$k-e2e\",\"namespace\":\"e2e\",\"labels\":{\"kubernetes.io/service-name\":\"b$k\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.1.1\"],\"nodeName\":\"node-a\",\"conditions\":{\"ready\":true}}]}"
done | batch || exit 1
echo "  $NIPS Services + status + EndpointSlices written in $(($(e2e_now_ms) - t0)) ms"

t0=$(e2e_now_ms)
e2e_speaker_start node-a && e2e_speaker_wait node-a || exit 1
pid=${E2E_SPEAKER_PID[node-a]}
owned=0
for ((i = 0; i < 600; i++)); do
	owned=$(e2e_speaker_metrics node-a | awk '$1 == "berth_speaker_owned_ips" {print $2}')
	[ "${owned%.*}" -gt "$NIPS" ] 2>/dev/null && break
	sleep 0.1
done
echo "  node-a owns ${owned:-?} IPs (berth_speaker_owned_ips; $NIPS + bench-v4) $(($(e2e_now_ms) - t0)) ms after its start"
# Past the takeover bursts (5 rounds, 4.4 s) and the paced nodeAssigned
# Events (20/s: 50 s for 1,000) before measuring idle.
sleep 60
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu)
sleep 30
c1=$(cpu)
echo "  $(memory "$pid")"
awk -v d=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "  idle CPU over 30 s: %.2f%% of one core (%d ticks)\n", d / hz / 30 * 100, d }'
