/*
 * tui: hopwatch's live full-screen view (ncurses), mtr's curses display with mtr's keys.
 * Owns the terminal, the keyboard and, while it runs, the scheduler (it must restart it
 * for u/t). Renders the hop table through report_render() so the columns, -o order, names
 * and ECMP rows are the -r report's. Never blocks the event loop and never leaves the
 * terminal in raw mode: tui_free() (and an atexit fallback) always ends curses.
 */
#ifndef HOPWATCH_CLIENT_TUI_H
#define HOPWATCH_CLIENT_TUI_H

#include <stddef.h>

#include "client/engine_conn.h"
#include "client/report.h"
#include "client/sched.h"
#include "client/stats.h"

struct event_base;
struct tui;

/* Latest rounds kept per hop for the strip chart (mtr's SAVED_PINGS). */
#define TUI_HISTORY 200
/* Longest -o string the 'o' prompt takes (mtr's MAXFLD). */
#define TUI_FIELDS_MAX 20
/* Longest error line handed back. */
#define TUI_ERR_MAX 512

struct tui_config {
	struct event_base *base;
	struct engine_conn *conn;  /* probes go here; the scheduler takes its handlers */
	struct stats_table *table; /* shown, reset by 'r' and on a protocol switch */
	struct sched_config sched; /* count 0 = run until 'q' */
	struct engine_probe tmpl;  /* protocol switched by u/t */
	struct report_meta meta;   /* copied; fields and numeric change with o, j, n */
	int report_on_exit;	   /* end the view as soon as count rounds are done */
};

/*
 * Whether a live view can run here: stdin and stdout are terminals. Without one, the
 * caller prints a report instead.
 */
int tui_usable(void);

/*
 * Take over the terminal (curses, cbreak, no echo) and start the scheduler. Returns 0 or
 * -errno with err one line; on failure the terminal is as it was.
 */
int tui_new(struct tui **out, const struct tui_config *cfg, char *err, size_t errlen);

/*
 * Run the event loop until 'q', until the loop is broken from outside (a signal handler
 * calling event_base_loopbreak), until the engine fails, or (with report_on_exit and a
 * count) until the last round is done. Returns 0 or -errno with err one line.
 */
int tui_run(struct tui *t, char *err, size_t errlen);

/* Stop the scheduler, end curses and restore the terminal. Accepts NULL. */
struct tui *tui_free(struct tui *t);

#endif
