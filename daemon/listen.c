/*
 * listen: the AF_UNIX listening socket of socket mode. A socket file left behind by an
 * engine that died is replaced; a live one is never taken over. The file is the
 * daemon user's, so that it can still remove it after the privilege drop where its
 * directory lets it (listen_user_may_remove() says; the broker does it otherwise).
 */
#include "daemon/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/numparse.h"

/*
 * Split path into its directory (dir, "." for none) and last component (base).
 * Returns 0 or -ENAMETOOLONG / -EINVAL for a path ending in "/".
 */
static int split_path(const char *path, char *dir, size_t dirlen, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dirlen, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, dirlen, "/");
		*base = slash + 1;
	} else {
		if ((size_t)(slash - path) >= dirlen)
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		*base = slash + 1;
	}
	return **base ? 0 : -EINVAL;
}

/*
 * Open the directory of the socket, creating it when missing (mode LISTEN_DIR_MODE,
 * owned by owner/group). What we just made is set through its descriptor, opened
 * without following a symlink, so that a directory swapped in between cannot be
 * given away; an existing one is taken as it is.
 */
static int open_parent(const char *dir, uid_t owner, gid_t group, int *dfd_out)
{
	int made = mkdir(dir, LISTEN_DIR_MODE) == 0;
	int dfd, err;

	if (!made && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0));
	if (dfd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	/* umask may have taken bits away; the daemon's user owns what it made. */
	if (made && (fchmod(dfd, LISTEN_DIR_MODE) < 0 ||
		     (owner != (uid_t)-1 && fchown(dfd, owner, group) < 0))) {
		err = -errno;
		close(dfd);
		return err;
	}
	*dfd_out = dfd;
	return 0;
}

/*
 * Something is at the socket's path. A socket nobody accepts on is left over from an
 * engine that died: remove it. A live server, or anything that is not a socket, stays.
 */
static int replace_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = rc < 0 ? errno : 0;
	close(fd);
	/* EAGAIN: a live server whose backlog is full. */
	if (err != ECONNREFUSED && err != ENOENT)
		return -EADDRINUSE;
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* bind() with the socket's final mode from the umask, so that no chmod() follows. */
static int bind_socket(int fd, const struct sockaddr_un *sun)
{
	mode_t old = umask(0777 & ~LISTEN_SOCKET_MODE);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int err = rc < 0 ? -errno : 0;

	umask(old);
	return err;
}

/*
 * Bind fd inside the private directory pfd, reached through /proc/self/fd so that no
 * path component can be swapped under us, and give the file to owner/group there.
 */
