#!/bin/sh
# test_check_privsep_only: check_privsep_only.sh must pass a clean tree and
# fail (exit 1, naming the file) on each planted privilege call, in a temp tree.
# Usage: test_check_privsep_only.sh PATH/TO/check_privsep_only.sh
set -u

check=${1:?usage: $0 PATH/TO/check_privsep_only.sh}
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
failures=0

# A fresh tree: privsep.c may do everything, the rest only mentions things.
fresh_tree() {
	rm -rf "$work/tree"
	mkdir -p "$work/tree/common" "$work/tree/proto" "$work/tree/daemon" \
		"$work/tree/client" "$work/tree/tests/unit"
	cat >"$work/tree/daemon/privsep.c" <<'C'
#include <sys/capability.h>
int privsep_drop(void)
{
	cap_t c = cap_init();
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	setgroups(0, 0);
	return setresuid(65534, 65534, 65534) + cap_set_proc(c);
}
C
	cat >"$work/tree/daemon/engine.c" <<'C'
/* The engine never calls setuid() or cap_set_proc(): privsep_drop() does. */
#include "daemon/privsep.h"
static const char msg[] = "setresuid(0) failed; cap_get_proc( is not ours";
static const char quote = '"';
struct x { int has_cap_net_raw; int recap; };
int engine_start(void)
{
	// prctl(PR_SET_KEEPCAPS, 1) would be wrong here
	return my_setuid_wrapper(3) + privsep_drop() + (int)sizeof(msg) + quote;
}
C
	# Tests may call anything: they verify the drop.
	echo 'int t(void) { return setuid(0) + cap_clear(0); }' >"$work/tree/tests/unit/test_x.c"
}

# expect RC FILE CONTENT: write FILE into a fresh tree, run, compare exit code.
expect() {
	want=$1 file=$2 content=$3
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
	elif [ "$want" -eq 1 ] && ! printf '%s\n' "$out" | grep -q "^$file:"; then
		echo "FAIL: $file: violation not attributed to the file"
		printf '%s\n' "$out" | sed 's/^/    > /'
		failures=$((failures + 1))
	else
		echo "ok: ${file:-clean tree} -> $got"
	fi
}

expect 0 "" ""
# Usage errors are not "clean".
"$check" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: no argument must exit 2"; failures=$((failures + 1)); }
"$check" "$work/does-not-exist" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: missing tree must exit 2"; failures=$((failures + 1)); }

expect 1 daemon/engine2.c 'int f(void) { return setresuid(1, 1, 1); }'
expect 1 daemon/engine2.c 'int f(void) { return setuid (1); }'
expect 1 client/main.c 'int f(void) { return seteuid(1) + setegid(1); }'
expect 1 common/util.c 'int f(void) { return setreuid(1, 1); }'
expect 1 common/util.c 'int f(void) { return setregid(1, 1); }'
expect 1 proto/p.c 'int f(void) { return setgid(1); }'
expect 1 proto/p.c 'int f(void) { return setresgid(1, 1, 1); }'
expect 1 daemon/net.c 'int f(void) { return setgroups(0, 0); }'
expect 1 daemon/net.c 'int f(void) { return capset(0, 0); }'
expect 1 daemon/net.c 'int f(void) { cap_t c = cap_get_proc(); return c != 0; }'
expect 1 daemon/net.h 'static inline int f(void) { return cap_set_proc(0); }'
expect 1 daemon/net.c 'int f(void) { return (int)syscall(SYS_setresuid, 1, 1, 1); }'
expect 1 daemon/net.c 'int f(void) { return (int)syscall(__NR_capset, 0, 0); }'
expect 1 daemon/net.c 'int f(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }'
expect 1 daemon/net.c 'int f(void)
{
	return prctl(
		PR_CAPBSET_DROP, 12, 0, 0, 0);
}'
expect 1 daemon/net.c 'int f(void) { return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); }'
expect 1 daemon/net.c 'int f(void) { return prctl(PR_CAP_AMBIENT, 4, 0, 0, 0); }'
expect 1 daemon/sub/deep.c 'int f(void) { return setuid(1); }'
# The code after a comment or a string on the same line still counts.
expect 1 daemon/net.c 'int f(void) { /* drop */ return setuid(1); }'
expect 1 daemon/net.c 'int f(void) { log("x"); return setuid(1); }'
# Only privsep.c is allowed, not a file of the same name elsewhere.
expect 1 client/privsep.c 'int f(void) { return setuid(1); }'

if [ "$failures" -ne 0 ]; then
	echo "$failures case(s) failed"
	exit 1
fi
exit 0
