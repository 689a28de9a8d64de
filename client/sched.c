/*
 * sched: mtr's probing rounds on libevent timers. Round k starts at start + k * interval
 * (no drift); inside a round one probe per TTL, spaced by a short gap so that the
 * destination's answer can end the round before TTLs past it are probed. After the
 * last round the run ends when nothing is in flight, or when -G runs out.
 */
#include "client/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"

/* Longest error line from the scheduler. */
#define SCHED_ERR_MAX 256
/*
 * A probe still out is presumed lost (for the live figures only) once a later probe of
 * its hop or of a farther hop was answered, as mtr counts it, or once it is this many
 * times older than the slowest answer its hop gave so far: the slowest, not the mean, so
 * that a jittery hop does not blink. Never before SCHED_LATE_FLOOR_US: above the RTT of
 * any real path's first probes (nothing is known of a hop then), and no later than the
 * next probe of the hop at mtr's default 1 s interval.
 */
#define SCHED_LATE_RTT_MULT 2
#define SCHED_LATE_FLOOR_US 1000000
/* How often the age of probes out is looked at: the live view redraws every 200 ms. */
#define SCHED_LATE_TICK_US 200000
/* Bit patterns a random one is drawn from: a byte. */
#define SCHED_PATTERNS 256

/* A probe in flight; its seq is the cookie the engine connection hands back. */
struct slot {
	uint32_t seq;
	uint8_t used;
	uint8_t ttl;
	uint8_t late; /* presumed lost for now */
	int round;
	uint32_t prev, next; /* seqs of its TTL's probes out before and after it (flight) */
	int64_t sent_us;
};

/*
 * One TTL's probes in flight in the order they went out, linked through their slots by
 * seq (so the links survive slots_grow). The first `late` of them are presumed lost:
 * seqs and send times only grow along the list, so the presumed lost are always its
 * oldest, and `cursor` is the first one that is not. Each probe is passed by the cursor
 * once: keeping the figures live costs O(1) per probe.
 */
struct flight {
	uint32_t head, tail; /* oldest and newest, when n > 0 */
	uint32_t cursor;     /* the oldest not presumed lost, when late < n */
	uint32_t n, late;
};

/* Without a statistics table: what the rounds' logic needs to know of each TTL. */
struct ttl_state {
	uint32_t sent, inflight;
	uint8_t answered; /* someone answered it */
};

/* First size of the ring of rounds still waiting for answers; it doubles as needed. */
#define SCHED_ROUNDS_MIN 8

struct sched {
	struct event_base *base;
	struct engine_client *client;
	struct stats_table *table;
	struct sched_config cfg;
	struct engine_probe tmpl;
	struct sched_hooks hooks;
	struct event *round_ev, *gap_ev, *grace_ev;
	int64_t start_us; /* monotonic time of round 0 */
	int round;	  /* rounds started */
	int cur_ttl;	  /* next TTL of the round being sent, 0 = none */
	int sending;	  /* a round is being sent */
	int round_due;	  /* the next round's time came while this one was still being sent */
	int booked;	  /* the next probe has its pacer slot; gap_ev fires at it */
	int64_t slot_us;  /* that slot */
	int rebooked;	  /* it woke too late once and booked again: it goes next time */
	int stopped, paused, finished;
	int dest_ttl; /* lowest TTL the destination answered at, 0 = not yet */
	uint32_t inflight;
	uint32_t seq; /* probes sent */
	uint32_t exhausted;
	struct ttl_state *ttls; /* table NULL only: index ttl - 1 */
	int nttls;
	struct slot *slots;	/* index seq & (nslots - 1) */
	uint32_t nslots;	/* a power of two, SCHED_SLOTS_MIN..SCHED_SLOTS */
	struct flight *flights; /* index ttl, 0..nflights - 1; NULL without a table */
	int nflights;		/* max_ttl + 1 at least: sched_set may raise max_ttl */
	struct event *late_ev;	/* looks at the age of probes out, with a table */
	int late_off;		/* the run ended: nothing is presumed lost any more */
	/* Rounds not yet reported done, oldest..round-1: probes each still has out. */
	uint32_t *round_left; /* index round & (nrounds_ring - 1) */
	uint32_t nrounds_ring;
	int oldest; /* the oldest round not reported done */
};

