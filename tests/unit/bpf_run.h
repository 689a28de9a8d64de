/*
 * bpf_run: a classic-BPF interpreter for tests, with the kernel's semantics for the
 * opcodes bpf_filter emits. Anything else is refused, never guessed at.
 */
#ifndef HOPWATCH_TESTS_BPF_RUN_H
#define HOPWATCH_TESTS_BPF_RUN_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Like the kernel's check: length 1..BPF_MAXINSNS, jumps in range, RET last, scratch
 * words in range and stored on every path before they are loaded. 0/-EINVAL.
 */
int bpf_run_check(const struct sock_filter *f, size_t len);
/* Run f over pkt (pkttype for SKF_AD_PKTTYPE); *ret = bytes kept. 0, -ENOTSUP or -EINVAL. */
int bpf_run(const struct sock_filter *f, size_t len, const uint8_t *pkt, size_t plen,
	    uint32_t pkttype, uint32_t *ret);

#endif
