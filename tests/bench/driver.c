/*
 * bench_driver: drives one mtr-packet compatible engine over a pipe pair with a
 * steady stream of send-probe commands, keeping a fixed number of probes in
 * flight, and prints one key=value line: throughput, engine CPU per probe and
 * RTT percentiles. Plain libc on purpose: it must treat hopwatchd and the real
 * mtr-packet identically, so it shares no code with either.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	BENCH_READ_BUF = 1 << 16,  /* bytes; engine replies are ~60 bytes each */
	BENCH_WRITE_BUF = 1 << 16, /* bytes of send-probe lines not yet written */
	BENCH_LINE_MAX = 256,	   /* longest line we format or keep */
	BENCH_MAX_PROBES = 100000000,
	BENCH_MAX_INFLIGHT = 1000000,
	BENCH_MAX_TTL = 255,
	BENCH_MAX_TIMEOUT_S = 60, /* mtr-packet's own upper bound */
	BENCH_MAX_PORT = 65535,
	BENCH_SUPPORT_TOKEN = 1, /* check-support; probes start after it */
	BENCH_FIRST_TOKEN = 2,
	BENCH_POLL_MS = 200,
	BENCH_SUPPORT_WAIT_S = 10, /* engine start-up and check-support answer */
	BENCH_IDLE_GRACE_S = 10,   /* beyond the probe timeout before giving up */
	BENCH_RTT_SLACK_US = 1,	   /* round-trip-time is whole microseconds */
	BENCH_EXIT_WAIT_S = 15,	   /* default wait after EOF on its stdin, then SIGTERM */
	BENCH_MAX_EXIT_WAIT_S = 600,
	BENCH_KILL_WAIT_S = 5, /* after SIGTERM, then SIGKILL */
	BENCH_WAIT_STEP_MS = 10,
	BENCH_DEFAULT_TIMEOUT_S = 5,
	BENCH_DEFAULT_TTL_MAX = 6,
	BENCH_DEFAULT_INFLIGHT = 1000,
	BENCH_DEFAULT_PROBES = 30000,
	BENCH_EXIT_USAGE = 2,
	BENCH_EXIT_INCOMPLETE = 1,
	BENCH_EXEC_FAILED = 127,
};

enum probe_state {
	PROBE_UNSENT = 0,
	PROBE_OUTSTANDING,
	PROBE_ANSWERED,
};

struct bench_opts {
	const char *engine;
	const char *label; /* engine= in the output; basename of engine by default */
	const char *target;
	const char *protocol; /* icmp, udp or tcp */
	int family;	      /* 4 or 6 */
	long probes;
	long inflight;
	int ttl_max;
	int timeout_s;
	int port;	 /* 0: leave it to the engine */
	int exit_wait_s; /* after EOF, before SIGTERM */
};

struct bench_run {
	int to_fd;   /* engine's stdin */
	int from_fd; /* engine's stdout */
	pid_t pid;
	bool eof;
	bool support_ok;
	bool support_failed;

	char rbuf[BENCH_READ_BUF];
	size_t rlen;
	char wbuf[BENCH_WRITE_BUF];
	size_t wlen;
	size_t woff;

	long sent; /* probes formatted into wbuf (or written) */
	long answered;
	uint8_t *state; /* enum probe_state, indexed by token - BENCH_FIRST_TOKEN */
	double *rtt;	/* microseconds, from round-trip-time */
	long nrtt;
	double *sent_at; /* seconds, CLOCK_MONOTONIC, when the line was queued */
	double *turn;	 /* microseconds from queueing a probe to reading its answer */
	long nturn;
	long rtt_impossible; /* round-trip-time longer than we waited for the answer */

	long replies;
	long ttl_expired;
	long no_reply;
	long other;
	long unexpected; /* unknown, repeated or out of phase tokens */
	bool other_shown;

	bool started;
	struct timespec t_first; /* first probe written */
	struct timespec t_last;	 /* last probe answered */
	struct timespec t_progress;
};

static struct bench_run run;
static volatile sig_atomic_t engine_pid;

