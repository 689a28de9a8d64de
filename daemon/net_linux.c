/*
 * net (Linux): raw sockets, reserved ports, source lookup, sendmsg and recvmmsg.
 *
 * IPv4 probes go out through one IPPROTO_RAW socket with the whole IP header built by
 * packet.c, so TTL and TOS need no per-probe setsockopt. IPv6 has no usable header
 * inclusion, so TTL, traffic class and source ride along as ancillary data on one
 * sendmsg(). Replies are read from a packet ring or per-protocol raw sockets, stamped by
 * the kernel as they arrive; sends are stamped by the kernel too (tx_stamp_take), so an
 * RTT is neither when user space got round to reading nor when it got round to sending.
 */
#include "daemon/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "daemon/bpf_filter.h"

/* Largest datagram kept per receive slot: ICMP errors quote at most 1280 bytes. */
#define NET_RX_BUF 2048
/* Seconds a cached source address is trusted before the route is asked again. */
#define NET_SRC_TTL_NS (5ull * 1000000000ull)
/*
 * Receive ring (AF_PACKET, TPACKET_V2): one reply per frame. A frame keeps the first
 * ~960 bytes of a datagram: every header we read, RFC 4884 extensions included (they
 * start 128 bytes into the quote), and all of any IPv4 ICMP error (RFC 1812 keeps them
 * within 576 bytes), so that its checksum can be verified; only echo replies to large
 * probes are cut short. 1024 frames, as with the 512-byte frames before; small,
 * because the kernel zeroes the whole ring at start-up and short runs would pay for
 * it; the engine drains it while it sends.
 */
#define NET_RING_FRAME	1024
#define NET_RING_BLOCK	(1u << 19)
#define NET_RING_BLOCKS 2
/* Send buffer: bursts of probes must not fail with ENOBUFS. */
#define NET_SNDBUF_BYTES (4 * 1024 * 1024)
/*
 * Send stamps (tx_stamp_take): the kernel's copy of a probe is matched by its bytes, so
 * a probe longer than this (link header included) keeps the user-space stamp, as does
 * one whose stamp is not queued within this many reads of the error queue. A kernel
 * stamp later than the user-space one by more than the window is not believed.
 */
#define NET_TX_STAMP_BYTES     2048
#define NET_TX_STAMP_DRAIN     8
#define NET_TX_STAMP_WINDOW_NS 1000000000ll

struct net_port {
	int fd;
	int family, protocol;
	uint16_t port;
};

struct net_src_entry {
	uint64_t checked_ns; /* 0 = empty */
	int family;
	union addr_ip dst, src;
};

/*
 * A mapped receive ring. Replies are read straight from shared memory: no system call
 * and no copy per reply, and the kernel stamps each frame as it arrives without
 * switching on timestamps for every packet of the host (SO_TIMESTAMPNS does that).
 */
struct net_ring {
	int fd;
	uint8_t *map;
	size_t map_len;
	unsigned frames, next;
	unsigned held[NET_RX_BATCH]; /* frames handed out by the last net_recv() */
	unsigned nheld;
};

struct net {
	enum net_mode mode;
	uint16_t icmp_id;	   /* echo id of every ICMP probe of this engine */
	struct net_ring ring[2];   /* [0] IPv4, [1] IPv6; fd -1 when raw sockets are used */
	int icmp6_send, tcp6_send; /* IPv6 raw senders that read nothing */
	int rx[NET_SOCK__COUNT];   /* in NET_MODE_DGRAM: ICMP4/ICMP6 are the ping sockets */
	int send4;		   /* IPPROTO_RAW, header included */
	int udp6_send;		   /* raw IPPROTO_UDP, reads nothing */
	int lookup4, lookup6;	   /* UDP sockets for connect()-based source lookup */
	int have4, have6;
	struct net_port reserved[4]; /* udp4, tcp4, udp6, tcp6 */
	struct net_port ports[NET_PORTS_MAX];
	size_t nports;
	struct net_src_entry src_cache[NET_SRC_CACHE];
	/* recvmmsg state */
	uint8_t rxbuf[NET_RX_BATCH][NET_RX_BUF];
	struct mmsghdr msgs[NET_RX_BATCH];
	struct iovec iov[NET_RX_BATCH];
	struct sockaddr_storage names[NET_RX_BATCH];
	char ctrl[NET_RX_BATCH][256];
};

