#!/bin/sh
# berth-controller with bad configuration at start-up: exit status 2 and one
# line on stderr naming the file and the field (issue 2, "Bad input").
set -u
bin=./berth-controller
. "${srcdir:-.}/tests/unit/lib.sh"

# expect_exit2 NAME PATTERN ARGS...: exit 2, exactly one stderr line matching PATTERN.
expect_exit2() {
	name=$1 pattern=$2
	shift 2
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$name: exit $rc, want 2"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$name: want one line on stderr, got: $(cat "$tmp/err")"
	grep -q "$pattern" "$tmp/err" || fail "$name: stderr does not match '$pattern': $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && fail "$name: stdout not empty"
}

expect_exit2 "missing kubeconfig" "$tmp/none.yaml: cannot read" --kubeconfig "$tmp/none.yaml"

cat >"$tmp/badca.yaml" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: "https://127.0.0.1:1", certificate-authority-data: "bm90IGEgY2VydA=="}}]
users: [{name: admin, user: {token: x}}]
contexts: [{name: lab, context: {cluster: lab, user: admin}}]
current-context: lab
YAML
expect_exit2 "bad CA" 'badca.yaml: cluster "lab": certificate-authority-data:' --kubeconfig "$tmp/badca.yaml"

cat >"$tmp/badcert.yaml" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {client-certificate: missing.crt, client-key: missing.key}}]
contexts: [{name: lab, context: {cluster: lab, user: admin}}]
current-context: lab
YAML
expect_exit2 "missing client certificate" 'badcert.yaml: user "admin": client-certificate' --kubeconfig "$tmp/badcert.yaml"

printf 'not: [valid\n' >"$tmp/broken.yaml"
expect_exit2 "unparsable kubeconfig" "broken.yaml" --kubeconfig "$tmp/broken.yaml"

expect_exit2 "bad log level" 'invalid argument "chatty" for --log-level' --log-level chatty
expect_exit2 "bad duration" 'invalid argument "1x" for --leader-elect-retry-period' --leader-elect-retry-period 1x

finish "test-controller-config: all passed"
