/*
 * flows: n stats tables side by side, one per flow id. The figures of a flow are exactly
 * those of a trace that only ever sent that flow's probes, computed by the same code as
 * the aggregated table, so the two never disagree on what Loss% or Avg mean.
 */
#include "client/flows.h"

#include <errno.h>
#include <stdlib.h>

struct flows {
	int n;
	struct stats_table *t[FLOWS_MAX];
};

int flows_new(struct flows **out, int n)
{
	struct flows *f;
	int i;

	*out = NULL;
	if (n < 1 || n > FLOWS_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->n = n;
	for (i = 0; i < n; i++) {
		if (stats_table_new(&f->t[i])) {
			flows_free(f);
			return -ENOMEM;
		}
	}
	*out = f;
	return 0;
}

struct flows *flows_free(struct flows *f)
{
	int i;

	if (!f)
		return NULL;
	for (i = 0; i < f->n; i++)
		f->t[i] = stats_table_free(f->t[i]);
	free(f);
	return NULL;
}

void flows_reset(struct flows *f)
{
	int i;

	for (i = 0; i < f->n; i++)
		stats_table_reset(f->t[i]);
}

int flows_count(const struct flows *f)
{
	return f ? f->n : 0;
}

const struct stats_table *flows_table(const struct flows *f, int flow)
{
	return f && flow >= 0 && flow < f->n ? f->t[flow] : NULL;
}

int flows_sent(struct flows *f, int flow, int ttl)
{
	if (flow < 0 || flow >= f->n)
		return -EINVAL;
	return stats_sent(f->t[flow], ttl);
}

void flows_unsent(struct flows *f, int flow, int ttl)
{
	if (flow >= 0 && flow < f->n)
		stats_unsent(f->t[flow], ttl);
}

void flows_answer(struct flows *f, int flow, int ttl, enum stats_outcome outcome,
		  const struct addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls)
{
	if (flow >= 0 && flow < f->n)
		stats_answer(f->t[flow], ttl, outcome, from, rtt_us, mpls, nmpls);
}

int flows_last_hop(const struct flows *f)
{
	int i, last, max = 0;

	for (i = 0; i < f->n; i++) {
		last = stats_last_hop(f->t[i]);
		if (last > max)
			max = last;
	}
	return max;
}

int flows_hop_differs(const struct flows *f, int ttl)
{
	const struct addr *first = NULL;
	int i, answered = 0, silent = 0;

	for (i = 0; i < f->n; i++) {
		const struct stats_hop *h = stats_table_hop(f->t[i], ttl);

		if (!h || !h->acc.sent)
			continue; /* not probed there (yet): -c below N leaves flows out */
		if (!h->nresponders) {
			silent = 1;
			continue;
		}
		if (h->nresponders > 1)
			return 1;
		if (first && !addr_equal(first, &h->responders[0].addr))
			return 1;
		first = &h->responders[0].addr;
		answered = 1;
	}
	return answered && silent;
}

const struct stats_responder *flows_main_responder(const struct flows *f, int flow, int ttl)
{
	const struct stats_hop *h = stats_table_hop(flows_table(f, flow), ttl);
	const struct stats_responder *best = NULL;
	uint8_t i;

	if (!h)
		return NULL;
	for (i = 0; i < h->nresponders; i++)
		if (!best || h->responders[i].acc.received > best->acc.received)
			best = &h->responders[i];
	return best;
}

size_t flows_bytes(const struct flows *f)
{
	size_t bytes;
	int i;

	if (!f)
		return 0;
	bytes = sizeof(*f);
	for (i = 0; i < f->n; i++)
		bytes += stats_table_bytes(f->t[i]);
	return bytes;
}
