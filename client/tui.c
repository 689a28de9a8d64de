/*
 * tui: the live view. The hop table is the -r report rendered into memory and redrawn in
 * place, so its columns, -o order, names, escaping and ECMP rows cannot drift from the
 * report's; mtr's blockmaps are drawn here from a per-hop history of the latest rounds,
 * one per target, so switching targets keeps each map.
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
#include "client/options.h"
#include "client/tui_pane.h"

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

/*
 * mtr's blockmap scale: eight steps over the range of the RTTs kept, at the squares of
 * 1/8..8/8 of it, drawn with these characters; the plain blockmap only tells the RTTs
 * above the seventh step ('>') from the rest ('.').
 */
static const double tui_factors[] = {1.0 / 64,	4.0 / 64,  9.0 / 64,  16.0 / 64,
				     25.0 / 64, 36.0 / 64, 49.0 / 64, 64.0 / 64};
static const char tui_blocks[] = ".123abc>";
#define TUI_NFACTORS	  (sizeof(tui_factors) / sizeof(tui_factors[0]))
#define TUI_BLOCKMAP_STEP 6
#define TUI_BLOCK_HIGH	  '>'
#define TUI_BLOCK_LOST	  '?'
/* mtr's graph layout: 30 columns for the host, cells from column 29, at most 200. */
#define TUI_GRAPH_PADDING 30
#define TUI_GRAPH_START	  (TUI_GRAPH_PADDING - 2)
/* Name part of a report hop row: after " %2d.|-- ", up to where the columns start. */
#define TUI_ROW_NAME 8
/* mtr's '+' and '-' scroll by this many hops. */
#define TUI_SCROLL_STEP 5
/* Keys mtr reads: Ctrl-L redraws, Ctrl-S pauses, Ctrl-Q resumes. */
#define TUI_KEY_REDRAW 12
#define TUI_KEY_PAUSE  19
#define TUI_KEY_RESUME 17
/* The prompts' limits, mtr's: MINPACKET..MAXPACKET, a TOS byte, TTLs below 256. */
#define TUI_PSIZE_MIN  TRACE_PSIZE_MIN
#define TUI_PSIZE_MAX  OPTIONS_MAX_PSIZE
#define TUI_BYTE_MAX   255
#define TUI_TTL_MAX    (STATS_MAX_HOPS - 1)
#define TUI_US_PER_SEC 1000000.0

static const char tui_help[][TUI_HELP_COLS] = {
	"Command:",
	"  ?|h     help",
	"  a       toggle the findings pane (the shown target's diagnosis, each round)",
	"  d       switch display mode (statistics, blockmap, scaled blockmap)",
	"  e       toggle MPLS information on/off",
	"  n       toggle names on/off (numeric addresses when off)",
	"  o str   set the columns to display, default str='" TUI_FIELDS_LATENCY "'",
	"  j       toggle latency(" TUI_FIELDS_LATENCY ")/jitter(" TUI_FIELDS_JITTER ") stats",
	"  p       pause (SPACE to resume)",
	"  r       reset all counters",
	"  i <n>   set the ping interval to n seconds",
	"  f <n>   set the initial time-to-live (ttl)",
	"  m <n>   set the max time-to-live",
	"  s <n>   set the packet size to n or random (n<0)",
	"  b <c>   set ping bit pattern to c (0..255) or random (c<0)",
	"  Q <t>   set ping packet's TOS to t",
	"  + -     scroll the hops down and up",
	"  Ctrl-L  redraw the screen",
	"  u       switch between ICMP ECHO and UDP datagrams (statistics kept)",
	"  t       switch between ICMP ECHO and TCP SYN packets (statistics kept)",
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
	int pane_round;	  /* highest round begun, for the findings pane; -1 = none */
};

