/*
 * stats: per-hop and per-responder statistics of a trace, computed as mtr does.
 * Owns the hop table (one row per TTL seen, up to STATS_MAX_RESPONDERS responders per row
 * for ECMP), the running accumulators and each hop's ring of its latest probe outcomes.
 * Memory grows with the hops and responders actually seen. Pure bookkeeping: no I/O, no
 * clock, no names; the scheduler feeds it, renderers read it.
 */
#ifndef HOPWATCH_CLIENT_STATS_H
#define HOPWATCH_CLIENT_STATS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/* TTLs 1..255, as mtr's MaxHost. */
#define STATS_MAX_HOPS 256
/* Responders remembered per hop (mtr keeps MAXPATH = 8). */
#define STATS_MAX_RESPONDERS 8
/* Probe outcomes kept per hop (the latest), for percentiles and the windowed figures. */
#define STATS_WINDOW_MAX 64
/* MPLS labels remembered per responder. */
#define STATS_MPLS_MAX 8

/*
 * A ring entry packs one probe outcome in 32 bits: the RTT in microseconds (bits 0..26),
 * the responder's index in the hop (bits 27..30; STATS_RING_NO_RESPONDER for a lost probe
 * or an answer from a responder past STATS_MAX_RESPONDERS) and a lost flag (bit 31).
 * 27 bits hold 134 s, well above the protocol's 60 s longest timeout; every RTT the table
 * takes is clamped to STATS_RTT_MAX, so its accumulators fit 32-bit fields as well.
 */
#define STATS_RING_RTT_BITS	27
#define STATS_RTT_MAX		((INT32_C(1) << STATS_RING_RTT_BITS) - 1)
#define STATS_RING_RESP_SHIFT	STATS_RING_RTT_BITS
#define STATS_RING_RESP_MASK	UINT32_C(0xf)
#define STATS_RING_NO_RESPONDER UINT32_C(0xf)
#define STATS_RING_LOST		(UINT32_C(1) << 31)

struct stats_mpls {
	uint32_t label;
	uint8_t exp, bos, ttl;
};

/*
 * Running numbers for one hop or one responder; all times in microseconds, each at most
 * STATS_RTT_MAX. A responder's accumulator counts only the answers it gave: its sent is
 * the answers attributed to it (== received), so its Loss% is 0 by definition: a lost
 * probe has no responder.
 */
struct stats_acc {
	uint32_t sent;	   /* probes sent (Snt) */
	uint32_t received; /* answered (Rcv) */
	uint32_t inflight; /* sent, not yet answered or timed out: not counted as lost */
	int32_t last, best, worst;
	int32_t mean;	/* Welford mean, truncated to whole us at each step as mtr */
	int32_t gmean;	/* running geometric mean, whole microseconds as mtr */
	int32_t jitter; /* |last - previous| (Jttr) */
	int32_t javg;	/* mean jitter, whole microseconds as mtr (Javg) */
	int32_t jmax;	/* (Jmax) */
	/* mtr's RFC 1889 A.8 integer estimator, 16x scaled (Jint): < 16 * STATS_RTT_MAX + 16 */
	uint32_t jinta;
	double m2; /* Welford sum of squares, truncated to whole us^2 at each step */
};

struct stats_summary {
	uint32_t sent, received, dropped; /* dropped = answered-or-timed-out minus received */
	double loss_pct; /* dropped / done (sent - inflight, + a hop's late), 0 if none done */
	double last, avg, best, worst, stdev, gmean; /* milliseconds, as mtr prints them */
	double jitter, javg, jmax, jinta;	     /* milliseconds */
	double p50, p90, p99; /* milliseconds, over the hop's ring (see stats_hop_summarize) */
};

/* Figures over the latest outcomes of a hop (stats_hop_window); milliseconds. */
struct stats_window_summary {
	uint32_t sent;			/* outcomes looked at (one per round) */
	uint32_t received;		/* answers among them */
	double loss_pct;		/* thousandths of a percent, truncated, as Loss% */
	double best, worst, avg, stdev; /* exact over the answers; stdev n - 1, 0 for n < 2 */
	double p50, p90, p99;		/* nearest rank over the answers */
};

struct stats_responder {
	struct addr addr;
	uint32_t nmpls; /* labels of its latest answer that had some */
	struct stats_acc acc;
	struct stats_mpls *mpls; /* nmpls entries, NULL when none */
};

/*
 * One TTL. The ring holds the hop's latest STATS_WINDOW_MAX outcomes (answers and
 * losses) in completion order, ring_len of them, the next one going to ring_pos.
 */
