# shellcheck shell=bash
# tui_lib.sh: what the live-view tests (test_tui*.sh) share to drive hopwatch in a real
# terminal: a tmux server of the test's own (socket $SOCK, set before these are called,
# never the user's server) with one session "tui", and checks that poll its pane.
# Sourced, not run. The test keeps the server's cleanup (kill-server) in its lab's list.
#   fail MSG / ok MSG / expect MSG CMD...   count and print checks (fail shows the pane)
#   pane / keys KEY...                      capture the pane / type into it
#   wait_for ERE / gone ERE                 poll the pane up to WAIT_S for a line to match
#                                           / for no line to match
#   tui_session COLS ROWS COMMAND           a fresh server running COMMAND in the pane
#   tui_summary MSG                         exit 1 after failed checks, else print MSG

: "${WAIT_S:=15}" # longest wait for anything to show up in the pane
fails=0

pane() { tmux -S "$SOCK" capture-pane -p -t tui 2>/dev/null; }
keys() { tmux -S "$SOCK" send-keys -t tui "$@"; }

fail() {
	echo "FAIL: $*" >&2
	echo "--- pane:" >&2
	pane >&2
	echo "---" >&2
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

# expect MSG CMD...: ok MSG when CMD succeeds, else fail MSG.
expect() {
	local msg=$1
	shift
	if "$@"; then
		ok "$msg"
	else
		fail "$msg"
	fi
}

wait_for() {
	local i
	for ((i = 0; i < WAIT_S * 10; i++)); do
		pane | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

gone() {
	local i
	for ((i = 0; i < WAIT_S * 10; i++)); do
		pane | grep -Eq -- "$1" || return 0
		sleep 0.1
	done
	return 1
}

# tui_session COLS ROWS COMMAND: the previous server (if any) goes, a new one runs
# COMMAND (one shell string) in a COLS x ROWS pane. 1 when tmux would not start.
tui_session() {
	tmux -S "$SOCK" kill-server 2>/dev/null
	# The server needs a moment to go before the next one binds the same socket.
	sleep 0.2
	tmux -S "$SOCK" -f /dev/null new-session -d -s tui -x "$1" -y "$2" "$3"
}

tui_summary() {
	if ((fails)); then
		echo "$fails check(s) failed" >&2
		exit 1
	fi
	echo "$1"
}
