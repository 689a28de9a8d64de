#!/usr/bin/env bash
# test_history.sh: hopwatch's recent-host history through the command line, against the
# scripted fake engine (no network), in a temporary HOME / XDG_STATE_HOME:
# recording (newest first, no repeats), --history, --lru N and 0, HOPWATCH_NO_HISTORY,
# the ~/.local/state fallback, a damaged file, an unwritable place (the trace still
# succeeds, one warning), the bash completion offering history hosts, and --help naming
# HOPWATCH_RESOLV_CONF. Needs HOPWATCH (the binary).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# hw ARGS...: hopwatch with history on, state in $tmp/xdg unless XDG is overridden.
hw() {
	env -u HOPWATCH_NO_HISTORY HOME="$tmp/home" XDG_STATE_HOME="${XDG-$tmp/xdg}" \
		HOPWATCH_ENGINE="$here/fake_engine.py" FAKE_TRANSCRIPT="$here/transcript.txt" \
		HOPWATCH_OPTIONS= "${HOPWATCH:?}" "$@" 2>"$tmp/err"
}
trace() { hw -r -n -c 1 -m 5 "$@" >"$tmp/out"; }
hist() { hw --history "$@" | tr '\n' ' '; }
mkdir -p "$tmp/home"
file=$tmp/xdg/hopwatch/history

trace 203.0.113.1 || fail "first trace failed: $(cat "$tmp/err")"
trace 192.0.2.7 || fail "second trace failed"
trace 203.0.113.1 || fail "third trace failed"
[[ $(hist) == "203.0.113.1 192.0.2.7 " ]] || fail "history after 3 traces: '$(hist)'"
[[ $(stat -c %a "$file" 2>/dev/null) == 600 ]] || fail "history file mode is not 0600"

# -F: every host, the first of the file ending up the most recent.
printf '198.51.100.9\n198.51.100.8\n' >"$tmp/hosts"
trace -F "$tmp/hosts" || fail "-F trace failed"
want="198.51.100.9 198.51.100.8 203.0.113.1 192.0.2.7 "
[[ $(hist) == "$want" ]] || fail "after -F: '$(hist)', want '$want'"
[[ $(hist --lru 2) == "198.51.100.9 198.51.100.8 " ]] || fail "--history --lru 2: '$(hist --lru 2)'"

# The bound is applied to the file when a trace records.
trace --lru 3 192.0.2.1 || fail "--lru 3 trace failed"
[[ $(hist) == "192.0.2.1 198.51.100.9 198.51.100.8 " ]] || fail "--lru 3 kept: '$(hist)'"

# 0 and HOPWATCH_NO_HISTORY record nothing and leave the file alone.
before=$(cat "$file")
trace --lru 0 192.0.2.2 || fail "--lru 0 trace failed"
HOPWATCH_NO_HISTORY=1 XDG=$tmp/xdg env HOPWATCH_NO_HISTORY=1 HOME="$tmp/home" \
	XDG_STATE_HOME="$tmp/xdg" HOPWATCH_ENGINE="$here/fake_engine.py" \
	FAKE_TRANSCRIPT="$here/transcript.txt" HOPWATCH_OPTIONS= \
	"$HOPWATCH" -r -n -c 1 -m 5 192.0.2.3 >/dev/null 2>&1 || fail "NO_HISTORY trace failed"
[[ $(cat "$file") == "$before" ]] || fail "--lru 0 or HOPWATCH_NO_HISTORY changed the file"
[[ -z $(hist --lru 0) ]] || fail "--history --lru 0 printed something"

# Without XDG_STATE_HOME: ~/.local/state.
XDG= trace 192.0.2.4 || fail "trace without XDG_STATE_HOME failed"
[[ $(cat "$tmp/home/.local/state/hopwatch/history" 2>/dev/null) == 192.0.2.4 ]] ||
	fail "no history under ~/.local/state"

# A damaged file: readable hosts survive, junk goes, no warning, the trace succeeds.
printf 'ok.example\n\033[2J\nwith space\n\377\376\n192.0.2.5' >"$file"
trace 192.0.2.6 || fail "trace with a damaged history failed"
[[ ! -s $tmp/err ]] || fail "damaged history gave a warning: $(cat "$tmp/err")"
[[ $(hist) == "192.0.2.6 ok.example 192.0.2.5 " ]] || fail "damaged file read as '$(hist)'"

# Nowhere to write: the report still comes, with exit 0 and exactly one warning line.
: >"$tmp/blocker"
XDG=$tmp/blocker/state trace 203.0.113.1
rc=$?
((rc == 0)) || fail "unwritable history made the trace fail (rc=$rc)"
grep -q '^HOST: ' "$tmp/out" || fail "unwritable history: no report"
n=$(wc -l <"$tmp/err")
((n == 1)) && grep -q 'history' "$tmp/err" || fail "unwritable history: $n stderr lines: $(cat "$tmp/err")"

# Completion offers the history's hosts as operands (and only matching ones).
got=$(HOME="$tmp/home" XDG_STATE_HOME="$tmp/xdg" bash -c '
	source "$1/completion/hopwatch"
	unset -f _known_hosts_real
	COMP_WORDS=(hopwatch -r 192.0.2.); COMP_CWORD=2; COMPREPLY=()
	_hopwatch; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$root")
[[ $got == $'192.0.2.5\n192.0.2.6' ]] || fail "completion of 192.0.2.: '$got'"

hw --help | grep -q HOPWATCH_RESOLV_CONF || fail "--help does not name HOPWATCH_RESOLV_CONF"
hw --help | grep -q -- '--lru' || fail "--help does not list --lru"
hw --lru -1 --history >/dev/null && fail "--lru -1 accepted"

((fails == 0)) || exit 1
echo "ok: test_history"
