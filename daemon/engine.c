/*
 * engine: commands in, probes out, replies back to the session that asked.
 *
 * Hot path per probe: split + decode the line, build the packet into a stack buffer,
 * one send system call with the send time taken right before it; replies come in
 * batches through recvmmsg() with kernel timestamps and are formatted straight into
 * the session's output buffer, flushed once per batch. A session whose reader is slow
 * stops being read (its probes still complete); nothing ever blocks on a full pipe.
 *
 * Socket mode: many sessions, one per connection, each with its own token space and
 * extensions. Sessions that got output are put on a "dirty" list and flushed once at the
 * end of each event callback. A client that goes away leaves its session behind, closed,
 * until its last probe in flight is done (probes point at their session). Quotas are per
 * peer uid (SO_PEERCRED), shared by all of that uid's connections.
 */
#include "daemon/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/numparse.h"
#include "daemon/net.h"
#include "daemon/packet.h"
#include "daemon/privsep.h"
#include "daemon/probe_key.h"
#include "daemon/quota.h"
#include "daemon/sockcache.h"

#include "daemon/probe_table.h"
#include "proto/proto.h"

/* Output buffer start size; it grows as needed (bounded by probes in flight). */
#define ENGINE_OUTBUF_INITIAL (64 * 1024)
/* Longest reply line we ever format. */
#define ENGINE_REPLY_MAX 512
/* recvmmsg rounds per readable event before yielding to other events. */
#define ENGINE_RX_ROUNDS 16
/* Probes sent in one go before the receive queues are read again. */
#define ENGINE_DRAIN_EVERY 256
/* Engine's packets: the biggest probe we build. */
#define ENGINE_PKT_MAX (PACKET_SIZE_MAX + 64)
/* Connections taken per readable event on the listening socket. */
#define ENGINE_ACCEPT_BATCH 64
struct engine;

struct session {
	struct engine *eng;
	int in_fd, out_fd;
	int client;		     /* socket mode connection (else the pipe-mode session) */
	int closed;		     /* client: descriptor closed, kept for probes in flight */
	int dirty;		     /* on the engine's dirty list */
	struct session *dirty_next;  /* dirty list */
	struct session *prev, *next; /* socket mode: every session */
	struct quota_user *user;     /* client: its peer uid's quota */
	pid_t pid;		     /* client: peer pid at connect time */
	struct event *ev_in, *ev_out;
	int reading;	/* ev_in is armed */
	int writing;	/* ev_out is armed */
	int eof;	/* input ended */
	int discarding; /* dropping the rest of an over-long line */
	int dead;	/* output failed: stop everything */
	uint32_t ext;	/* enabled extensions, bit per enum proto_ext */
	uint32_t inflight;
	char *inbuf; /* ENGINE_INBUF bytes; freed when a client's connection closes */
	size_t inlen;
	char *out;
	size_t outlen, outoff, outcap;
};

struct engine {
	struct event_base *base;
	struct net *net;
	struct privsep *ps;
	struct probe_table *probes;
	struct event *ev_rx[NET_SOCK__COUNT];
	struct event *ev_timer;
	uint64_t timer_ns;	 /* deadline the timer is set for, 0 = none */
	struct session *session; /* pipe mode */
	struct session *dirty;	 /* sessions with output or to reap; see engine_flush_dirty */
	/* socket mode */
	int listen_fd; /* -1 in pipe mode */
	struct event *ev_listen, *ev_accept_pause, *ev_sigterm, *ev_sigint;
	struct session *sessions;
	uint32_t nclients;   /* open connections */
	struct quota *quota; /* per-uid limits */

