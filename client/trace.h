/*
 * trace: one target traced: its configuration, statistics (per flow too, with --flows),
 * scheduler and diagnosis, all its own; any number of traces share one event base, one
 * engine connection and one resolver, none of which it owns. Never renders and never
 * touches a terminal or a file: its owner hears of rounds, hop changes and the end
 * through callbacks.
 */
#ifndef HOPWATCH_CLIENT_TRACE_H
#define HOPWATCH_CLIENT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "client/diagnose.h"
#include "client/engine_conn.h"
#include "client/flows.h"
#include "client/options.h"
#include "client/sched.h"
#include "client/stats.h"

struct event_base;
struct trace;

/* Longest target name kept (as the user wrote it). */
#define TRACE_NAME_MAX OPTIONS_HOST_MAX
/* Longest error line handed back. */
#define TRACE_ERR_MAX 256
/* Smallest probe, as mtr's MINPACKET: a random -s never goes below it. */
#define TRACE_PSIZE_MIN 28

struct trace_config {
	char name[TRACE_NAME_MAX + 1]; /* the target as given, for reports */
	struct addr dst;
	struct sched_config sched;
	struct engine_probe tmpl; /* dst is set from dst */
	int analyze;		  /* trace_diagnosis() is wanted */
	int no_stats; /* the owner keeps statistics from the hooks: no table (trace_table NULL) */
};

/* Callbacks; any may be NULL. t is the trace that calls. */
struct trace_hooks {
	void (*round_done)(void *ctx, struct trace *t, int round);
	void (*hop_changed)(void *ctx, struct trace *t, int ttl);
	/*
	 * The trace ended: err 0 (every round done, or stopped) or -errno with msg one line.
	 * Always called from the event loop, so the owner may free the trace here.
	 */
	void (*finished)(void *ctx, struct trace *t, int err, const char *msg);
	/* Each probe as it goes and as it is answered (mtr's -l lines). */
	void (*sent)(void *ctx, struct trace *t, int ttl, int round, uint32_t seq);
	void (*answer)(void *ctx, struct trace *t, int ttl, int round, uint32_t seq,
		       enum stats_outcome outcome, const struct addr *from, int64_t rtt_us);
	/* The engine had no room for that probe: it never left (not sent, not lost). */
	void (*exhausted)(void *ctx, struct trace *t, int ttl, int round);
	void *ctx;
};

/*
 * The one mapping from the command line to a trace: name and dst as resolved, every probe
 * and scheduling option from o. A negative -s draws a random size for each round, from
 * TRACE_PSIZE_MIN to |s|, and -B above 255 a random pattern for each round, as mtr does.
 * 0 or -EINVAL.
 */
int trace_config_from_options(struct trace_config *cfg, const struct options *o, const char *name,
			      const struct addr *dst);
/*
 * The probe size and bit pattern as mtr's JSON, CSV and XML print them: the size, or -|s|
 * for a random one; the pattern, or -1 for a random one.
 */
int trace_config_psize(const struct trace_config *cfg);
int trace_config_bitpattern(const struct trace_config *cfg);

/*
 * Resolve a host name or address (family 4, 6 or 0 = either) to the first usable address.
 * Blocking (getaddrinfo). 0, or -ENOENT with err one line naming the host (escaped).
 */
int trace_resolve(const char *host, int family, struct addr *out, char *err, size_t errlen);

/* A trace, not started. cfg and hooks are copied. 0 or -errno. */
int trace_new(struct trace **out, struct event_base *base, struct engine_conn *conn,
	      const struct trace_config *cfg, const struct trace_hooks *hooks);
/* Stop it (if running) and free everything it owns. Accepts NULL. */
struct trace *trace_free(struct trace *t);

/*
 * Start probing now. 0 (a failure of the first probes then comes through finished), or
 * -errno when nothing was started (finished is not called).
 */
int trace_start(struct trace *t);
/*
 * Stop sending, as an interrupted mtr report does: finished (err 0) follows from the
 * event loop with the table as it stands. Safe to call twice or after the end.
 */
void trace_stop(struct trace *t);
/* Pause or resume new rounds (the live view's 'p'). */
void trace_pause(struct trace *t, int paused);
/*
 * Go on with another probe template and scheduling (the live view's s, b, Q, i, f, m, u,
 * t): statistics kept, as mtr keeps them; the next probe and round follow. tmpl.dst is
 * the trace's. 0 or -EINVAL (then nothing changes).
 */
int trace_set(struct trace *t, const struct sched_config *sched, const struct engine_probe *tmpl);

const struct trace_config *trace_config(const struct trace *t);
/* The statistics, or NULL with cfg.no_stats. */
struct stats_table *trace_table(struct trace *t);
/* The per-flow tables of a --flows trace (cfg.sched.nflows > 0), else NULL. */
const struct flows *trace_flows(const struct trace *t);
/* Whether it ended, and how: 0, or -errno with trace_error() one line. */
int trace_finished(const struct trace *t);
int trace_status(const struct trace *t);
const char *trace_error(const struct trace *t);
int trace_rounds(const struct trace *t);
uint32_t trace_exhausted(const struct trace *t);

/*
 * The diagnosis of the table as it stands, computed now into storage the trace owns
 * (valid until the next call or trace_free). NULL when cfg.analyze is off or on failure.
 */
const struct diagnose_result *trace_diagnosis(struct trace *t);
/*
 * The same diagnosis into out (caller-owned), whether or not cfg.analyze is on: the live
 * view's findings pane. 0, -ENODATA without a table (cfg.no_stats) or diagnose_run's error.
 */
int trace_diagnose(struct trace *t, struct diagnose_result *out);
/*
 * What the diagnosis reads besides the table: the confirmation's outcome (copied; NULL
 * forgets it; 0 or -ENOMEM) and where AS data of hop addresses comes from (fn NULL:
 * none). Both are kept until trace_free.
 */
int trace_set_confirm(struct trace *t, const struct diagnose_confirm *c);
void trace_set_as(struct trace *t, diagnose_as_fn fn, void *ctx);

/* Bytes the trace holds now: itself, its statistics, its scheduler. */
size_t trace_bytes(const struct trace *t);

#endif
