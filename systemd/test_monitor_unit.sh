#!/usr/bin/env bash
# test_monitor_unit.sh SERVICE: the configured hopwatch-monitor.service passes
# systemd-analyze verify with nothing to say (ExecStart pointed at /bin/true, since the
# monitor need not be built or installed), keeps what its man page promises (notify,
# watchdog, reload by SIGHUP, no capabilities), and systemd-analyze security --offline
# rates its exposure at most MAX_EXPOSURE. Self-test: the same unit stripped of its
# hardening must rate worse, so a check that stopped measuring fails too.
# Exit 77 (skip) without systemd-analyze, or one older than --offline (systemd 250).
set -u
service=${1:?usage: test_monitor_unit.sh SERVICE}
readonly MAX_EXPOSURE=2.0
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
grep -qE '@[a-z]+@' "$service" && fail "unsubstituted @...@ in $service"
grep -qE '^ExecStart=/.*/hopwatch-monitor --config /.*/hopwatch/monitor\.conf --metrics 127\.0\.0\.1:9101$' \
	"$service" || fail "ExecStart not configured: $(grep '^ExecStart' "$service")"
for line in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' WatchdogSec=30s Restart=on-failure \
	DynamicUser=yes CapabilityBoundingSet= AmbientCapabilities= NoNewPrivileges=yes \
	Wants=hopwatchd.socket 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
	want "$line"
done

verify() {
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$@" 2>&1 |
		grep -v -e 'Failed to connect to bus' -e 'Failed to create .* control group' \
			-e 'Failed to initialize manager' -e '^$'
}

# score DIR: the overall exposure systemd-analyze gives DIR/hopwatch-monitor.service.
score() {
	(cd "$1" && LC_ALL=C systemd-analyze security --offline=true hopwatch-monitor.service 2>&1) |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

mkdir "$tmp/good"
sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' "$service" >"$tmp/good/hopwatch-monitor.service"
out=$(cd "$tmp/good" && verify hopwatch-monitor.service)
[[ -z $out ]] || fail "systemd-analyze verify: $out"

good=$(score "$tmp/good")
if [[ -z $good ]]; then
	fail "no 'Overall exposure level' line from systemd-analyze security"
else
	echo "exposure of hopwatch-monitor.service: $good (at most $MAX_EXPOSURE)"
	awk -v s="$good" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
		fail "exposure $good is above $MAX_EXPOSURE"
fi

# Self-test: only what makes it run (no sandbox, no user) must score above the limit.
mkdir "$tmp/bare"
grep -E '^(\[|#|$|Description=|Documentation=|Wants=|After=|Type=|ExecStart=|ExecReload=|WatchdogSec=|Restart=|WantedBy=)' \
	"$tmp/good/hopwatch-monitor.service" >"$tmp/bare/hopwatch-monitor.service"
bare=$(score "$tmp/bare")
echo "exposure without the hardening: ${bare:-none}"
if [[ -z $bare ]] || awk -v s="$bare" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
	fail "the unit without its hardening scored '${bare:-nothing}', not above $MAX_EXPOSURE"
fi

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "ok: hopwatch-monitor.service"
