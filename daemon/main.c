/*
 * hopwatchd: the packet engine. With no arguments it serves one client on
 * stdin/stdout with the mtr-packet protocol (mtr runs it as "mtr-packet").
 * Start-up order matters: raw sockets first (needs CAP_NET_RAW), then the broker is
 * forked (it alone keeps CAP_NET_RAW/CAP_NET_ADMIN, for mark and local-device), then
 * this process drops every privilege, and only then is the first command read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/engine.h"
#include "daemon/net.h"
#include "daemon/privsep.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hopwatchd [--user NAME] [--debug]\n"
		   "       hopwatchd --version | --help\n"
		   "Speaks the mtr-packet protocol on stdin/stdout (see PROTOCOL.md).\n"
		   "  --user NAME  unprivileged user to switch to when started as root "
		   "(default: nobody)\n"
		   "  --debug      log protocol errors and internal events to stderr\n");
}

int main(int argc, char **argv)
{
	struct privsep_config cfg = {0};
	struct privsep *ps = NULL;
	struct net *net = NULL;
	struct engine *eng = NULL;
	enum log_level level = LOG_LEVEL_WARN;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("hopwatchd %s\n", HOPWATCH_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--debug")) {
			level = LOG_LEVEL_DEBUG;
		} else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			cfg.user = argv[++i];
		} else {
			fprintf(stderr, "hopwatchd: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	log_init("hopwatchd", level);
	/* A client that goes away must be an error return from write(), not a signal. */
	signal(SIGPIPE, SIG_IGN);

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

	/* The broker is forked while we still hold the capabilities it keeps. */
	err = privsep_new(&ps, &cfg);
	if (err < 0)
		fatalx("cannot start the socket broker: %s", strerror(-err));
	/* From here on no privilege is left in the process that parses input. */
	err = privsep_drop(ps);
	if (err < 0)
		fatalx("cannot drop privileges: %s", strerror(-err));

	err = engine_new(&eng, net, ps, STDIN_FILENO, STDOUT_FILENO);
	if (err < 0)
		fatalx("cannot start the engine: %s", strerror(-err));
	err = engine_run(eng);

	eng = engine_free(eng);
	ps = privsep_free(ps);
	net = net_free(net);
	if (err < 0 && err != -EPIPE)
		log_warnx("stopped: %s", strerror(-err));
	return err < 0 && err != -EPIPE ? 1 : 0;
}
