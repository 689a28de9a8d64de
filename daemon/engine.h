/*
 * engine: hopwatchd's event loop and command dispatch: session lines in (session.c),
 * send-probe to the probe work (prober.c), check-support and enable-extension answered
 * here; socket mode accepts clients under per-uid quotas (quota.c). Holds no privilege
 * and opens no raw or listening socket itself (net_new, the broker and listen.c do).
 */
#ifndef HOPWATCH_DAEMON_ENGINE_H
#define HOPWATCH_DAEMON_ENGINE_H

#include <stdint.h>
#include <sys/types.h>

struct net;
struct privsep;
struct engine;

/*
 * Socket mode: client connections served at once; more are accepted, told why and
 * closed. One uid may hold 1/8 of them (64): a user (root too: a runaway root script locks
 * others out as well) cannot take the rest, and eight busy uids still fit.
 */
#define ENGINE_MAX_CLIENTS	    512
#define ENGINE_MAX_CLIENTS_PER_USER (ENGINE_MAX_CLIENTS / 8)
/*
 * Socket mode: a connection with no input and no probe in flight for this long is closed
 * (the live view paused for ten minutes is the longest quiet a client of ours has).
 */
#define ENGINE_DEFAULT_IDLE_S 600
#define ENGINE_IDLE_MAX_S     86400
/* Refused connections are logged at most once per this many seconds (with a count). */
#define ENGINE_REFUSE_LOG_S 1
/* Socket mode defaults, per peer uid: probes in flight, and probes per second. */
#define ENGINE_DEFAULT_INFLIGHT_PER_USER 16384
#define ENGINE_DEFAULT_RATE_PER_USER	 50000
/* Upper bound for both limits (options above it are refused). */
#define ENGINE_LIMIT_MAX 10000000
/* After accept() fails for lack of descriptors, wait this long before trying again. */
#define ENGINE_ACCEPT_PAUSE_MS 1000

/* Socket mode's per-uid limits; 0 in a field means the default above. */
struct engine_limits {
	uint32_t inflight_per_user; /* probes in flight, 1..ENGINE_LIMIT_MAX */
	uint32_t rate_per_user;	    /* probes per second, burst of one second */
	uint32_t idle_s;	    /* idle connection timeout, 1..ENGINE_IDLE_MAX_S */
};

/*
 * Take ownership of nothing: net and ps must outlive the engine. in_fd/out_fd are the
 * pipe-mode session (stdin/stdout).
 */
int engine_new(struct engine **out, struct net *net, struct privsep *ps, int in_fd, int out_fd);
struct engine *engine_free(struct engine *e);

/*
 * Socket mode: serve every client that connects to listen_fd (a listening AF_UNIX
 * stream socket; the engine takes ownership and closes it). lim may be NULL (defaults).
 */
int engine_new_listener(struct engine **out, struct net *net, struct privsep *ps, int listen_fd,
			const struct engine_limits *lim);

/*
 * Pipe mode: run until the session's input ends and every probe it sent has been answered
 * and written out. Returns 0, or -errno when the output side failed (e.g. -EPIPE).
 * Socket mode: run until SIGTERM or SIGINT; returns 0.
 */
int engine_run(struct engine *e);

#endif
