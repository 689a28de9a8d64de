/*
 * path: the simulated path's decisions. Given a probe (family, protocol, destination,
 * TTL, flow hash) and the time, says what happens to it: which node answers and how,
 * or where it dies, and the RTT to apply. Owns the PRNG (xoshiro256**, seeded from the
 * scenario, so a run is repeatable) and the token buckets; never touches packets or I/O.
 */
#ifndef HOPWATCH_NETSIM_PATH_H
#define HOPWATCH_NETSIM_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#define PATH_TTL_MAX 255

enum path_fate {
	PATH_FATE_ANSWER = 0,  /* a node answers after delay_us */
	PATH_FATE_LOST,	       /* real loss: died on arrival at pos */
	PATH_FATE_SILENT,      /* reached the node, which chose not to answer (reply PROB) */
	PATH_FATE_NOADDR,      /* the node has no address of this family: no answer */
	PATH_FATE_RATELIMITED, /* the node's token bucket was empty */
	PATH_FATE_DROPPED,     /* the destination drops this protocol */
	PATH_FATE_NOROUTE,     /* not addressed to the destination: ignored */
};

enum path_kind {
	PATH_KIND_TTL_EXCEEDED = 0,
	PATH_KIND_ECHO_REPLY,
	PATH_KIND_PORT_UNREACH,
	PATH_KIND_TCP_SYNACK,
	PATH_KIND_TCP_RST,
};

/* The protocol of a probe, as the path sees it (ICMP means echo, v4 or v6). */
enum path_proto { PATH_PROTO_ICMP = 0, PATH_PROTO_UDP, PATH_PROTO_TCP };

struct path_probe {
	int family; /* AF_INET or AF_INET6 */
	enum path_proto proto;
	const void *dst; /* network order, 4 or 16 bytes */
	uint8_t ttl;
	uint64_t flow; /* hash of the fields routers use for ECMP */
};

struct path_result {
	enum path_fate fate;
	enum path_kind kind;		/* PATH_FATE_ANSWER */
	size_t pos;			/* 1-based hop position on the path (the TTL it took) */
	size_t node;			/* 1-based scenario hop, 0 = the destination */
	const struct scenario_hop *hop; /* the node at pos, NULL for NOROUTE */
	size_t resp;			/* responder index within hop (ANSWER, SILENT, ...) */
	uint32_t delay_us;		/* RTT to apply (ANSWER) */
};

struct path_bucket {
	double tokens;
	uint64_t last_us;
};

/* One counter per possible TTL (1..255). */
#define PATH_TTL_SLOTS 256

struct path {
	const struct scenario *s;
	uint64_t rng[4]; /* path_rand(): draws not tied to a probe */
	/*
	 * Probes seen per TTL. The k-th probe with TTL t draws all its random numbers from
	 * a stream seeded by (seed, t, k): it meets the same fate whatever other probes
	 * came before it, so a scenario plays out the same for a given seed even when the
	 * prober's timing changes how many probes go elsewhere (TTLs past the destination
	 * in a first round, retries).
	 */
	uint64_t count[PATH_TTL_SLOTS];
	struct path_bucket buckets[SCENARIO_HOPS_MAX + 1]; /* [0] is the destination */
};

/* Set up p for scenario s (kept by pointer; it must outlive p). */
void path_init(struct path *p, const struct scenario *s);

/* Decide the fate of one probe arriving at now_us (any monotonic microsecond clock). */
void path_decide(struct path *p, const struct path_probe *pr, uint64_t now_us,
		 struct path_result *out);

/* Draw from the PRNG: 64 random bits, and a double in [0, 1). */
uint64_t path_rand(struct path *p);
double path_rand_unit(struct path *p);

/* Short names for logs: "answer", "lost", ...; "ttl-exceeded", "echo-reply", ... */
const char *path_fate_name(enum path_fate f);
const char *path_kind_name(enum path_kind k);

#endif
