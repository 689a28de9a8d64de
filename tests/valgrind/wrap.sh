#!/usr/bin/env bash
# wrap.sh: the wrapper `meson test --wrapper` runs each test under, for valgrind memcheck.
# A test that is a program runs under valgrind itself. A test that is a script (the golden
# tests run the hopwatch binary named by $HOPWATCH) runs as is, with $HOPWATCH pointed at
# hopwatch.sh beside this file, so every hopwatch it starts runs under valgrind instead.
# Any invalid access, use of uninitialised memory or definite/indirect leak makes the
# program exit 99, so the test fails.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ') == 177ELF ]]; then
	exec "$here/run.sh" "$@"
fi
if [[ -n ${HOPWATCH:-} ]]; then
	export HOPWATCH_VALGRIND_REAL=$HOPWATCH
	export HOPWATCH=$here/hopwatch.sh
fi
exec "$@"
