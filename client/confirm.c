/*
 * confirm: the plan is a pure function of the diagnosis; the run sends the plan in waves
 * (the k-th probe of every entry together), one engine client of its own, and counts each
 * outcome into its entry. Only outcomes count: a probe the engine refused, had no room
 * for, or never answered before it went away is "unsent", never a silence, so a dying
 * engine cannot fake a confirmed interruption.
 */
#include "client/confirm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"

/* Any port will do for connect() on a UDP socket: nothing is sent. */
#define CONFIRM_ROUTE_PORT 33434

enum probe_state {
	PROBE_PLANNED,
	PROBE_OUT,
	PROBE_DONE,   /* an outcome came: counted */
	PROBE_UNSENT, /* refused, exhausted, or lost with the engine */
};

struct probe {
	uint8_t entry;
	uint8_t state;
};

struct confirm {
	struct event_base *base;
	struct engine_conn *conn;
	struct engine_client *client;
	struct confirm_plan plan;
	struct engine_probe tmpl;
	struct diagnose_confirm res;
	struct probe probes[CONFIRM_PROBES_MAX];
	size_t nprobes, next; /* next: first not yet sent (waves in order) */
	size_t out;	      /* probes waiting for an outcome */
	uint32_t unsent;
	struct event *wave_ev, *deadline_ev, *done_ev;
	confirm_done_fn done;
	void *ctx;
	int started, finished;
};

static int effective_port(enum proto_protocol p, int port)
{
	if (p == PROTO_PROTOCOL_ICMP)
		return 0;
	if (port > 0)
		return port;
	return p == PROTO_PROTOCOL_UDP ? PROTO_DEFAULT_UDP_PORT : PROTO_DEFAULT_TCP_PORT;
}

static void plan_add(struct confirm_plan *pl, const struct trace_config *cfg,
		     enum proto_protocol proto, int port, int ttl, int count)
{
	struct confirm_entry *e;

	port = effective_port(proto, port);
	/* The trace itself asked that question already. */
	if (proto == cfg->tmpl.protocol && port == effective_port(proto, cfg->tmpl.port))
		return;
	if (pl->n >= DIAGNOSE_CONFIRM_MAX || pl->probes >= CONFIRM_PROBES_MAX)
		return;
	if (pl->probes + (uint32_t)count > CONFIRM_PROBES_MAX)
		count = (int)(CONFIRM_PROBES_MAX - pl->probes);
	e = &pl->e[pl->n++];
	e->protocol = proto;
	e->port = port;
	e->ttl = ttl;
	e->count = count;
	pl->probes += (uint32_t)count;
}

/* Loss that reaches the last hop shown: the question is whether it is ICMP's alone. */
static int loss_at_end(const struct diagnose_finding *f, int final_hop)
{
	if (f->kind == DIAGNOSE_DEST_LOSS)
		return 1;
	if (f->kind != DIAGNOSE_REAL_LOSS && f->kind != DIAGNOSE_MIXED_LOSS)
		return 0;
	return f->truncated || (f->nhops && f->hops[f->nhops - 1].ttl >= final_hop);
}

