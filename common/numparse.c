/*
 * numparse: strtol() needs a NUL-terminated string, honours locale and whitespace,
 * and its overflow reporting is easy to get wrong; this is the small strict version.
 */
#include "common/numparse.h"

#include <errno.h>
#include <string.h>

/* 19 digits hold any int64; more is out of range whatever the digits are. */
#define NUMPARSE_MAX_DIGITS 19

int numparse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	uint64_t acc = 0;
	int neg = 0;
	size_t i = 0, digits = 0;

	if (!s || len == 0)
		return -EINVAL;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
		if (len == 1)
			return -EINVAL;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (acc == 0 && s[i] == '0')
			continue;
		if (++digits > NUMPARSE_MAX_DIGITS)
			return -ERANGE;
		acc = acc * 10 + (uint64_t)(s[i] - '0');
	}
	if (neg) {
		if (acc > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		if (acc == (uint64_t)INT64_MAX + 1) {
			if (min > INT64_MIN)
				return -ERANGE;
			*out = INT64_MIN;
			return 0;
		}
		if (-(int64_t)acc < min)
			return -ERANGE;
		*out = -(int64_t)acc;
		return 0;
	}
	if (acc > (uint64_t)INT64_MAX || (int64_t)acc > max || (int64_t)acc < min)
		return -ERANGE;
	*out = (int64_t)acc;
	return 0;
}

int numparse_i64_str(const char *s, int64_t min, int64_t max, int64_t *out)
{
	if (!s)
		return -EINVAL;
	return numparse_i64(s, strlen(s), min, max, out);
}
