#!/usr/bin/env bash
# test_lab.sh: checks the namespace lab itself (tests/integration/lab.sh) before anything
# else trusts it: the node count, that hop K answers TTL K from its documented address for
# IPv4 and IPv6, that lab_nft rules really filter, and that no namespace survives the run,
# neither after success nor after a failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=4
FAILS=0

pass() {
	printf 'ok   %s\n' "$*"
}

fail() {
	printf 'FAIL %s\n' "$*"
	FAILS=$((FAILS + 1))
}

check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

ns_count() {
	ip netns list | awk -v p="$1-" 'index($1, p) == 1' | wc -l
}

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi

# --- cleanup, run first while this shell has no lab of its own ------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(
	lab_create 2 >/dev/null 2>&1
	echo "$LAB_PREFIX" >"$tmp/ok"
	exit 0
)
prefix=$(cat "$tmp/ok" 2>/dev/null)
check "success path created a lab" test -n "$prefix"
check "no namespace left after a successful run ($prefix)" test "$(ns_count "$prefix")" -eq 0

(
	lab_create 2 >/dev/null 2>&1
	echo "$LAB_PREFIX" >"$tmp/fail"
	# A process left running inside the lab must not keep anything alive either.
	lab_src sleep 300 &
	false || exit 3
)
rc=$?
prefix=$(cat "$tmp/fail" 2>/dev/null)
check "failing run keeps its exit status (got $rc)" test "$rc" -eq 3
check "no namespace left after a failing run ($prefix)" test "$(ns_count "$prefix")" -eq 0

(
	lab_create 2 >/dev/null 2>&1
	echo "$LAB_PREFIX" >"$tmp/term"
	kill -TERM $BASHPID
	sleep 5
)
prefix=$(cat "$tmp/term" 2>/dev/null)
check "no namespace left after SIGTERM ($prefix)" test "$(ns_count "$prefix")" -eq 0

for bad in 0 31 x; do
	(lab_create "$bad" >/dev/null 2>&1)
	rc=$?
	check "lab_create $bad is refused" test "$rc" -ne 0
done

# --- the lab itself -------------------------------------------------------------------
rm -rf "$tmp"
trap - EXIT
lab_create "$ROUTERS"

check "namespace count is $((ROUTERS + 2))" test "$(ns_count "$LAB_PREFIX")" -eq $((ROUTERS + 2))
check "LAB_ROUTERS has $ROUTERS entries" test "${#LAB_ROUTERS[@]}" -eq "$ROUTERS"
check "LAB_HOP4 has $ROUTERS entries" test "${#LAB_HOP4[@]}" -eq "$ROUTERS"
check "LAB_HOP6 has $ROUTERS entries" test "${#LAB_HOP6[@]}" -eq "$ROUTERS"
check "host namespace has no lab link" \
	bash -c '! ip -o link show | grep -qE "(left|right)@"'

sysctls_ok() {
	local ns want
	for ns in "$LAB_SRC" "${LAB_ROUTERS[@]}" "$LAB_DST"; do
		for want in net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
			net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.icmp_msgs_per_sec=1000000 \
			net.ipv4.icmp_msgs_burst=1000000; do
			local key=${want%%=*}
			if [[ $key == *msgs* ]] && ! lab_ns "$ns" test -e "/proc/sys/${key//.//}"; then
				continue # host-wide on this kernel, see lab.sh
			fi
			if [[ $(lab_ns "$ns" sysctl -n "$key") != "${want#*=}" ]]; then
				echo "     $ns: $key is not ${want#*=}"
				return 1
			fi
		done
	done
}
check "forwarding and ICMP limits set in every namespace" sysctls_ok

# ping_ttl FAMILY TTL DEST EXPECTED-REGEX
ping_ttl() {
	local fam=$1 ttl=$2 dst=$3 want=$4 out
	out=$(lab_src ping "$fam" -n -c1 -W2 -t "$ttl" "$dst" 2>&1)
	if grep -qE "$want" <<<"$out"; then
		return 0
	fi
	printf '     expected /%s/, got:\n%s\n' "$want" "$out" | sed 's/^/     /'
	return 1
}

re_escape() {
	printf '%s' "${1//./\\.}"
}

for ((k = 1; k <= ROUTERS + 1; k++)); do
	if ((k <= ROUTERS)); then
		h4=$(re_escape "${LAB_HOP4[k - 1]}")
		check "v4 ttl $k: time exceeded from ${LAB_HOP4[k - 1]}" \
			ping_ttl -4 "$k" "$LAB_DST4" "^From $h4 .*Time to live exceeded"
		check "v6 ttl $k: time exceeded from ${LAB_HOP6[k - 1]}" \
			ping_ttl -6 "$k" "$LAB_DST6" "^From ${LAB_HOP6[k - 1]} .*Time exceeded"
	else
		check "v4 ttl $k: reply from $LAB_DST4" \
			ping_ttl -4 "$k" "$LAB_DST4" "bytes from $(re_escape "$LAB_DST4"): icmp_seq=1"
		check "v6 ttl $k: reply from $LAB_DST6" \
			ping_ttl -6 "$k" "$LAB_DST6" "bytes from $LAB_DST6: icmp_seq=1"
	fi
done

dst_reaches_hops() {
	local a
	for a in "${LAB_HOP4[@]}" "${LAB_HOP6[@]}"; do
		lab_ns "$LAB_DST" ping -n -c1 -W2 "$a" >/dev/null || return 1
	done
}
check "dst reaches every hop address (reverse routes)" dst_reaches_hops

lab_nft 2 "ip daddr $LAB_DST4 drop"
lab_nft 2 "ip6 daddr $LAB_DST6 drop"
check "nft drop on r2 blocks v4" bash -c "! ip netns exec $LAB_SRC ping -n -c1 -W1 $LAB_DST4 >/dev/null"
check "nft drop on r2 blocks v6" bash -c "! ip netns exec $LAB_SRC ping -6 -n -c1 -W1 $LAB_DST6 >/dev/null"
check "r1 still answers with the rule on r2" \
	ping_ttl -4 1 "$LAB_DST4" "^From $(re_escape "${LAB_HOP4[0]}") .*Time to live exceeded"
check "nft ruleset is on r2 only" bash -c "
	ip netns exec ${LAB_ROUTERS[1]} nft list table inet lab >/dev/null &&
	! ip netns exec ${LAB_ROUTERS[0]} nft list table inet lab >/dev/null 2>&1"

prefix=$LAB_PREFIX
lab_destroy
check "lab_destroy removes every namespace" test "$(ns_count "$prefix")" -eq 0

if ((FAILS)); then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all lab checks passed"
