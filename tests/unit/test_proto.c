/*
 * test_proto: the wire protocol table, parser and writer against the spec in
 * proto/PROTOCOL.md. Walks every row of every table, round-trips every reply (writer to
 * reply decoder) and every command (writer and hand-built lines to command decoder),
 * triggers each error status on its own and checks every integer range edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Big enough for any line the tests build, with room to spare for canaries. */
#define TEST_BUF (2 * PROTO_LINE_MAX)

/* The spec's names, in enum order: a typo in the table fails here. */
static const char *const want_cmds[] = {"send-probe", "check-support", "enable-extension"};
static const char *const want_replies[] = {
	"reply",
	"ttl-expired",
	"no-reply",
	"no-route",
	"no-route-host",
	"no-route-network",
	"host-down",
	"prohibited",
	"network-down",
	"permission-denied",
	"address-in-use",
	"address-not-available",
	"probes-exhausted",
	"invalid-argument",
	"unknown-command",
	"command-parse-error",
	"command-buffer-overflow",
	"feature-support",
	"extension-enabled",
	"unexpected-error",
};
static const char *const want_args[] = {
	"ip-4",	      "ip-6",	      "protocol", "port",      "local-ip-4",	  "local-ip-6",
	"local-port", "local-device", "ttl",	  "size",      "bit-pattern",	  "tos",
	"mark",	      "timeout",      "flow-id",  "feature",   "round-trip-time", "mpls",
	"support",    "reason",	      "errno",	  "icmp-type", "icmp-code",	  "reply-ttl",
	"quoted-ttl",
};
static const char *const want_exts[] = {"icmp-type", "reply-ttl", "quoted-ttl", "flow-id",
					"unreachable-detail"};
static const char *const want_protocols[] = {"icmp", "udp", "tcp", "sctp"};

struct want_range {
	enum proto_arg arg;
	int64_t min, max;
};

static const struct want_range want_ranges[] = {
	{PROTO_ARG_PORT, 0, 65535},
	{PROTO_ARG_LOCAL_PORT, 1024, 65535},
	{PROTO_ARG_TTL, 1, 255},
	{PROTO_ARG_SIZE, 0, 65000},
	/* mtr sends these with "%d": negative values are its random pattern / a u32 mark. */
	{PROTO_ARG_BIT_PATTERN, INT32_MIN, INT32_MAX},
	{PROTO_ARG_TOS, 0, 255},
	{PROTO_ARG_MARK, INT32_MIN, INT64_C(4294967295)},
	{PROTO_ARG_TIMEOUT, 0, 3600},
	{PROTO_ARG_FLOW_ID, 0, 65535},
	{PROTO_ARG_ROUND_TRIP_TIME, 0, INT32_MAX},
	{PROTO_ARG_ERRNO, 0, 4095},
	{PROTO_ARG_ICMP_TYPE, 0, 255},
	{PROTO_ARG_ICMP_CODE, 0, 255},
	{PROTO_ARG_REPLY_TTL, 0, 255},
	{PROTO_ARG_QUOTED_TTL, 0, 255},
};

#define B(a) PROTO_BIT(PROTO_ARG_##a)
#define RESULT_ARGS                                                                                \
	(B(IP_4) | B(IP_6) | B(ROUND_TRIP_TIME) | B(MPLS) | B(ICMP_TYPE) | B(ICMP_CODE) |          \
	 B(REPLY_TTL) | B(QUOTED_TTL))

static const uint64_t want_reply_args[PROTO_REPLY__COUNT] = {
	[PROTO_REPLY_REPLY] = RESULT_ARGS,
	[PROTO_REPLY_TTL_EXPIRED] = RESULT_ARGS,
	[PROTO_REPLY_NO_ROUTE] = RESULT_ARGS,
	[PROTO_REPLY_NO_ROUTE_HOST] = RESULT_ARGS,
	[PROTO_REPLY_NO_ROUTE_NETWORK] = RESULT_ARGS,
	[PROTO_REPLY_HOST_DOWN] = RESULT_ARGS,
	[PROTO_REPLY_PROHIBITED] = RESULT_ARGS,
	[PROTO_REPLY_INVALID_ARGUMENT] = B(REASON),
	[PROTO_REPLY_FEATURE_SUPPORT] = B(SUPPORT),
	[PROTO_REPLY_EXTENSION_ENABLED] = B(FEATURE),
	[PROTO_REPLY_UNEXPECTED_ERROR] = B(ERRNO) | B(REASON),
};

static const uint64_t want_cmd_args[PROTO_CMD__COUNT] = {
	[PROTO_CMD_SEND_PROBE] = B(IP_4) | B(IP_6) | B(PROTOCOL) | B(PORT) | B(LOCAL_IP_4) |
				 B(LOCAL_IP_6) | B(LOCAL_PORT) | B(LOCAL_DEVICE) | B(TTL) |
				 B(SIZE) | B(BIT_PATTERN) | B(TOS) | B(MARK) | B(TIMEOUT) |
				 B(FLOW_ID),
	[PROTO_CMD_CHECK_SUPPORT] = B(FEATURE),
	[PROTO_CMD_ENABLE_EXTENSION] = B(FEATURE),
};

/* Helpers ----------------------------------------------------------------------------- */

static int split_str(const char *s, struct proto_line *line)
{
	return proto_split(s, strlen(s), line);
}

/* Split and decode a NUL-terminated line; returns the first non-OK status. */
static int decode_str(const char *s, struct proto_command *cmd, enum proto_arg *bad)
{
	static struct proto_line line;
	int st = split_str(s, &line);

	if (st != PROTO_OK)
		return st;
	return proto_decode_command(&line, cmd, bad);
}

