/*
 * options: mtr's command line for hopwatch. HOPWATCH_OPTIONS words go first, as
 * MTR_OPTIONS does, so that the command line overrides them.
 */
#include "common/errmsg.h"
#include "common/text.h"
#include "client/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/history.h"
#include "common/numparse.h"

/* Longest part of a bad value echoed back in an error line. */
#define OPT_ECHO_MAX 40

enum {
	OPT_HTML = 256,
	OPT_TEXT,
	OPT_ENGINE,
	OPT_OUTPUT,
	OPT_REPORT_ON_EXIT,
	OPT_DISPLAYMODE,
	OPT_LRU,
	OPT_HISTORY,
	OPT_ANALYZE,
	OPT_NO_CONFIRM,
	OPT_MAX_CONCURRENT,
	OPT_ECMP,
	OPT_FLOWS,
};

static const char short_opts[] = "hvrwjCxlpc:i:nb46s:B:Q:a:I:f:m:U:uTSP:L:M:eE:o:Z:G:F:tgy:z";

static const struct option long_opts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'v'},
	{"report", no_argument, NULL, 'r'},
	{"report-wide", no_argument, NULL, 'w'},
	{"json", no_argument, NULL, 'j'},
	{"csv", no_argument, NULL, 'C'},
	{"xml", no_argument, NULL, 'x'},
	{"raw", no_argument, NULL, 'l'},
	{"split", no_argument, NULL, 'p'},
	{"html", no_argument, NULL, OPT_HTML},
	{"text", no_argument, NULL, OPT_TEXT},
	{"report-cycles", required_argument, NULL, 'c'},
	{"interval", required_argument, NULL, 'i'},
	{"no-dns", no_argument, NULL, 'n'},
	{"show-ips", no_argument, NULL, 'b'},
	{"inet", no_argument, NULL, '4'},
	{"inet6", no_argument, NULL, '6'},
	{"psize", required_argument, NULL, 's'},
	{"bitpattern", required_argument, NULL, 'B'},
	{"tos", required_argument, NULL, 'Q'},
	{"address", required_argument, NULL, 'a'},
	{"interface", required_argument, NULL, 'I'},
	{"first-ttl", required_argument, NULL, 'f'},
	{"max-ttl", required_argument, NULL, 'm'},
	{"max-unknown", required_argument, NULL, 'U'},
	{"udp", no_argument, NULL, 'u'},
	{"tcp", no_argument, NULL, 'T'},
	{"sctp", no_argument, NULL, 'S'},
	{"port", required_argument, NULL, 'P'},
	{"localport", required_argument, NULL, 'L'},
	{"mark", required_argument, NULL, 'M'},
	{"mpls", no_argument, NULL, 'e'},
	{"max-display-path", required_argument, NULL, 'E'},
	{"order", required_argument, NULL, 'o'},
	{"timeout", required_argument, NULL, 'Z'},
	{"gracetime", required_argument, NULL, 'G'},
	{"filename", required_argument, NULL, 'F'},
	{"curses", no_argument, NULL, 't'},
	{"gtk", no_argument, NULL, 'g'},
	{"ipinfo", required_argument, NULL, 'y'},
	{"aslookup", no_argument, NULL, 'z'},
	{"displaymode", required_argument, NULL, OPT_DISPLAYMODE},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"report-on-exit", no_argument, NULL, OPT_REPORT_ON_EXIT},
	{"lru", required_argument, NULL, OPT_LRU},
	{"history", no_argument, NULL, OPT_HISTORY},
	{"analyze", no_argument, NULL, OPT_ANALYZE},
	{"no-confirm", no_argument, NULL, OPT_NO_CONFIRM},
	{"max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT},
	{"ecmp", required_argument, NULL, OPT_ECMP},
	{"flows", required_argument, NULL, OPT_FLOWS},
	{NULL, 0, NULL, 0},
};

