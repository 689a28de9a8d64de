#!/usr/bin/env bash
# test_analyze_false_alarm.sh: --analyze raises no false alarm. On a lab path of four
# kernel routers addressed like a real one, RUNS short ICMP traces (-j --analyze, half
# IPv4, half IPv6) on a clean path, then RUNS with the destination's firewall dropping ICMP
# echo requests (the path itself healthy): not one may conclude "problem". Prints each
# phase's conclusions and its confirmation probe counts (min/max/total over the runs),
# the cost the confirmation adds. Runs go BATCH at a time, one engine each.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=4
RUNS=20
BATCH=5
COUNT=10
INTERVAL=0.1
GRACE=1
RUN_TIMEOUT_S=90
# shellcheck source=tests/integration/analyze_lib.sh
source "$HERE/analyze_lib.sh"

# phase NAME: RUNS traces, BATCH at a time; then the conclusions and probe counts.
phase() {
	local name=$1 i j dst fam tag pids=() t0=$SECONDS line id probes
	local problems=0 min=-1 max=0 total=0 ids=()
	for ((i = 0; i < RUNS; i += BATCH)); do
		pids=()
		for ((j = i; j < i + BATCH && j < RUNS; j++)); do
			fam=$((j % 2 ? 6 : 4))
			dst=$LAB_DST4
			((fam == 6)) && dst=$LAB_DST6
			tag=$name.$j
			lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= \
				timeout "$RUN_TIMEOUT_S" "$HOPWATCH" -n -j --analyze -"$fam" \
				-c "$COUNT" -i "$INTERVAL" -G "$GRACE" "$dst" \
				>"$work/$tag.json" 2>"$work/$tag.err" &
			pids+=($!)
		done
		for ((j = 0; j < ${#pids[@]}; j++)); do
			wait "${pids[j]}" || fail "$name.$((i + j)): hopwatch failed: $(head -3 "$work/$name.$((i + j)).err")"
		done
	done
	for ((i = 0; i < RUNS; i++)); do
		tag=$name.$i
		if ! line=$(python3 "$CHECK" summary "$work/$tag.json" 2>&1); then
			fail "$tag: $line"
			continue
		fi
		read -r id probes <<<"$line"
		ids+=("$id")
		total=$((total + probes))
		((probes > max)) && max=$probes
		((min < 0 || probes < min)) && min=$probes
		if [[ $id == problem ]]; then
			problems=$((problems + 1))
			fail "$tag (IPv$((i % 2 ? 6 : 4))): conclusion 'problem' on a path without a fault"
			# The whole report for the first one; the findings alone for the rest.
			python3 -c 'import json, sys
hw = json.load(open(sys.argv[1]))["report"]["hopwatch"]
if sys.argv[2] == "1":
    print(json.dumps(hw, indent=1))
else:
    print("  findings: " + ", ".join("%s/%s at hop %s (contact %s)" % (f["kind"],
          f["severity"], f["hop"], f["contact"]) for f in hw["diagnosis"]))' \
				"$work/$tag.json" "$problems" >&2
		fi
	done
	((min < 0)) && min=0
	echo "$name: $RUNS runs, $problems 'problem' conclusions; conclusions: $(printf '%s\n' "${ids[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"
	echo "$name: confirmation probes per run: min $min, max $max, total $total"
	echo "time: $name $((SECONDS - t0)) s"
}

phase clean

lab_ns "$LAB_DST" nft add table inet dstfw || lab_die "nft table on dst"
lab_ns "$LAB_DST" nft add chain inet dstfw input \
	'{ type filter hook input priority 0; policy accept; }' || lab_die "nft chain on dst"
lab_ns "$LAB_DST" nft add rule inet dstfw input icmp type echo-request drop || lab_die "nft rule"
lab_ns "$LAB_DST" nft add rule inet dstfw input icmpv6 type echo-request drop || lab_die "nft rule"
if lab_src ping -4 -n -c1 -W1 "$LAB_DST4" >/dev/null 2>&1; then
	lab_die "the destination still answers ping"
fi
phase dest_drops_icmp

echo "time: total $((SECONDS - T0)) s"
((FAILS == 0)) || {
	echo "FAIL: $FAILS checks" >&2
	exit 1
}
echo "PASS"
