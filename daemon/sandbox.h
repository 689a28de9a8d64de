/*
 * sandbox: the system call allow lists of hopwatchd's two processes (seccomp).
 * Owns the lists and their installation; never changes ids or capabilities (privsep
 * does, and calls this only after its drop). Without libseccomp meson builds a no-op.
 */
#ifndef HOPWATCH_DAEMON_SANDBOX_H
#define HOPWATCH_DAEMON_SANDBOX_H

#include <stdbool.h>

/* Which process a filter is for; each has its own list. */
enum sandbox_role {
	SANDBOX_ENGINE, /* parses client input, sends and receives probes */
	SANDBOX_BROKER, /* creates and configures raw sockets, passes them back */
};

/*
 * Confine the calling process for good: any system call outside role's allow list kills
 * the whole process (SIGSYS). Sets no_new_privs itself (seccomp needs it without
 * CAP_SYS_ADMIN). Call it from a single-threaded process, after the privilege drop.
 * unlink_dirfd, when not -1, also allows unlinkat() and fstatat() in that directory
 * descriptor alone (the broker removing the engine's socket file at exit).
 * Returns 0 (also from the no-op build), -EINVAL for an unknown role, or -errno.
 */
int sandbox_install(enum sandbox_role role, int unlink_dirfd);

/*
 * Whether sandbox_install() installs a filter here: false for the no-op build, and under
 * valgrind (see sandbox_under_valgrind), where it only warns.
 */
bool sandbox_available(void);

/* Whether the process runs under valgrind (meson builds a file that says no without it). */
bool sandbox_under_valgrind(void);

/*
 * The calls an instrumented build's runtime makes on top of the lists (ASan/UBSan
 * report, symbolize and map shadow memory), as a NULL-terminated array of names.
 * meson links one of two files: an empty list, or the sanitizer one. Only
 * the seccomp implementation reads it.
 */
const char *const *sandbox_extra_calls(void);

#endif
