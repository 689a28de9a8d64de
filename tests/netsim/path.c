/*
 * path: walks a probe hop by hop through the scenario. Each node it passes adds its own
 * delay sample (so a step in latency at hop N stays for every later hop), may lose it
 * (real loss), and the node where the TTL runs out (or the destination) decides whether
 * and how to answer. Randomness comes from one xoshiro256** stream, so the same scenario
 * and the same probe sequence give the same fates.
 */
#include "path.h"

#include <math.h>
#include <string.h>
#include <sys/socket.h>

#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1  0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2  0x94d049bb133111ebULL
#define UNIT_BITS      53 /* mantissa bits of a double */
#define US_PER_S       1000000.0
#define TWO_PI	       6.283185307179586

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += SPLITMIX_GAMMA);

	z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
	z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t path_rand(struct path *p)
{
	uint64_t *s = p->rng;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double path_rand_unit(struct path *p)
{
	return (double)(path_rand(p) >> (64 - UNIT_BITS)) / (double)(1ULL << UNIT_BITS);
}

void path_init(struct path *p, const struct scenario *s)
{
	uint64_t x = s->seed;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->s = s;
	for (i = 0; i < 4; i++)
		p->rng[i] = splitmix(&x);
	for (i = 0; i <= SCENARIO_HOPS_MAX; i++)
		p->buckets[i].tokens = -1; /* full on first use */
}

/* A draw in [0, 1) from one node's stream. */
static double unit(uint64_t *stream)
{
	return (double)(splitmix(stream) >> (64 - UNIT_BITS)) / (double)(1ULL << UNIT_BITS);
}

/* Standard normal by Box-Muller (one of the pair; simplicity over speed). */
static double normal(uint64_t *stream)
{
	double u1 = 1.0 - unit(stream), u2 = unit(stream);

	return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

/* One delay sample in microseconds; may be negative when jitter exceeds base. */
static double sample(uint64_t *stream, const struct scenario_delay *d)
{
	double v = d->base_us;

	switch (d->jitter) {
	case SCENARIO_JITTER_UNIFORM:
		v += (2.0 * unit(stream) - 1.0) * d->jitter_us;
		break;
	case SCENARIO_JITTER_NORMAL:
		v += normal(stream) * d->jitter_us;
		break;
	case SCENARIO_JITTER_NONE:
		break;
	}
	if (d->spike_prob > 0 && unit(stream) < d->spike_prob)
		v += d->spike_us;
	return v;
}

/* The node at position pos (1-based), or NULL past the end; *node gets its number. */
static const struct scenario_hop *node_at(const struct scenario *s, size_t pos, size_t *node)
{
	if (pos <= s->nhops) {
		*node = pos;
		return &s->hops[pos - 1];
	}
	if (s->loop_from) {
		size_t cycle = s->nhops - s->loop_from + 1;

		*node = s->loop_from + (pos - s->nhops - 1) % cycle;
		return &s->hops[*node - 1];
	}
	*node = 0;
	return pos == s->nhops + 1 ? &s->dest : NULL;
}

static int bucket_take(struct path_bucket *b, const struct scenario_hop *h, uint64_t now_us)
{
	if (!h->rate)
		return 1;
	if (b->tokens < 0) {
		b->tokens = h->burst;
	} else if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) * h->rate / US_PER_S;
		if (b->tokens > h->burst)
			b->tokens = h->burst;
	}
	b->last_us = now_us;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

static size_t pick_responder(struct path *p, const struct scenario_hop *h, uint64_t flow,
			     size_t pos, uint64_t *st)
{
	uint64_t total = 0, r, x;
	size_t i;

	if (h->nresp <= 1)
		return 0;
	for (i = 0; i < h->nresp; i++)
		total += h->resp[i].weight;
	if (h->ecmp == SCENARIO_ECMP_PACKET) {
		r = splitmix(st) % total;
	} else {
		/* Each position hashes independently, as separate routers would. */
		x = flow ^ p->s->seed ^ (pos * SPLITMIX_GAMMA);
		r = splitmix(&x) % total;
	}
	for (i = 0; i < h->nresp; i++) {
		if (r < h->resp[i].weight)
			return i;
		r -= h->resp[i].weight;
	}
	return h->nresp - 1;
}

static int has_family(const struct scenario_responder *r, int family)
{
	return family == AF_INET ? r->has_v4 : r->has_v6;
}

static enum path_fate dest_kind(const struct scenario_hop *d, enum path_proto proto,
				enum path_kind *kind)
{
	switch (proto) {
	case PATH_PROTO_ICMP:
		*kind = PATH_KIND_ECHO_REPLY;
		return d->icmp == SCENARIO_ICMP_DROP ? PATH_FATE_DROPPED : PATH_FATE_ANSWER;
	case PATH_PROTO_UDP:
		*kind = PATH_KIND_PORT_UNREACH;
		return d->udp == SCENARIO_UDP_DROP ? PATH_FATE_DROPPED : PATH_FATE_ANSWER;
	case PATH_PROTO_TCP:
		*kind = d->tcp == SCENARIO_TCP_SYNACK ? PATH_KIND_TCP_SYNACK : PATH_KIND_TCP_RST;
		return d->tcp == SCENARIO_TCP_DROP ? PATH_FATE_DROPPED : PATH_FATE_ANSWER;
	}
	return PATH_FATE_DROPPED;
}

/* The answer is held for rtt (µs, clamped to what a delay can hold). */
static void answer_after(struct path_result *out, double rtt)
{
	out->delay_us = rtt <= 0 ? 0 : rtt >= UINT32_MAX ? UINT32_MAX : (uint32_t)(rtt + 0.5);
}

void path_decide(struct path *p, const struct path_probe *pr, uint64_t now_us,
		 struct path_result *out)
{
	const struct scenario *s = p->s;
	const struct scenario_hop *h = NULL;
	size_t pos, last, node = 0;
	double rtt = 0;
	uint64_t st;

	memset(out, 0, sizeof(*out));
	if (!pr->ttl || !scenario_is_dest(s, pr->family, pr->dst)) {
		out->fate = PATH_FATE_NOROUTE;
		return;
	}
	/* This probe's own stream: (seed, TTL, how many probes had this TTL before). */
	st = s->seed ^ ((uint64_t)pr->ttl * SPLITMIX_MUL1);
	st = splitmix(&st) ^ (p->count[pr->ttl]++ * SPLITMIX_MUL2);
	last = s->loop_from ? pr->ttl : (pr->ttl <= s->nhops ? pr->ttl : s->nhops + 1);
	for (pos = 1; pos <= last; pos++) {
		h = node_at(s, pos, &node);
		if (h->loss > 0 && unit(&st) < h->loss) {
			out->fate = PATH_FATE_LOST;
			out->pos = pos;
			out->node = node;
			out->hop = h;
			return;
		}
		rtt += sample(&st, &h->delay);
	}
	out->pos = last;
	out->node = node;
	out->hop = h;
	out->resp = pick_responder(p, h, pr->flow, last, &st);
	if (node) {
		out->kind = PATH_KIND_TTL_EXCEEDED;
		out->fate = PATH_FATE_ANSWER;
		if (!h->nresp || !has_family(&h->resp[out->resp], pr->family)) {
			out->fate = PATH_FATE_NOADDR;
			return;
		}
	} else {
		out->fate = dest_kind(h, pr->proto, &out->kind);
		if (out->fate != PATH_FATE_ANSWER)
			return;
		/*
		 * reply and ratelimit model a host's ICMP throttling: a TCP RST or SYN-ACK is
		 * not ICMP, and a real host's ICMP limits never hold it back.
		 */
		if (pr->proto == PATH_PROTO_TCP) {
			answer_after(out, rtt + sample(&st, &h->local));
			return;
		}
	}
	if (h->reply_prob < 1.0 && !(unit(&st) < h->reply_prob)) {
		out->fate = PATH_FATE_SILENT;
		return;
	}
	if (!bucket_take(&p->buckets[node], h, now_us)) {
		out->fate = PATH_FATE_RATELIMITED;
		return;
	}
	answer_after(out, rtt + sample(&st, &h->local));
}

const char *path_fate_name(enum path_fate f)
{
	switch (f) {
	case PATH_FATE_ANSWER:
		return "answer";
	case PATH_FATE_LOST:
		return "lost";
	case PATH_FATE_SILENT:
		return "silent";
	case PATH_FATE_NOADDR:
		return "noaddr";
	case PATH_FATE_RATELIMITED:
		return "ratelimited";
	case PATH_FATE_DROPPED:
		return "dropped";
	case PATH_FATE_NOROUTE:
		return "noroute";
	}
	return "?";
}

const char *path_kind_name(enum path_kind k)
{
	switch (k) {
	case PATH_KIND_TTL_EXCEEDED:
		return "ttl-exceeded";
	case PATH_KIND_ECHO_REPLY:
		return "echo-reply";
	case PATH_KIND_PORT_UNREACH:
		return "port-unreach";
	case PATH_KIND_TCP_SYNACK:
		return "tcp-synack";
	case PATH_KIND_TCP_RST:
		return "tcp-rst";
	}
	return "?";
}
