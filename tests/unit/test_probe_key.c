/*
 * test_probe_key: every protocol x family carries its id through a real packet and back
 * (probe_key_encode, packet_build, a router's time-exceeded quoting it, packet_parse,
 * probe_key_decode); the port and flow rules; keys that are not ours are refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/packet.h"
#include "daemon/probe_key.h"

#define PKT_MAX	   2048
#define IP4_HDR	   20
#define IP6_HDR	   40
#define ICMP_HDR   8
#define QUOTED_TTL 1
#define ROUTER_TTL 250

/* Two engines' key spaces, filled from fixed "random" bytes by setup(). */
static struct probe_key_space space, other;
static const uint8_t space_rnd[PROBE_KEY_RANDOM_LEN] = {0xbe, 0xef, 0x12, 0x34, 0xa5, 0x5a};
static const uint8_t other_rnd[PROBE_KEY_RANDOM_LEN] = {0xbe, 0xee, 0x43, 0x21, 0x0f, 0xf1};

static const int families[] = {AF_INET, AF_INET6};
static const int protocols[] = {IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_TCP};
static const uint16_t ids[] = {0, 1, 63, 64, 1023, 1024, 0x7fff, 0x8000, 0xfffe, 0xffff};
static const struct probe_key_args argsets[] = {
	{0, 0, 0}, {4242, 0, 0}, {0, 1, 0}, {0, 1, 5}, {0, 1, 1500}, {8080, 1, 77},
};

static union addr_ip addr(int family, const char *s)
{
	union addr_ip a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(family, s, &a), 1);
	return a;
}

static void set_probe(struct packet_probe *p, int family, int protocol)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->protocol = protocol;
	p->src = addr(family, family == AF_INET ? "192.0.2.1" : "2001:db8::1");
	p->dst = addr(family, family == AF_INET ? "203.0.113.9" : "2001:db8:2::9");
	p->ttl = 3;
	p->size = 64;
	p->src_port = 50001;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A router's time exceeded for the built probe, as a raw socket of its family reads it. */
static size_t time_exceeded(const struct packet_probe *p, uint8_t *out)
{
	static const int next_header[] = {[IPPROTO_ICMP] = IPPROTO_ICMPV6,
					  [IPPROTO_UDP] = IPPROTO_UDP,
					  [IPPROTO_TCP] = IPPROTO_TCP};
	union addr_ip rtr =
		addr(p->family, p->family == AF_INET ? "198.51.100.7" : "2001:db8:1::7");
	uint8_t built[PKT_MAX];
	uint8_t *icmp, *q;
	size_t qlen;
	int n = packet_build(p, built, sizeof(built));

	assert_true(n > 0);
	if (p->family == AF_INET) {
		icmp = out + IP4_HDR;
		q = icmp + ICMP_HDR;
		memcpy(q, built, (size_t)n);
		q[8] = QUOTED_TTL;
		qlen = (size_t)n;
		memset(out, 0, IP4_HDR);
		out[0] = 0x45;
		wr16(out + 2, (uint16_t)(IP4_HDR + ICMP_HDR + qlen));
		out[8] = ROUTER_TTL;
		out[9] = IPPROTO_ICMP;
		memcpy(out + 12, &rtr.v4, 4);
		memcpy(out + 16, &p->src.v4, 4);
		wr16(out + 10, (uint16_t)~packet_fold(packet_sum(0, out, IP4_HDR)));
	} else {
		icmp = out;
		q = icmp + ICMP_HDR;
		memset(q, 0, IP6_HDR);
		q[0] = 0x60;
		wr16(q + 4, (uint16_t)n);
		q[6] = (uint8_t)next_header[p->protocol];
		q[7] = QUOTED_TTL;
		memcpy(q + 8, &p->src.v6, 16);
		memcpy(q + 24, &p->dst.v6, 16);
		memcpy(q + IP6_HDR, built, (size_t)n);
		qlen = IP6_HDR + (size_t)n;
	}
	memset(icmp, 0, ICMP_HDR);
	icmp[0] = p->family == AF_INET ? 11 : 3; /* time exceeded */
	icmp[2] = 0;
	wr16(icmp + 2, (uint16_t)~packet_fold(packet_sum(0, icmp, ICMP_HDR + qlen)));
	return (size_t)(q - out) + qlen;
}

