/*
 * fuzz_bpf_filter: libFuzzer target for the receive ring's filter builder, run against
 * the receive path's parser. The input gives a filter's icmp id and port list and a
 * datagram; the filter is built (into buffers of exactly the capacity it is told, and
 * too small ones, which must fail untouched), passed through a checker as strict as the
 * kernel's, and run over the datagram in a test interpreter. The differential: every
 * datagram that packet_parse_ip() takes as a reply to one of this filter's probes must
 * also pass the filter (which may keep more, never less), else abort().
 *
 * Layout: flags, icmp id (2), number of ports from the input (mod FUZZ_PORTS_IN + 1),
 * number of made-up ports appended, a capacity shortfall, ports (2 each), datagram.
 * Flags: bits 0-1 = 3 asks for a bad family; bit 2: the kernel vouched for the L4
 * checksum; bit 3: fix up the IPv4 header checksum; bit 4: adopt the id and a port from
 * the parsed reply (so that nearly every reply the parser takes is one of "ours");
 * bits 5-7: the packet type of a second run, which must be dropped unless it is the
 * host's.
 */
#include "daemon/bpf_filter.h"
#include "daemon/packet.h"
#include "tests/unit/bpf_run.c"

#include <errno.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FUZZ_HDR_LEN   6
#define FUZZ_PORTS_IN  8
#define FUZZ_PORTS_ALL (FUZZ_PORTS_IN + 255)
#define FUZZ_IP4_HDR   20
#define FUZZ_KEEP      0xffffu
#define FUZZ_SENTINEL  0xa5

#define FUZZ_BAD_FAMILY 0x03
#define FUZZ_L4_CHECKED 0x04
#define FUZZ_FIX_IPSUM	0x08
#define FUZZ_ADOPT	0x10
#define FUZZ_PKTTYPE_SH 5

static int has_port(const uint16_t *ports, size_t n, uint16_t port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ports[i] == port)
			return 1;
	return 0;
}

/* Is r an answer to one of the probes this filter was built for? */
static int is_ours(const struct packet_reply *r, uint16_t id, const uint16_t *ports, size_t n)
{
	switch (r->kind) {
	case PACKET_KIND_ECHO_REPLY:
		return r->icmp_id == id;
	case PACKET_KIND_ICMP_ERROR:
		if (r->probe_protocol == IPPROTO_ICMP)
			return r->icmp_id == id;
		return has_port(ports, n, r->src_port);
	case PACKET_KIND_TCP:
		return has_port(ports, n, r->src_port);
	default:
		return 0;
	}
}

/* The reply's own identifier, to build a filter it belongs to. */
static void adopt(const struct packet_reply *r, uint16_t *id, uint16_t *ports, size_t n, size_t at)
{
	if (r->kind == PACKET_KIND_IGNORE)
		return;
	if (r->probe_protocol == IPPROTO_ICMP)
		*id = r->icmp_id;
	else if (n)
		ports[at % n] = r->src_port;
}

static uint32_t run(const struct sock_filter *f, size_t n, const uint8_t *pkt, size_t len,
		    uint32_t pkttype)
{
	uint32_t ret = 1;

	if (bpf_run(f, n, pkt, len, pkttype, &ret) != 0)
		abort(); /* an opcode the interpreter (and so this audit) does not know */
	if (ret != 0 && ret != FUZZ_KEEP)
		abort();
	return ret;
}

/*
 * The same program from a buffer of exactly its length; none, and nothing written,
 * from one short by 1 + shortfall.
 */
static void check_caps(int family, uint16_t id, const uint16_t *ports, size_t np,
		       const struct sock_filter *f, int n, size_t shortfall)
{
	struct sock_filter *exact = malloc((size_t)n * sizeof(*exact)), *shorter;
	size_t cap = (size_t)n - 1 - shortfall % (size_t)n, i;
	const uint8_t *bytes;

	if (!exact)
		abort();
	if (bpf_filter_build(family, id, ports, np, exact, (size_t)n) != n ||
	    memcmp(exact, f, (size_t)n * sizeof(*f)) != 0)
		abort();
	free(exact);
	if (cap == 0) {
		if (bpf_filter_build(family, id, ports, np, NULL, 0) != -E2BIG)
			abort();
		return;
	}
	shorter = malloc(cap * sizeof(*shorter));
	if (!shorter)
		abort();
	memset(shorter, FUZZ_SENTINEL, cap * sizeof(*shorter));
	if (bpf_filter_build(family, id, ports, np, shorter, cap) != -E2BIG)
		abort();
	bytes = (const uint8_t *)shorter;
	for (i = 0; i < cap * sizeof(*shorter); i++)
		if (bytes[i] != FUZZ_SENTINEL)
			abort();
	free(shorter);
}

