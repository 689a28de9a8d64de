/*
 * test_stats: the hop table against hand-computed figures. The 5-answer sequence
 * 1234/1500/1100/2000/1300 us is the one real mtr 0.95 reported as Avg 1.426, StDev 0.351,
 * Gmean 1.395, Javg 0.452, Jint 2.114 (tests/unit/golden/mtr_j_all.json, hop 1): mtr's
 * integer truncations included, so an exact-float implementation fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client/stats.h"

#define EPS 1e-9

static struct stats_addr v4(const char *s)
{
	struct stats_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static void probe(struct stats_table *t, int ttl, enum stats_outcome oc, const char *from,
		  int64_t rtt)
{
	struct stats_addr a;

	stats_sent(t, ttl);
	if (from)
		a = v4(from);
	stats_answer(t, ttl, oc, from ? &a : NULL, rtt, NULL, 0);
}

static int setup(void **state)
{
	struct stats_table *t;

	assert_int_equal(stats_table_new(&t), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	*state = stats_table_free(*state);
	assert_null(*state);
	return 0;
}

static void test_mtr_sequence(void **state)
{
	struct stats_table *t = *state;
	static const int64_t rtt[] = {1234, 1500, 1100, 2000, 1300};
	struct stats_summary s;
	size_t i;

	for (i = 0; i < 5; i++)
		probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", rtt[i]);
	stats_summarize(&t->hops[0].acc, &s);
	assert_int_equal(s.sent, 5);
	assert_int_equal(s.received, 5);
	assert_int_equal(s.dropped, 0);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_true(fabs(s.last - 1.3) < EPS);
	assert_true(fabs(s.best - 1.1) < EPS);
	assert_true(fabs(s.worst - 2.0) < EPS);
	assert_true(fabs(s.avg - 1.426) < EPS);	  /* exact mean 1426.8, mtr truncates */
	assert_true(fabs(s.stdev - 0.351) < EPS); /* sqrt(493964/4) = 351.4 */
	assert_true(fabs(s.gmean - 1.395) < EPS); /* 1234, 1360, 1267, 1420, 1395 */
	assert_true(fabs(s.jitter - 0.7) < EPS);  /* |1300 - 2000| */
	assert_true(fabs(s.jmax - 0.9) < EPS);	  /* |2000 - 1100| */
	assert_true(fabs(s.javg - 0.452) < EPS);  /* 0, 133, 222, 391, 452 (integer steps) */
	assert_true(fabs(s.jinta - 2.114) < EPS); /* 0, 266, 649, 1508, 2114 */
	/* nearest rank over 1100 1234 1300 1500 2000: ranks 3, 5, 5 */
	assert_true(fabs(s.p50 - 1.3) < EPS);
	assert_true(fabs(s.p90 - 2.0) < EPS);
	assert_true(fabs(s.p99 - 2.0) < EPS);
}

static void test_single_sample(void **state)
{
	struct stats_table *t = *state;
	struct stats_summary s;

	probe(t, 3, STATS_REPLY, "203.0.113.1", 20500);
	stats_summarize(&t->hops[2].acc, &s);
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.received, 1);
	assert_true(fabs(s.last - 20.5) < EPS);
	assert_true(fabs(s.best - 20.5) < EPS);
	assert_true(fabs(s.worst - 20.5) < EPS);
	assert_true(fabs(s.avg - 20.5) < EPS);
	assert_true(fabs(s.gmean - 20.5) < EPS);
	assert_true(fabs(s.stdev) < EPS); /* n < 2 */
	assert_true(fabs(s.jitter) < EPS);
	assert_true(fabs(s.javg) < EPS);
	assert_true(fabs(s.jmax) < EPS);
	assert_true(fabs(s.jinta) < EPS);
	assert_true(fabs(s.p50 - 20.5) < EPS);
	assert_true(fabs(s.p99 - 20.5) < EPS);
	assert_int_equal(t->dest_ttl, 3);
	assert_true(t->hops[2].is_destination);
	assert_int_equal(stats_last_hop(t), 3);
}

