#!/usr/bin/env bash
# test_faults.sh: faults from outside, on an isolated 2-router lab (every process runs in
# the lab's source namespace, so every probe stays in the lab).
#  1. kill -9 of the engine a CLI spawned, mid-run: the CLI exits 1 within 5 s with one
#     line naming the lost engine, and no engine or broker process is left behind.
#  2. The source's interface goes down for a second mid-trace (IPv4 and IPv6): the report
#     still comes, exit 0, every hop listed, with the loss of the outage and answers after it.
#  3. With the interface down, the engine answers each protocol and family with
#     network-down or no-route, never unexpected-error or invalid-argument.
#  4. The monitor's output file system fills up: it says so once, /metrics keeps counting,
#     no half-written JSON line is left, and lines come again once there is room (it says so).
#  5. The engine's socket is removed and a new engine listens on the same path: the
#     monitor writes engine_lost, then engine_back, then complete windows again.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=2
WAIT_S=20 # longest wait for anything to happen
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
MONITOR=$(readlink -f "$BUILD/monitor/hopwatch-monitor")
METRICS=127.0.0.1:9131
METRICS2=127.0.0.1:9132
TMPFS_SIZE=64k

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$HOPWATCH" "$MONITOR"; do
	[[ -x $f ]] || {
		echo "SKIP: not built: $f" >&2
		exit 77
	}
done

work=$(mktemp -d /tmp/hopwatch-faults.XXXXXX)
LAB_CLEANUP+=("umount '$work/full' 2>/dev/null; rm -rf '$work'")
lab_create "$ROUTERS"
# IPv6 forgets its addresses on link down unless told: the outage is of the link only.
lab_src sysctl -qw net.ipv6.conf.right.keep_addr_on_down=1

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

hw() {
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= timeout 120 "$HOPWATCH" "$@"
}

# engines_in_lab: pids of every hopwatchd in the source namespace.
engines_in_lab() {
	local p
	for p in $(ip netns pids "$LAB_SRC"); do
		[[ $(ps -o comm= -p "$p" 2>/dev/null) == hopwatchd ]] && echo "$p"
	done
}

# child_engine PARENT_COMM: the hopwatchd whose parent's name starts with PARENT_COMM.
child_engine() {
	local p pp
	for p in $(engines_in_lab); do
		pp=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')
		[[ -n $pp && $(ps -o comm= -p "$pp" 2>/dev/null) == "$1"* ]] && {
			echo "$p"
			return 0
		}
	done
	return 1
}

# wait_for SECONDS CMD...: until CMD succeeds; 1 when it never did.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}

link_down() {
	lab_src ip link set right down
}

# The link's routes went with it: put them back (the kernel may need a moment after up).
link_up() {
	local i
	lab_src ip link set right up
	for ((i = 0; i < 50; i++)); do
		lab_src ip route replace default via "$(lab_addr4 0 2)" 2>/dev/null &&
			lab_src ip -6 route replace default via "$(lab_addr6 0 2)" 2>/dev/null &&
			return 0
		sleep 0.1
	done
	fail "routes did not come back after link up"
}

# 1. kill -9 of the CLI's engine.
hw -r -n -c 100 -i 0.2 "$LAB_DST4" >"$work/kill.out" 2>"$work/kill.err" &
bg=$!
eng=""
wait_for 5 child_engine hopwatch >/dev/null && eng=$(child_engine hopwatch)
if [[ -z $eng ]]; then
	fail "1: no engine started by hopwatch"
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
else
	sleep 1
	kill -KILL "$eng"
	start=$SECONDS
	wait "$bg"
	rc=$?
	took=$((SECONDS - start))
	if ((rc != 1)) || ((took > 5)); then
		fail "1: hopwatch exit $rc after $took s, want 1 within 5 s"
	elif (($(wc -l <"$work/kill.err") != 1)) ||
		! grep -Eq 'lost the connection to the engine|the engine closed the connection' \
			"$work/kill.err"; then
		fail "1: want one line about the lost engine, got: $(cat "$work/kill.err")"
	elif ! wait_for 3 test -z "$(engines_in_lab)"; then
		fail "1: left behind: $(engines_in_lab | tr '\n' ' ')"
	else
		echo "ok 1: kill -9 of the engine: exit 1 after ${took}s: $(cat "$work/kill.err")"
	fi
