#!/bin/bash
# Runs the integration tests against the real control plane (tests/envtest).
#
#   tests/integration/run.sh BUILDDIR [PROGRAM...]
#
# PROGRAMs (default: every BUILDDIR/tests/integration/test-*) are built
# already (`make check-integration` builds them; this script builds
# nothing).  One control plane serves all of them, except the programs
# named in $BERTH_ITEST_ISOLATED (they stop, restart or compact it): each
# of those gets its own.  A program reads $BERTH_ENVTEST_ENV.
#
# For each program: its output on stdout, a result line, and
# BUILDDIR/tests/integration/NAME.log + NAME.trs (automake's format, so CI
# counts every tier alike), and the summary line in run.log.  Exit status 1 if any program failed or the
# control plane could not start.
#
# Environment: BERTH_ITEST_TIMEOUT (seconds per program, default 300),
# BERTH_ITEST_KEEP=1 keeps the control plane directories of failed runs.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: run.sh BUILDDIR [PROGRAM...]" >&2; exit 2; }
builddir=$(cd "$1" && pwd) || exit 2
shift
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
envtest=$srcdir/tests/envtest
timeout_s=${BERTH_ITEST_TIMEOUT:-300}
isolated=" ${BERTH_ITEST_ISOLATED:-} "

programs=()
if [ $# -gt 0 ]; then
	for p in "$@"; do
		case $p in /*) programs+=("$p") ;; *) programs+=("$builddir/$p") ;; esac
	done
else
	for p in "$builddir"/tests/integration/test-*; do
		[ -x "$p" ] && [ -f "$p" ] && programs+=("$p")
	done
fi
if [ ${#programs[@]} -eq 0 ]; then
	echo "integration: no test programs found in $builddir/tests/integration (make check-integration builds them)" >&2
	exit 1
fi

export BERTH_SRCDIR=$srcdir
export BERTH_FAULTPROXY=$builddir/tests/integration/faultproxy
if [ ! -x "$BERTH_FAULTPROXY" ]; then
	echo "integration: $BERTH_FAULTPROXY is not built" >&2
	exit 1
fi

shared=
planes=()
stop_all() {
	local d
	for d in "${planes[@]}"; do
		[ -d "$d" ] && "$envtest/stop" "$d" >/dev/null 2>&1
	done
	planes=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Sets $plane to a new control plane's directory, or to "" on failure.
start_plane() {
	local out=$builddir/tests/integration/.plane.$$
	plane=
	if "$envtest/start" > "$out" 2> >(sed 's/^/  /'); then
		plane=$(tail -n 1 "$out")
	fi
	rm -f "$out"
	[ -n "$plane" ] && [ -f "$plane/env" ] || { plane=; return 1; }
	planes+=("$plane")
}

stop_plane() {
	local d=$1 failed=$2 keep=() i
	if [ "$failed" = 1 ]; then
		echo "--- last lines of $d/apiserver.log:"
		tail -n 15 "$d/apiserver.log" | sed 's/^/  /'
		[ "${BERTH_ITEST_KEEP:-0}" = 1 ] && keep=(--keep) && echo "--- kept: $d"
	fi
	"$envtest/stop" "${keep[@]}" "$d" || true
	for i in "${!planes[@]}"; do
		[ "${planes[$i]}" = "$d" ] && unset 'planes[i]'
	done
	planes=("${planes[@]}")
}

pass=0 fail=0 t_all=$SECONDS
for prog in "${programs[@]}"; do
	name=$(basename "$prog")
	log=$builddir/tests/integration/$name.log
	trs=$builddir/tests/integration/$name.trs
	mkdir -p "$(dirname "$log")"
	rm -f "$log" "$trs"
	echo "=== RUN   $name"

	own=false plane=
	if [[ $isolated == *" $name "* ]]; then
		own=true
		start_plane
	else
		if [ -z "$shared" ]; then
			start_plane
			shared=$plane
		fi
		plane=$shared
	fi
	if [ -z "$plane" ]; then
		echo "integration: the control plane did not start; $name cannot run" | tee "$log"
		printf ':test-result: ERROR\n' > "$trs"
		echo "--- FAIL  $name (no control plane)"
		fail=$((fail + 1))
		continue
	fi

	t0=$SECONDS
	BERTH_ENVTEST_ENV=$plane/env timeout -k 10 "$timeout_s" "$prog" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	dt=$((SECONDS - t0))
	if [ $rc -eq 0 ]; then
		printf ':test-result: PASS\n' > "$trs"
		echo "--- PASS  $name (${dt}s)"
		pass=$((pass + 1))
	else
		why="exit $rc"
		[ $rc -eq 124 ] && why="timed out after ${timeout_s}s"
		printf ':test-result: FAIL\n' > "$trs"
		echo "--- FAIL  $name ($why, ${dt}s)"
		fail=$((fail + 1))
	fi
	if $own; then
		stop_plane "$plane" $((rc != 0))
	elif [ $rc -ne 0 ]; then
		echo "--- last lines of $plane/apiserver.log:"
		tail -n 15 "$plane/apiserver.log" | sed 's/^/  /'
	fi
done
[ -n "$shared" ] && stop_plane "$shared" 0

# The summary also goes to run.log (CI reads the time from it).
echo "integration: ${#programs[@]} programs, $pass passed, $fail failed ($((SECONDS - t_all))s)" |
	tee "$builddir/tests/integration/run.log"
[ $fail -eq 0 ]