/* Only cache ages are measured with it (seconds). */
static uint64_t mono_ns(void)
{
	return (uint64_t)clock_now_ns();
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* A classic BPF program that accepts nothing: the socket only sends. */
static int drop_all_input(int fd)
{
	struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog prog = {.len = 1, .filter = code};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

static void big_rcvbuf(int fd)
{
	int sz = NET_RCVBUF_BYTES;

	/* FORCE works while we still hold CAP_NET_ADMIN; otherwise take what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/*
 * Software send stamps: the kernel stamps a probe as the device takes it and queues a
 * copy with the stamp on the socket's error queue. Without them an RTT starts at the
 * clock read just before sendto(), so whatever preempts the engine between the two
 * (another process on a busy host, a vCPU losing its core) counts as network delay:
 * tenths of a millisecond, seen on shared test machines. Best effort: a kernel or socket
 * that refuses keeps the user-space stamp.
 */
static void tx_stamps_on(int fd)
{
	int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags));
}

/* The software stamp of an error-queue message that carries a send stamp, else NULL. */
static const struct timespec *tx_stamp_of(struct msghdr *m)
{
	const struct timespec *ts = NULL;
	int snd = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
			ts = &((const struct scm_timestamping *)(void *)CMSG_DATA(c))->ts[0];
		} else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct sock_extended_err))) {
			const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);

			snd = ee->ee_origin == SO_EE_ORIGIN_TIMESTAMPING &&
			      ee->ee_info == SCM_TSTAMP_SND;
		}
	}
	return snd && ts && (ts->tv_sec || ts->tv_nsec) ? ts : NULL;
}

/*
 * Replaces *sent with the kernel's send stamp of the probe just sent, whose bytes end in
 * tail (the kernel's copy starts with the link and IP headers, which it may have filled
 * in). Stamps of earlier probes still queued (a device that sent them late) are read and
 * dropped: their probes already count from the user-space stamp.
 */
static void tx_stamp_take(int fd, const uint8_t *tail, size_t tail_len, struct timespec *sent)
{
	uint8_t buf[NET_TX_STAMP_BYTES];
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping)) +
			 CMSG_SPACE(sizeof(struct sock_extended_err) +
				    sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} ctrl;

	for (int i = 0; i < NET_TX_STAMP_DRAIN; i++) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctrl.buf,
				   .msg_controllen = sizeof(ctrl.buf)};
		const struct timespec *ts;
		ssize_t r = recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
		int64_t ahead;

		if (r < 0)
			return;
		if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)r < tail_len ||
		    memcmp(buf + r - tail_len, tail, tail_len) != 0 || !(ts = tx_stamp_of(&m)))
			continue;
		ahead = ((int64_t)ts->tv_sec - (int64_t)sent->tv_sec) * 1000000000ll +
			((int64_t)ts->tv_nsec - (int64_t)sent->tv_nsec);
		if (ahead >= 0 && ahead < NET_TX_STAMP_WINDOW_NS)
			*sent = *ts;
		return;
	}
}

static void big_sndbuf(int fd)
{
	int sz = NET_SNDBUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int open_rx(int family, int proto)
{
	int one = 1, fd;

	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0)
		goto fail;
	big_rcvbuf(fd);
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

static int filter_icmp4(int fd)
{
	struct icmp_filter f;

	/* Bits set are blocked: keep echo reply, unreachable, time exceeded, param problem. */
	f.data = ~((1u << ICMP_ECHOREPLY) | (1u << ICMP_DEST_UNREACH) | (1u << ICMP_TIME_EXCEEDED) |
		   (1u << ICMP_PARAMETERPROB));
	if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f)) < 0)
		return -errno;
	return 0;
}

static int filter_icmp6(int fd, int pass_replies)
{
	struct icmp6_filter f;

	ICMP6_FILTER_SETBLOCKALL(&f);
	if (pass_replies) {
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
		ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
		ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
	}
	if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0)
		return -errno;
	return 0;
}

