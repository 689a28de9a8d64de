/*
 * test_clock: the monotonic clock never goes back and agrees between its us and ns
 * readings; clock_tv_of_us splits exactly at the second, clamps negative spans to 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"

#define READINGS 10000

static void test_monotonic(void **state)
{
	int64_t prev_us = clock_now_us(), prev_ns = clock_now_ns(), us, ns;
	int i;

	(void)state;
	assert_true(prev_us > 0);
	for (i = 0; i < READINGS; i++) {
		us = clock_now_us();
		ns = clock_now_ns();
		assert_true(us >= prev_us);
		assert_true(ns >= prev_ns);
		/* ns is read after us: it is at or past it on the same clock. */
		assert_true(ns / CLOCK_NS_PER_US >= us);
		prev_us = us;
		prev_ns = ns;
	}
}

static void test_advances(void **state)
{
	struct timespec pause = {0, 2 * 1000 * 1000};
	int64_t t0 = clock_now_us();

	(void)state;
	nanosleep(&pause, NULL);
	assert_true(clock_now_us() - t0 >= 2000);
}

static void check_tv(int64_t us, long sec, long usec)
{
	struct timeval tv = clock_tv_of_us(us);

	assert_int_equal((long)tv.tv_sec, sec);
	assert_int_equal((long)tv.tv_usec, usec);
}

static void test_tv_of_us(void **state)
{
	(void)state;
	check_tv(0, 0, 0);
	check_tv(1, 0, 1);
	check_tv(999999, 0, 999999);
	check_tv(1000000, 1, 0);
	check_tv(1000001, 1, 1);
	check_tv(2500000, 2, 500000);
	check_tv(INT64_C(86400) * 1000000 + 7, 86400, 7);
}

static void test_tv_of_negative(void **state)
{
	(void)state;
	check_tv(-1, 0, 0);
	check_tv(-999999, 0, 0);
	check_tv(-1000001, 0, 0);
	check_tv(INT64_MIN, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_advances),
		cmocka_unit_test(test_tv_of_us),
		cmocka_unit_test(test_tv_of_negative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
