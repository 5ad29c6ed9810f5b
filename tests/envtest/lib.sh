# Shared by tests/envtest/start, stop and apiserver (sourced, not run).
#
# One control plane lives in one directory DIR:
#   DIR/config       the settings the apiserver is (re)started with (shell)
#   DIR/env          what tests read: KEY=value lines, no quoting needed
#   DIR/kubeconfig   admin (system:masters) via a bearer token, CA inline
#   DIR/pki/         CA, serving cert, admin client cert, service-account key
#   DIR/tokens.csv   static token file (--token-auth-file)
#   DIR/etcd/ DIR/etcd.log DIR/apiserver.log DIR/*.pid

ENVTEST_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENVTEST_KUBE_VERSION=${BERTH_KUBE_VERSION:-v1.33.13}
ENVTEST_BIN=${BERTH_ENVTEST_BIN:-${BERTH_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/envtest/$ENVTEST_KUBE_VERSION}}

envtest_die() {
	echo "envtest: $*" >&2
	exit 1
}

envtest_now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# A TCP port on 127.0.0.1 nobody listens on now, not among the ports given.
# The race with other processes is handled by the callers retrying.
envtest_free_port() {
	local p taken i
	for i in $(seq 1 200); do
		p=$((20000 + (SRANDOM % 40000)))
		for taken in "$@"; do
			[ "$p" = "$taken" ] && continue 2
		done
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	envtest_die "no free port found"
}

envtest_alive() {
	local pid=$1 state
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# A zombie whose parent has not reaped it yet has stopped all the same.
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# SIGTERM, then SIGKILL after $BERTH_ENVTEST_STOP_TIMEOUT seconds (default 10).
envtest_kill() {
	local pid=$1 what=$2 timeout=${BERTH_ENVTEST_STOP_TIMEOUT:-10} i
	envtest_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < timeout * 20; i++)); do
		envtest_alive "$pid" || return 0
		sleep 0.05
	done
	echo "envtest: $what (pid $pid) ignored SIGTERM for ${timeout}s; sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		envtest_alive "$pid" || return 0
		sleep 0.05
	done
	echo "envtest: $what (pid $pid) survived SIGKILL" >&2
	return 1
}

envtest_load_config() {
	local dir=$1
	[ -f "$dir/config" ] || envtest_die "$dir is not an envtest directory (no config)"
	# shellcheck disable=SC1091
	. "$dir/config"
}

envtest_save_config() {
	local dir=$1
	{
		printf 'APISERVER_PORT=%q\n' "$APISERVER_PORT"
		printf 'ETCD_PORT=%q\n' "$ETCD_PORT"
		printf 'ETCD_PEER_PORT=%q\n' "$ETCD_PEER_PORT"
		printf 'NODE_PORT_RANGE=%q\n' "$NODE_PORT_RANGE"
		printf 'SERVICE_CIDR=%q\n' "$SERVICE_CIDR"
		printf 'STORAGE_MEDIA_TYPE=%q\n' "$STORAGE_MEDIA_TYPE"
		printf 'EXTRA_ARGS=%q\n' "$EXTRA_ARGS"
		printf 'ETCD_PID=%q\n' "${ETCD_PID:-}"
		printf 'APISERVER_PID=%q\n' "${APISERVER_PID:-}"
	} > "$dir/config.tmp"
	mv "$dir/config.tmp" "$dir/config"
}

