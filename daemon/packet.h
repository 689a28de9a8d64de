/*
 * packet: builds probe packets and parses what comes back, as pure functions.
 * Owns the wire layout of IPv4/IPv6, ICMP/ICMPv6, UDP and TCP headers, checksums and
 * RFC 4884/4950 MPLS extensions. Never touches a socket, the clock or the heap: every
 * byte it reads may come from a hostile network and is bounds-checked.
 */
#ifndef HOPWATCH_DAEMON_PACKET_H
#define HOPWATCH_DAEMON_PACKET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/* Largest probe we build (size argument), and largest datagram we read. */
#define PACKET_SIZE_MAX 65000
#define PACKET_RECV_MAX 65536
/* Most MPLS label stack entries kept from one ICMP extension object. */
#define PACKET_MPLS_MAX 8
/* Bytes of payload a forced checksum needs (two, at an even offset). */
#define PACKET_CHECK_ADJUST_LEN 2

/* What to send. Addresses in network order; ports and ids in host order. */
struct packet_probe {
	int family;   /* AF_INET or AF_INET6 */
	int protocol; /* IPPROTO_ICMP (ICMPv6 echo for AF_INET6), IPPROTO_UDP, IPPROTO_TCP */
	union addr_ip src, dst;
	uint8_t ttl;
	uint8_t tos;	   /* IPv4 TOS / IPv6 traffic class (the latter set by cmsg) */
	uint16_t ip_id;	   /* IPv4 identification, 0 = let the kernel choose */
	size_t size;	   /* whole packet incl. IP header, as mtr's "size"; clamped up */
	uint8_t pattern;   /* payload fill byte */
	uint16_t icmp_id;  /* ICMP echo */
	uint16_t icmp_seq; /* ICMP echo */
	uint16_t src_port; /* UDP/TCP */
	uint16_t dst_port; /* UDP/TCP */
	uint32_t tcp_seq;  /* TCP SYN sequence number */
	/*
	 * When set, two payload bytes are chosen so that the ICMP or UDP checksum
	 * equals check_value: UDP encodes the probe id there, ICMP keeps a flow's
	 * checksum constant (Paris traceroute). Needs PACKET_CHECK_ADJUST_LEN bytes
	 * of payload, which the size clamp guarantees.
	 */
	int force_check;
	uint16_t check_value;
};

/*
 * Smallest "size" for a probe of this family and protocol (IP + L4 header + the
 * checksum adjust bytes); packet_build() clamps smaller sizes up to it.
 */
size_t packet_min_size(int family, int protocol);

/*
 * Build the probe into buf. AF_INET: full IPv4 header + L4 (for an IP_HDRINCL raw
 * socket). AF_INET6: L4 header + payload only (the kernel adds the IPv6 header; TTL and
 * traffic class go by cmsg). Checksums are computed here, with the pseudo-header.
 * Returns the number of bytes written, or -EINVAL / -EMSGSIZE.
 */
int packet_build(const struct packet_probe *p, uint8_t *buf, size_t cap);

enum packet_kind {
	PACKET_KIND_IGNORE = 0, /* not a reply to any probe we could have sent */
	PACKET_KIND_ECHO_REPLY, /* ICMP/ICMPv6 echo reply */
	PACKET_KIND_ICMP_ERROR, /* time exceeded, unreachable, ... quoting a probe */
	PACKET_KIND_TCP,	/* a TCP segment (SYN-ACK or RST) from a probed host */
};

/* What a received packet says about the probe it answers. */
struct packet_reply {
	enum packet_kind kind;
	int family;
	union addr_ip responder; /* who sent this packet */
	int reply_ttl;		 /* TTL / hop limit of this packet, -1 if unknown */
	uint8_t icmp_type, icmp_code;
	/* The probe it refers to, from the quote or from the reply itself: */
	int probe_protocol; /* IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_TCP */
	union addr_ip probe_src, probe_dst;
	int has_probe_src; /* quotes carry it; echo replies and TCP give our dst only */
	/* The outer destination, when the IP header was seen (must be the probe's source). */
	union addr_ip reply_dst;
	int has_reply_dst;
	uint16_t icmp_id, icmp_seq;
	uint16_t src_port, dst_port; /* the probe's, not the reply's */
	uint16_t check;		     /* the probe's ICMP/UDP checksum, from the quote */
	uint32_t tcp_seq;	     /* the probe's sequence number (ack - 1 for TCP) */
	uint8_t tcp_flags;	     /* PACKET_KIND_TCP */
	int quoted_ttl;		     /* TTL left in the quoted IP header, -1 if none */
	size_t nmpls;
	struct {
		uint32_t label;
		uint8_t exp, bos, ttl;
	} mpls[PACKET_MPLS_MAX];
};

/*
 * Parse one datagram as read from a raw socket.
 * AF_INET: buf starts with the IPv4 header (raw IPv4 sockets deliver it).
 * AF_INET6: buf starts at the ICMPv6 or TCP header (raw IPv6 sockets strip the IPv6
 * header); from and hop_limit come from recvmsg (-1 if unknown).
 * ip_protocol says which raw socket it came from: IPPROTO_ICMP/IPPROTO_ICMPV6 or
 * IPPROTO_TCP. Returns 0 with out->kind set (PACKET_KIND_IGNORE for anything else),
 * never fails on hostile input. IPv4 gets packet_parse_ip()'s checks (a raw IPv4 socket
 * hands over ICMP before its checksum is verified), except the TCP checksum, which a raw
 * socket may see before offload filled it in. IPv6 trusts the kernel
 * for the destination and the ICMPv6 checksum, which a raw IPv6 socket has checked and
 * this function cannot (it never sees the IPv6 header): has_reply_dst stays 0.
 */
int packet_parse(int family, int ip_protocol, const uint8_t *buf, size_t len,
		 const union addr_ip *from, int hop_limit, struct packet_reply *out);

/*
 * Parse one whole IP datagram (IPv4 or IPv6, by its version nibble) as a receive ring
 * holds it: len bytes captured of a datagram that was wire_len bytes long (wire_len >= len;
 * 0 = len). Takes only what the kernel itself would deliver: a valid IPv4 header
 * checksum, a total/payload length the datagram really has, no fragment, and a valid
 * ICMP/ICMPv6/TCP checksum. l4_checked says the kernel vouches for the L4 checksum (a
 * device validated it, or a local sender left it to offload, as veth peers do), so it is
 * not summed. A datagram cut short by the capture keeps every other check but not the L4
 * checksum, which covers bytes that were never captured. Returns as packet_parse().
 */
int packet_parse_ip(const uint8_t *buf, size_t len, size_t wire_len, int l4_checked,
		    struct packet_reply *out);

/* What a parsed reply means for the probe, independent of address family. */
enum packet_verdict {
	PACKET_VERDICT_NONE = 0,
	PACKET_VERDICT_REPLY,	      /* destination answered (echo, port unreachable, TCP) */
	PACKET_VERDICT_TTL_EXPIRED,   /* time exceeded in transit */
	PACKET_VERDICT_NET_UNREACH,   /* network unreachable / no route */
	PACKET_VERDICT_HOST_UNREACH,  /* host or address unreachable */
	PACKET_VERDICT_PROHIBITED,    /* administratively prohibited */
	PACKET_VERDICT_OTHER_UNREACH, /* any other unreachable / parameter problem */
};

enum packet_verdict packet_classify(const struct packet_reply *r);

/* RFC 1071 sum of len bytes, folded but not complemented, to chain pieces. */
uint32_t packet_sum(uint32_t sum, const void *data, size_t len);
uint16_t packet_fold(uint32_t sum);

#endif
