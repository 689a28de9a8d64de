/*
 * sockcache: the sockets of probes that carry a mark or a local device. The broker
 * (privsep.c) makes them, once per (family, protocol, mark, device) set; this cache keeps
 * them for the engine's lifetime and closes them at the end. Never makes a socket itself.
 */
#ifndef HOPWATCH_DAEMON_SOCKCACHE_H
#define HOPWATCH_DAEMON_SOCKCACHE_H

#include <stdint.h>

#include "proto/proto.h"

struct privsep;

/* Socket sets kept; a set beyond them is refused (-ENOSPC). */
#define SOCKCACHE_SLOTS 16
/* Longest device name a set may have. */
#define SOCKCACHE_DEVICE_MAX PROTO_DEVICE_MAX

struct sockcache;

/* ps must outlive the cache. */
int sockcache_new(struct sockcache **out, struct privsep *ps);
struct sockcache *sockcache_free(struct sockcache *c);

/*
 * The sending socket and the UDP socket (for source address selection) of one set;
 * device NULL or "" means none. Every IPv4 protocol shares one header-included socket.
 * The descriptors stay the cache's. Returns 0, -ENOSPC when every slot holds another
 * set, -ENAMETOOLONG, or the broker's -errno.
 */
int sockcache_get(struct sockcache *c, int family, int protocol, int has_mark, uint32_t mark,
		  const char *device, int *send_fd, int *udp_fd);

#endif
