# shellcheck shell=bash
# netsim_lab.sh: one network namespace whose routes to the simulated path end in a TUN
# device that tests/netsim/netsim answers. Sourced by integration tests; never executed on
# its own. Probes start inside the namespace (netsim_run), so nothing leaves it: the TUN is
# the whole path. Conventions follow tests/integration/lab.sh (unique names, EXIT trap,
# exit 77 when not root).
#
#   [hopwatch, mtr] --> nsim0 (TUN) --> netsim (scenario: hops 198.51.100.0/24,
#                                        2001:db8:1::/48; dest 203.0.113.0/24,
#                                        2001:db8:ffff::/48)
#
# API: netsim_create SCENARIO, netsim_restart SCENARIO, netsim_run CMD...,
#      netsim_flush, netsim_destroy.
# NETSIM_OPTS=(--busy-poll) passes options to netsim (see tests/netsim/README.md).
# Exports NETSIM_NS NETSIM_LOG NETSIM_DIR NETSIM_SRC4 NETSIM_SRC6 NETSIM_BIN, and honours
# NETSIM_CLEANUP[] (commands eval'ed by netsim_destroy), because netsim_create owns the
# EXIT trap.

NETSIM_SKIP=77
NETSIM_TUN=nsim0
NETSIM_TXQUEUE=10000 # probes queued toward netsim before the kernel drops them
NETSIM_SRC4=192.0.2.1
NETSIM_SRC6=2001:db8:aaaa::1
NETSIM_ROUTES4=(198.51.100.0/24 203.0.113.0/24)
NETSIM_ROUTES6=(2001:db8:1::/48 2001:db8:ffff::/48)
NETSIM_READY_TRIES=100 # x 0.05 s
NETSIM_NS=""
NETSIM_DIR=""
NETSIM_LOG=""
NETSIM_PID=""
NETSIM_CLEANUP=()
NETSIM_OPTS=("${NETSIM_OPTS[@]}")

netsim_log_msg() {
	printf 'netsim_lab: %s\n' "$*" >&2
}

netsim_die() {
	netsim_log_msg "error: $*"
	exit 1
}

netsim_run() {
	ip netns exec "$NETSIM_NS" "$@"
}

netsim_stop() {
	if [[ -n $NETSIM_PID ]]; then
		kill -TERM "$NETSIM_PID" 2>/dev/null || true
		wait "$NETSIM_PID" 2>/dev/null || true
		NETSIM_PID=""
	fi
}

netsim_destroy() {
	local cmd pid
	trap - EXIT INT TERM
	for cmd in "${NETSIM_CLEANUP[@]}"; do
		eval "$cmd" || true
	done
	NETSIM_CLEANUP=()
	netsim_stop
	if [[ -n $NETSIM_NS ]]; then
		for pid in $(ip netns pids "$NETSIM_NS" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$NETSIM_NS" 2>/dev/null || true
	fi
	if [[ -n $NETSIM_DIR && -z ${NETSIM_KEEP:-} ]]; then
		rm -rf "$NETSIM_DIR"
	fi
	NETSIM_NS=""
}

# netsim_start SCENARIO: start the simulator on the existing TUN, with a fresh log.
netsim_start() {
	local scn=$1 i
	NETSIM_RUNS=$((${NETSIM_RUNS:-0} + 1))
	NETSIM_LOG="$NETSIM_DIR/probes-$NETSIM_RUNS.log"
	rm -f "$NETSIM_DIR/ready"
	ip netns exec "$NETSIM_NS" "$NETSIM_BIN" --tun "$NETSIM_TUN" --scenario "$scn" \
		--log "$NETSIM_LOG" --ready "$NETSIM_DIR/ready" "${NETSIM_OPTS[@]}" \
		2>>"$NETSIM_DIR/netsim.err" &
	NETSIM_PID=$!
	for ((i = 0; i < NETSIM_READY_TRIES; i++)); do
		[[ -s $NETSIM_DIR/ready ]] && break
		kill -0 "$NETSIM_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [[ ! -s $NETSIM_DIR/ready ]]; then
		cat "$NETSIM_DIR/netsim.err" >&2
		netsim_die "netsim did not start on $scn"
	fi
	export NETSIM_LOG
}

netsim_restart() {
	netsim_stop
	netsim_start "$1"
}

# netsim_flush: make the probe log complete up to now (netsim flushes after every batch;
# this waits for answers still pending their deadline by stopping the simulator).
netsim_flush() {
	netsim_stop
}

netsim_create() {
	local scn=${1:-} build=${HOPWATCH_BUILD:-build} r
	if [[ $(id -u) -ne 0 ]]; then
		echo "SKIP: netsim needs root (TUN device, namespaces); run as root" >&2
		exit "$NETSIM_SKIP"
	fi
	[[ -r $scn ]] || netsim_die "netsim_create: no scenario '$scn'"
	NETSIM_BIN=${NETSIM_BIN:-$build/tests/netsim/netsim}
	[[ -x $NETSIM_BIN ]] || netsim_die "no netsim binary at $NETSIM_BIN (build it first)"
	[[ -c /dev/net/tun ]] || {
		echo "SKIP: no /dev/net/tun" >&2
		exit "$NETSIM_SKIP"
	}
	[[ -z $NETSIM_NS ]] || netsim_die "netsim_create: a lab already exists ($NETSIM_NS)"

	NETSIM_NS="hwsim-$$-$RANDOM"
	NETSIM_DIR=$(mktemp -d /tmp/netsim.XXXXXX)
	trap netsim_destroy EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	ip netns add "$NETSIM_NS" || netsim_die "cannot create namespace $NETSIM_NS"
	# Before the TUN exists, so that it inherits: no DAD, no router solicitations, and
	# ICMP limits off (answers and local errors would otherwise be throttled).
	netsim_run sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 ||
		netsim_die "sysctl failed"
	netsim_run ip link set lo up || netsim_die "lo up"
	netsim_run ip tuntap add dev "$NETSIM_TUN" mode tun || netsim_die "tuntap add"
	netsim_run ip link set "$NETSIM_TUN" txqueuelen "$NETSIM_TXQUEUE" up || netsim_die "tun up"
	netsim_run ip addr add "$NETSIM_SRC4/32" dev "$NETSIM_TUN" || netsim_die "v4 addr"
	netsim_run ip -6 addr add "$NETSIM_SRC6/128" dev "$NETSIM_TUN" nodad ||
		netsim_die "v6 addr"
	for r in "${NETSIM_ROUTES4[@]}"; do
		netsim_run ip route add "$r" dev "$NETSIM_TUN" src "$NETSIM_SRC4" ||
			netsim_die "route $r"
	done
	for r in "${NETSIM_ROUTES6[@]}"; do
		netsim_run ip -6 route add "$r" dev "$NETSIM_TUN" src "$NETSIM_SRC6" ||
			netsim_die "route $r"
	done
	export NETSIM_NS NETSIM_DIR NETSIM_SRC4 NETSIM_SRC6 NETSIM_BIN
	netsim_start "$scn"
	netsim_log_msg "$NETSIM_NS: netsim on $NETSIM_TUN with $(basename "$scn")"
}
