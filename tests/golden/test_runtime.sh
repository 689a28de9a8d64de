#!/usr/bin/env bash
# test_runtime.sh: the scheduler's semantics through the real binary and the scripted fake
# engine, read from -l (raw) output, which main writes as probes go and come:
# the run ends as soon as nothing is in flight (no fixed grace wait), -G caps the wait for
# lost answers, rounds stop at the destination and after -U silent hops, -F and
# HOPWATCH_OPTIONS work, and the command line overrides HOPWATCH_OPTIONS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${HOPWATCH:?}
fails=0
out=$(mktemp) err=$(mktemp) hosts=$(mktemp)
trap 'rm -f "$out" "$err" "$hosts"' EXIT
export HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt"
export HOPWATCH_OPTIONS=

fail() {
	echo "FAIL: $*" >&2
	sed 's/^/  stderr: /' "$err" >&2
	fails=$((fails + 1))
}

# run ARGS...: sets elapsed (ms) and rc
run() {
	local t0 t1
	t0=$(date +%s%N)
	"$bin" "$@" >"$out" 2>"$err"
	rc=$?
	t1=$(date +%s%N)
	elapsed=$(((t1 - t0) / 1000000))
}

count() { grep -c -- "$1" "$out"; }

# 1. Two rounds one second apart, every probe answered at once: done a little after 1 s,
#    not after the 5 s grace period mtr would wait.
run -l -n -c 2 -i 1 -G 5 203.0.113.1
if ((rc != 0 || elapsed > 2500 || elapsed < 900)); then
	fail "early finish: rc=$rc after ${elapsed} ms (want 0.9..2.5 s)"
else
	echo "ok: -c 2 -i 1 -G 5 done after ${elapsed} ms"
fi
# Both rounds probed every hop up to the destination (TTL 5 = position 4).
for pos in 0 1 2 3 4; do
	n=$(grep -c "^x $pos " "$out")
	((n == 2)) || fail "hop position $pos probed $n times, want 2"
done
# ECMP: both responders of hop 2; reordering: hop 4's late answer still counted.
grep -q '^h 1 198.51.100.6$' "$out" && grep -q '^h 1 198.51.100.70$' "$out" ||
	fail "ECMP responders of hop 2 missing"
grep -q '^p 3 6100 ' "$out" || fail "hop 4's reordered answer missing"

# 2. Rounds stop at the destination: after round 0 nothing past TTL 5 is probed.
run -l -n -c 3 -i 1 -m 30 203.0.113.1
n=$(grep -Ec '^x (5|6|7|8|9|[1-2][0-9]) ' "$out")
((rc == 0 && n <= 1)) || fail "probes past the destination: $n (rc=$rc)"

# 3. A hop whose answers never come: -G 1 ends the run about 1 s after the last round.
FAKE_TRANSCRIPT="$here/transcript_sparse.txt" run -l -n -c 1 -G 1 -Z 10 -m 3 203.0.113.1
if ((rc != 0 || elapsed > 2500 || elapsed < 900)); then
	fail "grace: rc=$rc after ${elapsed} ms (want about 1 s)"
else
	echo "ok: -G 1 with an unanswered probe: done after ${elapsed} ms"
fi
grep -q '^p 1 ' "$out" && fail "an answer for the silent hop appeared"

# 4. -U 2: rounds end after more than two silent hops instead of running to -m 30.
FAKE_TRANSCRIPT="$here/transcript_sparse.txt" run -l -n -c 2 -i 1 -U 2 -G 1 -m 30 203.0.113.1
n=$(grep -Ec '^x (1[0-9]|2[0-9]) ' "$out")
((rc == 0 && n == 0)) || fail "-U 2 still probed TTL 11..30 ($n probes, rc=$rc)"

# 5. -F: one run per host, comments and blank lines skipped.
printf '203.0.113.1\n# a comment\n\n  203.0.113.1  \n' >"$hosts"
run -l -n -c 1 -F "$hosts"
n=$(grep -c '^x 0 33000$' "$out")
((rc == 0 && n == 2)) || fail "-F with two hosts ran $n traces (rc=$rc)"

# 6. HOPWATCH_OPTIONS gives defaults; the command line wins.
HOPWATCH_OPTIONS="-c 1 -n" run -l 203.0.113.1
n=$(grep -c '^x 0 ' "$out")
((rc == 0 && n == 1)) || fail "HOPWATCH_OPTIONS -c 1: hop 1 probed $n times"
HOPWATCH_OPTIONS="-c 1" run -l -c 2 203.0.113.1
n=$(grep -c '^x 0 ' "$out")
((rc == 0 && n == 2)) || fail "-c 2 over HOPWATCH_OPTIONS -c 1: hop 1 probed $n times"

# 7. The engine dies mid-run: one line naming its reason, non-zero exit.
FAKE_EXIT_AFTER=7 run -l -n -c 3 -i 1 203.0.113.1
if ((rc == 0)) || (($(wc -l <"$err") != 1)) || ! grep -q "engine .* failed: fake engine quits" "$err"; then
	fail "engine death: rc=$rc"
else
	echo "ok: engine death -> $(cat "$err")"
fi

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
