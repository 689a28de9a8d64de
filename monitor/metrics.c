/*
 * metrics: the Prometheus text exposition, written by hand into a local chunk that is
 * flushed to an evbuffer, because a scrape of thousands of hops is hundreds of thousands
 * of lines and printf per line would dominate. Families are written one after another,
 * each walking all targets, since the format wants a family's series together.
 */
#include "monitor/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

const double metrics_bucket_le[METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

/* Bytes gathered locally before one evbuffer_add. */
#define W_CHUNK (64 * 1024)
/* Longest number text: a u64 is 20 digits, a %.17g double 24 characters. */
#define W_NUM_MAX 32
/* Doubles whose integer value is printed exactly without printf (below 2^53). */
#define W_EXACT_INT 9007199254740992.0
/* Precision that round-trips most doubles; %.17g always does. */
#define W_SHORT_PREC 15

struct w {
	struct evbuffer *out;
	size_t len;
	size_t total; /* bytes flushed so far */
	int err;
	char buf[W_CHUNK];
};

/* The escaped `target="..."` prefix of each target, computed once per render. */
struct tlabel {
	const char *s;
	size_t len;
};

struct render {
	struct w *w;
	const struct metrics_target *t;
	size_t n;
	const struct tlabel *tl;
	size_t info_max;
	struct metrics_cursor *c; /* where the exposition stands: hop_info's cap counts */
	char le[METRICS_BUCKETS][W_NUM_MAX];
	size_t le_len[METRICS_BUCKETS];
};

static void w_flush(struct w *w)
{
	if (w->len && !w->err && evbuffer_add(w->out, w->buf, w->len) < 0)
		w->err = -ENOMEM;
	w->total += w->len;
	w->len = 0;
}

static void w_put(struct w *w, const char *s, size_t len)
{
	if (W_CHUNK - w->len < len) {
		w_flush(w);
		if (len > W_CHUNK) {
			if (!w->err && evbuffer_add(w->out, s, len) < 0)
				w->err = -ENOMEM;
			w->total += len;
			return;
		}
	}
	memcpy(w->buf + w->len, s, len);
	w->len += len;
}

#define W_LIT(w, s) w_put((w), (s), sizeof(s) - 1)

static void w_str(struct w *w, const char *s)
{
	w_put(w, s, strlen(s));
}

static size_t fmt_u64(char *dst, uint64_t v)
{
	char tmp[W_NUM_MAX];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* Prometheus' float syntax: NaN, +Inf, -Inf, else the shortest of %.15g / %.17g that
 * reads back as the same double; integers without printf. */
static size_t fmt_double(char *dst, double v)
{
	if (v != v) {
		memcpy(dst, "NaN", 3);
		return 3;
	}
	if (v > -W_EXACT_INT && v < W_EXACT_INT && (double)(int64_t)v == v) {
		int64_t i = (int64_t)v;

		if (i < 0) {
			dst[0] = '-';
			return 1 + fmt_u64(dst + 1, (uint64_t)-i);
		}
		return fmt_u64(dst, (uint64_t)i);
	}
	if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		memcpy(dst, v > 0 ? "+Inf" : "-Inf", 4);
		return 4;
	}
	int n = snprintf(dst, W_NUM_MAX, "%.*g", W_SHORT_PREC, v);

	if (strtod(dst, NULL) != v)
		n = snprintf(dst, W_NUM_MAX, "%.17g", v);
	return n > 0 ? (size_t)n : 0;
}

static void w_u64(struct w *w, uint64_t v)
{
	char tmp[W_NUM_MAX];

	w_put(w, tmp, fmt_u64(tmp, v));
}

static void w_double(struct w *w, double v)
{
	char tmp[W_NUM_MAX];

	w_put(w, tmp, fmt_double(tmp, v));
}

/* Label value escaping of the format: backslash, double quote and newline. */
static size_t esc_len(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
	return n;
}

static size_t esc_into(char *dst, const char *s)
{
	size_t n = 0;

	for (; s && *s; s++) {
		switch (*s) {
		case '\\':
			dst[n++] = '\\';
			dst[n++] = '\\';
			break;
		case '"':
			dst[n++] = '\\';
			dst[n++] = '"';
			break;
		case '\n':
			dst[n++] = '\\';
			dst[n++] = 'n';
			break;
		default:
			dst[n++] = *s;
		}
	}
	return n;
}

static void w_esc(struct w *w, const char *s)
{
	size_t len = esc_len(s);

	if (len > W_CHUNK - w->len)
		w_flush(w);
	if (len > W_CHUNK - w->len) {
		char *tmp = malloc(len);

		if (!tmp) {
			w->err = -ENOMEM;
			return;
		}
		esc_into(tmp, s);
		w_put(w, tmp, len);
		free(tmp);
		return;
	}
	w->len += esc_into(w->buf + w->len, s);
}

static void w_family(struct w *w, const char *name, const char *type, const char *help)
{
	W_LIT(w, "# HELP ");
	w_str(w, name);
	w_put(w, " ", 1);
	w_str(w, help);
	W_LIT(w, "\n# TYPE ");
	w_str(w, name);
	w_put(w, " ", 1);
	w_str(w, type);
	w_put(w, "\n", 1);
}

/* `name{target="x"` of a target's series: the caller adds labels and "} value\n". */
static void w_open(struct render *r, const char *name, size_t ti)
{
	w_str(r->w, name);
	w_put(r->w, "{", 1);
	w_put(r->w, r->tl[ti].s, r->tl[ti].len);
}

static void w_hop_open(struct render *r, const char *name, size_t ti, int ttl)
{
	w_open(r, name, ti);
	W_LIT(r->w, ",hop=\"");
	if (ttl < 0) {
		w_put(r->w, "-", 1);
		w_u64(r->w, (uint64_t) - (int64_t)ttl);
	} else {
		w_u64(r->w, (uint64_t)ttl);
	}
	w_put(r->w, "\"", 1);
}

static void w_close_u64(struct w *w, uint64_t v)
{
	W_LIT(w, "} ");
	w_u64(w, v);
	w_put(w, "\n", 1);
}

static void w_close_double(struct w *w, double v)
{
	W_LIT(w, "} ");
	w_double(w, v);
	w_put(w, "\n", 1);
}

static struct tlabel *tlabels_new(const struct metrics_target *t, size_t n)
{
	static const char pre[] = "target=\"";
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += sizeof(pre) - 1 + esc_len(t[i].name) + 1;
	struct tlabel *tl = malloc(n * sizeof(*tl) + total + 1);

	if (!tl)
		return NULL;
	char *p = (char *)(tl + n);

	for (size_t i = 0; i < n; i++) {
		size_t len = sizeof(pre) - 1;

		memcpy(p, pre, len);
		len += esc_into(p + len, t[i].name);
		p[len++] = '"';
		tl[i].s = p;
		tl[i].len = len;
		p += len;
	}
	return tl;
}

static void hop_sent(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	w_hop_open(r, "hopwatch_hop_probes_sent_total", ti, hop->ttl);
	w_close_u64(r->w, hop->sent);
}

static void hop_received(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	w_hop_open(r, "hopwatch_hop_probes_received_total", ti, hop->ttl);
	w_close_u64(r->w, hop->received);
}

static void hop_rtt(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	uint64_t acc = 0;

	for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
		acc += hop->bucket[i];
		w_hop_open(r, "hopwatch_hop_rtt_seconds_bucket", ti, hop->ttl);
		W_LIT(r->w, ",le=\"");
		if (i < METRICS_BUCKETS)
			w_put(r->w, r->le[i], r->le_len[i]);
		else
			W_LIT(r->w, "+Inf");
		w_put(r->w, "\"", 1);
		w_close_u64(r->w, acc);
	}
	w_hop_open(r, "hopwatch_hop_rtt_seconds_sum", ti, hop->ttl);
	w_close_double(r->w, hop->rtt_sum_s);
	w_hop_open(r, "hopwatch_hop_rtt_seconds_count", ti, hop->ttl);
	w_close_u64(r->w, acc);
}

