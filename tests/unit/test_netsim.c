/*
 * test_netsim: netsim's path model (fates, delays, loss, throttling, ECMP, loops,
 * determinism) and its packet builders, whose answers must parse through hopwatchd's
 * own packet_parse() as the replies they stand for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/packet.h"
#include "path.h"
#include "scenario.h"
#include "wire.h"

#define MANY 20000

static struct scenario scn;
static struct path path;
static struct in_addr dst4;

static void load(const char *text)
{
	struct scenario_error err;

	assert_int_equal(scenario_parse(text, strlen(text), &scn, &err), 0);
	path_init(&path, &scn);
	inet_pton(AF_INET, "203.0.113.1", &dst4);
}

static void decide(uint8_t ttl, enum path_proto proto, uint64_t flow, uint64_t now,
		   struct path_result *r)
{
	struct path_probe p = {
		.family = AF_INET, .proto = proto, .dst = &dst4, .ttl = ttl, .flow = flow};

	path_decide(&path, &p, now, r);
}

static const char three[] = "hop\naddr 198.51.100.1\ndelay 1\n"
			    "hop\naddr 198.51.100.2\ndelay 2\nlocal 5\n"
			    "hop\naddr 198.51.100.3\ndelay 3\n"
			    "dest\naddr 203.0.113.1\ndelay 4\ntcp synack\n";

static void test_path_basic(void **state)
{
	struct path_result r;
	struct in_addr other;

	(void)state;
	load(three);
	decide(1, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	assert_int_equal(r.kind, PATH_KIND_TTL_EXCEEDED);
	assert_int_equal(r.pos, 1);
	assert_int_equal(r.node, 1);
	assert_int_equal(r.delay_us, 1000);
	/* Hop 2's local (slow path) delay counts for its own answers only. */
	decide(2, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.delay_us, 1000 + 2000 + 5000);
	decide(3, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.delay_us, 1000 + 2000 + 3000);
	decide(4, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.kind, PATH_KIND_ECHO_REPLY);
	assert_int_equal(r.node, 0);
	assert_int_equal(r.pos, 4);
	assert_int_equal(r.delay_us, 10000);
	decide(64, PATH_PROTO_UDP, 0, 0, &r);
	assert_int_equal(r.kind, PATH_KIND_PORT_UNREACH);
	assert_int_equal(r.pos, 4);
	decide(64, PATH_PROTO_TCP, 0, 0, &r);
	assert_int_equal(r.kind, PATH_KIND_TCP_SYNACK);
	decide(0, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_NOROUTE);
	inet_pton(AF_INET, "203.0.113.2", &other);
	{
		struct path_probe p = {.family = AF_INET, .dst = &other, .ttl = 9};

		path_decide(&path, &p, 0, &r);
		assert_int_equal(r.fate, PATH_FATE_NOROUTE);
	}
}

