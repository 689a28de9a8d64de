/*
 * test_history: the recently-used host list: most recent first, no repeats (ignoring
 * case), the bound, a bound of 0, damaged and missing files, the atomic rewrite (no
 * temporary file left, parents created, a failed write leaves the old file), and the
 * XDG_STATE_HOME / HOME path rules. Works in a temporary directory of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/history.h"

static char tmpdir[] = "/tmp/test_history.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[sizeof(tmpdir) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void file_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void expect(const struct history *h, const char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(h->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(h->hosts[i], want[i]);
}

static void test_lru_order_and_dedup(void **state)
{
	static const char *const want[] = {"b.example", "c.example", "a.example"};
	struct history h;

	(void)state;
	assert_int_equal(history_init(&h, HISTORY_DEFAULT_MAX), 0);
	assert_int_equal(history_add(&h, "a.example"), 0);
	assert_int_equal(history_add(&h, "b.example"), 0);
	assert_int_equal(history_add(&h, "c.example"), 0);
	/* Using b again moves it to the front instead of adding a second b. */
	assert_int_equal(history_add(&h, "B.Example"), 0);
	assert_int_equal(history_add(&h, "b.example"), 0);
	expect(&h, want, 3);
	history_deinit(&h);
}

static void test_bound_drops_oldest(void **state)
{
	static const char *const want[] = {"h4", "h3", "h2"};
	static const char *const want2[] = {"h2", "h4", "h3"};
	struct history h;

	(void)state;
	assert_int_equal(history_init(&h, 3), 0);
	assert_int_equal(history_add(&h, "h1"), 0);
	assert_int_equal(history_add(&h, "h2"), 0);
	assert_int_equal(history_add(&h, "h3"), 0);
	assert_int_equal(history_add(&h, "h4"), 0);
	expect(&h, want, 3);
	/* A repeat in a full list must not push anything out. */
	assert_int_equal(history_add(&h, "h2"), 0);
	expect(&h, want2, 3);
	history_deinit(&h);
	assert_int_equal(history_init(&h, (size_t)HISTORY_LIMIT + 5), 0);
	assert_int_equal(h.max, HISTORY_LIMIT);
	history_deinit(&h);
}

