#!/bin/sh
# berth-speaker offline (speaker.md §1, §13; offline.md "The speaker
# offline"): the announcements over the demo and the fixture directories of
# tests/unit/speaker, byte-identical runs, and the one-line errors of bad
# flags (exit 2).
set -u
bin=./berth-speaker
dir=${srcdir:-.}/tests/unit/speaker
demo=${srcdir:-.}/examples/demo
now=2025-06-01T10:00:00Z
. "${srcdir:-.}/tests/unit/lib.sh"

# expect WHAT EXPECTED ARGS...: stdout of berth-speaker ARGS must be EXPECTED
expect() {
	what=$1 want=$2
	shift 2
	got=$("$bin" "$@" 2>"$tmp/err") || fail "$what: exited $?: $(cat "$tmp/err")"
	[ "$got" = "$want" ] || fail "$what: got $got, want $want"
}

one() { # one SERVICE IP NODE: the announcement list with one entry
	printf '{"announcements": [{"service": "%s", "ip": "%s", "node": "%s"}]}' "$1" "$2" "$3"
}

# The demo: web (ETP Local, ready pods on node-a and node-b; node-c's pod is
# not ready) and checkout get IPs from lbipam in memory and are announced.
# sha256("node-a#198.51.100.10") = 17cc…, lower than node-b's 530f…;
# checkout's 192.0.2.240 goes to node-b (aad5…) before node-a (f092…), node-c (f401…).
expect demo '{"announcements": [{"service": "shop/checkout", "ip": "192.0.2.240", "node": "node-b"}, {"service": "shop/web", "ip": "198.51.100.10", "node": "node-a"}]}' \
	--manifests "$demo" --once --now "$now"
expect "demo --node node-a" "$(one shop/web 198.51.100.10 node-a)" --manifests "$demo" --once --now "$now" --node node-a
expect "demo --node node-c" '{"announcements": []}' --manifests "$demo" --once --now "$now" --node node-c

# Determinism: two runs byte-identical.
"$bin" --manifests "$demo" --once --now "$now" >"$tmp/a.json" 2>/dev/null
"$bin" --manifests "$demo" --once --now "$now" >"$tmp/b.json" 2>/dev/null
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "determinism: two runs differ"

# No speaker Lease in DIR: every Node is live; §5's table puts 192.0.2.10 on charlie.
expect "no leases" "$(one default/svc 192.0.2.10 charlie)" --manifests "$dir/base" --once --now "$now"
# charlie's lease is stale at --now: bravo is next.
expect "stale lease" "$(one default/svc 192.0.2.10 bravo)" --manifests "$dir/leases" --once --now "$now"
# ... but at an earlier --now charlie's lease is still fresh.
expect "fresh lease" "$(one default/svc 192.0.2.10 charlie)" --manifests "$dir/leases" --once \
	--now 2025-06-01T09:59:52Z
expect "--node filter" '{"announcements": []}' --manifests "$dir/leases" --once --now "$now" --node alpha
expect "--node owner" "$(one default/svc 192.0.2.10 bravo)" --manifests "$dir/leases" --once --now "$now" --node bravo
# alpha's lease claims the IP: sticky with --failback=never, preemptive otherwise.
expect "failback always" "$(one default/svc 192.0.2.10 charlie)" --manifests "$dir/failback" --once --now "$now"
expect "failback never" "$(one default/svc 192.0.2.10 alpha)" --manifests "$dir/failback" --once --now "$now" \
	--failback=never

# §4 at start: one pool invalid, the objects that parse on their own are
# used; the invalid one is skipped with exactly one log line.
expect "partial configuration" "$(one default/svc 192.0.2.10 charlie)" --manifests "$dir/partial" --once --now "$now"
[ "$(grep -c 'skipping IPAddressPool berth-system/broken: .*invalid CIDR "198.51.100.0/33"' "$tmp/err")" -eq 1 ] ||
	fail "partial configuration: want one skipping line: $(cat "$tmp/err")"

