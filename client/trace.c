/*
 * trace: a scheduler feeding a statistics table, for one target, behind callbacks. The
 * scheduler's hooks come back here and go on to the owner with the trace attached, so
 * that an owner of many traces needs one set of functions.
 */
#include "client/trace.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "common/errmsg.h"
#include "common/text.h"

struct trace {
	struct event_base *base;
	struct engine_conn *conn;
	struct trace_config cfg;
	struct trace_hooks hooks;
	struct stats_table *table;
	struct flows *flows; /* --flows: per-flow tables, NULL otherwise */
	struct sched *sched;
	struct event *stop_ev; /* trace_stop() ends the trace from the loop */
	struct diagnose_result *diag;
	struct diagnose_confirm *confirm; /* trace_set_confirm()'s copy, NULL = none */
	diagnose_as_fn as_of;
	void *as_ctx;
	struct addr local; /* trace_set_local(), family 0 = unknown */
	int started, finished, status;
	uint32_t exhausted; /* of schedulers before the current one */
	char err[TRACE_ERR_MAX];
};

int trace_config_from_options(struct trace_config *cfg, const struct options *o, const char *name,
			      const struct addr *dst)
{
	struct engine_probe *p = &cfg->tmpl;

	memset(cfg, 0, sizeof(*cfg));
	if (!name || strlen(name) > TRACE_NAME_MAX || !dst->family)
		return -EINVAL;
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->dst = *dst;
	cfg->analyze = o->analyze;
	cfg->confirm = o->analyze && !o->no_confirm;
	cfg->sched.count = o->count;
	cfg->sched.interval_us = o->interval_us;
	cfg->sched.first_ttl = o->first_ttl;
	cfg->sched.max_ttl = o->max_ttl;
	cfg->sched.max_unknown = o->max_unknown;
	cfg->sched.grace_us = o->grace_us;
	p->dst = *dst;
	p->protocol = o->proto;
	/* Random sizes and patterns are drawn by the scheduler, each round, as mtr does. */
	if (o->psize < 0) {
		cfg->sched.rand_size_min = TRACE_PSIZE_MIN;
		cfg->sched.rand_size_max =
			-o->psize < TRACE_PSIZE_MIN ? TRACE_PSIZE_MIN : -o->psize;
		p->size = TRACE_PSIZE_MIN;
	} else {
		p->size = o->psize;
	}
	cfg->sched.rand_pattern = o->bitpattern < 0;
	p->bitpattern = o->bitpattern < 0 ? 0 : o->bitpattern;
	p->tos = o->tos;
	p->port = o->port;
	p->local_port = o->local_port;
	p->src = o->src_addr;
	p->device = o->interface;
	p->has_mark = o->has_mark;
	p->mark = o->mark;
	p->timeout_s = o->timeout_s;
	/* Paris: one flow id on every probe; --flows: the scheduler cycles ids per round. */
	p->has_flow_id = o->ecmp == OPTIONS_ECMP_PARIS;
	cfg->sched.nflows = o->flows;
	return 0;
}

int trace_config_psize(const struct trace_config *cfg)
{
	return cfg->sched.rand_size_max > 0 ? -cfg->sched.rand_size_max : cfg->tmpl.size;
}

int trace_config_bitpattern(const struct trace_config *cfg)
{
	return cfg->sched.rand_pattern ? -1 : cfg->tmpl.bitpattern;
}

