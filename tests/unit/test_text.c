/* test_text: both cleaning rules, their bounds and their truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/text.h"

static void test_clean(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(text_clean(buf, sizeof(buf), "ab c", 4), 4);
	assert_string_equal(buf, "ab c");
	assert_int_equal(text_clean(buf, sizeof(buf), "a\x1b[2Jb\x80\x7f", 8), 8);
	assert_string_equal(buf, "a?[2Jb??");
	/* len bounds the input; a NUL ends it earlier. */
	assert_int_equal(text_clean(buf, sizeof(buf), "abcdef", 3), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(text_clean(buf, sizeof(buf), "ab\0cd", 5), 2);
	/* cap bounds the output, terminated. */
	assert_int_equal(text_clean(buf, 4, "abcdef", 6), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(text_clean(buf, 0, "abc", 3), 0);
	assert_int_equal(text_clean(buf, sizeof(buf), NULL, 3), 0);
	assert_string_equal(buf, "");
}

static void test_escape(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(text_escape(buf, sizeof(buf), "r1.example"), 10);
	assert_string_equal(buf, "r1.example");
	text_escape(buf, sizeof(buf), "a\\b\n");
	assert_string_equal(buf, "a\\\\b\\x0a");
	text_escape(buf, sizeof(buf), "\x1b[31m");
	assert_string_equal(buf, "\\x1b[31m");
	/* Never cut inside an escape: "ab" fits, "\x01" would not. */
	assert_int_equal(text_escape(buf, 5, "ab\x01"), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(text_escape(buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "");
	assert_int_equal(text_escape(buf, 0, "x"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
