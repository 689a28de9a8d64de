#!/usr/bin/env bash
# test_monitor.sh: hopwatch-monitor against the TUN path simulator, in one isolated
# namespace (tests/netsim/netsim_lab.sh: documentation prefixes only, nothing linked to
# the host). Every process of the test (netsim, hopwatchd, the monitor, Prometheus) runs
# inside that namespace, so /metrics and Prometheus listen on the namespace's own loopback.
#   1. accuracy and findings: on four scenarios, the JSON lines and /metrics give each
#      hop's loss within one probe and Avg within max(0.1 ms, 1%) of the simulator's log
#      (kernel-stamped truth), and each window's diagnosis names the expected finding and
#      conclusion; every window line (here and in 4 and 5) has a diagnosis array and a
#      conclusion with an id that agree, and a window of fewer than 10 rounds (5: windows
#      of 5 rounds) says insufficient_data rather than making a claim;
#   2. Prometheus: promtool accepts the exposition; a real Prometheus server scrapes the
#      monitor and a PromQL query for hop 2's loss ratio returns the log's ratio; a path
#      change (the scenario's hop 2 changes address) writes one path_change line and
#      increments the path-change counter;
#   3. SIGHUP with a changed target list keeps the unchanged target's counters, drops the
#      removed target's series and adds the new one's;
#   4. killing the engine: windows cut short are written as interrupted, engine_lost and
#      engine_back lines mark the gap, the reconnect counter is 1, and the counts still
#      match the log (nothing made up for the gap);
#   5. a target given by name is looked up again on schedule (a DNS server of the test's
#      own, in the namespace): when the name moves, one address_change line, and the
#      windows after it are of the new address.
# Exit 77 when not root or the binaries are missing.
set -u
src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
source "$src/tests/netsim/netsim_lab.sh"

monitor=$build/monitor/hopwatch-monitor
engine=$build/daemon/hopwatchd
check=$src/tests/integration/test_monitor_check.py
scn_dir=$src/tests/netsim/scenarios
METRICS=127.0.0.1:9101
PROM=127.0.0.1:9190
[[ -x $monitor && -x $engine ]] || {
	echo "SKIP: build hopwatch-monitor and hopwatchd first ($build)" >&2
	exit 77
}

NETSIM_OPTS=(--busy-poll --kernel-ts)
out=$(mktemp -d /tmp/hopwatch-monitor-test.XXXXXX)
NETSIM_CLEANUP+=("rm -rf '$out'")
mon_pid=""
prom_pid=""
NETSIM_CLEANUP+=('[[ -n $mon_pid ]] && kill -KILL $mon_pid 2>/dev/null'
	'[[ -n $prom_pid ]] && kill -KILL $prom_pid 2>/dev/null')
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# start_monitor NAME CONFIG [ARGS...]: the monitor in the namespace, JSON to NAME.jsonl.
start_monitor() {
	local name=$1 conf=$2
	shift 2
	ip netns exec "$NETSIM_NS" "$monitor" --engine "$engine" -c "$conf" \
		--metrics "$METRICS" --json "$out/$name.jsonl" "$@" 2>"$out/$name.err" &
	mon_pid=$!
	wait_metrics || fail "$name: /metrics never answered ($(head -3 "$out/$name.err"))"
}

stop_monitor() {
	[[ -n $mon_pid ]] || return 0
	kill -TERM "$mon_pid" 2>/dev/null
	wait "$mon_pid" 2>/dev/null || fail "monitor exited with status $? on SIGTERM"
	mon_pid=""
}

fetch() { # URL: body on stdout
	ip netns exec "$NETSIM_NS" python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except Exception as e:  # noqa: BLE001
    sys.stderr.write("fetch %s: %s\n" % (sys.argv[1], e))
    sys.exit(1)
EOF
}