int trace_resolve(const char *host, int family, struct addr *out, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char clean[TRACE_NAME_MAX + 1];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		text_clean(clean, sizeof(clean), host, TRACE_NAME_MAX);
		errmsg_set(err, errlen, "cannot resolve '%s': %s", clean,
			   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -ENOENT;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		memset(out, 0, sizeof(*out));
		if (ai->ai_family == AF_INET) {
			out->family = AF_INET;
			out->u.v4 = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
			break;
		}
		if (ai->ai_family == AF_INET6) {
			out->family = AF_INET6;
			out->u.v6 = ((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			break;
		}
	}
	freeaddrinfo(res);
	if (!ai) {
		text_clean(clean, sizeof(clean), host, TRACE_NAME_MAX);
		errmsg_set(err, errlen, "no usable address for '%s'", clean);
		return -ENOENT;
	}
	return 0;
}

/*
 * The end is told from the loop, never from inside the scheduler's own call chain: the
 * owner may then free the trace in its finished callback.
 */
static void end(struct trace *t, int err, const char *msg)
{
	struct timeval now = {0, 0};

	if (t->finished)
		return;
	t->finished = 1;
	t->status = err;
	if (err && msg)
		errmsg_set(t->err, sizeof(t->err), "%s", msg);
	else if (err)
		errmsg_set(t->err, sizeof(t->err), "tracing %s failed: %s", t->cfg.name,
			   strerror(-err));
	evtimer_add(t->stop_ev, &now);
}

static void on_done(void *ctx, int err, const char *msg)
{
	end(ctx, err, msg);
}

static void on_round(void *ctx, int round)
{
	struct trace *t = ctx;

	if (t->hooks.round_done)
		t->hooks.round_done(t->hooks.ctx, t, round);
}

static void on_hop(void *ctx, int ttl)
{
	struct trace *t = ctx;

	if (t->hooks.hop_changed)
		t->hooks.hop_changed(t->hooks.ctx, t, ttl);
}

static void on_sent(void *ctx, int ttl, int round, uint32_t seq)
{
	struct trace *t = ctx;

	if (t->hooks.sent)
		t->hooks.sent(t->hooks.ctx, t, ttl, round, seq);
}

static void on_answer(void *ctx, int ttl, int round, uint32_t seq, enum stats_outcome outcome,
		      const struct addr *from, int64_t rtt_us)
{
	struct trace *t = ctx;

	if (t->hooks.answer)
		t->hooks.answer(t->hooks.ctx, t, ttl, round, seq, outcome, from, rtt_us);
}

static void on_exhausted(void *ctx, int ttl, int round)
{
	struct trace *t = ctx;

	if (t->hooks.exhausted)
		t->hooks.exhausted(t->hooks.ctx, t, ttl, round);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trace *t = arg;

	(void)fd;
	(void)what;
	if (t->hooks.finished)
		t->hooks.finished(t->hooks.ctx, t, t->status, t->status ? t->err : NULL);
}

static int make_sched(struct trace *t)
{
	struct sched_hooks sh = {
		.done = on_done,
		.round_done = on_round,
		.hop_changed = t->hooks.hop_changed ? on_hop : NULL,
		.sent = t->hooks.sent ? on_sent : NULL,
		.answer = t->hooks.answer ? on_answer : NULL,
		.exhausted = t->hooks.exhausted ? on_exhausted : NULL,
		.ctx = t,
	};

	t->cfg.sched.flows = t->flows;
	return sched_new(&t->sched, t->base, t->conn, t->table, &t->cfg.sched, &t->cfg.tmpl, &sh);
}

int trace_new(struct trace **out, struct event_base *base, struct engine_conn *conn,
	      const struct trace_config *cfg, const struct trace_hooks *hooks)
{
	struct trace *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base = base;
	t->conn = conn;
	t->cfg = *cfg;
	t->cfg.tmpl.dst = cfg->dst;
	if (hooks)
		t->hooks = *hooks;
	rc = cfg->no_stats ? 0 : stats_table_new(&t->table);
	if (!rc && !cfg->no_stats && cfg->sched.nflows > 0)
		rc = flows_new(&t->flows, cfg->sched.nflows);
	if (!rc)
		rc = make_sched(t);
	if (!rc) {
		t->stop_ev = evtimer_new(base, stop_cb, t);
		if (!t->stop_ev)
			rc = -ENOMEM;
	}
	if (rc) {
		trace_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

struct trace *trace_free(struct trace *t)
{
	if (!t)
		return NULL;
	if (t->stop_ev)
		event_free(t->stop_ev);
	t->sched = sched_free(t->sched);
	t->table = stats_table_free(t->table);
	t->flows = flows_free(t->flows);
	free(t->confirm);
	free(t->diag);
	free(t);
	return NULL;
}

int trace_start(struct trace *t)
{
	int rc;

	if (t->started || t->finished)
		return -EALREADY;
	t->started = 1;
	rc = sched_start(t->sched);
	/* A scheduler that failed at once has told end(): finished follows from the loop. */
	return t->finished ? 0 : rc;
}

void trace_stop(struct trace *t)
{
	if (t->finished)
		return;
	if (t->sched)
		sched_stop(t->sched);
	end(t, 0, NULL);
}

void trace_pause(struct trace *t, int paused)
{
	if (t->sched)
		sched_pause(t->sched, paused);
}

int trace_set(struct trace *t, const struct sched_config *sched, const struct engine_probe *tmpl)
{
	struct engine_probe p = *tmpl;
	int rc;

	p.dst = t->cfg.dst;
	rc = t->sched ? sched_set(t->sched, sched, &p) : -EINVAL;
	if (rc)
		return rc;
	t->cfg.sched = *sched;
	t->cfg.tmpl = p;
	return 0;
}

const struct trace_config *trace_config(const struct trace *t)
{
	return &t->cfg;
}

struct stats_table *trace_table(struct trace *t)
{
	return t->table;
}

const struct flows *trace_flows(const struct trace *t)
{
	return t->flows;
}

int trace_finished(const struct trace *t)
{
	return t->finished;
}

int trace_status(const struct trace *t)
{
	return t->status;
}

const char *trace_error(const struct trace *t)
{
	return t->err;
}

int trace_rounds(const struct trace *t)
{
	return t->sched ? sched_rounds(t->sched) : 0;
}

uint32_t trace_exhausted(const struct trace *t)
{
	return t->exhausted + (t->sched ? sched_exhausted(t->sched) : 0);
}

int trace_diagnose(struct trace *t, struct diagnose_result *out)
{
	struct diagnose_input in = {0};

	if (!t->table)
		return -ENODATA;
	in.t = t->table;
	in.target = &t->cfg.dst;
	in.target_name = t->cfg.name;
	in.dest_reached = t->table->dest_ttl > 0;
	in.protocol = t->cfg.tmpl.protocol;
	in.port = t->cfg.tmpl.port;
	in.as_of = t->as_of;
	in.as_ctx = t->as_ctx;
	in.confirm = t->confirm;
	in.local = t->local.family ? &t->local : NULL;
	return diagnose_run(&in, out);
}

const struct diagnose_result *trace_diagnosis(struct trace *t)
{
	if (!t->cfg.analyze || !t->table)
		return NULL;
	if (!t->diag) {
		t->diag = malloc(sizeof(*t->diag));
		if (!t->diag)
			return NULL;
	}
	if (trace_diagnose(t, t->diag))
		return NULL;
	return t->diag;
}

int trace_set_confirm(struct trace *t, const struct diagnose_confirm *c)
{
	if (!c) {
		free(t->confirm);
		t->confirm = NULL;
		return 0;
	}
	if (!t->confirm) {
		t->confirm = malloc(sizeof(*t->confirm));
		if (!t->confirm)
			return -ENOMEM;
	}
	*t->confirm = *c;
	return 0;
}

void trace_set_as(struct trace *t, diagnose_as_fn fn, void *ctx)
{
	t->as_of = fn;
	t->as_ctx = ctx;
}

void trace_set_local(struct trace *t, const struct addr *local)
{
	if (local)
		t->local = *local;
	else
		memset(&t->local, 0, sizeof(t->local));
}

size_t trace_bytes(const struct trace *t)
{
	return sizeof(*t) + stats_table_bytes(t->table) + (t->sched ? sched_bytes(t->sched) : 0) +
	       (t->diag ? sizeof(*t->diag) : 0) + flows_bytes(t->flows);
}
