/*
 * prober: the probe work of the engine. Hot path per probe: the packet is built into
 * one buffer, one send system call with the send time taken right before it; replies
 * come in batches through recvmmsg() with kernel timestamps and are formatted straight
 * into the asking session's output buffer, flushed once per batch. Probes time out on
 * one libevent timer set for the earliest deadline.
 */
#include "daemon/prober.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/net.h"
#include "daemon/packet.h"
#include "daemon/probe_key.h"
#include "daemon/probe_table.h"
#include "daemon/quota.h"
#include "daemon/session.h"
#include "daemon/sockcache.h"

/* recvmmsg rounds per readable event before yielding to other events. */
#define PROBER_RX_ROUNDS 16
/* Probes sent in one go before the receive queues are read again. */
#define PROBER_DRAIN_EVERY 256
/* The biggest probe we build. */
#define PROBER_PKT_MAX (PACKET_SIZE_MAX + 64)

struct prober {
	struct net *net;
	struct session_hub *hub;
	void (*settled)(void *ctx);
	void *ctx;
	struct probe_table *probes;
	struct sockcache *socks; /* broker-made mark/device sockets */
	struct event *ev_rx[NET_SOCK__COUNT];
	struct event *ev_timer;
	uint64_t timer_ns;	     /* deadline the timer is set for, 0 = none */
	struct probe_key_space keys; /* our echo id and TCP sequence space */
	unsigned sent_since_drain;
	uint64_t batch_ns; /* CLOCK_MONOTONIC when the current batch of commands began */
	uint8_t pkt[PROBER_PKT_MAX];
};

/* The prober's clock: nanoseconds, unsigned (deadlines only ever move forward). */
static uint64_t mono_ns(void)
{
	return (uint64_t)clock_now_ns();
}

/* ---- timeouts ---- */

static void timer_cb(evutil_socket_t fd, short what, void *arg);

static void schedule(struct prober *pr)
{
	uint32_t id = probe_table_earliest(pr->probes);
	struct probe *p;
	struct timeval tv;
	uint64_t now, wait;

	if (id == PROBE_TABLE_NONE) {
		if (pr->timer_ns) {
			evtimer_del(pr->ev_timer);
			pr->timer_ns = 0;
		}
		return;
	}
	p = probe_table_get(pr->probes, id);
	if (pr->timer_ns && pr->timer_ns <= p->deadline_ns)
		return;
	now = mono_ns();
	wait = p->deadline_ns > now ? p->deadline_ns - now : 0;
	/* One microsecond late rather than early: the deadline has passed when it fires. */
	tv = clock_tv_of_us((int64_t)(wait / CLOCK_NS_PER_US + 1));
	evtimer_add(pr->ev_timer, &tv);
	pr->timer_ns = p->deadline_ns;
}

/* Each session's probes in flight form a list, so that a client that leaves frees them. */
static void owner_link(struct prober *pr, struct session *s, uint16_t id)
{
	struct probe *p = probe_table_get(pr->probes, id);

	p->owner_prev = 0;
	p->owner_next = s->probe_list;
	if (s->probe_list)
		probe_table_get(pr->probes, s->probe_list - 1)->owner_prev = (uint32_t)id + 1;
	s->probe_list = (uint32_t)id + 1;
}

static void owner_unlink(struct prober *pr, struct session *s, struct probe *p)
{
	if (p->owner_prev)
		probe_table_get(pr->probes, p->owner_prev - 1)->owner_next = p->owner_next;
	else
		s->probe_list = p->owner_next;
	if (p->owner_next)
		probe_table_get(pr->probes, p->owner_next - 1)->owner_prev = p->owner_prev;
	p->owner_prev = p->owner_next = 0;
}

static void probe_done(struct prober *pr, uint16_t id, struct probe *p)
{
	struct session *s = p->owner;

	if (s) {
		owner_unlink(pr, s, p);
		if (s->inflight > 0)
			s->inflight--;
		if (s->user && s->user->inflight > 0)
			s->user->inflight--;
	}
	probe_table_release(pr->probes, id);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	uint64_t now = mono_ns();
	struct session *s;
	uint32_t id;
	struct probe *p;

	pr->timer_ns = 0;
	while ((id = probe_table_earliest(pr->probes)) != PROBE_TABLE_NONE) {
		p = probe_table_get(pr->probes, id);
		if (p->deadline_ns > now)
			break;
		s = p->owner;
		if (s) {
			session_simple(s, p->token, PROTO_REPLY_NO_REPLY);
			session_touch(s);
		}
		probe_done(pr, (uint16_t)id, p);
	}
	schedule(pr);
	session_hub_flush(pr->hub);
	pr->settled(pr->ctx);
}

