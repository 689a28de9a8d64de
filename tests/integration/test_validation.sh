#!/usr/bin/env bash
# test_validation.sh: test_validation.py in a namespace of its own (loopback, and the
# veth pairs its cases make and delete), so no probe leaves it; the namespace goes on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=hwval-$$-$RANDOM

if (($(id -u) != 0)); then
	echo "SKIP: needs root (network namespace)"
	exit 77
fi
trap 'ip netns del "$NS" 2>/dev/null' EXIT
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up || exit 1
ip netns exec "$NS" python3 "$HERE/test_validation.py" -v
