#!/bin/sh
# endpoints.md §7, §9 offline: berth-controller --once over the demo writes
# the EndpointSlices we expect, and a second run over a directory that
# already holds that output changes nothing.
set -eu
top=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${BERTH_CONTROLLER:-./berth-controller}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now=2024-05-01T10:00:00Z

"$bin" --manifests "$top/examples/demo" --once --now "$now" --controllers=endpointslice -o json >"$tmp/out.json" 2>"$tmp/err"
python3 - "$tmp/out.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
slices = {}
for o in items:
    if o["kind"] != "EndpointSlice":
        continue
    m = o["metadata"]
    svc = m["labels"]["kubernetes.io/service-name"]
    assert m["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.berth.io", m
    assert m["ownerReferences"][0]["kind"] == "Service" and m["ownerReferences"][0]["controller"] is True
    assert m["name"].startswith(svc + "-") and len(m["name"]) == len(svc) + 6, m["name"]
    slices.setdefault((m["namespace"], svc), []).append(o)
# every selector Service of the demo has a slice; the selector-less kubernetes Service none
want = {("shop", "web"), ("shop", "api"), ("shop", "postgres"), ("shop", "checkout"),
        ("monitoring", "grafana"), ("monitoring", "prometheus")}
assert set(slices) == want, sorted(slices)
for (ns, svc), ss in slices.items():
    for s in ss:
        for e in s["endpoints"]:
            c = e["conditions"]
            assert set(c) == {"ready", "serving", "terminating"}, e
            assert e["targetRef"]["kind"] == "Pod"
# postgres is headless: the headless label
for s in slices[("shop", "postgres")]:
    assert s["metadata"]["labels"]["service.kubernetes.io/headless"] == "", s
PY
# determinism: the same input gives the same bytes
"$bin" --manifests "$top/examples/demo" --once --now "$now" --controllers=endpointslice -o json >"$tmp/out2.json" 2>/dev/null
cmp "$tmp/out.json" "$tmp/out2.json"

# second run over demo + the output: nothing to write
mkdir "$tmp/dir"
cp "$top"/examples/demo/*.yaml "$tmp/dir/"
cp "$tmp/out.json" "$tmp/dir/zz-output.json"
"$bin" --manifests "$tmp/dir" --once --now "$now" --controllers=endpointslice -o json >"$tmp/out3.json" 2>"$tmp/err3"
python3 - "$tmp/out3.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
changed = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
assert changed == [], changed
PY
# --max-endpoints-per-slice: 1 gives one slice per endpoint; out of 1..1000 exits 2 (endpoints.md §1)
"$bin" --manifests "$top/examples/demo" --once --now "$now" --controllers=endpointslice --max-endpoints-per-slice=1 \
        -o json 2>/dev/null | python3 -c '
import json, sys
web = [o for o in json.load(sys.stdin)["items"] if o["kind"] == "EndpointSlice"
       and o["metadata"]["labels"]["kubernetes.io/service-name"] == "web"]
assert len(web) == 3 and all(len(o["endpoints"]) == 1 for o in web), web
'
for bad in 0 1001 abc; do
        set +e
        msg=$("$bin" --manifests "$top/examples/demo" --once --max-endpoints-per-slice "$bad" 2>&1 >/dev/null)
        rc=$?
        set -e
        test "$rc" = 2
        test "$msg" = "berth-controller: invalid argument \"$bad\" for --max-endpoints-per-slice: must be between 1 and 1000"
done
echo "ok"
