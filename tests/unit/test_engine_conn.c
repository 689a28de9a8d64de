/*
 * test_engine_conn: the lines the client puts on the wire (engine_conn_format_probe),
 * byte for byte as the hand-written formatter before it sent them, since
 * tests/golden/fake_engine.py and the interop tests read them, and the reply decoder's
 * leniency towards a newer engine's extra arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "client/engine_conn.h"

#define TEST_BUF 512

static void expect_probe(int64_t token, const struct engine_probe *p, const char *want)
{
	char buf[TEST_BUF];
	int n;

	memset(buf, '#', sizeof(buf));
	n = engine_conn_format_probe(buf, sizeof(buf), token, p);
	if (n != (int)strlen(want) || memcmp(buf, want, strlen(want)) != 0)
		fail_msg("got %d \"%.*s\", want \"%s\"", n, n > 0 ? n : 0, buf, want);
	assert_int_equal(buf[n], '#');
}

static void v4(struct engine_probe *p, const char *addr)
{
	memset(p, 0, sizeof(*p));
	p->dst.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, addr, &p->dst.u.v4), 1);
}

static void v6(struct engine_probe *p, const char *addr)
{
	memset(p, 0, sizeof(*p));
	p->dst.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, addr, &p->dst.u.v6), 1);
}

static void test_format_minimal(void **state)
{
	struct engine_probe p;

	(void)state;
	v4(&p, "203.0.113.1");
	p.protocol = PROTO_PROTOCOL_ICMP;
	p.ttl = 1;
	expect_probe(1, &p, "1 send-probe ip-4 203.0.113.1 protocol icmp ttl 1\n");

	v6(&p, "2001:db8::1");
	p.protocol = PROTO_PROTOCOL_UDP;
	p.ttl = 255;
	expect_probe(2147483647, &p,
		     "2147483647 send-probe ip-6 2001:db8::1 protocol udp ttl 255\n");
}

/* Paris-style probing: the flow id goes last, and only when asked for (flow 0 included). */
static void test_format_flow_id(void **state)
{
	struct engine_probe p;

	(void)state;
	v4(&p, "203.0.113.9");
	p.protocol = PROTO_PROTOCOL_UDP;
	p.ttl = 3;
	p.has_flow_id = 1;
	p.flow_id = 0;
	expect_probe(5, &p, "5 send-probe ip-4 203.0.113.9 protocol udp ttl 3 flow-id 0\n");
	p.flow_id = 65535;
	p.timeout_s = 2;
	expect_probe(6, &p,
		     "6 send-probe ip-4 203.0.113.9 protocol udp ttl 3 timeout 2 flow-id 65535\n");
	p.has_flow_id = 0;
	expect_probe(7, &p, "7 send-probe ip-4 203.0.113.9 protocol udp ttl 3 timeout 2\n");
}

/* Every optional argument, in the order and spelling mtr's front end uses. */
static void test_format_all_options(void **state)
{
	struct engine_probe p;

	(void)state;
	v4(&p, "198.51.100.9");
	p.protocol = PROTO_PROTOCOL_TCP;
	p.ttl = 7;
	p.size = 4470;
	p.bitpattern = 255;
	p.tos = 16;
	p.port = 443;
	p.local_port = 40000;
	p.src = "192.0.2.5";
	p.device = "veth-a0";
	p.has_mark = 1;
	p.mark = 4294967295u;
	p.timeout_s = 3600;
	expect_probe(42, &p,
		     "42 send-probe ip-4 198.51.100.9 protocol tcp ttl 7 size 4470 bit-pattern 255 "
		     "tos 16 port 443 local-port 40000 local-ip-4 192.0.2.5 local-device veth-a0 "
		     "mark 4294967295 timeout 3600\n");

	v6(&p, "2001:db8:0:0:1:0:0:1");
	p.protocol = PROTO_PROTOCOL_UDP;
	p.ttl = 30;
	p.size = 28;
	p.src = "2001:db8::5";
	p.has_mark = 1;
	p.mark = 0;
	expect_probe(9, &p,
		     "9 send-probe ip-6 2001:db8::1:0:0:1 protocol udp ttl 30 size 28 "
		     "local-ip-6 2001:db8::5 mark 0\n");
}

