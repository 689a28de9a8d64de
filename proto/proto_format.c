/*
 * proto_format: builds reply lines for the engine and command lines for the client. It
 * runs once per probe, so integers are formatted by hand rather than through printf. It
 * never writes past the caller's capacity and refuses, through the writer's invalid
 * flag, any argument the table does not allow on the line's command or reply, so a bug
 * on either side cannot put a malformed line on the wire.
 */
#include "proto/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Longest line written, newline included: mtr-packet's readers (and hopwatchd's) keep
 * one byte of their PROTO_LINE_MAX buffer for a NUL and call anything longer an overflow.
 */
#define PROTO_WRITE_MAX (PROTO_LINE_MAX - 1)
/* Digits of the widest uint64. */
#define PROTO_INT_CHARS 20

static void put(struct proto_writer *w, const char *s, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_char(struct proto_writer *w, char c)
{
	put(w, &c, 1);
}

/* Right to left into a stack buffer. */
static void put_uint(struct proto_writer *w, uint64_t u)
{
	char tmp[PROTO_INT_CHARS];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	put(w, tmp + i, sizeof(tmp) - i);
}

/* Only the table's ranges reach here, and none goes near INT64_MIN. */
static void put_int(struct proto_writer *w, int64_t v)
{
	if (v < 0) {
		put_char(w, '-');
		put_uint(w, (uint64_t)0 - (uint64_t)v);
		return;
	}
	put_uint(w, (uint64_t)v);
}

/* The arguments the open line's command or reply may carry. */
static uint64_t allowed_args(const struct proto_writer *w)
{
	if (w->is_command)
		return proto_cmd_info(w->cmd)->allowed;
	return proto_reply_info(w->reply)->allowed;
}

/* " name": checks that the open line may carry arg and has not carried it yet. */
static int put_name(struct proto_writer *w, enum proto_arg arg)
{
	const struct proto_arg_info *info = proto_arg_info(arg);

	if (!w->have_head || !info) {
		w->invalid = 1;
		return -EINVAL;
	}
	if (!(allowed_args(w) & PROTO_BIT(arg)) || (w->written & PROTO_BIT(arg))) {
		w->invalid = 1;
		return -EINVAL;
	}
	w->written |= PROTO_BIT(arg);
	put_char(w, ' ');
	put(w, info->name, strlen(info->name));
	put_char(w, ' ');
	return 0;
}

void proto_writer_init(struct proto_writer *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = buf ? cap : 0;
}

/* "TOKEN word": the one head a line may have. */
static int put_head(struct proto_writer *w, int64_t token, const char *word)
{
	if (w->have_head || !word || token < 0 || token > PROTO_TOKEN_MAX) {
		w->invalid = 1;
		return -EINVAL;
	}
	w->have_head = 1;
	put_uint(w, (uint64_t)token);
	put_char(w, ' ');
	put(w, word, strlen(word));
	return 0;
}

void proto_write_command(struct proto_writer *w, int64_t token, enum proto_cmd cmd)
{
	const struct proto_cmd_info *info = proto_cmd_info(cmd);

	if (put_head(w, token, info ? info->name : NULL) == 0) {
		w->is_command = 1;
		w->cmd = cmd;
	}
}

void proto_write_head(struct proto_writer *w, int64_t token, enum proto_reply reply)
{
	const struct proto_reply_info *info = proto_reply_info(reply);

	if (put_head(w, token, info ? info->name : NULL) == 0)
		w->reply = reply;
}

void proto_write_int(struct proto_writer *w, enum proto_arg arg, int64_t value)
{
	const struct proto_arg_info *info = proto_arg_info(arg);

	/* An INT outside its range would be refused by our own parser: never send one. */
	if (!info || info->kind != PROTO_VALUE_INT || value < info->min || value > info->max) {
		w->invalid = 1;
		return;
	}
	if (put_name(w, arg) == 0)
		put_int(w, value);
}

void proto_write_str(struct proto_writer *w, enum proto_arg arg, const char *value)
{
	const struct proto_arg_info *info = proto_arg_info(arg);
	size_t n;

	/* A number goes through proto_write_int(), which knows its range. */
	if (!value || !*value || !info || info->kind == PROTO_VALUE_INT) {
		w->invalid = 1;
		return;
	}
	n = strlen(value);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];

		/* A space or newline would split the line: the peer would read other words. */
		if (c <= ' ' || c >= 0x7f) {
			w->invalid = 1;
			return;
		}
	}
	if (put_name(w, arg) == 0)
		put(w, value, n);
}

void proto_write_addr(struct proto_writer *w, int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];
	enum proto_arg arg;

	if (family == AF_INET) {
		arg = PROTO_ARG_IP_4;
	} else if (family == AF_INET6) {
		arg = PROTO_ARG_IP_6;
	} else {
		w->invalid = 1;
		return;
	}
	/* One reply names one responder: ip-4 and ip-6 together is a bug. */
	if (!addr || (w->written & (PROTO_BIT(PROTO_ARG_IP_4) | PROTO_BIT(PROTO_ARG_IP_6)))) {
		w->invalid = 1;
		return;
	}
	if (family == AF_INET) {
		/* One line per probe: inet_ntop's sprintf is the costliest call on this path. */
		const uint8_t *b = addr;

		if (put_name(w, arg) != 0)
			return;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				put_char(w, '.');
			put_uint(w, b[i]);
		}
		return;
	}
	if (!inet_ntop(family, addr, text, sizeof(text))) {
		w->invalid = 1;
		return;
	}
	if (put_name(w, arg) == 0)
		put(w, text, strlen(text));
}

void proto_write_mpls(struct proto_writer *w, const struct proto_mpls *labels, size_t n)
{
	if (n == 0)
		return;
	if (!labels || n > PROTO_MPLS_MAX) {
		w->invalid = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (labels[i].label > PROTO_MPLS_LABEL_MAX || labels[i].exp > PROTO_MPLS_EXP_MAX ||
		    labels[i].bos > PROTO_MPLS_BOS_MAX) {
			w->invalid = 1;
			return;
		}
	}
	if (put_name(w, PROTO_ARG_MPLS) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put_char(w, ',');
		put_uint(w, labels[i].label);
		put_char(w, ',');
		put_uint(w, labels[i].exp);
		put_char(w, ',');
		put_uint(w, labels[i].bos);
		put_char(w, ',');
		put_uint(w, labels[i].ttl);
	}
}

int proto_write_end(struct proto_writer *w)
{
	if (!w->have_head)
		w->invalid = 1;
	if (w->invalid)
		return -EINVAL;
	put_char(w, '\n');
	if (w->len > PROTO_WRITE_MAX)
		w->overflow = 1;
	if (w->overflow)
		return -ENOSPC;
	return (int)w->len;
}