int confirm_plan(const struct diagnose_result *d, const struct stats_table *t,
		 const struct trace_config *cfg, struct confirm_plan *out)
{
	int silence = 0, loss = 0, last = 0, ttl, k;
	size_t i;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->reason = CONFIRM_NOT_NEEDED;
	if (!d || !t || !cfg)
		return -EINVAL;
	out->max_ttl = cfg->sched.max_ttl > 0 ? cfg->sched.max_ttl : PROTO_DEFAULT_TTL;
	if (!cfg->analyze || !cfg->confirm) {
		out->reason = CONFIRM_OFF;
		return CONFIRM_OFF;
	}
	for (i = 0; i < d->nfindings; i++) {
		const struct diagnose_finding *f = &d->findings[i];

		if (f->kind == DIAGNOSE_PATH_INTERRUPTION || f->kind == DIAGNOSE_DEST_DROPS_ICMP)
			silence = 1;
		else if (loss_at_end(f, d->final_hop))
			loss = 1;
	}
	/* A destination that answered has no silence to explain. */
	if (d->dest_reached || t->dest_ttl > 0)
		silence = 0;
	if (!silence && !loss)
		return CONFIRM_NOT_NEEDED;
	out->reason = silence ? CONFIRM_SILENCE : CONFIRM_LOSS;
	k = silence ? CONFIRM_PROBES_PER_ENTRY : CONFIRM_LOSS_PROBES;
	plan_add(out, cfg, PROTO_PROTOCOL_TCP, CONFIRM_TCP_PORT_HTTPS, DIAGNOSE_CONFIRM_TTL_DEST,
		 k);
	plan_add(out, cfg, PROTO_PROTOCOL_TCP, CONFIRM_TCP_PORT_HTTP, DIAGNOSE_CONFIRM_TTL_DEST,
		 CONFIRM_PROBES_PER_ENTRY);
	plan_add(out, cfg, PROTO_PROTOCOL_UDP, 0, DIAGNOSE_CONFIRM_TTL_DEST,
		 CONFIRM_PROBES_PER_ENTRY);
	plan_add(out, cfg, PROTO_PROTOCOL_ICMP, 0, DIAGNOSE_CONFIRM_TTL_DEST, k);
	if (!silence)
		return out->reason;
	for (ttl = 1; ttl <= t->nhops && ttl <= STATS_MAX_HOPS; ttl++) {
		const struct stats_hop *h = stats_table_hop(t, ttl);

		if (h && h->acc.received)
			last = ttl;
	}
	out->silent_after = last;
	for (ttl = last + 1; ttl <= last + CONFIRM_PAST_TTLS && ttl < out->max_ttl; ttl++) {
		/* A UDP trace sent UDP to these TTLs already: plan_add leaves that out. */
		plan_add(out, cfg, PROTO_PROTOCOL_TCP, CONFIRM_TCP_PORT_HTTPS, ttl,
			 CONFIRM_PROBES_PER_ENTRY);
		plan_add(out, cfg, PROTO_PROTOCOL_UDP, 0, ttl, CONFIRM_PROBES_PER_ENTRY);
	}
	return out->reason;
}

/* Tell the owner from the loop: it may free the confirm in its callback. */
static void finish(struct confirm *c)
{
	struct timeval now = {0, 0};
	size_t i;

	if (c->finished)
		return;
	c->finished = 1;
	for (i = 0; i < c->nprobes; i++) {
		if (c->probes[i].state == PROBE_PLANNED || c->probes[i].state == PROBE_OUT) {
			c->probes[i].state = PROBE_UNSENT;
			c->unsent++;
		}
	}
	c->out = 0;
	c->next = c->nprobes;
	evtimer_del(c->wave_ev);
	evtimer_del(c->deadline_ev);
	c->client = engine_conn_client_free(c->client);
	if (c->unsent)
		log_debug("confirmation: %u of %zu probes without an outcome", c->unsent,
			  c->nprobes);
	evtimer_add(c->done_ev, &now);
}

static void maybe_finish(struct confirm *c)
{
	if (c->next >= c->nprobes && c->out == 0)
		finish(c);
}

static void count(struct confirm *c, struct probe *p, const struct engine_result *r)
{
	struct diagnose_confirm_probe *e = &c->res.p[p->entry];
	int answered = 0;

	switch (r->reply) {
	case PROTO_REPLY_REPLY:
	case PROTO_REPLY_TTL_EXPIRED:
	case PROTO_REPLY_NO_ROUTE:
	case PROTO_REPLY_NO_ROUTE_HOST:
	case PROTO_REPLY_NO_ROUTE_NETWORK:
	case PROTO_REPLY_HOST_DOWN:
	case PROTO_REPLY_PROHIBITED:
		/* Without an address it was the local send that failed: nobody answered. */
		answered = r->from.family != 0;
		break;
	case PROTO_REPLY_NO_REPLY:
		answered = 0;
		break;
	case PROTO_REPLY_NETWORK_DOWN:
	case PROTO_REPLY_PERMISSION_DENIED:
	case PROTO_REPLY_ADDRESS_IN_USE:
	case PROTO_REPLY_ADDRESS_NOT_AVAILABLE:
	case PROTO_REPLY_PROBES_EXHAUSTED:
	case PROTO_REPLY_INVALID_ARGUMENT:
	case PROTO_REPLY_UNKNOWN_COMMAND:
	case PROTO_REPLY_COMMAND_PARSE_ERROR:
	case PROTO_REPLY_COMMAND_BUFFER_OVERFLOW:
	case PROTO_REPLY_FEATURE_SUPPORT:
	case PROTO_REPLY_EXTENSION_ENABLED:
	case PROTO_REPLY_UNEXPECTED_ERROR:
	case PROTO_REPLY__COUNT:
		/* It never left (or the engine would not say): no evidence either way. */
		p->state = PROBE_UNSENT;
		c->unsent++;
		if (!e->answered && !e->sent)
			e->last_reply = r->reply;
		return;
	}
	if (!answered && r->reply != PROTO_REPLY_NO_REPLY) {
		p->state = PROBE_UNSENT;
		c->unsent++;
		if (!e->answered && !e->sent)
			e->last_reply = r->reply;
		return;
	}
	p->state = PROBE_DONE;
	e->sent++;
	c->res.probes_sent++;
	c->res.ran = 1;
	if (answered) {
		e->answered++;
		e->last_reply = r->reply;
		e->from = r->from;
		if (addr_equal(&r->from, &c->tmpl.dst))
			e->from_dest++;
	} else if (!e->answered) {
		e->last_reply = PROTO_REPLY_NO_REPLY;
	}
}