envtest_write_env() {
	local dir=$1
	{
		echo "BERTH_ENVTEST_DIR=$dir"
		echo "BERTH_ENVTEST_CTL=$ENVTEST_SCRIPTS/apiserver"
		echo "BERTH_ENVTEST_STOP=$ENVTEST_SCRIPTS/stop"
		echo "KUBECONFIG=$dir/kubeconfig"
		echo "BERTH_APISERVER_URL=https://127.0.0.1:$APISERVER_PORT"
		echo "BERTH_APISERVER_PORT=$APISERVER_PORT"
		echo "BERTH_APISERVER_PID=${APISERVER_PID:-}"
		echo "BERTH_ETCD_PID=${ETCD_PID:-}"
		echo "BERTH_ETCD_PORT=$ETCD_PORT"
		echo "BERTH_ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT"
		echo "BERTH_CA_FILE=$dir/pki/ca.crt"
		echo "BERTH_TOKEN_FILE=$dir/tokens.csv"
		echo "BERTH_NODE_PORT_RANGE=$NODE_PORT_RANGE"
		echo "BERTH_SERVICE_CIDR=$SERVICE_CIDR"
		echo "BERTH_STORAGE_MEDIA_TYPE=$STORAGE_MEDIA_TYPE"
		# Tokens (tokens.csv): admin is system:masters; the others have no
		# RBAC rights until a test binds them (so a 403 proves who asked).
		local name token
		while IFS=, read -r token name _; do
			echo "BERTH_TOKEN_$(echo "$name" | tr 'a-z:-' 'A-Z__')=$token"
		done < "$dir/tokens.csv"
	} > "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

envtest_start_etcd() {
	local dir=$1
	[ -x "$ENVTEST_BIN/etcd" ] || envtest_die "no etcd in $ENVTEST_BIN: run tests/envtest/build.sh"
	setsid "$ENVTEST_BIN/etcd" \
		--name=envtest \
		--data-dir="$dir/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="envtest=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync \
		--log-level=warn \
		</dev/null >>"$dir/etcd.log" 2>&1 &
	ETCD_PID=$!
}

# Waits for etcd's /health; returns 1 when etcd died (port taken) or timed out.
envtest_wait_etcd() {
	local i
	for ((i = 0; i < 400; i++)); do
		envtest_alive "$ETCD_PID" || return 1
		curl -sf -m 1 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && return 0
		sleep 0.025
	done
	return 1
}

envtest_apiserver_args() {
	local dir=$1
	APISERVER_ARGS=(
		--bind-address=127.0.0.1
		--advertise-address=127.0.0.1
		--secure-port="$APISERVER_PORT"
		--cert-dir="$dir/pki"
		--tls-cert-file="$dir/pki/serving.crt"
		--tls-private-key-file="$dir/pki/serving.key"
		--client-ca-file="$dir/pki/ca.crt"
		--etcd-servers="http://127.0.0.1:$ETCD_PORT"
		--token-auth-file="$dir/tokens.csv"
		--authorization-mode=Node,RBAC
		--service-account-issuer=https://kubernetes.default.svc.cluster.local
		--service-account-key-file="$dir/pki/sa.pub"
		--service-account-signing-key-file="$dir/pki/sa.key"
		--service-cluster-ip-range="$SERVICE_CIDR"
		--service-node-port-range="$NODE_PORT_RANGE"
		--storage-media-type="$STORAGE_MEDIA_TYPE"
		--allow-privileged=true
		# Nothing creates the "default" ServiceAccount here (no
		# kube-controller-manager), so the admission plugin that requires
		# it would reject every Pod.
		--disable-admission-plugins=ServiceAccount
		# The kubernetes Service's endpoint would be 127.0.0.1, which
		# Endpoints validation rejects; nothing here needs it.
		--endpoint-reconciler-type=none
		--profiling=false
		# Without it, an open watch keeps SIGTERM from ending the
		# apiserver for a minute; with it, watches end cleanly at once, as
		# in a rolling restart.
		--shutdown-watch-termination-grace-period=2s
		--v="${BERTH_ENVTEST_VERBOSITY:-0}"
	)
	if [ -n "$EXTRA_ARGS" ]; then
		local -a extra
		read -r -a extra <<< "$EXTRA_ARGS"
		APISERVER_ARGS+=("${extra[@]}")
	fi
}

envtest_start_apiserver() {
	local dir=$1
	[ -x "$ENVTEST_BIN/kube-apiserver" ] || envtest_die "no kube-apiserver in $ENVTEST_BIN: run tests/envtest/build.sh"
	envtest_apiserver_args "$dir"
	echo "=== $(date -u +%FT%TZ) kube-apiserver ${APISERVER_ARGS[*]}" >> "$dir/apiserver.log"
	setsid "$ENVTEST_BIN/kube-apiserver" "${APISERVER_ARGS[@]}" </dev/null >>"$dir/apiserver.log" 2>&1 &
	APISERVER_PID=$!
}

# Waits for /readyz (timeout $BERTH_ENVTEST_START_TIMEOUT s, default 60);
# returns 1 when the apiserver died or timed out.
envtest_wait_apiserver() {
	local dir=$1 token deadline
	token=$(awk -F, '$2 == "admin" {print $1}' "$dir/tokens.csv")
	deadline=$(($(envtest_now_ms) + ${BERTH_ENVTEST_START_TIMEOUT:-60} * 1000))
	while [ "$(envtest_now_ms)" -lt "$deadline" ]; do
		envtest_alive "$APISERVER_PID" || return 1
		if [ "$(curl -s -m 2 --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" \
			"https://127.0.0.1:$APISERVER_PORT/readyz" 2>/dev/null)" = ok ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

envtest_port_in_use() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}
