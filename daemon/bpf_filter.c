/*
 * bpf_filter: the receive ring's classic-BPF program, assembled from our ICMP echo id
 * and UDP/TCP source ports into a caller's array. Labels are resolved after emission so
 * that each branch can name where it goes instead of counting instructions.
 */
#include "daemon/bpf_filter.h"

#include <errno.h>
#include <linux/icmp.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/*
 * The ring's socket filter, rebuilt whenever the set of our ports changes: the kernel
 * keeps only packets that can answer one of OUR probes (our ICMP echo id, our UDP/TCP
 * source ports), so other engines' and other programs' traffic costs a filter run, not
 * a copy, and cannot crowd our replies out of the ring.
 */
enum bpf_label {
	BPF_L_NEXT = -1,
	BPF_L_ACC,
	BPF_L_REJ,
	BPF_L_ICMP,
	BPF_L_ECHO,
	BPF_L_ERR,
	BPF_L_QICMP,
	BPF_L_QPORT,
	BPF_L_TCP,
	BPF_L_TPORT,
	BPF_L__COUNT,
};

struct bpf_prog_builder {
	struct sock_filter ins[BPF_FILTER_INSNS_MAX];
	int jt[BPF_FILTER_INSNS_MAX], jf[BPF_FILTER_INSNS_MAX]; /* labels to resolve */
	int at[BPF_L__COUNT];					/* where each label is */
	int n;
	int overflow;
};

static void bpf_emit(struct bpf_prog_builder *b, uint16_t code, uint32_t k, int jt, int jf)
{
	if (b->n >= BPF_FILTER_INSNS_MAX) {
		b->overflow = 1;
		return;
	}
	b->ins[b->n] = (struct sock_filter)BPF_JUMP(code, k, 0, 0);
	b->jt[b->n] = jt;
	b->jf[b->n] = jf;
	b->n++;
}

static void bpf_stmt(struct bpf_prog_builder *b, uint16_t code, uint32_t k)
{
	bpf_emit(b, code, k, BPF_L_NEXT, BPF_L_NEXT);
}

static void bpf_label(struct bpf_prog_builder *b, enum bpf_label l)
{
	b->at[l] = b->n;
}

/* A accepted if the 16-bit value loaded is one of ports. */
static void bpf_ports(struct bpf_prog_builder *b, const uint16_t *ports, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bpf_emit(b, BPF_JMP | BPF_JEQ | BPF_K, ports[i], BPF_L_ACC, BPF_L_NEXT);
	bpf_emit(b, BPF_JMP | BPF_JA, 0, BPF_L_REJ, BPF_L_REJ);
}

