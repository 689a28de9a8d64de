#!/usr/bin/env bash
# test_tui_keys.sh: the live view's mtr keys and modes in a real terminal (tmux), on the
# netsim MPLS scenario (5 routers, 3 of them with label stacks, then the destination).
#  1. --displaymode 0, 1, 2 start in statistics, blockmap and scaled blockmap; 'd' cycles
#     0 -> 1 -> 2 -> 0 with each view's own content (columns; " Last N pings", cells of
#     '.', '>' and '?' only; cells with mtr's scale characters 1-3 a-c; the Scale: line).
#  2. A pane shorter than the path: '+' scrolls the hops up by five, '-' back.
#  3. 'e' shows mtr's "[MPLS: Lbl ...]" lines under hops 2-4 and hides them again.
#  4. The prompts: 's' (size), 'b' (pattern), 'Q' (TOS), 'u'/'t' (protocol) change the
#     probes the engine is asked for (a wrapper logs its input), 'f' and 'm' the TTLs,
#     'i' the pace (f and m also the rows shown); an out-of-range size is refused; Snt is
#     kept across all of them.
#  5. Ctrl-L repaints what was written over the screen behind curses' back.
#  6. Upper-case keys act as lower-case ones (D, E, H), but Q asks for the TOS.
# hopwatch runs in the netsim namespace, so every probe ends in the simulator's TUN.
# tmux uses a server of its own, killed on exit with the namespace.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${HOPWATCH_BUILD:-$SRC/build}
export HOPWATCH_BUILD=$BUILD
# shellcheck source=tests/netsim/netsim_lab.sh
source "$SRC/tests/netsim/netsim_lab.sh"

INTERVAL=0.2 # -i: root may go below 1 s
WAIT_S=10    # longest wait for anything to show up in the pane (tui_lib.sh)
COLS=110
ROWS=30
SHORT_ROWS=10 # 4 title rows, the column titles, hops 1-5: hop 6 does not fit
DST=203.0.113.1
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")

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

NETSIM_OPTS=(--busy-poll)
netsim_create "$SRC/tests/netsim/scenarios/mpls.scn"
work=$(mktemp -d)
SOCK=$work/tmux.sock # a server of our own, never the user's
NETSIM_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")
# The engine's input, as hopwatch wrote it: what each probe was asked to be.
LOG=$work/engine.in
# (the pipe is non-blocking, which tee and cat do not take.)
cat >"$work/engine" <<EOF
#!/usr/bin/env python3
import os, select, subprocess
engine = subprocess.Popen(['$ENGINE'], stdin=subprocess.PIPE)
with open('$LOG', 'ab', buffering=0) as log:
    while True:
        select.select([0], [], [])
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            continue
        if not data:
            break
        log.write(data)
        engine.stdin.write(data)
        engine.stdin.flush()
engine.stdin.close()
engine.wait()
EOF
chmod +x "$work/engine"

