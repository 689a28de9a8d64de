/*
 * proto: the wire protocol between hopwatchd and its clients, in one table.
 * Owns every command, reply and argument name, the arguments each accepts, their value
 * ranges, the pure line parser and decoders (commands and replies) and the line writer
 * (commands and replies). Never does I/O or allocates: callers own every buffer. Spec
 * with examples: proto/PROTOCOL.md.
 */
#ifndef HOPWATCH_PROTO_H
#define HOPWATCH_PROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line, newline included; mtr-packet's own COMMAND_BUFFER_SIZE. */
#define PROTO_LINE_MAX 4096
/* Most NAME VALUE pairs in one line; mtr's parser stops at 16, ours reads more. */
#define PROTO_ARGS_MAX 32
/* Tokens are the client's; mtr uses non-negative ints. */
#define PROTO_TOKEN_MAX INT32_MAX
/* Longest interface name (IFNAMSIZ - 1). */
#define PROTO_DEVICE_MAX 15
/* Most MPLS label stack entries reported in one reply. */
#define PROTO_MPLS_MAX 8
/* Largest flow-id (extension "flow-id"): one of 65,536 Paris-style flows. */
#define PROTO_FLOW_ID_MAX 65535
/* Largest probe size in bytes, headers included (the engine's PACKET_SIZE_MAX). */
#define PROTO_SIZE_MAX 65000
/* MPLS label stack entry fields: 20-bit label, 3-bit traffic class, 1-bit bottom. */
#define PROTO_MPLS_LABEL_MAX 0xfffff
#define PROTO_MPLS_EXP_MAX   7
#define PROTO_MPLS_BOS_MAX   1
#define PROTO_MPLS_TTL_MAX   255

/* send-probe defaults when an argument is absent (mtr-packet's values). */
#define PROTO_DEFAULT_TTL      255
#define PROTO_DEFAULT_SIZE     64
#define PROTO_DEFAULT_TIMEOUT  10    /* seconds */
#define PROTO_DEFAULT_UDP_PORT 33434 /* also when port is 0 */
#define PROTO_DEFAULT_TCP_PORT 80    /* also when port is 0 */

enum proto_cmd {
	PROTO_CMD_SEND_PROBE,
	PROTO_CMD_CHECK_SUPPORT,
	PROTO_CMD_ENABLE_EXTENSION, /* hopwatch: opt into an extension for this connection */
	PROTO_CMD__COUNT,
};

enum proto_reply {
	PROTO_REPLY_REPLY,
	PROTO_REPLY_TTL_EXPIRED,
	PROTO_REPLY_NO_REPLY,
	PROTO_REPLY_NO_ROUTE,	      /* mtr-packet's only unreachable reply */
	PROTO_REPLY_NO_ROUTE_HOST,    /* extension "unreachable-detail" */
	PROTO_REPLY_NO_ROUTE_NETWORK, /* extension "unreachable-detail" */
	PROTO_REPLY_HOST_DOWN,	      /* extension "unreachable-detail" */
	PROTO_REPLY_PROHIBITED,	      /* extension "unreachable-detail" */
	PROTO_REPLY_NETWORK_DOWN,
	PROTO_REPLY_PERMISSION_DENIED,
	PROTO_REPLY_ADDRESS_IN_USE,
	PROTO_REPLY_ADDRESS_NOT_AVAILABLE,
	PROTO_REPLY_PROBES_EXHAUSTED,
	PROTO_REPLY_INVALID_ARGUMENT,
	PROTO_REPLY_UNKNOWN_COMMAND,
	PROTO_REPLY_COMMAND_PARSE_ERROR,
	PROTO_REPLY_COMMAND_BUFFER_OVERFLOW,
	PROTO_REPLY_FEATURE_SUPPORT,
	PROTO_REPLY_EXTENSION_ENABLED,
	PROTO_REPLY_UNEXPECTED_ERROR,
	PROTO_REPLY__COUNT,
};