static void expect_line(const char *buf, int n, const char *want)
{
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static int slice_eq(struct proto_slice sl, const char *s)
{
	return sl.len == strlen(s) && memcmp(sl.ptr, s, sl.len) == 0;
}

/* Table walks ------------------------------------------------------------------------- */

static void test_cmd_table(void **state)
{
	enum proto_cmd c;

	(void)state;
	assert_int_equal(ARRAY_LEN(want_cmds), PROTO_CMD__COUNT);
	for (int i = 0; i < PROTO_CMD__COUNT; i++) {
		const struct proto_cmd_info *info = proto_cmd_info((enum proto_cmd)i);

		assert_non_null(info);
		assert_string_equal(info->name, want_cmds[i]);
		assert_int_equal(proto_cmd_lookup(info->name, strlen(info->name), &c), 0);
		assert_int_equal(c, i);
		assert_true(info->allowed == want_cmd_args[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(info->name,
						proto_cmd_info((enum proto_cmd)j)->name);
	}
	assert_null(proto_cmd_info(PROTO_CMD__COUNT));
	assert_null(proto_cmd_info((enum proto_cmd) - 1));
	assert_int_equal(proto_cmd_lookup("send-prob", 9, &c), -ENOENT);
	assert_int_equal(proto_cmd_lookup("send-probes", 11, &c), -ENOENT);
	assert_int_equal(proto_cmd_lookup("", 0, &c), -ENOENT);
	/* len, not NUL, ends the name. */
	assert_int_equal(proto_cmd_lookup("send-probe-x", 10, &c), 0);
	assert_int_equal(c, PROTO_CMD_SEND_PROBE);
	assert_int_equal(proto_cmd_lookup("send-probe\0xx", 13, &c), -ENOENT);
}

static void test_reply_table(void **state)
{
	enum proto_reply r;

	(void)state;
	assert_int_equal(ARRAY_LEN(want_replies), PROTO_REPLY__COUNT);
	for (int i = 0; i < PROTO_REPLY__COUNT; i++) {
		const struct proto_reply_info *info = proto_reply_info((enum proto_reply)i);

		assert_non_null(info);
		assert_string_equal(info->name, want_replies[i]);
		assert_int_equal(proto_reply_lookup(info->name, strlen(info->name), &r), 0);
		assert_int_equal(r, i);
		assert_true(info->allowed == want_reply_args[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(info->name,
						proto_reply_info((enum proto_reply)j)->name);
	}
	assert_null(proto_reply_info(PROTO_REPLY__COUNT));
	assert_null(proto_reply_info((enum proto_reply) - 1));
	assert_int_equal(proto_reply_lookup("replies", 7, &r), -ENOENT);
	assert_int_equal(proto_reply_lookup("no-route", 7, &r), -ENOENT);
}

static void test_arg_table(void **state)
{
	enum proto_arg a;

	(void)state;
	assert_int_equal(ARRAY_LEN(want_args), PROTO_ARG__COUNT);
	for (int i = 0; i < PROTO_ARG__COUNT; i++) {
		const struct proto_arg_info *info = proto_arg_info((enum proto_arg)i);

		assert_non_null(info);
		assert_string_equal(info->name, want_args[i]);
		assert_int_equal(proto_arg_lookup(info->name, strlen(info->name), &a), 0);
		assert_int_equal(a, i);
		assert_true(info->kind >= PROTO_VALUE_INT && info->kind <= PROTO_VALUE_TEXT);
		if (info->kind == PROTO_VALUE_INT)
			assert_true(info->min <= info->max);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(info->name,
						proto_arg_info((enum proto_arg)j)->name);
	}
	assert_null(proto_arg_info(PROTO_ARG__COUNT));
	assert_null(proto_arg_info((enum proto_arg) - 1));
	assert_int_equal(proto_arg_lookup("ip", 2, &a), -ENOENT);

	/* Kinds and ranges as the spec gives them. */
	assert_int_equal(proto_arg_info(PROTO_ARG_IP_4)->kind, PROTO_VALUE_IP4);
	assert_int_equal(proto_arg_info(PROTO_ARG_LOCAL_IP_4)->kind, PROTO_VALUE_IP4);
	assert_int_equal(proto_arg_info(PROTO_ARG_IP_6)->kind, PROTO_VALUE_IP6);
	assert_int_equal(proto_arg_info(PROTO_ARG_LOCAL_IP_6)->kind, PROTO_VALUE_IP6);
	assert_int_equal(proto_arg_info(PROTO_ARG_PROTOCOL)->kind, PROTO_VALUE_WORD);
	assert_int_equal(proto_arg_info(PROTO_ARG_FEATURE)->kind, PROTO_VALUE_WORD);
	assert_int_equal(proto_arg_info(PROTO_ARG_LOCAL_DEVICE)->kind, PROTO_VALUE_DEVICE);
	assert_int_equal(proto_arg_info(PROTO_ARG_MPLS)->kind, PROTO_VALUE_TEXT);
	assert_int_equal(proto_arg_info(PROTO_ARG_SUPPORT)->kind, PROTO_VALUE_TEXT);
	assert_int_equal(proto_arg_info(PROTO_ARG_REASON)->kind, PROTO_VALUE_TEXT);
	for (size_t i = 0; i < ARRAY_LEN(want_ranges); i++) {
		const struct proto_arg_info *info = proto_arg_info(want_ranges[i].arg);

		assert_int_equal(info->kind, PROTO_VALUE_INT);
		assert_true(info->min == want_ranges[i].min);
		assert_true(info->max == want_ranges[i].max);
	}
	assert_true(proto_arg_info(PROTO_ARG_SIZE)->max == PROTO_SIZE_MAX);
}

static void test_ext_and_protocol_tables(void **state)
{
	enum proto_ext e;
	enum proto_protocol p;

	(void)state;
	assert_int_equal(ARRAY_LEN(want_exts), PROTO_EXT__COUNT);
	for (int i = 0; i < PROTO_EXT__COUNT; i++) {
		const char *name = proto_ext_name((enum proto_ext)i);

		assert_non_null(name);
		assert_string_equal(name, want_exts[i]);
		assert_int_equal(proto_ext_lookup(name, strlen(name), &e), 0);
		assert_int_equal(e, i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, proto_ext_name((enum proto_ext)j));
	}
	assert_null(proto_ext_name(PROTO_EXT__COUNT));
	assert_null(proto_ext_name((enum proto_ext) - 1));
	assert_int_equal(proto_ext_lookup("mpls", 4, &e), -ENOENT);

	assert_int_equal(ARRAY_LEN(want_protocols), PROTO_PROTOCOL__COUNT);
	for (int i = 0; i < PROTO_PROTOCOL__COUNT; i++) {
		const char *name = proto_protocol_name((enum proto_protocol)i);

		assert_non_null(name);
		assert_string_equal(name, want_protocols[i]);
		assert_int_equal(proto_protocol_lookup(name, strlen(name), &p), 0);
		assert_int_equal(p, i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, proto_protocol_name((enum proto_protocol)j));
	}
	assert_null(proto_protocol_name(PROTO_PROTOCOL__COUNT));
	assert_null(proto_protocol_name((enum proto_protocol) - 1));
	assert_int_equal(proto_protocol_lookup("ICMP", 4, &p), -ENOENT);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int i = 0; i < PROTO_ERR__COUNT; i++) {
		const char *name = proto_status_name((enum proto_status)i);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		for (const char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || *c == '-');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, proto_status_name((enum proto_status)j));
	}
	assert_string_equal(proto_status_name(PROTO_ERR_TOO_LONG), "line-too-long");
	assert_string_equal(proto_status_name(PROTO_ERR_MISSING_VALUE), "missing-value");
	assert_string_equal(proto_status_name(PROTO_ERR_REPEATED_ARG), "repeated-argument");
	assert_string_equal(proto_status_name(PROTO_ERR_BAD_NUMBER), "bad-number");
	assert_string_equal(proto_status_name(PROTO_ERR_OUT_OF_RANGE), "out-of-range");
	assert_string_equal(proto_status_name(PROTO_ERR_UNKNOWN_ARG), "unknown-argument");
	assert_null(proto_status_name(PROTO_ERR__COUNT));
	assert_null(proto_status_name((enum proto_status) - 1));
}

/* Round trips ------------------------------------------------------------------------- */

/* Writes every argument the reply allows (ip-4 or ip-6 per family) with a test value. */
static int write_full_reply(struct proto_writer *w, enum proto_reply r, int family)
{
	static const struct proto_mpls mpls[] = {{100, 0, 0, 1}, {0xfffff, 7, 1, 255}};
	const struct proto_reply_info *info = proto_reply_info(r);
	struct in_addr a4;
	struct in6_addr a6;

	inet_pton(AF_INET, "192.0.2.1", &a4);
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	proto_write_head(w, 42, r);
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

		if (!(info->allowed & PROTO_BIT(a)))
			continue;
		if (a == PROTO_ARG_IP_4 && family == AF_INET)
			proto_write_addr(w, AF_INET, &a4);
		else if (a == PROTO_ARG_IP_6 && family == AF_INET6)
			proto_write_addr(w, AF_INET6, &a6);
		else if (a == PROTO_ARG_MPLS)
			proto_write_mpls(w, mpls, ARRAY_LEN(mpls));
		else if (ai->kind == PROTO_VALUE_INT)
			proto_write_int(w, (enum proto_arg)a, ai->max);
		else if (ai->kind == PROTO_VALUE_TEXT || ai->kind == PROTO_VALUE_WORD)
			proto_write_str(w, (enum proto_arg)a, "ok");
	}
	return proto_write_end(w);
}

static void test_every_reply_round_trips(void **state)
{
	static const int families[] = {AF_INET, AF_INET6};
	char buf[TEST_BUF];
	struct proto_line line;

	(void)state;
	for (int r = 0; r < PROTO_REPLY__COUNT; r++) {
		for (size_t f = 0; f < ARRAY_LEN(families); f++) {
			const struct proto_reply_info *info = proto_reply_info((enum proto_reply)r);
			struct proto_writer w;
			enum proto_reply got;
			uint64_t seen = 0;
			int n;

			proto_writer_init(&w, buf, sizeof(buf));
			n = write_full_reply(&w, (enum proto_reply)r, families[f]);
			assert_true(n > 0);
			assert_int_equal(buf[n - 1], '\n');
			assert_null(memchr(buf, '\n', (size_t)n - 1));
			assert_int_equal(proto_split(buf, (size_t)n - 1, &line), PROTO_OK);
			assert_true(line.token == 42);
			assert_int_equal(proto_reply_lookup(line.word.ptr, line.word.len, &got), 0);
			assert_int_equal(got, r);
			for (size_t i = 0; i < line.nargs; i++) {
				enum proto_arg a;

				assert_int_equal(
					proto_arg_lookup(line.name[i].ptr, line.name[i].len, &a),
					0);
				assert_true(info->allowed & PROTO_BIT(a));
				assert_false(seen & PROTO_BIT(a));
				seen |= PROTO_BIT(a);
				if (a == PROTO_ARG_IP_4)
					assert_true(slice_eq(line.value[i], "192.0.2.1"));
				if (a == PROTO_ARG_IP_6)
					assert_true(slice_eq(line.value[i], "2001:db8::1"));
				if (a == PROTO_ARG_MPLS)
					assert_true(slice_eq(line.value[i],
							     "100,0,0,1,1048575,7,1,255"));
				if (a == PROTO_ARG_ROUND_TRIP_TIME)
					assert_true(slice_eq(line.value[i], "2147483647"));
				if (a == PROTO_ARG_ERRNO)
					assert_true(slice_eq(line.value[i], "4095"));
			}
			/* Everything allowed came back, minus the other address family. */
			assert_true(seen == (info->allowed &
					     ~(families[f] == AF_INET ? B(IP_6) : B(IP_4))));
		}
	}
}

/* mtr's own front end parses these bytes: keep them exactly as mtr-packet prints them. */
static void test_reply_bytes_match_mtr_packet(void **state)
{
	static const struct proto_mpls mpls[] = {{16, 0, 1, 1}};
	char buf[TEST_BUF];
	struct proto_writer w;
	struct in_addr a4;

	(void)state;
	inet_pton(AF_INET, "198.51.100.7", &a4);
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 7, PROTO_REPLY_TTL_EXPIRED);
	proto_write_addr(&w, AF_INET, &a4);
	proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, 1234);
	proto_write_mpls(&w, mpls, 1);
	expect_line(buf, proto_write_end(&w),
		    "7 ttl-expired ip-4 198.51.100.7 round-trip-time 1234 mpls 16,0,1,1\n");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 0, PROTO_REPLY_COMMAND_PARSE_ERROR);
	expect_line(buf, proto_write_end(&w), "0 command-parse-error\n");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 2147483647, PROTO_REPLY_UNEXPECTED_ERROR);
	proto_write_int(&w, PROTO_ARG_ERRNO, 0);
	expect_line(buf, proto_write_end(&w), "2147483647 unexpected-error errno 0\n");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 12, PROTO_REPLY_FEATURE_SUPPORT);
	proto_write_str(&w, PROTO_ARG_SUPPORT, "ok");
	expect_line(buf, proto_write_end(&w), "12 feature-support support ok\n");

	/* An empty MPLS stack writes nothing, as mtr-packet leaves the argument out. */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 3, PROTO_REPLY_REPLY);
	proto_write_mpls(&w, mpls, 0);
	expect_line(buf, proto_write_end(&w), "3 reply\n");
}

