/*
 * fuzz_text: libFuzzer target for the escapers every untrusted name passes through
 * before it is printed (reverse DNS names, AS answers, an engine's stderr). The first
 * byte picks the output size, the rest is the text; both escapers must stay inside
 * their buffer, terminate it, and emit nothing a terminal or a CSV/XML reader could
 * act on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#define FUZZ_TEXT_MAX 4096
#define FUZZ_GUARD    0xa5

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void check_clean(const char *src, size_t len, size_t cap)
{
	char out[FUZZ_TEXT_MAX + 1];
	size_t n, i;

	memset(out, FUZZ_GUARD, sizeof(out));
	n = text_clean(out, cap, src, len);
	if (cap == 0) {
		CHECK(n == 0 && (unsigned char)out[0] == FUZZ_GUARD);
		return;
	}
	CHECK(n < cap && out[n] == '\0');
	CHECK((unsigned char)out[cap] == FUZZ_GUARD || cap == sizeof(out));
	for (i = 0; i < n; i++)
		CHECK(out[i] >= 0x20 && out[i] <= 0x7e);
}

static void check_escape(const char *src, size_t cap)
{
	char out[FUZZ_TEXT_MAX + 1];
	size_t n, i;

	memset(out, FUZZ_GUARD, sizeof(out));
	n = text_escape(out, cap, src);
	if (cap == 0)
		return;
	CHECK(n < cap && out[n] == '\0');
	for (i = 0; i < n; i++) {
		CHECK(out[i] >= 0x20 && out[i] <= 0x7e);
		/* Every backslash starts a whole escape: "\\" or "\xNN", never cut short. */
		if (out[i] == '\\') {
			CHECK(i + 1 < n);
			if (out[i + 1] == '\\') {
				i++;
				continue;
			}
			CHECK(out[i + 1] == 'x' && i + 3 < n);
			i += 3;
		}
	}
	/* Untruncated, an escape is reversible: the output is as long as the input says. */
	if (n + TEXT_ESCAPE_GROWTH < cap - 1) {
		size_t want = 0;

		for (i = 0; src[i]; i++)
			want += (src[i] >= 0x20 && src[i] <= 0x7e && src[i] != '\\') ? 1
				: src[i] == '\\'				     ? 2
						 : TEXT_ESCAPE_GROWTH;
		CHECK(n == want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char src[FUZZ_TEXT_MAX + 1];
	size_t cap, len;

	if (size < 1)
		return 0;
	cap = (size_t)data[0] * 8 + (data[0] & 7);
	if (cap > FUZZ_TEXT_MAX)
		cap = FUZZ_TEXT_MAX;
	len = size - 1 < FUZZ_TEXT_MAX ? size - 1 : FUZZ_TEXT_MAX;
	memcpy(src, data + 1, len);
	src[len] = '\0';
	check_clean(src, len, cap);
	check_escape(src, cap);
	return 0;
}
