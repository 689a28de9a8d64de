/*
 * engine: commands in, probes out, replies back to the session that asked.
 *
 * Hot path per probe: split + decode the line, build the packet into a stack buffer,
 * one send system call with the send time taken right before it; replies come in
 * batches through recvmmsg() with kernel timestamps and are formatted straight into
 * the session's output buffer (session.c), flushed once per batch.
 *
 * Socket mode: many sessions, one per connection, each with its own token space and
 * extensions. Quotas (quota.c) are per peer uid (SO_PEERCRED), shared by all of that
 * uid's connections.
 */
#include "daemon/engine.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/net.h"
#include "daemon/packet.h"
#include "daemon/privsep.h"
#include "daemon/probe_key.h"
#include "daemon/probe_table.h"
#include "daemon/quota.h"
#include "daemon/session.h"
#include "daemon/sockcache.h"
#include "proto/proto.h"

/* recvmmsg rounds per readable event before yielding to other events. */
#define ENGINE_RX_ROUNDS 16
/* Probes sent in one go before the receive queues are read again. */
#define ENGINE_DRAIN_EVERY 256
/* Engine's packets: the biggest probe we build. */
#define ENGINE_PKT_MAX (PACKET_SIZE_MAX + 64)
/* Connections taken per readable event on the listening socket. */
#define ENGINE_ACCEPT_BATCH 64

struct engine {
	struct event_base *base;
	struct net *net;
	struct privsep *ps;
	struct probe_table *probes;
	struct event *ev_rx[NET_SOCK__COUNT];
	struct event *ev_timer;
	uint64_t timer_ns;	 /* deadline the timer is set for, 0 = none */
	struct session_hub *hub; /* every session; the dirty list */
	struct session *session; /* pipe mode */
	/* socket mode */
	int listen_fd; /* -1 in pipe mode */
	struct event *ev_listen, *ev_accept_pause, *ev_sigterm, *ev_sigint;
	struct quota *quota;	     /* per-uid limits */
	struct probe_key_space keys; /* our echo id and TCP sequence space */
	unsigned sent_since_drain;
	uint64_t batch_ns; /* CLOCK_MONOTONIC when the current batch of commands began */
	int result;
	struct sockcache *socks; /* broker-made mark/device sockets */
	uint8_t pkt[ENGINE_PKT_MAX];
};

/* The engine's clock: nanoseconds, unsigned (deadlines only ever move forward). */
static uint64_t mono_ns(void)
{
	return (uint64_t)clock_now_ns();
}

static void engine_maybe_done(struct engine *e);

/* ---- timeouts ---- */

static void engine_timer_cb(evutil_socket_t fd, short what, void *arg);

static void engine_schedule(struct engine *e)
{
	uint32_t id = probe_table_earliest(e->probes);
	struct probe *p;
	struct timeval tv;
	uint64_t now, wait;

	if (id == PROBE_TABLE_NONE) {
		if (e->timer_ns) {
			evtimer_del(e->ev_timer);
			e->timer_ns = 0;
		}
		return;
	}
	p = probe_table_get(e->probes, id);
	if (e->timer_ns && e->timer_ns <= p->deadline_ns)
		return;
	now = mono_ns();
	wait = p->deadline_ns > now ? p->deadline_ns - now : 0;
	/* One microsecond late rather than early: the deadline has passed when it fires. */
	tv = clock_tv_of_us((int64_t)(wait / CLOCK_NS_PER_US + 1));
	evtimer_add(e->ev_timer, &tv);
	e->timer_ns = p->deadline_ns;
}

static void probe_done(struct engine *e, uint16_t id, struct probe *p)
{
	struct session *s = p->owner;

	if (s) {
		if (s->inflight > 0)
			s->inflight--;
		if (s->user && s->user->inflight > 0)
			s->user->inflight--;
	}
	probe_table_release(e->probes, id);
}

