#!/bin/sh
# The endpoints controller offline over the demo cluster, as a user runs it:
# the Endpoints it writes (ready / not-ready / terminating / headless /
# selector-less), the table's counts, and a second run over a directory
# that already holds berth's output: no write at all (endpoints.md §9).
set -u
bin=./berth-controller
demo=${srcdir:-.}/examples/demo
now=2024-05-01T10:00:00Z
. "${srcdir:-.}/tests/unit/lib.sh"

"$bin" --manifests "$demo" --once --controllers=endpoints --now "$now" -o json >"$tmp/out.json" 2>"$tmp/err" ||
	fail "demo run exited $?"
[ -s "$tmp/err" ] && fail "stderr not empty: $(cat "$tmp/err")"
# one line per object, to grep it
tr -d '\n' <"$tmp/out.json" | sed 's/    {  *"apiVersion"/\n{"apiVersion"/g' | tr -s ' ' >"$tmp/objs"
n=$(grep -c '"kind": "Endpoints"' "$tmp/objs")
[ "$n" -eq 6 ] || fail "want 6 Endpoints (every selector Service), got $n"
grep '"name": "kubernetes"' "$tmp/objs" && fail "the selector-less kubernetes Endpoints was touched"
web=$(grep '"kind": "Endpoints", "metadata": { "name": "web", "namespace": "shop"' "$tmp/objs")
[ -n "$web" ] || fail "no Endpoints shop/web"
echo "$web" | grep -q '"endpoints.kubernetes.io/managed-by": "endpoint-controller.berth.io"' || fail "web: managed-by label"
echo "$web" | grep -q '"endpoints.kubernetes.io/last-change-trigger-time": "2024-04-30T08:12:00Z"' ||
	fail "web: trigger time is the Service's creationTimestamp on the first sync"
echo "$web" | grep -q '"addresses": \[ { "ip": "10.244.0.21", "nodeName": "node-a", "targetRef": { "kind": "Pod", "namespace": "shop", "name": "web-7c9d8f6b5-4xk2p"' ||
	fail "web: ready address: $web"
echo "$web" | grep -q '"notReadyAddresses": \[ { "ip": "10.244.2.9"' || fail "web: not-ready address"
echo "$web" | grep -q '"ports": \[ { "name": "http", "port": 8080, "protocol": "TCP" } \]' || fail "web: named port resolved"
pg=$(grep '"name": "postgres", "namespace": "shop"' "$tmp/objs")
echo "$pg" | grep -q '"service.kubernetes.io/headless": ""' || fail "postgres: headless label"
echo "$pg" | grep -q '"hostname": "postgres-0"' || fail "postgres: hostname from spec.hostname + subdomain"

"$bin" --manifests "$demo" --once --controllers=endpoints --now "$now" -o table >"$tmp/t.txt" || fail "table run exited $?"
grep -q '^shop  *web  *LoadBalancer .* 2  *1$' "$tmp/t.txt" || fail "table: shop/web 2 ready 1 not ready: $(cat "$tmp/t.txt")"
grep -q '^shop  *postgres .* 1  *0$' "$tmp/t.txt" || fail "table: shop/postgres"

# berth's output fed back in: nothing to write
mkdir "$tmp/again"
cp "$demo"/*.yaml "$tmp/again/"
cp "$tmp/out.json" "$tmp/again/99-endpoints.json"
"$bin" --manifests "$tmp/again" --once --controllers=endpoints --now 2024-05-01T11:00:00Z -o json >"$tmp/again.json" ||
	fail "second run exited $?"
[ "$(tr -d ' \n' <"$tmp/again.json")" = '{"apiVersion":"v1","kind":"List","items":[]}' ] ||
	fail "second run wrote something: $(cat "$tmp/again.json")"

finish "endpoints offline: all checks passed"
