/*
 * prober: send-probe handling, reply matching and deadlines. Owns the probes in flight
 * (probe_table), the receive events of net's sockets, the timeout timer and the
 * mark/device socket cache; answers go to the session that asked, which it never
 * frees. Never parses command lines and never accepts clients (engine.c does).
 */
#ifndef HOPWATCH_DAEMON_PROBER_H
#define HOPWATCH_DAEMON_PROBER_H

#include "proto/proto.h"

struct event_base;
struct net;
struct privsep;
struct quota_limits;
struct session;
struct session_hub;
struct prober;

/* Default probe parameters, as mtr-packet. */
#define PROBER_DEFAULT_TTL	 255
#define PROBER_DEFAULT_SIZE	 64
#define PROBER_DEFAULT_TIMEOUT_S 10

/*
 * base, net, ps and hub must outlive the prober. settled(ctx) runs at the end of each
 * of its event callbacks, after hub's sessions were flushed.
 */
int prober_new(struct prober **out, struct event_base *base, struct net *net, struct privsep *ps,
	       struct session_hub *hub, void (*settled)(void *ctx), void *ctx);
struct prober *prober_free(struct prober *pr);

/* The commands of one read share one clock reading (rates, whole-second timeouts). */
void prober_batch(struct prober *pr);

/*
 * send-probe c for s: a reply line for s now when it is refused, later when the probe is
 * answered or times out. lim is socket mode's per-uid limits (s->user), NULL otherwise.
 */
void prober_send(struct prober *pr, struct session *s, const struct proto_command *c,
		 const struct quota_limits *lim);

/*
 * s is gone: forget its probes in flight now (their slots and its uid's quota are free;
 * a late answer finds no probe and is dropped). Stops once s->inflight is 0.
 */
void prober_forget(struct prober *pr, struct session *s);

/* IPPROTO_* number of a protocol we probe with, or -1 (SCTP). */
int prober_ipproto(enum proto_protocol p);

#endif
