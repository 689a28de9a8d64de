/*
 * asn: AS information of hop addresses (mtr's -z / -y) from Team Cymru's DNS TXT records,
 * "<reversed address>.origin[6].asn.cymru.com" -> "AS | prefix | CC | registry | date",
 * and, for --analyze, the AS's name: "AS<N>.asn.cymru.com" -> "N | CC | registry | date |
 * NAME, CC". Owns one UDP socket to the first nameserver of the resolver configuration,
 * its queries and two bounded caches (origins by address, names by AS number); never
 * blocks except that a report waits for it on purpose. The parsers and builders are pure
 * (no I/O, no allocation); answers are untrusted text.
 */
#ifndef HOPWATCH_CLIENT_ASN_H
#define HOPWATCH_CLIENT_ASN_H

#include <stddef.h>
#include <stdint.h>

#include "client/diagnose.h"
#include "common/addr.h"

/* mtr's NAMELEN: the longest TXT text kept (the rest of a longer string is dropped). */
#define ASN_TXT_MAX 127
/* mtr's ITEMSMAX + 1: fields split from one answer at most. */
#define ASN_FIELDS_MAX 16
/* mtr's -y values: AS number, prefix, country, registry, allocation date. */
#define ASN_FIELD_COUNT 5
/* mtr's fmtinfo buffer: a formatted column is cut to this, NUL included. */
#define ASN_FORMAT_MAX 128
/* What mtr shows for an unknown value. */
#define ASN_UNKNOWN "???"
/* Longest query name: 16 nibbles of an IPv6 /64 plus the suffix, and the NUL. */
#define ASN_QNAME_MAX 64
/* A query message: header, the name as labels, type and class. */
#define ASN_QUERY_MAX (12 + ASN_QNAME_MAX + 2 + 4)
/* UDP DNS without EDNS (RFC 1035 4.2.1); a longer datagram is cut and parsed as such. */
#define ASN_MSG_MAX 512
/* Addresses remembered, and AS names apart; the least recently used answered one makes room. */
#define ASN_CACHE_MAX 256
/* A failed or empty lookup is retried after this long. */
#define ASN_NEGATIVE_TTL_S 300
/* Queries out at once; the rest wait their turn in the cache as pending. */
#define ASN_INFLIGHT_MAX 16
/* One try's wait for an answer, and the tries after the first (as a stub resolver). */
#define ASN_TIMEOUT_US 1000000
#define ASN_RETRIES    1
/* How long a report waits, at most and in total, for the AS data of its hops. */
#define ASN_REPORT_WAIT_US 3000000
/* Most addresses one wait takes (every hop and its responders). */
#define ASN_WAIT_MAX (256 * 9)
/* Longest AS number as text (2^32 - 1). */
#define ASN_NUMBER_DIGITS 10
/* The record's field of the AS name ("N | CC | registry | date | NAME, CC"). */
#define ASN_NAME_FIELD 4
/* The fields a name record needs: up to the name's. */
#define ASN_NAME_FIELDS (ASN_NAME_FIELD + 1)
/* Longest resolv.conf line looked at. */
#define ASN_RESOLV_LINE_MAX 512

/* asn_parse() outcomes besides 0 (txt holds the record's text). */
enum asn_parse_result {
	ASN_PARSE_NONE = 1, /* a valid answer without a TXT record (NXDOMAIN, no data) */
	ASN_PARSE_FAIL = 2, /* the server failed (SERVFAIL, REFUSED, ...): negative too */
};

/* asn_wait(): nothing to wait for (a NULL, or every address known); done not called. */
#define ASN_WAIT_NONE 1

/*
 * The query name of addr: "d.c.b.a.origin.asn.cymru.com" for IPv4, the nibbles of the
 * top 64 bits reversed then ".origin6.asn.cymru.com" for IPv6 (as mtr 0.95 asks).
 * Returns the length, or -EINVAL (no address) / -ENOSPC.
 */
int asn_qname(const struct addr *addr, char *out, size_t cap);

/*
 * The query name of an AS's record, "AS<asnum>.asn.cymru.com". Returns the length, or
 * -EINVAL (asnum 0) / -ENOSPC.
 */
int asn_name_qname(uint32_t asnum, char *out, size_t cap);

/*
 * An origin record's AS number (field 0; of several origins, the first) and prefix
 * (field 1, "" when missing or not made of address characters, or longer than cap - 1).
 * 0, or -ENOENT when field 0 is not an AS number (1 .. 2^32 - 1, digits only).
 */
int asn_origin_split(const char *txt, uint32_t *asnum, char *prefix, size_t cap);

/*
 * The name in an AS's record for asnum: field 4 without the ", CC" that repeats the
 * record's country (field 1), white space trimmed, anything but printable ASCII made
 * '?', cut to cap - 1. 0, or -ENOENT: not asnum's record (field 0), too few fields or
 * an empty name.
 */
int asn_name_split(const char *txt, uint32_t asnum, char *name, size_t cap);

/*
 * A recursive TXT/IN query for qname with id into buf. Returns its length (> 0), or
 * -EINVAL (an empty or bad label, a name over 253) / -ENOSPC.
 */
int asn_query_build(uint8_t *buf, size_t cap, uint16_t id, const char *qname);

/*
 * The answer to asn_query_build(id, qname), in msg: every length checked against len,
 * compression pointers followed only backwards and at most a few times. On 0, txt holds
 * the first character-string of the first TXT record of the answer (cut to cap - 1 and
 * ASN_TXT_MAX; bytes as received: NULs become '?', anything else is left for the
 * printer to escape). -ENOMSG: not a response to this query (id, question); -EBADMSG:
 * malformed or truncated. Or an enum asn_parse_result.
 */
