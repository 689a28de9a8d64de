#!/usr/bin/env bash
# test_tui.sh: hopwatch's live view in a real terminal (tmux) on an isolated 4-router lab.
#  1. The table shows every router and the destination, and Snt grows.
#  2. '?' shows the help, any key leaves it; 'n' flips the names indicator; 'p' freezes
#     Snt for 3 s and space resumes it; 'd' shows the blockmaps and back; 'j' and 'o'
#     change the columns, a bad 'o' string is refused.
#  3. 'q' exits 0, the table is gone from the pane and the tty is back in canonical mode
#     with echo (stty -a in the same pane); the same after Ctrl-C and after SIGTERM.
#  4. -c 2 ends the view by itself (as mtr does); -c 3 --report-on-exit ends and
#     prints the -r report.
#  5. Three targets (the destination and two routers): the title says target 1/3 and the
#     first is shown, Tab shows the second, ']' the third, Shift-Tab and '[' go back, '2'
#     jumps; the line under the table lists the two others with their figures; 'q' exits 0
#     with the tty restored.
# hopwatch runs inside the lab's source namespace with the engine under test
# (HOPWATCH_ENGINE), so every probe stays in the lab. tmux uses a server of its own
# (-S, a socket in the test's temporary directory), killed on exit with the lab.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=4
INTERVAL=0.5      # -i: root may go below 1 s; keeps the test short
WAIT_S=15         # longest wait for anything to show up in the pane
PAUSE_S=3         # Snt must not move for this long while paused
COLS=120
ROWS=40
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
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

work=$(mktemp -d)
# Names on ('n') query a nameserver inside the lab (no answer there), never the host's.
echo "nameserver 203.0.113.53" >"$work/resolv.conf"
SOCK=$work/tmux.sock # a server of our own, never the user's
LAB_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")
lab_create "$ROUTERS"

# shellcheck source=tests/integration/tui_lib.sh
source "$HERE/tui_lib.sh"

# snt ADDR: the Snt column of the hop row for ADDR (default fields "LS NABWV").
snt() {
	pane | awk -v a="$1" '$1 ~ /^[0-9]+\.$/ && $2 == a { print $4; exit }'
}

# start NAME ARGS...: a fresh tmux session running hopwatch ARGS in the lab's source
# namespace; afterwards the pane prints the exit status and the tty settings, and stays.
start() {
	local name=$1
	shift
	rm -f "$work/pid"
	tui_session "$COLS" "$ROWS" \
		"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= HOPWATCH_RESOLV_CONF='$work/resolv.conf' \
		ip netns exec '$LAB_SRC' \
		sh -c 'echo \$\$ > \"$work/pid\"; exec \"$HOPWATCH\" \"\$@\"' hopwatch $*; \
		echo HW_EXIT=\$?; stty -a; exec sleep 600" ||
		{
			fail "$name: tmux would not start"
			return 1
		}
}

# restored NAME: hopwatch has exited 0, its screen is gone, the tty is cooked again.
restored() {
	local name=$1 st
	if ! wait_for '^HW_EXIT='; then
		fail "$name: hopwatch did not exit"
		return
	fi
	st=$(pane | sed -n 's/^HW_EXIT=//p')
	[[ $st == 0 ]] || fail "$name: exit status $st, want 0"
	if pane | grep -Eq 'Keys:|Loss%|^ +[0-9]+\. '; then
		fail "$name: the live view is still on the pane"
	fi
	# stty -a prints "-icanon"/"-echo" when they are off.
	pane | grep -Eq '(^|[ ;])icanon([ ;]|$)' || fail "$name: icanon is off after exit"
	pane | grep -Eq '(^|[ ;])echo([ ;]|$)' || fail "$name: echo is off after exit"
	ok "$name: exit 0, screen gone, icanon and echo on"
}

dst=$LAB_DST4
last_router=${LAB_HOP4[ROUTERS - 1]}

# ---- 1. the table ----
start main -n -i "$INTERVAL" "$dst" || exit 1
if wait_for "^ +$((ROUTERS + 1))\. $dst " && wait_for "^ +$ROUTERS\. $last_router "; then
	missing=""
	for ((k = 0; k < ROUTERS; k++)); do
		pane | grep -Eq "^ +$((k + 1))\. ${LAB_HOP4[k]} " || missing+=" ${LAB_HOP4[k]}"
	done
	expect "table lists r1..r$ROUTERS and $dst (missing:${missing:- none})" [ -z "$missing" ]
else
	fail "the table never showed the path to $dst"
