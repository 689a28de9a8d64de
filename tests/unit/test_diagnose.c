/*
 * test_diagnose: hand-built hop tables, fed probe by probe through the stats module, for
 * every case of the method an engineer uses to read an mtr report and its sample
 * analysis, the loss intervals' near misses both ways, region C by AS and by prefix,
 * the confirmation's outcomes and the reverse-path advice. Each test asserts the exact
 * list of finding kinds and hops, so a diagnosis that adds a false alarm or misses a
 * case fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/diagnose.h"
#include "client/stats.h"

#define TARGET	   "203.0.113.10"
#define MAX_KINDS  16
#define TEXT_MAX   16384
#define US_PER_MS  1000.0
#define ASSERT_EPS 0.05

/* One hop of a hand-built table. */
struct hopspec {
	const char *addr; /* NULL: never answers */
	int lost;	  /* probes lost (the first ones) */
	double ms;	  /* typical RTT */
	double spread;	  /* answers spread over ms +- spread (five-step pattern) */
	int nspike;	  /* the last nspike answers take ms + spike instead */
	double spike;
	int dest; /* answers as the destination */
};

struct expect {
	enum diagnose_kind kind;
	int hop;
};

static struct addr addr_of(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(s, ':')) {
		a.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
	} else {
		a.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	}
	return a;
}

/* -1, -0.5, 0, 0.5, 1 times the spread: a symmetric pattern whose median is ms. */
static int diag_run(const struct stats_table *t, const struct addr *target, int reached,
		    struct diagnose_result *out)
{
	struct diagnose_input in = {.t = t, .target = target, .dest_reached = reached};

	return diagnose_run(&in, out);
}

static double pattern(int k)
{
	static const double p[] = {0, -1, 1, -0.5, 0.5};

	return p[k % 5];
}

static void feed(struct stats_table *t, int ttl, const struct hopspec *h, int probes)
{
	struct addr a;
	int k, answers = probes - h->lost;

	if (h->addr)
		a = addr_of(h->addr);
	for (k = 0; k < probes; k++) {
		int ans = k - h->lost; /* index among the answers */
		double rtt;

		stats_sent(t, ttl);
		if (!h->addr || k < h->lost) {
			stats_answer(t, ttl, STATS_LOST, NULL, 0, NULL, 0);
			continue;
		}
		rtt = h->ms + h->spread * pattern(ans);
		if (ans >= answers - h->nspike)
			rtt = h->ms + h->spike;
		stats_answer(t, ttl, h->dest ? STATS_REPLY : STATS_TTL_EXPIRED, &a,
			     (int64_t)(rtt * US_PER_MS), NULL, 0);
	}
}

/*
 * Build the table from specs (hop 1 first), diagnose it against TARGET with what else
 * extra gives (AS lookup, confirmation, local address, protocol; NULL = nothing).
 */
static struct diagnose_result *run_in(const struct hopspec *hops, int n, int probes,
				      const struct diagnose_input *extra)
{
	static struct diagnose_result res;
	struct diagnose_input in;
	struct stats_table *t;
	struct addr target = addr_of(TARGET);
	int i;

	memset(&in, 0, sizeof(in));
	if (extra)
		in = *extra;
	assert_int_equal(stats_table_new(&t), 0);
	for (i = 0; i < n; i++)
		feed(t, i + 1, &hops[i], probes);
	in.t = t;
	if (!in.target)
		in.target = &target;
	in.dest_reached = t->dest_ttl > 0;
	assert_int_equal(diagnose_run(&in, &res), 0);
	stats_table_free(t);
	return &res;
}

static struct diagnose_result *run(const struct hopspec *hops, int n, int probes)
{
	return run_in(hops, n, probes, NULL);
}

static void dump(const struct diagnose_result *r)
{
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		fprintf(stderr, "  found %s at hop %d\n", diagnose_kind_id(r->findings[i].kind),
			r->findings[i].hop);
}

/* Exactly these findings, in this order. */
static void expect_exactly(const struct diagnose_result *r, const struct expect *e, size_t n)
{
	size_t i;

	if (r->nfindings != n)
		dump(r);
	assert_int_equal(r->nfindings, n);
	for (i = 0; i < n; i++) {
		if (r->findings[i].kind != e[i].kind || r->findings[i].hop != e[i].hop)
			dump(r);
		assert_string_equal(diagnose_kind_id(r->findings[i].kind),
				    diagnose_kind_id(e[i].kind));
		assert_int_equal(r->findings[i].hop, e[i].hop);
	}
	assert_int_equal(r->dropped, 0);
}

static void expect_hops(const struct diagnose_finding *f, const int *ttls, size_t n)
{
	size_t i;

	assert_int_equal(f->nhops, n);
	for (i = 0; i < n; i++)
		assert_int_equal(f->hops[i].ttl, ttls[i]);
}

static int has_severity(const struct diagnose_result *r, enum diagnose_severity s)
{
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity == s)
			return 1;
	return 0;
}

static char *print(const struct diagnose_result *r)
{
	static char buf[TEXT_MAX];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	assert_int_equal(diagnose_print(r, f), 0);
	fclose(f);
	return buf;
}

/* ---- the seed's sample output and analysis ---- */

/*
 * The seed's sample: 15 hops, 33 probes (hop 9's 30.3% is 10 of 33). Loss at hops 2, 6,
 * 7, 8, 9, none at 3, 4, 5, 10, 11 and 15 (and here none at 1, 12-14 either); hop 4 has
 * a high Wrst with a normal Avg; hop 9 a latency spike that later hops do not carry; Avg
 * from 1.8 to 17.6 ms. Hops 1-2 are the LAN and the CGNAT access (region A), hop 14 the
 * destination's gateway in its /24 (region C).
 */
static const struct hopspec seed_sample[] = {
	{"192.168.1.1", 0, 1.8, 0.1, 0, 0, 0},	  {"100.64.0.1", 3, 2.4, 0.1, 0, 0, 0},
	{"198.51.100.3", 0, 2.9, 0.1, 0, 0, 0},	  {"198.51.100.4", 0, 3.3, 0.1, 1, 30, 0},
	{"198.51.100.5", 0, 3.9, 0.1, 0, 0, 0},	  {"198.51.100.6", 2, 6.2, 0.2, 0, 0, 0},
	{"198.51.100.7", 4, 6.8, 0.2, 0, 0, 0},	  {"198.51.100.8", 6, 7.3, 0.2, 0, 0, 0},
	{"198.51.100.9", 10, 17.6, 1.0, 0, 0, 0}, {"198.51.100.10", 0, 8.1, 0.2, 0, 0, 0},
	{"198.51.100.11", 0, 8.9, 0.2, 0, 0, 0},  {"198.51.100.12", 0, 9.6, 0.2, 0, 0, 0},
	{"198.51.100.13", 0, 10.4, 0.2, 0, 0, 0}, {"203.0.113.254", 0, 11.2, 0.2, 0, 0, 0},
	{"203.0.113.10", 0, 12.0, 0.2, 0, 0, 1},
};

