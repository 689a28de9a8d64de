/*
 * hopwatch: the mtr-compatible command-line tool. Parses argv, resolves the targets, opens
 * the engine connection, the resolver and the output file, and hands the traces to the
 * live view or to a batch of reports; owns the process's one event loop and nothing else.
 * Test hooks: HOPWATCH_FAKE_TIME (or SOURCE_DATE_EPOCH) fixes the Start: time and
 * HOPWATCH_FAKE_HOSTNAME the HOST: column, so golden outputs compare byte for byte.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "client/batch.h"
#include "client/confirm.h"
#include "client/diagnose.h"
#include "client/asn.h"
#include "client/dns.h"
#include "client/engine_conn.h"
#include "client/history.h"
#include "client/options.h"
#include "client/report.h"
#include "client/split.h"
#include "client/stats.h"
#include "client/trace.h"
#include "client/tui.h"
#include "common/log.h"
#include "common/numparse.h"

/* The HOST: column's name. */
#define MAIN_HOSTNAME_MAX 256
/* Features asked of the engine at most. */
#define MAIN_FEATURES_MAX 8
/* Longest error line. */
#define MAIN_ERR_MAX 512

/* The process: what main wires together and the loop's one exit condition. */
struct run {
	struct event_base *base;
	const struct options *opt;
	struct engine_conn *conn;
	struct dns *dns; /* NULL with -n: no resolver, no socket */
	int dns_tried;	 /* -n in the live view: the resolver is made when 'n' first asks */
	struct asn *asn; /* AS data (-z, -y, or 'z' in the live view), made when first needed */
	int asn_tried;
	struct batch *batch;
	struct split *split; /* -p: the target being printed */
	struct tui *tui;
	FILE *out;
	int checked; /* the engine's start-up check is over */
	int check_rc;
	int done;	 /* the loop may end */
	int interrupted; /* Ctrl-C or SIGTERM: no further -p target */
	int err;
	char msg[MAIN_ERR_MAX];
	int confirming; /* after the live view: --analyze's confirmations still out */
	int have_proto[PROTO_PROTOCOL__COUNT]; /* live view: what u/t may switch to */
	int proto_pending;		       /* protocol checks still out */
};

/*
 * Names for hops: the cached name, or NULL, and then the number is shown, while the
 * lookup runs in the background. Never blocks.
 */
static const char *hop_name(const struct addr *addr, void *ctx)
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

/* The AS record of a hop, or NULL while unknown; the lookup runs in the background. */
static const char *hop_asinfo(const struct addr *addr, void *ctx)
{
	struct run *r = ctx;
	int rc;

	if (!r->asn && !r->asn_tried) {
		r->asn_tried = 1;
		rc = asn_new(&r->asn, r->base, getenv(DNS_RESOLV_CONF_ENV));
		if (rc)
			log_debug("AS lookup unavailable (%s)", strerror(-rc));
		asn_want_names(r->asn, r->opt->analyze);
	}
	return asn_lookup(r->asn, addr);
}

static void stop_loop(struct run *r)
{
	r->done = 1;
	event_base_loopbreak(r->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)what;
	(void)sig;
	/* Interrupted: print what there is, as mtr's report mode does on Ctrl-C. */
	if (r->batch) {
		batch_stop(r->batch);
		return;
	}
	r->interrupted = 1;
	if (r->split) {
		split_stop(r->split);
		return;
	}
	stop_loop(r);
}

/* The Start: time when a test fixes it, else 0: each trace then stamps its own. */
static time_t fixed_start_time(void)
{
	const char *names[] = {"HOPWATCH_FAKE_TIME", "SOURCE_DATE_EPOCH"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);
		int64_t t;

		if (v && numparse_i64_str(v, 0, INT32_MAX, &t) == 0)
			return (time_t)t;
	}
	return 0;
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

/* Run the loop until done; the only loop of the process. */
static void run_loop(struct run *r)
{
	r->done = 0;
	while (!r->done)
		if (event_base_loop(r->base, 0) != 0)
			break;
}

