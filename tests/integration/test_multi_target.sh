#!/bin/bash
# test_multi_target: one hopwatch process traces many targets at once, and prints each
# report in input order exactly as a single run would. On scale.scn (every address of
# 203.0.113.0/24 and 2001:db8:ffff::/48 is a destination behind the same 3 hops):
#  a. `-r -n -c 10 -i 0.2` on one target, timed: the reference report and time;
#  b. the same over 50 targets on the command line, then from a -F file: exit 0, no
#     stderr, 50 reports in input order, each with the reference's HOST line, hops and
#     Snt (the destination row names its own target), within 1.3x the time of a;
#  c. `-r -n -c 10` (-i 1) over 1,000 IPv6 targets under GNU time: exit 0, 1,000
#     reports in order, peak RSS <= 48 MiB;
#  d. the option that bounds the traces run at once ($MAXC_OPT, skipped while
#     `hopwatch --help` does not list it): 20 targets, 5 at a time, take about 4 times
#     as long as one, with the same reports.
# The engine is always given with --engine: a spawned hopwatchd on a pipe, inside the
# lab, has no per-user probe limits (a shared daemon's socket would, and would probe
# from the host's namespace).
set -u
export LC_ALL=C # a '.' in $EPOCHREALTIME and in awk's numbers

# The name of the concurrency bound is not settled yet: one place to change it.
MAXC_OPT=${MULTI_TARGET_MAXC_OPT:---max-concurrent}

src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
# shellcheck source=tests/netsim/netsim_lab.sh
source "$src/tests/netsim/netsim_lab.sh"

COUNT=10
FAST_INTERVAL=0.2
NTARGETS=50
RATIO_MAX=1.3
MEM_TARGETS=1000
MEM_RSS_MAX_KB=49152 # 48 MiB
MAXC=5
MAXC_TARGETS=20
MAXC_SLACK=0.8 # a bounded run takes at least this share of (targets / bound) single runs
# Each run is killed after this long, so that the test ends even on a sequential
# client (50 targets one after the other take ~95 s); meson's timeout covers their sum.
SINGLE_LIMIT_S=60
RUN_LIMIT_S=150
MEM_LIMIT_S=90
MAXC_LIMIT_S=60
REPORT_PROBLEMS_MAX=10 # problems printed per check, the rest counted

scn=$src/tests/netsim/scenarios/scale.scn
hopwatch=$build/client/hopwatch
engine=$build/daemon/hopwatchd
gnu_time=/usr/bin/time
[[ -x $hopwatch && -x $engine ]] || {
	echo "SKIP: build hopwatch and hopwatchd first ($build)" >&2
	exit 77
}
command -v python3 >/dev/null || {
	echo "SKIP: python3 is needed to read the reports" >&2
	exit 77
}
hw=("$hopwatch" --engine "$engine")
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

out=$(mktemp -d /tmp/multi-target.XXXXXX)
NETSIM_CLEANUP+=("rm -rf '$out'")
netsim_create "$scn"

# timed NAME LIMIT_S HOPWATCH_ARGS...: run hopwatch in the lab into $out/NAME.out and
# $out/NAME.err, killed after LIMIT_S, under the command in wrap[] if any; sets $elapsed
# (s) and returns hopwatch's status.
elapsed=0
wrap=()
timed() {
	local name=$1 limit=$2 t0 t1 rc
	shift 2
	t0=$EPOCHREALTIME
	netsim_run timeout -s KILL "$limit" "${wrap[@]}" "${hw[@]}" "$@" >"$out/$name.out" 2>"$out/$name.err"
	rc=$?
	t1=$EPOCHREALTIME
	elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	((rc == 137)) && echo "$name: killed after ${limit} s"
	return $rc
}

# check_run NAME RC: exit status 0 and nothing on stderr.
check_run() {
	local name=$1 rc=$2
	((rc == 0)) || fail "$name: exit status $rc"
	if [[ -s $out/$name.err ]]; then
		fail "$name: stderr is not empty:"
		head -n 5 "$out/$name.err" | sed 's/^/    | /'
	fi
}