static void test_seed_sample(void **state)
{
	static const struct expect e[] = {
		{DIAGNOSE_RATE_LIMIT, 2},
		{DIAGNOSE_BRIEF_SPIKE, 4},
		{DIAGNOSE_RATE_LIMIT, 6},
		{DIAGNOSE_HOP_SPIKE, 9},
	};
	static const int run69[] = {6, 7, 8, 9};
	const struct diagnose_result *r = run(seed_sample, 15, 33);
	const struct diagnose_finding *f;
	const char *text;

	(void)state;
	expect_exactly(r, e, 4);
	expect_hops(&r->findings[0], (const int[]){2}, 1);
	expect_hops(&r->findings[2], run69, 4);
	f = &r->findings[2];
	assert_true(fabs(f->hops[3].loss_pct - 30.303) < ASSERT_EPS);
	/* The clean later hops are the proof: 10 and 11 and 15 among them. */
	assert_int_equal(f->clean[0], 10);
	assert_int_equal(f->clean[1], 11);
	assert_int_equal(f->clean[f->nclean - 1], 15);
	assert_int_equal(r->findings[0].clean[0], 3);
	/* Rate limiting, spikes: nothing to report to anyone, no reverse test needed. */
	assert_false(has_severity(r, DIAGNOSE_WARNING));
	assert_false(has_severity(r, DIAGNOSE_PROBLEM));
	for (size_t i = 0; i < r->nfindings; i++) {
		assert_int_equal(r->findings[i].contact, DIAGNOSE_CONTACT_NONE);
		assert_false(r->findings[i].reverse_path);
	}
	/* Regions: LAN and CGNAT access are A, the backbone B, the destination's /24 C. */
	assert_int_equal(r->findings[0].region, DIAGNOSE_REGION_A);
	assert_int_equal(r->findings[2].region, DIAGNOSE_REGION_B);
	/* The brief spike: Wrst far above, Avg within a millisecond of the median. */
	f = &r->findings[1];
	assert_true(f->hops[0].worst > 30);
	assert_true(f->hops[0].avg < f->hops[0].p50 + 1);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_NO_EXCEPTION);
	assert_true(fabs(r->avg_min - 1.8) < ASSERT_EPS);
	assert_true(fabs(r->avg_max - 17.6) < ASSERT_EPS);
	text = print(r);
	assert_non_null(strstr(text, "Diagnosis:\n"));
	assert_non_null(strstr(text, "Conclusion: No real network exceptions on this path"));
	assert_non_null(strstr(text, "ICMP throttling at intermediate carrier nodes"));
	assert_non_null(strstr(text, "198.51.100.9"));
	assert_non_null(strstr(text, " 30.3%"));
}

static void test_seed_regions(void **state)
{
	static const struct hopspec h[] = {
		{"192.168.1.1", 0, 1.0, 0.1, 0, 0, 0},	{"10.0.0.1", 0, 2.0, 0.1, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.1, 0, 0, 0}, {"198.51.100.4", 0, 4.0, 0.1, 0, 0, 0},
		{"203.0.113.1", 0, 5.0, 0.1, 0, 0, 0},	{"203.0.113.10", 5, 6.0, 0.1, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 6, 30);
	const struct diagnose_finding *f;

	(void)state;
	/* Only the destination loses: loss at the last hops, region C. */
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_LOSS, 6}}, 1);
	f = &r->findings[0];
	assert_int_equal(f->region, DIAGNOSE_REGION_C);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_DEST);
	assert_int_equal(f->severity, DIAGNOSE_WARNING);
	assert_true(f->reverse_path);
}

/* ---- Loss% ---- */

static const struct hopspec throttle_hop[] = {
	{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0}, {"198.51.100.2", 12, 2.0, 0.05, 0, 0, 0},
	{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
	{"203.0.113.10", 0, 5.0, 0.05, 0, 0, 1},
};

static void test_throttle_hop(void **state)
{
	const struct diagnose_result *r = run(throttle_hop, 5, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_RATE_LIMIT, 2}}, 1);
	assert_int_equal(f->severity, DIAGNOSE_INFO);
	assert_int_equal(f->nclean, 3);
	assert_int_equal(f->clean[0], 3);
	assert_int_equal(f->clean[2], 5);
	assert_int_equal(f->region, DIAGNOSE_REGION_B);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_NO_EXCEPTION);
}

static void test_real_loss(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 9, 3.0, 0.05, 0, 0, 0},  {"198.51.100.4", 8, 4.0, 0.05, 0, 0, 0},
		{"198.51.100.5", 10, 5.0, 0.05, 0, 0, 0}, {"203.0.113.10", 9, 6.0, 0.05, 0, 0, 1},
	};
	static const int hops[] = {3, 4, 5, 6};
	const struct diagnose_result *r = run(h, 6, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	expect_hops(f, hops, 4);
	assert_int_equal(f->severity, DIAGNOSE_PROBLEM);
	assert_true(f->reverse_path);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_CARRIER);
	assert_true(fabs(f->ref_loss_pct - 30.0) < ASSERT_EPS);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_PROBLEM);
	assert_non_null(strstr(print(r), "Conclusion: A real network exception: Real packet "
					 "loss at hop 3 (198.51.100.3)"));
}

static void test_mixed_loss(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 6, 3.0, 0.05, 0, 0, 0},
		{"198.51.100.4", 18, 4.0, 0.05, 0, 0, 0}, /* throttling on top */
		{"198.51.100.5", 13, 5.0, 0.05, 0, 0, 0},
		{"198.51.100.6", 6, 6.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 6, 7.0, 0.05, 0, 0, 1},
	};
	static const int hops[] = {3, 4, 5, 6, 7};
	const struct diagnose_result *r = run(h, 7, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_MIXED_LOSS, 3}}, 1);
	expect_hops(f, hops, 5);
	/* The reference is the last affected hop's rate, not the worst one. */
	assert_true(fabs(f->ref_loss_pct - 20.0) < ASSERT_EPS);
	assert_int_equal(f->severity, DIAGNOSE_PROBLEM);
	assert_true(f->reverse_path);
}

/* Throttling before real loss: both, each at its own hop. */
static void test_throttle_then_real_loss(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},  {"198.51.100.2", 15, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},  {"198.51.100.4", 12, 4.0, 0.05, 0, 0, 0},
		{"198.51.100.5", 12, 5.0, 0.05, 0, 0, 0}, {"203.0.113.10", 12, 6.0, 0.05, 0, 0, 1},
	};
	static const struct expect e[] = {{DIAGNOSE_RATE_LIMIT, 2}, {DIAGNOSE_REAL_LOSS, 4}};
	const struct diagnose_result *r = run(h, 6, 40);

	(void)state;
	expect_exactly(r, e, 2);
	assert_int_equal(r->findings[0].clean[0], 3);
}

