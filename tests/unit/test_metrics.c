/*
 * test_metrics: the exposition of a small view byte for byte (golden/metrics_small.prom:
 * two targets, a hop without address, NaN windows, escaping, findings, the info cap),
 * cumulative histograms, each family's HELP and TYPE once, number formatting, and the
 * render time of 1,000 targets x 10 hops.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "monitor/metrics.h"

#define GOLDEN_MAX  (64 * 1024)
#define PATH_LEN    4096
#define BIG_TARGETS 1000
#define BIG_HOPS    10
/*
 * The big render against a tenth of it: linear is 10, quadratic 100. The render's speed
 * itself (some tens of ms for 1,000 targets) is the benchmark's business, not a test's.
 */
#define BIG_SCALE_MAX	   50.0
#define BIG_SCALE_SLACK_MS 5.0

static const char *const families[] = {
	"hopwatch_hop_probes_sent_total",
	"hopwatch_hop_probes_received_total",
	"hopwatch_hop_rtt_seconds",
	"hopwatch_hop_window_loss_ratio",
	"hopwatch_hop_window_rtt_avg_seconds",
	"hopwatch_hop_info",
	"hopwatch_hop_info_dropped",
	"hopwatch_target_info",
	"hopwatch_target_path_id",
	"hopwatch_target_path_changes_total",
	"hopwatch_target_reachable",
	"hopwatch_target_windows_total",
	"hopwatch_finding",
	"hopwatch_monitor_probes_sent_total",
	"hopwatch_monitor_probes_answered_total",
	"hopwatch_monitor_send_errors_total",
	"hopwatch_monitor_probes_exhausted_total",
	"hopwatch_monitor_engine_reconnects_total",
	"hopwatch_monitor_engine_up",
	"hopwatch_monitor_scheduling_lag_seconds",
	"hopwatch_monitor_budget_probes_per_second",
	"hopwatch_monitor_config_reloads_total",
	"hopwatch_monitor_start_time_seconds",
};