static void engine_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	uint64_t now = mono_ns();
	struct session *s;
	uint32_t id;
	struct probe *p;

	e->timer_ns = 0;
	while ((id = probe_table_earliest(e->probes)) != PROBE_TABLE_NONE) {
		p = probe_table_get(e->probes, id);
		if (p->deadline_ns > now)
			break;
		s = p->owner;
		if (s) {
			session_simple(s, p->token, PROTO_REPLY_NO_REPLY);
			session_touch(s);
		}
		probe_done(e, (uint16_t)id, p);
	}
	engine_schedule(e);
	session_hub_flush(e->hub);
	engine_maybe_done(e);
}

/* ---- replies ---- */

static size_t addr_size(int family)
{
	return family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

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
static struct probe *match_probe(struct engine *e, const struct packet_reply *r, uint16_t *idp)
{
	struct probe *p;
	uint16_t id;

	if (probe_key_decode(&e->keys, r, &id) < 0)
		return NULL;
	p = probe_table_get(e->probes, id);
	if (!p || p->family != r->family || p->protocol != r->probe_protocol)
		return NULL;
	if (memcmp(&p->dst, &r->probe_dst, addr_size(p->family)) != 0)
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
static void engine_rx(struct engine *e, enum net_sock which)
{
	struct net_rx rx[NET_RX_BATCH];
	struct packet_reply r;
	struct session *s;
	int got, i, round;
	uint16_t id;
	struct probe *p;

	for (round = 0; round < ENGINE_RX_ROUNDS; round++) {
		got = net_recv(e->net, which, rx, NET_RX_BATCH);
		if (got <= 0) {
			if (got < 0)
				log_debug("receive: %s", strerror(-got));
			break;
		}
		for (i = 0; i < got; i++) {
			if (rx[i].preparsed) {
				r = rx[i].reply;
				/* The kernel matched the echo id of a ping socket already. */
				r.icmp_id = e->keys.icmp_id;
			} else {
				packet_parse(
					sock_family[which],
					rx[i].ip_protocol ? rx[i].ip_protocol : sock_proto[which],
					rx[i].buf, rx[i].len, &rx[i].from, rx[i].hop_limit, &r);
			}
			if (r.kind == PACKET_KIND_IGNORE)
				continue;
			p = match_probe(e, &r, &id);
			if (!p)
				continue;
			s = p->owner;
			if (s) {
				emit_reply(s, p, &r, &rx[i].stamp);
				session_touch(s);
			}
			probe_done(e, id, p);
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
static void engine_drain(struct engine *e)
{
	enum net_sock which;

	for (which = 0; which < NET_SOCK__COUNT; which++)
		if (net_fd(e->net, which) >= 0)
			engine_rx(e, which);
}

static void engine_rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	enum net_sock which;

	for (which = 0; which < NET_SOCK__COUNT; which++)
		if (net_fd(e->net, which) == fd)
			break;
	if (which == NET_SOCK__COUNT)
		return;
	engine_rx(e, which);
	session_hub_flush(e->hub);
	engine_maybe_done(e);
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

	if (session_begin(s, &w, token, r) < 0)
		return;
	if (r == PROTO_REPLY_UNEXPECTED_ERROR)
		proto_write_int(&w, PROTO_ARG_ERRNO, -err);
	session_emit(s, &w);
}

/* Sockets for probes with mark or local-device come from the broker, once per set. */
static int engine_sockets(struct engine *e, int family, int protocol, const struct proto_command *c,
			  int *send_fd, int *udp_fd)
{
	int has_mark = (c->present & PROTO_BIT(PROTO_ARG_MARK)) != 0;
	uint32_t mark = has_mark ? (uint32_t)c->num[PROTO_ARG_MARK] : 0;
	char device[PROTO_DEVICE_MAX + 1] = "";

	if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_DEVICE))
		memcpy(device, c->text[PROTO_ARG_LOCAL_DEVICE].ptr,
		       c->text[PROTO_ARG_LOCAL_DEVICE].len);
	return sockcache_get(e->socks, family, protocol, has_mark, mark, device, send_fd, udp_fd);
}

static int protocol_number(enum proto_protocol p)
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

static int is_unspecified(int family, const union packet_addr *a)
{
	static const union packet_addr zero;

	return memcmp(a, &zero, addr_size(family)) == 0;
}

/* Family and protocol of a send-probe, or the reason it is refused. */
static const char *probe_check(const struct engine *e, const struct session *s,
			       const struct proto_command *c, int *family, int *protocol)
{
	enum proto_protocol pname = PROTO_PROTOCOL_ICMP;
	int has4 = (c->present & PROTO_BIT(PROTO_ARG_IP_4)) != 0;
	int has6 = (c->present & PROTO_BIT(PROTO_ARG_IP_6)) != 0;

	if (has4 == has6)
		return has4 ? "ip-4-and-ip-6" : "missing-address";
	*family = has4 ? AF_INET : AF_INET6;
	if ((has4 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6))) ||
	    (has6 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4))))
		return "address-family-mismatch";
	if (c->present & PROTO_BIT(PROTO_ARG_PROTOCOL)) {
		const struct proto_slice *t = &c->text[PROTO_ARG_PROTOCOL];

		if (proto_protocol_lookup(t->ptr, t->len, &pname) < 0)
			return "unknown-protocol";
	}
	*protocol = protocol_number(pname);
	if (*protocol < 0)
		return "protocol-not-supported";
	if (!net_have_family(e->net, *family))
		return "ip-version-not-supported";
	if (!net_supports(e->net, *protocol))
		return "protocol-not-supported";
	if ((c->present & PROTO_BIT(PROTO_ARG_FLOW_ID)) && !(s->ext & (1u << PROTO_EXT_FLOW_ID)))
		return "extension-not-enabled";
	return NULL;
}