int asn_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname, char *txt,
	      size_t cap);

/*
 * Field n of a record, split as mtr does: on '|', each field trimmed of white space, at
 * most ASN_FIELDS_MAX fields; a record with fewer than n + 1 fields gives field 0.
 * Returns the number of fields (>= 1), with out holding field n (cut to cap - 1).
 */
int asn_field(const char *txt, int n, char *out, size_t cap);

/*
 * mtr's column: "AS" then the value for field 0, the value alone for the others, left
 * aligned to mtr 0.95's width for the field (7, 19, 4, 8, 11); value NULL is "???". The
 * value is escaped (common/text) and the whole cut to ASN_FORMAT_MAX - 1, so nothing it
 * holds can drive a terminal or split a record. Returns the length written.
 */
size_t asn_format(char *out, size_t cap, int field, const char *value);
/* mtr's width of field's column, "AS" not counted. */
int asn_field_width(int field);

/*
 * The nameserver a resolv.conf text names first ("nameserver ADDR"): 0, or -ENOENT
 * when there is none usable.
 */
int asn_resolv_parse(const char *text, size_t len, struct addr *out);

/* The pure cache, exposed for tests. Times are seconds on any monotonic clock. */
enum asn_state {
	ASN_STATE_EMPTY,
	ASN_STATE_PENDING, /* queued or asked */
	ASN_STATE_FOUND,   /* txt holds the record */
	ASN_STATE_MISSING, /* negative until stamp_s + ASN_NEGATIVE_TTL_S */
};

/* An origin entry is keyed by addr, a name entry (addr.family 0) by asnum. */
struct asn_entry {
	struct addr addr;
	uint32_t asnum;
	enum asn_state state;
	int asked;	 /* with PENDING: a query is out (else it waits for a free slot) */
	int64_t stamp_s; /* when the answer (or the failure) came */
	uint64_t used;	 /* cache tick of the last lookup, for LRU eviction */
	char txt[ASN_TXT_MAX + 1];
	/* An origin entry's AS data for the diagnosis, filled by asn_cache_as(). */
	struct diagnose_as as;
};

struct asn_cache {
	size_t n; /* entries[0..n) in use */
	uint64_t tick;
	struct asn_entry entries[ASN_CACHE_MAX];
};

void asn_cache_init(struct asn_cache *c);
/* The entry for addr, or NULL. Counts as a use. */
struct asn_entry *asn_cache_find(struct asn_cache *c, const struct addr *addr);
/* A new PENDING entry (addr must be absent); evicts the LRU non-pending one; NULL if none. */
struct asn_entry *asn_cache_add(struct asn_cache *c, const struct addr *addr);
/* The same for the name entry of asnum (in a cache of names). */
struct asn_entry *asn_cache_find_as(struct asn_cache *c, uint32_t asnum);
struct asn_entry *asn_cache_add_as(struct asn_cache *c, uint32_t asnum);
/* Store a record (bounded) or, txt NULL or empty, a negative answer. */
void asn_cache_answer(struct asn_entry *e, const char *txt, int64_t now_s);
/* Whether a lookup should (re)start a query: an expired negative entry. */
int asn_cache_stale(const struct asn_entry *e, int64_t now_s);

/*
 * The AS data of addr from a cache of origins and one of names, read only: no lookup is
 * started. Fills the origin entry's as (asn and prefix from its record, the name from
 * names when known, else "") and returns it, so the pointer stays valid until the
 * entry's next answer or eviction; NULL when addr has no origin record with an AS number.
 */
const struct diagnose_as *asn_cache_as(struct asn_cache *origins, struct asn_cache *names,
				       const struct addr *addr);

struct event_base;
struct asn;

/*
 * A resolver for AS data on base, asking the first nameserver of resolv_conf (NULL: the
 * system's /etc/resolv.conf). 0 or -errno (-ENOENT: no nameserver). Free before the base.
 */
int asn_new(struct asn **out, struct event_base *base, const char *resolv_conf);
struct asn *asn_free(struct asn *a);

/*
 * The record text of addr (raw: format it with asn_field/asn_format) if known, else NULL
 * at once, a query being started or queued in the background. a may be NULL: NULL.
 */
const char *asn_lookup(struct asn *a, const struct addr *addr);

/*
 * --analyze names the AS: with on, each origin record found starts a lookup of its AS's
 * name, and asn_wait() waits for those too. Off (the default), no name is ever asked.
 */
void asn_want_names(struct asn *a, int on);

/*
 * A diagnose_as_fn over asn (a struct asn *, NULL: none) for trace_set_as(): the cache
 * only, no I/O. NULL while addr's AS is not known.
 */
const struct diagnose_as *asn_diagnose_as(void *asn, const struct addr *addr);

/*
 * The most fields any answer so far had (mtr's ipinfo_max, for the 'y' key's cycle);
 * 0 before the first one.
 */
int asn_fields_seen(const struct asn *a);

struct asn_waiter;
/* The wait ended: lookups still unanswered (0 = all in). */
typedef void (*asn_wait_fn)(void *ctx, size_t pending);

/*
 * Start lookups for addrs (family 0 skipped) and call done from the loop once all are
 * answered (with asn_want_names, their AS names too) or timeout_us has passed. 0 with *out the waiter (free it after done, or to
 * cancel), ASN_WAIT_NONE, or -errno.
 */
int asn_wait(struct asn *a, const struct addr *addrs, size_t n, int64_t timeout_us,
	     asn_wait_fn done, void *ctx, struct asn_waiter **out);
struct asn_waiter *asn_waiter_free(struct asn_waiter *w);

#endif