/* Bind a real socket to a port so that no other process (or engine) can use it. */
static int reserve(int family, int protocol, uint16_t port, struct net_port *out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, type = protocol == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;

	fd = socket(family, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -errno;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	out->fd = fd;
	out->family = family;
	out->protocol = protocol;
	out->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int reserved_index(int family, int protocol)
{
	return (family == AF_INET6 ? 2 : 0) + (protocol == IPPROTO_TCP ? 1 : 0);
}

_Static_assert(NET_PORTS_MAX + 2 <= BPF_FILTER_PORTS_MAX, "ring filter port list");

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ring_close(struct net_ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
	close_fd(&r->fd);
}

/* Needs CAP_NET_RAW, so it happens at start-up; receives nothing until ring_start(). */
static int ring_create(struct net_ring *r)
{
	r->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return r->fd < 0 ? -errno : 0;
}

/*
 * Filter, ring and bind need no privilege, so they wait until the first probe of the
 * family: the kernel zeroes the ring's memory, which costs milliseconds that an engine
 * serving only IPv4 (or only a few probes) should not pay at start-up.
 */
static int ring_filter(struct net *n, int family);

static int ring_start(struct net *n, struct net_ring *r, int family)
{
	struct tpacket_req req = {0};
	struct sockaddr_ll sll = {0};
	int version = TPACKET_V2, err;
	uint16_t eth = family == AF_INET ? ETH_P_IP : ETH_P_IPV6;

	if (r->map)
		return 0;
	if (r->fd < 0)
		return -EBADF;
	err = ring_filter(n, family);
	if (err < 0)
		return err;
	req.tp_block_size = NET_RING_BLOCK;
	req.tp_block_nr = NET_RING_BLOCKS;
	req.tp_frame_size = NET_RING_FRAME;
	req.tp_frame_nr = NET_RING_BLOCK / NET_RING_FRAME * NET_RING_BLOCKS;
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		return -errno;
	r->map_len = (size_t)req.tp_block_size * req.tp_block_nr;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	r->frames = req.tp_frame_nr;
	r->next = 0;
	r->nheld = 0;
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(eth);
	sll.sll_ifindex = 0; /* every interface of this namespace */
	if (bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* Hand the frames of the previous batch back to the kernel. */
static void ring_release(struct net_ring *r)
{
	unsigned i;

	for (i = 0; i < r->nheld; i++) {
		struct tpacket2_hdr *h =
			(struct tpacket2_hdr *)(r->map + (size_t)r->held[i] * NET_RING_FRAME);

		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	}
	r->nheld = 0;
}

static int ring_recv(struct net_ring *r, int family, struct net_rx *rx, size_t max)
{
	size_t got = 0;

	if (!r->map)
		return 0;
	ring_release(r);
	while (got < max) {
		struct tpacket2_hdr *h =
			(struct tpacket2_hdr *)(r->map + (size_t)r->next * NET_RING_FRAME);
		struct net_rx *x = &rx[got];
		uint8_t *pkt;
		size_t len;

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		r->held[r->nheld++] = r->next;
		r->next = (r->next + 1) % r->frames;
		pkt = (uint8_t *)h + h->tp_net;
		len = h->tp_snaplen;
		if (h->tp_net + len > NET_RING_FRAME)
			continue;
		memset(x, 0, sizeof(*x));
		x->stamp.tv_sec = h->tp_sec;
		x->stamp.tv_nsec = h->tp_nsec;
		x->hop_limit = -1;
		/* packet_parse_ip() reads addresses, lengths and checksums from the header. */
		if (len < (family == AF_INET ? 20u : 40u))
			continue;
		x->wire_len = h->tp_len < len ? len : h->tp_len;
		/*
		 * Not summed yet (a local or veth sender left it to offload) or checked by the
		 * device: the kernel's own receive path trusts these, so packet_parse_ip() may.
		 */
		x->l4_checked =
			(h->tp_status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) != 0;
		x->buf = pkt;
		x->len = len;
		got++;
	}
	return (int)got;
}

/* (Re)attach the ring filter of a family for the current ICMP id and ports. */
static int ring_filter(struct net *n, int family)
{
	struct net_ring *r = &n->ring[family == AF_INET6];
	uint16_t ports[NET_PORTS_MAX + 2];
	struct sock_filter ins[BPF_FILTER_INSNS_MAX];
	struct sock_fprog prog;
	size_t np = 0, i;
	int len;

	if (r->fd < 0)
		return 0;
	ports[np++] = n->reserved[reserved_index(family, IPPROTO_UDP)].port;
	ports[np++] = n->reserved[reserved_index(family, IPPROTO_TCP)].port;
	for (i = 0; i < n->nports; i++)
		if (n->ports[i].family == family)
			ports[np++] = n->ports[i].port;
	len = bpf_filter_build(family, n->icmp_id, ports, np, ins, BPF_FILTER_INSNS_MAX);
	if (len < 0)
		return len;
	prog.len = (unsigned short)len;
	prog.filter = ins;
	/* Replaces the previous program atomically: no packet sees no filter. */
	if (setsockopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

/* What every family needs besides its raw sockets: a source-lookup socket, our ports. */
static int open_common(struct net *n, int family)
{
	int fd, err, udp = reserved_index(family, IPPROTO_UDP);

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET)
		n->lookup4 = fd;
	else
		n->lookup6 = fd;
	if ((err = reserve(family, IPPROTO_UDP, 0, &n->reserved[udp])) < 0 ||
	    (err = reserve(family, IPPROTO_TCP, 0,
			   &n->reserved[reserved_index(family, IPPROTO_TCP)])) < 0)
		return err;
	return 0;
}

static int open_v4(struct net *n)
{
	int fd;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	n->send4 = fd;
	big_sndbuf(fd);
	tx_stamps_on(fd);
	if (ring_create(&n->ring[0]) == 0) {
		n->rx[NET_SOCK_ICMP4] = n->ring[0].fd;
	} else {
		fd = open_rx(AF_INET, IPPROTO_ICMP);
		if (fd < 0)
			return fd;
		n->rx[NET_SOCK_ICMP4] = fd;
		if (filter_icmp4(fd) < 0)
			return -errno;
		fd = open_rx(AF_INET, IPPROTO_TCP);
		if (fd < 0)
			return fd;
		n->rx[NET_SOCK_TCP4] = fd;
	}
	return open_common(n, AF_INET);
}

static int open_v6(struct net *n)
{
	int fd, err;

	if (ring_create(&n->ring[1]) == 0) {
		/* The ring reads; these raw sockets only send. */
		n->rx[NET_SOCK_ICMP6] = n->ring[1].fd;
		fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6);
		if (fd < 0)
			return -errno;
		n->icmp6_send = fd;
		if ((err = filter_icmp6(fd, 0)) < 0 ||
		    (err = net_prepare_send_fd(fd, AF_INET6)) < 0)
			return err;
		big_sndbuf(fd);
		fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
		if (fd < 0)
			return -errno;
		n->tcp6_send = fd;
		if ((err = net_prepare_send_fd(fd, AF_INET6)) < 0)
			return err;
	} else {
		fd = open_rx(AF_INET6, IPPROTO_ICMPV6);
		if (fd < 0)
			return fd;
		n->rx[NET_SOCK_ICMP6] = n->icmp6_send = fd;
		if ((err = filter_icmp6(fd, 1)) < 0 || (err = net_prepare_send_fd(fd, -1)) < 0)
			return err;
		big_sndbuf(fd);
		fd = open_rx(AF_INET6, IPPROTO_TCP);
		if (fd < 0)
			return fd;
		n->rx[NET_SOCK_TCP6] = n->tcp6_send = fd;
		if ((err = net_prepare_send_fd(fd, -1)) < 0)
			return err;
	}
	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	n->udp6_send = fd;
	if ((err = net_prepare_send_fd(fd, AF_INET6)) < 0)
		return err;
	big_sndbuf(fd);
	return open_common(n, AF_INET6);
}

static void close_v4(struct net *n)
{
	close_fd(&n->send4);
	if (n->ring[0].fd >= 0) {
		n->rx[NET_SOCK_ICMP4] = -1;
		ring_close(&n->ring[0]);
	}
	close_fd(&n->rx[NET_SOCK_ICMP4]);
	close_fd(&n->rx[NET_SOCK_TCP4]);
	close_fd(&n->lookup4);
	close_fd(&n->reserved[0].fd);
	close_fd(&n->reserved[1].fd);
}

static void close_v6(struct net *n)
{
	if (n->ring[1].fd >= 0) {
		n->rx[NET_SOCK_ICMP6] = -1;
		ring_close(&n->ring[1]);
		close_fd(&n->icmp6_send);
		close_fd(&n->tcp6_send);
	}
	n->icmp6_send = n->tcp6_send = -1; /* else the same fds as rx[], closed below */
	close_fd(&n->rx[NET_SOCK_ICMP6]);
	close_fd(&n->rx[NET_SOCK_TCP6]);
	close_fd(&n->udp6_send);
	close_fd(&n->lookup6);
	close_fd(&n->reserved[2].fd);
	close_fd(&n->reserved[3].fd);
}

/*
 * An ICMP "ping" socket: the kernel lets a process without CAP_NET_RAW send echo
 * requests when its group is in net.ipv4.ping_group_range. Errors (time exceeded,
 * unreachable) arrive on the error queue with the offender's address.
 */
static int open_ping(int family)
{
	int one = 1, fd, err;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) < 0)
			goto fail;
	} else {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0)
			goto fail;
	}
	big_rcvbuf(fd);
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static int open_dgram(struct net *n)
{
	int fd4, fd6;

	fd4 = open_ping(AF_INET);
	fd6 = open_ping(AF_INET6);
	if (fd4 < 0 && fd6 < 0)
		return fd4;
	n->mode = NET_MODE_DGRAM;
	/* Source lookups need no privilege: plain UDP sockets, as in raw mode. */
	n->lookup4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	n->lookup6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	n->rx[NET_SOCK_ICMP4] = fd4 < 0 ? -1 : fd4;
	n->rx[NET_SOCK_ICMP6] = fd6 < 0 ? -1 : fd6;
	n->have4 = fd4 >= 0;
	n->have6 = fd6 >= 0;
	return 0;
}

int net_new(struct net **out)
{
	struct net *n;
	int err4, err6, i;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < NET_SOCK__COUNT; i++)
		n->rx[i] = -1;
	n->send4 = n->udp6_send = n->lookup4 = n->lookup6 = -1;
	n->icmp6_send = n->tcp6_send = -1;
	n->ring[0].fd = n->ring[1].fd = -1;
	/*
	 * Random, not the pid: a pid is easy to guess, and an off-path forger who knows the
	 * echo id knows every ICMP probe's key (the sequence is the table's id).
	 */
	if (getrandom(&n->icmp_id, sizeof(n->icmp_id), 0) != sizeof(n->icmp_id)) {
		free(n);
		return errno ? -errno : -EIO;
	}
	for (i = 0; i < 4; i++)
		n->reserved[i].fd = -1;
	for (i = 0; i < NET_RX_BATCH; i++) {
		n->iov[i].iov_base = n->rxbuf[i];
		n->iov[i].iov_len = NET_RX_BUF;
	}

	err4 = open_v4(n);
	if (err4 < 0)
		close_v4(n);
	err6 = open_v6(n);
	if (err6 < 0)
		close_v6(n);
	n->have4 = err4 == 0;
	n->have6 = err6 == 0;
	if (!n->have4 && !n->have6) {
		if ((err4 == -EPERM || err4 == -EACCES) && open_dgram(n) == 0) {
			*out = n;
			return 0;
		}
		free(n);
		return err4;
	}
	*out = n;
	return 0;
}

