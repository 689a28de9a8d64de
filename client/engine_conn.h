/*
 * engine_conn: the client's line to a packet engine, either a hopwatchd spawned over a
 * pipe or a shared daemon's UNIX socket. Owns the connection, the token space, the
 * line framing and the start-up feature check. Never schedules probes and never keeps
 * statistics: each answer goes to one callback, keyed by the token it returned.
 */
#ifndef HOPWATCH_CLIENT_ENGINE_CONN_H
#define HOPWATCH_CLIENT_ENGINE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "client/stats.h"
#include "proto/proto.h"

struct event_base;
struct engine_conn;

/* Where a shared daemon listens by default. */
#define ENGINE_CONN_DEFAULT_SOCKET "/run/hopwatch/engine.sock"
/* Name of the engine program looked up next to the client and on PATH. */
#define ENGINE_CONN_PROGRAM "hopwatchd"
/* How long the engine gets to answer the start-up checks. */
#define ENGINE_CONN_CHECK_TIMEOUT_MS 5000
/* Longest error line handed back. */
#define ENGINE_CONN_ERR_MAX 512

struct engine_probe {
	struct stats_addr dst;
	enum proto_protocol protocol;
	int ttl;	/* 1..255 */
	int size;	/* bytes, 0 = engine default */
	int bitpattern; /* 0..255 */
	int tos;
	int port;	    /* 0 = engine default */
	int local_port;	    /* 0 = engine's choice */
	const char *src;    /* numeric source address, NULL = routing decides */
	const char *device; /* NULL = routing decides */
	int has_mark;
	uint32_t mark;
	int timeout_s; /* 0 = engine default */
};

struct engine_result {
	enum proto_reply reply;
	struct stats_addr from; /* family 0 when the reply has no address */
	int64_t rtt_us;		/* -1 when absent */
	size_t nmpls;
	struct stats_mpls mpls[STATS_MPLS_MAX];
};

/* One answer to the probe with this token. */
typedef void (*engine_result_fn)(void *ctx, int64_t token, const struct engine_result *r);
/* The engine went away (EOF, read error, or it sent garbage); err is one line. */
typedef void (*engine_lost_fn)(void *ctx, const char *err);

/*
 * Open a connection. spec: "unix:PATH" for a shared daemon, a program path to spawn,
 * or NULL for the default search: $HOPWATCH_ENGINE, then ENGINE_CONN_DEFAULT_SOCKET,
 * then hopwatchd next to self_exe (the client's own path, may be NULL), then on PATH.
 * Returns 0 or -errno with err set to one line.
 */
int engine_conn_open(struct engine_conn **out, struct event_base *base, const char *spec,
		     const char *self_exe, char *err, size_t errlen);
struct engine_conn *engine_conn_free(struct engine_conn *c);

void engine_conn_set_handlers(struct engine_conn *c, engine_result_fn on_result,
			      engine_lost_fn on_lost, void *ctx);

/*
 * Ask the engine about each feature (check-support) and wait, running the event base,
 * until all are answered "ok" or ENGINE_CONN_CHECK_TIMEOUT_MS passes. Returns 0,
 * -ENOTSUP when a feature is missing, -EPIPE when the engine died, -ETIMEDOUT; err holds
 * one line (including the engine's own last error line when it exited).
 */
int engine_conn_check(struct engine_conn *c, const char *const *features, size_t n, char *err,
		      size_t errlen);

/* Queue one send-probe line; *token gets its token. 0 or -errno. */
int engine_conn_send_probe(struct engine_conn *c, const struct engine_probe *p, int64_t *token);
/*
 * The send-probe line engine_conn_send_probe() queues, through the protocol's command
 * writer: arguments in a fixed order, each optional one left out at its default. Pure.
 * Returns the length (newline included, no NUL written), -ENOSPC when cap is too small,
 * -EINVAL for a value the protocol table refuses.
 */
int engine_conn_format_probe(char *buf, size_t cap, int64_t token, const struct engine_probe *p);

/* A short description of the engine: "unix:PATH" or the program path. */
const char *engine_conn_describe(const struct engine_conn *c);

/*
 * Decode one reply line (without its newline) into a token and result, through
 * proto_decode_reply(); argument names the protocol does not know are skipped. Pure;
 * exposed for tests. 0 or -EINVAL. Replies to check-support come back with reply
 * PROTO_REPLY_FEATURE_SUPPORT and *support pointing into the line (may be NULL).
 */
int engine_conn_parse_reply(const char *line, size_t len, int64_t *token, struct engine_result *r,
			    struct proto_slice *support);

#endif
