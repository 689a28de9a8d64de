/*
 * text: the two cleaning rules of the tree, so that every message and every report
 * treats hostile bytes the same way.
 */
#include "common/text.h"

#include <stdio.h>
#include <string.h>

static int printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

size_t text_clean(char *dst, size_t cap, const char *src, size_t len)
{
	size_t i, n = 0;

	if (!cap)
		return 0;
	for (i = 0; src && i < len && src[i] && n + 1 < cap; i++)
		dst[n++] = printable((unsigned char)src[i]) ? src[i] : '?';
	dst[n] = '\0';
	return n;
}

size_t text_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	if (!cap)
		return 0;
	for (; src && *src && o + 1 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		char tmp[TEXT_ESCAPE_GROWTH + 1];
		size_t n;

		if (c == '\\')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
		else if (!printable(c))
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		if (o + n >= cap)
			break;
		memcpy(dst + o, tmp, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}