static const char usage_text[] =
	"Usage: hopwatch [OPTION...] HOSTNAME...\n"
	" -F, --filename FILE        read hostnames from a file\n"
	" -4, --inet                 use IPv4 only\n"
	" -6, --inet6                use IPv6 only\n"
	" -u, --udp                  use UDP instead of ICMP echo\n"
	" -T, --tcp                  use TCP instead of ICMP echo (not with -u)\n"
	" -I, --interface NAME       use named network interface\n"
	" -a, --address ADDRESS      bind the outgoing socket to ADDRESS\n"
	" -f, --first-ttl NUMBER     set what TTL to start\n"
	" -m, --max-ttl NUMBER       maximum number of hops (default 30)\n"
	" -U, --max-unknown NUMBER   maximum unknown host (default 12)\n"
	" -P, --port PORT            target port number for TCP, UDP\n"
	" -L, --localport LOCALPORT  source port number for UDP\n"
	" -s, --psize PACKETSIZE     set the packet size used for probing\n"
	" -B, --bitpattern NUMBER    set bit pattern to use in payload\n"
	" -i, --interval SECONDS     ICMP echo request interval (default 1)\n"
	" -G, --gracetime SECONDS    seconds to wait for responses, e.g. 0.5 (default 5)\n"
	" -Q, --tos NUMBER           type of service field in IP header\n"
	" -e, --mpls                 display information from ICMP extensions\n"
	" -Z, --timeout SECONDS      seconds to keep probe sockets open (default 10)\n"
	" -M, --mark MARK            mark each sent packet\n"
	" -r, --report               output using report mode\n"
	" -w, --report-wide          output wide report\n"
	" -c, --report-cycles COUNT  set the number of pings sent (default 10)\n"
	" -j, --json                 output json\n"
	" -x, --xml                  output xml\n"
	" -C, --csv                  output comma separated values\n"
	" -l, --raw                  output raw format\n"
	" -p, --split                split output\n"
	"     --html, --text         WinMTR export (to stdout or --output FILE)\n"
	"     --output FILE          file for the report (a report flag or --report-on-exit)\n"
	" -t, --curses               use curses terminal interface (the default)\n"
	"     --displaymode MODE     initial live display: 0 statistics, 1 blockmap, 2 scaled\n"
	"     --report-on-exit       print a report when the live view ends\n"
	" -n, --no-dns               do not resolve host names\n"
	" -b, --show-ips             show IP numbers and host names\n"
	" -o, --order FIELDS         select output fields\n"
	" -y, --ipinfo NUMBER        select IP information in output\n"
	" -z, --aslookup             display AS number\n"
	" -E, --max-display-path N   maximum number of ECMP paths shown per hop (default 8)\n"
	"     --engine SPEC          unix:PATH of a shared hopwatchd, or an engine program\n"
	"     --lru N                size of the host history (default 128, 0 = none)\n"
	"     --history              list recently traced hosts, newest first, and exit\n"
	"     --analyze              add a diagnosis of the path after the report\n"
	"     --no-confirm           with --analyze: send no TCP/UDP/ICMP probes to confirm\n"
	"                            a silent or lossy end of the path\n"
	"     --max-concurrent N     trace at most N of the hosts at once "
	"(default " OPTIONS_DEFAULT_MAX_CONCURRENT_STR ")\n"
	"     --ecmp MODE            classic (per-probe flows, the default) or paris\n"
	"                            (one flow for every probe: one ECMP path)\n"
	"     --flows N              trace N Paris flows (1..16), one per round, and show\n"
	"                            where their paths differ\n"
	" -h, --help                 display this help and exit\n"
	" -v, --version              output version information and exit\n"
	"Environment: HOPWATCH_OPTIONS (default options), HOPWATCH_ENGINE (engine program),\n"
	"  HOPWATCH_RESOLV_CONF (resolv.conf for reverse DNS instead of the system's),\n"
	"  HOPWATCH_NO_HISTORY (set: record no history), XDG_STATE_HOME (where the history is:\n"
	"  $XDG_STATE_HOME/hopwatch/history, else ~/.local/state/hopwatch/history).\n";

const char *options_usage(void)
{
	return usage_text;
}

static int bad_value(int opt, const char *name, const char *arg, const char *want, char *err,
		     size_t errlen)
{
	char v[OPT_ECHO_MAX + 1];

	text_clean(v, sizeof(v), arg, OPT_ECHO_MAX);
	if (opt < OPT_HTML)
		errmsg_set(err, errlen, "invalid value '%s' for -%c (--%s): expected %s", v, opt,
			   name, want);
	else
		errmsg_set(err, errlen, "invalid value '%s' for --%s: expected %s", v, name, want);
	return -EINVAL;
}