	struct probe_key_space keys; /* our echo id and TCP sequence space */
	unsigned sent_since_drain;
	uint64_t batch_ns; /* CLOCK_MONOTONIC when the current batch of commands began */
	int result;
	struct sockcache *socks; /* broker-made mark/device sockets */
	uint8_t pkt[ENGINE_PKT_MAX];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- output ---- */

static void session_update_reading(struct session *s);
static void engine_maybe_done(struct engine *e);

static void session_close(struct session *s, const char *why);

/* Remember s for engine_flush_dirty (output to write, or a closed session to reap). */
static inline void session_touch(struct session *s)
{
	if (!s->dirty) {
		s->dirty = 1;
		s->dirty_next = s->eng->dirty;
		s->eng->dirty = s;
	}
}

/* The pipe session's failure ends the engine; a client's ends only that connection. */
static void session_fail(struct session *s, int err)
{
	s->dead = 1;
	if (s->client) {
		if (!s->closed)
			session_close(s, strerror(-err));
		session_touch(s);
		return;
	}
	s->eng->result = err;
	event_base_loopbreak(s->eng->base);
}

static void session_flush(struct session *s)
{
	ssize_t n;

	if (s->closed)
		return;
	while (s->outoff < s->outlen && !s->dead) {
		n = write(s->out_fd, s->out + s->outoff, s->outlen - s->outoff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			session_fail(s, -errno);
			return;
		}
		s->outoff += (size_t)n;
	}
	if (s->outoff == s->outlen) {
		s->outoff = s->outlen = 0;
		if (s->writing) {
			event_del(s->ev_out);
			s->writing = 0;
		}
	} else if (!s->writing) {
		event_add(s->ev_out, NULL);
		s->writing = 1;
	}
	session_update_reading(s);
}

/* Room for one more line at the end of the output buffer. */
static char *session_reserve(struct session *s, size_t need)
{
	char *grown;
	size_t cap;

	if (s->outoff > 0 && s->outlen + need > s->outcap) {
		memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
		s->outlen -= s->outoff;
		s->outoff = 0;
	}
	if (s->outlen + need > s->outcap) {
		cap = s->outcap ? s->outcap : ENGINE_OUTBUF_INITIAL;
		while (cap < s->outlen + need)
			cap *= 2;
		grown = realloc(s->out, cap);
		if (!grown)
			return NULL;
		s->out = grown;
		s->outcap = cap;
	}
	return s->out + s->outlen;
}

static void session_emit(struct session *s, struct proto_writer *w)
{
	int len = proto_write_end(w);

	if (len < 0) {
		log_warnx("reply line did not fit; dropped");
		return;
	}
	s->outlen += (size_t)len;
}

/* Start a reply line directly in the session's output buffer. */
static int session_begin(struct session *s, struct proto_writer *w, int64_t token,
			 enum proto_reply reply)
{
	char *at;

