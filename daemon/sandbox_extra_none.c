/*
 * sandbox_extra_none: an uninstrumented build needs nothing beyond the allow lists.
 */
#include "daemon/sandbox.h"

#include <stddef.h>

const char *const *sandbox_extra_calls(void)
{
	static const char *const none[] = {NULL};

	return none;
}