static void on_checked(void *ctx, int rc, const char *msg)
{
	struct run *r = ctx;

	r->check_rc = rc;
	if (rc)
		snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : strerror(-rc));
	stop_loop(r);
}

/* --ecmp paris and --flows: probes carry a flow id, an extension of the protocol. */
static int enable_flow_id(struct run *r)
{
	static const char *const ext[] = {"flow-id"};
	int rc = engine_conn_enable(r->conn, ext, 1, on_checked, r);

	if (rc) {
		snprintf(r->msg, sizeof(r->msg), "engine %s: cannot enable flow ids: %s",
			 engine_conn_describe(r->conn), strerror(-rc));
		return rc;
	}
	run_loop(r);
	return r->check_rc;
}

static int check_engine(struct run *r, const struct trace_config *tc, size_t n)
{
	const char *features[MAIN_FEATURES_MAX];
	const struct options *o = r->opt;
	size_t nf = 0, i;
	int need4 = 0, need6 = 0, rc;

	for (i = 0; i < n; i++) {
		need4 |= tc[i].dst.family == AF_INET;
		need6 |= tc[i].dst.family == AF_INET6;
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
	rc = engine_conn_check(r->conn, features, nf, on_checked, r);
	if (rc) {
		snprintf(r->msg, sizeof(r->msg), "engine %s: cannot check it: %s",
			 engine_conn_describe(r->conn), strerror(-rc));
		return rc;
	}
	run_loop(r);
	if (r->check_rc || o->ecmp != OPTIONS_ECMP_PARIS)
		return r->check_rc;
	return enable_flow_id(r);
}

/* The live view's u/t: which other protocols the engine can send, asked before it starts. */
static void on_proto(void *ctx, int rc, const char *msg)
{
	struct run *r = ctx;
	int p;

	(void)msg;
	for (p = 0; p < PROTO_PROTOCOL__COUNT; p++) {
		if (r->have_proto[p] == -1) {
			r->have_proto[p] = rc == 0;
			break;
		}
	}
	stop_loop(r);
}

static void check_protocols(struct run *r)
{
	int p;

	for (p = 0; p < PROTO_PROTOCOL__COUNT; p++) {
		const char *name = proto_protocol_name((enum proto_protocol)p);

		if (p == (int)r->opt->proto) {
			r->have_proto[p] = 1;
			continue;
		}
		r->have_proto[p] = 0;
		if (!name || p == PROTO_PROTOCOL_SCTP)
			continue;
		/* One at a time: a missing protocol must not hide the others. */
		r->have_proto[p] = -1;
		if (engine_conn_check(r->conn, &name, 1, on_proto, r)) {
			r->have_proto[p] = 0;
			continue;
		}
		run_loop(r);
		if (r->have_proto[p] == -1)
			r->have_proto[p] = 0;
	}
}

/* What the renderers (report and live view) show besides the table. */
static void fill_meta(struct run *r, struct report_meta *meta, const char *hostname)
{
	const struct options *o = r->opt;

	memset(meta, 0, sizeof(*meta));
	meta->local_host = hostname;
	meta->start = fixed_start_time();
	meta->fields = o->fields;
	meta->show_ips = o->show_ips;
	meta->numeric = !r->dns;
	meta->max_ecmp = o->max_ecmp;
	meta->show_mpls = o->mpls;
	meta->tos = o->tos;
	meta->count = o->count;
	meta->protocol = proto_protocol_name(o->proto);
	meta->name = hop_name;
	meta->name_ctx = r;
	meta->ipinfo = o->ipinfo;
	meta->asinfo = hop_asinfo;
	meta->asinfo_ctx = r;
}

static void on_batch_done(void *ctx, int err)
{
	struct run *r = ctx;

	r->err = err;
	stop_loop(r);
}

static int run_reports(struct run *r, const struct trace_config *tc, size_t n, const char *hostname)
{
	const struct options *o = r->opt;
	struct batch_config bc = {
		.base = r->base,
		.conn = r->conn,
		.dns = r->dns,
		.asn = r->asn,
		.traces = tc,
		.ntraces = n,
		.max_concurrent = o->max_concurrent,
		.format = o->report ? o->format : REPORT_FORMAT_REPORT,
		.wait_names = o->report,
		.out = r->out,
		.done = on_batch_done,
		.ctx = r,
	};
	int rc;

	fill_meta(r, &bc.meta, hostname);
	rc = batch_new(&r->batch, &bc);
	if (!rc)
		rc = batch_start(r->batch);
	if (rc) {
		snprintf(r->msg, sizeof(r->msg), "cannot start the traces: %s", strerror(-rc));
		r->batch = batch_free(r->batch);
		return rc;
	}
	run_loop(r);
	r->batch = batch_free(r->batch);
	/* Each failure was printed in its place; the exit status says there was one. */
	return r->err ? -ECANCELED : 0;
}

static void on_split_done(void *ctx, int err, const char *msg)
{
	struct run *r = ctx;

	r->err = err;
	if (err)
		snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : strerror(-err));
	stop_loop(r);
}

