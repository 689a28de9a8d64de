/*
 * split: mtr's split_redraw. After anything happened (a probe sent or answered) the lines
 * of hops 1..last are made again and those that differ from what was printed last are
 * printed with their TTL; when there are fewer hops than lines printed, "-N" takes line N
 * away, deepest first. The redraw waits for the event loop to be idle for a moment, so a
 * burst of answers prints each line once.
 */
#include "client/split.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>

/* Escaped names and addresses. */
#define SPLIT_NAME_MAX 512
/* Keys read at once. */
#define SPLIT_KEYS_MAX 64
/* Ctrl-C as a byte: mtr quits on it too (a terminal in raw mode sends it). */
#define SPLIT_KEY_INTR 3
/* Microseconds per millisecond; a hair below one us absorbs the double's rounding. */
#define SPLIT_US_PER_MS 1000.0
#define SPLIT_US_EPS	1e-6

struct split {
	struct split_config cfg;
	struct trace *trace;
	struct event *redraw_ev, *key_ev;
	char (*lines)[SPLIT_LINE_MAX]; /* STATS_MAX_HOPS, what was printed last per hop */
	int nlines;		       /* mtr's LineCount: -1 before anything was printed */
	int ended;
	struct termios saved; /* the terminal's modes before, when have_saved */
	int have_saved;
};

/* mtr keeps whole microseconds and prints them divided by 1000 in integers. */
static long whole_ms(double ms)
{
	return (long)floor(ms * SPLIT_US_PER_MS + SPLIT_US_EPS) / (long)SPLIT_US_PER_MS;
}

/* mtr's net_loss: 1000 * (100 - 100 * returned / (xmit - transit)), truncated. */
static int loss_milli(const struct stats_summary *s)
{
	uint32_t done = s->received + s->dropped;

	if (!done)
		return 0;
	return (int)(1000.0 * (100.0 - 100.0 * s->received / done));
}

void split_line(const struct stats_table *t, int ttl, const struct report_meta *m, char *out,
		size_t len)
{
	const struct stats_hop *h = stats_table_hop(t, ttl);
	char addr[INET6_ADDRSTRLEN], name[SPLIT_NAME_MAX], both[2 * SPLIT_NAME_MAX];
	const char *raw = NULL;
	struct stats_summary s;

	if (!h || !h->acc.received) {
		snprintf(out, len, "???");
		return;
	}
	addr_str(&h->last_addr, addr, sizeof(addr));
	if (!m->numeric && m->name)
		raw = m->name(&h->last_addr, m->name_ctx);
	report_escape(raw ? raw : addr, name, sizeof(name));
	if (m->show_ips)
		snprintf(both, sizeof(both), "%s %s", name, addr);
	else
		snprintf(both, sizeof(both), "%s", name);
	stats_hop_summarize(h, &s);
	snprintf(out, len, "%s %d %u %u %ld %ld %ld", both, loss_milli(&s), s.received, s.sent,
		 whole_ms(s.best), whole_ms(s.avg), whole_ms(s.worst));
}

/* Keys one at a time, without Enter (as mtr's split_open): only ICANON goes off. */
static void keys_raw(struct split *s)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &s->saved))
		return;
	raw = s->saved;
	raw.c_lflag &= ~(tcflag_t)ICANON;
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		s->have_saved = 1;
}

static void keys_restore(struct split *s)
{
	if (s->have_saved && tcsetattr(STDIN_FILENO, TCSANOW, &s->saved) == 0)
		s->have_saved = 0;
}

static void finish(struct split *s, int err, const char *msg)
{
	if (s->ended)
		return;
	s->ended = 1;
	if (s->key_ev)
		event_del(s->key_ev);
	keys_restore(s);
	trace_stop(s->trace);
	if (s->cfg.done)
		s->cfg.done(s->cfg.ctx, err, msg);
}

