#!/usr/bin/env bash
# hopwatch.sh: stands in for the hopwatch binary in script tests run by wrap.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" "${HOPWATCH_VALGRIND_REAL:?}" "$@"