enum net_mode net_get_mode(const struct net *n)
{
	return n->mode;
}

int net_supports(const struct net *n, int protocol)
{
	if (n->mode == NET_MODE_DGRAM)
		return protocol == IPPROTO_ICMP;
	return protocol == IPPROTO_ICMP || protocol == IPPROTO_UDP || protocol == IPPROTO_TCP;
}

struct net *net_free(struct net *n)
{
	size_t i;

	if (!n)
		return NULL;
	for (i = 0; i < n->nports; i++)
		close_fd(&n->ports[i].fd);
	close_v6(n);
	close_v4(n);
	free(n);
	return NULL;
}

int net_fd(const struct net *n, enum net_sock which)
{
	if ((unsigned)which >= NET_SOCK__COUNT)
		return -1;
	return n->rx[which];
}

int net_have_family(const struct net *n, int family)
{
	return family == AF_INET ? n->have4 : family == AF_INET6 ? n->have6 : 0;
}

uint16_t net_reserved_port(const struct net *n, int family, int protocol)
{
	return n->reserved[reserved_index(family, protocol)].port;
}

int net_reserve_port(struct net *n, int family, int protocol, uint16_t port)
{
	const struct net_port *r = &n->reserved[reserved_index(family, protocol)];
	size_t i;
	int err;

	if (r->port == port)
		return 0;
	for (i = 0; i < n->nports; i++)
		if (n->ports[i].family == family && n->ports[i].protocol == protocol &&
		    n->ports[i].port == port)
			return 0;
	if (n->nports == NET_PORTS_MAX)
		return -ENOSPC;
	err = reserve(family, protocol, port, &n->ports[n->nports]);
	if (err < 0)
		return err;
	n->nports++;
	/* Replies to the new port must pass the ring's filter. */
	if (n->ring[family == AF_INET6].map)
		return ring_filter(n, family);
	return 0;
}

