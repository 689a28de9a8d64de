/*
 * test_confirm: --analyze's confirmation. The plan (pure) for each kind of diagnosis and
 * its bounds; then runs against a scripted engine at the other end of a UNIX socket, in
 * the test's own event loop: which probes go out (protocol, port, TTL, timeout, in
 * waves), how answers are counted into their entries (the destination itself versus a
 * router on the way, no-reply, probes-exhausted), and that a lost engine, an engine that
 * never answers and a confirm freed with probes in flight end cleanly. Also the options'
 * part (--no-confirm, no --analyze) and this host's source address.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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

#include "client/confirm.h"
#include "client/engine_conn.h"
#include "client/options.h"
#include "client/stats.h"
#include "client/trace.h"
#include "common/clock.h"
#include "proto/proto.h"

#include "fake_engine.h"

#define DEST	     "203.0.113.1"
#define DEST_TTL     4 /* the destination is 4 hops away in the scripted path */
#define MAX_TTL	     30
#define LOG_MAX	     256
#define LINE_MAX_    256
#define TEST_TIMEOUT 8000000 /* us: a test that hangs fails instead */

enum fake_mode {
	FAKE_DEST_DROPS_ICMP, /* TCP and UDP reach the destination; ICMP echo is dropped */
	FAKE_INTERRUPTED,     /* nothing answers past hop 3, whatever the protocol */
	FAKE_ROUTER_ANSWERS,  /* hop 4 is a router (not the destination), nothing beyond */
	FAKE_SILENT,	      /* never answers a probe */
	FAKE_DIE_AFTER,	      /* closes the connection after die_after probes, unanswered */
	FAKE_EXHAUST_FIRST,   /* the first probe gets probes-exhausted, then as DROPS_ICMP */
};

struct seen {
	enum proto_protocol protocol;
	int port, ttl, timeout;
	int64_t at;
};

struct fake {
	struct event_base *base;
	struct bufferevent *bev;
	enum fake_mode mode;
	size_t die_after;
	size_t n;
	struct seen log[LOG_MAX];
};

struct done {
	int calls;
	struct diagnose_confirm res;
	struct confirm **free_me; /* freed in the callback, as an owner may */
};

static struct addr addr4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static void reply_line(struct fake *f, int64_t token, const struct proto_command *c, char *out)
{
	int ttl = (int)c->num[PROTO_ARG_TTL];
	enum proto_protocol p = (enum proto_protocol)c->num[PROTO_ARG_PROTOCOL];
	enum fake_mode m = f->mode;

	if (m == FAKE_EXHAUST_FIRST) {
		if (f->n == 1) {
			snprintf(out, LINE_MAX_, "%lld probes-exhausted\n", (long long)token);
			return;
		}
		m = FAKE_DEST_DROPS_ICMP;
	}
	if (ttl < DEST_TTL) {
		snprintf(out, LINE_MAX_,
			 "%lld ttl-expired ip-4 198.51.100.%d round-trip-time 900\n",
			 (long long)token, ttl);
		return;
	}
	if (m == FAKE_DEST_DROPS_ICMP && p != PROTO_PROTOCOL_ICMP) {
		snprintf(out, LINE_MAX_, "%lld reply ip-4 " DEST " round-trip-time 1500\n",
			 (long long)token);
		return;
	}
	if (m == FAKE_ROUTER_ANSWERS && ttl == DEST_TTL) {
		snprintf(out, LINE_MAX_,
			 "%lld ttl-expired ip-4 198.51.100.4 round-trip-time 1200\n",
			 (long long)token);
		return;
	}
	snprintf(out, LINE_MAX_, "%lld no-reply\n", (long long)token);
}

static void fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct proto_command c;

	while (f->bev && fake_engine_next(bev, &c)) {
		char out[LINE_MAX_];

		assert_true(f->n < LOG_MAX);
		f->log[f->n].protocol = (enum proto_protocol)c.num[PROTO_ARG_PROTOCOL];
		f->log[f->n].port =
			(c.present & PROTO_BIT(PROTO_ARG_PORT)) ? (int)c.num[PROTO_ARG_PORT] : 0;
		f->log[f->n].ttl = (int)c.num[PROTO_ARG_TTL];
		f->log[f->n].timeout = (c.present & PROTO_BIT(PROTO_ARG_TIMEOUT))
					       ? (int)c.num[PROTO_ARG_TIMEOUT]
					       : -1;
		f->log[f->n].at = clock_now_us();
		f->n++;
		if (f->mode == FAKE_DIE_AFTER && f->n >= f->die_after) {
			bufferevent_free(f->bev);
			f->bev = NULL;
			return;
		}
		if (f->mode == FAKE_SILENT)
			continue;
		reply_line(f, c.token, &c, out);
		fake_engine_write(bev, out);
	}
}