/*
 * Addresses and source port of pp (family and protocol set), and the sending socket:
 * -1 for the shared one, else a broker-made one for mark/local-device. 0 or -errno.
 */
static int probe_route(struct engine *e, const struct proto_command *c, struct packet_probe *pp,
		       int *send_fd)
{
	union packet_addr local;
	const union packet_addr *localp = NULL;
	int family = pp->family, protocol = pp->protocol, udp_fd = -1, err;

	if (family == AF_INET) {
		pp->dst.v4 = c->ip4[PROTO_ARG_IP_4];
		if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4)) {
			local.v4 = c->ip4[PROTO_ARG_LOCAL_IP_4];
			localp = &local;
		}
	} else {
		pp->dst.v6 = c->ip6[PROTO_ARG_IP_6];
		if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6)) {
			local.v6 = c->ip6[PROTO_ARG_LOCAL_IP_6];
			localp = &local;
		}
	}
	/* mtr always sends its local address; the unspecified one means "any". */
	if (localp && is_unspecified(family, localp))
		localp = NULL;
	if (c->present & (PROTO_BIT(PROTO_ARG_MARK) | PROTO_BIT(PROTO_ARG_LOCAL_DEVICE))) {
		err = engine_sockets(e, family, protocol, c, send_fd, &udp_fd);
		if (err < 0)
			return err;
	}
	err = net_source(e->net, family, &pp->dst, localp, udp_fd, &pp->src);
	if (err < 0)
		return err;
	if (protocol == IPPROTO_ICMP)
		return 0;
	if (!(c->present & PROTO_BIT(PROTO_ARG_LOCAL_PORT))) {
		pp->src_port = net_reserved_port(e->net, family, protocol);
		return 0;
	}
	pp->src_port = (uint16_t)c->num[PROTO_ARG_LOCAL_PORT];
	return net_reserve_port(e->net, family, protocol, pp->src_port);
}

