/*
 * comm: preloaded into each program tests/valgrind/integration.sh runs under memcheck.
 * The kernel names a process after the file it executed, which under valgrind is the
 * tool (memcheck-amd64-linux), so tests that find "hopwatchd" by name, in ps or in
 * /proc/PID/status, would find nothing: this gives the process its own name back.
 */
#include <errno.h>
#include <sys/prctl.h>

void comm_restore(void) __attribute__((constructor));

void comm_restore(void)
{
	prctl(PR_SET_NAME, program_invocation_short_name, 0, 0, 0);
}
