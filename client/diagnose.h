/*
 * diagnose: --analyze. Turns a finished hop table into findings with their evidence, the
 * way a network engineer reads an mtr report, with each loss rate read with its binomial
 * interval, the AS data of the hops and the answers of a confirmation with other
 * protocols when there was one. Owns the judgement (thresholds, regions, who to
 * contact) and its text and JSON forms.
 * diagnose_run() is pure: no I/O, no allocation, no clock; the same table gives the
 * same findings. It never makes a strong claim from fewer than DIAGNOSE_MIN_PROBES.
 */
#ifndef HOPWATCH_CLIENT_DIAGNOSE_H
#define HOPWATCH_CLIENT_DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/stats.h"
#include "proto/proto.h"

/* Findings kept; more are counted in diagnose_result.dropped. */
#define DIAGNOSE_MAX_FINDINGS 32
/* Hops listed as evidence in one finding (a longer run is cut, see truncated). */
#define DIAGNOSE_MAX_HOPS 16
/*
 * Probes a hop must have finished (answered or timed out) before it is judged: mtr's
 * default -c. Below it, one lost probe is over 10% loss and one slow answer sets the
 * StDev, too little to tell throttling from loss.
 */
#define DIAGNOSE_MIN_PROBES 10
/* Longest target name kept for the reverse-path command (a DNS name). */
#define DIAGNOSE_NAME_MAX 255
/*
 * Loss rates are read with their binomial interval (Wilson score) at this two-sided
 * level, z = DIAGNOSE_LOSS_Z standard errors: a rate "agrees" with another when the
 * intervals overlap.
 */
#define DIAGNOSE_LOSS_Z	    1.96
#define DIAGNOSE_LOSS_LEVEL 95

enum diagnose_kind {
	DIAGNOSE_CLEAN,		    /* no problem found */
	DIAGNOSE_INSUFFICIENT,	    /* too few probes for any claim */
	DIAGNOSE_RATE_LIMIT,	    /* loss at hop(s) N, later hops clean: ICMP throttling */
	DIAGNOSE_REAL_LOSS,	    /* loss from hop N on, every later hop too, similar rates */
	DIAGNOSE_MIXED_LOSS,	    /* real loss from hop N plus throttling on top */
	DIAGNOSE_HIGH_STDEV,	    /* StDev high for the hop's own latency: see Best/Wrst */
	DIAGNOSE_LATENCY_STEP,	    /* latency steps up at hop N and stays */
	DIAGNOSE_HOP_SPIKE,	    /* latency up at hop N, back to normal after it */
	DIAGNOSE_BRIEF_SPIKE,	    /* high Wrst from a few probes, the rest normal */
	DIAGNOSE_DEST_DROPS_ICMP,   /* silent after its network, or another protocol reached it */
	DIAGNOSE_DEST_LOSS,	    /* loss from the destination network on, or ICMP-only loss */
	DIAGNOSE_ROUTING_LOOP,	    /* the same responders repeat from hop N */
	DIAGNOSE_PATH_INTERRUPTION, /* nothing answers past hop N */
	DIAGNOSE_KIND__COUNT,
};

enum diagnose_severity {
	DIAGNOSE_INFO,	  /* expected behaviour, no action */
	DIAGNOSE_WARNING, /* may hurt traffic; confirm (reverse path, other protocol) */
	DIAGNOSE_PROBLEM, /* a real fault on the path */
};

/* The seed's regions of a path. */
enum diagnose_region {
	DIAGNOSE_REGION_NONE, /* whole-path findings */
	DIAGNOSE_REGION_A,    /* local network: private hops before the first public one */
	DIAGNOSE_REGION_B,    /* carrier backbone */
	DIAGNOSE_REGION_C,    /* destination network: its AS, else its prefix; the destination */
};

enum diagnose_contact {
	DIAGNOSE_CONTACT_NONE,	      /* nothing to report to anyone */
	DIAGNOSE_CONTACT_LOCAL_ADMIN, /* your network admin or local carrier (region A) */
	DIAGNOSE_CONTACT_CARRIER,     /* the carrier operating the hop (region B) */
	DIAGNOSE_CONTACT_DEST,	      /* the destination's provider or admin (region C) */
};