static const char *long_name(int opt)
{
	size_t i;

	for (i = 0; long_opts[i].name; i++)
		if (long_opts[i].val == opt)
			return long_opts[i].name;
	return "?";
}

static int parse_int(int opt, const char *arg, int64_t min, int64_t max, int64_t *out, char *err,
		     size_t errlen)
{
	char want[64];

	if (numparse_i64_str(arg, min, max, out) == 0)
		return 0;
	snprintf(want, sizeof(want), "an integer in %lld..%lld", (long long)min, (long long)max);
	return bad_value(opt, long_name(opt), arg, want, err, errlen);
}

/* Seconds as a decimal number, e.g. "0.25", into microseconds. */
static int parse_seconds(int opt, const char *arg, double max_s, int64_t *out_us, char *err,
			 size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v <= 0 || v > max_s ||
	    !isdigit((unsigned char)arg[0]))
		return bad_value(opt, long_name(opt), arg, "a positive number of seconds", err,
				 errlen);
	*out_us = (int64_t)llround(v * 1e6);
	if (*out_us < 1)
		*out_us = 1;
	return 0;
}

static int add_target(struct options *o, const char *name, char *err, size_t errlen)
{
	char **grown;

	if (o->ntargets >= OPTIONS_MAX_TARGETS) {
		errmsg_set(err, errlen, "too many hosts (at most %d)", OPTIONS_MAX_TARGETS);
		return -EINVAL;
	}
	grown = realloc(o->targets, (o->ntargets + 1) * sizeof(*grown));
	if (!grown) {
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->targets = grown;
	o->targets[o->ntargets] = strdup(name);
	if (!o->targets[o->ntargets]) {
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->ntargets++;
	return 0;
}

/* -F: one host a line; blank lines and lines starting with '#' are skipped. */
static int read_hosts(struct options *o, const char *path, char *err, size_t errlen)
{
	char line[OPTIONS_HOST_MAX + 2];
	char v[OPT_ECHO_MAX + 1];
	FILE *f;
	int rc = 0;

	text_clean(v, sizeof(v), path, OPT_ECHO_MAX);
	f = fopen(path, "r");
	if (!f) {
		errmsg_set(err, errlen, "cannot open host file '%s': %s", v, strerror(errno));
		return -EINVAL;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		if (!strchr(line, '\n') && !feof(f)) {
			errmsg_set(err, errlen, "host file '%s': line longer than %d bytes", v,
				   OPTIONS_HOST_MAX);
			rc = -EINVAL;
			break;
		}
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		rc = add_target(o, s, err, errlen);
	}
	if (!rc && ferror(f)) {
		errmsg_set(err, errlen, "cannot read host file '%s'", v);
		rc = -EINVAL;
	}
	fclose(f);
	return rc;
}

/* mtr: one protocol flag at most, even the same one twice. */
static int set_proto(struct options *o, int c, char *err, size_t errlen)
{
	if (o->proto != PROTO_PROTOCOL_ICMP) {
		errmsg_set(err, errlen, "-u, -T and -S are mutually exclusive");
		return -EINVAL;
	}
	if (c == 'S') {
		errmsg_set(err, errlen, "SCTP is not supported by the hopwatch engine");
		return -EINVAL;
	}
	o->proto = c == 'u' ? PROTO_PROTOCOL_UDP : PROTO_PROTOCOL_TCP;
	return OPTIONS_RUN;
}

static void set_format(struct options *o, enum report_format f)
{
	o->report = 1;
	o->format = f;
}

static int set_ecmp(struct options *o, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "classic"))
		o->ecmp = OPTIONS_ECMP_CLASSIC;
	else if (!strcmp(arg, "paris"))
		o->ecmp = OPTIONS_ECMP_PARIS;
	else
		return bad_value(OPT_ECMP, "ecmp", arg, "classic or paris", err, errlen);
	o->ecmp_given = 1;
	return 0;
}

/*
 * --flows against the rest of the line: it is Paris probing, and the flow id has to reach
 * a field routers hash (the ICMP checksum, the UDP destination port; not TCP's ports).
 */
