/*
 * packet: probe construction and reply parsing for the engine, as pure functions.
 * Every read of received bytes is checked against the caller's length first; nothing
 * here allocates, blocks or keeps state, so the whole module can be fuzzed directly.
 * Multi-byte fields are read and written byte by byte (big endian), which is
 * alignment-safe on any pointer the kernel or a fuzzer hands us.
 */
#include "daemon/packet.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define IPV4_HDR_LEN 20
#define IPV4_IHL_MIN 5
#define IPV4_VERSION 4
#define IPV6_HDR_LEN 40
#define IPV6_VERSION 6
#define ICMP_HDR_LEN 8
#define UDP_HDR_LEN  8
#define TCP_HDR_LEN  20
/* IPv4 flags/fragment offset word: MF and the offset; DF alone is a whole datagram. */
#define IPV4_MF		 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IPV4_FRAG_MASK	 (IPV4_MF | IPV4_OFFSET_MASK)
/* Bytes of a quoted L4 header every router must include (RFC 792). */
#define QUOTE_L4_LEN 8

/* Offsets of the checksum inside each L4 header. */
#define ICMP_CHECK_OFF 2
#define UDP_CHECK_OFF  6
#define TCP_CHECK_OFF  16
/* The forced-checksum bytes sit first in the payload: an even offset, as required. */
#define CHECK_ADJUST_OFF 8

#define ICMP4_ECHO_REPLY     0
#define ICMP4_DEST_UNREACH   3
#define ICMP4_ECHO_REQUEST   8
#define ICMP4_TIME_EXCEEDED  11
#define ICMP4_PARAM_PROBLEM  12
#define ICMP6_DEST_UNREACH   1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED  3
#define ICMP6_PARAM_PROBLEM  4
#define ICMP6_ECHO_REQUEST   128
#define ICMP6_ECHO_REPLY     129

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
/* Data offset 5 words (no options), in the high nibble of byte 12. */
#define TCP_DOFF_BYTE  (5 << 4)
#define TCP_SYN_WINDOW 65535

/* RFC 4884: the original datagram is padded to at least 128 bytes before extensions. */
#define EXT_ORIG_MIN	128
#define EXT_HDR_LEN	4
#define EXT_VERSION	2
#define EXT_OBJ_HDR_LEN 4
#define EXT_CLASS_MPLS	1
#define EXT_CTYPE_MPLS	1
#define MPLS_ENTRY_LEN	4
#define ICMP4_LEN_UNIT	4 /* RFC 4884 length field: 32-bit words in ICMPv4 */
#define ICMP6_LEN_UNIT	8 /* ... and 64-bit words in ICMPv6 */
#define ICMP4_LEN_OFF	5
#define ICMP6_LEN_OFF	4

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
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t ip_hdr_len(int family)
{
	switch (family) {
	case AF_INET:
		return IPV4_HDR_LEN;
	case AF_INET6:
		return IPV6_HDR_LEN;
	default:
		return 0;
	}
}

/* The protocol number that goes on the wire, or -1 if we do not build it. */
static int wire_protocol(int family, int protocol)
{
	switch (protocol) {
	case IPPROTO_ICMP:
		return family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	case IPPROTO_ICMPV6:
		/* Accepted as a synonym for ICMP echo, but only where it makes sense. */
		return family == AF_INET6 ? IPPROTO_ICMPV6 : -1;
	case IPPROTO_UDP:
	case IPPROTO_TCP:
		return protocol;
	default:
		return -1;
	}
}

/*
 * Pseudo-header sum for the L4 checksum. ICMPv4 has none; ICMPv6, UDP and TCP cover
 * the addresses, which is why the caller must know its source address.
 */
static uint32_t pseudo_sum(const struct packet_probe *p, int proto, size_t l4_len)
{
	uint8_t tail[8];
	uint32_t sum = 0;

	if (p->family == AF_INET) {
		if (proto == IPPROTO_ICMP)
			return 0;
		sum = packet_sum(sum, &p->src.v4, sizeof(p->src.v4));
		sum = packet_sum(sum, &p->dst.v4, sizeof(p->dst.v4));
		tail[0] = 0;
		tail[1] = (uint8_t)proto;
		put16(tail + 2, (uint16_t)l4_len);
		return packet_sum(sum, tail, 4);
	}
	sum = packet_sum(sum, &p->src.v6, sizeof(p->src.v6));
	sum = packet_sum(sum, &p->dst.v6, sizeof(p->dst.v6));
	put32(tail, (uint32_t)l4_len);
	tail[4] = tail[5] = tail[6] = 0;
	tail[7] = (uint8_t)proto;
	return packet_sum(sum, tail, sizeof(tail));
}

