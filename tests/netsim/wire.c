/*
 * wire: probe parsing and answer building for netsim. Every read of a probe is checked
 * against its length (the TUN hands us whatever the namespace routes into it). Answers
 * are laid out the way Linux routers and hosts send them, so that hopwatchd and
 * mtr-packet parse them through their ordinary paths.
 */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define IP4_HDR_LEN	 20
#define IP6_HDR_LEN	 40
#define IP4_VERSION	 4
#define IP6_VERSION	 6
#define IP4_IHL_MIN	 5
#define IP4_WORD	 4
#define IP4_FRAG_MASK	 0x3fff /* MF flag and fragment offset */
#define IP4_VIHL	 0x45
#define ICMP_HDR_LEN	 8
#define UDP_HDR_LEN	 8
#define TCP_HDR_LEN	 20
#define L4_HASH_LEN	 4 /* bytes of the L4 header routers hash for ECMP */
#define ICMP4_ECHO_REPLY 0
#define ICMP4_UNREACH	 3
#define ICMP4_PORT_UNR	 3
#define ICMP4_ECHO	 8
#define ICMP4_TIME_EXC	 11
#define ICMP6_UNREACH	 1
#define ICMP6_PORT_UNR	 4
#define ICMP6_TIME_EXC	 3
#define ICMP6_ECHO	 128
#define ICMP6_ECHO_REPLY 129
#define ICMP4_LEN_OFF	 5 /* RFC 4884 length byte in ICMPv4 ... */
#define ICMP6_LEN_OFF	 4 /* ... and in ICMPv6 */
#define ICMP4_LEN_UNIT	 4
#define ICMP6_LEN_UNIT	 8
#define EXT_HDR_LEN	 4
#define EXT_VERSION_BYTE 0x20 /* version 2 in the high nibble */
#define EXT_OBJ_HDR_LEN	 4
#define EXT_CLASS_MPLS	 1
#define EXT_CTYPE_MPLS	 1
#define MPLS_ENTRY_LEN	 4
#define MPLS_LABEL_SHIFT 12
#define MPLS_EXP_SHIFT	 9
#define MPLS_BOS	 0x100
#define TCP_FLAG_SYN	 0x02
#define TCP_FLAG_RST	 0x04
#define TCP_FLAG_ACK	 0x10
#define TCP_DOFF_BYTE	 (5 << 4)
#define TCP_WINDOW	 65535
#define FLOW_LABEL_MASK	 0x000fffff
#define FNV_OFFSET	 0xcbf29ce484222325ULL
#define FNV_PRIME	 0x100000001b3ULL

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

static int parse_l4(struct wire_probe *out, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t echo = out->family == AF_INET ? ICMP4_ECHO : ICMP6_ECHO;

	switch (proto) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((proto == IPPROTO_ICMP) != (out->family == AF_INET))
			return -EINVAL;
		if (len < ICMP_HDR_LEN || l4[0] != echo || l4[1] != 0)
			return -EINVAL;
		out->proto = PATH_PROTO_ICMP;
		out->icmp_id = get16(l4 + 4);
		out->icmp_seq = get16(l4 + 6);
		return 0;
	case IPPROTO_UDP:
		if (len < UDP_HDR_LEN)
			return -EINVAL;
		out->proto = PATH_PROTO_UDP;
		out->sport = get16(l4);
		out->dport = get16(l4 + 2);
		return 0;
	case IPPROTO_TCP:
		/* Only a SYN is a probe; the kernel's own RST/ACK segments are not. */
		if (len < TCP_HDR_LEN ||
		    (l4[13] & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) != TCP_FLAG_SYN)
			return -EINVAL;
		out->proto = PATH_PROTO_TCP;
		out->sport = get16(l4);
		out->dport = get16(l4 + 2);
		out->tcp_seq = get32(l4 + 4);
		return 0;
	default:
		return -EINVAL;
	}
}

int wire_parse(const uint8_t *pkt, size_t len, struct wire_probe *out)
{
	uint8_t proto, flow[3];
	size_t hl, tot;
	uint64_t h = FNV_OFFSET;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == IP4_VERSION) {
		if (len < IP4_HDR_LEN)
			return -EINVAL;
		hl = (size_t)(pkt[0] & 0xf) * IP4_WORD;
		tot = get16(pkt + 2);
		if (hl < IP4_IHL_MIN * IP4_WORD || tot < hl || tot > len ||
		    (get16(pkt + 6) & IP4_FRAG_MASK))
			return -EINVAL;
		out->family = AF_INET;
		out->ttl = pkt[8];
		proto = pkt[9];
		memcpy(&out->src.v4, pkt + 12, 4);
		memcpy(&out->dst.v4, pkt + 16, 4);
		h = fnv(h, pkt + 12, 8);
	} else if (pkt[0] >> 4 == IP6_VERSION) {
		if (len < IP6_HDR_LEN)
			return -EINVAL;
		hl = IP6_HDR_LEN;
		tot = hl + get16(pkt + 4);
		if (tot > len)
			return -EINVAL;
		out->family = AF_INET6;
		out->ttl = pkt[7];
		proto = pkt[6];
		memcpy(&out->src.v6, pkt + 8, 16);
		memcpy(&out->dst.v6, pkt + 24, 16);
		h = fnv(h, pkt + 8, 32);
		flow[0] = pkt[1] & 0xf;
		flow[1] = pkt[2];
		flow[2] = pkt[3];
		h = fnv(h, flow, sizeof(flow));
	} else {
		return -EINVAL;
	}
	if (parse_l4(out, proto, pkt + hl, tot - hl))
		return -EINVAL;
	h = fnv(h, &proto, 1);
	out->flow = fnv(h, pkt + hl, L4_HASH_LEN);
	out->pkt = pkt;
	out->len = tot;
	out->l4_off = hl;
	return 0;
}