enum proto_arg {
	/* send-probe */
	PROTO_ARG_IP_4,
	PROTO_ARG_IP_6,
	PROTO_ARG_PROTOCOL,
	PROTO_ARG_PORT,
	PROTO_ARG_LOCAL_IP_4,
	PROTO_ARG_LOCAL_IP_6,
	PROTO_ARG_LOCAL_PORT,
	PROTO_ARG_LOCAL_DEVICE,
	PROTO_ARG_TTL,
	PROTO_ARG_SIZE,
	PROTO_ARG_BIT_PATTERN,
	PROTO_ARG_TOS,
	PROTO_ARG_MARK,
	PROTO_ARG_TIMEOUT,
	PROTO_ARG_FLOW_ID, /* extension "flow-id" */
	/* check-support, enable-extension */
	PROTO_ARG_FEATURE,
	/* replies */
	PROTO_ARG_ROUND_TRIP_TIME,
	PROTO_ARG_MPLS,
	PROTO_ARG_SUPPORT,
	PROTO_ARG_REASON,
	PROTO_ARG_ERRNO,
	PROTO_ARG_ICMP_TYPE,  /* extension "icmp-type" */
	PROTO_ARG_ICMP_CODE,  /* extension "icmp-type" */
	PROTO_ARG_REPLY_TTL,  /* extension "reply-ttl" */
	PROTO_ARG_QUOTED_TTL, /* extension "quoted-ttl" */
	PROTO_ARG__COUNT,
};

/* How an argument's value is checked by proto_decode_command(). */
enum proto_value_kind {
	PROTO_VALUE_INT,    /* decimal in [min, max] */
	PROTO_VALUE_IP4,    /* dotted quad, inet_pton(AF_INET) */
	PROTO_VALUE_IP6,    /* inet_pton(AF_INET6) */
	PROTO_VALUE_WORD,   /* [a-z0-9-]+, meaning checked by the command */
	PROTO_VALUE_DEVICE, /* interface name, 1..PROTO_DEVICE_MAX printable, no '/' */
	PROTO_VALUE_TEXT,   /* any non-space bytes (replies only: mpls, support) */
};

/* Extensions a connection may enable; mtr sees none of them. */
enum proto_ext {
	PROTO_EXT_ICMP_TYPE,	      /* icmp-type, icmp-code on reply/ttl-expired/no-route* */
	PROTO_EXT_REPLY_TTL,	      /* reply-ttl: IP TTL / hop limit of the response */
	PROTO_EXT_QUOTED_TTL,	      /* quoted-ttl: TTL inside the ICMP error's quote */
	PROTO_EXT_FLOW_ID,	      /* send-probe accepts flow-id (Paris traceroute) */
	PROTO_EXT_UNREACHABLE_DETAIL, /* no-route-host/-network, host-down, prohibited */
	PROTO_EXT__COUNT,
};

enum proto_protocol {
	PROTO_PROTOCOL_ICMP,
	PROTO_PROTOCOL_UDP,
	PROTO_PROTOCOL_TCP,
	PROTO_PROTOCOL_SCTP, /* parsed, answered invalid-argument reason protocol-not-supported */
	PROTO_PROTOCOL__COUNT,
};

struct proto_arg_info {
	const char *name;
	enum proto_value_kind kind;
	int64_t min, max; /* PROTO_VALUE_INT only */
};

struct proto_cmd_info {
	const char *name;
	uint64_t allowed; /* bit (1 << enum proto_arg) per accepted argument */
};

struct proto_reply_info {
	const char *name;
	uint64_t allowed; /* arguments this reply may carry */
};

#define PROTO_BIT(arg) (UINT64_C(1) << (arg))

/* Bounds-checked table lookups: NULL for a value outside the enum. */
const struct proto_cmd_info *proto_cmd_info(enum proto_cmd cmd);
const struct proto_reply_info *proto_reply_info(enum proto_reply reply);
const struct proto_arg_info *proto_arg_info(enum proto_arg arg);
const char *proto_ext_name(enum proto_ext ext);
const char *proto_protocol_name(enum proto_protocol p);