/* One probe in sixty is not a finding. */
static void test_negligible_loss_is_clean(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 1, 2.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 3.0, 0.05, 0, 0, 1},
	};

	(void)state;
	expect_exactly(run(h, 3, 60), (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
}

/* A router that never answers, with answering hops after it: throttling, not a cut. */
static void test_silent_middle_hop(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{NULL, 0, 0, 0, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 4.0, 0.05, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 4, 20);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_RATE_LIMIT, 2}}, 1);
	assert_true(fabs(r->findings[0].hops[0].loss_pct - 100.0) < ASSERT_EPS);
}

/* ---- Avg and StDev ---- */

/* The seed: a StDev that is high on a 30 ms Avg ... */
static void test_high_stdev_relative(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 28.0, 0.1, 0, 0, 0},  {"198.51.100.2", 0, 29.0, 0.1, 0, 0, 0},
		{"198.51.100.3", 0, 30.0, 20.0, 0, 0, 0}, {"198.51.100.4", 0, 31.0, 0.1, 0, 0, 0},
		{"203.0.113.10", 0, 32.0, 0.1, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 5, 30);
	const struct diagnose_hop *d = &r->findings[0].hops[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_HIGH_STDEV, 3}}, 1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_INFO);
	/* Best and Wrst give the range the Avg hides. */
	assert_true(d->best < 11 && d->worst > 49);
	assert_true(d->stdev > 0.3 * d->avg);
	assert_non_null(strstr(print(r), "Best and Wrst give the real range"));
}

/* ... is not high on a 325 ms one. */
static void test_same_stdev_on_long_path_is_clean(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 300.0, 0.1, 0, 0, 0},  {"198.51.100.2", 0, 310.0, 0.1, 0, 0, 0},
		{"198.51.100.3", 0, 325.0, 35.0, 0, 0, 0}, {"198.51.100.4", 0, 330.0, 0.1, 0, 0, 0},
		{"203.0.113.10", 0, 335.0, 0.1, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 5, 30);

	(void)state;
	assert_true(r->findings[0].kind != DIAGNOSE_HIGH_STDEV);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_CLEAN);
}

/* A millisecond of spread on 1 ms hops is the prober's own noise, not a finding. */
static void test_small_spread_is_noise(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.5, 1.5, 0, 0, 0},
		{"198.51.100.2", 0, 2.5, 1.5, 0, 0, 0},
		{"203.0.113.10", 0, 3.5, 1.5, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 3, 30);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
}

/* Spread that goes on to the destination is what traffic sees: a warning. */
static void test_high_stdev_to_destination(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 10.0, 0.1, 0, 0, 0},
		{"198.51.100.2", 0, 30.0, 20.0, 0, 0, 0},
		{"198.51.100.3", 0, 31.0, 20.0, 0, 0, 0},
		{"203.0.113.10", 0, 32.0, 20.0, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 4, 30);
	size_t i;

	(void)state;
	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].kind == DIAGNOSE_HIGH_STDEV)
			break;
	assert_true(i < r->nfindings);
	assert_int_equal(r->findings[i].hop, 2);
	assert_int_equal(r->findings[i].nhops, 3);
	assert_int_equal(r->findings[i].severity, DIAGNOSE_WARNING);
}

/* ---- latency spikes ---- */

static void test_latency_step(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 42.0, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 43.0, 0.05, 0, 0, 0},
		{"198.51.100.5", 0, 44.0, 0.05, 0, 0, 0}, {"203.0.113.10", 0, 45.0, 0.05, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 6, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_LATENCY_STEP, 3}}, 1);
	assert_int_equal(f->severity, DIAGNOSE_WARNING);
	assert_true(f->reverse_path); /* latency alone does not confirm loss */
	assert_true(fabs(f->baseline_ms - 2.0) < ASSERT_EPS);
	assert_true(fabs(f->level_ms - 42.0) < ASSERT_EPS);
	assert_int_equal(f->nhops, 4);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_CARRIER);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_CHECK);
}

static void test_spike_one_hop(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 53.0, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
		{"198.51.100.5", 0, 5.0, 0.05, 0, 0, 0},  {"203.0.113.10", 0, 6.0, 0.05, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 6, 30);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_HOP_SPIKE, 3}}, 1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_INFO);
	assert_int_equal(r->findings[0].clean[0], 4);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_NO_EXCEPTION);
}

/* Small rises hop after hop are a path growing, not a step (the seed's 1.8..17.6 ms). */
static void test_gradual_rise_is_clean(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 2.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 8.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 15.0, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 23.0, 0.05, 0, 0, 0},
		{"198.51.100.5", 0, 32.0, 0.05, 0, 0, 0}, {"203.0.113.10", 0, 41.0, 0.05, 0, 0, 1},
	};

	(void)state;
	expect_exactly(run(h, 6, 30), (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
}

/* The seed's hop 9: a few ms over both neighbours is a spike of that hop's own answers. */
static void test_small_spike_confined(void **state)
{
	static const struct hopspec spike[] = {
		{"198.51.100.1", 0, 2.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 10.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 16.5, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 11.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 12.0, 0.05, 0, 0, 1},
	};
	/* The same 6.5 ms rise kept by every later hop: one more link, nothing to report. */
	static const struct hopspec kept[] = {
		{"198.51.100.1", 0, 2.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 10.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 16.5, 0.05, 0, 0, 0}, {"198.51.100.4", 0, 17.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 18.0, 0.05, 0, 0, 1},
	};

	(void)state;
	expect_exactly(run(spike, 5, 30), (const struct expect[]){{DIAGNOSE_HOP_SPIKE, 3}}, 1);
	expect_exactly(run(kept, 5, 30), (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
}

static void test_brief_spike(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},   {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 3, 120, 0}, {"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 5.0, 0.05, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 5, 30);
	const struct diagnose_hop *d = &r->findings[0].hops[0];

	(void)state;
	/* The StDev is high because of three answers: a brief spike, nothing more. */
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_BRIEF_SPIKE, 3}}, 1);
	assert_true(d->worst >= 123);
	assert_true(fabs(d->p50 - 3.0) < ASSERT_EPS);
}

/* The same spike in most rounds is no longer brief. */
static void test_frequent_spikes_are_not_brief(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},   {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 12, 60, 0}, {"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 0, 5.0, 0.05, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 5, 30);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_HIGH_STDEV, 3}}, 1);
}

/* ---- common failure scenarios ---- */

static void test_dest_drops_icmp(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},
		{"203.0.113.1", 0, 4.0, 0.05, 0, 0, 0}, /* the destination's gateway */
		{NULL, 0, 0, 0, 0, 0, 0},
		{NULL, 0, 0, 0, 0, 0, 0},
	};
	const struct diagnose_result *r = run(h, 6, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_DROPS_ICMP, 5}}, 1);
	assert_int_equal(f->region, DIAGNOSE_REGION_C);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_DEST);
	assert_int_equal(f->severity, DIAGNOSE_WARNING);
	assert_true(fabs(f->hops[0].loss_pct - 100.0) < ASSERT_EPS);
	assert_false(r->dest_reached);
}

