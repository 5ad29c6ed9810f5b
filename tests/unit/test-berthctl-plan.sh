#!/bin/sh
# berthctl plan over the demo directory, as a user runs it: the table and
# the JSON field by field (web 198.51.100.10 on node-a, checkout 192.0.2.240
# on node-b, pools public and internal, node ports per band), byte-identical
# runs, every line within 100 columns, and the exit codes scripts use:
# 1 for a pending Service or a node-port conflict, 2 for a bad directory or
# flag, 0 otherwise.
set -u
bin=./berthctl/berthctl
demo=${srcdir:-.}/examples/demo
now=2024-05-01T10:00:00Z
. "${srcdir:-.}/tests/unit/lib.sh"

# ---- the demo as a table -------------------------------------------------------
"$bin" plan "$demo" --now "$now" >"$tmp/t.txt" 2>"$tmp/t.err"
rc=$?
[ $rc -eq 0 ] || fail "demo table: exit $rc, want 0: $(cat "$tmp/t.err")"
[ -s "$tmp/t.err" ] && fail "demo table: stderr not empty: $(cat "$tmp/t.err")"
"$bin" plan "$demo" --now "$now" >"$tmp/t2.txt" 2>/dev/null
cmp -s "$tmp/t.txt" "$tmp/t2.txt" || fail "demo table: two runs differ"

# one row: the words of the line that starts with $1
row() { grep "^$1 " "$tmp/t.txt" | tr -s ' ' | head -n 1; }
[ "$(row shop/web)" = "shop/web 198.51.100.10 internal node-a 2/3" ] || fail "web row: '$(row shop/web)'"
[ "$(row shop/checkout)" = "shop/checkout 192.0.2.240 public node-b 2/3" ] ||
	fail "checkout row: '$(row shop/checkout)'"
[ "$(row public)" = "public 8 1 7 [###-----------------] 12% 1" ] || fail "public row: '$(row public)'"
[ "$(row internal)" = "internal 10 1 9 [##------------------] 10% 1" ] || fail "internal row: '$(row internal)'"
grep -q '^NODE PORTS (range 30000-32767)$' "$tmp/t.txt" || fail "node-port heading missing"
[ "$(row static)" = "static 30000-30085 0 86 [--------------------] 0%" ] || fail "static band: '$(row static)'"
# grafana's 30300 and the LoadBalancers' filled ports (web, checkout, kubernetes has none)
[ "$(row dynamic)" = "dynamic 30086-32767 4 2678 [#-------------------] 0%" ] || fail "dynamic band: '$(row dynamic)'"
[ "$(sed -n '/^PROBLEMS$/{n;p;}' "$tmp/t.txt")" = none ] || fail "demo has problems: $(cat "$tmp/t.txt")"
awk 'length > 100 { bad = 1 } END { exit bad }' "$tmp/t.txt" || fail "demo table wider than 100 columns"

# ---- the demo as JSON -------------------------------------------------------------
"$bin" plan "$demo" --now "$now" -o json >"$tmp/j.json" 2>/dev/null || fail "demo json: exit $?"
"$bin" plan "$demo" --now "$now" -ojson >"$tmp/j2.json" 2>/dev/null
cmp -s "$tmp/j.json" "$tmp/j2.json" || fail "demo json: two runs (-o json, -ojson) differ"
jq_ok=$(command -v python3 >/dev/null && echo yes)
if [ "$jq_ok" = yes ]; then
	python3 - "$tmp/j.json" <<'PY' || fail "demo json fields"
import json, sys
d = json.load(open(sys.argv[1]))
def check(cond, what):
    if not cond:
        print("FAIL: json:", what); sys.exit(1)
check(d["source"] == "manifests", "source")
check(d["configuration"] == {"valid": True, "error": None}, "configuration")
pools = {p["name"]: p for p in d["pools"]}
check([p["name"] for p in d["pools"]] == ["internal", "public"], "pools by name")
check((pools["public"]["size"], pools["public"]["used"], pools["public"]["free"]) == (8, 1, 7), "public")
check((pools["internal"]["size"], pools["internal"]["used"], pools["internal"]["free"]) == (10, 1, 9), "internal")
s = {x["name"]: x for x in d["services"]}
check([x["name"] for x in d["services"]] == ["checkout", "web"], "services by name")
check(s["web"]["ips"] == [{"ip": "198.51.100.10", "announcedBy": "node-a", "announcedFrom": "election"}], "web ips")
check(s["checkout"]["ips"][0]["ip"] == "192.0.2.240" and s["checkout"]["ips"][0]["announcedBy"] == "node-b",
      "checkout ips")
