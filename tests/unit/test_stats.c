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
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client/stats.h"

#define EPS 1e-9

static struct addr v4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static void probe(struct stats_table *t, int ttl, enum stats_outcome oc, const char *from,
		  int64_t rtt)
{
	struct addr a;

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
	stats_hop_summarize(&t->hops[0], &s);
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
	stats_hop_summarize(&t->hops[2], &s);
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
	struct addr a = v4("198.51.100.14");
	struct stats_summary s;

	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_sent(t, 4);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 10000, NULL, 0);
	stats_answer(t, 4, STATS_LOST, NULL, 0, NULL, 0);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 12000, NULL, 0);
	/* the fourth is still in flight: 1 lost of 3 done, not 2 of 4 */
	stats_hop_summarize(&t->hops[3], &s);
	assert_int_equal(s.sent, 4);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 1);
	assert_true(fabs(s.loss_pct - 33.333) < EPS); /* mtr's thousandths, truncated */
	assert_int_equal(t->hops[3].acc.inflight, 1);

	/* an answer with nothing in flight (duplicate) changes nothing */
	stats_answer(t, 4, STATS_LOST, NULL, 0, NULL, 0);
	stats_answer(t, 4, STATS_TTL_EXPIRED, &a, 1, NULL, 0);
	stats_hop_summarize(&t->hops[3], &s);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 2);
	assert_true(fabs(s.loss_pct - 50.0) < EPS);
	assert_true(fabs(s.best - 10.0) < EPS);

	/* all lost and none in flight: 100%; nothing done: 0% */
	probe(t, 5, STATS_LOST, NULL, 0);
	stats_hop_summarize(&t->hops[4], &s);
	assert_true(fabs(s.loss_pct - 100.0) < EPS);
	stats_sent(t, 6);
	stats_hop_summarize(&t->hops[5], &s);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_int_equal(s.dropped, 0);
}

static void test_ecmp_three(void **state)
{
	struct stats_table *t = *state;
	const struct stats_hop *h;
	struct stats_summary s;
	struct addr a66 = v4("198.51.100.66");

	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 5000);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.66", 5600);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.70", 7100);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 4900);
	probe(t, 2, STATS_LOST, NULL, 0);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.66", 6250);

	h = stats_table_hop(t, 2);
	assert_non_null(h);
	assert_int_equal(h->nresponders, 3);
	assert_true(addr_equal(&h->last_addr, &a66));
	stats_hop_summarize(h, &s);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.received, 5);
	assert_true(fabs(s.loss_pct - 16.666) < EPS);
	assert_true(fabs(s.best - 4.9) < EPS);
	assert_true(fabs(s.worst - 7.1) < EPS);

	/* each responder: only its own answers; sent == received, so no loss */
	stats_responder_summarize(h, 0, &s);
	{
		struct addr a6 = v4("198.51.100.6");

		assert_true(addr_equal(&h->responders[0].addr, &a6));
	}
	assert_int_equal(s.sent, 2);
	assert_int_equal(s.received, 2);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_true(fabs(s.avg - 4.95) < EPS);
	assert_true(fabs(s.jitter - 0.1) < EPS); /* its own previous RTT, not the hop's */
	stats_responder_summarize(h, 1, &s);
	assert_int_equal(s.received, 2);
	assert_true(fabs(s.last - 6.25) < EPS);
	assert_true(fabs(s.best - 5.6) < EPS);
	stats_responder_summarize(h, 2, &s);
	assert_int_equal(s.sent, 1);
	assert_true(fabs(s.avg - 7.1) < EPS);
}

