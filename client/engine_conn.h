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
/* Longest refusal reason kept from a reply (the engine's are short words). */
#define ENGINE_CONN_REASON_MAX 47

struct engine_probe {
	struct addr dst;
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
	int timeout_s;	 /* 0 = engine default */
	int has_flow_id; /* Paris-style: one flow for every probe (needs the flow-id extension) */
	int flow_id;	 /* 0..PROTO_FLOW_ID_MAX */
};

struct engine_result {
	enum proto_reply reply;
	struct addr from; /* family 0 when the reply has no address */
	int64_t rtt_us;	  /* -1 when absent */
	size_t nmpls;
	struct stats_mpls mpls[STATS_MPLS_MAX];
	/* The engine's reason word for a refusal ("" when none): [a-z0-9-] only, cut. */
	char reason[ENGINE_CONN_REASON_MAX + 1];
};

/*
 * A client of the connection (one trace): the answers to the probes it sent go to its
 * result callback, with the cookie it gave; the loss of the engine goes to lost. Any
 * number of clients share one connection; tokens are the connection's.
 */
struct engine_client;
struct engine_client_ops {
	void (*result)(void *ctx, uint64_t cookie, const struct engine_result *r);
	/* The engine went away (EOF, read error, or it sent garbage); err is one line. */
	void (*lost)(void *ctx, const char *err);
};

/* The owner's view of a lost engine (the monitor reconnects); err is one line. */
typedef void (*engine_lost_fn)(void *ctx, const char *err);
/* The start-up check ended: 0, -ENOTSUP, -EPIPE or -ETIMEDOUT, with msg one line. */
typedef void (*engine_check_fn)(void *ctx, int rc, const char *msg);

/*
 * Open a connection. spec: "unix:PATH" for a shared daemon, a program path to spawn,
 * or NULL for the default search: $HOPWATCH_ENGINE, then ENGINE_CONN_DEFAULT_SOCKET,
 * then hopwatchd next to self_exe (the client's own path, may be NULL), then on PATH.
 * Returns 0 or -errno with err set to one line. The program must ignore SIGPIPE: a dead
 * engine is then a write error that the connection reports as lost.
 */
int engine_conn_open(struct engine_conn **out, struct event_base *base, const char *spec,
		     const char *self_exe, char *err, size_t errlen);
/* Clients still registered are detached: their late answers are dropped. */
struct engine_conn *engine_conn_free(struct engine_conn *c);

/* Who hears of a lost engine besides the clients; fn may be NULL. */
void engine_conn_set_lost(struct engine_conn *c, engine_lost_fn fn, void *ctx);
/* Whether the engine is gone. */
int engine_conn_is_lost(const struct engine_conn *c);

/*
 * Ask the engine about each feature (check-support) without waiting: done is called
 * once, from the event loop, when all are answered "ok" (0), when one is not (-ENOTSUP),
 * when the engine died (-EPIPE, msg holds its last error line) or after
 * ENGINE_CONN_CHECK_TIMEOUT_MS (-ETIMEDOUT). Returns 0, or -errno when the check could
 * not start (done is then not called): -EBUSY while one runs, -EPIPE when lost.
 */
int engine_conn_check(struct engine_conn *c, const char *const *features, size_t n,
		      engine_check_fn done, void *ctx);

/*
 * Turn extensions on for this connection (enable-extension), like engine_conn_check: done
 * gets 0 once each is "extension-enabled", -ENOTSUP when one is refused.
 */
int engine_conn_enable(struct engine_conn *c, const char *const *exts, size_t n,
		       engine_check_fn done, void *ctx);

/* Register a client; ops is copied. 0 or -ENOMEM. */
int engine_conn_client_new(struct engine_client **out, struct engine_conn *c,
			   const struct engine_client_ops *ops, void *ctx);
/* Unregister: answers to its probes still in flight are dropped. Accepts NULL. */
struct engine_client *engine_conn_client_free(struct engine_client *cl);

/*
 * Queue one send-probe line for cl; its answer comes back to cl's result callback with
 * cookie. 0, -EPIPE (engine lost), -ENOMEM or -EINVAL.
 */
int engine_conn_send_probe(struct engine_client *cl, const struct engine_probe *p, uint64_t cookie);

/* Probes of all clients waiting for an answer. */
size_t engine_conn_inflight(const struct engine_conn *c);

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