	if (s->closed)
		return -EPIPE; /* the client left: its answers go nowhere */
	at = session_reserve(s, ENGINE_REPLY_MAX);
	if (!at) {
		session_fail(s, -ENOMEM);
		return -ENOMEM;
	}
	proto_writer_init(w, at, ENGINE_REPLY_MAX);
	proto_write_head(w, token, reply);
	return 0;
}

static void session_simple(struct session *s, int64_t token, enum proto_reply reply)
{
	struct proto_writer w;

	if (session_begin(s, &w, token, reply) == 0)
		session_emit(s, &w);
}

static void session_invalid(struct session *s, int64_t token, const char *reason)
{
	struct proto_writer w;

	if (session_begin(s, &w, token, PROTO_REPLY_INVALID_ARGUMENT) < 0)
		return;
	if (reason)
		proto_write_str(&w, PROTO_ARG_REASON, reason);
	session_emit(s, &w);
}

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
	tv.tv_sec = (time_t)(wait / 1000000000ull);
	tv.tv_usec = (suseconds_t)((wait % 1000000000ull) / 1000 + 1);
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

static void engine_flush_dirty(struct engine *e);

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
	engine_flush_dirty(e);
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
	engine_flush_dirty(e);
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

static void cmd_send_probe(struct session *s, const struct proto_command *c)
{
	struct engine *e = s->eng;
	struct packet_probe pp;
	struct probe_key_args key;
	union packet_addr local;
	const union packet_addr *localp = NULL;
	enum proto_protocol pname = PROTO_PROTOCOL_ICMP;
	int has4 = (c->present & PROTO_BIT(PROTO_ARG_IP_4)) != 0;
	int has6 = (c->present & PROTO_BIT(PROTO_ARG_IP_6)) != 0;
	int has_flow = (c->present & PROTO_BIT(PROTO_ARG_FLOW_ID)) != 0;
	int send_fd = -1, udp_fd = -1, family, protocol, len, err;
	int64_t timeout_s = ENGINE_DEFAULT_TIMEOUT_S;
	uint16_t id, port = 0, flow = 0;
	uint32_t flowlabel = 0;
	struct probe *p;

	if (has4 == has6) {
		session_invalid(s, c->token, has4 ? "ip-4-and-ip-6" : "missing-address");
		return;
	}
	family = has4 ? AF_INET : AF_INET6;
	if ((has4 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6))) ||
	    (has6 && (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4)))) {
		session_invalid(s, c->token, "address-family-mismatch");
		return;
	}
	if (c->present & PROTO_BIT(PROTO_ARG_PROTOCOL)) {
		const struct proto_slice *t = &c->text[PROTO_ARG_PROTOCOL];

		if (proto_protocol_lookup(t->ptr, t->len, &pname) < 0) {
			session_invalid(s, c->token, "unknown-protocol");
			return;
		}
	}
	protocol = protocol_number(pname);
	if (protocol < 0) {
		session_invalid(s, c->token, "protocol-not-supported");
		return;
	}
	if (!net_have_family(e->net, family)) {
		session_invalid(s, c->token, "ip-version-not-supported");
		return;
	}
	if (!net_supports(e->net, protocol)) {
		session_invalid(s, c->token, "protocol-not-supported");
		return;
	}
	if (has_flow && !(s->ext & (1u << PROTO_EXT_FLOW_ID))) {
		session_invalid(s, c->token, "extension-not-enabled");
		return;
	}

	memset(&pp, 0, sizeof(pp));
	pp.family = family;
	pp.protocol = protocol;
	if (family == AF_INET) {
		pp.dst.v4 = c->ip4[PROTO_ARG_IP_4];
		if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_4)) {
			local.v4 = c->ip4[PROTO_ARG_LOCAL_IP_4];
			localp = &local;
		}
	} else {
		pp.dst.v6 = c->ip6[PROTO_ARG_IP_6];
		if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_IP_6)) {
			local.v6 = c->ip6[PROTO_ARG_LOCAL_IP_6];
			localp = &local;
		}
	}
	/* mtr always sends its local address; the unspecified one means "any". */
	if (localp && is_unspecified(family, localp))
		localp = NULL;
	if (c->present & (PROTO_BIT(PROTO_ARG_MARK) | PROTO_BIT(PROTO_ARG_LOCAL_DEVICE))) {
		err = engine_sockets(e, family, protocol, c, &send_fd, &udp_fd);
		if (err < 0) {
			session_errno(s, c->token, err);
			return;
		}
	}
	err = net_source(e->net, family, &pp.dst, localp, udp_fd, &pp.src);
	if (err < 0) {
		session_errno(s, c->token, err);
		return;
	}

	if (c->present & PROTO_BIT(PROTO_ARG_PORT))
		port = (uint16_t)c->num[PROTO_ARG_PORT];
	if (has_flow)
		flow = (uint16_t)c->num[PROTO_ARG_FLOW_ID];
	if (protocol != IPPROTO_ICMP) {
		if (c->present & PROTO_BIT(PROTO_ARG_LOCAL_PORT)) {
			pp.src_port = (uint16_t)c->num[PROTO_ARG_LOCAL_PORT];
			err = net_reserve_port(e->net, family, protocol, pp.src_port);
			if (err < 0) {
				session_errno(s, c->token, err);
				return;
			}
		} else {
			pp.src_port = net_reserved_port(e->net, family, protocol);
		}
	}

	if (s->user && quota_admit(s->user, quota_limits(e->quota), e->batch_ns) != QUOTA_ADMIT) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}
	err = probe_table_alloc(e->probes, family == AF_INET6 && protocol == IPPROTO_UDP, &id);
	if (err < 0) {
		session_simple(s, c->token, PROTO_REPLY_PROBES_EXHAUSTED);
		return;
	}

	pp.ttl = (uint8_t)((c->present & PROTO_BIT(PROTO_ARG_TTL)) ? c->num[PROTO_ARG_TTL]
								   : ENGINE_DEFAULT_TTL);
	pp.size = (size_t)((c->present & PROTO_BIT(PROTO_ARG_SIZE)) ? c->num[PROTO_ARG_SIZE]
								    : ENGINE_DEFAULT_SIZE);
	if (c->present & PROTO_BIT(PROTO_ARG_BIT_PATTERN))
		pp.pattern = (uint8_t)c->num[PROTO_ARG_BIT_PATTERN];
	if (c->present & PROTO_BIT(PROTO_ARG_TOS))
		pp.tos = (uint8_t)c->num[PROTO_ARG_TOS];
	key.port = port;
	key.has_flow = has_flow;
	key.flow = flow;
	/* protocol_number() gave one of the three protocols probe_key knows. */
	probe_key_encode(&e->keys, &key, id, &pp);
	if (has_flow)
		flowlabel = flow + 1u;

	len = packet_build(&pp, e->pkt, sizeof(e->pkt));
	if (len < 0) {
		probe_table_release(e->probes, id);
		session_invalid(s, c->token, "bad-probe-size");
		return;
	}
	p = probe_table_get(e->probes, id);
	p->token = c->token;
	p->owner = s;
	p->family = (uint8_t)family;
	p->protocol = (uint8_t)protocol;
	p->dst = pp.dst;
	p->src_port = pp.src_port;
	p->dst_port = pp.dst_port;
	err = net_send(e->net, send_fd, &pp, e->pkt, (size_t)len, flowlabel, &p->sent);
	if (err < 0) {
		probe_table_release(e->probes, id);
		session_errno(s, c->token, err);
		return;
	}
	if (c->present & PROTO_BIT(PROTO_ARG_TIMEOUT))
		timeout_s = c->num[PROTO_ARG_TIMEOUT];
	if (timeout_s < 1)
		timeout_s = 1; /* mtr-packet's "0" cannot mean "already late" */
	/* Timeouts are whole seconds: the batch's clock reading is close enough. */
	p->deadline_ns = e->batch_ns + (uint64_t)timeout_s * 1000000000ull;
	probe_table_arm(e->probes, id);
	s->inflight++;
	if (s->user)
		s->user->inflight++;
	engine_schedule(e);
	if (++e->sent_since_drain >= ENGINE_DRAIN_EVERY) {
		e->sent_since_drain = 0;
		engine_drain(e);
		e->batch_ns = mono_ns();
	}
}

