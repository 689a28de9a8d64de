#!/usr/bin/env bash
# test_abuse.sh: hopwatchd's socket mode under about 200 hostile connections of several
# uids while a well-behaved uid traces (per-uid connection and probe-slot shares, idle
# timeout, bounded memory). The cases live in test_abuse.py; this gives them a 3-router lab
# through run_in_lab.sh, which owns the lab's teardown.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUTERS=3

exec bash "$HERE/run_in_lab.sh" "$ROUTERS" "$HERE/test_abuse.py" "$@"
