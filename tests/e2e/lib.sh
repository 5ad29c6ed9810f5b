# tests/e2e/lib.sh: the network e2e harness (design.md "Network e2e"),
# sourced by run.sh and bench-failover.sh, never run.
#
# Everything lives in network namespaces this harness creates; the root
# namespace is never touched (not even the bridge lives there):
#
#   <P>-lan       the bridge br0, one port per namespace below
#   <P>-api       etcd + kube-apiserver (tests/envtest), 198.51.100.1 / fd00:e2e::1
#   <P>-node-a    198.51.100.11 / fd00:e2e::11   MAC 02:e2:e0:00:00:0a   (node-b .12, node-c .13)
#   <P>-client    198.51.100.20 / fd00:e2e::20   MAC 02:e2:e0:00:00:c1   the ARP/NDP peer
#   <P>-foreign   198.51.100.30 / fd00:e2e::30   MAC 02:e2:e0:00:00:f0   a host that is not ours
#
# Each namespace is joined to br0 by a veth pair whose in-namespace end is
# renamed eth0 (the speaker's default exclude regex skips veth*).  Addresses
# are TEST-NET-2 (RFC 5737) and ULA (RFC 4193), added with nodad; DAD is off
# in every namespace so the link-local address is usable at once.
#
# e2e_teardown (installed as the EXIT trap by e2e_setup) kills every process
# left in those namespaces, stops the control plane and deletes every
# namespace made, whatever happened.

E2E_SRCDIR=${E2E_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_PREFIX=${BERTH_E2E_PREFIX:-be2e$$}
E2E_NS_LAN=$E2E_PREFIX-lan
E2E_NS_API=$E2E_PREFIX-api
E2E_NS_CLIENT=$E2E_PREFIX-client
E2E_NS_FOREIGN=$E2E_PREFIX-foreign
E2E_NODES=(node-a node-b node-c)

E2E_NET4=198.51.100
E2E_NET6=fd00:e2e:
E2E_API_IP4=$E2E_NET4.1
E2E_CLIENT_IP4=$E2E_NET4.20
E2E_CLIENT_IP6=${E2E_NET6}:20
E2E_FOREIGN_IP4=$E2E_NET4.30
E2E_CLIENT_MAC=02:e2:e0:00:00:c1
E2E_FOREIGN_MAC=02:e2:e0:00:00:f0
# The pools the tests use: e2e-pool (every node) and e2e-selected (only the
# nodes labelled e2e.berth.io/announce=yes).
E2E_POOL4=$E2E_NET4.64/27
E2E_POOL6=${E2E_NET6}:1:0/112
E2E_SELECTED_POOL4=$E2E_NET4.96/28

E2E_NETNS_MADE=()
E2E_STARTED_PIDS=()
E2E_PLANE=
E2E_WORK=
E2E_LOGDIR=${E2E_LOGDIR:-/tmp}
declare -A E2E_SPEAKER_PID=()

e2e_log() { echo "e2e: $*" >&2; }
e2e_die() { echo "e2e: $*" >&2; exit 1; }
e2e_now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

e2e_node_ns() { echo "$E2E_PREFIX-$1"; }
e2e_node_mac() { echo "02:e2:e0:00:00:0${1#node-}"; }
e2e_node_ip4() { case $1 in node-a) echo $E2E_NET4.11 ;; node-b) echo $E2E_NET4.12 ;; node-c) echo $E2E_NET4.13 ;; esac; }
e2e_node_ip6() { case $1 in node-a) echo ${E2E_NET6}:11 ;; node-b) echo ${E2E_NET6}:12 ;; node-c) echo ${E2E_NET6}:13 ;; esac; }
e2e_mac_node() {
	local n
	for n in "${E2E_NODES[@]}"; do
		[ "$(e2e_node_mac "$n")" = "$1" ] && { echo "$n"; return; }
	done
	echo "${1:-none}"
}

# ---- namespaces ----------------------------------------------------------

