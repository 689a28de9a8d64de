/*
 * http: evhttp on a listening socket made here (so that errors name the address and
 * errno), with every method let through to one handler that routes by path, so that an
 * unsupported method gets 405 with Allow rather than evhttp's own 501. Replies are
 * queued in full and written by evhttp as the client reads: a slow client only holds
 * its own connection, until the timeout.
 */
#include "monitor/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/addr.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "common/numparse.h"
#include "common/text.h"
#include "monitor/metrics.h"

#define HTTP_PORT_MAX  65535
#define HTTP_TEXT_TYPE "text/plain; charset=utf-8"
#define HTTP_ALLOW     "GET, HEAD"
/* Every method evhttp parses, so that the handler answers them all. */
#define HTTP_ALL_METHODS                                                                           \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

static const char http_index[] = "hopwatch-monitor: Prometheus metrics at /metrics\n";

struct http {
	struct evhttp *evhttp;
	http_render_fn render;
	void *ctx;
	int port;
	struct http_stream_ops stream; /* next NULL: /metrics is rendered whole */
};

/* A /metrics reply sent in chunks, each rendered once the one before is on its way. */
struct stream {
	struct http *h;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	void *state; /* the renderer's */
};

static void to_sockaddr(const struct addr *a, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		*sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->u.v6;
		*sl = sizeof(*sin6);
	}
}

/* Split "ADDR:PORT" / "[ADDR]:PORT" into a socket address. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, char *err,
			size_t errlen)
{
	char buf[HTTP_LISTEN_MAX + 1], shown[HTTP_LISTEN_MAX + 1];
	char *host, *port;
	struct addr a;
	int64_t p;
	int want;

	if (!spec || !*spec) {
		errmsg_set(err, errlen, "listen address is empty (want ADDR:PORT)");
		return -EINVAL;
	}
	text_clean(shown, sizeof(shown), spec, strlen(spec));
	if (strlen(spec) > HTTP_LISTEN_MAX) {
		errmsg_set(err, errlen, "listen address \"%s...\" is too long", shown);
		return -EINVAL;
	}
	strcpy(buf, spec);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || close[1] != ':') {
			errmsg_set(err, errlen, "listen address \"%s\": want [IPV6]:PORT", shown);
			return -EINVAL;
		}
		*close = '\0';
		host = buf + 1;
		port = close + 2;
		want = AF_INET6;
	} else {
		char *colon = strrchr(buf, ':');

		if (!colon) {
			errmsg_set(err, errlen, "listen address \"%s\": missing :PORT", shown);
			return -EINVAL;
		}
		if (strchr(buf, ':') != colon) {
			errmsg_set(err, errlen,
				   "listen address \"%s\": an IPv6 address goes in brackets, "
				   "[ADDR]:PORT",
				   shown);
			return -EINVAL;
		}
		*colon = '\0';
		host = buf;
		port = colon + 1;
		want = AF_INET;
	}
	if (!*port) {
		errmsg_set(err, errlen, "listen address \"%s\": missing port", shown);
		return -EINVAL;
	}
	if (numparse_i64_str(port, 0, HTTP_PORT_MAX, &p) < 0) {
		errmsg_set(err, errlen, "listen address \"%s\": bad port (0..%d)", shown,
			   HTTP_PORT_MAX);
		return -EINVAL;
	}
	if (addr_parse(host, &a) < 0 || a.family != want) {
		errmsg_set(err, errlen, "listen address \"%s\": not a numeric IP%s address", shown,
			   want == AF_INET ? "v4" : "v6");
		return -EINVAL;
	}
	to_sockaddr(&a, (uint16_t)p, ss, sl);
	return 0;
}

/* A bound, listening, non-blocking socket; its port in *port. */
static int open_listener(const char *spec, int *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, rc, fd;

	rc = parse_listen(spec, &ss, &sl, err, errlen);
	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "listen %s: socket: %s", spec, strerror(-rc));
		return rc;
	}
	/* A restarted monitor must get its port back while old connections linger. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, HTTP_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "listen %s: %s", spec, strerror(-rc));
		close(fd);
		return rc;
	}
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Send body (consumed) with code; a HEAD gets the headers and the length only. */
static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char len[32];

		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *body = evbuffer_new();

	if (!body || evbuffer_add(body, text, strlen(text)) < 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	} else {
		reply(req, code, reason, HTTP_TEXT_TYPE, body);
	}
	if (body)
		evbuffer_free(body);
}

static void stream_free(struct stream *st)
{
	if (st->conn)
		evhttp_connection_set_closecb(st->conn, NULL, NULL);
	if (st->h->stream.free_state)
		st->h->stream.free_state(st->h->ctx, st->state);
	free(st);
}

