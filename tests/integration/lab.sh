# shellcheck shell=bash
# lab.sh: an isolated linear test path built from real kernel routers in network namespaces.
# Sourced by integration tests and benchmarks; never executed on its own. Nothing is linked
# to the host namespace and no packet is ever sent from it: every probe starts in LAB_SRC.
#
#   src --link0-- r1 --link1-- r2 ... rN --linkN-- dst
#
# Link k (between node k and k+1, node 0 = src, node N+1 = dst):
#   IPv4 198.51.100.(4k+1)/30 left, 198.51.100.(4k+2)/30 right
#   IPv6 2001:db8:0:k::1/64 left, 2001:db8:0:k::2/64 right (k written in decimal digits)
# The destination answers on 203.0.113.1 and 2001:db8:ffff::1 (on its loopback).
#
# API: lab_create N, lab_src CMD..., lab_ns NAME CMD..., lab_nft K 'rule', lab_destroy.
# Exports LAB_PREFIX LAB_SRC LAB_DST LAB_ROUTERS[] LAB_DST4 LAB_DST6 LAB_HOP4[] LAB_HOP6[]
# and honours LAB_CLEANUP[] (commands eval'ed by lab_destroy before the namespaces go,
# e.g. "kill 1234"), because lab_create owns the EXIT trap.

LAB_MAX_ROUTERS=30
LAB_PING_TRIES=3 # the first probe may race neighbour discovery on a slow machine
LAB_SKIP=77      # meson's exit code for a skipped test

LAB_DST4=203.0.113.1
LAB_DST6=2001:db8:ffff::1
LAB_PREFIX=""
LAB_SRC=""
LAB_DST=""
LAB_ROUTERS=()
LAB_HOP4=()
LAB_HOP6=()
LAB_NODES=()
LAB_CLEANUP=()
LAB_NFT_READY=()

lab_log() {
	printf 'lab: %s\n' "$*" >&2
}

lab_die() {
	lab_log "error: $*"
	exit 1
}

# Address of one side of link k: lab_addr4 K 1|2, lab_addr6 K 1|2.
lab_addr4() {
	printf '198.51.100.%d' $((4 * $1 + $2))
}

# Written the way ip, ping and mtr print it (RFC 5952), so tests can compare strings.
lab_addr6() {
	if (($1 == 0)); then
		printf '2001:db8::%d' "$2"
	else
		printf '2001:db8:0:%d::%d' "$1" "$2"
	fi
}

lab_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# lab_must NS CMD...: run in NS, abort the lab on failure (for building steps).
lab_must() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" || lab_die "in $ns: $*"
}

lab_src() {
	ip netns exec "$LAB_SRC" "$@"
}

# Sysctls every node gets. The ICMP limits matter: the defaults (1000/s, burst 50, and a
# per-destination token bucket) silently drop time-exceeded errors under load, which would
# look like loss in every test that probes fast.
lab_sysctls() {
	local ns=$1 key
	lab_ns "$ns" sysctl -qw \
		net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.icmp_ratelimit=0 \
		net.ipv6.icmp.ratelimit=0 \
		net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 ||
		lab_die "sysctl failed in $ns"
	# Per namespace only on newer kernels; before that they are host-wide and the lab must
	# not change the host, so it only says that heavy probing may see throttled errors.
	for key in icmp_msgs_per_sec icmp_msgs_burst; do
		if lab_ns "$ns" test -e "/proc/sys/net/ipv4/$key"; then
			lab_ns "$ns" sysctl -qw "net.ipv4.$key=1000000" ||
				lab_die "sysctl $key failed in $ns"
		elif [[ -z ${LAB_WARNED_GLOBAL:-} ]]; then
			lab_log "warning: net.ipv4.$key is host-wide on this kernel; left as is"
			LAB_WARNED_GLOBAL=1
		fi
	done
	lab_ns "$ns" ip link set lo up || lab_die "lo up failed in $ns"
}

lab_destroy() {
	local cmd ns pid
	trap - EXIT INT TERM
	for cmd in "${LAB_CLEANUP[@]}"; do
		eval "$cmd" || true
	done
	LAB_CLEANUP=()
	for ns in "${LAB_NODES[@]}"; do
		# Processes a test left inside its own namespaces would outlive the name.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	LAB_NODES=()
	LAB_ROUTERS=()
	LAB_NFT_READY=()
	LAB_SRC=""
	LAB_DST=""
}

lab_ping_ok() {
	local fam=$1 dst=$2 i
	for ((i = 0; i < LAB_PING_TRIES; i++)); do
		if lab_src ping "$fam" -n -c1 -W2 "$dst" >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}