uint16_t net_icmp_id(const struct net *n)
{
	return n->icmp_id;
}

static void fill_sockaddr(int family, const union addr_ip *a, uint16_t port,
			  struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->v4;
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->v6;
		*len = sizeof(*sin6);
	}
}

static void read_sockaddr(const struct sockaddr_storage *ss, union addr_ip *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET)
		a->v4 = ((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a->v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static uint32_t addr_hash(int family, const union addr_ip *a)
{
	const uint8_t *p = (const uint8_t *)a;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < addr_len(family); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* connect() on a UDP socket sends nothing; it only asks the routing table. */
static int route_source(int fd, int family, const union addr_ip *dst, union addr_ip *src)
{
	struct sockaddr_storage ss;
	socklen_t len;

	fill_sockaddr(family, dst, 1, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	read_sockaddr(&ss, src);
	return 0;
}

static int check_local(int family, const union addr_ip *local)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = 0;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	fill_sockaddr(family, local, 0, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The cache slot of a lookup: by destination, or by the pair when a local address is given. */
static struct net_src_entry *src_slot(struct net *n, int family, const union addr_ip *dst,
				      const union addr_ip *local)
{
	uint32_t h = addr_hash(family, dst);

	if (local)
		h ^= addr_hash(family, local) ^ 0x9e37u;
	return &n->src_cache[h % NET_SRC_CACHE];
}

int net_source(struct net *n, int family, const union addr_ip *dst, const union addr_ip *local,
	       int udp_fd, union addr_ip *src)
{
	struct net_src_entry *e;
	uint64_t now;
	int err;

	if (!net_have_family(n, family))
		return -EAFNOSUPPORT;
	now = mono_ns();
	if (local) {
		/* Cached by the pair, in a distinct slot from the plain lookup. */
		e = src_slot(n, family, dst, local);
		if (e->checked_ns && now - e->checked_ns < NET_SRC_TTL_NS && e->family == family &&
		    !memcmp(&e->dst, dst, addr_len(family)) &&
		    !memcmp(&e->src, local, addr_len(family))) {
			*src = *local;
			return 0;
		}
		err = check_local(family, local);
		if (err < 0)
			return err;
		e->checked_ns = now;
		e->family = family;
		memset(&e->dst, 0, sizeof(e->dst));
		memcpy(&e->dst, dst, addr_len(family));
		e->src = *local;
		*src = *local;
		return 0;
	}
	if (udp_fd >= 0)
		return route_source(udp_fd, family, dst, src);

	e = src_slot(n, family, dst, NULL);
	if (e->checked_ns && now - e->checked_ns < NET_SRC_TTL_NS && e->family == family &&
	    !memcmp(&e->dst, dst, addr_len(family))) {
		*src = e->src;
		return 0;
	}
	err = route_source(family == AF_INET ? n->lookup4 : n->lookup6, family, dst, src);
	if (err < 0)
		return err;
	e->checked_ns = now;
	e->family = family;
	memset(&e->dst, 0, sizeof(e->dst));
	memcpy(&e->dst, dst, addr_len(family));
	e->src = *src;
	return 0;
}

void net_source_forget(struct net *n, int family, const union addr_ip *dst,
		       const union addr_ip *local)
{
	src_slot(n, family, dst, local)->checked_ns = 0;
}

int net_prepare_send_fd(int fd, int family)
{
	int one = 1, err;

	if ((err = set_nonblock(fd)) < 0)
		return err;
	/*
	 * Our own reply sockets (family -1) keep their input; send-only ones read nothing and
	 * get send stamps. A reply socket does not: a stamp queued after the send returned
	 * would keep it readable (POLLERR) in the event loop until the next send.
	 */
	if (family != -1) {
		if ((err = drop_all_input(fd)) < 0)
			return err;
		tx_stamps_on(fd);
	}
	if (family == AF_INET6 || family == -1) {
		int domain = AF_UNSPEC;
		socklen_t len = sizeof(domain);

		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_FLOWINFO_SEND, &one, sizeof(one));
	}
	return 0;
}

static int pick_fd(const struct net *n, int family, int protocol)
{
	if (family == AF_INET)
		return n->send4;
	switch (protocol) {
	case IPPROTO_ICMP:
		return n->icmp6_send;
	case IPPROTO_UDP:
		return n->udp6_send;
	case IPPROTO_TCP:
		return n->tcp6_send;
	default:
		return -1;
	}
}

/*
 * Ping sockets take the ICMP message only (the kernel builds the IP header and sets the
 * echo id); TTL and TOS ride as ancillary data.
 */
static int send_ping(struct net *n, const struct packet_probe *p, const uint8_t *pkt, size_t len,
		     struct timespec *sent)
{
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctrl;
	struct sockaddr_storage ss;
	struct iovec iov;
	struct msghdr msg = {0};
	struct cmsghdr *c;
	socklen_t sslen;
	int fd = n->rx[p->family == AF_INET ? NET_SOCK_ICMP4 : NET_SOCK_ICMP6];
	int ttl = p->ttl, tos = p->tos, level, type_ttl, type_tos;
	size_t skip = p->family == AF_INET ? 20 : 0;

	if (fd < 0 || p->protocol != IPPROTO_ICMP || len <= skip)
		return -EAFNOSUPPORT;
	memset(&ctrl, 0, sizeof(ctrl));
	fill_sockaddr(p->family, &p->dst, 0, &ss, &sslen);
	iov.iov_base = (void *)(pkt + skip);
	iov.iov_len = len - skip;
	msg.msg_name = &ss;
	msg.msg_namelen = sslen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctrl.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int)) * 2;
	level = p->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	type_ttl = p->family == AF_INET ? IP_TTL : IPV6_HOPLIMIT;
	type_tos = p->family == AF_INET ? IP_TOS : IPV6_TCLASS;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = level;
	c->cmsg_type = type_ttl;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &ttl, sizeof(ttl));
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = level;
	c->cmsg_type = type_tos;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &tos, sizeof(tos));
	clock_gettime(CLOCK_REALTIME, sent);
	if (sendmsg(fd, &msg, 0) < 0) {
		/*
		 * An ICMP error queued for an earlier probe is also reported once as the
		 * socket's pending error by the next send; that send did not happen. The
		 * error was consumed by failing, so the retry tells whether it is real.
		 */
		if (errno != EHOSTUNREACH && errno != ENETUNREACH && errno != EACCES &&
		    errno != EPROTO && errno != EMSGSIZE && errno != ECONNREFUSED)
			return -errno;
		clock_gettime(CLOCK_REALTIME, sent);
		if (sendmsg(fd, &msg, 0) < 0)
			return -errno;
	}
	return 0;
}

