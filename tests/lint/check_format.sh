#!/bin/sh
# check_format: every .c/.h under common/ proto/ daemon/ client/ monitor/ tests/ of the
# tree given as $1 must already be as clang-format (with the tree's own
# .clang-format) would write it. Build directories are skipped.
# Exit: 0 formatted, 1 unformatted files (clang-format says where), 2 usage
# error, 77 (meson: skipped) without clang-format.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 TREE_ROOT" >&2
	exit 2
fi
root=$1
if [ ! -f "$root/.clang-format" ]; then
	echo "$0: no .clang-format in $root" >&2
	exit 2
fi
clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
	echo "$0: $clang_format not found, skipping" >&2
	exit 77
fi

# Diagnostics shown per unformatted file; the fix is clang-format -i anyway.
max_diag_lines=6

list=$(mktemp) || exit 2
diag=$(mktemp) || exit 2
trap 'rm -f "$list" "$diag"' EXIT
trap 'exit 2' INT TERM

for dir in common proto daemon client monitor tests; do
	[ -d "$root/$dir" ] || continue
	find "$root/$dir" \( -type d \( -name 'build*' -o -name '.*' \) -prune \) -o \
		-type f \( -name '*.c' -o -name '*.h' \) -print
done | sort >"$list" || exit 2

[ -s "$list" ] || exit 0
status=0
# One file per run keeps a name with spaces intact and reports every bad file.
while IFS= read -r file; do
	if ! "$clang_format" --dry-run --Werror "$file" >/dev/null 2>"$diag"; then
		echo "not formatted: ${file#"$root"/} (run clang-format -i)"
		head -n "$max_diag_lines" "$diag" | sed 's/^/    /'
		status=1
	fi
done <"$list"
exit $status
