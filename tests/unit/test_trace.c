/*
 * test_trace: many traces over one engine connection. A scripted engine lives in the
 * test's own event loop, at the other end of a UNIX socket: it answers each send-probe
 * from a transcript that depends only on the probe (destination, TTL, how many probes of
 * that destination and TTL came before), and sends the answers back interleaved across
 * traces in a random order. 200 traces at once must end with the tables that the same
 * transcripts give one trace at a time.
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

#include "client/engine_conn.h"
#include "client/report.h"
#include "client/stats.h"
#include "client/trace.h"
#include "common/clock.h"
#include "proto/proto.h"

#include "fake_engine.h"

#define NTRACES 200
#define ROUNDS	5
#define MAX_TTL 12
/* Probes per destination and TTL remembered by the fake engine. */
#define MAX_KEYS (NTRACES * (MAX_TTL + 1))
/* Answers held before a flush; the flush timer sends them interleaved. */
#define QUEUE_MAX 65536
#define FLUSH_US  3000
#define LINE_MAX_ 256

struct answer {
	int owner; /* destination index: one FIFO per trace */
	char line[LINE_MAX_];
};

struct fake {
	struct event_base *base;
	struct bufferevent *bev;
	struct event *flush_ev;
	uint32_t counts[MAX_KEYS]; /* probes seen per (destination, ttl) */
	struct answer *q;
	size_t nq;
	unsigned int seed;
	size_t probes;
	int exhaust_ttl;  /* answer this TTL's first probe with probes-exhausted */
	int64_t *sent_at; /* when each send-probe arrived, if set (QUEUE_MAX of them) */
	int nflows;	  /* flow ids expected: the k-th probe of a router's TTL carries k % n */
	uint32_t flow_errors; /* probes whose flow id was not that (or missing) */
};

struct run {
	struct trace *traces[NTRACES];
	int finished;
	int failed;
	struct event_base *base;
};

static void v4(struct addr *a, int i)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "203.0.113.%d", i + 1);
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	inet_pton(AF_INET, buf, &a->u.v4);
}

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* The transcript: a path of 3..8 hops to destination i, ECMP at hop 2, some loss. */
static void answer_for(int dst, int ttl, uint32_t k, int64_t token, char *line, size_t cap)
{
	int hops = 3 + dst % 6;
	uint32_t h = mix((uint32_t)dst * 1000003u + (uint32_t)ttl * 7919u + k);
	int rtt = ttl * 1000 + (int)(h % 700);

	if (ttl < hops && h % 9 == 0) {
		snprintf(line, cap, "%lld no-reply\n", (long long)token);
		return;
	}
	if (ttl >= hops) {
		snprintf(line, cap, "%lld reply ip-4 203.0.113.%d round-trip-time %d\n",
			 (long long)token, dst + 1, rtt);
		return;
	}
	snprintf(line, cap, "%lld ttl-expired ip-4 198.51.100.%d round-trip-time %d\n",
		 (long long)token, ttl * 10 + (ttl == 2 ? (int)(k % 2) : 0), rtt);
}

/* A random interleaving that keeps each trace's own answers in order. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *out = bufferevent_get_output(f->bev);
	size_t *next = calloc(f->nq + 1, sizeof(*next)), left = f->nq, i;
	int *owners = calloc(f->nq + 1, sizeof(*owners));

	(void)fd;
	(void)what;
	assert_non_null(next);
	assert_non_null(owners);
	/* Shuffle the sequence of owners; the k-th time an owner comes up, its k-th answer. */
	for (i = 0; i < f->nq; i++)
		owners[i] = f->q[i].owner;
	for (i = f->nq; i > 1; i--) {
		size_t j = (size_t)rand_r(&f->seed) % i;
		int tmp = owners[i - 1];

		owners[i - 1] = owners[j];
		owners[j] = tmp;
	}
	for (i = 0; i < f->nq; i++) {
		size_t scan = 0, pos;

		/* next[] counts per queue entry: find the owner's next unsent answer. */
		for (pos = 0; pos < f->nq; pos++) {
			if (f->q[pos].owner == owners[i] && !next[pos]) {
				next[pos] = 1;
				evbuffer_add(out, f->q[pos].line, strlen(f->q[pos].line));
				scan = 1;
				break;
			}
		}
		assert_true(scan);
		left--;
	}
	assert_int_equal(left, 0);
	f->nq = 0;
	free(next);
	free(owners);
}

