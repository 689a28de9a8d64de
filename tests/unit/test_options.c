/*
 * test_options: hopwatch's command line (client/options.c) and the engine reply decoder
 * (engine_conn_parse_reply), both pure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/engine_conn.h"
#include "client/options.h"

#define ARGV_MAX 32

static int parse(struct options *o, const char *env, int root, char *err, size_t errlen, ...)
{
	char *argv[ARGV_MAX];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = (char *)"hopwatch";
	va_start(ap, errlen);
	while ((a = va_arg(ap, const char *)) && argc < ARGV_MAX - 1)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return options_parse(o, argc, argv, env, root, err, errlen);
}

static void test_defaults(void **state)
{
	struct options o;
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "example.org", NULL), OPTIONS_RUN);
	assert_int_equal(o.report, 0);
	assert_int_equal(o.count, 10);
	assert_int_equal(o.interval_us, 1000000);
	assert_int_equal(o.max_ttl, 30);
	assert_int_equal(o.first_ttl, 1);
	assert_int_equal(o.max_unknown, 12);
	assert_int_equal(o.timeout_s, 10);
	assert_int_equal(o.grace_us, 5000000);
	assert_int_equal(o.display_mode, 0);
	assert_int_equal(o.proto, PROTO_PROTOCOL_ICMP);
	assert_int_equal(o.ntargets, 1);
	assert_string_equal(o.targets[0], "example.org");
	options_deinit(&o);
}

static void test_long_and_short(void **state)
{
	struct options o;
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, NULL, 1, err, sizeof(err), "--report-cycles", "3", "-i", "0.25",
			       "--max-ttl=20", "-f", "2", "-T", "-P", "443", "--json", "-M",
			       "4294967295", "-s", "-100", "-B", "300", "a", "b", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.count, 3);
	assert_int_equal(o.interval_us, 250000);
	assert_int_equal(o.max_ttl, 20);
	assert_int_equal(o.first_ttl, 2);
	assert_int_equal(o.proto, PROTO_PROTOCOL_TCP);
	assert_int_equal(o.port, 443);
	assert_int_equal(o.report, 1);
	assert_int_equal(o.format, REPORT_FORMAT_JSON);
	assert_int_equal(o.has_mark, 1);
	assert_int_equal(o.mark, UINT32_MAX);
	assert_int_equal(o.psize, -100);
	assert_int_equal(o.bitpattern, -1);
	assert_int_equal(o.ntargets, 2);
	options_deinit(&o);
}

static void test_env_then_argv(void **state)
{
	struct options o;
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, " -c 3\t-n ", 0, err, sizeof(err), "-c", "7", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.count, 7); /* the command line wins */
	assert_int_equal(o.numeric, 1);
	options_deinit(&o);
	/* A bad default is an error too, named like any other. */
	assert_int_equal(parse(&o, "-m 0", 0, err, sizeof(err), "h", NULL), -EINVAL);
	assert_non_null(strstr(err, "-m"));
	options_deinit(&o);
}

static void test_errors(void **state)
{
	static const char *const bad[][3] = {
		{"-c", "0", "-c"},    {"-c", "abc", "'abc'"},
		{"-i", "-1", "-i"},   {"-i", "0", "-i"},
		{"-m", "300", "-m"},  {"-s", "abc", "-s"},
		{"-s", "5000", "-s"}, {"-Q", "256", "-Q"},
		{"-L", "80", "-L"},   {"--bogus", "x", "unknown option"},
	};
	struct options o;
	char err[OPTIONS_ERR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
			parse(&o, NULL, 1, err, sizeof(err), bad[i][0], bad[i][1], "h", NULL),
			-EINVAL);
		assert_non_null(strstr(err, bad[i][2]));
		assert_null(strchr(err, '\n'));
		options_deinit(&o);
	}
	/* Below one second only for root, as mtr. */
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-i", "0.5", "h", NULL), -EINVAL);
	assert_non_null(strstr(err, "non-root"));
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), NULL), -EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-f", "5", "-m", "4", "h", NULL),
			 -EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--help", NULL), OPTIONS_HELP);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-v", NULL), OPTIONS_VERSION);
	options_deinit(&o);
}

