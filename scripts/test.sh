#!/usr/bin/env bash
# test.sh: the one test command (CI runs exactly this). Runs setup.sh, then every suite in
# build, the unit and integration suites in build-asan, the unit suite and most of the
# integration suite again under valgrind memcheck, and the fuzz suite in build-fuzz,
# carrying on past failures. Ends with a per-test summary and, as its very last line,
# "N passed, N failed" (", N skipped" when any test skipped). Exit 0 iff nothing failed.
# A build directory that did not build counts as one failure of its own.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# build dir, the name of its test log, and the meson test arguments it runs with. The
# valgrind run is the unit suite (cmocka tests and the CLI against its scripted engine)
# again in the normal build, each program under memcheck (tests/valgrind/), and so are the
# integration tests below (tests/valgrind/integration.sh: every hopwatch, hopwatchd and
# hopwatch-monitor they start). Left out, because what they measure is time, which
# memcheck stretches 10-50 times: monitor, netsim_scenarios and netsim_diagnose (RTT
# averages and spikes against the simulator's truth, path changes from a slow reply),
# abuse (a good client's 5 s start-up check under 200 abusive ones), tui_loss (the live
# view's drops at the moment of its last screen against the probe log) and netsim_accuracy;
# also lab (it starts no hopwatch program), valgrind (memcheck already) and socket_unit
# (the engine's own seccomp filter, which it does not install under valgrind).
VALGRIND_INTEGRATION="cli tui tui_keys engine protocol socket faults dns asn"
VALGRIND_INTEGRATION+=" mtr_interop probe_seq validation forged reaping netsim_flows split_mtr"
VALGRIND_INTEGRATION+=" multi_target analyze_as tui_findings"
RUNS=(
	"build|testlog|"
	"build-asan|testlog|--suite unit --suite integration"
	"build|valgrind|--suite unit --wrapper $ROOT/tests/valgrind/wrap.sh --timeout-multiplier 5"
	"build|valgrind-integration|--suite integration --wrapper $ROOT/tests/valgrind/integration.sh --timeout-multiplier 3 $VALGRIND_INTEGRATION"
	"build-fuzz|testlog|--suite fuzz"
)

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

note() {
	printf 'test.sh: %s\n' "$*"
}

# Records a result that meson itself could not report (build or harness failure).
record() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"
}

bash scripts/setup.sh </dev/null || note "setup.sh reported a failure; testing what was built"

# Namespaces the tests make are named hw-*, hwsim-*, hwseq-*, hwval-* with their pid: one
# that is still there after every run is a test's leak. It is removed here (nothing may be
# left on the host) and counted as a failure, so the leak gets fixed rather than swept.
ns_ours() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^hw(sim|seq|val)?-[0-9]+-' | sort
}
NS_BEFORE=$(ns_ours)

declare -A checked
# Checked before any test runs, so a tree edited during the run cannot look like a failure.
for run in "${RUNS[@]}"; do
	dir=${run%%|*}
	if [[ -n ${checked[$dir]:-} ]]; then
		continue
	fi
	checked[$dir]=1
	if [[ -f $dir/build.ninja ]] && ! ninja -C "$dir" -n 2>/dev/null | grep -q 'no work to do'
	then
		record "$dir" FAIL "(build incomplete: see ninja -C $dir)"
	fi
done