static void test_zero_keeps_nothing(void **state)
{
	struct history h;
	char path[256];

	(void)state;
	file_path(path, sizeof(path), "zero");
	write_file(path, "old.example\n", 12);
	assert_int_equal(history_init(&h, 0), 0);
	assert_int_equal(history_add(&h, "a.example"), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(history_load(&h, path), 0);
	assert_int_equal(h.n, 0);
	history_deinit(&h);
}

static void test_invalid_hosts_refused(void **state)
{
	static const char *const bad[] = {"",	"a b",	"x\033[2J",   "tab\there",
					  "-n", "a\nb", "caf\xc3\xa9"};
	char longhost[HISTORY_HOST_MAX + 2];
	struct history h;
	size_t i;

	(void)state;
	assert_int_equal(history_init(&h, 4), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(history_add(&h, bad[i]), -EINVAL);
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	assert_int_equal(history_add(&h, longhost), -EINVAL);
	longhost[HISTORY_HOST_MAX] = '\0';
	assert_int_equal(history_add(&h, longhost), 0);
	assert_int_equal(history_add(&h, "2001:db8::1"), 0);
	assert_int_equal(history_add(&h, "fe80::1%eth0"), 0);
	assert_int_equal(history_add(&h, "192.0.2.1"), 0);
	assert_int_equal(h.n, 4);
	history_deinit(&h);
}

static void test_save_load_roundtrip(void **state)
{
	static const char *const want[] = {"c.example", "192.0.2.7", "a.example"};
	struct history h, back;
	char path[320], dir[256];
	struct dirent *de;
	DIR *d;

	(void)state;
	/* Parents that do not exist yet are created. */
	file_path(dir, sizeof(dir), "state/deep");
	snprintf(path, sizeof(path), "%s/hopwatch/history", dir);
	assert_int_equal(history_init(&h, 8), 0);
	assert_int_equal(history_add(&h, "a.example"), 0);
	assert_int_equal(history_add(&h, "192.0.2.7"), 0);
	assert_int_equal(history_add(&h, "c.example"), 0);
	assert_int_equal(history_save(&h, path), 0);
	assert_string_equal(read_all(path), "c.example\n192.0.2.7\na.example\n");
	/* Only the history itself is left in the directory: the temporary file was renamed. */
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/hopwatch");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			assert_string_equal(de->d_name, "history");
	closedir(d);

	assert_int_equal(history_init(&back, 8), 0);
	assert_int_equal(history_load(&back, path), 0);
	expect(&back, want, 3);
	history_deinit(&back);
	/* A smaller bound keeps the most recent entries of the file. */
	assert_int_equal(history_init(&back, 2), 0);
	assert_int_equal(history_load(&back, path), 0);
	expect(&back, want, 2);
	history_deinit(&back);
	history_deinit(&h);
}

static void test_missing_file_is_empty(void **state)
{
	struct history h;
	char path[256];

	(void)state;
	file_path(path, sizeof(path), "nothing/here");
	assert_int_equal(history_init(&h, 8), 0);
	assert_int_equal(history_load(&h, path), 0);
	assert_int_equal(h.n, 0);
	history_deinit(&h);
}

static void test_corrupt_file_tolerated(void **state)
{
	static const char junk[] = "good.example\n"
				   "\033]0;evil\007\n"
				   "\n"
				   "with space\n"
				   "\xff\xfe\x01\x02\n"
				   "GOOD.example\n"
				   "192.0.2.9\r\n"
				   "also.good";
	static const char *const want[] = {"good.example", "x.example", "also.good"};
	char big[HISTORY_HOST_MAX * 3];
	struct history h;
	char path[256];
	FILE *f;

	(void)state;
	file_path(path, sizeof(path), "corrupt");
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(junk, 1, strchr(junk, '1') - junk, f); /* up to the CRLF line */
	/* A line far longer than a host is skipped whole, not split into hosts. */
	memset(big, 'b', sizeof(big));
	fwrite(big, 1, sizeof(big), f);
	fputs("\nx.example\n192.0.2.9\r\nalso.good", f);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(history_init(&h, 8), 0);
	assert_int_equal(history_load(&h, path), 0);
	expect(&h, want, 3);
	history_deinit(&h);
}

static void test_unreadable_path_reported(void **state)
{
	struct history h;
	char path[256];
	struct dirent *de;
	DIR *d;

	(void)state;
	/* A directory where the file should be: reading fails, and is said so. */
	file_path(path, sizeof(path), "isdir");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(history_init(&h, 8), 0);
	assert_int_not_equal(history_load(&h, path), 0);
	assert_int_equal(h.n, 0);
	/* Saving over a directory fails; no temporary file stays behind. */
	assert_int_equal(history_add(&h, "a.example"), 0);
	assert_int_not_equal(history_save(&h, path), 0);
	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_int_not_equal(strncmp(de->d_name, "isdir.", 6), 0);
	closedir(d);
	history_deinit(&h);
}

static void test_failed_save_keeps_old_file(void **state)
{
	struct history h;
	char path[320], dir[256];

	(void)state;
	if (geteuid() == 0)
		skip(); /* root writes into read-only directories */
	file_path(dir, sizeof(dir), "ro");
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/history", dir);
	write_file(path, "old.example\n", 12);
	assert_int_equal(chmod(dir, 0500), 0);
	assert_int_equal(history_init(&h, 8), 0);
	assert_int_equal(history_add(&h, "new.example"), 0);
	assert_int_equal(history_save(&h, path), -EACCES);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_string_equal(read_all(path), "old.example\n");
	history_deinit(&h);
}

static void test_path_rules(void **state)
{
	char buf[64], tiny[8];

	(void)state;
	assert_int_equal(history_path(buf, sizeof(buf), "/xdg", "/home/u"), 0);
	assert_string_equal(buf, "/xdg/hopwatch/history");
	/* Empty or relative XDG_STATE_HOME is ignored, as the spec says. */
	assert_int_equal(history_path(buf, sizeof(buf), "", "/home/u"), 0);
	assert_string_equal(buf, "/home/u/.local/state/hopwatch/history");
	assert_int_equal(history_path(buf, sizeof(buf), "rel", "/home/u"), 0);
	assert_string_equal(buf, "/home/u/.local/state/hopwatch/history");
	assert_int_equal(history_path(buf, sizeof(buf), NULL, NULL), -ENOENT);
	assert_int_equal(history_path(buf, sizeof(buf), NULL, ""), -ENOENT);
	assert_int_equal(history_path(tiny, sizeof(tiny), "/xdg", NULL), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_order_and_dedup),
		cmocka_unit_test(test_bound_drops_oldest),
		cmocka_unit_test(test_zero_keeps_nothing),
		cmocka_unit_test(test_invalid_hosts_refused),
		cmocka_unit_test(test_save_load_roundtrip),
		cmocka_unit_test(test_missing_file_is_empty),
		cmocka_unit_test(test_corrupt_file_tolerated),
		cmocka_unit_test(test_unreadable_path_reported),
		cmocka_unit_test(test_failed_save_keeps_old_file),
		cmocka_unit_test(test_path_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