static void setup_engine(struct event_base *base, struct fake *f, struct engine_conn **conn)
{
	f->base = base;
	f->bev = fake_engine_open(base, conn, "confirm", fake_read, f);
}

/* An ICMP trace's configuration to DEST with --analyze. */
static void config(struct trace_config *tc, enum proto_protocol proto, int port)
{
	memset(tc, 0, sizeof(*tc));
	snprintf(tc->name, sizeof(tc->name), "%s", DEST);
	tc->dst = addr4(DEST);
	tc->tmpl.dst = tc->dst;
	tc->tmpl.protocol = proto;
	tc->tmpl.port = port;
	tc->sched.count = 10;
	tc->sched.interval_us = 100000;
	tc->sched.first_ttl = 1;
	tc->sched.max_ttl = MAX_TTL;
	tc->sched.max_unknown = MAX_TTL;
	tc->analyze = 1;
	tc->confirm = 1;
}

/* A table of 10 probes a hop: hops 1..answered answer, the rest up to last do not. */
static struct stats_table *table(int answered, int last, int dest)
{
	struct stats_table *t = NULL;
	int ttl, k;

	assert_int_equal(stats_table_new(&t), 0);
	for (ttl = 1; ttl <= last; ttl++) {
		char a[32];
		struct addr from;

		snprintf(a, sizeof(a), "198.51.100.%d", ttl);
		from = ttl == dest ? addr4(DEST) : addr4(a);
		for (k = 0; k < 10; k++) {
			assert_int_equal(stats_sent(t, ttl), 0);
			if (ttl <= answered)
				stats_answer(t, ttl, ttl == dest ? STATS_REPLY : STATS_TTL_EXPIRED,
					     &from, 1000 * ttl, NULL, 0);
			else
				stats_answer(t, ttl, STATS_LOST, NULL, 0, NULL, 0);
		}
	}
	return t;
}

static void result_with(struct diagnose_result *d, enum diagnose_kind kind, int hop, int final_hop,
			int dest_reached)
{
	memset(d, 0, sizeof(*d));
	d->final_hop = final_hop;
	d->dest_reached = dest_reached;
	d->nfindings = 1;
	d->findings[0].kind = kind;
	d->findings[0].hop = hop;
	d->findings[0].nhops = 1;
	d->findings[0].hops[0].ttl = final_hop;
}

static const struct confirm_entry *find(const struct confirm_plan *p, enum proto_protocol proto,
					int port, int ttl)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->e[i].protocol == proto && p->e[i].port == port && p->e[i].ttl == ttl)
			return &p->e[i];
	return NULL;
}

static uint32_t sum(const struct confirm_plan *p)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < p->n; i++)
		s += (uint32_t)p->e[i].count;
	return s;
}

static void test_plan_silence(void **state)
{
	struct stats_table *t = table(3, 8, 0);
	struct diagnose_result d;
	struct trace_config tc;
	struct confirm_plan p;
	const struct confirm_entry *e;

	(void)state;
	config(&tc, PROTO_PROTOCOL_ICMP, 0);
	result_with(&d, DIAGNOSE_PATH_INTERRUPTION, 3, 8, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_int_equal(p.silent_after, 3);
	assert_int_equal(p.max_ttl, MAX_TTL);
	/* To the destination: TCP 443 and 80, UDP; not ICMP, the trace's own protocol. */
	assert_non_null(e = find(&p, PROTO_PROTOCOL_TCP, 443, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_int_equal(e->count, CONFIRM_PROBES_PER_ENTRY);
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 80, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(
		find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_null(find(&p, PROTO_PROTOCOL_ICMP, 0, DIAGNOSE_CONFIRM_TTL_DEST));
	/* Past the silence: TTLs 4 and 5 by TCP 443 and UDP, nothing further. */
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, 4));
	assert_non_null(find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, 5));
	assert_null(find(&p, PROTO_PROTOCOL_TCP, 443, 6));
	assert_int_equal(p.n, 7);
	assert_int_equal(p.probes, 7 * CONFIRM_PROBES_PER_ENTRY);
	assert_int_equal(p.probes, sum(&p));

	/* dest_drops_icmp reads the same silence: the same question is asked. */
	result_with(&d, DIAGNOSE_DEST_DROPS_ICMP, 4, 8, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_int_equal(p.silent_after, 3);
	assert_non_null(find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, 4));
	stats_table_free(t);

	/* Nothing answered at all: TTLs 1 and 2. */
	t = table(0, 5, 0);
	result_with(&d, DIAGNOSE_PATH_INTERRUPTION, 0, 5, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_int_equal(p.silent_after, 0);
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, 1));
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, 2));
	assert_null(find(&p, PROTO_PROTOCOL_TCP, 443, 3));
	stats_table_free(t);
}