/*
 * Write the L4 checksum. A forced value is written as is and the adjust bytes are
 * chosen so the packet still verifies: with S the sum of everything else, X the
 * adjust word and C the wanted field, a receiver needs S + X + C == 0 in one's
 * complement, so X = ~C - S. Because 0x0000 and 0xffff are both "zero" there, any C
 * works, including 0xffff, which a plain ~sum could never produce.
 */
static void set_l4_check(const struct packet_probe *p, int proto, uint8_t *l4, size_t l4_len)
{
	size_t off = proto == IPPROTO_UDP   ? UDP_CHECK_OFF
		     : proto == IPPROTO_TCP ? TCP_CHECK_OFF
					    : ICMP_CHECK_OFF;
	uint32_t ph = pseudo_sum(p, proto, l4_len);
	uint16_t check;

	put16(l4 + off, 0);
	if (p->force_check && proto != IPPROTO_TCP) {
		uint16_t s, want, adjust;

		if (proto == IPPROTO_UDP && p->check_value == 0)
			return; /* IPv4 only (IPv6 was refused): "no checksum" */
		put16(l4 + CHECK_ADJUST_OFF, 0);
		s = packet_fold(packet_sum(ph, l4, l4_len));
		want = (uint16_t)~p->check_value;
		adjust = packet_fold((uint32_t)want + (uint16_t)~s);
		put16(l4 + CHECK_ADJUST_OFF, adjust);
		put16(l4 + off, p->check_value);
		return;
	}
	check = (uint16_t)~packet_fold(packet_sum(ph, l4, l4_len));
	/* RFC 768: a computed zero goes out as all ones; zero means "none" (v4) */
	if (proto == IPPROTO_UDP && check == 0)
		check = 0xffff;
	put16(l4 + off, check);
}

/*
 * Does a received L4 message verify? ph is its pseudo-header sum (0 for ICMPv4). A
 * message the capture cut short cannot be summed: whole says whether all of it is here.
 */
static bool l4_check_ok(uint32_t ph, const uint8_t *l4, size_t len, bool whole)
{
	if (!whole)
		return true;
	return packet_fold(packet_sum(ph, l4, len)) == 0xffff;
}

/* Pseudo-header sum of a received segment, from the addresses of its own IP header. */
static uint32_t rx_pseudo_sum(int family, const union addr_ip *src, const union addr_ip *dst,
			      int proto, size_t l4_len)
{
	struct packet_probe p;

	memset(&p, 0, sizeof(p));
	p.family = family;
	p.src = *src;
	p.dst = *dst;
	return pseudo_sum(&p, proto, l4_len);
}

static void build_ipv4_header(const struct packet_probe *p, int proto, size_t size, uint8_t *h)
{
	h[0] = (IPV4_VERSION << 4) | IPV4_IHL_MIN;
	h[1] = p->tos;
	put16(h + 2, (uint16_t)size);
	put16(h + 4, p->ip_id);
	put16(h + 6, 0); /* DF off, no fragment offset: routers may fragment probes */
	h[8] = p->ttl;
	h[9] = (uint8_t)proto;
	put16(h + 10, 0);
	memcpy(h + 12, &p->src.v4, sizeof(p->src.v4));
	memcpy(h + 16, &p->dst.v4, sizeof(p->dst.v4));
	/* The kernel refills it under IP_HDRINCL, but a correct header costs nothing. */
	put16(h + 10, (uint16_t)~packet_fold(packet_sum(0, h, IPV4_HDR_LEN)));
}