static void on_result(void *ctx, uint64_t cookie, const struct engine_result *r)
{
	struct confirm *c = ctx;
	struct probe *p;

	if (c->finished || cookie >= c->nprobes)
		return;
	p = &c->probes[cookie];
	if (p->state != PROBE_OUT)
		return;
	c->out--;
	count(c, p, r);
	maybe_finish(c);
}

static void on_lost(void *ctx, const char *err)
{
	struct confirm *c = ctx;

	log_debug("confirmation cut short: %s", err ? err : "engine lost");
	finish(c);
}

static void send_one(struct confirm *c, size_t i)
{
	struct probe *p = &c->probes[i];
	const struct confirm_entry *e = &c->plan.e[p->entry];
	struct engine_probe pr = c->tmpl;
	int rc;

	pr.protocol = e->protocol;
	pr.port = e->protocol == PROTO_PROTOCOL_ICMP ? 0 : e->port;
	pr.ttl = e->ttl == DIAGNOSE_CONFIRM_TTL_DEST ? c->plan.max_ttl : e->ttl;
	rc = engine_conn_send_probe(c->client, &pr, i);
	if (rc) {
		p->state = PROBE_UNSENT;
		c->unsent++;
		return;
	}
	p->state = PROBE_OUT;
	c->out++;
}

static void wave_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confirm *c = arg;
	uint8_t prev;

	(void)fd;
	(void)what;
	if (c->finished)
		return;
	if (engine_conn_is_lost(c->conn)) {
		finish(c);
		return;
	}
	/* One wave: probes are laid out wave by wave, entries in plan order within each. */
	if (c->next < c->nprobes) {
		do {
			prev = c->probes[c->next].entry;
			send_one(c, c->next++);
		} while (c->next < c->nprobes && c->probes[c->next].entry > prev);
	}
	if (c->next < c->nprobes) {
		struct timeval tv = clock_tv_of_us(CONFIRM_WAVE_GAP_US);

		evtimer_add(c->wave_ev, &tv);
	} else {
		struct timeval tv =
			clock_tv_of_us((int64_t)CONFIRM_TIMEOUT_S * 1000000 + CONFIRM_GRACE_US);

		evtimer_add(c->deadline_ev, &tv);
	}
	maybe_finish(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confirm *c = arg;

	(void)fd;
	(void)what;
	log_debug("confirmation: the engine left %zu probes unanswered", c->out);
	finish(c);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confirm *c = arg;

	(void)fd;
	(void)what;
	if (c->done)
		c->done(c->ctx, &c->res);
}

