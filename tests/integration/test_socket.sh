#!/usr/bin/env bash
# test_socket.sh: hopwatchd's socket mode (--listen and systemd socket activation): many
# clients of different uids, per-uid limits, SIGTERM, the CLI over the socket. The cases
# live in test_socket.py; this only gives them a 3-router lab through run_in_lab.sh, which
# owns the lab's teardown.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUTERS=3

exec bash "$HERE/run_in_lab.sh" "$ROUTERS" "$HERE/test_socket.py" "$@"