/* mtr 0.95: a second protocol flag, even the same one, is an error. */
static void test_protocols_exclusive(void **state)
{
	static const char *const pairs[][2] = {
		{"-u", "-T"},	    {"-T", "-u"}, {"-u", "-u"},
		{"--udp", "--tcp"}, {"-u", "-S"}, {"-T", "--sctp"},
	};
	struct options o;
	char err[OPTIONS_ERR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(
			parse(&o, NULL, 0, err, sizeof(err), pairs[i][0], pairs[i][1], "h", NULL),
			-EINVAL);
		assert_string_equal(err, "-u, -T and -S are mutually exclusive");
		options_deinit(&o);
	}
	/* The defaults count too, as MTR_OPTIONS does for mtr. */
	assert_int_equal(parse(&o, "-u", 0, err, sizeof(err), "-T", "h", NULL), -EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-S", "h", NULL), -EINVAL);
	assert_non_null(strstr(err, "SCTP"));
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-u", "h", NULL), OPTIONS_RUN);
	assert_int_equal(o.proto, PROTO_PROTOCOL_UDP);
	options_deinit(&o);
}

/* -G in decimal seconds, as mtr, to the microsecond; zero and below are refused. */
static void test_gracetime(void **state)
{
	static const char *const bad[] = {"0", "-1", "abc", "1.5x", "3601", ""};
	struct options o;
	char err[OPTIONS_ERR_MAX];
	size_t i;

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-G", "0.5", "h", NULL), OPTIONS_RUN);
	assert_int_equal(o.grace_us, 500000);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--gracetime=2.000001", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.grace_us, 2000001);
	options_deinit(&o);
	/* Below a microsecond still waits one, as mtr takes any positive value. */
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-G", "0.0000001", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.grace_us, 1);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-G", "3600", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.grace_us, 3600000000LL);
	options_deinit(&o);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-G", bad[i], "h", NULL),
				 -EINVAL);
		assert_non_null(strstr(err, "-G (--gracetime)"));
		options_deinit(&o);
	}
}

/* -z is mtr's -y 0; -y N picks the AS record's field N (0..4); none of them: -1. */
static void test_aslookup(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{"-y", "2", 2},	 {"--ipinfo=0", NULL, 0}, {"--ipinfo", "4", 4},
		{"-z", NULL, 0}, {"--aslookup", NULL, 0}, {"-y", "1", 1},
	};
	struct options o;
	char err[OPTIONS_ERR_MAX];
	size_t i;

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "h", NULL), 0);
	assert_int_equal(o.ipinfo, -1);
	options_deinit(&o);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].b)
			assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), cases[i].a,
					       cases[i].b, "h", NULL),
					 0);
		else
			assert_int_equal(
				parse(&o, NULL, 0, err, sizeof(err), cases[i].a, "h", NULL), 0);
		assert_int_equal(o.ipinfo, cases[i].want);
		options_deinit(&o);
	}
	/* The last one given wins, as in mtr. */
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-y", "3", "-z", "h", NULL), 0);
	assert_int_equal(o.ipinfo, 0);
	options_deinit(&o);
	/* mtr's range: a bad -y value is named as such. */
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-y", "5", "h", NULL), -EINVAL);
	assert_non_null(strstr(err, "'5' for -y (--ipinfo)"));
	options_deinit(&o);
}

static void test_displaymode(void **state)
{
	struct options o;
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--displaymode", "1", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.display_mode, 1);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--displaymode=0", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.display_mode, 0);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--displaymode", "2", "h", NULL),
			 OPTIONS_RUN);
	assert_int_equal(o.display_mode, 2);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--displaymode", "3", "h", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "--displaymode"));
	options_deinit(&o);
}