static void test_plan_other_protocols(void **state)
{
	struct stats_table *t = table(3, 8, 0);
	struct diagnose_result d;
	struct trace_config tc;
	struct confirm_plan p;

	(void)state;
	result_with(&d, DIAGNOSE_PATH_INTERRUPTION, 3, 8, 0);
	/* A TCP trace to port 80 (the default): 443, UDP and ICMP echo instead. */
	config(&tc, PROTO_PROTOCOL_TCP, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_null(find(&p, PROTO_PROTOCOL_TCP, 80, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(find(&p, PROTO_PROTOCOL_ICMP, 0, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(
		find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, DIAGNOSE_CONFIRM_TTL_DEST));
	/* A UDP trace: TCP 443 and 80 and ICMP; no UDP to the destination. */
	config(&tc, PROTO_PROTOCOL_UDP, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_null(
		find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 80, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_non_null(find(&p, PROTO_PROTOCOL_ICMP, 0, DIAGNOSE_CONFIRM_TTL_DEST));
	/* Past the silence by TCP 443; UDP to those TTLs is what the trace itself sent. */
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, 4));
	assert_null(find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, 4));
	assert_true(p.probes <= CONFIRM_PROBES_MAX && p.n <= DIAGNOSE_CONFIRM_MAX);
	/* -m just past the silence: no TTL entry reaches the destination's own TTL. */
	config(&tc, PROTO_PROTOCOL_ICMP, 0);
	tc.sched.max_ttl = 5;
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_int_equal(p.max_ttl, 5);
	assert_non_null(find(&p, PROTO_PROTOCOL_TCP, 443, 4));
	assert_null(find(&p, PROTO_PROTOCOL_TCP, 443, 5));
	stats_table_free(t);
}

static void test_plan_loss_and_none(void **state)
{
	struct stats_table *t = table(6, 6, 6);
	struct diagnose_result d;
	struct trace_config tc;
	struct confirm_plan p;
	const struct confirm_entry *e;

	(void)state;
	config(&tc, PROTO_PROTOCOL_ICMP, 0);
	/* Loss at the last hops: more probes to the destination, to compare a rate. */
	result_with(&d, DIAGNOSE_DEST_LOSS, 5, 6, 1);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_LOSS);
	assert_non_null(e = find(&p, PROTO_PROTOCOL_TCP, 443, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_int_equal(e->count, CONFIRM_LOSS_PROBES);
	assert_non_null(e = find(&p, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT,
				 DIAGNOSE_CONFIRM_TTL_DEST));
	assert_int_equal(e->count, CONFIRM_PROBES_PER_ENTRY);
	/* No TTL entries: the destination answered. */
	assert_null(find(&p, PROTO_PROTOCOL_TCP, 443, 7));
	assert_int_equal(p.probes, sum(&p));
	/* Real loss reaching the last hop, on a UDP trace: ICMP gets the larger count. */
	config(&tc, PROTO_PROTOCOL_UDP, 0);
	result_with(&d, DIAGNOSE_REAL_LOSS, 5, 6, 1);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_LOSS);
	assert_non_null(e = find(&p, PROTO_PROTOCOL_ICMP, 0, DIAGNOSE_CONFIRM_TTL_DEST));
	assert_int_equal(e->count, CONFIRM_LOSS_PROBES);
	assert_true(p.probes <= CONFIRM_PROBES_MAX);
	/* Mixed loss whose hops end before the last one shown: nothing to confirm. */
	config(&tc, PROTO_PROTOCOL_ICMP, 0);
	result_with(&d, DIAGNOSE_MIXED_LOSS, 2, 6, 1);
	d.findings[0].hops[0].ttl = 3;
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_NOT_NEEDED);
	assert_int_equal(p.n, 0);
	/* Throttling, a clean path, a latency step: nothing another protocol would settle. */
	result_with(&d, DIAGNOSE_RATE_LIMIT, 2, 6, 1);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_NOT_NEEDED);
	result_with(&d, DIAGNOSE_CLEAN, 0, 6, 1);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_NOT_NEEDED);
	result_with(&d, DIAGNOSE_LATENCY_STEP, 3, 6, 1);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_NOT_NEEDED);
	/* --no-confirm, or no --analyze: off, whatever the diagnosis. */
	result_with(&d, DIAGNOSE_DEST_LOSS, 5, 6, 1);
	tc.confirm = 0;
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_OFF);
	assert_int_equal(p.n, 0);
	tc.confirm = 1;
	tc.analyze = 0;
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_OFF);
	assert_int_equal(confirm_plan(NULL, t, &tc, &p), -EINVAL);
	stats_table_free(t);
}

