#!/bin/bash
# Issue 3's benchmark: berth-controller's endpoints + endpointslice
# controllers side by side with kube-controller-manager's, each alone on a
# fresh real control plane (tests/envtest), under the same load from
# tests/bench/bench-endpoints/ (a client-go driver: 1,000 Services x 10
# pods created ready, every pod flipped to not ready, half the pods
# deleted, then 60 s unchanged).  Prints each figure side by side with the
# ratio berth/KCM.  Not run in CI.
#
#   tests/bench/bench-endpoints.sh [BUILDDIR]
#
# BUILDDIR holds berth-controller (default: the current directory).
# kube-controller-manager comes from tests/envtest/build.sh (built on first
# use, ~10 min).  Environment: BERTH_BENCH_SERVICES (1000),
# BERTH_BENCH_PODS (10 per Service), BERTH_BENCH_IDLE (60s),
# BERTH_BENCH_ONLY (berth or kcm: run one side), BERTH_BENCH_QPS (client
# rate limit given to KCM; berth's client has none: default 100000, i.e.
# none either), BERTH_BENCH_OUT (directory for the raw figures and logs).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-.}" && pwd)
berth=$build/berth-controller
services=${BERTH_BENCH_SERVICES:-1000}
pods=${BERTH_BENCH_PODS:-10}
idle=${BERTH_BENCH_IDLE:-60s}
qps=${BERTH_BENCH_QPS:-100000}
outdir=${BERTH_BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench-endpoints.XXXXXX")}
mkdir -p "$outdir"

[ -x "$berth" ] || { echo "bench-endpoints: no $berth (build first, or pass BUILDDIR)" >&2; exit 1; }
envbin=$("$top/tests/envtest/build.sh" kube-apiserver etcd kube-controller-manager | tail -n 1)
kcm=$envbin/kube-controller-manager

driver=$outdir/bench-endpoints-driver
( cd "$top/tests/bench/bench-endpoints" && GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
	go build -trimpath -o "$driver" . ) || { echo "bench-endpoints: cannot build the driver" >&2; exit 1; }

envdir= pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	[ -n "$envdir" ] && "$top/tests/envtest/stop" "$envdir" >/dev/null 2>&1 || true
	pid= envdir=
}
trap cleanup EXIT

# run LABEL: a fresh control plane (a Service CIDR large enough
# for every Service), the controller, the driver; figures to $outdir/LABEL.txt.
start_berth() {
	exec "$berth" --kubeconfig "$KUBECONFIG" --leader-elect=false \
		--controllers=endpoints,endpointslice --metrics-bind-address=127.0.0.1:0 --log-level=warning
}
start_kcm() {
	exec "$kcm" --kubeconfig="$KUBECONFIG" --leader-elect=false --use-service-account-credentials=false \
		--controllers=endpoints-controller,endpointslice-controller --kube-api-qps="$qps" \
		--kube-api-burst="$qps" --secure-port=0 --v=0
}
run() {
	local label=$1
	envdir=$(BERTH_ENVTEST_SERVICE_CIDR=10.96.0.0/16 "$top/tests/envtest/start" | tail -n 1)
	# shellcheck disable=SC1091
	. "$envdir/env"
	"start_$label" >"$outdir/$label.log" 2>&1 &
	pid=$!
	sleep 3
	kill -0 "$pid" 2>/dev/null || { echo "bench-endpoints: $label exited:" >&2; tail "$outdir/$label.log" >&2; exit 1; }
	echo "bench-endpoints: $label (pid $pid) on $BERTH_APISERVER_URL" >&2
	"$driver" --kubeconfig "$KUBECONFIG" --pid "$pid" --label "$label" --services "$services" \
		--pods-per-service "$pods" --idle "$idle" | tee "$outdir/$label.txt"
	# berth's own counters (queue retries, stale syncs) for the analysis
	local port
	port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { sub(/.*:/, "", $4); print $4; exit }')
	[ "$label" = berth ] && [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/metrics" >"$outdir/$label.metrics" || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	"$top/tests/envtest/stop" "$envdir" >/dev/null 2>&1 || true
	envdir=
}

only=${BERTH_BENCH_ONLY:-}
if [ -z "$only" ] || [ "$only" = berth ]; then
	run berth
fi
if [ -z "$only" ] || [ "$only" = kcm ]; then
	run kcm
fi

[ -f "$outdir/berth.txt" ] && [ -f "$outdir/kcm.txt" ] || { echo "raw figures in $outdir"; exit 0; }

echo
echo "bench-endpoints: $services Services x $pods pods; figures in $outdir"
printf '%-32s %14s %14s %10s\n' figure berth kcm berth/kcm
join <(sed -n 's/^berth_\([a-z0-9_]*\): \([0-9.]*\) \(.*\)/\1 \2 \3/p' "$outdir/berth.txt" | sort) \
	<(sed -n 's/^kcm_\([a-z0-9_]*\): \([0-9.]*\) .*/\1 \2/p' "$outdir/kcm.txt" | sort) |
	awk '{ r = ($4 > 0) ? sprintf("%.2f", $2 / $4) : "-";
	       printf "%-32s %10.3f %-3s %10.3f %-3s %10s\n", $1, $2, substr($3, 1, 3), $4, substr($3, 1, 3), r }'
