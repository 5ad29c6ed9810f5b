# tests/e2e/cases-harness.sh: the harness checking itself (sourced by
# run.sh).  These pass without any speaker: they prove that the topology,
# the control plane in its namespace and the measuring tools are sound, so
# a speaker case that fails points at the speaker.

# The topology is what lib.sh says: eth0 with the fixed MAC, both addresses,
# a usable link-local address, and nothing outside our namespaces.
harness_topology() {
	local ns n mac
	for n in "${E2E_NODES[@]}" client; do
		if [ "$n" = client ]; then ns=$E2E_NS_CLIENT mac=$E2E_CLIENT_MAC; else ns=$(e2e_node_ns "$n") mac=$(e2e_node_mac "$n"); fi
		ip -n "$ns" link show eth0 | grep -q "link/ether $mac" || { fail "$ns: eth0 does not have MAC $mac"; return 1; }
		ip -n "$ns" -o link show | awk -F': ' '{print $2}' | grep -q '^veth' &&
			{ fail "$ns: an interface named veth* (the speaker would skip it)"; return 1; }
		[ -n "$(ip -n "$ns" -6 addr show dev eth0 scope link -tentative)" ] ||
			{ fail "$ns: eth0 has no usable IPv6 link-local address"; return 1; }
		[ -z "$(ip -n "$ns" -6 addr show dev eth0 tentative)" ] || { fail "$ns: tentative IPv6 address (DAD is not off)"; return 1; }
	done
	ip -n "$E2E_NS_LAN" -o link show master br0 | grep -c . | grep -qx 6 ||
		{ fail "the bridge does not have 6 ports"; return 1; }
	[ "$(e2e_root_snapshot)" = "$E2E_ROOT_BEFORE" ] || { fail "the root namespace's links or addresses changed"; return 1; }
	note "6 namespaces on br0 (in $E2E_NS_LAN); root namespace unchanged"
}

# The client's kernel is the peer: it resolves each node's own address over
# the bridge, for IPv4 (ARP) and IPv6 (NDP), and arping sees the node's MAC.
harness_l2() {
	local n mac want out
	for n in "${E2E_NODES[@]}"; do
		want=$(e2e_node_mac "$n")
		out=$(ip netns exec "$E2E_NS_CLIENT" arping -c 1 -w 2 -I eth0 "$(e2e_node_ip4 "$n")" 2>&1)
		grep -qi "$want" <<< "$out" || { fail "arping $(e2e_node_ip4 "$n") from the client did not see $want: $out"; return 1; }
		mac=$(e2e_resolve "$E2E_NS_CLIENT" "$(e2e_node_ip4 "$n")" 3000)
		[ "$mac" = "$want" ] || { fail "client's ip neigh for $(e2e_node_ip4 "$n"): '$mac', want $want"; return 1; }
		mac=$(e2e_resolve "$E2E_NS_CLIENT" "$(e2e_node_ip6 "$n")" 3000)
		[ "$mac" = "$want" ] || { fail "client's ip -6 neigh for $(e2e_node_ip6 "$n"): '$mac', want $want"; return 1; }
	done
	note "client resolved every node over ARP and NDP"
	# The requester sees exactly one answerer for a node's own address.
	out=$(e2e_arp "$E2E_NS_CLIENT" request eth0 "$(e2e_node_ip4 node-b)" --rate 50 --count 25)
	grep -q '^summary sent=25 answered=25 ' <<< "$out" || { fail "e2e-arp request: $(tail -n 1 <<< "$out")"; return 1; }
	[ "$(awk '$1 == "reply" {print $3}' <<< "$out" | sort -u)" = "$(e2e_node_mac node-b)" ] ||
		{ fail "replies from other MACs than node-b's"; return 1; }
	note "e2e-arp: $(tail -n 1 <<< "$out")"
}

# The nodes reach the apiserver at the api namespace's LAN address with the
# speaker's kubeconfig settings; the speaker's token has exactly the rights
# of speaker.md §2.
harness_api() {
	local n code
	spk_curl() {
		ip netns exec "$(e2e_node_ns "$1")" curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert "$E2E_CA" \
			--resolve "localhost:$E2E_API_PORT:$E2E_API_IP4" -H "Authorization: Bearer $E2E_SPEAKER_TOKEN" \
			"https://localhost:$E2E_API_PORT$2"
	}
	for n in "${E2E_NODES[@]}"; do
		code=$(spk_curl "$n" /api/v1/services)
		[ "$code" = 200 ] || { fail "$n: list services as berth-speaker: HTTP $code"; return 1; }
	done
	code=$(spk_curl node-a /apis/coordination.k8s.io/v1/namespaces/berth-system/leases)
	[ "$code" = 200 ] || { fail "list leases as berth-speaker: HTTP $code"; return 1; }
	code=$(spk_curl node-a /api/v1/secrets)
	[ "$code" = 403 ] || { fail "list secrets as berth-speaker: HTTP $code, want 403"; return 1; }
	note "every node reaches the apiserver at $E2E_API_IP4:$E2E_API_PORT as berth-speaker (403 on secrets)"
}

