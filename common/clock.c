/*
 * clock: CLOCK_MONOTONIC behind one function pair, so that every deadline in the tree
 * is measured on the same clock and none can jump with the wall clock.
 */
#include "common/clock.h"

#include <stdio.h>
#include <string.h>
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

size_t clock_format_utc(char *buf, size_t len, const struct timespec *ts)
{
	struct timespec now;
	struct tm tm;
	size_t n;
	int k;

	if (!len)
		return 0;
	if (!ts) {
		clock_gettime(CLOCK_REALTIME, &now);
		ts = &now;
	}
	if (!gmtime_r(&ts->tv_sec, &tm))
		memset(&tm, 0, sizeof(tm));
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(buf + n, len - n, ".%03dZ", (int)(ts->tv_nsec / 1000000) % 1000);
	return k < 0 ? n : n + (size_t)k >= len ? len - 1 : n + (size_t)k;
}
