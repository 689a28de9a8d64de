/*
 * sandbox_valgrind: whether this process runs under valgrind, which makes system calls of
 * its own on the program's behalf (no allow list can hold them). Built when valgrind's
 * header is there; running under valgrind cannot be arranged by a client, only by
 * whoever starts the engine.
 */
#include "daemon/sandbox.h"

#include <valgrind/valgrind.h>

bool sandbox_under_valgrind(void)
{
	return RUNNING_ON_VALGRIND != 0;
}