/* What the bottom (or, for 'o', the status) line is reading; 0 = nothing. */
enum tui_prompt {
	TUI_PROMPT_NONE,
	TUI_PROMPT_FIELDS, /* o */
	TUI_PROMPT_PSIZE,  /* s */
	TUI_PROMPT_BITS,   /* b */
	TUI_PROMPT_INTERVAL,
	TUI_PROMPT_FIRST_TTL,
	TUI_PROMPT_MAX_TTL,
	TUI_PROMPT_TOS, /* Q */
};

struct tui {
	struct tui_config cfg; /* cfg.meta.fields points at fields; cfg.traces not kept */
	SCREEN *screen;
	struct tui_view *views; /* cfg.ntraces, never moved: each is its trace's hook ctx */
	size_t cur;		/* the view shown */
	struct event *key_ev, *tick_ev, *winch_ev, *hup_ev;
	enum tui_mode mode;
	int help, paused, finished, numeric;
	int offset; /* hops scrolled off the top ('+' and '-') */
	int mpls;   /* 'e': labels under each hop */
	enum tui_prompt prompting;
	char prompt[TUI_FIELDS_MAX + 1];
	size_t prompt_len;
	char fields[TUI_FIELDS_MAX + 1];
	char note[TUI_NOTE_MAX]; /* one-off message on the status line */
	int err;
	char msg[TUI_ERR_MAX];
	/*
	 * 'a': the findings pane, of the shown target, made again at each of its rounds (and
	 * when the pane opens, the target changes or the counters reset). With or without
	 * --analyze: the pane asks the trace for a diagnosis of its own.
	 */
	int analysis;
	struct diagnose_result *diag; /* NULL until the pane first opens */
	int diag_err;		      /* 0, or why there is no diagnosis */
	int diag_need;		      /* rounds still needed before one is made */
	int diag_rounds;	      /* rounds done when it was made */
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

/* The shown target's findings as its table stands now, once every hop has enough probes. */
static void pane_update(struct tui *t)
{
	struct trace *tr = t->views[t->cur].trace;

	if (!t->analysis)
		return;
	t->diag_rounds = trace_rounds(tr);
	t->diag_need = tui_pane_rounds_needed(trace_table(tr));
	if (t->diag_need > 0)
		return;
	if (!t->diag)
		t->diag = malloc(sizeof(*t->diag));
	t->diag_err = t->diag ? trace_diagnose(tr, t->diag) : -ENOMEM;
}

/*
 * A round of view v began (its first probe went) or ended: the pane of the shown target
 * follows. Both, because a round with a lost probe ends only at its timeout, and the
 * last round has no next one.
 */
static void pane_round(struct tui_view *v)
{
	if (v == &v->tui->views[v->tui->cur])
		pane_update(v->tui);
}

static void on_round(void *ctx, struct trace *tr, int round)
{
	(void)tr;
	(void)round;
	pane_round(ctx);
}

static void on_sent(void *ctx, struct trace *tr, int ttl, int round, uint32_t seq)
{
	struct tui_view *v = ctx;
	int32_t *cell;

	(void)tr;
	(void)seq;
	if (round > v->pane_round) {
		v->pane_round = round;
		pane_round(v);
	}
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

	static const char modes[TUI_MODE__COUNT][TUI_FIELDS_MAX] = {
		[TUI_MODE_STATS] = "stats",
		[TUI_MODE_BLOCKMAP] = "blockmap",
		[TUI_MODE_SCALED] = "scaled",
	};

	if (t->prompting == TUI_PROMPT_FIELDS) {
		snprintf(line, sizeof(line), "Fields: %s_   (Enter sets, Esc cancels)", t->prompt);
	} else {
		snprintf(line, sizeof(line), "[%s] [names %s] [%s] [%s] rounds %d%s%s",
			 modes[t->mode < TUI_MODE__COUNT ? t->mode : TUI_MODE_STATS],
			 t->numeric ? "off" : "on", proto ? proto : "?", run, rounds,
			 t->note[0] ? "  " : "", t->note);
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

/*
 * mtr's scale over every RTT kept of the hops shown (from the first one not scrolled off):
 * step i is low + range * factor i.
 */
static void graph_scale(const struct tui_view *v, int first, int last_hop, int32_t *scale)
{
	int32_t low = INT32_MAX, high = -1;
	int ttl, k;
	size_t i;

	for (ttl = first; ttl <= last_hop; ttl++) {
		for (k = 0; k < TUI_HISTORY; k++) {
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

/* A cell as mtr draws it: not sent blank, sent and not (yet) answered '?', else the RTT. */
static char graph_char(enum tui_mode mode, int32_t v, const int32_t *scale)
{
	size_t i;

	if (v == TUI_UNSENT)
		return ' ';
	if (v < 0)
		return TUI_BLOCK_LOST;
	if (mode == TUI_MODE_BLOCKMAP)
		return v > scale[TUI_BLOCKMAP_STEP] ? TUI_BLOCK_HIGH : tui_blocks[0];
	for (i = 0; i < TUI_NFACTORS; i++)
		if (v <= scale[i])
			return tui_blocks[i];
	return TUI_BLOCK_HIGH;
}

static void draw_graph_row(const struct tui *t, int y, int ttl, const int32_t *scale, int cols)
{
	const struct tui_view *v = cur_view(t);
	char cells[TUI_LINE_MAX];
	int k;

	if (cols <= 0 || cols + 1 >= TUI_LINE_MAX)
		return;
	/* A blank column cuts a long name short, then the oldest round to the newest. */
	cells[0] = ' ';
	for (k = 0; k < cols; k++) {
		const int32_t *cell = history_cell(v, ttl, v->newest_round - (cols - 1 - k));

		cells[k + 1] = cell ? graph_char(t->mode, *cell, scale) : ' ';
	}
	put_line(y, TUI_GRAPH_START, cells, (size_t)cols + 1);
}

/* mtr's legend: every step but the last with its upper bound in whole ms, then '>'. */
static void draw_scale(int y, const int32_t *scale)
{
	char line[TUI_LINE_MAX];
	size_t i, off;

	off = (size_t)snprintf(line, sizeof(line), "Scale:");
	for (i = 0; i + 1 < TUI_NFACTORS && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "  %c:%d ms", tui_blocks[i],
					(int)(scale[i] / 1000));
	if (off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, "  %c", TUI_BLOCK_HIGH);
	put_line(y, 0, line, strlen(line));
}

/* The shown trace's -r report, in a buffer the caller frees; NULL on failure. */
static char *render_report(struct tui *t)
{
	struct tui_view *v = cur_view(t);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	v->meta.numeric = t->numeric;
	v->meta.fields = t->fields;
	/* The view puts the labels under each row itself, its own responder's too. */
	v->meta.show_mpls = 0;
	if (report_render(REPORT_FORMAT_REPORT, cur_table(t), &v->meta, f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) || !buf) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The responder of a row: idx 0 is the hop's own row (who answered last), idx k the k-th
 * listed under it, in the report's order.
 */
static const struct stats_responder *row_responder(const struct stats_hop *h, size_t idx)
{
	size_t r, k = 0;

	for (r = 0; h && r < h->nresponders; r++) {
		int own = addr_equal(&h->responders[r].addr, &h->last_addr);

		if (idx == 0 && own)
			return &h->responders[r];
		if (idx > 0 && !own && ++k == idx)
			return &h->responders[r];
	}
	return NULL;
}

/* mtr's -e lines under a row: "    [MPLS: Lbl 16 TC 0 S 1 TTL 1]". The next row's y. */
static int draw_mpls(struct tui *t, int y, int ttl, size_t idx)
{
	const struct stats_responder *rp = row_responder(stats_table_hop(cur_table(t), ttl), idx);
	char line[TUI_LINE_MAX];
	uint32_t k;

	for (k = 0; rp && k < rp->nmpls; k++) {
		snprintf(line, sizeof(line), "    [MPLS: Lbl %u TC %u S %u TTL %u]",
			 rp->mpls[k].label, rp->mpls[k].exp, rp->mpls[k].bos, rp->mpls[k].ttl);
		put_line(y++, 0, line, strlen(line));
	}
	return y;
}

/*
 * Whether hop ttl has a row: not scrolled off, and within the TTLs probed now (mtr's
 * net_max stops at the max TTL; its statistics start at the first TTL, its maps at 1).
 */
static int shown_ttl(const struct tui *t, int ttl, int from_first)
{
	const struct sched_config *sc = &trace_config(cur_trace(t))->sched;

	if (ttl > sc->max_ttl || (from_first && ttl < sc->first_ttl))
		return 0;
	return ttl - (from_first ? sc->first_ttl - 1 : 0) > t->offset;
}

/* The statistics: the report's rows below its header, scrolled; the row after the last. */
static int draw_stats(struct tui *t, char *buf, int y, int bottom)
{
	char *line, *save = NULL;
	size_t idx = 0;
	int n = 0, ttl = 0;

	for (line = strtok_r(buf, "\n", &save); line && y < bottom;
	     line = strtok_r(NULL, "\n", &save), n++) {
		if (n == 0) /* Start: */
			continue;
		if (n == 1) {
			draw_report_line(y++, line, 1);
			continue;
		}
		if (hop_row_ttl(line)) {
			ttl = hop_row_ttl(line);
			idx = 0;
		} else {
			idx++; /* a responder listed under hop ttl */
		}
		if (!shown_ttl(t, ttl, 1))
			continue;
		draw_report_line(y++, line, 0);
		if (t->mpls)
			y = draw_mpls(t, y, ttl, idx);
	}
	return y;
}

/* A hop row's name as the report wrote it, without the padding. */
static void row_name(const char *line, char *out, size_t len)
{
	size_t n = strlen(line);

	if (n > TUI_REPORT_COLUMN)
		n = TUI_REPORT_COLUMN;
	n = n > TUI_ROW_NAME ? n - TUI_ROW_NAME : 0;
	while (n && line[TUI_ROW_NAME + n - 1] == ' ')
		n--;
	snprintf(out, len, "%.*s", (int)n, n ? line + TUI_ROW_NAME : "");
}

/*
 * mtr's blockmap views: " Last N pings" over the cells, a hop per row ("%2d. name", the
 * cells from column 29), a blank row, the scale. The row after the last.
 */
static int draw_graph(struct tui *t, char *buf, int y, int bottom)
{
	const struct tui_view *v = cur_view(t);
	int cols = COLS <= TUI_HISTORY + TUI_GRAPH_PADDING ? COLS - TUI_GRAPH_PADDING : TUI_HISTORY;
	char *line, *save = NULL, name[TUI_NAME_MAX], row[TUI_LINE_MAX];
	int32_t scale[TUI_NFACTORS];
	int ttl;

	snprintf(row, sizeof(row), " Last %3d pings", cols);
	put_line(y++, TUI_GRAPH_START, row, strlen(row));
	graph_scale(v, t->offset + 1, stats_last_hop(cur_table(t)), scale);
	for (line = strtok_r(buf, "\n", &save); line && y < bottom;
	     line = strtok_r(NULL, "\n", &save)) {
		ttl = hop_row_ttl(line);
		if (!ttl || !shown_ttl(t, ttl, 0))
			continue;
		row_name(line, name, sizeof(name));
		if (!stats_table_hop(cur_table(t), ttl) ||
		    !stats_table_hop(cur_table(t), ttl)->acc.received)
			snprintf(name, sizeof(name), "(waiting for reply)");
		snprintf(row, sizeof(row), "%2d. %s", ttl, name);
		put_line(y, 0, row, strlen(row));
		draw_graph_row(t, y++, ttl, scale, cols);
	}
	y++;
	draw_scale(y++, scale);
	return y;
}

/* The hop table in the mode shown, from the first table row down to row bottom. */
static int draw_table(struct tui *t, int bottom)
{
	char *buf = render_report(t);
	int y = TUI_TOP_ROWS - 1;

	if (!buf)
		return y;
	y = t->mode == TUI_MODE_STATS ? draw_stats(t, buf, y, bottom)
				      : draw_graph(t, buf, y, bottom);
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
	stats_hop_summarize(hop, &sum); /* with the probes presumed lost, as the table */
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

/* mtr's prompts: what they say (line one with the value now, then a hint) and read. */
static const struct {
	const char *label, *hint;
} tui_prompts[] = {
	[TUI_PROMPT_PSIZE] = {"Change Packet Size", "Size Range: 28-4470, < 0:random."},
	[TUI_PROMPT_BITS] = {"Ping Bit Pattern", "Pattern Range: 0(0x00)-255(0xff), <0 random."},
	[TUI_PROMPT_INTERVAL] = {"Interval ", "seconds"},
	[TUI_PROMPT_FIRST_TTL] = {"First TTL", "1 to the max TTL"},
	[TUI_PROMPT_MAX_TTL] = {"Max TTL", "the first TTL to 255"},
	[TUI_PROMPT_TOS] = {"Type of Service(tos)",
			    "default 0x00, min cost 0x02, rel 0x04,, thr 0x08, low del 0x10..."},
};

static void prompt_value(const struct tui *t, char *out, size_t len)
{
	const struct trace_config *tc = trace_config(cur_trace(t));

	switch (t->prompting) {
	case TUI_PROMPT_PSIZE:
		snprintf(out, len, "%d", tc->tmpl.size);
		break;
	case TUI_PROMPT_BITS:
		snprintf(out, len, "%d", tc->tmpl.bitpattern);
		break;
	case TUI_PROMPT_INTERVAL:
		snprintf(out, len, "%0.0f", (double)tc->sched.interval_us / TUI_US_PER_SEC);
		break;
	case TUI_PROMPT_FIRST_TTL:
		snprintf(out, len, "%d", tc->sched.first_ttl);
		break;
	case TUI_PROMPT_MAX_TTL:
		snprintf(out, len, "%d", tc->sched.max_ttl);
		break;
	case TUI_PROMPT_TOS:
		snprintf(out, len, "%d", tc->tmpl.tos);
		break;
	case TUI_PROMPT_NONE:
	case TUI_PROMPT_FIELDS:
		out[0] = '\0';
		break;
	}
}

/* A number prompt on the last two lines: its label and value now, the hint and the input. */
static void draw_prompt(struct tui *t)
{
	char line[TUI_LINE_MAX], now[TUI_ENTRY_MAX];

	prompt_value(t, now, sizeof(now));
	snprintf(line, sizeof(line), "%s: %s", tui_prompts[t->prompting].label, now);
	put_line(LINES - 2, 0, line, strlen(line));
	snprintf(line, sizeof(line), "%s  new: %s_", tui_prompts[t->prompting].hint, t->prompt);
	put_line(LINES - 1, 0, line, strlen(line));
}

static int asking(const struct tui *t)
{
	return t->prompting != TUI_PROMPT_NONE && t->prompting != TUI_PROMPT_FIELDS;
}

/* The pane's lines from row top down to row bottom (not included), over what is there. */
static void draw_pane(struct tui *t, int top, int bottom)
{
	struct tui_pane_line lines[TUI_PANE_ROWS_MAX];
	struct tui_pane_input in = {
		.diag = t->diag_err || !t->diag ? NULL : t->diag,
		.err = t->diag_err ? t->diag_err : -ENOMEM,
		.need = t->diag_need,
		.rounds = t->diag_rounds,
	};
	size_t i, n;

	if (top < 0 || bottom <= top || COLS <= 0)
		return;
	n = tui_pane_lines(&in, (size_t)(bottom - top), (size_t)COLS, lines);
	for (i = 0; i < n; i++) {
		int y = top + (int)i;
		attr_t a = lines[i].style == TUI_PANE_HEADER   ? A_REVERSE
			   : lines[i].style == TUI_PANE_STRONG ? A_BOLD
							       : A_NORMAL;

		move(y, 0);
		clrtoeol();
		attron(a);
		put_line(y, 0, lines[i].text, strlen(lines[i].text));
		attroff(a);
	}
}

/*
 * Rows the pane takes at the bottom of the rows the table has (avail): its lines, at most
 * half of them, so the table stays in view; at least the header when a row is left.
 */
static int pane_rows(const struct tui *t, int avail)
{
	struct tui_pane_line lines[TUI_PANE_ROWS_MAX];
	struct tui_pane_input in = {
		.diag = t->diag_err || !t->diag ? NULL : t->diag,
		.err = t->diag_err ? t->diag_err : -ENOMEM,
		.need = t->diag_need,
		.rounds = t->diag_rounds,
	};
	int want;

	if (!t->analysis || avail < 2)
		return 0;
	want = (int)tui_pane_lines(&in, TUI_PANE_ROWS_MAX, 1, lines);
	return want < avail / 2 ? want : avail / 2;
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
		/* A number prompt takes the last two rows, as the summary does. */
		int bottom = LINES - (several ? 2 : 0) - (asking(t) ? 2 : 0);
		int pane = pane_rows(t, bottom - (TUI_TOP_ROWS - 1));

		y = draw_table(t, bottom - pane);
		if (pane) {
			/* Right under the table (a blank row between when there is room). */
			int top = y + 1 <= bottom - pane ? y + 1 : bottom - pane;

			draw_pane(t, top, bottom);
			y = bottom - 1;
		}
		if (several)
			draw_summary(t, y + 1 < bottom + 2 ? y + 1 : bottom + 1);
		if (asking(t))
			draw_prompt(t);
	}
	refresh();
}

/* ---- keys ---- */

/*
 * Every trace goes on with tmpl's protocol, size, pattern and TOS and with sched's
 * interval and TTLs, keeping its statistics, as mtr changes its ctl for the next probes.
 */
static void apply_all(struct tui *t, const struct engine_probe *tmpl,
		      const struct sched_config *sched)
{
	size_t i;

	for (i = 0; i < t->cfg.ntraces; i++) {
		struct tui_view *v = &t->views[i];
		const struct trace_config *tc = trace_config(v->trace);
		struct engine_probe p = tc->tmpl;
		struct sched_config sc = tc->sched;

		p.protocol = tmpl->protocol;
		p.size = tmpl->size;
		p.bitpattern = tmpl->bitpattern;
		p.tos = tmpl->tos;
		sc.interval_us = sched->interval_us;
		sc.first_ttl = sched->first_ttl;
		sc.max_ttl = sched->max_ttl;
		if (trace_set(v->trace, &sc, &p)) {
			snprintf(t->note, sizeof(t->note), "cannot change the trace of %zu", i + 1);
			return;
		}
		v->meta.protocol = proto_protocol_name(p.protocol);
		v->meta.psize = p.size;
		v->meta.bitpattern = p.bitpattern;
		v->meta.tos = p.tos;
	}
}

/* mtr's u and t: the next probes use protocol p; the statistics go on (mtr keeps them). */
static void switch_proto(struct tui *t, enum proto_protocol p)
{
	const char *name = proto_protocol_name(p);
	struct engine_probe tmpl = *cur_tmpl(t);

	if (!t->cfg.have_proto[p]) {
		snprintf(t->note, sizeof(t->note), "the engine cannot send %s probes",
			 name ? name : "such");
		return;
	}
	tmpl.protocol = p;
	apply_all(t, &tmpl, &trace_config(cur_trace(t))->sched);
}

/* atoi() as mtr reads its prompts, without its overflow. */
static int prompt_int(const char *s)
{
	long v = strtol(s, NULL, 10);

	return v > INT32_MAX ? INT32_MAX : v < -INT32_MAX ? -INT32_MAX : (int)v;
}

/* A bad value: mtr rings the bell and keeps what it had. */
static void refuse(struct tui *t, const char *what)
{
	beep();
	snprintf(t->note, sizeof(t->note), "%s out of range: kept", what);
}

/* s: |n| in MINPACKET..MAXPACKET; a negative n, a random size each round up to -n (as -s). */
static void set_psize(struct tui *t, struct engine_probe *p, struct sched_config *sc, int n)
{
	int max = n < 0 ? -n : n;

	if (max < TUI_PSIZE_MIN || max > TUI_PSIZE_MAX) {
		refuse(t, "packet size");
		return;
	}
	sc->rand_size_min = n < 0 ? TUI_PSIZE_MIN : 0;
	sc->rand_size_max = n < 0 ? max : 0;
	p->size = n < 0 ? TUI_PSIZE_MIN : n;
}

/* Enter on a number prompt: mtr's checks, then every trace goes on with the value. */
static void apply_prompt(struct tui *t)
{
	const struct trace_config *tc = trace_config(cur_trace(t));
	struct engine_probe p = tc->tmpl;
	struct sched_config sc = tc->sched;
	int n = prompt_int(t->prompt);
	double secs;

	switch (t->prompting) {
	case TUI_PROMPT_PSIZE:
		set_psize(t, &p, &sc, n);
		break;
	case TUI_PROMPT_BITS:
		/* mtr 0.95: above 255 or below 0 is a random pattern, drawn each round. */
		sc.rand_pattern = n < 0 || n > TUI_BYTE_MAX;
		p.bitpattern = sc.rand_pattern ? 0 : n;
		break;
	case TUI_PROMPT_INTERVAL:
		secs = strtod(t->prompt, NULL);
		/* mtr: 0 or less is ignored, and below 1 s only for root. */
		if (!(secs > 0.0) || secs > OPTIONS_MAX_INTERVAL_S || (secs < 1.0 && geteuid()))
			refuse(t, "interval");
		else
			sc.interval_us = (int64_t)(secs * TUI_US_PER_SEC);
		break;
	case TUI_PROMPT_FIRST_TTL:
		if (n < 1 || n > sc.max_ttl)
			refuse(t, "first TTL");
		else
			sc.first_ttl = n;
		break;
	case TUI_PROMPT_MAX_TTL:
		if (n < sc.first_ttl || n > TUI_TTL_MAX)
			refuse(t, "max TTL");
		else
			sc.max_ttl = n;
		break;
	case TUI_PROMPT_TOS:
		/* mtr 0.95 takes a TOS out of 0..255 as 0. */
		p.tos = n < 0 || n > TUI_BYTE_MAX ? 0 : n;
		break;
	case TUI_PROMPT_NONE:
	case TUI_PROMPT_FIELDS:
		return;
	}
	apply_all(t, &p, &sc);
}

static void prompt_enter(struct tui *t)
{
	enum tui_prompt what = t->prompting;

	if (what != TUI_PROMPT_FIELDS) {
		/* mtr reads an empty line as 0, and so refuses or takes it as 0 the same. */
		apply_prompt(t);
		t->prompting = TUI_PROMPT_NONE;
		return;
	}
	t->prompting = TUI_PROMPT_NONE;
	if (!t->prompt_len)
		return;
	if (report_check_fields(t->prompt)) {
		snprintf(t->note, sizeof(t->note), "unknown field letter in \"%s\"", t->prompt);
		return;
	}
	memcpy(t->fields, t->prompt, t->prompt_len + 1);
}

static void prompt_start(struct tui *t, enum tui_prompt what)
{
	t->prompting = what;
	t->prompt_len = 0;
	t->prompt[0] = '\0';
	if (what == TUI_PROMPT_FIELDS) {
		t->prompt_len = strlen(t->fields);
		memcpy(t->prompt, t->fields, t->prompt_len + 1);
	}
}

static void prompt_key(struct tui *t, int ch)
{
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		prompt_enter(t);
		return;
	}
	if (ch == TUI_KEY_ESC) {
		t->prompting = TUI_PROMPT_NONE;
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
	pane_update(t);
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
	pane_update(t);
	return 1;
}

/* mtr's e, + and -: labels shown or not, hops scrolled by five (not past the last). */
static void view_key(struct tui *t, int ch)
{
	int last = stats_last_hop(cur_table(t));

	if (ch == 'e')
		t->mpls = !t->mpls;
	else if (ch == '+' && t->offset + TUI_SCROLL_STEP < last)
		t->offset += TUI_SCROLL_STEP;
	else if (ch == '-')
		t->offset = t->offset > TUI_SCROLL_STEP ? t->offset - TUI_SCROLL_STEP : 0;
}

/* The keys that change what is sent: u, t and the number prompts; 1 if ch was one. */
static int probe_key(struct tui *t, int ch)
{
	enum proto_protocol p = cur_tmpl(t)->protocol;

	switch (ch) {
	case 'u':
		switch_proto(t, p == PROTO_PROTOCOL_UDP ? PROTO_PROTOCOL_ICMP : PROTO_PROTOCOL_UDP);
		return 1;
	case 't':
		switch_proto(t, p == PROTO_PROTOCOL_TCP ? PROTO_PROTOCOL_ICMP : PROTO_PROTOCOL_TCP);
		return 1;
	case 's':
		prompt_start(t, TUI_PROMPT_PSIZE);
		return 1;
	case 'b':
		prompt_start(t, TUI_PROMPT_BITS);
		return 1;
	case 'i':
		prompt_start(t, TUI_PROMPT_INTERVAL);
		return 1;
	case 'f':
		prompt_start(t, TUI_PROMPT_FIRST_TTL);
		return 1;
	case 'm':
		prompt_start(t, TUI_PROMPT_MAX_TTL);
		return 1;
	default:
		return 0;
	}
}

/* mtr lower-cases every key but Q (the TOS prompt), which it reads first. */
static int fold_key(int ch)
{
	return ch >= 'A' && ch <= 'Z' && ch != 'Q' ? ch - 'A' + 'a' : ch;
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
	ch = fold_key(ch);
	if (probe_key(t, ch))
		return;
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
	case TUI_KEY_PAUSE:
		if (!t->finished)
			pause_all(t, 1);
		break;
	case ' ':
	case TUI_KEY_RESUME:
		if (t->paused)
			pause_all(t, 0);
		break;
	case 'r':
		reset_all(t);
		break;
	case 'a':
		t->analysis = !t->analysis;
		pane_update(t);
		break;
	case 'd':
		t->mode = (enum tui_mode)((t->mode + 1) % TUI_MODE__COUNT);
		break;
	case 'j':
		snprintf(t->fields, sizeof(t->fields), "%s",
			 strchr(t->fields, 'N') ? TUI_FIELDS_JITTER : TUI_FIELDS_LATENCY);
		break;
	case 'o':
		prompt_start(t, TUI_PROMPT_FIELDS);
		break;
	case 'Q':
		prompt_start(t, TUI_PROMPT_TOS);
		break;
	case TUI_KEY_REDRAW:
		/* mtr's Ctrl-L: the whole screen again, whatever the terminal shows now. */
		clearok(curscr, TRUE);
		break;
	case 'e':
	case '+':
	case '-':
		view_key(t, ch);
		break;
	case 'y':
	case 'z':
		as_key(t, ch);
		break;
	case 'q':
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
		.round_done = on_round,
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
		v->pane_round = -1;
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
		m->psize = trace_config_psize(tc);
		m->bitpattern = trace_config_bitpattern(tc);
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
	t->mode = cfg->initial_mode < TUI_MODE__COUNT ? cfg->initial_mode : TUI_MODE_STATS;
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

	/* Stopped, not paused: the report after the view counts no probe still out as lost. */
	for (i = 0; i < t->cfg.ntraces; i++)
		trace_stop(t->views[i].trace);
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
	free(t->diag);
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
