/*
 * test_tui_pane: the live view's findings pane as text. Rounds still needed are counted
 * from hand-fed tables (probes in flight, hops below the first TTL); the pane of a real
 * diagnosis (loss from hop 3 on) names each finding as the diagnosis does and ends in
 * its conclusion; hand-made results check the layout: what goes when rows are short
 * (explanations first, then the least severe findings, counted), lines cut to the
 * width, an AS name with control bytes escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/diagnose.h"
#include "client/stats.h"
#include "client/tui_pane.h"

#define TARGET	 "203.0.113.1"
#define PROBES	 20
#define LOSS_HOP 3
#define NHOPS	 6
#define WIDE	 TUI_PANE_COLS_MAX

static struct addr addr_of(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u.v4), 1);
	return a;
}

/* n probes to ttl from addr, the first lost ones unanswered, the rest answered. */
static void feed(struct stats_table *t, int ttl, const char *from, int n, int lost, int dest)
{
	struct addr a = addr_of(from);
	int k;

	for (k = 0; k < n; k++) {
		assert_int_equal(stats_sent(t, ttl), 0);
		if (k < lost)
			stats_answer(t, ttl, STATS_LOST, NULL, 0, NULL, 0);
		else
			stats_answer(t, ttl, dest ? STATS_REPLY : STATS_TTL_EXPIRED, &a,
				     1000 * (int64_t)ttl, NULL, 0);
	}
}

static void test_rounds_needed(void **state)
{
	struct stats_table *t;

	(void)state;
	assert_int_equal(tui_pane_rounds_needed(NULL), DIAGNOSE_MIN_PROBES);
	assert_int_equal(stats_table_new(&t), 0);
	assert_int_equal(tui_pane_rounds_needed(t), DIAGNOSE_MIN_PROBES);
	feed(t, 1, "198.51.100.1", 3, 0, 0);
	feed(t, 2, TARGET, 3, 0, 1);
	assert_int_equal(tui_pane_rounds_needed(t), DIAGNOSE_MIN_PROBES - 3);
	feed(t, 1, "198.51.100.1", DIAGNOSE_MIN_PROBES, 0, 0);
	/* Hop 2 (the destination) has 3 + 4 done, and one more probe still out. */
	feed(t, 2, TARGET, 4, 1, 1);
	assert_int_equal(stats_sent(t, 2), 0);
	assert_int_equal(tui_pane_rounds_needed(t), DIAGNOSE_MIN_PROBES - 7);
	/* Timed out counts as finished. */
	stats_answer(t, 2, STATS_LOST, NULL, 0, NULL, 0);
	feed(t, 2, TARGET, 2, 0, 1);
	assert_int_equal(tui_pane_rounds_needed(t), 0);
	stats_table_free(t);

	/* A first TTL of 2: hop 1 is never probed and never waited for. */
	assert_int_equal(stats_table_new(&t), 0);
	feed(t, 2, "198.51.100.2", DIAGNOSE_MIN_PROBES, 0, 0);
	feed(t, 3, TARGET, DIAGNOSE_MIN_PROBES - 1, 0, 1);
	assert_int_equal(tui_pane_rounds_needed(t), 1);
	feed(t, 3, TARGET, 1, 0, 1);
	assert_int_equal(tui_pane_rounds_needed(t), 0);
	stats_table_free(t);
}

static int has_line(const struct tui_pane_line *l, size_t n, const char *needle)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strstr(l[i].text, needle))
			return 1;
	return 0;
}

static void test_waiting_and_error(void **state)
{
	struct tui_pane_line l[TUI_PANE_ROWS_MAX];
	struct tui_pane_input in = {.need = 4, .rounds = 6};
	struct diagnose_result r;
	size_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	in.diag = &r;
	n = tui_pane_lines(&in, 10, WIDE, l);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].style, TUI_PANE_HEADER);
	assert_non_null(strstr(l[0].text, "too few probes yet, 4 more rounds needed (10 per hop)"));
	in.need = 1;
	n = tui_pane_lines(&in, 10, WIDE, l);
	assert_non_null(strstr(l[0].text, "1 more round needed"));
	/* Waiting needs no diagnosis: none is made before enough probes are in. */
	in.diag = NULL;
	in.err = -ENOMEM;
	n = tui_pane_lines(&in, 10, WIDE, l);
	assert_int_equal(n, 1);
	assert_non_null(strstr(l[0].text, "1 more round needed"));
	in.need = 0;
	n = tui_pane_lines(&in, 10, WIDE, l);
	assert_int_equal(n, 1);
	assert_non_null(strstr(l[0].text, strerror(ENOMEM)));
	assert_int_equal(tui_pane_lines(&in, 0, WIDE, l), 0);
	assert_int_equal(tui_pane_lines(&in, 10, 0, l), 0);
	assert_int_equal(tui_pane_lines(NULL, 10, WIDE, l), 0);
}

