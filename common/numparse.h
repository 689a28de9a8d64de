/*
 * numparse: bounded decimal number parsing for untrusted text.
 * Pure: no allocation, no I/O, no locale. Rejects signs where not allowed, empty
 * strings, trailing garbage, leading zeros are accepted, and values outside [min, max].
 */
#ifndef HOPWATCH_COMMON_NUMPARSE_H
#define HOPWATCH_COMMON_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse exactly len bytes at s as a decimal integer in [min, max].
 * Returns 0, -EINVAL (not a number) or -ERANGE (out of bounds).
 */
int numparse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* The same for a NUL-terminated string. */
int numparse_i64_str(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
