/*
 * test_privsep: the broker and the drop, checked from the outside through
 * /proc/PID/status and through what the kernel then allows or refuses.
 * Privileged cases are skipped unless run as root. Sockets are only created,
 * never used to send anything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/privsep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define STATUS_LINE_MAX	  256
#define CAP_NET_ADMIN_BIT 12
#define CAP_NET_RAW_BIT	  13
#define BROKER_CAPS	  ((UINT64_C(1) << CAP_NET_ADMIN_BIT) | (UINT64_C(1) << CAP_NET_RAW_BIT))
#define TEST_MARK	  42
/* privsep_free() must not need its SIGKILL fallback: the broker leaves on EOF. */
#define FREE_FAST_MS  1000
#define WAIT_STEP_MS  10
#define WAIT_LIMIT_MS 5000
#define NS_PER_MS     1000000L
#define MS_PER_S      1000

/* Inside forked children cmocka cannot report; print and exit non-zero instead. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__,     \
				#cond);                                                            \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static bool is_root(void)
{
	return geteuid() == 0;
}

/* Copies the value of "key:" from /proc/<pid>/status into val; false if absent. */
static bool status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[STATUS_LINE_MAX];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			const char *v = line + klen + 1;

			v += strspn(v, " \t");
			snprintf(val, len, "%.*s", (int)strcspn(v, "\n"), v);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool status_hex(pid_t pid, const char *key, uint64_t *out)
{
	char val[STATUS_LINE_MAX], *end;

	if (!status_field(pid, key, val, sizeof(val)))
		return false;
	errno = 0;
	*out = strtoull(val, &end, 16);
	return errno == 0 && end != val && *end == '\0';
}

static bool status_long(pid_t pid, const char *key, long *out)
{
	char val[STATUS_LINE_MAX], *end;

	if (!status_field(pid, key, val, sizeof(val)))
		return false;
	errno = 0;
	*out = strtol(val, &end, 10);
	return errno == 0 && end != val && *end == '\0';
}

