/*
 * sandbox_extra_sanitizer: what the ASan/UBSan runtime adds to the allow lists (meson
 * links this file when b_sanitize is set). Measured from the kernel's audit records of
 * the SIGSYS kills (strace will not do: LeakSanitizer refuses to run under ptrace) while
 * the sanitizer build ran its tests: the runtime maps and protects shadow memory, reads
 * /proc when it reports, and at exit LeakSanitizer clones a tracer that ptraces the
 * process and lists its threads. An uninstrumented engine keeps the short lists.
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
