/*
 * addr: the tree's one IP address type (IPv4 or IPv6, with its family) and the helpers
 * every side needs: length, equality, text. Owns nothing and never allocates.
 */
#ifndef HOPWATCH_COMMON_ADDR_H
#define HOPWATCH_COMMON_ADDR_H

#include <netinet/in.h>
#include <stddef.h>

/* Numeric address text of either family, NUL included. */
#define ADDR_STR_MAX INET6_ADDRSTRLEN

/* The address bytes alone, where the family is known from elsewhere (a packet's). */
union addr_ip {
	struct in_addr v4;
	struct in6_addr v6;
};

struct addr {
	int family; /* AF_INET, AF_INET6, 0 = none */
	union addr_ip u;
};

/* Bytes of an address of family: 4, 16, or 0 for another family. */
size_t addr_len(int family);
/* Same family and the same bytes of that family (padding never counts); two "none" are equal. */
int addr_equal(const struct addr *a, const struct addr *b);
/* inet_ntop into buf; "???" for no address (a NULL, family 0 or one unknown). */
const char *addr_str(const struct addr *a, char *buf, size_t len);
/* Numeric text of either family to an address. 0 or -EINVAL. */
int addr_parse(const char *s, struct addr *out);

/* What an address names as a destination: only one host can be probed. */
enum addr_kind {
	ADDR_KIND_UNICAST,
	ADDR_KIND_UNSPECIFIED, /* 0.0.0.0, :: ("this host, any address") */
	ADDR_KIND_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
	ADDR_KIND_BROADCAST,   /* 255.255.255.255 (a subnet's own broadcast is not known here) */
	ADDR_KIND_MAPPED,      /* ::ffff:0:0/96, an IPv4 address written as IPv6 */
	ADDR_KIND_OTHER,       /* a family other than AF_INET and AF_INET6 */
};

/* The kind of the address bytes u of family, from the address alone. */
enum addr_kind addr_kind(int family, const union addr_ip *u);

#endif
