#!/usr/bin/env bash
# test_reaping.sh: no zombie and no orphan from the CLI, the engine and its broker, and
# the engine's socket file handled safely (test_reaping.py has the cases). Every probe
# goes to 127.0.0.1 inside a network namespace of its own (unshare --net, only lo up),
# which the kernel removes with its last process, so there is nothing to clean up.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root (network namespace, the engine's privilege drop)" >&2
	exit 77
fi
exec unshare --net -- bash -c 'ip link set lo up && exec python3 "$1"' _ "$HERE/test_reaping.py"