fi

# 2. The interface goes down mid-trace.
for dst in "$LAB_DST4" "$LAB_DST6"; do
	hw -r -n -c 25 -i 0.2 "$dst" >"$work/down.out" 2>"$work/down.err" &
	bg=$!
	sleep 1.5
	link_down
	sleep 1
	link_up
	wait "$bg"
	rc=$?
	rows=$(awk '$1 ~ /^[0-9]+\.\|--$/ { sub(/%$/, "", $3); print $3 }' "$work/down.out")
	nrows=$(wc -w <<<"$rows")
	bad=$(awk '$1 == 0 || $1 == 100' <<<"$rows")
	if ((rc != 0)) || ((nrows != ROUTERS + 1)) || [[ -n $bad ]]; then
		fail "2: $dst: exit $rc, $nrows rows (want $((ROUTERS + 1))), each with some loss" \
			"and some answers:"
		cat "$work/down.out" "$work/down.err" >&2
	else
		echo "ok 2: $dst: interface down for 1 s mid-trace: report with loss $(tr '\n' ' ' <<<"$rows")"
	fi
done

# 3. The engine's answers while the interface is down.
link_down
{
	t=1
	for dst in "ip-4 $LAB_DST4" "ip-6 $LAB_DST6"; do
		for proto in icmp udp tcp; do
			echo "$t send-probe $dst protocol $proto timeout 1"
			t=$((t + 1))
		done
	done
	sleep 3
} | lab_src timeout 20 "$ENGINE" >"$work/engine.out" 2>"$work/engine.err"
link_up
words=$(awk '{ print $2 }' "$work/engine.out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
if (($(wc -l <"$work/engine.out") != 6)) ||
	awk '$2 != "network-down" && $2 != "no-route" { bad = 1 } END { exit !bad }' \
		"$work/engine.out"; then
	fail "3: with the interface down, want network-down or no-route for all 6 probes, got:"
	cat "$work/engine.out" "$work/engine.err" >&2
else
	echo "ok 3: interface down: replies$words"
fi

# A monitor in the lab: monitor NAME ENGINE_SPEC JSON_FILE METRICS, pid in $mon_pid.
monitor() {
	printf 'target lab host %s interval 0.2 window 1\n' "$LAB_DST4" >"$work/$1.conf"
	# Not through a function: $! must be the monitor itself, not a subshell around it.
	ip netns exec "$LAB_SRC" "$MONITOR" --config "$work/$1.conf" --engine "$2" --json "$3" \
		--metrics "$4" 2>"$work/$1.err" &
	mon_pid=$!
	LAB_CLEANUP+=("kill -KILL $mon_pid 2>/dev/null")
}

# Lines of a JSON-lines file that do not parse (a half-written line), and its types.
json_check() {
	python3 - "$1" <<'PY'
import json, sys
bad, types = 0, []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        types.append(json.loads(line)["type"])
    except (ValueError, KeyError):
        bad += 1
print(bad, " ".join(types))
PY
}

scrape_sent() {
	lab_src python3 -c '
import sys, urllib.request
body = urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode()
print(sum(float(l.split()[-1]) for l in body.splitlines()
          if l.startswith("hopwatch_monitor_probes_sent_total")))' "$METRICS" 2>/dev/null
}

windows_in() {
	local n
	n=$(grep -c '"type":"window"' "$1" 2>/dev/null)
	((${n:-0} >= $2))
}

# 4. The output's file system fills up.
mkdir -p "$work/full"
mount -t tmpfs -o size=$TMPFS_SIZE tmpfs "$work/full" || fail "4: cannot mount a tmpfs"
out=$work/full/out.jsonl
monitor full "$ENGINE" "$out" "$METRICS"
if ! wait_for "$WAIT_S" windows_in "$out" 2; then
	fail "4: no windows written: $(cat "$work/full.err")"
else
	dd if=/dev/zero of="$work/full/filler" bs=1k 2>/dev/null
	sleep 3
	sent1=$(scrape_sent)
	sleep 2
	sent2=$(scrape_sent)
	said=$(grep -c 'cannot write to the JSON output: No space left on device' "$work/full.err")
	read -r bad_full _ <<<"$(json_check "$out")"
	rm -f "$work/full/filler"
	before=$(wc -l <"$out")
	wait_for "$WAIT_S" test "$(wc -l <"$out")" -ge $((before + 2)) || true
	after=$(wc -l <"$out")
	read -r bad_after _ <<<"$(json_check "$out")"
	if ! kill -0 "$mon_pid" 2>/dev/null; then
		fail "4: the monitor died: $(cat "$work/full.err")"
	elif ((said != 1)); then
		fail "4: want the full disk said once, said $said times: $(cat "$work/full.err")"
	elif [[ -z $sent1 || -z $sent2 ]] || ! awk -v a="$sent1" -v b="$sent2" 'BEGIN { exit !(b > a) }'; then
		fail "4: /metrics stopped counting while the disk was full ($sent1 -> $sent2)"
	elif ((bad_full != 0 || bad_after != 0)); then
		fail "4: $bad_full/$bad_after lines that are not whole JSON"
	elif ((after < before + 2)) || ! grep -q 'JSON output works again' "$work/full.err"; then
		fail "4: no lines after the disk had room again ($before -> $after): $(cat "$work/full.err")"
	else
		echo "ok 4: full disk: said once, metrics $sent1 -> $sent2 probes, every line whole," \
			"$before -> $after lines once there was room"
	fi
fi
kill "$mon_pid" 2>/dev/null
wait "$mon_pid" 2>/dev/null
umount "$work/full"

# 5. The engine's socket goes away and a new engine takes its path.
mkdir -p "$work/sock"
sock=$work/sock/engine.sock
start_daemon() {
	ip netns exec "$LAB_SRC" "$ENGINE" --listen "$sock" 2>>"$work/daemon.err" &
	daemon_pid=$!
	LAB_CLEANUP+=("kill -KILL $daemon_pid 2>/dev/null")
	wait_for 5 test -S "$sock" || fail "5: the engine did not listen on $sock"
}
start_daemon
out=$work/sock.jsonl
monitor sock "unix:$sock" "$out" "$METRICS2"
if ! wait_for "$WAIT_S" windows_in "$out" 2; then
	fail "5: no windows over the socket: $(cat "$work/sock.err")"
else
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null
	rm -f "$sock"
	sleep 1.5
	start_daemon
	complete_after_back() {
		python3 - "$out" <<'PY'
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = [x["type"] for x in ls]
ok = "engine_lost" in t and "engine_back" in t and t.index("engine_lost") < t.index("engine_back")
after = [x for x in ls[t.index("engine_back") + 1:] if x["type"] == "window"
         and not x.get("interrupted")] if ok else []
sys.exit(0 if len(after) >= 2 else 1)
PY
	}
	if wait_for 30 complete_after_back; then
		echo "ok 5: socket removed and recreated: $(json_check "$out" | cut -d' ' -f2- |
			tr ' ' '\n' | uniq -c | tr -s ' ' | tr '\n' ',')"
	else
		fail "5: want engine_lost, engine_back, then complete windows: $(json_check "$out")"
		cat "$work/sock.err" >&2
	fi
fi
kill "$mon_pid" "$daemon_pid" 2>/dev/null

((FAILS == 0)) || exit 1
echo "PASS"
