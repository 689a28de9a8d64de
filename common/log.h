/*
 * log: diagnostics to stderr for every hopwatch program.
 * Owns the program name and the verbosity; never exits except in fatal()/fatalx(),
 * which are for start-up failures and broken invariants only.
 */
#ifndef HOPWATCH_COMMON_LOG_H
#define HOPWATCH_COMMON_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

void log_init(const char *progname, enum log_level level);
enum log_level log_get_level(void);

/* The *x variants do not append strerror(errno); all preserve errno. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