/* A valid value for each command argument, and what decode must make of it. */
static const char *cmd_value(enum proto_arg a)
{
	switch (a) {
	case PROTO_ARG_IP_4:
		return "192.0.2.10";
	case PROTO_ARG_LOCAL_IP_4:
		return "198.51.100.1";
	case PROTO_ARG_IP_6:
		return "2001:db8::10";
	case PROTO_ARG_LOCAL_IP_6:
		return "2001:db8:1::1";
	case PROTO_ARG_PROTOCOL:
		return "udp";
	case PROTO_ARG_LOCAL_DEVICE:
		return "veth-a0";
	case PROTO_ARG_FEATURE:
		return "unreachable-detail";
	case PROTO_ARG_PORT:
	case PROTO_ARG_LOCAL_PORT:
	case PROTO_ARG_TTL:
	case PROTO_ARG_SIZE:
	case PROTO_ARG_BIT_PATTERN:
	case PROTO_ARG_TOS:
	case PROTO_ARG_MARK:
	case PROTO_ARG_TIMEOUT:
	case PROTO_ARG_FLOW_ID:
	case PROTO_ARG_ROUND_TRIP_TIME:
	case PROTO_ARG_MPLS:
	case PROTO_ARG_SUPPORT:
	case PROTO_ARG_REASON:
	case PROTO_ARG_ERRNO:
	case PROTO_ARG_ICMP_TYPE:
	case PROTO_ARG_ICMP_CODE:
	case PROTO_ARG_REPLY_TTL:
	case PROTO_ARG_QUOTED_TTL:
	case PROTO_ARG__COUNT:
		break;
	}
	return NULL;
}

static void test_every_command_round_trips(void **state)
{
	static char text[TEST_BUF], numbuf[PROTO_ARGS_MAX][24];
	struct proto_command cmd;
	enum proto_arg bad;

	(void)state;
	for (int c = 0; c < PROTO_CMD__COUNT; c++) {
		const struct proto_cmd_info *info = proto_cmd_info((enum proto_cmd)c);
		size_t len = (size_t)snprintf(text, sizeof(text), "  %d  %s", 1000 + c, info->name);
		int k = 0;

		for (int a = 0; a < PROTO_ARG__COUNT; a++) {
			const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);
			const char *v = cmd_value((enum proto_arg)a);

			if (!(info->allowed & PROTO_BIT(a)))
				continue;
			if (ai->kind == PROTO_VALUE_INT) {
				/* An in-range value that is neither edge. */
				snprintf(numbuf[k], sizeof(numbuf[k]), "%lld",
					 (long long)(ai->min + (ai->max - ai->min) / 2));
				v = numbuf[k++];
			}
			assert_non_null(v);
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s %s", ai->name,
						v);
		}
		/* A CR before the newline is tolerated. */
		len += (size_t)snprintf(text + len, sizeof(text) - len, "\r");
		assert_int_equal(decode_str(text, &cmd, &bad), PROTO_OK);
		assert_int_equal(cmd.cmd, c);
		assert_true(cmd.token == 1000 + c);
		assert_true(cmd.present == info->allowed);
		for (int a = 0; a < PROTO_ARG__COUNT; a++) {
			const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

			if (!(info->allowed & PROTO_BIT(a)))
				continue;
			if (ai->kind == PROTO_VALUE_INT)
				assert_true(cmd.num[a] == ai->min + (ai->max - ai->min) / 2);
			else
				assert_true(slice_eq(cmd.text[a], cmd_value((enum proto_arg)a)));
			/* Slices point into the caller's line. */
			assert_true(cmd.text[a].ptr > text && cmd.text[a].ptr < text + len);
		}
	}
	assert_true(cmd.present == B(FEATURE));

	/* Addresses decode to the right bytes. */
	assert_int_equal(decode_str("5 send-probe ip-4 192.0.2.10 ip-6 2001:db8::10 local-ip-4 "
				    "198.51.100.1 protocol tcp",
				    &cmd, &bad),
			 PROTO_OK);
	assert_int_equal(cmd.ip4[PROTO_ARG_IP_4].s_addr, htonl(0xc000020a));
	assert_int_equal(cmd.ip4[PROTO_ARG_LOCAL_IP_4].s_addr, htonl(0xc6336401));
	assert_int_equal(cmd.ip6[PROTO_ARG_IP_6].s6_addr[0], 0x20);
	assert_int_equal(cmd.ip6[PROTO_ARG_IP_6].s6_addr[15], 0x10);
	assert_true(cmd.num[PROTO_ARG_PROTOCOL] == PROTO_PROTOCOL_TCP);
	assert_false(cmd.present & B(TTL));
}