/* ---- replies ---- */

static int64_t rtt_us(const struct timespec *sent, const struct timespec *got)
{
	int64_t ns =
		(int64_t)(got->tv_sec - sent->tv_sec) * 1000000000 + (got->tv_nsec - sent->tv_nsec);

	if (ns < 0)
		return 0;
	/* mtr reads round-trip-time as an int; a later answer still gets a line. */
	return ns / 1000 > INT32_MAX ? INT32_MAX : ns / 1000;
}

static enum proto_reply verdict_reply(enum packet_verdict v, uint32_t ext)
{
	int detail = (ext >> PROTO_EXT_UNREACHABLE_DETAIL) & 1;

	switch (v) {
	case PACKET_VERDICT_REPLY:
		return PROTO_REPLY_REPLY;
	case PACKET_VERDICT_TTL_EXPIRED:
		return PROTO_REPLY_TTL_EXPIRED;
	case PACKET_VERDICT_NET_UNREACH:
		return detail ? PROTO_REPLY_NO_ROUTE_NETWORK : PROTO_REPLY_NO_ROUTE;
	case PACKET_VERDICT_HOST_UNREACH:
		return detail ? PROTO_REPLY_NO_ROUTE_HOST : PROTO_REPLY_NO_ROUTE;
	case PACKET_VERDICT_PROHIBITED:
		return detail ? PROTO_REPLY_PROHIBITED : PROTO_REPLY_NO_ROUTE;
	case PACKET_VERDICT_OTHER_UNREACH:
	case PACKET_VERDICT_NONE:
	default:
		return PROTO_REPLY_NO_ROUTE;
	}
}

/* Which in-flight probe, if any, this parsed packet answers. */
static struct probe *match_probe(struct prober *pr, const struct packet_reply *r, uint16_t *idp)
{
	struct probe *p;
	uint16_t id;

	if (probe_key_decode(&pr->keys, r, &id) < 0)
		return NULL;
	p = probe_table_get(pr->probes, id);
	if (!p || p->family != r->family || p->protocol != r->probe_protocol)
		return NULL;
	if (memcmp(&p->dst, &r->probe_dst, addr_len(p->family)) != 0)
		return NULL;
	/*
	 * Every answer is addressed to the probe's source, and a quote names it: the exact
	 * address the probe left from is both cheaper and stricter than "any address of
	 * this host", and needs no list of local addresses kept up to date. What a socket
	 * (not the ring) read went through the kernel's own checks and may lack both.
	 */
	if (r->has_reply_dst && memcmp(&p->src, &r->reply_dst, addr_len(p->family)) != 0)
		return NULL;
	if (r->has_probe_src && memcmp(&p->src, &r->probe_src, addr_len(p->family)) != 0)
		return NULL;
	if (p->protocol != IPPROTO_ICMP &&
	    (p->src_port != r->src_port || p->dst_port != r->dst_port))
		return NULL;
	*idp = id;
	return p;
}

static void emit_reply(struct session *s, struct probe *p, const struct packet_reply *r,
		       const struct timespec *stamp)
{
	enum packet_verdict v = packet_classify(r);
	struct proto_writer w;
	struct proto_mpls mpls[PACKET_MPLS_MAX];
	size_t i;

	if (session_begin(s, &w, p->token, verdict_reply(v, s->ext)) < 0)
		return;
	proto_write_addr(&w, r->family, &r->responder);
	proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, rtt_us(&p->sent, stamp));
	if (r->nmpls) {
		for (i = 0; i < r->nmpls; i++) {
			mpls[i].label = r->mpls[i].label;
			mpls[i].exp = r->mpls[i].exp;
			mpls[i].bos = r->mpls[i].bos;
			mpls[i].ttl = r->mpls[i].ttl;
		}
		proto_write_mpls(&w, mpls, r->nmpls);
	}
	if (s->ext & (1u << PROTO_EXT_ICMP_TYPE) && r->kind != PACKET_KIND_TCP) {
		proto_write_int(&w, PROTO_ARG_ICMP_TYPE, r->icmp_type);
		proto_write_int(&w, PROTO_ARG_ICMP_CODE, r->icmp_code);
	}
	if (s->ext & (1u << PROTO_EXT_REPLY_TTL) && r->reply_ttl >= 0)
		proto_write_int(&w, PROTO_ARG_REPLY_TTL, r->reply_ttl);
	if (s->ext & (1u << PROTO_EXT_QUOTED_TTL) && r->quoted_ttl >= 0)
		proto_write_int(&w, PROTO_ARG_QUOTED_TTL, r->quoted_ttl);
	session_emit(s, &w);
}

