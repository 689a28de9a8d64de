#!/usr/bin/env bash
# test_tui_loss.sh: the live view shows loss as it happens, not a timeout later. hopwatch
# runs in a real terminal (tmux) on a simulated path whose hops 2..6 and destination answer
# only part of their probes (tests/netsim/scenarios/throttle_five.scn). A little after 5 s,
# between two rounds, the pane is captured and the simulator's probe log flushed; for every
# hop the pane's Drop and Rcv must be within one probe of the log's silent and answered
# probes of that TTL, and its Loss% within one probe's worth of the log's. Before probes
# out were presumed lost, every hop showed 0.0% there (the 10 s timeout had not passed).
# Then 'q' with --report-on-exit: the report counts only what was answered or timed out,
# as before (no loss at all, 3.6 s in), though the view showed some just before.
# Everything runs in the simulator's namespace; tmux uses a server of its own (-S, a
# socket in the test's directory), killed on exit with the namespace.
set -uo pipefail

src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
# shellcheck source=tests/netsim/netsim_lab.sh
source "$src/tests/netsim/netsim_lab.sh"

SCENARIO=$src/tests/netsim/scenarios/throttle_five.scn
DST=203.0.113.1
HOPS=7         # the scenario's hops and its destination
CAPTURE_S=5.6  # after the start: round 5 (at 5 s) is out and answered, round 6 not yet
QUIT_S=3.6     # the second run quits here, well before any probe's 10 s timeout
WAIT_S=15      # longest wait for the table or the exit to show (tui_lib.sh)
MIN_SILENT=8   # silent probes the log must hold for the test to mean anything
COLS=120
ROWS=40
ENGINE=$(readlink -f "$build/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$build/client/hopwatch")

command -v tmux >/dev/null || {
	echo "SKIP: tmux is not installed" >&2
	exit 77
}
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "SKIP: build hopwatch and hopwatchd first ($f)" >&2
		exit 77
	}
done

netsim_create "$SCENARIO"
work=$(mktemp -d)
SOCK=$work/tmux.sock # a server of our own, never the user's
NETSIM_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")

# shellcheck source=tests/integration/tui_lib.sh
source "$src/tests/integration/tui_lib.sh"

# Loss%, Drop, Rcv and Snt, in that order after the host column.
tui_session "$COLS" "$ROWS" \
	"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= ip netns exec '$NETSIM_NS' \
	'$HOPWATCH' -n -o LDRS $DST; echo HW_EXIT=\$?; exec sleep 600" || {
	echo "FAIL: tmux would not start" >&2
	exit 1
}
t0=$(date +%s.%N) # hopwatch started just now (tui_session waits before it starts it)
sleep "$(echo "$t0 + $CAPTURE_S - $(date +%s.%N)" | bc)"
shot=$(pane)
netsim_flush # the log is complete up to now
echo "--- pane at ${CAPTURE_S} s:"
echo "$shot"
echo "---"

# ttl answered silent, per TTL, from the log (this run's probes only).
declare -A ans=() sil=()
while read -r ttl a s; do
	ans[$ttl]=$a
	sil[$ttl]=$s
