/*
 * test_sched: the live loss figures. A fake engine at the other end of a UNIX socket keeps
 * every send-probe and answers only when the test says so, so that the test chooses which
 * probe is answered, in which order, and which stays out. A probe still out counts as lost
 * (for now) once a later probe of its hop or of a farther hop was answered, or once it is
 * old; a late answer takes that back; the figures after the run are those of the answers
 * and timeouts alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client/engine_conn.h"
#include "client/sched.h"
#include "client/stats.h"
#include "common/clock.h"
#include "proto/proto.h"

#include "fake_engine.h"

/* Probes the fake keeps (more than any test sends). */
#define PROBES_MAX 64
#define LINE_MAX_  256
/* The random sizes of test_random_per_round, as -s -200 gives them. */
#define RAND_SIZE_MIN 28
#define RAND_SIZE_MAX 200
#define RAND_ROUNDS   6
#define RAND_TTLS     3
/* The max TTL a running scheduler is raised to, from 2. */
#define RAISED_TTL 9
/* Longest wait for anything in the loop. */
#define WAIT_US 3000000
/* The scheduler's SCHED_LATE_FLOOR_US plus its tick, and a margin. */
#define AGE_WAIT_US 1500000

struct probe {
	long long token;
	int ttl;
	long size, pattern; /* -1 when the command had none */
};

struct fake {
	struct event_base *base;
	struct bufferevent *bev;
	struct probe probes[PROBES_MAX];
	int nprobes;
};

struct env {
	struct event_base *base;
	struct engine_conn *conn;
	struct fake f;
	struct stats_table *table;
	struct sched *s;
};

static void fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct proto_command c;

	while (fake_engine_next(bev, &c)) {
		assert_true(f->nprobes < PROBES_MAX);
		f->probes[f->nprobes].token = (long long)c.token;
		f->probes[f->nprobes].ttl = (int)c.num[PROTO_ARG_TTL];
		f->probes[f->nprobes].size =
			(c.present & PROTO_BIT(PROTO_ARG_SIZE)) ? (long)c.num[PROTO_ARG_SIZE] : -1;
		f->probes[f->nprobes].pattern = (c.present & PROTO_BIT(PROTO_ARG_BIT_PATTERN))
							? (long)c.num[PROTO_ARG_BIT_PATTERN]
							: -1;
		f->nprobes++;
	}
}

static void on_check(void *ctx, int rc, const char *msg)
{
	int *out = ctx;

	(void)msg;
	*out = rc;
}

static void break_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop for us microseconds. */
static void spin(struct env *e, int64_t us)
{
	struct timeval tv = clock_tv_of_us(us);
	struct event *ev = evtimer_new(e->base, break_cb, e->base);

	assert_non_null(ev);
	evtimer_add(ev, &tv);
	assert_true(event_base_loop(e->base, 0) >= 0);
	event_free(ev);
}

/* Run the loop until the fake has seen n probes. */
static void wait_probes(struct env *e, int n)
{
	int64_t end = clock_now_us() + WAIT_US;

	while (e->f.nprobes < n && clock_now_us() < end)
		assert_true(event_base_loop(e->base, EVLOOP_ONCE) >= 0);
	assert_true(e->f.nprobes >= n);
}

/* The fake answers its k-th probe: a router at the probe's TTL (or no-reply). */
static void answer(struct env *e, int k, int lost)
{
	char out[LINE_MAX_];

	assert_true(k < e->f.nprobes);
	if (lost)
		snprintf(out, sizeof(out), "%lld no-reply\n", e->f.probes[k].token);
	else
		snprintf(out, sizeof(out),
			 "%lld ttl-expired ip-4 198.51.100.%d round-trip-time 2000\n",
			 e->f.probes[k].token, e->f.probes[k].ttl);
	bufferevent_write(e->f.bev, out, strlen(out));
	spin(e, 20000);
}

/*
 * A scheduler of count rounds (0 = until stopped) over TTL 1..max_ttl, every interval;
 * with rnd, mtr's random size (28..200) and pattern each round.
 */
