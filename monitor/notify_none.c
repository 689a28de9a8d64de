/* notify: built without libsystemd: there is no service manager to tell. */
#include "monitor/notify.h"

void notify_ready(const char *status)
{
	(void)status;
}

void notify_status(const char *status)
{
	(void)status;
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}

uint64_t notify_watchdog_usec(void)
{
	return 0;
}

void notify_watchdog(void)
{
}
