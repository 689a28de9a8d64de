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

int bpf_run_check(const struct sock_filter *f, size_t len)
{
	size_t i;

	if (!f || len == 0 || len > BPF_MAXINSNS)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (BPF_CLASS(f[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(f[i].code) == BPF_JA) {
			if (f[i].k >= len - i - 1)
				return -EINVAL;
		} else if (i + 1 + f[i].jt >= len || i + 1 + f[i].jf >= len) {
			return -EINVAL;
		}
	}
	return BPF_CLASS(f[len - 1].code) == BPF_RET ? 0 : -EINVAL;
}

static int size_of(uint16_t code)
{
	return BPF_SIZE(code) == BPF_W ? 4 : BPF_SIZE(code) == BPF_H ? 2 : 1;
}

int bpf_run(const struct sock_filter *f, size_t len, const uint8_t *pkt, size_t plen,
	    uint32_t pkttype, uint32_t *ret)
{
	uint32_t a = 0, x = 0, off;
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
		case BPF_ALU | BPF_AND | BPF_K:
			a &= in->k;
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
