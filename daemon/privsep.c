/*
 * privsep: privilege separation of hopwatchd, OpenBSD style.
 *
 * The engine opens its raw sockets while privileged and then drops everything
 * (uid, groups, every capability, no_new_privs) before it reads a single byte
 * of client input. That alone is not enough: SO_MARK needs CAP_NET_ADMIN (or
 * CAP_NET_RAW on newer kernels) and SO_BINDTODEVICE may need CAP_NET_RAW at the
 * moment a socket is configured, and probes with `mark` or `local-device` need
 * a socket configured per value, long after the drop. mtr-packet lost `mark`
 * exactly that way. So before dropping, the engine forks a broker: a tiny
 * process with no input but one SOCK_SEQPACKET socketpair, running as the
 * unprivileged user with only CAP_NET_RAW and CAP_NET_ADMIN. It validates each
 * fixed-size request strictly, creates and configures the socket, and passes it
 * back with SCM_RIGHTS. It never parses client text and never exits on bad
 * input; it exits when the engine's end of the socketpair closes or the engine
 * dies (PR_SET_PDEATHSIG).
 *
 * This is the only file of the project allowed to call libcap or the setuid
 * family; tests/lint/check_privsep_only.sh enforces that.
 */
#include "daemon/privsep.h"

#include "common/clock.h"
#include "common/log.h"
#include "daemon/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PRIVSEP_REQUEST_MAGIC 0x68777271u /* "hwrq" */
#define PRIVSEP_REPLY_MAGIC   0x68777270u /* "hwrp" */
/* The broker answers at once; anything slower means it is wedged. */
#define PRIVSEP_REPLY_TIMEOUT_MS 5000
/* After the socketpair closes the broker exits at once; then SIGKILL. */
#define PRIVSEP_REAP_TIMEOUT_MS 2000
#define PRIVSEP_REAP_STEP_MS	1
/* Where the broker keeps its socket after closing everything else. */
#define PRIVSEP_BROKER_FD 3
/* And the socket file's directory, when it removes that file at the end. */
#define PRIVSEP_UNLINK_FD 4
/* Scratch fds are moved at or above this, clear of 0..PRIVSEP_BROKER_FD. */
#define PRIVSEP_SCRATCH_FD 10
/* Capability numbers are bits of a 64-bit mask in the kernel. */
#define PRIVSEP_CAP_LIMIT 64
#define PRIVSEP_NS_PER_MS 1000000L
#define PRIVSEP_US_PER_MS 1000

/* One request, one SOCK_SEQPACKET record, fixed size; all padding must be 0. */
struct privsep_request {
	uint32_t magic;	  /* PRIVSEP_REQUEST_MAGIC */
	int32_t family;	  /* AF_INET or AF_INET6 */
	int32_t type;	  /* SOCK_RAW or SOCK_DGRAM, no flags */
	int32_t protocol; /* see broker_check_kind() */
	uint8_t has_mark; /* 0 or 1 */
	uint8_t pad[3];
	uint32_t mark;			     /* SO_MARK value; 0 unless has_mark */
	char device[PRIVSEP_DEVICE_MAX + 1]; /* "" or an interface name, zero-filled */
};

/* The fd, when error is 0, travels in an SCM_RIGHTS message with the reply. */
struct privsep_reply {
	uint32_t magic; /* PRIVSEP_REPLY_MAGIC */
	int32_t error;	/* 0 or -errno */
};

struct privsep {
	int sock;     /* engine end of the socketpair */
	pid_t broker; /* child pid; -1 once reaped */
	uid_t uid;    /* unprivileged account for both processes */
	gid_t gid;
	/* The broker's copy of privsep_config's unlink_*; unlink_dirfd -1 for none. */
	int unlink_dirfd;
	char unlink_name[NAME_MAX + 1];
	dev_t unlink_dev;
	ino_t unlink_ino;
};

/* Bits of the capability numbers the broker keeps. */
static const uint64_t broker_caps = (UINT64_C(1) << CAP_NET_RAW) | (UINT64_C(1) << CAP_NET_ADMIN);

/* Look name up: 0 with its ids, -ENOENT when there is no such user, or -errno. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;
	int err = 0;

	errno = 0;
	pw = getpwnam(name);
	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		err = errno ? -errno : -ENOENT;
	}
	endpwent();
	/* glibc reports a missing user as 0, ENOENT, ESRCH, EBADF or EPERM, by module. */
	if (err == -ESRCH || err == -EBADF || err == -EPERM)
		err = -ENOENT;
	return err;
}

