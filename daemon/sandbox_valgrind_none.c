/* sandbox_valgrind_none: without valgrind's header, never under valgrind. */
#include "daemon/sandbox.h"

bool sandbox_under_valgrind(void)
{
	return false;
}
