#!/usr/bin/env bash
# demo.sh: show hopwatch at work, with a report and its diagnosis.
#   demo.sh           the built-in lab path: the realistic 15-hop scenario of the TUN path
#                     simulator (tests/netsim/scenarios/realistic15.scn, shaped like the seed
#                     document's sample: ICMP throttling at hops 2 and 6..9, a brief spike at
#                     hop 4, no real loss), in an isolated network namespace
#   demo.sh --lab     a path of six real kernel routers in network namespaces instead
#   demo.sh TARGET    TARGET traced from this host (real probes leave this machine: only on
#                     purpose)
# Engine: $HOPWATCH_ENGINE if set, else build/daemon/hopwatchd. Needs root.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# ---- the demo: change the paths and the command here, nowhere else ----------------------
DEMO_SCENARIO=$ROOT/tests/netsim/scenarios/realistic15.scn
DEMO_ROUTERS=6
DEMO_TARGET=203.0.113.1
# 30 rounds, 5 a second (root may go below 1 s, as with mtr): enough for the diagnosis to
# judge every hop, in about six seconds.
DEMO_CMD=("$ROOT/build/client/hopwatch" -r -n -c 30 -i 0.2 --analyze) # + TARGET
# -------------------------------------------------------------------------------------------

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: run as root (network namespaces, raw sockets)" >&2
	exit 1
fi

# Progress on stderr: on a new machine the package installation takes minutes.
bash scripts/setup.sh </dev/null >&2 || {
	echo "demo: setup.sh failed; run it by hand to see why" >&2
	exit 1
}

engine=${HOPWATCH_ENGINE:-$ROOT/build/daemon/hopwatchd}
if [[ ! -x $engine || ! -x ${DEMO_CMD[0]} ]]; then
	echo "demo: $engine or ${DEMO_CMD[0]} is not built; aborting" >&2
	exit 1
fi
export HOPWATCH_ENGINE=$engine
echo "demo: engine $HOPWATCH_ENGINE"

if [[ $# -ge 1 && $1 != --lab ]]; then
	echo "demo: tracing $1 from this host"
	"${DEMO_CMD[@]}" "$1"
	exit
fi

# Lab addresses are not worth remembering in the user's host history.
export HOPWATCH_NO_HISTORY=1

if [[ ${1:-} == --lab ]]; then
	# shellcheck source=tests/integration/lab.sh
	source "$ROOT/tests/integration/lab.sh"
	lab_create "$DEMO_ROUTERS" # installs the trap that deletes the lab on any exit
	echo "demo: lab of $DEMO_ROUTERS kernel routers, tracing $DEMO_TARGET from $LAB_SRC"
	lab_src env HOPWATCH_ENGINE="$HOPWATCH_ENGINE" HOPWATCH_NO_HISTORY=1 \
		"${DEMO_CMD[@]}" "$DEMO_TARGET"
	rc=$?
	lab_destroy
	exit "$rc"
fi

# shellcheck source=tests/netsim/netsim_lab.sh
source "$ROOT/tests/netsim/netsim_lab.sh"
export HOPWATCH_BUILD=$ROOT/build
netsim_create "$DEMO_SCENARIO" # installs the trap that removes the namespace on any exit
echo "demo: simulated path $(basename "$DEMO_SCENARIO"), tracing $DEMO_TARGET"
netsim_run env HOPWATCH_ENGINE="$HOPWATCH_ENGINE" HOPWATCH_NO_HISTORY=1 \
	"${DEMO_CMD[@]}" "$DEMO_TARGET"
rc=$?
netsim_destroy
exit "$rc"