static void check_ports(const struct packet_probe *p, const struct probe_key_args *a, uint16_t id)
{
	switch (p->protocol) {
	case IPPROTO_UDP:
		if (a->port)
			assert_int_equal(p->dst_port, a->port);
		else if (a->has_flow)
			assert_int_equal(p->dst_port, PROBE_KEY_UDP_BASE_PORT +
							      a->flow % PROBE_KEY_UDP_FLOW_PORTS);
		else
			assert_int_equal(p->dst_port,
					 PROBE_KEY_UDP_BASE_PORT + id % PROBE_KEY_UDP_PORT_SPREAD);
		break;
	case IPPROTO_TCP:
		assert_int_equal(p->dst_port, a->port ? a->port : PROBE_KEY_TCP_DEFAULT_PORT);
		break;
	default:
		assert_int_equal(p->dst_port, 0);
		if (a->has_flow) {
			assert_true(p->force_check);
			assert_int_equal(p->check_value, PROBE_KEY_ICMP_FLOW_CHECK ^ a->flow);
		} else {
			assert_false(p->force_check);
		}
		break;
	}
}

static void round_trip(int family, int protocol, uint16_t id, const struct probe_key_args *a)
{
	uint8_t pkt[PKT_MAX];
	struct packet_probe p;
	struct packet_reply r;
	union addr_ip from = addr(family, family == AF_INET ? "198.51.100.7" : "2001:db8:1::7");
	uint16_t got = 0, wire;
	size_t n;

	set_probe(&p, family, protocol);
	assert_int_equal(probe_key_encode(&space, a, id, &p), 0);
	assert_int_not_equal(p.ip_id, 0);
	wire = protocol == IPPROTO_ICMP	 ? id
	       : protocol == IPPROTO_UDP ? p.check_value
					 : (uint16_t)(p.tcp_seq & 0xffff);
	assert_int_equal(p.ip_id, wire == 0xffff ? 1 : wire + 1);
	/* mtr's test suite expects the table's id itself as the echo sequence. */
	if (protocol == IPPROTO_ICMP)
		assert_int_equal(p.icmp_seq, id);
	check_ports(&p, a, id);
	n = time_exceeded(&p, pkt);
	assert_int_equal(packet_parse(family, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6,
				      pkt, n, &from, 60, &r),
			 0);
	assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
	assert_int_equal(r.probe_protocol, protocol);
	assert_int_equal(probe_key_decode(&space, &r, &got), 0);
	assert_int_equal(got, id);
	if (protocol != IPPROTO_ICMP)
		assert_int_equal(r.dst_port, p.dst_port);
	/* Another engine's echo id or TCP sequence space is not ours. */
	got = 0x1111;
	if (protocol == IPPROTO_UDP) {
		/* UDP has no field of its own to tell engines apart: another id comes out. */
		assert_int_equal(probe_key_decode(&other, &r, &got), 0);
		if (id != 0)
			assert_int_not_equal(got, id);
	} else {
		assert_int_equal(probe_key_decode(&other, &r, &got), -ENOENT);
		assert_int_equal(got, 0x1111);
	}
}

static void test_round_trip_all(void **state)
{
	size_t f, pr, i, k;

	(void)state;
	for (f = 0; f < 2; f++)
		for (pr = 0; pr < 3; pr++)
			for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
				for (k = 0; k < sizeof(argsets) / sizeof(argsets[0]); k++) {
					/* The table never hands out id 0 to UDP over IPv6. */
					if (families[f] == AF_INET6 &&
					    protocols[pr] == IPPROTO_UDP && ids[i] == 0)
						continue;
					round_trip(families[f], protocols[pr], ids[i], &argsets[k]);
				}
}

