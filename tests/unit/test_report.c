/*
 * test_report: renders one hand-built table into every format and compares with the files
 * under golden/. The table is the transcript that golden/mtr_fake_packet.py fed to the real
 * mtr 0.95 (hop 2: three ECMP responders, hop 3: silent, hop 4: 40% loss); report_*.txt,
 * .csv, .xml and mtr_j*.json are that mtr's own output (Start time fixed), so any drift from
 * mtr's layout or arithmetic fails here. Files named hopwatch_* are this renderer's own
 * reviewed output (split, WinMTR, the JSON with extras); HOPWATCH_UPDATE_GOLDEN=1 rewrites
 * only those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client/report.h"

#define GOLDEN_MAX   (64 * 1024)
#define PATH_MAX_LEN 4096
/* Start of the reference run (2026-11-28T04:44:14+0000), fixed in the golden files. */
#define START_TIME 1795841054
#define ALL_FIELDS "LDRSNBAWVGJMXI"

struct answer {
	const char *from; /* NULL = lost */
	int64_t rtt;
};

#define NPROBES 5
static const struct answer script[][NPROBES] = {
	{{"198.51.100.2", 1234},
	 {"198.51.100.2", 1500},
	 {"198.51.100.2", 1100},
	 {"198.51.100.2", 2000},
	 {"198.51.100.2", 1300}},
	{{"198.51.100.6", 5000},
	 {"198.51.100.66", 5600},
	 {"198.51.100.70", 7100},
	 {"198.51.100.6", 4900},
	 {"198.51.100.66", 6250}},
	{{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}},
	{{"198.51.100.14", 10000},
	 {NULL, 0},
	 {"198.51.100.14", 12345},
	 {NULL, 0},
	 {"198.51.100.14", 9876}},
	{{"203.0.113.1", 20100},
	 {"203.0.113.1", 19900},
	 {"203.0.113.1", 25000},
	 {"203.0.113.1", 20500},
	 {"203.0.113.1", 21000}},
};
#define NHOPS (sizeof(script) / sizeof(script[0]))

#define assert_contains(out, needle) check_has((out), (needle), 1, __LINE__)
#define assert_lacks(out, needle)    check_has((out), (needle), 0, __LINE__)

static void check_has(const char *out, const char *needle, int want, int line)
{
	if ((strstr(out, needle) != NULL) != want)
		fail_msg("line %d: %s \"%s\" in:\n%s", line, want ? "no" : "unexpected", needle,
			 out);
}

static struct addr v4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

/* Round by round, TTL by TTL, as mtr sends; the last hop answers as the destination. */
static struct stats_table *build_table_mpls(int with_mpls)
{
	/* what mtr_reference.sh's MPLS variant quotes on hops 1 and 2 */
	static const struct stats_mpls mpls[] = {{16, 0, 0, 1}, {24001, 5, 1, 2}};
	struct stats_table *t;
	size_t round, h;

	assert_int_equal(stats_table_new(&t), 0);
	for (round = 0; round < NPROBES; round++) {
		for (h = 0; h < NHOPS; h++) {
			const struct answer *a = &script[h][round];
			int ttl = (int)h + 1;
			struct addr from;

			stats_sent(t, ttl);
			if (!a->from) {
				stats_answer(t, ttl, STATS_LOST, NULL, 0, NULL, 0);
				continue;
			}
			from = v4(a->from);
			stats_answer(t, ttl, h + 1 == NHOPS ? STATS_REPLY : STATS_TTL_EXPIRED,
				     &from, a->rtt, with_mpls && ttl <= 2 ? mpls : NULL,
				     with_mpls && ttl <= 2 ? 2 : 0);
		}
	}
	return t;
}

static struct stats_table *build_table(void)
{
	return build_table_mpls(0);
}

static struct report_meta base_meta(const char *fields)
{
	struct report_meta m;

	memset(&m, 0, sizeof(m));
	m.local_host = "vm";
	m.target = "203.0.113.1";
	m.start = START_TIME;
	m.fields = fields;
	m.numeric = 1;
	m.psize = 64;
	m.count = NPROBES;
	m.protocol = "icmp";
	return m;
}

