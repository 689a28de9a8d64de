/*
 * test_dns: the pure parts of the resolver: escaping of untrusted names (control bytes,
 * escape sequences, non-ASCII, backslashes, spaces, length bounds, no half escapes) and
 * the cache (positive and negative entries, expiry of negative ones, LRU eviction that
 * spares pending queries, address equality by family and bytes only). -n: no object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/dns.h"

static struct stats_addr v4(const char *s)
{
	struct stats_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static struct stats_addr v6(const char *s)
{
	struct stats_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
	return a;
}

static void check_escape(const char *in, const char *want)
{
	char out[DNS_ESC_MAX];
	size_t n = dns_escape(in, strlen(in), out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_escape_plain(void **state)
{
	(void)state;
	check_escape("r1.example.net", "r1.example.net");
	check_escape("a-b_c.EXAMPLE", "a-b_c.EXAMPLE");
	check_escape("", "");
}

static void test_escape_hostile(void **state)
{
	(void)state;
	check_escape("evil\x1b[2J.example", "evil\\x1b[2J.example");
	check_escape("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d");
	check_escape("bell\x07", "bell\\x07");
	check_escape("del\x7f", "del\\x7f");
	/* UTF-8 C1 CSI and any byte >= 0x80 */
	check_escape("\xc2\x9b"
		     "31m",
		     "\\xc2\\x9b31m");
	check_escape("\xff", "\\xff");
	check_escape("back\\slash", "back\\\\slash");
	check_escape("two words", "two\\x20words");
}

