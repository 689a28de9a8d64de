#!/usr/bin/env bash
# test_engine_unit.sh SERVICE SOCKET: the configured hopwatchd.service keeps what the
# engine needs under its sandbox (its own user, CAP_NET_RAW and CAP_NET_ADMIN handed in
# as ambient capabilities and nothing else in the bounding set, packet sockets for the
# receive ring, capset for the drop, seccomp for its own filters, none of the options that break raw sockets), and
# systemd-analyze security --offline rates its exposure at most MAX_EXPOSURE. Self-test:
# the same unit stripped of its hardening must rate worse, so a check that stopped
# measuring fails too. Exit 77 (skip) without systemd-analyze >= 250 (--offline).
set -u
service=${1:?usage: test_engine_unit.sh SERVICE SOCKET}
sock=${2:?}
readonly MAX_EXPOSURE=2.5
readonly MIN_SYSTEMD=250

command -v systemd-analyze >/dev/null || {
	echo "SKIP: systemd-analyze is not installed"
	exit 77
}
version=$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
if [[ -z $version ]] || ((version < MIN_SYSTEMD)); then
	echo "SKIP: systemd ${version:-of unknown version} has no 'security --offline' (needs $MIN_SYSTEMD)"
	exit 77
fi

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

want() {
	grep -qx -- "$1" "$service" || fail "$(basename "$service") lacks the line '$1'"
}
for line in User=hopwatchd Group=hopwatchd 'AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN' \
	'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN' NoNewPrivileges=yes \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_PACKET' SystemCallFilter=capset \
	SystemCallFilter=seccomp \
	Requires=hopwatchd.socket; do
	want "$line"
done
# Each of these would leave the engine without probes (see the unit's header).
for opt in PrivateNetwork PrivateUsers IPAddressDeny DynamicUser; do
	grep -q "^$opt=" "$service" && fail "$opt= breaks raw sockets or the system user"
done

score() {
	(cd "$1" && LC_ALL=C systemd-analyze security --offline=true hopwatchd.service 2>&1) |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

mkdir "$tmp/good"
sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' "$service" >"$tmp/good/hopwatchd.service"
cp "$sock" "$tmp/good/hopwatchd.socket"
good=$(score "$tmp/good")
if [[ -z $good ]]; then
	fail "no 'Overall exposure level' line from systemd-analyze security"
else
	echo "exposure of hopwatchd.service: $good (at most $MAX_EXPOSURE)"
	awk -v s="$good" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
		fail "exposure $good is above $MAX_EXPOSURE"
fi

# Self-test: only what makes it run (no sandbox, root) must score above the limit.
mkdir "$tmp/bare"
grep -E '^(\[|#|$|Description=|Documentation=|Requires=|After=|Type=|ExecStart=|Restart=|Also=)' \
	"$tmp/good/hopwatchd.service" >"$tmp/bare/hopwatchd.service"
cp "$sock" "$tmp/bare/hopwatchd.socket"
bare=$(score "$tmp/bare")
echo "exposure without the hardening: ${bare:-none}"
if [[ -z $bare ]] || awk -v s="$bare" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
	fail "the unit without its hardening scored '${bare:-nothing}', not above $MAX_EXPOSURE"
fi

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "ok: hopwatchd.service"
