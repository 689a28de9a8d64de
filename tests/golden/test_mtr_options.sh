#!/usr/bin/env bash
# test_mtr_options.sh: options hopwatch takes from mtr and that must act as mtr's do,
# through the real binary and the scripted fake engine (which logs every command, so
# what the engine was asked to send is seen). No root, no network.
#  1. -s -200 and -B 300: each round's probes get one random size in 28..200 and one
#     random pattern, the same for all TTLs of a round, not the same every round (mtr's
#     net_send_batch); JSON and XML say rand(28-200) and rand(0x00-FF) as mtr's do (and,
#     when mtr is installed, as its own -B 300 output does). -s -28 leaves no room: 28.
#  2. -G 0.5 is half a second: with an answer that never comes, the run ends 1 s sooner
#     than with -G 1.5.
#  3. --ipinfo is range-checked: 9, -1, abc and 1.5 are refused with one line.
#  4. In a terminal (tmux, a server of its own): --displaymode 1 starts on the chart and 0
#     on the table; --report-on-exit --output FILE ends the view after -c rounds and writes
#     the report to FILE, none on the terminal.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${HOPWATCH:?}
ROUNDS=8       # rounds of the random draws: all alike by chance has odds below 1e-12
SIZE_MAX=200
COLS=120
ROWS=40
WAIT_S=15
work=$(mktemp -d)
SOCK=$work/tmux.sock # never the user's tmux server
trap 'tmux -S "$SOCK" kill-server 2>/dev/null; rm -rf "$work"' EXIT
export HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt"
export HOPWATCH_OPTIONS='' HOPWATCH_NO_HISTORY=1 HOPWATCH_FAKE_HOSTNAME=golden-host
out=$work/out err=$work/err log=$work/engine.log
fails=0

fail() {
	echo "FAIL: $*" >&2
	[[ -s $err ]] && sed 's/^/  stderr: /' "$err" >&2
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

# draws: "ttl size pattern" for each send-probe the engine got, in order (pattern 0 is
# the default and may be left out of the command).
draws() {
	awk '$2 == "send-probe" { t = s = ""; p = 0
		for (i = 1; i < NF; i++) { if ($i == "ttl") t = $(i + 1)
			if ($i == "size") s = $(i + 1); if ($i == "bit-pattern") p = $(i + 1) }
		print t, s, p }' "$log"
}