/* All four ids of the "Uid:" or "Gid:" line non-zero and equal. */
static bool status_ids_unprivileged(pid_t pid, const char *key)
{
	char val[STATUS_LINE_MAX];
	unsigned long ids[4];

	if (!status_field(pid, key, val, sizeof(val)))
		return false;
	if (sscanf(val, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		return false;
	for (int i = 0; i < 4; i++) {
		if (ids[i] == 0 || ids[i] != ids[0])
			return false;
	}
	return true;
}

static int wait_exit_code(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * MS_PER_S + (now.tv_nsec - since->tv_nsec) / NS_PER_MS;
}

static void sleep_step(void)
{
	struct timespec step = {0, WAIT_STEP_MS * NS_PER_MS};

	nanosleep(&step, NULL);
}

static void test_api_edges(void **state)
{
	struct privsep *ps = NULL;
	struct privsep_config bad_user = {.user = "hopwatch-no-such-user"};
	struct privsep_config root_user = {.user = "root"};
	int fd = -1;

	assert_null(privsep_free(NULL));
	assert_int_equal(privsep_broker_pid(NULL), -1);
	assert_int_equal(privsep_new(NULL, NULL), -EINVAL);
	assert_int_equal(
		privsep_socket(NULL, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, NULL, &fd),
		-EINVAL);
	/* A configured user must exist and must not be root; no fallback for those. */
	assert_int_equal(privsep_new(&ps, &bad_user), -ENOENT);
	assert_null(ps);
	assert_int_equal(privsep_new(&ps, &root_user), -EINVAL);
	assert_null(ps);
}

/* The broker works for anyone; requests it may answer without privilege succeed. */
static void test_broker_basic(void **state)
{
	struct privsep *ps = NULL;
	struct timespec t0;
	int fd = -1, type = 0;
	socklen_t len = sizeof(type);
	pid_t broker;

	assert_int_equal(privsep_new(&ps, NULL), 0);
	assert_non_null(ps);
	broker = privsep_broker_pid(ps);
	assert_true(broker > 0);
	assert_int_equal(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, NULL, &fd),
			 0);
	assert_true(fd >= 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(type, SOCK_DGRAM);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* Over-long device names cannot even be encoded. */
	fd = -1;
	assert_int_equal(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0,
					"abcdefghijklmnop", &fd),
			 -EINVAL);
	assert_int_equal(fd, -1);
	assert_int_equal(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, "", &fd),
			 -EINVAL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(privsep_free(ps));
	assert_true(elapsed_ms(&t0) < FREE_FAST_MS);
	assert_int_equal(kill(broker, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* The broker refuses, with -EINVAL and without dying, everything outside its list. */
static void test_broker_validation(void **state)
{
	static const struct {
		int family, type, protocol;
		const char *device;
	} bad[] = {
		{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "a/b"},
		{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "lo 0"},
		{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "lo\n"},
		{99, SOCK_DGRAM, IPPROTO_UDP, NULL},
		{AF_UNIX, SOCK_DGRAM, 0, NULL},
		{AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL},
		{AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP, NULL},
		{AF_INET, SOCK_DGRAM, IPPROTO_TCP, NULL},
		{AF_INET, SOCK_DGRAM, IPPROTO_ICMP, NULL},
		{AF_INET6, SOCK_RAW, IPPROTO_RAW, NULL},
		{AF_INET6, SOCK_RAW, IPPROTO_ICMP, NULL},
		{AF_INET, SOCK_RAW, IPPROTO_ICMPV6, NULL},
		{AF_INET, SOCK_RAW, IPPROTO_SCTP, NULL},
	};
	struct privsep *ps = NULL;
	pid_t broker;
	int fd;

	assert_int_equal(privsep_new(&ps, NULL), 0);
	broker = privsep_broker_pid(ps);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = -1;
		assert_int_equal(privsep_socket(ps, bad[i].family, bad[i].type, bad[i].protocol,
						false, 0, bad[i].device, &fd),
				 -EINVAL);
		assert_int_equal(fd, -1);
		assert_int_equal(kill(broker, 0), 0);
	}
	/* Still serving. */
	assert_int_equal(privsep_socket(ps, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, false, 0, NULL, &fd),
			 0);
	assert_true(fd >= 0);
	close(fd);
	privsep_free(ps);
}

static void test_broker_gone(void **state)
{
	struct privsep *ps = NULL;
	pid_t broker;
	int fd = -1;

	assert_int_equal(privsep_new(&ps, NULL), 0);
	broker = privsep_broker_pid(ps);
	assert_int_equal(kill(broker, SIGKILL), 0);
	assert_int_equal(waitpid(broker, NULL, 0), broker);
	assert_int_equal(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, NULL, &fd),
			 -EPIPE);
	assert_int_equal(fd, -1);
	privsep_free(ps); /* the broker is already reaped: must not hang or crash */
}

/* An ordinary user: the drop leaves nothing, the broker can make nothing raw. */
static void unprivileged_child(void)
{
	struct privsep *ps = NULL;
	uint64_t v;
	long nnp;
	int fd = -1;

	if (is_root())
		CHECK(privsep_drop(NULL) == 0);
	CHECK(geteuid() != 0);
	CHECK(!privsep_have_net_raw());
	CHECK(privsep_new(&ps, NULL) == 0);
	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_ICMP, false, 0, NULL, &fd) == -EPERM);
	CHECK(fd == -1);
	CHECK(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, true, TEST_MARK, NULL, &fd) ==
	      -EPERM);
	CHECK(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, NULL, &fd) == 0);
	CHECK(fd >= 0);
	close(fd);
	CHECK(status_hex(privsep_broker_pid(ps), "CapEff", &v) && v == 0);
	CHECK(status_long(privsep_broker_pid(ps), "NoNewPrivs", &nnp) && nnp == 1);
	/* privsep_drop without privileges still succeeds and sets no_new_privs. */
	CHECK(privsep_drop(ps) == 0);
	CHECK(status_long(0, "NoNewPrivs", &nnp) && nnp == 1);
	CHECK(status_hex(0, "CapEff", &v) && v == 0);
	privsep_free(ps);
	_exit(0);
}

static void test_unprivileged(void **state)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		unprivileged_child();
	assert_int_equal(wait_exit_code(pid), 0);
}