/* TTL, size, payload pattern, TOS, and the probe id's place in the packet. */
static void probe_shape(const struct engine *e, const struct proto_command *c, uint16_t id,
			struct packet_probe *pp)
{
	struct probe_key_args key = {0};

	pp->ttl = (uint8_t)((c->present & PROTO_BIT(PROTO_ARG_TTL)) ? c->num[PROTO_ARG_TTL]
								    : ENGINE_DEFAULT_TTL);
	pp->size = (size_t)((c->present & PROTO_BIT(PROTO_ARG_SIZE)) ? c->num[PROTO_ARG_SIZE]
								     : ENGINE_DEFAULT_SIZE);
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
	/* protocol_number() gave one of the three protocols probe_key knows. */
	probe_key_encode(&e->keys, &key, id, pp);
}

/*
 * Build and send probe id, then put it in flight for s. Returns 0, or -errno once the
 * failure was answered and id released.
 */
static int probe_launch(struct engine *e, struct session *s, const struct proto_command *c,
			uint16_t id, const struct packet_probe *pp, int send_fd)
{
	int64_t timeout_s = ENGINE_DEFAULT_TIMEOUT_S;
	uint32_t flowlabel = 0;
	struct probe *p;
	int len, err;

	if (c->present & PROTO_BIT(PROTO_ARG_FLOW_ID))
		flowlabel = (uint16_t)c->num[PROTO_ARG_FLOW_ID] + 1u;
	len = packet_build(pp, e->pkt, sizeof(e->pkt));
	if (len < 0) {
		probe_table_release(e->probes, id);
		session_invalid(s, c->token, "bad-probe-size");
		return len;
	}
	p = probe_table_get(e->probes, id);
	p->token = c->token;
	p->owner = s;
	p->family = (uint8_t)pp->family;
	p->protocol = (uint8_t)pp->protocol;
	p->dst = pp->dst;
	p->src_port = pp->src_port;
	p->dst_port = pp->dst_port;
	err = net_send(e->net, send_fd, pp, e->pkt, (size_t)len, flowlabel, &p->sent);
	if (err < 0) {
		probe_table_release(e->probes, id);
		session_errno(s, c->token, err);
		return err;
	}
	if (c->present & PROTO_BIT(PROTO_ARG_TIMEOUT))
		timeout_s = c->num[PROTO_ARG_TIMEOUT];
	if (timeout_s < 1)
		timeout_s = 1; /* mtr-packet's "0" cannot mean "already late" */
	/* Timeouts are whole seconds: the batch's clock reading is close enough. */
	p->deadline_ns = e->batch_ns + (uint64_t)timeout_s * CLOCK_NS_PER_S;
	probe_table_arm(e->probes, id);
	s->inflight++;
	if (s->user)
		s->user->inflight++;
	engine_schedule(e);
	return 0;
}

static void cmd_send_probe(struct engine *e, struct session *s, const struct proto_command *c)
{
	struct packet_probe pp;
	const char *bad;
	int send_fd = -1, err;
	uint16_t id;

	memset(&pp, 0, sizeof(pp));
	bad = probe_check(e, s, c, &pp.family, &pp.protocol);
	if (bad) {
		session_invalid(s, c->token, bad);
		return;
	}
	err = probe_route(e, c, &pp, &send_fd);
	if (err < 0) {
		session_errno(s, c->token, err);
		return;
	}
	if (s->user && quota_admit(s->user, quota_limits(e->quota), e->batch_ns) != QUOTA_ADMIT) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}
	err = probe_table_alloc(e->probes, pp.family == AF_INET6 && pp.protocol == IPPROTO_UDP,
				&id);
	if (err < 0) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}
	probe_shape(e, c, id, &pp);
	if (probe_launch(e, s, c, id, &pp, send_fd) < 0)
		return;
	if (++e->sent_since_drain >= ENGINE_DRAIN_EVERY) {
		e->sent_since_drain = 0;
		engine_drain(e);
		e->batch_ns = mono_ns();
	}
}

