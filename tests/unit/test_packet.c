/*
 * test_packet: probes are checked against an independent, slow checksum and by hand
 * against the header layouts; replies are built here byte by byte (not with the module
 * under test) and must parse back to every field, also when cut short or lying about
 * their lengths.
 */
#include "daemon/packet.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BIG	   (PACKET_SIZE_MAX + 64)
#define PSEUDO_MAX 40
#define QUOTE_PAD  128 /* RFC 4884 minimum original-datagram length */
#define ROUTER_TTL 61
#define QUOTED_TTL 1

static uint8_t buf[BIG];
static uint8_t pkt[BIG];
static uint8_t scratch[BIG + PSEUDO_MAX];

static const char *const src4 = "192.0.2.1";
static const char *const dst4 = "203.0.113.9";
static const char *const rtr4 = "198.51.100.7";
static const char *const src6 = "2001:db8::1";
static const char *const dst6 = "2001:db8:2::9";
static const char *const rtr6 = "2001:db8:1::7";

static union addr_ip addr(int family, const char *s)
{
	union addr_ip a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(family, s, &a), 1);
	return a;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/*
 * The slow way: one's complement addition word by word with the end-around carry
 * applied at every step, over pseudo-header and data copied into one buffer.
 */
static uint16_t slow_sum(const uint8_t *pseudo, size_t plen, const uint8_t *data, size_t len)
{
	size_t n = plen + len, i;
	uint32_t s = 0;

	if (plen)
		memcpy(scratch, pseudo, plen);
	memcpy(scratch + plen, data, len);
	if (n & 1)
		scratch[n++] = 0;
	for (i = 0; i < n; i += 2) {
		s += (uint32_t)(scratch[i] << 8 | scratch[i + 1]);
		if (s > 0xffff)
			s -= 0xffff;
	}
	return (uint16_t)s;
}

static size_t pseudo(int family, int wire_proto, const union addr_ip *s, const union addr_ip *d,
		     size_t len, uint8_t *out)
{
	if (family == AF_INET) {
		if (wire_proto == IPPROTO_ICMP)
			return 0;
		memcpy(out, &s->v4, 4);
		memcpy(out + 4, &d->v4, 4);
		out[8] = 0;
		out[9] = (uint8_t)wire_proto;
		wr16(out + 10, (uint16_t)len);
		return 12;
	}
	memcpy(out, &s->v6, 16);
	memcpy(out + 16, &d->v6, 16);
	wr32(out + 32, (uint32_t)len);
	out[36] = out[37] = out[38] = 0;
	out[39] = (uint8_t)wire_proto;
	return 40;
}

static int wire(int family, int protocol)
{
	if (protocol == IPPROTO_ICMP && family == AF_INET6)
		return IPPROTO_ICMPV6;
	return protocol;
}

static size_t check_off(int protocol)
{
	return protocol == IPPROTO_UDP ? 6 : protocol == IPPROTO_TCP ? 16 : 2;
}

static void set_probe(struct packet_probe *p, int family, int protocol, size_t size)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->protocol = protocol;
	p->src = addr(family, family == AF_INET ? src4 : src6);
	p->dst = addr(family, family == AF_INET ? dst4 : dst6);
	p->ttl = 7;
	p->tos = 0x10;
	p->ip_id = 0x1234;
	p->size = size;
	p->pattern = 0xa5;
	p->icmp_id = 0xbeef;
	p->icmp_seq = 33001;
	p->src_port = 40001;
	p->dst_port = 33434;
	p->tcp_seq = 0xdeadbeef;
}

/* Check every field of a built probe and that its checksums verify independently. */
static void check_built(const struct packet_probe *p, const uint8_t *b, int n)
{
	size_t ip = p->family == AF_INET ? 20 : 0;
	size_t total =
		p->protocol == IPPROTO_TCP ? packet_min_size(p->family, p->protocol) : p->size;
	size_t l4len = (size_t)n - ip, i;
	const uint8_t *l4 = b + ip;
	uint8_t ph[PSEUDO_MAX];
	size_t plen;
	int w = wire(p->family, p->protocol);
	uint16_t field, slow;

	if (total < packet_min_size(p->family, p->protocol))
		total = packet_min_size(p->family, p->protocol);
	assert_int_equal(n, p->family == AF_INET ? total : total - 40);

	if (p->family == AF_INET) {
		assert_int_equal(b[0], 0x45);
		assert_int_equal(b[1], p->tos);
		assert_int_equal(rd16(b + 2), total);
		assert_int_equal(rd16(b + 4), p->ip_id);
		assert_int_equal(rd16(b + 6), 0);
		assert_int_equal(b[8], p->ttl);
		assert_int_equal(b[9], w);
		assert_memory_equal(b + 12, &p->src.v4, 4);
		assert_memory_equal(b + 16, &p->dst.v4, 4);
		assert_int_equal(slow_sum(NULL, 0, b, 20), 0xffff);
	}
	switch (p->protocol) {
	case IPPROTO_ICMP:
		assert_int_equal(l4[0], p->family == AF_INET ? 8 : 128);
		assert_int_equal(l4[1], 0);
		assert_int_equal(rd16(l4 + 4), p->icmp_id);
		assert_int_equal(rd16(l4 + 6), p->icmp_seq);
		break;
	case IPPROTO_UDP:
		assert_int_equal(rd16(l4), p->src_port);
		assert_int_equal(rd16(l4 + 2), p->dst_port);
		assert_int_equal(rd16(l4 + 4), l4len);
		break;
	case IPPROTO_TCP:
		assert_int_equal(l4len, 20);
		assert_int_equal(rd16(l4), p->src_port);
		assert_int_equal(rd16(l4 + 2), p->dst_port);
		assert_int_equal(rd32(l4 + 4), p->tcp_seq);
		assert_int_equal(rd32(l4 + 8), 0);
		assert_int_equal(l4[12] >> 4, 5);
		assert_int_equal(l4[13], 0x02);
		assert_int_equal(rd16(l4 + 14), 65535);
		assert_int_equal(rd16(l4 + 18), 0);
		break;
	default:
		fail();
	}
	if (p->protocol != IPPROTO_TCP) {
		for (i = 8; i < l4len; i++) {
			if (p->force_check && (i == 8 || i == 9))
				continue;
			assert_int_equal(l4[i], p->pattern);
		}
	}

	plen = pseudo(p->family, w, &p->src, &p->dst, l4len, ph);
	field = rd16(l4 + check_off(p->protocol));
	if (p->protocol == IPPROTO_UDP && p->family == AF_INET && field == 0) {
		/* "no checksum": only allowed when asked for */
		assert_true(p->force_check && p->check_value == 0);
		return;
	}
	assert_int_equal(slow_sum(ph, plen, l4, l4len), 0xffff);
	if (p->force_check && p->protocol != IPPROTO_TCP) {
		assert_int_equal(field, p->check_value);
		return;
	}
	memcpy(pkt, l4, l4len);
	wr16(pkt + check_off(p->protocol), 0);
	slow = (uint16_t)~slow_sum(ph, plen, pkt, l4len);
	if (p->protocol == IPPROTO_UDP && slow == 0)
		slow = 0xffff;
	assert_int_equal(field, slow);
}

static const int families[] = {AF_INET, AF_INET6};
static const int protocols[] = {IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_TCP};
static const size_t sizes[] = {0, 30, 31, 50, 51, 64, 65, 100, 101, 1500, 1501};

static void test_min_size(void **state)
{
	(void)state;
	assert_int_equal(packet_min_size(AF_INET, IPPROTO_ICMP), 30);
	assert_int_equal(packet_min_size(AF_INET, IPPROTO_UDP), 30);
	assert_int_equal(packet_min_size(AF_INET, IPPROTO_TCP), 40);
	assert_int_equal(packet_min_size(AF_INET6, IPPROTO_ICMP), 50);
	assert_int_equal(packet_min_size(AF_INET6, IPPROTO_ICMPV6), 50);
	assert_int_equal(packet_min_size(AF_INET6, IPPROTO_UDP), 50);
	assert_int_equal(packet_min_size(AF_INET6, IPPROTO_TCP), 60);
	assert_int_equal(packet_min_size(AF_INET, IPPROTO_ICMPV6), 0);
	assert_int_equal(packet_min_size(AF_UNIX, IPPROTO_UDP), 0);
	assert_int_equal(packet_min_size(AF_INET, IPPROTO_SCTP), 0);
}

