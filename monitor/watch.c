/*
 * watch: a trace that never ends, cut into windows. The trace's statistics table holds
 * the current window only (it is cleared at each window's end, after the window's line is
 * written), while the counters of the metrics live here and run on across windows,
 * reconnections and re-resolutions. The path is read round by round from the answers and
 * a change counts only once it has held for WATCH_PATH_DEBOUNCE rounds. A round's path is
 * read when the destination answers it, while each nearer hop's latest answer is still
 * that round's.
 */
#include "monitor/watch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "client/options.h"
#include "common/clock.h"
#include "common/log.h"

/* A lookup that failed is tried again after this long (or resolve_every, if sooner). */
#define WATCH_RESOLVE_RETRY_US (30 * CLOCK_US_PER_S)
/* A trace the engine refused is started again after this long. */
#define WATCH_RESTART_US (30 * CLOCK_US_PER_S)
/* -G of a monitor trace: what is still out when a trace is dropped is not waited for. */
#define WATCH_GRACE_US (5 * CLOCK_US_PER_S)
/* Longest timestamp text. */
#define WATCH_TIME_MAX CLOCK_UTC_MAX

struct watch_hop {
	struct metrics_hop m;
	int active;	    /* its series show */
	int absent;	    /* windows in a row without a probe to it */
	uint64_t sent_mark; /* m.sent when the last window ended */
	int round;	    /* round of the latest answer, -1 = none */
	struct addr answer; /* who gave it */
};

/* One window: the rounds [index * window_rounds, (index + 1) * window_rounds). */
struct window {
	int index;
	int rounds_done;
	struct stats_table *t;
	struct timespec start; /* when its first probe went */
};

struct watch {
	struct watch_env env;
	struct watch_hooks hooks;
	struct monitor_target_config cfg;
	struct metrics_label labels[METRICS_LABELS_MAX];
	size_t nlabels;
	struct engine_conn *conn;
	struct addr dst;
	int have_dst;
	struct dns_resolve *res;
	struct event *resolve_ev, *restart_ev;
	int64_t resolve_every_us;
	struct trace *trace;
	int window_rounds; /* rounds per window */
	/* Windows still open, oldest first: probes of rounds in them are not all in. */
	struct window *wins;
	size_t nwins, capwins;
	int round_base;		/* rounds count from 0 with each trace: where this one's 0 falls */
	int next_window;	/* index of the first window not written yet */
	struct watch_hop *hops; /* index ttl - 1 */
	int nhops;
	struct metrics_hop *view; /* the active hops, for metrics */
	struct addr *path, *cand; /* nhops each; family 0 = not known */
	int npath, ncand, cand_seen;
	int path_round_seen; /* the latest round the path was read from, -1 = none */
	double path_id;
	uint64_t path_changes, windows;
	int reachable;
	struct metrics_finding findings[WATCH_FINDINGS_MAX];
	size_t nfindings;
	struct watch_counts counts;
	uint32_t flow_id;
};

static void start_trace(struct watch *w);

struct json_object *watch_line_head(const char *type)
{
	struct json_object *o = json_object_new_object();
	char when[WATCH_TIME_MAX];

	if (!o)
		return NULL;
	clock_format_utc(when, sizeof(when), NULL);
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "time", json_object_new_string(when));
	return o;
}

/* A target's line: the common head and which target. */
static struct json_object *line_new(const struct watch *w, const char *type)
{
	struct json_object *o = watch_line_head(type);

	if (o)
		json_object_object_add(o, "target", json_object_new_string(w->cfg.name));
	return o;
}

static void emit(struct watch *w, struct json_object *o)
{
	if (w->hooks.line)
		w->hooks.line(w->hooks.ctx, w, o);
	json_object_put(o);
}

static struct json_object *addr_json(const struct addr *a)
{
	char buf[ADDR_STR_MAX];

	if (!a->family)
		return json_object_new_string("*");
	return json_object_new_string(addr_str(a, buf, sizeof(buf)));
}