static const int sock_family[NET_SOCK__COUNT] = {
	[NET_SOCK_ICMP4] = AF_INET,
	[NET_SOCK_TCP4] = AF_INET,
	[NET_SOCK_ICMP6] = AF_INET6,
	[NET_SOCK_TCP6] = AF_INET6,
};

static const int sock_proto[NET_SOCK__COUNT] = {
	[NET_SOCK_ICMP4] = IPPROTO_ICMP,
	[NET_SOCK_TCP4] = IPPROTO_TCP,
	[NET_SOCK_ICMP6] = IPPROTO_ICMPV6,
	[NET_SOCK_TCP6] = IPPROTO_TCP,
};

/* Take every reply waiting on one socket; sessions that got output are marked dirty. */
static void rx_socket(struct prober *pr, enum net_sock which)
{
	struct net_rx rx[NET_RX_BATCH];
	struct packet_reply r;
	struct session *s;
	int got, i, round;
	uint16_t id;
	struct probe *p;

	for (round = 0; round < PROBER_RX_ROUNDS; round++) {
		got = net_recv(pr->net, which, rx, NET_RX_BATCH);
		if (got <= 0) {
			if (got < 0)
				log_debug("receive: %s", strerror(-got));
			break;
		}
		for (i = 0; i < got; i++) {
			if (rx[i].preparsed) {
				r = rx[i].reply;
				/* The kernel matched the echo id of a ping socket already. */
				r.icmp_id = pr->keys.icmp_id;
			} else if (rx[i].wire_len) {
				packet_parse_ip(rx[i].buf, rx[i].len, rx[i].wire_len,
						rx[i].l4_checked, &r);
			} else {
				packet_parse(
					sock_family[which],
					rx[i].ip_protocol ? rx[i].ip_protocol : sock_proto[which],
					rx[i].buf, rx[i].len, &rx[i].from, rx[i].hop_limit, &r);
			}
			if (r.kind == PACKET_KIND_IGNORE)
				continue;
			p = match_probe(pr, &r, &id);
			if (!p)
				continue;
			s = p->owner;
			if (s) {
				emit_reply(s, p, &r, &rx[i].stamp);
				session_touch(s);
			}
			probe_done(pr, id, p);
		}
		if (got < NET_RX_BATCH)
			break;
	}
}

/*
 * Replies to a long run of sends pile up in kernel buffers (on a local path they
 * arrive during the send call itself): read them between sends, not only when the
 * event loop comes round, so that no receive queue overflows.
 */
static void drain(struct prober *pr)
{
	enum net_sock which;

	for (which = 0; which < NET_SOCK__COUNT; which++)
		if (net_fd(pr->net, which) >= 0)
			rx_socket(pr, which);
}

static void rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	enum net_sock which;

	for (which = 0; which < NET_SOCK__COUNT; which++)
		if (net_fd(pr->net, which) == fd)
			break;
	if (which == NET_SOCK__COUNT)
		return;
	rx_socket(pr, which);
	session_hub_flush(pr->hub);
	pr->settled(pr->ctx);
}

/* ---- send-probe ---- */

static enum proto_reply errno_reply(int err, uint32_t ext)
{
	int detail = (ext >> PROTO_EXT_UNREACHABLE_DETAIL) & 1;

