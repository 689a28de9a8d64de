/*
 * monitor_config: the pure line parser (words, keys, numbers, labels, cross-checks), the
 * messages, and the loader that splits a buffer into lines, keeps the targets in one
 * array and finds duplicate names through an open-addressing index.
 */
#include "monitor/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errmsg.h"
#include "common/numparse.h"
#include "common/text.h"

#define US_PER_S 1000000LL
/* Integer digits of a seconds value before it cannot be in any range of ours. */
#define INT_DIGITS_MAX 12
/* Most bytes of a file name in a message. */
#define FILE_NAME_ECHO_MAX 255
/* The loader's first allocations; both grow by doubling. */
#define TARGETS_CAP_MIN 16
#define INDEX_CAP_MIN	64
/* How the loader reads a file: this much at a time, the buffer growing as needed. */
#define READ_CHUNK 65536
/* What monitor_config_add_host() calls its "file". */
#define COMMAND_LINE_NAME "command line"

struct word {
	const char *p;
	size_t len;
};

/* The keys of defaults and target lines. */
enum key {
	KEY_HOST,
	KEY_PROTOCOL,
	KEY_PORT,
	KEY_INTERVAL,
	KEY_MAX_TTL,
	KEY_FIRST_TTL,
	KEY_WINDOW,
	KEY_FAMILY,
	KEY_FLOW_ID,
	KEY_ECMP, /* the same setting as flow-id, in the CLI's words (--ecmp) */
	KEY_TIMEOUT,
	KEY_LABEL,
	KEY__COUNT,
};

/* How messages describe a good value: a word list, or a range of integers or seconds. */
enum expect_kind {
	EXPECT_TEXT,
	EXPECT_INT,
	EXPECT_SECONDS, /* min and max in microseconds */
};

struct key_info {
	const char *name;
	enum expect_kind kind;
	const char *text; /* EXPECT_TEXT; the unit otherwise */
	int64_t min, max;
};

static const struct key_info keys[KEY__COUNT] = {
	[KEY_HOST] = {"host", EXPECT_TEXT, "", 0, 0},
	[KEY_PROTOCOL] = {"protocol", EXPECT_TEXT, "icmp, udp or tcp", 0, 0},
	[KEY_PORT] = {"port", EXPECT_INT, "", 0, MONITOR_CONFIG_PORT_MAX},
	[KEY_INTERVAL] = {"interval", EXPECT_SECONDS, " seconds", MONITOR_CONFIG_INTERVAL_MIN_US,
			  MONITOR_CONFIG_INTERVAL_MAX_US},
	[KEY_MAX_TTL] = {"max-ttl", EXPECT_INT, "", MONITOR_CONFIG_TTL_MIN, MONITOR_CONFIG_TTL_MAX},
	[KEY_FIRST_TTL] = {"first-ttl", EXPECT_INT, "", MONITOR_CONFIG_TTL_MIN,
			   MONITOR_CONFIG_TTL_MAX},
	[KEY_WINDOW] = {"window", EXPECT_SECONDS, " seconds", MONITOR_CONFIG_WINDOW_MIN_US,
			MONITOR_CONFIG_WINDOW_MAX_US},
	[KEY_FAMILY] = {"family", EXPECT_TEXT, "4, 6 or any", 0, 0},
	[KEY_FLOW_ID] = {"flow-id", EXPECT_TEXT, "on or off", 0, 0},
	[KEY_ECMP] = {"ecmp", EXPECT_TEXT, "paris or classic", 0, 0},
	[KEY_TIMEOUT] = {"timeout", EXPECT_INT, " seconds", MONITOR_CONFIG_TIMEOUT_MIN_S,
			 MONITOR_CONFIG_TIMEOUT_MAX_S},
	[KEY_LABEL] = {"label", EXPECT_TEXT, "KEY=VALUE", 0, 0},
};

/* The global directives' values, for messages only. */
static const struct key_info global_keys[] = {
	{"budget", EXPECT_SECONDS, " probes per second", MONITOR_CONFIG_BUDGET_MIN * 1000000LL,
	 MONITOR_CONFIG_BUDGET_MAX * 1000000LL},
	{"resolve-every", EXPECT_INT, " seconds", MONITOR_CONFIG_RESOLVE_MIN_S,
	 MONITOR_CONFIG_RESOLVE_MAX_S},
	{"engine", EXPECT_TEXT, "one word", 0, 0},
};

static const char *const reserved_labels[] = {"target", "hop", "le", "quantile"};

static const char *const messages[MONITOR_CONFIG_E__COUNT] = {
	[MONITOR_CONFIG_OK] = "success",
	[MONITOR_CONFIG_E_LINE_TOO_LONG] = "line too long",
	[MONITOR_CONFIG_E_BAD_BYTE] = "invalid byte",
	[MONITOR_CONFIG_E_UNKNOWN_DIRECTIVE] = "unknown directive",
	[MONITOR_CONFIG_E_UNKNOWN_KEY] = "unknown key",
	[MONITOR_CONFIG_E_MISSING_VALUE] = "missing value",
	[MONITOR_CONFIG_E_EXTRA_WORD] = "unexpected word",
	[MONITOR_CONFIG_E_BAD_NUMBER] = "bad number",
	[MONITOR_CONFIG_E_OUT_OF_RANGE] = "value out of range",
	[MONITOR_CONFIG_E_BAD_VALUE] = "bad value",
	[MONITOR_CONFIG_E_KEY_REPEATED] = "key given twice",
	[MONITOR_CONFIG_E_KEY_NOT_HERE] = "key only allowed on target lines",
	[MONITOR_CONFIG_E_DIRECTIVE_REPEATED] = "directive given twice",
	[MONITOR_CONFIG_E_MISSING_NAME] = "target without a name",
	[MONITOR_CONFIG_E_BAD_NAME] = "bad target name",
	[MONITOR_CONFIG_E_MISSING_HOST] = "target without a host",
	[MONITOR_CONFIG_E_BAD_HOST] = "bad host",
	[MONITOR_CONFIG_E_BAD_LABEL] = "bad label",
	[MONITOR_CONFIG_E_BAD_LABEL_KEY] = "bad label key",
	[MONITOR_CONFIG_E_RESERVED_LABEL] = "reserved label key",
	[MONITOR_CONFIG_E_BAD_LABEL_VALUE] = "bad label value",
	[MONITOR_CONFIG_E_LABEL_REPEATED] = "label given twice",
	[MONITOR_CONFIG_E_TOO_MANY_LABELS] = "too many labels",
	[MONITOR_CONFIG_E_FIRST_TTL_ABOVE_MAX] = "first-ttl above max-ttl",
	[MONITOR_CONFIG_E_WINDOW_TOO_SHORT] = "window shorter than interval",
	[MONITOR_CONFIG_E_DUPLICATE_TARGET] = "target defined twice",
	[MONITOR_CONFIG_E_TOO_MANY_TARGETS] = "too many targets",
};

