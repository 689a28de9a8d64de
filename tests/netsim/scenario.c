/*
 * scenario: parser of netsim scenario files. One line is one statement; a "hop" or
 * "dest" line opens a block that the following attribute lines fill. The grammar is
 * documented in tests/netsim/README.md. Numbers are parsed by hand (fixed point for
 * milliseconds) so that results do not depend on the locale or on float rounding.
 */
#include "scenario.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define US_PER_MS	1000
#define MS_FRAC_DIGITS	3 /* milliseconds are given to the microsecond */
#define PROB_DIGITS_MAX 9
#define PERCENT		100.0
#define DECIMAL		10
#define IPV4_BITS	32
#define IPV6_BITS	128
#define BYTE_BITS	8

struct parser {
	struct scenario *s;
	struct scenario_hop *cur; /* block being filled, NULL before the first */
	int cur_is_dest;
	struct scenario_error *err;
	size_t line;
};

static int fail(struct parser *p, const char *reason)
{
	p->err->line = p->line;
	p->err->reason = reason;
	return -EINVAL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Unsigned decimal integer, whole token, at most max. */
static int parse_uint(const char *t, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*t)
		return -EINVAL;
	for (; *t; t++) {
		if (!is_digit(*t))
			return -EINVAL;
		uint64_t d = (uint64_t)(*t - '0');

		if (d > max || v > (max - d) / DECIMAL)
			return -ERANGE;
		v = v * DECIMAL + d;
	}
	*out = v;
	return 0;
}

/* Milliseconds with up to three decimals, to microseconds, at most SCENARIO_DELAY_MAX_US. */
static int parse_ms(const char *t, uint32_t *out_us)
{
	uint64_t ms = 0, frac = 0;
	int nfrac = 0, nint = 0;

	for (; is_digit(*t); t++, nint++) {
		ms = ms * DECIMAL + (uint64_t)(*t - '0');
		if (ms > SCENARIO_DELAY_MAX_US / US_PER_MS)
			return -ERANGE;
	}
	if (*t == '.') {
		for (t++; is_digit(*t); t++, nfrac++) {
			if (nfrac >= MS_FRAC_DIGITS)
				return -EINVAL;
			frac = frac * DECIMAL + (uint64_t)(*t - '0');
		}
		if (!nfrac)
			return -EINVAL;
	}
	if (*t || !nint)
		return -EINVAL;
	for (; nfrac < MS_FRAC_DIGITS; nfrac++)
		frac *= DECIMAL;
	ms = ms * US_PER_MS + frac;
	if (ms > SCENARIO_DELAY_MAX_US)
		return -ERANGE;
	*out_us = (uint32_t)ms;
	return 0;
}

