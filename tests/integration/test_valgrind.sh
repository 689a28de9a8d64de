#!/usr/bin/env bash
# test_valgrind.sh: the CLI, the engine (and its broker) and the monitor under valgrind
# memcheck, on an isolated 2-router lab. Every process valgrind runs writes its own log;
# each must end with "ERROR SUMMARY: 0 errors" (no invalid access, no use of
# uninitialised memory, no definite or indirect leak).
#  1. `hopwatch -r -c 3` for ICMP, UDP and TCP over IPv4 and IPv6: exit 0, every hop.
#  2. -j, -x, -C and --analyze, with names and AS numbers from a fake DNS server.
#  3. The engine in socket mode serves the monitor for a few windows and a CLI, then
#     SIGTERM: every process leaves clean.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=2
DNS_ADDR=127.0.0.53
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
MONITOR=$(readlink -f "$BUILD/monitor/hopwatch-monitor")
METRICS=127.0.0.1:9133
WAIT_S=60 # valgrind makes everything 10-50 times slower

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
# Under tests/valgrind/integration.sh every program of the suite runs under memcheck
# already, and this test's own valgrind cannot run those wrappers.
if [[ -n ${HOPWATCH_VALGRIND:-} ]]; then
	echo "SKIP: the whole suite runs under memcheck (tests/valgrind/integration.sh)" >&2
	exit 77
fi
command -v valgrind >/dev/null || {
	echo "SKIP: valgrind is not installed" >&2
	exit 77
}
for f in "$ENGINE" "$HOPWATCH" "$MONITOR"; do
	[[ -x $f ]] || {
		echo "SKIP: not built: $f" >&2
		exit 77
	}
done
# An instrumented build cannot run under valgrind: this test is for the normal build.
if grep -q '__asan_init' "$HOPWATCH" 2>/dev/null; then
	echo "SKIP: a sanitizer build" >&2
	exit 77
fi

work=$(mktemp -d /tmp/hopwatch-valgrind.XXXXXX)
chmod 755 "$work" # the engine's broker, after its drop, writes its log here too
mkdir -m 1777 "$work/vg"
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

VG=(valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --track-fds=no
	"--log-file=$work/vg/%p.log")
export HOPWATCH_VALGRIND=1

# The engine the CLI spawns, under valgrind too.
cat >"$work/engine" <<SH
#!/bin/sh
exec ${VG[*]} $ENGINE "\$@"
SH
chmod 755 "$work/engine"

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

hw() {
	lab_src env HOPWATCH_ENGINE="$work/engine" HOPWATCH_OPTIONS= \
		HOPWATCH_RESOLV_CONF="$work/resolv.conf" timeout 300 "${VG[@]}" "$HOPWATCH" "$@"
}

rows() {
	awk '$1 ~ /^[0-9]+\.$/ || $1 ~ /^[0-9]+\.\|--$/ { n++ } END { print n + 0 }' "$1"
}

