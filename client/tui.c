/*
 * tui: the live view. The hop table is the -r report rendered into memory and redrawn in
 * place, so its columns, -o order, names, escaping and ECMP rows cannot drift from the
 * report's; the strip chart is drawn here from a per-hop history of the latest rounds,
 * one per target, so switching targets keeps each chart.
 * Keys arrive through a libevent read event on stdin and the screen is redrawn on a
 * timer, so nothing here ever waits for the terminal.
 */
#include "client/tui.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <event2/event.h>

#include "client/asn.h"

/* Redraw period: often enough to look live, rarely enough to cost nothing. */
#define TUI_TICK_US 200000
/* mtr's curses ESC delay is long; the 'o' prompt wants Esc to cancel at once. */
#define TUI_ESCDELAY_MS 25
/* Where -r's columns start (report.c's REPORT_HOST_WIDTH). The "|--" after a hop's
 * " %2d." (TUI_ROW_KEEP columns) is dropped on screen, as mtr's curses view has none. */
#define TUI_REPORT_COLUMN 33
#define TUI_ROW_KEEP	  4
#define TUI_ROW_CUT	  3
#define TUI_HOST_COLUMN	  (TUI_REPORT_COLUMN - TUI_ROW_CUT)
/* Rows above the first hop: title, hosts, keys, status, column titles. */
#define TUI_TOP_ROWS 5
#define TUI_LINE_MAX 1024
/* Local host and target as shown on the second line, escaped. */
#define TUI_NAME_MAX 256
#define TUI_NOTE_MAX 160
#define TUI_TIME_FMT "%Y-%m-%dT%H:%M:%S%z"
#define TUI_TIME_MAX 64
/* mtr's 'j': the latency set and the jitter set of fields. */
#define TUI_FIELDS_LATENCY "LS NABWV"
#define TUI_FIELDS_JITTER  "DR AGJMXI"
/* Longest help line; the help is a table of characters, so it needs no pointers. */
#define TUI_HELP_COLS 80
/* A trace's chart history grows by whole rows, from this many hops, doubling. */
#define TUI_HIST_HOPS_MIN 8
/* The summary of the other targets: longest name shown and longest entry. */
#define TUI_SHORT_NAME_MAX 24
#define TUI_ENTRY_MAX	   64
#define TUI_OTHERS	   "others:"
/* Digits 1-9 jump to a target. */
#define TUI_JUMP_MAX 9
/* History cells that hold no RTT. */
#define TUI_UNSENT  (-3)
#define TUI_PENDING (-2)
#define TUI_LOST    (-1)
#define TUI_KEY_ESC 27
#define TUI_KEY_DEL 127

/* Chart scale: fractions of the visible RTT range, mtr's idea; '>' above the last. */
static const double tui_factors[] = {0.02, 0.05, 0.08, 0.11, 0.14, 0.17, 0.20, 0.50};
static const char tui_blocks[] = ".1234567";
#define TUI_NFACTORS (sizeof(tui_factors) / sizeof(tui_factors[0]))

static const char tui_help[][TUI_HELP_COLS] = {
	"Command:",
	"  ?|h     help",
	"  d       switch display mode (statistics, latency chart)",
	"  n       toggle names on/off (numeric addresses when off)",
	"  o str   set the columns to display, default str='" TUI_FIELDS_LATENCY "'",
	"  j       toggle latency(" TUI_FIELDS_LATENCY ")/jitter(" TUI_FIELDS_JITTER ") stats",
	"  p       pause (SPACE to resume)",
	"  r       reset all counters",
	"  u       switch between ICMP ECHO and UDP datagrams",
	"  t       switch between ICMP ECHO and TCP SYN packets",
	"  y       switching IP info",
	"  z       toggle ASN info on/off",
	"  Tab|]   show the next target (several targets)",
	"  S-Tab|[ show the previous target",
	"  1-9     show target 1-9",
	"  q       exit",
	"",
	"press any key to go back",
};

/*
 * One target: its trace, what the view shows of it and its chart history, rows of
 * TUI_HISTORY cells for TTLs 1..hist_hops, grown as deeper TTLs are probed.
 */
struct tui_view {
	struct tui *tui;
	struct trace *trace;
	struct report_meta meta;
	int32_t *hist;	  /* us, or TUI_UNSENT/PENDING/LOST */
	size_t hist_hops; /* rows in hist */
	int newest_round; /* highest round seen, -1 = none */
};

