/*
 * batch: a queue of traces with a bound on how many run, and an output cursor. The trace
 * whose turn it is to print writes straight to the output (so a lone -l streams as it
 * goes); any other writes into a memory buffer of its own, copied out when its turn
 * comes. A finished trace is rendered at once and freed, so what waits for its turn is
 * text, not statistics.
 */
#include "client/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "client/confirm.h"
#include "client/raw.h"
#include "common/errmsg.h"
#include "common/log.h"

enum item_state {
	ITEM_WAITING, /* not started */
	ITEM_RUNNING,
	ITEM_CONFIRMING, /* finished, --analyze's confirmation probes are out (still running) */
	ITEM_NAMING,	 /* finished, its report waits for names */
	ITEM_READY,	 /* rendered (or failed): printed when its turn comes */
	ITEM_DONE,	 /* printed */
	ITEM_SKIPPED	 /* stopped before it started */
};

struct item {
	struct batch *b;
	size_t index;
	enum item_state state;
	struct trace *trace;
	struct raw_log *raw;
	FILE *held; /* output until its turn; NULL when writing to the real output */
	char *held_buf;
	size_t held_len;
	struct dns_waiter *waiter;
	struct asn_waiter *asn_waiter;
	struct confirm *confirm; /* ITEM_CONFIRMING */
	int waits;		 /* of the two waiters, those not done yet */
	time_t start;
	int err;
	char msg[TRACE_ERR_MAX];
};

struct batch {
	struct batch_config cfg;
	struct trace_config *tcfg; /* cfg.ntraces */
	struct item *items;
	size_t next; /* next to start */
	size_t head; /* next to print */
	size_t running, peak;
	int stopped, started, err, done_sent;
	char last_err[TRACE_ERR_MAX]; /* the same failure is printed once, not per target */
	struct event *done_ev;
};

static void start_next(struct batch *b);
static void flush(struct batch *b);

static FILE *item_out(struct item *it)
{
	struct batch *b = it->b;

	if (it->index == b->head)
		return b->cfg.out;
	if (!it->held)
		it->held = open_memstream(&it->held_buf, &it->held_len);
	return it->held;
}

static void fail(struct item *it, int err, const char *msg)
{
	if (it->err)
		return;
	it->err = err;
	errmsg_set(it->msg, sizeof(it->msg), "%s", msg ? msg : strerror(-err));
}

/* The report (or -l's closing diagnosis) of a finished trace, then its memory goes. */
static void render(struct item *it)
{
	struct batch *b = it->b;
	const struct trace_config *tc = trace_config(it->trace);
	const struct diagnose_result *diag = trace_diagnosis(it->trace);
	struct report_meta meta = b->cfg.meta;
	FILE *f = item_out(it);
	int rc = f ? 0 : -ENOMEM;

	if (!rc && b->cfg.format != REPORT_FORMAT_RAW) {
		meta.target = tc->name;
		meta.target_addr = &tc->dst;
		meta.start = it->start;
		meta.psize = trace_config_psize(tc);
		meta.bitpattern = trace_config_bitpattern(tc);
		meta.protocol = proto_protocol_name(tc->tmpl.protocol);
		if (b->cfg.format == REPORT_FORMAT_JSON)
			meta.diagnosis = diag;
		meta.flows = trace_flows(it->trace);
		rc = report_render(b->cfg.format, trace_table(it->trace), &meta, f);
		if (!rc && fflush(f))
			rc = -errno;
	}
	if (!rc && diag && b->cfg.format != REPORT_FORMAT_JSON) {
		fputc('\n', f);
		if (diagnose_print(diag, f) || fflush(f))
			rc = -EIO;
	}
	if (rc) {
		char msg[TRACE_ERR_MAX];

		errmsg_set(msg, sizeof(msg), "cannot write the report: %s", strerror(-rc));
		fail(it, rc, msg);
	}
	it->raw = raw_log_free(it->raw);
	it->trace = trace_free(it->trace);
	it->state = ITEM_READY;
}

