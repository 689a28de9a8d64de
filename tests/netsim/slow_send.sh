#!/bin/sh
# slow_send.sh ARGS...: runs $SLOW_SEND_PROG (an engine: hopwatchd or mtr-packet) with every
# sendto()/sendmsg() held back for $SLOW_SEND_US microseconds (default 3000) on its way into
# the kernel, by strace's fault injection: what a busy host does to an engine preempted
# between reading the clock and sending. An RTT stamped by the kernel does not see it; one
# that starts at the clock read is that much too long.
# Its clients stop an engine with SIGTERM, on which strace would only detach: it is passed
# on to the engine itself.
: "${SLOW_SEND_PROG:?set SLOW_SEND_PROG to the engine to run}"
pidf=$(mktemp)
# An asynchronous command's stdin is /dev/null before its own redirections: keep ours on 3.
exec 3<&0
strace -f -qq -o /dev/null -e trace=sendto,sendmsg \
	-e inject=sendto,sendmsg:delay_enter="${SLOW_SEND_US:-3000}" \
	sh -c 'echo $$ >"$0"; exec "$SLOW_SEND_PROG" "$@"' "$pidf" "$@" <&3 3<&- &
child=$!
trap 'kill -TERM "$(cat "$pidf")" 2>/dev/null' TERM INT
wait "$child"
rc=$?
# A trapped signal ends the first wait early: wait for the engine's own exit.
[ "$rc" -gt 128 ] && { wait "$child"; rc=$?; }
rm -f "$pidf"
exit "$rc"