struct tui {
	struct tui_config cfg; /* cfg.meta.fields points at fields; cfg.traces not kept */
	SCREEN *screen;
	struct tui_view *views; /* cfg.ntraces, never moved: each is its trace's hook ctx */
	size_t cur;		/* the view shown */
	struct event *key_ev, *tick_ev, *winch_ev, *hup_ev;
	enum tui_mode mode;
	int help, paused, finished, numeric;
	int prompting; /* reading an 'o' string into prompt */
	char prompt[TUI_FIELDS_MAX + 1];
	size_t prompt_len;
	char fields[TUI_FIELDS_MAX + 1];
	char note[TUI_NOTE_MAX]; /* one-off message on the status line */
	int err;
	char msg[TUI_ERR_MAX];
};

static void set_msg(struct tui *t, int err, const char *msg)
{
	t->err = err;
	snprintf(t->msg, sizeof(t->msg), "%s", msg ? msg : strerror(-err));
}

static void cells_clear(int32_t *cells, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cells[i] = TUI_UNSENT;
}

static void history_clear(struct tui_view *v)
{
	if (v->hist)
		cells_clear(v->hist, v->hist_hops * TUI_HISTORY);
	v->newest_round = -1;
}

/* Rows for TTLs up to ttl; without memory the deeper hops just get no chart. */
static int history_grow(struct tui_view *v, int ttl)
{
	size_t want = v->hist_hops ? v->hist_hops : TUI_HIST_HOPS_MIN;
	int32_t *h;

	if (ttl < 1 || ttl > STATS_MAX_HOPS)
		return -EINVAL;
	if ((size_t)ttl <= v->hist_hops)
		return 0;
	while (want < (size_t)ttl)
		want *= 2;
	if (want > STATS_MAX_HOPS)
		want = STATS_MAX_HOPS;
	h = realloc(v->hist, want * TUI_HISTORY * sizeof(*h));
	if (!h)
		return -ENOMEM;
	cells_clear(h + v->hist_hops * TUI_HISTORY, (want - v->hist_hops) * TUI_HISTORY);
	v->hist = h;
	v->hist_hops = want;
	return 0;
}

/* Cells of rounds not seen before start empty: a hop past the destination stays blank. */
static void history_round(struct tui_view *v, int round)
{
	size_t h;

	if (round < 0)
		return;
	if (round - v->newest_round >= TUI_HISTORY)
		v->newest_round = round - TUI_HISTORY;
	while (v->newest_round < round) {
		v->newest_round++;
		for (h = 0; h < v->hist_hops; h++)
			v->hist[h * TUI_HISTORY + (size_t)(v->newest_round % TUI_HISTORY)] =
				TUI_UNSENT;
	}
}

static int32_t *history_cell(const struct tui_view *v, int ttl, int round)
{
	if (ttl < 1 || (size_t)ttl > v->hist_hops || round < 0 || round > v->newest_round ||
	    v->newest_round - round >= TUI_HISTORY)
		return NULL;
	return &v->hist[(size_t)(ttl - 1) * TUI_HISTORY + (size_t)(round % TUI_HISTORY)];
}

static void on_sent(void *ctx, struct trace *tr, int ttl, int round, uint32_t seq)
{
	struct tui_view *v = ctx;
	int32_t *cell;

	(void)tr;
	(void)seq;
	if (history_grow(v, ttl))
		return;
	history_round(v, round);
	cell = history_cell(v, ttl, round);
	if (cell)
		*cell = TUI_PENDING;
}

static void on_answer(void *ctx, struct trace *tr, int ttl, int round, uint32_t seq,
		      enum stats_outcome outcome, const struct addr *from, int64_t rtt_us)
{
	struct tui_view *v = ctx;
	int32_t *cell = history_cell(v, ttl, round);

	(void)tr;
	(void)seq;
	(void)from;
	if (!cell || *cell != TUI_PENDING)
		return;
	if (outcome == STATS_LOST)
		*cell = TUI_LOST;
	else
		*cell = rtt_us < 0 ? 0 : rtt_us > INT32_MAX ? INT32_MAX : (int32_t)rtt_us;
}

static void quit(struct tui *t, int err, const char *msg)
{
	if (err && !t->err)
		set_msg(t, err, msg);
	if (t->cfg.done)
		t->cfg.done(t->cfg.ctx, t->err, t->err ? t->msg : NULL);
}