/* ---- other commands ---- */

static const char *support_of(struct session *s, const struct proto_slice *f)
{
	struct engine *e = s->eng;
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

static void cmd_check_support(struct session *s, const struct proto_command *c)
{
	struct proto_writer w;

	if (!(c->present & PROTO_BIT(PROTO_ARG_FEATURE))) {
		session_invalid(s, c->token, "missing-feature");
		return;
	}
	if (session_begin(s, &w, c->token, PROTO_REPLY_FEATURE_SUPPORT) < 0)
		return;
	proto_write_str(&w, PROTO_ARG_SUPPORT, support_of(s, &c->text[PROTO_ARG_FEATURE]));
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

static void session_line(struct session *s, const char *line, size_t len)
{
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
		cmd_send_probe(s, &cmd);
		break;
	case PROTO_CMD_CHECK_SUPPORT:
		cmd_check_support(s, &cmd);
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

/* Consume every complete line in the input buffer. */
static void session_lines(struct session *s)
{
	size_t start = 0, i;

	for (i = 0; i < s->inlen && !s->dead; i++) {
		const char *nl = memchr(s->inbuf + i, '\n', s->inlen - i);

		if (!nl)
			break;
		i = (size_t)(nl - s->inbuf);
		if (s->discarding)
			s->discarding = 0;
		else if (i - start >= PROTO_LINE_MAX - 1)
			session_simple(s, 0, PROTO_REPLY_COMMAND_BUFFER_OVERFLOW);
		else
			session_line(s, s->inbuf + start, i - start);
		start = i + 1;
	}
	if (s->closed)
		return; /* failed on the way (out of memory): its buffers are gone */
	if (start > 0) {
		memmove(s->inbuf, s->inbuf + start, s->inlen - start);
		s->inlen -= start;
	}
	/* A line longer than the protocol allows: say so once, drop it up to its newline. */
	if (s->inlen >= PROTO_LINE_MAX - 1) {
		if (!s->discarding)
			session_simple(s, 0, PROTO_REPLY_COMMAND_BUFFER_OVERFLOW);
		s->discarding = 1;
		s->inlen = 0;
	}
}

static void session_update_reading(struct session *s)
{
	size_t pending = s->outlen - s->outoff;
	int want = !s->eof && !s->dead;

	if (s->closed)
		return;
	if (want && s->reading && pending > ENGINE_OUT_HWM)
		want = 0;
	else if (want && !s->reading && pending > ENGINE_OUT_LWM)
		want = 0;
	if (want && !s->reading) {
		event_add(s->ev_in, NULL);
		s->reading = 1;
	} else if (!want && s->reading) {
		event_del(s->ev_in);
		s->reading = 0;
	}
}

static void session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct engine *e = s->eng;
	ssize_t n;

	n = read(s->in_fd, s->inbuf + s->inlen, ENGINE_INBUF - s->inlen);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (s->client) {
			session_fail(s, -errno);
			engine_flush_dirty(e);
			return;
		}
		log_warn("reading commands");
		n = 0;
	}
	if (n == 0) {
		s->eof = 1;
		/* A last line without its newline still counts. */
		if (s->inlen > 0 && !s->discarding && s->inlen < ENGINE_INBUF) {
			e->batch_ns = mono_ns();
			s->inbuf[s->inlen++] = '\n';
			session_lines(s);
		}
		session_update_reading(s);
		session_touch(s);
		engine_flush_dirty(e);
		engine_maybe_done(e);
		return;
	}
	s->inlen += (size_t)n;
	e->batch_ns = mono_ns();
	session_lines(s);
	session_touch(s);
	engine_flush_dirty(e);
}

static void session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct engine *e = s->eng;

	session_touch(s);
	engine_flush_dirty(e);
	engine_maybe_done(e);
}