/* Errors ------------------------------------------------------------------------------ */

struct error_case {
	const char *line;
	int status;
	enum proto_arg bad; /* for decode errors */
};

static void test_each_error_status(void **state)
{
	static const struct error_case cases[] = {
		{"5 send-probe ip-4 192.0.2.1", PROTO_OK, PROTO_ARG__COUNT},
		{"", PROTO_ERR_EMPTY, PROTO_ARG__COUNT},
		{"    ", PROTO_ERR_EMPTY, PROTO_ARG__COUNT},
		{"\r", PROTO_ERR_EMPTY, PROTO_ARG__COUNT},
		{"x send-probe", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		{"-1 send-probe", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		/* 0 to strtol, but not the text a client matches its reply by. */
		{"-0 send-probe", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		{"-00 check-support feature version", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		{"2147483648 send-probe", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		{"99999999999999999999999 send-probe", PROTO_ERR_BAD_TOKEN, PROTO_ARG__COUNT},
		{"5", PROTO_ERR_NO_COMMAND, PROTO_ARG__COUNT},
		{"5   ", PROTO_ERR_NO_COMMAND, PROTO_ARG__COUNT},
		{"5 send-probe ip-4", PROTO_ERR_MISSING_VALUE, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 192.0.2.1 ttl ", PROTO_ERR_MISSING_VALUE, PROTO_ARG__COUNT},
		{"5 send-probe\tip-4 192.0.2.1", PROTO_ERR_BAD_BYTE, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 192.0.2.1\x7f", PROTO_ERR_BAD_BYTE, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 192.0.2.\xc3\xa9", PROTO_ERR_BAD_BYTE, PROTO_ARG__COUNT},
		{"5 send-probe\r ip-4 1", PROTO_ERR_BAD_BYTE, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 192.0.2.1\r\r", PROTO_ERR_BAD_BYTE, PROTO_ARG__COUNT},
		{"5 sendprobe ip-4 192.0.2.1", PROTO_ERR_UNKNOWN_COMMAND, PROTO_ARG__COUNT},
		{"5 SEND-PROBE", PROTO_ERR_UNKNOWN_COMMAND, PROTO_ARG__COUNT},
		{"5 send-probe ip-5 192.0.2.1", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG__COUNT},
		{"5 check-support ttl 5", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_TTL},
		{"5 send-probe feature icmp", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_FEATURE},
		{"5 send-probe round-trip-time 5", PROTO_ERR_UNKNOWN_ARG,
		 PROTO_ARG_ROUND_TRIP_TIME},
		{"5 send-probe ttl 5 ip-4 192.0.2.1 ttl 5", PROTO_ERR_REPEATED_ARG, PROTO_ARG_TTL},
		{"5 check-support feature a feature b", PROTO_ERR_REPEATED_ARG, PROTO_ARG_FEATURE},
		{"5 send-probe ttl 5x", PROTO_ERR_BAD_NUMBER, PROTO_ARG_TTL},
		{"5 send-probe ttl 0x10", PROTO_ERR_BAD_NUMBER, PROTO_ARG_TTL},
		{"5 send-probe size -", PROTO_ERR_BAD_NUMBER, PROTO_ARG_SIZE},
		{"5 send-probe timeout -0", PROTO_ERR_BAD_NUMBER, PROTO_ARG_TIMEOUT},
		{"5 send-probe bit-pattern -0", PROTO_ERR_BAD_NUMBER, PROTO_ARG_BIT_PATTERN},
		{"5 send-probe ttl -0", PROTO_ERR_BAD_NUMBER, PROTO_ARG_TTL},
		{"5 send-probe ttl 256", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_TTL},
		{"5 send-probe local-port 1023", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_LOCAL_PORT},
		{"5 send-probe mark 99999999999999999999999", PROTO_ERR_OUT_OF_RANGE,
		 PROTO_ARG_MARK},
		{"5 send-probe ip-4 192.0.2.256", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_4},
		{"5 send-probe ip-4 2001:db8::1", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_4},
		{"5 send-probe ip-6 192.0.2.1", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_6},
		{"5 send-probe ip-6 2001:db8::1%eth0", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_6},
		{"5 send-probe local-ip-6 "
		 "2001:0db8:0000:0000:0000:0000:0000:0001:0000:0000:0000:0000",
		 PROTO_ERR_BAD_VALUE, PROTO_ARG_LOCAL_IP_6},
		{"5 send-probe local-ip-4 192.0.2.1.1.1.1.1.1.1", PROTO_ERR_BAD_VALUE,
		 PROTO_ARG_LOCAL_IP_4},
		/* Longest valid texts, and one byte more (past the inet_pton copy). */
		{"5 send-probe ip-4 255.255.255.255", PROTO_OK, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 255.255.255.2555", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_4},
		{"5 send-probe ip-6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", PROTO_OK,
		 PROTO_ARG__COUNT},
		{"5 send-probe ip-6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
		 PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_6},
		{"5 send-probe protocol ICMP", PROTO_ERR_BAD_VALUE, PROTO_ARG_PROTOCOL},
		{"5 send-probe protocol gre", PROTO_ERR_BAD_VALUE, PROTO_ARG_PROTOCOL},
		{"5 check-support feature ip_4", PROTO_ERR_BAD_VALUE, PROTO_ARG_FEATURE},
		{"5 send-probe local-device eth0/1", PROTO_ERR_BAD_VALUE, PROTO_ARG_LOCAL_DEVICE},
		{"5 send-probe local-device eth0:1", PROTO_ERR_BAD_VALUE, PROTO_ARG_LOCAL_DEVICE},
		{"5 send-probe local-device ..", PROTO_ERR_BAD_VALUE, PROTO_ARG_LOCAL_DEVICE},
		{"5 send-probe local-device .", PROTO_ERR_BAD_VALUE, PROTO_ARG_LOCAL_DEVICE},
		{"5 send-probe local-device 0123456789abcdef", PROTO_ERR_BAD_VALUE,
		 PROTO_ARG_LOCAL_DEVICE},
		{"5 send-probe local-device 0123456789abcde", PROTO_OK, PROTO_ARG__COUNT},
		{"5 send-probe local-device ...", PROTO_OK, PROTO_ARG__COUNT},
		{"5 send-probe protocol sctp", PROTO_OK, PROTO_ARG__COUNT},
		{"5 check-support feature no-such-feature", PROTO_OK, PROTO_ARG__COUNT},
		{"0007 send-probe ttl 007", PROTO_OK, PROTO_ARG__COUNT},
		/* What mtr -B 300 and mtr -M 4294967295 really send (printf "%d"). */
		{"5 send-probe ip-4 192.0.2.1 bit-pattern -300 mark -1", PROTO_OK,
		 PROTO_ARG__COUNT},
	};
	int seen[PROTO_ERR__COUNT] = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct proto_command cmd;
		enum proto_arg bad = (enum proto_arg) - 7;
		int st = decode_str(cases[i].line, &cmd, &bad);

		if (st != cases[i].status)
			fail_msg("line %zu \"%s\": got %s, want %s", i, cases[i].line,
				 proto_status_name(st), proto_status_name(cases[i].status));
		seen[st]++;
		if (st >= PROTO_ERR_UNKNOWN_COMMAND || st == PROTO_OK) {
			if (bad != cases[i].bad)
				fail_msg("line %zu \"%s\": bad_arg %d, want %d", i, cases[i].line,
					 bad, cases[i].bad);
			assert_true(cmd.token == 5 || cmd.token == 7);
		}
	}
	/* Every status but the two the long-line tests cover has a line above. */
	for (int st = 0; st < PROTO_ERR__COUNT; st++) {
		/* Long lines have tests of their own; replies are decoded in test_reply_errors. */
		if (st == PROTO_ERR_TOO_LONG || st == PROTO_ERR_TOO_MANY_ARGS ||
		    st == PROTO_ERR_UNKNOWN_REPLY)
			continue;
		if (!seen[st])
			fail_msg("no case for %s", proto_status_name(st));
	}
}

static void test_line_length_limit(void **state)
{
	static char text[TEST_BUF];
	struct proto_line line;

	(void)state;
	/* "1 a" then spaces: valid at PROTO_LINE_MAX - 1 bytes, refused at PROTO_LINE_MAX. */
	memset(text, ' ', sizeof(text));
	memcpy(text, "1 a", 3);
	assert_int_equal(proto_split(text, PROTO_LINE_MAX - 1, &line), PROTO_OK);
	assert_true(slice_eq(line.word, "a"));
	assert_int_equal(proto_split(text, PROTO_LINE_MAX, &line), PROTO_ERR_TOO_LONG);
	/* Too long wins over anything else wrong with the line. */
	memset(text, '\x01', sizeof(text));
	assert_int_equal(proto_split(text, PROTO_LINE_MAX, &line), PROTO_ERR_TOO_LONG);
	assert_int_equal(proto_split(text, PROTO_LINE_MAX - 1, &line), PROTO_ERR_BAD_BYTE);
}

static void test_argument_count_limit(void **state)
{
	static char text[TEST_BUF];
	struct proto_line line;
	struct proto_command cmd;
	enum proto_arg bad;
	size_t len = (size_t)snprintf(text, sizeof(text), "9 x");

	(void)state;
	for (int i = 0; i < PROTO_ARGS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, " n%d v%d", i, i);
	assert_int_equal(proto_split(text, len, &line), PROTO_OK);
	assert_int_equal(line.nargs, PROTO_ARGS_MAX);
	assert_true(slice_eq(line.name[PROTO_ARGS_MAX - 1], "n31"));
	assert_true(slice_eq(line.value[PROTO_ARGS_MAX - 1], "v31"));
	len += (size_t)snprintf(text + len, sizeof(text) - len, " n v");
	assert_int_equal(proto_split(text, len, &line), PROTO_ERR_TOO_MANY_ARGS);
	/* Even a lone 33rd name: the count is what is wrong. */
	assert_int_equal(proto_split(text, len - 2, &line), PROTO_ERR_TOO_MANY_ARGS);

	/* decode refuses a hand-made line whose count is past the arrays. */
	assert_int_equal(split_str("1 send-probe", &line), PROTO_OK);
	line.nargs = PROTO_ARGS_MAX + 1;
	assert_int_equal(proto_decode_command(&line, &cmd, &bad), PROTO_ERR_TOO_MANY_ARGS);
}

static void test_split_slices(void **state)
{
	/* Not NUL-terminated: the bytes after len must never be read as part of the line. */
	static const char text[] = "  12   send-probe   ttl   3  XXXXXXXX";
	struct proto_line line;
	size_t len = strlen(text) - 8;

	(void)state;
	assert_int_equal(proto_split(text, len, &line), PROTO_OK);
	assert_true(line.token == 12);
	assert_true(slice_eq(line.word, "send-probe"));
	assert_int_equal(line.nargs, 1);
	assert_true(slice_eq(line.name[0], "ttl"));
	assert_true(slice_eq(line.value[0], "3"));
	assert_true(line.value[0].ptr == text + 26);
	/* Cut through the value: the value ends where the line does. */
	assert_int_equal(proto_split(text, 25, &line), PROTO_ERR_MISSING_VALUE);
}

/* min-1, min, max, max+1 of every INT argument a command accepts. */
static void test_int_boundaries_decode(void **state)
{
	char text[128];
	struct proto_command cmd;
	enum proto_arg bad;
	int tested = 0;

	(void)state;
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);
		const struct {
			int64_t v;
			int st;
		} edges[] = {
			{ai->min - 1, PROTO_ERR_OUT_OF_RANGE},
			{ai->min, PROTO_OK},
			{ai->max, PROTO_OK},
			{ai->max + 1, PROTO_ERR_OUT_OF_RANGE},
		};

		if (ai->kind != PROTO_VALUE_INT ||
		    !(proto_cmd_info(PROTO_CMD_SEND_PROBE)->allowed & PROTO_BIT(a)))
			continue;
		for (size_t e = 0; e < ARRAY_LEN(edges); e++) {
			snprintf(text, sizeof(text), "3 send-probe ip-4 192.0.2.1 %s %lld",
				 ai->name, (long long)edges[e].v);
			assert_int_equal(decode_str(text, &cmd, &bad), edges[e].st);
			if (edges[e].st == PROTO_OK) {
				assert_true(cmd.num[a] == edges[e].v);
				assert_true(cmd.present & PROTO_BIT(a));
			} else {
				assert_int_equal(bad, a);
			}
		}
		tested++;
	}
	assert_int_equal(tested, 9);
}

/* The writer refuses values a peer's parser would refuse: same edges, other side. */
static void test_int_boundaries_write(void **state)
{
	char buf[TEST_BUF];
	int tested = 0;

	(void)state;
	for (int r = 0; r < PROTO_REPLY__COUNT; r++) {
		const struct proto_reply_info *info = proto_reply_info((enum proto_reply)r);

		for (int a = 0; a < PROTO_ARG__COUNT; a++) {
			const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);
			const struct {
				int64_t v;
				int ok;
			} edges[] = {
				{ai->min - 1, 0}, {ai->min, 1}, {ai->max, 1}, {ai->max + 1, 0}};

			if (ai->kind != PROTO_VALUE_INT || !(info->allowed & PROTO_BIT(a)))
				continue;
			for (size_t e = 0; e < ARRAY_LEN(edges); e++) {
				struct proto_writer w;
				int n;

				proto_writer_init(&w, buf, sizeof(buf));
				proto_write_head(&w, 1, (enum proto_reply)r);
				proto_write_int(&w, (enum proto_arg)a, edges[e].v);
				n = proto_write_end(&w);
				if (edges[e].ok) {
					char want[64];
					int wn = snprintf(want, sizeof(want), "1 %s %s %lld\n",
							  info->name, ai->name,
							  (long long)edges[e].v);

					assert_int_equal(n, wn);
					assert_memory_equal(buf, want, (size_t)n);
				} else {
					assert_int_equal(n, -EINVAL);
				}
			}
			tested++;
		}
	}
	/* 7 probe results x 5 INT args, plus unexpected-error's errno. */
	assert_int_equal(tested, 7 * 5 + 1);
}

static void test_writer_overflow(void **state)
{
	char buf[64];
	char want[] = "123 invalid-argument reason out-of-range\n";
	size_t need = strlen(want);

	(void)state;
	for (size_t cap = 0; cap <= need + 1; cap++) {
		struct proto_writer w;
		int n;

		memset(buf, '#', sizeof(buf));
		proto_writer_init(&w, buf, cap);
		proto_write_head(&w, 123, PROTO_REPLY_INVALID_ARGUMENT);
		proto_write_str(&w, PROTO_ARG_REASON, "out-of-range");
		n = proto_write_end(&w);
		if (cap >= need) {
			assert_int_equal(n, need);
			assert_memory_equal(buf, want, need);
			assert_false(w.overflow);
		} else {
			assert_int_equal(n, -ENOSPC);
			assert_true(w.overflow);
			assert_true(w.len <= cap);
		}
		/* Never a byte past cap. */
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], '#');
	}
}

static void test_writer_line_limit(void **state)
{
	static char buf[TEST_BUF], big[PROTO_LINE_MAX];
	struct proto_writer w;
	size_t head = strlen("1 invalid-argument reason ");

	(void)state;
	/*
	 * The longest line mtr-packet's reader takes: PROTO_LINE_MAX - 1 bytes with the
	 * newline (its buffer keeps a byte for the NUL).
	 */
	memset(big, 'a', sizeof(big));
	big[PROTO_LINE_MAX - 2 - head] = '\0';
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 1, PROTO_REPLY_INVALID_ARGUMENT);
	proto_write_str(&w, PROTO_ARG_REASON, big);
	assert_int_equal(proto_write_end(&w), PROTO_LINE_MAX - 1);

	/* One more byte and the peer would call it command-buffer-overflow: refuse it. */
	memset(big, 'a', sizeof(big));
	big[PROTO_LINE_MAX - 1 - head] = '\0';
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, 1, PROTO_REPLY_INVALID_ARGUMENT);
	proto_write_str(&w, PROTO_ARG_REASON, big);
	assert_int_equal(proto_write_end(&w), -ENOSPC);
}