static int all_finished(const struct tui *t)
{
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++)
		if (!trace_finished(t->views[i].trace))
			return 0;
	return 1;
}

static void on_finished(void *ctx, struct trace *tr, int err, const char *msg)
{
	struct tui *t = ((struct tui_view *)ctx)->tui;

	(void)tr;
	if (err) {
		quit(t, err, msg);
		return;
	}
	/* -c rounds are done: like mtr's curses view with -c, the view ends by itself. */
	if (all_finished(t)) {
		t->finished = 1;
		quit(t, 0, NULL);
	}
}

static struct tui_view *cur_view(const struct tui *t)
{
	return &t->views[t->cur];
}

static struct trace *cur_trace(const struct tui *t)
{
	return cur_view(t)->trace;
}

static struct stats_table *cur_table(const struct tui *t)
{
	return trace_table(cur_trace(t));
}

static const struct engine_probe *cur_tmpl(const struct tui *t)
{
	return &trace_config(cur_trace(t))->tmpl;
}

/* ---- drawing ---- */

static void put_line(int y, int x, const char *s, size_t n)
{
	if (y < 0 || y >= LINES || x >= COLS)
		return;
	if (n > (size_t)(COLS - x))
		n = (size_t)(COLS - x);
	mvaddnstr(y, x, s, (int)n);
}

static void draw_title(struct tui *t)
{
	const struct report_meta *m = &cur_view(t)->meta;
	char host[TUI_NAME_MAX], target[TUI_NAME_MAX], addr[INET6_ADDRSTRLEN], line[TUI_LINE_MAX];
	char when[TUI_TIME_MAX], title[TUI_NOTE_MAX];
	time_t now = time(NULL);
	struct tm tm;
	int x;

	/* Which target, only when there is a choice: one target's screen is mtr's. */
	if (t->cfg.ntraces > 1)
		snprintf(title, sizeof(title), "hopwatch %s   target %zu/%zu", HOPWATCH_VERSION,
			 t->cur + 1, t->cfg.ntraces);
	else
		snprintf(title, sizeof(title), "hopwatch %s", HOPWATCH_VERSION);
	x = (COLS - (int)strlen(title)) / 2;
	attron(A_BOLD);
	put_line(0, x < 0 ? 0 : x, title, strlen(title));
	attroff(A_BOLD);

	report_escape(m->local_host, host, sizeof(host));
	report_escape(m->target, target, sizeof(target));
	addr_str(m->target_addr, addr, sizeof(addr));
	snprintf(line, sizeof(line), "%s -> %s (%s)", host, target, addr);
	put_line(1, 0, line, strlen(line));
	if (localtime_r(&now, &tm) && strftime(when, sizeof(when), TUI_TIME_FMT, &tm)) {
		x = COLS - (int)strlen(when);
		if (x > (int)strlen(line))
			put_line(1, x, when, strlen(when));
	}
}

/* mtr's key line: the key letter in bold, then the rest of the word. */
static void draw_keys(void)
{
	static const char words[][TUI_FIELDS_MAX] = {"Help", "Display mode", "Restart statistics",
						     "Order of fields", "quit"};
	size_t i;

	put_line(2, 0, "Keys:  ", 7);
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (getcurx(stdscr) + (int)strlen(words[i]) + 3 > COLS)
			break;
		attron(A_BOLD);
		addnstr(words[i], 1);
		attroff(A_BOLD);
		addstr(words[i] + 1);
		addstr("   ");
	}
}

static void draw_status(struct tui *t)
{
	char line[TUI_LINE_MAX];
	const char *run = t->finished ? "finished, q quits" : t->paused ? "paused" : "running";
	const char *proto = proto_protocol_name(cur_tmpl(t)->protocol);
	int rounds = trace_rounds(cur_trace(t));

	if (t->prompting) {
		snprintf(line, sizeof(line), "Fields: %s_   (Enter sets, Esc cancels)", t->prompt);
	} else {
		snprintf(line, sizeof(line), "[%s] [names %s] [%s] [%s] rounds %d%s%s",
			 t->mode == TUI_MODE_STATS ? "stats" : "chart", t->numeric ? "off" : "on",
			 proto ? proto : "?", run, rounds, t->note[0] ? "  " : "", t->note);
	}
	put_line(3, 0, line, strlen(line));
}