static int word_is(struct word w, const char *s)
{
	return strlen(s) == w.len && memcmp(w.p, s, w.len) == 0;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_name_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == ':' || ch == '-';
}

/* The cleaned, bounded copy of a word that every message echoes. */
static void set_word(struct monitor_config_parser *p, const char *s, size_t len)
{
	size_t n = len > MONITOR_CONFIG_ECHO_MAX ? MONITOR_CONFIG_ECHO_MAX : len;

	n = text_clean(p->err_word, sizeof(p->err_word), s, n);
	if (len > MONITOR_CONFIG_ECHO_MAX)
		memcpy(p->err_word + n, "...", 4);
}

static int fail(struct monitor_config_parser *p, int err, const char *key, struct word w)
{
	p->err_key = key;
	set_word(p, w.p, w.len);
	return err;
}

/* Words of a line, already checked to hold only printable ASCII, spaces and tabs. */
struct cursor {
	const char *p, *end;
};

static int next_word(struct cursor *c, struct word *w)
{
	while (c->p < c->end && is_space(*c->p))
		c->p++;
	if (c->p == c->end)
		return 0;
	w->p = c->p;
	while (c->p < c->end && !is_space(*c->p))
		c->p++;
	w->len = (size_t)(c->p - w->p);
	return 1;
}

/*
 * Cuts the comment and a trailing CR off, then checks every byte left: printable ASCII,
 * space or tab. Comments may hold anything but NUL.
 */
static int check_bytes(struct monitor_config_parser *p, const char *line, size_t *len)
{
	size_t n = *len, i;

	if (n && line[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == '#')
			break;
		if (ch == '\t' || (ch >= 0x20 && ch < 0x7f))
			continue;
		p->err_a = ch;
		return MONITOR_CONFIG_E_BAD_BYTE;
	}
	if (memchr(line + i, '\0', n - i)) {
		p->err_a = 0;
		return MONITOR_CONFIG_E_BAD_BYTE;
	}
	*len = i;
	return 0;
}

/*
 * Decimal seconds ("2", "0.25") to microseconds: digits, then optionally '.' and 1..6
 * digits. -EINVAL not that shape, -ERANGE outside [min, max].
 */
static int parse_micro(struct word w, int64_t min, int64_t max, int64_t *out)
{
	int64_t whole = 0, frac = 0, scale = US_PER_S;
	size_t i = 0, ndig = 0, nfrac = 0;

	for (; i < w.len && w.p[i] >= '0' && w.p[i] <= '9'; i++, ndig++)
		if (ndig < INT_DIGITS_MAX)
			whole = whole * 10 + (w.p[i] - '0');
	if (!ndig)
		return -EINVAL;
	if (i < w.len && w.p[i] == '.') {
		for (i++; i < w.len && w.p[i] >= '0' && w.p[i] <= '9'; i++, nfrac++) {
			if (nfrac == MONITOR_CONFIG_DECIMALS_MAX)
				return -EINVAL;
			scale /= 10;
			frac += (w.p[i] - '0') * scale;
		}
		if (!nfrac)
			return -EINVAL;
	}
	if (i != w.len)
		return -EINVAL;
	if (ndig > INT_DIGITS_MAX)
		return -ERANGE;
	*out = whole * US_PER_S + frac;
	return *out < min || *out > max ? -ERANGE : 0;
}

static int num_fail(struct monitor_config_parser *p, int rc, const char *key, struct word w)
{
	return fail(p, rc == -ERANGE ? MONITOR_CONFIG_E_OUT_OF_RANGE : MONITOR_CONFIG_E_BAD_NUMBER,
		    key, w);
}

/* A decimal integer in [min, max] without a sign: -EINVAL or -ERANGE otherwise. */
static int parse_unsigned(struct word w, int64_t min, int64_t max, int64_t *out)
{
	if (!w.len || w.p[0] < '0' || w.p[0] > '9')
		return -EINVAL;
	return numparse_i64(w.p, w.len, min, max, out);
}

static int parse_int(struct monitor_config_parser *p, enum key k, struct word w, int64_t min,
		     int64_t max, int *out)
{
	int64_t v;
	int rc = parse_unsigned(w, min, max, &v);

	if (rc)
		return num_fail(p, rc, keys[k].name, w);
	*out = (int)v;
	return 0;
}

static int parse_seconds(struct monitor_config_parser *p, enum key k, struct word w, int64_t min,
			 int64_t max, int64_t *out)
{
	int rc = parse_micro(w, min, max, out);

	return rc ? num_fail(p, rc, keys[k].name, w) : 0;
}

static int label_key_ok(struct word k)
{
	size_t i;

	if (!k.len || k.len > MONITOR_CONFIG_LABEL_KEY_MAX)
		return 0;
	if (!(k.p[0] == '_' || (k.p[0] >= 'a' && k.p[0] <= 'z') ||
	      (k.p[0] >= 'A' && k.p[0] <= 'Z')))
		return 0;
	for (i = 1; i < k.len; i++) {
		char ch = k.p[i];

		if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9')))
			return 0;
	}
	return 1;
}