static void test_escape_stops_at_nul_and_len(void **state)
{
	char out[DNS_ESC_MAX];

	(void)state;
	assert_int_equal(dns_escape("abc\0def", 7, out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(dns_escape("abcdef", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
}

static void test_escape_bounds(void **state)
{
	char in[DNS_NAME_MAX * 2 + 1], out[DNS_ESC_MAX], small[8];
	size_t n;

	(void)state;
	/* At most DNS_NAME_MAX input bytes. */
	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	n = dns_escape(in, strlen(in), out, sizeof(out));
	assert_int_equal(n, DNS_NAME_MAX);
	assert_int_equal(strlen(out), DNS_NAME_MAX);

	/* The worst case fits DNS_ESC_MAX exactly. */
	memset(in, 0x1b, DNS_NAME_MAX);
	in[DNS_NAME_MAX] = '\0';
	n = dns_escape(in, DNS_NAME_MAX, out, sizeof(out));
	assert_int_equal(n, 4 * DNS_NAME_MAX);
	assert_memory_equal(out + n - 4, "\\x1b", 4);

	/* A small buffer: whole escapes only ("ab" + "\x1b" needs 7 bytes with the NUL). */
	n = dns_escape("ab\x1b"
		       "cd",
		       5, small, 6);
	assert_string_equal(small, "ab");
	assert_int_equal(n, 2);
	n = dns_escape("ab\x1b"
		       "cd",
		       5, small, 7);
	assert_string_equal(small, "ab\\x1b");
	n = dns_escape("abc", 3, small, 1);
	assert_string_equal(small, "");
	assert_int_equal(n, 0);
	assert_int_equal(dns_escape("abc", 3, small, 0), 0);
}

static struct dns_cache *new_cache(void)
{
	struct dns_cache *c = malloc(sizeof(*c));

	assert_non_null(c);
	dns_cache_init(c);
	return c;
}

static void test_cache_positive_negative(void **state)
{
	struct dns_cache *c = new_cache();
	struct stats_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct dns_entry *e;

	(void)state;
	assert_null(dns_cache_find(c, &a));
	e = dns_cache_add(c, &a);
	assert_non_null(e);
	assert_int_equal(e->state, DNS_STATE_PENDING);
	assert_ptr_equal(dns_cache_find(c, &a), e);
	assert_null(dns_cache_find(c, &b));
	assert_false(dns_cache_stale(e, 0));

	/* The stored name is the escaped one. */
	dns_cache_answer(e, "evil\x1b[2J.example", 100);
	assert_int_equal(e->state, DNS_STATE_FOUND);
	assert_string_equal(e->name, "evil\\x1b[2J.example");
	assert_false(dns_cache_stale(e, 100 + 10 * DNS_NEGATIVE_TTL_S));

	/* Negative: no name, an empty name; retried once DNS_NEGATIVE_TTL_S has passed. */
	e = dns_cache_add(c, &b);
	dns_cache_answer(e, NULL, 100);
	assert_int_equal(e->state, DNS_STATE_MISSING);
	assert_string_equal(e->name, "");
	assert_false(dns_cache_stale(e, 100));
	assert_false(dns_cache_stale(e, 100 + DNS_NEGATIVE_TTL_S - 1));
	assert_true(dns_cache_stale(e, 100 + DNS_NEGATIVE_TTL_S));
	dns_cache_answer(e, "", 200);
	assert_int_equal(e->state, DNS_STATE_MISSING);
	free(c);
}

static void test_cache_keys(void **state)
{
	struct dns_cache *c = new_cache();
	struct stats_addr a = v4("192.0.2.1"), a2 = v4("192.0.2.1"), six = v6("2001:db8::1");
	struct stats_addr six_v4bytes;
	struct dns_entry *e;

	(void)state;
	/* Bytes past the IPv4 address do not matter. */
	memset(&a2.u.v6.s6_addr[8], 0xaa, 8);
	e = dns_cache_add(c, &a);
	dns_cache_answer(e, "one.example", 1);
	assert_ptr_equal(dns_cache_find(c, &a2), e);

	/* Same leading bytes, other family: another key. */
	memset(&six_v4bytes, 0, sizeof(six_v4bytes));
	six_v4bytes.family = AF_INET6;
	memcpy(&six_v4bytes.u.v6, &a.u.v4, sizeof(a.u.v4));
	assert_null(dns_cache_find(c, &six_v4bytes));
	e = dns_cache_add(c, &six);
	dns_cache_answer(e, "six.example", 1);
	assert_string_equal(dns_cache_find(c, &six)->name, "six.example");
	assert_string_equal(dns_cache_find(c, &a)->name, "one.example");
	free(c);
}

static struct stats_addr nth(size_t i)
{
	struct stats_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::", &a.u.v6), 1);
	a.u.v6.s6_addr[12] = (uint8_t)(i >> 24);
	a.u.v6.s6_addr[13] = (uint8_t)(i >> 16);
	a.u.v6.s6_addr[14] = (uint8_t)(i >> 8);
	a.u.v6.s6_addr[15] = (uint8_t)i;
	return a;
}

static void test_cache_lru_bound(void **state)
{
	struct dns_cache *c = new_cache();
	struct stats_addr a;
	struct dns_entry *e;
	size_t i;

	(void)state;
	for (i = 0; i < DNS_CACHE_MAX; i++) {
		a = nth(i);
		e = dns_cache_add(c, &a);
		assert_non_null(e);
		dns_cache_answer(e, "x.example", 1);
	}
	assert_int_equal(c->n, DNS_CACHE_MAX);
	/* Touch entry 0: entry 1 is now the least recently used. */
	a = nth(0);
	assert_non_null(dns_cache_find(c, &a));
	a = nth(DNS_CACHE_MAX);
	assert_non_null(dns_cache_add(c, &a));
	assert_int_equal(c->n, DNS_CACHE_MAX);
	a = nth(1);
	assert_null(dns_cache_find(c, &a));
	a = nth(0);
	assert_non_null(dns_cache_find(c, &a));
	a = nth(2);
	assert_non_null(dns_cache_find(c, &a));
	a = nth(DNS_CACHE_MAX);
	assert_non_null(dns_cache_find(c, &a));
	free(c);
}

static void test_cache_spares_pending(void **state)
{
	struct dns_cache *c = new_cache();
	struct stats_addr a;
	size_t i;

	(void)state;
	/* Every slot pending: nothing may be evicted, the add fails. */
	for (i = 0; i < DNS_CACHE_MAX; i++) {
		a = nth(i);
		assert_non_null(dns_cache_add(c, &a));
	}
	a = nth(DNS_CACHE_MAX);
	assert_null(dns_cache_add(c, &a));
	/* One answered, though used most recently: it is the one that goes. */
	a = nth(7);
	dns_cache_answer(dns_cache_find(c, &a), NULL, 1);
	a = nth(7);
	assert_non_null(dns_cache_find(c, &a));
	a = nth(DNS_CACHE_MAX);
	assert_non_null(dns_cache_add(c, &a));
	a = nth(7);
	assert_null(dns_cache_find(c, &a));
	a = nth(0);
	assert_non_null(dns_cache_find(c, &a));
	free(c);
}

static void test_numeric_no_object(void **state)
{
	struct stats_addr a = v4("192.0.2.1");

	(void)state;
	assert_null(dns_lookup(NULL, &a));
	assert_int_equal(dns_wait(NULL, &a, 1, DNS_REPORT_WAIT_US), 0);
	assert_null(dns_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_plain),
		cmocka_unit_test(test_escape_hostile),
		cmocka_unit_test(test_escape_stops_at_nul_and_len),
		cmocka_unit_test(test_escape_bounds),
		cmocka_unit_test(test_cache_positive_negative),
		cmocka_unit_test(test_cache_keys),
		cmocka_unit_test(test_cache_lru_bound),
		cmocka_unit_test(test_cache_spares_pending),
		cmocka_unit_test(test_numeric_no_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
