/*
 * log: one line per message on stderr, "progname: message[: strerror]".
 * journald adds time and unit under systemd, so no timestamps here.
 */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_progname = "hopwatch";
static enum log_level log_level_now = LOG_LEVEL_WARN;

__attribute__((format(printf, 2, 0))) static void log_vprint(int with_errno, const char *fmt,
							     va_list ap)
{
	int saved = errno;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno)
		fprintf(stderr, "%s: %s: %s\n", log_progname, msg, strerror(saved));
	else
		fprintf(stderr, "%s: %s\n", log_progname, msg);
	errno = saved;
}

void log_init(const char *progname, enum log_level level)
{
	const char *slash;

	if (progname) {
		slash = strrchr(progname, '/');
		log_progname = slash ? slash + 1 : progname;
	}
	log_level_now = level;
}

enum log_level log_get_level(void)
{
	return log_level_now;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(1, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level_now < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_vprint(0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level_now < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vprint(0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(0, fmt, ap);
	va_end(ap);
	exit(1);
}