static int label_key_reserved(struct word k)
{
	size_t i;

	if (k.len >= 2 && k.p[0] == '_' && k.p[1] == '_')
		return 1;
	for (i = 0; i < sizeof(reserved_labels) / sizeof(reserved_labels[0]); i++)
		if (word_is(k, reserved_labels[i]))
			return 1;
	return 0;
}

/*
 * One label word into t: a key already there from the defaults is overwritten, a key
 * given earlier on this line (bit set in *seen) is an error.
 */
static int parse_label(struct monitor_config_parser *p, struct word w,
		       struct monitor_target_config *t, unsigned *seen)
{
	const char *eq = memchr(w.p, '=', w.len);
	struct word k, v;
	size_t i;

	if (!eq)
		return fail(p, MONITOR_CONFIG_E_BAD_LABEL, "label", w);
	k = (struct word){w.p, (size_t)(eq - w.p)};
	v = (struct word){eq + 1, w.len - k.len - 1};
	if (!label_key_ok(k))
		return fail(p, MONITOR_CONFIG_E_BAD_LABEL_KEY, "label", k);
	if (label_key_reserved(k))
		return fail(p, MONITOR_CONFIG_E_RESERVED_LABEL, "label", k);
	if (!v.len || v.len > MONITOR_CONFIG_LABEL_VALUE_MAX)
		return fail(p, MONITOR_CONFIG_E_BAD_LABEL_VALUE, "label", k);
	for (i = 0; i < t->nlabels; i++)
		if (word_is(k, t->labels[i].key))
			break;
	if (i < t->nlabels && (*seen & (1u << i)))
		return fail(p, MONITOR_CONFIG_E_LABEL_REPEATED, "label", k);
	if (i == t->nlabels) {
		if (t->nlabels == MONITOR_CONFIG_LABELS_MAX)
			return fail(p, MONITOR_CONFIG_E_TOO_MANY_LABELS, "label", k);
		memcpy(t->labels[i].key, k.p, k.len);
		t->labels[i].key[k.len] = '\0';
		t->nlabels++;
	}
	memcpy(t->labels[i].value, v.p, v.len);
	t->labels[i].value[v.len] = '\0';
	*seen |= 1u << i;
	return 0;
}

static int parse_protocol(struct monitor_config_parser *p, struct word w,
			  struct monitor_target_config *t)
{
	enum proto_protocol proto;

	if (proto_protocol_lookup(w.p, w.len, &proto) == 0) {
		switch (proto) {
		case PROTO_PROTOCOL_ICMP:
		case PROTO_PROTOCOL_UDP:
		case PROTO_PROTOCOL_TCP:
			t->protocol = proto;
			return 0;
		case PROTO_PROTOCOL_SCTP:
		case PROTO_PROTOCOL__COUNT:
			break;
		}
	}
	return fail(p, MONITOR_CONFIG_E_BAD_VALUE, keys[KEY_PROTOCOL].name, w);
}

static int parse_choice(struct monitor_config_parser *p, enum key k, struct word w,
			struct monitor_target_config *t)
{
	if (k == KEY_FAMILY) {
		if (word_is(w, "4") || word_is(w, "6") || word_is(w, "any")) {
			t->family = w.p[0] == 'a' ? 0 : w.p[0] - '0';
			return 0;
		}
	} else if (k == KEY_ECMP) {
		if (word_is(w, "paris") || word_is(w, "classic")) {
			t->flow_id = word_is(w, "paris");
			return 0;
		}
	} else if (word_is(w, "on") || word_is(w, "off")) {
		t->flow_id = word_is(w, "on");
		return 0;
	}
	return fail(p, MONITOR_CONFIG_E_BAD_VALUE, keys[k].name, w);
}

/* The value of key k into t. */
static int parse_value(struct monitor_config_parser *p, enum key k, struct word w,
		       struct monitor_target_config *t, unsigned *seen_labels)
{
	switch (k) {
	case KEY_HOST:
		if (w.len > MONITOR_CONFIG_HOST_MAX)
			return fail(p, MONITOR_CONFIG_E_BAD_HOST, keys[k].name, w);
		memcpy(t->host, w.p, w.len);
		t->host[w.len] = '\0';
		return 0;
	case KEY_PROTOCOL:
		return parse_protocol(p, w, t);
	case KEY_PORT:
		return parse_int(p, k, w, 0, MONITOR_CONFIG_PORT_MAX, &t->port);
	case KEY_INTERVAL:
		return parse_seconds(p, k, w, MONITOR_CONFIG_INTERVAL_MIN_US,
				     MONITOR_CONFIG_INTERVAL_MAX_US, &t->interval_us);
	case KEY_MAX_TTL:
		return parse_int(p, k, w, MONITOR_CONFIG_TTL_MIN, MONITOR_CONFIG_TTL_MAX,
				 &t->max_ttl);
	case KEY_FIRST_TTL:
		return parse_int(p, k, w, MONITOR_CONFIG_TTL_MIN, MONITOR_CONFIG_TTL_MAX,
				 &t->first_ttl);
	case KEY_WINDOW:
		return parse_seconds(p, k, w, MONITOR_CONFIG_WINDOW_MIN_US,
				     MONITOR_CONFIG_WINDOW_MAX_US, &t->window_us);
	case KEY_FAMILY:
	case KEY_FLOW_ID:
	case KEY_ECMP:
		return parse_choice(p, k, w, t);
	case KEY_TIMEOUT:
		return parse_int(p, k, w, MONITOR_CONFIG_TIMEOUT_MIN_S,
				 MONITOR_CONFIG_TIMEOUT_MAX_S, &t->timeout_s);
	case KEY_LABEL:
		return parse_label(p, w, t, seen_labels);
	case KEY__COUNT:
		break;
	}
	return fail(p, MONITOR_CONFIG_E_UNKNOWN_KEY, NULL, w);
}

static int lookup_key(struct word w, enum key *out)
{
	int k;

	for (k = 0; k < KEY__COUNT; k++) {
		if (word_is(w, keys[k].name)) {
			*out = (enum key)k;
			return 0;
		}
	}
	return -ENOENT;
}

