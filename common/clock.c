/*
 * clock: CLOCK_MONOTONIC behind one function pair, so that every deadline in the tree
 * is measured on the same clock and none can jump with the wall clock.
 */
#include "common/clock.h"

#include <time.h>

int64_t clock_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + (int64_t)ts.tv_nsec;
}

int64_t clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_US_PER_S + (int64_t)ts.tv_nsec / CLOCK_NS_PER_US;
}

struct timeval clock_tv_of_us(int64_t us)
{
	struct timeval tv = {0, 0};

	if (us <= 0)
		return tv;
	tv.tv_sec = (time_t)(us / CLOCK_US_PER_S);
	tv.tv_usec = (suseconds_t)(us % CLOCK_US_PER_S);
	return tv;
}