/* Loss from hop 3 on, carried to the destination: the pane says what the diagnosis says. */
static void test_real_diagnosis(void **state)
{
	struct tui_pane_line l[TUI_PANE_ROWS_MAX];
	struct diagnose_result *r = malloc(sizeof(*r));
	struct tui_pane_input in = {.rounds = PROBES};
	struct stats_table *t;
	struct addr target = addr_of(TARGET);
	struct diagnose_input din = {.target = &target};
	char addr[32], want[TUI_PANE_COLS_MAX];
	size_t n, i, line;
	int ttl, real = 0;

	(void)state;
	assert_non_null(r);
	assert_int_equal(stats_table_new(&t), 0);
	for (ttl = 1; ttl <= NHOPS; ttl++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", ttl);
		feed(t, ttl, ttl == NHOPS ? TARGET : addr, PROBES,
		     ttl >= LOSS_HOP ? PROBES * 3 / 10 : 0, ttl == NHOPS);
	}
	assert_int_equal(tui_pane_rounds_needed(t), 0);
	din.t = t;
	din.dest_reached = 1;
	assert_int_equal(diagnose_run(&din, r), 0);
	in.diag = r;
	n = tui_pane_lines(&in, TUI_PANE_ROWS_MAX, WIDE, l);
	/* Header, two lines per finding, the conclusion. */
	assert_int_equal(n, 2 + 2 * r->nfindings);
	assert_int_equal(l[0].style, TUI_PANE_HEADER);
	snprintf(want, sizeof(want), "conclusion %s", diagnose_conclusion_id(r->conclusion));
	assert_non_null(strstr(l[0].text, want));
	for (i = 0, line = 1; i < r->nfindings; i++, line += 2) {
		const struct diagnose_finding *f = &r->findings[i];

		snprintf(want, sizeof(want), "[%s] %s  ", diagnose_severity_id(f->severity),
			 diagnose_kind_title(f->kind));
		assert_true(strncmp(l[line].text, want, strlen(want)) == 0);
		assert_int_equal(l[line].style, f->severity == DIAGNOSE_PROBLEM ? TUI_PANE_STRONG
										: TUI_PANE_PLAIN);
		assert_true(strncmp(l[line + 1].text, "    ", 4) == 0);
		if (f->kind == DIAGNOSE_REAL_LOSS && f->hop == LOSS_HOP) {
			real = 1;
			assert_non_null(strstr(l[line].text, "hops 3,4,5,6 198.51.100.3  region"));
			assert_non_null(strstr(l[line + 1].text, "loss starts at hop 3"));
		}
	}
	assert_true(real);
	assert_int_equal(r->conclusion, DIAGNOSE_CONCLUDE_PROBLEM);
	assert_non_null(strstr(l[n - 1].text, "Conclusion: a real network exception: Real "
					      "packet loss at hop 3 198.51.100.3; contact"));
	assert_int_equal(l[n - 1].style, TUI_PANE_STRONG);
	stats_table_free(t);
	free(r);
}

/* Three findings at hops 1 (info), 3 (warning), 5 (problem). */
static void three(struct diagnose_result *r)
{
	static const struct {
		enum diagnose_kind kind;
		enum diagnose_severity sev;
		int hop;
	} f[] = {
		{DIAGNOSE_RATE_LIMIT, DIAGNOSE_INFO, 1},
		{DIAGNOSE_HIGH_STDEV, DIAGNOSE_WARNING, 3},
		{DIAGNOSE_REAL_LOSS, DIAGNOSE_PROBLEM, 5},
	};
	size_t i;

	memset(r, 0, sizeof(*r));
	r->conclusion = DIAGNOSE_CONCLUDE_PROBLEM;
	for (i = 0; i < 3; i++) {
		r->findings[i].kind = f[i].kind;
		r->findings[i].severity = f[i].sev;
		r->findings[i].hop = f[i].hop;
		r->findings[i].region = DIAGNOSE_REGION_B;
		r->findings[i].contact = DIAGNOSE_CONTACT_CARRIER;
		r->findings[i].nhops = 1;
		r->findings[i].hops[0].ttl = f[i].hop;
	}
	r->nfindings = 3;
}