static void build_l4(const struct packet_probe *p, int proto, uint8_t *l4, size_t l4_len)
{
	switch (proto) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		l4[0] = proto == IPPROTO_ICMP ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
		l4[1] = 0;
		put16(l4 + 4, p->icmp_id);
		put16(l4 + 6, p->icmp_seq);
		break;
	case IPPROTO_UDP:
		put16(l4, p->src_port);
		put16(l4 + 2, p->dst_port);
		put16(l4 + 4, (uint16_t)l4_len);
		break;
	case IPPROTO_TCP:
		put16(l4, p->src_port);
		put16(l4 + 2, p->dst_port);
		put32(l4 + 4, p->tcp_seq);
		put32(l4 + 8, 0);
		l4[12] = TCP_DOFF_BYTE;
		l4[13] = TCP_FLAG_SYN;
		put16(l4 + 14, TCP_SYN_WINDOW);
		put16(l4 + 18, 0); /* urgent pointer */
		break;
	default:
		break;
	}
	set_l4_check(p, proto, l4, l4_len);
}

/*
 * Does this ICMP type carry a quote of one of our probes? IPv6 "packet too big" is
 * left out: the engine sends with the kernel's PMTU handling and gains nothing from it.
 */
static bool icmp_is_error(int family, uint8_t type)
{
	if (family == AF_INET)
		return type == ICMP4_DEST_UNREACH || type == ICMP4_TIME_EXCEEDED ||
		       type == ICMP4_PARAM_PROBLEM;
	return type == ICMP6_DEST_UNREACH || type == ICMP6_TIME_EXCEEDED ||
	       type == ICMP6_PARAM_PROBLEM;
}

/* Only these two carry RFC 4884 extensions in the cases we decode. */
static bool icmp_may_extend(int family, uint8_t type)
{
	if (family == AF_INET)
		return type == ICMP4_DEST_UNREACH || type == ICMP4_TIME_EXCEEDED;
	return type == ICMP6_DEST_UNREACH || type == ICMP6_TIME_EXCEEDED;
}

static void copy_addr(int family, union addr_ip *dst, const uint8_t *src)
{
	if (family == AF_INET)
		memcpy(&dst->v4, src, sizeof(dst->v4));
	else
		memcpy(&dst->v6, src, sizeof(dst->v6));
}

/* The first 8 bytes of the quoted L4 header; false if it cannot be one of our probes. */
static bool parse_quoted_l4(int family, int proto, const uint8_t *l4, struct packet_reply *out)
{
	switch (proto) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (proto != (family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6))
			return false;
		if (l4[0] != (family == AF_INET ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST))
			return false;
		out->probe_protocol = IPPROTO_ICMP;
		out->check = get16(l4 + ICMP_CHECK_OFF);
		out->icmp_id = get16(l4 + 4);
		out->icmp_seq = get16(l4 + 6);
		return true;
	case IPPROTO_UDP:
		out->probe_protocol = IPPROTO_UDP;
		out->src_port = get16(l4);
		out->dst_port = get16(l4 + 2);
		out->check = get16(l4 + UDP_CHECK_OFF);
		return true;
	case IPPROTO_TCP:
		out->probe_protocol = IPPROTO_TCP;
		out->src_port = get16(l4);
		out->dst_port = get16(l4 + 2);
		out->tcp_seq = get32(l4 + 4);
		return true;
	default:
		return false;
	}
}

/* The quoted IP header and L4 start, which identify the probe. */
static bool parse_quote(int family, const uint8_t *q, size_t qlen, struct packet_reply *out)
{
	size_t hl;
	int proto;

	if (family == AF_INET) {
		if (qlen < IPV4_HDR_LEN || (q[0] >> 4) != IPV4_VERSION)
			return false;
		hl = (size_t)(q[0] & 0x0f) * 4;
		if (hl < IPV4_HDR_LEN || hl > qlen - QUOTE_L4_LEN)
			return false;
		/* A later fragment quotes payload where the L4 header would be. */
		if (get16(q + 6) & IPV4_OFFSET_MASK)
			return false;
		proto = q[9];
		out->quoted_ttl = q[8];
		copy_addr(family, &out->probe_src, q + 12);
		copy_addr(family, &out->probe_dst, q + 16);
	} else {
		/* No extension-header chase: our probes never carry one. */
		hl = IPV6_HDR_LEN;
		if (qlen < hl + QUOTE_L4_LEN || (q[0] >> 4) != IPV6_VERSION)
			return false;
		proto = q[6];
		out->quoted_ttl = q[7];
		copy_addr(family, &out->probe_src, q + 8);
		copy_addr(family, &out->probe_dst, q + 24);
	}
	out->has_probe_src = 1;
	return parse_quoted_l4(family, proto, q + hl, out);
}