/* The plan is bounded whatever it is given: a plan by hand at the limits. */
static void test_plan_bounds(void **state)
{
	struct stats_table *t = table(3, 8, 0);
	struct diagnose_result d;
	struct trace_config tc;
	struct confirm_plan p;
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	/* Every kind at once: still one plan within both bounds. */
	for (i = 0; i < DIAGNOSE_KIND__COUNT && i < DIAGNOSE_MAX_FINDINGS; i++) {
		d.findings[i].kind = (enum diagnose_kind)i;
		d.findings[i].nhops = 1;
		d.findings[i].hops[0].ttl = 8;
	}
	d.nfindings = i;
	d.final_hop = 8;
	config(&tc, PROTO_PROTOCOL_UDP, 0);
	assert_int_equal(confirm_plan(&d, t, &tc, &p), CONFIRM_SILENCE);
	assert_true(p.probes <= CONFIRM_PROBES_MAX);
	assert_true(p.n <= DIAGNOSE_CONFIRM_MAX);
	assert_int_equal(p.probes, sum(&p));
	for (i = 0; i < p.n; i++)
		assert_true(p.e[i].count >= 1 && p.e[i].count <= CONFIRM_LOSS_PROBES);
	stats_table_free(t);
}

static void on_done(void *ctx, const struct diagnose_confirm *res)
{
	struct done *d = ctx;

	d->calls++;
	d->res = *res;
	if (d->free_me)
		*d->free_me = confirm_free(*d->free_me);
}

static void loop_until(struct event_base *base, const int *flag, int64_t max_us)
{
	int64_t end = clock_now_us() + max_us;

	while (!*flag && clock_now_us() < end) {
		assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
		usleep(1000);
	}
	/* One more pass for callbacks that were just made due. */
	event_base_loop(base, EVLOOP_NONBLOCK);
}

struct rig {
	struct event_base *base;
	struct engine_conn *conn;
	struct fake f;
	struct trace_config tc;
	struct confirm_plan plan;
	struct confirm *c;
	struct done d;
};

/* An ICMP trace silent after hop 3, confirmed against the fake in mode m. */
static void rig_run(struct rig *r, enum fake_mode m, size_t die_after)
{
	struct stats_table *t = table(3, 8, 0);
	struct diagnose_result dr;

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	assert_non_null(r->base);
	setup_engine(r->base, &r->f, &r->conn);
	r->f.mode = m;
	r->f.die_after = die_after;
	config(&r->tc, PROTO_PROTOCOL_ICMP, 0);
	r->tc.tmpl.tos = 16;
	result_with(&dr, DIAGNOSE_PATH_INTERRUPTION, 3, 8, 0);
	assert_int_equal(confirm_plan(&dr, t, &r->tc, &r->plan), CONFIRM_SILENCE);
	stats_table_free(t);
	assert_int_equal(confirm_new(&r->c, r->base, r->conn, &r->tc, &r->plan, on_done, &r->d), 0);
	assert_int_equal(confirm_start(r->c), 0);
	/* Never from inside confirm_start. */
	assert_int_equal(r->d.calls, 0);
	assert_int_equal(confirm_start(r->c), -EALREADY);
}