static void engine_maybe_done(struct engine *e)
{
	struct session *s = e->session;

	if (s && s->eof && s->inflight == 0 && s->outoff == s->outlen)
		event_base_loopbreak(e->base);
}

/* Pipes get O_NONBLOCK so a slow reader never blocks the engine; a tty keeps its mode. */
static int prepare_fd(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ---- sessions and users (socket mode) ---- */

static struct session *session_free(struct session *s)
{
	if (!s)
		return NULL;
	if (s->ev_out)
		event_free(s->ev_out);
	if (s->ev_in)
		event_free(s->ev_in);
	free(s->out);
	free(s->inbuf);
	free(s);
	return NULL;
}

static int session_new(struct session **out, struct engine *e, int in_fd, int out_fd)
{
	struct session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->eng = e;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->inbuf = malloc(ENGINE_INBUF);
	if (!s->inbuf) {
		free(s);
		return -ENOMEM;
	}
	if ((err = prepare_fd(in_fd)) < 0 || (err = prepare_fd(out_fd)) < 0) {
		session_free(s);
		return err;
	}
	s->ev_in = event_new(e->base, in_fd, EV_READ | EV_PERSIST, session_read_cb, s);
	s->ev_out = event_new(e->base, out_fd, EV_WRITE | EV_PERSIST, session_write_cb, s);
	if (!s->ev_in || !s->ev_out) {
		session_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

/*
 * End a client's connection now. The struct stays (closed) while probes in flight point
 * at it; their answers are dropped in session_begin.
 */
static void session_close(struct session *s, const char *why)
{
	struct engine *e = s->eng;

	if (s->inflight)
		log_info("client uid %u pid %d disconnected (%s), dropping the answers to %u "
			 "probes in flight",
			 (unsigned)s->user->uid, (int)s->pid, why, s->inflight);
	else
		log_info("client uid %u pid %d disconnected (%s)", (unsigned)s->user->uid,
			 (int)s->pid, why);
	event_free(s->ev_in);
	event_free(s->ev_out);
	s->ev_in = s->ev_out = NULL;
	s->reading = s->writing = 0;
	close(s->in_fd);
	s->in_fd = s->out_fd = -1;
	/* What lingers for probes in flight stays small: many may linger per uid. */
	free(s->out);
	s->out = NULL;
	s->outlen = s->outoff = s->outcap = 0;
	free(s->inbuf);
	s->inbuf = NULL;
	s->inlen = 0;
	s->closed = 1;
	s->dead = 1;
	e->nclients--;
}

/* Unlink and free a client session (closed, or the engine is going away). */
static void session_destroy(struct session *s)
{
	struct engine *e = s->eng;

	if (!s->closed) {
		event_free(s->ev_in);
		event_free(s->ev_out);
		s->ev_in = s->ev_out = NULL;
		close(s->in_fd);
		e->nclients--;
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		e->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	quota_put(s->user);
	session_free(s);
}

/*
 * A client that ended its input is closed once its answers are written; a closed one
 * is freed once nothing in flight points at it. Never called on a dirty session: the
 * dirty list may still hold it.
 */
static void session_maybe_end(struct session *s)
{
	if (!s->client || s->dirty)
		return;
	if (!s->closed && s->eof && s->inflight == 0 && s->outoff == s->outlen)
		session_close(s, "end of input");
	if (s->closed && s->inflight == 0)
		session_destroy(s);
}

/* Write out (and reap) every session that was touched since the last call. */
static void engine_flush_dirty(struct engine *e)
{
	struct session *s;

	while ((s = e->dirty)) {
		e->dirty = s->dirty_next;
		s->dirty = 0;
		session_flush(s);
		session_maybe_end(s);
	}
}

static void engine_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	event_add(e->ev_listen, NULL);
}

static void engine_accept_one(struct engine *e, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct session *s;
	struct quota_user *u;
	int err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		log_warn("client without peer credentials refused");
		close(fd);
		return;
	}
	if (e->nclients >= ENGINE_MAX_CLIENTS) {
		log_warnx("client uid %u pid %d refused: %u clients connected already",
			  (unsigned)cred.uid, (int)cred.pid, e->nclients);
		close(fd);
		return;
	}
	u = quota_get(e->quota, cred.uid, mono_ns());
	if (!u) {
		close(fd);
		return;
	}
	err = session_new(&s, e, fd, fd);
	if (err < 0) {
		log_warnx("client uid %u: %s", (unsigned)cred.uid, strerror(-err));
		close(fd);
		return;
	}
	s->client = 1;
	s->user = u;
	s->pid = cred.pid;
	u->refs++;
	s->next = e->sessions;
	if (e->sessions)
		e->sessions->prev = s;
	e->sessions = s;
	e->nclients++;
	log_info("client uid %u pid %d connected (%u clients)", (unsigned)cred.uid, (int)cred.pid,
		 e->nclients);
	session_update_reading(s);
}

static void engine_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct engine *e = arg;
	struct timeval pause = {
		.tv_sec = ENGINE_ACCEPT_PAUSE_MS / 1000,
		.tv_usec = (ENGINE_ACCEPT_PAUSE_MS % 1000) * 1000,
	};
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
	err = session_new(&e->session, e, in_fd, out_fd);
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
	while (e->sessions)
		session_destroy(e->sessions);
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
	session_update_reading(e->session);
	event_base_dispatch(e->base);
	return e->result;
}