int net_send(struct net *n, int fd, const struct packet_probe *p, const uint8_t *pkt, size_t len,
	     uint32_t flowlabel, struct timespec *sent)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t skip;
	ssize_t rc;

	if (n->mode == NET_MODE_DGRAM)
		return send_ping(n, p, pkt, len, sent);
	if (n->ring[p->family == AF_INET6].fd >= 0 && !n->ring[p->family == AF_INET6].map) {
		int err = ring_start(n, &n->ring[p->family == AF_INET6], p->family);

		if (err < 0)
			return err;
	}
	if (fd < 0)
		fd = pick_fd(n, p->family, p->protocol);
	if (fd < 0)
		return -EAFNOSUPPORT;
	fill_sockaddr(p->family, &p->dst, 0, &ss, &sslen);
	if (p->family == AF_INET) {
		clock_gettime(CLOCK_REALTIME, sent);
		rc = sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sslen);
	} else {
		union {
			char buf[CMSG_SPACE(sizeof(int)) * 2 +
				 CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} ctrl;
		struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
		struct msghdr msg = {0};
		struct cmsghdr *c;
		struct in6_pktinfo pi;
		int hops = p->ttl, tclass = p->tos;

		memset(&ctrl, 0, sizeof(ctrl));
		((struct sockaddr_in6 *)&ss)->sin6_flowinfo = htonl(flowlabel & 0xfffff);
		msg.msg_name = &ss;
		msg.msg_namelen = sslen;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctrl.buf;
		msg.msg_controllen = sizeof(ctrl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_HOPLIMIT;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &hops, sizeof(hops));
		c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_TCLASS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &tclass, sizeof(tclass));
		c = CMSG_NXTHDR(&msg, c);
		/* The checksum was computed for this source: make the kernel use it. */
		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = p->src.v6;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		clock_gettime(CLOCK_REALTIME, sent);
		rc = sendmsg(fd, &msg, 0);
	}
	if (rc < 0)
		return -errno;
	/* IPv4 probes carry the IP header the kernel completes; the rest is sent as built. */
	skip = p->family == AF_INET ? (pkt[0] & 0xfu) * 4u : 0;
	tx_stamp_take(fd, pkt + skip, len - skip, sent);
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* An echo reply or an error-queue entry from a ping socket, as packet_parse would say. */
static void ping_reply(int family, struct net_rx *rx, struct msghdr *m, int errqueue)
{
	struct packet_reply *r = &rx->reply;
	struct sock_extended_err *ee = NULL;
	struct cmsghdr *c;
	int ttl = -1;

	memset(r, 0, sizeof(*r));
	rx->preparsed = 1;
	r->kind = PACKET_KIND_IGNORE;
	r->family = family;
	r->reply_ttl = -1;
	r->quoted_ttl = -1;
	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
			ee = (struct sock_extended_err *)CMSG_DATA(c);
		else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
	}
	if (rx->len < 8)
		return;
	r->probe_protocol = IPPROTO_ICMP;
	r->icmp_id = get16(rx->buf + 4);
	r->icmp_seq = get16(rx->buf + 6);
	if (!errqueue) {
		/* Only echo replies reach the normal queue of a ping socket. */
		r->kind = PACKET_KIND_ECHO_REPLY;
		r->icmp_type = rx->buf[0];
		r->icmp_code = rx->buf[1];
		r->responder = rx->from;
		r->probe_dst = rx->from;
		r->reply_ttl = family == AF_INET ? ttl : rx->hop_limit;
		return;
	}
	if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6))
		return;
	r->kind = PACKET_KIND_ICMP_ERROR;
	r->icmp_type = ee->ee_type;
	r->icmp_code = ee->ee_code;
	/* The error queue names the probe's destination; the offender follows ee. */
	r->probe_dst = rx->from;
	read_sockaddr((const struct sockaddr_storage *)SO_EE_OFFENDER(ee), &r->responder);
}