	switch (err) {
	case -ENETUNREACH:
		return detail ? PROTO_REPLY_NO_ROUTE_NETWORK : PROTO_REPLY_NO_ROUTE;
	case -EHOSTUNREACH:
		return detail ? PROTO_REPLY_NO_ROUTE_HOST : PROTO_REPLY_NO_ROUTE;
	case -EHOSTDOWN:
		return detail ? PROTO_REPLY_HOST_DOWN : PROTO_REPLY_NO_ROUTE;
	case -ENETDOWN:
		return PROTO_REPLY_NETWORK_DOWN;
	case -EPERM:
	case -EACCES:
		return PROTO_REPLY_PERMISSION_DENIED;
	case -EADDRINUSE:
		return PROTO_REPLY_ADDRESS_IN_USE;
	case -EADDRNOTAVAIL:
		return PROTO_REPLY_ADDRESS_NOT_AVAILABLE;
	default:
		return PROTO_REPLY_UNEXPECTED_ERROR;
	}
}

static void session_errno(struct session *s, int64_t token, int err)
{
	enum proto_reply r = errno_reply(err, s->ext);
	struct proto_writer w;

	/*
	 * The kernel never fragments a raw IPv4 packet whose header we wrote: a size above
	 * the route's MTU is refused at once, and the same size will always be. That is the
	 * argument's fault, as mtr-packet says of sizes above its own buffer.
	 */
	if (err == -EMSGSIZE) {
		session_invalid(s, token, "size-exceeds-mtu");
		return;
	}
	if (session_begin(s, &w, token, r) < 0)
		return;
	if (r == PROTO_REPLY_UNEXPECTED_ERROR)
		proto_write_int(&w, PROTO_ARG_ERRNO, -err);
	session_emit(s, &w);
}

/* Sockets for probes with mark or local-device come from the broker, once per set. */
static int marked_sockets(struct prober *pr, int family, int protocol,
			  const struct proto_command *c, int *send_fd, int *udp_fd)
{
	int has_mark = (c->present & PROTO_BIT(PROTO_ARG_MARK)) != 0;
	uint32_t mark = has_mark ? (uint32_t)c->num[PROTO_ARG_MARK] : 0;
	char device[PROTO_DEVICE_MAX + 1] = "";

	if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_DEVICE))
		memcpy(device, c->text[PROTO_ARG_LOCAL_DEVICE].ptr,
		       c->text[PROTO_ARG_LOCAL_DEVICE].len);
	return sockcache_get(pr->socks, family, protocol, has_mark, mark, device, send_fd, udp_fd);
}

int prober_ipproto(enum proto_protocol p)
{
	switch (p) {
	case PROTO_PROTOCOL_ICMP:
		return IPPROTO_ICMP;
	case PROTO_PROTOCOL_UDP:
		return IPPROTO_UDP;
	case PROTO_PROTOCOL_TCP:
		return IPPROTO_TCP;
	case PROTO_PROTOCOL_SCTP:
	case PROTO_PROTOCOL__COUNT:
	default:
		return -1;
	}
}

static int is_unspecified(int family, const union addr_ip *a)
{
	static const union addr_ip zero;

	return memcmp(a, &zero, addr_len(family)) == 0;
}

/*
 * A probe goes to one host: never to "any address" (the kernel delivers 0.0.0.0 and ::
 * to this host, so the answer would lie), a multicast group or the limited broadcast
 * (a shared engine must not be turned into a way to reach every host on a link).
 * mtr-packet refuses the last two with invalid-argument as well.
 */
static const char *destination_check(int family, const struct proto_command *c)
{
	union addr_ip dst;

	if (family == AF_INET)
		dst.v4 = c->ip4[PROTO_ARG_IP_4];
	else
		dst.v6 = c->ip6[PROTO_ARG_IP_6];
	switch (addr_kind(family, &dst)) {
	case ADDR_KIND_UNICAST:
		return NULL;
	case ADDR_KIND_UNSPECIFIED:
		return "unspecified-address";
	case ADDR_KIND_MULTICAST:
		return "multicast-address";
	case ADDR_KIND_BROADCAST:
		return "broadcast-address";
	case ADDR_KIND_MAPPED:
		return "v4-mapped-address";
	case ADDR_KIND_OTHER:
	default:
		return "address-family-mismatch";
	}
}

