/*
 * test_scenario: the netsim scenario parser. Every statement and value form, every
 * limit, and the line number and reason of each kind of error.
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

#include "scenario.h"

static struct scenario scn;
static struct scenario_error err;

static int parse(const char *text)
{
	return scenario_parse(text, strlen(text), &scn, &err);
}

static void expect_error(const char *text, size_t line, const char *reason_part)
{
	assert_int_equal(parse(text), -EINVAL);
	assert_int_equal(err.line, line);
	assert_non_null(err.reason);
	assert_non_null(strstr(err.reason, reason_part));
}

static const char full[] = "# every statement once\n"
			   "seed 1234567890123\n"
			   "hop\n"
			   "\taddr 198.51.100.1 2001:db8:1::1   # comment after words\n"
			   "\tdelay 1.5 uniform 0.25 spike 1% 40\n"
			   "\tlocal 0.001 normal 2\n"
			   "\treply 30%\n"
			   "\tratelimit 10 3\n"
			   "\tloss 0.125\n"
			   "hop\n"
			   "\taddr 198.51.100.2 weight 3\n"
			   "\taddr 2001:db8:1::22\n"
			   "\tecmp packet\n"
			   "\tmpls 16001 17/5 3/7/255\n"
			   "\treply never\n"
			   "dest\n"
			   "\taddr 203.0.113.1 2001:db8:ffff::1\n"
			   "\tprefix 203.0.113.77/24\n"
			   "\tprefix 2001:db8:ffff:1234::1/48\n"
			   "\ticmp drop\n"
			   "\tudp drop\n"
			   "\ttcp synack\n"
			   "\tdelay 10\n";

static void test_full(void **state)
{
	struct in_addr a4;
	struct in6_addr a6;

	(void)state;
	assert_int_equal(parse(full), 0);
	assert_int_equal(scn.seed, 1234567890123ULL);
	assert_int_equal(scn.nhops, 2);
	assert_int_equal(scn.loop_from, 0);

	assert_int_equal(scn.hops[0].nresp, 1);
	assert_true(scn.hops[0].resp[0].has_v4);
	assert_true(scn.hops[0].resp[0].has_v6);
	inet_pton(AF_INET, "198.51.100.1", &a4);
	assert_memory_equal(&scn.hops[0].resp[0].v4, &a4, sizeof(a4));
	inet_pton(AF_INET6, "2001:db8:1::1", &a6);
	assert_memory_equal(&scn.hops[0].resp[0].v6, &a6, sizeof(a6));
	assert_int_equal(scn.hops[0].resp[0].weight, 1);
	assert_int_equal(scn.hops[0].delay.base_us, 1500);
	assert_int_equal(scn.hops[0].delay.jitter, SCENARIO_JITTER_UNIFORM);
	assert_int_equal(scn.hops[0].delay.jitter_us, 250);
	assert_true(scn.hops[0].delay.spike_prob > 0.0099 && scn.hops[0].delay.spike_prob < 0.0101);
	assert_int_equal(scn.hops[0].delay.spike_us, 40000);
	assert_int_equal(scn.hops[0].local.base_us, 1);
	assert_int_equal(scn.hops[0].local.jitter, SCENARIO_JITTER_NORMAL);
	assert_int_equal(scn.hops[0].local.jitter_us, 2000);
	assert_true(scn.hops[0].reply_prob > 0.2999 && scn.hops[0].reply_prob < 0.3001);
	assert_int_equal(scn.hops[0].rate, 10);
	assert_int_equal(scn.hops[0].burst, 3);
	assert_true(scn.hops[0].loss == 0.125);
	assert_int_equal(scn.hops[0].ecmp, SCENARIO_ECMP_FLOW);

	assert_int_equal(scn.hops[1].nresp, 2);
	assert_int_equal(scn.hops[1].resp[0].weight, 3);
	assert_true(scn.hops[1].resp[0].has_v4);
	assert_false(scn.hops[1].resp[0].has_v6);
	assert_false(scn.hops[1].resp[1].has_v4);
	assert_true(scn.hops[1].resp[1].has_v6);
	assert_int_equal(scn.hops[1].ecmp, SCENARIO_ECMP_PACKET);
	assert_int_equal(scn.hops[1].nmpls, 3);
	assert_int_equal(scn.hops[1].mpls[0].label, 16001);
	assert_int_equal(scn.hops[1].mpls[0].exp, 0);
	assert_int_equal(scn.hops[1].mpls[0].ttl, SCENARIO_MPLS_TTL_DEFAULT);
	assert_int_equal(scn.hops[1].mpls[1].label, 17);
	assert_int_equal(scn.hops[1].mpls[1].exp, 5);
	assert_int_equal(scn.hops[1].mpls[2].label, 3);
	assert_int_equal(scn.hops[1].mpls[2].exp, 7);
	assert_int_equal(scn.hops[1].mpls[2].ttl, 255);
	assert_true(scn.hops[1].reply_prob == 0.0);
	/* Defaults of an attribute-free hop field. */
	assert_int_equal(scn.hops[1].rate, 0);
	assert_true(scn.hops[1].loss == 0.0);

	assert_true(scn.has_dest);
	assert_int_equal(scn.dest.icmp, SCENARIO_ICMP_DROP);
	assert_int_equal(scn.dest.udp, SCENARIO_UDP_DROP);
	assert_int_equal(scn.dest.tcp, SCENARIO_TCP_SYNACK);
	assert_int_equal(scn.dest.delay.base_us, 10000);
	assert_true(scn.dest.reply_prob == 1.0);
	assert_int_equal(scn.nprefixes, 2);
	assert_int_equal(scn.prefixes[0].family, AF_INET);
	assert_int_equal(scn.prefixes[0].len, 24);
	inet_pton(AF_INET, "203.0.113.0", &a4); /* host bits cleared */
	assert_memory_equal(&scn.prefixes[0].addr.v4, &a4, sizeof(a4));
	assert_int_equal(scn.prefixes[1].family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8:ffff::", &a6);
	assert_memory_equal(&scn.prefixes[1].addr.v6, &a6, sizeof(a6));
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("dest\naddr 203.0.113.1"), 0); /* no final newline */
	assert_int_equal(scn.nhops, 0);
	assert_int_equal(scn.seed, 0);
	assert_int_equal(scn.dest.icmp, SCENARIO_ICMP_ECHO);
	assert_int_equal(scn.dest.udp, SCENARIO_UDP_UNREACH);
	assert_int_equal(scn.dest.tcp, SCENARIO_TCP_RST);
	assert_true(scn.dest.reply_prob == 1.0);
	assert_int_equal(scn.dest.delay.jitter, SCENARIO_JITTER_NONE);
}