static void test_build_all(void **state)
{
	struct packet_probe p;
	size_t f, pr, s;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 3; pr++) {
			for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
				set_probe(&p, families[f], protocols[pr], sizes[s]);
				n = packet_build(&p, buf, sizeof(buf));
				assert_true(n > 0);
				check_built(&p, buf, n);
			}
		}
	}
}

/* Also with other field values: zero ports/ids, tos 0, ttl 255, pattern 0. */
static void test_build_other_values(void **state)
{
	struct packet_probe p;
	size_t f, pr;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 3; pr++) {
			set_probe(&p, families[f], protocols[pr], 77);
			p.ttl = 255;
			p.tos = 0;
			p.pattern = 0;
			p.icmp_id = 0;
			p.icmp_seq = 0xffff;
			p.src_port = 65535;
			p.dst_port = 1;
			p.tcp_seq = 0;
			p.ip_id = 0;
			n = packet_build(&p, buf, sizeof(buf));
			assert_true(n > 0);
			check_built(&p, buf, n);
		}
	}
}

static void test_build_icmpv6_synonym(void **state)
{
	struct packet_probe p;
	int n;

	(void)state;
	set_probe(&p, AF_INET6, IPPROTO_ICMPV6, 64);
	n = packet_build(&p, buf, sizeof(buf));
	assert_int_equal(n, 24);
	assert_int_equal(buf[0], 128);
	p.protocol = IPPROTO_ICMP;
	check_built(&p, buf, n);
	set_probe(&p, AF_INET, IPPROTO_ICMPV6, 64);
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EINVAL);
}

static const uint16_t check_values[] = {0x0000, 0x0001, 0x0002, 0x00ff, 0x0100, 0x7fff,
					0x8000, 0x8001, 0xa5a5, 0xfeff, 0xfffe, 0xffff};

static void test_forced_check(void **state)
{
	struct packet_probe p;
	size_t f, pr, s, c;
	int n;
	static const size_t fsizes[] = {0, 51, 52, 99, 1500};
	static const int fprotos[] = {IPPROTO_ICMP, IPPROTO_UDP};

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 2; pr++) {
			for (s = 0; s < sizeof(fsizes) / sizeof(fsizes[0]); s++) {
				for (c = 0; c < sizeof(check_values) / sizeof(check_values[0]);
				     c++) {
					set_probe(&p, families[f], fprotos[pr], fsizes[s]);
					if (p.size < packet_min_size(p.family, p.protocol))
						p.size = packet_min_size(p.family, p.protocol);
					p.force_check = 1;
					p.check_value = check_values[c];
					n = packet_build(&p, buf, sizeof(buf));
					if (p.family == AF_INET6 && p.protocol == IPPROTO_UDP &&
					    p.check_value == 0) {
						assert_int_equal(n, -EINVAL);
						continue;
					}
					assert_true(n > 0);
					check_built(&p, buf, n);
				}
			}
		}
	}
}

/* Exhaustive over all 65536 values for one probe of each kind. */
static void test_forced_check_every_value(void **state)
{
	struct packet_probe p;
	size_t f, pr;
	uint32_t v;
	uint8_t ph[PSEUDO_MAX];
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 2; pr++) {
			int proto = pr ? IPPROTO_UDP : IPPROTO_ICMP;

			for (v = 0; v <= 0xffff; v++) {
				size_t ip = families[f] == AF_INET ? 20 : 0, plen;

				set_probe(&p, families[f], proto, 61);
				p.force_check = 1;
				p.check_value = (uint16_t)v;
				n = packet_build(&p, buf, sizeof(buf));
				if (v == 0 && proto == IPPROTO_UDP) {
					if (families[f] == AF_INET6)
						assert_int_equal(n, -EINVAL);
					else
						assert_int_equal(rd16(buf + ip + 6), 0);
					continue;
				}
				assert_true(n > 0);
				assert_int_equal(rd16(buf + ip + check_off(proto)), v);
				plen = pseudo(p.family, wire(p.family, proto), &p.src, &p.dst,
					      (size_t)n - ip, ph);
				assert_int_equal(slow_sum(ph, plen, buf + ip, (size_t)n - ip),
						 0xffff);
			}
		}
	}
}

static void test_tcp_ignores_size_and_force(void **state)
{
	struct packet_probe p;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_TCP, 1000);
	p.force_check = 1;
	p.check_value = 0;
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), 40);
	check_built(&p, buf, 40);
	set_probe(&p, AF_INET6, IPPROTO_TCP, PACKET_SIZE_MAX + 1);
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), 20);
}

static void test_size_limits(void **state)
{
	struct packet_probe p;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, PACKET_SIZE_MAX);
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), PACKET_SIZE_MAX);
	check_built(&p, buf, PACKET_SIZE_MAX);
	p.size = PACKET_SIZE_MAX + 1;
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EMSGSIZE);
	set_probe(&p, AF_INET6, IPPROTO_ICMP, PACKET_SIZE_MAX);
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), PACKET_SIZE_MAX - 40);
	check_built(&p, buf, PACKET_SIZE_MAX - 40);
	p.size = PACKET_SIZE_MAX + 1;
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EMSGSIZE);
	p.size = (size_t)-1;
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EMSGSIZE);

	/* cap: exactly enough works, one less does not and writes nothing */
	set_probe(&p, AF_INET, IPPROTO_ICMP, 100);
	assert_int_equal(packet_build(&p, buf, 100), 100);
	memset(buf, 0x33, 200);
	assert_int_equal(packet_build(&p, buf, 99), -EMSGSIZE);
	assert_int_equal(buf[0], 0x33);
	set_probe(&p, AF_INET6, IPPROTO_ICMP, 100);
	assert_int_equal(packet_build(&p, buf, 60), 60);
	assert_int_equal(packet_build(&p, buf, 59), -EMSGSIZE);
	/* clamped up to the minimum, which then must fit */
	set_probe(&p, AF_INET, IPPROTO_UDP, 1);
	assert_int_equal(packet_build(&p, buf, 29), -EMSGSIZE);
	assert_int_equal(packet_build(&p, buf, 30), 30);
	set_probe(&p, AF_INET, IPPROTO_TCP, 0);
	assert_int_equal(packet_build(&p, buf, 39), -EMSGSIZE);
}

/*
 * Checksums of fixed probes, computed by a separate Python implementation (the one
 * that generated tests/fuzz/corpus/packet): 30 bytes of L4, pattern 0xa5.
 */
static void test_known_answers(void **state)
{
	static const uint16_t want[2][3] = {{0x9a08, 0xc4ac, 0x77a8}, {0xc631, 0x673a, 0x1a36}};
	struct packet_probe p;
	size_t f, pr, ip;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 3; pr++) {
			set_probe(&p, families[f], protocols[pr], families[f] == AF_INET ? 50 : 70);
			p.dst_port = protocols[pr] == IPPROTO_TCP ? 80 : 33434;
			ip = families[f] == AF_INET ? 20 : 0;
			n = packet_build(&p, buf, sizeof(buf));
			assert_true(n > 0);
			assert_int_equal(rd16(buf + ip + check_off(protocols[pr])), want[f][pr]);
		}
	}
}

/* A UDP checksum that computes to zero must go out as 0xffff (zero means "none"). */
static void test_udp_zero_checksum(void **state)
{
	struct packet_probe p;
	size_t f, ip;
	uint16_t c;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		ip = families[f] == AF_INET ? 20 : 0;
		set_probe(&p, families[f], IPPROTO_UDP, 64);
		p.src_port = 0;
		n = packet_build(&p, buf, sizeof(buf));
		assert_true(n > 0);
		c = rd16(buf + ip + 6);
		/* raising the sum by exactly the checksum makes it all ones: ~sum == 0 */
		p.src_port = c;
		n = packet_build(&p, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(rd16(buf + ip + 6), 0xffff);
		check_built(&p, buf, n);
	}
}