static void test_writer_refuses_bad_calls(void **state)
{
	static const struct proto_mpls bad_label[] = {{0x100000, 0, 1, 1}};
	static const struct proto_mpls bad_exp[] = {{1, 8, 1, 1}};
	static const struct proto_mpls bad_bos[] = {{1, 0, 2, 1}};
	static const struct proto_mpls many[PROTO_MPLS_MAX + 1];
	char buf[TEST_BUF];
	struct proto_writer w;
	struct in_addr a4 = {0};
	struct in6_addr a6 = IN6ADDR_LOOPBACK_INIT;

	(void)state;
#define EXPECT_INVALID(reply, calls)                                                               \
	do {                                                                                       \
		proto_writer_init(&w, buf, sizeof(buf));                                           \
		proto_write_head(&w, 1, reply);                                                    \
		calls;                                                                             \
		assert_int_equal(proto_write_end(&w), -EINVAL);                                    \
	} while (0)

	/* Not allowed on that reply. */
	EXPECT_INVALID(PROTO_REPLY_NO_REPLY, proto_write_addr(&w, AF_INET, &a4));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_str(&w, PROTO_ARG_REASON, "x"));
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT, proto_write_int(&w, PROTO_ARG_ERRNO, 1));
	/* Twice, or both families. */
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, 1);
		       proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, 2));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_addr(&w, AF_INET, &a4);
		       proto_write_addr(&w, AF_INET6, &a6));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_addr(&w, AF_UNIX, &a4));
	/* Values that would break the line apart or that the peer cannot parse. */
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT, proto_write_str(&w, PROTO_ARG_REASON, "a b"));
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT,
		       proto_write_str(&w, PROTO_ARG_REASON, "a\n1 reply"));
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT, proto_write_str(&w, PROTO_ARG_REASON, ""));
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT, proto_write_str(&w, PROTO_ARG_REASON, NULL));
	EXPECT_INVALID(PROTO_REPLY_INVALID_ARGUMENT,
		       proto_write_str(&w, PROTO_ARG_REASON, "caf\xc3\xa9"));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_int(&w, PROTO_ARG_IP_4, 1));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_int(&w, PROTO_ARG__COUNT, 1));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_mpls(&w, bad_label, 1));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_mpls(&w, bad_exp, 1));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_mpls(&w, bad_bos, 1));
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_mpls(&w, many, ARRAY_LEN(many)));
	/* Heads that cannot be. */
	EXPECT_INVALID(PROTO_REPLY__COUNT, (void)0);
	EXPECT_INVALID(PROTO_REPLY_REPLY, proto_write_head(&w, 2, PROTO_REPLY_REPLY));