static void fix_ip4_sum(uint8_t *p, size_t len)
{
	size_t hl;
	uint16_t sum;

	if (len < FUZZ_IP4_HDR || p[0] >> 4 != 4)
		return;
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < FUZZ_IP4_HDR || hl > len)
		return;
	p[10] = 0;
	p[11] = 0;
	sum = (uint16_t)~packet_fold(packet_sum(0, p, hl));
	p[10] = (uint8_t)(sum >> 8);
	p[11] = (uint8_t)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t none[1];
	uint16_t ports[FUZZ_PORTS_ALL], id;
	struct sock_filter *f;
	struct packet_reply r;
	size_t nin, np, len, i;
	uint8_t *pkt;
	uint32_t pkttype;
	int family, n, l4_checked;

	if (size < FUZZ_HDR_LEN)
		return 0;
	if ((data[0] & FUZZ_BAD_FAMILY) == FUZZ_BAD_FAMILY) {
		struct sock_filter one[1];

		if (bpf_filter_build(AF_UNIX, 1, none, 1, one, 1) != -EINVAL ||
		    bpf_filter_build(AF_INET, 1, NULL, 1, one, 1) != -EINVAL ||
		    bpf_filter_build(AF_INET6, 1, none, 0, NULL, 1) != -EINVAL)
			abort();
		return 0;
	}
	l4_checked = (data[0] & FUZZ_L4_CHECKED) != 0;
	pkttype = (uint32_t)data[0] >> FUZZ_PKTTYPE_SH;
	id = (uint16_t)(data[1] << 8 | data[2]);
	nin = data[3] % (FUZZ_PORTS_IN + 1);
	np = nin + data[4];
	if (size < FUZZ_HDR_LEN + 2 * nin)
		return 0;
	for (i = 0; i < nin; i++)
		ports[i] = (uint16_t)(data[FUZZ_HDR_LEN + 2 * i] << 8 |
				      data[FUZZ_HDR_LEN + 2 * i + 1]);
	for (; i < np; i++)
		ports[i] = (uint16_t)(0x8000u + i * 7919u);

	/* A copy of exactly its length, so that any load past it is the sanitizer's. */
	len = size - FUZZ_HDR_LEN - 2 * nin;
	pkt = malloc(len ? len : 1);
	if (!pkt)
		abort();
	memcpy(pkt, data + FUZZ_HDR_LEN + 2 * nin, len);
	if (data[0] & FUZZ_FIX_IPSUM)
		fix_ip4_sum(pkt, len);
	family = len && pkt[0] >> 4 == 6 ? AF_INET6 : AF_INET;

	if (packet_parse_ip(pkt, len, len, l4_checked, &r) != 0)
		abort();
	if (data[0] & FUZZ_ADOPT)
		adopt(&r, &id, ports, np, data[5]);

	f = malloc(BPF_FILTER_INSNS_MAX * sizeof(*f));
	if (!f)
		abort();
	n = bpf_filter_build(family, id, ports, np, f, BPF_FILTER_INSNS_MAX);
	if (n == -E2BIG) {
		/* Only a list longer than the engine ever asks for may not fit. */
		if (np <= BPF_FILTER_PORTS_MAX)
			abort();
		goto out;
	}
	if (n <= 0 || n > BPF_FILTER_INSNS_MAX || bpf_run_check(f, (size_t)n) != 0)
		abort();
	check_caps(family, id, ports, np, f, n, data[5]);

	if (is_ours(&r, id, ports, np) && run(f, (size_t)n, pkt, len, PACKET_HOST) == 0)
		abort();
	if (pkttype != PACKET_HOST && run(f, (size_t)n, pkt, len, pkttype) != 0)
		abort();
out:
	free(f);
	free(pkt);
	return 0;
}
