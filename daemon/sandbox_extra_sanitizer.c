/*
 * sandbox_extra_sanitizer: what the ASan/UBSan runtime adds to the allow lists (meson
 * links this file when b_sanitize is set). Measured by running the sanitizer build's
 * integration tests under strace: the runtime maps and protects shadow and allocator
 * memory, reads /proc/self/maps when it reports or symbolizes, and prints through
 * write(). None of this is in an uninstrumented engine, which keeps the short lists.
 */
#include "daemon/sandbox.h"

#include <stddef.h>

const char *const *sandbox_extra_calls(void)
{
	static const char *const calls[] = {
		"mprotect madvise munmap mmap sigaltstack", /* shadow memory, alt stack */
		"openat open readlink readlinkat read",	    /* /proc/self/maps, reports */
		"newfstatat fstat statx lseek getdents64",  /* reading /proc */
		"prctl getrlimit prlimit64 sched_yield",    /* the runtime's checks */
		"getpid gettid tgkill rt_sigaction",	    /* dying with the report */
		"rt_sigprocmask futex exit getppid",	    /* threads, the tracer */
		"pipe2 dup2 dup3 write writev",		    /* printing it */
		"getdents clone ptrace wait4",		    /* LeakSanitizer stops the world */
		NULL,
	};

	return calls;
}