e2e_ns_add() {
	local ns=$1
	ip netns add "$ns" || { e2e_log "cannot create network namespace $ns (root and CAP_SYS_ADMIN are required)"; return 1; }
	E2E_NETNS_MADE+=("$ns")
	ip -n "$ns" link set lo up &&
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null
}

# e2e_ns_join NS MAC IPV4 IPV6: a veth pair from the bridge to NS, eth0 inside.
e2e_ns_join() {
	local ns=$1 mac=$2 ip4=$3 ip6=$4 port
	port=p${#E2E_NETNS_MADE[@]}-${ns##*-}
	port=${port:0:15}
	ip -n "$E2E_NS_LAN" link add "$port" type veth peer name eth0 netns "$ns" &&
		ip -n "$E2E_NS_LAN" link set "$port" master br0 up &&
		ip -n "$ns" link set eth0 address "$mac" up &&
		ip -n "$ns" addr add "$ip4/24" dev eth0 &&
		ip -n "$ns" addr add "$ip6/64" dev eth0 nodad
}

e2e_root_snapshot() {
	{ ip -o link show | awk -F': ' '{print $2}' | sort; ip -o addr show | awk '{print $2, $4}' | sort; } 2>/dev/null
}

e2e_net_up() {
	local n
	E2E_ROOT_BEFORE=$(e2e_root_snapshot)
	e2e_ns_add "$E2E_NS_LAN" || return 1
	# No multicast snooping: without an MLD querier the bridge floods
	# anyway, and the tests do not depend on its querier timing.
	ip -n "$E2E_NS_LAN" link add br0 type bridge mcast_snooping 0 &&
		ip -n "$E2E_NS_LAN" link set br0 up || return 1
	e2e_ns_add "$E2E_NS_API" &&
		e2e_ns_join "$E2E_NS_API" 02:e2:e0:00:00:a1 "$E2E_API_IP4" "${E2E_NET6}:1" || return 1
	for n in "${E2E_NODES[@]}"; do
		e2e_ns_add "$(e2e_node_ns "$n")" &&
			e2e_ns_join "$(e2e_node_ns "$n")" "$(e2e_node_mac "$n")" "$(e2e_node_ip4 "$n")" "$(e2e_node_ip6 "$n")" ||
			return 1
	done
	e2e_ns_add "$E2E_NS_CLIENT" &&
		e2e_ns_join "$E2E_NS_CLIENT" "$E2E_CLIENT_MAC" "$E2E_CLIENT_IP4" "$E2E_CLIENT_IP6" &&
		e2e_ns_add "$E2E_NS_FOREIGN" &&
		e2e_ns_join "$E2E_NS_FOREIGN" "$E2E_FOREIGN_MAC" "$E2E_FOREIGN_IP4" "${E2E_NET6}:30"
}

# Kills what runs in our namespaces (only processes in them: ours), stops
# the control plane, deletes the namespaces.  Idempotent.
e2e_teardown() {
	local ns pid i
	set +e
	for pid in "${E2E_SPEAKER_PID[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	E2E_SPEAKER_PID=()
	if [ -n "$E2E_PLANE" ] && [ -d "$E2E_PLANE" ]; then
		if [ "${BERTH_E2E_KEEP:-0}" = 1 ]; then
			ip netns exec "$E2E_NS_API" "$E2E_SRCDIR/tests/envtest/stop" --keep "$E2E_PLANE" >/dev/null 2>&1
			e2e_log "kept $E2E_PLANE"
		else
			ip netns exec "$E2E_NS_API" "$E2E_SRCDIR/tests/envtest/stop" "$E2E_PLANE" >/dev/null 2>&1
		fi
	fi
	E2E_PLANE=
	for ns in "${E2E_NETNS_MADE[@]}"; do
		for i in 1 2 3; do
			pid=$(ip netns pids "$ns" 2>/dev/null)
			[ -z "$pid" ] && break
			# shellcheck disable=SC2086
			kill -KILL $pid 2>/dev/null
			sleep 0.1
		done
		ip netns del "$ns" 2>/dev/null
	done
	E2E_NETNS_MADE=()
	if [ -n "$E2E_WORK" ] && [ "${BERTH_E2E_KEEP:-0}" != 1 ]; then
		rm -rf "$E2E_WORK"
	fi
	E2E_WORK=
}

# ---- the control plane in the api namespace --------------------------------

# Starts etcd + kube-apiserver inside the api namespace: etcd stays on that
# namespace's loopback; the apiserver listens on every address of the
# namespace (its loopback for the readiness check and the harness, its LAN
# address for the nodes).  tests/envtest/start passes the flags after "--"
# through, and kube-apiserver keeps the last value of a repeated flag.
e2e_api_up() {
	local out=$E2E_WORK/plane.out
	ip netns exec "$E2E_NS_API" "$E2E_SRCDIR/tests/envtest/start" \
		--service-cidr=10.96.0.0/16,fd00:96::/112 --dir="$E2E_WORK/plane" \
		-- --bind-address=0.0.0.0 --advertise-address="$E2E_API_IP4" > "$out" 2> >(sed 's/^/  /' >&2) ||
		{ e2e_log "the control plane did not start in $E2E_NS_API"; return 1; }
	E2E_PLANE=$(tail -n 1 "$out")
	[ -f "$E2E_PLANE/env" ] || { e2e_log "no env file in '$E2E_PLANE'"; return 1; }
	E2E_API_PORT=$(sed -n 's/^BERTH_APISERVER_PORT=//p' "$E2E_PLANE/env")
	E2E_ADMIN_TOKEN=$(sed -n 's/^BERTH_TOKEN_ADMIN=//p' "$E2E_PLANE/env")
	E2E_SPEAKER_TOKEN=$(sed -n 's/^BERTH_TOKEN_BERTH_SPEAKER=//p' "$E2E_PLANE/env")
	E2E_CA=$E2E_PLANE/pki/ca.crt
	# What the speakers use: the LAN address, the serving certificate's
	# name (it names 127.0.0.1 and localhost only), the speaker's token.
	e2e_kubeconfig "$E2E_WORK/kubeconfig-speaker" berth-speaker "$E2E_SPEAKER_TOKEN"
}

# kapi METHOD PATH [CONTENT-TYPE]: the admin's request from inside the api
# namespace; the body (if CONTENT-TYPE is given) on stdin.  Prints the
# response body; returns 1 on a non-2xx status (the body goes to stderr).
kapi() {
	local method=$1 path=$2 ctype=${3:-} out code
	out=$(mktemp "$E2E_WORK/kapi.XXXXXX")
	local -a args=(-sS -m 10 --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_ADMIN_TOKEN" -X "$method" -o "$out" -w '%{http_code}')
	[ -n "$ctype" ] && args+=(-H "Content-Type: $ctype" --data-binary @-)
	code=$(ip netns exec "$E2E_NS_API" curl "${args[@]}" "https://127.0.0.1:$E2E_API_PORT$path")
	if [ "${code:0:1}" != 2 ]; then
		echo "kapi: $method $path: HTTP $code: $(head -c 400 "$out")" >&2
		rm -f "$out"
		return 1
	fi
	cat "$out"
	rm -f "$out"
}
kapi_create() { kapi POST "$1" application/yaml >/dev/null; }
kapi_patch() { kapi PATCH "$1" application/merge-patch+json >/dev/null; }
kapi_get() { kapi GET "$1"; }
kapi_delete() { kapi DELETE "$1" >/dev/null; }

# The objects every case shares: namespaces, RBAC for the speaker token
# (exactly speaker.md §2), Nodes, the metallb.io CRDs, two pools with their
# advertisements.
e2e_objects_up() {
	local n kind i
	for n in berth-system e2e; do
		printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$n" | kapi_create /api/v1/namespaces || return 1
	done
	kapi_create /apis/rbac.authorization.k8s.io/v1/clusterroles <<'EOF' || return 1
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: berth-speaker}
rules:
- {apiGroups: [""], resources: [services, nodes], verbs: [get, list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [get, list, watch]}
- {apiGroups: [metallb.io], resources: [ipaddresspools, l2advertisements], verbs: [get, list, watch]}
- {apiGroups: [events.k8s.io], resources: [events], verbs: [create, patch]}
EOF
	kapi_create /apis/rbac.authorization.k8s.io/v1/clusterrolebindings <<'EOF' || return 1
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: berth-speaker}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: berth-speaker}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: berth-speaker}]
EOF
	kapi_create /apis/rbac.authorization.k8s.io/v1/namespaces/berth-system/roles <<'EOF' || return 1
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: berth-speaker, namespace: berth-system}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, list, watch, create, update, delete]}
EOF
	kapi_create /apis/rbac.authorization.k8s.io/v1/namespaces/berth-system/rolebindings <<'EOF' || return 1
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: berth-speaker, namespace: berth-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: berth-speaker}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: berth-speaker}]
EOF
	for n in "${E2E_NODES[@]}"; do
		printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {kubernetes.io/hostname: %s}}\n' "$n" "$n" |
			kapi_create /api/v1/nodes || return 1
	done
	for kind in ipaddresspools l2advertisements; do
		kapi_create /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
			< "$E2E_SRCDIR/examples/manifests/crds/$kind.metallb.io.yaml" || return 1
	done
	for kind in ipaddresspools l2advertisements; do
		for ((i = 0; i < 200; i++)); do
			kapi_get "/apis/metallb.io/v1beta1/namespaces/berth-system/$kind" >/dev/null 2>&1 && break
			sleep 0.05
		done
		[ "$i" -lt 200 ] || { e2e_log "the $kind CRD never became served"; return 1; }
	done
	e2e_pool e2e-pool "$E2E_POOL4" "$E2E_POOL6" &&
		e2e_l2adv e2e-l2 e2e-pool &&
		e2e_pool e2e-selected "$E2E_SELECTED_POOL4" &&
		e2e_l2adv e2e-l2-selected e2e-selected e2e.berth.io/announce=yes
}

