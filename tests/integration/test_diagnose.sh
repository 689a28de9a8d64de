#!/bin/bash
# test_diagnose: hopwatch -j -n -c 30 --analyze against every seed case simulated by netsim
# (tests/netsim/scenarios/), inside a netsim namespace (tests/netsim/netsim_lab.sh). Each
# run's JSON diagnosis (report.hopwatch.diagnosis) must hold the expected finding kinds at
# the expected hops, and no finding of a severity the case does not call for.
#
# dest_drops_icmp.scn and interruption.scn give the very same ICMP table (hops 1-4
# answer, nothing after): no one-way ICMP trace can tell them apart, and the diagnosis
# calls both a path interruption at hop 4 (its text names the other reading). The
# destination case is also run on a copy whose last router sits in the destination's
# /24 (its gateway), the evidence that makes the call: dest_drops_icmp at hop 5.
#
# dest_throttle.scn (ICMP answers limited at the last carrier hop and at the
# destination) gives the same ICMP table as real loss starting at that carrier hop and
# carried through the destination: without a hop in the destination's network, loss
# that starts at a carrier hop is real loss there (a confirmation with other protocols
# is what tells the two apart). Its copy with that hop moved into the destination's /24
# is the destination's own policy: dest_loss at hop 4.
#
# Those runs read ICMP alone (--no-confirm). The runs marked "confirm" let --analyze send
# its confirmation (TCP and UDP to the destination and past the silence), which tells the
# look-alikes apart: the destination that drops ICMP answers TCP (dest_drops_icmp, the path
# works, conclusion dest_drops_icmp), the interruption stays silent by every protocol
# (confirmed), and the destination whose ICMP answers are throttled answers every TCP
# probe, so no carrier is blamed for its loss.
set -u
src=${HOPWATCH_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${HOPWATCH_BUILD:-$src/build}
# shellcheck source=tests/netsim/netsim_lab.sh
source "$src/tests/netsim/netsim_lab.sh"

CYCLES=30
INTERVAL=0.1
scn_dir=$src/tests/netsim/scenarios
hopwatch=$build/client/hopwatch
engine=$build/daemon/hopwatchd
[[ -x $hopwatch && -x $engine ]] || {
	echo "SKIP: build hopwatch and hopwatchd first ($build)" >&2
	exit 77
}

# name scenario expectations [-- hopwatch options]. Expectations: kind@hop (required),
# max=SEVERITY (no finding above it), only (nothing but the required kinds), concl=ID
# (the conclusion), confirm (run with the confirmation; every required finding must say
# it is confirmed, and the JSON must count the probes), noblame (no finding with a
# carrier contact).
runs=(
	"clean clean clean@0 only max=info"
	"throttle_hop throttle_hop icmp_rate_limit@2 only max=info"
	"loss_from_hop loss_from_hop real_loss@3 max=problem"
	"loss_mixed loss_mixed mixed_loss@3 max=problem"
	"latency_step latency_step latency_step@3 only max=warning"
	"spike_one_hop spike_one_hop hop_spike@3 only max=info"
	"high_stdev high_stdev high_stdev@3 max=info"
	"brief_spike brief_spike brief_spike@3 only max=info -- -c 40"
	"dest_drops_icmp dest_drops_icmp path_interruption@4 only max=problem"
	"dest_drops_icmp_gw dest_drops_icmp_gw dest_drops_icmp@5 only max=warning"
	"dest_throttle dest_throttle real_loss@4 only max=problem"
	"dest_throttle_gw dest_throttle_gw dest_loss@4 only max=warning"
	"loop loop routing_loop@3 only max=problem -- -m 10"
	"interruption interruption path_interruption@4 only max=problem -- -m 10"
	"realistic15 realistic15 icmp_rate_limit@2 brief_spike@4 icmp_rate_limit@6 hop_spike@9 max=info"
	"dest_drops_icmp_confirm dest_drops_icmp dest_drops_icmp@5 only max=info concl=dest_drops_icmp confirm noblame"
	"interruption_confirm interruption path_interruption@4 only max=problem concl=problem confirm -- -m 10"
	"dest_throttle_confirm dest_throttle max=warning noblame confirm_ran"
	"clean_confirm clean clean@0 only max=info concl=clean"
)

# shellcheck disable=SC2034 # read by netsim_lab.sh
NETSIM_OPTS=(--busy-poll)
out=$(mktemp -d /tmp/hopwatch-diagnose.XXXXXX)
NETSIM_CLEANUP+=("rm -rf '$out'")
# The destination's gateway inside its /24: the scenario's hop 4 moved to 203.0.113.254.
sed 's/198\.51\.100\.4 2001:db8:1::4/203.0.113.254 2001:db8:ffff::fe/' \
	"$scn_dir/dest_drops_icmp.scn" >"$out/dest_drops_icmp_gw.scn"
grep -q 203.0.113.254 "$out/dest_drops_icmp_gw.scn" || {
	echo "FAIL: could not derive dest_drops_icmp_gw.scn" >&2
	exit 1
}

sed 's/198\.51\.100\.4 2001:db8:1::4/203.0.113.254 2001:db8:ffff::fe/' \
	"$scn_dir/dest_throttle.scn" >"$out/dest_throttle_gw.scn"
grep -q 203.0.113.254 "$out/dest_throttle_gw.scn" || {
	echo "FAIL: could not derive dest_throttle_gw.scn" >&2
	exit 1
}

netsim_create "$scn_dir/clean.scn"
for run in "${runs[@]}"; do
	read -r -a w <<<"$run"
	name=${w[0]}
	scn=$scn_dir/${w[1]}.scn
	[[ -f $scn ]] || scn=$out/${w[1]}.scn
	opts=()
	exp=()
	for ((i = 2; i < ${#w[@]}; i++)); do
		if [[ ${w[i]} == -- ]]; then
			opts=("${w[@]:i+1}")
			break
		fi
		exp+=("${w[i]}")
	done
	confirm=(--no-confirm)
	[[ " ${exp[*]} " == *" confirm"* || $name == *_confirm ]] && confirm=()
	netsim_restart "$scn"
	netsim_run "$hopwatch" --engine "$engine" -j -n -c "$CYCLES" -i "$INTERVAL" -G 1 \
		--analyze "${confirm[@]}" "${opts[@]}" 203.0.113.1 >"$out/$name.json" 2>"$out/$name.err" ||
		echo "hopwatch failed on $name: $(head -3 "$out/$name.err")" >&2
	printf '%s\n' "$name ${exp[*]}" >>"$out/expect"
done
netsim_flush

python3 - "$out" <<'EOF'
import json, sys

out = sys.argv[1]
rank = {"info": 0, "warning": 1, "problem": 2}
fails = 0
for line in open(out + "/expect"):
    words = line.split()
    name, exp = words[0], words[1:]
    try:
        rep = json.load(open("%s/%s.json" % (out, name)))["report"]
        diag = rep["hopwatch"]["diagnosis"]
        concl = rep["hopwatch"]["diagnosis_conclusion"]["id"]
    except Exception as e:  # noqa: BLE001 - any parse error is a failure of this run
        print("FAIL %s: no diagnosis in the JSON (%s)" % (name, e))
        fails += 1
        continue
    got = ["%s@%d" % (f["kind"], f["hop"]) for f in diag]
    bad = []
    want = [e for e in exp if "@" in e]
    for e in want:
        if e not in got:
            bad.append("missing " + e)
    if "only" in exp and sorted(got) != sorted(want):
        bad.append("unexpected " + ", ".join(g for g in got if g not in want))
    for e in exp:
        if e.startswith("max="):
            top = max((rank[f["severity"]] for f in diag), default=0)
            if top > rank[e[4:]]:
                bad.append("severity above " + e[4:])
    conf = rep["hopwatch"].get("confirmation")
    for e in exp:
        if e.startswith("concl=") and concl != e[6:]:
            bad.append("conclusion %s, want %s" % (concl, e[6:]))
    if "confirm" in exp or "confirm_ran" in exp:
        if not conf or not conf.get("ran") or conf.get("probes_sent", 0) <= 0:
            bad.append("no confirmation in the JSON")
        else:
            print("%s: %d confirmation probes" % (name, conf["probes_sent"]))
    elif conf and "_confirm" not in name:
        bad.append("a confirmation ran with --no-confirm")
    if "confirm" in exp:
        for f in diag:
            if "%s@%d" % (f["kind"], f["hop"]) in want and not f.get("confirmed"):
                bad.append("%s@%d not confirmed" % (f["kind"], f["hop"]))
    if "noblame" in exp:
        for f in diag:
            if f["contact"] == "carrier":
                bad.append("%s@%d blames a carrier" % (f["kind"], f["hop"]))
    for f in diag:
        # Structure every consumer relies on.
        for key in ("kind", "severity", "hop", "region", "contact", "reverse_path", "hops",
                    "evidence"):
            if key not in f:
                bad.append("%s lacks %s" % (f["kind"], key))
        if f["severity"] == "info" and f["contact"] != "none":
            bad.append("%s: info finding with a contact" % f["kind"])
        if f["kind"] in ("real_loss", "mixed_loss", "latency_step", "path_interruption",
                         "dest_loss") and f["severity"] != "info" and not f["reverse_path"]:
            bad.append("%s without reverse-path advice" % f["kind"])
    if bad:
        print("FAIL %s: %s (found: %s)" % (name, "; ".join(bad), ", ".join(got)))
        fails += 1
    else:
        print("ok   %s: %s, conclusion %s" % (name, ", ".join(got), concl))
sys.exit(1 if fails else 0)
EOF