/* The settings one target line ends with, whichever line set them. */
static int cross_check(struct monitor_config_parser *p, const struct monitor_target_config *t)
{
	if (t->first_ttl > t->max_ttl) {
		p->err_a = t->first_ttl;
		p->err_b = t->max_ttl;
		return MONITOR_CONFIG_E_FIRST_TTL_ABOVE_MAX;
	}
	if (t->window_us < t->interval_us) {
		p->err_a = t->window_us;
		p->err_b = t->interval_us;
		return MONITOR_CONFIG_E_WINDOW_TOO_SHORT;
	}
	return 0;
}

/* KEY VALUE pairs to the end of the line, over t (a copy of the defaults). */
static int parse_pairs(struct monitor_config_parser *p, struct cursor *c,
		       struct monitor_target_config *t, int is_target)
{
	unsigned seen = 0, seen_labels = 0, bit;
	struct word kw, vw;
	enum key k;
	int rc;

	while (next_word(c, &kw)) {
		if (lookup_key(kw, &k))
			return fail(p, MONITOR_CONFIG_E_UNKNOWN_KEY, NULL, kw);
		if (k == KEY_HOST && !is_target)
			return fail(p, MONITOR_CONFIG_E_KEY_NOT_HERE, keys[k].name, kw);
		/* ecmp and flow-id are one setting: a line gives it once. */
		bit = 1u << (k == KEY_ECMP ? KEY_FLOW_ID : k);
		if (k != KEY_LABEL && (seen & bit))
			return fail(p, MONITOR_CONFIG_E_KEY_REPEATED, keys[k].name, kw);
		seen |= bit;
		if (!next_word(c, &vw))
			return fail(p, MONITOR_CONFIG_E_MISSING_VALUE, keys[k].name, kw);
		rc = parse_value(p, k, vw, t, &seen_labels);
		if (rc)
			return rc;
	}
	if (is_target && !(seen & (1u << KEY_HOST)))
		return MONITOR_CONFIG_E_MISSING_HOST;
	return 0;
}

static int parse_target(struct monitor_config_parser *p, struct cursor *c, struct word dir,
			struct monitor_config_item *out)
{
	struct monitor_target_config *t = &out->target;
	struct word name;
	size_t i;
	int rc;

	if (!next_word(c, &name))
		return fail(p, MONITOR_CONFIG_E_MISSING_NAME, "target", dir);
	if (name.len > MONITOR_CONFIG_NAME_MAX)
		return fail(p, MONITOR_CONFIG_E_BAD_NAME, "target", name);
	for (i = 0; i < name.len; i++)
		if (!is_name_char((unsigned char)name.p[i]))
			return fail(p, MONITOR_CONFIG_E_BAD_NAME, "target", name);
	*t = p->defaults;
	memcpy(t->name, name.p, name.len);
	t->name[name.len] = '\0';
	t->line = p->line;
	memcpy(p->err_target, t->name, name.len + 1);
	rc = parse_pairs(p, c, t, 1);
	if (!rc)
		rc = cross_check(p, t);
	if (rc)
		return rc;
	out->kind = MONITOR_CONFIG_ITEM_TARGET;
	return 0;
}

static int parse_defaults(struct monitor_config_parser *p, struct cursor *c,
			  struct monitor_config_item *out)
{
	int rc;

	out->target = p->defaults;
	rc = parse_pairs(p, c, &out->target, 0);
	if (rc)
		return rc;
	out->target.line = p->line;
	p->defaults = out->target;
	out->kind = MONITOR_CONFIG_ITEM_DEFAULTS;
	return 0;
}

/* A global directive's one value; *seen_line says whether the file gave it already. */
static int parse_global(struct monitor_config_parser *p, struct cursor *c, struct word dir,
			const char *name, int *seen_line, struct word *value)
{
	struct word extra;

	p->err_key = name;
	if (*seen_line) {
		p->err_first_line = *seen_line;
		return fail(p, MONITOR_CONFIG_E_DIRECTIVE_REPEATED, name, dir);
	}
	if (!next_word(c, value))
		return fail(p, MONITOR_CONFIG_E_MISSING_VALUE, name, dir);
	if (next_word(c, &extra))
		return fail(p, MONITOR_CONFIG_E_EXTRA_WORD, name, extra);
	return 0;
}

static int parse_budget(struct monitor_config_parser *p, struct cursor *c, struct word dir,
			struct monitor_config_item *out)
{
	struct word v;
	int64_t micro;
	int rc = parse_global(p, c, dir, "budget", &p->budget_line, &v);

	if (rc)
		return rc;
	rc = parse_micro(v, MONITOR_CONFIG_BUDGET_MIN * US_PER_S,
			 MONITOR_CONFIG_BUDGET_MAX * US_PER_S, &micro);
	if (rc)
		return num_fail(p, rc, "budget", v);
	out->budget_pps = (double)micro / US_PER_S;
	out->kind = MONITOR_CONFIG_ITEM_BUDGET;
	p->budget_line = p->line;
	return 0;
}

static int parse_resolve(struct monitor_config_parser *p, struct cursor *c, struct word dir,
			 struct monitor_config_item *out)
{
	struct word v;
	int64_t s;
	int rc = parse_global(p, c, dir, "resolve-every", &p->resolve_line, &v);

	if (rc)
		return rc;
	rc = parse_unsigned(v, MONITOR_CONFIG_RESOLVE_MIN_S, MONITOR_CONFIG_RESOLVE_MAX_S, &s);
	if (rc)
		return num_fail(p, rc, "resolve-every", v);
	out->resolve_every_us = s * US_PER_S;
	out->kind = MONITOR_CONFIG_ITEM_RESOLVE_EVERY;
	p->resolve_line = p->line;
	return 0;
}

static int parse_engine(struct monitor_config_parser *p, struct cursor *c, struct word dir,
			struct monitor_config_item *out)
{
	struct word v;
	int rc = parse_global(p, c, dir, "engine", &p->engine_line, &v);

