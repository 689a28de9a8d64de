#!/usr/bin/env bash
# wrap.sh: the wrapper `meson test --wrapper` runs each test under, for valgrind memcheck.
# A test that is a program runs under valgrind itself. A test that is a script (the golden
# tests run the hopwatch binary named by $HOPWATCH) runs as is, with $HOPWATCH pointed at
# hopwatch.sh beside this file, so every hopwatch it starts runs under valgrind instead.
# Any invalid access, use of uninitialised memory or definite/indirect leak makes the
# program exit 99, so the test fails.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A script test (run by its interpreter, or by its #! line) runs as is; its hopwatch runs
# under valgrind.
case ${1##*/} in
bash | sh | python3 | python) ;;
*) [[ $(head -c 2 "$1" 2>/dev/null) == '#!' ]] || exec "$here/run.sh" "$@" ;;
esac
if [[ -n ${HOPWATCH:-} ]]; then
	export HOPWATCH_VALGRIND_REAL=$HOPWATCH HOPWATCH_VALGRIND_RUN=$here/run.sh
	export HOPWATCH=$here/hopwatch.sh
fi
exec "$@"
