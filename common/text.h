/*
 * text: untrusted bytes (names from the network, an engine's stderr, a user's argument
 * echoed back) made safe to print. Owns no state and never allocates; every output is
 * bounded by the caller's buffer and always terminated.
 */
#ifndef HOPWATCH_COMMON_TEXT_H
#define HOPWATCH_COMMON_TEXT_H

#include <stddef.h>

/* An escaped byte takes at most this many characters ("\xNN"). */
#define TEXT_ESCAPE_GROWTH 4

/*
 * For one-line messages: printable ASCII (0x20..0x7e) is kept, every other byte becomes
 * '?'. Reads len bytes of src or up to a NUL, whichever comes first. Returns the length
 * written (without the NUL); nothing when cap is 0.
 */
size_t text_clean(char *dst, size_t cap, const char *src, size_t len);

/*
 * For reports (a name can end up in CSV, XML or on a terminal): a byte outside printable
 * ASCII becomes \xNN and a backslash \\, so nothing a name holds can drive a terminal or
 * split a record. Truncates, never mid-escape, to fit cap. src may be NULL ("").
 * Returns the length written.
 */
size_t text_escape(char *dst, size_t cap, const char *src);

#endif
