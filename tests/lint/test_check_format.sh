#!/bin/sh
# test_check_format: check_format.sh must pass a formatted temp tree and fail
# (exit 1) once an unformatted file is planted in any scanned folder, while
# ignoring build directories.
# Usage: test_check_format.sh PATH/TO/check_format.sh SOURCE_ROOT
set -u

check=${1:?usage: $0 CHECK_SCRIPT SOURCE_ROOT}
src=${2:?usage: $0 CHECK_SCRIPT SOURCE_ROOT}
command -v "${CLANG_FORMAT:-clang-format}" >/dev/null 2>&1 || exit 77
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
failures=0

fresh_tree() {
	rm -rf "$work/tree"
	mkdir -p "$work/tree/daemon" "$work/tree/tests/unit"
	cp "$src/.clang-format" "$work/tree/" || exit 1
	printf '/* fine */\nint f(void)\n{\n\treturn 0;\n}\n' >"$work/tree/daemon/ok.c"
}

# expect RC FILE CONTENT
expect() {
	want=$1 file=$2 content=$3
	fresh_tree
	if [ -n "$file" ]; then
		mkdir -p "$(dirname "$work/tree/$file")"
		printf '%s\n' "$content" >"$work/tree/$file"
	fi
	"$check" "$work/tree" >"$work/out" 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: ${file:-formatted tree}: exit $got, expected $want"
		sed 's/^/    > /' "$work/out"
		failures=$((failures + 1))
	elif [ "$want" -eq 1 ] && ! grep -q "not formatted: $file " "$work/out"; then
		echo "FAIL: $file not named in the output"
		failures=$((failures + 1))
	else
		echo "ok: ${file:-formatted tree} -> $got"
	fi
}

bad='int f(void) {   return 0; }'
expect 0 "" ""
expect 1 daemon/bad.c "$bad"
expect 1 common/bad.h "$bad"
expect 1 proto/bad.c "$bad"
expect 1 client/bad.c "$bad"
expect 1 tests/unit/test_bad.c "$bad"
expect 1 daemon/ok.c "$(printf 'int f(void)\n{\n    return 0;\n}')" # spaces, not tabs
expect 0 tests/build-x/gen.c "$bad"
expect 0 daemon/notes.txt "$bad"

"$check" "$work/none" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: missing tree must exit 2"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
	echo "$failures case(s) failed"
	exit 1
fi
exit 0