/*
 * Loss from the last carrier hop before the destination, carried through it: the
 * destination's network starts nowhere on this path but at the destination, so this is
 * real loss at a carrier's hop, not the destination's policy.
 */
static const struct hopspec last_carrier_loss[] = {
	{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},  {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
	{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},  {"198.51.100.4", 12, 4.0, 0.05, 0, 0, 0},
	{"203.0.113.10", 15, 5.0, 0.05, 0, 0, 1},
};

static void test_last_carrier_hop_loss(void **state)
{
	static const int hops[] = {4, 5};
	const struct diagnose_result *r = run(last_carrier_loss, 5, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 4}}, 1);
	expect_hops(f, hops, 2);
	assert_int_equal(f->region, DIAGNOSE_REGION_B);
	assert_int_equal(f->hops[0].region, DIAGNOSE_REGION_B);
	assert_int_equal(f->hops[1].region, DIAGNOSE_REGION_C);
	assert_int_equal(f->severity, DIAGNOSE_PROBLEM);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_CARRIER);
	assert_true(f->reverse_path);
	assert_true(fabs(f->ref_loss_pct - 50.0) < ASSERT_EPS);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_PROBLEM);
}

/* The same loss starting at the destination's gateway (in its /24): its own policy. */
static void test_dest_throttle(void **state)
{
	struct hopspec h[5];
	static const int hops[] = {4, 5};
	const struct diagnose_result *r;
	const struct diagnose_finding *f;

	(void)state;
	memcpy(h, last_carrier_loss, sizeof(h));
	h[3].addr = "203.0.113.254";
	r = run(h, 5, 30);
	f = &r->findings[0];
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_LOSS, 4}}, 1);
	expect_hops(f, hops, 2);
	assert_int_equal(f->region, DIAGNOSE_REGION_C);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_DEST);
	assert_int_equal(f->severity, DIAGNOSE_WARNING);
	assert_true(f->reverse_path);
	assert_true(fabs(f->ref_loss_pct - 50.0) < ASSERT_EPS);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_CHECK);
}

static void test_routing_loop(void **state)
{
	static const struct hopspec a = {"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0};
	static const struct hopspec b = {"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0};
	struct hopspec h[10] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
	};
	static const int hops[] = {3, 4, 5, 6};
	const struct diagnose_result *r;
	int i;

	(void)state;
	for (i = 2; i < 10; i++)
		h[i] = (i % 2) ? b : a;
	r = run(h, 10, 30);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_ROUTING_LOOP, 3}}, 1);
	assert_int_equal(r->findings[0].period, 2);
	expect_hops(&r->findings[0], hops, 4);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_CARRIER);
}

static void test_interruption(void **state)
{
	struct hopspec h[10] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},
		{"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
	}; /* 5..10 never answer */
	const struct diagnose_result *r = run(h, 10, 30);
	const struct diagnose_finding *f = &r->findings[0];

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 4}}, 1);
	assert_int_equal(f->severity, DIAGNOSE_PROBLEM);
	assert_true(f->reverse_path);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_CARRIER);
	assert_false(f->no_route);
	assert_int_equal(r->final_hop, 5);
	assert_non_null(strstr(print(r), "Nothing answers past hop 4"));
}

/* Nothing answers at all: the local end is the first suspect. */
static void test_nothing_answers(void **state)
{
	struct hopspec h[6] = {{NULL, 0, 0, 0, 0, 0, 0}};
	const struct diagnose_result *r = run(h, 6, 30);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 0}}, 1);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_LOCAL_ADMIN);
}

static void test_no_route(void **state)
{
	static const struct hopspec h[] = {
		{"192.168.1.1", 0, 1.0, 0.05, 0, 0, 0},
	};
	struct stats_table *t;
	struct addr target = addr_of(TARGET), from = addr_of("198.51.100.2");
	static struct diagnose_result r;
	int k;

	(void)state;
	assert_int_equal(stats_table_new(&t), 0);
	feed(t, 1, &h[0], 20);
	for (k = 0; k < 20; k++) {
		stats_sent(t, 2);
		stats_answer(t, 2, STATS_UNREACHABLE, &from, 2000, NULL, 0);
	}
	assert_int_equal(diag_run(t, &target, 0, &r), 0);
	stats_table_free(t);
	expect_exactly(&r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 2}}, 1);
	assert_true(r.findings[0].no_route);
}

/* ---- negative cases ---- */

static void test_clean(void **state)
{
	static const struct hopspec h[] = {
		{"192.168.1.1", 0, 1.0, 0.05, 0, 0, 0}, {"198.51.100.2", 0, 2.0, 0.1, 0, 0, 0},
		{"198.51.100.3", 0, 3.0, 0.1, 0, 0, 0}, {"198.51.100.4", 0, 4.0, 0.1, 0, 0, 0},
		{"203.0.113.10", 0, 5.0, 0.1, 0, 0, 1},
	};
	const struct diagnose_result *r = run(h, 5, 10);
	const char *text;

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_CLEAN, 0}}, 1);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_CLEAN);
	assert_true(r->dest_reached);
	text = print(r);
	assert_non_null(strstr(text, "Conclusion: No problem found on this path"));
	assert_null(strstr(text, "Contact"));
}

static void test_too_few_probes(void **state)
{
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 2, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", 3, 3.0, 0.05, 0, 0, 0},
		{"198.51.100.4", 0, 90.0, 0.05, 0, 0, 0},
	};
	const struct diagnose_result *r = run(h, 4, DIAGNOSE_MIN_PROBES - 1);

	(void)state;
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_INSUFFICIENT, 0}}, 1);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_INSUFFICIENT);
	assert_false(has_severity(r, DIAGNOSE_WARNING));
	assert_false(has_severity(r, DIAGNOSE_PROBLEM));
}

/* Five probes into an interruption: not enough to call a node down. */
static void test_too_few_probes_interruption(void **state)
{
	struct hopspec h[5] = {{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0}};

	(void)state;
	expect_exactly(run(h, 5, 5), (const struct expect[]){{DIAGNOSE_INSUFFICIENT, 0}}, 1);
}