/*
 * -p: mtr's split output, streamed while each target runs (until -c rounds, q or Ctrl-C),
 * one target after another as mtr runs its hosts.
 */
static int run_split(struct run *r, const struct trace_config *tc, size_t n, const char *hostname)
{
	struct split_config cfg = {
		.base = r->base,
		.conn = r->conn,
		.out = r->out,
		.keys = isatty(STDIN_FILENO),
		.done = on_split_done,
		.ctx = r,
	};
	struct trace_config one;
	size_t i;
	int rc = 0;

	fill_meta(r, &cfg.meta, hostname);
	for (i = 0; !rc && !r->interrupted && i < n; i++) {
		/* As the live view (mtr is interactive here): no end without -c. */
		one = tc[i];
		one.sched.count = r->opt->count_set ? r->opt->count : 0;
		cfg.trace = &one;
		rc = split_new(&r->split, &cfg);
		if (rc) {
			snprintf(r->msg, sizeof(r->msg), "cannot start the trace: %s",
				 strerror(-rc));
			break;
		}
		r->err = 0;
		rc = split_start(r->split);
		if (rc)
			snprintf(r->msg, sizeof(r->msg), "cannot start the trace: %s",
				 strerror(-rc));
		else
			run_loop(r);
		if (!rc)
			rc = r->err;
		r->split = split_free(r->split);
	}
	return rc;
}

static void on_tui_done(void *ctx, int err, const char *msg)
{
	struct run *r = ctx;

	/* The stopped traces' ends arrive while confirming: the view is already over. */
	if (r->confirming)
		return;
	r->err = err;
	if (err)
		snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : strerror(-err));
	stop_loop(r);
}

static int print_diagnosis(FILE *out, const struct diagnose_result *d)
{
	if (!d)
		return 0;
	fputc('\n', out);
	if (diagnose_print(d, out) || fflush(out))
		return -EIO;
	return 0;
}

/* One trace's confirmation after the live view. */
struct live_confirm {
	struct run *r;
	struct trace *t;
	struct confirm *c;
};

static void live_confirmed(void *ctx, const struct diagnose_confirm *res)
{
	struct live_confirm *lc = ctx;

	if (res->ran && trace_set_confirm(lc->t, res))
		log_debug("no memory for the confirmation's outcome");
	lc->c = confirm_free(lc->c);
	if (--lc->r->confirming == 0)
		stop_loop(lc->r);
}

/*
 * --analyze after the view: this host's address for the reverse-path advice, and the
 * confirmation probes of every trace at once (the view is closed; Ctrl-C cuts them short
 * and what came in so far counts).
 */
static void confirm_live(struct run *r)
{
	size_t n = tui_ntraces(r->tui), i;
	struct live_confirm *lc = calloc(n ? n : 1, sizeof(*lc));

	if (!lc)
		return;
	for (i = 0; i < n; i++) {
		const struct trace_config *tc;
		struct addr local;

		lc[i].r = r;
		lc[i].t = tui_trace(r->tui, i);
		tc = trace_config(lc[i].t);
		if (!tc->analyze)
			continue;
		if (confirm_local_addr(&tc->dst, tc->tmpl.src, &local) == 0)
			trace_set_local(lc[i].t, &local);
		if (confirm_trace(&lc[i].c, r->base, r->conn, lc[i].t, live_confirmed, &lc[i]) == 0)
			r->confirming++;
	}
	if (r->confirming && !r->interrupted)
		run_loop(r);
	for (i = 0; i < n; i++) {
		if (!lc[i].c)
			continue;
		if (confirm_result(lc[i].c)->ran &&
		    trace_set_confirm(lc[i].t, confirm_result(lc[i].c)))
			log_debug("no memory for the confirmation's outcome");
		lc[i].c = confirm_free(lc[i].c);
	}
	r->confirming = 0;
	free(lc);
}

