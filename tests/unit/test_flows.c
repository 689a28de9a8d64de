/*
 * test_flows: the per-flow tables (feeding, where paths differ, main responder, bounds),
 * --ecmp/--flows parsing and their mapping onto a trace, and the report's flows section
 * and JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "client/flows.h"
#include "client/options.h"
#include "client/report.h"
#include "client/trace.h"

static struct addr v4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

/* One probe of flow at ttl answered by from (NULL: lost) after rtt_us. */
static void probe(struct flows *f, int flow, int ttl, const char *from, int64_t rtt_us)
{
	struct addr a;

	assert_int_equal(flows_sent(f, flow, ttl), 0);
	if (!from) {
		flows_answer(f, flow, ttl, STATS_LOST, NULL, 0, NULL, 0);
		return;
	}
	a = v4(from);
	flows_answer(f, flow, ttl, ttl == 3 ? STATS_REPLY : STATS_TTL_EXPIRED, &a, rtt_us, NULL, 0);
}

/*
 * Three hops, two flows: hop 1 the same router for both, hop 2 one router per flow, hop 3
 * (the destination) the same. Flow 1 also loses one probe at hop 2.
 */
static struct flows *two_paths(void)
{
	struct flows *f = NULL;
	int i;

	assert_int_equal(flows_new(&f, 2), 0);
	for (i = 0; i < 4; i++) {
		probe(f, 0, 1, "198.51.100.1", 1000);
		probe(f, 1, 1, "198.51.100.1", 1000);
		probe(f, 0, 2, "198.51.100.2", 2000);
		probe(f, 1, 2, i == 3 ? NULL : "198.51.100.102", 4000);
		probe(f, 0, 3, "203.0.113.1", 3000);
		probe(f, 1, 3, "203.0.113.1", 3000);
	}
	return f;
}

static void test_bounds(void **state)
{
	struct flows *f = (struct flows *)1;

	(void)state;
	assert_int_equal(flows_new(&f, 0), -EINVAL);
	assert_null(f);
	assert_int_equal(flows_new(&f, FLOWS_MAX + 1), -EINVAL);
	assert_int_equal(flows_new(&f, FLOWS_MAX), 0);
	assert_int_equal(flows_count(f), FLOWS_MAX);
	assert_non_null(flows_table(f, FLOWS_MAX - 1));
	assert_null(flows_table(f, FLOWS_MAX));
	assert_null(flows_table(f, -1));
	assert_int_equal(flows_sent(f, FLOWS_MAX, 1), -EINVAL);
	assert_int_equal(flows_sent(f, 0, STATS_MAX_HOPS), -EINVAL);
	/* Out of range answers are ignored, not crashes. */
	flows_answer(f, -1, 1, STATS_LOST, NULL, 0, NULL, 0);
	flows_unsent(f, FLOWS_MAX, 1);
	assert_int_equal(flows_last_hop(f), 0);
	assert_true(flows_bytes(f) > sizeof(void *) * FLOWS_MAX);
	assert_null(flows_free(f));
	assert_null(flows_free(NULL));
	assert_int_equal(flows_count(NULL), 0);
	assert_int_equal(flows_bytes(NULL), 0);
}

static void test_differs(void **state)
{
	struct flows *f = two_paths();
	const struct stats_hop *h;
	struct addr a = v4("198.51.100.102");

	(void)state;
	assert_int_equal(flows_last_hop(f), 3);
	assert_int_equal(flows_hop_differs(f, 1), 0);
	assert_int_equal(flows_hop_differs(f, 2), 1);
	assert_int_equal(flows_hop_differs(f, 3), 0);
	/* Each flow keeps its own figures: flow 1 lost one of four at hop 2. */
	h = stats_table_hop(flows_table(f, 1), 2);
	assert_non_null(h);
	assert_int_equal(h->acc.sent, 4);
	assert_int_equal(h->acc.received, 3);
	assert_int_equal(h->nresponders, 1);
	assert_true(addr_equal(&flows_main_responder(f, 1, 2)->addr, &a));
	h = stats_table_hop(flows_table(f, 0), 2);
	assert_int_equal(h->acc.received, 4);
	assert_null(flows_main_responder(f, 0, 9));

	/* A flow that sees two routers at one hop differs there even if the others agree. */
	probe(f, 0, 1, "198.51.100.11", 1000);
	assert_int_equal(flows_hop_differs(f, 1), 1);
	/* The main responder is the one with most answers, not the last. */
	a = v4("198.51.100.1");
	assert_true(addr_equal(&flows_main_responder(f, 0, 1)->addr, &a));

	flows_reset(f);
	assert_int_equal(flows_last_hop(f), 0);
	assert_int_equal(flows_hop_differs(f, 2), 0);
	flows_free(f);
}

