/*
 * stats: the hop table and its accumulators, with mtr's arithmetic (ui/net.c,
 * net_process_ping): Welford for StDev, running geometric mean, jitter as the distance
 * to the previous RTT, mtr's integer interarrival estimator. Pure bookkeeping.
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

static void acc_add_rtt(struct stats_acc *a, int64_t rtt)
{
	int64_t jitter = rtt - a->last;
	int64_t oldavg, avg, oldjavg;
	uint32_t n;

	if (jitter < 0)
		jitter = -jitter;
	/* The first answer has no predecessor: mtr sets its jitter figures to 0. */
	if (a->received == 0) {
		a->best = a->worst = rtt;
		a->mean = a->m2 = 0;
		jitter = 0;
		a->jmax = a->jinta = 0;
	}
	a->jitter = jitter;
	a->last = rtt;
	if (rtt < a->best)
		a->best = rtt;
	if (rtt > a->worst)
		a->worst = rtt;
	if (jitter > a->jmax)
		a->jmax = jitter;

	/*
	 * mtr keeps avg, ssd, gmean and javg in integers and truncates at every step; the
	 * same steps here give the very figures mtr prints (and its JSON's three decimals).
	 */
	a->received++;
	n = a->received;
	oldavg = (int64_t)a->mean;
	avg = (int64_t)((double)oldavg + (double)(rtt - oldavg) / n);
	a->mean = (double)avg;
	a->m2 = (double)(int64_t)(a->m2 + (double)(rtt - oldavg) * (double)(rtt - avg));
	oldjavg = (int64_t)a->javg;
	a->javg = (double)(oldjavg + (jitter - oldjavg) / (int64_t)n);
	/* RFC 1889 A.8 as mtr writes it: J kept 16x scaled, rounded shift. */
	a->jinta += jitter - ((a->jinta + 8) >> 4);
	if (n == 1)
		a->gmean = rtt;
	else
		a->gmean =
			(int64_t)(pow((double)a->gmean, (n - 1.0) / n) * pow((double)rtt, 1.0 / n));
	a->has_prev = 1;

	a->samples[a->sample_pos] = rtt;
	a->sample_pos = (a->sample_pos + 1) % STATS_SAMPLES_MAX;
	if (a->nsamples < STATS_SAMPLES_MAX)
		a->nsamples++;
}

static int cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

/* Nearest rank: the sample at rank ceil(p/100 * n), 1-based, of the sorted samples. */
static int64_t nearest_rank(const int64_t *sorted, uint32_t n, unsigned int pct)
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

static struct stats_hop *hop_of(struct stats_table *t, int ttl)
{
	if (!t || ttl < 1 || ttl >= STATS_MAX_HOPS)
		return NULL;
	return &t->hops[ttl - 1];
}

static struct stats_responder *responder_of(struct stats_hop *h, const struct stats_addr *from)
{
	struct stats_responder *r;
	size_t i;

	for (i = 0; i < h->nresponders; i++)
		if (stats_addr_equal(&h->responders[i].addr, from))
			return &h->responders[i];
	if (h->nresponders == STATS_MAX_RESPONDERS)
		return NULL;
	r = &h->responders[h->nresponders++];
	memset(r, 0, sizeof(*r));
	r->addr = *from;
	return r;
}

int stats_table_new(struct stats_table **out)
{
	struct stats_table *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return -ENOMEM;
	/* calloc's pages stay untouched until used: the table is ~19 MB mostly of samples */
	for (i = 0; i < STATS_MAX_HOPS; i++)
		t->hops[i].ttl = i + 1;
	*out = t;
	return 0;
}

struct stats_table *stats_table_free(struct stats_table *t)
{
	free(t);
	return NULL;
}

void stats_table_reset(struct stats_table *t)
{
	int i;

	/* Only hops up to max_ttl_seen were ever written (stats_answer needs a probe sent). */
	for (i = 0; i < t->max_ttl_seen && i < STATS_MAX_HOPS; i++) {
		memset(&t->hops[i], 0, sizeof(t->hops[i]));
		t->hops[i].ttl = i + 1;
	}
	t->max_ttl_seen = 0;
	t->dest_ttl = 0;
}