static void on_live_as(void *ctx, size_t pending)
{
	struct run *r = ctx;

	if (pending)
		log_debug("some AS data did not arrive in time");
	stop_loop(r);
}

/*
 * --analyze with AS lookups on (-z, -y, or 'z' in the view): each diagnosis names the AS
 * of its hops and the destination's, so it waits for them (bounded, ASN_REPORT_WAIT_US).
 */
static void live_as(struct run *r)
{
	struct asn_waiter *w = NULL;
	struct addr *addrs;
	size_t i, j, n = 0;
	int ttl;

	if (!r->asn || !r->opt->analyze)
		return;
	addrs = calloc(ASN_WAIT_MAX, sizeof(*addrs));
	for (i = 0; addrs && i < tui_ntraces(r->tui); i++) {
		struct trace *t = tui_trace(r->tui, i);
		const struct stats_table *tab = trace_table(t);

		trace_set_as(t, asn_diagnose_as, r->asn);
		if (n < ASN_WAIT_MAX)
			addrs[n++] = trace_config(t)->dst;
		for (ttl = 1; tab && ttl <= STATS_MAX_HOPS; ttl++) {
			const struct stats_hop *h = stats_table_hop(tab, ttl);

			if (!h || n + STATS_MAX_RESPONDERS + 1 > ASN_WAIT_MAX)
				break;
			if (!h->acc.received)
				continue;
			addrs[n++] = h->last_addr;
			for (j = 0; j < h->nresponders; j++)
				addrs[n++] = h->responders[j].addr;
		}
	}
	if (addrs && asn_wait(r->asn, addrs, n, ASN_REPORT_WAIT_US, on_live_as, r, &w) == 0)
		run_loop(r);
	asn_waiter_free(w);
	free(addrs);
}

/* After the view: --report-on-exit's reports, or --analyze's diagnoses. */
static int after_live(struct run *r)
{
	size_t i;
	int rc = 0;

	if (r->opt->analyze)
		confirm_live(r);
	live_as(r);
	for (i = 0; !rc && i < tui_ntraces(r->tui); i++) {
		struct trace *t = tui_trace(r->tui, i);
		struct report_meta meta = *tui_meta(r->tui, i);

		if (r->opt->report_on_exit) {
			meta.numeric = !r->dns;
			meta.flows = trace_flows(t);
			rc = report_render(REPORT_FORMAT_REPORT, trace_table(t), &meta, r->out);
			if (!rc && fflush(r->out))
				rc = -errno;
		}
		if (!rc)
			rc = print_diagnosis(r->out, trace_diagnosis(t));
	}
	if (rc)
		snprintf(r->msg, sizeof(r->msg), "cannot write the report: %s", strerror(-rc));
	return rc;
}

/*
 * The live view: mtr's curses view runs until 'q' unless -c is given; --report-on-exit
 * prints the -r report afterwards.
 */