/*
 * RFC 4884 / RFC 4950 MPLS label stacks. With the length field set the extension
 * structure follows that much original datagram; without it, some routers still append
 * one after a 128-byte quote (pre-RFC 4884 practice), so that offset is tried, as mtr
 * does. Anything inconsistent drops every label: a half-read stack would mislead.
 */
static void parse_extensions(int family, const uint8_t *icmp, size_t len, struct packet_reply *out)
{
	size_t words = family == AF_INET ? icmp[ICMP4_LEN_OFF] : icmp[ICMP6_LEN_OFF];
	size_t unit = family == AF_INET ? ICMP4_LEN_UNIT : ICMP6_LEN_UNIT;
	size_t off = ICMP_HDR_LEN + EXT_ORIG_MIN;
	size_t pos, elen, n = 0;
	const uint8_t *ext;
	struct packet_reply tmp;

	if (words) {
		if (words * unit < EXT_ORIG_MIN)
			return; /* non-compliant length: do not guess */
		off = ICMP_HDR_LEN + words * unit;
	}
	if (off > len || len - off < EXT_HDR_LEN)
		return;
	ext = icmp + off;
	elen = len - off;
	if ((ext[0] >> 4) != EXT_VERSION)
		return;
	for (pos = EXT_HDR_LEN; elen - pos >= EXT_OBJ_HDR_LEN;) {
		size_t olen = get16(ext + pos), e;

		if (olen < EXT_OBJ_HDR_LEN || olen > elen - pos)
			return;
		if (ext[pos + 2] == EXT_CLASS_MPLS && ext[pos + 3] == EXT_CTYPE_MPLS) {
			if ((olen - EXT_OBJ_HDR_LEN) % MPLS_ENTRY_LEN)
				return;
			for (e = pos + EXT_OBJ_HDR_LEN; e < pos + olen && n < PACKET_MPLS_MAX;
			     e += MPLS_ENTRY_LEN) {
				uint32_t v = get32(ext + e);

				tmp.mpls[n].label = v >> 12;
				tmp.mpls[n].exp = (uint8_t)((v >> 9) & 0x7);
				tmp.mpls[n].bos = (uint8_t)((v >> 8) & 0x1);
				tmp.mpls[n].ttl = (uint8_t)v;
				n++;
			}
		}
		pos += olen;
	}
	memcpy(out->mpls, tmp.mpls, n * sizeof(out->mpls[0]));
	out->nmpls = n;
}

/*
 * How a received L4 message is verified: with its pseudo-header sum when the caller saw
 * the IP header (ph_known), as a whole message only when nothing was cut off (whole).
 * Without the header (raw IPv6 sockets) the kernel has verified it already.
 */
struct rx_check {
	bool ph_known;
	bool whole;
};

static bool rx_verify(const struct rx_check *c, const struct packet_reply *out, int proto,
		      const uint8_t *l4, size_t len)
{
	int family = out->family;

	if (!c->ph_known)
		return true;
	if (family == AF_INET && proto == IPPROTO_ICMP)
		return l4_check_ok(0, l4, len, c->whole);
	return l4_check_ok(rx_pseudo_sum(family, &out->responder, &out->reply_dst, proto, len), l4,
			   len, c->whole);
}

static void parse_icmp(int family, const uint8_t *icmp, size_t len, const struct rx_check *c,
		       struct packet_reply *out)
{
	struct packet_reply r;

