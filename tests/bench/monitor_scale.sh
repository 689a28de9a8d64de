#!/usr/bin/env bash
# monitor_scale.sh: hopwatch-monitor at scale, beside the exporter way, in one run on the
# TUN path simulator (tests/netsim, scenario scale10.scn: nine hops, then a whole prefix as
# the destination). All processes run in one netsim namespace (documentation prefixes
# only, nothing linked to the host) and are killed at the end; the namespace goes on every
# exit. It measures:
#   1. hopwatch-monitor + hopwatchd (over a pipe) tracing N targets (2001:db8:ffff::1..)
#      of 10 hops at one round a second: probes sent and answered (the monitor's /metrics),
#      CPU per probe of both processes, the monitor's peak RSS, the time to serve /metrics;
#      and a run with 100 targets, for the RSS each additional target costs;
#   2. one `mtr -r -n -c C -i 1` per target on 50 of the targets at once: CPU per probe;
#   3. prometheus-smokeping-prober pinging the N destinations every second: CPU per ping
#      and peak RSS.
# Then a table and the ratios against the targets. Figures, not a pass/fail test: exit 0
# when it ran, whatever the figures; 1 when it could not run.
set -uo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$SRC_DIR/build
TARGETS=1000
RUN_S=60
KEEP=0
BUDGET=""
SMALL_TARGETS=100 # the baseline of the RSS-per-target figure
MTR_TARGETS=50
METRICS=127.0.0.1:9101
SMOKE_LISTEN=127.0.0.1:9374
METRICS_FETCHES=5 # the /metrics time is their median
PROGRESS_S=10     # a progress line (counters, lag) every so often during the main run
START_TRIES=100   # x 0.1 s for a /metrics endpoint to answer
# Targets (issue): CPU per probe <= 0.1x mtr's and <= 0.05x smokeping_prober's, at most
# 16 KiB per additional target, /metrics in under 100 ms, 99.9 % answered.
T_MTR=0.1
T_SMOKE=0.05
T_RSS_KIB=16
T_METRICS_MS=100
T_ANSWERED=99.9

usage() {
	cat <<EOF
usage: sudo bash $0 [--build DIR] [--targets N] [--seconds S] [--budget P] [--keep]
  --build DIR    meson build directory with monitor/hopwatch-monitor, daemon/hopwatchd and
                 tests/netsim/netsim (default $BUILD)
  --targets N    targets of the main run and of smokeping_prober, $((SMALL_TARGETS + 1))..65535 (default $TARGETS)
  --seconds S    length of the main run (default $RUN_S); the 100-target run and mtr's
                 rounds take S/3, smokeping_prober S/2 (at least 5 s each)
  --budget P     the monitor's budget, probes/s (default 20 per target, at least 20000)
  --keep         keep the work directory (configurations, /metrics bodies, JSON lines,
                 stderr, mtr reports, the simulator's logs) and print its path
EOF
}

die() {
	echo "monitor_scale: $*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--build) BUILD=${2:?}; shift ;;
	--targets) TARGETS=${2:?}; shift ;;
	--seconds) RUN_S=${2:?}; shift ;;
	--budget) BUDGET=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 1 ;;
	esac
	shift
done
if ! [[ $TARGETS =~ ^[0-9]+$ ]] || ((TARGETS <= SMALL_TARGETS || TARGETS > 65535)); then
	die "--targets must be $((SMALL_TARGETS + 1))..65535"
fi
if ! [[ $RUN_S =~ ^[0-9]+$ ]] || ((RUN_S < 5)); then
	die "--seconds must be an integer >= 5"
fi
SMALL_S=$((RUN_S / 3 < 5 ? 5 : RUN_S / 3))
MTR_COUNT=$SMALL_S
SMOKE_S=$((RUN_S / 2 < 5 ? 5 : RUN_S / 2))
# Ten probes a round per target, at one round a second, with room to spare.
[[ -n $BUDGET ]] || BUDGET=$((TARGETS * 20 < 20000 ? 20000 : TARGETS * 20))

[[ $(id -u) -eq 0 ]] || die "needs root (network namespace, TUN device)"
MONITOR=$BUILD/monitor/hopwatch-monitor
ENGINE=$BUILD/daemon/hopwatchd
SMOKE=$(command -v prometheus-smokeping-prober || command -v smokeping_prober || true)
UTIL=$SRC_DIR/tests/bench/monitor_scale_util.py
SCN=$SRC_DIR/tests/netsim/scenarios/scale10.scn
for f in "$MONITOR" "$ENGINE" "$BUILD/tests/netsim/netsim" /usr/bin/mtr /usr/bin/mtr-packet \
	"$SMOKE" /usr/bin/curl /usr/bin/python3; do
	[[ -n $f && -x $f ]] || die "missing ${f:-prometheus-smokeping-prober} (build first; mtr-tiny, prometheus-smokeping-prober, curl)"
