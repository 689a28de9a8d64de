/*
 * session: one command stream (the pipe-mode stdin/stdout, or one client connection):
 * line framing, the output buffer that reply lines are formatted into, back-pressure
 * (a slow reader stops being read), and socket mode's connection lifetime. Never
 * interprets a command: each line goes to the engine through session_ops.
 */
#ifndef HOPWATCH_DAEMON_SESSION_H
#define HOPWATCH_DAEMON_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"

struct event_base;
struct quota_user;
struct session;
struct session_hub;

/* Input bytes buffered per session: many lines per read() keep syscalls down. */
#define SESSION_INBUF (64 * 1024)
/*
 * Stop taking a session's commands above this much unsent output, checked before each
 * line, and resume below LWM: a client that never reads holds at most HWM plus one
 * reply, not a whole 64 KiB read of bare newlines answered 22 bytes each (1.4 MiB, 755 MB
 * for 510 such clients before). A local reader drains 256 KiB in well under 1 ms.
 */
#define SESSION_OUT_HWM (256 * 1024)
#define SESSION_OUT_LWM (64 * 1024)
/*
 * Unsent output of all sessions together above which a session's commands wait as soon as
 * it has LWM unsent: with 512 clients the total stays under about 48 MiB plus the answers
 * of probes in flight (bounded by the per-uid quotas).
 */
#define SESSION_HUB_OUT_MAX (16 * 1024 * 1024)
/* Output buffer start size; it grows as needed (bounded by probes in flight). */
#define SESSION_OUTBUF_INITIAL (64 * 1024)
/* Longest reply line we ever format. */
#define SESSION_REPLY_MAX 512

/* What the engine does for its sessions; ctx is the engine. */
struct session_ops {
	/* Input was read: the lines that follow form one batch of commands. */
	void (*batch)(void *ctx);
	/* One complete command line, without its newline. */
	void (*line)(void *ctx, struct session *s, const char *line, size_t len);
	/* The pipe session's output failed with err: the engine ends. */
	void (*fatal)(void *ctx, int err);
	/* End of a callback that may have completed the pipe session. */
	void (*settled)(void *ctx);
	/* Client s closed with probes in flight: forget them (their slots are free at once). */
	void (*closed)(void *ctx, struct session *s);
};

/*
 * One stream. The engine reads ext and user and keeps inflight (its probes that point
 * here); every other field is this module's.
 */
struct session {
	struct session_hub *hub; /* every session of one engine: clients, the dirty list */
	uint32_t ext;		 /* enabled extensions, bit per enum proto_ext */
	uint32_t inflight;	 /* probes in flight that answer here */
	uint32_t probe_list;	 /* prober's: first of those probes, id + 1, 0 = none */
	struct quota_user *user; /* client: its peer uid's quota (NULL in pipe mode) */
	int in_fd, out_fd;
	int client;		     /* socket mode connection (else the pipe-mode session) */
	int closed;		     /* client: descriptor closed, kept for probes in flight */
	int dirty;		     /* on the hub's dirty list */
	struct session *dirty_next;  /* dirty list */
	struct session *prev, *next; /* socket mode: every client session */
	pid_t pid;		     /* client: peer pid at connect time */
	struct event *ev_in, *ev_out;
	int reading;	       /* ev_in is armed */
	int writing;	       /* ev_out is armed */
	int eof;	       /* input ended */
	int discarding;	       /* dropping the rest of an over-long line */
	int stalled;	       /* complete lines wait in inbuf until the output drains below LWM */
	struct event *ev_idle; /* client: closes it after the hub's idle time */
	int dead;	       /* output failed: stop everything */
	char *inbuf;	       /* SESSION_INBUF bytes; freed when a client's connection closes */
	size_t inlen;
	char *out;
	size_t outlen, outoff, outcap;
};

/* base and ops (and ctx) must outlive the hub. */
int session_hub_new(struct session_hub **out, struct event_base *base,
		    const struct session_ops *ops, void *ctx);
/* Frees every client session too (their quota references are put back). */
struct session_hub *session_hub_free(struct session_hub *h);

/* Client connections open now. */
uint32_t session_hub_clients(const struct session_hub *h);

/*
 * Close a client connection after idle_ms with no input and no probe in flight (0 = never);
 * for connections accepted from now on.
 */
void session_hub_set_idle(struct session_hub *h, uint32_t idle_ms);

/* Unsent output of every session, in bytes. */
size_t session_hub_output(const struct session_hub *h);

/* Write out (and reap) every session touched since the last call. */
void session_hub_flush(struct session_hub *h);

/* The pipe-mode session on in_fd/out_fd (pipes are made non-blocking). */
int session_new(struct session **out, struct session_hub *h, int in_fd, int out_fd);
struct session *session_free(struct session *s);

/*
 * Serve a connected client on fd (its peer uid's quota entry u, peer pid): the session
 * takes a reference on u, and fd once it returns 0. Reading starts at once.
 */
int session_accept(struct session_hub *h, int fd, struct quota_user *u, pid_t pid);

/*
 * Tell a client we do not serve why, on its connection fd (non-blocking, best effort):
 * "0 unexpected-error reason REASON". The caller closes fd.
 */
void session_refuse(int fd, const char *reason);

/* Start (or resume) reading commands, as back-pressure allows. */
void session_start(struct session *s);

/* Input ended, every line taken, nothing in flight, every answer written. */
int session_idle(const struct session *s);

/* s has output to write: session_hub_flush will. */
void session_touch(struct session *s);

/*
 * Start a reply line directly in the output buffer: 0, -EPIPE when a client left (its
 * answers go nowhere) or -ENOMEM (the session failed). session_emit ends the line.
 */
int session_begin(struct session *s, struct proto_writer *w, int64_t token, enum proto_reply reply);
void session_emit(struct session *s, struct proto_writer *w);

/* A reply line with no arguments; one with an optional reason. */
void session_simple(struct session *s, int64_t token, enum proto_reply reply);
void session_invalid(struct session *s, int64_t token, const char *reason);

#endif