static void test_responder_overflow(void **state)
{
	struct stats_table *t = *state;
	const struct stats_hop *h;
	char ip[32], buf[64];
	int i;

	for (i = 0; i < STATS_MAX_RESPONDERS + 3; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		probe(t, 1, STATS_TTL_EXPIRED, ip, 1000 + i);
	}
	probe(t, 1, STATS_TTL_EXPIRED, "192.0.2.1", 900); /* a kept one again */
	h = stats_table_hop(t, 1);
	assert_int_equal(h->nresponders, STATS_MAX_RESPONDERS);
	assert_int_equal(h->overflow, 3);
	assert_int_equal(h->acc.received, STATS_MAX_RESPONDERS + 4);
	assert_int_equal(h->responders[0].acc.received, 2);
	assert_string_equal(
		addr_str(&h->responders[STATS_MAX_RESPONDERS - 1].addr, buf, sizeof(buf)),
		"192.0.2.8");
	assert_string_equal(addr_str(&h->last_addr, buf, sizeof(buf)), "192.0.2.1");
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
	/* a reset table is a new one: no hops kept */
	assert_int_equal(stats_table_bytes(t), sizeof(*t));
	assert_null(stats_table_hop(t, 1));
	for (i = 0; i < t->nhops; i++) {
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

	/* 1..64 ms in a scrambled order (37 is coprime to 64): ranks 32, ceil(57.6), 64 */
	for (i = 0; i < STATS_WINDOW_MAX; i++)
		probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2",
		      (int64_t)((i * 37) % STATS_WINDOW_MAX + 1) * 1000);
	stats_hop_summarize(&t->hops[0], &s);
	assert_true(fabs(s.p50 - 32.0) < EPS);
	assert_true(fabs(s.p90 - 58.0) < EPS);
	assert_true(fabs(s.p99 - 64.0) < EPS);

	/* ten values 10..100: ranks 5, 9 and ceil(9.9) = 10 */
	for (i = 1; i <= 10; i++)
		probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", (int64_t)i * 10000);
	stats_hop_summarize(&t->hops[1], &s);
	assert_true(fabs(s.p50 - 50.0) < EPS);
	assert_true(fabs(s.p90 - 90.0) < EPS);
	assert_true(fabs(s.p99 - 100.0) < EPS);

	/* only the latest STATS_WINDOW_MAX count: early outliers age out */
	for (i = 0; i < 10; i++)
		probe(t, 3, STATS_TTL_EXPIRED, "198.51.100.10", 900000);
	for (i = 0; i < STATS_WINDOW_MAX; i++)
		probe(t, 3, STATS_TTL_EXPIRED, "198.51.100.10", 5000);
	stats_hop_summarize(&t->hops[2], &s);
	assert_true(fabs(s.p99 - 5.0) < EPS);
	assert_true(fabs(s.worst - 900.0) < EPS); /* Wrst still sees everything */
}

static void test_gmean(void **state)
{
	struct stats_table *t = *state;
	struct stats_summary s;

	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 4000);
	stats_hop_summarize(&t->hops[0], &s);
	assert_true(fabs(s.gmean - 2.0) < EPS);
	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 16000);
	stats_hop_summarize(&t->hops[0], &s);
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
	stats_hop_summarize(&t->hops[0], &s);
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
	struct addr none = {0}, a6;
	char buf[64];

	assert_int_equal(stats_sent(t, 0), -EINVAL);
	assert_int_equal(stats_sent(t, STATS_MAX_HOPS), -EINVAL);
	stats_answer(t, STATS_MAX_HOPS, STATS_LOST, NULL, 0, NULL, 0);
	assert_int_equal(t->max_ttl_seen, 0);
	assert_string_equal(addr_str(&none, buf, sizeof(buf)), "???");
	memset(&a6, 0, sizeof(a6));
	a6.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a6.u.v6), 1);
	assert_string_equal(addr_str(&a6, buf, sizeof(buf)), "2001:db8::1");
	assert_false(addr_equal(&a6, &none));
	assert_int_equal(stats_sent(t, STATS_MAX_HOPS - 1), 0);
	assert_int_equal(t->max_ttl_seen, STATS_MAX_HOPS - 1);
	assert_int_equal(t->nhops, STATS_MAX_HOPS - 1);
}

