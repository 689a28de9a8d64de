#!/usr/bin/env bash
# test_driver.sh: checks bench_driver's bookkeeping against fake_engine.sh (no root, no
# network): the in-flight window, TTL cycling, answer classification, percentiles, token
# checks, a dying engine, an engine that ignores EOF, and that an interrupted driver
# leaves no engine behind. Usage: test_driver.sh BENCH_DRIVER FAKE_ENGINE
set -u

DRIVER=$1
FAKE=$2
TARGET=192.0.2.9
TMP=$(mktemp -d /tmp/hopwatch-test-driver.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run NAME PROBES WINDOW TTL_MAX [EXTRA DRIVER ARGS...]: result line in $TMP/NAME, rc in RC.
run() {
	local name=$1 n=$2 w=$3 t=$4
	shift 4
	FAKE_WINDOW=$w FAKE_TOTAL=$n FAKE_TTL_MAX=$t FAKE_TARGET=$TARGET FAKE_TIMEOUT=1 \
		timeout 60 "$DRIVER" --engine "$FAKE" --target "$TARGET" --probes "$n" \
		--inflight "$w" --ttl-max "$t" --timeout 1 "$@" >"$TMP/$name" 2>"$TMP/$name.err"
	RC=$?
}

# expect NAME KEY VALUE...: every KEY=VALUE pair must appear in NAME's result line.
expect() {
	local name=$1 line kv
	shift
	line=" $(cat "$TMP/$name") "
	for kv in "$@"; do
		[[ $line == *" $kv "* ]] || fail "$name: want $kv in:$line"
	done
}

# Plain: 120 probes, 10 in flight, TTL 1..6: tokens 2..121, TTL 6 answers with "reply".
run plain 120 10 6
((RC == 0)) || fail "plain: exit $RC"
expect plain probes=120 replies=20 ttl_expired=100 no_reply=0 other=0 unexpected=0 \
	rtt_samples=120 rtt_p50_us=600.0 rtt_p99_us=1190.0 engine=fake_engine.sh \
	engine_exit=0 complete=1

# A driver that overfills the window must be caught by the fake engine.
FAKE_WINDOW=10 FAKE_TOTAL=60 FAKE_TTL_MAX=6 FAKE_TARGET=$TARGET FAKE_TIMEOUT=1 \
	timeout 60 "$DRIVER" --engine "$FAKE" --target "$TARGET" --probes 60 --inflight 11 \
	--ttl-max 6 --timeout 1 >"$TMP/over" 2>/dev/null
grep -q ' other=0 ' "$TMP/over" && fail "overfilled window not detected: $(cat "$TMP/over")"

# Mixed answers: no-reply (token % 5), probes-exhausted (% 7), duplicates (% 11), and an
# answer for a token never sent.
no_reply=0 other=0 dup=0 rep=0 ttlx=0
for ((tok = 2; tok <= 121; tok++)); do
	if ((tok % 5 == 0)); then
		no_reply=$((no_reply + 1))
	elif ((tok % 7 == 0)); then
		other=$((other + 1))
	else
		((tok % 11 == 0)) && dup=$((dup + 1))
		if (((tok - 2) % 6 + 1 == 6)); then rep=$((rep + 1)); else ttlx=$((ttlx + 1)); fi
	fi
done
FAKE_MODE=mixed run mixed 120 10 6 --label mixed-engine
((RC == 0)) || fail "mixed: exit $RC"
expect mixed probes=120 replies=$rep ttl_expired=$ttlx no_reply=$no_reply other=$other \
	unexpected=$((dup + 1)) rtt_samples=$((rep + ttlx)) engine=mixed-engine complete=1
grep -q 'first non-reply answer: 7 probes-exhausted' "$TMP/mixed.err" ||
	fail "mixed: first other answer not shown: $(cat "$TMP/mixed.err")"

# Engine-reported RTTs longer than the driver waited for the answer are counted.
FAKE_MODE=liar run liar 30 5 6
((RC == 0)) || fail "liar: exit $RC"
expect liar probes=30 rtt_over_turnaround=30 rtt_p50_us=10000000.0

# An engine that dies half way: partial figures, its exit status, and a failure exit.
FAKE_MODE=die FAKE_DIE_AFTER=50 run die 120 10 6
((RC == 1)) || fail "die: exit $RC, want 1"
expect die probes=40 engine_exit=3 complete=0

# An engine that ignores EOF is terminated after --exit-wait and still reported.
start=$SECONDS
FAKE_MODE=hang run hang 30 5 6 --exit-wait 1
((RC == 0)) || fail "hang: exit $RC"
expect hang probes=30 engine_exit=143 complete=1
((SECONDS - start < 10)) || fail "hang: took $((SECONDS - start)) s"

# An engine that cannot be executed.
run missing 10 5 6 --engine /nonexistent/engine
((RC == 1)) || fail "missing engine: exit $RC, want 1"
expect missing probes=0 engine_exit=127 complete=0

# Bad usage.
"$DRIVER" >/dev/null 2>&1
(($? == 2)) || fail "no arguments: want exit 2"
for bad in "--family 5" "--protocol sctp" "--probes 0" "--inflight x" "--ttl-max 256"; do
	# shellcheck disable=SC2086 # split on purpose
	"$DRIVER" --engine "$FAKE" --target "$TARGET" $bad >/dev/null 2>&1
	(($? == 2)) || fail "usage '$bad': want exit 2"
done

# A driver stopped by SIGTERM takes its engine with it, even one that would ignore the EOF
# (hang). The fake engine never answers (window larger than the probe count), so the
# driver is still waiting when killed.
FAKE_MODE=hang FAKE_WINDOW=50 FAKE_TOTAL=1000 FAKE_TTL_MAX=6 FAKE_TARGET=$TARGET FAKE_TIMEOUT=1 \
	FAKE_PIDFILE=$TMP/engine.pid "$DRIVER" --engine "$FAKE" --target "$TARGET" \
	--probes 20 --inflight 20 --ttl-max 6 --timeout 1 >/dev/null 2>&1 &
driver=$!
for ((i = 0; i < 50; i++)); do
	[[ -s $TMP/engine.pid ]] && break
	sleep 0.1
done
sleep 0.2
kill -TERM "$driver"
wait "$driver"
rc=$?
((rc == 143)) || fail "SIGTERM: driver exit $rc, want 143"
engine=$(cat "$TMP/engine.pid" 2>/dev/null)
if [[ -z $engine ]]; then
	fail "SIGTERM: fake engine never started"
else
	for ((i = 0; i < 20; i++)); do
		kill -0 "$engine" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$engine" 2>/dev/null; then
		fail "SIGTERM: engine $engine outlived the driver"
		kill -KILL "$engine"
	fi
fi

if ((failures)); then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "bench_driver: all checks passed"