static struct slot *slot_of(struct sched *s, uint32_t seq)
{
	return &s->slots[seq & (s->nslots - 1)];
}

/* a went out before b (seqs wrap) */
static int seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void flight_push(struct sched *s, struct slot *sl)
{
	struct flight *f;

	if (!s->flights)
		return;
	f = &s->flights[sl->ttl];
	sl->late = 0;
	sl->prev = f->tail;
	if (f->n)
		slot_of(s, f->tail)->next = sl->seq;
	else
		f->head = sl->seq;
	f->tail = sl->seq;
	if (f->late == f->n)
		f->cursor = sl->seq;
	f->n++;
}

static void flight_publish(struct sched *s, int ttl)
{
	if (s->table && !s->late_off)
		stats_set_late(s->table, ttl, s->flights[ttl].late);
}

/* sl is answered, timed out or given up: off its TTL's list. */
static void flight_remove(struct sched *s, struct slot *sl)
{
	struct flight *f;

	if (!s->flights)
		return;
	f = &s->flights[sl->ttl];
	if (sl->seq == f->head)
		f->head = sl->next;
	else
		slot_of(s, sl->prev)->next = sl->next;
	if (sl->seq == f->tail)
		f->tail = sl->prev;
	else
		slot_of(s, sl->next)->prev = sl->prev;
	if (sl->late)
		f->late--;
	else if (sl->seq == f->cursor)
		f->cursor = sl->next; /* unused when it was the newest: late == n then */
	f->n--;
	if (sl->late)
		flight_publish(s, sl->ttl);
}

/* How old a probe of ttl may get before it is presumed lost. */
static int64_t late_after_us(const struct sched *s, int ttl)
{
	const struct stats_hop *h = stats_table_hop(s->table, ttl);
	int64_t us = h && h->acc.received ? SCHED_LATE_RTT_MULT * (int64_t)h->acc.worst : 0;

	return us > SCHED_LATE_FLOOR_US ? us : SCHED_LATE_FLOOR_US;
}

/*
 * Presume lost ttl's probes out that went out before seq (when by_seq) or that are
 * older than the hop's limit at now.
 */
static void flight_mark(struct sched *s, int ttl, int by_seq, uint32_t seq, int64_t now)
{
	struct flight *f = &s->flights[ttl];
	int64_t limit;
	uint32_t was = f->late;
	struct slot *c;

	if (s->late_off || f->late == f->n)
		return;
	limit = late_after_us(s, ttl);
	while (f->late < f->n) {
		c = slot_of(s, f->cursor);
		if (!(by_seq && seq_before(c->seq, seq)) && now - c->sent_us < limit)
			break;
		c->late = 1;
		f->late++;
		f->cursor = c->next;
	}
	if (f->late != was)
		flight_publish(s, ttl);
}

/* Probe seq of ttl was answered: what went out before it to ttl or nearer is presumed lost. */
static void flight_answered(struct sched *s, int ttl, uint32_t seq)
{
	int64_t now = clock_now_us();
	int t;

	if (!s->flights)
		return;
	/* At most max_ttl hops, each O(1) unless it passes probes (once each). */
	for (t = s->cfg.first_ttl; t <= ttl && t <= s->cfg.max_ttl; t++)
		flight_mark(s, t, 1, seq, now);
}

/* The run is over: the figures go back to counting only what was answered or timed out. */
static void flight_off(struct sched *s)
{
	int t;

	if (!s->flights || s->late_off)
		return;
	evtimer_del(s->late_ev);
	for (t = s->cfg.first_ttl; t <= s->cfg.max_ttl; t++)
		stats_set_late(s->table, t, 0);
	s->late_off = 1;
}

static void late_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	int64_t now = clock_now_us();
	int t;

	(void)fd;
	(void)what;
	for (t = s->cfg.first_ttl; t <= s->cfg.max_ttl; t++)
		flight_mark(s, t, 0, 0, now);
}

static void finish(struct sched *s, int err, const char *msg)
{
	if (s->finished)
		return;
	s->finished = 1;
	flight_off(s);
	evtimer_del(s->round_ev);
	evtimer_del(s->gap_ev);
	evtimer_del(s->grace_ev);
	if (s->hooks.done)
		s->hooks.done(s->hooks.ctx, err, msg);
}

