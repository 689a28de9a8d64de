/*
 * test_probe_table: id allocation order (from 33000 as mtr-packet, wrapping to 0, then
 * FIFO, reused as late as possible), the 65,536 limit, avoid_zero, the deadline heap
 * under in-order and out-of-order arming, release from any position, and the cost of
 * arming short timeouts behind many long ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/probe_table.h"

static struct probe_table *table(void)
{
	struct probe_table *t = NULL;

	assert_int_equal(probe_table_new(&t), 0);
	assert_non_null(t);
	return t;
}

/* The i-th never-used id the table hands out. */
static uint16_t nth(uint32_t i)
{
	return (uint16_t)(PROBE_TABLE_FIRST_ID + i);
}

/* Take never-used ids until the next one is 0. */
static void alloc_to_wrap(struct probe_table *t)
{
	uint16_t id;

	for (uint32_t i = 0; i < PROBE_TABLE_SLOTS - PROBE_TABLE_FIRST_ID; i++)
		assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 65535);
}

static void test_fresh_ids_in_order(void **state)
{
	struct probe_table *t = table();
	uint16_t id;
	uint32_t i;

	(void)state;
	/* mtr's own test listener waits for ICMP sequence 33000: the first probe's id. */
	assert_int_equal(PROBE_TABLE_FIRST_ID, 33000);
	for (i = 0; i < 10; i++) {
		assert_int_equal(probe_table_alloc(t, 0, &id), 0);
		assert_int_equal(id, nth(i));
		assert_non_null(probe_table_get(t, id));
	}
	assert_int_equal(probe_table_count(t), 10);
	assert_null(probe_table_get(t, nth(10)));
	assert_null(probe_table_get(t, PROBE_TABLE_SLOTS));
	probe_table_free(t);
}

static void test_limit_and_fifo_reuse(void **state)
{
	struct probe_table *t = table();
	uint16_t id;
	uint32_t i;

	(void)state;
	for (i = 0; i < PROBE_TABLE_SLOTS; i++) {
		assert_int_equal(probe_table_alloc(t, 0, &id), 0);
		assert_int_equal(id, nth(i));
	}
	assert_int_equal(probe_table_count(t), PROBE_TABLE_SLOTS);
	assert_int_equal(probe_table_alloc(t, 0, &id), -ENOSPC);
	/* Released ids come back in the order they were released, never out of turn. */
	probe_table_release(t, 500);
	probe_table_release(t, 7);
	probe_table_release(t, 65535);
	assert_null(probe_table_get(t, 7));
	assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 500);
	assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 65535);
	assert_int_equal(probe_table_alloc(t, 0, &id), -ENOSPC);
	/* Releasing twice is harmless: the id is queued once. */
	probe_table_release(t, 3);
	probe_table_release(t, 3);
	assert_int_equal(probe_table_count(t), PROBE_TABLE_SLOTS - 1);
	assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 3);
	assert_int_equal(probe_table_alloc(t, 0, &id), -ENOSPC);
	probe_table_free(t);
}

static void test_avoid_zero(void **state)
{
	struct probe_table *t = table();
	uint16_t id, again;

	(void)state;
	alloc_to_wrap(t);
	assert_int_equal(probe_table_alloc(t, 1, &id), 0);
	assert_int_equal(id, 1);
	/* 0 was skipped, not lost: it waits behind the never-used ids. */
	assert_int_equal(probe_table_alloc(t, 0, &again), 0);
	assert_int_equal(again, 2);
	probe_table_free(t);

	/* With only id 0 left, avoid_zero fails and leaves it available. */
	t = table();
	for (uint32_t i = 0; i < PROBE_TABLE_SLOTS; i++)
		assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	probe_table_release(t, 0);
	assert_int_equal(probe_table_alloc(t, 1, &id), -ENOSPC);
	assert_int_equal(probe_table_alloc(t, 0, &id), 0);
	assert_int_equal(id, 0);
	probe_table_free(t);
}

static void arm(struct probe_table *t, uint16_t id, uint64_t deadline)
{
	struct probe *p = probe_table_get(t, id);

	assert_non_null(p);
	p->deadline_ns = deadline;
	probe_table_arm(t, id);
}

