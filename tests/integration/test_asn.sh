#!/usr/bin/env bash
# test_asn.sh: AS data (-z, -y N) against real mtr 0.95, in a lab of 3 kernel routers.
#  1. The same fake DNS server (Team Cymru style TXT records) answers both /usr/bin/mtr
#     (with our engine as its MTR_PACKET) and hopwatch; -z -r, -w, -y 0..4, -j, -C and -x
#     must give mtr's layout and keys, compared with the latency figures masked.
#  2. A second server gives hostile records (ESC bytes, quotes, commas, an overlong
#     string): hopwatch escapes them and cuts them to mtr's width, and no raw ESC leaves.
#  3. The live view: z shows and hides the AS column, y cycles its field (tmux).
#  4. Every query went to the lab's servers (their logs hold the origin TXT queries).
# mtr reads /etc/resolv.conf only, so it runs in a mount namespace of its own where the
# lab's resolv.conf is bound over it; hopwatch reads HOPWATCH_RESOLV_CONF.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lab.sh
source "$HERE/lab.sh"

ROUTERS=3
COUNT=2
INTERVAL=0.2 # root may probe faster than 1 s; with -G 1 (mtr waits out its grace time)
GRACE=1      # this keeps the 30-odd runs short
DNS_CLEAN=127.0.0.53
DNS_EVIL=127.0.0.54
RUN_TIMEOUT_S=60
READY_TRIES=50 # x 0.1 s for a server to bind
BUILD=${HOPWATCH_BUILD:-$HERE/../../build}
ENGINE=$(readlink -f "$BUILD/daemon/hopwatchd")
HOPWATCH=$(readlink -f "$BUILD/client/hopwatch")
MTR=/usr/bin/mtr

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces" >&2
	exit 77
fi
[[ -x $MTR ]] || {
	echo "SKIP: $MTR is not installed (apt-get install mtr-tiny)" >&2
	exit 77
}
for f in "$ENGINE" "$HOPWATCH"; do
	[[ -x $f ]] || {
		echo "FAIL: not found or not executable: $f" >&2
		exit 1
	}
done

work=$(mktemp -d)
LAB_CLEANUP+=("rm -rf '$work'")
lab_create "$ROUTERS"

# rev4 ADDR: the origin query name of an IPv4 address.
rev4() {
	awk -F. '{ print $4"."$3"."$2"."$1".origin.asn.cymru.com" }' <<<"$1"
}

H1=${LAB_HOP4[0]}
H2=${LAB_HOP4[1]}
H3=${LAB_HOP4[2]}
LONG=$(printf 'A%.0s' $(seq 300))

# rev6 ADDR: the origin6 query name (the first 64 bits, nibbles reversed).
rev6() {
	python3 -c 'import ipaddress, sys
h = ipaddress.IPv6Address(sys.argv[1]).exploded.replace(":", "")[:16]
print(".".join(reversed(h)) + ".origin6.asn.cymru.com")' "$1"
}

# start_dns ADDR TAG --txt...: a fake server in the source namespace.
start_dns() {
	local addr=$1 tag=$2 i
	shift 2
	lab_src python3 "$HERE/fakedns.py" --bind "$addr" --log "$work/$tag.queries" \
		--ready "$work/$tag.ready" "$@" 2>"$work/$tag.err" &
	LAB_CLEANUP+=("kill $! 2>/dev/null")
	for ((i = 0; i < READY_TRIES; i++)); do
		[[ -e $work/$tag.ready ]] && break
		sleep 0.1
	done
	[[ -e $work/$tag.ready ]] || {
		echo "FAIL: fakedns $tag did not start: $(cat "$work/$tag.err")" >&2
		exit 1
	}
	printf 'nameserver %s\n' "$addr" >"$work/$tag.resolv.conf"
}

start_dns "$DNS_CLEAN" clean \
	--txt "$(rev4 "$H1")=64500 | 198.51.100.0/30 | ZZ | arin | 2001-01-01" \
	--txt "$(rev4 "$H2")=64501 | 198.51.100.4/30 | XA | ripencc | 2002-02-02" \
	--txt "$(rev4 "$LAB_DST4")=64511 | 203.0.113.0/24 | XB | apnic | 2011-11-11" \
	--txt "$(rev6 "${LAB_HOP6[0]}")=64600 | 2001:db8::/64 | ZZ | arin | 2006-06-06" \
	--txt "$(rev6 "$LAB_DST6")=64611 | 2001:db8:ffff::/48 | XB | lacnic | 2016-01-01"
