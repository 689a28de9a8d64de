/*
 * asn: Team Cymru's origin TXT records for hop addresses, and the AS name records the
 * diagnosis wants, asked over UDP of our own (libevent's evdns has no TXT query),
 * answered from bounded caches. The message builder, the parser, the field splitters and
 * the caches are pure so that tests and the fuzzer drive them without a network; the rest
 * ties them to one socket on the caller's event base.
 */
#include "client/asn.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"

#define DNS_HEADER_LEN	12
#define DNS_TYPE_TXT	16
#define DNS_CLASS_IN	1
#define DNS_FLAG_QR	0x8000
#define DNS_FLAG_RD	0x0100
#define DNS_RCODE_MASK	0x000f
#define DNS_RCODE_NXDOM 3
#define DNS_LABEL_MAX	63
#define DNS_NAME_TEXT	253 /* a name as text, without the final dot */
#define DNS_NAME_WIRE	255
#define DNS_PTR_MASK	0xc0
#define DNS_RR_FIXED	10 /* type, class, ttl, rdlength */
#define DNS_PORT	53
/* Compression pointers followed in one name: real names need one or two. */
#define ASN_PTR_HOPS 16
/* Datagrams read in one wake-up, so a flood cannot hold the loop. */
#define ASN_RECV_BURST	   64
#define ASN_RESOLV_DEFAULT "/etc/resolv.conf"
/* The most of a resolv.conf read: real ones are a few hundred bytes. */
#define ASN_RESOLV_FILE_MAX 65536
#define ASN_SEP		    '|'

/* mtr 0.95's iiwidth: AS number, prefix, country, registry, allocation date. */
static const int field_widths[ASN_FIELD_COUNT] = {7, 19, 4, 8, 11};