static void test_mpls(void **state)
{
	struct stats_table *t = *state;
	struct stats_mpls m[STATS_MPLS_MAX + 2];
	struct addr a = v4("198.51.100.2");
	size_t i;

	for (i = 0; i < STATS_MPLS_MAX + 2; i++)
		m[i] = (struct stats_mpls){.label = 16 + (uint32_t)i, .ttl = 1};
	stats_sent(t, 1);
	stats_answer(t, 1, STATS_TTL_EXPIRED, &a, 1000, m, STATS_MPLS_MAX + 2);
	assert_int_equal(t->hops[0].responders[0].nmpls, STATS_MPLS_MAX);
	assert_int_equal(t->hops[0].responders[0].mpls[STATS_MPLS_MAX - 1].label,
			 16 + STATS_MPLS_MAX - 1);
}

/* With more than STATS_WINDOW_MAX probes, a responder's percentiles are its answers among
 * the hop's latest STATS_WINDOW_MAX outcomes; its other figures stay whole-run. */
static void test_responder_percentiles(void **state)
{
	struct stats_table *t = *state;
	const struct stats_hop *h;
	struct stats_summary s;
	int i;

	/* 40 rounds: A answers 1..20 ms on even rounds, B 101..120 ms on odd ones */
	for (i = 0; i < 40; i++)
		probe(t, 1, STATS_TTL_EXPIRED, i % 2 ? "198.51.100.7" : "198.51.100.6",
		      (int64_t)(i / 2 + 1 + (i % 2) * 100) * 1000);
	h = stats_table_hop(t, 1);
	stats_responder_summarize(h, 0, &s);
	assert_int_equal(s.received, 20);
	assert_true(fabs(s.p50 - 10.0) < EPS);
	assert_true(fabs(s.p90 - 18.0) < EPS);
	assert_true(fabs(s.p99 - 20.0) < EPS);
	stats_responder_summarize(h, 1, &s);
	assert_true(fabs(s.p50 - 110.0) < EPS);
	assert_true(fabs(s.p99 - 120.0) < EPS);
	stats_hop_summarize(h, &s);
	assert_true(fabs(s.p50 - 20.0) < EPS);	/* rank 20 of 40 */
	assert_true(fabs(s.p90 - 116.0) < EPS); /* rank 36 */

	/* 40 more answers by B at 50 ms and 4 losses: the ring's 64 keep A's last 10 */
	for (i = 0; i < 40; i++)
		probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.7", 50000);
	for (i = 0; i < 4; i++)
		probe(t, 1, STATS_LOST, NULL, 0);
	h = stats_table_hop(t, 1);
	stats_responder_summarize(h, 0, &s);
	assert_int_equal(s.received, 20);      /* the counts are the whole run's */
	assert_true(fabs(s.best - 1.0) < EPS); /* so is Best */
	assert_true(fabs(s.p50 - 15.0) < EPS); /* 11..20: rank 5 */
	assert_true(fabs(s.p99 - 20.0) < EPS);
	stats_hop_summarize(h, &s);
	assert_int_equal(s.sent, 84);
	/* 60 answers in the ring: A's 11..20, B's 111..120, B's 40 at 50 ms */
	assert_true(fabs(s.p50 - 50.0) < EPS);
	assert_true(fabs(s.p90 - 114.0) < EPS); /* rank 54: the 4th of 111..120 */
	stats_responder_summarize(h, STATS_MAX_RESPONDERS, &s);
	assert_int_equal(s.sent, 0);
	/* an accumulator alone has no ring */
	stats_summarize(&h->acc, &s);
	assert_int_equal(s.received, 80);
	assert_true(fabs(s.p50) < EPS && fabs(s.p99) < EPS);
}