/*
 * A user someone configured must exist. The default one may be missing on a machine set
 * up before it existed: then the shared nobody account, with a warning that says how to
 * make the right one, and the traditional 65534 where even nobody is missing.
 */
static int resolve_user(const struct privsep_config *cfg, uid_t *uid, gid_t *gid, bool warn)
{
	const char *name = cfg && cfg->user ? cfg->user : PRIVSEP_DEFAULT_USER;
	int err = lookup_user(name, uid, gid);

	if (err && cfg && cfg->user) {
		log_warnx("privsep: no such user \"%s\"", name);
		return err;
	}
	if (err && geteuid() != 0) {
		/* Not root: nobody's ids are never switched to; no need to alarm anyone. */
		name = PRIVSEP_FALLBACK_USER;
		if (lookup_user(name, uid, gid) < 0) {
			*uid = PRIVSEP_FALLBACK_UID;
			*gid = PRIVSEP_FALLBACK_GID;
		}
		return 0;
	}
	if (err && warn) {
		log_warnx("privsep: the engine's own user \"%s\" does not exist; running as "
			  "\"%s\", which other services share and which could signal the engine "
			  "(create it with: useradd --system --user-group --no-create-home "
			  "--shell /usr/sbin/nologin %s, or name one with --user)",
			  name, PRIVSEP_FALLBACK_USER, PRIVSEP_DEFAULT_USER);
	}
	if (err) {
		name = PRIVSEP_FALLBACK_USER;
		if (lookup_user(name, uid, gid) < 0) {
			*uid = PRIVSEP_FALLBACK_UID;
			*gid = PRIVSEP_FALLBACK_GID;
			return 0;
		}
	}
	if (*uid == 0 || *gid == 0) {
		log_warnx("privsep: user \"%s\" is privileged, refusing it", name);
		return -EINVAL;
	}
	return 0;
}

static bool cap_effective(cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return false;
	if (cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) != 0)
		v = CAP_CLEAR;
	cap_free(caps);
	return v == CAP_SET;
}

/* Drop from the bounding set every capability not in keep. Needs CAP_SETPCAP. */
static int drop_bounding(uint64_t keep)
{
	for (int cap = 0; cap < PRIVSEP_CAP_LIMIT; cap++) {
		int r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0UL, 0UL, 0UL);

		if (r < 0)
			break; /* EINVAL: past the last capability this kernel knows */
		if (r == 0 || (keep & (UINT64_C(1) << cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0UL, 0UL, 0UL) != 0)
			return -errno;
	}
	return 0;
}

static int clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) != 0 && errno != EINVAL)
		return -errno; /* EINVAL: a kernel without ambient capabilities */
	return 0;
}

/* Set permitted and effective to keep & (what is permitted now); inheritable empty. */
static int set_caps(uint64_t keep)
{
	cap_value_t list[PRIVSEP_CAP_LIMIT];
	int n = 0, err = 0;
	cap_t now = cap_get_proc();
	cap_t want = cap_init();

	if (!now || !want) {
		err = -ENOMEM;
		goto out;
	}
	for (int cap = 0; cap < PRIVSEP_CAP_LIMIT; cap++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!(keep & (UINT64_C(1) << cap)))
			continue;
		if (cap_get_flag(now, (cap_value_t)cap, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			list[n++] = (cap_value_t)cap;
	}
	if (n > 0 && (cap_set_flag(want, CAP_PERMITTED, n, list, CAP_SET) != 0 ||
		      cap_set_flag(want, CAP_EFFECTIVE, n, list, CAP_SET) != 0)) {
		err = -errno;
		goto out;
	}
	if (cap_set_proc(want) != 0)
		err = -errno;
out:
	cap_free(now);
	cap_free(want);
	return err;
}

static int switch_user(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0)
		return -errno;
	if (setresgid(gid, gid, gid) != 0)
		return -errno;
	if (setresuid(uid, uid, uid) != 0)
		return -errno;
	return 0;
}

static int deadline_left_ms(int64_t deadline_us)
{
	int64_t left = deadline_us - clock_now_us();

	return left < 0 ? 0 : (int)(left / PRIVSEP_US_PER_MS);
}

/*
 * Read one reply within PRIVSEP_REPLY_TIMEOUT_MS: with an fd when fd_out is not
 * NULL (the answer to a request), without one when it is (the ready message).
 * Returns the broker's 0/-errno, or -EPIPE/-ETIMEDOUT/-EPROTO.
 */
