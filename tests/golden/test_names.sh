#!/usr/bin/env bash
# test_names.sh: hop names where mtr shows them, with the scripted fake engine (no probe
# leaves the process) and fakedns.py inside a throwaway lab namespace (needs root).
#  1. -l with names: the raw lines equal expected/raw (mtr 0.95's layout for the golden
#     transcript) plus mtr's "d HOP NAME" lines: once per named hop, right before the
#     first answer after the name arrived (round 2, as mtr's raw_rawping does).
#     Checked against the real mtr 0.95 (same engine, transcript and fakedns): equal
#     except that mtr adds "d HOP ADDRESS" for hops without a name (getnameinfo's
#     numeric fallback), which hopwatch leaves out.
#  2. Live view started with -n: no DNS query at all until 'n'; then the resolver is
#     made and the names appear in the table.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
integ=$here/../integration
# shellcheck source=tests/integration/lab.sh
source "$integ/lab.sh"

DNS_ADDR=127.0.0.53
READY_TRIES=50 # x 0.1 s for the server to bind
WAIT_S=15      # longest wait for the live view to show something
HOPWATCH=$(readlink -f "${HOPWATCH:?}")

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for a network namespace" >&2
	exit 77
fi
command -v tmux >/dev/null || {
	echo "SKIP: tmux is not installed" >&2
	exit 77
}

work=$(mktemp -d)
SOCK=$work/tmux.sock
LAB_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null" "rm -rf '$work'")
lab_create 1 >/dev/null 2>&1 || {
	echo "FAIL: cannot build the lab" >&2
	exit 1
}

lab_src python3 "$integ/fakedns.py" --bind "$DNS_ADDR" --log "$work/queries" \
	--ready "$work/ready" --name "198.51.100.2=r1.lab.example" \
	--name "203.0.113.1=dst.lab.example" 2>"$work/fakedns.err" &
LAB_CLEANUP+=("kill $! 2>/dev/null")
for ((i = 0; i < READY_TRIES; i++)); do
	[[ -e $work/ready ]] && break
	sleep 0.1
done
[[ -e $work/ready ]] || {
	echo "FAIL: fakedns did not start: $(cat "$work/fakedns.err")" >&2
	exit 1
}
printf 'nameserver %s\n' "$DNS_ADDR" >"$work/resolv.conf"
touch "$work/queries"

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# ---- 1. -l with names ----
lab_src env HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt" \
	HOPWATCH_RESOLV_CONF="$work/resolv.conf" HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1 \
	"$HOPWATCH" -l -c 4 -m 5 203.0.113.1 >"$work/raw" 2>"$work/raw.err"
# The expected file with a d line before the second answer of hops 0 and 4.
awk '/^p 0 / && ++n0 == 2 { print "d 0 r1.lab.example" }
     /^p 4 / && ++n4 == 2 { print "d 4 dst.lab.example" } { print }' \
	"$here/expected/raw" >"$work/want"
if cmp -s "$work/want" "$work/raw" && [[ ! -s $work/raw.err ]]; then
	echo "ok: -l prints mtr's d lines"
else
	fail "-l with names differs from mtr's layout:"
	diff -u "$work/want" "$work/raw" >&2
	cat "$work/raw.err" >&2
fi

# ---- 2. live view: -n, then 'n' ----
: >"$work/queries"
tmux -S "$SOCK" -f /dev/null new-session -d -s names -x 120 -y 30 \
	"HOPWATCH_ENGINE='$here/fake_engine.py' FAKE_TRANSCRIPT='$here/transcript.txt' \
	HOPWATCH_RESOLV_CONF='$work/resolv.conf' HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1 \
	ip netns exec '$LAB_SRC' '$HOPWATCH' -n 203.0.113.1; exec sleep 600" || {
	echo "FAIL: tmux would not start" >&2
	exit 1
}
pane() { tmux -S "$SOCK" capture-pane -p -t names; }
wait_for() {
	local i
	for ((i = 0; i < WAIT_S * 10; i++)); do
		pane | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
if ! wait_for '^ +5\. 203\.0\.113\.1 '; then
	fail "the live view never showed the table"
	pane >&2
else
	sleep 1
	[[ -s $work/queries ]] && fail "-n sent DNS queries before 'n': $(cat "$work/queries")"
	pane | grep -q 'lab\.example' && fail "names shown with -n before 'n'"
	tmux -S "$SOCK" send-keys -t names n
	if wait_for '^ +1\. r1\.lab\.example ' && wait_for '^ +5\. dst\.lab\.example '; then
		echo "ok: 'n' after -n starts the resolver; names appear"
	else
		fail "'n' after -n: no names in the table"
		pane >&2
	fi
	tmux -S "$SOCK" send-keys -t names q
fi

((fails == 0)) || exit 1
echo "ok: test_names"