/* Family and protocol of a send-probe, or the reason it is refused. */
static const char *probe_check(const struct prober *pr, const struct session *s,
			       const struct proto_command *c, int *family, int *protocol)
{
	enum proto_protocol pname = PROTO_PROTOCOL_ICMP;
	int has4 = (c->present & PROTO_BIT(PROTO_ARG_IP_4)) != 0;
	int has6 = (c->present & PROTO_BIT(PROTO_ARG_IP_6)) != 0;
	const char *bad;

	if (has4 == has6)
		return has4 ? "ip-4-and-ip-6" : "missing-address";
	*family = has4 ? AF_INET : AF_INET6;
	if ((has4 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6))) ||
	    (has6 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4))))
		return "address-family-mismatch";
	bad = destination_check(*family, c);
	if (bad)
		return bad;
	if (c->present & PROTO_BIT(PROTO_ARG_PROTOCOL)) {
		const struct proto_slice *t = &c->text[PROTO_ARG_PROTOCOL];

		if (proto_protocol_lookup(t->ptr, t->len, &pname) < 0)
			return "unknown-protocol";
	}
	*protocol = prober_ipproto(pname);
	if (*protocol < 0)
		return "protocol-not-supported";
	if (!net_have_family(pr->net, *family))
		return "ip-version-not-supported";
	if (!net_supports(pr->net, *protocol))
		return "protocol-not-supported";
	if ((c->present & PROTO_BIT(PROTO_ARG_FLOW_ID)) && !(s->ext & (1u << PROTO_EXT_FLOW_ID)))
		return "extension-not-enabled";
	return NULL;
}

/* The local address a command asks for, in *buf, or NULL for "any". */
static const union addr_ip *command_local(const struct proto_command *c, int family,
					  union addr_ip *buf)
{
	if (family == AF_INET && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4)))
		buf->v4 = c->ip4[PROTO_ARG_LOCAL_IP_4];
	else if (family == AF_INET6 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6)))
		buf->v6 = c->ip6[PROTO_ARG_LOCAL_IP_6];
	else
		return NULL;
	/* mtr always sends its local address; the unspecified one means "any". */
	return is_unspecified(family, buf) ? NULL : buf;
}

/*
 * Addresses and source port of pp (family and protocol set), and the sending socket:
 * -1 for the shared one, else a broker-made one for mark/local-device. 0 or -errno.
 */
static int probe_route(struct prober *pr, const struct proto_command *c, struct packet_probe *pp,
		       int *send_fd)
{
	union addr_ip local;
	const union addr_ip *localp = command_local(c, pp->family, &local);
	int family = pp->family, protocol = pp->protocol, udp_fd = -1, err;

	if (family == AF_INET)
		pp->dst.v4 = c->ip4[PROTO_ARG_IP_4];
	else
		pp->dst.v6 = c->ip6[PROTO_ARG_IP_6];
	if (c->present & (PROTO_BIT(PROTO_ARG_MARK) | PROTO_BIT(PROTO_ARG_LOCAL_DEVICE))) {
		err = marked_sockets(pr, family, protocol, c, send_fd, &udp_fd);
		if (err < 0)
			return err;
	}
	err = net_source(pr->net, family, &pp->dst, localp, udp_fd, &pp->src);
	if (err < 0)
		return err;
	if (protocol == IPPROTO_ICMP)
		return 0;
	if (!(c->present & PROTO_BIT(PROTO_ARG_LOCAL_PORT))) {
		pp->src_port = net_reserved_port(pr->net, family, protocol);
		return 0;
	}
	pp->src_port = (uint16_t)c->num[PROTO_ARG_LOCAL_PORT];
	return net_reserve_port(pr->net, family, protocol, pp->src_port);
}

/* TTL, size, payload pattern, TOS, and the probe id's place in the packet. */
static void probe_shape(const struct prober *pr, const struct proto_command *c, uint16_t id,
			struct packet_probe *pp)
{
	struct probe_key_args key = {0};