int asn_qname(const struct addr *addr, char *out, size_t cap)
{
	const unsigned char *b;
	size_t off = 0;
	int i, n;

	if (!addr || !out || !cap)
		return -EINVAL;
	if (addr->family == AF_INET) {
		b = (const unsigned char *)&addr->u.v4;
		n = snprintf(out, cap, "%u.%u.%u.%u.origin.asn.cymru.com", b[3], b[2], b[1], b[0]);
		return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
	}
	if (addr->family != AF_INET6)
		return -EINVAL;
	/* mtr 0.95 asks about the /64 only: Cymru's v6 table has no longer prefixes. */
	b = addr->u.v6.s6_addr;
	for (i = 7; i >= 0; i--) {
		n = snprintf(out + off, cap - off, "%x.%x.", b[i] & 0xf, b[i] >> 4);
		if (n < 0 || (size_t)n >= cap - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	n = snprintf(out + off, cap - off, "origin6.asn.cymru.com");
	return n < 0 || (size_t)n >= cap - off ? -ENOSPC : (int)(off + (size_t)n);
}

int asn_name_qname(uint32_t asnum, char *out, size_t cap)
{
	int n;

	if (!asnum || !out || !cap)
		return -EINVAL;
	n = snprintf(out, cap, "AS%" PRIu32 ".asn.cymru.com", asnum);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* An AS number as Cymru writes it: digits only, 1 .. 2^32 - 1; 0 when not one. */
static uint32_t as_number(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > ASN_NUMBER_DIGITS)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* A prefix is written with hex digits, dots, colons and one slash: anything else is not one. */
static int prefix_chars(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) && *s != '.' && *s != ':' && *s != '/')
			return 0;
	return 1;
}

int asn_origin_split(const char *txt, uint32_t *asnum, char *prefix, size_t cap)
{
	char field[ASN_TXT_MAX + 1];
	size_t len;
	int n;

	if (prefix && cap)
		prefix[0] = '\0';
	if (!asnum)
		return -EINVAL;
	*asnum = 0;
	n = asn_field(txt, 0, field, sizeof(field));
	/* A prefix announced by several ASes lists them all, space-separated. */
	len = strcspn(field, " \t");
	*asnum = as_number(field, len);
	if (!*asnum)
		return -ENOENT;
	if (n < 2 || !prefix || !cap)
		return 0;
	asn_field(txt, 1, field, sizeof(field));
	if (prefix_chars(field) && strlen(field) < cap)
		snprintf(prefix, cap, "%s", field);
	return 0;
}

int asn_name_split(const char *txt, uint32_t asnum, char *name, size_t cap)
{
	char field[ASN_TXT_MAX + 1], cc[ASN_TXT_MAX + 1];
	size_t len, cclen, i;

	if (!name || !cap)
		return -EINVAL;
	name[0] = '\0';
	if (asn_field(txt, 0, field, sizeof(field)) < ASN_NAME_FIELDS ||
	    as_number(field, strlen(field)) != asnum || !asnum)
		return -ENOENT;
	asn_field(txt, 1, cc, sizeof(cc));
	asn_field(txt, ASN_NAME_FIELD, field, sizeof(field));
	/* "NAME, CC": the country is already a field of its own. */
	len = strlen(field);
	cclen = strlen(cc);
	if (cclen && len > cclen + 1 && !strcasecmp(field + len - cclen, cc)) {
		size_t cut = len - cclen;

		while (cut && field[cut - 1] == ' ')
			cut--;
		if (cut && field[cut - 1] == ',') {
			field[cut - 1] = '\0';
			len = cut - 1;
			while (len && isspace((unsigned char)field[len - 1]))
				field[--len] = '\0';
		}
	}
	if (!len)
		return -ENOENT;
	/* Untrusted text goes into a text line and a JSON string: printable ASCII only. */
	for (i = 0; i < len && i < cap - 1; i++)
		name[i] = field[i] >= ' ' && field[i] < 0x7f ? field[i] : '?';
	name[i] = '\0';
	return 0;
}

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned int get16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

int asn_query_build(uint8_t *buf, size_t cap, uint16_t id, const char *qname)
{
	size_t qlen, off = DNS_HEADER_LEN;
	const char *s, *dot;

	if (!buf || !qname || !*qname)
		return -EINVAL;
	qlen = strlen(qname);
	if (qlen > DNS_NAME_TEXT)
		return -EINVAL;
	/* Header, labels (one length byte per label: at most qlen + 2), type and class. */
	if (cap < DNS_HEADER_LEN + qlen + 2 + 4)
		return -ENOSPC;
	memset(buf, 0, DNS_HEADER_LEN);
	put16(buf, id);
	put16(buf + 2, DNS_FLAG_RD);
	put16(buf + 4, 1);
	for (s = qname; *s; s = *dot ? dot + 1 : dot) {
		size_t l;

		dot = strchr(s, '.');
		if (!dot)
			dot = s + strlen(s);
		l = (size_t)(dot - s);
		if (!l || l > DNS_LABEL_MAX)
			return -EINVAL;
		buf[off++] = (uint8_t)l;
		memcpy(buf + off, s, l);
		off += l;
	}
	buf[off++] = 0;
	put16(buf + off, DNS_TYPE_TXT);
	put16(buf + off + 2, DNS_CLASS_IN);
	return (int)(off + 4);
}

/*
 * The name at *off as dotted text into out (NULL: skip it), *off moved past it. Pointers
 * must go backwards, so no loop can form; their number is bounded anyway.
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap)
{
	size_t p = *off, end = 0, olen = 0, wire = 1;
	int hops = 0, jumped = 0;

	for (;;) {
		unsigned int l;

		if (p >= len)
			return -EBADMSG;
		l = msg[p];
		if ((l & DNS_PTR_MASK) == DNS_PTR_MASK) {
			size_t to;

			if (p + 1 >= len || ++hops > ASN_PTR_HOPS)
				return -EBADMSG;
			to = (size_t)(get16(msg + p) & 0x3fff);
			if (to >= p)
				return -EBADMSG;
			if (!jumped)
				end = p + 2;
			jumped = 1;
			p = to;
			continue;
		}
		if (l & DNS_PTR_MASK)
			return -EBADMSG; /* the reserved label types */
		if (!l)
			break;
		wire += l + 1;
		if (wire > DNS_NAME_WIRE || p + 1 + l > len)
			return -EBADMSG;
		if (out) {
			if (olen + l + 2 > cap)
				return -EBADMSG;
			if (olen)
				out[olen++] = '.';
			memcpy(out + olen, msg + p + 1, l);
			olen += l;
		}
		p += 1 + l;
	}
	if (out && cap)
		out[olen] = '\0';
	*off = jumped ? end : p + 1;
	return 0;
}