/*
 * A report line on screen: the header's "HOST: name" becomes " Host", a hop row loses the
 * "|--" after its number and a responder row the same three columns, so every line's
 * columns move left alike.
 */
/*
 * With the AS column (-z, -y, 'z'), hop rows have no "|--" to drop: their three columns go
 * from the end of the host column instead, so the figures still line up with the header.
 */
static int as_row(const char *line)
{
	return strlen(line) > TUI_REPORT_COLUMN &&
	       strncmp(line + TUI_ROW_KEEP, "|--", TUI_ROW_CUT) &&
	       strncmp(line + TUI_ROW_KEEP, "   ", TUI_ROW_CUT);
}

static void draw_report_line(int y, const char *line, int header)
{
	size_t len = strlen(line);

	if (!header && as_row(line)) {
		put_line(y, 0, line, TUI_HOST_COLUMN);
		put_line(y, TUI_HOST_COLUMN, line + TUI_REPORT_COLUMN, len - TUI_REPORT_COLUMN);
		return;
	}

	if (header) {
		put_line(y, 0, " Host", 5);
		if (len > TUI_REPORT_COLUMN)
			put_line(y, TUI_HOST_COLUMN, line + TUI_REPORT_COLUMN,
				 len - TUI_REPORT_COLUMN);
		return;
	}
	if (len < TUI_ROW_KEEP + TUI_ROW_CUT) {
		put_line(y, 0, line, len);
		return;
	}
	put_line(y, 0, line, TUI_ROW_KEEP);
	put_line(y, TUI_ROW_KEEP, line + TUI_ROW_KEEP + TUI_ROW_CUT,
		 len - TUI_ROW_KEEP - TUI_ROW_CUT);
}

/* A hop row of the report (" 12.|-- name ..."): its TTL, else 0. */
static int hop_row_ttl(const char *line)
{
	const char *bar = strstr(line, ".|-- ");

	/* With the AS column: " 12. AS64500  name ...". */
	if (line[0] == ' ' && isdigit((unsigned char)line[2]) && line[3] == '.' && line[4] == ' ' &&
	    line[5] != ' ')
		return atoi(line);
	if (!bar || bar - line >= TUI_ROW_KEEP)
		return 0;
	return atoi(line);
}

static void chart_scale(const struct tui_view *v, int last_hop, int width, int32_t *scale)
{
	int32_t low = INT32_MAX, high = -1;
	int ttl, k;
	size_t i;

	for (ttl = 1; ttl <= last_hop; ttl++) {
		for (k = 0; k < width; k++) {
			const int32_t *cell = history_cell(v, ttl, v->newest_round - k);

			if (!cell || *cell < 0)
				continue;
			if (*cell < low)
				low = *cell;
			if (*cell > high)
				high = *cell;
		}
	}
	for (i = 0; i < TUI_NFACTORS; i++)
		scale[i] = high < 0 ? 0 : low + (int32_t)((double)(high - low) * tui_factors[i]);
}

static char chart_char(int32_t v, const int32_t *scale)
{
	size_t i;

	if (v == TUI_LOST)
		return '?';
	if (v < 0)
		return ' ';
	for (i = 0; i < TUI_NFACTORS; i++)
		if (v <= scale[i])
			return tui_blocks[i];
	return '>';
}

static void draw_chart_row(const struct tui_view *v, int y, int ttl, const int32_t *scale,
			   int width)
{
	char cells[TUI_LINE_MAX];
	int k;

	if (width <= 0 || width >= TUI_LINE_MAX)
		return;
	/* Oldest on the left, the newest round in the last column. */
	for (k = 0; k < width; k++) {
		const int32_t *cell = history_cell(v, ttl, v->newest_round - (width - 1 - k));

		cells[k] = cell ? chart_char(*cell, scale) : ' ';
	}
	put_line(y, TUI_HOST_COLUMN + 1, cells, (size_t)width);
}

static void draw_legend(int y, const int32_t *scale)
{
	char line[TUI_LINE_MAX];
	size_t i, off;

	off = (size_t)snprintf(line, sizeof(line), "Scale:");
	for (i = 0; i < TUI_NFACTORS && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "  %c:%.1f ms",
					tui_blocks[i], scale[i] / 1000.0);
	if (off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, "  >  ?:lost");
	put_line(y, 0, line, strlen(line));
}

