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

/*
 * A router may quote our probe with IP options it added: the quoted L4 header then
 * starts after the quoted header's own length, which the filter must follow.
 */
static void ttl4_quoted_options(void **state)
{
	uint8_t p[128];
	size_t qhl;

	(void)state;
	for (qhl = 24; qhl <= 60; qhl += 4) {
		size_t l4 = 28 + qhl;

		memset(p, 0, sizeof(p));
		ip4(p, IPPROTO_ICMP);
		p[20] = 11;
		p[28] = (uint8_t)(0x40 | qhl / 4);
		p[28 + 9] = IPPROTO_UDP;
		p[l4] = PORT >> 8;
		p[l4 + 1] = PORT & 0xff;
		assert_int_equal(run(AF_INET, p, l4 + 8), 0xffff);
		p[l4 + 1] ^= 1;
		/* Our port where an option-free quote would have it is not enough. */
		p[48] = PORT >> 8;
		p[49] = PORT & 0xff;
		assert_int_equal(run(AF_INET, p, l4 + 8), 0);

		memset(p + 48, 0, sizeof(p) - 48);
		p[28 + 9] = IPPROTO_ICMP;
		p[l4] = 8;
		p[l4 + 4] = ID >> 8;
		p[l4 + 5] = ID & 0xff;
		assert_int_equal(run(AF_INET, p, l4 + 8), 0xffff);
		p[l4 + 5] ^= 1;
		assert_int_equal(run(AF_INET, p, l4 + 8), 0);
		p[l4 + 5] ^= 1;
		assert_int_equal(run(AF_INET, p, l4 + 5), 0); /* the quote cut short */
	}
	/* The outer header's options and the quote's add up. */
	memset(p, 0, sizeof(p));
	ip4(p, IPPROTO_ICMP);
	p[0] = 0x47;
	p[28] = 11;
	p[36] = 0x46;
	p[36 + 9] = IPPROTO_TCP;
	p[60] = PORT >> 8;
	p[61] = PORT & 0xff;
	assert_int_equal(run(AF_INET, p, 68), 0xffff);
	p[61] ^= 1;
	assert_int_equal(run(AF_INET, p, 68), 0);
}

/* The checker refuses what the kernel's would, so a filter that passes it is loadable. */
static void checker(void **state)
{
	struct sock_filter load_unset[] = {
		BPF_STMT(BPF_LDX | BPF_MEM, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter set_on_one_path[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter set_on_both[] = {
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter word_out_of_range[] = {
		BPF_STMT(BPF_ST, 16),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter wide_shift[] = {
		BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};

	(void)state;
	assert_int_equal(bpf_run_check(load_unset, 2), -EINVAL);
	assert_int_equal(bpf_run_check(set_on_one_path, 5), -EINVAL);
	assert_int_equal(bpf_run_check(set_on_both, 6), 0);
	assert_int_equal(bpf_run_check(word_out_of_range, 2), -EINVAL);
	assert_int_equal(bpf_run_check(wide_shift, 2), -EINVAL);
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
		cmocka_unit_test(echo4),
		cmocka_unit_test(ttl4_udp),
		cmocka_unit_test(ttl4_quoted_options),
		cmocka_unit_test(checker),
		cmocka_unit_test(tcp4),
		cmocka_unit_test(echo6),
		cmocka_unit_test(limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