static void test_loss_inflight(void **state)
{
	struct stats_table *t = *state;
	struct stats_addr a = v4("198.51.100.14");
	struct stats_summary s;

	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 10000, NULL, 0);
	stats_answer(t, 4, STATS_LOST, NULL, 0, NULL, 0);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 12000, NULL, 0);
	/* the fourth is still in flight: 1 lost of 3 done, not 2 of 4 */
	stats_summarize(&t->hops[3].acc, &s);
	assert_int_equal(s.sent, 4);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 1);
	assert_true(fabs(s.loss_pct - 33.333) < EPS); /* mtr's thousandths, truncated */
	assert_int_equal(t->hops[3].acc.inflight, 1);

	/* an answer with nothing in flight (duplicate) changes nothing */
	stats_answer(t, 4, STATS_LOST, NULL, 0, NULL, 0);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 1, NULL, 0);
	stats_summarize(&t->hops[3].acc, &s);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 2);
	assert_true(fabs(s.loss_pct - 50.0) < EPS);
	assert_true(fabs(s.best - 10.0) < EPS);

	/* all lost and none in flight: 100%; nothing done: 0% */
	probe(t, 5, STATS_LOST, NULL, 0);
	stats_summarize(&t->hops[4].acc, &s);
	assert_true(fabs(s.loss_pct - 100.0) < EPS);
	stats_sent(t, 6);
	stats_summarize(&t->hops[5].acc, &s);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_int_equal(s.dropped, 0);
}

static void test_ecmp_three(void **state)
{
	struct stats_table *t = *state;
	const struct stats_hop *h = &t->hops[1];
	struct stats_summary s;
	struct stats_addr a66 = v4("198.51.100.66");

	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 5000);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.66", 5600);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.70", 7100);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 4900);
	probe(t, 2, STATS_LOST, NULL, 0);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.66", 6250);

	assert_int_equal(h->nresponders, 3);
	assert_true(stats_addr_equal(&h->last_addr, &a66));
	stats_summarize(&h->acc, &s);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.received, 5);
	assert_true(fabs(s.loss_pct - 16.666) < EPS);
	assert_true(fabs(s.best - 4.9) < EPS);
	assert_true(fabs(s.worst - 7.1) < EPS);

	/* each responder: only its own answers; sent == received, so no loss */
	stats_summarize(&h->responders[0].acc, &s);
	{
		struct stats_addr a6 = v4("198.51.100.6");

		assert_true(stats_addr_equal(&h->responders[0].addr, &a6));
	}
	assert_int_equal(s.sent, 2);
	assert_int_equal(s.received, 2);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_true(fabs(s.avg - 4.95) < EPS);
	assert_true(fabs(s.jitter - 0.1) < EPS); /* its own previous RTT, not the hop's */
	stats_summarize(&h->responders[1].acc, &s);
	assert_int_equal(s.received, 2);
	assert_true(fabs(s.last - 6.25) < EPS);
	assert_true(fabs(s.best - 5.6) < EPS);
	stats_summarize(&h->responders[2].acc, &s);
	assert_int_equal(s.sent, 1);
	assert_true(fabs(s.avg - 7.1) < EPS);
}

static void test_responder_overflow(void **state)
{
	struct stats_table *t = *state;
	const struct stats_hop *h = &t->hops[0];
	char ip[32], buf[64];
	int i;

	for (i = 0; i < STATS_MAX_RESPONDERS + 3; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		probe(t, 1, STATS_TTL_EXPIRED, ip, 1000 + i);
	}
	probe(t, 1, STATS_TTL_EXPIRED, "192.0.2.1", 900); /* a kept one again */
	assert_int_equal(h->nresponders, STATS_MAX_RESPONDERS);
	assert_int_equal(h->overflow, 3);
	assert_int_equal(h->acc.received, STATS_MAX_RESPONDERS + 4);
	assert_int_equal(h->responders[0].acc.received, 2);
	assert_string_equal(
		stats_addr_str(&h->responders[STATS_MAX_RESPONDERS - 1].addr, buf, sizeof(buf)),
		"192.0.2.8");
	assert_string_equal(stats_addr_str(&h->last_addr, buf, sizeof(buf)), "192.0.2.1");
}

