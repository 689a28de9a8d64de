#!/usr/bin/env bash
# test_dns.sh: hop names through a fake DNS server inside the lab (3 routers).
#  1. `hopwatch -r -c 2` (names on) shows the names the server gives, escapes the hostile
#     one (ESC [2J must never reach the output raw), shows the hop whose query is never
#     answered as its number, and waits no longer than its bounded name wait for it.
#  2. IPv6: the ip6.arpa query is answered and shown.
#  3. `-n` sends no DNS query at all (the server logs every query it receives).
# evdns randomizes the case of query names (0x20), so the log is matched case-blind.
# The server (fakedns.py) listens on 127.0.0.53:53 inside the source namespace only;
# hopwatch reads its nameserver from HOPWATCH_RESOLV_CONF, never from the host's.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=3
COUNT=2
DNS_ADDR=127.0.0.53
RUN_TIMEOUT_S=60
READY_TRIES=50 # x 0.1 s for the server to bind
# hopwatch's DNS_REPORT_WAIT_US (2 s) plus the run itself and slack for a slow machine.
MAX_RUN_MS=$((COUNT * 1000 + 2000 + 3000))
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

HOP_NAMED=${LAB_HOP4[0]}
HOP_EVIL=${LAB_HOP4[1]}
HOP_SILENT=${LAB_HOP4[2]}
HOP6_NAMED=${LAB_HOP6[0]}

lab_src python3 "$HERE/fakedns.py" --bind "$DNS_ADDR" --log "$work/queries" \
	--ready "$work/ready" \
	--name "$HOP_NAMED=r1.lab.example" \
	--name "$HOP_EVIL=evil\\x1b[2J.example" \
	--name "$LAB_DST4=dst.lab.example" \
	--name "$HOP6_NAMED=r1-v6.lab.example" \
	--silent "$HOP_SILENT" 2>"$work/fakedns.err" &
dns_pid=$!
LAB_CLEANUP+=("kill $dns_pid 2>/dev/null")
for ((i = 0; i < READY_TRIES; i++)); do
	[[ -e $work/ready ]] && break
	sleep 0.1
done
[[ -e $work/ready ]] || {
	echo "FAIL: fakedns did not start: $(cat "$work/fakedns.err")" >&2
	exit 1
}
printf 'nameserver %s\n' "$DNS_ADDR" >"$work/resolv.conf"
touch "$work/queries"

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# run TAG ARGS...: hopwatch in the source namespace; sets elapsed_ms.
run() {
	local tag=$1 t0 t1
	shift
	t0=$(date +%s%N)
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= \
		HOPWATCH_RESOLV_CONF="$work/resolv.conf" timeout "$RUN_TIMEOUT_S" \
		"$HOPWATCH" "$@" >"$work/$tag.out" 2>"$work/$tag.err" ||
		fail "$tag: hopwatch exit $? ($(head -1 "$work/$tag.err"))"
	t1=$(date +%s%N)
	elapsed_ms=$(((t1 - t0) / 1000000))
}

# row FILE N: the host column of report row N.
row() {
	awk -v n="$2" '$1 == n ".|--" { print $2 }' "$1"
}

# 1. Names on.
run names -r -c "$COUNT" "$LAB_DST4"
out=$work/names.out
[[ $(row "$out" 1) == r1.lab.example ]] || fail "hop 1: want r1.lab.example, got '$(row "$out" 1)'"
# The report escapes the name exactly once (ESC -> \x1b), and no raw ESC byte is
# anywhere in the output.
evil=$(row "$out" 2)
[[ $evil == 'evil\x1b[2J.example' ]] || fail "hop 2: want evil\\x1b[2J.example, got '$evil'"
if LC_ALL=C grep -q $'\x1b' "$out"; then
	fail "a raw ESC byte reached the output"
fi
[[ $(row "$out" 3) == "$HOP_SILENT" ]] || fail "hop 3 (silent DNS): want $HOP_SILENT, got '$(row "$out" 3)'"
[[ $(row "$out" 4) == dst.lab.example ]] || fail "hop 4: want dst.lab.example, got '$(row "$out" 4)'"
((elapsed_ms <= MAX_RUN_MS)) || fail "names: report took ${elapsed_ms} ms (bound $MAX_RUN_MS)"
grep -qi "^$(awk -F. '{ print $4"."$3"."$2"."$1 }' <<<"$HOP_NAMED").in-addr.arpa 12$" \
	"$work/queries" || fail "no PTR query for $HOP_NAMED in the server's log"
if ((FAILS == 0)); then
	echo "ok: names, hostile name escaped, silent hop numeric (${elapsed_ms} ms)"
else
	cat "$out" "$work/names.err" >&2
fi

# 2. IPv6.
run names6 -6 -r -c "$COUNT" "$LAB_DST6"
[[ $(row "$work/names6.out" 1) == r1-v6.lab.example ]] ||
	fail "IPv6 hop 1: want r1-v6.lab.example, got '$(row "$work/names6.out" 1)'"
grep -qi 'ip6.arpa 12$' "$work/queries" || fail "no ip6.arpa PTR query in the server's log"

# 3. -n: not one query.
before=$(wc -l <"$work/queries")
run numeric -r -n -c "$COUNT" "$LAB_DST4"
sleep 0.5 # a query sent at exit would still be logged by now
after=$(wc -l <"$work/queries")
((after == before)) || fail "-n: $((after - before)) DNS queries were sent"
[[ $(row "$work/numeric.out" 1) == "$HOP_NAMED" ]] ||
	fail "-n: hop 1 should be $HOP_NAMED, got '$(row "$work/numeric.out" 1)'"
((FAILS == 0)) && echo "ok: -n sends no DNS query"

if ((FAILS)); then
	echo "--- server log" >&2
	cat "$work/queries" >&2
	echo "$FAILS failure(s)" >&2
	exit 1
fi
echo "PASS"
