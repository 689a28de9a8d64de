/*
 * engine: hopwatchd's event loop. Owns the sessions (one per client connection; in
 * pipe mode, stdin/stdout), reads commands, turns send-probe into packets through
 * packet.c and net.c, matches replies to probes and writes reply lines back to the
 * session that asked. Never opens raw sockets itself (net_new did, before the drop) and
 * never holds privileges (the broker in privsep.c configures mark/device sockets).
 */
#ifndef HOPWATCH_DAEMON_ENGINE_H
#define HOPWATCH_DAEMON_ENGINE_H

#include <stdint.h>

struct net;
struct privsep;
struct engine;

/* Input bytes buffered per session: many lines per read() keep syscalls down. */
#define ENGINE_INBUF (64 * 1024)
/* Stop reading a session's commands above this much unsent output, resume below LWM. */
#define ENGINE_OUT_HWM (1024 * 1024)
#define ENGINE_OUT_LWM (256 * 1024)
/* Mark/device socket sets kept from the broker. */
#define ENGINE_SOCK_CACHE 16
/* Default probe parameters, as mtr-packet. */
#define ENGINE_DEFAULT_TTL	 255
#define ENGINE_DEFAULT_SIZE	 64
#define ENGINE_DEFAULT_TIMEOUT_S 10
#define ENGINE_UDP_BASE_PORT	 33434
#define ENGINE_UDP_PORT_SPREAD	 64
#define ENGINE_TCP_DEFAULT_PORT	 80

/*
 * Take ownership of nothing: net and ps must outlive the engine. in_fd/out_fd are the
 * pipe-mode session (stdin/stdout).
 */
int engine_new(struct engine **out, struct net *net, struct privsep *ps, int in_fd, int out_fd);
struct engine *engine_free(struct engine *e);

/*
 * Run until the session's input ends and every probe it sent has been answered and
 * written out. Returns 0, or -errno when the output side failed (e.g. -EPIPE).
 */
int engine_run(struct engine *e);

#endif
