/* test_split: split_line, mtr 0.95's -p line of one hop. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/split.h"

static struct addr v4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

static const char *fake_name(const struct addr *a, void *ctx)
{
	(void)a;
	return ctx;
}

/* Hop 1: three probes, one answered (999 us), two lost; hop 2 never answered. */
static struct stats_table *table(void)
{
	struct stats_table *t;
	struct addr r = v4("198.51.100.1");
	int i;

	assert_int_equal(stats_table_new(&t), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(stats_sent(t, 1), 0);
		assert_int_equal(stats_sent(t, 2), 0);
		stats_answer(t, 2, STATS_LOST, NULL, 0, NULL, 0);
	}
	stats_answer(t, 1, STATS_TTL_EXPIRED, &r, 999, NULL, 0);
	stats_answer(t, 1, STATS_LOST, NULL, 0, NULL, 0);
	stats_answer(t, 1, STATS_LOST, NULL, 0, NULL, 0);
	return t;
}

static void test_line(void **state)
{
	struct stats_table *t = table();
	struct report_meta m = {.numeric = 1};
	char line[SPLIT_LINE_MAX];

	(void)state;
	/* 1000 * (100 - 100 * 1/3) = 66666.67, truncated as mtr; 999 us is 0 whole ms. */
	split_line(t, 1, &m, line, sizeof(line));
	assert_string_equal(line, "198.51.100.1 66666 1 3 0 0 0");
	split_line(t, 2, &m, line, sizeof(line));
	assert_string_equal(line, "???");
	split_line(t, 9, &m, line, sizeof(line));
	assert_string_equal(line, "???");
	/* -b: "name address" with a space, and with -n the address twice. */
	m.show_ips = 1;
	split_line(t, 1, &m, line, sizeof(line));
	assert_string_equal(line, "198.51.100.1 198.51.100.1 66666 1 3 0 0 0");
	m.numeric = 0;
	m.name = fake_name;
	m.name_ctx = (void *)"r1.example\n";
	split_line(t, 1, &m, line, sizeof(line));
	assert_string_equal(line, "r1.example\\x0a 198.51.100.1 66666 1 3 0 0 0");
	stats_table_free(t);
}

/* A probe still in flight is not counted as lost (mtr's xmit - transit). */
static void test_inflight(void **state)
{
	struct stats_table *t;
	struct addr r = v4("198.51.100.1");
	struct report_meta m = {.numeric = 1};
	char line[SPLIT_LINE_MAX];

	(void)state;
	assert_int_equal(stats_table_new(&t), 0);
	assert_int_equal(stats_sent(t, 1), 0);
	stats_answer(t, 1, STATS_TTL_EXPIRED, &r, 12345, NULL, 0);
	assert_int_equal(stats_sent(t, 1), 0);
	split_line(t, 1, &m, line, sizeof(line));
	assert_string_equal(line, "198.51.100.1 0 1 2 12 12 12");
	stats_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