struct stats_hop {
	struct stats_acc acc;		    /* the hop as a whole, all responders */
	struct stats_responder *responders; /* nresponders used, cap_responders allocated */
	struct addr last_addr;		    /* who answered last: mtr's row name for the hop */
	uint32_t overflow;		    /* answers not kept with a responder: past
						* STATS_MAX_RESPONDERS (or out of memory) */
	uint8_t ttl;
	uint8_t nresponders, cap_responders;
	uint8_t is_destination; /* a reply (not ttl-expired) came from this TTL */
	uint8_t unreachable;	/* last answer was a no-route */
	uint8_t ring_len, ring_pos;
	uint32_t late; /* of acc.inflight, presumed lost for now (stats_set_late) */
	uint32_t ring[STATS_WINDOW_MAX];
};

/*
 * hops[i] is TTL i + 1, valid for i < nhops only: stats_sent grows the array to the TTL
 * it is given, which may move it (a hop pointer lasts until the next stats_sent or reset).
 */
struct stats_table {
	struct stats_hop *hops;
	int nhops;
	int max_ttl_seen; /* highest TTL with any probe sent */
	int dest_ttl;	  /* lowest TTL where the destination answered, 0 = not yet */
};

enum stats_outcome {
	STATS_REPLY,	   /* destination answered */
	STATS_TTL_EXPIRED, /* a router answered */
	STATS_UNREACHABLE, /* no-route etc. from a responder */
	STATS_LOST,	   /* no-reply (timeout) */
};

int stats_table_new(struct stats_table **out);
struct stats_table *stats_table_free(struct stats_table *t);
/* Back to a new table's state; the hops' memory is given back. */
void stats_table_reset(struct stats_table *t);
/* Bytes of heap the table owns: itself, its hops, their responders and labels. */
size_t stats_table_bytes(const struct stats_table *t);
/* TTL ttl's hop, NULL when ttl is outside 1..nhops. */
const struct stats_hop *stats_table_hop(const struct stats_table *t, int ttl);

/*
 * A probe with this TTL was sent (1 <= ttl < STATS_MAX_HOPS). 0, -EINVAL for a TTL out
 * of range, -ENOMEM when the hop could not be added; on error nothing changes.
 */
int stats_sent(struct stats_table *t, int ttl);
/*
 * A probe counted by stats_sent that never left (the engine had no probe to give): its
 * sent and in flight are taken back, so it is never counted as a loss.
 */
void stats_unsent(struct stats_table *t, int ttl);

/*
 * Its answer: outcome, responder (NULL for STATS_LOST), RTT in microseconds (clamped to
 * 0..STATS_RTT_MAX), MPLS labels. Moves the probe from in flight to done. An answer for a
 * TTL with nothing in flight is ignored (a duplicate or a probe sent before a reset).
 */
void stats_answer(struct stats_table *t, int ttl, enum stats_outcome outcome,
		  const struct addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls);

/*
 * n of the hop's probes in flight are presumed lost for now (clamped to those in flight):
 * a later probe was answered, or they are late. stats_hop_summarize counts them as done
 * and dropped, as a live view wants; the scheduler sets the count back as they are
 * answered and to 0 when the run ends, so the final figures never include them. A TTL
 * without a hop is ignored.
 */
void stats_set_late(struct stats_table *t, int ttl, uint32_t n);

/*
 * The hops to show (mtr's net_max): 1..dest_ttl when the destination answered; else up to
 * the first hop whose last answer was a no-route; else one past the deepest hop with any
 * answer, at most max_ttl_seen. 0 when nothing was sent.
 */
int stats_last_hop(const struct stats_table *t);

/*
 * Summary in mtr's units: RTTs in whole microseconds (truncated, as mtr keeps them) shown
 * as milliseconds. Javg is mtr's: the mean of the jitters of all answers, the first
 * counting as 0. Everything but the percentiles is over the whole run.
 *
 * Percentiles are nearest rank (the smallest RTT with at least p% of them <= it, rank
 * ceil(p/100 * n); 0 with none) and bounded: exact over the latest STATS_WINDOW_MAX probe
 * outcomes of the hop (for a responder: its answers among them), not over the whole run.
 * Below STATS_WINDOW_MAX probes done they are over every answer. The hop's late probes
 * (stats_set_late) count as done and dropped.
 */
void stats_hop_summarize(const struct stats_hop *h, struct stats_summary *out);
/* The same for the hop's responder idx (all zero for an idx past nresponders). */
void stats_responder_summarize(const struct stats_hop *h, size_t idx, struct stats_summary *out);
/* An accumulator alone: no ring, so p50, p90 and p99 are 0. */
void stats_summarize(const struct stats_acc *a, struct stats_summary *out);

/*
 * The RTTs (us) of the answers in the hop's ring, oldest first, at most cap of them
 * (STATS_WINDOW_MAX is always enough). Returns how many were written.
 */
size_t stats_hop_rtts(const struct stats_hop *h, int64_t *out, size_t cap);

/*
 * Figures over the hop's last min(nrounds, STATS_WINDOW_MAX, outcomes kept) outcomes:
 * one probe per hop per round, so the last nrounds rounds. 0, or -EINVAL for nrounds < 1.
 */
int stats_hop_window(const struct stats_hop *h, int nrounds, struct stats_window_summary *out);

#endif