static int all_rounds_sent(const struct sched *s)
{
	return s->cfg.count > 0 && s->round >= s->cfg.count && !s->sending;
}

static void maybe_done(struct sched *s)
{
	if (!s->finished && all_rounds_sent(s) && s->inflight == 0)
		finish(s, 0, NULL);
}

/* Rounds are reported in order, once every probe of each is sent and answered. */
static void report_rounds(struct sched *s)
{
	while (s->oldest < s->round && !s->finished) {
		int r = s->oldest;

		if (s->round_left[(uint32_t)r & (s->nrounds_ring - 1)])
			return;
		if (r == s->round - 1 && s->sending)
			return; /* still being sent */
		s->oldest++;
		if (s->hooks.round_done)
			s->hooks.round_done(s->hooks.ctx, r);
	}
}

/* Make room in the ring for round s->round (about to start). */
static int rounds_room(struct sched *s)
{
	uint32_t cap = s->nrounds_ring, ncap, *ring;
	int r;

	if ((uint32_t)(s->round - s->oldest) < cap)
		return 0;
	ncap = cap ? cap * 2 : SCHED_ROUNDS_MIN;
	ring = calloc(ncap, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (r = s->oldest; r < s->round; r++)
		ring[(uint32_t)r & (ncap - 1)] = s->round_left[(uint32_t)r & (cap - 1)];
	free(s->round_left);
	s->round_left = ring;
	s->nrounds_ring = ncap;
	return 0;
}

static void round_probe_done(struct sched *s, int round)
{
	if (round >= s->oldest && round < s->round)
		s->round_left[(uint32_t)round & (s->nrounds_ring - 1)]--;
}

/* Double the slots; in-flight seqs that were apart in the old table stay apart. */
static int slots_grow(struct sched *s)
{
	uint32_t ncap = s->nslots * 2, i;
	struct slot *ns;

	if (ncap > SCHED_SLOTS)
		return -ENOSPC;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (i = 0; i < s->nslots; i++)
		if (s->slots[i].used)
			ns[s->slots[i].seq & (ncap - 1)] = s->slots[i];
	free(s->slots);
	s->slots = ns;
	s->nslots = ncap;
	return 0;
}

/* The highest TTL worth probing in this round. */
static int round_limit(const struct sched *s)
{
	int limit = s->cfg.max_ttl;

	if (s->dest_ttl && s->dest_ttl < limit)
		limit = s->dest_ttl;
	/* An unreachable answer does not end rounds: mtr keeps probing past it, and with
	 * ECMP or policy routing only some flows may be refused. */
	return limit;
}

/* Hops first..ttl known to be silent: probed, nothing in flight, nobody answered. */
static int silent_hops(const struct sched *s, int ttl)
{
	int t, n = 0;

	for (t = s->cfg.first_ttl; t <= ttl && t < STATS_MAX_HOPS; t++) {
		const struct stats_hop *h = s->table ? stats_table_hop(s->table, t) : NULL;
		const struct ttl_state *x = !s->table && t <= s->nttls ? &s->ttls[t - 1] : NULL;

		if (h && h->acc.sent && !h->acc.inflight && !h->nresponders)
			n++;
		else if (x && x->sent && !x->inflight && !x->answered)
			n++;
	}
	return n;
}

/* The bookkeeping of one probe: into the table, or the scheduler's own per-TTL state. */
static int note_sent(struct sched *s, int ttl)
{
	struct ttl_state *grown;

	if (s->table)
		return stats_sent(s->table, ttl);
	if (ttl < 1 || ttl >= STATS_MAX_HOPS)
		return -EINVAL;
	if (ttl > s->nttls) {
		grown = realloc(s->ttls, (size_t)ttl * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		memset(grown + s->nttls, 0, (size_t)(ttl - s->nttls) * sizeof(*grown));
		s->ttls = grown;
		s->nttls = ttl;
	}
	s->ttls[ttl - 1].sent++;
	s->ttls[ttl - 1].inflight++;
	return 0;
}

static void note_answer(struct sched *s, int ttl, enum stats_outcome oc, const struct addr *from,
			int64_t rtt_us, const struct stats_mpls *mpls, size_t nmpls)
{
	struct ttl_state *x;

	if (s->table) {
		stats_answer(s->table, ttl, oc, from, rtt_us, mpls, nmpls);
		return;
	}
	if (ttl < 1 || ttl > s->nttls || !s->ttls[ttl - 1].inflight)
		return;
	x = &s->ttls[ttl - 1];
	x->inflight--;
	if (oc != STATS_LOST)
		x->answered = 1;
}

static void note_unsent(struct sched *s, int ttl)
{
	if (s->table) {
		stats_unsent(s->table, ttl);
		return;
	}
	if (ttl >= 1 && ttl <= s->nttls && s->ttls[ttl - 1].inflight) {
		s->ttls[ttl - 1].sent--;
		s->ttls[ttl - 1].inflight--;
	}
}

/* The flow id round carries, or -1 without multi-flow probing. */
static int flow_of(const struct sched *s, int round)
{
	return s->cfg.nflows > 0 && round >= 0 ? round % s->cfg.nflows : -1;
}

/* A probe's end as the per-flow tables see it (the aggregate took it already). */
static void flow_answer(struct sched *s, const struct slot *sl, enum stats_outcome oc,
			const struct addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
			size_t nmpls)
{
	if (s->cfg.flows && flow_of(s, sl->round) >= 0)
		flows_answer(s->cfg.flows, flow_of(s, sl->round), sl->ttl, oc, from, rtt_us, mpls,
			     nmpls);
}

static int64_t gap_us(const struct sched *s)
{
	int64_t span = round_limit(s) - s->cfg.first_ttl + 1;
	/* A round's probes take at most half the interval: the next round finds it done. */
	int64_t gap = s->cfg.interval_us / (2 * (span > 0 ? span : 1));

	if (gap > SCHED_GAP_MAX_US)
		gap = SCHED_GAP_MAX_US;
	if (gap < SCHED_GAP_MIN_US)
		gap = SCHED_GAP_MIN_US;
	return gap;
}

static void round_cb(evutil_socket_t fd, short what, void *arg);

static void end_round(struct sched *s)
{
	s->sending = 0;
	s->cur_ttl = 0;
	s->booked = 0;
	s->rebooked = 0;
	report_rounds(s);
	if (s->finished)
		return;
	if (s->round_due) {
		/* Late already: the next round starts now rather than an interval later. */
		s->round_due = 0;
		round_cb(-1, 0, s);
		return;
	}
	if (s->cfg.count > 0 && s->round >= s->cfg.count) {
		struct timeval tv = clock_tv_of_us(s->cfg.grace_us);

		evtimer_add(s->grace_ev, &tv);
		maybe_done(s);
	}
}

static void send_one(struct sched *s)
{
	struct engine_probe p = s->tmpl;
	struct slot *sl;
	int ttl = s->cur_ttl, rc, flow;
	uint32_t seq = s->seq;

	sl = &s->slots[seq & (s->nslots - 1)];
	while (sl->used && slots_grow(s) == 0)
		sl = &s->slots[seq & (s->nslots - 1)];
	if (sl->used) {
		/* SCHED_SLOTS probes later and still no answer: count it lost. */
		flight_remove(s, sl);
		note_answer(s, sl->ttl, STATS_LOST, NULL, 0, NULL, 0);
		flow_answer(s, sl, STATS_LOST, NULL, 0, NULL, 0);
		round_probe_done(s, sl->round);
		sl->used = 0;
		s->inflight--;
	}
	p.ttl = ttl;
	flow = flow_of(s, s->round - 1);
	if (flow >= 0) {
		p.has_flow_id = 1;
		p.flow_id = flow;
	}
	rc = note_sent(s, ttl);
	if (!rc && flow >= 0 && s->cfg.flows)
		rc = flows_sent(s->cfg.flows, flow, ttl);
	if (!rc)
		rc = engine_conn_send_probe(s->client, &p, seq);
	if (rc) {
		char msg[SCHED_ERR_MAX];

		snprintf(msg, sizeof(msg), "cannot send a probe: %s", strerror(-rc));
		finish(s, rc, msg);
		return;
	}
	sl->used = 1;
	sl->seq = seq;
	sl->ttl = (uint8_t)ttl;
	sl->round = s->round - 1;
	sl->sent_us = clock_now_us();
	flight_push(s, sl);
	s->seq++;
	s->inflight++;
	s->round_left[(uint32_t)sl->round & (s->nrounds_ring - 1)]++;
	if (s->hooks.sent)
		s->hooks.sent(s->hooks.ctx, ttl, sl->round, seq);
}

static void gap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (s->finished || s->stopped || !s->sending)
		return;
	/* sched_set() moved the TTLs under this round: none outside them goes out. */
	if (s->cur_ttl < s->cfg.first_ttl)
		s->cur_ttl = s->cfg.first_ttl;
	if (s->cur_ttl > round_limit(s)) {
		end_round(s);
		return;
	}
	/*
	 * Under a shared budget each probe waits for its own slot. One that wakes much later
	 * than its slot (a stalled loop) books again, once, rather than go out in a burst with
	 * every other late one; a second late wake sends it (booking again and again would
	 * starve it: a timer is always a little late).
	 */
	if (s->cfg.pacer) {
		int64_t now = clock_now_us(), slot;

		if (!s->booked || (!s->rebooked && now - s->slot_us > SCHED_PACER_LATE_US)) {
			s->rebooked = s->booked;
			slot = pacer_book(s->cfg.pacer, now);
			if (slot > now) {
				s->booked = 1;
				s->slot_us = slot;
				tv = clock_tv_of_us(slot - now);
				evtimer_add(s->gap_ev, &tv);
				return;
			}
		}
	}
	s->booked = 0;
	s->rebooked = 0;
	send_one(s);
	if (s->finished)
		return;
	/* mtr's end of a round: the destination, -m, or more than -U silent hops. */
	if (s->cur_ttl >= round_limit(s) || silent_hops(s, s->cur_ttl) > s->cfg.max_unknown) {
		end_round(s);
		return;
	}
	s->cur_ttl++;
	tv = clock_tv_of_us(gap_us(s));
	evtimer_add(s->gap_ev, &tv);
}

/* A new round: mtr draws a random size and pattern once per round (net_send_batch). */
static void round_draw(struct sched *s)
{
	int lo = s->cfg.rand_size_min, hi = s->cfg.rand_size_max;

	if (hi > 0)
		s->tmpl.size = hi > lo ? lo + rand() % (hi - lo + 1) : hi;
	if (s->cfg.rand_pattern)
		s->tmpl.bitpattern = rand() % SCHED_PATTERNS;
}

static void round_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct timeval tv;
	int64_t next;

	(void)fd;
	(void)what;
	if (s->finished || s->stopped)
		return;
	if (!s->paused && s->sending) {
		/* Still sending the last round (a slow timer, a long path): end_round starts it. */
		s->round_due = 1;
		return;
	}
	if (!s->paused) {
		if (rounds_room(s)) {
			finish(s, -ENOMEM, "out of memory");
			return;
		}
		s->round_left[(uint32_t)s->round & (s->nrounds_ring - 1)] = 0;
		round_draw(s);
		s->round++;
		s->sending = 1;
		s->cur_ttl = s->cfg.first_ttl;
		gap_cb(-1, 0, s);
		if (s->finished || s->stopped)
			return;
	}
	if (s->cfg.count > 0 && s->round >= s->cfg.count)
		return;
	next = s->start_us + (int64_t)s->round * s->cfg.interval_us;
	if (s->paused || next <= clock_now_us())
		next = clock_now_us() + s->cfg.interval_us;
	tv = clock_tv_of_us(next - clock_now_us());
	evtimer_add(s->round_ev, &tv);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	size_t i;

	(void)fd;
	(void)what;
	/* -G ran out: what is still out there is lost, as mtr would count it. */
	for (i = 0; i < s->nslots; i++) {
		if (s->slots[i].used) {
			flight_remove(s, &s->slots[i]);
			note_answer(s, s->slots[i].ttl, STATS_LOST, NULL, 0, NULL, 0);
			flow_answer(s, &s->slots[i], STATS_LOST, NULL, 0, NULL, 0);
			round_probe_done(s, s->slots[i].round);
			s->slots[i].used = 0;
		}
	}
	s->inflight = 0;
	report_rounds(s);
	finish(s, 0, NULL);
}

