/*
 * proto_parse: turns one untrusted line into a checked struct proto_command (the engine
 * reading a client) or struct proto_reply_msg (the client reading an engine). Two pure
 * steps: proto_split() cuts the line into slices of the caller's buffer, then
 * proto_decode_command() or proto_decode_reply() checks those against the table. No
 * allocation, no I/O, no global state, no NUL terminator needed: fuzzed as is.
 */
#include "proto/proto.h"

#include "common/numparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static const char *const status_names[PROTO_ERR__COUNT] = {
	[PROTO_OK] = "ok",
	[PROTO_ERR_TOO_LONG] = "line-too-long",
	[PROTO_ERR_EMPTY] = "empty-line",
	[PROTO_ERR_BAD_TOKEN] = "bad-token",
	[PROTO_ERR_NO_COMMAND] = "missing-command",
	[PROTO_ERR_MISSING_VALUE] = "missing-value",
	[PROTO_ERR_TOO_MANY_ARGS] = "too-many-arguments",
	[PROTO_ERR_BAD_BYTE] = "bad-byte",
	[PROTO_ERR_UNKNOWN_COMMAND] = "unknown-command",
	[PROTO_ERR_UNKNOWN_ARG] = "unknown-argument",
	[PROTO_ERR_REPEATED_ARG] = "repeated-argument",
	[PROTO_ERR_BAD_NUMBER] = "bad-number",
	[PROTO_ERR_OUT_OF_RANGE] = "out-of-range",
	[PROTO_ERR_BAD_VALUE] = "bad-value",
	[PROTO_ERR_UNKNOWN_REPLY] = "unknown-reply",
};

const char *proto_status_name(enum proto_status st)
{
	if ((int)st < 0 || (int)st >= PROTO_ERR__COUNT)
		return NULL;
	return status_names[st];
}

/*
 * numparse_i64() with one more rule: no minus sign on zero. "-0" is 0 to strtol, so
 * mtr-packet takes "-0" as token 0 and as timeout 0; nobody writes it (mtr prints with
 * "%d"), and a token that is not the text the client will match in the reply is refused.
 */
static int parse_number(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	size_t zeros = 1;

	while (len > 1 && s[0] == '-' && zeros < len && s[zeros] == '0')
		zeros++;
	if (len > 1 && s[0] == '-' && zeros == len)
		return -EINVAL;
	return numparse_i64(s, len, min, max, out);
}

/* Printable ASCII other than space: the only bytes a word may hold. */
static int is_word_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f;
}

/* Next word at or after *pos; 0 when only spaces remain. */
static int next_word(const char *line, size_t len, size_t *pos, struct proto_slice *out)
{
	size_t i = *pos, start;

	while (i < len && line[i] == ' ')
		i++;
	if (i == len)
		return 0;
	start = i;
	while (i < len && line[i] != ' ')
		i++;
	out->ptr = line + start;
	out->len = i - start;
	*pos = i;
	return 1;
}

int proto_split(const char *line, size_t len, struct proto_line *out)
{
	struct proto_slice tok, name, value;
	size_t pos = 0;

	out->nargs = 0;
	if (len >= PROTO_LINE_MAX)
		return PROTO_ERR_TOO_LONG;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* One pass over the bytes first, so a stray byte is reported as such wherever it is. */
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && !is_word_byte((unsigned char)line[i]))
			return PROTO_ERR_BAD_BYTE;
	}

	if (!next_word(line, len, &pos, &tok))
		return PROTO_ERR_EMPTY;
	if (parse_number(tok.ptr, tok.len, 0, PROTO_TOKEN_MAX, &out->token) != 0)
		return PROTO_ERR_BAD_TOKEN;
	if (!next_word(line, len, &pos, &out->word))
		return PROTO_ERR_NO_COMMAND;

	while (next_word(line, len, &pos, &name)) {
		if (out->nargs == PROTO_ARGS_MAX)
			return PROTO_ERR_TOO_MANY_ARGS;
		if (!next_word(line, len, &pos, &value))
			return PROTO_ERR_MISSING_VALUE;
		out->name[out->nargs] = name;
		out->value[out->nargs] = value;
		out->nargs++;
	}
	return PROTO_OK;
}

/*
 * Dotted quad with inet_pton()'s rules (four decimal octets, no leading zeros), without
 * its copy: one address per probe line is worth it.
 */
static int parse_ip4(const struct proto_slice *v, struct in_addr *addr)
{
	uint8_t out[4];
	size_t i = 0, octet = 0;

	while (octet < 4) {
		unsigned val = 0, digits = 0;

		while (i < v->len && v->ptr[i] >= '0' && v->ptr[i] <= '9') {
			if (digits > 0 && val == 0)
				return PROTO_ERR_BAD_VALUE;
			val = val * 10 + (unsigned)(v->ptr[i] - '0');
			if (val > 255)
				return PROTO_ERR_BAD_VALUE;
			digits++;
			i++;
		}
		if (digits == 0)
			return PROTO_ERR_BAD_VALUE;
		out[octet++] = (uint8_t)val;
		if (octet < 4) {
			if (i >= v->len || v->ptr[i] != '.')
				return PROTO_ERR_BAD_VALUE;
			i++;
		}
	}
	if (i != v->len)
		return PROTO_ERR_BAD_VALUE;
	memcpy(addr, out, sizeof(out));
	return PROTO_OK;
}