static void test_window(void **state)
{
	struct stats_table *t = *state;
	struct stats_window_summary w;
	const struct stats_hop *h;
	int i;

	assert_int_equal(stats_sent(t, 1), 0);
	h = stats_table_hop(t, 1);
	assert_int_equal(stats_hop_window(h, 10, &w), 0); /* in flight only: nothing */
	assert_int_equal(w.sent, 0);
	assert_true(fabs(w.loss_pct) < EPS);
	stats_answer(t, 1, STATS_LOST, NULL, 0, NULL, 0);

	/* 99 more rounds: 1..99 ms, every 10th (10, 20, ..., 90) lost */
	for (i = 1; i < 100; i++)
		probe(t, 1, i % 10 ? STATS_TTL_EXPIRED : STATS_LOST, i % 10 ? "198.51.100.2" : NULL,
		      (int64_t)i * 1000);
	h = stats_table_hop(t, 1);
	assert_int_equal(stats_hop_window(h, 0, &w), -EINVAL);
	assert_int_equal(stats_hop_window(h, -3, &w), -EINVAL);

	/* the last 10 rounds: 90 lost, 91..99 answered */
	assert_int_equal(stats_hop_window(h, 10, &w), 0);
	assert_int_equal(w.sent, 10);
	assert_int_equal(w.received, 9);
	assert_true(fabs(w.loss_pct - 10.0) < EPS);
	assert_true(fabs(w.best - 91.0) < EPS);
	assert_true(fabs(w.worst - 99.0) < EPS);
	assert_true(fabs(w.avg - 95.0) < EPS);
	assert_true(fabs(w.stdev - sqrt(7.5)) < 1e-9); /* 91..99: variance 60 / 8 */
	assert_true(fabs(w.p50 - 95.0) < EPS);
	assert_true(fabs(w.p90 - 99.0) < EPS); /* rank ceil(8.1) = 9 */

	/* one round: the latest outcome alone */
	assert_int_equal(stats_hop_window(h, 1, &w), 0);
	assert_int_equal(w.sent, 1);
	assert_int_equal(w.received, 1);
	assert_true(fabs(w.avg - 99.0) < EPS);
	assert_true(fabs(w.stdev) < EPS);

	/* more rounds than kept: the window is STATS_WINDOW_MAX, 36..99, 6 of them lost */
	assert_int_equal(stats_hop_window(h, 1000, &w), 0);
	assert_int_equal(w.sent, STATS_WINDOW_MAX);
	assert_int_equal(w.received, STATS_WINDOW_MAX - 6);
	assert_true(fabs(w.loss_pct - 9.375) < EPS);
	assert_true(fabs(w.best - 36.0) < EPS);
	assert_true(fabs(w.worst - 99.0) < EPS);

	/* a window of losses only */
	for (i = 0; i < 5; i++)
		probe(t, 1, STATS_LOST, NULL, 0);
	h = stats_table_hop(t, 1);
	assert_int_equal(stats_hop_window(h, 5, &w), 0);
	assert_int_equal(w.received, 0);
	assert_true(fabs(w.loss_pct - 100.0) < EPS);
	assert_true(fabs(w.p50) < EPS && fabs(w.avg) < EPS);
}

static void test_hop_rtts_and_clamp(void **state)
{
	struct stats_table *t = *state;
	int64_t rtts[STATS_WINDOW_MAX];
	struct stats_summary s;
	const struct stats_hop *h;
	int i;

	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 3000);
	probe(t, 2, STATS_LOST, NULL, 0);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", -5);
	probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", INT64_C(200000000)); /* 200 s */
	h = stats_table_hop(t, 2);
	assert_int_equal(stats_hop_rtts(h, rtts, STATS_WINDOW_MAX), 3);
	assert_int_equal(rtts[0], 3000);
	assert_int_equal(rtts[1], 0);
	assert_int_equal(rtts[2], STATS_RTT_MAX);
	assert_int_equal(stats_hop_rtts(h, rtts, 1), 1);
	assert_int_equal(h->acc.worst, STATS_RTT_MAX); /* the accumulators take the clamp */
	stats_hop_summarize(h, &s);
	assert_true(fabs(s.p99 - STATS_RTT_MAX / 1000.0) < EPS);

	/* the oldest age out, the order stays oldest first */
	for (i = 0; i < STATS_WINDOW_MAX + 5; i++)
		probe(t, 2, STATS_TTL_EXPIRED, "198.51.100.6", 1000 + i);
	h = stats_table_hop(t, 2);
	assert_int_equal(stats_hop_rtts(h, rtts, STATS_WINDOW_MAX), STATS_WINDOW_MAX);
	assert_int_equal(rtts[0], 1005);
	assert_int_equal(rtts[STATS_WINDOW_MAX - 1], 1000 + STATS_WINDOW_MAX + 4);

	assert_null(stats_table_hop(t, 0));
	assert_null(stats_table_hop(t, 3));
	assert_non_null(stats_table_hop(t, 1)); /* below the TTLs sent, empty */
	assert_int_equal(stats_table_hop(t, 1)->acc.sent, 0);
	assert_int_equal(stats_table_hop(t, 1)->ttl, 1);
	assert_int_equal(t->nhops, 2);
}