static void rig_free(struct rig *r)
{
	r->c = confirm_free(r->c);
	if (r->f.bev)
		bufferevent_free(r->f.bev);
	r->conn = engine_conn_free(r->conn);
	event_base_free(r->base);
}

static const struct diagnose_confirm_probe *entry(const struct diagnose_confirm *c,
						  enum proto_protocol proto, int port, int ttl)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->p[i].protocol == proto && c->p[i].port == port && c->p[i].ttl == ttl)
			return &c->p[i];
	fail_msg("no entry %d/%d/%d", (int)proto, port, ttl);
	return NULL;
}

static void test_run_dest_drops_icmp(void **state)
{
	struct rig r;
	const struct diagnose_confirm_probe *e;
	size_t i, waves = 0;
	int64_t first, last;

	(void)state;
	rig_run(&r, FAKE_DEST_DROPS_ICMP, 0);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	/* What went out: the plan, each with the confirmation's timeout and the right TTL. */
	assert_int_equal(r.f.n, r.plan.probes);
	for (i = 0; i < r.f.n; i++) {
		assert_int_equal(r.f.log[i].timeout, CONFIRM_TIMEOUT_S);
		assert_true(r.f.log[i].protocol != PROTO_PROTOCOL_ICMP);
		assert_true(r.f.log[i].ttl == MAX_TTL || r.f.log[i].ttl == 4 ||
			    r.f.log[i].ttl == 5);
		if (i && r.f.log[i].at - r.f.log[i - 1].at > CONFIRM_WAVE_GAP_US / 2)
			waves++;
	}
	/*
	 * Paced in waves, one probe of each entry per wave, yet soon done. Under valgrind
	 * (tests/valgrind/run.sh) only the work is checked, not its timing.
	 */
	first = r.f.log[0].at;
	last = r.f.log[r.f.n - 1].at;
	if (!getenv("HOPWATCH_VALGRIND")) {
		assert_int_equal(waves + 1, CONFIRM_PROBES_PER_ENTRY);
		assert_true(last - first >=
			    (CONFIRM_PROBES_PER_ENTRY - 1) * CONFIRM_WAVE_GAP_US * 9 / 10);
		assert_true(last - first < 1000000);
	}
	/* Counted: TCP and UDP reached the destination itself, at TTL 4 as well. */
	assert_int_equal(r.d.res.ran, 1);
	assert_int_equal(r.d.res.probes_sent, r.plan.probes);
	assert_int_equal(r.d.res.n, r.plan.n);
	e = entry(&r.d.res, PROTO_PROTOCOL_TCP, 443, DIAGNOSE_CONFIRM_TTL_DEST);
	assert_int_equal(e->sent, 3);
	assert_int_equal(e->answered, 3);
	assert_int_equal(e->from_dest, 3);
	assert_int_equal(e->last_reply, PROTO_REPLY_REPLY);
	assert_true(addr_equal(&e->from, &r.tc.dst));
	e = entry(&r.d.res, PROTO_PROTOCOL_UDP, PROTO_DEFAULT_UDP_PORT, 4);
	assert_int_equal(e->from_dest, 3);
	assert_int_equal(confirm_unsent(r.c), 0);
	rig_free(&r);
}

static void test_run_interrupted(void **state)
{
	struct rig r;
	const struct diagnose_confirm_probe *e;
	size_t i;

	(void)state;
	rig_run(&r, FAKE_INTERRUPTED, 0);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	assert_int_equal(r.d.res.ran, 1);
	/* Every probe sent and counted, none answered: a silence by every protocol. */
	assert_int_equal(r.d.res.probes_sent, r.plan.probes);
	for (i = 0; i < r.d.res.n; i++) {
		e = &r.d.res.p[i];
		assert_int_equal(e->sent, r.plan.e[i].count);
		assert_int_equal(e->answered, 0);
		assert_int_equal(e->from_dest, 0);
		assert_int_equal(e->last_reply, PROTO_REPLY_NO_REPLY);
		assert_int_equal(e->from.family, 0);
	}
	rig_free(&r);
}

