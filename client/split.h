/*
 * split: mtr's -p (split output) for one target: each hop's line, printed again whenever
 * it changes, as the trace runs. Owns the trace it prints and the lines last printed;
 * reads mtr's keys (q quits, r resets) from stdin when it is a terminal, which it puts in
 * non-canonical mode for that and gives back as it was (split_stop, split_free). Never
 * resolves names itself (they come from the meta).
 */
#ifndef HOPWATCH_CLIENT_SPLIT_H
#define HOPWATCH_CLIENT_SPLIT_H

#include <stddef.h>
#include <stdio.h>

#include "client/engine_conn.h"
#include "client/report.h"
#include "client/stats.h"
#include "client/trace.h"

struct event_base;
struct split;

/* Longest line kept per hop (mtr's MAX_LINE_SIZE). */
#define SPLIT_LINE_MAX 1024
/* Longest error line handed back. */
#define SPLIT_ERR_MAX 256

/* The run ended: every round done, q, or a failure (err -errno, msg one line). */
typedef void (*split_done_fn)(void *ctx, int err, const char *msg);

struct split_config {
	struct event_base *base;
	struct engine_conn *conn;
	const struct trace_config *trace; /* copied */
	struct report_meta meta;	  /* names (numeric, show_ips, name); copied */
	FILE *out;
	int keys; /* read q and r from stdin (a terminal) */
	split_done_fn done;
	void *ctx;
};

/*
 * One hop's line as mtr 0.95 prints it after the TTL: "NAME LOSS RCV SNT BEST AVG WRST",
 * loss in thousandths of a percent of the probes done, times in whole ms (truncated), NAME
 * "name address" with -b; "???" for a hop nobody answered. Pure.
 */
void split_line(const struct stats_table *t, int ttl, const struct report_meta *m, char *out,
		size_t len);

/* A split run, not started. 0 or -errno. */
int split_new(struct split **out, const struct split_config *cfg);
/* Start probing. 0 or -errno (done is not called then). */
int split_start(struct split *s);
/* Stop (Ctrl-C): done follows from the event loop. */
void split_stop(struct split *s);
/* Accepts NULL. */
struct split *split_free(struct split *s);

#endif
