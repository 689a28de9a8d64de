/*
 * hopwatchd: the packet engine. With no arguments it serves one client on
 * stdin/stdout with the mtr-packet protocol (mtr runs it as "mtr-packet"); with
 * --listen PATH, or a socket from systemd socket activation, it serves many clients
 * on a UNIX socket until SIGTERM/SIGINT.
 * Start-up order matters: raw sockets first (needs CAP_NET_RAW), then the listening
 * socket is made (its directory may need root), then the broker is forked (it alone
 * keeps CAP_NET_RAW/CAP_NET_ADMIN, for mark and local-device), then this process drops
 * every privilege and installs its system call filter, and only then is the first
 * command read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/numparse.h"
#include "daemon/engine.h"
#include "daemon/listen.h"
#include "daemon/net.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hopwatchd [--user NAME] [--debug]\n"
		"       hopwatchd --listen PATH [--max-inflight-per-user N] "
		"[--max-rate-per-user N] [--idle-timeout S] [--user NAME] [--debug]\n"
		"       hopwatchd --version | --help\n"
		"Speaks the mtr-packet protocol on stdin/stdout (see PROTOCOL.md), or to every\n"
		"client of a UNIX socket (--listen, or systemd socket activation).\n"
		"  --user NAME                 unprivileged user to switch to when started as root "
		"(default: hopwatchd)\n"
		"  --listen PATH               socket mode: serve clients on the UNIX socket PATH\n"
		"  --max-inflight-per-user N   socket mode: probes in flight per client uid "
		"(default %d)\n"
		"  --max-rate-per-user N       socket mode: probes per second per client uid "
		"(default %d)\n"
		"  --idle-timeout S            socket mode: close a connection after S seconds "
		"with no input and no probe in flight (default %d)\n"
		"  --debug                     log protocol errors and internal events to stderr\n",
		ENGINE_DEFAULT_INFLIGHT_PER_USER, ENGINE_DEFAULT_RATE_PER_USER,
		ENGINE_DEFAULT_IDLE_S);
}

static uint32_t limit_arg(const char *opt, const char *val)
{
	int64_t v;

	if (numparse_i64_str(val, 1, ENGINE_LIMIT_MAX, &v) < 0) {
		fprintf(stderr, "hopwatchd: %s needs a number from 1 to %d\n", opt,
			ENGINE_LIMIT_MAX);
		exit(2);
	}
	return (uint32_t)v;
}

/*
 * When the user we drop to cannot remove the socket file from its directory (a
 * directory of root's, say), the broker will, through a descriptor of the directory
 * opened now. Returns that descriptor, or -1 when the engine can remove it itself.
 */
static int plan_unlink(const char *path, uid_t uid, gid_t gid, struct privsep_config *cfg)
{
	const char *base = strrchr(path, '/');
	struct stat st;
	int dfd;

	base = base ? base + 1 : path;
	if (listen_open_dir(path, &dfd) < 0)
		return -1;
	if (listen_user_may_remove(dfd, uid, gid) != 0 ||
	    fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(dfd);
		return -1;
	}
	log_debug("%s: its directory is not writable by uid %u, the broker will remove it", path,
		  (unsigned)uid);
	cfg->unlink_name = base;
	cfg->unlink_dirfd = dfd;
	cfg->unlink_dev = st.st_dev;
	cfg->unlink_ino = st.st_ino;
	return dfd;
}