# check_reports NAME TARGETS_FILE [REFERENCE]: $out/NAME.out is one mtr report per
# target of TARGETS_FILE, in its order, and nothing else. Each report's last row is its
# target, every Snt is $COUNT; with REFERENCE (a single-target report), each report
# has its HOST line and its rows (number, address, Snt), the destination row's address
# aside.
check_reports() {
	python3 - "$out/$1.out" "$2" "${3:-}" "$COUNT" "$REPORT_PROBLEMS_MAX" <<'PY'
import re
import sys

path, targets_path, ref_path, count, shown_max = sys.argv[1:6]
count, shown_max = int(count), int(shown_max)
ROW = re.compile(r"^ *(\d+)\.\|-- (\S+) +(\d+\.\d)% +(\d+)(?: +\d+\.\d){5}$")


def reports(text):
    """[(start line, HOST line, [(n, addr, snt)], [unexpected lines])]"""
    out, stray = [], []
    for line in text.splitlines():
        if line.startswith("Start: "):
            out.append([line, None, [], []])
        elif not out:
            stray.append(line)
        elif line.startswith("HOST: ") and out[-1][1] is None and not out[-1][2]:
            out[-1][1] = line
        elif ROW.match(line):
            m = ROW.match(line)
            out[-1][2].append((int(m.group(1)), m.group(2), int(m.group(4))))
        else:
            out[-1][3].append(line)
    return out, stray


with open(targets_path) as f:
    targets = [t.strip() for t in f if t.strip()]
with open(path) as f:
    got, stray = reports(f.read())
ref = None
if ref_path:
    with open(ref_path) as f:
        ref = reports(f.read())[0][0]

problems = []
if stray:
    problems.append(f"{len(stray)} line(s) before the first report: {stray[0]!r}")
if len(got) != len(targets):
    problems.append(f"{len(got)} reports for {len(targets)} targets")
for i, (start, host, rows, extra) in enumerate(got):
    want = targets[i] if i < len(targets) else None
    where = f"report {i + 1} ({want})"
    if host is None:
        problems.append(f"{where}: no HOST line")
    if extra:
        problems.append(f"{where}: unexpected line {extra[0]!r}")
    if not rows:
        problems.append(f"{where}: no hop rows")
        continue
    if want is not None and rows[-1][1] != want:
        problems.append(f"{where}: destination row is {rows[-1][1]}, out of order")
    bad_snt = [r for r in rows if r[2] != count]
    if bad_snt:
        problems.append(f"{where}: hop {bad_snt[0][0]} Snt {bad_snt[0][2]}, not {count}")
    if ref is not None:
        if host != ref[1]:
            problems.append(f"{where}: {host!r} is not the single run's {ref[1]!r}")
        mine = [(n, a, s) for n, a, s in rows[:-1]] + [(rows[-1][0], "DEST", rows[-1][2])]
        theirs = [(n, a, s) for n, a, s in ref[2][:-1]] + [(ref[2][-1][0], "DEST", ref[2][-1][2])]
        if mine != theirs:
            problems.append(f"{where}: rows (hop, address, Snt) {mine} differ from the single run's {theirs}")
for p in problems[:shown_max]:
    print("    " + p)
if len(problems) > shown_max:
    print(f"    ... and {len(problems) - shown_max} more")
print(f"    {len(got)} report(s) read, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
}

# ratio A B: B / A, two decimals ("inf" when A is 0).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "inf" }'
}

# le X Y: X <= Y, both numbers (anything else is false, so a check never passes by
# a figure that was not measured).
le() {
	awk -v x="$1" -v y="$2" 'BEGIN {
		num = "^[0-9]+([.][0-9]*)?$"
		exit !(x ~ num && y ~ num && x + 0 <= y + 0)
	}'
}

# a. The reference: one target.
printf '203.0.113.1\n' >"$out/single.targets"
timed single "$SINGLE_LIMIT_S" -r -n -c "$COUNT" -i "$FAST_INTERVAL" 203.0.113.1
rc=$?
t_single=$elapsed
echo "a. 1 target: ${t_single} s, exit $rc"
check_run single "$rc"
check_reports single "$out/single.targets" || fail "single: not one well-formed report"
if ((failures)); then
	sed 's/^/    | /' "$out/single.out"
	echo "the single-target reference failed: nothing to compare with"
	exit 1
fi

# b. 50 targets, on the command line and from a file.
targets=()
for ((i = 1; i <= NTARGETS; i++)); do
	targets+=("203.0.113.$i")
done
printf '%s\n' "${targets[@]}" >"$out/many.targets"
for how in args file; do
	if [[ $how == args ]]; then
		timed "many_$how" "$RUN_LIMIT_S" -r -n -c "$COUNT" -i "$FAST_INTERVAL" "${targets[@]}"
	else
		timed "many_$how" "$RUN_LIMIT_S" -r -n -c "$COUNT" -i "$FAST_INTERVAL" \
			-F "$out/many.targets"
	fi
	rc=$?
	r=$(ratio "$t_single" "$elapsed")
	echo "b. $NTARGETS targets ($how): ${elapsed} s, exit $rc; ratio to 1 target ${r} (max $RATIO_MAX)"
	check_run "many_$how" "$rc"
	check_reports "many_$how" "$out/many.targets" "$out/single.out" ||
		fail "many_$how: reports differ from $NTARGETS single runs in order"
	le "$r" "$RATIO_MAX" ||
		fail "many_$how: ${elapsed} s is ${r}x one target's ${t_single} s (max ${RATIO_MAX}x): not concurrent"
