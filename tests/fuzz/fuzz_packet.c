/*
 * fuzz_packet: libFuzzer target for the packet module. The first byte picks the address
 * family and the raw socket (ICMP or TCP), the rest is the datagram handed to
 * packet_parse()/packet_classify(); with its top bit set the rest is a whole datagram
 * from a receive ring for packet_parse_ip() instead (the next bit: the kernel vouched
 * for the L4 checksum; bits 2-5: how many bytes the capture cut off). The same bytes also become probe parameters for
 * packet_build() into a buffer of exactly the capacity it is told, and every probe that
 * builds must verify its checksum (and the forced value) and parse back out of a
 * time-exceeded quote: a silent miscalculation aborts like a crash.
 */
#include "daemon/packet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Largest probe the fuzzer asks for; bigger sizes are tried for -EMSGSIZE only. */
#define FUZZ_BUILD_CAP 1600
#define FUZZ_PARAM_LEN 64
#define FUZZ_QUOTE_MAX 256
#define FUZZ_ICMP_HDR  8
#define FUZZ_IP4_HDR   20
#define FUZZ_IP6_HDR   40

static uint8_t quote_msg[FUZZ_IP4_HDR + FUZZ_ICMP_HDR + FUZZ_IP6_HDR + FUZZ_QUOTE_MAX];

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define FUZZ_RING_BIT	 0x80
#define FUZZ_CHECKED_BIT 0x40
#define FUZZ_CUT_SHIFT	 2
#define FUZZ_CUT_MASK	 0x0f

static void parse_input(const uint8_t *data, size_t size)
{
	struct packet_reply r;
	union addr_ip from;
	int family = data[0] & 1 ? AF_INET6 : AF_INET;
	int proto = data[0] & 2 ? IPPROTO_TCP : family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	enum packet_verdict v;

	memset(&from, 0x5a, sizeof(from));
	if (data[0] & FUZZ_RING_BIT) {
		size_t cut = (size_t)(data[0] >> FUZZ_CUT_SHIFT) & FUZZ_CUT_MASK;

		if (packet_parse_ip(data + 1, size - 1, size - 1 + cut,
				    (data[0] & FUZZ_CHECKED_BIT) != 0, &r) != 0)
			abort();
		/* Whatever a ring's datagram answers, its outer destination is known. */
		if (r.kind != PACKET_KIND_IGNORE && !r.has_reply_dst)
			abort();
	} else if (packet_parse(family, proto, data + 1, size - 1, &from, data[0] >> 2, &r) != 0) {
		abort();
	}
	v = packet_classify(&r);
	if (r.nmpls > PACKET_MPLS_MAX)
		abort();
	if (r.kind == PACKET_KIND_IGNORE && v != PACKET_VERDICT_NONE)
		abort();
	if (r.kind == PACKET_KIND_TCP && v != PACKET_VERDICT_REPLY)
		abort();
}

/* The probe's L4 checksum, verified with its pseudo-header: must sum to all ones. */
static void check_sum(const struct packet_probe *p, int wire, const uint8_t *l4, size_t len)
{
	uint8_t tail[8] = {0};
	uint32_t sum = 0;

	if (p->family == AF_INET && wire != IPPROTO_ICMP) {
		sum = packet_sum(sum, &p->src.v4, 4);
		sum = packet_sum(sum, &p->dst.v4, 4);
		tail[1] = (uint8_t)wire;
		tail[2] = (uint8_t)(len >> 8);
		tail[3] = (uint8_t)len;
		sum = packet_sum(sum, tail, 4);
	} else if (p->family == AF_INET6) {
		sum = packet_sum(sum, &p->src.v6, 16);
		sum = packet_sum(sum, &p->dst.v6, 16);
		tail[2] = (uint8_t)(len >> 8);
		tail[3] = (uint8_t)len;
		tail[7] = (uint8_t)wire;
		sum = packet_sum(sum, tail, 8);
	}
	if (packet_fold(packet_sum(sum, l4, len)) != 0xffff)
		abort();
}