static void test_silent_flow_differs(void **state)
{
	struct flows *f = NULL;

	(void)state;
	assert_int_equal(flows_new(&f, 3), 0);
	probe(f, 0, 1, "198.51.100.1", 1000);
	probe(f, 1, 1, "198.51.100.1", 1000);
	/* Nobody answered flow 2 at hop 1: its path is not known to be the same. */
	probe(f, 2, 1, NULL, 0);
	assert_int_equal(flows_hop_differs(f, 1), 1);
	/* Nobody answered anyone: nothing to tell apart. */
	probe(f, 0, 2, NULL, 0);
	assert_int_equal(flows_hop_differs(f, 2), 0);
	/* A flow not probed at a hop (fewer rounds than flows) does not make it differ. */
	probe(f, 0, 3, "198.51.100.3", 1000);
	probe(f, 1, 3, "198.51.100.3", 1000);
	assert_int_equal(flows_hop_differs(f, 3), 0);
	/* An unsent probe is taken back from its flow only. */
	assert_int_equal(flows_sent(f, 1, 2), 0);
	flows_unsent(f, 1, 2);
	assert_int_equal(stats_table_hop(flows_table(f, 1), 2)->acc.sent, 0);
	assert_int_equal(stats_table_hop(flows_table(f, 0), 2)->acc.sent, 1);
	flows_free(f);
}

static int parse(struct options *o, char *err, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"hopwatch";
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return options_parse(o, argc, argv, NULL, 1, err, OPTIONS_ERR_MAX);
}

static void test_options(void **state)
{
	struct options o;
	struct trace_config tc;
	struct addr dst = v4("203.0.113.1");
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, err, "x", NULL), OPTIONS_RUN);
	assert_int_equal(o.ecmp, OPTIONS_ECMP_CLASSIC);
	assert_int_equal(o.flows, 0);
	assert_int_equal(trace_config_from_options(&tc, &o, "x", &dst), 0);
	assert_int_equal(tc.tmpl.has_flow_id, 0);
	assert_int_equal(tc.sched.nflows, 0);
	options_deinit(&o);

	assert_int_equal(parse(&o, err, "--ecmp", "paris", "x", NULL), OPTIONS_RUN);
	assert_int_equal(o.ecmp, OPTIONS_ECMP_PARIS);
	assert_int_equal(trace_config_from_options(&tc, &o, "x", &dst), 0);
	assert_int_equal(tc.tmpl.has_flow_id, 1);
	assert_int_equal(tc.tmpl.flow_id, 0);
	assert_int_equal(tc.sched.nflows, 0);
	options_deinit(&o);

	assert_int_equal(parse(&o, err, "--flows", "4", "-u", "x", NULL), OPTIONS_RUN);
	assert_int_equal(o.ecmp, OPTIONS_ECMP_PARIS);
	assert_int_equal(trace_config_from_options(&tc, &o, "x", &dst), 0);
	assert_int_equal(tc.sched.nflows, 4);
	assert_int_equal(tc.tmpl.has_flow_id, 1);
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--ecmp", "paris", "--flows", "16", "x", NULL),
			 OPTIONS_RUN);
	options_deinit(&o);

	assert_int_equal(parse(&o, err, "--ecmp", "Paris", "x", NULL), -EINVAL);
	assert_string_equal(err, "invalid value 'Paris' for --ecmp: expected classic or paris");
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--flows", "17", "x", NULL), -EINVAL);
	assert_string_equal(err, "invalid value '17' for --flows: expected an integer in 1..16");
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--flows", "0", "x", NULL), -EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--ecmp", "classic", "--flows", "2", "x", NULL), -EINVAL);
	assert_non_null(strstr(err, "--ecmp classic"));
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--flows", "2", "-T", "x", NULL), -EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, err, "--flows", "2", "-u", "-P", "53", "x", NULL), -EINVAL);
	options_deinit(&o);
}

