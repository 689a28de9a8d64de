/*
 * probe_table: owns every probe in flight, indexed by its 16-bit probe id (the value
 * carried in the packet: ICMP sequence, UDP checksum, low half of the TCP sequence).
 * Hands out ids from PROBE_TABLE_FIRST_ID up, then in FIFO order so an id is reused as
 * late as possible, and keeps probes in a heap by deadline for timeouts. Never touches
 * sockets, the clock or the protocol.
 */
#ifndef HOPWATCH_DAEMON_PROBE_TABLE_H
#define HOPWATCH_DAEMON_PROBE_TABLE_H

#include <stdint.h>
#include <time.h>

#include "daemon/packet.h"

/* One slot per 16-bit probe id: the most probes one engine keeps in flight. */
#define PROBE_TABLE_SLOTS 65536u
#define PROBE_TABLE_NONE  UINT32_MAX
/*
 * The first id handed out, then upward, wrapping after 65535 to 0: mtr-packet numbers
 * its probes from 33000, and tools written for it (mtr's own test listener) wait for
 * that ICMP sequence. Unlike mtr-packet's, our id is never a port, so the whole 16-bit
 * space stays usable instead of 33000..65535 only.
 */
#define PROBE_TABLE_FIRST_ID 33000u

struct probe {
	int64_t token;	      /* the client's, echoed in the reply */
	void *owner;	      /* the session that sent it */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	struct timespec sent; /* CLOCK_REALTIME: the kernel's send stamp, else read before it */
	union addr_ip dst;
	union addr_ip src; /* the probe's source: replies go to it, quotes name it */
	uint8_t family;	   /* AF_INET or AF_INET6 */
	uint8_t protocol;  /* IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_TCP */
	uint8_t in_use;
	uint16_t src_port; /* UDP/TCP, host order */
	uint16_t dst_port; /* UDP/TCP, host order */
	uint32_t heap_at;  /* index in the deadline heap, PROBE_TABLE_NONE when unarmed */
	uint32_t owner_prev, owner_next; /* prober's: its owner's probes, id + 1, 0 = none */
};

struct probe_table;

int probe_table_new(struct probe_table **out);
struct probe_table *probe_table_free(struct probe_table *t);

/*
 * Take the free id that has been free the longest (never-used ids count as free since
 * the start, in order from PROBE_TABLE_FIRST_ID). avoid_zero skips id 0 (UDP over
 * IPv6 cannot carry checksum 0). Returns 0 with *id, or -ENOSPC when all are in use.
 */
int probe_table_alloc(struct probe_table *t, int avoid_zero, uint16_t *id);

/* The probe with this id, or NULL when the id is not in flight. */
struct probe *probe_table_get(struct probe_table *t, uint32_t id);

/* Put an allocated probe in the deadline heap (probe->deadline_ns must be set). */
void probe_table_arm(struct probe_table *t, uint16_t id);

/* Forget a probe: out of the deadline heap, id back on the free queue. */
void probe_table_release(struct probe_table *t, uint16_t id);

/* Id of the probe with the earliest deadline, or PROBE_TABLE_NONE. */
uint32_t probe_table_earliest(const struct probe_table *t);

uint32_t probe_table_count(const struct probe_table *t);

#endif
