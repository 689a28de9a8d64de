/*
 * tui: hopwatch's live full-screen view (ncurses), mtr's curses display with mtr's keys.
 * Owns the terminal, the keyboard and the traces it shows (it changes their probes for
 * u/t and the prompts, resets them for r), one target shown at a time with a line on the
 * others. Renders the hop table through report_render() so the columns, -o order, names
 * and ECMP rows are the -r report's. Never blocks the event loop, keeps no state outside
 * struct tui, and never leaves the terminal in raw mode: tui_free() ends curses,
 * tui_restore_terminal() too.
 */
#ifndef HOPWATCH_CLIENT_TUI_H
#define HOPWATCH_CLIENT_TUI_H

#include <stddef.h>

#include "client/engine_conn.h"
#include "client/report.h"
#include "client/stats.h"
#include "client/trace.h"

struct event_base;
struct tui;

/* Latest rounds kept per hop for the blockmaps (mtr's SAVED_PINGS). */
#define TUI_HISTORY 200
/* Longest -o string the 'o' prompt takes (mtr's MAXFLD). */
#define TUI_FIELDS_MAX 20
/* Longest error line handed back. */
#define TUI_ERR_MAX 512

/* What the hop table shows, cycled by 'd' in this order; mtr's --displaymode 0, 1, 2. */
enum tui_mode {
	TUI_MODE_STATS,
	TUI_MODE_BLOCKMAP, /* a character per probe: '.' or '>' (slow), '?' unanswered */
	TUI_MODE_SCALED,   /* the same, the RTT on mtr's 8-step scale (".123abc>") */
	TUI_MODE__COUNT,
};

/* The view ended: 'q', the terminal hung up, the last round (report_on_exit), a failure. */
typedef void (*tui_done_fn)(void *ctx, int err, const char *msg);

struct tui_config {
	struct event_base *base;
	struct engine_conn *conn;	   /* the traces' probes go here */
	const struct trace_config *traces; /* copied: one trace each, in this order */
	size_t ntraces;
	struct report_meta meta; /* copied; fields and numeric change with o, j, n; target,
				  * target_addr and start are set per trace */
	int have_proto[PROTO_PROTOCOL__COUNT]; /* what u/t may switch to (asked beforehand) */
	int report_on_exit;		       /* end the view as soon as count rounds are done */
	enum tui_mode initial_mode;	       /* --displaymode */
	tui_done_fn done;
	void *ctx;
};

/*
 * Whether a live view can run here: stdin and stdout are terminals. Without one, the
 * caller prints a report instead.
 */
int tui_usable(void);

/*
 * Give the terminal back if curses still owns it: the program registers this with
 * atexit() before tui_new(), so an exit() from anywhere (a fatal error) restores the
 * terminal too. Keeps no state (it asks curses); safe with no view, once it is over, and
 * any number of times.
 */
void tui_restore_terminal(void);

/*
 * Take over the terminal (curses, cbreak, no echo), make the traces and start them. The
 * caller runs the event loop; done tells when the view is over. Returns 0 or -errno with
 * err one line; on failure the terminal is as it was.
 */
int tui_new(struct tui **out, const struct tui_config *cfg, char *err, size_t errlen);

/* The traces, for the report printed after the view (--report-on-exit). */
size_t tui_ntraces(const struct tui *t);
struct trace *tui_trace(struct tui *t, size_t i);
/* What the view showed of trace i: its report meta (names on or off as last shown). */
const struct report_meta *tui_meta(const struct tui *t, size_t i);

/* Stop the traces and give the terminal back, keeping the traces for a report. 0. */
int tui_end(struct tui *t);

/* Stop the traces, end curses and restore the terminal. Accepts NULL. */
struct tui *tui_free(struct tui *t);

#endif
