/*
 * tui_pane: the live view's findings pane ('a') as lines of text, from a diagnosis and
 * the table it was made of. Pure: no curses, no allocation, no clock, so it is tested
 * without a terminal; tui.c only puts the lines on the screen. It decides what fits in
 * the rows and columns it is given: the header and the conclusion always (when there
 * are rows for them), the most severe findings first when not all fit, one line each
 * instead of two when space is short.
 */
#ifndef HOPWATCH_CLIENT_TUI_PANE_H
#define HOPWATCH_CLIENT_TUI_PANE_H

#include <stddef.h>

#include "client/diagnose.h"
#include "client/stats.h"

/* Longest pane line kept (a wider terminal shows it whole, a narrower one cut). */
#define TUI_PANE_COLS_MAX 240
/* Most lines a pane has: header, two per finding, the "more" line, the conclusion. */
#define TUI_PANE_ROWS_MAX (3 + 2 * DIAGNOSE_MAX_FINDINGS)

enum tui_pane_style {
	TUI_PANE_PLAIN,
	TUI_PANE_HEADER, /* the pane's first line: reverse video sets it off the table */
	TUI_PANE_STRONG, /* a problem finding or conclusion: bold */
};

struct tui_pane_line {
	enum tui_pane_style style;
	char text[TUI_PANE_COLS_MAX + 1];
};

/* What the pane shows: the diagnosis (NULL when none could be made) and its context. */
struct tui_pane_input {
	const struct diagnose_result *diag; /* read only when need is 0; NULL: err says why */
	int err;			    /* -errno of the failed diagnosis, or 0 */
	int need;			    /* rounds still needed (tui_pane_rounds_needed) */
	int rounds;			    /* rounds done when the diagnosis was made */
};

/*
 * Rounds still needed before every hop the diagnosis reads (1..stats_last_hop, those
 * probed at all) has DIAGNOSE_MIN_PROBES probes finished (answered or timed out): 0
 * when they all have, DIAGNOSE_MIN_PROBES when nothing was sent. NULL gives
 * DIAGNOSE_MIN_PROBES.
 */
int tui_pane_rounds_needed(const struct stats_table *t);

/*
 * The pane's lines into out (room for rows lines), each cut to width columns (at most
 * TUI_PANE_COLS_MAX). Returns the lines written: at most rows, at most
 * TUI_PANE_ROWS_MAX, 0 when rows or width is 0.
 */
size_t tui_pane_lines(const struct tui_pane_input *in, size_t rows, size_t width,
		      struct tui_pane_line *out);

#endif
