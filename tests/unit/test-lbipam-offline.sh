#!/bin/sh
# The lbipam controller offline over the fixture directories of
# tests/unit/lbipam (one scenario each) and over the demo: the IPs, the pool
# annotation, the condition, the events and the pool status berth would
# write (lbipam.md §10-§14), and byte-identical output on a second run.
set -u
bin=./berth-controller
dir=${srcdir:-.}/tests/unit/lbipam
now=2025-06-01T10:00:00Z
. "${srcdir:-.}/tests/unit/lib.sh"

run() { # run NAME DIR: the JSON output into $tmp/NAME.json
	"$bin" --manifests "$2" --once --controllers=lbipam --now "$now" -o json >"$tmp/$1.json" 2>"$tmp/$1.err" ||
		fail "$1: exited $?: $(cat "$tmp/$1.err")"
}

# check NAME PYTHON: the python code sees the items as `items`, finds an
# object with obj(kind, ns, name) and the events with events(regarding);
# each failed `expect(cond, what)` is reported.
check() {
	python3 - "$tmp/$1.json" "$1" "$2" <<'PY' || fail "$1: checks failed"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
name, code = sys.argv[2], sys.argv[3]
bad = 0
def obj(kind, ns, n):
    for o in items:
        m = o["metadata"]
        if o["kind"] == kind and m.get("namespace") == ns and m["name"] == n:
            return o
    return None
def events(regarding):
    return [(e["type"], e["reason"], e["note"], e["action"]) for e in items
            if e["kind"] == "Event" and e["regarding"]["name"] == regarding
            and e.get("reportingController") == "berth.io/lbipam-controller"]
def ips(o):
    return [i.get("ip") for i in o["status"].get("loadBalancer", {}).get("ingress") or []]
def cond(o):
    for c in o["status"].get("conditions") or []:
        if c["type"] == "berth.io/LoadBalancerIPAllocated":
            return (c["status"], c["reason"], c["message"])
    return None
def expect(ok, what):
    global bad
    if not ok:
        print("FAIL: %s: %s" % (name, what))
        bad += 1
exec(code)
sys.exit(1 if bad else 0)
PY
}

# X6: a restart keeps a and b where they are; c, older, gets PoolExhausted.
run restart "$dir/restart"
check restart '
a, b, c = (obj("Service", "default", n) for n in "abc")
expect(a and ips(a) == ["192.0.2.1"], "a keeps 192.0.2.1")
expect(a and a["status"]["loadBalancer"]["ingress"][0].get("ipMode") == "VIP", "a: the ipMode the server set stays")
expect(b and ips(b) == ["192.0.2.0"], "b keeps 192.0.2.0")
expect(a and a["metadata"]["annotations"].get("metallb.io/ip-allocated-from-pool") == "p", "a: pool annotation")
expect(b and "metallb.universe.tf/ip-allocated-from-pool" not in b["metadata"].get("annotations", {}), "b: legacy key removed")
expect(a and cond(a) == ("True", "Allocated", "IP [\"192.0.2.1\"] from pool \"p\""), "a: condition %r" % (a and cond(a),))
expect(c and ips(c) == [] and cond(c) == ("False", "PoolExhausted", "no available IPs"), "c: PoolExhausted %r" % (c and cond(c),))
expect(events("c") == [("Warning", "AllocationFailed", "Failed to allocate IP for \"default/c\": no available IPs", "AllocateIP")], "c: events %r" % events("c"))
expect(events("a") == [] and events("b") == [], "a, b: no events")
expect(obj("Service", "default", "elsewhere") is None and events("elsewhere") == [], "another class is never touched")
p = obj("IPAddressPool", "berth-system", "p")
expect(p and p["status"] == {"assignedIPv4": 2, "assignedIPv6": 0, "availableIPv4": 0, "availableIPv6": 0}, "pool status %r" % (p and p["status"],))
'
run restart2 "$dir/restart"
cmp -s "$tmp/restart.json" "$tmp/restart2.json" || fail "restart: two runs differ"

# an invalid configuration: nothing written, ConfigInvalid on the pool that is wrong
run invalid "$dir/invalid"
check invalid '
expect(obj("Service", "default", "a") is None, "no Service write before a valid configuration")
expect(events("overlapping") == [("Warning", "ConfigInvalid", "CIDR \"192.0.2.2/31\" in pool \"overlapping\" overlaps with already defined CIDR \"192.0.2.0/30\"", "ValidateConfig")], "ConfigInvalid %r" % events("overlapping"))
expect(obj("IPAddressPool", "berth-system", "good") is None, "no pool status before a valid configuration")
'

# X5: a hand-written status IP outside the pools is replaced
run hand-patched "$dir/hand-patched"
check hand-patched '
a = obj("Service", "default", "a")
expect(a and ips(a) == ["192.0.2.0"], "a: replaced by 192.0.2.0: %r" % (a and ips(a),))
ev = [e[1] for e in events("a")]
expect(ev == ["ClearAssignment", "IPAllocated"] or sorted(ev) == ["ClearAssignment", "IPAllocated"], "a: events %r" % events("a"))
expect(("Normal", "IPAllocated", "Assigned IP [\"192.0.2.0\"]", "AllocateIP") in events("a"), "a: IPAllocated text")
'

# §13.6: the pool nobody announces
run unadvertised "$dir/unadvertised"
check unadvertised '
w = obj("Service", "shop", "web")
expect(w and ips(w) == ["198.51.100.8"], "web: 198.51.100.8")
expect(w and cond(w) == ("True", "Allocated", "IP [\"198.51.100.8\"] from pool \"dark\"; pool \"dark\" has no L2Advertisement, nothing announces this IP"), "web: condition %r" % (w and cond(w),))
expect(("Warning", "NoL2Advertisement", "no L2Advertisement covers pool dark; IPs assigned from it will not be announced", "UpdatePool") in events("dark"), "dark: NoL2Advertisement %r" % events("dark"))
'

# the demo: both LoadBalancer Services get an address, shown in the table;
# web from the first plain pool by name (internal), checkout from the pool
# its annotation names
demo=${srcdir:-.}/examples/demo
"$bin" --manifests "$demo" --once --controllers=lbipam --now "$now" -o table >"$tmp/t.txt" 2>"$tmp/t.err" ||
	fail "demo table run exited $?: $(cat "$tmp/t.err")"
grep -q '^shop  *web  *LoadBalancer .*198\.51\.100\.10' "$tmp/t.txt" || fail "table: shop/web has 198.51.100.10: $(cat "$tmp/t.txt")"
grep -q '^shop  *checkout  *LoadBalancer .*192\.0\.2\.240' "$tmp/t.txt" ||
	fail "table: shop/checkout (address-pool: public) has 192.0.2.240: $(cat "$tmp/t.txt")"
run demo "$demo"
run demo2 "$demo"
cmp -s "$tmp/demo.json" "$tmp/demo2.json" || fail "demo: two runs differ"

finish "lbipam offline: all checks passed"
