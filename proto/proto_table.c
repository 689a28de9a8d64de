/*
 * proto_table: the one table of the wire protocol. Every command, reply, argument,
 * extension and protocol name lives here exactly once, keyed by its enum with
 * designated initializers, and is read only through the bounds-checked lookups below.
 */
#include "proto/proto.h"

#include <errno.h>
#include <string.h>

/* Value ranges of the INT arguments; each is the wire contract in PROTOCOL.md. */
#define PROTO_PORT_MAX	     65535
#define PROTO_LOCAL_PORT_MIN 1024 /* below needs privilege to bind: refused, as mtr-packet */
#define PROTO_TTL_MIN	     1
#define PROTO_BYTE_MAX	     255
#define PROTO_MARK_MAX	     INT64_C(4294967295) /* SO_MARK is a u32 */
/*
 * mtr prints bit-pattern and mark with "%d": its random pattern (-B above 255) goes out
 * as -510..-256 and a mark above 2^31 - 1 as a negative number. mtr-packet takes any
 * int and uses its low bits; so must we, since mtr exits on invalid-argument.
 */
#define PROTO_MTR_INT_MIN INT64_C(-2147483648)
#define PROTO_MTR_INT_MAX INT64_C(2147483647)
#define PROTO_TIMEOUT_MAX 3600	    /* seconds */
#define PROTO_RTT_MAX	  INT32_MAX /* microseconds */
#define PROTO_ERRNO_MAX	  4095	    /* the kernel's MAX_ERRNO */

_Static_assert(PROTO_ARG__COUNT <= 64, "argument bitmasks are 64 bits wide");

/* Arguments a probe result (reply, ttl-expired, no-route and its details) may carry. */
#define PROTO_RESULT_ARGS                                                                          \
	(PROTO_BIT(PROTO_ARG_IP_4) | PROTO_BIT(PROTO_ARG_IP_6) |                                   \
	 PROTO_BIT(PROTO_ARG_ROUND_TRIP_TIME) | PROTO_BIT(PROTO_ARG_MPLS) |                        \
	 PROTO_BIT(PROTO_ARG_ICMP_TYPE) | PROTO_BIT(PROTO_ARG_ICMP_CODE) |                         \
	 PROTO_BIT(PROTO_ARG_REPLY_TTL) | PROTO_BIT(PROTO_ARG_QUOTED_TTL))

#define PROTO_SEND_PROBE_ARGS                                                                      \
	(PROTO_BIT(PROTO_ARG_IP_4) | PROTO_BIT(PROTO_ARG_IP_6) | PROTO_BIT(PROTO_ARG_PROTOCOL) |   \
	 PROTO_BIT(PROTO_ARG_PORT) | PROTO_BIT(PROTO_ARG_LOCAL_IP_4) |                             \
	 PROTO_BIT(PROTO_ARG_LOCAL_IP_6) | PROTO_BIT(PROTO_ARG_LOCAL_PORT) |                       \
	 PROTO_BIT(PROTO_ARG_LOCAL_DEVICE) | PROTO_BIT(PROTO_ARG_TTL) |                            \
	 PROTO_BIT(PROTO_ARG_SIZE) | PROTO_BIT(PROTO_ARG_BIT_PATTERN) | PROTO_BIT(PROTO_ARG_TOS) | \
	 PROTO_BIT(PROTO_ARG_MARK) | PROTO_BIT(PROTO_ARG_TIMEOUT) | PROTO_BIT(PROTO_ARG_FLOW_ID))

static const struct proto_cmd_info cmd_table[PROTO_CMD__COUNT] = {
	[PROTO_CMD_SEND_PROBE] = {"send-probe", PROTO_SEND_PROBE_ARGS},
	[PROTO_CMD_CHECK_SUPPORT] = {"check-support", PROTO_BIT(PROTO_ARG_FEATURE)},
	[PROTO_CMD_ENABLE_EXTENSION] = {"enable-extension", PROTO_BIT(PROTO_ARG_FEATURE)},
};

