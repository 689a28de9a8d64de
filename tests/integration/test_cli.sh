#!/usr/bin/env bash
# test_cli.sh: hopwatch against the real mtr on the same isolated lab path (6 routers).
#  1. `hopwatch -r -n -c 5` and `mtr -r -n -c 5` list the same hops with the same Snt.
#  2. With router 3 dropping 30% of what it forwards to the destination, both see loss
#     from hop 4 (the first hop behind the drop) on and none before it.
# Every probe starts in the lab's source namespace; hopwatch spawns the engine under test
# ($HOPWATCH_BUILD/daemon/hopwatchd) through HOPWATCH_ENGINE, so no shared daemon socket
# outside the lab can ever be used.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=6
COUNT=5
LOSS_COUNT=30    # probes per hop for the loss check: 0.7^30 leaves no room for luck
LOSS_INTERVAL=0.2
DROP_ROUTER=3
RUN_TIMEOUT_S=120
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$HOPWATCH" /usr/bin/mtr-packet; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done
command -v mtr >/dev/null || {
	echo "FAIL: mtr is not installed" >&2
	exit 1
}

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

# rows FILE: "hop host loss snt" per report row (mtr's layout, which hopwatch -r copies).
rows() {
	awk '$1 ~ /^[0-9]+\.\|--$/ {
		sub(/\..*$/, "", $1); sub(/%$/, "", $3); print $1, $2, $3, $4 }' "$1"
}

run_both() {
	local tag=$1
	shift
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= timeout "$RUN_TIMEOUT_S" \
		"$HOPWATCH" -r -n "$@" "$LAB_DST4" >"$work/$tag.hw" 2>"$work/$tag.hw.err" ||
		echo "hopwatch exit $? ($(head -1 "$work/$tag.hw.err"))" >>"$work/errors"
	lab_src env MTR_PACKET=/usr/bin/mtr-packet timeout "$RUN_TIMEOUT_S" \
		mtr -r -n "$@" "$LAB_DST4" >"$work/$tag.mtr" 2>"$work/$tag.mtr.err" ||
		echo "mtr exit $?" >>"$work/errors"
	rows "$work/$tag.hw" >"$work/$tag.hw.rows"
	rows "$work/$tag.mtr" >"$work/$tag.mtr.rows"
}

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# 1. Same hops, same Snt.
run_both plain -c "$COUNT"
if [[ -s $work/errors ]]; then
	fail "$(cat "$work/errors")"
fi
cut -d' ' -f1,2,4 "$work/plain.hw.rows" >"$work/plain.hw.cmp"
cut -d' ' -f1,2,4 "$work/plain.mtr.rows" >"$work/plain.mtr.cmp"
if ! diff -u "$work/plain.mtr.cmp" "$work/plain.hw.cmp"; then
	fail "hops or Snt differ from mtr (left mtr, right hopwatch)"
	cat "$work/plain.hw" "$work/plain.mtr" >&2
elif (($(wc -l <"$work/plain.hw.cmp") != ROUTERS + 1)); then
	fail "expected $((ROUTERS + 1)) hops, got $(wc -l <"$work/plain.hw.cmp")"
else
	echo "ok: same hops and Snt as mtr:"
	cat "$work/plain.hw"
fi

# 2. Loss from the router behind the drop on, for both tools.
lab_nft "$DROP_ROUTER" "ip daddr $LAB_DST4 numgen random mod 10 < 3 drop" ||
	fail "nft rule"
rm -f "$work/errors"
run_both loss -c "$LOSS_COUNT" -i "$LOSS_INTERVAL"
[[ -s $work/errors ]] && fail "$(cat "$work/errors")"
for tool in hw mtr; do
	# Hops 1..DROP_ROUTER see nothing dropped; each hop after it loses some.
	bad=$(awk -v d="$DROP_ROUTER" '($1 <= d && $3 != "0.0") || ($1 > d && $3 == "0.0")' \
		"$work/loss.$tool.rows")
	n=$(wc -l <"$work/loss.$tool.rows")
	if [[ -n $bad ]] || ((n != ROUTERS + 1)); then
		fail "$tool: loss not where the drop is ($n rows): $bad"
		cat "$work/loss.$tool" >&2
	else
		echo "ok: $tool sees loss from hop $((DROP_ROUTER + 1)) on:"
		cat "$work/loss.$tool"
	fi
done

((FAILS == 0)) || exit 1
echo "PASS"
