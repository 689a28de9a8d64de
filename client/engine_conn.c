/*
 * engine_conn: spawn or connect to a packet engine and speak its line protocol.
 * The engine's stderr is a pipe of ours so that when it dies at start-up (no
 * privileges, no raw sockets) its reason becomes part of our single error line instead
 * of a second line on the terminal.
 */
#include "common/errmsg.h"
#include "client/engine_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/text.h"

/* Most features asked about at start-up. */
#define CHECK_MAX 16
/* Longest engine stderr line kept for an error message. */
#define STDERR_LINE_MAX 256
/* How long to wait for a dying engine's last words. */
#define STDERR_DRAIN_MS 1000
/* Words of a send-probe line: generous for every argument we write. */
#define PROBE_LINE_MAX 512
/* First size of the in-flight map; it doubles at half full. */
#define PEND_MIN 256
/* Most clients on one connection (ids are 32-bit; this bounds the scan for a free one). */
#define CLIENTS_MAX 65536

struct check_slot {
	int64_t token;
	const char *feature;
	int answered;
};

/* One probe waiting for its answer: which client sent it, and the client's cookie. */
struct pending {
	int64_t token; /* 0 = empty */
	uint32_t client;
	uint32_t gen;
	uint64_t cookie;
};

struct engine_client {
	struct engine_conn *conn;
	struct engine_client_ops ops;
	void *ctx;
	uint32_t id;  /* index in conn->clients */
	uint32_t gen; /* tells a reused index from the client that sent a late answer */
};

struct engine_conn {
	struct event_base *base;
	struct bufferevent *bev;     /* the protocol line */
	struct bufferevent *err_bev; /* the engine's stderr, spawn mode only */
	int err_fd;
	pid_t pid; /* spawned engine, 0 for a socket */
	char desc[PATH_MAX + 8];
	int64_t next_token;
	engine_lost_fn on_lost;
	void *lost_ctx;
	int lost;
	char last_err[STDERR_LINE_MAX]; /* the engine's latest stderr line */
	int err_held; /* last_err not shown yet: it may become part of the failure line */
	/* clients, by id; NULL = a free index */
	struct engine_client **clients;
	size_t nclients;
	uint32_t next_gen;
	/* probes in flight, open addressing on the token */
	struct pending *pend;
	size_t pend_cap; /* a power of two, 0 before the first probe */
	size_t npend;
	/* start-up check state */
	int checking;
	size_t ncheck, npending;
	struct check_slot check[CHECK_MAX];
	struct event *check_ev;
	engine_check_fn check_done;
	void *check_ctx;
	int check_rc;
	enum proto_cmd check_cmd; /* check-support or enable-extension */
	char check_msg[ENGINE_CONN_ERR_MAX];
};

/*
 * The check-support (or enable-extension) line for one feature; a feature the table
 * refuses ends the check at once, since no answer to it would ever come.
 */
static void queue_check_line(struct engine_conn *c, int64_t token, const char *feature,
			     enum proto_cmd cmd)
{
	char line[PROTO_LINE_MAX];
	struct proto_writer w;
	int len;

	if (c->check_rc)
		return;
	proto_writer_init(&w, line, sizeof(line));
	proto_write_command(&w, token, cmd);
	proto_write_str(&w, PROTO_ARG_FEATURE, feature);
	len = proto_write_end(&w);
	if (len < 0 || evbuffer_add(bufferevent_get_output(c->bev), line, (size_t)len)) {
		c->check_rc = len < 0 ? len : -ENOMEM;
		errmsg_set(c->check_msg, sizeof(c->check_msg),
			   "cannot ask engine %s about '%s': %s", c->desc, feature,
			   strerror(-c->check_rc));
	}
}

