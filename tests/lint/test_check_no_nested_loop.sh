#!/bin/sh
# test_check_no_nested_loop: check_no_nested_loop.sh must pass a clean tree (main.c
# runs the loop, the core only mentions loops in comments and strings) and fail
# (exit 1, naming the file and line) on each loop call planted in the core, in a
# temp tree.
# Usage: test_check_no_nested_loop.sh PATH/TO/check_no_nested_loop.sh
set -u

check=${1:?usage: $0 PATH/TO/check_no_nested_loop.sh}
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
failures=0

# A fresh tree: main.c owns the loop; the core only names loop calls where they
# do not count.
fresh_tree() {
	rm -rf "$work/tree"
	mkdir -p "$work/tree/client" "$work/tree/daemon" "$work/tree/tests/unit"
	cat >"$work/tree/client/main.c" <<'C'
#include <event2/event.h>
int main(void)
{
	struct event_base *base = event_base_new();
	event_base_loopexit(base, 0);
	event_base_loopbreak(base);
	event_base_loopcontinue(base);
	event_base_dispatch(base);
	return event_base_loop(
		base, 0);
}
C
	cat >"$work/tree/client/sched.c" <<'C'
/* The caller runs event_base_loop(base, 0); we never call event_base_dispatch(). */
#include <event2/event.h>
static const char msg[] = "event_base_loopbreak( is main.c's job";
static const char quote = '"';
struct x { int my_event_base_loop_count; int event_loops; };
int sched_tick(struct event_base *base)
{
	// event_base_loopexit(base, NULL) would stop the other traces
	return event_base_got_break(base) + (int)sizeof(msg) + quote; /* event_loop() */
}
/*
 * event_dispatch();
 * event_base_loopcontinue(base);
 */
C
	cat >"$work/tree/client/tui.h" <<'C'
/* tui: returns when the user quits (the caller's loop sees event_base_loopbreak). */
int tui_run(void);
C
	# Outside client/ the lint does not look: the engine has its own process.
	echo 'int d(void *b) { return event_base_dispatch(b); }' >"$work/tree/daemon/engine.c"
	echo 'int t(void *b) { return event_base_loop(b, 0); }' >"$work/tree/tests/unit/test_x.c"
}

# expect RC FILE LINE CONTENT: write FILE into a fresh tree, run, compare the exit
# code and, for a violation, that FILE:LINE is reported.
expect() {
	want=$1 file=$2 line=$3 content=$4
	fresh_tree
	if [ -n "$file" ]; then
		mkdir -p "$(dirname "$work/tree/$file")"
		printf '%s\n' "$content" >"$work/tree/$file"
	fi
	out=$("$check" "$work/tree" 2>&1)
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: ${file:-clean tree}: exit $got, expected $want"
		printf '%s\n' "$content" | sed 's/^/    | /'
		printf '%s\n' "$out" | sed 's/^/    > /'
		failures=$((failures + 1))
	elif [ "$want" -eq 1 ] && ! printf '%s\n' "$out" | grep -q "^$file:$line:"; then
		echo "FAIL: $file: violation not reported as $file:$line"
		printf '%s\n' "$out" | sed 's/^/    > /'
		failures=$((failures + 1))
	else
		echo "ok: ${file:-clean tree} -> $got"
	fi
}

expect 0 "" "" ""
# Usage errors are not "clean".
"$check" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: no argument must exit 2"; failures=$((failures + 1)); }
"$check" "$work/does-not-exist" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: missing tree must exit 2"; failures=$((failures + 1)); }

expect 1 client/dns.c 1 'int f(void *b) { return event_base_loop(b, EVLOOP_ONCE); }'
expect 1 client/dns.c 1 'int f(void *b) { return event_base_dispatch (b); }'
expect 1 client/dns.c 1 'void f(void *b) { event_base_loopbreak(b); }'
expect 1 client/dns.c 1 'void f(void *b) { event_base_loopexit(b, 0); }'
expect 1 client/dns.c 1 'void f(void *b) { event_base_loopcontinue(b); }'
expect 1 client/dns.c 1 'int f(void) { return event_loop(0); }'
expect 1 client/dns.c 1 'int f(void) { return event_dispatch(); }'
expect 1 client/dns.c 1 'int f(void) { return event_loopexit(0); }'
expect 1 client/dns.c 1 'int f(void) { return event_loopbreak(); }'
# A call split over two lines, and one whose name ends a line.
expect 1 client/engine_conn.c 3 'int f(void *b)
{
	return event_base_loop(
		b, 0);
}'
expect 1 client/engine_conn.c 3 'int f(void *b)
{
	return event_base_loop
		(b, 0);
}'
# A pointer to a loop function is a call waiting to happen.
expect 1 client/engine_conn.c 1 'int (*run)(void *, int) = event_base_loop;'
# Code after a comment or a string on the same line still counts.
expect 1 client/tui.c 2 '/* the live view */
void f(void *b) { /* quit */ event_base_loopbreak(b); }'
expect 1 client/tui.c 1 'void f(void *b) { log("x"); event_base_loopbreak(b); }'
expect 1 client/tui.c 3 '/*
 * a comment over lines */
int f(void *b) { return event_base_dispatch(b); }'
# Headers of the core, and files in subfolders, are core too.
expect 1 client/tui.h 1 'static inline int f(void *b) { return event_base_dispatch(b); }'
expect 1 client/sub/x.c 1 'int f(void *b) { return event_base_loop(b, 0); }'
# Only client/main.c is allowed, not a main.c elsewhere in client/.
expect 1 client/sub/main.c 1 'int f(void *b) { return event_base_loop(b, 0); }'

# The reports must name each violation, so a file with two gives two lines.
fresh_tree
printf 'void f(void *b)\n{\n\tevent_base_loopbreak(b);\n\tevent_base_loopexit(b, 0);\n}\n' \
	>"$work/tree/client/two.c"
n=$("$check" "$work/tree" 2>/dev/null | grep -c '^client/two.c:[34]:')
if [ "$n" -ne 2 ]; then
	echo "FAIL: two violations reported $n time(s)"
	failures=$((failures + 1))
else
	echo "ok: two violations, two reports"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures case(s) failed"
	exit 1
fi
exit 0
