#!/usr/bin/env bash
# test_confirm.sh: --analyze's confirmation through the real binary and the scripted fake
# engine, read from the engine's own log of the lines it received (FAKE_LOG). A path that
# goes silent after hop 3 gets TCP/UDP confirmation probes (counted in the JSON as the
# log counts them, each with the confirmation's 2 s timeout); --no-confirm, a run
# without --analyze, -l, and a clean path get none.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${HOPWATCH:?}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOPWATCH_ENGINE="$here/fake_engine.py" HOPWATCH_OPTIONS= HOPWATCH_NO_HISTORY=1

cat >"$tmp/silent.txt" <<'T'
1   *  ttl-expired 198.51.100.1 1000
2   *  ttl-expired 198.51.100.5 2000
3   *  ttl-expired 198.51.100.9 3000
4+  *  no-reply
T
cat >"$tmp/clean.txt" <<'T'
1   *  ttl-expired 198.51.100.1 1000
2   *  ttl-expired 198.51.100.5 2000
3   *  reply 203.0.113.1 3000
T

fail() {
	echo "FAIL: $*" >&2
	sed 's/^/  stderr: /' "$tmp/err" >&2
	fails=$((fails + 1))
}

# run TRANSCRIPT ARGS...: the engine's log in $tmp/log, output in $tmp/out; sets extra
# (probes other than the trace's ICMP ones) and rc.
run() {
	local tr=$1
	shift
	rm -f "$tmp/log"
	FAKE_TRANSCRIPT="$tmp/$tr.txt" FAKE_LOG="$tmp/log" \
		"$bin" -n -c 10 -i 0.1 "$@" 203.0.113.1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	extra=$(grep -cE 'send-probe .*protocol (tcp|udp)' "$tmp/log")
}

run silent -j --analyze
got=$(python3 -c 'import json,sys
h = json.load(open(sys.argv[1]))["report"]["hopwatch"]
c = h.get("confirmation") or {}
print(c.get("probes_sent", -1), sum(p["sent"] for p in c.get("probes", [])))' "$tmp/out")
if ((rc != 0)) || [[ $got != "$extra $extra" ]] || ((extra == 0 || extra > 48)); then
	fail "-j --analyze: rc=$rc, JSON probes_sent/sum '$got', engine saw $extra"
elif [[ $(grep -cE 'send-probe .*protocol (tcp|udp).* timeout 2$' "$tmp/log") != "$extra" ]]; then
	fail "-j --analyze: confirmation probes without the 2 s timeout"
else
	echo "ok: silent path: $extra confirmation probes, counted in the JSON"
fi

run silent -r --analyze
if ((rc != 0 || extra == 0)) || ! grep -q '^Diagnosis' "$tmp/out"; then
	fail "-r --analyze: rc=$rc, $extra confirmation probes"
else
	echo "ok: -r --analyze confirms too ($extra probes)"
fi

for args in "-r --analyze --no-confirm" "-r" "-j" "-l --analyze" "-l"; do
	# shellcheck disable=SC2086 # the words are options
	run silent $args
	if ((rc != 0 || extra != 0)); then
		fail "$args: rc=$rc, $extra probes besides the trace's"
	elif grep -q ' timeout 2$' "$tmp/log"; then
		fail "$args: a confirmation probe went out"
	else
		echo "ok: $args sends no confirmation probe"
	fi
done

run clean -r --analyze
if ((rc != 0 || extra != 0)); then
	fail "clean path: rc=$rc, $extra confirmation probes (none needed)"
else
	echo "ok: a clean path needs no confirmation"
fi

((fails == 0)) || exit 1