# shellcheck source=tests/integration/tui_lib.sh
source "$HERE/tui_lib.sh"
# snt N: the Snt column of hop N (default fields "LS NABWV").
snt() { pane | awk -v n="$1." '$1 == n { print $4; exit }'; }
# asked WORDS: a send-probe written since mark (log line number) with these words.
mark() { LOGMARK=$(wc -l <"$LOG" 2>/dev/null || echo 0); }
since() { tail -n +"$((LOGMARK + 1))" "$LOG" | grep ' send-probe '; }
asked() {
	local i
	for ((i = 0; i < WAIT_S * 10; i++)); do
		since | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

# start ROWS ARGS...: a fresh tmux session running hopwatch ARGS in the namespace.
start() {
	local rows=$1
	shift
	: >"$LOG"
	tui_session "$COLS" "$rows" \
		"HOPWATCH_OPTIONS= ip netns exec '$NETSIM_NS' '$HOPWATCH' --engine '$work/engine' \
		-n -i $INTERVAL $*; echo HW_EXIT=\$?; exec sleep 600" || {
		fail "tmux would not start"
		return 1
	}
}

# Cells of the destination's row in the blockmaps: after column 29, through the end.
cells() { pane | awk -v d="$DST" '$1 == "6." && $2 == d { print substr($0, 30) }'; }

# ---- 1. display modes ----
stats_view() { wait_for '^\[stats\]' && wait_for 'Loss%.*Snt.*Last.*Avg'; }
map_view() {
	wait_for "^\\[$1\\]" && wait_for '^ {28} Last +[0-9]+ pings$' &&
		wait_for '^Scale:  \.:[0-9]+ ms  1:[0-9]+ ms  2:[0-9]+ ms  3:[0-9]+ ms  a:[0-9]+ ms  b:[0-9]+ ms  c:[0-9]+ ms  >$' &&
		wait_for "^ 6\\. $DST +[^ ]" && ! pane | grep -q 'Loss%'
}
for m in 0:stats 1:blockmap 2:scaled; do
	start "$ROWS" --displaymode "${m%%:*}" "$DST" || exit 1
	if [[ ${m#*:} == stats ]]; then
		expect "--displaymode 0: statistics" stats_view
	else
		expect "--displaymode ${m%%:*}: ${m#*:}" map_view "${m#*:}"
	fi
done
# The scaled view has RTTs 1..9 ms over 6 hops: its middle hops get scale characters.
sleep 1
c=$(pane | awk '$1 ~ /^[2-5]\.$/ { print substr($0, 30) }' | tr -d '\n')
if [[ $c =~ [1-3a-c] ]]; then ok "scaled: middle hops drawn with 1-3 a-c"; else fail "scaled: no scale characters in '$c'"; fi
keys d
expect "d from scaled: statistics" stats_view
keys d
expect "d: blockmap" map_view blockmap
sleep 1
c=$(pane | awk '$1 ~ /^[1-6]\.$/ { print substr($0, 30) }' | tr -d '\n')
if [[ $c =~ ^[.\>?\ ]+$ && $c == *.* && $c == *">"* ]]; then
	ok "blockmap: cells are '.' and '>' only (and '?')"
else
	fail "blockmap: cells '$c'"
fi
keys d
expect "d: scaled" map_view scaled
keys q
expect "q exits" wait_for '^HW_EXIT=0'

# ---- 2. scrolling ----
start "$SHORT_ROWS" "$DST" || exit 1
expect "short pane: hops 1-5 shown" wait_for "^ +5\\. 198\\.51\\.100\\.5 "
pane | grep -Eq "^ +6\\. " && fail "short pane: hop 6 fits, the test needs it not to"
keys +
expect "+: hop 6 at the top" wait_for "^ +6\\. $DST "
expect "+: hop 1 scrolled off" gone "^ +1\\. 198\\.51\\.100\\.1 "
keys +
sleep 0.5
expect "+ again: not past the last hop" wait_for "^ +6\\. $DST "
keys -
expect "-: hop 1 back" wait_for "^ +1\\. 198\\.51\\.100\\.1 "
expect "-: hop 6 off again" gone "^ +6\\. "
keys d +
expect "+ in the blockmap: hop 6 at the top" wait_for "^ 6\\. $DST "
gone "^ 1\\. " || fail "+ in the blockmap: hop 1 still shown"
keys q
wait_for '^HW_EXIT=0' || fail "scroll: q did not exit"

# ---- 3. MPLS, 5. Ctrl-L, 6. upper case ----
start "$ROWS" "$DST" || exit 1
wait_for "^ +6\\. $DST " || fail "mpls: no path"
pane | grep -q 'MPLS' && fail "mpls: labels shown before e"
keys e
expect "e: labels under hop 2" wait_for '^ +2\. 198\.51\.100\.2 '
if wait_for '^    \[MPLS: Lbl 24001 TC 0 S 1 TTL [0-9]+\]$' &&
	pane | grep -A1 -E '^ +2\. ' | grep -Eq '^    \[MPLS: Lbl 24001 TC 0 S 1 TTL' &&
	pane | grep -A2 -E '^ +3\. ' | tail -2 | grep -Eq 'Lbl 24002 TC 0 S 0' &&
	pane | grep -A2 -E '^ +3\. ' | tail -1 | grep -Eq 'Lbl 16 TC 0 S 1' &&
	pane | grep -A1 -E '^ +4\. ' | grep -Eq 'Lbl 24003 TC 5 S 1'; then
	ok "e: mtr's [MPLS: Lbl N TC N S N TTL N] lines under hops 2, 3 (two) and 4"
else
	fail "e: the label lines are not under their hops"
fi
pane | grep -A1 -E '^ +1\. ' | grep -q MPLS && fail "e: hop 1 has no labels but got some"
keys E
expect "E (upper case) hides them again" gone 'MPLS'
keys D
expect "D (upper case) switches to the blockmap" wait_for '^\[blockmap\]'
keys D D
expect "D D: back to the statistics" wait_for '^\[stats\]'
keys H
expect "H (upper case) shows the help" wait_for '^ *Command:'
keys x
gone '^ *Command:' || fail "help did not go"
# Ctrl-L: text written to the terminal behind curses' back stays until a full repaint.
tty=$(tmux -S "$SOCK" display -p -t tui '#{pane_tty}')
printf '\033[%d;40HGARBAGE-ON-SCREEN' "$((ROWS - 2))" >"$tty"
if wait_for 'GARBAGE-ON-SCREEN'; then
	sleep 0.6 # a few redraws: curses does not repaint cells it thinks are blank
	pane | grep -q 'GARBAGE-ON-SCREEN' || fail "ctrl-l: the garbage went without Ctrl-L"
	keys C-l
	expect "Ctrl-L repaints the screen" gone 'GARBAGE-ON-SCREEN'
else
	fail "ctrl-l: could not write to the pane"
fi
keys q
wait_for '^HW_EXIT=0' || fail "mpls: q did not exit"

# ---- 4. prompts: what the engine is asked for ----
start "$ROWS" "$DST" || exit 1
wait_for "^ +6\\. $DST " || fail "prompts: no path"
sleep 1
# prompt KEY VALUE: type it, Enter, and the prompt is gone.
prompt() {
	keys "$1"
	wait_for "$2" || fail "$1: no prompt '$2'"
	keys "$3" Enter
	gone "$2" || fail "$1: the prompt stayed"
}
s0=$(snt 1)
mark
prompt s '^Change Packet Size: 64$' 100
expect "s 100: probes of size 100" asked ' size 100( |$)'
s1=$(snt 1)
if [[ $s0 =~ ^[0-9]+$ && $s1 =~ ^[0-9]+$ ]] && ((s0 >= 3 && s1 >= s0)); then ok "s: Snt kept ($s0 -> $s1)"; else fail "s: Snt '$s0' -> '$s1'"; fi
prompt s '^Change Packet Size: 100$' 5
expect "s 5: refused" wait_for 'packet size out of range'
mark
sleep 1
since | grep -q ' size 5 ' && fail "s 5: probes of size 5 were sent"
mark
prompt b '^Ping Bit Pattern: ' 170
expect "b 170: bit-pattern 170" asked ' bit-pattern 170( |$)'
mark
prompt Q '^Type of Service\(tos\): 0$' 16
expect "Q 16: tos 16 (Q is the TOS prompt, not quit)" asked ' tos 16( |$)'
mark
prompt Q '^Type of Service\(tos\): 16$' 300
sleep 1
# TOS 0 is the default, which the probe leaves out.
if since | tail -3 | grep -q ' tos '; then
	fail "Q 300: probes still carry a TOS (mtr 0.95 takes 300 as 0)"
else
	ok "Q 300: out of range is 0, as in mtr 0.95"
fi
prompt f '^First TTL: 1$' 3
mark
sleep 1.5
if since | grep -Eq ' ttl [12]( |$)'; then fail "f 3: TTL 1 or 2 still probed"; else ok "f 3: no TTL below 3"; fi
since | grep -Eq ' ttl 3( |$)' || fail "f 3: TTL 3 not probed"
# mtr's statistics start at the first TTL.
expect "f 3: rows 1 and 2 hidden" gone '^ +[12]\. 198\.51\.100\.'
prompt f '^First TTL: 3$' 1
prompt m '^Max TTL: 30$' 4
mark
sleep 1.5
if since | grep -Eq ' ttl ([5-9]|[1-9][0-9])( |$)'; then fail "m 4: TTL above 4 probed"; else ok "m 4: no TTL above 4"; fi
expect "m 4: rows 5 and 6 hidden (mtr's net_max stops at the max TTL)" gone '^ +[56]\. '
prompt m '^Max TTL: 4$' 30
# i: 2 s between rounds, then 0.2 s again (the rounds counter on the status line).
rounds() { pane | sed -n 's/.* rounds \([0-9]*\).*/\1/p' | head -1; }
prompt i '^Interval : 0$' 2
r1=$(rounds)
sleep 3
r2=$(rounds)
if ((r2 - r1 <= 2)); then ok "i 2: rounds $r1 -> $r2 in 3 s"; else fail "i 2: rounds $r1 -> $r2 in 3 s"; fi
prompt i '^Interval : 2$' 0.2
r1=$(rounds)
sleep 2
r2=$(rounds)
if ((r2 - r1 >= 4)); then ok "i 0.2: rounds $r1 -> $r2 in 2 s"; else fail "i 0.2: rounds $r1 -> $r2 in 2 s"; fi
prompt i '^Interval : 0$' 0
expect "i 0: refused" wait_for 'interval out of range'
# u and t: the next probes' protocol changes and the statistics stay (mtr keeps them).
for pk in u:udp t:tcp; do
	k=${pk%%:*} proto=${pk#*:}
	u0=$(snt 6)
	mark
	keys "$k"
	expect "$k: $proto probes" asked " protocol $proto( |$)"
	expect "$k: status says $proto" wait_for "\\[$proto\\]"
	sleep 1
	u1=$(snt 6)
	if [[ $u0 =~ ^[0-9]+$ && $u1 =~ ^[0-9]+$ ]] && ((u1 > u0)); then
		ok "$k: Snt kept and growing ($u0 -> $u1)"
	else
		fail "$k: Snt '$u0' -> '$u1' (mtr keeps the statistics)"
	fi
	keys "$(tr a-z A-Z <<<"$k")"
	expect "${k^^}: back to icmp" wait_for '\[icmp\]'
done
keys q
expect "prompts: q exits 0" wait_for '^HW_EXIT=0'

tui_summary "all live-view key checks passed"
