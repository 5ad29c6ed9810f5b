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