#undef EXPECT_INVALID

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, -1, PROTO_REPLY_REPLY);
	assert_int_equal(proto_write_end(&w), -EINVAL);
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, (int64_t)PROTO_TOKEN_MAX + 1, PROTO_REPLY_REPLY);
	assert_int_equal(proto_write_end(&w), -EINVAL);
	/* Arguments before the head. */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, 1);
	proto_write_head(&w, 1, PROTO_REPLY_REPLY);
	assert_int_equal(proto_write_end(&w), -EINVAL);
	/* No head at all. */
	proto_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(proto_write_end(&w), -EINVAL);
}

/* Reply decoder and command writer ------------------------------------------------------ */

/* Decode what the writer wrote (n bytes, newline included). */
static int decode_reply_buf(const char *buf, int n, struct proto_reply_msg *m, enum proto_arg *bad)
{
	static struct proto_line line;
	int st;

	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	st = proto_split(buf, (size_t)n - 1, &line);
	if (st != PROTO_OK)
		return st;
	return proto_decode_reply(&line, m, bad);
}

static int decode_reply_str(const char *s, struct proto_reply_msg *m, enum proto_arg *bad)
{
	static struct proto_line line;
	int st = split_str(s, &line);

	if (st != PROTO_OK)
		return st;
	return proto_decode_reply(&line, m, bad);
}

/* The fields write_full_reply() wrote, as the decoder must give them back. */
static void check_full_reply(const struct proto_reply_msg *m, enum proto_reply r, int family,
			     uint64_t want)
{
	struct in_addr a4;
	struct in6_addr a6;

	inet_pton(AF_INET, "192.0.2.1", &a4);
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	assert_int_equal(m->reply, r);
	assert_true(m->token == 42);
	assert_true(m->present == want);
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

		if (!(want & PROTO_BIT(a)))
			continue;
		assert_true(m->text[a].len > 0);
		if (ai->kind == PROTO_VALUE_INT)
			assert_true(m->num[a] == ai->max);
		else if (ai->kind == PROTO_VALUE_TEXT && a != PROTO_ARG_MPLS)
			assert_true(slice_eq(m->text[a], "ok"));
		else if (ai->kind == PROTO_VALUE_WORD)
			assert_true(slice_eq(m->text[a], "ok"));
	}
	if (want & (B(IP_4) | B(IP_6))) {
		assert_int_equal(m->family, family);
		if (family == AF_INET)
			assert_memory_equal(&m->ip4, &a4, sizeof(a4));
		else
			assert_memory_equal(&m->ip6, &a6, sizeof(a6));
	} else {
		assert_int_equal(m->family, 0);
	}
	if (want & B(MPLS)) {
		assert_int_equal(m->nmpls, 2);
		assert_int_equal(m->mpls[0].label, 100);
		assert_int_equal(m->mpls[0].ttl, 1);
		assert_int_equal(m->mpls[1].label, 0xfffff);
		assert_int_equal(m->mpls[1].exp, 7);
		assert_int_equal(m->mpls[1].bos, 1);
		assert_int_equal(m->mpls[1].ttl, 255);
	} else {
		assert_int_equal(m->nmpls, 0);
	}
}

