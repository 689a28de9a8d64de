/*
 * monitor: hopwatch-monitor's state: the engine connection (reconnected with back-off when
 * it is lost), the resolver, the shared probe budget, one watch per configured target, the
 * JSON-lines output and the health counters behind /metrics. Owns all of them except the
 * event base and the output stream; never parses argv, never touches signals or systemd.
 */
#ifndef HOPWATCH_MONITOR_MONITOR_H
#define HOPWATCH_MONITOR_MONITOR_H

#include <stddef.h>
#include <stdio.h>

#include "monitor/config.h"

struct event_base;
struct evbuffer;
struct monitor;

/* Back-off between attempts to reach a lost engine: doubles from MIN up to MAX. */
#define MONITOR_RECONNECT_MIN_US 1000000
#define MONITOR_RECONNECT_MAX_US 60000000
/* Longest status line (sd_notify STATUS=). */
#define MONITOR_STATUS_MAX 256

struct monitor_opts {
	const char *engine;   /* overrides the configuration's; NULL = it, or the default search */
	const char *self_exe; /* for the default search of hopwatchd next to us; may be NULL */
	FILE *out;	      /* JSON lines (not owned) */
};

/* A monitor of cfg (copied), not yet started. 0 or -errno. */
int monitor_new(struct monitor **out, struct event_base *base, const struct monitor_config *cfg,
		const struct monitor_opts *opts);
struct monitor *monitor_free(struct monitor *m);

/* Connect to the engine (asynchronously) and start every watch once it answers. */
int monitor_start(struct monitor *m);
/*
 * A new configuration (SIGHUP): targets whose settings are unchanged keep their state and
 * counters, changed and new ones start afresh, removed ones go with their series; the
 * budget and the re-resolution period follow. 0 or -errno (the old state stays then).
 */
int monitor_reload(struct monitor *m, const struct monitor_config *cfg);
/* Where the lines go from now on (a log file reopened after rotation). */
void monitor_set_output(struct monitor *m, FILE *out);

/* The Prometheus exposition, whole (an http_render_fn). 0 or -ENOMEM. */
int monitor_render_metrics(void *m, struct evbuffer *out);
/*
 * The same in parts of about MONITOR_METRICS_PART_BYTES (http_stream_ops), so that a
 * scrape of thousands of targets never holds the whole text: the memory of a scrape
 * stays one part, whatever the number of targets. A reload during a scrape ends it.
 */
#define MONITOR_METRICS_PART_BYTES (512 * 1024)
int monitor_metrics_next(void *m, void **state, struct evbuffer *out);
void monitor_metrics_free(void *m, void *state);
/* One line for systemd's STATUS=: targets, engine state, probes. */
void monitor_status(const struct monitor *m, char *buf, size_t len);
/* Whether the engine is connected and checked. */
int monitor_engine_up(const struct monitor *m);
/* Bytes of all watches (for the scale benchmark). */
size_t monitor_bytes(const struct monitor *m);

#endif