static void names_done(void *ctx, size_t pending)
{
	struct item *it = ctx;

	if (pending)
		log_debug("some hop names did not arrive in time; showing numbers");
	it->waiter = dns_waiter_free(it->waiter);
	if (--it->waits > 0)
		return;
	render(it);
	flush(it->b);
}

static void asn_done(void *ctx, size_t pending)
{
	struct item *it = ctx;

	if (pending)
		log_debug("some AS data did not arrive in time; showing AS???");
	it->asn_waiter = asn_waiter_free(it->asn_waiter);
	if (--it->waits > 0)
		return;
	render(it);
	flush(it->b);
}

/*
 * A report is printed once, so, as mtr does, it waits for the names of the responders it
 * will show; bounded by DNS_REPORT_WAIT_US in total, after which numbers are printed.
 */
static int wait_names(struct item *it)
{
	struct batch *b = it->b;
	struct stats_table *t = trace_table(it->trace);
	struct addr *addrs;
	size_t n = 0, j;
	int ttl, rc;

	addrs = calloc(DNS_WAIT_MAX, sizeof(*addrs));
	if (!addrs)
		return -ENOMEM;
	for (ttl = 1; ttl <= STATS_MAX_HOPS && n + STATS_MAX_RESPONDERS + 1 <= DNS_WAIT_MAX;
	     ttl++) {
		const struct stats_hop *h = stats_table_hop(t, ttl);

		if (!h)
			break;
		if (!h->acc.received)
			continue;
		addrs[n++] = h->last_addr;
		for (j = 0; j < h->nresponders && j < (size_t)b->cfg.meta.max_ecmp; j++)
			addrs[n++] = h->responders[j].addr;
	}
	/* Names and AS data are asked at once; the report goes when both are in. */
	it->waits = 0;
	rc = dns_wait(b->cfg.dns, addrs, n, DNS_REPORT_WAIT_US, names_done, it, &it->waiter);
	if (rc == 0)
		it->waits++;
	/* --analyze: the destination's AS too (region C is its network), answered or not. */
	if (trace_config(it->trace)->analyze && n < DNS_WAIT_MAX)
		addrs[n++] = trace_config(it->trace)->dst;
	if (rc >= 0 && b->cfg.asn && n <= ASN_WAIT_MAX) {
		rc = asn_wait(b->cfg.asn, addrs, n, ASN_REPORT_WAIT_US, asn_done, it,
			      &it->asn_waiter);
		if (rc == 0)
			it->waits++;
	}
	free(addrs);
	if (rc < 0) {
		it->waiter = dns_waiter_free(it->waiter);
		it->asn_waiter = asn_waiter_free(it->asn_waiter);
		return rc;
	}
	return it->waits ? 0 : DNS_WAIT_NONE;
}

/* The trace and its confirmation are over: it no longer counts as running. */
static void trace_over(struct item *it)
{
	struct batch *b = it->b;

	b->running--;
	if (!it->err && b->cfg.wait_names && (b->cfg.dns || b->cfg.asn) &&
	    b->cfg.format != REPORT_FORMAT_RAW && wait_names(it) == 0) {
		it->state = ITEM_NAMING;
	} else if (it->err) {
		it->raw = raw_log_free(it->raw);
		it->trace = trace_free(it->trace);
		it->state = ITEM_READY;
	} else {
		render(it);
	}
	start_next(b);
	flush(b);
}

/* Keep what the confirmation learnt (partial when cut short) for the diagnosis. */
static void keep_confirm(struct item *it, const struct diagnose_confirm *res)
{
	if (res && res->ran && trace_set_confirm(it->trace, res))
		log_debug("no memory for the confirmation's outcome");
	it->confirm = confirm_free(it->confirm);
}

static void confirmed(void *ctx, const struct diagnose_confirm *res)
{
	struct item *it = ctx;

	if (it->state != ITEM_CONFIRMING)
		return;
	keep_confirm(it, res);
	trace_over(it);
}

/*
 * --analyze: this host's address for the reverse-path advice, and, unless --no-confirm,
 * a few probes of other protocols when the trace ended in silence or loss. Not for -l
 * (its lines are the probes of the trace) nor after Ctrl-C. 1 when confirming.
 */