wait_metrics() {
	local i
	for ((i = 0; i < 50; i++)); do
		fetch "http://$METRICS/metrics" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

scrape() { # NAME: /metrics into NAME.prom
	fetch "http://$METRICS/metrics" >"$out/$1.prom" || fail "scrape $1"
}

# ---- 1. accuracy and findings ----
# name, the finding every complete window must have, its conclusion (- any)
runs=(
	"clean clean@0 clean"
	"throttle_hop icmp_rate_limit@2 no_exception"
	"loss_from_hop real_loss@3 problem"
	"latency_step latency_step@3 -"
)
cat >"$out/one.conf" <<'EOF'
# one target, ten rounds a second, windows of 30 rounds (3 s)
budget 2000
target t1 host 203.0.113.1 interval 0.1 window 3 max-ttl 10 timeout 1
EOF
netsim_create "$scn_dir/clean.scn"
for run in "${runs[@]}"; do
	read -r name expect conclusion <<<"$run"
	netsim_restart "$scn_dir/$name.scn"
	start_monitor "$name" "$out/one.conf"
	sleep 7.8 # two full windows (a lost probe is known lost 1 s on)
	scrape "$name"
	stop_monitor
	netsim_flush
	cp "$NETSIM_LOG" "$out/$name.log"
	python3 "$check" accuracy "$out" "$name" "$expect" "$conclusion" || fail "accuracy: $name"
done

# ---- 2. Prometheus and a path change ----
if command -v promtool >/dev/null; then
	promtool check metrics <"$out/throttle_hop.prom" >"$out/promtool.txt" 2>&1 ||
		fail "promtool check metrics: $(head -5 "$out/promtool.txt")"
	echo "promtool check metrics: ok"
else
	echo "SKIP (part): promtool is not installed"
fi
sed 's/198\.51\.100\.2 2001:db8:1::2/198.51.100.22 2001:db8:1::22/' "$scn_dir/throttle_hop.scn" \
	>"$out/moved.scn"
if command -v prometheus >/dev/null; then
	netsim_restart "$scn_dir/throttle_hop.scn"
	start_monitor prom "$out/one.conf"
	cat >"$out/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hopwatch
    static_configs:
      - targets: ['$METRICS']
EOF
	ip netns exec "$NETSIM_NS" prometheus --config.file="$out/prometheus.yml" \
		--storage.tsdb.path="$out/tsdb" --web.listen-address="$PROM" \
		>"$out/prometheus.log" 2>&1 &
	prom_pid=$!
	sleep 7
	scrape prom_before
	fetch "http://$PROM/api/v1/query?query=1-hopwatch_hop_probes_received_total%7Btarget%3D%22t1%22%2Chop%3D%222%22%7D%2Fhopwatch_hop_probes_sent_total%7Btarget%3D%22t1%22%2Chop%3D%222%22%7D" \
		>"$out/promql.json" || fail "PromQL query"
	# The path changes: hop 2 answers from another address from now on.
	netsim_restart "$out/moved.scn"
	sleep 2.5
	scrape prom_after
	stop_monitor
	kill -TERM "$prom_pid" 2>/dev/null
	wait "$prom_pid" 2>/dev/null
	prom_pid=""
	python3 "$check" prometheus "$out" || fail "prometheus"
else
	echo "SKIP (part): prometheus is not installed"
fi

# ---- 3. SIGHUP: t1 stays, t2 goes, t3 comes ----
netsim_restart "$scn_dir/scale.scn"
cat >"$out/hup.conf" <<'EOF'
budget 2000
target t1 host 203.0.113.1 interval 0.1 window 1 max-ttl 6 timeout 1
target t2 host 203.0.113.2 interval 0.1 window 1 max-ttl 6 timeout 1
EOF
start_monitor hup "$out/hup.conf"
sleep 2.5
scrape hup_before
cat >"$out/hup.conf" <<'EOF'
budget 2000
target t1 host 203.0.113.1 interval 0.1 window 1 max-ttl 6 timeout 1
target t3 host 203.0.113.3 interval 0.1 window 1 max-ttl 6 timeout 1
EOF
kill -HUP "$mon_pid"
sleep 2
scrape hup_after
stop_monitor
python3 "$check" reload "$out" || fail "reload"

# ---- 4. the engine dies and comes back ----
netsim_restart "$scn_dir/scale.scn"
cat >"$out/gap.conf" <<'EOF'
budget 2000
target t1 host 203.0.113.1 interval 0.1 window 2 max-ttl 6 timeout 1
EOF
start_monitor gap "$out/gap.conf"
sleep 3
engine_pid=$(pgrep -P "$mon_pid" -x hopwatchd | head -1)
if [[ -z $engine_pid ]]; then
	fail "gap: no engine child of the monitor"
else
	kill -KILL "$engine_pid"
	sleep 4 # back-off 1 s, then a new engine
	scrape gap
fi
stop_monitor
netsim_flush
cp "$NETSIM_LOG" "$out/gap.log"
python3 "$check" gap "$out" || fail "gap"

# ---- 5. a host name looked up again: the target is renumbered ----
netsim_restart "$scn_dir/scale.scn"
echo "web.example.test 203.0.113.10" >"$out/hosts"
printf 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n' >"$out/resolv.conf"
ip netns exec "$NETSIM_NS" python3 "$src/tests/integration/fakedns.py" --bind 127.0.0.53 \
	--log "$out/dns.log" --ready "$out/dns.ready" --hosts "$out/hosts" 2>"$out/dns.err" &
dns_pid=$!
NETSIM_CLEANUP+=("kill -KILL $dns_pid 2>/dev/null")
for ((i = 0; i < 50; i++)); do
	[[ -f $out/dns.ready ]] && break
	sleep 0.1
done
cat >"$out/dns.conf" <<'EOF'
budget 2000
resolve-every 10
target web host web.example.test interval 0.2 window 1 max-ttl 6 timeout 1
EOF
HOPWATCH_RESOLV_CONF=$out/resolv.conf start_monitor dns "$out/dns.conf"
sleep 2
echo "web.example.test 203.0.113.20" >"$out/hosts"
sleep 11 # the next lookup comes 10 s after the first
stop_monitor
kill -TERM "$dns_pid" 2>/dev/null
python3 "$check" rename "$out" || fail "rename"

# ---- 6. a path that gets shorter: the hop no longer probed loses its series ----
awk 'BEGIN { skip = 0 } /^hop/ { n++ } n == 3 && /^hop/ { skip = 1; next }
	skip && /^\t/ { next } { skip = 0; print }' "$scn_dir/scale.scn" >"$out/short.scn"
netsim_restart "$scn_dir/scale.scn"
cat >"$out/short.conf" <<'EOF'
budget 2000
target t1 host 203.0.113.1 interval 0.1 window 1 max-ttl 8 timeout 1
EOF
start_monitor short "$out/short.conf"
sleep 1.5
scrape short_before
netsim_restart "$out/short.scn"
sleep 5 # windows of 1 s: the old 4th hop is gone after three of them
scrape short_after
stop_monitor
python3 "$check" prune "$out" || fail "prune"

netsim_destroy
if ((fails)); then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all monitor checks passed"
