/*
 * errmsg: the shared formatter behind every "err, errlen" pair of the client library.
 */
#include "common/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

void errmsg_set(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
