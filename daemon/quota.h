/*
 * quota: socket mode's per-peer-uid limits, shared by all of a uid's connections:
 * connections, probes in flight, the uid's share of the engine's probe table, and a token
 * bucket of probes per second (burst of one second). The admit, share and idle rules are
 * pure functions of the entry and the numbers passed in; the registry finds, creates and
 * ages out entries and counts the uids connected. Never reads the clock itself.
 */
#ifndef HOPWATCH_DAEMON_QUOTA_H
#define HOPWATCH_DAEMON_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

/* Token bucket unit: one probe is worth this many units (a unit per nanosecond at 1/s). */
#define QUOTA_NS_PER_S 1000000000ull

/*
 * The probe table's share kept back for uids that hold little: 1/8 (8,192 of 65,536
 * slots), and the most of it one uid may hold: 1/8 of that (1,024 probes, a trace of 30
 * hops at 30 probes in flight per hop).
 */
#define QUOTA_RESERVE_DIV     8
#define QUOTA_RESERVE_PER_UID 8

struct quota_limits {
	uint32_t inflight;    /* probes in flight per uid */
	uint32_t rate;	      /* probes per second per uid */
	uint32_t conns;	      /* connections per uid, 0 = no limit of its own */
	uint32_t table_slots; /* probes the engine holds at most, 0 = no share rule */
};

/* What one peer uid shares across its connections. */
struct quota_user {
	uid_t uid;
	uint32_t refs;	    /* sessions (open or closing) of this uid: its connections */
	uint32_t inflight;  /* probes in flight, all sessions */
	uint64_t tokens;    /* rate bucket, QUOTA_NS_PER_S units per probe */
	uint64_t refill_ns; /* monotonic time of the last refill */
	struct quota *reg;  /* the registry that counts it; NULL for a bare entry */
	struct quota_user *next;
};

/* Outcome of quota_admit. */
enum quota_verdict {
	QUOTA_ADMIT = 0,
	QUOTA_EXHAUSTED = 1, /* too many in flight, or the bucket is empty */
};

/* A fresh entry: nothing in flight, a full bucket as of now_ns. */
void quota_user_init(struct quota_user *u, uid_t uid, const struct quota_limits *lim,
		     uint64_t now_ns);

/*
 * One more probe for u at now_ns? Refills the bucket (at most one second's worth) and
 * takes a token when admitted; in-flight accounting is the caller's (u->inflight).
 */
enum quota_verdict quota_admit(struct quota_user *u, const struct quota_limits *lim,
			       uint64_t now_ns);

/*
 * May a uid holding 'held' probes take one more slot of a table of 'slots' with 'used'
 * taken, while 'active' uids are connected? Above the reserve, up to its fair share
 * (slots / active); inside the reserve only a uid that holds little (slots /
 * QUOTA_RESERVE_DIV / QUOTA_RESERVE_PER_UID): a few uids that fill the table up to their
 * quotas leave room for the next one at once, not when their probes time out. Pure.
 */
int quota_share_allows(uint32_t held, uint32_t active, uint32_t used, uint32_t slots);

/*
 * quota_admit, after the share rule for a table with table_used slots taken
 * (lim->table_slots); the uids counted are those of u's registry.
 */
enum quota_verdict quota_admit_shared(struct quota_user *u, const struct quota_limits *lim,
				      uint64_t now_ns, uint32_t table_used);

/* Another connection of u? (lim->conns; u->refs are its connections now.) Pure. */
int quota_conn_allowed(const struct quota_user *u, const struct quota_limits *lim);

/* An entry nobody uses whose bucket is full again: dropping it gains a client nothing. */
int quota_user_idle(const struct quota_user *u, uint64_t now_ns);

struct quota;

int quota_new(struct quota **out, const struct quota_limits *lim);
struct quota *quota_free(struct quota *q);

const struct quota_limits *quota_limits(const struct quota *q);

/*
 * The entry of uid, created when missing (idle entries are dropped on the way). Its
 * refs are the caller's to count (quota_hold, quota_put). NULL when out of memory.
 */
struct quota_user *quota_get(struct quota *q, uid_t uid, uint64_t now_ns);

/* uids with at least one session now. */
uint32_t quota_active(const struct quota *q);

/* A session of u begins. */
void quota_hold(struct quota_user *u);

/* A session of u is gone (NULL-safe). */
void quota_put(struct quota_user *u);

#endif