static int fatal_reply(enum proto_reply r)
{
	switch (r) {
	case PROTO_REPLY_INVALID_ARGUMENT:
	case PROTO_REPLY_UNKNOWN_COMMAND:
	case PROTO_REPLY_COMMAND_PARSE_ERROR:
	case PROTO_REPLY_COMMAND_BUFFER_OVERFLOW:
		return 1;
	case PROTO_REPLY_REPLY:
	case PROTO_REPLY_TTL_EXPIRED:
	case PROTO_REPLY_NO_REPLY:
	case PROTO_REPLY_NO_ROUTE:
	case PROTO_REPLY_NO_ROUTE_HOST:
	case PROTO_REPLY_NO_ROUTE_NETWORK:
	case PROTO_REPLY_HOST_DOWN:
	case PROTO_REPLY_PROHIBITED:
	case PROTO_REPLY_NETWORK_DOWN:
	case PROTO_REPLY_PERMISSION_DENIED:
	case PROTO_REPLY_ADDRESS_IN_USE:
	case PROTO_REPLY_ADDRESS_NOT_AVAILABLE:
	case PROTO_REPLY_PROBES_EXHAUSTED:
	case PROTO_REPLY_FEATURE_SUPPORT:
	case PROTO_REPLY_EXTENSION_ENABLED:
	case PROTO_REPLY_UNEXPECTED_ERROR:
	case PROTO_REPLY__COUNT:
		break;
	}
	return 0;
}

