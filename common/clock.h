/*
 * clock: the tree's one monotonic clock (CLOCK_MONOTONIC), read in micro- or
 * nanoseconds, and the conversion to the struct timeval that libevent timers take.
 * Never reads the wall clock: packet stamps (CLOCK_REALTIME) stay with their users.
 */
#ifndef HOPWATCH_COMMON_CLOCK_H
#define HOPWATCH_COMMON_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

#define CLOCK_NS_PER_US 1000
#define CLOCK_US_PER_S	1000000
#define CLOCK_NS_PER_S	1000000000

/* Microseconds since an arbitrary fixed point (boot); never goes back. */
int64_t clock_now_us(void);

/* The same clock in nanoseconds, for deadlines and rates that need it. */
int64_t clock_now_ns(void);

/* A libevent timer's timeval for us microseconds; a negative span is 0 (fire now). */
struct timeval clock_tv_of_us(int64_t us);

#endif