/* Every reply with everything it may carry, then with each argument alone. */
static void test_every_reply_decodes(void **state)
{
	static const int families[] = {AF_INET, AF_INET6};
	static const struct proto_mpls mpls[] = {{100, 0, 0, 1}, {0xfffff, 7, 1, 255}};
	static struct proto_reply_msg m;
	char buf[TEST_BUF];
	struct in_addr a4;
	struct in6_addr a6;
	int singles = 0;

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &a4);
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	for (int r = 0; r < PROTO_REPLY__COUNT; r++) {
		const struct proto_reply_info *info = proto_reply_info((enum proto_reply)r);

		for (size_t f = 0; f < ARRAY_LEN(families); f++) {
			uint64_t want =
				info->allowed & ~(families[f] == AF_INET ? B(IP_6) : B(IP_4));
			struct proto_writer w;
			enum proto_arg bad = PROTO_ARG_TTL;
			int n;

			proto_writer_init(&w, buf, sizeof(buf));
			n = write_full_reply(&w, (enum proto_reply)r, families[f]);
			assert_int_equal(decode_reply_buf(buf, n, &m, &bad), PROTO_OK);
			assert_int_equal(bad, PROTO_ARG__COUNT);
			check_full_reply(&m, (enum proto_reply)r, families[f], want);
		}
		for (int a = 0; a < PROTO_ARG__COUNT; a++) {
			const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);
			struct proto_writer w;
			int n;

			if (!(info->allowed & PROTO_BIT(a)))
				continue;
			proto_writer_init(&w, buf, sizeof(buf));
			proto_write_head(&w, 42, (enum proto_reply)r);
			if (a == PROTO_ARG_IP_4)
				proto_write_addr(&w, AF_INET, &a4);
			else if (a == PROTO_ARG_IP_6)
				proto_write_addr(&w, AF_INET6, &a6);
			else if (a == PROTO_ARG_MPLS)
				proto_write_mpls(&w, mpls, ARRAY_LEN(mpls));
			else if (ai->kind == PROTO_VALUE_INT)
				proto_write_int(&w, (enum proto_arg)a, ai->max);
			else
				proto_write_str(&w, (enum proto_arg)a, "ok");
			n = proto_write_end(&w);
			assert_int_equal(decode_reply_buf(buf, n, &m, NULL), PROTO_OK);
			check_full_reply(&m, (enum proto_reply)r,
					 a == PROTO_ARG_IP_6 ? AF_INET6 : AF_INET, PROTO_BIT(a));
			singles++;
		}
	}
	/* 7 probe results x 8 arguments, reason x2, support, feature, errno. */
	assert_int_equal(singles, 7 * 8 + 5);

	/* INT minimums too, and what mtr-packet itself prints. */
	assert_int_equal(decode_reply_str("0 reply round-trip-time 0 reply-ttl 0", &m, NULL),
			 PROTO_OK);
	assert_true(m.num[PROTO_ARG_ROUND_TRIP_TIME] == 0 && m.num[PROTO_ARG_REPLY_TTL] == 0);
	assert_int_equal(decode_reply_str("7 ttl-expired ip-4 198.51.100.7 round-trip-time 1234 "
					  "mpls 16,0,1,1",
					  &m, NULL),
			 PROTO_OK);
	assert_int_equal(m.nmpls, 1);
	assert_int_equal(m.mpls[0].label, 16);
	assert_true(m.num[PROTO_ARG_ROUND_TRIP_TIME] == 1234);
}

static void test_reply_errors(void **state)
{
	static const struct error_case cases[] = {
		{"5 teleport", PROTO_ERR_UNKNOWN_REPLY, PROTO_ARG__COUNT},
		{"5 send-probe ip-4 192.0.2.1", PROTO_ERR_UNKNOWN_REPLY, PROTO_ARG__COUNT},
		{"5 REPLY", PROTO_ERR_UNKNOWN_REPLY, PROTO_ARG__COUNT},
		{"5 reply hop 3", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG__COUNT},
		{"5 reply reason x", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_REASON},
		{"5 no-reply ip-4 192.0.2.1", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_IP_4},
		{"5 feature-support feature ok", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_FEATURE},
		{"5 reply ttl 5", PROTO_ERR_UNKNOWN_ARG, PROTO_ARG_TTL},
		{"5 reply round-trip-time 1 round-trip-time 2", PROTO_ERR_REPEATED_ARG,
		 PROTO_ARG_ROUND_TRIP_TIME},
		{"5 reply ip-4 192.0.2.1 ip-4 192.0.2.2", PROTO_ERR_REPEATED_ARG, PROTO_ARG_IP_4},
		{"5 reply ip-4 192.0.2.1 ip-6 2001:db8::1", PROTO_ERR_REPEATED_ARG, PROTO_ARG_IP_6},
		{"5 reply mpls 1,0,0,1 mpls 1,0,0,1", PROTO_ERR_REPEATED_ARG, PROTO_ARG_MPLS},
		{"5 reply round-trip-time -5", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_ROUND_TRIP_TIME},
		{"5 reply round-trip-time 12ms", PROTO_ERR_BAD_NUMBER, PROTO_ARG_ROUND_TRIP_TIME},
		{"5 reply round-trip-time 2147483648", PROTO_ERR_OUT_OF_RANGE,
		 PROTO_ARG_ROUND_TRIP_TIME},
		{"5 reply icmp-type 256", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_ICMP_TYPE},
		{"5 unexpected-error errno 4096", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_ERRNO},
		{"5 unexpected-error errno x", PROTO_ERR_BAD_NUMBER, PROTO_ARG_ERRNO},
		{"5 reply ip-4 1.2.3", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_4},
		{"5 reply ip-4 2001:db8::1", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_4},
		{"5 reply ip-6 192.0.2.1", PROTO_ERR_BAD_VALUE, PROTO_ARG_IP_6},
		{"5 reply mpls 1,0,0", PROTO_ERR_BAD_VALUE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,0,0,1,2", PROTO_ERR_BAD_VALUE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,0,0,1,", PROTO_ERR_BAD_NUMBER, PROTO_ARG_MPLS},
		{"5 reply mpls 1,,0,1", PROTO_ERR_BAD_NUMBER, PROTO_ARG_MPLS},
		{"5 reply mpls a,0,0,1", PROTO_ERR_BAD_NUMBER, PROTO_ARG_MPLS},
		{"5 reply mpls 1048576,0,0,1", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,8,0,1", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,0,2,1", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,0,0,256", PROTO_ERR_OUT_OF_RANGE, PROTO_ARG_MPLS},
		{"5 reply mpls 1,0,0,1,2,0,0,1,3,0,0,1,4,0,0,1,5,0,0,1,6,0,0,1,7,0,0,1,8,0,0,1,"
		 "9,0,0,1",
		 PROTO_ERR_BAD_VALUE, PROTO_ARG_MPLS},
		{"5 extension-enabled feature Flow_Id", PROTO_ERR_BAD_VALUE, PROTO_ARG_FEATURE},
		{"5 reply mpls 1,0,0,1,2,0,0,1,3,0,0,1,4,0,0,1,5,0,0,1,6,0,0,1,7,0,0,1,8,0,0,1",
		 PROTO_OK, PROTO_ARG__COUNT},
		{"5 feature-support support 0.1.0-fake", PROTO_OK, PROTO_ARG__COUNT},
		{"5 invalid-argument reason protocol-not-supported", PROTO_OK, PROTO_ARG__COUNT},
	};
	static struct proto_reply_msg m;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		enum proto_arg bad = (enum proto_arg) - 7;
		int st = decode_reply_str(cases[i].line, &m, &bad);

		if (st != cases[i].status)
			fail_msg("line %zu \"%s\": got %s, want %s", i, cases[i].line,
				 proto_status_name(st), proto_status_name(cases[i].status));
		if (bad != cases[i].bad)
			fail_msg("line %zu \"%s\": bad_arg %d, want %d", i, cases[i].line, bad,
				 cases[i].bad);
		assert_true(m.token == 5);
	}
	assert_int_equal(m.reply, PROTO_REPLY_INVALID_ARGUMENT);
	assert_true(slice_eq(m.text[PROTO_ARG_REASON], "protocol-not-supported"));
}