done
TICK=$(getconf CLK_TCK)

# shellcheck source=tests/netsim/netsim_lab.sh
source "$SRC_DIR/tests/netsim/netsim_lab.sh"
OUT=$(mktemp -d /tmp/monitor-scale.XXXXXX)
if ((KEEP)); then
	NETSIM_KEEP=1
	NETSIM_CLEANUP+=("echo \"monitor_scale: kept $OUT and \$NETSIM_DIR\" >&2")
else
	NETSIM_CLEANUP+=("rm -rf '$OUT'")
fi
mon_pid=""
smoke_pid=""
# shellcheck disable=SC2016 # expanded when netsim_destroy evals them
NETSIM_CLEANUP+=('[[ -n $mon_pid ]] && kill -KILL $mon_pid 2>/dev/null'
	'[[ -n $smoke_pid ]] && kill -KILL $smoke_pid 2>/dev/null')
HOPWATCH_BUILD=$BUILD netsim_create "$SCN"

addr() { printf '2001:db8:ffff::%x' "$1"; }

# write_conf N FILE: N targets, one round a second, 10 s windows.
write_conf() {
	local i
	{
		echo "budget $BUDGET"
		echo "defaults protocol icmp interval 1 window 10 max-ttl 12 timeout 2"
		for ((i = 1; i <= $1; i++)); do
			echo "target t$i host $(addr "$i")"
		done
	} >"$2"
}

# fetch URL FILE: the body into FILE, the seconds it took on stdout (from the namespace).
fetch() {
	netsim_run curl -s -f -m 10 -o "$2" -w '%{time_total}\n' "$1"
}

# wait_up URL: until the server answers at all (a 404 will do: the monitor's /metrics is
# not rendered before its memory is sampled).
wait_up() {
	local i code
	for ((i = 0; i < START_TRIES; i++)); do
		code=$(netsim_run curl -s -m 5 -o /dev/null -w '%{http_code}' "$1")
		[[ $code != 000 ]] && return 0
		sleep 0.1
	done
	return 1
}

prom() { # FILE KEY: the sum of that series
	python3 "$UTIL" prom "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

calc() { # FMT EXPR: EXPR with awk's arithmetic, printed with FMT
	awk "BEGIN { printf \"$1\", $2 }"
}

# met VALUE OP TARGET: "met" or "NOT met".
met() {
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = (op == "<=") ? v <= t : (op == "<") ? v < t : v >= t
		print ok ? "met" : "NOT met" }'
}

# start_monitor NAME N: the monitor in the namespace on a fresh simulator log.
start_monitor() {
	write_conf "$2" "$OUT/$1.conf"
	netsim_restart "$SCN"
	# ip netns exec directly, not netsim_run (a function: & would fork a subshell and $!
	# would not be the monitor).
	ip netns exec "$NETSIM_NS" "$MONITOR" --engine "$ENGINE" -c "$OUT/$1.conf" --metrics "$METRICS" \
		--json "$OUT/$1.jsonl" 2>"$OUT/$1.err" &
	mon_pid=$!
	if ! wait_up "http://$METRICS/ready"; then
		echo "monitor_scale: $1: /metrics never answered; stderr:" >&2
		head -20 "$OUT/$1.err" >&2
		exit 1
	fi
}

# alive NAME: 0 if the monitor still runs, else say so (with its stderr) and return 1.
alive() {
	kill -0 "$mon_pid" 2>/dev/null && return 0
	wait "$mon_pid"
	echo "monitor_scale: $1: hopwatch-monitor exited (status $?) during the run; stderr:" >&2
	head -40 "$OUT/$1.err" >&2
	mon_pid=""
	return 1
}

stop_monitor() { # NAME
	[[ -n $mon_pid ]] || return 0
	kill -TERM "$mon_pid" 2>/dev/null
	wait "$mon_pid" 2>/dev/null
	local rc=$?
	((rc == 0)) || echo "monitor_scale: $1: hopwatch-monitor exited with status $rc on SIGTERM" >&2
	mon_pid=""
}

# tree_stats NAME: CPU ticks and VmHWM of the monitor and its engine, before they stop.
tree_stats() {
	python3 "$UTIL" tree "$mon_pid" >"$OUT/$1.tree"
}