/*
 * Probes presumed lost for now count as done and dropped in the hop's summary (never
 * more than are in flight); once settled the figures are the answers' and timeouts' own.
 */
static void test_late(void **state)
{
	struct stats_table *t = *state;
	struct addr a = v4("198.51.100.1");
	struct stats_summary s;

	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.1", 1000);
	assert_int_equal(stats_sent(t, 1), 0);
	assert_int_equal(stats_sent(t, 1), 0);
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.dropped, 0);
	assert_true(fabs(s.loss_pct) < EPS);

	stats_set_late(t, 1, 1);
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.sent, 3);
	assert_int_equal(s.received, 1);
	assert_int_equal(s.dropped, 1);
	assert_true(fabs(s.loss_pct - 50.0) < EPS);
	/* clamped to the two in flight */
	stats_set_late(t, 1, 7);
	assert_int_equal(t->hops[0].late, 2);
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.dropped, 2);
	assert_true(fabs(s.loss_pct - 66.666) < EPS);
	/* the accumulator alone (the final accounting) never counts them */
	stats_summarize(&t->hops[0].acc, &s);
	assert_int_equal(s.dropped, 0);

	/* a late answer: one fewer in flight, so at most one presumed lost */
	stats_answer(t, 1, STATS_TTL_EXPIRED, &a, 1500, NULL, 0);
	assert_int_equal(t->hops[0].late, 1);
	stats_set_late(t, 1, 0);
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 0);
	stats_answer(t, 1, STATS_LOST, NULL, 0, NULL, 0);
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.dropped, 1);
	assert_true(fabs(s.loss_pct - 33.333) < EPS);
	/* no such hop: ignored */
	stats_set_late(t, 0, 1);
	stats_set_late(t, 9, 1);
	assert_int_equal(t->nhops, 1);
}

static void test_unsent(void **state)
{
	struct stats_table *t = *state;
	struct stats_summary s;

	probe(t, 1, STATS_TTL_EXPIRED, "198.51.100.2", 1000);
	assert_int_equal(stats_sent(t, 1), 0);
	stats_unsent(t, 1); /* never left: neither sent nor lost */
	stats_hop_summarize(&t->hops[0], &s);
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(t->hops[0].acc.inflight, 0);
	/* a late timeout for it finds nothing in flight */
	stats_answer(t, 1, STATS_LOST, NULL, 0, NULL, 0);
	stats_hop_summarize(&t->hops[0], &s);
	assert_true(fabs(s.loss_pct) < EPS);
	assert_int_equal(t->hops[0].ring_len, 1);
	/* nothing to take back: no change */
	stats_unsent(t, 1);
	stats_unsent(t, 0);
	stats_unsent(t, 9);
	assert_int_equal(t->hops[0].acc.sent, 1);

	/* the only probe at a new deepest TTL: that TTL was never probed after all */
	assert_int_equal(stats_sent(t, 4), 0);
	assert_int_equal(t->max_ttl_seen, 4);
	stats_unsent(t, 4);
	assert_int_equal(t->max_ttl_seen, 1);
	assert_int_equal(t->hops[3].acc.sent, 0);
	assert_int_equal(stats_last_hop(t), 1);
	/* one of two in flight */
	assert_int_equal(stats_sent(t, 2), 0);
	assert_int_equal(stats_sent(t, 2), 0);
	stats_unsent(t, 2);
	assert_int_equal(t->hops[1].acc.sent, 1);
	assert_int_equal(t->hops[1].acc.inflight, 1);
	assert_int_equal(t->max_ttl_seen, 2);
}

