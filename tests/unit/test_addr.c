/*
 * test_addr: the one address type: lengths, equality over the family's bytes, text,
 * and which destinations name one host.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/addr.h"

static void test_len(void **state)
{
	(void)state;
	assert_int_equal(addr_len(AF_INET), 4);
	assert_int_equal(addr_len(AF_INET6), 16);
	assert_int_equal(addr_len(0), 0);
	assert_int_equal(addr_len(AF_UNIX), 0);
}

static void test_equal(void **state)
{
	struct addr a, b;

	(void)state;
	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(addr_parse("192.0.2.1", &b), 0);
	/* Bytes past an IPv4 address are not part of it. */
	memset((char *)&b.u + 4, 0xaa, sizeof(b.u) - 4);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_parse("192.0.2.2", &b), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(addr_parse("2001:db8::1", &b), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(addr_parse("2001:db8::1", &a), 0);
	assert_true(addr_equal(&a, &b));
	memset(&a, 0, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	b.family = 0;
	assert_true(addr_equal(&a, &b));
}

static void test_str_parse(void **state)
{
	struct addr a;
	char buf[ADDR_STR_MAX];

	(void)state;
	assert_int_equal(addr_parse("2001:db8:ffff::3e8", &a), 0);
	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "2001:db8:ffff::3e8");
	assert_int_equal(addr_parse("203.0.113.7", &a), 0);
	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "203.0.113.7");
	assert_int_equal(addr_parse("203.0.113", &a), -EINVAL);
	assert_int_equal(a.family, 0);
	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "???");
	assert_string_equal(addr_str(NULL, buf, sizeof(buf)), "???");
	assert_int_equal(addr_parse("example.net", &a), -EINVAL);
}

static enum addr_kind kind_of(const char *text)
{
	struct addr a;

	assert_int_equal(addr_parse(text, &a), 0);
	return addr_kind(a.family, &a.u);
}

static void test_kind(void **state)
{
	static const struct {
		const char *text;
		enum addr_kind kind;
	} cases[] = {
		{"0.0.0.0", ADDR_KIND_UNSPECIFIED},
		{"::", ADDR_KIND_UNSPECIFIED},
		{"224.0.0.0", ADDR_KIND_MULTICAST},
		{"224.0.0.1", ADDR_KIND_MULTICAST},
		{"239.255.255.255", ADDR_KIND_MULTICAST},
		{"ff05::2", ADDR_KIND_MULTICAST},
		{"ff02::1", ADDR_KIND_MULTICAST},
		{"255.255.255.255", ADDR_KIND_BROADCAST},
		{"::ffff:192.0.2.1", ADDR_KIND_MAPPED},
		{"::ffff:0.0.0.0", ADDR_KIND_MAPPED},
		/* Just outside each range. */
		{"0.0.0.1", ADDR_KIND_UNICAST},
		{"223.255.255.255", ADDR_KIND_UNICAST},
		{"240.0.0.1", ADDR_KIND_UNICAST},
		{"255.255.255.254", ADDR_KIND_UNICAST},
		{"::1", ADDR_KIND_UNICAST},
		{"::fffe:192.0.2.1", ADDR_KIND_UNICAST},
		{"::1:ffff:192.0.2.1", ADDR_KIND_UNICAST},
		{"fe80::1", ADDR_KIND_UNICAST},
		{"feff::1", ADDR_KIND_UNICAST},
		{"127.0.0.1", ADDR_KIND_UNICAST},
		{"2001:db8::1", ADDR_KIND_UNICAST},
	};
	union addr_ip any = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (kind_of(cases[i].text) != cases[i].kind)
			fail_msg("%s: kind %d, want %d", cases[i].text, kind_of(cases[i].text),
				 cases[i].kind);
	assert_int_equal(addr_kind(AF_UNIX, &any), ADDR_KIND_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_len),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_str_parse),
		cmocka_unit_test(test_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