/* --output takes a report: a report flag's or --report-on-exit's, never the view alone. */
static void test_output(void **state)
{
	struct options o;
	char err[OPTIONS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--output", "f", "h", NULL), -EINVAL);
	assert_non_null(strstr(err, "--output needs a report flag"));
	options_deinit(&o);
	/* -t after -r is the live view again. */
	assert_int_equal(
		parse(&o, NULL, 0, err, sizeof(err), "-r", "-t", "--output", "f", "h", NULL),
		-EINVAL);
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--report-on-exit", "--output", "f",
			       "h", NULL),
			 OPTIONS_RUN);
	assert_string_equal(o.output, "f");
	options_deinit(&o);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "--text", "--output", "f", "h", NULL),
			 OPTIONS_RUN);
	options_deinit(&o);
}

static void test_host_file(void **state)
{
	char path[] = "/tmp/test_options_XXXXXX";
	struct options o;
	char err[OPTIONS_ERR_MAX];
	int fd;
	static const char text[] = "# hosts\n  one.example \n\ntwo.example\n";

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(parse(&o, NULL, 0, err, sizeof(err), "-F", path, "three", NULL),
			 OPTIONS_RUN);
	unlink(path);
	assert_int_equal(o.ntargets, 3);
	assert_string_equal(o.targets[0], "one.example");
	assert_string_equal(o.targets[1], "two.example");
	assert_string_equal(o.targets[2], "three");
	options_deinit(&o);
}

static void test_parse_reply(void **state)
{
	static const char l1[] = "7 ttl-expired ip-4 198.51.100.2 round-trip-time 1234 "
				 "mpls 16,0,0,1,24001,0,1,1 reply-ttl 250";
	static const char l2[] = "9 feature-support support ok";
	static const char l3[] = "3 reply ip-6 2001:db8::1 round-trip-time 99";
	struct engine_result r;
	struct proto_slice sup;
	int64_t tok;

	(void)state;
	assert_int_equal(engine_conn_parse_reply(l1, strlen(l1), &tok, &r, &sup), 0);
	assert_int_equal(tok, 7);
	assert_int_equal(r.reply, PROTO_REPLY_TTL_EXPIRED);
	assert_int_equal(r.from.family, AF_INET);
	assert_int_equal(r.rtt_us, 1234);
	assert_int_equal(r.nmpls, 2);
	assert_int_equal(r.mpls[1].label, 24001);
	assert_int_equal(r.mpls[1].bos, 1);
	assert_int_equal(engine_conn_parse_reply(l2, strlen(l2), &tok, &r, &sup), 0);
	assert_int_equal(r.reply, PROTO_REPLY_FEATURE_SUPPORT);
	assert_int_equal(sup.len, 2);
	assert_memory_equal(sup.ptr, "ok", 2);
	assert_int_equal(engine_conn_parse_reply(l3, strlen(l3), &tok, &r, NULL), 0);
	assert_int_equal(r.from.family, AF_INET6);
	/* Garbage is refused, not half-read. */
	assert_int_equal(engine_conn_parse_reply("x reply", 7, &tok, &r, NULL), -EINVAL);
	assert_int_equal(engine_conn_parse_reply("1 teleport", 10, &tok, &r, NULL), -EINVAL);
	assert_int_equal(engine_conn_parse_reply("1 reply ip-4 1.2.3", 18, &tok, &r, NULL),
			 -EINVAL);
	assert_int_equal(engine_conn_parse_reply("1 reply mpls 1,2,3", 18, &tok, &r, NULL),
			 -EINVAL);
	assert_int_equal(engine_conn_parse_reply("1 reply round-trip-time -5", 26, &tok, &r, NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_long_and_short),
		cmocka_unit_test(test_env_then_argv),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_host_file),
		cmocka_unit_test(test_parse_reply),
		cmocka_unit_test(test_protocols_exclusive),
		cmocka_unit_test(test_gracetime),
		cmocka_unit_test(test_aslookup),
		cmocka_unit_test(test_displaymode),
		cmocka_unit_test(test_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
