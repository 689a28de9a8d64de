/*
 * history: hopwatch's list of recently traced hosts (WinMTR's "Max. hosts in LRU list"),
 * most recent first, without duplicates, bounded, kept in $XDG_STATE_HOME/hopwatch/history.
 * Owns that file: reads it tolerantly (missing or damaged = what is readable of it) and
 * rewrites it atomically (temporary file, then rename). Never resolves and never exits; a
 * history that cannot be written must never stop a trace, so callers only warn.
 */
#ifndef HOPWATCH_CLIENT_HISTORY_H
#define HOPWATCH_CLIENT_HISTORY_H

#include <stddef.h>

/* WinMTR's default for "Max. hosts in LRU list". */
#define HISTORY_DEFAULT_MAX 128
/* Largest bound --lru accepts. */
#define HISTORY_LIMIT 10000
/* Longest host kept (a DNS name is at most 253 characters). */
#define HISTORY_HOST_MAX 255
/* Set (to anything) in the environment: record nothing. */
#define HISTORY_DISABLE_ENV "HOPWATCH_NO_HISTORY"
/* Longest path of the history file. */
#define HISTORY_PATH_MAX 4096

struct history {
	size_t n;     /* entries in use, hosts[0] the most recent */
	size_t max;   /* bound, 0..HISTORY_LIMIT; 0 = keep nothing */
	char **hosts; /* owned, max slots */
};

/*
 * The history file's path: XDG_STATE_HOME/hopwatch/history when xdg_state_home is an
 * absolute path (the XDG spec ignores a relative one), else HOME/.local/state/hopwatch/
 * history. Returns 0, -ENOENT (neither usable) or -ENAMETOOLONG.
 */
int history_path(char *buf, size_t len, const char *xdg_state_home, const char *home);

/* An empty history bounded by max (clamped to HISTORY_LIMIT). Returns 0 or -ENOMEM. */
int history_init(struct history *h, size_t max);
void history_deinit(struct history *h);

/*
 * Whether host is worth recording: 1..HISTORY_HOST_MAX characters of a host name or a
 * numeric address (letters, digits, '.', '-', '_', ':', '%'). Anything else, notably
 * white space and control bytes, is refused so the file stays one safe word a line.
 */
int history_valid_host(const char *host);

/*
 * Put host first; an earlier entry equal to it (ignoring case, as DNS does) goes away;
 * the oldest entry falls off past the bound. Returns 0, -EINVAL (not a valid host; nothing
 * changes) or -ENOMEM. With max 0 nothing is kept and 0 is returned.
 */
int history_add(struct history *h, const char *host);

/*
 * Read path into h (which history_init made empty), keeping file order (most recent
 * first) up to the bound. A missing file is an empty history; lines that are not valid
 * hosts (too long, binary, blank) and repeats are skipped. Returns 0, or -errno when the
 * file exists but cannot be read, or -ENOMEM.
 */
int history_load(struct history *h, const char *path);

/*
 * Write h to path atomically: the parent directories are created (0700), a temporary file
 * beside path is written and flushed, then renamed over path. Returns 0 or -errno; on
 * failure path is untouched and no temporary file is left.
 */
int history_save(const struct history *h, const char *path);

#endif
