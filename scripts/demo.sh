#!/usr/bin/env bash
# demo.sh: show hopwatch at work. Without arguments it builds a 6-router namespace lab
# (tests/integration/lab.sh), traces 203.0.113.1 from the lab's source with our engine and
# removes the lab again. With an argument, that target is traced from this host instead
# (no lab: real probes leave this machine, so only do that on purpose).
# Engine: $MTR_PACKET if set, else build/daemon/hopwatchd.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# ---- the demo scenario: change the lab and the command here, nowhere else ----------------
DEMO_ROUTERS=6
DEMO_LAB_TARGET=203.0.113.1
DEMO_CMD=(mtr -r -n -c 10) # + TARGET; later: the hopwatch CLI with --analyze
# -------------------------------------------------------------------------------------------

bash scripts/setup.sh </dev/null >/dev/null || {
	echo "demo: setup.sh failed; run it by hand to see why" >&2
	exit 1
}

engine=${MTR_PACKET:-$ROOT/build/daemon/hopwatchd}
if [[ ! -x $engine ]]; then
	echo "demo: $engine is not built; aborting" >&2
	exit 1
fi
export MTR_PACKET=$engine
echo "demo: engine $MTR_PACKET"

if [[ $# -ge 1 ]]; then
	echo "demo: tracing $1 from this host"
	"${DEMO_CMD[@]}" "$1"
	exit
fi

# shellcheck source=tests/integration/lab.sh
source "$ROOT/tests/integration/lab.sh"
lab_create "$DEMO_ROUTERS" # installs the trap that deletes the lab on any exit
echo "demo: lab of $DEMO_ROUTERS routers, tracing $DEMO_LAB_TARGET from $LAB_SRC"
lab_src env MTR_PACKET="$MTR_PACKET" "${DEMO_CMD[@]}" "$DEMO_LAB_TARGET"
rc=$?
lab_destroy
exit "$rc"