static void test_deterministic_and_bad_args(void **state)
{
	static struct diagnose_result a, b;
	struct stats_table *t;
	struct addr target = addr_of(TARGET);
	size_t i;

	(void)state;
	assert_int_equal(stats_table_new(&t), 0);
	for (i = 0; i < sizeof(seed_sample) / sizeof(seed_sample[0]); i++)
		feed(t, (int)i + 1, &seed_sample[i], 33);
	memset(&b, 0xa5, sizeof(b));
	assert_int_equal(diag_run(t, &target, 1, &a), 0);
	assert_int_equal(diag_run(t, &target, 1, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(diagnose_run(NULL, &a), -EINVAL);
	assert_int_equal(
		diagnose_run(&(struct diagnose_input){.t = t, .target = &target, .dest_reached = 1},
			     NULL),
		-EINVAL);
	/* Without a target address: no region C by prefix, still a diagnosis. */
	assert_int_equal(diag_run(t, NULL, 1, &a), 0);
	assert_int_equal(a.nfindings, 4);
	stats_table_free(t);
}

/* ---- loss intervals: near misses both ways ---- */

/* A path of six hops, loss from hop 3 on: a, b at hops 3 and 4, c at hops 5 and 6. */
static struct diagnose_result *run_loss(int a, int b, int c, int probes)
{
	struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0}, {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{"198.51.100.3", a, 3.0, 0.05, 0, 0, 0}, {"198.51.100.4", b, 4.0, 0.05, 0, 0, 0},
		{"198.51.100.5", c, 5.0, 0.05, 0, 0, 0}, {"203.0.113.10", c, 6.0, 0.05, 0, 0, 1},
	};

	return run(h, 6, probes);
}

/*
 * 100 probes: 30% everywhere but 45% at hop 4 agrees (95% intervals 21.9-39.6% and
 * 35.6-54.4% overlap): real loss. 50% at hop 4 (40.4-59.6%) lies wholly above the
 * reference: throttling on top, mixed loss.
 */
static void test_interval_large_sample(void **state)
{
	const struct diagnose_result *r;

	(void)state;
	r = run_loss(30, 45, 30, 100);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_true(fabs(r->findings[0].hops[0].loss_lo - 21.9) < 0.1);
	assert_true(fabs(r->findings[0].hops[0].loss_hi - 39.6) < 0.1);
	assert_true(fabs(r->findings[0].hops[1].loss_lo - 35.6) < 0.1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
	r = run_loss(30, 50, 30, 100);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_MIXED_LOSS, 3}}, 1);
	assert_true(fabs(r->findings[0].hops[1].loss_lo - 40.4) < 0.1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
}

/*
 * 30 probes: 40% at hop 3 is carried by 10% later (intervals 24.6-57.7% and 3.5-25.6%
 * touch), not by 6.7% (1.8-21.3%): then hop 3 is throttling and the loss from hop 4 on
 * is too small a sample (its interval reaches below the floor) for more than a warning.
 */
static void test_interval_small_sample(void **state)
{
	const struct diagnose_result *r;
	double sure, near;

	(void)state;
	r = run_loss(12, 3, 3, 30);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
	near = r->findings[0].confidence;
	r = run_loss(12, 2, 2, 30);
	expect_exactly(
		r, (const struct expect[]){{DIAGNOSE_RATE_LIMIT, 3}, {DIAGNOSE_REAL_LOSS, 4}}, 2);
	assert_int_equal(r->findings[0].nclean, 3); /* hops 4-6 lose clearly less */
	assert_int_equal(r->findings[0].clean[0], 4);
	assert_int_equal(r->findings[1].severity, DIAGNOSE_WARNING);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_CHECK);
	assert_non_null(strstr(print(r), "too small to tell"));
	/* The near miss is a weak claim; rates that agree outright a strong one. */
	r = run_loss(9, 9, 9, 30);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	sure = r->findings[0].confidence;
	assert_true(sure > 0.9 && sure <= 1.0);
	assert_true(near >= 0 && near < 0.2);
}

/* 10 and 12 probes: wide intervals agree easily, and a single lost probe is no fault. */
static void test_interval_tiny_sample(void **state)
{
	const struct diagnose_result *r;

	(void)state;
	/* 10: 4 lost (16.8-68.7%) and 1 lost (1.8-40.4%) agree. */
	r = run_loss(4, 1, 1, 10);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_WARNING);
	/* 12: 7 lost (32.0-80.7%) agrees with 1 (1.5-35.4%), 8 (39.1-86.2%) does not. */
	r = run_loss(7, 1, 1, 12);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	r = run_loss(8, 1, 1, 12);
	expect_exactly(
		r, (const struct expect[]){{DIAGNOSE_RATE_LIMIT, 3}, {DIAGNOSE_REAL_LOSS, 4}}, 2);
	assert_int_equal(r->findings[1].severity, DIAGNOSE_WARNING);
	assert_false(has_severity(r, DIAGNOSE_PROBLEM));
}

/* Throttling's confidence: how far the lossy hop's interval is from the clean hops'. */
static void test_rate_limit_confidence(void **state)
{
	const struct diagnose_result *r = run(throttle_hop, 5, 30);
	const struct diagnose_finding *f = &r->findings[0];
	struct json_object *arr, *ev, *v;

	(void)state;
	assert_true(f->confidence > 0.99);
	assert_true(fabs(f->clean_pct) < ASSERT_EPS);
	assert_true(f->clean_hi > 0 && f->clean_hi < f->hops[0].loss_lo);
	assert_non_null(strstr(print(r), "Confidence 1.00"));
	arr = diagnose_json(r);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "evidence", &ev));
	assert_true(json_object_object_get_ex(ev, "clean_interval", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(ev, "loss_interval", &v));
	assert_true(fabs(json_object_get_double(json_object_array_get_idx(v, 0)) - 24.6) < 0.1);
	assert_true(json_object_object_get_ex(ev, "interval_level", &v));
	assert_int_equal(json_object_get_int(v), DIAGNOSE_LOSS_LEVEL);
	json_object_put(arr);
}

/* ---- region C by AS, contacts by AS ---- */

struct as_row {
	const char *addr;
	struct diagnose_as as;
};

struct as_table {
	const struct as_row *rows;
	size_t n;
	int calls;
};

static const struct diagnose_as *fake_as(void *ctx, const struct addr *a)
{
	struct as_table *t = ctx;
	size_t i;

	t->calls++;
	for (i = 0; i < t->n; i++) {
		struct addr x = addr_of(t->rows[i].addr);

		if (addr_equal(&x, a))
			return &t->rows[i].as;
	}
	return NULL;
}

#define AS_CARRIER                                                                                 \
	{                                                                                          \
		64500, "EXAMPLE-CARRIER", "198.51.100.0/24"                                        \
	}
#define AS_DEST                                                                                    \
	{                                                                                          \
		64501, "EXAMPLE-HOSTING", "203.0.113.0/24"                                         \
	}

static const struct as_row as_rows[] = {
	{"198.51.100.1", AS_CARRIER},
	{"198.51.100.2", AS_CARRIER},
	{"192.0.2.1", AS_DEST}, /* the destination's own router, outside its /24 */
	{"203.0.113.254", {64502, "OTHER-CARRIER", ""}}, /* in its /24, another AS */
	{"203.0.113.10", AS_DEST},
};

/* Loss from hop 3 (addr) to the end. */
static struct diagnose_result *run_as(const char *addr, int with_as)
{
	static struct as_table tab;
	const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
		{addr, 9, 3.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 9, 4.0, 0.05, 0, 0, 1},
	};
	struct diagnose_input in = {0};

	tab = (struct as_table){as_rows, sizeof(as_rows) / sizeof(as_rows[0]), 0};
	if (with_as) {
		in.as_of = fake_as;
		in.as_ctx = &tab;
	}
	return run_in(h, 4, 30, &in);
}

