#!/bin/bash
# Idle cost of berth-controller against a real, empty kube-apiserver
# (tests/envtest): private memory (Rss - Shared from smaps_rollup, the
# design.md figure) and VmRSS once it has settled, and wake-ups per second
# over a window (context switches of every thread, from /proc).
#
#   tests/bench/bench-idle.sh [BUILDDIR]
#
# BUILDDIR holds berth-controller (default: the current directory).
# Environment: BERTH_BENCH_SETTLE (s, default 10), BERTH_BENCH_WINDOW
# (s, default 30).  Targets: private memory <= 4 MB; no wake-ups more
# often than once a second.  It runs two configurations: the default
# (leader election on, renewing every --leader-elect-retry-period) and
# --leader-elect=false (nothing to do at all).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-.}
bin=$build/berth-controller
settle=${BERTH_BENCH_SETTLE:-10}
window=${BERTH_BENCH_WINDOW:-30}

[ -x "$bin" ] || { echo "bench-idle: no $bin (build first, or pass BUILDDIR)" >&2; exit 1; }

envdir=$("$top/tests/envtest/start" | tail -n 1)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	"$top/tests/envtest/stop" "$envdir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# shellcheck disable=SC1091
. "$envdir/env"

# Voluntary + involuntary context switches of every thread of $1: each is
# one time the process went to sleep or was put off the CPU.
switches() {
	local total=0 t v n
	for t in /proc/"$1"/task/*/status; do
		v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t" 2>/dev/null || echo 0)
		n=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t" 2>/dev/null || echo 0)
		total=$((total + ${v:-0} + ${n:-0}))
	done
	echo "$total"
}

kb() { awk -v k="$2" '$1 == k":" {print $2}' "$1"; }

# Wake-ups: returns from a blocking wait (epoll/poll/select) after the
# thread had slept at least 10 ms, in every thread, traced with strace -T
# for $2 seconds.  The few syscalls of one request that follow within
# milliseconds (curl's 0 ms timers, the response) are one burst, not
# separate wake-ups; they are counted in "waits".  Prints "WAKEUPS WAITS"
# per second, or nothing when strace cannot attach.
traced_wakeups() {
	command -v strace >/dev/null || return 0
	local out=$envdir/strace-$1.txt
	timeout -s INT "$2" strace -f -qq -T -e trace=epoll_wait,epoll_pwait,poll,ppoll,select,pselect6 \
		-o "$out" -p "$1" 2>/dev/null || true
	[ -s "$out" ] || return 0
	awk -v w="$2" '
		/unfinished \.\.\.>/ { next }
		/= [0-9]+ .*<[0-9.]+>$/ {
			d = $NF; gsub(/[<>]/, "", d)
			waits++
			if (d + 0 >= 0.010) wakeups++
		}
		END { printf "%.2f %.2f", wakeups / w, waits / w }' "$out"
}

start_controller() { # LABEL ARGS... -> prints the pid
	local label=$1
	shift
	"$bin" --kubeconfig "$KUBECONFIG" --namespace default --metrics-bind-address 127.0.0.1:0 \
		--log-level warning "$@" >/dev/null 2>"$envdir/controller-$label.log" &
	echo $!
}

check_alive() { # PID LABEL
	kill -0 "$1" 2>/dev/null && return 0
	echo "bench-idle: berth-controller ($2) exited:" >&2
	cat "$envdir/controller-$2.log" >&2
	exit 1
}

report() { # PID LABEL
	local p=$1 label=$2
	local rss shared priv_clean priv_dirty anon vmrss threads s0 s1 switches_per_s wakeups
	rss=$(kb /proc/$p/smaps_rollup Rss)
	anon=$(kb /proc/$p/smaps_rollup Anonymous)
	shared=$(( $(kb /proc/$p/smaps_rollup Shared_Clean) + $(kb /proc/$p/smaps_rollup Shared_Dirty) ))
	priv_clean=$(kb /proc/$p/smaps_rollup Private_Clean)
	priv_dirty=$(kb /proc/$p/smaps_rollup Private_Dirty)
	vmrss=$(kb /proc/$p/status VmRSS)
	threads=$(kb /proc/$p/status Threads)

	s0=$(switches "$p")
	sleep "$window"
	s1=$(switches "$p")
	switches_per_s=$(awk -v a="$s0" -v b="$s1" -v w="$window" 'BEGIN { printf "%.2f", (b - a) / w }')
	local traced waits=
	traced=$(traced_wakeups "$p" "$window")
	wakeups=${traced%% *}
	[ -n "$traced" ] && waits=${traced##* }

	echo "$label:"
	printf '  private memory   %6d KiB  (Rss %d - Shared %d = Private_Clean %d + Private_Dirty %d)\n' \
		"$((rss - shared))" "$rss" "$shared" "$priv_clean" "$priv_dirty"
	printf '  of which heap    %6d KiB  (Anonymous)\n' "$anon"
	printf '  VmRSS            %6d KiB  threads %d\n' "$vmrss" "$threads"
	printf '  context switches %6s /s   (all threads, %ss)\n' "$switches_per_s" "$window"
	if [ -n "$wakeups" ]; then
		printf '  wake-ups         %6s /s   (returns after >= 10 ms asleep, strace -T, %ss)\n' "$wakeups" "$window"
		printf '  waits returned   %6s /s   (every epoll/poll return, bursts included)\n' "$waits"
	fi
	awk -v m="$((rss - shared))" -v w="${wakeups:-$switches_per_s}" 'BEGIN {
		printf "  targets: private memory %s (<= 4096 KiB), wake-ups %s (<= 1/s)\n",
			(m <= 4096 ? "met" : "MISSED"), (w <= 1.0 ? "met" : "MISSED") }'
}

stop_controller() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

measure() { # LABEL ARGS...: one process alone
	local label=$1
	pid=$(start_controller "$@")
	sleep "$settle"
	check_alive "$pid" "$label"
	report "$pid" "$label (one process alone: library text it alone maps counts as private)"
	stop_controller "$pid"
	pid=
}

# The Deployment's shape (examples/manifests: 2 replicas, one Lease): the
# two replicas map the same libraries, so library text counts as shared, as
# design.md intends ("shared library pages are not berth's to shrink").
measure_deployment() {
	local a b
	a=$(start_controller replica-a)
	pid=$a
	sleep 1
	b=$(start_controller replica-b)
	sleep "$settle"
	check_alive "$a" replica-a
	check_alive "$b" replica-b
	report "$a" "deployment, replica a (leader: renews the Lease every retry period)"
	report "$b" "deployment, replica b (standby: caches synced, tries the Lease every retry period)"
	stop_controller "$b"
	stop_controller "$a"
	pid=
}

echo "bench-idle: berth-controller $("$bin" --version | awk '{print $2}') against kube-apiserver on $BERTH_APISERVER_URL (empty cluster), settle ${settle}s"
measure_deployment
measure leader-elect
measure no-leader-elect --leader-elect=false