# Hop 3 has no record: NXDOMAIN, which mtr shows as AS???.
start_dns "$DNS_EVIL" evil \
	--txt "$(rev4 "$H1")=645\\x1b[2J00 | 198.51.100.0/30\\x07 | Z,Z | \"ar\"in | x" \
	--txt "$(rev4 "$H2")=$LONG | x" \
	--txt "$(rev4 "$H3")=\"64503\" | \"quoted\\\\\" | \\xff\\xfe | \\x00nul"

FAILS=0
fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# run_mtr TAG RESOLV ARGS...: real mtr 0.95 in the source namespace with RESOLV as its
# /etc/resolv.conf (a private mount namespace), our engine as its packet helper.
run_mtr() {
	local tag=$1 resolv=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_src unshare -m bash -c 'mount --bind "$1" /etc/resolv.conf && shift &&
		exec env MTR_PACKET="$0" timeout '"$RUN_TIMEOUT_S"' '"$MTR"' -i '"$INTERVAL"' -G '"$GRACE"' "$@"' \
		"$ENGINE" "$resolv" "$@" >"$work/$tag.mtr" 2>"$work/$tag.mtr.err" ||
		fail "$tag: mtr exit $? ($(head -1 "$work/$tag.mtr.err"))"
}

# run_hw TAG RESOLV ARGS...
run_hw() {
	local tag=$1 resolv=$2
	shift 2
	lab_src env HOPWATCH_ENGINE="$ENGINE" HOPWATCH_OPTIONS= HOPWATCH_RESOLV_CONF="$resolv" \
		timeout "$RUN_TIMEOUT_S" "$HOPWATCH" -i "$INTERVAL" -G "$GRACE" "$@" >"$work/$tag.hw" 2>"$work/$tag.hw.err" ||
		fail "$tag: hopwatch exit $? ($(head -1 "$work/$tag.hw.err"))"
}

# compare TAG KIND: mtr's and hopwatch's outputs, figures that vary masked (compare.py).
compare() {
	local msg
	if msg=$(python3 "$HERE/asn_compare.py" "$2" "$work/$1.mtr" "$work/$1.hw" 2>&1); then
		echo "ok: $1 matches mtr ($2)"
	else
		fail "$1: differs from mtr: $msg"
		echo "--- mtr" >&2
		cat "$work/$1.mtr" >&2
		echo "--- hopwatch" >&2
		cat "$work/$1.hw" >&2
	fi
}

# 1. Against mtr, clean records.
both() {
	local tag=$1 kind=$2
	shift 2
	run_mtr "$tag" "$work/clean.resolv.conf" "$@" "$LAB_DST4"
	run_hw "$tag" "$work/clean.resolv.conf" "$@" "$LAB_DST4"
	compare "$tag" "$kind"
}
both z_report report -z -r -n -c "$COUNT"
both z_wide report -z -w -n -c "$COUNT"
for y in 0 1 2 3 4; do
	both "y${y}_report" report -y "$y" -r -n -c "$COUNT"
done
both y1_wide report -y 1 -w -n -c "$COUNT"
both z_json json -z -j -n -c "$COUNT"
both y2_json json -y 2 -j -n -c "$COUNT"
both z_csv csv -z -C -n -c "$COUNT"
both y3_csv csv -y 3 -C -n -c "$COUNT"
both z_xml xml -z -x -n -c "$COUNT"
# IPv6: origin6 names, asked by the address's /64.
run_mtr z6_report "$work/clean.resolv.conf" -6 -z -r -n -c "$COUNT" "$LAB_DST6"
run_hw z6_report "$work/clean.resolv.conf" -6 -z -r -n -c "$COUNT" "$LAB_DST6"
compare z6_report report
grep -q "^  1\. AS64600  " "$work/z6_report.hw" || fail "-6 -z: hop 1 should read AS64600"

# The values themselves, not only the agreement.
grep -q "^  1\. AS64500  $H1" "$work/z_report.hw" ||
	fail "-z -r: hop 1 should read AS64500 then $H1"
grep -q "^  3\. AS???    $H3" "$work/z_report.hw" || fail "-z -r: hop 3 should read AS???"
grep -q "^  2\. 198.51.100.4/30    " "$work/y1_report.hw" || fail "-y 1: hop 2's prefix"
grep -q '"ASN": "AS64511"' "$work/z_json.hw" || fail "-z -j: the destination's ASN"

# 2. Hostile records: escaped, bounded, never raw.
run_hw evil_report "$work/evil.resolv.conf" -z -r -n -c "$COUNT" "$LAB_DST4"
run_hw evil_wide "$work/evil.resolv.conf" -z -w -n -c "$COUNT" "$LAB_DST4"
run_hw evil_y1 "$work/evil.resolv.conf" -y 1 -w -n -c "$COUNT" "$LAB_DST4"
run_hw evil_csv "$work/evil.resolv.conf" -z -C -n -c "$COUNT" "$LAB_DST4"
run_hw evil_json "$work/evil.resolv.conf" -z -j -n -c "$COUNT" "$LAB_DST4"
for f in evil_report evil_wide evil_y1 evil_csv evil_json; do
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f-\xff]' "$work/$f.hw"; then
		fail "$f: a raw control or 8-bit byte reached the output"
	fi