static void test_build_invalid(void **state)
{
	struct packet_probe p;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	p.family = AF_UNIX;
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EINVAL);
	set_probe(&p, AF_INET, 47, 64);
	assert_int_equal(packet_build(&p, buf, sizeof(buf)), -EINVAL);
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	assert_int_equal(packet_build(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(packet_build(&p, NULL, sizeof(buf)), -EINVAL);
}

static void test_sum_fold(void **state)
{
	/* RFC 1071 section 3 example */
	static const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	static const uint8_t odd[] = {0x12, 0x34, 0x56};

	(void)state;
	assert_int_equal(packet_fold(packet_sum(0, ex, sizeof(ex))), 0xddf2);
	/* chained in even pieces gives the same */
	assert_int_equal(packet_fold(packet_sum(packet_sum(0, ex, 2), ex + 2, 6)), 0xddf2);
	assert_int_equal(packet_sum(0, odd, 3), 0x1234 + 0x5600);
	assert_int_equal(packet_fold(0x1fffe), 0xffff);
	assert_int_equal(packet_fold(0xffffffff), 0xffff);
	assert_int_equal(packet_fold(0x10000), 0x0001);
	assert_int_equal(packet_fold(0), 0);
	assert_int_equal(packet_sum(0, ex, 0), 0);
	assert_true(packet_sum(0xffffffff, ex, sizeof(ex)) <= 0xffff);
}

/* ---- replies, built by hand ---- */

static size_t ip4_hdr(uint8_t *o, size_t total, uint8_t ttl, uint8_t proto, const char *s,
		      const char *d)
{
	union addr_ip a = addr(AF_INET, s), b = addr(AF_INET, d);

	memset(o, 0, 20);
	o[0] = 0x45;
	wr16(o + 2, (uint16_t)total);
	o[8] = ttl;
	o[9] = proto;
	memcpy(o + 12, &a.v4, 4);
	memcpy(o + 16, &b.v4, 4);
	wr16(o + 10, (uint16_t)~slow_sum(NULL, 0, o, 20));
	return 20;
}

static size_t ip6_hdr(uint8_t *o, size_t plen, uint8_t hlim, uint8_t nh, const char *s,
		      const char *d)
{
	union addr_ip a = addr(AF_INET6, s), b = addr(AF_INET6, d);

	memset(o, 0, 40);
	o[0] = 0x60;
	wr16(o + 4, (uint16_t)plen);
	o[6] = nh;
	o[7] = hlim;
	memcpy(o + 8, &a.v6, 16);
	memcpy(o + 24, &b.v6, 16);
	return 40;
}

/*
 * Make an IPv4 reply's checksums right again after a test edited it: the IP header's,
 * and the ICMP or TCP one when the total length says the whole message is there.
 * IPv6 replies reach packet_parse() without their header, so nothing is checked there.
 */
static void reseal(int family, uint8_t *o, size_t n)
{
	size_t hl = (size_t)(o[0] & 0x0f) * 4, tot, l4;
	uint8_t ph[PSEUDO_MAX];
	union addr_ip s, d;

	if (family != AF_INET || n < 20 || hl < 20 || hl > n)
		return;
	wr16(o + 10, 0);
	wr16(o + 10, (uint16_t)~slow_sum(NULL, 0, o, hl));
	tot = rd16(o + 2);
	if (tot > n || tot < hl)
		return;
	l4 = tot - hl;
	if (o[9] == IPPROTO_ICMP && l4 >= 8) {
		wr16(o + hl + 2, 0);
		wr16(o + hl + 2, (uint16_t)~slow_sum(NULL, 0, o + hl, l4));
	} else if (o[9] == IPPROTO_TCP && l4 >= 20) {
		memset(&s, 0, sizeof(s));
		memset(&d, 0, sizeof(d));
		memcpy(&s.v4, o + 12, 4);
		memcpy(&d.v4, o + 16, 4);
		wr16(o + hl + 16, 0);
		wr16(o + hl + 16,
		     (uint16_t)~slow_sum(ph, pseudo(AF_INET, IPPROTO_TCP, &s, &d, l4, ph), o + hl,
					 l4));
	}
}

/*
 * The quote a router sends back: the probe as it arrived (IPv4 with TTL 1, IPv6 with
 * a header prepended), padded to pad bytes when pad is larger.
 */
static size_t make_quote(const struct packet_probe *p, uint8_t *q, size_t pad)
{
	int n = packet_build(p, buf, sizeof(buf));
	size_t len;

	assert_true(n > 0);
	if (p->family == AF_INET) {
		memcpy(q, buf, (size_t)n);
		q[8] = QUOTED_TTL;
		len = (size_t)n;
	} else {
		ip6_hdr(q, (size_t)n, QUOTED_TTL, (uint8_t)wire(AF_INET6, p->protocol), src6, dst6);
		memcpy(q + 40, buf, (size_t)n);
		len = (size_t)n + 40;
	}
	if (len < pad) {
		memset(q + len, 0, pad - len);
		len = pad;
	}
	return len;
}

/* RFC 4884 extension structure with one MPLS object of n entries. */
static size_t make_mpls_ext(uint8_t *o, const uint32_t *labels, size_t n)
{
	size_t i, len = 8 + 4 * n;

	memset(o, 0, len);
	o[0] = 0x20;
	wr16(o + 4, (uint16_t)(4 + 4 * n));
	o[6] = 1;
	o[7] = 1;
	for (i = 0; i < n; i++) {
		uint32_t v = labels[i] << 12 | (uint32_t)(i % 8) << 9 |
			     (uint32_t)(i == n - 1) << 8 | (uint32_t)(250 - i);

		wr32(o + 8 + 4 * i, v);
	}
	wr16(o + 2, (uint16_t)~slow_sum(NULL, 0, o, len));
	return len;
}

/*
 * ICMP error/echo message: header (type, code, RFC 4884 length byte), body, checksum.
 * IPv4 gets the outer IPv4 header from the router; IPv6 is just the ICMPv6 message.
 */
static size_t make_icmp(int family, uint8_t *o, uint8_t type, uint8_t code, uint8_t words,
			const uint8_t *body, size_t blen)
{
	size_t ip = family == AF_INET ? 20 : 0;
	uint8_t *m = o + ip;
	uint8_t ph[PSEUDO_MAX];
	union addr_ip r = addr(family, family == AF_INET ? rtr4 : rtr6);
	union addr_ip s = addr(family, family == AF_INET ? src4 : src6);
	size_t plen;

	memset(m, 0, 8);
	m[0] = type;
	m[1] = code;
	m[family == AF_INET ? 5 : 4] = words;
	memcpy(m + 8, body, blen);
	plen = pseudo(family, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, &r, &s, 8 + blen,
		      ph);
	wr16(m + 2, (uint16_t)~slow_sum(ph, plen, m, 8 + blen));
	if (family == AF_INET)
		ip4_hdr(o, 20 + 8 + blen, ROUTER_TTL, IPPROTO_ICMP, rtr4, src4);
	return ip + 8 + blen;
}

static int parse(int family, int ipproto, const uint8_t *b, size_t len, struct packet_reply *r)
{
	union addr_ip from = addr(family, family == AF_INET ? "192.0.2.200" : rtr6);

	return packet_parse(family, ipproto, b, len, &from, family == AF_INET6 ? 57 : -1, r);
}

static int icmp_sock(int family)
{
	return family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

static void check_responder(const struct packet_reply *r, int family)
{
	union addr_ip a = addr(family, family == AF_INET ? rtr4 : rtr6);

	assert_int_equal(r->family, family);
	if (family == AF_INET) {
		/* from the IP header, not the caller's "from" */
		assert_memory_equal(&r->responder.v4, &a.v4, 4);
		assert_int_equal(r->reply_ttl, ROUTER_TTL);
	} else {
		assert_memory_equal(&r->responder.v6, &a.v6, 16);
		assert_int_equal(r->reply_ttl, 57);
	}
}

/* The quoted probe fields in r must be those of p. */
static void check_probe_fields(const struct packet_reply *r, const struct packet_probe *p)
{
	size_t alen = p->family == AF_INET ? 4 : 16;
	size_t ip = p->family == AF_INET ? 20 : 0;

	assert_int_equal(r->probe_protocol, p->protocol);
	assert_int_equal(r->has_probe_src, 1);
	assert_memory_equal(&r->probe_src, &p->src, alen);
	assert_memory_equal(&r->probe_dst, &p->dst, alen);
	assert_int_equal(r->quoted_ttl, QUOTED_TTL);
	switch (p->protocol) {
	case IPPROTO_ICMP:
		assert_int_equal(r->icmp_id, p->icmp_id);
		assert_int_equal(r->icmp_seq, p->icmp_seq);
		assert_int_equal(r->check, rd16(buf + ip + 2));
		if (p->force_check)
			assert_int_equal(r->check, p->check_value);
		break;
	case IPPROTO_UDP:
		assert_int_equal(r->src_port, p->src_port);
		assert_int_equal(r->dst_port, p->dst_port);
		assert_int_equal(r->check, rd16(buf + ip + 6));
		if (p->force_check)
			assert_int_equal(r->check, p->check_value);
		break;
	case IPPROTO_TCP:
		assert_int_equal(r->src_port, p->src_port);
		assert_int_equal(r->dst_port, p->dst_port);
		assert_int_equal(r->tcp_seq, p->tcp_seq);
		break;
	default:
		fail();
	}
}

static void test_echo_reply(void **state)
{
	struct packet_reply r;
	uint8_t body[56];
	size_t f, n;

	(void)state;
	memset(body, 0x42, sizeof(body));
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		n = make_icmp(fam, pkt, fam == AF_INET ? 0 : 129, 0, 0, body, sizeof(body));
		/* id and seq live in the ICMP header's second word */
		wr16(pkt + (fam == AF_INET ? 24 : 4), 0x4242);
		wr16(pkt + (fam == AF_INET ? 26 : 6), 17);
		reseal(fam, pkt, n);
		assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
		assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
		check_responder(&r, fam);
		assert_int_equal(r.icmp_type, fam == AF_INET ? 0 : 129);
		assert_int_equal(r.probe_protocol, IPPROTO_ICMP);
		assert_int_equal(r.icmp_id, 0x4242);
		assert_int_equal(r.icmp_seq, 17);
		assert_int_equal(r.check, 0);
		assert_int_equal(r.has_probe_src, 0);
		assert_memory_equal(&r.probe_dst, &r.responder, sizeof(r.responder));
		assert_int_equal(r.quoted_ttl, -1);
		assert_int_equal(r.nmpls, 0);
		assert_int_equal(packet_classify(&r), PACKET_VERDICT_REPLY);
	}
}

/* Every probe kind and family, forced and not, through a time-exceeded quote. */
static void test_time_exceeded_round_trip(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	static uint8_t q[2048];
	size_t f, pr, qlen, n, k;

	(void)state;
	for (f = 0; f < 2; f++) {
		for (pr = 0; pr < 3; pr++) {
			for (k = 0; k < 4; k++) {
				int fam = families[f];

				set_probe(&p, fam, protocols[pr], k & 1 ? 61 : 100);
				p.icmp_id = (uint16_t)(0x100 + k);
				p.icmp_seq = (uint16_t)(33000 + k * 7);
				p.src_port = (uint16_t)(50000 + k);
				p.tcp_seq = 0x80000000u + (uint32_t)k;
				p.force_check = k >= 2;
				p.check_value = (uint16_t)(k == 2 ? 0xffff : 0x1234);
				qlen = make_quote(&p, q, 0);
				n = make_icmp(fam, pkt, fam == AF_INET ? 11 : 3, 0, 0, q, qlen);
				assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
				assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
				check_responder(&r, fam);
				assert_int_equal(r.icmp_type, fam == AF_INET ? 11 : 3);
				assert_int_equal(r.icmp_code, 0);
				check_probe_fields(&r, &p);
				assert_int_equal(r.nmpls, 0);
				assert_int_equal(packet_classify(&r), PACKET_VERDICT_TTL_EXPIRED);
			}
		}
	}
}

/* Routers quote only 28 bytes (IPv4) or up to the IPv6 minimum MTU: both must work. */
static void test_short_quote(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	uint8_t q[256];
	size_t qlen, n;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 200);
	qlen = make_quote(&p, q, 0);
	assert_true(qlen >= 28);
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, 28);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	check_probe_fields(&r, &p);
	/* 27 bytes: the L4 header is incomplete */
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, 27);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	assert_int_equal(r.has_probe_src, 0);
	assert_int_equal(r.src_port, 0);
}