static int recv_batch(struct net *n, int fd, int family, struct net_rx *rx, size_t first,
		      size_t max, int errqueue);

int net_recv(struct net *n, enum net_sock which, struct net_rx *rx, size_t max)
{
	int got, more, family;

	if ((unsigned)which >= NET_SOCK__COUNT || n->rx[which] < 0)
		return -EBADF;
	if (max > NET_RX_BATCH)
		max = NET_RX_BATCH;
	if (which == NET_SOCK_ICMP4 && n->ring[0].fd >= 0)
		return ring_recv(&n->ring[0], AF_INET, rx, max);
	if (which == NET_SOCK_ICMP6 && n->ring[1].fd >= 0)
		return ring_recv(&n->ring[1], AF_INET6, rx, max);
	if (n->mode != NET_MODE_DGRAM)
		return recv_batch(n, n->rx[which], -1, rx, 0, max, 0);
	family = which == NET_SOCK_ICMP4 ? AF_INET : AF_INET6;
	got = recv_batch(n, n->rx[which], family, rx, 0, max, 0);
	if (got < 0 || (size_t)got == max)
		return got;
	/* Errors are read into the slots after the echo replies, so rx stays one array. */
	more = recv_batch(n, n->rx[which], family, rx, (size_t)got, max - (size_t)got, 1);
	return more < 0 ? got : got + more;
}