check((s["web"]["pool"], s["web"]["pending"], s["web"]["readyEndpoints"], s["web"]["notReadyEndpoints"]) ==
      ("internal", False, 2, 1), "web pool and endpoints")
np = d["nodePorts"]
check(np["range"] == "30000-32767" and np["offset"] == 86, "node-port range")
check(np["bands"]["dynamic"]["allocated"] == 4 and np["bands"]["static"]["allocated"] == 0, "bands")
check(np["problems"] == [] and d["problems"] == [], "no problems")
check("lastFullPass" not in np, "no clock in the plan")
PY
fi

# ---- a pending Service and a node-port conflict: exit 1 --------------------------
mkdir "$tmp/pending"
cp "$demo"/*.yaml "$tmp/pending/"
cat >"$tmp/pending/60-more.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: outside-every-pool-with-a-rather-long-name-that-needs-eliding, namespace: shop}
spec:
  type: LoadBalancer
  loadBalancerIP: 203.0.113.7
  clusterIP: 10.96.12.50
  ports: [{port: 80, nodePort: 30300}]
  selector: {app.kubernetes.io/name: web}
YAML
"$bin" plan "$tmp/pending" --now "$now" >"$tmp/p.txt" 2>"$tmp/p.err"
rc=$?
[ $rc -eq 1 ] || fail "pending Service: exit $rc, want 1"
grep -q '^shop/outside.*  <pending>  ' "$tmp/p.txt" || fail "pending row: $(cat "$tmp/p.txt")"
grep -q '^PendingService  *shop/outside' "$tmp/p.txt" || fail "pending problem: $(cat "$tmp/p.txt")"
grep -q '^30300  PortAlreadyAllocated  monitoring/grafana,shop/outside' "$tmp/p.txt" ||
	fail "conflict row: $(cat "$tmp/p.txt")"
awk 'length > 100 { print; bad = 1 } END { exit bad }' "$tmp/p.txt" || fail "pending table wider than 100 columns"
"$bin" plan "$tmp/pending" --now "$now" -o json >"$tmp/p.json" 2>/dev/null
[ $? -eq 1 ] || fail "pending json: exit not 1"
grep -q '"kind": "PendingService"' "$tmp/p.json" || fail "pending json has no PendingService"
"$bin" nodeports --manifests "$tmp/pending" --now "$now" >"$tmp/n.txt" 2>/dev/null
[ $? -eq 1 ] || fail "nodeports with a conflict: exit not 1"
grep -q '^30300  PortAlreadyAllocated' "$tmp/n.txt" || fail "nodeports: no conflict row: $(cat "$tmp/n.txt")"
grep -q '^POOLS' "$tmp/n.txt" && fail "nodeports printed the pools"

# ---- bad input and bad usage: exit 2 ------------------------------------------------
"$bin" plan "$tmp/does-not-exist" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "missing dir: exit $rc, want 2"
[ -s "$tmp/out" ] && fail "missing dir printed on stdout"
[ -s "$tmp/err" ] || fail "missing dir: no message"
"$bin" plan >/dev/null 2>&1
[ $? -eq 2 ] || fail "plan without DIR: exit not 2"
"$bin" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command: exit not 2"
"$bin" plan "$demo" -o yaml >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "-o yaml: exit not 2"
[ "$(cat "$tmp/err")" = 'berthctl: invalid argument "yaml" for --output: must be one of table, json' ] ||
	fail "-o yaml message: $(cat "$tmp/err")"
"$bin" --help >"$tmp/help" || fail "--help exit $?"
grep -q '^Exit codes:' "$tmp/help" || fail "--help lacks the exit codes"
grep -q '^  3  the cluster cannot be reached' "$tmp/help" || fail "--help lacks exit code 3"

finish "berthctl plan: table, json, exit codes and width as documented"
