/*
 * quota: a token bucket per uid, refilled lazily from the clock reading of the batch
 * being handled (precise enough for a per-second rate), and an unordered list of uids:
 * there are at most as many entries as clients connected plus those that left less
 * than a second ago.
 */
#include "daemon/quota.h"

#include <errno.h>
#include <stdlib.h>

struct quota {
	struct quota_limits lim;
	struct quota_user *users;
	uint32_t active; /* entries with refs > 0 */
};

void quota_user_init(struct quota_user *u, uid_t uid, const struct quota_limits *lim,
		     uint64_t now_ns)
{
	u->uid = uid;
	u->refs = 0;
	u->inflight = 0;
	u->tokens = (uint64_t)lim->rate * QUOTA_NS_PER_S;
	u->refill_ns = now_ns;
	u->reg = NULL;
	u->next = NULL;
}

enum quota_verdict quota_admit(struct quota_user *u, const struct quota_limits *lim,
			       uint64_t now_ns)
{
	uint64_t cap = (uint64_t)lim->rate * QUOTA_NS_PER_S, dt;

	if (u->inflight >= lim->inflight)
		return QUOTA_EXHAUSTED;
	if (now_ns > u->refill_ns) {
		dt = now_ns - u->refill_ns;
		if (dt > QUOTA_NS_PER_S)
			dt = QUOTA_NS_PER_S;
		u->tokens += dt * lim->rate;
		if (u->tokens > cap)
			u->tokens = cap;
		u->refill_ns = now_ns;
	}
	if (u->tokens < QUOTA_NS_PER_S)
		return QUOTA_EXHAUSTED;
	u->tokens -= QUOTA_NS_PER_S;
	return QUOTA_ADMIT;
}

int quota_share_allows(uint32_t held, uint32_t active, uint32_t used, uint32_t slots)
{
	uint32_t reserve = slots / QUOTA_RESERVE_DIV;

	if (used >= slots)
		return 0;
	if (slots - used > reserve)
		return held < slots / (active ? active : 1);
	return held < reserve / QUOTA_RESERVE_PER_UID;
}

enum quota_verdict quota_admit_shared(struct quota_user *u, const struct quota_limits *lim,
				      uint64_t now_ns, uint32_t table_used)
{
	uint32_t active = u->reg ? u->reg->active : 1;

	if (lim->table_slots &&
	    !quota_share_allows(u->inflight, active, table_used, lim->table_slots))
		return QUOTA_EXHAUSTED;
	return quota_admit(u, lim, now_ns);
}

int quota_conn_allowed(const struct quota_user *u, const struct quota_limits *lim)
{
	return !lim->conns || u->refs < lim->conns;
}

int quota_user_idle(const struct quota_user *u, uint64_t now_ns)
{
	return u->refs == 0 && now_ns - u->refill_ns >= QUOTA_NS_PER_S;
}

int quota_new(struct quota **out, const struct quota_limits *lim)
{
	struct quota *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->lim = *lim;
	*out = q;
	return 0;
}

struct quota *quota_free(struct quota *q)
{
	struct quota_user *u;

	if (!q)
		return NULL;
	while ((u = q->users)) {
		q->users = u->next;
		free(u);
	}
	free(q);
	return NULL;
}

const struct quota_limits *quota_limits(const struct quota *q)
{
	return &q->lim;
}

struct quota_user *quota_get(struct quota *q, uid_t uid, uint64_t now_ns)
{
	struct quota_user **pp = &q->users, *u;

	while ((u = *pp)) {
		if (u->uid == uid)
			return u;
		if (quota_user_idle(u, now_ns)) {
			*pp = u->next;
			free(u);
			continue;
		}
		pp = &u->next;
	}
	u = malloc(sizeof(*u));
	if (!u)
		return NULL;
	quota_user_init(u, uid, &q->lim, now_ns);
	u->reg = q;
	u->next = q->users;
	q->users = u;
	return u;
}

uint32_t quota_active(const struct quota *q)
{
	return q->active;
}

void quota_hold(struct quota_user *u)
{
	if (u->refs++ == 0 && u->reg)
		u->reg->active++;
}

void quota_put(struct quota_user *u)
{
	if (!u || u->refs == 0)
		return;
	if (--u->refs == 0 && u->reg && u->reg->active > 0)
		u->reg->active--;
}
