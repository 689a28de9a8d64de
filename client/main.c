/*
 * hopwatch: the mtr-compatible command-line tool. Wires options, the engine connection,
 * the scheduler, the statistics and the renderers together; owns nothing else.
 * Test hooks: HOPWATCH_FAKE_TIME (or SOURCE_DATE_EPOCH) fixes the Start: time and
 * HOPWATCH_FAKE_HOSTNAME the HOST: column, so golden outputs compare byte for byte.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "client/diagnose.h"
#include "client/dns.h"
#include "client/engine_conn.h"
#include "client/history.h"
#include "client/options.h"
#include "client/report.h"
#include "client/sched.h"
#include "client/stats.h"
#include "client/tui.h"
#include "common/log.h"
#include "common/numparse.h"

/* The HOST: column's name. */
#define MAIN_HOSTNAME_MAX 256
/* Features asked of the engine at most. */
#define MAIN_FEATURES_MAX 8
/* Longest error line. */
#define MAIN_ERR_MAX 512
/* Numeric address text. */
#define MAIN_ADDR_MAX INET6_ADDRSTRLEN
/* Smallest probe, as mtr's MINPACKET. */
#define MAIN_PSIZE_MIN 28
/* -l prints mtr's sequence numbers: mtr counts from MinSequence and wraps at MaxSequence. */
#define MAIN_RAW_SEQ_MIN 33000
#define MAIN_RAW_SEQ_END 65536
/* Responders remembered per hop for -l's h lines (mtr's MAX_PATH). */
#define MAIN_RAW_PATHS 8

struct run {
	struct event_base *base;
	const struct options *opt;
	struct stats_table *table;
	struct sched *sched;
	struct dns *dns; /* NULL with -n: no resolver, no socket */
	int dns_tried;	 /* -n in the live view: the resolver is made when 'n' first asks */
	FILE *out;
	int err;
	char msg[MAIN_ERR_MAX];
	int done;
	struct raw_hop {
		struct stats_addr last;			 /* mtr's host[].addr */
		struct stats_addr paths[MAIN_RAW_PATHS]; /* mtr's host[].addrs */
		int named;				 /* a d line was printed */
	} raw[STATS_MAX_HOPS];
};

/*
 * Names for hops: the cached (already escaped) name, or NULL, and then the number is
 * shown, while the lookup runs in the background. Never blocks.
 */
static const char *hop_name(const struct stats_addr *addr, void *ctx)
{
	struct run *r = ctx;
	int rc;

	/*
	 * Only reached with names on. Started with -n, the live view asks once 'n' turns
	 * them on: the resolver is made then, once, and quietly (curses owns the screen).
	 */
	if (!r->dns && !r->dns_tried) {
		r->dns_tried = 1;
		rc = dns_new(&r->dns, r->base, getenv(DNS_RESOLV_CONF_ENV));
		if (rc)
			log_debug("reverse DNS unavailable (%s)", strerror(-rc));
	}
	return dns_lookup(r->dns, addr);
}

/*
 * A report is printed once, so, as mtr does, it waits for the names of the responders it
 * will show; bounded by DNS_REPORT_WAIT_US in total, after which numbers are printed.
 */
static void wait_names(struct run *r)
{
	static struct stats_addr addrs[STATS_MAX_HOPS * (STATS_MAX_RESPONDERS + 1)];
	size_t n = 0, i, j;

	if (!r->dns)
		return;
	for (i = 0; i < STATS_MAX_HOPS; i++) {
		const struct stats_hop *h = &r->table->hops[i];

		if (!h->acc.received)
			continue;
		addrs[n++] = h->last_addr;
		for (j = 0; j < h->nresponders && j < (size_t)r->opt->max_ecmp; j++)
			addrs[n++] = h->responders[j].addr;
	}
	if (dns_wait(r->dns, addrs, n, DNS_REPORT_WAIT_US) > 0)
		log_debug("some hop names did not arrive in time; showing numbers");
}

static void on_done(void *ctx, int err, const char *msg)
{
	struct run *r = ctx;

	r->done = 1;
	r->err = err;
	if (msg)
		snprintf(r->msg, sizeof(r->msg), "%s", msg);
	event_base_loopbreak(r->base);
}