static enum stats_outcome outcome_of(const struct engine_result *r)
{
	switch (r->reply) {
	case PROTO_REPLY_REPLY:
		return r->from.family ? STATS_REPLY : STATS_LOST;
	case PROTO_REPLY_TTL_EXPIRED:
		return r->from.family ? STATS_TTL_EXPIRED : STATS_LOST;
	case PROTO_REPLY_NO_ROUTE:
	case PROTO_REPLY_NO_ROUTE_HOST:
	case PROTO_REPLY_NO_ROUTE_NETWORK:
	case PROTO_REPLY_HOST_DOWN:
	case PROTO_REPLY_PROHIBITED:
		/* A send error carries no address: nobody answered. */
		return r->from.family ? STATS_UNREACHABLE : STATS_LOST;
	case PROTO_REPLY_NO_REPLY:
	case PROTO_REPLY_NETWORK_DOWN:
	case PROTO_REPLY_PERMISSION_DENIED:
	case PROTO_REPLY_ADDRESS_IN_USE:
	case PROTO_REPLY_ADDRESS_NOT_AVAILABLE:
	case PROTO_REPLY_PROBES_EXHAUSTED:
	case PROTO_REPLY_INVALID_ARGUMENT:
	case PROTO_REPLY_UNKNOWN_COMMAND:
	case PROTO_REPLY_COMMAND_PARSE_ERROR:
	case PROTO_REPLY_COMMAND_BUFFER_OVERFLOW:
	case PROTO_REPLY_FEATURE_SUPPORT:
	case PROTO_REPLY_EXTENSION_ENABLED:
	case PROTO_REPLY_UNEXPECTED_ERROR:
	case PROTO_REPLY__COUNT:
		break;
	}
	return STATS_LOST;
}

