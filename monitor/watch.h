/*
 * watch: one monitored target of hopwatch-monitor: its configuration, its address (looked
 * up again on a schedule), the trace that probes it without end, the current window, the
 * path it follows and the counters its metrics show. Owns its trace, its lookups and its
 * timers; never owns the engine connection, the resolver or the output. It tells its owner
 * through callbacks: a JSON line to write, a trace that ended.
 */
#ifndef HOPWATCH_MONITOR_WATCH_H
#define HOPWATCH_MONITOR_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "client/dns.h"
#include "client/engine_conn.h"
#include "client/pacer.h"
#include "client/trace.h"
#include "monitor/config.h"
#include "monitor/metrics.h"

struct event_base;
struct json_object;
struct watch;

/* Rounds in a row a new path must be seen before it counts as a change. */
#define WATCH_PATH_DEBOUNCE 3
/* Windows without a probe to a hop before its series go. */
#define WATCH_HOP_GONE_WINDOWS 3
/* Findings kept from the last window, for the metrics. */
#define WATCH_FINDINGS_MAX 16

struct watch_env {
	struct event_base *base;
	struct dns *dns;	/* forward lookups */
	struct pacer *pacer;	/* the shared budget */
	int64_t start_delay_us; /* its phase: targets started together are spread out */
};

struct watch_hooks {
	/* One JSON line (an object) to write; the hook takes no ownership. */
	void (*line)(void *ctx, struct watch *w, struct json_object *line);
	/* The trace ended (engine lost, or refused its probes): err, one-line msg. */
	void (*ended)(void *ctx, struct watch *w, int err, const char *msg);
	void *ctx;
};

/* A watch of cfg (copied), not yet probing: it starts once its address is known. */
/*
 * The head every JSON line of the monitor starts with: {"type": type, "time": now in
 * UTC}. A target's lines add "target". NULL when out of memory.
 */
struct json_object *watch_line_head(const char *type);

int watch_new(struct watch **out, const struct watch_env *env,
	      const struct monitor_target_config *cfg, const struct watch_hooks *hooks);
struct watch *watch_free(struct watch *w);

/*
 * Probe over conn (the engine, checked and with the flow-id extension when the target uses
 * it). Resolves the host first when needed; then traces without end. 0 or -errno.
 */
int watch_start(struct watch *w, struct engine_conn *conn);
/*
 * The engine is gone: the trace is dropped, the window in progress is written as
 * interrupted (what was measured is real; nothing is made up for the gap), and the watch
 * waits for watch_start() with a new connection.
 */
void watch_detach(struct watch *w);
/* Re-resolve now (the schedule does it by itself every resolve_every_us). */
void watch_resolve(struct watch *w, int64_t resolve_every_us);

const struct monitor_target_config *watch_config(const struct watch *w);
/* The view the metrics render: valid until the watch next runs. */
void watch_metrics(struct watch *w, struct metrics_target *out);
/* Probes sent, answered (no-reply included) and refused (probes-exhausted), ever. */
struct watch_counts {
	uint64_t sent, answered, exhausted;
};
void watch_counts(const struct watch *w, struct watch_counts *out);
/* Bytes the watch holds (state, hops, trace). */
size_t watch_bytes(const struct watch *w);

#endif