/*
 * The shown trace's table (or chart) from the first table row down to row bottom
 * (exclusive); returns the row after the last one drawn.
 */
static int draw_table(struct tui *t, int bottom)
{
	struct tui_view *v = cur_view(t);
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	int32_t scale[TUI_NFACTORS];
	int y = TUI_TOP_ROWS - 1, n = 0, width = COLS - TUI_HOST_COLUMN - 1;
	int last_hop = stats_last_hop(cur_table(t));
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return y;
	v->meta.numeric = t->numeric;
	v->meta.fields = t->fields;
	if (report_render(REPORT_FORMAT_REPORT, cur_table(t), &v->meta, f)) {
		fclose(f);
		free(buf);
		return y;
	}
	if (fclose(f) || !buf) {
		free(buf);
		return y;
	}
	if (t->mode == TUI_MODE_CHART)
		chart_scale(v, last_hop, width, scale);
	for (line = strtok_r(buf, "\n", &save); line && y < bottom;
	     line = strtok_r(NULL, "\n", &save), n++) {
		int ttl;

		if (n == 0) /* Start: */
			continue;
		if (n == 1) {
			if (t->mode == TUI_MODE_STATS) {
				draw_report_line(y++, line, 1);
			} else {
				put_line(y, 0, " Host", 5);
				put_line(y++, TUI_HOST_COLUMN + 1,
					 "latency per round, newest right", 31);
			}
			continue;
		}
		if (t->mode == TUI_MODE_STATS) {
			draw_report_line(y++, line, 0);
			continue;
		}
		/* The chart shows hop rows only: the name part of the report line, then cells. */
		ttl = hop_row_ttl(line);
		if (!ttl)
			continue;
		if (strlen(line) > TUI_REPORT_COLUMN)
			line[TUI_REPORT_COLUMN] = '\0';
		draw_report_line(y, line, 0);
		draw_chart_row(v, y++, ttl, scale, width);
	}
	if (t->mode == TUI_MODE_CHART) {
		y++;
		draw_legend(y++, scale);
	}
	free(buf);
	return y;
}

/* "2:name 10% 9.0ms": a target's number, short name and its last shown hop's figures. */
static void summary_entry(struct tui_view *v, size_t i, char *out, size_t len)
{
	const struct stats_table *tab = trace_table(v->trace);
	const struct stats_hop *hop = stats_table_hop(tab, stats_last_hop(tab));
	char name[TUI_NAME_MAX];
	struct stats_summary sum;

	report_escape(trace_config(v->trace)->name, name, sizeof(name));
	if (strlen(name) > TUI_SHORT_NAME_MAX)
		name[TUI_SHORT_NAME_MAX] = '\0';
	if (!hop || !hop->acc.received) {
		snprintf(out, len, "%zu:%s ...", i + 1, name);
		return;
	}
	stats_summarize(&hop->acc, &sum);
	snprintf(out, len, "%zu:%s %.0f%% %.1fms", i + 1, name, sum.loss_pct, sum.avg);
}

/* One line on the other targets, as many as fit, then how many did not. */
static void draw_summary(struct tui *t, int y)
{
	char line[TUI_LINE_MAX], entry[TUI_ENTRY_MAX], more[TUI_ENTRY_MAX];
	size_t i, off, left = t->cfg.ntraces - 1, width = (size_t)(COLS > 0 ? COLS : 0);
	int more_len = snprintf(more, sizeof(more), " | +%zu more", left);

	if (width >= sizeof(line))
		width = sizeof(line) - 1;
	off = (size_t)snprintf(line, sizeof(line), "%s", TUI_OTHERS);
	for (i = 0; i < t->cfg.ntraces && left; i++) {
		size_t need;

		if (i == t->cur)
			continue;
		summary_entry(&t->views[i], i, entry, sizeof(entry));
		/* Room for this entry and, unless it is the last, for "+N more" after it. */
		need = (off > strlen(TUI_OTHERS) ? 3 : 1) + strlen(entry) +
		       (left > 1 ? (size_t)more_len : 0);
		if (off + need > width)
			break;
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s",
					off > strlen(TUI_OTHERS) ? " | " : " ", entry);
		left--;
	}
	if (left) {
		snprintf(more, sizeof(more), "%s+%zu more", off > strlen(TUI_OTHERS) ? " | " : " ",
			 left);
		if (off + strlen(more) < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off, "%s", more);
	}
	put_line(y, 0, line, off);
}