/* Every id, on the cheapest path: encode, then the fields a parser would report. */
static void test_every_id(void **state)
{
	const struct probe_key_args a = {0, 0, 0};
	struct packet_probe p;
	struct packet_reply r;
	uint32_t id;
	uint16_t got;
	size_t pr;

	(void)state;
	for (pr = 0; pr < 3; pr++) {
		for (id = 0; id <= UINT16_MAX; id++) {
			set_probe(&p, AF_INET, protocols[pr]);
			assert_int_equal(probe_key_encode(&space, &a, (uint16_t)id, &p), 0);
			memset(&r, 0, sizeof(r));
			r.family = AF_INET;
			r.probe_protocol = protocols[pr];
			r.icmp_id = p.icmp_id;
			r.icmp_seq = p.icmp_seq;
			r.check = p.check_value;
			r.tcp_seq = p.tcp_seq;
			assert_int_equal(probe_key_decode(&space, &r, &got), 0);
			assert_int_equal(got, id);
		}
	}
}

static void test_rejects(void **state)
{
	struct packet_reply r;
	uint16_t got = 7;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.family = AF_INET;
	r.probe_protocol = IPPROTO_ICMP;
	r.icmp_id = (uint16_t)(space.icmp_id + 1);
	r.icmp_seq = 3;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	r.probe_protocol = IPPROTO_TCP;
	r.tcp_seq = ((uint32_t)(space.tcp_base ^ 1) << 16) | 3;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	r.tcp_seq = 3; /* high half 0: a sequence number we never sent */
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	/* UDP over IPv6 never carries checksum 0; over IPv4 it is id 0. */
	r.probe_protocol = IPPROTO_UDP;
	r.family = AF_INET6;
	r.check = 0;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	assert_int_equal(got, 7);
	r.family = AF_INET;
	assert_int_equal(probe_key_decode(&space, &r, &got), 0);
	assert_int_equal(got, 0);
	/* Protocols we never send. */
	got = 7;
	r.probe_protocol = IPPROTO_SCTP;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	r.probe_protocol = IPPROTO_ICMPV6;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	r.probe_protocol = 0;
	assert_int_equal(probe_key_decode(&space, &r, &got), -ENOENT);
	assert_int_equal(got, 7);
}

/*
 * The UDP/TCP mapping is a permutation of all 65,536 ids that keeps 0 at 0 (the table
 * keeps id 0 from UDP over IPv6, which cannot carry checksum 0), differs between
 * engines, and does not hand consecutive ids consecutive wire values.
 */
static void test_permutation(void **state)
{
	static uint8_t seen[65536];
	const struct probe_key_args a = {0, 0, 0};
	struct packet_probe p, q;
	uint32_t id, same = 0, steps = 0;
	uint16_t prev = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (id = 0; id <= UINT16_MAX; id++) {
		set_probe(&p, AF_INET, IPPROTO_UDP);
		assert_int_equal(probe_key_encode(&space, &a, (uint16_t)id, &p), 0);
		assert_int_equal(seen[p.check_value], 0);
		seen[p.check_value] = 1;
		assert_int_equal(p.check_value == 0, id == 0);
		set_probe(&q, AF_INET, IPPROTO_UDP);
		assert_int_equal(probe_key_encode(&other, &a, (uint16_t)id, &q), 0);
		same += p.check_value == q.check_value;
		if (id && (uint16_t)(p.check_value - prev) == 1)
			steps++;
		prev = p.check_value;
		set_probe(&q, AF_INET, IPPROTO_TCP);
		assert_int_equal(probe_key_encode(&space, &a, (uint16_t)id, &q), 0);
		assert_int_equal(q.tcp_seq >> 16, space.tcp_base);
		assert_int_equal(q.tcp_seq & 0xffff, p.check_value);
	}
	assert_true(same < 64);
	assert_true(steps < 64);
}

static void test_encode_unknown_protocol(void **state)
{
	const struct probe_key_args a = {0, 1, 9};
	struct packet_probe p, before;

	(void)state;
	set_probe(&p, AF_INET, IPPROTO_SCTP);
	before = p;
	assert_int_equal(probe_key_encode(&space, &a, 5, &p), -EPROTONOSUPPORT);
	assert_memory_equal(&p, &before, sizeof(p));
}

static int setup(void **state)
{
	(void)state;
	probe_key_space_init(&space, 0x4242, space_rnd);
	probe_key_space_init(&other, 0x4243, other_rnd);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_every_id),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_permutation),
		cmocka_unit_test(test_encode_unknown_protocol),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