# e2e_pool NAME CIDR...: an IPAddressPool in berth-system.
e2e_pool() {
	local name=$1 list
	shift
	list=$(printf '"%s",' "$@")
	kapi_create /apis/metallb.io/v1beta1/namespaces/berth-system/ipaddresspools <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: $name, namespace: berth-system}
spec: {addresses: [${list%,}]}
EOF
}

# e2e_l2adv NAME POOL [KEY=VALUE]: an L2Advertisement of POOL, for the
# nodes labelled KEY=VALUE when given.
e2e_l2adv() {
	local name=$1 pool=$2 sel=
	[ $# -ge 3 ] && sel=", nodeSelectors: [{matchLabels: {${3%%=*}: \"${3#*=}\"}}]"
	kapi_create /apis/metallb.io/v1beta1/namespaces/berth-system/l2advertisements <<EOF
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: $name, namespace: berth-system}
spec: {ipAddressPools: [$pool]$sel}
EOF
}

# e2e_node_label NODE KEY VALUE|null
e2e_node_label() {
	local v=null
	[ "$3" != null ] && v="\"$3\""
	printf '{"metadata":{"labels":{"%s":%s}}}' "$2" "$v" | kapi_patch "/api/v1/nodes/$1"
}

# e2e_service NAME IP [Cluster|Local]: a LoadBalancer Service in namespace
# e2e whose status the test writes (no lbipam runs here), of IP's family.
e2e_service() {
	local name=$1 ip=$2 etp=${3:-Cluster} family=IPv4
	[[ $ip == *:* ]] && family=IPv6
	kapi_create /api/v1/namespaces/e2e/services <<EOF || return 1
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: e2e, labels: {app: $name}}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false
  externalTrafficPolicy: $etp
  ipFamilies: [$family]
  ipFamilyPolicy: SingleStack
  selector: {app: $name}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