static void test_run_router_not_dest(void **state)
{
	struct rig r;
	const struct diagnose_confirm_probe *e;
	struct addr router = addr4("198.51.100.4");

	(void)state;
	rig_run(&r, FAKE_ROUTER_ANSWERS, 0);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	/* Hop 4 answers TCP: answered, but not by the destination. */
	e = entry(&r.d.res, PROTO_PROTOCOL_TCP, 443, 4);
	assert_int_equal(e->answered, 3);
	assert_int_equal(e->from_dest, 0);
	assert_int_equal(e->last_reply, PROTO_REPLY_TTL_EXPIRED);
	assert_true(addr_equal(&e->from, &router));
	e = entry(&r.d.res, PROTO_PROTOCOL_TCP, 443, 5);
	assert_int_equal(e->answered, 0);
	e = entry(&r.d.res, PROTO_PROTOCOL_TCP, 443, DIAGNOSE_CONFIRM_TTL_DEST);
	assert_int_equal(e->answered, 0);
	assert_int_equal(e->sent, 3);
	rig_free(&r);
}

static void test_run_exhausted(void **state)
{
	struct rig r;

	(void)state;
	rig_run(&r, FAKE_EXHAUST_FIRST, 0);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	/* The refused probe never left: not sent, not silent. */
	assert_int_equal(confirm_unsent(r.c), 1);
	assert_int_equal(r.d.res.probes_sent, r.plan.probes - 1);
	assert_int_equal(r.d.res.p[0].sent, r.plan.e[0].count - 1);
	assert_int_equal(r.d.res.p[0].answered, r.plan.e[0].count - 1);
	rig_free(&r);
}

/* The engine dies with probes out: done comes, nothing out counts as a silence. */
static void test_run_engine_lost(void **state)
{
	struct rig r;

	(void)state;
	rig_run(&r, FAKE_DIE_AFTER, 2);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	assert_int_equal(r.d.res.probes_sent, 0);
	assert_int_equal(r.d.res.ran, 0);
	assert_int_equal(confirm_unsent(r.c), r.plan.probes);
	/* Far fewer than the plan ever reached it: the later waves were never sent. */
	assert_true(r.f.n < r.plan.probes);
	rig_free(&r);
}

/* An engine that never answers: the run gives up after the timeout and its grace. */
static void test_run_engine_silent(void **state)
{
	struct rig r;
	int64_t t0 = clock_now_us(), took;

	(void)state;
	rig_run(&r, FAKE_SILENT, 0);
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	took = clock_now_us() - t0;
	assert_int_equal(r.d.calls, 1);
	assert_int_equal(r.f.n, r.plan.probes);
	assert_int_equal(r.d.res.ran, 0);
	assert_int_equal(confirm_unsent(r.c), r.plan.probes);
	assert_true(took >= (int64_t)CONFIRM_TIMEOUT_S * 1000000);
	if (!getenv("HOPWATCH_VALGRIND"))
		assert_true(took <
			    (int64_t)CONFIRM_TIMEOUT_S * 1000000 + CONFIRM_GRACE_US + 1500000);
	rig_free(&r);
}

/* Freed with probes in flight, or in its own callback: answers dropped, no call after. */
static void test_free_mid_flight(void **state)
{
	struct rig r;
	int never = 0;

	(void)state;
	rig_run(&r, FAKE_DEST_DROPS_ICMP, 0);
	while (r.f.n == 0)
		assert_true(event_base_loop(r.base, EVLOOP_ONCE) >= 0);
	r.c = confirm_free(r.c);
	assert_null(confirm_free(NULL));
	loop_until(r.base, &never, 500000);
	assert_int_equal(r.d.calls, 0);
	assert_int_equal(r.f.n, r.plan.n); /* one wave went, the rest never did */
	rig_free(&r);

	rig_run(&r, FAKE_DEST_DROPS_ICMP, 0);
	r.d.free_me = &r.c;
	loop_until(r.base, &r.d.calls, TEST_TIMEOUT);
	assert_int_equal(r.d.calls, 1);
	assert_null(r.c);
	assert_int_equal(r.d.res.probes_sent, r.plan.probes);
	rig_free(&r);
}

static int parse(struct options *o, const char *a1, const char *a2)
{
	char *argv[5];
	char err[256];
	int argc = 0;

	argv[argc++] = (char *)"hopwatch";
	if (a1)
		argv[argc++] = (char *)a1;
	if (a2)
		argv[argc++] = (char *)a2;
	argv[argc++] = (char *)DEST;
	argv[argc] = NULL;
	return options_parse(o, argc, argv, NULL, 1, err, sizeof(err));
}

