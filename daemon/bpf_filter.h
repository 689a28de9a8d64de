/*
 * bpf_filter: builds the classic-BPF socket filter of a receive ring, which keeps only
 * packets that can answer one of our probes (our ICMP echo id, our UDP/TCP source
 * ports). A pure function: never attaches the program, allocates or does I/O.
 */
#ifndef HOPWATCH_DAEMON_BPF_FILTER_H
#define HOPWATCH_DAEMON_BPF_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* Ports one filter takes: the engine's NET_PORTS_MAX plus its two reserved ones. */
#define BPF_FILTER_PORTS_MAX 66
/* Instructions in one filter: the fixed part plus two port lists. */
#define BPF_FILTER_INSNS_MAX (48 + 2 * (BPF_FILTER_PORTS_MAX + 2))

/*
 * Fill out (cap instructions) with the filter for family (AF_INET or AF_INET6; offset 0
 * is the IP header, as a SOCK_DGRAM packet socket sees it). Returns the program's length,
 * -E2BIG when it does not fit cap or a branch would jump too far, -EINVAL on bad
 * arguments.
 */
int bpf_filter_build(int family, uint16_t icmp_id, const uint16_t *ports, size_t nports,
		     struct sock_filter *out, size_t cap);

#endif
