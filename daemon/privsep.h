/*
 * privsep: every privilege change of hopwatchd, and the socket broker.
 * Owns the broker process (forked before the drop, keeps only CAP_NET_RAW and
 * CAP_NET_ADMIN, hands out configured sockets) and the engine's own drop.
 * No other file may call libcap or the setuid family (tests/lint checks that).
 */
#ifndef HOPWATCH_DAEMON_PRIVSEP_H
#define HOPWATCH_DAEMON_PRIVSEP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The unprivileged account used when the user is not named in the config: one of its
 * own (scripts/setup.sh creates it), since every process of a shared account such as
 * nobody may signal, ptrace or read the files of the engine and its broker.
 */
#define PRIVSEP_DEFAULT_USER "hopwatchd"
/* Used, with a warning, when PRIVSEP_DEFAULT_USER does not exist. */
#define PRIVSEP_FALLBACK_USER "nobody"
/* Used when neither account exists (the traditional nobody/nogroup). */
#define PRIVSEP_FALLBACK_UID 65534
#define PRIVSEP_FALLBACK_GID 65534
/* Longest interface name the broker accepts (IFNAMSIZ - 1). */
#define PRIVSEP_DEVICE_MAX 15

struct privsep;

struct privsep_config {
	const char *user; /* unprivileged account; NULL means PRIVSEP_DEFAULT_USER */
	/*
	 * The engine's socket file, when the unprivileged user cannot remove it from its
	 * directory: the broker keeps a copy of unlink_dirfd and CAP_DAC_OVERRIDE, usable
	 * (its filter says) only for unlinkat() in that directory, and removes unlink_name
	 * when the engine is gone if it is still the socket of that dev/ino.
	 */
	const char *unlink_name; /* NULL: nothing to remove */
	int unlink_dirfd;
	dev_t unlink_dev;
	ino_t unlink_ino;
};

/*
 * Resolve the unprivileged account and fork the broker, which installs its system
 * call filter (sandbox.h) before it says it is ready. cfg may be NULL.
 * Returns 0, -ENOENT when a configured user does not exist, -EINVAL when it is
 * root or unlink_name is longer than NAME_MAX, or -errno from socketpair/fork or
 * from the broker's own drop.
 * Call it after opening the engine's raw sockets and before privsep_drop(),
 * from the main thread: the broker's parent-death signal follows the thread
 * that forked it.
 */
int privsep_new(struct privsep **out, const struct privsep_config *cfg);

/*
 * The unprivileged account privsep_new() will use (cfg may be NULL), without a warning
 * for the fallback (privsep_new gives it). Returns 0, -ENOENT, -EINVAL or -errno.
 */
int privsep_lookup_user(const struct privsep_config *cfg, uid_t *uid, gid_t *gid);

/*
 * Drop every privilege of the calling process for good: unprivileged uid/gid
 * (when euid is 0), no supplementary groups, empty bounding/permitted/effective/
 * inheritable/ambient sets, no_new_privs; then verify. ps may be NULL (default
 * user). Returns 0 or -errno; on failure the caller must exit, not go on.
 */
int privsep_drop(const struct privsep *ps);

/*
 * Ask the broker for a socket(family, type, protocol) with SO_MARK = mark (when
 * has_mark) and SO_BINDTODEVICE = device (when device is not NULL). On success
 * *fd_out is a new close-on-exec descriptor owned by the caller.
 * Returns 0, -EINVAL for a request the broker refuses, -EPERM when the broker
 * lacks the capability, -EPIPE when the broker is gone, -ETIMEDOUT, or -errno.
 */
int privsep_socket(struct privsep *ps, int family, int type, int protocol, bool has_mark,
		   uint32_t mark, const char *device, int *fd_out);

/* Close the broker's socket and reap it. Accepts NULL; returns NULL. */
struct privsep *privsep_free(struct privsep *ps);

/* Whether CAP_NET_RAW is in the effective set of the calling process now. */
bool privsep_have_net_raw(void);

/*
 * The unprivileged account privsep_new resolved (both processes switch to it when root);
 * hopwatchd gives it the socket directory it creates. Returns -EINVAL when ps is NULL.
 */
int privsep_user(const struct privsep *ps, uid_t *uid, gid_t *gid);

/* The broker's pid, or -1 when ps is NULL. */
pid_t privsep_broker_pid(const struct privsep *ps);

#endif