int confirm_new(struct confirm **out, struct event_base *base, struct engine_conn *conn,
		const struct trace_config *cfg, const struct confirm_plan *plan,
		confirm_done_fn done, void *ctx)
{
	static const struct engine_client_ops ops = {.result = on_result, .lost = on_lost};
	struct confirm *c;
	size_t i;
	int wave, max = 0, rc;

	*out = NULL;
	if (!base || !conn || !cfg || !plan || plan->n > DIAGNOSE_CONFIRM_MAX ||
	    plan->max_ttl < 1 || plan->max_ttl > PROTO_DEFAULT_TTL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->conn = conn;
	c->plan = *plan;
	c->done = done;
	c->ctx = ctx;
	/* The trace's way out (source, device, mark, TOS); the rest is the plan's. */
	c->tmpl.dst = cfg->dst;
	c->tmpl.tos = cfg->tmpl.tos;
	c->tmpl.src = cfg->tmpl.src;
	c->tmpl.device = cfg->tmpl.device;
	c->tmpl.has_mark = cfg->tmpl.has_mark;
	c->tmpl.mark = cfg->tmpl.mark;
	c->tmpl.timeout_s = CONFIRM_TIMEOUT_S;
	c->res.n = plan->n;
	for (i = 0; i < plan->n; i++) {
		c->res.p[i].protocol = plan->e[i].protocol;
		c->res.p[i].port = plan->e[i].port;
		c->res.p[i].ttl = plan->e[i].ttl;
		c->res.p[i].last_reply = PROTO_REPLY_NO_REPLY;
		if (plan->e[i].count > max)
			max = plan->e[i].count;
	}
	for (wave = 0; wave < max; wave++)
		for (i = 0; i < plan->n && c->nprobes < CONFIRM_PROBES_MAX; i++)
			if (plan->e[i].count > wave)
				c->probes[c->nprobes++].entry = (uint8_t)i;
	c->wave_ev = evtimer_new(base, wave_cb, c);
	c->deadline_ev = evtimer_new(base, deadline_cb, c);
	c->done_ev = evtimer_new(base, done_cb, c);
	rc = c->wave_ev && c->deadline_ev && c->done_ev ? 0 : -ENOMEM;
	if (!rc)
		rc = engine_conn_client_new(&c->client, conn, &ops, c);
	if (rc) {
		confirm_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

struct confirm *confirm_free(struct confirm *c)
{
	if (!c)
		return NULL;
	c->client = engine_conn_client_free(c->client);
	if (c->wave_ev)
		event_free(c->wave_ev);
	if (c->deadline_ev)
		event_free(c->deadline_ev);
	if (c->done_ev)
		event_free(c->done_ev);
	free(c);
	return NULL;
}

int confirm_start(struct confirm *c)
{
	struct timeval now = {0, 0};

	if (c->started)
		return -EALREADY;
	c->started = 1;
	/* From the loop too: done must never come from inside this call. */
	evtimer_add(c->wave_ev, &now);
	return 0;
}

const struct diagnose_confirm *confirm_result(const struct confirm *c)
{
	return &c->res;
}

uint32_t confirm_unsent(const struct confirm *c)
{
	return c->unsent;
}

int confirm_trace(struct confirm **out, struct event_base *base, struct engine_conn *conn,
		  struct trace *t, confirm_done_fn done, void *ctx)
{
	const struct trace_config *cfg = trace_config(t);
	const struct diagnose_result *d;
	struct confirm_plan plan;
	int rc;

	*out = NULL;
	if (!cfg->analyze || !cfg->confirm || !conn)
		return CONFIRM_OFF;
	if (engine_conn_is_lost(conn))
		return CONFIRM_NOT_NEEDED;
	/* The diagnosis as it stands without (an earlier) confirmation. */
	trace_set_confirm(t, NULL);
	d = trace_diagnosis(t);
	if (!d || !trace_table(t))
		return CONFIRM_NOT_NEEDED;
	rc = confirm_plan(d, trace_table(t), cfg, &plan);
	if (rc < 0)
		return rc;
	if (!plan.n)
		return plan.reason == CONFIRM_OFF ? CONFIRM_OFF : CONFIRM_NOT_NEEDED;
	rc = confirm_new(out, base, conn, cfg, &plan, done, ctx);
	if (!rc)
		rc = confirm_start(*out);
	if (rc)
		*out = confirm_free(*out);
	return rc;
}

int confirm_local_addr(const struct addr *dst, const char *src, struct addr *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, rc = 0;

	if (!dst || !out || (dst->family != AF_INET && dst->family != AF_INET6))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (src && *src) {
		if (addr_parse(src, out) || out->family != dst->family) {
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
		return 0;
	}
	memset(&ss, 0, sizeof(ss));
	if (dst->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(CONFIRM_ROUTE_PORT);
		sin->sin_addr = dst->u.v4;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(CONFIRM_ROUTE_PORT);
		sin6->sin6_addr = dst->u.v6;
		len = sizeof(*sin6);
	}
	fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		rc = -errno;
	} else {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			rc = -errno;
	}
	close(fd);
	if (rc)
		return rc;
	out->family = dst->family;
	if (dst->family == AF_INET)
		out->u.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	else
		out->u.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	return 0;
}