static void test_loop(void **state)
{
	(void)state;
	assert_int_equal(parse("loop 2\nhop\naddr 198.51.100.1\nhop\naddr 198.51.100.2\n"
			       "hop\naddr 198.51.100.3\n"),
			 0);
	assert_int_equal(scn.loop_from, 2);
	assert_false(scn.has_dest);
	expect_error("loop 4\nhop\naddr 198.51.100.1\n", 0, "loop");
	expect_error("loop 0\nhop\n", 1, "loop");
}

static void test_is_dest(void **state)
{
	struct in_addr a4;
	struct in6_addr a6;

	(void)state;
	assert_int_equal(parse("dest\naddr 192.0.2.9\nprefix 203.0.113.128/25\n"
			       "prefix 2001:db8:ffff::/47\n"),
			 0);
	inet_pton(AF_INET, "192.0.2.9", &a4);
	assert_true(scenario_is_dest(&scn, AF_INET, &a4));
	inet_pton(AF_INET, "192.0.2.10", &a4);
	assert_false(scenario_is_dest(&scn, AF_INET, &a4));
	inet_pton(AF_INET, "203.0.113.200", &a4);
	assert_true(scenario_is_dest(&scn, AF_INET, &a4));
	inet_pton(AF_INET, "203.0.113.127", &a4);
	assert_false(scenario_is_dest(&scn, AF_INET, &a4));
	inet_pton(AF_INET6, "2001:db8:fffe::5", &a6); /* inside the /47 */
	assert_true(scenario_is_dest(&scn, AF_INET6, &a6));
	inet_pton(AF_INET6, "2001:db8:fffd::5", &a6);
	assert_false(scenario_is_dest(&scn, AF_INET6, &a6));
	/* An IPv4 prefix never matches IPv6 bytes that happen to start the same. */
	memset(&a6, 0, sizeof(a6));
	memcpy(&a6, "\xcb\x00\x71\xc8", 4);
	assert_false(scenario_is_dest(&scn, AF_INET6, &a6));
}

