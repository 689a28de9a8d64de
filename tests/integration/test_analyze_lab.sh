#!/usr/bin/env bash
# test_analyze_lab.sh: --analyze against faults built from real kernel routers, on a path
# addressed like a real one (carrier hops in 198.51.100.0/24 and 2001:db8:0:k::/64, the
# destination alone in 203.0.113.0/24 and 2001:db8:ffff::/48). Four routers, so hops 1-4
# are carriers and hop 5 is the destination. Each case runs for IPv4 and IPv6, as an ICMP
# trace and as a TCP trace (-T), the four runs at once (one engine each):
#  1. dest_drops: the destination's firewall drops ICMP echo requests (nothing else), the
#     path is healthy. No carrier may be blamed; an ICMP trace must end in a confirmed
#     dest_drops_icmp and the conclusion "dest_drops_icmp", with the destination's answer
#     to TCP in the confirmation. A TCP trace reaches the destination (its closed port
#     sends RST): no carrier blamed and no "problem". Then the text report (its
#     "Confirmation: N probes sent" line, no carrier in the conclusion) and --no-confirm
#     (no probe sent, nothing "confirmed").
#  2. interruption: router 3 forwards nothing (it still answers for its own TTL, which
#     it generates itself): a path interruption at hop 3, confirmed by TCP and UDP probes
#     that get no answer from past it.
#  3. real_loss: 30% of what router 3 forwards toward router 4 (the last carrier) is
#     dropped, so hop 4 and the destination show it: real loss at hop 4, "problem" (not
#     the destination's own loss: it starts at a carrier hop and every later hop carries it).
#  4. icmp_policy: router 4 withholds 60% of its time-exceeded errors and the destination
#     60% of its echo replies (ICMP policy, nothing lost in forwarding): the ICMP table
#     of case 3, but TCP and UDP get every answer, so no "problem" and no carrier blamed.
# Checks on the JSON are in test_analyze_check.py, which prints the report on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=4
DEAD_ROUTER=3  # forwards nothing
LOSSY_INTO=4   # the link into this router (the last carrier) drops LOSS_PCT%
LOSS_PCT=30
COUNT=10       # a silence or a clean path needs few rounds
INTERVAL=0.1
POLICY_PCT=60 # case 4: the share of ICMP answers withheld (see below)
LOSS_COUNT=50  # 0.7^50: hop 4 cannot come out clean by luck, and the rates are close
GRACE=1
RUN_TIMEOUT_S=120
PROBE_TIMEOUT_S=3 # the lab's own reachability checks
# shellcheck source=tests/integration/analyze_lib.sh
source "$HERE/analyze_lib.sh"

# dst_nft 'rule': a rule on the destination's input hook (its own firewall).
DST_NFT_READY=""
dst_nft() {
	if [[ -z $DST_NFT_READY ]]; then
		lab_ns "$LAB_DST" nft add table inet dstfw || lab_die "nft table on dst"
		lab_ns "$LAB_DST" nft add chain inet dstfw input \
			'{ type filter hook input priority 0; policy accept; }' ||
			lab_die "nft chain on dst"
		DST_NFT_READY=1
	fi
	lab_ns "$LAB_DST" nft "add rule inet dstfw input $1"
}

# lab_ok WHAT CMD...: a lab property the case is built on; without it the case means nothing.
lab_ok() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "lab: $what"
	else
		fail "lab: not true: $what"
	fi
}

# refused HOST PORT: a TCP connect from the source is refused (the kernel's RST).
tcp_refused() {
	lab_src timeout "$PROBE_TIMEOUT_S" python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$1" "$2"
}

# udp_refused HOST: a UDP datagram to a closed port comes back as port unreachable.
udp_refused() {
	lab_src timeout "$PROBE_TIMEOUT_S" python3 -c 'import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 33434))
s.send(b"x")
try:
    s.recv(16)
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$1"
}

not() { ! "$@"; }

