/*
 * options: the hopwatch command line, with mtr's letters, meanings and defaults.
 * Owns parsing and validation of argv, of the HOPWATCH_OPTIONS defaults and of -F host
 * files. Never opens sockets, never resolves names, never exits: a bad value comes back
 * as -EINVAL with one line of text for the caller to print.
 */
#ifndef HOPWATCH_CLIENT_OPTIONS_H
#define HOPWATCH_CLIENT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "client/flows.h"
#include "client/report.h"
#include "proto/proto.h"

/* mtr's defaults. */
#define OPTIONS_DEFAULT_COUNT	    10
#define OPTIONS_DEFAULT_INTERVAL_US 1000000
#define OPTIONS_DEFAULT_MAX_TTL	    30
#define OPTIONS_DEFAULT_MAX_UNKNOWN 12
#define OPTIONS_DEFAULT_TIMEOUT_S   10
#define OPTIONS_DEFAULT_GRACE_US    5000000
#define OPTIONS_DEFAULT_MAX_ECMP    8
#define OPTIONS_DEFAULT_PSIZE	    64
/* Traces run at once: every host of a typical -F list, a bounded load on the engine. */
#define OPTIONS_DEFAULT_MAX_CONCURRENT	   256
#define OPTIONS_DEFAULT_MAX_CONCURRENT_STR "256"
/* Limits. */
#define OPTIONS_MAX_TTL	       255
#define OPTIONS_MAX_TARGETS    65536 /* hosts traced by one run (-F or arguments) */
#define OPTIONS_MAX_PSIZE      4470  /* mtr's MAXPACKET */
#define OPTIONS_MAX_COUNT      1000000000
#define OPTIONS_MAX_INTERVAL_S 86400
#define OPTIONS_MAX_TIMEOUT_S  3600
#define OPTIONS_MAX_GRACE_S    3600
#define OPTIONS_MAX_IPINFO     4    /* mtr's -y 0..4 */
#define OPTIONS_MAX_ARGS       4096 /* words in HOPWATCH_OPTIONS plus argv */
#define OPTIONS_ERR_MAX	       256  /* length of the error line */
#define OPTIONS_HOST_MAX       255  /* longest host name in a -F file */
#define OPTIONS_ENV_MAX	       4096 /* longest HOPWATCH_OPTIONS */

/* --flows N: at most this many flows. */
#define OPTIONS_MAX_FLOWS FLOWS_MAX

/* --ecmp: how probes meet load-balancing routers. */
enum options_ecmp {
	OPTIONS_ECMP_CLASSIC = 0, /* mtr's: the flow varies per probe, ECMP spreads them */
	OPTIONS_ECMP_PARIS,	  /* one flow id on every probe: one path (flow id 0) */
};

enum options_result {
	OPTIONS_RUN = 0,     /* go */
	OPTIONS_HELP = 1,    /* --help printed by the caller */
	OPTIONS_VERSION = 2, /* --version */
	OPTIONS_HISTORY = 3, /* --history: the caller prints the recent hosts */
};

struct options {
	int report;		   /* a report flag was given: run -c rounds then print */
	enum report_format format; /* with report */
	int report_on_exit;	   /* live view, then a report on exit */
	int count;		   /* -c, rounds */
	int count_set;		   /* -c was given: the live view stops after count rounds */
	int64_t interval_us;	   /* -i */
	int numeric;		   /* -n */
	int show_ips;		   /* -b */
	int family;		   /* 0, 4 or 6 */
	int psize;		   /* -s, bytes; negative = random up to -psize */
	int bitpattern;		   /* -B, 0..255; -1 = random */
	int tos;		   /* -Q */
	const char *src_addr;	   /* -a, NULL = kernel's choice */
	const char *interface;	   /* -I */
	int first_ttl;		   /* -f */
	int max_ttl;		   /* -m */
	int max_unknown;	   /* -U */
	enum proto_protocol proto; /* -u, -T, default ICMP; names: proto_protocol_name() */
	int port;		   /* -P, 0 = engine default */
	int local_port;		   /* -L, 0 = engine's choice */
	int has_mark;
	uint32_t mark;	       /* -M */
	int mpls;	       /* -e */
	int max_ecmp;	       /* -E */
	const char *fields;    /* -o, NULL = default */
	int timeout_s;	       /* -Z */
	int64_t grace_us;      /* -G, decimal seconds as mtr */
	int display_mode;      /* --displaymode: 0 statistics, 1 blockmap, 2 scaled */
	int ipinfo;	       /* -y N / -z: AS record field shown (mtr's ipinfo_no), -1 = none */
	const char *engine;    /* --engine, NULL = default search */
	const char *output;    /* --output FILE for a report, NULL = stdout */
	int lru;	       /* --lru: hosts kept in the history, 0 = none */
	int history;	       /* --history: print the recent hosts and exit */
	int analyze;	       /* --analyze: diagnosis after the report (client/diagnose.h) */
	int no_confirm;	       /* --no-confirm: --analyze sends no confirmation probes */
	size_t max_concurrent; /* --max-concurrent: traces run at once */

	/* --ecmp and --flows (--flows N makes ecmp PARIS, flow ids 0..N-1 one per round) */
	enum options_ecmp ecmp;
	int flows;	/* 0 = no --flows */
	int ecmp_given; /* private: --ecmp was given (classic then refuses --flows) */

	size_t ntargets;
	char **targets; /* owned, ntargets of them */
	/* private: storage of the HOPWATCH_OPTIONS words */
	char *env_copy;
};

/*
 * Parse HOPWATCH_OPTIONS (env, may be NULL) then argv. is_root decides whether an
 * interval below 1 s is allowed. Returns an enum options_result, or -EINVAL/-ENOMEM with
 * err holding one line (no program name, no newline). Free with options_deinit().
 */
int options_parse(struct options *o, int argc, char *const *argv, const char *env, int is_root,
		  char *err, size_t errlen);
void options_deinit(struct options *o);

/* The --help text. */
const char *options_usage(void);

#endif