static int check_flows(struct options *o, char *err, size_t errlen)
{
	if (!o->flows)
		return 0;
	if (o->ecmp_given && o->ecmp == OPTIONS_ECMP_CLASSIC) {
		errmsg_set(err, errlen, "--flows is Paris probing: not with --ecmp classic");
		return -EINVAL;
	}
	if (o->proto == PROTO_PROTOCOL_TCP || o->proto == PROTO_PROTOCOL_SCTP ||
	    (o->proto == PROTO_PROTOCOL_UDP && o->port)) {
		errmsg_set(err, errlen,
			   "--flows needs ICMP or UDP without -P: the flow id picks the "
			   "checksum or the port");
		return -EINVAL;
	}
	o->ecmp = OPTIONS_ECMP_PARIS;
	return 0;
}

static void defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->format = REPORT_FORMAT_REPORT;
	o->count = OPTIONS_DEFAULT_COUNT;
	o->interval_us = OPTIONS_DEFAULT_INTERVAL_US;
	o->psize = OPTIONS_DEFAULT_PSIZE;
	o->first_ttl = 1;
	o->max_ttl = OPTIONS_DEFAULT_MAX_TTL;
	o->max_unknown = OPTIONS_DEFAULT_MAX_UNKNOWN;
	o->proto = PROTO_PROTOCOL_ICMP;
	o->max_ecmp = OPTIONS_DEFAULT_MAX_ECMP;
	o->timeout_s = OPTIONS_DEFAULT_TIMEOUT_S;
	o->grace_us = OPTIONS_DEFAULT_GRACE_US;
	o->lru = HISTORY_DEFAULT_MAX;
	o->max_concurrent = OPTIONS_DEFAULT_MAX_CONCURRENT;
	o->ipinfo = -1;
}