/* The first character-string of a TXT rdata, bounded, NULs made harmless. */
static int copy_txt(const uint8_t *rd, size_t rdlen, char *txt, size_t cap)
{
	size_t l, n, i;

	if (!rdlen)
		return -EBADMSG;
	l = rd[0];
	if (l + 1 > rdlen)
		return -EBADMSG;
	if (!l)
		return ASN_PARSE_NONE;
	n = l < ASN_TXT_MAX ? l : ASN_TXT_MAX;
	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		txt[i] = rd[1 + i] ? (char)rd[1 + i] : '?';
	txt[n] = '\0';
	return 0;
}

/* The question must be ours: one entry, the name we asked (any case), TXT, IN. */
static int check_question(const uint8_t *msg, size_t len, size_t *off, const char *qname)
{
	char name[DNS_NAME_WIRE + 1];
	int rc;

	if (get16(msg + 4) != 1)
		return -ENOMSG;
	rc = read_name(msg, len, off, name, sizeof(name));
	if (rc)
		return rc;
	if (*off + 4 > len)
		return -EBADMSG;
	if (strcasecmp(name, qname) || get16(msg + *off) != DNS_TYPE_TXT ||
	    get16(msg + *off + 2) != DNS_CLASS_IN)
		return -ENOMSG;
	*off += 4;
	return 0;
}

int asn_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname, char *txt, size_t cap)
{
	size_t off = DNS_HEADER_LEN;
	unsigned int flags, an, i;
	int rc;

	if (!msg || !qname || !txt || !cap)
		return -EINVAL;
	txt[0] = '\0';
	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	flags = get16(msg + 2);
	if (get16(msg) != id || !(flags & DNS_FLAG_QR))
		return -ENOMSG;
	rc = check_question(msg, len, &off, qname);
	if (rc)
		return rc;
	if ((flags & DNS_RCODE_MASK) == DNS_RCODE_NXDOM)
		return ASN_PARSE_NONE;
	if (flags & DNS_RCODE_MASK)
		return ASN_PARSE_FAIL;
	an = get16(msg + 6);
	for (i = 0; i < an; i++) {
		unsigned int type, klass;
		size_t rdlen;

		rc = read_name(msg, len, &off, NULL, 0);
		if (rc)
			return rc;
		if (off + DNS_RR_FIXED > len)
			return -EBADMSG;
		type = get16(msg + off);
		klass = get16(msg + off + 2);
		rdlen = get16(msg + off + 8);
		off += DNS_RR_FIXED;
		if (off + rdlen > len)
			return -EBADMSG;
		/* A CNAME on the way is passed over: the TXT that follows is the answer. */
		if (type == DNS_TYPE_TXT && klass == DNS_CLASS_IN)
			return copy_txt(msg + off, rdlen, txt, cap);
		off += rdlen;
	}
	return ASN_PARSE_NONE;
}

/* mtr's trim(): white space and separators off both ends, in place. */
static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (s[i] && (isspace((unsigned char)s[i]) || s[i] == ASN_SEP))
		i++;
	memmove(s, s + i, n - i + 1);
	n -= i;
	while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == ASN_SEP))
		n--;
	s[n] = '\0';
}