EOF
	printf '{"status":{"loadBalancer":{"ingress":[{"ip":"%s","ipMode":"VIP"}]}}}' "$ip" |
		kapi_patch "/api/v1/namespaces/e2e/services/$name/status"
}

# e2e_endpoints NAME FAMILY [NODE[:notready]...]: the Service's one
# EndpointSlice (created or replaced) with one endpoint per NODE, ready
# unless marked ":notready".  No NODE: an empty slice.
e2e_endpoints() {
	local name=$1 family=$2 eps="" k=0 spec node ready addr
	shift 2
	for spec in "$@"; do
		node=${spec%%:*} ready=true
		[ "$spec" != "$node" ] && ready=false
		k=$((k + 1))
		if [ "$family" = IPv6 ]; then addr="fd00:244::$k"; else addr="10.244.0.$k"; fi
		eps+="${eps:+,}{\"addresses\":[\"$addr\"],\"nodeName\":\"$node\",\"conditions\":{\"ready\":$ready,\"serving\":$ready,\"terminating\":false}}"
	done
	local body
	body=$(printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-e2e","namespace":"e2e","labels":{"kubernetes.io/service-name":"%s","endpointslice.kubernetes.io/managed-by":"e2e.berth.io"}},"addressType":"%s","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[%s]}' \
		"$name" "$name" "$family" "$eps")
	if kapi_get "/apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices/$name-e2e" >/dev/null 2>&1; then
		printf '{"endpoints":[%s]}' "$eps" | kapi_patch "/apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices/$name-e2e"
	else
		echo "$body" | kapi POST /apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices application/json >/dev/null
	fi
}