/* Overall verdict, the "Conclusion:" line. */
enum diagnose_conclusion {
	DIAGNOSE_CONCLUDE_CLEAN,	/* nothing found */
	DIAGNOSE_CONCLUDE_NO_EXCEPTION, /* only throttling / single-hop effects */
	DIAGNOSE_CONCLUDE_CHECK,	/* warnings: confirm before blaming anyone */
	DIAGNOSE_CONCLUDE_PROBLEM,	/* a real fault */
	DIAGNOSE_CONCLUDE_INSUFFICIENT, /* too few probes */
	/* the destination drops ICMP, another protocol reached it: the path works */
	DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP,
};

/* AS data of one address, as the AS lookup (-z / -y) found it. */
#define DIAGNOSE_AS_NAME_MAX   63
#define DIAGNOSE_AS_PREFIX_MAX 49 /* an IPv6 address and "/128" */
struct diagnose_as {
	uint32_t asn;				 /* 0 = not known */
	char name[DIAGNOSE_AS_NAME_MAX + 1];	 /* "" = not known */
	char prefix[DIAGNOSE_AS_PREFIX_MAX + 1]; /* "203.0.113.0/24", "" = not known */
};
/* The AS data of addr, or NULL when none is known; must not change during one run. */
typedef const struct diagnose_as *(*diagnose_as_fn)(void *ctx, const struct addr *addr);

/*
 * The confirmation (client/confirm): a few probes of other protocols sent after the
 * trace, to the destination and to the TTLs where the trace went silent. One entry per
 * protocol, port and TTL tried.
 */
#define DIAGNOSE_CONFIRM_MAX 32
/* ttl of an entry sent to the destination with the trace's full TTL. */
#define DIAGNOSE_CONFIRM_TTL_DEST 0
struct diagnose_confirm_probe {
	enum proto_protocol protocol;
	int port; /* destination port, 0 for ICMP */
	int ttl;  /* DIAGNOSE_CONFIRM_TTL_DEST or the TTL sent with */
	uint32_t sent;
	uint32_t answered;  /* any reply but no-reply */
	uint32_t from_dest; /* answered by the destination itself (any reply kind) */
	enum proto_reply last_reply;
	struct addr from; /* last responder, family 0 = none */
};
struct diagnose_confirm {
	int ran;	      /* 0: not run (--no-confirm, not needed, or no engine) */
	uint32_t probes_sent; /* every confirmation probe, for the output's count */
	size_t n;
	struct diagnose_confirm_probe p[DIAGNOSE_CONFIRM_MAX];
};

/* What diagnose_run() reads; everything but t may be NULL / 0. */
struct diagnose_input {
	const struct stats_table *t;
	const struct addr *target;    /* the destination's address (region C) */
	const char *target_name;      /* as the user wrote it (reverse-path command) */
	int dest_reached;	      /* it answered */
	enum proto_protocol protocol; /* of the trace */
	int port;		      /* of a TCP or UDP trace (-P), 0 = not known */
	diagnose_as_fn as_of;	      /* AS data of hop addresses; NULL = none */
	void *as_ctx;
	const struct diagnose_confirm *confirm; /* NULL or .ran 0 = no confirmation */
	const struct addr *local; /* this host's source address (reverse-path advice) */
};

/* One hop's numbers as evidence; times in milliseconds. */
struct diagnose_hop {
	int ttl;
	enum diagnose_region region;
	struct addr addr; /* the hop's last responder; family 0 = never answered */
	uint32_t done;	  /* probes answered or timed out */
	uint32_t received;
	double loss_pct;
	/* Loss% interval (Wilson score, DIAGNOSE_LOSS_LEVEL), percent; 0, 0 when not judged */
	double loss_lo, loss_hi;
	double avg, best, worst, stdev, p50;
};

