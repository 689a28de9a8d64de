/*
 * test_asn: the pure parts of the AS lookup: query names (mtr 0.95's, IPv6 by its /64),
 * the query message, the parser on good, truncated, compressed and hostile answers, mtr's
 * field splitting and column format (escaped, bounded), resolv.conf, and the cache's
 * bounds (LRU eviction sparing pending entries, negative entries that expire); the AS
 * name records (query name, parser, splitter on hostile text) and the diagnosis's view
 * of both caches (asn_cache_as).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/asn.h"

#define QNAME "4.3.2.1.origin.asn.cymru.com"
#define ID    0x1234
#define MSG   1024

static struct addr v4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static struct addr v6(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
	return a;
}

/* An answer message: the query, QR|RD|RA with rcode, then rrs (raw bytes) as ancount. */
static size_t answer(uint8_t *m, unsigned int rcode, unsigned int ancount, const void *rrs,
		     size_t rrlen)
{
	int n = asn_query_build(m, MSG, ID, QNAME);

	assert_true(n > 0);
	m[2] = 0x81;
	m[3] = (uint8_t)(0x80 | rcode);
	m[6] = (uint8_t)(ancount >> 8);
	m[7] = (uint8_t)ancount;
	memcpy(m + n, rrs, rrlen);
	return (size_t)n + rrlen;
}

/* A TXT rr whose owner is a pointer to the question (0xc00c), holding one string. */
static size_t txt_rr(uint8_t *rr, const char *text, size_t len)
{
	static const uint8_t head[] = {0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60};

	memcpy(rr, head, sizeof(head));
	rr[10] = (uint8_t)((len + 1) >> 8);
	rr[11] = (uint8_t)(len + 1);
	rr[12] = (uint8_t)len;
	memcpy(rr + 13, text, len);
	return 13 + len;
}

static void test_qname(void **state)
{
	char buf[ASN_QNAME_MAX];
	struct addr none = {0};
	struct addr a = v4("1.2.3.4");

	(void)state;
	assert_int_equal(asn_qname(&a, buf, sizeof(buf)), (int)strlen(QNAME));
	assert_string_equal(buf, QNAME);
	a = v6("2001:db8:1234:5678:9abc::1");
	assert_true(asn_qname(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "8.7.6.5.4.3.2.1.8.b.d.0.1.0.0.2.origin6.asn.cymru.com");
	assert_int_equal(asn_qname(&none, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(asn_qname(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(asn_qname(&a, buf, 20), -ENOSPC);
}

static void test_query_build(void **state)
{
	static const uint8_t want[] = {0x12, 0x34, 0x01, 0x00, 0,   1,	 0, 0, 0,  0, 0,
				       0,    1,	   'a',	 2,    'b', 'c', 0, 0, 16, 0, 1};
	char label[70];
	uint8_t m[MSG];

	(void)state;
	assert_int_equal(asn_query_build(m, sizeof(m), ID, "a.bc"), (int)sizeof(want));
	assert_memory_equal(m, want, sizeof(want));
	assert_int_equal(asn_query_build(m, sizeof(m), ID, "a..b"), -EINVAL);
	assert_int_equal(asn_query_build(m, sizeof(m), ID, ""), -EINVAL);
	memset(label, 'x', 64);
	label[64] = '\0';
	assert_int_equal(asn_query_build(m, sizeof(m), ID, label), -EINVAL);
	assert_int_equal(asn_query_build(m, 20, ID, "a.bc"), -ENOSPC);
	/* A query parses as no answer to itself: QR is not set. */
	assert_true(asn_query_build(m, sizeof(m), ID, QNAME) > 0);
}

static void test_parse_good(void **state)
{
	uint8_t m[MSG], rr[600];
	char txt[ASN_TXT_MAX + 1];
	const char *rec = "64500 | 192.0.2.0/24 | ZZ | arin | 2000-01-01";
	size_t len = answer(m, 0, 1, rr, txt_rr(rr, rec, strlen(rec)));

	(void)state;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), 0);
	assert_string_equal(txt, rec);
	/* The question is matched case-blind (0x20 randomization by servers). */
	assert_int_equal(asn_parse(m, len, ID, "4.3.2.1.ORIGIN.asn.Cymru.com", txt, sizeof(txt)),
			 0);
	/* Not ours: another id, another name, not a response. */
	assert_int_equal(asn_parse(m, len, ID + 1, QNAME, txt, sizeof(txt)), -ENOMSG);
	assert_int_equal(asn_parse(m, len, ID, "5.3.2.1.origin.asn.cymru.com", txt, sizeof(txt)),
			 -ENOMSG);
	m[2] &= 0x7f;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -ENOMSG);
	m[2] |= 0x80;
	/* A small buffer: cut, terminated. */
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, 6), 0);
	assert_string_equal(txt, "64500");
}

