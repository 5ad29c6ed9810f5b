# shellcheck shell=bash
# tests/bench/lib.sh: shell shared by the side-by-side benchmarks that run a
# controller on a fresh real control plane (tests/envtest) under a Go
# driver's load (bench-lbipam.sh; bench-endpoints.sh has the same steps
# inline).  Source it after `set -euo pipefail`; it sets bench_top.
#
#   bench_build_driver SRCDIR OUT     go build of a driver module
#   bench_envtest_start [START-ARGS]  fresh control plane; sources its env
#   bench_spawn LABEL LOG CMD...      the controller, in the background
#   bench_stop                        the controller and the control plane
#   bench_medians OUT FILE...         median of each figure over the runs
#   bench_table A B FILE-A FILE-B     the figures side by side, ratio A/B
#   bench_loadavg                     "load average: 1m 5m 15m"

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_envdir= bench_pid=

bench_die() {
	echo "bench: $*" >&2
	exit 1
}

bench_build_driver() {
	local src=$1 out=$2
	(cd "$src" && GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} go build -trimpath -o "$out" .) ||
		bench_die "cannot build the driver in $src"
}

bench_envtest_start() {
	bench_envdir=$("$bench_top/tests/envtest/start" "$@" | tail -n 1)
	# shellcheck disable=SC1091
	. "$bench_envdir/env"
	export KUBECONFIG
}

# Starts CMD with its output in LOG; fails unless it still runs 3 s later.
bench_spawn() {
	local label=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	bench_pid=$!
	sleep 3
	kill -0 "$bench_pid" 2>/dev/null || { tail "$log" >&2; bench_pid=; bench_die "$label exited at once"; }
	echo "bench: $label (pid $bench_pid) on $BERTH_APISERVER_URL" >&2
}

# Safe to call twice, and from an EXIT trap.
bench_stop() {
	if [ -n "$bench_pid" ]; then
		kill "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	if [ -n "$bench_envdir" ]; then
		"$bench_top/tests/envtest/stop" "$bench_envdir" >/dev/null 2>&1 || true
	fi
	bench_pid= bench_envdir=
}

# Figures are `label_name: value unit` lines; OUT gets the median of each
# name over FILEs (the runs of one side), in the same format.
bench_medians() {
	local out=$1
	shift
	awk '/^[a-z]/ && NF >= 3 { sub(/:$/, "", $1); v[$1] = v[$1] " " $2; u[$1] = $3 }
	     END { for (k in v) { n = split(substr(v[k], 2), a, " ");
	                          for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	                          m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
	                          printf "%s: %.3f %s\n", k, m, u[k] } }' "$@" | sort >"$out"
}

bench_table() {
	local a=$1 b=$2 fa=$3 fb=$4
	printf '%-36s %14s %14s %10s\n' figure "$a" "$b" "$a/$b"
	join <(sed -n "s/^${a}_\([a-z0-9_]*\): \([0-9.e+-]*\) \(.*\)/\1 \2 \3/p" "$fa" | sort) \
		<(sed -n "s/^${b}_\([a-z0-9_]*\): \([0-9.e+-]*\) .*/\1 \2/p" "$fb" | sort) |
		awk '{ r = ($4 > 0) ? sprintf("%.3g", $2 / $4) : "-";
		       printf "%-36s %10.3f %-3s %10.3f %-3s %10s\n", $1, $2, substr($3, 1, 3), $4, substr($3, 1, 3), r }'
}

bench_loadavg() {
	uptime | sed 's/.*\(load average\)/\1/'
}
