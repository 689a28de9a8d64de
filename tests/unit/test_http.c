/*
 * test_http: the metrics server on 127.0.0.1 port 0 inside the test's own loop, fetched
 * with a plain socket: /metrics (GET and HEAD), /, 404, 405, a failing render's 500, an
 * idle client that does not hold up others; bad listen specs are refused with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "monitor/http.h"
#include "monitor/metrics.h"

#define REPLY_MAX (256 * 1024)
#define SAFETY_S  5

struct fixture {
	struct event_base *base;
	struct http *http;
	int fail; /* the render callback fails */
	int renders;
	void *http_parts; /* test_stream_in_chunks' struct parts */
};

struct client {
	struct fixture *f;
	char buf[REPLY_MAX];
	size_t len;
	int done;
};

static int render(void *ctx, struct evbuffer *out)
{
	struct fixture *f = ctx;
	struct metrics_hop hop = {.ttl = 1, .sent = 3, .received = 2, .window_loss_ratio = 0.5};
	struct metrics_target t = {.name = "t", .hops = &hop, .nhops = 1};
	struct metrics_health h = {.engine_up = 1};

	f->renders++;
	if (f->fail)
		return -EIO;
	return metrics_render(out, &t, 1, &h, 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256] = "";

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	if (http_new(&f->http, f->base, "127.0.0.1:0", render, f, err, sizeof(err)) != 0)
		fail_msg("http_new: %s", err);
	assert_true(http_port(f->http) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_null(http_free(f->http));
	event_base_free(f->base);
	free(f);
	return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	(void)what;
	if (n > 0) {
		c->len += (size_t)n;
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	c->done = 1;
	event_base_loopbreak(c->f->base);
}

static int connect_loopback(struct fixture *f)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)http_port(f->http))};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The kernel completes a loopback connect against the listen backlog by itself. */
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Send request, run the loop until the server closes; the reply, NUL-terminated. */
static struct client *fetch(struct fixture *f, const char *request)
{
	struct client *c = calloc(1, sizeof(*c));
	struct timeval safety = {.tv_sec = SAFETY_S};
	int fd = connect_loopback(f);
	struct event *ev;

	assert_non_null(c);
	c->f = f;
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	ev = event_new(f->base, fd, EV_READ | EV_PERSIST, on_read, c);
	assert_non_null(ev);
	assert_int_equal(event_add(ev, NULL), 0);
	event_base_loopexit(f->base, &safety);
	event_base_dispatch(f->base);
	event_free(ev);
	close(fd);
	assert_true(c->done);
	c->buf[c->len] = '\0';
	return c;
}