done < <(awk -v d="$DST" '
	{ delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
	f["dst"] != d || f["proto"] != "icmp" { next }
	{ seen[f["ttl"]] = 1; if (f["fate"] == "answer") a[f["ttl"]]++; else s[f["ttl"]]++ }
	END { for (t in seen) print t, a[t] + 0, s[t] + 0 }' "$NETSIM_LOG")

total_silent=0
printf '%-4s %-16s %7s %5s %5s %5s | %5s %5s %5s %7s\n' hop host Loss% Drop Rcv Snt \
	l.snt l.rcv l.lost l.loss%
for ((ttl = 1; ttl <= HOPS; ttl++)); do
	row=$(awk -v t="$ttl." '$1 == t { print; exit }' <<<"$shot")
	a=${ans[$ttl]:-0}
	s=${sil[$ttl]:-0}
	total_silent=$((total_silent + s))
	if [[ -z $row ]]; then
		fail "hop $ttl: no row in the pane"
		continue
	fi
	read -r _ host loss drop rcv snt _ <<<"$row"
	loss=${loss%\%}
	log_loss=$(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.1f", a + s ? 100 * s / (a + s) : 0 }')
	printf '%-4s %-16s %6s%% %5s %5s %5s | %5s %5s %5s %6s%%\n' "$ttl" "$host" "$loss" \
		"$drop" "$rcv" "$snt" $((a + s)) "$a" "$s" "$log_loss"
	[[ $drop =~ ^[0-9]+$ && $rcv =~ ^[0-9]+$ && $snt =~ ^[0-9]+$ ]] || {
		fail "hop $ttl: cannot read the row '$row'"
		continue
	}
	((drop >= s - 1 && drop <= s + 1)) ||
		fail "hop $ttl: Drop $drop, the log has $s silent probes"
	((rcv >= a - 1 && rcv <= a + 1)) ||
		fail "hop $ttl: Rcv $rcv, the log has $a answers"
	# Loss% against the log's: at most one probe's worth apart (plus the rounding).
	awk -v l="$loss" -v a="$a" -v s="$s" 'BEGIN {
		n = a + s; if (n == 0) exit !(l == 0)
		d = l - 100 * s / n; if (d < 0) d = -d
		exit !(d <= 100 / (n > 1 ? n - 1 : 1) + 0.1) }' ||
		fail "hop $ttl: Loss% $loss, the log's is $log_loss% of $((a + s))"
done
((total_silent >= MIN_SILENT)) ||
	fail "the log holds only $total_silent silent probes: the scenario throttles nothing?"

keys q
wait_for '^HW_EXIT=' || fail "hopwatch did not exit on q"
st=$(pane | sed -n 's/^HW_EXIT=//p')
[[ $st == 0 ]] || fail "exit status '$st' after q, want 0"

# The report after the view keeps the final accounting: a probe still out is not lost
# there. Quit at QUIT_S with --report-on-exit: no probe has reached its 10 s timeout, so
# every hop's Drop is 0 and Rcv is what the log answered, Loss% 0.0.
tmux -S "$SOCK" kill-server 2>/dev/null
sleep 0.2
netsim_restart "$SCENARIO"
tui_session "$COLS" "$ROWS" \
	"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= ip netns exec '$NETSIM_NS' \
	'$HOPWATCH' -n -o LDRS --report-on-exit $DST; echo HW_EXIT=\$?; exec sleep 600" || {
	echo "FAIL: tmux would not start" >&2
	exit 1
}
t0=$(date +%s.%N)
sleep "$(echo "$t0 + $QUIT_S - $(date +%s.%N)" | bc)"
lost_now=$(awk -v t=$((HOPS - 1)) '$1 ~ /^[0-9]+\.$/ && $1 + 0 <= t { d += $4 } END { print d + 0 }' \
	<<<"$(pane)")
keys q
wait_for '^HW_EXIT=' || fail "--report-on-exit: hopwatch did not exit on q"
netsim_flush
echo "--- pane after q (--report-on-exit):"
pane
echo "---"
((lost_now > 0)) || fail "the view showed no loss before q: nothing to take back"
declare -A ans2=()
while read -r ttl a; do
	ans2[$ttl]=$a
done < <(awk -v d="$DST" '
	{ delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
	f["dst"] == d && f["proto"] == "icmp" && f["fate"] == "answer" { a[f["ttl"]]++ }
	END { for (t in a) print t, a[t] }' "$NETSIM_LOG")
for ((ttl = 1; ttl <= HOPS; ttl++)); do
	row=$(pane | awk -v t="$ttl." '$1 == t"|--" { print; exit }')
	read -r _ _ loss drop rcv _ <<<"$row"
	if [[ -z $row ]]; then
		fail "--report-on-exit: no report row for hop $ttl"
	elif [[ $loss != 0.0% || $drop != 0 || $rcv != "${ans2[$ttl]:-0}" ]]; then
		fail "--report-on-exit: hop $ttl: Loss% $loss Drop $drop Rcv $rcv, want 0.0% 0 ${ans2[$ttl]:-0}"
	fi
done
echo "ok: the view showed $lost_now lost probes at hops 1..$((HOPS - 1)); the report after q none"

tui_summary "ok: every hop's Loss%, Drop and Rcv within one probe of the probe log at ${CAPTURE_S} s"
exit 0
