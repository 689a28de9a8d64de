/*
 * session: command streams. Reply lines are formatted straight into the session's
 * output buffer and flushed once per event: sessions that got output are put on the
 * hub's "dirty" list, and session_hub_flush writes them at the end of each event
 * callback. A session whose reader is slow stops being read (its probes still
 * complete); lines already read wait while its unsent output is over the bound. Nothing
 * ever blocks on a full pipe. A client that goes away has its probes in flight forgotten
 * at once (the engine frees their slots), and a client idle too long is closed.
 */
#include "daemon/session.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/quota.h"

/* The line a refused or closed client gets before its connection ends. */
#define SESSION_REFUSE_FMT "0 unexpected-error reason %s\n"
/* Input of a refused client read (and dropped) per read() before its connection closes. */
#define SESSION_REFUSE_DRAIN 4096
#define SESSION_REFUSE_READS 16 /* a client that keeps writing is not waited for */

struct session_hub {
	struct event_base *base;
	const struct session_ops *ops;
	void *ctx;
	struct session *sessions; /* every client session, open or closed */
	struct session *dirty;	  /* sessions with output or to reap; see session_hub_flush */
	uint32_t nclients;	  /* open connections */
	uint32_t idle_ms;	  /* close idle clients after this long, 0 = never */
	size_t outbytes;	  /* unsent output of every session */
};

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

static size_t session_pending(const struct session *s)
{
	return s->outlen - s->outoff;
}

/* Too much unsent output to take another command line (see SESSION_HUB_OUT_MAX). */
static int session_over(const struct session *s)
{
	size_t pending = session_pending(s);

	return pending > SESSION_OUT_HWM ||
	       (pending > SESSION_OUT_LWM && s->hub->outbytes > SESSION_HUB_OUT_MAX);
}

static void session_update_reading(struct session *s)
{
	size_t pending = session_pending(s);
	int want = !s->eof && !s->dead && !s->stalled;

	if (s->closed)
		return;
	if (want && s->reading && pending > SESSION_OUT_HWM)
		want = 0;
	else if (want && !s->reading && pending > SESSION_OUT_LWM)
		want = 0;
	if (want && !s->reading) {
		event_add(s->ev_in, NULL);
		s->reading = 1;
	} else if (!want && s->reading) {
		event_del(s->ev_in);
		s->reading = 0;
	}
}

/* Remember s for session_hub_flush (output to write, or a closed session to reap). */
void session_touch(struct session *s)
{
	if (!s->dirty) {
		s->dirty = 1;
		s->dirty_next = s->hub->dirty;
		s->hub->dirty = s;
	}
}

/*
 * End a client's connection now. The struct stays (closed) while probes in flight point
 * at it; their answers are dropped in session_begin.
 */
static void session_close(struct session *s, const char *why)
{
	struct session_hub *h = s->hub;

	if (s->inflight)
		log_info("client uid %u pid %d disconnected (%s), dropping the answers to %u "
			 "probes in flight and freeing their slots",
			 (unsigned)s->user->uid, (int)s->pid, why, s->inflight);
	else
		log_info("client uid %u pid %d disconnected (%s)", (unsigned)s->user->uid,
			 (int)s->pid, why);
	event_free(s->ev_in);
	event_free(s->ev_out);
	if (s->ev_idle)
		event_free(s->ev_idle);
	s->ev_in = s->ev_out = s->ev_idle = NULL;
	s->reading = s->writing = 0;
	close(s->in_fd);
	s->in_fd = s->out_fd = -1;
	h->outbytes -= session_pending(s);
	free(s->out);
	s->out = NULL;
	s->outlen = s->outoff = s->outcap = 0;
	free(s->inbuf);
	s->inbuf = NULL;
	s->inlen = 0;
	s->closed = 1;
	s->dead = 1;
	s->stalled = 0;
	h->nclients--;
	/* Nobody reads the answers now: the probes' slots go back to everyone at once. */
	if (s->inflight)
		h->ops->closed(h->ctx, s);
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
	s->hub->ops->fatal(s->hub->ctx, err);
}

static void session_resume(struct session *s);

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
		s->hub->outbytes -= (size_t)n;
	}
	if (s->outoff == s->outlen) {
		s->outoff = s->outlen = 0;
		/* A burst's big buffer goes back to the system once it is written. */
		if (s->outcap > SESSION_OUTBUF_INITIAL) {
			free(s->out);
			s->out = NULL;
			s->outcap = 0;
		}
		if (s->writing) {
			event_del(s->ev_out);
			s->writing = 0;
		}
	} else if (!s->writing) {
		event_add(s->ev_out, NULL);
		s->writing = 1;
	}
	if (s->stalled && !s->dead && session_pending(s) <= SESSION_OUT_LWM)
		session_resume(s);
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
		cap = s->outcap ? s->outcap : SESSION_OUTBUF_INITIAL;
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