static void test_deadline_order(void **state)
{
	struct probe_table *t = table();
	static const uint64_t deadlines[] = {50, 10, 30, 30, 70, 20, 60, 40};
	uint16_t ids[8];
	uint64_t last = 0;
	uint32_t n = 0, id;

	(void)state;
	assert_int_equal(probe_table_earliest(t), PROBE_TABLE_NONE);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(probe_table_alloc(t, 0, &ids[i]), 0);
		arm(t, ids[i], deadlines[i]);
	}
	assert_int_equal(probe_table_earliest(t), ids[1]);
	/* Release one from the middle and the current tail. */
	probe_table_release(t, ids[2]);
	probe_table_release(t, ids[4]);
	while ((id = probe_table_earliest(t)) != PROBE_TABLE_NONE) {
		struct probe *p = probe_table_get(t, id);

		assert_non_null(p);
		assert_true(p->deadline_ns >= last);
		last = p->deadline_ns;
		probe_table_release(t, (uint16_t)id);
		n++;
	}
	assert_int_equal(n, 6);
	assert_int_equal(last, 60);
	assert_int_equal(probe_table_count(t), 0);
	probe_table_free(t);
}

static void test_release_unarmed(void **state)
{
	struct probe_table *t = table();
	uint16_t a, b;

	(void)state;
	assert_int_equal(probe_table_alloc(t, 0, &a), 0);
	assert_int_equal(probe_table_alloc(t, 0, &b), 0);
	arm(t, b, 5);
	/* A probe that failed to send is released without ever being armed. */
	probe_table_release(t, a);
	assert_int_equal(probe_table_earliest(t), b);
	probe_table_release(t, b);
	assert_int_equal(probe_table_earliest(t), PROBE_TABLE_NONE);
	assert_null(probe_table_free(NULL));
	probe_table_free(t);
}

/* One user's long-timeout probes in flight, and another's short ones arriving after. */
#define LONG_PROBES  16384
#define SHORT_PROBES 10000
/*
 * Arming SHORT_PROBES behind LONG_PROBES: a tail-scanned list took 0.57 s here (each
 * insertion walked past every long one); the heap takes 0.1 ms. The bound leaves
 * room for ASan and a loaded machine while failing the list by far.
 */
#define MIXED_ARM_MAX_MS 60

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_mixed_timeouts_fast(void **state)
{
	struct probe_table *t = table();
	struct timespec t0;
	uint64_t last = 0;
	uint32_t i, id, n = 0;
	uint16_t got;
	double ms;

	(void)state;
	for (i = 0; i < LONG_PROBES; i++) {
		assert_int_equal(probe_table_alloc(t, 0, &got), 0);
		arm(t, got, 3600000000000ull + i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < SHORT_PROBES; i++) {
		assert_int_equal(probe_table_alloc(t, 0, &got), 0);
		arm(t, got, 1000000000ull + i);
	}
	ms = ms_since(&t0);
	printf("arming %u short-timeout probes behind %u long ones: %.2f ms\n", SHORT_PROBES,
	       LONG_PROBES, ms);
	assert_true(ms < MIXED_ARM_MAX_MS);
	while ((id = probe_table_earliest(t)) != PROBE_TABLE_NONE) {
		struct probe *p = probe_table_get(t, id);

		assert_true(p->deadline_ns >= last);
		last = p->deadline_ns;
		probe_table_release(t, (uint16_t)id);
		n++;
	}
	assert_int_equal(n, LONG_PROBES + SHORT_PROBES);
	probe_table_free(t);
}

/* Random deadlines, random releases: the earliest is always the true minimum. */
static void test_heap_random(void **state)
{
	struct probe_table *t = table();
	static uint64_t want[PROBE_TABLE_SLOTS];
	uint32_t i, id, seed = 12345;
	uint16_t got;
	uint64_t min;

	(void)state;
	for (i = 0; i < 4000; i++) {
		seed = seed * 1103515245u + 12345u;
		assert_int_equal(probe_table_alloc(t, 0, &got), 0);
		want[got] = (seed >> 8) % 1000;
		arm(t, got, want[got]);
		if (seed % 3 == 0) {
			seed = seed * 1103515245u + 12345u;
			id = (seed >> 8) % (got + 1u);
			if (probe_table_get(t, id))
				probe_table_release(t, (uint16_t)id);
		}
		min = UINT64_MAX;
		for (id = 0; id <= got; id++)
			if (probe_table_get(t, id) && want[id] < min)
				min = want[id];
		id = probe_table_earliest(t);
		if (min == UINT64_MAX) {
			assert_int_equal(id, PROBE_TABLE_NONE);
			continue;
		}
		assert_int_equal(probe_table_get(t, id)->deadline_ns, min);
	}
	probe_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_ids_in_order),
		cmocka_unit_test(test_limit_and_fifo_reuse),
		cmocka_unit_test(test_avoid_zero),
		cmocka_unit_test(test_deadline_order),
		cmocka_unit_test(test_release_unarmed),
		cmocka_unit_test(test_mixed_timeouts_fast),
		cmocka_unit_test(test_heap_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