/* inet_pton wants a NUL-terminated string: copy into a bounded stack buffer first. */
static int parse_addr(int family, const struct proto_slice *v, void *addr)
{
	char buf[INET6_ADDRSTRLEN];
	size_t max = family == AF_INET ? INET_ADDRSTRLEN : INET6_ADDRSTRLEN;

	if (v->len == 0 || v->len >= max)
		return PROTO_ERR_BAD_VALUE;
	memcpy(buf, v->ptr, v->len);
	buf[v->len] = '\0';
	if (inet_pton(family, buf, addr) != 1)
		return PROTO_ERR_BAD_VALUE;
	return PROTO_OK;
}

/* [a-z0-9-]+: the only shape a protocol or feature name has. */
static int check_word(const struct proto_slice *v)
{
	if (v->len == 0)
		return PROTO_ERR_BAD_VALUE;
	for (size_t i = 0; i < v->len; i++) {
		char c = v->ptr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return PROTO_ERR_BAD_VALUE;
	}
	return PROTO_OK;
}

/*
 * The kernel's own dev_valid_name(): 1..IFNAMSIZ-1 bytes, not "." or "..", no '/', ':'
 * or whitespace. Checked here so SO_BINDTODEVICE never sees a name it would refuse.
 */
static int check_device(const struct proto_slice *v)
{
	if (v->len == 0 || v->len > PROTO_DEVICE_MAX)
		return PROTO_ERR_BAD_VALUE;
	if ((v->len == 1 && v->ptr[0] == '.') ||
	    (v->len == 2 && v->ptr[0] == '.' && v->ptr[1] == '.'))
		return PROTO_ERR_BAD_VALUE;
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->ptr[i];

		if (!is_word_byte(c) || c == '/' || c == ':')
			return PROTO_ERR_BAD_VALUE;
	}
	return PROTO_OK;
}

static int parse_int(const struct proto_slice *v, int64_t min, int64_t max, int64_t *out)
{
	int st = parse_number(v->ptr, v->len, min, max, out);

	if (st == -ERANGE)
		return PROTO_ERR_OUT_OF_RANGE;
	return st ? PROTO_ERR_BAD_NUMBER : PROTO_OK;
}

/* Where one argument's typed value goes: a command has a slot per argument, a reply one. */
struct value_out {
	int64_t *num;
	struct in_addr *ip4;
	struct in6_addr *ip6;
};

static int decode_value(enum proto_arg arg, const struct proto_arg_info *info,
			const struct proto_slice *v, const struct value_out *out)
{
	enum proto_protocol p;
	int st;

	switch (info->kind) {
	case PROTO_VALUE_INT:
		return parse_int(v, info->min, info->max, out->num);
	case PROTO_VALUE_IP4:
		return parse_ip4(v, out->ip4);
	case PROTO_VALUE_IP6:
		return parse_addr(AF_INET6, v, out->ip6);
	case PROTO_VALUE_WORD:
		st = check_word(v);
		if (st != PROTO_OK || arg != PROTO_ARG_PROTOCOL)
			return st;
		if (proto_protocol_lookup(v->ptr, v->len, &p) != 0)
			return PROTO_ERR_BAD_VALUE;
		*out->num = p;
		return PROTO_OK;
	case PROTO_VALUE_DEVICE:
		return check_device(v);
	case PROTO_VALUE_TEXT:
		/* proto_split() already kept spaces and control bytes out. */
		return v->len ? PROTO_OK : PROTO_ERR_BAD_VALUE;
	}
	return PROTO_ERR_BAD_VALUE;
}

/* The arguments of one line: who takes a value, and where it lands. */
typedef int (*arg_decode_fn)(enum proto_arg arg, const struct proto_slice *v, void *out);

/*
 * Every NAME VALUE pair of a line against the table: a known name, one the word allows,
 * not given before (nor, for a name in exclusive, another of exclusive), then its value
 * through decode. Stops at the first fault; *bad gets its argument.
 */
static int walk_args(const struct proto_line *line, uint64_t allowed, uint64_t exclusive,
		     uint64_t *present, arg_decode_fn decode, void *out, enum proto_arg *bad)
{
	enum proto_arg arg = PROTO_ARG__COUNT;
	int st = PROTO_OK;

	for (size_t i = 0; i < line->nargs; i++) {
		if (proto_arg_lookup(line->name[i].ptr, line->name[i].len, &arg) != 0) {
			arg = PROTO_ARG__COUNT;
			st = PROTO_ERR_UNKNOWN_ARG;
			break;
		}
		if (!(allowed & PROTO_BIT(arg))) {
			st = PROTO_ERR_UNKNOWN_ARG;
			break;
		}
		if ((*present & PROTO_BIT(arg)) ||
		    ((PROTO_BIT(arg) & exclusive) && (*present & exclusive))) {
			st = PROTO_ERR_REPEATED_ARG;
			break;
		}
		st = decode(arg, &line->value[i], out);
		if (st != PROTO_OK)
			break;
		*present |= PROTO_BIT(arg);
	}
	*bad = st == PROTO_OK ? PROTO_ARG__COUNT : arg;
	return st;
}

