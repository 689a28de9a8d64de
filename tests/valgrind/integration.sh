#!/usr/bin/env bash
# integration.sh: the wrapper `meson test --suite integration --wrapper` runs each
# integration test under, for valgrind memcheck of every hopwatch program the test starts.
# The test itself runs as is, but with HOPWATCH_BUILD pointed at a shadow of the build
# directory (every entry a link to the real one) in which client/hopwatch,
# daemon/hopwatchd and monitor/hopwatch-monitor are scripts that run the real programs
# under memcheck with run.sh's rules, each process (a forked broker too) writing its own
# log. After the test every log is read: any invalid access, use of uninitialised memory
# or definite/indirect leak fails the test, whatever it reported itself. A process killed
# outright (SIGKILL, as the fault tests do) leaves no summary: it is judged on the errors
# its log shows until then.
# HOPWATCH_VALGRIND=1 tells the tests that time their own work to skip those checks.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(readlink -f "${HOPWATCH_BUILD:?integration.sh: HOPWATCH_BUILD is not set}")
PROGRAMS=(client/hopwatch daemon/hopwatchd monitor/hopwatch-monitor)

# Gives each program its own name back (see comm.c).
comm=$build/tests/valgrind/valgrind_comm.so
[[ -f $comm ]] || { echo "integration.sh: $comm is not built" >&2; exit 1; }

shadow=$(mktemp -d /tmp/hopwatch-vgshadow.XXXXXX) || exit 1
trap 'rm -rf "$shadow"' EXIT
# The engine's broker and dropped engine write their logs and read the scripts too.
chmod 755 "$shadow"
mkdir -m 1777 "$shadow/logs"
# What the wrappers run lives in the shadow itself: a test may start a program as nobody
# or as the engine's user, and the build may sit where only root can reach it (a clone in
# a 0700 mktemp -d).
mkdir -m 755 "$shadow/real"
cp "$here/run.sh" "$comm" "$shadow/real/" || exit 1
comm=$shadow/real/${comm##*/}
chmod 755 "$shadow/real/run.sh" "$comm"
for entry in "$build"/*; do
	ln -s "$entry" "$shadow/${entry##*/}"
done
for prog in "${PROGRAMS[@]}"; do
	dir=${prog%/*}
	[[ -x $build/$prog ]] || continue
	if [[ -L $shadow/$dir ]]; then
		rm "$shadow/$dir"
		mkdir -m 755 "$shadow/$dir"
		for entry in "$build/$dir"/*; do
			ln -s "$entry" "$shadow/$dir/${entry##*/}"
		done
	fi
	rm -f "$shadow/$prog"
	# Each in a directory of its own, as in the build: nothing new lies next to hopwatch.
	mkdir -p -m 755 "$shadow/real/$dir"
	cp "$build/$prog" "$shadow/real/$dir/" || exit 1
	cat >"$shadow/$prog" <<SH
#!/bin/sh
# ${prog##*/} under valgrind memcheck (tests/valgrind/integration.sh)
LD_PRELOAD=$comm HOPWATCH_VALGRIND_LOG="$shadow/logs/${prog##*/}.%p.log" \\
	exec "$shadow/real/run.sh" "$shadow/real/$prog" "\$@"
SH
	chmod 755 "$shadow/$prog"
done

export HOPWATCH_BUILD=$shadow HOPWATCH_VALGRIND=1
"$@"
rc=$?

# Wait a little for processes the test left to finish (a broker outliving its engine).
for ((i = 0; i < 50; i++)); do
	pgrep -f "$shadow/logs" >/dev/null 2>&1 || break
	sleep 0.2
done
# What memcheck reports as it happens, so that a process killed before its summary is
# still judged on what it did until then.
ERRORS='Invalid (read|write|free)|uninitialised|Syscall param|Mismatched free|overlap|definitely lost|indirectly lost'
clean=0 bad=0 unjudged=0
for f in "$shadow"/logs/*.log; do
	[[ -e $f ]] || continue
	if grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
		clean=$((clean + 1))
	elif grep -q 'ERROR SUMMARY:' "$f" || grep -Eq "$ERRORS" "$f"; then
		bad=$((bad + 1))
		echo "valgrind: --- ${f##*/}" >&2
		grep -v '^==[0-9]*== *$' "$f" | head -60 >&2
	else
		# A fork that went on to exec (the CLI starting its engine), or a kill -9.
		unjudged=$((unjudged + 1))
	fi
done
echo "valgrind: $clean processes clean, $bad with errors," \
	"$unjudged ended without a summary (exec after fork, or killed)" >&2
if ((bad)); then
	echo "FAIL: valgrind memcheck found errors in $bad processes" >&2
	exit 1
fi
exit "$rc"
