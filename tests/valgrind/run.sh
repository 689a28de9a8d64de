#!/usr/bin/env bash
# run.sh PROGRAM ARGS...: PROGRAM under valgrind memcheck with the suite's settings.
# Tests that time their work check only the work under valgrind.
export HOPWATCH_VALGRIND=1
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--track-fds=no --child-silent-after-fork=yes "$@"