int asn_field(const char *txt, int n, char *out, size_t cap)
{
	char copy[ASN_TXT_MAX + 1], *items[ASN_FIELDS_MAX], *p = copy, *sep;
	int count = 0;

	if (!cap)
		return 1;
	snprintf(copy, sizeof(copy), "%s", txt ? txt : "");
	/* As mtr: the last of ASN_FIELDS_MAX - 1 splits keeps the rest, and is not counted. */
	while ((sep = strchr(p, ASN_SEP)) && count < ASN_FIELDS_MAX - 1) {
		*sep = '\0';
		items[count++] = p;
		p = sep + 1;
	}
	items[count] = p;
	if (count < ASN_FIELDS_MAX - 1)
		count++;
	if (n < 0 || n >= count)
		n = 0;
	trim(items[n]);
	snprintf(out, cap, "%s", items[n]);
	return count;
}

int asn_field_width(int field)
{
	if (field < 0)
		field = 0;
	return field_widths[field % ASN_FIELD_COUNT];
}

size_t asn_format(char *out, size_t cap, int field, const char *value)
{
	char esc[ASN_FORMAT_MAX];
	const char *prefix = field == 0 ? "AS" : "";
	int n;

	if (!cap)
		return 0;
	if (cap > ASN_FORMAT_MAX)
		cap = ASN_FORMAT_MAX;
	/* Room for the prefix first, so the cut never falls inside an escape. */
	text_escape(esc, cap - strlen(prefix), value ? value : ASN_UNKNOWN);
	n = snprintf(out, cap, "%s%-*s", prefix, asn_field_width(field), esc);
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static int resolv_line(const char *line, struct addr *out)
{
	char word[ASN_RESOLV_LINE_MAX], value[ASN_RESOLV_LINE_MAX];
	char fmt[32];

	snprintf(fmt, sizeof(fmt), "%%%ds %%%ds", ASN_RESOLV_LINE_MAX - 1, ASN_RESOLV_LINE_MAX - 1);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (sscanf(line, fmt, word, value) != 2)
		return -ENOENT;
#pragma GCC diagnostic pop
	if (strcmp(word, "nameserver"))
		return -ENOENT;
	return addr_parse(value, out) ? -ENOENT : 0;
}

int asn_resolv_parse(const char *text, size_t len, struct addr *out)
{
	char line[ASN_RESOLV_LINE_MAX];
	size_t i = 0;

	while (i < len) {
		size_t n = 0;

		while (i < len && text[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = text[i];
			i++;
		}
		i++;
		line[n] = '\0';
		if (resolv_line(line, out) == 0)
			return 0;
	}
	return -ENOENT;
}

void asn_cache_init(struct asn_cache *c)
{
	c->n = 0;
	c->tick = 0;
}

static struct asn_entry *cache_slot(struct asn_cache *c, const struct addr *addr)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (addr_equal(&c->entries[i].addr, addr))
			return &c->entries[i];
	return NULL;
}

struct asn_entry *asn_cache_find(struct asn_cache *c, const struct addr *addr)
{
	struct asn_entry *e = cache_slot(c, addr);

	if (e)
		e->used = ++c->tick;
	return e;
}

static struct asn_entry *name_slot(struct asn_cache *c, uint32_t asnum)
{
	size_t i;

	for (i = 0; asnum && i < c->n; i++)
		if (!c->entries[i].addr.family && c->entries[i].asnum == asnum)
			return &c->entries[i];
	return NULL;
}

struct asn_entry *asn_cache_find_as(struct asn_cache *c, uint32_t asnum)
{
	struct asn_entry *e = name_slot(c, asnum);

	if (e)
		e->used = ++c->tick;
	return e;
}

/* A fresh PENDING entry, evicting the LRU non-pending one when full; NULL if none. */
static struct asn_entry *cache_take(struct asn_cache *c)
{
	struct asn_entry *e = NULL;
	size_t i;

	if (c->n < ASN_CACHE_MAX) {
		e = &c->entries[c->n++];
	} else {
		/* A pending entry stays: its answer has to find it. */
		for (i = 0; i < c->n; i++) {
			struct asn_entry *x = &c->entries[i];

			if (x->state != ASN_STATE_PENDING && (!e || x->used < e->used))
				e = x;
		}
		if (!e)
			return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->state = ASN_STATE_PENDING;
	e->used = ++c->tick;
	return e;
}

struct asn_entry *asn_cache_add(struct asn_cache *c, const struct addr *addr)
{
	struct asn_entry *e = cache_take(c);

	if (!e)
		return NULL;
	e->addr.family = addr->family;
	if (addr->family == AF_INET)
		e->addr.u.v4 = addr->u.v4;
	else
		e->addr.u.v6 = addr->u.v6;
	return e;
}

struct asn_entry *asn_cache_add_as(struct asn_cache *c, uint32_t asnum)
{
	struct asn_entry *e = asnum ? cache_take(c) : NULL;

	if (e)
		e->asnum = asnum;
	return e;
}

void asn_cache_answer(struct asn_entry *e, const char *txt, int64_t now_s)
{
	e->stamp_s = now_s;
	e->asked = 0;
	e->txt[0] = '\0';
	if (txt && *txt) {
		snprintf(e->txt, sizeof(e->txt), "%s", txt);
		e->state = ASN_STATE_FOUND;
		return;
	}
	e->state = ASN_STATE_MISSING;
}

int asn_cache_stale(const struct asn_entry *e, int64_t now_s)
{
	return e->state == ASN_STATE_EMPTY ||
	       (e->state == ASN_STATE_MISSING && now_s - e->stamp_s >= ASN_NEGATIVE_TTL_S);
}

const struct diagnose_as *asn_cache_as(struct asn_cache *origins, struct asn_cache *names,
				       const struct addr *addr)
{
	struct asn_entry *e, *ne;
	struct diagnose_as *as;

	if (!origins || !addr || (addr->family != AF_INET && addr->family != AF_INET6))
		return NULL;
	e = cache_slot(origins, addr);
	if (!e || e->state != ASN_STATE_FOUND)
		return NULL;
	as = &e->as;
	memset(as, 0, sizeof(*as));
	if (asn_origin_split(e->txt, &as->asn, as->prefix, sizeof(as->prefix)))
		return NULL;
	ne = names ? name_slot(names, as->asn) : NULL;
	if (ne && ne->state == ASN_STATE_FOUND)
		asn_name_split(ne->txt, as->asn, as->name, sizeof(as->name));
	return as;
}

/* One query out (busy): for an address's origin, or (names) for an AS number's name. */
struct asn_query {
	struct asn *asn;
	int busy;
	struct asn_cache *cache; /* where its entry is */
	struct addr addr;	 /* origin queries */
	uint32_t asnum;		 /* name queries */
	uint16_t id;
	int tries; /* sent so far */
	struct event *timer;
	size_t msglen;
	uint8_t msg[ASN_QUERY_MAX];
	char qname[ASN_QNAME_MAX];
};

/* A report waiting for the AS data of its hops. */
struct asn_waiter {
	struct asn *asn; /* NULL once fired or detached */
	struct asn_waiter *prev, *next;
	struct event *timer;
	asn_wait_fn done;
	void *ctx;
	size_t n;
	struct addr addrs[]; /* n */
};

struct asn {
	struct event_base *base;
	int fd; /* connected to the nameserver */
	struct event *readable;
	struct asn_query queries[ASN_INFLIGHT_MAX];
	struct asn_waiter *waiters;
	int fields_seen;
	int want_names;
	struct asn_cache cache; /* origin records by address */
	struct asn_cache names; /* name records by AS number (want_names only) */
};

static int64_t now_s(void)
{
	return clock_now_us() / CLOCK_US_PER_S;
}

/* The AS number of a found origin entry, 0 when none. */
static uint32_t entry_asnum(const struct asn_entry *e)
{
	uint32_t asnum = 0;

	if (e->state == ASN_STATE_FOUND)
		asn_origin_split(e->txt, &asnum, NULL, 0);
	return asnum;
}

/* Lookups of addrs still out: the origin, or with want_names the AS's name. */
static size_t count_pending(struct asn *a, const struct addr *addrs, size_t n)
{
	size_t i, pending = 0;

	for (i = 0; i < n; i++) {
		const struct asn_entry *e, *ne;

		if (addrs[i].family != AF_INET && addrs[i].family != AF_INET6)
			continue;
		e = cache_slot(&a->cache, &addrs[i]);
		if (!e)
			continue;
		if (e->state == ASN_STATE_PENDING) {
			pending++;
			continue;
		}
		if (!a->want_names)
			continue;
		ne = name_slot(&a->names, entry_asnum(e));
		pending += ne && ne->state == ASN_STATE_PENDING;
	}
	return pending;
}

static void waiter_unlink(struct asn_waiter *w)
{
	if (!w->asn)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->asn->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->asn = NULL;
	w->prev = w->next = NULL;
}

static void waiter_fire(struct asn_waiter *w, size_t pending)
{
	waiter_unlink(w);
	evtimer_del(w->timer);
	w->done(w->ctx, pending);
}

/* A callback may free any waiter: start over after each one fires. */
static void check_waiters(struct asn *a)
{
	struct asn_waiter *w;
	int again = 1;

	while (again) {
		again = 0;
		for (w = a->waiters; w; w = w->next) {
			if (!count_pending(a, w->addrs, w->n)) {
				waiter_fire(w, 0);
				again = 1;
				break;
			}
		}
	}
}

static void query_send(struct asn_query *q)
{
	struct timeval tv = clock_tv_of_us(ASN_TIMEOUT_US);

	q->tries++;
	/* A send that fails is a try lost like a datagram lost: the timer retries it. */
	if (send(q->asn->fd, q->msg, q->msglen, 0) < 0)
		log_debug("AS lookup: cannot send: %s", strerror(errno));
	evtimer_add(q->timer, &tv);
}

static void pump(struct asn *a);

/*
 * Queue the lookup of asnum's name unless its entry is there and fresh; no query is
 * sent here (pump() does). 1 when queued; 0 also when the names cache is all pending
 * (asked again on a later call).
 */
static int name_want(struct asn *a, uint32_t asnum)
{
	struct asn_entry *e;

	if (!asnum)
		return 0;
	e = asn_cache_find_as(&a->names, asnum);
	if (e && !asn_cache_stale(e, now_s()))
		return 0;
	if (!e)
		e = asn_cache_add_as(&a->names, asnum);
	if (!e)
		return 0;
	e->state = ASN_STATE_PENDING;
	e->asked = 0;
	return 1;
}

/* The query's answer (txt, or NULL for none) goes to the cache; its slot is freed. */
static void query_done(struct asn_query *q, const char *txt)
{
	struct asn *a = q->asn;
	struct asn_entry *e = q->cache == &a->names ? name_slot(q->cache, q->asnum)
						    : cache_slot(q->cache, &q->addr);

	evtimer_del(q->timer);
	if (e) {
		asn_cache_answer(e, txt, now_s());
		if (e->state == ASN_STATE_FOUND && q->cache == &a->cache) {
			char field[2];
			int n = asn_field(e->txt, 0, field, sizeof(field));

			if (n > a->fields_seen)
				a->fields_seen = n;
			/* Before the waiters look: the name is part of what they wait for. */
			if (a->want_names)
				name_want(a, entry_asnum(e));
		}
	}
	q->busy = 0;
	memset(&q->addr, 0, sizeof(q->addr));
	q->asnum = 0;
	pump(a);
	check_waiters(a);
}

static void on_query_timer(evutil_socket_t fd, short what, void *arg)
{
	struct asn_query *q = arg;

	(void)fd;
	(void)what;
	if (q->tries <= ASN_RETRIES) {
		query_send(q);
		return;
	}
	log_debug("AS lookup of %s: no answer", q->qname);
	query_done(q, NULL);
}

static uint16_t fresh_id(const struct asn *a)
{
	uint16_t id;
	size_t i;
	int clash;

	do {
		evutil_secure_rng_get_bytes(&id, sizeof(id));
		clash = 0;
		for (i = 0; i < ASN_INFLIGHT_MAX; i++)
			clash |= a->queries[i].busy && a->queries[i].id == id;
	} while (clash);
	return id;
}

static int query_start(struct asn *a, struct asn_query *q, struct asn_cache *c, struct asn_entry *e)
{
	int n;

	if (e->addr.family)
		n = asn_qname(&e->addr, q->qname, sizeof(q->qname));
	else
		n = asn_name_qname(e->asnum, q->qname, sizeof(q->qname));
	if (n < 0)
		return n;
	q->id = fresh_id(a);
	n = asn_query_build(q->msg, sizeof(q->msg), q->id, q->qname);
	if (n < 0)
		return n;
	q->msglen = (size_t)n;
	q->cache = c;
	q->addr = e->addr;
	q->asnum = e->asnum;
	q->busy = 1;
	q->tries = 0;
	e->asked = 1;
	query_send(q);
	return 0;
}

/* Queued lookups take the free slots, oldest entry first; origins before names. */
static void pump(struct asn *a)
{
	struct asn_cache *caches[] = {&a->cache, &a->names};
	size_t i, k, s = 0;

	for (k = 0; k < sizeof(caches) / sizeof(caches[0]); k++) {
		struct asn_cache *c = caches[k];

		for (i = 0; i < c->n; i++) {
			struct asn_entry *e = &c->entries[i];

			if (e->state != ASN_STATE_PENDING || e->asked)
				continue;
			while (s < ASN_INFLIGHT_MAX && a->queries[s].busy)
				s++;
			if (s == ASN_INFLIGHT_MAX)
				return;
			if (query_start(a, &a->queries[s], c, e))
				asn_cache_answer(e, NULL, now_s());
		}
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct asn *a = arg;
	uint8_t msg[ASN_MSG_MAX];
	char txt[ASN_TXT_MAX + 1];
	int burst;

	(void)what;
	for (burst = 0; burst < ASN_RECV_BURST; burst++) {
		ssize_t len = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);
		size_t i;

		if (len < 0)
			return; /* EAGAIN, or an ICMP error for a query: its timer deals */
		for (i = 0; i < ASN_INFLIGHT_MAX; i++) {
			struct asn_query *q = &a->queries[i];
			int rc;

			if (!q->busy)
				continue;
			rc = asn_parse(msg, (size_t)len, q->id, q->qname, txt, sizeof(txt));
			if (rc == -ENOMSG)
				continue;
			if (rc < 0)
				log_debug("AS lookup of %s: bad answer (%s)", q->qname,
					  strerror(-rc));
			query_done(q, rc == 0 ? txt : NULL);
			break;
		}
	}
}

static int read_nameserver(const char *path, struct addr *ns)
{
	char *text;
	size_t len;
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	text = malloc(ASN_RESOLV_FILE_MAX);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(text, 1, ASN_RESOLV_FILE_MAX, f);
	fclose(f);
	rc = asn_resolv_parse(text, len, ns);
	free(text);
	return rc;
}

static int open_socket(const struct addr *ns)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (ns->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(DNS_PORT);
		s4->sin_addr = ns->u.v4;
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(DNS_PORT);
		s6->sin6_addr = ns->u.v6;
		sl = sizeof(*s6);
	}
	fd = socket(ns->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Connected: the kernel drops datagrams from anyone but the nameserver. */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int asn_new(struct asn **out, struct event_base *base, const char *resolv_conf)
{
	struct addr ns;
	struct asn *a;
	size_t i;
	int rc;

	*out = NULL;
	if (!resolv_conf || !*resolv_conf)
		resolv_conf = ASN_RESOLV_DEFAULT;
	rc = read_nameserver(resolv_conf, &ns);
	if (rc)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->base = base;
	asn_cache_init(&a->cache);
	asn_cache_init(&a->names);
	a->fd = open_socket(&ns);
	if (a->fd < 0) {
		rc = a->fd;
		free(a);
		return rc;
	}
	a->readable = event_new(base, a->fd, EV_READ | EV_PERSIST, on_readable, a);
	rc = a->readable ? event_add(a->readable, NULL) : -1;
	for (i = 0; !rc && i < ASN_INFLIGHT_MAX; i++) {
		a->queries[i].asn = a;
		a->queries[i].timer = evtimer_new(base, on_query_timer, &a->queries[i]);
		if (!a->queries[i].timer)
			rc = -1;
	}
	if (rc) {
		asn_free(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

struct asn *asn_free(struct asn *a)
{
	size_t i;

	if (!a)
		return NULL;
	while (a->waiters)
		waiter_unlink(a->waiters);
	for (i = ASN_INFLIGHT_MAX; i-- > 0;)
		if (a->queries[i].timer)
			event_free(a->queries[i].timer);
	if (a->readable)
		event_free(a->readable);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	return NULL;
}

const char *asn_lookup(struct asn *a, const struct addr *addr)
{
	struct asn_entry *e;

	if (!a || !addr || (addr->family != AF_INET && addr->family != AF_INET6))
		return NULL;
	e = asn_cache_find(&a->cache, addr);
	if (e && e->state == ASN_STATE_FOUND) {
		if (a->want_names && name_want(a, entry_asnum(e)))
			pump(a);
		return e->txt;
	}
	if (e && e->state == ASN_STATE_PENDING)
		return NULL;
	if (e && !asn_cache_stale(e, now_s()))
		return NULL;
	if (!e)
		e = asn_cache_add(&a->cache, addr);
	if (!e)
		return NULL; /* every slot waits for an answer: asked again on a later call */
	e->state = ASN_STATE_PENDING;
	e->asked = 0;
	pump(a);
	return NULL;
}

void asn_want_names(struct asn *a, int on)
{
	if (a)
		a->want_names = !!on;
}

const struct diagnose_as *asn_diagnose_as(void *asn, const struct addr *addr)
{
	struct asn *a = asn;

	return a ? asn_cache_as(&a->cache, &a->names, addr) : NULL;
}

int asn_fields_seen(const struct asn *a)
{
	return a ? a->fields_seen : 0;
}

static void on_wait_timer(evutil_socket_t fd, short what, void *arg)
{
	struct asn_waiter *w = arg;

	(void)fd;
	(void)what;
	if (w->asn)
		waiter_fire(w, count_pending(w->asn, w->addrs, w->n));
}

int asn_wait(struct asn *a, const struct addr *addrs, size_t n, int64_t timeout_us,
	     asn_wait_fn done, void *ctx, struct asn_waiter **out)
{
	struct asn_waiter *w;
	struct timeval tv;
	size_t i;

	*out = NULL;
	if (!done || n > ASN_WAIT_MAX)
		return -EINVAL;
	if (!a)
		return ASN_WAIT_NONE;
	for (i = 0; i < n; i++)
		asn_lookup(a, &addrs[i]);
	if (!count_pending(a, addrs, n))
		return ASN_WAIT_NONE;
	w = calloc(1, sizeof(*w) + n * sizeof(w->addrs[0]));
	if (!w)
		return -ENOMEM;
	w->timer = evtimer_new(a->base, on_wait_timer, w);
	if (!w->timer) {
		free(w);
		return -ENOMEM;
	}
	memcpy(w->addrs, addrs, n * sizeof(*addrs));
	w->n = n;
	w->done = done;
	w->ctx = ctx;
	w->asn = a;
	w->next = a->waiters;
	if (w->next)
		w->next->prev = w;
	a->waiters = w;
	tv = clock_tv_of_us(timeout_us);
	evtimer_add(w->timer, &tv);
	*out = w;
	return 0;
}

struct asn_waiter *asn_waiter_free(struct asn_waiter *w)
{
	if (!w)
		return NULL;
	waiter_unlink(w);
	event_free(w->timer);
	free(w);
	return NULL;
}