	if (len < ICMP_HDR_LEN)
		return;
	if (!rx_verify(c, out, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, icmp, len))
		return;
	out->icmp_type = icmp[0];
	out->icmp_code = icmp[1];
	if (icmp[0] == (family == AF_INET ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY)) {
		/* Its checksum covers the reply, not our probe: leave check at 0. */
		out->kind = PACKET_KIND_ECHO_REPLY;
		out->probe_protocol = IPPROTO_ICMP;
		out->icmp_id = get16(icmp + 4);
		out->icmp_seq = get16(icmp + 6);
		out->probe_dst = out->responder;
		return;
	}
	if (!icmp_is_error(family, icmp[0]))
		return;
	/* Work on a copy so that a quote we reject leaves no half-filled probe behind. */
	r = *out;
	if (!parse_quote(family, icmp + ICMP_HDR_LEN, len - ICMP_HDR_LEN, &r))
		return;
	r.kind = PACKET_KIND_ICMP_ERROR;
	if (icmp_may_extend(family, icmp[0]))
		parse_extensions(family, icmp, len, &r);
	*out = r;
}

/* A SYN-ACK or RST answering our SYN; the ports are turned round to the probe's view. */
static void parse_tcp(const uint8_t *seg, size_t len, const struct rx_check *c,
		      struct packet_reply *out)
{
	uint8_t flags;

	if (len < TCP_HDR_LEN || !rx_verify(c, out, IPPROTO_TCP, seg, len))
		return;
	flags = seg[13];
	if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != (TCP_FLAG_SYN | TCP_FLAG_ACK) &&
	    !(flags & TCP_FLAG_RST))
		return;
	out->kind = PACKET_KIND_TCP;
	out->probe_protocol = IPPROTO_TCP;
	out->src_port = get16(seg + 2);
	out->dst_port = get16(seg);
	out->tcp_seq = get32(seg + 8) - 1;
	out->tcp_flags = flags;
	out->probe_dst = out->responder;
}

/*
 * wire_len is how long the datagram really was (SIZE_MAX when a socket, not a ring,
 * read it: the kernel has matched the total length against it already). A total length
 * beyond what we hold is then a capture cut short, not a forgery: parse what is there.
 */
static void parse_ipv4(int ip_protocol, const uint8_t *buf, size_t len, size_t wire_len,
		       bool l4_checked, struct packet_reply *out)
{
	struct rx_check c = {.ph_known = !l4_checked};
	size_t hl, tot;

	if (len < IPV4_HDR_LEN || (buf[0] >> 4) != IPV4_VERSION)
		return;
	hl = (size_t)(buf[0] & 0x0f) * 4;
	tot = get16(buf + 2);
	if (hl < IPV4_HDR_LEN || tot < hl || hl > len || tot > wire_len)
		return;
	/* The kernel drops these before any socket sees them; a ring sees them first. */
	if (packet_fold(packet_sum(0, buf, hl)) != 0xffff)
		return;
	/* A lone fragment never reaches a socket: the kernel reassembles first. */
	if (get16(buf + 6) & IPV4_FRAG_MASK)
		return;
	c.whole = tot <= len;
	if (tot > len)
		tot = len;
	copy_addr(AF_INET, &out->responder, buf + 12);
	copy_addr(AF_INET, &out->reply_dst, buf + 16);
	out->has_reply_dst = 1;
	out->reply_ttl = buf[8];
	if (buf[9] != ip_protocol)
		return;
	if (ip_protocol == IPPROTO_ICMP)
		parse_icmp(AF_INET, buf + hl, tot - hl, &c, out);
	else if (ip_protocol == IPPROTO_TCP)
		parse_tcp(buf + hl, tot - hl, &c, out);
}

/*
 * A whole IPv6 datagram from a ring. Extension headers are not chased: replies to our
 * probes carry none, and a fragment header (the only one that matters) is refused so.
 */
static void parse_ipv6(const uint8_t *buf, size_t len, size_t wire_len, bool l4_checked,
		       struct packet_reply *out)
{
	struct rx_check c = {.ph_known = !l4_checked};
	size_t plen;

