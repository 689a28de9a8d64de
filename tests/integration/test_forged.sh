#!/usr/bin/env bash
# test_forged.sh: forged ICMP errors and echo replies, sent by a forger on the router next
# to the client while the probes they imitate are in flight, must never become a probe's
# result. The cases live in test_forged.py (the forger in forge_inject.py); this only gives
# them a 2-router lab through run_in_lab.sh, which owns the lab's teardown.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUTERS=2

exec bash "$HERE/run_in_lab.sh" "$ROUTERS" "$HERE/test_forged.py" "$@"
