/*
 * scenario: the netsim scenario file format (tests/netsim/README.md), text in, struct out.
 * Owns the grammar and every limit of a scenario. Pure: no I/O, no allocation, no global
 * state; the caller provides the struct and gets a line number and a reason on error.
 */
#ifndef HOPWATCH_NETSIM_SCENARIO_H
#define HOPWATCH_NETSIM_SCENARIO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define SCENARIO_TEXT_MAX	  (256 * 1024) /* bytes of scenario text */
#define SCENARIO_LINE_MAX	  512	       /* bytes of one line, without the newline */
#define SCENARIO_TOKENS_MAX	  16	       /* words on one line */
#define SCENARIO_HOPS_MAX	  64	       /* hops before the destination */
#define SCENARIO_RESPONDERS_MAX	  8	       /* ECMP responders of one hop */
#define SCENARIO_MPLS_MAX	  4	       /* label stack entries of one hop */
#define SCENARIO_PREFIXES_MAX	  8	       /* destination prefixes */
#define SCENARIO_DELAY_MAX_US	  10000000     /* 10 s: any single delay figure */
#define SCENARIO_WEIGHT_MAX	  1000	       /* ECMP responder weight */
#define SCENARIO_RATE_MAX	  10000000     /* token bucket refill, per second */
#define SCENARIO_BURST_MAX	  10000000     /* token bucket depth */
#define SCENARIO_MPLS_LABEL_MAX	  0xfffff      /* 20 bits */
#define SCENARIO_MPLS_EXP_MAX	  7
#define SCENARIO_MPLS_TTL_MAX	  255
#define SCENARIO_MPLS_TTL_DEFAULT 1
#define SCENARIO_PORT_MAX	  65535

enum scenario_jitter {
	SCENARIO_JITTER_NONE = 0,
	SCENARIO_JITTER_UNIFORM, /* uniform in [-width, +width] */
	SCENARIO_JITTER_NORMAL,	 /* normal with stddev width */
};

/* One random delay: base + jitter + (with probability spike_prob) spike. */
struct scenario_delay {
	uint32_t base_us;
	enum scenario_jitter jitter;
	uint32_t jitter_us; /* half width (uniform) or stddev (normal) */
	double spike_prob;  /* 0..1 */
	uint32_t spike_us;  /* added when a spike happens */
};

enum scenario_ecmp {
	SCENARIO_ECMP_FLOW = 0, /* responder chosen by a hash of the flow (5-tuple) */
	SCENARIO_ECMP_PACKET,	/* responder chosen per packet */
};

struct scenario_responder {
	int has_v4, has_v6;
	struct in_addr v4;
	struct in6_addr v6;
	uint32_t weight; /* 1..SCENARIO_WEIGHT_MAX */
};

struct scenario_mpls {
	uint32_t label;
	uint8_t exp, ttl;
};

/* What the destination does with each probe protocol. */
enum scenario_icmp_mode { SCENARIO_ICMP_ECHO = 0, SCENARIO_ICMP_DROP };
enum scenario_udp_mode { SCENARIO_UDP_UNREACH = 0, SCENARIO_UDP_DROP };
enum scenario_tcp_mode { SCENARIO_TCP_RST = 0, SCENARIO_TCP_SYNACK, SCENARIO_TCP_DROP };

/* A hop, or the destination (same fields; the dest-only ones are ignored on hops). */
struct scenario_hop {
	struct scenario_responder resp[SCENARIO_RESPONDERS_MAX];
	size_t nresp;
	enum scenario_ecmp ecmp;
	struct scenario_delay delay; /* added to the RTT of every probe reaching this hop */
	struct scenario_delay local; /* added only when this hop itself answers */
	double reply_prob;	     /* chance this hop answers at all (1 = always) */
	uint32_t rate;		     /* token bucket: answers per second, 0 = unlimited */
	uint32_t burst;		     /* token bucket depth (>= 1 when rate is set) */
	double loss;		     /* chance a probe dies on arrival here (real loss) */
	struct scenario_mpls mpls[SCENARIO_MPLS_MAX];
	size_t nmpls;
	/* destination only */
	enum scenario_icmp_mode icmp;
	enum scenario_udp_mode udp;
	enum scenario_tcp_mode tcp;
};

struct scenario_prefix {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr; /* host bits cleared */
	unsigned int len;
};

struct scenario {
	uint64_t seed;
	struct scenario_hop hops[SCENARIO_HOPS_MAX];
	size_t nhops;
	int has_dest;
	struct scenario_hop dest;
	struct scenario_prefix prefixes[SCENARIO_PREFIXES_MAX];
	size_t nprefixes;
	size_t loop_from; /* 1-based hop where a routing loop re-enters, 0 = no loop */
};

struct scenario_error {
	size_t line;	    /* 1-based, 0 when not tied to a line */
	const char *reason; /* static string */
};

/*
 * Parse len bytes of text into out (fully overwritten). Returns 0, or -EINVAL with err
 * filled (line and reason), or -E2BIG when text exceeds SCENARIO_TEXT_MAX.
 * NUL bytes in the text are an error.
 */
int scenario_parse(const char *text, size_t len, struct scenario *out, struct scenario_error *err);

/* 1 when addr (family AF_INET or AF_INET6, network order) is a destination address. */
int scenario_is_dest(const struct scenario *s, int family, const void *addr);

#endif