# Every log so far must be clean; each is checked once.
check_logs() {
	local what=$1 f bad=0 n=0
	for f in "$work"/vg/*.log; do
		[[ -e $f ]] || continue
		n=$((n + 1))
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
			bad=$((bad + 1))
			echo "--- $f" >&2
			grep -v '^==[0-9]*== *$' "$f" | head -40 >&2
		fi
		mv "$f" "$f.checked"
	done
	if ((bad)); then
		fail "$what: $bad of $n valgrind logs report errors"
	elif ((n == 0)); then
		fail "$what: no valgrind log at all"
	else
		echo "ok: $what: $n processes clean under memcheck"
	fi
}

printf 'nameserver %s\n' "$DNS_ADDR" >"$work/resolv.conf"
txt=()
for a in "${LAB_HOP4[@]}" "$LAB_DST4"; do
	IFS=. read -r o1 o2 o3 o4 <<<"$a"
	txt+=(--txt "$o4.$o3.$o2.$o1.origin.asn.cymru.com=64500 | 198.51.100.0/24 | ZZ | test | 2026-01-01")
done
txt+=(--txt "AS64500.asn.cymru.com=64500 | ZZ | test | 2026-01-01 | EXAMPLE-CARRIER, ZZ")
lab_src python3 "$HERE/fakedns.py" --bind "$DNS_ADDR" --log "$work/queries" \
	--ready "$work/ready" --name "${LAB_HOP4[0]}=r1.lab.example" "${txt[@]}" \
	2>"$work/fakedns.err" &
for ((i = 0; i < 50; i++)); do
	[[ -e $work/ready ]] && break
	sleep 0.1
done
[[ -e $work/ready ]] || fail "the fake DNS server did not start: $(cat "$work/fakedns.err")"

# 1. Reports over every protocol and family.
for fam in 4 6; do
	dst=$LAB_DST4
	[[ $fam == 6 ]] && dst=$LAB_DST6
	for proto in "" -u -T; do
		hw -r -n -c 3 -i 0.2 $proto "$dst" >"$work/r.out" 2>"$work/r.err"
		rc=$?
		if ((rc != 0)) || (($(rows "$work/r.out") != ROUTERS + 1)); then
			fail "1: -$fam ${proto:-icmp}: exit $rc, $(rows "$work/r.out") rows:" \
				"$(cat "$work/r.out" "$work/r.err")"
		fi
	done
done
check_logs "1: reports, ICMP/UDP/TCP over IPv4 and IPv6"

# 2. The exports, the diagnosis, names and AS numbers.
for fmt in -j -x -C "-r --analyze" "-r -z" "-r -z --analyze"; do
	# shellcheck disable=SC2086
	hw $fmt -c 3 -i 0.2 "$LAB_DST4" >"$work/f.out" 2>"$work/f.err" ||
		fail "2: $fmt: exit $? $(cat "$work/f.err")"
done
grep -q 'AS64500' "$work/f.out" || fail "2: -z shows no AS number: $(cat "$work/f.out")"
check_logs "2: -j, -x, -C, --analyze and -z (AS names with both) with names"

# 3. Socket mode, the monitor and a CLI, then SIGTERM.
sock=$work/engine.sock
ip netns exec "$LAB_SRC" "${VG[@]}" "$ENGINE" --listen "$sock" 2>"$work/daemon.err" &
daemon_pid=$!
LAB_CLEANUP+=("kill -KILL $daemon_pid 2>/dev/null")
for ((i = 0; i < WAIT_S * 10; i++)); do
	[[ -S $sock ]] && break
	sleep 0.1
done
printf 'target lab host %s interval 0.2 window 1\n' "$LAB_DST4" >"$work/mon.conf"
ip netns exec "$LAB_SRC" "${VG[@]}" "$MONITOR" --config "$work/mon.conf" \
	--engine "unix:$sock" --json "$work/mon.jsonl" --metrics "$METRICS" 2>"$work/mon.err" &
mon_pid=$!
LAB_CLEANUP+=("kill -KILL $mon_pid 2>/dev/null")
lab_src env HOPWATCH_OPTIONS= timeout 300 "${VG[@]}" "$HOPWATCH" --engine "unix:$sock" \
	-r -n -c 3 -i 0.2 "$LAB_DST6" >"$work/s.out" 2>"$work/s.err" ||
	fail "3: the CLI over the socket: exit $? $(cat "$work/s.err")"
for ((i = 0; i < WAIT_S * 10; i++)); do
	(($(grep -c '"type":"window"' "$work/mon.jsonl" 2>/dev/null || true) >= 3)) && break
	sleep 0.1
done
(($(grep -c '"type":"window"' "$work/mon.jsonl" 2>/dev/null || true) >= 3)) ||
	fail "3: the monitor wrote no windows: $(cat "$work/mon.err")"
kill -TERM "$mon_pid"
wait "$mon_pid"
rc=$?
((rc == 0)) || fail "3: the monitor exit $rc after SIGTERM: $(tail -5 "$work/mon.err")"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
((rc == 0)) || fail "3: the engine exit $rc after SIGTERM: $(tail -5 "$work/daemon.err")"
sleep 1 # the broker leaves once the engine is gone
check_logs "3: socket mode with the monitor and a CLI"

((FAILS == 0)) || exit 1
echo "PASS"
