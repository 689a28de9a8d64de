/*
 * sandbox_none: the sandbox where libseccomp is missing (meson picks this file).
 * Nothing is confined; the privilege drop alone stands between input and the kernel.
 */
#include "daemon/sandbox.h"

#include "common/log.h"

int sandbox_install(enum sandbox_role role, int unlink_dirfd)
{
	log_debug("sandbox: built without libseccomp, no system call filter (role %d)", (int)role);
	return 0;
}

bool sandbox_available(void)
{
	return false;
}
