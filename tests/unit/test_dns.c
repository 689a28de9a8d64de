/*
 * test_dns: the pure parts of the resolver: names stored as received but bounded (the
 * renderers escape them; test_report covers that) and the cache (positive and negative entries, expiry of negative ones, LRU eviction that
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
#include <unistd.h>

#include <event2/event.h>

#include "client/dns.h"

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

static struct dns_cache *new_cache(void)
{
	struct dns_cache *c = malloc(sizeof(*c));

	assert_non_null(c);
	dns_cache_init(c);
	return c;
}

/* Names are kept as the resolver gave them, bounded; renderers escape them. */
static void test_answer_raw_and_bounded(void **state)
{
	struct dns_cache *c = new_cache();
	struct addr a;
	struct dns_entry *e;
	char longname[DNS_NAME_MAX + 50];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.u.v4.s_addr = htonl(0xc6336402);
	e = dns_cache_add(c, &a);
	assert_non_null(e);
	dns_cache_answer(e, "evil\x1b[2J.example", 1);
	assert_int_equal(e->state, DNS_STATE_FOUND);
	assert_string_equal(e->name, "evil\x1b[2J.example");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	dns_cache_answer(e, longname, 1);
	assert_int_equal(strlen(e->name), DNS_NAME_MAX);
	dns_cache_answer(e, "", 1);
	assert_int_equal(e->state, DNS_STATE_MISSING);
	free(c);
}

static void test_cache_positive_negative(void **state)
{
	struct dns_cache *c = new_cache();
	struct addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct dns_entry *e;

	(void)state;
	assert_null(dns_cache_find(c, &a));
	e = dns_cache_add(c, &a);
	assert_non_null(e);
	assert_int_equal(e->state, DNS_STATE_PENDING);
	assert_ptr_equal(dns_cache_find(c, &a), e);
	assert_null(dns_cache_find(c, &b));
	assert_false(dns_cache_stale(e, 0));

	/* The stored name is the one received; renderers escape it. */
	dns_cache_answer(e, "evil\x1b[2J.example", 100);
	assert_int_equal(e->state, DNS_STATE_FOUND);
	assert_string_equal(e->name, "evil\x1b[2J.example");
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
	struct addr a = v4("192.0.2.1"), a2 = v4("192.0.2.1"), six = v6("2001:db8::1");
	struct addr six_v4bytes;
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

static struct addr nth(size_t i)
{
	struct addr a;

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
	struct addr a;
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
	struct addr a;
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

static void never_called(void *ctx, size_t pending)
{
	(void)ctx;
	(void)pending;
	fail_msg("a wait with no resolver must not call back");
}

static void test_numeric_no_object(void **state)
{
	struct addr a = v4("192.0.2.1");
	struct dns_waiter *w = (struct dns_waiter *)&a;

	(void)state;
	assert_null(dns_lookup(NULL, &a));
	/* -n: nothing to wait for, no waiter, no callback. */
	assert_int_equal(dns_wait(NULL, &a, 1, DNS_REPORT_WAIT_US, never_called, NULL, &w),
			 DNS_WAIT_NONE);
	assert_null(w);
	assert_null(dns_waiter_free(NULL));
	assert_null(dns_free(NULL));
}

struct resolved {
	int calls, rc;
	struct addr addr;
};

static void on_resolved(void *ctx, int rc, const struct addr *addr)
{
	struct resolved *r = ctx;

	r->calls++;
	r->rc = rc;
	if (addr)
		r->addr = *addr;
}

/* A resolver that knows one nameserver on loopback, where nothing answers. */
static struct dns *loopback_resolver(struct event_base *base, char *path)
{
	struct dns *d = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(write(fd, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", 50) == 50);
	close(fd);
	assert_int_equal(dns_new(&d, base, path), 0);
	unlink(path);
	return d;
}

/* Forward lookups answer from the loop, numeric ones without a query; cancel is silent. */
static void test_resolve_numeric_and_cancel(void **state)
{
	struct event_base *base = event_base_new();
	char path[] = "/tmp/hopwatch-test-dns-XXXXXX";
	struct dns *d = loopback_resolver(base, path);
	struct dns_resolve *q = NULL, *q6 = NULL, *qc = NULL;
	struct resolved r4 = {0}, r6 = {0}, rc = {0};
	struct addr want;

	(void)state;
	assert_int_equal(dns_resolve(d, "192.0.2.7", 0, on_resolved, &r4, &q), 0);
	assert_int_equal(dns_resolve(d, "2001:db8::7", 6, on_resolved, &r6, &q6), 0);
	assert_int_equal(dns_resolve(d, "198.51.100.1", 4, on_resolved, &rc, &qc), 0);
	/* Never inside the call. */
	assert_int_equal(r4.calls + r6.calls, 0);
	qc = dns_resolve_free(qc);
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(r4.calls, 1);
	assert_int_equal(r4.rc, 0);
	want = v4("192.0.2.7");
	assert_true(addr_equal(&r4.addr, &want));
	assert_int_equal(r6.calls, 1);
	want = v6("2001:db8::7");
	assert_true(addr_equal(&r6.addr, &want));
	assert_int_equal(rc.calls, 0);
	q = dns_resolve_free(q);
	q6 = dns_resolve_free(q6);
	assert_int_equal(dns_resolve(d, "", 0, on_resolved, &r4, &q), -EINVAL);
	assert_int_equal(dns_resolve(d, "192.0.2.1", 5, on_resolved, &r4, &q), -EINVAL);
	assert_int_equal(dns_resolve(NULL, "192.0.2.1", 0, on_resolved, &r4, &q), -EINVAL);
	assert_null(q);
	/* A name still out when the resolver goes: freed later without a call. */
	assert_int_equal(dns_resolve(d, "nothing.invalid", 0, on_resolved, &rc, &qc), 0);
	d = dns_free(d);
	qc = dns_resolve_free(qc);
	for (int pass = 0; pass < DNS_TEARDOWN_PASSES; pass++)
		assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(rc.calls, 0);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_raw_and_bounded),
		cmocka_unit_test(test_cache_positive_negative),
		cmocka_unit_test(test_cache_keys),
		cmocka_unit_test(test_cache_lru_bound),
		cmocka_unit_test(test_cache_spares_pending),
		cmocka_unit_test(test_numeric_no_object),
		cmocka_unit_test(test_resolve_numeric_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
