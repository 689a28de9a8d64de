/*
 * fuzz_proto: libFuzzer target for the line decoders, the only code that reads bytes the
 * peer controls before any check: commands (the engine reading a client) and replies
 * (the client reading an engine). Splits and decodes the input both ways, then
 * re-formats what it understood and parses that again; any broken invariant aborts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/proto.h"

/* Room for any line proto_split() accepts, plus a reply built from it. */
#define FUZZ_BUF (2 * PROTO_LINE_MAX)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void check_slice(struct proto_slice s, const uint8_t *data, size_t size)
{
	const char *base = (const char *)data;

	CHECK(s.len > 0);
	CHECK(s.ptr >= base && s.ptr + s.len <= base + size);
	for (size_t i = 0; i < s.len; i++)
		CHECK(s.ptr[i] > ' ' && s.ptr[i] < 0x7f);
}

static void append(char *buf, size_t *len, const char *s, size_t n)
{
	CHECK(*len + n <= FUZZ_BUF);
	memcpy(buf + *len, s, n);
	*len += n;
}

/* The decoded command, written back as a canonical line, must decode to the same thing. */
static void check_command_round_trip(const struct proto_command *cmd)
{
	static char buf[FUZZ_BUF];
	static struct proto_line line;
	static struct proto_command again;
	const struct proto_cmd_info *info = proto_cmd_info(cmd->cmd);
	size_t len = 0;
	int n;

	CHECK(info);
	n = snprintf(buf, sizeof(buf), "%lld %s", (long long)cmd->token, info->name);
	CHECK(n > 0);
	len = (size_t)n;
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

		if (!(cmd->present & PROTO_BIT(a)))
			continue;
		append(buf, &len, " ", 1);
		append(buf, &len, ai->name, strlen(ai->name));
		append(buf, &len, " ", 1);
		append(buf, &len, cmd->text[a].ptr, cmd->text[a].len);
	}
	/* Names were canonical already, so the line can only have shrunk or stayed. */
	CHECK(proto_split(buf, len, &line) == PROTO_OK);
	CHECK(proto_decode_command(&line, &again, NULL) == PROTO_OK);
	CHECK(again.cmd == cmd->cmd && again.token == cmd->token);
	CHECK(again.present == cmd->present);
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		if (!(cmd->present & PROTO_BIT(a)))
			continue;
		CHECK(again.num[a] == cmd->num[a]);
		CHECK(memcmp(&again.ip4[a], &cmd->ip4[a], sizeof(cmd->ip4[a])) == 0);
		CHECK(memcmp(&again.ip6[a], &cmd->ip6[a], sizeof(cmd->ip6[a])) == 0);
	}
}

/*
 * Answer the command as the engine would: a probe result carrying its addresses and
 * numbers, or invalid-argument with the status name. The cap comes from the input so
 * overflow is exercised too.
 */
