/*
 * monitor: the engine's life cycle around the watches. Connecting is asynchronous (check,
 * then the flow-id extension), and a lost engine is never freed from inside its own
 * callback: the reconnect timer frees it before making the next. Counters of watches that
 * a reload removes are kept in a base, so the monitor's own totals never go back.
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "client/dns.h"
#include "client/engine_conn.h"
#include "client/pacer.h"
#include "common/clock.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "monitor/metrics.h"
#include "monitor/watch.h"

/* Features the engine must have, besides the protocols the targets use. */
#define MONITOR_FEATURES_MAX 8
/* Longest error line kept. */
#define MONITOR_ERR_MAX 512

struct monitor {
	struct event_base *base;
	struct monitor_config cfg;
	struct monitor_opts opts;
	char engine_spec[MONITOR_CONFIG_ENGINE_MAX + 1];
	struct engine_conn *conn, *dead; /* dead: lost, freed by the next attempt */
	struct dns *dns;
	struct pacer *pacer;
	struct watch **watches;
	size_t nwatches;
	struct event *reconnect_ev;
	int64_t backoff_us;
	int up, connecting, ever_up;
	struct timespec lost_at;
	uint64_t reconnects, reloads, send_errors;
	struct watch_counts gone; /* of watches removed by reloads */
	double start_time_s;
	int write_failed;	/* the output failed: said once, until it works again */
	uint64_t lines_dropped; /* since it failed */
	uint64_t generation;	/* bumped by each reload: a /metrics stream over it stops */
};

