/*
 * fuzz_asn: libFuzzer target for the AS lookup's parser, which reads datagrams anyone on
 * the path to the nameserver can forge. The input is an answer to one of two fixed
 * queries, an address's origin or an AS's name; whatever the parser accepts must be
 * bounded text that splits into fields and formats into a column of mtr's size with
 * nothing unprintable left, and whose AS number, prefix and name (the diagnosis's view)
 * are bounded, printable and consistent; any broken invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/asn.h"

#define FUZZ_QNAME "4.3.2.1.origin.asn.cymru.com"
#define FUZZ_ID	   0x1234
/* The name query: the AS of the corpus's origin records. */
#define FUZZ_ASNUM	64500
#define FUZZ_NAME_QNAME "AS64500.asn.cymru.com"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void check_text(const char *txt)
{
	char field[ASN_TXT_MAX + 1], col[ASN_FORMAT_MAX];
	size_t i, len;
	int n, f;

	CHECK(strlen(txt) <= ASN_TXT_MAX);
	for (f = 0; f <= ASN_FIELD_COUNT; f++) {
		n = asn_field(txt, f, field, sizeof(field));
		CHECK(n >= 1 && n < ASN_FIELDS_MAX);
		CHECK(strlen(field) <= strlen(txt));
		len = asn_format(col, sizeof(col), f, field);
		CHECK(len == strlen(col) && len < ASN_FORMAT_MAX);
		for (i = 0; i < len; i++)
			CHECK(col[i] >= ' ' && col[i] < 0x7f);
	}
}

static void check_printable(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	CHECK(len <= max);
	for (i = 0; i < len; i++)
		CHECK(s[i] >= ' ' && s[i] < 0x7f);
}

/* The diagnosis's reading of a record, as an origin and as a name record. */
static void check_as(const char *txt)
{
	char prefix[DIAGNOSE_AS_PREFIX_MAX + 1], name[DIAGNOSE_AS_NAME_MAX + 1], small[4];
	uint32_t asnum;
	int rc;

	rc = asn_origin_split(txt, &asnum, prefix, sizeof(prefix));
	CHECK(rc == 0 || rc == -ENOENT);
	CHECK(rc ? asnum == 0 && !prefix[0] : asnum != 0);
	check_printable(prefix, DIAGNOSE_AS_PREFIX_MAX);
	rc = asn_name_split(txt, FUZZ_ASNUM, name, sizeof(name));
	CHECK(rc == 0 || rc == -ENOENT);
	CHECK(rc ? !name[0] : name[0] != '\0');
	check_printable(name, DIAGNOSE_AS_NAME_MAX);
	/* Any AS the record names: the same answer whichever asks. */
	if (!asn_origin_split(txt, &asnum, NULL, 0)) {
		rc = asn_name_split(txt, asnum, name, sizeof(name));
		CHECK(rc == 0 || rc == -ENOENT);
		check_printable(name, DIAGNOSE_AS_NAME_MAX);
	}
	memset(small, 'z', sizeof(small));
	if (!asn_name_split(txt, FUZZ_ASNUM, small, sizeof(small)))
		CHECK(strlen(small) < sizeof(small));
}

static void one_query(const uint8_t *msg, size_t size, const char *qname)
{
	char txt[ASN_TXT_MAX + 1];
	int rc;

	rc = asn_parse(msg, size, FUZZ_ID, qname, txt, sizeof(txt));
	CHECK(rc == 0 || rc == ASN_PARSE_NONE || rc == ASN_PARSE_FAIL || rc == -ENOMSG ||
	      rc == -EBADMSG);
	if (rc == 0) {
		check_text(txt);
		check_as(txt);
	}
	/* A small output buffer must still be terminated and respected. */
	memset(txt, 'z', sizeof(txt));
	rc = asn_parse(msg, size, FUZZ_ID, qname, txt, 4);
	if (rc == 0)
		CHECK(strlen(txt) < 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t copy[ASN_MSG_MAX];

	/* The client reads ASN_MSG_MAX bytes at most: a longer datagram arrives cut. */
	if (size > sizeof(copy))
		size = sizeof(copy);
	memcpy(copy, data, size);
	/* An answer matches one question at most; both parsers see every input. */
	one_query(copy, size, FUZZ_QNAME);
	one_query(copy, size, FUZZ_NAME_QNAME);
	return 0;
}
