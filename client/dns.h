/*
 * dns: asynchronous reverse DNS for hop names (libevent's evdns, the system's resolver
 * configuration) with a bounded cache keyed by address. Owns the evdns base and every
 * query; never blocks the event loop except in dns_wait(), which a report calls on purpose.
 * Names from the network are untrusted: they are escaped and bounded before they are
 * stored, so nothing handed out can drive a terminal or split a record.
 */
#ifndef HOPWATCH_CLIENT_DNS_H
#define HOPWATCH_CLIENT_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "client/stats.h"

/* Longest name kept, in raw bytes (RFC 1035: 253 characters of text). */
#define DNS_NAME_MAX 253
/* An escaped name grows at most 4x (\xNN per byte), plus the NUL. */
#define DNS_ESC_MAX (4 * DNS_NAME_MAX + 1)
/* Addresses remembered; the least recently used answered entry makes room. */
#define DNS_CACHE_MAX 1024
/* A failed lookup (no name, timeout, server failure) is retried after this long. */
#define DNS_NEGATIVE_TTL_S 300
/* How long a report waits, at most and in total, for the names of its hops. */
#define DNS_REPORT_WAIT_US 2000000
/* Environment variable naming a resolv.conf to use instead of the system's (tests). */
#define DNS_RESOLV_CONF_ENV "HOPWATCH_RESOLV_CONF"

struct event_base;
struct dns;

/* The pure cache, exposed for tests. Times are seconds on any monotonic clock. */
enum dns_state {
	DNS_STATE_EMPTY,   /* slot unused */
	DNS_STATE_PENDING, /* a query is out */
	DNS_STATE_FOUND,   /* name holds the name, unescaped */
	DNS_STATE_MISSING, /* negative: no name, until stamp_s + DNS_NEGATIVE_TTL_S */
};

struct dns_entry {
	struct addr addr;
	enum dns_state state;
	int64_t stamp_s; /* when the answer (or the failure) came */
	uint64_t used;	 /* cache tick of the last lookup, for LRU eviction */
	char name[DNS_ESC_MAX];
};

struct dns_cache {
	size_t n; /* slots in use, entries[0..n) */
	uint64_t tick;
	struct dns_entry entries[DNS_CACHE_MAX];
};

void dns_cache_init(struct dns_cache *c);
/* The entry for addr, or NULL. Counts as a use (LRU). */
struct dns_entry *dns_cache_find(struct dns_cache *c, const struct addr *addr);
/*
 * A new PENDING entry for addr (which must not be present). When full, the least recently
 * used entry that is not PENDING is evicted; NULL when every slot is PENDING.
 */
struct dns_entry *dns_cache_add(struct dns_cache *c, const struct addr *addr);
/* Store an answer: the name as received (bounded, unescaped), or MISSING when name is NULL or empty. */
void dns_cache_answer(struct dns_entry *e, const char *name, int64_t now_s);
/* Whether a lookup of e should (re)start a query: an expired negative entry. */
int dns_cache_stale(const struct dns_entry *e, int64_t now_s);

/*
 * A resolver on base. resolv_conf: a resolv.conf path, or NULL for the system's
 * configuration. Returns 0 or -errno (-EINVAL: the configuration could not be read).
 * Free with dns_free() before the event base. evdns still owes a call for each forward
 * lookup it was given, cancelled or not; until the last has come the resolver stays, and
 * then goes from the loop. An owner about to free the base runs it DNS_TEARDOWN_PASSES
 * times without blocking first, so that nothing is left behind.
 */
int dns_new(struct dns **out, struct event_base *base, const char *resolv_conf);
struct dns *dns_free(struct dns *d);

/* Loop passes for evdns's owed calls and the resolver's end after them. */
#define DNS_TEARDOWN_PASSES 4

/*
 * The name (unescaped: renderers escape) of addr if known, else NULL at once; a query is started in the
 * background when none is out. d may be NULL (-n): always NULL, nothing sent.
 */
const char *dns_lookup(struct dns *d, const struct addr *addr);

/* Most addresses one wait takes (every hop and its responders). */
#define DNS_WAIT_MAX (256 * 9)
/* dns_wait(): nothing to wait for (d NULL, or every name known), done is not called. */
#define DNS_WAIT_NONE 1

struct dns_waiter;
/* The wait ended: pending names still unanswered (0 = all in). */
typedef void (*dns_wait_fn)(void *ctx, size_t pending);

/*
 * Start lookups for addrs (family 0 entries are skipped) and, without blocking, call done
 * from the event loop once each one is answered or timeout_us has passed. Returns 0 with
 * *out the waiter (free it with dns_waiter_free(), after done or to cancel),
 * DNS_WAIT_NONE when there is nothing to wait for (d NULL or all known; done not called),
 * or -errno.
 */
int dns_wait(struct dns *d, const struct addr *addrs, size_t n, int64_t timeout_us,
	     dns_wait_fn done, void *ctx, struct dns_waiter **out);
struct dns_waiter *dns_waiter_free(struct dns_waiter *w);

struct dns_resolve;
/* A forward lookup ended: rc 0 with addr the first usable address, or -ENOENT (addr NULL). */
typedef void (*dns_resolve_fn)(void *ctx, int rc, const struct addr *addr);

/*
 * Look host up (a name, or a numeric address of either family) without blocking;
 * family 4, 6 or 0 (either). done is called once, from the event loop. *out is the
 * request: free it with dns_resolve_free() after done, or to cancel (done is then never
 * called). 0 or -errno (-EINVAL: no resolver, a bad host or family).
 */
int dns_resolve(struct dns *d, const char *host, int family, dns_resolve_fn done, void *ctx,
		struct dns_resolve **out);
struct dns_resolve *dns_resolve_free(struct dns_resolve *r);

#endif
