#!/usr/bin/env bash
# bench.sh: the engine benchmark. Builds a namespace lab of kernel routers, then drives
# hopwatchd and the real mtr-packet with the same probe stream (bench_driver), in
# alternating runs, and prints each run, the medians and the hopwatchd/mtr-packet ratios
# against the targets. It prints figures; it does not pass or fail on them.
# Needs root (network namespaces). Every probe stays inside the lab (tests/integration/lab.sh).
set -u

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$SRC_DIR/build
ROUNDS=5
PROBES=30000
INFLIGHT=1000
TTL_MAX=6
ROUTERS=6
PROTOCOL=icmp
FAMILY=4
TIMEOUT=5
PORT=""
HOPWATCHD=""
MTR_PACKET=/usr/bin/mtr-packet
DO_BUILD=1
LAB_SH=$SRC_DIR/tests/integration/lab.sh

# Targets from the acceptance criteria, as ratios hopwatchd / mtr-packet in the same run.
TARGET_THROUGHPUT=1.5 # at least
TARGET_CPU=0.6        # at most
TARGET_P50=0.05       # at most

usage() {
	cat <<EOF
usage: sudo $0 [options]
  --rounds R         runs per engine, alternating (default $ROUNDS)
  --probes N         probes answered per run (default $PROBES)
  --inflight W       probes kept outstanding (default $INFLIGHT)
  --ttl-max T        TTLs cycle 1..T (default $TTL_MAX)
  --routers N        routers in the lab path (default $ROUTERS)
  --protocol P       icmp, udp or tcp (default $PROTOCOL)
  --family 4|6       IP version (default $FAMILY)
  --port N           destination port for udp/tcp (default: the engine's)
  --timeout S        per-probe timeout in seconds (default $TIMEOUT)
  --build DIR        meson build directory (default $BUILD)
  --no-build         do not run meson/ninja
  --hopwatchd PATH   engine under test (default DIR/daemon/hopwatchd)
  --mtr-packet PATH  reference engine (default $MTR_PACKET)
  --lab PATH         lab library to source (default tests/integration/lab.sh)
EOF
}

die() {
	echo "bench: $*" >&2
	exit 1
}

while (($#)); do
	opt=$1
	case $opt in
	--rounds | --probes | --inflight | --ttl-max | --routers | --protocol | --family | \
		--port | --timeout | --build | --hopwatchd | --mtr-packet | --lab)
		(($# >= 2)) || die "$opt needs a value"
		val=$2
		shift 2
		;;
	--no-build)
		DO_BUILD=0
		shift
		continue
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	case $opt in
	--rounds) ROUNDS=$val ;;
	--probes) PROBES=$val ;;
	--inflight) INFLIGHT=$val ;;
	--ttl-max) TTL_MAX=$val ;;
	--routers) ROUTERS=$val ;;
	--protocol) PROTOCOL=$val ;;
	--family) FAMILY=$val ;;
	--port) PORT=$val ;;
	--timeout) TIMEOUT=$val ;;
	--build) BUILD=$(realpath -m "$val") ;;
	--hopwatchd) HOPWATCHD=$(realpath -m "$val") ;;
	--mtr-packet) MTR_PACKET=$(realpath -m "$val") ;;
	--lab) LAB_SH=$(realpath -m "$val") ;;
	esac
done

for v in ROUNDS PROBES INFLIGHT TTL_MAX ROUTERS TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer"
done
[[ $PROTOCOL =~ ^(icmp|udp|tcp)$ ]] || die "--protocol must be icmp, udp or tcp"
[[ $FAMILY =~ ^[46]$ ]] || die "--family must be 4 or 6"
[[ -z $PORT || $PORT =~ ^[1-9][0-9]*$ ]] || die "--port must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "needs root: the lab is built from network namespaces"
[[ -r $LAB_SH ]] || die "lab library not found: $LAB_SH"
[[ -n $HOPWATCHD ]] || HOPWATCHD=$BUILD/daemon/hopwatchd
DRIVER=$BUILD/tests/bench/bench_driver

if ((DO_BUILD)); then
	targets=(tests/bench/bench_driver)
	[[ $HOPWATCHD == "$BUILD/daemon/hopwatchd" ]] && targets+=(daemon/hopwatchd)
	if [[ ! -f $BUILD/build.ninja ]]; then
		meson setup "$BUILD" "$SRC_DIR" >&2 || die "meson setup $BUILD failed"
	fi
	ninja -C "$BUILD" "${targets[@]}" >&2 || die "build failed"
fi
for f in "$DRIVER" "$HOPWATCHD" "$MTR_PACKET"; do
	[[ -x $f ]] || die "not executable: $f"
done

# shellcheck source=../integration/lab.sh
. "$LAB_SH"
lab_create "$ROUTERS" # owns the EXIT trap: namespaces and their processes go on any exit

OUT=$(mktemp -d /tmp/hopwatch-bench.XXXXXX) || die "mktemp failed"
LAB_CLEANUP+=("rm -rf '$OUT'")
DRIVER_PID=""
# shellcheck disable=SC2016 # expanded when the cleanup runs
LAB_CLEANUP+=('[[ -z $DRIVER_PID ]] || kill -TERM "$DRIVER_PID" 2>/dev/null; sleep 0.2')

if ((FAMILY == 4)); then TARGET=$LAB_DST4; else TARGET=$LAB_DST6; fi
driver_args=(--target "$TARGET" --family "$FAMILY" --protocol "$PROTOCOL"
	--probes "$PROBES" --inflight "$INFLIGHT" --ttl-max "$TTL_MAX" --timeout "$TIMEOUT")