static void draw_help(void)
{
	size_t i;

	for (i = 0; i < sizeof(tui_help) / sizeof(tui_help[0]); i++)
		put_line(TUI_TOP_ROWS + (int)i, 2, tui_help[i], strlen(tui_help[i]));
}

static void draw(struct tui *t)
{
	/* With several targets the last two rows are kept for the others' summary. */
	int several = t->cfg.ntraces > 1, y;

	erase();
	draw_title(t);
	draw_keys();
	draw_status(t);
	if (t->help) {
		draw_help();
	} else {
		y = draw_table(t, several ? LINES - 2 : LINES);
		if (several)
			draw_summary(t, y + 1 < LINES ? y + 1 : LINES - 1);
	}
	refresh();
}

/* ---- keys ---- */

static void restart(struct tui *t, enum proto_protocol p)
{
	const char *name = proto_protocol_name(p);
	size_t i;

	if (!t->cfg.have_proto[p]) {
		snprintf(t->note, sizeof(t->note), "the engine cannot send %s probes",
			 name ? name : "such");
		return;
	}
	t->finished = 0;
	t->paused = 0;
	for (i = 0; i < t->cfg.ntraces; i++) {
		struct tui_view *v = &t->views[i];
		struct engine_probe tmpl = trace_config(v->trace)->tmpl;
		int rc;

		/* The new scheduler counts its rounds from 0 again. */
		history_clear(v);
		tmpl.protocol = p;
		v->meta.protocol = name;
		rc = trace_restart(v->trace, &tmpl);
		if (rc) {
			quit(t, rc, "cannot restart the trace");
			return;
		}
	}
}

static void prompt_key(struct tui *t, int ch)
{
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		t->prompting = 0;
		if (!t->prompt_len)
			return;
		if (report_check_fields(t->prompt)) {
			snprintf(t->note, sizeof(t->note), "unknown field letter in \"%s\"",
				 t->prompt);
			return;
		}
		memcpy(t->fields, t->prompt, t->prompt_len + 1);
		return;
	}
	if (ch == TUI_KEY_ESC) {
		t->prompting = 0;
		return;
	}
	if (ch == KEY_BACKSPACE || ch == TUI_KEY_DEL || ch == '\b') {
		if (t->prompt_len)
			t->prompt[--t->prompt_len] = '\0';
		return;
	}
	/* Only printable ASCII reaches the prompt (and so the screen). */
	if (ch >= ' ' && ch < TUI_KEY_DEL && t->prompt_len < TUI_FIELDS_MAX) {
		t->prompt[t->prompt_len++] = (char)ch;
		t->prompt[t->prompt_len] = '\0';
	}
}

static void pause_all(struct tui *t, int paused)
{
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++)
		trace_pause(t->views[i].trace, paused);
	t->paused = paused;
}

static void reset_all(struct tui *t)
{
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++) {
		stats_table_reset(trace_table(t->views[i].trace));
		history_clear(&t->views[i]);
	}
}

/* Tab, ], Shift-Tab, [ and 1-9 pick the target shown; 1 if the key was one of them. */
static int switch_key(struct tui *t, int ch)
{
	size_t n = t->cfg.ntraces;

	if (ch == '\t' || ch == ']')
		t->cur = (t->cur + 1) % n;
	else if (ch == KEY_BTAB || ch == '[')
		t->cur = (t->cur + n - 1) % n;
	else if (ch >= '1' && ch < '1' + TUI_JUMP_MAX)
		t->cur = (size_t)(ch - '1') < n ? (size_t)(ch - '1') : t->cur;
	else
		return 0;
	return 1;
}

/*
 * mtr's 'z' turns the AS column on (the AS number) or off; its 'y' shows the record's next
 * field, 0..4 and round again, turning the column on first if it was off.
 */
static void as_key(struct tui *t, int ch)
{
	int cur = t->views[t->cur].meta.ipinfo;
	int next = ch == 'z' ? (cur >= 0 ? -1 : 0) : (cur < 0 ? 0 : (cur + 1) % ASN_FIELD_COUNT);
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++)
		t->views[i].meta.ipinfo = next;
}

