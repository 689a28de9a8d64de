/*
 * report: renders a finished (or running) stats table in mtr's and WinMTR's formats.
 * Owns the layouts (report/wide, JSON, CSV, XML, raw, split, HTML, text) and the field
 * letters of -o. Never probes, never resolves: names come from a callback.
 */
#ifndef HOPWATCH_CLIENT_REPORT_H
#define HOPWATCH_CLIENT_REPORT_H

#include <stdio.h>
#include <time.h>

#include "client/stats.h"

struct diagnose_result; /* client/diagnose.h */
struct flows;		/* client/flows.h */

enum report_format {
	REPORT_FORMAT_REPORT, /* -r */
	REPORT_FORMAT_WIDE,   /* -w */
	REPORT_FORMAT_JSON,   /* -j */
	REPORT_FORMAT_CSV,    /* -C */
	REPORT_FORMAT_XML,    /* -x */
	REPORT_FORMAT_RAW,    /* -l (emitted live by the scheduler; see report_raw_*) */
	REPORT_FORMAT_SPLIT,  /* -p */
	REPORT_FORMAT_HTML,   /* --html (WinMTR export) */
	REPORT_FORMAT_TEXT,   /* --text (WinMTR export) */
	REPORT_FORMAT__COUNT,
};

/* Name of a responder for display: resolved name, or NULL to print the address. */
typedef const char *(*report_name_fn)(const struct addr *addr, void *ctx);
/* The AS record of a responder (raw text, client/asn.h), or NULL while unknown. */
typedef const char *(*report_asinfo_fn)(const struct addr *addr, void *ctx);

struct report_meta {
	const char *local_host; /* "HOST:" column: this machine's hostname */
	const char *target;	/* as the user typed it */
	const struct addr *target_addr;
	time_t start;		    /* "Start:" line */
	const char *fields;	    /* -o order (mtr letters), NULL = default "LS NABWV" */
	int show_ips;		    /* -b: name and address */
	int numeric;		    /* -n */
	int max_ecmp;		    /* -E: responders listed per hop */
	int show_mpls;		    /* -e */
	int tos, psize, bitpattern; /* JSON/CSV/XML metadata as mtr */
	int count;		    /* -c, for the JSON "tests" field */
	const char *protocol;	    /* "icmp", "udp", "tcp" */
	report_name_fn name;
	void *name_ctx;
	const struct diagnose_result *diagnosis; /* --analyze: JSON "diagnosis", or NULL */
	const struct flows *flows; /* --flows: -r/-w flows section, JSON "flows"; or NULL */
	/*
	 * -z / -y N: with asinfo set and ipinfo >= 0, the AS column of field ipinfo (0..4)
	 * goes where mtr 0.95 puts it (-r/-w before the name, JSON "ASN" and CSV "Asn" for
	 * field 0 only, none in XML).
	 */
	int ipinfo;
	report_asinfo_fn asinfo;
	void *asinfo_ctx;
};

/* Write the whole table in fmt. Returns 0 or -errno (e.g. write error, -EINVAL). */
int report_render(enum report_format fmt, const struct stats_table *t,
		  const struct report_meta *meta, FILE *out);

/*
 * Validate an -o field string: 0 or -EINVAL for an unknown letter. Letters are mtr's
 * (L D R S N B A W V G J M X I and space) plus hopwatch's P, Q, Y: p50, p90, p99
 * (nearest-rank, see stats_hop_summarize).
 */
int report_check_fields(const char *fields);

/*
 * Untrusted text (a name from the network, a hostname) to printable ASCII for any
 * output: control bytes, DEL and bytes >= 0x80 as \xNN, a backslash as \\. Truncates to
 * len (never mid-escape); len 0 writes nothing.
 */
void report_escape(const char *in, char *out, size_t len);

/*
 * -l raw lines, written live as events happen (mtr's display_raw*): ttl is 1-based here
 * and printed 0-based as mtr does. Each returns 0 or -EIO.
 *   x TTL-1 SEQ       a probe was sent     h TTL-1 ADDR   a responder was seen
 *   p TTL-1 RTT SEQ   an answer (us)       d TTL-1 NAME   a name resolved (escaped)
 */
int report_raw_xmit(FILE *out, int ttl, unsigned int seq);
int report_raw_host(FILE *out, int ttl, const struct addr *addr);
int report_raw_ping(FILE *out, int ttl, int64_t rtt_us, unsigned int seq);
int report_raw_dns(FILE *out, int ttl, const char *name);

#endif