static int decode_command_arg(enum proto_arg arg, const struct proto_slice *v, void *p)
{
	struct proto_command *out = p;
	struct value_out vo = {&out->num[arg], &out->ip4[arg], &out->ip6[arg]};
	int st = decode_value(arg, proto_arg_info(arg), v, &vo);

	if (st == PROTO_OK)
		out->text[arg] = *v;
	return st;
}

int proto_decode_command(const struct proto_line *line, struct proto_command *out,
			 enum proto_arg *bad_arg)
{
	enum proto_arg bad = PROTO_ARG__COUNT;
	int st;

	memset(out, 0, sizeof(*out));
	out->token = line->token;
	if (bad_arg)
		*bad_arg = PROTO_ARG__COUNT;
	/* A caller-built line may lie about its count; never index past the arrays. */
	if (line->nargs > PROTO_ARGS_MAX)
		return PROTO_ERR_TOO_MANY_ARGS;
	if (proto_cmd_lookup(line->word.ptr, line->word.len, &out->cmd) != 0)
		return PROTO_ERR_UNKNOWN_COMMAND;
	st = walk_args(line, proto_cmd_info(out->cmd)->allowed, 0, &out->present,
		       decode_command_arg, out, &bad);
	if (bad_arg)
		*bad_arg = bad;
	return st;
}

/* One decimal mpls field in [0, max]. */
static int mpls_field(const char *p, size_t len, int64_t max, int64_t *out)
{
	struct proto_slice f = {p, len};

	return parse_int(&f, 0, max, out);
}

int proto_parse_mpls(const struct proto_slice *s, struct proto_mpls *out, size_t cap, size_t *n)
{
	static const int64_t field_max[4] = {PROTO_MPLS_LABEL_MAX, PROTO_MPLS_EXP_MAX,
					     PROTO_MPLS_BOS_MAX, PROTO_MPLS_TTL_MAX};
	int64_t v[4];
	size_t pos = 0, k = 0;
	int st;

	*n = 0;
	if (s->len == 0)
		return PROTO_ERR_BAD_VALUE;
	/* pos == len after a trailing comma: one more, empty, field, which is refused. */
	while (pos <= s->len) {
		size_t start = pos;

		while (pos < s->len && s->ptr[pos] != ',')
			pos++;
		st = mpls_field(s->ptr + start, pos - start, field_max[k], &v[k]);
		if (st != PROTO_OK)
			return st;
		pos++; /* the comma, or one past the end */
		if (++k < 4)
			continue;
		k = 0;
		if (*n == cap)
			return PROTO_ERR_BAD_VALUE;
		out[*n].label = (uint32_t)v[0];
		out[*n].exp = (uint8_t)v[1];
		out[*n].bos = (uint8_t)v[2];
		out[*n].ttl = (uint8_t)v[3];
		(*n)++;
	}
	return k == 0 ? PROTO_OK : PROTO_ERR_BAD_VALUE;
}

#define PROTO_ADDR_ARGS (PROTO_BIT(PROTO_ARG_IP_4) | PROTO_BIT(PROTO_ARG_IP_6))

/* One argument of a reply, already known to be allowed and new. */
static int decode_reply_arg(enum proto_arg arg, const struct proto_slice *v, void *p)
{
	struct proto_reply_msg *out = p;
	struct value_out vo = {&out->num[arg], &out->ip4, &out->ip6};
	int st;

	if (arg == PROTO_ARG_MPLS)
		st = proto_parse_mpls(v, out->mpls, PROTO_MPLS_MAX, &out->nmpls);
	else
		st = decode_value(arg, proto_arg_info(arg), v, &vo);
	if (st != PROTO_OK)
		return st;
	if (arg == PROTO_ARG_IP_4)
		out->family = AF_INET;
	else if (arg == PROTO_ARG_IP_6)
		out->family = AF_INET6;
	out->text[arg] = *v;
	return PROTO_OK;
}

int proto_decode_reply(const struct proto_line *line, struct proto_reply_msg *out,
		       enum proto_arg *bad_arg)
{
	enum proto_arg bad = PROTO_ARG__COUNT;
	int st;

	memset(out, 0, sizeof(*out));
	out->token = line->token;
	if (bad_arg)
		*bad_arg = PROTO_ARG__COUNT;
	if (line->nargs > PROTO_ARGS_MAX)
		return PROTO_ERR_TOO_MANY_ARGS;
	if (proto_reply_lookup(line->word.ptr, line->word.len, &out->reply) != 0)
		return PROTO_ERR_UNKNOWN_REPLY;
	/* One reply names one responder, as the writer insists. */
	st = walk_args(line, proto_reply_info(out->reply)->allowed, PROTO_ADDR_ARGS, &out->present,
		       decode_reply_arg, out, &bad);
	if (bad_arg)
		*bad_arg = bad;
	return st;
}
