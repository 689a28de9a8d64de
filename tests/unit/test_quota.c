/*
 * test_quota: the in-flight limit, the token bucket (burst of one second, refill capped
 * at one second, no refill when the clock reads earlier), idle entries aging out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/quota.h"

#define T0 (5 * QUOTA_NS_PER_S)

static void test_inflight_limit(void **state)
{
	const struct quota_limits lim = {.inflight = 3, .rate = 1000};
	struct quota_user u;

	(void)state;
	quota_user_init(&u, 1000, &lim, T0);
	u.inflight = 2;
	assert_int_equal(quota_admit(&u, &lim, T0), QUOTA_ADMIT);
	u.inflight = 3;
	assert_int_equal(quota_admit(&u, &lim, T0), QUOTA_EXHAUSTED);
	/* Refused for in-flight: no token was taken. */
	assert_int_equal(u.tokens, 999 * QUOTA_NS_PER_S);
}

static void test_bucket(void **state)
{
	const struct quota_limits lim = {.inflight = 100, .rate = 4};
	struct quota_user u;
	int i;

	(void)state;
	quota_user_init(&u, 7, &lim, T0);
	for (i = 0; i < 4; i++)
		assert_int_equal(quota_admit(&u, &lim, T0), QUOTA_ADMIT);
	assert_int_equal(quota_admit(&u, &lim, T0), QUOTA_EXHAUSTED);
	/* A quarter second later: one token at 4/s. */
	assert_int_equal(quota_admit(&u, &lim, T0 + QUOTA_NS_PER_S / 4), QUOTA_ADMIT);
	assert_int_equal(quota_admit(&u, &lim, T0 + QUOTA_NS_PER_S / 4), QUOTA_EXHAUSTED);
	/* An earlier reading refills nothing. */
	assert_int_equal(quota_admit(&u, &lim, T0), QUOTA_EXHAUSTED);
	/* A long pause refills one second's worth, never more. */
	for (i = 0; i < 4; i++)
		assert_int_equal(quota_admit(&u, &lim, T0 + 100 * QUOTA_NS_PER_S), QUOTA_ADMIT);
	assert_int_equal(quota_admit(&u, &lim, T0 + 100 * QUOTA_NS_PER_S), QUOTA_EXHAUSTED);
}

static void test_registry(void **state)
{
	const struct quota_limits lim = {.inflight = 10, .rate = 10};
	struct quota *q = NULL;
	struct quota_user *a, *b;

	(void)state;
	assert_int_equal(quota_new(&q, &lim), 0);
	assert_int_equal(quota_limits(q)->rate, 10);
	a = quota_get(q, 1, T0);
	assert_non_null(a);
	a->refs++;
	assert_ptr_equal(quota_get(q, 1, T0 + 5 * QUOTA_NS_PER_S), a);
	b = quota_get(q, 2, T0);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(quota_user_idle(b, T0 + QUOTA_NS_PER_S - 1), 0);
	assert_int_equal(quota_user_idle(b, T0 + QUOTA_NS_PER_S), 1);
	quota_put(a);
	quota_put(a); /* never below zero */
	assert_int_equal(a->refs, 0);
	quota_put(NULL);
	assert_int_equal(quota_user_idle(a, T0 + QUOTA_NS_PER_S), 1);
	assert_null(quota_free(q));
	assert_null(quota_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflight_limit),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
