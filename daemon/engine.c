/*
 * engine: the event loop and what a command means. Each line a session reads comes
 * here: send-probe goes to the prober, check-support and enable-extension are answered
 * at once. Pipe mode has one session and ends when it is done; socket mode accepts
 * clients, one session per connection with its own token space and extensions, under
 * quotas per peer uid (SO_PEERCRED) shared by all of that uid's connections.
 */
#include "daemon/engine.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/net.h"
#include "daemon/probe_table.h"
#include "daemon/prober.h"
#include "daemon/quota.h"
#include "daemon/session.h"
#include "proto/proto.h"

/* Connections taken per readable event on the listening socket. */
#define ENGINE_ACCEPT_BATCH 64

struct engine {
	struct event_base *base;
	struct net *net;
	struct prober *prober;	 /* probes in flight, replies, timeouts */
	struct session_hub *hub; /* every session; the dirty list */
	struct session *session; /* pipe mode */
	/* socket mode */
	int listen_fd; /* -1 in pipe mode */
	struct event *ev_listen, *ev_accept_pause, *ev_sigterm, *ev_sigint;
	struct quota *quota;	/* per-uid limits */
	uint64_t refuse_log_ns; /* when a refusal was last logged */
	uint32_t refused;	/* refusals since then, not logged one by one */
	int result;
};

/* ---- commands ---- */

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
		return prober_ipproto(pr) >= 0 && net_supports(e->net, prober_ipproto(pr)) ? "ok"
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
		prober_send(e->prober, s, &cmd, e->quota ? quota_limits(e->quota) : NULL);
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

	prober_batch(e->prober);
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

/* session_ops: a client left with probes in flight; their slots are free again. */
static void engine_closed(void *ctx, struct session *s)
{
	struct engine *e = ctx;

	prober_forget(e->prober, s);
}

static const struct session_ops engine_session_ops = {
	.batch = engine_batch,
	.line = engine_line,
	.fatal = engine_fatal,
	.settled = engine_settled,
	.closed = engine_closed,
};

/* ---- accepting clients (socket mode) ---- */

static void engine_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	event_add(e->ev_listen, NULL);
}

/*
 * Tell the client why (one line it can show) and close. A flood of connects must not
 * flood the journal: one line per ENGINE_REFUSE_LOG_S, with the count since the last.
 */
static void engine_refuse(struct engine *e, int fd, const struct ucred *cred, const char *reason,
			  uint32_t have)
{
	uint64_t now = (uint64_t)clock_now_ns();

	session_refuse(fd, reason);
	close(fd);
	e->refused++;
	if (e->refuse_log_ns && now - e->refuse_log_ns < ENGINE_REFUSE_LOG_S * CLOCK_NS_PER_S)
		return;
	log_warnx("client uid %u pid %d refused (%s, %u connected); %u refused since the last "
		  "such line",
		  (unsigned)cred->uid, (int)cred->pid, reason, have, e->refused);
	e->refused = 0;
	e->refuse_log_ns = now;
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
	u = quota_get(e->quota, cred.uid, (uint64_t)clock_now_ns());
	if (!u) {
		close(fd);
		return;
	}
	if (!quota_conn_allowed(u, quota_limits(e->quota))) {
		engine_refuse(e, fd, &cred, "too-many-connections-for-uid", u->refs);
		return;
	}
	if (session_hub_clients(e->hub) >= ENGINE_MAX_CLIENTS) {
		engine_refuse(e, fd, &cred, "too-many-connections", session_hub_clients(e->hub));
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
	int err = -ENOMEM;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->net = net;
	e->listen_fd = -1;
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
	err = session_hub_new(&e->hub, e->base, &engine_session_ops, e);
	if (err < 0)
		goto fail;
	err = prober_new(&e->prober, e->base, net, ps, e->hub, engine_settled, e);
	if (err < 0)
		goto fail;
	/*
	 * In both modes SIGTERM/SIGINT end the loop rather than the process, so that
	 * privsep_free() still reaps the broker (the CLI ends its engine with SIGTERM).
	 */
	err = -ENOMEM;
	e->ev_sigterm = evsignal_new(e->base, SIGTERM, engine_signal_cb, e);
	e->ev_sigint = evsignal_new(e->base, SIGINT, engine_signal_cb, e);
	if (!e->ev_sigterm || !e->ev_sigint || event_add(e->ev_sigterm, NULL) < 0 ||
	    event_add(e->ev_sigint, NULL) < 0)
		goto fail;
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

	if (lim && (lim->inflight_per_user > ENGINE_LIMIT_MAX ||
		    lim->rate_per_user > ENGINE_LIMIT_MAX || lim->idle_s > ENGINE_IDLE_MAX_S)) {
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
	ql.conns = ENGINE_MAX_CLIENTS_PER_USER;
	ql.table_slots = PROBE_TABLE_SLOTS;
	session_hub_set_idle(e->hub,
			     (lim && lim->idle_s ? lim->idle_s : ENGINE_DEFAULT_IDLE_S) * 1000u);
	err = quota_new(&e->quota, &ql);
	if (err < 0) {
		engine_free(e);
		return err;
	}
	err = -ENOMEM;

	e->ev_listen = event_new(e->base, listen_fd, EV_READ | EV_PERSIST, engine_accept_cb, e);
	e->ev_accept_pause = evtimer_new(e->base, engine_accept_resume_cb, e);
	if (!e->ev_listen || !e->ev_accept_pause) {
		engine_free(e);
		return err;
	}
	*out = e;
	return 0;
}

struct engine *engine_free(struct engine *e)
{
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
	e->prober = prober_free(e->prober);
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