static void test_region_by_as(void **state)
{
	const struct diagnose_result *r;
	const char *text;

	(void)state;
	/* Outside the destination's /24 but in its AS: its network, its own policy. */
	r = run_as("192.0.2.1", 1);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_LOSS, 3}}, 1);
	assert_int_equal(r->findings[0].region, DIAGNOSE_REGION_C);
	assert_int_equal(r->findings[0].as.asn, 64501);
	text = print(r);
	assert_non_null(strstr(text, "Contact: the destination's administrator or hosting "
				     "provider: AS64501 EXAMPLE-HOSTING (203.0.113.0/24)."));
	/* Without AS data, by prefix: a carrier's hop, real loss. */
	r = run_as("192.0.2.1", 0);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_int_equal(r->findings[0].region, DIAGNOSE_REGION_B);
	assert_int_equal(r->findings[0].as.asn, 0);
	/* In the destination's /24 but another AS: the AS decides, a carrier's hop. */
	r = run_as("203.0.113.254", 1);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_int_equal(r->findings[0].region, DIAGNOSE_REGION_B);
	assert_non_null(strstr(print(r), "Contact: the carrier that operates this hop: "
					 "AS64502 OTHER-CARRIER."));
	/* ... and by prefix without AS data: the destination's network. */
	r = run_as("203.0.113.254", 0);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_LOSS, 3}}, 1);
}

static void test_contact_names_as(void **state)
{
	static struct as_table tab;
	struct diagnose_input in = {0};
	struct json_object *arr, *f, *as, *v;
	const struct diagnose_result *r;
	const char *text;
	static const struct hopspec h[] = {
		{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
		{"198.51.100.2", 9, 2.0, 0.05, 0, 0, 0},
		{"203.0.113.10", 9, 3.0, 0.05, 0, 0, 1},
	};

	(void)state;
	tab = (struct as_table){as_rows, sizeof(as_rows) / sizeof(as_rows[0]), 0};
	in.as_of = fake_as;
	in.as_ctx = &tab;
	r = run_in(h, 3, 30, &in);
	assert_true(tab.calls > 0);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 2}}, 1);
	text = print(r);
	assert_non_null(strstr(text, "Contact: the carrier that operates this hop: AS64500 "
				     "EXAMPLE-CARRIER (198.51.100.0/24)."));
	assert_non_null(strstr(text, "Contact the carrier that operates this hop: AS64500 "
				     "EXAMPLE-CARRIER (198.51.100.0/24), after a reverse-path"));
	assert_null(strstr(text, "look up who owns"));
	arr = diagnose_json(r);
	f = json_object_array_get_idx(arr, 0);
	assert_true(json_object_object_get_ex(f, "as", &as));
	assert_true(json_object_object_get_ex(as, "asn", &v));
	assert_int_equal(json_object_get_int64(v), 64500);
	assert_true(json_object_object_get_ex(as, "name", &v));
	assert_string_equal(json_object_get_string(v), "EXAMPLE-CARRIER");
	assert_true(json_object_object_get_ex(as, "prefix", &v));
	assert_string_equal(json_object_get_string(v), "198.51.100.0/24");
	json_object_put(arr);
	/* Without AS data: look the owner up, and no "as" in the JSON. */
	r = run(h, 3, 30);
	assert_non_null(strstr(print(r), "this hop (look up who owns its address)."));
	arr = diagnose_json(r);
	assert_false(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "as", &v));
	json_object_put(arr);
}

/* ---- the confirmation ---- */

/* Hops 1-4 answer, nothing after (ten hops shown): an ICMP trace ending in silence. */
static const struct hopspec silent_end[10] = {
	{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
	{"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
	{"198.51.100.3", 0, 3.0, 0.05, 0, 0, 0},
	{"198.51.100.4", 0, 4.0, 0.05, 0, 0, 0},
};

static struct diagnose_confirm_probe cprobe(enum proto_protocol p, int port, int ttl, uint32_t sent,
					    uint32_t answered, uint32_t from_dest, const char *from)
{
	struct diagnose_confirm_probe c;

	memset(&c, 0, sizeof(c));
	c.protocol = p;
	c.port = port;
	c.ttl = ttl;
	c.sent = sent;
	c.answered = answered;
	c.from_dest = from_dest;
	c.last_reply = answered ? (from_dest ? PROTO_REPLY_REPLY : PROTO_REPLY_TTL_EXPIRED)
				: PROTO_REPLY_NO_REPLY;
	if (from)
		c.from = addr_of(from);
	return c;
}

static struct diagnose_confirm *confirm_of(const struct diagnose_confirm_probe *p, size_t n)
{
	static struct diagnose_confirm c;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.ran = 1;
	for (i = 0; i < n; i++) {
		c.p[i] = p[i];
		c.probes_sent += p[i].sent;
	}
	c.n = n;
	return &c;
}

/* (a) The destination answers TCP: it drops ICMP echo, the path works. */
static void test_confirm_dest_drops_icmp(void **state)
{
	const struct diagnose_confirm_probe p[] = {
		cprobe(PROTO_PROTOCOL_TCP, 443, 0, 3, 3, 3, TARGET),
		cprobe(PROTO_PROTOCOL_UDP, 33434, 0, 3, 0, 0, NULL),
	};
	struct diagnose_input in = {.confirm = confirm_of(p, 2)};
	struct json_object *o, *f, *ev, *v;
	const struct diagnose_result *r;
	const char *text;

	(void)state;
	r = run_in(silent_end, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_DROPS_ICMP, 5}}, 1);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_INFO);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_NONE);
	assert_false(r->findings[0].reverse_path);
	assert_true(r->findings[0].confirmed);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP);
	text = print(r);
	assert_non_null(strstr(text, "but TCP 443 reached it: the destination drops ICMP echo"));
	assert_non_null(strstr(text, "Confirmation: 6 probes sent (TCP 443: 3/3 from the "
				     "destination, UDP 33434: 0/3)\n"));
	assert_non_null(strstr(text, "Conclusion: The destination drops ICMP"));
	assert_null(strstr(text, "Contact"));
	o = diagnose_json(r);
	f = json_object_array_get_idx(o, 0);
	assert_true(json_object_object_get_ex(f, "confirmed", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(f, "evidence", &ev));
	assert_true(json_object_object_get_ex(ev, "reached_by", &v));
	assert_int_equal(json_object_array_length(v), 1);
	json_object_put(o);
	o = diagnose_json_conclusion(r);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_string_equal(json_object_get_string(v), "dest_drops_icmp");
	json_object_put(o);
	o = diagnose_json_confirmation(r);
	assert_true(json_object_object_get_ex(o, "probes_sent", &v));
	assert_int_equal(json_object_get_int(v), 6);
	assert_true(json_object_object_get_ex(o, "probes", &v));
	assert_int_equal(json_object_array_length(v), 2);
	f = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(f, "protocol", &v));
	assert_string_equal(json_object_get_string(v), "tcp");
	assert_true(json_object_object_get_ex(f, "port", &v));
	assert_int_equal(json_object_get_int(v), 443);
	assert_true(json_object_object_get_ex(f, "from_dest", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(f, "reply", &v));
	assert_string_equal(json_object_get_string(v), "reply");
	assert_true(json_object_object_get_ex(f, "from", &v));
	assert_string_equal(json_object_get_string(v), TARGET);
	json_object_put(o);
}

