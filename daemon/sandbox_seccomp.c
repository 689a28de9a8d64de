/*
 * sandbox_seccomp: the allow lists of hopwatchd's engine and broker, installed with
 * libseccomp. Anything else kills the process (SCMP_ACT_KILL_PROCESS, SIGSYS): a
 * compromised engine cannot open files, exec, ptrace, mount, or talk to the kernel in
 * any way the tests never saw it need.
 *
 * The lists come from tracing the real workloads (strace -f over the engine, socket,
 * protocol, cli and mtr_interop integration tests, counting only calls made after the
 * privilege drop), then trimming what only start-up needs. Calls are named, not
 * numbered, so that the lists hold on every architecture libseccomp knows; a name this
 * kernel's headers lack is skipped (libseccomp cannot resolve it).
 */
#include "daemon/sandbox.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <seccomp.h>

#include "common/log.h"

/* Longer than any system call name. */
#define SANDBOX_NAME_MAX 64

/*
 * The engine after its drop (counts from the trace, for 148 engine runs: sendto 284523,
 * sendmsg 13209, close 2603, poll 2328, read 2165 ... socket 13, epoll_create1 11).
 * Not seen but kept, because a path the tests rarely take needs them: recvmmsg (the
 * batch receive), kill (reaping a wedged broker), unlink (the socket file at exit).
 */
static const char *const engine_calls[] = {
	"epoll_create1 epoll_ctl epoll_wait epoll_pwait poll", /* event loop */
	"pipe2 rt_sigaction rt_sigprocmask rt_sigreturn",      /* libevent's signals */
	"restart_syscall clock_gettime clock_nanosleep",       /* timers */
	"getrandom getpid getuid geteuid getgid getegid",      /* libevent's set-up */
	"read write close fcntl newfstatat",		       /* pipes and clients */
	"socket connect bind getsockname",		       /* source address lookup */
	"setsockopt getsockopt accept4",		       /* probe and client sockets */
	"sendto sendmsg recvmsg recvmmsg",		       /* probes, the broker */
	"mmap munmap mremap brk",			       /* memory, the receive ring */
	"wait4 kill unlink exit_group",			       /* the exit */
	NULL,
};

/*
 * The broker after its drop (trace: recvfrom 188, sendmsg 188, getppid 150, exit_group
 * 136, setsockopt 49, socket 38, close 38): one request in, one socket made and
 * configured, one reply out with SCM_RIGHTS, its copy closed; ppoll() to wait with
 * SIGTERM let through, getppid() to see whether the engine is gone; write() for a log.
 */
static const char *const broker_calls[] = {
	"recvfrom sendmsg socket setsockopt close",   /* requests */
	"ppoll getppid rt_sigreturn restart_syscall", /* SIGTERM */
	"write exit_group",			      /* a log line, the exit */
	NULL,
};

/* Allow every call named in names: strings of names separated by spaces. */
static int allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (size_t i = 0; names[i]; i++) {
		const char *p = names[i];

		while (*p) {
			char name[SANDBOX_NAME_MAX];
			size_t len = strcspn(p, " ");
			int nr, err;

			if (len == 0 || len >= sizeof(name))
				return -EINVAL;
			memcpy(name, p, len);
			name[len] = '\0';
			p += len + strspn(p + len, " ");
			nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; /* not a call of this architecture (e.g. no plain poll) */
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

/* unlinkat(dirfd, name, 0) and newfstatat(dirfd, ...) for that one descriptor only. */
static int allow_dirfd(scmp_filter_ctx ctx, int dirfd)
{
	int err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2,
				   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)dirfd),
				   SCMP_A2(SCMP_CMP_EQ, 0));

	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)dirfd));
	return err;
}

int sandbox_install(enum sandbox_role role, int unlink_dirfd)
{
	const char *const *list;
	scmp_filter_ctx ctx;
	int err;

	switch (role) {
	case SANDBOX_ENGINE:
		list = engine_calls;
		break;
	case SANDBOX_BROKER:
		list = broker_calls;
		break;
	default:
		return -EINVAL;
	}
	if (sandbox_under_valgrind()) {
		/* The one who chose valgrind knows; stderr stays as it is without it. */
		log_info("sandbox: under valgrind, no system call filter is installed");
		return 0;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* libseccomp sets no_new_privs on load by default (SCMP_FLTATR_CTL_NNP). */
	err = allow_list(ctx, list);
	if (!err)
		err = allow_list(ctx, sandbox_extra_calls());
	if (!err && unlink_dirfd >= 0)
		err = allow_dirfd(ctx, unlink_dirfd);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err < 0)
		log_warnx("sandbox: cannot install the system call filter: %s", strerror(-err));
	return err < 0 ? err : 0;
}

bool sandbox_available(void)
{
	return !sandbox_under_valgrind();
}
