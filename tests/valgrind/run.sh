#!/usr/bin/env bash
# run.sh PROGRAM ARGS...: PROGRAM under valgrind memcheck with the suite's settings.
# Tests that time their work check only the work under valgrind.
# Errors go to stderr (--quiet: nothing else does), or, with HOPWATCH_VALGRIND_LOG set
# (a --log-file name, %p for the pid), to one log per process, a forked child's too, each
# ending with its ERROR SUMMARY line for the caller to read.
export HOPWATCH_VALGRIND=1
out=(--quiet --child-silent-after-fork=yes)
if [[ -n ${HOPWATCH_VALGRIND_LOG:-} ]]; then
	out=("--log-file=$HOPWATCH_VALGRIND_LOG" --child-silent-after-fork=no)
fi
exec valgrind "${out[@]}" --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--track-fds=no --vgdb=no "$@"