/* The client went away mid-stream: the rest is never rendered. */
static void stream_closed(struct evhttp_connection *conn, void *arg)
{
	struct stream *st = arg;

	(void)conn;
	st->conn = NULL;
	stream_free(st);
}

static void stream_next(struct evhttp_connection *conn, void *arg)
{
	struct stream *st = arg;
	struct evbuffer *part = evbuffer_new();
	int rc = part ? st->h->stream.next(st->h->ctx, &st->state, part) : -ENOMEM;

	(void)conn;
	if (rc > 0) {
		evhttp_send_reply_chunk_with_cb(st->req, part, stream_next, st);
		evbuffer_free(part);
		return;
	}
	/*
	 * Done, or the renderer failed halfway (out of memory, a reload changed the targets):
	 * what was sent ends at a family's boundary, so it still parses.
	 */
	if (rc == 0 && evbuffer_get_length(part))
		evhttp_send_reply_chunk(st->req, part);
	if (rc < 0)
		log_debug("metrics stream ended early: %s", strerror(-rc));
	if (part)
		evbuffer_free(part);
	evhttp_send_reply_end(st->req);
	stream_free(st);
}

static void serve_stream(struct http *h, struct evhttp_request *req)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct evbuffer *part = evbuffer_new();
	int rc;

	if (!st || !part) {
		free(st);
		if (part)
			evbuffer_free(part);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	st->h = h;
	st->req = req;
	rc = h->stream.next(h->ctx, &st->state, part);
	if (rc <= 0) {
		/* All of it in one part (or nothing): an ordinary reply with its length. */
		if (rc < 0)
			reply_text(req, HTTP_INTERNAL, "Internal Server Error",
				   "the metrics could not be rendered\n");
		else
			reply(req, HTTP_OK, "OK", METRICS_CONTENT_TYPE, part);
		evbuffer_free(part);
		st->conn = NULL;
		stream_free(st);
		return;
	}
	st->conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(st->conn, stream_closed, st);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  METRICS_CONTENT_TYPE);
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	evhttp_send_reply_chunk_with_cb(req, part, stream_next, st);
	evbuffer_free(part);
}

static void serve_metrics(struct http *h, struct evhttp_request *req)
{
	struct evbuffer *body;

	/* A HEAD wants the length, which only the whole body gives. */
	if (h->stream.next && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		serve_stream(h, req);
		return;
	}
	body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (h->render(h->ctx, body) < 0) {
		evbuffer_free(body);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error",
			   "the metrics could not be rendered\n");
		return;
	}
	reply(req, HTTP_OK, "OK", METRICS_CONTENT_TYPE, body);
	evbuffer_free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int is_metrics = path && !strcmp(path, "/metrics");
	int is_index = path && (!strcmp(path, "/") || !*path);

	if (!is_metrics && !is_index) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "not found; metrics are at /metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", HTTP_ALLOW);
		reply_text(req, HTTP_BADMETHOD, "Method Not Allowed",
			   "method not allowed; use GET or HEAD\n");
		return;
	}
	if (is_metrics)
		serve_metrics(h, req);
	else
		reply_text(req, HTTP_OK, "OK", http_index);
}

int http_new(struct http **out, struct event_base *base, const char *listen, http_render_fn render,
	     void *ctx, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = HTTP_TIMEOUT_S};
	struct http *h;
	int fd;

	*out = NULL;
	if (!base || !render) {
		errmsg_set(err, errlen, "http: no event base or render callback");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errmsg_set(err, errlen, "http: out of memory");
		return -ENOMEM;
	}
	h->render = render;
	h->ctx = ctx;
	fd = open_listener(listen, &h->port, err, errlen);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->evhttp = evhttp_new(base);
	if (!h->evhttp || !evhttp_accept_socket_with_handle(h->evhttp, fd)) {
		errmsg_set(err, errlen, "listen %s: evhttp could not take the socket", listen);
		close(fd);
		http_free(h);
		return -ENOMEM;
	}
	evhttp_set_max_headers_size(h->evhttp, HTTP_MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(h->evhttp, HTTP_MAX_BODY_SIZE);
	evhttp_set_timeout_tv(h->evhttp, &tv);
	evhttp_set_allowed_methods(h->evhttp, HTTP_ALL_METHODS);
	evhttp_set_gencb(h->evhttp, on_request, h);
	*out = h;
	return 0;
}

int http_port(const struct http *h)
{
	return h ? h->port : 0;
}

void http_set_stream(struct http *h, const struct http_stream_ops *ops)
{
	if (ops)
		h->stream = *ops;
	else
		memset(&h->stream, 0, sizeof(h->stream));
}

struct http *http_free(struct http *h)
{
	if (!h)
		return NULL;
	if (h->evhttp)
		evhttp_free(h->evhttp);
	free(h);
	return NULL;
}
