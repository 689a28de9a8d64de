#!/usr/bin/env bash
# test_tui_findings.sh: the live view's findings pane ('a') in a real terminal (tmux), on
# simulated paths (tests/netsim/scenarios):
#  1. --analyze, real loss from hop 3 on (loss_from_hop.scn): 'a' opens the pane under
#     the table while hops still lack probes: it says how many rounds are still needed;
#     the count goes down, then the pane gives the finding (real packet loss, hops 3.., a
#     problem) and the conclusion naming hop 3, with the table still above it; its round
#     count moves on as rounds come in; '?' lists the key; a second 'a' closes the pane,
#     'A' opens it again (either case).
#  2. Small terminals: at 80x24 and 40x10 the pane still shows (its header at least), cut
#     to the width, hop 1 of the table still above it, and hopwatch keeps running.
#  3. 'q' exits 0 and, with --analyze, the Diagnosis: section follows, as before.
#  4. Without --analyze, on ICMP throttling at hop 2 (throttle_hop.scn): the pane works
#     the same (rate limiting at hop 2, info; no real exception), and nothing is printed
#     after the view.
# Everything runs in the simulator's namespace; tmux uses a server of its own (-S, a
# socket in the test's directory), killed on exit with the namespace.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${HOPWATCH_BUILD:-$SRC/build}
export HOPWATCH_BUILD=$BUILD
# shellcheck source=tests/netsim/netsim_lab.sh
source "$SRC/tests/netsim/netsim_lab.sh"

INTERVAL=0.3 # -i: root may go below 1 s; 10 rounds take 3 s
WAIT_S=30    # longest wait for anything in the pane (a lost probe is done at 10 s)
COLS=110
ROWS=32
DST=203.0.113.1
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
HEADER='^Findings \(a hides\): '
WAITING="${HEADER}too few probes yet, ([0-9]+) more rounds? needed \\(10 per hop\\)"

command -v tmux >/dev/null || {
	echo "SKIP: tmux is not installed" >&2
	exit 77
}
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

netsim_create "$SRC/tests/netsim/scenarios/loss_from_hop.scn"
work=$(mktemp -d)
SOCK=$work/tmux.sock # a server of our own, never the user's
NETSIM_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")
# shellcheck source=tests/integration/tui_lib.sh
source "$HERE/tui_lib.sh"

# start ARGS...: hopwatch ARGS in the namespace; afterwards the pane shows its exit status.
start() {
	tui_session "$COLS" "$ROWS" \
		"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= ip netns exec '$NETSIM_NS' \
		'$HOPWATCH' -n -i $INTERVAL $*; echo HW_EXIT=\$?; exec sleep 600" || {
		fail "tmux would not start"
		return 1
	}
}

# The pane's numbers: rounds still needed, rounds of the diagnosis shown.
needed() { pane | sed -En "s/${WAITING}.*/\\1/p" | head -1; }
rounds_shown() { pane | sed -En 's/^Findings \(a hides\): [0-9]+ after ([0-9]+) rounds?,.*/\1/p' | head -1; }
# below_table TEXT: a line starting with TEXT comes after hop 1's row (the pane is under
# the table).
below_table() { pane | awk -v s="$1" '/^ +1\. /{t=1} t && index($0, s) == 1 {f=1} END {exit !f}'; }
# running: hopwatch has not exited.
running() { ! pane | grep -q '^HW_EXIT='; }

# ---- 1. the pane forms as the rounds come in ----
start --analyze "$DST" || exit 1
expect "table shows hop 1" wait_for '^ +1\. 198\.51\.100\.1 '
pane | grep -Eq "$HEADER" && fail "the pane shows before 'a'"
keys a
if wait_for "$WAITING"; then
	n1=$(needed)
	ok "a: the pane says $n1 more rounds are needed"
	# Hops 3.. lose probes: they are done only at their 10 s timeout, so it takes a while.
	n2=$n1
	for ((i = 0; i < WAIT_S * 10; i++)); do
		n2=$(needed)
		[[ -z $n2 || $n2 -lt $n1 ]] && break
		sleep 0.1
	done
	if [[ -z $n2 ]] || ((n2 < n1)); then
		ok "the count goes down as rounds come in ($n1 -> ${n2:-diagnosis})"
	else
		fail "the rounds still needed stay at $n1"
	fi