struct diagnose_finding {
	enum diagnose_kind kind;
	enum diagnose_severity severity;
	int hop;		     /* the hop it is about (N), 0 for whole-path findings */
	enum diagnose_region region; /* of hop N */
	enum diagnose_contact contact;
	int reverse_path; /* a reverse-path test is advised */
	size_t nhops;	  /* involved hops, in TTL order */
	struct diagnose_hop hops[DIAGNOSE_MAX_HOPS];
	int truncated; /* more hops were involved than listed */
	/* Later hops that were clean (rate limiting's proof), first ones only. */
	size_t nclean;
	int clean[DIAGNOSE_MAX_HOPS];
	double ref_loss_pct; /* real/mixed/destination loss: the reference rate */
	double baseline_ms;  /* step/spike: typical latency before hop N */
	double level_ms;     /* step/spike: typical latency at hop N (median) */
	int period;	     /* routing loop: hops per cycle */
	int no_route;	     /* interruption: hop N answered "no route" */
	/* The AS of hop N's address (asn 0 = not known): the contact names it. */
	struct diagnose_as as;
	/* Other protocols' answers (the confirmation) back this finding. */
	int confirmed;
	/*
	 * How sure: 0..1, from the loss rates' intervals (binomial, from Snt); negative when
	 * the finding is not judged by loss rates (latency, loops, no answer at all).
	 */
	double confidence;
	/* The reference hop's Loss% interval (real/mixed/destination loss), percent. */
	double ref_lo, ref_hi;
	/* Rate limiting: the clean later hops' pooled Loss% and interval, percent. */
	double clean_pct, clean_lo, clean_hi;
	/* Confirmation to the destination (loss findings): probes sent, answered by it. */
	uint32_t confirm_sent, confirm_answered;
};

struct diagnose_result {
	enum diagnose_conclusion conclusion;
	int final_hop;		 /* last hop shown (stats_last_hop) */
	int dest_reached;	 /* as given */
	int answering;		 /* hops that answered at least once */
	double avg_min, avg_max; /* Avg range over answering hops, ms */
	size_t nfindings;
	struct diagnose_finding findings[DIAGNOSE_MAX_FINDINGS];
	size_t dropped;				 /* findings that did not fit */
	struct diagnose_confirm confirm;	 /* as given (ran 0 = none) */
	struct addr local;			 /* as given, family 0 = unknown */
	char target_name[DIAGNOSE_NAME_MAX + 1]; /* as given, "" = the address */
	struct addr target;			 /* as given, family 0 = unknown */
	enum proto_protocol protocol;
	int port; /* as given */
};

/*
 * Diagnose a finished table (in->t) with what else is known of it (in). Fills out (caller-owned, overwritten) with findings
 * ordered by hop; always at least one (clean or insufficient when nothing else).
 * Returns 0, or -EINVAL for a NULL argument.
 */
int diagnose_run(const struct diagnose_input *in, struct diagnose_result *out);

/* Stable names for machines (JSON): "icmp_rate_limit", "info", "B", "carrier", ... */
const char *diagnose_kind_id(enum diagnose_kind k);
const char *diagnose_severity_id(enum diagnose_severity s);
const char *diagnose_region_id(enum diagnose_region r);
const char *diagnose_contact_id(enum diagnose_contact c);
const char *diagnose_conclusion_id(enum diagnose_conclusion c);
/* A finding's title for people, as the "Diagnosis:" section prints it: "ICMP rate limiting". */
const char *diagnose_kind_title(enum diagnose_kind k);

/*
 * The "Diagnosis:" section for people: one paragraph per finding (hops, addresses,
 * evidence, who to contact), then the Conclusion line. Returns 0 or -EIO.
 */
int diagnose_print(const struct diagnose_result *r, FILE *out);

/*
 * The findings as a JSON array (json-c object, the caller puts it), for the report's
 * "hopwatch": {"diagnosis": [...]}. NULL when out of memory.
 */
struct json_object *diagnose_json(const struct diagnose_result *r);

/* The conclusion as {"id": ..., "text": ...} for JSON; NULL when out of memory. */
struct json_object *diagnose_json_conclusion(const struct diagnose_result *r);

/*
 * The confirmation's evidence, for the report's "hopwatch": {"confirmation": ...}:
 * {"ran", "probes_sent", "probes": [{"protocol", "port", "ttl", "sent", "answered",
 * "from_dest", "reply", "from"}]} (ttl 0: to the destination). NULL when out of memory.
 */
struct json_object *diagnose_json_confirmation(const struct diagnose_result *r);

/*
 * The command to run on the other end for the reverse-path test, into buf (NUL-ended):
 * "mtr -r -c 100 [-T -P port | -u] LOCAL" when this host's address (r->local) is public.
 * Returns 1 when written, 0 when the local address is unknown or private (behind NAT:
 * the advice is then a trace from a third, public host), -ENOSPC when buf is too small.
 */
int diagnose_reverse_command(const struct diagnose_result *r, char *buf, size_t len);

#endif