/* Optional arguments are left out at their "engine default" value, as mtr does. */
int engine_conn_format_probe(char *buf, size_t cap, int64_t token, const struct engine_probe *p)
{
	struct proto_writer w;

	proto_writer_init(&w, buf, cap);
	proto_write_command(&w, token, PROTO_CMD_SEND_PROBE);
	proto_write_addr(&w, p->dst.family, &p->dst.u);
	proto_write_str(&w, PROTO_ARG_PROTOCOL, proto_protocol_name(p->protocol));
	proto_write_int(&w, PROTO_ARG_TTL, p->ttl);
	if (p->size)
		proto_write_int(&w, PROTO_ARG_SIZE, p->size);
	if (p->bitpattern)
		proto_write_int(&w, PROTO_ARG_BIT_PATTERN, p->bitpattern);
	if (p->tos)
		proto_write_int(&w, PROTO_ARG_TOS, p->tos);
	if (p->port)
		proto_write_int(&w, PROTO_ARG_PORT, p->port);
	if (p->local_port)
		proto_write_int(&w, PROTO_ARG_LOCAL_PORT, p->local_port);
	/* The user's text as given: the engine judges it and names what it refuses. */
	if (p->src)
		proto_write_str(
			&w, p->dst.family == AF_INET ? PROTO_ARG_LOCAL_IP_4 : PROTO_ARG_LOCAL_IP_6,
			p->src);
	if (p->device)
		proto_write_str(&w, PROTO_ARG_LOCAL_DEVICE, p->device);
	if (p->has_mark)
		proto_write_int(&w, PROTO_ARG_MARK, p->mark);
	if (p->timeout_s)
		proto_write_int(&w, PROTO_ARG_TIMEOUT, p->timeout_s);
	if (p->has_flow_id)
		proto_write_int(&w, PROTO_ARG_FLOW_ID, p->flow_id);
	return proto_write_end(&w);
}

/*
 * The reason word goes into an error line on the user's terminal: only the characters
 * the engine's reasons are made of, so another engine's reply cannot carry escapes.
 */
static void copy_reason(char *out, size_t cap, const struct proto_slice *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->len && n + 1 < cap; i++) {
		char ch = s->ptr[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')
			out[n++] = ch;
		else
			out[n++] = '?';
	}
	out[n] = '\0';
}

int engine_conn_parse_reply(const char *line, size_t len, int64_t *token, struct engine_result *r,
			    struct proto_slice *support)
{
	struct proto_line pl;
	struct proto_reply_msg m;
	size_t i, n = 0;

	memset(r, 0, sizeof(*r));
	r->rtt_us = -1;
	if (support) {
		support->ptr = NULL;
		support->len = 0;
	}
	if (proto_split(line, len, &pl) != PROTO_OK)
		return -EINVAL;
	/* A newer engine's extra argument is ignored, as mtr does: decode only known names. */
	for (i = 0; i < pl.nargs; i++) {
		enum proto_arg arg;

		if (proto_arg_lookup(pl.name[i].ptr, pl.name[i].len, &arg))
			continue;
		pl.name[n] = pl.name[i];
		pl.value[n] = pl.value[i];
		n++;
	}
	pl.nargs = n;
	if (proto_decode_reply(&pl, &m, NULL) != PROTO_OK)
		return -EINVAL;
	*token = m.token;
	r->reply = m.reply;
	r->from.family = m.family;
	if (m.family == AF_INET)
		r->from.u.v4 = m.ip4;
	else if (m.family == AF_INET6)
		r->from.u.v6 = m.ip6;
	if (m.present & PROTO_BIT(PROTO_ARG_ROUND_TRIP_TIME))
		r->rtt_us = m.num[PROTO_ARG_ROUND_TRIP_TIME];
	for (i = 0; i < m.nmpls && i < STATS_MPLS_MAX; i++) {
		r->mpls[i].label = m.mpls[i].label;
		r->mpls[i].exp = m.mpls[i].exp;
		r->mpls[i].bos = m.mpls[i].bos;
		r->mpls[i].ttl = m.mpls[i].ttl;
	}
	r->nmpls = i;
	if (m.present & PROTO_BIT(PROTO_ARG_REASON))
		copy_reason(r->reason, sizeof(r->reason), &m.text[PROTO_ARG_REASON]);
	if (support && (m.present & PROTO_BIT(PROTO_ARG_SUPPORT)))
		*support = m.text[PROTO_ARG_SUPPORT];
	return 0;
}

