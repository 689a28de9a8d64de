/*
 * test_bpf_filter: builds ring filters and runs them in a test interpreter over
 * hand-built replies: ours are kept, others' and fragments are dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "bpf_run.c"
#include "daemon/bpf_filter.h"

#define ID   0x4242
#define PORT 33434

static const uint16_t ports[] = {40000, PORT};

static uint32_t run(int family, const uint8_t *pkt, size_t len)
{
	struct sock_filter f[BPF_FILTER_INSNS_MAX];
	uint32_t ret = 1;
	int n = bpf_filter_build(family, ID, ports, 2, f, BPF_FILTER_INSNS_MAX);

	assert_true(n > 0);
	assert_int_equal(bpf_run_check(f, (size_t)n), 0);
	assert_int_equal(bpf_run(f, (size_t)n, pkt, len, PACKET_HOST, &ret), 0);
	return ret;
}

static void ip4(uint8_t *p, uint8_t proto)
{
	memset(p, 0, 64);
	p[0] = 0x45;
	p[9] = proto;
}

static void echo4(void **state)
{
	uint8_t p[64];

	(void)state;
	ip4(p, IPPROTO_ICMP);
	p[24] = ID >> 8;
	p[25] = ID & 0xff;
	assert_int_equal(run(AF_INET, p, 28), 0xffff);
	p[25] ^= 1;
	assert_int_equal(run(AF_INET, p, 28), 0);
	p[25] ^= 1;
	p[6] = 0x20; /* MF: a first fragment */
	assert_int_equal(run(AF_INET, p, 28), 0);
	assert_int_equal(run(AF_INET, p, 25), 0); /* cut short */
}

static void ttl4_udp(void **state)
{
	uint8_t p[64];

	(void)state;
	ip4(p, IPPROTO_ICMP);
	p[20] = 11;
	p[28] = 0x45;
	p[28 + 9] = IPPROTO_UDP;
	p[48] = PORT >> 8;
	p[49] = PORT & 0xff;
	assert_int_equal(run(AF_INET, p, 56), 0xffff);
	p[49] ^= 1;
	assert_int_equal(run(AF_INET, p, 56), 0);
}

static void tcp4(void **state)
{
	uint8_t p[64];

	(void)state;
	ip4(p, IPPROTO_TCP);
	p[22] = PORT >> 8;
	p[23] = PORT & 0xff;
	p[33] = 0x12; /* SYN+ACK */
	assert_int_equal(run(AF_INET, p, 40), 0xffff);
	p[33] = 0x02; /* SYN alone */
	assert_int_equal(run(AF_INET, p, 40), 0);
}

static void echo6(void **state)
{
	uint8_t p[64] = {0x60};

	(void)state;
	p[6] = IPPROTO_ICMPV6;
	p[40] = 129;
	p[44] = ID >> 8;
	p[45] = ID & 0xff;
	assert_int_equal(run(AF_INET6, p, 48), 0xffff);
	p[45] ^= 1;
	assert_int_equal(run(AF_INET6, p, 48), 0);
}

static void limits(void **state)
{
	uint16_t many[BPF_FILTER_PORTS_MAX * 2] = {0};
	struct sock_filter f[BPF_FILTER_INSNS_MAX];

	(void)state;
	assert_true(bpf_filter_build(AF_INET, ID, many, BPF_FILTER_PORTS_MAX, f,
				     BPF_FILTER_INSNS_MAX) > 0);
	assert_int_equal(bpf_filter_build(AF_INET, ID, many, BPF_FILTER_PORTS_MAX * 2, f,
					  BPF_FILTER_INSNS_MAX),
			 -E2BIG);
	assert_int_equal(bpf_filter_build(AF_INET, ID, ports, 2, f, 4), -E2BIG);
	assert_int_equal(bpf_filter_build(AF_UNIX, ID, ports, 2, f, 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(echo4), cmocka_unit_test(ttl4_udp), cmocka_unit_test(tcp4),
		cmocka_unit_test(echo6), cmocka_unit_test(limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