/* Wrap the probe into a time-exceeded message and demand the same identifiers back. */
static void round_trip(const struct packet_probe *p, int wire, const uint8_t *pkt, size_t n)
{
	struct packet_reply r;
	size_t ip = p->family == AF_INET ? FUZZ_IP4_HDR : 0;
	size_t q = n > FUZZ_QUOTE_MAX ? FUZZ_QUOTE_MAX : n, len;
	uint8_t *m = quote_msg + ip;
	const uint8_t *l4 = pkt + (p->family == AF_INET ? FUZZ_IP4_HDR : 0);
	union addr_ip from;

	memset(quote_msg, 0, sizeof(quote_msg));
	memset(&from, 0, sizeof(from));
	m[0] = p->family == AF_INET ? 11 : 3;
	if (p->family == AF_INET) {
		memcpy(m + FUZZ_ICMP_HDR, pkt, q);
		len = ip + FUZZ_ICMP_HDR + q;
		quote_msg[0] = 0x45;
		quote_msg[2] = (uint8_t)(len >> 8);
		quote_msg[3] = (uint8_t)len;
		quote_msg[9] = IPPROTO_ICMP;
		/* Both checksums right: a raw IPv4 socket's packets are verified now. */
		put16(m + 2, (uint16_t)~packet_fold(packet_sum(0, m, len - ip)));
		put16(quote_msg + 10, (uint16_t)~packet_fold(packet_sum(0, quote_msg, ip)));
	} else {
		m[FUZZ_ICMP_HDR] = 0x60;
		m[FUZZ_ICMP_HDR + 6] = (uint8_t)wire;
		m[FUZZ_ICMP_HDR + 7] = p->ttl;
		memcpy(m + FUZZ_ICMP_HDR + 8, &p->src.v6, 16);
		memcpy(m + FUZZ_ICMP_HDR + 24, &p->dst.v6, 16);
		memcpy(m + FUZZ_ICMP_HDR + FUZZ_IP6_HDR, pkt, q);
		len = FUZZ_ICMP_HDR + FUZZ_IP6_HDR + q;
	}
	packet_parse(p->family, p->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, quote_msg,
		     len, &from, 1, &r);
	if (r.kind != PACKET_KIND_ICMP_ERROR || packet_classify(&r) != PACKET_VERDICT_TTL_EXPIRED)
		abort();
	if (r.quoted_ttl != p->ttl || !r.has_probe_src)
		abort();
	switch (wire) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (r.probe_protocol != IPPROTO_ICMP || r.icmp_id != p->icmp_id ||
		    r.icmp_seq != p->icmp_seq || r.check != rd16(l4 + 2))
			abort();
		break;
	case IPPROTO_UDP:
		if (r.probe_protocol != IPPROTO_UDP || r.src_port != p->src_port ||
		    r.dst_port != p->dst_port || r.check != rd16(l4 + 6))
			abort();
		break;
	case IPPROTO_TCP:
		if (r.probe_protocol != IPPROTO_TCP || r.src_port != p->src_port ||
		    r.dst_port != p->dst_port || r.tcp_seq != p->tcp_seq)
			abort();
		break;
	default:
		abort();
	}
}

static void build_input(const uint8_t *data, size_t size)
{
	static const int protos[] = {IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMPV6, 47};
	uint8_t raw[FUZZ_PARAM_LEN] = {0};
	struct packet_probe p;
	size_t cap, ip, off;
	uint8_t *out;
	int n, wire;

	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	memset(&p, 0, sizeof(p));
	p.family = raw[0] & 1 ? AF_INET6 : AF_INET;
	p.protocol = protos[raw[1] % (sizeof(protos) / sizeof(protos[0]))];
	p.size = rd16(raw + 2) % (FUZZ_BUILD_CAP + 1);
	if (raw[0] & 0x80)
		p.size = PACKET_SIZE_MAX + rd16(raw + 2);
	p.ttl = raw[4];
	p.tos = raw[5];
	p.ip_id = rd16(raw + 6);
	p.pattern = raw[8];
	p.icmp_id = rd16(raw + 9);
	p.icmp_seq = rd16(raw + 11);
	p.src_port = rd16(raw + 13);
	p.dst_port = rd16(raw + 15);
	p.tcp_seq = rd32(raw + 17);
	p.force_check = raw[0] & 2;
	p.check_value = rd16(raw + 21);
	memcpy(&p.src, raw + 23, sizeof(p.src.v6));
	memcpy(&p.dst, raw + 39, sizeof(p.dst.v6));
	cap = rd16(raw + 55) % (FUZZ_BUILD_CAP + 1);

	/* exactly cap bytes, so any write past it is caught by the sanitizer */
	out = malloc(cap ? cap : 1);
	if (!out)
		return;
	n = packet_build(&p, out, cap);
	if (n < 0) {
		if (n != -EINVAL && n != -EMSGSIZE)
			abort();
		free(out);
		return;
	}
	if ((size_t)n > cap || n == 0)
		abort();
	ip = p.family == AF_INET ? FUZZ_IP4_HDR : 0;
	wire = p.protocol == IPPROTO_ICMP && p.family == AF_INET6 ? IPPROTO_ICMPV6 : p.protocol;
	if (p.family == AF_INET && packet_fold(packet_sum(0, out, FUZZ_IP4_HDR)) != 0xffff)
		abort();
	off = wire == IPPROTO_UDP ? 6 : wire == IPPROTO_TCP ? 16 : 2;
	if (p.force_check && wire != IPPROTO_TCP && rd16(out + ip + off) != p.check_value)
		abort();
	if (!(wire == IPPROTO_UDP && p.family == AF_INET && rd16(out + ip + off) == 0))
		check_sum(&p, wire, out + ip, (size_t)n - ip);
	round_trip(&p, wire, out, (size_t)n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	parse_input(data, size);
	build_input(data, size);
	return 0;
}
