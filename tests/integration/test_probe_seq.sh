#!/usr/bin/env bash
# test_probe_seq.sh: test_probe_seq.py in a namespace of its own with loopback only, so
# its raw sockets see the engine's probes and nothing else; the namespace goes on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=hwseq-$$-$RANDOM

if (($(id -u) != 0)); then
	echo "SKIP: needs root (network namespace, raw sockets)"
	exit 77
fi
trap 'ip netns del "$NS" 2>/dev/null' EXIT
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up || exit 1
ip netns exec "$NS" python3 "$HERE/test_probe_seq.py" -v