struct unreach_case {
	int family;
	uint8_t type, code;
	enum packet_verdict verdict;
};

static const struct unreach_case unreach_cases[] = {
	{AF_INET, 3, 3, PACKET_VERDICT_REPLY},
	{AF_INET, 3, 0, PACKET_VERDICT_NET_UNREACH},
	{AF_INET, 3, 6, PACKET_VERDICT_NET_UNREACH},
	{AF_INET, 3, 1, PACKET_VERDICT_HOST_UNREACH},
	{AF_INET, 3, 7, PACKET_VERDICT_HOST_UNREACH},
	{AF_INET, 3, 9, PACKET_VERDICT_PROHIBITED},
	{AF_INET, 3, 10, PACKET_VERDICT_PROHIBITED},
	{AF_INET, 3, 13, PACKET_VERDICT_PROHIBITED},
	{AF_INET, 3, 2, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET, 3, 4, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET, 3, 15, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET, 12, 0, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET, 11, 1, PACKET_VERDICT_TTL_EXPIRED},
	{AF_INET6, 1, 4, PACKET_VERDICT_REPLY},
	{AF_INET6, 1, 0, PACKET_VERDICT_NET_UNREACH},
	{AF_INET6, 1, 3, PACKET_VERDICT_HOST_UNREACH},
	{AF_INET6, 1, 1, PACKET_VERDICT_PROHIBITED},
	{AF_INET6, 1, 5, PACKET_VERDICT_PROHIBITED},
	{AF_INET6, 1, 6, PACKET_VERDICT_PROHIBITED},
	{AF_INET6, 1, 2, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET6, 1, 7, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET6, 4, 0, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET6, 4, 1, PACKET_VERDICT_OTHER_UNREACH},
	{AF_INET6, 3, 1, PACKET_VERDICT_TTL_EXPIRED},
};

static void test_unreachables(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	uint8_t q[256];
	size_t i, qlen, n;

	(void)state;
	for (i = 0; i < sizeof(unreach_cases) / sizeof(unreach_cases[0]); i++) {
		const struct unreach_case *c = &unreach_cases[i];

		set_probe(&p, c->family, i % 2 ? IPPROTO_UDP : IPPROTO_ICMP, 64);
		qlen = make_quote(&p, q, 0);
		n = make_icmp(c->family, pkt, c->type, c->code, 0, q, qlen);
		assert_int_equal(parse(c->family, icmp_sock(c->family), pkt, n, &r), 0);
		assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
		check_responder(&r, c->family);
		assert_int_equal(r.icmp_type, c->type);
		assert_int_equal(r.icmp_code, c->code);
		check_probe_fields(&r, &p);
		assert_int_equal(packet_classify(&r), c->verdict);
	}
}

