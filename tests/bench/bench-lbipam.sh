#!/bin/bash
# Issue 5's benchmark: berth-controller's lbipam controller side by side with
# MetalLB's controller, each alone on a fresh real control plane
# (tests/envtest, Service CIDR a /16 so that cluster IPs do not run out),
# under the same load from tests/bench/bench-lbipam/ (a client-go driver):
# one /16 IPAddressPool and 10,000 LoadBalancer Services
# (allocateLoadBalancerNodePorts: false).  The driver creates 1 warm-up
# Service, 100 one at a time (latency into an empty pool), the bulk
# concurrently (time until all have IPs), then 100 one at a time again
# (latency of the 10,000th); it samples the controller's CPU and memory
# (see the driver's comment).  Each side runs BERTH_BENCH_RUNS times; the
# table shows the median of each figure and the ratio berth/MetalLB.  Not
# run in CI.
#
#   tests/bench/bench-lbipam.sh [BUILDDIR]
#
# BUILDDIR holds berth-controller (default: the current directory).
# MetalLB's controller comes from tests/bench/build-metallb.sh (built on
# first use, ~3 min, outside the repository).  Environment:
# BERTH_BENCH_SERVICES (10000), BERTH_BENCH_PROBE (100),
# BERTH_BENCH_WORKERS (16 concurrent writers in the bulk phase),
# BERTH_BENCH_RUNS (3), BERTH_BENCH_ONLY (berth or metallb: run one side),
# BERTH_BENCH_OUT (directory for the raw figures and logs).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

build=$(cd "${1:-.}" && pwd)
berth=$build/berth-controller
services=${BERTH_BENCH_SERVICES:-10000}
probe=${BERTH_BENCH_PROBE:-100}
workers=${BERTH_BENCH_WORKERS:-16}
runs=${BERTH_BENCH_RUNS:-3}
only=${BERTH_BENCH_ONLY:-}
outdir=${BERTH_BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench-lbipam.XXXXXX")}
mkdir -p "$outdir"
config_ns=metallb-system

sides=()
[ -z "$only" ] || [ "$only" = berth ] && sides+=(berth)
[ -z "$only" ] || [ "$only" = metallb ] && sides+=(metallb)
[ ${#sides[@]} -gt 0 ] || bench_die "BERTH_BENCH_ONLY must be berth or metallb"

if [[ " ${sides[*]} " == *" berth "* ]]; then
	[ -x "$berth" ] || bench_die "no $berth (build first, or pass BUILDDIR)"
fi
if [[ " ${sides[*]} " == *" metallb "* ]]; then
	metallb=$("$bench_top/tests/bench/build-metallb.sh" | tail -n 1)/controller
fi
"$bench_top/tests/envtest/build.sh" kube-apiserver etcd >/dev/null
driver=$outdir/bench-lbipam-driver
bench_build_driver "$bench_top/tests/bench/bench-lbipam" "$driver"
trap bench_stop EXIT

# MetalLB's controller also caches the kinds of its BGP side; these minimal
# CRDs (group, names, versions, nothing else) let its informers start.  The
# pool and the advertisement use berth's complete, MetalLB-compatible CRDs.
other_crds() {
	local kind plural versions v
	while read -r kind plural versions; do
		printf -- '---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n'
		printf 'metadata:\n  name: %s.metallb.io\nspec:\n  group: metallb.io\n  scope: Namespaced\n' "$plural"
		printf '  names: {kind: %s, listKind: %sList, plural: %s, singular: %s}\n  versions:\n' \
			"$kind" "$kind" "$plural" "${kind,,}"
		for v in ${versions//,/ }; do
			printf '  - name: %s\n    served: true\n    storage: %s\n' "${v%\*}" "$([ "${v%\*}" != "$v" ] && echo true || echo false)"
			printf '    subresources: {status: {}}\n'
			printf '    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n'
		done
	done <<-EOF
	BFDProfile bfdprofiles v1beta1*
	BGPAdvertisement bgpadvertisements v1beta1*
	BGPPeer bgppeers v1beta1,v1beta2*
	Community communities v1beta1*
	ServiceL2Status servicel2statuses v1beta1*
	ServiceBGPStatus servicebgpstatuses v1beta1*
	EOF
}

start_berth() {
	exec "$berth" --kubeconfig "$KUBECONFIG" --leader-elect=false --controllers=lbipam \
		--config-namespace="$config_ns" --metrics-bind-address=127.0.0.1:0 --log-level=warning
}
# --port=0: its metrics on a free port; warn: like berth, no log line per Service
start_metallb() {
	exec "$metallb" --kubeconfig="$KUBECONFIG" --namespace="$config_ns" --webhook-mode=disabled \
		--disable-cert-rotation --port=0 --log-level=warn
}

run() {
	local label=$1 n=$2 raw=$outdir/$1-$2
	bench_envtest_start --service-cidr=10.96.0.0/16
	other_crds >"$outdir/metallb-other-crds.yaml"
	kubectl apply -f "$bench_top/examples/manifests/crds/" -f "$outdir/metallb-other-crds.yaml" >/dev/null
	kubectl wait --for condition=established --timeout=60s crd --all >/dev/null
	bench_spawn "$label" "$raw.log" "start_$label"
	{ echo "# $(bench_loadavg) (before)"; } >"$raw.txt"
	"$driver" --kubeconfig "$KUBECONFIG" --pid "$bench_pid" --label "$label" --services "$services" \
		--probe "$probe" --workers "$workers" --config-namespace "$config_ns" | tee -a "$raw.txt"
	echo "# $(bench_loadavg) (after)" >>"$raw.txt"
	bench_stop
}

for side in "${sides[@]}"; do
	for n in $(seq 1 "$runs"); do
		echo "bench-lbipam: $side, run $n of $runs; $(bench_loadavg)" >&2
		run "$side" "$n"
	done
	bench_medians "$outdir/$side.txt" "$outdir/$side"-*.txt
done

[ -f "$outdir/berth.txt" ] && [ -f "$outdir/metallb.txt" ] || { echo "raw figures in $outdir"; exit 0; }

echo
echo "bench-lbipam: $services LoadBalancer Services from a /16, medians of $runs runs; figures in $outdir"
bench_table berth metallb "$outdir/berth.txt" "$outdir/metallb.txt"