static int analyze(struct item *it)
{
	struct batch *b = it->b;
	const struct trace_config *tc = trace_config(it->trace);
	struct addr local;
	int rc;

	if (!tc->analyze)
		return 0;
	if (confirm_local_addr(&tc->dst, tc->tmpl.src, &local) == 0)
		trace_set_local(it->trace, &local);
	if (b->stopped || b->cfg.format == REPORT_FORMAT_RAW)
		return 0;
	rc = confirm_trace(&it->confirm, b->cfg.base, b->cfg.conn, it->trace, confirmed, it);
	if (rc < 0)
		log_debug("no confirmation for %s: %s", tc->name, strerror(-rc));
	return rc == 0;
}

static void on_finished(void *ctx, struct trace *t, int err, const char *msg)
{
	struct item *it = ctx;

	(void)t;
	if (it->state != ITEM_RUNNING)
		return;
	if (err)
		fail(it, err, msg);
	if (!err && analyze(it)) {
		it->state = ITEM_CONFIRMING;
		return;
	}
	trace_over(it);
}

static void on_sent(void *ctx, struct trace *t, int ttl, int round, uint32_t seq)
{
	struct item *it = ctx;

	(void)t;
	(void)round;
	if (it->raw && raw_log_sent(it->raw, ttl, seq))
		log_debug("cannot write a raw line");
}

static void on_answer(void *ctx, struct trace *t, int ttl, int round, uint32_t seq,
		      enum stats_outcome outcome, const struct addr *from, int64_t rtt_us)
{
	struct item *it = ctx;

	(void)t;
	(void)round;
	if (it->raw && raw_log_answer(it->raw, ttl, seq, outcome, from, rtt_us))
		log_debug("cannot write a raw line");
}

static int start_item(struct item *it)
{
	struct batch *b = it->b;
	struct trace_hooks hooks = {.finished = on_finished, .ctx = it};
	int rc;

	if (b->cfg.format == REPORT_FORMAT_RAW) {
		FILE *f = item_out(it);

		rc = f ? raw_log_new(&it->raw, f, b->cfg.dns) : -ENOMEM;
		if (rc)
			return rc;
		hooks.sent = on_sent;
		hooks.answer = on_answer;
	}
	rc = trace_new(&it->trace, b->cfg.base, b->cfg.conn, &b->tcfg[it->index], &hooks);
	if (rc)
		return rc;
	if (b->cfg.asn)
		trace_set_as(it->trace, asn_diagnose_as, b->cfg.asn);
	it->start = b->cfg.meta.start ? b->cfg.meta.start : time(NULL);
	it->state = ITEM_RUNNING;
	b->running++;
	if (b->running > b->peak)
		b->peak = b->running;
	rc = trace_start(it->trace);
	if (rc && it->state == ITEM_RUNNING) {
		/* Failed before its scheduler could say so through the hook. */
		b->running--;
		it->state = ITEM_READY;
		fail(it, rc, trace_error(it->trace)[0] ? trace_error(it->trace) : NULL);
		it->raw = raw_log_free(it->raw);
		it->trace = trace_free(it->trace);
	}
	return 0;
}

static void start_next(struct batch *b)
{
	while (!b->stopped && b->next < b->cfg.ntraces && b->running < b->cfg.max_concurrent) {
		struct item *it = &b->items[b->next++];
		int rc = start_item(it);

		if (rc) {
			char msg[TRACE_ERR_MAX];

			errmsg_set(msg, sizeof(msg), "cannot trace %s: %s", b->tcfg[it->index].name,
				   strerror(-rc));
			fail(it, rc, msg);
			it->raw = raw_log_free(it->raw);
			it->trace = trace_free(it->trace);
			it->state = ITEM_READY;
		}
	}
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;

	(void)fd;
	(void)what;
	if (b->cfg.done)
		b->cfg.done(b->cfg.ctx, b->err);
}