static int run_live(struct run *r, struct trace_config *tc, size_t n, const char *hostname)
{
	struct tui_config cfg = {
		.base = r->base,
		.conn = r->conn,
		.traces = tc,
		.ntraces = n,
		.report_on_exit = r->opt->report_on_exit,
		.initial_mode = (enum tui_mode)r->opt->display_mode,
		.done = on_tui_done,
		.ctx = r,
	};
	size_t i;
	int rc;

	check_protocols(r);
	memcpy(cfg.have_proto, r->have_proto, sizeof(cfg.have_proto));
	fill_meta(r, &cfg.meta, hostname);
	if (!cfg.meta.start)
		cfg.meta.start = time(NULL);
	for (i = 0; i < n; i++)
		tc[i].sched.count = r->opt->count_set ? r->opt->count : 0;
	r->err = 0;
	/* An exit() from anywhere while curses owns the terminal gives it back. */
	if (atexit(tui_restore_terminal))
		log_debug("no exit handler for the terminal");
	rc = tui_new(&r->tui, &cfg, r->msg, sizeof(r->msg));
	/* The findings as they form name the AS too (made later by 'z': see live_as). */
	for (i = 0; !rc && r->asn && i < tui_ntraces(r->tui); i++)
		trace_set_as(tui_trace(r->tui, i), asn_diagnose_as, r->asn);
	if (!rc) {
		run_loop(r);
		rc = r->err;
	}
	if (!rc) {
		/* Curses off first: the reports go to the normal screen. */
		struct tui *t = r->tui;

		rc = tui_end(t);
		if (!rc)
			rc = after_live(r);
	}
	r->tui = tui_free(r->tui);
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
	struct options opt;
	struct trace_config *tc = NULL;
	char err[MAIN_ERR_MAX], exe[PATH_MAX], hostname[MAIN_HOSTNAME_MAX];
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
	tc = calloc(opt.ntargets, sizeof(*tc));
	if (!tc) {
		log_warnx("out of memory");
		options_deinit(&opt);
		return 1;
	}
	for (i = 0; i < opt.ntargets; i++) {
		struct addr dst;

		if (trace_resolve(opt.targets[i], opt.family, &dst, err, sizeof(err)) ||
		    trace_config_from_options(&tc[i], &opt, opt.targets[i], &dst)) {
			if (!err[0])
				snprintf(err, sizeof(err), "bad target '%s'", opt.targets[i]);
			log_warnx("%s", err);
			free(tc);
			options_deinit(&opt);
			return 1;
		}
	}

	memset(&r, 0, sizeof(r));
	r.opt = &opt;
	r.out = stdout;
	/* options_parse() took --output only with a report flag or --report-on-exit. */
	if (opt.output) {
		r.out = fopen(opt.output, "w");
		if (!r.out) {
			log_warn("cannot open %s", opt.output);
			free(tc);
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
	if (opt.ipinfo >= 0) {
		r.asn_tried = 1;
		rc = asn_new(&r.asn, r.base, getenv(DNS_RESOLV_CONF_ENV));
		if (rc)
			log_warnx("AS lookup unavailable (%s); showing AS???", strerror(-rc));
		/* --analyze names the AS of a problem's hop: only with AS lookups on. */
		asn_want_names(r.asn, opt.analyze);
	}
	rc = engine_conn_open(&r.conn, r.base, opt.engine, self_exe(exe, sizeof(exe)) ? NULL : exe,
			      err, sizeof(err));
	if (rc) {
		log_warnx("%s", err);
		rc = 1;
		goto out;
	}
	if (check_engine(&r, tc, opt.ntargets)) {
		log_warnx("%s", r.msg);
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
	r.msg[0] = '\0';
	/* Without a report flag the live view runs; without a terminal, a report. */
	if (!opt.report && tui_usable())
		rc = run_live(&r, tc, opt.ntargets, hostname);
	else if (opt.report && opt.format == REPORT_FORMAT_SPLIT)
		rc = run_split(&r, tc, opt.ntargets, hostname);
	else
		rc = run_reports(&r, tc, opt.ntargets, hostname);
	if (rc && r.msg[0])
		log_warnx("%s", r.msg);
	rc = rc ? 1 : 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	r.conn = engine_conn_free(r.conn);
	r.dns = dns_free(r.dns);
	r.asn = asn_free(r.asn);
	for (int pass = 0; r.base && pass < DNS_TEARDOWN_PASSES; pass++)
		event_base_loop(r.base, EVLOOP_NONBLOCK);
	event_base_free(r.base);
	if (r.out && r.out != stdout && fclose(r.out) && !rc) {
		log_warn("cannot write %s", opt.output);
		rc = 1;
	}
	free(tc);
	options_deinit(&opt);
	return rc;
}