	if (len < IPV6_HDR_LEN || (buf[0] >> 4) != IPV6_VERSION)
		return;
	plen = get16(buf + 4);
	/* Payload length 0 is a jumbogram, which no reply to us is. */
	if (plen == 0 || plen > wire_len - IPV6_HDR_LEN)
		return;
	c.whole = IPV6_HDR_LEN + plen <= len;
	if (!c.whole)
		plen = len - IPV6_HDR_LEN;
	copy_addr(AF_INET6, &out->responder, buf + 8);
	copy_addr(AF_INET6, &out->reply_dst, buf + 24);
	out->has_reply_dst = 1;
	out->reply_ttl = buf[7];
	if (buf[6] == IPPROTO_ICMPV6)
		parse_icmp(AF_INET6, buf + IPV6_HDR_LEN, plen, &c, out);
	else if (buf[6] == IPPROTO_TCP)
		parse_tcp(buf + IPV6_HDR_LEN, plen, &c, out);
}

static int parse_reset(int family, const uint8_t *buf, size_t len, struct packet_reply *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = PACKET_KIND_IGNORE;
	out->family = family;
	out->reply_ttl = -1;
	out->quoted_ttl = -1;
	if (!buf && len)
		return -EINVAL;
	return 0;
}

size_t packet_min_size(int family, int protocol)
{
	size_t ip = ip_hdr_len(family);

	if (!ip || wire_protocol(family, protocol) < 0)
		return 0;
	if (protocol == IPPROTO_TCP)
		return ip + TCP_HDR_LEN;
	return ip + (protocol == IPPROTO_UDP ? UDP_HDR_LEN : ICMP_HDR_LEN) +
	       PACKET_CHECK_ADJUST_LEN;
}

/*
 * TCP ignores size and force_check: a SYN carries no payload and is matched by its
 * sequence number. IPv4 L4 checksums use p->src as given; with src 0.0.0.0 (kernel
 * picks) the UDP/TCP checksum will not verify, so the engine should fill in its source.
 */
int packet_build(const struct packet_probe *p, uint8_t *buf, size_t cap)
{
	size_t min, size, ip, out_len;
	int proto;

	if (!p || !buf)
		return -EINVAL;
	min = packet_min_size(p->family, p->protocol);
	if (!min)
		return -EINVAL;
	proto = wire_protocol(p->family, p->protocol);
	if (p->force_check && proto == IPPROTO_UDP && p->family == AF_INET6 && p->check_value == 0)
		return -EINVAL; /* RFC 8200: a zero UDP checksum is not allowed in IPv6 */
	size = p->size < min ? min : p->size;
	if (proto == IPPROTO_TCP)
		size = min;
	if (size > PACKET_SIZE_MAX)
		return -EMSGSIZE;
	ip = ip_hdr_len(p->family);
	out_len = p->family == AF_INET ? size : size - ip;
	if (out_len > cap)
		return -EMSGSIZE;

	memset(buf, p->pattern, out_len);
	if (p->family == AF_INET) {
		build_ipv4_header(p, proto, size, buf);
		memset(buf + ip, 0, proto == IPPROTO_TCP ? TCP_HDR_LEN : ICMP_HDR_LEN);
		build_l4(p, proto, buf + ip, size - ip);
	} else {
		memset(buf, 0, proto == IPPROTO_TCP ? TCP_HDR_LEN : ICMP_HDR_LEN);
		build_l4(p, proto, buf, size - ip);
	}
	return (int)out_len;
}

int packet_parse(int family, int ip_protocol, const uint8_t *buf, size_t len,
		 const union addr_ip *from, int hop_limit, struct packet_reply *out)
{
	struct rx_check trusted = {.ph_known = false, .whole = false};
	int err = parse_reset(family, buf, len, out);

	if (err < 0 || !buf)
		return err;
	switch (family) {
	case AF_INET:
		/*
		 * A raw TCP socket cannot say whether a segment's checksum was left to offload
		 * (a local or veth peer's), so only ICMP, which routers always sum, is summed.
		 */
		parse_ipv4(ip_protocol, buf, len, SIZE_MAX, ip_protocol == IPPROTO_TCP, out);
		return 0;
	case AF_INET6:
		if (from)
			out->responder.v6 = from->v6;
		out->reply_ttl = hop_limit < 0 ? -1 : hop_limit;
		if (ip_protocol == IPPROTO_ICMPV6 || ip_protocol == IPPROTO_ICMP)
			parse_icmp(AF_INET6, buf, len, &trusted, out);
		else if (ip_protocol == IPPROTO_TCP)
			parse_tcp(buf, len, &trusted, out);
		return 0;
	default:
		return -EINVAL;
	}
}