/* IP header for an answer of l4len bytes; returns the header length. */
static size_t put_ip(const struct wire_probe *p, uint8_t proto, const void *from, uint8_t ttl,
		     size_t l4len, uint8_t *buf)
{
	if (p->family == AF_INET) {
		memset(buf, 0, IP4_HDR_LEN);
		buf[0] = IP4_VIHL;
		put16(buf + 2, (uint16_t)(IP4_HDR_LEN + l4len));
		buf[8] = ttl;
		buf[9] = proto;
		memcpy(buf + 12, from, 4);
		memcpy(buf + 16, &p->src.v4, 4);
		put16(buf + 10, (uint16_t)~packet_fold(packet_sum(0, buf, IP4_HDR_LEN)));
		return IP4_HDR_LEN;
	}
	memset(buf, 0, IP6_HDR_LEN);
	buf[0] = IP6_VERSION << 4;
	put16(buf + 4, (uint16_t)l4len);
	buf[6] = proto;
	buf[7] = ttl;
	memcpy(buf + 8, from, 16);
	memcpy(buf + 24, &p->src.v6, 16);
	return IP6_HDR_LEN;
}

/* L4 checksum: ICMPv4 has none of the pseudo-header, everything else has it. */
static void put_l4_check(const struct wire_probe *p, uint8_t proto, uint8_t *ip, size_t hl,
			 size_t l4len, size_t check_off)
{
	uint32_t sum = 0;
	uint8_t pseudo[4];

	if (proto != IPPROTO_ICMP) {
		if (p->family == AF_INET)
			sum = packet_sum(0, ip + 12, 8);
		else
			sum = packet_sum(0, ip + 8, 32);
		put32(pseudo, (uint32_t)l4len);
		sum = packet_sum(sum, pseudo, sizeof(pseudo));
		pseudo[0] = 0;
		pseudo[1] = proto;
		sum = packet_sum(sum, pseudo, 2);
	}
	sum = packet_sum(sum, ip + hl, l4len);
	put16(ip + hl + check_off, (uint16_t)~packet_fold(sum));
}

/* Quote the probe as the answering node received it: TTL lowered by hops_back. */
static size_t put_quote(const struct wire_probe *p, size_t hops_back, uint8_t *q)
{
	size_t n = p->len < WIRE_QUOTE_LEN ? p->len : WIRE_QUOTE_LEN;
	uint8_t ttl = (uint8_t)(p->ttl - hops_back);

	memcpy(q, p->pkt, n);
	if (p->family == AF_INET) {
		q[8] = ttl;
		put16(q + 10, 0);
		put16(q + 10, (uint16_t)~packet_fold(packet_sum(0, q, p->l4_off)));
	} else {
		q[7] = ttl;
	}
	return n;
}

