/*
 * test_quota: the in-flight limit, the token bucket (burst of one second, refill capped
 * at one second, no refill when the clock reads earlier), idle entries aging out, the
 * connections per uid, the uids counted, and each uid's share of the probe table (four
 * uids at their default quota must leave room for a fifth).
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
	quota_hold(a);
	assert_int_equal(quota_active(q), 1);
	assert_ptr_equal(quota_get(q, 1, T0 + 5 * QUOTA_NS_PER_S), a);
	b = quota_get(q, 2, T0);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(quota_user_idle(b, T0 + QUOTA_NS_PER_S - 1), 0);
	assert_int_equal(quota_user_idle(b, T0 + QUOTA_NS_PER_S), 1);
	quota_put(a);
	assert_int_equal(quota_active(q), 0);
	quota_put(a); /* never below zero */
	assert_int_equal(a->refs, 0);
	assert_int_equal(quota_active(q), 0);
	quota_put(NULL);
	assert_int_equal(quota_user_idle(a, T0 + QUOTA_NS_PER_S), 1);
	assert_null(quota_free(q));
	assert_null(quota_free(NULL));
}

static void test_conns_per_uid(void **state)
{
	const struct quota_limits lim = {.inflight = 10, .rate = 10, .conns = 2};
	const struct quota_limits unlimited = {.inflight = 10, .rate = 10};
	struct quota *q = NULL;
	struct quota_user *a, *b;

	(void)state;
	assert_int_equal(quota_new(&q, &lim), 0);
	a = quota_get(q, 1000, T0);
	b = quota_get(q, 1001, T0);
	assert_true(quota_conn_allowed(a, &lim));
	quota_hold(a);
	quota_hold(a);
	assert_false(quota_conn_allowed(a, &lim));
	assert_true(quota_conn_allowed(a, &unlimited));
	/* The limit is the uid's: another uid is not counted against it. */
	assert_true(quota_conn_allowed(b, &lim));
	quota_hold(b);
	assert_int_equal(quota_active(q), 2);
	quota_put(a);
	assert_true(quota_conn_allowed(a, &lim));
	assert_int_equal(quota_active(q), 2);
	quota_free(q);
}

/* The default quota and table of the engine (ENGINE_DEFAULT_INFLIGHT_PER_USER, slots). */
#define QUOTA16K 16384u
#define SLOTS64K 65536u

/*
 * Four uids flood (round robin, each to its quota) and stay connected; a fifth then
 * connects. Before the share rule the four took all 65,536 slots and the fifth got
 * probes-exhausted until their probes timed out.
 */
static void test_share_leaves_room(void **state)
{
	const struct quota_limits lim = {
		.inflight = QUOTA16K, .rate = 1000000, .table_slots = SLOTS64K};
	struct quota *q = NULL;
	struct quota_user *u[5];
	uint32_t used = 0, i, round, got;
	int any;

	(void)state;
	assert_int_equal(quota_new(&q, &lim), 0);
	for (i = 0; i < 4; i++) {
		u[i] = quota_get(q, 2000 + i, T0);
		quota_hold(u[i]);
	}
	for (round = 0, any = 1; any; round++) {
		any = 0;
		for (i = 0; i < 4; i++) {
			if (quota_admit_shared(u[i], &lim, T0, used) != QUOTA_ADMIT)
				continue;
			u[i]->inflight++;
			used++;
			any = 1;
		}
	}
	/* The floods stop at the reserve. */
	assert_int_equal(SLOTS64K - used, SLOTS64K / QUOTA_RESERVE_DIV);
	u[4] = quota_get(q, 3000, T0);
	quota_hold(u[4]);
	for (got = 0; quota_admit_shared(u[4], &lim, T0, used) == QUOTA_ADMIT; got++) {
		u[4]->inflight++;
		used++;
	}
	assert_int_equal(got, SLOTS64K / QUOTA_RESERVE_DIV / QUOTA_RESERVE_PER_UID);
	/* ...and the four may not take the reserve back. */
	for (i = 0; i < 4; i++)
		assert_int_equal(quota_admit_shared(u[i], &lim, T0, used), QUOTA_EXHAUSTED);
	/*
	 * As 1,024 of each one's probes end, they stay above their fair share (65,536 / 5)
	 * and the newcomer takes what was freed above the reserve.
	 */
	for (i = 0; i < 4; i++) {
		u[i]->inflight -= 1024;
		used -= 1024;
	}
	while (quota_admit_shared(u[4], &lim, T0, used) == QUOTA_ADMIT) {
		assert_int_equal(quota_admit_shared(u[0], &lim, T0, used), QUOTA_EXHAUSTED);
		u[4]->inflight++;
		used++;
	}
	assert_int_equal(u[4]->inflight, 4096);
	quota_free(q);
}

static void test_share_rule(void **state)
{
	(void)state;
	/* Alone, a uid may use all but the reserve (it holds too much for a part of it). */
	assert_true(quota_share_allows(0, 1, 0, 800));
	assert_true(quota_share_allows(699, 1, 699, 800));
	assert_false(quota_share_allows(700, 1, 700, 800));
	/* Two uids: 400 each above the reserve. */
	assert_false(quota_share_allows(400, 2, 500, 800));
	assert_true(quota_share_allows(399, 2, 500, 800));
	/* Inside the reserve: only a uid holding less than 800 / 8 / 8 = 12. */
	assert_true(quota_share_allows(11, 3, 750, 800));
	assert_false(quota_share_allows(12, 3, 750, 800));
	/* A full table admits nobody; no active uid counts as one. */
	assert_false(quota_share_allows(0, 5, 800, 800));
	assert_true(quota_share_allows(0, 0, 0, 800));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflight_limit),	  cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_registry),	  cmocka_unit_test(test_conns_per_uid),
		cmocka_unit_test(test_share_leaves_room), cmocka_unit_test(test_share_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