/* Fibonacci hashing: tokens are sequential, the multiply spreads them over the table. */
static size_t pend_slot(const struct engine_conn *c, int64_t token)
{
	return (size_t)(((uint64_t)token * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (c->pend_cap - 1);
}

static struct pending *pend_find(struct engine_conn *c, int64_t token)
{
	size_t i;

	if (!c->pend_cap)
		return NULL;
	for (i = pend_slot(c, token); c->pend[i].token; i = (i + 1) & (c->pend_cap - 1))
		if (c->pend[i].token == token)
			return &c->pend[i];
	return NULL;
}

static void pend_put(struct engine_conn *c, const struct pending *p)
{
	size_t i = pend_slot(c, p->token);

	while (c->pend[i].token)
		i = (i + 1) & (c->pend_cap - 1);
	c->pend[i] = *p;
}

static int pend_grow(struct engine_conn *c)
{
	struct pending *old = c->pend;
	size_t oldcap = c->pend_cap, i;
	size_t cap = oldcap ? oldcap * 2 : PEND_MIN;

	c->pend = calloc(cap, sizeof(*c->pend));
	if (!c->pend) {
		c->pend = old;
		return -ENOMEM;
	}
	c->pend_cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].token)
			pend_put(c, &old[i]);
	free(old);
	return 0;
}

/* Linear probing without tombstones: the entries after the hole move back into it. */
static void pend_remove(struct engine_conn *c, struct pending *p)
{
	size_t mask = c->pend_cap - 1, hole = (size_t)(p - c->pend), i = hole;

	c->pend[hole].token = 0;
	c->npend--;
	for (;;) {
		size_t home;

		i = (i + 1) & mask;
		if (!c->pend[i].token)
			return;
		home = pend_slot(c, c->pend[i].token);
		/* Leave it if its home lies cyclically in (hole, i]. */
		if (hole <= i ? (hole < home && home <= i) : (hole < home || home <= i))
			continue;
		c->pend[hole] = c->pend[i];
		c->pend[i].token = 0;
		hole = i;
	}
}

static int64_t take_token(struct engine_conn *c)
{
	int64_t t;

	do {
		t = c->next_token++;
		if (c->next_token > PROTO_TOKEN_MAX)
			c->next_token = 1;
	} while (pend_find(c, t));
	return t;
}

/* An answer to a probe: to the client that sent it, if it is still there. */
static void route_result(struct engine_conn *c, int64_t token, const struct engine_result *r)
{
	struct pending *p = pend_find(c, token);
	struct engine_client *cl;
	uint64_t cookie;

	if (!p) {
		log_debug("engine answered unknown token %lld", (long long)token);
		return;
	}
	cl = p->client < c->nclients ? c->clients[p->client] : NULL;
	if (cl && cl->gen != p->gen)
		cl = NULL;
	cookie = p->cookie;
	pend_remove(c, p);
	if (cl && cl->ops.result)
		cl->ops.result(cl->ctx, cookie, r);
}

static void check_finish(struct engine_conn *c)
{
	engine_check_fn done = c->check_done;

	c->checking = 0;
	c->check_done = NULL;
	if (c->check_ev)
		evtimer_del(c->check_ev);
	if (done)
		done(c->check_ctx, c->check_rc, c->check_rc ? c->check_msg : NULL);
}

static void lose(struct engine_conn *c, const char *why);

static void drain_stderr(struct engine_conn *c, int wait_ms);

static void handle_check_reply(struct engine_conn *c, struct check_slot *s,
			       const struct engine_result *r, const struct proto_slice *support)
{
	s->answered = 1;
	c->npending--;
	if (c->check_cmd == PROTO_CMD_ENABLE_EXTENSION) {
		if (r->reply != PROTO_REPLY_EXTENSION_ENABLED && !c->check_rc) {
			c->check_rc = -ENOTSUP;
			errmsg_set(c->check_msg, sizeof(c->check_msg),
				   "engine %s cannot enable the extension '%s'", c->desc,
				   s->feature);
		}
	} else if (r->reply != PROTO_REPLY_FEATURE_SUPPORT || !support->ptr ||
		   (support->len == 2 && !memcmp(support->ptr, "no", 2))) {
		if (!c->check_rc) {
			c->check_rc = -ENOTSUP;
			if (!strcmp(s->feature, "ip-4") || !strcmp(s->feature, "ip-6"))
				errmsg_set(c->check_msg, sizeof(c->check_msg),
					   "engine %s cannot send IPv%c probes (no socket for that "
					   "family)",
					   c->desc, s->feature[3]);
			else
				errmsg_set(c->check_msg, sizeof(c->check_msg),
					   "engine %s does not support '%s'", c->desc, s->feature);
		}
	}
	if (!c->npending || c->check_rc)
		check_finish(c);
}

/*
 * Why a shared engine ends our connection: token 0, unexpected-error, and a reason
 * word. The message for one we know, else NULL (an ordinary reply line).
 */