static void handle_key(struct tui *t, int ch)
{
	size_t i;

	if (ch == KEY_RESIZE)
		return;
	if (t->prompting) {
		prompt_key(t, ch);
		return;
	}
	t->note[0] = '\0';
	/* The help screen goes away on any key, and that key does nothing else. */
	if (t->help) {
		t->help = 0;
		return;
	}
	switch (ch) {
	case '?':
	case 'h':
		t->help = 1;
		break;
	case 'n':
		t->numeric = !t->numeric;
		for (i = 0; i < t->cfg.ntraces; i++)
			t->views[i].meta.numeric = t->numeric;
		break;
	case 'p':
		if (!t->finished)
			pause_all(t, 1);
		break;
	case ' ':
		if (t->paused)
			pause_all(t, 0);
		break;
	case 'r':
		reset_all(t);
		break;
	case 'd':
		t->mode = (enum tui_mode)((t->mode + 1) % TUI_MODE__COUNT);
		break;
	case 'j':
		snprintf(t->fields, sizeof(t->fields), "%s",
			 strchr(t->fields, 'N') ? TUI_FIELDS_JITTER : TUI_FIELDS_LATENCY);
		break;
	case 'o':
		t->prompting = 1;
		t->prompt_len = strlen(t->fields);
		memcpy(t->prompt, t->fields, t->prompt_len + 1);
		break;
	case 'u':
		restart(t, cur_tmpl(t)->protocol == PROTO_PROTOCOL_UDP ? PROTO_PROTOCOL_ICMP
								       : PROTO_PROTOCOL_UDP);
		break;
	case 't':
		restart(t, cur_tmpl(t)->protocol == PROTO_PROTOCOL_TCP ? PROTO_PROTOCOL_ICMP
								       : PROTO_PROTOCOL_TCP);
		break;
	case 'y':
	case 'z':
		as_key(t, ch);
		break;
	case 'q':
	case 'Q':
		quit(t, 0, NULL);
		break;
	default:
		switch_key(t, ch);
		break;
	}
}

static void key_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tui *t = arg;
	int avail = 0, ch;

	(void)what;
	/* Readable with nothing to read: the terminal hung up. Leave, or this spins. */
	if (ioctl(fd, FIONREAD, &avail) == 0 && avail == 0) {
		quit(t, 0, NULL);
		return;
	}
	while ((ch = getch()) != ERR)
		handle_key(t, ch);
	draw(t);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	draw(arg);
}

static void winch_cb(evutil_socket_t sig, short what, void *arg)
{
	struct winsize ws;

	(void)sig;
	(void)what;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	draw(arg);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct tui *t = arg;

	(void)sig;
	(void)what;
	quit(t, 0, NULL);
}

static int curses_start(struct tui *t)
{
	t->screen = newterm(NULL, stdout, stdin);
	if (!t->screen)
		return -ENOTTY;
	set_term(t->screen);
	cbreak(); /* keeps ISIG: Ctrl-C stays a signal, handled by the caller's evsignal */
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(TUI_ESCDELAY_MS);
	curs_set(0);
	return 0;
}

int tui_usable(void)
{
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

/* Curses knows whether it owns the terminal: nothing here needs to remember it. */
void tui_restore_terminal(void)
{
	if (!isendwin())
		endwin();
}

static int make_traces(struct tui *t, const struct trace_config *cfgs, char *err, size_t errlen)
{
	struct trace_hooks hooks = {
		.finished = on_finished,
		.sent = on_sent,
		.answer = on_answer,
	};
	size_t i;
	int rc;

	t->views = calloc(t->cfg.ntraces, sizeof(*t->views));
	if (!t->views) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < t->cfg.ntraces; i++) {
		const struct trace_config *tc = &cfgs[i];
		struct tui_view *v = &t->views[i];
		struct report_meta *m = &v->meta;

		v->tui = t;
		v->newest_round = -1;
		hooks.ctx = v; /* the hooks find their view without a search */
		rc = trace_new(&v->trace, t->cfg.base, t->cfg.conn, tc, &hooks);
		if (rc) {
			snprintf(err, errlen, "cannot make the trace of %s: %s", tc->name,
				 strerror(-rc));
			return rc;
		}
		*m = t->cfg.meta;
		m->target = trace_config(v->trace)->name;
		m->target_addr = &trace_config(v->trace)->dst;
		m->psize = tc->tmpl.size;
		m->bitpattern = tc->tmpl.bitpattern;
		m->protocol = proto_protocol_name(tc->tmpl.protocol);
		m->fields = t->fields;
	}
	return 0;
}

