# tests/e2e/cases-fullpath.sh: the full path of issue #7, sourced by run.sh
# after cases-speaker.sh (whose helpers it uses).  A client on the LAN
# reaches backend "pods" through a LoadBalancer IP that berth-controller's
# lbipam allocated and berth-speaker announces, and through a NodePort,
# with the real kube-proxy forwarding on every node:
#
#   api namespace   kube-apiserver, berth-controller (endpoints,
#                   endpointslice, nodeport, lbipam) as its ServiceAccount
#                   with the RBAC of examples/manifests/10-berth-controller-rbac.yaml
#   node-X          berth-speaker (CAP_NET_RAW only), kube-proxy (iptables
#                   mode, minSyncPeriod 0, conntrack left alone, as the
#                   kube-system/kube-proxy ServiceAccount bound to
#                   system:node-proxier), ip_forward on, a route to every
#                   other node's pod CIDR via that node's LAN address
#   pod-NAME        e2e-http serve NAME behind a veth from its node (a /31:
#                   the node side is the pod's default gateway); the test
#                   writes the Pod and its status, as a kubelet would
#
# Pod CIDRs: node-a 10.244.1.0/24, node-b 10.244.2.0/24, node-c
# 10.244.3.0/24; pod slot S on node K is 10.244.K.(2S+1), its gateway
# 10.244.K.(2S).  Each request of e2e-http probe is a new TCP connection,
# answered "NAME PEER": the backend, and the address it saw (a node's, as
# kube-proxy masqueraded it, or the client's under Local), so each case
# also knows through which node a request went.

FP_NS=fullpath
FP_CLUSTER_CIDR=10.244.0.0/16
FP_PROXY_MODE=${BERTH_E2E_PROXY_MODE:-iptables}
# Where tests/envtest/build.sh puts it (the same default as tests/envtest).
FP_KUBE_PROXY=${BERTH_E2E_KUBE_PROXY:-${BERTH_ENVTEST_BIN:-${BERTH_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/envtest/${BERTH_KUBE_VERSION:-v1.33.13}}}/kube-proxy}
FP_CONTROLLER_PID=
declare -A FP_PROXY_PID=() FP_POD_PID=() FP_POD_IP=()

fp_node_index() { case $1 in node-a) echo 1 ;; node-b) echo 2 ;; node-c) echo 3 ;; esac; }

# fp_via PEER: the node a request came through, from the address the
# backend saw (a node's LAN address, or a pod gateway on that node).
fp_via() {
	local n
	for n in "${E2E_NODES[@]}"; do
		[ "$1" = "$(e2e_node_ip4 "$n")" ] && { echo "$n"; return; }
		[[ $1 == 10.244.$(fp_node_index "$n").* ]] && { echo "$n"; return; }
	done
	[ "$1" = "$E2E_CLIENT_IP4" ] && { echo client; return; }
	echo "?$1"
}

fp_probe() { ip netns exec "$E2E_NS_CLIENT" "$E2E_HTTP" probe "$@"; }

# ---- the nodes -------------------------------------------------------------------

fp_nodes_up() {
	local n m ns
	for n in "${E2E_NODES[@]}"; do
		ns=$(e2e_node_ns "$n")
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
		for m in "${E2E_NODES[@]}"; do
			[ "$m" = "$n" ] && continue
			ip -n "$ns" route replace "10.244.$(fp_node_index "$m").0/24" via "$(e2e_node_ip4 "$m")" dev eth0 || return 1
		done
		# What a kubelet reports, and what kube-proxy's node IP is.
		printf '{"spec":{"podCIDR":"10.244.%s.0/24","podCIDRs":["10.244.%s.0/24"]}}' "$(fp_node_index "$n")" "$(fp_node_index "$n")" |
			kapi_patch "/api/v1/nodes/$n" || return 1
		printf '{"status":{"addresses":[{"type":"InternalIP","address":"%s"},{"type":"Hostname","address":"%s"}]}}' \
			"$(e2e_node_ip4 "$n")" "$n" | kapi_patch "/api/v1/nodes/$n/status" || return 1
	done
}