# e2e_owner IP NODE...: the winner of speaker.md §5 among the NODEs (lowest
# sha256(node + "#" + ip)), so every expectation is computed, not guessed.
e2e_owner() {
	local ip=$1 n
	shift
	for n in "$@"; do
		printf '%s %s\n' "$(printf '%s#%s' "$n" "$ip" | sha256sum | cut -c1-64)" "$n"
	done | sort | head -n 1 | cut -d' ' -f2
}

# ---- speakers --------------------------------------------------------------

E2E_LEASE_DURATION=${BERTH_E2E_LEASE_DURATION:-2s}
E2E_LEASE_RENEW=${BERTH_E2E_LEASE_RENEW:-500ms}

# e2e_speaker_start NODE [FLAGS...]: berth-speaker in NODE's namespace.
e2e_speaker_start() {
	local node=$1 ns
	shift
	ns=$(e2e_node_ns "$node")
	[ -x "$E2E_SPEAKER" ] || { e2e_log "no berth-speaker at $E2E_SPEAKER"; return 1; }
	echo "=== $(date -u +%FT%T.%NZ) start $*" >> "$E2E_LOGDIR/speaker-$node.log"
	# CAP_NET_RAW and nothing else (speaker.md §1): uid 0 whose bounding
	# set holds only that capability, as the DaemonSet runs it.
	local -a caps=(setpriv --bounding-set -all,+net_raw)
	[ "${BERTH_E2E_CAPS:-net_raw}" = all ] && caps=()
	ip netns exec "$ns" "${caps[@]}" "$E2E_SPEAKER" --node "$node" --kubeconfig "$E2E_WORK/kubeconfig-speaker" \
		--namespace berth-system --lease-duration "$E2E_LEASE_DURATION" --lease-renew "$E2E_LEASE_RENEW" \
		--metrics-bind-address 127.0.0.1:7472 --log-level debug "$@" \
		</dev/null >> "$E2E_LOGDIR/speaker-$node.log" 2>&1 &
	E2E_SPEAKER_PID[$node]=$!
	E2E_STARTED_PIDS+=($!)
}

# Waits (up to 15 s) until NODE's speaker lease exists and its process lives.
e2e_speaker_wait() {
	local node=$1 i
	for ((i = 0; i < 300; i++)); do
		kill -0 "${E2E_SPEAKER_PID[$node]}" 2>/dev/null || { e2e_log "speaker on $node exited; log:"; tail -n 15 "$E2E_LOGDIR/speaker-$node.log" >&2; return 1; }
		kapi_get "/apis/coordination.k8s.io/v1/namespaces/berth-system/leases/berth-speaker-$node" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	e2e_log "no lease for $node after 15 s"
	return 1
}

