#!/usr/bin/env bash
# mtr_suite.sh [MTR_SOURCE_DIR]: run mtr's own packet-engine tests (test/cmdparse.py and
# test/param.py) twice, against the stock mtr-packet and against hopwatchd, and print
# the counts of each run and a diff of their per-test results. Not part of CI (it needs
# an mtr source tree); run it by hand as root after a build.
#
# The tests run in a network namespace of their own with nothing but loopback: they
# probe 127.0.0.1 and ::1, and the one probe to a public address (test_exit_on_stdin_closed)
# gets no route. mtr's files are copied to a temporary directory; nothing is written
# to the source tree.
#
# Environment: HOPWATCH_BUILD (default: build/ beside the sources), STOCK_PACKET
# (default /usr/bin/mtr-packet), STOCK_MTR (default /usr/bin/mtr, the CLI that
# cmdparse.py runs as PROJECT_ROOT/mtr; it is started with MTR_PACKET set too), MTR_MIRROR
# (a bare git mirror of mtr to take the files from when no MTR_SOURCE_DIR is given).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(cd "$HERE/../.." && pwd)
BUILD=${HOPWATCH_BUILD:-$SOURCE/build}
STOCK_PACKET=${STOCK_PACKET:-/usr/bin/mtr-packet}
STOCK_MTR=${STOCK_MTR:-/usr/bin/mtr}
MIRROR=${MTR_MIRROR:-/work/.mirror/traviscross+mtr/repo}
# Files of mtr's tree the tests need, relative to its root.
MTR_FILES=(test/cmdparse.py test/param.py test/mtrpacket.py test/packet_listen.c
	packet/protocols.h)
# mtrpacket.py resolves this name at import to decide whether to run IPv6 tests; inside
# the namespace it must resolve to loopback, or the import fails without DNS.
IPV6_TEST_HOST=google-public-dns-a.google.com

die() {
	echo "mtr_suite: $*" >&2
	exit 2
}

(($(id -u) == 0)) || die "needs root (network namespace, raw sockets)"
for tool in cc python3 ip unshare; do
	command -v "$tool" >/dev/null || die "missing $tool"
done
[[ -x $STOCK_PACKET ]] || die "no stock mtr-packet at $STOCK_PACKET (set STOCK_PACKET)"
[[ -x $STOCK_MTR ]] || die "no mtr CLI at $STOCK_MTR (set STOCK_MTR)"
ENGINE=$BUILD/daemon/hopwatchd
[[ -x $ENGINE ]] || die "no $ENGINE: build first (ninja -C build) or set HOPWATCH_BUILD"

WORK=$(mktemp -d /tmp/mtr_suite.XXXXXX)
NS=mtrsuite-$$-$RANDOM
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	ip netns del "$NS" 2>/dev/null
	if [[ -n ${MTR_SUITE_KEEP:-} ]]; then
		echo "mtr_suite: kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copy mtr's test files into $WORK/mtr from a source dir, the mirror, or apt-get source.
fetch_sources() {
	local src=${1:-} f
	mkdir -p "$WORK/mtr/test" "$WORK/mtr/packet"
	if [[ -n $src ]]; then
		for f in "${MTR_FILES[@]}"; do
			[[ -r $src/$f ]] || die "$src has no $f: pass the root of an mtr source tree"
			cp "$src/$f" "$WORK/mtr/$f"
		done
		echo "mtr sources: $src"
	elif git -C "$MIRROR" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		for f in "${MTR_FILES[@]}"; do
			git -C "$MIRROR" show "HEAD:$f" >"$WORK/mtr/$f" || die "mirror has no $f"
		done
		echo "mtr sources: $MIRROR at $(git -C "$MIRROR" rev-parse --short HEAD)"
	elif command -v apt-get >/dev/null && (cd "$WORK" && apt-get source -qq mtr >/dev/null 2>&1); then
		src=$(find "$WORK" -maxdepth 1 -type d -name 'mtr-*' | head -n 1)
		[[ -n $src ]] || die "apt-get source mtr left no mtr-* directory"
		fetch_sources "$src"
	else
		die "no mtr sources: pass MTR_SOURCE_DIR (a checkout of https://github.com/traviscross/mtr or 'apt-get source mtr' with deb-src enabled)"
	fi
}