static void test_reset(void **state)
{
	struct stats_table *t = *state;
	int i;

	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	probe(t, 2, STATS_REPLY, "203.0.113.1", 2000);
	stats_sent(t, 3);
	probe(t, STATS_MAX_HOPS - 1, STATS_TTL_EXPIRED, "198.51.100.250", 4000);
	stats_table_reset(t);
	assert_int_equal(t->max_ttl_seen, 0);
	assert_int_equal(t->dest_ttl, 0);
	assert_int_equal(stats_last_hop(t), 0);
	for (i = 0; i < STATS_MAX_HOPS; i++) {
		assert_int_equal(t->hops[i].ttl, i + 1);
		assert_int_equal(t->hops[i].acc.sent, 0);
		assert_int_equal(t->hops[i].acc.inflight, 0);
		assert_int_equal(t->hops[i].nresponders, 0);
		assert_false(t->hops[i].is_destination);
	}
	/* fresh figures after the reset, not a continuation */
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 3000);
	assert_int_equal(t->hops[0].acc.best, 3000);
	assert_int_equal(t->hops[0].acc.jitter, 0);
}

static void test_percentiles(void **state)
{
	struct stats_table *t = *state;
	struct stats_summary s;
	int i;

	/* 1..100 ms in a scrambled order (37 is coprime to 100) */
	for (i = 0; i < 100; i++)
		probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2",
		      (int64_t)((i * 37) % 100 + 1) * 1000);
	stats_summarize(&t->hops[0].acc, &s);
	assert_true(fabs(s.p50 - 50.0) < EPS);
	assert_true(fabs(s.p90 - 90.0) < EPS);
	assert_true(fabs(s.p99 - 99.0) < EPS);

	/* ten values 10..100: ranks 5, 9 and ceil(9.9) = 10 */
	for (i = 1; i <= 10; i++)
		probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", (int64_t)i * 10000);
	stats_summarize(&t->hops[1].acc, &s);
	assert_true(fabs(s.p50 - 50.0) < EPS);
	assert_true(fabs(s.p90 - 90.0) < EPS);
	assert_true(fabs(s.p99 - 100.0) < EPS);

	/* only the latest STATS_SAMPLES_MAX count: early outliers age out */
	for (i = 0; i < 10; i++)
		probe(t, 3, STATS_TTL_EXPIRED, "198.51.100.10", 900000);
	for (i = 0; i < STATS_SAMPLES_MAX; i++)
		probe(t, 3, STATS_TTL_EXPIRED, "198.51.100.10", 5000);
	stats_summarize(&t->hops[2].acc, &s);
	assert_true(fabs(s.p99 - 5.0) < EPS);
	assert_true(fabs(s.worst - 900.0) < EPS); /* Wrst still sees everything */
}

static void test_gmean(void **state)
{
	struct stats_table *t = *state;
	struct stats_summary s;

	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 4000);
	stats_summarize(&t->hops[0].acc, &s);
	assert_true(fabs(s.gmean - 2.0) < EPS);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 16000);
	stats_summarize(&t->hops[0].acc, &s);
	/* (1000 * 4000 * 16000)^(1/3) = 3999.99..: mtr's truncation gives 3999 or 4000 */
	assert_true(fabs(s.gmean - 4.0) < 0.0011);
	assert_true(fabs(s.avg - 7.0) < EPS);
}

