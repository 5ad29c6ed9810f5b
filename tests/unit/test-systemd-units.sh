#!/bin/sh
# The systemd units of examples/systemd as `make install` puts them
# (issue #7): `systemd-analyze verify` passes on the installed units, with
# their ExecStart binaries at the installed paths and their man pages found
# (Documentation=man:...); `systemd-analyze security --offline=true` rates
# each one (the score is printed, and must stay "OK" or better: at most
# 3.9); and the man pages render without a single warning.
set -u
. "${srcdir:-.}/tests/unit/lib.sh"

dest=$tmp/root
${MAKE:-make} -s install DESTDIR="$dest" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install DESTDIR failed"; finish ""; }

# The unit directory and bindir are whatever configure chose; find them.
controller=$(find "$dest" -name berth-controller.service -type f)
speaker=$(find "$dest" -name berth-speaker.service -type f)
[ -n "$controller" ] && [ -n "$speaker" ] || { fail "units not installed: $(find "$dest" -type f)"; finish ""; }
mandir=$(dirname "$(dirname "$(find "$dest" -name berth-controller.8 -type f)")")

# verify --root resolves the units' dependencies (sysinit.target, ...)
# inside the root, so the root gets the host's targets and slices.  It also
# loads a unit by name from the root's search path only, and configure may
# have put the units elsewhere (distcheck does): the installed files are
# copied, unchanged, into the root's /etc/systemd/system.
mkdir -p "$dest/run/systemd/system" "$dest/etc/systemd/system"
for u in /usr/lib/systemd/system/*.target /usr/lib/systemd/system/*.slice; do
	[ -e "$dest/run/systemd/system/${u##*/}" ] || cp "$u" "$dest/run/systemd/system/"
done
cp "$controller" "$speaker" "$dest/etc/systemd/system/"

for unit in "$controller" "$speaker"; do
	name=${unit##*/}
	exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
	[ -x "$dest$exec_start" ] || fail "$name: ExecStart $exec_start is not the installed binary"
	case $exec_start in *@*) fail "$name: unsubstituted template: $exec_start" ;; esac

	# Warnings (unknown keys, bad values) still exit 0: any output fails.
	MANPATH=$mandir systemd-analyze verify --root="$dest" "/etc/systemd/system/$name" >"$tmp/verify" 2>&1 ||
		fail "$name: systemd-analyze verify failed"
	[ -s "$tmp/verify" ] && fail "$name: systemd-analyze verify: $(cat "$tmp/verify")"

	systemd-analyze security --offline=true --root="$dest" "/etc/systemd/system/$name" >"$tmp/security" 2>&1 ||
		fail "$name: systemd-analyze security failed: $(tail -3 "$tmp/security")"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$tmp/security")
	echo "$name: exposure $score ($(sed -n 's/.*Overall exposure level for [^:]*: [0-9.]* \([A-Z]*\).*/\1/p' "$tmp/security"))"
	awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.9) }' ||
		fail "$name: exposure ${score:-unknown} is above 3.9: $(grep '✗' "$tmp/security")"
done

# What the units promise, spelled out (a typo in a capability name is not
# an error for verify).
grep -qx 'CapabilityBoundingSet=' "$controller" || fail "controller: capabilities not emptied"
grep -qx 'CapabilityBoundingSet=CAP_NET_RAW' "$speaker" || fail "speaker: bounding set is not CAP_NET_RAW"
grep -qx 'AmbientCapabilities=CAP_NET_RAW' "$speaker" || fail "speaker: CAP_NET_RAW is not ambient"
for unit in "$controller" "$speaker"; do
	for key in Type=notify 'WatchdogSec=' 'LoadCredential=kubeconfig:/etc/berth/kubeconfig' \
		'ExecStart=.* --kubeconfig=${CREDENTIALS_DIRECTORY}/kubeconfig' Restart=on-failure; do
		grep -q "^$key" "$unit" || fail "${unit##*/}: no $key"
	done
done
grep -q '^PrivateNetwork=yes' "$speaker" && fail "speaker: PrivateNetwork hides the host's interfaces"

# The man pages: no warning from groff at the terminal's usual width, nor
# from mandoc's linter when it is there.
for page in "${srcdir:-.}"/docs/man/*.[18]; do
	groff -man -Tutf8 -ww -z "$page" >"$tmp/groff" 2>&1 || fail "${page##*/}: groff failed"
	[ -s "$tmp/groff" ] && fail "${page##*/}: groff: $(cat "$tmp/groff")"
	if command -v mandoc >/dev/null; then
		mandoc -Tlint -Wwarning "$page" >"$tmp/lint" 2>&1
		[ -s "$tmp/lint" ] && fail "${page##*/}: mandoc: $(cat "$tmp/lint")"
	fi
done
finish "systemd units: verify, security and man pages OK"