static void setup_rand(struct env *e, int max_ttl, int count, int64_t interval_us, int rnd)
{
	const char *feat[] = {"send-probe"};
	struct sched_config cfg = {
		.count = count,
		.interval_us = interval_us,
		.first_ttl = 1,
		.max_ttl = max_ttl,
		.max_unknown = max_ttl,
		.grace_us = 5000000,
		.rand_size_min = rnd ? RAND_SIZE_MIN : 0,
		.rand_size_max = rnd ? RAND_SIZE_MAX : 0,
		.rand_pattern = rnd,
	};
	struct engine_probe tmpl = {.protocol = PROTO_PROTOCOL_ICMP, .size = 64};
	int check = 1;

	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	assert_non_null(e->base);
	e->f.base = e->base;
	e->f.bev = fake_engine_open(e->base, &e->conn, "sched", fake_read, &e->f);
	assert_int_equal(engine_conn_check(e->conn, feat, 1, on_check, &check), 0);
	while (check == 1)
		assert_true(event_base_loop(e->base, EVLOOP_ONCE) >= 0);
	assert_int_equal(check, 0);

	tmpl.dst.family = AF_INET;
	inet_pton(AF_INET, "203.0.113.1", &tmpl.dst.u.v4);
	assert_int_equal(stats_table_new(&e->table), 0);
	assert_int_equal(sched_new(&e->s, e->base, e->conn, e->table, &cfg, &tmpl, NULL), 0);
	assert_int_equal(sched_start(e->s), 0);
}

static void setup(struct env *e, int max_ttl, int count, int64_t interval_us)
{
	setup_rand(e, max_ttl, count, interval_us, 0);
}

static void teardown_env(struct env *e)
{
	e->s = sched_free(e->s);
	e->table = stats_table_free(e->table);
	bufferevent_free(e->f.bev);
	e->conn = engine_conn_free(e->conn);
	event_base_free(e->base);
}

static struct stats_summary hop(const struct env *e, int ttl)
{
	struct stats_summary s;
	const struct stats_hop *h = stats_table_hop(e->table, ttl);

	assert_non_null(h);
	stats_hop_summarize(h, &s);
	return s;
}

/* A later probe of the same hop answered: the earlier one counts as lost until it is. */
static void test_later_probe_of_hop(void **state)
{
	struct env e;
	struct stats_summary s;

	(void)state;
	setup(&e, 1, 0, 100000);
	wait_probes(&e, 2);
	sched_pause(e.s, 1);
	answer(&e, 1, 0);
	s = hop(&e, 1);
	assert_int_equal(s.sent, 2);
	assert_int_equal(s.received, 1);
	assert_int_equal(s.dropped, 1);
	assert_true(s.loss_pct == 50.0);
	/* Its answer comes after all, before its timeout: taken back. */
	answer(&e, 0, 0);
	s = hop(&e, 1);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.dropped, 0);
	assert_true(s.loss_pct == 0.0);
	teardown_env(&e);
}

/* A farther hop answered a probe sent later: the nearer one still out counts as lost. */
static void test_farther_hop(void **state)
{
	struct env e;
	struct stats_summary s;

	(void)state;
	setup(&e, 3, 1, 1000000);
	wait_probes(&e, 3);
	answer(&e, 1, 0); /* TTL 2: TTL 1, sent before it, is presumed lost; TTL 3 is not */
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 1);
	assert_true(s.loss_pct == 100.0);
	s = hop(&e, 3);
	assert_int_equal(s.dropped, 0);
	assert_true(s.loss_pct == 0.0);
	/* The engine's timeout settles it: lost for good, the same figures. */
	answer(&e, 0, 1);
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 1);
	assert_true(s.loss_pct == 100.0);
	teardown_env(&e);
}

/* Nothing else answered: a probe out longer than the floor counts as lost, until answered. */
static void test_old_probe(void **state)
{
	struct env e;
	struct stats_summary s;

	(void)state;
	setup(&e, 1, 1, 1000000);
	wait_probes(&e, 1);
	spin(&e, 300000);
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 0); /* young: not yet */
	spin(&e, AGE_WAIT_US);
	s = hop(&e, 1);
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.dropped, 1);
	assert_true(s.loss_pct == 100.0);
	answer(&e, 0, 0);
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.received, 1);
	teardown_env(&e);
}

