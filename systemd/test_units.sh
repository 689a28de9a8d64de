#!/usr/bin/env bash
# test_units.sh SERVICE SOCKET HOPWATCHD: systemd-analyze verify finds nothing wrong in
# the configured units (ExecStart pointed at the built hopwatchd, since the installed path
# need not exist yet), the service got its sbindir, and a planted error is reported, so a
# checker that stopped seeing errors fails too. Exit 77 (skip) without systemd-analyze.
set -u
service=${1:?usage: test_units.sh SERVICE SOCKET HOPWATCHD}
sock=${2:?}
daemon=${3:?}
command -v systemd-analyze >/dev/null || {
	echo "SKIP: systemd-analyze is not installed"
	exit 77
}
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -q '^ExecStart=/.*/hopwatchd$' "$service" || fail "ExecStart not configured: $(grep ExecStart "$service")"
grep -qE '@[a-z]+@' "$service" && fail "unsubstituted @...@ in $service"
grep -q '^ListenStream=/run/hopwatch/engine.sock$' "$sock" || fail "socket path is not /run/hopwatch/engine.sock"
grep -q '^SocketMode=0666$' "$sock" || fail "socket mode is not 0666"

# verify: the units side by side, the daemon where ExecStart says.
verify() {
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$@" 2>&1 |
		grep -v -e 'Failed to connect to bus' -e 'Failed to create .* control group' \
			-e 'Failed to initialize manager' -e '^$'
}
mkdir "$tmp/good"
sed "s|^ExecStart=.*|ExecStart=$(readlink -f "$daemon")|" "$service" >"$tmp/good/hopwatchd.service"
cp "$sock" "$tmp/good/hopwatchd.socket"
out=$(cd "$tmp/good" && verify hopwatchd.socket hopwatchd.service)
[[ -z $out ]] || fail "systemd-analyze verify: $out"

# Self-test: an unknown directive and a relative ExecStart must be reported.
mkdir "$tmp/bad"
sed -e "s|^ExecStart=.*|ExecStart=hopwatchd-missing|" -e 's|^ProtectHome=.*|ProtectHomeX=yes|' \
	"$service" >"$tmp/bad/hopwatchd.service"
cp "$sock" "$tmp/bad/hopwatchd.socket"
out=$(cd "$tmp/bad" && verify hopwatchd.socket hopwatchd.service)
[[ -n $out ]] || fail "systemd-analyze saw nothing wrong in a broken unit"

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "ok: systemd units"