/* ---- other commands ---- */

static const char *support_of(struct engine *e, const struct proto_slice *f)
{
	enum proto_protocol pr;
	enum proto_ext ext;

#define IS(word) (f->len == sizeof(word) - 1 && !memcmp(f->ptr, word, f->len))
	if (IS("version"))
		return HOPWATCH_VERSION;
	if (IS("send-probe") || IS("mark") || IS("local-device"))
		return "ok";
	if (IS("ip-4"))
		return net_have_family(e->net, AF_INET) ? "ok" : "no";
	if (IS("ip-6"))
		return net_have_family(e->net, AF_INET6) ? "ok" : "no";
#undef IS
	if (proto_protocol_lookup(f->ptr, f->len, &pr) == 0)
		return protocol_number(pr) >= 0 && net_supports(e->net, protocol_number(pr)) ? "ok"
											     : "no";
	if (proto_ext_lookup(f->ptr, f->len, &ext) == 0)
		return "ok";
	return "no";
}

static void cmd_check_support(struct engine *e, struct session *s, const struct proto_command *c)
{
	struct proto_writer w;

	if (!(c->present & PROTO_BIT(PROTO_ARG_FEATURE))) {
		session_invalid(s, c->token, "missing-feature");
		return;
	}
	if (session_begin(s, &w, c->token, PROTO_REPLY_FEATURE_SUPPORT) < 0)
		return;
	proto_write_str(&w, PROTO_ARG_SUPPORT, support_of(e, &c->text[PROTO_ARG_FEATURE]));
	session_emit(s, &w);
}

static void cmd_enable_extension(struct session *s, const struct proto_command *c)
{
	const struct proto_slice *f = &c->text[PROTO_ARG_FEATURE];
	struct proto_writer w;
	enum proto_ext ext;

	if (!(c->present & PROTO_BIT(PROTO_ARG_FEATURE))) {
		session_invalid(s, c->token, "missing-feature");
		return;
	}
	if (proto_ext_lookup(f->ptr, f->len, &ext) < 0) {
		session_invalid(s, c->token, "unknown-extension");
		return;
	}
	s->ext |= 1u << ext;
	if (session_begin(s, &w, c->token, PROTO_REPLY_EXTENSION_ENABLED) < 0)
		return;
	proto_write_str(&w, PROTO_ARG_FEATURE, proto_ext_name(ext));
	session_emit(s, &w);
}

/* session_ops: one command line of s. */
static void engine_line(void *ctx, struct session *s, const char *line, size_t len)
{
	struct engine *e = ctx;
	struct proto_line pl;
	struct proto_command cmd;
	enum proto_arg bad;
	int st;

	st = proto_split(line, len, &pl);
	if (st != PROTO_OK) {
		log_debug("unparsable command line (%s)", proto_status_name(st));
		session_simple(s, 0, PROTO_REPLY_COMMAND_PARSE_ERROR);
		return;
	}
	st = proto_decode_command(&pl, &cmd, &bad);
	if (st == PROTO_ERR_UNKNOWN_COMMAND) {
		session_simple(s, pl.token, PROTO_REPLY_UNKNOWN_COMMAND);
		return;
	}
	if (st != PROTO_OK) {
		session_invalid(s, pl.token, proto_status_name(st));
		return;
	}
	switch (cmd.cmd) {
	case PROTO_CMD_SEND_PROBE:
		cmd_send_probe(e, s, &cmd);
		break;
	case PROTO_CMD_CHECK_SUPPORT:
		cmd_check_support(e, s, &cmd);
		break;
	case PROTO_CMD_ENABLE_EXTENSION:
		cmd_enable_extension(s, &cmd);
		break;
	case PROTO_CMD__COUNT:
	default:
		session_simple(s, pl.token, PROTO_REPLY_UNKNOWN_COMMAND);
		break;
	}
}

