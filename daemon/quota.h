/*
 * quota: socket mode's per-peer-uid limits, shared by all of a uid's connections: probes
 * in flight, and a token bucket of probes per second (burst of one second). The admit
 * and idle rules are pure functions of the entry and a clock reading passed in; the
 * registry only finds, creates and ages out entries. Never reads the clock itself.
 */
#ifndef HOPWATCH_DAEMON_QUOTA_H
#define HOPWATCH_DAEMON_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

/* Token bucket unit: one probe is worth this many units (a unit per nanosecond at 1/s). */
#define QUOTA_NS_PER_S 1000000000ull

struct quota_limits {
	uint32_t inflight; /* probes in flight per uid */
	uint32_t rate;	   /* probes per second per uid */
};

/* What one peer uid shares across its connections. */
struct quota_user {
	uid_t uid;
	uint32_t refs;	    /* sessions (open or closing) of this uid */
	uint32_t inflight;  /* probes in flight, all sessions */
	uint64_t tokens;    /* rate bucket, QUOTA_NS_PER_S units per probe */
	uint64_t refill_ns; /* monotonic time of the last refill */
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

/* An entry nobody uses whose bucket is full again: dropping it gains a client nothing. */
int quota_user_idle(const struct quota_user *u, uint64_t now_ns);

struct quota;

int quota_new(struct quota **out, const struct quota_limits *lim);
struct quota *quota_free(struct quota *q);

const struct quota_limits *quota_limits(const struct quota *q);

/*
 * The entry of uid, created when missing (idle entries are dropped on the way). Its
 * refs are the caller's to count. NULL when out of memory.
 */
struct quota_user *quota_get(struct quota *q, uid_t uid, uint64_t now_ns);

/* A session of u is gone (NULL-safe). */
void quota_put(struct quota_user *u);

#endif