static void test_numbers(void **state)
{
	(void)state;
	assert_int_equal(parse("dest\naddr 203.0.113.1\ndelay 10000\n"), 0);
	assert_int_equal(scn.dest.delay.base_us, SCENARIO_DELAY_MAX_US);
	expect_error("dest\naddr 203.0.113.1\ndelay 10000.001\n", 3, "delay");
	expect_error("dest\naddr 203.0.113.1\ndelay 1.2345\n", 3, "delay");
	expect_error("dest\naddr 203.0.113.1\ndelay 1.\n", 3, "delay");
	expect_error("dest\naddr 203.0.113.1\ndelay .5\n", 3, "delay");
	expect_error("dest\naddr 203.0.113.1\ndelay -1\n", 3, "delay");
	expect_error("dest\naddr 203.0.113.1\ndelay 1 normal\n", 3, "jitter");
	expect_error("dest\naddr 203.0.113.1\ndelay 1 spike 0.5\n", 3, "spike");
	expect_error("dest\naddr 203.0.113.1\ndelay 1 extra\n", 3, "unexpected");
	expect_error("dest\naddr 203.0.113.1\nloss 1.5\n", 3, "loss");
	expect_error("dest\naddr 203.0.113.1\nloss 101%\n", 3, "loss");
	expect_error("dest\naddr 203.0.113.1\nreply sometimes\n", 3, "reply");
	expect_error("dest\naddr 203.0.113.1\nratelimit 0 1\n", 3, "ratelimit");
	expect_error("dest\naddr 203.0.113.1\nratelimit 5 0\n", 3, "burst");
	expect_error("seed 18446744073709551616\ndest\naddr 203.0.113.1\n", 1, "seed");
	assert_int_equal(parse("seed 18446744073709551615\ndest\naddr 203.0.113.1\n"), 0);
	assert_true(scn.seed == UINT64_MAX);
	expect_error("hop\nmpls 1048576\ndest\naddr 203.0.113.1\n", 2, "MPLS");
	expect_error("hop\nmpls 1/8\ndest\naddr 203.0.113.1\n", 2, "MPLS");
	expect_error("hop\nmpls 1/1/1/1\ndest\naddr 203.0.113.1\n", 2, "MPLS");
	expect_error("hop\nmpls 1 2 3 4 5\ndest\naddr 203.0.113.1\n", 2, "labels");
	expect_error("hop\naddr 198.51.100.1 weight 0\n", 2, "weight");
	expect_error("hop\naddr 198.51.100.1 weight 1001\n", 2, "weight");
}

