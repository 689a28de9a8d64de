/* addr: helpers of the one address type. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

size_t addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct in_addr);
	case AF_INET6:
		return sizeof(struct in6_addr);
	default:
		return 0;
	}
}

int addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return 0;
	return memcmp(&a->u, &b->u, addr_len(a->family)) == 0;
}

const char *addr_str(const struct addr *a, char *buf, size_t len)
{
	if (!a || !addr_len(a->family) || !inet_ntop(a->family, &a->u, buf, (socklen_t)len))
		snprintf(buf, len, "???");
	return buf;
}

int addr_parse(const char *s, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* First byte of IPv4 multicast (224.0.0.0/4) after the mask, and IPv6's (ff00::/8). */
#define ADDR_V4_MCAST_MASK 0xf0u
#define ADDR_V4_MCAST_NET  0xe0u
#define ADDR_V6_MCAST_BYTE 0xffu

enum addr_kind addr_kind(int family, const union addr_ip *u)
{
	const uint8_t *b = (const uint8_t *)u;

	switch (family) {
	case AF_INET:
		if (u->v4.s_addr == htonl(INADDR_ANY))
			return ADDR_KIND_UNSPECIFIED;
		if (u->v4.s_addr == htonl(INADDR_BROADCAST))
			return ADDR_KIND_BROADCAST;
		if ((b[0] & ADDR_V4_MCAST_MASK) == ADDR_V4_MCAST_NET)
			return ADDR_KIND_MULTICAST;
		return ADDR_KIND_UNICAST;
	case AF_INET6:
		if (IN6_IS_ADDR_UNSPECIFIED(&u->v6))
			return ADDR_KIND_UNSPECIFIED;
		if (b[0] == ADDR_V6_MCAST_BYTE)
			return ADDR_KIND_MULTICAST;
		if (IN6_IS_ADDR_V4MAPPED(&u->v6))
			return ADDR_KIND_MAPPED;
		return ADDR_KIND_UNICAST;
	default:
		return ADDR_KIND_OTHER;
	}
}
