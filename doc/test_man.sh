#!/usr/bin/env bash
# test_man.sh SRCROOT: the man pages format without a single warning (groff -ww and
# man --warnings, which also runs the pages through the preprocessors man would), and
# hopwatch.1 documents every long and short option of client/options.c and every
# environment variable, and hopwatch-monitor.8 every option of monitor/main.c. A planted broken page must fail the same check, so a checker
# that stopped seeing warnings fails too.
set -u
root=${1:?usage: test_man.sh SRCROOT}
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# warnings PAGE: print every warning formatting PAGE gives; empty when clean.
warnings() {
	{
		LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
		groff -man -ww -z "$1" 2>&1
	} | grep -v '^$'
}

command -v groff >/dev/null || {
	echo "FAIL: groff is not installed (groff-base)" >&2
	exit 1
}
command -v man >/dev/null || {
	echo "FAIL: man is not installed (man-db)" >&2
	exit 1
}

for page in "$root/doc/hopwatch.1" "$root/doc/hopwatchd.8" "$root/doc/hopwatch-monitor.8"; do
	w=$(warnings "$page")
	[[ -z $w ]] || fail "$(basename "$page"): $w"
done

# Self-test: an unknown macro and a broken escape must be reported.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '.TH BROKEN 1\n.SH NAME\nbroken \\- x\n.XQ nonsense\n\\*(ZZ\n' >"$tmp/broken.1"
[[ -n $(warnings "$tmp/broken.1") ]] || fail "the checker saw nothing wrong in a broken page"

# Every option and environment variable is in hopwatch.1 (written \- in roff).
page=$root/doc/hopwatch.1
longs=$(sed -n 's/^[[:space:]]*{"\([a-z0-9-]*\)",.*/\1/p' "$root/client/options.c")
[[ -n $longs ]] || fail "no long options found in client/options.c"
for o in $longs; do
	grep -qF -- "\\-\\-${o//-/\\-}" "$page" || fail "hopwatch.1 does not document --$o"
done
shorts=$(sed -n 's/^static const char short_opts\[\] = "\(.*\)";/\1/p' "$root/client/options.c" |
	tr -d ':')
[[ -n $shorts ]] || fail "no short options found in client/options.c"
for ((i = 0; i < ${#shorts}; i++)); do
	grep -qE -- "^\.(B|BI|BR) .*\\\\-${shorts:i:1}([^a-zA-Z0-9]|$)" "$page" ||
		fail "hopwatch.1 does not document -${shorts:i:1}"
done
for v in HOPWATCH_OPTIONS HOPWATCH_ENGINE HOPWATCH_RESOLV_CONF; do
	grep -q "^\.B $v$" "$page" || fail "hopwatch.1 does not document $v"
done

# Every option of hopwatch-monitor (its long_opts table and short_opts) is in its page.
page=$root/doc/hopwatch-monitor.8
main=$root/monitor/main.c
longs=$(sed -n '/long_opts\[\] = {/,/^};/s/^[[:space:]]*{"\([a-z0-9-]*\)",.*/\1/p' "$main")
[[ -n $longs ]] || fail "no long options found in monitor/main.c"
for o in $longs; do
	grep -qF -- "\\-\\-${o//-/\\-}" "$page" || fail "hopwatch-monitor.8 does not document --$o"
done
shorts=$(sed -n 's/^static const char short_opts\[\] = "\(.*\)";/\1/p' "$main" | tr -d ':')
[[ -n $shorts ]] || fail "no short options found in monitor/main.c"
for ((i = 0; i < ${#shorts}; i++)); do
	grep -qE -- "^\.(B|BI|BR) .*\\\\-${shorts:i:1}([^a-zA-Z0-9]|$)" "$page" ||
		fail "hopwatch-monitor.8 does not document -${shorts:i:1}"
done

if ((fails)); then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "ok: man pages"