static void test_jitter_sequence(void **state)
{
	struct stats_table *t = *state;
	static const int64_t rtt[] = {10000, 30000, 20000, 50000};
	struct stats_summary s;
	size_t i;

	for (i = 0; i < 4; i++)
		probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", rtt[i]);
	stats_summarize(&t->hops[0].acc, &s);
	assert_true(fabs(s.jitter - 30.0) < EPS); /* jitters 0, 20, 10, 30 */
	assert_true(fabs(s.jmax - 30.0) < EPS);
	assert_true(fabs(s.javg - 15.0) < EPS); /* 60 / 4: the first answer counts as 0 */
	/* jinta: 0, 20000, 20000+10000-1250 = 28750, 28750+30000-1797 = 56953 */
	assert_true(fabs(s.jinta - 56.953) < EPS);
}

static void test_last_hop(void **state)
{
	struct stats_table *t = *state;

	assert_int_equal(stats_last_hop(t), 0);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 1000);
	probe(t, 3, STATS_LOST, NULL, 0);
	probe(t, 4, STATS_LOST, NULL, 0);
	/* nothing reached: one past the deepest answer (mtr's net_max) */
	assert_int_equal(stats_last_hop(t), 3);
	probe(t, 6, STATS_REPLY, "203.0.113.1", 1000);
	probe(t, 5, STATS_REPLY, "203.0.113.1", 1000);
	probe(t, 7, STATS_REPLY, "203.0.113.1", 1000);
	assert_int_equal(t->dest_ttl, 5);
	assert_int_equal(stats_last_hop(t), 5);

	stats_table_reset(t);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	probe(t, 2, STATS_UNREACHABLE, "198.51.100.6", 1000);
	probe(t, 3, STATS_TTL_EXPIRED, "198.51.100.10", 1000);
	assert_int_equal(stats_last_hop(t), 2);
	assert_int_equal(t->hops[1].acc.received, 1); /* a no-route is an answer */

	stats_table_reset(t);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	assert_int_equal(stats_last_hop(t), 1); /* capped at the deepest TTL sent */
}

static void test_bounds_and_addr(void **state)
{
	struct stats_table *t = *state;
	struct stats_addr none = {0}, a6;
	char buf[64];

	stats_sent(t, 0);
	stats_sent(t, STATS_MAX_HOPS);
	stats_answer(t, STATS_MAX_HOPS, STATS_LOST, NULL, 0, NULL, 0);
	assert_int_equal(t->max_ttl_seen, 0);
	assert_string_equal(stats_addr_str(&none, buf, sizeof(buf)), "???");
	memset(&a6, 0, sizeof(a6));
	a6.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a6.u.v6), 1);
	assert_string_equal(stats_addr_str(&a6, buf, sizeof(buf)), "2001:db8::1");
	assert_false(stats_addr_equal(&a6, &none));
	stats_sent(t, STATS_MAX_HOPS - 1);
	assert_int_equal(t->max_ttl_seen, STATS_MAX_HOPS - 1);
}

static void test_mpls(void **state)
{
	struct stats_table *t = *state;
	struct stats_mpls m[STATS_MPLS_MAX + 2];
	struct stats_addr a = v4("198.51.100.2");
	size_t i;

	for (i = 0; i < STATS_MPLS_MAX + 2; i++)
		m[i] = (struct stats_mpls){.label = 16 + (uint32_t)i, .ttl = 1};
	stats_sent(t, 1);
	stats_answer(t, 1, STATS_TTL_EXPIRED, &a, 1000, m, STATS_MPLS_MAX + 2);
	assert_int_equal(t->hops[0].responders[0].nmpls, STATS_MPLS_MAX);
	assert_int_equal(t->hops[0].responders[0].mpls[STATS_MPLS_MAX - 1].label,
			 16 + STATS_MPLS_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mtr_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecmp_three, setup, teardown),
		cmocka_unit_test_setup_teardown(test_responder_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_percentiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gmean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jitter_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_hop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_and_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mpls, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