/* The user's -a text goes out as given; the engine names what it refuses. */
static void test_format_source_as_given(void **state)
{
	struct engine_probe p;

	(void)state;
	v4(&p, "203.0.113.1");
	p.ttl = 3;
	p.src = "not-an-address";
	expect_probe(5, &p,
		     "5 send-probe ip-4 203.0.113.1 protocol icmp ttl 3 local-ip-4 "
		     "not-an-address\n");
}

static void test_format_refuses(void **state)
{
	struct engine_probe p;
	char buf[TEST_BUF];

	(void)state;
	v4(&p, "203.0.113.1");
	p.ttl = 1;
	assert_int_equal(engine_conn_format_probe(buf, 20, 1, &p), -ENOSPC);
	p.ttl = 0;
	assert_int_equal(engine_conn_format_probe(buf, sizeof(buf), 1, &p), -EINVAL);
	p.ttl = 1;
	p.dst.family = AF_UNIX;
	assert_int_equal(engine_conn_format_probe(buf, sizeof(buf), 1, &p), -EINVAL);
	v4(&p, "203.0.113.1");
	p.ttl = 1;
	p.device = "eth 0";
	assert_int_equal(engine_conn_format_probe(buf, sizeof(buf), 1, &p), -EINVAL);
	p.device = NULL;
	assert_int_equal(engine_conn_format_probe(buf, sizeof(buf), -1, &p), -EINVAL);
}

/* A newer engine may add arguments: they are skipped, what is known is still checked. */
static void test_parse_reply_extras(void **state)
{
	static const char l1[] = "4 reply ip-4 192.0.2.1 hop-limit 3 round-trip-time 10";
	static const char l2[] = "4 reply ip-4 192.0.2.1 round-trip-time 10 reason x";
	struct engine_result r;
	int64_t tok;

	(void)state;
	assert_int_equal(engine_conn_parse_reply(l1, strlen(l1), &tok, &r, NULL), 0);
	assert_int_equal(tok, 4);
	assert_int_equal(r.rtt_us, 10);
	assert_int_equal(r.from.family, AF_INET);
	assert_int_equal(engine_conn_parse_reply(l2, strlen(l2), &tok, &r, NULL), -EINVAL);
	assert_int_equal(engine_conn_parse_reply("4 no-reply", 10, &tok, &r, NULL), 0);
	assert_int_equal(r.reply, PROTO_REPLY_NO_REPLY);
	assert_int_equal(r.rtt_us, -1);
	assert_int_equal(r.from.family, 0);
}

/* A refusal's reason is kept for the error line, and only as harmless characters. */
static void test_parse_reason(void **state)
{
	static const char l1[] = "7 invalid-argument reason v4-mapped-address";
	static const char l2[] = "7 invalid-argument reason Odd_Word%";
	static const char l4[] = "7 invalid-argument reason \x1b[2J";
	static const char l3[] = "7 invalid-argument reason "
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct engine_result r;
	int64_t tok;

	(void)state;
	assert_int_equal(engine_conn_parse_reply(l1, strlen(l1), &tok, &r, NULL), 0);
	assert_int_equal(r.reply, PROTO_REPLY_INVALID_ARGUMENT);
	assert_string_equal(r.reason, "v4-mapped-address");
	assert_int_equal(engine_conn_parse_reply(l2, strlen(l2), &tok, &r, NULL), 0);
	assert_string_equal(r.reason, "?dd??ord?");
	/* The line parser already refuses control characters in a text value. */
	assert_int_equal(engine_conn_parse_reply(l4, strlen(l4), &tok, &r, NULL), -EINVAL);
	assert_int_equal(engine_conn_parse_reply(l3, strlen(l3), &tok, &r, NULL), 0);
	assert_int_equal(strlen(r.reason), ENGINE_CONN_REASON_MAX);
	assert_int_equal(engine_conn_parse_reply("7 no-reply", 10, &tok, &r, NULL), 0);
	assert_string_equal(r.reason, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_minimal),
		cmocka_unit_test(test_format_flow_id),
		cmocka_unit_test(test_format_all_options),
		cmocka_unit_test(test_format_source_as_given),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_parse_reply_extras),
		cmocka_unit_test(test_parse_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