static char *render(enum report_format fmt, const struct stats_table *t,
		    const struct report_meta *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(report_render(fmt, t, m, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void golden_path(const char *name, char *out, size_t len)
{
	const char *dir = getenv("HOPWATCH_GOLDEN_DIR");

	snprintf(out, len, "%s/%s", dir ? dir : UNIT_SOURCE_DIR "/golden", name);
}

static char *read_golden(const char *name)
{
	char path[PATH_MAX_LEN];
	char *buf = calloc(1, GOLDEN_MAX);
	FILE *f;
	size_t n;

	assert_non_null(buf);
	golden_path(name, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	n = fread(buf, 1, GOLDEN_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void check_golden(const char *got, const char *name, int own)
{
	char *want;

	if (own && getenv("HOPWATCH_UPDATE_GOLDEN")) {
		char path[PATH_MAX_LEN];
		FILE *f;

		golden_path(name, path, sizeof(path));
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = read_golden(name);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "--- want %s\n%s--- got\n%s", name, want, got);
		fail_msg("output differs from golden/%s", name);
	}
	free(want);
}

static int setup(void **state)
{
	/* The Start line is local time, as mtr prints it. */
	setenv("TZ", "UTC", 1);
	tzset();
	*state = build_table();
	return 0;
}

static int teardown(void **state)
{
	*state = stats_table_free(*state);
	return 0;
}

static void golden_case(void **state, enum report_format fmt, const char *fields, const char *name,
			int own)
{
	struct report_meta m = base_meta(fields);
	char *got = render(fmt, *state, &m);

	check_golden(got, name, own);
	free(got);
}

static void test_report(void **state)
{
	golden_case(state, REPORT_FORMAT_REPORT, NULL, "report_r.txt", 0);
	golden_case(state, REPORT_FORMAT_REPORT, ALL_FIELDS, "report_r_all.txt", 0);
}

static void test_wide(void **state)
{
	golden_case(state, REPORT_FORMAT_WIDE, NULL, "report_w.txt", 0);
	golden_case(state, REPORT_FORMAT_WIDE, ALL_FIELDS, "report_w_all.txt", 0);
}

static void test_csv(void **state)
{
	golden_case(state, REPORT_FORMAT_CSV, NULL, "report_C.csv", 0);
	golden_case(state, REPORT_FORMAT_CSV, ALL_FIELDS, "report_C_all.csv", 0);
}

static void test_xml(void **state)
{
	golden_case(state, REPORT_FORMAT_XML, NULL, "report_x.xml", 0);
	golden_case(state, REPORT_FORMAT_XML, ALL_FIELDS, "report_x_all.xml", 0);
}

static void test_own_formats(void **state)
{
	golden_case(state, REPORT_FORMAT_JSON, NULL, "hopwatch_j.json", 1);
	golden_case(state, REPORT_FORMAT_SPLIT, NULL, "hopwatch_p.txt", 1);
	golden_case(state, REPORT_FORMAT_TEXT, NULL, "hopwatch_text.txt", 1);
	golden_case(state, REPORT_FORMAT_HTML, NULL, "hopwatch_html.html", 1);
	golden_case(state, REPORT_FORMAT_REPORT, "LSRDPQY", "hopwatch_r_pct.txt", 1);
}

/*
 * Our JSON with every "hopwatch" key removed must equal mtr's: same keys in the same order,
 * same types, same values as printed.
 */
static void strip_hopwatch(struct json_object *o)
{
	size_t i;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_del(o, "hopwatch");
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			strip_hopwatch(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (i = 0; i < json_object_array_length(o); i++)
			strip_hopwatch(json_object_array_get_idx(o, i));
	}
}

static void json_same(struct json_object *want, struct json_object *got, const char *where)
{
	size_t i;

	if (json_object_get_type(want) != json_object_get_type(got))
		fail_msg("%s: type %s, mtr has %s", where,
			 json_type_to_name(json_object_get_type(got)),
			 json_type_to_name(json_object_get_type(want)));
	switch (json_object_get_type(want)) {
	case json_type_object: {
		struct json_object_iterator wi = json_object_iter_begin(want);
		struct json_object_iterator we = json_object_iter_end(want);
		struct json_object_iterator gi = json_object_iter_begin(got);
		struct json_object_iterator ge = json_object_iter_end(got);

		while (!json_object_iter_equal(&wi, &we)) {
			if (json_object_iter_equal(&gi, &ge))
				fail_msg("%s: key %s missing", where,
					 json_object_iter_peek_name(&wi));
			assert_string_equal(json_object_iter_peek_name(&gi),
					    json_object_iter_peek_name(&wi));
			json_same(json_object_iter_peek_value(&wi),
				  json_object_iter_peek_value(&gi),
				  json_object_iter_peek_name(&wi));
			json_object_iter_next(&wi);
			json_object_iter_next(&gi);
		}
		if (!json_object_iter_equal(&gi, &ge))
			fail_msg("%s: extra key %s", where, json_object_iter_peek_name(&gi));
		break;
	}
	case json_type_array:
		assert_int_equal(json_object_array_length(got), json_object_array_length(want));
		for (i = 0; i < json_object_array_length(want); i++)
			json_same(json_object_array_get_idx(want, i),
				  json_object_array_get_idx(got, i), where);
		break;
	case json_type_double:
		/* the value as written, e.g. 1.426 and not 1.4259999 */
		assert_string_equal(json_object_to_json_string(got),
				    json_object_to_json_string(want));
		break;
	case json_type_int:
		assert_int_equal(json_object_get_int64(got), json_object_get_int64(want));
		break;
	case json_type_string:
		assert_string_equal(json_object_get_string(got), json_object_get_string(want));
		break;
	case json_type_boolean:
	case json_type_null:
		break;
	}
}

static void json_vs_mtr(void **state, const char *fields, const char *mtr_file)
{
	struct report_meta m = base_meta(fields);
	char *got = render(REPORT_FORMAT_JSON, *state, &m);
	char *want = read_golden(mtr_file);
	struct json_object *g = json_tokener_parse(got), *w = json_tokener_parse(want);

	assert_non_null(g);
	assert_non_null(w);
	strip_hopwatch(g);
	json_same(w, g, "report");
	json_object_put(g);
	json_object_put(w);
	free(got);
	free(want);
}

static void test_json_matches_mtr(void **state)
{
	json_vs_mtr(state, NULL, "mtr_j.json");
	json_vs_mtr(state, ALL_FIELDS, "mtr_j_all.json");
}

static struct json_object *must_get(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("key %s missing", key);
	if (!json_object_is_type(v, type))
		fail_msg("key %s is %s, want %s", key, json_type_to_name(json_object_get_type(v)),
			 json_type_to_name(type));
	return v;
}

/* Every key mtr's -j has, with mtr's types, plus the extras a script may rely on. */
static void test_json_schema(void **state)
{
	static const char *const floats[] = {"Loss%", "Last", "Avg", "Best", "Wrst", "StDev"};
	struct report_meta m = base_meta(NULL);
	char *got = render(REPORT_FORMAT_JSON, *state, &m);
	struct json_object *root = json_tokener_parse(got), *rep, *mtr, *hubs, *hub, *hw, *rs;
	size_t i, k;

	assert_non_null(root);
	rep = must_get(root, "report", json_type_object);
	mtr = must_get(rep, "mtr", json_type_object);
	assert_string_equal(json_object_get_string(must_get(mtr, "src", json_type_string)), "vm");
	assert_string_equal(json_object_get_string(must_get(mtr, "dst", json_type_string)),
			    "203.0.113.1");
	assert_int_equal(json_object_get_int(must_get(mtr, "tos", json_type_int)), 0);
	assert_int_equal(json_object_get_int(must_get(mtr, "tests", json_type_int)), NPROBES);
	assert_string_equal(json_object_get_string(must_get(mtr, "psize", json_type_string)), "64");
	assert_string_equal(json_object_get_string(must_get(mtr, "bitpattern", json_type_string)),
			    "0x00");
	hubs = must_get(rep, "hubs", json_type_array);
	assert_int_equal(json_object_array_length(hubs), NHOPS);
	for (i = 0; i < NHOPS; i++) {
		hub = json_object_array_get_idx(hubs, i);
		assert_int_equal(json_object_get_int(must_get(hub, "count", json_type_int)),
				 (int)i + 1);
		must_get(hub, "host", json_type_string);
		assert_int_equal(json_object_get_int(must_get(hub, "Snt", json_type_int)), NPROBES);
		for (k = 0; k < sizeof(floats) / sizeof(floats[0]); k++)
			must_get(hub, floats[k], json_type_double);
		hw = must_get(hub, "hopwatch", json_type_object);
		must_get(hw, "p50", json_type_double);
		must_get(hw, "p90", json_type_double);
		must_get(hw, "p99", json_type_double);
		rs = must_get(hw, "responders", json_type_array);
		assert_int_equal(json_object_array_length(rs), i == 1 ? 3 : (i == 2 ? 0 : 1));
	}
	/* the ECMP hop: each responder with its own counts */
	hub = json_object_array_get_idx(hubs, 1);
	rs = must_get(must_get(hub, "hopwatch", json_type_object), "responders", json_type_array);
	assert_string_equal(json_object_get_string(must_get(json_object_array_get_idx(rs, 2),
							    "host", json_type_string)),
			    "198.51.100.70");
	assert_int_equal(json_object_get_int(
				 must_get(json_object_array_get_idx(rs, 0), "Rcv", json_type_int)),
			 2);
	assert_true(json_object_get_boolean(must_get(
		must_get(json_object_array_get_idx(hubs, NHOPS - 1), "hopwatch", json_type_object),
		"destination", json_type_boolean)));
	json_object_put(root);
	free(got);
}

/* A hostile PTR answer: terminal escapes, newline, quotes, markup, a comma. */
#define EVIL_NAME "a\x1b[2J\"<b>&,c\n\\z\xff"

static const char *evil_name(const struct addr *addr, void *ctx)
{
	(void)ctx;
	return addr->u.v4.s_addr == htonl(0xc6336402) /* 198.51.100.2 */ ? EVIL_NAME : NULL;
}

static void test_escaping(void **state)
{
	struct report_meta m = base_meta(NULL);
	enum report_format f;
	char *out;

	m.numeric = 0;
	m.name = evil_name;
	for (f = 0; f < REPORT_FORMAT__COUNT; f++) {
		size_t i;

		out = render(f, *state, &m);
		for (i = 0; out[i]; i++)
			if ((unsigned char)out[i] == 0x1b || (unsigned char)out[i] == 0xff)
				fail_msg("format %d printed a raw byte 0x%02x", (int)f,
					 (unsigned char)out[i]);
		if (f != REPORT_FORMAT_RAW)
			assert_contains(out, "\\x1b[2J");
		if (f == REPORT_FORMAT_JSON) {
			struct json_object *root = json_tokener_parse(out), *hubs, *hub;

			assert_non_null(root);
			json_object_object_get_ex(json_object_object_get(root, "report"), "hubs",
						  &hubs);
			hub = json_object_array_get_idx(hubs, 0);
			assert_string_equal(
				json_object_get_string(json_object_object_get(hub, "host")),
				"a\\x1b[2J\"<b>&,c\\x0a\\\\z\\xff");
			json_object_put(root);
		}
		if (f == REPORT_FORMAT_XML || f == REPORT_FORMAT_HTML) {
			assert_lacks(out, "<b>");
			assert_contains(out, "&lt;b&gt;&amp;");
		}
		if (f == REPORT_FORMAT_CSV)
			assert_contains(out, ",\"a\\x1b[2J\"\"<b>&,c\\x0a\\\\z\\xff\",");
		free(out);
	}
}

static const char *long_name(const struct addr *addr, void *ctx)
{
	(void)ctx;
	return addr->u.v4.s_addr == htonl(0xc6336402) ? "a-very-long-router-name.example.net"
						      : NULL;
}

static void test_names(void **state)
{
	struct report_meta m = base_meta(NULL);
	char *out;

	m.numeric = 0;
	m.name = long_name;
	/* -r: the host column is 33 wide and the first field overwrites what sticks out */
	out = render(REPORT_FORMAT_REPORT, *state, &m);
	assert_contains(out, "  1.|-- a-very-long-router-name.e  0.0%");
	free(out);
	/* -w: never cut, the columns move right */
	out = render(REPORT_FORMAT_WIDE, *state, &m);
	assert_contains(out, "  1.|-- a-very-long-router-name.example.net  0.0%");
	assert_contains(out, "HOST: vm                                  Loss%");
	free(out);
	/* -b: name and address; -n: address only, whatever the resolver says */
	m.show_ips = 1;
	out = render(REPORT_FORMAT_WIDE, *state, &m);
	assert_contains(out, "a-very-long-router-name.example.net (198.51.100.2)");
	free(out);
	m.numeric = 1;
	out = render(REPORT_FORMAT_WIDE, *state, &m);
	assert_lacks(out, "a-very-long");
	free(out);
}

/* -e: mtr 0.95 lists labels under each extra responder only (S as a digit here). */
static void test_mpls(void **state)
{
	struct stats_table *t = build_table_mpls(1);
	struct report_meta m = base_meta(NULL);
	char *out;

	(void)state;
	m.show_mpls = 1;
	out = render(REPORT_FORMAT_REPORT, t, &m);
	check_golden(out, "report_r_mpls.txt", 0);
	free(out);
	m.show_mpls = 0;
	out = render(REPORT_FORMAT_REPORT, t, &m);
	check_golden(out, "report_r.txt", 0);
	free(out);
	out = render(REPORT_FORMAT_JSON, t, &m);
	assert_contains(out, "\"label\": 24001");
	free(out);
	stats_table_free(t);
}

static void test_max_ecmp(void **state)
{
	struct report_meta m = base_meta(NULL);
	char *out;

	m.max_ecmp = 1;
	out = render(REPORT_FORMAT_REPORT, *state, &m);
	assert_contains(out, "\n        198.51.100.6 ");
	assert_lacks(out, "198.51.100.70");
	free(out);
}

static void test_fields(void **state)
{
	struct report_meta m = base_meta("LZ");

	assert_int_equal(report_check_fields("LDRSNBAWVGJMXI PQY"), 0);
	assert_int_equal(report_check_fields("LS NABWV"), 0);
	assert_int_equal(report_check_fields("Z"), -EINVAL);
	assert_int_equal(report_check_fields("l"), -EINVAL);
	assert_int_equal(report_check_fields(NULL), -EINVAL);
	assert_int_equal(report_render(REPORT_FORMAT_REPORT, *state, &m, stdout), -EINVAL);
	m.fields = NULL;
	assert_int_equal(report_render(REPORT_FORMAT__COUNT, *state, &m, stdout), -EINVAL);
}

static void test_raw(void **state)
{
	struct addr a = v4("198.51.100.2");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(report_raw_xmit(f, 1, 33000), 0);
	assert_int_equal(report_raw_host(f, 1, &a), 0);
	assert_int_equal(report_raw_ping(f, 1, 1234, 33000), 0);
	assert_int_equal(report_raw_dns(f, 1, "r1\x1b.example"), 0);
	fclose(f);
	/* mtr -l's lines for the same events (TTL printed 0-based) */
	assert_string_equal(buf, "x 0 33000\nh 0 198.51.100.2\np 0 1234 33000\n"
				 "d 0 r1\\x1b.example\n");
	free(buf);
}

static void test_unreached(void **state)
{
	struct stats_table *t;
	struct report_meta m = base_meta(NULL);
	struct addr a = v4("198.51.100.2");
	char *out;

	(void)state;
	assert_int_equal(stats_table_new(&t), 0);
	stats_sent(t, 1);
	stats_answer(t, 1, STATS_TTL_EXPIRED, &a, 1000, NULL, 0);
	stats_sent(t, 2);
	stats_sent(t, 3);
	stats_answer(t, 3, STATS_LOST, NULL, 0, NULL, 0);
	out = render(REPORT_FORMAT_REPORT, t, &m);
	/* one "???" row past the last answer; the probe in flight at hop 2 is not a loss */
	assert_contains(out, "  2.|-- ???                        0.0%     1");
	assert_lacks(out, "  3.|--");
	free(out);
	stats_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_matches_mtr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mpls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_ecmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreached, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