static void test_parse_mpls(void **state)
{
	struct proto_mpls out[2];
	struct proto_slice s = {"16,0,1,1,17,1,0,64", 18};
	size_t n = 99;

	(void)state;
	assert_int_equal(proto_parse_mpls(&s, out, 2, &n), PROTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[1].label, 17);
	assert_int_equal(out[1].exp, 1);
	assert_int_equal(out[1].ttl, 64);
	/* One entry more than the caller has room for is refused, not cut. */
	assert_int_equal(proto_parse_mpls(&s, out, 1, &n), PROTO_ERR_BAD_VALUE);
	s.len = 0;
	assert_int_equal(proto_parse_mpls(&s, out, 2, &n), PROTO_ERR_BAD_VALUE);
	assert_int_equal(n, 0);
}

/* A valid value written as text for each non-INT command argument. */
static void write_cmd_arg(struct proto_writer *w, enum proto_arg a)
{
	const struct proto_arg_info *ai = proto_arg_info(a);

	if (ai->kind == PROTO_VALUE_INT)
		proto_write_int(w, a, ai->min + (ai->max - ai->min) / 2);
	else
		proto_write_str(w, a, cmd_value(a));
}

/* Every command through the writer, each argument alone and all together, then decoded. */
static void test_every_command_writes(void **state)
{
	static char buf[TEST_BUF];
	static struct proto_line line;
	struct proto_command cmd;
	int singles = 0;

	(void)state;
	for (int c = 0; c < PROTO_CMD__COUNT; c++) {
		const struct proto_cmd_info *info = proto_cmd_info((enum proto_cmd)c);
		struct proto_writer w;
		int n;

		/* a == -1: every argument in one line. */
		for (int a = -1; a < PROTO_ARG__COUNT; a++) {
			uint64_t want = a < 0 ? info->allowed : PROTO_BIT(a);

			if (a >= 0 && !(info->allowed & PROTO_BIT(a)))
				continue;
			proto_writer_init(&w, buf, sizeof(buf));
			proto_write_command(&w, 77, (enum proto_cmd)c);
			for (int k = 0; k < PROTO_ARG__COUNT; k++)
				if (want & PROTO_BIT(k))
					write_cmd_arg(&w, (enum proto_arg)k);
			n = proto_write_end(&w);
			assert_true(n > 0);
			assert_int_equal(buf[n - 1], '\n');
			assert_int_equal(proto_split(buf, (size_t)n - 1, &line), PROTO_OK);
			assert_int_equal(proto_decode_command(&line, &cmd, NULL), PROTO_OK);
			assert_int_equal(cmd.cmd, c);
			assert_true(cmd.token == 77);
			assert_true(cmd.present == want);
			for (int k = 0; k < PROTO_ARG__COUNT; k++) {
				const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)k);

				if (!(want & PROTO_BIT(k)))
					continue;
				if (ai->kind == PROTO_VALUE_INT)
					assert_true(cmd.num[k] ==
						    ai->min + (ai->max - ai->min) / 2);
				else
					assert_true(slice_eq(cmd.text[k],
							     cmd_value((enum proto_arg)k)));
			}
			singles += a >= 0;
		}
	}
	assert_int_equal(singles, 15 + 1 + 1);
}

static void test_command_writer_bytes(void **state)
{
	char buf[TEST_BUF];
	struct proto_writer w;
	struct in6_addr a6;

	(void)state;
	inet_pton(AF_INET6, "2001:db8::5", &a6);
	/* Negative where the range allows: what mtr -B 300 and -M 4294967295 send. */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_command(&w, 3, PROTO_CMD_SEND_PROBE);
	proto_write_addr(&w, AF_INET6, &a6);
	proto_write_str(&w, PROTO_ARG_PROTOCOL, "udp");
	proto_write_int(&w, PROTO_ARG_TTL, 1);
	proto_write_int(&w, PROTO_ARG_BIT_PATTERN, -300);
	proto_write_int(&w, PROTO_ARG_MARK, INT32_MIN);
	expect_line(buf, proto_write_end(&w),
		    "3 send-probe ip-6 2001:db8::5 protocol udp ttl 1 bit-pattern -300 "
		    "mark -2147483648\n");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_command(&w, 0, PROTO_CMD_CHECK_SUPPORT);
	proto_write_str(&w, PROTO_ARG_FEATURE, "send-probe");
	expect_line(buf, proto_write_end(&w), "0 check-support feature send-probe\n");

#define EXPECT_INVALID(cmd, calls)                                                                 \
	do {                                                                                       \
		proto_writer_init(&w, buf, sizeof(buf));                                           \
		proto_write_command(&w, 1, cmd);                                                   \
		calls;                                                                             \
		assert_int_equal(proto_write_end(&w), -EINVAL);                                    \
	} while (0)
	/* A reply's argument, or another command's. */
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME, 1));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_str(&w, PROTO_ARG_FEATURE, "x"));
	EXPECT_INVALID(PROTO_CMD_CHECK_SUPPORT, proto_write_int(&w, PROTO_ARG_TTL, 5));
	/* Outside the range, twice, a number as text. */
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_int(&w, PROTO_ARG_TTL, 0));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_int(&w, PROTO_ARG_LOCAL_PORT, 1023));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE,
		       proto_write_int(&w, PROTO_ARG_MARK, INT64_C(4294967296)));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_int(&w, PROTO_ARG_TTL, 5);
		       proto_write_int(&w, PROTO_ARG_TTL, 6));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_str(&w, PROTO_ARG_TTL, "5"));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_str(&w, PROTO_ARG_LOCAL_DEVICE, "a b"));
	/* Heads that cannot be: no such command, a second head. */
	EXPECT_INVALID(PROTO_CMD__COUNT, (void)0);
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_head(&w, 1, PROTO_REPLY_REPLY));
	EXPECT_INVALID(PROTO_CMD_SEND_PROBE, proto_write_command(&w, 1, PROTO_CMD_SEND_PROBE));
#undef EXPECT_INVALID
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_arg_table),
		cmocka_unit_test(test_ext_and_protocol_tables),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_every_reply_round_trips),
		cmocka_unit_test(test_reply_bytes_match_mtr_packet),
		cmocka_unit_test(test_every_command_round_trips),
		cmocka_unit_test(test_each_error_status),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_argument_count_limit),
		cmocka_unit_test(test_split_slices),
		cmocka_unit_test(test_int_boundaries_decode),
		cmocka_unit_test(test_int_boundaries_write),
		cmocka_unit_test(test_writer_overflow),
		cmocka_unit_test(test_writer_line_limit),
		cmocka_unit_test(test_writer_refuses_bad_calls),
		cmocka_unit_test(test_every_reply_decodes),
		cmocka_unit_test(test_reply_errors),
		cmocka_unit_test(test_parse_mpls),
		cmocka_unit_test(test_every_command_writes),
		cmocka_unit_test(test_command_writer_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
