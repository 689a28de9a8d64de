#!/usr/bin/env bash
# test_split.sh: hopwatch -p (split output) against real mtr 0.95 -p on the same simulated
# path (netsim MPLS scenario: 5 routers, then 203.0.113.1), mtr using hopwatchd as its
# packet engine (MTR_PACKET).
#  1. Every line has mtr 0.95's shape, "TTL NAME LOSS RCV SNT BEST AVG WRST" with integers
#     (mtr 0.95 prints whole ms), or "-TTL"; mtr's own lines pass the same check.
#  2. A line is printed only when it changed: never the same line twice in a row for a hop.
#  3. The last line of each hop names the same responder as mtr's, with Rcv = Snt = -c.
#  4. -b: "name address" (with -n: the address twice), as mtr prints it.
#  5. In a terminal: r resets (the hops' lines are taken away, deepest first), q quits 0.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${HOPWATCH_BUILD:-$SRC/build}
export HOPWATCH_BUILD=$BUILD
# shellcheck source=tests/netsim/netsim_lab.sh
source "$SRC/tests/netsim/netsim_lab.sh"

COUNT=3
INTERVAL=0.2
WAIT_S=10
HOPS=6
DST=203.0.113.1
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

NETSIM_OPTS=(--busy-poll)
netsim_create "$SRC/tests/netsim/scenarios/mpls.scn"
work=$(mktemp -d)
SOCK=$work/tmux.sock
NETSIM_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

LINE='^([0-9]+ [^ ]+( [^ ]+)? -?[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+|-[0-9]+)$'

# shape FILE WHO: every line has the split shape, and no hop repeats its line.
shape() {
	local bad
	bad=$(grep -Evc -- "$LINE" "$1")
	if [[ -s $1 && $bad == 0 ]]; then
		ok "$2: $(wc -l <"$1") lines, all of mtr 0.95's shape"
	else
		fail "$2: $bad line(s) not of the split shape:"
		grep -Ev -- "$LINE" "$1" | head -5 >&2
	fi
	if awk '$1 ~ /^[0-9]+$/ { if (last[$1] == $0) { print; bad = 1 } last[$1] = $0 }
		END { exit bad }' "$1" >/dev/null; then
		ok "$2: a hop's line is printed only when it changed"
	else
		fail "$2: a line printed twice in a row"
	fi
}

# final FILE: the last line printed for each hop, in hop order.
final() { awk '$1 ~ /^[0-9]+$/ { last[$1] = $0 } END { for (h in last) print last[h] }' "$1" | sort -n; }

netsim_run "$HOPWATCH" --engine "$ENGINE" -p -n -c "$COUNT" -i "$INTERVAL" "$DST" \
	</dev/null >"$work/hw" 2>"$work/hw.err"
rc=$?
[[ $rc == 0 ]] || fail "hopwatch -p exit $rc: $(head -3 "$work/hw.err")"
shape "$work/hw" "hopwatch -p"
grep -q '???' "$work/hw" && fail "hopwatch -p: a ??? line (mtr 0.95 never prints one)"
hf=$(final "$work/hw")
n=$(awk -v c="$COUNT" '$4 == c && $5 == c' <<<"$hf" | wc -l)
if [[ $n == "$HOPS" ]] && grep -q "^$HOPS $DST " <<<"$hf"; then
	ok "hopwatch -p: each of the $HOPS hops ends with Rcv = Snt = $COUNT"
else
	fail "hopwatch -p: last lines: $hf"
fi

if command -v mtr >/dev/null; then
	# mtr -p is interactive: it reads keys from its stdin, so give it one that stays open.
	sleep 8 | netsim_run env MTR_PACKET="$ENGINE" mtr -p -n -c "$COUNT" -i "$INTERVAL" "$DST" \
		>"$work/mtr" 2>"$work/mtr.err"
	shape "$work/mtr" "mtr -p (the reference)"
	mf=$(final "$work/mtr")
	if [[ $(awk '{ print $1, $2 }' <<<"$hf") == "$(awk '{ print $1, $2 }' <<<"$mf")" ]]; then
		ok "the same hops and responders as mtr -p"
	else
		fail "hops differ from mtr's: hopwatch '$hf' mtr '$mf'"
	fi
else
	echo "note: no mtr here, the comparison with it is skipped"
fi

netsim_run "$HOPWATCH" --engine "$ENGINE" -p -n -b -c 1 -i "$INTERVAL" "$DST" \
	</dev/null >"$work/hwb" 2>&1
if grep -Eq "^$HOPS $DST $DST 0 1 1 [0-9]+ [0-9]+ [0-9]+$" "$work/hwb"; then
	ok "-p -b -n: the address twice, as mtr"
else
	fail "-p -b -n: $(tail -2 "$work/hwb")"
fi

# ---- keys, in a terminal ----
if command -v tmux >/dev/null; then
	tmux -S "$SOCK" -f /dev/null new-session -d -s sp -x 100 -y 200 \
		"HOPWATCH_OPTIONS= ip netns exec '$NETSIM_NS' '$HOPWATCH' --engine '$ENGINE' \
		-p -n -i $INTERVAL $DST; echo HW_EXIT=\$?; exec sleep 600"
	pane() { tmux -S "$SOCK" capture-pane -p -S - -t sp 2>/dev/null; }
	wait_for() {
		local i
		for ((i = 0; i < WAIT_S * 10; i++)); do
			pane | grep -Eq -- "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	if wait_for "^$HOPS $DST 0 [0-9]+ "; then
		tmux -S "$SOCK" send-keys -t sp r
		# The lines go deepest first, down to the hops the new round has reached.
		if wait_for '^-[2-6]$' &&
			pane | grep -E '^-[0-9]+$' | awk 'NR > 1 && $0 != prev + 1 { bad = 1 }
				{ prev = $0 } END { exit bad }'; then
			ok "r: the hops' lines are taken away, deepest first ($(pane | grep -E '^-[0-9]+$' | tr '\n' ' '))"
		else
			fail "r: no -N lines in order"
		fi
		tmux -S "$SOCK" send-keys -t sp q
		if wait_for 'HW_EXIT=0$'; then ok "q quits, exit 0"; else fail "q did not quit"; fi
	else
		fail "-p in a terminal: no line for the destination"
	fi
fi

if ((fails)); then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "all split checks passed"
