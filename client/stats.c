/*
 * stats: the hop table and its accumulators, with mtr's arithmetic (ui/net.c,
 * net_process_ping): Welford for StDev, running geometric mean, jitter as the distance
 * to the previous RTT, mtr's integer interarrival estimator. Each hop also keeps a ring
 * of its latest outcomes for percentiles and windowed figures. Pure bookkeeping.
 */
#include "client/stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_US_PER_MS 1000.0
/* mtr reports loss in thousandths of a percent, truncated (net_loss). */
#define STATS_LOSS_SCALE 1000.0
#define STATS_PCT	 100.0
#define STATS_P50	 50
#define STATS_P90	 90
#define STATS_P99	 99

/*
 * The arithmetic is mtr's in 64-bit integers and doubles, as before the fields were
 * narrowed: every stored value lies between 0 and STATS_RTT_MAX (jinta below 16 times
 * that), so the narrower fields hold the very same numbers.
 */
static void acc_add_rtt(struct stats_acc *a, int64_t rtt)
{
	int64_t jitter = rtt - a->last;
	int64_t oldavg, avg, oldjavg, jinta;
	uint32_t n;

	if (jitter < 0)
		jitter = -jitter;
	/* The first answer has no predecessor: mtr sets its jitter figures to 0. */
	if (a->received == 0) {
		a->best = a->worst = (int32_t)rtt;
		a->mean = 0;
		a->m2 = 0;
		jitter = 0;
		a->jmax = 0;
		a->jinta = 0;
	}
	a->jitter = (int32_t)jitter;
	a->last = (int32_t)rtt;
	if (rtt < a->best)
		a->best = (int32_t)rtt;
	if (rtt > a->worst)
		a->worst = (int32_t)rtt;
	if (jitter > a->jmax)
		a->jmax = (int32_t)jitter;

	/*
	 * mtr keeps avg, ssd, gmean and javg in integers and truncates at every step; the
	 * same steps here give the very figures mtr prints (and its JSON's three decimals).
	 */
	a->received++;
	n = a->received;
	oldavg = a->mean;
	avg = (int64_t)((double)oldavg + (double)(rtt - oldavg) / n);
	a->mean = (int32_t)avg;
	a->m2 = (double)(int64_t)(a->m2 + (double)(rtt - oldavg) * (double)(rtt - avg));
	oldjavg = a->javg;
	a->javg = (int32_t)(oldjavg + (jitter - oldjavg) / (int64_t)n);
	/* RFC 1889 A.8 as mtr writes it: J kept 16x scaled, rounded shift. */
	jinta = a->jinta;
	jinta += jitter - ((jinta + 8) >> 4);
	a->jinta = (uint32_t)jinta;
	if (n == 1)
		a->gmean = (int32_t)rtt;
	else
		a->gmean = (int32_t)(int64_t)(pow((double)a->gmean, (n - 1.0) / n) *
					      pow((double)rtt, 1.0 / n));
}

static uint32_t ring_entry(int lost, uint32_t responder, int64_t rtt)
{
	return (lost ? STATS_RING_LOST : 0) |
	       (responder & STATS_RING_RESP_MASK) << STATS_RING_RESP_SHIFT | (uint32_t)rtt;
}

static int entry_lost(uint32_t e)
{
	return (e & STATS_RING_LOST) != 0;
}

static uint32_t entry_responder(uint32_t e)
{
	return (e >> STATS_RING_RESP_SHIFT) & STATS_RING_RESP_MASK;
}

static uint32_t entry_rtt(uint32_t e)
{
	return e & (uint32_t)STATS_RTT_MAX;
}

static void ring_push(struct stats_hop *h, uint32_t e)
{
	h->ring[h->ring_pos] = e;
	h->ring_pos = (uint8_t)((h->ring_pos + 1) % STATS_WINDOW_MAX);
	if (h->ring_len < STATS_WINDOW_MAX)
		h->ring_len++;
}

/* The k-th oldest of the ring's latest n entries (n <= ring_len). */
static uint32_t ring_at(const struct stats_hop *h, unsigned int n, unsigned int k)
{
	return h->ring[(h->ring_pos + STATS_WINDOW_MAX - n + k) % STATS_WINDOW_MAX];
}

static int cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return (a > b) - (a < b);
}

