#!/bin/sh
# check_no_static_state: the client core keeps no state outside the objects it
# hands out, so one process can run many traces. Checked on the compiled code,
# not the text: every static library (or object) given is read with nm, and any
# symbol it defines in writable memory fails the check:
#   b B  .bss (zeroed statics and globals, also .tbss thread-locals)
#   d D  .data (initialised statics and globals)
#   g G s S  small-data variants of the two
#   C    common symbols (a tentative `int x;` under -fcommon)
#   v V  weak objects, u GNU unique objects
# A function's own `static` shows as NAME.N (gcc) or FUNC.NAME (clang).
# Not state, so not failed: symbols in a section that is read-only at run time,
# .rodata* and .data.rel.ro* (a `static const` table of pointers lands in
# .data.rel.ro under PIE; the linker makes it read-only after relocation, -z relro).
#
# Allow-list: only symbols the toolchain itself adds to instrumented builds
# (b_sanitize, the fuzz build, b_coverage). They all start with a reserved
# identifier (two underscores, or a dot), which C forbids the project to use:
#   __asan_ ___asan_   AddressSanitizer globals and their descriptors
#   __unnamed_         clang's AddressSanitizer global metadata arrays
#   __ubsan_ __sanitizer_ __sancov_   UBSan, sanitizer runtime, SanitizerCoverage
#   __gcov             gcc --coverage counters (__gcov0.F, __gcov_.F)
#   __llvm_ __profc_ __profd_ __profn_ __covrec_   clang source-based coverage
#   .L                 assembler-local labels
# Never add a project symbol here: make the variable a member of the object that
# owns it instead, or const.
#
# Usage: check_no_static_state.sh LIBRARY.a|OBJECT.o...
# Exit: 0 clean, 1 writable symbols (listed on stdout as LIBRARY(OBJECT): SYMBOL
# [TYPE SECTION]), 2 usage or internal error. NM overrides the nm program.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 LIBRARY.a|OBJECT.o..." >&2
	exit 2
fi
nm_prog=${NM:-nm}
if ! command -v "$nm_prog" >/dev/null 2>&1; then
	echo "$0: $nm_prog not found" >&2
	exit 2
fi

allow='^(__asan_|___asan_|__unnamed_|__ubsan_|__sanitizer_|__sancov_|__gcov|__llvm_|__profc_|__profd_|__profn_|__covrec_|\.L)'

out=$(mktemp) || exit 2
trap 'rm -f "$out" "$out.err"' EXIT
trap 'exit 2' INT TERM

status=0
for lib in "$@"; do
	if [ ! -f "$lib" ]; then
		echo "$0: no such library: $lib" >&2
		exit 2
	fi
	# System V format gives each symbol's section, which tells .data from
	# .data.rel.ro; both are "d" to nm's default format.
	if ! "$nm_prog" --defined-only -f sysv "$lib" >"$out" 2>"$out.err"; then
		cat "$out.err" >&2
		echo "$0: $nm_prog failed on $lib" >&2
		exit 2
	fi
	ALLOW=$allow LIB=$(basename "$lib") awk -F'|' '
		function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
		/^Symbols from / {
			obj = $0
			sub(/^Symbols from /, "", obj)
			sub(/:$/, "", obj)
			# "lib.a[dir/x.c.o]" -> "lib.a(x.c.o)"; a plain object stays itself.
			if (match(obj, /\[.*\]$/)) {
				member = substr(obj, RSTART + 1, RLENGTH - 2)
				sub(/.*\//, "", member)
				obj = ENVIRON["LIB"] "(" member ")"
			} else {
				sub(/.*\//, "", obj)
			}
			next
		}
		NF >= 7 {
			name = trim($1); type = trim($3); sect = trim($7)
			if (type !~ /^[bBdDgGsSCvVu]$/) next
			if (sect ~ /^\.rodata/ || sect ~ /^\.data\.rel\.ro(\.|$)/) next
			if (name ~ ENVIRON["ALLOW"]) next
			printf "%s: %s [%s %s]\n", obj, name, type, sect
			bad = 1
		}
		END { exit bad ? 1 : 0 }
	' "$out"
	case $? in
	0) ;;
	1) status=1 ;;
	*) exit 2 ;;
	esac
done

if [ $status -ne 0 ]; then
	echo "static or global mutable variables in the client core (move them into the object that owns them, or make them const)" >&2
fi
exit $status