static const struct refusal {
	const char *reason;
	const char *msg;
	int with_uid;
} refusals[] = {
	{"too-many-connections-for-uid",
	 "the engine refused the connection: too many connections for uid", 1},
	{"too-many-connections", "the engine refused the connection: too many connections", 0},
	{"idle-timeout", "the engine closed the connection: idle too long", 0},
};

static int refusal_of(const char *line, size_t len, char *msg, size_t cap)
{
	static const char word[] = "unexpected-error", reason[] = "reason";
	struct proto_line pl;
	size_t i, k;

	if (proto_split(line, len, &pl) != PROTO_OK || pl.token != 0 ||
	    pl.word.len != sizeof(word) - 1 || memcmp(pl.word.ptr, word, pl.word.len))
		return 0;
	for (i = 0; i < pl.nargs; i++) {
		if (pl.name[i].len != sizeof(reason) - 1 ||
		    memcmp(pl.name[i].ptr, reason, pl.name[i].len))
			continue;
		for (k = 0; k < sizeof(refusals) / sizeof(refusals[0]); k++) {
			const struct refusal *f = &refusals[k];

			if (strlen(f->reason) != pl.value[i].len ||
			    memcmp(f->reason, pl.value[i].ptr, pl.value[i].len))
				continue;
			if (f->with_uid)
				snprintf(msg, cap, "%s %u", f->msg, (unsigned)geteuid());
			else
				snprintf(msg, cap, "%s", f->msg);
			return 1;
		}
	}
	return 0;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct engine_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (!c->lost && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		struct engine_result r;
		struct proto_slice support;
		int64_t token;
		size_t i;
		int handled = 0;
		char why[ENGINE_CONN_ERR_MAX];

		if (c->pid == 0 && refusal_of(line, len, why, sizeof(why))) {
			free(line);
			lose(c, why);
			break;
		}
		if (engine_conn_parse_reply(line, len, &token, &r, &support)) {
			char clean[STDERR_LINE_MAX];

			text_clean(clean, sizeof(clean), line, len);
			log_debug("engine sent an unreadable line: %s", clean);
			free(line);
			continue;
		}
		for (i = 0; c->checking && i < c->ncheck; i++) {
			if (c->check[i].token == token && !c->check[i].answered) {
				handle_check_reply(c, &c->check[i], &r, &support);
				handled = 1;
				break;
			}
		}
		free(line);
		if (!handled)
			route_result(c, token, &r);
	}
	if (!c->lost && evbuffer_get_length(in) >= PROTO_LINE_MAX)
		lose(c, "the engine sent an over-long line");
}

/*
 * Our write failed: the engine may have told us why and closed before we read it. The
 * bufferevent's input is frozen to us, so read the socket directly; the first read may
 * report the reset (and clear it) before the data. 1 when it was a refusal (then lost).
 */
static int refused_late(struct engine_conn *c, evutil_socket_t fd)
{
	char buf[PROTO_LINE_MAX], why[ENGINE_CONN_ERR_MAX];
	size_t len = 0, start = 0, i;
	ssize_t n;
	int tries;

	for (tries = 0; tries < 2 && len < sizeof(buf); tries++)
		while (len < sizeof(buf) &&
		       (n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT)) > 0)
			len += (size_t)n;
	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (refusal_of(buf + start, i - start, why, sizeof(why))) {
			lose(c, why);
			return 1;
		}
		start = i + 1;
	}
	return 0;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct engine_conn *c = arg;

	/*
	 * A write can fail (the engine closed on us) before its last line was read: read
	 * what is left, for the reason it may give.
	 */
	if ((what & BEV_EVENT_ERROR) && c->pid == 0 && refused_late(c, bufferevent_getfd(bev)))
		return;
	if (what & BEV_EVENT_EOF)
		lose(c, "the engine closed the connection");
	else if (what & BEV_EVENT_ERROR)
		lose(c, "lost the connection to the engine");
}

static void err_read_cb(struct bufferevent *bev, void *arg)
{
	struct engine_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		/*
		 * Once running, the engine's warnings are the user's business; each is shown
		 * when the next arrives, so that a dying engine's last words appear only once,
		 * in the failure line.
		 */
		if (c->err_held && !c->checking && !c->lost)
			log_warnx("engine: %s", c->last_err);
		text_clean(c->last_err, sizeof(c->last_err), line, len);
		c->err_held = 1;
		free(line);
	}
	if (evbuffer_get_length(in) >= STDERR_LINE_MAX)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void err_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct engine_conn *c = arg;

	(void)what;
	bufferevent_disable(bev, EV_READ);
	(void)c;
}