/* (b) Nothing answers past hop 4 by any protocol: a confirmed interruption. */
static void test_confirm_interruption(void **state)
{
	const struct diagnose_confirm_probe p[] = {
		cprobe(PROTO_PROTOCOL_TCP, 443, 0, 3, 0, 0, NULL),
		cprobe(PROTO_PROTOCOL_TCP, 80, 5, 3, 0, 0, NULL),
		cprobe(PROTO_PROTOCOL_UDP, 33434, 4, 3, 3, 0, "198.51.100.4"), /* hop 4 itself */
	};
	struct diagnose_confirm_probe beyond[4];
	struct diagnose_input in = {.confirm = confirm_of(p, 3)};
	const struct diagnose_result *r;
	struct hopspec gw[10];

	(void)state;
	r = run_in(silent_end, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 4}}, 1);
	assert_true(r->findings[0].confirmed);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_CARRIER);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_PROBLEM);
	assert_non_null(strstr(print(r), "Nothing answers past hop 4 by any protocol: the trace "
					 "(ICMP) and the confirmation (TCP 443, TCP 80 TTL 5, "
					 "UDP 33434 TTL 4) all stop there"));
	/* Hop 4 itself refusing a probe to the destination is no answer from beyond it. */
	memcpy(beyond, p, sizeof(p));
	beyond[3] = cprobe(PROTO_PROTOCOL_TCP, 22, 0, 3, 3, 0, "198.51.100.4");
	in.confirm = confirm_of(beyond, 4);
	r = run_in(silent_end, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 4}}, 1);
	assert_true(r->findings[0].confirmed);
	/* A router past hop 4 answered TCP: not proof of an interruption. */
	memcpy(beyond, p, sizeof(p));
	beyond[3] = cprobe(PROTO_PROTOCOL_TCP, 443, 6, 3, 3, 0, "198.51.100.6");
	in.confirm = confirm_of(beyond, 4);
	r = run_in(silent_end, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 4}}, 1);
	assert_false(r->findings[0].confirmed);
	/* Silent after the destination's gateway, and by every protocol: no ICMP policy. */
	memcpy(gw, silent_end, sizeof(gw));
	gw[3].addr = "203.0.113.254";
	in.confirm = NULL;
	r = run_in(gw, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_DROPS_ICMP, 5}}, 1);
	assert_false(r->findings[0].confirmed);
	in.confirm = confirm_of(p, 2);
	r = run_in(gw, 10, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_PATH_INTERRUPTION, 4}}, 1);
	assert_true(r->findings[0].confirmed);
	assert_int_equal(r->findings[0].region, DIAGNOSE_REGION_C);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_DEST);
}

/* (c) Loss at the last hops against TCP to the destination. */
static void test_confirm_end_loss(void **state)
{
	struct diagnose_confirm_probe p[] = {
		cprobe(PROTO_PROTOCOL_TCP, 443, 0, 20, 20, 20, TARGET),
		cprobe(PROTO_PROTOCOL_TCP, 80, 0, 3, 0, 0, NULL), /* filtered: no evidence */
	};
	struct diagnose_input in = {.confirm = confirm_of(p, 2)};
	const struct diagnose_result *r;
	const struct diagnose_finding *f;

	(void)state;
	/* Every TCP answer (0-16.1%) while ICMP loses 50% (33.2-66.8%): ICMP policy. */
	r = run_in(last_carrier_loss, 5, 30, &in);
	f = &r->findings[0];
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_DEST_LOSS, 4}}, 1);
	assert_true(f->confirmed);
	assert_int_equal(f->severity, DIAGNOSE_INFO);
	assert_int_equal(f->contact, DIAGNOSE_CONTACT_NONE);
	assert_int_equal(f->confirm_sent, 20);
	assert_int_equal(f->confirm_answered, 20);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_NO_EXCEPTION);
	assert_non_null(strstr(print(r), "got every answer (20/20)"));
	/* TCP loses 9 of 20 (45%): agrees with the ICMP loss, real loss confirmed. */
	p[0] = cprobe(PROTO_PROTOCOL_TCP, 443, 0, 20, 11, 11, TARGET);
	in.confirm = confirm_of(p, 2);
	r = run_in(last_carrier_loss, 5, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 4}}, 1);
	assert_true(r->findings[0].confirmed);
	assert_int_equal(r->findings[0].severity, DIAGNOSE_PROBLEM);
	assert_non_null(strstr(print(r), "lost 9 of 20 probes too"));
	/* TCP loses 1 of 30 (0.6-16.7%), far below ICMP's 50%: neither reading fits. */
	p[0] = cprobe(PROTO_PROTOCOL_TCP, 443, 0, 30, 29, 29, TARGET);
	in.confirm = confirm_of(p, 2);
	r = run_in(last_carrier_loss, 5, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 4}}, 1);
	assert_false(r->findings[0].confirmed);
	/* Three answers of three cannot exclude 50%: nothing settled. */
	p[0] = cprobe(PROTO_PROTOCOL_TCP, 443, 0, 3, 3, 3, TARGET);
	in.confirm = confirm_of(p, 2);
	r = run_in(last_carrier_loss, 5, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 4}}, 1);
	assert_false(r->findings[0].confirmed);
	assert_non_null(strstr(print(r), "3 of 3 answered, which settles neither reading"));
	/* Loss only at the destination, and TCP loses as much: real loss in region C. */
	p[0] = cprobe(PROTO_PROTOCOL_TCP, 443, 0, 30, 25, 25, TARGET);
	in.confirm = confirm_of(p, 1);
	r = run_in((const struct hopspec[]){{"198.51.100.1", 0, 1.0, 0.05, 0, 0, 0},
					    {"198.51.100.2", 0, 2.0, 0.05, 0, 0, 0},
					    {"203.0.113.10", 5, 3.0, 0.05, 0, 0, 1}},
		   3, 30, &in);
	expect_exactly(r, (const struct expect[]){{DIAGNOSE_REAL_LOSS, 3}}, 1);
	assert_true(r->findings[0].confirmed);
	assert_int_equal(r->findings[0].contact, DIAGNOSE_CONTACT_DEST);
}

/* ---- the reverse-path command ---- */

static const char *reverse_text(const char *local, enum proto_protocol proto, int port,
				const char *name)
{
	struct addr a;
	struct diagnose_input in = {.protocol = proto, .port = port, .target_name = name};

	if (local) {
		a = addr_of(local);
		in.local = &a;
	}
	return print(run_in(last_carrier_loss, 5, 30, &in));
}