static void test_ignored_icmp(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	uint8_t q[256];
	size_t qlen, n;

	(void)state;
	/* IPv6 packet too big, echo request, router advertisement */
	set_probe(&p, AF_INET6, IPPROTO_UDP, 64);
	qlen = make_quote(&p, q, 0);
	n = make_icmp(AF_INET6, pkt, 2, 0, 0, q, qlen);
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
	n = make_icmp(AF_INET6, pkt, 128, 0, 0, q, 8);
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	n = make_icmp(AF_INET6, pkt, 134, 0, 0, q, 8);
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	/* IPv4 echo request (our own probe seen on loopback), redirect */
	set_probe(&p, AF_INET, IPPROTO_ICMP, 64);
	n = (size_t)packet_build(&p, pkt, sizeof(pkt));
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	qlen = make_quote(&p, q, 0);
	n = make_icmp(AF_INET, pkt, 5, 0, 0, q, qlen);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	/* an ICMP datagram read from the TCP socket, and vice versa */
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, qlen);
	assert_int_equal(parse(AF_INET, IPPROTO_TCP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	pkt[9] = IPPROTO_TCP;
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
}

/* Quotes of something we never send are not ours. */
static void test_foreign_quotes(void **state)
{
	struct packet_reply r;
	uint8_t q[256];
	size_t n, f;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];
		size_t hl = fam == AF_INET ? 20 : 40;
		uint8_t icmp_proto = fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		static const uint8_t other_types4[] = {0, 3, 11, 13};
		static const uint8_t other_types6[] = {129, 1, 3, 135};
		size_t t;

		for (t = 0; t < 4; t++) {
			memset(q, 0, sizeof(q));
			if (fam == AF_INET)
				ip4_hdr(q, hl + 8, 1, icmp_proto, src4, dst4);
			else
				ip6_hdr(q, 8, 1, icmp_proto, src6, dst6);
			q[hl] = fam == AF_INET ? other_types4[t] : other_types6[t];
			n = make_icmp(fam, pkt, fam == AF_INET ? 11 : 3, 0, 0, q, hl + 8);
			assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
		}
		/* GRE, and for IPv6 a hop-by-hop extension header and ICMPv4 (1) */
		if (fam == AF_INET)
			ip4_hdr(q, hl + 8, 1, 47, src4, dst4);
		else
			ip6_hdr(q, 8, 1, 47, src6, dst6);
		n = make_icmp(fam, pkt, fam == AF_INET ? 11 : 3, 0, 0, q, hl + 8);
		assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
		assert_int_equal(r.kind, PACKET_KIND_IGNORE);
		if (fam == AF_INET6) {
			q[6] = 0;
			n = make_icmp(fam, pkt, 3, 0, 0, q, hl + 8);
			assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
			q[6] = IPPROTO_ICMP;
			q[hl] = 8;
			n = make_icmp(fam, pkt, 3, 0, 0, q, hl + 8);
			assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
		} else {
			/* quoted ICMPv6 protocol number inside IPv4 is not ours either */
			q[9] = IPPROTO_ICMPV6;
			q[hl] = 128;
			n = make_icmp(fam, pkt, 11, 0, 0, q, hl + 8);
			assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
		}
		/* wrong IP version in the quote */
		q[0] = fam == AF_INET ? 0x65 : 0x45;
		q[9] = IPPROTO_UDP;
		q[6] = IPPROTO_UDP;
		n = make_icmp(fam, pkt, fam == AF_INET ? 11 : 3, 0, 0, q, hl + 8);
		assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
		assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	}
}

static size_t make_tcp(int family, uint8_t *o, uint8_t flags, uint16_t sport, uint16_t dport,
		       uint32_t ack)
{
	size_t ip = family == AF_INET ? 20 : 0;
	uint8_t *t = o + ip;

	memset(t, 0, 20);
	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, 0x11111111);
	wr32(t + 8, ack);
	t[12] = 0x50;
	t[13] = flags;
	if (family == AF_INET) {
		ip4_hdr(o, 40, ROUTER_TTL, IPPROTO_TCP, rtr4, src4);
		reseal(AF_INET, o, 40);
	} else {
		uint8_t ph[PSEUDO_MAX];
		union addr_ip r = addr(AF_INET6, rtr6), me = addr(AF_INET6, src6);

		wr16(t + 16, (uint16_t)~slow_sum(ph, pseudo(AF_INET6, IPPROTO_TCP, &r, &me, 20, ph),
						 t, 20));
	}
	return ip + 20;
}

static void test_tcp_replies(void **state)
{
	struct packet_reply r;
	static const uint8_t good[] = {0x12, 0x14, 0x04, 0x16, 0x1c};
	static const uint8_t bad[] = {0x02, 0x10, 0x18, 0x11, 0x00, 0x01};
	size_t f, i, n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		for (i = 0; i < sizeof(good); i++) {
			n = make_tcp(fam, pkt, good[i], 80, 40001, 0xdeadbef0);
			assert_int_equal(parse(fam, IPPROTO_TCP, pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_TCP);
			check_responder(&r, fam);
			assert_int_equal(r.probe_protocol, IPPROTO_TCP);
			assert_int_equal(r.src_port, 40001);
			assert_int_equal(r.dst_port, 80);
			assert_int_equal(r.tcp_seq, 0xdeadbeef);
			assert_int_equal(r.tcp_flags, good[i]);
			assert_int_equal(r.has_probe_src, 0);
			assert_memory_equal(&r.probe_dst, &r.responder, sizeof(r.responder));
			assert_int_equal(packet_classify(&r), PACKET_VERDICT_REPLY);
		}
		/* ack 0 wraps: the probe's sequence number was 0xffffffff */
		n = make_tcp(fam, pkt, 0x14, 443, 1, 0);
		assert_int_equal(parse(fam, IPPROTO_TCP, pkt, n, &r), 0);
		assert_int_equal(r.tcp_seq, 0xffffffffu);
		for (i = 0; i < sizeof(bad); i++) {
			n = make_tcp(fam, pkt, bad[i], 80, 40001, 1);
			assert_int_equal(parse(fam, IPPROTO_TCP, pkt, n, &r), 0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
			assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
		}
		/* from the ICMP socket it is not TCP */
		n = make_tcp(fam, pkt, 0x12, 80, 40001, 1);
		assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
		assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	}
}

static const uint32_t labels3[] = {16, 299792, 0xfffff};

/*
 * Time exceeded (or unreachable) carrying an MPLS label stack. compat: length byte 0
 * and the extension right after a 128-byte quote; otherwise the length byte says
 * where it starts (quote padded to 136 bytes to show the field is honoured).
 */
static size_t make_mpls_reply(int family, uint8_t type, int compat, size_t nlabels,
			      const struct packet_probe *p)
{
	static uint8_t body[1024];
	size_t qpad = compat ? QUOTE_PAD : 136;
	size_t qlen = make_quote(p, body, qpad);
	size_t unit = family == AF_INET ? 4 : 8;

	assert_int_equal(qlen, qpad);
	qlen += make_mpls_ext(body + qlen, labels3, nlabels);
	return make_icmp(family, pkt, type, 0, compat ? 0 : (uint8_t)(qpad / unit), body, qlen);
}

static void check_mpls(const struct packet_reply *r, size_t n)
{
	size_t i;

	assert_int_equal(r->nmpls, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(r->mpls[i].label, labels3[i]);
		assert_int_equal(r->mpls[i].exp, i % 8);
		assert_int_equal(r->mpls[i].bos, i == n - 1);
		assert_int_equal(r->mpls[i].ttl, 250 - i);
	}
}

static void test_mpls(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	size_t f, compat, nl, n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		for (compat = 0; compat < 2; compat++) {
			for (nl = 1; nl <= 3; nl += 2) {
				set_probe(&p, fam, nl == 1 ? IPPROTO_UDP : IPPROTO_ICMP, 64);
				n = make_mpls_reply(fam, fam == AF_INET ? 11 : 3, (int)compat, nl,
						    &p);
				assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
				assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
				check_responder(&r, fam);
				check_probe_fields(&r, &p);
				check_mpls(&r, nl);
				/* unreachable carries them too, parameter problem does not */
				n = make_mpls_reply(fam, fam == AF_INET ? 3 : 1, (int)compat, nl,
						    &p);
				assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
				check_mpls(&r, nl);
				n = make_mpls_reply(fam, fam == AF_INET ? 12 : 4, (int)compat, nl,
						    &p);
				assert_int_equal(parse(fam, icmp_sock(fam), pkt, n, &r), 0);
				assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
				assert_int_equal(r.nmpls, 0);
			}
		}
	}
}