static void check_reply(const struct proto_command *cmd, int st, size_t cap)
{
	static char buf[FUZZ_BUF + 1];
	static struct proto_line line;
	struct proto_writer w;
	enum proto_reply r;
	int n;

	CHECK(cap <= FUZZ_BUF);
	buf[cap] = '#';
	proto_writer_init(&w, buf, cap);
	if (st != PROTO_OK) {
		proto_write_head(&w, cmd->token, PROTO_REPLY_INVALID_ARGUMENT);
		proto_write_str(&w, PROTO_ARG_REASON, proto_status_name(st));
	} else if (cmd->cmd == PROTO_CMD_SEND_PROBE) {
		proto_write_head(&w, cmd->token, PROTO_REPLY_TTL_EXPIRED);
		if (cmd->present & PROTO_BIT(PROTO_ARG_IP_6))
			proto_write_addr(&w, AF_INET6, &cmd->ip6[PROTO_ARG_IP_6]);
		else
			proto_write_addr(&w, AF_INET, &cmd->ip4[PROTO_ARG_IP_4]);
		proto_write_int(&w, PROTO_ARG_ROUND_TRIP_TIME,
				(uint32_t)cmd->num[PROTO_ARG_MARK] >> 1);
		proto_write_int(&w, PROTO_ARG_QUOTED_TTL, cmd->num[PROTO_ARG_TTL]);
	} else {
		proto_write_head(&w, cmd->token, PROTO_REPLY_EXTENSION_ENABLED);
		if (cmd->present & PROTO_BIT(PROTO_ARG_FEATURE))
			proto_write_str(&w, PROTO_ARG_FEATURE, "x");
	}
	n = proto_write_end(&w);
	CHECK(buf[cap] == '#');
	CHECK(w.len <= cap);
	if (n == -ENOSPC)
		return;
	CHECK(n > 0 && (size_t)n == w.len && buf[n - 1] == '\n');
	CHECK(proto_split(buf, (size_t)n - 1, &line) == PROTO_OK);
	CHECK(line.token == cmd->token);
	CHECK(proto_reply_lookup(line.word.ptr, line.word.len, &r) == 0);
	for (size_t i = 0; i < line.nargs; i++) {
		enum proto_arg a;

		CHECK(proto_arg_lookup(line.name[i].ptr, line.name[i].len, &a) == 0);
		CHECK(proto_reply_info(r)->allowed & PROTO_BIT(a));
	}
}

/* A decoded reply, written back through the writer, must decode to the same thing. */
static void check_reply_round_trip(const struct proto_reply_msg *m)
{
	static char buf[FUZZ_BUF];
	static struct proto_line line;
	static struct proto_reply_msg again;
	struct proto_writer w;
	int n;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_head(&w, m->token, m->reply);
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

		if (!(m->present & PROTO_BIT(a)))
			continue;
		if (a == PROTO_ARG_IP_4)
			proto_write_addr(&w, AF_INET, &m->ip4);
		else if (a == PROTO_ARG_IP_6)
			proto_write_addr(&w, AF_INET6, &m->ip6);
		else if (a == PROTO_ARG_MPLS)
			proto_write_mpls(&w, m->mpls, m->nmpls);
		else if (ai->kind == PROTO_VALUE_INT)
			proto_write_int(&w, (enum proto_arg)a, m->num[a]);
		else {
			char text[PROTO_LINE_MAX];

			CHECK(m->text[a].len < sizeof(text));
			memcpy(text, m->text[a].ptr, m->text[a].len);
			text[m->text[a].len] = '\0';
			proto_write_str(&w, (enum proto_arg)a, text);
		}
	}
	n = proto_write_end(&w);
	/* Only inet_ntop's form of an IPv6 address ("::1:0" is "::0.1.0.0") can grow. */
	if (n == -ENOSPC) {
		CHECK(m->family == AF_INET6);
		return;
	}
	CHECK(n > 0 && buf[n - 1] == '\n');
	CHECK(proto_split(buf, (size_t)n - 1, &line) == PROTO_OK);
	CHECK(proto_decode_reply(&line, &again, NULL) == PROTO_OK);
	CHECK(again.reply == m->reply && again.token == m->token);
	CHECK(again.present == m->present && again.family == m->family);
	CHECK(again.nmpls == m->nmpls);
	CHECK(memcmp(again.mpls, m->mpls, m->nmpls * sizeof(m->mpls[0])) == 0);
	CHECK(memcmp(&again.ip4, &m->ip4, sizeof(m->ip4)) == 0);
	CHECK(memcmp(&again.ip6, &m->ip6, sizeof(m->ip6)) == 0);
	for (int a = 0; a < PROTO_ARG__COUNT; a++)
		if (m->present & PROTO_BIT(a))
			CHECK(again.num[a] == m->num[a]);
}