static int build_icmp_error(const struct wire_probe *p, enum path_kind k, const void *from,
			    size_t hops_back, const struct scenario_mpls *mpls, size_t nmpls,
			    uint8_t *buf, size_t cap)
{
	int v4 = p->family == AF_INET;
	size_t hl = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	uint8_t proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	size_t need = hl + ICMP_HDR_LEN + WIRE_QUOTE_LEN + EXT_HDR_LEN + EXT_OBJ_HDR_LEN +
		      SCENARIO_MPLS_MAX * MPLS_ENTRY_LEN;
	uint8_t *icmp = buf + hl, *ext;
	size_t qlen, l4len, i, olen;

	if (k != PATH_KIND_TTL_EXCEEDED)
		nmpls = 0;
	if (cap < need || nmpls > SCENARIO_MPLS_MAX)
		return -EMSGSIZE;
	memset(icmp, 0, ICMP_HDR_LEN);
	if (k == PATH_KIND_TTL_EXCEEDED) {
		icmp[0] = v4 ? ICMP4_TIME_EXC : ICMP6_TIME_EXC;
	} else {
		icmp[0] = v4 ? ICMP4_UNREACH : ICMP6_UNREACH;
		icmp[1] = v4 ? ICMP4_PORT_UNR : ICMP6_PORT_UNR;
	}
	qlen = put_quote(p, hops_back, icmp + ICMP_HDR_LEN);
	l4len = ICMP_HDR_LEN + qlen;
	if (nmpls) {
		/* RFC 4884: pad the quote to 128 bytes and give its length in words. */
		memset(icmp + l4len, 0, WIRE_QUOTE_LEN - qlen);
		l4len = ICMP_HDR_LEN + WIRE_QUOTE_LEN;
		if (v4)
			icmp[ICMP4_LEN_OFF] = WIRE_QUOTE_LEN / ICMP4_LEN_UNIT;
		else
			icmp[ICMP6_LEN_OFF] = WIRE_QUOTE_LEN / ICMP6_LEN_UNIT;
		ext = icmp + l4len;
		olen = EXT_OBJ_HDR_LEN + nmpls * MPLS_ENTRY_LEN;
		memset(ext, 0, EXT_HDR_LEN);
		ext[0] = EXT_VERSION_BYTE;
		put16(ext + EXT_HDR_LEN, (uint16_t)olen);
		ext[EXT_HDR_LEN + 2] = EXT_CLASS_MPLS;
		ext[EXT_HDR_LEN + 3] = EXT_CTYPE_MPLS;
		for (i = 0; i < nmpls; i++) {
			uint32_t e = mpls[i].label << MPLS_LABEL_SHIFT |
				     (uint32_t)mpls[i].exp << MPLS_EXP_SHIFT | mpls[i].ttl;

			if (i == nmpls - 1)
				e |= MPLS_BOS;
			put32(ext + EXT_HDR_LEN + EXT_OBJ_HDR_LEN + i * MPLS_ENTRY_LEN, e);
		}
		put16(ext + 2, (uint16_t)~packet_fold(packet_sum(0, ext, EXT_HDR_LEN + olen)));
		l4len += EXT_HDR_LEN + olen;
	}
	put_ip(p, proto, from, (uint8_t)(WIRE_REPLY_TTL - hops_back), l4len, buf);
	put_l4_check(p, proto, buf, hl, l4len, 2);
	return (int)(hl + l4len);
}

static int build_echo_reply(const struct wire_probe *p, size_t hops_back, uint8_t *buf, size_t cap)
{
	int v4 = p->family == AF_INET;
	size_t hl = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	size_t l4len = p->len - p->l4_off;
	uint8_t proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;

	if (hl + l4len > cap)
		return -EMSGSIZE;
	memcpy(buf + hl, p->pkt + p->l4_off, l4len);
	buf[hl] = v4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY;
	put16(buf + hl + 2, 0);
	put_ip(p, proto, v4 ? (const void *)&p->dst.v4 : (const void *)&p->dst.v6,
	       (uint8_t)(WIRE_REPLY_TTL - hops_back), l4len, buf);
	put_l4_check(p, proto, buf, hl, l4len, 2);
	return (int)(hl + l4len);
}

static int build_tcp(const struct wire_probe *p, int synack, size_t hops_back, uint8_t *buf,
		     size_t cap)
{
	int v4 = p->family == AF_INET;
	size_t hl = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	uint8_t *t = buf + hl;

	if (hl + TCP_HDR_LEN > cap)
		return -EMSGSIZE;
	memset(t, 0, TCP_HDR_LEN);
	put16(t, p->dport);
	put16(t + 2, p->sport);
	/* A SYN-ACK needs some initial sequence number; the flow hash is as good as any. */
	put32(t + 4, synack ? (uint32_t)p->flow : 0);
	put32(t + 8, p->tcp_seq + 1);
	t[12] = TCP_DOFF_BYTE;
	t[13] = synack ? (TCP_FLAG_SYN | TCP_FLAG_ACK) : (TCP_FLAG_RST | TCP_FLAG_ACK);
	put16(t + 14, synack ? TCP_WINDOW : 0);
	put_ip(p, IPPROTO_TCP, v4 ? (const void *)&p->dst.v4 : (const void *)&p->dst.v6,
	       (uint8_t)(WIRE_REPLY_TTL - hops_back), TCP_HDR_LEN, buf);
	put_l4_check(p, IPPROTO_TCP, buf, hl, TCP_HDR_LEN, 16);
	return (int)(hl + TCP_HDR_LEN);
}

int wire_build(const struct wire_probe *p, enum path_kind k, const void *from, size_t hops_back,
	       const struct scenario_mpls *mpls, size_t nmpls, uint8_t *buf, size_t cap)
{
	if (!p->pkt || hops_back >= p->ttl)
		return -EINVAL;
	switch (k) {
	case PATH_KIND_TTL_EXCEEDED:
	case PATH_KIND_PORT_UNREACH:
		return build_icmp_error(p, k, from, hops_back, mpls, nmpls, buf, cap);
	case PATH_KIND_ECHO_REPLY:
		return build_echo_reply(p, hops_back, buf, cap);
	case PATH_KIND_TCP_SYNACK:
	case PATH_KIND_TCP_RST:
		return build_tcp(p, k == PATH_KIND_TCP_SYNACK, hops_back, buf, cap);
	}
	return -EINVAL;
}