/* With the length field set, the compat offset must not be used instead. */
static void test_mpls_length_field_honoured(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	static uint8_t body[256];
	size_t n;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	n = make_mpls_reply(AF_INET, 11, 0, 3, &p);
	/* length 34 words = 136; point it at 128 instead, where there are zeros */
	pkt[20 + 5] = 32;
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.nmpls, 0);
	/* below 128 bytes is non-compliant: no extensions */
	n = make_mpls_reply(AF_INET, 11, 1, 3, &p);
	pkt[20 + 5] = 8;
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.nmpls, 0);
	/* even when an extension really sits after a short quote */
	n = make_quote(&p, body, 0);
	n = 32 + make_mpls_ext(body + 32, labels3, 3);
	n = make_icmp(AF_INET, pkt, 11, 0, 8, body, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	check_probe_fields(&r, &p);
	assert_int_equal(r.nmpls, 0);
	/* IPv6 counts in 64-bit words: 17 = 136 bytes */
	set_probe(&p, AF_INET6, IPPROTO_TCP, 64);
	n = make_mpls_reply(AF_INET6, 3, 0, 1, &p);
	assert_int_equal(pkt[4], 17);
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	check_mpls(&r, 1);
	pkt[4] = 34; /* as if in 32-bit words: points past the end */
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.nmpls, 0);
}

static void test_mpls_malformed(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	size_t n, ext;
	uint32_t many[PACKET_MPLS_MAX + 4];
	static uint8_t body[1024];
	size_t i, qlen;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	/* the extension starts at 20 + 8 + 136 in pkt */
	ext = 20 + 8 + 136;
	n = make_mpls_reply(AF_INET, 11, 0, 3, &p);
	pkt[ext] = 0x10; /* version 1 */
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.nmpls, 0);

	n = make_mpls_reply(AF_INET, 11, 0, 3, &p);
	wr16(pkt + ext + 4, 0xffff); /* object longer than the packet */
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.nmpls, 0);
	wr16(pkt + ext + 4, 3); /* shorter than its own header */
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.nmpls, 0);
	wr16(pkt + ext + 4, 4 + 4 * 3 - 1); /* not whole entries; 1 byte spare */
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.nmpls, 0);
	wr16(pkt + ext + 4, 4 + 4 * 2); /* 2 entries, then the 3rd becomes an object */
	wr32(pkt + ext + 16, 0x00040505);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.nmpls, 2);

	/* other object classes are skipped, MPLS after them still found */
	n = make_mpls_reply(AF_INET, 11, 0, 1, &p);
	memmove(pkt + ext + 4 + 8, pkt + ext + 4, 8);
	wr16(pkt + ext + 4, 8);
	pkt[ext + 6] = 2; /* interface information object */
	pkt[ext + 7] = 1;
	n += 8;
	wr16(pkt + 2, (uint16_t)n);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	check_mpls(&r, 1);

	/* more entries than we keep: the first PACKET_MPLS_MAX */
	for (i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (uint32_t)(1000 + i);
	qlen = make_quote(&p, body, QUOTE_PAD);
	qlen += make_mpls_ext(body + qlen, many, sizeof(many) / sizeof(many[0]));
	n = make_icmp(AF_INET, pkt, 11, 0, 32, body, qlen);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.nmpls, PACKET_MPLS_MAX);
	for (i = 0; i < PACKET_MPLS_MAX; i++)
		assert_int_equal(r.mpls[i].label, 1000 + i);
}

static void test_outer_ipv4(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	uint8_t q[256];
	size_t qlen, n;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	qlen = make_quote(&p, q, 0);
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, qlen);

	/*
	 * total length larger than what we got: a receive ring's snap length cut it, so
	 * what is there is parsed
	 */
	wr16(pkt + 2, (uint16_t)(n + 1000));
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.probe_protocol, IPPROTO_UDP);
	assert_int_equal(r.src_port, p.src_port);
	/* ... but not when even the IP header is cut */
	reseal(AF_INET, pkt, 19);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, 19, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	/* smaller than the header */
	wr16(pkt + 2, 19);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	/* trailing bytes beyond the total length are not part of the message */
	wr16(pkt + 2, (uint16_t)n);
	memset(pkt + n, 0xee, 64);
	reseal(AF_INET, pkt, n + 64);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n + 64, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	/* IHL below 5, IHL beyond the buffer, wrong version */
	pkt[0] = 0x44;
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	pkt[0] = 0x4f;
	reseal(AF_INET, pkt, 40);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, 40, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	pkt[0] = 0x65;
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);

	/* IP options (IHL 6) in the outer header */
	memmove(pkt + 24, pkt + 20, n - 20);
	pkt[0] = 0x46;
	pkt[20] = pkt[21] = pkt[22] = pkt[23] = 1; /* NOPs */
	wr16(pkt + 2, (uint16_t)(n + 4));
	reseal(AF_INET, pkt, n + 4);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n + 4, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	check_probe_fields(&r, &p);

	/* IP options (IHL 7) in the quoted header */
	memmove(q + 28, q + 20, qlen - 20);
	q[0] = 0x47;
	memset(q + 20, 1, 8);
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, qlen + 8);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	check_probe_fields(&r, &p);
	/* quoted IHL claims more than is there */
	q[0] = 0x4f;
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, 28);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	q[0] = 0x43;
	n = make_icmp(AF_INET, pkt, 11, 0, 0, q, 28);
	reseal(AF_INET, pkt, n);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
}

/*
 * Every prefix of every kind of reply, copied into a buffer of exactly that size
 * (so a sanitizer sees any over-read): IGNORE, or the same kind with the same probe.
 * For IPv4 the total length is made to agree, so the inner checks are reached.
 */