static int redraw(struct split *s)
{
	const struct stats_table *t = trace_table(s->trace);
	int max = stats_last_hop(t), ttl;
	char line[SPLIT_LINE_MAX];

	for (; s->nlines > max; s->nlines--)
		if (fprintf(s->cfg.out, "-%d\n", s->nlines) < 0)
			return -EIO;
	for (ttl = 1; ttl <= max && ttl < STATS_MAX_HOPS; ttl++) {
		split_line(t, ttl, &s->cfg.meta, line, sizeof(line));
		if (!strcmp(line, s->lines[ttl - 1]))
			continue;
		if (fprintf(s->cfg.out, "%d %s\n", ttl, line) < 0)
			return -EIO;
		memcpy(s->lines[ttl - 1], line, sizeof(line));
		if (s->nlines < ttl)
			s->nlines = ttl;
	}
	return fflush(s->cfg.out) ? -EIO : 0;
}

static void redraw_cb(evutil_socket_t fd, short what, void *arg)
{
	struct split *s = arg;

	(void)fd;
	(void)what;
	if (!s->ended && redraw(s))
		finish(s, -EIO, "cannot write the split output");
}

/* Anything changed: one redraw once the events queued now are handled. */
static void changed(struct split *s)
{
	if (!s->ended)
		event_active(s->redraw_ev, 0, 0);
}

static void on_sent(void *ctx, struct trace *t, int ttl, int round, uint32_t seq)
{
	(void)t;
	(void)ttl;
	(void)round;
	(void)seq;
	changed(ctx);
}

static void on_answer(void *ctx, struct trace *t, int ttl, int round, uint32_t seq,
		      enum stats_outcome outcome, const struct addr *from, int64_t rtt_us)
{
	(void)t;
	(void)ttl;
	(void)round;
	(void)seq;
	(void)outcome;
	(void)from;
	(void)rtt_us;
	changed(ctx);
}

static void on_finished(void *ctx, struct trace *t, int err, const char *msg)
{
	struct split *s = ctx;
	int rc = 0;

	(void)t;
	if (!s->ended)
		rc = redraw(s);
	if (!err && rc)
		finish(s, rc, "cannot write the split output");
	else
		finish(s, err, msg);
}

/* mtr 0.95's split keys: q (either case) and Ctrl-C quit, r resets; the end of input does
 * not end the run, it only stops the reading. */
static void key_cb(evutil_socket_t fd, short what, void *arg)
{
	struct split *s = arg;
	char keys[SPLIT_KEYS_MAX];
	ssize_t n, i;

	(void)what;
	n = read(fd, keys, sizeof(keys));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			event_del(s->key_ev);
		return;
	}
	for (i = 0; i < n && !s->ended; i++) {
		if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == SPLIT_KEY_INTR) {
			finish(s, 0, NULL);
		} else if (keys[i] == 'r' || keys[i] == 'R') {
			stats_table_reset(trace_table(s->trace));
			changed(s);
		}
	}
}

int split_new(struct split **out, const struct split_config *cfg)
{
	struct trace_hooks hooks = {
		.finished = on_finished,
		.sent = on_sent,
		.answer = on_answer,
	};
	struct split *s;
	int rc, i;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->cfg.trace = NULL;
	s->nlines = -1;
	s->lines = calloc(STATS_MAX_HOPS, sizeof(*s->lines));
	s->redraw_ev = event_new(cfg->base, -1, 0, redraw_cb, s);
	if (cfg->keys)
		s->key_ev = event_new(cfg->base, STDIN_FILENO, EV_READ | EV_PERSIST, key_cb, s);
	if (!s->lines || !s->redraw_ev || (cfg->keys && !s->key_ev)) {
		split_free(s);
		return -ENOMEM;
	}
	/* mtr starts every line as "???": a hop that never answered is never printed. */
	for (i = 0; i < STATS_MAX_HOPS; i++)
		snprintf(s->lines[i], SPLIT_LINE_MAX, "???");
	hooks.ctx = s;
	rc = trace_new(&s->trace, cfg->base, cfg->conn, cfg->trace, &hooks);
	if (rc) {
		split_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int split_start(struct split *s)
{
	if (s->key_ev) {
		if (event_add(s->key_ev, NULL))
			return -EIO;
		keys_raw(s);
	}
	return trace_start(s->trace);
}

void split_stop(struct split *s)
{
	finish(s, 0, NULL);
}

struct split *split_free(struct split *s)
{
	if (!s)
		return NULL;
	keys_restore(s);
	s->trace = trace_free(s->trace);
	if (s->key_ev)
		event_free(s->key_ev);
	if (s->redraw_ev)
		event_free(s->redraw_ev);
	free(s->lines);
	free(s);
	return NULL;
}
