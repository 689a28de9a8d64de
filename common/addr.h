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

#endif