# The objects are in place, and e2e_owner is speaker.md §5's election (the
# spec's own table), so every expected owner in the speaker cases is right.
harness_objects() {
	local got
	got=$(kapi_get /api/v1/nodes | jq -r '.items[].metadata.name' | sort | tr '\n' ' ')
	[ "$got" = "node-a node-b node-c " ] || { fail "nodes: $got"; return 1; }
	got=$(kapi_get /apis/metallb.io/v1beta1/namespaces/berth-system/ipaddresspools | jq -r '.items[].metadata.name' | sort | tr '\n' ' ')
	[ "$got" = "e2e-pool e2e-selected " ] || { fail "pools: $got"; return 1; }
	e2e_service harness-svc "$E2E_NET4.90" || { fail "cannot create a LoadBalancer Service with a status IP"; return 1; }
	e2e_endpoints harness-svc IPv4 node-a node-b:notready || { fail "cannot create its EndpointSlice"; return 1; }
	got=$(kapi_get /api/v1/namespaces/e2e/services/harness-svc | jq -r '.status.loadBalancer.ingress[0].ip')
	[ "$got" = "$E2E_NET4.90" ] || { fail "status IP: $got"; return 1; }
	e2e_endpoints harness-svc IPv4 node-c || { fail "cannot move the endpoints"; return 1; }
	got=$(kapi_get /apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices/harness-svc-e2e | jq -r '[.endpoints[] | .nodeName + "/" + (.conditions.ready | tostring)] | join(" ")')
	[ "$got" = "node-c/true" ] || { fail "moved endpoints: $got"; return 1; }
	kapi_delete /api/v1/namespaces/e2e/services/harness-svc || return 1
	kapi_delete /apis/discovery.k8s.io/v1/namespaces/e2e/endpointslices/harness-svc-e2e || return 1
	[ "$(e2e_owner 192.0.2.10 alpha bravo charlie)" = charlie ] &&
		[ "$(e2e_owner 198.51.100.7 alpha bravo charlie)" = alpha ] &&
		[ "$(e2e_owner 2001:db8::a alpha bravo charlie)" = charlie ] &&
		[ "$(e2e_owner fd00:10::1 alpha bravo charlie)" = bravo ] &&
		[ "$(e2e_owner 192.0.2.10 alpha bravo)" = bravo ] || { fail "e2e_owner disagrees with speaker.md §5's table"; return 1; }
	note "nodes, pools, Service status and EndpointSlices writable; e2e_owner matches §5's table"
}

# The measuring chain of the failover benchmark, with a stand-in speaker:
# a process in node-a "owns" the IP, e2e-arp kills it, a gratuitous ARP
# from node-b 300 ms later must be measured as ~300 ms, and the client's
# kernel must move its existing neighbour entry to node-b's MAC on that
# GARP alone (what the speaker cases rely on).
harness_tools() {
	local ip=$E2E_NET4.91 pid garp out ms mac
	ip -n "$E2E_NS_CLIENT" neigh replace "$ip" lladdr "$(e2e_node_mac node-a)" dev eth0 nud stale
	ip netns exec "$(e2e_node_ns node-a)" sleep 30 &
	pid=$!
	e2e_arp "$(e2e_node_ns node-b)" garp eth0 "$ip" --delay-ms 300 &
	garp=$!
	out=$(e2e_arp "$E2E_NS_CLIENT" failover eth0 "$ip" --pid "$pid" --signal KILL --old-mac "$(e2e_node_mac node-a)" --timeout-ms 3000)
	# Never a bare wait: it would wait for the speakers and the case's tee.
	wait "$pid" "$garp" 2>/dev/null
	read -r _ ms mac <<< "$out"
	[ "$mac" = "$(e2e_node_mac node-b)" ] || { fail "failover tool: '$out'"; return 1; }
	awk -v m="$ms" 'BEGIN { exit !(m >= 250 && m < 600) }' || { fail "failover tool measured $ms ms for a 300 ms delay"; return 1; }
	e2e_wait_neigh "$E2E_NS_CLIENT" "$ip" "$(e2e_node_mac node-b)" 1000 ||
		{ fail "the client's kernel did not take node-b's MAC from the GARP: $(ip -n "$E2E_NS_CLIENT" neigh show to "$ip")"; return 1; }
	ip -n "$E2E_NS_CLIENT" neigh flush to "$ip" dev eth0
	note "failover tool measured $ms ms for a 300 ms stand-in; the client's neighbour entry followed the GARP"
}