static int dst_index(const struct proto_command *c)
{
	const unsigned char *b = (const unsigned char *)&c->ip4[PROTO_ARG_IP_4];

	assert_int_equal(b[0], 203);
	assert_int_equal(b[2], 113);
	return b[3] - 1;
}

/*
 * Multi-flow runs: check the probe's flow id (routers' TTLs only: past the destination
 * the first rounds send a varying number of probes), and route hop 2 by it as an ECMP
 * router hashing the flow would: flow f meets 198.51.100.(200 + f).
 */
static void flow_route(struct fake *f, const struct proto_command *c, int dst, int ttl, uint32_t k,
		       char *line)
{
	int has = (c->present & PROTO_BIT(PROTO_ARG_FLOW_ID)) != 0;
	int flow = has ? (int)c->num[PROTO_ARG_FLOW_ID] : -1;

	if (ttl < 3 + dst % 6 && flow != (int)(k % (uint32_t)f->nflows))
		f->flow_errors++;
	if (ttl == 2 && has && strstr(line, " ttl-expired ")) {
		char *rtt = strstr(line, " round-trip-time ");
		char tail[64]; /* " round-trip-time N\n" */

		snprintf(tail, sizeof(tail), "%s", rtt ? rtt : "\n");
		snprintf(line, LINE_MAX_, "%lld ttl-expired ip-4 198.51.100.%d%s",
			 (long long)c->token, 200 + flow, tail);
	}
}

static void fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct proto_command c;

	while (fake_engine_next(bev, &c)) {
		int dst = dst_index(&c), ttl = (int)c.num[PROTO_ARG_TTL];
		uint32_t *k;
		struct timeval tv = {0, FLUSH_US};

		assert_true(ttl >= 1 && ttl <= MAX_TTL);
		k = &f->counts[dst * (MAX_TTL + 1) + ttl];
		assert_true(f->nq < QUEUE_MAX);
		f->q[f->nq].owner = dst;
		if (ttl == f->exhaust_ttl && *k == 0)
			snprintf(f->q[f->nq].line, sizeof(f->q[f->nq].line),
				 "%lld probes-exhausted\n", (long long)c.token);
		else
			answer_for(dst, ttl, *k, c.token, f->q[f->nq].line,
				   sizeof(f->q[f->nq].line));
		if (f->nflows)
			flow_route(f, &c, dst, ttl, *k, f->q[f->nq].line);
		(*k)++;
		f->nq++;
		if (f->sent_at && f->probes < QUEUE_MAX)
			f->sent_at[f->probes] = clock_now_us();
		f->probes++;
		if (!evtimer_pending(f->flush_ev, NULL))
			evtimer_add(f->flush_ev, &tv);
	}
}

static void on_finished(void *ctx, struct trace *t, int err, const char *msg)
{
	struct run *r = ctx;

	(void)t;
	if (err) {
		r->failed++;
		print_message("trace failed: %s\n", msg ? msg : "?");
	}
	if (++r->finished == NTRACES || err)
		event_base_loopbreak(r->base);
}

static void on_check(void *ctx, int rc, const char *msg)
{
	int *out = ctx;

	(void)msg;
	*out = rc;
}

/* A UNIX socket in a fresh directory, the connection to it, and the fake at its end. */
static void setup_engine(struct event_base *base, struct fake *f, struct engine_conn **conn)
{
	memset(f, 0, sizeof(*f));
	f->base = base;
	f->seed = 12345;
	f->q = calloc(QUEUE_MAX, sizeof(*f->q));
	assert_non_null(f->q);
	f->flush_ev = evtimer_new(base, flush_cb, f);
	assert_non_null(f->flush_ev);
	f->bev = fake_engine_open(base, conn, "trace", fake_read, f);
}

static void config(struct trace_config *tc, int i)
{
	memset(tc, 0, sizeof(*tc));
	snprintf(tc->name, sizeof(tc->name), "target-%d", i);
	v4(&tc->dst, i);
	tc->sched.count = ROUNDS;
	tc->sched.interval_us = 10000;
	tc->sched.first_ttl = 1;
	tc->sched.max_ttl = MAX_TTL;
	tc->sched.max_unknown = MAX_TTL;
	tc->sched.grace_us = 5000000;
	tc->tmpl.protocol = PROTO_PROTOCOL_ICMP;
}