fi
pane | grep -q 'Loss%.*Snt.*Last.*Avg.*Best.*Wrst.*StDev' || fail "column titles missing"
s1=$(snt "$dst")
sleep 2
s2=$(snt "$dst")
if [[ $s1 =~ ^[0-9]+$ && $s2 =~ ^[0-9]+$ ]] && ((s2 > s1)); then
	ok "Snt grows: $s1 -> $s2"
else
	fail "Snt did not grow: '$s1' -> '$s2'"
fi

# ---- 2. keys ----
keys '?'
if wait_for '^ *Command:' && pane | grep -q 'p       pause'; then
	pane | grep -Eq "^ +[0-9]+\. $dst " && fail "help shown but the table is still drawn"
	ok "? shows the help"
else
	fail "? did not show the help"
fi
keys x
if wait_for "^ +[0-9]+\. $dst " && ! pane | grep -q 'Command:'; then
	ok "any key leaves the help"
else
	fail "the help did not go away on a key"
fi
keys h
expect "h shows the help too" wait_for '^ *Command:'
keys Space
wait_for "^ +[0-9]+\. $dst " || fail "space did not leave the help"

pane | grep -q '\[names off\]' || fail "-n: names indicator not off"
keys n
expect "n: names on" wait_for '\[names on\]'
keys n
expect "n again: names off" wait_for '\[names off\]'

keys p
if wait_for '\[paused\]'; then
	# A round being sent when p came may still finish: let it, then watch.
	sleep 1
	p1=$(snt "$dst")
	sleep "$PAUSE_S"
	p2=$(snt "$dst")
	if [[ -n $p1 && $p1 == "$p2" ]]; then
		ok "p: Snt stays at $p1 for ${PAUSE_S} s"
	else
		fail "p: Snt moved while paused: '$p1' -> '$p2'"
	fi
else
	fail "p did not pause"
fi
keys Space
if wait_for '\[running\]'; then
	sleep 2
	p3=$(snt "$dst")
	if [[ $p3 =~ ^[0-9]+$ ]] && ((p3 > p2)); then
		ok "space resumes: Snt $p2 -> $p3"
	else
		fail "space did not resume: Snt '$p2' -> '$p3'"
	fi
else
	fail "space did not resume"
fi

keys d
if wait_for '\[blockmap\]' && wait_for '^Scale:'; then
	# The destination's row: its number, its address, then mtr's blockmap cells (. > ?).
	if pane | grep -Eq "^ +[0-9]+\. $dst +[.>? ]*[.>?]$"; then
		ok "d shows the blockmap"
	else
		fail "d: no blockmap cells on the destination's row"; pane >&2
	fi
	pane | grep -q 'Loss%' && fail "d: the stats columns are still shown"
else
	fail "d did not switch to the blockmap"
fi
keys d
expect "d again: the scaled blockmap" wait_for '^\[scaled\]'
keys d
expect "d a third time: back to the table" wait_for '^\[stats\]'
expect "d again: stats columns back" wait_for 'Loss%'

keys j
expect "j: jitter columns" wait_for 'Jttr +Javg +Jmax +Jint'
keys j
expect "j again: latency columns" wait_for 'Loss%.*Snt.*Last'

# 'o': the prompt starts with the current string; clear it and ask for Snt then Loss%.
keys o
wait_for '^Fields: ' || fail "o: no prompt"
for ((i = 0; i < 12; i++)); do keys BSpace; done
keys S L Enter
expect "o SL: columns Snt Loss%" wait_for '^ Host +Snt +Loss% *$'
keys o
for ((i = 0; i < 12; i++)); do keys BSpace; done
keys Z Enter
expect "o Z refused" wait_for 'unknown field letter'
expect "o Z: columns kept" wait_for '^ Host +Snt +Loss% *$'

keys r
# The rows come back as answers do: wait for the destination's (under load it may take a
# while), then its Snt must be the rounds since the reset (two more for slack), not the
# ~30 before it.
r1=""
reset_ns=$(date +%s%N)
for ((i = 0; i < WAIT_S * 10; i++)); do
	r1=$(pane | awk -v a="$dst" '$1 ~ /^[0-9]+\.$/ && $2 == a { print $3; exit }')
	[[ -n $r1 ]] && break
	sleep 0.1
done
since=$(awk -v a="$reset_ns" -v b="$(date +%s%N)" -v i="$INTERVAL" \
	'BEGIN { printf "%d", (b - a) / 1e9 / i + 2 }')
if [[ $r1 =~ ^[0-9]+$ ]] && ((r1 <= since)); then
	ok "r: Snt reset to $r1"
else
	fail "r: Snt '$r1' after reset"
fi