static int start_traces(struct tui *t, char *err, size_t errlen)
{
	size_t i;
	int rc;

	for (i = 0; i < t->cfg.ntraces; i++) {
		const struct trace *tr = t->views[i].trace;

		rc = trace_start(t->views[i].trace);
		if (rc) {
			snprintf(err, errlen, "%s",
				 trace_error(tr)[0] ? trace_error(tr)
						    : "cannot send the first probes");
			return rc;
		}
	}
	return 0;
}

int tui_new(struct tui **out, const struct tui_config *cfg, char *err, size_t errlen)
{
	struct timeval tick = {.tv_sec = 0, .tv_usec = TUI_TICK_US};
	struct tui *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->cfg = *cfg;
	t->cfg.traces = NULL;
	t->numeric = cfg->meta.numeric;
	t->mode = cfg->initial_mode == TUI_MODE_CHART ? TUI_MODE_CHART : TUI_MODE_STATS;
	snprintf(t->fields, sizeof(t->fields), "%s",
		 cfg->meta.fields ? cfg->meta.fields : TUI_FIELDS_LATENCY);
	t->cfg.meta.fields = t->fields;
	if (!cfg->ntraces) {
		snprintf(err, errlen, "nothing to trace");
		free(t);
		return -EINVAL;
	}
	rc = make_traces(t, cfg->traces, err, errlen);
	if (rc) {
		tui_free(t);
		return rc;
	}

	t->key_ev = event_new(cfg->base, STDIN_FILENO, EV_READ | EV_PERSIST, key_cb, t);
	t->tick_ev = event_new(cfg->base, -1, EV_PERSIST, tick_cb, t);
	t->winch_ev = evsignal_new(cfg->base, SIGWINCH, winch_cb, t);
	t->hup_ev = evsignal_new(cfg->base, SIGHUP, hup_cb, t);
	if (!t->key_ev || !t->tick_ev || !t->winch_ev || !t->hup_ev) {
		snprintf(err, errlen, "out of memory");
		tui_free(t);
		return -ENOMEM;
	}
	rc = curses_start(t);
	if (rc) {
		snprintf(err, errlen, "cannot use the terminal (TERM=%s) for the live view",
			 getenv("TERM") ? "set" : "unset");
		tui_free(t);
		return rc;
	}
	/* After curses: its own SIGWINCH handler is replaced by the event loop's. */
	if (event_add(t->key_ev, NULL) || event_add(t->tick_ev, &tick) ||
	    evsignal_add(t->winch_ev, NULL) || evsignal_add(t->hup_ev, NULL)) {
		snprintf(err, errlen, "cannot register the live view's events");
		tui_free(t);
		return -ENOMEM;
	}
	rc = start_traces(t, err, errlen);
	if (rc) {
		tui_free(t);
		return rc;
	}
	draw(t);
	*out = t;
	return 0;
}

size_t tui_ntraces(const struct tui *t)
{
	return t->cfg.ntraces;
}

struct trace *tui_trace(struct tui *t, size_t i)
{
	return i < t->cfg.ntraces ? t->views[i].trace : NULL;
}

const struct report_meta *tui_meta(const struct tui *t, size_t i)
{
	return i < t->cfg.ntraces ? &t->views[i].meta : NULL;
}

static void curses_end(struct tui *t)
{
	if (t->screen) {
		endwin();
		delscreen(t->screen);
		t->screen = NULL;
	}
}

int tui_end(struct tui *t)
{
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++)
		trace_pause(t->views[i].trace, 1);
	curses_end(t);
	return 0;
}

struct tui *tui_free(struct tui *t)
{
	size_t i;

	if (!t)
		return NULL;
	for (i = 0; t->views && i < t->cfg.ntraces; i++) {
		t->views[i].trace = trace_free(t->views[i].trace);
		free(t->views[i].hist);
	}
	free(t->views);
	curses_end(t);
	if (t->hup_ev)
		event_free(t->hup_ev);
	if (t->winch_ev)
		event_free(t->winch_ev);
	if (t->tick_ev)
		event_free(t->tick_ev);
	if (t->key_ev)
		event_free(t->key_ev);
	free(t);
	return NULL;
}