done

# c. Memory over 1,000 IPv6 targets, at the default interval. GNU time reports the
# peak RSS of the largest process it waited for (hopwatch, or the engine it spawns).
if [[ -x $gnu_time ]] && "$gnu_time" -v true >/dev/null 2>&1; then
	targets6=()
	for ((i = 1; i <= MEM_TARGETS; i++)); do
		targets6+=("$(printf '2001:db8:ffff::%x' "$i")")
	done
	printf '%s\n' "${targets6[@]}" >"$out/mem.targets"
	wrap=("$gnu_time" -v -o "$out/mem.time")
	timed mem "$MEM_LIMIT_S" -r -n -c "$COUNT" "${targets6[@]}"
	rc=$?
	wrap=()
	rss=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$out/mem.time" 2>/dev/null)
	echo "c. $MEM_TARGETS IPv6 targets: ${elapsed} s, exit $rc, peak RSS ${rss:-unknown} KiB (max $MEM_RSS_MAX_KB)"
	check_run mem "$rc"
	check_reports mem "$out/mem.targets" || fail "mem: not $MEM_TARGETS reports in order"
	if [[ -z $rss ]]; then
		fail "mem: no peak RSS from $gnu_time"
	elif ldd "$hopwatch" 2>/dev/null | grep -q libasan; then
		# AddressSanitizer's shadow memory and quarantine are not hopwatch's: figure only.
		echo "c. (sanitizer build: the RSS bound applies to the normal build)"
	elif [[ -n ${HOPWATCH_VALGRIND:-} ]]; then
		# The process measured is memcheck, whose heap and shadow are not hopwatch's.
		echo "c. (under valgrind: the RSS bound applies to the native run)"
	elif ((rss > MEM_RSS_MAX_KB)); then
		fail "mem: peak RSS $rss KiB is above $MEM_RSS_MAX_KB KiB"
	fi
else
	fail "GNU time is not installed at $gnu_time (package time, scripts/setup.sh)"
fi

# d. The bound on traces run at once: 20 targets, 5 at a time, take about 4 single runs.
if "$hopwatch" --help 2>&1 | grep -Eq -- "(^|[^-[:alnum:]])${MAXC_OPT}([^-[:alnum:]]|$)"; then
	head -n "$MAXC_TARGETS" "$out/many.targets" >"$out/maxc.targets"
	mapfile -t maxc_targets <"$out/maxc.targets"
	timed maxc "$MAXC_LIMIT_S" -r -n -c "$COUNT" -i "$FAST_INTERVAL" "$MAXC_OPT" "$MAXC" \
		"${maxc_targets[@]}"
	rc=$?
	waves=$(((MAXC_TARGETS + MAXC - 1) / MAXC))
	lo=$(awk -v t="$t_single" -v w="$waves" -v s="$MAXC_SLACK" 'BEGIN { printf "%.2f", t * w * s }')
	hi=$(awk -v t="$t_single" -v w="$waves" -v m="$RATIO_MAX" 'BEGIN { printf "%.2f", t * w * m }')
	echo "d. $MAXC_TARGETS targets, $MAXC_OPT $MAXC: ${elapsed} s, exit $rc (expected ${lo}..${hi} s)"
	check_run maxc "$rc"
	check_reports maxc "$out/maxc.targets" "$out/single.out" ||
		fail "maxc: reports differ from single runs in order"
	if [[ -n ${HOPWATCH_VALGRIND:-} ]]; then
		# memcheck's start-up, seconds a process, is in the single run but not per wave.
		echo "d. (under valgrind: the time bounds apply to the native run)"
	else
		le "$lo" "$elapsed" ||
			fail "maxc: ${elapsed} s is under ${lo} s: more than $MAXC traces ran at once"
		le "$elapsed" "$hi" ||
			fail "maxc: ${elapsed} s is over ${hi} s: fewer than $MAXC traces ran at once"
	fi
else
	echo "d. SKIP: hopwatch --help does not list $MAXC_OPT (set MULTI_TARGET_MAXC_OPT to its name)"
fi

if ((failures)); then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
