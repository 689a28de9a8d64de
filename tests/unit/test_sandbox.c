/*
 * test_sandbox: the system call filters, from the outside. Each case forks a child that
 * installs one role's filter and then makes calls: those the role needs must work, one
 * outside its list must kill the child with SIGSYS (an exit status means the filter let
 * it through). Skipped in a build without libseccomp, where the sandbox is a no-op.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Exit codes of the children: the filter failed to install, a needed call failed, or
 * the forbidden call returned. */
#define CHILD_NO_FILTER	 10
#define CHILD_NEEDED_BAD 11
#define CHILD_SURVIVED	 12
#define TEST_TTL	 7

/* Run fn in a child and return its raw wait status. */
static int in_child(void (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_sigsys(int status)
{
	if (WIFEXITED(status))
		fail_msg("child exited with %d instead of dying by SIGSYS", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void expect_clean_exit(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Called first in a test body: cmocka counts a skip() in a setup function as an error. */
static void skip_without_seccomp(void)
{
	/* Not in the no-op build, nor under valgrind (sandbox_available says which). */
	if (!sandbox_available())
		skip();
}

/* The engine's own kind of work: a pipe round trip, poll, a UDP socket with a TTL. */
static void engine_work(void)
{
	int p[2], ttl = TEST_TTL, fd;
	char c = 'x';
	struct pollfd pfd;

	if (pipe2(p, O_CLOEXEC) < 0)
		_exit(CHILD_NEEDED_BAD);
	if (sandbox_install(SANDBOX_ENGINE, -1) != 0)
		_exit(CHILD_NO_FILTER);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (write(p[1], &c, 1) != 1 || poll(&pfd, 1, 0) != 1 || read(p[0], &c, 1) != 1)
		_exit(CHILD_NEEDED_BAD);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0)
		_exit(CHILD_NEEDED_BAD);
	close(fd);
}

static void engine_execs(void)
{
	char *const argv[] = {(char *)"true", NULL};

	if (sandbox_install(SANDBOX_ENGINE, -1) != 0)
		_exit(CHILD_NO_FILTER);
	/* The call a code-execution exploit wants first; the raw syscall, no libc retry. */
	syscall(SYS_execve, "/bin/true", argv, NULL);
	_exit(CHILD_SURVIVED);
}

/* The broker's whole job: make and configure a socket, close its copy. */
static void broker_work(void)
{
	int fd, ttl = TEST_TTL;

	if (sandbox_install(SANDBOX_BROKER, -1) != 0)
		_exit(CHILD_NO_FILTER);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0)
		_exit(CHILD_NEEDED_BAD);
	close(fd);
}

/* connect() is the engine's, not the broker's: the broker never talks to anyone. */
static void broker_connects(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0)
		_exit(CHILD_NEEDED_BAD);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sandbox_install(SANDBOX_BROKER, -1) != 0)
		_exit(CHILD_NO_FILTER);
	syscall(SYS_connect, fd, &sin, sizeof(sin));
	_exit(CHILD_SURVIVED);
}

static void test_engine_allows_its_work(void **state)
{
	(void)state;
	skip_without_seccomp();
	expect_clean_exit(in_child(engine_work));
}

static void test_engine_exec_is_fatal(void **state)
{
	(void)state;
	skip_without_seccomp();
	expect_sigsys(in_child(engine_execs));
}

static void test_broker_allows_its_work(void **state)
{
	(void)state;
	skip_without_seccomp();
	expect_clean_exit(in_child(broker_work));
}

static void test_broker_connect_is_fatal(void **state)
{
	(void)state;
	skip_without_seccomp();
	expect_sigsys(in_child(broker_connects));
}

static void test_unknown_role(void **state)
{
	(void)state;
	assert_int_equal(sandbox_install((enum sandbox_role)99, -1),
			 sandbox_available() || sandbox_under_valgrind() ? -EINVAL : 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_allows_its_work),
		cmocka_unit_test(test_engine_exec_is_fatal),
		cmocka_unit_test(test_broker_allows_its_work),
		cmocka_unit_test(test_broker_connect_is_fatal),
		cmocka_unit_test(test_unknown_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