[[ -n $PORT ]] && driver_args+=(--port "$PORT")

ENGINES=(hopwatchd mtr-packet)
declare -A ENGINE_PATH=([hopwatchd]=$HOPWATCHD [mtr-packet]=$MTR_PACKET)

# field KEY LINE: the value of KEY= in a driver result line.
field() {
	local kv
	for kv in $2; do
		if [[ $kv == "$1="* ]]; then
			printf '%s' "${kv#*=}"
			return
		fi
	done
	printf 'n/a'
}

median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f\n", m }'
}

echo "hopwatch engine benchmark: $ROUNDS rounds, $PROBES probes/run, $INFLIGHT in flight," \
	"TTL 1..$TTL_MAX, $PROTOCOL/IPv$FAMILY to $TARGET over $ROUTERS routers"
echo "  hopwatchd:  $HOPWATCHD"
echo "  mtr-packet: $MTR_PACKET"
echo
fmt='%-5s %-10s %7s %8s %10s %10s %9s %9s %9s %7s %7s %7s %6s %4s\n'
# shellcheck disable=SC2059 # one format for header and rows
printf "$fmt" round engine probes seconds probes/s cpu_us/pr p50_us p99_us turn50_us \
	ttl_exp reply no_rep other ok

failed=0
for ((round = 1; round <= ROUNDS; round++)); do
	for engine in "${ENGINES[@]}"; do
		res=$OUT/$engine.$round
		# In the background so that a signal reaches our traps at once. Not through the
		# lab_src function: that would add a subshell, and $! must be the driver itself,
		# which takes its engine down on SIGTERM. lab_destroy also kills whatever is left
		# inside the lab's namespaces.
		ip netns exec "$LAB_SRC" "$DRIVER" --engine "${ENGINE_PATH[$engine]}" \
			--label "$engine" "${driver_args[@]}" >"$res" 2>"$res.err" &
		DRIVER_PID=$!
		wait "$DRIVER_PID" || failed=1
		DRIVER_PID=""
		line=$(grep -m1 '^engine=' "$res")
		if [[ -z $line ]]; then
			echo "bench: $engine round $round produced no result:" >&2
			cat "$res.err" >&2
			failed=1
			continue
		fi
		[[ -s $res.err ]] && sed "s/^/  $engine: /" "$res.err" >&2
		# shellcheck disable=SC2059
		printf "$fmt" "$round" "$engine" "$(field probes "$line")" \
			"$(field seconds "$line")" "$(field probes_per_s "$line")" \
			"$(field cpu_us_per_probe "$line")" "$(field rtt_p50_us "$line")" \
			"$(field rtt_p99_us "$line")" "$(field turnaround_p50_us "$line")" \
			"$(field ttl_expired "$line")" \
			"$(field replies "$line")" "$(field no_reply "$line")" \
			"$(field other "$line")" "$(field complete "$line")"
		echo "$line" >>"$OUT/$engine.all"
		over=$(field rtt_over_turnaround "$line")
		[[ $over == 0 ]] || echo "  warning: $engine reported $over RTTs longer than" \
			"the driver waited for them" >&2
	done
done

echo
printf '%-10s %10s %10s %9s %9s %9s\n' median probes/s cpu_us/pr p50_us p99_us turn50_us
declare -A MED
for engine in "${ENGINES[@]}"; do
	for key in probes_per_s cpu_us_per_probe rtt_p50_us rtt_p99_us turnaround_p50_us; do
		MED[$engine.$key]=$(
			[[ -f $OUT/$engine.all ]] || exit 0
			while read -r line; do field "$key" "$line" && echo; done <"$OUT/$engine.all" |
				median
		)
		[[ -n ${MED[$engine.$key]} ]] || MED[$engine.$key]=nan
	done
	printf '%-10s %10s %10s %9s %9s %9s\n' "$engine" "${MED[$engine.probes_per_s]}" \
		"${MED[$engine.cpu_us_per_probe]}" "${MED[$engine.rtt_p50_us]}" \
		"${MED[$engine.rtt_p99_us]}" "${MED[$engine.turnaround_p50_us]}"
done

# ratio NAME KEY OP TARGET: hopwatchd/mtr-packet of the medians, and whether OP TARGET holds.
ratio() {
	awk -v name="$1" -v a="${MED[hopwatchd.$2]}" -v b="${MED[mtr-packet.$2]}" \
		-v op="$3" -v t="$4" 'BEGIN {
		if (a == "nan" || b == "nan" || b + 0 == 0) {
			printf "%-22s %10s   target %s %sx   %s\n", name, "n/a", op, t, "NOT MEASURED"
			exit
		}
		r = a / b
		met = (op == ">=") ? (r >= t) : (r <= t)
		printf "%-22s %9.3fx   target %s %sx   %s\n", name, r, op, t, met ? "met" : "NOT met"
	}'
}

echo
echo "ratios hopwatchd / mtr-packet (medians of the same run):"
ratio "throughput" probes_per_s ">=" "$TARGET_THROUGHPUT"
ratio "engine CPU per probe" cpu_us_per_probe "<=" "$TARGET_CPU"
ratio "p50 RTT under load" rtt_p50_us "<=" "$TARGET_P50"

if ((failed)); then
	echo "bench: at least one run did not complete; its figures are partial" >&2
	exit 1
fi
exit 0