static void test_reverse_command(void **state)
{
	struct addr a = addr_of("192.0.2.7");
	struct diagnose_input in = {.local = &a, .protocol = PROTO_PROTOCOL_TCP, .port = 443};
	struct json_object *arr, *v;
	char cmd[128];

	(void)state;
	/* Documentation space counts as public, so lab paths get the command. */
	assert_non_null(strstr(reverse_text("192.0.2.7", PROTO_PROTOCOL_ICMP, 0, "example.net"),
			       "From example.net, run: mtr -r -c 100 192.0.2.7\n"));
	assert_non_null(strstr(reverse_text("192.0.2.7", PROTO_PROTOCOL_TCP, 443, NULL),
			       "From 203.0.113.10, run: mtr -r -c 100 -T -P 443 192.0.2.7\n"));
	assert_non_null(strstr(reverse_text("2001:db8::7", PROTO_PROTOCOL_UDP, 33434, "h"),
			       "From h, run: mtr -r -c 100 -u 2001:db8::7\n"));
	/* Private, CGNAT, ULA or unknown: the third-host advice, no command. */
	static const char *const priv[] = {"192.168.1.10", "100.64.1.1", "10.1.2.3",
					   "fd00::1",	   "fe80::1",	 NULL};
	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		const char *t = reverse_text(priv[i], PROTO_PROTOCOL_ICMP, 0, "example.net");

		assert_null(strstr(t, "run: mtr"));
		assert_non_null(strstr(t, "trace from a third host with a public address"));
		assert_non_null(strstr(t, priv[i] ? "private (behind NAT)" : "not known"));
	}
	arr = diagnose_json(run_in(last_carrier_loss, 5, 30, &in));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0),
					      "reverse_path_command", &v));
	assert_string_equal(json_object_get_string(v), "mtr -r -c 100 -T -P 443 192.0.2.7");
	json_object_put(arr);
	assert_int_equal(diagnose_reverse_command(run_in(last_carrier_loss, 5, 30, &in), cmd, 8),
			 -ENOSPC);
	in.local = NULL;
	arr = diagnose_json(run_in(last_carrier_loss, 5, 30, &in));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0),
					      "reverse_path_command", &v));
	assert_null(v);
	json_object_put(arr);
}

/* ---- names and JSON ---- */

static void test_ids(void **state)
{
	int k;
	size_t i;
	const char *seen[DIAGNOSE_KIND__COUNT];

	(void)state;
	for (k = 0; k < DIAGNOSE_KIND__COUNT; k++) {
		seen[k] = diagnose_kind_id((enum diagnose_kind)k);
		assert_non_null(seen[k]);
		assert_string_not_equal(seen[k], "unknown");
		for (i = 0; i < (size_t)k; i++)
			assert_string_not_equal(seen[i], seen[k]);
	}
	assert_string_equal(diagnose_kind_id(DIAGNOSE_RATE_LIMIT), "icmp_rate_limit");
	assert_string_equal(diagnose_kind_id(DIAGNOSE_KIND__COUNT), "unknown");
	assert_string_equal(diagnose_severity_id(DIAGNOSE_PROBLEM), "problem");
	assert_string_equal(diagnose_region_id(DIAGNOSE_REGION_C), "C");
	assert_string_equal(diagnose_contact_id(DIAGNOSE_CONTACT_CARRIER), "carrier");
}

static void test_json(void **state)
{
	struct json_object *arr, *f, *v, *hops;
	const struct diagnose_result *r = run(seed_sample, 15, 33);

	(void)state;
	arr = diagnose_json(r);
	assert_non_null(arr);
	assert_int_equal(json_object_array_length(arr), 4);
	f = json_object_array_get_idx(arr, 2);
	assert_true(json_object_object_get_ex(f, "kind", &v));
	assert_string_equal(json_object_get_string(v), "icmp_rate_limit");
	assert_true(json_object_object_get_ex(f, "hop", &v));
	assert_int_equal(json_object_get_int(v), 6);
	assert_true(json_object_object_get_ex(f, "severity", &v));
	assert_string_equal(json_object_get_string(v), "info");
	assert_true(json_object_object_get_ex(f, "region", &v));
	assert_string_equal(json_object_get_string(v), "B");
	assert_true(json_object_object_get_ex(f, "reverse_path", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(f, "hops", &hops));
	assert_int_equal(json_object_array_length(hops), 4);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(hops, 3), "Loss%", &v));
	assert_true(fabs(json_object_get_double(v) - 30.3) < ASSERT_EPS);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(hops, 3), "host", &v));
	assert_string_equal(json_object_get_string(v), "198.51.100.9");
	json_object_put(arr);
	arr = diagnose_json_conclusion(r);
	assert_true(json_object_object_get_ex(arr, "id", &v));
	assert_string_equal(json_object_get_string(v), "no_exception");
	json_object_put(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_sample),
		cmocka_unit_test(test_seed_regions),
		cmocka_unit_test(test_throttle_hop),
		cmocka_unit_test(test_real_loss),
		cmocka_unit_test(test_mixed_loss),
		cmocka_unit_test(test_throttle_then_real_loss),
		cmocka_unit_test(test_negligible_loss_is_clean),
		cmocka_unit_test(test_silent_middle_hop),
		cmocka_unit_test(test_high_stdev_relative),
		cmocka_unit_test(test_same_stdev_on_long_path_is_clean),
		cmocka_unit_test(test_small_spread_is_noise),
		cmocka_unit_test(test_high_stdev_to_destination),
		cmocka_unit_test(test_latency_step),
		cmocka_unit_test(test_spike_one_hop),
		cmocka_unit_test(test_gradual_rise_is_clean),
		cmocka_unit_test(test_small_spike_confined),
		cmocka_unit_test(test_brief_spike),
		cmocka_unit_test(test_frequent_spikes_are_not_brief),
		cmocka_unit_test(test_dest_drops_icmp),
		cmocka_unit_test(test_last_carrier_hop_loss),
		cmocka_unit_test(test_dest_throttle),
		cmocka_unit_test(test_routing_loop),
		cmocka_unit_test(test_interruption),
		cmocka_unit_test(test_nothing_answers),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_too_few_probes),
		cmocka_unit_test(test_too_few_probes_interruption),
		cmocka_unit_test(test_deterministic_and_bad_args),
		cmocka_unit_test(test_interval_large_sample),
		cmocka_unit_test(test_interval_small_sample),
		cmocka_unit_test(test_interval_tiny_sample),
		cmocka_unit_test(test_rate_limit_confidence),
		cmocka_unit_test(test_region_by_as),
		cmocka_unit_test(test_contact_names_as),
		cmocka_unit_test(test_confirm_dest_drops_icmp),
		cmocka_unit_test(test_confirm_interruption),
		cmocka_unit_test(test_confirm_end_loss),
		cmocka_unit_test(test_reverse_command),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
