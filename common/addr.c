/* addr: helpers of the one address type. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
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