/* Read what is left on the engine's stderr, for its last line. */
static void drain_stderr(struct engine_conn *c, int wait_ms)
{
	struct evbuffer *in;
	char buf[STDERR_LINE_MAX];
	struct pollfd pfd;

	if (c->err_fd < 0 || !c->err_bev)
		return;
	in = bufferevent_get_input(c->err_bev);
	pfd.fd = c->err_fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, wait_ms) > 0) {
		ssize_t n = read(c->err_fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		evbuffer_add(in, buf, (size_t)n);
		err_read_cb(c->err_bev, c);
	}
	/* A last line without its newline still counts. */
	if (evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);

		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		evbuffer_remove(in, buf, len);
		text_clean(c->last_err, sizeof(c->last_err), buf, len);
	}
}

static void lose(struct engine_conn *c, const char *why)
{
	char msg[ENGINE_CONN_ERR_MAX];
	size_t i;

	if (c->lost)
		return;
	c->lost = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->pid > 0)
		drain_stderr(c, STDERR_DRAIN_MS);
	c->err_held = 0;
	if (c->last_err[0])
		errmsg_set(msg, sizeof(msg), "engine %s failed: %s", c->desc, c->last_err);
	else
		errmsg_set(msg, sizeof(msg), "engine %s: %s", c->desc, why);
	if (c->checking) {
		c->check_rc = -EPIPE;
		memcpy(c->check_msg, msg, sizeof(c->check_msg));
		check_finish(c);
	}
	/* By index: a callback may free its own client (or others) on the way. */
	for (i = 0; i < c->nclients; i++) {
		struct engine_client *cl = c->clients[i];

		if (cl && cl->ops.lost)
			cl->ops.lost(cl->ctx, msg);
	}
	if (c->on_lost)
		c->on_lost(c->lost_ctx, msg);
}