/* A probability: "0.25" or "25%", in 0..1. */
static int parse_prob(const char *t, double *out)
{
	double v = 0, scale = 1;
	int n = 0, digits = 0;

	for (; is_digit(*t); t++, digits++) {
		if (digits >= PROB_DIGITS_MAX)
			return -EINVAL;
		v = v * DECIMAL + (*t - '0');
		n++;
	}
	if (*t == '.') {
		int frac = 0;

		for (t++; is_digit(*t); t++, frac++) {
			if (frac >= PROB_DIGITS_MAX)
				return -EINVAL;
			scale /= DECIMAL;
			v += (*t - '0') * scale;
		}
		if (!frac)
			return -EINVAL;
		n++;
	}
	if (!n)
		return -EINVAL;
	if (*t == '%') {
		v /= PERCENT;
		t++;
	}
	if (*t || v > 1.0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int tokenize(char *line, char **tok, size_t *ntok)
{
	size_t n = 0;
	char *c = line;

	for (;;) {
		while (is_space(*c))
			*c++ = '\0';
		if (!*c || *c == '#')
			break;
		if (n == SCENARIO_TOKENS_MAX)
			return -E2BIG;
		tok[n++] = c;
		while (*c && !is_space(*c) && *c != '#')
			c++;
		if (*c == '#') {
			*c = '\0';
			break;
		}
	}
	*ntok = n;
	return 0;
}

/* delay|local MS [uniform|normal MS] [spike PROB MS] */
static int parse_delay(struct parser *p, char **tok, size_t n, struct scenario_delay *d)
{
	size_t i = 2;

	memset(d, 0, sizeof(*d));
	if (n < 2 || parse_ms(tok[1], &d->base_us))
		return fail(p, "expected a delay in milliseconds");
	if (i < n && (!strcmp(tok[i], "uniform") || !strcmp(tok[i], "normal"))) {
		d->jitter = !strcmp(tok[i], "uniform") ? SCENARIO_JITTER_UNIFORM
						       : SCENARIO_JITTER_NORMAL;
		if (i + 1 >= n || parse_ms(tok[i + 1], &d->jitter_us))
			return fail(p, "expected a jitter width in milliseconds");
		i += 2;
	}
	if (i < n && !strcmp(tok[i], "spike")) {
		if (i + 2 >= n || parse_prob(tok[i + 1], &d->spike_prob) ||
		    parse_ms(tok[i + 2], &d->spike_us))
			return fail(p, "expected: spike PROBABILITY MILLISECONDS");
		i += 3;
	}
	if (i != n)
		return fail(p, "unexpected word after the delay");
	return 0;
}

static int parse_addr(struct parser *p, char **tok, size_t n)
{
	struct scenario_hop *h = p->cur;
	struct scenario_responder r;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.weight = 1;
	if (h->nresp == SCENARIO_RESPONDERS_MAX)
		return fail(p, "too many responders for one hop");
	for (i = 1; i < n; i++) {
		if (!strcmp(tok[i], "weight")) {
			uint64_t w;

			if (i + 1 >= n || parse_uint(tok[i + 1], SCENARIO_WEIGHT_MAX, &w) || !w)
				return fail(p, "weight must be 1..1000");
			r.weight = (uint32_t)w;
			i++;
		} else if (!r.has_v4 && inet_pton(AF_INET, tok[i], &r.v4) == 1) {
			r.has_v4 = 1;
		} else if (!r.has_v6 && inet_pton(AF_INET6, tok[i], &r.v6) == 1) {
			r.has_v6 = 1;
		} else {
			return fail(p, "expected at most one IPv4 and one IPv6 address");
		}
	}
	if (!r.has_v4 && !r.has_v6)
		return fail(p, "addr needs an address");
	h->resp[h->nresp++] = r;
	return 0;
}

/* LABEL[/EXP[/TTL]] */
static int parse_label(const char *t, struct scenario_mpls *m)
{
	char buf[SCENARIO_LINE_MAX + 1];
	char *part[3] = {buf, NULL, NULL};
	uint64_t v;
	size_t k = 1;
	char *c;

	if (strlen(t) > SCENARIO_LINE_MAX)
		return -EINVAL;
	strcpy(buf, t);
	for (c = buf; *c; c++) {
		if (*c == '/') {
			if (k == 3)
				return -EINVAL;
			*c = '\0';
			part[k++] = c + 1;
		}
	}
	if (parse_uint(part[0], SCENARIO_MPLS_LABEL_MAX, &v))
		return -EINVAL;
	m->label = (uint32_t)v;
	m->exp = 0;
	m->ttl = SCENARIO_MPLS_TTL_DEFAULT;
	if (part[1]) {
		if (parse_uint(part[1], SCENARIO_MPLS_EXP_MAX, &v))
			return -EINVAL;
		m->exp = (uint8_t)v;
	}
	if (part[2]) {
		if (parse_uint(part[2], SCENARIO_MPLS_TTL_MAX, &v))
			return -EINVAL;
		m->ttl = (uint8_t)v;
	}
	return 0;
}

static int parse_prefix(struct parser *p, char **tok, size_t n)
{
	struct scenario_prefix *px;
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash;
	uint64_t len;
	size_t alen, i;
	uint8_t *bytes;
	unsigned int bits;

	if (n != 2)
		return fail(p, "expected: prefix ADDRESS/LENGTH");
	if (p->s->nprefixes == SCENARIO_PREFIXES_MAX)
		return fail(p, "too many prefixes");
	px = &p->s->prefixes[p->s->nprefixes];
	slash = strchr(tok[1], '/');
	alen = slash ? (size_t)(slash - tok[1]) : 0;
	if (!slash || !alen || alen >= sizeof(buf))
		return fail(p, "expected: prefix ADDRESS/LENGTH");
	memcpy(buf, tok[1], alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, &px->addr.v4) == 1) {
		px->family = AF_INET;
		bits = IPV4_BITS;
		bytes = (uint8_t *)&px->addr.v4;
	} else if (inet_pton(AF_INET6, buf, &px->addr.v6) == 1) {
		px->family = AF_INET6;
		bits = IPV6_BITS;
		bytes = px->addr.v6.s6_addr;
	} else {
		return fail(p, "bad prefix address");
	}
	if (parse_uint(slash + 1, bits, &len))
		return fail(p, "bad prefix length");
	px->len = (unsigned int)len;
	for (i = 0; i < bits / BYTE_BITS; i++) {
		unsigned int keep = px->len > i * BYTE_BITS ? px->len - i * BYTE_BITS : 0;

		if (keep < BYTE_BITS)
			bytes[i] &= (uint8_t)(0xff00u >> keep);
	}
	p->s->nprefixes++;
	return 0;
}

static void hop_defaults(struct scenario_hop *h)
{
	memset(h, 0, sizeof(*h));
	h->reply_prob = 1.0;
}

static int dest_only(struct parser *p, const char *word)
{
	if (!p->cur_is_dest)
		return fail(p, "only valid in the dest block");
	(void)word;
	return 0;
}

static int parse_attr(struct parser *p, char **tok, size_t n)
{
	struct scenario_hop *h = p->cur;
	const char *w = tok[0];
	size_t i;
	uint64_t v;

	if (!h)
		return fail(p, "attribute outside a hop or dest block");
	if (!strcmp(w, "addr"))
		return parse_addr(p, tok, n);
	if (!strcmp(w, "delay"))
		return parse_delay(p, tok, n, &h->delay);
	if (!strcmp(w, "local"))
		return parse_delay(p, tok, n, &h->local);
	if (!strcmp(w, "reply")) {
		if (n != 2)
			return fail(p, "expected: reply always|never|PROBABILITY");
		if (!strcmp(tok[1], "always"))
			h->reply_prob = 1.0;
		else if (!strcmp(tok[1], "never"))
			h->reply_prob = 0.0;
		else if (parse_prob(tok[1], &h->reply_prob))
			return fail(p, "bad reply probability");
		return 0;
	}
	if (!strcmp(w, "ratelimit")) {
		if (n != 3 || parse_uint(tok[1], SCENARIO_RATE_MAX, &v) || !v)
			return fail(p, "expected: ratelimit PER_SECOND BURST");
		h->rate = (uint32_t)v;
		if (parse_uint(tok[2], SCENARIO_BURST_MAX, &v) || !v)
			return fail(p, "burst must be 1..10000000");
		h->burst = (uint32_t)v;
		return 0;
	}
	if (!strcmp(w, "loss")) {
		if (n != 2 || parse_prob(tok[1], &h->loss))
			return fail(p, "expected: loss PROBABILITY");
		return 0;
	}
	if (!strcmp(w, "mpls")) {
		if (n < 2 || n - 1 > SCENARIO_MPLS_MAX)
			return fail(p, "expected 1..4 labels: mpls LABEL[/EXP[/TTL]]...");
		for (i = 1; i < n; i++)
			if (parse_label(tok[i], &h->mpls[i - 1]))
				return fail(p, "bad MPLS label");
		h->nmpls = n - 1;
		return 0;
	}
	if (!strcmp(w, "ecmp")) {
		if (n == 2 && !strcmp(tok[1], "flow"))
			h->ecmp = SCENARIO_ECMP_FLOW;
		else if (n == 2 && !strcmp(tok[1], "packet"))
			h->ecmp = SCENARIO_ECMP_PACKET;
		else
			return fail(p, "expected: ecmp flow|packet");
		return 0;
	}
	if (!strcmp(w, "prefix"))
		return dest_only(p, w) ? -EINVAL : parse_prefix(p, tok, n);
	if (!strcmp(w, "icmp")) {
		if (dest_only(p, w))
			return -EINVAL;
		if (n == 2 && !strcmp(tok[1], "echo"))
			h->icmp = SCENARIO_ICMP_ECHO;
		else if (n == 2 && !strcmp(tok[1], "drop"))
			h->icmp = SCENARIO_ICMP_DROP;
		else
			return fail(p, "expected: icmp echo|drop");
		return 0;
	}
	if (!strcmp(w, "udp")) {
		if (dest_only(p, w))
			return -EINVAL;
		if (n == 2 && !strcmp(tok[1], "unreach"))
			h->udp = SCENARIO_UDP_UNREACH;
		else if (n == 2 && !strcmp(tok[1], "drop"))
			h->udp = SCENARIO_UDP_DROP;
		else
			return fail(p, "expected: udp unreach|drop");
		return 0;
	}
	if (!strcmp(w, "tcp")) {
		if (dest_only(p, w))
			return -EINVAL;
		if (n == 2 && !strcmp(tok[1], "rst"))
			h->tcp = SCENARIO_TCP_RST;
		else if (n == 2 && !strcmp(tok[1], "synack"))
			h->tcp = SCENARIO_TCP_SYNACK;
		else if (n == 2 && !strcmp(tok[1], "drop"))
			h->tcp = SCENARIO_TCP_DROP;
		else
			return fail(p, "expected: tcp synack|rst|drop");
		return 0;
	}
	return fail(p, "unknown word");
}

static int parse_line(struct parser *p, char *line)
{
	char *tok[SCENARIO_TOKENS_MAX];
	size_t n;
	uint64_t v;

	if (tokenize(line, tok, &n))
		return fail(p, "too many words on one line");
	if (!n)
		return 0;
	if (!strcmp(tok[0], "hop")) {
		if (n != 1)
			return fail(p, "hop takes no arguments");
		if (p->s->has_dest)
			return fail(p, "hop after dest");
		if (p->s->nhops == SCENARIO_HOPS_MAX)
			return fail(p, "too many hops");
		p->cur = &p->s->hops[p->s->nhops++];
		p->cur_is_dest = 0;
		hop_defaults(p->cur);
		return 0;
	}
	if (!strcmp(tok[0], "dest")) {
		if (n != 1)
			return fail(p, "dest takes no arguments");
		if (p->s->has_dest)
			return fail(p, "second dest block");
		p->s->has_dest = 1;
		p->cur = &p->s->dest;
		p->cur_is_dest = 1;
		hop_defaults(p->cur);
		return 0;
	}
	if (!strcmp(tok[0], "seed")) {
		if (n != 2 || parse_uint(tok[1], UINT64_MAX, &v))
			return fail(p, "expected: seed NUMBER");
		p->s->seed = v;
		return 0;
	}
	if (!strcmp(tok[0], "loop")) {
		if (n != 2 || parse_uint(tok[1], SCENARIO_HOPS_MAX, &v) || !v)
			return fail(p, "expected: loop HOP");
		p->s->loop_from = (size_t)v;
		return 0;
	}
	return parse_attr(p, tok, n);
}

int scenario_parse(const char *text, size_t len, struct scenario *out, struct scenario_error *err)
{
	struct parser p = {.s = out, .err = err};
	char line[SCENARIO_LINE_MAX + 1];
	size_t pos = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	err->line = 0;
	err->reason = NULL;
	if (len > SCENARIO_TEXT_MAX) {
		err->reason = "scenario too large";
		return -E2BIG;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		if (llen > SCENARIO_LINE_MAX)
			return fail(&p, "line too long");
		if (memchr(text + pos, '\0', llen))
			return fail(&p, "NUL byte");
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		rc = parse_line(&p, line);
		if (rc)
			return rc;
		pos += llen + (nl ? 1 : 0);
	}
	p.line = 0;
	if (out->loop_from) {
		if (out->loop_from > out->nhops)
			return fail(&p, "loop names a hop that does not exist");
	} else if (!out->has_dest) {
		return fail(&p, "no dest block (and no loop)");
	}
	if (out->has_dest && !out->dest.nresp && !out->nprefixes)
		return fail(&p, "dest needs an addr or a prefix");
	return 0;
}

static int prefix_match(const struct scenario_prefix *px, const uint8_t *a)
{
	const uint8_t *b =
		px->family == AF_INET ? (const uint8_t *)&px->addr.v4 : px->addr.v6.s6_addr;
	unsigned int full = px->len / BYTE_BITS, rest = px->len % BYTE_BITS;

	if (memcmp(a, b, full))
		return 0;
	return !rest || !((a[full] ^ b[full]) & (uint8_t)(0xff00u >> rest));
}

int scenario_is_dest(const struct scenario *s, int family, const void *addr)
{
	size_t i;

	if (!s->has_dest)
		return 0;
	for (i = 0; i < s->dest.nresp; i++) {
		const struct scenario_responder *r = &s->dest.resp[i];

		if (family == AF_INET && r->has_v4 && !memcmp(&r->v4, addr, sizeof(r->v4)))
			return 1;
		if (family == AF_INET6 && r->has_v6 && !memcmp(&r->v6, addr, sizeof(r->v6)))
			return 1;
	}
	for (i = 0; i < s->nprefixes; i++)
		if (s->prefixes[i].family == family && prefix_match(&s->prefixes[i], addr))
			return 1;
	return 0;
}