	if (rc)
		return rc;
	if (v.len > MONITOR_CONFIG_ENGINE_MAX)
		return fail(p, MONITOR_CONFIG_E_BAD_VALUE, "engine", v);
	memcpy(out->engine, v.p, v.len);
	out->engine[v.len] = '\0';
	out->kind = MONITOR_CONFIG_ITEM_ENGINE;
	p->engine_line = p->line;
	return 0;
}

void monitor_config_parser_init(struct monitor_config_parser *p)
{
	struct monitor_target_config *d = &p->defaults;

	memset(p, 0, sizeof(*p));
	d->protocol = PROTO_PROTOCOL_ICMP;
	d->interval_us = MONITOR_CONFIG_INTERVAL_DEFAULT_US;
	d->first_ttl = MONITOR_CONFIG_FIRST_TTL_DEFAULT;
	d->max_ttl = MONITOR_CONFIG_MAX_TTL_DEFAULT;
	d->window_us = MONITOR_CONFIG_WINDOW_DEFAULT_US;
	d->flow_id = 1;
	d->timeout_s = MONITOR_CONFIG_TIMEOUT_DEFAULT_S;
}

int monitor_config_parse_line(struct monitor_config_parser *p, const char *line, size_t len,
			      struct monitor_config_item *out)
{
	struct cursor c;
	struct word dir;
	int rc;

	p->line++;
	p->err_key = NULL;
	p->err_word[0] = '\0';
	p->err_target[0] = '\0';
	p->err_first_line = 0;
	p->err_a = p->err_b = 0;
	out->kind = MONITOR_CONFIG_ITEM_NONE;
	if (len > MONITOR_CONFIG_LINE_MAX)
		return MONITOR_CONFIG_E_LINE_TOO_LONG;
	rc = check_bytes(p, line, &len);
	if (rc)
		return rc;
	c = (struct cursor){line, line + len};
	if (!next_word(&c, &dir))
		return 0;
	if (word_is(dir, "target"))
		return parse_target(p, &c, dir, out);
	if (word_is(dir, "defaults"))
		return parse_defaults(p, &c, out);
	if (word_is(dir, "budget"))
		return parse_budget(p, &c, dir, out);
	if (word_is(dir, "resolve-every"))
		return parse_resolve(p, &c, dir, out);
	if (word_is(dir, "engine"))
		return parse_engine(p, &c, dir, out);
	return fail(p, MONITOR_CONFIG_E_UNKNOWN_DIRECTIVE, NULL, dir);
}

const char *monitor_config_strerror(int err)
{
	if (err < 0 || err >= MONITOR_CONFIG_E__COUNT)
		return "unknown error";
	return messages[err];
}

/* Microseconds as seconds, with only the decimals it needs. */
static void fmt_seconds(char *buf, size_t len, int64_t us)
{
	int64_t frac = us % US_PER_S;
	int digits = MONITOR_CONFIG_DECIMALS_MAX;

	if (!frac) {
		snprintf(buf, len, "%lld", (long long)(us / US_PER_S));
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, len, "%lld.%0*lld", (long long)(us / US_PER_S), digits, (long long)frac);
}

static const struct key_info *key_info_of(const char *name)
{
	size_t i;

	for (i = 0; name && i < KEY__COUNT; i++)
		if (strcmp(name, keys[i].name) == 0)
			return &keys[i];
	for (i = 0; name && i < sizeof(global_keys) / sizeof(global_keys[0]); i++)
		if (strcmp(name, global_keys[i].name) == 0)
			return &global_keys[i];
	return NULL;
}

/* What a good value of key looks like: "0..65535", "0.1..3600 seconds", "on or off". */
static void expect_text(char *buf, size_t len, const char *key)
{
	const struct key_info *k = key_info_of(key);
	char lo[32], hi[32];

	if (!k) {
		snprintf(buf, len, "?");
		return;
	}
	switch (k->kind) {
	case EXPECT_TEXT:
		snprintf(buf, len, "%s", k->text);
		return;
	case EXPECT_INT:
		snprintf(buf, len, "%lld..%lld%s", (long long)k->min, (long long)k->max, k->text);
		return;
	case EXPECT_SECONDS:
		fmt_seconds(lo, sizeof(lo), k->min);
		fmt_seconds(hi, sizeof(hi), k->max);
		snprintf(buf, len, "%s..%s%s", lo, hi, k->text);
		return;
	}
}

/* The messages about one key's value. */
static int describe_value(char *buf, size_t len, const struct monitor_config_parser *p, int err)
{
	const char *key = p->err_key ? p->err_key : "?";
	char expect[128];

	expect_text(expect, sizeof(expect), key);
	switch (err) {
	case MONITOR_CONFIG_E_BAD_NUMBER:
		return snprintf(buf, len, "bad number '%s' for '%s' (%s)", p->err_word, key,
				expect);
	case MONITOR_CONFIG_E_OUT_OF_RANGE:
		return snprintf(buf, len, "%s %s is out of range (%s)", key, p->err_word, expect);
	case MONITOR_CONFIG_E_BAD_VALUE:
		if (strcmp(key, "engine") == 0)
			return snprintf(buf, len, "engine '%s' is longer than %d bytes",
					p->err_word, MONITOR_CONFIG_ENGINE_MAX);
		return snprintf(buf, len, "bad value '%s' for '%s' (%s)", p->err_word, key, expect);
	default:
		return snprintf(buf, len, "%s", monitor_config_strerror(err));
	}
}