static int recv_reply(int sock, int *fd_out)
{
	struct privsep_reply rp;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = &rp, .iov_len = sizeof(rp)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	int64_t deadline;
	struct cmsghdr *c;
	int fd = -1;
	ssize_t n;

	deadline = clock_now_us() + (int64_t)PRIVSEP_REPLY_TIMEOUT_MS * PRIVSEP_US_PER_MS;
	for (;;) {
		int r = poll(&pfd, 1, deadline_left_ms(deadline));

		if (r > 0)
			break;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	if (n == 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n != sizeof(rp) ||
	    rp.magic != PRIVSEP_REPLY_MAGIC || rp.error > 0 ||
	    (fd_out ? (rp.error == 0) != (fd >= 0) : fd >= 0)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if (fd_out)
		*fd_out = fd;
	return rp.error;
}

/* ---- the broker ---- */

static bool broker_device_ok(const char *dev)
{
	static const char extra[] = "._@:-";
	size_t len = strnlen(dev, PRIVSEP_DEVICE_MAX + 1);

	if (len == 0 || len > PRIVSEP_DEVICE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = dev[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(extra, ch)))
			return false;
	}
	/* Bytes after the NUL must be zero too: one spelling per request. */
	for (size_t i = len; i < PRIVSEP_DEVICE_MAX + 1; i++) {
		if (dev[i] != '\0')
			return false;
	}
	return true;
}

static bool broker_check_kind(int family, int type, int protocol)
{
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (type == SOCK_DGRAM)
		return protocol == IPPROTO_UDP;
	if (type != SOCK_RAW)
		return false;
	switch (protocol) {
	case IPPROTO_RAW:
	case IPPROTO_ICMP:
		return family == AF_INET;
	case IPPROTO_ICMPV6:
		return family == AF_INET6;
	case IPPROTO_UDP:
	case IPPROTO_TCP:
		return true;
	default:
		return false;
	}
}

static bool broker_valid(const struct privsep_request *rq)
{
	if (rq->magic != PRIVSEP_REQUEST_MAGIC)
		return false;
	if (rq->pad[0] || rq->pad[1] || rq->pad[2])
		return false;
	if (rq->has_mark > 1 || (!rq->has_mark && rq->mark != 0))
		return false;
	if (!broker_check_kind(rq->family, rq->type, rq->protocol))
		return false;
	if (rq->device[0] != '\0' && !broker_device_ok(rq->device))
		return false;
	if (rq->device[0] == '\0') {
		for (size_t i = 1; i < sizeof(rq->device); i++) {
			if (rq->device[i] != '\0')
				return false;
		}
	}
	return true;
}

static int broker_make(const struct privsep_request *rq, int *fd_out)
{
	int one = 1, err;
	int fd = socket(rq->family, rq->type | SOCK_CLOEXEC, rq->protocol);

	if (fd < 0)
		return -errno;
	if (rq->protocol == IPPROTO_RAW &&
	    setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) != 0)
		goto fail;
	if (rq->has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &rq->mark, sizeof(rq->mark)) != 0)
		goto fail;
	if (rq->device[0] != '\0' &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, rq->device, strlen(rq->device) + 1) != 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* Returns -errno from sendmsg; the fd (if any) stays the caller's to close. */
static int broker_send(int sock, int error, int fd)
{
	struct privsep_reply rp = {.magic = PRIVSEP_REPLY_MAGIC, .error = error};
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = &rp, .iov_len = sizeof(rp)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Fallback for kernels without close_range(): close what /proc lists. */
static int close_from_proc(int first)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end == '\0' && e->d_name[0] != '\0' && fd >= first && fd != dirfd(d))
			close((int)fd);
	}
	closedir(d);
	return 0;
}

/*
 * Leave the broker with stdin/stdout on /dev/null, stderr as it was (logs),
 * its socket on PRIVSEP_BROKER_FD and nothing else: above all not the engine's
 * command pipe, whose reader must see EOF when the engine goes.
 */