/* The table as the JSON report prints it: every figure, hop by hop. */
static char *render(struct trace *t)
{
	struct report_meta meta = {0};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	meta.local_host = "test";
	meta.target = trace_config(t)->name;
	meta.target_addr = &trace_config(t)->dst;
	meta.numeric = 1;
	meta.max_ecmp = 8;
	meta.protocol = "icmp";
	meta.fields = "LDRSNBAWVGJMXIPQY";
	assert_int_equal(report_render(REPORT_FORMAT_JSON, trace_table(t), &meta, f), 0);
	fclose(f);
	return buf;
}

/* Run traces [first, first + n) at once; render each into out[i]. */
static void run(int first, int n, char **out, size_t *probes)
{
	struct event_base *base = event_base_new();
	const struct trace_hooks hooks = {.finished = on_finished};
	struct engine_conn *conn = NULL;
	struct trace_hooks h = hooks;
	struct fake f;
	struct run r = {.base = base};
	int i, check = 1;
	const char *feat[] = {"send-probe", "ip-4"};

	assert_non_null(base);
	setup_engine(base, &f, &conn);
	assert_int_equal(engine_conn_check(conn, feat, 2, on_check, &check), 0);
	while (check == 1)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	assert_int_equal(check, 0);
	h.ctx = &r;
	for (i = 0; i < n; i++) {
		struct trace_config tc;

		config(&tc, first + i);
		assert_int_equal(trace_new(&r.traces[i], base, conn, &tc, &h), 0);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(trace_start(r.traces[i]), 0);
	r.finished = NTRACES - n;
	while (r.finished < NTRACES && !r.failed)
		assert_true(event_base_loop(base, 0) >= 0);
	assert_int_equal(r.failed, 0);
	assert_int_equal(engine_conn_inflight(conn), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(trace_status(r.traces[i]), 0);
		assert_int_equal(trace_rounds(r.traces[i]), ROUNDS);
		out[i] = render(r.traces[i]);
		r.traces[i] = trace_free(r.traces[i]);
	}
	*probes += f.probes;
	event_free(f.flush_ev);
	bufferevent_free(f.bev);
	free(f.q);
	conn = engine_conn_free(conn);
	event_base_free(base);
}

static void test_many_traces_equal_one_at_a_time(void **state)
{
	char **together = calloc(NTRACES, sizeof(char *)),
	     **alone = calloc(NTRACES, sizeof(char *));
	size_t probes_together = 0, probes_alone = 0;
	int i;

	(void)state;
	assert_non_null(together);
	assert_non_null(alone);
	run(0, NTRACES, together, &probes_together);
	for (i = 0; i < NTRACES; i++)
		run(i, 1, &alone[i], &probes_alone);
	for (i = 0; i < NTRACES; i++) {
		if (strcmp(together[i], alone[i]))
			fail_msg("trace %d differs:\n--- together\n%s\n--- alone\n%s", i,
				 together[i], alone[i]);
		/* Not a vacuous equality: every hop of the path is in the table. */
		assert_non_null(strstr(together[i], "\"Snt\": 5"));
		free(together[i]);
		free(alone[i]);
	}
	print_message("%d traces: %zu probes together, %zu one at a time\n", NTRACES,
		      probes_together, probes_alone);
	free(together);
	free(alone);
}

/* Answers for a freed trace's probes are dropped; the other traces go on. */
static void test_freed_trace_answers_dropped(void **state)
{
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct fake f;
	struct run r = {.base = base};
	struct trace_hooks h = {.finished = on_finished, .ctx = &r};
	struct trace_config tc;
	const char *feat[] = {"send-probe"};
	int check = 1;

	(void)state;
	setup_engine(base, &f, &conn);
	assert_int_equal(engine_conn_check(conn, feat, 1, on_check, &check), 0);
	while (check == 1)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	config(&tc, 0);
	assert_int_equal(trace_new(&r.traces[0], base, conn, &tc, &h), 0);
	config(&tc, 1);
	assert_int_equal(trace_new(&r.traces[1], base, conn, &tc, &h), 0);
	assert_int_equal(trace_start(r.traces[0]), 0);
	assert_int_equal(trace_start(r.traces[1]), 0);
	/* Trace 0 goes while its first probes are out. */
	r.traces[0] = trace_free(r.traces[0]);
	r.finished = NTRACES - 1;
	while (r.finished < NTRACES && !r.failed)
		assert_true(event_base_loop(base, 0) >= 0);
	assert_int_equal(trace_rounds(r.traces[1]), ROUNDS);
	assert_int_equal(engine_conn_inflight(conn), 0);
	r.traces[1] = trace_free(r.traces[1]);
	event_free(f.flush_ev);
	bufferevent_free(f.bev);
	free(f.q);
	engine_conn_free(conn);
	event_base_free(base);
}

/* Bring up a fake engine, checked, with nothing traced yet. */
static void open_checked(struct event_base *base, struct fake *f, struct engine_conn **conn)
{
	const char *feat[] = {"send-probe"};
	int check = 1;

	setup_engine(base, f, conn);
	assert_int_equal(engine_conn_check(*conn, feat, 1, on_check, &check), 0);
	while (check == 1)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	assert_int_equal(check, 0);
}

static void close_fake(struct fake *f)
{
	event_free(f->flush_ev);
	if (f->bev)
		bufferevent_free(f->bev);
	free(f->q);
}

/* probes-exhausted: the probe never left, so it is neither sent nor lost. */
static void test_exhausted_is_not_loss(void **state)
{
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct fake f;
	struct run r = {.base = base};
	struct trace_hooks h = {.finished = on_finished, .ctx = &r};
	struct trace_config tc;
	const struct stats_hop *hop;
	uint32_t k, lost = 0;

	(void)state;
	open_checked(base, &f, &conn);
	f.exhaust_ttl = 2;
	config(&tc, 4); /* 7 hops: TTL 2 is a router */
	assert_int_equal(trace_new(&r.traces[0], base, conn, &tc, &h), 0);
	assert_int_equal(trace_start(r.traces[0]), 0);
	r.finished = NTRACES - 1;
	while (r.finished < NTRACES && !r.failed)
		assert_true(event_base_loop(base, 0) >= 0);
	assert_int_equal(trace_exhausted(r.traces[0]), 1);
	hop = stats_table_hop(trace_table(r.traces[0]), 2);
	assert_non_null(hop);
	for (k = 1; k < ROUNDS; k++) {
		char line[LINE_MAX_];

		answer_for(4, 2, k, 1, line, sizeof(line));
		lost += strstr(line, "no-reply") != NULL;
	}
	assert_int_equal(hop->acc.sent, ROUNDS - 1);
	assert_int_equal(hop->acc.sent - hop->acc.received, lost);
	assert_int_equal(hop->acc.inflight, 0);
	r.traces[0] = trace_free(r.traces[0]);
	close_fake(&f);
	engine_conn_free(conn);
	event_base_free(base);
}

/*
 * --flows 3: round r carries flow id r % 3, and each flow's table holds only its own
 * probes (one router at the ECMP hop) while the aggregate holds all of them.
 */
static void test_flows_cycle_per_round(void **state)
{
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct fake f;
	struct run r = {.base = base};
	struct trace_hooks h = {.finished = on_finished, .ctx = &r};
	struct trace_config tc;
	const struct flows *fl;
	const struct stats_hop *hop;
	uint32_t sent = 0;
	int i;

	(void)state;
	open_checked(base, &f, &conn);
	f.nflows = 3;
	config(&tc, 4); /* 7 hops */
	tc.sched.nflows = 3;
	assert_int_equal(trace_new(&r.traces[0], base, conn, &tc, &h), 0);
	assert_int_equal(trace_start(r.traces[0]), 0);
	r.finished = NTRACES - 1;
	while (r.finished < NTRACES && !r.failed)
		assert_true(event_base_loop(base, 0) >= 0);
	assert_int_equal(f.flow_errors, 0);
	fl = trace_flows(r.traces[0]);
	assert_non_null(fl);
	assert_int_equal(flows_count(fl), 3);
	for (i = 0; i < 3; i++) {
		hop = stats_table_hop(flows_table(fl, i), 2);
		assert_non_null(hop);
		/* Rounds 0..4: flows 0, 1, 2, 0, 1. */
		assert_int_equal(hop->acc.sent, i < 2 ? 2 : 1);
		assert_true(hop->nresponders <= 1);
		sent += hop->acc.sent;
		if (hop->nresponders) {
			char want[32], got[64];

			snprintf(want, sizeof(want), "198.51.100.%d", 200 + i);
			addr_str(&hop->responders[0].addr, got, sizeof(got));
			assert_string_equal(got, want);
		}
	}
	hop = stats_table_hop(trace_table(r.traces[0]), 2);
	assert_int_equal(hop->acc.sent, sent);
	assert_int_equal(flows_hop_differs(fl, 2), 1);
	assert_int_equal(flows_hop_differs(fl, 1), 0);
	assert_true(trace_bytes(r.traces[0]) > flows_bytes(fl));
	r.traces[0] = trace_free(r.traces[0]);
	close_fake(&f);
	engine_conn_free(conn);
	event_base_free(base);
}

static void owner_lost(void *ctx, const char *err)
{
	int *n = ctx;

	assert_non_null(err);
	(*n)++;
}

/* A lost engine ends every trace with -EPIPE and tells the connection's owner once. */
static void test_lost_engine_reported(void **state)
{
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct fake f;
	struct run r = {.base = base};
	struct trace_hooks h = {.finished = on_finished, .ctx = &r};
	struct trace_config tc;
	int i, lost = 0;

	(void)state;
	open_checked(base, &f, &conn);
	engine_conn_set_lost(conn, owner_lost, &lost);
	for (i = 0; i < 3; i++) {
		config(&tc, i);
		tc.sched.count = 0; /* until stopped: only the engine's end stops them */
		assert_int_equal(trace_new(&r.traces[i], base, conn, &tc, &h), 0);
		assert_int_equal(trace_start(r.traces[i]), 0);
	}
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	bufferevent_free(f.bev); /* the engine dies */
	f.bev = NULL;
	evtimer_del(f.flush_ev);
	r.finished = NTRACES - 3;
	while (r.finished < NTRACES)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	assert_int_equal(lost, 1);
	assert_true(engine_conn_is_lost(conn));
	for (i = 0; i < 3; i++) {
		assert_int_equal(trace_status(r.traces[i]), -EPIPE);
		assert_non_null(strstr(trace_error(r.traces[i]), "engine"));
		r.traces[i] = trace_free(r.traces[i]);
	}
	close_fake(&f);
	engine_conn_free(conn);
	event_base_free(base);
}

/* Under a shared budget the probes of all traces together arrive evenly spaced. */
static void test_pacer_spreads_probes(void **state)
{
	const double rate = 2000; /* one probe per 500 us */
	const int ntr = 20, window = 40;
	struct event_base *base = event_base_new();
	struct engine_conn *conn = NULL;
	struct pacer *pacer = NULL;
	struct fake f;
	struct run r = {.base = base};
	struct trace_hooks h = {.finished = on_finished, .ctx = &r};
	struct trace_config tc;
	int64_t start, took;
	size_t i;
	int k;

	(void)state;
	open_checked(base, &f, &conn);
	f.sent_at = calloc(QUEUE_MAX, sizeof(*f.sent_at));
	assert_non_null(f.sent_at);
	assert_int_equal(pacer_new(&pacer, rate), 0);
	for (k = 0; k < ntr; k++) {
		config(&tc, k);
		tc.sched.pacer = pacer;
		assert_int_equal(trace_new(&r.traces[k], base, conn, &tc, &h), 0);
	}
	start = clock_now_us();
	for (k = 0; k < ntr; k++)
		assert_int_equal(trace_start(r.traces[k]), 0);
	r.finished = NTRACES - ntr;
	while (r.finished < NTRACES && !r.failed)
		assert_true(event_base_loop(base, 0) >= 0);
	took = clock_now_us() - start;
	assert_true(f.probes > (size_t)window);
	/*
	 * No burst: any `window` probes in a row span their slots, less what a late wake may
	 * send at once (SCHED_PACER_LATE_US) and a timer tick. Unpaced, these 20 traces send
	 * `window` probes within about 2 ms.
	 */
	for (i = 0; i + (size_t)window < f.probes; i++)
		if (f.sent_at[i + window] - f.sent_at[i] <
		    window * 500 - SCHED_PACER_LATE_US - 1000)
			fail_msg("probes %zu..%zu within %lld us", i, i + window,
				 (long long)(f.sent_at[i + window] - f.sent_at[i]));
	/* And the budget is what paces them: all probes take about probes / rate. */
	assert_true(took >= (int64_t)((double)(f.probes - 3) * 1e6 / rate));
	print_message("%zu probes of %d traces in %lld ms at %.0f/s\n", f.probes, ntr,
		      (long long)(took / 1000), rate);
	for (k = 0; k < ntr; k++)
		r.traces[k] = trace_free(r.traces[k]);
	free(f.sent_at);
	pacer_free(pacer);
	close_fake(&f);
	engine_conn_free(conn);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_traces_equal_one_at_a_time),
		cmocka_unit_test(test_freed_trace_answers_dropped),
		cmocka_unit_test(test_exhausted_is_not_loss),
		cmocka_unit_test(test_flows_cycle_per_round),
		cmocka_unit_test(test_lost_engine_reported),
		cmocka_unit_test(test_pacer_spreads_probes),
	};

	/* As hopwatch does: a dead engine is a write error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