# ---- pods -----------------------------------------------------------------------

# fp_pod_up NAME NODE SLOT APP: the pod's namespace, veth, server, Pod
# object and status (Running, Ready).
fp_pod_up() {
	local name=$1 node=$2 slot=$3 app=$4 ns nodens k gw ip
	ns=$E2E_PREFIX-pod-$name nodens=$(e2e_node_ns "$node") k=$(fp_node_index "$node")
	gw=10.244.$k.$((2 * slot)) ip=10.244.$k.$((2 * slot + 1))
	e2e_ns_add "$ns" &&
		ip -n "$nodens" link add "veth$name" type veth peer name eth0 netns "$ns" &&
		ip -n "$nodens" addr add "$gw/31" dev "veth$name" &&
		ip -n "$nodens" link set "veth$name" up &&
		ip -n "$ns" addr add "$ip/31" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" route add default via "$gw" || { fail "cannot wire pod $name on $node"; return 1; }
	ip netns exec "$ns" "$E2E_HTTP" serve "$name" </dev/null >> "$E2E_LOGDIR/pod-$name.log" 2>&1 &
	FP_POD_PID[$name]=$!
	FP_POD_IP[$name]=$ip
	E2E_STARTED_PIDS+=($!)
	# Never waited for: teardown kills it; no "Killed" job notice then.
	disown $!
	kapi_create "/api/v1/namespaces/$FP_NS/pods" <<EOF || { fail "cannot create Pod $name"; return 1; }
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $FP_NS, labels: {app: $app}}
spec:
  nodeName: $node
  containers:
  - name: http
    image: e2e.berth.io/http
    ports: [{name: http, containerPort: 8080, protocol: TCP}]
EOF
	fp_pod_ready "$name" True || { fail "cannot write the status of Pod $name"; return 1; }
}

# fp_pod_ready NAME True|False: the status a kubelet writes when the
# readiness probe passes or fails.
fp_pod_ready() {
	local name=$1 st=$2 node
	node=$(kapi_get "/api/v1/namespaces/$FP_NS/pods/$name" | jq -r .spec.nodeName) || return 1
	printf '{"status":{"phase":"Running","hostIP":"%s","podIP":"%s","podIPs":[{"ip":"%s"}],"conditions":[{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"True"},{"type":"ContainersReady","status":"%s"},{"type":"Ready","status":"%s"}]}}' \
		"$(e2e_node_ip4 "$node")" "${FP_POD_IP[$name]}" "${FP_POD_IP[$name]}" "$st" "$st" |
		kapi_patch "/api/v1/namespaces/$FP_NS/pods/$name/status"
}

# ---- berth-controller and kube-proxy --------------------------------------------

# berth-controller as its own ServiceAccount, with exactly the RBAC the
# manifests give it, in the api namespace.
fp_controller_start() {
	local token
	kapi_get /api/v1/namespaces/berth-system/serviceaccounts/berth-controller >/dev/null 2>&1 ||
		e2e_apply "$E2E_SRCDIR/examples/manifests/10-berth-controller-rbac.yaml" ||
		{ fail "cannot apply the controller's RBAC manifest"; return 1; }
	token=$(e2e_sa_token berth-system berth-controller) || { fail "no token for berth-system/berth-controller"; return 1; }
	e2e_kubeconfig "$E2E_WORK/kubeconfig-controller" berth-controller "$token"
	echo "=== $(date -u +%FT%T.%NZ) start" >> "$E2E_LOGDIR/berth-controller.log"
	ip netns exec "$E2E_NS_API" "$E2E_CONTROLLER" --kubeconfig "$E2E_WORK/kubeconfig-controller" \
		--namespace berth-system --controllers endpoints,endpointslice,nodeport,lbipam \
		--metrics-bind-address 127.0.0.1:7572 --log-level debug \
		</dev/null >> "$E2E_LOGDIR/berth-controller.log" 2>&1 &
	FP_CONTROLLER_PID=$!
	E2E_STARTED_PIDS+=($!)
	disown $!
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$FP_CONTROLLER_PID" 2>/dev/null ||
			{ fail "berth-controller exited: $(tail -n 5 "$E2E_LOGDIR/berth-controller.log")"; return 1; }
		[ "$(ip netns exec "$E2E_NS_API" curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:7572/readyz)" = 200 ] && return 0
		sleep 0.05
	done
	fail "berth-controller not ready after 15 s: $(tail -n 5 "$E2E_LOGDIR/berth-controller.log")"
}