	pp->ttl = (uint8_t)((c->present & PROTO_BIT(PROTO_ARG_TTL)) ? c->num[PROTO_ARG_TTL]
								    : PROBER_DEFAULT_TTL);
	pp->size = (size_t)((c->present & PROTO_BIT(PROTO_ARG_SIZE)) ? c->num[PROTO_ARG_SIZE]
								     : PROBER_DEFAULT_SIZE);
	if (c->present & PROTO_BIT(PROTO_ARG_BIT_PATTERN))
		pp->pattern = (uint8_t)c->num[PROTO_ARG_BIT_PATTERN];
	if (c->present & PROTO_BIT(PROTO_ARG_TOS))
		pp->tos = (uint8_t)c->num[PROTO_ARG_TOS];
	if (c->present & PROTO_BIT(PROTO_ARG_PORT))
		key.port = (uint16_t)c->num[PROTO_ARG_PORT];
	if (c->present & PROTO_BIT(PROTO_ARG_FLOW_ID)) {
		key.has_flow = 1;
		key.flow = (uint16_t)c->num[PROTO_ARG_FLOW_ID];
	}
	/* prober_ipproto() gave one of the three protocols probe_key knows. */
	probe_key_encode(&pr->keys, &key, id, pp);
}

/*
 * An IPv6 send with a source that is no longer an address of this host fails with
 * EINVAL: its interface went down while net_source() still had it cached. Ask the
 * route again: its answer (no route, network down, address not available) is the one
 * the client needs, and a new source is worth one more try. Other EINVALs stay EINVAL.
 */
static int resend_fresh_source(struct prober *pr, const struct proto_command *c,
			       const struct packet_probe *sent_pp, uint32_t flowlabel,
			       struct timespec *sent)
{
	struct packet_probe pp = *sent_pp;
	union addr_ip local;
	const union addr_ip *localp = command_local(c, pp.family, &local);
	int len, err;

	net_source_forget(pr->net, pp.family, &pp.dst, localp);
	err = net_source(pr->net, pp.family, &pp.dst, localp, -1, &pp.src);
	if (err < 0)
		return err;
	if (!memcmp(&pp.src, &sent_pp->src, addr_len(pp.family)))
		return -EINVAL;
	len = packet_build(&pp, pr->pkt, sizeof(pr->pkt));
	if (len < 0)
		return len;
	return net_send(pr->net, -1, &pp, pr->pkt, (size_t)len, flowlabel, sent);
}

/*
 * Build and send probe id, then put it in flight for s. Returns 0, or -errno once the
 * failure was answered and id released.
 */
static int probe_launch(struct prober *pr, struct session *s, const struct proto_command *c,
			uint16_t id, const struct packet_probe *pp, int send_fd)
{
	int64_t timeout_s = PROBER_DEFAULT_TIMEOUT_S;
	uint32_t flowlabel = 0;
	struct probe *p;
	int len, err;

	if (c->present & PROTO_BIT(PROTO_ARG_FLOW_ID))
		flowlabel = (uint16_t)c->num[PROTO_ARG_FLOW_ID] + 1u;
	len = packet_build(pp, pr->pkt, sizeof(pr->pkt));
	if (len < 0) {
		probe_table_release(pr->probes, id);
		session_invalid(s, c->token, "bad-probe-size");
		return len;
	}
	p = probe_table_get(pr->probes, id);
	p->token = c->token;
	p->owner = s;
	p->family = (uint8_t)pp->family;
	p->protocol = (uint8_t)pp->protocol;
	p->dst = pp->dst;
	p->src = pp->src;
	p->src_port = pp->src_port;
	p->dst_port = pp->dst_port;
	err = net_send(pr->net, send_fd, pp, pr->pkt, (size_t)len, flowlabel, &p->sent);
	if (err == -EINVAL && pp->family == AF_INET6 && send_fd < 0)
		err = resend_fresh_source(pr, c, pp, flowlabel, &p->sent);
	if (err < 0) {
		probe_table_release(pr->probes, id);
		session_errno(s, c->token, err);
		return err;
	}
	if (c->present & PROTO_BIT(PROTO_ARG_TIMEOUT))
		timeout_s = c->num[PROTO_ARG_TIMEOUT];
	if (timeout_s < 1)
		timeout_s = 1; /* mtr-packet's "0" cannot mean "already late" */
	/* Timeouts are whole seconds: the batch's clock reading is close enough. */
	p->deadline_ns = pr->batch_ns + (uint64_t)timeout_s * CLOCK_NS_PER_S;
	probe_table_arm(pr->probes, id);
	owner_link(pr, s, id);
	s->inflight++;
	if (s->user)
		s->user->inflight++;
	schedule(pr);
	return 0;
}

