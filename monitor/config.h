/*
 * monitor_config: hopwatch-monitor's configuration file (spec: monitor/CONFIG.md).
 * Owns the pure line parser for untrusted bytes (no I/O, no allocation, no globals), the
 * loader that reads a file or a buffer into one allocated target list with a name index,
 * command-line targets, and the test of whether a reload leaves a target as it was.
 * Never resolves a host name nor talks to an engine.
 */
#ifndef HOPWATCH_MONITOR_CONFIG_H
#define HOPWATCH_MONITOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* Longest line in bytes, its newline not counted. */
#define MONITOR_CONFIG_LINE_MAX 4096
/* Largest file the loader reads. */
#define MONITOR_CONFIG_FILE_MAX (16 * 1024 * 1024)
/* Most targets in one configuration, file and command line together. */
#define MONITOR_CONFIG_TARGETS_MAX 100000

#define MONITOR_CONFIG_NAME_MAX	  64  /* [A-Za-z0-9_.:-]{1,64} */
#define MONITOR_CONFIG_HOST_MAX	  253 /* a DNS name's longest text form */
#define MONITOR_CONFIG_ENGINE_MAX 1023

#define MONITOR_CONFIG_LABELS_MAX      8
#define MONITOR_CONFIG_LABEL_KEY_MAX   32
#define MONITOR_CONFIG_LABEL_VALUE_MAX 128

/* Probes per second over all targets together. */
#define MONITOR_CONFIG_BUDGET_MIN     1
#define MONITOR_CONFIG_BUDGET_MAX     1000000
#define MONITOR_CONFIG_BUDGET_DEFAULT 1000
/* Seconds between re-resolutions of host names. */
#define MONITOR_CONFIG_RESOLVE_MIN_S	 10
#define MONITOR_CONFIG_RESOLVE_MAX_S	 86400
#define MONITOR_CONFIG_RESOLVE_DEFAULT_S 300

/* Per-target settings: bounds and the built-in defaults. */
#define MONITOR_CONFIG_INTERVAL_MIN_US	   100000LL
#define MONITOR_CONFIG_INTERVAL_MAX_US	   3600000000LL
#define MONITOR_CONFIG_INTERVAL_DEFAULT_US 1000000LL
#define MONITOR_CONFIG_WINDOW_MIN_US	   1000000LL
#define MONITOR_CONFIG_WINDOW_MAX_US	   86400000000LL
#define MONITOR_CONFIG_WINDOW_DEFAULT_US   60000000LL
#define MONITOR_CONFIG_TTL_MIN		   1
#define MONITOR_CONFIG_TTL_MAX		   255
#define MONITOR_CONFIG_MAX_TTL_DEFAULT	   30
#define MONITOR_CONFIG_FIRST_TTL_DEFAULT   1
#define MONITOR_CONFIG_PORT_MAX		   65535 /* 0 = the engine's default */
#define MONITOR_CONFIG_TIMEOUT_MIN_S	   1
#define MONITOR_CONFIG_TIMEOUT_MAX_S	   60
#define MONITOR_CONFIG_TIMEOUT_DEFAULT_S   10
/* Most decimals of a seconds value (microsecond resolution). */
#define MONITOR_CONFIG_DECIMALS_MAX 6
/* Most bytes of an offending word echoed in a message (then "..."). */
#define MONITOR_CONFIG_ECHO_MAX 40