# kube-proxy's identity: what kubeadm gives it (the system:node-proxier
# ClusterRole of the apiserver's bootstrap policy).
fp_proxy_identity() {
	kapi_get /api/v1/namespaces/kube-system/serviceaccounts/kube-proxy >/dev/null 2>&1 && return 0
	printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: kube-proxy, namespace: kube-system}\n' |
		kapi_create /api/v1/namespaces/kube-system/serviceaccounts &&
		kapi_create /apis/rbac.authorization.k8s.io/v1/clusterrolebindings <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-kube-proxy}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-proxier}
subjects: [{kind: ServiceAccount, name: kube-proxy, namespace: kube-system}]
EOF
}

# fp_proxy_start NODE: the real kube-proxy in NODE's namespace, configured
# by flags: its v1alpha1 configuration file cannot say minSyncPeriod 0 (its
# defaulting turns 0 into 1s), the flag can.  Everything it would set
# outside its namespace is left alone: conntrack's table size (max-per-core
# and min 0) and timeouts (0: unchanged); metrics and healthz listen on the
# namespace's loopback, node ports on the LAN address only.
fp_proxy_start() {
	local node=$1 ns token
	ns=$(e2e_node_ns "$node")
	[ -x "$FP_KUBE_PROXY" ] || { fail "no kube-proxy at $FP_KUBE_PROXY (tests/envtest/build.sh kube-proxy)"; return 1; }
	[ -f "$E2E_WORK/kubeconfig-kube-proxy" ] || {
		fp_proxy_identity && token=$(e2e_sa_token kube-system kube-proxy) ||
			{ fail "no identity for kube-proxy"; return 1; }
		e2e_kubeconfig "$E2E_WORK/kubeconfig-kube-proxy" kube-proxy "$token"
	}
	local -a flags=(
		--proxy-mode="$FP_PROXY_MODE" --hostname-override="$node" --bind-address="$(e2e_node_ip4 "$node")"
		--cluster-cidr="$FP_CLUSTER_CIDR" --detect-local-mode=ClusterCIDR
		--healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249
		--nodeport-addresses="$E2E_NET4.0/24" --iptables-localhost-nodeports=false
		--kubeconfig="$E2E_WORK/kubeconfig-kube-proxy" --kube-api-qps=50 --kube-api-burst=100
		--iptables-min-sync-period=0s --iptables-sync-period=30s
		--conntrack-max-per-core=0 --conntrack-min=0
		--conntrack-tcp-timeout-established=0s --conntrack-tcp-timeout-close-wait=0s
		--oom-score-adj=0 --v=2
	)
	echo "=== $(date -u +%FT%T.%NZ) start ${flags[*]}" >> "$E2E_LOGDIR/kube-proxy-$node.log"
	ip netns exec "$ns" "$FP_KUBE_PROXY" "${flags[@]}" </dev/null >> "$E2E_LOGDIR/kube-proxy-$node.log" 2>&1 &
	FP_PROXY_PID[$node]=$!
	E2E_STARTED_PIDS+=($!)
	disown $!
}