static void test_parse_outcomes(void **state)
{
	static const uint8_t cname[] = {0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x0c};
	uint8_t m[MSG], rr[600];
	char txt[ASN_TXT_MAX + 1];
	size_t len, n;

	(void)state;
	len = answer(m, 3, 0, NULL, 0);
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), ASN_PARSE_NONE);
	len = answer(m, 2, 0, NULL, 0);
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), ASN_PARSE_FAIL);
	len = answer(m, 0, 0, NULL, 0);
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), ASN_PARSE_NONE);
	/* An empty string is no record. */
	len = answer(m, 0, 1, rr, txt_rr(rr, "", 0));
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), ASN_PARSE_NONE);
	/* A CNAME first (its rdata compressed too), then the TXT. */
	memcpy(rr, cname, sizeof(cname));
	n = txt_rr(rr + sizeof(cname), "64501", 5);
	len = answer(m, 0, 2, rr, sizeof(cname) + n);
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), 0);
	assert_string_equal(txt, "64501");
}

static void test_parse_truncated(void **state)
{
	uint8_t m[MSG], rr[600];
	char txt[ASN_TXT_MAX + 1];
	size_t len = answer(m, 0, 1, rr, txt_rr(rr, "64500 | x", 9)), cut;

	(void)state;
	for (cut = 0; cut < len; cut++) {
		int rc = asn_parse(m, cut, ID, QNAME, txt, sizeof(txt));

		assert_true(rc < 0);
		assert_true(rc == -EBADMSG || rc == -ENOMSG);
	}
	/* A string longer than its rdata. */
	m[len - 10] = 200;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -EBADMSG);
}

static void test_parse_hostile(void **state)
{
	uint8_t m[MSG], rr[600], raw[255];
	char txt[ASN_TXT_MAX + 1];
	size_t len, q;
	int rc;

	(void)state;
	/* Overlong: mtr keeps 127 bytes. A NUL must not cut the text short unseen. */
	memset(raw, 'A', sizeof(raw));
	raw[3] = '\0';
	len = answer(m, 0, 1, rr, txt_rr(rr, (const char *)raw, sizeof(raw)));
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), 0);
	assert_int_equal(strlen(txt), ASN_TXT_MAX);
	assert_int_equal(txt[3], '?');
	/* A pointer to itself, one forward, one into the header: refused, no loop. */
	len = answer(m, 0, 1, rr, txt_rr(rr, "x", 1));
	q = len - 14; /* the rr's owner name */
	m[q] = 0xc0;
	m[q + 1] = (uint8_t)q;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -EBADMSG);
	m[q + 1] = (uint8_t)(q + 4);
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -EBADMSG);
	/* Reserved label types (0x40, 0x80). */
	m[q] = 0x40;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -EBADMSG);
	/* A huge ancount over a short message. */
	len = answer(m, 0, 0xffff, rr, txt_rr(rr, "x", 1));
	m[len - 1 - 13 + 3] = 1; /* type A, not TXT: every rr is walked */
	rc = asn_parse(m, len, ID, QNAME, txt, sizeof(txt));
	assert_int_equal(rc, -EBADMSG);
	/* Two questions: not an answer to ours. */
	len = answer(m, 0, 1, rr, txt_rr(rr, "x", 1));
	m[5] = 2;
	assert_int_equal(asn_parse(m, len, ID, QNAME, txt, sizeof(txt)), -ENOMSG);
}