/* The whole exposition as one NUL-terminated string (caller frees). */
static char *render(const struct metrics_target *t, size_t n, const struct metrics_health *h,
		    size_t info_max)
{
	struct evbuffer *out = evbuffer_new();
	char *s;
	size_t len;

	assert_non_null(out);
	assert_int_equal(metrics_render(out, t, n, h, info_max), 0);
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	assert_non_null(s);
	assert_int_equal(evbuffer_remove(out, s, len), (int)len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static char *read_golden(const char *name)
{
	char path[PATH_LEN];
	char *buf = calloc(1, GOLDEN_MAX);
	FILE *f;
	size_t n;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/golden/%s", UNIT_SOURCE_DIR, name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	n = fread(buf, 1, GOLDEN_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_small_exact(void **state)
{
	/* Two of the three labels are refused: not a label name, and "target" itself. */
	struct metrics_label la[] = {{"site", "ams"}, {"bad-key", "x"}, {"target", "y"}};
	struct metrics_hop ha[2] = {0}, hb[1] = {0};
	struct metrics_finding fa[] = {
		{1, "loss", "warning"}, {0, "unreachable", "crit\"ical"}, {1, "loss", "warning"}};
	struct metrics_target t[2];
	struct metrics_health h = {10, 9, 1, 2, 3, 1, 0.25, 100, 4, 1700000000};
	char *got, *want;

	(void)state;
	ha[0].ttl = 1;
	ha[0].sent = 4;
	ha[0].received = 4;
	ha[0].bucket[0] = 1;
	ha[0].bucket[5] = 2;
	ha[0].bucket[METRICS_BUCKETS] = 1;
	ha[0].rtt_sum_s = 3.0625;
	ha[0].window_loss_ratio = 0.25;
	ha[0].window_rtt_avg_s = 0.0015;
	assert_int_equal(addr_parse("192.0.2.1", &ha[0].addr), 0);
	/* Silent hop: no address, every probe lost, no RTT in the window. */
	ha[1].ttl = 2;
	ha[1].sent = 4;
	ha[1].window_loss_ratio = 1;
	ha[1].window_rtt_avg_s = NAN;
	hb[0].ttl = 1;
	hb[0].sent = 1;
	hb[0].received = 1;
	hb[0].bucket[1] = 1;
	hb[0].rtt_sum_s = 0.001;
	hb[0].window_loss_ratio = NAN;
	hb[0].window_rtt_avg_s = NAN;
	/* Over the cap of 1: left out and counted in hop_info_dropped. */
	assert_int_equal(addr_parse("2001:db8::7", &hb[0].addr), 0);
	t[0] = (struct metrics_target){"a\"b\\c\nd", la, 3, ha, 2, 42, 1, 1, 3, fa, 3};
	t[1] = (struct metrics_target){"b", NULL, 0, hb, 1, 7, 0, 0, 0, NULL, 0};
	/* The third finding repeats the first: one series only. */
	got = render(t, 2, &h, 1);
	want = read_golden("metrics_small.prom");
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* Lines that are not comments. */
static size_t series_lines(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p = strchr(p, '\n') + 1) {
		if (*p != '#')
			n++;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

static void check_families_once(const char *s)
{
	char line[256];

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "# HELP %s ", families[i]);
		assert_int_equal(count(s, line), 1);
		snprintf(line, sizeof(line), "# TYPE %s ", families[i]);
		assert_int_equal(count(s, line), 1);
	}
	assert_int_equal(count(s, "# HELP "), sizeof(families) / sizeof(families[0]));
	assert_int_equal(count(s, "# TYPE "), sizeof(families) / sizeof(families[0]));
}

static void test_families_once(void **state)
{
	struct metrics_hop hop = {.ttl = 1, .window_loss_ratio = NAN, .window_rtt_avg_s = NAN};
	struct metrics_target t = {.name = "x", .hops = &hop, .nhops = 1};
	struct metrics_health h = {0};
	char *s;

	(void)state;
	/* Nothing at all: every family still announced, and no series but the dropped count. */
	s = render(NULL, 0, NULL, 0);
	check_families_once(s);
	assert_int_equal(series_lines(s), 1);
	assert_non_null(strstr(s, "\nhopwatch_hop_info_dropped 0\n"));
	free(s);
	s = render(&t, 1, &h, 0);
	check_families_once(s);
	assert_non_null(strstr(s, "\nhopwatch_monitor_engine_up 0\n"));
	free(s);
}

/* The value of the series that starts with prefix (labels included), parsed. */
static double value_of(const char *s, const char *prefix)
{
	char key[512];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", prefix);
	p = strstr(s, key);
	if (!p)
		fail_msg("no series %s", prefix);
	return strtod(p + strlen(key), NULL);
}

static void test_histogram_cumulative(void **state)
{
	struct metrics_hop hop = {.ttl = 3, .window_loss_ratio = NAN, .window_rtt_avg_s = NAN};
	struct metrics_target t = {.name = "h", .hops = &hop, .nhops = 1};
	char key[256], le[32];
	uint64_t total = 0;
	double prev = 0;
	char *s;

	(void)state;
	for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
		hop.bucket[i] = (i * 7919) % 13 + (i == 4 ? 1000000000000ULL : 0);
		total += hop.bucket[i];
	}
	s = render(&t, 1, NULL, 0);
	for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
		uint64_t acc = 0;

		for (size_t j = 0; j <= i; j++)
			acc += hop.bucket[j];
		if (i < METRICS_BUCKETS)
			snprintf(le, sizeof(le), "%.15g", metrics_bucket_le[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(key, sizeof(key),
			 "hopwatch_hop_rtt_seconds_bucket{target=\"h\",hop=\"3\",le=\"%s\"}", le);
		double v = value_of(s, key);

		assert_true(v >= prev);
		assert_true(v == (double)acc);
		prev = v;
	}
	assert_true(value_of(s, "hopwatch_hop_rtt_seconds_count{target=\"h\",hop=\"3\"}") ==
		    (double)total);
	assert_true(prev == (double)total);
	assert_int_equal(count(s, "_bucket{"), METRICS_BUCKETS + 1);
	free(s);
}

static void test_bucket_of(void **state)
{
	(void)state;
	assert_int_equal(metrics_bucket_of(0), 0);
	assert_int_equal(metrics_bucket_of(metrics_bucket_le[0]), 0);
	assert_int_equal(metrics_bucket_of(metrics_bucket_le[0] * 1.01), 1);
	assert_int_equal(metrics_bucket_of(metrics_bucket_le[METRICS_BUCKETS - 1]),
			 METRICS_BUCKETS - 1);
	assert_int_equal(metrics_bucket_of(1e9), METRICS_BUCKETS);
	assert_int_equal(metrics_bucket_of(NAN), METRICS_BUCKETS);
	for (size_t i = 1; i < METRICS_BUCKETS; i++)
		assert_true(metrics_bucket_le[i] > metrics_bucket_le[i - 1]);
}

/* Numbers as Prometheus reads them: shortest text that reads back, Inf and NaN spelled. */
static void test_number_format(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{0.1, "0.1"},
		{1.0 / 3, "0.33333333333333331"},
		{1e-7, "1e-07"},
		{4503599627370495, "4503599627370495"},
		{-2, "-2"},
		{1e300, "1e+300"},
		{0.1 + 0.2, "0.30000000000000004"},
		{INFINITY, "+Inf"},
		{-INFINITY, "-Inf"},
		{NAN, "NaN"},
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics_health h = {.scheduling_lag_s = cases[i].v};
		char *s = render(NULL, 0, &h, 0);

		snprintf(want, sizeof(want), "\nhopwatch_monitor_scheduling_lag_seconds %s\n",
			 cases[i].text);
		if (!strstr(s, want))
			fail_msg("%.17g: want %s", cases[i].v, cases[i].text);
		if (cases[i].v == cases[i].v)
			assert_true(
				strtod(cases[i].text[0] == '+' ? cases[i].text + 1 : cases[i].text,
				       NULL) == cases[i].v);
		free(s);
	}
}

/* CPU time: other processes on a shared machine do not stretch it, as they do wall time. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_big_render_time(void **state)
{
	struct metrics_target *t = calloc(BIG_TARGETS, sizeof(*t));
	struct metrics_hop *hops = calloc(BIG_TARGETS * BIG_HOPS, sizeof(*hops));
	struct metrics_label labels[] = {{"site", "ams1"}, {"team", "netops"}};
	struct metrics_finding f = {4, "loss-at-hop", "warning"};
	struct metrics_health h = {1, 2, 3, 4, 5, 1, 0.001, 500, 1, 1700000000.25};
	char(*names)[32] = calloc(BIG_TARGETS, sizeof(*names));
	double best = 1e9, best_small = 1e9;
	size_t bytes = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(hops);
	assert_non_null(names);
	for (size_t i = 0; i < BIG_TARGETS; i++) {
		snprintf(names[i], sizeof(names[i]), "target-%zu.example.net", i);
		for (size_t j = 0; j < BIG_HOPS; j++) {
			struct metrics_hop *hop = &hops[i * BIG_HOPS + j];

			hop->ttl = (int)j + 1;
			hop->sent = 100000 + i;
			hop->received = 99000 + j;
			for (size_t b = 0; b <= METRICS_BUCKETS; b++)
				hop->bucket[b] = (i + j + b) % 1000;
			hop->rtt_sum_s = 123.456789 + (double)i / 7;
			hop->window_loss_ratio = (double)j / 30;
			hop->window_rtt_avg_s = 0.0123 + (double)j / 1000;
			hop->addr.family = AF_INET;
			hop->addr.u.v4.s_addr = htonl(0xc6120000u + (uint32_t)(i * BIG_HOPS + j));
		}
		t[i] = (struct metrics_target){names[i], labels,
					       2,	 &hops[i * BIG_HOPS],
					       BIG_HOPS, (double)i * 1000003,
					       i,	 1,
					       100,	 &f,
					       1};
	}
	/*
	 * Best of three, so that one preempted run on a shared machine does not decide; run
	 * over a tenth of the targets and over all of them: the render must scale linearly
	 * (at most BIG_SCALE_MAX times as long for ten times the targets), a bound that a
	 * per-target search over the others would break, without a wall-clock limit.
	 */
	for (int run = 0; run < 6; run++) {
		struct evbuffer *out = evbuffer_new();
		size_t n = run % 2 ? BIG_TARGETS : BIG_TARGETS / 10;
		double t0 = now_ms();

		assert_non_null(out);
		assert_int_equal(metrics_render(out, t, n, &h, 0), 0);
		double ms = now_ms() - t0;

		if (n == BIG_TARGETS) {
			if (ms < best)
				best = ms;
			bytes = evbuffer_get_length(out);
		} else if (ms < best_small) {
			best_small = ms;
		}
		evbuffer_free(out);
	}
	print_message(
		"metrics_render %d targets x %d hops: %.1f ms (a tenth: %.1f ms), %zu bytes\n",
		BIG_TARGETS, BIG_HOPS, best, best_small, bytes);
	/* Under valgrind (tests/valgrind/run.sh) only the work is checked, not its speed. */
	if (!getenv("HOPWATCH_VALGRIND"))
		assert_true(best < BIG_SCALE_MAX * best_small + BIG_SCALE_SLACK_MS);
	free(names);
	free(hops);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_exact),	     cmocka_unit_test(test_families_once),
		cmocka_unit_test(test_histogram_cumulative), cmocka_unit_test(test_bucket_of),
		cmocka_unit_test(test_number_format),	     cmocka_unit_test(test_big_render_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
