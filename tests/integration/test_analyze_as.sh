#!/usr/bin/env bash
# test_analyze_as.sh: --analyze names the AS of the hop that starts a problem, with AS data
# (-z) from the lab's fake DNS (Team Cymru style origin and AS-name TXT records), on a
# lab of 4 kernel routers addressed like a real path:
#   r1 198.51.100.2   AS64496 EXAMPLE-UPSTREAM  198.51.100.0/30
#   r2 198.51.100.6   AS64500 EXAMPLE-CARRIER   198.51.100.4/30
#   r3 198.51.100.10  AS64500 EXAMPLE-CARRIER   198.51.100.8/30
#   r4 198.51.100.14  AS64511 EXAMPLE-DEST      198.51.100.12/30 (the destination's gateway)
#   dst 203.0.113.1   AS64511 EXAMPLE-DEST      203.0.113.0/24
#  1. r2 drops everything it forwards: a path interruption at hop 2; the text's Contact
#     line and the JSON finding ("as": asn, name, prefix) name AS64500 EXAMPLE-CARRIER
#     with hop 2's own prefix (not hop 1's).
#  2. r3 drops half of what it forwards: loss from hop 4 on. Hop 4 is outside the
#     destination's /24 but in its AS, so the finding is in region C and names AS64511.
#  3. Without --analyze no AS-name query is made; without -z no TXT query at all (as mtr
#     users expect); and the server saw the name queries of the runs with both.
#  4. The live view (tmux) with -z --analyze -c: the diagnosis printed after it names the
#     carrier too.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=4
COUNT=20     # over the diagnosis's minimum of 10 probes a hop
INTERVAL=0.2 # root may probe faster than 1 s
MAX_TTL=8    # the interruption's silent hops end here
DNS_ADDR=127.0.0.53
RUN_TIMEOUT_S=90
READY_TRIES=50 # x 0.1 s for the server to bind
LOSS_PCT=30 # of each direction through r3: about half the probes of hops 4 and 5 lost
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

rev4() {
	awk -F. '{ print $4"."$3"."$2"."$1".origin.asn.cymru.com" }' <<<"$1"
}

H1=${LAB_HOP4[0]}
H2=${LAB_HOP4[1]}
H3=${LAB_HOP4[2]}
H4=${LAB_HOP4[3]}

lab_src python3 "$HERE/fakedns.py" --bind "$DNS_ADDR" --log "$work/queries" \
	--ready "$work/ready" \
	--txt "$(rev4 "$H1")=64496 | 198.51.100.0/30 | ZZ | arin | 2001-01-01" \
	--txt "$(rev4 "$H2")=64500 | 198.51.100.4/30 | ZZ | arin | 2001-01-01" \
	--txt "$(rev4 "$H3")=64500 | 198.51.100.8/30 | ZZ | arin | 2001-01-01" \
	--txt "$(rev4 "$H4")=64511 | 198.51.100.12/30 | ZZ | arin | 2011-11-11" \
	--txt "$(rev4 "$LAB_DST4")=64511 | 203.0.113.0/24 | ZZ | arin | 2011-11-11" \
	--txt "AS64496.asn.cymru.com=64496 | ZZ | arin | 2001-01-01 | EXAMPLE-UPSTREAM, ZZ" \
	--txt "AS64500.asn.cymru.com=64500 | ZZ | arin | 2001-01-01 | EXAMPLE-CARRIER, ZZ" \
	--txt "AS64511.asn.cymru.com=64511 | ZZ | arin | 2011-11-11 | EXAMPLE-DEST, ZZ" \
	2>"$work/dns.err" &
LAB_CLEANUP+=("kill $! 2>/dev/null")
for ((i = 0; i < READY_TRIES; i++)); do
	[[ -e $work/ready ]] && break
	sleep 0.1
