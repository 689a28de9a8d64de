#!/usr/bin/env bash
# hopwatch.sh: stands in for the hopwatch binary in script tests run by wrap.sh (by path
# from the environment: a test may copy this file elsewhere).
exec "${HOPWATCH_VALGRIND_RUN:?}" "${HOPWATCH_VALGRIND_REAL:?}" "$@"
