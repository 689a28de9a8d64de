/*
 * http: the monitor's tiny metrics server on the caller's event base (libevent evhttp).
 * Owns its listening socket and connections; serves GET/HEAD /metrics from a render
 * callback and a pointer page at /. Never blocks the loop and never runs it.
 */
#ifndef HOPWATCH_MONITOR_HTTP_H
#define HOPWATCH_MONITOR_HTTP_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct http;

/* Limits of one connection: requests carry no body, so both sizes are small. */
#define HTTP_MAX_HEADERS_SIZE 8192
#define HTTP_MAX_BODY_SIZE    1024
/* Seconds a connection may stay idle (reading a request or writing a reply). */
#define HTTP_TIMEOUT_S 10
/* Pending connections the kernel holds before accept. */
#define HTTP_BACKLOG 64
/* Longest listen spec accepted ("[v6 address]:port"). */
#define HTTP_LISTEN_MAX 64

/* Fill out with the /metrics body; 0, or -errno for a 500 reply. */
typedef int (*http_render_fn)(void *ctx, struct evbuffer *out);

/*
 * Listen on listen, "ADDR:PORT" with a numeric address: "127.0.0.1:9101", "[::1]:9101";
 * port 0 picks a free one (see http_port). render is called for every /metrics request.
 * Returns 0, -EINVAL for a bad spec, or -errno of the socket, with a one-line err.
 */
int http_new(struct http **out, struct event_base *base, const char *listen, http_render_fn render,
	     void *ctx, char *err, size_t errlen);
/*
 * A /metrics too large to hold at once goes out in chunks: next appends the next part to
 * out and returns 1 while more follow, 0 with the last, -errno to stop (the reply then ends
 * where it is). *state starts NULL and is the renderer's; free_state gets it when the
 * reply is over or the client is gone. A GET answered in one part is an ordinary reply;
 * HEAD uses the whole-body render.
 */
struct http_stream_ops {
	int (*next)(void *ctx, void **state, struct evbuffer *out);
	void (*free_state)(void *ctx, void *state);
};
/* Stream /metrics from now on (ops copied); NULL goes back to whole bodies. */
void http_set_stream(struct http *h, const struct http_stream_ops *ops);

/* The bound port. */
int http_port(const struct http *h);
/* Closes the listener and every connection. NULL-safe; returns NULL. */
struct http *http_free(struct http *h);

#endif