else
	fail "a: no 'too few probes' pane at the start"
fi
FINDING='^\[problem\] Real packet loss  hops 3,4,5,6(,\.\.\.)? 198\.51\.100\.3  region B'
expect "then the finding: real loss from hop 3, a problem" wait_for "$FINDING"
expect "its explanation under it" \
	wait_for '^    loss starts at hop 3 and every later hop carries it: [0-9.]+% at the end$'
expect "the header says the conclusion" wait_for "${HEADER}[0-9]+ after [0-9]+ rounds, conclusion problem$"
expect "the conclusion line names hop 3" \
	wait_for '^Conclusion: a real network exception: Real packet loss at hop 3 198\.51\.100\.3; contact '
expect "the pane is under the table" below_table "Findings (a hides): "
expect "the table is still there (hop 6, the destination)" wait_for "^ +6\\. $DST "
r1=$(rounds_shown)
sleep 2
r2=$(rounds_shown)
if [[ $r1 =~ ^[0-9]+$ && $r2 =~ ^[0-9]+$ ]] && ((r2 > r1)); then
	ok "the pane is made again each round (after $r1, then $r2 rounds)"
else
	fail "the pane's rounds did not move: '$r1' -> '$r2'"
fi
keys '?'
expect "? lists the key" wait_for '^ +a +toggle the findings pane'
keys x
expect "the help goes, the pane stays" wait_for "$HEADER"
keys a
expect "a again: the pane is gone" gone "$HEADER"
gone '^Conclusion: ' || fail "a again: the conclusion is still shown"
expect "the table stays" wait_for "^ +6\\. $DST "
keys A
expect "A (upper case): the pane is back" wait_for "$FINDING"

# ---- 2. small terminals ----
for size in 80x24 40x10; do
	w=${size%x*} h=${size#*x}
	tmux -S "$SOCK" resize-window -t tui -x "$w" -y "$h"
	sleep 1
	if wait_for "^Findings \\(a hides\\)" && wait_for '^ +1\. 198\.51' && running; then
		ok "$size: the pane and hop 1 shown, hopwatch running"
	else
		fail "$size: pane or table missing"
	fi
	long=$(pane | awk -v w="$w" 'length($0) > w' | wc -l)
	expect "$size: no line wider than $w" test "$long" -eq 0
	expect "$size: the pane is under the table" below_table 'Findings'
done
((h = 24))
tmux -S "$SOCK" resize-window -t tui -x 80 -y "$h"
expect "80x24: the finding fits" wait_for '^\[problem\] Real packet loss'

# ---- 3. q, and --analyze's report after the view ----
keys q
if wait_for '^HW_EXIT=0'; then
	ok "q exits 0"
	# The whole section is longer than the screen: its last line, the Conclusion, is what stays.
	expect "--analyze: the diagnosis after the view" wait_for '^Conclusion: A real network exception'
else
	fail "q did not exit 0"
fi

# ---- 4. without --analyze, another path ----
netsim_restart "$SRC/tests/netsim/scenarios/throttle_hop.scn"
start "$DST" || exit 1
expect "no --analyze: the table" wait_for '^ +1\. 198\.51\.100\.1 '
keys a
expect "no --analyze: a opens the pane" wait_for "$HEADER"
expect "no --analyze: rate limiting at hop 2, info" \
	wait_for '^\[info\] ICMP rate limiting  hop 2 198\.51\.100\.2  region B'
expect "no --analyze: later hops clean, no action" \
	wait_for '^    [0-9.]+% lost here but later hops \(3(,4)?(,5)?\) clean: ICMP throttling, no action'
expect "no --analyze: no real exception" wait_for '^Conclusion: no real network exception'
pane | grep -q '^\[problem\]' && fail "no --analyze: a problem on a throttling-only path"
keys q
if wait_for '^HW_EXIT=0'; then
	sleep 0.5
	pane | grep -q '^Diagnosis:' && fail "no --analyze: a Diagnosis: section after the view"
	ok "no --analyze: q exits 0, nothing printed after the view"
else
	fail "no --analyze: q did not exit 0"
fi

tui_summary "all findings-pane checks passed"