# Waits (15 s) until NODE's kube-proxy says it is healthy (its first sync
# of the rules is done) and checks it took minSyncPeriod 0.
fp_proxy_wait() {
	local node=$1 ns i
	ns=$(e2e_node_ns "$node")
	for ((i = 0; i < 300; i++)); do
		kill -0 "${FP_PROXY_PID[$node]}" 2>/dev/null ||
			{ fail "kube-proxy on $node exited: $(tail -n 5 "$E2E_LOGDIR/kube-proxy-$node.log")"; return 1; }
		if [ "$(ip netns exec "$ns" curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz)" = 200 ]; then
			grep -q 'sync params" ipFamily="IPv4" minSyncPeriod="0s"' "$E2E_LOGDIR/kube-proxy-$node.log" && return 0
			fail "kube-proxy on $node does not run with minSyncPeriod 0: $(grep -m 1 'sync params' "$E2E_LOGDIR/kube-proxy-$node.log")"
			return 1
		fi
		sleep 0.05
	done
	fail "kube-proxy on $node not healthy after 15 s: $(tail -n 5 "$E2E_LOGDIR/kube-proxy-$node.log")"
}

# Everything of the full path, started once (what is not running is
# started again): nodes, three "web" pods (one per node), the controller,
# three kube-proxies, three speakers.
fp_up() {
	local n
	kapi_get "/api/v1/namespaces/$FP_NS" >/dev/null 2>&1 || {
		printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$FP_NS" | kapi_create /api/v1/namespaces &&
			fp_nodes_up || { fail "cannot prepare the nodes"; return 1; }
	}
	for n in "${E2E_NODES[@]}"; do
		[ -n "${FP_POD_PID[web-${n#node-}]:-}" ] && continue
		fp_pod_up "web-${n#node-}" "$n" 1 web || return 1
	done
	if [ -z "$FP_CONTROLLER_PID" ] || ! kill -0 "$FP_CONTROLLER_PID" 2>/dev/null; then
		fp_controller_start || return 1
	fi
	for n in "${E2E_NODES[@]}"; do
		if [ -z "${FP_PROXY_PID[$n]:-}" ] || ! kill -0 "${FP_PROXY_PID[$n]}" 2>/dev/null; then
			fp_proxy_start "$n" || return 1
		fi
	done
	for n in "${E2E_NODES[@]}"; do
		fp_proxy_wait "$n" || return 1
	done
	speakers_up
}

# ---- Services --------------------------------------------------------------------

# fp_service NAME TYPE APP [Cluster|Local]: a Service of port 80 to the
# pods' named port "http", LoadBalancer ones from e2e-pool (lbipam).
fp_service() {
	local name=$1 type=$2 app=$3 etp=${4:-Cluster} extra=
	kapi_get "/api/v1/namespaces/$FP_NS/services/$name" >/dev/null 2>&1 && return 0
	[ "$type" = LoadBalancer ] && extra="
  externalTrafficPolicy: $etp"
	kapi_create "/api/v1/namespaces/$FP_NS/services" <<EOF || { fail "cannot create Service $name"; return 1; }
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: $FP_NS
  annotations: {metallb.io/address-pool: e2e-pool}
spec:
  type: $type$extra
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  selector: {app: $app}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]
EOF
}

# fp_lb_ip NAME: waits (10 s) for the IP lbipam writes into the status.
fp_lb_ip() {
	local i ip
	for ((i = 0; i < 200; i++)); do
		ip=$(kapi_get "/api/v1/namespaces/$FP_NS/services/$1" | jq -r '.status.loadBalancer.ingress[0].ip // ""')
		[ -n "$ip" ] && { echo "$ip"; return 0; }
		sleep 0.05
	done
	fail "Service $1 got no load-balancer IP from lbipam in 10 s"
}

# fp_wait_answers IP PORT NAME... : waits (15 s) until requests to IP:PORT
# are answered by every NAME (kube-proxy has the endpoints).
fp_wait_answers() {
	local ip=$1 port=$2 t0 out got want
	shift 2
	want=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
	t0=$(e2e_now_ms)
	while [ $(($(e2e_now_ms) - t0)) -lt 15000 ]; do
		out=$(fp_probe "$ip" "$port" --count 30 --timeout-ms 300)
		got=$(awk '$1 == "ok" {print $4}' <<< "$out" | sort -u | tr '\n' ' ')
		[ "$got" = "$want" ] && return 0
		sleep 0.2
	done
	fail "$ip:$port answered by '${got:-nobody}', want '$want' ($(tail -n 1 <<< "$out"))"
}