fetch_sources "${1:-}"
cd "$WORK/mtr" || die "cannot enter $WORK/mtr"
# cmdparse.py runs PROJECT_ROOT/mtr, the parent of test/: the installed CLI.
ln -s "$STOCK_MTR" mtr
cc -O2 -I. -o mtr-packet-listen test/packet_listen.c || die "packet_listen.c does not build"
printf '127.0.0.1 localhost\n::1 localhost %s\n' "$IPV6_TEST_HOST" >"$WORK/hosts"
# An unreachable nameserver: nonexistent.invalid fails at once instead of timing out.
printf 'nameserver 127.0.0.1\n' >"$WORK/resolv.conf"

ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up

# run_suite LABEL PACKET: both scripts with MTR_PACKET=PACKET; verbose log in $WORK/LABEL.log
run_suite() {
	local label=$1 packet=$2
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$NS" unshare --mount sh -c '
		mount --bind "$1/hosts" /etc/hosts &&
		mount --bind "$1/resolv.conf" /etc/resolv.conf &&
		export MTR_PACKET="$2" &&
		python3 "$1/run.py" cmdparse param' sh "$WORK" "$packet" \
		>"$WORK/$label.log" 2>&1
	# run.py ends with one line per test: "= module.Class.test result".
	sed -n 's/^= //p' "$WORK/$label.log" | sort >"$WORK/$label.results"
	printf '%-12s %s: ' "$label" "$packet"
	awk '{ n[$2]++ } END { printf "ran %d, ok %d, FAIL %d, ERROR %d, skipped %d\n", NR,
		n["ok"], n["FAIL"], n["ERROR"], n["skipped"] }' "$WORK/$label.results"
}


# A runner whose per-test lines do not depend on the Python version or on docstrings.
cat >"$WORK/run.py" <<'PY'
import sys, unittest
sys.path.insert(0, "test")  # the scripts import mtrpacket as a top-level module
suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:])
def walk(s):
    for t in s:
        yield from (walk(t) if isinstance(t, unittest.TestSuite) else [t])
ids = [t.id() for t in walk(suite)]  # a suite forgets its tests as it runs them
res = unittest.TextTestRunner(verbosity=2, descriptions=False, stream=sys.stdout).run(suite)
bad = {t.id(): "FAIL" for t, _ in res.failures}
bad.update({t.id(): "ERROR" for t, _ in res.errors})
bad.update({t.id(): "skipped" for t, _ in res.skipped})
for i in ids:
    print("=", i, bad.get(i, "ok"))
PY
run_suite mtr-packet "$STOCK_PACKET"
run_suite hopwatchd "$ENGINE"
echo "--- per-test results that differ (mtr-packet / hopwatchd):"
if [[ ! -s $WORK/mtr-packet.results || ! -s $WORK/hopwatchd.results ]]; then
	echo "no test ran: mtr's scripts did not load (log follows)"
	cat "$WORK/mtr-packet.log"
	status=1
elif diff -u "$WORK/mtr-packet.results" "$WORK/hopwatchd.results"; then
	echo "(none)"
	status=0
else
	status=1
fi
echo "--- not ok with mtr-packet (tests written for mtr master, or for this host):"
grep -v ' ok$' "$WORK/mtr-packet.results" || echo "(none)"
if ((status)) || [[ -n ${MTR_SUITE_VERBOSE:-} ]]; then
	echo "--- hopwatchd log:"
	awk '/^={20,}$/ { show = 0 } /^(FAIL|ERROR): / { show = 1 } show' "$WORK/hopwatchd.log"
fi
exit "$status"