/* The engine side after privsep_drop(), in a forked child. */
static void engine_child(struct privsep *ps)
{
	static const char *const keys[] = {"CapPrm", "CapEff", "CapInh", "CapBnd", "CapAmb"};
	char dev[PRIVSEP_DEVICE_MAX + 1];
	socklen_t len;
	uint64_t v;
	uint32_t mark;
	long nnp;
	int raw, fd = -1, opt, type;

	CHECK(privsep_have_net_raw());
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	CHECK(raw >= 0);

	CHECK(privsep_drop(ps) == 0);

	CHECK(status_ids_unprivileged(0, "Uid"));
	CHECK(status_ids_unprivileged(0, "Gid"));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK(status_hex(0, keys[i], &v) && v == 0);
	CHECK(status_long(0, "NoNewPrivs", &nnp) && nnp == 1);
	CHECK(!privsep_have_net_raw());
	CHECK(setuid(0) == -1 && errno == EPERM);
	CHECK(getgroups(0, NULL) == 0);

	/* The socket opened before the drop still works; a new one is refused. */
	len = sizeof(type);
	CHECK(getsockopt(raw, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_RAW);
	CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 && errno == EPERM);
	close(raw);

	/* mark: configured by the broker, read back here. */
	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_ICMP, true, TEST_MARK, NULL, &fd) == 0);
	mark = 0;
	len = sizeof(mark);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == TEST_MARK);
	len = sizeof(type);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_RAW);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* local-device */
	CHECK(privsep_socket(ps, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, false, 0, "lo", &fd) == 0);
	memset(dev, 0, sizeof(dev));
	len = sizeof(dev);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len) == 0);
	CHECK(strcmp(dev, "lo") == 0);
	mark = 1;
	len = sizeof(mark);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == 0);
	close(fd);

	/* IPPROTO_RAW comes with IP_HDRINCL; both together with mark and device. */
	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_RAW, true, TEST_MARK, "lo", &fd) == 0);
	opt = 0;
	len = sizeof(opt);
	CHECK(getsockopt(fd, IPPROTO_IP, IP_HDRINCL, &opt, &len) == 0 && opt == 1);
	len = sizeof(mark);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == TEST_MARK);
	close(fd);

	/* A device that does not exist: the kernel's error comes back. */
	CHECK(privsep_socket(ps, AF_INET, SOCK_DGRAM, IPPROTO_UDP, false, 0, "hwnodev0", &fd) ==
	      -ENODEV);

	/* Bad requests, then a good one. */
	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_ICMP, false, 0, "a/b", &fd) == -EINVAL);
	CHECK(privsep_socket(ps, 99, SOCK_RAW, IPPROTO_ICMP, false, 0, NULL, &fd) == -EINVAL);
	CHECK(privsep_socket(ps, AF_INET, SOCK_STREAM, IPPROTO_TCP, false, 0, NULL, &fd) ==
	      -EINVAL);
	CHECK(fd == -1);
	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_UDP, true, TEST_MARK, NULL, &fd) == 0);
	CHECK(fd >= 0);
	close(fd);
	_exit(0);
}

static int count_fds(pid_t pid, bool *only_low)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	*only_low = true;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		if (atoi(e->d_name) > 3)
			*only_low = false;
	}
	closedir(d);
	return n;
}

