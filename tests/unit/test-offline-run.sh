#!/bin/sh
# berth-controller offline, as a user runs it: the demo directory, byte-identical
# output for the same input and --now, input errors (exit 2, file and document
# named), unknown kinds (one warning each), bad flags (exit 2, design.md format).
set -u
bin=./berth-controller
demo=${srcdir:-.}/examples/demo
now=2024-05-01T10:00:00Z
. "${srcdir:-.}/tests/unit/lib.sh"

"$bin" --manifests "$demo" --once --now "$now" >"$tmp/a.json" 2>"$tmp/a.err" || fail "demo run exited $?"
"$bin" --manifests "$demo" --once --now "$now" >"$tmp/b.json" 2>/dev/null
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "two runs differ"
head -c 1 "$tmp/a.json" | grep -q '{' || fail "json output does not start with {"
grep -q '"kind": "List"' "$tmp/a.json" || fail "json output is not a List"
[ -s "$tmp/a.err" ] && fail "stderr not empty on the demo: $(cat "$tmp/a.err")"

"$bin" --manifests "$demo" --once --now "$now" -o table >"$tmp/t.txt" || fail "table run exited $?"
[ "$(wc -l <"$tmp/t.txt")" -eq 8 ] || fail "table: want a header and 7 Services, got $(wc -l <"$tmp/t.txt") lines"
grep -q '^shop  *web  *LoadBalancer  *10.96.12.40 ' "$tmp/t.txt" || fail "table: no row for shop/web"
grep -q '^default  *kubernetes .* 1  *0$' "$tmp/t.txt" || fail "table: kubernetes endpoints not counted"

mkdir "$tmp/bad"
printf 'apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\n' >"$tmp/bad/10-x.yaml"
"$bin" --manifests "$tmp/bad" --once >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "bad input: exit $rc, want 2"
grep -q "10-x.yaml: document 2, line 5: Pod has no metadata.name" "$tmp/err" || fail "bad input message: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "bad input printed on stdout"

mkdir "$tmp/unknown"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n' >"$tmp/unknown/d.yaml"
"$bin" --manifests "$tmp/unknown" --once >/dev/null 2>"$tmp/err" || fail "unknown kinds: exit $?"
[ "$(grep -c 'ignoring unknown kind Deployment' "$tmp/err")" -eq 1 ] || fail "unknown kinds: want one warning: $(cat "$tmp/err")"

"$bin" --controllers '*,-foo' >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "bad flag: exit $rc, want 2"
[ "$(cat "$tmp/err")" = 'berth-controller: invalid argument "*,-foo" for --controllers: "foo" is not in the list of known controllers' ] ||
	fail "bad flag message: $(cat "$tmp/err")"

finish "offline run: all checks passed"
