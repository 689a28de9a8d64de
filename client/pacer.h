/*
 * pacer: one probes-per-second budget shared by any number of schedulers. Each probe
 * books the next free slot (slots 1/rate apart) and is sent at its slot, so probes of all
 * traces together go out evenly spaced, never in bursts. Pure bookkeeping over a
 * monotonic clock the caller reads: no timers, no I/O.
 */
#ifndef HOPWATCH_CLIENT_PACER_H
#define HOPWATCH_CLIENT_PACER_H

#include <stdint.h>

struct pacer;

/* Rates a pacer takes, probes per second. */
#define PACER_RATE_MIN 1.0
#define PACER_RATE_MAX 1000000.0
/*
 * How far behind the clock the next free slot may lag: a budget unused for a while is not
 * saved up for a burst later (at most this much of it is).
 */
#define PACER_SLACK_US 1000

/* 0, -EINVAL for a rate outside PACER_RATE_MIN..MAX, or -ENOMEM. */
int pacer_new(struct pacer **out, double rate_pps);
struct pacer *pacer_free(struct pacer *p);
/* A new budget from now on (a reload). 0 or -EINVAL. */
int pacer_set_rate(struct pacer *p, double rate_pps);
double pacer_rate(const struct pacer *p);

/* Book one probe: the time (same clock as now_us) it may be sent at, >= now_us. */
int64_t pacer_book(struct pacer *p, int64_t now_us);

/* How late, in microseconds, the latest booking is behind its request (scheduling lag). */
int64_t pacer_backlog_us(const struct pacer *p, int64_t now_us);

#endif