# ---- the cases ---------------------------------------------------------------------

# The client reaches the three backends through the LB IP lbipam gave the
# Service (announced by the elected node, whose kube-proxy forwards every
# request) and through the NodePort of a second Service on each node.
fullpath_reach() {
	local ip owner out n port bad vias
	fp_up && fp_service web LoadBalancer web && fp_service web-np NodePort web || return 1
	ip=$(fp_lb_ip web) || return 1
	owner=$(e2e_owner "$ip" "${E2E_NODES[@]}")
	expect_owner "$ip" "$owner" 5000 || return 1
	fp_wait_answers "$ip" 80 web-a web-b web-c || return 1
	out=$(fp_probe "$ip" 80 --count 60 --timeout-ms 500)
	grep -q '^summary ok=60 fail=0$' <<< "$out" || { fail "$ip:80: $(tail -n 1 <<< "$out")"; return 1; }
	vias=$(awk '$1 == "ok" {print $5}' <<< "$out" | sort -u | while read -r p; do fp_via "$p"; done | sort -u | tr '\n' ' ')
	[ "$vias" = "$owner " ] || { fail "requests to $ip went through '$vias', want only $owner (the announcer)"; return 1; }
	note "LB $ip (lbipam) announced by $owner: 60/60 answered by $(awk '$1 == "ok" {print $4}' <<< "$out" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')via $owner's kube-proxy"
	port=$(kapi_get "/api/v1/namespaces/$FP_NS/services/web-np" | jq -r '.spec.ports[0].nodePort')
	[[ $port =~ ^[0-9]+$ ]] || { fail "web-np has no node port"; return 1; }
	for n in "${E2E_NODES[@]}"; do
		fp_wait_answers "$(e2e_node_ip4 "$n")" "$port" web-a web-b web-c || return 1
		out=$(fp_probe "$(e2e_node_ip4 "$n")" "$port" --count 30 --timeout-ms 500)
		grep -q '^summary ok=30 fail=0$' <<< "$out" || { fail "$n:$port: $(tail -n 1 <<< "$out")"; return 1; }
		bad=$(awk '$1 == "ok" {print $5}' <<< "$out" | sort -u | while read -r p; do fp_via "$p"; done | grep -vx "$n")
		[ -z "$bad" ] || { fail "NodePort on $n went through $bad"; return 1; }
	done
	note "NodePort $port on node-a, node-b, node-c: 30/30 each, all three backends, through that node"
}