/* Nearest rank: the sample at rank ceil(p/100 * n), 1-based, of the sorted samples. */
static uint32_t nearest_rank(const uint32_t *sorted, uint32_t n, unsigned int pct)
{
	uint32_t rank;

	if (n == 0)
		return 0;
	rank = (uint32_t)(((uint64_t)pct * n + 99) / 100);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static double ms(int64_t us)
{
	return (double)us / STATS_US_PER_MS;
}

/* mtr keeps its means in whole microseconds; so do the printed figures. */
static double ms_trunc(double us)
{
	return (double)(int64_t)us / STATS_US_PER_MS;
}

static double loss_pct(uint32_t received, uint32_t done)
{
	if (!done)
		return 0;
	return (double)(int64_t)(STATS_LOSS_SCALE * (STATS_PCT - STATS_PCT * received / done)) /
	       STATS_LOSS_SCALE;
}

/* Sorts the n RTTs in place and sets the three percentiles from them. */
static void percentiles(uint32_t *rtts, uint32_t n, double *p50, double *p90, double *p99)
{
	qsort(rtts, n, sizeof(rtts[0]), cmp_u32);
	*p50 = ms(nearest_rank(rtts, n, STATS_P50));
	*p90 = ms(nearest_rank(rtts, n, STATS_P90));
	*p99 = ms(nearest_rank(rtts, n, STATS_P99));
}

/*
 * The answers among the ring's latest n entries, oldest first: all of them, or only
 * responder idx's (idx < STATS_MAX_RESPONDERS). Returns how many.
 */
static uint32_t ring_answers(const struct stats_hop *h, unsigned int n, int all, uint32_t idx,
			     uint32_t out[STATS_WINDOW_MAX])
{
	uint32_t k, count = 0;

	for (k = 0; k < n; k++) {
		uint32_t e = ring_at(h, n, k);

		if (entry_lost(e) || (!all && entry_responder(e) != idx))
			continue;
		out[count++] = entry_rtt(e);
	}
	return count;
}

static struct stats_hop *hop_of(struct stats_table *t, int ttl)
{
	if (!t || ttl < 1 || ttl > t->nhops)
		return NULL;
	return &t->hops[ttl - 1];
}

/* Room for one more responder: the array doubles, up to STATS_MAX_RESPONDERS. */
static int responders_grow(struct stats_hop *h)
{
	struct stats_responder *r;
	size_t cap = h->cap_responders ? 2u * h->cap_responders : 1;

	if (h->nresponders < h->cap_responders)
		return 0;
	if (cap > STATS_MAX_RESPONDERS)
		cap = STATS_MAX_RESPONDERS;
	r = realloc(h->responders, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	h->responders = r;
	h->cap_responders = (uint8_t)cap;
	return 0;
}

/* The responder's index, added when new; STATS_RING_NO_RESPONDER when it cannot be. */
static uint32_t responder_of(struct stats_hop *h, const struct addr *from)
{
	struct stats_responder *r;
	uint32_t i;

	for (i = 0; i < h->nresponders; i++)
		if (addr_equal(&h->responders[i].addr, from))
			return i;
	if (h->nresponders == STATS_MAX_RESPONDERS || responders_grow(h))
		return STATS_RING_NO_RESPONDER;
	r = &h->responders[h->nresponders];
	memset(r, 0, sizeof(*r));
	r->addr = *from;
	return h->nresponders++;
}

/* The latest labels replace the kept ones; an answer without labels keeps them. */
static void responder_labels(struct stats_responder *r, const struct stats_mpls *mpls, size_t nmpls)
{
	struct stats_mpls *m;

	if (!mpls || !nmpls)
		return;
	if (nmpls > STATS_MPLS_MAX)
		nmpls = STATS_MPLS_MAX;
	if (nmpls != r->nmpls) {
		m = realloc(r->mpls, nmpls * sizeof(*m));
		if (!m)
			return; /* out of memory: the older labels stay */
		r->mpls = m;
	}
	memcpy(r->mpls, mpls, nmpls * sizeof(*mpls));
	r->nmpls = (uint32_t)nmpls;
}

static void hops_release(struct stats_table *t)
{
	int i;
	uint8_t j;

	for (i = 0; i < t->nhops; i++) {
		for (j = 0; j < t->hops[i].nresponders; j++)
			free(t->hops[i].responders[j].mpls);
		free(t->hops[i].responders);
	}
	free(t->hops);
	t->hops = NULL;
	t->nhops = 0;
}

int stats_table_new(struct stats_table **out)
{
	struct stats_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*out = t;
	return 0;
}

struct stats_table *stats_table_free(struct stats_table *t)
{
	if (t)
		hops_release(t);
	free(t);
	return NULL;
}

void stats_table_reset(struct stats_table *t)
{
	hops_release(t);
	t->max_ttl_seen = 0;
	t->dest_ttl = 0;
}

size_t stats_table_bytes(const struct stats_table *t)
{
	size_t bytes;
	int i;
	uint8_t j;

	if (!t)
		return 0;
	bytes = sizeof(*t) + (size_t)t->nhops * sizeof(t->hops[0]);
	for (i = 0; i < t->nhops; i++) {
		const struct stats_hop *h = &t->hops[i];

		bytes += h->cap_responders * sizeof(h->responders[0]);
		for (j = 0; j < h->nresponders; j++)
			bytes += h->responders[j].nmpls * sizeof(h->responders[j].mpls[0]);
	}
	return bytes;
}

const struct stats_hop *stats_table_hop(const struct stats_table *t, int ttl)
{
	if (!t || ttl < 1 || ttl > t->nhops)
		return NULL;
	return &t->hops[ttl - 1];
}

/* Hops up to ttl exist: TTLs are sent in order, so the array grows one hop at a time. */
static int hops_grow(struct stats_table *t, int ttl)
{
	struct stats_hop *h;
	int i;

	if (ttl <= t->nhops)
		return 0;
	h = realloc(t->hops, (size_t)ttl * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(&h[t->nhops], 0, (size_t)(ttl - t->nhops) * sizeof(*h));
	for (i = t->nhops; i < ttl; i++)
		h[i].ttl = (uint8_t)(i + 1);
	t->hops = h;
	t->nhops = ttl;
	return 0;
}

int stats_sent(struct stats_table *t, int ttl)
{
	struct stats_hop *h;
	int rc;

	if (!t || ttl < 1 || ttl >= STATS_MAX_HOPS)
		return -EINVAL;
	rc = hops_grow(t, ttl);
	if (rc)
		return rc;
	h = &t->hops[ttl - 1];
	h->acc.sent++;
	h->acc.inflight++;
	if (ttl > t->max_ttl_seen)
		t->max_ttl_seen = ttl;
	return 0;
}

void stats_unsent(struct stats_table *t, int ttl)
{
	struct stats_hop *h = hop_of(t, ttl);

	if (!h || !h->acc.inflight || !h->acc.sent)
		return;
	h->acc.sent--;
	h->acc.inflight--;
	if (h->late > h->acc.inflight)
		h->late = h->acc.inflight;
	while (t->max_ttl_seen > 0 && !t->hops[t->max_ttl_seen - 1].acc.sent)
		t->max_ttl_seen--;
}

void stats_answer(struct stats_table *t, int ttl, enum stats_outcome outcome,
		  const struct addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls)
{
	struct stats_hop *h = hop_of(t, ttl);
	struct stats_responder *r;
	uint32_t idx;

	if (!h || h->acc.inflight == 0)
		return;
	h->acc.inflight--;
	if (h->late > h->acc.inflight)
		h->late = h->acc.inflight;
	if (outcome == STATS_LOST || !from) {
		ring_push(h, ring_entry(1, STATS_RING_NO_RESPONDER, 0));
		return;
	}
	if (rtt_us < 0)
		rtt_us = 0;
	if (rtt_us > STATS_RTT_MAX)
		rtt_us = STATS_RTT_MAX;

	acc_add_rtt(&h->acc, rtt_us);
	h->last_addr = *from;
	h->unreachable = outcome == STATS_UNREACHABLE;
	if (outcome == STATS_REPLY) {
		h->is_destination = 1;
		if (t->dest_ttl == 0 || ttl < t->dest_ttl)
			t->dest_ttl = ttl;
	}

	idx = responder_of(h, from);
	ring_push(h, ring_entry(0, idx, rtt_us));
	if (idx == STATS_RING_NO_RESPONDER) {
		h->overflow++;
		return;
	}
	r = &h->responders[idx];
	r->acc.sent++;
	acc_add_rtt(&r->acc, rtt_us);
	responder_labels(r, mpls, nmpls);
}

void stats_set_late(struct stats_table *t, int ttl, uint32_t n)
{
	struct stats_hop *h = hop_of(t, ttl);

	if (h)
		h->late = n < h->acc.inflight ? n : h->acc.inflight;
}

int stats_last_hop(const struct stats_table *t)
{
	int ttl, max = 0;

	if (t->dest_ttl)
		return t->dest_ttl;
	for (ttl = 1; ttl <= t->max_ttl_seen && ttl <= t->nhops; ttl++) {
		const struct stats_hop *h = &t->hops[ttl - 1];

		if (h->unreachable)
			return ttl;
		if (h->acc.received)
			max = ttl + 1;
	}
	return max > t->max_ttl_seen ? t->max_ttl_seen : max;
}

void stats_summarize(const struct stats_acc *a, struct stats_summary *out)
{
	uint32_t done = a->sent - a->inflight;
	uint32_t n = a->received;

	memset(out, 0, sizeof(*out));
	out->sent = a->sent;
	out->received = n;
	out->dropped = done > n ? done - n : 0;
	out->loss_pct = loss_pct(n, done);
	if (n == 0)
		return;
	out->last = ms(a->last);
	out->best = ms(a->best);
	out->worst = ms(a->worst);
	out->avg = ms_trunc(a->mean);
	out->stdev = n > 1 ? ms_trunc(sqrt(a->m2 / (n - 1.0))) : 0;
	out->gmean = ms(a->gmean);
	out->jitter = ms(a->jitter);
	out->javg = ms_trunc(a->javg);
	out->jmax = ms(a->jmax);
	out->jinta = ms(a->jinta);
}

void stats_hop_summarize(const struct stats_hop *h, struct stats_summary *out)
{
	uint32_t rtts[STATS_WINDOW_MAX], n, done;

	stats_summarize(&h->acc, out);
	if (h->late && h->late <= h->acc.inflight) {
		done = h->acc.sent - h->acc.inflight + h->late;
		out->dropped = done > h->acc.received ? done - h->acc.received : 0;
		out->loss_pct = loss_pct(h->acc.received, done);
	}
	n = ring_answers(h, h->ring_len, 1, 0, rtts);
	percentiles(rtts, n, &out->p50, &out->p90, &out->p99);
}

void stats_responder_summarize(const struct stats_hop *h, size_t idx, struct stats_summary *out)
{
	uint32_t rtts[STATS_WINDOW_MAX], n;

	if (idx >= h->nresponders) {
		memset(out, 0, sizeof(*out));
		return;
	}
	stats_summarize(&h->responders[idx].acc, out);
	n = ring_answers(h, h->ring_len, 0, (uint32_t)idx, rtts);
	percentiles(rtts, n, &out->p50, &out->p90, &out->p99);
}

size_t stats_hop_rtts(const struct stats_hop *h, int64_t *out, size_t cap)
{
	uint32_t rtts[STATS_WINDOW_MAX], n, i;

	n = ring_answers(h, h->ring_len, 1, 0, rtts);
	for (i = 0; i < n && i < cap; i++)
		out[i] = rtts[i];
	return i;
}

int stats_hop_window(const struct stats_hop *h, int nrounds, struct stats_window_summary *out)
{
	uint32_t rtts[STATS_WINDOW_MAX], n, i;
	unsigned int span;
	double sum = 0, ssd = 0, mean;

	if (!h || !out || nrounds < 1)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	span = nrounds < h->ring_len ? (unsigned int)nrounds : h->ring_len;
	n = ring_answers(h, span, 1, 0, rtts);
	out->sent = span;
	out->received = n;
	out->loss_pct = loss_pct(n, span);
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		sum += rtts[i];
	mean = sum / n;
	for (i = 0; i < n; i++)
		ssd += (rtts[i] - mean) * (rtts[i] - mean);
	out->avg = mean / STATS_US_PER_MS;
	out->stdev = n > 1 ? sqrt(ssd / (n - 1.0)) / STATS_US_PER_MS : 0;
	percentiles(rtts, n, &out->p50, &out->p90, &out->p99);
	out->best = ms(rtts[0]);
	out->worst = ms(rtts[n - 1]);
	return 0;
}
