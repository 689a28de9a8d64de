/*
 * hopwatch-monitor: long-running path monitoring. Parses argv, loads the configuration,
 * opens the JSON-lines output and the /metrics listener, wires signals (SIGHUP reloads and
 * reopens, SIGTERM/SIGINT stop, SIGCHLD reaps) and the service manager's notifications,
 * and runs the process's one event loop. Everything else lives in monitor.c and watch.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "client/dns.h"
#include "common/clock.h"
#include "common/log.h"
#include "monitor/config.h"
#include "monitor/http.h"
#include "monitor/monitor.h"
#include "monitor/notify.h"

/* Longest error line. */
#define MAIN_ERR_MAX 512

enum {
	OPT_METRICS = 256,
	OPT_JSON,
	OPT_ENGINE,
	OPT_CHECK,
};

static const char short_opts[] = "c:dhV";

static const struct option long_opts[] = {
	{"config", required_argument, NULL, 'c'},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"json", required_argument, NULL, OPT_JSON},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"check-config", no_argument, NULL, OPT_CHECK},
	{"debug", no_argument, NULL, 'd'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const char usage_text[] =
	"Usage: hopwatch-monitor [OPTION...] [HOST...]\n"
	"Trace every target of the configuration (and each HOST) without end; write one JSON\n"
	"line per target and window, and serve Prometheus metrics.\n"
	"\n"
	" -c, --config FILE      targets and settings (see hopwatch-monitor(8)); SIGHUP rereads "
	"it\n"
	"     --metrics ADDR:PORT serve /metrics there (e.g. 127.0.0.1:9101, [::1]:9101)\n"
	"     --json FILE        append the JSON lines to FILE (reopened on SIGHUP); default "
	"stdout\n"
	"     --engine SPEC      unix:PATH of a shared hopwatchd, or an engine program\n"
	"     --check-config     check the configuration and exit\n"
	" -d, --debug            debug messages on stderr\n"
	" -h, --help             this help\n"
	" -V, --version          the version\n";

struct args {
	const char *config;
	const char *metrics;
	const char *json;
	const char *engine;
	int check, debug;
	char **hosts;
	int nhosts;
};

struct app {
	struct event_base *base;
	struct args args;
	struct monitor *mon;
	struct http *http;
	FILE *out;
	struct event *sighup, *sigterm, *sigint, *sigchld, *watchdog_ev;
	uint64_t watchdog_us;
};

/* 0 to run, 1 to exit 0 (help, version), -1 to exit 2 (a usage error, said). */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case OPT_METRICS:
			a->metrics = optarg;
			break;
		case OPT_JSON:
			a->json = optarg;
			break;
		case OPT_ENGINE:
			a->engine = optarg;
			break;
		case OPT_CHECK:
			a->check = 1;
			break;
		case 'd':
			a->debug = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'V':
			printf("hopwatch-monitor %s\n", HOPWATCH_VERSION);
			return 1;
		default:
			log_warnx("unknown option or missing value; try 'hopwatch-monitor --help'");
			return -1;
		}
	}
	a->hosts = argv + optind;
	a->nhosts = argc - optind;
	return 0;
}

/* The configuration file (if any) and the command line's hosts. */
static int load_config(const struct args *a, struct monitor_config *cfg)
{
	char err[MAIN_ERR_MAX];
	int i, rc;

	monitor_config_init(cfg);
	if (a->config) {
		rc = monitor_config_load(cfg, a->config, err, sizeof(err));
		if (rc) {
			log_warnx("%s", err);
			return rc;
		}
	}
	for (i = 0; i < a->nhosts; i++) {
		rc = monitor_config_add_host(cfg, a->hosts[i], err, sizeof(err));
		if (rc) {
			log_warnx("%s", err);
			return rc;
		}
	}
	if (!cfg->ntargets) {
		log_warnx("no targets: give --config FILE or hosts; try 'hopwatch-monitor --help'");
		return -EINVAL;
	}
	return 0;
}

static FILE *open_output(const char *path)
{
	FILE *f;

	if (!path)
		return stdout;
	f = fopen(path, "a");
	if (!f)
		log_warn("cannot open %s", path);
	else
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;
	struct monitor_config cfg;
	char status[MONITOR_STATUS_MAX];
	FILE *f;

	(void)sig;
	(void)what;
	notify_reloading();
	/* Rotation first: a bad configuration must not keep the old file open for ever. */
	if (app->args.json) {
		f = open_output(app->args.json);
		if (f) {
			monitor_set_output(app->mon, f);
			if (app->out && app->out != stdout)
				fclose(app->out);
			app->out = f;
		}
	}
	if (load_config(&app->args, &cfg) == 0) {
		if (monitor_reload(app->mon, &cfg))
			log_warnx("cannot apply the new configuration; the old one stays");
	} else {
		log_warnx("the configuration has errors; the old one stays");
	}
	monitor_config_deinit(&cfg);
	monitor_status(app->mon, status, sizeof(status));
	notify_ready(status);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;

	(void)sig;
	(void)what;
	notify_stopping();
	event_base_loopbreak(app->base);
}

