/*
 * sockcache: a small linear table: a handful of mark/device sets is the common case,
 * and a lookup happens only for probes that ask for one.
 */
#include "daemon/sockcache.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/net.h"
#include "daemon/privsep.h"

struct sockcache_entry {
	int used;
	int family, protocol;
	int has_mark;
	uint32_t mark;
	char device[SOCKCACHE_DEVICE_MAX + 1];
	int send_fd;
	int udp_fd;
};

struct sockcache {
	struct privsep *ps;
	struct sockcache_entry slots[SOCKCACHE_SLOTS];
};

int sockcache_new(struct sockcache **out, struct privsep *ps)
{
	struct sockcache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ps = ps;
	*out = c;
	return 0;
}

struct sockcache *sockcache_free(struct sockcache *c)
{
	int i;

	if (!c)
		return NULL;
	for (i = 0; i < SOCKCACHE_SLOTS; i++) {
		if (!c->slots[i].used)
			continue;
		close(c->slots[i].udp_fd);
		close(c->slots[i].send_fd);
	}
	free(c);
	return NULL;
}

/* Ask the broker for both sockets of a set. */
static int open_set(struct sockcache *c, const struct sockcache_entry *k, int *send_fd, int *udp_fd)
{
	const char *dev = k->device[0] ? k->device : NULL;
	int proto =
		k->family == AF_INET6 && k->protocol == IPPROTO_ICMP ? IPPROTO_ICMPV6 : k->protocol;
	int err;

	err = privsep_socket(c->ps, k->family, SOCK_RAW, proto, k->has_mark, k->mark, dev, send_fd);
	if (err < 0)
		return err;
	err = net_prepare_send_fd(*send_fd, k->family);
	if (err < 0)
		goto fail_send;
	err = privsep_socket(c->ps, k->family, SOCK_DGRAM, IPPROTO_UDP, k->has_mark, k->mark, dev,
			     udp_fd);
	if (err < 0)
		goto fail_send;
	return 0;
fail_send:
	close(*send_fd);
	return err;
}

int sockcache_get(struct sockcache *c, int family, int protocol, int has_mark, uint32_t mark,
		  const char *device, int *send_fd, int *udp_fd)
{
	struct sockcache_entry want = {0}, *slot = NULL;
	size_t dlen = device ? strlen(device) : 0;
	int i, err;

	if (dlen > SOCKCACHE_DEVICE_MAX)
		return -ENAMETOOLONG;
	want.family = family;
	/* One header-included socket sends every IPv4 probe. */
	want.protocol = family == AF_INET ? IPPROTO_RAW : protocol;
	want.has_mark = has_mark;
	want.mark = has_mark ? mark : 0;
	memcpy(want.device, device ? device : "", dlen);
	for (i = 0; i < SOCKCACHE_SLOTS; i++) {
		struct sockcache_entry *k = &c->slots[i];

		if (!k->used) {
			if (!slot)
				slot = k;
			continue;
		}
		if (k->family == want.family && k->protocol == want.protocol &&
		    k->has_mark == want.has_mark && k->mark == want.mark &&
		    !strcmp(k->device, want.device)) {
			*send_fd = k->send_fd;
			*udp_fd = k->udp_fd;
			return 0;
		}
	}
	if (!slot)
		return -ENOSPC;
	err = open_set(c, &want, send_fd, udp_fd);
	if (err < 0)
		return err;
	*slot = want;
	slot->used = 1;
	slot->send_fd = *send_fd;
	slot->udp_fd = *udp_fd;
	return 0;
}