done
grep -qF '  1. AS645\x1b[2J00' "$work/evil_report.hw" || fail "evil: ESC not shown as \\x1b"
grep -qF '198.51.100.0/30\x07' "$work/evil_y1.hw" || fail "evil -y 1: BEL not shown as \\x07"
grep -qF '  3. AS"64503"' "$work/evil_report.hw" || fail "evil: quotes kept as text"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/evil_json.hw" ||
	fail "evil -j: not valid JSON"
# mtr keeps 127 bytes of a record and a column of 127 characters at most ("AS" and 125).
want="AS${LONG:0:125}$H2"
got=$(awk '$1 == "2." { print $2 }' "$work/evil_wide.hw")
[[ $got == "$want" ]] || fail "evil -w: overlong AS column: got '$got'"
# CSV: a comma in the AS field is quoted, so each row keeps mtr's column count.
cols=$(head -1 "$work/evil_csv.hw" | awk -F, '{ print NF }')
bad=$(python3 -c 'import csv,sys; print(sum(1 for r in list(csv.reader(open(sys.argv[1])))[1:] if len(r) != int(sys.argv[2]) - 1))' \
	"$work/evil_csv.hw" "$cols")
[[ $bad == 0 ]] || fail "evil -C: $bad rows do not have the header's columns"
((FAILS == 0)) && echo "ok: hostile records escaped and bounded"

# The live view's keys: 'z' shows the AS column, 'y' the next field, 'z' hides it; the
# figures stay under their header (Loss% ends where the hop's loss figure ends).
if command -v tmux >/dev/null; then
	SOCK=$work/tmux.sock # a server of our own, never the user's
	LAB_CLEANUP+=("tmux -S '$SOCK' kill-server 2>/dev/null")
	pane() { tmux -S "$SOCK" capture-pane -p -t asn 2>/dev/null; }
	wait_for() {
		local i
		for ((i = 0; i < 100; i++)); do
			pane | grep -Eq -- "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	aligned() {
		pane | awk -v h="$H1" '/Loss%/ { e = index($0, "Loss%") + 4 }
			$0 ~ h { r = index($0, "%") } END { exit !(e && e == r) }'
	}
	tmux -S "$SOCK" -f /dev/null new-session -d -s asn -x 120 -y 30 \
		"HOPWATCH_ENGINE='$ENGINE' HOPWATCH_OPTIONS= \
		HOPWATCH_RESOLV_CONF='$work/clean.resolv.conf' ip netns exec '$LAB_SRC' \
		'$HOPWATCH' -n -i $INTERVAL $LAB_DST4; exec sleep 600"
	wait_for "^ +1\. +$H1 " || fail "live: no hop rows"
	pane | grep -q 'AS645' && fail "live: AS column shown before 'z'"
	tmux -S "$SOCK" send-keys -t asn z
	wait_for "^ +1\. AS64500  $H1 " || fail "live 'z': no AS column"
	aligned || fail "live 'z': figures not under their header"
	tmux -S "$SOCK" send-keys -t asn y
	# The host column is the report's: a wide field leaves little of the name.
	wait_for "^ +2\. 198\.51\.100\.4/30 +198\.51" || fail "live 'y': no prefix column"
	tmux -S "$SOCK" send-keys -t asn z
	wait_for "^ +1\. +$H1 " || fail "live 'z' again: the AS column stays"
	tmux -S "$SOCK" send-keys -t asn y
	wait_for "^ +1\. AS64500  $H1 " || fail "live 'y' when off: not back to the AS number"
	((FAILS == 0)) || pane >&2
	tmux -S "$SOCK" send-keys -t asn q
	((FAILS == 0)) && echo "ok: live view keys z and y"
fi

# 4. The servers saw the queries (nothing else could have answered them).
grep -qi "^$(rev4 "$H1") 16$" "$work/clean.queries" || fail "no TXT query for $H1 at the lab server"
grep -qi "^$(rev6 "$LAB_DST6") 16$" "$work/clean.queries" || fail "no origin6 TXT query at the lab server"
grep -qi "^$(rev4 "$H3") 16$" "$work/evil.queries" || fail "no TXT query for $H3 at the lab server"

if ((FAILS)); then
	echo "--- clean server log" >&2
	cat "$work/clean.queries" >&2
	echo "$FAILS failure(s)" >&2
	exit 1
fi
echo "PASS"