static void test_path_loss_and_silence(void **state)
{
	struct path_result r;
	int i, lost = 0, silent = 0;

	(void)state;
	load("hop\naddr 198.51.100.1\nhop\naddr 198.51.100.2\nloss 100%\n"
	     "hop\naddr 198.51.100.3\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	for (i = 2; i <= 5; i++) {
		decide((uint8_t)i, PATH_PROTO_ICMP, 0, 0, &r);
		assert_int_equal(r.fate, PATH_FATE_LOST);
		assert_int_equal(r.pos, 2);
		assert_int_equal(r.node, 2);
	}
	/* Loss at a rate: about that share dies there, the rest reaches the end. */
	load("hop\naddr 198.51.100.1\nloss 0.3\nreply 0.5\ndest\naddr 203.0.113.1\n");
	for (i = 0; i < MANY; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		lost += r.fate == PATH_FATE_LOST;
		silent += r.fate == PATH_FATE_SILENT;
	}
	assert_in_range(lost, MANY * 0.28, MANY * 0.32);
	assert_in_range(silent, (MANY - lost) * 0.47, (MANY - lost) * 0.53);
	/* A hop without an address of the probe's family stays silent. */
	load("hop\naddr 2001:db8:1::1\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_NOADDR);
	load("hop\ndest\naddr 203.0.113.1\nicmp drop\n");
	decide(1, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_NOADDR);
	decide(2, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_DROPPED);
	decide(2, PATH_PROTO_UDP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
}

/*
 * A destination's reply and ratelimit are ICMP throttling: its echo replies and port
 * unreachables are held back, its TCP answers never; a hop's TTL-exceeded always is.
 */
static void test_path_dest_throttle_icmp_only(void **state)
{
	struct path_result r;
	int i, icmp = 0, udp = 0, tcp = 0;

	(void)state;
	load("hop\naddr 198.51.100.1\ndest\naddr 203.0.113.1\nreply never\n");
	for (i = 0; i < 100; i++) {
		decide(2, PATH_PROTO_ICMP, 0, 0, &r);
		icmp += r.fate == PATH_FATE_ANSWER;
		decide(2, PATH_PROTO_UDP, 0, 0, &r);
		udp += r.fate == PATH_FATE_ANSWER;
		decide(2, PATH_PROTO_TCP, 0, 0, &r);
		tcp += r.fate == PATH_FATE_ANSWER;
		assert_int_equal(r.kind, PATH_KIND_TCP_RST);
	}
	assert_int_equal(icmp, 0);
	assert_int_equal(udp, 0);
	assert_int_equal(tcp, 100);
	/* Real loss on the way still takes TCP probes. */
	load("hop\naddr 198.51.100.1\nloss 100%\ndest\naddr 203.0.113.1\nreply never\n");
	decide(2, PATH_PROTO_TCP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_LOST);
	/* A hop answers a TCP probe with ICMP: its reply still applies. */
	load("hop\naddr 198.51.100.1\nreply never\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_TCP, 0, 0, &r);
	assert_int_equal(r.fate, PATH_FATE_SILENT);
}

static void test_path_ratelimit(void **state)
{
	struct path_result r;

	(void)state;
	load("hop\naddr 198.51.100.1\nratelimit 10 2\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_ICMP, 0, 1000000, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	decide(1, PATH_PROTO_ICMP, 0, 1000000, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	decide(1, PATH_PROTO_ICMP, 0, 1000000, &r);
	assert_int_equal(r.fate, PATH_FATE_RATELIMITED);
	/* Probes passing through are not limited: only answers take tokens. */
	decide(2, PATH_PROTO_ICMP, 0, 1000000, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	decide(1, PATH_PROTO_ICMP, 0, 1050000, &r); /* half a token */
	assert_int_equal(r.fate, PATH_FATE_RATELIMITED);
	decide(1, PATH_PROTO_ICMP, 0, 1100000, &r); /* one token */
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	decide(1, PATH_PROTO_ICMP, 0, 1100000, &r);
	assert_int_equal(r.fate, PATH_FATE_RATELIMITED);
	decide(1, PATH_PROTO_ICMP, 0, 9000000, &r); /* refilled, but only to the burst */
	decide(1, PATH_PROTO_ICMP, 0, 9000000, &r);
	assert_int_equal(r.fate, PATH_FATE_ANSWER);
	decide(1, PATH_PROTO_ICMP, 0, 9000000, &r);
	assert_int_equal(r.fate, PATH_FATE_RATELIMITED);
}

static void test_path_ecmp(void **state)
{
	struct path_result r;
	size_t first, count[2] = {0, 0};
	int i, changed = 0;

	(void)state;
	load("hop\naddr 198.51.100.1\naddr 198.51.100.11 weight 3\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_ICMP, 42, 0, &r);
	first = r.resp;
	for (i = 0; i < 100; i++) {
		decide(1, PATH_PROTO_ICMP, 42, 0, &r);
		assert_int_equal(r.resp, first); /* one flow, one responder */
	}
	for (i = 0; i < MANY; i++) {
		decide(1, PATH_PROTO_ICMP, (uint64_t)i * 7919, 0, &r);
		count[r.resp]++;
	}
	assert_in_range(count[1], MANY * 0.72, MANY * 0.78); /* weights 1:3 */
	load("hop\naddr 198.51.100.1\naddr 198.51.100.11\necmp packet\ndest\naddr 203.0.113.1\n");
	decide(1, PATH_PROTO_ICMP, 42, 0, &r);
	first = r.resp;
	for (i = 0; i < 100; i++) {
		decide(1, PATH_PROTO_ICMP, 42, 0, &r);
		changed += r.resp != first;
	}
	assert_in_range(changed, 30, 70);
}

static void test_path_loop(void **state)
{
	static const size_t want[] = {1, 2, 3, 2, 3, 2, 3};
	struct path_result r;
	size_t i;

	(void)state;
	load("loop 2\nhop\naddr 198.51.100.1\ndelay 1\nhop\naddr 198.51.100.2\ndelay 1\n"
	     "hop\naddr 198.51.100.3\ndelay 1\ndest\naddr 203.0.113.1\n");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		decide((uint8_t)(i + 1), PATH_PROTO_ICMP, 0, 0, &r);
		assert_int_equal(r.fate, PATH_FATE_ANSWER);
		assert_int_equal(r.kind, PATH_KIND_TTL_EXCEEDED);
		assert_int_equal(r.node, want[i]);
		assert_int_equal(r.pos, i + 1);
		assert_int_equal(r.delay_us, 1000 * (i + 1)); /* every lap costs time */
	}
	decide(255, PATH_PROTO_ICMP, 0, 0, &r);
	assert_int_not_equal(r.node, 0); /* never the destination */
}

/*
 * A hop's draws do not depend on other hops' traffic: the k-th probe answered by hop 2
 * meets the same fate whether or not probes to other TTLs came in between (a prober
 * sends a varying number of those, e.g. past the destination in its first round).
 */
static void test_path_streams_per_hop(void **state)
{
	static const char text[] =
		"seed 77\n"
		"hop\naddr 198.51.100.1\ndelay 1 normal 0.5 spike 10% 30\n"
		"hop\naddr 198.51.100.2\ndelay 1\nlocal 2 normal 1 spike 20% 40\n"
		"reply 60%\n"
		"hop\naddr 198.51.100.3\ndelay 1 normal 1\nloss 30%\n"
		"dest\naddr 203.0.113.1\ndelay 1 normal 1\n";
	struct path_result r;
	uint32_t alone[64];
	int fate[64], i;

	(void)state;
	load(text);
	for (i = 0; i < 64; i++) {
		decide(2, PATH_PROTO_ICMP, 0, 0, &r);
		fate[i] = r.fate;
		alone[i] = r.delay_us;
	}
	path_init(&path, &scn);
	for (i = 0; i < 64; i++) {
		/* A varying number of other probes first, deeper and shallower. */
		for (int k = 0; k < i % 5; k++) {
			decide((uint8_t)(3 + k % 3), PATH_PROTO_ICMP, 0, 0, &r);
			decide(1, PATH_PROTO_UDP, 0, 0, &r);
		}
		decide(2, PATH_PROTO_ICMP, 0, 0, &r);
		assert_int_equal(r.fate, fate[i]);
		assert_int_equal(r.delay_us, alone[i]);
	}
}

static void test_path_jitter_and_seed(void **state)
{
	struct path_result r;
	double sum = 0, sq = 0, mean, sd;
	uint32_t a[16], lo = UINT32_MAX, hi = 0;
	int i, spikes = 0;

	(void)state;
	load("seed 5\ndest\naddr 203.0.113.1\ndelay 50 normal 5\n");
	for (i = 0; i < MANY; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		sum += r.delay_us;
		sq += (double)r.delay_us * r.delay_us;
	}
	mean = sum / MANY;
	sd = sqrt(sq / MANY - mean * mean);
	assert_in_range((int)mean, 49800, 50200);
	assert_in_range((int)sd, 4800, 5200);

	load("seed 5\ndest\naddr 203.0.113.1\ndelay 10 uniform 1 spike 1% 100\n");
	for (i = 0; i < MANY; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		if (r.delay_us > 50000) {
			spikes++;
			continue;
		}
		lo = r.delay_us < lo ? r.delay_us : lo;
		hi = r.delay_us > hi ? r.delay_us : hi;
	}
	assert_in_range(lo, 9000, 9050);
	assert_in_range(hi, 10950, 11000);
	assert_in_range(spikes, MANY / 100 - 60, MANY / 100 + 60);

	/* Same seed, same draws; another seed, other draws. */
	load("seed 9\ndest\naddr 203.0.113.1\ndelay 10 normal 3\n");
	for (i = 0; i < 16; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		a[i] = r.delay_us;
	}
	path_init(&path, &scn);
	for (i = 0; i < 16; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		assert_int_equal(r.delay_us, a[i]);
	}
	scn.seed = 10;
	path_init(&path, &scn);
	for (i = 0; i < 16; i++) {
		decide(1, PATH_PROTO_ICMP, 0, 0, &r);
		if (r.delay_us != a[i])
			break;
	}
	assert_true(i < 16);
}

/* ---- packets ---- */

static uint8_t probe_buf[256], reply_buf[WIRE_MTU];

static size_t make_probe(int family, int protocol, uint8_t ttl)
{
	struct packet_probe p;
	uint8_t *l4 = family == AF_INET ? probe_buf : probe_buf + 40;
	int n;

	memset(&p, 0, sizeof(p));
	p.family = family;
	p.protocol = protocol;
	p.ttl = ttl;
	p.size = 64;
	p.icmp_id = 0x1234;
	p.icmp_seq = 77;
	p.src_port = 40000;
	p.dst_port = 33434;
	p.tcp_seq = 0xdeadbeef;
	if (family == AF_INET) {
		inet_pton(AF_INET, "192.0.2.1", &p.src.v4);
		inet_pton(AF_INET, "203.0.113.1", &p.dst.v4);
	} else {
		inet_pton(AF_INET6, "2001:db8:aaaa::1", &p.src.v6);
		inet_pton(AF_INET6, "2001:db8:ffff::1", &p.dst.v6);
	}
	n = packet_build(&p, l4, sizeof(probe_buf) - 40);
	assert_true(n > 0);
	if (family == AF_INET)
		return (size_t)n;
	/* packet_build leaves the IPv6 header to the kernel; the TUN sees it. */
	memset(probe_buf, 0, 40);
	probe_buf[0] = 0x60;
	probe_buf[4] = (uint8_t)(n >> 8);
	probe_buf[5] = (uint8_t)n;
	probe_buf[6] = protocol == IPPROTO_ICMP ? IPPROTO_ICMPV6 : (uint8_t)protocol;
	probe_buf[7] = ttl;
	memcpy(probe_buf + 8, &p.src.v6, 16);
	memcpy(probe_buf + 24, &p.dst.v6, 16);
	/* The L4 checksum covered the same pseudo-header, so it stays valid. */
	return (size_t)n + 40;
}

static void parse_reply(int family, int ipproto, int n, struct packet_reply *out)
{
	size_t hl = family == AF_INET ? 0 : 40;
	union addr_ip from;

	assert_true(n > 0);
	if (family == AF_INET6)
		memcpy(&from.v6, reply_buf + 8, 16);
	assert_int_equal(packet_parse(family, ipproto, reply_buf + hl, (size_t)n - hl,
				      family == AF_INET6 ? &from : NULL,
				      family == AF_INET6 ? reply_buf[7] : -1, out),
			 0);
}

static void test_wire_parse(void **state)
{
	struct wire_probe p, q;
	size_t len;

	(void)state;
	len = make_probe(AF_INET, IPPROTO_ICMP, 3);
	assert_int_equal(wire_parse(probe_buf, len, &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.proto, PATH_PROTO_ICMP);
	assert_int_equal(p.ttl, 3);
	assert_int_equal(p.icmp_id, 0x1234);
	assert_int_equal(p.icmp_seq, 77);
	assert_int_equal(p.len, len);
	/* Truncated, or with a length beyond what was read: not a probe. */
	assert_int_equal(wire_parse(probe_buf, 19, &q), -EINVAL);
	assert_int_equal(wire_parse(probe_buf, len - 1, &q), -EINVAL);

	len = make_probe(AF_INET, IPPROTO_UDP, 5);
	assert_int_equal(wire_parse(probe_buf, len, &q), 0);
	assert_int_equal(q.proto, PATH_PROTO_UDP);
	assert_int_equal(q.sport, 40000);
	assert_int_equal(q.dport, 33434);
	assert_true(q.flow != p.flow);

	len = make_probe(AF_INET6, IPPROTO_TCP, 7);
	assert_int_equal(wire_parse(probe_buf, len, &q), 0);
	assert_int_equal(q.family, AF_INET6);
	assert_int_equal(q.proto, PATH_PROTO_TCP);
	assert_int_equal(q.tcp_seq, 0xdeadbeef);
	assert_int_equal(q.ttl, 7);
	/* The kernel's own RST (after our SYN-ACK) is not a probe. */
	probe_buf[40 + 13] = 0x04;
	assert_int_equal(wire_parse(probe_buf, len, &q), -EINVAL);

	/* A fragment is not a probe either. */
	len = make_probe(AF_INET, IPPROTO_ICMP, 3);
	probe_buf[6] = 0x20; /* MF */
	assert_int_equal(wire_parse(probe_buf, len, &q), -EINVAL);
	/* Nor is an echo reply. */
	len = make_probe(AF_INET, IPPROTO_ICMP, 3);
	probe_buf[20] = 0;
	assert_int_equal(wire_parse(probe_buf, len, &q), -EINVAL);
}

static void test_wire_time_exceeded(void **state)
{
	static const struct scenario_mpls mpls[2] = {{16001, 5, 1}, {3, 0, 255}};
	const int fams[2] = {AF_INET, AF_INET6};
	union addr_ip hop;
	struct wire_probe p;
	struct packet_reply r;
	size_t len, f;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = fams[f];
		int icmp = fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;

		if (fam == AF_INET)
			inet_pton(AF_INET, "198.51.100.4", &hop.v4);
		else
			inet_pton(AF_INET6, "2001:db8:1::4", &hop.v6);
		len = make_probe(fam, IPPROTO_UDP, 4);
		assert_int_equal(wire_parse(probe_buf, len, &p), 0);
		n = wire_build(&p, PATH_KIND_TTL_EXCEEDED, &hop, 3, mpls, 2, reply_buf,
			       sizeof(reply_buf));
		parse_reply(fam, icmp, n, &r);
		assert_int_equal(r.kind, PACKET_KIND_ICMP_ERROR);
		assert_int_equal(packet_classify(&r), PACKET_VERDICT_TTL_EXPIRED);
		assert_memory_equal(&r.responder, &hop, fam == AF_INET ? 4 : 16);
		assert_int_equal(r.probe_protocol, IPPROTO_UDP);
		assert_int_equal(r.src_port, 40000);
		assert_int_equal(r.dst_port, 33434);
		assert_int_equal(r.quoted_ttl, 1); /* as the 4th node received it */
		assert_int_equal(r.nmpls, 2);
		assert_int_equal(r.mpls[0].label, 16001);
		assert_int_equal(r.mpls[0].exp, 5);
		assert_int_equal(r.mpls[0].bos, 0);
		assert_int_equal(r.mpls[1].label, 3);
		assert_int_equal(r.mpls[1].bos, 1);
		assert_int_equal(r.mpls[1].ttl, 255);
		if (fam == AF_INET) {
			/* IPv4 header and ICMP checksums both verify. */
			assert_int_equal(packet_fold(packet_sum(0, reply_buf, 20)), 0xffff);
			assert_int_equal(packet_fold(packet_sum(0, reply_buf + 20, (size_t)n - 20)),
					 0xffff);
			assert_int_equal(reply_buf[20 + 5], 128 / 4); /* RFC 4884 length */
			assert_int_equal(r.reply_ttl, WIRE_REPLY_TTL - 3);
		} else {
			assert_int_equal(reply_buf[40 + 4], 128 / 8);
		}
		/* Without labels: no extension, no length field, a plain quote. */
		n = wire_build(&p, PATH_KIND_TTL_EXCEEDED, &hop, 3, NULL, 0, reply_buf,
			       sizeof(reply_buf));
		parse_reply(fam, icmp, n, &r);
		assert_int_equal(r.nmpls, 0);
		assert_int_equal(reply_buf[(fam == AF_INET ? 20 + 5 : 40 + 4)], 0);
		assert_int_equal((size_t)n, (fam == AF_INET ? 20 : 40) + 8 + len);
	}
}

static void test_wire_dest_answers(void **state)
{
	const int fams[2] = {AF_INET, AF_INET6};
	struct wire_probe p;
	struct packet_reply r;
	size_t len, f;
	int n;

	(void)state;
	for (f = 0; f < 2; f++) {
		int fam = fams[f];
		int icmp = fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		const void *dst;

		len = make_probe(fam, IPPROTO_ICMP, 9);
		assert_int_equal(wire_parse(probe_buf, len, &p), 0);
		dst = fam == AF_INET ? (const void *)&p.dst.v4 : (const void *)&p.dst.v6;
		n = wire_build(&p, PATH_KIND_ECHO_REPLY, dst, 4, NULL, 0, reply_buf,
			       sizeof(reply_buf));
		assert_int_equal((size_t)n, len); /* same payload back */
		parse_reply(fam, icmp, n, &r);
		assert_int_equal(r.kind, PACKET_KIND_ECHO_REPLY);
		assert_int_equal(r.icmp_id, 0x1234);
		assert_int_equal(r.icmp_seq, 77);
		assert_memory_equal(&r.responder, dst, fam == AF_INET ? 4 : 16);

		len = make_probe(fam, IPPROTO_UDP, 9);
		assert_int_equal(wire_parse(probe_buf, len, &p), 0);
		n = wire_build(&p, PATH_KIND_PORT_UNREACH, dst, 4, NULL, 0, reply_buf,
			       sizeof(reply_buf));
		parse_reply(fam, icmp, n, &r);
		assert_int_equal(packet_classify(&r), PACKET_VERDICT_REPLY);
		assert_int_equal(r.quoted_ttl, 5);

		len = make_probe(fam, IPPROTO_TCP, 9);
		assert_int_equal(wire_parse(probe_buf, len, &p), 0);
		n = wire_build(&p, PATH_KIND_TCP_SYNACK, dst, 4, NULL, 0, reply_buf,
			       sizeof(reply_buf));
		parse_reply(fam, IPPROTO_TCP, n, &r);
		assert_int_equal(r.kind, PACKET_KIND_TCP);
		assert_int_equal(r.tcp_flags, 0x12);
		assert_int_equal(r.tcp_seq, 0xdeadbeef);
		assert_int_equal(r.src_port, 40000);
		assert_int_equal(r.dst_port, 33434);
		n = wire_build(&p, PATH_KIND_TCP_RST, dst, 4, NULL, 0, reply_buf,
			       sizeof(reply_buf));
		parse_reply(fam, IPPROTO_TCP, n, &r);
		assert_int_equal(r.tcp_flags, 0x14);
		assert_int_equal(r.tcp_seq, 0xdeadbeef);
		if (fam == AF_INET)
			assert_int_equal(packet_fold(packet_sum(0, reply_buf, 20)), 0xffff);
	}
	/* hops_back must stay below the probe's TTL; small buffers are refused. */
	len = make_probe(AF_INET, IPPROTO_ICMP, 2);
	assert_int_equal(wire_parse(probe_buf, len, &p), 0);
	assert_int_equal(wire_build(&p, PATH_KIND_ECHO_REPLY, &p.dst, 2, NULL, 0, reply_buf,
				    sizeof(reply_buf)),
			 -EINVAL);
	assert_int_equal(wire_build(&p, PATH_KIND_TTL_EXCEEDED, &p.dst, 1, NULL, 0, reply_buf, 60),
			 -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_basic),
		cmocka_unit_test(test_path_loss_and_silence),
		cmocka_unit_test(test_path_dest_throttle_icmp_only),
		cmocka_unit_test(test_path_ratelimit),
		cmocka_unit_test(test_path_ecmp),
		cmocka_unit_test(test_path_loop),
		cmocka_unit_test(test_path_jitter_and_seed),
		cmocka_unit_test(test_path_streams_per_hop),
		cmocka_unit_test(test_wire_parse),
		cmocka_unit_test(test_wire_time_exceeded),
		cmocka_unit_test(test_wire_dest_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