/* -l: mtr's raw lines, written as things happen, with mtr's sequence numbers. */
static unsigned int raw_seq(uint32_t seq)
{
	return MAIN_RAW_SEQ_MIN + seq % (MAIN_RAW_SEQ_END - MAIN_RAW_SEQ_MIN);
}

static void raw_sent(void *ctx, int ttl, int round, uint32_t seq)
{
	struct run *r = ctx;

	(void)round;
	if (report_raw_xmit(r->out, ttl, raw_seq(seq)) || fflush(r->out))
		log_debug("cannot write a raw line");
}

static void raw_answer(void *ctx, int ttl, int round, uint32_t seq, enum stats_outcome outcome,
		       const struct stats_addr *from, int64_t rtt_us)
{
	struct run *r = ctx;
	struct raw_hop *h;
	const char *name;
	int rc = 0;
	size_t i;

	(void)round;
	if (!from || outcome == STATS_LOST || ttl < 1 || ttl > STATS_MAX_HOPS)
		return;
	h = &r->raw[ttl - 1];
	/*
	 * mtr's net_process_ping: a responder other than the hop's latest is printed when it
	 * joins the hop's list of paths and again as the new latest, so the first answer of
	 * a hop gives two h lines and every ECMP alternation one more.
	 */
	if (!stats_addr_equal(&h->last, from)) {
		for (i = 0; i < MAIN_RAW_PATHS && h->paths[i].family; i++)
			if (stats_addr_equal(&h->paths[i], from))
				break;
		if (i < MAIN_RAW_PATHS && !h->paths[i].family) {
			h->paths[i] = *from;
			rc |= report_raw_host(r->out, ttl, from);
		}
		h->last = *from;
		rc |= report_raw_host(r->out, ttl, from);
	}
	/* mtr's raw_rawping: the hop's name, once, before the first answer after it is known. */
	if (r->dns && !h->named) {
		name = dns_lookup(r->dns, &h->last);
		if (name) {
			h->named = 1;
			rc |= report_raw_dns(r->out, ttl, name);
		}
	}
	rc |= report_raw_ping(r->out, ttl, rtt_us, raw_seq(seq));
	if (!rc && fflush(r->out))
		rc = -EIO;
	if (rc)
		log_debug("cannot write a raw line");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)what;
	(void)sig;
	/* Interrupted: print what there is, as mtr's report mode does on Ctrl-C. */
	if (r->sched)
		sched_stop(r->sched);
	r->done = 1;
	event_base_loopbreak(r->base);
}

static time_t start_time(void)
{
	const char *names[] = {"HOPWATCH_FAKE_TIME", "SOURCE_DATE_EPOCH"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);
		int64_t t;

		if (v && numparse_i64_str(v, 0, INT32_MAX, &t) == 0)
			return (time_t)t;
	}
	return time(NULL);
}

static void local_hostname(char *buf, size_t len)
{
	const char *fake = getenv("HOPWATCH_FAKE_HOSTNAME");

	if (fake && *fake) {
		snprintf(buf, len, "%s", fake);
		return;
	}
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
}

