/*
 * probe_key: the probe id's place in each protocol, encode and decode side by side so
 * that they cannot drift apart. The id is where routers quote it back: ICMP errors
 * quote the IP header and the first 8 bytes of L4, which hold the echo sequence, the
 * UDP checksum and the TCP sequence number.
 */
#include "daemon/probe_key.h"

#include <errno.h>
#include <netinet/in.h>

/* Newton steps for an inverse modulo 2^16: 3 correct bits, doubled each step. */
#define INVERSE_STEPS 4
/* The xorshift between the multiplications folds the high byte into the low one. */
#define MIX_SHIFT 8

/*
 * Why a permutation and not the id itself: an off-path sender who knows how ids are
 * handed out (in order) could otherwise aim forged errors at the probes in flight.
 * Multiplying by an odd number modulo 2^16 and the xorshift are both bijections that
 * keep 0 at 0 (UDP over IPv6 cannot carry checksum 0, and the table already keeps id 0
 * from those probes), and the xorshift stops the low bits from depending on the low
 * bits of the id alone.
 */
static uint16_t mix(const struct probe_key_space *ks, uint16_t id)
{
	uint16_t v = (uint16_t)(id * ks->mul[0]);

	v ^= (uint16_t)(v >> MIX_SHIFT);
	return (uint16_t)(v * ks->mul[1]);
}

static uint16_t unmix(const struct probe_key_space *ks, uint16_t v)
{
	v = (uint16_t)(v * ks->inv[1]);
	v ^= (uint16_t)(v >> MIX_SHIFT); /* a shift of half the width undoes itself */
	return (uint16_t)(v * ks->inv[0]);
}

static uint16_t inverse16(uint16_t a)
{
	uint32_t x = a;
	int i;

	for (i = 0; i < INVERSE_STEPS; i++)
		x = (x * (2u - a * x)) & 0xffffu;
	return (uint16_t)x;
}

void probe_key_space_init(struct probe_key_space *ks, uint16_t icmp_id,
			  const uint8_t rnd[PROBE_KEY_RANDOM_LEN])
{
	int i;

	ks->icmp_id = icmp_id;
	ks->tcp_base = (uint16_t)(rnd[0] << 8 | rnd[1]);
	for (i = 0; i < 2; i++) {
		ks->mul[i] = (uint16_t)(rnd[2 + 2 * i] << 8 | rnd[3 + 2 * i] | 1);
		ks->inv[i] = inverse16(ks->mul[i]);
	}
}

int probe_key_encode(const struct probe_key_space *ks, const struct probe_key_args *a, uint16_t id,
		     struct packet_probe *pp)
{
	uint16_t wire = id;

	switch (pp->protocol) {
	case IPPROTO_ICMP:
		/*
		 * The sequence stays the id itself: mtr's own test suite expects the
		 * table's first id (33000) as the first sequence. The random echo id
		 * keeps it out of a blind forger's reach all the same.
		 */
		pp->icmp_id = ks->icmp_id;
		pp->icmp_seq = id;
		if (a->has_flow) {
			/* A constant checksum per flow keeps checksum-hashing routers on one path. */
			pp->force_check = 1;
			pp->check_value = (uint16_t)(PROBE_KEY_ICMP_FLOW_CHECK ^ a->flow);
		}
		break;
	case IPPROTO_UDP:
		wire = mix(ks, id);
		pp->force_check = 1;
		pp->check_value = wire;
		if (a->port)
			pp->dst_port = a->port;
		else if (a->has_flow)
			pp->dst_port = (uint16_t)(PROBE_KEY_UDP_BASE_PORT +
						  a->flow % PROBE_KEY_UDP_FLOW_PORTS);
		else
			pp->dst_port = (uint16_t)(PROBE_KEY_UDP_BASE_PORT +
						  id % PROBE_KEY_UDP_PORT_SPREAD);
		break;
	case IPPROTO_TCP:
		wire = mix(ks, id);
		pp->tcp_seq = ((uint32_t)ks->tcp_base << 16) | wire;
		pp->dst_port = a->port ? a->port : PROBE_KEY_TCP_DEFAULT_PORT;
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	/*
	 * Our own IPv4 id (never 0, which asks the kernel to pick one): it spares the
	 * kernel's per-destination id generator. It follows the on-wire key, so that it
	 * tells nothing the packet does not already show.
	 */
	pp->ip_id = (uint16_t)(wire + 1) ? (uint16_t)(wire + 1) : 1;
	return 0;
}

int probe_key_decode(const struct probe_key_space *ks, const struct packet_reply *r, uint16_t *id)
{
	switch (r->probe_protocol) {
	case IPPROTO_ICMP:
		if (r->icmp_id != ks->icmp_id)
			return -ENOENT;
		*id = r->icmp_seq;
		return 0;
	case IPPROTO_UDP:
		/* UDP over IPv6 cannot carry checksum 0: no such probe was ever sent. */
		if (r->family == AF_INET6 && r->check == 0)
			return -ENOENT;
		*id = unmix(ks, r->check);
		return 0;
	case IPPROTO_TCP:
		if ((r->tcp_seq >> 16) != ks->tcp_base)
			return -ENOENT;
		*id = unmix(ks, (uint16_t)(r->tcp_seq & 0xffff));
		return 0;
	default:
		return -ENOENT;
	}
}
