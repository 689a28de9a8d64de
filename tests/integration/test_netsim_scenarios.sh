#!/bin/bash
# test_netsim_scenarios: hopwatch against every scenario of tests/netsim/scenarios/, each
# run inside a netsim namespace (tests/netsim/netsim_lab.sh). Each run's JSON report and
# the simulator's probe log go to one directory; test_netsim_check.py then checks every
# hop table (addresses, loss pattern, latency shape) against what the scenario says.
set -u
src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
# shellcheck source=tests/netsim/netsim_lab.sh
source "$src/tests/netsim/netsim_lab.sh"

CYCLES=20
INTERVAL=0.1
scn_dir=$src/tests/netsim/scenarios
hopwatch=$build/client/hopwatch
engine=$build/daemon/hopwatchd
[[ -x $hopwatch && -x $engine ]] || {
	echo "SKIP: build hopwatch and hopwatchd first ($build)" >&2
	exit 77
}

# name scenario hopwatch-options... (target last)
runs=(
	"clean clean -4 203.0.113.1"
	"clean6 clean -6 2001:db8:ffff::1"
	"throttle_hop throttle_hop 203.0.113.1"
	"loss_from_hop loss_from_hop 203.0.113.1"
	"loss_mixed loss_mixed 203.0.113.1"
	"latency_step latency_step 203.0.113.1"
	"spike_one_hop spike_one_hop 203.0.113.1"
	"high_stdev high_stdev 203.0.113.1"
	"brief_spike brief_spike -c 40 203.0.113.1"
	"dest_drops_icmp dest_drops_icmp 203.0.113.1"
	"dest_drops_icmp_udp dest_drops_icmp -u 203.0.113.1"
	"dest_throttle dest_throttle 203.0.113.1"
	"loop loop -m 10 203.0.113.1"
	"interruption interruption -m 10 203.0.113.1"
	"ecmp ecmp -c 60 203.0.113.1"
	"mpls mpls -e 203.0.113.1"
	"realistic15 realistic15 -c 30 203.0.113.1"
	"realistic15_tcp6 realistic15 -T -P 443 -6 2001:db8:ffff::1"
	"scale scale 203.0.113.77"
)

# Spin instead of sleeping, so that wake-up latency does not count as RTT, and take the
# truth from kernel timestamps on the TUN (README.md, Timing).
# shellcheck disable=SC2034 # read by netsim_lab.sh
NETSIM_OPTS=(--busy-poll --kernel-ts)
out=$(mktemp -d /tmp/netsim-scenarios.XXXXXX)
NETSIM_CLEANUP+=("rm -rf '$out'")
netsim_create "$scn_dir/clean.scn"
for run in "${runs[@]}"; do
	read -r -a w <<<"$run"
	name=${w[0]}
	netsim_restart "$scn_dir/${w[1]}.scn"
	netsim_run "$hopwatch" --engine "$engine" -j -n -c "$CYCLES" -i "$INTERVAL" -G 1 \
		"${w[@]:2}" >"$out/$name.json" 2>"$out/$name.err" ||
		echo "hopwatch failed on $name: $(head -3 "$out/$name.err")" >&2
	netsim_flush
	cp "$NETSIM_LOG" "$out/$name.log"
done
python3 "$src/tests/integration/test_netsim_check.py" "$out"