/* --no-confirm and a run without --analyze: confirm_trace sends nothing. */
static void test_options_and_trace(void **state)
{
	const char *cases[][2] = {{"--analyze", NULL}, {"--analyze", "--no-confirm"}, {NULL, NULL}};
	int want[] = {1, 0, 0};
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct fake f;
	size_t i;

	(void)state;
	memset(&f, 0, sizeof(f));
	setup_engine(base, &f, &conn);
	f.mode = FAKE_INTERRUPTED;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct options o;
		struct trace_config tc;
		struct trace *t = NULL;
		struct confirm *c = NULL;
		struct stats_table *tab;
		struct addr dst = addr4(DEST);
		struct done d = {0};
		int rc, ttl, k;

		assert_int_equal(parse(&o, cases[i][0], cases[i][1]), 0);
		assert_int_equal(trace_config_from_options(&tc, &o, DEST, &dst), 0);
		assert_int_equal(tc.confirm, want[i]);
		options_deinit(&o);
		assert_int_equal(trace_new(&t, base, conn, &tc, NULL), 0);
		/* A silence after hop 3, 10 probes a hop: the diagnosis a confirmation is for. */
		tab = trace_table(t);
		for (ttl = 1; ttl <= 8; ttl++) {
			char a[32];
			struct addr from;

			snprintf(a, sizeof(a), "198.51.100.%d", ttl);
			from = addr4(a);
			for (k = 0; k < 10; k++) {
				assert_int_equal(stats_sent(tab, ttl), 0);
				stats_answer(tab, ttl, ttl <= 3 ? STATS_TTL_EXPIRED : STATS_LOST,
					     ttl <= 3 ? &from : NULL, 1000, NULL, 0);
			}
		}
		f.n = 0;
		rc = confirm_trace(&c, base, conn, t, on_done, &d);
		if (want[i]) {
			assert_int_equal(rc, 0);
			assert_non_null(c);
			loop_until(base, &d.calls, TEST_TIMEOUT);
			assert_int_equal(d.calls, 1);
			assert_true(f.n > 0);
			assert_int_equal(d.res.probes_sent, f.n);
			/* Its outcome goes to the trace's diagnosis. */
			assert_int_equal(trace_set_confirm(t, &d.res), 0);
			assert_non_null(trace_diagnosis(t));
			assert_int_equal(trace_diagnosis(t)->confirm.probes_sent, f.n);
		} else {
			assert_int_equal(rc, CONFIRM_OFF);
			assert_null(c);
			loop_until(base, &d.calls, 300000);
			assert_int_equal(f.n, 0);
			assert_int_equal(d.calls, 0);
		}
		c = confirm_free(c);
		t = trace_free(t);
	}
	bufferevent_free(f.bev);
	conn = engine_conn_free(conn);
	event_base_free(base);
}

static void test_local_addr(void **state)
{
	struct addr dst = addr4("127.0.0.1"), out, want;

	(void)state;
	assert_int_equal(confirm_local_addr(&dst, NULL, &out), 0);
	assert_true(addr_equal(&out, &dst));
	/* -a wins, as given. */
	want = addr4("192.0.2.7");
	assert_int_equal(confirm_local_addr(&dst, "192.0.2.7", &out), 0);
	assert_true(addr_equal(&out, &want));
	assert_int_equal(confirm_local_addr(&dst, "2001:db8::1", &out), -EINVAL);
	assert_int_equal(out.family, 0);
	assert_int_equal(confirm_local_addr(&dst, "not-an-address", &out), -EINVAL);
	memset(&dst, 0, sizeof(dst));
	assert_int_equal(confirm_local_addr(&dst, NULL, &out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_silence),
		cmocka_unit_test(test_plan_other_protocols),
		cmocka_unit_test(test_plan_loss_and_none),
		cmocka_unit_test(test_plan_bounds),
		cmocka_unit_test(test_run_dest_drops_icmp),
		cmocka_unit_test(test_run_interrupted),
		cmocka_unit_test(test_run_router_not_dest),
		cmocka_unit_test(test_run_exhausted),
		cmocka_unit_test(test_run_engine_lost),
		cmocka_unit_test(test_run_engine_silent),
		cmocka_unit_test(test_free_mid_flight),
		cmocka_unit_test(test_options_and_trace),
		cmocka_unit_test(test_local_addr),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