static int executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* hopwatchd next to the client, then on PATH. */
static int find_engine(const char *self_exe, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	const char *slash;

	if (self_exe && (slash = strrchr(self_exe, '/'))) {
		int n = snprintf(out, cap, "%.*s/%s", (int)(slash - self_exe), self_exe,
				 ENGINE_CONN_PROGRAM);

		if (n > 0 && (size_t)n < cap && executable(out))
			return 0;
	}
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t dlen = end ? (size_t)(end - path) : strlen(path);
		int n = snprintf(out, cap, "%.*s/%s", (int)dlen, dlen ? path : ".",
				 ENGINE_CONN_PROGRAM);

		if (dlen && n > 0 && (size_t)n < cap && executable(out))
			return 0;
		path = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static int spawn(struct engine_conn *c, const char *prog, char *err, size_t errlen)
{
	int sv[2] = {-1, -1}, ep[2] = {-1, -1}, xp[2] = {-1, -1};
	int child_errno = 0;
	ssize_t n;
	pid_t pid;

	snprintf(c->desc, sizeof(c->desc), "%s", prog);
	if (!executable(prog)) {
		errmsg_set(err, errlen, "cannot run the engine %s: %s", prog, strerror(errno));
		return -ENOENT;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 || pipe2(xp, O_CLOEXEC) < 0) {
		int e = errno;

		errmsg_set(err, errlen, "cannot create the engine pipes: %s", strerror(e));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		errmsg_set(err, errlen, "cannot start the engine: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* The engine checks for a pipe or socket on stdin/stdout; mtr names it so. */
		char *const argv[] = {(char *)"mtr-packet", NULL};

		if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0 ||
		    dup2(ep[1], STDERR_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execv(prog, argv);
		child_errno = errno;
		if (write(xp[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	c->pid = pid;
	close(sv[1]);
	close(ep[1]);
	close(xp[1]);
	sv[1] = ep[1] = xp[1] = -1;
	/* The exec pipe closes on a successful exec; otherwise it carries errno. */
	n = read(xp[0], &child_errno, sizeof(child_errno));
	close(xp[0]);
	xp[0] = -1;
	if (n == (ssize_t)sizeof(child_errno)) {
		errmsg_set(err, errlen, "cannot run the engine %s: %s", prog,
			   strerror(child_errno));
		waitpid(pid, NULL, 0);
		c->pid = 0;
		close(sv[0]);
		close(ep[0]);
		return -child_errno;
	}
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(ep[0]);
	c->err_fd = ep[0];
	c->bev = bufferevent_socket_new(c->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	c->err_bev = bufferevent_socket_new(c->base, ep[0], BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev || !c->err_bev) {
		if (!c->bev)
			close(sv[0]);
		if (!c->err_bev)
			close(ep[0]);
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bufferevent_setcb(c->err_bev, err_read_cb, NULL, err_event_cb, c);
	bufferevent_enable(c->err_bev, EV_READ);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
		if (xp[i] >= 0)
			close(xp[i]);
	}
	return -EIO;
}

/* 0, or -errno from connect() (the caller decides whether to fall back). */
static int connect_unix(struct engine_conn *c, const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	snprintf(c->desc, sizeof(c->desc), "unix:%s", path);
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

int engine_conn_open(struct engine_conn **out, struct event_base *base, const char *spec,
		     const char *self_exe, char *err, size_t errlen)
{
	struct engine_conn *c;
	char prog[PATH_MAX];
	const char *env;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->base = base;
	c->err_fd = -1;
	c->next_token = 1;
	env = getenv("HOPWATCH_ENGINE");
	if (!spec && env && *env)
		spec = env;

	if (spec && !strncmp(spec, "unix:", 5)) {
		rc = connect_unix(c, spec + 5);
		if (rc)
			errmsg_set(err, errlen, "cannot connect to the engine at %s: %s", c->desc,
				   strerror(-rc));
	} else if (spec) {
		rc = spawn(c, spec, err, errlen);
	} else {
		rc = connect_unix(c, ENGINE_CONN_DEFAULT_SOCKET);
		if (rc == -ENOENT || rc == -ECONNREFUSED) {
			if (find_engine(self_exe, prog, sizeof(prog))) {
				errmsg_set(
					err, errlen,
					"cannot find the engine %s (next to hopwatch or on PATH); "
					"set HOPWATCH_ENGINE or use --engine",
					ENGINE_CONN_PROGRAM);
				rc = -ENOENT;
			} else {
				rc = spawn(c, prog, err, errlen);
			}
		} else if (rc) {
			errmsg_set(err, errlen, "cannot connect to the engine at %s: %s", c->desc,
				   strerror(-rc));
		}
	}
	if (rc) {
		engine_conn_free(c);
		return rc;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, PROTO_LINE_MAX * 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	*out = c;
	return 0;
}

struct engine_conn *engine_conn_free(struct engine_conn *c)
{
	size_t i;

	if (!c)
		return NULL;
	if (c->err_held && !c->lost)
		log_warnx("engine: %s", c->last_err);
	/* Clients outlive nothing of ours: detach them so their free touches no conn. */
	for (i = 0; i < c->nclients; i++)
		if (c->clients[i])
			c->clients[i]->conn = NULL;
	free(c->clients);
	free(c->pend);
	if (c->check_ev)
		event_free(c->check_ev);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->err_bev)
		bufferevent_free(c->err_bev);
	if (c->pid > 0) {
		/* EOF alone would let it wait out every probe's timeout. */
		kill(c->pid, SIGTERM);
		waitpid(c->pid, NULL, 0);
	}
	free(c);
	return NULL;
}

void engine_conn_set_lost(struct engine_conn *c, engine_lost_fn fn, void *ctx)
{
	c->on_lost = fn;
	c->lost_ctx = ctx;
}

int engine_conn_is_lost(const struct engine_conn *c)
{
	return c->lost;
}

static void check_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->checking)
		return;
	if (!c->check_rc && c->npending) {
		c->check_rc = -ETIMEDOUT;
		errmsg_set(c->check_msg, sizeof(c->check_msg),
			   "engine %s did not answer its start-up check within %d ms", c->desc,
			   ENGINE_CONN_CHECK_TIMEOUT_MS);
	}
	check_finish(c);
}

static int start_check(struct engine_conn *c, enum proto_cmd cmd, const char *const *features,
		       size_t n, engine_check_fn done, void *ctx)
{
	struct timeval tv = {ENGINE_CONN_CHECK_TIMEOUT_MS / 1000,
			     (ENGINE_CONN_CHECK_TIMEOUT_MS % 1000) * 1000};
	size_t i;

	if (n > CHECK_MAX || !done)
		return -EINVAL;
	if (c->lost)
		return -EPIPE;
	if (c->checking)
		return -EBUSY;
	if (!c->check_ev) {
		c->check_ev = evtimer_new(c->base, check_timeout_cb, c);
		if (!c->check_ev)
			return -ENOMEM;
	}
	c->checking = 1;
	c->check_rc = 0;
	c->check_cmd = cmd;
	c->check_done = done;
	c->check_ctx = ctx;
	c->ncheck = n;
	c->npending = n;
	for (i = 0; i < n; i++) {
		c->check[i].token = take_token(c);
		c->check[i].feature = features[i];
		c->check[i].answered = 0;
		queue_check_line(c, c->check[i].token, features[i], cmd);
	}
	evtimer_add(c->check_ev, &tv);
	if (!n) {
		/* Nothing to ask: still answered from the loop, as promised. */
		struct timeval now = {0, 0};

		evtimer_add(c->check_ev, &now);
	}
	return 0;
}

int engine_conn_check(struct engine_conn *c, const char *const *features, size_t n,
		      engine_check_fn done, void *ctx)
{
	return start_check(c, PROTO_CMD_CHECK_SUPPORT, features, n, done, ctx);
}

int engine_conn_enable(struct engine_conn *c, const char *const *exts, size_t n,
		       engine_check_fn done, void *ctx)
{
	return start_check(c, PROTO_CMD_ENABLE_EXTENSION, exts, n, done, ctx);
}

int engine_conn_client_new(struct engine_client **out, struct engine_conn *c,
			   const struct engine_client_ops *ops, void *ctx)
{
	struct engine_client *cl;
	size_t i;

	*out = NULL;
	for (i = 0; i < c->nclients && c->clients[i]; i++)
		;
	if (i == c->nclients) {
		size_t cap = c->nclients ? c->nclients * 2 : 16;
		struct engine_client **grown;

		if (cap > CLIENTS_MAX)
			return i < CLIENTS_MAX ? -ENOMEM : -EMFILE;
		grown = realloc(c->clients, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		memset(grown + c->nclients, 0, (cap - c->nclients) * sizeof(*grown));
		c->clients = grown;
		c->nclients = cap;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->conn = c;
	cl->ops = *ops;
	cl->ctx = ctx;
	cl->id = (uint32_t)i;
	cl->gen = ++c->next_gen;
	c->clients[i] = cl;
	*out = cl;
	return 0;
}

struct engine_client *engine_conn_client_free(struct engine_client *cl)
{
	if (!cl)
		return NULL;
	/* Its probes stay in the map until answered; the generation drops the answers. */
	if (cl->conn)
		cl->conn->clients[cl->id] = NULL;
	free(cl);
	return NULL;
}

size_t engine_conn_inflight(const struct engine_conn *c)
{
	return c->npend;
}

static int queue_probe(struct engine_conn *c, const struct engine_probe *p, int64_t *token)
{
	char line[PROBE_LINE_MAX];
	int len;

	if (c->lost)
		return -EPIPE;
	*token = take_token(c);
	len = engine_conn_format_probe(line, sizeof(line), *token, p);
	if (len == -ENOSPC)
		return -E2BIG;
	if (len < 0)
		return len;
	if (evbuffer_add(bufferevent_get_output(c->bev), line, (size_t)len))
		return -ENOMEM;
	return 0;
}

int engine_conn_send_probe(struct engine_client *cl, const struct engine_probe *p, uint64_t cookie)
{
	struct engine_conn *c = cl->conn;
	struct pending e;
	int64_t token;
	int rc;

	if (!c || c->lost)
		return -EPIPE;
	/* Room first: a line on the wire always has its entry. */
	if ((c->npend + 1) * 2 > c->pend_cap) {
		rc = pend_grow(c);
		if (rc)
			return rc;
	}
	rc = queue_probe(c, p, &token);
	if (rc)
		return rc;
	e.token = token;
	e.client = cl->id;
	e.gen = cl->gen;
	e.cookie = cookie;
	pend_put(c, &e);
	c->npend++;
	return 0;
}

const char *engine_conn_describe(const struct engine_conn *c)
{
	return c->desc;
}
