/*
 * batch: the CLI's traces of one command line: every target traced concurrently, at most
 * max_concurrent at a time, each report (with its diagnosis) printed in input order and
 * exactly as a run of that target alone prints it. Owns the traces, their -l logs and the
 * output held back for targets that finished before an earlier one; never owns the event
 * base, the engine connection, the resolver or the output file.
 */
#ifndef HOPWATCH_CLIENT_BATCH_H
#define HOPWATCH_CLIENT_BATCH_H

#include <stddef.h>
#include <stdio.h>

#include "client/asn.h"
#include "client/dns.h"
#include "client/engine_conn.h"
#include "client/report.h"
#include "client/trace.h"

struct event_base;
struct batch;

/* All reports are out (or the batch was stopped and what there was is out). */
typedef void (*batch_done_fn)(void *ctx, int err);

struct batch_config {
	struct event_base *base;
	struct engine_conn *conn;
	struct dns *dns;		   /* NULL with -n */
	struct asn *asn;		   /* AS data for -z/-y, else NULL */
	const struct trace_config *traces; /* copied */
	size_t ntraces;
	size_t max_concurrent; /* >= 1 */
	enum report_format format;
	int wait_names;		 /* -r and friends: a report waits (bounded) for names, AS data */
	struct report_meta meta; /* shared fields; target, addresses, start set per trace */
	FILE *out;
	batch_done_fn done;
	void *ctx;
};

/* Make the batch; nothing is sent before batch_start(). 0 or -errno. */
int batch_new(struct batch **out, const struct batch_config *cfg);
struct batch *batch_free(struct batch *b);

/* Start the first max_concurrent traces. 0 or -errno (nothing started then). */
int batch_start(struct batch *b);
/*
 * Interrupted (Ctrl-C): the running traces stop and print what they have, as mtr's report
 * does; traces not started yet are skipped. done follows from the loop.
 */
void batch_stop(struct batch *b);

/* Traces now running, and the most that ever ran at once (for tests and benchmarks). */
size_t batch_running(const struct batch *b);
size_t batch_peak_running(const struct batch *b);

#endif