/* Pipe mode ends once its input ended and every probe was answered and written. */
static void engine_maybe_done(struct engine *e)
{
	if (e->session && session_idle(e->session))
		event_base_loopbreak(e->base);
}

/* session_ops: the commands of one read take one clock reading. */
static void engine_batch(void *ctx)
{
	struct engine *e = ctx;

	e->batch_ns = mono_ns();
}

/* session_ops: the pipe session's output failed; the engine returns err. */
static void engine_fatal(void *ctx, int err)
{
	struct engine *e = ctx;

	e->result = err;
	event_base_loopbreak(e->base);
}

static void engine_settled(void *ctx)
{
	engine_maybe_done(ctx);
}

static const struct session_ops engine_session_ops = {
	.batch = engine_batch,
	.line = engine_line,
	.fatal = engine_fatal,
	.settled = engine_settled,
};

/* ---- accepting clients (socket mode) ---- */

static void engine_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	event_add(e->ev_listen, NULL);
}

static void engine_accept_one(struct engine *e, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct quota_user *u;
	int err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		log_warn("client without peer credentials refused");
		close(fd);
		return;
	}
	if (session_hub_clients(e->hub) >= ENGINE_MAX_CLIENTS) {
		log_warnx("client uid %u pid %d refused: %u clients connected already",
			  (unsigned)cred.uid, (int)cred.pid, session_hub_clients(e->hub));
		close(fd);
		return;
	}
	u = quota_get(e->quota, cred.uid, mono_ns());
	if (!u) {
		close(fd);
		return;
	}
	err = session_accept(e->hub, fd, u, cred.pid);
	if (err < 0) {
		log_warnx("client uid %u: %s", (unsigned)cred.uid, strerror(-err));
		close(fd);
		return;
	}
	log_info("client uid %u pid %d connected (%u clients)", (unsigned)cred.uid, (int)cred.pid,
		 session_hub_clients(e->hub));
}

static void engine_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct engine *e = arg;
	struct timeval pause = clock_tv_of_us((int64_t)ENGINE_ACCEPT_PAUSE_MS * 1000);
	int i, fd;

	for (i = 0; i < ENGINE_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			engine_accept_one(e, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* Out of descriptors or memory: the socket stays readable, so wait a while. */
		log_warn("accepting a client");
		event_del(e->ev_listen);
		evtimer_add(e->ev_accept_pause, &pause);
		break;
	}
}

static void engine_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct engine *e = arg;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(e->base);
}

/* ---- engine ---- */

static int engine_init(struct engine **out, struct net *net, struct privsep *ps, int use_poll)
{
	struct engine *e;
	struct event_config *cfg;
	enum net_sock which;
	int err = -ENOMEM;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->net = net;
	e->ps = ps;
	e->listen_fd = -1;
	e->keys.icmp_id = net_icmp_id(net);
	if (getrandom(&e->keys.tcp_base, sizeof(e->keys.tcp_base), 0) != sizeof(e->keys.tcp_base))
		e->keys.tcp_base = (uint16_t)(getpid() * 2654435761u >> 16);
	/*
	 * Pipe mode: poll, not epoll: a handful of descriptors, and stdin may be a regular
	 * file (hopwatchd < commands), which epoll refuses. Socket mode has only sockets.
	 */
	cfg = event_config_new();
	if (!cfg)
		goto fail;
	if (use_poll)
		event_config_avoid_method(cfg, "epoll");
	e->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!e->base)
		goto fail;
	err = probe_table_new(&e->probes);
	if (err < 0)
		goto fail;
	err = sockcache_new(&e->socks, ps);
	if (err < 0)
		goto fail;
	err = session_hub_new(&e->hub, e->base, &engine_session_ops, e);
	if (err < 0)
		goto fail;
	err = -ENOMEM;
	e->ev_timer = evtimer_new(e->base, engine_timer_cb, e);
	if (!e->ev_timer)
		goto fail;
	for (which = 0; which < NET_SOCK__COUNT; which++) {
		int fd = net_fd(net, which);

		if (fd < 0)
			continue;
		e->ev_rx[which] = event_new(e->base, fd, EV_READ | EV_PERSIST, engine_rx_cb, e);
		if (!e->ev_rx[which] || event_add(e->ev_rx[which], NULL) < 0)
			goto fail;
	}
	*out = e;
	return 0;