/* Renders t with flows f in fmt into a string the caller frees. */
static char *render(enum report_format fmt, const struct stats_table *t, const struct flows *f)
{
	struct addr dst = v4("203.0.113.1");
	struct report_meta m = {
		.local_host = "vm",
		.target = "203.0.113.1",
		.target_addr = &dst,
		.numeric = 1,
		.max_ecmp = 8,
		.count = 8,
		.flows = f,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(report_render(fmt, t, &m, out), 0);
	fclose(out);
	return buf;
}

static void test_report(void **state)
{
	struct flows *f = two_paths();
	struct stats_table *t = NULL;
	char *s;
	int ttl, i;

	(void)state;
	assert_int_equal(stats_table_new(&t), 0);
	for (ttl = 1; ttl <= 3; ttl++) {
		for (i = 0; i < 2; i++) {
			struct addr a = v4(ttl == 3 ? "203.0.113.1" : "198.51.100.1");

			assert_int_equal(stats_sent(t, ttl), 0);
			stats_answer(t, ttl, ttl == 3 ? STATS_REPLY : STATS_TTL_EXPIRED, &a, 1000,
				     NULL, 0);
		}
	}
	s = render(REPORT_FORMAT_REPORT, t, f);
	/* Only hop 2 differs: one row per flow there, none for hops 1 and 3. */
	assert_non_null(strstr(s, "Flows: 2, one per round; the hops where their paths differ:\n"));
	assert_non_null(strstr(s, "   2.    0  198.51.100.2    "));
	assert_non_null(strstr(s, "         1  198.51.100.102  "));
	assert_non_null(strstr(s, " 25.0%     4   4.0   4.0   4.0\n"));
	assert_null(strstr(s, "   1.    0"));
	assert_null(strstr(s, "   3.    0"));
	free(s);

	s = render(REPORT_FORMAT_JSON, t, f);
	assert_non_null(strstr(s, "\"flows\": {\n"));
	assert_non_null(strstr(s, "\"differ\": [\n                    2\n"));
	assert_non_null(strstr(s, "\"flow_id\": 1,"));
	assert_non_null(strstr(s, "\"host\": \"198.51.100.102\",\n"));
	assert_non_null(strstr(s, "\"Loss%\": 25.0,"));
	/* mtr's own keys are untouched: the flows live under "hopwatch" only. */
	assert_non_null(strstr(s, "\"hubs\": [\n"));
	free(s);

	/* Paths alike everywhere: one line says so. */
	flows_reset(f);
	probe(f, 0, 1, "198.51.100.1", 1000);
	probe(f, 1, 1, "198.51.100.1", 1000);
	s = render(REPORT_FORMAT_REPORT, t, f);
	assert_non_null(strstr(s, "Flows: 2, one per round: all on one path\n"));
	free(s);
	flows_free(f);
	/* Fewer rounds than flows: flow 2 never went out and gets no row. */
	assert_int_equal(flows_new(&f, 3), 0);
	probe(f, 0, 1, "198.51.100.1", 1000);
	probe(f, 1, 1, "198.51.100.11", 1000);
	s = render(REPORT_FORMAT_REPORT, t, f);
	assert_non_null(strstr(s, "   1.    0  198.51.100.1  "));
	assert_non_null(strstr(s, "         1  198.51.100.11  "));
	assert_null(strstr(s, "         2  "));
	free(s);
	/* Without --flows no section at all. */
	s = render(REPORT_FORMAT_REPORT, t, NULL);
	assert_null(strstr(s, "Flows"));
	free(s);
	stats_table_free(t);
	flows_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_differs),
		cmocka_unit_test(test_silent_flow_differs),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