/* Expected outcomes of a bad configuration; 0 is success. */
enum monitor_config_error {
	MONITOR_CONFIG_OK = 0,
	MONITOR_CONFIG_E_LINE_TOO_LONG,
	MONITOR_CONFIG_E_BAD_BYTE,
	MONITOR_CONFIG_E_UNKNOWN_DIRECTIVE,
	MONITOR_CONFIG_E_UNKNOWN_KEY,
	MONITOR_CONFIG_E_MISSING_VALUE,
	MONITOR_CONFIG_E_EXTRA_WORD,
	MONITOR_CONFIG_E_BAD_NUMBER,
	MONITOR_CONFIG_E_OUT_OF_RANGE,
	MONITOR_CONFIG_E_BAD_VALUE,
	MONITOR_CONFIG_E_KEY_REPEATED,
	MONITOR_CONFIG_E_KEY_NOT_HERE,
	MONITOR_CONFIG_E_DIRECTIVE_REPEATED,
	MONITOR_CONFIG_E_MISSING_NAME,
	MONITOR_CONFIG_E_BAD_NAME,
	MONITOR_CONFIG_E_MISSING_HOST,
	MONITOR_CONFIG_E_BAD_HOST,
	MONITOR_CONFIG_E_BAD_LABEL,
	MONITOR_CONFIG_E_BAD_LABEL_KEY,
	MONITOR_CONFIG_E_RESERVED_LABEL,
	MONITOR_CONFIG_E_BAD_LABEL_VALUE,
	MONITOR_CONFIG_E_LABEL_REPEATED,
	MONITOR_CONFIG_E_TOO_MANY_LABELS,
	MONITOR_CONFIG_E_FIRST_TTL_ABOVE_MAX,
	MONITOR_CONFIG_E_WINDOW_TOO_SHORT,
	/* Only the loader and monitor_config_add_host() find these. */
	MONITOR_CONFIG_E_DUPLICATE_TARGET,
	MONITOR_CONFIG_E_TOO_MANY_TARGETS,
	MONITOR_CONFIG_E__COUNT,
};

struct monitor_label {
	char key[MONITOR_CONFIG_LABEL_KEY_MAX + 1];
	char value[MONITOR_CONFIG_LABEL_VALUE_MAX + 1];
};

struct monitor_target_config {
	char name[MONITOR_CONFIG_NAME_MAX + 1];
	char host[MONITOR_CONFIG_HOST_MAX + 1]; /* empty in defaults */
	enum proto_protocol protocol;		/* ICMP, UDP or TCP */
	int port;				/* 0 = engine default */
	int64_t interval_us;
	int first_ttl, max_ttl;
	int64_t window_us;
	int family;  /* 4, 6 or 0 (either) */
	int flow_id; /* 1: one stable flow per target (Paris-style) */
	int timeout_s;
	size_t nlabels;
	struct monitor_label labels[MONITOR_CONFIG_LABELS_MAX]; /* in order of appearance */
	int line; /* where it was defined; 0 = the command line */
};

enum monitor_config_item_kind {
	MONITOR_CONFIG_ITEM_NONE, /* blank or comment */
	MONITOR_CONFIG_ITEM_BUDGET,
	MONITOR_CONFIG_ITEM_RESOLVE_EVERY,
	MONITOR_CONFIG_ITEM_ENGINE,
	MONITOR_CONFIG_ITEM_DEFAULTS, /* the parser's defaults changed; also in out->target */
	MONITOR_CONFIG_ITEM_TARGET,
};

struct monitor_config_item {
	enum monitor_config_item_kind kind;
	double budget_pps;
	int64_t resolve_every_us;
	char engine[MONITOR_CONFIG_ENGINE_MAX + 1];
	struct monitor_target_config target; /* TARGET, or the new defaults for DEFAULTS */
};

/*
 * The pure parser's state across the lines of one file: the line number, the defaults
 * for later targets, where each global directive was seen, and what the last error was
 * about (copied and cleaned, so that it outlives the line).
 */
struct monitor_config_parser {
	int line; /* of the last line parsed, from 1 */
	struct monitor_target_config defaults;
	int budget_line, resolve_line, engine_line; /* 0 = not seen yet */
	/* Of the last error: */
	const char *err_key;			      /* the key or directive concerned, or NULL */
	char err_word[MONITOR_CONFIG_ECHO_MAX + 4];   /* the offending word, cleaned */
	char err_target[MONITOR_CONFIG_NAME_MAX + 1]; /* the target's name, if known */
	int err_first_line;			      /* DIRECTIVE_REPEATED, DUPLICATE_TARGET */
	int64_t err_a, err_b;			      /* the two values a cross-check compared */
};

