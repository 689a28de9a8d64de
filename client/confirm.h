/*
 * confirm: --analyze's second opinion. When a finished trace ended in silence or lost
 * probes only near its end, a one-protocol trace cannot tell a broken path from a
 * destination (or a router) that only ignores that protocol. A short, bounded run of
 * probes of other protocols (TCP SYN to 443 and 80, UDP, ICMP echo) to the destination,
 * and to the first TTLs past the silence, settles it. Owns the plan (pure), the run over
 * the trace's engine connection (its own engine client, timers on the shared base, never
 * a loop of its own) and its outcome as a struct diagnose_confirm; the judgement of that
 * outcome is diagnose's. Also finds this host's source address for a destination, for
 * the reverse-path advice.
 */
#ifndef HOPWATCH_CLIENT_CONFIRM_H
#define HOPWATCH_CLIENT_CONFIRM_H

#include <stddef.h>
#include <stdint.h>

#include "client/diagnose.h"
#include "client/engine_conn.h"
#include "client/stats.h"
#include "client/trace.h"

struct event_base;
struct confirm;

/* Probes per plan entry: enough to see an answer through a little loss. */
#define CONFIRM_PROBES_PER_ENTRY 3
/*
 * Loss near the end: probes to the destination by TCP 443 and ICMP, so that their loss
 * rate can be set against the trace's. Not UDP: its answers are ICMP errors, which the
 * destination's kernel rate-limits (a token bucket of about 6), and that would look like
 * loss.
 */
#define CONFIRM_LOSS_PROBES 10
/* Silence after hop N: TTLs N+1 .. N+CONFIRM_PAST_TTLS are tried too. */
#define CONFIRM_PAST_TTLS 2
/* Every probe of one run, all entries together. */
#define CONFIRM_PROBES_MAX 48
/* The engine's timeout per probe, seconds: a confirmation must stay short. */
#define CONFIRM_TIMEOUT_S 2
/* Between two waves (one probe of each entry): spreads the load a little. */
#define CONFIRM_WAVE_GAP_US 100000
/* Past the last probe's timeout: an engine that says nothing more is given up on. */
#define CONFIRM_GRACE_US 1000000
/* The TCP ports tried, in this order. */
#define CONFIRM_TCP_PORT_HTTPS 443
#define CONFIRM_TCP_PORT_HTTP  80

/* Why a confirmation runs (confirm_plan's positive outcomes). */
enum confirm_reason {
	CONFIRM_NOT_NEEDED = 1, /* the diagnosis has nothing another protocol would settle */
	CONFIRM_OFF,		/* --no-confirm, no --analyze, or a -l run */
	CONFIRM_SILENCE,	/* the destination never answered: path_interruption etc. */
	CONFIRM_LOSS,		/* loss at the last hops (dest_loss, real/mixed loss) */
};

struct confirm_entry {
	enum proto_protocol protocol;
	int port;  /* effective destination port, 0 for ICMP */
	int ttl;   /* DIAGNOSE_CONFIRM_TTL_DEST or the TTL to send with */
	int count; /* probes to send */
};

struct confirm_plan {
	enum confirm_reason reason;
	int silent_after; /* CONFIRM_SILENCE: the last TTL that answered (0 = none did) */
	int max_ttl;	  /* TTL of the probes to the destination (the trace's -m) */
	uint32_t probes;  /* sum of the counts, <= CONFIRM_PROBES_MAX */
	size_t n;
	struct confirm_entry e[DIAGNOSE_CONFIRM_MAX];
};

/*
 * Decide from a finished trace's diagnosis without confirmation (d), its table and its
 * configuration what to send. Pure. Returns a confirm_reason (out->n > 0 only for
 * CONFIRM_SILENCE and CONFIRM_LOSS), or -EINVAL. The trace's own protocol and port are
 * not tried again.
 */
int confirm_plan(const struct diagnose_result *d, const struct stats_table *t,
		 const struct trace_config *cfg, struct confirm_plan *out);

/*
 * The run ended (all answered or timed out, the engine lost, or nothing could be sent);
 * result stays valid until confirm_free, and the owner may free the confirm here. Always
 * called from the event loop, never from confirm_start.
 */
typedef void (*confirm_done_fn)(void *ctx, const struct diagnose_confirm *result);

/*
 * A run of plan against cfg's destination (its source address, device, mark and TOS
 * are kept), over conn. Nothing is sent before confirm_start. 0 or -errno.
 */
int confirm_new(struct confirm **out, struct event_base *base, struct engine_conn *conn,
		const struct trace_config *cfg, const struct confirm_plan *plan,
		confirm_done_fn done, void *ctx);
/* Stop and free at any time, answers still out are dropped. Accepts NULL. */
struct confirm *confirm_free(struct confirm *c);
/* Start sending; done follows from the loop. 0 or -EALREADY. */
int confirm_start(struct confirm *c);
/*
 * What is known so far: only probes with an outcome (answer or the engine's no-reply)
 * count as sent; ran is 1 once one of them has.
 */
const struct diagnose_confirm *confirm_result(const struct confirm *c);
/* Probes planned that never left or whose outcome never came (refused, exhausted, lost). */
uint32_t confirm_unsent(const struct confirm *c);

/*
 * The whole step for a finished trace: its diagnosis now (trace_diagnosis), the plan,
 * and a started run. 0 with *out set (done follows), a positive confirm_reason when
 * nothing is to be sent (*out NULL, done not called), or -errno.
 */
int confirm_trace(struct confirm **out, struct event_base *base, struct engine_conn *conn,
		  struct trace *t, confirm_done_fn done, void *ctx);

/*
 * This host's source address toward dst: src (-a) when given, else the one routing
 * picks, by a UDP connect() and getsockname() (nothing is sent). 0, -EINVAL or -errno.
 */
int confirm_local_addr(const struct addr *dst, const char *src, struct addr *out);

#endif