void session_emit(struct session *s, struct proto_writer *w)
{
	int len = proto_write_end(w);

	if (len < 0) {
		log_warnx("reply line did not fit; dropped");
		return;
	}
	s->outlen += (size_t)len;
	s->hub->outbytes += (size_t)len;
}

/* Start a reply line directly in the session's output buffer. */
int session_begin(struct session *s, struct proto_writer *w, int64_t token, enum proto_reply reply)
{
	char *at;

	if (s->closed)
		return -EPIPE; /* the client left: its answers go nowhere */
	at = session_reserve(s, SESSION_REPLY_MAX);
	if (!at) {
		session_fail(s, -ENOMEM);
		return -ENOMEM;
	}
	proto_writer_init(w, at, SESSION_REPLY_MAX);
	proto_write_head(w, token, reply);
	return 0;
}

void session_simple(struct session *s, int64_t token, enum proto_reply reply)
{
	struct proto_writer w;

	if (session_begin(s, &w, token, reply) == 0)
		session_emit(s, &w);
}

void session_invalid(struct session *s, int64_t token, const char *reason)
{
	struct proto_writer w;

	if (session_begin(s, &w, token, PROTO_REPLY_INVALID_ARGUMENT) < 0)
		return;
	if (reason)
		proto_write_str(&w, PROTO_ARG_REASON, reason);
	session_emit(s, &w);
}

/* Consume every complete line in the input buffer. */
static void session_lines(struct session *s)
{
	size_t start = 0, i;

	for (i = 0; i < s->inlen && !s->dead; i++) {
		const char *nl;

		/* Checked per line: one read may hold thousands, each with its reply. */
		if (session_over(s)) {
			s->stalled = 1;
			break;
		}
		nl = memchr(s->inbuf + i, '\n', s->inlen - i);
		if (!nl)
			break;
		i = (size_t)(nl - s->inbuf);
		if (s->discarding)
			s->discarding = 0;
		else if (i - start >= PROTO_LINE_MAX - 1)
			session_simple(s, 0, PROTO_REPLY_COMMAND_BUFFER_OVERFLOW);
		else
			s->hub->ops->line(s->hub->ctx, s, s->inbuf + start, i - start);
		start = i + 1;
	}
	if (s->closed)
		return; /* failed on the way (out of memory): its buffers are gone */
	if (start > 0) {
		memmove(s->inbuf, s->inbuf + start, s->inlen - start);
		s->inlen -= start;
	}
	/* A line longer than the protocol allows: say so once, drop it up to its newline. */
	if (!s->stalled && s->inlen >= PROTO_LINE_MAX - 1) {
		if (!s->discarding)
			session_simple(s, 0, PROTO_REPLY_COMMAND_BUFFER_OVERFLOW);
		s->discarding = 1;
		s->inlen = 0;
	}
}

/*
 * After end of input: did the client close its connection (both directions shut), or
 * only its sending side, still waiting for answers?
 */
static int peer_gone(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

/* The output drained: take the lines that waited, and look again at what comes after. */
static void session_resume(struct session *s)
{
	struct session_hub *h = s->hub;

	s->stalled = 0;
	h->ops->batch(h->ctx);
	session_lines(s);
	session_touch(s);
}

static void session_arm_idle(struct session *s)
{
	struct timeval tv;

	if (!s->ev_idle)
		return;
	tv = clock_tv_of_us((int64_t)s->hub->idle_ms * 1000);
	evtimer_add(s->ev_idle, &tv);
}

/*
 * No input for the idle time. A client waiting for answers is not idle; one that neither
 * sends nor has a probe out is told why and closed, whatever it left unread.
 */
static void session_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct session_hub *h = s->hub;
	char line[64];
	int n;

	if (s->closed)
		return;
	if (s->inflight > 0) {
		session_arm_idle(s);
		return;
	}
	if (session_pending(s) == 0) {
		n = snprintf(line, sizeof(line), SESSION_REFUSE_FMT, "idle-timeout");
		if (write(s->out_fd, line, (size_t)n) < 0)
			log_debug("telling an idle client: %s", strerror(errno));
	}
	session_close(s, "idle");
	session_touch(s);
	session_hub_flush(h);
}

static void session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct session_hub *h = s->hub;
	ssize_t n;

	session_arm_idle(s);
	n = read(s->in_fd, s->inbuf + s->inlen, SESSION_INBUF - s->inlen);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (s->client) {
			session_fail(s, -errno);
			session_hub_flush(h);
			return;
		}
		log_warn("reading commands");
		n = 0;
	}
	if (n == 0) {
		s->eof = 1;
		if (s->client && peer_gone(s->in_fd)) {
			/* Gone, not just done sending: nobody will read the answers. */
			session_close(s, "closed");
			session_touch(s);
			session_hub_flush(h);
			return;
		}
		/* A last line without its newline still counts. */
		if (s->inlen > 0 && !s->discarding && s->inlen < SESSION_INBUF) {
			h->ops->batch(h->ctx);
			s->inbuf[s->inlen++] = '\n';
			session_lines(s);
		}
		session_update_reading(s);
		session_touch(s);
		session_hub_flush(h);
		h->ops->settled(h->ctx);
		return;
	}
	s->inlen += (size_t)n;
	h->ops->batch(h->ctx);
	session_lines(s);
	session_touch(s);
	session_hub_flush(h);
}

