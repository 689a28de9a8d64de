/*
 * probe_key: how a probe's 16-bit id travels in the packet and comes back: ICMP echo
 * sequence (under the engine's random echo id), UDP checksum and low half of the TCP
 * sequence (both the id through the engine's secret permutation, the TCP one under a
 * random high half), plus the IPv4 id and the destination port.
 * Pure functions: no I/O, no allocation, no globals; never looks a probe up.
 */
#ifndef HOPWATCH_DAEMON_PROBE_KEY_H
#define HOPWATCH_DAEMON_PROBE_KEY_H

#include <stdint.h>

#include "daemon/packet.h"

/* UDP destination ports: base, and the spread that plain probes cycle over. */
#define PROBE_KEY_UDP_BASE_PORT	  33434
#define PROBE_KEY_UDP_PORT_SPREAD 64
/* Ports a flow id picks from, above the UDP base port. */
#define PROBE_KEY_UDP_FLOW_PORTS 1024
/* TCP destination port when the command names none. */
#define PROBE_KEY_TCP_DEFAULT_PORT 80
/* ICMP checksum of a flow: this bit set, the flow id in the rest. */
#define PROBE_KEY_ICMP_FLOW_CHECK 0x8000u

/* Random bytes probe_key_space_init() takes: TCP high half and two multipliers. */
#define PROBE_KEY_RANDOM_LEN 6

/*
 * One engine's part of every key: replies carrying another engine's are not ours, and
 * one who cannot see our probes cannot guess the on-wire value of a probe id.
 */
struct probe_key_space {
	uint16_t icmp_id;  /* echo id of our ICMP probes */
	uint16_t tcp_base; /* high half of every TCP sequence number we send */
	uint16_t mul[2];   /* odd: the UDP/TCP id permutation (see probe_key.c) */
	uint16_t inv[2];   /* their inverses modulo 2^16 */
};

/* Fill ks from the engine's echo id and PROBE_KEY_RANDOM_LEN random bytes. */
void probe_key_space_init(struct probe_key_space *ks, uint16_t icmp_id,
			  const uint8_t rnd[PROBE_KEY_RANDOM_LEN]);

/* What the command asked for that the key depends on. */
struct probe_key_args {
	uint16_t port; /* destination port, 0 = the protocol's default */
	int has_flow;  /* flow-id given: keep the probe on one ECMP path */
	uint16_t flow;
};

/*
 * Put id into pp for pp->protocol (IPPROTO_ICMP, IPPROTO_UDP or IPPROTO_TCP): ip_id,
 * icmp_id/icmp_seq, the forced checksum, dst_port, tcp_seq. Other fields are left as they
 * are. Returns 0, or -EPROTONOSUPPORT for any other protocol (pp untouched).
 */
int probe_key_encode(const struct probe_key_space *ks, const struct probe_key_args *a, uint16_t id,
		     struct packet_probe *pp);

/*
 * The probe id a parsed reply carries: 0 with *id, or -ENOENT when it cannot be one of
 * ours (another echo id or TCP sequence space, UDP/IPv6 checksum 0, which no probe
 * carries, or a protocol we never send).
 */
int probe_key_decode(const struct probe_key_space *ks, const struct packet_reply *r, uint16_t *id);

#endif