static void check_truncations(int family, int ipproto, const uint8_t *full, size_t n)
{
	struct packet_reply whole, r;
	size_t len;

	assert_int_equal(parse(family, ipproto, full, n, &whole), 0);
	assert_int_not_equal(whole.kind, PACKET_KIND_IGNORE);
	for (len = 0; len <= n; len++) {
		uint8_t *c = malloc(len ? len : 1);
		int fix;

		assert_non_null(c);
		memcpy(c, full, len);
		for (fix = 0; fix < 2; fix++) {
			if (fix && family == AF_INET && len >= 4) {
				wr16(c + 2, (uint16_t)len);
				reseal(family, c, len);
			} else if (fix)
				continue;
			assert_int_equal(parse(family, ipproto, c, len, &r), 0);
			if (r.kind == PACKET_KIND_IGNORE) {
				assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
				continue;
			}
			assert_int_equal(r.kind, whole.kind);
			assert_int_equal(r.probe_protocol, whole.probe_protocol);
			assert_int_equal(r.icmp_id, whole.icmp_id);
			assert_int_equal(r.icmp_seq, whole.icmp_seq);
			assert_int_equal(r.src_port, whole.src_port);
			assert_int_equal(r.dst_port, whole.dst_port);
			assert_int_equal(r.tcp_seq, whole.tcp_seq);
			assert_int_equal(r.check, whole.check);
			assert_true(r.nmpls == 0 || r.nmpls == whole.nmpls);
			assert_int_equal(packet_classify(&r), packet_classify(&whole));
		}
		free(c);
	}
	/* and never reads beyond len: a shorter prefix of a longer buffer */
	assert_int_equal(parse(family, ipproto, full, 0, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
}

static void test_truncations(void **state)
{
	struct packet_probe p;
	static uint8_t full[2048];
	uint8_t body[64];
	size_t f, pr, n;

	(void)state;
	memset(body, 0, sizeof(body));
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		for (pr = 0; pr < 3; pr++) {
			set_probe(&p, fam, protocols[pr], 90);
			n = make_mpls_reply(fam, fam == AF_INET ? 11 : 3, 0, 3, &p);
			memcpy(full, pkt, n);
			check_truncations(fam, icmp_sock(fam), full, n);
			n = make_mpls_reply(fam, fam == AF_INET ? 3 : 1, 1, 1, &p);
			memcpy(full, pkt, n);
			check_truncations(fam, icmp_sock(fam), full, n);
		}
		n = make_icmp(fam, pkt, fam == AF_INET ? 0 : 129, 0, 0, body, sizeof(body));
		memcpy(full, pkt, n);
		check_truncations(fam, icmp_sock(fam), full, n);
		n = make_tcp(fam, pkt, 0x12, 80, 40001, 5);
		memcpy(full, pkt, n);
		check_truncations(fam, IPPROTO_TCP, full, n);
	}
}

/* ---- whole datagrams from a receive ring (packet_parse_ip) ---- */

/*
 * A whole datagram of family fam into o, as a ring holds it: a time exceeded quoting p
 * (kind ICMP_ERROR), an echo reply (ECHO_REPLY) or a TCP reset (TCP). IPv6 gets its header.
 */
static size_t ring_datagram(int fam, enum packet_kind kind, const struct packet_probe *p,
			    uint8_t *o)
{
	uint8_t q[512], body[56];
	size_t n, qlen;

	memset(body, 0x42, sizeof(body));
	switch (kind) {
	case PACKET_KIND_ICMP_ERROR:
		qlen = make_quote(p, q, 0);
		n = make_icmp(fam, o + (fam == AF_INET6 ? 40 : 0), fam == AF_INET ? 11 : 3, 0, 0, q,
			      qlen);
		break;
	case PACKET_KIND_ECHO_REPLY:
		n = make_icmp(fam, o + (fam == AF_INET6 ? 40 : 0), fam == AF_INET ? 0 : 129, 0, 0,
			      body, sizeof(body));
		break;
	case PACKET_KIND_TCP:
	case PACKET_KIND_IGNORE:
	default:
		n = make_tcp(fam, o + (fam == AF_INET6 ? 40 : 0), 0x14, 80, 40001, 5);
		break;
	}
	if (fam == AF_INET6) {
		ip6_hdr(o, n, ROUTER_TTL, kind == PACKET_KIND_TCP ? IPPROTO_TCP : IPPROTO_ICMPV6,
			rtr6, src6);
		n += 40;
	}
	return n;
}

static enum packet_kind ring_kind(const uint8_t *b, size_t len, size_t wire, int checked)
{
	struct packet_reply r;

	assert_int_equal(packet_parse_ip(b, len, wire, checked, &r), 0);
	return r.kind;
}

static const enum packet_kind ring_kinds[] = {PACKET_KIND_ICMP_ERROR, PACKET_KIND_ECHO_REPLY,
					      PACKET_KIND_TCP};

/* Good datagrams pass, with the outer destination reported, and as packet_parse() says. */
static void test_ring_good(void **state)
{
	struct packet_probe p;
	struct packet_reply r, s;
	size_t f, k, n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];
		union addr_ip me = addr(fam, fam == AF_INET ? src4 : src6);
		union addr_ip rtr = addr(fam, fam == AF_INET ? rtr4 : rtr6);

		set_probe(&p, fam, IPPROTO_UDP, 64);
		for (k = 0; k < 3; k++) {
			n = ring_datagram(fam, ring_kinds[k], &p, pkt);
			assert_int_equal(packet_parse_ip(pkt, n, n, 0, &r), 0);
			assert_int_equal(r.kind, ring_kinds[k]);
			assert_int_equal(r.family, fam);
			assert_int_equal(r.has_reply_dst, 1);
			assert_memory_equal(&r.reply_dst, &me, fam == AF_INET ? 4 : 16);
			assert_memory_equal(&r.responder, &rtr, fam == AF_INET ? 4 : 16);
			assert_int_equal(r.reply_ttl, ROUTER_TTL);
			if (ring_kinds[k] == PACKET_KIND_ICMP_ERROR)
				check_probe_fields(&r, &p);
			if (fam == AF_INET) {
				assert_int_equal(parse(fam,
						       ring_kinds[k] == PACKET_KIND_TCP
							       ? IPPROTO_TCP
							       : IPPROTO_ICMP,
						       pkt, n, &s),
						 0);
				assert_int_equal(s.kind, r.kind);
				assert_int_equal(s.has_reply_dst, 1);
			}
			/* Ethernet padding beyond the datagram is not part of it. */
			memset(pkt + n, 0, 16);
			assert_int_equal(ring_kind(pkt, n + 16, n + 16, 0), ring_kinds[k]);
		}
	}
	/* A raw IPv6 socket strips the header: no destination to report. */
	n = make_icmp(AF_INET6, pkt, 129, 0, 0, buf, 16);
	assert_int_equal(parse(AF_INET6, IPPROTO_ICMPV6, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
	assert_int_equal(r.has_reply_dst, 0);
}

/* A flipped byte in the IPv4 header or anywhere in the L4 message: not delivered. */
static void test_ring_bad_checksums(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	size_t f, k, n, i;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];
		size_t ip = fam == AF_INET ? 20 : 40;

		set_probe(&p, fam, IPPROTO_ICMP, 64);
		for (k = 0; k < 3; k++) {
			n = ring_datagram(fam, ring_kinds[k], &p, pkt);
			for (i = ip; i < n; i += 7) {
				pkt[i] ^= 0x10;
				assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
				pkt[i] ^= 0x10;
			}
			assert_int_equal(ring_kind(pkt, n, n, 0), ring_kinds[k]);
			/* ... unless the kernel vouches for the L4 checksum */
			pkt[n - 1] ^= 0x10;
			assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
			assert_int_equal(ring_kind(pkt, n, n, 1), ring_kinds[k]);
			pkt[n - 1] ^= 0x10;
			if (fam == AF_INET) {
				/* The header checksum is checked even when L4 is vouched for. */
				pkt[10] ^= 0x01;
				assert_int_equal(ring_kind(pkt, n, n, 1), PACKET_KIND_IGNORE);
				/* and so by packet_parse() too (raw IPv4 sockets) */
				assert_int_equal(parse(fam,
						       ring_kinds[k] == PACKET_KIND_TCP
							       ? IPPROTO_TCP
							       : IPPROTO_ICMP,
						       pkt, n, &r),
						 0);
				assert_int_equal(r.kind, PACKET_KIND_IGNORE);
				pkt[10] ^= 0x01;
			}
		}
	}
	/* ICMPv6 sums its pseudo-header: the same message to another address fails. */
	n = ring_datagram(AF_INET6, PACKET_KIND_ECHO_REPLY, &p, pkt);
	pkt[39] ^= 1;
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
	pkt[39] ^= 1;
	pkt[23] ^= 1;
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
}