static int describe_label(char *buf, size_t len, const struct monitor_config_parser *p, int err)
{
	const char *w = p->err_word;

	switch (err) {
	case MONITOR_CONFIG_E_BAD_LABEL:
		return snprintf(buf, len, "bad label '%s' (KEY=VALUE)", w);
	case MONITOR_CONFIG_E_BAD_LABEL_KEY:
		return snprintf(buf, len,
				"bad label key '%s' (a letter or '_', then letters, digits or '_'; "
				"at most %d)",
				w, MONITOR_CONFIG_LABEL_KEY_MAX);
	case MONITOR_CONFIG_E_RESERVED_LABEL:
		return snprintf(buf, len, "label key '%s' is reserved", w);
	case MONITOR_CONFIG_E_BAD_LABEL_VALUE:
		return snprintf(buf, len,
				"label '%s' needs a value of 1..%d printable characters, no spaces",
				w, MONITOR_CONFIG_LABEL_VALUE_MAX);
	case MONITOR_CONFIG_E_LABEL_REPEATED:
		return snprintf(buf, len, "label '%s' given twice", w);
	case MONITOR_CONFIG_E_TOO_MANY_LABELS:
		return snprintf(buf, len, "more than %d labels (at '%s')",
				MONITOR_CONFIG_LABELS_MAX, w);
	default:
		return snprintf(buf, len, "%s", monitor_config_strerror(err));
	}
}

static int describe_target(char *buf, size_t len, const struct monitor_config_parser *p, int err)
{
	const char *t = p->err_target;
	char a[32], b[32];

	switch (err) {
	case MONITOR_CONFIG_E_FIRST_TTL_ABOVE_MAX:
		return snprintf(buf, len, "target '%s': first-ttl %lld is above max-ttl %lld", t,
				(long long)p->err_a, (long long)p->err_b);
	case MONITOR_CONFIG_E_WINDOW_TOO_SHORT:
		fmt_seconds(a, sizeof(a), p->err_a);
		fmt_seconds(b, sizeof(b), p->err_b);
		return snprintf(buf, len, "target '%s': window %s s is shorter than interval %s s",
				t, a, b);
	case MONITOR_CONFIG_E_DUPLICATE_TARGET:
		if (!p->err_first_line)
			return snprintf(buf, len,
					"target '%s' is defined twice (first on the command line)",
					t);
		return snprintf(buf, len, "target '%s' is defined twice (first on line %d)", t,
				p->err_first_line);
	case MONITOR_CONFIG_E_TOO_MANY_TARGETS:
		return snprintf(buf, len, "more than %d targets", MONITOR_CONFIG_TARGETS_MAX);
	default:
		return snprintf(buf, len, "%s", monitor_config_strerror(err));
	}
}

static int describe(char *buf, size_t len, const struct monitor_config_parser *p, int err)
{
	const char *key = p->err_key ? p->err_key : "?";
	const char *w = p->err_word;

	switch (err) {
	case MONITOR_CONFIG_E_LINE_TOO_LONG:
		return snprintf(buf, len, "line longer than %d bytes", MONITOR_CONFIG_LINE_MAX);
	case MONITOR_CONFIG_E_BAD_BYTE:
		return snprintf(buf, len, "invalid byte 0x%02x (only printable ASCII and tabs)",
				(unsigned)p->err_a);
	case MONITOR_CONFIG_E_UNKNOWN_DIRECTIVE:
		return snprintf(buf, len, "unknown directive '%s'", w);
	case MONITOR_CONFIG_E_UNKNOWN_KEY:
		return snprintf(buf, len, "unknown key '%s'", w);
	case MONITOR_CONFIG_E_MISSING_VALUE:
		return snprintf(buf, len, "'%s' needs a value", key);
	case MONITOR_CONFIG_E_EXTRA_WORD:
		return snprintf(buf, len, "unexpected '%s' after the value of '%s'", w, key);
	case MONITOR_CONFIG_E_KEY_REPEATED:
		return snprintf(buf, len, "'%s' given twice", key);
	case MONITOR_CONFIG_E_KEY_NOT_HERE:
		return snprintf(buf, len, "'%s' is only allowed on target lines", key);
	case MONITOR_CONFIG_E_DIRECTIVE_REPEATED:
		return snprintf(buf, len, "'%s' given twice (first on line %d)", key,
				p->err_first_line);
	case MONITOR_CONFIG_E_MISSING_NAME:
		return snprintf(buf, len, "'target' needs a name");
	case MONITOR_CONFIG_E_BAD_NAME:
		return snprintf(buf, len,
				"bad target name '%s' (1..%d characters of A-Z a-z 0-9 _ . : -)", w,
				MONITOR_CONFIG_NAME_MAX);
	case MONITOR_CONFIG_E_MISSING_HOST:
		return snprintf(buf, len, "target '%s' has no 'host'", p->err_target);
	case MONITOR_CONFIG_E_BAD_HOST:
		return snprintf(buf, len, "bad host '%s' (1..%d printable characters, no spaces)",
				w, MONITOR_CONFIG_HOST_MAX);
	case MONITOR_CONFIG_E_BAD_NUMBER:
	case MONITOR_CONFIG_E_OUT_OF_RANGE:
	case MONITOR_CONFIG_E_BAD_VALUE:
		return describe_value(buf, len, p, err);
	case MONITOR_CONFIG_E_BAD_LABEL:
	case MONITOR_CONFIG_E_BAD_LABEL_KEY:
	case MONITOR_CONFIG_E_RESERVED_LABEL:
	case MONITOR_CONFIG_E_BAD_LABEL_VALUE:
	case MONITOR_CONFIG_E_LABEL_REPEATED:
	case MONITOR_CONFIG_E_TOO_MANY_LABELS:
		return describe_label(buf, len, p, err);
	default:
		return describe_target(buf, len, p, err);
	}
}

size_t monitor_config_format_error(char *buf, size_t len, const char *file,
				   const struct monitor_config_parser *p, int err)
{
	char name[FILE_NAME_ECHO_MAX + 1];
	char msg[512];
	int n;

	text_clean(name, sizeof(name), file ? file : "?", SIZE_MAX);
	if (describe(msg, sizeof(msg), p, err) < 0)
		msg[0] = '\0';
	if (p->line > 0)
		n = snprintf(buf, len, "%s:%d: %s", name, p->line, msg);
	else
		n = snprintf(buf, len, "%s: %s", name, msg);
	return n < 0 ? 0 : (size_t)n;
}