static void session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct session_hub *h = s->hub;

	session_touch(s);
	session_hub_flush(h);
	h->ops->settled(h->ctx);
}

struct session *session_free(struct session *s)
{
	if (!s)
		return NULL;
	if (s->ev_out)
		event_free(s->ev_out);
	if (s->ev_in)
		event_free(s->ev_in);
	if (s->ev_idle)
		event_free(s->ev_idle);
	s->hub->outbytes -= session_pending(s);
	free(s->out);
	free(s->inbuf);
	free(s);
	return NULL;
}

int session_new(struct session **out, struct session_hub *h, int in_fd, int out_fd)
{
	struct session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->hub = h;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->inbuf = malloc(SESSION_INBUF);
	if (!s->inbuf) {
		free(s);
		return -ENOMEM;
	}
	if ((err = prepare_fd(in_fd)) < 0 || (err = prepare_fd(out_fd)) < 0) {
		session_free(s);
		return err;
	}
	s->ev_in = event_new(h->base, in_fd, EV_READ | EV_PERSIST, session_read_cb, s);
	s->ev_out = event_new(h->base, out_fd, EV_WRITE | EV_PERSIST, session_write_cb, s);
	if (!s->ev_in || !s->ev_out) {
		session_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

/* Unlink and free a client session (closed, or the engine is going away). */
static void session_destroy(struct session *s)
{
	struct session_hub *h = s->hub;

	if (!s->closed) {
		event_free(s->ev_in);
		event_free(s->ev_out);
		s->ev_in = s->ev_out = NULL;
		close(s->in_fd);
		h->nclients--;
	}
	/* Not through session_close: the engine (and its probes) may be going away. */
	if (s->prev)
		s->prev->next = s->next;
	else
		h->sessions = s->next;
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
	if (!s->closed && session_idle(s))
		session_close(s, "end of input");
	if (s->closed && s->inflight == 0)
		session_destroy(s);
}

/* Write out (and reap) every session that was touched since the last call. */
void session_hub_flush(struct session_hub *h)
{
	struct session *s;

	while ((s = h->dirty)) {
		h->dirty = s->dirty_next;
		s->dirty = 0;
		session_flush(s);
		session_maybe_end(s);
	}
}

int session_idle(const struct session *s)
{
	return s->eof && !s->stalled && s->inflight == 0 && s->outoff == s->outlen;
}

void session_refuse(int fd, const char *reason)
{
	char line[128];
	int n = snprintf(line, sizeof(line), SESSION_REFUSE_FMT, reason);

	char sink[SESSION_REFUSE_DRAIN];
	int i;

	if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0)
		log_debug("telling a refused client: %s", strerror(errno));
	/*
	 * Closing a UNIX socket with unread input resets the peer, whose next write may then
	 * fail before it reads our line: take what it sent already.
	 */
	for (i = 0; i < SESSION_REFUSE_READS && read(fd, sink, sizeof(sink)) > 0; i++)
		;
}

void session_start(struct session *s)
{
	session_update_reading(s);
}

int session_accept(struct session_hub *h, int fd, struct quota_user *u, pid_t pid)
{
	struct session *s;
	int err;

	err = session_new(&s, h, fd, fd);
	if (err < 0)
		return err;
	s->client = 1;
	s->user = u;
	s->pid = pid;
	if (h->idle_ms) {
		s->ev_idle = evtimer_new(h->base, session_idle_cb, s);
		if (!s->ev_idle) {
			/* fd stays the caller's: only the session goes. */
			s->in_fd = s->out_fd = -1;
			session_free(s);
			return -ENOMEM;
		}
		session_arm_idle(s);
	}
	quota_hold(u);
	s->next = h->sessions;
	if (h->sessions)
		h->sessions->prev = s;
	h->sessions = s;
	h->nclients++;
	session_update_reading(s);
	return 0;
}

int session_hub_new(struct session_hub **out, struct event_base *base,
		    const struct session_ops *ops, void *ctx)
{
	struct session_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->base = base;
	h->ops = ops;
	h->ctx = ctx;
	*out = h;
	return 0;
}

struct session_hub *session_hub_free(struct session_hub *h)
{
	if (!h)
		return NULL;
	while (h->sessions)
		session_destroy(h->sessions);
	free(h);
	return NULL;
}

uint32_t session_hub_clients(const struct session_hub *h)
{
	return h->nclients;
}

void session_hub_set_idle(struct session_hub *h, uint32_t idle_ms)
{
	h->idle_ms = idle_ms;
}

size_t session_hub_output(const struct session_hub *h)
{
	return h->outbytes;
}