/* The path arrays follow the hops: memory for the TTLs seen, not for 255. */
static int grow_paths(struct watch *w, int n)
{
	struct addr *p = realloc(w->path, (size_t)n * sizeof(*p)), *c;

	if (!p)
		return -ENOMEM;
	w->path = p;
	c = realloc(w->cand, (size_t)n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	w->cand = c;
	memset(w->path + w->nhops, 0, (size_t)(n - w->nhops) * sizeof(*p));
	memset(w->cand + w->nhops, 0, (size_t)(n - w->nhops) * sizeof(*c));
	return 0;
}

static struct watch_hop *hop_at(struct watch *w, int ttl)
{
	struct watch_hop *grown;
	int i;

	if (ttl < 1 || ttl > STATS_MAX_HOPS)
		return NULL;
	if (ttl > w->nhops) {
		grown = realloc(w->hops, (size_t)ttl * sizeof(*grown));
		if (!grown)
			return NULL;
		for (i = w->nhops; i < ttl; i++) {
			memset(&grown[i], 0, sizeof(grown[i]));
			grown[i].m.ttl = i + 1;
			grown[i].round = -1;
			grown[i].m.window_loss_ratio = NAN;
			grown[i].m.window_rtt_avg_s = NAN;
		}
		w->hops = grown;
		if (grow_paths(w, ttl))
			return NULL;
		w->nhops = ttl;
		free(w->view);
		w->view = calloc((size_t)ttl, sizeof(*w->view));
	}
	return &w->hops[ttl - 1];
}

/* ---- the path ---- */

static uint32_t path_hash(const struct addr *p, int n)
{
	uint32_t h = 2166136261u;
	int i;
	size_t k;

	for (i = 0; i < n; i++) {
		const unsigned char *b = (const unsigned char *)&p[i].u;

		h = (h ^ (uint32_t)p[i].family) * 16777619u;
		for (k = 0; k < addr_len(p[i].family); k++)
			h = (h ^ b[k]) * 16777619u;
	}
	return h;
}

/* The first hop (index) where a and b name different responders, or -1. */
static int path_diff(const struct addr *a, int na, const struct addr *b, int nb)
{
	int i, n = na > nb ? na : nb;

	for (i = 0; i < n; i++) {
		const struct addr *x = i < na ? &a[i] : NULL, *y = i < nb ? &b[i] : NULL;

		if (x && y && x->family && y->family && !addr_equal(x, y))
			return i;
		/* A path that got longer or shorter: where the shorter one ended. */
		if ((!x || !y) && i == (na < nb ? na : nb))
			return i;
	}
	return -1;
}

/* What round r showed: the responder of each hop up to the destination. */
static int round_path(struct watch *w, int round, struct addr *out)
{
	int i, n = 0, reached = 0;

	for (i = 0; i < w->nhops && i < STATS_MAX_HOPS; i++) {
		const struct watch_hop *h = &w->hops[i];

		memset(&out[i], 0, sizeof(out[i]));
		if (h->round != round)
			continue;
		out[i] = h->answer;
		n = i + 1;
		if (addr_equal(&h->answer, &w->dst)) {
			reached = 1;
			break;
		}
	}
	/* Without the destination the length is not known: only what answered counts. */
	return reached ? n : -n;
}

static void path_event(struct watch *w, int first)
{
	struct json_object *o = line_new(w, "path_change"), *oa, *na;
	int i;

	oa = json_object_new_array();
	na = json_object_new_array();
	for (i = 0; i < w->npath; i++)
		json_object_array_add(oa, addr_json(&w->path[i]));
	for (i = 0; i < w->ncand; i++)
		json_object_array_add(na, addr_json(&w->cand[i]));
	json_object_object_add(o, "old", oa);
	json_object_object_add(o, "new", na);
	json_object_object_add(o, "first_diff_hop", json_object_new_int(first + 1));
	json_object_object_add(o, "path_id",
			       json_object_new_int64((int64_t)path_hash(w->cand, w->ncand)));
	emit(w, o);
}

static void path_round(struct watch *w, int round)
{
	struct addr now[STATS_MAX_HOPS];
	int n = round_path(w, round, now), reached = n > 0, len = n > 0 ? n : -n, i, d;

	if (!len)
		return;
	if (!w->npath) {
		if (!reached)
			return;
		memcpy(w->path, now, (size_t)len * sizeof(*now));
		w->npath = len;
		w->path_id = path_hash(w->path, w->npath);
		return;
	}
	d = path_diff(w->path, w->npath, now, reached ? len : (len < w->npath ? len : w->npath));
	if (d < 0) {
		/*
		 * Nothing here contradicts the path. Unless it fits the new candidate as well
		 * (the hops that tell them apart did not answer), the candidate was a fluke.
		 */
		if (w->cand_seen && path_diff(w->cand, w->ncand, now, len) < 0)
			return;
		for (i = 0; i < len && i < w->npath; i++)
			if (!w->path[i].family && now[i].family)
				w->path[i] = now[i];
		w->path_id = path_hash(w->path, w->npath);
		w->cand_seen = 0;
		return;
	}
	if (!reached)
		return; /* a different responder, but the new length is unknown yet */
	if (w->cand_seen && path_diff(w->cand, w->ncand, now, len) < 0) {
		w->cand_seen++;
	} else {
		memcpy(w->cand, now, (size_t)len * sizeof(*now));
		w->ncand = len;
		w->cand_seen = 1;
	}
	if (w->cand_seen < WATCH_PATH_DEBOUNCE)
		return;
	path_event(w, path_diff(w->path, w->npath, w->cand, w->ncand));
	memcpy(w->path, w->cand, (size_t)w->ncand * sizeof(*w->cand));
	w->npath = w->ncand;
	w->path_id = path_hash(w->path, w->npath);
	w->path_changes++;
	w->cand_seen = 0;
}

/* ---- windows ---- */

/* Milliseconds to the microsecond, written as such (not as the nearest binary double). */
static struct json_object *ms(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.3f", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *hop_json(const struct stats_hop *h)
{
	struct json_object *o = json_object_new_object();
	struct stats_summary s;

	stats_hop_summarize(h, &s);
	json_object_object_add(o, "hop", json_object_new_int(h->ttl));
	json_object_object_add(o, "address", addr_json(&h->last_addr));
	json_object_object_add(o, "sent", json_object_new_int64(s.sent));
	json_object_object_add(o, "received", json_object_new_int64(s.received));
	json_object_object_add(o, "loss_pct", ms(s.loss_pct));
	if (s.received) {
		json_object_object_add(o, "last_ms", ms(s.last));
		json_object_object_add(o, "avg_ms", ms(s.avg));
		json_object_object_add(o, "best_ms", ms(s.best));
		json_object_object_add(o, "worst_ms", ms(s.worst));
		json_object_object_add(o, "stdev_ms", ms(s.stdev));
		json_object_object_add(o, "p50_ms", ms(s.p50));
		json_object_object_add(o, "p90_ms", ms(s.p90));
		json_object_object_add(o, "p99_ms", ms(s.p99));
		json_object_object_add(o, "jitter_avg_ms", ms(s.javg));
	}
	json_object_object_add(o, "responders", json_object_new_int((int)h->nresponders));
	return o;
}

/* The window's figures into the hops' gauges; hops left unprobed age out of the metrics. */
static void window_gauges(struct watch *w, const struct stats_table *t)
{
	int i;

	for (i = 0; i < w->nhops; i++) {
		struct watch_hop *wh = &w->hops[i];
		const struct stats_hop *h = stats_table_hop(t, i + 1);
		struct stats_summary s;

		if (wh->m.sent == wh->sent_mark) {
			if (++wh->absent >= WATCH_HOP_GONE_WINDOWS && wh->active) {
				struct metrics_hop fresh = {.ttl = wh->m.ttl};

				/* Gone: its series go; if it comes back its counters start anew. */
				wh->active = 0;
				fresh.window_loss_ratio = NAN;
				fresh.window_rtt_avg_s = NAN;
				wh->m = fresh;
			}
			wh->sent_mark = wh->m.sent;
			continue;
		}
		wh->absent = 0;
		wh->sent_mark = wh->m.sent;
		if (!h)
			continue;
		stats_hop_summarize(h, &s);
		wh->m.window_loss_ratio = s.sent ? s.loss_pct / 100.0 : NAN;
		wh->m.window_rtt_avg_s = s.received ? s.avg / 1000.0 : NAN;
	}
}

static void window_findings(struct watch *w, const struct diagnose_result *d)
{
	size_t i;

	w->nfindings = 0;
	for (i = 0; d && i < d->nfindings && w->nfindings < WATCH_FINDINGS_MAX; i++) {
		struct metrics_finding *f = &w->findings[w->nfindings++];

		f->hop = d->findings[i].hop;
		f->kind = diagnose_kind_id(d->findings[i].kind);
		f->severity = diagnose_severity_id(d->findings[i].severity);
	}
}

static void add_labels(const struct watch *w, struct json_object *o)
{
	struct json_object *l;
	size_t i;

	if (!w->nlabels)
		return;
	l = json_object_new_object();
	for (i = 0; i < w->nlabels; i++)
		json_object_object_add(l, w->labels[i].key,
				       json_object_new_string(w->labels[i].value));
	json_object_object_add(o, "labels", l);
}

/*
 * A window's line: every probe of its rounds (interrupted: the ones that were in when the
 * engine went). Its diagnosis is of this window alone.
 */
static void write_window(struct watch *w, const struct window *win, int interrupted)
{
	struct diagnose_result *d = malloc(sizeof(*d));
	struct json_object *o, *hops;
	char when[WATCH_TIME_MAX], addr[ADDR_STR_MAX];
	int ttl, last = stats_last_hop(win->t), reached = win->t->dest_ttl > 0;

	struct diagnose_input in = {
		.t = win->t,
		.target = &w->dst,
		.dest_reached = reached,
		.protocol = w->cfg.protocol,
	};

	if (d && diagnose_run(&in, d)) {
		free(d);
		d = NULL;
	}
	o = line_new(w, "window");
	clock_format_utc(when, sizeof(when), &win->start);
	json_object_object_add(o, "start", json_object_new_string(when));
	json_object_object_add(o, "host", json_object_new_string(w->cfg.host));
	json_object_object_add(o, "address",
			       json_object_new_string(addr_str(&w->dst, addr, sizeof(addr))));
	json_object_object_add(o, "protocol",
			       json_object_new_string(proto_protocol_name(w->cfg.protocol)));
	json_object_object_add(o, "rounds", json_object_new_int(win->rounds_done));
	json_object_object_add(o, "interrupted", json_object_new_boolean(interrupted));
	json_object_object_add(o, "reachable", json_object_new_boolean(reached));
	json_object_object_add(o, "path_id", json_object_new_int64((int64_t)w->path_id));
	hops = json_object_new_array();
	for (ttl = 1; ttl <= last; ttl++) {
		const struct stats_hop *h = stats_table_hop(win->t, ttl);

		if (h)
			json_object_array_add(hops, hop_json(h));
	}
	json_object_object_add(o, "hops", hops);
	if (d) {
		json_object_object_add(o, "diagnosis", diagnose_json(d));
		json_object_object_add(o, "conclusion", diagnose_json_conclusion(d));
	}
	add_labels(w, o);
	emit(w, o);
	window_gauges(w, win->t);
	window_findings(w, d);
	w->reachable = reached;
	w->windows++;
	free(d);
}

/* The open window a round belongs to, made when its first probe goes. */
static struct window *window_of(struct watch *w, int round, int make)
{
	int index = (w->round_base + round) / w->window_rounds;
	struct window *win;
	size_t i;

	for (i = 0; i < w->nwins; i++)
		if (w->wins[i].index == index)
			return &w->wins[i];
	if (!make || (w->nwins && index < w->wins[w->nwins - 1].index))
		return NULL; /* a window already written */
	if (w->nwins == w->capwins) {
		size_t cap = w->capwins ? w->capwins * 2 : 2;
		struct window *grown = realloc(w->wins, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		w->wins = grown;
		w->capwins = cap;
	}
	win = &w->wins[w->nwins];
	memset(win, 0, sizeof(*win));
	win->index = index;
	if (stats_table_new(&win->t))
		return NULL;
	clock_gettime(CLOCK_REALTIME, &win->start);
	w->nwins++;
	return win;
}

/* Write and drop the oldest open window. */
static void pop_window(struct watch *w, int interrupted)
{
	struct window *win = &w->wins[0];

	write_window(w, win, interrupted);
	w->next_window = win->index + 1;
	win->t = stats_table_free(win->t);
	w->nwins--;
	memmove(w->wins, w->wins + 1, w->nwins * sizeof(*w->wins));
}

/* The engine went or the trace stops: what each open window has is written. */
static void flush_windows(struct watch *w)
{
	while (w->nwins) {
		if (stats_last_hop(w->wins[0].t) > 0)
			pop_window(w, 1);
		else {
			w->next_window = w->wins[0].index + 1;
			w->wins[0].t = stats_table_free(w->wins[0].t);
			w->nwins--;
			memmove(w->wins, w->wins + 1, w->nwins * sizeof(*w->wins));
		}
	}
}

/* ---- the trace's hooks ---- */

static void on_sent(void *ctx, struct trace *t, int ttl, int round, uint32_t seq)
{
	struct watch *w = ctx;
	struct watch_hop *h = hop_at(w, ttl);

	struct window *win = window_of(w, round, 1);

	(void)t;
	(void)seq;
	w->counts.sent++;
	if (win && stats_sent(win->t, ttl))
		log_debug("%s: no room for window statistics", w->cfg.name);
	if (!h)
		return;
	h->m.sent++;
	h->active = 1;
}

static void on_exhausted(void *ctx, struct trace *t, int ttl, int round)
{
	struct watch *w = ctx;
	struct watch_hop *h = hop_at(w, ttl);
	struct window *win = window_of(w, round, 0);

	(void)t;
	/* It never left: not a probe sent, so not a loss either. */
	if (win)
		stats_unsent(win->t, ttl);
	w->counts.sent--;
	w->counts.exhausted++;
	if (h && h->m.sent)
		h->m.sent--;
}

static void on_answer(void *ctx, struct trace *t, int ttl, int round, uint32_t seq,
		      enum stats_outcome outcome, const struct addr *from, int64_t rtt_us)
{
	struct watch *w = ctx;
	struct watch_hop *h = hop_at(w, ttl);
	struct window *win = window_of(w, round, 0);
	double s;

	(void)t;
	(void)seq;
	w->counts.answered++;
	if (win)
		stats_answer(win->t, ttl, outcome, from, rtt_us < 0 ? 0 : rtt_us, NULL, 0);
	if (!h || outcome == STATS_LOST || !from)
		return;
	h->m.received++;
	h->m.addr = *from;
	h->round = round;
	h->answer = *from;
	s = (double)(rtt_us < 0 ? 0 : rtt_us) / 1e6;
	h->m.bucket[metrics_bucket_of(s)]++;
	h->m.rtt_sum_s += s;
	/*
	 * The destination's answer closes what the round can say about the path: the hops
	 * before it have answered by now (they are nearer), or will never.
	 */
	if (outcome == STATS_REPLY && round > w->path_round_seen) {
		w->path_round_seen = round;
		path_round(w, round);
	}
}

static void on_round(void *ctx, struct trace *t, int round)
{
	struct watch *w = ctx;

	struct window *win = window_of(w, round, 0);

	(void)t;
	if (!win)
		return;
	win->rounds_done++;
	/* Rounds end in order: the window's last one done means all of its probes are in. */
	if ((w->round_base + round + 1) % w->window_rounds == 0) {
		int done = win->index; /* win moves as windows are popped */

		while (w->nwins && w->wins[0].index <= done)
			pop_window(w, 0);
	}
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_trace(arg);
}

static void drop_trace(struct watch *w)
{
	if (!w->trace)
		return;
	w->trace = trace_free(w->trace);
}

static void on_finished(void *ctx, struct trace *t, int err, const char *msg)
{
	struct watch *w = ctx;
	struct timeval tv = clock_tv_of_us(WATCH_RESTART_US);

	(void)t;
	flush_windows(w);
	drop_trace(w);
	if (w->hooks.ended)
		w->hooks.ended(w->hooks.ctx, w, err, msg);
	/* A lost engine waits for watch_start(); anything else is tried again later. */
	if (err != -EPIPE && w->conn)
		evtimer_add(w->restart_ev, &tv);
}

static void start_trace(struct watch *w)
{
	const struct trace_hooks hooks = {
		.round_done = on_round,
		.finished = on_finished,
		.sent = on_sent,
		.answer = on_answer,
		.exhausted = on_exhausted,
		.ctx = w,
	};
	struct trace_config tc;
	int rc;

	if (w->trace || !w->conn || !w->have_dst || engine_conn_is_lost(w->conn))
		return;
	memset(&tc, 0, sizeof(tc));
	snprintf(tc.name, sizeof(tc.name), "%s", w->cfg.name);
	tc.dst = w->dst;
	tc.no_stats = 1; /* the windows' tables are the statistics */
	tc.sched.count = 0;
	tc.sched.interval_us = w->cfg.interval_us;
	tc.sched.first_ttl = w->cfg.first_ttl;
	tc.sched.max_ttl = w->cfg.max_ttl >= STATS_MAX_HOPS ? STATS_MAX_HOPS - 1 : w->cfg.max_ttl;
	tc.sched.max_unknown = OPTIONS_DEFAULT_MAX_UNKNOWN;
	tc.sched.grace_us = WATCH_GRACE_US;
	tc.sched.start_delay_us = w->env.start_delay_us;
	tc.sched.pacer = w->env.pacer;
	tc.tmpl.dst = w->dst;
	tc.tmpl.protocol = w->cfg.protocol;
	tc.tmpl.port = w->cfg.port;
	tc.tmpl.timeout_s = w->cfg.timeout_s;
	tc.tmpl.has_flow_id = w->cfg.flow_id;
	tc.tmpl.flow_id = (int)w->flow_id;
	w->env.start_delay_us = 0; /* the phase applies to the first start only */
	rc = trace_new(&w->trace, w->env.base, w->conn, &tc, &hooks);
	if (!rc)
		rc = trace_start(w->trace);
	if (rc) {
		struct timeval tv = clock_tv_of_us(WATCH_RESTART_US);

		log_warnx("%s: cannot start tracing: %s", w->cfg.name, strerror(-rc));
		w->trace = trace_free(w->trace);
		evtimer_add(w->restart_ev, &tv);
		return;
	}
	w->round_base = w->next_window * w->window_rounds;
	w->path_round_seen = -1;
}

/* ---- names ---- */

static void schedule_resolve(struct watch *w, int64_t after_us)
{
	struct timeval tv = clock_tv_of_us(after_us);

	if (w->resolve_every_us > 0)
		evtimer_add(w->resolve_ev, &tv);
}

static void on_resolved(void *ctx, int rc, const struct addr *a)
{
	struct watch *w = ctx;
	char old[ADDR_STR_MAX], new[ADDR_STR_MAX];
	struct addr got;

	/* a lives in the request: copied before the request goes. */
	if (!rc)
		got = *a;
	a = &got;
	w->res = dns_resolve_free(w->res);
	if (rc) {
		log_warnx("%s: cannot resolve '%s'; trying again later", w->cfg.name, w->cfg.host);
		schedule_resolve(w, w->resolve_every_us < WATCH_RESOLVE_RETRY_US
					    ? w->resolve_every_us
					    : WATCH_RESOLVE_RETRY_US);
		return;
	}
	schedule_resolve(w, w->resolve_every_us);
	if (w->have_dst && addr_equal(&w->dst, a))
		return;
	if (w->have_dst) {
		struct json_object *o = line_new(w, "address_change");

		json_object_object_add(o, "host", json_object_new_string(w->cfg.host));
		json_object_object_add(o, "old",
				       json_object_new_string(addr_str(&w->dst, old, sizeof(old))));
		json_object_object_add(o, "new",
				       json_object_new_string(addr_str(a, new, sizeof(new))));
		emit(w, o);
		/* A new destination is a new path: this window ends, the trace starts over. */
		if (w->trace) {
			flush_windows(w);
			drop_trace(w);
		}
		w->npath = 0;
		w->cand_seen = 0;
	}
	w->dst = *a;
	w->have_dst = 1;
	start_trace(w);
}

void watch_resolve(struct watch *w, int64_t resolve_every_us)
{
	struct addr numeric;
	int rc;

	w->resolve_every_us = resolve_every_us;
	if (w->res)
		return;
	/* A numeric host never changes: no lookups at all. */
	if (addr_parse(w->cfg.host, &numeric) == 0) {
		w->dst = numeric;
		w->have_dst = 1;
		w->resolve_every_us = 0;
		return;
	}
	rc = dns_resolve(w->env.dns, w->cfg.host, w->cfg.family, on_resolved, w, &w->res);
	if (rc) {
		log_warnx("%s: cannot look up '%s': %s", w->cfg.name, w->cfg.host, strerror(-rc));
		schedule_resolve(w, WATCH_RESOLVE_RETRY_US);
	}
}

static void resolve_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	(void)fd;
	(void)what;
	watch_resolve(w, w->resolve_every_us);
}

/* ---- public ---- */

int watch_new(struct watch **out, const struct watch_env *env,
	      const struct monitor_target_config *cfg, const struct watch_hooks *hooks)
{
	struct watch *w;
	size_t i;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->env = *env;
	w->cfg = *cfg;
	if (hooks)
		w->hooks = *hooks;
	for (i = 0; i < cfg->nlabels && i < METRICS_LABELS_MAX; i++) {
		w->labels[i].key = w->cfg.labels[i].key;
		w->labels[i].value = w->cfg.labels[i].value;
	}
	w->nlabels = i;
	w->window_rounds = (int)(cfg->window_us / cfg->interval_us);
	if (w->window_rounds < 1)
		w->window_rounds = 1;
	/* Paris-style: one flow per target, the same across restarts. */
	w->flow_id = path_hash(NULL, 0);
	for (i = 0; cfg->name[i]; i++)
		w->flow_id = (w->flow_id ^ (unsigned char)cfg->name[i]) * 16777619u;
	w->flow_id %= (uint32_t)PROTO_FLOW_ID_MAX + 1;
	w->resolve_ev = evtimer_new(env->base, resolve_cb, w);
	w->restart_ev = evtimer_new(env->base, restart_cb, w);
	if (!w->resolve_ev || !w->restart_ev) {
		watch_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

struct watch *watch_free(struct watch *w)
{
	if (!w)
		return NULL;
	w->trace = trace_free(w->trace);
	w->res = dns_resolve_free(w->res);
	while (w->nwins) {
		w->nwins--;
		w->wins[w->nwins].t = stats_table_free(w->wins[w->nwins].t);
	}
	free(w->wins);
	if (w->restart_ev)
		event_free(w->restart_ev);
	if (w->resolve_ev)
		event_free(w->resolve_ev);
	free(w->view);
	free(w->hops);
	free(w->cand);
	free(w->path);
	free(w);
	return NULL;
}

int watch_start(struct watch *w, struct engine_conn *conn)
{
	w->conn = conn;
	if (!w->have_dst && !w->res)
		watch_resolve(w, w->resolve_every_us);
	start_trace(w);
	return 0;
}

void watch_detach(struct watch *w)
{
	flush_windows(w);
	drop_trace(w);
	evtimer_del(w->restart_ev);
	w->conn = NULL;
}

const struct monitor_target_config *watch_config(const struct watch *w)
{
	return &w->cfg;
}

void watch_metrics(struct watch *w, struct metrics_target *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < w->nhops && w->view; i++)
		if (w->hops[i].active)
			w->view[n++] = w->hops[i].m;
	memset(out, 0, sizeof(*out));
	out->name = w->cfg.name;
	out->labels = w->labels;
	out->nlabels = w->nlabels;
	out->hops = w->view;
	out->nhops = n;
	out->path_id = w->path_id;
	out->path_changes = w->path_changes;
	out->reachable = w->reachable;
	out->windows = w->windows;
	out->findings = w->findings;
	out->nfindings = w->nfindings;
}

void watch_counts(const struct watch *w, struct watch_counts *out)
{
	*out = w->counts;
}

size_t watch_bytes(const struct watch *w)
{
	size_t n = sizeof(*w) + w->capwins * sizeof(*w->wins), i;

	for (i = 0; i < w->nwins; i++)
		n += stats_table_bytes(w->wins[i].t);
	return n +
	       (size_t)w->nhops * (sizeof(*w->hops) + sizeof(*w->view) + 2 * sizeof(struct addr)) +
	       (w->trace ? trace_bytes(w->trace) : 0);
}