/* Who answers the hop, to tell its owner when that changes. */
struct hop_view {
	size_t nresponders;
	struct addr last;
};

static void hop_view(const struct sched *s, int ttl, struct hop_view *v)
{
	const struct stats_hop *h = s->table ? stats_table_hop(s->table, ttl) : NULL;

	memset(v, 0, sizeof(*v));
	if (h) {
		v->nresponders = h->nresponders;
		v->last = h->last_addr;
	}
}

static void on_exhausted(struct sched *s, const struct slot *sl)
{
	note_unsent(s, sl->ttl);
	if (s->cfg.flows)
		flows_unsent(s->cfg.flows, flow_of(s, sl->round), sl->ttl);
	s->exhausted++;
	if (s->hooks.exhausted)
		s->hooks.exhausted(s->hooks.ctx, sl->ttl, sl->round);
}

static void on_result(void *ctx, uint64_t cookie, const struct engine_result *r)
{
	struct sched *s = ctx;
	struct slot *sl, done;
	struct hop_view before = {0}, after = {0};
	enum stats_outcome oc;

	if (s->finished)
		return;
	if (fatal_reply(r->reply)) {
		const struct proto_reply_info *ri = proto_reply_info(r->reply);
		char msg[SCHED_ERR_MAX];

		snprintf(msg, sizeof(msg), "the engine refused a probe: %s%s%s%s",
			 ri ? ri->name : "error", r->reason[0] ? " (" : "", r->reason,
			 r->reason[0] ? ")" : "");
		finish(s, -EINVAL, msg);
		return;
	}
	sl = &s->slots[cookie & (s->nslots - 1)];
	if (!sl->used || sl->seq != (uint32_t)cookie) {
		log_debug("answer for a probe no longer in flight (seq %llu)",
			  (unsigned long long)cookie);
		return;
	}
	flight_remove(s, sl);
	done = *sl;
	sl->used = 0;
	s->inflight--;
	round_probe_done(s, done.round);
	if (r->reply == PROTO_REPLY_PROBES_EXHAUSTED) {
		on_exhausted(s, &done);
	} else {
		oc = outcome_of(r);
		/* Who answers the hop is compared only for an owner that wants to hear of it. */
		if (s->hooks.hop_changed)
			hop_view(s, done.ttl, &before);
		note_answer(s, done.ttl, oc, oc == STATS_LOST ? NULL : &r->from,
			    r->rtt_us < 0 ? 0 : r->rtt_us, r->mpls, r->nmpls);
		flow_answer(s, &done, oc, oc == STATS_LOST ? NULL : &r->from,
			    r->rtt_us < 0 ? 0 : r->rtt_us, r->mpls, r->nmpls);
		if (s->hooks.hop_changed)
			hop_view(s, done.ttl, &after);
		if (oc == STATS_REPLY && (!s->dest_ttl || done.ttl < s->dest_ttl))
			s->dest_ttl = done.ttl;
		if (oc != STATS_LOST)
			flight_answered(s, done.ttl, done.seq);
		if (s->hooks.answer)
			s->hooks.answer(s->hooks.ctx, done.ttl, done.round, done.seq, oc,
					oc == STATS_LOST ? NULL : &r->from, r->rtt_us);
		if (s->hooks.hop_changed && (before.nresponders != after.nresponders ||
					     !addr_equal(&before.last, &after.last)))
			s->hooks.hop_changed(s->hooks.ctx, done.ttl);
		if (s->finished)
			return;
	}
	/* The destination answered mid-round: nothing past it is worth probing. */
	if (s->sending && s->cur_ttl > round_limit(s)) {
		evtimer_del(s->gap_ev);
		end_round(s);
		if (s->finished)
			return;
	}
	report_rounds(s);
	maybe_done(s);
}

