#!/usr/bin/env bash
# run_in_lab.sh N SCRIPT [ARGS...]: build an N-router namespace lab (lab.sh), then run the
# Python test SCRIPT with the lab described in its environment; the script's exit code is
# ours, and the lab is destroyed on exit whatever happens (lab.sh owns the EXIT trap).
#
# Environment given to SCRIPT:
#   LAB_SRC LAB_DST LAB_DST4 LAB_DST6 LAB_PREFIX  as lab.sh sets them
#   LAB_ROUTERS LAB_HOP4 LAB_HOP6                 space-separated lists, router 1 first
#   HOPWATCH_ENGINE                               $HOPWATCH_ENGINE, else
#                                                 $HOPWATCH_BUILD/daemon/hopwatchd
#   PYTHONPATH                                    this directory first (enginetest.py)
# A relative SCRIPT is looked up in this directory, so meson can pass bare names.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

if (($# < 2)); then
	echo "usage: run_in_lab.sh ROUTERS SCRIPT [ARGS...]" >&2
	exit 2
fi
routers=$1
script=$2
shift 2
if [[ $script != /* && ! -e $script ]]; then
	script=$HERE/$script
fi
if [[ ! -r $script ]]; then
	echo "FAIL: test script not found: $script" >&2
	exit 1
fi

BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
engine=${HOPWATCH_ENGINE:-$BUILD/daemon/hopwatchd}
if [[ ! -x $engine ]]; then
	echo "FAIL: engine not found or not executable: $engine (set HOPWATCH_BUILD)" >&2
	exit 1
fi
command -v python3 >/dev/null || {
	echo "FAIL: python3 is not installed" >&2
	exit 1
}

lab_create "$routers"

# Not exec: the EXIT trap must still tear the lab down after the script ends. Arrays do
# not survive export, so the lists travel as space-separated strings.
env LAB_ROUTERS="${LAB_ROUTERS[*]}" LAB_HOP4="${LAB_HOP4[*]}" LAB_HOP6="${LAB_HOP6[*]}" \
	HOPWATCH_ENGINE="$(readlink -f "$engine")" \
	PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
	python3 "$script" "$@"
rc=$?
exit "$rc"