int packet_parse_ip(const uint8_t *buf, size_t len, size_t wire_len, int l4_checked,
		    struct packet_reply *out)
{
	int family = buf && len ? ((buf[0] >> 4) == IPV6_VERSION ? AF_INET6 : AF_INET) : AF_INET;
	int err = parse_reset(family, buf, len, out);

	if (err < 0 || !buf)
		return err;
	if (wire_len < len)
		wire_len = len;
	if (family == AF_INET6)
		parse_ipv6(buf, len, wire_len, l4_checked != 0, out);
	else if (len >= IPV4_HDR_LEN)
		parse_ipv4(buf[9] == IPPROTO_TCP ? IPPROTO_TCP : IPPROTO_ICMP, buf, len, wire_len,
			   l4_checked != 0, out);
	return 0;
}

static enum packet_verdict classify4(uint8_t type, uint8_t code)
{
	switch (type) {
	case ICMP4_ECHO_REPLY:
		return PACKET_VERDICT_REPLY;
	case ICMP4_TIME_EXCEEDED:
		return PACKET_VERDICT_TTL_EXPIRED;
	case ICMP4_PARAM_PROBLEM:
		return PACKET_VERDICT_OTHER_UNREACH;
	case ICMP4_DEST_UNREACH:
		switch (code) {
		case 3: /* port unreachable: the UDP probe reached the host */
			return PACKET_VERDICT_REPLY;
		case 0: /* net */
		case 6: /* net unknown */
			return PACKET_VERDICT_NET_UNREACH;
		case 1: /* host */
		case 7: /* host unknown */
			return PACKET_VERDICT_HOST_UNREACH;
		case 9:	 /* net prohibited */
		case 10: /* host prohibited */
		case 13: /* communication prohibited by filter */
			return PACKET_VERDICT_PROHIBITED;
		default:
			return PACKET_VERDICT_OTHER_UNREACH;
		}
	default:
		return PACKET_VERDICT_NONE;
	}
}

static enum packet_verdict classify6(uint8_t type, uint8_t code)
{
	switch (type) {
	case ICMP6_ECHO_REPLY:
		return PACKET_VERDICT_REPLY;
	case ICMP6_TIME_EXCEEDED:
		return PACKET_VERDICT_TTL_EXPIRED;
	case ICMP6_PARAM_PROBLEM:
		return PACKET_VERDICT_OTHER_UNREACH;
	case ICMP6_DEST_UNREACH:
		switch (code) {
		case 4: /* port unreachable */
			return PACKET_VERDICT_REPLY;
		case 0: /* no route */
			return PACKET_VERDICT_NET_UNREACH;
		case 3: /* address unreachable */
			return PACKET_VERDICT_HOST_UNREACH;
		case 1: /* administratively prohibited */
		case 5: /* source address failed policy */
		case 6: /* reject route */
			return PACKET_VERDICT_PROHIBITED;
		default:
			return PACKET_VERDICT_OTHER_UNREACH;
		}
	case ICMP6_PACKET_TOO_BIG:
	default:
		return PACKET_VERDICT_NONE;
	}
}

enum packet_verdict packet_classify(const struct packet_reply *r)
{
	if (!r)
		return PACKET_VERDICT_NONE;
	switch (r->kind) {
	case PACKET_KIND_TCP:
		return PACKET_VERDICT_REPLY;
	case PACKET_KIND_ECHO_REPLY:
	case PACKET_KIND_ICMP_ERROR:
		return r->family == AF_INET ? classify4(r->icmp_type, r->icmp_code)
					    : classify6(r->icmp_type, r->icmp_code);
	case PACKET_KIND_IGNORE:
	default:
		return PACKET_VERDICT_NONE;
	}
}

/*
 * RFC 1071 over big-endian 16-bit words; an odd last byte is padded with zero, so
 * only the final piece of a chain may have an odd length. The result is folded to
 * 16 bits so callers can chain without overflow.
 */
uint32_t packet_sum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += get16(b + i);
	if (len & 1)
		acc += (uint32_t)b[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

/* Fold carries back in; not complemented: the checksum field is ~packet_fold(). */
uint16_t packet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}
