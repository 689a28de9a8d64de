/*
 * metrics: the monitor's Prometheus text exposition (format 0.0.4), rendered from a
 * read-only view of its state into a caller's evbuffer. Owns nothing and keeps no state:
 * the monitor builds the view, this module only writes it, following Prometheus naming
 * (base units: seconds and ratios; counters end in _total; HELP and TYPE for each family;
 * no timestamps). Cardinality is the caller's: labels are target and hop only, addresses
 * go into the hop_info family, capped by info_max series per scrape.
 */
#ifndef HOPWATCH_MONITOR_METRICS_H
#define HOPWATCH_MONITOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct evbuffer;

/* RTT histogram bucket upper bounds, seconds (the +Inf bucket is implied). */
#define METRICS_BUCKETS 12
extern const double metrics_bucket_le[METRICS_BUCKETS];
/* The bucket[] index of an RTT: the first i with rtt_s <= le[i], else METRICS_BUCKETS
 * (also for NaN). */
size_t metrics_bucket_of(double rtt_s);
/* Extra labels of a target (from its configuration), on its target_info series only. */
#define METRICS_LABELS_MAX 8
/* Default cap of hop_info series (addresses) in one exposition. */
#define METRICS_INFO_MAX 10000

struct metrics_label {
	const char *key;
	const char *value;
};

struct metrics_hop {
	int ttl;		 /* the "hop" label, 1..255 */
	uint64_t sent, received; /* counters since the target started */
	/* RTT histogram: answers per bucket, NOT cumulative ([i] = le[i-1] < rtt <= le[i]);
	 * [METRICS_BUCKETS] is above the last bound. The renderer accumulates. */
	uint64_t bucket[METRICS_BUCKETS + 1];
	double rtt_sum_s;	  /* sum of the RTTs counted in bucket[] */
	double window_loss_ratio; /* last finished window, 0..1; NaN: no window yet */
	double window_rtt_avg_s;  /* last finished window; NaN: no answer in it */
	struct addr addr;	  /* latest responder, family 0 = none: no hop_info series */
};

struct metrics_finding {
	int hop;	      /* first hop the finding is about, 0 = the path as a whole */
	const char *kind;     /* diagnose_kind_id() */
	const char *severity; /* diagnose_severity_id() */
};

struct metrics_target {
	const char *name;
	const struct metrics_label *labels;
	size_t nlabels;
	const struct metrics_hop *hops;
	size_t nhops;
	double path_id;	       /* a hash of the current path, exact in a double (< 2^53) */
	uint64_t path_changes; /* counter */
	int reachable;	       /* the destination answered in the last window */
	uint64_t windows;      /* counter: windows finished */
	const struct metrics_finding *findings; /* of the last window's diagnosis */
	size_t nfindings;
};

struct metrics_health {
	uint64_t probes_sent;	    /* counter */
	uint64_t probes_answered;   /* counter: any answer, including no-reply */
	uint64_t send_errors;	    /* counter */
	uint64_t probes_exhausted;  /* counter: quota refusals (probes-exhausted) */
	uint64_t engine_reconnects; /* counter */
	int engine_up;		    /* gauge 0/1 */
	double scheduling_lag_s;    /* gauge: how far the probe schedule runs behind */
	double budget_pps;	    /* gauge: the configured probes-per-second budget */
	uint64_t config_reloads;    /* counter */
	double start_time_s;	    /* gauge: process start, seconds since the Unix epoch */
};

/*
 * Write the whole exposition: every family with HELP and TYPE, targets in the order given.
 * Label values are escaped (backslash, double quote, newline). hop_info series stop after
 * info_max (0 = METRICS_INFO_MAX); a hopwatch_hop_info_dropped gauge says how many were
 * left out. A config label whose key is not a label name, is reserved ("__..."), is
 * "target" or repeats an earlier key is left out. Without health (NULL) the monitor
 * families have HELP and TYPE but no series. Appended to out only whole: on failure out
 * is as it was. Returns 0 or -ENOMEM.
 */
int metrics_render(struct evbuffer *out, const struct metrics_target *targets, size_t n,
		   const struct metrics_health *health, size_t info_max);

/*
 * The exposition in parts, for one too large to hold at once: each call writes about
 * max_bytes (whole targets at a time, METRICS_PART_TARGETS per step) from where the cursor
 * stands and moves it on. view fills target i's view (called afresh in each part, so the
 * pointers it gives need only last the call). Returns 1 while more parts follow, 0 once
 * the exposition is complete, or -ENOMEM (out is then as it was).
 */
#define METRICS_PART_TARGETS 64
struct metrics_cursor {
	size_t family;	       /* the family being written */
	size_t target;	       /* its next target */
	size_t info_written;   /* hop_info series so far */
	uint64_t info_dropped; /* and those the cap left out */
};
typedef void (*metrics_view_fn)(void *ctx, size_t i, struct metrics_target *out);
void metrics_cursor_init(struct metrics_cursor *c);
int metrics_render_part(struct evbuffer *out, struct metrics_cursor *c, size_t n,
			metrics_view_fn view, void *ctx, const struct metrics_health *health,
			size_t info_max, size_t max_bytes);

/* Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