static void test_short_rows(void **state)
{
	struct tui_pane_line l[TUI_PANE_ROWS_MAX];
	struct diagnose_result *r = malloc(sizeof(*r));
	struct tui_pane_input in = {.rounds = 12};
	size_t n, rows;

	(void)state;
	assert_non_null(r);
	three(r);
	in.diag = r;
	for (rows = 1; rows <= 12; rows++) {
		n = tui_pane_lines(&in, rows, WIDE, l);
		assert_true(n <= rows);
		assert_int_equal(l[0].style, TUI_PANE_HEADER);
		if (rows >= 2) /* the conclusion stays, last */
			assert_true(strncmp(l[n - 1].text, "Conclusion: ", 12) == 0);
	}
	/* Room for one finding: the problem one, the others counted. */
	n = tui_pane_lines(&in, 4, WIDE, l);
	assert_int_equal(n, 4);
	assert_true(strncmp(l[1].text, "[problem] Real packet loss  hop 5", 33) == 0);
	assert_non_null(strstr(l[2].text, "+2 more findings"));
	/* All three, one line each, in hop order (no room for the explanations). */
	for (rows = 5; rows <= 7; rows++) {
		n = tui_pane_lines(&in, rows, WIDE, l);
		assert_int_equal(n, 5);
		assert_true(strncmp(l[1].text, "[info] ICMP rate limiting  hop 1", 32) == 0);
		assert_true(strncmp(l[2].text, "[warning] ", 10) == 0);
		assert_true(strncmp(l[3].text, "[problem] ", 10) == 0);
		assert_false(has_line(l, n, "more finding"));
	}
	/* Room for all: explanations under each. */
	n = tui_pane_lines(&in, 8, WIDE, l);
	assert_int_equal(n, 8);
	assert_true(strncmp(l[2].text, "    ", 4) == 0);
	/* Findings that did not fit the result are counted too. */
	r->dropped = 2;
	n = tui_pane_lines(&in, TUI_PANE_ROWS_MAX, WIDE, l);
	assert_int_equal(n, 9);
	assert_non_null(strstr(l[7].text, "+2 more findings"));
	assert_non_null(strstr(l[0].text, "5 after 12 rounds"));
	free(r);
}

static void test_width_and_escape(void **state)
{
	struct tui_pane_line l[TUI_PANE_ROWS_MAX];
	struct diagnose_result *r = malloc(sizeof(*r));
	struct tui_pane_input in = {.rounds = 12};
	size_t n, i, w, k;

	(void)state;
	assert_non_null(r);
	three(r);
	r->findings[2].hops[0].addr = addr_of("198.51.100.5");
	r->findings[2].as.asn = 64500;
	snprintf(r->findings[2].as.name, sizeof(r->findings[2].as.name), "EVIL\033[2J-NET");
	in.diag = r;
	n = tui_pane_lines(&in, TUI_PANE_ROWS_MAX, WIDE, l);
	assert_true(has_line(l, n, "hop 5 198.51.100.5 AS64500 EVIL"));
	assert_true(has_line(l, n, "contact the carrier AS64500 EVIL"));
	for (i = 0; i < n; i++)
		for (k = 0; l[i].text[k]; k++)
			assert_true((unsigned char)l[i].text[k] >= ' ' &&
				    (unsigned char)l[i].text[k] < 127);
	for (w = 1; w <= 80; w += 13) {
		n = tui_pane_lines(&in, TUI_PANE_ROWS_MAX, w, l);
		assert_true(n > 2);
		for (i = 0; i < n; i++)
			assert_true(strlen(l[i].text) <= w);
	}
	/* Wider than the pane keeps: cut to its own limit. */
	n = tui_pane_lines(&in, TUI_PANE_ROWS_MAX, 10 * TUI_PANE_COLS_MAX, l);
	for (i = 0; i < n; i++)
		assert_true(strlen(l[i].text) <= TUI_PANE_COLS_MAX);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rounds_needed),	 cmocka_unit_test(test_waiting_and_error),
		cmocka_unit_test(test_real_diagnosis),	 cmocka_unit_test(test_short_rows),
		cmocka_unit_test(test_width_and_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