# The announcing node dies for the LB IP: its speaker is SIGKILLed and, at
# the same moment, its data path for the IP is cut (nft drops what arrives
# for it, as if the machine were gone; its kube-proxy would otherwise keep
# serving the client's stale neighbour entry).  Requests, each on a new
# connection, fail until the next node by hash takes over, then succeed
# through it; the gap stays within the speaker's SIGKILL budget
# (lease-duration, speaker.md §10, plus the CI slack).
fullpath_failover() {
	local ip owner next rest=() n ns log t_cut pid last_ok first_fail last_fail first_ok after_fail vias gap
	fp_up && fp_service web LoadBalancer web || return 1
	ip=$(fp_lb_ip web) || return 1
	owner=$(e2e_owner "$ip" "${E2E_NODES[@]}")
	for n in "${E2E_NODES[@]}"; do [ "$n" != "$owner" ] && rest+=("$n"); done
	next=$(e2e_owner "$ip" "${rest[@]}")
	expect_owner "$ip" "$owner" 5000 && fp_wait_answers "$ip" 80 web-a web-b web-c || return 1
	ns=$(e2e_node_ns "$owner") log=$E2E_LOGDIR/fullpath_failover.http
	fp_probe "$ip" 80 --duration-ms $((LEASE_MS + 5000)) --timeout-ms 200 --interval-ms 10 > "$log" &
	local probe=$!
	sleep 1
	pid=${E2E_SPEAKER_PID[$owner]}
	t_cut=$(e2e_now_ms)
	ip netns exec "$ns" nft -f - <<EOF || { fail "nft"; kill "$probe"; return 1; }
table ip berth_e2e_dead {
	chain pre { type filter hook prerouting priority -400; ip daddr $ip drop; }
}
EOF
	kill -KILL "$pid"
	e2e_speaker_reap "$owner"
	wait "$probe"
	ip netns exec "$ns" nft delete table ip berth_e2e_dead
	# A request started just before the cut may still succeed: the outage
	# starts at the first failure, and ends at the first success after it.
	last_ok=$(awk -v t="$t_cut" '$1 == "ok" && $2 < t {s = $2} END {printf "%.0f\n", s}' "$log")
	first_fail=$(awk -v t="$t_cut" '$1 == "fail" && $2 >= t {print $2; exit}' "$log")
	[ -n "$first_fail" ] || { fail "no request failed: the cut did not stop $owner's path"; return 1; }
	first_ok=$(awk -v t="$first_fail" '$1 == "ok" && $2 > t {print $2; exit}' "$log")
	[ -n "$first_ok" ] || { fail "no request succeeded after the cut ($(tail -n 1 "$log"))"; return 1; }
	after_fail=$(awk -v t="$first_ok" '$1 == "fail" && $2 > t' "$log" | wc -l)
	[ "$after_fail" = 0 ] || { fail "$after_fail requests failed after the first success through the new owner"; return 1; }
	vias=$(awk -v t="$first_ok" '$1 == "ok" && $2 >= t {print $5}' "$log" | sort -u | while read -r p; do fp_via "$p"; done | sort -u | tr '\n' ' ')
	[ "$vias" = "$next " ] || { fail "after the failover requests went through '$vias', want $next"; return 1; }
	gap=$((first_ok - t_cut))
	# The path came back after the last failed request started.
	last_fail=$(awk -v t="$first_ok" '$1 == "fail" && $2 < t {s = $2} END {printf "%.0f\n", s}' "$log")
	note "SIGKILL of $owner's speaker + its path cut at +0: last success started -$((t_cut - last_ok)) ms, first failure +$((first_fail - t_cut)) ms, last failure +$((last_fail - t_cut)) ms, first success (through $next) +$gap ms; $(grep -c '^fail ' "$log") requests failed (200 ms timeout each); lease-duration $LEASE_MS ms"
	[ "$gap" -le $((LEASE_MS + E2E_SLACK_MS)) ] ||
		{ fail "requests failed for $gap ms after the kill (budget $LEASE_MS ms + $E2E_SLACK_MS ms slack)"; return 1; }
	e2e_speaker_start "$owner" && e2e_speaker_wait "$owner" || return 1
	expect_owner "$ip" "$owner" $((LEASE_MS + 5000)) || return 1
	note "$owner's speaker restarted and took $ip back"
}