# run_case CASE COUNT CHECK_MODE CHECK_ARGS...: the four runs at once, then each checked.
run_case() {
	local case=$1 count=$2 mode=$3 fam proto tag dst t0 pids=() tags=() i extra out
	shift 3
	t0=$SECONDS
	for fam in 4 6; do
		for proto in icmp tcp; do
			tag=$case.$proto$fam
			dst=$LAB_DST4
			((fam == 6)) && dst=$LAB_DST6
			extra=()
			[[ $proto == tcp ]] && extra=(-T)
			lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= \
				timeout "$RUN_TIMEOUT_S" "$HOPWATCH" -n -j --analyze -"$fam" \
				"${extra[@]}" -c "$count" -i "$INTERVAL" -G "$GRACE" "$dst" \
				>"$work/$tag.json" 2>"$work/$tag.err" &
			pids+=($!)
			tags+=("$tag")
		done
	done
	for i in "${!pids[@]}"; do
		tag=${tags[i]}
		if ! wait "${pids[i]}"; then
			fail "$tag: hopwatch failed: $(head -3 "$work/$tag.err")"
			continue
		fi
		proto=${tag#*.}
		proto=${proto%[46]}
		if out=$(python3 "$CHECK" "$mode" "$work/$tag.json" --trace "$proto" "$@" 2>&1); then
			echo "ok: $tag: $out"
		else
			fail "$tag:"
			echo "$out" >&2
		fi
	done
	echo "time: $case $((SECONDS - t0)) s"
}

# 1. The destination drops ICMP echo requests, nothing else.
dst_nft 'icmp type echo-request drop'
dst_nft 'icmpv6 type echo-request drop'
lab_ok "ping to $LAB_DST4 gets no answer" not lab_src ping -4 -n -c1 -W1 "$LAB_DST4"
lab_ok "ping to $LAB_DST6 gets no answer" not lab_src ping -6 -n -c1 -W1 "$LAB_DST6"
for port in 443 80; do
	lab_ok "$LAB_DST4:$port answers TCP with RST" tcp_refused "$LAB_DST4" "$port"
	lab_ok "[$LAB_DST6]:$port answers TCP with RST" tcp_refused "$LAB_DST6" "$port"
done
lab_ok "$LAB_DST4 answers UDP with port unreachable" udp_refused "$LAB_DST4"
lab_ok "$LAB_DST6 answers UDP with port unreachable" udp_refused "$LAB_DST6"
run_case dest_drops "$COUNT" dest_drops --carriers "$ROUTERS"
# The text report says the same and counts the probes; --no-confirm sends none.
hw_run() {
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= timeout "$RUN_TIMEOUT_S" \
		"$HOPWATCH" -n --analyze -c "$COUNT" -i "$INTERVAL" -G "$GRACE" "$@"
}
if ! hw_run -r -6 "$LAB_DST6" >"$work/text.out" 2>"$work/text.err"; then
	fail "text report: hopwatch failed: $(head -3 "$work/text.err")"
elif ! grep -Eq '^Confirmation: [1-9][0-9]* probes sent' "$work/text.out" ||
	grep -Eiq '^Conclusion:.*(carrier|real network exception)' "$work/text.out"; then
	fail "text report: no 'Confirmation: N probes sent' line, or a conclusion blaming a carrier:"
	cat "$work/text.out" >&2
else
	echo "ok: text report: $(grep -E '^(Confirmation|Conclusion):' "$work/text.out" | cut -c1-100 | paste -sd'|')"
fi
if ! hw_run -j --no-confirm -4 "$LAB_DST4" >"$work/noconfirm.json" 2>"$work/noconfirm.err"; then
	fail "--no-confirm: hopwatch failed: $(head -3 "$work/noconfirm.err")"
elif out=$(python3 "$CHECK" no_confirm "$work/noconfirm.json" 2>&1); then
	echo "ok: --no-confirm: $out"
else
	fail "--no-confirm:"
	echo "$out" >&2
fi
lab_ns "$LAB_DST" nft flush ruleset || lab_die "nft flush on dst"
DST_NFT_READY=""

# 2. Router DEAD_ROUTER forwards nothing.
lab_nft "$DEAD_ROUTER" 'drop' || lab_die "nft rule on router $DEAD_ROUTER"
lab_ok "router $DEAD_ROUTER itself answers ping" lab_src ping -4 -n -c1 -W1 "${LAB_HOP4[DEAD_ROUTER - 1]}"
lab_ok "router $((DEAD_ROUTER + 1)) is cut off" not lab_src ping -4 -n -c1 -W1 "${LAB_HOP4[DEAD_ROUTER]}"
lab_ok "$LAB_DST6 is cut off" not lab_src ping -6 -n -c1 -W1 "$LAB_DST6"
lab_ok "$LAB_DST4:443 is cut off for TCP" not tcp_refused "$LAB_DST4" 443
run_case interruption "$COUNT" interruption --hop "$DEAD_ROUTER"
lab_ns "${LAB_ROUTERS[DEAD_ROUTER - 1]}" nft flush chain inet lab forward ||
	lab_die "nft flush on router $DEAD_ROUTER"

# 3. Loss on the link into the last carrier router, forward direction only. The rule sits
# on the router before it, for what it sends out of its interface toward that router.
lab_nft $((LOSSY_INTO - 1)) "oifname \"right\" numgen random mod 100 < $LOSS_PCT drop" ||
	lab_die "nft numgen rule (kernel without nft numgen?)"
run_case real_loss "$LOSS_COUNT" real_loss --hop "$LOSSY_INTO"
lab_ns "${LAB_ROUTERS[LOSSY_INTO - 2]}" nft flush chain inet lab forward ||
	lab_die "nft flush on router $((LOSSY_INTO - 1))"

# 4. The same table from ICMP policy alone: the last carrier router sends only part of
# its time-exceeded errors and the destination answers only part of the echo requests,
# while everything is forwarded and TCP/UDP get every answer. The ICMP table alone looks
# like case 3; what tells them apart is the other protocols: no problem, no carrier.
# 60%, not less: the confirmation's 16 TCP/UDP answers bound their loss under about 19%,
# and the ICMP rate over 50 rounds must lie clearly above that (at 40% it would fall
# short about one run in eight, and the reading would rightly stay undecided).
r=${LAB_ROUTERS[LOSSY_INTO - 1]}
lab_ns "$r" nft add table inet lab || lab_die "nft table on router $LOSSY_INTO"
lab_ns "$r" nft add chain inet lab output \
	'{ type filter hook output priority 0; policy accept; }' || lab_die "nft output chain"
for t in icmp icmpv6; do
	lab_ns "$r" nft "add rule inet lab output $t type time-exceeded numgen random mod 100 < $POLICY_PCT drop" ||
		lab_die "nft rule on router $LOSSY_INTO"
	dst_nft "$t type echo-request numgen random mod 100 < $POLICY_PCT drop"
done
run_case icmp_policy "$LOSS_COUNT" no_alarm

echo "time: total $((SECONDS - T0)) s"
((FAILS == 0)) || {
	echo "FAIL: $FAILS checks" >&2
	exit 1
}
echo "PASS"
