/*
 * probe_key: the probe id's place in each protocol, encode and decode side by side so
 * that they cannot drift apart. The id is where routers quote it back: ICMP errors
 * quote the IP header and the first 8 bytes of L4, which hold the echo sequence, the
 * UDP checksum and the TCP sequence number.
 */
#include "daemon/probe_key.h"

#include <errno.h>
#include <netinet/in.h>

int probe_key_encode(const struct probe_key_space *ks, const struct probe_key_args *a, uint16_t id,
		     struct packet_probe *pp)
{
	switch (pp->protocol) {
	case IPPROTO_ICMP:
		pp->icmp_id = ks->icmp_id;
		pp->icmp_seq = id;
		if (a->has_flow) {
			/* A constant checksum per flow keeps checksum-hashing routers on one path. */
			pp->force_check = 1;
			pp->check_value = (uint16_t)(PROBE_KEY_ICMP_FLOW_CHECK ^ a->flow);
		}
		break;
	case IPPROTO_UDP:
		pp->force_check = 1;
		pp->check_value = id;
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
		pp->tcp_seq = ((uint32_t)ks->tcp_base << 16) | id;
		pp->dst_port = a->port ? a->port : PROBE_KEY_TCP_DEFAULT_PORT;
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	/*
	 * Our own IPv4 id (never 0, which asks the kernel to pick one): it spares the
	 * kernel's per-destination id generator and puts the probe id in every quote too.
	 */
	pp->ip_id = (uint16_t)(id + 1) ? (uint16_t)(id + 1) : 1;
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
		*id = r->check;
		return 0;
	case IPPROTO_TCP:
		if ((r->tcp_seq >> 16) != ks->tcp_base)
			return -ENOENT;
		*id = (uint16_t)(r->tcp_seq & 0xffff);
		return 0;
	default:
		return -ENOENT;
	}
}