fail:
	engine_free(e);
	return err < 0 ? err : -ENOMEM;
}

int engine_new(struct engine **out, struct net *net, struct privsep *ps, int in_fd, int out_fd)
{
	struct engine *e;
	int err;

	err = engine_init(&e, net, ps, 1);
	if (err < 0)
		return err;
	err = session_new(&e->session, e->hub, in_fd, out_fd);
	if (err < 0) {
		engine_free(e);
		return err;
	}
	*out = e;
	return 0;
}

int engine_new_listener(struct engine **out, struct net *net, struct privsep *ps, int listen_fd,
			const struct engine_limits *lim)
{
	struct quota_limits ql;
	struct engine *e;
	int err;

	if (lim &&
	    (lim->inflight_per_user > ENGINE_LIMIT_MAX || lim->rate_per_user > ENGINE_LIMIT_MAX)) {
		close(listen_fd);
		return -EINVAL;
	}
	err = engine_init(&e, net, ps, 0);
	if (err < 0) {
		close(listen_fd);
		return err;
	}
	e->listen_fd = listen_fd;
	ql.inflight = lim && lim->inflight_per_user ? lim->inflight_per_user
						    : ENGINE_DEFAULT_INFLIGHT_PER_USER;
	ql.rate = lim && lim->rate_per_user ? lim->rate_per_user : ENGINE_DEFAULT_RATE_PER_USER;
	err = quota_new(&e->quota, &ql);
	if (err < 0) {
		engine_free(e);
		return err;
	}
	err = -ENOMEM;

	e->ev_listen = event_new(e->base, listen_fd, EV_READ | EV_PERSIST, engine_accept_cb, e);
	e->ev_accept_pause = evtimer_new(e->base, engine_accept_resume_cb, e);
	e->ev_sigterm = evsignal_new(e->base, SIGTERM, engine_signal_cb, e);
	e->ev_sigint = evsignal_new(e->base, SIGINT, engine_signal_cb, e);
	if (!e->ev_listen || !e->ev_accept_pause || !e->ev_sigterm || !e->ev_sigint ||
	    event_add(e->ev_sigterm, NULL) < 0 || event_add(e->ev_sigint, NULL) < 0) {
		engine_free(e);
		return err;
	}
	*out = e;
	return 0;
}

struct engine *engine_free(struct engine *e)
{
	enum net_sock which;

	if (!e)
		return NULL;
	e->session = session_free(e->session);
	e->hub = session_hub_free(e->hub);
	e->quota = quota_free(e->quota);

	if (e->ev_sigint)
		event_free(e->ev_sigint);
	if (e->ev_sigterm)
		event_free(e->ev_sigterm);
	if (e->ev_accept_pause)
		event_free(e->ev_accept_pause);
	if (e->ev_listen)
		event_free(e->ev_listen);
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	for (which = NET_SOCK__COUNT; which-- > 0;)
		if (e->ev_rx[which])
			event_free(e->ev_rx[which]);
	if (e->ev_timer)
		event_free(e->ev_timer);
	e->socks = sockcache_free(e->socks);
	e->probes = probe_table_free(e->probes);
	if (e->base)
		event_base_free(e->base);
	free(e);
	return NULL;
}

int engine_run(struct engine *e)
{
	if (e->listen_fd >= 0) {
		if (event_add(e->ev_listen, NULL) < 0)
			return -ENOMEM;
		event_base_dispatch(e->base);
		return 0;
	}
	session_start(e->session);
	event_base_dispatch(e->base);
	return e->result;
}