static const struct proto_reply_info reply_table[PROTO_REPLY__COUNT] = {
	[PROTO_REPLY_REPLY] = {"reply", PROTO_RESULT_ARGS},
	[PROTO_REPLY_TTL_EXPIRED] = {"ttl-expired", PROTO_RESULT_ARGS},
	[PROTO_REPLY_NO_REPLY] = {"no-reply", 0},
	[PROTO_REPLY_NO_ROUTE] = {"no-route", PROTO_RESULT_ARGS},
	[PROTO_REPLY_NO_ROUTE_HOST] = {"no-route-host", PROTO_RESULT_ARGS},
	[PROTO_REPLY_NO_ROUTE_NETWORK] = {"no-route-network", PROTO_RESULT_ARGS},
	[PROTO_REPLY_HOST_DOWN] = {"host-down", PROTO_RESULT_ARGS},
	[PROTO_REPLY_PROHIBITED] = {"prohibited", PROTO_RESULT_ARGS},
	[PROTO_REPLY_NETWORK_DOWN] = {"network-down", 0},
	[PROTO_REPLY_PERMISSION_DENIED] = {"permission-denied", 0},
	[PROTO_REPLY_ADDRESS_IN_USE] = {"address-in-use", 0},
	[PROTO_REPLY_ADDRESS_NOT_AVAILABLE] = {"address-not-available", 0},
	[PROTO_REPLY_PROBES_EXHAUSTED] = {"probes-exhausted", 0},
	[PROTO_REPLY_INVALID_ARGUMENT] = {"invalid-argument", PROTO_BIT(PROTO_ARG_REASON)},
	[PROTO_REPLY_UNKNOWN_COMMAND] = {"unknown-command", 0},
	[PROTO_REPLY_COMMAND_PARSE_ERROR] = {"command-parse-error", 0},
	[PROTO_REPLY_COMMAND_BUFFER_OVERFLOW] = {"command-buffer-overflow", 0},
	[PROTO_REPLY_FEATURE_SUPPORT] = {"feature-support", PROTO_BIT(PROTO_ARG_SUPPORT)},
	[PROTO_REPLY_EXTENSION_ENABLED] = {"extension-enabled", PROTO_BIT(PROTO_ARG_FEATURE)},
	[PROTO_REPLY_UNEXPECTED_ERROR] = {"unexpected-error",
					  PROTO_BIT(PROTO_ARG_ERRNO) | PROTO_BIT(PROTO_ARG_REASON)},
};

static const struct proto_arg_info arg_table[PROTO_ARG__COUNT] = {
	[PROTO_ARG_IP_4] = {"ip-4", PROTO_VALUE_IP4, 0, 0},
	[PROTO_ARG_IP_6] = {"ip-6", PROTO_VALUE_IP6, 0, 0},
	[PROTO_ARG_PROTOCOL] = {"protocol", PROTO_VALUE_WORD, 0, 0},
	[PROTO_ARG_PORT] = {"port", PROTO_VALUE_INT, 0, PROTO_PORT_MAX},
	[PROTO_ARG_LOCAL_IP_4] = {"local-ip-4", PROTO_VALUE_IP4, 0, 0},
	[PROTO_ARG_LOCAL_IP_6] = {"local-ip-6", PROTO_VALUE_IP6, 0, 0},
	[PROTO_ARG_LOCAL_PORT] = {"local-port", PROTO_VALUE_INT, PROTO_LOCAL_PORT_MIN,
				  PROTO_PORT_MAX},
	[PROTO_ARG_LOCAL_DEVICE] = {"local-device", PROTO_VALUE_DEVICE, 0, 0},
	[PROTO_ARG_TTL] = {"ttl", PROTO_VALUE_INT, PROTO_TTL_MIN, PROTO_BYTE_MAX},
	[PROTO_ARG_SIZE] = {"size", PROTO_VALUE_INT, 0, PROTO_SIZE_MAX},
	[PROTO_ARG_BIT_PATTERN] = {"bit-pattern", PROTO_VALUE_INT, PROTO_MTR_INT_MIN,
				   PROTO_MTR_INT_MAX},
	[PROTO_ARG_TOS] = {"tos", PROTO_VALUE_INT, 0, PROTO_BYTE_MAX},
	[PROTO_ARG_MARK] = {"mark", PROTO_VALUE_INT, PROTO_MTR_INT_MIN, PROTO_MARK_MAX},
	[PROTO_ARG_TIMEOUT] = {"timeout", PROTO_VALUE_INT, 0, PROTO_TIMEOUT_MAX},
	[PROTO_ARG_FLOW_ID] = {"flow-id", PROTO_VALUE_INT, 0, PROTO_FLOW_ID_MAX},
	[PROTO_ARG_FEATURE] = {"feature", PROTO_VALUE_WORD, 0, 0},
	[PROTO_ARG_ROUND_TRIP_TIME] = {"round-trip-time", PROTO_VALUE_INT, 0, PROTO_RTT_MAX},
	[PROTO_ARG_MPLS] = {"mpls", PROTO_VALUE_TEXT, 0, 0},
	[PROTO_ARG_SUPPORT] = {"support", PROTO_VALUE_TEXT, 0, 0},
	[PROTO_ARG_REASON] = {"reason", PROTO_VALUE_TEXT, 0, 0},
	[PROTO_ARG_ERRNO] = {"errno", PROTO_VALUE_INT, 0, PROTO_ERRNO_MAX},
	[PROTO_ARG_ICMP_TYPE] = {"icmp-type", PROTO_VALUE_INT, 0, PROTO_BYTE_MAX},
	[PROTO_ARG_ICMP_CODE] = {"icmp-code", PROTO_VALUE_INT, 0, PROTO_BYTE_MAX},
	[PROTO_ARG_REPLY_TTL] = {"reply-ttl", PROTO_VALUE_INT, 0, PROTO_BYTE_MAX},
	[PROTO_ARG_QUOTED_TTL] = {"quoted-ttl", PROTO_VALUE_INT, 0, PROTO_BYTE_MAX},
};

