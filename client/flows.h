/*
 * flows: the per-flow paths of a multi-flow (Paris, --flows N) trace. Owns one stats
 * table per flow id 0..n-1, fed beside the trace's aggregated table, and says at which
 * hops the flows' responders differ. Pure bookkeeping: never probes, never renders, never
 * picks which flow a probe carries (the scheduler does).
 */
#ifndef HOPWATCH_CLIENT_FLOWS_H
#define HOPWATCH_CLIENT_FLOWS_H

#include <stddef.h>

#include "client/stats.h"

/*
 * Most flows one trace follows: enough to see every branch of the usual 2..8-way ECMP
 * groups with a good chance (16 flows all hash onto one of two branches 1 time in
 * 32768), and a bound on the tables kept (16 per trace).
 */
#define FLOWS_MAX 16

struct flows;

/* Tables for flows 0..n-1 (1 <= n <= FLOWS_MAX). 0, -EINVAL or -ENOMEM. */
int flows_new(struct flows **out, int n);
struct flows *flows_free(struct flows *f);
/* Every flow's table back to new. */
void flows_reset(struct flows *f);
int flows_count(const struct flows *f);
/* Flow id flow's table, NULL outside 0..n-1. */
const struct stats_table *flows_table(const struct flows *f, int flow);

/* As stats_sent, stats_unsent and stats_answer, for one flow (ignored outside 0..n-1). */
int flows_sent(struct flows *f, int flow, int ttl);
void flows_unsent(struct flows *f, int flow, int ttl);
void flows_answer(struct flows *f, int flow, int ttl, enum stats_outcome outcome,
		  const struct addr *from, int64_t rtt_us, const struct stats_mpls *mpls,
		  size_t nmpls);

/* The deepest stats_last_hop() of any flow: the hops a flows report covers. */
int flows_last_hop(const struct flows *f);
/*
 * 1 when the flows do not all see the same one responder at ttl: one flow saw several,
 * or two flows saw different ones, or one got answers and another none. 0 otherwise
 * (also when nobody answered there at all). Flows with no probe sent at ttl are left out.
 */
int flows_hop_differs(const struct flows *f, int ttl);
/*
 * The responder of flow's hop that gave the most answers (the first seen of equals),
 * or NULL when none answered.
 */
const struct stats_responder *flows_main_responder(const struct flows *f, int flow, int ttl);

/* Heap bytes: itself and every flow's table. */
size_t flows_bytes(const struct flows *f);

#endif
