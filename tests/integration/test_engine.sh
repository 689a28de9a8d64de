#!/usr/bin/env bash
# test_engine.sh: hopwatchd's behaviour as a process (privilege drop, mark and local-device
# through the broker, two engines side by side, back-pressure, end of input, kernel
# timestamps, start-up without CAP_NET_RAW). The cases live in test_engine.py; this only
# gives them a 3-router lab through run_in_lab.sh, which owns the lab's teardown.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUTERS=3

exec bash "$HERE/run_in_lab.sh" "$ROUTERS" "$HERE/test_engine.py" "$@"