# Without --once: a new result each time DIR changes (offline.md "Run").
mkdir "$tmp/live"
cp "$dir/base/10-cluster.yaml" "$tmp/live/"
"$bin" --manifests "$tmp/live" --now "$now" >"$tmp/live.out" 2>"$tmp/live.err" &
pid=$!
sleep 1
# sha256("charlie#192.0.2.11") = 162d…, lowest again (bravo 1ce1…, alpha a14c…)
sed 's/192.0.2.10/192.0.2.11/' "$dir/base/10-cluster.yaml" >"$tmp/live/10-cluster.yaml"
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "without --once: exit $rc after SIGTERM: $(cat "$tmp/live.err")"
[ "$(cat "$tmp/live.out")" = "$(one default/svc 192.0.2.10 charlie)
$(one default/svc 192.0.2.11 charlie)" ] || fail "without --once: $(cat "$tmp/live.out")"

# berth-controller's -o table fills ANNOUNCED-BY with the same election
# (common/l2_view.h): the demo's two LoadBalancer Services, a stale lease.
ctl=./berth-controller
row() { # row DIR NOW NAMESPACE NAME: the ANNOUNCED-BY column of that Service
	"$ctl" --manifests "$1" --once --now "$2" -o table 2>/dev/null |
		awk -v ns="$3" -v n="$4" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ANNOUNCED-BY") c = i }
			$1 == ns && $2 == n { print $c }'
}
[ "$(row "$demo" "$now" shop web)" = node-a ] || fail "table: shop/web announced by $(row "$demo" "$now" shop web)"
[ "$(row "$demo" "$now" shop checkout)" = node-b ] || fail "table: shop/checkout by $(row "$demo" "$now" shop checkout)"
[ "$(row "$demo" "$now" shop api)" = - ] || fail "table: ClusterIP shop/api announced"
[ "$(row "$dir/leases" "$now" default svc)" = bravo ] || fail "table: stale lease: $(row "$dir/leases" "$now" default svc)"
[ "$(row "$dir/base" "$now" default svc)" = charlie ] || fail "table: no leases: $(row "$dir/base" "$now" default svc)"

# Bad flag values: exit 2 and exactly one line.
bad() { # bad LINE ARGS...
	want=$1
	shift
	NODE_NAME=n "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$*: exit $rc, want 2"
	[ "$(cat "$tmp/err")" = "$want" ] || fail "$*: stderr $(cat "$tmp/err"), want $want"
	[ ! -s "$tmp/out" ] || fail "$*: wrote to stdout"
}
bad 'berth-speaker: invalid argument "3s" for --lease-renew: must be shorter than --lease-duration (3s)' \
	--lease-renew 3s
bad 'berth-speaker: invalid argument "1s" for --lease-renew: must be shorter than --lease-duration (500ms)' \
	--lease-duration 500ms
bad 'berth-speaker: invalid argument "2s" for --lease-renew: must be shorter than --lease-duration (1.5s)' \
	--lease-renew=2s --lease-duration=1.5s
bad 'berth-speaker: invalid argument "0" for --lease-duration: must be greater than zero' --lease-duration 0
bad 'berth-speaker: invalid argument "soon" for --lease-renew: time: invalid duration "soon"' --lease-renew soon
bad 'berth-speaker: invalid argument "sometimes" for --failback: must be always or never' --failback sometimes
bad 'berth-speaker: invalid argument "0" for --garp-count: must be an integer from 1 to 1000' --garp-count 0
bad 'berth-speaker: invalid argument "x" for --garp-interval: time: invalid duration "x"' --garp-interval x
bad 'berth-speaker: invalid argument "-1s" for --garp-refresh: must not be negative' --garp-refresh -1s
bad 'berth-speaker: invalid argument "0" for --probe-wait: must be greater than zero' --probe-wait 0
bad 'berth-speaker: invalid argument "maybe" for --conflict-probe: not a boolean (true or false)' \
	--conflict-probe=maybe
bad 'berth-speaker: invalid argument "maybe" for --ignore-exclude-lb: not a boolean (true or false)' \
	--ignore-exclude-lb=maybe
bad 'berth-speaker: invalid argument "" for --config-namespace: must not be empty' --config-namespace=
# --node: required online, from the flag or $NODE_NAME
env -u NODE_NAME "$bin" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "no --node: exit $rc, want 2"
[ "$(cat "$tmp/err")" = 'berth-speaker: invalid argument "" for --node: required (set --node or $NODE_NAME)' ] ||
	fail "no --node: stderr $(cat "$tmp/err")"
# ... but not offline
env -u NODE_NAME "$bin" --manifests "$dir/base" --once --now "$now" >/dev/null 2>&1 || fail "offline without --node"

finish "test-speaker-offline: all checks passed"