static int recv_batch(struct net *n, int fd, int family, struct net_rx *rx, size_t first,
		      size_t max, int errqueue)
{
	struct mmsghdr *msgs = n->msgs + first;
	struct timespec now;
	int got, i;

	for (i = 0; i < (int)max; i++) {
		struct msghdr *m = &msgs[i].msg_hdr;

		memset(m, 0, sizeof(*m));
		m->msg_name = &n->names[first + (size_t)i];
		m->msg_namelen = sizeof(n->names[0]);
		m->msg_iov = &n->iov[first + (size_t)i];
		m->msg_iovlen = 1;
		m->msg_control = n->ctrl[first + (size_t)i];
		m->msg_controllen = sizeof(n->ctrl[0]);
	}
	got = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT | (errqueue ? MSG_ERRQUEUE : 0), NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	now.tv_sec = 0;
	for (i = 0; i < got; i++) {
		struct msghdr *m = &msgs[i].msg_hdr;
		struct net_rx *x = &rx[first + (size_t)i];
		struct cmsghdr *c;
		int have_stamp = 0;

		x->buf = n->rxbuf[first + (size_t)i];
		x->len = msgs[i].msg_len > NET_RX_BUF ? NET_RX_BUF : msgs[i].msg_len;
		x->hop_limit = -1;
		x->preparsed = 0;
		x->ip_protocol = 0;
		read_sockaddr(&n->names[first + (size_t)i], &x->from);
		for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				memcpy(&x->stamp, CMSG_DATA(c), sizeof(x->stamp));
				have_stamp = 1;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
				memcpy(&x->hop_limit, CMSG_DATA(c), sizeof(int));
			}
		}
		if (!have_stamp) {
			if (now.tv_sec == 0)
				clock_gettime(CLOCK_REALTIME, &now);
			x->stamp = now;
		}
		if (family != -1)
			ping_reply(family, x, m, errqueue);
	}
	return got;
}