static void test_root_drop_and_broker(void **state)
{
	struct privsep *ps = NULL;
	struct timespec t0;
	uint64_t v;
	long nnp;
	bool only_low = false;
	int cmd[2], fds;
	char c, target[64], path[64];
	ssize_t n;
	pid_t broker, child;

	if (!is_root())
		skip();
	/* Stands for the engine's command pipe: the broker must not hold it. */
	assert_int_equal(pipe(cmd), 0);

	assert_int_equal(privsep_new(&ps, NULL), 0);
	broker = privsep_broker_pid(ps);
	assert_true(broker > 0);

	assert_true(status_hex(broker, "CapEff", &v));
	assert_int_equal(v, BROKER_CAPS);
	assert_true(status_hex(broker, "CapPrm", &v));
	assert_int_equal(v, BROKER_CAPS);
	assert_true(status_hex(broker, "CapBnd", &v));
	assert_int_equal(v, BROKER_CAPS);
	assert_true(status_hex(broker, "CapInh", &v));
	assert_int_equal(v, 0);
	assert_true(status_hex(broker, "CapAmb", &v));
	assert_int_equal(v, 0);
	assert_true(status_long(broker, "NoNewPrivs", &nnp));
	assert_int_equal(nnp, 1);
	assert_true(status_ids_unprivileged(broker, "Uid"));
	assert_true(status_ids_unprivileged(broker, "Gid"));

	/* stdin, stdout, stderr and its socket: nothing else (valgrind adds its own). */
	fds = count_fds(broker, &only_low);
	if (!getenv("HOPWATCH_VALGRIND")) {
		assert_int_equal(fds, 4);
		assert_true(only_low);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)broker);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/dev/null");
	close(cmd[1]);
	assert_int_equal(read(cmd[0], &c, 1), 0); /* EOF: no writer left in the broker */
	close(cmd[0]);

	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		engine_child(ps);
	assert_int_equal(wait_exit_code(child), 0);

	/* The child's drop did not touch us or the broker. */
	assert_true(privsep_have_net_raw());
	assert_true(status_hex(broker, "CapEff", &v));
	assert_int_equal(v, BROKER_CAPS);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(privsep_free(ps));
	assert_true(elapsed_ms(&t0) < FREE_FAST_MS);
	assert_int_equal(kill(broker, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/*
 * Like a non-root hopwatchd with file capabilities (setcap cap_net_raw,
 * cap_net_admin+ep): built here by hand, since tests may use libcap. The broker
 * keeps the two capabilities without any uid change; the drop clears them all,
 * ambient and inheritable included.
 */
static void filecaps_child(void)
{
	static const char *const keys[] = {"CapPrm", "CapEff", "CapInh", "CapAmb"};
	cap_value_t two[] = {CAP_NET_RAW, CAP_NET_ADMIN};
	struct privsep *ps = NULL;
	socklen_t len;
	uint32_t mark = 0;
	uint64_t v;
	long nnp;
	int fd = -1;
	cap_t caps;

	CHECK(prctl(PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL) == 0);
	CHECK(setresgid(65534, 65534, 65534) == 0);
	CHECK(setresuid(65534, 65534, 65534) == 0);
	caps = cap_init();
	CHECK(caps);
	CHECK(cap_set_flag(caps, CAP_PERMITTED, 2, two, CAP_SET) == 0);
	CHECK(cap_set_flag(caps, CAP_EFFECTIVE, 2, two, CAP_SET) == 0);
	CHECK(cap_set_flag(caps, CAP_INHERITABLE, 1, two, CAP_SET) == 0);
	CHECK(cap_set_proc(caps) == 0);
	cap_free(caps);
	CHECK(cap_set_ambient(CAP_NET_RAW, CAP_SET) == 0);
	CHECK(status_hex(0, "CapAmb", &v) && v == (UINT64_C(1) << CAP_NET_RAW_BIT));
	CHECK(privsep_have_net_raw());

	CHECK(privsep_new(&ps, NULL) == 0);
	CHECK(status_hex(privsep_broker_pid(ps), "CapEff", &v) && v == BROKER_CAPS);
	CHECK(status_hex(privsep_broker_pid(ps), "CapInh", &v) && v == 0);
	CHECK(status_hex(privsep_broker_pid(ps), "CapAmb", &v) && v == 0);
	CHECK(status_long(privsep_broker_pid(ps), "NoNewPrivs", &nnp) && nnp == 1);

	CHECK(privsep_drop(ps) == 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK(status_hex(0, keys[i], &v) && v == 0);
	CHECK(status_long(0, "NoNewPrivs", &nnp) && nnp == 1);
	CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 && errno == EPERM);

	CHECK(privsep_socket(ps, AF_INET, SOCK_RAW, IPPROTO_ICMP, true, TEST_MARK, NULL, &fd) == 0);
	len = sizeof(mark);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == TEST_MARK);
	close(fd);
	privsep_free(ps);
	_exit(0);
}

static void test_filecaps_drop(void **state)
{
	pid_t pid;

	if (!is_root())
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		filecaps_child();
	assert_int_equal(wait_exit_code(pid), 0);
}

/*
 * The broker goes when its parent dies even while someone else (here a
 * grandchild) still holds the engine's end of the socketpair.
 */
static void test_broker_parent_death(void **state)
{
	struct timespec t0;
	pid_t ids[2] = {-1, -1}; /* broker, holder */
	int p[2], st = 0;
	pid_t a, r = 0;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
	assert_int_equal(pipe(p), 0);
	a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		struct privsep *ps = NULL;

		close(p[0]);
		CHECK(privsep_new(&ps, NULL) == 0);
		ids[0] = privsep_broker_pid(ps);
		ids[1] = fork();
		CHECK(ids[1] >= 0);
		if (ids[1] == 0) {
			for (;;)
				pause(); /* keeps ps->sock open */
		}
		CHECK(write(p[1], ids, sizeof(ids)) == (ssize_t)sizeof(ids));
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], ids, sizeof(ids)), (ssize_t)sizeof(ids));
	close(p[0]);
	assert_int_equal(wait_exit_code(a), 0);
	assert_true(ids[0] > 0 && ids[1] > 0);

	/* We are the subreaper, so the orphaned broker is ours to reap. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed_ms(&t0) < WAIT_LIMIT_MS) {
		r = waitpid(ids[0], &st, WNOHANG);
		if (r != 0)
			break;
		sleep_step();
	}
	kill(ids[1], SIGKILL);
	waitpid(ids[1], NULL, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 0UL, 0UL, 0UL, 0UL);
	assert_int_equal(r, ids[0]);
	/* The parent-death SIGTERM makes it leave by itself, after its clean-up. */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_broker_basic),
		cmocka_unit_test(test_broker_validation),
		cmocka_unit_test(test_broker_gone),
		cmocka_unit_test(test_unprivileged),
		cmocka_unit_test(test_root_drop_and_broker),
		cmocka_unit_test(test_filecaps_drop),
		cmocka_unit_test(test_broker_parent_death),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
