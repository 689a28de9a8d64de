#!/usr/bin/env bash
# demo.sh: show hopwatch at work. Without arguments it builds a 6-router namespace lab
# (tests/integration/lab.sh), traces 203.0.113.1 from the lab's source with the hopwatch
# CLI and its engine, and removes the lab again. With an argument, that target is traced
# from this host instead (no lab: real probes leave this machine, so only do that on
# purpose). Engine: $HOPWATCH_ENGINE if set, else build/daemon/hopwatchd.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# ---- the demo scenario: change the lab and the command here, nowhere else ----------------
DEMO_ROUTERS=6
DEMO_LAB_TARGET=203.0.113.1
DEMO_CMD=("$ROOT/build/client/hopwatch" -r -n -c 10 --analyze) # + TARGET
# -------------------------------------------------------------------------------------------

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

if [[ $# -ge 1 ]]; then
	echo "demo: tracing $1 from this host"
	"${DEMO_CMD[@]}" "$1"
	exit
fi

# shellcheck source=tests/integration/lab.sh
source "$ROOT/tests/integration/lab.sh"
lab_create "$DEMO_ROUTERS" # installs the trap that deletes the lab on any exit
echo "demo: lab of $DEMO_ROUTERS routers, tracing $DEMO_LAB_TARGET from $LAB_SRC"
lab_src env HOPWATCH_ENGINE="$HOPWATCH_ENGINE" "${DEMO_CMD[@]}" "$DEMO_LAB_TARGET"
rc=$?
lab_destroy
exit "$rc"