/* The acceptance figure: a 30-hop path, one responder per hop, 100 rounds. */
static void test_bytes_30_hops(void **state)
{
	struct stats_table *t = *state;
	char ip[32];
	size_t bytes;
	int round, ttl;

	assert_int_equal(stats_table_bytes(t), sizeof(*t));
	for (round = 0; round < 100; round++)
		for (ttl = 1; ttl <= 30; ttl++) {
			snprintf(ip, sizeof(ip), "198.51.100.%d", ttl);
			probe(t, ttl, ttl == 30 ? STATS_REPLY : STATS_TTL_EXPIRED, ip,
			      1000 * ttl + round);
		}
	bytes = stats_table_bytes(t);
	print_message("stats_table_bytes at 30 hops, 1 responder each, 100 rounds: %zu "
		      "(sizeof table %zu, hop %zu, responder %zu, acc %zu, mpls %zu)\n",
		      bytes, sizeof(struct stats_table), sizeof(struct stats_hop),
		      sizeof(struct stats_responder), sizeof(struct stats_acc),
		      sizeof(struct stats_mpls));
	assert_true(bytes <= 16384);
	assert_int_equal(t->nhops, 30);
	assert_int_equal(bytes, sizeof(*t) + 30 * sizeof(struct stats_hop) +
					30 * sizeof(struct stats_responder));
	assert_int_equal(stats_last_hop(t), 30);
}

/* 8 ECMP responders at one hop, labels on some: labels cost memory only where present. */
static void test_bytes_ecmp_mpls(void **state)
{
	struct stats_table *t = *state;
	static const struct stats_mpls m[] = {{16001, 0, 0, 1}, {17, 5, 1, 1}};
	struct stats_summary s;
	struct addr a;
	const struct stats_hop *h;
	size_t before, bytes, r;
	char ip[32];
	int round;

	probe(t, 1, STATS_TTL_EXPIRED, "192.168.1.1", 500);
	before = stats_table_bytes(t);
	for (round = 0; round < 100; round++) {
		int k = round % (STATS_MAX_RESPONDERS + 1); /* one more than kept */

		snprintf(ip, sizeof(ip), "198.51.100.%d", 10 + k);
		a = v4(ip);
		assert_int_equal(stats_sent(t, 2), 0);
		stats_answer(t, 2, STATS_TTL_EXPIRED, &a, 2000 + 100 * k, k < 4 ? m : NULL,
			     k < 4 ? 2 : 0);
	}
	h = stats_table_hop(t, 2);
	assert_int_equal(h->nresponders, STATS_MAX_RESPONDERS);
	assert_int_equal(h->cap_responders, STATS_MAX_RESPONDERS);
	assert_int_equal(h->overflow, 11); /* rounds 8, 17, ..., 98 */
	for (r = 0; r < h->nresponders; r++) {
		assert_int_equal(h->responders[r].nmpls, r < 4 ? 2 : 0);
		assert_true(r < 4 ? h->responders[r].mpls != NULL : h->responders[r].mpls == NULL);
		stats_responder_summarize(h, r, &s);
		assert_true(fabs(s.p50 - (2000 + 100.0 * (double)r) / 1000.0) < EPS);
	}
	assert_int_equal(h->responders[3].mpls[1].label, 17);
	bytes = stats_table_bytes(t);
	print_message("stats_table_bytes at 2 hops, 8 ECMP responders (4 with 2 labels): %zu\n",
		      bytes);
	assert_int_equal(bytes, before + sizeof(struct stats_hop) +
					STATS_MAX_RESPONDERS * sizeof(struct stats_responder) +
					4 * 2 * sizeof(struct stats_mpls));
	/* the overflow responder's answers count for the hop, in its ring too */
	stats_hop_summarize(h, &s);
	assert_true(fabs(s.worst - 2.8) < EPS);
	assert_true(fabs(s.p99 - 2.8) < EPS);
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
		cmocka_unit_test_setup_teardown(test_responder_percentiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hop_rtts_and_clamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_30_hops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_ecmp_mpls, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