static void usage(FILE *out)
{
	fprintf(out, "usage: bench_driver --engine PATH --target ADDR [--family 4|6]\n"
		     "         [--protocol icmp|udp|tcp] [--port N] --probes N --inflight W\n"
		     "         --ttl-max T [--timeout S] [--label NAME] [--exit-wait S]\n");
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static double ts_sec(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{"engine", required_argument, NULL, 'e'},
		{"target", required_argument, NULL, 'a'},
		{"family", required_argument, NULL, 'f'},
		{"protocol", required_argument, NULL, 'P'},
		{"port", required_argument, NULL, 'p'},
		{"probes", required_argument, NULL, 'n'},
		{"inflight", required_argument, NULL, 'w'},
		{"ttl-max", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 't'},
		{"label", required_argument, NULL, 'l'},
		{"exit-wait", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;

	*o = (struct bench_opts){
		.protocol = "icmp",
		.family = 4,
		.probes = BENCH_DEFAULT_PROBES,
		.inflight = BENCH_DEFAULT_INFLIGHT,
		.ttl_max = BENCH_DEFAULT_TTL_MAX,
		.timeout_s = BENCH_DEFAULT_TIMEOUT_S,
		.exit_wait_s = BENCH_EXIT_WAIT_S,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->engine = optarg;
			break;
		case 'a':
			o->target = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 'P':
			if (strcmp(optarg, "icmp") && strcmp(optarg, "udp") &&
			    strcmp(optarg, "tcp"))
				return -EINVAL;
			o->protocol = optarg;
			break;
		case 'f':
			if (parse_long(optarg, 4, 6, &v) || (v != 4 && v != 6))
				return -EINVAL;
			o->family = (int)v;
			break;
		case 'p':
			if (parse_long(optarg, 1, BENCH_MAX_PORT, &v))
				return -EINVAL;
			o->port = (int)v;
			break;
		case 'n':
			if (parse_long(optarg, 1, BENCH_MAX_PROBES, &o->probes))
				return -EINVAL;
			break;
		case 'w':
			if (parse_long(optarg, 1, BENCH_MAX_INFLIGHT, &o->inflight))
				return -EINVAL;
			break;
		case 'm':
			if (parse_long(optarg, 1, BENCH_MAX_TTL, &v))
				return -EINVAL;
			o->ttl_max = (int)v;
			break;
		case 't':
			if (parse_long(optarg, 1, BENCH_MAX_TIMEOUT_S, &v))
				return -EINVAL;
			o->timeout_s = (int)v;
			break;
		case 'x':
			if (parse_long(optarg, 1, BENCH_MAX_EXIT_WAIT_S, &v))
				return -EINVAL;
			o->exit_wait_s = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !o->engine || !o->target)
		return -EINVAL;
	if (strlen(o->target) > BENCH_LINE_MAX / 2)
		return -EINVAL;
	if (!o->label) {
		const char *slash = strrchr(o->engine, '/');

		o->label = slash ? slash + 1 : o->engine;
	}
	return 0;
}

/* The engine shares our process group; a bench interrupted half way must not leave it behind. */
static void on_signal(int sig)
{
	if (engine_pid > 0)
		kill((pid_t)engine_pid, SIGTERM);
	_exit(128 + sig);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int spawn_engine(const char *path)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* mtr execs its helper exactly like this: no arguments, argv[0] "mtr-packet". */
		char *const child_argv[] = {(char *)"mtr-packet", NULL};

		signal(SIGPIPE, SIG_DFL);
		if (dup2(to[0], STDIN_FILENO) < 0 || dup2(from[1], STDOUT_FILENO) < 0)
			_exit(BENCH_EXEC_FAILED);
		execv(path, child_argv);
		fprintf(stderr, "bench_driver: exec %s: %s\n", path, strerror(errno));
		_exit(BENCH_EXEC_FAILED);
	}
	close(to[0]);
	close(from[1]);
	run.pid = pid;
	engine_pid = pid;
	run.to_fd = to[1];
	run.from_fd = from[0];
	if (set_nonblock(run.to_fd) || set_nonblock(run.from_fd))
		return -errno;
	return 0;
}

static double reply_rtt(const char *args, bool *found)
{
	static const char key[] = " round-trip-time ";
	const char *p = strstr(args, key);
	char *end;
	double v;

	*found = false;
	if (!p)
		return 0;
	p += sizeof(key) - 1;
	errno = 0;
	v = strtod(p, &end);
	if (errno || end == p || (*end != '\0' && *end != ' ') || v < 0)
		return 0;
	*found = true;
	return v;
}

static void show_other(const char *line)
{
	char safe[BENCH_LINE_MAX];
	size_t i;

	if (run.other_shown)
		return;
	run.other_shown = true;
	for (i = 0; line[i] && i < sizeof(safe) - 1; i++)
		safe[i] = (line[i] >= ' ' && line[i] < 0x7f) ? line[i] : '?';
	safe[i] = '\0';
	fprintf(stderr, "bench_driver: first non-reply answer: %s\n", safe);
}

static bool word_is(const char *word, size_t len, const char *name)
{
	return strlen(name) == len && !memcmp(word, name, len);
}

static void handle_line(char *line, const struct bench_opts *o)
{
	const char *word, *args;
	char *end;
	size_t len;
	long token, idx;
	bool found;
	double rtt, turnaround;

	errno = 0;
	token = strtol(line, &end, 10);
	if (errno || end == line || *end != ' ') {
		run.unexpected++;
		return;
	}
	word = end + 1;
	len = strcspn(word, " ");
	args = word + len; /* empty, or starts with the space before the first name */

	if (token == BENCH_SUPPORT_TOKEN) {
		if (word_is(word, len, "feature-support") && !strcmp(args, " support ok"))
			run.support_ok = true;
		else
			run.support_failed = true;
		return;
	}
	idx = token - BENCH_FIRST_TOKEN;
	if (idx < 0 || idx >= o->probes || run.state[idx] != PROBE_OUTSTANDING) {
		run.unexpected++;
		return;
	}
	run.state[idx] = PROBE_ANSWERED;
	run.answered++;
	now(&run.t_last);
	run.t_progress = run.t_last;
	turnaround = (ts_sec(&run.t_last) - run.sent_at[idx]) * 1e6;
	run.turn[run.nturn++] = turnaround;

	if (word_is(word, len, "reply") || word_is(word, len, "ttl-expired")) {
		if (word[0] == 'r')
			run.replies++;
		else
			run.ttl_expired++;
		rtt = reply_rtt(args, &found);
		if (found)
			run.rtt[run.nrtt++] = rtt;
		/* The engine's clock may be better than ours, but never longer than our wait. */
		if (found && rtt > turnaround + BENCH_RTT_SLACK_US)
			run.rtt_impossible++;
	} else if (word_is(word, len, "no-reply")) {
		run.no_reply++;
	} else {
		run.other++;
		show_other(line);
	}
}

/* Reads what is there and handles every complete line; sets run.eof when the engine closed. */
static int read_replies(const struct bench_opts *o)
{
	for (;;) {
		ssize_t n = read(run.from_fd, run.rbuf + run.rlen, sizeof(run.rbuf) - run.rlen);
		size_t start = 0, i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0) {
			run.eof = true;
			return 0;
		}
		for (i = run.rlen; i < run.rlen + (size_t)n; i++) {
			if (run.rbuf[i] != '\n')
				continue;
			run.rbuf[i] = '\0';
			handle_line(run.rbuf + start, o);
			start = i + 1;
		}
		run.rlen += (size_t)n;
		memmove(run.rbuf, run.rbuf + start, run.rlen - start);
		run.rlen -= start;
		if (run.rlen == sizeof(run.rbuf)) {
			/* A line longer than the whole buffer is not the protocol: drop it. */
			run.unexpected++;
			run.rlen = 0;
		}
	}
}