hwm_of() { # NAME: peak RSS in KiB of the monitor (the tree's root, listed first)
	awk 'NR == 2 { print $4 }' "$OUT/$1.tree"
}

echo "monitor_scale: $TARGETS targets x 10 hops at 1 round/s for ${RUN_S} s (budget $BUDGET), on $(basename "$SCN")"
echo "               $SMALL_TARGETS targets for ${SMALL_S} s; mtr on $MTR_TARGETS targets, -c $MTR_COUNT; smokeping_prober ${SMOKE_S} s"
echo "               $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0

# ---- 1a. the monitor with SMALL_TARGETS, for the RSS baseline ----
start_monitor small "$SMALL_TARGETS"
sleep "$SMALL_S"
rss_small="" rss_small_pre=""
if alive small; then
	tree_stats small
	rss_small_pre=$(hwm_of small)
	times=()
	for ((i = 0; i < METRICS_FETCHES; i++)); do
		times+=("$(fetch "http://$METRICS/metrics" "$OUT/small.prom")")
	done
	tree_stats small
	stop_monitor small
	rss_small=$(hwm_of small)
	small_ms=$(calc '%.1f' "$(median "${times[@]}") * 1000")
else
	status=1
fi

# ---- 1b. the monitor with TARGETS ----
start_monitor big "$TARGETS"
t0=$(date +%s)
printf '  %5s %10s %10s %8s %9s\n' t_s sent answered lag_s engine_up
big_ok=1
rss_big_pre=""
next=$SMALL_S # no scrape before the memory is sampled at the same age as the small run's
while (($(date +%s) - t0 < RUN_S)); do
	left=$((t0 + next - $(date +%s)))
	((left > 0)) && sleep "$left"
	next=$((next + PROGRESS_S > RUN_S ? RUN_S : next + PROGRESS_S))
	alive big || { big_ok=0; break; }
	if [[ -z $rss_big_pre ]]; then
		tree_stats big
		rss_big_pre=$(hwm_of big)
	fi
	fetch "http://$METRICS/metrics" "$OUT/progress.prom" >/dev/null || continue
	printf '  %5d %10.0f %10.0f %8.3f %9s\n' $(($(date +%s) - t0)) \
		"$(prom "$OUT/progress.prom" hopwatch_monitor_probes_sent_total)" \
		"$(prom "$OUT/progress.prom" hopwatch_monitor_probes_answered_total)" \
		"$(prom "$OUT/progress.prom" hopwatch_monitor_scheduling_lag_seconds)" \
		"$(awk '$1 == "hopwatch_monitor_engine_up" { print $2 }' "$OUT/progress.prom")"
done
if ((big_ok)); then
	# The figures: CPU and counters at the same moment, then the /metrics timings.
	tree_stats big
	m_age=$(($(date +%s) - t0))
	fetch "http://$METRICS/metrics" "$OUT/big.prom" >/dev/null
	times=()
	for ((i = 0; i < METRICS_FETCHES; i++)); do
		times+=("$(fetch "http://$METRICS/metrics" "$OUT/fetch.prom")")
	done
	stop_monitor big
	netsim_flush
	sim_big=$(grep -c 'fate=answer' "$NETSIM_LOG")
	sim_big_all=$(wc -l <"$NETSIM_LOG")
	m_sent=$(prom "$OUT/big.prom" hopwatch_monitor_probes_sent_total)
	m_ans=$(prom "$OUT/big.prom" hopwatch_monitor_probes_answered_total)
	h_sent=$(prom "$OUT/big.prom" hopwatch_hop_probes_sent_total)
	h_rcv=$(prom "$OUT/big.prom" hopwatch_hop_probes_received_total)
	m_exh=$(prom "$OUT/big.prom" hopwatch_monitor_probes_exhausted_total)
	m_err=$(prom "$OUT/big.prom" hopwatch_monitor_send_errors_total)
	m_reach=$(prom "$OUT/big.prom" hopwatch_target_reachable)
	m_ticks=$(head -1 "$OUT/big.tree")
	rss_big=$(hwm_of big)
	rss_engine=$(awk 'NR > 1 && NR > 2 { s += $4 } END { print s + 0 }' "$OUT/big.tree")
	mon_cpu_us=$(calc '%.2f' "$m_ticks / $TICK * 1e6 / $m_sent")
	metrics_ms=$(calc '%.1f' "$(median "${times[@]}") * 1000")
	metrics_kib=$(($(stat -c %s "$OUT/fetch.prom") / 1024))
	ans_pct=$(calc '%.3f' "100 * $m_ans / $m_sent")
	addr_pct=$(calc '%.3f' "100 * $h_rcv / $h_sent")
	rss_per="" rss_per_pre=""
	if [[ -n $rss_small ]]; then
		rss_per=$(calc '%.2f' "($rss_big - $rss_small) / ($TARGETS - $SMALL_TARGETS)")
		rss_per_pre=$(calc '%.2f' "($rss_big_pre - $rss_small_pre) / ($TARGETS - $SMALL_TARGETS)")
	fi
	m_rounds=$(prom "$OUT/big.prom" rounds)
	m_windows=$(prom "$OUT/big.prom" hopwatch_target_windows_total)
	m_series=$(prom "$OUT/big.prom" series)

	jsonl=$(wc -l <"$OUT/big.jsonl")
	interrupted=$(grep -c '"interrupted":true' "$OUT/big.jsonl")
	echo "hopwatch-monitor, $TARGETS targets, ${RUN_S} s:"
	echo "  probes sent $m_sent, answered $m_ans ($ans_pct %); per hop: sent $h_sent, answered with an address $h_rcv ($addr_pct %, target >= $T_ANSWERED %: $(met "$addr_pct" '>=' "$T_ANSWERED"))"
	echo "  rounds $m_rounds = $(calc '%.3f' "$m_rounds / $TARGETS / $m_age") per target and second (configured: 1), $(calc '%.0f' "$m_sent / $m_age") probes/s; windows finished $m_windows"
	echo "  exhausted $m_exh, send errors $m_err, targets reachable in the last window $m_reach of $TARGETS"
	echo "  simulator: $sim_big_all probes seen, $sim_big answered"
	echo "  CPU monitor+hopwatchd $(calc '%.2f' "$m_ticks / $TICK") s = $mon_cpu_us us/probe; per process (ticks): $(awk 'NR > 1 { printf "%s %s  ", $2, $3 }' "$OUT/big.tree")"
	echo "  peak RSS: monitor $(calc '%.1f' "$rss_big / 1024") MiB (with $SMALL_TARGETS targets: $(calc '%.1f' "${rss_small:-0} / 1024") MiB), hopwatchd $(calc '%.1f' "$rss_engine / 1024") MiB"
	echo "    at ${SMALL_S} s, before any /metrics: $(calc '%.1f' "$rss_big_pre / 1024") MiB (with $SMALL_TARGETS targets: $(calc '%.1f' "${rss_small_pre:-0} / 1024") MiB): ${rss_per_pre:-n/a} KiB per additional target"
	echo "  /metrics: ${metrics_kib} KiB, $m_series series; $METRICS_FETCHES fetches ${times[*]} s, median $metrics_ms ms (with $SMALL_TARGETS targets: ${small_ms:-n/a} ms)"
	echo "  JSON lines: $jsonl ($interrupted interrupted: the windows open at SIGTERM); stderr lines: $(wc -l <"$OUT/big.err")"
	[[ -s $OUT/big.err ]] && { echo "  monitor stderr (first lines):"; head -5 "$OUT/big.err" | sed 's/^/    /'; }
else
	status=1
fi

# ---- 2. mtr, one process per target ----
netsim_restart "$SCN"
mtr_addrs=()
for ((i = 1; i <= MTR_TARGETS; i++)); do mtr_addrs+=("$(addr "$i")"); done
mkdir -p "$OUT/mtr"
mtr_line="cpu_s=0 wall_s=0 procs=0 failed=0 killed=0 max_rss_kib=0 sum_rss_kib=0 snt=0 rcv=0 hops=0"
read -r mtr_line < <(netsim_run python3 "$UTIL" mtr "$OUT/mtr" "$MTR_COUNT" "${mtr_addrs[@]}")
declare -A mtr
for kv in $mtr_line; do mtr[${kv%%=*}]=${kv#*=}; done
mtr_cpu_us=$(calc '%.2f' "${mtr[cpu_s]} * 1e6 / (${mtr[snt]} > 0 ? ${mtr[snt]} : 1)")
echo "mtr -r -n -c $MTR_COUNT -i 1, $MTR_TARGETS at once: ${mtr[wall_s]} s, ${mtr[procs]} processes (${mtr[failed]} failed, killed: ${mtr[killed]})"
echo "  Snt ${mtr[snt]} over ${mtr[hops]} hops, received ${mtr[rcv]}; CPU ${mtr[cpu_s]} s = $mtr_cpu_us us/probe"
echo "  peak RSS: largest process $(calc '%.1f' "${mtr[max_rss_kib]} / 1024") MiB, all ${mtr[procs]} summed $(calc '%.1f' "${mtr[sum_rss_kib]} / 1024") MiB"
((mtr[snt] > 0)) || { status=1; echo "  mtr sent nothing: $(head -3 "$OUT/mtr/mtr-0.txt")"; }

# ---- 3. smokeping_prober on the TARGETS destinations ----
netsim_restart "$SCN"
{
	echo "targets:"
	echo "- interval: 1s"
	echo "  network: ip6"
	echo "  protocol: icmp"
	echo "  hosts:"
	for ((i = 1; i <= TARGETS; i++)); do echo "  - $(addr "$i")"; done
} >"$OUT/smokeping.yml"
ip netns exec "$NETSIM_NS" "$SMOKE" --config.file="$OUT/smokeping.yml" --privileged \
	--web.listen-address="$SMOKE_LISTEN" --log.level=warn 2>"$OUT/smokeping.err" &
smoke_pid=$!
START_TRIES=$((START_TRIES * 3)) # 1 ms between its pingers, and slow to start at 1,000
if wait_up "http://$SMOKE_LISTEN/"; then
	sleep "$SMOKE_S"
	fetch "http://$SMOKE_LISTEN/metrics" "$OUT/smoke.prom" >/dev/null
	read -r s_ticks s_hwm < <(python3 "$UTIL" tree "$smoke_pid" |
		awk 'NR == 1 { t = $1 } NR > 1 { h += $4 } END { print t, h }')
	kill -TERM "$smoke_pid" 2>/dev/null
	wait "$smoke_pid" 2>/dev/null
	smoke_pid=""
	s_req=$(prom "$OUT/smoke.prom" smokeping_requests_total)
	s_rcv=$(prom "$OUT/smoke.prom" smokeping_response_duration_seconds_count)
	smoke_cpu_us=$(calc '%.2f' "$s_ticks / $TICK * 1e6 / ($s_req > 0 ? $s_req : 1)")
	echo "smokeping_prober ($("$SMOKE" --version 2>&1 | awk 'NR == 1 { print $3 }'), 1 s), $TARGETS destinations, ${SMOKE_S} s:"
	echo "  pings $s_req, answered $s_rcv; CPU $(calc '%.2f' "$s_ticks / $TICK") s = $smoke_cpu_us us/ping; peak RSS $(calc '%.1f' "$s_hwm / 1024") MiB"
else
	echo "monitor_scale: smokeping_prober never served /metrics: $(head -5 "$OUT/smokeping.err")" >&2
	s_req=0
	status=1
fi

# ---- the table ----
if ((big_ok)) && ((mtr[snt] > 0 && ${s_req%.*} > 0)); then
	echo
	printf '%-30s %10s %12s %14s\n' tool probes "CPU us/probe" "peak RSS MiB"
	printf '%-30s %10.0f %12s %14.1f\n' "hopwatch-monitor+hopwatchd" "$m_sent" "$mon_cpu_us" \
		"$(calc '%.1f' "($rss_big + $rss_engine) / 1024")"
	printf '%-30s %10d %12s %14.1f\n' "mtr x $MTR_TARGETS (sum of processes)" "${mtr[snt]}" "$mtr_cpu_us" \
		"$(calc '%.1f' "${mtr[sum_rss_kib]} / 1024")"
	printf '%-30s %10.0f %12s %14.1f\n' "smokeping_prober" "$s_req" "$smoke_cpu_us" \
		"$(calc '%.1f' "$s_hwm / 1024")"
	echo
	r_mtr=$(calc '%.4f' "$mon_cpu_us / $mtr_cpu_us")
	r_smoke=$(calc '%.4f' "$mon_cpu_us / $smoke_cpu_us")
	echo "CPU per probe monitor/mtr        ${r_mtr}x  target <= ${T_MTR}x    $(met "$r_mtr" '<=' "$T_MTR")"
	echo "CPU per probe monitor/smokeping  ${r_smoke}x  target <= ${T_SMOKE}x   $(met "$r_smoke" '<=' "$T_SMOKE")"
	echo "RSS per additional target        ${rss_per:-n/a} KiB  target <= $T_RSS_KIB KiB  $(met "${rss_per:-1e9}" '<=' "$T_RSS_KIB")  (before any /metrics: ${rss_per_pre:-n/a} KiB)"
	echo "/metrics with $TARGETS targets       $metrics_ms ms  target < $T_METRICS_MS ms  $(met "$metrics_ms" '<' "$T_METRICS_MS")"
	echo "answered with an address         $addr_pct %  target >= $T_ANSWERED %  $(met "$addr_pct" '>=' "$T_ANSWERED")"
fi
netsim_destroy
exit "$status"
