/* test_pacer: slots 1/rate apart, no hoarding after idle, rate changes, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client/pacer.h"

static void test_even_slots(void **state)
{
	struct pacer *p = NULL;
	int64_t prev, t;
	int i;

	(void)state;
	assert_int_equal(pacer_new(&p, 1000), 0);
	/* 100 probes asked for at one instant go out 1 ms apart (the slack lets one in early). */
	prev = pacer_book(p, 1000000);
	assert_int_equal(prev, 1000000);
	for (i = 1; i < 100; i++) {
		t = pacer_book(p, 1000000);
		assert_true(t >= prev);
		assert_true(t - prev <= 1000);
		prev = t;
	}
	assert_int_equal(prev, 1000000 - PACER_SLACK_US + 99 * 1000);
	assert_true(pacer_backlog_us(p, 1000000) > 90000);
	p = pacer_free(p);
	assert_null(p);
}

static void test_idle_not_hoarded(void **state)
{
	struct pacer *p = NULL;
	int64_t now = 5000000, t;
	int i, early = 0;

	(void)state;
	assert_int_equal(pacer_new(&p, 100), 0); /* 10 ms apart */
	pacer_book(p, now);
	/* A minute idle saves no budget: after it, still one probe per 10 ms (plus the slack). */
	now += 60000000;
	for (i = 0; i < 50; i++) {
		t = pacer_book(p, now);
		early += t == now;
	}
	assert_true(early <= 1 + PACER_SLACK_US / 10000);
	assert_int_equal(t, now - PACER_SLACK_US + 49 * 10000);
	assert_int_equal(pacer_backlog_us(p, t + 20000), 0);
	pacer_free(p);
}

static void test_rate_change_and_bounds(void **state)
{
	struct pacer *p = NULL;
	int64_t a, b;

	(void)state;
	assert_int_equal(pacer_new(&p, 0.5), -EINVAL);
	assert_null(p);
	assert_int_equal(pacer_new(&p, 2e6), -EINVAL);
	assert_int_equal(pacer_new(&p, 10), 0);
	assert_int_equal(pacer_set_rate(p, 0), -EINVAL);
	assert_true(pacer_rate(p) == 10);
	assert_int_equal(pacer_set_rate(p, 1000), 0);
	a = pacer_book(p, 0);
	b = pacer_book(p, 0);
	a = pacer_book(p, 0);
	assert_int_equal(a - b, 1000);
	pacer_free(p);
	assert_null(pacer_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_even_slots),
		cmocka_unit_test(test_idle_not_hoarded),
		cmocka_unit_test(test_rate_change_and_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
