/*
 * fuzz_asn: libFuzzer target for the AS lookup's parser, which reads datagrams anyone on
 * the path to the nameserver can forge. The input is an answer to a fixed query; whatever
 * the parser accepts must be bounded text that splits into fields and formats into a
 * column of mtr's size with nothing unprintable left; any broken invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/asn.h"

#define FUZZ_QNAME "4.3.2.1.origin.asn.cymru.com"
#define FUZZ_ID	   0x1234

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char txt[ASN_TXT_MAX + 1];
	uint8_t copy[ASN_MSG_MAX];
	int rc;

	/* The client reads ASN_MSG_MAX bytes at most: a longer datagram arrives cut. */
	if (size > sizeof(copy))
		size = sizeof(copy);
	memcpy(copy, data, size);
	rc = asn_parse(copy, size, FUZZ_ID, FUZZ_QNAME, txt, sizeof(txt));
	CHECK(rc == 0 || rc == ASN_PARSE_NONE || rc == ASN_PARSE_FAIL || rc == -ENOMSG ||
	      rc == -EBADMSG);
	if (rc == 0)
		check_text(txt);
	/* A small output buffer must still be terminated and respected. */
	memset(txt, 'z', sizeof(txt));
	rc = asn_parse(copy, size, FUZZ_ID, FUZZ_QNAME, txt, 4);
	if (rc == 0)
		CHECK(strlen(txt) < 4);
	return 0;
}
