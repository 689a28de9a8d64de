#!/bin/bash
# test_netsim_flows: --ecmp paris and --flows on the simulator's ECMP path (ecmp.scn: hop 2
# two routers picked by flow hash, hop 3 three picked per packet). hopwatch runs inside a
# netsim namespace; test_netsim_flows_check.py then checks, against the simulator's own
# hashing rule and its probe log, that
#   - classic probing spreads over both hop-2 routers (so the next check can fail),
#   - --ecmp paris sees exactly one responder at every flow-hashed hop, the one the
#     simulator's hash picks for flow id 0 (ICMP and UDP),
#   - --flows 4 records each flow's own path: per flow, hop 2 is the router the hash picks
#     for that flow id, and its Snt/Rcv/Avg agree with the log; the -r report lists the
#     hops where the flows differ, and only those.
set -u
src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
# shellcheck source=tests/netsim/netsim_lab.sh
source "$src/tests/netsim/netsim_lab.sh"

CYCLES=32
INTERVAL=0.05
scn=$src/tests/netsim/scenarios/ecmp.scn
hopwatch=$build/client/hopwatch
engine=$build/daemon/hopwatchd
[[ -x $hopwatch && -x $engine ]] || {
	echo "SKIP: build hopwatch and hopwatchd first ($build)" >&2
	exit 77
}

# name hopwatch-options... (target last)
runs=(
	"classic -j 203.0.113.1"
	"paris -j --ecmp paris 203.0.113.1"
	"paris_udp -j --ecmp paris -u 203.0.113.1"
	"flows -j --flows 4 203.0.113.1"
	"flows_udp -j --flows 4 -u 203.0.113.1"
	"flows_report -r --flows 4 203.0.113.1"
)

# shellcheck disable=SC2034 # read by netsim_lab.sh
NETSIM_OPTS=(--busy-poll --kernel-ts)
out=$(mktemp -d /tmp/netsim-flows.XXXXXX)
NETSIM_CLEANUP+=("rm -rf '$out'")
netsim_create "$scn"
for run in "${runs[@]}"; do
	read -r -a w <<<"$run"
	name=${w[0]}
	netsim_restart "$scn"
	netsim_run "$hopwatch" --engine "$engine" -n -c "$CYCLES" -i "$INTERVAL" -G 1 \
		"${w[@]:1}" >"$out/$name.out" 2>"$out/$name.err" ||
		echo "hopwatch failed on $name: $(head -3 "$out/$name.err")" >&2
	netsim_flush
	cp "$NETSIM_LOG" "$out/$name.log"
done
python3 "$src/tests/integration/test_netsim_flows_check.py" "$scn" "$out" "$CYCLES"