static const char *body_of(const struct client *c)
{
	const char *p = strstr(c->buf, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

/* The value of header name (case as evhttp writes it), or NULL. */
static int header_is(const struct client *c, const char *name, const char *value)
{
	char line[512];
	const char *end = strstr(c->buf, "\r\n\r\n");
	const char *p;

	snprintf(line, sizeof(line), "\r\n%s: %s\r\n", name, value);
	p = strstr(c->buf, line);
	return p && p < end;
}

static void test_metrics_get(void **state)
{
	struct fixture *f = *state;
	struct client *c =
		fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	struct evbuffer *want = evbuffer_new();
	char len[32];

	assert_int_equal(strncmp(c->buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_true(header_is(c, "Content-Type", METRICS_CONTENT_TYPE));
	assert_int_equal(render(f, want), 0);
	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(want));
	assert_true(header_is(c, "Content-Length", len));
	evbuffer_add(want, "", 1);
	assert_string_equal(body_of(c), (const char *)evbuffer_pullup(want, -1));
	assert_non_null(
		strstr(body_of(c), "hopwatch_hop_probes_sent_total{target=\"t\",hop=\"1\"} 3\n"));
	evbuffer_free(want);
	free(c);
}

static void test_metrics_head(void **state)
{
	struct fixture *f = *state;
	struct client *c =
		fetch(f, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	struct evbuffer *want = evbuffer_new();
	char len[32];

	assert_int_equal(strncmp(c->buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_true(header_is(c, "Content-Type", METRICS_CONTENT_TYPE));
	assert_int_equal(render(f, want), 0);
	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(want));
	assert_true(header_is(c, "Content-Length", len));
	assert_string_equal(body_of(c), "");
	evbuffer_free(want);
	free(c);
}

static void test_index_404_405(void **state)
{
	struct fixture *f = *state;
	struct client *c;

	c = fetch(f, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_true(header_is(c, "Content-Type", "text/plain; charset=utf-8"));
	assert_non_null(strstr(body_of(c), "/metrics"));
	free(c);

	c = fetch(f, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	assert_non_null(strstr(body_of(c), "/metrics"));
	free(c);

	/* A query string does not change the path. */
	c = fetch(f, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.0 200 OK\r\n", 17), 0);
	free(c);

	c = fetch(f, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Length: 2\r\n\r\nhi");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 405 Method Not Allowed\r\n", 33), 0);
	assert_true(header_is(c, "Allow", "GET, HEAD"));
	free(c);

	c = fetch(f, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 405 ", 13), 0);
	free(c);
}

static void test_render_error_500(void **state)
{
	struct fixture *f = *state;
	struct client *c;

	f->fail = 1;
	c = fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 500 ", 13), 0);
	assert_false(header_is(c, "Content-Type", METRICS_CONTENT_TYPE));
	free(c);
}

static void test_idle_client_does_not_block(void **state)
{
	struct fixture *f = *state;
	int idle = connect_loopback(f);
	struct client *c;

	/* Half a request from one client, then a whole one from another. */
	assert_int_equal(write(idle, "GET /met", 8), 8);
	c = fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(c->buf, "HTTP/1.1 200 OK\r\n", 17), 0);
	free(c);
	close(idle);
}

static void test_oversized_headers_refused(void **state)
{
	struct fixture *f = *state;
	size_t n = HTTP_MAX_HEADERS_SIZE * 2;
	char *req = malloc(n + 64);
	struct client *c;

	assert_non_null(req);
	strcpy(req, "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(req + strlen(req), 'a', n);
	strcpy(req + strlen("GET /metrics HTTP/1.1\r\nX-Pad: ") + n, "\r\n\r\n");
	c = fetch(f, req);
	/* evhttp answers 431/400 or just closes: never the metrics. */
	assert_null(strstr(c->buf, "200 OK"));
	free(c);
	free(req);
	assert_int_equal(f->renders, 0);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"",	      "127.0.0.1",  "127.0.0.1:",    "localhost:9101", "::1:9101",
		"[::1]9101",  "[::1]",	    "[127.0.0.1]:1", "[::1:9101",      "1.2.3.4:70000",
		"1.2.3.4:-1", "1.2.3.4:9x", "300.1.1.1:80",
	};
	struct event_base *base = event_base_new();
	struct http *h = (struct http *)1;
	char err[256];

	(void)state;
	assert_non_null(base);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(http_new(&h, base, bad[i], render, NULL, err, sizeof(err)),
				 -EINVAL);
		assert_null(h);
		assert_true(strlen(err) > 0);
		assert_null(strchr(err, '\n'));
		print_message("\"%s\": %s\n", bad[i], err);
	}
	assert_int_equal(http_new(&h, base, NULL, render, NULL, err, sizeof(err)), -EINVAL);
	assert_null(http_free(NULL));
	event_base_free(base);
}

static void test_ipv6_and_busy_port(void **state)
{
	struct fixture *f = *state;
	struct http *h = NULL;
	char spec[64], err[256] = "";
	int rc;

	/* The port the fixture holds is taken: the error names it and errno. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", http_port(f->http));
	assert_int_equal(http_new(&h, f->base, spec, render, f, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, spec));
	rc = http_new(&h, f->base, "[::1]:0", render, f, err, sizeof(err));
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
		print_message("no IPv6 loopback here: %s\n", err);
		return;
	}
	assert_int_equal(rc, 0);
	assert_true(http_port(h) > 0);
	http_free(h);
}

/* A streamed exposition: "part 0\n" .. "part N-1\n", one part per call. */
struct parts {
	int n, made, freed, fail_at;
};

static int parts_next(void *ctx, void **state, struct evbuffer *out)
{
	struct fixture *f = ctx;
	struct parts *p = (struct parts *)(void *)f->http_parts;
	intptr_t i = (intptr_t)*state;

	if (p->fail_at && i == p->fail_at)
		return -ESTALE;
	evbuffer_add_printf(out, "part %d\n", (int)i);
	p->made++;
	*state = (void *)(i + 1);
	return i + 1 < p->n ? 1 : 0;
}

static void parts_free(void *ctx, void *state)
{
	struct fixture *f = ctx;

	(void)state;
	((struct parts *)(void *)f->http_parts)->freed++;
}

/* The body of a chunked reply, decoded. */
static void dechunk(const char *body, char *out, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char *end;
		unsigned long len = strtoul(body, &end, 16);

		assert_true(end != body);
		body = strstr(end, "\r\n") + 2;
		if (!len)
			break;
		assert_true(n + len < cap);
		memcpy(out + n, body, len);
		n += len;
		body += len + 2;
	}
	out[n] = '\0';
}

static void test_stream_in_chunks(void **state)
{
	struct fixture *f = *state;
	const struct http_stream_ops ops = {.next = parts_next, .free_state = parts_free};
	struct parts p = {.n = 5};
	struct client *c;
	char body[256];

	f->http_parts = &p;
	http_set_stream(f->http, &ops);
	c = fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(c->buf, "HTTP/1.1 200 OK\r\n"));
	assert_true(header_is(c, "Transfer-Encoding", "chunked"));
	assert_true(header_is(c, "Content-Type", METRICS_CONTENT_TYPE));
	dechunk(body_of(c), body, sizeof(body));
	assert_string_equal(body, "part 0\npart 1\npart 2\npart 3\npart 4\n");
	assert_int_equal(p.made, 5);
	assert_int_equal(p.freed, 1);
	free(c);
	/* One part only: an ordinary reply with its length. */
	p = (struct parts){.n = 1};
	c = fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(header_is(c, "Content-Length", "7"));
	assert_string_equal(body_of(c), "part 0\n");
	assert_int_equal(p.freed, 1);
	free(c);
	/* A renderer that stops halfway: the reply ends where it is, the state is freed. */
	p = (struct parts){.n = 5, .fail_at = 3};
	c = fetch(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	dechunk(body_of(c), body, sizeof(body));
	assert_string_equal(body, "part 0\npart 1\npart 2\n");
	assert_int_equal(p.freed, 1);
	free(c);
	/* HEAD still gets the whole-body length. */
	c = fetch(f, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(c->buf, "Content-Length: "));
	free(c);
	http_set_stream(f->http, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_in_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_404_405, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_error_500, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_client_does_not_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_headers_refused, setup, teardown),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test_setup_teardown(test_ipv6_and_busy_port, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