static const char *const ext_table[PROTO_EXT__COUNT] = {
	[PROTO_EXT_ICMP_TYPE] = "icmp-type",
	[PROTO_EXT_REPLY_TTL] = "reply-ttl",
	[PROTO_EXT_QUOTED_TTL] = "quoted-ttl",
	[PROTO_EXT_FLOW_ID] = "flow-id",
	[PROTO_EXT_UNREACHABLE_DETAIL] = "unreachable-detail",
};

static const char *const protocol_table[PROTO_PROTOCOL__COUNT] = {
	[PROTO_PROTOCOL_ICMP] = "icmp",
	[PROTO_PROTOCOL_UDP] = "udp",
	[PROTO_PROTOCOL_TCP] = "tcp",
	[PROTO_PROTOCOL_SCTP] = "sctp",
};

/* Enum values arrive from callers as ints; a negative one must not index the table. */
static int in_range(int v, int count)
{
	return v >= 0 && v < count;
}

/* The name at s/len equals the NUL-terminated table name; s may hold NUL bytes. */
static int name_eq(const char *name, const char *s, size_t len)
{
	/* The first byte rules out nearly every entry before strlen() is paid for. */
	return name && len > 0 && name[0] == s[0] && strlen(name) == len &&
	       memcmp(name, s, len) == 0;
}

const struct proto_cmd_info *proto_cmd_info(enum proto_cmd cmd)
{
	if (!in_range((int)cmd, PROTO_CMD__COUNT) || !cmd_table[cmd].name)
		return NULL;
	return &cmd_table[cmd];
}

const struct proto_reply_info *proto_reply_info(enum proto_reply reply)
{
	if (!in_range((int)reply, PROTO_REPLY__COUNT) || !reply_table[reply].name)
		return NULL;
	return &reply_table[reply];
}

const struct proto_arg_info *proto_arg_info(enum proto_arg arg)
{
	if (!in_range((int)arg, PROTO_ARG__COUNT) || !arg_table[arg].name)
		return NULL;
	return &arg_table[arg];
}

const char *proto_ext_name(enum proto_ext ext)
{
	if (!in_range((int)ext, PROTO_EXT__COUNT))
		return NULL;
	return ext_table[ext];
}

const char *proto_protocol_name(enum proto_protocol p)
{
	if (!in_range((int)p, PROTO_PROTOCOL__COUNT))
		return NULL;
	return protocol_table[p];
}

/*
 * Linear scans: the tables hold at most 25 rows of short names, and a hash would be
 * one more thing to keep in step with them.
 */
int proto_cmd_lookup(const char *s, size_t len, enum proto_cmd *out)
{
	for (int i = 0; s && i < PROTO_CMD__COUNT; i++) {
		if (name_eq(cmd_table[i].name, s, len)) {
			*out = (enum proto_cmd)i;
			return 0;
		}
	}
	return -ENOENT;
}

int proto_reply_lookup(const char *s, size_t len, enum proto_reply *out)
{
	for (int i = 0; s && i < PROTO_REPLY__COUNT; i++) {
		if (name_eq(reply_table[i].name, s, len)) {
			*out = (enum proto_reply)i;
			return 0;
		}
	}
	return -ENOENT;
}

int proto_arg_lookup(const char *s, size_t len, enum proto_arg *out)
{
	for (int i = 0; s && i < PROTO_ARG__COUNT; i++) {
		if (name_eq(arg_table[i].name, s, len)) {
			*out = (enum proto_arg)i;
			return 0;
		}
	}
	return -ENOENT;
}

int proto_ext_lookup(const char *s, size_t len, enum proto_ext *out)
{
	for (int i = 0; s && i < PROTO_EXT__COUNT; i++) {
		if (name_eq(ext_table[i], s, len)) {
			*out = (enum proto_ext)i;
			return 0;
		}
	}
	return -ENOENT;
}

int proto_protocol_lookup(const char *s, size_t len, enum proto_protocol *out)
{
	for (int i = 0; s && i < PROTO_PROTOCOL__COUNT; i++) {
		if (name_eq(protocol_table[i], s, len)) {
			*out = (enum proto_protocol)i;
			return 0;
		}
	}
	return -ENOENT;
}
