/*
 * listen: the AF_UNIX listening socket of socket mode. A socket file left behind by an
 * engine that died is replaced; a live one is never taken over. The file is the
 * daemon user's, so that it can still remove it after the privilege drop.
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

/* Create the directory of path when it is missing; an existing one must be a directory. */
static int make_parent(const char *path, uid_t owner, gid_t group)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* the working directory or / */
	*slash = '\0';
	if (mkdir(dir, LISTEN_DIR_MODE) == 0) {
		/* umask may have taken bits away; the daemon's user owns what it made. */
		if (chmod(dir, LISTEN_DIR_MODE) < 0)
			return -errno;
		if (owner != (uid_t)-1 && chown(dir, owner, group) < 0)
			return -errno;
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
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

static int bind_socket(int fd, const struct sockaddr_un *sun)
{
	mode_t old = umask(0777 & ~LISTEN_SOCKET_MODE);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int err = rc < 0 ? -errno : 0;

	umask(old);
	return err;
}

int listen_bind_path(const char *path, uid_t owner, gid_t group, int *fd_out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, err;

	if (!path || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	err = make_parent(path, owner, group);
	if (err < 0)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	err = bind_socket(fd, &sun);
	if (err == -EADDRINUSE) {
		err = replace_stale(&sun);
		if (err == 0)
			err = bind_socket(fd, &sun);
	}
	if (err < 0)
		goto fail;
	/* Owned by the daemon's user, so that it can still remove it after the drop. */
	if (chmod(path, LISTEN_SOCKET_MODE) < 0 ||
	    (owner != (uid_t)-1 && chown(path, owner, group) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		err = -errno;
		unlink(path);
		goto fail;
	}
	*fd_out = fd;
	return 0;
fail:
	close(fd);
	return err;
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