void prober_send(struct prober *pr, struct session *s, const struct proto_command *c,
		 const struct quota_limits *lim)
{
	struct packet_probe pp;
	const char *bad;
	int send_fd = -1, err;
	uint16_t id;

	memset(&pp, 0, sizeof(pp));
	bad = probe_check(pr, s, c, &pp.family, &pp.protocol);
	if (bad) {
		session_invalid(s, c->token, bad);
		return;
	}
	err = probe_route(pr, c, &pp, &send_fd);
	if (err < 0) {
		session_errno(s, c->token, err);
		return;
	}
	if (s->user && quota_admit_shared(s->user, lim, pr->batch_ns,
					  probe_table_count(pr->probes)) != QUOTA_ADMIT) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}
	err = probe_table_alloc(pr->probes, pp.family == AF_INET6 && pp.protocol == IPPROTO_UDP,
				&id);
	if (err < 0) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}
	probe_shape(pr, c, id, &pp);
	if (probe_launch(pr, s, c, id, &pp, send_fd) < 0)
		return;
	if (++pr->sent_since_drain >= PROBER_DRAIN_EVERY) {
		pr->sent_since_drain = 0;
		drain(pr);
		pr->batch_ns = mono_ns();
	}
}

void prober_forget(struct prober *pr, struct session *s)
{
	struct probe *p;
	uint32_t id;

	/* Its own list, not a walk of the table: a client that leaves costs what it held. */
	while (s->probe_list) {
		id = s->probe_list - 1;
		p = probe_table_get(pr->probes, id);
		if (!p || p->owner != s)
			break; /* never: the list holds only its probes in flight */
		probe_done(pr, (uint16_t)id, p);
	}
	s->probe_list = 0;
	s->inflight = 0;
}

/* ---- life cycle ---- */

void prober_batch(struct prober *pr)
{
	pr->batch_ns = mono_ns();
}

/*
 * The engine's key space from the kernel's random source. No weaker fallback: guessable
 * keys are what this is for, and getrandom() exists on every kernel we run on.
 */
static int prober_keys(struct prober *pr, const struct net *net)
{
	uint8_t rnd[PROBE_KEY_RANDOM_LEN];
	ssize_t got = getrandom(rnd, sizeof(rnd), 0);

	if (got < 0)
		return -errno;
	if ((size_t)got != sizeof(rnd))
		return -EIO;
	probe_key_space_init(&pr->keys, net_icmp_id(net), rnd);
	return 0;
}

int prober_new(struct prober **out, struct event_base *base, struct net *net, struct privsep *ps,
	       struct session_hub *hub, void (*settled)(void *ctx), void *ctx)
{
	struct prober *pr;
	enum net_sock which;
	int err;

	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->net = net;
	pr->hub = hub;
	pr->settled = settled;
	pr->ctx = ctx;
	err = prober_keys(pr, net);
	if (err < 0)
		goto fail;
	err = probe_table_new(&pr->probes);
	if (err < 0)
		goto fail;
	err = sockcache_new(&pr->socks, ps);
	if (err < 0)
		goto fail;
	err = -ENOMEM;
	pr->ev_timer = evtimer_new(base, timer_cb, pr);
	if (!pr->ev_timer)
		goto fail;
	for (which = 0; which < NET_SOCK__COUNT; which++) {
		int fd = net_fd(net, which);

		if (fd < 0)
			continue;
		pr->ev_rx[which] = event_new(base, fd, EV_READ | EV_PERSIST, rx_cb, pr);
		if (!pr->ev_rx[which] || event_add(pr->ev_rx[which], NULL) < 0)
			goto fail;
	}
	*out = pr;
	return 0;
fail:
	prober_free(pr);
	return err;
}

struct prober *prober_free(struct prober *pr)
{
	enum net_sock which;

	if (!pr)
		return NULL;
	for (which = NET_SOCK__COUNT; which-- > 0;)
		if (pr->ev_rx[which])
			event_free(pr->ev_rx[which]);
	if (pr->ev_timer)
		event_free(pr->ev_timer);
	pr->socks = sockcache_free(pr->socks);
	pr->probes = probe_table_free(pr->probes);
	free(pr);
	return NULL;
}