/* Copy what a trace held back, and let it write straight out from now on. */
static void take_turn(struct batch *b, struct item *it)
{
	if (!it->held)
		return;
	if (fclose(it->held) == 0 && it->held_len &&
	    fwrite(it->held_buf, 1, it->held_len, b->cfg.out) != it->held_len)
		fail(it, -EIO, "cannot write the report");
	fflush(b->cfg.out);
	it->held = NULL;
	free(it->held_buf);
	it->held_buf = NULL;
	it->held_len = 0;
	if (it->raw)
		raw_log_set_output(it->raw, b->cfg.out);
}

static void flush(struct batch *b)
{
	struct timeval now = {0, 0};

	while (b->head < b->cfg.ntraces) {
		struct item *it = &b->items[b->head];

		if (it->state == ITEM_SKIPPED) {
			b->head++;
			continue;
		}
		take_turn(b, it);
		if (it->state != ITEM_READY)
			return;
		if (it->err) {
			/* One dead engine fails every trace: say it once. */
			if (strcmp(it->msg, b->last_err))
				log_warnx("%s", it->msg);
			memcpy(b->last_err, it->msg, sizeof(b->last_err));
			b->err = it->err;
		}
		it->state = ITEM_DONE;
		b->head++;
	}
	if (!b->done_sent && b->started) {
		b->done_sent = 1;
		evtimer_add(b->done_ev, &now);
	}
}

int batch_new(struct batch **out, const struct batch_config *cfg)
{
	struct batch *b;
	size_t i;

	*out = NULL;
	if (!cfg->ntraces || !cfg->max_concurrent || !cfg->out)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->tcfg = calloc(cfg->ntraces, sizeof(*b->tcfg));
	b->items = calloc(cfg->ntraces, sizeof(*b->items));
	b->done_ev = evtimer_new(cfg->base, done_cb, b);
	if (!b->tcfg || !b->items || !b->done_ev) {
		batch_free(b);
		return -ENOMEM;
	}
	memcpy(b->tcfg, cfg->traces, cfg->ntraces * sizeof(*b->tcfg));
	b->cfg.traces = NULL;
	for (i = 0; i < cfg->ntraces; i++) {
		b->items[i].b = b;
		b->items[i].index = i;
	}
	*out = b;
	return 0;
}

struct batch *batch_free(struct batch *b)
{
	size_t i;

	if (!b)
		return NULL;
	for (i = 0; b->items && i < b->cfg.ntraces; i++) {
		struct item *it = &b->items[i];

		it->confirm = confirm_free(it->confirm);
		it->waiter = dns_waiter_free(it->waiter);
		it->asn_waiter = asn_waiter_free(it->asn_waiter);
		it->raw = raw_log_free(it->raw);
		it->trace = trace_free(it->trace);
		if (it->held)
			fclose(it->held);
		free(it->held_buf);
	}
	if (b->done_ev)
		event_free(b->done_ev);
	free(b->items);
	free(b->tcfg);
	free(b);
	return NULL;
}

int batch_start(struct batch *b)
{
	if (b->started)
		return -EALREADY;
	b->started = 1;
	start_next(b);
	flush(b);
	return 0;
}

void batch_stop(struct batch *b)
{
	size_t i;

	b->stopped = 1;
	for (i = 0; i < b->cfg.ntraces; i++) {
		struct item *it = &b->items[i];

		if (it->state == ITEM_WAITING) {
			it->state = ITEM_SKIPPED;
		} else if (it->state == ITEM_RUNNING) {
			trace_stop(it->trace);
		} else if (it->state == ITEM_CONFIRMING) {
			/* What came in so far counts; the report goes now, without names. */
			keep_confirm(it, confirm_result(it->confirm));
			b->running--;
			render(it);
		} else if (it->state == ITEM_NAMING) {
			it->waiter = dns_waiter_free(it->waiter);
			it->asn_waiter = asn_waiter_free(it->asn_waiter);
			render(it);
		}
	}
	flush(b);
}

size_t batch_running(const struct batch *b)
{
	return b->running;
}

size_t batch_peak_running(const struct batch *b)
{
	return b->peak;
}