int main(int argc, char **argv)
{
	struct privsep_config cfg = {0};
	struct engine_limits lim = {0};
	struct privsep *ps = NULL;
	struct net *net = NULL;
	struct engine *eng = NULL;
	enum log_level level = LOG_LEVEL_WARN;
	const char *listen_path = NULL;
	int debug = 0, limits_set = 0, listen_fd = -1, created = 0, unlink_dirfd = -1, activated, i,
	    err;
	uid_t owner = (uid_t)-1;
	gid_t group = (gid_t)-1;
	sigset_t stop_sigs;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("hopwatchd %s\n", HOPWATCH_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--debug")) {
			debug = 1;
		} else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			cfg.user = argv[++i];
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_path = argv[++i];
		} else if (!strcmp(argv[i], "--max-inflight-per-user") && i + 1 < argc) {
			lim.inflight_per_user = limit_arg(argv[i], argv[i + 1]);
			limits_set = 1;
			i++;
		} else if (!strcmp(argv[i], "--idle-timeout") && i + 1 < argc) {
			lim.idle_s = limit_arg(argv[i], argv[i + 1]);
			if (lim.idle_s > ENGINE_IDLE_MAX_S) {
				fprintf(stderr, "hopwatchd: --idle-timeout is at most %d seconds\n",
					ENGINE_IDLE_MAX_S);
				return 2;
			}
			limits_set = 1;
			i++;
		} else if (!strcmp(argv[i], "--max-rate-per-user") && i + 1 < argc) {
			lim.rate_per_user = limit_arg(argv[i], argv[i + 1]);
			limits_set = 1;
			i++;
		} else {
			fprintf(stderr, "hopwatchd: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	/* Whatever the mode, the LISTEN_* variables must not reach anything we start. */
	activated = listen_activated(&listen_fd);
	/* A daemon's connects and disconnects belong in its journal; mtr's stderr stays quiet. */
	if (debug)
		level = LOG_LEVEL_DEBUG;
	else if (listen_path || activated > 0)
		level = LOG_LEVEL_INFO;
	log_init("hopwatchd", level);
	if (activated < 0)
		fatalx("the socket passed by systemd (descriptor %d) is not a listening UNIX "
		       "stream socket",
		       LISTEN_FDS_START);
	if (limits_set && !listen_path && activated <= 0)
		fatalx("--max-inflight-per-user, --max-rate-per-user and --idle-timeout apply to "
		       "socket mode (--listen) only");
	if (activated > 0 && listen_path) {
		log_info("serving the socket from systemd; --listen %s ignored", listen_path);
		listen_path = NULL;
	}
	/* A client that goes away must be an error return from write(), not a signal. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * SIGTERM and SIGINT wait until the event loop can take them: one that came before
	 * (say, just as the socket appeared) would end the process at once and leave the
	 * broker unreaped and the socket file behind.
	 */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_sigs, NULL);

	err = net_new(&net);
	if (err == -EPERM || err == -EACCES)
		fatalx("cannot open raw sockets: CAP_NET_RAW is missing (and ICMP datagram "
		       "sockets are not allowed for this group by net.ipv4.ping_group_range). "
		       "Run as root, or grant it once: setcap cap_net_raw,cap_net_admin+ep %s",
		       argv[0]);
	if (err < 0)
		fatalx("cannot open raw sockets: %s", strerror(-err));
	if (net_get_mode(net) == NET_MODE_DGRAM)
		log_warnx("no CAP_NET_RAW: using ICMP datagram sockets, ICMP probes only "
			  "(setcap cap_net_raw,cap_net_admin+ep %s for UDP and TCP)",
			  argv[0]);

	/*
	 * The listening socket first, while root (its directory may be root's), and owned
	 * by the user we become, so that it can still be removed at exit. The broker,
	 * forked next, closes its copy at once.
	 */
	if (listen_path) {
		if (geteuid() == 0 && privsep_lookup_user(&cfg, &owner, &group) < 0)
			owner = (uid_t)-1, group = (gid_t)-1;
		err = listen_bind_path(listen_path, owner, group, &listen_fd);
		if (err == -EADDRINUSE)
			fatalx("cannot listen on %s: another engine is serving it", listen_path);
		if (err == -EEXIST)
			fatalx("cannot listen on %s: it exists and is not a socket", listen_path);
		if (err < 0)
			fatalx("cannot listen on %s: %s", listen_path, strerror(-err));
		created = 1;
		if (owner != (uid_t)-1)
			unlink_dirfd = plan_unlink(listen_path, owner, group, &cfg);
	}
	/* The broker is forked while we still hold the capabilities it keeps. */
	err = privsep_new(&ps, &cfg);
	if (unlink_dirfd >= 0)
		close(unlink_dirfd); /* the broker has its copy */
	if (err < 0) {
		if (created)
			unlink(listen_path);
		fatalx("cannot start the socket broker: %s", strerror(-err));
	}
	/* When the broker removes the socket file, we must not (we could not, either). */
	if (cfg.unlink_name)
		created = 0;
	/* From here on no privilege is left in the process that parses input. */
	err = privsep_drop(ps);
	if (err < 0) {
		if (created)
			unlink(listen_path);
		fatalx("cannot drop privileges: %s", strerror(-err));
	}
	/*
	 * Then the system call filter, still before the first byte of input: not earlier,
	 * because the drop needs setresuid, capset and prctl, which the filter forbids (and
	 * a filter installed first would have to allow them for good); not later, so that
	 * no client ever talks to an unconfined engine.
	 */
	err = sandbox_install(SANDBOX_ENGINE, -1);
	if (err < 0) {
		if (created)
			unlink(listen_path);
		fatalx("cannot install the system call filter: %s", strerror(-err));
	}

	if (listen_fd >= 0) {
		err = engine_new_listener(&eng, net, ps, listen_fd, &lim);
		if (err == 0)
			log_info("serving clients on %s (uid %u)",
				 listen_path ? listen_path : "the socket from systemd",
				 (unsigned)geteuid());
	} else {
		err = engine_new(&eng, net, ps, STDIN_FILENO, STDOUT_FILENO);
	}
	if (err < 0) {
		if (created)
			unlink(listen_path);
		fatalx("cannot start the engine: %s", strerror(-err));
	}
	sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
	err = engine_run(eng);

	eng = engine_free(eng);
	ps = privsep_free(ps);
	net = net_free(net);
	if (created && unlink(listen_path) < 0)
		log_warn("cannot remove %s", listen_path);
	if (err < 0 && err != -EPIPE)
		log_warnx("stopped: %s", strerror(-err));
	return err < 0 && err != -EPIPE ? 1 : 0;
}
