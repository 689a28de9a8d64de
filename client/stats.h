/*
 * stats: per-hop and per-responder statistics of a trace, computed as mtr does.
 * Owns the hop table (one row per TTL, up to STATS_MAX_RESPONDERS responders per row for
 * ECMP) and the running accumulators. Pure bookkeeping: no I/O, no clock, no names;
 * the scheduler feeds it, renderers read it.
 */
#ifndef HOPWATCH_CLIENT_STATS_H
#define HOPWATCH_CLIENT_STATS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* TTLs 1..255, as mtr's MaxHost. */
#define STATS_MAX_HOPS 256
/* Responders remembered per hop (mtr keeps MAXPATH = 8). */
#define STATS_MAX_RESPONDERS 8
/* RTT samples kept per hop and per responder for percentiles (the latest ones). */
#define STATS_SAMPLES_MAX 1024
/* MPLS labels remembered per responder. */
#define STATS_MPLS_MAX 8

struct stats_addr {
	int family; /* AF_INET, AF_INET6, 0 = none */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

struct stats_mpls {
	uint32_t label;
	uint8_t exp, bos, ttl;
};

/*
 * Running numbers for one hop or one responder; all times in microseconds. A responder's
 * accumulator counts only the answers it gave: its sent is the answers attributed to it
 * (== received), so its Loss% is 0 by definition: a lost probe has no responder.
 */
struct stats_acc {
	uint32_t sent;	   /* probes sent (Snt) */
	uint32_t received; /* answered (Rcv) */
	uint32_t inflight; /* sent, not yet answered or timed out: not counted as lost */
	int64_t last, best, worst;
	double mean, m2; /* Welford, truncated to whole us at each step as mtr */
	int64_t gmean;	 /* running geometric mean, whole microseconds as mtr */
	int64_t jitter;	 /* |last - previous| (Jttr) */
	double javg;	 /* mean jitter (Javg) */
	int64_t jmax;	 /* (Jmax) */
	int64_t jinta;	 /* mtr's RFC 1889 A.8 integer estimator, 16x scaled (Jint) */
	int has_prev;
	int64_t samples[STATS_SAMPLES_MAX]; /* ring of the latest RTTs */
	uint32_t nsamples, sample_pos;
};

struct stats_summary {
	uint32_t sent, received, dropped; /* dropped = answered-or-timed-out minus received */
	double loss_pct;		  /* dropped / (sent - inflight), 0 when nothing done */
	double last, avg, best, worst, stdev, gmean; /* milliseconds, as mtr prints them */
	double jitter, javg, jmax, jinta;	     /* milliseconds */
	double p50, p90, p99;			     /* milliseconds, over the kept samples */
};

struct stats_responder {
	struct stats_addr addr;
	struct stats_acc acc;
	size_t nmpls;
	struct stats_mpls mpls[STATS_MPLS_MAX];
};

struct stats_hop {
	int ttl;
	struct stats_acc acc; /* the hop as a whole, all responders */
	size_t nresponders;
	struct stats_responder responders[STATS_MAX_RESPONDERS];
	int is_destination;	     /* a reply (not ttl-expired) came from this TTL */
	int unreachable;	     /* last answer was a no-route */
	struct stats_addr last_addr; /* who answered last: mtr's row name for the hop */
	uint32_t overflow;	     /* answers from responders beyond STATS_MAX_RESPONDERS */
};

struct stats_table {
	struct stats_hop hops[STATS_MAX_HOPS]; /* index = ttl - 1 */
	int max_ttl_seen;		       /* highest TTL with any probe sent */
	int dest_ttl; /* lowest TTL where the destination answered, 0 = not yet */
};

enum stats_outcome {
	STATS_REPLY,	   /* destination answered */
	STATS_TTL_EXPIRED, /* a router answered */
	STATS_UNREACHABLE, /* no-route etc. from a responder */
	STATS_LOST,	   /* no-reply (timeout) */
};

int stats_table_new(struct stats_table **out);
struct stats_table *stats_table_free(struct stats_table *t);
void stats_table_reset(struct stats_table *t);

/* A probe with this TTL was sent (1 <= ttl < STATS_MAX_HOPS). */
int stats_sent(struct stats_table *t, int ttl);
/* A probe counted by stats_sent() never left (probes-exhausted): it counts for nothing. */
void stats_unsent(struct stats_table *t, int ttl);
/* Bytes of memory the table holds. */
size_t stats_table_bytes(const struct stats_table *t);
/* The hop of this TTL, or NULL outside the table. */
const struct stats_hop *stats_table_hop(const struct stats_table *t, int ttl);

/*
 * Its answer: outcome, responder (NULL for STATS_LOST), RTT in microseconds, MPLS
 * labels. Moves the probe from in flight to done. An answer for a TTL with nothing in
 * flight is ignored (a duplicate or a probe sent before a reset).
 */
void stats_answer(struct stats_table *t, int ttl, enum stats_outcome outcome,
		  const struct stats_addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls);

/*
 * The hops to show (mtr's net_max): 1..dest_ttl when the destination answered; else up to
 * the first hop whose last answer was a no-route; else one past the deepest hop with any
 * answer, at most max_ttl_seen. 0 when nothing was sent.
 */
int stats_last_hop(const struct stats_table *t);

/*
 * Summary in mtr's units: RTTs in whole microseconds (truncated, as mtr keeps them) shown
 * as milliseconds. Percentiles are nearest-rank over the kept samples: the smallest sample
 * with at least p% of the samples <= it (rank ceil(p/100 * n)); 0 with no samples.
 * Javg is mtr's: the mean of the jitters of all answers, the first counting as 0.
 */
void stats_summarize(const struct stats_acc *a, struct stats_summary *out);

int stats_addr_equal(const struct stats_addr *a, const struct stats_addr *b);
/* inet_ntop into buf; "???" for no address. */
const char *stats_addr_str(const struct stats_addr *a, char *buf, size_t len);

#endif