/* Name -> enum; return 0 or -ENOENT. len bytes at s, not NUL-terminated. */
int proto_cmd_lookup(const char *s, size_t len, enum proto_cmd *out);
int proto_reply_lookup(const char *s, size_t len, enum proto_reply *out);
int proto_arg_lookup(const char *s, size_t len, enum proto_arg *out);
int proto_ext_lookup(const char *s, size_t len, enum proto_ext *out);
int proto_protocol_lookup(const char *s, size_t len, enum proto_protocol *out);

struct proto_slice {
	const char *ptr; /* into the caller's line, not NUL-terminated */
	size_t len;
};

/* One line split into words: TOKEN WORD [NAME VALUE]... */
struct proto_line {
	int64_t token;
	struct proto_slice word;
	size_t nargs;
	struct proto_slice name[PROTO_ARGS_MAX];
	struct proto_slice value[PROTO_ARGS_MAX];
};

/* Outcomes of parsing and decoding; 0 is success. */
enum proto_status {
	PROTO_OK = 0,
	PROTO_ERR_TOO_LONG,	   /* len >= PROTO_LINE_MAX */
	PROTO_ERR_EMPTY,	   /* nothing but spaces */
	PROTO_ERR_BAD_TOKEN,	   /* token not a number in 0..PROTO_TOKEN_MAX */
	PROTO_ERR_NO_COMMAND,	   /* token without a command word */
	PROTO_ERR_MISSING_VALUE,   /* a NAME without its VALUE */
	PROTO_ERR_TOO_MANY_ARGS,   /* more than PROTO_ARGS_MAX pairs */
	PROTO_ERR_BAD_BYTE,	   /* a control or non-ASCII byte */
	PROTO_ERR_UNKNOWN_COMMAND, /* decode: word is no command */
	PROTO_ERR_UNKNOWN_ARG,	   /* decode: name is no argument of that command */
	PROTO_ERR_REPEATED_ARG,	   /* decode: the same name twice */
	PROTO_ERR_BAD_NUMBER,	   /* decode: not a decimal number */
	PROTO_ERR_OUT_OF_RANGE,	   /* decode: number outside the argument's range */
	PROTO_ERR_BAD_VALUE,	   /* decode: bad address, word or device name */
	PROTO_ERR_UNKNOWN_REPLY,   /* decode: word is no reply */
	PROTO_ERR__COUNT,
};

/* Short kebab-case name of a status, for "reason" arguments and logs; NULL if unknown. */
const char *proto_status_name(enum proto_status st);

/*
 * Split one line (without its trailing newline; a trailing '\r' is tolerated) into
 * words separated by one or more spaces. Pure. Returns a proto_status.
 */
int proto_split(const char *line, size_t len, struct proto_line *out);

/* A decoded command: every present argument checked against the table. */
struct proto_command {
	enum proto_cmd cmd;
	int64_t token;
	uint64_t present;			   /* PROTO_BIT(arg) for each argument given */
	int64_t num[PROTO_ARG__COUNT];		   /* PROTO_VALUE_INT arguments */
	struct in_addr ip4[PROTO_ARG__COUNT];	   /* PROTO_VALUE_IP4 */
	struct in6_addr ip6[PROTO_ARG__COUNT];	   /* PROTO_VALUE_IP6 */
	struct proto_slice text[PROTO_ARG__COUNT]; /* every argument's raw value */
};

/*
 * Check a split line against the command table. On failure *bad_arg names the
 * offending argument when there is one (else PROTO_ARG__COUNT); bad_arg may be NULL.
 * out->token is set even on failure, so the caller can answer the line. A protocol
 * value must name a row of the protocol table (else PROTO_ERR_BAD_VALUE) and its
 * enum proto_protocol is stored in num[PROTO_ARG_PROTOCOL]. Pure.
 */
int proto_decode_command(const struct proto_line *line, struct proto_command *out,
			 enum proto_arg *bad_arg);

/*
 * Builds one command or reply line into a caller buffer; sticky overflow flag. The head
 * (proto_write_command() or proto_write_head()) picks the table entry every argument is
 * checked against: one the line may not carry, one written twice, an integer outside its
 * range, a value with a space or control byte, or anything before the head sets the
 * sticky invalid flag, so a bug never reaches the wire. Pure.
 */