/* FNV-1a: names are short and chosen by the operator, not by an adversary. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of name in c's index: where it is, or the empty slot it would take. */
static size_t index_slot(const struct monitor_config *c, const char *name)
{
	size_t mask = c->index_cap - 1, i = name_hash(name) & mask;

	while (c->index[i] && strcmp(c->targets[c->index[i] - 1].name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

static int index_rebuild(struct monitor_config *c, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof(*idx));
	size_t i;

	if (!idx)
		return -ENOMEM;
	free(c->index);
	c->index = idx;
	c->index_cap = cap;
	for (i = 0; i < c->ntargets; i++)
		c->index[index_slot(c, c->targets[i].name)] = (uint32_t)(i + 1);
	return 0;
}

static int reserve_one(struct monitor_config *c)
{
	size_t cap;

	if (c->ntargets == c->cap) {
		struct monitor_target_config *t;

		cap = c->cap ? 2 * c->cap : TARGETS_CAP_MIN;
		if (cap > MONITOR_CONFIG_TARGETS_MAX)
			cap = MONITOR_CONFIG_TARGETS_MAX;
		t = realloc(c->targets, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->targets = t;
		c->cap = cap;
	}
	if (2 * (c->ntargets + 1) > c->index_cap) {
		cap = c->index_cap ? 2 * c->index_cap : INDEX_CAP_MIN;
		return index_rebuild(c, cap);
	}
	return 0;
}

/* Returns 0, MONITOR_CONFIG_E_DUPLICATE_TARGET or _TOO_MANY_TARGETS (p says), or -ENOMEM. */
static int add_target(struct monitor_config *c, const struct monitor_target_config *t,
		      struct monitor_config_parser *p)
{
	size_t slot;
	int rc;

	snprintf(p->err_target, sizeof(p->err_target), "%s", t->name);
	if (c->index_cap) {
		slot = index_slot(c, t->name);
		if (c->index[slot]) {
			p->err_first_line = c->targets[c->index[slot] - 1].line;
			return MONITOR_CONFIG_E_DUPLICATE_TARGET;
		}
	}
	if (c->ntargets == MONITOR_CONFIG_TARGETS_MAX)
		return MONITOR_CONFIG_E_TOO_MANY_TARGETS;
	rc = reserve_one(c);
	if (rc)
		return rc;
	c->targets[c->ntargets] = *t;
	c->index[index_slot(c, t->name)] = (uint32_t)(c->ntargets + 1);
	c->ntargets++;
	return 0;
}

int monitor_config_init(struct monitor_config *c)
{
	struct monitor_config_parser p;

	memset(c, 0, sizeof(*c));
	c->budget_pps = MONITOR_CONFIG_BUDGET_DEFAULT;
	c->resolve_every_us = MONITOR_CONFIG_RESOLVE_DEFAULT_S * US_PER_S;
	monitor_config_parser_init(&p);
	c->defaults = p.defaults;
	return 0;
}

void monitor_config_drop_targets(struct monitor_config *c)
{
	if (!c)
		return;
	free(c->targets);
	free(c->index);
	c->targets = NULL;
	c->index = NULL;
	c->ntargets = c->cap = c->index_cap = 0;
}

void monitor_config_deinit(struct monitor_config *c)
{
	if (!c)
		return;
	monitor_config_drop_targets(c);
	monitor_config_init(c);
}

int monitor_config_copy(struct monitor_config *dst, const struct monitor_config *src)
{
	*dst = *src;
	dst->targets = NULL;
	dst->index = NULL;
	dst->cap = src->ntargets;
	if (src->ntargets) {
		dst->targets = malloc(src->ntargets * sizeof(*dst->targets));
		if (!dst->targets)
			goto fail;
		memcpy(dst->targets, src->targets, src->ntargets * sizeof(*dst->targets));
	}
	if (src->index_cap) {
		dst->index = malloc(src->index_cap * sizeof(*dst->index));
		if (!dst->index)
			goto fail;
		memcpy(dst->index, src->index, src->index_cap * sizeof(*dst->index));
	}
	return 0;
fail:
	free(dst->targets);
	monitor_config_init(dst);
	return -ENOMEM;
}

/* One accepted line into c. Returns 0, a positive error (p says) or -ENOMEM. */
static int apply_item(struct monitor_config *c, const struct monitor_config_item *it,
		      struct monitor_config_parser *p)
{
	switch (it->kind) {
	case MONITOR_CONFIG_ITEM_NONE:
	case MONITOR_CONFIG_ITEM_DEFAULTS:
		return 0;
	case MONITOR_CONFIG_ITEM_BUDGET:
		c->budget_pps = it->budget_pps;
		return 0;
	case MONITOR_CONFIG_ITEM_RESOLVE_EVERY:
		c->resolve_every_us = it->resolve_every_us;
		return 0;
	case MONITOR_CONFIG_ITEM_ENGINE:
		snprintf(c->engine, sizeof(c->engine), "%s", it->engine);
		return 0;
	case MONITOR_CONFIG_ITEM_TARGET:
		return add_target(c, &it->target, p);
	}
	return 0;
}

/* What a failed parse must put back. */
struct saved_globals {
	double budget_pps;
	int64_t resolve_every_us;
	char engine[MONITOR_CONFIG_ENGINE_MAX + 1];
	size_t ntargets;
};

static void rollback(struct monitor_config *c, const struct saved_globals *s)
{
	c->budget_pps = s->budget_pps;
	c->resolve_every_us = s->resolve_every_us;
	memcpy(c->engine, s->engine, sizeof(c->engine));
	c->ntargets = s->ntargets;
	/* In place: dropping names needs no room, so putting things back cannot fail. */
	if (c->index_cap) {
		size_t i;

		memset(c->index, 0, c->index_cap * sizeof(*c->index));
		for (i = 0; i < c->ntargets; i++)
			c->index[index_slot(c, c->targets[i].name)] = (uint32_t)(i + 1);
	}
}

static int parse_lines(struct monitor_config *c, struct monitor_config_parser *p,
		       struct monitor_config_item *it, const char *text, size_t len)
{
	const char *pos = text, *end = text + len;
	int rc;

	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = nl ? (size_t)(nl - pos) : (size_t)(end - pos);

		rc = monitor_config_parse_line(p, pos, n, it);
		if (!rc)
			rc = apply_item(c, it, p);
		if (rc)
			return rc;
		pos += n + (nl != NULL);
	}
	return 0;
}

int monitor_config_parse_buffer(struct monitor_config *c, const char *text, size_t len,
				const char *name_for_errors, char *err, size_t errlen)
{
	struct monitor_config_parser *p;
	struct monitor_config_item *it;
	struct saved_globals *s;
	int rc;

	/* Three large structures: kept off the stack of whoever reloads from a signal path. */
	p = malloc(sizeof(*p));
	it = malloc(sizeof(*it));
	s = malloc(sizeof(*s));
	if (!p || !it || !s) {
		errmsg_set(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	*s = (struct saved_globals){c->budget_pps, c->resolve_every_us, "", c->ntargets};
	memcpy(s->engine, c->engine, sizeof(s->engine));
	monitor_config_parser_init(p);
	rc = parse_lines(c, p, it, text, len);
	if (rc > 0) {
		monitor_config_format_error(err, errlen, name_for_errors, p, rc);
		rc = -EINVAL;
	} else if (rc < 0) {
		errmsg_set(err, errlen, "%s: out of memory", name_for_errors);
	}
	if (rc)
		rollback(c, s);
	else
		c->defaults = p->defaults;
out:
	free(p);
	free(it);
	free(s);
	return rc;
}

/* The whole file into a malloc'ed buffer, at most MONITOR_CONFIG_FILE_MAX bytes. */
static int read_file(int fd, char **out, size_t *outlen)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (cap - len < READ_CHUNK) {
			cap = cap ? 2 * cap : 4 * READ_CHUNK;
			if (cap > MONITOR_CONFIG_FILE_MAX + READ_CHUNK)
				cap = MONITOR_CONFIG_FILE_MAX + READ_CHUNK;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MONITOR_CONFIG_FILE_MAX) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int monitor_config_load(struct monitor_config *c, const char *path, char *err, size_t errlen)
{
	char name[FILE_NAME_ECHO_MAX + 1];
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	text_clean(name, sizeof(name), path, SIZE_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "%s: %s", name, strerror(-rc));
		return rc;
	}
	rc = read_file(fd, &buf, &len);
	close(fd);
	if (rc == -EFBIG)
		errmsg_set(err, errlen, "%s: larger than %d MiB", name,
			   MONITOR_CONFIG_FILE_MAX / (1024 * 1024));
	else if (rc)
		errmsg_set(err, errlen, "%s: %s", name, strerror(-rc));
	if (rc)
		return rc;
	rc = monitor_config_parse_buffer(c, buf ? buf : "", len, path, err, errlen);
	free(buf);
	return rc;
}

/* host as a target name: bytes outside the name set become '_', cut to the longest name. */
static void name_from_host(char *name, const char *host)
{
	size_t i;

	for (i = 0; host[i] && i < MONITOR_CONFIG_NAME_MAX; i++)
		name[i] = is_name_char((unsigned char)host[i]) ? host[i] : '_';
	name[i] = '\0';
}

int monitor_config_add_host(struct monitor_config *c, const char *host, char *err, size_t errlen)
{
	struct monitor_config_parser *p;
	struct monitor_target_config *t;
	size_t len = host ? strlen(host) : 0, i;
	int rc = 0;

	p = malloc(sizeof(*p));
	t = malloc(sizeof(*t));
	if (!p || !t) {
		free(p);
		free(t);
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	monitor_config_parser_init(p);
	set_word(p, host ? host : "", len);
	for (i = 0; i < len && host[i] > ' ' && host[i] < 0x7f; i++)
		;
	if (!len || len > MONITOR_CONFIG_HOST_MAX || i < len)
		rc = MONITOR_CONFIG_E_BAD_HOST;
	if (!rc) {
		*t = c->defaults;
		memcpy(t->host, host, len + 1);
		name_from_host(t->name, host);
		t->line = 0;
		snprintf(p->err_target, sizeof(p->err_target), "%s", t->name);
		rc = cross_check(p, t);
	}
	if (!rc)
		rc = add_target(c, t, p);
	if (rc > 0) {
		monitor_config_format_error(err, errlen, COMMAND_LINE_NAME, p, rc);
		rc = -EINVAL;
	} else if (rc < 0) {
		errmsg_set(err, errlen, "out of memory");
	}
	free(p);
	free(t);
	return rc;
}

const struct monitor_target_config *monitor_config_find(const struct monitor_config *c,
							const char *name)
{
	size_t slot;

	if (!c->index_cap)
		return NULL;
	slot = index_slot(c, name);
	return c->index[slot] ? &c->targets[c->index[slot] - 1] : NULL;
}

static int has_label(const struct monitor_target_config *t, const struct monitor_label *l)
{
	size_t i;

	for (i = 0; i < t->nlabels; i++)
		if (!strcmp(t->labels[i].key, l->key))
			return !strcmp(t->labels[i].value, l->value);
	return 0;
}

int monitor_target_config_equal(const struct monitor_target_config *a,
				const struct monitor_target_config *b)
{
	size_t i;

	if (strcmp(a->name, b->name) || strcmp(a->host, b->host) || a->protocol != b->protocol ||
	    a->port != b->port || a->interval_us != b->interval_us ||
	    a->first_ttl != b->first_ttl || a->max_ttl != b->max_ttl ||
	    a->window_us != b->window_us || a->family != b->family || a->flow_id != b->flow_id ||
	    a->timeout_s != b->timeout_s || a->nlabels != b->nlabels)
		return 0;
	/* Keys are unique within a target, so same count and each found is set equality. */
	for (i = 0; i < a->nlabels; i++)
		if (!has_label(b, &a->labels[i]))
			return 0;
	return 1;
}