/* Tops up the write buffer so that exactly o->inflight probes are sent but unanswered. */
static void refill(const struct bench_opts *o)
{
	struct timespec t;
	double queued;

	now(&t);
	queued = ts_sec(&t);
	if (run.woff > 0) {
		memmove(run.wbuf, run.wbuf + run.woff, run.wlen - run.woff);
		run.wlen -= run.woff;
		run.woff = 0;
	}
	while (run.sent < o->probes && run.sent - run.answered < o->inflight &&
	       run.wlen + BENCH_LINE_MAX <= sizeof(run.wbuf)) {
		long token = run.sent + BENCH_FIRST_TOKEN;
		int ttl = (int)(run.sent % o->ttl_max) + 1;
		size_t room = sizeof(run.wbuf) - run.wlen;
		int n;

		n = snprintf(run.wbuf + run.wlen, room, "%ld send-probe ip-%d %s ttl %d timeout %d",
			     token, o->family, o->target, ttl, o->timeout_s);
		if (strcmp(o->protocol, "icmp"))
			n += snprintf(run.wbuf + run.wlen + n, room - (size_t)n, " protocol %s",
				      o->protocol);
		if (o->port)
			n += snprintf(run.wbuf + run.wlen + n, room - (size_t)n, " port %d",
				      o->port);
		n += snprintf(run.wbuf + run.wlen + n, room - (size_t)n, "\n");
		run.wlen += (size_t)n;
		run.state[run.sent] = PROBE_OUTSTANDING;
		run.sent_at[run.sent] = queued;
		run.sent++;
	}
}