/* Built-in defaults, line 0. */
void monitor_config_parser_init(struct monitor_config_parser *p);

/*
 * Parses one line of len bytes (no newline; a trailing CR is ignored; NUL bytes are
 * errors) and counts it. Returns 0 with *out filled, or an enum monitor_config_error
 * with p's err_* fields set; the defaults change only when a defaults line is accepted
 * in full. Pure.
 */
int monitor_config_parse_line(struct monitor_config_parser *p, const char *line, size_t len,
			      struct monitor_config_item *out);

/* The generic text of an error; never NULL. */
const char *monitor_config_strerror(int err);

/*
 * The full message for an error of p: "FILE:LINE: message" (just "FILE: message" at
 * line 0), file cleaned; truncated to len, always terminated. Returns the length the
 * full message takes, as snprintf does.
 */
size_t monitor_config_format_error(char *buf, size_t len, const char *file,
				   const struct monitor_config_parser *p, int err);

/* A whole configuration, owned. */
struct monitor_config {
	double budget_pps;
	int64_t resolve_every_us;
	char engine[MONITOR_CONFIG_ENGINE_MAX + 1]; /* "" = the default search */
	struct monitor_target_config defaults;	    /* for monitor_config_add_host() */
	struct monitor_target_config *targets;
	size_t ntargets, cap;
	/* Open-addressing index of target names: 0 = empty, else index + 1. */
	uint32_t *index;
	size_t index_cap; /* a power of two, at least twice ntargets; 0 before the first */
};

/* Empty configuration with the built-in settings. Returns 0. */
int monitor_config_init(struct monitor_config *c);
/* Frees what c holds; c is then as after monitor_config_init(). NULL-safe. */
void monitor_config_deinit(struct monitor_config *c);
/*
 * Free the targets (and their index) but keep every setting: what a running monitor
 * holds once each target has its watch. NULL-safe.
 */
void monitor_config_drop_targets(struct monitor_config *c);
/* A deep copy (targets and index) into dst, which need not be initialised. 0 or -ENOMEM. */
int monitor_config_copy(struct monitor_config *dst, const struct monitor_config *src);

/*
 * Adds the settings and targets of len bytes of text (a file's contents) to c; the
 * file's defaults start from the built-in ones and, once it is parsed, become c's
 * defaults for monitor_config_add_host(). Errors name name_for_errors and the line.
 * Returns 0, -EINVAL (err set; c as it was before) or -ENOMEM.
 */
int monitor_config_parse_buffer(struct monitor_config *c, const char *text, size_t len,
				const char *name_for_errors, char *err, size_t errlen);

/*
 * Reads the file at path (at most MONITOR_CONFIG_FILE_MAX bytes) and parses it as
 * monitor_config_parse_buffer() does. Returns 0, -EINVAL, -EFBIG, -ENOMEM or the -errno
 * of open/read; err is set on every failure.
 */
int monitor_config_load(struct monitor_config *c, const char *path, char *err, size_t errlen);

/*
 * Adds a target for host with c's current defaults, named after host with every byte
 * outside the name set made '_' (and cut to MONITOR_CONFIG_NAME_MAX). Returns 0, -EINVAL
 * (a bad host, a duplicate name, too many targets, inconsistent defaults; err set) or
 * -ENOMEM.
 */
int monitor_config_add_host(struct monitor_config *c, const char *host, char *err, size_t errlen);

/* The target called name, or NULL. */
const struct monitor_target_config *monitor_config_find(const struct monitor_config *c,
							const char *name);

/* Whether a and b are the same target with every setting equal (line not compared). */
int monitor_target_config_equal(const struct monitor_target_config *a,
				const struct monitor_target_config *b);

#endif