done
[[ -e $work/ready ]] || {
	echo "FAIL: fakedns did not start: $(cat "$work/dns.err")" >&2
	exit 1
}
printf 'nameserver %s\n' "$DNS_ADDR" >"$work/resolv.conf"
touch "$work/queries"

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# run TAG ARGS...: hopwatch in the source namespace; TAG.queries gets the DNS queries it
# made (the server's log grows by them: runs are one after another).
run() {
	local tag=$1 before rc
	shift
	before=$(wc -l <"$work/queries")
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= \
		HOPWATCH_RESOLV_CONF="$work/resolv.conf" timeout "$RUN_TIMEOUT_S" \
		"$HOPWATCH" -n -i "$INTERVAL" -c "$COUNT" -m "$MAX_TTL" "$@" "$LAB_DST4" \
		>"$work/$tag.out" 2>"$work/$tag.err"
	rc=$?
	# --analyze exits 0 whatever it finds; a timeout or crash is a failure.
	((rc == 0)) || fail "$tag: hopwatch exit $rc ($(head -1 "$work/$tag.err"))"
	tail -n +"$((before + 1))" "$work/queries" >"$work/$tag.queries"
}

# finding FILE KIND HOP: the JSON finding of KIND at HOP, as one line of JSON (or nothing).
finding() {
	python3 - "$@" <<'EOF'
import json, sys
path, kind, hop = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    rep = json.load(open(path))
    diag = rep["report"]["hopwatch"]["diagnosis"]
except (ValueError, KeyError, TypeError) as e:
    print("no diagnosis: %s" % e, file=sys.stderr)
    sys.exit(1)
for f in diag:
    if f.get("kind") == kind and f.get("hop") == hop:
        print(json.dumps(f, sort_keys=True))
        sys.exit(0)
print("no %s finding at hop %d in %s" % (kind, hop, [(f.get("kind"), f.get("hop")) for f in diag]),
      file=sys.stderr)
sys.exit(1)
EOF
}

# has_as JSON ASN NAME PREFIX: the finding's "as" is exactly that.
has_as() {
	python3 -c 'import json, sys
f = json.loads(sys.argv[1])
want = {"asn": int(sys.argv[2]), "name": sys.argv[3], "prefix": sys.argv[4]}
sys.exit(0 if f.get("as") == want else 1)' "$@"
}

show() {
	echo "--- $1" >&2
	cat "$work/$1.out" >&2
}

# 1. A router that forwards nothing: the carrier that operates hop 2 is named.
lab_nft 2 'drop'
run int_report -r -z --analyze
run int_json -j -z --analyze
carrier='AS64500 EXAMPLE-CARRIER (198.51.100.4/30)'
if grep '^ *Contact:' "$work/int_report.out" | grep -qF "$carrier"; then
	echo "ok: the contact names $carrier"
else
	fail "-r -z --analyze: no contact line naming $carrier"
	show int_report
fi
grep '^ *Contact:' "$work/int_report.out" | grep -q 'EXAMPLE-UPSTREAM\|64496' &&
	fail "-r -z --analyze: hop 1's AS named, though the problem starts at hop 2"
if f=$(finding "$work/int_json.out" path_interruption 2); then
	if has_as "$f" 64500 EXAMPLE-CARRIER 198.51.100.4/30; then
		echo "ok: the JSON finding has \"as\" of AS64500"
	else
		fail "-j -z --analyze: the finding's \"as\" is not AS64500's: $f"
	fi
else
	fail "-j -z --analyze: no path_interruption finding at hop 2"
	show int_json
fi
grep -qix 'AS64500\.asn\.cymru\.com 16' "$work/int_report.queries" ||
	fail "-r -z --analyze: no AS-name query for AS64500"
grep -qix "$(rev4 "$LAB_DST4") 16" "$work/int_report.queries" ||
	fail "-r -z --analyze: the destination (not reached) was not looked up"

# 3. Only with both flags: -z alone asks origins only, --analyze alone asks nothing.
run int_z -r -z
grep -qi 'asn\.cymru\.com 16' "$work/int_z.queries" ||
	fail "-r -z: no origin query at all (the server log is not what this test reads)"
grep -qi '^AS[0-9]*\.asn\.cymru\.com' "$work/int_z.queries" &&
	fail "-r -z without --analyze asked for AS names"
