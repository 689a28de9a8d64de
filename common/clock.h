/*
 * clock: the tree's one monotonic clock (CLOCK_MONOTONIC), read in micro- or
 * nanoseconds, and the conversion to the struct timeval that libevent timers take.
 * Never reads the wall clock: packet stamps (CLOCK_REALTIME) stay with their users.
 */
#ifndef HOPWATCH_COMMON_CLOCK_H
#define HOPWATCH_COMMON_CLOCK_H

#include <stdint.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

#define CLOCK_NS_PER_US 1000
#define CLOCK_US_PER_S	1000000
#define CLOCK_NS_PER_S	1000000000

/* Microseconds since an arbitrary fixed point (boot); never goes back. */
int64_t clock_now_us(void);

/* The same clock in nanoseconds, for deadlines and rates that need it. */
int64_t clock_now_ns(void);

/* A libevent timer's timeval for us microseconds; a negative span is 0 (fire now). */
struct timeval clock_tv_of_us(int64_t us);

/* Longest clock_format_utc() text, NUL included. */
#define CLOCK_UTC_MAX 32

/*
 * A wall-clock time as ISO 8601 in UTC with milliseconds ("2026-12-01T17:30:00.123Z"),
 * for records that leave the process. ts NULL: now. Returns the length written.
 */
size_t clock_format_utc(char *buf, size_t len, const struct timespec *ts);

#endif