static int broker_fds(int sock, int engine_end, int unlink_dirfd)
{
	int s = fcntl(sock, F_DUPFD, PRIVSEP_SCRATCH_FD);
	int d = unlink_dirfd >= 0 ? fcntl(unlink_dirfd, F_DUPFD, PRIVSEP_SCRATCH_FD) : -1;
	int null = open("/dev/null", O_RDWR);
	int keep = PRIVSEP_BROKER_FD;

	if (s < 0 || null < 0 || (unlink_dirfd >= 0 && d < 0))
		return -errno;
	if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		return -errno;
	/* stderr may be missing, or be the socketpair when fd 2 was free. */
	if ((fcntl(STDERR_FILENO, F_GETFD) < 0 || STDERR_FILENO == sock ||
	     STDERR_FILENO == engine_end) &&
	    dup2(null, STDERR_FILENO) < 0)
		return -errno;
	if (dup2(s, PRIVSEP_BROKER_FD) < 0)
		return -errno;
	if (d >= 0) {
		if (dup2(d, PRIVSEP_UNLINK_FD) < 0)
			return -errno;
		keep = PRIVSEP_UNLINK_FD;
	}
	if (close_range((unsigned)keep + 1, ~0U, 0) != 0)
		return close_from_proc(keep + 1);
	return 0;
}

static void broker_on_term(int sig)
{
	(void)sig; /* only to end ppoll(): broker_wait() then sees whether to leave */
}

/*
 * The broker inherits the engine's handlers and mask; it wants neither. SIGTERM (the
 * parent-death signal, and what systemd sends the whole unit) only interrupts it: it
 * leaves, after its clean-up, when the engine is gone (EOF, or a new parent).
 */
static void broker_signals(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL/SIGSTOP */
	sa.sa_handler = broker_on_term;
	sigaction(SIGTERM, &sa, NULL);
	/* Blocked but while it waits (broker_wait), so that none goes unnoticed. */
	sigemptyset(&all);
	sigaddset(&all, SIGTERM);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/*
 * Wait for a request. SIGTERM is let through only inside ppoll(), atomically, so one
 * that came at any other time is pending and ends the wait at once: then, if the
 * engine is gone (a new parent), the broker leaves, whether or not EOF ever comes (a
 * forked copy of the engine may still hold its end). Returns 1 readable, 0 leave.
 */
static int broker_wait(int sock, pid_t engine)
{
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	sigset_t open;

	sigemptyset(&open);
	for (;;) {
		if (getppid() != engine)
			return 0;
		if (ppoll(&pfd, 1, NULL, &open) > 0)
			return 1;
		if (errno != EINTR)
			return 0;
	}
}

/*
 * Become the unprivileged user with CAP_NET_RAW and CAP_NET_ADMIN only.
 * The bounding set goes first, while CAP_SETPCAP is still effective;
 * PR_SET_KEEPCAPS keeps the permitted set across setresuid (which would
 * otherwise empty it), and cap_set_proc then trims it to the two we keep.
 */
static int broker_drop(uid_t uid, gid_t gid, uint64_t keep)
{
	int err;

	if (geteuid() == 0 || cap_effective(CAP_SETPCAP)) {
		err = drop_bounding(keep);
		if (err)
			return err;
	}
	if (geteuid() == 0) {
		if (prctl(PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL) != 0)
			return -errno;
		err = switch_user(uid, gid);
		if (err)
			return err;
		if (prctl(PR_SET_KEEPCAPS, 0UL, 0UL, 0UL, 0UL) != 0)
			return -errno;
	}
	err = set_caps(keep);
	if (!err)
		err = clear_ambient();
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0)
		err = -errno;
	/* Not dumpable: nobody else running as uid may ptrace or read its fds. */
	if (!err && prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) != 0)
		err = -errno;
	return err;
}

static void broker_serve(int sock, pid_t engine)
{
	struct privsep_request rq;
	unsigned char buf[sizeof(rq) + 1]; /* one extra byte shows an over-long record */

	while (broker_wait(sock, engine)) {
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		int fd = -1, err;

		if (n == 0)
			return; /* the engine closed its end */
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			log_warn("privsep broker: recv");
			return;
		}
		if ((size_t)n == sizeof(rq)) {
			memcpy(&rq, buf, sizeof(rq));
			err = broker_valid(&rq) ? broker_make(&rq, &fd) : -EINVAL;
		} else {
			err = -EINVAL;
		}
		if (err == -EINVAL)
			log_debug("privsep broker: refused a request");
		err = broker_send(sock, err, fd);
		if (fd >= 0)
			close(fd);
		if (err == -EPIPE || err == -ECONNRESET)
			return;
		if (err)
			log_warnx("privsep broker: send: %s", strerror(-err));
	}
}

/*
 * The engine is gone: remove its socket file, if what has the name is still that
 * socket (a new engine may have bound the path since). The check and the unlink are
 * not atomic; the window is the time between two system calls.
 */
