/*
 * raw: mtr's -l output for one trace: x lines as probes go, h lines as responders appear
 * (mtr's repeated h lines included), d lines once a hop's name is known, p lines for
 * answers, with mtr's sequence numbers. Owns the per-hop memory of which responders it has
 * printed; writes only to the FILE it is given and never resolves names itself.
 */
#ifndef HOPWATCH_CLIENT_RAW_H
#define HOPWATCH_CLIENT_RAW_H

#include <stdint.h>
#include <stdio.h>

#include "client/dns.h"
#include "client/stats.h"

struct raw_log;

/* mtr counts its sequence numbers from MinSequence and wraps at MaxSequence. */
#define RAW_SEQ_MIN 33000
#define RAW_SEQ_END 65536
/* Responders remembered per hop for the h lines (mtr's MAX_PATH). */
#define RAW_PATHS 8

/* dns may be NULL (-n): no d lines. 0 or -ENOMEM. */
int raw_log_new(struct raw_log **out, FILE *f, struct dns *dns);
struct raw_log *raw_log_free(struct raw_log *r);
/* Lines go to f from now on (a held trace's buffer, then the real output). */
void raw_log_set_output(struct raw_log *r, FILE *f);

/* A probe went out; seq numbers the trace's probes from 0. 0 or -errno (write error). */
int raw_log_sent(struct raw_log *r, int ttl, uint32_t seq);
/* Its answer. Lost probes print nothing, as in mtr. 0 or -errno. */
int raw_log_answer(struct raw_log *r, int ttl, uint32_t seq, enum stats_outcome outcome,
		   const struct addr *from, int64_t rtt_us);

#endif
