/*
 * sched: rounds of probes over TTL first..max, with mtr's -c, -i, -f, -m, -U, -Z and -G.
 * Owns timing, the probes in flight and which flow id a round carries (--flows); feeds
 * every send and every answer into the stats table (and the flow's table). Never renders
 * and never resolves names. A run is over as soon as every probe of the last round is
 * answered or timed out; -G only bounds how long that may take. While it runs, probes
 * out that a later answer or their age shows lost count so in the table's live figures
 * (stats_set_late), until answered; never after the run.
 */
#ifndef HOPWATCH_CLIENT_SCHED_H
#define HOPWATCH_CLIENT_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "client/engine_conn.h"
#include "client/flows.h"
#include "client/pacer.h"
#include "client/stats.h"

struct event_base;
struct sched;

/*
 * Probes remembered in flight, at most: the table starts at SCHED_SLOTS_MIN and doubles
 * when a new probe would land on one still out; at SCHED_SLOTS the older one is counted
 * lost, as it is that many probes old.
 */
#define SCHED_SLOTS	16384
#define SCHED_SLOTS_MIN 64
/* Longest pause between two probes of one round. */
#define SCHED_GAP_MAX_US 25000
/*
 * A probe that wakes this much after its pacer slot books a new one (once): above the
 * event loop's timer granularity (1 ms with epoll) and the usual lateness under load.
 */
#define SCHED_PACER_LATE_US 5000
/* Shortest pause between two probes of one round. */
#define SCHED_GAP_MIN_US 1000

struct sched_config {
	int count;		/* rounds; 0 = until sched_stop() */
	int64_t interval_us;	/* from one round's start to the next */
	int first_ttl;		/* 1..max_ttl */
	int max_ttl;		/* 1..255 */
	int max_unknown;	/* end a round after this many silent hops */
	int64_t grace_us;	/* after the last round, wait at most this for answers */
	int64_t start_delay_us; /* the first round starts this much after sched_start() */
	struct pacer *pacer;	/* shared probes-per-second budget, NULL = none (not owned) */
	/*
	 * mtr's random -s and -B: when rand_size_max > 0 each round's probes take one size
	 * drawn in rand_size_min..rand_size_max; with rand_pattern one bit pattern drawn in
	 * 0..255. Otherwise the template's.
	 */
	int rand_size_min, rand_size_max;
	int rand_pattern;
	/*
	 * Multi-flow Paris probing: 0 = every probe as the template; 1..FLOWS_MAX = round r
	 * carries flow id r % nflows (whatever the template says), so each flow is a whole
	 * traceroute of its own and the rate stays one probe per TTL per round.
	 */
	int nflows;
	struct flows *flows; /* fed per flow beside the table, NULL = none (not owned) */
};

/* Optional observers; any may be NULL. round counts from 0, seq numbers each probe. */
struct sched_hooks {
	void (*sent)(void *ctx, int ttl, int round, uint32_t seq);
	void (*answer)(void *ctx, int ttl, int round, uint32_t seq, enum stats_outcome outcome,
		       const struct addr *from, int64_t rtt_us);
	/* The run ended: err 0 (all rounds done) or -errno with msg one line. */
	void (*done)(void *ctx, int err, const char *msg);
	/* Every probe of this round was sent and answered (or timed out). */
	void (*round_done)(void *ctx, int round);
	/* The hop's responders changed: a new one, or another answered last. */
	void (*hop_changed)(void *ctx, int ttl);
	/*
	 * The engine had no room for a probe (probes-exhausted): it never left, so it is
	 * not counted at all, neither sent nor lost.
	 */
	void (*exhausted)(void *ctx, int ttl, int round);
	void *ctx;
};

/*
 * tmpl is copied: every probe is tmpl with its ttl set. The scheduler is a client of the
 * engine connection of its own, beside any others. table may be NULL: the owner keeps
 * its statistics itself from the hooks, and the scheduler keeps only what its rounds
 * need (hop_changed is then never called). Returns 0 or -errno.
 */
int sched_new(struct sched **out, struct event_base *base, struct engine_conn *conn,
	      struct stats_table *table, const struct sched_config *cfg,
	      const struct engine_probe *tmpl, const struct sched_hooks *hooks);
struct sched *sched_free(struct sched *s);

/* Start the first round now. */
int sched_start(struct sched *s);
/* Stop sending; pending answers are still counted. done is not called. */
void sched_stop(struct sched *s);
/* Pause or resume new rounds (the live view's 'p'). */
void sched_pause(struct sched *s, int paused);
/*
 * Change the configuration and the probe template of a running scheduler, keeping what
 * it counted (the live view's s, b, Q, i, f, m, u and t, as mtr changes them): the next
 * probe is tmpl, the next round follows cfg, a new interval runs from now. cfg is
 * checked as sched_new() does; 0 or -EINVAL (then nothing changes).
 */
int sched_set(struct sched *s, const struct sched_config *cfg, const struct engine_probe *tmpl);

/* Rounds started so far, probes in flight, and probes the engine had no room for. */
int sched_rounds(const struct sched *s);
uint32_t sched_inflight(const struct sched *s);
uint32_t sched_exhausted(const struct sched *s);
/* Bytes the scheduler holds (its slots grow with the probes in flight). */
size_t sched_bytes(const struct sched *s);

#endif
