/*
 * errmsg: fill a caller's buffer with the one-line error message a library function
 * hands back (the CLI prints it as its single error line). Never allocates.
 */
#ifndef HOPWATCH_COMMON_ERRMSG_H
#define HOPWATCH_COMMON_ERRMSG_H

#include <stddef.h>

/* printf into buf (truncated, always terminated); nothing when buf is NULL or len 0. */
void errmsg_set(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
