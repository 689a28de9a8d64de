/*
 * net: the engine's raw sockets and the system calls on them.
 * Owns the sockets opened at start-up (while privileged), the reserved local ports that
 * keep two engines from taking each other's replies, and the source-address cache.
 * Never parses a packet (packet.c does) and never decides what a reply means.
 * Linux implementation: net_linux.c.
 */
#ifndef HOPWATCH_DAEMON_NET_H
#define HOPWATCH_DAEMON_NET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daemon/packet.h"

/* Sockets the event loop reads replies from. */
enum net_sock {
	NET_SOCK_ICMP4,
	NET_SOCK_TCP4,
	NET_SOCK_ICMP6,
	NET_SOCK_TCP6,
	NET_SOCK__COUNT,
};

/* Datagrams taken per recvmmsg() call. */
#define NET_RX_BATCH 64
/* Kernel receive buffer asked for on reply sockets (bursts of 65,536 replies). */
#define NET_RCVBUF_BYTES (16 * 1024 * 1024)
/* Distinct local ports (local-port argument) one engine holds at once. */
#define NET_PORTS_MAX 64
/* Source-address cache entries (direct-mapped by destination hash). */
#define NET_SRC_CACHE 4096

struct net_rx {
	uint8_t *buf;
	size_t len;
	union addr_ip from;
	int hop_limit;	 /* IPv6 only, -1 if unknown */
	int ip_protocol; /* L4 protocol when the socket does not say, else 0 */
	/*
	 * Ring frames: buf holds the whole IP datagram from its header on (IPv6 too), of
	 * which wire_len bytes were received (len may be fewer); 0 for socket reads.
	 */
	size_t wire_len;
	int l4_checked;	       /* ring frames: the kernel vouches for the L4 checksum */
	struct timespec stamp; /* SO_TIMESTAMPNS, CLOCK_REALTIME */
	/*
	 * ICMP datagram sockets deliver no IP header (errors come from the error queue),
	 * so net fills the reply itself; the kernel already matched the ICMP id.
	 */
	int preparsed;
	struct packet_reply reply;
};

enum net_mode {
	NET_MODE_RAW,	/* raw sockets: every protocol, any TTL */
	NET_MODE_DGRAM, /* no CAP_NET_RAW: ICMP datagram sockets, ICMP probes only */
};

struct net;

/*
 * Open every raw socket (needs CAP_NET_RAW). Without that privilege, fall back to ICMP
 * datagram sockets where net.ipv4.ping_group_range admits our group (NET_MODE_DGRAM).
 * Returns 0, -EPERM / -EACCES when neither is possible, or another -errno. A family
 * whose sockets cannot be opened (e.g. IPv6 disabled) is marked unavailable.
 */
int net_new(struct net **out);
enum net_mode net_get_mode(const struct net *n);
/* Whether probes of this protocol (IPPROTO_ICMP/UDP/TCP) can be sent in this mode. */
int net_supports(const struct net *n, int protocol);
struct net *net_free(struct net *n);

int net_fd(const struct net *n, enum net_sock which);
int net_have_family(const struct net *n, int family);

/* The ICMP echo id this engine's probes carry (random; its replies are filtered on it). */
uint16_t net_icmp_id(const struct net *n);

/* The port this engine reserved for UDP or TCP probes of a family (host order). */
uint16_t net_reserved_port(const struct net *n, int family, int protocol);

/* Hold a caller-chosen local port (local-port). 0, -EADDRINUSE, -ENOSPC, -errno. */
int net_reserve_port(struct net *n, int family, int protocol, uint16_t port);

/*
 * The source address the kernel would use toward dst. With local set, check that it
 * is an address of this host (-EADDRNOTAVAIL otherwise) and return it. udp_fd >= 0
 * routes the lookup through that socket (mark / device sockets from the broker).
 */
int net_source(struct net *n, int family, const union addr_ip *dst, const union addr_ip *local,
	       int udp_fd, union addr_ip *src);

/* Drop what net_source() cached for dst (and local), so the next call asks the kernel. */
void net_source_forget(struct net *n, int family, const union addr_ip *dst,
		       const union addr_ip *local);

/*
 * Send one built probe. fd < 0 picks the engine's own socket for family/protocol.
 * IPv6 TTL, traffic class, source and flow label go by ancillary data.
 * *sent is CLOCK_REALTIME taken immediately before the system call.
 */
int net_send(struct net *n, int fd, const struct packet_probe *p, const uint8_t *pkt, size_t len,
	     uint32_t flowlabel, struct timespec *sent);

/*
 * Make a socket from the broker fit for sending only: non-blocking, nothing queued for
 * reading (a raw socket gets a copy of every matching packet), IPv6 flow labels honoured.
 */
int net_prepare_send_fd(int fd, int family);

/*
 * Read up to max datagrams from one reply socket without blocking. Returns how many
 * (0 when none are waiting) or -errno. rx[i].buf point into the net's own buffers,
 * valid until the next call.
 */
int net_recv(struct net *n, enum net_sock which, struct net_rx *rx, size_t max);

#endif