int stats_sent(struct stats_table *t, int ttl)
{
	struct stats_hop *h = hop_of(t, ttl);

	if (!h)
		return -EINVAL;
	h->acc.sent++;
	h->acc.inflight++;
	if (ttl > t->max_ttl_seen)
		t->max_ttl_seen = ttl;
	return 0;
}

void stats_unsent(struct stats_table *t, int ttl)
{
	struct stats_hop *h = hop_of(t, ttl);

	if (!h || !h->acc.inflight)
		return;
	h->acc.sent--;
	h->acc.inflight--;
}

size_t stats_table_bytes(const struct stats_table *t)
{
	return t ? sizeof(*t) : 0;
}

const struct stats_hop *stats_table_hop(const struct stats_table *t, int ttl)
{
	return ttl >= 1 && ttl <= STATS_MAX_HOPS ? &t->hops[ttl - 1] : NULL;
}

void stats_answer(struct stats_table *t, int ttl, enum stats_outcome outcome,
		  const struct stats_addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls)
{
	struct stats_hop *h = hop_of(t, ttl);
	struct stats_responder *r;

	if (!h || h->acc.inflight == 0)
		return;
	h->acc.inflight--;
	if (outcome == STATS_LOST || !from)
		return;
	if (rtt_us < 0)
		rtt_us = 0;

	acc_add_rtt(&h->acc, rtt_us);
	h->last_addr = *from;
	h->unreachable = outcome == STATS_UNREACHABLE;
	if (outcome == STATS_REPLY) {
		h->is_destination = 1;
		if (t->dest_ttl == 0 || ttl < t->dest_ttl)
			t->dest_ttl = ttl;
	}

	r = responder_of(h, from);
	if (!r) {
		h->overflow++;
		return;
	}
	r->acc.sent++;
	acc_add_rtt(&r->acc, rtt_us);
	if (mpls && nmpls) {
		if (nmpls > STATS_MPLS_MAX)
			nmpls = STATS_MPLS_MAX;
		memcpy(r->mpls, mpls, nmpls * sizeof(*mpls));
		r->nmpls = nmpls;
	}
}

int stats_last_hop(const struct stats_table *t)
{
	int ttl, max = 0;

	if (t->dest_ttl)
		return t->dest_ttl;
	for (ttl = 1; ttl <= t->max_ttl_seen; ttl++) {
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
	int64_t sorted[STATS_SAMPLES_MAX];
	uint32_t done = a->sent - a->inflight;
	uint32_t n = a->received;

	memset(out, 0, sizeof(*out));
	out->sent = a->sent;
	out->received = n;
	out->dropped = done > n ? done - n : 0;
	if (done)
		out->loss_pct =
			(double)(int64_t)(STATS_LOSS_SCALE * (STATS_PCT - STATS_PCT * n / done)) /
			STATS_LOSS_SCALE;
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

	memcpy(sorted, a->samples, a->nsamples * sizeof(sorted[0]));
	qsort(sorted, a->nsamples, sizeof(sorted[0]), cmp_i64);
	out->p50 = ms(nearest_rank(sorted, a->nsamples, 50));
	out->p90 = ms(nearest_rank(sorted, a->nsamples, 90));
	out->p99 = ms(nearest_rank(sorted, a->nsamples, 99));
}

int stats_addr_equal(const struct stats_addr *a, const struct stats_addr *b)
{
	if (a->family != b->family)
		return 0;
	switch (a->family) {
	case AF_INET:
		return a->u.v4.s_addr == b->u.v4.s_addr;
	case AF_INET6:
		return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
	default:
		return 1;
	}
}

const char *stats_addr_str(const struct stats_addr *a, char *buf, size_t len)
{
	if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, &a->u, buf, (socklen_t)len))
		snprintf(buf, len, "???");
	return buf;
}