# e2e_speaker_stop NODE [SIGNAL]: default TERM; waits for the exit; its
# status in $E2E_RC.
e2e_speaker_stop() {
	local node=$1 sig=${2:-TERM} pid
	E2E_RC=
	pid=${E2E_SPEAKER_PID[$node]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	E2E_RC=$?
	unset "E2E_SPEAKER_PID[$node]"
}

# Forgets a speaker that a tool signalled; its exit status in $E2E_RC.
e2e_speaker_reap() {
	local node=$1 pid
	E2E_RC=
	pid=${E2E_SPEAKER_PID[$node]:-}
	[ -n "$pid" ] || return 0
	wait "$pid" 2>/dev/null
	E2E_RC=$?
	unset "E2E_SPEAKER_PID[$node]"
}

e2e_speaker_metrics() {
	ip netns exec "$(e2e_node_ns "$1")" curl -s -m 2 http://127.0.0.1:7472/metrics
}

# e2e_metric_only_on IP NODE: NODE's speaker, and no other, exports the
# metallb_speaker_announced series of IP.
e2e_metric_only_on() {
	local ip=$1 owner=$2 n m
	for n in "${E2E_NODES[@]}"; do
		m=$(e2e_speaker_metrics "$n" | grep '^metallb_speaker_announced{' | grep -c "ip=\"$ip\"")
		if [ "$n" = "$owner" ]; then
			[ "$m" = 1 ] || { fail "$n (the owner) has no metallb_speaker_announced series for $ip"; return 1; }
		else
			[ "$m" = 0 ] || { fail "$n (not the owner) exports metallb_speaker_announced for $ip"; return 1; }
		fi
	done
}

# ---- the client's view ----------------------------------------------------

# e2e_neigh NS IP: the MAC the kernel of NS holds for IP ("" if none).
e2e_neigh() {
	ip -n "$1" neigh show to "$2" dev eth0 2>/dev/null |
		awk '$0 !~ /FAILED|INCOMPLETE/ { for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }' | head -n 1
}

# e2e_kick NS IP: makes the kernel of NS resolve IP (a UDP datagram to the
# discard port: the kernel ARPs / solicits, the datagram goes nowhere).
e2e_kick() {
	ip netns exec "$1" bash -c "echo e2e > /dev/udp/$2/9" 2>/dev/null || true
}

# e2e_resolve NS IP TIMEOUT_MS: forget IP, make the kernel resolve it, print
# the MAC it learnt ("" on timeout).  Re-kicks every 500 ms.
e2e_resolve() {
	local ns=$1 ip=$2 timeout=${3:-3000} t0 mac last=0
	ip -n "$ns" neigh flush to "$ip" dev eth0 2>/dev/null
	t0=$(e2e_now_ms)
	while :; do
		local now
		now=$(e2e_now_ms)
		if [ $((now - last)) -ge 500 ]; then
			ip -n "$ns" neigh flush to "$ip" dev eth0 nud failed 2>/dev/null
			e2e_kick "$ns" "$ip"
			last=$now
		fi
		mac=$(e2e_neigh "$ns" "$ip")
		[ -n "$mac" ] && { echo "$mac"; return 0; }
		[ $((now - t0)) -ge "$timeout" ] && return 1
		sleep 0.02
	done
}

# e2e_wait_neigh NS IP MAC TIMEOUT_MS: waits, without soliciting, until the
# kernel of NS holds MAC for IP (a gratuitous ARP / unsolicited NA did it).
e2e_wait_neigh() {
	local ns=$1 ip=$2 want=$3 timeout=$4 t0
	t0=$(e2e_now_ms)
	while [ $(($(e2e_now_ms) - t0)) -lt "$timeout" ]; do
		[ "$(e2e_neigh "$ns" "$ip")" = "$want" ] && return 0
		sleep 0.02
	done
	return 1
}

e2e_arp() { ip netns exec "$1" "$E2E_ARP" "${@:2}"; }

# ---- case bookkeeping --------------------------------------------------------

E2E_PASS=0 E2E_FAIL=0 E2E_CASES=0
E2E_WHY=

# check CONDITION-STATUS MESSAGE: use as `test ... ; check $? "message" || return 1`
fail() { E2E_WHY="$*"; echo "    FAIL: $*" >&2; return 1; }
note() { echo "    $*" >&2; }

# e2e_case NAME FUNCTION: runs one case, writes NAME.log/.trs (automake's
# format, as the integration tier) in $E2E_OUT.
e2e_case() {
	local name=$1 fn=$2 t0 rc dt
	E2E_CASES=$((E2E_CASES + 1))
	E2E_WHY=
	echo "=== RUN   $name"
	t0=$(e2e_now_ms)
	# In this shell, not a pipeline: cases start and stop speakers.
	"$fn" > >(tee "$E2E_OUT/$name.log") 2>&1
	rc=$?
	dt=$(($(e2e_now_ms) - t0))
	if [ "$rc" -eq 0 ]; then
		printf ':test-result: PASS\n' > "$E2E_OUT/$name.trs"
		echo "--- PASS  $name (${dt} ms)"
		E2E_PASS=$((E2E_PASS + 1))
	else
		printf ':test-result: FAIL\n' > "$E2E_OUT/$name.trs"
		echo "--- FAIL  $name (${dt} ms)"
		E2E_FAIL=$((E2E_FAIL + 1))
	fi
}

# ---- identities for the full path (cases-fullpath.sh) -------------------------

# e2e_kubeconfig FILE USER TOKEN: a kubeconfig for USER's bearer TOKEN that
# reaches the apiserver at its LAN address, as the speakers' does.
e2e_kubeconfig() {
	local file=$1 user=$2 token=$3
	cat > "$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://$E2E_API_IP4:$E2E_API_PORT
    tls-server-name: localhost
    certificate-authority-data: $(base64 -w0 < "$E2E_CA")
users:
- name: $user
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: e2e, user: $user}
current-context: e2e
KC
	chmod 600 "$file"
}

