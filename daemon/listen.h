/*
 * listen: hopwatchd's listening socket for socket mode, made from a path (--listen) or
 * taken from systemd (socket activation). Runs before the privilege drop; never
 * accepts a connection or reads from one (the engine does).
 */
#ifndef HOPWATCH_DAEMON_LISTEN_H
#define HOPWATCH_DAEMON_LISTEN_H

#include <sys/types.h>

/* Pending connections the kernel queues for accept(). */
#define LISTEN_BACKLOG 128
/* Mode of the listening socket file: every local user may connect. */
#define LISTEN_SOCKET_MODE 0666
/* Mode of the socket's directory when we create it. */
#define LISTEN_DIR_MODE 0755
/* Room for the private bind directory's name, ".hopwatchd-bind.<pid>". */
#define LISTEN_PRIVATE_NAME_MAX 64
/* First descriptor systemd passes (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

/*
 * Make the listening socket for --listen PATH: create the parent directory (mode
 * LISTEN_DIR_MODE, owned by owner/group when they are not -1) if it is missing,
 * replace a stale socket file nobody listens on, bind (in a private directory beside
 * PATH, then renamed into place, so that no path-based chmod/chown ever runs as root)
 * and listen; the file has mode LISTEN_SOCKET_MODE and belongs to owner/group.
 * Returns 0 with *fd_out, -EADDRINUSE when a server answers on PATH, -EEXIST when PATH
 * is not a socket, -ENAMETOOLONG, or -errno.
 */
int listen_bind_path(const char *path, uid_t owner, gid_t group, int *fd_out);

/* An O_PATH descriptor of PATH's directory, for removing the socket later. 0 or -errno. */
int listen_open_dir(const char *path, int *dfd_out);

/*
 * Whether uid/gid (with no supplementary groups) may remove an entry it owns from the
 * directory dfd: 1 yes, 0 no, or -errno.
 */
int listen_user_may_remove(int dfd, uid_t uid, gid_t gid);

/*
 * systemd socket activation: when LISTEN_PID is our pid and LISTEN_FDS >= 1, check that
 * descriptor LISTEN_FDS_START is a listening AF_UNIX stream socket and return it.
 * The LISTEN_* variables are removed from the environment whatever the outcome.
 * Returns 1 with *fd_out, 0 when nothing was passed to us, or -errno (-EINVAL for a
 * descriptor of the wrong kind).
 */
int listen_activated(int *fd_out);

#endif
