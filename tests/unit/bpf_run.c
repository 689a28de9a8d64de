/* bpf_run: see bpf_run.h; an out-of-bounds load rejects the packet, as the kernel does. */
#include "bpf_run.h"

#include <errno.h>

static int load(const uint8_t *pkt, size_t plen, uint32_t off, int size, uint32_t *a)
{
	int i;

	if (off >= plen || plen - off < (size_t)size)
		return -1;
	*a = 0;
	for (i = 0; i < size; i++)
		*a = *a << 8 | pkt[off + (uint32_t)i];
	return 0;
}

/* Scratch words a program may use, as the kernel's BPF_MEMWORDS. */
#define RUN_MEMWORDS 16
#define RUN_ALL_MEM  ((1u << RUN_MEMWORDS) - 1)

static int is_mem_load(uint16_t code)
{
	return code == (BPF_LD | BPF_W | BPF_MEM) || code == (BPF_LDX | BPF_W | BPF_MEM);
}

/*
 * As the kernel's check_load_and_stores(): every scratch word loaded must have been
 * stored on every path to the load. Jumps only go forward, so one pass carries the
 * words valid at each instruction (the intersection over the paths into it).
 */
static int check_mem(const struct sock_filter *f, size_t len)
{
	uint16_t valid[BPF_MAXINSNS];
	size_t i;

	for (i = 0; i < len; i++)
		valid[i] = RUN_ALL_MEM;
	valid[0] = 0;
	for (i = 0; i < len; i++) {
		uint16_t v = valid[i];

		if (is_mem_load(f[i].code) && !(v & (1u << f[i].k)))
			return -EINVAL;
		if (f[i].code == BPF_ST || f[i].code == BPF_STX)
			v = (uint16_t)(v | 1u << f[i].k);
		if (BPF_CLASS(f[i].code) == BPF_RET)
			continue;
		if (BPF_CLASS(f[i].code) == BPF_JMP) {
			if (BPF_OP(f[i].code) == BPF_JA) {
				valid[i + 1 + f[i].k] &= v;
				continue;
			}
			valid[i + 1 + f[i].jt] &= v;
			valid[i + 1 + f[i].jf] &= v;
			continue;
		}
		valid[i + 1] &= v;
	}
	return 0;
}

int bpf_run_check(const struct sock_filter *f, size_t len)
{
	size_t i;

	if (!f || len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		uint16_t code = f[i].code;

		if ((code == BPF_ST || code == BPF_STX || is_mem_load(code)) &&
		    f[i].k >= RUN_MEMWORDS)
			return -EINVAL;
		if (code == (BPF_ALU | BPF_LSH | BPF_K) && f[i].k >= 32)
			return -EINVAL;
		if (BPF_CLASS(code) != BPF_JMP)
			continue;
		if (BPF_OP(code) == BPF_JA) {
			if (f[i].k >= len - i - 1)
				return -EINVAL;
		} else if (i + 1 + f[i].jt >= len || i + 1 + f[i].jf >= len) {
			return -EINVAL;
		}
	}
	if (BPF_CLASS(f[len - 1].code) != BPF_RET)
		return -EINVAL;
	return check_mem(f, len);
}

static int size_of(uint16_t code)
{
	return BPF_SIZE(code) == BPF_W ? 4 : BPF_SIZE(code) == BPF_H ? 2 : 1;
}

int bpf_run(const struct sock_filter *f, size_t len, const uint8_t *pkt, size_t plen,
	    uint32_t pkttype, uint32_t *ret)
{
	uint32_t a = 0, x = 0, off, mem[RUN_MEMWORDS] = {0};
	size_t pc;

	if (bpf_run_check(f, len) < 0)
		return -EINVAL;
	for (pc = 0; pc < len; pc++) {
		const struct sock_filter *in = &f[pc];

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_B | BPF_ABS:
		case BPF_LD | BPF_H | BPF_IND:
		case BPF_LD | BPF_B | BPF_IND:
			if (in->code == (BPF_LD | BPF_W | BPF_ABS) &&
			    in->k == (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)) {
				a = pkttype;
				break;
			}
			off = BPF_MODE(in->code) == BPF_IND ? x + in->k : in->k;
			if (load(pkt, plen, off, size_of(in->code), &a) < 0) {
				*ret = 0;
				return 0;
			}
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			if (load(pkt, plen, in->k, 1, &x) < 0) {
				*ret = 0;
				return 0;
			}
			x = (x & 0xf) << 2;
			break;
		case BPF_LDX | BPF_W | BPF_MEM:
			x = mem[in->k];
			break;
		case BPF_ST:
			mem[in->k] = a;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= in->k;
			break;
		case BPF_ALU | BPF_LSH | BPF_K:
			a <<= in->k;
			break;
		case BPF_ALU | BPF_ADD | BPF_X:
			a += x;
			break;
		case BPF_JMP | BPF_JA:
			pc += in->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == in->k ? in->jt : in->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & in->k) ? in->jt : in->jf;
			break;
		case BPF_RET | BPF_K:
			*ret = in->k;
			return 0;
		default:
			return -ENOTSUP;
		}
	}
	return -EINVAL;
}