/* The run stopped with a presumed-lost probe out: the figures are the final accounting's. */
static void test_final_figures_unchanged(void **state)
{
	struct env e;
	struct stats_summary s;
	const struct stats_hop *h;

	(void)state;
	setup(&e, 1, 0, 100000);
	wait_probes(&e, 3);
	sched_pause(e.s, 1);
	answer(&e, 2, 0);
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 2);
	sched_stop(e.s);
	s = hop(&e, 1);
	h = stats_table_hop(e.table, 1);
	assert_int_equal(h->late, 0);
	assert_int_equal(s.sent, h->acc.sent);
	assert_int_equal(s.received, 1);
	assert_int_equal(s.dropped, 0); /* in flight is not done, as before */
	assert_true(s.loss_pct == 0.0);
	/* An answer after the end changes nothing of that either. */
	answer(&e, 0, 1);
	s = hop(&e, 1);
	assert_int_equal(s.dropped, 1);
	assert_int_equal(stats_table_hop(e.table, 1)->late, 0);
	teardown_env(&e);
}

/*
 * Random -s and -B as mtr draws them: one size and one pattern per round, the same for
 * every TTL of the round, in range, and not all rounds alike. Without them, the template's.
 */
static void test_random_per_round(void **state)
{
	struct env e;
	int k, sizes = 0, patterns = 0;

	(void)state;
	setup_rand(&e, RAND_TTLS, RAND_ROUNDS, 20000, 1);
	wait_probes(&e, RAND_ROUNDS * RAND_TTLS);
	for (k = 0; k < RAND_ROUNDS * RAND_TTLS; k++) {
		const struct probe *p = &e.f.probes[k], *first = &e.f.probes[k - k % RAND_TTLS];

		assert_int_equal(p->ttl, k % RAND_TTLS + 1);
		assert_true(p->size >= RAND_SIZE_MIN && p->size <= RAND_SIZE_MAX);
		/* 0 is the engine's default: it may be left out of the command */
		assert_true(p->pattern >= -1 && p->pattern <= 255);
		assert_int_equal(p->size, first->size);
		assert_int_equal(p->pattern, first->pattern);
		if (k >= RAND_TTLS && k % RAND_TTLS == 0) {
			sizes += p->size != e.f.probes[k - RAND_TTLS].size;
			patterns += p->pattern != e.f.probes[k - RAND_TTLS].pattern;
		}
	}
	/* 5 changes of round: all five alike has a chance below 1e-8 for each */
	assert_true(sizes > 0);
	assert_true(patterns > 0);
	teardown_env(&e);

	setup(&e, 1, 2, 20000);
	wait_probes(&e, 2);
	assert_int_equal(e.f.probes[0].size, 64);
	assert_int_equal(e.f.probes[1].size, 64);
	teardown_env(&e);
}

/*
 * The live view's m prompt raises max TTL on a running scheduler (sched_set): the deeper
 * TTLs are probed, and their probes are kept and presumed lost like the others (under
 * ASan or valgrind, bookkeeping sized for the first max TTL would be caught here).
 */
static void test_raise_max_ttl(void **state)
{
	struct env e;
	struct sched_config cfg = {
		.count = 0,
		.interval_us = 20000,
		.first_ttl = 1,
		.max_ttl = RAISED_TTL,
		.max_unknown = RAISED_TTL,
		.grace_us = 5000000,
	};
	struct engine_probe tmpl = {.protocol = PROTO_PROTOCOL_ICMP, .size = 64};
	int k, deep = -1;

	(void)state;
	setup(&e, 2, 0, 20000);
	wait_probes(&e, 2);
	tmpl.dst.family = AF_INET;
	inet_pton(AF_INET, "203.0.113.1", &tmpl.dst.u.v4);
	assert_int_equal(sched_set(e.s, &cfg, &tmpl), 0);
	for (k = 0; deep < 0; k++) {
		wait_probes(&e, k + 1);
		if (e.f.probes[k].ttl == RAISED_TTL)
			deep = k;
	}
	sched_pause(e.s, 1);
	answer(&e, deep, 0);
	/* Every earlier probe of the nearer TTLs still out is presumed lost now. */
	assert_true(hop(&e, 1).dropped > 0);
	assert_int_equal(hop(&e, RAISED_TTL).received, 1);
	teardown_env(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_later_probe_of_hop),
		cmocka_unit_test(test_farther_hop),
		cmocka_unit_test(test_old_probe),
		cmocka_unit_test(test_final_figures_unchanged),
		cmocka_unit_test(test_random_per_round),
		cmocka_unit_test(test_raise_max_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