/* raw IPv4 socket: packet_parse() checks the ICMP checksum too (the kernel has not). */
static void test_raw4_icmp_checksum(void **state)
{
	struct packet_reply r;
	size_t n;

	(void)state;
	n = make_icmp(AF_INET, pkt, 0, 0, 0, buf, 32);
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
	pkt[20 + 9] ^= 0x80;
	assert_int_equal(parse(AF_INET, IPPROTO_ICMP, pkt, n, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
}

/* No fragment is delivered alone: first (MF), later (offset), or an IPv6 fragment header. */
static void test_ring_fragments(void **state)
{
	static const uint16_t frag[] = {0x2000, 0x0001, 0x1fff, 0x2001, 0x3fff};
	struct packet_probe p;
	struct packet_reply r;
	size_t i, n, k;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	for (k = 0; k < 3; k++) {
		n = ring_datagram(AF_INET, ring_kinds[k], &p, pkt);
		for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
			wr16(pkt + 6, frag[i]);
			reseal(AF_INET, pkt, n);
			assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
			assert_int_equal(
				parse(AF_INET,
				      ring_kinds[k] == PACKET_KIND_TCP ? IPPROTO_TCP : IPPROTO_ICMP,
				      pkt, n, &r),
				0);
			assert_int_equal(r.kind, PACKET_KIND_IGNORE);
		}
		/* Don't-fragment alone is a whole datagram. */
		wr16(pkt + 6, 0x4000);
		reseal(AF_INET, pkt, n);
		assert_int_equal(ring_kind(pkt, n, n, 0), ring_kinds[k]);
	}
	/* IPv6: a fragment header in front of a good echo reply */
	n = ring_datagram(AF_INET6, PACKET_KIND_ECHO_REPLY, &p, pkt);
	memmove(pkt + 48, pkt + 40, n - 40);
	memset(pkt + 40, 0, 8);
	pkt[40] = IPPROTO_ICMPV6;
	pkt[43] = 1; /* more fragments, offset 0 */
	pkt[6] = 44;
	wr16(pkt + 4, (uint16_t)(n - 40 + 8));
	assert_int_equal(ring_kind(pkt, n + 8, n + 8, 0), PACKET_KIND_IGNORE);
	/* A quote of a later fragment holds payload, not the probe's L4 header. */
	set_probe(&p, AF_INET, IPPROTO_UDP, 64);
	n = packet_build(&p, buf, sizeof(buf));
	{
		uint8_t q[128];
		size_t m;

		memcpy(q, buf, (size_t)n);
		q[8] = QUOTED_TTL;
		wr16(q + 6, 0x0001);
		m = make_icmp(AF_INET, pkt, 11, 0, 0, q, (size_t)n);
		assert_int_equal(ring_kind(pkt, m, m, 0), PACKET_KIND_IGNORE);
		/* the first fragment of a fragmented probe does hold it */
		wr16(q + 6, 0x2000);
		m = make_icmp(AF_INET, pkt, 11, 0, 0, q, (size_t)n);
		assert_int_equal(ring_kind(pkt, m, m, 0), PACKET_KIND_ICMP_ERROR);
	}
}

/*
 * Lengths: a datagram cut short by the capture keeps its other checks but its L4
 * checksum cannot be summed; one whose header claims more than was received is dropped.
 */
static void test_ring_lengths(void **state)
{
	struct packet_probe p;
	struct packet_reply r;
	size_t f, n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		set_probe(&p, fam, IPPROTO_UDP, 64);
		n = ring_datagram(fam, PACKET_KIND_ICMP_ERROR, &p, pkt);
		/* cut by the ring 4 bytes before the end of the datagram: parsed */
		assert_int_equal(ring_kind(pkt, n - 4, n, 0), PACKET_KIND_ICMP_ERROR);
		/* ... even with a flipped byte in what was not captured */
		pkt[n - 1] ^= 0xff;
		assert_int_equal(ring_kind(pkt, n - 4, n, 0), PACKET_KIND_ICMP_ERROR);
		/* but whole, that byte is caught */
		assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
		pkt[n - 1] ^= 0xff;
		/* a header longer than the datagram received is a lie */
		assert_int_equal(ring_kind(pkt, n - 1, n - 1, 0), PACKET_KIND_IGNORE);
		/* wire_len 0 or below len means len */
		assert_int_equal(ring_kind(pkt, n, 0, 0), PACKET_KIND_ICMP_ERROR);
		assert_int_equal(ring_kind(pkt, n - 1, 0, 0), PACKET_KIND_IGNORE);
		/* shorter than an IP header, or another version */
		assert_int_equal(ring_kind(pkt, fam == AF_INET ? 19 : 39, n, 0),
				 PACKET_KIND_IGNORE);
	}
	/* IPv6 payload length 0 (a jumbogram) */
	n = ring_datagram(AF_INET6, PACKET_KIND_ECHO_REPLY, &p, pkt);
	wr16(pkt + 4, 0);
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
	pkt[0] = 0x50;
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
	/* other protocols in either family */
	n = ring_datagram(AF_INET, PACKET_KIND_ECHO_REPLY, &p, pkt);
	pkt[9] = IPPROTO_UDP;
	reseal(AF_INET, pkt, n);
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
	n = ring_datagram(AF_INET6, PACKET_KIND_ECHO_REPLY, &p, pkt);
	pkt[6] = IPPROTO_UDP;
	assert_int_equal(ring_kind(pkt, n, n, 0), PACKET_KIND_IGNORE);
	/* bad arguments */
	assert_int_equal(packet_parse_ip(pkt, n, n, 0, NULL), -EINVAL);
	assert_int_equal(packet_parse_ip(NULL, 4, 4, 0, &r), -EINVAL);
	assert_int_equal(packet_parse_ip(NULL, 0, 0, 0, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
}

/* Every prefix of a ring datagram, in a buffer of exactly that size (for sanitizers). */
static void test_ring_truncations(void **state)
{
	struct packet_probe p;
	size_t f, k, n, len;

	(void)state;
	for (f = 0; f < 2; f++) {
		set_probe(&p, families[f], IPPROTO_ICMP, 64);
		for (k = 0; k < 3; k++) {
			n = ring_datagram(families[f], ring_kinds[k], &p, pkt);
			for (len = 0; len <= n; len++) {
				uint8_t *c = malloc(len ? len : 1);
				enum packet_kind got;

				assert_non_null(c);
				memcpy(c, pkt, len);
				got = ring_kind(c, len, n, 0);
				assert_true(got == PACKET_KIND_IGNORE || got == ring_kinds[k]);
				free(c);
			}
		}
	}
}

static void test_parse_args(void **state)
{
	struct packet_reply r;
	uint8_t b[64];

	(void)state;
	memset(b, 0, sizeof(b));
	assert_int_equal(packet_parse(AF_INET, IPPROTO_ICMP, b, sizeof(b), NULL, -1, NULL),
			 -EINVAL);
	assert_int_equal(packet_parse(AF_UNIX, IPPROTO_ICMP, b, sizeof(b), NULL, -1, &r), -EINVAL);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	assert_int_equal(packet_parse(AF_INET, IPPROTO_ICMP, NULL, 10, NULL, -1, &r), -EINVAL);
	assert_int_equal(packet_parse(AF_INET, IPPROTO_ICMP, NULL, 0, NULL, -1, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_IGNORE);
	assert_int_equal(r.reply_ttl, -1);
	assert_int_equal(r.quoted_ttl, -1);
	assert_int_equal(packet_classify(NULL), PACKET_VERDICT_NONE);

	/* IPv6 without from or hop limit: zero responder, unknown TTL */
	b[0] = 129;
	wr16(b + 4, 9);
	assert_int_equal(packet_parse(AF_INET6, IPPROTO_ICMPV6, b, 8, NULL, -1, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
	assert_int_equal(r.reply_ttl, -1);
	assert_int_equal(r.icmp_id, 9);
	memset(b + 16, 0, 16);
	assert_memory_equal(&r.responder.v6, b + 16, 16);
	/* the IPv6 socket takes IPPROTO_ICMP as a synonym */
	assert_int_equal(packet_parse(AF_INET6, IPPROTO_ICMP, b, 8, NULL, 3, &r), 0);
	assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
	assert_int_equal(r.reply_ttl, 3);
}

static void test_classify_direct(void **state)
{
	struct packet_reply r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.kind = PACKET_KIND_IGNORE;
	r.family = AF_INET;
	r.icmp_type = 11;
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
	r.kind = PACKET_KIND_ICMP_ERROR;
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_TTL_EXPIRED);
	r.family = AF_INET6;
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
	r.icmp_type = 2;
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_NONE);
	r.kind = PACKET_KIND_TCP;
	assert_int_equal(packet_classify(&r), PACKET_VERDICT_REPLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_min_size),
		cmocka_unit_test(test_build_all),
		cmocka_unit_test(test_build_other_values),
		cmocka_unit_test(test_build_icmpv6_synonym),
		cmocka_unit_test(test_forced_check),
		cmocka_unit_test(test_forced_check_every_value),
		cmocka_unit_test(test_tcp_ignores_size_and_force),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_build_invalid),
		cmocka_unit_test(test_sum_fold),
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_time_exceeded_round_trip),
		cmocka_unit_test(test_short_quote),
		cmocka_unit_test(test_unreachables),
		cmocka_unit_test(test_ignored_icmp),
		cmocka_unit_test(test_foreign_quotes),
		cmocka_unit_test(test_tcp_replies),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_mpls_length_field_honoured),
		cmocka_unit_test(test_mpls_malformed),
		cmocka_unit_test(test_outer_ipv4),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_ring_good),
		cmocka_unit_test(test_ring_bad_checksums),
		cmocka_unit_test(test_raw4_icmp_checksum),
		cmocka_unit_test(test_ring_fragments),
		cmocka_unit_test(test_ring_lengths),
		cmocka_unit_test(test_ring_truncations),
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_classify_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