# e2e_sa_token NAMESPACE NAME: a one-hour token of that ServiceAccount
# (TokenRequest, as the kubelet gets a pod's projected token).
e2e_sa_token() {
	printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}' |
		kapi POST "/api/v1/namespaces/$1/serviceaccounts/$2/token" application/json | jq -er .status.token
}

# e2e_apply FILE: creates every document of a manifest file (the kinds the
# RBAC manifests hold), server-side validated like `kubectl create -f`.
# Documents are split at "---" lines; kind and metadata.namespace are read
# from their top-level and two-space-indented lines.
e2e_apply() {
	local file=$1 dir doc kind ns path
	dir=$(mktemp -d "$E2E_WORK/apply.XXXXXX")
	awk -v d="$dir" 'BEGIN { n = 0 } /^---/ { n++; next } { print > (d "/" sprintf("%03d", n) ".yaml") }' "$file"
	for doc in "$dir"/*.yaml; do
		kind=$(awk '/^kind:/ { print $2; exit }' "$doc")
		ns=$(awk '/^metadata:/ { m = 1; next } /^[^ ]/ { m = 0 } m && /^  namespace:/ { print $2; exit }' "$doc")
		case $kind in
		ServiceAccount) path=/api/v1/namespaces/$ns/serviceaccounts ;;
		Namespace) path=/api/v1/namespaces ;;
		ClusterRole | ClusterRoleBinding) path=/apis/rbac.authorization.k8s.io/v1/${kind,,}s ;;
		Role | RoleBinding) path=/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/${kind,,}s ;;
		"") continue ;;
		*) e2e_log "e2e_apply: $file: kind $kind is not handled"; return 1 ;;
		esac
		kapi_create "$path" < "$doc" || { e2e_log "e2e_apply: cannot create the $kind of $doc ($file)"; return 1; }
	done
	rm -rf "$dir"
}