static void hop_loss(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	if (hop->window_loss_ratio != hop->window_loss_ratio)
		return;
	w_hop_open(r, "hopwatch_hop_window_loss_ratio", ti, hop->ttl);
	w_close_double(r->w, hop->window_loss_ratio);
}

static void hop_rtt_avg(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	if (hop->window_rtt_avg_s != hop->window_rtt_avg_s)
		return;
	w_hop_open(r, "hopwatch_hop_window_rtt_avg_seconds", ti, hop->ttl);
	w_close_double(r->w, hop->window_rtt_avg_s);
}

/* Addressed hops past the cap are counted, for hopwatch_hop_info_dropped. */
static void hop_info(struct render *r, size_t ti, const struct metrics_hop *hop)
{
	char a[ADDR_STR_MAX];

	if (hop->addr.family != AF_INET && hop->addr.family != AF_INET6)
		return;
	if (r->c->info_written >= r->info_max) {
		r->c->info_dropped++;
		return;
	}
	r->c->info_written++;
	w_hop_open(r, "hopwatch_hop_info", ti, hop->ttl);
	W_LIT(r->w, ",address=\"");
	w_str(r->w, addr_str(&hop->addr, a, sizeof(a)));
	W_LIT(r->w, "\"} 1\n");
}

typedef void (*hop_fn)(struct render *r, size_t ti, const struct metrics_hop *hop);