static int bind_private(int fd, int pfd, const char *priv_path, const char *base, uid_t owner,
			gid_t group)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s", pfd, base);
	int err;

	/* Without /proc (or for a name too long for it) the private path itself. */
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path) || access("/proc/self/fd", X_OK) < 0) {
		if (!priv_path[0])
			return -ENAMETOOLONG;
		n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", priv_path, base);
	}
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	err = bind_socket(fd, &sun);
	if (!err && owner != (uid_t)-1 &&
	    fchownat(pfd, base, owner, group, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	return err;
}

/*
 * Move the bound socket from the private directory to its place. RENAME_NOREPLACE: what
 * is already there goes through replace_stale() first (a live server stays).
 */
static int move_into_place(int pfd, int dfd, const char *base, const struct sockaddr_un *sun)
{
	int err;

	if (renameat2(pfd, base, dfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	err = replace_stale(sun);
	if (err < 0)
		return err;
	return renameat2(pfd, base, dfd, base, RENAME_NOREPLACE) == 0 ? 0 : -errno;
}

/*
 * Why a private directory: the socket's directory may belong to the user we drop to
 * (we give it the one we create), and a chmod() or chown() by path there, as root,
 * after bind() would follow whatever that user swapped in at the name meanwhile (a
 * symlink to /etc/shadow, say). So the socket is bound in a directory only root can
 * enter, made in the same directory, its mode comes from the umask at bind() and its
 * owner is set there, and only then is it renamed into place: rename() replaces names,
 * it never follows them.
 */
static int bind_in_private_dir(int fd, int dfd, const char *dir, const char *base,
			       const struct sockaddr_un *sun, uid_t owner, gid_t group)
{
	char priv[LISTEN_PRIVATE_NAME_MAX], priv_path[sizeof(sun->sun_path)];
	int pfd, err;

	snprintf(priv, sizeof(priv), ".hopwatchd-bind.%ld", (long)getpid());
	if (mkdirat(dfd, priv, 0700) < 0)
		return -errno;
	pfd = openat(dfd, priv, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
		unlinkat(dfd, priv, AT_REMOVEDIR);
		return err;
	}
	if ((size_t)snprintf(priv_path, sizeof(priv_path), "%s/%s", dir, priv) >= sizeof(priv_path))
		priv_path[0] = '\0'; /* bind_private() reaches it through /proc, or not at all */
	err = bind_private(fd, pfd, priv_path, base, owner, group);
	/* Listening before the name appears: whoever sees it can connect (no refusal race). */
	if (!err && listen(fd, LISTEN_BACKLOG) < 0)
		err = -errno;
	if (!err)
		err = move_into_place(pfd, dfd, base, sun);
	if (err)
		unlinkat(pfd, base, 0);
	close(pfd);
	unlinkat(dfd, priv, AT_REMOVEDIR);
	return err;
}

int listen_bind_path(const char *path, uid_t owner, gid_t group, int *fd_out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[sizeof(sun.sun_path)];
	const char *base;
	int fd, dfd = -1, err;

	if (!path || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	err = split_path(path, dir, sizeof(dir), &base);
	if (!err)
		err = open_parent(dir, owner, group, &dfd);
	if (err < 0)
		return err;
	err = replace_stale(&sun);
	fd = err ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!err && fd < 0)
		err = -errno;
	if (!err)
		err = bind_in_private_dir(fd, dfd, dir, base, &sun, owner, group);
	close(dfd);
	if (err < 0) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int listen_open_dir(const char *path, int *dfd_out)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *base;
	int err = split_path(path, dir, sizeof(dir), &base);
	int dfd;

	if (err)
		return err;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	*dfd_out = dfd;
	return 0;
}

int listen_user_may_remove(int dfd, uid_t uid, gid_t gid)
{
	struct stat st;
	mode_t need;

	if (fstat(dfd, &st) < 0)
		return -errno;
	if (st.st_uid == uid)
		need = S_IWUSR | S_IXUSR;
	else if (st.st_gid == gid)
		need = S_IWGRP | S_IXGRP;
	else
		need = S_IWOTH | S_IXOTH;
	/* The socket is uid's, so the sticky bit (e.g. /tmp) does not stand in the way. */
	return (st.st_mode & need) == need;
}

static int sock_opt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		return -errno;
	return v;
}

int listen_activated(int *fd_out)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	int64_t pid = 0, nfds = 0;
	int fd = LISTEN_FDS_START, fl, i, rc = 0;

	if (!pid_s || !fds_s || numparse_i64_str(pid_s, 1, INT32_MAX, &pid) < 0 ||
	    pid != (int64_t)getpid())
		goto out; /* not for us: perhaps for a parent that did not unset them */
	if (numparse_i64_str(fds_s, 0, INT32_MAX - LISTEN_FDS_START, &nfds) < 0) {
		rc = -EINVAL;
		goto out;
	}
	if (nfds < 1)
		goto out;
	/* Never hand the extra ones to children (the broker is exec-less, but still). */
	for (i = 1; i < nfds; i++)
		fcntl(fd + i, F_SETFD, FD_CLOEXEC);
	if (nfds > 1)
		log_warnx("systemd passed %lld sockets; serving only the first", (long long)nfds);
	if (sock_opt(fd, SO_DOMAIN) != AF_UNIX || sock_opt(fd, SO_TYPE) != SOCK_STREAM ||
	    sock_opt(fd, SO_ACCEPTCONN) != 1) {
		rc = -EINVAL;
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	*fd_out = fd;
	rc = 1;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}