static int handle(struct options *o, int c, const char *arg, int is_root, char *err, size_t errlen)
{
	int64_t v;
	int rc;

	switch (c) {
	case 'h':
		return OPTIONS_HELP;
	case 'v':
		return OPTIONS_VERSION;
	case 'r':
		set_format(o, REPORT_FORMAT_REPORT);
		break;
	case 'w':
		set_format(o, REPORT_FORMAT_WIDE);
		break;
	case 'j':
		set_format(o, REPORT_FORMAT_JSON);
		break;
	case 'C':
		set_format(o, REPORT_FORMAT_CSV);
		break;
	case 'x':
		set_format(o, REPORT_FORMAT_XML);
		break;
	case 'l':
		set_format(o, REPORT_FORMAT_RAW);
		break;
	case 'p':
		set_format(o, REPORT_FORMAT_SPLIT);
		break;
	case OPT_HTML:
		set_format(o, REPORT_FORMAT_HTML);
		break;
	case OPT_TEXT:
		set_format(o, REPORT_FORMAT_TEXT);
		break;
	case 'c':
		rc = parse_int(c, arg, 1, OPTIONS_MAX_COUNT, &v, err, errlen);
		if (rc)
			return rc;
		o->count = (int)v;
		o->count_set = 1;
		break;
	case 'i':
		rc = parse_seconds(c, arg, OPTIONS_MAX_INTERVAL_S, &o->interval_us, err, errlen);
		if (rc)
			return rc;
		if (o->interval_us < OPTIONS_DEFAULT_INTERVAL_US && !is_root) {
			errmsg_set(err, errlen,
				   "non-root users cannot request an interval < 1.0 seconds");
			return -EINVAL;
		}
		break;
	case 'n':
		o->numeric = 1;
		break;
	case 'b':
		o->show_ips = 1;
		break;
	case '4':
		o->family = 4;
		break;
	case '6':
		o->family = 6;
		break;
	case 's':
		rc = parse_int(c, arg, -OPTIONS_MAX_PSIZE, OPTIONS_MAX_PSIZE, &v, err, errlen);
		if (rc)
			return rc;
		o->psize = (int)v;
		break;
	case 'B':
		rc = parse_int(c, arg, 0, INT32_MAX, &v, err, errlen);
		if (rc)
			return rc;
		/* mtr: a pattern above 255 means a random one each round. */
		o->bitpattern = v > 255 ? -1 : (int)v;
		break;
	case 'Q':
		rc = parse_int(c, arg, 0, 255, &v, err, errlen);
		if (rc)
			return rc;
		o->tos = (int)v;
		break;
	case 'a':
		o->src_addr = arg;
		break;
	case 'I':
		if (!*arg || strlen(arg) > 15 || strchr(arg, '/'))
			return bad_value(c, long_name(c), arg, "an interface name", err, errlen);
		o->interface = arg;
		break;
	case 'f':
		rc = parse_int(c, arg, 1, OPTIONS_MAX_TTL, &v, err, errlen);
		if (rc)
			return rc;
		o->first_ttl = (int)v;
		break;
	case 'm':
		rc = parse_int(c, arg, 1, OPTIONS_MAX_TTL, &v, err, errlen);
		if (rc)
			return rc;
		o->max_ttl = (int)v;
		break;
	case 'U':
		rc = parse_int(c, arg, 1, OPTIONS_MAX_TTL, &v, err, errlen);
		if (rc)
			return rc;
		o->max_unknown = (int)v;
		break;
	case 'u':
	case 'T':
	case 'S':
		return set_proto(o, c, err, errlen);
	case 'P':
		rc = parse_int(c, arg, 1, 65535, &v, err, errlen);
		if (rc)
			return rc;
		o->port = (int)v;
		break;
	case 'L':
		rc = parse_int(c, arg, 1024, 65535, &v, err, errlen);
		if (rc)
			return rc;
		o->local_port = (int)v;
		break;
	case 'M':
		rc = parse_int(c, arg, 0, UINT32_MAX, &v, err, errlen);
		if (rc)
			return rc;
		o->has_mark = 1;
		o->mark = (uint32_t)v;
		break;
	case 'e':
		o->mpls = 1;
		break;
	case 'E':
		rc = parse_int(c, arg, 1, 8, &v, err, errlen);
		if (rc)
			return rc;
		o->max_ecmp = (int)v;
		break;
	case 'o':
		if (report_check_fields(arg))
			return bad_value(c, long_name(c), arg, "mtr field letters (e.g. LSRNABWV)",
					 err, errlen);
		o->fields = arg;
		break;
	case 'Z':
		rc = parse_int(c, arg, 1, OPTIONS_MAX_TIMEOUT_S, &v, err, errlen);
		if (rc)
			return rc;
		o->timeout_s = (int)v;
		break;
	case 'G':
		return parse_seconds(c, arg, OPTIONS_MAX_GRACE_S, &o->grace_us, err, errlen);
	case 'F':
		return read_hosts(o, arg, err, errlen);
	case 't':
		o->report = 0;
		break;
	case OPT_DISPLAYMODE:
		rc = parse_int(c, arg, 0, 2, &v, err, errlen);
		if (rc)
			return rc;
		o->display_mode = (int)v;
		break;
	case 'g':
		errmsg_set(err, errlen,
			   "the GTK interface is not available in hopwatch; use the "
			   "terminal view (-t) or a report");
		return -EINVAL;
	case 'y':
		/* mtr 0.95: -y N shows field N of the AS record, which turns the lookup on. */
		rc = parse_int(c, arg, 0, OPTIONS_MAX_IPINFO, &v, err, errlen);
		if (rc)
			return rc;
		o->ipinfo = (int)v;
		break;
	case 'z':
		o->ipinfo = 0;
		break;
	case OPT_ENGINE:
		o->engine = arg;
		break;
	case OPT_OUTPUT:
		o->output = arg;
		break;
	case OPT_REPORT_ON_EXIT:
		o->report_on_exit = 1;
		break;
	case OPT_LRU:
		rc = parse_int(c, arg, 0, HISTORY_LIMIT, &v, err, errlen);
		if (rc)
			return rc;
		o->lru = (int)v;
		break;
	case OPT_HISTORY:
		o->history = 1;
		break;
	case OPT_ANALYZE:
		o->analyze = 1;
		break;
	case OPT_NO_CONFIRM:
		o->no_confirm = 1;
		break;
	case OPT_MAX_CONCURRENT:
		rc = parse_int(c, arg, 1, OPTIONS_MAX_TARGETS, &v, err, errlen);
		if (rc)
			return rc;
		o->max_concurrent = (size_t)v;
		break;
	case OPT_ECMP:
		return set_ecmp(o, arg, err, errlen);
	case OPT_FLOWS:
		rc = parse_int(c, arg, 1, OPTIONS_MAX_FLOWS, &v, err, errlen);
		if (rc)
			return rc;
		o->flows = (int)v;
		break;
	default:
		errmsg_set(err, errlen, "unknown option; try 'hopwatch --help'");
		return -EINVAL;
	}
	return OPTIONS_RUN;
}