# ---- 1. random size and pattern, per round ----
rm -f "$log"
FAKE_LOG=$log "$bin" -j -n -c "$ROUNDS" -i 0.1 -s -$SIZE_MAX -B 300 203.0.113.1 >"$out" 2>"$err"
rc=$?
((rc == 0)) || fail "-s -$SIZE_MAX -B 300: exit $rc"
# Rounds begin at TTL 1; within one, every probe must carry the round's size and pattern.
verdict=$(draws | awk -v max=$SIZE_MAX '
	$2 < 28 || $2 > max || $3 < 0 || $3 > 255 { print "out of range: " $0; bad = 1; exit }
	$1 == 1 { if (n++) { ds += $2 != s; dp += $3 != p }; s = $2; p = $3; next }
	$2 != s || $3 != p { print "differs within a round: " $0; bad = 1; exit }
	END { if (!bad) print n, ds, dp }')
read -r nr ds dp <<<"$verdict"
if [[ $nr != "$ROUNDS" ]]; then
	fail "random draws: $verdict (want $ROUNDS rounds)"
elif ((ds == 0 || dp == 0)); then
	fail "the same size or pattern every round: $((ds)) size and $((dp)) pattern changes"
else
	ok "-s -$SIZE_MAX -B 300: $nr rounds, $ds size and $dp pattern changes between rounds"
fi
if grep -q '"psize": "rand(28-200)"' "$out" && grep -q '"bitpattern": "rand(0x00-FF)"' "$out"; then
	ok "JSON prints rand(28-200) and rand(0x00-FF)"
else
	fail "JSON lacks psize rand(28-200) or bitpattern rand(0x00-FF): $(grep -E 'psize|bitpattern' "$out")"
fi
"$bin" -x -n -c 1 -s -$SIZE_MAX -B 300 203.0.113.1 >"$out" 2>"$err"
if grep -q 'PSIZE="rand(28-200)" BITPATTERN="rand(0x00-FF)"' "$out"; then
	ok "XML prints rand(28-200) and rand(0x00-FF)"
else
	fail "XML lacks PSIZE=\"rand(28-200)\" BITPATTERN=\"rand(0x00-FF)\": $(grep '<MTR' "$out")"
fi

# mtr itself on the same fake engine (0.95 refuses a negative -s; -B 300 it takes).
if command -v mtr >/dev/null; then
	for fmt in -j -x; do
		MTR_PACKET="$here/fake_engine.py" mtr "$fmt" -n -c 1 -B 300 203.0.113.1 \
			>"$work/mtr$fmt" 2>/dev/null
		"$bin" "$fmt" -n -c 1 -B 300 203.0.113.1 >"$work/hw$fmt" 2>"$err"
		want=$(grep -oE '"bitpattern": "[^"]*"|BITPATTERN="[^"]*"' "$work/mtr$fmt")
		got=$(grep -oE '"bitpattern": "[^"]*"|BITPATTERN="[^"]*"' "$work/hw$fmt")
		if [[ -n $want && $want == "$got" ]]; then
			ok "mtr $fmt -B 300 says $want, so does hopwatch"
		else
			fail "mtr $fmt -B 300 says '$want', hopwatch '$got'"
		fi
	done
fi

rm -f "$log"
FAKE_LOG=$log "$bin" -r -n -c 2 -i 0.1 -s -28 203.0.113.1 >"$out" 2>"$err"
rc=$?
n=$(draws | awk '$2 != 28' | wc -l)
if ((rc != 0 || n != 0)) || ! grep -q send-probe "$log"; then
	fail "-s -28: exit $rc, $n probes not of size 28"
else
	ok "-s -28: every probe of size 28"
fi

# ---- 2. -G in fractions of a second ----
# grace G: the run's time in ms with a hop that never answers and -G G.
grace() {
	local t0
	t0=$(date +%s%N)
	FAKE_TRANSCRIPT="$here/transcript_sparse.txt" "$bin" -r -n -c 1 -G "$1" -Z 10 -m 3 \
		203.0.113.1 >"$out" 2>"$err" || fail "-G $1: exit $?"
	echo $((($(date +%s%N) - t0) / 1000000))
}
# The start (the fake engine is Python) costs the same both times: the difference is -G's.
short=$(grace 0.5)
long=$(grace 1.5)
if ((long - short < 750 || long - short > 1250 || short < 500)); then
	fail "-G 0.5 took $short ms, -G 1.5 $long ms (want 1 s apart)"
else
	ok "-G 0.5 took $short ms, -G 1.5 $long ms"
fi

# ---- 3. --ipinfo values ----
for v in 9 -1 abc 1.5; do
	"$bin" -r -n -c 1 --ipinfo="$v" 203.0.113.1 >"$out" 2>"$err"
	rc=$?
	if ((rc == 0)) || (($(wc -l <"$err") != 1)) || [[ -s $out ]] ||
		! grep -qF "'$v' for -y (--ipinfo)" "$err"; then
		fail "--ipinfo=$v: exit $rc, stderr '$(cat "$err")'"
	else
		ok "--ipinfo=$v -> $(cat "$err")"
	fi
done

# ---- 4. the live view ----
if ! command -v tmux >/dev/null; then
	echo "skip: tmux is not installed (live view checks)"
else
	pane() { tmux -S "$SOCK" capture-pane -p -t tui 2>/dev/null; }
	wait_for() {
		local i
		for ((i = 0; i < WAIT_S * 10; i++)); do
			pane | grep -Eq -- "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	# start ARGS...: hopwatch ARGS in a fresh tmux session; the pane keeps its exit status.
	start() {
		tmux -S "$SOCK" kill-server 2>/dev/null
		sleep 0.2
		tmux -S "$SOCK" -f /dev/null new-session -d -s tui -x "$COLS" -y "$ROWS" \
			"'$bin' $*; echo HW_EXIT=\$?; exec sleep 600"
	}
	start -n -i 0.2 --displaymode 1 203.0.113.1
	if wait_for '^Scale:' && ! pane | grep -q 'Loss%'; then
		ok "--displaymode 1 starts on the chart"
	else
		fail "--displaymode 1 did not start on the chart: $(pane | head -8)"
	fi
	tmux -S "$SOCK" send-keys -t tui q
	wait_for '^HW_EXIT=0' || fail "--displaymode 1: no exit 0 after q"
	start -n -i 0.2 --displaymode 0 203.0.113.1
	if wait_for 'Loss%' && ! pane | grep -q '^Scale:'; then
		ok "--displaymode 0 starts on the table"
	else
		fail "--displaymode 0 did not start on the table: $(pane | head -8)"
	fi
	tmux -S "$SOCK" send-keys -t tui q
	wait_for '^HW_EXIT=0' || fail "--displaymode 0: no exit 0 after q"

	start -n -c 2 -i 0.2 --report-on-exit --output "$work/report.txt" 203.0.113.1
	if ! wait_for '^HW_EXIT='; then
		fail "--report-on-exit --output: the view did not end after -c 2"
	elif ! pane | grep -q '^HW_EXIT=0'; then
		fail "--report-on-exit --output: $(pane | grep HW_EXIT)"
	elif ! grep -q '^HOST: ' "$work/report.txt" ||
		! grep -Eq '^ +[0-9]+\.\|-- 203\.0\.113\.1 .* 2 ' "$work/report.txt"; then
		fail "--report-on-exit --output: no report with Snt 2 in the file: $(cat "$work/report.txt")"
	elif pane | grep -q '^HOST: '; then
		fail "--report-on-exit --output: the report went to the terminal as well"
	else
		ok "--report-on-exit --output FILE from the live view: report in the file only"
	fi
fi

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