# u/t restart the trace with UDP/TCP probes (the destination answers a closed port),
# and the same key again goes back to ICMP.
for pk in u:udp t:tcp; do
	k=${pk%%:*} proto=${pk#*:}
	keys "$k"
	if wait_for "\\[$proto\\]" && wait_for "^ +[0-9]+\\. $dst "; then
		sleep 1.5
		u1=$(pane | awk -v a="$dst" '$1 ~ /^[0-9]+\.$/ && $2 == a { print $3; exit }')
		expect "$k: $proto probes reach $dst (Snt $u1)" test "${u1:-0}" -ge 1
	else
		fail "$k: no $proto trace to $dst"
	fi
	keys "$k"
	expect "$k again: back to icmp" wait_for '\[icmp\]'
done

# SIGWINCH: a narrower window gets a new layout (the clock moves to the new right edge).
tmux -S "$SOCK" resize-window -t tui -x 90 -y 30
sleep 1
w=$(pane | sed -n 2p)
if [[ $w =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T ]] && ((${#w} <= 90 && ${#w} >= 80)); then
	ok "resize: header redrawn for 90 columns"
else
	fail "resize: header line not laid out for 90 columns: '$w'"
fi

keys q
restored "q"

# ---- 3. Ctrl-C and SIGTERM ----
start ctrl-c -n -i "$INTERVAL" "$dst" || exit 1
wait_for "^ +[0-9]+\. $dst " || fail "ctrl-c: the table did not show"
keys C-c
restored "Ctrl-C"

start sigterm -n -i "$INTERVAL" "$dst" || exit 1
wait_for "^ +[0-9]+\. $dst " || fail "sigterm: the table did not show"
if [[ -s $work/pid ]]; then
	kill -TERM "$(cat "$work/pid")"
	restored "SIGTERM"
else
	fail "sigterm: no pid of hopwatch"
fi

# ---- 4. -c: like mtr with -c, the view ends by itself after the rounds ----
start count -n -c 2 -i "$INTERVAL" "$dst" || exit 1
if wait_for '^HW_EXIT=0'; then
	ok "-c 2: ends by itself after 2 rounds"
	restored "end after -c"
else
	fail "-c 2: the view did not end after 2 rounds"
	keys q
fi

# ---- 4. -c with --report-on-exit ----
start report-on-exit -n -c 3 -i "$INTERVAL" --report-on-exit "$dst" || exit 1
if wait_for '^HW_EXIT=0'; then
	if pane | grep -Eq "^ +$((ROUTERS + 1))\.\|-- $dst +[0-9.]+% +3 "; then
		ok "-c 3 --report-on-exit: ends alone, report with Snt 3"
	else
		fail "-c 3 --report-on-exit: no -r report row for $dst with Snt 3"
	fi
else
	fail "-c 3 --report-on-exit did not end by itself"
fi

# ---- 5. several targets, one shown at a time ----
t2=${LAB_HOP4[1]} t3=${LAB_HOP4[2]}
# shown N ADDR: the title says target N/3 and the second line traces to ADDR.
shown() {
	wait_for "target $1/3" && wait_for "^[^ ].* -> $2 \\($2\\)"
}
start multi -n -i "$INTERVAL" "$dst" "$t2" "$t3" || exit 1
expect "multi: title shows target 1/3, $dst" shown 1 "$dst"
expect "multi: the table of $dst" wait_for "^ +$((ROUTERS + 1))\\. $dst "
# The others' line: both, each with loss and avg once their destination answered.
expect "multi: summary lists $t2 and $t3 with figures" \
	wait_for "^others: 2:$t2 [0-9]+% [0-9.]+ms \\| 3:$t3 [0-9]+% [0-9.]+ms$"
pane | grep -q "^others:.*1:$dst" && fail "multi: the shown target is in the summary"
keys Tab
expect "multi: Tab shows target 2/3, $t2" shown 2 "$t2"
expect "multi: the table of $t2 ends at hop 2" wait_for "^ +2\\. $t2 "
pane | grep -Eq "^ +3\\. " && fail "multi: $t2's table has a third hop"
expect "multi: summary lists $dst and $t3" wait_for "^others: 1:$dst [^|]* \\| 3:$t3 "
keys "]"
expect "multi: ] shows target 3/3, $t3" shown 3 "$t3"
keys "]"
expect "multi: ] wraps to target 1/3" shown 1 "$dst"
keys BTab
expect "multi: Shift-Tab shows target 3/3" shown 3 "$t3"
keys "["
expect "multi: [ shows target 2/3" shown 2 "$t2"
keys 1
expect "multi: 1 jumps to target 1/3" shown 1 "$dst"
keys 9
sleep 0.5
expect "multi: 9 (no such target) keeps target 1/3" shown 1 "$dst"
keys q
restored "multi q"

tui_summary "all live-view checks passed"