static void test_field(void **state)
{
	const char *rec = "64500 | 192.0.2.0/24 | ZZ | arin | 2000-01-01";
	static const char *const want[] = {"64500", "192.0.2.0/24", "ZZ", "arin", "2000-01-01"};
	char out[ASN_TXT_MAX + 1], many[64];
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(asn_field(rec, i, out, sizeof(out)), 5);
		assert_string_equal(out, want[i]);
	}
	/* Past the last field: field 0, as mtr. */
	assert_int_equal(asn_field("64500 | x", 3, out, sizeof(out)), 2);
	assert_string_equal(out, "64500");
	assert_int_equal(asn_field("  lone  ", 0, out, sizeof(out)), 1);
	assert_string_equal(out, "lone");
	assert_int_equal(asn_field("a||b", 1, out, sizeof(out)), 3);
	assert_string_equal(out, "");
	/* At most mtr's 15 fields; the last keeps the rest. */
	memset(many, '|', 30);
	many[30] = '\0';
	assert_int_equal(asn_field(many, 4, out, sizeof(out)), ASN_FIELDS_MAX - 1);
	assert_int_equal(asn_field(rec, 0, out, 3), 5);
	assert_string_equal(out, "64");
}

static void test_format(void **state)
{
	char out[ASN_FORMAT_MAX], big[300];

	(void)state;
	assert_int_equal(asn_format(out, sizeof(out), 0, "64500"), 9);
	assert_string_equal(out, "AS64500  ");
	asn_format(out, sizeof(out), 0, NULL);
	assert_string_equal(out, "AS???    ");
	asn_format(out, sizeof(out), 1, "192.0.2.0/24");
	assert_string_equal(out, "192.0.2.0/24       ");
	asn_format(out, sizeof(out), 2, "ZZ");
	assert_string_equal(out, "ZZ  ");
	asn_format(out, sizeof(out), 3, "arin");
	assert_string_equal(out, "arin    ");
	asn_format(out, sizeof(out), 4, "2000-01-01");
	assert_string_equal(out, "2000-01-01 ");
	/* Hostile bytes are escaped; the column never passes mtr's 127 characters. */
	asn_format(out, sizeof(out), 0, "6\x1b[2J\\");
	assert_string_equal(out, "AS6\\x1b[2J\\\\");
	memset(big, 0x07, sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(asn_format(out, sizeof(out), 0, big), 2 + 4 * 31);
	assert_memory_equal(out + 2 + 4 * 30, "\\x07", 4);
	memset(big, 'A', sizeof(big) - 1);
	assert_int_equal(asn_format(out, sizeof(out), 1, big), ASN_FORMAT_MAX - 1);
	assert_int_equal(asn_format(out, 5, 0, "64500"), 4);
	assert_string_equal(out, "AS64");
	assert_int_equal(asn_field_width(0), 7);
	assert_int_equal(asn_field_width(5), 7);
}

static void test_resolv(void **state)
{
	const char *conf = "# comment\nsearch example\n\nnameserver bogus\n"
			   "nameserver   192.0.2.53\nnameserver 192.0.2.54\n";
	struct addr a;

	(void)state;
	assert_int_equal(asn_resolv_parse(conf, strlen(conf), &a), 0);
	assert_true(addr_equal(&a, &(struct addr){0}) == 0);
	{
		struct addr w = v4("192.0.2.53");

		assert_true(addr_equal(&a, &w));
	}
	assert_int_equal(asn_resolv_parse("nameserver 2001:db8::53", 23, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(asn_resolv_parse("options ndots:2\n", 16, &a), -ENOENT);
	assert_int_equal(asn_resolv_parse("", 0, &a), -ENOENT);
}

static void test_cache(void **state)
{
	struct asn_cache *c = calloc(1, sizeof(*c));
	struct asn_entry *e, *first;
	struct addr a = v4("192.0.2.1");
	size_t i;

	(void)state;
	assert_non_null(c);
	asn_cache_init(c);
	first = asn_cache_add(c, &a);
	assert_non_null(first);
	assert_int_equal(first->state, ASN_STATE_PENDING);
	asn_cache_answer(first, "64500 | x", 100);
	assert_int_equal(first->state, ASN_STATE_FOUND);
	assert_false(asn_cache_stale(first, 100 + 10 * ASN_NEGATIVE_TTL_S));
	/* Negative answers are kept, and asked again only after their time. */
	for (i = 1; i < ASN_CACHE_MAX; i++) {
		struct addr b = v4("10.0.0.0");

		b.u.v4.s_addr = htonl(0x0a000000u + (uint32_t)i);
		e = asn_cache_add(c, &b);
		assert_non_null(e);
		asn_cache_answer(e, i % 2 ? NULL : "", 100);
		assert_int_equal(e->state, ASN_STATE_MISSING);
		assert_false(asn_cache_stale(e, 100 + ASN_NEGATIVE_TTL_S - 1));
		assert_true(asn_cache_stale(e, 100 + ASN_NEGATIVE_TTL_S));
	}
	assert_int_equal(c->n, ASN_CACHE_MAX);
	/* Full: the least recently used goes, not the one just looked up. */
	assert_ptr_equal(asn_cache_find(c, &a), first);
	{
		struct addr n = v4("198.51.100.1"), second = v4("10.0.0.1");

		e = asn_cache_add(c, &n);
		assert_non_null(e);
		assert_int_equal(c->n, ASN_CACHE_MAX);
		assert_null(asn_cache_find(c, &second));
		assert_non_null(asn_cache_find(c, &a));
	}
	/* Every slot pending: nothing is evicted, the add fails. */
	for (i = 0; i < c->n; i++)
		c->entries[i].state = ASN_STATE_PENDING;
	{
		struct addr n = v4("198.51.100.2");

		assert_null(asn_cache_add(c, &n));
	}
	/* A record is bounded on the way in. */
	{
		char big[ASN_TXT_MAX * 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		asn_cache_answer(first, big, 1);
		assert_int_equal(strlen(first->txt), ASN_TXT_MAX);
	}
	free(c);
}

static void test_name_qname(void **state)
{
	char buf[ASN_QNAME_MAX];

	(void)state;
	assert_int_equal(asn_name_qname(64500, buf, sizeof(buf)), 21);
	assert_string_equal(buf, "AS64500.asn.cymru.com");
	assert_true(asn_name_qname(UINT32_MAX, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "AS4294967295.asn.cymru.com");
	assert_int_equal(asn_name_qname(0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(asn_name_qname(64500, buf, 21), -ENOSPC);
	assert_int_equal(asn_name_qname(64500, NULL, 0), -EINVAL);
}

/* A name record comes in the same TXT answer as an origin record, to its own question. */
static void test_name_parse(void **state)
{
	const char *rec = "64500 | ZZ | arin | 2001-01-01 | EXAMPLE-CARRIER, ZZ";
	const char *q = "AS64500.asn.cymru.com";
	uint8_t m[MSG], rr[600];
	char txt[ASN_TXT_MAX + 1], name[DIAGNOSE_AS_NAME_MAX + 1];
	size_t n, len;

	(void)state;
	n = (size_t)asn_query_build(m, MSG, ID, q);
	m[2] = 0x81;
	m[3] = 0x80;
	m[7] = 1;
	len = txt_rr(rr, rec, strlen(rec));
	memcpy(m + n, rr, len);
	assert_int_equal(asn_parse(m, n + len, ID, q, txt, sizeof(txt)), 0);
	assert_string_equal(txt, rec);
	/* Not the answer to an origin question, nor to another AS's. */
	assert_int_equal(asn_parse(m, n + len, ID, QNAME, txt, sizeof(txt)), -ENOMSG);
	assert_int_equal(asn_parse(m, n + len, ID, "AS64501.asn.cymru.com", txt, sizeof(txt)),
			 -ENOMSG);
	assert_int_equal(asn_parse(m, n + len, ID, q, txt, sizeof(txt)), 0);
	assert_int_equal(asn_name_split(txt, 64500, name, sizeof(name)), 0);
	assert_string_equal(name, "EXAMPLE-CARRIER");
}

static void test_name_split(void **state)
{
	char name[DIAGNOSE_AS_NAME_MAX + 1], big[ASN_TXT_MAX + 1], small[6];

	(void)state;
	/* Cymru's own example: spaces inside the name stay, the country goes. */
	assert_int_equal(asn_name_split("23028 | US | arin | 2002-01-04 | TEAMCYMRU - SAUNET, US",
					23028, name, sizeof(name)),
			 0);
	assert_string_equal(name, "TEAMCYMRU - SAUNET");
	/* A trailing part that is not the record's country is part of the name. */
	assert_int_equal(
		asn_name_split("64500 | ZZ | arin | x | ACME, INC", 64500, name, sizeof(name)), 0);
	assert_string_equal(name, "ACME, INC");
	assert_int_equal(
		asn_name_split("64500 | US | arin | x | NAMEUS", 64500, name, sizeof(name)), 0);
	assert_string_equal(name, "NAMEUS");
	assert_int_equal(asn_name_split("64500|zz|arin|x|  LOWER ,zz  ", 64500, name, sizeof(name)),
			 0);
	assert_string_equal(name, "LOWER");
	/* Another AS's record, a number that is not one, too few fields, no name. */
	assert_int_equal(
		asn_name_split("64501 | ZZ | arin | x | OTHER, ZZ", 64500, name, sizeof(name)),
		-ENOENT);
	assert_string_equal(name, "");
	assert_int_equal(asn_name_split("AS64500 | ZZ | arin | x | N", 64500, name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(asn_name_split("64500x | ZZ | arin | x | N", 64500, name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(asn_name_split("64500 | ZZ | arin | x", 64500, name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(asn_name_split("64500 | ZZ | arin | x |   ", 64500, name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(asn_name_split("64500 | ZZ | arin | x | , ZZ", 64500, name, sizeof(name)),
			 -ENOENT);
	assert_int_equal(asn_name_split("", 64500, name, sizeof(name)), -ENOENT);
	assert_int_equal(asn_name_split(NULL, 64500, name, sizeof(name)), -ENOENT);
	assert_int_equal(asn_name_split("0 | ZZ | a | x | N", 0, name, sizeof(name)), -ENOENT);
	/* Control and 8-bit bytes never reach the name; quotes are text. */
	assert_int_equal(asn_name_split("64500 | ZZ | a | x | EV\x1b[2JIL\x07 \"Q\"\xff, ZZ", 64500,
					name, sizeof(name)),
			 0);
	assert_string_equal(name, "EV?[2JIL? \"Q\"?");
	/* Bounded by the caller's buffer. */
	snprintf(big, sizeof(big), "64500 | ZZ | a | x | %0100d", 7);
	assert_int_equal(asn_name_split(big, 64500, name, sizeof(name)), 0);
	assert_int_equal(strlen(name), DIAGNOSE_AS_NAME_MAX);
	assert_int_equal(
		asn_name_split("64500 | ZZ | a | x | ABCDEFGH", 64500, small, sizeof(small)), 0);
	assert_string_equal(small, "ABCDE");
}

static void test_origin_split(void **state)
{
	char prefix[DIAGNOSE_AS_PREFIX_MAX + 1];
	uint32_t asnum = 7;

	(void)state;
	assert_int_equal(asn_origin_split("64500 | 198.51.100.0/30 | ZZ | arin | 2001-01-01",
					  &asnum, prefix, sizeof(prefix)),
			 0);
	assert_int_equal(asnum, 64500);
	assert_string_equal(prefix, "198.51.100.0/30");
	/* A prefix several ASes announce: the first origin. */
	assert_int_equal(asn_origin_split("64501 64502 | 2001:db8::/32 | ZZ", &asnum, prefix,
					  sizeof(prefix)),
			 0);
	assert_int_equal(asnum, 64501);
	assert_string_equal(prefix, "2001:db8::/32");
	assert_int_equal(asn_origin_split("4294967295 | x", &asnum, prefix, sizeof(prefix)), 0);
	assert_int_equal(asnum, UINT32_MAX);
	/* A prefix that is not made of address characters is not kept. */
	assert_string_equal(prefix, "");
	assert_int_equal(
		asn_origin_split("64500 | 198.51.100.0/30\x07", &asnum, prefix, sizeof(prefix)), 0);
	assert_string_equal(prefix, "");
	assert_int_equal(asn_origin_split("64500", &asnum, prefix, sizeof(prefix)), 0);
	assert_int_equal(asnum, 64500);
	assert_string_equal(prefix, "");
	/* A prefix longer than the room is dropped, not cut into another prefix. */
	assert_int_equal(asn_origin_split("64500 | 198.51.100.0/30", &asnum, prefix, 8), 0);
	assert_string_equal(prefix, "");
	/* Not AS numbers. */
	assert_int_equal(
		asn_origin_split("4294967296 | 192.0.2.0/24", &asnum, prefix, sizeof(prefix)),
		-ENOENT);
	assert_int_equal(asnum, 0);
	assert_int_equal(asn_origin_split("0 | 192.0.2.0/24", &asnum, prefix, sizeof(prefix)),
			 -ENOENT);
	assert_int_equal(asn_origin_split("645\x1b"
					  "00 | x",
					  &asnum, prefix, sizeof(prefix)),
			 -ENOENT);
	assert_int_equal(asn_origin_split("\"64503\" | x", &asnum, prefix, sizeof(prefix)),
			 -ENOENT);
	assert_int_equal(asn_origin_split("", &asnum, prefix, sizeof(prefix)), -ENOENT);
	assert_int_equal(asn_origin_split("12345678901 | x", &asnum, prefix, sizeof(prefix)),
			 -ENOENT);
	assert_int_equal(asn_origin_split("64500 | x", NULL, prefix, sizeof(prefix)), -EINVAL);
	/* Without room for the prefix, the number alone. */
	assert_int_equal(asn_origin_split("64500 | 192.0.2.0/24", &asnum, NULL, 0), 0);
	assert_int_equal(asnum, 64500);
}

/* What the diagnosis sees: the caches only, each address's data in its own entry. */
static void test_cache_as(void **state)
{
	struct asn_cache *o = calloc(1, sizeof(*o)), *names = calloc(1, sizeof(*names));
	struct addr carrier = v4("198.51.100.2"), dst = v4("203.0.113.1"), bad = v4("198.51.100.6"),
		    pend = v4("198.51.100.10"), gone = v4("198.51.100.14"), none = {0},
		    six = v6("2001:db8:ffff::1");
	const struct diagnose_as *as, *as2;
	struct asn_entry *e;

	(void)state;
	assert_non_null(o);
	assert_non_null(names);
	asn_cache_init(o);
	asn_cache_init(names);
	asn_cache_answer(asn_cache_add(o, &carrier), "64500 | 198.51.100.0/24 | ZZ | arin | x", 1);
	asn_cache_answer(asn_cache_add(o, &dst), "64511 | 203.0.113.0/24 | ZZ | arin | x", 1);
	asn_cache_answer(asn_cache_add(o, &bad), "not-a-number | 198.51.100.0/24", 1);
	assert_non_null(asn_cache_add(o, &pend));
	asn_cache_answer(asn_cache_add(o, &gone), NULL, 1);
	asn_cache_answer(asn_cache_add(o, &six), "64611 | 2001:db8:ffff::/48 | XB | x | y", 1);

	/* An AS without a name yet: number and prefix. */
	as = asn_cache_as(o, names, &carrier);
	assert_non_null(as);
	assert_int_equal(as->asn, 64500);
	assert_string_equal(as->prefix, "198.51.100.0/24");
	assert_string_equal(as->name, "");
	/* A pending name, and then another AS's record, are no name either. */
	e = asn_cache_add_as(names, 64500);
	assert_non_null(e);
	assert_int_equal(e->state, ASN_STATE_PENDING);
	assert_ptr_equal(asn_cache_find_as(names, 64500), e);
	assert_null(asn_cache_find_as(names, 64501));
	assert_null(asn_cache_find(names, &carrier));
	assert_string_equal(asn_cache_as(o, names, &carrier)->name, "");
	asn_cache_answer(e, "64999 | ZZ | arin | x | WRONG, ZZ", 1);
	assert_string_equal(asn_cache_as(o, names, &carrier)->name, "");
	asn_cache_answer(e, "64500 | ZZ | arin | 2001-01-01 | EXAMPLE-CARRIER, ZZ", 1);
	asn_cache_answer(asn_cache_add_as(names, 64511), "64511 | ZZ | x | y | EXAMPLE-DEST, ZZ",
			 1);

	as = asn_cache_as(o, names, &carrier);
	as2 = asn_cache_as(o, names, &dst);
	assert_non_null(as);
	assert_non_null(as2);
	/* Each address has its own storage: the second call leaves the first intact. */
	assert_ptr_not_equal(as, as2);
	assert_int_equal(as->asn, 64500);
	assert_string_equal(as->name, "EXAMPLE-CARRIER");
	assert_string_equal(as->prefix, "198.51.100.0/24");
	assert_int_equal(as2->asn, 64511);
	assert_string_equal(as2->name, "EXAMPLE-DEST");
	assert_string_equal(as2->prefix, "203.0.113.0/24");
	assert_ptr_equal(asn_cache_as(o, names, &carrier), as);
	/* Without a cache of names: the number and prefix still. */
	as = asn_cache_as(o, NULL, &carrier);
	assert_non_null(as);
	assert_int_equal(as->asn, 64500);
	assert_string_equal(as->name, "");
	as = asn_cache_as(o, names, &six);
	assert_non_null(as);
	assert_int_equal(as->asn, 64611);
	assert_string_equal(as->prefix, "2001:db8:ffff::/48");

	/* Unknown: no record with an AS number, still pending, negative, never asked. */
	assert_null(asn_cache_as(o, names, &bad));
	assert_null(asn_cache_as(o, names, &pend));
	assert_null(asn_cache_as(o, names, &gone));
	{
		struct addr never_asked = v4("192.0.2.99");

		assert_null(asn_cache_as(o, names, &never_asked));
	}
	assert_null(asn_cache_as(o, names, &none));
	assert_null(asn_cache_as(o, names, NULL));
	assert_null(asn_cache_as(NULL, names, &carrier));
	/* The adapter with no resolver knows nothing. */
	assert_null(asn_diagnose_as(NULL, &carrier));
	asn_want_names(NULL, 1);
	free(names);
	free(o);
}

static void never(void *ctx, size_t pending)
{
	(void)ctx;
	(void)pending;
	fail();
}

static void test_no_resolver(void **state)
{
	struct asn *a = (struct asn *)1;
	struct addr x = v4("192.0.2.1");
	struct asn_waiter *w;

	(void)state;
	assert_int_equal(asn_new(&a, NULL, "/nonexistent/resolv.conf"), -ENOENT);
	assert_null(a);
	assert_null(asn_lookup(NULL, &x));
	assert_int_equal(asn_fields_seen(NULL), 0);
	assert_null(asn_free(NULL));
	assert_int_equal(asn_wait(NULL, &x, 1, 1, never, NULL, &w), ASN_WAIT_NONE);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qname),		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_parse_good),	cmocka_unit_test(test_parse_outcomes),
		cmocka_unit_test(test_parse_truncated), cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_field),		cmocka_unit_test(test_format),
		cmocka_unit_test(test_resolv),		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_no_resolver),	cmocka_unit_test(test_name_qname),
		cmocka_unit_test(test_name_parse),	cmocka_unit_test(test_name_split),
		cmocka_unit_test(test_origin_split),	cmocka_unit_test(test_cache_as),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