/* The same line read as an engine's reply, as the client does. */
static void check_decode_reply(const struct proto_line *line, const uint8_t *data, size_t size)
{
	static struct proto_reply_msg m;
	enum proto_arg bad = PROTO_ARG__COUNT;
	int st = proto_decode_reply(line, &m, &bad);

	CHECK(st == PROTO_OK || st >= PROTO_ERR_UNKNOWN_COMMAND);
	CHECK(st < PROTO_ERR__COUNT && st != PROTO_ERR_UNKNOWN_COMMAND);
	CHECK(m.token == line->token);
	CHECK(bad <= PROTO_ARG__COUNT);
	if (st == PROTO_ERR_UNKNOWN_REPLY) {
		CHECK(bad == PROTO_ARG__COUNT);
		return;
	}
	if (st != PROTO_OK) {
		if (st != PROTO_ERR_UNKNOWN_ARG)
			CHECK(bad < PROTO_ARG__COUNT);
		return;
	}
	CHECK(bad == PROTO_ARG__COUNT);
	CHECK(proto_reply_info(m.reply) && (m.present & ~proto_reply_info(m.reply)->allowed) == 0);
	CHECK(m.nmpls <= PROTO_MPLS_MAX);
	CHECK((m.family != 0) ==
	      ((m.present & (PROTO_BIT(PROTO_ARG_IP_4) | PROTO_BIT(PROTO_ARG_IP_6))) != 0));
	for (int a = 0; a < PROTO_ARG__COUNT; a++) {
		const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

		if (!(m.present & PROTO_BIT(a)))
			continue;
		check_slice(m.text[a], data, size);
		if (ai->kind == PROTO_VALUE_INT)
			CHECK(m.num[a] >= ai->min && m.num[a] <= ai->max);
	}
	check_reply_round_trip(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_line line;
	static struct proto_command cmd;
	enum proto_arg bad = PROTO_ARG__COUNT;
	int st;

	st = proto_split((const char *)data, size, &line);
	CHECK(st >= PROTO_OK && st < PROTO_ERR__COUNT);
	CHECK(proto_status_name(st));
	CHECK(line.nargs <= PROTO_ARGS_MAX);
	if (st != PROTO_OK) {
		CHECK(st < PROTO_ERR_UNKNOWN_COMMAND);
		return 0;
	}
	CHECK(size < PROTO_LINE_MAX);
	CHECK(line.token >= 0 && line.token <= PROTO_TOKEN_MAX);
	check_slice(line.word, data, size);
	for (size_t i = 0; i < line.nargs; i++) {
		check_slice(line.name[i], data, size);
		check_slice(line.value[i], data, size);
	}

	check_decode_reply(&line, data, size);
	st = proto_decode_command(&line, &cmd, &bad);
	CHECK(st == PROTO_OK || st >= PROTO_ERR_UNKNOWN_COMMAND);
	CHECK(st < PROTO_ERR__COUNT && st != PROTO_ERR_UNKNOWN_REPLY);
	CHECK(cmd.token == line.token);
	CHECK(bad <= PROTO_ARG__COUNT);
	if (st == PROTO_OK) {
		const struct proto_cmd_info *info = proto_cmd_info(cmd.cmd);

		CHECK(info && (cmd.present & ~info->allowed) == 0);
		CHECK(bad == PROTO_ARG__COUNT);
		for (int a = 0; a < PROTO_ARG__COUNT; a++) {
			const struct proto_arg_info *ai = proto_arg_info((enum proto_arg)a);

			if (!(cmd.present & PROTO_BIT(a)))
				continue;
			check_slice(cmd.text[a], data, size);
			if (ai->kind == PROTO_VALUE_INT)
				CHECK(cmd.num[a] >= ai->min && cmd.num[a] <= ai->max);
		}
		check_command_round_trip(&cmd);
	} else if (st == PROTO_ERR_UNKNOWN_COMMAND) {
		CHECK(bad == PROTO_ARG__COUNT);
	} else if (st != PROTO_ERR_UNKNOWN_ARG) {
		/* repeated, bad number, out of range, bad value: always a known argument */
		CHECK(bad < PROTO_ARG__COUNT);
	}
	check_reply(&cmd, st, size ? (size_t)data[0] * 8 % FUZZ_BUF : FUZZ_BUF);
	return 0;
}
