#!/bin/sh
# test_check_no_static_state: check_no_static_state.sh must fail (exit 1, naming the
# symbol and its object) on each kind of writable static compiled into a temp
# static archive, and pass an archive of const tables and functions only,
# including a const table of pointers (.data.rel.ro under -fPIC) and, when the
# compiler can, the same built with AddressSanitizer.
# Usage: test_check_no_static_state.sh PATH/TO/check_no_static_state.sh
# CC and AR override the compiler (cc) and archiver (ar); 77 (skip) without them.
set -u

check=${1:?usage: $0 PATH/TO/check_no_static_state.sh}
cc=${CC:-cc}
ar=${AR:-ar}
command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($cc)"; exit 77; }
command -v "$ar" >/dev/null 2>&1 || { echo "SKIP: no archiver ($ar)"; exit 77; }
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# build NAME FLAGS SOURCE: compile SOURCE into $work/NAME.o (FLAGS unquoted on purpose).
build() {
	printf '%s\n' "$3" >"$work/$1.c"
	# shellcheck disable=SC2086
	if ! "$cc" -std=c11 -O2 -fPIC $2 -c "$work/$1.c" -o "$work/$1.o" 2>"$work/cc.err"; then
		sed 's/^/    cc: /' "$work/cc.err"
		return 1
	fi
}

# archive LIB OBJ...: a fresh static archive of the objects.
archive() {
	lib=$work/$1
	shift
	rm -f "$lib"
	(cd "$work" && "$ar" rcs "$lib" "$@") || exit 1
}

# expect RC LIB [SYMBOL OBJECT]...: run the checker on LIB; on a failure every
# SYMBOL must be reported against LIB(OBJECT).
expect() {
	want=$1 lib=$2
	shift 2
	out=$("$check" "$work/$lib" 2>&1)
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$lib: exit $got, expected $want"
		printf '%s\n' "$out" | sed 's/^/    > /'
		return
	fi
	while [ $# -ge 2 ]; do
		# A function's static is FUNC.NAME (clang) or NAME.N (gcc).
		if ! printf '%s\n' "$out" | grep -Eq "^$lib\\($2\\): ([A-Za-z0-9_]+\\.)?$1[ .]"; then
			fail "$lib: $1 not reported against $lib($2)"
			printf '%s\n' "$out" | sed 's/^/    > /'
		fi
		shift 2
	done
	echo "ok: $lib -> $got"
}

clean='static const int table[] = {1, 2};
static const char *const names[] = {"one", "two"};
const char *clean_name(int i);
const char *clean_name(int i)
{
	return names[i & 1];
}
int clean_get(int i);
int clean_get(int i)
{
	return table[i & 1] + (int)clean_name(i)[0];
}'

build local "" 'int next(void);
int next(void)
{
	static int counter;
	return ++counter;
}' || exit 1
build filebuf "" 'static char buf[64];
char *get(int i);
char *get(int i)
{
	buf[i & 63] = 1;
	return buf;
}' || exit 1
build global "" 'int g = 1;' || exit 1
build clean "" "$clean" || exit 1

archive liblocal.a local.o
archive libfilebuf.a filebuf.o
archive libglobal.a global.o
archive libclean.a clean.o
archive liball.a local.o filebuf.o global.o clean.o

expect 1 liblocal.a counter local.o
expect 1 libfilebuf.a buf filebuf.o
expect 1 libglobal.a g global.o
expect 0 libclean.a
expect 1 liball.a counter local.o buf filebuf.o g global.o
if "$check" "$work/liball.a" 2>/dev/null | grep -q '(clean.o)'; then
	fail "liball.a: clean.o reported"
fi
# All libraries given are read, not only the first.
"$check" "$work/libclean.a" "$work/libglobal.a" >/dev/null 2>&1
[ $? -eq 1 ] || fail "a bad second library must fail"

# More kinds of state: thread-locals, common symbols, weak objects, and a
# project name that merely resembles an allow-listed prefix.
build tls "" 'static _Thread_local int depth;
int enter(void);
int enter(void)
{
	return ++depth;
}' || exit 1
archive libtls.a tls.o
expect 1 libtls.a depth tls.o
if build common "-fcommon" 'int tentative;'; then
	archive libcommon.a common.o
	expect 1 libcommon.a tentative common.o
else
	echo "skip: $cc has no -fcommon"
fi
build weak "" '__attribute__((weak)) int hook = 1;' || exit 1
archive libweak.a weak.o
expect 1 libweak.a hook weak.o
build nearly "" 'int asan_seen = 1; int L_count = 2;' || exit 1
archive libnearly.a nearly.o
expect 1 libnearly.a asan_seen nearly.o L_count nearly.o
# A toolchain symbol is ignored (here planted by hand, as the sanitizers would).
build toolchain "" 'int __asan_planted = 1; int __sancov_planted[4];' || exit 1
archive libtoolchain.a toolchain.o
expect 0 libtoolchain.a

# An instrumented build of the clean code adds only allow-listed symbols.
for flags in "-fsanitize=address,undefined" "-fsanitize=fuzzer-no-link,address" \
	"-fsanitize-coverage=trace-pc" "--coverage"; do
	if build asan "$flags" "$clean" >/dev/null; then
		archive libasan.a asan.o
		expect 0 libasan.a
	else
		echo "skip: $cc has no $flags"
	fi
done

# Usage errors are not "clean".
"$check" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no argument must exit 2"
"$check" "$work/missing.a" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a missing library must exit 2"
printf 'not an archive\n' >"$work/junk.a"
"$check" "$work/junk.a" >/dev/null 2>&1
[ $? -eq 2 ] || fail "an unreadable library must exit 2"

if [ "$failures" -ne 0 ]; then
	echo "$failures case(s) failed"
	exit 1
fi
exit 0
