/*
 * pacer: a reservation schedule rather than a token bucket that schedulers poll: each
 * booking moves the next free slot on by one period, so a thousand waiting traces each
 * sleep until their own slot instead of all waking for the same one.
 */
#include "client/pacer.h"

#include <errno.h>
#include <stdlib.h>

struct pacer {
	double period_us; /* 1e6 / rate */
	double next_us;	  /* the next free slot */
	double rate;
};

static int rate_ok(double rate)
{
	return rate >= PACER_RATE_MIN && rate <= PACER_RATE_MAX;
}

int pacer_new(struct pacer **out, double rate_pps)
{
	struct pacer *p;

	*out = NULL;
	if (!rate_ok(rate_pps))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rate = rate_pps;
	p->period_us = 1e6 / rate_pps;
	*out = p;
	return 0;
}

struct pacer *pacer_free(struct pacer *p)
{
	free(p);
	return NULL;
}

int pacer_set_rate(struct pacer *p, double rate_pps)
{
	if (!rate_ok(rate_pps))
		return -EINVAL;
	p->rate = rate_pps;
	p->period_us = 1e6 / rate_pps;
	return 0;
}

double pacer_rate(const struct pacer *p)
{
	return p->rate;
}

int64_t pacer_book(struct pacer *p, int64_t now_us)
{
	double slot;

	/* An idle budget is not hoarded: the schedule never lags the clock by much. */
	if (p->next_us < (double)now_us - PACER_SLACK_US)
		p->next_us = (double)now_us - PACER_SLACK_US;
	slot = p->next_us;
	p->next_us += p->period_us;
	return slot <= (double)now_us ? now_us : (int64_t)slot;
}

int64_t pacer_backlog_us(const struct pacer *p, int64_t now_us)
{
	double lag = p->next_us - (double)now_us;

	return lag > 0 ? (int64_t)lag : 0;
}