struct proto_writer {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
	int invalid;		/* a call broke the table's rules for this line */
	int have_head;		/* proto_write_command() or proto_write_head() succeeded */
	int is_command;		/* the head was proto_write_command() */
	enum proto_cmd cmd;	/* set by proto_write_command() */
	enum proto_reply reply; /* set by proto_write_head() */
	uint64_t written;	/* PROTO_BIT(arg) of each argument written */
};

void proto_writer_init(struct proto_writer *w, char *buf, size_t cap);
/* The head of a command line ("TOKEN send-probe"); what a client writes. */
void proto_write_command(struct proto_writer *w, int64_t token, enum proto_cmd cmd);
/* The head of a reply line ("TOKEN reply"); what the engine writes. */
void proto_write_head(struct proto_writer *w, int64_t token, enum proto_reply reply);
/* An INT argument, in its table range (negative only where the range allows). */
void proto_write_int(struct proto_writer *w, enum proto_arg arg, int64_t value);
/*
 * Any non-INT argument, as text: only framing is checked (non-empty, printable, no
 * space), the value's shape is the reader's to judge, as the peer's decoder does.
 */
void proto_write_str(struct proto_writer *w, enum proto_arg arg, const char *value);
/* ip-4 or ip-6 by family, value from inet_ntop. */
void proto_write_addr(struct proto_writer *w, int family, const void *addr);
/* "label,exp,bos,ttl[,label,exp,bos,ttl]..." as mtr-packet prints it. */
struct proto_mpls {
	uint32_t label;
	uint8_t exp, bos, ttl;
};
void proto_write_mpls(struct proto_writer *w, const struct proto_mpls *labels, size_t n);
/*
 * Appends '\n'; returns the line length (newline included, no NUL written) or
 * -ENOSPC if anything did not fit or the line would pass PROTO_LINE_MAX - 1 bytes (what
 * mtr-packet's reader takes), -EINVAL if the invalid flag is set.
 */
int proto_write_end(struct proto_writer *w);

/* A decoded reply: every present argument checked against the reply table. */
struct proto_reply_msg {
	enum proto_reply reply;
	int64_t token;
	uint64_t present;	       /* PROTO_BIT(arg) for each argument given */
	int64_t num[PROTO_ARG__COUNT]; /* PROTO_VALUE_INT arguments */
	int family;		       /* AF_INET (ip-4), AF_INET6 (ip-6), 0: no address */
	struct in_addr ip4;	       /* with family AF_INET */
	struct in6_addr ip6;	       /* with family AF_INET6 */
	size_t nmpls;		       /* entries of the mpls argument */
	struct proto_mpls mpls[PROTO_MPLS_MAX];
	struct proto_slice text[PROTO_ARG__COUNT]; /* every argument's raw value */
};

/*
 * Check a split line against the reply table, the mirror of proto_decode_command():
 * PROTO_ERR_UNKNOWN_REPLY for a word that is no reply, PROTO_ERR_UNKNOWN_ARG for a name
 * that is no argument or one this reply may not carry, PROTO_ERR_REPEATED_ARG for a name
 * given twice or a second address (ip-4 and ip-6 together), PROTO_ERR_BAD_NUMBER,
 * PROTO_ERR_OUT_OF_RANGE and PROTO_ERR_BAD_VALUE (address, word, mpls) for a value. On
 * failure *bad_arg names the offending argument when there is one (else
 * PROTO_ARG__COUNT); bad_arg may be NULL. out->token is set even on failure. Pure.
 */
int proto_decode_reply(const struct proto_line *line, struct proto_reply_msg *out,
		       enum proto_arg *bad_arg);

/*
 * An mpls value, "label,exp,bos,ttl[,...]", into at most cap entries (*n of them).
 * Returns PROTO_OK, PROTO_ERR_BAD_NUMBER (a field not decimal), PROTO_ERR_OUT_OF_RANGE (a
 * field too wide for its bits) or PROTO_ERR_BAD_VALUE (empty, a count of fields that is
 * no multiple of four, or more than cap entries). Pure.
 */
int proto_parse_mpls(const struct proto_slice *s, struct proto_mpls *out, size_t cap, size_t *n);

#endif