static void broker_unlink(const struct privsep *ps)
{
	struct stat st;

	if (ps->unlink_dirfd < 0)
		return;
	if (fstatat(PRIVSEP_UNLINK_FD, ps->unlink_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISSOCK(st.st_mode) || st.st_dev != ps->unlink_dev || st.st_ino != ps->unlink_ino)
		return;
	if (unlinkat(PRIVSEP_UNLINK_FD, ps->unlink_name, 0) != 0)
		log_warn("privsep broker: cannot remove the socket %s", ps->unlink_name);
}

static _Noreturn void broker_main(int sock, int engine_end, struct privsep *engine_ps, pid_t engine)
{
	/* The engine's object, copied and freed: the broker owns no heap it never frees. */
	const struct privsep mine = *engine_ps, *ps = &mine;
	/* CAP_DAC_OVERRIDE only to remove the socket from a directory the user cannot write. */
	uint64_t keep = broker_caps | (ps->unlink_dirfd >= 0 ? UINT64_C(1) << CAP_DAC_OVERRIDE : 0);
	int err;

	free(engine_ps);

	broker_signals();
	err = broker_fds(sock, engine_end, ps->unlink_dirfd);
	if (err) {
		log_warnx("privsep broker: fds: %s", strerror(-err));
		_exit(EXIT_FAILURE);
	}
	sock = PRIVSEP_BROKER_FD;
	err = broker_drop(ps->uid, ps->gid, keep);
	/*
	 * After the drop: the kernel clears the parent-death signal on every
	 * credential change. Then check the engine did not die before it was set.
	 */
	if (!err && prctl(PR_SET_PDEATHSIG, (unsigned long)SIGTERM, 0UL, 0UL, 0UL) != 0)
		err = -errno;
	if (!err && getppid() != engine)
		_exit(EXIT_SUCCESS);
	/*
	 * Last, the system call filter: after the drop, because the drop itself needs
	 * setresuid, capset and prctl, which the filter forbids; before the ready message,
	 * so that the engine never sends a request to an unconfined broker.
	 */
	if (!err)
		err = sandbox_install(SANDBOX_BROKER,
				      ps->unlink_dirfd >= 0 ? PRIVSEP_UNLINK_FD : -1);
	/* The first reply tells privsep_new() whether the broker is ready. */
	if (broker_send(sock, err, -1) != 0 || err)
		_exit(EXIT_FAILURE);
	broker_serve(sock, engine);
	broker_unlink(ps);
	_exit(EXIT_SUCCESS);
}

/* ---- public ---- */

static void reap(pid_t pid)
{
	int waited = 0;

	for (;;) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return; /* done, or not our child (a forked copy of the engine) */
		if (r == 0 && waited >= PRIVSEP_REAP_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return;
		}
		if (r == 0) {
			struct timespec step = {0, PRIVSEP_REAP_STEP_MS * PRIVSEP_NS_PER_MS};

			nanosleep(&step, NULL);
			waited += PRIVSEP_REAP_STEP_MS;
		}
	}
}

int privsep_new(struct privsep **out, const struct privsep_config *cfg)
{
	struct privsep *ps;
	int sv[2], err;
	pid_t engine = getpid();

	if (!out)
		return -EINVAL;
	*out = NULL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	err = resolve_user(cfg, &ps->uid, &ps->gid, true);
	if (err) {
		free(ps);
		return err;
	}
	ps->unlink_dirfd = -1;
	if (cfg && cfg->unlink_name) {
		if (strlen(cfg->unlink_name) >= sizeof(ps->unlink_name) || cfg->unlink_dirfd < 0) {
			free(ps);
			return -EINVAL;
		}
		strcpy(ps->unlink_name, cfg->unlink_name);
		ps->unlink_dirfd = cfg->unlink_dirfd;
		ps->unlink_dev = cfg->unlink_dev;
		ps->unlink_ino = cfg->unlink_ino;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		err = -errno;
		free(ps);
		return err;
	}
	ps->broker = fork();
	if (ps->broker < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		free(ps);
		return err;
	}
	if (ps->broker == 0)
		broker_main(sv[1], sv[0], ps, engine);
	close(sv[1]);
	ps->sock = sv[0];
	err = recv_reply(ps->sock, NULL);
	if (err) {
		log_warnx("privsep: broker failed to start: %s", strerror(-err));
		privsep_free(ps);
		return err;
	}
	*out = ps;
	return 0;
}