/* Split the environment defaults on white space into words appended to argv_out. */
static int split_env(struct options *o, const char *env, char **argv_out, int *argc_out, char *err,
		     size_t errlen)
{
	char *p;

	if (strlen(env) > OPTIONS_ENV_MAX) {
		errmsg_set(err, errlen, "HOPWATCH_OPTIONS is longer than %d bytes",
			   OPTIONS_ENV_MAX);
		return -EINVAL;
	}
	o->env_copy = strdup(env);
	if (!o->env_copy) {
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (p = strtok(o->env_copy, " \t\n"); p; p = strtok(NULL, " \t\n")) {
		if (*argc_out >= OPTIONS_MAX_ARGS - 1) {
			errmsg_set(err, errlen, "too many words in HOPWATCH_OPTIONS");
			return -EINVAL;
		}
		argv_out[(*argc_out)++] = p;
	}
	return 0;
}

int options_parse(struct options *o, int argc, char *const *argv, const char *env, int is_root,
		  char *err, size_t errlen)
{
	char *args[OPTIONS_MAX_ARGS];
	int nargs = 0, i, c, rc;

	defaults(o);
	if (err && errlen)
		err[0] = '\0';
	args[nargs++] = (char *)(argc > 0 ? argv[0] : "hopwatch");
	if (env && *env) {
		rc = split_env(o, env, args, &nargs, err, errlen);
		if (rc)
			return rc;
	}
	for (i = 1; i < argc; i++) {
		if (nargs >= OPTIONS_MAX_ARGS - 1) {
			errmsg_set(err, errlen, "too many arguments");
			return -EINVAL;
		}
		args[nargs++] = argv[i];
	}
	args[nargs] = NULL;

	optind = 0; /* GNU: reinitialise, so options_parse can run more than once */
	opterr = 0;
	while ((c = getopt_long(nargs, args, short_opts, long_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			char v[OPT_ECHO_MAX + 1];

			if (optopt && optopt < OPT_HTML && isprint(optopt) &&
			    strchr(short_opts, optopt))
				errmsg_set(err, errlen, "option -%c needs a value", optopt);
			else if (optopt) {
				text_clean(v, sizeof(v), args[optind - 1], OPT_ECHO_MAX);
				if (optopt >= OPT_HTML || !isprint(optopt))
					errmsg_set(err, errlen, "option '%s' needs a value", v);
				else
					errmsg_set(err, errlen,
						   "unknown option -%c; try 'hopwatch --help'",
						   optopt);
			} else {
				text_clean(v, sizeof(v), args[optind - 1], OPT_ECHO_MAX);
				errmsg_set(err, errlen,
					   "unknown option '%s'; try 'hopwatch --help'", v);
			}
			return -EINVAL;
		}
		rc = handle(o, c, optarg, is_root, err, errlen);
		if (rc != OPTIONS_RUN)
			return rc;
	}
	for (i = optind; i < nargs; i++) {
		rc = add_target(o, args[i], err, errlen);
		if (rc)
			return rc;
	}
	if (o->first_ttl > o->max_ttl) {
		errmsg_set(err, errlen, "first TTL (-f %d) is above the maximum TTL (-m %d)",
			   o->first_ttl, o->max_ttl);
		return -EINVAL;
	}
	if (o->local_port && o->proto == PROTO_PROTOCOL_ICMP) {
		errmsg_set(err, errlen, "-L (--localport) needs -u or -T");
		return -EINVAL;
	}
	if (check_flows(o, err, errlen))
		return -EINVAL;
	/* The file takes a report: the live view alone has nothing to write there. */
	if (o->output && !o->report && !o->report_on_exit) {
		errmsg_set(err, errlen,
			   "--output needs a report flag (e.g. -r, -j, --text) or "
			   "--report-on-exit");
		return -EINVAL;
	}
	/* Listing the history needs no host; --lru given with it bounds the list. */
	if (o->history)
		return OPTIONS_HISTORY;
	if (!o->ntargets) {
		errmsg_set(err, errlen, "no destination host given; try 'hopwatch --help'");
		return -EINVAL;
	}
	return OPTIONS_RUN;
}

void options_deinit(struct options *o)
{
	size_t i;

	for (i = 0; i < o->ntargets; i++)
		free(o->targets[i]);
	free(o->targets);
	o->targets = NULL;
	o->ntargets = 0;
	free(o->env_copy);
	o->env_copy = NULL;
}