static int flush_writes(void)
{
	while (run.woff < run.wlen) {
		ssize_t n = write(run.to_fd, run.wbuf + run.woff, run.wlen - run.woff);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (!run.started) {
			run.started = true;
			now(&run.t_first);
		}
		run.woff += (size_t)n;
	}
	return 0;
}

static int check_support(const struct bench_opts *o)
{
	static const char cmd[] = "1 check-support feature send-probe\n";
	struct timespec start, t;

	memcpy(run.wbuf, cmd, sizeof(cmd) - 1);
	run.wlen = sizeof(cmd) - 1;
	now(&start);
	for (;;) {
		struct pollfd pfd[2] = {
			{.fd = run.from_fd, .events = POLLIN},
			{.fd = run.to_fd, .events = run.woff < run.wlen ? POLLOUT : 0},
		};
		int err = flush_writes();

		if (err)
			return err;
		if (run.support_ok)
			break;
		if (run.support_failed || run.eof)
			return -ENOTSUP;
		now(&t);
		if (ts_diff(&t, &start) > BENCH_SUPPORT_WAIT_S)
			return -ETIMEDOUT;
		if (poll(pfd, 2, BENCH_POLL_MS) < 0 && errno != EINTR)
			return -errno;
		err = read_replies(o);
		if (err)
			return err;
	}
	run.wlen = run.woff = 0;
	/* The check-support round trip must not count as a probe's wall time. */
	run.started = false;
	return 0;
}

static int stream_probes(const struct bench_opts *o)
{
	double idle_limit = o->timeout_s + BENCH_IDLE_GRACE_S;

	now(&run.t_progress);
	while (run.answered < o->probes) {
		struct pollfd pfd[2];
		struct timespec t;
		int err;

		refill(o);
		err = flush_writes();
		if (err)
			return err;
		pfd[0] = (struct pollfd){.fd = run.from_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = run.to_fd,
					 .events = run.woff < run.wlen ? POLLOUT : 0};
		if (poll(pfd, 2, BENCH_POLL_MS) < 0 && errno != EINTR)
			return -errno;
		if (pfd[0].revents) {
			err = read_replies(o);
			if (err)
				return err;
			if (run.eof)
				return -EPIPE;
		}
		now(&t);
		if (ts_diff(&t, &run.t_progress) > idle_limit)
			return -ETIMEDOUT;
	}
	return 0;
}

static void drain_for(int ms, const struct bench_opts *o)
{
	struct pollfd pfd = {.fd = run.from_fd, .events = POLLIN};

	if (run.eof || run.from_fd < 0) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(&pfd, 1, ms) > 0 && read_replies(o) < 0)
		run.eof = true;
}