/*
 * The order matters. The bounding set first, while CAP_SETPCAP is still ours
 * (setresuid away from root empties the permitted set, and with it SETPCAP).
 * Groups before gid and gid before uid, because each needs CAP_SETGID, which
 * setresuid takes away. Then clear what capabilities remain (a non-root process
 * started with file capabilities keeps them across nothing above) and the
 * ambient set, and only then no_new_privs, so no later execve can add any back.
 * Finally check the result rather than trust it.
 */
int privsep_drop(const struct privsep *ps)
{
	bool root = geteuid() == 0;
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;
	cap_t now, empty;
	int err, same;

	if (ps) {
		uid = ps->uid;
		gid = ps->gid;
	} else {
		err = resolve_user(NULL, &uid, &gid, true);
		if (err)
			return err;
	}
	if (root || cap_effective(CAP_SETPCAP)) {
		err = drop_bounding(0);
		if (err) {
			log_warnx("privsep: bounding set: %s", strerror(-err));
			return err;
		}
	} else {
		/* Cannot shrink it; no_new_privs below makes it irrelevant. */
		log_debug("privsep: no CAP_SETPCAP, bounding set left as is");
	}
	if (root) {
		err = switch_user(uid, gid);
		if (err) {
			log_warnx("privsep: switching to uid %u: %s", (unsigned)uid,
				  strerror(-err));
			return err;
		}
	}
	err = set_caps(0);
	if (!err)
		err = clear_ambient();
	if (err) {
		log_warnx("privsep: clearing capabilities: %s", strerror(-err));
		return err;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
		err = -errno;
		log_warn("privsep: PR_SET_NO_NEW_PRIVS");
		return err;
	}

	/* Verify. setuid(0) must fail for everyone now, root at start or not. */
	if (setuid(0) == 0) {
		log_warnx("privsep: setuid(0) still succeeds after the drop");
		return -EPERM;
	}
	if (root && (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
		     ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
		     sgid != gid || getgroups(0, NULL) != 0)) {
		log_warnx("privsep: ids not what was set after the drop");
		return -EPERM;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0UL, 0UL, 0UL, 0UL) != 1) {
		log_warnx("privsep: no_new_privs not set after the drop");
		return -EPERM;
	}
	now = cap_get_proc();
	empty = cap_init();
	same = now && empty ? cap_compare(now, empty) : -1;
	cap_free(now);
	cap_free(empty);
	if (same != 0) {
		log_warnx("privsep: capabilities left after the drop");
		return -EPERM;
	}
	return 0;
}

int privsep_socket(struct privsep *ps, int family, int type, int protocol, bool has_mark,
		   uint32_t mark, const char *device, int *fd_out)
{
	struct privsep_request rq;
	ssize_t n;

	if (!ps || !fd_out || ps->sock < 0)
		return -EINVAL;
	*fd_out = -1;
	/* Only what cannot be encoded is refused here; the broker judges the rest. */
	memset(&rq, 0, sizeof(rq));
	rq.magic = PRIVSEP_REQUEST_MAGIC;
	rq.family = family;
	rq.type = type;
	rq.protocol = protocol;
	rq.has_mark = has_mark ? 1 : 0;
	rq.mark = has_mark ? mark : 0;
	if (device) {
		size_t len = strnlen(device, PRIVSEP_DEVICE_MAX + 1);

		if (len == 0 || len > PRIVSEP_DEVICE_MAX)
			return -EINVAL;
		memcpy(rq.device, device, len);
	}
	do {
		n = send(ps->sock, &rq, sizeof(rq), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	if ((size_t)n != sizeof(rq))
		return -EPROTO;
	return recv_reply(ps->sock, fd_out);
}

struct privsep *privsep_free(struct privsep *ps)
{
	if (!ps)
		return NULL;
	if (ps->sock >= 0)
		close(ps->sock);
	if (ps->broker > 0)
		reap(ps->broker);
	free(ps);
	return NULL;
}

int privsep_lookup_user(const struct privsep_config *cfg, uid_t *uid, gid_t *gid)
{
	return resolve_user(cfg, uid, gid, false);
}

bool privsep_have_net_raw(void)
{
	return cap_effective(CAP_NET_RAW);
}

int privsep_user(const struct privsep *ps, uid_t *uid, gid_t *gid)
{
	if (!ps)
		return -EINVAL;
	*uid = ps->uid;
	*gid = ps->gid;
	return 0;
}

pid_t privsep_broker_pid(const struct privsep *ps)
{
	return ps ? ps->broker : -1;
}