# A backend goes not-ready (the status write a kubelet makes): berth's
# endpointslice controller marks it, kube-proxy (minSyncPeriod 0) drops it;
# within a second of the write no new connection reaches it, and the other
# backends answer meanwhile.  At a few hundred new connections a second a
# rare connect timeout (a reused client port meeting old state) is not the
# endpoint change: up to 1% may fail, and the log shows them.
fullpath_not_ready() {
	local ip victim=web-b log t_send t_done last seen after fails t_back
	fp_up && fp_service web LoadBalancer web || return 1
	ip=$(fp_lb_ip web) || return 1
	expect_owner "$ip" "$(e2e_owner "$ip" "${E2E_NODES[@]}")" 5000 && fp_wait_answers "$ip" 80 web-a web-b web-c || return 1
	log=$E2E_LOGDIR/fullpath_not_ready.http
	fp_probe "$ip" 80 --duration-ms 4000 --timeout-ms 500 --interval-ms 4 > "$log" &
	local probe=$!
	sleep 1
	t_send=$(e2e_now_ms)
	fp_pod_ready "$victim" False || { kill "$probe"; fail "cannot write $victim's status"; return 1; }
	t_done=$(e2e_now_ms)
	wait "$probe"
	seen=$(awk -v t="$t_send" -v v="$victim" '$1 == "ok" && $2 < t && $4 == v' "$log" | wc -l)
	[ "$seen" -gt 0 ] || { fail "$victim answered nothing before the write"; return 1; }
	last=$(awk -v v="$victim" '$1 == "ok" && $4 == v {s = $2} END {printf "%.0f\n", s}' "$log")
	after=$(awk -v t="$last" '$1 == "ok" && $2 > t' "$log" | wc -l)
	fails=$(grep -c '^fail ' "$log")
	note "status write sent at +0 (done at +$((t_done - t_send)) ms); last new connection to $victim started at +$((last - t_send)) ms; then $after requests, none to it; $fails failed of $(grep -c '^ok\|^fail' "$log")"
	[ $((last - t_send)) -le 1000 ] || { fail "$victim still got new connections $((last - t_send)) ms after the write"; return 1; }
	[ "$after" -ge 50 ] || { fail "only $after requests after $victim's last one (the probe stalled?)"; return 1; }
	[ $((fails * 100)) -le "$(grep -c '^ok\|^fail' "$log")" ] ||
		{ fail "$fails requests failed while $victim was taken out: $(grep -m 3 '^fail ' "$log" | tr '\n' ';')"; return 1; }
	t_send=$(e2e_now_ms)
	fp_pod_ready "$victim" True || return 1
	fp_wait_answers "$ip" 80 web-a web-b web-c || return 1
	t_back=$(($(e2e_now_ms) - t_send))
	note "ready again: $victim answers again (all three seen within $t_back ms)"
}

# externalTrafficPolicy: Local: announced only from a node with a ready
# backend (the last node by hash, so the hash alone would not pick it), the
# client's neighbour entry names it, only its speaker exports the metric,
# and its kube-proxy delivers the client's own address to the backend.
fullpath_etp_local() {
	local ip order y n out
	fp_up && fp_service local LoadBalancer local Local || return 1
	ip=$(fp_lb_ip local) || return 1
	silent "$ip" 1000 || return 1
	order=$(for n in "${E2E_NODES[@]}"; do printf '%s %s\n' "$(printf '%s#%s' "$n" "$ip" | sha256sum | cut -c1-64)" "$n"; done | sort | cut -d' ' -f2)
	y=$(sed -n 3p <<< "$order")
	[ -n "${FP_POD_PID[local-${y#node-}]:-}" ] || fp_pod_up "local-${y#node-}" "$y" 2 local || return 1
	expect_owner "$ip" "$y" 5000 || return 1
	one_answerer "$ip" "$y" || return 1
	e2e_metric_only_on "$ip" "$y" || return 1
	fp_wait_answers "$ip" 80 "local-${y#node-}" || return 1
	out=$(fp_probe "$ip" 80 --count 20 --timeout-ms 500)
	grep -q '^summary ok=20 fail=0$' <<< "$out" || { fail "$ip:80: $(tail -n 1 <<< "$out")"; return 1; }
	[ "$(awk '$1 == "ok" {print $4, $5}' <<< "$out" | sort -u)" = "local-${y#node-} $E2E_CLIENT_IP4" ] ||
		{ fail "Local: answers $(awk '$1 == "ok" {print $4, $5}' <<< "$out" | sort -u | tr '\n' ';'), want local-${y#node-} seeing $E2E_CLIENT_IP4"; return 1; }
	note "Local $ip: no backend -> silent; backend on $y (last by hash) -> $y answers ARP alone, its metric only; 20/20 reach local-${y#node-}, which sees the client's $E2E_CLIENT_IP4"
}
