/*
 * wire: netsim's packet side. Reads a probe (a whole IPv4/IPv6 datagram from the TUN)
 * and builds what a node sends back: ICMP time exceeded quoting the probe (RFC 4884
 * length + RFC 4950 MPLS object when labels are given), port unreachable, echo reply,
 * TCP SYN-ACK or RST. Pure functions over caller buffers: no I/O, no allocation.
 */
#ifndef HOPWATCH_NETSIM_WIRE_H
#define HOPWATCH_NETSIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/packet.h"
#include "path.h"
#include "scenario.h"

/* Largest reply we build: the TUN MTU (probes beyond it arrive as fragments). */
#define WIRE_MTU 1500
/* Original datagram bytes quoted in ICMP errors (RFC 4884 minimum when extended). */
#define WIRE_QUOTE_LEN 128
/* TTL / hop limit a node starts its answers with (routers commonly use 255). */
#define WIRE_REPLY_TTL 255

struct wire_probe {
	int family; /* AF_INET or AF_INET6 */
	enum path_proto proto;
	union addr_ip src, dst;
	uint8_t ttl;
	uint16_t icmp_id, icmp_seq; /* ICMP */
	uint16_t sport, dport;	    /* UDP, TCP (host order) */
	uint32_t tcp_seq;
	uint64_t flow;	    /* FNV-1a of addresses, protocol, first 4 L4 bytes, IPv6 flow label */
	const uint8_t *pkt; /* the datagram, borrowed */
	size_t len;
	size_t l4_off;
};

/*
 * Parse a datagram read from the TUN. Returns 0 for a probe (ICMP/ICMPv6 echo request,
 * UDP, TCP SYN without ACK, first fragment or unfragmented), -EINVAL for anything else.
 */
int wire_parse(const uint8_t *pkt, size_t len, struct wire_probe *out);

/*
 * Build the answer of kind k to probe p into buf. from: the answering address (same
 * family as p, network order). hops_back: how many nodes the probe crossed to reach the
 * answering one, minus one (sets the quoted TTL and the reply's TTL); below p->ttl.
 * mpls/nmpls: labels for an ICMP time exceeded (ignored for other kinds).
 * Returns the datagram length, or -EMSGSIZE / -EINVAL.
 */
int wire_build(const struct wire_probe *p, enum path_kind k, const void *from, size_t hops_back,
	       const struct scenario_mpls *mpls, size_t nmpls, uint8_t *buf, size_t cap);

#endif
