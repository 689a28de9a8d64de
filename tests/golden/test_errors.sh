#!/usr/bin/env bash
# test_errors.sh: every user error ends with exactly one clear line on stderr, nothing on
# stdout and a non-zero exit. Uses the scripted fake engine; never touches the network
# (the unknown host is under .invalid, which resolvers answer locally or fail on).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${HOPWATCH:?}
fails=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

export HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt"
export HOPWATCH_OPTIONS=

# expect_error 'what the line must contain' ARGS...
expect_error() {
	local want=$1 rc lines
	shift
	"$bin" "$@" >"$out" 2>"$err"
	rc=$?
	lines=$(wc -l <"$err")
	if ((rc == 0)) || ((lines != 1)) || [[ -s $out ]] || ! grep -qF -- "$want" "$err" ||
		! grep -q '^hopwatch: ' "$err"; then
		echo "FAIL: hopwatch $*: rc=$rc, $lines stderr lines, want one with '$want':" >&2
		sed 's/^/  stderr: /' "$err" >&2
		sed 's/^/  stdout: /' "$out" >&2
		fails=$((fails + 1))
	else
		echo "ok: hopwatch $* -> $(cat "$err")"
	fi
}

expect_error "-c" -r -c 0 203.0.113.1
expect_error "'abc' for -c" -r -c abc 203.0.113.1
expect_error "-i" -r -i -1 203.0.113.1
expect_error "-i" -r -i abc 203.0.113.1
expect_error "'300' for -m" -r -m 300 203.0.113.1
expect_error "'abc' for -s" -r -s abc 203.0.113.1
expect_error "-Q" -r -Q 256 203.0.113.1
expect_error "-P" -r -u -P 70000 203.0.113.1
expect_error "unknown option '--bogus'" -r --bogus 203.0.113.1
expect_error "unknown option -k" -r -k 203.0.113.1
expect_error "needs a value" -r 203.0.113.1 -c
expect_error "no destination host" -r
expect_error "first TTL" -r -f 10 -m 5 203.0.113.1
expect_error "-o" -r -o 'L!' 203.0.113.1
expect_error "cannot resolve 'no-such-host.invalid'" -r -c 1 no-such-host.invalid
expect_error "cannot open host file" -r -F /nonexistent/hosts
HOPWATCH_OPTIONS="-c 0" expect_error "-c" -r 203.0.113.1

# mtr 0.95's rules: one protocol flag; -G positive; -y within 0..4; display modes are
# 0..2; --output needs a report to write.
expect_error "-u, -T and -S are mutually exclusive" -r -u -T 203.0.113.1
expect_error "-u, -T and -S are mutually exclusive" -r --tcp --udp 203.0.113.1
expect_error "-u, -T and -S are mutually exclusive" -r -u -S 203.0.113.1
HOPWATCH_OPTIONS="-T" expect_error "-u, -T and -S are mutually exclusive" -r -T 203.0.113.1
expect_error "'0' for -G (--gracetime)" -r -G 0 203.0.113.1
expect_error "'0.5s' for -G (--gracetime)" -r -G 0.5s 203.0.113.1
expect_error "'5' for -y (--ipinfo)" -r -y 5 203.0.113.1
expect_error "'3' for --displaymode" --displaymode 3 203.0.113.1
expect_error "--output needs a report flag" --output /dev/null 203.0.113.1
expect_error "--output needs a report flag" -r -t --output /dev/null 203.0.113.1

# The engine: missing, without privileges (it dies with its reason), lacking a feature.
HOPWATCH_ENGINE=/nonexistent expect_error "cannot run the engine /nonexistent" -r 203.0.113.1
expect_error "cannot connect to the engine at unix:/nonexistent.sock" \
	--engine unix:/nonexistent.sock -r 203.0.113.1
FAKE_DIE="hopwatchd: cannot open raw sockets: CAP_NET_RAW is missing" \
	expect_error "CAP_NET_RAW is missing" -r -c 1 203.0.113.1
FAKE_MISSING=ip-4 expect_error "cannot send IPv4 probes" -r -c 1 203.0.113.1
FAKE_MISSING=udp expect_error "does not support 'udp'" -r -c 1 -u 203.0.113.1
FAKE_MISSING=mark expect_error "does not support 'mark'" -r -c 1 -M 7 203.0.113.1

# -G takes decimal seconds as mtr does.
"$bin" -r -n -c 1 -G 0.5 203.0.113.1 >"$out" 2>"$err"
if [[ $? -ne 0 ]] || [[ -s $err ]] || ! grep -q '203.0.113.1' "$out"; then
	echo "FAIL: -G 0.5 was refused: $(cat "$err")" >&2
	fails=$((fails + 1))
else
	echo "ok: -G 0.5 accepted"
fi

# --report-on-exit writes its report to --output (here without a terminal: the report).
report_file=$(mktemp)
"$bin" --report-on-exit --output "$report_file" -n -c 1 203.0.113.1 </dev/null >"$out" 2>"$err"
if [[ $? -ne 0 ]] || [[ -s $out ]] || [[ -s $err ]] || ! grep -q '^HOST: ' "$report_file"; then
	echo "FAIL: --report-on-exit --output: no report in the file: $(cat "$err")" >&2
	fails=$((fails + 1))
else
	echo "ok: --report-on-exit --output FILE wrote the report"
fi
rm -f "$report_file"

# Non-root users may not ask for an interval below one second (as mtr).
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
	"$bin" -r -i 0.5 -c 1 203.0.113.1 >"$out" 2>"$err" # allowed for root
	if [[ $? -ne 0 ]]; then
		echo "FAIL: root was refused -i 0.5: $(cat "$err")" >&2
		fails=$((fails + 1))
	fi
	# A copy nobody can run: the build tree may sit in a directory only root can read.
	# Under tests/valgrind/ $bin is a wrapper: copy the real binary and the wrapper's runner.
	tmpbin=$(mktemp -d)
	cp "${HOPWATCH_VALGRIND_REAL:-$bin}" "$tmpbin/hopwatch"
	runner=()
	if [[ -n ${HOPWATCH_VALGRIND_RUN:-} ]]; then
		cp "$HOPWATCH_VALGRIND_RUN" "$tmpbin/run.sh"
		runner=("$tmpbin/run.sh")
	fi
	chmod 755 "$tmpbin" "$tmpbin"/*
	setpriv --reuid=65534 --regid=65534 --clear-groups "${runner[@]}" "$tmpbin/hopwatch" \
		-r -i 0.5 203.0.113.1 >"$out" 2>"$err"
	rc=$?
	if ((rc == 0)) || (($(wc -l <"$err") != 1)) || ! grep -q "non-root" "$err"; then
		echo "FAIL: non-root -i 0.5: rc=$rc $(cat "$err")" >&2
		fails=$((fails + 1))
	else
		echo "ok: non-root -i 0.5 -> $(cat "$err")"
	fi
	rm -rf "$tmpbin"
fi

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