/* Waits for the engine after EOF; returns its wait status and fills its rusage. */
static int reap_engine(struct rusage *ru, const struct bench_opts *o)
{
	int status = 0;
	int waited = 0;
	pid_t r;

	if (run.to_fd >= 0) {
		close(run.to_fd);
		run.to_fd = -1;
	}
	for (;;) {
		r = wait4(run.pid, &status, WNOHANG, ru);
		if (r == run.pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited == o->exit_wait_s * 1000) {
			fprintf(stderr,
				"bench_driver: engine still running %d s after EOF, "
				"sending SIGTERM\n",
				o->exit_wait_s);
			kill(run.pid, SIGTERM);
		}
		if (waited == (o->exit_wait_s + BENCH_KILL_WAIT_S) * 1000) {
			fprintf(stderr, "bench_driver: engine ignored SIGTERM, sending SIGKILL\n");
			kill(run.pid, SIGKILL);
		}
		drain_for(BENCH_WAIT_STEP_MS, o);
		waited += BENCH_WAIT_STEP_MS;
	}
	engine_pid = 0;
	return status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array; NAN when there are no samples. */
static double percentile(const double *v, long n, double p)
{
	long rank;

	if (n == 0)
		return NAN;
	rank = (long)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static void report(const struct bench_opts *o, const struct rusage *ru, int status, bool complete)
{
	double secs = run.started && run.answered ? ts_diff(&run.t_last, &run.t_first) : 0;
	double cpu_us = (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec +
			(double)ru->ru_stime.tv_sec * 1e6 + (double)ru->ru_stime.tv_usec;
	int code = -1;

	if (status < 0)
		code = -1;
	else if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	qsort(run.rtt, (size_t)run.nrtt, sizeof(run.rtt[0]), cmp_double);
	qsort(run.turn, (size_t)run.nturn, sizeof(run.turn[0]), cmp_double);
	printf("engine=%s probes=%ld seconds=%.6f probes_per_s=%.1f cpu_us_per_probe=%.2f "
	       "rtt_p50_us=%.1f rtt_p99_us=%.1f replies=%ld ttl_expired=%ld no_reply=%ld "
	       "other=%ld unexpected=%ld rtt_samples=%ld inflight=%ld protocol=%s "
	       "engine_cpu_us=%.0f engine_exit=%d turnaround_p50_us=%.1f turnaround_p99_us=%.1f "
	       "rtt_over_turnaround=%ld complete=%d\n",
	       o->label, run.answered, secs, secs > 0 ? (double)run.answered / secs : 0.0,
	       run.answered ? cpu_us / (double)run.answered : 0.0,
	       percentile(run.rtt, run.nrtt, 50), percentile(run.rtt, run.nrtt, 99), run.replies,
	       run.ttl_expired, run.no_reply, run.other, run.unexpected, run.nrtt, o->inflight,
	       o->protocol, cpu_us, code, percentile(run.turn, run.nturn, 50),
	       percentile(run.turn, run.nturn, 99), run.rtt_impossible, complete ? 1 : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct rusage ru;
	struct sigaction sa = {.sa_handler = on_signal};
	bool complete = false;
	int err, status;

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	run.state = calloc((size_t)o.probes, sizeof(run.state[0]));
	run.rtt = calloc((size_t)o.probes, sizeof(run.rtt[0]));
	run.turn = calloc((size_t)o.probes, sizeof(run.turn[0]));
	run.sent_at = calloc((size_t)o.probes, sizeof(run.sent_at[0]));
	if (!run.state || !run.rtt || !run.turn || !run.sent_at) {
		fprintf(stderr, "bench_driver: out of memory for %ld probes\n", o.probes);
		return BENCH_EXIT_INCOMPLETE;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	run.to_fd = run.from_fd = -1;

	err = spawn_engine(o.engine);
	if (err) {
		fprintf(stderr, "bench_driver: cannot start %s: %s\n", o.engine, strerror(-err));
		return BENCH_EXIT_INCOMPLETE;
	}
	err = check_support(&o);
	if (err) {
		fprintf(stderr, "bench_driver: %s did not confirm send-probe support: %s\n",
			o.engine, strerror(-err));
	} else {
		err = stream_probes(&o);
		if (err)
			fprintf(stderr, "bench_driver: stopped after %ld of %ld answers: %s\n",
				run.answered, o.probes, strerror(-err));
		else
			complete = true;
	}
	memset(&ru, 0, sizeof(ru));
	status = reap_engine(&ru, &o);
	report(&o, &ru, status, complete);
	free(run.state);
	free(run.rtt);
	free(run.turn);
	free(run.sent_at);
	return complete ? 0 : BENCH_EXIT_INCOMPLETE;
}