static void test_structure_errors(void **state)
{
	(void)state;
	expect_error("addr 198.51.100.1\n", 1, "outside");
	expect_error("hop\nfrobnicate\n", 2, "unknown");
	expect_error("hop extra\n", 1, "no arguments");
	expect_error("dest\naddr 203.0.113.1\nhop\n", 3, "after dest");
	expect_error("dest\naddr 203.0.113.1\ndest\n", 3, "second dest");
	expect_error("hop\naddr 198.51.100.1\n", 0, "no dest");
	expect_error("dest\nicmp echo\n", 0, "dest needs");
	expect_error("hop\nprefix 203.0.113.0/24\n", 2, "dest block");
	expect_error("hop\nicmp drop\n", 2, "dest block");
	expect_error("dest\nprefix 203.0.113.0\n", 2, "prefix");
	expect_error("dest\nprefix 203.0.113.0/33\n", 2, "length");
	expect_error("dest\nprefix 2001:db8::/129\n", 2, "length");
	expect_error("dest\nprefix nonsense/8\n", 2, "prefix");
	expect_error("dest\naddr 203.0.113.1 203.0.113.2\n", 2, "at most one");
	expect_error("dest\naddr\n", 2, "needs an address");
	expect_error("dest\naddr 203.0.113.1\ntcp maybe\n", 3, "tcp");
	expect_error("dest\naddr 203.0.113.1\nudp\n", 3, "udp");
	expect_error("dest\naddr 203.0.113.1\necmp hash\n", 3, "ecmp");
	expect_error("dest\naddr 203.0.113.1\na b c d e f g h i j k l m n o p q\n", 3, "words");
}

static void test_limits(void **state)
{
	static char big[SCENARIO_TEXT_MAX + 2];
	char line[SCENARIO_LINE_MAX + 2];
	size_t i, off = 0;

	(void)state;
	/* As many hops as allowed, then one more. */
	for (i = 0; i < SCENARIO_HOPS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "hop\n");
	off += (size_t)snprintf(big + off, sizeof(big) - off, "dest\naddr 203.0.113.1\n");
	assert_int_equal(scenario_parse(big, off, &scn, &err), 0);
	assert_int_equal(scn.nhops, SCENARIO_HOPS_MAX);
	off = 0;
	for (i = 0; i <= SCENARIO_HOPS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "hop\n");
	assert_int_equal(scenario_parse(big, off, &scn, &err), -EINVAL);
	assert_int_equal(err.line, SCENARIO_HOPS_MAX + 1);

	/* Responders. */
	off = (size_t)snprintf(big, sizeof(big), "hop\n");
	for (i = 0; i <= SCENARIO_RESPONDERS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "addr 198.51.100.%zu\n", i);
	assert_int_equal(scenario_parse(big, off, &scn, &err), -EINVAL);
	assert_int_equal(err.line, SCENARIO_RESPONDERS_MAX + 2);

	/* Prefixes. */
	off = (size_t)snprintf(big, sizeof(big), "dest\n");
	for (i = 0; i <= SCENARIO_PREFIXES_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "prefix 10.%zu.0.0/16\n", i);
	assert_int_equal(scenario_parse(big, off, &scn, &err), -EINVAL);
	assert_non_null(strstr(err.reason, "prefixes"));

	/* A line of exactly the maximum passes (a comment); one byte more fails. */
	memset(line, '#', SCENARIO_LINE_MAX);
	line[SCENARIO_LINE_MAX] = '\n';
	off = (size_t)snprintf(big, sizeof(big), "dest\naddr 203.0.113.1\n");
	memcpy(big + off, line, SCENARIO_LINE_MAX + 1);
	assert_int_equal(scenario_parse(big, off + SCENARIO_LINE_MAX + 1, &scn, &err), 0);
	line[SCENARIO_LINE_MAX] = '#';
	line[SCENARIO_LINE_MAX + 1] = '\n';
	memcpy(big + off, line, SCENARIO_LINE_MAX + 2);
	assert_int_equal(scenario_parse(big, off + SCENARIO_LINE_MAX + 2, &scn, &err), -EINVAL);
	assert_int_equal(err.line, 3);

	/* The whole text. */
	memset(big, '\n', sizeof(big));
	assert_int_equal(scenario_parse(big, SCENARIO_TEXT_MAX + 1, &scn, &err), -E2BIG);

	/* NUL bytes are not text. */
	assert_int_equal(scenario_parse("dest\0\naddr 203.0.113.1\n", 21, &scn, &err), -EINVAL);
	assert_int_equal(err.line, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_loop),	cmocka_unit_test(test_is_dest),
		cmocka_unit_test(test_numbers), cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