for run in "${RUNS[@]}"; do
	dir=${run%%|*}
	rest=${run#*|}
	logbase=${rest%%|*}
	read -r -a args <<<"${rest#*|}"
	# A retry runs as the run did (its suites, under its wrapper), but only the tests it
	# names: the run's options without its own list of tests.
	same=()
	for ((i = 0; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		--suite | --wrapper | --timeout-multiplier)
			same+=("${args[i]}" "${args[i + 1]}")
			i=$((i + 1))
			;;
		--*) same+=("${args[i]}") ;;
		esac
	done
	args+=(--logbase "$logbase")
	log=$dir/meson-logs/$logbase.json
	# A run's results are named after its log when it is not the directory's only one.
	label=$dir
	[[ $logbase == testlog ]] || label="$dir($logbase)"

	if [[ ! -f $dir/build.ninja ]]; then
		record "$label" FAIL "(not configured)"
		continue
	fi
	# A stale log from an earlier run must never be counted as this run's result. With a
	# wrapper, meson adds its name to the log's: the newest of that base is this run's.
	rm -f "$dir/meson-logs/$logbase".json "$dir/meson-logs/$logbase"-*.json
	note "meson test -C $dir ${args[*]}"
	meson test -C "$dir" --print-errorlogs --no-rebuild "${args[@]}" </dev/null
	rc=$?
	for f in "$dir/meson-logs/$logbase"-*.json; do
		[[ -f $f ]] && log=$f
	done
	if [[ ! -f $log ]]; then
		if ((rc != 0)); then
			record "$label" FAIL "(meson test exited $rc without a test log)"
		else
			note "$dir: no tests selected"
		fi
		continue
	fi
	# Lab and timing tests share a 2-core machine with everything else: one that fails
	# is run once more, and if it fails again a last time; a pass on a retry counts,
	# reported as FLAKY in the summary. Unit, lint and fuzz tests are never retried.
	retry=$dir/meson-logs/retrylog.json
	retry2=$dir/meson-logs/retrylog2.json
	rm -f "$dir/meson-logs/retrylog"*.json
	again=()
	if ((rc != 0)); then
		mapfile -t again < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        t = json.loads(line)
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and "integration" in t.get("name", "").split(" / ")[0]:
            print(t["name"].split(" / ")[-1])
' "$log")
	fi
	if ((${#again[@]})); then
		note "retrying once: ${again[*]}"
		meson test -C "$dir" --print-errorlogs --no-rebuild "${same[@]}" --logbase retrylog \
			"${again[@]}" </dev/null
		# Under a wrapper meson adds its name to the log's, as above.
		for f in "$dir/meson-logs/retrylog"-*.json; do
			[[ -f $f ]] && retry=$f
		done
		# Still failing: one last run, alone (a lost reply under the suite's load can come
		# twice in a row; a real fault fails all three).
		mapfile -t again < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        t = json.loads(line)
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
            print(t["name"].split(" / ")[-1])
' "$retry" 2>/dev/null)
		if ((${#again[@]})); then
			note "retrying a last time: ${again[*]}"
			meson test -C "$dir" --print-errorlogs --no-rebuild "${same[@]}" --logbase retrylog2 \
				"${again[@]}" </dev/null
			for f in "$dir/meson-logs/retrylog2"-*.json; do
				[[ -f $f ]] && retry2=$f
			done
		fi
	fi
	python3 - "$label" "$log" "$retry" "$retry2" >>"$RESULTS" <<'EOF' || record "$label" FAIL "(unreadable $log)"
import json, os, sys

d, path = sys.argv[1], sys.argv[2]
second = {}
for retry in sys.argv[3:]:
    if os.path.exists(retry):
        for line in open(retry):
            line = line.strip()
            if line:
                t = json.loads(line)
                if second.get(t.get("name", "?")) != "OK":
                    second[t.get("name", "?")] = t.get("result", "ERROR")
with open(path) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        name, result = t.get("name", "?"), t.get("result", "ERROR")
        if result not in ("OK", "SKIP", "EXPECTEDFAIL") and second.get(name) == "OK":
            result = "FLAKY"
        print("%s\t%s\t%s" % (d, result, name))
EOF
	if ((rc != 0)) && ! grep -qP '^\Q'"$label"'\E\t(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS|FLAKY)\t' \
		"$RESULTS"; then
		record "$label" FAIL "(meson test exited $rc)"
	fi
done

mapfile -t ns_left < <(comm -13 <(printf '%s\n' "$NS_BEFORE") <(ns_ours) | grep .)
if ((${#ns_left[@]})); then
	record "host" FAIL "(namespaces left behind by a test: ${ns_left[*]})"
	for ns in "${ns_left[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns delete "$ns" 2>/dev/null
	done
fi

python3 - "$RESULTS" <<'EOF'
import sys

PASS = {"OK", "EXPECTEDFAIL", "FLAKY"}
SKIP = {"SKIP"}
passed = failed = skipped = 0
print("\n=== summary ===")
with open(sys.argv[1]) as f:
    for line in f:
        d, result, name = line.rstrip("\n").split("\t", 2)
        if result in PASS:
            passed += 1
            tag = "PASS" if result != "FLAKY" else "FLAKY(retry ok)"
        elif result in SKIP:
            skipped += 1
            tag = "SKIP"
        else:
            failed += 1
            tag = "FAIL" if result == "FAIL" else "FAIL(" + result + ")"
        print("%-14s %s: %s" % (tag, d, name))
last = "%d passed, %d failed" % (passed, failed)
if skipped:
    last += ", %d skipped" % skipped
print(last)
sys.exit(1 if failed else 0)
EOF
