#!/usr/bin/env bash
# test_mtr_interop.sh: the real mtr front end must see no difference between our engine and
# its own mtr-packet. In a 6-router lab, for IPv4/IPv6 x ICMP/UDP/TCP, runs
# `mtr -r -n -c 3` once with MTR_PACKET=<engine under test> and once with the stock
# /usr/bin/mtr-packet, and requires the same hop addresses (the lab's own), the same Snt
# on every row and 0.0% loss everywhere.
#
# Engine under test: $ENGINE, else $HOPWATCH_BUILD/daemon/hopwatchd. To check this harness
# without our engine, run it with ENGINE=/usr/bin/mtr-packet.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=6
COUNT=3
MTR_TIMEOUT_S=120 # a 3-cycle report takes ~8 s; a hung engine must not hang the suite
STOCK=/usr/bin/mtr-packet
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=${ENGINE:-$BUILD/daemon/hopwatchd}

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$STOCK"; do
	if [[ ! -x $f ]]; then
		echo "FAIL: engine not found or not executable: $f" >&2
		exit 1
	fi
done
command -v mtr >/dev/null || {
	echo "FAIL: mtr is not installed (apt-get install mtr-tiny)" >&2
	exit 1
}
ENGINE=$(readlink -f "$ENGINE")

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

# run_mtr HELPER OUTFILE OPTS... TARGET: report rows as "hop host loss snt", one a line.
run_mtr() {
	local helper=$1 out=$2 rc
	shift 2
	lab_src env MTR_PACKET="$helper" timeout "$MTR_TIMEOUT_S" \
		mtr -r -n -c "$COUNT" "$@" >"$out.raw" 2>"$out.err"
	rc=$?
	# Row: "  1.|-- 198.51.100.2   0.0%   3   0.1 ..."; a hop that never answered shows "???".
	awk '$1 ~ /^[0-9]+\.\|--$/ {
		sub(/\..*$/, "", $1); sub(/%$/, "", $3); print $1, $2, $3, $4 }' \
		"$out.raw" >"$out"
	return "$rc"
}

FAILS=0
COMBOS=0

compare() {
	local fam=$1 mode=$2 target opts=() name expect
	local a=$work/engine b=$work/stock bad=0

	if [[ $fam == -4 ]]; then
		target=$LAB_DST4
		expect=("${LAB_HOP4[@]}" "$LAB_DST4")
	else
		target=$LAB_DST6
		expect=("${LAB_HOP6[@]}" "$LAB_DST6")
	fi
	opts=("$fam")
	[[ $mode != icmp ]] && opts+=("$mode")
	name="mtr ${opts[*]} $target"
	COMBOS=$((COMBOS + 1))

	if ! run_mtr "$ENGINE" "$a" "${opts[@]}" "$target"; then
		echo "FAIL $name: mtr with $ENGINE exited non-zero"
		sed 's/^/     /' "$a.err" "$a.raw"
		bad=1
	fi
	if ! run_mtr "$STOCK" "$b" "${opts[@]}" "$target"; then
		echo "FAIL $name: mtr with $STOCK exited non-zero"
		sed 's/^/     /' "$b.err" "$b.raw"
		bad=1
	fi

	printf '%s\n' "${expect[@]}" >"$work/expect"
	printf '\n== %s\n   %-4s %-18s %-18s %-18s %-13s %s\n' "$name" hop expected engine stock \
		"Loss% e/s" "Snt e/s"
	paste -d'|' "$work/expect" "$a" "$b" | awk -F'|' '{
		split($2, e, " "); split($3, s, " ")
		printf "   %-4s %-18s %-18s %-18s %5s/%-7s %s/%s\n", NR, $1, e[2], s[2], e[3], s[3],
			e[4], s[4] }'

	local side file
	for side in engine stock; do
		file=$work/$side
		if ! diff -u "$work/expect" <(awk '{ print $2 }' "$file") >"$work/diff"; then
			echo "FAIL $name: $side hop addresses differ from the lab's (-lab +$side)"
			sed 's/^/     /' "$work/diff"
			bad=1
		fi
		if awk '$3 != "0.0" { exit 1 }' "$file"; then :; else
			echo "FAIL $name: $side reports loss:"
			awk '$3 != "0.0" { print "     hop " $1 " " $2 " loss " $3 "%" }' "$file"
			bad=1
		fi
		if awk -v c="$COUNT" '$4 != c { exit 1 }' "$file"; then :; else
			echo "FAIL $name: $side Snt is not $COUNT on every row"
			bad=1
		fi
	done
	if ! diff -u <(awk '{ print $1, $2, $4 }' "$b") <(awk '{ print $1, $2, $4 }' "$a") \
		>"$work/diff"; then
		echo "FAIL $name: hop/host/Snt differ (-stock +engine)"
		sed 's/^/     /' "$work/diff"
		bad=1
	fi
	if ((bad)); then
		FAILS=$((FAILS + 1))
	else
		echo "ok   $name: engine and stock agree"
	fi
}

echo "engine under test: $ENGINE"
echo "reference:         $STOCK"
for fam in -4 -6; do
	for mode in icmp -u -T; do
		compare "$fam" "$mode"
	done
done

echo
if ((FAILS)); then
	echo "$FAILS of $COMBOS comparisons failed"
	exit 1
fi
echo "all $COMBOS comparisons passed"
