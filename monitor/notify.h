/*
 * notify: telling the service manager how the monitor is doing (sd_notify: READY, STATUS,
 * RELOADING, STOPPING, WATCHDOG). Built from notify_systemd.c where libsystemd is found,
 * else from notify_none.c, whose functions do nothing; outside systemd both do nothing.
 */
#ifndef HOPWATCH_MONITOR_NOTIFY_H
#define HOPWATCH_MONITOR_NOTIFY_H

#include <stdint.h>

/* Start-up is done. */
void notify_ready(const char *status);
void notify_status(const char *status);
void notify_reloading(void);
void notify_stopping(void);
/* The watchdog interval systemd asks for, microseconds; 0 when there is none. */
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);

#endif