static int bpf_resolve(struct bpf_prog_builder *b)
{
	int i, t;

	if (b->overflow)
		return -E2BIG;
	for (i = 0; i < b->n; i++) {
		if (BPF_CLASS(b->ins[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(b->ins[i].code) == BPF_JA) {
			b->ins[i].k = (uint32_t)(b->at[b->jt[i]] - i - 1);
			continue;
		}
		t = b->jt[i] == BPF_L_NEXT ? i + 1 : b->at[b->jt[i]];
		if (t - i - 1 < 0 || t - i - 1 > 255)
			return -E2BIG;
		b->ins[i].jt = (uint8_t)(t - i - 1);
		t = b->jf[i] == BPF_L_NEXT ? i + 1 : b->at[b->jf[i]];
		if (t - i - 1 < 0 || t - i - 1 > 255)
			return -E2BIG;
		b->ins[i].jf = (uint8_t)(t - i - 1);
	}
	return 0;
}

#define LD_B_ABS (BPF_LD | BPF_B | BPF_ABS)
#define LD_H_ABS (BPF_LD | BPF_H | BPF_ABS)
#define LD_B_IND (BPF_LD | BPF_B | BPF_IND)
#define LD_H_IND (BPF_LD | BPF_H | BPF_IND)
#define JEQ	 (BPF_JMP | BPF_JEQ | BPF_K)
#define JSET	 (BPF_JMP | BPF_JSET | BPF_K)

/*
 * IPv4 (SOCK_DGRAM packet socket: offset 0 is the IP header). The quoted header's own
 * length is honoured: our probes carry no options, but a router may quote them with
 * options it added (record route, timestamps), and the kernel delivers such an error.
 * Classic BPF can only load a header length from a fixed offset into X, so the quoted
 * L4 header's offset (outer plus quoted header length) is summed in A and kept in
 * scratch word BPF_M_QUOTE while the quoted protocol is looked at with the outer X.
 */
#define BPF_M_QUOTE 0
static void bpf_build4(struct bpf_prog_builder *b, uint16_t icmp_id, const uint16_t *ports,
		       size_t nports)
{
	bpf_stmt(b, BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
	bpf_emit(b, JEQ, PACKET_HOST, BPF_L_NEXT, BPF_L_REJ);
	bpf_stmt(b, LD_H_ABS, 6);
	bpf_emit(b, JSET, 0x3fff, BPF_L_REJ, BPF_L_NEXT); /* fragments, the first one too */
	bpf_stmt(b, BPF_LDX | BPF_B | BPF_MSH, 0);	  /* X = header length */
	bpf_stmt(b, LD_B_ABS, 9);
	bpf_emit(b, JEQ, IPPROTO_ICMP, BPF_L_ICMP, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_TCP, BPF_L_TCP, BPF_L_REJ);
	bpf_label(b, BPF_L_ICMP);
	bpf_stmt(b, LD_B_IND, 0);
	bpf_emit(b, JEQ, ICMP_ECHOREPLY, BPF_L_ECHO, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP_DEST_UNREACH, BPF_L_ERR, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP_TIME_EXCEEDED, BPF_L_ERR, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP_PARAMETERPROB, BPF_L_ERR, BPF_L_REJ);
	bpf_label(b, BPF_L_ECHO);
	bpf_stmt(b, LD_H_IND, 4);
	bpf_emit(b, JEQ, icmp_id, BPF_L_ACC, BPF_L_REJ);
	bpf_label(b, BPF_L_ERR);
	bpf_stmt(b, LD_B_IND, 8); /* quoted version and header length */
	bpf_stmt(b, BPF_ALU | BPF_AND | BPF_K, 0x0f);
	bpf_stmt(b, BPF_ALU | BPF_LSH | BPF_K, 2);
	bpf_stmt(b, BPF_ALU | BPF_ADD | BPF_X, 0);
	bpf_stmt(b, BPF_ST, BPF_M_QUOTE);
	bpf_stmt(b, LD_B_IND, 8 + 9); /* quoted protocol */
	bpf_emit(b, JEQ, IPPROTO_ICMP, BPF_L_QICMP, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_UDP, BPF_L_QPORT, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_TCP, BPF_L_QPORT, BPF_L_REJ);
	bpf_label(b, BPF_L_QICMP);
	bpf_stmt(b, BPF_LDX | BPF_MEM, BPF_M_QUOTE);
	bpf_stmt(b, LD_H_IND, 8 + 4); /* quoted echo id */
	bpf_emit(b, JEQ, icmp_id, BPF_L_ACC, BPF_L_REJ);
	bpf_label(b, BPF_L_QPORT);
	bpf_stmt(b, BPF_LDX | BPF_MEM, BPF_M_QUOTE);
	bpf_stmt(b, LD_H_IND, 8); /* quoted source port */
	bpf_ports(b, ports, nports);
	bpf_label(b, BPF_L_TCP);
	bpf_stmt(b, LD_B_IND, 13); /* flags: RST, or SYN+ACK */
	bpf_emit(b, JSET, 0x04, BPF_L_TPORT, BPF_L_NEXT);
	bpf_stmt(b, BPF_ALU | BPF_AND | BPF_K, 0x12);
	bpf_emit(b, JEQ, 0x12, BPF_L_TPORT, BPF_L_REJ);
	bpf_label(b, BPF_L_TPORT);
	bpf_stmt(b, LD_H_IND, 2); /* destination port = our source port */
	bpf_ports(b, ports, nports);
	bpf_label(b, BPF_L_ACC);
	bpf_stmt(b, BPF_RET | BPF_K, 0xffff);
	bpf_label(b, BPF_L_REJ);
	bpf_stmt(b, BPF_RET | BPF_K, 0);
}

/* IPv6 (offset 0 is the IPv6 header; no extension headers in what we accept). */
static void bpf_build6(struct bpf_prog_builder *b, uint16_t icmp_id, const uint16_t *ports,
		       size_t nports)
{
	bpf_stmt(b, BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
	bpf_emit(b, JEQ, PACKET_HOST, BPF_L_NEXT, BPF_L_REJ);
	bpf_stmt(b, LD_B_ABS, 6);
	bpf_emit(b, JEQ, IPPROTO_ICMPV6, BPF_L_ICMP, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_TCP, BPF_L_TCP, BPF_L_REJ);
	bpf_label(b, BPF_L_ICMP);
	bpf_stmt(b, LD_B_ABS, 40);
	bpf_emit(b, JEQ, ICMP6_ECHO_REPLY, BPF_L_ECHO, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP6_DST_UNREACH, BPF_L_ERR, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP6_TIME_EXCEEDED, BPF_L_ERR, BPF_L_NEXT);
	bpf_emit(b, JEQ, ICMP6_PARAM_PROB, BPF_L_ERR, BPF_L_REJ);
	bpf_label(b, BPF_L_ECHO);
	bpf_stmt(b, LD_H_ABS, 40 + 4);
	bpf_emit(b, JEQ, icmp_id, BPF_L_ACC, BPF_L_REJ);
	bpf_label(b, BPF_L_ERR);
	bpf_stmt(b, LD_B_ABS, 48 + 6); /* quoted next header */
	bpf_emit(b, JEQ, IPPROTO_ICMPV6, BPF_L_QICMP, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_UDP, BPF_L_QPORT, BPF_L_NEXT);
	bpf_emit(b, JEQ, IPPROTO_TCP, BPF_L_QPORT, BPF_L_REJ);
	bpf_label(b, BPF_L_QICMP);
	bpf_stmt(b, LD_H_ABS, 48 + 40 + 4);
	bpf_emit(b, JEQ, icmp_id, BPF_L_ACC, BPF_L_REJ);
	bpf_label(b, BPF_L_QPORT);
	bpf_stmt(b, LD_H_ABS, 48 + 40);
	bpf_ports(b, ports, nports);
	bpf_label(b, BPF_L_TCP);
	bpf_stmt(b, LD_B_ABS, 40 + 13);
	bpf_emit(b, JSET, 0x04, BPF_L_TPORT, BPF_L_NEXT);
	bpf_stmt(b, BPF_ALU | BPF_AND | BPF_K, 0x12);
	bpf_emit(b, JEQ, 0x12, BPF_L_TPORT, BPF_L_REJ);
	bpf_label(b, BPF_L_TPORT);
	bpf_stmt(b, LD_H_ABS, 40 + 2);
	bpf_ports(b, ports, nports);
	bpf_label(b, BPF_L_ACC);
	bpf_stmt(b, BPF_RET | BPF_K, 0xffff);
	bpf_label(b, BPF_L_REJ);
	bpf_stmt(b, BPF_RET | BPF_K, 0);
}

int bpf_filter_build(int family, uint16_t icmp_id, const uint16_t *ports, size_t nports,
		     struct sock_filter *out, size_t cap)
{
	struct bpf_prog_builder b;
	int err;

	if ((family != AF_INET && family != AF_INET6) || (!ports && nports) || (!out && cap))
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	if (family == AF_INET)
		bpf_build4(&b, icmp_id, ports, nports);
	else
		bpf_build6(&b, icmp_id, ports, nports);
	err = bpf_resolve(&b);
	if (err < 0)
		return err;
	if ((size_t)b.n > cap)
		return -E2BIG;
	memcpy(out, b.ins, (size_t)b.n * sizeof(out[0]));
	return b.n;
}