static void on_lost(void *ctx, const char *err)
{
	struct sched *s = ctx;

	finish(s, -EPIPE, err);
}

int sched_new(struct sched **out, struct event_base *base, struct engine_conn *conn,
	      struct stats_table *table, const struct sched_config *cfg,
	      const struct engine_probe *tmpl, const struct sched_hooks *hooks)
{
	static const struct engine_client_ops ops = {.result = on_result, .lost = on_lost};
	struct sched *s;
	int rc;

	*out = NULL;
	if (cfg->first_ttl < 1 || cfg->max_ttl >= STATS_MAX_HOPS || cfg->first_ttl > cfg->max_ttl ||
	    cfg->interval_us <= 0 || cfg->count < 0 || cfg->grace_us < 0 ||
	    cfg->start_delay_us < 0 || cfg->nflows < 0 || cfg->nflows > FLOWS_MAX ||
	    (cfg->flows && flows_count(cfg->flows) != cfg->nflows))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = base;
	s->table = table;
	s->cfg = *cfg;
	s->tmpl = *tmpl;
	if (hooks)
		s->hooks = *hooks;
	s->nslots = SCHED_SLOTS_MIN;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	s->round_ev = evtimer_new(base, round_cb, s);
	s->gap_ev = evtimer_new(base, gap_cb, s);
	s->grace_ev = evtimer_new(base, grace_cb, s);
	if (table) {
		s->nflights = cfg->max_ttl + 1;
		s->flights = calloc((size_t)s->nflights, sizeof(*s->flights));
		s->late_ev = event_new(base, -1, EV_PERSIST, late_cb, s);
	}
	if (!s->slots || !s->round_ev || !s->gap_ev || !s->grace_ev ||
	    (table && (!s->flights || !s->late_ev))) {
		sched_free(s);
		return -ENOMEM;
	}
	rc = engine_conn_client_new(&s->client, conn, &ops, s);
	if (rc) {
		sched_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

struct sched *sched_free(struct sched *s)
{
	if (!s)
		return NULL;
	s->client = engine_conn_client_free(s->client);
	if (s->late_ev)
		event_free(s->late_ev);
	if (s->grace_ev)
		event_free(s->grace_ev);
	if (s->gap_ev)
		event_free(s->gap_ev);
	if (s->round_ev)
		event_free(s->round_ev);
	free(s->round_left);
	free(s->slots);
	free(s->flights);
	free(s->ttls);
	free(s);
	return NULL;
}

int sched_start(struct sched *s)
{
	struct timeval tv, late = clock_tv_of_us(SCHED_LATE_TICK_US);

	if (s->late_ev && evtimer_add(s->late_ev, &late))
		return -EIO;
	s->start_us = clock_now_us();
	if (s->cfg.start_delay_us > 0) {
		/* Spread out: traces started together do not all send at the same instant. */
		s->start_us += s->cfg.start_delay_us;
		tv = clock_tv_of_us(s->cfg.start_delay_us);
		return evtimer_add(s->round_ev, &tv) ? -EIO : 0;
	}
	round_cb(-1, 0, s);
	return s->finished ? -EIO : 0;
}

void sched_stop(struct sched *s)
{
	s->stopped = 1;
	s->sending = 0;
	flight_off(s);
	evtimer_del(s->round_ev);
	evtimer_del(s->gap_ev);
}

void sched_pause(struct sched *s, int paused)
{
	s->paused = paused;
}

int sched_set(struct sched *s, const struct sched_config *cfg, const struct engine_probe *tmpl)
{
	int64_t old = s->cfg.interval_us;
	struct timeval tv;

	if (cfg->first_ttl < 1 || cfg->max_ttl >= STATS_MAX_HOPS || cfg->first_ttl > cfg->max_ttl ||
	    cfg->interval_us <= 0 || cfg->count < 0 || cfg->grace_us < 0 || cfg->start_delay_us < 0)
		return -EINVAL;
	if (s->flights && cfg->max_ttl + 1 > s->nflights) {
		struct flight *grown =
			realloc(s->flights, ((size_t)cfg->max_ttl + 1) * sizeof(*s->flights));

		if (!grown)
			return -ENOMEM;
		memset(grown + s->nflights, 0,
		       (size_t)(cfg->max_ttl + 1 - s->nflights) * sizeof(*grown));
		s->flights = grown;
		s->nflights = cfg->max_ttl + 1;
	}
	s->cfg = *cfg;
	s->tmpl = *tmpl;
	if (cfg->interval_us == old || !evtimer_pending(s->round_ev, NULL))
		return 0;
	/* Round k starts at start_us + (k - 1) * interval: the next one, interval from now. */
	s->start_us = clock_now_us() - (int64_t)(s->round - 1) * cfg->interval_us;
	tv = clock_tv_of_us(cfg->interval_us);
	evtimer_del(s->round_ev);
	return evtimer_add(s->round_ev, &tv) ? -EIO : 0;
}

int sched_rounds(const struct sched *s)
{
	return s->round;
}

uint32_t sched_inflight(const struct sched *s)
{
	return s->inflight;
}

uint32_t sched_exhausted(const struct sched *s)
{
	return s->exhausted;
}

size_t sched_bytes(const struct sched *s)
{
	return sizeof(*s) + s->nslots * sizeof(*s->slots) +
	       s->nrounds_ring * sizeof(*s->round_left) + (size_t)s->nttls * sizeof(*s->ttls) +
	       (size_t)s->nflights * sizeof(*s->flights);
}