/* As PID 1 in a container the monitor inherits orphans: every child is reaped here. */
static void on_chld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	char status[MONITOR_STATUS_MAX];

	(void)fd;
	(void)what;
	notify_watchdog();
	monitor_status(app->mon, status, sizeof(status));
	notify_status(status);
}

static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int add_signals(struct app *app)
{
	app->sighup = evsignal_new(app->base, SIGHUP, on_hup, app);
	app->sigterm = evsignal_new(app->base, SIGTERM, on_term, app);
	app->sigint = evsignal_new(app->base, SIGINT, on_term, app);
	app->sigchld = evsignal_new(app->base, SIGCHLD, on_chld, app);
	if (!app->sighup || !app->sigterm || !app->sigint || !app->sigchld)
		return -ENOMEM;
	if (evsignal_add(app->sighup, NULL) || evsignal_add(app->sigterm, NULL) ||
	    evsignal_add(app->sigint, NULL) || evsignal_add(app->sigchld, NULL))
		return -EIO;
	app->watchdog_us = notify_watchdog_usec();
	if (app->watchdog_us) {
		/* Twice per interval, as systemd advises. */
		struct timeval tv = clock_tv_of_us((int64_t)(app->watchdog_us / 2));

		app->watchdog_ev = event_new(app->base, -1, EV_PERSIST, on_watchdog, app);
		if (!app->watchdog_ev || event_add(app->watchdog_ev, &tv))
			return -ENOMEM;
	}
	return 0;
}

static void app_free(struct app *app)
{
	struct event **evs[] = {&app->watchdog_ev, &app->sigchld, &app->sigint, &app->sigterm,
				&app->sighup};
	size_t i;

	app->http = http_free(app->http);
	app->mon = monitor_free(app->mon);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i])
			event_free(*evs[i]);
	/* The resolver's last owed calls come from the loop (see dns_free). */
	for (i = 0; app->base && i < DNS_TEARDOWN_PASSES; i++)
		event_base_loop(app->base, EVLOOP_NONBLOCK);
	if (app->base)
		event_base_free(app->base);
	if (app->out && app->out != stdout)
		fclose(app->out);
}

int main(int argc, char **argv)
{
	struct app app;
	struct monitor_config cfg;
	struct monitor_opts mo = {0};
	const struct http_stream_ops stream_ops = {
		.next = monitor_metrics_next,
		.free_state = monitor_metrics_free,
	};
	char err[MAIN_ERR_MAX], exe[PATH_MAX], status[MONITOR_STATUS_MAX];
	int rc;

	log_init("hopwatch-monitor", LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	memset(&app, 0, sizeof(app));
	rc = parse_args(argc, argv, &app.args);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (app.args.debug)
		log_init("hopwatch-monitor", LOG_LEVEL_DEBUG);
	rc = load_config(&app.args, &cfg);
	if (rc || app.args.check) {
		if (!rc)
			printf("%zu targets\n", cfg.ntargets);
		monitor_config_deinit(&cfg);
		return rc ? 1 : 0;
	}
	app.out = open_output(app.args.json);
	app.base = event_base_new();
	if (!app.out || !app.base) {
		monitor_config_deinit(&cfg);
		app_free(&app);
		return 1;
	}
	mo.engine = app.args.engine;
	mo.self_exe = self_exe(exe, sizeof(exe)) ? NULL : exe;
	mo.out = app.out;
	rc = monitor_new(&app.mon, app.base, &cfg, &mo);
	monitor_config_deinit(&cfg);
	if (rc) {
		log_warnx("cannot start: %s", strerror(-rc));
		app_free(&app);
		return 1;
	}
	if (app.args.metrics) {
		rc = http_new(&app.http, app.base, app.args.metrics, monitor_render_metrics,
			      app.mon, err, sizeof(err));
		if (rc) {
			log_warnx("%s", err);
			app_free(&app);
			return 1;
		}
		http_set_stream(app.http, &stream_ops);
	}
	rc = add_signals(&app);
	if (!rc)
		rc = monitor_start(app.mon);
	if (rc) {
		log_warnx("cannot start: %s", strerror(-rc));
		app_free(&app);
		return 1;
	}
	monitor_status(app.mon, status, sizeof(status));
	notify_ready(status);
	if (event_base_dispatch(app.base) < 0)
		log_warnx("the event loop failed");
	app_free(&app);
	return 0;
}