static void each_hop(struct render *r, size_t ti, hop_fn fn)
{
	for (size_t hi = 0; hi < r->t[ti].nhops; hi++)
		fn(r, ti, &r->t[ti].hops[hi]);
}

static void t_sent(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_sent);
}

static void t_received(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_received);
}

static void t_rtt(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_rtt);
}

static void t_loss(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_loss);
}

static void t_rtt_avg(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_rtt_avg);
}

static void t_info(struct render *r, size_t ti)
{
	each_hop(r, ti, hop_info);
}

/* A config label key that would make a broken or ambiguous series is left out. */
static int label_ok(const struct metrics_label *l, size_t i)
{
	const char *k = l[i].key;

	if (!k || !*k || !l[i].value || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	if ((k[0] == '_' && k[1] == '_') || !strcmp(k, "target"))
		return 0;
	for (size_t j = 0; j < i; j++)
		if (l[j].key && !strcmp(l[j].key, k))
			return 0;
	return 1;
}

static void target_info(struct render *r, size_t ti)
{
	const struct metrics_target *t = &r->t[ti];

	w_open(r, "hopwatch_target_info", ti);
	for (size_t i = 0; i < t->nlabels; i++) {
		if (!label_ok(t->labels, i))
			continue;
		w_put(r->w, ",", 1);
		w_str(r->w, t->labels[i].key);
		W_LIT(r->w, "=\"");
		w_esc(r->w, t->labels[i].value);
		w_put(r->w, "\"", 1);
	}
	W_LIT(r->w, "} 1\n");
}

static int same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Two equal findings would be one series twice, which Prometheus refuses whole. */
static int finding_seen(const struct metrics_finding *f, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (f[j].hop == f[i].hop && same_str(f[j].kind, f[i].kind) &&
		    same_str(f[j].severity, f[i].severity))
			return 1;
	return 0;
}

static void target_findings(struct render *r, size_t ti)
{
	const struct metrics_target *t = &r->t[ti];

	for (size_t i = 0; i < t->nfindings; i++) {
		if (finding_seen(t->findings, i))
			continue;
		w_hop_open(r, "hopwatch_finding", ti, t->findings[i].hop);
		W_LIT(r->w, ",kind=\"");
		w_esc(r->w, t->findings[i].kind);
		W_LIT(r->w, "\",severity=\"");
		w_esc(r->w, t->findings[i].severity);
		W_LIT(r->w, "\"} 1\n");
	}
}

static void t_path_id(struct render *r, size_t ti)
{
	w_open(r, "hopwatch_target_path_id", ti);
	w_close_double(r->w, r->t[ti].path_id);
}

static void t_path_changes(struct render *r, size_t ti)
{
	w_open(r, "hopwatch_target_path_changes_total", ti);
	w_close_u64(r->w, r->t[ti].path_changes);
}

static void t_reachable(struct render *r, size_t ti)
{
	w_open(r, "hopwatch_target_reachable", ti);
	w_close_u64(r->w, r->t[ti].reachable ? 1 : 0);
}

static void t_windows(struct render *r, size_t ti)
{
	w_open(r, "hopwatch_target_windows_total", ti);
	w_close_u64(r->w, r->t[ti].windows);
}

/*
 * The families with series per target, in exposition order. hop_info_dropped (fn NULL)
 * has one series, written after hop_info's, from the count of its cap.
 */
struct family {
	const char *name, *type, *help;
	void (*fn)(struct render *r, size_t ti);
};

static const struct family families[] = {
	{"hopwatch_hop_probes_sent_total", "counter",
	 "Probes sent to a hop (TTL) of a target since the target started.", t_sent},
	{"hopwatch_hop_probes_received_total", "counter",
	 "Answers received from a hop (TTL) of a target since the target started.", t_received},
	{"hopwatch_hop_rtt_seconds", "histogram",
	 "Round-trip time of the answers from a hop, in seconds.", t_rtt},
	{"hopwatch_hop_window_loss_ratio", "gauge",
	 "Share of probes to a hop lost in the last finished window (0..1).", t_loss},
	{"hopwatch_hop_window_rtt_avg_seconds", "gauge",
	 "Mean round-trip time of a hop in the last finished window, in seconds.", t_rtt_avg},
	{"hopwatch_hop_info", "gauge", "The latest responder address of a hop (always 1).", t_info},
	{"hopwatch_hop_info_dropped", "gauge",
	 "Hop info series left out of this exposition by the series cap.", NULL},
	{"hopwatch_target_info", "gauge",
	 "A monitored target and the labels of its configuration (always 1).", target_info},
	{"hopwatch_target_path_id", "gauge",
	 "Hash of the target's current path; a new value means the path changed.", t_path_id},
	{"hopwatch_target_path_changes_total", "counter", "Times the target's path changed.",
	 t_path_changes},
	{"hopwatch_target_reachable", "gauge",
	 "1 if the destination answered in the last finished window, else 0.", t_reachable},
	{"hopwatch_target_windows_total", "counter", "Measurement windows finished for the target.",
	 t_windows},
	{"hopwatch_finding", "gauge",
	 "A finding of the last window's diagnosis (always 1; hop 0 is the whole path).",
	 target_findings},
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* A health family: a single series, or none without a health view. */
static void health_u64(struct w *w, const char *name, const char *type, const char *help,
		       const struct metrics_health *h, uint64_t v)
{
	w_family(w, name, type, help);
	if (!h)
		return;
	w_str(w, name);
	w_put(w, " ", 1);
	w_u64(w, v);
	w_put(w, "\n", 1);
}

static void health_double(struct w *w, const char *name, const char *help,
			  const struct metrics_health *h, double v)
{
	w_family(w, name, "gauge", help);
	if (!h)
		return;
	w_str(w, name);
	w_put(w, " ", 1);
	w_double(w, v);
	w_put(w, "\n", 1);
}

static void health_families(struct w *w, const struct metrics_health *h)
{
	struct metrics_health zero = {0};
	const struct metrics_health *v = h ? h : &zero;

	health_u64(w, "hopwatch_monitor_probes_sent_total", "counter",
		   "Probes the monitor asked the engine to send.", h, v->probes_sent);
	health_u64(w, "hopwatch_monitor_probes_answered_total", "counter",
		   "Probes the engine reported on (any answer, including no reply).", h,
		   v->probes_answered);
	health_u64(w, "hopwatch_monitor_send_errors_total", "counter",
		   "Probes the engine failed to send.", h, v->send_errors);
	health_u64(w, "hopwatch_monitor_probes_exhausted_total", "counter",
		   "Probes the engine refused because its quota was exhausted.", h,
		   v->probes_exhausted);
	health_u64(w, "hopwatch_monitor_engine_reconnects_total", "counter",
		   "Times the monitor reconnected to the engine.", h, v->engine_reconnects);
	health_u64(w, "hopwatch_monitor_engine_up", "gauge",
		   "1 if the monitor is connected to the engine, else 0.", h, v->engine_up ? 1 : 0);
	health_double(w, "hopwatch_monitor_scheduling_lag_seconds",
		      "How far the probe schedule runs behind, in seconds.", h,
		      v->scheduling_lag_s);
	health_double(w, "hopwatch_monitor_budget_probes_per_second",
		      "The configured budget of probes per second.", h, v->budget_pps);
	health_u64(w, "hopwatch_monitor_config_reloads_total", "counter",
		   "Times the configuration was reloaded.", h, v->config_reloads);
	health_double(w, "hopwatch_monitor_start_time_seconds",
		      "Start time of the monitor, seconds since the Unix epoch.", h,
		      v->start_time_s);
}

size_t metrics_bucket_of(double rtt_s)
{
	size_t i = 0;

	while (i < METRICS_BUCKETS && !(rtt_s <= metrics_bucket_le[i]))
		i++;
	return i;
}

void metrics_cursor_init(struct metrics_cursor *c)
{
	memset(c, 0, sizeof(*c));
}

/* Targets [from, to) into the part's view and label prefixes. */
static int load_targets(struct render *r, metrics_view_fn view, void *ctx, size_t from, size_t to,
			struct metrics_target *tv)
{
	struct tlabel *tl;

	for (size_t i = from; i < to; i++)
		view(ctx, i, &tv[i - from]);
	tl = tlabels_new(tv, to - from);
	if (!tl)
		return -ENOMEM;
	free((void *)r->tl);
	r->tl = tl;
	r->t = tv;
	r->n = to - from;
	return 0;
}

/* One family's series from the cursor on, until max_bytes are out or the family ends. */
static int family_part(struct render *r, const struct family *f, size_t n, metrics_view_fn view,
		       void *ctx, struct metrics_target *tv, size_t max_bytes)
{
	struct metrics_cursor *c = r->c;

	if (!c->target)
		w_family(r->w, f->name, f->type, f->help);
	if (!f->fn) {
		W_LIT(r->w, "hopwatch_hop_info_dropped ");
		w_u64(r->w, c->info_dropped);
		w_put(r->w, "\n", 1);
		c->target = n;
		return 0;
	}
	while (c->target < n) {
		size_t to =
			c->target + METRICS_PART_TARGETS < n ? c->target + METRICS_PART_TARGETS : n;

		if (load_targets(r, view, ctx, c->target, to, tv))
			return -ENOMEM;
		for (size_t i = 0; i < r->n; i++)
			f->fn(r, i);
		c->target = to;
		if (r->w->total + r->w->len >= max_bytes)
			break;
	}
	return 0;
}

int metrics_render_part(struct evbuffer *out, struct metrics_cursor *c, size_t n,
			metrics_view_fn view, void *ctx, const struct metrics_health *health,
			size_t info_max, size_t max_bytes)
{
	struct render r = {
		.c = c,
		.info_max = info_max ? info_max : METRICS_INFO_MAX,
	};
	struct metrics_target *tv = calloc(METRICS_PART_TARGETS, sizeof(*tv));
	struct evbuffer *tmp = evbuffer_new();
	struct w *w = malloc(sizeof(*w));
	int rc = -ENOMEM;

	if (!tmp || !w || !tv)
		goto out;
	w->out = tmp;
	w->len = 0;
	w->total = 0;
	w->err = 0;
	r.w = w;
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		r.le_len[i] = fmt_double(r.le[i], metrics_bucket_le[i]);
	rc = 0;
	while (!rc && c->family < NFAMILIES && w->total + w->len < max_bytes) {
		rc = family_part(&r, &families[c->family], n, view, ctx, tv, max_bytes);
		if (!rc && c->target >= n) {
			c->family++;
			c->target = 0;
		}
	}
	if (!rc && c->family == NFAMILIES && w->total + w->len < max_bytes) {
		health_families(w, health);
		c->family++;
	}
	w_flush(w);
	if (!rc && w->err)
		rc = w->err;
	/* Moved only whole, so that a failure leaves out as it was. */
	if (!rc && evbuffer_add_buffer(out, tmp))
		rc = -ENOMEM;
	if (!rc)
		rc = c->family > NFAMILIES ? 0 : 1;
out:
	free((void *)r.tl);
	free(tv);
	free(w);
	if (tmp)
		evbuffer_free(tmp);
	return rc;
}

static void array_view(void *ctx, size_t i, struct metrics_target *out)
{
	*out = ((const struct metrics_target *)ctx)[i];
}

int metrics_render(struct evbuffer *out, const struct metrics_target *targets, size_t n,
		   const struct metrics_health *health, size_t info_max)
{
	struct metrics_cursor c;
	struct evbuffer *tmp = evbuffer_new();
	int rc;

	if (!tmp)
		return -ENOMEM;
	metrics_cursor_init(&c);
	rc = metrics_render_part(tmp, &c, targets ? n : 0, array_view, (void *)targets, health,
				 info_max, SIZE_MAX);
	if (rc > 0)
		rc = -EIO; /* cannot happen without a byte bound */
	if (!rc && evbuffer_add_buffer(out, tmp))
		rc = -ENOMEM;
	evbuffer_free(tmp);
	return rc;
}
