#!/usr/bin/env bash
# test_protocol.sh: protocol conformance of hopwatchd (test_protocol.py) in a 3-router lab.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec bash "$HERE/run_in_lab.sh" 3 test_protocol.py "$@"
