#!/usr/bin/env bash
# report_time.sh: time until a report is ready, hopwatch vs the real mtr, in one run.
# Builds a namespace lab of kernel routers and runs, alternately, `hopwatch -r -n -c C -i I`
# (with build/daemon/hopwatchd as its engine) and `mtr -r -n -c C -i I` (with its own
# mtr-packet) against the lab's destination, for each interval; prints every run, the
# medians and the ratios hopwatch/mtr against the targets (<= 0.7x at -i 1, <= 0.25x at
# -i 0.1). Figures, not a pass/fail test. Needs root. Every probe stays inside the lab.
set -uo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$SRC_DIR/build
ROUNDS=3
COUNT=10
ROUTERS=6
INTERVALS=(1 0.1)

usage() {
	cat <<EOF
usage: sudo $0 [--build DIR] [--rounds R] [--count C] [--routers N]
  --build DIR    meson build directory with client/hopwatch and daemon/hopwatchd (default $BUILD)
  --rounds R     runs per tool and interval, alternating (default $ROUNDS)
  --count C      report cycles, -c (default $COUNT)
  --routers N    routers in the lab path (default $ROUTERS)
EOF
}

while (($#)); do
	case $1 in
	--build) BUILD=$2 ; shift ;;
	--rounds) ROUNDS=$2 ; shift ;;
	--count) COUNT=$2 ; shift ;;
	--routers) ROUTERS=$2 ; shift ;;
	-h | --help) usage ; exit 0 ;;
	*) usage >&2 ; exit 2 ;;
	esac
	shift
done

HOPWATCH=$BUILD/client/hopwatch
for f in "$HOPWATCH" "$BUILD/daemon/hopwatchd" /usr/bin/mtr /usr/bin/mtr-packet; do
	[[ -x $f ]] || { echo "report_time: missing $f (build first, install mtr-tiny)" >&2; exit 1; }
done

# shellcheck source=tests/integration/lab.sh
source "$SRC_DIR/tests/integration/lab.sh"
lab_create "$ROUTERS" >/dev/null

# elapsed CMD...: wall seconds of one command run in the lab's source namespace.
elapsed() {
	local t0 t1
	t0=$(date +%s.%N)
	lab_src "$@" >/dev/null 2>&1 || echo "report_time: failed: $*" >&2
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo "report time: $ROUNDS rounds, -c $COUNT, $ROUTERS routers, target $LAB_DST4"
printf '%-9s %-6s %-9s %9s\n' interval round tool seconds
for iv in "${INTERVALS[@]}"; do
	hw=() mt=()
	for ((r = 1; r <= ROUNDS; r++)); do
		t=$(elapsed env HOPWATCH_ENGINE="$BUILD/daemon/hopwatchd" HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1 \
			"$HOPWATCH" -r -n -c "$COUNT" -i "$iv" "$LAB_DST4")
		hw+=("$t")
		printf '%-9s %-6s %-9s %9.3f\n' "$iv" "$r" hopwatch "$t"
		t=$(elapsed env -u MTR_PACKET -u MTR_OPTIONS mtr -r -n -c "$COUNT" -i "$iv" "$LAB_DST4")
		mt+=("$t")
		printf '%-9s %-6s %-9s %9.3f\n' "$iv" "$r" mtr "$t"
	done
	mh=$(median "${hw[@]}")
	mm=$(median "${mt[@]}")
	target=0.7
	[[ $iv == 0.1 ]] && target=0.25
	ratio=$(awk -v a="$mh" -v b="$mm" 'BEGIN { printf "%.3f", a / b }')
	met=NOT
	awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r <= t) }' && met=""
	printf 'median -i %-4s hopwatch %.3f s  mtr %.3f s  ratio %.3fx  target <= %sx  %s met\n' \
		"$iv" "$mh" "$mm" "$ratio" "$target" "$met"
done