/* The line and its newline in as many writes as it takes; 0 or -errno. */
static int write_all(int fd, const char *s, size_t len)
{
	struct iovec v[2] = {{.iov_base = (void *)(uintptr_t)s, .iov_len = len},
			     {.iov_base = (void *)(uintptr_t) "\n", .iov_len = 1}};
	struct iovec *at = v;
	int left = 2;

	while (left) {
		ssize_t n = writev(fd, at, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		while (left && (size_t)n >= at->iov_len) {
			n -= (ssize_t)at->iov_len;
			at++;
			left--;
		}
		if (left) {
			at->iov_base = (char *)at->iov_base + n;
			at->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Written past stdio, in one go, and a line that fails is cut off again: a full disk must
 * not leave half a JSON line for the next one to be glued to. Lines that cannot be written
 * are dropped (and counted); /metrics goes on regardless.
 */
static void write_line(struct monitor *m, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	struct stat st;
	off_t start = -1;
	int fd, rc;

	if (!m->opts.out)
		return;
	fd = fileno(m->opts.out);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		start = st.st_size; /* opened for appending: the line goes there */
	rc = write_all(fd, s, strlen(s));
	if (rc) {
		int cut = start >= 0 ? ftruncate(fd, start) : 0;

		if (!m->write_failed)
			log_warnx(
				"cannot write to the JSON output: %s%s; lines are dropped until it "
				"works again (metrics go on)",
				strerror(-rc), cut ? " (a partial line is left)" : "");
		m->write_failed = 1;
		m->lines_dropped++;
		return;
	}
	if (m->write_failed)
		log_warnx("the JSON output works again; %llu lines were dropped",
			  (unsigned long long)m->lines_dropped);
	m->write_failed = 0;
	m->lines_dropped = 0;
}

static void on_line(void *ctx, struct watch *w, struct json_object *o)
{
	(void)w;
	write_line(ctx, o);
}

static void on_ended(void *ctx, struct watch *w, int err, const char *msg)
{
	struct monitor *m = ctx;

	if (err && err != -EPIPE) {
		m->send_errors++;
		log_warnx("%s: %s", watch_config(w)->name, msg ? msg : strerror(-err));
	}
}

static int make_watch(struct monitor *m, const struct monitor_target_config *tc, size_t i, size_t n,
		      struct watch **out)
{
	const struct watch_hooks hooks = {.line = on_line, .ended = on_ended, .ctx = m};
	struct watch_env env = {
		.base = m->base,
		.dns = m->dns,
		.pacer = m->pacer,
		/* Spread the first rounds of all targets over one interval. */
		.start_delay_us =
			n ? (int64_t)((double)tc->interval_us * (double)i / (double)n) : 0,
	};
	int rc = watch_new(out, &env, tc, &hooks);

	if (!rc)
		watch_resolve(*out, m->cfg.resolve_every_us);
	return rc;
}

static void schedule_reconnect(struct monitor *m)
{
	struct timeval tv = clock_tv_of_us(m->backoff_us);

	evtimer_add(m->reconnect_ev, &tv);
	m->backoff_us *= 2;
	if (m->backoff_us > MONITOR_RECONNECT_MAX_US)
		m->backoff_us = MONITOR_RECONNECT_MAX_US;
}

static void went_up(struct monitor *m)
{
	size_t i;

	m->up = 1;
	m->connecting = 0;
	m->backoff_us = MONITOR_RECONNECT_MIN_US;
	if (m->ever_up) {
		struct json_object *o = watch_line_head("engine_back");
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		m->reconnects++;
		char gap[32];
		double s = (double)(now.tv_sec - m->lost_at.tv_sec) +
			   (double)(now.tv_nsec - m->lost_at.tv_nsec) / 1e9;

		snprintf(gap, sizeof(gap), "%.3f", s);
		json_object_object_add(o, "gap_s", json_object_new_double_s(s, gap));
		write_line(m, o);
		json_object_put(o);
	}
	m->ever_up = 1;
	log_info("engine %s ready; %zu targets", engine_conn_describe(m->conn), m->nwatches);
	for (i = 0; i < m->nwatches; i++)
		watch_start(m->watches[i], m->conn);
}

static void connect_failed(struct monitor *m, const char *msg)
{
	log_warnx("%s; trying again in %.0f s", msg, (double)m->backoff_us / 1e6);
	m->connecting = 0;
	if (m->conn) {
		m->dead = engine_conn_free(m->dead);
		m->dead = m->conn; /* maybe inside its callback: freed by the next attempt */
		m->conn = NULL;
	}
	schedule_reconnect(m);
}

static void on_enabled(void *ctx, int rc, const char *msg)
{
	struct monitor *m = ctx;

	if (rc) {
		connect_failed(m, msg ? msg : "the engine refused the flow-id extension");
		return;
	}
	went_up(m);
}

static int wants_flow_id(const struct monitor *m)
{
	size_t i;

	for (i = 0; i < m->nwatches; i++)
		if (watch_config(m->watches[i])->flow_id)
			return 1;
	return 0;
}

/*
 * Each watch keeps its own copy of its target's settings: the monitor's copy of the list
 * goes once they are made (over a kilobyte a target, labels inline).
 */
static void on_checked(void *ctx, int rc, const char *msg)
{
	struct monitor *m = ctx;
	const char *ext[] = {"flow-id"};

	if (rc) {
		connect_failed(m, msg ? msg : "the engine failed its start-up check");
		return;
	}
	if (!wants_flow_id(m)) {
		went_up(m);
		return;
	}
	rc = engine_conn_enable(m->conn, ext, 1, on_enabled, m);
	if (rc)
		connect_failed(m, "cannot ask the engine for the flow-id extension");
}

static void on_lost(void *ctx, const char *err)
{
	struct monitor *m = ctx;
	struct json_object *o;
	size_t i;

	if (!m->up) {
		connect_failed(m, err);
		return;
	}
	m->up = 0;
	clock_gettime(CLOCK_REALTIME, &m->lost_at);
	log_warnx("%s; reconnecting", err);
	/* What each target measured until now is written, marked interrupted; the gap stays empty. */
	for (i = 0; i < m->nwatches; i++)
		watch_detach(m->watches[i]);
	o = watch_line_head("engine_lost");
	json_object_object_add(o, "error", json_object_new_string(err));
	write_line(m, o);
	json_object_put(o);
	m->dead = engine_conn_free(m->dead);
	m->dead = m->conn;
	m->conn = NULL;
	m->backoff_us = MONITOR_RECONNECT_MIN_US;
	schedule_reconnect(m);
}

static void try_connect(struct monitor *m)
{
	const char *features[MONITOR_FEATURES_MAX];
	char err[MONITOR_ERR_MAX];
	int seen[PROTO_PROTOCOL__COUNT] = {0};
	size_t nf = 0, i;
	int rc;

	m->dead = engine_conn_free(m->dead);
	if (m->conn || m->connecting)
		return;
	m->connecting = 1;
	rc = engine_conn_open(&m->conn, m->base, m->engine_spec[0] ? m->engine_spec : NULL,
			      m->opts.self_exe, err, sizeof(err));
	if (rc) {
		connect_failed(m, err);
		return;
	}
	engine_conn_set_lost(m->conn, on_lost, m);
	features[nf++] = "send-probe";
	for (i = 0; i < m->nwatches && nf < MONITOR_FEATURES_MAX; i++) {
		enum proto_protocol p = watch_config(m->watches[i])->protocol;

		if (p < PROTO_PROTOCOL__COUNT && !seen[p]) {
			seen[p] = 1;
			features[nf++] = proto_protocol_name(p);
		}
	}
	rc = engine_conn_check(m->conn, features, nf, on_checked, m);
	if (rc)
		connect_failed(m, "cannot check the engine");
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	try_connect(arg);
}

int monitor_new(struct monitor **out, struct event_base *base, const struct monitor_config *cfg,
		const struct monitor_opts *opts)
{
	struct monitor *m;
	struct timespec now;
	size_t i;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = base;
	m->opts = *opts;
	m->backoff_us = MONITOR_RECONNECT_MIN_US;
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time_s = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	rc = monitor_config_copy(&m->cfg, cfg);
	if (!rc) {
		snprintf(m->engine_spec, sizeof(m->engine_spec), "%s",
			 opts->engine ? opts->engine : m->cfg.engine);
		rc = pacer_new(&m->pacer, m->cfg.budget_pps);
	}
	if (!rc)
		rc = dns_new(&m->dns, base, getenv(DNS_RESOLV_CONF_ENV));
	if (!rc) {
		m->reconnect_ev = evtimer_new(base, reconnect_cb, m);
		m->watches = calloc(m->cfg.ntargets ? m->cfg.ntargets : 1, sizeof(*m->watches));
		if (!m->reconnect_ev || !m->watches)
			rc = -ENOMEM;
	}
	for (i = 0; !rc && i < m->cfg.ntargets; i++) {
		rc = make_watch(m, &m->cfg.targets[i], i, m->cfg.ntargets, &m->watches[i]);
		if (!rc)
			m->nwatches++;
	}
	if (rc) {
		monitor_free(m);
		return rc;
	}
	monitor_config_drop_targets(&m->cfg);
	*out = m;
	return 0;
}

struct monitor *monitor_free(struct monitor *m)
{
	size_t i;

	if (!m)
		return NULL;
	/* What the open windows hold is written before it goes (interrupted). */
	for (i = 0; i < m->nwatches; i++)
		watch_detach(m->watches[i]);
	for (i = 0; i < m->nwatches; i++)
		m->watches[i] = watch_free(m->watches[i]);
	free(m->watches);
	if (m->reconnect_ev)
		event_free(m->reconnect_ev);
	m->conn = engine_conn_free(m->conn);
	m->dead = engine_conn_free(m->dead);
	m->dns = dns_free(m->dns);
	m->pacer = pacer_free(m->pacer);
	monitor_config_deinit(&m->cfg);
	free(m);
	return NULL;
}

int monitor_start(struct monitor *m)
{
	try_connect(m);
	return 0;
}

/* Names to old watches, for a reload of many targets without an n^2 search. */
struct name_index {
	size_t cap;
	size_t *slot; /* watch index + 1, 0 = empty */
};

static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static int index_build(struct name_index *ix, struct watch **w, size_t n)
{
	size_t i;

	ix->cap = 16;
	while (ix->cap < 2 * n)
		ix->cap *= 2;
	ix->slot = calloc(ix->cap, sizeof(*ix->slot));
	if (!ix->slot)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		size_t k = name_hash(watch_config(w[i])->name) & (ix->cap - 1);

		while (ix->slot[k])
			k = (k + 1) & (ix->cap - 1);
		ix->slot[k] = i + 1;
	}
	return 0;
}

static struct watch **index_find(struct name_index *ix, struct watch **w, const char *name)
{
	size_t k = name_hash(name) & (ix->cap - 1);

	for (; ix->slot[k]; k = (k + 1) & (ix->cap - 1))
		if (w[ix->slot[k] - 1] && !strcmp(watch_config(w[ix->slot[k] - 1])->name, name))
			return &w[ix->slot[k] - 1];
	return NULL;
}

static void add_counts(struct watch_counts *a, const struct watch_counts *b)
{
	a->sent += b->sent;
	a->answered += b->answered;
	a->exhausted += b->exhausted;
}

int monitor_reload(struct monitor *m, const struct monitor_config *cfg)
{
	struct monitor_config next;
	struct watch **nw, **old;
	struct name_index ix = {0};
	size_t i, kept = 0;
	int rc;

	rc = monitor_config_copy(&next, cfg);
	if (rc)
		return rc;
	nw = calloc(next.ntargets ? next.ntargets : 1, sizeof(*nw));
	if (!nw || index_build(&ix, m->watches, m->nwatches) ||
	    pacer_set_rate(m->pacer, next.budget_pps)) {
		free(nw);
		free(ix.slot);
		monitor_config_deinit(&next);
		return -ENOMEM;
	}
	for (i = 0; i < next.ntargets; i++) {
		const struct monitor_target_config *tc = &next.targets[i];

		old = index_find(&ix, m->watches, tc->name);
		if (old && monitor_target_config_equal(watch_config(*old), tc)) {
			nw[i] = *old;
			*old = NULL;
			watch_resolve(nw[i], next.resolve_every_us);
			kept++;
			continue;
		}
		rc = make_watch(m, tc, i, next.ntargets, &nw[i]);
		if (rc)
			break;
	}
	if (rc) {
		/* Put the kept ones back where they were; the new ones go. */
		for (i = 0; i < next.ntargets; i++) {
			if (!nw[i])
				continue;
			old = index_find(&ix, m->watches, watch_config(nw[i])->name);
			if (old && !*old)
				*old = nw[i];
			else
				watch_free(nw[i]);
		}
		free(nw);
		free(ix.slot);
		monitor_config_deinit(&next);
		pacer_set_rate(m->pacer, m->cfg.budget_pps);
		return rc;
	}
	for (i = 0; i < m->nwatches; i++) {
		if (m->watches[i]) {
			struct watch_counts c;

			watch_counts(m->watches[i], &c);
			add_counts(&m->gone, &c);
			watch_free(m->watches[i]);
		}
	}
	free(m->watches);
	free(ix.slot);
	m->watches = nw;
	m->nwatches = next.ntargets;
	monitor_config_deinit(&m->cfg);
	m->cfg = next;
	monitor_config_drop_targets(&m->cfg);
	m->reloads++;
	m->generation++;
	log_info("configuration reloaded: %zu targets, %zu unchanged", m->nwatches, kept);
	if (m->up)
		for (i = 0; i < m->nwatches; i++)
			watch_start(m->watches[i], m->conn);
	return 0;
}

void monitor_set_output(struct monitor *m, FILE *out)
{
	m->opts.out = out;
}

static void totals(const struct monitor *m, struct watch_counts *t)
{
	size_t i;

	*t = m->gone;
	for (i = 0; i < m->nwatches; i++) {
		struct watch_counts c;

		watch_counts(m->watches[i], &c);
		add_counts(t, &c);
	}
}

static void health(const struct monitor *m, struct metrics_health *h)
{
	struct watch_counts t;

	memset(h, 0, sizeof(*h));
	totals(m, &t);
	h->probes_sent = t.sent;
	h->probes_answered = t.answered;
	h->probes_exhausted = t.exhausted;
	h->send_errors = m->send_errors;
	h->engine_reconnects = m->reconnects;
	h->engine_up = m->up;
	h->scheduling_lag_s = (double)pacer_backlog_us(m->pacer, clock_now_us()) / 1e6;
	h->budget_pps = pacer_rate(m->pacer);
	h->config_reloads = m->reloads;
	h->start_time_s = m->start_time_s;
}

static void view_of(void *ctx, size_t i, struct metrics_target *out)
{
	struct monitor *m = ctx;

	watch_metrics(m->watches[i], out);
}

int monitor_render_metrics(void *arg, struct evbuffer *out)
{
	struct monitor *m = arg;
	struct metrics_health h;
	struct metrics_cursor c;
	int rc;

	health(m, &h);
	metrics_cursor_init(&c);
	rc = metrics_render_part(out, &c, m->nwatches, view_of, m, &h, 0, SIZE_MAX);
	return rc > 0 ? -EIO : rc;
}

/* A scrape in parts: the cursor, and the reload it started under. */
struct metrics_stream {
	struct metrics_cursor c;
	uint64_t generation;
};

int monitor_metrics_next(void *arg, void **state, struct evbuffer *out)
{
	struct monitor *m = arg;
	struct metrics_stream *st = *state;
	struct metrics_health h;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		metrics_cursor_init(&st->c);
		st->generation = m->generation;
		*state = st;
	}
	/* The targets are not those the stream began with: stop at this family boundary. */
	if (st->generation != m->generation)
		return -ESTALE;
	health(m, &h);
	return metrics_render_part(out, &st->c, m->nwatches, view_of, m, &h, 0,
				   MONITOR_METRICS_PART_BYTES);
}

void monitor_metrics_free(void *arg, void *state)
{
	(void)arg;
	free(state);
}

void monitor_status(const struct monitor *m, char *buf, size_t len)
{
	struct watch_counts t;

	totals(m, &t);
	errmsg_set(buf, len, "%zu targets, engine %s, %llu probes sent, %llu answered", m->nwatches,
		   m->up ? "up" : "down", (unsigned long long)t.sent,
		   (unsigned long long)t.answered);
}

int monitor_engine_up(const struct monitor *m)
{
	return m->up;
}

size_t monitor_bytes(const struct monitor *m)
{
	size_t i, n = sizeof(*m) + m->nwatches * sizeof(*m->watches);

	for (i = 0; i < m->nwatches; i++)
		n += watch_bytes(m->watches[i]);
	return n;
}