run int_plain -r --analyze
grep -q ' 16$' "$work/int_plain.queries" && fail "--analyze without -z made TXT queries"
grep -q 'AS64500' "$work/int_plain.out" && fail "--analyze without -z named an AS"
grep -q '^ *Contact:' "$work/int_plain.out" || fail "--analyze without -z: no contact line"
((FAILS == 0)) && echo "ok: AS queries only with -z, AS names only with -z --analyze"
lab_ns "${LAB_ROUTERS[1]}" nft flush chain inet lab forward ||
	fail "cannot clear r2's rule"

# 2. Loss from hop 4 on (r3 forwards half): hop 4 is the destination's by AS.
lab_nft 3 "numgen random mod 100 < $LOSS_PCT drop"
run loss_report -r -z --analyze
run loss_json -j -z --analyze
dest='AS64511 EXAMPLE-DEST (198.51.100.12/30)'
if grep '^ *Contact:' "$work/loss_report.out" | grep -qF "$dest"; then
	echo "ok: the contact names $dest"
else
	fail "-r -z --analyze (loss): no contact line naming $dest"
	show loss_report
fi
if f=$(python3 - "$work/loss_json.out" <<'EOF'
import json, sys
diag = json.load(open(sys.argv[1]))["report"]["hopwatch"]["diagnosis"]
hits = [f for f in diag if f.get("hop") == 4 and f.get("severity") != "info"]
if not hits:
    print("no finding at hop 4: %s" % [(f.get("kind"), f.get("hop")) for f in diag], file=sys.stderr)
    sys.exit(1)
print(json.dumps(hits[0], sort_keys=True))
EOF
); then
	python3 -c 'import json, sys
f = json.loads(sys.argv[1])
sys.exit(0 if f.get("region") == "C" and f.get("contact") == "destination_provider" else 1)' "$f" ||
		fail "-j -z --analyze (loss): hop 4 is not region C / the destination's: $f"
	has_as "$f" 64511 EXAMPLE-DEST 198.51.100.12/30 ||
		fail "-j -z --analyze (loss): the finding's \"as\" is not AS64511's: $f"
	((FAILS == 0)) && echo "ok: loss from hop 4 is region C by AS, AS64511 named"
else
	fail "-j -z --analyze (loss): no problem finding at hop 4"
	show loss_json
fi

# 4. The live view: -c ends it, the diagnosis follows on the normal screen.
if command -v tmux >/dev/null; then
	lab_ns "${LAB_ROUTERS[2]}" nft flush chain inet lab forward ||
		fail "cannot clear r3's rule"
	lab_nft 2 'drop'
	SOCK=$work/tmux.sock # a server of our own, never the user's
	LAB_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null")
	tmux -S "$SOCK" -f /dev/null new-session -d -s live -x 160 -y 50 \
		"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= \
		HOPWATCH_RESOLV_CONF='$work/resolv.conf' ip netns exec '$LAB_SRC' \
		'$HOPWATCH' -n -z --analyze -i $INTERVAL -c $COUNT -m $MAX_TTL $LAB_DST4 \
		2>'$work/live.err'; echo exit \$? >'$work/live.rc'; exec sleep 600"
	for ((i = 0; i < RUN_TIMEOUT_S * 10; i++)); do
		[[ -s $work/live.rc ]] && break
		sleep 0.1
	done
	tmux -S "$SOCK" capture-pane -p -J -S - -t live >"$work/live.tty" 2>/dev/null
	if [[ ! -s $work/live.rc ]]; then
		fail "live: the view did not end after -c $COUNT"
	elif ! grep -q '^exit 0$' "$work/live.rc"; then
		fail "live: $(cat "$work/live.rc") ($(head -1 "$work/live.err"))"
	elif LC_ALL=C grep -a '^ *Contact:' "$work/live.tty" | grep -qF "$carrier"; then
		echo "ok: after the live view, the contact names $carrier"
	else
		fail "live -z --analyze: no contact line naming $carrier"
		LC_ALL=C grep -a -A12 'Diagnosis:' "$work/live.tty" >&2
	fi
fi

if ((FAILS)); then
	echo "--- server log" >&2
	cat "$work/queries" >&2
	echo "$FAILS failure(s)" >&2
	exit 1
fi
echo "PASS"
