/*
 * raw: mtr's raw_rawxmit/raw_rawhost/raw_rawping sequence, driven by the trace's send and
 * answer hooks. Memory grows with the hops that answered, not with the TTL limit.
 */
#include "client/raw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/report.h"

struct raw_hop {
	struct addr last;	      /* mtr's host[].addr */
	struct addr paths[RAW_PATHS]; /* mtr's host[].addrs */
	int named;		      /* a d line was printed */
};

struct raw_log {
	FILE *out;
	struct dns *dns;
	struct raw_hop *hops; /* index ttl - 1 */
	int nhops;
};

static unsigned int raw_seq(uint32_t seq)
{
	return RAW_SEQ_MIN + seq % (RAW_SEQ_END - RAW_SEQ_MIN);
}

int raw_log_new(struct raw_log **out, FILE *f, struct dns *dns)
{
	struct raw_log *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->out = f;
	r->dns = dns;
	*out = r;
	return 0;
}

struct raw_log *raw_log_free(struct raw_log *r)
{
	if (!r)
		return NULL;
	free(r->hops);
	free(r);
	return NULL;
}

void raw_log_set_output(struct raw_log *r, FILE *f)
{
	r->out = f;
}

static struct raw_hop *hop_at(struct raw_log *r, int ttl)
{
	struct raw_hop *grown;

	if (ttl < 1 || ttl > STATS_MAX_HOPS)
		return NULL;
	if (ttl > r->nhops) {
		grown = realloc(r->hops, (size_t)ttl * sizeof(*grown));
		if (!grown)
			return NULL;
		memset(grown + r->nhops, 0, (size_t)(ttl - r->nhops) * sizeof(*grown));
		r->hops = grown;
		r->nhops = ttl;
	}
	return &r->hops[ttl - 1];
}

int raw_log_sent(struct raw_log *r, int ttl, uint32_t seq)
{
	if (report_raw_xmit(r->out, ttl, raw_seq(seq)) || fflush(r->out))
		return -EIO;
	return 0;
}

int raw_log_answer(struct raw_log *r, int ttl, uint32_t seq, enum stats_outcome outcome,
		   const struct addr *from, int64_t rtt_us)
{
	struct raw_hop *h;
	const char *name;
	int rc = 0;
	size_t i;

	if (!from || outcome == STATS_LOST)
		return 0;
	h = hop_at(r, ttl);
	if (!h)
		return ttl < 1 || ttl > STATS_MAX_HOPS ? 0 : -ENOMEM;
	/*
	 * mtr's net_process_ping: a responder other than the hop's latest is printed when it
	 * joins the hop's list of paths and again as the new latest, so the first answer of
	 * a hop gives two h lines and every ECMP alternation one more.
	 */
	if (!addr_equal(&h->last, from)) {
		for (i = 0; i < RAW_PATHS && h->paths[i].family; i++)
			if (addr_equal(&h->paths[i], from))
				break;
		if (i < RAW_PATHS && !h->paths[i].family) {
			h->paths[i] = *from;
			rc |= report_raw_host(r->out, ttl, from);
		}
		h->last = *from;
		rc |= report_raw_host(r->out, ttl, from);
	}
	/* mtr's raw_rawping: the hop's name, once, before the first answer after it is known. */
	if (r->dns && !h->named) {
		name = dns_lookup(r->dns, &h->last);
		if (name) {
			h->named = 1;
			rc |= report_raw_dns(r->out, ttl, name);
		}
	}
	rc |= report_raw_ping(r->out, ttl, rtt_us, raw_seq(seq));
	if (!rc && fflush(r->out))
		rc = -EIO;
	return rc ? -EIO : 0;
}