lab_create() {
	local n=${1:-}
	local k ns nodes=() left right j cmd

	if [[ $(id -u) -ne 0 ]]; then
		echo "SKIP: the namespace lab needs root (CAP_NET_ADMIN); run as root" >&2
		exit "$LAB_SKIP"
	fi
	if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 1 || n > LAB_MAX_ROUTERS)); then
		lab_die "lab_create: router count must be 1..$LAB_MAX_ROUTERS, got '$n'"
	fi
	if ((${#LAB_NODES[@]})); then
		lab_die "lab_create: a lab already exists in this shell ($LAB_PREFIX)"
	fi
	for cmd in ip ping nft sysctl; do
		command -v "$cmd" >/dev/null || lab_die "missing command: $cmd"
	done

	LAB_PREFIX="hw-$$-$RANDOM"
	LAB_SRC="$LAB_PREFIX-src"
	LAB_DST="$LAB_PREFIX-dst"
	LAB_ROUTERS=()
	LAB_HOP4=()
	LAB_HOP6=()
	nodes=("$LAB_SRC")
	for ((k = 1; k <= n; k++)); do
		LAB_ROUTERS+=("$LAB_PREFIX-r$k")
		nodes+=("$LAB_PREFIX-r$k")
		LAB_HOP4+=("$(lab_addr4 $((k - 1)) 2)")
		LAB_HOP6+=("$(lab_addr6 $((k - 1)) 2)")
	done
	nodes+=("$LAB_DST")

	# Cleanup first, so a failure half way through still removes what exists.
	trap lab_destroy EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	for ns in "${nodes[@]}"; do
		ip netns add "$ns" || lab_die "cannot create namespace $ns"
		LAB_NODES+=("$ns")
		lab_sysctls "$ns"
	done

	# Link k joins node k ("right" side) and node k+1 ("left" side). Both ends are created
	# directly inside their namespaces, so nothing ever appears in the host namespace.
	for ((k = 0; k <= n; k++)); do
		left=${nodes[k]}
		right=${nodes[k + 1]}
		ip -n "$left" link add right type veth peer name left netns "$right" ||
			lab_die "veth for link $k failed"
		lab_must "$left" ip addr add "$(lab_addr4 "$k" 1)/30" dev right
		lab_must "$right" ip addr add "$(lab_addr4 "$k" 2)/30" dev left
		lab_must "$left" ip -6 addr add "$(lab_addr6 "$k" 1)/64" dev right nodad
		lab_must "$right" ip -6 addr add "$(lab_addr6 "$k" 2)/64" dev left nodad
		lab_must "$left" ip link set right up
		lab_must "$right" ip link set left up
	done

	lab_must "$LAB_DST" ip addr add "$LAB_DST4/32" dev lo
	lab_must "$LAB_DST" ip -6 addr add "$LAB_DST6/128" dev lo nodad

	# Everything unknown goes right (toward dst); the links further left are reached
	# through the left neighbour. The destination's own addresses fall under the defaults.
	for ((k = 0; k <= n + 1; k++)); do
		ns=${nodes[k]}
		if ((k <= n)); then
			lab_ns "$ns" ip route add default via "$(lab_addr4 "$k" 2)" ||
				lab_die "v4 default route in $ns"
			lab_ns "$ns" ip -6 route add default via "$(lab_addr6 "$k" 2)" ||
				lab_die "v6 default route in $ns"
		fi
		for ((j = 0; j < k - 1; j++)); do
			lab_ns "$ns" ip route add "198.51.100.$((4 * j))/30" \
				via "$(lab_addr4 $((k - 1)) 1)" || lab_die "v4 route back in $ns"
			lab_ns "$ns" ip -6 route add "2001:db8:0:$j::/64" \
				via "$(lab_addr6 $((k - 1)) 1)" || lab_die "v6 route back in $ns"
		done
	done

	lab_ping_ok -4 "$LAB_DST4" || lab_die "lab built but $LAB_DST4 unreachable from $LAB_SRC"
	lab_ping_ok -6 "$LAB_DST6" || lab_die "lab built but $LAB_DST6 unreachable from $LAB_SRC"
	export LAB_PREFIX LAB_SRC LAB_DST LAB_DST4 LAB_DST6
	lab_log "$LAB_PREFIX: $n routers, $LAB_SRC -> $LAB_DST ($LAB_DST4, $LAB_DST6)"
}

# lab_nft K 'rule': append an nftables rule to router K's (1-based) forward chain.
lab_nft() {
	local k=$1 rule=$2 ns
	if [[ ! $k =~ ^[0-9]+$ ]] || ((k < 1 || k > ${#LAB_ROUTERS[@]})); then
		lab_die "lab_nft: no router $k (have ${#LAB_ROUTERS[@]})"
	fi
	ns=${LAB_ROUTERS[k - 1]}
	if [[ -z ${LAB_NFT_READY[k]:-} ]]; then
		lab_ns "$ns" nft add table inet lab || lab_die "nft table on $ns"
		lab_ns "$ns" nft add chain inet lab forward \
			'{ type filter hook forward priority 0; policy accept; }' ||
			lab_die "nft chain on $ns"
		LAB_NFT_READY[k]=1
	fi
	# One string: nft parses it itself, so braces and semicolons in the rule need no quoting.
	lab_ns "$ns" nft "add rule inet lab forward $rule"
}