static int resolve(const char *host, int family, struct stats_addr *out, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		char clean[OPTIONS_HOST_MAX + 1];
		size_t i;

		for (i = 0; host[i] && i < OPTIONS_HOST_MAX; i++)
			clean[i] = (host[i] > 0x20 && host[i] < 0x7f) ? host[i] : '?';
		clean[i] = '\0';
		snprintf(err, errlen, "cannot resolve '%s': %s", clean,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -ENOENT;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		memset(out, 0, sizeof(*out));
		if (ai->ai_family == AF_INET) {
			out->family = AF_INET;
			out->u.v4 = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
			break;
		}
		if (ai->ai_family == AF_INET6) {
			out->family = AF_INET6;
			out->u.v6 = ((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			break;
		}
	}
	freeaddrinfo(res);
	if (!ai) {
		snprintf(err, errlen, "no usable address for '%s'", host);
		return -ENOENT;
	}
	return 0;
}

static void probe_template(const struct options *o, const struct stats_addr *dst,
			   struct engine_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->dst = *dst;
	p->protocol = o->proto;
	/* A negative -s asks for a random size; one per run keeps the stats comparable. */
	if (o->psize < 0) {
		int max = -o->psize;

		p->size = max <= MAIN_PSIZE_MIN
				  ? max
				  : MAIN_PSIZE_MIN + rand() % (max - MAIN_PSIZE_MIN + 1);
	} else {
		p->size = o->psize;
	}
	p->bitpattern = o->bitpattern < 0 ? rand() % 256 : o->bitpattern;
	p->tos = o->tos;
	p->port = o->port;
	p->local_port = o->local_port;
	p->src = o->src_addr;
	p->device = o->interface;
	p->has_mark = o->has_mark;
	p->mark = o->mark;
	p->timeout_s = o->timeout_s;
}

static int check_engine(struct engine_conn *conn, const struct options *o,
			const struct stats_addr *dsts, size_t n, char *err, size_t errlen)
{
	const char *features[MAIN_FEATURES_MAX];
	size_t nf = 0, i;
	int need4 = 0, need6 = 0;

	for (i = 0; i < n; i++) {
		need4 |= dsts[i].family == AF_INET;
		need6 |= dsts[i].family == AF_INET6;
	}
	features[nf++] = "send-probe";
	if (need4)
		features[nf++] = "ip-4";
	if (need6)
		features[nf++] = "ip-6";
	features[nf++] = proto_protocol_name(o->proto);
	if (o->has_mark)
		features[nf++] = "mark";
	if (o->interface)
		features[nf++] = "local-device";
	return engine_conn_check(conn, features, nf, err, errlen);
}

/* What the renderers (report and live view) show besides the table. */
static void fill_meta(struct run *r, struct report_meta *meta, const char *target,
		      const struct stats_addr *dst, const char *hostname,
		      const struct engine_probe *tmpl)
{
	const struct options *o = r->opt;

	memset(meta, 0, sizeof(*meta));
	meta->local_host = hostname;
	meta->target = target;
	meta->target_addr = dst;
	meta->start = start_time();
	meta->fields = o->fields;
	meta->show_ips = o->show_ips;
	meta->numeric = !r->dns;
	meta->max_ecmp = o->max_ecmp;
	meta->show_mpls = o->mpls;
	meta->tos = o->tos;
	meta->psize = tmpl->size;
	meta->bitpattern = tmpl->bitpattern;
	meta->count = o->count;
	meta->protocol = proto_protocol_name(o->proto);
	meta->name = hop_name;
	meta->name_ctx = r;
}

/*
 * --analyze: diagnose the finished table. JSON carries it inside the report (meta); every
 * other format, and the live view, gets the text section after the output, after a blank
 * line (see print_diagnosis).
 */
static const struct diagnose_result *analyze(struct run *r, const struct stats_addr *dst)
{
	static struct diagnose_result diag;

	if (!r->opt->analyze || diagnose_run(r->table, dst, r->table->dest_ttl > 0, &diag))
		return NULL;
	return &diag;
}

static int print_diagnosis(struct run *r, const struct diagnose_result *d)
{
	if (!d)
		return 0;
	fputc('\n', r->out);
	if (diagnose_print(d, r->out) || fflush(r->out))
		return -EIO;
	return 0;
}

/*
 * The live view: it owns the scheduler while it runs (u/t restart it). mtr's curses view
 * runs until 'q' unless -c is given; --report-on-exit prints the -r report afterwards.
 */
static int trace_live(struct run *r, struct engine_conn *conn, const struct sched_config *cfg,
		      const struct engine_probe *tmpl, const char *target,
		      const struct stats_addr *dst, const char *hostname)
{
	struct tui_config tc = {
		.base = r->base,
		.conn = conn,
		.table = r->table,
		.sched = *cfg,
		.tmpl = *tmpl,
		.report_on_exit = r->opt->report_on_exit,
	};
	struct tui *tui = NULL;
	int rc;

	fill_meta(r, &tc.meta, target, dst, hostname, tmpl);
	tc.sched.count = r->opt->count_set ? r->opt->count : 0;
	rc = tui_new(&tui, &tc, r->msg, sizeof(r->msg));
	if (!rc)
		rc = tui_run(tui, r->msg, sizeof(r->msg));
	tui = tui_free(tui);
	if (!rc && !r->opt->report_on_exit && r->opt->analyze) {
		rc = print_diagnosis(r, analyze(r, dst));
		if (rc)
			snprintf(r->msg, sizeof(r->msg), "cannot write the diagnosis");
	}
	if (rc || !r->opt->report_on_exit)
		return rc;
	wait_names(r);
	rc = report_render(REPORT_FORMAT_REPORT, r->table, &tc.meta, r->out);
	if (!rc && fflush(r->out))
		rc = -errno;
	if (!rc)
		rc = print_diagnosis(r, analyze(r, dst));
	if (rc)
		snprintf(r->msg, sizeof(r->msg), "cannot write the report: %s", strerror(-rc));
	return rc;
}

static int trace_one(struct run *r, struct engine_conn *conn, const char *target,
		     const struct stats_addr *dst, const char *hostname)
{
	const struct options *o = r->opt;
	struct sched_config cfg = {
		.count = o->count,
		.interval_us = o->interval_us,
		.first_ttl = o->first_ttl,
		.max_ttl = o->max_ttl,
		.max_unknown = o->max_unknown,
		.grace_us = (int64_t)o->grace_s * 1000000,
	};
	struct sched_hooks hooks = {.done = on_done, .ctx = r};
	const struct diagnose_result *diag;
	enum report_format fmt;
	struct report_meta meta;
	struct engine_probe tmpl;
	int rc;

	if (o->report && o->format == REPORT_FORMAT_RAW) {
		hooks.sent = raw_sent;
		hooks.answer = raw_answer;
	}
	rc = stats_table_new(&r->table);
	if (rc) {
		snprintf(r->msg, sizeof(r->msg), "out of memory");
		return rc;
	}
	probe_template(o, dst, &tmpl);
	memset(r->raw, 0, sizeof(r->raw));
	r->done = 0;
	r->err = 0;
	/* Without a report flag the live view runs; without a terminal, a report. */
	if (!o->report && tui_usable()) {
		rc = trace_live(r, conn, &cfg, &tmpl, target, dst, hostname);
		r->table = stats_table_free(r->table);
		return rc;
	}
	rc = sched_new(&r->sched, r->base, conn, r->table, &cfg, &tmpl, &hooks);
	if (!rc)
		rc = sched_start(r->sched);
	while (!rc && !r->done)
		if (event_base_loop(r->base, 0) < 0)
			break;
	if (!rc && r->err)
		rc = r->err;
	if (rc && !r->msg[0])
		snprintf(r->msg, sizeof(r->msg), "tracing %s failed: %s", target, strerror(-rc));
	r->sched = sched_free(r->sched);
	if (rc) {
		r->table = stats_table_free(r->table);
		return rc;
	}

	diag = analyze(r, dst);
	fmt = o->report ? o->format : REPORT_FORMAT_REPORT;
	if (fmt != REPORT_FORMAT_RAW) {
		fill_meta(r, &meta, target, dst, hostname, &tmpl);
		if (fmt == REPORT_FORMAT_JSON)
			meta.diagnosis = diag;
		if (o->report)
			wait_names(r);
		rc = report_render(fmt, r->table, &meta, r->out);
		if (!rc && fflush(r->out))
			rc = -errno;
	}
	if (!rc && fmt != REPORT_FORMAT_JSON)
		rc = print_diagnosis(r, diag);
	if (rc)
		snprintf(r->msg, sizeof(r->msg), "cannot write the report: %s", strerror(-rc));
	r->table = stats_table_free(r->table);
	return rc;
}

/* --history: the recent hosts, newest first, as many as --lru allows. */
static int print_history(const struct options *o)
{
	char path[HISTORY_PATH_MAX];
	struct history h;
	size_t i;
	int rc;

	if (history_path(path, sizeof(path), getenv("XDG_STATE_HOME"), getenv("HOME")))
		return 0; /* nowhere to keep one: an empty list */
	rc = history_init(&h, (size_t)o->lru);
	if (!rc)
		rc = history_load(&h, path);
	if (rc) {
		log_warnx("cannot read the host history %s: %s", path, strerror(-rc));
		goto out;
	}
	for (i = 0; i < h.n; i++)
		printf("%s\n", h.hosts[i]);
	if (fflush(stdout))
		rc = -errno;
out:
	history_deinit(&h);
	return rc ? 1 : 0;
}

/*
 * Every host traced goes first in the history (WinMTR's LRU list). Best effort: a trace
 * never fails for it, and at most one warning is printed.
 */
static void record_history(const struct options *o)
{
	char path[HISTORY_PATH_MAX];
	struct history h;
	size_t i;
	int rc;

	if (!o->lru || getenv(HISTORY_DISABLE_ENV))
		return;
	if (history_path(path, sizeof(path), getenv("XDG_STATE_HOME"), getenv("HOME")))
		return; /* no home: nothing to keep, nothing to say */
	rc = history_init(&h, (size_t)o->lru);
	/* A damaged file loses what cannot be read; an unreadable one is started afresh. */
	if (!rc && history_load(&h, path) == -ENOMEM)
		rc = -ENOMEM;
	/* -F lists the first host first: add in reverse so it ends up the most recent. */
	for (i = o->ntargets; !rc && i > 0; i--)
		if (history_add(&h, o->targets[i - 1]) == -ENOMEM)
			rc = -ENOMEM;
	if (!rc)
		rc = history_save(&h, path);
	if (rc)
		log_warnx("cannot record the host history in %s: %s", path, strerror(-rc));
	history_deinit(&h);
}

static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	static struct options opt;
	static struct stats_addr dsts[OPTIONS_MAX_TARGETS];
	char err[MAIN_ERR_MAX], exe[PATH_MAX], hostname[MAIN_HOSTNAME_MAX];
	struct engine_conn *conn = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct run r;
	size_t i;
	int rc;

	log_init("hopwatch", LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);
	rc = options_parse(&opt, argc, argv, getenv("HOPWATCH_OPTIONS"), geteuid() == 0, err,
			   sizeof(err));
	if (rc == OPTIONS_HELP) {
		fputs(options_usage(), stdout);
		options_deinit(&opt);
		return 0;
	}
	if (rc == OPTIONS_VERSION) {
		printf("hopwatch %s\n", HOPWATCH_VERSION);
		options_deinit(&opt);
		return 0;
	}
	if (rc == OPTIONS_HISTORY) {
		rc = print_history(&opt);
		options_deinit(&opt);
		return rc;
	}
	if (rc < 0) {
		log_warnx("%s", err);
		options_deinit(&opt);
		return 1;
	}
	for (i = 0; i < opt.ntargets; i++) {
		if (resolve(opt.targets[i], opt.family, &dsts[i], err, sizeof(err))) {
			log_warnx("%s", err);
			options_deinit(&opt);
			return 1;
		}
	}

	memset(&r, 0, sizeof(r));
	r.opt = &opt;
	r.out = stdout;
	if (opt.output && opt.report) {
		r.out = fopen(opt.output, "w");
		if (!r.out) {
			log_warn("cannot open %s", opt.output);
			options_deinit(&opt);
			return 1;
		}
	}
	r.base = event_base_new();
	if (!r.base)
		fatalx("cannot create the event loop");
	if (!opt.numeric) {
		r.dns_tried = 1;
		rc = dns_new(&r.dns, r.base, getenv(DNS_RESOLV_CONF_ENV));
		if (rc)
			log_warnx("reverse DNS unavailable (%s); showing numbers", strerror(-rc));
	}
	rc = engine_conn_open(&conn, r.base, opt.engine, self_exe(exe, sizeof(exe)) ? NULL : exe,
			      err, sizeof(err));
	if (!rc)
		rc = check_engine(conn, &opt, dsts, opt.ntargets, err, sizeof(err));
	if (rc) {
		log_warnx("%s", err);
		rc = 1;
		goto out;
	}
	sigint = evsignal_new(r.base, SIGINT, on_signal, &r);
	sigterm = evsignal_new(r.base, SIGTERM, on_signal, &r);
	if (sigint)
		evsignal_add(sigint, NULL);
	if (sigterm)
		evsignal_add(sigterm, NULL);

	record_history(&opt);
	local_hostname(hostname, sizeof(hostname));
	for (i = 0; i < opt.ntargets; i++) {
		r.msg[0] = '\0';
		rc = trace_one(&r, conn, opt.targets[i], &dsts[i], hostname);
		if (rc) {
			log_warnx("%s", r.msg);
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	conn = engine_conn_free(conn);
	r.dns = dns_free(r.dns);
	event_base_free(r.base);
	if (r.out && r.out != stdout && fclose(r.out) && !rc) {
		log_warn("cannot write %s", opt.output);
		rc = 1;
	}
	options_deinit(&opt);
	return rc;
}
